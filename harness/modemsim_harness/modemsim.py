"""Drive the freshly built modemsim from Python: start it, open its ptys as a host does, and
read with deadlines. Every wait in this module has a deadline; nothing sleeps on a reply path.
"""
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import termios
import time
import tty

from .paths import BINARY, CHECKOUT as ROOT  # noqa: F401  (ROOT: None outside a checkout)

# Final result lines of an AT command (V1 framing).
FINAL_RE = re.compile(
    rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*|\+CMS ERROR: [^\r\n]*|NO CARRIER|SEND OK|SEND FAIL|"
    rb"CLOSE OK|DEACT OK|CONNECT(?: \d+)?|CONNECT OK|ALREADY CONNECT)\r\n")

SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:",
                     b"UndefinedBehaviorSanitizer")

BOOT_LAST = {"ec25": b"+QIND: PB DONE\r\n", "m95": b"SMS Ready\r\n", "bg96": b"+QIND: SMS DONE\r\n",
             "sim7600": b"PB DONE\r\n", "a7670": b"+CGEV: EPS PDN ACT 1\r\n",
             "sim7670g": b"+CGEV: EPS PDN ACT 1\r\n"}


def xor16(data):
    """The checksum a Quectel module prints after an upload (+QFUPL, +QSECWRITE, +QSECREAD;
    reference quectel.md §2), written independently of the C code: the big-endian 16-bit
    words XORed, an odd last byte as the high byte of a last word. An int."""
    c = 0
    for i in range(0, len(data) - 1, 2):
        c ^= data[i] << 8 | data[i + 1]
    if len(data) % 2:
        c ^= data[-1] << 8
    return c


def xor16_hex(data):
    """xor16 as the module prints it: lower-case hex, no leading zeros (bytes)."""
    return b"%x" % xor16(data)



class Timeout(AssertionError):
    pass


