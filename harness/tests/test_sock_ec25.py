"""EC25 sockets end to end, byte for byte: AT+QIOPEN/QISEND/QIRD/QICLOSE/QISTATE (EC2x TCP/IP
AN), AT+QSSLOPEN/QSSLSEND/QSSLRECV/QSSLCLOSE/QSSLSTATE (reference §5b), their URCs, the three
access modes (buffer, direct push, transparent with "+++" and ATO), the 55x/56x codes
(reference §4a; every certificate failure is 566, §8 item 13), and host-drivers.md items 1, 12
and 14.

The peers are real and on loopback, started by each test: a TCP or TLS (Python ssl module, the
test PKI) listener whose connections run a handler in a thread. The integrity tests move 1 MiB
of random bytes each way in every mode, TCP and TLS, and compare SHA-256 hashes. The MQTT
test runs a host-side MQTT session (packets built byte for byte) through an EC25 TLS socket
against the embedded mosquitto's TLS listener.
"""
import hashlib
import os
import re
import socket
import ssl
import threading
import time

import pytest

from broker import MqttClient
import fakebroker as fbk
from modemsim import FINAL_RE
from control import wait_for
from modemsim_harness.at import b, check, err, escape, ok, pause, upload, urc

MiB = 1 << 20
PEER_HOST = "peer.modemsim.test"  # --resolve *=127.0.0.1; a name the PKI's certificates carry
RX_LIMIT = 64 * 1024  # sock/sock.h SOCK_RX_LIMIT
READ_CHUNK = 16 * 1024  # net/conn.c reads at most this much at once


# ---------------------------------------------------------------- helpers


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the peers


class Peer:
    """A listener on 127.0.0.1 started by the test: plain TCP, or TLS with a certificate of the
    test PKI (tls=(pki, "server.pem")). Every accepted connection runs handler(peer, conn) in a
    thread of its own; a TLS handshake failure is recorded in self.errors. rcvbuf shrinks the
    accepted sockets' receive buffer, so a peer that does not read closes its window soon."""

    def __init__(self, handler, tls=None, rcvbuf=None):
        self.handler = handler
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.ctx = None
        if tls:
            pki, cert = tls
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(pki[cert], pki["server.key"])
        self.conns = []
        self.errors = []
        self.received = {}  # connection number -> bytes
        self.sent = {}  # connection number -> bytes sent so far
        self.finished = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.ctx:
                c = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.errors.append(e)
            c.close()
            return
        with self.lock:
            n = len(self.conns)
            self.conns.append(c)
            self.received[n] = b""
            self.sent[n] = 0
        try:
            self.handler(self, n, c)
        except (OSError, ssl.SSLError) as e:
            self.errors.append(e)
        finally:
            self.finished.append(n)
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.ls.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def echo(peer, n, c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        peer.received[n] += d
        c.sendall(d)


def recv_exact(peer, n, c, size):
    while len(peer.received[n]) < size:
        d = c.recv(65536)
        if not d:
            raise AssertionError("peer: EOF after %d of %d bytes" % (len(peer.received[n]), size))
        peer.received[n] += d


def send_counted(peer, n, c, data):
    for off in range(0, len(data), 16384):
        c.sendall(data[off:off + 16384])
        peer.sent[n] = off + len(data[off:off + 16384])


def exchange(size_in, data_out):
    """Read size_in bytes from the modem, then send data_out, then close."""
    def run(peer, n, c):
        recv_exact(peer, n, c, size_in)
        send_counted(peer, n, c, data_out)
    return run


def silent(peer, n, c):
    """Accept and never read, until the test closes the peer."""
    peer.stopped.wait(30)


# ---------------------------------------------------------------- the modem side


@pytest.fixture
def rig(modemsim):
    """rig(*extra) -> a booted EC25 (--broker none: names resolve to 127.0.0.1) with context 1
    up."""

    def make(*extra, timing="fast"):
        sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", *extra, model="ec25",
                       timing=timing)
        t = sim.open()
        t.sim = sim
        check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
        return t

    return make


def tls_ready(t, pki, ctx=0, **keys):
    """CA uploaded as RAM:ca.pem and SSL context ctx set to verify the server with it."""
    upload(t, "RAM:ca.pem", open(pki["ca.pem"], "rb").read())
    keys.setdefault("seclevel", 1)
    keys.setdefault("cacert", "RAM:ca.pem")
    for key, value in keys.items():
        if isinstance(value, str):
            value = '"%s"' % value
        line = 'AT+QSSLCFG="%s",%d,%s' % (key, ctx, value)
        check(t, line, ok(line))


def open_line(tls, cid, mode, port, host=PEER_HOST, ctx=0):
    if tls:
        return 'AT+QSSLOPEN=1,%d,%d,"%s",%d,%d' % (ctx, cid, host, port, mode)
    return 'AT+QIOPEN=1,%d,"TCP","%s",%d,0,%d' % (cid, host, port, mode)


def sopen(t, tls, cid, mode, port, **kw):
    """Open a socket and see it succeed: OK + the result URC, or CONNECT."""
    line = open_line(tls, cid, mode, port, **kw)
    if mode == 2:
        check(t, line, b(line) + b"\r\r\nCONNECT\r\n", timeout=10)
        return
    check(t, line, ok(line))
    urc(t, "%s: %d,0" % ("+QSSLOPEN" if tls else "+QIOPEN", cid), timeout=10)


