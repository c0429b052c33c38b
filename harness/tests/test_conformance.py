"""The conformance runner (harness/conformance.py) and `pytest --driver` (harness/plugin.py):
a real driver process (DRIVER below, a tiny host driver of our own) against real modemsim
instances, scenarios and the embedded broker; the report's verdicts, reasons, messages and
files are checked against what the driver and modemsim really did.

--timing fast and --time-scale 0.1 keep each cell well under a second (the scenario
broker-refuses-twice waits 1 s per refusal at scale 1).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import conformance
from control import wait_for
from modemsim import BINARY, ROOT

HARNESS = os.path.join(ROOT, "harness")
REFUSES = os.path.join(ROOT, "scenarios", "broker-refuses-twice.scn")
FAST = ["--time-scale", "0.1"]

# A tiny host driver, standard library only: PDP, AT+QMTOPEN (retried on -1 unless naive),
# AT+QMTCONN, one QoS 1 publish on conf/<model>/hello, AT+QMTDISC. Modes: good, naive (no
# retry), exit3 (stops before publishing), hang (never returns), rude (sends a command before
# the previous one's result), restart (waits for +QMTSTAT: 0,1, then opens and connects again
# before publishing).
DRIVER = r'''
import os, re, select, sys, termios, time, tty

path, model = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "good"
fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd, termios.TCSANOW)
buf = b""


def read_until(rx, timeout=15):
    global buf
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(rx, buf)
        if m:
            buf = buf[m.end():]
            return m
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit("timeout waiting for %r; have %r" % (rx, buf))
        if select.select([fd], [], [], left)[0]:
            buf += os.read(fd, 4096)


def cmd(line, want=b"OK"):
    os.write(fd, line.encode() + b"\r")
    m = read_until(rb"\r\n(OK|ERROR|\+CME ERROR: \d+|> )(\r\n)?")
    if m.group(1) != want:
        sys.exit("%s: %r" % (line, m.group(1)))


print("driver", mode, "on", path, flush=True)
if mode == "hang":
    time.sleep(3600)
if model == "m95":
    for line in ("AT+QIFGCNT=0", 'AT+QICSGP=1,"CMNET"', "AT+QIREGAPP", "AT+QIACT"):
        cmd(line)
else:
    cmd("AT+QIACT=1")
if mode == "rude":
    os.write(fd, b"AT+CSQ\rAT+CSQ\r")
    read_until(rb"OK\r\n[\s\S]*OK\r\n")


def mqtt_up(attempts):
    for attempt in range(attempts):
        cmd('AT+QMTOPEN=0,"broker.modemsim.test",1883')
        if read_until(rb"\+QMTOPEN: 0,(-?\d+)\r\n").group(1) == b"0":
            break
        time.sleep(0.05 * attempt)
    else:
        sys.exit("AT+QMTOPEN failed")
    cmd('AT+QMTCONN=0,"conf-%s"' % model)
    m = read_until(rb"\+QMTCONN: 0,(\d+)(?:,(\d+))?\r\n")
    if m.group(1) != b"0" or m.group(2) != b"0":
        sys.exit("CONNACK refused: %s" % m.group(0).strip().decode())


mqtt_up(1 if mode == "naive" else 5)
if mode == "restart":
    read_until(rb"\+QMTSTAT: 0,1\r\n")  # the broker went away: open and connect again
    mqtt_up(40)
if mode == "exit3":
    sys.exit(3)
# After a broker restart the runner's subscriber may subscribe again a moment after this
# publish: retained, the message still reaches it (3.3.1.3) instead of racing it.
cmd('AT+QMTPUB=0,1,1,%d,"conf/%s/hello"' % (mode == "restart", model), want=b"> ")
os.write(fd, b"hello from %s\x1a" % model.encode())
read_until(rb"\+QMTPUB: 0,1,0\r\n")
cmd("AT+QMTDISC=0")
read_until(rb"\+QMTDISC: 0,0\r\n")
print("published")
'''


@pytest.fixture
def driver(tmp_path):
    """Factory: the driver command line for a mode ({tty} and {model} left for the runner)."""
    path = tmp_path / "driver.py"
    path.write_text(DRIVER)

    def make(mode="good"):
        return "%s %s {tty} {model} %s" % (sys.executable, path, mode)
    return make


def cell(rep, cid):
    return next(c for c in rep["cells"] if c["id"] == cid)


def trace(out, c):
    with open(os.path.join(out, c["files"]["trace"])) as f:
        return [json.loads(l) for l in f if l.strip()]


def tx_lines(records, prefix):
    return [r for r in records if r["ev"] == "tx" and r["bytes"].startswith(prefix)]


# ---------------------------------------------------------------- the command line


def test_cli_matrix_passes_skips_and_reports(driver, tmp_path):
    """`python3 harness/conformance.py` (any python3: the runner needs no paho) over
    ec25,m95 x baseline, broker-refuses-twice: three passes (the driver retries through the
    two refusals), one skip (the scenario is the EC25's), messages checked at the broker."""
    out = str(tmp_path / "out")
    python3 = shutil.which("python3") or sys.executable
    res = subprocess.run(
        [python3, os.path.join(HARNESS, "conformance.py"), "--driver", driver(),
         "--models", "ec25,m95", "--scenarios", "baseline", REFUSES,
         "--expect-topic", "conf/+/hello", "conf/#=~^hello from (ec25|m95)$",
         "--timing", "fast", "--modemsim-arg=--time-scale=0.1", "--out", out],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, MODEMSIM_BIN=BINARY))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[-1] == (
        "3 passed, 0 failed, 0 errors, 1 skipped; report: %s/report.html" % out)
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["summary"] == {"pass": 3, "fail": 0, "error": 0, "skip": 1}
    assert [c["id"] for c in rep["cells"]] == [
        "ec25-baseline", "ec25-broker-refuses-twice", "m95-baseline", "m95-broker-refuses-twice"]

    for cid, model in (("ec25-baseline", "ec25"), ("ec25-broker-refuses-twice", "ec25"),
                       ("m95-baseline", "m95")):
        c = cell(rep, cid)
        assert c["status"] == "pass" and c["reasons"] == [], c
        assert c["driver"]["exit"] == 0 and not c["driver"]["timed_out"]
        assert c["driver"]["command"].endswith("/%s/tty %s good" % (cid, model))
        assert c["driver"]["stdout"].endswith("published\n")
        assert [(m["topic"], m["payload"], m["qos"]) for m in c["messages"]] == [
            ("conf/%s/hello" % model, "hello from %s" % model, 1)]
        assert [(e["spec"], e["seen"], e["ok"]) for e in c["expected"]] == [
            ("conf/+/hello", 1, True), ("conf/#=~^hello from (ec25|m95)$", 1, True)]
        assert c["modemsim"]["exit"] == 0
        for f in ("trace", "transcript", "driver_stdout", "driver_stderr"):
            assert os.path.isfile(os.path.join(out, c["files"][f])), f
        with open(os.path.join(out, c["files"]["transcript"])) as f:
            text = f.read()
        assert re.search(r'^\[\d\d:\d\d:\d\d\.\d{3}\] #0 TX AT\+QMTOPEN=0,"broker.modemsim.test",'
                         r'1883\\r$', text, re.M), text
        assert not os.path.exists(os.path.join(out, cid, "tty")), "link left behind"

    # The scenario really refused twice: three AT+QMTOPEN, the first two answered -1.
    c = cell(rep, "ec25-broker-refuses-twice")
    recs = trace(out, c)
    assert len(tx_lines(recs, "AT+QMTOPEN=")) == 3
    assert [r["bytes"] for r in recs if r["ev"] == "rx" and "+QMTOPEN:" in r["bytes"]] == [
        "\r\n+QMTOPEN: 0,-1\r\n", "\r\n+QMTOPEN: 0,-1\r\n", "\r\n+QMTOPEN: 0,0\r\n"]
    assert len(tx_lines(trace(out, cell(rep, "ec25-baseline")), "AT+QMTOPEN=")) == 1

    c = cell(rep, "m95-broker-refuses-twice")
    assert c["status"] == "skip" and c["driver"] is None
    assert c["reasons"] == ["scenario does not apply to m95: %s:3:1: model ec25 does not "
                            "match --model m95" % REFUSES]
    assert os.path.isfile(os.path.join(out, "report.html"))


