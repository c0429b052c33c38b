"""Faults (scenarios/README.md, "Faults"), fired through the control socket or a scenario file,
against the embedded broker (a real mosquitto). Each test asserts the bytes on the tty (the
module's URCs, byte for byte) and, where it applies, what the broker saw.

Fault tests in SQLite's manner: a fault fires at the n-th occurrence of something, and the test
accepts only the outcomes the manual lists (an acknowledgement that was already on its way may
or may not arrive before the link ends).

Protocol timers (pkt_timeout, keepalive, negotiatetime) and fault durations follow
--time-scale; --timing fast removes the module-like latencies.
"""
import functools
import time

import pytest

from broker import MqttClient
from control import Control, wait_for
from modemsim_harness import at
from modemsim_harness.at import b, check, ok, pdp_up, qmtopen, quiet, upload, urc

HOST = "broker.modemsim.test"
up = functools.partial(at.mqtt_up, cid="fault-dev")
qmtconn = functools.partial(at.qmtconn, cid="fault-dev")


# ---------------------------------------------------------------- helpers


def pub(t, msgid, qos, topic, payload, idx=0):
    """AT+QMTPUB in prompt mode up to its OK (echo on)."""
    line = 'AT+QMTPUB=%d,%d,%d,0,"%s"' % (idx, msgid, qos, topic)
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\n> ")
    t.write(b(payload) + b"\x1a")
    t.expect(b(payload) + b"\r\nOK\r\n")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tls_ready(t, seclevel=1):
    """SSL context 2 with the embedded broker's CA, and MQTT client 0 on it."""
    upload(t, "RAM:ca.pem", read(t.sim.broker["ca"]))
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    for line in ('AT+QSSLCFG="seclevel",2,%d' % seclevel, 'AT+QSSLCFG="cacert",2,"RAM:ca.pem"',
                 'AT+QSSLCFG="ignorelocaltime",2,0', 'AT+QSSLCFG="negotiatetime",2,10',
                 'AT+QMTCFG="ssl",0,1,2'):
        check(t, line, ok(line))


class Rig:
    """A modem (its tty open, booted), the control socket, the embedded broker."""

    def __init__(self, sim, ctl, t):
        self.sim, self.ctl, self.t = sim, ctl, t

    def fault(self, text):
        """Fire a fault now (an `at 0ms` event: from the loop, as every event runs) and
        return once it has fired: the control socket's own answer is the event waited on."""
        before = len(self.fired())
        self.ctl.ok("at 0ms fault " + text)
        wait_for(lambda: len(self.fired()) > before)

    # A query is also a barrier for faults that do not fire (refused): the loop runs its due
    # timers (the `at 0ms` event) before it reads the next control statement.

    def fired(self):
        return [f["fault"] for f in self.ctl.query("faults")["faults"]]

    def client(self, **kw):
        c = MqttClient("127.0.0.1", self.sim.broker["plain"], **kw)
        assert c.connect() == 0
        self._clients.append(c)
        return c


@pytest.fixture
def rig(modemsim, tmp_path):
    made = []

    def make(*extra, model="ec25", broker=True):
        path = str(tmp_path / ("ctl%d.sock" % len(made)))
        args = ["--control", path] + ([] if broker else ["--broker", "none"])
        sim = modemsim(*args, *extra, model=model)
        t = sim.open()
        t.model = model
        t.sim = sim
        r = Rig(sim, Control(path), t)
        r._clients = []
        made.append(r)
        return r

    yield make
    for r in made:
        for c in r._clients:
            c.close()
        r.ctl.close()


# ---------------------------------------------------------------- link.*


@pytest.mark.parametrize("kind", ["close", "reset"])
def test_link_end_is_seen_by_both_sides(rig, kind):
    """link.close (FIN) and link.reset (RST): the host gets +QMTSTAT: 0,1 (reference §6:
    "connection closed or reset by peer"); the broker sees a connection lost without
    DISCONNECT and publishes the client's will."""
    r = rig()
    watcher = r.client()
    watcher.subscribe("will/dev", qos=1)
    up(r.t, cfg=['AT+QMTCFG="will",0,1,1,0,"will/dev","gone"'])
    r.fault("link.%s client 0" % kind)
    urc(r.t, "+QMTSTAT: 0,1")
    assert watcher.wait_for(lambda m: m.topic == "will/dev").payload == b"gone"
    check(r.t, "AT+QMTCONN?", ok("AT+QMTCONN?"))
    quiet(r.t)
    want = "FIN sent (fault)" if kind == "close" else "connection reset (fault)"
    assert want in r.sim.trace_text()
    assert r.fired() == ["link.%s" % kind]


