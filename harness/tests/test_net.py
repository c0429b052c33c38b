"""The embedded broker (--broker embedded, the default) and the network flags: the `broker` line
on stdout, mosquitto really listening on its plain, TLS and mutual-TLS ports, and no mosquitto
outliving modemsim."""
import os
import signal
import socket
import ssl
import subprocess

import pytest

from modemsim import BINARY, ModemSim
from control import ControlError, wait_for

# MQTT 3.1.1 CONNECT, clean session, keep-alive 60, client id "h7" (MQTT 3.1.1 3.1), and the
# CONNACK a broker answers it with: session present 0, return code 0 (3.2).
CONNECT = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02h7"
CONNACK_OK = b"\x20\x02\x00\x00"


def broker_fields(sim):
    lines = [l for l in sim.stdout_lines if l.startswith("broker ")]
    assert len(lines) == 1, sim.stdout_lines
    f = lines[0].split()
    assert len(f) == 6, lines[0]
    return {"host": f[1], "plain": int(f[2]), "tls": int(f[3]), "ca": f[4], "mutual": int(f[5])}


def recv_exact(sock, n, timeout=5.0):
    sock.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def mqtt_connect(sock):
    sock.sendall(CONNECT)
    return recv_exact(sock, 4)


def tls_client(b, port, certfile=None, keyfile=None, cafile=None):
    ctx = ssl.create_default_context(cafile=cafile or b["ca"])
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    raw = socket.create_connection((b["host"], port), timeout=5)
    # The test PKI's server certificate names localhost and 127.0.0.1 (certs/gen.sh).
    return ctx.wrap_socket(raw, server_hostname="localhost")


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def mosquitto_children(sim):
    return [p for p in children(sim.proc.pid) if any(a.endswith(b"mosquitto") for a in cmdline(p))]


def running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_gone(pid, timeout=5.0):
    try:
        return wait_for(lambda: not running(pid), timeout)
    except ControlError:
        return False


def test_broker_line_comes_before_the_modems(modemsim):
    sim = modemsim("--broker", "embedded", count=2)
    lines = sim.stdout_lines
    assert lines[0].startswith("broker ")
    assert [l.split()[0] for l in lines[1:]] == ["modem", "modem", "ready"]
    b = broker_fields(sim)
    assert b["host"] == "127.0.0.1"
    ports = {b["plain"], b["tls"], b["mutual"]}
    assert len(ports) == 3 and all(1024 <= p <= 65535 for p in ports)
    assert os.path.isabs(b["ca"])
    with open(b["ca"], "rb") as f:
        assert f.read().startswith(b"-----BEGIN CERTIFICATE-----")


def test_embedded_is_the_default(modemsim):
    sim = modemsim()
    assert broker_fields(sim)["plain"] > 0
    assert len(mosquitto_children(sim)) == 1


def test_plain_listener_speaks_mqtt(modemsim):
    b = broker_fields(modemsim("--broker", "embedded"))
    with socket.create_connection((b["host"], b["plain"]), timeout=5) as s:
        assert mqtt_connect(s) == CONNACK_OK


def test_tls_listener_verifies_against_the_printed_ca(modemsim):
    b = broker_fields(modemsim("--broker", "embedded"))
    with tls_client(b, b["tls"]) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        assert mqtt_connect(s) == CONNACK_OK