def send(t, tls, cid, data):
    """One fixed-length send: prompt, the payload echoed (ATE1), SEND OK. The line ends in
    CR LF as drivers send it: the LF is the terminator's, not the payload's first byte
    (host-drivers.md item 2), so a payload may start with LF."""
    line = b"AT+%s=%d,%d" % (b"QSSLSEND" if tls else b"QISEND", cid, len(data))
    t.write(line + b"\r\n")
    t.expect(line + b"\r\r\n> ")
    t.write(data)
    t.expect(data + b"\r\nSEND OK\r\n")


def send_all(t, tls, cid, data):
    for off in range(0, len(data), 1460):
        send(t, tls, cid, data[off:off + 1460])


URC_RE = re.compile(rb'\r\n\+(QIURC|QSSLURC): "(recv|closed)",(\d+)\r\n')


def read_buffered(t, tls, cid, size, timeout=30.0):
    """Buffer mode: AT+QIRD/QSSLRECV until size bytes came; URCs between the commands are
    collected (each must be a well-formed recv or closed URC of this socket)."""
    name = b"+QSSLRECV" if tls else b"+QIRD"
    cmd = b"AT+QSSLRECV=%d,1500" % cid if tls else b"AT+QIRD=%d,1500" % cid
    got = bytearray()
    urcs = []
    deadline = time.monotonic() + timeout
    while len(got) < size:
        assert time.monotonic() < deadline, "only %d of %d bytes" % (len(got), size)
        t.write(cmd + b"\r")
        head = t.read_until(cmd + b"\r\r\n" + name + b": ")
        pre = head[:-len(cmd + b"\r\r\n" + name + b": ")]
        urcs += URC_RE.findall(pre)
        assert URC_RE.sub(b"", pre) == b"", pre
        n = int(t.read_until(b"\r\n")[:-2])
        assert n <= 1500
        if n:
            got += t.read_exact(n)
        t.expect((b"\r\n" if n else b"") + b"\r\nOK\r\n")
        if n == 0 and not [u for u in urcs if u[1] == b"recv"]:
            # nothing buffered: the next data announces itself (one URC until read empty)
            mt = t.read_until(URC_RE, timeout=deadline - time.monotonic())
            urcs.append(URC_RE.search(mt).groups())
        elif n == 0:
            urcs = [u for u in urcs if u[1] != b"recv"]
    return bytes(got), urcs


PUSH_RE = re.compile(rb'\r\n\+(QIURC|QSSLURC): "recv",(\d+),(\d+)\r\n')


def read_pushed(t, tls, cid, size, timeout=30.0):
    """Direct push: "+QIURC: \"recv\",<id>,<n>" CR LF <n bytes> CR LF until size bytes."""
    name = b"+QSSLURC" if tls else b"+QIURC"
    got = bytearray()
    deadline = time.monotonic() + timeout
    while len(got) < size:
        head = t.read_until(b"\r\n" + name + b': "recv",%d,' % cid,
                            timeout=deadline - time.monotonic())
        assert head.startswith(b"\r\n" + name), head
        n = int(t.read_until(b"\r\n")[:-2])
        assert 0 < n <= 1500
        got += t.read_exact(n, timeout=deadline - time.monotonic())
        t.expect(b"\r\n")
    return bytes(got)


# ---------------------------------------------------------------- test forms


@pytest.mark.parametrize("line,reply", [
    ("AT+QIOPEN=?", '+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE",'
                    '"<IP_address>/<domain_name>",<remote_port>,<local_port>,(0-2)'),
    ("AT+QISEND=?", "+QISEND: (0-11),(0-1460)"),
    ("AT+QIRD=?", "+QIRD: (0-11),(0-1500)"),
    ("AT+QICLOSE=?", "+QICLOSE: (0-11),(0-65535)"),
    ("AT+QISTATE=?", None),
    ("AT+QSSLOPEN=?", "+QSSLOPEN: (1-16),(0-5),(0-11),<serveraddr>,<server_port>,(0-2)"),
    ("AT+QSSLSEND=?", "+QSSLSEND: (0-11),(1-1460)"),
    ("AT+QSSLRECV=?", "+QSSLRECV: (0-11),(0-1500)"),
    ("AT+QSSLCLOSE=?", "+QSSLCLOSE: (0-11),(0-65535)"),
    ("AT+QSSLSTATE=?", None),
])
def test_test_forms(rig, line, reply):
    t = rig()
    check(t, line, ok(line, reply) if reply else ok(line))


# ---------------------------------------------------------------- TCP: buffer mode


