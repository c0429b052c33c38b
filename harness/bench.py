"""Benchmarks that print figures beside a reference and the ratio, not pass/fail.

    /usr/bin/python3 harness/bench.py --all [--runs 3]     every part below, modest sizes
    /usr/bin/python3 harness/bench.py --at | --pub | --recv | --start | --fleet N [--tls]
    /usr/bin/python3 harness/bench.py [--seconds S] [--counts 1,10,100]   AT throughput scaling

Every part prints rows "figure, this build, reference, ratio" (the ratio is this build over the
reference; for a time lower is better, for a rate higher), each figure the median of --runs
runs. The references are programs built next to modemsim (bench/, never installed):
build/bench/ptypeer, a C program that opens ptys and answers every CR with "\r\nOK\r\n" and
nothing else, and build/bench/mqttpub, a libmosquitto publisher (built only when
libmosquitto-dev is installed; without it the rows say the reference is missing).

--at     AT round trip: "AT\r" -> "\r\nOK\r\n" (modemsim after ATE0) on one modem, --rt
         round trips, p50 and p99, against ptypeer; unpinned and with the client and the peer
         pinned to two different CPUs (sched_setaffinity). With strace on PATH, the system
         calls of modemsim and of the peer per round trip over --rt round trips (strace -c -f -p).
--pub    QMTPUB rate on one modem connected to the embedded broker (plain MQTT), --msgs
         messages one after the other (a host sends the next when +QMTPUB reported the last),
         QoS 0 and 1, the prompt form (AT+QMTPUB=0,1,1,0,"t", "> ", payload, Ctrl-Z) and the
         inline form (AT+QMTPUB=0,1,1,0,"t","msg"), against mqttpub publishing the same
         messages to the same broker. The physical limit of the prompt form: two pty round
         trips (ptypeer's p50, measured in the same run) and one broker round trip (mqttpub's
         QoS 1 p50); of the inline form one pty round trip and one broker round trip.
--recv   receive rate: mosquitto_pub -l publishes --msgs QoS 0 messages at the broker; the
         time from the first line given to a connected mosquitto_pub until the modem printed
         the last +QMTRECV on its tty, against mosquitto_sub receiving the same stream from the
         same broker (both bounded by mosquitto_pub's rate too).
--start  start-up: exec to modemsim's "ready" line with --count N (--start-counts, pty) and
         RSS then, against ptypeer opening N ptys; and N over --serial tcp-listen
         (--start-tcp, PORT --tcp-port and up) where kernel.pty.max is too small for N ptys,
         against ptypeer listening on N ports.
--fleet N  one modemsim with --count N and the embedded broker brings every modem through
         AT+QFUPL of the broker's CA, AT+QIACT, AT+QMTOPEN (over TLS with --tls, port 8883;
         plain MQTT on 1883 without), AT+QMTCONN and one QoS 1 AT+QMTPUB, all modems at once,
         with a barrier between the phases (harness/modemsim_harness/fleet.py). A subscriber on
         the broker must get every message. --fleet-tcp runs the modems' serial ports over
         TCP (--serial tcp-listen, ports --tcp-port and up), for N beyond the ptys; a fleet
         that one modemsim cannot hold in RLIMIT_NOFILE (3 descriptors a modem) runs as shards
         (--index-base) against one mosquitto the bench starts (plain MQTT only). The figures:

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

The fleet's reference: figures of an earlier build, printed side by side with the ratio
new/old. They come from --reference-bin PATH (that build measured now, its runs interleaved
with this build's: CPU time on a shared machine moves with its clock and neighbours by up to 2x
within minutes, so only an interleaved comparison of CPU figures means much), else --reference
FILE (JSON written by --save-reference FILE), else REFERENCE below (main before the shared-DRBG
change; see its comment). To measure another build alone, point MODEMSIM_BIN at its binary.

--all runs --at, --pub, --recv, --start and --fleet 1000 --tls, then --fleet-tcp with plain
MQTT (--all-fleet-tcp N, default 10000; 0 skips it). The bench raises its RLIMIT_NOFILE to the
hard limit (modemsim and the broker inherit it). Exit status 0 when every part ran and lost
nothing, 1 otherwise.
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from modemsim_harness import fleet as fl
from modemsim_harness import modemsim as ms
from modemsim_harness.broker import Broker, MqttClient, Pki
from modemsim_harness.modemsim import ModemSim, Timeout, Tty
from modemsim_harness.paths import pki_dir

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


# ---- the reference programs and the table every part prints ----------------------------------

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ms.BINARY))), "bench")


def ref_program(name):
    """build/bench/<name> next to the modemsim binary, or None when it was not built."""
    path = os.path.join(BENCH_DIR, name)
    return path if os.access(path, os.X_OK) else None


def table_head(title, runs):
    print()
    print("%s (median of %d run(s); load %s)" % (title, runs, load()))
    print("%-40s %12s %12s %8s" % ("figure", "this build", "reference", "ratio"))


def row(label, value, ref, fmt="%.1f"):
    """One table row; value or ref None prints "-" (missing, said in the label or a note)."""
    v = fmt % value if value is not None else "-"
    r = fmt % ref if ref is not None else "missing"
    ratio = "%.2fx" % (value / ref) if value is not None and ref else "-"
    print("%-40s %12s %12s %8s" % (label, v, r, ratio))
    sys.stdout.flush()


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


class Peer:
    """build/bench/ptypeer [count]: its "modem" paths after "ready"."""

    def __init__(self, count=1, timeout=60.0):
        self.proc = subprocess.Popen([ref_program("ptypeer"), str(count)], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.paths = read_banner(self.proc, timeout)[1]

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def read_banner(proc, timeout):
    """Lines of proc's stdout up to "ready": (lines, the paths of its "modem" lines)."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    pending, lines = b"", []
    while True:
        left = deadline - time.monotonic()
        r, _, _ = select.select([fd], [], [], max(left, 0))
        if not r:
            raise Timeout("no 'ready' within %.0f s: %r" % (timeout, lines[-3:]))
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError("exited %s before ready: %r" % (proc.wait(), lines[-3:]))
        pending += chunk
        *done, pending = pending.split(b"\n")
        lines += [x.decode() for x in done]
        if "ready" in lines:
            return lines, [x.split()[3] for x in lines if x.startswith("modem ")]


