#!/usr/bin/env python3
"""Conformance reports: report.json and one self-contained HTML page per run, built from
modemsim's --trace (JSON lines) and --log (transcript) files. Standard library only.

The HTML needs nothing from the network (inline CSS and a few lines of inline script; no
fonts, images or links to elsewhere): a summary table of the cells, and per cell its reasons,
the messages seen at the broker against those expected, the findings, a sequence diagram
host <-> modem <-> broker (AT bytes on the left, MQTT packets and TCP/TLS events on the right,
faults and findings as marked bands) and the transcript, with each diagram row and finding
linked to its transcript line.

    modemsim-report DIR                             re-render DIR/report.html from report.json
    modemsim-report --trace T [--log L] [--title S] --out FILE.html
                                                    one modemsim run (no driver, no matrix)

Trace records (sim/core/log.c): {"t", "modem", "ev"} plus "bytes" and "line" (tx/rx), "cmd",
"result", "why" (cmd), "severity", "kind", "line", "msg" (finding), "msg" (any other event).
Every record is one transcript line, in the same order, so the n-th record is line n.
"""
import argparse
import html
import json
import os
import re
import sys
import time
import unicodedata

STATUSES = ("pass", "xfail", "fail", "xpass", "error", "skip", "interrupted")
MAX_ROWS = 5000  # diagram rows per cell; the transcript has the rest
MAX_LINES = 50000  # transcript lines per cell
NET_EVENTS = ("net", "tls", "sock", "pdp")


# ---------------------------------------------------------------- reading


def load_trace(path):
    """The records of a trace file, each with "_line", its transcript line. A line that is
    not JSON (a trace cut short by a crash) becomes an "ev": "bad" record."""
    out = []
    if not path or not os.path.exists(path):
        return out
    line = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for text in f:
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                rec = {"ev": "bad", "msg": "unreadable trace line: %r" % text[:200],
                       "t": out[-1].get("t") if out else None}
            # tx/rx carry their line; every other record is the next one (sim/core/log.c).
            line = rec["line"] if rec.get("ev") in ("tx", "rx") and isinstance(
                rec.get("line"), int) else line + 1
            rec["_line"] = line
            out.append(rec)
    return out


def findings(records):
    return [{"severity": r.get("severity", "error"), "kind": r.get("kind", "?"),
             "line": r.get("line"), "msg": r.get("msg", ""), "t": r.get("t"),
             "modem": r.get("modem", 0)} for r in records if r.get("ev") == "finding"]


def run_info(records):
    """{"model", "scenarios"} from the record modemsim writes first for each modem
    (sim/main.c trace_start: "model ec25 scenario a.scn b.scn"); empty when absent."""
    for r in records:
        if r.get("ev") == "start":
            model, _, files = r.get("msg", "").partition(" scenario ")
            return {"model": model.replace("model ", "", 1).strip(),
                    "scenarios": files.split() if files else []}
    return {}


# Result URCs the host can read as a failure: (regex, test on the groups). A +QMTSTAT is a lost
# link (5 ends the host's own AT+QMTDISC: not a failure); +QMTCONN's ret_code is the CONNACK's.
URC_FAILURES = [
    (re.compile(r'\+QMTOPEN: (\d+),(-?\d+)'), lambda g: g[1] != "0"),
    (re.compile(r'\+QMTCONN: (\d+),(\d+)(?:,(\d+))?'),
     lambda g: g[1] != "0" or g[2] not in (None, "0")),
    (re.compile(r'\+QMT(?:SUB|PUB|UNS): (\d+),(\d+),(\d+)'), lambda g: g[2] == "2"),
    (re.compile(r'\+QMT(?:DISC|CLOSE): (\d+),(-?\d+)'), lambda g: g[1] != "0"),
    (re.compile(r'\+QMTSTAT: (\d+),(\d+)'), lambda g: g[1] != "5"),
    (re.compile(r'\+QMTPING: (\d+),(\d+)'), lambda g: g[1] != "0"),
    (re.compile(r'\+Q(?:IOPEN|SSLOPEN): (\d+),(-?\d+)'), lambda g: g[1] != "0"),
    (re.compile(r'\+QIURC: "(pdpdeact|closed)"'), lambda g: True),
]
URC_LINE_RE = re.compile(r"\+Q[A-Z]+: [^\r\n]*")


def result_urcs(rec):
    """[(URC text, failed?)] of the result URCs in an rx record."""
    out = []
    for line in URC_LINE_RE.findall(rec.get("bytes", "")):
        for rx, bad in URC_FAILURES:
            m = rx.match(line)
            if m:
                out.append((line, bool(bad(m.groups()))))
                break
    return out


# The modem's own account of a failure: "<cause> -> +QMTOPEN 0" (sim/at/cmd_mqtt.c and the
# socket and TLS families), a lost link with its +QMTSTAT, a packet never acknowledged.
CAUSE_RE = re.compile(r"-> \+Q|link lost \(|unacknowledged after|bad packet from broker|"
                      r"open [^ ]+ failed: ")