def test_buffer_mode_every_form(rig):
    """The EC2x TCP/IP AN's buffer access mode: +QIOPEN URC, SEND OK, one recv URC until the
    buffer is read empty, +QIRD forms (with the ,0 total/read/unread query), +QISEND ,0
    counters, +QISTATE forms, the closed URC when the peer closes, QICLOSE."""
    peer = Peer(echo)
    t = rig()
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))
    sopen(t, False, 3, 0, peer.port)
    state = '+QISTATE: 3,"TCP","127.0.0.1",%d,0,2,1,3,0,"uart1"' % peer.port
    check(t, "AT+QISTATE?", ok("AT+QISTATE?", state))
    check(t, "AT+QISTATE=1,3", ok("AT+QISTATE=1,3", state))
    check(t, "AT+QISTATE=0,1", ok("AT+QISTATE=0,1", state))
    check(t, "AT+QISTATE=0,2", ok("AT+QISTATE=0,2"))
    check(t, "AT+QISTATE=1,4", ok("AT+QISTATE=1,4"))
    send(t, False, 3, b"hello")
    urc(t, '+QIURC: "recv",3')
    # more data before the host reads: no second URC (BG96 TCP/IP AN 2.3.8)
    send(t, False, 3, b" world")
    wait_for(lambda: len(peer.received[0]) == 11, 5, what="echo")
    line = "AT+QIRD=3,0"
    deadline = time.monotonic() + 5
    while t.cmd(line) != ok(line, "+QIRD: 11,0,11"):
        assert time.monotonic() < deadline
    check(t, "AT+QIRD=3,4", ok("AT+QIRD=3,4", "+QIRD: 4", "hell"))
    check(t, "AT+QIRD=3,0", ok("AT+QIRD=3,0", "+QIRD: 11,4,7"))
    check(t, "AT+QIRD=3", ok("AT+QIRD=3", "+QIRD: 7", "o world"))
    check(t, "AT+QIRD=3", ok("AT+QIRD=3", "+QIRD: 0"))
    check(t, "AT+QISEND=3,0", ok("AT+QISEND=3,0", "+QISEND: 11,11,0"))
    # read empty: the next data announces itself again
    send(t, False, 3, b"\r\n\x00\xff")
    urc(t, '+QIURC: "recv",3')
    check(t, "AT+QIRD=3,1500", b"AT+QIRD=3,1500\r\r\n+QIRD: 4\r\n\r\n\x00\xff\r\n\r\nOK\r\n")
    # the peer closes: the URC, and what is buffered stays readable until QICLOSE
    send(t, False, 3, b"last")
    urc(t, '+QIURC: "recv",3')
    peer.conns[0].shutdown(socket.SHUT_RDWR)
    urc(t, '+QIURC: "closed",3')
    check(t, "AT+QISTATE=1,3", ok("AT+QISTATE=1,3", state.replace(",2,1,3,", ",4,1,3,")))
    check(t, "AT+QIRD=3", ok("AT+QIRD=3", "+QIRD: 4", "last"))
    check(t, "AT+QISEND=3,1", err("AT+QISEND=3,1"))
    check(t, "AT+QICLOSE=3", ok("AT+QICLOSE=3"))
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))
    check(t, "AT+QIRD=3,0", err("AT+QIRD=3,0"))
    # closing what is not open is fine (nothing is left open)
    check(t, "AT+QICLOSE=3", ok("AT+QICLOSE=3"))
    peer.close()


def test_send_forms(rig):
    """Ctrl+Z (variable length), ESC (cancel: OK, nothing sent), a fixed length that takes
    Ctrl+Z and ESC as data and leaves the surplus to the command parser (host-drivers.md item
    12), and the limits."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 0, 0, peer.port)
    t.write(b"AT+QISEND=0\r")
    t.expect(b"AT+QISEND=0\r\r\n> ")
    t.write(b"ctrl-z\x1a")
    t.expect(b"ctrl-z\r\nSEND OK\r\n")
    urc(t, '+QIURC: "recv",0')
    t.write(b"AT+QISEND=0\r")
    t.expect(b"AT+QISEND=0\r\r\n> ")
    t.write(b"dropped\x1b")
    t.expect(b"dropped\r\nOK\r\n")
    t.write(b"AT+QISEND=0,4\r")
    t.expect(b"AT+QISEND=0,4\r\r\n> ")
    t.write(b"\x1a\x1b\r\nAT\r")
    t.expect(b"\x1a\x1b\r\n\r\nSEND OK\r\nAT\r\r\nOK\r\n")
    # the second echo comes without a URC (the first is unread): wait for it in the buffer
    deadline = time.monotonic() + 5
    while t.cmd("AT+QIRD=0,0") != ok("AT+QIRD=0,0", "+QIRD: 10,0,10"):
        assert time.monotonic() < deadline, "the peer's echo never arrived"
    check(t, "AT+QIRD=0", b"AT+QIRD=0\r\r\n+QIRD: 10\r\nctrl-z\x1a\x1b\r\n\r\n\r\nOK\r\n")
    assert peer.received[0] == b"ctrl-z\x1a\x1b\r\n"
    # more than 1460 bytes before Ctrl+Z: ERROR, nothing sent
    t.write(b"AT+QISEND=0\r")
    t.expect(b"AT+QISEND=0\r\r\n> ")
    t.write(b"x" * 1461 + b"\x1a")
    t.expect(b"x" * 1461 + b"\r\nERROR\r\n")
    for line in ("AT+QISEND=0,1461", "AT+QISEND=12", "AT+QISEND=1,1", "AT+QISEND=0,-1",
                 "AT+QIRD=0,1501", "AT+QIRD=12", "AT+QICLOSE=12"):
        check(t, line, err(line))
    check(t, "AT+QISEND=0,0", ok("AT+QISEND=0,0", "+QISEND: 10,10,0"))
    peer.close()


def test_send_payload_starting_with_lf_after_the_prompt(rig):
    """Issue 10 item 3: a data phase is byte-exact from its first byte. A LF the host sends
    after "> " is payload, however soon after the command's CR, and the declared length does
    not reach into the next command; only the LF sent with the line (CR LF) is the
    terminator's."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 0, 0, peer.port)
    t.write(b"AT+QISEND=0,4\r")
    t.expect(b"AT+QISEND=0,4\r\r\n> ")
    t.write(b"\nabc")
    t.expect(b"\nabc\r\nSEND OK\r\n")
    urc(t, '+QIURC: "recv",0')
    check(t, "AT", ok("AT"))
    wait_for(lambda: peer.received[0] == b"\nabc", 5, what="the 4 bytes at the peer")
    # Ctrl+Z form, and the line's own CR LF before a payload that starts with LF
    t.write(b"AT+QISEND=0\r")
    t.expect(b"AT+QISEND=0\r\r\n> ")
    t.write(b"\nz\x1a")
    t.expect(b"\nz\r\nSEND OK\r\n")
    send(t, False, 0, b"\nxyz")
    wait_for(lambda: peer.received[0] == b"\nabc\nz\nxyz", 5, what="every byte at the peer")
    peer.close()


