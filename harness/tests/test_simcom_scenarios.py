"""The bundled SIMCom scenarios (scenarios/sim7600-*.scn, sim7670g-*.scn, simcom-*.scn), each
run as its header tells: the host plays what the field report's host did and sees what the
field saw, through real MQTT and real TLS where the cause is real (seeds 002 and 003).
"""
import os
import ssl

import pytest

from fakebroker import FakeBroker, CONNECT, connack
from test_bundled_scenarios import scenario, wait_trace
from modemsim_harness.at import certdown, check, cmqtt_start, quiet, upload_file, urc
from test_simcom_mqtt import OK, ERROR, info, failed, e0, length_cmd

AWS_HOST = "a1b2c3d4e5f6g7-ats.iot.us-west-2.amazonaws.com"  # seed 003's endpoint form
AZURE_HOST = "IOTHUB.azure-devices.net"  # seed 002's
AZURE_USER = AZURE_HOST + "/DEVICE/?api-version=2018-06-30"
AZURE_SAS = ("SharedAccessSignature sr=IOTHUB.azure-devices.net%2Fdevices%2FDEVICE"
             "&sig=rc3c2K%2BHF0l%2Bu16lv0DEi6lXqgSqIqouVgRwkr2tKKU%3D&se=1723810204")


AZURE_CONNECT = 'AT+CMQTTCONNECT=0,"ssl://%s:8883",60,1,"%s","%s"' % (AZURE_HOST, AZURE_USER,
                                                                       AZURE_SAS)


def run(modemsim, name, model, *extra):
    """modemsim running the bundled scenario; its tty, ATE0 sent (as the seeds' drivers)."""
    s = modemsim("--scenario", scenario(name), *extra, model=model)
    t = e0(s.open())
    t.sim, t.model = s, model
    return t


def pki_path(t, name):
    return os.path.join(os.path.dirname(t.sim.broker["ca"]), name)


# ---------------------------------------------------------------- seed 003: 14 and 11


def test_sim7600_busy_14_right_after_connect(modemsim):
    t = run(modemsim, "sim7600-busy-after-connect.scn", "sim7600")
    cmqtt_start(t)
    # the first log: SUBTOPIC right after CONNECT's OK, while the CONNECT is on its way
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",0', OK)
    length_cmd(t, b"AT+CMQTTWILLTOPIC=0,10", b"esp32/will")
    length_cmd(t, b"AT+CMQTTWILLMSG=0,4,1", b"test")
    check(t, 'AT+CMQTTCONNECT=0,"tcp://test.mosquitto.org:1883",60,1', OK)
    check(t, "AT+CMQTTSUBTOPIC=0,10,1", failed(b"+CMQTTSUBTOPIC: 0,14"))
    # the header's recovery: wait for the result, then subscribe
    urc(t, b"+CMQTTCONNECT: 0,0", timeout=15)
    length_cmd(t, b"AT+CMQTTSUBTOPIC=0,10,1", b"esp32/test")
    check(t, "AT+CMQTTSUB=0", OK)
    urc(t, b"+CMQTTSUB: 0,0", timeout=10)
    check(t, "AT+CMQTTDISC=0,120", OK)
    urc(t, b"+CMQTTDISC: 0,0", timeout=10)
    check(t, "AT+CMQTTREL=0", OK)
    quiet(t)


def test_sim7600_topic_11_after_a_connect_that_failed_unread(modemsim):
    """The second log: AWS, no client certificate configured: the CONNECT fails, the host
    reads nothing of it, asks CONNECT? and sends TOPIC."""
    t = run(modemsim, "sim7600-topic-no-connection.scn", "sim7600")
    cmqtt_start(t)
    upload_file(t, b"cacert.pem", pki_path(t, "ca.pem"))
    for line in ('AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"cacert.pem"'):
        check(t, line, OK)
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",1', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    check(t, 'AT+CMQTTCONNECT=0,"tcp://%s:8883",60,1' % AWS_HOST, OK)
    out = t.read_until(b"+CMQTTCONNECT: 0,", timeout=15)
    out += t.read_until(b"\r\n", timeout=5)
    assert out == b"\r\n+CMQTTCONNECT: 0,32\r\n", (out, t.sim.trace_text())
    wait_trace(t.sim, "client certificate required")
    check(t, "AT+CMQTTCONNECT?", info(b"+CMQTTCONNECT: 0", b"+CMQTTCONNECT: 1") + OK)
    check(t, "AT+CMQTTTOPIC=0,10", failed(b"+CMQTTTOPIC: 0,11"))
    quiet(t)


