"""SIMCom sockets end to end, byte for byte: the TCP links of AT+CIPOPEN/CIPSEND/CIPRXGET/
CIPCLOSE as TinyGSM's SIM7600 and A76xx clients drive them (reference §7.2), and the SSL/TCP
socket service AT+CCH* (reference §7.3) with real TLS from the CSSLCFG contexts and the test
PKI. The peers are real listeners on loopback started by each test (test_sock_ec25.Peer)."""
import socket

import pytest

from test_sock_ec25 import PEER_HOST, Peer, echo
from control import wait_for
from modemsim_harness.at import b, certdown, escape, urc

MODELS = ["sim7600", "a7670"]


def net(modemsim, model="sim7600", *extra):
    """A booted module (ATE0; names resolve to 127.0.0.1) with the network open."""
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", *extra, model=model)
    t = sim.open()
    t.sim = sim
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    urc(t, "+NETOPEN: 0")
    return t


def cip_open(t, link, port, host=PEER_HOST):
    assert t.cmd('AT+CIPOPEN=%d,"TCP","%s",%d' % (link, host, port)) == b"\r\nOK\r\n"
    urc(t, "+CIPOPEN: %d,0" % link, timeout=10)


def cip_send(t, link, data):
    t.write(b"AT+CIPSEND=%d,%d\r" % (link, len(data)))
    t.expect(b"\r\n>")
    t.write(data)
    t.expect(b"\r\nOK\r\n\r\n+CIPSEND: %d,%d,%d\r\n" % (link, len(data), len(data)))


def closer(reply):
    """Read what comes, send reply, close."""
    def run(peer, n, c):
        d = c.recv(65536)
        peer.received[n] += d
        c.sendall(reply)
    return run


@pytest.fixture
def peer():
    made = []

    def make(handler=echo, **kw):
        p = Peer(handler, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


# ---------------------------------------------------------------- CIP


@pytest.mark.parametrize("model", MODELS)
def test_tinygsm_tcp_client_replayed(modemsim, peer, model):
    """TinyGSM's gprsConnect, modemConnect, modemSend, modemGetAvailable, modemRead,
    modemGetConnected, stop and gprsDisconnect, as its SIM7600 and A7670 clients send them."""
    p = peer()
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", model=model)
    t = sim.open()
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert t.cmd("AT+NETCLOSE") == b"\r\n+NETCLOSE: 2\r\n\r\nERROR\r\n"
    for line in ('AT+CGDCONT=1,"IP","internet","0.0.0.0",0,0', "AT+CIPMODE=0",
                 "AT+CIPSENDMODE=0", "AT+CIPCCFG=10,0,0,0,1,0,75000",
                 "AT+CIPTIMEOUT=75000,15000,15000"):
        assert t.cmd(line) == b"\r\nOK\r\n", line
    if model == "a7670":
        assert t.cmd("AT+CGACT=1,1") == b"\r\nOK\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    urc(t, "+NETOPEN: 0")
    assert t.cmd("AT+NETOPEN?") == b"\r\n+NETOPEN: 1\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPRXGET=1") == b"\r\nOK\r\n"
    cip_open(t, 0, p.port)
    cip_send(t, 0, b"hello world")
    urc(t, "+CIPRXGET: 1,0")
    assert t.cmd("AT+CIPRXGET=4,0") == b"\r\n+CIPRXGET: 4,0,11\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPRXGET=2,0,5") == b"\r\n+CIPRXGET: 2,0,5,6\r\nhello\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPRXGET=3,0,6") == (b"\r\n+CIPRXGET: 3,0,6,0\r\n20776F726C64\r\n"
                                          b"\r\nOK\r\n")
    assert t.cmd("AT+CIPRXGET=4,0") == b"\r\n+CIPRXGET: 4,0,0\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 1,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPCLOSE=0") == b"\r\nOK\r\n"
    urc(t, "+CIPCLOSE: 0,0")
    assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 0,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"
    assert t.cmd("AT+NETCLOSE") == b"\r\nOK\r\n"
    urc(t, "+NETCLOSE: 0")
    assert p.received[0] == b"hello world"


