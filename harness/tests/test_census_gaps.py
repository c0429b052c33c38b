"""The commands the driver census (harness/drivers.md) found missing, byte for byte: AT+QIDNSGIP
(EC25 and M95 forms, through the modem's resolver, scenario DNS faults included), the M95's
AT+QIDNSCFG, AT+QISENDEX, AT+CPMS and the EC25's AT+QCFG keys."""
import re
import socket
import threading

import pytest

from control import Control, wait_for
from modemsim_harness.at import b, check, err, ok, quiet

HOST = "broker.modemsim.test"


def urcs(t, *lines, timeout=5.0):
    want = b"".join(b"\r\n" + b(x) + b"\r\n" for x in lines)
    got = t.read_until(want, timeout=timeout)
    assert got == want, got


def m95_up(t, dnsip=None):
    for line in ("AT+QIFGCNT=0", 'AT+QICSGP=1,"CMNET"', "AT+QIREGAPP", "AT+QIACT"):
        check(t, line, ok(line))
    if dnsip is not None:
        check(t, "AT+QIDNSIP=%d" % dnsip, ok("AT+QIDNSIP=%d" % dnsip))


# ---------------------------------------------------------------- AT+QIDNSGIP


def test_ec25_qidnsgip_one_address(modemsim):
    """EC2x TCP/IP AN: OK, then +QIURC: "dnsgip",0,<IP_count>,<DNS_ttl> and one
    +QIURC: "dnsgip","<ip>" per address."""
    t = modemsim("--resolve", "a.example=192.0.2.7", model="ec25").open()
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(t, 'AT+QIDNSGIP=1,"a.example"', ok('AT+QIDNSGIP=1,"a.example"'))
    urcs(t, '+QIURC: "dnsgip",0,1,600', '+QIURC: "dnsgip","192.0.2.7"')
    quiet(t)


def test_ec25_qidnsgip_system_resolver_lists_every_address(modemsim):
    """A name the overrides do not decide goes to the system resolver, as +QIOPEN's does."""
    t = modemsim("--broker", "none", model="ec25").open()
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(t, 'AT+QIDNSGIP=1,"localhost"', ok('AT+QIDNSGIP=1,"localhost"'))
    head = t.read_until(re.compile(rb'\+QIURC: "dnsgip",0,(\d+),600\r\n'))
    n = int(re.search(rb'dnsgip",0,(\d+),', head).group(1))
    assert n >= 1
    got = b""
    for _ in range(n):
        got += t.read_until(re.compile(rb'\+QIURC: "dnsgip","[0-9.]+"\r\n'))
    assert b'"127.0.0.1"' in got


def test_ec25_qidnsgip_failures(modemsim):
    """A name that does not resolve: +QIURC: "dnsgip",565 (DNS parse failed); an inactive
    context: 561 (the same decision as +QIOPEN's); a bad context id: ERROR."""
    t = modemsim("--resolve", "nx.example=fail", model="ec25").open()
    check(t, 'AT+QIDNSGIP=1,"nx.example"', ok('AT+QIDNSGIP=1,"nx.example"'))
    urcs(t, '+QIURC: "dnsgip",561')
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(t, 'AT+QIDNSGIP=1,"nx.example"', ok('AT+QIDNSGIP=1,"nx.example"'))
    urcs(t, '+QIURC: "dnsgip",565')
    check(t, "AT+QIGETERROR", ok("AT+QIGETERROR", "+QIGETERROR: 565,DNS parse failed"))
    check(t, 'AT+QIDNSGIP=17,"nx.example"', err('AT+QIDNSGIP=17,"nx.example"'))
    check(t, "AT+QIDNSGIP=?", ok("AT+QIDNSGIP=?", "+QIDNSGIP: (1-16),<hostname>"))


def test_qidnsgip_follows_a_scenario_dns_fault(modemsim, tmp_path):
    """dns.fail (scenario fault) makes the name fail for AT+QIDNSGIP as for +QIOPEN."""
    path = str(tmp_path / "ctl.sock")
    sim = modemsim("--control", path, model="ec25")
    t = sim.open()
    ctl = Control(path)
    try:
        check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
        line = 'AT+QIDNSGIP=1,"%s"' % HOST
        check(t, line, ok(line))
        urcs(t, '+QIURC: "dnsgip",0,1,600', '+QIURC: "dnsgip","127.0.0.1"')
        ctl.ok('at 0ms fault dns.fail name "%s" for 300ms' % HOST)
        wait_for(lambda: ctl.query("faults")["faults"], what="dns.fail to fire")
        check(t, line, ok(line))
        urcs(t, '+QIURC: "dnsgip",565')
        wait_for(lambda: any("dns.fail ended" in e.get("msg", "") for e in sim.trace()),
                 what="the dns.fail window to end")
        check(t, line, ok(line))
        urcs(t, '+QIURC: "dnsgip",0,1,600', '+QIURC: "dnsgip","127.0.0.1"')
    finally:
        ctl.close()


