"""AT-level helpers for tests that drive a modem's tty byte for byte: the expected bytes of an
answer, sending a line and asserting exactly what comes back, URCs, silence, file uploads, and
PDP and MQTT bring-up for each dialect. Every function works on a modemsim.Tty (what
ModemSim.open() returns; its .model names the dialect) and every wait has a deadline.

    from modemsim_harness.at import check, ok, err, urc, quiet, upload, mqtt_up
    t = sim.open()
    check(t, "AT+CSQ", ok("AT+CSQ", "+CSQ: 31,99"))   # echo, info line, OK: exactly
    check(t, "AT+FOO", err("AT+FOO"))
    mqtt_up(t, cid="dev-1")                            # PDP, QMTOPEN, QMTCONN, each exact
    urc(t, "+QMTSTAT: 0,1", timeout=10)                # the next bytes are exactly this URC
    quiet(t)                                           # and then nothing for 0.2 s

The plugin's `modem` fixture (plugin.Modem) is the parsed counterpart: modem.ok(line, *info)
asserts what check(t, line, ok(line, *info)) asserts, with URCs before the echo set aside
instead of failing the comparison; modem.quiet(s) is quiet(t, s).

Quectel functions expect echo on (the default); the SIMCom ones (netopen, cmqtt_start,
cmqtt_connect, certdown) expect ATE0, as SIMCom drivers run.
"""
import re
import time

from .conformance import BROKER_HOST as HOST
from .modemsim import FINAL_RE, xor16_hex

SIMCOM = ("sim7600", "a7670", "sim7670g")
M95_PDP = ("AT+QIFGCNT=0", 'AT+QICSGP=1,"CMNET"', "AT+QIREGAPP", "AT+QIACT")


def b(x):
    """bytes of a str (ASCII), bytes unchanged."""
    return x.encode() if isinstance(x, str) else x


# ---------------------------------------------------------------- expected bytes


def ok(line, *info):
    """The exact answer to `line` with echo on: its echo, information lines, OK (V.250
    framing: echo CR, then CRLF-framed lines). Info lines are str or bytes."""
    out = b(line) + b"\r"
    if info:
        out += b"\r\n" + b"".join(b(i) + b"\r\n" for i in info)
    return out + b"\r\nOK\r\n"


def err(line, text="ERROR"):
    """The exact failing answer to `line` with echo on: echo, then `text` (ERROR, or e.g.
    "+CME ERROR: 3")."""
    return b(line) + b"\r\r\n" + b(text) + b"\r\n"


# ---------------------------------------------------------------- commands


def check(t, line, want, timeout=5.0):
    """Send a command line; its whole answer (up to the final result) is exactly `want`."""
    got = t.cmd(b(line), timeout=timeout)
    assert got == b(want), "%s:\n got  %r\n want %r" % (line, got, b(want))
    return got


def check_exact(t, line, want, timeout=5.0):
    """Send a command line; the next len(want) bytes are exactly want (no final-result
    framing assumed: for answers that end in a prompt or carry URCs after the result)."""
    t.write(b(line) + b"\r")
    return t.expect(want, timeout=timeout)


def check_ok(t, line, *info, timeout=5.0):
    """check(t, line, ok(line, *info)): the answer is exactly echo, info lines, OK."""
    return check(t, line, ok(line, *info), timeout)


def info_line(t, line, timeout=5.0):
    """Send a command line whose answer is exactly echo, ONE information line, OK; that line
    (str), for a value the test does not know in advance (an IMEI, a clock)."""
    out = t.cmd(b(line), timeout=timeout)
    m = re.fullmatch(re.escape(b(line)) + rb"\r\r\n([^\r\n]+)\r\n\r\nOK\r\n", out)
    assert m, "%s: expected echo, one information line and OK, got %r" % (line, out)
    return m.group(1).decode()


def final_ok(t, line, timeout=10.0):
    """Send a command line; its answer ends in OK, whatever came before. The answer."""
    got = t.cmd(b(line), timeout=timeout)
    assert got.endswith(b"\r\nOK\r\n"), "%s: expected a final OK, got %r" % (line, got)
    return got


def connect(t, line, timeout=5.0):
    """Send a data command (AT+QFUPL, AT+QSECWRITE, AT+QFDWL); exactly its echo and CONNECT."""
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\nCONNECT\r\n", timeout=timeout)


def prompt(t, line, timeout=5.0):
    """Send a command that asks for data (AT+QMTPUB, AT+QISEND); exactly its echo and `> `."""
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\n> ", timeout=timeout)


def reboot(t, model=None, timeout=15.0):
    """AT+CFUN=1,1 answers exactly OK; then read through the model's boot URCs."""
    from .modemsim import BOOT_LAST
    check(t, "AT+CFUN=1,1", b"AT+CFUN=1,1\r\r\nOK\r\n")
    t.read_until(BOOT_LAST[model or t.model], timeout=timeout)


