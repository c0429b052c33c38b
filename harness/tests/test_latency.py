"""Result URCs come after a delay drawn from the modem's own generator, seeded by --seed and the
modem's index (sim/modem/modem.c modem_latency): between half and one and a half times the
realistic latency, the same for a seed every time, different across seeds. A driver that reads
a fixed time after a command then passes or fails the same way for a seed, and a conformance run
can sweep seeds."""
import re
import time

import pytest

from modemsim import ModemSim

MASK = (1 << 64) - 1
LAT_OPEN_MS = 600  # sim/at/cmd_mqtt.c


def first_factor(seed, index=0):
    """modem_latency's first draw, as modem.c computes it."""
    x = (((seed ^ 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9) + index * 2 + 1) & MASK
    x = x or 1
    x ^= x >> 12
    x ^= (x << 25) & MASK
    x ^= x >> 27
    x = (x * 0x2545F4914F6CDD1D) & MASK
    return (512 + (x >> 54)) / 1024


def qmtopen_delay(tmp_path, seed):
    sim = ModemSim("--seed", str(seed), model="ec25", timing="realistic",
                   workdir=str(tmp_path))
    try:
        t = sim.open()
        assert t.cmd("AT+QIACT=1", timeout=10).endswith(b"OK\r\n")
        t.write(b'AT+QMTOPEN=0,"broker.modemsim.test",1883\r')
        t.read_until(b"\r\nOK\r\n", timeout=10)
        ok_at = time.monotonic()
        t.read_until(re.compile(rb"\+QMTOPEN: 0,0\r\n"), timeout=10)
        return time.monotonic() - ok_at
    finally:
        sim.stop()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 7, 12345])
def test_qmtopen_latency_is_the_seeds_draw(tmp_path, seed):
    want = LAT_OPEN_MS * first_factor(seed) / 1000
    got = qmtopen_delay(tmp_path, seed)
    # the draw, give or take the loopback connection and the host's scheduling
    assert want - 0.05 <= got <= want + 0.15, (seed, want, got)


def test_draws_spread_over_half_to_one_and_a_half():
    factors = [first_factor(s) for s in range(2000)]
    assert 0.5 <= min(factors) < 0.55 and 1.45 < max(factors) < 1.5
    assert len({round(f, 3) for f in factors}) > 500
