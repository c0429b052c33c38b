"""pytest fixtures for the test PKI (certs/gen.sh) and a real mosquitto (broker.py).

harness/conftest.py makes them available to every test with:
    from fixtures_broker import pki, broker_factory, broker, subscriber  # noqa: F401
"""
import os

import pytest

from broker import ROOT, Broker, Pki

# certs/out/ is gitignored. The PKI is generated once and reused across sessions; gen.sh
# regenerates it when certs/gen.sh changes, and serialises concurrent sessions on a lock.
PKI_DIR = os.environ.get("MODEMSIM_PKI_DIR") or os.path.join(ROOT, "certs", "out", "pki")


@pytest.fixture(scope="session")
def pki():
    """The test PKI; pki["name"] is the path of a generated file (see its README)."""
    return Pki.generate(PKI_DIR)


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
