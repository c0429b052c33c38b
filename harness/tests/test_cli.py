"""The process: command line, links, several modems on one loop, logs, shutdown, garbage."""
import json
import os
import random
import signal
import subprocess

import pytest

from modemsim import BINARY, ModemSim, Tty


def run(*args, timeout=10):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_option():
    r = run("--help")
    assert r.returncode == 0
    for opt in ("--model", "--link", "--count", "--seed", "--log", "--trace", "--state",
                "--timing", "--time-scale", "--broker", "--resolve", "--route"):
        assert opt in r.stdout, opt


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("modemsim ")


@pytest.mark.parametrize("args,word", [
    (["--model", "sim800"], "sim800"),
    (["--count", "0"], "--count"),
    (["--count", "x"], "--count"),
    (["--timing", "slow"], "slow"),
    (["--time-scale", "-1"], "--time-scale"),
    (["--bogus"], "--bogus"),
    (["--link"], "--link"),
    (["stray"], "stray"),
])
def test_bad_flags_one_line_exit_2(args, word):
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], r.stderr
    assert r.stdout == ""


def test_count_links_and_distinct_identities(modemsim, tmp_path):
    link = str(tmp_path / "tty")
    sim = modemsim("--link", link, "--seed", "7", count=3)
    assert [m[0] for m in sim.modems] == [0, 1, 2]
    imeis = set()
    for i in range(3):
        assert os.path.realpath("%s.%d" % (link, i)) == sim.path(i)
        t = sim.open(i)
        out = t.cmd("AT+GSN")
        imei = out.split(b"\r\n")[1]
        assert len(imei) == 15 and imei.isdigit()
        imeis.add(imei)
    assert len(imeis) == 3
    sim.stop()
    for i in range(3):
        assert not os.path.lexists("%s.%d" % (link, i))


def test_seed_is_repeatable(modemsim):
    a = modemsim("--seed", "42").open().cmd("AT+GSN")
    b = modemsim("--seed", "42").open().cmd("AT+GSN")
    c = modemsim("--seed", "43").open().cmd("AT+GSN")
    assert a == b and a != c


def test_sigint_and_sigterm_clean_exit(tmp_path):
    for sig in (signal.SIGINT, signal.SIGTERM):
        link = str(tmp_path / ("l%d" % sig))
        sim = ModemSim("--link", link, workdir=str(tmp_path))
        assert os.path.islink(link)
        sim.proc.send_signal(sig)
        assert sim.proc.wait(timeout=10) == 0
        assert not os.path.lexists(link)
        sim.stop()


def test_link_refuses_to_replace_a_regular_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")
    r = run("--link", str(path), "--broker", "none")
    assert r.returncode == 1 and "not a symlink" in r.stderr
    assert path.read_text() == "keep me"


def test_transcript_and_trace(modemsim):
    sim = modemsim()
    t = sim.open()
    t.cmd("AT+CMEE?")
    t.cmd("AT+NOPE")
    sim.stop()
    log = sim.transcript().decode()
    assert "TX AT+CMEE?\\r" in log
    assert "RX AT+CMEE?\\r\\r\\n+CMEE: 1\\r\\n\\r\\nOK\\r\\n" in log
    cmds = [e for e in sim.trace() if e["ev"] == "cmd"]
    assert {"cmd": "+CMEE?", "result": "OK"}.items() <= cmds[-2].items()
    assert cmds[-1]["result"] == "ERROR" and "+NOPE" in cmds[-1]["why"]
    for e in sim.trace():
        assert isinstance(e["t"], float) and e["modem"] == 0


def test_modem_survives_random_garbage(modemsim):
    """64 KiB of random bytes in random chunks: no crash, no hang, and after a CR the modem
    answers again."""
    sim = modemsim()
    t = sim.open()
    rnd = random.Random(1234)
    sent = 0
    while sent < 65536:
        n = rnd.randint(1, 700)
        chunk = bytes(rnd.getrandbits(8) for _ in range(n))
        # keep the garbage from switching echo, result codes or the radio off
        chunk = chunk.replace(b"\x1b", b"").replace(b"A", b"a")
        t.write(chunk)
        sent += n
        t.drain(quiet=0.0, timeout=0.05)
    t.write(b"\r")
    t.drain(quiet=0.3, timeout=10)
    assert t.cmd("AT") == b"AT\r\r\nOK\r\n"
    assert sim.proc.poll() is None


def test_host_that_never_reads_does_not_stall_the_modem(modemsim):
    """A host that writes but does not read: output is bounded, modemsim keeps serving."""
    sim = modemsim(count=2)
    quiet = sim.open(0, boot=False)
    for _ in range(2000):
        quiet.write(b"ATI\r")
    other = sim.open(1)
    assert other.cmd("AT") == b"AT\r\r\nOK\r\n"
    quiet.drain(quiet=0.3, timeout=20)
    assert quiet.cmd("AT", timeout=10).endswith(b"OK\r\n")