def test_cli_usage_errors(capsys, tmp_path):
    """Bad usage is exit 2 with one line naming the problem; nothing runs."""
    out = str(tmp_path / "out")
    cases = [
        (["--models", "ec25,sim800"], "--models: unknown model 'sim800' (expected "
                                     "ec25,m95,bg96,sim7600,a7670,sim7670g)"),
        (["--scenarios", "nope.scn"], "scenario 'nope.scn': no such file"),
        (["--scenarios", "baseline", "--expect-topic", "a/#/b"],
         "--expect-topic 'a/#/b': '#' must be the last level"),
        (["--scenarios", "baseline", "--expect-topic", "a=~("],
         "--expect-topic 'a=~(': bad payload pattern: missing ), unterminated subpattern at "
         "position 0"),
        (["--scenarios", "baseline", "--timeout", "0"], "--timeout must be positive"),
    ]
    for args, msg in cases:
        rc = conformance.main(["--driver", "true", "--out", out] + args)
        assert rc == 2, args
        assert capsys.readouterr().err == "conformance.py: %s\n" % msg
    assert not os.path.exists(out)
    with pytest.raises(SystemExit) as e:
        conformance.main(["--driver", "true"])  # --out is required
    assert e.value.code == 2


# ---------------------------------------------------------------- verdicts


