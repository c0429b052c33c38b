"""SSL contexts and TLS failures, end to end: AT+QSSLCFG on the EC25 (reference §5a, EG25-G test
output) and the M95 (GSM SSL AN V3.3 2.2.1, seed 004), and every way an MQTT-over-TLS open
fails, each giving `+QMTOPEN: <id>,-1` on the tty with its cause in plain words in the trace
(reference §4a and §8 item 13: the module shows one error for every TLS failure; the trace says
which). Peers: real mosquittos presenting a chosen (broken) server certificate or limited to
chosen suites and versions (harness/broker.py), and, for SNI, a small Python TLS server.

--timing fast everywhere; every wait has a deadline (the harness helpers have them).
"""
import re
import socket
import ssl
import threading

import pytest

from broker import Broker
from modemsim import BOOT_LAST
from modemsim import xor16_hex as xor16
from modemsim_harness.at import b, check, err, ok, pdp_up, upload

HOST = "broker.modemsim.test"
# The field log of seed 000 (an EC25 against AWS IoT): its production-looking endpoint. The test
# PKI's good server certificates name *.iot.us-east-1.amazonaws.com (certs/gen.sh).
AWS_HOST = "a1gfgsfcsg3p4-ats.iot.us-east-1.amazonaws.com"
# The PKI's encrypted client keys use this password (certs/README.md).
KEY_PASSWORD = "modemsim"
QMTOPEN_URC = re.compile(rb"\r\n\+QMTOPEN: \d+,-?\d+\r\n")


# ---------------------------------------------------------------- helpers


def read(path):
    with open(path, "rb") as f:
        return f.read()


def configure(t, ctx, **keys):
    """AT+QSSLCFG lines for one context, each answered OK."""
    for key, value in keys.items():
        if isinstance(value, str):
            value = '"%s"' % value
        line = 'AT+QSSLCFG="%s",%d,%s' % (key, ctx, value)
        check(t, line, ok(line))


def mqtt_open(t, ctx=0, host=HOST, port=8883, idx=0, timeout=10.0):
    """MQTT client idx over SSL context ctx: QMTCFG "ssl", QMTOPEN, and the +QMTOPEN result."""
    line = 'AT+QMTCFG="ssl",%d,1,%d' % (idx, ctx)
    check(t, line, ok(line))
    line = 'AT+QMTOPEN=%d,"%s",%d' % (idx, host, port)
    check(t, line, ok(line))
    got = t.read_until(QMTOPEN_URC, timeout)
    assert got.startswith(b"\r\n+QMTOPEN: %d," % idx), got
    return int(got.split(b",")[1])


def causes(t):
    """Stop the modem and return its trace's tls and net messages, joined."""
    t.sim.stop()
    return "\n".join(e.get("msg", "") for e in t.sim.trace() if e.get("ev") in ("tls", "net"))


def fails_with(t, cause, **open_kw):
    """The open ends in +QMTOPEN: <id>,-1 and the trace names the cause."""
    assert mqtt_open(t, **open_kw) == -1
    text = causes(t)
    assert cause in text, "cause %r not in the trace:\n%s" % (cause, text)
    return text


def opens(t, **open_kw):
    rc = mqtt_open(t, **open_kw)
    if rc != 0:
        raise AssertionError("+QMTOPEN: %d; trace:\n%s" % (rc, causes(t)))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def brokers(pki, tmp_path_factory):
    """brokers(**Broker options) -> a started mosquitto, one per set of options in this module
    (mosquitto starts in about 0.1 s; seven variants would cost a second per test)."""
    started = {}

    def get(**kw):
        key = tuple(sorted(kw.items()))
        if key not in started:
            b = Broker(pki, str(tmp_path_factory.mktemp("broker")), **kw)
            started[key] = b.start()
        return started[key]

    yield get
    for b in started.values():
        rc = b.stop()
        assert rc in (0, None), "mosquitto exited %s:\n%s" % (rc, b.log()[-4000:])


@pytest.fixture
def rig(modemsim):
    """rig(model, port) -> a booted modem whose connections to any name on 8883 go to
    127.0.0.1:port (--broker none: nothing else runs)."""

    def make(model="ec25", port=None, *extra):
        args = ["--broker", "none", "--resolve", "*=127.0.0.1"]
        if port is not None:
            args += ["--route", "8883=127.0.0.1:%d" % port]
        sim = modemsim(*args, *extra, model=model)
        t = sim.open()
        t.model = model
        t.sim = sim
        return t

    return make


def ready(rig, pki, model="ec25", port=None, files=("ca.pem",)):
    """A modem with the PKI files uploaded as RAM:<file name> (QFUPL on the EC25, QSECWRITE
    on the M95) and its PDP context up."""
    t = rig(model, port)
    for f in files:
        upload(t, "RAM:" + f, read(pki[f]))
    pdp_up(t)
    return t


# ---------------------------------------------------------------- AT+QSSLCFG: test forms

