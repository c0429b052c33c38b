"""SIGTERM in the middle of every data phase: the phase is told it is abandoned, its buffers are
freed, and modemsim exits 0 with nothing in stderr from the sanitizers (the CI's second pass
runs this file against the ASan + UBSan build, whose LeakSanitizer reports what was left).

The same holds for a reboot (AT+CFUN=1,1 typed is impossible mid-phase, so a scenario event
reboots the modem) in the middle of a publish prompt: the modem comes back and works."""
import signal

import pytest

from modemsim import ModemSim
from modemsim_harness.at import final_ok, mqtt_up, read_urc

HOST = "broker.modemsim.test"  # the embedded broker answers every name


def phase_qmtpub(t):
    mqtt_up(t, cid="shutdown-test")
    t.write(b'AT+QMTPUB=0,1,1,0,"shutdown/topic"\r')
    t.read_until(b"> ", timeout=5)
    t.write(b"half a payload")


def phase_qmtpub_fixed(t):
    mqtt_up(t, cid="shutdown-test")
    t.write(b'AT+QMTPUB=0,1,1,0,"shutdown/topic",100\r')
    t.read_until(b"> ", timeout=5)
    t.write(b"x" * 40)


def phase_qfupl(t):
    t.write(b'AT+QFUPL="shutdown.pem",1000,60\r')
    t.read_until(b"CONNECT\r\n", timeout=5)
    t.write(b"-----BEGIN CERTIFICATE-----\n" * 10)


def phase_qsslsend(t):
    final_ok(t, "AT+QIACT=1")
    final_ok(t, 'AT+QSSLCFG="seclevel",1,0')
    final_ok(t, 'AT+QSSLOPEN=1,1,0,"%s",8883,0' % HOST)
    read_urc(t, "+QSSLOPEN: 0,0")
    t.write(b"AT+QSSLSEND=0\r")
    t.read_until(b"> ", timeout=5)
    t.write(b"\x10\x0c\x00\x04MQTT")


def phase_transparent(t):
    final_ok(t, "AT+QIACT=1")
    t.write(b'AT+QIOPEN=1,0,"TCP","%s",1883,0,2\r' % HOST.encode())
    t.read_until(b"CONNECT\r\n", timeout=10)
    t.write(b"\x10\x0c\x00\x04MQTT")


def phase_qsecwrite(t):
    t.write(b'AT+QSECWRITE="RAM:ca.pem",1000,60\r')
    t.read_until(b"CONNECT\r\n", timeout=5)
    t.write(b"-----BEGIN CERTIFICATE-----\n" * 10)


PHASES = [
    ("ec25", phase_qmtpub),
    ("ec25", phase_qmtpub_fixed),
    ("ec25", phase_qfupl),
    ("ec25", phase_qsslsend),
    ("ec25", phase_transparent),
    ("m95", phase_qsecwrite),
    ("m95", phase_qmtpub),
    ("bg96", phase_qmtpub),
    ("bg96", phase_qfupl),
]


@pytest.mark.parametrize("model,phase", PHASES,
                         ids=["%s-%s" % (m, p.__name__[6:]) for m, p in PHASES])
def test_sigterm_during_a_data_phase_exits_cleanly(tmp_path, model, phase):
    sim = ModemSim(model=model, workdir=str(tmp_path))
    try:
        t = sim.open()
        phase(t)  # t.model: the dialect
        # the modem holds the phase: what was sent so far is in its buffers
        assert sim.proc.poll() is None
        rc = sim.stop()  # SIGTERM; asserts no sanitizer report in stderr
    finally:
        sim.kill()
    assert rc == 0, sim.stderr().decode(errors="replace")
    assert b"data phase abandoned" in open(sim.trace_path, "rb").read()


def test_sigint_during_a_publish_prompt(tmp_path):
    sim = ModemSim(model="ec25", workdir=str(tmp_path))
    try:
        t = sim.open()
        phase_qmtpub(t)
        sim.proc.send_signal(signal.SIGINT)
        assert sim.proc.wait(timeout=10) == 0
        rc = sim.stop()
    finally:
        sim.kill()
    assert rc == 0


def test_reboot_during_a_publish_prompt_frees_it_and_the_modem_works(tmp_path):
    """A scenario reboots the modem while the host is typing a payload: the prompt is gone, the
    boot URCs come, and a new publish works end to end."""
    ctl = str(tmp_path / "ctl.sock")
    sim = ModemSim("--control", ctl, model="ec25", workdir=str(tmp_path))
    try:
        from control import Control
        t = sim.open()
        phase_qmtpub(t)
        with Control(ctl) as c:
            c.ok("at 0ms fault modem.reboot")
        t.read_until(b"RDY\r\n", timeout=10)
        t.read_until(b"+QIND: PB DONE\r\n", timeout=10)
        mqtt_up(t, cid="shutdown-test")
        t.write(b'AT+QMTPUB=0,1,1,0,"shutdown/topic",5\r')
        t.read_until(b"> ", timeout=5)
        t.write(b"hello")
        read_urc(t, "+QMTPUB: 0,1,0")
        assert sim.stop() == 0
    finally:
        sim.kill()
