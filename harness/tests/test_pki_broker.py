"""The test PKI (certs/gen.sh) and the mosquitto fixture (harness/broker.py): every generated
file is what its manifest says, the broken variants fail verification for the intended reason
only, and a real mosquitto refuses and accepts exactly as the firmware tests will rely on.
"""
import base64
import os
import re
import socket
import ssl
import subprocess

import pytest

from broker import (CONNACK_ACCEPTED, CONNACK_BAD_USERNAME_PASSWORD, CONNACK_NOT_AUTHORIZED,
                    GEN_SH, LIMITED_RO, LIMITED_RW, SUBACK_FAILURE, USERS, ConnectError, Pki)
# Until harness/conftest.py imports them for every test.

PASSWORD = Pki.PASSWORD


def openssl(*args, check=True):
    res = subprocess.run(("openssl",) + args, capture_output=True, timeout=30)
    out = (res.stdout + res.stderr).decode(errors="replace")
    if check:
        assert res.returncode == 0, "openssl %s: %s" % (" ".join(args), out)
    return res.returncode, out


def verify(pki, name, *extra, ca="ca.pem"):
    """(exit status, output) of `openssl verify` of pki[name] against pki[ca]."""
    return openssl("verify", "-CAfile", pki[ca], *extra, pki[name], check=False)


def pubkey_of_cert(path):
    return openssl("x509", "-in", path, "-noout", "-pubkey")[1]


def pubkey_of_key(path, password=None):
    args = ["pkey", "-in", path, "-pubout"]
    if password is not None:
        args += ["-passin", "pass:" + password]
    return openssl(*args)[1]


# -- the PKI -----------------------------------------------------------------------------------

def test_manifest_lists_every_file_and_each_parses(pki):
    manifest = pki.manifest()
    on_disk = set(os.listdir(pki.dir)) - {"README", ".complete"}
    assert set(manifest) == on_disk
    for name in sorted(manifest):
        path = pki[name]
        # Test keys are world-readable on purpose (certs/README.md, Permissions).
        assert os.stat(path).st_mode & 0o777 == 0o644, name
        if name == "ca-truncated.pem":
            continue  # its own test
        if name.endswith(".der"):
            openssl("x509", "-inform", "DER", "-in", path, "-noout")
        elif name.endswith(".pem"):
            openssl("x509", "-in", path, "-noout")
        elif name.endswith(".key"):
            password = PASSWORD if "-enc" in name else None
            pub = pubkey_of_key(path, password)
            cert = {"server.key": "server.pem", "ca.key": "ca.pem", "other-ca.key": "other-ca.pem",
                    "client-rsa-enc.key": "client-rsa.pem",
                    "client-rsa-enc-pkcs8.key": "client-rsa.pem"}.get(name, name[:-4] + ".pem")
            assert pub == pubkey_of_cert(pki[cert]), "%s is not the key of %s" % (name, cert)
        else:
            pytest.fail("unexpected file type %s" % name)


def test_good_certificates_verify_for_their_purpose(pki):
    for name, purpose in (("server.pem", "sslserver"), ("server-ec.pem", "sslserver"),
                          ("client-rsa.pem", "sslclient"), ("client-ec.pem", "sslclient"),
                          ("client-nocn.pem", "sslclient")):
        rc, out = verify(pki, name, "-purpose", purpose)
        assert rc == 0 and out.strip().endswith(": OK"), out
    _, text = openssl("x509", "-in", pki["server.pem"], "-noout", "-text")
    assert "Public-Key: (2048 bit)" in text and "Key Encipherment" in text
    _, text = openssl("x509", "-in", pki["server-ec.pem"], "-noout", "-text")
    assert "ASN1 OID: prime256v1" in text
    _, text = openssl("x509", "-in", pki["client-nocn.pem"], "-noout", "-subject")
    assert "CN" not in text


@pytest.mark.parametrize("host", ["localhost", "broker.modemsim.test",
                                  "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
                                  "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com",
                                  "myhub.azure-devices.net"])
def test_server_names_cover_cloud_endpoints(pki, host):
    for name in ("server.pem", "server-ec.pem"):
        rc, out = verify(pki, name, "-verify_hostname", host)
        assert rc == 0, out


def test_server_names_refuse_others(pki):
    rc, out = verify(pki, "server.pem", "-verify_ip", "127.0.0.1")
    assert rc == 0, out
    # A wildcard covers one label (RFC 6125 6.4.3), and other names are not covered at all.
    for host in ("a.b.iot.us-east-1.amazonaws.com", "evil.example"):
        rc, out = verify(pki, "server.pem", "-verify_hostname", host)
        assert rc != 0 and "error 62 at 0 depth lookup: hostname mismatch" in out, out