def test_direct_push_recv_from_and_headers(modemsim, peer):
    p = peer()
    t = net(modemsim)
    cip_open(t, 3, p.port)
    cip_send(t, 3, b"abc")
    t.expect(b"\r\nRECV FROM:127.0.0.1:%d\r\n+IPD3\r\nabc" % p.port)
    assert t.cmd("AT+CIPCCFG=,,,,1") == b"\r\nOK\r\n"
    assert t.cmd("AT+CIPCCFG?") == b"\r\n+CIPCCFG: 10,0,0,1,1,0,500\r\n\r\nOK\r\n"
    cip_send(t, 3, b"de")
    t.expect(b"\r\nRECV FROM:127.0.0.1:%d\r\n+RECEIVE,3,2\r\nde" % p.port)
    assert t.cmd("AT+CIPHEAD=0") == b"\r\nOK\r\n"
    assert t.cmd("AT+CIPSRIP=0") == b"\r\nOK\r\n"
    cip_send(t, 3, b"xyz")
    t.expect(b"xyz")
    assert t.cmd("AT+CIPOPEN?") == (b'\r\n+CIPOPEN: 0\r\n+CIPOPEN: 1\r\n+CIPOPEN: 2\r\n'
                                    b'+CIPOPEN: 3,"TCP","127.0.0.1",%d,-1\r\n+CIPOPEN: 4\r\n'
                                    b'+CIPOPEN: 5\r\n+CIPOPEN: 6\r\n+CIPOPEN: 7\r\n'
                                    b'+CIPOPEN: 8\r\n+CIPOPEN: 9\r\n\r\nOK\r\n' % p.port)


def test_peer_close_ipclose_then_reads_and_reopen(modemsim, peer):
    p = peer(closer(b"bye"))
    t = net(modemsim)
    assert t.cmd("AT+CIPRXGET=1") == b"\r\nOK\r\n"
    cip_open(t, 1, p.port)
    cip_send(t, 1, b"hi")
    urc(t, "+CIPRXGET: 1,1")
    urc(t, "+IPCLOSE: 1,1")
    assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 0,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPRXGET=2,1") == b"\r\n+CIPRXGET: 2,1,3,0\r\nbye\r\n\r\nOK\r\n"
    assert t.cmd("AT+CIPRXGET=2,1") == b"\r\n+IP ERROR: No data\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CIPSEND=1,2") == b"\r\n+CIPERROR: 4\r\n\r\nERROR\r\n"
    # TinyGSM's A7670 client connects again without closing first
    cip_open(t, 1, p.port)
    assert t.cmd("AT+CIPCLOSE=1") == b"\r\nOK\r\n"
    urc(t, "+CIPCLOSE: 1,0")


@pytest.mark.parametrize("model,lines", [
    ("sim7600", b""),
    ("a7670", b"\r\n+CIPCLOSE: 0,0\r\n\r\n+CIPCLOSE: 4,0\r\n"),
])
def test_netclose_closes_links_with_a76xx_lines(modemsim, peer, model, lines):
    p = peer()
    t = net(modemsim, model)
    cip_open(t, 0, p.port)
    cip_open(t, 4, p.port)
    assert t.cmd("AT+NETCLOSE") == b"\r\nOK\r\n"
    t.expect(lines + b"\r\n+NETCLOSE: 0\r\n")
    assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 0,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"


