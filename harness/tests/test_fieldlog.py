"""Issue 2's acceptance: the EC25 bring-up of the field log (seed 000) and the certificate
steps of the GSM SSL application note (seed 004) on an M95, byte for byte."""
import functools
import os
import random

from modemsim import ROOT
from modemsim import xor16_hex
from modemsim_harness import at
from modemsim_harness.at import check_ok

DATA = os.path.join(ROOT, "sim", "tests", "data")
# The field log's and the application note's hosts: timeout 100, lines ended by CR LF.
upload = functools.partial(at.upload, timeout=100, end=b"\r\n")


def test_ec25_field_log_bring_up(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    imei = t.cmd("AT+GSN").split(b"\r\n")[1].decode()
    check_ok(t, "AT+CPIN?", "+CPIN: READY")
    check_ok(t, "AT+CREG?", "+CREG: 0,1")
    check_ok(t, "AT+CEREG?", "+CEREG: 0,1")
    out = t.cmd("AT+QNWINFO")
    assert out.startswith(b'AT+QNWINFO\r\r\n+QNWINFO: "FDD LTE","00101","LTE BAND ')
    assert out.endswith(b"\r\n\r\nOK\r\n") and out.count(b"\r\n") == 4
    out = t.cmd("AT+QCSQ")
    assert out.startswith(b'AT+QCSQ\r\r\n+QCSQ: "LTE",') and out.endswith(b"\r\n\r\nOK\r\n")
    check_ok(t, "AT+GSN", imei)
    out = t.cmd("AT+COPS?")
    assert out.startswith(b'AT+COPS?\r\r\n+COPS: 0,0,"') and out.endswith(b'",7\r\n\r\nOK\r\n')
    check_ok(t, "AT+GMR", "EC25EFAR06A17M4G")
    t.cmd('AT+QICSGP=1,1,"fast.t-mobile.com","","",0')
    check_ok(t, "AT+QICSGP=1", '+QICSGP: 1,"fast.t-mobile.com","","",0')
    check_ok(t, 'AT+QFDEL="*"')
    ca = open(os.path.join(DATA, "AmazonRootCA1.pem"), "rb").read()
    assert len(ca) == 1188 and xor16_hex(ca).decode() == "2d13"
    rnd = random.Random(0)
    key = bytes(rnd.getrandbits(8) for _ in range(1679))
    cert = bytes(rnd.getrandbits(8) for _ in range(1220))
    upload(t, "RAM:cacert.pem", ca)
    upload(t, "RAM:user_key.pem", key)
    upload(t, "RAM:client.pem", cert)
    check_ok(t, "AT+QIACT?")
    check_ok(t, "AT+QIACT=1")
    out = t.cmd("AT+QIACT?")
    assert out.startswith(b'AT+QIACT?\r\r\n+QIACT: 1,1,1,"') and out.endswith(b'"\r\n\r\nOK\r\n')
    # what the modem stores is exactly what was uploaded
    t.write(b'AT+QFDWL="RAM:cacert.pem"\r')
    t.read_until(b"CONNECT\r\n")
    assert t.read_exact(len(ca)) == ca
    t.expect(b"\r\n+QFDWL: 1188,2d13\r\n\r\nOK\r\n")


def test_ec25_second_field_log_crlf_ca(modemsim):
    """The second report of seed 000: `ufs:` in lower case, the CA with CRLF line ends."""
    sim = modemsim(model="ec25")
    t = sim.open()
    lf = open(os.path.join(DATA, "AmazonRootCA1.pem"), "rb").read()
    crlf = lf.replace(b"\n", b"\r\n")
    assert len(crlf) == 1208 and xor16_hex(crlf).decode() == "5769"
    upload(t, "ufs:cacert.pem", crlf)
    check_ok(t, 'AT+QFLST="*"', '+QFLST: "UFS:cacert.pem",1208')


def test_m95_ssl_note_certificate_steps(modemsim):
    sim = modemsim(model="m95")
    t = sim.open()
    rnd = random.Random(4)
    files = {"RAM:ca_cert.pem": 1614, "RAM:client_cert.pem": 1419, "RAM:client_key.pem": 1679}
    blobs = {n: bytes(rnd.getrandbits(8) for _ in range(s)) for n, s in files.items()}
    for name, data in blobs.items():
        upload(t, name, data)
    for name, data in blobs.items():
        check_ok(t, 'AT+QSECREAD="%s"' % name, "+QSECREAD: 1,%s" % xor16_hex(data).decode())
    # §3.2: the same files in NVRAM under their fixed names
    for name, data in zip(("NVRAM:CA0", "NVRAM:CC0", "NVRAM:CK0"), blobs.values()):
        upload(t, name, data)
        check_ok(t, 'AT+QSECREAD="%s"' % name, "+QSECREAD: 1,%s" % xor16_hex(data).decode())
    for name in blobs:
        check_ok(t, 'AT+QSECDEL="%s"' % name)
    assert t.cmd('AT+QSECREAD="RAM:ca_cert.pem"').endswith(b"ERROR\r\n")
    # NVRAM survives a reboot, RAM does not
    check_ok(t, "AT+CFUN=1,1")
    t.read_until(b"SMS Ready\r\n", timeout=10)
    ca = blobs["RAM:ca_cert.pem"]
    check_ok(t, 'AT+QSECREAD="NVRAM:CA0"', "+QSECREAD: 1,%s" % xor16_hex(ca).decode())