def test_link_fault_without_a_connection_is_refused(rig):
    r = rig()
    r.ctl.ok("at 0ms fault link.reset client 3")
    r.ctl.ok("at 0ms fault link.blackhole")
    r.ctl.ok("at 0ms fault pdp.deact cid 2")
    assert r.fired() == []
    err = r.sim.stderr().decode()
    assert "MQTT client 3 has no connection" in err
    assert "modem 0 has no connection" in err
    assert "PDP context 2 is not active" in err
    quiet(r.t)


def test_link_blackhole_keepalive_fails(rig):
    """Traffic stops both ways and the socket stays open: the keepalive's PINGREQ goes
    unanswered, +QMTPING: 0,1 then +QMTSTAT: 0,2 (reference §6e); a message published to the
    modem's topic meanwhile never reaches it."""
    r = rig("--time-scale", "0.5")
    sender = r.client()
    up(r.t, cfg=['AT+QMTCFG="keepalive",0,2', 'AT+QMTCFG="timeout",0,2,0,0'])
    check(r.t, 'AT+QMTSUB=0,1,"bh/in",1', ok('AT+QMTSUB=0,1,"bh/in",1'))
    urc(r.t, "+QMTSUB: 0,1,0,1")
    r.fault("link.blackhole client 0")
    sender.publish("bh/in", b"lost", qos=1)
    start = time.monotonic()
    urc(r.t, "+QMTPING: 0,1", timeout=5)
    assert time.monotonic() - start >= 0.5
    urc(r.t, "+QMTSTAT: 0,2")
    quiet(r.t)


def test_link_delay_both_ways(rig):
    """ms 150: the PUBLISH waits 150 ms on the way out and the PUBACK 150 ms on the way
    back; +QMTPUB comes no sooner."""
    r = rig()
    up(r.t)
    r.fault("link.delay ms 150")
    pub(r.t, 1, 1, "d/x", "slow")
    start = time.monotonic()
    urc(r.t, "+QMTPUB: 0,1,0")
    assert time.monotonic() - start >= 0.25
    r.fault("link.delay ms 0")
    pub(r.t, 2, 1, "d/x", "fast")
    start = time.monotonic()
    urc(r.t, "+QMTPUB: 0,2,0")
    assert time.monotonic() - start < 0.25


def test_link_throttle_and_fragment(rig):
    """8000 bps (1000 bytes/s) both ways: a 1000-byte publish takes most of a second to
    reach the broker; in pieces of 1 byte, what the broker sends still arrives whole."""
    r = rig()
    sub = r.client()
    sub.subscribe("th/#", qos=0)
    up(r.t)
    check(r.t, 'AT+QMTSUB=0,1,"th/in",0', ok('AT+QMTSUB=0,1,"th/in",0'))
    urc(r.t, "+QMTSUB: 0,1,0,0")
    r.fault("link.throttle bps 8000")
    payload = "t" * 1000
    start = time.monotonic()
    pub(r.t, 0, 0, "th/out", payload)
    urc(r.t, "+QMTPUB: 0,0,0")
    assert sub.wait_for(lambda m: m.topic == "th/out").payload == b(payload)
    assert time.monotonic() - start >= 0.7
    r.fault("link.throttle bps 0")
    r.fault("link.fragment bytes 1")
    sub.publish("th/in", b"0123456789,\"x\"", qos=0)
    urc(r.t, '+QMTRECV: 0,0,"th/in","0123456789,"x""')
    assert "pieces of 1" in r.sim.trace_text()


