"""The first ten minutes (issue 12): what a person at a terminal meets. The broker line says
what each field is; `--log -` is stdout; `-v` shows commands and results; DEL edits the line as
BS does, and a control byte left inside a parameter is a finding; `--check` checks every file it
is given; a bad `--certs` is fatal; a `--link` held by a live modemsim is refused.
"""
import os
import pty
import re
import select
import subprocess
import time

from modemsim import BINARY, ROOT, ModemSim, Tty


def run(*args, timeout=20):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def read_until(fd, pattern, timeout=15.0):
    """Read fd (a pty master or a pipe) until pattern (bytes regex) matches."""
    out = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, out):
        left = deadline - time.monotonic()
        assert left > 0, "no %r within %.0f s: %r" % (pattern, timeout, out)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def stop(p):
    p.terminate()
    p.wait(timeout=15)
    assert p.returncode == 0


def test_broker_line_is_labelled_on_a_terminal():
    """On a terminal the broker line names its fields; piped, it keeps the fixed form."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BINARY, "--timing", "fast"], stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    try:
        out = read_until(master, rb"ready").decode()
        m = re.search(r"^broker host=127\.0\.0\.1 plain=(\d+) tls=(\d+) mutual=(\d+) "
                      r"ca=(\S+/ca\.pem)\r?$", out, re.M)
        assert m, out
        assert os.path.isfile(m.group(4))
    finally:
        stop(p)
        os.close(master)
    sim = ModemSim()
    try:
        f = [l for l in sim.stdout_lines if l.startswith("broker ")][0].split()
        assert len(f) == 6 and f[2].isdigit() and f[4].endswith("ca.pem")
    finally:
        assert sim.stop() == 0


def test_log_dash_is_stdout_and_verbose_shows_commands(tmp_path):
    p = subprocess.Popen([BINARY, "--timing", "fast", "--broker", "none", "--log", "-", "-v",
                          "--link", str(tmp_path / "tty")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        read_until(p.stdout.fileno(), rb"ready\n")
        t = Tty(str(tmp_path / "tty"))
        t.read_until(b"+QIND: PB DONE\r\n", timeout=15)
        assert t.cmd("AT+CSQ").endswith(b"OK\r\n")
        assert t.cmd("AT+CPIN=1,2,3,4").endswith(b"ERROR\r\n")
        out = read_until(p.stdout.fileno(), rb"#0 -- \+CPIN=1,2,3,4 => ")
        assert re.search(rb"\] #0 TX AT\+CSQ\\r\n", out), out
        t.close()
    finally:
        p.terminate()
        _, err = p.communicate(timeout=15)
    assert p.returncode == 0
    assert re.search(rb"^modemsim: info: #0 AT\+CSQ => OK$", err, re.M), err
    assert re.search(rb"^modemsim: info: #0 AT\+CPIN=1,2,3,4 => ERROR \(.+\)$", err, re.M), err
    assert not os.path.exists(tmp_path / "-")


def test_del_edits_like_backspace_and_a_control_byte_is_a_finding(modemsim):
    sim = modemsim(model="ec25")
    t = sim.open()
    # picocom's Backspace is DEL: the APN is what the person meant
    t.write(b'AT+QICSGP=1,1,"internte\x7f\x7fet","",""\r')
    t.read_until(b"OK\r\n", timeout=5)
    r = t.cmd("AT+QICSGP=1")
    assert b'+QICSGP: 1,"internet",' in r, r
    assert not [f for f in sim.trace() if f["ev"] == "finding" and f["kind"] == "control-byte"]
    # a control byte that is not an editing key stays in the parameter: a finding says so
    t.cmd('AT+QICSGP=1,1,"inter\x01net","",""')
    found = [f for f in sim.trace() if f["ev"] == "finding" and f["kind"] == "control-byte"]
    assert len(found) == 1 and found[0]["severity"] == "warning", found
    assert "0x01 at offset 5" in found[0]["msg"] and "+QICSGP parameter 3" in found[0]["msg"]


def test_check_takes_every_file(tmp_path):
    bad = tmp_path / "bad.scn"
    bad.write_text("at 1s fualt link.reset\n")
    good = os.path.join(ROOT, "scenarios", "slow-network.scn")
    r = run("--check", good, "--check", str(bad))
    assert r.returncode == 1
    assert "slow-network.scn: ok (" in r.stdout and "bad.scn:1:" in r.stderr
    scns = sorted(os.path.join(ROOT, "scenarios", f)
                  for f in os.listdir(os.path.join(ROOT, "scenarios")) if f.endswith(".scn"))
    r = run("--check", *scns)  # what `--check scenarios/*.scn` expands to
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok (") == len(scns), r.stdout
    r = run("--check", *scns, str(bad))
    assert r.returncode == 1 and r.stdout.count(": ok (") == len(scns)


def test_bad_certs_dir_is_fatal(tmp_path):
    r = run("--timing", "fast", "--certs", str(tmp_path / "nope"))
    assert r.returncode == 1 and "ready" not in r.stdout
    assert r.stderr.startswith("modemsim: ") and "--certs" in r.stderr, r.stderr
    assert "without" not in r.stderr


def test_link_held_by_a_live_modemsim_is_refused(modemsim, tmp_path):
    link = str(tmp_path / "ttyEC25")
    first = modemsim("--link", link, "--broker", "none")
    target = os.readlink(link)
    r = run("--timing", "fast", "--broker", "none", "--link", link)
    assert r.returncode == 1, r
    assert r.stderr.startswith("modemsim: ") and link in r.stderr and "in use" in r.stderr
    assert os.readlink(link) == target
    first.open().cmd("AT")  # still the first modem's


def test_demo_installs_and_builds_only_the_program():
    demo = open(os.path.join(ROOT, ".ci", "demo")).read()
    assert ".ci/deps --run" in demo and "--target modemsim" in demo
    deps = open(os.path.join(ROOT, ".ci", "deps")).read()
    run_part = deps.split('if [ "${1:-}" != "--run" ]')[0]
    assert "chromium" not in run_part and "clang-format" not in run_part
    assert "no transcript file" in demo  # with arguments and no --log, no promise of one


def test_unknown_fault_suggests_the_closest(tmp_path):
    f = tmp_path / "typo.scn"
    f.write_text("at 1s fault link.rest\n")
    r = run("--check", str(f))
    assert r.returncode == 1
    assert r.stderr.strip().endswith("unknown fault 'link.rest' (did you mean 'link.reset'?)")


def test_readme_serial_terminal_tls_publish(modemsim):
    """README's getting-started sequence, typed as written: upload the broker's CA, TLS, a
    publish that a subscriber at the broker sees."""
    import socket
    sim = modemsim(model="ec25")
    t = sim.open()
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert "mosquitto_sub -h 127.0.0.1 -p 40211 -t '#' -v" in readme
    ca = open(sim.broker["ca"], "rb").read()
    s = socket.create_connection(("127.0.0.1", sim.broker["plain"]), timeout=5)
    s.sendall(b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05watch")  # CONNECT
    assert s.recv(4)[:1] == b"\x20"
    s.sendall(b"\x82\x06\x00\x01\x00\x01#\x00")  # SUBSCRIBE "#" QoS 0
    assert s.recv(5)[:1] == b"\x90"
    t.write(b'AT+QFUPL="UFS:cacert.pem",%d,100\r' % len(ca))
    t.read_until(b"CONNECT\r\n", timeout=5)
    t.write(ca)
    t.read_until(b"OK\r\n", timeout=10)
    for line in ('AT+QSSLCFG="cacert",2,"UFS:cacert.pem"', 'AT+QMTCFG="ssl",0,1,2',
                 "AT+QIACT=1"):
        assert line in readme
        assert t.cmd(line).endswith(b"OK\r\n"), line
    t.cmd('AT+QMTOPEN=0,"broker.modemsim.test",8883')
    t.read_until(b"+QMTOPEN: 0,0\r\n", timeout=10)
    t.cmd('AT+QMTCONN=0,"dev-1"')
    t.read_until(b"+QMTCONN: 0,0,0\r\n", timeout=10)
    t.write(b'AT+QMTPUB=0,0,0,0,"dev/1/up"\r')
    t.read_until(b"> ", timeout=5)
    t.write(b"21.5\x1a")
    t.read_until(b"OK\r\n", timeout=5)
    got = b""
    s.settimeout(5)
    while b"dev/1/up21.5" not in got:
        chunk = s.recv(4096)
        assert chunk, got
        got += chunk
    s.close()
