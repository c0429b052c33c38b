"""The module judges the host (issue 6): each kind of finding provoked through a real pty, the
finding asserted in the trace (kind, severity) with its "line" pointing at the transcript line of
the offending host input, and a clean session (the field-log bring-up and an MQTT session done
right) that produces none. The kinds and severities are listed in sim/modem/findings.h."""
import functools
import os
import random
import pytest

from control import wait_for
from modemsim import FINAL_RE, ROOT
from modemsim import xor16_hex as xor16
from modemsim_harness import at
from modemsim_harness.at import final_ok

DATA = os.path.join(ROOT, "sim", "tests", "data")
HOST = "broker.example.com"  # any name reaches the embedded broker
mqtt_up = functools.partial(at.mqtt_up, host=HOST, cid="dev-h15")


def findings(sim, kind=None):
    return [e for e in sim.trace()
            if e.get("ev") == "finding" and (kind is None or e["kind"] == kind)]


def only(sim, kind, severity):
    """The one finding of this kind; it has this severity."""
    got = findings(sim, kind)
    assert len(got) == 1, "want one %s finding, got %r" % (kind, findings(sim))
    assert got[0]["severity"] == severity, got[0]
    return got[0]


def tx_line(sim, f):
    """The transcript line a finding points at: it must be host input (TX)."""
    lines = sim.transcript().split(b"\n")
    assert 1 <= f["line"] <= len(lines), f
    text = lines[f["line"] - 1]
    assert b" #0 TX " in text, "line %d is not host input: %r" % (f["line"], text)
    return text.split(b" #0 TX ", 1)[1]


def err_cmd(t, line):
    out = t.cmd(line)
    assert out.endswith(b"ERROR\r\n") or b"+CME ERROR" in out, (line, out)
    return out


def mqtt_down(t, idx=0):
    final_ok(t, "AT+QMTDISC=%d" % idx)
    t.read_until(b"+QMTSTAT: %d,5\r\n" % idx)
    final_ok(t, "AT+QMTCLOSE=%d" % idx)
    t.read_until(b"+QMTCLOSE: %d,0\r\n" % idx)


def noack(ctl):
    """The broker acknowledges no publish of client 0 from now on (fault mqtt.noack)."""
    ctl.ok("at 0ms fault mqtt.noack count 20 client 0")
    wait_for(lambda: "mqtt.noack" in [f["fault"] for f in ctl.query("faults")["faults"]])


# ---------------------------------------------------------------- cmd-before-result


def test_command_while_one_is_running(modemsim):
    """AT+QIACT=1 takes its time (realistic timing, scaled): a command sent before its OK is
    a break; the module still answers both, in order."""
    sim = modemsim("--time-scale", "0.2", model="ec25", timing="realistic")
    t = sim.open()
    t.write(b"AT+QIACT=1\r\n")
    t.read_until(b"AT+QIACT=1\r")  # the echo: the modem has read the line
    t.write(b"AT+CSQ\r\n")
    t.read_until(b"\r\nOK\r\n")
    t.read_until(b"+CSQ: ")
    t.read_until(b"OK\r\n")
    f = only(sim, "cmd-before-result", "error")
    assert "AT+CSQ" in f["msg"] and "AT+QIACT=1" in f["msg"]
    assert tx_line(sim, f) == b"AT+CSQ\\r\\n"


