"""harness/fieldlog.py (issue 14): field logs imported into modemsim transcripts, replayed
against modemsim with the documented differences, turned into scenarios that reproduce the
logged failures; bad input refused with the line, never a traceback."""
import json
import os
import subprocess
import sys

import pytest

from modemsim import BINARY, ROOT

TOOL = os.path.join(ROOT, "harness", "fieldlog.py")
# The project's seed documents sit next to the checkout (../shared/seeds), or where
# MODEMSIM_SEEDS says.
SEEDS = os.environ.get("MODEMSIM_SEEDS", os.path.join(os.path.dirname(ROOT), "shared", "seeds"))
SEED000 = os.path.join(SEEDS, "000_97def052b118702b.txt")
SEED002 = os.path.join(SEEDS, "002_eed5f69e068ad108.txt")
SEED003 = os.path.join(SEEDS, "003_859eb65525a0c5ae.txt")
AWS = 'AT+QMTOPEN=0,"a1gfgsfcsg3p4-ats.iot.us-east-1.amazonaws.com",8883'

needs_seeds = pytest.mark.skipif(not os.path.isdir(SEEDS), reason="no shared seeds here")


def run(*args, timeout=300):
    r = subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def models():
    return subprocess.run([BINARY, "--list-models"], capture_output=True, text=True,
                          timeout=20).stdout.split()


def replay_json(tmp_path, log, *args):
    out = str(tmp_path / "replay.json")
    r = run("replay", "-q", log, "--json", out, *args)
    with open(out) as f:
        return r, json.load(f)


def bad_rows(session):
    return [(r["log"], r["sim"]) for r in session["rows"] if r["mark"] in "!<>"]


# ---------------------------------------------------------------- import


@needs_seeds
@pytest.mark.parametrize("seed", [SEED000, SEED002, SEED003])
def test_seed_imports_and_reimports_stably(seed, tmp_path):
    r = run("import", "-q", seed)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert " TX AT" in text and " RX " in text
    first = tmp_path / "first.log"
    first.write_text(text)
    again = run("import", str(first))
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout == text


@needs_seeds
def test_seed000_curly_quotes_warned_and_kept(tmp_path):
    r = run("import", SEED000)
    assert r.returncode == 0
    assert ("000_97def052b118702b.txt:51: warning: curly quotes straightened: "
            "AT+QFUPL=\u201cRAM:cacert.pem\u201d,1188,100") in r.stderr
    lines = r.stdout.splitlines()
    i = next(i for i, l in enumerate(lines) if l.endswith('TX AT+QFUPL="RAM:cacert.pem",1188,100\\r'))
    assert "original: AT+QFUPL=\u201cRAM:cacert.pem\u201d,1188,100" in lines[i - 1]
    # the sessions of the thread: the report, the timestamped capture, its quote, the
    # working log, a last command
    heads = [l for l in lines if " note fieldlog session " in l]
    assert len(heads) == 5
    assert "model=ec25" in heads[0] and "revision=EC25AFFAR07A08M4G" in heads[0]
    assert "imei=866834041644845" in heads[0]
    assert "format=stamped" in heads[1]


@needs_seeds
def test_seed000_stamped_capture_keeps_its_times():
    r = run("import", "-q", SEED000)
    assert '[12:23:24.873] #1 TX AT+QMTCFG="SSL",0,1,2\\r' in r.stdout
    assert '[12:24:15.511] #1 RX AT+QSSLCFG="ignorelocaltime",2,1\\r\\r\\nOK\\r\\n' in r.stdout
    # the host's own prints between CONNECT and +QFUPL are not data
    assert "Write CA!" not in r.stdout


