"""Benchmarks that print ratios, not pass/fail: how one modemsim process (one libuv loop)
scales with the number of modems it serves.

    /usr/bin/python3 harness/bench.py [--seconds S] [--counts 1,10,100]
    /usr/bin/python3 harness/bench.py --fleet N [--tls] [--runs 3] [--reference FILE]
                                      [--save-reference FILE]

For each count N it opens every modem's pty, keeps one AT command in flight per modem (a host
sends the next line when the previous final result arrived), and reports commands per second
in total, per modem, and the ratio of the total to the single-modem figure. The client side is
one Python process multiplexing all ptys with select(), so at high counts the figure may be
bounded by the client; the ratio still shows that no modem waits for another.

--fleet N starts one modemsim with --count N and the embedded broker, and brings every modem
through AT+QFUPL of the broker's CA, AT+QIACT, AT+QMTOPEN (over TLS with --tls, port 8883;
plain MQTT on 1883 without), AT+QMTCONN and one QoS 1 AT+QMTPUB, all modems at once, with a
barrier between the phases (harness/modemsim_harness/fleet.py). A subscriber on the broker
must get every message. It prints, as the median of --runs runs:

  rss/idle      VmRSS of modemsim after every modem booted, / N (the process's base included)
  rss/conn      VmRSS growth from before the first AT+QMTOPEN to all connected, / N
  cpu/conn      modemsim's utime+stime over the same span, / N (the loop is one thread, so this
                is loop time per connect: TCP, TLS handshake, MQTT CONNECT, the AT lines)
  conn/s        N / that CPU time: connects per second of loop time
  wall          from the first AT+QMTOPEN to the last +QMTCONN: 0,0,0 (the client, one Python
                thread, and the broker share the machine's cores, so this is not loop time)
  listen ovf    TcpExt ListenOverflows during that span (the whole network namespace): SYNs
                dropped at a full accept queue, each costing its modem a 1 s SYN retry.
                mosquitto's backlog is 100, fixed; --window W spreads the connects (at most
                W modems between AT+QMTOPEN and +QMTCONN at once), as a fleet's host would.

The reference: figures of an earlier build, printed side by side with the ratio new/old. They
come from --reference-bin PATH (that build measured now, its runs interleaved with this
build's: CPU time on a shared machine moves with its clock and neighbours by up to 2x within
minutes, so only an interleaved comparison of CPU figures means much), else --reference FILE
(JSON written by --save-reference FILE), else REFERENCE below (main before the shared-DRBG
change; see its comment). To measure another build alone, point MODEMSIM_BIN at its binary.
"""
import argparse
import json
import os
import select
import statistics
import sys
import time

from modemsim_harness import fleet as fl
from modemsim_harness import modemsim as ms
from modemsim_harness.broker import MqttClient
from modemsim_harness.modemsim import ModemSim

# main at 383de12 (per-session entropy + CTR_DRBG, certificates parsed per session, mosquitto
# with its default queue limits), median of 3 runs on the 2-core build machine (load < 0.5),
# from --save-reference; keyed by "tls" / "plain" and N.
REFERENCE = {
    "tls": {
        "200": {"rss_idle_kb": 98.74, "rss_conn_kb": 111.08, "cpu_conn_ms": 1.85,
                "conn_per_s": 540.5, "wall_s": 0.383},
        "1000": {"rss_idle_kb": 87.53, "rss_conn_kb": 108.48, "cpu_conn_ms": 2.07,
                 "conn_per_s": 483.1, "wall_s": 2.087},
    },
    "plain": {
        "1000": {"rss_idle_kb": 87.51, "rss_conn_kb": 17.16, "cpu_conn_ms": 0.15,
                 "conn_per_s": 6666.7, "wall_s": 0.173},
    },
}


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


def fleet_run(n, tls, timeout, window=0, binary=None):
    """One fleet run (of binary: this build's when None); returns the figures (see the module
    docstring)."""
    if binary:
        ms.BINARY = binary
    sim = ModemSim("--broker", "embedded", count=n, trace=False, log=False)
    sub = None
    f = None
    try:
        pid = sim.proc.pid
        f = fl.Fleet(sim, n)
        f.boot(timeout)
        rss_idle, _ = fl.proc_status(pid)
        sub = MqttClient("127.0.0.1", sim.broker["plain"], "fleet-bench-sub")
        assert sub.connect() == 0
        sub.subscribe("fleet/#", qos=1)
        with open(sim.broker["ca"], "rb") as fh:
            ca = fh.read()
        setup = fl.tls_setup(ca) if tls else [fl.cmd("AT+QIACT=1")]
        f.run([list(setup) for _ in range(n)], timeout)
        rss0, cpu0 = fl.proc_status(pid)
        ovf0 = fl.listen_overflows()
        t0 = time.monotonic()
        f.run([fl.mqtt_connect(i, 8883 if tls else 1883) for i in range(n)], timeout, window)
        wall = max(f.done_at) - t0
        rss1, cpu1 = fl.proc_status(pid)
        overflows = fl.listen_overflows() - ovf0
        f.run([fl.publish("fleet/%d" % i, b"m%d" % i) for i in range(n)], timeout)
        missing = fl.wait_topics(sub, ["fleet/%d" % i for i in range(n)], timeout)
        return {"n": n, "tls": tls, "rss_idle_kb": rss_idle / n, "rss_conn_kb": (rss1 - rss0) / n,
                "cpu_conn_ms": (cpu1 - cpu0) * 1000 / n,
                "conn_per_s": n / (cpu1 - cpu0) if cpu1 > cpu0 else float("inf"),
                "wall_s": wall, "overflows": overflows, "missing": len(missing)}
    finally:
        if sub:
            sub.close()
        if f:
            f.close()
        sim.stop(timeout=60)