def test_link_corrupt_plain_breaks_the_packet(rig):
    """The first byte of the next chunk from the broker inverted: the PUBLISH's type nibble
    becomes garbage, the client drops the link as a protocol error: +QMTSTAT: 0,1."""
    r = rig()
    sender = r.client()
    up(r.t)
    check(r.t, 'AT+QMTSUB=0,1,"c/in",0', ok('AT+QMTSUB=0,1,"c/in",0'))
    urc(r.t, "+QMTSUB: 0,1,0,0")
    r.fault("link.corrupt client 0")
    sender.publish("c/in", b"x", qos=0)
    urc(r.t, "+QMTSTAT: 0,1")
    assert "inverted (fault)" in r.sim.trace_text()


def test_link_corrupt_tls_breaks_the_record_mac(rig):
    """On TLS the byte is flipped inside a record (the ciphertext, as on the wire): the
    record's MAC fails, the session ends with a TLS error: +QMTSTAT: 0,1."""
    r = rig()
    sender = r.client()
    tls_ready(r.t)
    qmtopen(r.t, port=8883)
    qmtconn(r.t)
    check(r.t, 'AT+QMTSUB=0,1,"c/in",0', ok('AT+QMTSUB=0,1,"c/in",0'))
    urc(r.t, "+QMTSUB: 0,1,0,0")
    r.fault("link.corrupt client 0 offset 7")
    sender.publish("c/in", b"x" * 20, qos=0)
    urc(r.t, "+QMTSTAT: 0,1")
    text = r.sim.trace_text(("tls",))
    assert "closed: TLS failure" in text, text


def test_link_refuse_for_a_while(rig):
    """link.refuse for 300ms: a connect meets a real RST (ECONNREFUSED): +QMTOPEN: 0,-1;
    afterwards the broker is reachable again."""
    r = rig()
    check(r.t, "AT+QIACT=1", ok("AT+QIACT=1"))
    r.fault("link.refuse for 300ms")  # returns once it has fired
    qmtopen(r.t, result=-1)
    assert "connection refused" in r.sim.trace_text()
    wait_for(lambda: "link.refuse ended" in r.sim.trace_text(("fault",)))
    qmtopen(r.t, result=0)


def test_dns_fail_for_a_while(rig):
    """dns.fail: the name does not resolve, +QMTOPEN: 0,4 (reference §6); after `for` it
    resolves again."""
    r = rig()
    check(r.t, "AT+QIACT=1", ok("AT+QIACT=1"))
    r.fault('dns.fail name "%s" for 300ms' % HOST.upper())
    qmtopen(r.t, result=4)
    wait_for(lambda: "dns.fail ended" in r.sim.trace_text(("fault",)))
    qmtopen(r.t, result=0)


# ---------------------------------------------------------------- network, SIM


def test_pdp_deact_closes_the_client(rig):
    """EC2x TCP/IP AN 2.5.5: +QIURC: "pdpdeact",1, and the MQTT client on the context is
    closed: +QMTSTAT: 0,1."""
    r = rig()
    up(r.t)
    r.fault("pdp.deact")
    urc(r.t, '+QIURC: "pdpdeact",1')
    urc(r.t, "+QMTSTAT: 0,1")
    check(r.t, "AT+QIACT?", ok("AT+QIACT?"))
    quiet(r.t)


def test_net_deregister_stalls_traffic_until_it_is_back(rig):
    """stat 2 then 0 (27.007 7.2), in every URC mode the host set; traffic stalls (a QoS 1
    publish is acknowledged only once the network is back), then stat 1 again."""
    r = rig()
    for line in ("AT+CREG=1", "AT+CEREG=1"):
        check(r.t, line, ok(line))
    up(r.t)
    r.fault("net.deregister for 600ms")
    start = time.monotonic()
    for text in ("+CREG: 2", "+CEREG: 2", "+CREG: 0", "+CEREG: 0"):
        urc(r.t, text)
    check(r.t, "AT+CREG?", ok("AT+CREG?", "+CREG: 1,0"))
    pub(r.t, 5, 1, "n/x", "later")
    urc(r.t, "+CREG: 1", timeout=3)
    urc(r.t, "+CEREG: 1")
    urc(r.t, "+QMTPUB: 0,5,0", timeout=3)
    assert time.monotonic() - start >= 0.55


