"""The pytest plugin's fixtures (harness/plugin.py): modem (model, scenario, timing and broker as
parameters; command and URC helpers with deadlines), control, broker and subscriber, used here
as any project would use them; and the complete example test of harness/README.md, run as
another project runs it (`PYTHONPATH=harness pytest -p plugin`).
"""
import os
import re
import subprocess
import sys
import time

import pytest

from modemsim import BINARY, ROOT, Timeout

HARNESS = os.path.join(ROOT, "harness")
REFUSES = os.path.join(ROOT, "scenarios", "broker-refuses-twice.scn")


@pytest.mark.parametrize("modem", ["ec25", "m95"], indirect=True)
def test_publish_reaches_the_subscriber(modem, subscriber, broker):
    """The modem fixture's connections go to the broker fixture: what it publishes is what
    the subscriber receives, byte for byte, and the broker's log names the client."""
    sub = subscriber("plugin/#")
    modem.mqtt_up(cid="plugin-" + modem.model)
    assert modem.prompt('AT+QMTPUB=0,1,1,0,"plugin/%s"' % modem.model).endswith(b"\r\n> ")
    r = modem.data(b"\x00\x01bin\xff")
    assert (r.lines, r.final) == (["\x00\x01bin\xff"], "OK")  # the payload is echoed (ATE1)
    modem.urc("+QMTPUB: 0,1,0")
    msg = sub.wait_for(lambda m: m.topic == "plugin/" + modem.model)
    assert (msg.payload, msg.qos) == (b"\x00\x01bin\xff", 1)
    assert "plugin-" + modem.model in broker.log()


def test_cmd_response_parts(modem):
    """A Response splits the echo, the information lines and the final result; ok() and
    error() check them; a wrong expectation is an assertion naming what came."""
    r = modem.ok("AT+CSQ", "+CSQ: 25,99")
    assert (r.echo, r.lines, r.final) == ("AT+CSQ\r", ["+CSQ: 25,99"], "OK")
    assert r.raw == b"AT+CSQ\r\r\n+CSQ: 25,99\r\n\r\nOK\r\n"
    modem.error("AT+NOSUCH")
    modem.error("AT+CPIN=1,2,3,4")
    with pytest.raises(AssertionError, match=r"lines \['\+CSQ: 25,99'\], expected"):
        modem.ok("AT+CSQ", "+CSQ: 31,0")
    modem.ok("ATE0")
    r = modem.ok("AT+CSQ")
    assert (r.echo, r.lines, r.raw) == (None, ["+CSQ: 25,99"], b"\r\n+CSQ: 25,99\r\n\r\nOK\r\n")


@pytest.mark.modem(model="m95")
def test_marker_and_control(modem, control):
    """@pytest.mark.modem picks the model; control statements apply at once."""
    assert modem.model == "m95"
    assert modem.ok("AT+CGMM").lines == ["Quectel_M95"]
    control.ok('on "AT+CSQ" error 3')
    modem.ok("AT+CMEE=1")
    modem.error("AT+CSQ", 3)
    assert control.query("modem", 0)["modems"][0]["model"] == "m95"