def test_cip_bad_input(modemsim, peer):
    p = peer()
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", model="sim7600")
    t = sim.open()
    t.cmd("ATE0")
    line = 'AT+CIPOPEN=0,"TCP","%s",%d' % (PEER_HOST, p.port)
    assert t.cmd(line) == b"\r\n+CIPOPEN: 0,2\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CIPSEND=0,5") == b"\r\n+CIPERROR: 2\r\n\r\nERROR\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    urc(t, "+NETOPEN: 0")
    assert t.cmd('AT+CIPOPEN=10,"TCP","%s",%d' % (PEER_HOST, p.port)) == (
        b"\r\n+IP ERROR: Invalid parameter\r\n\r\nERROR\r\n")
    assert t.cmd('AT+CIPOPEN=1,"UDP",,,8080') == b"\r\n+CIPOPEN: 1,4\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CIPSEND=0,5") == b"\r\n+CIPERROR: 4\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CIPCLOSE=0") == b"\r\n+CIPCLOSE: 0,4\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CIPRXGET=2,0") == b"\r\n+IP ERROR: Connection is not created\r\n\r\nERROR\r\n"
    cip_open(t, 0, p.port)
    assert t.cmd(line) == b"\r\n+CIPOPEN: 0,4\r\n\r\nERROR\r\n"
    for bad in ("AT+CIPSEND=0,0", "AT+CIPSEND=0,1501", "AT+CIPSEND=10,1", "AT+CIPRXGET=5",
                "AT+CIPRXGET=0,1", "AT+CIPCCFG=11", "AT+CIPTIMEOUT=100", "AT+CIPMODE=2"):
        assert t.cmd(bad) == b"\r\nERROR\r\n", bad
    # push mode link: nothing to read with CIPRXGET
    assert t.cmd("AT+CIPRXGET=4,0") == b"\r\n+IP ERROR: Operation not supported\r\n\r\nERROR\r\n"
    # a refused connection: OK, then the result URC
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    assert t.cmd('AT+CIPOPEN=2,"TCP","%s",%d' % (PEER_HOST, port)) == b"\r\nOK\r\n"
    urc(t, "+CIPOPEN: 2,1", timeout=10)
    # ESC cancels a send: ERROR (SIM7600 manual 11.2.5)
    t.write(b"AT+CIPSEND=0\r")
    t.expect(b"\r\n>")
    t.write(b"abc\x1b")
    t.expect(b"\r\nERROR\r\n")
    # Ctrl+Z ends a send of any length
    t.write(b"AT+CIPSEND=0\r")
    t.expect(b"\r\n>")
    t.write(b"hello\x1a")
    t.expect(b"\r\nOK\r\n\r\n+CIPSEND: 0,5,5\r\n")
    t.expect(b"\r\nRECV FROM:127.0.0.1:%d\r\n+IPD5\r\nhello" % p.port)


def test_cip_send_abandoned_by_reboot(modemsim, peer, tmp_path):
    from control import Control
    p = peer()
    path = str(tmp_path / "ctl.sock")
    t = net(modemsim, "sim7600", "--control", path)
    ctl = Control(path)
    try:
        cip_open(t, 0, p.port)
        t.write(b"AT+CIPSEND=0,10\r")
        t.expect(b"\r\n>")
        n = ctl.query("counters")["modems"][0]["bytes_in"]
        t.write(b"abc")
        wait_for(lambda: ctl.query("counters")["modems"][0]["bytes_in"] >= n + 3,
                 what="the modem to take the 3 bytes")
        ctl.ok("at 0ms fault modem.reboot")
        t.read_until(b"PB DONE\r\n", timeout=20)
        t.cmd("ATE0")
        assert t.cmd("AT+NETOPEN?") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
        assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 0,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"
        assert p.received.get(0, b"") == b""
    finally:
        ctl.close()


def test_cip_transparent_mode(modemsim, peer):
    p = peer()
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", model="sim7600")
    t = sim.open()
    t.cmd("ATE0")
    assert t.cmd("AT+CIPMODE=1") == b"\r\nOK\r\n"
    assert t.cmd("AT+NETOPEN") == b"\r\nOK\r\n"
    urc(t, "+NETOPEN: 0")
    assert t.cmd('AT+CIPOPEN=1,"TCP","%s",%d' % (PEER_HOST, p.port)) == (
        b"\r\n+CIPOPEN: 1,3\r\n\r\nERROR\r\n")
    assert t.cmd('AT+CIPOPEN=0,"TCP","%s",%d' % (PEER_HOST, p.port),
                 timeout=10) == b"\r\nCONNECT 115200\r\n"
    t.write(b"ping")
    t.expect(b"ping")
    escape(t, 1.2)
    assert t.cmd("AT+CIPCLOSE=0") == b"\r\nOK\r\n"
    t.expect(b"\r\nCLOSED\r\n\r\n+CIPCLOSE: 0,0\r\n")


def test_cip_test_forms(modemsim):
    t = net(modemsim)
    for line, reply in [("AT+CIPOPEN=?", '+CIPOPEN: (0-9),("TCP","UDP")'),
                        ("AT+CIPSEND=?", "+CIPSEND: (0-9),(1-1500)"),
                        ("AT+CIPRXGET=?", "+CIPRXGET: (0-4),(0-9),(1-1500)"),
                        ("AT+CIPCLOSE=?", "+CIPCLOSE: (0-9)"),
                        ("AT+CIPRXGET?", "+CIPRXGET: 0"),
                        ("AT+CIPMODE?", "+CIPMODE: 0"),
                        ("AT+CIPTIMEOUT?", "+CIPTIMEOUT: 120000,120000,120000"),
                        ("AT+CIPCCFG?", "+CIPCCFG: 10,0,0,1,0,0,500")]:
        assert t.cmd(line) == b"\r\n" + b(reply) + b"\r\n\r\nOK\r\n", line


