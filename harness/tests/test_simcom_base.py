"""SIMCom SIM7600, A7670 and SIM7670G: boot, identity and the firmware revisions, byte for byte
(reference simcom.md §1, §9; seeds 002 and 003)."""
import re
import subprocess

import pytest

from modemsim import BINARY

BOOT = {
    "sim7600": b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n",
    "a7670": b"\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\n+CGEV: EPS PDN ACT 1\r\n",
    "sim7670g": b"\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\n+CGEV: EPS PDN ACT 1\r\n",
}


@pytest.mark.parametrize("model", sorted(BOOT))
def test_boot_urcs_then_at_answers_ok(modemsim, model):
    sim = modemsim(model=model)
    t = sim.open(boot=False)
    assert t.read_until(BOOT[model][-12:], timeout=15) == BOOT[model]
    assert t.cmd("AT") == b"AT\r\r\nOK\r\n"


def test_sim7600_ati_as_seed_003(modemsim):
    t = modemsim(model="sim7600").open()
    t.cmd("ATE0")
    out = t.cmd("ATI")
    m = re.fullmatch(rb"\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600E\r\n"
                     rb"Revision: SIM7600M21-A_V1.1\r\nIMEI: (\d{15})\r\n\+GCAP: \+CGSM\r\n"
                     rb"\r\nOK\r\n", out)
    assert m, out
    assert t.cmd("AT+CGSN") == b"\r\n" + m.group(1) + b"\r\n\r\nOK\r\n"
    assert t.cmd("AT+CGMR") == b"\r\n+CGMR: LE11B02SIM7600M21-A\r\n\r\nOK\r\n"


def test_sim7670g_simcomati_as_seed_002(modemsim):
    t = modemsim(model="sim7670g").open()
    t.cmd("ATE0")
    out = t.cmd("AT+SIMCOMATI")
    assert re.fullmatch(rb"\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIM7670G-MNGV\r\n"
                        rb"Revision: 2374B02SIM767XM5A_M\r\nSIM767XM5_B02V01_240717\r\n"
                        rb"IMEI: 86464306\d{7}\r\n\r\nOK\r\n", out), out
    out = t.cmd("ATI")
    assert re.fullmatch(rb"\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIM7670G-MNGV\r\n"
                        rb"Revision: V1.9.01\r\nIMEI: \d{15}\r\n\+GCAP: \+CGSM,\+FCLASS,\+DS\r\n"
                        rb"\r\nOK\r\n", out), out


def test_revision_option_shows_in_cgmr_and_ati(modemsim):
    t = modemsim("--revision", "LE11B02SIM7500A", model="sim7600").open()
    t.cmd("ATE0")
    assert t.cmd("AT+CGMR") == b"\r\n+CGMR: LE11B02SIM7500A\r\n\r\nOK\r\n"
    assert b"\r\nRevision: LE11B02SIM7500A\r\n" in t.cmd("ATI")


def test_models_and_revisions_are_listed():
    out = subprocess.run([BINARY, "--list-models"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["sim7600", "a7670", "sim7670g"]
    out = subprocess.run([BINARY, "--model", "sim7600", "--list-revisions"],
                         capture_output=True, text=True, check=True)
    assert "LE11B02SIM7500A sslversion-error" in out.stdout.splitlines()
    out = subprocess.run([BINARY, "--model", "sim7670g", "--list-revisions"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0] == "2374B02SIM767XM5A_M mqtt-default-3.1"
