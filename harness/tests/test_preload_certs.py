"""modemsim --preload-certs: the test PKI's CA, client certificate and key are in the modem's
flash at start, under the names its storage gives them, for people who only want MQTT over
TLS to work: no AT+QFUPL, straight to AT+QSSLCFG and AT+QMTOPEN."""
import os
import subprocess

import pytest

from modemsim import BINARY

NAMES = {
    "ec25": "ca=UFS:cacert.pem cert=UFS:client.pem key=UFS:user_key.pem",
    "bg96": "ca=cacert.pem cert=client.pem key=user_key.pem",
    "m95": "ca=NVRAM:CA0 cert=NVRAM:CC0 key=NVRAM:CK0",
    "sim7600": "ca=cacert.pem cert=client.pem key=user_key.pem",
}


@pytest.mark.modem("ec25", broker="embedded", args=["--preload-certs", "--route",
                                                      "8883=@mutual"])
def test_ec25_mutual_tls_without_uploading(modem):
    """The files are listed with the PKI's sizes, and a mutual-TLS MQTT connection works
    with nothing uploaded."""
    certs = os.path.dirname(modem.sim.broker["ca"])
    sizes = [os.path.getsize(os.path.join(certs, f))
             for f in ("ca.pem", "client-rsa.pem", "client-rsa.key")]
    r = modem.ok('AT+QFLST="UFS:*"')
    assert sorted(r.lines) == ['+QFLST: "UFS:cacert.pem",%d' % sizes[0],
                               '+QFLST: "UFS:client.pem",%d' % sizes[1],
                               '+QFLST: "UFS:user_key.pem",%d' % sizes[2]], r.lines
    modem.ok("AT+QIACT=1")
    for line in ('AT+QSSLCFG="cacert",2,"UFS:cacert.pem"',
                 'AT+QSSLCFG="clientcert",2,"UFS:client.pem"',
                 'AT+QSSLCFG="clientkey",2,"UFS:user_key.pem"', 'AT+QSSLCFG="seclevel",2,2',
                 'AT+QMTCFG="ssl",0,1,2'):
        modem.ok(line)
    modem.ok('AT+QMTOPEN=0,"%s",8883' % modem.host)
    assert modem.urc("+QMTOPEN: 0,0", timeout=10)
    modem.ok('AT+QMTCONN=0,"preloaded"')
    assert modem.urc("+QMTCONN: 0,0,0", timeout=10)
    notes = [r["msg"] for r in modem.trace() if r["ev"] == "note" and
             r["msg"].startswith("preloaded ")]
    assert notes == ["preloaded %s/%s as %s (%d bytes)" % (certs, f, n, s) for f, n, s in zip(
        ("ca.pem", "client-rsa.pem", "client-rsa.key"),
        ("UFS:cacert.pem", "UFS:client.pem", "UFS:user_key.pem"), sizes)]


@pytest.mark.parametrize("model", sorted(NAMES))
def test_certs_line_names_the_files(model, tmp_path):
    """Each model's storage gives its own names; the `certs` line before `ready` says them."""
    proc = subprocess.Popen([BINARY, "--model", model, "--timing", "fast", "--preload-certs",
                             "--link", str(tmp_path / "tty")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or lines[-1] != "ready":
            line = proc.stdout.readline()
            assert line, (lines, proc.stderr.read())
            lines.append(line.rstrip("\n"))
    finally:
        proc.terminate()
        proc.wait(10)
    assert lines[-2] == "certs 0 " + NAMES[model], lines
    assert proc.returncode == 0


def test_no_pki_is_fatal(tmp_path):
    """Without the embedded broker's PKI and no --certs there is nothing to preload: exit 1
    with one modemsim: line, before `ready`."""
    res = subprocess.run([BINARY, "--model", "ec25", "--broker", "none", "--preload-certs",
                          "--link", str(tmp_path / "tty")], capture_output=True, text=True,
                         timeout=20)
    assert res.returncode == 1, res
    assert "ready" not in res.stdout.split("\n")
    assert res.stderr.startswith("modemsim: "), res.stderr
    assert "--preload-certs: no PKI (the embedded broker has no TLS; name one with --certs " \
        "DIR)" in res.stderr, res.stderr