EC25_TEST = (
    '+QSSLCFG: "sslversion",(0-5),(0-4)',
    '+QSSLCFG: "dtls",(0-5),(0,1)',
    '+QSSLCFG: "dtlsversion",(0-5),(0,1)',
    '+QSSLCFG: "ciphersuite",(0-5),(0X0035,0X002F,0X0005,0X000A,0X003D,0XC003,0XC004,0XC005,'
    '0XC008,0XC009,0XC00A,0XC012,0XC013,0XC014,0XC00D,0XC00E,0XC00F,0XC023,0XC024,0XC025,'
    '0XC026,0XC027,0XC028,0XC029,0XC02A,0XC02F,0XC030,0XFFFF)',
    '+QSSLCFG: "cacert",(0-5),<cacertpath>',
    '+QSSLCFG: "cacertex",(0-5),<cacertexpath>',
    '+QSSLCFG: "clientcert",(0-5),<client_cert_path>',
    '+QSSLCFG: "clientkey",(0-5),<client_key_path>,<key_pwd>',
    '+QSSLCFG: "seclevel",(0-5),(0-2)',
    '+QSSLCFG: "ignorelocaltime",(0-5),(0,1)',
    '+QSSLCFG: "negotiatetime",(0-5),(10-300)',
    '+QSSLCFG: "sni",(0-5),(0,1)',
    '+QSSLCFG: "psk",(0-5),<identity>,<key>',
    '+QSSLCFG: "closetimemode",(0-5),(0,1)',
    '+QSSLCFG: "session_cache",(0-5),(0,1)',
    '+QSSLCFG: "alpn",(0-5),<protocolname>',
    '+QSSLCFG: "renegotiation",(0-5),(0,1)',
    '+QSSLCFG: "ignoremulticertchainverify",(0-5),(0,1)',
    '+QSSLCFG: "ignoreinvalidcertsign",(0-5),(0,1)',
    '+QSSLCFG: "ignorecertitem",(0-5),(0-1048575)',
)


def test_test_form_ec25_is_the_eg25g_capture(rig):
    t = rig("ec25")
    check(t, "AT+QSSLCFG=?", ok("AT+QSSLCFG=?", *EC25_TEST))


def test_test_form_m95_lists_the_an_keys(rig):
    """The AN gives only the shape "type",(ctx range),"value"; every key of 2.2.1 is listed."""
    t = rig("m95")
    got = t.cmd("AT+QSSLCFG=?")
    assert got.startswith(b"AT+QSSLCFG=?\r\r\n+QSSLCFG: ") and got.endswith(b"\r\n\r\nOK\r\n")
    for key in ("sslversion", "ciphersuite", "seclevel", "cacert", "clientcert", "clientkey",
                "ignorertctime", "ctxindex", "https", "httpsctxi", "smtpstyle", "smtpsctxi"):
        assert b'+QSSLCFG: "%s",' % b(key) in got, key
    assert b'"ignorelocaltime"' not in got and b'"sni"' not in got


# ---------------------------------------------------------------- AT+QSSLCFG: set and query

# (key, default read back, a value to set, its read back). EC25 replies echo the context
# ("+QSSLCFG: "sslversion",1,4", reference §5a).
EC25_KEYS = [
    ("sslversion", "4", "3", "3"),
    ("dtls", "0", "1", "1"),
    ("dtlsversion", "0", "1", "1"),
    ("ciphersuite", "0XFFFF", "0XC02F", "0XC02F"),
    ("cacert", '""', '"UFS:cacert.pem"', '"UFS:cacert.pem"'),
    ("cacertex", '""', '"RAM:ex.pem"', '"RAM:ex.pem"'),
    ("clientcert", '""', '"RAM:client.pem"', '"RAM:client.pem"'),
    ("clientkey", '""', '"RAM:user_key.pem"', '"RAM:user_key.pem"'),
    ("seclevel", "0", "2", "2"),
    ("ignorelocaltime", "1", "0", "0"),
    ("negotiatetime", "300", "60", "60"),
    ("sni", "0", "1", "1"),
    ("psk", '"",""', '"id","00112233"', '"id","00112233"'),
    ("closetimemode", "0", "1", "1"),
    ("session_cache", "0", "1", "1"),
    ("alpn", '""', '"mqtt"', '"mqtt"'),
    ("renegotiation", "0", "1", "1"),
    ("ignoremulticertchainverify", "0", "1", "1"),
    ("ignoreinvalidcertsign", "0", "1", "1"),
    ("ignorecertitem", "0", "1048575", "1048575"),
]


@pytest.mark.parametrize("key,default,value,back", EC25_KEYS, ids=[k[0] for k in EC25_KEYS])
def test_ec25_every_key_set_and_query(rig, key, default, value, back):
    t = rig("ec25")
    q = 'AT+QSSLCFG="%s",3' % key
    check(t, q, ok(q, '+QSSLCFG: "%s",3,%s' % (key, default)))
    check(t, 'AT+QSSLCFG="%s",3,%s' % (key, value), ok('AT+QSSLCFG="%s",3,%s' % (key, value)))
    check(t, q, ok(q, '+QSSLCFG: "%s",3,%s' % (key, back)))
    # the other contexts keep their defaults (host-drivers.md item 13)
    for other in (0, 5):
        q2 = 'AT+QSSLCFG="%s",%d' % (key, other)
        check(t, q2, ok(q2, '+QSSLCFG: "%s",%d,%s' % (key, other, default)))


def test_ec25_clientkey_with_password(rig):
    t = rig("ec25")
    check(t, 'AT+QSSLCFG="clientkey",1,"RAM:k.pem","secret"',
          ok('AT+QSSLCFG="clientkey",1,"RAM:k.pem","secret"'))
    check(t, 'AT+QSSLCFG="clientkey",1',
          ok('AT+QSSLCFG="clientkey",1', '+QSSLCFG: "clientkey",1,"RAM:k.pem","secret"'))
    # setting it again without a password drops the old one
    check(t, 'AT+QSSLCFG="clientkey",1,"RAM:k.pem"', ok('AT+QSSLCFG="clientkey",1,"RAM:k.pem"'))
    check(t, 'AT+QSSLCFG="clientkey",1',
          ok('AT+QSSLCFG="clientkey",1', '+QSSLCFG: "clientkey",1,"RAM:k.pem"'))


