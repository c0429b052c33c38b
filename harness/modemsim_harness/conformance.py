#!/usr/bin/env python3
"""Run a host driver against modemsim, models x scenarios, and write a conformance report.

    python3 harness/conformance.py --driver './my-driver --port {tty}' \\
        [--models ec25,m95] [--scenarios scenarios/*.scn] [--expect-topic 'dev/+/up' ...] \\
        [--timeout 60] [--timing realistic] --out DIR

Standard library only (no paho, no pytest), so any python3 runs it; `pytest --driver ...` runs
the same matrix through harness/plugin.py. The driver contract is in harness/README.md:

  1. For each cell (model, scenario) a fresh modemsim starts with its embedded broker, `--link
     OUT/<cell>/tty`, `--trace`, `--log` and `--control`; the scenario applies from the start.
  2. A subscriber connects to that broker (topic #) before the driver starts, so every message
     the driver makes the modem publish is seen.
  3. The driver command runs through /bin/sh with {tty} (and {model}, {scenario}, {ca}, {cert},
     {key}, {control}, {out}) replaced by shell-quoted values; MODEMSIM_TTY etc. are in its
     environment too. It must exit within --timeout seconds, else its process group is killed.
  4. The cell passes when the driver exited 0 in time, every --expect-topic was seen at the
     broker, modemsim reported no finding of --fail-on severity, and modemsim exited cleanly.

Statuses: pass, fail (the driver's fault), error (modemsim or the setup failed: not the
driver's fault), skip (the scenario is for another model). Exit status: 0 when no cell failed
or errored, 1 otherwise, 2 on bad usage.
"""
import argparse
import glob
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from . import fakebroker as fbk  # stdlib-only MQTT packet builders and parser
from . import report
from .modemsim import BINARY, ROOT, ModemSim, Timeout  # noqa: F401  (ROOT: conformance.ROOT)
from .paths import SCENARIOS

MODELS = ("ec25", "m95")  # the default matrix
KNOWN_MODELS = ("ec25", "m95", "bg96", "sim7600", "a7670", "sim7670g")
BASELINE = "baseline"  # the cell without a scenario: the modem as shipped
SEVERITIES = ("error", "warning", "info")
FAIL_ON = {"error": ("error",), "warning": ("error", "warning"), "none": ()}
# What a driver is told about the network (README, "Running it": the embedded broker resolves
# every name to itself and routes 1883 and 8883 to its plain and TLS listeners).
BROKER_HOST = "broker.modemsim.test"
TAIL = 4000  # bytes of a driver's stdout/stderr kept in the report


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- expected messages


def topic_matches(filt, topic):
    """MQTT 3.1.1 4.7: '+' one level, '#' (last) this level and every level below; filters
    starting with a wildcard do not match topics starting with '$' (4.7.2)."""
    f, t = filt.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t):
            return False
        if part != "+" and part != t[i]:
            return False
    return len(f) == len(t)


def parse_expect(spec):
    """'FILTER' or 'FILTER=~REGEX' (the payload, as UTF-8 text, must match REGEX somewhere).
    `=~` is Perl's and bash's match operator; it is very unlikely in a real topic."""
    filt, sep, pattern = spec.partition("=~")
    if not filt:
        raise UsageError("--expect-topic %r: empty topic filter" % spec)
    if "#" in filt[:-1] or ("#" in filt and not (filt == "#" or filt.endswith("/#"))):
        raise UsageError("--expect-topic %r: '#' must be the last level" % spec)
    if sep:
        try:
            re.compile(pattern)
        except re.error as e:
            raise UsageError("--expect-topic %r: bad payload pattern: %s" % (spec, e))
    return {"spec": spec, "filter": filt, "payload": pattern if sep else None}


def expect_met(exp, msg):
    if not topic_matches(exp["filter"], msg["topic"]):
        return False
    return exp["payload"] is None or re.search(exp["payload"], msg["payload"]) is not None


# ---------------------------------------------------------------- the subscriber


