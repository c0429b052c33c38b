"""Drive many modems of one modemsim (--count N) through the same AT dialogue at once, from one
Python thread multiplexing every pty with poll(): the fleet benchmark (harness/bench.py --fleet)
and the fleet test (harness/tests/test_fleet_tls.py) share it.

A dialogue is a list of steps (send bytes, then wait for a pattern); every modem runs its own
copy, a modem sends its next step only when its previous one was answered, as a host driver
does. Dialogues run in phases with a barrier between them (every modem finishes phase k before
any starts phase k+1), so what the process spent on one phase can be read from /proc between
them. Every wait has a deadline.
"""
import os
import re
import select
import socket
import time

from .modemsim import BOOT_LAST, TcpTty, Timeout, Tty, tcp_address

HOST = "broker.modemsim.test"  # every name resolves to the embedded broker, 8883 to its TLS

OK_RE = re.compile(rb"\r\nOK\r\n")
ERROR_RE = re.compile(rb"\r\n(ERROR|\+CME ERROR: [^\r\n]*)\r\n")


class Step:
    """Send `send` (bytes, may be empty), then wait until `want` (compiled regex) matches what
    came back; `fail` (compiled regex) matching first is a failure of the modem."""

    def __init__(self, send, want, fail=ERROR_RE, name=None):
        self.send = send
        self.want = want
        self.fail = fail
        self.name = name or send[:40]


def cmd(line, want=OK_RE, name=None):
    return Step(line.encode() + b"\r", want, name=name or line)


def xor16(data):
    c = 0
    for i in range(0, len(data) - 1, 2):
        c ^= data[i] << 8 | data[i + 1]
    if len(data) % 2:
        c ^= data[-1] << 8
    return b"%x" % c


def qfupl(name, data):
    line = 'AT+QFUPL="%s",%d,5' % (name, len(data))
    return [Step(line.encode() + b"\r", re.compile(rb"\r\nCONNECT\r\n"), name=line),
            Step(data, re.compile(rb"\+QFUPL: %d,%s\r\n\r\nOK\r\n" % (len(data), xor16(data))),
                 name="QFUPL data")]


def tls_setup(ca, ctx=2):
    """EC25 dialect: the CA into RAM:, the data context up, SSL context ctx and MQTT client 0
    on it (as harness/tests/test_faults.py's tls_ready)."""
    return qfupl("RAM:ca.pem", ca) + [
        cmd("AT+QIACT=1"),
        cmd('AT+QSSLCFG="seclevel",%d,1' % ctx),
        cmd('AT+QSSLCFG="cacert",%d,"RAM:ca.pem"' % ctx),
        cmd('AT+QSSLCFG="sni",%d,1' % ctx),
        cmd('AT+QMTCFG="ssl",0,1,%d' % ctx),
    ]


def mqtt_connect(i, port=8883, host=HOST):
    return [
        cmd('AT+QMTOPEN=0,"%s",%d' % (host, port), re.compile(rb"\+QMTOPEN: 0,0\r\n")),
        cmd('AT+QMTCONN=0,"fleet-%d"' % i, re.compile(rb"\+QMTCONN: 0,0,0\r\n")),
    ]


def publish(topic, payload, msgid=1):
    line = 'AT+QMTPUB=0,%d,1,0,"%s"' % (msgid, topic)
    return [Step(line.encode() + b"\r", re.compile(rb"\r\n> "), name=line),
            Step(payload + b"\x1a", re.compile(rb"\+QMTPUB: 0,%d,0\r\n" % msgid),
                 fail=re.compile(rb"\+QMTPUB: 0,%d,[12]|\+QMTSTAT|ERROR" % msgid),
                 name="QMTPUB data")]


# A URC that ends the dialogue whatever step a modem is at.
FATAL_RE = re.compile(rb"\+QMTSTAT: 0,\d+\r\n|\+QMTOPEN: 0,-?[1-9]\d*\r\n|"
                      rb"\+QMTCONN: 0,\d,[1-9]\r\n")