def test_stamped_capture_with_both_directions(tmp_path):
    """The SSCOM shape of the reference's EC25 captures: 发→◇ what the host sent, 收←◆ what
    it received, with the time of each chunk."""
    log = tmp_path / "sscom.txt"
    log.write_text("[10:00:00.100]\u53d1\u2192\u25c7AT+CSQ\n"
                   "[10:00:00.130]\u6536\u2190\u25c6AT+CSQ\n+CSQ: 28,99\n\nOK\n\n"
                   "[10:00:01.000]\u53d1\u2192\u25c7AT+GSN\n"
                   "[10:00:01.020]\u6536\u2190\u25c6AT+GSN\n866834041644845\n\nOK\n", "utf-8")
    r = run("import", str(log))
    assert r.returncode == 0, r.stderr
    assert "[10:00:00.100] #0 TX AT+CSQ\\r" in r.stdout
    assert "[10:00:00.130] #0 RX AT+CSQ\\r\\r\\n+CSQ: 28,99\\r\\n\\r\\nOK\\r\\n" in r.stdout
    assert "imei=866834041644845" in r.stdout


@needs_seeds
def test_seed003_sent_recv_blocks():
    r = run("import", "-q", SEED003)
    assert r.returncode == 0
    out = r.stdout
    assert "[00:00:04.254] #0 TX AT\\r" in out
    assert "model=sim7600" in out and "revision=SIM7600M21-A_V1.1" in out
    # a RECV block that ends mid-line goes on in the next one
    assert "+GCAP: +CGSM" in out
    assert "#0 RX \\r\\n+CMQTTSUBTOPIC: 0,14\\r\\n\\r\\nERROR\\r\\n" in out


@needs_seeds
def test_seed002_run_together_lines_split():
    r = run("import", "-q", SEED002)
    assert r.returncode == 0
    assert "#0 RX AT+CPIN?\\r\\r\\n+CPIN: READY\\r\\nOK\\r\\n" in r.stdout
    assert "+CMQTTCONNECT: 0,12\\r\\nERROR" in r.stdout
    assert "model=sim7670g" in r.stdout


# ---------------------------------------------------------------- replay


