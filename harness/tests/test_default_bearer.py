"""The LTE default bearer (issue 15): an LTE network brings the default EPS bearer up when the
module attaches (3GPP TS 23.401 5.3.2.1), and an EC25 or BG96 then reports context 1 active
with no AT+QIACT (`+QIACT: 1,1,1,"<ip>"`, reference §4a's format), so hosts open MQTT and
sockets on it at once. The scenario setting `default-bearer on` turns it on (EC25, BG96; the
profile field lte_default_bearer); it is off by default, where `+QMTOPEN: 0,3` without
AT+QIACT keeps its meaning (test_mqtt.py), and `default-bearer off` says so explicitly. The M95
(GSM) has none: `default-bearer on` is a scenario error.
"""
import re
import subprocess

import pytest

import modemsim_harness.fakebroker as fbk
from modemsim_harness.fakebroker import FakeBroker
from modemsim_harness.at import check, err, ok, quiet, urc
from test_pdp import IP0_CID1
from test_scenario import BINARY, write

QIACT1 = '+QIACT: 1,1,1,"%s"' % IP0_CID1


@pytest.fixture
def fake_scn(modemsim, tmp_path):
    """Factory: a modem running the scenario text, port 1883 routed to a fake broker."""
    started = []

    def make(text, model="ec25"):
        fb = FakeBroker().start()
        started.append(fb)
        path = write(tmp_path, text, "s%d.scn" % len(started))
        sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", "--scenario", path,
                       "--route", "1883=127.0.0.1:%d" % fb.port, model=model)
        t = sim.open()
        t.sim = sim
        return t, fb

    yield make
    for fb in started:
        fb.stop()


@pytest.mark.parametrize("model", ["ec25", "bg96"])
def test_context_1_is_up_at_attach_and_mqtt_opens_without_qiact(fake_scn, model):
    t, fb = fake_scn("default-bearer on\n", model=model)
    check(t, "AT+QIACT?", ok("AT+QIACT?", QIACT1))
    check(t, "AT+CGACT?", ok("AT+CGACT?", "+CGACT: 1,1"))
    line = 'AT+QMTOPEN=0,"broker.test",1883'
    check(t, line, ok(line))
    urc(t, "+QMTOPEN: 0,0", timeout=10)
    check(t, 'AT+QMTCONN=0,"bearer"', ok('AT+QMTCONN=0,"bearer"'))
    urc(t, "+QMTCONN: 0,0,0")
    assert fb.wait_packet(lambda p: p.type == fbk.CONNECT).connect["client_id"] == "bearer"
    # an AT+QIACT=1 on the active context is the error of any active context (reference §4a)
    check(t, "AT+QIACT=1", err("AT+QIACT=1"))


@pytest.mark.parametrize("text", ["", "default-bearer off\n"])
def test_off_keeps_context_1_down_until_qiact(fake_scn, text):
    t, _ = fake_scn(text + "sim ready\n")
    check(t, "AT+QIACT?", ok("AT+QIACT?"))
    line = 'AT+QMTOPEN=0,"broker.test",1883'
    check(t, line, ok(line))
    urc(t, "+QMTOPEN: 0,3", timeout=10)
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(t, "AT+QIACT?", ok("AT+QIACT?", QIACT1))


def test_it_follows_detach_attach_and_reboot(fake_scn):
    t, _ = fake_scn("default-bearer on\n")
    check(t, "AT+CGATT=0", ok("AT+CGATT=0"))
    urc(t, '+QIURC: "pdpdeact",1')  # as for any active context on a detach (cmd_3gpp.c)
    check(t, "AT+QIACT?", ok("AT+QIACT?"))
    t.write(b"AT+CGATT=1\r")
    t.expect(b"AT+CGATT=1\r\r\nOK\r\n", timeout=10)
    check(t, "AT+QIACT?", ok("AT+QIACT?", QIACT1))
    # the host may take it down; it stays down until the next attach
    check(t, "AT+QIDEACT=1", ok("AT+QIDEACT=1"))
    check(t, "AT+QIACT?", ok("AT+QIACT?"))
    # a reboot attaches again
    t.write(b"AT+CFUN=1,1\r")
    t.expect(b"AT+CFUN=1,1\r\r\nOK\r\n", timeout=10)
    t.read_until(re.compile(rb"\+QIND: PB DONE\r\n"), timeout=10)
    quiet(t, 0.3)
    check(t, "AT+QIACT?", ok("AT+QIACT?", QIACT1))


def test_m95_has_no_default_bearer(tmp_path):
    path = write(tmp_path, "default-bearer on\n")
    r = subprocess.run([BINARY, "--model", "m95", "--broker", "none", "--scenario", path],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "the m95 has no LTE default bearer" in r.stderr


def test_setting_takes_on_or_off(tmp_path):
    ok_path = write(tmp_path, "default-bearer on\ndefault-bearer off\n", "good.scn")
    r = subprocess.run([BINARY, "--check", ok_path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    bad = write(tmp_path, "default-bearer maybe\n", "bad.scn")
    r = subprocess.run([BINARY, "--check", bad], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "on or off" in r.stderr, r.stderr