def test_open_errors(rig):
    """Result codes of reference §4a: an inactive context (561, a choice), a connectID in use
    (563), a name that does not resolve (565), a refused connect (566); bad parameters and
    server types give ERROR."""
    peer = Peer(echo)
    t = rig("--resolve", "nx.modemsim.test=fail")
    line = 'AT+QIOPEN=2,0,"TCP","%s",%d,0,0' % (PEER_HOST, peer.port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 0,561")
    check(t, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 561,open PDP context failed"))
    sopen(t, False, 0, 0, peer.port)
    line = open_line(False, 0, 1, peer.port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 0,563")
    line = open_line(True, 0, 0, peer.port)  # SSL and TCP share the connectIDs
    check(t, line, ok(line))
    urc(t, "+QSSLOPEN: 0,563")
    line = open_line(False, 1, 0, 80, host="nx.modemsim.test")
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 1,565")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    line = open_line(False, 1, 0, closed_port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 1,566")
    check(t, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 566,socket connect failed"))
    # transparent mode answers ERROR instead of a URC
    check(t, open_line(False, 1, 2, closed_port), err(open_line(False, 1, 2, closed_port)))
    check(t, "AT+QISTATE=1,1", ok("AT+QISTATE=1,1"))
    for line in ('AT+QIOPEN=1,12,"TCP","h",1,0,0', 'AT+QIOPEN=1,1,"TCP","h",1,0,3',
                 'AT+QIOPEN=17,1,"TCP","h",1', 'AT+QIOPEN=1,1,"TCP LISTENER","h",1',
                 'AT+QIOPEN=1,1,"SCTP","h",1', 'AT+QIOPEN=1,1,"TCP","",1',
                 'AT+QIOPEN=1,1,"TCP","h",65536', "AT+QIOPEN=1,1,TCP", "AT+QIOPEN"):
        check(t, line, err(line))
    peer.close()


def test_open_result_waits_for_the_realistic_latency(rig):
    """host-drivers.md item 1: the result URC never comes right after OK (realistic timing),
    even when the connection is up at once; under --timing fast it comes at once."""
    peer = Peer(echo)
    t = rig("--time-scale", "0.5", timing="realistic")  # 600 ms -> 300 ms
    line = open_line(False, 0, 0, peer.port)
    check(t, line, ok(line))
    start = time.monotonic()
    urc(t, "+QIOPEN: 0,0", timeout=5)
    assert time.monotonic() - start >= 0.25
    peer.close()


# ---------------------------------------------------------------- flow control and SEND FAIL


def test_receive_buffer_limit_stops_reading_the_peer(rig):
    """The receive buffer has a limit: with the host not reading, modemsim stops reading the
    connection (the peer's sends block on TCP's closed window) instead of dropping it or growing
    without bound; reading resumes it, in order. (Integrity across many pauses and resumes is
    the 1 MiB tests' business.)"""
    size = 16 * MiB
    data = os.urandom(size)
    peer = Peer(exchange(1, data))
    t = rig()
    sopen(t, False, 0, 0, peer.port)
    send(t, False, 0, b"!")
    urc(t, '+QIURC: "recv",0')

    def stalled():
        last, stable = -1, 0
        deadline = time.monotonic() + 10
        while stable < 5:
            assert time.monotonic() < deadline, "peer never stalled"
            pause(0.05)  # sampling: a stall is no progress over 5 samples
            stable = stable + 1 if peer.sent[0] == last else 0
            last = peer.sent[0]
        return last

    sent = stalled()
    assert sent < size  # kernel buffers on both sides take some, not all
    got = t.cmd("AT+QIRD=0,0")
    total, read, unread = map(int, re.search(rb"\+QIRD: (\d+),(\d+),(\d+)", got).groups())
    assert read == 0 and unread == total and RX_LIMIT <= total <= RX_LIMIT + READ_CHUNK, got
    got, _ = read_buffered(t, False, 0, total + 4 * READ_CHUNK)
    assert got == data[:len(got)]
    # reading resumed the connection, and the buffer is full again, not more
    deadline = time.monotonic() + 5
    while True:
        out = t.cmd("AT+QIRD=0,0")
        total2, read2, unread2 = map(int, re.search(rb"\+QIRD: (\d+),(\d+),(\d+)",
                                                     out).groups())
        if unread2 >= RX_LIMIT:
            break
        assert time.monotonic() < deadline, out
    assert read2 == len(got) and total2 > total and unread2 <= RX_LIMIT + READ_CHUNK
    check(t, "AT+QICLOSE=0,0", ok("AT+QICLOSE=0,0"))
    peer.close()


def test_send_fail_when_the_send_buffer_is_full_and_close_timeout(rig):
    """A peer that does not read: the module's send buffer fills and QISEND answers SEND FAIL
    (EC2x TCP/IP AN); +QISEND ,0 shows the unacknowledged bytes. AT+QICLOSE=<id>,1 then waits
    1 s for the peer's acknowledgement and forces the close (the peer sees a reset)."""
    peer = Peer(silent, rcvbuf=4096)
    t = rig()
    sopen(t, False, 0, 0, peer.port)
    chunk = bytes(1460)
    for i in range(400):
        line = b"AT+QISEND=0,1460"
        t.write(line + b"\r")
        t.expect(line + b"\r\r\n> ")
        t.write(chunk)
        got = t.read_until(FINAL_RE)
        if got.endswith(b"SEND FAIL\r\n"):
            assert got == chunk + b"\r\nSEND FAIL\r\n"
            break
        assert got == chunk + b"\r\nSEND OK\r\n"
    else:
        raise AssertionError("no SEND FAIL after 400 sends")
    got = t.cmd("AT+QISEND=0,0")
    total, acked, unacked = map(int, re.search(rb"\+QISEND: (\d+),(\d+),(\d+)", got).groups())
    assert total == i * 1460 and acked + unacked == total and unacked > 64 * 1024 - 1460
    start = time.monotonic()
    check(t, "AT+QICLOSE=0,1", ok("AT+QICLOSE=0,1"), timeout=5)
    assert 0.9 <= time.monotonic() - start < 3
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))
    peer.close()


# ---------------------------------------------------------------- 1 MiB each way, every mode


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize("mode", [0, 1, 2], ids=["buffer", "push", "transparent"])
def test_one_mib_each_way(rig, pki, tls, mode):
    """1 MiB of random bytes host -> peer, then 1 MiB peer -> host, then the peer closes: no
    byte lost, duplicated or reordered (SHA-256 on both sides), and the close is reported as
    the mode documents it (closed URC; NO CARRIER in transparent mode)."""
    up, down = os.urandom(MiB), os.urandom(MiB)
    peer = Peer(exchange(MiB, down), tls=(pki, "server.pem") if tls else None)
    t = rig()
    if tls:
        tls_ready(t, pki)
    check(t, "ATE0", b"ATE0\r\r\nOK\r\n")  # no payload echo: half the tty traffic
    name = "+QSSLURC" if tls else "+QIURC"
    if mode == 2:
        line = open_line(tls, 0, 2, peer.port)
        t.write(b(line) + b"\r")
        t.expect(b"\r\nCONNECT\r\n", timeout=10)
        t.write(up)
        got = t.read_exact(MiB, timeout=30)
        urc(t, "NO CARRIER", timeout=10)
    else:
        line = open_line(tls, 0, mode, peer.port)
        t.write(b(line) + b"\r")
        t.expect(b"\r\nOK\r\n")
        urc(t, "%s: 0,0" % ("+QSSLOPEN" if tls else "+QIOPEN"), timeout=10)
        cmd = b"AT+QSSLSEND=0,%d\r\n" if tls else b"AT+QISEND=0,%d\r\n"
        for off in range(0, MiB, 1460):
            chunk = up[off:off + 1460]
            t.write(cmd % len(chunk))
            t.expect(b"\r\n> ")
            t.write(chunk)
            t.expect(b"\r\nSEND OK\r\n")
        if mode == 0:
            got, urcs = read_buffered_quiet(t, tls, 0, MiB)
            if (name[1:].encode(), b"closed", b"0") not in urcs:
                urc(t, '%s: "closed",0' % name, timeout=10)
        else:
            got = read_pushed(t, tls, 0, MiB)
            urc(t, '%s: "closed",0' % name, timeout=10)
    wait_for(lambda: 0 in peer.finished, 10, what="peer done")
    assert not peer.errors, peer.errors
    assert sha(peer.received[0]) == sha(up)
    assert sha(got) == sha(down)
    close = "AT+QSSLCLOSE=0" if tls else "AT+QICLOSE=0"
    check(t, close, b"\r\nOK\r\n")
    peer.close()


def read_buffered_quiet(t, tls, cid, size, timeout=30.0):
    """read_buffered with echo off (ATE0)."""
    name = b"+QSSLRECV" if tls else b"+QIRD"
    cmd = b"AT+QSSLRECV=%d,1500" % cid if tls else b"AT+QIRD=%d,1500" % cid
    got = bytearray()
    urcs = []
    pending_recv = False
    deadline = time.monotonic() + timeout
    while len(got) < size:
        assert time.monotonic() < deadline, "only %d of %d bytes" % (len(got), size)
        t.write(cmd + b"\r")
        head = t.read_until(b"\r\n" + name + b": ")
        pre = head[:-len(b"\r\n" + name + b": ")]
        found = URC_RE.findall(pre)
        assert URC_RE.sub(b"", pre) == b"", pre
        urcs += found
        pending_recv = pending_recv or any(u[1] == b"recv" for u in found)
        n = int(t.read_until(b"\r\n")[:-2])
        assert n <= 1500
        if n:
            got += t.read_exact(n)
        t.expect((b"\r\n" if n else b"") + b"\r\nOK\r\n")
        if n == 0:
            if not pending_recv:
                mt = t.read_until(URC_RE, timeout=deadline - time.monotonic())
                u = URC_RE.search(mt).groups()
                urcs.append(u)
            pending_recv = False
    return bytes(got), urcs


# ---------------------------------------------------------------- transparent mode


def test_transparent_escape_ato_and_peer_close(rig):
    """CONNECT; raw bytes both ways; "+++" framed by 1 s of silence -> OK in command mode,
    while what the peer sends meanwhile waits; ATO -> CONNECT and the held bytes; the peer
    closes -> NO CARRIER (EC2x TCP/IP AN); ATO then -> NO CARRIER; QICLOSE frees it."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 0, 2, peer.port)
    t.write(b"AT+QISTATE?\r")  # data now, not a command
    t.expect(b"AT+QISTATE?\r")
    escape(t, 1.1, timeout=3)
    assert peer.received[0] == b"AT+QISTATE?\r"
    state = '+QISTATE: 0,"TCP","127.0.0.1",%d,0,2,1,0,2,"uart1"' % peer.port
    check(t, "AT+QISTATE?", ok("AT+QISTATE?", state))
    # only one socket in transparent mode at a time
    line = open_line(False, 1, 2, peer.port)
    check(t, line, err(line))
    peer.conns[0].sendall(b"held while in command mode")
    check(t, "AT", b"AT\r\r\nOK\r\n")  # no URC for it
    check(t, "ATO", b"ATO\r\r\nCONNECT\r\n")
    t.expect(b"held while in command mode")
    t.write(b"+++ not an escape: no guard time")
    t.expect(b"+++ not an escape: no guard time")
    peer.conns[0].shutdown(socket.SHUT_RDWR)
    urc(t, "NO CARRIER")
    check(t, "ATO", b"ATO\r\r\nNO CARRIER\r\n")
    check(t, "AT+QISTATE?", ok("AT+QISTATE?", state.replace(",2,1,0,2,", ",4,1,0,2,")))
    check(t, "AT+QICLOSE=0", ok("AT+QICLOSE=0"))
    check(t, "ATO", b"ATO\r\r\nNO CARRIER\r\n")
    peer.close()


def test_transparent_peer_closes_while_escaped(rig):
    """After "+++" the socket is in command mode: a peer close is the closed URC (a choice)."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 0, 2, peer.port)
    escape(t, 1.1, timeout=3)
    wait_for(lambda: peer.conns, 5, what="accept")
    peer.conns[0].sendall(b"tail")
    peer.conns[0].shutdown(socket.SHUT_RDWR)
    urc(t, '+QIURC: "closed",0')
    check(t, "ATO", b"ATO\r\r\nNO CARRIER\r\n")
    # what came before the close is still there
    check(t, "AT+QIRD=0", ok("AT+QIRD=0", "+QIRD: 4", "tail"))
    check(t, "AT+QICLOSE=0", ok("AT+QICLOSE=0"))
    peer.close()


# ---------------------------------------------------------------- direct push


def test_push_mode_every_form(rig):
    """Direct push: "+QIURC: \"recv\",<id>,<len>" CR LF <data> CR LF, at most 1500 bytes each;
    +QIRD is for buffer mode (ERROR), its ,0 query still counts."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 5, 1, peer.port)
    send(t, False, 5, b"one\r\ntwo")
    t.expect(b'\r\n+QIURC: "recv",5,8\r\none\r\ntwo\r\n')
    big = os.urandom(1460)
    send(t, False, 5, big)
    assert read_pushed(t, False, 5, 1460) == big
    check(t, "AT+QIRD=5", err("AT+QIRD=5"))
    check(t, "AT+QIRD=5,0", ok("AT+QIRD=5,0", "+QIRD: 1468,1468,0"))
    peer.conns[0].shutdown(socket.SHUT_RDWR)
    urc(t, '+QIURC: "closed",5')
    check(t, "AT+QICLOSE=5", ok("AT+QICLOSE=5"))
    peer.close()


# ---------------------------------------------------------------- SSL


def test_ssl_buffer_mode_every_form(rig, pki):
    """Reference §5b with the EG800K capture's shapes: +QSSLOPEN URC, +QSSLSTATE (local port
    0, serverID = clientID, "uart1", the SSL context last), +QSSLURC recv, +QSSLRECV forms
    including ,0 (host-drivers.md item 14), the closed URC, QSSLCLOSE."""
    peer = Peer(echo, tls=(pki, "server.pem"))
    t = rig()
    tls_ready(t, pki, ctx=2)
    check(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE"))
    sopen(t, True, 4, 0, peer.port, ctx=2)
    state = '+QSSLSTATE: 4,"SSLClient","127.0.0.1",%d,0,2,1,4,0,"uart1",2' % peer.port
    check(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE", state))
    check(t, "AT+QSSLSTATE?", ok("AT+QSSLSTATE?", state))
    check(t, "AT+QSSLSTATE=4", ok("AT+QSSLSTATE=4", state))
    check(t, "AT+QSSLSTATE=3", ok("AT+QSSLSTATE=3"))
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))  # TCP/UDP only
    send(t, True, 4, b"0123456789ABCDEF")
    urc(t, '+QSSLURC: "recv",4')
    wait_for(lambda: len(peer.received[0]) == 16, 5, what="echo")
    check(t, "AT+QSSLRECV=4,10", ok("AT+QSSLRECV=4,10", "+QSSLRECV: 10", "0123456789"))
    check(t, "AT+QSSLRECV=4,0", ok("AT+QSSLRECV=4,0", "+QSSLRECV: 16,10,6"))
    check(t, "AT+QSSLRECV=4,1500", ok("AT+QSSLRECV=4,1500", "+QSSLRECV: 6", "ABCDEF"))
    check(t, "AT+QSSLRECV=4,1500", ok("AT+QSSLRECV=4,1500", "+QSSLRECV: 0"))
    # TCP commands do not reach an SSL socket, nor the reverse
    for line in ("AT+QISEND=4,1", "AT+QIRD=4", "AT+QICLOSE=4", "AT+QSSLSEND=5,1"):
        check(t, line, err(line))
    t.write(b"AT+QSSLSEND=4\r")
    t.expect(b"AT+QSSLSEND=4\r\r\n> ")
    t.write(b"variable\x1a")
    t.expect(b"variable\r\nSEND OK\r\n")
    urc(t, '+QSSLURC: "recv",4')
    peer.conns[0].shutdown(socket.SHUT_RDWR)
    urc(t, '+QSSLURC: "closed",4')
    check(t, "AT+QSSLRECV=4,1500", ok("AT+QSSLRECV=4,1500", "+QSSLRECV: 8", "variable"))
    check(t, "AT+QSSLCLOSE=4,0", ok("AT+QSSLCLOSE=4,0"))
    check(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE"))
    peer.close()


def test_ssl_push_and_transparent(rig, pki):
    peer = Peer(echo, tls=(pki, "server.pem"))
    t = rig()
    tls_ready(t, pki)
    sopen(t, True, 1, 1, peer.port)
    send(t, True, 1, b"pushed")
    t.expect(b'\r\n+QSSLURC: "recv",1,6\r\npushed\r\n')
    sopen(t, True, 2, 2, peer.port)
    t.write(b"through TLS")
    t.expect(b"through TLS")
    escape(t, 1.1, timeout=3)
    check(t, "AT+QSSLSTATE=2",
          ok("AT+QSSLSTATE=2",
             '+QSSLSTATE: 2,"SSLClient","127.0.0.1",%d,0,2,1,2,2,"uart1",0' % peer.port))
    check(t, "ATO", b"ATO\r\r\nCONNECT\r\n")
    peer.conns[1].shutdown(socket.SHUT_RDWR)
    urc(t, "NO CARRIER")
    check(t, "AT+QSSLCLOSE=2", ok("AT+QSSLCLOSE=2"))
    check(t, "AT+QSSLCLOSE=1", ok("AT+QSSLCLOSE=1"))
    peer.close()


@pytest.mark.parametrize("cert,keys", [
    ("server-otherca.pem", {}),
    ("server-expired.pem", {"ignorelocaltime": 0}),
    ("server-notyet.pem", {"ignorelocaltime": 0}),
    ("server-wronghost.pem", {}),
    ("server.pem", {"cacert": "RAM:missing.pem"}),
], ids=["unknown-ca", "expired", "not-yet-valid", "wrong-host", "ca-file-missing"])
def test_every_certificate_failure_is_566(rig, pki, cert, keys):
    """Reference §8 item 13: untrusted, expired, wrong host ... all give +QSSLOPEN: <id>,566;
    in transparent mode the open answers ERROR."""
    peer = Peer(echo, tls=(pki, cert))
    t = rig()
    tls_ready(t, pki, **keys)
    line = open_line(True, 0, 0, peer.port)
    check(t, line, ok(line))
    urc(t, "+QSSLOPEN: 0,566", timeout=10)
    check(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE"))
    line = open_line(True, 0, 2, peer.port)
    check(t, line, err(line), timeout=10)
    peer.close()


# ---------------------------------------------------------------- UDP


def test_udp_datagrams_buffer_and_push(rig):
    """UDP (a connected socket): each datagram is read, and pushed, whole and on its own."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(5)
    port = u.getsockname()[1]
    t = rig()
    line = 'AT+QIOPEN=1,0,"UDP","%s",%d,0,0' % (PEER_HOST, port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 0,0")
    check(t, "AT+QISTATE=1,0",
          ok("AT+QISTATE=1,0", '+QISTATE: 0,"UDP","127.0.0.1",%d,0,2,1,0,0,"uart1"' % port))
    send(t, False, 0, b"ping")
    data, addr = u.recvfrom(2048)
    assert data == b"ping"
    u.sendto(b"first", addr)
    u.sendto(b"second", addr)
    urc(t, '+QIURC: "recv",0')
    deadline = time.monotonic() + 5
    while t.cmd("AT+QIRD=0,0") != ok("AT+QIRD=0,0", "+QIRD: 11,0,11"):
        assert time.monotonic() < deadline
    check(t, "AT+QIRD=0", ok("AT+QIRD=0", "+QIRD: 5", "first"))
    check(t, "AT+QIRD=0,3", ok("AT+QIRD=0,3", "+QIRD: 3", "sec"))
    check(t, "AT+QIRD=0", ok("AT+QIRD=0", "+QIRD: 3", "ond"))
    line = 'AT+QIOPEN=1,1,"UDP","%s",%d,0,1' % (PEER_HOST, port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 1,0")
    send(t, False, 1, b"x")
    data, addr = u.recvfrom(2048)
    u.sendto(b"a", addr)
    u.sendto(b"bc", addr)
    t.expect(b'\r\n+QIURC: "recv",1,1\r\na\r\n\r\n+QIURC: "recv",1,2\r\nbc\r\n')
    check(t, "AT+QICLOSE=0", ok("AT+QICLOSE=0"))
    check(t, "AT+QICLOSE=1", ok("AT+QICLOSE=1"))
    u.close()


# ---------------------------------------------------------------- the context goes away


def test_host_deactivation_and_reboot_close_sockets(rig):
    """AT+QIDEACT closes the sockets on the context without a URC (reference §4a); a reboot
    (AT+CFUN=1,1) drops every socket. The peer sees each connection end."""
    peer = Peer(echo)
    t = rig()
    sopen(t, False, 0, 0, peer.port)
    check(t, "AT+QIDEACT=1", ok("AT+QIDEACT=1"))
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))
    wait_for(lambda: 0 in peer.finished, 5, what="peer sees the close")
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    sopen(t, False, 0, 1, peer.port)
    check(t, "AT+CFUN=1,1", ok("AT+CFUN=1,1"))
    t.read_until(b"+QIND: PB DONE\r\n", timeout=15)
    wait_for(lambda: 1 in peer.finished, 5, what="peer sees the reset")
    check(t, "AT+QISTATE?", ok("AT+QISTATE?"))
    peer.close()