@pytest.mark.parametrize("name,error,fixed_by", [
    ("server-expired.pem", "error 10 at 0 depth lookup: certificate has expired",
     ("-attime", "1577880000")),  # 2020-01-01 12:00 UTC, inside its window
    ("server-notyet.pem", "error 9 at 0 depth lookup: certificate is not yet valid",
     ("-attime", "2493072000")),  # 2049-01-01 00:00 UTC
    ("server-otherca.pem", "error 20 at 0 depth lookup: unable to get local issuer certificate",
     ("-CAfile", "other-ca.pem")),
    ("client-otherca.pem", "error 20 at 0 depth lookup: unable to get local issuer certificate",
     ("-CAfile", "other-ca.pem")),
])
def test_broken_variant_fails_for_its_reason_only(pki, name, error, fixed_by):
    rc, out = verify(pki, name)
    assert rc != 0 and error in out, out
    # With that one reason removed it verifies, so nothing else is wrong with it.
    if fixed_by[0] == "-CAfile":
        rc, out = verify(pki, name, ca=fixed_by[1])
    else:
        rc, out = verify(pki, name, *fixed_by)
    assert rc == 0, out


def test_wrong_host_certificate_is_valid_but_for_another_name(pki):
    rc, out = verify(pki, "server-wronghost.pem")
    assert rc == 0, out
    rc, out = verify(pki, "server-wronghost.pem", "-verify_hostname", "localhost")
    assert rc != 0 and "error 62 at 0 depth lookup: hostname mismatch" in out, out
    _, san = openssl("x509", "-in", pki["server-wronghost.pem"], "-noout", "-ext",
                     "subjectAltName")
    assert "DNS:wrong-host.invalid" in san and "localhost" not in san


def test_ca_encodings_differ_only_as_named(pki):
    with open(pki["ca.pem"], "rb") as f:
        lf = f.read()
    files = {}
    for name in ("ca-lf.pem", "ca-crlf.pem", "ca-nonl.pem", "ca-truncated.pem", "ca.der",
                 "ca-bundle.pem", "other-ca.pem"):
        with open(pki[name], "rb") as f:
            files[name] = f.read()
    assert lf.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert lf.endswith(b"-----END CERTIFICATE-----\n") and b"\r" not in lf
    assert files["ca-lf.pem"] == lf
    crlf = files["ca-crlf.pem"]
    assert crlf.count(b"\r\n") == crlf.count(b"\n") == lf.count(b"\n")
    assert crlf.replace(b"\r\n", b"\n") == lf
    assert files["ca-nonl.pem"] == lf[:-1]
    assert files["ca-bundle.pem"] == lf + files["other-ca.pem"]
    body = b"".join(lf.split(b"\n")[1:-2])
    assert files["ca.der"] == base64.b64decode(body)
    fingerprints = {openssl("x509", "-in", pki[n], "-noout", "-fingerprint", "-sha256")[1]
                    for n in ("ca.pem", "ca-crlf.pem", "ca-nonl.pem")}
    assert len(fingerprints) == 1


def test_truncated_ca_is_cut_mid_base64_and_does_not_parse(pki):
    with open(pki["ca.pem"], "rb") as f:
        full = f.read()
    with open(pki["ca-truncated.pem"], "rb") as f:
        cut = f.read()
    assert full.startswith(cut) and len(cut) < len(full) // 2 + 65
    last = cut.split(b"\n")[-1]
    assert 0 < len(last) < 64 and re.fullmatch(rb"[A-Za-z0-9+/]+", last), last
    assert b"-----END" not in cut
    rc, out = openssl("x509", "-in", pki["ca-truncated.pem"], "-noout", check=False)
    assert rc != 0, out


