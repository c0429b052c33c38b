"""SIMCom AT+CMQTT* (SIM7600, A7670, SIM7670G) end to end, byte for byte (reference simcom.md
§1-§5, §8-§10; seeds 002 and 003), against the embedded broker (real MQTT, real TLS) and the
fake broker for what a real one will not do. Every test runs with ATE0, as the seeds' drivers
do, so each answer is compared whole.
"""
import os
import re
import time

import pytest

from control import Control
from fakebroker import FakeBroker, PUBLISH, CONNECT, publish as fb_publish
from modemsim_harness.at import certdown, check, cmqtt_connect, cmqtt_start, pause, quiet, urc

SEED3_HOST = "a1b2c3d4e5f6g7-ats.iot.us-west-2.amazonaws.com"  # seed 003's endpoint form
SEED3_TOPIC = b"aws/things/SOMETOPIC/"
SEED3_PAYLOAD = b'{"message":"Hello from SIMCom Module"}'
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def info(*lines):
    return b"\r\n" + b"".join(line + b"\r\n" for line in lines)


def failed(line):
    """`+CMQTTxxx: i,err` then ERROR (reference §1.2)."""
    return info(line) + ERROR


def e0(t):
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    return t


def length_cmd(t, line, data, want=OK):
    """A length command: `\\r\\n>`, exactly the data, then its answer."""
    t.write(line + b"\r")
    t.expect(b"\r\n>")
    t.write(data)
    t.expect(want)


def rx_block(idx, topic, payload):
    out = b"\r\n+CMQTTRXSTART: %d,%d,%d\r\n" % (idx, len(topic), len(payload))
    out += b"\r\n+CMQTTRXTOPIC: %d,%d\r\n%s\r\n" % (idx, len(topic), topic)
    for i in range(0, len(payload), 1500):
        chunk = payload[i:i + 1500]
        out += b"\r\n+CMQTTRXPAYLOAD: %d,%d\r\n%s\r\n" % (idx, len(chunk), chunk)
    return out + b"\r\n+CMQTTRXEND: %d\r\n" % idx


@pytest.fixture
def sim(modemsim):
    """Factory: a modem on the embedded broker (every name resolves to it; 1883 plain, 8883
    TLS), ATE0 sent; t.sim and t.model set."""
    def make(model="sim7600", *extra):
        s = modemsim(*extra, model=model)
        t = e0(s.open())
        t.sim, t.model = s, model
        return t
    return make


@pytest.fixture
def fake(modemsim):
    started = []

    def make(model="sim7670g", *extra, **behaviour):
        fb = FakeBroker(**behaviour).start()
        started.append(fb)
        s = modemsim("--broker", "none", "--resolve", "*=127.0.0.1",
                     "--route", "1883=127.0.0.1:%d" % fb.port, *extra, model=model)
        t = e0(s.open())
        t.sim, t.model = s, model
        return t, fb
    yield make
    for fb in started:
        fb.stop()


# ---------------------------------------------------------------- test forms, per model

TESTS_COMMON = {
    "AT+CMQTTREL=?": b"+CMQTTREL: (0-1)",
    "AT+CMQTTSSLCFG=?": b"+CMQTTSSLCFG: (0-1),(0-9)",
    "AT+CMQTTWILLTOPIC=?": b"+CMQTTWILLTOPIC: (0-1),(1-1024)",
    "AT+CMQTTWILLMSG=?": b"+CMQTTWILLMSG: (0-1),(1-1024),(0-2)",
    "AT+CMQTTTOPIC=?": b"+CMQTTTOPIC: (0-1),(1-1024)",
    "AT+CMQTTPAYLOAD=?": b"+CMQTTPAYLOAD: (0-1),(1-10240)",
    "AT+CMQTTSUBTOPIC=?": b"+CMQTTSUBTOPIC: (0-1),(1-1024),(0-2)",
    "AT+CMQTTSUB=?": b"+CMQTTSUB: (0-1),(1-1024),(0-2),(0-1)",
    "AT+CMQTTUNSUBTOPIC=?": b"+CMQTTUNSUBTOPIC: (0-1),(1-1024)",
    "AT+CMQTTUNSUB=?": b"+CMQTTUNSUB: (0-1),(1-1024),(0-1)",
}
TESTS = {
    "sim7600": {
        "AT+CMQTTACCQ=?": b"+CMQTTACCQ: (0-1),(1-128),(0-1),(3-4)",
        "AT+CMQTTCONNECT=?": b"+CMQTTCONNECT: (0-1),(9-256),(1-64800),(0-1)",
        "AT+CMQTTDISC=?": b"+CMQTTDISC: (0-1),(0,60-180)",
        "AT+CMQTTPUB=?": b"+CMQTTPUB: (0-1),(0-2),(60-180),(0-1),(0-1)",
    },
    "a7670": {
        "AT+CMQTTACCQ=?": b"+CMQTTACCQ: (0-1),(1-128),(0-1)",
        "AT+CMQTTCONNECT=?": b"+CMQTTCONNECT: (0-1),(9-256),(1-64800),(0-1),(1-256),(1-256)",
        "AT+CMQTTDISC=?": b"+CMQTTDISC: (0-1),(0,1-180)",
        "AT+CMQTTPUB=?": b"+CMQTTPUB: (0-1),(0-2),(1-180),(0-1),(0-1)",
    },
}
CFG_TEST = {
    "sim7600": [b'+CMQTTCFG: "checkUTF8",(0-1),(0-1)', b'+CMQTTCFG: "optimeout",(0-1),(20-120)',
                b'+CMQTTCFG: "aliauth",(0-1),"productkey","devicename","devicesecret"'],
}
CFG_TEST["a7670"] = CFG_TEST["sim7600"] + [b'+CMQTTCFG: "version",(0-1),(3-4)',
                                           b'+CMQTTCFG: "argtopic",(0-1),(0-1)']


