"""The SIMCom example driver (harness/examples/simcom_mqtt_tls.py) against modemsim, run as a
user runs it: exit 0 and every message at a subscriber of the broker on each SIMCom model and
through every bundled SIMCom scenario it can survive; a clear reason and exit 1, without a
retry storm, where no driver can succeed (the AWS policy close, a CA that does not match the
server). In every run the module judges the host and finds nothing.
"""
import os
import re

import pytest

from test_examples import (SCALE, SCENARIOS, assert_delivered, describe, findings, run,
                           statements, Watcher)
from test_simcom_scenarios import AZURE_HOST, AZURE_SAS, AZURE_USER, AzureLike

from modemsim import ROOT

DRIVER = os.path.join(ROOT, "harness", "examples", "simcom_mqtt_tls.py")
HOST = "broker.modemsim.test"
MODELS = ("sim7600", "a7670", "sim7670g")

# What the driver does in each bundled SIMCom scenario: "pass" (the default): exit 0, the
# messages at the broker; "fail": exit 1 with this reason on stderr.
PLAN = {
    "sim7600-busy-after-connect.scn": {"args": ["--count", "2", "--subscribe", "ex/busy"]},
    "sim7600-topic-no-connection.scn": {},  # with the client certificate it connects
    "sim7670g-azure-sni-mqtt311.scn": {},
    "sim7670g-cmqttstart-after-cchstart.scn": {},
    "sim7600-old-firmware-sslversion.scn": {},
    "sim7600-aws-policy-closes.scn": {
        "args": ["--attempts", "3"],
        "fail": r"giving up after 3 attempts: \+CMQTTCONNECT: 0,26 \(connection closed"},
    "sim7600-aws-untrusted-ca.scn": {
        "args": ["--attempts", "3"],
        "fail": r"giving up after 3 attempts: \+CMQTTCONNECT: 0,32 \(TLS handshake"},
    "a7670-aws-untrusted-ca.scn": {
        "args": ["--attempts", "3"],
        "fail": r"giving up after 3 attempts: \+CMQTTCONNECT: 0,34 \(TLS session"},
}


def simcom_scenarios():
    """PLAN's files, then every other scenarios/*.scn for a SIMCom model (expected to pass)."""
    names = list(PLAN)
    for f in sorted(os.listdir(SCENARIOS)):
        if f.endswith(".scn") and f not in names:
            model = scenario_model(f)
            if model in MODELS:
                names.append(f)
    return names


def scenario_model(name):
    stmts = statements(os.path.join(SCENARIOS, name))
    return next((s.split()[1] for s in stmts if s.startswith("model ")), None)


def driver_args(sim, topic, mutual=False, client_id="simcom-example", extra=()):
    certs = os.path.dirname(sim.broker["ca"])
    argv = [sim.path(), "--ca", sim.broker["ca"], "--host", HOST, "--port", "8883",
            "--client-id", client_id, "--topic", topic, "--message", "reading {n}",
            "--timeout", "90"]
    if mutual:
        argv += ["--cert", os.path.join(certs, "client-rsa.pem"),
                 "--key", os.path.join(certs, "client-rsa.key")]
    return argv + list(extra)


def drive(sim, argv, topic, count):
    w = Watcher(sim, topic)
    try:
        p = run(DRIVER, argv, 100)
        want = [b"reading %d" % n for n in range(1, count + 1)]
        missing = w.missing(want) if p.returncode == 0 else []
    finally:
        w.close()
    return p, findings(sim), missing