def test_network_drops_the_context(modemsim, tmp_path):
    """The network deactivates context 1 (fault pdp.deact through the control socket):
    +QIURC: "pdpdeact",1, then each socket on it reports "closed" (reference §4a: "sockets
    close"); a socket on context 2 stays; transparent mode ends with NO CARRIER."""
    from control import Control
    peer = Peer(echo)
    path = str(tmp_path / "ctl.sock")
    sim = modemsim("--control", path, "--broker", "none", "--resolve", "*=127.0.0.1",
                   model="ec25")
    t = sim.open()
    for line in ("AT+QIACT=1", "AT+QIACT=2"):
        check(t, line, ok(line))
    sopen(t, False, 0, 0, peer.port)
    sopen(t, False, 1, 1, peer.port)
    line = 'AT+QIOPEN=2,2,"TCP","%s",%d,0,0' % (PEER_HOST, peer.port)
    check(t, line, ok(line))
    urc(t, "+QIOPEN: 2,0")
    with Control(path) as ctl:
        ctl.ok("at 0ms fault pdp.deact cid 1")
        urc(t, '+QIURC: "pdpdeact",1')
        urc(t, '+QIURC: "closed",0')
        urc(t, '+QIURC: "closed",1')
        check(t, "AT+QISTATE=0,2",
              ok("AT+QISTATE=0,2",
                 '+QISTATE: 2,"TCP","127.0.0.1",%d,0,2,2,2,0,"uart1"' % peer.port))
        check(t, "AT+QISTATE=1,0",
              ok("AT+QISTATE=1,0",
                 '+QISTATE: 0,"TCP","127.0.0.1",%d,0,4,1,0,0,"uart1"' % peer.port))
        for line in ("AT+QICLOSE=0", "AT+QICLOSE=1", "AT+QIACT=1"):
            check(t, line, ok(line))
        sopen(t, False, 0, 2, peer.port)
        ctl.ok("at 0ms fault pdp.deact cid 1")
        t.expect(b'\r\nNO CARRIER\r\n\r\n+QIURC: "pdpdeact",1\r\n')
        check(t, "AT+QICLOSE=0", ok("AT+QICLOSE=0"))
        check(t, "AT+QISTATE?",
              ok("AT+QISTATE?", '+QISTATE: 2,"TCP","127.0.0.1",%d,0,2,2,2,0,"uart1"' % peer.port))
    peer.close()