# (key, default, set value, read back). The M95 reply has no context (AN 2.2.1:
# +QSSLCFG: "sslversion",<sslversion>).
M95_KEYS = [
    ("sslversion", "4", "1", "1"),
    ("ciphersuite", "0XFFFF", '"0X003D"', "0X003D"),
    ("seclevel", "0", "1", "1"),
    ("cacert", '""', '"NVRAM:CA0"', '"NVRAM:CA0"'),
    ("clientcert", '""', '"NVRAM:CC0"', '"NVRAM:CC0"'),
    ("clientkey", '""', '"NVRAM:CK0"', '"NVRAM:CK0"'),
]


@pytest.mark.parametrize("key,default,value,back", M95_KEYS, ids=[k[0] for k in M95_KEYS])
def test_m95_every_context_key_set_and_query(rig, key, default, value, back):
    t = rig("m95")
    q = 'AT+QSSLCFG="%s",2' % key
    check(t, q, ok(q, '+QSSLCFG: "%s",%s' % (key, default)))
    line = 'AT+QSSLCFG="%s",2,%s' % (key, value)
    check(t, line, ok(line))
    check(t, q, ok(q, '+QSSLCFG: "%s",%s' % (key, back)))
    q0 = 'AT+QSSLCFG="%s",0' % key
    check(t, q0, ok(q0, '+QSSLCFG: "%s",%s' % (key, default)))


# Keys without a context (AN 2.2.1): (key, default, a value).
M95_GLOBALS = [("ignorertctime", "0", "1"), ("https", "0", "1"), ("httpsctxi", "-1", "3"),
               ("smtpstyle", "0", "2"), ("smtpsctxi", "-1", "5")]


@pytest.mark.parametrize("key,default,value", M95_GLOBALS, ids=[k[0] for k in M95_GLOBALS])
def test_m95_keys_without_context(rig, key, default, value):
    t = rig("m95")
    q = 'AT+QSSLCFG="%s"' % key
    check(t, q, ok(q, '+QSSLCFG: "%s",%s' % (key, default)))
    check(t, 'AT+QSSLCFG="%s",%s' % (key, value), ok('AT+QSSLCFG="%s",%s' % (key, value)))
    check(t, q, ok(q, '+QSSLCFG: "%s",%s' % (key, value)))
    # a context index where the AN has none is one parameter too many
    check(t, 'AT+QSSLCFG="%s",0,%s' % (key, value), err('AT+QSSLCFG="%s",0,%s' % (key, value)))


def test_m95_ignorertctime_as_the_an_examples_send_it(rig):
    """AN examples 3.1/3.2, verbatim lines: ignorertctime without a context, quoted "0XFFFF"."""
    t = rig("m95")
    for line in ('AT+QSSLCFG="ignorertctime",1', 'AT+QSSLCFG="sslversion",0,4',
                 'AT+QSSLCFG="ciphersuite",0,"0XFFFF"', 'AT+QSSLCFG="seclevel",0,2',
                 'AT+QSSLCFG="cacert",0,"RAM:ca_cert.pem"',
                 'AT+QSSLCFG="clientcert",0,"RAM:client_cert.pem"',
                 'AT+QSSLCFG="clientkey",0, "RAM:client_key.pem"'):
        check(t, line, ok(line))
    check(t, 'AT+QSSLCFG="ctxindex",0', ok('AT+QSSLCFG="ctxindex",0',
          '+QSSLCFG: 0,4,2,0XFFFF,"RAM:ca_cert.pem","RAM:client_cert.pem","RAM:client_key.pem"'))


def test_m95_ctxindex_summary(rig):
    """AN 2.2.1: +QSSLCFG: <ctxindex>,<sslversion>,<seclevel>,<ciphersuite>,<cacertname>,
    <clientcertname>,<clientkeyname>; each context its own."""
    t = rig("m95")
    configure(t, 4, sslversion=3, seclevel=1, cacert="NVRAM:CA0")
    check(t, 'AT+QSSLCFG="ciphersuite",4,0x002f', ok('AT+QSSLCFG="ciphersuite",4,0x002f'))
    check(t, 'AT+QSSLCFG="ctxindex",4',
          ok('AT+QSSLCFG="ctxindex",4', '+QSSLCFG: 4,3,1,0X002F,"NVRAM:CA0","",""'))
    check(t, 'AT+QSSLCFG="ctxindex",0',
          ok('AT+QSSLCFG="ctxindex",0', '+QSSLCFG: 0,4,0,0XFFFF,"","",""'))
    for bad in ('AT+QSSLCFG="ctxindex",6', 'AT+QSSLCFG="ctxindex"', 'AT+QSSLCFG="ctxindex",0,1',
                'AT+QSSLCFG="ctxindex","0"'):
        check(t, bad, err(bad))