@pytest.mark.parametrize("model", ["sim7600", "a7670"])
def test_test_forms(sim, model):
    t = sim(model)
    for line, want in list(TESTS_COMMON.items()) + list(TESTS[model].items()):
        check(t, line, info(want) + OK)
    check(t, "AT+CMQTTCFG=?", info(*CFG_TEST[model]) + OK)
    check(t, "AT+CMQTTSTART=?", OK)
    check(t, "AT+CMQTTDELWILL=0", ERROR)  # in no manual (reference §3.6)


# ---------------------------------------------------------------- the service and clients


def test_sim7600_start_stop_and_state_errors(sim):
    t = sim("sim7600")
    # nothing but SSLCFG before START (A76XX manual 18.2.1 note; seed 002 for SSLCFG)
    check(t, 'AT+CMQTTACCQ=0,"c"', ERROR)
    check(t, "AT+CMQTTACCQ?", ERROR)
    check(t, "AT+CMQTTSTOP", ERROR)
    check(t, "AT+CMQTTREL=0", ERROR)
    check(t, "AT+CMQTTSSLCFG=0,1", OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:1883",60,1',
          failed(b"+CMQTTCONNECT: 0,12"))
    cmqtt_start(t)
    check(t, "AT+CMQTTSTART", failed(b"+CMQTTSTART: 23"))
    check(t, "AT+CMQTTSSLCFG?", info(b"+CMQTTSSLCFG: 0,1", b"+CMQTTSSLCFG: 1,") + OK)
    check(t, "AT+CMQTTREL=0", failed(b"+CMQTTREL: 0,20"))
    check(t, 'AT+CMQTTACCQ=0,"client test0",0,4', OK)
    check(t, 'AT+CMQTTACCQ=0,"again"', failed(b"+CMQTTACCQ: 0,19"))
    check(t, "AT+CMQTTACCQ?", info(b'+CMQTTACCQ: 0,"client test0",0,4',
                                   b'+CMQTTACCQ: 1,"",0,4') + OK)
    check(t, "AT+CMQTTSTOP", failed(b"+CMQTTSTOP: 21"))
    check(t, "AT+CMQTTTOPIC=0,5", failed(b"+CMQTTTOPIC: 0,11"))  # seed 003, second log
    check(t, "AT+CMQTTTOPIC=1,5", failed(b"+CMQTTTOPIC: 1,20"))
    check(t, "AT+CMQTTPUB=0,0,60", failed(b"+CMQTTPUB: 0,11"))
    check(t, "AT+CMQTTDISC=0,120", failed(b"+CMQTTDISC: 0,11"))
    check(t, "AT+CMQTTDISC?", info(b"+CMQTTDISC: 0,1", b"+CMQTTDISC: 1,1") + OK)
    check(t, "AT+CMQTTCONNECT?", info(b"+CMQTTCONNECT: 0", b"+CMQTTCONNECT: 1") + OK)
    check(t, "AT+CMQTTCFG?", info(b"+CMQTTCFG: 0,1,120", b"+CMQTTCFG: 1,1,120") + OK)
    check(t, 'AT+CMQTTCFG="version",0,4', ERROR)  # not a SIM7600 key
    check(t, 'AT+CMQTTCFG="optimeout",0,60', OK)
    check(t, 'AT+CMQTTCFG="optimeout",1,60', failed(b"+CMQTTCFG: 1,20"))
    check(t, 'AT+CMQTTCFG="optimeout",0,19', ERROR)
    check(t, "AT+CMQTTREL=0", OK)
    check(t, "AT+CMQTTREL=0,120", ERROR)  # the Korean LilyGO patch's extra parameter
    check(t, "AT+CMQTTSTOP", OK)
    urc(t, b"+CMQTTSTOP: 0")
    check(t, "AT+CMQTTSTOP", ERROR)
    quiet(t)