# ---------------------------------------------------------------- URCs and silence


def urc(t, text, timeout=5.0):
    """The next bytes from the modem are exactly this URC (CRLF-framed)."""
    return t.expect(b"\r\n" + b(text) + b"\r\n", timeout)


def read_urc(t, pattern, timeout=10.0):
    """Read through to a URC, whatever arrives before it: `pattern` is the URC's text (framed
    as CRLF text CRLF) or a compiled bytes regex. The bytes read."""
    if isinstance(pattern, (str, bytes)):
        pattern = b"\r\n" + b(pattern) + b"\r\n"
    return t.read_until(pattern, timeout=timeout)


def quiet(t, seconds=0.2):
    """Nothing arrives from the modem for `seconds`. This is the one place a test waits
    without an event: asserting that nothing happens takes time by definition."""
    got = t.drain(quiet=seconds, timeout=seconds * 4)
    assert got == b"", "expected %.2f s of silence, got %r" % (seconds, got)


def pause(seconds):
    """The host sends nothing for `seconds`: the silence itself is the stimulus (a guard time
    around +++, a driver's back-off, a host that does not read). Never a wait for a reply."""
    time.sleep(seconds)


def escape(t, guard=1.1, timeout=5.0):
    """Leave transparent mode as a host does: `guard` seconds of silence, +++, then exactly OK
    (the module's own guard time after +++ passes inside the deadline)."""
    pause(guard)
    t.write(b"+++")
    t.expect(b"\r\nOK\r\n", timeout=timeout)


# ---------------------------------------------------------------- files


def send_file(t, line, data, timeout=10.0):
    """A data command whose answer is under test: echo and CONNECT exactly, then the data;
    the bytes after the data up to the final result."""
    connect(t, line)
    t.write(data)
    return t.read_until(FINAL_RE, timeout=timeout)


def qfupl(t, name, data, size=None, timeout=None, ack=None):
    """AT+QFUPL="name",size[,timeout[,ack]] with only the parameters given, then the whole of
    data; the answer after it (for tests of that answer; upload() asserts a good one)."""
    args = '"%s",%d' % (name, len(data) if size is None else size)
    if timeout is not None:
        args += ",%d" % timeout
    if ack is not None:
        args += ",%d" % ack
    return send_file(t, "AT+QFUPL=" + args, data)


def qsecwrite(t, name, data, size=None, timeout=100):
    """AT+QSECWRITE="name",size,timeout (M95), then the whole of data; the answer after it."""
    return send_file(t, 'AT+QSECWRITE="%s",%d,%d' % (name, len(data) if size is None else size,
                                                      timeout), data)


def certdown(t, name, data, timeout=5.0):
    """SIMCom AT+CCERTDOWN (ATE0): `\\r\\n>`, the data, exactly OK."""
    t.write(b'AT+CCERTDOWN="%s",%d\r' % (b(name), len(data)))
    t.expect(b"\r\n>", timeout=timeout)
    t.write(data)
    t.expect(b"\r\nOK\r\n", timeout=timeout)


def upload(t, name, data, size=None, timeout=5, end=b"\r", model=None):
    """Put a file into the modem as a host does, every byte of the exchange asserted:
      EC25/BG96: AT+QFUPL="name",size,timeout: CONNECT, the data, +QFUPL: <stored>,<xor16>
                 (no blank line before it, reference quectel.md §3), OK;
      M95:       AT+QSECWRITE="name",size,timeout (at least 3): CONNECT, the data,
                 +QSECWRITE: <stored>,<xor16> framed as a URC, OK;
      SIMCom:    AT+CCERTDOWN (certdown; size, timeout and end do not apply).
    size larger than data: the upload ends on the inactivity timeout; smaller: the module
    stores size bytes and reads the rest as command lines (their answers follow)."""
    model = model or getattr(t, "model", "ec25")
    if model in SIMCOM:
        return certdown(t, name, data)
    size = len(data) if size is None else size
    if model == "m95":
        line = 'AT+QSECWRITE="%s",%d,%d' % (name, size, max(timeout, 3))
        head, tail = b"\r\n+QSECWRITE: ", b"\r\n\r\nOK\r\n"
    else:
        line = 'AT+QFUPL="%s",%d,%d' % (name, size, timeout)
        head, tail = b"+QFUPL: ", b"\r\n\r\nOK\r\n"
    t.write(b(line) + end)
    t.expect(b(line) + b"\r\r\nCONNECT\r\n")
    t.write(data)
    stored = data[:size]
    t.expect(head + b"%d,%s" % (len(stored), xor16_hex(stored)) + tail,
             timeout=max(10, timeout + 5))