PREFIX_RE = re.compile(r"^(client|socket|conn) \d+: ")


def cause_records(records):
    """[(record, text)]: every record where the modem says why something failed: its cause
    records, a command's failure reason, a fault's effect, a scenario rule's failure URC."""
    out = []
    for r in records:
        ev, msg = r.get("ev"), r.get("msg", "")
        if ev in ("mqtt", "tls", "sock", "net", "pdp") and CAUSE_RE.search(msg):
            out.append((r, PREFIX_RE.sub("", msg)))
        elif ev == "cmd" and r.get("result") not in (None, "OK") and r.get("why"):
            out.append((r, "AT%s => %s (%s)" % (cmd_text(r), r.get("result"), r.get("why"))))
        elif ev == "fault" and not msg.startswith("fault "):
            # its effect ("client 0: CONNACK return code 0 made 5 (mqtt.connack)")
            out.append((r, PREFIX_RE.sub("", msg)))
        elif ev == "scenario" and "URC: " in msg and any(
                bad for _, bad in result_urcs({"bytes": msg})):
            out.append((r, "scenario " + msg))
    return out


def failure(records):
    """What the modem says went wrong, or None: {"text", "line" (transcript line of its first
    occurrence), "count", "urc" (the last failure URC the host got)}. The cause is the first
    one after the host's last success (a result URC that is no failure): what went wrong
    then, not its consequences (a CONNACK refused, then the link closed), nor a failure the
    host recovered from before; a command's ERROR only when nothing else failed. The link
    goes to the first time that cause happened."""
    causes = cause_records(records)
    urcs = [(r, u) for r in records if r.get("ev") == "rx"
            for u, bad in result_urcs(r) if bad]
    if not causes and not urcs:
        return None
    if causes:
        ok = [r["_line"] for r in records if r.get("ev") == "rx" and any(
            not bad and not u.startswith(("+QMTDISC", "+QMTCLOSE"))
            for u, bad in result_urcs(r))]
        after = [c for c in causes if not ok or c[0]["_line"] > ok[-1]]
        # A command's ERROR is often the host probing (AT+QFDEL of a file not there): what
        # the network, TLS, MQTT or a fault did comes first.
        after = [c for c in after if c[0].get("ev") != "cmd"] or after
        rec, text = (after or causes)[0 if after else -1]
        same = [r for r, t in causes if t == text]
        first = same[0]
    else:
        rec, text = urcs[-1]
        text = "the modem answered " + text
        same = [r for r, u in urcs if u == urcs[-1][1]]
        first = same[0]
    return {"text": text, "line": first.get("_line"), "count": len(same),
            "urc": urcs[-1][1] if urcs else None}


def ended_in_failure(records):
    """The last result URC the host got, when it is a failure (else None). The results of
    tearing down (+QMTDISC, +QMTCLOSE) do not count: a host closes after a failure too."""
    last = None
    for r in records:
        if r.get("ev") == "rx":
            for u, bad in result_urcs(r):
                if not u.startswith(("+QMTDISC", "+QMTCLOSE")):
                    last = (u, bad)
    return last[0] if last and last[1] else None


def group_findings(fnd):
    """[(finding, count)]: findings of one severity and kind counted once, in the order of
    their first occurrence (its message and line are the ones shown)."""
    groups, order = {}, []
    for f in fnd:
        key = (f.get("severity"), f.get("kind"))
        if key not in groups:
            groups[key] = [f, 0]
            order.append(key)
        groups[key][1] += 1
    return [tuple(groups[k]) for k in order]


def raw_bytes(rec):
    """The bytes of a tx/rx record: the trace writes byte b as \\u00bb (sim/core/log.c)."""
    s = rec.get("bytes", "")
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def cmd_text(rec):
    """A cmd record's command as the transcript writes it: the trace has its bytes as
    characters U+0000-U+00FF, like tx/rx."""
    return escape_bytes(raw_bytes({"bytes": rec.get("cmd", "")}))


def escape_bytes(b):
    """As the transcript writes bytes: printable ASCII, \\r \\n \\t \\\\ and \\xNN."""
    out = []
    for c in b:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


ESC_RE = re.compile(r"\\\\|\\x[0-9a-f]{2}|\\[rnt]|[^\\]+|\\")