# ---------------------------------------------------------------- seed 002: Azure


class AzureLike(FakeBroker):
    """Azure IoT Hub as seed 002 meets it: TLS whose server picks the hub by SNI (a
    ClientHello without a server name is refused), MQTT 3.1.1 only (CONNACK 1, unacceptable
    protocol version, to anything else, and the connection closed, 3.1.1 3.2.2.3)."""

    def __init__(self, pki):
        super().__init__(tls=(pki["server.pem"], pki["server.key"]))
        self.server_names = []

        def sni(sock, name, ctx):
            self.server_names.append(name)
            if name is None:
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            return None
        self._tls.sni_callback = sni

    def _react(self, c, p):
        if p.type == CONNECT and p.connect and (p.connect["protocol"], p.connect["level"]) != (
                "MQTT", 4):
            self._out(c.index, connack(1, 0))
            self._out(c.index, None)  # then close
            return
        super()._react(c, p)


@pytest.fixture
def azure(modemsim, pki):
    made = []

    def make():
        fb = AzureLike(pki).start()
        made.append(fb)
        t = run(modemsim, "sim7670g-azure-sni-mqtt311.scn", "sim7670g", "--broker", "none",
                "--resolve", "*=127.0.0.1", "--route", "8883=127.0.0.1:%d" % fb.port)
        return t, fb
    yield make
    for fb in made:
        fb.stop()