def test_m95_qidnsgip_and_qidnscfg(modemsim):
    """M95: AT+QIDNSGIP="<name>" -> OK, then the address line (what RT-Thread's M26 driver
    parses); AT+QIDNSCFG? -> PrimaryDns:/SecondaryDns: lines; both need the context up."""
    t = modemsim("--resolve", "a.example=192.0.2.7", "--resolve", "nx.example=fail",
                 model="m95").open()
    check(t, 'AT+QIDNSGIP="a.example"', err('AT+QIDNSGIP="a.example"'))
    check(t, "AT+QIDNSCFG?", ok("AT+QIDNSCFG?", "PrimaryDns: 0.0.0.0", "SecondaryDns: 0.0.0.0"))
    m95_up(t)
    check(t, "AT+QIDNSCFG?",
          ok("AT+QIDNSCFG?", "PrimaryDns: 10.200.0.10", "SecondaryDns: 10.200.0.11"))
    check(t, 'AT+QIDNSGIP="a.example"', ok('AT+QIDNSGIP="a.example"'))
    urcs(t, "192.0.2.7")
    check(t, 'AT+QIDNSGIP="nx.example"', ok('AT+QIDNSGIP="nx.example"'))
    urcs(t, "ERROR")
    check(t, 'AT+QIDNSCFG="8.8.8.8"', ok('AT+QIDNSCFG="8.8.8.8"'))
    check(t, "AT+QIDNSCFG?",
          ok("AT+QIDNSCFG?", "PrimaryDns: 8.8.8.8", "SecondaryDns: 10.200.0.11"))
    check(t, 'AT+QIDNSCFG="8.8.8.8","8.8.4.4"', ok('AT+QIDNSCFG="8.8.8.8","8.8.4.4"'))
    check(t, "AT+QIDNSCFG?",
          ok("AT+QIDNSCFG?", "PrimaryDns: 8.8.8.8", "SecondaryDns: 8.8.4.4"))
    check(t, 'AT+QIDNSCFG="dns.example"', err('AT+QIDNSCFG="dns.example"'))


# ---------------------------------------------------------------- M95 AT+QIOPEN by name


def test_m95_qiopen_name_needs_qidnsip_1(modemsim):
    """M95: with AT+QIDNSIP=0 (the default) <address> is a dotted address and a name is refused
    with ERROR (modemsim's decision; every M95 driver found that connects by name sends
    AT+QIDNSIP=1 first). With AT+QIDNSIP=1 the name goes through the modem's resolver:
    CONNECT OK, or CONNECT FAIL when it does not resolve."""
    sim = modemsim("--resolve", "nx.example=fail", model="m95")
    t = sim.open()
    m95_up(t)
    line = 'AT+QIOPEN="TCP","%s",%s' % (HOST, sim.broker["plain"])
    check(t, line, err(line))
    check(t, "AT+QIDNSIP=1", ok("AT+QIDNSIP=1"))
    check(t, line, ok(line))
    urcs(t, "CONNECT OK")
    check(t, "AT+QICLOSE", b"AT+QICLOSE\r\r\nCLOSE OK\r\n")
    line = 'AT+QIOPEN="TCP","nx.example",1883'
    check(t, line, ok(line))
    urcs(t, "CONNECT FAIL")


# ---------------------------------------------------------------- AT+QISENDEX