FIGURES = (("rss_idle_kb", "rss/idle KiB"), ("rss_conn_kb", "rss/conn KiB"),
           ("cpu_conn_ms", "cpu/conn ms"), ("conn_per_s", "conn/s (loop)"), ("wall_s", "wall s"),
           ("overflows", "listen ovf"))


def fleet_main(a):
    kind = "tls" if a.tls else "plain"
    ours = ms.BINARY
    runs, ref_runs = [], []
    for _ in range(a.runs):
        if a.reference_bin:  # interleaved: both builds see the same machine
            ref_runs.append(fleet_run(a.fleet, a.tls, a.timeout, a.window, a.reference_bin))
        runs.append(fleet_run(a.fleet, a.tls, a.timeout, a.window, ours))
    for label, rs in (("reference run", ref_runs), ("run", runs)):
        for r in rs:
            print("%s: " % label + " ".join("%s=%.3f" % (k, r[k]) for k, _ in FIGURES) +
                  " missing=%d" % r["missing"], file=sys.stderr)
    med = {k: statistics.median(r[k] for r in runs) for k, _ in FIGURES}
    med["missing"] = max(r["missing"] for r in runs)
    ref_all = REFERENCE
    if a.reference:
        with open(a.reference) as fh:
            ref_all = json.load(fh)
    ref = ref_all.get(kind, {}).get(str(a.fleet))
    if ref_runs:
        ref = {k: statistics.median(r[k] for r in ref_runs) for k, _ in FIGURES}
    if a.save_reference:
        data = {}
        if os.path.exists(a.save_reference):
            with open(a.save_reference) as fh:
                data = json.load(fh)
        data.setdefault(kind, {})[str(a.fleet)] = med
        with open(a.save_reference, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
    print("fleet of %d modems, MQTT over %s, median of %d run(s)" %
          (a.fleet, "TLS" if a.tls else "TCP", a.runs))
    print("%-16s %12s %12s %8s" % ("figure", "this build", "reference", "ratio"))
    for k, label in FIGURES:
        old = ref.get(k) if ref else None
        print("%-16s %12.3f %12s %8s" % (label, med[k], "%.3f" % old if old else "-",
                                         "%.2fx" % (med[k] / old) if old else "-"))
    print("messages missing at the subscriber: %d" % med["missing"])
    return 1 if med["missing"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--counts", default="1,10,100")
    ap.add_argument("--fleet", type=int, metavar="N", help="the fleet benchmark with N modems")
    ap.add_argument("--tls", action="store_true", help="--fleet: MQTT over TLS")
    ap.add_argument("--runs", type=int, default=3, help="--fleet: runs to take the median of")
    ap.add_argument("--timeout", type=float, default=300.0, help="--fleet: deadline per phase")
    ap.add_argument("--window", type=int, default=0,
                    help="--fleet: at most this many modems in AT+QMTOPEN/QMTCONN at once "
                         "(0: all at once)")
    ap.add_argument("--reference", help="--fleet: JSON of reference figures")
    ap.add_argument("--save-reference", help="--fleet: add this run's figures to a JSON file")
    ap.add_argument("--reference-bin", metavar="PATH",
                    help="--fleet: measure the reference now, with this modemsim binary (of "
                         "another build tree of a checkout), a run of it before each run of "
                         "this build")
    a = ap.parse_args()
    if a.fleet:
        sys.exit(fleet_main(a))
    base = None
    print("%8s %14s %14s %10s" % ("modems", "commands/s", "per modem", "ratio"))
    for n in (int(x) for x in a.counts.split(",")):
        rate = run(n, a.seconds)
        base = base or rate
        print("%8d %14.0f %14.1f %9.2fx" % (n, rate, rate / n, rate / base))


if __name__ == "__main__":
    main()