def legible(text):
    """HTML of an escape_bytes() text (or a transcript line) where the \\xNN runs that are
    UTF-8 show their characters: "\u201c" with its bytes after it, marked, named in a
    tooltip; a byte that is no UTF-8 stays \\xNN, marked. ASCII text is only escaped.
    <mark>, not <span>: a transcript line is one span."""
    out, run = [], bytearray()

    def flush():
        i = 0
        while i < len(run):
            n = next((k for k in (4, 3, 2) if i + k <= len(run) and _utf8(run[i:i + k])), 0)
            if n:
                ch = run[i:i + n].decode("utf-8")
                esc = "".join("\\x%02x" % b for b in run[i:i + n])
                out.append('<mark class="na" title="U+%04X %s, bytes %s">%s<small class="nb">'
                           '%s</small></mark>' % (ord(ch), E(unicodedata.name(ch, "?")), esc,
                                                 E(ch), esc))
                i += n
            else:
                out.append('<mark class="na bad" title="byte 0x%02x, not UTF-8">\\x%02x</mark>'
                           % (run[i], run[i]))
                i += 1
        run.clear()

    for tok in ESC_RE.findall(text):
        if len(tok) == 4 and tok.startswith("\\x"):
            b = int(tok[2:], 16)
            if b >= 0x80:
                run.append(b)
                continue
        flush()
        out.append(E(tok))
    flush()
    return "".join(out)


def _utf8(b):
    try:
        return len(b.decode("utf-8")) == 1
    except UnicodeDecodeError:
        return False


def clock(t):
    if t is None:
        return ""
    secs, ms = divmod(int(round(t * 1000)), 1000)
    return time.strftime("%H:%M:%S", time.localtime(secs)) + ".%03d" % ms


def transcript_line(rec):
    """A record as the transcript (--log) writes it, for a trace without its transcript."""
    head = "[%s] #%s " % (clock(rec.get("t")), rec.get("modem", 0))
    ev = rec.get("ev")
    if ev in ("tx", "rx"):
        return head + ev.upper() + " " + escape_bytes(raw_bytes(rec))
    if ev == "cmd":
        why = rec.get("why")
        return head + "-- %s => %s%s" % (rec.get("cmd", ""), rec.get("result", ""),
                                         " (%s)" % why if why else "")
    if ev == "finding":
        return head + "FINDING %s %s: %s (transcript line %s)" % (
            rec.get("severity"), rec.get("kind"), rec.get("msg"), rec.get("line"))
    return head + "%s %s" % (ev, rec.get("msg", ""))


def read_transcript(path, records):
    if path and os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    return [transcript_line(r) for r in records]


# ---------------------------------------------------------------- the sequence diagram


def diagram_rows(records, messages=(), driver=None):
    """Rows of the host <-> modem <-> broker diagram, in time order: dicts with t, line
    (transcript), kind (CSS class and toggle group), shape ("arrow" on lane "at" or "net" with
    dir "r"/"l"; "line" on a lane without direction; "note" over the modem; "band" across;
    "seen" at the broker) and text."""
    rows = []
    for r in records:
        ev, t, line = r.get("ev"), r.get("t"), r.get("_line")
        modem = r.get("modem", 0)
        base = {"t": t, "line": line, "modem": modem}
        if ev == "tx":
            rows.append(dict(base, kind="tx", shape="arrow", lane="at", dir="r",
                             text=escape_bytes(raw_bytes(r))))
        elif ev == "rx":
            rows.append(dict(base, kind="rx", shape="arrow", lane="at", dir="l",
                             text=escape_bytes(raw_bytes(r))))
        elif ev == "cmd":
            why = r.get("why")
            ok = r.get("result") == "OK"
            rows.append(dict(base, kind="cmd", shape="note", sub="ok" if ok else "bad",
                             text="%s => %s%s" % (cmd_text(r), r.get("result", ""),
                                                  " (%s)" % why if why else "")))
        elif ev == "mqtt":
            msg = r.get("msg", "")
            # sim/mqtt/client.c trace_pkt: "client N ==> CONNECT ..." (to the broker) and
            # "client N <== CONNACK ..." (from it); other mqtt events are state changes.
            if "==>" in msg or "<==" in msg:
                rows.append(dict(base, kind="mqtt", shape="arrow", lane="net",
                                 dir="r" if "==>" in msg else "l", text=msg))
            else:
                rows.append(dict(base, kind="net", shape="line", lane="net", sub="mqtt",
                                 text="mqtt " + msg))
        elif ev in NET_EVENTS:
            rows.append(dict(base, kind="net", shape="line", lane="net", sub=ev,
                             text="%s %s" % (ev, r.get("msg", ""))))
        elif ev == "fault":
            rows.append(dict(base, kind="fault", shape="band", text="FAULT " + r.get("msg", "")))
        elif ev == "finding":
            rows.append(dict(base, kind="finding", shape="band", sub=r.get("severity", "error"),
                             text="FINDING %s %s: %s" % (r.get("severity"), r.get("kind"),
                                                         r.get("msg", "")),
                             target=r.get("line")))
        else:
            rows.append(dict(base, kind="note", shape="note", sub=ev or "?",
                             text="%s %s" % (ev, r.get("msg", ""))))
    for m in messages:
        payload = m.get("payload", "")
        if len(payload) > 200:
            payload = payload[:200] + "..."
        rows.append({"t": m.get("t"), "line": None, "modem": None, "kind": "seen",
                     "shape": "seen", "text": "%s %r (%d bytes, QoS %d%s)" % (
                         m.get("topic"), payload, m.get("size", 0), m.get("qos", 0),
                         ", retained" if m.get("retain") else "")})
    if driver and driver.get("ended_at"):
        how = ("DRIVER STOPPED: the run was interrupted (Ctrl+C)" if driver.get("interrupted")
               else "DRIVER KILLED: no exit within %g s (timeout), %s" % (
                   driver.get("timeout", 0), driver.get("signal") or "SIGTERM")
               if driver["timed_out"] else "DRIVER KILLED by %s" % driver["signal"]
               if driver["signal"] else "driver exited with status %s" % driver["exit"])
        bad = driver["timed_out"] or driver["signal"] or driver.get("interrupted")
        rows.append({"t": driver["ended_at"], "line": None, "modem": None, "kind": "driver",
                     "shape": "band", "sub": "killed" if bad else "exit", "text": how})
    # Stable: records keep their trace order; a message goes after the records of its time.
    order = {id(r): i for i, r in enumerate(rows)}
    rows.sort(key=lambda r: (r["t"] if r["t"] is not None else 0, order[id(r)]))
    return rows


