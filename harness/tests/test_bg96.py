"""The Quectel BG96 (--model bg96) end to end, byte for byte, as a host sees it: identity and
boot URCs, the Cat-M1 cell, the AT+QCFG scan settings, a bring-up as a BG96 session does it
(UFS files, AT+QSSLCFG, AT+QMT* over real TLS to the embedded broker, messages both ways),
what the BG96 lacks, and its sockets.

The facts and their sources are in the comments of sim/modem/profile.c and of the *_bg96
tables (sim/at/cmd_network.c, cmd_ssl.c, cmd_mqtt.c): TinyGSM issue 157 and a RAK5010 document
(ATI), a Particle tracker trace (identity, +CEREG with AcT 8, +QCSQ "CAT-M1"), a Korean Cat-M1
boot log (the boot URCs, APP RDY, no +QIND: PB DONE), the FreeRTOS BG96 maintainer's capture
(the +QCSQ test form), WIZnet's BG96 guides (AT+QFUPL of a bare name, QMTPUB, the unquoted
length-less +QMTRECV) and the BG96 FILE manual (UFS only).

--timing fast everywhere except the boot timing test, which runs realistic timing scaled down.
"""
import functools
import os
import re

import pytest

from broker import MqttClient
from control import wait_for
from modemsim_harness import at
from modemsim_harness.at import b, check, download, err, info_line, ok, prompt, quiet, urc
from test_identity import luhn_ok
from test_mqtt import pub_prompt
from test_sock_ec25 import Peer, echo

BOOT = (b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\nAPP RDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n"
        b"\r\n+QIND: SMS DONE\r\n")
REVISION = "BG96MAR02A07M1G"
LOC = ',"2B44","C45C010",8'  # <tac>,<ci>,<AcT>: AcT 8 is Cat-M1
BROKER_HOST = "broker.modemsim.test"  # a name the embedded broker's certificate carries
PEER_HOST = "peer.modemsim.test"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def bg96(modemsim):
    """A BG96 with fast timing, no broker behind it (every name resolves to 127.0.0.1), its
    tty open and its boot URCs read."""
    sim = modemsim("--broker", "none", "--resolve", "*=127.0.0.1", model="bg96")
    t = sim.open()
    t.sim = sim
    return t


# AT+QFUPL as WIZnet's BG96 session does it (timeout 100)
upload = wiznet_upload = functools.partial(at.upload, timeout=100)


def cfun_reboot(t):
    """AT+CFUN=1,1: OK, then the BG96 boot URCs, exactly, and nothing after them."""
    t.write(b"AT+CFUN=1,1\r")
    t.expect(b"AT+CFUN=1,1\r\r\nOK\r\n" + BOOT, timeout=10)
    quiet(t, 0.3)


def ssl_configure(t, ctx, *pairs):
    """AT+QSSLCFG lines, each answered OK and read back with the context echoed."""
    for key, value in pairs:
        line = 'AT+QSSLCFG="%s",%d,%s' % (key, ctx, value)
        check(t, line, ok(line))
        q = 'AT+QSSLCFG="%s",%d' % (key, ctx)
        check(t, q, ok(q, '+QSSLCFG: "%s",%d,%s' % (key, ctx, value)))