@pytest.mark.parametrize("model", ["a7670", "sim7670g"])
def test_a76xx_start_order_and_second_start(sim, model):
    t = sim(model)
    check(t, "AT+CMQTTSTART", OK)
    urc(t, b"+CMQTTSTART: 0")
    check(t, "AT+CMQTTSTART", ERROR)  # A76XX manual 18.2.1: bare ERROR
    check(t, 'AT+CMQTTACCQ=0,"a12mmmm"', OK)
    check(t, "AT+CMQTTACCQ?", info(b'+CMQTTACCQ: 0,"a12mmmm",0', b'+CMQTTACCQ: 1,"",0') + OK)
    check(t, 'AT+CMQTTACCQ=0,"x",0,4', ERROR)  # no version parameter on A76XX
    check(t, 'AT+CMQTTCFG="version",0,4', OK)
    check(t, 'AT+CMQTTCFG="argtopic",0,1', ERROR)
    check(t, "AT+CMQTTSUB?", OK)
    quiet(t)


def test_out_of_range_and_malformed_parameters(sim):
    t = sim("sim7600")
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=2,"c"', ERROR)
    check(t, 'AT+CMQTTACCQ=0,""', ERROR)
    check(t, 'AT+CMQTTACCQ=0,"%s"' % ("x" * 129), ERROR)
    check(t, 'AT+CMQTTACCQ=0,"c",2', ERROR)
    check(t, 'AT+CMQTTACCQ=0,"c",0,5', ERROR)
    check(t, 'AT+CMQTTACCQ=0,"c"', OK)
    for line in ["AT+CMQTTTOPIC=0,0", "AT+CMQTTTOPIC=0,1025", "AT+CMQTTPAYLOAD=0,10241",
                 "AT+CMQTTSUBTOPIC=0,5,3", "AT+CMQTTWILLMSG=0,5,3", "AT+CMQTTWILLTOPIC=0,1025",
                 "AT+CMQTTPUB=0,0,59", "AT+CMQTTPUB=0,3,60", "AT+CMQTTDISC=0,59",
                 "AT+CMQTTSSLCFG=0,10", 'AT+CMQTTCONNECT=0,"tcp://a",60,1',
                 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test",0,1',
                 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test",60,2',
                 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test",60,1,"user",""']:
        check(t, line, ERROR)
    # the SIM7600 takes tcp:// only (S76-ATC 16.2.7)
    check(t, 'AT+CMQTTCONNECT=0,"ssl://broker.modemsim.test:8883",60,1',
          failed(b"+CMQTTCONNECT: 0,12"))
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:99999",60,1',
          failed(b"+CMQTTCONNECT: 0,12"))
    quiet(t)


# ---------------------------------------------------------------- real MQTT, plain TCP