def test_two_commands_in_one_write(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    final_ok(t, "AT")  # a command alone in its write, with CR LF: no finding
    t.write(b"ATE1\r\nAT+CMEE?\r\n")
    t.read_until(b"+CMEE: 1\r\n\r\nOK\r\n")
    f = only(sim, "cmd-before-result", "warning")
    assert '"AT+CMEE?"' in f["msg"] and "ATE1" in f["msg"]
    assert tx_line(sim, f) == b"ATE1\\r\\nAT+CMEE?\\r\\n"


# ---------------------------------------------------------------- data-before-prompt


def test_data_in_the_same_write_as_its_command(modemsim):
    """The upload's data rides with AT+QFUPL instead of waiting for CONNECT. The LF of the
    command's CR LF is not data (host-drivers.md item 2): the first upload has no finding."""
    sim = modemsim(model="ec25")
    t = sim.open()
    t.write(b'AT+QFUPL="RAM:ok.txt",5\r\n')
    t.read_until(b"CONNECT\r\n")
    t.write(b"hello")
    t.read_until(b"+QFUPL: 5,")
    t.read_until(b"OK\r\n")
    assert findings(sim) == []
    t.write(b'AT+QFUPL="RAM:early.txt",5\r\nhello')
    t.read_until(b"+QFUPL: 5,")
    t.read_until(b"OK\r\n")
    f = only(sim, "data-before-prompt", "error")
    assert "5 bytes" in f["msg"] and "CONNECT" in f["msg"]
    assert tx_line(sim, f) == b'AT+QFUPL="RAM:early.txt",5\\r\\nhello'


# ---------------------------------------------------------------- length-mismatch


def test_upload_shorter_than_declared_times_out(modemsim):
    """The M95 capture of reference §3 in EC25 form: 10 bytes declared, 4 sent, the timeout
    (1 s, scaled to 0.1 s) ends the upload with the true size."""
    sim = modemsim("--time-scale", "0.1", model="ec25")
    t = sim.open()
    t.write(b'AT+QFUPL="RAM:short.txt",10,1\r')
    t.read_until(b"CONNECT\r\n")
    t.write(b"abcd")
    t.read_until(b"+QFUPL: 4,", timeout=5)
    t.read_until(b"OK\r\n")
    f = only(sim, "length-mismatch", "error")
    assert "declared 10 bytes; 4 came" in f["msg"]
    assert tx_line(sim, f) == b"abcd"


def test_upload_ended_by_escape_is_a_warning(modemsim):
    sim = modemsim("--time-scale", "0.1", model="ec25")
    t = sim.open()
    t.write(b'AT+QFUPL="RAM:esc.txt",10,60\r')
    t.read_until(b"CONNECT\r\n")
    t.write(b"abc")
    t.drain(quiet=0.3)  # the guard time of silence (1 s scaled)
    t.write(b"+++")
    t.read_until(b"+QFUPL: 3,", timeout=5)
    t.read_until(b"OK\r\n")
    f = only(sim, "length-mismatch", "warning")
    assert "after 3" in f["msg"]
    assert tx_line(sim, f) == b"+++"


def test_upload_without_a_size_ends_by_timeout_without_finding(modemsim):
    """AT+QFUPL without <file_size> declares nothing: the timeout is its documented end."""
    sim = modemsim("--time-scale", "0.1", model="ec25")
    t = sim.open()
    t.write(b'AT+QFUPL="RAM:open.txt"\r')
    t.read_until(b"CONNECT\r\n")
    t.write(b"abc")
    t.read_until(b"+QFUPL: 3,", timeout=5)
    t.read_until(b"OK\r\n")
    assert findings(sim) == []


def test_bytes_beyond_the_declared_length(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    t.write(b'AT+QFUPL="RAM:long.txt",3\r')
    t.read_until(b"CONNECT\r\n")
    t.write(b"abcdef")
    t.read_until(b"+QFUPL: 3,")
    t.read_until(b"OK\r\n")
    f = only(sim, "length-mismatch", "error")
    assert "3 bytes" in f["msg"] and "def" in f["msg"]
    assert tx_line(sim, f) == b"abcdef"
    # the surplus is the start of a command line (reference §6c): it fails as one
    t.write(b"\r")
    t.read_until(b"ERROR\r\n")


def test_ctrl_z_inside_a_fixed_length_publish(modemsim):
    """With <msglen> Ctrl+Z is payload: a host that ends its write with it leaves the module
    waiting; the rest of the length then completes the publish."""
    sim = modemsim(model="ec25")
    t = sim.open()
    mqtt_up(t)
    t.write(b'AT+QMTPUB=0,0,0,0,"h15/z",8\r')
    t.read_until(b"> ")
    t.write(b"hello\x1a")
    t.read_until(b"hello\x1a")  # echoed as payload
    f = only(sim, "length-mismatch", "error")
    assert "after 5 of the 8 bytes" in f["msg"] and "2 more" in f["msg"]
    assert tx_line(sim, f) == b"hello\\x1a"
    t.write(b"!!")
    t.read_until(b"OK\r\n")
    t.read_until(b"+QMTPUB: 0,0,0\r\n")
    # a Ctrl+Z after the full length: not data, but the EC800M of reference §6c reads it as
    # a command line; this simulator ignores it (host-drivers.md item 5): a warning
    t.write(b'AT+QMTPUB=0,0,0,0,"h15/z",3\r')
    t.read_until(b"> ")
    t.write(b"xyz\x1a\r")
    t.read_until(b"+QMTPUB: 0,0,0\r\n")
    got = findings(sim, "length-mismatch")
    assert [f["severity"] for f in got] == ["error", "warning"]
    assert "beyond the 3 declared" in got[1]["msg"]
    assert tx_line(sim, got[1]) == b"xyz\\x1a\\r"
    mqtt_down(t)


# ---------------------------------------------------------------- non-ascii


def test_curly_quotes_from_a_word_processor(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    line = "AT+QICSGP=1,1,\u201cinternet\u201d".encode()
    out = t.cmd(line)
    assert out.endswith(b"ERROR\r\n")
    f = only(sim, "non-ascii", "error")
    assert "U+201C" in f["msg"] and "column 15" in f["msg"]
    assert tx_line(sim, f) == b"AT+QICSGP=1,1,\\xe2\\x80\\x9cinternet\\xe2\\x80\\x9d\\r"
    # the ASCII line is fine
    final_ok(t, 'AT+QICSGP=1,1,"internet"')
    assert len(findings(sim)) == 1


# ---------------------------------------------------------------- unknown-command


def test_unknown_command_names_the_closest(modemsim):
    sim = modemsim(model="m95")
    t = sim.open()
    err_cmd(t, "AT+CSQQ")
    err_cmd(t, 'AT+QMTPUBEX=0,0,0,0,"t",1')  # EC25 only
    err_cmd(t, "AT+XYZZYQW")
    got = findings(sim, "unknown-command")
    assert [f["severity"] for f in got] == ["warning"] * 3
    assert "did you mean AT+CSQ?" in got[0]["msg"]
    assert "not a command of the Quectel_M95" in got[1]["msg"]
    assert "did you mean AT+QMTPUB?" in got[1]["msg"]
    assert "no known command is close" in got[2]["msg"]
    assert tx_line(sim, got[0]) == b"AT+CSQQ\\r"
    assert tx_line(sim, got[2]) == b"AT+XYZZYQW\\r"


@pytest.mark.parametrize("model", ["ec25", "bg96", "m95"])
def test_documented_but_unsimulated_command(modemsim, model):
    """A command of the model that modemsim does not simulate (the profile's list): +CME
    ERROR: 4 as CMEE asks, and an info finding of its own kind, not the host mistake of
    "unknown-command"; a command the model does not have stays a plain ERROR and a warning."""
    sim = modemsim(model=model)
    t = sim.open()
    final_ok(t, "AT+CMEE=1")
    assert t.cmd('AT+QPING=1,"a.example"') == b'AT+QPING=1,"a.example"\r\r\n+CME ERROR: 4\r\n'
    final_ok(t, "AT+CMEE=2")
    assert t.cmd("AT+CMGS=5") == b"AT+CMGS=5\r\r\n+CME ERROR: operation not supported\r\n"
    final_ok(t, "AT+CMEE=0")
    assert t.cmd("AT+QSPN") == b"AT+QSPN\r\r\nERROR\r\n"
    final_ok(t, "AT+CMEE=1")
    assert t.cmd("AT+XYZZYQW") == b"AT+XYZZYQW\r\r\nERROR\r\n"
    got = findings(sim, "unsimulated-command")
    assert [f["severity"] for f in got] == ["info"] * 3
    assert "AT+QPING is a command of the" in got[0]["msg"]
    assert "that modemsim does not simulate" in got[0]["msg"]
    assert tx_line(sim, got[1]) == b"AT+CMGS=5\\r"
    unknown = findings(sim, "unknown-command")
    assert len(unknown) == 1 and unknown[0]["severity"] == "warning"
    assert "AT+XYZZYQW is not a command" in unknown[0]["msg"]


@pytest.mark.parametrize("model", ["sim7600", "a7670", "sim7670g"])
def test_documented_but_unsimulated_simcom_command(modemsim, model):
    """The SIMCom manuals' NTP, PING, HTTP, GNSS and SMS commands: +CME ERROR: 4 and an info
    finding, never "not a command of the SIM7600" blamed on the host."""
    sim = modemsim(model=model)
    t = sim.open()
    final_ok(t, "AT+CMEE=1")
    assert t.cmd('AT+CNTP="pool.ntp.org",32') == \
        b'AT+CNTP="pool.ntp.org",32\r\r\n+CME ERROR: 4\r\n'
    assert t.cmd("AT+HTTPINIT") == b"AT+HTTPINIT\r\r\n+CME ERROR: 4\r\n"
    assert t.cmd("AT+XYZZYQW") == b"AT+XYZZYQW\r\r\nERROR\r\n"
    got = findings(sim, "unsimulated-command")
    assert [f["severity"] for f in got] == ["info"] * 2, got
    assert "AT+CNTP is a command of the" in got[0]["msg"]
    assert len(findings(sim, "unknown-command")) == 1


# ---------------------------------------------------------------- MQTT


def test_mqtt_commands_before_the_connection(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    final_ok(t, "AT+QIACT=1")
    err_cmd(t, 'AT+QMTCONN=0,"early"')
    f = only(sim, "not-connected", "error")
    assert "before +QMTOPEN: 0,0" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTCONN=0,"early"\\r'
    final_ok(t, 'AT+QMTOPEN=0,"%s",1883' % HOST)
    t.read_until(b"+QMTOPEN: 0,0\r\n")
    err_cmd(t, 'AT+QMTSUB=0,1,"h15/s",1')
    f = findings(sim, "not-connected")[1]
    assert f["severity"] == "error" and "before +QMTCONN: 0,0,0" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTSUB=0,1,"h15/s",1\\r'
    final_ok(t, "AT+QMTCLOSE=0")
    t.read_until(b"+QMTCLOSE: 0,0\r\n")


def test_publish_before_the_connect_urc(modemsim):
    """Realistic timing: +QMTCONN comes a while after OK; a publish sent right after the OK
    did not wait for it, whatever the module then answers."""
    sim = modemsim("--time-scale", "0.2", model="ec25", timing="realistic")
    t = sim.open(boot=False)
    t.read_until(b"+QIND: PB DONE\r\n", timeout=10)
    final_ok(t, "AT+QIACT=1")
    final_ok(t, 'AT+QMTOPEN=0,"%s",1883' % HOST)
    t.read_until(b"+QMTOPEN: 0,0\r\n")
    final_ok(t, 'AT+QMTCONN=0,"hasty"')
    t.write(b'AT+QMTPUB=0,0,0,0,"h15/p","x"\r')
    t.read_until(FINAL_RE)
    f = only(sim, "not-connected", "error")
    assert tx_line(sim, f) == b'AT+QMTPUB=0,0,0,0,"h15/p","x"\\r'
    t.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=5)
    mqtt_down(t)


@pytest.mark.modem(broker="embedded")
def test_inflight_window_and_msgid_reuse(modem, control):
    """The broker does not acknowledge (fault mqtt.noack): five QoS 1 publishes fill the
    window; the sixth is outside it (EC25: answered, a warning); a msgid still in flight is
    refused (an error)."""
    sim, ctl = modem.sim, control
    t = modem.tty
    mqtt_up(t)
    noack(ctl)
    for mid in range(1, 6):
        final_ok(t, 'AT+QMTPUB=0,%d,1,0,"h15/w","m%d"' % (mid, mid))
    assert findings(sim) == []
    final_ok(t, 'AT+QMTPUB=0,6,1,0,"h15/w","m6"')
    final_ok(t, 'AT+QMTPUB=0,7,1,0,"h15/w","m7"')  # one finding per excursion
    f = only(sim, "inflight-exceeded", "warning")
    assert "5 QoS 1/2 messages" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTPUB=0,6,1,0,"h15/w","m6"\\r'
    err_cmd(t, 'AT+QMTSUB=0,3,"h15/x",1')
    f = only(sim, "msgid-reused", "error")
    assert "msgid 3" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTSUB=0,3,"h15/x",1\\r'


@pytest.mark.modem("m95", broker="embedded")
def test_m95_window_is_an_error(modem, control):
    """M95 MQTT AN 3.2.8 note 1: the M95 refuses the sixth (+CME ERROR: 8512)."""
    sim, ctl = modem.sim, control
    t = modem.tty
    for line in ("AT+QIFGCNT=0", 'AT+QICSGP=1,"CMNET"', "AT+QIREGAPP", "AT+QIACT"):
        final_ok(t, line)
    final_ok(t, 'AT+QMTOPEN=0,"%s",1883' % HOST)
    t.read_until(b"+QMTOPEN: 0,0\r\n")
    final_ok(t, 'AT+QMTCONN=0,"m95-h15"')
    t.read_until(b"+QMTCONN: 0,0,0\r\n")
    noack(ctl)
    for mid in range(1, 6):
        t.write(b'AT+QMTPUB=0,%d,1,0,"h15/m"\r' % mid)
        t.read_until(b"\r\n> ")
        t.write(b"x\x1a")
        t.read_until(b"\r\nOK\r\n")
    err_cmd(t, 'AT+QMTPUB=0,6,1,0,"h15/m"')
    f = only(sim, "inflight-exceeded", "error")
    assert tx_line(sim, f) == b'AT+QMTPUB=0,6,1,0,"h15/m"\\r'


@pytest.mark.modem(broker="embedded")
def test_commands_after_qmtstat(modem, control):
    """The broker closes the link: +QMTSTAT: 0,1 (reference §6e: reopen). A publish on the
    closed client is a finding; so is never reopening by exit."""
    sim, ctl = modem.sim, control
    t = modem.tty
    mqtt_up(t)
    ctl.ok("at 0ms fault link.close client 0")
    t.read_until(b"+QMTSTAT: 0,1\r\n")
    err_cmd(t, 'AT+QMTPUB=0,0,0,0,"h15/s","x"')
    err_cmd(t, 'AT+QMTSUB=0,1,"h15/s",0')  # one finding per +QMTSTAT
    f = only(sim, "qmtstat-ignored", "error")
    assert "+QMTSTAT: 0,1" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTPUB=0,0,0,0,"h15/s","x"\\r'
    assert findings(sim, "not-connected") == []
    assert sim.stop() == 0
    got = findings(sim, "qmtstat-ignored")
    assert [f["severity"] for f in got] == ["error", "warning"]
    assert "never answered" in got[1]["msg"]


@pytest.mark.modem(broker="embedded")
def test_reopen_after_qmtstat_is_clean(modem, control):
    sim, ctl = modem.sim, control
    t = modem.tty
    mqtt_up(t)
    ctl.ok("at 0ms fault link.close client 0")
    t.read_until(b"+QMTSTAT: 0,1\r\n")
    final_ok(t, 'AT+QMTOPEN=0,"%s",1883' % HOST)
    t.read_until(b"+QMTOPEN: 0,0\r\n")
    final_ok(t, 'AT+QMTCONN=0,"again"')
    t.read_until(b"+QMTCONN: 0,0,0\r\n")
    final_ok(t, 'AT+QMTPUB=0,0,0,0,"h15/s","x"')
    mqtt_down(t)
    assert sim.stop() == 0
    assert findings(sim) == []


def test_retry_storm(modemsim):
    """No PDP context: every QMTOPEN fails with +QMTOPEN: 0,3; the fifth within 10 s without
    a pause is a storm (one finding, then the count starts again)."""
    sim = modemsim(model="ec25")
    t = sim.open()
    for i in range(5):
        final_ok(t, 'AT+QMTOPEN=0,"%s",1883' % HOST)
        t.read_until(b"+QMTOPEN: 0,3\r\n")
        if i < 4:
            assert findings(sim) == []
    f = only(sim, "retry-storm", "warning")
    assert "5 AT+QMTOPEN on client 0" in f["msg"]
    assert tx_line(sim, f) == b'AT+QMTOPEN=0,"%s",1883\\r' % HOST.encode()


def test_no_shutdown_at_exit(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    mqtt_up(t, idx=2)
    final_ok(t, 'AT+QMTOPEN=3,"%s",1883' % HOST)
    t.read_until(b"+QMTOPEN: 3,0\r\n")
    assert sim.stop() == 0
    got = findings(sim, "no-shutdown")
    assert [f["severity"] for f in got] == ["warning", "warning"]
    assert "client 2 was still connected" in got[0]["msg"]
    assert "client 3 had its network open" in got[1]["msg"]


# ---------------------------------------------------------------- control socket


@pytest.mark.modem(broker="embedded", args=["--count", "2"])
def test_query_findings(modem, control):
    sim, ctl = modem.sim, control
    t0, t1 = modem.tty, sim.open(1)
    err_cmd(t1, "AT+CSQQ")
    final_ok(t0, "AT+CSQ")
    ans = ctl.query("findings", 1)
    (m,) = ans["modems"]
    assert (m["modem"], m["count"], m["warnings"], m["errors"]) == (1, 1, 1, 0)
    (f,) = m["findings"]
    assert f["kind"] == "unknown-command" and f["severity"] == "warning"
    assert "did you mean AT+CSQ?" in f["msg"]
    assert f["line"] == findings(sim)[0]["line"]
    ans = ctl.query("findings")
    assert [(x["modem"], x["count"]) for x in ans["modems"]] == [(0, 0), (1, 1)]
    assert ctl.send("query findings 2") == {
        "ok": False, "error": "modem 2 does not exist (2 modems)"}
    assert ctl.send("query findings x")["ok"] is False
    assert ctl.send("query findings 0 1")["ok"] is False
    assert ctl.query("counters", 0)["ok"]  # other queries are untouched


# ---------------------------------------------------------------- a clean session


def test_field_log_flow_done_right_has_no_findings(modemsim):
    """The EC25 bring-up of the field log (seed 000), then an MQTT session by the book: each
    command waits for its result, data waits for CONNECT and "> ", every result URC is
    awaited, and the client is disconnected and closed before exit."""
    sim = modemsim(model="ec25")
    t = sim.open()
    for line in ("AT+GSN", "AT+CPIN?", "AT+CREG?", "AT+CEREG?", "AT+QNWINFO", "AT+QCSQ",
                 "AT+COPS?", "AT+GMR", 'AT+QICSGP=1,1,"fast.t-mobile.com","","",0',
                 'AT+QFDEL="*"'):
        final_ok(t, line)
    ca = open(os.path.join(DATA, "AmazonRootCA1.pem"), "rb").read()
    rnd = random.Random(0)
    for name, data in (("RAM:cacert.pem", ca),
                       ("RAM:user_key.pem", bytes(rnd.getrandbits(8) for _ in range(1679)))):
        t.write(b'AT+QFUPL="%s",%d,100\r\n' % (name.encode(), len(data)))
        t.read_until(b"CONNECT\r\n")
        t.write(data)
        t.read_until(b"+QFUPL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data)))
    mqtt_up(t)
    final_ok(t, 'AT+QMTSUB=0,1,"h15/clean",1')
    t.read_until(b"+QMTSUB: 0,1,0,1\r\n")
    for mid in (2, 3):
        t.write(b'AT+QMTPUB=0,%d,1,0,"h15/clean"\r\n' % mid)
        t.read_until(b"\r\n> ")
        t.write(b"payload %d\x1a" % mid)
        t.read_until(b"\r\nOK\r\n")
        t.read_until(b"+QMTPUB: 0,%d,0\r\n" % mid)
    t.write(b'AT+QMTPUB=0,4,1,0,"h15/clean",5\r\n')
    t.read_until(b"\r\n> ")
    t.write(b"fixed")
    t.read_until(b"+QMTPUB: 0,4,0\r\n")
    mqtt_down(t)
    assert sim.stop() == 0
    assert findings(sim) == []