# ---------------------------------------------------------------- HTML

CSS = """
body{font:14px/1.35 system-ui,sans-serif;margin:16px;color:#111;background:#fff}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 6px}
code,pre,.mono,table.seq td.lbl{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
table.sum{border-collapse:collapse;margin:8px 0}
table.sum td,table.sum th{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}
.badge{display:inline-block;padding:1px 8px;border-radius:3px;color:#fff;font-weight:bold}
.st-pass{background:#2b9348}.st-fail{background:#c1121f}.st-error{background:#6a040f}
.st-skip{background:#8d99ae}
ul.reasons{margin:4px 0 4px 18px;padding:0}
table.kv td{padding:1px 8px 1px 0;vertical-align:top}
table.seq{border-collapse:collapse;width:100%;table-layout:fixed;margin-top:6px}
table.seq th{position:sticky;top:0;background:#eef;z-index:2;font-size:13px;padding:4px 0}
table.seq td{padding:1px 0;vertical-align:bottom}
table.seq col.c-t{width:78px}table.seq col.c-life{width:64px}
td.life{background:linear-gradient(to right,transparent 31px,#555 31px,#555 33px,transparent 33px)}
td.time{font-size:11px;color:#666;text-align:right;padding-right:6px!important;
vertical-align:middle}
td.time a{color:inherit;text-decoration:none}
td.lbl{overflow-wrap:anywhere;white-space:pre-wrap}
.arr{position:relative;margin:0 -32px;padding:0 40px 1px;border-bottom:2px solid currentColor}
.arr.r::after,.arr.l::after{content:"";position:absolute;bottom:-6px;border:5px solid transparent}
.arr.r::after{right:-1px;border-left:10px solid currentColor;border-right:0}
.arr.l::after{left:-1px;border-right:10px solid currentColor;border-left:0}
.arr.r{text-align:left}.arr.l{text-align:right}
.arr span{color:#111}
tr.k-tx .arr{color:#1f5fbf}tr.k-rx .arr{color:#1d7d3a}tr.k-mqtt .arr{color:#7b3fa0}
.ln{position:relative;margin:0 -32px;padding:0 40px 1px;border-bottom:1px dashed #888;color:#555}
td.note div{margin:1px 8px;padding:0 6px;border:1px solid #c9b458;background:#fff8d0;color:#333}
tr.k-cmd td.note.bad div{border-color:#c1121f;background:#ffe5e5}
td.band div{margin:2px 0;padding:2px 8px;font-weight:bold}
tr.k-fault td.band div{background:#d62828;color:#fff}
tr.k-finding td.band div{background:#f77f00;color:#111}
tr.k-finding.sev-warning td.band div{background:#ffd166}
tr.k-finding.sev-info td.band div{background:#bde0fe}
td.band a{color:inherit}
tr.k-seen td.lbl div{margin:1px 0;padding:0 6px;border-left:4px solid #0a9396;background:#e0f4f4;
text-align:right}
section.hide-bytes tr.k-tx,section.hide-bytes tr.k-rx,section.hide-cmd tr.k-cmd,
section.hide-net tr.k-net,section.hide-mqtt tr.k-mqtt{display:none}
.toggles label{margin-right:14px}
pre.transcript{background:#f6f6f6;border:1px solid #ddd;padding:6px;overflow-x:auto;margin:0}
pre.transcript span{display:block}
pre.transcript span.hl-finding{background:#ffd8a8}pre.transcript span.hl-fault{background:#ffc9c9}
pre.transcript span:target{outline:2px solid #1f5fbf}
pre.out{background:#f6f6f6;border:1px solid #ddd;padding:6px;white-space:pre-wrap;max-height:300px;
overflow:auto}
.muted{color:#666}
.st-xfail{background:#5e8c6a}.st-xpass{background:#9d4edd}.st-interrupted{background:#495057}
.st-flag{background:#e9c46a;color:#111}
mark.na{background:#ffe8a3;color:inherit;border-radius:2px;padding:0 1px}
mark.na.bad{background:#ffc9c9}small.nb{font-size:9px;color:#666;margin-left:1px}
tr.first-fail td.lbl{outline:2px solid #c1121f}
tr.k-driver td.band div{background:#343a40;color:#fff}
tr.k-driver.sev-exit td.band div{background:#dee2e6;color:#111;font-weight:normal}
td.cause a,ul.reasons a{color:inherit}
ul.flags{margin:4px 0 4px 18px;padding:0;color:#7a5c00}
"""

