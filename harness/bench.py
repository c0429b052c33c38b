"""Benchmarks that print ratios, not pass/fail: how one modemsim process (one libuv loop)
scales with the number of modems it serves.

    /usr/bin/python3 harness/bench.py [--seconds S] [--counts 1,10,100]

For each count N it opens every modem's pty, keeps one AT command in flight per modem (a host
sends the next line when the previous final result arrived), and reports commands per second
in total, per modem, and the ratio of the total to the single-modem figure. The client side is
one Python process multiplexing all ptys with select(), so at high counts the figure may be
bounded by the client; the ratio still shows that no modem waits for another.
"""
import argparse
import os
import select
import time

from modemsim_harness.modemsim import ModemSim


def run(count, seconds):
    sim = ModemSim(count=count, trace=False, log=False)
    try:
        ttys = [sim.open(i) for i in range(count)]
        by_fd = {t.fd: t for t in ttys}
        done = 0
        pending = {}
        start = time.monotonic()
        for t in ttys:
            t.write(b"AT+CSQ\r")
            pending[t.fd] = b""
        while time.monotonic() - start < seconds:
            r, _, _ = select.select(list(by_fd), [], [], 1.0)
            for fd in r:
                pending[fd] += os.read(fd, 65536)
                while b"OK\r\n" in pending[fd]:
                    _, pending[fd] = pending[fd].split(b"OK\r\n", 1)
                    done += 1
                    by_fd[fd].write(b"AT+CSQ\r")
        elapsed = time.monotonic() - start
        return done / elapsed
    finally:
        sim.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--counts", default="1,10,100")
    a = ap.parse_args()
    base = None
    print("%8s %14s %14s %10s" % ("modems", "commands/s", "per modem", "ratio"))
    for n in (int(x) for x in a.counts.split(",")):
        rate = run(n, a.seconds)
        base = base or rate
        print("%8d %14.0f %14.1f %9.2fx" % (n, rate, rate / n, rate / base))


if __name__ == "__main__":
    main()