def test_encrypted_keys_need_the_documented_password(pki):
    with open(pki["client-rsa-enc.key"]) as f:
        legacy = f.read()
    assert legacy.startswith("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                             "DEK-Info: AES-256-CBC,")
    _, asn1 = openssl("asn1parse", "-in", pki["client-rsa-enc-pkcs8.key"])
    assert ":PBES2" in asn1 and ":des-ede3-cbc" in asn1
    for name in ("client-rsa-enc.key", "client-rsa-enc-pkcs8.key"):
        assert pubkey_of_key(pki[name], PASSWORD) == pubkey_of_cert(pki["client-rsa.pem"])
        rc, out = openssl("pkey", "-in", pki[name], "-passin", "pass:wrong", "-noout",
                          check=False)
        assert rc != 0, out


def test_gen_sh_names_option_and_idempotence(pki, tmp_path):
    out = str(tmp_path / "pki")
    names = "a1b2c3-ats.iot.us-east-1.amazonaws.com, *.example.test,10.1.2.3,fd00::5"
    subprocess.run([GEN_SH, out, "--names", names], check=True, capture_output=True, timeout=60)
    _, san = openssl("x509", "-in", os.path.join(out, "server.pem"), "-noout", "-ext",
                     "subjectAltName")
    # An IPv4 address also as a DNS entry, for mbedTLS 2.28 (see gen.sh).
    assert re.findall(r"(DNS|IP Address):([^,\s]+)", san) == [
        ("DNS", "localhost"), ("DNS", "127.0.0.1"), ("IP Address", "127.0.0.1"),
        ("IP Address", "0:0:0:0:0:0:0:1"), ("DNS", "a1b2c3-ats.iot.us-east-1.amazonaws.com"),
        ("DNS", "*.example.test"), ("IP Address", "10.1.2.3"), ("DNS", "10.1.2.3"),
        ("IP Address", "FD00:0:0:0:0:0:0:5")]
    # Same inputs: nothing is rewritten. The session PKI is also reused, not regenerated.
    before = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in os.listdir(out)}
    ca_before = os.stat(pki.ca).st_mtime_ns
    for outdir, extra in ((out, ["--names", names]), (pki.dir, [])):
        res = subprocess.run([GEN_SH, outdir] + extra, capture_output=True, timeout=10)
        assert res.returncode == 0 and res.stdout == b"", res
    assert {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in os.listdir(out)} == before
    assert os.stat(pki.ca).st_mtime_ns == ca_before
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]


def test_gen_sh_rejects_bad_usage(tmp_path):
    for args in ([], [str(tmp_path / "x"), "--names"], [str(tmp_path / "x"), "--bogus"],
                 [str(tmp_path / "x"), "--names", "ok.test,bad=name"]):
        res = subprocess.run([GEN_SH] + args, capture_output=True, timeout=10)
        assert res.returncode == 2 and res.stderr, res
    assert os.listdir(tmp_path) == []


# -- the broker --------------------------------------------------------------------------------

def test_tls_listeners_accept_clients_trusting_the_ca(broker):
    c = broker.client("tls")
    assert c.cipher()[1] in ("TLSv1.2", "TLSv1.3")
    c = broker.client("tls_ec", max_version=ssl.TLSVersion.TLSv1_2)
    assert "ECDSA" in c.cipher()[0], c.cipher()
    # The M95's kind of suite: RSA key exchange, TLS 1.2 (quectel.md, M95 SSL).
    c = broker.client("tls", ciphers="AES128-SHA", max_version=ssl.TLSVersion.TLSv1_2)
    assert c.cipher()[:2] == ("AES128-SHA", "TLSv1.2")
    # Host name checks pass for the names in the certificate, by IP and by name.
    broker.client("tls", host="localhost")


def test_tls_client_trusting_another_ca_refuses_the_broker(broker, pki):
    with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        broker.connack("tls", ca=pki["other-ca.pem"])


def test_mutual_tls(broker, pki):
    for cert, key, password in (("client-rsa.pem", "client-rsa-enc.key", PASSWORD),
                                ("client-rsa.pem", "client-rsa-enc-pkcs8.key", PASSWORD),
                                ("client-ec.pem", "client-ec.key", None)):
        assert broker.connack("mtls", cert=pki[cert], key=pki[key],
                              key_password=password) == CONNACK_ACCEPTED
    # Refused in the handshake, before any MQTT: TLS 1.2 shows the broker's alert.
    tls12 = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ConnectError, match="ALERT_UNKNOWN_CA"):
        broker.connack("mtls", cert=pki["client-otherca.pem"], key=pki["client-otherca.key"],
                       max_version=tls12)
    with pytest.raises(ConnectError, match="HANDSHAKE_FAILURE"):
        broker.connack("mtls", max_version=tls12)
    # TLS 1.3 sends the refusal after the client's Finished; still no CONNACK.
    for kw in ({"cert": pki["client-otherca.pem"], "key": pki["client-otherca.key"]}, {}):
        with pytest.raises(ConnectError):
            broker.connack("mtls", **kw)
    assert "certificate verify failed" in broker.log()