# Toggles, and a count of what is shown (so a reader, and a test, sees the script ran).
SCRIPT = """
(function () {
  function count(sec) {
    var rows = sec.querySelectorAll('table.seq tr.ev'), n = 0;
    for (var i = 0; i < rows.length; i++)
      if (getComputedStyle(rows[i]).display !== 'none') n++;
    var c = sec.querySelector('.shown');
    if (c) c.textContent = n + ' of ' + rows.length + ' events shown';
  }
  var secs = document.querySelectorAll('section.cell');
  for (var i = 0; i < secs.length; i++) (function (sec) {
    var boxes = sec.querySelectorAll('.toggles input');
    for (var j = 0; j < boxes.length; j++) boxes[j].addEventListener('change', function (e) {
      sec.classList.toggle('hide-' + e.target.value, !e.target.checked);
      count(sec);
    });
    count(sec);
  })(secs[i]);
  document.documentElement.setAttribute('data-rendered', 'yes');
})();
"""

E = html.escape


def _rel_time(t, t0):
    return "" if t is None or t0 is None else "+%.3f" % (t - t0)


def render_diagram(cell, rows, model, fail_line=None):
    """fail_line: the transcript line of the first failing record, marked and the target of
    the summary's link (#<cell>-fail)."""
    cid = cell["id"]
    anchored = set()
    t0 = next((r["t"] for r in rows if r["t"] is not None), None)
    multi = len({r["modem"] for r in rows if r["modem"] is not None}) > 1
    out = ['<table class="seq"><colgroup><col class="c-t"><col class="c-life"><col>'
           '<col class="c-life"><col><col class="c-life"></colgroup>',
           '<thead><tr><th>time</th><th>Host</th><th>AT (serial)</th><th>Modem<br>%s</th>'
           '<th>MQTT / TCP / TLS</th><th>Broker</th></tr></thead><tbody>' % E(model)]
    shown = rows[:MAX_ROWS]
    for r in shown:
        kind = r["kind"]
        cls = "ev k-%s" % kind
        if kind in ("finding", "driver"):
            cls += " sev-%s" % E(r.get("sub", "error"))
        attrs = ""
        if r["line"] and r["line"] not in anchored:
            anchored.add(r["line"])
            attrs = ' id="%s-D%d"' % (cid, r["line"])
            if r["line"] == fail_line:
                cls += " first-fail"
                attrs = ' id="%s-fail"' % cid
        text = r["text"]
        if multi and r["modem"] is not None:
            text = "#%s %s" % (r["modem"], text)
        tlink = _rel_time(r["t"], t0)
        if r["line"]:
            tlink = '<a href="#%s-L%d" title="%s, transcript line %d">%s</a>' % (
                cid, r["line"], clock(r["t"]), r["line"], tlink)
        cells = ['<td class="time">%s</td>' % tlink]
        L = '<td class="life"></td>'
        shape = r["shape"]
        if shape == "arrow":
            lbl = '<td class="lbl"><div class="arr %s"><span>%s</span></div></td>' % (
                r["dir"], legible(text))
            cells += ([L, lbl, L, '<td></td>', L] if r["lane"] == "at"
                      else [L, '<td></td>', L, lbl, L])
        elif shape == "line":
            cells += [L, '<td></td>', L, '<td class="lbl"><div class="ln">%s</div></td>'
                      % E(text), L]
        elif shape == "note":
            cells += [L, '<td colspan="3" class="lbl note %s"><div>%s</div></td>'
                      % (E(r.get("sub", "")), legible(text)), L]
        elif shape == "band":
            body = legible(text)
            if r.get("target"):
                body += ' <a href="#%s-L%s">(transcript line %s)</a>' % (
                    cid, E(str(r["target"])), E(str(r["target"])))
            cells += ['<td colspan="5" class="lbl band"><div>%s</div></td>' % body]
        else:  # seen at the broker
            cells += [L, '<td></td>', L, '<td class="lbl"><div>seen at the broker: %s</div>'
                      '</td>' % E(text), L]
        out.append('<tr class="%s"%s>%s</tr>' % (cls, attrs, "".join(cells)))
    out.append("</tbody></table>")
    if len(rows) > len(shown):
        out.append('<p class="muted">%d more events not drawn: see the transcript.</p>'
                   % (len(rows) - len(shown)))
    return "\n".join(out)