class Line:
    """The host side of one tty, blocking reads with a deadline: the least a client can add
    to a round trip, the same for modemsim and the peer."""

    def __init__(self, tty):
        self.tty = tty
        self.fd = tty.fd
        self.poll = select.poll()
        self.poll.register(self.fd, select.POLLIN)
        self.buf = tty.buf
        tty.buf = b""

    def until(self, want, timeout=10.0):
        while want not in self.buf:
            if not self.poll.poll(timeout * 1000):
                raise Timeout("no %r within %.0f s; got %r" % (want, timeout, self.buf[-200:]))
            try:
                self.buf += os.read(self.fd, 65536)
            except BlockingIOError:
                pass
        i = self.buf.index(want) + len(want)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def round_trips(self, line, want, k):
        """k round trips of line -> want; latencies in microseconds."""
        lat = []
        for _ in range(k):
            t0 = time.perf_counter_ns()
            os.write(self.fd, line)
            self.until(want)
            lat.append((time.perf_counter_ns() - t0) / 1000)
        return lat


def pin(pid, cpu):
    if cpu is not None:
        os.sched_setaffinity(pid, {cpu})


def two_cpus():
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


# ---- a) AT round trip --------------------------------------------------------------------------

def at_once(k, pinned):
    """One run: p50/p99 (µs) of k "AT" round trips on modemsim and on ptypeer."""
    out = {}
    cpus = two_cpus() if pinned else None
    mine = os.sched_getaffinity(0)
    peer = Peer()
    sim = ModemSim(trace=False, log=False)
    try:
        st = sim.open(0)
        st.cmd("ATE0")
        for name, pid, tty in (("peer", peer.proc.pid, Tty(peer.paths[0])),
                               ("sim", sim.proc.pid, st)):
            if cpus:
                pin(0, cpus[0])
                pin(pid, cpus[1])
            ln = Line(tty)
            ln.round_trips(b"AT\r", b"\r\nOK\r\n", max(k // 10, 10))  # warm up
            lat = ln.round_trips(b"AT\r", b"\r\nOK\r\n", k)
            out[name] = (pct(lat, 0.5), pct(lat, 0.99))
            if name == "peer":
                tty.close()
    finally:
        os.sched_setaffinity(0, mine)
        sim.stop()
        peer.stop()
    return out


def strace_calls(pid, tty, k):
    """System calls of process pid (all threads) per round trip over k "AT" round trips on tty
    (strace -c -f -p): {name: calls / k}, or None without strace or its attach."""
    if not shutil.which("strace"):
        return None
    fd, out = tempfile.mkstemp(prefix="bench-strace-")
    os.close(fd)
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", out],
                          stderr=subprocess.PIPE)
    try:
        # "strace: Process N attached [with M threads]": every thread is traced from then on
        deadline = time.monotonic() + 10
        err = b""
        while b"attached" not in err:
            r, _, _ = select.select([st.stderr], [], [], max(deadline - time.monotonic(), 0))
            chunk = os.read(st.stderr.fileno(), 4096) if r else b""
            if not chunk:
                return None
            err += chunk
        ln = Line(tty)
        ln.round_trips(b"AT\r", b"\r\nOK\r\n", k)
        tty.buf = ln.buf
        st.send_signal(signal.SIGINT)
        st.wait(timeout=10)
        calls = {}
        with open(out) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
                if m and m.group(2) != "total":
                    calls[m.group(2)] = int(m.group(1)) / k
        return calls
    finally:
        if st.poll() is None:
            st.kill()
            st.wait(timeout=10)
        st.stderr.close()
        os.unlink(out)


def at_syscalls(k):
    sim = ModemSim(trace=False, log=False)
    peer = Peer()
    try:
        st = sim.open(0)
        st.cmd("ATE0")
        pt = Tty(peer.paths[0])
        res = {"sim": strace_calls(sim.proc.pid, st, k), "peer": strace_calls(peer.proc.pid, pt, k)}
        pt.close()
        return res
    finally:
        sim.stop()
        peer.stop()


def at_main(a):
    table_head("AT round trip, one modem, %d x \"AT\\r\" after ATE0, vs build/bench/ptypeer"
               % a.rt, a.runs)
    if not ref_program("ptypeer"):
        print("build/bench/ptypeer missing: build the tree (cmake --build build)")
        return {}, 1
    modes = [("unpinned", False)] + ([("pinned", True)] if two_cpus() else [])
    res = {}
    for _ in range(a.runs):
        for mode, p in modes:
            res.setdefault(mode, []).append(at_once(a.rt, p))
    figures = {}
    for mode, _ in modes:
        for i, q in ((0, "p50"), (1, "p99")):
            sim = med(r["sim"][i] for r in res[mode])
            peer = med(r["peer"][i] for r in res[mode])
            row("AT round trip %s, %s (us)" % (q, mode), sim, peer)
            figures["%s_%s" % (q, mode)] = (sim, peer)
    if not two_cpus():
        print("(one CPU: no pinned figures)")
    calls = at_syscalls(a.rt)
    if calls["sim"] is None or calls["peer"] is None:
        print("syscalls per round trip: strace missing or not permitted")
    else:
        row("syscalls per AT round trip", sum(calls["sim"].values()),
            sum(calls["peer"].values()), "%.2f")
        for who in ("sim", "peer"):
            print("  %-5s %s" % (who, ", ".join("%s %.2f" % kv for kv in sorted(
                calls[who].items(), key=lambda kv: -kv[1]) if kv[1] >= 0.01)))
    return figures, 0


# ---- b) QMTPUB rate ----------------------------------------------------------------------------

TOPIC = "bench/pub"
PAYLOAD = "0123456789abcdef"


def mqtt_ready(sim, client_id="bench"):
    """Modem 0 of sim (ATE0) attached and connected to the embedded broker's plain listener."""
    t = sim.open(0)
    t.cmd("ATE0")
    ln = Line(t)
    os.write(ln.fd, b"AT+QIACT=1\r")
    ln.until(b"OK\r\n", 30)
    os.write(ln.fd, ('AT+QMTOPEN=0,"%s",1883\r' % fl.HOST).encode())
    ln.until(b"+QMTOPEN: 0,0\r\n", 30)
    os.write(ln.fd, ('AT+QMTCONN=0,"%s"\r' % client_id).encode())
    ln.until(b"+QMTCONN: 0,0,0\r\n", 30)
    return ln


def publish_rate(ln, k, qos, inline):
    """k publishes one after the other; (messages per second, p50 µs, the p50s (µs) of the
    prompt form's three waits: for "> ", for OK after the payload, for +QMTPUB after OK)."""
    lat, parts = [], []
    t0 = time.perf_counter()
    for i in range(k):
        mid = (i % 65535) + 1 if qos else 0
        head = 'AT+QMTPUB=0,%d,%d,0,"%s"' % (mid, qos, TOPIC)
        done = b"+QMTPUB: 0,%d,0\r\n" % mid
        t = time.perf_counter_ns()
        if inline:
            os.write(ln.fd, ('%s,"%s"\r' % (head, PAYLOAD)).encode())
            ln.until(done)
        else:
            os.write(ln.fd, head.encode() + b"\r")
            ln.until(b"> ")
            t1 = time.perf_counter_ns()
            os.write(ln.fd, PAYLOAD.encode() + b"\x1a")
            ln.until(b"\r\nOK\r\n")
            t2 = time.perf_counter_ns()
            ln.until(done)
            parts.append((t1 - t, t2 - t1, time.perf_counter_ns() - t2))
        lat.append((time.perf_counter_ns() - t) / 1000)
    split = tuple(pct([p[j] / 1000 for p in parts], 0.5) for j in range(3)) if parts else None
    return k / (time.perf_counter() - t0), pct(lat, 0.5), split


def mqttpub(port, qos, k):
    """The reference: (messages per second, p50 µs), or None without build/bench/mqttpub."""
    prog = ref_program("mqttpub")
    if not prog:
        return None
    out = subprocess.run([prog, "127.0.0.1", str(port), str(qos), str(k), TOPIC, PAYLOAD],
                         capture_output=True, timeout=120, check=True).stdout.decode()
    f = dict(w.split("=") for w in out.split()[1:])
    return k / float(f["seconds"]), float(f["p50_us"])


def peer_p50(k):
    peer = Peer()
    try:
        t = Tty(peer.paths[0])
        ln = Line(t)
        ln.round_trips(b"AT\r", b"\r\nOK\r\n", 20)
        lat = ln.round_trips(b"AT\r", b"\r\nOK\r\n", k)
        t.close()
        return pct(lat, 0.5)
    finally:
        peer.stop()


FORMS = ((0, False), (0, True), (1, False), (1, True))


def pub_once(k):
    sim = ModemSim("--broker", "embedded", trace=False, log=False)
    try:
        ln = mqtt_ready(sim)
        res = {}
        for qos, inline in FORMS:
            res[(qos, inline)] = publish_rate(ln, k, qos, inline)
        for qos in (0, 1):
            res[("ref", qos)] = mqttpub(sim.broker["plain"], qos, k)
        res["peer_p50"] = peer_p50(200)
        return res
    finally:
        sim.stop()


def pub_main(a):
    table_head("QMTPUB, one modem, %d messages of %d bytes each form, plain MQTT to the "
               "embedded broker, vs libmosquitto (build/bench/mqttpub)" % (a.msgs, len(PAYLOAD)),
               a.runs)
    runs = [pub_once(a.msgs) for _ in range(a.runs)]
    have_ref = runs[0][("ref", 0)] is not None
    for qos, inline in FORMS:
        rate = med(r[(qos, inline)][0] for r in runs)
        ref = med(r[("ref", qos)][0] for r in runs) if have_ref else None
        row("QoS %d %s publishes/s" % (qos, "inline" if inline else "prompt"), rate, ref)
    if not have_ref:
        print("(reference missing: build/bench/mqttpub needs libmosquitto-dev at build time)")
        return 0
    # the physical limit: pty round trips of the bare peer + one broker round trip
    for inline, trips in ((False, 2), (True, 1)):
        limits = [1e6 / (trips * r["peer_p50"] + r[("ref", 1)][1]) for r in runs]
        rate = med(1e6 / r[(1, inline)][1] for r in runs)  # p50-based, as the limit
        row("QoS 1 %s 1/p50 vs physical limit (/s)" % ("inline" if inline else "prompt"), rate,
            med(limits))
    print("  limit = 1 / (%d x pty round trip %.1f us + broker round trip %.1f us) for the "
          "prompt form" % (2, med(r["peer_p50"] for r in runs),
                           med(r[("ref", 1)][1] for r in runs)))
    split = [med(r[(1, False)][2][j] for r in runs) for j in range(3)]
    print("  QoS 1 prompt form, p50 of its waits: \"> \" %.1f us, OK after the payload %.1f us, "
          "+QMTPUB after OK %.1f us" % tuple(split))
    return 0


# ---- c) receive rate ---------------------------------------------------------------------------

RX_TOPIC = "bench/rx"


class Stream:
    """mosquitto_pub -l, connected (its CONNACK seen) and waiting for lines; send(k) writes k
    QoS 0 lines "m<i>" to RX_TOPIC at once, which it publishes as fast as it reads them."""

    def __init__(self, port):
        self.proc = subprocess.Popen(["stdbuf", "-oL", "mosquitto_pub", "-h", "127.0.0.1", "-p",
                                      str(port), "-t", RX_TOPIC, "-l", "-q", "0", "-d"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + 10
        while b"CONNACK" not in buf:
            r, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not r:
                raise Timeout("mosquitto_pub: no CONNACK")
            buf += os.read(fd, 65536)
        # its debug lines, one per message, must not fill the pipe
        self.drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self.drain.start()

    def send(self, k):
        self.proc.stdin.write(b"".join(b"m%d\n" % i for i in range(k)))
        self.proc.stdin.close()

    def wait(self):
        self.proc.wait(timeout=30)
        self.drain.join(timeout=10)
        self.proc.stdout.close()


def recv_modem(sim, k, timeout):
    """Seconds from the first publish to the k-th +QMTRECV on the tty, and how many arrived."""
    ln = mqtt_ready(sim, "bench-rx")
    os.write(ln.fd, ('AT+QMTSUB=0,1,"%s",0\r' % RX_TOPIC).encode())
    ln.until(b"+QMTSUB: 0,1,0,0\r\n")
    ln.buf = b""
    pub = Stream(sim.broker["plain"])
    t0 = time.perf_counter()
    pub.send(k)
    got, last = 0, t0
    deadline = time.monotonic() + timeout
    tail = b""
    while got < k and time.monotonic() < deadline:
        if ln.poll.poll(1000):
            chunk = tail + os.read(ln.fd, 65536)
            n = chunk.count(b"+QMTRECV:")
            tail = chunk[-8:]  # a marker split between two reads (9 bytes: never in tail)
            if n:
                got += n
                last = time.perf_counter()
    pub.wait()
    return last - t0, got


def recv_sub(port, k, timeout):
    """The same for mosquitto_sub (its stdout line-buffered with stdbuf: a pipe); it is
    subscribed once a probe message published after it started reaches it."""
    sub = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port),
                            "-t", RX_TOPIC, "-q", "0"], stdout=subprocess.PIPE)
    try:
        fd = sub.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + 10
        while b"probe\n" not in buf:
            if time.monotonic() > deadline:
                raise Timeout("mosquitto_sub: no probe message within 10 s")
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", RX_TOPIC,
                            "-m", "probe"], check=True, timeout=10)
            while select.select([fd], [], [], 0.1)[0]:
                buf += os.read(fd, 65536)
        pub = Stream(port)
        t0 = time.perf_counter()
        pub.send(k)
        got, last, part = 0, t0, b""
        deadline = time.monotonic() + timeout
        while got < k and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 1.0)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, part = (part + chunk).split(b"\n")
                n = sum(1 for x in lines if x.startswith(b"m"))
                if n:
                    got += n
                    last = time.perf_counter()
        pub.wait()
        return last - t0, got
    finally:
        sub.kill()
        sub.wait(timeout=10)
        sub.stdout.close()