def test_identity_as_username(broker, pki):
    c = broker.client("mtls_id", cert=pki["client-ec.pem"], key=pki["client-ec.key"])
    assert c.subscribe(["#", "modemsim/x"]) == [1, 1]
    assert "u'modemsim-client-ec'" in broker.log()
    # mosquitto 2.0.11 handle__connect: a certificate without a CN gives no user name.
    assert broker.connack("mtls_id", cert=pki["client-nocn.pem"],
                          key=pki["client-nocn.key"]) == CONNACK_BAD_USERNAME_PASSWORD


def test_passwords_give_connack_codes(broker):
    assert broker.connack() == CONNACK_ACCEPTED
    for user, password in USERS.items():
        assert broker.connack(username=user, password=password) == CONNACK_ACCEPTED
        assert broker.connack("tls", username=user, password=password) == CONNACK_ACCEPTED
    # mosquitto answers 5, not 4, for every failed password check.
    assert broker.connack(username="modemsim", password="wrong") == CONNACK_NOT_AUTHORIZED
    assert broker.connack(username="nobody", password="x") == CONNACK_NOT_AUTHORIZED
    assert broker.connack(username="modemsim") == CONNACK_NOT_AUTHORIZED
    # A certificate user has no password: only the certificate logs it in.
    assert broker.connack(username="modemsim-client-ec", password="") == CONNACK_NOT_AUTHORIZED


def test_anonymous_refused_when_disallowed(broker_factory, pki):
    b = broker_factory(allow_anonymous=False)
    assert b.connack() == CONNACK_NOT_AUTHORIZED
    assert b.connack("tls") == CONNACK_NOT_AUTHORIZED
    assert b.connack(username="modemsim", password=USERS["modemsim"]) == CONNACK_ACCEPTED
    assert b.connack("mtls_id", cert=pki["client-rsa.pem"], key=pki["client-rsa.key"]) == \
        CONNACK_ACCEPTED


def test_acl_refuses_subscriptions_and_drops_publishes(broker, subscriber):
    watcher = subscriber("#")
    c = broker.client(username="limited", password=USERS["limited"])
    granted = c.subscribe([LIMITED_RW.replace("#", "a"), "secret/x",
                           (LIMITED_RO.replace("#", "b"), 0), "#"])
    assert granted == [1, SUBACK_FAILURE, 0, SUBACK_FAILURE]
    # A forbidden PUBLISH is acknowledged and dropped (MQTT 3.1.1 has no way to refuse it).
    # Messages from one client arrive in order, so once the allowed one is seen the
    # forbidden ones would have been seen too.
    c.publish("secret/y", b"forbidden", qos=1)
    c.publish(LIMITED_RO.replace("#", "y"), b"read-only", qos=1)
    c.publish(LIMITED_RW.replace("#", "y"), b"allowed", qos=1)
    watcher.wait_for(lambda m: m.payload == b"allowed")
    assert [m.payload for m in watcher.messages] == [b"allowed"]


def test_subscriber_sees_messages_published_by_another_client(broker, subscriber):
    sub = subscriber(["modemsim/t/#"], tls=True)
    broker.publish("modemsim/t/a", b"one", qos=0)
    broker.publish("modemsim/t/b", b"\x00two\xff", qos=1, listener="tls",
                   username="modemsim", password=USERS["modemsim"])
    assert sub.wait_for(lambda m: m.topic == "modemsim/t/a") == ("modemsim/t/a", b"one", 0, False)
    assert sub.wait_for(lambda m: m.topic == "modemsim/t/b") == \
        ("modemsim/t/b", b"\x00two\xff", 1, False)
    # A retained message reaches a later subscriber with the retain flag set.
    broker.publish("modemsim/t/r", b"kept", qos=1, retain=True)
    late = subscriber("modemsim/t/r", qos=1)
    assert late.wait_for(lambda m: m.topic == "modemsim/t/r") == ("modemsim/t/r", b"kept", 1,
                                                                  True)
    with pytest.raises(AssertionError, match="message matching"):
        late.wait_for(lambda m: m.topic == "never", timeout=0.2)


def test_broker_can_present_a_broken_certificate(broker_factory):
    b = broker_factory(server_cert="server-expired.pem")
    with pytest.raises(ConnectError, match="certificate has expired"):
        b.connack("tls")
    assert b.connack("tls_ec") == CONNACK_ACCEPTED  # the EC listener keeps its own pair


def test_stop_leaves_nothing_behind(broker_factory):
    b = broker_factory()
    pid, ports = b.proc.pid, dict(b.ports)
    sub = b.subscriber("x")
    assert b.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    for port in ports.values():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert sub.disconnect_rc is not None
    assert b.stop() is None  # a second stop is harmless