def test_publish_qos_0_1_2_reaches_the_broker(sim, sim_subscriber):
    t = sim("sim7600")
    w = sim_subscriber(t.sim, ["simcom/#"], qos=2)
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"simcom01"', OK)
    check(t, 'AT+CMQTTCFG="checkUTF8",0,0', OK)  # binary payloads (reference §3.12)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:1883",60,1', OK)
    urc(t, b"+CMQTTCONNECT: 0,0")
    check(t, "AT+CMQTTCFG?", info(b"+CMQTTCFG: 0,0,120", b"+CMQTTCFG: 1,1,120") + OK)
    check(t, "AT+CMQTTDISC?", info(b"+CMQTTDISC: 0,0", b"+CMQTTDISC: 1,1") + OK)
    check(t, "AT+CMQTTCONNECT?", info(b'+CMQTTCONNECT: 0,"tcp://broker.modemsim.test:1883",60,1',
                                      b"+CMQTTCONNECT: 1") + OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:1883",60,1',
          failed(b"+CMQTTCONNECT: 0,13"))
    check(t, "AT+CMQTTPUB=0,0,60", failed(b"+CMQTTPUB: 0,18"))  # no topic
    for qos in (0, 1, 2):
        topic = b"simcom/q%d" % qos
        payload = b"payload \x00\xff at QoS %d" % qos
        check(t, 'AT+CMQTTCFG="checkUTF8",0,0', failed(b"+CMQTTCFG: 0,13"))
        length_cmd(t, b"AT+CMQTTTOPIC=0,%d" % len(topic), topic)
        length_cmd(t, b"AT+CMQTTPAYLOAD=0,%d" % len(payload), payload)
        check(t, "AT+CMQTTPUB=0,%d,60" % qos, OK)
        urc(t, b"+CMQTTPUB: 0,0")
        m = w.wait_for(lambda m: m.topic == topic.decode())
        assert (m.payload, m.qos) == (payload, qos)
    # the buffers were cleared by PUB
    check(t, "AT+CMQTTPUB=0,1,60", failed(b"+CMQTTPUB: 0,18"))
    check(t, "AT+CMQTTDISC=0,120", OK)
    urc(t, b"+CMQTTDISC: 0,0")
    check(t, "AT+CMQTTDISC?", info(b"+CMQTTDISC: 0,1", b"+CMQTTDISC: 1,1") + OK)
    check(t, "AT+CMQTTREL=0", OK)
    check(t, "AT+CMQTTSTOP", OK)
    urc(t, b"+CMQTTSTOP: 0")
    quiet(t)


@pytest.mark.parametrize("model", ["sim7600", "a7670"])
def test_broker_message_arrives_as_the_rx_block(sim, sim_subscriber, model):
    t = sim(model)
    w = sim_subscriber(t.sim, qos=2)
    cmqtt_start(t)
    cmqtt_connect(t, idx=1, cid="rx-client")
    length_cmd(t, b"AT+CMQTTSUBTOPIC=1,9,1", b"simcom/rx")
    length_cmd(t, b"AT+CMQTTSUBTOPIC=1,10,0", b"simcom/big")
    check(t, "AT+CMQTTSUB=1", OK)
    urc(t, b"+CMQTTSUB: 1,0")
    check(t, "AT+CMQTTSUB=1", failed(b"+CMQTTSUB: 1,18"))  # the cache was cleared
    w.publish("simcom/rx", b"hello, modem\r\n", qos=1)
    t.expect(rx_block(1, b"simcom/rx", b"hello, modem\r\n"))
    # a 3100-byte payload comes in chunks of 1500 (S76-ATC 16.3.2)
    big = bytes(range(256)) * 12 + b"0123456789abcdefghijklmnopqrstuvwxyz"
    w.publish("simcom/big", big, qos=0)
    t.expect(rx_block(1, b"simcom/big", big))
    # an empty payload has no RXPAYLOAD (S76-AN 5.1.2)
    w.publish("simcom/rx", b"", qos=1)
    t.expect(rx_block(1, b"simcom/rx", b""))
    # the one-shot form, then unsubscribe both ways
    length_cmd(t, b"AT+CMQTTSUB=1,11,2", b"simcom/one/")
    urc(t, b"+CMQTTSUB: 1,0")
    w.publish("simcom/one/", b"x", qos=2)
    t.expect(rx_block(1, b"simcom/one/", b"x"))
    length_cmd(t, b"AT+CMQTTUNSUBTOPIC=1,9", b"simcom/rx")
    check(t, "AT+CMQTTUNSUB=1,0", OK)
    urc(t, b"+CMQTTUNSUB: 1,0")
    length_cmd(t, b"AT+CMQTTUNSUB=1,11,0", b"simcom/one/")
    urc(t, b"+CMQTTUNSUB: 1,0")
    w.publish("simcom/rx", b"not for the modem", qos=1)
    w.publish("simcom/one/", b"nor this", qos=1)
    quiet(t, 0.3)


def test_will_message_reaches_the_broker_when_the_modem_resets(sim, sim_subscriber):
    t = sim("sim7600")
    w = sim_subscriber(t.sim, ["esp32/will"], qos=2)
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",0', OK)
    length_cmd(t, b"AT+CMQTTWILLTOPIC=0,10", b"esp32/will")  # seed 003, first log
    length_cmd(t, b"AT+CMQTTWILLMSG=0,4,1", b"test")
    check(t, 'AT+CMQTTCONNECT=0,"tcp://test.mosquitto.org:1883",60,1', OK)
    urc(t, b"+CMQTTCONNECT: 0,0")
    check(t, "AT+CMQTTWILLTOPIC=0,3", failed(b"+CMQTTWILLTOPIC: 0,13"))
    # the reset drops the connection without DISCONNECT: the broker publishes the will
    check(t, "AT+CFUN=1,1", OK)
    m = w.wait_for(lambda m: m.topic == "esp32/will", timeout=10)
    assert (m.payload, m.qos) == (b"test", 1)
    t.read_until(b"PB DONE\r\n", timeout=20)
    check(t, "ATE0", b"ATE0\r\r\nOK\r\n")
    check(t, 'AT+CMQTTACCQ=0,"c"', ERROR)  # the service is stopped by the reset