# ---------------------------------------------------------------- CCH


def cch(modemsim, model="a7670", *extra):
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", *extra, model=model)
    t = sim.open()
    t.sim = sim
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    return t


def cch_start(t):
    assert t.cmd("AT+CCHSTART") == b"\r\nOK\r\n"
    urc(t, "+CCHSTART: 0")


def cch_send(t, s, data, report=True):
    t.write(b"AT+CCHSEND=%d,%d\r" % (s, len(data)))
    t.expect(b"\r\n>")
    t.write(data)
    t.expect(b"\r\nOK\r\n" + (b"\r\n+CCHSEND: %d,0\r\n" % s if report else b""))


@pytest.mark.parametrize("model", MODELS)
def test_cch_tcp_manual_receive(modemsim, peer, model):
    p = peer()
    t = cch(modemsim, model)
    assert t.cmd("AT+CCHSET=1,1") == b"\r\nOK\r\n"
    assert t.cmd("AT+CCHSET?") == b"\r\n+CCHSET: 1,1\r\n\r\nOK\r\n"
    cch_start(t)
    assert t.cmd("AT+CCHOPEN=0,\"%s\",%d,1" % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,0", timeout=10)
    assert t.cmd("AT+CCHOPEN?") == (b'\r\n+CCHOPEN: 0,"%s",%d,1,\r\n+CCHOPEN: 1,"",,,\r\n'
                                    b"\r\nOK\r\n" % (PEER_HOST.encode(), p.port))
    cch_send(t, 0, b"0123456789" * 150)
    urc(t, "+CCHEVENT: 0,RECV EVENT")
    wait_for(lambda: t.cmd("AT+CCHRECV?") == b"\r\n+CCHRECV: LEN,1500,0\r\n\r\nOK\r\n",
             what="1500 bytes buffered")
    t.write(b"AT+CCHRECV=0,1400\r")
    t.expect(b"\r\nOK\r\n\r\n+CCHRECV: DATA,0,1024\r\n" + (b"0123456789" * 150)[:1024] +
             b"\r\n+CCHRECV: DATA,0,376\r\n" + (b"0123456789" * 150)[1024:1400] +
             b"\r\n+CCHRECV: 0,0\r\n")
    t.write(b"AT+CCHRECV=0\r")
    t.expect(b"\r\nOK\r\n\r\n+CCHRECV: DATA,0,100\r\n" + (b"0123456789" * 10) +
             b"\r\n+CCHRECV: 0,0\r\n")
    assert t.cmd("AT+CCHRECV=0") == b"\r\n+CCHRECV: 0,11\r\n\r\nERROR\r\n"
    assert t.cmd("AT+CCHCLOSE=0") == b"\r\nOK\r\n"
    urc(t, "+CCHCLOSE: 0,0")
    assert t.cmd("AT+CCHSTOP") == b"\r\nOK\r\n"
    urc(t, "+CCHSTOP: 0")
    assert t.cmd("AT+CCHSTOP") == b"\r\nERROR\r\n"


@pytest.mark.parametrize("model", MODELS)
def test_cch_tls_with_csslcfg_context_auto_receive(modemsim, peer, pki, model):
    p = peer(closer(b"pong"), tls=(pki, "server.pem"))
    t = cch(modemsim, model)
    certdown(t, "ca_cert.pem", open(pki["ca.pem"], "rb").read())
    for line in ('AT+CSSLCFG="sslversion",1,4', 'AT+CSSLCFG="authmode",1,1',
                 'AT+CSSLCFG="cacert",1,"ca_cert.pem"', 'AT+CSSLCFG="enableSNI",1,1'):
        assert t.cmd(line) == b"\r\nOK\r\n", line
    assert t.cmd("AT+CCHSSLCFG=0,1") == b"\r\nERROR\r\n"  # before CCHSTART
    cch_start(t)
    assert t.cmd("AT+CCHSSLCFG=0,1") == b"\r\nOK\r\n"
    assert t.cmd("AT+CCHSSLCFG?") == b"\r\n+CCHSSLCFG: 0,1\r\n+CCHSSLCFG: 1,\r\n\r\nOK\r\n"
    assert t.cmd('AT+CCHOPEN=0,"%s",%d' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,0", timeout=10)
    cch_send(t, 0, b"ping", report=False)
    t.expect(b"\r\n+CCHRECV: DATA,0,4\r\npong")
    urc(t, "+CCH_PEER_CLOSED: 0")
    assert p.received[0] == b"ping"
    assert not p.errors
    assert t.cmd("AT+CCHOPEN?") == b'\r\n+CCHOPEN: 0,"",,,\r\n+CCHOPEN: 1,"",,,\r\n\r\nOK\r\n'
    assert t.cmd("AT+CCHSEND=0,4") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHSTOP") == b"\r\nOK\r\n"
    urc(t, "+CCHSTOP: 0")


def test_cch_tls_failures(modemsim, peer, pki):
    p = peer(tls=(pki, "server.pem"))
    t = cch(modemsim, "sim7600")
    cch_start(t)
    # authmode 1 without a CA: 19 "not set certificates"
    assert t.cmd('AT+CSSLCFG="authmode",0,1') == b"\r\nOK\r\n"
    assert t.cmd('AT+CCHOPEN=0,"%s",%d,2' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,19")
    # a CA that did not sign the server: the handshake fails for real, 15
    certdown(t, "other_ca.pem", open(pki["server.pem"], "rb").read())
    assert t.cmd('AT+CSSLCFG="cacert",0,"other_ca.pem"') == b"\r\nOK\r\n"
    assert t.cmd('AT+CCHOPEN=0,"%s",%d,2' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,15", timeout=10)
    # a name the server's certificate does not carry: 15
    certdown(t, "ca_cert.pem", open(pki["ca.pem"], "rb").read())
    assert t.cmd('AT+CSSLCFG="cacert",0,"ca_cert.pem"') == b"\r\nOK\r\n"
    assert t.cmd('AT+CCHOPEN=0,"wrong.example",%d,2' % p.port) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,15", timeout=10)
    assert t.cmd('AT+CCHOPEN=0,"%s",%d,2' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 0,0", timeout=10)


def test_cch_bad_input_and_service_state(modemsim, peer):
    p = peer()
    t = cch(modemsim, "sim7670g")
    assert t.cmd('AT+CCHOPEN=0,"%s",%d,1' % (PEER_HOST, p.port)) == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHSEND=0,5") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHCLOSE=0") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHADDR") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHMODE?") == b"\r\n+CCHMODE: 0\r\n\r\nOK\r\n"
    cch_start(t)
    # seed 002: the service is started; its settings are fixed until CCHSTOP
    assert t.cmd("AT+CCHSTART") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHSET=1,1") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CCHMODE=1") == b"\r\nERROR\r\n"
    assert t.cmd("AT+CMQTTSTART") == b"\r\nERROR\r\n"
    out = t.cmd("AT+CCHADDR")
    assert out.startswith(b"\r\n+CCHADDR: 10.") and out.endswith(b"\r\n\r\nOK\r\n")
    for bad in ('AT+CCHOPEN=2,"%s",%d,1' % (PEER_HOST, p.port),
                'AT+CCHOPEN=0,"%s",0,1' % PEER_HOST, 'AT+CCHOPEN=0,"%s",%d,3' % (PEER_HOST, p.port),
                'AT+CCHOPEN=0,"",%d,1' % p.port, "AT+CCHSEND=0,0", "AT+CCHSEND=0,2049",
                "AT+CCHSSLCFG=0,10", "AT+CCHSSLCFG=2,0", 'AT+CCHCFG="sendtimeout",0,59',
                "AT+CCHRECV=2", "AT+CCHRECV=0,2049"):
        assert t.cmd(bad) == b"\r\nERROR\r\n", bad
    assert t.cmd('AT+CCHCFG="sendtimeout",1,60') == b"\r\nOK\r\n"
    assert t.cmd("AT+CCHCFG?") == b"\r\n+CCHCFG: 0,150,0\r\n+CCHCFG: 1,60,1\r\n\r\nOK\r\n"
    assert t.cmd('AT+CCHOPEN=1,"%s",%d,1' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
    urc(t, "+CCHOPEN: 1,0", timeout=10)
    assert t.cmd('AT+CCHOPEN=1,"%s",%d,1' % (PEER_HOST, p.port)) == b"\r\nERROR\r\n"
    # the send takes exactly <len> bytes; the rest goes to the command parser
    t.write(b"AT+CCHSEND=1,3\r")
    t.expect(b"\r\n>")
    t.write(b"abcAT\r")
    # the AT's OK and the echo's URC race (the URC waits while a command runs)
    got = t.read_until(b"abc")
    assert got in (b"\r\nOK\r\n\r\nOK\r\n\r\n+CCHRECV: DATA,1,3\r\nabc",
                   b"\r\nOK\r\n\r\n+CCHRECV: DATA,1,3\r\nabc\r\nOK\r\n"[:-8]), got
    if got.count(b"OK") == 1:
        t.expect(b"\r\nOK\r\n")
    assert t.cmd("AT+CCHSEND?") == b"\r\n+CCHSEND: 0,0,1,0\r\n\r\nOK\r\n"
    assert t.cmd("AT+CCHSTOP") == b"\r\nOK\r\n"
    urc(t, "+CCHSTOP: 0")
    assert t.cmd("AT+CCHOPEN?") == b'\r\n+CCHOPEN: 0,"",,,\r\n+CCHOPEN: 1,"",,,\r\n\r\nOK\r\n'


def test_cch_send_abandoned_by_reboot(modemsim, peer, tmp_path):
    from control import Control
    p = peer()
    path = str(tmp_path / "ctl.sock")
    t = cch(modemsim, "a7670", "--control", path)
    ctl = Control(path)
    try:
        cch_start(t)
        assert t.cmd('AT+CCHOPEN=0,"%s",%d,1' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
        urc(t, "+CCHOPEN: 0,0", timeout=10)
        t.write(b"AT+CCHSEND=0,10\r")
        t.expect(b"\r\n>")
        n = ctl.query("counters")["modems"][0]["bytes_in"]
        t.write(b"abc")
        wait_for(lambda: ctl.query("counters")["modems"][0]["bytes_in"] >= n + 3,
                 what="the modem to take the 3 bytes")
        ctl.ok("at 0ms fault modem.reboot")
        t.read_until(b"+CGEV: EPS PDN ACT 1\r\n", timeout=20)
        t.cmd("ATE0")
        # the service is stopped by the reboot: CCHSET is taken again, CCHSTART works
        assert t.cmd("AT+CCHSET=0,0") == b"\r\nOK\r\n"
        cch_start(t)
        assert t.cmd("AT+CCHOPEN?") == b'\r\n+CCHOPEN: 0,"",,,\r\n+CCHOPEN: 1,"",,,\r\n\r\nOK\r\n'
        assert p.received.get(0, b"") == b""
    finally:
        ctl.close()


def test_network_loss_ends_links_and_sessions(modemsim, peer, tmp_path):
    """pdp.deact: +CIPEVENT (the IP family's; no Quectel +QIURC), the links gone; the CCH session reports
    +CCH_RECV_CLOSED: <s>,9 and the A76XX service stops with +CCH: CCH STOP."""
    from control import Control
    p = peer()
    path = str(tmp_path / "ctl.sock")
    t = net(modemsim, "a7670", "--control", path)
    ctl = Control(path)
    try:
        cip_open(t, 0, p.port)
        cch_start(t)
        assert t.cmd('AT+CCHOPEN=0,"%s",%d,1' % (PEER_HOST, p.port)) == b"\r\nOK\r\n"
        urc(t, "+CCHOPEN: 0,0", timeout=10)
        ctl.ok("at 0ms fault pdp.deact")
        got = t.read_until(b"+CCH: CCH STOP\r\n", timeout=10)
        assert b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n" in got, got
        assert b"QIURC" not in got, got  # the Quectel URC is not SIMCom's
        assert got.endswith(b"\r\n+CCH_RECV_CLOSED: 0,9\r\n\r\n+CCH: CCH STOP\r\n"), got
        assert t.cmd("AT+CIPCLOSE?") == b"\r\n+CIPCLOSE: 0,0,0,0,0,0,0,0,0,0\r\n\r\nOK\r\n"
        assert t.cmd("AT+CCHOPEN?") == b'\r\n+CCHOPEN: 0,"",,,\r\n+CCHOPEN: 1,"",,,\r\n\r\nOK\r\n'
        assert t.cmd("AT+CCHSTOP") == b"\r\nERROR\r\n"
    finally:
        ctl.close()