class Subscriber:
    """A minimal MQTT 3.1.1 subscriber on a socket (fakebroker's byte-exact builders): CONNECT
    with a clean session and no keepalive, SUBSCRIBE at QoS 1, PUBACK what arrives, and record
    every message with its arrival time. Every wait has a deadline.

    When the broker goes away (the fault broker.restart, or mqtt.session-lost, restarts the
    embedded mosquitto on the same ports) it connects and subscribes again as soon as the
    broker listens; `reconnects` counts that. A message published in the moment between the
    broker listening again and the new SUBSCRIBE is not seen: the restarted broker has no
    session to keep it in."""

    def __init__(self, host, port, topics=("#",), client_id="modemsim-conformance",
                 timeout=5.0):
        self.messages = []
        self.reconnects = 0
        self.error = None
        self._addr = (host, port)
        self._topics = topics
        self._client_id = client_id
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self.sock = None
        self._connect(timeout)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _connect(self, timeout):
        deadline = time.monotonic() + timeout
        sock = socket.create_connection(self._addr, timeout)
        self._rx = b""
        try:
            # 3.1.2: clean session; keepalive 0 (no PINGREQ).
            sock.sendall(fbk.connect_packet(self._client_id, keepalive=0))
            p = self._read_packet(sock, deadline)
            if p.type != fbk.CONNACK or len(p.body) != 2 or p.body[1] != 0:
                raise ConnectionError("broker refused the subscriber: %r" % p.raw)
            sock.sendall(fbk.subscribe_packet(1, [(t, 1) for t in self._topics]))
            p = self._read_packet(sock, deadline)
            if p.type != fbk.SUBACK or 0x80 in p.body[2:]:
                raise ConnectionError("broker refused the subscription: %r" % p.raw)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        self.sock = sock

    def _read_packet(self, sock, deadline):
        while True:
            pkts, self._rx = fbk.split_packets(self._rx)
            if pkts:
                raw, hl = pkts[0]
                # Put the rest back: only the set-up packets are read this way.
                self._rx = b"".join(r for r, _ in pkts[1:]) + self._rx
                return fbk.Packet(0, raw, hl, time.monotonic())
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no answer from the broker to the subscriber")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the broker closed the subscriber's connection")
            self._rx += chunk

    def _serve(self):
        try:
            while True:
                pkts, self._rx = fbk.split_packets(self._rx)
                for raw, hl in pkts:
                    self._handle(fbk.Packet(0, raw, hl, time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                self._rx += chunk
        except (OSError, ValueError) as e:
            self.error = e

    def _run(self):
        while True:
            self._serve()
            if self._closing.is_set():
                break
            self.sock.close()
            while not self._closing.is_set():
                try:
                    self._connect(2.0)
                    self.reconnects += 1
                    break
                except (OSError, Timeout):  # ConnectionError is an OSError
                    self._closing.wait(0.05)  # not listening yet: try again shortly
            if self._closing.is_set():
                break
        with self._cond:
            self._cond.notify_all()

    def _handle(self, p):
        # QoS 2 never comes: the subscription's maximum is 1 (3.8.3).
        if p.type != fbk.PUBLISH or p.malformed:
            return
        if p.qos == 1:
            self.sock.sendall(fbk.puback(p.packet_id))
        with self._cond:
            self.messages.append({"t": round(time.time(), 3), "topic": p.topic,
                                  "payload": p.payload.decode("utf-8", "backslashreplace"),
                                  "size": len(p.payload), "qos": p.qos, "retain": p.retain})
            self._cond.notify_all()

    def wait(self, done, timeout):
        """Wait until done(messages) is true or the deadline passes; returns done's value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = done(self.messages)
                left = deadline - time.monotonic()
                if v or left <= 0 or not self._thread.is_alive():
                    return v
                self._cond.wait(left)

    def close(self):
        self._closing.set()
        try:
            self.sock.sendall(fbk.disconnect_packet())
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._thread.join(5)
        self.sock.close()


# ---------------------------------------------------------------- the driver


PLACEHOLDER_RE = re.compile(r"\{(tty|model|scenario|ca|cert|key|control|out)\}")


def substitute(template, values):
    """Replace the known {name}s by shell-quoted values; any other brace is left alone, so a
    command may contain awk '{print}' or ${VAR}."""
    return PLACEHOLDER_RE.sub(lambda m: shlex.quote(str(values[m.group(1)])), template)


def tail(path, n=TAIL):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return ("[...]\n" if size > n else "") + text


def wait_exited(pid, timeout):
    """Wait until our child pid has exited, without reaping it: while it is a zombie its pid,
    which is its process group's id, cannot be reused, so killpg() cannot reach a stranger's
    group. True once it exited, False at the deadline. A pidfd (Linux 5.3) becomes readable
    at the exit; without one, poll with a growing pause."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            return bool(select.select([fd], [], [], max(timeout, 0))[0])
        finally:
            os.close(fd)
    deadline, pause = time.monotonic() + timeout, 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
    return True


def run_driver(command, env, timeout, stdout_path, stderr_path):
    """Run command through /bin/sh in a session of its own. At the deadline its process group
    gets SIGTERM; two seconds later, or when the driver exits, whatever is left in the group
    (a driver's stray children) gets SIGKILL. Returns the driver part of a cell."""
    t0, started = time.monotonic(), time.time()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env, start_new_session=True)
    timed_out = interrupted = False
    try:
        timed_out = not wait_exited(proc.pid, timeout)
    except KeyboardInterrupt:
        # Ctrl+C reaches our process group, not the driver's session: stop it as at a
        # timeout, and let the caller write what it has.
        interrupted = True
    ended = time.time()
    if timed_out or interrupted:
        os.killpg(proc.pid, signal.SIGTERM)
        wait_exited(proc.pid, 2.0)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
    duration = time.monotonic() - t0
    rc = proc.returncode
    return {"command": command, "exit": rc if rc >= 0 else None,
            "signal": signal.Signals(-rc).name if rc < 0 else None,
            "timed_out": timed_out, "interrupted": interrupted,
            "duration": round(duration, 3), "started_at": round(started, 3),
            "ended_at": round(ended, 3), "stdout": tail(stdout_path),
            "stderr": tail(stderr_path)}


# ---------------------------------------------------------------- one cell

# sun_path holds 108 bytes with its NUL (unix(7)); pytest's tmp_path and deep --out
# directories exceed it.
SUN_PATH_MAX = 107


def control_path(wanted):
    """wanted, or a short path in a new temporary directory when wanted is too long for a
    unix-domain socket; control_path_done(path) removes that directory."""
    if len(os.fsencode(wanted)) <= SUN_PATH_MAX:
        return wanted
    return os.path.join(tempfile.mkdtemp(prefix="modemsim-ctl-"), "control.sock")


def control_path_done(path):
    d = os.path.dirname(path)
    if os.path.basename(d).startswith("modemsim-ctl-"):
        shutil.rmtree(d, ignore_errors=True)


def scenario_name(path):
    return BASELINE if path is None else os.path.splitext(os.path.basename(path))[0]


# A scenario's expected outcome for a correct driver: a comment line (modemsim's parser skips
# it; scenarios/README.md "Expected outcome"), e.g.  # expect: fail "the CA is wrong"
EXPECT_RE = re.compile(r'^#\s*expect:\s*(\S+)\s*(.*?)\s*$')


def read_expectation(path):
    """{"outcome": "pass"|"fail", "why", "line"} from the file's `# expect:` line, or None.
    Raises UsageError naming file:line for an outcome that is neither."""
    if path is None:
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, text in enumerate(f, 1):
            m = EXPECT_RE.match(text)
            if not m:
                continue
            outcome, why = m.group(1), m.group(2)
            if outcome not in ("pass", "fail"):
                raise UsageError("%s:%d: expect: %r is not pass or fail" % (path, n, outcome))
            if len(why) >= 2 and why[0] == why[-1] == '"':
                why = why[1:-1]
            return {"outcome": outcome, "why": why, "line": n}
    return None


def check_scenario(path, model, timeout=10.0):
    """(status, message): ("ok", ""), ("skip", why) when the file names another model, or
    ("error", modemsim's file:line:col messages)."""
    res = subprocess.run([BINARY, "--check", path, "--model", model], capture_output=True,
                         text=True, timeout=timeout)
    if res.returncode == 0:
        return "ok", ""
    msg = (res.stdout + res.stderr).strip()
    # modemsim --check's words for a `model` statement that differs (sim/scenario/parse.c).
    if "does not match --model" in msg:
        lines = [l for l in msg.splitlines() if "does not match --model" in l]
        return "skip", lines[0]
    return "error", msg


def verdict(cell, fail_on):
    """Fill cell["status"] and cell["reasons"] from what was recorded."""
    reasons, errors = [], []
    d = cell["driver"]
    if d is not None:
        if d["timed_out"]:
            reasons.append("driver did not finish within %g s (killed)" % cell["timeout"])
        elif d["signal"]:
            reasons.append("driver killed by %s" % d["signal"])
        elif d["exit"] != 0:
            last = [l for l in d["stderr"].splitlines() if l.strip()][-1:]
            reasons.append("driver exited with status %s%s" % (
                d["exit"], " (stderr: %s)" % last[0][:200] if last else ""))
    for exp in cell["expected"]:
        if exp["ok"]:
            continue
        if exp["on_topic"] == 0:
            reasons.append("no message on %s at the broker" % exp["filter"])
        else:
            reasons.append("%d message(s) on %s, none with a payload matching %r" %
                           (exp["on_topic"], exp["filter"], exp["payload"]))
    for f in cell["findings"]:
        if f.get("severity") in FAIL_ON[fail_on]:
            reasons.append("finding %s %s (transcript line %s): %s" %
                           (f.get("severity"), f.get("kind"), f.get("line"), f.get("msg")))
    ms = cell["modemsim"]
    if ms.get("error"):
        errors.append(ms["error"])
    elif ms.get("exit") not in (0, None):
        errors.append("modemsim exited with status %s" % ms["exit"])
    if d is not None and d.get("interrupted"):
        cell["status"] = "interrupted"
        cell["reasons"] = ["the run was interrupted (Ctrl+C): the driver was stopped after "
                           "%.1f s" % d["duration"]] + errors
        return
    if errors:
        cell["status"] = "error"
        cell["reasons"] = errors + reasons
        return
    cell["status"] = "fail" if reasons else "pass"
    cell["reasons"] = reasons
    x = cell.get("expectation")
    if x and x["outcome"] == "fail":
        why = " (%s)" % x["why"] if x.get("why") else ""
        clean = d is not None and not d["timed_out"] and not d["signal"] and not any(
            r.startswith("finding ") for r in reasons)
        if cell["status"] == "pass":
            cell["status"] = "xpass"
            cell["reasons"] = ["succeeded where the scenario says a correct driver fails%s: "
                               "check what the driver skipped (e.g. verifying the server)" % why]
        elif clean:
            cell["status"] = "xfail"
            cell["reasons"] = ["failed as the scenario expects%s" % why] + reasons
        else:
            cell["reasons"] = ["the scenario expects a clean failure%s, not this" % why] + reasons
    elif x and x["outcome"] == "pass" and cell["status"] == "fail":
        cell["reasons"] = ["the scenario expects a correct driver to pass"] + reasons


def flags(cell, records):
    """What makes a pass say little: flagged in the report, never a silent PASS."""
    out = []
    if cell["driver"] is not None and not any(r.get("ev") == "tx" for r in records):
        out.append("no AT traffic: the driver never wrote to the modem")
    if cell["driver"] is not None and not cell["expected"]:
        out.append("no expectation: no --expect-topic, so nothing was checked at the broker, "
                   "only the driver's exit status")
    return out


def run_cell(driver, model, scenario, out, cell_id=None, expect=(), timeout=60.0,
             timing="realistic", modemsim_args=(), settle=2.0, fail_on="error", log=None):
    """Run the driver once against one model and scenario (a path or None); returns the cell
    (a JSON-able dict, also written to OUT/<cell_id>/cell.json). Never raises for what the
    driver or modemsim did: that is the cell's status."""
    name = scenario_name(scenario)
    cell_id = cell_id or "%s-%s" % (model, name)
    cdir = os.path.join(out, cell_id)
    os.makedirs(cdir, exist_ok=True)
    rel = lambda p: os.path.relpath(p, out)  # noqa: E731
    cell = {"id": cell_id, "model": model, "scenario": name,
            "scenario_path": os.path.abspath(scenario) if scenario else None,
            "timeout": timeout, "timing": timing, "status": "error", "reasons": [],
            "driver": None, "modemsim": {}, "expected": [], "messages": [], "findings": [],
            "faults": [], "started": round(time.time(), 3), "duration": 0.0,
            "files": {"trace": rel(os.path.join(cdir, "trace.jsonl")),
                      "transcript": rel(os.path.join(cdir, "transcript.log")),
                      "modemsim_stderr": rel(os.path.join(cdir, "stderr.txt")),
                      "driver_stdout": rel(os.path.join(cdir, "driver.stdout")),
                      "driver_stderr": rel(os.path.join(cdir, "driver.stderr"))}}
    t0 = time.monotonic()
    say = log or (lambda s: None)
    say("%-24s ..." % cell_id)
    try:
        _run_cell(cell, driver, model, scenario, cdir, expect, timeout, timing,
                  modemsim_args, settle, fail_on)
    except KeyboardInterrupt:  # outside the driver's run: setting up or cleaning up
        cell["status"] = "interrupted"
        cell["reasons"] = ["the run was interrupted (Ctrl+C)"]
    finally:
        cell["duration"] = round(time.monotonic() - t0, 3)
        with open(os.path.join(cdir, "cell.json"), "w") as f:
            json.dump(cell, f, indent=1)
    cause = cell.get("cause")
    say("%-24s %s%s%s%s" % (cell_id, cell["status"].upper(),
                            (": " + "; ".join(cell["reasons"])) if cell["reasons"] else "",
                            "\n%-24s   the modem says: %s%s" % (
                                "", cause["text"], " (%d times)" % cause["count"]
                                if cause["count"] > 1 else "") if cause else "",
                            "".join("\n%-24s   unchecked: %s" % ("", f)
                                    for f in cell.get("flags", []))))
    return cell


def _run_cell(cell, driver, model, scenario, cdir, expect, timeout, timing, modemsim_args,
              settle, fail_on):
    if scenario is not None:
        try:
            cell["expectation"] = read_expectation(scenario)
        except (UsageError, OSError) as e:
            cell["reasons"] = ["scenario invalid: %s" % e]
            return
        status, msg = check_scenario(scenario, model)
        if status != "ok":
            cell["status"] = status
            cell["reasons"] = [("scenario does not apply to %s: %s" % (model, msg))
                               if status == "skip" else "scenario invalid: %s" % msg]
            return
    tty = os.path.join(cdir, "tty")
    control = control_path(os.path.join(cdir, "control.sock"))
    args = ["--link", tty, "--control", control] + list(modemsim_args)
    if scenario is not None:
        args += ["--scenario", os.path.abspath(scenario)]
    cell["modemsim"] = {"binary": BINARY}
    try:
        sim = ModemSim(*args, model=model, timing=timing, workdir=cdir)
    except (AssertionError, OSError) as e:  # Timeout is an AssertionError
        cell["modemsim"]["error"] = "modemsim did not start: %s" % e
        control_path_done(control)
        verdict(cell, fail_on)
        return
    cell["modemsim"]["argv"] = sim.argv
    sub = None
    try:
        if sim.broker is None:
            raise RuntimeError("modemsim has no embedded broker (--broker none?): "
                               "nothing to watch the messages at")
        sub = Subscriber(sim.broker["host"], sim.broker["plain"])
        ca = sim.broker["ca"]
        values = {"tty": tty, "model": model, "scenario": cell["scenario"], "ca": ca,
                  "cert": os.path.join(os.path.dirname(ca), "client-rsa.pem"),
                  "key": os.path.join(os.path.dirname(ca), "client-rsa.key"),
                  "control": control, "out": cdir}
        env = dict(os.environ)
        env.update({"MODEMSIM_" + k.upper(): str(v) for k, v in values.items()})
        env["MODEMSIM_BROKER_HOST"] = BROKER_HOST
        cell["driver"] = run_driver(substitute(driver, values), env, timeout,
                                    os.path.join(cdir, "driver.stdout"),
                                    os.path.join(cdir, "driver.stderr"))
        exps = [dict(e) for e in expect]

        def all_seen(msgs):
            return all(any(expect_met(e, m) for m in msgs) for e in exps)

        # A QoS 0 publish is done for the driver once written; the broker forwards it a
        # moment later. Wait for the missing ones (at most settle s; at once when none is).
        if not cell["driver"]["interrupted"]:
            sub.wait(all_seen, settle if cell["driver"]["exit"] == 0 else min(settle, 0.5))
    except (OSError, RuntimeError, Timeout, ConnectionError) as e:
        cell["modemsim"]["error"] = "set-up failed: %s" % e
        exps = []
    finally:
        if sub is not None:
            sub.close()
            cell["messages"] = list(sub.messages)
            cell["subscriber_reconnects"] = sub.reconnects
        try:
            cell["modemsim"]["exit"] = sim.stop()
        except AssertionError as e:  # no exit after SIGTERM, or a sanitizer report
            cell["modemsim"]["error"] = str(e)[:TAIL]
        cell["modemsim"]["stderr"] = tail(sim.stderr_path)
        control_path_done(control)
    for e in exps:
        on_topic = [m for m in cell["messages"] if topic_matches(e["filter"], m["topic"])]
        e["on_topic"] = len(on_topic)
        e["seen"] = sum(1 for m in on_topic if expect_met(e, m))
        e["ok"] = e["seen"] > 0
    cell["expected"] = exps
    records = report.load_trace(sim.trace_path)
    cell["findings"] = report.findings(records)
    cell["faults"] = [r.get("msg", "") for r in records if r.get("ev") == "fault"]
    verdict(cell, fail_on)
    cell["cause"] = (report.failure(records) if cell["status"] in (
        "fail", "xfail", "error", "interrupted") else None)
    cell["flags"] = flags(cell, records) if cell["status"] == "pass" else []


# ---------------------------------------------------------------- the matrix


def resolve_scenarios(specs):
    """Paths (or None for the baseline) from words that are files, globs, comma-separated
    lists, or 'baseline'. Raises UsageError for a word that names nothing."""
    out = []
    for spec in specs:
        for word in spec.split(","):
            word = word.strip()
            if not word:
                continue
            if word == BASELINE:
                out.append(None)
                continue
            found = sorted(glob.glob(word)) if glob.has_magic(word) else (
                [word] if os.path.isfile(word) else [])
            if not found:
                raise UsageError("scenario %r: no such file" % word)
            out += found
    seen, unique = set(), []
    for p in out:
        key = None if p is None else os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def parse_models(spec):
    models = [m.strip() for m in spec.split(",") if m.strip()]
    bad = [m for m in models if m not in KNOWN_MODELS]
    if bad or not models:
        raise UsageError("--models: unknown model %r (expected %s)" %
                         (",".join(bad) or spec, ",".join(KNOWN_MODELS)))
    return models


def cells_of(models, scenarios):
    """[(cell_id, model, scenario path or None)], the ids unique even when two scenario files
    share a name."""
    out, used = [], set()
    for model in models:
        for sc in scenarios:
            # a scenario named for its model (ec25-slow-module) does not repeat it
            name = scenario_name(sc)
            base = name if name.startswith(model + "-") else "%s-%s" % (model, name)
            cid, n = base, 2
            while cid in used:
                cid, n = "%s-%d" % (base, n), n + 1
            used.add(cid)
            out.append((cid, model, sc))
    return out


def new_report(driver, models, scenarios, expect, timeout, timing, fail_on):
    return {"tool": "modemsim conformance", "format": 1, "started": round(time.time(), 3),
            "driver": driver, "models": list(models),
            "scenarios": [scenario_name(s) for s in scenarios],
            "expect": [e["spec"] for e in expect], "timeout": timeout, "timing": timing,
            "fail_on": fail_on, "binary": BINARY, "cells": [], "summary": {}}


def summarize(rep):
    """Counts per status: pass, fail, error and skip always; xfail, xpass and interrupted
    when there are any. rep["flagged"]: passes flagged as unchecked."""
    s = {k: 0 for k in ("pass", "fail", "error", "skip")}
    for c in rep["cells"]:
        s[c["status"]] = s.get(c["status"], 0) + 1
    rep["summary"] = s
    rep["flagged"] = sum(1 for c in rep["cells"] if c.get("flags"))
    return s


def failed(s):
    """Cells that make the run fail: an xpass too (a driver that succeeds where a correct
    one cannot, e.g. by not verifying the server, is wrong)."""
    return sum(s.get(k, 0) for k in ("fail", "error", "xpass", "interrupted"))


def summary_line(rep, out):
    s = rep["summary"]
    extra = "".join(", %d %s" % (s[k], w) for k, w in (
        ("xfail", "failed as expected"), ("xpass", "passed unexpectedly"),
        ("interrupted", "interrupted")) if s.get(k))
    flagged = " (%d unchecked)" % rep["flagged"] if rep.get("flagged") else ""
    return "%d passed%s, %d failed, %d errors, %d skipped%s; report: %s" % (
        s["pass"], flagged, s["fail"], s["error"], s["skip"], extra,
        os.path.join(out, "report.html"))


def run_matrix(driver, out, models=MODELS, scenarios=(None,), expect=(), timeout=60.0,
               timing="realistic", modemsim_args=(), settle=2.0, fail_on="error", log=None):
    """Run every cell and write OUT/report.json and OUT/report.html; returns the report."""
    os.makedirs(out, exist_ok=True)
    expect = [parse_expect(e) if isinstance(e, str) else e for e in expect]
    rep = new_report(driver, models, scenarios, expect, timeout, timing, fail_on)
    todo = cells_of(models, scenarios)
    for i, (cid, model, sc) in enumerate(todo):
        c = run_cell(driver, model, sc, out, cid, expect, timeout, timing, modemsim_args,
                     settle, fail_on, log)
        rep["cells"].append(c)
        if c["status"] == "interrupted":
            rep["interrupted"] = "Ctrl+C in cell %s: %d of %d cells not run (%s)" % (
                cid, len(todo) - i - 1, len(todo), ", ".join(t[0] for t in todo[i + 1:]) or
                "none")
            break
    summarize(rep)
    report.write(out, rep)
    return rep


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="conformance.py", description="Run a host driver against modemsim, models x "
        "scenarios, and write OUT/report.json and OUT/report.html (harness/README.md).")
    ap.add_argument("--driver", required=True, metavar="CMD",
                    help="the driver command, run by /bin/sh; {tty} is the modem's tty, "
                    "also {model} {scenario} {ca} {cert} {key} {control} {out}")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated (ec25,m95)")
    ap.add_argument("--scenarios", nargs="+", default=None, metavar="SCN",
                    help="scenario files or globs, comma-separated or not; 'baseline' is the "
                    "cell without a scenario (default: baseline and scenarios/*.scn)")
    ap.add_argument("--expect-topic", nargs="+", action="extend", default=[], metavar="T",
                    help="a topic filter (+, #) that must get a message at the broker; "
                    "FILTER=~REGEX also checks the payload")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds the driver may run per cell (default 60)")
    ap.add_argument("--timing", choices=("realistic", "fast"), default="realistic",
                    help="modemsim's --timing (default realistic, as in the field)")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds to wait after the driver for expected messages (default 2)")
    ap.add_argument("--fail-on", choices=sorted(FAIL_ON), default="error",
                    help="finding severity that fails a cell (default error)")
    ap.add_argument("--modemsim-arg", action="append", default=[], metavar="ARG",
                    help="one more modemsim argument, e.g. --modemsim-arg=--time-scale=0.5")
    ap.add_argument("--out", required=True, help="directory for the report and each cell's "
                    "trace, transcript and driver output")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    try:
        args = ap.parse_args(argv)
        models = parse_models(args.models)
        specs = args.scenarios if args.scenarios is not None else [
            BASELINE, os.path.join(SCENARIOS, "*.scn")]
        scenarios = resolve_scenarios(specs)
        expect = [parse_expect(e) for e in args.expect_topic]
        if not scenarios:
            raise UsageError("--scenarios: nothing to run")
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        if not os.access(BINARY, os.X_OK):
            raise UsageError("no modemsim binary at %s (build it, or set MODEMSIM_BIN)" % BINARY)
    except UsageError as e:
        print("conformance.py: %s" % e, file=sys.stderr)
        return 2
    log = None if args.quiet else (lambda s: print(s, flush=True))
    rep = run_matrix(args.driver, args.out, models, scenarios, expect, args.timeout,
                     args.timing, args.modemsim_arg, args.settle, args.fail_on, log)
    print(summary_line(rep, args.out), flush=True)
    if rep.get("interrupted"):
        print("conformance.py: interrupted: %s" % rep["interrupted"], file=sys.stderr)
        return 130
    return 1 if failed(rep["summary"]) else 0


if __name__ == "__main__":
    sys.exit(main())
