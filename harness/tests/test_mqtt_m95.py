"""The M95's MQTT, byte for byte: the M95 MQTT Application Note's examples run unchanged
(seed 001, §5.1 without SSL and §5.2 with SSL, against modemsim's embedded broker) and what only
the M95 does (the in-flight window of five, +CME ERROR: 8512; the payload of +QMTRECV without
quotes; no QMTPUBEX, QMTRECV, fixed-length or inline publish). Shared behaviour of both models
is in test_mqtt.py."""
import os

from broker import MqttClient
import fakebroker as fbk
from modemsim_harness.at import check, err, ok, pdp_up, prompt, quiet, upload, urc
from test_mqtt import fake, pub_prompt, rig, up, urcs_any_order  # noqa: F401 (fixtures)


def m95_with_embedded_broker(modemsim):
    sim = modemsim(model="m95")
    t = sim.open()
    t.model = "m95"
    return sim, t


def note_line(t, line, *info):
    check(t, line, ok(line, *info))


def test_note_5_1_without_ssl(modemsim):
    """§5.1 as printed, spaces after commas included; the note's address is routed to the
    embedded broker's plain listener (port 1883). The note prints the test forms with
    placeholders; the module's own lists are asserted instead."""
    sim, t = m95_with_embedded_broker(modemsim)
    other = MqttClient("127.0.0.1", sim.broker["plain"], "other-device")
    try:
        assert other.connect() == 0
        assert other.subscribe("topic/pub", qos=0) == [0]
        pdp_up(t)
        note_line(t, "AT+QMTOPEN=?", '+QMTOPEN: (0-5),"<host_name>",(1-65535)')
        check(t, 'AT+QMTOPEN=0, "220.180.239.212",1883',
              ok('AT+QMTOPEN=0, "220.180.239.212",1883'))
        urc(t, "+QMTOPEN: 0,0")
        note_line(t, "AT+QMTOPEN?", '+QMTOPEN: 0,"220.180.239.212",1883')
        note_line(t, "AT+QMTCONN=?",
                  '+QMTCONN: (0-5),"<clientID>"[,"<username>"[,"<password>"]]')
        note_line(t, 'AT+QMTCONN=0,"clientExample","username","password"')
        urc(t, "+QMTCONN: 0,0,0")
        note_line(t, "AT+QMTSUB=?", '+QMTSUB: (0-5),(1-65535),"<topic>",(0-2)')
        note_line(t, 'AT+QMTSUB=0,1,"topic/example",2')
        urc(t, "+QMTSUB: 0,1,0,2")
        note_line(t, 'AT+QMTSUB=0,1,"topic/pub",0')
        urc(t, "+QMTSUB: 0,1,0,0")
        other.publish("topic/example", b"This is the payload related to topic", qos=0)
        urc(t, '+QMTRECV: 0,0,"topic/example",This is the payload related to topic')
        note_line(t, 'AT+QMTUNS=0,2, "topic/example"')
        urc(t, "+QMTUNS: 0,2,0")
        note_line(t, "AT+QMTPUB=?", '+QMTPUB: (0-5),(0-65535),(0-2),(0,1),"<topic>"')
        pub_prompt(t, 'AT+QMTPUB=0,0,0,0,"topic/pub"', b"This is test data, hello MQTT.")
        # the note prints +QMTPUB first; the broker may deliver the copy before the URC of
        # a QoS 0 publish is out, so either order is the module's
        urcs_any_order(t, "+QMTPUB: 0,0,0",
                       '+QMTRECV: 0,0,"topic/pub",This is test data, hello MQTT.')
        m = other.wait_for(lambda m: m.topic == "topic/pub")
        assert m.payload == b"This is test data, hello MQTT."
        other.publish("topic/example", b"unsubscribed", qos=0)
        note_line(t, "AT+QMTDISC=0")
        urc(t, "+QMTDISC: 0,0")
        urc(t, "+QMTSTAT: 0,5")
        quiet(t)
    finally:
        other.close()