def test_sim_remove(rig):
    """+CPIN: NOT READY (Quectel AT+QSIMDET example); then AT+CPIN? and commands that need
    the SIM answer +CME ERROR: 10; the context goes down with the SIM."""
    r = rig()
    check(r.t, "AT+QIACT=1", ok("AT+QIACT=1"))
    r.fault("sim.remove")
    urc(r.t, "+CPIN: NOT READY")
    urc(r.t, '+QIURC: "pdpdeact",1')
    check(r.t, "AT+CPIN?", b"AT+CPIN?\r\r\n+CME ERROR: 10\r\n")
    check(r.t, "AT+CIMI", b"AT+CIMI\r\r\n+CME ERROR: 10\r\n")
    r.ctl.ok("at 0ms fault sim.remove")  # twice: nothing left to remove
    assert r.fired() == ["sim.remove"]
    quiet(r.t)


# ---------------------------------------------------------------- tls.*


@pytest.mark.parametrize("kind,cause", [
    ("expired", "server certificate expired per modem clock"),
    ("wronghost", "server certificate name mismatch"),
    ("untrusted", "server certificate not trusted: unknown CA"),
    ("notyet", "server certificate not yet valid per modem clock"),
])
def test_tls_cert_is_really_presented(rig, kind, cause):
    """The broker behind a certificate the modem must refuse: +QMTOPEN: 0,-1, the TLS
    adapter's cause in the trace; when `for` ends, the good certificate again."""
    r = rig()
    tls_ready(r.t)
    r.fault("tls.cert kind %s for 400ms" % kind)
    qmtopen(r.t, port=8883, result=-1)
    assert cause in r.sim.trace_text(("tls",))
    wait_for(lambda: "tls.cert ended" in r.sim.trace_text(("fault",)))
    qmtopen(r.t, port=8883, result=0)


def test_tls_cert_needs_the_embedded_broker(rig):
    r = rig(broker=False)
    r.ctl.ok("at 0ms fault tls.cert kind expired")
    r.ctl.ok("at 0ms fault mqtt.session-lost")
    assert r.fired() == []
    assert "needs the embedded broker" in r.sim.stderr().decode()


def test_tls_alert_fails_the_next_handshake_only(rig):
    r = rig()
    tls_ready(r.t, seclevel=0)
    r.fault("tls.alert")
    qmtopen(r.t, port=8883, result=-1)
    assert "handshake_failure alert" in r.sim.trace_text(("net",))
    qmtopen(r.t, port=8883, result=0)


def test_tls_hang_runs_into_negotiatetime(rig):
    """A server that accepts and never answers: the handshake ends at negotiatetime (10 s,
    here at --time-scale 0.05: 0.5 s) with +QMTOPEN: 0,-1."""
    r = rig("--time-scale", "0.05")
    tls_ready(r.t, seclevel=0)
    r.fault("tls.hang")
    start = time.monotonic()
    qmtopen(r.t, port=8883, result=-1, timeout=5)
    assert time.monotonic() - start >= 0.4
    assert "TLS handshake not done within" in r.sim.trace_text(("net", "tls"))


# ---------------------------------------------------------------- mqtt.*


def test_mqtt_connack_refusal_then_close(rig):
    """The next CONNACK says 5 (not authorised): +QMTCONN: 0,0,5, then the broker closes
    (3.1.1 3.2.2-5): +QMTSTAT: 0,1, as with a broker that really refuses."""
    r = rig()
    check(r.t, "AT+QIACT=1", ok("AT+QIACT=1"))
    qmtopen(r.t)
    r.fault("mqtt.connack code 5")
    qmtconn(r.t, rc=5)
    urc(r.t, "+QMTSTAT: 0,1")
    qmtopen(r.t)
    qmtconn(r.t, rc=0)


@pytest.mark.parametrize("code", [0, 1, 128])
def test_mqtt_suback_grants(rig, code):
    """0-2 are asked of the broker, which grants them (its SUBACK is real); 128 refuses."""
    r = rig()
    up(r.t)
    r.fault("mqtt.suback code %d" % code)
    check(r.t, 'AT+QMTSUB=0,1,"s/a",2', ok('AT+QMTSUB=0,1,"s/a",2'))
    urc(r.t, "+QMTSUB: 0,1,0,%d" % code)
    check(r.t, 'AT+QMTSUB=0,2,"s/b",2', ok('AT+QMTSUB=0,2,"s/b",2'))
    urc(r.t, "+QMTSUB: 0,2,0,2")  # once only


