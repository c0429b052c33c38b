"""The bundled scenarios (scenarios/*.scn), each run as its header tells: the host plays what
the field report's host did, and sees what the field report shows (the bytes on the tty, the
cause in the trace, the messages at the broker). Where the header says how a correct driver
recovers, the test recovers that way, against the same scenario.

Also: every bundled file passes `modemsim --check`, and every fault of the README's table can
be fired from a scenario file (not only from the control socket).

Durations run under --time-scale where the story allows it: the scenario's times, the faults'
durations and the module's protocol timers (pkt_timeout, keepalive, negotiatetime) shrink,
the broker keeps real time (scenarios/README.md, "Time").
"""
import functools
import os
import subprocess
import time

import pytest

from modemsim import BINARY, ROOT
from modemsim_harness import at
from control import wait_for
from modemsim_harness.at import b, check, check_ok, ok, pause, pdp_up, qmtconn, qmtopen, quiet, urc

SCENARIOS = os.path.join(ROOT, "scenarios")

# seed 000, first report: the endpoint and the module's identity
AWS_HOST = "a1gfgsfcsg3p4-ats.iot.us-east-1.amazonaws.com"
HOST = "broker.modemsim.test"
# AT+QFUPL as the field log's host sends it: timeout 100
upload = functools.partial(at.upload, timeout=100)


# ---------------------------------------------------------------- helpers


def read(path):
    with open(path, "rb") as f:
        return f.read()


def scenario(name):
    return os.path.join(SCENARIOS, name)


def wait_trace(sim, text, timeout=5.0, kinds=("tls", "net", "fault", "mqtt")):
    """Poll the trace file (never the tty) until text is in it."""
    wait_for(lambda: text in sim.trace_text(kinds), timeout,
             what=lambda: "no %r in the trace:\n%s" % (text, sim.trace_text(kinds)))


def start(modemsim, name, *extra, model="ec25"):
    """modemsim running the bundled scenario `name`; (sim, tty with its boot read)."""
    sim = modemsim("--scenario", scenario(name), *extra, model=model)
    t = sim.open()
    t.sim = sim
    return sim, t


def pki_file(sim, name):
    return read(os.path.join(os.path.dirname(sim.broker["ca"]), name))


def aws_provision(t, ca, ca_declared=None):
    """The first report's provisioning, command for command (seed 000), with the embedded
    PKI's files in place of AWS's: the CA (maybe with a wrong declared size), the client key
    and certificate; the context; SSL context 2 as the report sets it."""
    sim = t.sim
    check_ok(t, 'AT+QFDEL="*"')
    upload(t, "RAM:cacert.pem", ca, ca_declared)
    if ca_declared is not None and ca_declared < len(ca):
        # the rest of the certificate is read as command lines: echoed (the LF after the CR
        # swallowed), and not being AT commands, answered ERROR
        tail = ca[ca_declared:]
        t.expect(b"".join(l + b"\r\r\nERROR\r\n" for l in tail.split(b"\r\n") if l))
        quiet(t)
    upload(t, "RAM:user_key.pem", pki_file(sim, "client-rsa.key"))
    upload(t, "RAM:client.pem", pki_file(sim, "client-rsa.pem"))
    check(t, "AT+QIACT?", ok("AT+QIACT?"))
    check_ok(t, "AT+QIACT=1")
    for line in ('AT+QMTCFG="SSL",0,1,2', 'AT+QSSLCFG="clientcert",2,"RAM:client.pem"',
                 'AT+QSSLCFG="clientkey",2,"RAM:user_key.pem"',
                 'AT+QSSLCFG="cacert",2,"RAM:cacert.pem"', 'AT+QSSLCFG="seclevel",2,2',
                 'AT+QSSLCFG="sslversion",2,4', 'AT+QSSLCFG="ciphersuite",2,0xFFFF',
                 'AT+QSSLCFG="ignorelocaltime",2,1'):
        check_ok(t, line)
    check(t, "AT+QMTOPEN?", ok("AT+QMTOPEN?"))


def publish(t, idx, msgid, qos, topic, payload):
    """AT+QMTPUB in prompt mode up to its OK (echo on, Ctrl+Z ends the payload)."""
    line = 'AT+QMTPUB=%d,%d,%d,0,"%s"' % (idx, msgid, qos, topic)
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\n> ")
    t.write(b(payload) + b"\x1a")
    t.expect(b(payload) + b"\r\nOK\r\n")