@pytest.mark.parametrize("model", ["ec25", "bg96"])
def test_qisendex_sends_the_bytes(modemsim, model):
    """AT+QISENDEX=<id>,"<hex>": the bytes go out as AT+QISEND's do (SEND OK, the counters of
    AT+QISEND=<id>,0); odd counts and non-hex digits are ERROR."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got, conns = [], []

    def serve():
        c, _ = srv.accept()
        c.settimeout(5)
        data = b""
        while len(data) < 4:
            data += c.recv(16)
        got.append(data)
        conns.append(c)  # kept open: the socket stays connected for the error cases

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    t = modemsim("--broker", "none", model=model).open()
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    line = 'AT+QIOPEN=1,0,"TCP","127.0.0.1",%d,0,0' % port
    check(t, line, ok(line))
    urcs(t, "+QIOPEN: 0,0")
    check(t, 'AT+QISENDEX=0,"DEADbeef"', b'AT+QISENDEX=0,"DEADbeef"\r\r\nSEND OK\r\n')
    th.join(5)
    assert got == [b"\xde\xad\xbe\xef"]
    check(t, 'AT+QISENDEX=0,"ABC"', err('AT+QISENDEX=0,"ABC"'))
    check(t, 'AT+QISENDEX=0,"zz"', err('AT+QISENDEX=0,"zz"'))
    check(t, 'AT+QISENDEX=1,"00"', err('AT+QISENDEX=1,"00"'))
    for c in conns:
        c.close()
    srv.close()


# ---------------------------------------------------------------- AT+CPMS


@pytest.mark.parametrize("model", ["ec25", "bg96", "m95"])
def test_cpms(modemsim, model):
    t = modemsim(model=model).open()
    check(t, "AT+CPMS?", ok("AT+CPMS?", '+CPMS: "SM",0,50,"SM",0,50,"SM",0,50'))
    check(t, 'AT+CPMS="ME","ME","ME"', ok('AT+CPMS="ME","ME","ME"', "+CPMS: 0,255,0,255,0,255"))
    check(t, 'AT+CPMS="MT"', ok('AT+CPMS="MT"', "+CPMS: 0,305,0,255,0,255"))
    check(t, "AT+CPMS?", ok("AT+CPMS?", '+CPMS: "MT",0,305,"ME",0,255,"ME",0,255'))
    check(t, 'AT+CPMS="XX"', err('AT+CPMS="XX"'))
    check(t, "AT+CPMS=?", ok("AT+CPMS=?", '+CPMS: ("SM","ME","MT"),("SM","ME","MT"),'
                                          '("SM","ME","MT")'))


# ---------------------------------------------------------------- EC25 AT+QCFG


def test_ec25_qcfg_keys(modemsim):
    """The EC25's AT+QCFG keys drivers touch (EG25-G AT+QCFG=?, drivers.md D2); "iotopmode" is
    a Cat-M1/NB-IoT key the EC25 does not have: ERROR."""
    t = modemsim(model="ec25").open()
    check(t, 'AT+QCFG="nwscanmode"', ok('AT+QCFG="nwscanmode"', '+QCFG: "nwscanmode",0'))
    check(t, 'AT+QCFG="nwscanmode",3,1', ok('AT+QCFG="nwscanmode",3,1'))
    check(t, 'AT+QCFG="nwscanmode"', ok('AT+QCFG="nwscanmode"', '+QCFG: "nwscanmode",3'))
    check(t, 'AT+QCFG="nwscanmode",9', err('AT+QCFG="nwscanmode",9'))
    check(t, 'AT+QCFG="nwscanseq"', ok('AT+QCFG="nwscanseq"', '+QCFG: "nwscanseq",04030201'))
    check(t, 'AT+QCFG="nwscanseq",0403,1', ok('AT+QCFG="nwscanseq",0403,1'))
    check(t, 'AT+QCFG="nwscanseq"', ok('AT+QCFG="nwscanseq"', '+QCFG: "nwscanseq",0403'))
    check(t, 'AT+QCFG="band"', ok('AT+QCFG="band"', '+QCFG: "band",0xbff,0x1e00b0e18df,0x0'))
    check(t, 'AT+QCFG="band",0,0x10,0', ok('AT+QCFG="band",0,0x10,0'))
    check(t, 'AT+QCFG="band"', ok('AT+QCFG="band"', '+QCFG: "band",0x0,0x10,0x0'))
    check(t, 'AT+QCFG="iotopmode",2,1', err('AT+QCFG="iotopmode",2,1'))


# ---------------------------------------------------------------- +QSSLSTATE forms


@pytest.mark.parametrize("model", ["ec25", "bg96"])
def test_qsslstate_forms(modemsim, model):
    """The SSL manuals' forms: AT+QSSLSTATE (every client), AT+QSSLSTATE=<clientID> (one), the
    test form; none open: a bare OK. TinyGSM's AT+QSSLSTATE=1,0 (the +QISTATE query form) has
    a parameter too many for the manuals' syntax: ERROR (drivers.md)."""
    t = modemsim(model=model).open()
    for line in ("AT+QSSLSTATE", "AT+QSSLSTATE?", "AT+QSSLSTATE=0", "AT+QSSLSTATE=11",
                 "AT+QSSLSTATE=?"):
        check(t, line, ok(line))
    check(t, "AT+QSSLSTATE=1,0", err("AT+QSSLSTATE=1,0"))