def azure_connect(t, err):
    check(t, 'AT+CMQTTACCQ=0,"DEVICE",1', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    check(t, AZURE_CONNECT, OK)
    urc(t, b"+CMQTTCONNECT: 0,%d" % err, timeout=15)


def test_sim7670g_azure_needs_sni_and_mqtt_311(azure, pki):
    t, fb = azure()
    # seed 002's second log: an empty password is a bare ERROR (A76XX manual 18.2.8)
    check(t, 'AT+CMQTTCONNECT=0,"ssl://%s:8883",60,1,"%s",""' % (AZURE_HOST, AZURE_USER),
          ERROR)
    with open(pki["ca.pem"], "rb") as f:
        certdown(t, b"cacert.pem", f.read())
    for line in ('AT+CSSLCFG="sslversion",0,4', 'AT+CSSLCFG="authmode",0,1',
                 'AT+CSSLCFG="cacert",0,"cacert.pem"'):
        check(t, line, OK)
    cmqtt_start(t)
    # the module's defaults: no SNI, the server refuses the handshake
    azure_connect(t, 34)
    assert fb.server_names == [None] and fb.packets == []
    check(t, "AT+CMQTTREL=0", OK)
    # SNI on: the handshake works, the broker refuses MQTT 3.1 (the seed's default)
    check(t, 'AT+CSSLCFG="enableSNI",0,1', OK)
    azure_connect(t, 27)
    assert fb.server_names[-1] == AZURE_HOST
    p = fb.wait_packet(lambda p: p.type == CONNECT)
    assert (p.connect["protocol"], p.connect["level"]) == ("MQIsdp", 3)
    check(t, "AT+CMQTTREL=0", OK)
    # the seed's fix, both lines: connected
    n = len(fb.packets)
    check(t, 'AT+CMQTTACCQ=0,"DEVICE",1', OK)
    check(t, 'AT+CMQTTCFG="version",0,4', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    check(t, AZURE_CONNECT, OK)
    urc(t, b"+CMQTTCONNECT: 0,0", timeout=15)
    p = fb.wait_packet(lambda p: p.type == CONNECT, after=n)
    assert (p.connect["protocol"], p.connect["level"]) == ("MQTT", 4)
    assert (p.connect["client_id"], p.connect["username"], p.connect["password"]) == (
        "DEVICE", AZURE_USER, AZURE_SAS.encode())
    check(t, "AT+CMQTTDISC=0,60", OK)
    urc(t, b"+CMQTTDISC: 0,0", timeout=10)
    quiet(t)


# ---------------------------------------------------------------- seed 002: CCH, then MQTT


def test_sim7670g_cmqttstart_error_after_cchstart_then_12(modemsim):
    t = run(modemsim, "sim7670g-cmqttstart-after-cchstart.scn", "sim7670g")
    check(t, "AT+CCHSTART", OK)
    urc(t, b"+CCHSTART: 0")
    check(t, "AT+CCHSTART", ERROR)
    check(t, "AT+CMQTTSTART", ERROR)
    check(t, 'AT+CMQTTACCQ=0,"DEVICE",1', ERROR)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)
    check(t, 'AT+CMQTTCONNECT=0,"ssl://%s:8883",60,1,"%s","SharedAccessSignature sr=x"'
          % (AZURE_HOST, AZURE_USER), failed(b"+CMQTTCONNECT: 0,12"))
    # the header's recovery: stop CCH, then the MQTT service starts
    check(t, "AT+CCHSTOP", OK)
    urc(t, b"+CCHSTOP: 0")
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"DEVICE",1', OK)
    quiet(t)


# ---------------------------------------------------------------- AWS: policy, CA


def provision_aws(t):
    for name, path in ((b"clientcert.pem", "client-rsa.pem"), (b"clientkey.pem", "client-rsa.key"),
                       (b"cacert.pem", "ca.pem")):
        upload_file(t, name, pki_path(t, path))
    for line in ('AT+CSSLCFG="authmode",0,2', 'AT+CSSLCFG="cacert",0,"cacert.pem"',
                 'AT+CSSLCFG="clientcert",0,"clientcert.pem"',
                 'AT+CSSLCFG="clientkey",0,"clientkey.pem"'):
        check(t, line, OK)
    cmqtt_start(t)
    check(t, 'AT+CMQTTACCQ=0,"SIMCom_client01",1', OK)
    check(t, "AT+CMQTTSSLCFG=0,0", OK)


def aws_url(t):
    return ("tcp://%s:8883" if t.model == "sim7600" else "ssl://%s:8883") % AWS_HOST


@pytest.mark.parametrize("model", ["sim7600", "a7670"])
def test_aws_policy_close_is_26(modemsim, tmp_path, model):
    path = scenario("sim7600-aws-policy-closes.scn")
    if model != "sim7600":
        # the header: the same file without its model line is the A7670's
        with open(path) as f:
            text = f.read()
        path = str(tmp_path / "a7670-aws-policy-closes.scn")
        with open(path, "w") as f:
            f.write(text.replace("\nmodel sim7600\n", "\n").replace(
                'revision "LE11B02SIM7600M21-A"\n', ""))
    s = modemsim("--scenario", path, model=model)
    t = e0(s.open())
    t.sim, t.model = s, model
    provision_aws(t)
    check(t, 'AT+CMQTTCONNECT=0,"%s",60,1' % aws_url(t), OK)
    out = t.read_until(b"+CMQTTCONNECT: 0,26\r\n", timeout=15)
    assert out == b"\r\n+CMQTTCONNECT: 0,26\r\n", out
    wait_trace(t.sim, "link.reset")
    check(t, "AT+CMQTTREL=0", OK)
    quiet(t)


@pytest.mark.parametrize("model,err", [("sim7600", 32), ("a7670", 34)])
def test_aws_untrusted_ca_is_a_handshake_failure(modemsim, model, err):
    t = run(modemsim, "%s-aws-untrusted-ca.scn" % model, model)
    provision_aws(t)
    check(t, 'AT+CMQTTCONNECT=0,"%s",60,1' % aws_url(t), OK)
    out = t.read_until(b"+CMQTTCONNECT: 0,%d\r\n" % err, timeout=15)
    assert out == b"\r\n+CMQTTCONNECT: 0,%d\r\n" % err, out
    assert "unknown CA" in t.sim.trace_text(), t.sim.trace_text()
    quiet(t)


# ---------------------------------------------------------------- old SIM7600 firmware


def test_sim7600_old_firmware_sslversion_error(modemsim):
    t = run(modemsim, "sim7600-old-firmware-sslversion.scn", "sim7600")
    check(t, "AT+CGMR", info(b"+CGMR: LE11B02SIM7500A") + OK)
    check(t, 'AT+CSSLCFG="sslversion",0,4', ERROR)
    for line in ('AT+CSSLCFG="authmode",0,2', 'AT+CSSLCFG="ignorelocaltime",0,1',
                 'AT+CSSLCFG="negotiatetime",0,120'):
        check(t, line, OK)
    quiet(t)