def test_failing_drivers_get_their_reasons(driver, tmp_path):
    """Each way a driver fails is named: its exit status with its last stderr line, a
    timeout (the process group killed), messages missing or with the wrong payload."""
    out = str(tmp_path / "out")
    exp = [conformance.parse_expect("conf/+/hello"),
           conformance.parse_expect("conf/+/hello=~goodbye")]

    c = conformance.run_cell(driver("naive"), "ec25", REFUSES, out, expect=exp, timing="fast",
                             modemsim_args=FAST)
    assert c["status"] == "fail"
    assert c["reasons"] == ["driver exited with status 1 (stderr: AT+QMTOPEN failed)",
                            "no message on conf/+/hello at the broker",
                            "no message on conf/+/hello at the broker"]
    assert c["messages"] == []

    c = conformance.run_cell(driver("exit3"), "m95", None, out, expect=exp, timing="fast")
    assert c["status"] == "fail"
    assert c["reasons"][0] == "driver exited with status 3"
    assert c["driver"]["exit"] == 3
    # It got as far as CONNECT: the broker has the client, but no message.
    assert any("==> CONNECT" in r.get("msg", "") for r in trace(out, c))

    c = conformance.run_cell(driver("good"), "ec25", None, out, "ec25-good", expect=exp,
                             timing="fast")
    assert c["status"] == "fail"
    assert c["reasons"] == ["1 message(s) on conf/+/hello, none with a payload matching "
                            "'goodbye'"]
    assert [(e["seen"], e["ok"]) for e in c["expected"]] == [(1, True), (0, False)]

    t0 = time.monotonic()
    c = conformance.run_cell(driver("hang"), "ec25", None, out, timeout=1.5, timing="fast")
    assert time.monotonic() - t0 < 10
    assert c["status"] == "fail"
    assert c["reasons"] == ["driver did not finish within 1.5 s (killed)"]
    assert c["driver"]["timed_out"] and c["driver"]["exit"] is None
    assert c["driver"]["signal"] == "SIGTERM"
    assert c["driver"]["stdout"].startswith("driver hang on ")
    assert 1.5 <= c["driver"]["duration"] < 5