# ---------------------------------------------------------------- every file is valid


def bundled():
    return sorted(f for f in os.listdir(SCENARIOS) if f.endswith(".scn"))


@pytest.mark.parametrize("name", bundled())
def test_bundled_file_passes_check(name):
    """Every bundled file passes --check, with the model it names (if any)."""
    path = scenario(name)
    r = subprocess.run([BINARY, "--check", path], capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert r.stdout.startswith("%s: ok (" % path)
    with open(path) as f:
        text = f.read()
    # a story first: the header comment
    assert text.startswith("# "), "%s has no header comment" % name
    for model in ("ec25", "m95"):
        if "\nmodel %s\n" % model in "\n" + text:
            r = subprocess.run([BINARY, "--model", model, "--check", path],
                               capture_output=True, text=True, timeout=20)
            assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- EC25 + AWS IoT (seed 000)


def test_aws_ca_size_mismatch(modemsim):
    """The CA kept with CR LF line ends, uploaded with its LF size: the module stores it cut
    short, AT+QMTOPEN answers OK and then +QMTOPEN: 0,-1, and the trace says why. Then the
    recovery the header describes: delete, upload again with the size of what is sent, and
    the production endpoint opens and connects."""
    sim, t = start(modemsim, "ec25-aws-ca-size-mismatch.scn")
    # the field log's identity answers
    check(t, "AT+GMR", ok("AT+GMR", "EC25AFFAR07A08M4G"))
    check(t, "AT+GSN", ok("AT+GSN", "866834041644845"))
    check(t, "AT+COPS?", ok("AT+COPS?", '+COPS: 0,0,"T-Mobile",7'))
    lf = read(sim.broker["ca"])
    assert b"\r\n" not in lf
    crlf = lf.replace(b"\n", b"\r\n")
    aws_provision(t, crlf, ca_declared=len(lf))
    qmtopen(t, 0, AWS_HOST, 8883, -1)
    text = sim.trace_text(("tls",))
    cause = "CA certificate RAM:cacert.pem: PEM parse error: data truncated (no END line)"
    assert cause in text, text
    quiet(t)
    # the correct driver: the +QFUPL checksum was not that of what it sent; delete and
    # upload again with the true size
    check_ok(t, 'AT+QFDEL="RAM:cacert.pem"')
    upload(t, "RAM:cacert.pem", crlf)
    qmtopen(t, 0, AWS_HOST, 8883, 0)
    text = sim.trace_text()
    # AWS IoT asks for the client certificate: the listener that requires one took it
    assert "-> 127.0.0.1:%d (route for port 8883)" % sim.broker["mutual"] in text
    assert "handshake done" in text
    qmtconn(t, 0, "clientexample")
    check(t, "AT+QMTCONN?", ok("AT+QMTCONN?", "+QMTCONN: 0,3"))


@pytest.mark.parametrize("how", ["fault", "other-ca"])
def test_aws_untrusted_ca(modemsim, how):
    """A CA that is whole but did not sign the server's certificate: +QMTOPEN: 0,-1 and
    "unknown CA" in the trace. fault: the bundled file makes the broker present a
    certificate of another CA while the host uploads the right one; other-ca: the
    production-names file, and the host uploads the other CA itself."""
    if how == "fault":
        sim, t = start(modemsim, "ec25-aws-untrusted-ca.scn")
        ca = read(sim.broker["ca"])
        want = "goes to a TLS server with a certificate from an unknown CA (fault)"
    else:
        sim, t = start(modemsim, "ec25-aws-ca-size-mismatch.scn")
        ca = pki_file(sim, "other-ca.pem")
        want = "route 127.0.0.1:8883 -> 127.0.0.1:%d" % sim.broker["mutual"]
    aws_provision(t, ca)
    for _ in range(2):  # retrying changes nothing
        qmtopen(t, 0, AWS_HOST, 8883, -1)
    text = sim.trace_text()
    assert "server certificate not trusted: unknown CA" in text, text
    assert want in text, text
    assert "handshake done" not in text
    quiet(t)


def test_aws_policy_closes_after_connect(modemsim, sim_subscriber):
    """Seed 000's second report, byte for byte: +QMTOPEN: 2,0, then AT+QMTCONN=2,
    "Rak_Wisblock_Mqtt" answers OK and +QMTSTAT: 2,1, no +QMTCONN. The CONNECT really went
    out on the TLS connection before the link ended. The same id fails again; the client id
    the policy allows connects, and its publish reaches the broker."""
    sim, t = start(modemsim, "ec25-aws-policy-closes.scn")
    w = sim_subscriber(sim, "dt/wisblock/#")
    aws_provision(t, read(sim.broker["ca"]))
    check_ok(t, 'AT+QMTCFG="SSL",2,1,2')
    for _ in range(2):
        qmtopen(t, 2, AWS_HOST, 8883, 0)
        check_ok(t, 'AT+QMTCONN=2,"Rak_Wisblock_Mqtt"')
        urc(t, "+QMTSTAT: 2,1")
        quiet(t)
        check(t, "AT+QMTCONN?", ok("AT+QMTCONN?"))
        check(t, "AT+QMTOPEN?", ok("AT+QMTOPEN?"))
    text = sim.trace_text()
    assert text.count('client 2 ==> CONNECT client id "Rak_Wisblock_Mqtt"') == 2, text
    assert text.count("fault link.reset fired") == 2, text
    assert "CONNACK" not in text, text
    # recovery: the allowed id on the same endpoint
    qmtopen(t, 2, AWS_HOST, 8883, 0)
    qmtconn(t, 2, "clientexample")
    publish(t, 2, 1, 1, "dt/wisblock/state", "online")
    urc(t, "+QMTPUB: 2,1,0")
    assert w.wait_for(lambda m: m.topic == "dt/wisblock/state").payload == b"online"
    quiet(t)


# ---------------------------------------------------------------- +QMTOPEN: <id>,1 / ,3 / ,4


def test_qmtopen_param_pdp_dns(modemsim):
    """,1 from an empty host name (the module's own check); ,3 after the network dropped the
    context the host had just activated; ,4 while DNS fails after the (re)activation; then
    0 once DNS is back (20 s at --time-scale 0.05: 1 s)."""
    sim, t = start(modemsim, "ec25-qmtopen-param-pdp-dns.scn", "--time-scale", "0.05")
    qmtopen(t, 0, "", 1883, 1)
    check_ok(t, "AT+QIACT=1")
    urc(t, '+QIURC: "pdpdeact",1')
    check(t, "AT+QIACT?", ok("AT+QIACT?"))
    qmtopen(t, 0, HOST, 1883, 3)
    # the correct driver activates again, then opens
    check_ok(t, "AT+QIACT=1")
    t0 = time.monotonic()
    qmtopen(t, 0, HOST, 1883, 4)
    assert "%s: not resolved" % HOST in sim.trace_text(("net",))
    # ... and retries with a back-off until the name resolves
    results = []
    while True:
        assert time.monotonic() - t0 < 5, results
        pause(0.2)  # the driver's back-off (the stimulus), not a reply wait
        line = 'AT+QMTOPEN=0,"%s",1883' % HOST
        check_ok(t, line)
        got = t.read_until(b"\r\n", timeout=5) + t.read_until(b"\r\n", timeout=5)
        results.append(got)
        if got == b"\r\n+QMTOPEN: 0,0\r\n":
            break
        assert got == b"\r\n+QMTOPEN: 0,4\r\n", got
    assert time.monotonic() - t0 >= 0.9
    qmtconn(t, 0, "after-dns")
    assert t.cmd("AT+QIACT?").startswith(b'AT+QIACT?\r\r\n+QIACT: 1,1,1,"')
    assert [f for f in sim.trace_text(("fault",)).splitlines() if "fired" in f] == [
        'fault dns.fail fired name "*" for 20s', "fault pdp.deact fired cid 1",
        'fault dns.fail fired name "*" for 20s']


# ---------------------------------------------------------------- keepalive, broker restart


def test_keepalive_blackhole(modemsim, sim_subscriber):
    """keepalive 10 s, pkt_timeout 5 s at --time-scale 0.1: the blackhole starts 0.5 s after
    CONNACK; the PINGREQ 1 s after the last packet goes nowhere; +QMTPING: 0,1 0.5 s later,
    then +QMTSTAT: 0,2. The message published to the client meanwhile never arrives. The
    recovery: the context again, reopen, reconnect, resubscribe: messages arrive."""
    sim, t = start(modemsim, "keepalive-blackhole.scn", "--time-scale", "0.1")
    w = sim_subscriber(sim)
    check_ok(t, "AT+QIACT=1")
    check_ok(t, 'AT+QMTCFG="keepalive",0,10')
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "ka-dev")
    t0 = time.monotonic()
    check_ok(t, 'AT+QMTSUB=0,1,"ka/in",1')
    urc(t, "+QMTSUB: 0,1,0,1")
    wait_trace(sim, "fault link.blackhole fired")
    assert "traffic stopped both ways (fault)" in sim.trace_text(("net",))
    w.publish("ka/in", b"lost", qos=1)
    urc(t, "+QMTPING: 0,1", timeout=5)
    # the keepalive (1 s) and the PINGRESP wait (0.5 s) from the last packet out, the
    # SUBSCRIBE sent after t0
    assert time.monotonic() - t0 >= 1.45
    urc(t, "+QMTSTAT: 0,2")
    quiet(t)
    check(t, "AT+QMTCONN?", ok("AT+QMTCONN?"))
    text = sim.trace_text(("mqtt",))
    assert "client 0 ==> PINGREQ" in text and "<== PINGRESP" not in text
    assert "link lost (PINGRESP not received): +QMTSTAT 2" in text
    # the reference's recovery for 2: re-activate the context, reopen, reconnect
    check_ok(t, "AT+QIDEACT=1")
    check_ok(t, "AT+QIACT=1")
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "ka-dev")
    check_ok(t, 'AT+QMTSUB=0,2,"ka/in",1')
    urc(t, "+QMTSUB: 0,2,0,1")
    w.publish("ka/in", b"back", qos=0)
    urc(t, '+QMTRECV: 0,0,"ka/in","back"')
    quiet(t)


