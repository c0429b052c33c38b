"""Fixtures of this repository's own tests (the plugin's are loaded by the top-level
conftest.py)."""
import pytest

from modemsim_harness.modemsim import ModemSim


@pytest.fixture
def modemsim(tmp_path):
    """Factory: start modemsim with the given options; every instance is stopped at teardown
    and must have exited 0 without sanitizer reports."""
    started = []

    def start(*args, **kw):
        kw.setdefault("workdir", str(tmp_path / ("sim%d" % len(started))))
        import os
        os.makedirs(kw["workdir"], exist_ok=True)
        sim = ModemSim(*args, **kw)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        rc = sim.stop()
        assert rc == 0, "modemsim exited %s: %s" % (rc, sim.stderr().decode(errors="replace"))


@pytest.fixture
def ec25(modemsim):
    """An EC25 with fast timing, its tty open and its boot URCs read."""
    sim = modemsim(model="ec25")
    return sim.open()


@pytest.fixture
def m95(modemsim):
    sim = modemsim(model="m95")
    return sim.open()