def test_driver_not_found_and_placeholders(tmp_path):
    """The command goes through /bin/sh: a missing program is exit 127 with sh's message;
    every placeholder and MODEMSIM_* variable reaches the driver, shell-quoted."""
    out = str(tmp_path / "o u t")  # a space: the placeholders must be quoted
    c = conformance.run_cell("no-such-driver-h16 {tty}", "ec25", None, out, timing="fast")
    assert c["status"] == "fail"
    assert re.fullmatch(r"driver exited with status 127 \(stderr: .*no-such-driver-h16.*"
                        r"not found\)", c["reasons"][0]), c["reasons"]

    cmd = ("printf '%s\\n' {tty} {model} {scenario} {ca} {cert} {key} {control} {out} "
           "\"$MODEMSIM_TTY\" \"$MODEMSIM_BROKER_HOST\" '{unknown}' && test -L {tty} && "
           "test -S {control} && test -f {ca}")
    c = conformance.run_cell(cmd, "m95", None, out, timing="fast")
    assert c["status"] == "pass", c["reasons"]
    d = os.path.join(out, "m95-baseline")
    ca = c["driver"]["stdout"].splitlines()[3]
    assert c["driver"]["stdout"].splitlines() == [
        d + "/tty", "m95", "baseline", ca, os.path.dirname(ca) + "/client-rsa.pem",
        os.path.dirname(ca) + "/client-rsa.key", d + "/control.sock", d, d + "/tty",
        "broker.modemsim.test", "{unknown}"]


def test_broker_restart_keeps_watching(driver, tmp_path):
    """The fault broker.restart really restarts the embedded broker: the runner's subscriber
    comes back with it, and sees what the driver publishes after reconnecting."""
    scn = tmp_path / "restart.scn"
    scn.write_text("after mqtt-connected once delay 100ms fault broker.restart\n")
    c = conformance.run_cell(driver("restart"), "ec25", str(scn), str(tmp_path / "out"),
                             expect=[conformance.parse_expect("conf/ec25/hello")],
                             timing="fast", timeout=30)
    assert c["status"] == "pass", c["reasons"]
    assert c["subscriber_reconnects"] == 1
    assert [m["topic"] for m in c["messages"]] == ["conf/ec25/hello"]
    assert any("broker.restart" in f for f in c["faults"]), c["faults"]


def test_driver_leftovers_are_killed(tmp_path):
    """What a driver leaves running in its process group does not outlive its cell."""
    c = conformance.run_cell("sleep 300 & echo $!", "ec25", None, str(tmp_path / "out"),
                             timing="fast")
    assert c["status"] == "pass", c["reasons"]
    pid = int(c["driver"]["stdout"])
    def gone():
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # dead, not yet reaped by whoever adopted it
    wait_for(gone, 5, what="the driver's child %d to end" % pid)


def test_invalid_scenario_is_an_error_not_a_failure(driver, tmp_path):
    bad = tmp_path / "bad.scn"
    bad.write_text("signal 8 3\nlatency command 5\n")
    c = conformance.run_cell(driver(), "ec25", str(bad), str(tmp_path / "out"), timing="fast")
    assert c["status"] == "error" and c["driver"] is None
    assert c["reasons"][0].startswith("scenario invalid: %s:2:" % bad), c["reasons"]