def test_broker_restart_then_reconnect(modemsim, sim_subscriber):
    """10 s after CONNACK (0.5 s at --time-scale 0.05) the real mosquitto restarts:
    +QMTSTAT: 0,1 and the client is closed. The driver reopens (retrying while the broker is
    not listening yet), reconnects, and its publish reaches the restarted broker."""
    sim, t = start(modemsim, "broker-restart.scn", "--time-scale", "0.05")
    check_ok(t, "AT+QIACT=1")
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "restart-dev")
    t0 = time.monotonic()
    urc(t, "+QMTSTAT: 0,1", timeout=10)
    assert time.monotonic() - t0 >= 0.4
    quiet(t, 0.1)
    check(t, "AT+QMTCONN?", ok("AT+QMTCONN?"))
    assert "fault broker.restart fired" in sim.trace_text(("fault",))
    line = 'AT+QMTOPEN=0,"%s",1883' % HOST
    deadline = time.monotonic() + 10
    while True:
        check_ok(t, line)
        got = t.read_until(b"\r\n", timeout=5) + t.read_until(b"\r\n", timeout=5)
        if got == b"\r\n+QMTOPEN: 0,0\r\n":
            break
        # while mosquitto is down, a real refusal
        assert got == b"\r\n+QMTOPEN: 0,-1\r\n", got
        assert "failed: connection refused" in sim.trace_text(("mqtt",))
        assert time.monotonic() < deadline, "the broker did not come back"
        pause(0.1)  # the driver's back-off (the stimulus), not a reply wait
    qmtconn(t, 0, "restart-dev")
    # a client of the restarted broker sees what the module publishes now
    w = sim_subscriber(sim, "rs/#")
    publish(t, 0, 1, 1, "rs/state", "back")
    urc(t, "+QMTPUB: 0,1,0")
    assert w.wait_for(lambda m: m.topic == "rs/state").payload == b"back"
    quiet(t)