@pytest.mark.parametrize("model,spelling,back", [
    ("ec25", "0X0035", "0X0035"), ("ec25", "0x0035", "0X0035"), ("ec25", "0xffff", "0XFFFF"),
    ("ec25", '"0xFFFF"', "0XFFFF"), ("ec25", '"0XC030"', "0XC030"), ("ec25", "0xc02f", "0XC02F"),
    ("m95", '"0xFFFF"', "0XFFFF"), ("m95", '"0X003D"', "0X003D"), ("m95", "0X0035", "0X0035"),
    ("m95", '"0x002f"', "0X002F"),
])
def test_ciphersuite_every_hex_spelling(rig, model, spelling, back):
    """host-drivers.md item 8, reference §8 item 11: 0X/0x, bare or quoted (M95 drivers)."""
    t = rig(model)
    check(t, 'AT+QSSLCFG="ciphersuite",1,%s' % spelling,
          ok('AT+QSSLCFG="ciphersuite",1,%s' % spelling))
    reply = ('+QSSLCFG: "ciphersuite",%s' if model == "m95" else
             '+QSSLCFG: "ciphersuite",1,%s') % back
    check(t, 'AT+QSSLCFG="ciphersuite",1', ok('AT+QSSLCFG="ciphersuite",1', reply))


@pytest.mark.parametrize("model,key,value,reply", [
    ("ec25", "SSLVERSION", 2, '+QSSLCFG: "sslversion",0,2'),
    ("ec25", "SecLevel", 2, '+QSSLCFG: "seclevel",0,2'),
    ("ec25", "IgnoreLocalTime", 0, '+QSSLCFG: "ignorelocaltime",0,0'),
    ("m95", "SSLVersion", 2, '+QSSLCFG: "sslversion",2'),
    ("m95", "SECLEVEL", 2, '+QSSLCFG: "seclevel",2'),
    ("m95", "IgnoreRTCTime", 1, None),
])
def test_keys_are_case_insensitive(rig, model, key, value, reply):
    """Reference §1 Keywords and §8 item 11; the reply names the key as the module does."""
    t = rig(model)
    if reply is None:  # the M95's keys without a context
        line, q, reply = ('AT+QSSLCFG="%s",%d' % (key, value), 'AT+QSSLCFG="%s"' % key.lower(),
                          '+QSSLCFG: "%s",%d' % (key.lower(), value))
    else:
        line, q = 'AT+QSSLCFG="%s",0,%d' % (key, value), 'AT+QSSLCFG="%s",0' % key.lower()
    check(t, line, ok(line))
    check(t, q, ok(q, reply))


@pytest.mark.parametrize("model,line", [
    # unknown keys (reference §5a: ERROR), and the other model's keys
    ("ec25", 'AT+QSSLCFG="nosuchkey",0,1'), ("ec25", 'AT+QSSLCFG="nosuchkey",0'),
    ("ec25", 'AT+QSSLCFG="ignorertctime",1'), ("ec25", 'AT+QSSLCFG="ctxindex",0'),
    ("m95", 'AT+QSSLCFG="sni",0,1'), ("m95", 'AT+QSSLCFG="ignorelocaltime",0,1'),
    ("m95", 'AT+QSSLCFG="nosuchkey",0,1'),
    # values out of range
    ("ec25", 'AT+QSSLCFG="sslversion",0,5'), ("ec25", 'AT+QSSLCFG="sslversion",0,-1'),
    ("ec25", 'AT+QSSLCFG="seclevel",0,3'), ("ec25", 'AT+QSSLCFG="negotiatetime",0,9'),
    ("ec25", 'AT+QSSLCFG="negotiatetime",0,301'), ("ec25", 'AT+QSSLCFG="sni",0,2'),
    ("ec25", 'AT+QSSLCFG="ignorelocaltime",0,2'),
    ("ec25", 'AT+QSSLCFG="ignorecertitem",0,1048576'), ("ec25", 'AT+QSSLCFG="dtls",0,2'),
    ("ec25", 'AT+QSSLCFG="ciphersuite",0,0x1234'), ("ec25", 'AT+QSSLCFG="ciphersuite",0,0XC02B'),
    ("ec25", 'AT+QSSLCFG="ciphersuite",0,"0XFFFG"'), ("ec25", 'AT+QSSLCFG="ciphersuite",0,0x0004'),
    ("m95", 'AT+QSSLCFG="ciphersuite",0,"0XC02F"'), ("m95", 'AT+QSSLCFG="sslversion",0,5'),
    ("m95", 'AT+QSSLCFG="seclevel",0,3'), ("m95", 'AT+QSSLCFG="ignorertctime",2'),
    ("m95", 'AT+QSSLCFG="httpsctxi",6'), ("m95", 'AT+QSSLCFG="smtpstyle",3'),
    # contexts out of range, missing, or not a number
    ("ec25", 'AT+QSSLCFG="sslversion",6,1'), ("ec25", 'AT+QSSLCFG="sslversion",6'),
    ("ec25", 'AT+QSSLCFG="sslversion",-1,1'), ("ec25", 'AT+QSSLCFG="sslversion"'),
    ("ec25", 'AT+QSSLCFG="sslversion","1",1'), ("m95", 'AT+QSSLCFG="sslversion",6,1'),
    ("m95", 'AT+QSSLCFG="sslversion"'),
    # wrong types and counts
    ("ec25", 'AT+QSSLCFG="seclevel",0,"1"'), ("ec25", 'AT+QSSLCFG="seclevel",0,1,1'),
    ("ec25", 'AT+QSSLCFG="cacert",0,5'), ("ec25", 'AT+QSSLCFG="psk",0,"id"'),
    ("ec25", 'AT+QSSLCFG="clientkey",0,"k.pem","pwd",1'),
    ("m95", 'AT+QSSLCFG="clientkey",0,"RAM:k.pem","pwd"'),
    ("ec25", "AT+QSSLCFG?"), ("ec25", "AT+QSSLCFG"), ("m95", "AT+QSSLCFG?"),
])
def test_bad_lines_are_errors_and_change_nothing(rig, model, line):
    t = rig(model)
    queries = ['AT+QSSLCFG="sslversion",0']
    key = re.match(r'AT\+QSSLCFG="([^"]*)"', line)
    if key:
        global_key = model == "m95" and key.group(1) in {k[0] for k in M95_GLOBALS}
        queries.append('AT+QSSLCFG="%s"%s' % (key.group(1), "" if global_key else ",0"))
    before = [t.cmd(q) for q in queries]
    check(t, line, err(line))
    assert [t.cmd(q) for q in queries] == before
    assert before[0] == ok(queries[0], '+QSSLCFG: "sslversion",%s4' %
                           ("" if model == "m95" else "0,"))