def test_verdict_rules():
    """Pure: which findings fail a cell under --fail-on, and modemsim's own failure is an
    error, listed before the driver's reasons."""
    def mk(findings, ms=None):
        return {"driver": {"timed_out": False, "signal": None, "exit": 0, "stderr": ""},
                "timeout": 5, "expected": [], "findings": findings,
                "modemsim": ms or {"exit": 0}}

    f = [{"severity": "warning", "kind": "retry-storm", "line": 7, "msg": "20 in 1 s"},
         {"severity": "error", "kind": "cmd-before-result", "line": 9, "msg": "AT+CSQ"}]
    c = mk(f)
    conformance.verdict(c, "error")
    assert (c["status"], c["reasons"]) == ("fail", [
        "finding error cmd-before-result (transcript line 9): AT+CSQ"])
    conformance.verdict(c, "warning")
    assert len(c["reasons"]) == 2 and c["reasons"][0].startswith("finding warning retry-storm")
    conformance.verdict(c, "none")
    assert (c["status"], c["reasons"]) == ("pass", [])
    c = mk([], {"exit": 1})
    c["driver"]["exit"] = 4
    conformance.verdict(c, "error")
    assert (c["status"], c["reasons"]) == ("error", ["modemsim exited with status 1",
                                                     "driver exited with status 4"])


@pytest.mark.parametrize("filt,topic,want", [
    ("a/b", "a/b", True), ("a/b", "a/b/c", False), ("a/+", "a/b", True),
    ("a/+", "a/b/c", False), ("a/#", "a", True), ("a/#", "a/b/c", True), ("#", "x/y", True),
    ("+/+", "/x", True), ("+", "$SYS/x", False), ("#", "$SYS/x", False),
    ("$SYS/#", "$SYS/x", True), ("a/+/c", "a//c", True), ("a", "A", False)])
def test_topic_filters(filt, topic, want):
    """MQTT 3.1.1 4.7 wildcards, as --expect-topic uses them."""
    assert conformance.topic_matches(filt, topic) is want


def test_findings_fail_the_cell(driver, tmp_path):
    """A driver that sends a command before the previous one's result (the modem is slow
    here: 300 ms per command) is caught by modemsim's findings, and the cell fails on it."""
    scn = tmp_path / "slow.scn"
    scn.write_text("latency command 300ms\n")
    c = conformance.run_cell(driver("rude"), "ec25", str(scn), str(tmp_path / "out"),
                             timing="fast", fail_on="warning")
    kinds = [f["kind"] for f in c["findings"]]
    if not kinds:
        pytest.skip("this modemsim reports no findings yet (the C side of findings)")
    assert "cmd-before-result" in kinds, c["findings"]
    assert c["status"] == "fail"
    assert any(r.startswith("finding ") and "cmd-before-result" in r for r in c["reasons"])


# ---------------------------------------------------------------- through pytest


def test_pytest_driver_option_from_another_project(driver, tmp_path):
    """`PYTHONPATH=harness pytest -p plugin --driver ...` in a directory with no tests of its
    own runs the matrix as test items, fails the cell whose driver fails, and writes the
    report."""
    proj = tmp_path / "proj"
    proj.mkdir()
    out = tmp_path / "report"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "plugin", "-p", "no:cacheprovider", "-v",
         "--driver", driver("naive"), "--driver-models", "ec25",
         "--driver-scenarios", "baseline," + REFUSES, "--driver-timing", "fast",
         "--driver-modemsim-arg=--time-scale=0.1", "--driver-expect-topic", "conf/+/hello",
         "--driver-out", str(out)],
        cwd=str(proj), capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=HARNESS, MODEMSIM_BIN=BINARY))
    text = res.stdout + res.stderr
    assert res.returncode == 1, text
    assert "conformance::ec25-baseline PASSED" in text
    assert "conformance::ec25-broker-refuses-twice FAILED" in text
    assert "  - driver exited with status 1 (stderr: AT+QMTOPEN failed)" in text
    assert "  - no message on conf/+/hello at the broker" in text
    assert "conformance report: %s/report.html" % out in text
    assert re.search(r"1 failed, 1 passed in", text), text
    with open(out / "report.json") as f:
        rep = json.load(f)
    assert [(c["id"], c["status"]) for c in rep["cells"]] == [
        ("ec25-baseline", "pass"), ("ec25-broker-refuses-twice", "fail")]
    assert rep["summary"]["fail"] == 1