def test_urc_waits_keep_the_others(modem, control):
    """urc() returns the URC asked for and keeps those before it for later calls; one that
    never comes is a Timeout, at its deadline."""
    control.ok('at 10ms urc "+TEST: 1"')
    control.ok('at 20ms urc "+TEST: 2"')
    assert modem.urc("+TEST: 2") == "+TEST: 2"
    assert modem.urc(re.compile(r"TEST: \d")) == "+TEST: 1"
    assert modem.urcs[-2:] == ["+TEST: 1", "+TEST: 2"]
    t0 = time.monotonic()
    with pytest.raises(Timeout, match=r"no URC '\+TEST: 3' within 0.3 s"):
        modem.urc("+TEST: 3", timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 2
    modem.quiet(0.1)


@pytest.mark.parametrize("modem", [{"model": "ec25", "scenario": REFUSES,
                                    "args": ["--time-scale", "0.1"]}], indirect=True)
def test_scenario_parameter(modem):
    """A scenario applies from the start: the broker refuses twice, then accepts."""
    modem.ok("AT+QIACT=1")
    for want in ("+QMTOPEN: 0,-1", "+QMTOPEN: 0,-1", "+QMTOPEN: 0,0"):
        modem.ok('AT+QMTOPEN=0,"%s",1883' % modem.host)
        modem.urc(want)


@pytest.mark.modem(broker="embedded", timing="realistic")
def test_embedded_broker_and_realistic_timing(modem):
    """broker="embedded": modemsim's own broker (its faults need it); modem.subscriber
    watches it. Realistic timing: +QMTOPEN comes 0.2-1.5 s after OK (README)."""
    sub = modem.subscriber("emb/#")
    modem.mqtt_up(cid="plugin-emb")
    modem.prompt('AT+QMTPUB=0,0,0,0,"emb/x"')
    modem.data("e")
    assert sub.wait_for(lambda m: m.topic == "emb/x").payload == b"e"
    opens = [r["t"] for r in modem.trace() if r["ev"] in ("tx", "rx")
             and ("AT+QMTOPEN=" in r["bytes"] or "+QMTOPEN: 0,0" in r["bytes"])]
    assert len(opens) == 3  # TX, RX echo+OK, RX URC
    assert 0.15 <= opens[2] - opens[1] <= 2.0, opens


def test_modem_option_errors(request):
    """Unknown options are a usage error, not a silently ignored word."""
    import plugin

    class Req:
        node = request.node
        param = {"modle": "m95"}
    with pytest.raises(pytest.UsageError, match="unknown option"):
        plugin.modem_options(Req)
    Req.param = {"broker": "cloud"}
    with pytest.raises(pytest.UsageError, match="broker='cloud'"):
        plugin.modem_options(Req)
    Req.param = "m95"
    assert plugin.modem_options(Req)["model"] == "m95"


def readme_example():
    with open(os.path.join(HARNESS, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- example:begin -->\n```python\n(.*?)```\n<!-- example:end -->", text,
                  re.S)
    assert m, "harness/README.md has no example block"
    return m.group(1)


def test_readme_example_and_failure_report(tmp_path):
    """The README's example test passes when run as another project runs it; a failing test
    that used the modem names an HTML report of its run, which exists."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "test_example.py").write_text(readme_example())
    (proj / "test_fails.py").write_text(
        "def test_fails(modem):\n"
        "    modem.ok('AT+CSQ')\n"
        "    modem.ok('AT+QMTOPEN=0,\"x\",1883')\n"
        "    modem.urc('+QMTOPEN: 0,0', timeout=0.5)\n")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "plugin", "-p", "no:cacheprovider", "-q",
         "--basetemp", str(tmp_path / "base")],
        cwd=str(proj), capture_output=True, text=True, timeout=80,
        env=dict(os.environ, PYTHONPATH=HARNESS, MODEMSIM_BIN=BINARY))
    text = res.stdout + res.stderr
    n = len(re.findall(r"^def test_", readme_example(), re.M))
    m = re.search(r"^=* ?1 failed, (\d+) passed in [\d.]+s ?=*$", text, re.M)
    assert m and int(m.group(1)) >= n, text  # parametrized tests count once per case
    assert "FAILED test_fails.py::test_fails" in text
    m = re.search(r"^ec25: report (\S+/report\.html), transcript (\S+)$", text, re.M)
    assert m, text
    with open(m.group(1)) as f:
        html = f.read()
    assert "AT+QMTOPEN=0,&quot;x&quot;,1883" in html
    assert os.path.isfile(m.group(2))


def test_failing_ok_says_why(modem):
    """A modem.ok() that gets no OK says why in its assertion message: the modem's reason
    for that command, from the trace."""
    with pytest.raises(AssertionError) as e:
        modem.ok('AT+QMTPUB=0,0,0,0,"t"')
    assert str(e.value) == ("AT+QMTPUB=0,0,0,0,\"t\": <Response [] 'ERROR'>; the modem says: "
                            "client 0 is idle, not connected (ERROR)")
    modem.ok("AT+CMEE=2")
    with pytest.raises(AssertionError) as e:
        modem.ok('AT+QFDEL="UFS:nothing.pem"')
    assert str(e.value).endswith("; the modem says: no file UFS:nothing.pem (+CME ERROR: "
                                 "fail to delete the file)"), str(e.value)
    with pytest.raises(AssertionError) as e:
        modem.ok("AT+CSQ", "+CSQ: 1,1")  # answered OK: the lines differ, no reason to give
    assert "the modem says" not in str(e.value)
