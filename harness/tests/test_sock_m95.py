"""The M95's sockets, byte for byte: the GSM SSL Application Note's examples (seed 004: 3.1 SSL
with certificates in RAM, 3.3 SSL next to a normal TCP connection, 3.4 transparent SSL) run
against real peers on loopback, and the legacy TCP stack (+QIOPEN/+QISEND/+QIRD/+QICLOSE,
+QIRDI with AT+QINDI, +RECEIVE with AT+QIMUX=1, transparent AT+QIMODE=1; reference §4b and
host-drivers.md item 15). Every receive mode, SEND FAIL, "+++" and ATO, the peer closing in
every mode, the network dropping the context (scenario fault pdp.deact), certificate
failures, 1 MiB of random bytes each way in every mode with hashes compared, and a host-side
MQTT session through a legacy TCP socket against mosquitto.

Peers are Python servers started by the tests (TLS with the `pki` fixture's certificates);
modemsim runs with --broker none except for the MQTT test (the embedded mosquitto).
Every wait has a deadline (harness helpers); the only sleeps are the guard times around "+++",
which the host must keep silent by definition.
"""
import hashlib
import os
import re
import select
import socket
import ssl
import threading
import time

import pytest

import fakebroker as fbk
from broker import MqttClient
from modemsim import Timeout
from modemsim_harness.at import b, check_exact, err, escape, ok, pause, quiet, upload_file, urc

HOST = "127.0.0.1"
GUARD = 0.15  # "+++" guard time with --time-scale 0.1 (1 s scaled), plus margin
MIB = 1 << 20


# ---------------------------------------------------------------- helpers


def text(line, *texts):
    """Echo, then texts each framed CR LF ... CR LF (CLOSE OK, DEACT OK, ...)."""
    return b(line) + b"\r" + b"".join(b"\r\n" + b(x) + b"\r\n" for x in texts)


def prompt_send(t, line, data, result="SEND OK", end=b""):
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\n> ")
    t.write(data + end)
    t.expect(data + b"\r\n" + b(result) + b"\r\n")  # ATE1: the payload is echoed


def up(t, mux=0, fg=0):
    """GSM SSL AN step 2-3 (3.3 with QIMUX=1)."""
    check_exact(t, "AT+QIFGCNT=%d" % fg, ok("AT+QIFGCNT=%d" % fg))
    check_exact(t, 'AT+QICSGP=1,"CMNET"', ok('AT+QICSGP=1,"CMNET"'))
    if mux:
        check_exact(t, "AT+QIMUX=1", ok("AT+QIMUX=1"))
    check_exact(t, "AT+QIREGAPP", ok("AT+QIREGAPP"))
    check_exact(t, "AT+QIACT", ok("AT+QIACT"))
    t.write(b"AT+QILOCIP\r")  # the address line and no OK (reference §4b)
    got = t.read_until(re.compile(rb"\r\n[0-9.]+\r\n"))
    assert re.fullmatch(rb"AT\+QILOCIP\r\r\n[0-9.]+\r\n", got), got
    return got.split(b"\r\n")[1].decode()


def ssl_ctx(t, seclevel, ctx=0, ca=True, cert=False):
    lines = ['AT+QSSLCFG="ignorertctime",1', 'AT+QSSLCFG="sslversion",%d,4' % ctx,
             'AT+QSSLCFG="ciphersuite",%d,"0XFFFF"' % ctx,
             'AT+QSSLCFG="seclevel",%d,%d' % (ctx, seclevel)]
    if ca:
        lines.append('AT+QSSLCFG="cacert",%d,"RAM:ca_cert.pem"' % ctx)
    if cert:
        lines += ['AT+QSSLCFG="clientcert",%d,"RAM:client_cert.pem"' % ctx,
                  'AT+QSSLCFG="clientkey",%d,"RAM:client_key.pem"' % ctx]
    for line in lines:
        check_exact(t, line, ok(line))


def certs(t, pki):
    """AN 3.1 step 1: the CA, the client certificate and key into RAM."""
    upload_file(t, "RAM:ca_cert.pem", pki["ca.pem"], timeout=100)
    upload_file(t, "RAM:client_cert.pem", pki["client-rsa.pem"], timeout=100)
    upload_file(t, "RAM:client_key.pem", pki["client-rsa.key"], timeout=100)


# ---------------------------------------------------------------- peers