# ---------------------------------------------------------------- what the report says why

CORRECT = os.path.join(HARNESS, "examples", "ec25_mqtt_tls.py")


def test_expected_outcomes(driver, tmp_path):
    """A scenario's `# expect: fail "..."` line turns a clean failure of the driver into
    XFAIL, a success into XPASS (which fails the run), and leaves a timeout a FAIL; the
    summary line counts them apart."""
    refused = tmp_path / "connack-refused.scn"
    refused.write_text('# expect: fail "the broker refuses every client"\n'
                       "at 0ms fault mqtt.connack code 5\n")
    fine = tmp_path / "fine.scn"
    fine.write_text("# a comment first\n#   expect:   fail   the modem is broken\n")
    out = str(tmp_path / "out")
    rep = conformance.run_matrix(driver(), out, ["ec25"], [str(refused), str(fine)],
                                 ["conf/+/hello"], timeout=30, timing="fast")
    c = cell(rep, "ec25-connack-refused")
    assert c["status"] == "xfail", c["reasons"]
    assert c["expectation"] == {"outcome": "fail", "why": "the broker refuses every client",
                                "line": 1}
    assert c["reasons"][0] == "failed as the scenario expects (the broker refuses every client)"
    assert c["reasons"][1].startswith("driver exited with status 1 (stderr: CONNACK refused")
    c = cell(rep, "ec25-fine")
    assert c["status"] == "xpass"
    assert c["reasons"] == ["succeeded where the scenario says a correct driver fails (the "
                            "modem is broken): check what the driver skipped (e.g. verifying "
                            "the server)"]
    assert rep["summary"] == {"pass": 0, "fail": 0, "error": 0, "skip": 0, "xfail": 1,
                              "xpass": 1}
    assert conformance.failed(rep["summary"]) == 1  # the xpass
    assert conformance.summary_line(rep, out) == (
        "0 passed, 0 failed, 0 errors, 0 skipped, 1 failed as expected, 1 passed "
        "unexpectedly; report: %s/report.html" % out)

    # Not clean: killed at the timeout. Still a FAIL, saying what was expected.
    c = conformance.run_cell(driver("hang"), "ec25", str(refused), out, "hang", timeout=1,
                             timing="fast")
    assert c["status"] == "fail"
    assert c["reasons"] == ["the scenario expects a clean failure (the broker refuses every "
                            "client), not this", "driver did not finish within 1 s (killed)"]

    bad = tmp_path / "bad-expect.scn"
    bad.write_text("signal 8 3\n# expect: maybe\n")
    c = conformance.run_cell(driver(), "ec25", str(bad), out, timing="fast")
    assert c["status"] == "error" and c["driver"] is None
    assert c["reasons"] == ["scenario invalid: %s:2: expect: 'maybe' is not pass or fail" % bad]


def test_the_modem_side_cause(tmp_path):
    """The correct example driver without its client certificate, against the listener that
    requires one: the cell names the modem's reason from the trace, how often it happened,
    and the transcript line of the first time; the progress line says it too."""
    scn = tmp_path / "mutual.scn"
    scn.write_text("route 8883 @mutual\n")
    drv = ("/usr/bin/python3 %s {tty} --ca {ca} --host broker.modemsim.test --client-id c1 "
           "--topic t --message m --attempts 2 --backoff 1" % CORRECT)
    said = []
    c = conformance.run_cell(drv, "ec25", str(scn), str(tmp_path / "out"), timeout=60,
                             timing="fast", log=said.append)
    assert c["status"] == "fail", c["reasons"]
    cause = c["cause"]
    assert "client certificate required but none configured" in cause["text"], cause
    assert cause["text"].endswith("-> +QMTOPEN -1"), cause
    assert cause["count"] == 2 and cause["urc"] == "+QMTOPEN: 0,-1"
    recs = trace(str(tmp_path / "out"), c)
    first = [i for i, r in enumerate(recs, 1) if "client certificate required" in
             r.get("msg", "") and r["ev"] == "mqtt"][0]
    assert cause["line"] == first
    assert any(s.endswith("the modem says: %s (2 times)" % cause["text"]) for s in said), said