def render_transcript(cell, lines, records):
    cid = cell["id"]
    marks = {}
    for r in records:
        if r.get("ev") == "fault":
            marks[r["_line"]] = "hl-fault"
        elif r.get("ev") == "finding":
            marks[r["_line"]] = "hl-finding"
            if isinstance(r.get("line"), int):
                marks.setdefault(r["line"], "hl-finding")
    out = ['<pre class="transcript">']
    for n, text in enumerate(lines[:MAX_LINES], 1):
        out.append('<span id="%s-L%d"%s>%5d  %s</span>' % (
            cid, n, ' class="%s"' % marks[n] if n in marks else "", n, legible(text)))
    out.append("</pre>")
    if len(lines) > MAX_LINES:
        out.append('<p class="muted">%d more lines in the transcript file.</p>'
                   % (len(lines) - MAX_LINES))
    return "".join(out)


def _status(s, flags=()):
    out = '<span class="badge st-%s">%s</span>' % (E(s), E(s.upper()))
    if flags:
        out += ' <span class="badge st-flag" title="%s">UNCHECKED</span>' % E("; ".join(flags))
    return out


def cell_name(cell):
    """model x scenario, or the scenario alone when its name starts with the model's."""
    model, scn = cell.get("model", ""), cell.get("scenario", "")
    return scn if scn.startswith(model + "-") else "%s \u00d7 %s" % (model, scn)


def cause_of(cell, records):
    """The cell's modem-side cause (conformance.py stores it; a re-render of an older
    report.json finds it in the trace)."""
    if "cause" in cell:
        return cell["cause"]
    if cell.get("status") in ("fail", "xfail", "error", "interrupted"):
        return failure(records)
    return None


def _cause_html(cell, cause):
    n = cause.get("count", 1)
    return '<a href="#%s-fail">%s</a>%s' % (
        E(cell["id"]), legible(cause["text"]), " (%d times)" % n if n > 1 else "")


def _file_link(rel, label=None):
    return '<a href="%s">%s</a>' % (E(rel), E(label or rel))