@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_settings_are_lost_on_cfun_reset(rig, model):
    """RAM-only (reference §5a, EG800K log; GSM SSL AN 2.2.1 "will not be saved")."""
    t = rig(model)
    configure(t, 1, sslversion=3, seclevel=2, cacert="RAM:ca.pem")
    if model == "m95":
        check(t, 'AT+QSSLCFG="ignorertctime",1', ok('AT+QSSLCFG="ignorertctime",1'))
    else:
        configure(t, 1, sni=1, ignorelocaltime=0)
    t.write(b"AT+CFUN=1,1\r")
    t.read_until(BOOT_LAST[model], timeout=15)
    head = '+QSSLCFG: "%s",' if model == "m95" else '+QSSLCFG: "%s",1,'
    for key, default in (("sslversion", "4"), ("seclevel", "0"), ("cacert", '""')):
        q = 'AT+QSSLCFG="%s",1' % key
        check(t, q, ok(q, head % key + default))
    if model == "m95":
        check(t, 'AT+QSSLCFG="ignorertctime"',
              ok('AT+QSSLCFG="ignorertctime"', '+QSSLCFG: "ignorertctime",0'))
    else:
        check(t, 'AT+QSSLCFG="sni",1', ok('AT+QSSLCFG="sni",1', '+QSSLCFG: "sni",1,0'))
        check(t, 'AT+QSSLCFG="ignorelocaltime",1',
              ok('AT+QSSLCFG="ignorelocaltime",1', '+QSSLCFG: "ignorelocaltime",1,1'))


# ---------------------------------------------------------------- TLS: what works


@pytest.mark.parametrize("model", ["ec25", "m95"])
def test_seclevel_1_with_the_right_ca_opens(rig, pki, brokers, model):
    t = ready(rig, pki, model, brokers().ports["tls"])
    configure(t, 1, seclevel=1, cacert="RAM:ca.pem")
    opens(t, ctx=1)
    text = causes(t)
    assert "handshake done: TLSv1.2" in text, text
    if model == "m95":
        # RSA key exchange only (GSM SSL AN table 2)
        assert "TLS-RSA-WITH-" in text, text


def test_context_settings_do_not_leak_into_another_context(rig, pki, brokers):
    """host-drivers.md item 13: context 0 configured (and broken: a CA file that is not in the
    modem), open with context 1 -> context 1 has its defaults (seclevel 0) and opens."""
    t = ready(rig, pki, "ec25", brokers(server_cert="server-otherca.pem").ports["tls"],
              files=())
    configure(t, 0, seclevel=2, cacert="RAM:missing.pem", sslversion=1, ciphersuite="0X0005")
    opens(t, ctx=1)
    check(t, "AT+QMTCLOSE=0", ok("AT+QMTCLOSE=0"))
    t.read_until(b"+QMTCLOSE: 0,0\r\n")
    fails_with(t, "cacert RAM:missing.pem: no such file in the modem", ctx=0)


def test_seclevel_0_trusts_any_server(rig, pki, brokers):
    """seclevel 0 is "no authentication": a server certificate from another CA, for another
    name and expired, still opens."""
    for cert in ("server-otherca.pem", "server-wronghost.pem", "server-expired.pem"):
        t = ready(rig, pki, "ec25", brokers(server_cert=cert).ports["tls"], files=())
        configure(t, 0, seclevel=0, ignorelocaltime=0)
        opens(t, ctx=0)


def test_ec_client_certificate_opens(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers().ports["mtls"],
              files=("ca.pem", "client-ec.pem", "client-ec.key"))
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem", clientcert="RAM:client-ec.pem",
              clientkey="RAM:client-ec.key")
    opens(t, ctx=0)