@pytest.mark.parametrize("count", [1, 2, 3])
def test_mqtt_noack_retransmits(rig, count):
    """pkt_timeout 1 s (0.2 s here), retry_times 2, timeout_notice 1: each lost PUBACK is a
    retransmission with DUP reported +QMTPUB: 0,7,1,<n>; the broker acknowledges the
    retransmission; with more losses than retries, +QMTPUB: 0,7,2 and +QMTSTAT: 0,6 (M95
    MQTT AN 3.2.1, 4.1.1)."""
    r = rig("--time-scale", "0.2")
    up(r.t, cfg=['AT+QMTCFG="timeout",0,1,2,1'])
    r.fault("mqtt.noack count %d" % count)
    pub(r.t, 7, 1, "na/x", "again")
    for n in range(1, min(count, 2) + 1):
        urc(r.t, "+QMTPUB: 0,7,1,%d" % n, timeout=3)
    if count <= 2:
        urc(r.t, "+QMTPUB: 0,7,0", timeout=3)
    else:
        urc(r.t, "+QMTPUB: 0,7,2", timeout=3)
        urc(r.t, "+QMTSTAT: 0,6")
    quiet(r.t)


@pytest.mark.parametrize("n", [1, 2])
def test_mqtt_close_after_publishes(rig, n):
    """The broker closes after the n-th PUBLISH: it got that PUBLISH (the watcher sees it);
    its PUBACK may or may not come before the close."""
    r = rig()
    watcher = r.client()
    watcher.subscribe("ca/#", qos=1)
    up(r.t)
    r.fault("mqtt.close-after publishes %d" % n)
    for i in range(1, n):
        pub(r.t, i, 1, "ca/%d" % i, "p%d" % i)
        urc(r.t, "+QMTPUB: 0,%d,0" % i)
    pub(r.t, n, 1, "ca/%d" % n, "p%d" % n)
    got = r.t.read_until(b"+QMTSTAT: 0,1\r\n", timeout=5)
    assert got in (b"\r\n+QMTSTAT: 0,1\r\n",
                   b"\r\n+QMTPUB: 0,%d,0\r\n\r\n+QMTSTAT: 0,1\r\n" % n), got
    assert watcher.wait_for(lambda m: m.topic == "ca/%d" % n).payload == b"p%d" % n


def test_mqtt_session_lost_by_a_broker_restart(rig):
    """A persistent session (clean session 0) with a subscription: after the broker's
    restart the connection is gone (+QMTSTAT: 0,1) and, reconnected with clean session 0,
    the subscription is no more: nothing published to it arrives."""
    r = rig()
    up(r.t, cfg=['AT+QMTCFG="session",0,0'], cid="persistent")
    check(r.t, 'AT+QMTSUB=0,1,"sl/x",1', ok('AT+QMTSUB=0,1,"sl/x",1'))
    urc(r.t, "+QMTSUB: 0,1,0,1")
    r.fault("mqtt.session-lost")
    urc(r.t, "+QMTSTAT: 0,1", timeout=5)
    wait_for(lambda: "listening again" in r.sim.trace_text(("fault",)),
             what="the broker to come back")
    qmtopen(r.t)
    qmtconn(r.t, cid="persistent")
    sender = r.client()
    sender.publish("sl/x", b"gone", qos=1)
    quiet(r.t, 0.3)
    # the same subscription made again works: the broker is the one we talk to
    check(r.t, 'AT+QMTSUB=0,2,"sl/x",1', ok('AT+QMTSUB=0,2,"sl/x",1'))
    urc(r.t, "+QMTSUB: 0,2,0,1")
    sender.publish("sl/x", b"here", qos=0)
    urc(r.t, '+QMTRECV: 0,0,"sl/x","here"')


# ---------------------------------------------------------------- modem.*


def test_modem_reboot_forgets_ram(rig):
    r = rig()
    upload(r.t, "RAM:f.txt", b"abc")
    r.fault("modem.reboot")
    r.t.read_until(b"RDY\r\n")
    r.t.read_until(b"+QIND: PB DONE\r\n")
    check(r.t, 'AT+QFLST="RAM:*"', ok('AT+QFLST="RAM:*"'))