def download(t, name, timeout=10.0):
    """AT+QFDWL (EC25/BG96): exactly echo and CONNECT, then the data, +QFDWL: <size>,<xor16>
    matching it, and OK. The data."""
    connect(t, 'AT+QFDWL="%s"' % (b(name).decode()))
    out = t.read_until(FINAL_RE, timeout=timeout)
    m = re.fullmatch(rb"(.*)\r\n\+QFDWL: (\d+),([0-9a-f]+)\r\n\r\nOK\r\n", out, re.S)
    assert m, "AT+QFDWL=%r: no +QFDWL and OK after the data: %r" % (name, out)
    data = m.group(1)
    assert (int(m.group(2)), m.group(3)) == (len(data), xor16_hex(data)), (
        "AT+QFDWL=%r: +QFDWL %r does not match the %d bytes" % (name, m.groups()[1:], len(data)))
    return data


def upload_file(t, name, path, **kw):
    """upload() of a file's contents."""
    with open(path, "rb") as f:
        return upload(t, name, f.read(), **kw)


# ---------------------------------------------------------------- PDP and MQTT, Quectel


def pdp_up(t, model=None):
    """The data bearer as drivers bring it up, every answer exact: the M95's GSM steps
    (GSM SSL AN 1.2 steps 2-3, reference §4b), else AT+QIACT=1; SIMCom: netopen()."""
    model = model or getattr(t, "model", "ec25")
    if model in SIMCOM:
        return netopen(t)
    for line in (M95_PDP if model == "m95" else ("AT+QIACT=1",)):
        check_ok(t, line)


def qmtopen(t, idx=0, host=HOST, port=1883, result=0, timeout=10.0):
    """AT+QMTOPEN answers OK exactly, then exactly +QMTOPEN: idx,result."""
    line = 'AT+QMTOPEN=%d,"%s",%d' % (idx, host, port)
    check_ok(t, line)
    urc(t, "+QMTOPEN: %d,%d" % (idx, result), timeout)


def qmtconn(t, idx=0, cid="modemsim", user=None, password=None, rc=0, timeout=5.0):
    """AT+QMTCONN answers OK exactly, then exactly +QMTCONN: idx,0,rc."""
    line = 'AT+QMTCONN=%d,"%s"' % (idx, cid)
    if user is not None:
        line += ',"%s"' % user
    if password is not None:
        line += ',"%s"' % password
    check_ok(t, line)
    urc(t, "+QMTCONN: %d,0,%d" % (idx, rc), timeout)


def mqtt_up(t, cfg=(), idx=0, pdp=True, host=HOST, port=1883, cid="modemsim", **conn):
    """PDP (pdp_up), the AT+QMTCFG lines, QMTOPEN and QMTCONN, each exact. On a SIMCom tty:
    netopen, cmqtt_start and cmqtt_connect (cfg lines checked as OK, host/port as the URL)."""
    if getattr(t, "model", "ec25") in SIMCOM:
        if pdp:
            netopen(t)
        cmqtt_start(t)
        for line in cfg:
            check(t, line, b"\r\nOK\r\n")
        return cmqtt_connect(t, idx, "tcp://%s:%d" % (host, port), cid=cid, **conn)
    if pdp:
        pdp_up(t)
    for line in cfg:
        check_ok(t, line)
    qmtopen(t, idx, host=host, port=port)
    qmtconn(t, idx, cid=cid, **conn)


# ---------------------------------------------------------------- SIMCom (ATE0)


def netopen(t):
    """AT+NETOPEN: OK, then +NETOPEN: 0 (SIMCom, ATE0)."""
    check(t, "AT+NETOPEN", b"\r\nOK\r\n")
    urc(t, "+NETOPEN: 0")


def cmqtt_start(t):
    """AT+CMQTTSTART: the SIM7600 puts +CMQTTSTART: 0 before OK; the A76XX after it, as a
    URC (reference simcom.md §2)."""
    if t.model == "sim7600":
        check(t, "AT+CMQTTSTART", b"\r\n+CMQTTSTART: 0\r\n\r\nOK\r\n")
    else:
        check(t, "AT+CMQTTSTART", b"\r\nOK\r\n")
        urc(t, "+CMQTTSTART: 0")


def cmqtt_connect(t, idx=0, url="tcp://%s:1883" % HOST, extra="", err=0, cid="simcom01",
                  server_type=0):
    """AT+CMQTTACCQ and AT+CMQTTCONNECT answer OK, then +CMQTTCONNECT: idx,err."""
    check(t, 'AT+CMQTTACCQ=%d,"%s",%d' % (idx, cid, server_type), b"\r\nOK\r\n")
    check(t, 'AT+CMQTTCONNECT=%d,"%s",60,1%s' % (idx, url, extra), b"\r\nOK\r\n")
    urc(t, "+CMQTTCONNECT: %d,%d" % (idx, err), timeout=10)