def test_connlost_and_pub_result_6_when_the_broker_closes(fake):
    """[LOG-AWS]: a policy close after PUB gives `+CMQTTPUB: 0,6` then
    `+CMQTTCONNLOST: 0,1`; CONNLOST is not a DISC: DISC then answers 11."""
    t, fb = fake("sim7600", close_after=1)
    cmqtt_start(t)
    cmqtt_connect(t)
    length_cmd(t, b"AT+CMQTTTOPIC=0,5", b"a/b/c")
    check(t, "AT+CMQTTPUB=0,1,60", OK)
    urc(t, b"+CMQTTPUB: 0,6")
    urc(t, b"+CMQTTCONNLOST: 0,1")
    check(t, "AT+CMQTTDISC=0,60", failed(b"+CMQTTDISC: 0,11"))
    check(t, "AT+CMQTTREL=0", OK)
    quiet(t)


def test_busy_14_while_connect_is_outstanding_as_seed_003(fake):
    """Seed 003: `+CMQTTSUBTOPIC: 0,14` right after CONNECT's OK, while the client's CONNECT is
    still outstanding (here: a broker that never answers CONNECT)."""
    t, fb = fake("sim7600", connack=None)
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",0', OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://test.mosquitto.org:1883",60,1', OK)
    fb.wait_packet(lambda p: p.type == CONNECT)
    check(t, "AT+CMQTTSUBTOPIC=0,10,1", failed(b"+CMQTTSUBTOPIC: 0,14"))
    check(t, "AT+CMQTTTOPIC=0,10", failed(b"+CMQTTTOPIC: 0,14"))
    check(t, "AT+CMQTTDISC=0,120", failed(b"+CMQTTDISC: 0,14"))
    check(t, "AT+CMQTTREL=0", failed(b"+CMQTTREL: 0,14"))
    fb.close()
    urc(t, b"+CMQTTCONNECT: 0,26")  # closed by the server during CONNECT
    quiet(t)


def test_pub_timeout_17_when_no_puback(fake):
    t, fb = fake("a7670", puback=False)
    cmqtt_start(t)
    cmqtt_connect(t)
    length_cmd(t, b"AT+CMQTTTOPIC=0,1", b"t")
    check(t, "AT+CMQTTPUB=0,1,1", OK)
    # one operation at a time: busy before "no topic"
    check(t, "AT+CMQTTPUB=0,1,1", failed(b"+CMQTTPUB: 0,14"))
    urc(t, b"+CMQTTPUB: 0,17", timeout=3)


@pytest.mark.parametrize("connack,err", [(1, 27), (2, 28), (4, 30), (5, 31)])
def test_connack_refusals(fake, connack, err):
    t, fb = fake("sim7600", connack=connack)
    cmqtt_start(t)
    cmqtt_connect(t, err=err)
    check(t, "AT+CMQTTDISC?", info(b"+CMQTTDISC: 0,1", b"+CMQTTDISC: 1,1") + OK)
    # this broker keeps the refused connection open: the release ends it (it raced the
    # broker's close before, +CMQTTREL: 0,14 under load)
    check(t, "AT+CMQTTREL=0", OK)
    quiet(t)


def test_sim7670g_default_is_mqtt_31_until_version_4(fake):
    """Seed 002: the SIM7670G speaks MQTT 3.1 ("MQIsdp", level 3) unless the host sends
    AT+CMQTTCFG="version",0,4; the SIM7600 and the A7670 default per their profiles."""
    t, fb = fake("sim7670g")
    cmqtt_start(t)
    cmqtt_connect(t, cid="dev1")
    p = fb.wait_packet(lambda p: p.type == CONNECT)
    assert (p.connect["protocol"], p.connect["level"]) == ("MQIsdp", 3)
    check(t, "AT+CMQTTDISC=0,0", OK)
    urc(t, b"+CMQTTDISC: 0,0")
    check(t, "AT+CMQTTREL=0", OK)
    check(t, 'AT+CMQTTACCQ=0,"dev1"', OK)
    check(t, 'AT+CMQTTCFG="version",0,4', OK)
    n = len(fb.packets)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://iothub.azure-devices.net:1883",60,1,"u","p"', OK)
    urc(t, b"+CMQTTCONNECT: 0,0")
    p = fb.wait_packet(lambda p: p.type == CONNECT, after=n)
    assert (p.connect["protocol"], p.connect["level"]) == ("MQTT", 4)
    assert (p.connect["username"], p.connect["password"]) == ("u", b"p")