# ---------------------------------------------------------------- M95 in-flight window


@pytest.mark.parametrize("cmee,refusal", [(1, b"+CME ERROR: 8512"), (0, b"ERROR")])
def test_m95_inflight_window(modemsim, sim_subscriber, cmee, refusal):
    """Five QoS 1 publishes whose PUBACKs are lost stay in flight: the sixth is refused
    before its prompt (M95 MQTT AN 3.2.8 note 1). pkt_timeout 5 s at --time-scale 0.2 (1 s,
    time enough for six publishes even under a sanitizer): the retransmissions
    (+QMTPUB: 0,<n>,1,1 with timeout_notice 1) are acknowledged, and the sixth, sent
    again, goes through. The broker got every message."""
    sim, t = start(modemsim, "m95-inflight-window.scn", "--time-scale", "0.2", model="m95")
    w = sim_subscriber(sim, "win/#")
    check_ok(t, "AT+CMEE=%d" % cmee)
    pdp_up(t)
    check_ok(t, 'AT+QMTCFG="timeout",0,5,3,1')
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "m95-window")
    wait_trace(sim, "fault mqtt.noack fired count 5")
    for n in range(1, 6):
        publish(t, 0, n, 1, "win/%d" % n, "m%d" % n)
    line = b'AT+QMTPUB=0,6,1,0,"win/6"'
    check(t, line, line + b"\r\r\n" + refusal + b"\r\n")
    # each lost PUBACK: a retransmission after pkt_timeout, acknowledged (any order
    # between messages, in order for each)
    got = [t.read_until(b"\r\n", timeout=5) + t.read_until(b"\r\n", timeout=5)
           for _ in range(10)]
    for n in range(1, 6):
        mine = [u for u in got if u.startswith(b"\r\n+QMTPUB: 0,%d," % n)]
        assert mine == [b"\r\n+QMTPUB: 0,%d,1,1\r\n" % n, b"\r\n+QMTPUB: 0,%d,0\r\n" % n], got
    publish(t, 0, 6, 1, "win/6", "m6")
    urc(t, "+QMTPUB: 0,6,0")
    for n in range(1, 7):
        assert w.wait_for(lambda m, n=n: m.topic == "win/%d" % n).payload == b"m%d" % n
    assert sim.trace_text(("fault",)).count("dropped (mqtt.noack)") == 5
    quiet(t)


