"""AT+QMTCFG="aliauth",<id>[,"<product_key>","<device_name>","<device_secret>"] (issue 15): on
the models whose MQTT notes have the key (EC25, BG96) the module signs the CONNECT itself, as
the EC2x MQTT AN and Alibaba Cloud IoT's MQTT-TCP sign-in specify (sim/at/cmd_mqtt.c,
aliauth_credentials): client ID "<clientID>|securemode=3,signmethod=hmacsha1|", user name
"<device_name>&<product_key>", password the lower-case hex HMAC-SHA1 keyed with the device
secret of "clientId<clientID>deviceName<device_name>productKey<product_key>". The fake broker
records the CONNECT it receives. The M95 MQTT AN has no aliauth: ERROR, as every unknown key.
"""
import hashlib
import hmac

import pytest

import modemsim_harness.fakebroker as fbk
from modemsim_harness.at import check, err, ok
from test_mqtt import fake, up  # noqa: F401 (fake is a fixture)

PK, DN, DS = "a1B2c3D4e5F", "sensor-01", "s3cr3tDeviceSecretValue0123456789"


def expected(cid, pk=PK, dn=DN, ds=DS):
    msg = "clientId%sdeviceName%sproductKey%s" % (cid, dn, pk)
    return ("%s|securemode=3,signmethod=hmacsha1|" % cid, "%s&%s" % (dn, pk),
            hmac.new(ds.encode(), msg.encode(), hashlib.sha1).hexdigest())


@pytest.mark.parametrize("model", ["ec25", "bg96"])
def test_aliauth_signs_the_connect(fake, model):
    t, fb = fake(model)
    line = 'AT+QMTCFG="aliauth",0,"%s","%s","%s"' % (PK, DN, DS)
    check(t, line, ok(line))
    line = 'AT+QMTCFG="aliauth",0'
    check(t, line, ok(line, '+QMTCFG: "aliauth","%s","%s","%s"' % (PK, DN, DS)))
    up(t, cid="dev-42")
    c = fb.wait_packet(lambda p: p.type == fbk.CONNECT).connect
    cid, user, password = expected("dev-42")
    assert (c["client_id"], c["username"], c["password"]) == (cid, user, password.encode())
    assert password == password.lower() and len(password) == 40


def test_aliauth_replaces_the_hosts_user_and_password(fake):
    t, fb = fake("ec25")
    line = 'AT+QMTCFG="aliauth",2,"%s","%s","%s"' % (PK, DN, DS)
    check(t, line, ok(line))
    up(t, idx=2, cid="x", user="host-user", password="host-pass")
    c = fb.wait_packet(lambda p: p.type == fbk.CONNECT).connect
    cid, user, password = expected("x")
    assert (c["client_id"], c["username"], c["password"]) == (cid, user, password.encode())


def test_aliauth_is_per_client(fake):
    """Client 1 has aliauth; client 0 connects with what the host gave."""
    t, fb = fake("ec25")
    line = 'AT+QMTCFG="aliauth",1,"%s","%s","%s"' % (PK, DN, DS)
    check(t, line, ok(line))
    up(t, cid="plain", user="u", password="p")
    c = fb.wait_packet(lambda p: p.type == fbk.CONNECT).connect
    assert (c["client_id"], c["username"], c["password"]) == ("plain", "u", b"p")


@pytest.mark.parametrize("line", [
    'AT+QMTCFG="aliauth",0,"pk","dn","ds"', 'AT+QMTCFG="aliauth",0',
])
def test_m95_has_no_aliauth(fake, line):
    t, _ = fake("m95")
    check(t, line, err(line))