def test_note_5_2_with_ssl(modemsim):
    """§5.2 unchanged against the embedded broker's TLS listener (8883), with the embedded
    PKI's CA, client certificate and key: the QSECWRITE uploads, QSSLCFG with "0xFFFF"
    quoted, the note's misspelt "secllevel" (ERROR, as on a module: no such key), the mixed-
    case AT+Qsslcfg="ignorertctime",1, QMTOPEN with the port quoted and spaces after commas.
    With "secllevel" refused the context keeps seclevel 0, as the note's module did."""
    sim, t = m95_with_embedded_broker(modemsim)
    certs = os.path.dirname(sim.broker["ca"])
    topic = "$aws/things/M95_0206/shadow/update/accepted"
    watcher = MqttClient("127.0.0.1", sim.broker["plain"], "watcher")
    try:
        assert watcher.connect() == 0
        watcher.subscribe(topic, qos=1)
        pdp_up(t)
        note_line(t, 'AT+QMTCFG="SSL", 0, 1, 2')
        for name, path in (("RAM:cacert.pem", "ca.pem"), ("RAM:client.pem", "client-rsa.pem"),
                           ("RAM:user_key.pem", "client-rsa.key")):
            with open(os.path.join(certs, path), "rb") as f:
                upload(t, name, f.read(), timeout=100)
        note_line(t, 'AT+QSSLCFG="cacert",2,"RAM:cacert.pem"')
        note_line(t, 'AT+QSSLCFG="clientcert",2,"RAM:client.pem"')
        note_line(t, 'AT+QSSLCFG="clientkey",2,"RAM:user_key.pem"')
        check(t, 'AT+QSSLCFG="secllevel",2,2', err('AT+QSSLCFG="secllevel",2,2'))
        note_line(t, 'AT+QSSLCFG="sslversion",2,4')
        note_line(t, 'AT+QSSLCFG="ciphersuite",2,"0xFFFF"')
        note_line(t, 'AT+Qsslcfg="ignorertctime",1')
        note_line(t, 'AT+QMTOPEN=0, "a1zgnxur10j8ux.iot.us-east-1.amazonaws.com", "8883"')
        urc(t, "+QMTOPEN: 0,0", timeout=10)
        note_line(t, 'AT+QMTCONN=0,"M95_0206"')
        urc(t, "+QMTCONN: 0,0,0")
        note_line(t, 'AT+QMTSUB=0,1,"%s",1' % topic)
        urc(t, "+QMTSUB: 0,1,0,1")
        pub_prompt(t, 'AT+QMTPUB=0,1,1,0,"%s"' % topic, b"This is publish data from client")
        # mosquitto delivers the copy before it acknowledges: +QMTRECV, then +QMTPUB (the
        # note prints the other order; both are the broker's choice)
        urcs_any_order(t, "+QMTPUB: 0,1,0",
                       '+QMTRECV: 0,1,"%s",This is publish data from client' % topic)
        m = watcher.wait_for(lambda m: m.topic == topic)
        assert m.payload == b"This is publish data from client"
        note_line(t, "AT+QMTDISC=0")
        urc(t, "+QMTDISC: 0,0")
        urc(t, "+QMTSTAT: 0,5")
    finally:
        watcher.close()


def test_inflight_window_is_five(fake):
    """M95 MQTT AN 3.2.8 note 1: more than five packets in flight -> +CME ERROR: 8512 (plain
    ERROR while CMEE is 0, the M95's default). QoS 0 is not in flight; one PUBACK frees a
    place."""
    t, fb = fake("m95", puback=False)
    up(t, cfg=['AT+QMTCFG="TIMEOUT",0,60,0,0'])
    for i in range(1, 6):
        pub_prompt(t, 'AT+QMTPUB=0,%d,%d,0,"w"' % (i, 1 if i < 5 else 2), b"m%d" % i)
    check(t, 'AT+QMTPUB=0,6,1,0,"w"', err('AT+QMTPUB=0,6,1,0,"w"'))
    check(t, "AT+CMEE?", ok("AT+CMEE?", "+CMEE: 0"))
    check(t, "AT+CMEE=1", ok("AT+CMEE=1"))
    check(t, 'AT+QMTPUB=0,6,1,0,"w"', err('AT+QMTPUB=0,6,1,0,"w"', "+CME ERROR: 8512"))
    check(t, 'AT+QMTPUB=0,6,2,0,"w"', err('AT+QMTPUB=0,6,2,0,"w"', "+CME ERROR: 8512"))
    pub_prompt(t, 'AT+QMTPUB=0,0,0,0,"w"', b"qos0")
    urc(t, "+QMTPUB: 0,0,0")
    fb.send(fbk.puback(1))
    urc(t, "+QMTPUB: 0,1,0")
    pub_prompt(t, 'AT+QMTPUB=0,6,1,0,"w"', b"m6")
    check(t, 'AT+QMTPUB=0,7,1,0,"w"', err('AT+QMTPUB=0,7,1,0,"w"', "+CME ERROR: 8512"))
    pubs = fb.wait_count(fbk.PUBLISH, 7)
    assert [(p.packet_id, p.payload) for p in pubs] == [
        (1, b"m1"), (2, b"m2"), (3, b"m3"), (4, b"m4"), (5, b"m5"), (None, b"qos0"),
        (6, b"m6")]
    quiet(t)


def test_no_ec25_only_publish_and_receive_forms(rig):
    """The M95 note has only the prompt form of QMTPUB and no QMTPUBEX or QMTRECV command."""
    t = rig("m95")
    up(t)
    for line in ('AT+QMTPUB=0,1,1,0,"t",5', 'AT+QMTPUB=0,1,1,0,"t","inline"',
                 'AT+QMTPUBEX=0,1,1,0,"t",5', "AT+QMTPUBEX=?", "AT+QMTRECV?", "AT+QMTRECV=0",
                 "AT+QMTRECV=?"):
        check(t, line, err(line))
    quiet(t)


def test_echo_and_prompt_bytes(rig, subscriber):
    """The prompt is CR LF '>' SPACE; with ATE1 the M95 echoes the payload (reference §1)."""
    sub = subscriber("e95", qos=1)
    t = rig("m95")
    up(t)
    prompt(t, 'AT+QMTPUB=0,1,1,0,"e95"')
    t.write(b"hello, world\x1a")
    t.expect(b"hello, world\r\nOK\r\n")
    urc(t, "+QMTPUB: 0,1,0")
    assert sub.wait_for(lambda m: m.topic == "e95").payload == b"hello, world"