def recv_main(a):
    table_head("Receive, %d QoS 0 messages from mosquitto_pub -l to one modem's +QMTRECV "
               "URCs, vs mosquitto_sub" % a.msgs, a.runs)
    runs = []
    have_sub = shutil.which("mosquitto_sub") is not None
    for _ in range(a.runs):
        sim = ModemSim("--broker", "embedded", trace=False, log=False)
        try:
            secs, got = recv_modem(sim, a.msgs, 60)
            ref = recv_sub(sim.broker["plain"], a.msgs, 60) if have_sub else (None, 0)
        finally:
            sim.stop()
        runs.append((got / secs if got else 0, got, ref[1] / ref[0] if ref[1] else None, ref[1]))
    row("messages received/s", med(r[0] for r in runs), med(r[2] for r in runs))
    lost = max(a.msgs - r[1] for r in runs)
    print("  lost: modem %d, mosquitto_sub %s (worst run)" %
          (lost, max(a.msgs - r[3] for r in runs) if have_sub else "missing"))
    return 1 if lost else 0


# ---- d) start-up -------------------------------------------------------------------------------

def vmrss(pid):
    return fl.proc_status(pid)[0]


def start_once(argv, timeout):
    """Seconds from exec to "ready" and VmRSS (KiB) then, of argv; or an error text."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        read_banner(p, timeout)
        secs = time.perf_counter() - t0
        return secs, vmrss(p.pid)
    except (Timeout, AssertionError) as e:
        err = p.stderr.read().decode(errors="replace") if p.poll() is not None else ""
        return "%s %s" % (e, err.strip()[-300:])
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()
        p.stderr.close()


def start_main(a):
    table_head("Start-up: exec to the \"ready\" line, vs build/bench/ptypeer N", a.runs)
    status = 0
    base = [ms.BINARY, "--timing", "fast", "--broker", "none"]
    cases = [(n, "pty") for n in a.start_counts] + [(n, "tcp") for n in a.start_tcp]
    for n, kind in cases:
        argv = base + ["--count", str(n)]
        if kind == "tcp":
            argv += ["--serial", "tcp-listen:127.0.0.1:%d" % a.tcp_port]
        sims, peers = [], []
        for _ in range(a.runs):
            sims.append(start_once(argv, a.timeout))
            peer = [ref_program("ptypeer"), str(n)]
            if kind == "tcp":
                peer.append("tcp:%d" % a.tcp_port)
            peers.append(start_once(peer, a.timeout))
        bad = [r for r in sims + peers if isinstance(r, str)]
        if bad:
            print("N=%d %s: failed: %s" % (n, kind, bad[0]))
            status = 1
            continue
        ref_t = med(r[0] for r in peers) if peers else None
        ref_m = med(r[1] for r in peers) if peers else None
        row("start-up N=%d %s (ms)" % (n, kind), med(r[0] for r in sims) * 1000,
            ref_t * 1000 if ref_t else None)
        row("RSS at ready N=%d %s, per modem (KiB)" % (n, kind), med(r[1] for r in sims) / n,
            ref_m / n if ref_m else None)
    print("  (kernel.pty.max %s, ptys in use %s)" %
          (sysctl("kernel/pty/max"), sysctl("kernel/pty/nr")))
    return status


def sysctl(name):
    try:
        with open("/proc/sys/" + name) as f:
            return f.read().strip()
    except OSError:
        return "?"


# ---- e) the fleet -----------------------------------------------------------------------------

class Shards:
    """S modemsim processes serving one fleet of n modems over TCP serial ports, modems
    k*n/S.. of shard k (--index-base), each --broker none with a route to one mosquitto the
    bench runs (README "Sharding a fleet"): a fleet beyond one process's descriptor limit.
    Looks like a ModemSim to fleet.Fleet (model, path(i))."""

    def __init__(self, n, shards, port):
        self.model = "ec25"
        # the embedded broker's queue (sim/net/broker.c): the subscriber takes a burst of n
        self.broker_proc = Broker(Pki.generate(pki_dir()),
                                  max_queued_messages=max(n, 1000)).start()
        self.broker = {"plain": self.broker_proc.ports["plain"]}
        route = "1883=127.0.0.1:%d" % self.broker["plain"]
        self.sims, self.first = [], []
        per = -(-n // shards)
        try:
            for base in range(0, n, per):
                cnt = min(per, n - base)
                self.first.append(base)
                self.sims.append(ModemSim("--broker", "none", "--route", route, "--index-base",
                                          str(base), "--serial",
                                          "tcp-listen:127.0.0.1:%d" % (port + base),
                                          count=cnt, trace=False, log=False))
        except Exception:
            self.stop()
            raise
        self.pids = [x.proc.pid for x in self.sims]

    def path(self, i):
        k = max(k for k, b in enumerate(self.first) if b <= i)
        return self.sims[k].path(i - self.first[k])

    def stop(self, timeout=60):
        for x in self.sims:
            x.stop(timeout=timeout)
        self.broker_proc.stop()


def status_of(pids):
    """fleet.proc_status summed over processes."""
    rs = [fl.proc_status(p) for p in pids]
    return sum(r[0] for r in rs), sum(r[1] for r in rs)


def fleet_run(n, tls, timeout, window=0, binary=None, serial=None, shards=1, port=20000):
    """One fleet run (of binary: this build's when None; serial: a --serial SPEC; shards > 1:
    that many processes over TCP serial ports from port); returns the figures (see the module
    docstring)."""
    if binary:
        ms.BINARY = binary
    if shards > 1:
        if tls:
            raise ValueError("a sharded fleet is plain MQTT only (the bench's mosquitto is "
                             "routed for port 1883)")
        sim = Shards(n, shards, port)
        pids, host = sim.pids, "127.0.0.1"
    else:
        sim = ModemSim("--broker", "embedded", *(["--serial", serial] if serial else []),
                       count=n, trace=False, log=False)
        pids, host = [sim.proc.pid], fl.HOST
    sub = None
    f = None
    try:
        # before the fleet's descriptors: paho's loop uses select(), which takes fds < 1024
        sub = MqttClient("127.0.0.1", sim.broker["plain"], "fleet-bench-sub")
        assert sub.connect() == 0
        sub.subscribe("fleet/#", qos=1)
        f = fl.Fleet(sim, n)
        f.boot(timeout)
        rss_idle, _ = status_of(pids)
        setup = [fl.cmd("AT+QIACT=1")]
        if tls:
            with open(sim.broker["ca"], "rb") as fh:
                setup = fl.tls_setup(fh.read())
        f.run([list(setup) for _ in range(n)], timeout)
        rss0, cpu0 = status_of(pids)
        ovf0 = fl.listen_overflows()
        t0 = time.monotonic()
        f.run([fl.mqtt_connect(i, 8883 if tls else 1883, host) for i in range(n)], timeout,
              window)
        wall = max(f.done_at) - t0
        rss1, cpu1 = status_of(pids)
        overflows = fl.listen_overflows() - ovf0
        f.run([fl.publish("fleet/%d" % i, b"m%d" % i) for i in range(n)], timeout)
        missing = fl.wait_topics(sub, ["fleet/%d" % i for i in range(n)], timeout)
        return {"n": n, "tls": tls, "rss_idle_kb": rss_idle / n, "rss_conn_kb": (rss1 - rss0) / n,
                "cpu_conn_ms": (cpu1 - cpu0) * 1000 / n,
                "conn_per_s": n / (cpu1 - cpu0) if cpu1 > cpu0 else None,  # < 1 tick
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


def fleet_fit(n, nofile):
    """(n, shards) for a fleet of n over TCP serial ports: the fewest modemsim processes whose
    modems fit in nofile descriptors each (3 a modem: its listener, the host's connection,
    the broker connection; 64 for the rest); n itself shrinks to what this process (one
    socket a modem) and the broker can hold. Returns (n, shards, a note or None)."""
    fit = min(n, nofile - 128)
    shards = -(-(3 * fit) // (nofile - 64))
    note = None
    if fit < n:
        note = "N=%d: this process and the broker hold one descriptor a modem, RLIMIT_NOFILE " \
               "is %d: N=%d instead" % (n, nofile, fit)
    elif shards > 1:
        note = ("N=%d over TCP serial ports needs %d descriptors in one modemsim (3 a modem: "
                "its listener, the host's connection, the broker connection); RLIMIT_NOFILE is "
                "%d (its hard limit): %d shards (--index-base) against one mosquitto" %
                (n, 3 * n + 64, nofile, shards))
    return fit, shards, note


def fleet_main(a, serial=None):
    kind = "tls" if a.tls else "plain"
    shards = 1
    if serial:
        a.fleet, shards, note = fleet_fit(a.fleet, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        if note:
            print(note)
    ours = ms.BINARY
    runs, ref_runs = [], []
    for _ in range(a.runs):
        if a.reference_bin:  # interleaved: both builds see the same machine
            ref_runs.append(fleet_run(a.fleet, a.tls, a.timeout, a.window, a.reference_bin,
                                      serial, shards, a.tcp_port))
        runs.append(fleet_run(a.fleet, a.tls, a.timeout, a.window, ours, serial, shards,
                              a.tcp_port))
    for label, rs in (("reference run", ref_runs), ("run", runs)):
        for r in rs:
            print("%s: " % label + " ".join("%s=%s" % (k, r[k]) for k, _ in FIGURES) +
                  " missing=%d" % r["missing"], file=sys.stderr)
    fig = {k: med(r[k] for r in runs) for k, _ in FIGURES}
    fig["missing"] = max(r["missing"] for r in runs)
    ref_all = REFERENCE
    if a.reference:
        with open(a.reference) as fh:
            ref_all = json.load(fh)
    ref = ref_all.get(kind, {}).get(str(a.fleet))
    ref_note = None
    if ref is None and ref_all.get(kind):  # the per-modem figures of the nearest N
        near = min(ref_all[kind], key=lambda k: abs(int(k) - a.fleet))
        ref = ref_all[kind][near]
        ref_note = "reference: N=%s over ptys (wall s is not per modem)" % near
    if ref_runs:
        ref = {k: med(r[k] for r in ref_runs) for k, _ in FIGURES}
    if a.save_reference:
        data = {}
        if os.path.exists(a.save_reference):
            with open(a.save_reference) as fh:
                data = json.load(fh)
        data.setdefault(kind, {})[str(a.fleet)] = fig
        with open(a.save_reference, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
    table_head("Fleet of %d modems, MQTT over %s, serial ports over %s%s" %
               (a.fleet, "TLS" if a.tls else "TCP", "TCP" if serial else "ptys",
                ", %d processes" % shards if shards > 1 else ""), a.runs)
    for k, label in FIGURES:
        row(label, fig[k], ref.get(k) if ref else None, "%.3f")
    print("  messages missing at the subscriber: %d of %d" % (fig["missing"], a.fleet))
    if ref_note and not ref_runs:
        print("  " + ref_note)
    return 1 if fig["missing"] else 0


def raise_nofile():
    """RLIMIT_NOFILE for this process and what it starts (modemsim, its broker): 65536 where
    the hard limit may be raised (CAP_SYS_RESOURCE), else the hard limit. A fleet of N over
    TCP serial ports takes 3N descriptors in modemsim (listener, host, broker connection), N
    here and N in the broker."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (max(hard, 65536), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    return soft