def test_unchecked_passes_are_flagged(tmp_path):
    """A driver that never talks to the modem, and a run with nothing expected at the broker,
    still pass (exit 0), but flagged: the summary says what was not checked."""
    out = str(tmp_path / "out")
    rep = conformance.run_matrix("true", out, ["ec25"], [None], timing="fast")
    c = rep["cells"][0]
    assert c["status"] == "pass"
    assert c["flags"] == [
        "no AT traffic: the driver never wrote to the modem",
        "no expectation: no --expect-topic, so nothing was checked at the broker, only the "
        "driver's exit status"]
    assert rep["flagged"] == 1
    assert conformance.summary_line(rep, out).startswith("1 passed (1 unchecked), 0 failed")
    c = conformance.run_cell("printf 'AT\\r' > {tty}; sleep 0.3", "ec25", None, out, "talks",
                             expect=[conformance.parse_expect("x/#")], timing="fast")
    assert c["status"] == "fail" and c["flags"] == []


def test_cell_names_do_not_repeat_the_model():
    cells = conformance.cells_of(["ec25", "m95"], [None, "a/ec25-slow-module.scn",
                                                   "b/ec25-slow-module.scn", "x/m95-y.scn"])
    assert [cid for cid, _, _ in cells] == [
        "ec25-baseline", "ec25-slow-module", "ec25-slow-module-2", "ec25-m95-y",
        "m95-baseline", "m95-ec25-slow-module", "m95-ec25-slow-module-2", "m95-y"]


def test_ctrl_c_stops_the_driver_and_writes_a_partial_report(driver, tmp_path):
    """SIGINT to the runner's process group (what Ctrl+C at a terminal does; the driver runs
    in a session of its own and does not get it): the driver's process group is stopped,
    the cells not run are listed, report.json and report.html are written, exit 130."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HARNESS, "conformance.py"), "--driver",
         driver("hang"), "--models", "ec25,m95", "--scenarios", "baseline", "--timing",
         "fast", "--timeout", "300", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, MODEMSIM_BIN=BINARY))
    stdout = out / "ec25-baseline" / "driver.stdout"
    def hanging():
        assert proc.poll() is None, proc.communicate()
        return stdout.exists() and stdout.read_text().startswith("driver hang")
    wait_for(hanging, 30, what="the driver to start hanging")
    os.killpg(proc.pid, signal.SIGINT)
    so, se = proc.communicate(timeout=30)
    assert proc.returncode == 130, so + se
    assert "conformance.py: interrupted: Ctrl+C in cell ec25-baseline: 1 of 2 cells not " \
           "run (m95-baseline)" in se, se
    assert so.splitlines()[-1].startswith("0 passed, 0 failed, 0 errors, 0 skipped, "
                                          "1 interrupted; report: "), so
    with open(out / "report.json") as f:
        rep = json.load(f)
    [c] = rep["cells"]
    assert c["status"] == "interrupted" and c["driver"]["interrupted"]
    assert c["reasons"][0].startswith("the run was interrupted (Ctrl+C): the driver was "
                                      "stopped after ")
    assert rep["interrupted"].startswith("Ctrl+C in cell ec25-baseline")
    assert (out / "report.html").exists()
    # The driver (python, the sh's child) is gone.
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        assert not (b"driver.py" in cmdline and str(out).encode() in cmdline and
                    b"hang" in cmdline), "driver %d still runs" % pid
