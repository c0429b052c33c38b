"""A client for modemsim's control socket (--control PATH): send a scenario statement or a
query, one line, and read its one-line JSON answer. Every wait has a deadline.

    with Control(path) as ctl:
        ctl.ok('on "AT+CSQ" error 3')          # asserts {"ok": true}
        ctl.send("query modem 0")              # the decoded JSON answer
"""
import json
import os
import select
import socket
import time


class ControlError(AssertionError):
    pass


class Control:
    def __init__(self, path, timeout=5.0):
        self.path = path
        self.buf = b""
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise ControlError("no control socket at %s within %.1f s" % (path, timeout))
                time.sleep(0.02)
        self.sock.setblocking(False)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write(self, data, timeout=5.0):
        """Send raw bytes (no newline added)."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ControlError("control socket did not take input for %.1f s" % timeout)
                select.select([], [self.sock], [], left)

    def read_line(self, timeout=5.0):
        """The next answer line, raw (without the newline)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ControlError("no answer within %.1f s; got %r" % (timeout, self.buf))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise ControlError("control socket closed; got %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read(self, timeout=5.0):
        """The next answer, decoded."""
        return json.loads(self.read_line(timeout))

    def send(self, line, timeout=5.0):
        """Send one line and return its decoded answer."""
        if isinstance(line, str):
            line = line.encode()
        self.write(line + b"\n", timeout)
        return self.read(timeout)

    def ok(self, line, timeout=5.0):
        """Send a statement and assert it was taken."""
        ans = self.send(line, timeout)
        if ans != {"ok": True}:
            raise ControlError("%r: %r" % (line, ans))
        return ans

    def query(self, what, index=None, timeout=5.0):
        line = "query %s" % what if index is None else "query %s %d" % (what, index)
        ans = self.send(line, timeout)
        if not ans.get("ok"):
            raise ControlError("%r: %r" % (line, ans))
        return ans


def wait_for(pred, timeout=5.0, step=0.02, what=None):
    """Poll a control-socket query, the trace or a peer (never the tty) until pred() is true;
    its value, or raise naming `what` (a str, or a callable giving one at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            why = what() if callable(what) else what
            raise ControlError("%s within %.1f s" % (why or "condition not met", timeout))
        time.sleep(step)


def socket_mode(path):
    return os.stat(path).st_mode & 0o777
