"""pytest fixtures for the test PKI (certs/gen.sh) and a real mosquitto (broker.py).

modemsim_harness.plugin makes them available to every test.
"""

import pytest

from .broker import Broker, Pki, embedded_subscriber
from .paths import pki_dir

# The PKI is generated once into a cache directory (paths.pki_dir(): never the checkout) and
# reused across sessions; gen.sh regenerates it when certs/gen.sh changes, and serialises
# concurrent sessions on a lock.


@pytest.fixture(scope="session")
def pki():
    """The test PKI; pki["name"] is the path of a generated file (see its README)."""
    return Pki.generate(pki_dir())


@pytest.fixture
def broker_factory(pki, tmp_path):
    """Factory: start a Broker with the given options (see broker.Broker); each is stopped at
    teardown and must have exited 0 (a crash of mosquitto fails the test)."""
    started = []

    def start(**kw):
        b = Broker(pki, str(tmp_path / ("broker%d" % len(started))), **kw)
        started.append(b)
        return b.start()

    yield start
    for b in started:
        rc = b.stop()
        assert rc in (0, None), "mosquitto exited %s:\n%s" % (rc, b.log()[-4000:])


@pytest.fixture
def broker(broker_factory):
    """A started mosquitto with the default listeners, users and roles."""
    return broker_factory()


@pytest.fixture
def subscriber(broker):
    """broker.subscriber: subscriber(topics, tls=False, ...) -> client with wait_for()."""
    return broker.subscriber


@pytest.fixture
def sim_subscriber():
    """Factory: sim_subscriber(sim, topics=(), qos=1) -> a broker.MqttClient of that
    ModemSim's embedded broker, subscribed (broker.embedded_subscriber); closed at teardown."""
    made = []

    def make(sim, topics=(), qos=1, timeout=5.0):
        c = embedded_subscriber(sim.broker, topics, qos, "sim-subscriber-%d" % len(made),
                                timeout)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