def test_sim7670g_broker_refusing_31_gives_27(fake):
    t, fb = fake("sim7670g", connack=1)
    cmqtt_start(t)
    cmqtt_connect(t, err=27)


# ---------------------------------------------------------------- bad input


def test_extra_bytes_after_the_length_are_a_command_line(sim):
    """[ELEMENTZ]: a 13-byte topic for a 9-byte SUBTOPIC: the modem takes 9, the rest is a
    garbage command line that gets ERROR (reference §1.4)."""
    t = sim("sim7600")
    cmqtt_start(t)
    cmqtt_connect(t)
    t.write(b"AT+CMQTTSUBTOPIC=0,9,1\r")
    t.expect(b"\r\n>")
    t.write(b"simcomtestxyz\r")
    t.expect(OK + ERROR)
    check(t, "AT+CMQTTSUB=0", OK)
    urc(t, b"+CMQTTSUB: 0,0")
    # data sent before `>` is buffered, not lost (reference §1.4)
    t.write(b"AT+CMQTTTOPIC=0,4\rabcd")
    t.expect(b"\r\n>" + OK)
    # a topic with invalid UTF-8 while checkUTF8 is on
    length_cmd(t, b"AT+CMQTTTOPIC=0,2", b"\xc3\x28", failed(b"+CMQTTTOPIC: 0,2"))
    quiet(t)


def test_data_abandoned_by_reboot_completes_nothing(sim, tmp_path):
    path = str(tmp_path / "ctl.sock")
    t = sim("a7670", "--control", path)
    ctl = Control(path)
    try:
        cmqtt_start(t)
        cmqtt_connect(t)
        t.write(b"AT+CMQTTPAYLOAD=0,100\r")
        t.expect(b"\r\n>")
        t.write(b"half of it")
        ctl.ok("at 0ms fault modem.reboot")
        out = t.read_until(b"+CGEV: EPS PDN ACT 1\r\n", timeout=20)
        assert b"OK" not in out and b"ERROR" not in out, out
        check(t, "ATE0", b"ATE0\r\r\nOK\r\n")
        cmqtt_start(t)
        check(t, 'AT+CMQTTACCQ=0,"again"', OK)
    finally:
        ctl.close()


def test_network_loss_gives_connlost_3_then_nonet(sim, tmp_path):
    path = str(tmp_path / "ctl.sock")
    t = sim("sim7600", "--control", path)
    ctl = Control(path)
    try:
        check(t, "AT+NETOPEN", OK)
        urc(t, b"+NETOPEN: 0")
        cmqtt_start(t)
        cmqtt_connect(t)
        ctl.ok("at 0ms fault pdp.deact cid 1")
        # reference simcom.md §2 item 6; no Quectel +QIURC: "pdpdeact" before it
        t.expect(b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n"
                 b"\r\n+CMQTTCONNLOST: 0,3\r\n\r\n+CMQTTNONET\r\n", timeout=5)
        check(t, "AT+CMQTTDISC?", ERROR)  # the service is stopped
        quiet(t)
    finally:
        ctl.close()


# ---------------------------------------------------------------- TLS: seed 003 byte for byte