@pytest.mark.parametrize("model", MODELS)
def test_simcom_driver_plain_modem_mutual_tls_and_receive(modemsim, model):
    """Seed 003's flow on a modem as shipped, with a client certificate through the listener
    that requires one, subscribed to its own topic: both messages at the broker and back at
    the host as receive blocks; exit 0; no finding."""
    sim = modemsim("--route", "8883=@mutual", model=model, timing="fast")
    topic = "ex/%s" % model
    argv = driver_args(sim, topic, mutual=True, extra=[
        "--subscribe", topic, "--receive", "2", "--count", "2"])
    p, found, missing = drive(sim, argv, topic, 2)
    assert_delivered(p, found, missing, 2)
    assert "received %s: reading 1" % topic in p.out, describe(p, found)
    text = sim.transcript().decode(errors="replace")
    for line in ('AT+CCERTDOWN="cacert.pem",', 'AT+CCERTDOWN="clientcert.pem",',
                 'AT+CCERTDOWN="clientkey.pem",', 'AT+CSSLCFG="enableSNI",0,1', "AT+NETOPEN",
                 "AT+CMQTTSTART", "AT+CMQTTSSLCFG=0,0", "AT+CMQTTDISC=0,", "AT+CMQTTREL=0",
                 "AT+CMQTTSTOP", "AT+NETCLOSE"):
        assert line in text, line
    if model == "sim7600":
        assert 'AT+CMQTTACCQ=0,"simcom-example",1,4' in text
        assert 'AT+CMQTTCONNECT=0,"tcp://%s:8883"' % HOST in text
    else:
        assert 'AT+CMQTTCFG="version",0,4' in text
        assert 'AT+CMQTTCONNECT=0,"ssl://%s:8883"' % HOST in text


def test_simcom_driver_with_the_a76xx_prompt_echo(modemsim):
    """A76XX firmware that echoes the data of a prompt (ref §1.4; revision ...-ECHO): the
    echo is not the result, even when the payload is "OK"."""
    sim = modemsim("--revision", "A011B07A7670M7_F-ECHO", model="a7670", timing="fast")
    argv = driver_args(sim, "ex/echo")
    argv[argv.index("--message") + 1] = "OK"
    w = Watcher(sim, "ex/echo")
    try:
        p = run(DRIVER, argv, 100)
        missing = w.missing([b"OK"]) if p.returncode == 0 else []
    finally:
        w.close()
    found = findings(sim)
    assert_delivered(p, found, missing, 1)


@pytest.mark.parametrize("case", simcom_scenarios())
def test_simcom_driver_in_scenario(modemsim, case):
    plan = PLAN.get(case, {})
    path = os.path.join(SCENARIOS, case)
    if not os.path.exists(path):
        pytest.skip("scenarios/%s does not exist (yet)" % case)
    stmts = statements(path)
    model = scenario_model(case)
    sim = modemsim("--scenario", path, "--time-scale", SCALE, model=model, timing="fast")
    topic = "ex/" + re.sub(r"\W", "-", case)
    extra = list(plan.get("args", ()))
    if "--subscribe" in extra:
        extra[extra.index("--subscribe") + 1] = topic
    argv = driver_args(sim, topic, any("@mutual" in s for s in stmts), extra=extra)
    count = int(dict(zip(argv, argv[1:])).get("--count", 1))
    p, found, missing = drive(sim, argv, topic, count)
    if "fail" not in plan:
        assert_delivered(p, found, missing, count)
        return
    assert p.returncode == 1, describe(p, found)
    assert re.search(plan["fail"], p.err), describe(p, found)
    assert len(p.err.strip().splitlines()) == 1, describe(p, found)
    assert found == [], describe(p, found)


def test_simcom_driver_stops_cch_that_holds_the_stack(modemsim):
    """Seed 002: the CCH SSL service was started (by another part of the firmware), so
    AT+CMQTTSTART answers ERROR; the driver stops CCH and starts the MQTT service."""
    path = os.path.join(SCENARIOS, "sim7670g-cmqttstart-after-cchstart.scn")
    sim = modemsim("--scenario", path, model="sim7670g", timing="fast")
    t = sim.open()
    assert t.cmd("AT+CCHSTART") == b"AT+CCHSTART\r\r\nOK\r\n"
    t.expect(b"\r\n+CCHSTART: 0\r\n")
    p, found, missing = drive(sim, driver_args(sim, "ex/cch"), "ex/cch", 1)
    assert_delivered(p, found, missing, 1)
    assert "stopping the CCH service first" in p.out, describe(p, found)


