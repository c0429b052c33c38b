"""Replay the bring-up of public host drivers (harness/drivers_census.json, harness/drivers.md)
against a fresh modemsim, one test per driver family and model, and check that each driver would
proceed: every step's wait is met. Exceptions, each with its reason:

- steps the census records as "unknown" (no source says what the module answers), "module-too"
  (the module fails too) or "out-of-scope" (PPP, CMUX): either outcome is accepted;
- "consequence" steps after such a step failed in this replay: either outcome;
- the remaining real gaps, listed in KNOWN_GAPS: asserted to still fail, so the table stays true.

A step that is let fail is followed as the driver follows it (its on_fail): abort and retry end
the replay there (the driver stops or starts over), ignore and branch go on with the next step.
"""
import json
import os
import re
import time

import pytest
from modemsim import xor16

HERE = os.path.dirname(os.path.abspath(__file__))
CENSUS = json.load(open(os.path.join(HERE, "..", "drivers_census.json")))

# What the census records that the module's answer is not known, or not modemsim's business.
TOLERATED = {
    "unknown": "no source says what the module answers",
    "module-too": "the module answers ERROR too",
    "out-of-scope": "PPP and CMUX are outside modemsim",
}

# The real gaps that remain: (command as in the json, model) -> why. Each is asserted to fail.
KNOWN_GAPS = {}

# Waits that are missed where the module would miss them too, so that the driver takes the path
# the json goes on with: (family, command, its n-th occurrence in the family) -> why. Asserted
# to fail as well.
MISSES = {
    ("pico-lte", "AT+CGACT?", 1):
        "before AT+QIACT context 1 is inactive (+CGACT: 1,0); pico-lte then sets it up "
        "(QICSGP, QIDEACT, QIACT) and asks again, which are the json's next steps",
    ("norvi-ec25", 'AT+CGDCONT=1,"IP","dialogbb"', 2):
        "context 1 is active by then (AT+CGACT=1,1): changing an active context's definition "
        "is refused (+CME ERROR: 3) as the manual says; norvi ignores the answer",
}

FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*|\+CMS ERROR: [^\r\n]*|NO CARRIER|"
                   rb"SEND OK|SEND FAIL|CLOSE OK|DEACT OK|CONNECT OK|ALREADY CONNECT|"
                   rb"\d+, CONNECT OK|\d+, CLOSE OK|\d+, CONNECT FAIL)\r\n")
ERROR_FINAL = re.compile(rb"(^|\r\n)(ERROR|\+CME ERROR: [^\r\n]*)\r\n")
STEP_TIMEOUT = 5.0  # a cap on the driver's timeout: fast timing answers well within it
SETTLE = 0.25  # quiet time after a met wait without a final result (AT+QILOCIP has none)
# After sending data, drivers wait for what the peer answers (a "recv" URC, a poll) before they
# read: the line must have been quiet this long.
DATA_SETTLE = 0.5


def fill(text, extra):
    values = dict(CENSUS["placeholders"], mqtt_connect_hex=CENSUS["mqtt_connect_hex"], **extra)
    for key, val in values.items():
        text = text.replace("{" + key + "}", str(val))
    return text


def waits(step, extra):
    if step.get("wait_any"):
        return "any", [fill(w, extra) for w in step["wait_any"]]
    return "all", [fill(w, extra) for w in step["wait"]]


def met(buf, step, extra):
    how, want = waits(step, extra)
    text = buf.decode("latin-1")
    if how == "any":
        return any(w in text for w in want)
    pos = 0
    for w in want:
        pos = text.find(w, pos)
        if pos < 0:
            return False
        pos += len(w)
    return True


def read_some(tty, wait):
    if tty.buf:
        out, tty.buf = tty.buf, b""
        return out
    try:
        tty._fill(time.monotonic() + wait)
    except OSError:
        return b""
    out, tty.buf = tty.buf, b""
    return out


def collect(tty, step, extra, echo, timeout, settle=0.0):
    """The answer to one step: read until its wait is met and a final result came (or the line
    settled), an error final came, or the timeout passed. The echo is cut off so that a wait
    is never met by the command's own text."""
    buf = b""
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        chunk = read_some(tty, 0.05)
        now = time.monotonic()
        if chunk:
            buf += chunk
            last = now
            if echo and buf.startswith(echo):
                buf = buf[len(echo):]
                echo = b""
        body = buf
        if met(body, step, extra) and (FINAL.search(body) or now - last > SETTLE) and \
                now - last > settle:
            break
        if ERROR_FINAL.search(body) and not met(body, step, extra):
            break
    return buf


