"""A fleet in one process (issue 13): many EC25s of one modemsim (--count) bring MQTT up over
TLS to the embedded broker at once, each with its own full handshake, and every message they
publish at QoS 1 (acknowledged to the modem with +QMTPUB: 0,1,0) reaches a subscriber on the
broker. The timed figures are harness/bench.py --fleet's, not a test's.
"""
import re

from modemsim_harness import fleet as fl
from modemsim_harness.broker import MqttClient

N = 200  # what CI runs (issue 13: a small fleet, e.g. 200 TLS modems)


def test_tls_fleet_connects_and_every_message_arrives(modemsim, tmp_path):
    state = tmp_path / "state"
    sim = modemsim("--broker", "embedded", "--state", str(state), count=N, trace=False,
                   log=False)
    sub = MqttClient("127.0.0.1", sim.broker["plain"], "fleet-sub")
    f = fl.Fleet(sim, N)
    try:
        assert sub.connect() == 0
        sub.subscribe("fleet/#", qos=1)
        f.boot(timeout=20)
        with open(sim.broker["ca"], "rb") as fh:
            ca = fh.read()
        f.run([fl.tls_setup(ca) for _ in range(N)], timeout=20)
        f.run([fl.mqtt_connect(i) for i in range(N)], timeout=20)
        f.run([fl.publish("fleet/%d" % i, b"hello from %d" % i) for i in range(N)], timeout=20)
        assert fl.wait_topics(sub, ["fleet/%d" % i for i in range(N)], timeout=10) == []
        payloads = {m.topic: m.payload for m in sub.messages}
        assert all(payloads["fleet/%d" % i] == b"hello from %d" % i for i in range(N))
    finally:
        f.close()
        sub.close()
    # every modem made its own TLS connection to the TLS listener (mosquitto logs each one)
    with open(state / "broker" / "mosquitto.log", errors="replace") as fh:
        log = fh.read()
    # (modemsim's start-up probes of the listeners are connections too: only those that
    # became a fleet client count)
    tls_ports = set(re.findall(r"New connection from 127\.0\.0\.1:(\d+) on port %d\." %
                               sim.broker["tls"], log))
    clients = re.findall(r"New client connected from 127\.0\.0\.1:(\d+) as (fleet-\d+) ", log)
    assert sorted(name for port, name in clients if port in tls_ports) == \
        sorted("fleet-%d" % i for i in range(N))
    assert len({port for port, name in clients}) == N


def test_broker_queues_a_fleet_burst_for_a_subscriber(modemsim):
    """More QoS 1 messages than mosquitto's default queue (1000 beyond 20 in flight) wait for
    a subscriber with a session: a burst from a fleet larger than 1020 is no longer dropped
    after the broker acknowledged it."""
    sim = modemsim("--broker", "embedded")
    burst = 1500
    sub = MqttClient("127.0.0.1", sim.broker["plain"], "queue-sub", clean_session=False)
    assert sub.connect() == 0
    sub.subscribe("burst/#", qos=1)
    sub.close()  # the session stays; the messages queue for it
    pub = MqttClient("127.0.0.1", sim.broker["plain"], "queue-pub")
    try:
        assert pub.connect() == 0
        for i in range(burst):
            pub.publish("burst/%d" % i, b"x", qos=1)
    finally:
        pub.close()
    sub = MqttClient("127.0.0.1", sim.broker["plain"], "queue-sub", clean_session=False)
    try:
        assert sub.connect() == 0
        assert fl.wait_topics(sub, ["burst/%d" % i for i in range(burst)], timeout=15) == []
    finally:
        sub.close()