def read_ca(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- identity


def test_ati_is_three_lines(bg96):
    """TinyGSM issue 157 and the RAK5010 document: Quectel / BG96 / Revision:, a blank line,
    OK; Particle's CellularHelper sends ATI0, the same."""
    for cmd in ("ATI", "ATI0"):
        check(bg96, cmd, ok(cmd, "Quectel", "BG96", "Revision: " + REVISION))


@pytest.mark.parametrize("cmd,line", [
    ("AT+CGMI", "Quectel"),
    ("AT+GMI", "Quectel"),
    ("AT+CGMM", "BG96"),
    ("AT+GMM", "BG96"),
    ("AT+CGMR", REVISION),
    ("AT+GMR", REVISION),
    ("AT+QGMR", REVISION + "_01.016.01.016"),
    ("AT+CMEE?", "+CMEE: 1"),
])
def test_identity_lines(bg96, cmd, line):
    check(bg96, cmd, ok(cmd, line))


def test_imei_has_the_bg96_tac(bg96):
    imei = info_line(bg96, "AT+GSN")
    assert re.fullmatch(r"86528404\d{7}", imei) and luhn_ok(imei), imei
    assert info_line(bg96, "AT+CGSN") == imei
    iccid = info_line(bg96, "AT+QCCID")
    assert re.fullmatch(r"\+QCCID: 89\d+", iccid), iccid


# ---------------------------------------------------------------- boot


def test_boot_urcs_in_order_with_app_rdy_and_no_pb_done(modemsim):
    """The Cat-M1 boot log: RDY, +CFUN: 1, APP RDY, +CPIN: READY, +QUSIM: 1, +QIND: SMS
    DONE; the EC25's +QIND: PB DONE never comes."""
    t = modemsim(model="bg96").open(boot=False)
    assert t.read_until(b"+QIND: SMS DONE\r\n", timeout=15) == BOOT
    quiet(t, 0.3)
    check(t, "AT", ok("AT"))


def test_boot_timing_is_ordered_and_ends_at_sms_done(modemsim):
    """Realistic timing (scaled by 0.2): the URCs come in the capture's order at their
    delays, and nothing follows SMS DONE for longer than the EC25 takes to its PB DONE."""
    t = modemsim("--time-scale", "0.2", model="bg96", timing="realistic").open(boot=False)
    assert t.read_until(b"+QIND: SMS DONE\r\n", timeout=10) == BOOT
    assert t.drain(1.2, timeout=3) == b""


def test_cfun_1_1_reboots_with_the_bg96_urcs(bg96):
    check(bg96, "AT+CREG=1;+CMEE=2", ok("AT+CREG=1;+CMEE=2"))
    cfun_reboot(bg96)
    # volatile settings are back to their defaults, the modem is registered again
    check(bg96, "AT+CREG?", ok("AT+CREG?", "+CREG: 0,1"))
    check(bg96, "AT+CMEE?", ok("AT+CMEE?", "+CMEE: 1"))
    check(bg96, "AT+CFUN?", ok("AT+CFUN?", "+CFUN: 1"))


# ---------------------------------------------------------------- the Cat-M1 cell


@pytest.mark.parametrize("cmd", ["+CREG", "+CEREG"])
def test_registration_mode_2_reports_act_8(bg96, cmd):
    """The Particle trace: `+CEREG: 2,1,"D0B","C45C010",8`, and +CREG the same on Cat-M1."""
    check(bg96, "AT%s?" % cmd, ok("AT%s?" % cmd, cmd + ": 0,1"))
    check(bg96, "AT%s=2" % cmd, ok("AT%s=2" % cmd))
    check(bg96, "AT%s?" % cmd, ok("AT%s?" % cmd, cmd + ": 2,1" + LOC))


def test_registration_urcs_carry_act_8(bg96):
    bg96.cmd("AT+CREG=2;+CEREG=2")
    bg96.write(b"AT+CFUN=4\r")
    bg96.expect(b"AT+CFUN=4\r\r\nOK\r\n\r\n+CREG: 0\r\n\r\n+CEREG: 0\r\n")
    bg96.write(b"AT+CFUN=1\r")
    bg96.expect(b"AT+CFUN=1\r\r\nOK\r\n" + b"\r\n+CREG: 1%s\r\n\r\n+CEREG: 1%s\r\n" % (
        b(LOC), b(LOC)))
    quiet(bg96)


def test_cops_reports_act_8(bg96):
    check(bg96, "AT+COPS?", ok("AT+COPS?", '+COPS: 0,0,"modemsim",8'))
    check(bg96, "AT+COPS=3,2", ok("AT+COPS=3,2"))
    check(bg96, "AT+COPS?", ok("AT+COPS?", '+COPS: 0,2,"00101",8'))
    check(bg96, "AT+COPS=?",
          ok("AT+COPS=?", '+COPS: (2,"modemsim","modemsim","00101",8),,(0-4),(0-2)'))


def test_qcsq_names_cat_m1(bg96):
    """`+QCSQ: "CAT-M1",<rssi>,<rsrp>,<sinr>,<rsrq>` (Particle trace); the test form lists the
    BG96's system modes (FreeRTOS BG96 maintainer's capture, BG96MAR02A10M1G)."""
    check(bg96, "AT+QCSQ", ok("AT+QCSQ", '+QCSQ: "CAT-M1",-63,-93,150,-10'))
    check(bg96, "AT+QCSQ=?", ok("AT+QCSQ=?", '+QCSQ: "NOSERVICE","GSM","CAT-M1","CAT-NB1"'))
    check(bg96, "AT+QCSQ=1", err("AT+QCSQ=1"))
    check(bg96, "AT+CFUN=0", ok("AT+CFUN=0"))
    check(bg96, "AT+QCSQ", ok("AT+QCSQ", '+QCSQ: "NOSERVICE"'))


def test_qnwinfo_names_cat_m1_band_12(bg96):
    check(bg96, "AT+QNWINFO", ok("AT+QNWINFO", '+QNWINFO: "CAT-M1","00101","LTE BAND 12",5110'))
    check(bg96, "AT+QNWINFO=?", ok("AT+QNWINFO=?"))
    check(bg96, "AT+CFUN=0", ok("AT+CFUN=0"))
    check(bg96, "AT+QNWINFO", ok("AT+QNWINFO", "+QNWINFO: No Service"))


# ---------------------------------------------------------------- AT+QCFG scan settings


def test_qcfg_test_form(bg96):
    """The RAK5010 document's lines for the three keys simulated."""
    check(bg96, "AT+QCFG=?", ok("AT+QCFG=?", '+QCFG: "nwscanmode",(0,1,3),(0,1)',
                                '+QCFG: "nwscanseq",(00-010203),(0,1)',
                                '+QCFG: "iotopmode",(0-2)'))


def test_qcfg_defaults_read_value_only(bg96):
    """The read has no effect field: `+QCFG: "nwscanseq",020301` (M1, NB1, GSM)."""
    check(bg96, 'AT+QCFG="nwscanseq"', ok('AT+QCFG="nwscanseq"', '+QCFG: "nwscanseq",020301'))
    check(bg96, 'AT+QCFG="nwscanmode"', ok('AT+QCFG="nwscanmode"', '+QCFG: "nwscanmode",0'))
    check(bg96, 'AT+QCFG="iotopmode"', ok('AT+QCFG="iotopmode"', '+QCFG: "iotopmode",2'))


@pytest.mark.parametrize("key,value,back", [
    ("nwscanseq", "030201,1", "030201"),  # RAK5010 document
    ("nwscanseq", "0201,1", "0201"),  # Magenta document
    ("nwscanseq", "02", "02"),
    ("nwscanseq", "01020300,0", "01020300"),
    ("nwscanseq", "00", "020301"),  # automatic reads back as the automatic order
    ("nwscanmode", "3,1", "3"),
    ("nwscanmode", "1", "1"),
    ("nwscanmode", "0,0", "0"),
    ("iotopmode", "0,1", "0"),  # Magenta document
    ("iotopmode", "1", "1"),
    ("iotopmode", "2,1", "2"),  # FreeRTOS BG96 driver
    ("NWSCANMODE", "3", "3"),
])
def test_qcfg_write_then_read(bg96, key, value, back):
    line = 'AT+QCFG="%s",%s' % (key, value)
    check(bg96, line, ok(line))
    q = 'AT+QCFG="%s"' % key
    check(bg96, q, ok(q, '+QCFG: "%s",%s' % (key, back)))


def test_qcfg_values_survive_a_reboot(bg96):
    for line in ('AT+QCFG="nwscanseq",0301,1', 'AT+QCFG="nwscanmode",3,0',
                 'AT+QCFG="iotopmode",1,1'):
        check(bg96, line, ok(line))
    cfun_reboot(bg96)
    check(bg96, 'AT+QCFG="nwscanseq"', ok('AT+QCFG="nwscanseq"', '+QCFG: "nwscanseq",0301'))
    check(bg96, 'AT+QCFG="nwscanmode"', ok('AT+QCFG="nwscanmode"', '+QCFG: "nwscanmode",3'))
    check(bg96, 'AT+QCFG="iotopmode"', ok('AT+QCFG="iotopmode"', '+QCFG: "iotopmode",1'))


@pytest.mark.parametrize("line", [
    'AT+QCFG="nwscanmode",2', 'AT+QCFG="nwscanmode",4', 'AT+QCFG="nwscanmode",-1',
    'AT+QCFG="nwscanmode",3,2', 'AT+QCFG="nwscanmode",3,1,1', 'AT+QCFG="nwscanmode","3"',
    'AT+QCFG="iotopmode",3', 'AT+QCFG="iotopmode",0,-1', 'AT+QCFG="iotopmode",',
    'AT+QCFG="nwscanseq",04', 'AT+QCFG="nwscanseq",0', 'AT+QCFG="nwscanseq",020',
    'AT+QCFG="nwscanseq",0x02', 'AT+QCFG="nwscanseq",1203', 'AT+QCFG="nwscanseq",0201,2',
    'AT+QCFG="nwscanseq","0201"', 'AT+QCFG="nwscanseq",0102030101',
])
def test_qcfg_bad_values_are_errors_and_change_nothing(bg96, line):
    check(bg96, line, err(line))
    check(bg96, 'AT+QCFG="nwscanseq"', ok('AT+QCFG="nwscanseq"', '+QCFG: "nwscanseq",020301'))
    check(bg96, 'AT+QCFG="nwscanmode"', ok('AT+QCFG="nwscanmode"', '+QCFG: "nwscanmode",0'))
    check(bg96, 'AT+QCFG="iotopmode"', ok('AT+QCFG="iotopmode"', '+QCFG: "iotopmode",2'))


@pytest.mark.parametrize("line", ['AT+QCFG="nosuchkey"', 'AT+QCFG="nosuchkey",1', "AT+QCFG?",
                                  "AT+QCFG"])
def test_qcfg_unknown_key_or_form_is_error(bg96, line):
    check(bg96, line, err(line))


# ---------------------------------------------------------------- the bring-up, over TLS


@pytest.mark.parametrize("ca_name", ["cacert.pem", "UFS:cacert.pem"])
def test_bring_up_to_the_broker_over_tls(modemsim, ca_name):
    """A BG96 session (WIZnet's BG96 AWS guide, with the field log's status queries): the CA
    into UFS under a bare or "UFS:" name, an SSL context that verifies the broker with it and
    sends SNI, MQTT 3.1.1 over TLS to the embedded broker's TLS listener, a subscription,
    QMTPUB in its prompt and length forms (seen at the broker), messages published at the
    broker arriving as `+QMTRECV: 0,<msgid>,"<topic>","<payload>"`, disconnect and close."""
    sim = modemsim(model="bg96")
    t = sim.open()
    ca = read_ca(sim.broker["ca"])
    watcher = MqttClient("127.0.0.1", sim.broker["plain"], "bg96-watcher")
    try:
        assert watcher.connect() == 0
        watcher.subscribe("bg96/up/#", qos=1)
        # what a driver asks first
        check(t, "AT+CPIN?", ok("AT+CPIN?", "+CPIN: READY"))
        check(t, "AT+CEREG?", ok("AT+CEREG?", "+CEREG: 0,1"))
        check(t, "AT+QNWINFO", ok("AT+QNWINFO", '+QNWINFO: "CAT-M1","00101","LTE BAND 12",5110'))
        check(t, "AT+GMR", ok("AT+GMR", REVISION))
        # the PDP context
        line = 'AT+QICSGP=1,1,"m1.apn","","",1'
        check(t, line, ok(line))
        check(t, "AT+QICSGP=1", ok("AT+QICSGP=1", '+QICSGP: 1,"m1.apn","","",1'))
        check(t, "AT+QIACT?", ok("AT+QIACT?"))
        check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
        out = t.cmd("AT+QIACT?")
        assert re.fullmatch(rb'AT\+QIACT\?\r\r\n\+QIACT: 1,1,1,"[\d.]+"\r\n\r\nOK\r\n', out), out
        # the CA into UFS; the file in the modem is what was sent, under either name
        check(t, 'AT+QFDEL="*"', ok('AT+QFDEL="*"'))
        check(t, "AT+QFLST", ok("AT+QFLST"))
        upload(t, ca_name, ca)
        check(t, "AT+QFLST", ok("AT+QFLST", '+QFLST: "UFS:cacert.pem",%d' % len(ca)))
        assert download(t, "cacert.pem") == ca
        assert download(t, "UFS:cacert.pem") == ca
        # the SSL context
        ssl_configure(t, 2, ("sslversion", "4"), ("ciphersuite", "0XFFFF"),
                      ("cacert", '"%s"' % ca_name), ("seclevel", "1"),
                      ("ignorelocaltime", "1"), ("sni", "1"))
        # MQTT over it
        for line in ('AT+QMTCFG="ssl",0,1,2', 'AT+QMTCFG="version",0,4'):
            check(t, line, ok(line))
        check(t, 'AT+QMTCFG="ssl",0', ok('AT+QMTCFG="ssl",0', '+QMTCFG: "ssl",1,2'))
        line = 'AT+QMTOPEN=0,"%s",8883' % BROKER_HOST
        check(t, line, ok(line))
        urc(t, "+QMTOPEN: 0,0", timeout=10)
        check(t, "AT+QMTOPEN?", ok("AT+QMTOPEN?", '+QMTOPEN: 0,"%s",8883' % BROKER_HOST))
        check(t, 'AT+QMTCONN=0,"bg96-dev"', ok('AT+QMTCONN=0,"bg96-dev"'))
        urc(t, "+QMTCONN: 0,0,0")
        check(t, 'AT+QMTSUB=0,1,"bg96/down",1', ok('AT+QMTSUB=0,1,"bg96/down",1'))
        urc(t, "+QMTSUB: 0,1,0,1")
        # publish: the prompt form (WIZnet's session) and the length form
        pub_prompt(t, 'AT+QMTPUB=0,0,0,0,"bg96/up/a"', b"Hello IoT Open House")
        urc(t, "+QMTPUB: 0,0,0")
        prompt(t, 'AT+QMTPUB=0,2,1,0,"bg96/up/b",10')
        t.write(b'{"t":21.5}')
        t.expect(b'{"t":21.5}\r\nOK\r\n')
        urc(t, "+QMTPUB: 0,2,0")
        got = [watcher.wait_for(lambda m, s=s: m.topic == "bg96/up/" + s) for s in "ab"]
        assert [(m.payload, m.qos, m.retain) for m in got] == [
            (b"Hello IoT Open House", 0, False), (b'{"t":21.5}', 1, False)]
        # receive: quoted payload, no length, inner quotes as they are (WIZnet's session)
        watcher.publish("bg96/down", b"Hello WIZnet", qos=0)
        urc(t, '+QMTRECV: 0,0,"bg96/down","Hello WIZnet"')
        watcher.publish("bg96/down", b'{"state":{"on":true}}', qos=1)
        line = t.read_until(re.compile(rb"\r\n\+QMTRECV: [^\r\n]*\r\n"))
        m = re.fullmatch(rb'\r\n\+QMTRECV: 0,(\d+),"bg96/down","\{"state":\{"on":true\}\}"\r\n',
                         line)
        assert m and int(m.group(1)) > 0, line
        quiet(t)
        # the end
        check(t, "AT+QMTDISC=0", ok("AT+QMTDISC=0"))
        urc(t, "+QMTDISC: 0,0")
        # the broker closes the connection after DISCONNECT (as on the EC25)
        urc(t, "+QMTSTAT: 0,5")
        check(t, "AT+QMTCONN?", ok("AT+QMTCONN?"))
        line = 'AT+QMTOPEN=0,"%s",8883' % BROKER_HOST
        check(t, line, ok(line))
        urc(t, "+QMTOPEN: 0,0", timeout=10)
        check(t, "AT+QMTCLOSE=0", ok("AT+QMTCLOSE=0"))
        urc(t, "+QMTCLOSE: 0,0")
        check(t, "AT+QMTOPEN?", ok("AT+QMTOPEN?"))
    finally:
        watcher.close()


def test_tls_checks_the_uploaded_ca(modemsim):
    """seclevel 1 with a CA that did not sign the broker's certificate: the handshake fails,
    `+QMTOPEN: 0,-1`, and the trace names the cause, so the open above really verified the
    broker with the file in UFS."""
    sim = modemsim(model="bg96")
    t = sim.open()
    upload(t, "other.pem", read_ca(os.path.join(os.path.dirname(sim.broker["ca"]),
                                                 "other-ca.pem")))
    ssl_configure(t, 1, ("cacert", '"other.pem"'), ("seclevel", "1"))
    check(t, "AT+QIACT=1", ok("AT+QIACT=1"))
    check(t, 'AT+QMTCFG="ssl",0,1,1', ok('AT+QMTCFG="ssl",0,1,1'))
    line = 'AT+QMTOPEN=0,"%s",8883' % BROKER_HOST
    check(t, line, ok(line))
    urc(t, "+QMTOPEN: 0,-1", timeout=10)
    check(t, "AT+QMTOPEN?", ok("AT+QMTOPEN?"))
    assert sim.stop() == 0
    text = "\n".join(e.get("msg", "") for e in sim.trace() if e.get("ev") == "tls")
    assert "server certificate not trusted: unknown CA" in text, text


def test_ram_drive_is_refused(bg96):
    """The BG96 FILE manual knows UFS only: a "RAM:" name is an invalid file name (406), and
    nothing is stored."""
    line = 'AT+QFUPL="RAM:cacert.pem",1188,100'
    check(bg96, line, err(line, "+CME ERROR: 406"))
    check(bg96, "AT+QFLST", ok("AT+QFLST"))
    quiet(bg96)


def test_ufs_files_survive_a_reboot(bg96):
    upload(bg96, "cacert.pem", b"-----BEGIN CERTIFICATE-----\n")
    cfun_reboot(bg96)
    check(bg96, "AT+QFLST", ok("AT+QFLST", '+QFLST: "UFS:cacert.pem",28'))
    assert download(bg96, "cacert.pem") == b"-----BEGIN CERTIFICATE-----\n"


# ---------------------------------------------------------------- SSL keys of the BG96


# (key, default read back, a value to set): the BG96 SSL manual's keys, the EC25 defaults
BG96_SSL_KEYS = [
    ("sslversion", "4", "3"),
    ("ciphersuite", "0XFFFF", "0XC011"),
    ("cacert", '""', '"cacert.pem"'),
    ("clientcert", '""', '"client.pem"'),
    ("clientkey", '""', '"user_key.pem"'),
    ("seclevel", "0", "2"),
    ("sni", "0", "1"),
    ("ignorelocaltime", "1", "0"),
    ("negotiatetime", "300", "60"),
]


@pytest.mark.parametrize("key,default,value", BG96_SSL_KEYS, ids=[k[0] for k in BG96_SSL_KEYS])
def test_qsslcfg_bg96_keys_set_and_query(bg96, key, default, value):
    q = 'AT+QSSLCFG="%s",5' % key
    check(bg96, q, ok(q, '+QSSLCFG: "%s",5,%s' % (key, default)))
    ssl_configure(bg96, 5, (key, value))
    # another context keeps its default
    q = 'AT+QSSLCFG="%s",0' % key
    check(bg96, q, ok(q, '+QSSLCFG: "%s",0,%s' % (key, default)))


def test_qsslcfg_bg96_cipher_list(bg96):
    """The BG96 list has RC4 (0x0004, 0xC011) and no ECDSA suites."""
    for code in ("0x0004", "0XC011", "0xc02f", "0x0035"):
        line = 'AT+QSSLCFG="ciphersuite",0,%s' % code
        check(bg96, line, ok(line))
    for code in ("0xC009", "0XC02B", "0XC030", "0x1234"):
        line = 'AT+QSSLCFG="ciphersuite",0,%s' % code
        check(bg96, line, err(line))


BG96_QSSLCFG_TEST = (
    '+QSSLCFG: "sslversion",(0-5),(0-4)',
    '+QSSLCFG: "ciphersuite",(0-5),(0X0035,0X002F,0X0005,0X0004,0X000A,0X003D,0XC011,0XC012,'
    '0XC013,0XC014,0XC027,0XC028,0XC02F,0XFFFF)',
    '+QSSLCFG: "cacert",(0-5),<cacertpath>',
    '+QSSLCFG: "clientcert",(0-5),<client_cert_path>',
    '+QSSLCFG: "clientkey",(0-5),<client_key_path>',
    '+QSSLCFG: "seclevel",(0-5),(0-2)',
    '+QSSLCFG: "sni",(0-5),(0,1)',
    '+QSSLCFG: "ignorelocaltime",(0-5),(0,1)',
    '+QSSLCFG: "negotiatetime",(0-5),(10-300)',
)


def test_qsslcfg_test_form_is_the_bg96_list(bg96):
    check(bg96, "AT+QSSLCFG=?", ok("AT+QSSLCFG=?", *BG96_QSSLCFG_TEST))


# ---------------------------------------------------------------- what the BG96 lacks


@pytest.mark.parametrize("line", [
    # MQTT: no QMTPUBEX, no recv/mode, no QMTRECV command (BG96 MQTT AN V1.0)
    'AT+QMTPUBEX=0,1,1,0,"t",5', "AT+QMTPUBEX=?",
    'AT+QMTCFG="recv/mode",0,1', 'AT+QMTCFG="recv/mode",0,0,1', 'AT+QMTCFG="recv/mode",0',
    "AT+QMTRECV?", "AT+QMTRECV=0", "AT+QMTRECV=0,1", "AT+QMTRECV=?",
    # SSL: the EC25 keys the BG96 SSL manual does not have
    'AT+QSSLCFG="dtls",0,1', 'AT+QSSLCFG="dtls",0', 'AT+QSSLCFG="dtlsversion",0,1',
    'AT+QSSLCFG="alpn",0,"mqtt"', 'AT+QSSLCFG="alpn",0', 'AT+QSSLCFG="psk",0,"id","0011"',
    'AT+QSSLCFG="psk",0', 'AT+QSSLCFG="cacertex",0,"ex.pem"', 'AT+QSSLCFG="closetimemode",0,1',
    'AT+QSSLCFG="session_cache",0,1', 'AT+QSSLCFG="renegotiation",0,1',
    'AT+QSSLCFG="ignoremulticertchainverify",0,1', 'AT+QSSLCFG="ignoreinvalidcertsign",0,1',
    'AT+QSSLCFG="ignorecertitem",0,1',
    # its clientkey takes no password (<client_key_path> only)
    'AT+QSSLCFG="clientkey",0,"user_key.pem","modemsim"',
])
def test_what_the_bg96_lacks_is_error(bg96, line):
    check(bg96, line, err(line))
    quiet(bg96)


def test_qmtcfg_test_form_has_no_recv_mode(bg96):
    got = bg96.cmd("AT+QMTCFG=?")
    assert got.startswith(b'AT+QMTCFG=?\r\r\n+QMTCFG: "') and got.endswith(b"\r\n\r\nOK\r\n")
    for key in ("version", "pdpcid", "ssl", "keepalive", "session", "timeout", "will"):
        assert b'+QMTCFG: "%s",(0-5),' % b(key) in got, key
    assert b"recv/mode" not in got


def test_qmtpub_test_form_is_the_an_quote(bg96):
    """BG96 MQTT AN V1.0 as WIZnet quotes it, with its space after `(0-5),`."""
    check(bg96, "AT+QMTPUB=?",
          ok("AT+QMTPUB=?", '+QMTPUB: (0-5), <msgid>,(0-2),(0,1),"topic",(1-1548)'))


# ---------------------------------------------------------------- sockets


def test_tcp_socket_to_an_echo_server(bg96):
    """AT+QIOPEN on context 1 to a loopback echo server, QISEND in its length and Ctrl+Z
    forms, the recv URC, QIRD, the peer's bytes, QICLOSE."""
    peer = Peer(echo)
    try:
        check(bg96, "AT+QIACT=1", ok("AT+QIACT=1"))
        line = 'AT+QIOPEN=1,0,"TCP","%s",%d,0,0' % (PEER_HOST, peer.port)
        check(bg96, line, ok(line))
        urc(bg96, "+QIOPEN: 0,0", timeout=10)
        bg96.write(b"AT+QISEND=0,5\r")
        bg96.expect(b"AT+QISEND=0,5\r\r\n> ")
        bg96.write(b"hello")
        bg96.expect(b"hello\r\nSEND OK\r\n")
        urc(bg96, '+QIURC: "recv",0')
        wait_for(lambda: peer.received.get(0) == b"hello", 5, what="hello at the peer")
        check(bg96, "AT+QIRD=0,1500", ok("AT+QIRD=0,1500", "+QIRD: 5", "hello"))
        check(bg96, "AT+QIRD=0,1500", ok("AT+QIRD=0,1500", "+QIRD: 0"))
        bg96.write(b"AT+QISEND=0\r")
        bg96.expect(b"AT+QISEND=0\r\r\n> ")
        bg96.write(b"Cat-M1\x1a")
        bg96.expect(b"Cat-M1\r\nSEND OK\r\n")
        urc(bg96, '+QIURC: "recv",0')
        check(bg96, "AT+QIRD=0,1500", ok("AT+QIRD=0,1500", "+QIRD: 6", "Cat-M1"))
        assert peer.received[0] == b"helloCat-M1"
        check(bg96, "AT+QICLOSE=0", ok("AT+QICLOSE=0"))
        check(bg96, "AT+QISTATE?", ok("AT+QISTATE?"))
        wait_for(lambda: 0 in peer.finished, 5, what="the peer to see the close")
        quiet(bg96)
    finally:
        peer.close()


def test_ssl_socket_to_a_tls_echo_server(bg96, pki):
    """AT+QSSLOPEN over an SSL context that verifies the peer with a CA in UFS (bare name),
    QSSLSEND, +QSSLURC recv, QSSLRECV, QSSLCLOSE."""
    peer = Peer(echo, tls=(pki, "server.pem"))
    try:
        upload(bg96, "ca.pem", read_ca(pki["ca.pem"]))
        ssl_configure(bg96, 1, ("cacert", '"ca.pem"'), ("seclevel", "1"))
        check(bg96, "AT+QIACT=1", ok("AT+QIACT=1"))
        line = 'AT+QSSLOPEN=1,1,3,"%s",%d,0' % (PEER_HOST, peer.port)
        check(bg96, line, ok(line))
        urc(bg96, "+QSSLOPEN: 3,0", timeout=10)
        bg96.write(b"AT+QSSLSEND=3,9\r")
        bg96.expect(b"AT+QSSLSEND=3,9\r\r\n> ")
        bg96.write(b"over TLS!")
        bg96.expect(b"over TLS!\r\nSEND OK\r\n")
        urc(bg96, '+QSSLURC: "recv",3')
        wait_for(lambda: peer.received.get(0) == b"over TLS!", 5, what="the bytes at the peer")
        check(bg96, "AT+QSSLRECV=3,1500", ok("AT+QSSLRECV=3,1500", "+QSSLRECV: 9", "over TLS!"))
        check(bg96, "AT+QSSLCLOSE=3", ok("AT+QSSLCLOSE=3"))
        check(bg96, "AT+QSSLSTATE", ok("AT+QSSLSTATE"))
        assert peer.errors == []
        quiet(bg96)
    finally:
        peer.close()


def test_ssl_socket_refuses_an_untrusted_peer(bg96, pki):
    """The same open against a peer whose certificate another CA signed: 566 (every
    certificate failure, reference §8 item 13)."""
    peer = Peer(echo, tls=(pki, "server-otherca.pem"))
    try:
        upload(bg96, "ca.pem", read_ca(pki["ca.pem"]))
        ssl_configure(bg96, 1, ("cacert", '"UFS:ca.pem"'), ("seclevel", "1"))
        check(bg96, "AT+QIACT=1", ok("AT+QIACT=1"))
        line = 'AT+QSSLOPEN=1,1,3,"%s",%d,0' % (PEER_HOST, peer.port)
        check(bg96, line, ok(line))
        urc(bg96, "+QSSLOPEN: 3,566", timeout=10)
    finally:
        peer.close()