@pytest.mark.parametrize("case", ["as-noted", "no-client-cert"])
def test_seed_003_flow_over_tls_with_the_production_host(sim, sim_subscriber, case):
    """Seed 003's working flow (cmendes0101's notes: CCERTDOWN x3, CSSLCFG x5, NETOPEN,
    CMQTTSTART, ACCQ, SSLCFG, CONNECT, SUBTOPIC/SUB, TOPIC/PAYLOAD/PUB, UNSUB, DISC, REL, STOP,
    NETCLOSE) with its AWS IoT host name, through --route 8883=@mutual: the embedded broker
    requires a client certificate signed by its CA, so the handshake really checks the
    uploaded files. Without the client certificate the broker refuses the handshake:
    +CMQTTCONNECT: 0,32 (the SIM7600's handshake failure)."""
    t = sim("sim7600", "--route", "8883=@mutual")
    certs = os.path.dirname(t.sim.broker["ca"])
    w = sim_subscriber(t.sim, [SEED3_TOPIC.decode()], qos=2)
    files = [(b"clientcert.pem", "client-rsa.pem"), (b"clientkey.pem", "client-rsa.key"),
             (b"cacert.pem", "ca.pem")]
    if case == "no-client-cert":
        files = files[2:]
    for name, path in files:
        with open(os.path.join(certs, path), "rb") as f:
            certdown(t, name, f.read())
    want = [b'+CCERTLIST: "%s"' % n for n in sorted(n for n, _ in files)]
    check(t, "AT+CCERTLIST", info(*want) + OK)
    for line in ['AT+CSSLCFG="sslversion",0,4', 'AT+CSSLCFG="authmode",0,2',
                 'AT+CSSLCFG="cacert",0,"cacert.pem"', 'AT+CSSLCFG="clientcert",0,"clientcert.pem"',
                 'AT+CSSLCFG="clientkey",0,"clientkey.pem"']:
        check(t, line, OK)
    check(t, "AT+NETOPEN", OK)
    urc(t, b"+NETOPEN: 0")
    assert re.fullmatch(rb"\r\n\+IPADDR: [0-9.]+\r\n\r\nOK\r\n", t.cmd("AT+IPADDR"))
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",1', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://%s:8883",60,1' % SEED3_HOST, OK)
    if case == "no-client-cert":
        urc(t, b"+CMQTTCONNECT: 0,32", timeout=10)
        # the SSL binding went with the failed CONNECT (reference §3.5)
        check(t, "AT+CMQTTSSLCFG?", info(b"+CMQTTSSLCFG: 0,", b"+CMQTTSSLCFG: 1,") + OK)
        return
    urc(t, b"+CMQTTCONNECT: 0,0", timeout=10)
    length_cmd(t, b"AT+CMQTTSUBTOPIC=0,21,1", SEED3_TOPIC)
    check(t, "AT+CMQTTSUB=0", OK)
    urc(t, b"+CMQTTSUB: 0,0")
    console = b'{\n   "message": "Hello from AWS IoT console"\n}'
    w.publish(SEED3_TOPIC.decode(), console, qos=1)
    t.expect(rx_block(0, SEED3_TOPIC, console))
    length_cmd(t, b"AT+CMQTTTOPIC=0,21", SEED3_TOPIC)
    length_cmd(t, b"AT+CMQTTPAYLOAD=0,38", SEED3_PAYLOAD)
    check(t, "AT+CMQTTPUB=0,1,60", OK)
    # the module is subscribed to its own topic: its message comes back ([LOG-AWS]); the
    # broker decides whether PUBACK or the PUBLISH comes first
    res, rx = b"\r\n+CMQTTPUB: 0,0\r\n", rx_block(0, SEED3_TOPIC, SEED3_PAYLOAD)
    got = t.read_exact(len(res) + len(rx))
    assert got in (res + rx, rx + res), got
    m = w.wait_for(lambda m: m.payload == SEED3_PAYLOAD)
    assert m.qos == 1
    length_cmd(t, b"AT+CMQTTUNSUB=0,21,1", SEED3_TOPIC)
    urc(t, b"+CMQTTUNSUB: 0,0")
    check(t, "AT+CMQTTDISC=0,120", OK)
    urc(t, b"+CMQTTDISC: 0,0")
    check(t, "AT+CMQTTREL=0", OK)
    check(t, "AT+CMQTTSTOP", OK)
    urc(t, b"+CMQTTSTOP: 0")
    check(t, "AT+NETCLOSE", OK)
    urc(t, b"+NETCLOSE: 0")
    quiet(t)