@needs_seeds
def test_seed000_replay_shows_the_documented_failure(tmp_path):
    """The report's session: everything modemsim models matches (identity and network values
    by rule); two lines differ: the APN the host had set before the log begins, and the
    failure itself, +QMTOPEN: 0,-1 where modemsim (with a CA it can verify) opens."""
    r, rep = replay_json(tmp_path, SEED000, "--session", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert bad_rows(rep[0]) == [('+QICSGP: 1,"fast.t-mobile.com","","",0',
                                 '+QICSGP: 1,"","","",0'),
                                ("+QMTOPEN: 0,-1", "+QMTOPEN: 0,0")]
    rules = {rule for row in rep[0]["rows"] for rule in row["rules"]}
    assert {"checksum", "imei", "network"} <= rules
    assert "+QMTOPEN: 0,-1" in r.stdout and "2 line(s) differ" in r.stdout


@needs_seeds
def test_seed000_working_log_replays_without_difference(tmp_path):
    """The thread's working EC2x log (ATE1, uploads, SSL context, open, connect, publish)."""
    r, rep = replay_json(tmp_path, SEED000, "--session", "4")
    assert r.returncode == 0, r.stdout
    assert bad_rows(rep[0]) == []


@needs_seeds
def test_replay_of_an_imported_transcript(tmp_path):
    t = tmp_path / "t.log"
    t.write_text(run("import", "-q", SEED000).stdout)
    r, rep = replay_json(tmp_path, str(t), "--session", "1")
    assert r.returncode == 1
    assert ("+QMTOPEN: 0,-1", "+QMTOPEN: 0,0") in bad_rows(rep[0])


@needs_seeds
@pytest.mark.parametrize("seed,session,model", [(SEED003, 1, "sim7600"),
                                                (SEED002, 4, "sim7670g")])
def test_simcom_seed_replays(tmp_path, seed, session, model):
    """SIMCom logs replay against their model once it is in the binary: the 27.007 rows it
    models match; the rest is reported, never a crash."""
    if model not in models():
        pytest.skip("model %s not in this modemsim yet" % model)
    r, rep = replay_json(tmp_path, seed, "--session", str(session))
    assert r.returncode in (0, 1), r.stderr
    assert rep[0]["model"] == model
    rows = rep[0]["rows"]
    cmds = [i for i, row in enumerate(rows) if row["mark"] == "cmd"]
    for i, j in zip(cmds, cmds[1:] + [len(rows)]):
        if rows[i]["log"] in ("AT+CPSI?", "AT+CGREG?", "AT+CPIN?"):
            assert all(x["mark"] in "=~" for x in rows[i + 1:j]), rows[i:j]


# ---------------------------------------------------------------- to-scenario


@needs_seeds
def test_seed000_scenario_checks_and_reproduces_the_failure(tmp_path):
    scn = tmp_path / "seed000.scn"
    r = run("to-scenario", "-q", SEED000, "--session", "1", "-o", str(scn))
    assert r.returncode == 0, r.stderr
    text = scn.read_text()
    assert 'revision "EC25AFFAR07A08M4G"' in text and "imei 866834041644845" in text
    flat = " ".join(text.replace("\n# ", " ").split())  # comments are wrapped
    assert "line 88: " + AWS in flat  # the comment points at the log line
    assert "fault tls.cert kind untrusted" in text  # the real fault, said so
    c = subprocess.run([BINARY, "--model", "ec25", "--check", str(scn)], capture_output=True,
                       text=True, timeout=20)
    assert c.returncode == 0, c.stdout + c.stderr
    # the logged commands replayed against it: modemsim answers as the module did
    r, rep = replay_json(tmp_path, SEED000, "--session", "1", "--scenario", str(scn))
    assert r.returncode == 0, r.stdout
    assert any(row["log"] == row["sim"] == "+QMTOPEN: 0,-1" for row in rep[0]["rows"])


@needs_seeds
def test_seed000_policy_close_scenario(tmp_path):
    """The timestamped capture: 3 s between commands and +QMTSTAT: 2,1 after AT+QMTCONN."""
    scn = tmp_path / "s2.scn"
    r = run("to-scenario", "-q", SEED000, "--session", "2", "-o", str(scn))
    assert r.returncode == 0, r.stderr
    text = scn.read_text()
    assert "latency command 29" in text  # 2.96 s, the capture's median
    assert 'fault link.reset' in text and "Rak_Wisblock_Mqtt" in text
    c = subprocess.run([BINARY, "--model", "ec25", "--check", str(scn)], capture_output=True,
                       text=True, timeout=20)
    assert c.returncode == 0, c.stdout + c.stderr


# ---------------------------------------------------------------- bad input


def test_binary_garbage(tmp_path):
    p = tmp_path / "garbage.bin"
    p.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    r = run("import", str(p))
    assert r.returncode == 2
    assert r.stderr.startswith(str(p) + ":1: error: binary data (byte 0x00 at offset 7)")


def test_another_vendors_log(tmp_path):
    p = tmp_path / "ublox.txt"
    p.write_text('AT\nOK\nAT+CGMI\nu-blox\n\nOK\nAT+UMQTT=0,"dev1"\n+UMQTT: 0,1\n\nOK\n')
    r = run("replay", str(p))
    assert r.returncode == 2
    assert ":7: error: AT+UMQTT=0,\"dev1\" is a u-blox command" in r.stderr


@needs_seeds
def test_truncated_logs(tmp_path):
    with open(SEED000) as f:
        lines = f.read().split("\n")
    p = tmp_path / "cut.txt"
    p.write_text("\n".join(lines[:88]))  # ends with the AT+QMTOPEN line
    r = run("import", str(p))
    assert r.returncode == 2
    assert ":88: error: the log ends with " + AWS + " and no answer" in r.stderr
    with open(SEED003) as f:
        lines = f.read().split("\n")
    p.write_text("\n".join(lines[:127]))  # inside a RECV block, after its OK
    r = run("import", str(p))
    assert r.returncode == 2
    assert ":125: error: the === RECV@78546 === block is never closed" in r.stderr


def test_empty_and_prose_only(tmp_path):
    p = tmp_path / "prose.txt"
    p.write_text("Hello, my modem does not work. Please help me with this issue today.\n")
    r = run("import", str(p))
    assert r.returncode == 2 and ":1: error: no AT command found" in r.stderr
    p.write_text("")
    r = run("import", str(p))
    assert r.returncode == 2 and ":1: error: the log is empty" in r.stderr