@pytest.mark.parametrize("code,suite", [
    ("0X0035", "TLS-RSA-WITH-AES-256-CBC-SHA"), ("0X002F", "TLS-RSA-WITH-AES-128-CBC-SHA"),
    ("0XC030", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"),
])
def test_configured_cipher_suite_is_the_one_negotiated(rig, pki, brokers, code, suite):
    t = ready(rig, pki, "ec25", brokers().ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    check(t, 'AT+QSSLCFG="ciphersuite",0,%s' % code, ok('AT+QSSLCFG="ciphersuite",0,%s' % code))
    opens(t, ctx=0)
    text = causes(t)
    assert "handshake done: TLSv1.2 %s\n" % suite in text + "\n", text


def test_ec_server_certificate(rig, pki, brokers):
    """An EC (P-256) server certificate: the EC25 opens with ECDHE-ECDSA; the M95, RSA key
    exchange only, has no suite in common."""
    port = brokers().ports["tls_ec"]
    t = ready(rig, pki, "ec25", port)
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    opens(t, ctx=0)
    assert "TLS-ECDHE-ECDSA-WITH-" in causes(t)
    t = ready(rig, pki, "m95", port)
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "no common cipher suite", ctx=0)


# ---------------------------------------------------------------- TLS: the failure matrix


def test_server_certificate_from_another_ca(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(server_cert="server-otherca.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "server certificate not trusted: unknown CA", ctx=0)


def test_expired_server_certificate_per_modem_clock(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(server_cert="server-expired.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", ignorelocaltime=0)
    fails_with(t, "server certificate expired per modem clock", ctx=0)


def test_expired_certificate_accepted_with_the_modem_clock_set_back(rig, pki, brokers):
    """The validity check uses the modem's clock (AT+CCLK), not the host's: the same expired
    certificate (valid 2020-01-01 to 2020-01-02) opens once the clock says 2020-01-01 12:00."""
    t = ready(rig, pki, "ec25", brokers(server_cert="server-expired.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", ignorelocaltime=0)
    line = 'AT+CCLK="20/01/01,12:00:00+00"'
    check(t, line, ok(line))
    opens(t, ctx=0)


def test_expired_certificate_accepted_by_ec25_default_ignorelocaltime(rig, pki, brokers):
    """ignorelocaltime reads back 1 untouched (reference §5a): the EC25 then skips the dates."""
    t = ready(rig, pki, "ec25", brokers(server_cert="server-expired.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    opens(t, ctx=0)


def test_m95_checks_the_rtc_unless_ignorertctime(rig, pki, brokers):
    port = brokers(server_cert="server-expired.pem").ports["tls"]
    t = ready(rig, pki, "m95", port)
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "server certificate expired per modem clock", ctx=0)
    t = ready(rig, pki, "m95", port)
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    check(t, 'AT+QSSLCFG="ignorertctime",1', ok('AT+QSSLCFG="ignorertctime",1'))
    opens(t, ctx=0)


def test_not_yet_valid_server_certificate(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(server_cert="server-notyet.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", ignorelocaltime=0)
    fails_with(t, "server certificate not yet valid per modem clock", ctx=0)


def test_wrong_host_name(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(server_cert="server-wronghost.pem").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "server certificate name mismatch: wanted %s" % HOST, ctx=0)


def test_truncated_ca_upload_fails_naming_the_pem_problem(rig, pki, brokers):
    """QFUPL declares the whole file, the host sends only part of it, the upload ends on the
    inactivity timeout with what arrived (reference §3): the stored CA is cut short."""
    t = ready(rig, pki, "ec25", brokers().ports["tls"], files=())
    ca = read(pki["ca.pem"])
    upload(t, "RAM:ca.pem", ca[:700], size=len(ca), timeout=1)
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "CA certificate RAM:ca.pem: PEM parse error: data truncated", ctx=0)


@pytest.mark.parametrize("ca", ["ca-crlf.pem", "ca-nonl.pem", "ca.der", "ca-bundle.pem"])
def test_ca_encodings_that_work(rig, pki, brokers, ca):
    """CR LF PEM (as Windows tools write it: real modules and mbedTLS accept it), PEM without
    its last newline, DER, and a bundle with an unrelated second CA all verify the server."""
    t = ready(rig, pki, "ec25", brokers().ports["tls"], files=(ca,))
    configure(t, 0, seclevel=1, cacert="RAM:" + ca)
    opens(t, ctx=0)


@pytest.mark.parametrize("name,data,cause", [
    ("ca-truncated.pem", None, "PEM parse error: data truncated"),
    ("client-rsa.key", None, "PEM parse error: no certificate in the file"),
    ("other-ca.pem", None, "server certificate not trusted: unknown CA"),
    ("junk.pem", b"not a certificate\r\n", "CA certificate RAM:junk.pem: "),
])
def test_ca_files_that_fail(rig, pki, brokers, name, data, cause):
    t = ready(rig, pki, "ec25", brokers().ports["tls"], files=())
    upload(t, "RAM:" + name, read(pki[name]) if data is None else data)
    configure(t, 0, seclevel=1, cacert="RAM:" + name)
    fails_with(t, cause, ctx=0)


def test_ca_declared_larger_than_sent_keeps_what_arrived_and_works(rig, pki, brokers):
    """The declared size is 20 bytes more than the file (a CRLF count for an LF file): the
    upload ends on the timeout, the stored bytes are exactly the file, and it verifies."""
    t = ready(rig, pki, "ec25", brokers().ports["tls"], files=())
    ca = read(pki["ca.pem"])
    upload(t, "RAM:ca.pem", ca, size=len(ca) + 20, timeout=1)
    check(t, 'AT+QFLST="RAM:ca.pem"',
          ok('AT+QFLST="RAM:ca.pem"', '+QFLST: "RAM:ca.pem",%d' % len(ca)))
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    opens(t, ctx=0)


def test_client_certificate_not_configured_at_seclevel_2(rig, pki, brokers):
    """seclevel 2 sends a certificate "if requested by the remote server" (GSM SSL AN 2.2.1):
    with none configured the mutual listener refuses the handshake."""
    t = ready(rig, pki, "ec25", brokers().ports["mtls"])
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem")
    fails_with(t, "client certificate required but none configured", ctx=0)


def test_client_certificate_at_seclevel_1_is_not_sent(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers().ports["mtls"],
              files=("ca.pem", "client-rsa.pem", "client-rsa.key"))
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", clientcert="RAM:client-rsa.pem",
              clientkey="RAM:client-rsa.key")
    fails_with(t, "client certificate required but none configured at this seclevel", ctx=0)


def test_client_certificate_named_but_not_in_the_modem(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers().ports["mtls"])
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem", clientcert="RAM:client.pem",
              clientkey="RAM:client.key")
    fails_with(t, "clientcert RAM:client.pem: no such file in the modem", ctx=0)


def test_client_certificate_from_another_ca(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers().ports["mtls"],
              files=("ca.pem", "client-otherca.pem", "client-otherca.key"))
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem", clientcert="RAM:client-otherca.pem",
              clientkey="RAM:client-otherca.key")
    fails_with(t, "server rejected the client certificate", ctx=0)


def test_wrong_key_password_then_the_right_one(rig, pki, brokers):
    """A failed open leaves the client idle: the host fixes the password and opens again."""
    t = ready(rig, pki, "ec25", brokers().ports["mtls"],
              files=("ca.pem", "client-rsa.pem", "client-rsa-enc.key"))
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem", clientcert="RAM:client-rsa.pem")
    line = 'AT+QSSLCFG="clientkey",0,"RAM:client-rsa-enc.key","not-the-password"'
    check(t, line, ok(line))
    assert mqtt_open(t, ctx=0) == -1
    line = 'AT+QSSLCFG="clientkey",0,"RAM:client-rsa-enc.key","%s"' % KEY_PASSWORD
    check(t, line, ok(line))
    opens(t, ctx=0)
    text = causes(t)
    assert "private key password wrong for RAM:client-rsa-enc.key" in text, text


def test_encrypted_key_without_password(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers().ports["mtls"],
              files=("ca.pem", "client-rsa.pem", "client-rsa-enc.key"))
    configure(t, 0, seclevel=2, cacert="RAM:ca.pem", clientcert="RAM:client-rsa.pem",
              clientkey="RAM:client-rsa-enc.key")
    fails_with(t, "is encrypted but no password is configured", ctx=0)


def test_tls_1_0_against_a_tls_1_2_only_broker(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(tls_version="tlsv1.2").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", sslversion=1)
    fails_with(t, "protocol_version", ctx=0)


def test_tls_1_2_against_a_tls_1_2_only_broker_works(rig, pki, brokers):
    t = ready(rig, pki, "ec25", brokers(tls_version="tlsv1.2").ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem", sslversion=3)
    opens(t, ctx=0)


def test_m95_against_an_ecdhe_only_broker(rig, pki, brokers):
    """The M95 offers RSA key exchange suites only (GSM SSL AN table 2)."""
    b = brokers(ciphers="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    t = ready(rig, pki, "m95", b.ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    fails_with(t, "no common cipher suite", ctx=0)
    # the EC25 has ECDHE suites and opens at the same broker
    t = ready(rig, pki, "ec25", b.ports["tls"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    opens(t, ctx=0)


def test_tls_to_a_plain_mqtt_port(rig, pki, brokers):
    """SSL on, but the port is a plain MQTT listener (a common misconfiguration): mosquitto
    takes the ClientHello for a bad MQTT packet and drops the connection mid-handshake (a
    reset, as it leaves the rest unread; a FIN would be "peer closed during handshake")."""
    t = ready(rig, pki, "ec25", brokers().ports["plain"])
    configure(t, 0, seclevel=1, cacert="RAM:ca.pem")
    assert mqtt_open(t, ctx=0) == -1
    text = causes(t)
    assert re.search(r"open failed: (connection reset by peer|TLS failure: peer closed during "
                     r"handshake) \(handshaking\)", text), text


def test_cipher_suite_the_library_lacks(rig):
    """0X0005 (RC4) is in the EC25's list but not in Debian's mbedTLS: the open fails before
    anything goes out, and the trace says why (a limit of the simulator, documented)."""
    t = rig("ec25", 1)  # port 1: nothing is ever connected
    pdp_up(t)
    configure(t, 0, ciphersuite="0X0005")
    fails_with(t, "no common cipher suite: none of the configured suites (0x0005)", ctx=0)


def test_sslversion_0_is_ssl_3_which_cannot_be_offered(rig):
    t = rig("ec25", 1)
    pdp_up(t)
    configure(t, 0, sslversion=0)
    fails_with(t, "SSL 3.0", ctx=0)


# ---------------------------------------------------------------- SNI


class SniServer:
    """A TLS server on loopback that records the server name of each ClientHello (None when
    the client sent none). mosquitto cannot show it, so this is the peer for the SNI test."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki["server.pem"], pki["server.key"])
        self.ctx.sni_callback = self._on_sni
        self.names = []
        self.handshakes = 0
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_sni(self, sslobj, name, ctx):
        with self.cond:
            self.names.append(name)

    def _run(self):
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            raw.settimeout(5)
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            with self.cond:
                self.conns.append(conn)
                self.handshakes += 1
                self.cond.notify_all()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def sni_server(pki):
    s = SniServer(pki)
    yield s
    s.stop()


@pytest.mark.parametrize("sni,host,want", [
    (1, HOST, HOST), (0, HOST, None), (1, "127.0.0.1", None),
], ids=["sni-on", "sni-off-default", "sni-on-address"])
def test_sni_sent_only_when_configured(rig, sni_server, sni, host, want):
    """AT+QSSLCFG="sni",<ctx>,1 sends the host name (off by default, reference §5a); an
    address is never sent as a name (RFC 6066 3)."""
    t = rig("ec25", sni_server.port)
    pdp_up(t)
    if sni:
        configure(t, 0, sni=1)
    opens(t, ctx=0, host=host)
    with sni_server.cond:
        assert sni_server.cond.wait_for(lambda: sni_server.handshakes == 1, 5)
        assert sni_server.names in ([want], [] if want is None else [want]), sni_server.names


# ---------------------------------------------------------------- the field log of seed 000


def field_setup(t, ca_name, ca, size=None):
    """The provisioning of the seed 000 log: files in RAM:, client 0 on SSL context 2 with
    seclevel 2, all versions, all suites, local time ignored."""
    upload(t, ca_name, ca, size=size, timeout=1 if size and size > len(ca) else 5)
    upload(t, "RAM:client.pem", read(t.pki["client-rsa.pem"]))
    upload(t, "RAM:user_key.pem", read(t.pki["client-rsa.key"]))
    pdp_up(t)
    for line in ('AT+QSSLCFG="clientcert",2,"RAM:client.pem"',
                 'AT+QSSLCFG="clientkey",2,"RAM:user_key.pem"',
                 'AT+QSSLCFG="cacert",2,"%s"' % ca_name, 'AT+QSSLCFG="seclevel",2,2',
                 'AT+QSSLCFG="sslversion",2,4', 'AT+QSSLCFG="ciphersuite",2,0xFFFF',
                 'AT+QSSLCFG="ignorelocaltime",2,1'):
        check(t, line, ok(line))


@pytest.mark.parametrize("ending", ["lf", "crlf"])
def test_field_log_aws_ca_with_lf_or_crlf_both_open(rig, pki, brokers, ending):
    """Seed 000: one user uploaded the CA with LF (1188-style) and got +QMTOPEN: 0,-1, another
    with CR LF (1208-style, size declared to match) and got +QMTOPEN: 2,0. Here both open: the
    line ending is not what failed, as long as the declared size matches the bytes sent."""
    t = rig("ec25", brokers().ports["mtls"])
    t.pki = pki
    ca = read(pki["ca-crlf.pem" if ending == "crlf" else "ca-lf.pem"])
    field_setup(t, "RAM:cacert.pem", ca)
    opens(t, ctx=2, host=AWS_HOST)
    line = 'AT+QMTCONN=0,"Rak_Wisblock_Mqtt"'
    check(t, line, ok(line))
    t.expect(b"\r\n+QMTCONN: 0,0,0\r\n", timeout=10)


def test_field_log_crlf_ca_declared_with_the_lf_size_is_cut_and_fails(rig, pki, brokers):
    """The same CA sent with CR LF after declaring its LF size: the modem keeps the declared
    number of bytes (the END line is cut), the rest of the bytes arrive as command lines, and
    the open fails naming the PEM problem."""
    t = rig("ec25", brokers().ports["mtls"])
    t.pki = pki
    lf, crlf = read(pki["ca-lf.pem"]), read(pki["ca-crlf.pem"])
    assert len(crlf) - len(lf) == lf.count(b"\n")
    line = 'AT+QFUPL="RAM:cacert.pem",%d,100' % len(lf)
    t.write(b(line) + b"\r")
    t.expect(b(line) + b"\r\r\nCONNECT\r\n")
    t.write(crlf)
    t.expect(b"+QFUPL: %d,%s\r\n\r\nOK\r\n" % (len(lf), xor16(crlf[:len(lf)])))
    t.read_until(b"\r\nERROR\r\n")  # the tail of the certificate is not a command
    t.drain(0.3)
    upload(t, "RAM:client.pem", read(pki["client-rsa.pem"]))
    upload(t, "RAM:user_key.pem", read(pki["client-rsa.key"]))
    pdp_up(t)
    configure(t, 2, clientcert="RAM:client.pem", clientkey="RAM:user_key.pem",
              cacert="RAM:cacert.pem", seclevel=2)
    fails_with(t, "CA certificate RAM:cacert.pem: PEM parse error: data truncated", ctx=2,
               host=AWS_HOST)


# ---------------------------------------------------------------- M95 certificate stores


@pytest.mark.parametrize("name", ["RAM:ca.pem", "NVRAM:CA0"])
def test_m95_qsecwrite_ca_then_seclevel_1_opens(rig, pki, brokers, name):
    """GSM SSL AN examples 3.1 (RAM:) and 3.2 (NVRAM:CA0): QSECWRITE the CA, point cacert at
    it, seclevel 1 -> the server is verified and the connection opens."""
    t = rig("m95", brokers().ports["tls"])
    upload(t, name, read(pki["ca.pem"]))
    pdp_up(t)
    check(t, 'AT+QSSLCFG="ignorertctime",1', ok('AT+QSSLCFG="ignorertctime",1'))
    for line in ('AT+QSSLCFG="sslversion",0,4', 'AT+QSSLCFG="ciphersuite",0,"0XFFFF"',
                 'AT+QSSLCFG="seclevel",0,1', 'AT+QSSLCFG="cacert",0,"%s"' % name):
        check(t, line, ok(line))
    opens(t, ctx=0)