def part(name, fn, *args):
    """Run one part; a failure is printed and makes the status 1, the next part still runs."""
    try:
        r = fn(*args)
        return r[1] if isinstance(r, tuple) else r
    except Exception as e:  # noqa: BLE001 (a bench reports and goes on)
        print("%s: FAILED: %s: %s" % (name, type(e).__name__, str(e)[:500]))
        return 1


def ints(text):
    return [int(x) for x in text.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="every part with modest sizes")
    ap.add_argument("--at", action="store_true", help="AT round trip vs ptypeer")
    ap.add_argument("--pub", action="store_true", help="QMTPUB rate vs libmosquitto")
    ap.add_argument("--recv", action="store_true", help="+QMTRECV rate vs mosquitto_sub")
    ap.add_argument("--start", action="store_true", help="start-up time and RSS")
    ap.add_argument("--rt", type=int, default=2000, help="--at: round trips per run")
    ap.add_argument("--msgs", type=int, default=1000, help="--pub, --recv: messages per run")
    ap.add_argument("--start-counts", type=ints, default=[1000],
                    help="--start: modem counts over ptys (comma-separated)")
    ap.add_argument("--start-tcp", type=ints, default=[10000],
                    help="--start: modem counts over --serial tcp-listen")
    ap.add_argument("--tcp-port", type=int, default=20000,
                    help="first port of --serial tcp-listen (below the ephemeral range: "
                         "10,000 modems and their broker connections would exhaust it)")
    ap.add_argument("--all-fleet-tcp", type=int, default=10000, metavar="N",
                    help="--all: the plain-MQTT fleet over TCP serial ports (0: skip)")
    ap.add_argument("--fleet-tcp", action="store_true",
                    help="--fleet: the modems' serial ports over TCP (--serial tcp-listen)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--counts", default="1,10,100")
    ap.add_argument("--fleet", type=int, metavar="N", help="the fleet benchmark with N modems")
    ap.add_argument("--tls", action="store_true", help="--fleet: MQTT over TLS")
    ap.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    ap.add_argument("--timeout", type=float, default=300.0, help="deadline per phase")
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
    nofile = raise_nofile()
    tcp = "tcp-listen:127.0.0.1:%d" % a.tcp_port
    if a.all or a.at or a.pub or a.recv or a.start:
        print("modemsim %s; %d CPU(s); RLIMIT_NOFILE %d; load %s" %
              (ms.BINARY, os.cpu_count(), nofile, load()))
        status = 0
        if a.all or a.at:
            status |= part("at", at_main, a)
        if a.all or a.pub:
            status |= part("pub", pub_main, a)
        if a.all or a.recv:
            status |= part("recv", recv_main, a)
        if a.all or a.start:
            status |= part("start", start_main, a)
        if a.all:
            a.fleet = a.fleet or 1000
            a.tls = True
            status |= part("fleet", fleet_main, a)
            if a.all_fleet_tcp:
                a.fleet, a.tls = a.all_fleet_tcp, False
                a.window = a.window or 100
                status |= part("fleet-tcp", fleet_main, a, tcp)
        sys.exit(status)
    if a.fleet:
        sys.exit(fleet_main(a, tcp if a.fleet_tcp else None))
    base = None
    print("%8s %14s %14s %10s" % ("modems", "commands/s", "per modem", "ratio"))
    for n in (int(x) for x in a.counts.split(",")):
        rate = run(n, a.seconds)
        base = base or rate
        print("%8d %14.0f %14.1f %9.2fx" % (n, rate, rate / n, rate / base))


if __name__ == "__main__":
    main()
