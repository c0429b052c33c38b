"""--serial tcp-listen / tcp-connect: a modem's UART over a TCP socket, for emulated firmware
(QEMU, Renode), and --index-base for shards of a fleet. The firmware stand-ins here are plain
Python sockets; every wait is a socket read with a deadline."""
import re
import select
import socket
import subprocess
import time

import pytest

from modemsim import BINARY, BOOT_LAST, TcpTty, Timeout

CGSN_RE = re.compile(rb"\AAT\+CGSN\r\r\n(\d{15})\r\n\r\nOK\r\n\Z")


def tcp_tty(addr):
    return TcpTty(socket.create_connection(addr, timeout=5))


def imei(t):
    out = t.cmd("AT+CGSN")
    m = CGSN_RE.match(out)
    assert m, out
    return m.group(1)


def wait_eof(sock, timeout=5.0):
    """True once the far end closed sock (reads until EOF; what comes before is dropped)."""
    deadline = time.monotonic() + timeout
    sock.setblocking(False)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([sock], [], [], left)
        if r:
            try:
                if sock.recv(4096) == b"":
                    return True
            except ConnectionResetError:
                return True


def accept(listener, timeout=10.0):
    r, _, _ = select.select([listener], [], [], timeout)
    if not r:
        raise Timeout("modemsim did not connect within %.0f s" % timeout)
    conn, _ = listener.accept()
    return TcpTty(conn)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_listen_three_modems_one_port_each(modemsim):
    sim = modemsim("--serial", "tcp-listen:127.0.0.1:0", count=3)
    assert [m[0] for m in sim.modems] == [0, 1, 2]
    addrs = [sim.tcp_address(i) for i in range(3)]
    assert all(h == "127.0.0.1" and p > 0 for h, p in addrs)
    assert len({p for _, p in addrs}) == 3
    seen = set()
    for i in range(3):
        t = tcp_tty(addrs[i])
        # the boot URCs waited for the first host, as in the pty's buffer
        boot = t.read_until(BOOT_LAST["ec25"], timeout=10)
        assert boot.startswith(b"\r\nRDY\r\n"), boot
        assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
        seen.add(imei(t))
        ati = t.cmd("ATI")
        assert ati.startswith(b"ATI\r\r\nQuectel\r\nEC25\r\nRevision: ") and \
            ati.endswith(b"\r\n\r\nOK\r\n"), ati
        t.close()
    assert len(seen) == 3
    # the same transcript as on a pty
    log = sim.transcript()
    for i in range(3):
        assert re.search(rb"#%d TX +AT\+CGSN" % i, log), log[-2000:]


def test_listen_same_answers_as_the_pty(modemsim):
    pty = modemsim("--seed", "9").open()
    tcp_sim = modemsim("--seed", "9", "--serial", "tcp-listen:127.0.0.1:0")
    tcp = tcp_sim.open()
    for line in ("ATI", "AT+CGSN", "AT+CIMI", "AT+QCCID", "AT+CPIN?", "AT+BOGUS"):
        assert tcp.cmd(line) == pty.cmd(line), line


def test_listen_disconnect_keeps_state_and_accepts_again(modemsim):
    sim = modemsim("--serial", "tcp-listen:127.0.0.1:0")
    addr = sim.tcp_address(0)
    t = sim.open()
    assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
    # one host at a time: a second connection is turned away, the first keeps the modem
    extra = socket.create_connection(addr, timeout=5)
    assert wait_eof(extra), "a second host was not refused"
    extra.close()
    assert t.cmd("AT") == b"\r\nOK\r\n"
    t.close()
    # as a tty closed and opened again: no reboot, ATE0 holds
    t = tcp_tty(addr)
    assert t.cmd("AT") == b"\r\nOK\r\n"
    assert t.cmd("AT+CGSN").startswith(b"\r\n")
    t.close()
    t = tcp_tty(addr)
    assert t.cmd("ATE1") == b"\r\nOK\r\n"
    assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
    t.close()
    assert b"host disconnected" in sim.transcript()


def test_listen_fixed_ports(modemsim):
    base = free_port()
    # the next two may be taken: then choose again (bounded)
    for _ in range(20):
        try:
            held = [socket.socket() for _ in range(3)]
            for k, s in enumerate(held):
                s.bind(("127.0.0.1", base + k))
            break
        except OSError:
            base = free_port()
        finally:
            for s in held:
                s.close()
    sim = modemsim("--serial", "tcp-listen:127.0.0.1:%d" % base, count=3)
    assert [m[2] for m in sim.modems] == ["tcp:127.0.0.1:%d" % (base + k) for k in range(3)]
    t = tcp_tty(("127.0.0.1", base + 2))
    t.read_until(BOOT_LAST["ec25"], timeout=10)
    assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
    t.close()


