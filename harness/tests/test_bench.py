"""harness/bench.py runs: each part with tiny sizes prints its rows (figure, this build,
reference, ratio) and exits 0. Not a timed test: no figure is compared with anything."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from modemsim import BINARY, ROOT

BENCH = os.path.join(ROOT, "harness", "bench.py") if ROOT else None
REF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BINARY))), "bench")
pytestmark = pytest.mark.skipif(
    not BENCH or not os.access(os.path.join(REF_DIR, "ptypeer"), os.X_OK),
    reason="a checkout's build tree with build/bench/ptypeer")

# "label   value   reference   ratio": a value, a reference or "missing", a ratio or "-"
ROW = r"^%s +(\d+\.\d+) +(\d+\.\d+|missing) +(\d+\.\d\dx|-)$"


def bench(*args, timeout=240):
    env = dict(os.environ, MODEMSIM_BIN=BINARY)
    r = subprocess.run([sys.executable, BENCH, "--runs", "1"] + list(args), capture_output=True,
                       text=True, timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def rows(out, *labels, ref=True):
    """Each label has its row; with ref, a reference and a ratio."""
    for label in labels:
        m = re.search(ROW % re.escape(label), out, re.M)
        assert m, "no row %r in:\n%s" % (label, out)
        if ref:
            assert m.group(2) != "missing" and m.group(3) != "-", m.group(0)


def test_at_round_trip_rows():
    out = bench("--at", "--rt", "20")
    rows(out, "AT round trip p50, unpinned (us)", "AT round trip p99, unpinned (us)")
    if len(os.sched_getaffinity(0)) >= 2:
        rows(out, "AT round trip p50, pinned (us)", "AT round trip p99, pinned (us)")
    if shutil.which("strace"):
        rows(out, "syscalls per AT round trip")
        assert re.search(r"^  sim .*read 1\.00", out, re.M), out


def test_publish_rows():
    out = bench("--pub", "--msgs", "20")
    have_ref = os.access(os.path.join(REF_DIR, "mqttpub"), os.X_OK)
    rows(out, "QoS 0 prompt publishes/s", "QoS 0 inline publishes/s", "QoS 1 prompt publishes/s",
         "QoS 1 inline publishes/s", ref=have_ref)
    if have_ref:
        rows(out, "QoS 1 prompt 1/p50 vs physical limit (/s)",
             "QoS 1 inline 1/p50 vs physical limit (/s)")
        assert re.search(r'^  QoS 1 prompt form, p50 of its waits: "> " \d', out, re.M), out
    else:
        assert "reference missing" in out, out


@pytest.mark.skipif(not shutil.which("mosquitto_sub"), reason="mosquitto-clients")
def test_receive_rows():
    out = bench("--recv", "--msgs", "20")
    rows(out, "messages received/s")
    assert "lost: modem 0, mosquitto_sub 0" in out, out


def test_start_up_rows():
    out = bench("--start", "--start-counts", "5", "--start-tcp", "5", "--tcp-port", "0")
    rows(out, "start-up N=5 pty (ms)", "RSS at ready N=5 pty, per modem (KiB)")
    rows(out, "start-up N=5 tcp (ms)", "RSS at ready N=5 tcp, per modem (KiB)")


@pytest.mark.parametrize("args", [("--tls",), ("--fleet-tcp", "--tcp-port", "0")])
def test_fleet_rows(args):
    out = bench("--fleet", "5", *args)
    # conn/s is "-" when 5 connects took less than a clock tick of CPU
    rows(out, "rss/idle KiB", "rss/conn KiB", "cpu/conn ms", "wall s")
    assert re.search(r"^conn/s \(loop\) ", out, re.M), out
    assert "messages missing at the subscriber: 0 of 5" in out, out


def test_fleet_past_the_descriptor_limit_is_sharded():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    b = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(b)
    assert b.fleet_fit(1000, 20000)[:2] == (1000, 1)
    n, shards, note = b.fleet_fit(10000, 20000)
    assert (n, shards) == (10000, 2) and "30064 descriptors" in note, note
    assert b.fleet_fit(30000, 20000)[0] == 19872