def test_tls_listener_is_not_trusted_by_another_ca(modemsim, tmp_path):
    b = broker_fields(modemsim("--broker", "embedded"))
    other = make_pki(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_client(b, b["tls"], cafile=str(other / "ca.pem"))


def test_tls_listener_offers_rsa_key_exchange(modemsim):
    """The M95 offers only RSA key exchange suites (certs/gen.sh, ext_server_rsa): the TLS
    listener must accept one."""
    b = broker_fields(modemsim("--broker", "embedded"))
    ctx = ssl.create_default_context(cafile=b["ca"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA256:AES256-SHA:AES128-SHA")
    with socket.create_connection((b["host"], b["tls"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.cipher()[0] in ("AES128-SHA256", "AES256-SHA", "AES128-SHA")
            assert mqtt_connect(s) == CONNACK_OK


def test_mutual_listener_wants_a_client_certificate(modemsim):
    b = broker_fields(modemsim("--broker", "embedded"))
    certs = os.path.dirname(b["ca"])
    # Without one: refused, during the handshake (TLS 1.2) or at the first read (TLS 1.3,
    # where the client finishes before the server has checked).
    refused = False
    try:
        with tls_client(b, b["mutual"]) as s:
            refused = mqtt_connect(s) != CONNACK_OK
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        refused = True
    assert refused
    cert = os.path.join(certs, "client-rsa.pem")
    if not os.path.exists(cert):
        pytest.skip("no client certificate in %s" % certs)
    with tls_client(b, b["mutual"], cert, os.path.join(certs, "client-rsa.key")) as s:
        assert mqtt_connect(s) == CONNACK_OK


def test_sigterm_stops_mosquitto(modemsim):
    sim = modemsim("--broker", "embedded")
    pids = mosquitto_children(sim)
    assert len(pids) == 1
    assert sim.stop() == 0
    assert wait_gone(pids[0]), "mosquitto %d still running after modemsim exited" % pids[0]


def test_killed_modemsim_takes_mosquitto_along(tmp_path):
    if not any(os.access(os.path.join(d, "setpriv"), os.X_OK)
               for d in os.environ.get("PATH", "").split(":") + ["/usr/bin", "/bin"]):
        pytest.skip("no setpriv(1): no parent-death signal for mosquitto")
    sim = ModemSim("--broker", "embedded", workdir=str(tmp_path))
    try:
        pids = mosquitto_children(sim)
        assert len(pids) == 1
    finally:
        sim.proc.kill()
        sim.proc.wait(timeout=10)
    sim.stop()
    assert wait_gone(pids[0]), "mosquitto %d outlived a killed modemsim" % pids[0]


def test_broker_none_starts_none(modemsim):
    sim = modemsim("--broker", "none")
    assert not [l for l in sim.stdout_lines if l.startswith("broker")]
    assert sim.stdout_lines[-1] == "ready"
    assert children(sim.proc.pid) == []


def test_broker_death_is_reported_and_modems_go_on(modemsim):
    sim = modemsim("--broker", "embedded")
    tty = sim.open()
    (pid,) = mosquitto_children(sim)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: b"DIED" in sim.stderr(), what=lambda: "no DIED in %r" % sim.stderr())
    assert b"mosquitto (pid %d) DIED" % pid in sim.stderr()
    assert tty.cmd("AT") == b"AT\r\r\nOK\r\n"


def make_pki(d):
    """A minimal CA and server certificate of our own (not certs/gen.sh): --certs must work with
    any directory holding ca.pem, server.pem and server.key."""
    d.mkdir(parents=True)

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=str(d), check=True, capture_output=True,
                       timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=h7 test CA", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                               "keyUsage=critical,digitalSignature,keyEncipherment\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    os.chmod(str(d), 0o755)
    for f in d.iterdir():
        os.chmod(str(f), 0o644)
    return d


def test_certs_dir_is_used(modemsim, tmp_path):
    pki = make_pki(tmp_path / "pki")
    b = broker_fields(modemsim("--broker", "embedded", "--certs", str(pki)))
    assert b["ca"] == str(pki / "ca.pem")
    with tls_client(b, b["tls"]) as s:
        assert s.getpeercert()["issuer"] == ((("commonName", "h7 test CA"),),)
        assert mqtt_connect(s) == CONNACK_OK


def run_fail(*args, timeout=15):
    p = subprocess.run([BINARY, "--timing", "fast"] + list(args), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_missing_certs_is_fatal_with_explicit_broker(tmp_path):
    rc, out, err = run_fail("--broker", "embedded", "--certs", str(tmp_path / "nope"),
                            "--state", str(tmp_path / "state"))
    assert rc == 1
    assert b"ready" not in out
    assert b"--certs" in err


@pytest.mark.parametrize("args,word", [
    (["--broker", "bogus"], b"--broker"),
    (["--broker"], b"needs a value"),
    (["--resolve", "broker.example"], b"--resolve"),
    (["--resolve", "*.=127.0.0.1"], b"--resolve"),
    (["--resolve", "a b=127.0.0.1"], b"--resolve"),
    (["--resolve", "a.example=localhost"], b"--resolve"),
    (["--route", "8883=localhost:18883"], b"--route"),
    (["--route", "0=127.0.0.1:1"], b"--route"),
    (["--route", "8883=127.0.0.1:65536"], b"--route"),
    (["--route", "8883=@nowhere"], b"--route"),
    (["--broker", "none", "--route", "8883=@tls"], b"embedded broker"),
])
def test_bad_network_flags_are_usage_errors(args, word):
    rc, out, err = run_fail(*args)
    assert rc == 2
    assert out == b""
    assert word in err


def test_help_lists_the_network_flags():
    p = subprocess.run([BINARY, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0
    for flag in (b"--broker MODE", b"--certs DIR", b"--resolve NAME=ADDR",
                 b"--route PORT=HOST:PORT", b"broker <host> <plain-port> <tls-port> <ca-file>"):
        assert flag in p.stdout


def copy_binary(tmp_path):
    """modemsim where no certs/gen.sh is found above it and <dir>/../certs does not exist."""
    d = tmp_path / "elsewhere" / "sim"
    d.mkdir(parents=True)
    exe = d / "modemsim"
    with open(BINARY, "rb") as src, open(str(exe), "wb") as dst:
        dst.write(src.read())
    os.chmod(str(exe), 0o755)
    return str(exe)


def test_no_pki_is_fatal_with_explicit_broker(tmp_path):
    exe = copy_binary(tmp_path)
    p = subprocess.run([exe, "--timing", "fast", "--broker", "embedded"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=15)
    assert p.returncode == 1
    assert b"ready" not in p.stdout
    assert b"no test PKI" in p.stderr


def test_no_pki_default_runs_a_plain_broker(tmp_path, monkeypatch):
    import modemsim as harness
    monkeypatch.setattr(harness, "BINARY", copy_binary(tmp_path))
    sim = ModemSim(workdir=str(tmp_path))
    try:
        line = [l for l in sim.stdout_lines if l.startswith("broker ")]
        assert len(line) == 1
        f = line[0].split()
        assert f[0:2] == ["broker", "127.0.0.1"] and f[3:] == ["-", "-", "-"]
        with socket.create_connection(("127.0.0.1", int(f[2])), timeout=5) as s:
            assert mqtt_connect(s) == CONNACK_OK
        assert b"without TLS listeners" in sim.stderr()
    finally:
        assert sim.stop() == 0