# ---------------------------------------------------------------- MQTT through a TLS socket


def ssl_read(t, cid, want, timeout=10.0):
    """QSSLRECV until want bytes (after a +QSSLURC recv)."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while len(got) < want:
        assert time.monotonic() < deadline, got
        line = "AT+QSSLRECV=%d,1500" % cid
        out = t.cmd(line)
        mt = re.match(rb"AT\+QSSLRECV=\d+,1500\r\r\n\+QSSLRECV: (\d+)\r\n", out)
        assert mt, out
        n = int(mt.group(1))
        if n == 0:
            t.read_until(b'\r\n+QSSLURC: "recv",%d\r\n' % cid, timeout=deadline - time.monotonic())
            continue
        rest = out[mt.end():]
        while len(rest) < n + len(b"\r\n\r\nOK\r\n"):
            rest += t.read_exact(1)
        assert rest[n:] == b"\r\n\r\nOK\r\n", rest
        got += rest[:n]
    return bytes(got)


def test_host_mqtt_session_through_an_ec25_tls_socket(modemsim):
    """The issue's done-criterion: CONNECT, SUBSCRIBE, PUBLISH both ways, byte for byte, by the
    host through +QSSLOPEN/QSSLSEND/QSSLRECV against mosquitto's TLS listener (the embedded
    broker: every name resolves to it, 8883 goes to TLS)."""
    sim = modemsim(model="ec25")
    t = sim.open()
    with open(sim.broker["ca"], "rb") as f:
        upload(t, "RAM:ca.pem", f.read())
    for line in ('AT+QSSLCFG="seclevel",1,1', 'AT+QSSLCFG="cacert",1,"RAM:ca.pem"',
                 'AT+QSSLCFG="sni",1,1', "AT+QIACT=1"):
        check(t, line, ok(line))
    watcher = MqttClient("127.0.0.1", sim.broker["plain"], "watcher")
    try:
        assert watcher.connect() == 0
        watcher.subscribe("sock/up", qos=0)
        line = 'AT+QSSLOPEN=1,1,0,"broker.modemsim.test",8883,0'
        check(t, line, ok(line))
        urc(t, "+QSSLOPEN: 0,0", timeout=10)
        send(t, True, 0, fbk.connect_packet("ec25-socket"))
        urc(t, '+QSSLURC: "recv",0')
        assert ssl_read(t, 0, 4) == fbk.connack(0)
        send(t, True, 0, fbk.subscribe_packet(1, [("sock/down", 1)]))
        urc(t, '+QSSLURC: "recv",0')
        assert ssl_read(t, 0, 5) == fbk.suback(1, [1])
        send(t, True, 0, fbk.publish("sock/up", b"from the host \x00\xff"))
        m = watcher.wait_for(lambda m: m.topic == "sock/up")
        assert m.payload == b"from the host \x00\xff"
        watcher.publish("sock/down", b"to the host", qos=0)
        urc(t, '+QSSLURC: "recv",0')
        assert ssl_read(t, 0, 24) == fbk.publish("sock/down", b"to the host")
        send(t, True, 0, fbk.packet(0xE0))  # DISCONNECT: the broker closes
        urc(t, '+QSSLURC: "closed",0', timeout=10)
        check(t, "AT+QSSLCLOSE=0", ok("AT+QSSLCLOSE=0"))
    finally:
        watcher.close()