def test_connect_dials_until_the_emulator_is_up_and_again_after(modemsim):
    port = free_port()
    sim = modemsim("--serial", "tcp-connect:127.0.0.1:%d" % port)
    assert sim.modems == [(0, "ec25", "tcp-connect:127.0.0.1:%d" % port)]
    # the "emulator" comes up after modemsim: it dials again until it is there
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4)
    try:
        t = accept(listener)
        boot = t.read_until(BOOT_LAST["ec25"], timeout=10)
        assert boot.startswith(b"\r\nRDY\r\n"), boot
        assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
        first = imei(t)
        assert t.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
        # the emulator goes away: modemsim dials again, the modem kept its state
        t.close()
        t = accept(listener)
        assert t.cmd("AT") == b"\r\nOK\r\n"
        assert t.cmd("ATE1") == b"\r\nOK\r\n"
        assert imei(t) == first
        t.close()
    finally:
        listener.close()
    assert b"host connected" in sim.transcript()


@pytest.mark.parametrize("spec", ["tcp-listen", "tcp-listen:127.0.0.1", "tcp-listen::5000",
                                  "tcp-listen:127.0.0.1:70000", "tcp-connect:127.0.0.1:0",
                                  "tcp-connect:127.0.0.1:x", "udp:127.0.0.1:5000",
                                  "tcp-connect:no-such-host.invalid:5000"])
def test_bad_spec_one_line_exit_2(spec):
    r = subprocess.run([BINARY, "--serial", spec], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modemsim: --serial") and spec in lines[0], \
        r.stderr
    assert r.stdout == ""


def test_ports_beyond_65535_and_link_are_usage_errors():
    r = subprocess.run([BINARY, "--serial", "tcp-listen:127.0.0.1:65535", "--count", "2"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and r.stderr.startswith("modemsim: --serial"), r.stderr
    r = subprocess.run([BINARY, "--serial", "tcp-listen:127.0.0.1:0", "--link", "/tmp/x"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and r.stderr.startswith("modemsim: --link"), r.stderr


def test_listen_port_in_use_fails_cleanly(modemsim):
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    try:
        port = held.getsockname()[1]
        r = subprocess.run([BINARY, "--broker", "none", "--serial",
                            "tcp-listen:127.0.0.1:%d" % port],
                           capture_output=True, text=True, timeout=20)
    finally:
        held.close()
    assert r.returncode == 1 and "cannot listen" in r.stderr, r.stderr
    assert "ready" not in r.stdout


def test_index_base_numbers_the_shard(modemsim):
    whole = modemsim("--serial", "tcp-listen:127.0.0.1:0", count=6)
    shard = modemsim("--serial", "tcp-listen:127.0.0.1:0", "--index-base", "4", count=2)
    assert [m[0] for m in shard.modems] == [4, 5]
    shard_imeis = set()
    for k in range(2):
        a = whole.open(4 + k)
        b = shard.open(k)
        # modem k of the shard is modem 4+k of the whole fleet: the same identities
        for line in ("AT+CGSN", "AT+CIMI", "AT+QCCID"):
            assert a.cmd(line) == b.cmd(line), line
        shard_imeis.add(imei(b))
    # and not those of modems 0 and 1 of a fleet numbered from 0
    for i in range(2):
        assert imei(whole.open(i)) not in shard_imeis
    assert re.search(rb"#4 TX +AT\+CGSN", shard.transcript())


def test_index_base_links_and_control(modemsim, tmp_path):
    from control import Control
    link = str(tmp_path / "tty")
    ctl = str(tmp_path / "ctl")
    sim = modemsim("--link", link, "--index-base", "10", "--control", ctl, count=2)
    assert [m[0] for m in sim.modems] == [10, 11]
    import os
    assert os.path.realpath(link + ".11") == sim.path(1)
    c = Control(ctl)
    try:
        r = c.send("query modem 11")
        assert r["ok"] and [m["modem"] for m in r["modems"]] == [11], r
        assert c.send("query modem 1")["ok"] is False
    finally:
        c.close()