class Fleet:
    """The host side of every modem of sim (a modemsim.ModemSim started with --count N)."""

    def __init__(self, sim, count):
        self.sim = sim
        self.ttys = [self._open(sim.path(i)) for i in range(count)]
        self.poll = select.poll()
        self.by_fd = {}
        for i, t in enumerate(self.ttys):
            self.poll.register(t.fd, select.POLLIN)
            self.by_fd[t.fd] = i
        self.done_at = [None] * count  # monotonic time each modem finished the last phase

    @staticmethod
    def _open(path):
        """A pty, or with --serial tcp-listen a connection to the modem's port."""
        if path.startswith("tcp:"):
            return TcpTty(socket.create_connection(tcp_address(path), timeout=30))
        return Tty(path)

    def close(self):
        for t in self.ttys:
            t.close()

    def boot(self, timeout=60.0):
        last = re.compile(re.escape(BOOT_LAST[self.sim.model]))
        self.run([[Step(b"", last, name="boot")] for _ in self.ttys], timeout)
        for t in self.ttys:  # what came after the last boot URC (nothing, normally)
            t.buf = b""

    def run(self, dialogues, timeout, window=0):
        """Run dialogues[i] on modem i, all at once, or at most `window` modems at a time
        (0: no limit; a modem starts when another finished); returns when every modem is done.
        Raises Timeout (with the modems still waiting) at the deadline, AssertionError when a
        modem answered with an error."""
        deadline = time.monotonic() + timeout
        pos = [0] * len(self.ttys)
        waiting = [i for i, d in enumerate(dialogues) if d]
        waiting.reverse()
        active = set()
        for i, d in enumerate(dialogues):
            if not d:
                self.done_at[i] = time.monotonic()

        def start_more():
            while waiting and (not window or len(active) < window):
                i = waiting.pop()
                active.add(i)
                self._send(i, dialogues[i][0])

        start_more()
        while active:
            # a step may already be answered by what is buffered
            for i in list(active):
                d = dialogues[i]
                while pos[i] < len(d) and self._answered(i, d[pos[i]]):
                    pos[i] += 1
                    if pos[i] < len(d):
                        self._send(i, d[pos[i]])
                    else:
                        self.done_at[i] = time.monotonic()
                        active.discard(i)
            start_more()
            if not active:
                break
            wait = deadline - time.monotonic()
            if wait <= 0:
                stuck = [(i, dialogues[i][pos[i]].name, self.ttys[i].buf[-200:])
                         for i in sorted(active)]
                raise Timeout("%d modem(s) not done within %.0f s (%d not started), e.g. %r" %
                              (len(stuck), timeout, len(waiting), stuck[:3]))
            for fd, _ in self.poll.poll(min(wait, 1.0) * 1000):
                i = self.by_fd[fd]
                try:
                    self.ttys[i].buf += os.read(fd, 65536)
                except BlockingIOError:
                    pass

    def _send(self, i, step):
        if step.send:
            self.ttys[i].write(step.send)

    def _answered(self, i, step):
        t = self.ttys[i]
        m = step.want.search(t.buf)
        bad = (step.fail and step.fail.search(t.buf)) or FATAL_RE.search(t.buf)
        if bad and (not m or bad.start() < m.start()):
            raise AssertionError("modem %d at %r: %r" % (i, step.name, t.buf[-300:]))
        if not m:
            return False
        t.buf = t.buf[m.end():]
        return True


def wait_topics(sub, topics, timeout):
    """Wait until sub (a broker.MqttClient) has a message on each of topics; returns the
    topics still missing at the deadline, sorted."""
    want = set(topics)
    deadline = time.monotonic() + timeout
    while True:
        missing = want - {m.topic for m in list(sub.messages)}
        left = deadline - time.monotonic()
        if not missing or left <= 0:
            return sorted(missing)
        try:
            sub.wait_for(lambda m: m.topic in missing, timeout=min(left, 1.0))
        except AssertionError:  # broker.Timeout: nothing new within the second
            pass


def listen_overflows():
    """TcpExt ListenOverflows of this network namespace (every process's listeners): SYNs or
    handshake ACKs dropped because an accept queue was full."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:]))["ListenOverflows"])
    return 0


def proc_status(pid):
    """VmRSS in KiB and utime+stime in seconds of process pid."""
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks
