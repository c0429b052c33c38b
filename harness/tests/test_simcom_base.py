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


def open_e0(modemsim, model="sim7600", *args):
    t = modemsim(*args, model=model).open()
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    return t


def test_netopen_ipaddr_netclose_as_seed_003(modemsim):
    t = open_e0(modemsim)
    assert t.cmd("AT+IPADDR") == b"\r\n+IP ERROR: Network not opened\r\n\r\nERROR\r\n"
    assert t.cmd("AT+NETOPEN?") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    assert t.read_until(b"+NETOPEN: 0\r\n") == b"\r\n+NETOPEN: 0\r\n"
    assert re.fullmatch(rb"\r\n\+IPADDR: 10\.\d+\.\d+\.\d+\r\n\r\nOK\r\n", t.cmd("AT+IPADDR"))
    assert t.cmd("AT+NETOPEN?") == b"\r\n+NETOPEN: 1\r\n\r\nOK\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n"
    assert t.cmd("AT+NETCLOSE") == b"\r\nOK\r\n"
    assert t.read_until(b"+NETCLOSE: 0\r\n") == b"\r\n+NETCLOSE: 0\r\n"
    assert t.cmd("AT+NETCLOSE") == b"\r\n+NETCLOSE: 2\r\n\r\nERROR\r\n"


def test_cdnscfg_as_seed_002(modemsim):
    t = open_e0(modemsim, "sim7670g")
    assert t.cmd('AT+CDNSCFG="8.8.8.8","8.8.4.4"') == b"\r\nOK\r\n"
    assert t.cmd("AT+CDNSCFG?") == (b"\r\nPrimary IPv4 DNS: 8.8.8.8,Secondary IPv4 DNS: 8.8.4.4\r\n"
                                    b"Primary IPv6 DNS: ::,Secondary IPv6 DNS: ::\r\n\r\nOK\r\n")
    assert t.cmd('AT+CDNSCFG="not.an.ip"') == b"\r\nERROR\r\n"


PEM = (b"-----BEGIN CERTIFICATE-----\nMIIB\r\n-----END CERTIFICATE-----\n")


def test_ccertdown_takes_exactly_n_bytes_and_lists_in_name_order(modemsim, tmp_path):
    sim = modemsim(model="sim7600", state=str(tmp_path / "state"))
    t = sim.open()
    t.cmd("ATE0")
    assert t.cmd("AT+CCERTLIST") == b"\r\nOK\r\n"
    for name in ("clientcert.pem", "cacert.pem"):
        t.write(b'AT+CCERTDOWN="%s",%d\r' % (name.encode(), len(PEM)))
        assert t.read_until(b">") == b"\r\n>"
        t.write(PEM)
        assert t.read_until(b"OK\r\n") == b"\r\nOK\r\n"
    # the CRLF a driver appends after the data is an empty line: ignored
    t.write(b"\r\n")
    assert t.cmd("AT+CCERTLIST") == (b'\r\n+CCERTLIST: "cacert.pem"\r\n'
                                     b'+CCERTLIST: "clientcert.pem"\r\n\r\nOK\r\n')
    with open(tmp_path / "state" / "0" / "CERT" / "cacert.pem", "rb") as f:
        assert f.read() == PEM
    # extra bytes go back to the command parser (reference §1.4)
    t.write(b'AT+CCERTDOWN="short.pem",4\r')
    t.read_until(b">")
    t.write(b"ABCDAT\r")
    assert t.read_until(b"OK\r\n\r\nOK\r\n") == b"\r\nOK\r\n\r\nOK\r\n"
    assert t.cmd('AT+CCERTDELE="short.pem"') == b"\r\nOK\r\n"
    assert t.cmd('AT+CCERTDELE="short.pem"') == b"\r\nERROR\r\n"
    assert t.cmd('AT+CCERTDOWN="a.txt",5') == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCERTDOWN=?") == b"\r\n+CCERTDOWN: (5-128),(1-10240)\r\n\r\nOK\r\n"


def test_ccertdown_files_survive_a_reboot(modemsim):
    t = open_e0(modemsim, "a7670")
    t.write(b'AT+CCERTDOWN="ca_cert.pem",%d\r' % len(PEM))
    t.read_until(b">")
    t.write(PEM)
    t.read_until(b"OK\r\n")
    assert t.cmd("AT+CFUN=1,1") == b"\r\nOK\r\n"
    t.read_until(b"+CGEV: EPS PDN ACT 1\r\n", timeout=15)
    t.cmd("ATE0")
    assert t.cmd("AT+CCERTLIST") == b'\r\n+CCERTLIST: "ca_cert.pem"\r\n\r\nOK\r\n'