# ---------------------------------------------------------------- slow module


def io_at(sim, ev, data, after=None):
    """The first tx/rx chunk holding data in the trace (after the chunk `after`, itself a
    result of io_at): (its position, its time on the module's clock). Timing seen from the
    module, not from a host that may be scheduled late."""
    start = after[0] + 1 if after else 0
    for i, e in enumerate(sim.trace()[start:], start):
        if e.get("ev") == ev and data in e["bytes"]:
            return i, e["t"]
    raise AssertionError("no %s %r in the trace" % (ev, data))


def test_slow_module_answers_3s_late(modemsim):
    """latency command 3s at --time-scale 0.1: each answer 0.3 s after its command, the echo
    at once; commands typed together answered in order, 0.3 s apart; a bare AT at once.
    Upper bounds are read from the trace's clock (the module's), lower bounds also from
    the host's."""
    sim, t = start(modemsim, "ec25-slow-module.scn", "--time-scale", "0.1")
    check(t, "AT", ok("AT"))
    sent = io_at(sim, "tx", "AT\r")
    assert io_at(sim, "rx", "AT\r\r\nOK\r\n", sent)[1] - sent[1] < 0.1
    t0 = time.monotonic()
    t.write(b"AT+GMR\r")
    t.expect(b"AT+GMR\r", timeout=1)
    t.expect(b"\r\nEC25AFFAR07A08M4G\r\n\r\nOK\r\n", timeout=2)
    assert time.monotonic() - t0 >= 0.29
    sent = io_at(sim, "tx", "AT+GMR\r")
    assert io_at(sim, "rx", "AT+GMR\r", sent)[1] - sent[1] < 0.1
    assert io_at(sim, "rx", "OK", sent)[1] - sent[1] >= 0.29
    # the field log's commands, typed at once: answered in order, 0.3 s apart
    lines = ['AT+QMTCFG="SSL",0,1,2', 'AT+QSSLCFG="seclevel",2,2', 'AT+QSSLCFG="sslversion",2,4']
    t0 = time.monotonic()
    t.write(b"".join(b(l) + b"\r" for l in lines))
    for l in lines:
        t.expect(ok(l), timeout=3)
    assert time.monotonic() - t0 >= 0.87
    done = [e["t"] for e in sim.trace() if e.get("ev") == "cmd" and
            e["cmd"] in ('+QMTCFG="SSL",0,1,2', '+QSSLCFG="seclevel",2,2',
                         '+QSSLCFG="sslversion",2,4')]
    assert len(done) == 3, sim.trace()
    for a, c in zip(done, done[1:]):
        assert c - a >= 0.28, done
    quiet(t)