def render_cell(cell, base):
    """One cell's section; base is the report's directory (cell["files"] are relative to it)."""
    files = cell.get("files", {})
    trace_path = os.path.join(base, files["trace"]) if files.get("trace") else None
    log_path = os.path.join(base, files["transcript"]) if files.get("transcript") else None
    records = load_trace(trace_path)
    d = cell.get("driver")
    rows = diagram_rows(records, cell.get("messages", ()),
                        dict(d, timeout=cell.get("timeout", 0)) if d else None)
    cid = cell["id"]
    cause = cause_of(cell, records)
    out = ['<section class="cell" id="%s">' % E(cid),
           "<h2>%s %s</h2>" % (_status(cell["status"], cell.get("flags")), E(cell_name(cell)))]
    if cell.get("reasons"):
        out.append('<ul class="reasons">%s</ul>' % "".join(
            "<li>%s</li>" % E(r) for r in cell["reasons"]))
    if cause:
        out.append('<p class="cause">The modem says: %s</p>' % _cause_html(cell, cause))
    if cell.get("flags"):
        out.append('<ul class="flags">%s</ul>' % "".join(
            "<li>&#9873; %s</li>" % E(f) for f in cell["flags"]))
    kv = []
    if cell.get("expectation"):
        x = cell["expectation"]
        kv.append(("expected for a correct driver", E("%s%s" % (
            x["outcome"], ": " + x["why"] if x.get("why") else ""))))
    if cell.get("scenario_path"):
        kv.append(("scenario file", '<code>%s</code>' % E(cell["scenario_path"])))
    if d:
        how = ("killed after %g s (timeout)" % cell.get("timeout", 0) if d["timed_out"] else
               "killed by %s" % d["signal"] if d["signal"] else "exit status %s" % d["exit"])
        kv.append(("driver", "<code>%s</code>" % E(d["command"])))
        kv.append(("driver result", "%s after %.3f s" % (E(how), d["duration"])))
    ms = cell.get("modemsim") or {}
    if ms.get("argv"):
        kv.append(("modemsim", "<code>%s</code>" % E(" ".join(ms["argv"]))))
    if "exit" in ms or ms.get("error"):
        kv.append(("modemsim result", E(ms.get("error") or "exit status %s" % ms.get("exit"))))
    links = [_file_link(files[k], k.replace("_", " ")) for k in
             ("transcript", "trace", "driver_stdout", "driver_stderr", "modemsim_stderr")
             if files.get(k) and os.path.exists(os.path.join(base, files[k]))]
    if links:
        kv.append(("files", " &middot; ".join(links)))
    if kv:
        out.append('<table class="kv">%s</table>' % "".join(
            "<tr><td>%s</td><td>%s</td></tr>" % (E(k), v) for k, v in kv))
    exps = cell.get("expected") or []
    msgs = cell.get("messages") or []
    if exps or d:
        out.append("<h3>Messages at the broker: %d seen</h3>" % len(msgs))
        if exps:
            out.append('<table class="sum expected"><tr><th>expected</th><th>seen</th>'
                       '<th></th></tr>%s</table>' % "".join(
                           "<tr><td><code>%s</code></td><td>%d</td><td>%s</td></tr>" % (
                               E(e["spec"]), e.get("seen", 0), "ok" if e.get("ok") else
                               "<b>missing</b>") for e in exps))
        if msgs:
            out.append('<table class="sum messages"><tr><th>time</th><th>topic</th>'
                       '<th>payload</th><th>bytes</th><th>QoS</th></tr>%s</table>' % "".join(
                           "<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td>"
                           "<td>%d</td><td>%d%s</td></tr>" % (
                               clock(m.get("t")), E(m["topic"]), E(m["payload"][:300]),
                               m.get("size", 0), m.get("qos", 0),
                               " retained" if m.get("retain") else "") for m in msgs))
    fnd = cell.get("findings") if cell.get("findings") is not None else findings(records)
    out.append("<h3>Findings: %d</h3>" % len(fnd))
    if fnd:
        out.append('<ul class="findings">%s</ul>' % "".join(
            '<li class="sev-%s">%s<b>%s</b> %s: %s <a href="#%s-L%s">(%stranscript line %s)'
            '</a></li>' % (E(f["severity"]), '<span class="count">%d&times;</span> ' % n
                           if n > 1 else "", E(f["severity"]), E(f["kind"]), legible(f["msg"]),
                           E(cid), E(str(f["line"])), "first at " if n > 1 else "",
                           E(str(f["line"]))) for f, n in group_findings(fnd)))
    if records or msgs:
        out.append("<h3>Sequence</h3>")
        out.append('<div class="toggles">show: ' + "".join(
            '<label><input type="checkbox" value="%s" checked> %s</label>' % (v, l)
            for v, l in (("bytes", "AT bytes"), ("cmd", "parsed commands"),
                         ("mqtt", "MQTT packets"), ("net", "network and state events"))) +
            ' <span class="shown muted"></span></div>')
        out.append(render_diagram(cell, rows, cell["model"],
                                  cause["line"] if cause else None))
        out.append("<details%s><summary>Transcript</summary>%s</details>" % (
            " open" if cell["status"] in ("fail", "error", "xpass", "interrupted") else "",
            render_transcript(cell, read_transcript(log_path, records), records)))
    if d:
        for name, key in (("driver stdout", "stdout"), ("driver stderr", "stderr")):
            if d.get(key):
                out.append('<details><summary>%s</summary><pre class="out">%s</pre></details>'
                           % (name, E(d[key])))
    if ms.get("stderr"):
        out.append('<details><summary>modemsim stderr</summary><pre class="out">%s</pre>'
                   '</details>' % E(ms["stderr"]))
    out.append("</section>")
    return "\n".join(out)


def render_html(rep, base):
    title = rep.get("title") or "modemsim conformance report"
    s = rep.get("summary") or {}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>%s</title>" % E(title), "<style>%s</style></head><body>" % CSS,
           "<h1>%s</h1>" % E(title)]
    meta = []
    if rep.get("driver"):
        meta.append(("driver", "<code>%s</code>" % E(rep["driver"])))
    if rep.get("started"):
        meta.append(("started", E(time.strftime("%Y-%m-%d %H:%M:%S",
                                                time.localtime(rep["started"])))))
    if rep.get("expect"):
        meta.append(("expected at the broker", ", ".join(
            "<code>%s</code>" % E(e) for e in rep["expect"])))
    if rep.get("timing"):
        meta.append(("timing", E("%s, driver timeout %g s, findings failing: %s" % (
            rep["timing"], rep.get("timeout", 0), rep.get("fail_on", "error")))))
    if s:
        meta.append(("result", E(", ".join("%d %s" % (s.get(k, 0), k) for k in STATUSES
                                            if k in s or k in ("pass", "fail", "error", "skip"))
                                 + ("; %d flagged as unchecked" % rep["flagged"]
                                    if rep.get("flagged") else ""))))
    if rep.get("interrupted"):
        meta.append(("interrupted", E(rep["interrupted"])))
    if meta:
        out.append('<table class="kv">%s</table>' % "".join(
            "<tr><td>%s</td><td>%s</td></tr>" % (E(k), v) for k, v in meta))
    cells = rep.get("cells", [])
    out.append('<table class="sum summary"><tr><th>model</th><th>scenario</th><th>result</th>'
               "<th>reasons</th><th>driver</th><th>broker</th><th>modem-side cause</th>"
               "<th>findings</th><th>time</th></tr>")
    for c in cells:
        d = c.get("driver")
        drv = ("-" if not d else "interrupted" if d.get("interrupted") else
               "timeout" if d["timed_out"] else
               d["signal"] if d["signal"] else "exit %s" % d["exit"])
        exps = c.get("expected") or []
        brk = "%d seen" % len(c.get("messages") or [])
        if exps:
            brk = "%d/%d expected, %s" % (sum(1 for e in exps if e.get("ok")), len(exps), brk)
        fnd = c.get("findings") or []
        grouped = ", ".join("%d\u00d7 %s (%s)" % (n, f["kind"], f["severity"]) if n > 1 else
                            "%s (%s)" % (f["kind"], f["severity"])
                            for f, n in group_findings(fnd))
        cause = cause_of(c, load_trace(os.path.join(base, c["files"]["trace"]))
                         if "cause" not in c and c.get("files", {}).get("trace") else [])
        reasons = "<br>".join([E(r) for r in c.get("reasons", [])] +
                              ["&#9873; " + E(f) for f in c.get("flags", [])])
        out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   '<td class="cause">%s</td><td>%s</td><td>%.1f s</td></tr>' % (
                       E(c["model"]), '<a href="#%s">%s</a>' % (E(c["id"]), E(c["scenario"])),
                       _status(c["status"], c.get("flags")), reasons, E(drv), E(brk),
                       _cause_html(c, cause) if cause else "", E(grouped or "none"),
                       c.get("duration", 0)))
    out.append("</table>")
    for c in cells:
        out.append(render_cell(c, base))
    out.append("<script>%s</script></body></html>" % SCRIPT)
    return "\n".join(out)