def test_prompt_echo_revision_echoes_the_data(modemsim):
    t = open_e0(modemsim, "sim7670g", "--revision", "2374B05SIM767XM5A_M")
    t.write(b'AT+CCERTDOWN="ca_cert.pem",%d\r' % len(PEM))
    t.read_until(b">")
    t.write(PEM)
    assert t.read_until(b"OK\r\n") == PEM + b"\r\nOK\r\n"


def test_csslcfg_seed_003_settings_and_read_forms(modemsim):
    t = open_e0(modemsim)
    for cmd in ('AT+CSSLCFG="sslversion",0,4', 'AT+CSSLCFG="authmode",0,2',
                'AT+CSSLCFG="ignorelocaltime",0,1', 'AT+CSSLCFG="negotiatetime",0,120',
                'AT+CSSLCFG="cacert",0,"cacert.pem"', 'AT+CSSLCFG="clientcert",0,"clientcert.pem"',
                'AT+CSSLCFG="clientkey",0,"clientkey.pem"', 'AT+CSSLCFG="enableSNI",0,1'):
        assert t.cmd(cmd) == b"\r\nOK\r\n", cmd
    assert t.cmd("AT+CSSLCFG=0") == (b'\r\n+CSSLCFG: 0,4,2,1,120,"cacert.pem","clientcert.pem",'
                                     b'"clientkey.pem",1,"",0xFFFF\r\n\r\nOK\r\n')
    out = t.cmd("AT+CSSLCFG?")
    assert out.count(b"+CSSLCFG: ") == 10
    assert b'+CSSLCFG: 9,4,0,1,300,"","","",0,"",0xFFFF\r\n' in out
    for bad in ('AT+CSSLCFG="authmode",0,4', 'AT+CSSLCFG="authmode",10,1',
                'AT+CSSLCFG="negotiatetime",0,9', 'AT+CSSLCFG="cacert",0,"ca.txt"',
                'AT+CSSLCFG="password",0,"pw.pem"', 'AT+CSSLCFG="ciphersuites",0,0x0035'):
        assert t.cmd(bad) == b"\r\nERROR\r\n", bad
    assert t.cmd('AT+CSSLCFG="ciphersuites",0,0x002F') == b"\r\nOK\r\n"
    assert t.cmd("AT+CFUN=1,1") == b"\r\nOK\r\n"
    t.read_until(b"PB DONE\r\n", timeout=15)
    t.cmd("ATE0")
    assert t.cmd("AT+CSSLCFG=0") == (b'\r\n+CSSLCFG: 0,4,0,1,300,"","","",0,"",0xFFFF\r\n'
                                     b'\r\nOK\r\n')


def test_csslcfg_a76xx_read_form(modemsim):
    t = open_e0(modemsim, "a7670")
    assert t.cmd("AT+CSSLCFG=0") == b'\r\n+CSSLCFG: 0,4,0,1,300,"","","","",0\r\n\r\nOK\r\n'
    assert t.cmd('AT+CSSLCFG="keypwd",0,"x"') == b"\r\nERROR\r\n"


def test_old_sim7600_firmware_refuses_sslversion(modemsim):
    t = open_e0(modemsim, "sim7600", "--revision", "LE11B02SIM7500A")
    assert t.cmd('AT+CSSLCFG="sslversion",0,4') == b"\r\nERROR\r\n"
    assert t.cmd('AT+CSSLCFG="authmode",0,2') == b"\r\nOK\r\n"


def test_cpsi_and_registration_as_seed_003(modemsim):
    t = open_e0(modemsim)
    assert re.fullmatch(rb"\r\n\+CPSI: LTE,Online,\d{3}-\d{2,3},0x[0-9A-F]{4},136092930,257,"
                        rb"EUTRAN-BAND3,1275,4,4,-?\d+,-?\d+,-?\d+,-?\d+\r\n\r\nOK\r\n",
                        t.cmd("AT+CPSI?")), t.cmd("AT+CPSI?")
    assert t.cmd("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert t.cmd("AT+CGREG?") == b"\r\n+CGREG: 0,1\r\n\r\nOK\r\n"
    assert t.cmd('AT+CGDCONT=1,"IP","connect.apn"') == b"\r\nOK\r\n"
    assert t.cmd("AT+CGACT=1,1") == b"\r\nOK\r\n"
    assert t.cmd("AT+CTZU=1") == b"\r\nOK\r\n"
    assert t.cmd("AT+QSCLK=1") == b"\r\nERROR\r\n"