# ---------------------------------------------------------------- every fault, from a file

# When the fault fires: `at 200ms` from the start, or 200 ms after something it needs (a
# link fault acts on the modem's connections and is refused without one; pdp.deact on an
# active context): the same `fault` statement in a file either way.
AT = "at 200ms"
CONNECTED = "after mqtt-connected delay 200ms"
ACTIVATED = 'after command "AT+QIACT=1" delay 200ms'


def setup_conn(sim, t):
    check_ok(t, "AT+QIACT=1")
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "fault-dev")


def setup_sub(sim, t):
    setup_conn(sim, t)
    check_ok(t, 'AT+QMTSUB=0,1,"f/in",0')
    urc(t, "+QMTSUB: 0,1,0,0")


def setup_tls(seclevel):
    def setup(sim, t):
        upload(t, "RAM:ca.pem", read(sim.broker["ca"]))
        check_ok(t, "AT+QIACT=1")
        # ignorelocaltime 0: the EC25's default 1 would not look at the validity dates
        for line in ('AT+QSSLCFG="seclevel",2,%d' % seclevel,
                     'AT+QSSLCFG="cacert",2,"RAM:ca.pem"', 'AT+QSSLCFG="ignorelocaltime",2,0',
                     'AT+QMTCFG="ssl",0,1,2'):
            check_ok(t, line)
    return setup


def setup_pdp(sim, t):
    check_ok(t, "AT+QIACT=1")


def effect_stat1(sim, t, w):
    urc(t, "+QMTSTAT: 0,1", timeout=10)


def effect_trace(text):
    def effect(sim, t, w):
        wait_trace(sim, text)
    return effect


def effect_corrupt(sim, t, w):
    w.publish("f/in", b"x", qos=0)
    urc(t, "+QMTSTAT: 0,1")
    assert "inverted (fault)" in sim.trace_text(("net",))


def effect_open(port, result, cause=None):
    def effect(sim, t, w):
        qmtopen(t, 0, HOST, port, result)
        if cause:
            assert cause in sim.trace_text(), sim.trace_text()
    return effect


def effect_deregistered(sim, t, w):
    out = t.cmd("AT+CREG?")
    assert out in (ok("AT+CREG?", "+CREG: 0,2"), ok("AT+CREG?", "+CREG: 0,0")), out


def effect_connack(sim, t, w):
    qmtopen(t, 0, HOST, 1883, 0)
    qmtconn(t, 0, "fault-dev", rc=5)


def effect_suback(sim, t, w):
    check_ok(t, 'AT+QMTSUB=0,2,"f/refused",1')
    urc(t, "+QMTSUB: 0,2,0,128")


def effect_noack(sim, t, w):
    publish(t, 0, 1, 1, "f/out", "lost ack")
    wait_trace(sim, "PUBACK id 1 dropped (mqtt.noack)")


def effect_close_after(sim, t, w):
    publish(t, 0, 1, 1, "f/out", "last")
    got = t.read_until(b"+QMTSTAT: 0,1\r\n", timeout=5)
    assert got in (b"\r\n+QMTSTAT: 0,1\r\n", b"\r\n+QMTPUB: 0,1,0\r\n\r\n+QMTSTAT: 0,1\r\n"), got


def effect_reboot(sim, t, w):
    t.read_until(b"RDY\r\n")
    t.read_until(b"+QIND: PB DONE\r\n")


def effect_hang(sim, t, w):
    """Hung for 1 s from the firing: what the host types now is read and discarded (no
    echo, no answer, not even later); once the hang is over the module answers again."""
    t.write(b"AT\r")
    quiet(t, 0.1)
    deadline = time.monotonic() + 3
    while True:
        t.write(b"AT\r")
        got = t.drain(0.1)
        if got:
            assert got == b"AT\r\r\nOK\r\n", got
            return
        assert time.monotonic() < deadline, "still hung"