def test_simcom_driver_against_an_azure_like_broker(modemsim, pki):
    """Seed 002's endpoint: a broker that needs SNI and MQTT 3.1.1 (the fake broker of
    test_simcom_scenarios.py) and a user name and SAS password: the driver's settings
    (enableSNI, version 4) connect at once, and the message is acknowledged."""
    fb = AzureLike(pki).start()
    try:
        sim = modemsim("--scenario", os.path.join(SCENARIOS, "sim7670g-azure-sni-mqtt311.scn"),
                       "--broker", "none", "--resolve", "*=127.0.0.1",
                       "--route", "8883=127.0.0.1:%d" % fb.port, model="sim7670g",
                       timing="fast")
        sim.open(boot=False)
        argv = [sim.path(), "--ca", pki["ca.pem"], "--host", AZURE_HOST, "--client-id",
                "DEVICE", "--username", AZURE_USER, "--password", AZURE_SAS, "--topic",
                "devices/DEVICE/messages/events/", "--message", "reading {n}", "--timeout",
                "60"]
        p = run(DRIVER, argv, 90)
        found = findings(sim)
        assert p.returncode == 0, describe(p, found)
        assert found == [], describe(p, found)
        assert fb.server_names == [AZURE_HOST], fb.server_names
        pubs = [x for x in fb.packets if x.topic == "devices/DEVICE/messages/events/"]
        assert [x.payload for x in pubs] == [b"reading 1"]
    finally:
        fb.stop()


def test_simcom_driver_bad_usage(tmp_path):
    base = [str(tmp_path / "nope"), "--ca", "x", "--host", "h", "--client-id", "c", "--topic",
            "t", "--message", "m"]
    p = run(DRIVER, base + ["--username", "u"], 20)
    assert p.returncode == 2 and "--username and --password go together" in p.err
    p = run(DRIVER, base, 20)
    assert p.returncode == 1 and "cannot open" in p.err


def test_conformance_runner_takes_the_simcom_models(tmp_path):
    """harness/conformance.py with this driver over the three SIMCom models, the modem as
    shipped and the seed 003 busy scenario: every cell for a SIMCom model passes (the busy
    one is the SIM7600's: skipped on the others), with no finding."""
    import json
    import subprocess
    import sys
    from modemsim import BINARY
    out = str(tmp_path / "out")
    cmd = ("/usr/bin/python3 %s {tty} --ca {ca} --cert {cert} --key {key} --host %s "
           "--client-id conf-{model} --topic conf/{model} --message hello --timeout 50"
           % (DRIVER, HOST))
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "harness", "conformance.py"), "--driver", cmd,
         "--models", ",".join(MODELS), "--scenarios", "baseline",
         os.path.join(SCENARIOS, "sim7600-busy-after-connect.scn"),
         "--expect-topic", "conf/+=~^hello$", "--timing", "fast",
         "--modemsim-arg=--time-scale=0.1", "--out", out],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, MODEMSIM_BIN=BINARY))
    assert res.returncode == 0, res.stdout + res.stderr
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["summary"] == {"pass": 4, "fail": 0, "error": 0, "skip": 2}, res.stdout
    for c in rep["cells"]:
        if c["status"] == "pass":
            assert c["findings"] == [], c


@pytest.mark.parametrize("model", ["sim7600", "a7670"])
def test_simcom_driver_takes_over_from_a_run_that_died(modemsim, model):
    """A previous run left the network open, the service started and client 0 connected:
    the driver disconnects and releases it ("already opened", START's 23 or bare ERROR), then
    runs as usual, without a finding."""
    sim = modemsim(model=model, timing="fast")
    t = sim.open()
    assert t.cmd("ATE0").endswith(b"OK\r\n")
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    t.expect(b"\r\n+NETOPEN: 0\r\n")
    t.write(b"AT+CMQTTSTART\r")
    out = t.read_until(b"+CMQTTSTART: 0\r\n")
    if b"OK" not in out:
        t.expect(b"\r\nOK\r\n")
    assert t.cmd('AT+CMQTTACCQ=0,"old"') == b"\r\nOK\r\n"
    assert t.cmd('AT+CMQTTCONNECT=0,"tcp://%s:1883",60,1' % HOST) == b"\r\nOK\r\n"
    t.expect(b"\r\n+CMQTTCONNECT: 0,0\r\n", 10)
    p, found, missing = drive(sim, driver_args(sim, "ex/again"), "ex/again", 1)
    assert_delivered(p, found, missing, 1)
    text = sim.transcript().decode(errors="replace")
    assert text.count("AT+CMQTTREL=0") == 2, text