def run_step(tty, step, model, extra, term, prev):
    """Send one step as the driver does; (met, answer)."""
    data = None
    if step.get("data_file"):
        with open(os.path.join(extra["pki"], step["data_file"]), "rb") as f:
            data = f.read()
        extra = dict(extra, data_len=len(data), data_xor16="%x" % xor16(data))
    elif step.get("data_hex"):
        data = bytes.fromhex(step["data_hex"])
    elif step.get("data") is not None:
        data = fill(step["data"], extra).encode("latin-1")
    line = fill(step["send"], extra).encode("latin-1")
    timeout = min(step.get("timeout_ms", STEP_TIMEOUT * 1000) / 1000.0, STEP_TIMEOUT)
    timeout = max(timeout, 2.0)
    echo = line + b"\r" if line else b""
    if line:
        tty.write(line + term)
    raw = b""
    if step.get("prompt"):
        prompt = step["prompt"].encode()
        deadline = time.monotonic() + timeout
        while prompt not in raw and time.monotonic() < deadline:
            if ERROR_FINAL.search(raw):
                return False, raw
            raw += read_some(tty, 0.05)
        if prompt not in raw:
            return False, raw
        tty.write(data)
        raw += collect(tty, step, extra, b"", timeout, DATA_SETTLE)
    else:
        raw = collect(tty, step, extra, echo, timeout)
    if met(raw, step, extra):
        return True, raw
    if not line and met(prev + raw, step, extra):
        # a URC the driver waits for may have come with the previous step's answer
        return True, raw
    return False, raw


def cases():
    for fam in CENSUS["sequences"]:
        for model in fam["models"]:
            yield pytest.param(fam, model, id="%s-%s" % (fam["family"], model))


@pytest.mark.parametrize("fam, model", cases())
def test_driver_bringup(modemsim, fam, model):
    sim = modemsim(model=model)
    assert sim.broker, "modemsim announced no broker line: %r" % sim.stdout_lines
    extra = {"pki": os.path.dirname(sim.broker["ca"])}
    tty = sim.open()
    term = fam["terminator"].encode()
    problems = []
    log = []
    let_fail = False  # a tolerated step or a known gap failed earlier in this replay
    prev = b""
    seen = {}
    for step in fam["steps"]:
        if step.get("models") and model not in step["models"]:
            continue
        seen[step["send"]] = seen.get(step["send"], 0) + 1
        ok, raw = run_step(tty, step, model, extra, term, prev)
        prev = raw
        rec = step.get("modemsim", {}).get(model, {})
        why = rec.get("why")
        gap = KNOWN_GAPS.get((step["send"], model)) or \
            MISSES.get((fam["family"], step["send"], seen[step["send"]]))
        log.append("%s %s -> %r" % ("ok" if ok else "--", step["send"] or "(wait)", raw[:120]))
        if gap:
            if ok:
                problems.append("%s: listed in KNOWN_GAPS or MISSES (%s) but its wait is met now: %r"
                                % (step["send"], gap, raw))
        elif why in TOLERATED or (why == "consequence" and let_fail):
            pass  # either outcome: TOLERATED[why], or follows from an earlier such step
        elif not ok:
            problems.append("%s: waited for %r (%s), got %r"
                            % (step["send"] or "(wait)", waits(step, extra)[1], why or "strict",
                               raw))
        if not ok:
            print("let fail: %s -> %r (%s)" % (step["send"] or "(wait)", raw,
                                               gap or TOLERATED.get(why, why)))
            let_fail = True
            if step["on_fail"] in ("abort", "retry"):
                print("the driver stops here (on_fail %s)" % step["on_fail"])
                break  # the driver stops (or starts over) here
    assert not problems, "\n".join(problems + ["", "replay:"] + log)


def test_known_gaps_are_census_steps():
    """Each entry of KNOWN_GAPS and MISSES names a step the census sends to that model."""
    sent = {(s["send"], m) for fam in CENSUS["sequences"] for m in fam["models"]
            for s in fam["steps"] if not s.get("models") or m in s["models"]}
    assert set(KNOWN_GAPS) <= sent
    for (family, send, nth) in MISSES:
        fam = next(f for f in CENSUS["sequences"] if f["family"] == family)
        assert sum(1 for s in fam["steps"] if s["send"] == send) >= nth