def effect_burst(sim, t, w):
    t.expect(b"\r\nRING\r\n" * 3)


def effect_baud(sim, t, w):
    t0 = time.monotonic()
    check(t, "ATI", ok("ATI", "Quectel", "EC25", "Revision: EC25EFAR06A17M4G"))
    assert time.monotonic() - t0 >= 0.15  # 52 bytes at 240 bytes/s


# (fault, params, when, host's setup, visible effect); the README's table, in its order
FAULTS = [
    ("link.close", "client 0", CONNECTED, setup_conn, effect_stat1),
    ("link.reset", "client 0", CONNECTED, setup_conn, effect_stat1),
    ("link.blackhole", "client 0", CONNECTED, setup_conn,
     effect_trace("traffic stopped both ways (fault)")),
    ("link.delay", "ms 100", CONNECTED, setup_conn, effect_trace("delay 100 ms")),
    ("link.throttle", "bps 8000 client 0", CONNECTED, setup_conn,
     effect_trace("1000 bytes/s")),
    ("link.fragment", "bytes 1", CONNECTED, setup_conn, effect_trace("pieces of 1")),
    ("link.corrupt", "client 0 offset 0", CONNECTED, setup_sub, effect_corrupt),
    ("link.refuse", "for 5s", AT, setup_pdp, effect_open(1883, -1, "connection refused")),
    ("dns.fail", 'name "%s"' % HOST, AT, setup_pdp, effect_open(1883, 4, "not resolved")),
    ("pdp.deact", "cid 1", ACTIVATED, setup_pdp,
     lambda sim, t, w: urc(t, '+QIURC: "pdpdeact",1')),
    ("net.deregister", "for 5s", AT, None, effect_deregistered),
    ("sim.remove", "", AT, None, lambda sim, t, w: urc(t, "+CPIN: NOT READY")),
    ("tls.cert", "kind expired", AT, setup_tls(1),
     effect_open(8883, -1, "server certificate expired")),
    ("tls.alert", "", AT, setup_tls(0), effect_open(8883, -1, "handshake_failure alert")),
    ("tls.hang", "", AT, None, None),
    ("mqtt.connack", "code 5", AT, setup_pdp, effect_connack),
    ("mqtt.suback", "code 128", CONNECTED, setup_conn, effect_suback),
    ("mqtt.noack", "count 1", CONNECTED, setup_conn, effect_noack),
    ("mqtt.close-after", "publishes 1", CONNECTED, setup_conn, effect_close_after),
    ("mqtt.session-lost", "", CONNECTED, setup_conn, effect_stat1),
    ("broker.restart", "", CONNECTED, setup_conn, effect_stat1),
    ("modem.reboot", "", AT, None, effect_reboot),
    ("modem.hang", "for 1s", AT, None, effect_hang),
    ("modem.urc-burst", "count 3", AT, None, effect_burst),
    ("modem.baud", "bps 2400", AT, None, effect_baud),
]


def readme_faults():
    """The first column of the table in the README's "Faults" section."""
    with open(os.path.join(SCENARIOS, "README.md")) as f:
        text = f.read()
    section = text.split("\n## Faults\n", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]


def test_every_fault_of_the_table_is_covered():
    assert [f[0] for f in FAULTS] == readme_faults()


@pytest.mark.parametrize("fault,params,when,setup,effect", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_fires_from_a_file(modemsim, tmp_path, sim_subscriber, fault, params, when, setup,
                                 effect):
    """A tiny scenario file fires the fault: the trace says `fault <name> fired <params>`,
    the host (or the broker) sees its effect."""
    path = tmp_path / "one.scn"
    stmt = ("%s fault %s %s" % (when, fault, params)).rstrip()
    path.write_text("# %s from a file\n%s\n" % (fault, stmt))
    sim = modemsim("--scenario", str(path))
    t = sim.open()
    t.sim = sim
    w = sim_subscriber(sim, "f/#")
    if setup:
        setup(sim, t)
    wait_trace(sim, ("fault %s fired %s" % (fault, params)).rstrip(), kinds=("fault",))
    assert "not fired" not in sim.trace_text(("fault",))
    if effect:
        effect(sim, t, w)