class Tty:
    """The host side of one modem's serial port, opened raw like a driver opens it."""

    model = None  # the dialect (ModemSim.open sets it), for modemsim_harness.at

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        # TCSANOW: tty.setraw's default TCSAFLUSH would discard what the modem already
        # sent (the boot URCs), as a host that flushes on open does.
        tty.setraw(self.fd, termios.TCSANOW)
        self.buf = b""

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Timeout("modem did not take input for 10 s")
                select.select([], [self.fd], [], 0.5)

    def _fill(self, deadline):
        """Read what is available, waiting until deadline; False on timeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], left)
        if not r:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        self.buf += chunk
        return True

    def read_until(self, pattern, timeout=5.0):
        """Bytes up to and including the first match of pattern (bytes or compiled regex)."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(pattern, bytes):
                i = self.buf.find(pattern)
                end = i + len(pattern) if i >= 0 else -1
            else:
                mt = pattern.search(self.buf)
                end = mt.end() if mt else -1
            if end >= 0:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            if not self._fill(deadline):
                raise Timeout("no %r within %.1f s; got %r" % (pattern, timeout, self.buf))

    def read_exact(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Timeout("wanted %d bytes within %.1f s; got %r" % (n, timeout, self.buf))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def expect(self, data, timeout=5.0):
        """Assert the next bytes from the modem are exactly data."""
        if isinstance(data, str):
            data = data.encode()
        got = self.read_exact(len(data), timeout)
        assert got == data, "expected %r, got %r" % (data, got)
        return got

    def drain(self, quiet=0.2, timeout=5.0):
        """Everything that arrives until the line has been quiet for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._fill(min(deadline, time.monotonic() + quiet)):
                break
        out, self.buf = self.buf, b""
        return out

    def cmd(self, line, timeout=5.0, end=b"\r"):
        """Send one command line and return everything up to its final result (echo
        included)."""
        if isinstance(line, str):
            line = line.encode()
        self.write(line + end)
        return self.read_until(FINAL_RE, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TcpTty(Tty):
    """The firmware side of a modem's serial port over TCP (--serial tcp-*): a connected
    socket, read and written as the tty is."""

    def __init__(self, sock):
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.fd = None


def tcp_address(path):
    """(host, port) of a `modem` line's tcp:HOST:PORT or tcp-connect:HOST:PORT, else None."""
    m = re.match(r"tcp(?:-connect)?:\[?([^\]]*?)\]?:(\d+)$", path)
    return (m.group(1), int(m.group(2))) if m else None


class ModemSim:
    """A running modemsim process."""

    def __init__(self, *args, model="ec25", timing="fast", count=1, state=None, trace=True,
                 log=True, workdir=None, env=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="modemsim-test-")
        self.stderr_path = os.path.join(self.workdir, "stderr.txt")
        self.trace_path = os.path.join(self.workdir, "trace.jsonl") if trace else None
        self.log_path = os.path.join(self.workdir, "transcript.log") if log else None
        argv = [BINARY, "--model", model, "--timing", timing]
        if count != 1:
            argv += ["--count", str(count)]
        if state:
            argv += ["--state", state]
        if self.trace_path:
            argv += ["--trace", self.trace_path]
        if self.log_path:
            argv += ["--log", self.log_path]
        argv += list(args)
        self.argv = argv
        self.model = model
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, env=env)
        self.modems = []
        self.broker = None
        self.stdout_lines = []
        self.ttys = []
        self._read_banner()

    def _read_banner(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        pending = b""
        fd = self.proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            if not r:
                self.kill()
                raise Timeout("modemsim printed no 'ready' within %.0f s: %r" % (timeout, pending))
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(timeout=5)
                raise AssertionError("modemsim exited %s before ready: %s" %
                                     (self.proc.returncode, self.stderr()))
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                text = line.decode()
                self.stdout_lines.append(text)
                if text.startswith("broker "):
                    f = text.split()
                    if "=" in text:  # the labelled form (stdout a terminal)
                        kv = dict(w.split("=", 1) for w in f[1:])
                        f = ["broker", kv["host"], kv["plain"], kv["tls"], kv["ca"],
                             kv["mutual"]]
                    self.broker = {"host": f[1], "plain": int(f[2]),
                                   "tls": None if f[3] == "-" else int(f[3]),
                                   "ca": f[4],
                                   "mutual": None if len(f) < 6 or f[5] == "-" else int(f[5])}
                if text.startswith("modem "):
                    _, idx, model, path = text.split()
                    self.modems.append((int(idx), model, path))
                if text == "ready":
                    return

    def path(self, i=0):
        return self.modems[i][2]

    def tcp_address(self, i=0):
        """(host, port) of modem i's serial port with --serial tcp-listen (or the address it
        dials with tcp-connect)."""
        return tcp_address(self.path(i))

    def open(self, i=0, boot=True):
        """Open modem i's tty (or connect to its tcp-listen port); with boot, read through its
        boot URCs first."""
        if self.path(i).startswith("tcp:"):
            t = TcpTty(socket.create_connection(self.tcp_address(i), timeout=5))
        else:
            t = Tty(self.path(i))
        t.model = self.model  # the dialect, for modemsim_harness.at
        self.ttys.append(t)
        if boot:
            t.read_until(BOOT_LAST[self.model], timeout=15)
        return t

    def stderr(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read()

    def trace(self):
        import json
        if not self.trace_path or not os.path.exists(self.trace_path):
            return []
        with open(self.trace_path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def trace_text(self, kinds=("tls", "net", "fault", "mqtt")):
        """The messages of the trace's events of these kinds, one a line (what tests search)."""
        return "\n".join(e.get("msg", "") for e in self.trace() if e.get("ev") in kinds)

    def transcript(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout=10.0):
        """SIGTERM, wait for a clean exit, and check stderr for sanitizer reports.
        Stopping twice returns the same status."""
        if self._stderr.closed:
            return self.proc.returncode
        for t in self.ttys:
            t.close()
        self.ttys = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("modemsim did not exit within %.0f s of SIGTERM" % timeout)
        self.proc.stdout.close()
        self._stderr.close()
        err = self.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in err, "sanitizer report in modemsim's stderr:\n" + err.decode(
                errors="replace")
        return self.proc.returncode