def test_a7670_ssl_url_and_missing_certificate(sim, sim_subscriber):
    """A76XX takes ssl:// (seed 002's form); authmode 1 without a cacert is err 33."""
    t = sim("a7670")
    certs = os.path.dirname(t.sim.broker["ca"])
    cmqtt_start(t)
    check(t, 'AT+CSSLCFG="authmode",0,1', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    cmqtt_connect(t, url="ssl://broker.modemsim.test:8883", err=33)
    check(t, "AT+CMQTTREL=0", OK)
    with open(os.path.join(certs, "ca.pem"), "rb") as f:
        certdown(t, b"ca_cert.pem", f.read())
    check(t, 'AT+CSSLCFG="cacert",0,"ca_cert.pem"', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    w = sim_subscriber(t.sim, ["tls/#"], qos=2)
    cmqtt_connect(t, url="ssl://broker.modemsim.test:8883")
    length_cmd(t, b"AT+CMQTTTOPIC=0,5", b"tls/a")
    length_cmd(t, b"AT+CMQTTPAYLOAD=0,3", b"abc")
    check(t, "AT+CMQTTPUB=0,2,1", OK)
    urc(t, b"+CMQTTPUB: 0,0")
    assert w.wait_for(lambda m: m.topic == "tls/a").payload == b"abc"


# ---------------------------------------------------------------- flow control


RX_RE = re.compile(rb"\r\n\+CMQTTRXSTART: 0,5,100\r\n\r\n\+CMQTTRXTOPIC: 0,5\r\nflood\r\n"
                   rb"\r\n\+CMQTTRXPAYLOAD: 0,100\r\n(\d{8})\.{92}\r\n\r\n\+CMQTTRXEND: 0\r\n")


def test_host_not_reading_holds_messages_and_drops_none(fake):
    """A broker floods 4000 QoS 1 messages (about 600 KB of RX blocks, more than the modem's
    output queue) while the host reads nothing for 2 s: the modem acknowledges only what its
    bounded host buffering holds, the rest waits unacknowledged in the connection (as the
    Quectel dialect does), and then every message reaches the host once, in order."""
    n = 4000
    t, fb = fake("sim7600")
    cmqtt_start(t)
    cmqtt_connect(t)
    length_cmd(t, b"AT+CMQTTSUB=0,5,1", b"flood")
    urc(t, b"+CMQTTSUB: 0,0")
    fl = fb.flood(n, qos=1, size=100)
    pause(2.0)  # the point: a host that does not read for 2 s
    _, acked_during, _ = fl.snapshot()
    assert acked_during < 2000, acked_during
    data = b""
    deadline = time.monotonic() + 60
    while len(RX_RE.findall(data)) < n and time.monotonic() < deadline:
        data += t.drain(0.3, timeout=5)
    seqs = [int(s) for s in RX_RE.findall(data)]
    assert seqs == list(range(n)), (len(seqs), seqs[:5])
    assert RX_RE.sub(b"", data) == b""
    fl.wait(lambda f: len(f.acked) == n, timeout=10)


# ---------------------------------------------------------------- findings


def findings(sim, kind=None):
    return [e for e in sim.trace()
            if e.get("ev") == "finding" and (kind is None or e["kind"] == kind)]


def test_findings_clean_session_none_and_this_dialects_mistakes(fake):
    """The module judges the host in this dialect too: a session done right has no finding;
    TOPIC before +CMQTTCONNECT: 0,0 is not-connected; a command after +CMQTTCONNLOST
    without a new CONNECT is the ignored loss (qmtstat-ignored)."""
    t, fb = fake("sim7600", connack=None)
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"c1"', OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:1883",60,1', OK)
    fb.wait_packet(lambda p: p.type == CONNECT)
    assert findings(t.sim) == []
    check(t, "AT+CMQTTTOPIC=0,3", failed(b"+CMQTTTOPIC: 0,14"))
    got = findings(t.sim)
    assert [(f["kind"], f["severity"]) for f in got] == [("not-connected", "error")], got
    fb.connack = 0
    fb.close()
    urc(t, b"+CMQTTCONNECT: 0,26")
    check(t, 'AT+CMQTTCONNECT=0,"tcp://broker.modemsim.test:1883",60,1', OK)
    urc(t, b"+CMQTTCONNECT: 0,0")
    length_cmd(t, b"AT+CMQTTTOPIC=0,3", b"a/b")
    assert len(findings(t.sim)) == 1
    fb.close()
    urc(t, b"+CMQTTCONNLOST: 0,1")
    check(t, "AT+CMQTTTOPIC=0,3", failed(b"+CMQTTTOPIC: 0,11"))
    got = findings(t.sim, "qmtstat-ignored")
    assert len(got) == 1 and "+CMQTTCONNLOST: 0,1" in got[0]["msg"], findings(t.sim)


@pytest.mark.parametrize("model", ["sim7600", "a7670"])
def test_no_shutdown_finding_names_the_simcom_commands(sim, model):
    """A client left connected at exit: the finding names what a SIMCom host sends
    (AT+CMQTTDISC, REL, STOP), not Quectel's AT+QMTDISC."""
    t = sim(model)
    cmqtt_start(t)
    cmqtt_connect(t)
    assert t.sim.stop() == 0
    got = [e for e in t.sim.trace() if e.get("ev") == "finding" and e["kind"] == "no-shutdown"]
    assert len(got) == 1, got
    assert "client 0 was still connected at exit: no AT+CMQTTDISC/AT+CMQTTREL/AT+CMQTTSTOP" \
        in got[0]["msg"], got
    assert "QMT" not in got[0]["msg"], got