def test_modem_hang_reads_and_discards(rig):
    """No answer at all while hung (no echo, no URCs); what was queued goes out after."""
    r = rig()
    r.fault("modem.hang for 500ms")
    r.fault('modem.urc-burst count 2 text "+QIND: \\"x\\""')
    r.t.write(b"ATI\r")
    quiet(r.t, 0.3)
    urc(r.t, '+QIND: "x"')  # the burst, once the hang is over
    urc(r.t, '+QIND: "x"')
    check(r.t, "AT", ok("AT"))


def test_modem_urc_burst_default_ring(rig):
    r = rig()
    r.fault("modem.urc-burst count 100")
    r.t.expect(b"\r\nRING\r\n" * 100)
    quiet(r.t)


def test_modem_baud_paces_output(rig):
    """2400 bps (240 bytes/s, 8N1): a 52-byte answer takes about 0.2 s; bps 0 lifts it."""
    r = rig()
    want = ok("ATI", "Quectel", "EC25", "Revision: EC25EFAR06A17M4G")
    r.fault("modem.baud bps 2400")
    start = time.monotonic()
    check(r.t, "ATI", want)
    assert time.monotonic() - start >= 0.15
    r.fault("modem.baud bps 0")
    start = time.monotonic()
    check(r.t, "ATI", want)
    assert time.monotonic() - start < 0.1


# ---------------------------------------------------------------- at the n-th occurrence


@pytest.mark.parametrize("n", [1, 2, 3])
def test_reset_after_the_nth_publish(modemsim, tmp_path, n):
    """`after publish <n> fault link.reset client 0` from a scenario file: the n-th QoS 1
    publish is followed by the reset. Accepted outcomes: its +QMTPUB, or none, then
    +QMTSTAT: 0,1; every earlier publish completed."""
    scn = tmp_path / "reset.scn"
    scn.write_text("after publish %d fault link.reset client 0\n" % n)
    sim = modemsim("--scenario", str(scn))
    t = sim.open()
    t.sim = sim
    up(t)
    for i in range(1, n):
        pub(t, i, 1, "nth/x", "p")
        urc(t, "+QMTPUB: 0,%d,0" % i)
    pub(t, n, 1, "nth/x", "p")
    got = t.read_until(b"+QMTSTAT: 0,1\r\n")
    assert got in (b"\r\n+QMTSTAT: 0,1\r\n",
                   b"\r\n+QMTPUB: 0,%d,0\r\n\r\n+QMTSTAT: 0,1\r\n" % n), got
    quiet(t)
    assert "fault link.reset fired client 0" in sim.trace_text(("fault",))


# ---------------------------------------------------------------- models and modems


def test_pdp_deact_m95(rig):
    """M95: +PDP DEACT (the URC the M26 driver parses, reference §4b), the client closes."""
    r = rig(model="m95")
    pdp_up(r.t)
    qmtopen(r.t)
    qmtconn(r.t)
    r.fault("pdp.deact")
    urc(r.t, "+PDP DEACT")
    urc(r.t, "+QMTSTAT: 0,1")
    # M95 AT manual, AT+QISTAT: OK, then the state (PDP DEACT until AT+QIDEACT)
    r.t.write(b"AT+QISTAT\r")
    r.t.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")


def test_a_fault_addresses_one_modem(rig):
    """`modem 1 ...`: modem 1's link is reset, modem 0's is untouched; the history says
    which modem."""
    r = rig("--count", "2")
    t1 = r.sim.open(1)
    up(r.t, cid="dev-0")
    up(t1, cid="dev-1")
    r.ctl.ok("modem 1 at 0ms fault link.reset")
    urc(t1, "+QMTSTAT: 0,1")
    quiet(r.t)
    pub(r.t, 1, 1, "m/0", "still here")
    urc(r.t, "+QMTPUB: 0,1,0")
    faults = r.ctl.query("faults")["faults"]
    assert [(f["modem"], f["fault"], f["params"]) for f in faults] == [(1, "link.reset", {})]