def write(out_dir, rep, html_name="report.html", json_name="report.json"):
    """Write OUT/report.json and OUT/report.html; returns the HTML path."""
    os.makedirs(out_dir, exist_ok=True)
    if json_name:
        with open(os.path.join(out_dir, json_name), "w") as f:
            json.dump(rep, f, indent=1)
    path = os.path.join(out_dir, html_name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(rep, out_dir))
    return path


def single_run(trace, log=None, title=None, model=None, messages=(), status=None,
               reasons=()):
    """A report of one modemsim run (no driver): one cell whose files are absolute paths.
    Model and scenario come from the trace's start record when not given; without a status,
    the run fails on an error finding or when the last result URC the host got was a
    failure (+QMTOPEN: 0,-1 and no success after it), and is flagged when the host sent
    nothing."""
    records = load_trace(trace)
    fnd = findings(records)
    info = run_info(records)
    scns = [os.path.splitext(os.path.basename(p))[0] for p in info.get("scenarios", [])]
    model = model or info.get("model") or "modem"
    scenario = " + ".join(scns) or ("baseline" if info else title or os.path.basename(
        os.path.dirname(os.path.abspath(trace))))
    reasons = list(reasons)
    cause = failure(records)
    if status is None:
        errors = [f for f in fnd if f["severity"] == "error"]
        last = ended_in_failure(records)
        if last:
            reasons.append("the run ended in a failure: %s" % last)
        if errors:
            reasons.append("%d finding(s) of severity error" % len(errors))
        status = "fail" if reasons else "pass"
    flags = []
    if not any(r.get("ev") == "tx" for r in records):
        flags.append("no AT traffic: the host sent the modem nothing")
    cell = {"id": "run", "model": model, "scenario": scenario, "status": status,
            "reasons": reasons, "flags": flags, "driver": None, "modemsim": {},
            "expected": [], "messages": list(messages), "findings": fnd,
            "cause": cause if status != "pass" else None,
            "files": {"trace": os.path.abspath(trace),
                      "transcript": os.path.abspath(log) if log else None},
            "duration": 0.0}
    rep = {"tool": "modemsim report", "format": 1,
           "title": title or "modemsim run: %s" % cell_name(cell),
           "cells": [cell], "summary": {status: 1}, "flagged": len(flags)}
    return rep


def write_single(out_html, trace, log=None, title=None, **kw):
    rep = single_run(trace, log, title, **kw)
    out_dir = os.path.dirname(os.path.abspath(out_html))
    return write(out_dir, rep, os.path.basename(out_html), None)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="report.py", description="Render modemsim reports.")
    ap.add_argument("dir", nargs="?", help="a conformance output directory (report.json)")
    ap.add_argument("--trace", help="a modemsim --trace file")
    ap.add_argument("--log", help="its --log transcript")
    ap.add_argument("--title")
    ap.add_argument("--out", help="the HTML file to write (with --trace)")
    args = ap.parse_args(argv)
    if args.trace:
        if not args.out:
            ap.error("--trace needs --out FILE.html")
        print(write_single(args.out, args.trace, args.log, args.title))
        return 0
    if not args.dir:
        ap.error("give a directory with report.json, or --trace")
    with open(os.path.join(args.dir, "report.json")) as f:
        rep = json.load(f)
    print(write(args.dir, rep, json_name=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