class Peer:
    """A TCP (or TLS) server on loopback; each accepted connection runs handler(conn, peer)
    in a thread of its own. Connections, handshake failures and whatever a handler stores in
    peer.results are visible to the test; peer.event() waits with a deadline."""

    def __init__(self, handler, tls=None, rcvbuf=None):
        self.handler = handler
        self.tls = tls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.cond = threading.Condition()
        self.results = {}
        self.conns = []
        self.tls_errors = []
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            raw.settimeout(10)
            conn = raw
            if self.tls:
                try:
                    conn = self.tls.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    with self.cond:
                        self.tls_errors.append(str(e))
                        self.cond.notify_all()
                    raw.close()
                    continue
            with self.cond:
                self.conns.append(conn)
                self.cond.notify_all()
            th = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(th)
            th.start()

    def _serve(self, conn):
        try:
            self.handler(conn, self)
        except (OSError, ssl.SSLError) as e:
            self.put("error", repr(e))

    def put(self, key, value):
        with self.cond:
            self.results[key] = value
            self.cond.notify_all()

    def event(self, predicate, timeout=10.0, what="peer event"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("%s: not within %.0f s (%r, TLS errors %r)" %
                                  (what, timeout, self.results, self.tls_errors))
                self.cond.wait(left)

    def result(self, key, timeout=10.0):
        self.event(lambda: key in self.results, timeout, "result %r" % key)
        return self.results[key]

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def recv_exact(conn, n):
    out = bytearray()
    while len(out) < n:
        chunk = conn.recv(min(65536, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def echo(conn, peer):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def say_then_close(data):
    def handler(conn, peer):
        conn.sendall(data)
        pause(0.05)  # the stimulus: the bytes go before the FIN, in a segment of their own
        conn.close()
        peer.put("closed", True)
    return handler


def exchange(n, data):
    """Send `data` while reading n bytes, in one thread (an SSL socket must not be read and
    written from two threads at once); store the count and hash of what arrived."""
    def handler(conn, peer):
        tls = isinstance(conn, ssl.SSLSocket)
        h, got, view = hashlib.sha256(), 0, memoryview(data)
        deadline = time.monotonic() + 60
        conn.setblocking(False)
        eof = False
        while (got < n or len(view)) and not eof and time.monotonic() < deadline:
            r, w, _ = select.select([conn], [conn] if len(view) else [], [], 0.5)
            if r or (tls and conn.pending()):
                try:
                    while True:
                        chunk = conn.recv(65536)
                        if not chunk:
                            eof = True
                            break
                        h.update(chunk)
                        got += len(chunk)
                        if not (tls and conn.pending()):
                            break
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
            if w and len(view):
                try:
                    view = view[conn.send(view[:16384]):]
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
        peer.put("received", (got, h.hexdigest()))
        conn.settimeout(10)
        try:  # keep the connection until the host closes it
            while conn.recv(65536):
                pass
        except OSError:
            pass
    return handler


def server_tls(pki, cert="server.pem", key="server.key", require_client=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki[cert], pki[key])
    # the M95 offers RSA key exchange only (GSM SSL AN table 2); OpenSSL's default server
    # list has none of those
    ctx.set_ciphers("AES256-SHA256:AES256-SHA:AES128-SHA:@SECLEVEL=0")
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki["ca.pem"])
    return ctx


@pytest.fixture
def peers():
    started = []

    def start(handler, **kw):
        p = Peer(handler, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def m95(modemsim):
    """An M95 with no broker (names resolve for real) and guard times of 0.1 s."""
    sim = modemsim("--broker", "none", "--time-scale", "0.1", model="m95")
    return sim.open()


# ---------------------------------------------------------------- reading helpers


def lines_until(t, done, timeout=10.0):
    """Read CR LF lines (skipping blank ones) until done(line) is true; returns the lines."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        line = t.read_until(b"\r\n", timeout=max(deadline - time.monotonic(), 0.01))[:-2]
        if not line:
            continue
        out.append(line)
        if done(line):
            return out


def read_cmd(t, line, head):
    """AT+QIRD / AT+QSSLRECV with echo off: the data, skipping URCs that came before."""
    t.write(b(line) + b"\r")
    while True:
        got = lines_until(t, lambda l: l == b"OK" or l.startswith(head) or l == b"ERROR")[-1]
        if got == b"ERROR":
            raise AssertionError("%s: ERROR" % line)
        if got == b"OK":
            return b""
        n = int(got.rsplit(b",", 1)[1])
        data = t.read_exact(n)
        t.expect(b"\r\n\r\nOK\r\n")
        return data


def recv_echo_on(t, line, head, n, port, urc_text):
    """Read n bytes by command with echo on; an empty answer waits for the next URC."""
    got = b""
    early = b"\r\n" + b(urc_text) + b"\r\n"
    while len(got) < n:
        out = t.cmd(line)
        # more data arrived after the previous read emptied the buffer: its URC (AN
        # 2.2.10.1: empty -> non-empty) may come just before this command's echo
        if out.startswith(early):
            out = out[len(early):]
        if out == ok(line):
            urc(t, urc_text)
            continue
        want = b(line) + b"\r\r\n" + b(head) + b": %s:%d,TCP," % (b(HOST), port)
        assert out.startswith(want) and out.endswith(b"\r\n\r\nOK\r\n"), out
        k, rest = out[len(want):].split(b"\r\n", 1)
        assert len(rest) == int(k) + len(b"\r\n\r\nOK\r\n"), out
        got += rest[:int(k)]
    return got


def send_cmd(t, line, data):
    """A fixed-length send with echo off: True for SEND OK, False for SEND FAIL. The line
    ends CR LF as drivers send it: a LF right after the CR is the terminator's, also when the
    data (which may start with a LF) follow the prompt at once (host-drivers.md item 2)."""
    t.write(b(line) + b"\r\n")
    t.read_until(b"\r\n> ")
    t.write(data)
    got = lines_until(t, lambda l: l in (b"SEND OK", b"SEND FAIL", b"ERROR"))[-1]
    assert got != b"ERROR", line
    return got == b"SEND OK"


# ---------------------------------------------------------------- forms


def test_test_and_read_forms(m95):
    """The settings' read and test forms, and the parameter ranges checked centrally."""
    t = m95
    for line, info in (("AT+QINDI?", "+QINDI: 0"), ("AT+QINDI=?", "+QINDI: (0-2)"),
                       ("AT+QIMODE?", "+QIMODE: 0"), ("AT+QIMODE=?", "+QIMODE: (0,1)"),
                       ("AT+QIHEAD?", "+QIHEAD: 0"), ("AT+QIHEAD=?", "+QIHEAD: (0,1)"),
                       ("AT+QIRD=?", "+QIRD: (0,1),(1,2),(0-5),(1-1500)"),
                       ("AT+QSSLSEND=?", "+QSSLSEND: (0-5),(1-1460)"),
                       ("AT+QSSLRECV=?", "+QSSLRECV: (0,1),(0-5),(1-1500)"),
                       ("AT+QSSLCLOSE=?", "+QSSLCLOSE: (0-5),(0,1)"),
                       ("AT+QISEND=?", "+QISEND: (1-1460)")):
        check_exact(t, line, ok(line, info))
    for line in ("AT+QSSLOPEN?", "AT+QSSLSTATE?", "AT+QSSLSTATE=?", "AT+QSSLSEND?"):
        check_exact(t, line, ok(line))
    check_exact(t, "AT+QIMUX=1", ok("AT+QIMUX=1"))
    check_exact(t, "AT+QISEND=?", ok("AT+QISEND=?", "+QISEND: (0-5),(1-1460)"))
    for line in ("AT+QINDI=3", "AT+QIMODE=2", "AT+QIRD=0,1,6,100", "AT+QIRD=0,1,0,0",
                 "AT+QIRD=0,1,0,1501", "AT+QSSLRECV=2,0,100", "AT+QSSLSEND=6",
                 "AT+QSSLSEND=0,1461", 'AT+QSSLOPEN=6,0,"h",443,0',
                 'AT+QSSLOPEN=0,6,"h",443,0', 'AT+QSSLOPEN=0,0,"h",443,2',
                 'AT+QSSLOPEN=0,0,"h",443,0,9', 'AT+QSSLOPEN=0,0,"h",0,0'):
        check_exact(t, line, err(line))
    quiet(t)


def test_no_connection_no_data(m95):
    """Sends, reads, closes with no connection: ERROR; an open before the context is up:
    ERROR (the M95's own activation from IP INITIAL is not simulated)."""
    t = m95
    for line in ('AT+QIOPEN="TCP","127.0.0.1",1', 'AT+QSSLOPEN=1,0,"127.0.0.1",1,0'):
        check_exact(t, line, err(line))
    up(t)
    for line in ("AT+QISEND", "AT+QISEND=5", "AT+QIRD=0,1,0,100", "AT+QICLOSE", "AT+QISACK",
                 "AT+QSSLSEND=1", "AT+QSSLRECV=0,1,100", "AT+QSSLCLOSE=1", "AT+QICLOSE=0",
                 'AT+QIOPEN=1,"TCP","127.0.0.1",1', 'AT+QIOPEN="TLS","127.0.0.1",1'):
        check_exact(t, line, err(line))
    check_exact(t, "ATO", text("ATO", "NO CARRIER"))
    quiet(t)


# ---------------------------------------------------------------- the SSL AN's examples


def test_an_3_1_ssl_certificates_in_ram(m95, peers, pki):
    """AN 3.1 as printed (the peer's address and port are loopback's): server and client
    authentication, fixed-length and Ctrl+Z sends, one "recv" URC per empty buffer."""
    t = m95
    got = []

    def handler(conn, peer):
        got.append(recv_exact(conn, 12))
        got.append(recv_exact(conn, 5))
        peer.put("sent", True)
        conn.sendall(b"1234567")
        peer.event(lambda: "more" in peer.results)
        conn.sendall(b"abc")
        pause(0.05)  # the stimulus: "abc" and "def" in two segments
        conn.sendall(b"def")
        peer.event(lambda: "again" in peer.results)
        conn.sendall(b"ghi")
        echo(conn, peer)

    p = peers(handler, tls=server_tls(pki, require_client=True))
    certs(t, pki)
    assert up(t) == "10.100.0.13"
    ssl_ctx(t, 2, cert=True)
    for name, path in (("RAM:ca_cert.pem", "ca.pem"), ("RAM:client_cert.pem", "client-rsa.pem")):
        line = 'AT+QSECREAD="%s"' % name
        assert t.cmd(line).startswith(b(line) + b"\r\r\n+QSECREAD: 1,")
    line = 'AT+QSSLOPEN=1,0,"%s",%d,0' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 1,0")
    prompt_send(t, "AT+QSSLSEND=1,12", b"hello world!")
    prompt_send(t, "AT+QSSLSEND=1", b"12345", end=b"\x1a")
    p.result("sent")
    assert got == [b"hello world!", b"12345"]
    urc(t, '+QSSLURC: "recv",0,1')
    check_exact(t, "AT+QSSLRECV=0,1,1500",
          ok("AT+QSSLRECV=0,1,1500", "+QSSLRECV: %s:%d,TCP,7" % (HOST, p.port), "1234567"))
    check_exact(t, "AT+QSSLRECV=0,1,1500", ok("AT+QSSLRECV=0,1,1500"))
    p.put("more", True)
    urc(t, '+QSSLURC: "recv",0,1')
    quiet(t, 0.3)  # "def" came while "abc" waited: no second URC
    check_exact(t, "AT+QSSLRECV=0,1,4",
          ok("AT+QSSLRECV=0,1,4", "+QSSLRECV: %s:%d,TCP,4" % (HOST, p.port), "abcd"))
    check_exact(t, "AT+QSSLRECV=0,1,1500",
          ok("AT+QSSLRECV=0,1,1500", "+QSSLRECV: %s:%d,TCP,2" % (HOST, p.port), "ef"))
    p.put("again", True)
    urc(t, '+QSSLURC: "recv",0,1')
    check_exact(t, "AT+QSSLRECV=1,1,1500", err("AT+QSSLRECV=1,1,1500"))  # not the foreground
    check_exact(t, "AT+QSSLRECV=0,2,1500", err("AT+QSSLRECV=0,2,1500"))  # no such socket
    check_exact(t, "AT+QSSLSTATE",
          ok("AT+QSSLSTATE", "+QSSLSTATE: IP STATUS",
             '+QSSLSTATE: 1,"TCP","%s",%d,"CONNECTED",1' % (HOST, p.port)))
    check_exact(t, "AT+QSSLCLOSE=1", text("AT+QSSLCLOSE=1", "CLOSE OK"))
    check_exact(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE", "+QSSLSTATE: IP STATUS"))
    for name in ("RAM:ca_cert.pem", "RAM:client_cert.pem", "RAM:client_key.pem"):
        check_exact(t, 'AT+QSECDEL="%s"' % name, ok('AT+QSECDEL="%s"' % name))
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    quiet(t)


def test_an_3_3_ssl_next_to_tcp(m95, peers, pki):
    """AN 3.3: QIMUX=1, QINDI=1, a normal TCP connection on index 1 and SSL on index 3;
    the shared socket table (occupied indexes), +QISTAT's per-socket lines, and QIMUX
    refused while sockets are open."""
    t = m95
    tcp = peers(echo)
    tls = peers(echo, tls=server_tls(pki))
    up(t, mux=1)
    check_exact(t, "AT+QINDI=1", ok("AT+QINDI=1"))
    line = 'AT+QIOPEN=1,"TCP","%s",%d' % (HOST, tcp.port)
    check_exact(t, line, ok(line))
    urc(t, "1, CONNECT OK")
    prompt_send(t, "AT+QISEND=1,10", b"ABCDE12345")
    urc(t, "+QIRDI: 0,1,1")
    check_exact(t, "AT+QIRD=0,1,1,1024",
          ok("AT+QIRD=0,1,1,1024", "+QIRD: %s:%d,TCP,10" % (HOST, tcp.port), "ABCDE12345"))
    ssl_ctx(t, 0, ca=False)
    line = 'AT+QSSLOPEN=3,0,"%s",%d,0' % (HOST, tls.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 3,0")
    prompt_send(t, "AT+QSSLSEND=3,12", b"hello, tls!\n")
    urc(t, '+QSSLURC: "recv",0,3')
    prompt_send(t, "AT+QSSLSEND=3", b"1234567", end=b"\x1a")
    assert recv_echo_on(t, "AT+QSSLRECV=0,3,1000", "+QSSLRECV", 19, tls.port,
                        '+QSSLURC: "recv",0,3') == b"hello, tls!\n1234567"
    # the shared table: index 1 is TCP, index 3 SSL
    line = 'AT+QSSLOPEN=1,0,"%s",%d,0' % (HOST, tls.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 1,-2")
    line = 'AT+QIOPEN=3,"TCP","%s",%d' % (HOST, tcp.port)
    check_exact(t, line, ok(line))
    urc(t, "3, ALREADY CONNECT")
    check_exact(t, "AT+QIRD=0,1,3,100", err("AT+QIRD=0,1,3,100"))
    check_exact(t, "AT+QSSLRECV=0,1,100", err("AT+QSSLRECV=0,1,100"))
    check_exact(t, "AT+QIMUX=0", err("AT+QIMUX=0"))
    idle = ['+QISTAT: %d, "", "", , "INITIAL"' % i for i in (0, 2, 4, 5)]
    t.write(b"AT+QISTAT\r")
    t.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\n" + b"".join(
        b(x) + b"\r\n" for x in [idle[0], '+QISTAT: 1, "TCP", "%s", %d, "CONNECTED"' % (
            HOST, tcp.port), idle[1], '+QISTAT: 3, "TCP", "%s", %d, "CONNECTED"' % (
            HOST, tls.port), idle[2], idle[3]]))
    check_exact(t, "AT+QSSLSTATE",
          ok("AT+QSSLSTATE", "+QSSLSTATE: IP PROCESSING",
             '+QSSLSTATE: 1,"TCP","%s",%d,"CONNECTED",0' % (HOST, tcp.port),
             '+QSSLSTATE: 3,"TCP","%s",%d,"CONNECTED",1' % (HOST, tls.port)))
    check_exact(t, "AT+QISACK=1", ok("AT+QISACK=1", "+QISACK: 10, 10, 0"))
    check_exact(t, "AT+QSSLCLOSE=3", text("AT+QSSLCLOSE=3", "CLOSE OK"))
    check_exact(t, "AT+QICLOSE=1", text("AT+QICLOSE=1", "1, CLOSE OK"))
    check_exact(t, "AT+QICLOSE=1", err("AT+QICLOSE=1"))
    t.write(b"AT+QISTAT\r")
    t.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: IP STATUS\r\n\r\n" + b"".join(
        b'+QISTAT: %d, "", "", , "INITIAL"\r\n' % i for i in range(6)))
    check_exact(t, "AT+QIMUX=0", ok("AT+QIMUX=0"))
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    quiet(t)


def test_an_3_4_transparent_ssl(m95, peers, pki):
    """AN 3.4.1: connect mode 1 gives OK then CONNECT; raw bytes both ways; "+++" -> OK;
    what arrives meanwhile waits for ATO -> CONNECT; "+++" again and AT+QSSLCLOSE."""
    t = m95

    def handler(conn, peer):
        req = b""
        while b"\r\n\r\n" not in req:
            req += conn.recv(4096)
        peer.put("request", req)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        peer.event(lambda: "escaped" in peer.results)
        conn.sendall(b"<later>")
        echo(conn, peer)

    p = peers(handler, tls=server_tls(pki))
    up(t)
    ssl_ctx(t, 0, ca=False)
    line = 'AT+QSSLOPEN=1,0,"%s",%d,1' % (HOST, p.port)
    check_exact(t, line, ok(line))
    t.expect(b"\r\nCONNECT\r\n")
    req = (b"GET /processorder.php HTTP/1.1\r\nHOST: 220.180.239.201:8011\r\nAccept: */*\r\n"
           b"User-Agent: QUECTEL MODULE\r\nCONNECT: KEEP-ALIVE\r\n\r\n")
    t.write(req)
    t.expect(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert p.result("request") == req
    escape(t, GUARD)
    check_exact(t, "AT", ok("AT"))
    p.put("escaped", True)
    quiet(t, 0.3)  # held for ATO
    check_exact(t, "ATO", text("ATO", "CONNECT"))
    t.expect(b"<later>")
    t.write(b"ping\x1a\x1b+")  # Ctrl+Z, ESC and '+' are data here
    t.expect(b"ping\x1a\x1b+")
    escape(t, GUARD)
    check_exact(t, "AT+QSSLCLOSE=1", text("AT+QSSLCLOSE=1", "CLOSE OK"))
    check_exact(t, "ATO", text("ATO", "NO CARRIER"))
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    quiet(t)


# ---------------------------------------------------------------- the legacy TCP stack


def test_single_connection_direct_output(m95, peers):
    """QIMUX=0, QINDI=0 (the default): CONNECT OK, +QISTAT's states, data shown as it comes
    (QIHEAD=1: "IPD<len>:" first), Ctrl+Z and fixed sends, +QISACK, ALREADY CONNECT."""
    t = m95
    p = peers(echo)
    up(t)
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP STATUS"))
    line = 'AT+QIOPEN="TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "CONNECT OK")
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: CONNECT OK"))
    prompt_send(t, "AT+QISEND", b"hello\r\n", end=b"\x1a")
    t.expect(b"hello\r\n")
    prompt_send(t, "AT+QISEND=3", b"abc")
    t.expect(b"abc")
    check_exact(t, "AT+QIHEAD=1", ok("AT+QIHEAD=1"))
    prompt_send(t, "AT+QISEND=4", b"\x00\xff\r\n")
    t.expect(b"IPD4:\x00\xff\r\n")
    check_exact(t, "AT+QISACK", ok("AT+QISACK", "+QISACK: 14, 14, 0"))
    check_exact(t, "AT+QIRD=0,1,0,100", ok("AT+QIRD=0,1,0,100"))  # shown already: nothing left
    check_exact(t, "AT+QISEND=1,3", err("AT+QISEND=1,3"))  # an index needs QIMUX=1
    check_exact(t, "AT+QIMODE=1", err("AT+QIMODE=1"))  # not while connected
    check_exact(t, line, ok(line))
    urc(t, "ALREADY CONNECT")
    t.write(b"AT+QISEND\r")
    t.expect(b"AT+QISEND\r\r\n> ")
    t.write(b"dropped\x1b")
    t.expect(b"dropped\r\nOK\r\n")  # ESC cancels
    check_exact(t, "AT+QICLOSE", text("AT+QICLOSE", "CLOSE OK"))
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP CLOSE"))
    # QIDNSIP=0: an address only; 1: names resolve
    line = 'AT+QIOPEN="TCP","localhost","%d"' % p.port
    check_exact(t, line, err(line))
    check_exact(t, "AT+QIDNSIP=1", ok("AT+QIDNSIP=1"))
    check_exact(t, line, ok(line))
    urc(t, "CONNECT OK")
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP INITIAL"))
    quiet(t)


def test_connect_fail(m95):
    """A refused connection: CONNECT FAIL (and "<n>, CONNECT FAIL" with QIMUX=1)."""
    t = m95
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    up(t)
    line = 'AT+QIOPEN="TCP","%s",%d' % (HOST, port)
    check_exact(t, line, ok(line))
    urc(t, "CONNECT FAIL")
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP CLOSE"))
    check_exact(t, "AT+QIMUX=1", ok("AT+QIMUX=1"))
    line = 'AT+QIOPEN=2,"TCP","%s",%d' % (HOST, port)
    check_exact(t, line, ok(line))
    urc(t, "2, CONNECT FAIL")
    quiet(t)


def test_mux_direct_output_and_qindi_2(m95, peers):
    """QIMUX=1, QINDI=0: "+RECEIVE: <id>, <len>" CR LF <data>; QINDI=2: a +QIRDI with the
    packet number, its length and what is unread, for each arrival."""
    t = m95
    p = peers(echo)
    up(t, mux=1)
    line = 'AT+QIOPEN=0,"TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "0, CONNECT OK")
    prompt_send(t, "AT+QISEND=0", b"line one\r\n", end=b"\x1a")
    t.expect(b"\r\n+RECEIVE: 0, 10\r\nline one\r\n")
    check_exact(t, "AT+QINDI=2", ok("AT+QINDI=2"))
    line = 'AT+QIOPEN=5,"TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "5, CONNECT OK")
    prompt_send(t, "AT+QISEND=5,3", b"abc")
    urc(t, "+QIRDI: 0,1,5,1,3,3")
    prompt_send(t, "AT+QISEND=5,2", b"de")
    urc(t, "+QIRDI: 0,1,5,2,2,5")
    check_exact(t, "AT+QIRD=0,1,5,1500",
          ok("AT+QIRD=0,1,5,1500", "+QIRD: %s:%d,TCP,5" % (HOST, p.port), "abcde"))
    check_exact(t, "AT+QIRD=0,2,5,1500", err("AT+QIRD=0,2,5,1500"))  # no server sockets
    check_exact(t, "AT+QICLOSE=0", text("AT+QICLOSE=0", "0, CLOSE OK"))
    check_exact(t, "AT+QICLOSE=5", text("AT+QICLOSE=5", "5, CLOSE OK"))
    quiet(t)


def test_udp_datagrams(m95):
    """AT+QIOPEN="UDP": CONNECT OK, and +QIRD gives one datagram per read, marked UDP."""
    t = m95
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((HOST, 0))
    srv.settimeout(5)
    port = srv.getsockname()[1]

    def serve():
        for _ in range(2):
            try:
                data, addr = srv.recvfrom(2048)
            except OSError:
                return
            srv.sendto(data.upper(), addr)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        up(t)
        check_exact(t, "AT+QINDI=1", ok("AT+QINDI=1"))
        line = 'AT+QIOPEN="UDP","%s",%d' % (HOST, port)
        check_exact(t, line, ok(line))
        urc(t, "CONNECT OK")
        check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: CONNECT OK"))
        prompt_send(t, "AT+QISEND=2", b"ab")
        urc(t, "+QIRDI: 0,1,0")
        prompt_send(t, "AT+QISEND=3", b"cde")
        th.join(5)
        quiet(t, 0.2)
        for want in (b"AB", b"CDE"):
            check_exact(t, "AT+QIRD=0,1,0,1500", ok("AT+QIRD=0,1,0,1500", "+QIRD: %s:%d,UDP,%d" % (
                HOST, port, len(want)), want))
        check_exact(t, "AT+QIRD=0,1,0,1500", ok("AT+QIRD=0,1,0,1500"))
        check_exact(t, "AT+QICLOSE", text("AT+QICLOSE", "CLOSE OK"))
        quiet(t)
    finally:
        srv.close()


def test_transparent_tcp(m95, peers):
    """QIMODE=1: OK then CONNECT, raw bytes, "+++" -> OK, ATO -> CONNECT, AT+QICLOSE."""
    t = m95
    p = peers(echo)
    up(t)
    check_exact(t, "AT+QIMODE=1", ok("AT+QIMODE=1"))
    line = 'AT+QIOPEN="TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, ok(line))
    t.expect(b"\r\nCONNECT\r\n")
    t.write(b"AT\r\n\x00\x1a")
    t.expect(b"AT\r\n\x00\x1a")
    escape(t, GUARD)
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: CONNECT OK"))
    check_exact(t, "ATO", text("ATO", "CONNECT"))
    t.write(b"again")
    t.expect(b"again")
    escape(t, GUARD)
    check_exact(t, "AT+QICLOSE", text("AT+QICLOSE", "CLOSE OK"))
    check_exact(t, "AT+QIMODE=0", ok("AT+QIMODE=0"))
    quiet(t)


# ---------------------------------------------------------------- the peer closing


def open_mode(t, mode, port):
    """Open socket 1 (0 for the single TCP connection) in the named mode."""
    if mode.startswith("ssl"):
        ssl_ctx(t, 0, ca=False)
        line = 'AT+QSSLOPEN=1,0,"%s",%d,%d' % (HOST, port, mode == "ssl-transparent")
        check_exact(t, line, ok(line))
        if mode == "ssl-transparent":
            t.expect(b"\r\nCONNECT\r\n")
        else:
            urc(t, "+QSSLOPEN: 1,0")
        return
    if mode == "tcp-transparent":
        check_exact(t, "AT+QIMODE=1", ok("AT+QIMODE=1"))
    if mode == "tcp-buffer":
        check_exact(t, "AT+QINDI=1", ok("AT+QINDI=1"))
    if mode == "tcp-push":
        check_exact(t, "AT+QIMUX=1", ok("AT+QIMUX=1"))
        line = 'AT+QIOPEN=1,"TCP","%s",%d' % (HOST, port)
    else:
        line = 'AT+QIOPEN="TCP","%s",%d' % (HOST, port)
    check_exact(t, line, ok(line))
    if mode == "tcp-transparent":
        t.expect(b"\r\nCONNECT\r\n")
    else:
        urc(t, "1, CONNECT OK" if mode == "tcp-push" else "CONNECT OK")


MODES = ["tcp-buffer", "tcp-push", "tcp-transparent", "ssl-buffer", "ssl-transparent"]


@pytest.mark.parametrize("mode", MODES)
def test_peer_closes(m95, peers, pki, mode):
    """The peer sends "bye" and closes. Buffer modes: the data URC, then the close URC, and
    the data stay readable; shown/transparent modes: the data, then the close (transparent:
    back in command mode). Then the index opens again without a close by the host."""
    t = m95
    p = peers(say_then_close(b"bye"), tls=server_tls(pki) if mode.startswith("ssl") else None)
    up(t)
    open_mode(t, mode, p.port)
    p.result("closed")
    if mode == "tcp-buffer":
        urc(t, "+QIRDI: 0,1,0")
        urc(t, "CLOSED")
        check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP CLOSE"))
        check_exact(t, "AT+QIRD=0,1,0,1500",
              ok("AT+QIRD=0,1,0,1500", "+QIRD: %s:%d,TCP,3" % (HOST, p.port), "bye"))
    elif mode == "tcp-push":
        t.expect(b"\r\n+RECEIVE: 1, 3\r\nbye")
        urc(t, "1, CLOSED")
        t.write(b"AT+QISTAT\r")
        got = t.read_until(b'+QISTAT: 5, "", "", , "INITIAL"\r\n')
        assert b"STATE: IP STATUS" in got
        assert b'+QISTAT: 1, "TCP", "%s", %d, "CLOSED"' % (b(HOST), p.port) in got
    elif mode == "tcp-transparent":
        t.expect(b"bye\r\nCLOSED\r\n")
        check_exact(t, "AT", ok("AT"))
        check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP CLOSE"))
        check_exact(t, "ATO", text("ATO", "NO CARRIER"))
    elif mode == "ssl-buffer":
        urc(t, '+QSSLURC: "recv",0,1')
        urc(t, '+QSSLURC: "closed",1')
        check_exact(t, "AT+QSSLRECV=0,1,1500",
              ok("AT+QSSLRECV=0,1,1500", "+QSSLRECV: %s:%d,TCP,3" % (HOST, p.port), "bye"))
        check_exact(t, "AT+QSSLSTATE",
              ok("AT+QSSLSTATE", "+QSSLSTATE: IP STATUS",
                 '+QSSLSTATE: 1,"TCP","%s",%d,"CLOSED",1' % (HOST, p.port)))
    else:
        t.expect(b"bye")
        urc(t, '+QSSLURC: "closed",1')
        check_exact(t, "AT", ok("AT"))
        check_exact(t, "ATO", text("ATO", "NO CARRIER"))
    # the module closed it: the index opens again without AT+QICLOSE/AT+QSSLCLOSE
    p2 = peers(echo, tls=server_tls(pki) if mode.startswith("ssl") else None)
    if mode.startswith("ssl"):
        line = 'AT+QSSLOPEN=1,0,"%s",%d,0' % (HOST, p2.port)
        check_exact(t, line, ok(line))
        urc(t, "+QSSLOPEN: 1,0")
    else:
        line = ('AT+QIOPEN=1,"TCP","%s",%d' if mode == "tcp-push" else
                'AT+QIOPEN="TCP","%s",%d') % (HOST, p2.port)
        check_exact(t, line, ok(line))
        if mode == "tcp-transparent":
            t.expect(b"\r\nCONNECT\r\n")
            escape(t, GUARD)
        else:
            urc(t, "1, CONNECT OK" if mode == "tcp-push" else "CONNECT OK")
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    quiet(t)


def test_network_drop_closes_every_socket(modemsim, peers, pki, tmp_path):
    """The network drops the context (scenario fault pdp.deact): +PDP DEACT, then each
    connection's close URC in its own words; +QISTAT says PDP DEACT until AT+QIDEACT, and no
    socket opens meanwhile."""
    scn = tmp_path / "drop.txt"
    scn.write_text('after command "AT+CSQ" fault pdp.deact\n')
    sim = modemsim("--broker", "none", "--scenario", str(scn), model="m95")
    t = sim.open()
    p = peers(echo)
    tls = peers(echo, tls=server_tls(pki))
    up(t, mux=1)
    line = 'AT+QIOPEN=0,"TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "0, CONNECT OK")
    ssl_ctx(t, 0, ca=False)
    line = 'AT+QSSLOPEN=4,0,"%s",%d,0' % (HOST, tls.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 4,0")
    t.write(b"AT+CSQ\r")
    t.read_until(b"\r\nOK\r\n")
    urc(t, "+PDP DEACT")
    urc(t, "0, CLOSED")
    urc(t, '+QSSLURC: "closed",4')
    t.write(b"AT+QISTAT\r")
    t.expect(b"AT+QISTAT\r\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")
    t.read_until(b'+QISTAT: 5, "", "", , "INITIAL"\r\n')
    line = 'AT+QIOPEN=1,"TCP","%s",%d' % (HOST, p.port)
    check_exact(t, line, err(line))
    check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
    check_exact(t, "AT+QIMUX=0", ok("AT+QIMUX=0"))
    check_exact(t, "AT+QISTAT", text("AT+QISTAT", "OK", "STATE: IP INITIAL"))
    quiet(t)


# ---------------------------------------------------------------- SEND FAIL


@pytest.mark.parametrize("kind", ["tcp", "ssl"])
def test_send_fail_when_the_peer_stops_reading(m95, peers, pki, kind):
    """SEND FAIL once the bytes the peer has not acknowledged fill the send buffer (the peer
    stops reading, its window closes); SEND OK again after it reads (GSM SSL AN 2.2.3: "delay
    some time"), and nothing was lost."""
    t = m95

    def handler(conn, peer):
        peer.event(lambda: "drain" in peer.results, timeout=30)
        h, n = hashlib.sha256(), 0
        while n < peer.results["drain"]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        peer.put("got", (n, h.hexdigest()))
        echo(conn, peer)

    p = peers(handler, tls=server_tls(pki) if kind == "ssl" else None, rcvbuf=4096)
    up(t, mux=1)
    check_exact(t, "ATE0", ok("ATE0"))
    if kind == "ssl":
        ssl_ctx_quiet(t)
        t.write(b'AT+QSSLOPEN=2,0,"%s",%d,0\r' % (b(HOST), p.port))
        t.expect(b"\r\nOK\r\n\r\n+QSSLOPEN: 2,0\r\n")
        cmd = "AT+QSSLSEND=2,1460"
    else:
        t.write(b'AT+QIOPEN=2,"TCP","%s",%d\r' % (b(HOST), p.port))
        t.expect(b"\r\nOK\r\n\r\n2, CONNECT OK\r\n")
        cmd = "AT+QISEND=2,1460"
    sent = hashlib.sha256()
    n = 0
    for i in range(2000):
        chunk = os.urandom(1460)
        if not send_cmd(t, cmd, chunk):
            break
        sent.update(chunk)
        n += len(chunk)
    else:
        raise AssertionError("no SEND FAIL after %d bytes" % n)
    assert n > 60000  # the send buffer (sock.h SOCK_TX_LIMIT, 64 KiB) was used up first
    p.put("drain", n + 1460)
    last = os.urandom(1460)
    deadline = time.monotonic() + 10
    while not send_cmd(t, cmd, last):
        assert time.monotonic() < deadline, "still SEND FAIL after the peer read"
    sent.update(last)
    assert p.result("got") == (n + 1460, sent.hexdigest())


def ssl_ctx_quiet(t, ctx=0):
    for line in ('AT+QSSLCFG="sslversion",%d,4' % ctx, 'AT+QSSLCFG="seclevel",%d,0' % ctx):
        t.write(b(line) + b"\r")
        t.expect(b"\r\nOK\r\n")


# ---------------------------------------------------------------- certificates


@pytest.mark.parametrize("server,cfg,want", [
    ("server-expired.pem", {}, -1),
    ("server-expired.pem", {"rtc": 1}, 0),
    ("server-otherca.pem", {"rtc": 1}, -1),
    ("server-wronghost.pem", {"rtc": 1}, -1),
    ("server.pem", {"rtc": 1, "ca": False}, -1),
    ("server.pem", {"rtc": 1, "client": True}, -1),
    ("server.pem", {"rtc": 1, "client": True, "cert": True}, 0),
], ids=["expired", "expired-rtc-ignored", "other-ca", "wrong-host", "no-ca", "no-client-cert",
        "client-cert"])
def test_certificate_checks(m95, peers, pki, server, cfg, want):
    """seclevel 1 (2 where the server asks for a client certificate): every failure is
    +QSSLOPEN: <ssid>,-1 (AN 2.2.2), the cause is in the trace."""
    t = m95
    p = peers(echo, tls=server_tls(pki, cert=server, require_client=cfg.get("client", False)))
    upload_file(t, "RAM:ca_cert.pem", pki["ca.pem"], timeout=100)
    if cfg.get("cert"):
        upload_file(t, "RAM:client_cert.pem", pki["client-rsa.pem"], timeout=100)
        upload_file(t, "RAM:client_key.pem", pki["client-rsa.key"], timeout=100)
    up(t)
    lines = ['AT+QSSLCFG="ignorertctime",%d' % cfg.get("rtc", 0),
             'AT+QSSLCFG="seclevel",2,%d' % (2 if cfg.get("client") else 1)]
    if cfg.get("ca", True):
        lines.append('AT+QSSLCFG="cacert",2,"RAM:ca_cert.pem"')
    if cfg.get("cert"):
        lines += ['AT+QSSLCFG="clientcert",2,"RAM:client_cert.pem"',
                  'AT+QSSLCFG="clientkey",2,"RAM:client_key.pem"']
    for line in lines:
        check_exact(t, line, ok(line))
    line = 'AT+QSSLOPEN=4,2,"%s",%d,0' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 4,%d" % want)
    if want == 0:
        prompt_send(t, "AT+QSSLSEND=4,4", b"ping")
        urc(t, '+QSSLURC: "recv",0,4')
        check_exact(t, "AT+QSSLCLOSE=4", text("AT+QSSLCLOSE=4", "CLOSE OK"))
    else:
        check_exact(t, "AT+QSSLSTATE", ok("AT+QSSLSTATE", "+QSSLSTATE: IP STATUS"))
        check_exact(t, "AT+QSSLSEND=4", err("AT+QSSLSEND=4"))
    quiet(t)


def test_transparent_open_that_fails_and_missing_file(m95, peers, pki):
    """A transparent open that fails answers +QSSLOPEN: <ssid>,-1 (no CONNECT), and so does
    a context naming a certificate file the modem does not have."""
    t = m95
    p = peers(echo, tls=server_tls(pki, cert="server-otherca.pem"))
    upload_file(t, "RAM:ca_cert.pem", pki["ca.pem"], timeout=100)
    up(t)
    for line in ('AT+QSSLCFG="ignorertctime",1', 'AT+QSSLCFG="seclevel",0,1',
                 'AT+QSSLCFG="cacert",0,"RAM:ca_cert.pem"', 'AT+QSSLCFG="seclevel",1,1',
                 'AT+QSSLCFG="cacert",1,"RAM:missing.pem"'):
        check_exact(t, line, ok(line))
    line = 'AT+QSSLOPEN=0,0,"%s",%d,1' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 0,-1")
    line = 'AT+QSSLOPEN=0,1,"%s",%d,0' % (HOST, p.port)
    check_exact(t, line, ok(line))
    urc(t, "+QSSLOPEN: 0,-1")
    check_exact(t, "AT", ok("AT"))
    quiet(t)


# ---------------------------------------------------------------- 1 MiB each way


def bulk_buffer(t, send_line, read_line, head, data):
    """Interleave fixed-length sends and reads until everything went and came back."""
    got = hashlib.sha256()
    n_in = i = 0
    deadline = time.monotonic() + 60
    while i < len(data) or n_in < MIB:
        assert time.monotonic() < deadline, "stalled at %d sent, %d read" % (i, n_in)
        if i < len(data):
            chunk = data[i:i + 1460]
            if send_cmd(t, send_line % len(chunk), chunk):
                i += len(chunk)
        if n_in < MIB:
            piece = read_cmd(t, read_line, head)
            got.update(piece)
            n_in += len(piece)
    return n_in, got.hexdigest()


def bulk_push(t, data):
    """QIMUX=1, QINDI=0: sends by command, data shown as +RECEIVE blocks between them."""
    got = hashlib.sha256()
    state = {"n": 0}
    head = re.compile(rb"\+RECEIVE: 1, (\d+)")

    def take(line):
        mt = head.fullmatch(line)
        if mt:
            piece = t.read_exact(int(mt.group(1)))
            got.update(piece)
            state["n"] += len(piece)
        return line in (b"SEND OK", b"SEND FAIL", b"ERROR")

    deadline = time.monotonic() + 60
    i = 0
    while i < len(data):
        assert time.monotonic() < deadline
        chunk = data[i:i + 1460]
        t.write(b"AT+QISEND=1,%d\r\n" % len(chunk))  # CR LF: see send_cmd
        while True:  # "+RECEIVE" blocks may come before the prompt
            pre = t.read_until(re.compile(rb"\r\n> |\r\n\+RECEIVE: 1, \d+\r\n"))
            mt = re.search(rb"\+RECEIVE: 1, (\d+)\r\n$", pre)
            if not mt:
                break
            piece = t.read_exact(int(mt.group(1)))
            got.update(piece)
            state["n"] += len(piece)
        t.write(chunk)
        if lines_until(t, take)[-1] == b"SEND OK":
            i += len(chunk)
    while state["n"] < MIB:
        assert time.monotonic() < deadline
        lines_until(t, lambda l: take(l) or head.fullmatch(l) is not None)
    return state["n"], got.hexdigest()


def bulk_transparent(t, data):
    """Raw bytes both ways at once."""
    got = hashlib.sha256()
    n_in = len(t.buf)
    got.update(t.buf)
    t.buf = b""
    view = memoryview(data)
    deadline = time.monotonic() + 60
    while len(view) or n_in < MIB:
        left = deadline - time.monotonic()
        assert left > 0, "stalled: %d left to send, %d read" % (len(view), n_in)
        r, w, _ = select.select([t.fd], [t.fd] if len(view) else [], [], min(left, 1))
        if r:
            try:
                piece = os.read(t.fd, 65536)
                got.update(piece)
                n_in += len(piece)
            except BlockingIOError:
                pass
        if w:
            try:
                view = view[os.write(t.fd, view[:4096]):]
            except BlockingIOError:
                pass
    return n_in, got.hexdigest()


@pytest.mark.parametrize("mode", MODES)
def test_one_mib_each_way(modemsim, peers, pki, mode):
    """1 MiB of random bytes from the host and 1 MiB from the peer at the same time, through
    every receive mode; both sides compare SHA-256 hashes. Flow control on both paths (the
    receive buffer's limit, SEND FAIL, the host not read while the send side is full)."""
    sim = modemsim("--broker", "none", model="m95")  # 1 s guard times: no "+++" by chance
    t = sim.open()
    to_peer, to_host = os.urandom(MIB), os.urandom(MIB)
    p = peers(exchange(MIB, to_host), tls=server_tls(pki) if mode.startswith("ssl") else None)
    up(t)
    check_exact(t, "ATE0", ok("ATE0"))
    open_mode_quiet(t, mode, p.port)
    if mode == "tcp-buffer":
        got = bulk_buffer(t, "AT+QISEND=%d", "AT+QIRD=0,1,0,1500", b"+QIRD:", to_peer)
    elif mode == "ssl-buffer":
        got = bulk_buffer(t, "AT+QSSLSEND=1,%d", "AT+QSSLRECV=0,1,1500", b"+QSSLRECV:",
                          to_peer)
    elif mode == "tcp-push":
        got = bulk_push(t, to_peer)
    else:
        got = bulk_transparent(t, to_peer)
    assert got == (MIB, hashlib.sha256(to_host).hexdigest())
    assert p.result("received", timeout=30) == (MIB, hashlib.sha256(to_peer).hexdigest())
    if mode.endswith("transparent"):
        escape(t, 1.1)
    close = {"tcp-push": "AT+QICLOSE=1", "ssl-buffer": "AT+QSSLCLOSE=1",
             "ssl-transparent": "AT+QSSLCLOSE=1"}.get(mode, "AT+QICLOSE")
    t.write(b(close) + b"\r")
    lines_until(t, lambda l: l.endswith(b"CLOSE OK"))
    quiet(t)


def open_mode_quiet(t, mode, port):
    """open_mode with echo off."""
    def do(line, *want):
        t.write(b(line) + b"\r")
        for w in want:
            t.expect(b"\r\n" + b(w) + b"\r\n")

    if mode.startswith("ssl"):
        ssl_ctx_quiet(t)
        do('AT+QSSLOPEN=1,0,"%s",%d,%d' % (HOST, port, mode == "ssl-transparent"), "OK",
           "CONNECT" if mode == "ssl-transparent" else "+QSSLOPEN: 1,0")
        return
    if mode == "tcp-transparent":
        do("AT+QIMODE=1", "OK")
    if mode == "tcp-buffer":
        do("AT+QINDI=1", "OK")
    if mode == "tcp-push":
        do("AT+QIMUX=1", "OK")
        do('AT+QIOPEN=1,"TCP","%s",%d' % (HOST, port), "OK", "1, CONNECT OK")
    else:
        do('AT+QIOPEN="TCP","%s",%d' % (HOST, port), "OK",
           "CONNECT" if mode == "tcp-transparent" else "CONNECT OK")


# ---------------------------------------------------------------- MQTT over a TCP socket


def test_issue_acceptance_mqtt_through_qiopen(modemsim):
    """The host speaks MQTT itself through a legacy TCP socket (QIMUX=0, QINDI=1) to the
    embedded mosquitto: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH both ways (QoS 1 up with
    its PUBACK, QoS 1 down acknowledged by the host), DISCONNECT; every packet byte-exact."""
    sim = modemsim(model="m95")
    t = sim.open()
    other = MqttClient("127.0.0.1", sim.broker["plain"], "other-side")
    inbox = bytearray()

    def qisend(data):
        prompt_send(t, "AT+QISEND=%d" % len(data), data)

    def packets(count):
        """Read through +QIRDI/AT+QIRD until count whole packets arrived."""
        deadline = time.monotonic() + 10
        while True:
            whole, rest = fbk.split_packets(bytes(inbox))
            if len(whole) >= count:
                inbox[:] = rest
                return whole
            assert time.monotonic() < deadline, "MQTT packets: %r" % bytes(inbox)
            out = t.cmd("AT+QIRD=0,1,0,1500")
            mt = re.search(rb"\+QIRD: 127\.0\.0\.1:1883,TCP,(\d+)\r\n", out)
            if not mt:
                assert out.endswith(b"AT+QIRD=0,1,0,1500\r\r\nOK\r\n"), out
                t.read_until(b"\r\n+QIRDI: 0,1,0\r\n")
                continue
            n = int(mt.group(1))
            inbox.extend(out[mt.end():mt.end() + n])
            assert out[mt.end() + n:] == b"\r\n\r\nOK\r\n"

    try:
        assert other.connect() == 0
        assert other.subscribe("m95/up", qos=1) == [1]
        up(t)
        for line in ("AT+QINDI=1", "AT+QIDNSIP=1"):
            check_exact(t, line, ok(line))
        line = 'AT+QIOPEN="TCP","broker.modemsim.test","1883"'
        check_exact(t, line, ok(line))
        urc(t, "CONNECT OK")
        qisend(fbk.connect_packet("m95-host"))
        urc(t, "+QIRDI: 0,1,0")
        assert packets(1) == [(fbk.connack(0), 2)]
        qisend(fbk.subscribe_packet(1, [("m95/down", 1)]))
        assert packets(1) == [(fbk.suback(1, [1]), 2)]
        qisend(fbk.publish("m95/up", b"\x00binary\r\nup\x1a", qos=1, pid=2))
        assert packets(1) == [(fbk.puback(2), 2)]
        msg = other.wait_for(lambda m: m.topic == "m95/up")
        assert (msg.payload, msg.qos) == (b"\x00binary\r\nup\x1a", 1)
        other.publish("m95/down", b"down \"quoted\", with commas", qos=1)
        [(pub, header_len)] = packets(1)
        parsed = fbk.Packet(0, pub, header_len, 0)
        assert (parsed.type, parsed.topic, parsed.qos) == (fbk.PUBLISH, "m95/down", 1)
        assert parsed.payload == b"down \"quoted\", with commas"
        assert pub == fbk.publish("m95/down", parsed.payload, qos=1, pid=parsed.packet_id)
        qisend(fbk.puback(parsed.packet_id))
        qisend(fbk.disconnect_packet())
        urc(t, "CLOSED")  # mosquitto closes after DISCONNECT (MQTT 3.1.1 3.14.4)
        check_exact(t, "AT+QICLOSE", text("AT+QICLOSE", "CLOSE OK"))
        check_exact(t, "AT+QIDEACT", text("AT+QIDEACT", "DEACT OK"))
        quiet(t)
    finally:
        other.close()
