#!/usr/bin/python3
"""Field log in, reproduction out: import a serial-terminal log of a real modem, replay it
against modemsim, and turn it into a scenario.

    fieldlog.py import      LOG [--format F] [-o OUT]           normalised transcript
    fieldlog.py replay      LOG [--format F] [--model M] [--session N] [--scenario SCN]
                                [--json OUT]                     side-by-side diff
    fieldlog.py to-scenario LOG [--format F] [--model M] [--session N] [-o OUT]

Formats (auto-detected line by line; --format forces one for the whole file):
  modemsim    modemsim's own --log transcript: "[12:23:24.873] #0 TX AT+CSQ\\r"
  plain       bare command and answer lines as a terminal shows them (seed 000)
  sentrecv    "=== SENT@4254 ===" / "=== RECV@4257 ===" blocks (seed 003)
  teraterm    lines run together: "AT+CPIN? +CPIN: READY OK" (seed 002)
  stamped     "[12:23:24.873]收←◆AT+QMTCFG=..." (SSCOM-like, with direction marks)

The output of `import` is a modemsim transcript (the format `modemsim --log` writes), with
`note` records carrying what the log adds: a `fieldlog` header per session (model, format,
source lines), and the original text of every line whose curly quotes were straightened.
Importing that output again gives it back unchanged. A log of several sessions (a forum thread
quoting three captures) becomes one transcript whose sessions are modems #0, #1, ...

Exit status: 0 a match (replay) or success, 1 a mismatch, 2 bad input (the message names the
line). Only the standard library and harness/modemsim.py are used.

Replay's comparison rules (what cannot match and is not compared):
  echo        the command's echo is not compared (a terminal shows typed text either way)
  blank       blank lines are compared only when both sides are byte-exact transcripts
  imei        15-digit IMEIs (and redacted XXXX runs) match any IMEI
  ip          IPv4 addresses match any address
  time        +CCLK/+QLTS/+CTZV/+QNTP dates and times match any
  checksum    +QFUPL/+QFDWL/+QSECWRITE/+QSECREAD checksums are compared only when the replay
              sent the log's own bytes (a log elides the data; the replay sends test PKI
              files or filler of the declared length)
  network     +CSQ, +QCSQ, +CESQ, +QNWINFO, +CPSI, +QENG values, +COPS operator names, ICCID and
              IMSI: the same answer with any values (the cell is not the field's)
  boot        boot URCs (RDY, +QIND: PB DONE, SMS Ready, ...) missing on either side
  partial     an exchange the log shows cut short (no final result): modemsim's extra lines
"""
import argparse
import difflib
import json
import os
import re
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

EXIT_OK, EXIT_MISMATCH, EXIT_BAD = 0, 1, 2
FORMATS = ("modemsim", "plain", "sentrecv", "teraterm", "stamped")
MODELS = ("ec25", "m95", "bg96", "sim7600", "a7670", "sim7670g")


class BadInput(Exception):
    """A log the tool cannot use: message names the line."""

    def __init__(self, line, msg):
        Exception.__init__(self, "line %d: %s" % (line, msg))
        self.line = line


# ---------------------------------------------------------------- escaping (sim/core/log.c)


def escape(data):
    """modemsim's transcript escaping: printable ASCII as is, \\r \\n \\t \\\\, else \\xNN."""
    out = []
    for c in data:
        if c == 13:
            out.append("\\r")
        elif c == 10:
            out.append("\\n")
        elif c == 9:
            out.append("\\t")
        elif c == 92:
            out.append("\\\\")
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def unescape(text, lineno):
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt in ("r", "n", "t", "\\"):
            out.append({"r": 13, "n": 10, "t": 9, "\\": 92}[nxt])
            i += 2
        elif nxt == "x" and re.match(r"[0-9a-fA-F]{2}$", text[i + 2:i + 4]):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            raise BadInput(lineno, "bad escape %r in a transcript record" % text[i:i + 4])
    return bytes(out)


# ---------------------------------------------------------------- the model: sessions of records


class Record:
    """One transcript record: kind "TX"/"RX" (bytes) or an event kind ("note", "--", ...)
    with its text; ts "HH:MM:SS.mmm" or None (untimed); src the log line it came from."""

    def __init__(self, kind, data, ts=None, src=0):
        self.kind, self.data, self.ts, self.src = kind, data, ts, src


class Session:
    def __init__(self, fmt, start):
        self.fmt = fmt
        self.start = start
        self.end = start
        self.records = []
        self.model = None
        self.revision = None
        self.imei = None
        self.operator = None
        self.exact = fmt == "modemsim"
        self.meta = {}

    def add(self, kind, data, ts, src):
        self.records.append(Record(kind, data, ts, src))
        self.end = max(self.end, src)


# ---------------------------------------------------------------- line classification

CURLY = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
         "\u00ab": '"', "\u00bb": '"', "\u2018": "'", "\u2019": "'", "\uff02": '"',
         "\uff0c": ","}
FINALS = re.compile(r"^(OK|ERROR|\+CME ERROR: ?.*|\+CMS ERROR: ?.*|NO CARRIER|SEND OK|SEND FAIL|"
                    r"CLOSE OK|DEACT OK|CONNECT OK|ALREADY CONNECT|NO DIALTONE|BUSY|NO ANSWER)$")
CONNECT_RE = re.compile(r"^CONNECT(?: (\d+))?$")
CMD_RE = re.compile(r"^(AT|at)(?:$|[+&$%#^!*\\A-Z0-9?=])")
RESULT_RE = re.compile(r"^\+[A-Z][A-Z0-9 _]*:")
BOOT_URCS = re.compile(r"^(RDY|\+CFUN: 1|\+CPIN: READY|\+QUSIM: \d|\+QIND: (SMS|PB) DONE|"
                       r"SMS DONE|PB DONE|SMS Ready|Call Ready|\+CGEV: .*|\+QIND: .*|"
                       r"\+CPIN: NOT READY|START|\+ATREADY|\+CREG: \d|\+CEREG: \d)$")
WORD_URCS = re.compile(r"^(RDY|SMS DONE|PB DONE|SMS Ready|Call Ready|NORMAL POWER DOWN|"
                       r"UNDER-VOLTAGE.*|OVER-VOLTAGE.*|START|RING|\d+, ?CLOSED|CLOSED)$")
# Commands whose answer is free text (not "+CMD: ..." lines)
FREE_INFO = re.compile(r"^AT(\+GSN|\+CGSN|\+GMR|\+CGMR|\+GMM|\+CGMM|\+GMI|\+CGMI|\+CIMI|I\d?|"
                       r"\+SIMCOMATI|\+QGMR|\+CCID|\+QCCID|\+QILOCIP|\+CIFSR)$", re.I)
# Commands that take raw data after CONNECT / ">", and the parameter holding its size
DATA_CMDS = {
    "+QFUPL": 1, "+QSECWRITE": 1, "+CCERTDOWN": 1, "+QMTPUB": 5, "+QMTPUBEX": 5,
    "+QISEND": 1, "+QSSLSEND": 1, "+CMQTTTOPIC": 1, "+CMQTTPAYLOAD": 1, "+CMQTTSUBTOPIC": 1,
    "+CMQTTSUB": 1, "+CMQTTUNSUB": 1, "+CMQTTWILLTOPIC": 1, "+CMQTTWILLMSG": 1, "+CIPSEND": 1,
    "+CCHSEND": 1, "+QHTTPURL": 0, "+QHTTPPOST": 0, "+QFWRITE": 1, "+CMGS": None,
    "+HTTPDATA": 0,
}
OTHER_VENDORS = [
    (re.compile(r"^AT\+U(MQTT|SECMNG|SECPRF|PSD|SOCR|SOCO|SOWR|DWNFILE|HTTP)", re.I), "u-blox"),
    (re.compile(r"^AT#(SGACT|SD|SSLEN|SSLCFG|SCFG|MQ)", re.I), "Telit"),
    (re.compile(r"^AT!(GSTATUS|ENTERCND|SELRAT)", re.I), "Sierra Wireless"),
    (re.compile(r"^AT%(XSYSTEMMODE|CMNG|XICCID)", re.I), "Nordic"),
    (re.compile(r"^AT\^(SYSINFO|SYSCFG|IPINIT)", re.I), "Huawei"),
    (re.compile(r"^AT\+(CWJAP|CWMODE|MQTTUSERCFG)", re.I), "Espressif"),
]
OTHER_IDENTITY = re.compile(r"\b(u-blox|Telit|Sierra Wireless|Nordic Semiconductor|Huawei|"
                            r"Espressif|Fibocom|Sequans)\b", re.I)


def straighten(text):
    return "".join(CURLY.get(c, c) for c in text)


def cmd_name(cmd):
    m = re.match(r"^AT([+&$%#^!*\\]?[A-Za-z0-9]*)", cmd, re.I)
    return m.group(1).upper() if m else ""


def split_params(cmd):
    """The parameters of "AT+X=a,"b,c",d" as typed (quotes kept)."""
    i = cmd.find("=")
    if i < 0:
        return []
    out, cur, q = [], "", False
    for ch in cmd[i + 1:]:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out]


def declared_size(cmd):
    """The byte count a data command announces, or None (Ctrl+Z-terminated / not data)."""
    name = cmd_name(cmd)
    if name not in DATA_CMDS:
        return None
    params = split_params(cmd)
    idx = DATA_CMDS[name]
    if idx is None:
        return None
    if name == "+QFUPL" and len(params) == 1:
        return 10240
    if idx < len(params) and re.match(r"^\d+$", params[idx]):
        return int(params[idx])
    return None


def is_cmd(text):
    return bool(CMD_RE.match(text)) and " " not in text.split("=", 1)[0]


def is_result(text):
    return bool(RESULT_RE.match(text)) or bool(WORD_URCS.match(text))


# ---------------------------------------------------------------- reading and format detection

TRANSCRIPT_RE = re.compile(r"^\[(\d\d:\d\d:\d\d\.\d{3})\] #(\d+) (\S+)(?: (.*))?$")
STAMP_RE = re.compile(r"^\[(\d\d:\d\d:\d\d\.\d{3})\]\s*(收←◆|发→◇|RX:?|TX:?|<-|->|<<|>>)?(.*)$")
SENTRECV_RE = re.compile(r"^=== (SENT|RECV)@(\d+) ===\s*$")
BLOCK_END = "=================="


def decode(raw, path):
    if not raw.strip():
        raise BadInput(1, "the log is empty")
    ctrl = sum(1 for c in raw if c < 32 and c not in (9, 10, 13, 26, 27))
    nul = raw.find(b"\0")
    if nul >= 0 or ctrl * 20 > len(raw):
        at = nul if nul >= 0 else next(i for i, c in enumerate(raw)
                                      if c < 32 and c not in (9, 10, 13, 26, 27))
        raise BadInput(raw.count(b"\n", 0, at) + 1,
                       "binary data (byte 0x%02x at offset %d): not a text log" % (raw[at], at))
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def ms_clock(ms):
    ms = int(ms)
    return "%02d:%02d:%02d.%03d" % (ms // 3600000 % 100, ms // 60000 % 60, ms // 1000 % 60,
                                    ms % 1000)


def is_transcript(lines):
    body = [l for l in lines if l.strip()]
    return bool(body) and all(TRANSCRIPT_RE.match(l) for l in body)


def split_run_together(text):
    """Split a TeraTerm-like line where a command, its answer lines and its final result run
    together ("AT+CPIN? +CPIN: READY OK"). Splits outside quotes only."""
    parts, cur, q = [], "", False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            q = not q
        if not q and ch == " ":
            rest = text[i + 1:]
            if (re.match(r"^AT[+&A-Z]", rest) or re.match(r"^\+[A-Z][A-Z0-9]*: ", rest) or
                    re.match(r"^(OK|ERROR)$", rest) or re.match(r"^(OK|ERROR) ", rest) or
                    re.match(r"^-----(BEGIN|END)", rest)):
                if cur.strip():
                    parts.append(cur.strip())
                cur = ""
                i += 1
                continue
        cur += ch
        if not q and cur.endswith("-----") and re.search(r"-----(BEGIN|END) [A-Z ]+-----$", cur):
            parts.append(cur.strip())
            cur = ""
        i += 1
    if cur.strip():
        parts.append(cur.strip())
    return parts


def strip_comment(s):
    """A forum note's or application note's comment after a line: "AT+QIACT //Activate"."""
    q = False
    for i, ch in enumerate(s):
        if ch in '"\u201c\u201d':
            q = not q
        elif not q and ch in "/#" and s[i:i + 2] in ("//", "##") and i and s[i - 1] == " ":
            return s[:i].rstrip()
    return s


def tokenize(text, force=None, warn=None):
    """The log's lines as (lineno, dir, text, ts, fmt, original): dir "tx", "rx" or None
    (a terminal line, either side); original the text before quote straightening."""
    lines = text.split("\n")
    out = []
    mode = None  # inside a sentrecv block: ("tx"|"rx", ts)
    carry = None  # a RECV block that ended mid-line: (dir, text) continued by the next block
    stamp = None  # the current stamped chunk: (ts, dir)
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        fmt = force
        m = SENTRECV_RE.match(line) if force in (None, "sentrecv") else None
        if m:
            mode = ("tx" if m.group(1) == "SENT" else "rx", ms_clock(m.group(2)))
            stamp = None
            continue
        if mode:
            end = line.find(BLOCK_END)
            content = line if end < 0 else line[:end]
            if end >= 0 and line[:end].strip() == "" and line[end + len(BLOCK_END):].strip():
                # the terminal overwrote the start of a line ("=====...ntcert.pem",1222")
                content = ""
            if carry and carry[0] == mode[0] and content.strip():
                content = carry[1] + " " + content.strip()
                carry = None
            if end > 0 and content.strip():
                carry = (mode[0], content.strip())  # the line goes on in the next block
                mode = None
                continue
            if content.strip() or end < 0:
                out.append((n, mode[0], content.strip(), mode[1], "sentrecv", content.strip()))
            if end >= 0:
                mode = None
            continue
        if carry:
            out.append((n - 1, carry[0], carry[1], None, "sentrecv", carry[1]))
            carry = None
        m = STAMP_RE.match(line) if force in (None, "stamped") else None
        if m and not TRANSCRIPT_RE.match(line):
            mark = m.group(2) or ""
            d = "tx" if mark in ("发→◇", "TX", "TX:", "->", ">>") else "rx"
            stamp = (m.group(1), d)
            body = m.group(3).strip()
            out.append((n, None if d == "rx" else "tx", body, stamp[0], "stamped", body))
            continue
        s = line.strip()
        if stamp and s and not (is_cmd(straighten(s)) or is_result(straighten(s)) or
                                FINALS.match(s) or CONNECT_RE.match(s) or s.startswith(">")):
            # a stamped chunk's continuation ends at prose
            if len(s.split()) >= 6:
                stamp = None
        if not s:
            out.append((n, None, "", stamp[0] if stamp else None,
                        "stamped" if stamp else (force or "plain"), ""))
            continue
        if fmt != "stamped" and not stamp:
            s = strip_comment(s)
        parts = [s]
        run_together = force == "teraterm" or (
            force is None and " " in s and
            (re.match(r"^AT\S*.* (OK|ERROR)$", straighten(s)) or
             re.search(r" AT\+[A-Z]+\S*$", straighten(s)) or
             re.match(r"^-----BEGIN .*-----END .*----- (OK|ERROR)$", s)))
        if run_together:
            parts = split_run_together(straighten(s))
            fmt = "teraterm"
        else:
            fmt = "stamped" if stamp else (force or "plain")
            # "+NETOPEN: 0AT+IPADDR": a URC and the host's next command on one line
            m2 = re.match(r"^(\+[A-Z]+: [0-9,]+)(AT\+[A-Z].*)$", straighten(s))
            if m2:
                parts = [m2.group(1), m2.group(2)]
        for p in parts:
            out.append((n, None, p, stamp[0] if stamp else None, fmt, s))
    return out


# ---------------------------------------------------------------- building sessions


class Builder:
    """Turns classified lines into sessions of TX/RX records, exchange by exchange."""

    PROSE_BREAK = 8  # a prose line of this many words ends a session

    def __init__(self, name, warn):
        self.name = name
        self.warn = warn
        self.sessions = []
        self.s = None
        self.cur = None  # open exchange: dict(cmd, src, lines, final, data, phase)
        self.echo = True
        self.last_fmt = None
        self.pending_blank = 0

    # -- session bookkeeping

    def new_session(self, fmt, n):
        self.close_exchange()
        self.s = Session(fmt, n)
        self.sessions.append(self.s)
        self.echo = True

    def ensure(self, fmt, n):
        if self.s is None:
            self.new_session(fmt, n)
        elif fmt != self.last_fmt and self.last_fmt and self.has_exchange() and \
                {fmt, self.last_fmt} & {"stamped", "sentrecv"} and \
                not ({fmt, self.last_fmt} == {"sentrecv", "plain"} and fmt == "plain"):
            self.new_session(fmt, n)
        self.last_fmt = fmt

    def has_exchange(self):
        return self.s is not None and any(r.kind == "TX" for r in self.s.records)

    # -- exchanges

    def open_exchange(self, cmd, n, ts, echoed, original):
        self.close_exchange()
        if original != cmd:
            self.warn(n, "curly quotes straightened: %s" % original)
            self.s.add("note", "fieldlog line %d: quotes straightened, original: %s" %
                       (n, original), ts, n)
        self.cur = {"cmd": cmd, "src": n, "ts": ts, "lines": [], "final": None,
                    "phase": "answer", "echoed": echoed, "data": [], "size": declared_size(cmd)}
        self.s.add("TX", cmd.encode("utf-8", "replace") + b"\r", ts, n)
        if cmd.upper() == "ATE0":
            self.echo_next = False
        elif cmd.upper() in ("ATE1", "ATE"):
            self.echo_next = True

    def flush_rx(self, n, ts):
        """The lines gathered since the last flush as one RX record."""
        c = self.cur
        if not c or not c.get("pending"):
            return
        lines = c["pending"]
        c["pending"] = []
        body = b""
        if c.get("need_echo"):
            body += c["cmd"].encode("utf-8", "replace") + b"\r"
            c["need_echo"] = False
        while lines and lines[0] == "":
            lines.pop(0)
        if lines:
            body += b"\r\n" + b"\r\n".join(l.encode("utf-8", "replace") for l in lines) + b"\r\n"
        if body:
            self.s.add("RX", body, c.get("rx_ts") or ts, c.get("rx_src") or n)
        c["rx_ts"] = c["rx_src"] = None

    def rx_line(self, text, n, ts):
        c = self.cur
        if c is None:
            return
        c.setdefault("pending", [])
        if c.get("rx_src") is None:
            c["rx_src"], c["rx_ts"] = n, ts
        c["pending"].append(text)

    def close_exchange(self):
        c = self.cur
        if c is None:
            return
        self.flush_rx(c["src"], c["ts"])
        if c["final"] is None and c["phase"] != "after":
            self.warn(c["src"], "no final result logged for %s" % c["cmd"])
            self.s.add("note", "fieldlog line %d: no final result logged" % c["src"], c["ts"],
                       c["src"])
        self.cur = None
        self.echo = getattr(self, "echo_next", self.echo)

    def urc(self, text, n, ts):
        """A result line outside an open answer."""
        if self.cur is not None:
            self.flush_rx(n, ts)
            self.cur["pending"] = ["", text]
            self.cur["rx_src"], self.cur["rx_ts"] = n, ts
            self.flush_rx(n, ts)
        else:
            self.s.add("RX", b"\r\n" + text.encode("utf-8", "replace") + b"\r\n", ts, n)

    # -- the line state machine

    def feed(self, n, d, text, ts, fmt, original):
        st = straighten(text)
        if original and original != straighten(original) and d is None and not is_cmd(st):
            if is_result(st) or FINALS.match(st):
                self.warn(n, "curly quotes straightened: %s" % original)
        if not st:
            if self.cur is not None and self.cur["phase"] in ("answer", "after2"):
                self.rx_line("", n, ts)
            return
        if d == "tx":
            self.ensure(fmt, n)
            if self.cur is not None and self.cur["phase"] == "data":
                self.cur["data"].append(text)
                return
            if is_cmd(st):
                self.open_exchange(st, n, ts, False, text)
                self.cur["need_echo"] = False
                return
            if self.cur is not None and self.cur["size"] is not None:
                self.cur["phase"] = "data"
                self.cur["data"].append(text)
                return
            return  # stray host bytes
        # rx or terminal line
        if d is None and fmt != "sentrecv" and self.s is not None and self.s.fmt == "sentrecv" \
                and self.last_fmt == "sentrecv":
            # between SENT/RECV blocks: the host program's own prints
            if len(st.split()) >= self.PROSE_BREAK:
                self.close_exchange()
                self.s = None
                self.last_fmt = None
            return
        if is_cmd(st):
            if d == "rx" and self.cur is not None and st == self.cur["cmd"] and \
                    not self.cur["lines"] and self.cur["final"] is None:
                self.cur["need_echo"] = True  # the module's echo of it
                return
            if d == "rx" and self.cur is not None and self.cur["phase"] == "data":
                return  # the module echoing data that happens to look like a command
            self.ensure(fmt, n)
            self.open_exchange(st, n, ts, True, text)
            self.cur["need_echo"] = self.echo and d is None
            if self.cur["need_echo"] is False and d is None:
                pass
            return
        if self.s is None:
            if is_result(st) or FINALS.match(st):
                self.ensure(fmt, n)
            else:
                return
        c = self.cur
        if d is None and self.s is not None and fmt != self.last_fmt and \
                {fmt, self.last_fmt} & {"stamped"} and (is_result(st) or FINALS.match(st)):
            self.ensure(fmt, n)
            c = self.cur
        if c is not None and c["phase"] == "data":
            if is_result(st) or FINALS.match(st):
                self.end_data(n, ts)
                c["phase"] = "answer"
            else:
                if d == "rx" or fmt in ("sentrecv", "stamped"):
                    return  # the module echoing the data, or the host's own prints
                c["data"].append(st)
                self.data_done(n, ts)
                return
        if FINALS.match(st) or (CONNECT_RE.match(st) and c is not None and c["final"] is None):
            if c is None or c["final"] is not None:
                self.warn(n, "%s answers no command in the log" % st)
                return
            self.rx_line(st, n, ts)
            if CONNECT_RE.match(st) and c["size"] is not None or \
                    (CONNECT_RE.match(st) and cmd_name(c["cmd"]) in DATA_CMDS):
                self.flush_rx(n, ts)
                c["phase"] = "data"
                return
            c["final"] = st
            c["phase"] = "after"
            self.flush_rx(n, ts)
            return
        if st.startswith(">") and c is not None and c["final"] is None and \
                cmd_name(c["cmd"]) in DATA_CMDS:
            self.rx_line(">", n, ts)
            self.flush_rx(n, ts)
            # the prompt has no CR LF after it; "> " where the log shows the space
            last = self.s.records[-1]
            if last.kind == "RX" and last.data.endswith(b">\r\n"):
                last.data = last.data[:-2] + (b" " if original.startswith("> ") else b"")
            c["phase"] = "data"
            rest = st[1:].strip()
            if rest and not rest.startswith(("(", "<")):
                c["data"].append(rest)
                self.data_done(n, ts)
            return
        if is_result(st):
            if c is not None and c["final"] is None:
                self.rx_line(st, n, ts)
            else:
                self.urc(st, n, ts)
            self.identity(st, n)
            return
        # free text
        if c is not None and c["final"] is None and c["phase"] == "answer":
            if (FREE_INFO.match(c["cmd"]) and len(st.split()) < 6) or (len(st.split()) <= 4 and re.match(
                    r"^[A-Za-z]+: ", st) and cmd_name(c["cmd"]) in ("I", "+SIMCOMATI")):
                self.rx_line(st, n, ts)
                self.identity(st, n, c["cmd"])
                return
            if (c["size"] is not None or cmd_name(c["cmd"]) in DATA_CMDS) and \
                    not c.get("data_sent"):
                # data shown without a prompt (a terminal that hides it)
                c["phase"] = "data"
                c["data"].append(st)
                self.data_done(n, ts)
                return
        if len(st.split()) >= self.PROSE_BREAK and self.s is not None:
            if self.has_exchange():
                self.close_exchange()
            else:
                # a title or stray result line before any command: not a session
                self.sessions.remove(self.s)
                self.cur = None
            self.s = None
            self.last_fmt = None
        m = OTHER_IDENTITY.search(st)
        if m and (c is not None or self.s is not None) and len(st.split()) < 6:
            raise BadInput(n, "%s identifies a %s module; modemsim simulates Quectel "
                           "EC25/M95/BG96 and SIMCom SIM7600/A7670/SIM7670G" % (st, m.group(1)))

    def data_done(self, n, ts):
        """A sized data phase ends with its declared size: what follows is not data."""
        c = self.cur
        if c["size"] is not None and len("\r\n".join(c["data"]).encode()) >= c["size"]:
            self.end_data(n, ts)
            c["phase"] = "answer"

    def end_data(self, n, ts):
        c = self.cur
        c["data_sent"] = True
        data = "\r\n".join(c["data"])
        if data:
            self.s.add("TX", data.encode("utf-8", "replace"), ts, n)
        size = c["size"]
        if size is not None and len(data.encode("utf-8", "replace")) != size:
            self.s.add("note", "fieldlog line %d: data elided, %d bytes declared" %
                       (c["src"], size), ts, c["src"])
        c["data"] = []

    def identity(self, st, n, cmd=None):
        s = self.s
        m = re.match(r"^(?:Revision: |\+CGMR: |\+QGMR: )(\S+)", st)
        if m or (cmd and re.match(r"^AT\+(C?GMR)$", cmd, re.I)):
            s.revision = s.revision or (m.group(1) if m else st.strip())
        m = re.match(r"^(?:IMEI: |\+CGSN: |\+GSN: )?(\d{15})$", st)
        if m and (st.startswith("IMEI") or (cmd and re.match(r"^AT\+C?GSN$", cmd, re.I)) or
                  st.startswith("+")):
            s.imei = s.imei or m.group(1)
        m = re.match(r'^\+COPS: \d,\d,"([^"]+)"', st)
        if m:
            s.operator = s.operator or m.group(1)
        low = st.lower()
        for key, model in (("sim7670", "sim7670g"), ("a7670", "a7670"), ("a7608", "a7670"),
                           ("sim7600", "sim7600"), ("sim7500", "sim7600"), ("ec25", "ec25"),
                           ("eg25", "ec25"), ("bg96", "bg96"), ("m95", "m95")):
            if key in low and (st.startswith(("Model", "Revision", "+CGMR", "+CGMM")) or
                               (cmd and (FREE_INFO.match(cmd)))):
                s.model = s.model or model
                break

    def finish(self, n):
        self.close_exchange()


def vendor_of(cmd):
    for rx, vendor in OTHER_VENDORS:
        if rx.match(cmd):
            return vendor
    return None


def guess_model(session):
    """From the commands when the log names no model."""
    cmds = [r.data.decode("utf-8", "replace").upper() for r in session.records if r.kind == "TX"]
    joined = " ".join(cmds)
    if re.search(r"AT\+(CMQTT|CCH|CSSLCFG|CCERT|NETOPEN|CIPOPEN|SIMCOMATI)", joined):
        return "sim7600"
    if re.search(r"AT\+(QSECWRITE|QIREGAPP|QIFGCNT|QILOCIP)", joined):
        return "m95"
    if re.search(r"AT\+Q", joined):
        return "ec25"
    return None


def parse_transcript(text, name):
    sessions = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        m = TRANSCRIPT_RE.match(line)
        if not m:
            raise BadInput(n, "not a transcript record: %r" % line[:60])
        ts, modem, kind, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4) or ""
        s = sessions.get(modem)
        if s is None:
            s = sessions[modem] = Session("modemsim", n)
        if kind in ("TX", "RX"):
            s.add(kind, unescape(rest, n), ts, n)
        else:
            s.add(kind, rest, ts, n)
            if kind == "note" and rest.startswith("fieldlog session "):
                for kv in rest.split()[3:]:
                    k, _, v = kv.partition("=")
                    s.meta[k] = v
                s.model = s.meta.get("model") or None
                s.fmt = s.meta.get("format", s.fmt)
                s.exact = s.meta.get("exact") == "bytes"
                for k in ("revision", "imei", "operator"):
                    if s.meta.get(k):
                        setattr(s, k, s.meta[k].replace("\\x20", " "))
    out = [sessions[k] for k in sorted(sessions)]
    for s in out:
        if not s.meta:
            s.exact = True
            scan_identity(s)
    return out


def scan_identity(s):
    """Model, revision and IMEI from a transcript's answers."""
    b = Builder("", lambda *a: None)
    b.s = s
    last_cmd = None
    for r in s.records:
        if r.kind == "TX" and r.data.upper().startswith(b"AT"):
            last_cmd = r.data.decode("utf-8", "replace").strip()
        elif r.kind == "RX":
            for l in re.split(r"\r*\n", r.data.decode("utf-8", "replace")):
                l = l.strip("\r ")
                if l and l != last_cmd:
                    b.identity(l, 0, last_cmd)


def load(path, force=None, warn=None):
    """Sessions of the log at path. Raises BadInput."""
    with open(path, "rb") as f:
        raw = f.read()
    text = decode(raw, path)
    name = os.path.basename(path)
    warnings = []

    def w(n, msg):
        warnings.append((n, msg))
        if warn:
            warn(n, msg)

    lines = text.split("\n")
    if force == "modemsim" or (force is None and is_transcript(lines)):
        sessions = parse_transcript(text, name)
    else:
        b = Builder(name, w)
        toks = tokenize(text, force, w)
        for tok in toks:
            b.feed(*tok)
        b.finish(len(lines))
        sessions = [s for s in b.sessions if any(r.kind == "TX" for r in s.records)]
        if not sessions:
            raise BadInput(1, "no AT command found: not a modem log (formats: %s)" %
                           ", ".join(FORMATS))
        last = lines[-1] if lines[-1].strip() else (lines[-2] if len(lines) > 1 else "")
        truncated(b, sessions, lines, toks)
        # a session's own identity lines, else the file's, else its commands' family
        file_model = next((s.model for s in sessions if s.model), None)
        for s in sessions:
            s.model = s.model or file_model or guess_model(s)
    for s in sessions:
        for r in s.records:
            if r.kind == "TX":
                v = vendor_of(r.data.decode("utf-8", "replace"))
                if v:
                    raise BadInput(r.src, "%s is a %s command: modemsim simulates Quectel "
                                   "EC25/M95/BG96 and SIMCom SIM7600/A7670/SIM7670G" %
                                   (r.data.decode("utf-8", "replace").strip(), v))
    return sessions, warnings


def truncated(b, sessions, lines, toks):
    """A log cut short is bad input: one that ends inside a SENT/RECV block, or whose last
    line is a command with nothing after it."""
    opened = None
    for i, l in enumerate(lines, 1):
        if SENTRECV_RE.match(l.strip()):
            opened = i
        elif BLOCK_END in l:
            opened = None
    if opened:
        raise BadInput(opened, "the %s block is never closed: the log is truncated" %
                       lines[opened - 1].strip())
    tail = [t for t in toks if t[2]]
    if not tail or not sessions:
        return
    ex, _ = exchanges(sessions[-1])
    if not ex:
        return
    e = ex[-1]
    shown = [l for l, _ in e.lines() if l.strip()]
    if e.final is None and not shown and not e.data and e.src >= tail[-1][0]:
        raise BadInput(e.src, "the log ends with %s and no answer: truncated?" % e.cmd)


# ---------------------------------------------------------------- export


def export(sessions, source):
    out = []
    for i, s in enumerate(sessions):
        if s.fmt != "modemsim" or s.meta:
            has_header = any(r.kind == "note" and r.data.startswith("fieldlog session ")
                             for r in s.records)
            if not has_header:
                ts = next((r.ts for r in s.records if r.ts), None) or "00:00:00.000"
                kv = ["model=%s" % (s.model or "-"), "format=%s" % s.fmt,
                      "lines=%d-%d" % (s.start, s.end),
                      "exact=%s" % ("bytes" if s.exact else "lines"),
                      "source=%s" % source.replace(" ", "_")]
                for k in ("revision", "imei", "operator"):
                    v = getattr(s, k)
                    if v:
                        kv.append("%s=%s" % (k, v.replace(" ", "\\x20")))
                out.append("[%s] #%d note fieldlog session %d %s" % (ts, i, i + 1, " ".join(kv)))
        last = "00:00:00.000"
        for r in s.records:
            ts = r.ts or last
            last = ts
            if r.kind in ("TX", "RX"):
                out.append("[%s] #%d %s %s" % (ts, i, r.kind, escape(r.data)))
            else:
                out.append("[%s] #%d %s %s" % (ts, i, r.kind, r.data))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- exchanges (for replay)


class Exchange:
    def __init__(self, cmd, src, ts):
        self.cmd, self.src, self.ts = cmd, src, ts
        self.rx = []  # (bytes, src)
        self.data = []  # bytes the host sent in data phases
        self.elided = False
        self.final = None

    def lines(self):
        """The module's lines: (text, src), echo removed."""
        out = []
        for data, src in self.rx:
            text = data.decode("utf-8", "replace")
            for l in re.split(r"\r*\n", text):
                out.append((l.rstrip("\r"), src))
        return strip_echo(out, self.cmd)


def strip_echo(lines, cmd):
    out = []
    for l, src in lines:
        if l.startswith(cmd) and not out:
            rest = l[len(cmd):].lstrip("\r")
            if rest:
                out.append((rest, src))
            continue
        out.append((l, src))
    return out


def complete(cmd, session_cmds):
    """A command line the log shows cut short (an unbalanced quote): the quote closed and,
    for an open command, the MQTT port its SSL setting implies."""
    if cmd.count('"') % 2 == 0:
        return cmd
    cmd += '"'
    if cmd_name(cmd) in ("+QMTOPEN", "+QIOPEN", "+QSSLOPEN"):
        ssl = re.search(r'QMTCFG="SSL",%s,1' % re.escape(split_params(cmd)[0]),
                        " ".join(session_cmds), re.I)
        cmd += ",8883" if ssl else ",1883"
    return cmd


def exchanges(session):
    ex = []
    cur = None
    pre = []
    for r in session.records:
        if r.kind == "TX":
            text = r.data.decode("utf-8", "replace")
            if re.match(r"^AT", text, re.I) and text.endswith(("\r", "\n")) and \
                    not (cur and cur.final is None and cur.prompted):
                cur = Exchange(text.strip("\r\n"), r.src, r.ts)
                cur.prompted = False
                ex.append(cur)
            elif cur is not None:
                cur.data.append(r.data)
        elif r.kind == "RX":
            if cur is None:
                pre.append((r.data, r.src))
                continue
            cur.rx.append((r.data, r.src))
            tail = r.data.rstrip(b"\r\n")
            if re.search(rb"(^|\n)(CONNECT)\r?\n?$", r.data) or tail.endswith(b">") or \
                    r.data.endswith(b"> "):
                if cur.final is None:
                    cur.prompted = True
            for l in re.split(rb"\r*\n", r.data):
                if FINALS.match(l.decode("utf-8", "replace").strip()):
                    cur.final = cur.final or l.decode("utf-8", "replace").strip()
                    cur.prompted = False
        elif r.kind == "note" and "data elided" in r.data and cur is not None:
            cur.elided = True
    cmds = [e.cmd for e in ex]
    for e in ex:
        e.sent = complete(e.cmd, cmds)
    return ex, pre


# ---------------------------------------------------------------- comparison rules

IP_RE = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
IMEI_RE = re.compile(r"(?<![\d,])(\d{15}|X{10,})(?![\d,])")
TIME_RE = re.compile(r'"?\d\d/\d\d/\d\d,\d\d:\d\d:\d\d[+-]\d+"?')
NETWORK = re.compile(r"^\+(CSQ|QCSQ|CESQ|QNWINFO|CPSI|QENG|QSPN|CCID|QCCID|ICCID|CNUM|COPS):")
SUM_RE = re.compile(r"^\+(QFUPL|QFDWL|QSECWRITE|QSECREAD): (\d+),([0-9a-fA-F]+)$")


def normalise(line, cmd, ctx):
    """(comparable text, rule names applied)."""
    rules = []
    t = line
    if SUM_RE.match(t) and not ctx.get("same_data"):
        t = SUM_RE.sub(lambda m: "+%s: %s,<sum>" % (m.group(1), m.group(2)), t)
        rules.append("checksum")
    if NETWORK.match(t):
        head = t.split(":", 1)[0]
        t = "%s: <%d values>" % (head, t.count(",") + 1)
        rules.append("network")
    m = re.match(r'^\+COPS: (\d),(\d),"[^"]*"(.*)$', t)
    if m:
        t = '+COPS: %s,%s,<operator>%s' % (m.group(1), m.group(2), m.group(3))
        rules.append("network")
    if re.match(r"^AT\+CIMI$", cmd, re.I) and re.match(r"^[\dX]{10,16}$", t):
        t = "<imsi>"
        rules.append("network")
    t2 = TIME_RE.sub("<time>", t)
    if t2 != t:
        rules.append("time")
        t = t2
    t2 = IP_RE.sub("<ip>", t)
    if t2 != t:
        rules.append("ip")
        t = t2
    t2 = IMEI_RE.sub("<imei>", t)
    if t2 != t:
        rules.append("imei")
        t = t2
    return t, rules


# ---------------------------------------------------------------- replay


def pki_files(sim):
    d = os.path.dirname(sim.broker["ca"]) if sim.broker else None
    return d


def upload_data(cmd, size, pki, logged):
    """What the replay sends for a data phase of `size` bytes: the log's own bytes when it
    has them all, else a test PKI file for the role the file name suggests (padded with LF to
    the declared size; a DER CA when the PEM one does not fit), else filler."""
    if logged is not None and len(logged) == size:
        return logged, True
    name = (split_params(cmd) or [""])[0].strip('"').lower()
    cands = []
    if pki and cmd_name(cmd) in ("+QFUPL", "+QSECWRITE", "+CCERTDOWN"):
        if "key" in name:
            cands = ["client-rsa.key", "client-ec.key"]
        elif re.search(r"ca|root|trust", name.split(":")[-1]):
            cands = ["ca.pem", "ca.der"]
        else:
            cands = ["client-rsa.pem", "client-ec.pem"]
    for c in cands:
        p = os.path.join(pki, c)
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if len(data) <= size:
                return data + b"\n" * (size - len(data)), False
    if logged:
        return (logged * (size // len(logged) + 1))[:size], False
    return (b"0123456789abcdef" * (size // 16 + 1))[:size], False


def replay_session(session, model, scenario=None, args=(), timeout=20.0, verbose=False):
    """Drive a modemsim of `model` with the session's host side; return the list of
    compared rows (dicts) for the diff."""
    from modemsim_harness.modemsim import ModemSim, Timeout  # the harness's launcher
    exs, _ = exchanges(session)
    argv = list(args)
    joined = " ".join(e.cmd.upper() for e in exs)
    if re.search(r'SECLEVEL",\d+,2|AUTHMODE",\d+,2', joined):
        argv += ["--route", "8883=@mutual"]
    if scenario:
        argv += ["--scenario", scenario]
    elif session.revision and not re.search(r"X{4,}", session.revision):
        argv += ["--revision", session.revision]
    sim = ModemSim(*argv, model=model, timing="fast", trace=False, log=True)
    rows = []
    try:
        t = sim.open()
        pki = pki_files(sim)
        for e in exs:
            got, same = drive(t, e, pki, timeout, Timeout)
            rows.extend(compare(session, e, got, same))
    finally:
        sim.stop()
    return rows


FINAL_B = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r\n]*|\+CMS ERROR: [^\r\n]*|NO CARRIER|"
                     rb"SEND OK|SEND FAIL|CLOSE OK|DEACT OK|CONNECT OK|ALREADY CONNECT)\r\n")
PROMPT_B = re.compile(rb"\r\nCONNECT(?: \d+)?\r\n|\r\n> ?$|\r\n>(?!\r)")


def drive(t, e, pki, timeout, Timeout):
    """Send one exchange as a host would: the command, data at the prompt, and wait for the
    final result (and as many lines after it as the log shows). Returns (bytes, same_data)."""
    out = b""
    same = True
    sent_data = []
    t.write(e.sent.encode("utf-8", "replace") + b"\r")
    deadline = time.monotonic() + timeout
    prompted = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            out += t.drain(0.1, 0.5)
            return out, same
        if not t._fill(min(deadline, time.monotonic() + 0.05)):
            pass
        buf = t.buf
        mf = FINAL_B.search(buf)
        mp = PROMPT_B.search(buf) if not prompted else None
        if mp and (not mf or mp.start() < mf.start()):
            out += buf[:mp.end()]
            t.buf = buf[mp.end():]
            prompted = True
            size = declared_size(e.cmd)
            logged = b"\r\n".join(e.data) if e.data else None
            if size is not None:
                data, same = upload_data(e.cmd, size, pki, logged)
                t.write(data)
            else:
                data = logged or b""
                t.write(data + b"\x1a")
                same = logged is not None
            sent_data.append(data)
            continue
        if mf:
            out += buf[:mf.end()]
            t.buf = buf[mf.end():]
            break
    # what the log shows after the final result: wait for that many lines
    after = 0
    seen_final = False
    for l, _ in e.lines():
        if seen_final and l.strip():
            after += 1
        if FINALS.match(l.strip()) and not seen_final:
            seen_final = True
    if not seen_final:
        # the log shows the exchange cut short: wait for as many lines as it shows
        after = len([l for l, _ in e.lines() if l.strip() and not l.startswith(">")])
        if FINAL_B.search(out):
            after -= 0
    if after:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = len([l for l in re.split(rb"\r*\n", t.buf) if l.strip()])
            if n >= after:
                break
            t._fill(min(deadline, time.monotonic() + 0.1))
    out += t.drain(0.15, 2.0)
    for data in sent_data:
        # the module's echo of the data is not an answer (the log shows the data as sent)
        if data and data in out:
            out = out.replace(data, b"", 1)
    return out, same


def compare(session, e, got, same):
    """Rows for one exchange: align the log's lines and modemsim's by their normalised text."""
    log_lines = [(l.strip(), src) for l, src in e.lines()]
    sim_lines = [(l.strip(), 0) for l, _ in strip_echo(
        [(x, 0) for x in re.split(r"\r*\n", got.decode("utf-8", "replace"))], e.sent)]
    if not session.exact:
        log_lines = [x for x in log_lines if x[0]]
        sim_lines = [x for x in sim_lines if x[0]]
    if not any(l.startswith(">") for l, _ in log_lines):
        # the log does not show the prompt (nor the payload echoed after it)
        sim_lines = [x for x in sim_lines if not x[0].startswith(">")]
    partial = not any(FINALS.match(l) for l, _ in log_lines)
    dropped = []
    if partial:
        dropped = [x for x in sim_lines if FINALS.match(x[0])]
        sim_lines = [x for x in sim_lines if not FINALS.match(x[0])]
    ctx = {"same_data": same and not e.elided}
    ln = [normalise(l, e.cmd, ctx) for l, _ in log_lines]
    sn = [normalise(l, e.cmd, ctx) for l, _ in sim_lines]
    rows = [{"src": e.src, "log": e.cmd, "sim": e.sent, "mark": "cmd", "rules": []}]
    rows += [{"src": e.src, "log": "", "sim": x[0], "mark": "~", "rules": ["partial"]}
             for x in dropped]
    sm = difflib.SequenceMatcher(a=[x[0] for x in ln], b=[x[0] for x in sn], autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                a, b = log_lines[i1 + k][0], sim_lines[j1 + k][0]
                rules = sorted(set(ln[i1 + k][1]) | set(sn[j1 + k][1]))
                rows.append({"src": log_lines[i1 + k][1], "log": a, "sim": b,
                             "mark": "=" if a == b else "~", "rules": rules if a != b else []})
            continue
        la, sa = log_lines[i1:i2], sim_lines[j1:j2]
        for k in range(max(len(la), len(sa))):
            a = la[k] if k < len(la) else None
            b = sa[k] if k < len(sa) else None
            if a and b:
                mark, rules = "!", []
            elif a:
                mark, rules = "<", []
                if BOOT_URCS.match(a[0]):
                    mark, rules = "~", ["boot"]
            else:
                mark, rules = ">", []
                if BOOT_URCS.match(b[0]):
                    mark, rules = "~", ["boot"]
                elif partial:
                    mark, rules = "~", ["partial"]
            rows.append({"src": a[1] if a else e.src, "log": a[0] if a else "",
                         "sim": b[0] if b else "", "mark": mark, "rules": rules})
    return rows


def print_diff(rows, session, idx, model, out):
    out.write("session %d: %s, log lines %d-%d (%s)\n" % (idx + 1, model, session.start,
                                                         session.end, session.fmt))
    w = 44
    out.write("%6s  %-*s   %s\n" % ("line", w, "log (module)", "modemsim"))
    for r in rows:
        if r["mark"] == "cmd":
            out.write("%6d  %s\n" % (r["src"], r["log"]))
            continue
        note = "  [%s]" % ",".join(r["rules"]) if r["rules"] else ""
        mark = {"=": " ", "~": "~", "!": "|", "<": "<", ">": ">"}[r["mark"]]
        out.write("%6s    %-*s %s %s%s\n" % (r["src"] or "", w - 2, r["log"][:w - 2], mark,
                                             r["sim"], note))
    bad = [r for r in rows if r["mark"] in "!<>"]
    out.write("%d line(s) differ\n\n" % len(bad))
    return bad


# ---------------------------------------------------------------- to-scenario


def q(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def median_gap(session):
    stamps = []
    for r in session.records:
        if r.kind == "TX" and r.ts and r.data.upper().startswith(b"AT"):
            h, m, s = r.ts.split(":")
            stamps.append((int(h) * 3600 + int(m) * 60 + float(s), r.src))
    gaps = sorted(b[0] - a[0] for a, b in zip(stamps, stamps[1:]) if b[0] > a[0])
    if len(gaps) < 3:
        return None, stamps
    return gaps[len(gaps) // 2], stamps


def pattern_of(cmd):
    """A scenario pattern matching cmd's command and parameter count: "AT+QMTOPEN=*,*,*"."""
    params = split_params(cmd)
    head = cmd.split("=", 1)[0]
    if not params:
        return q(cmd)
    return "pattern " + q(head + "=" + ",".join("*" for _ in params))


def scenario_rules(session, rows_by_ex, exs, source):
    """The statements (each with its comment lines) for the departures found."""
    out = []
    seen = {}
    for e, rows in zip(exs, rows_by_ex):
        seen[e.cmd] = seen.get(e.cmd, 0) + 1
        bad = [r for r in rows if r["mark"] in "!<>"]
        if not bad:
            continue
        limit = "nth %d" % seen[e.cmd] if sum(1 for x in exs if x.cmd == e.cmd) > 1 else "once"
        log_lines = [r["log"] for r in rows[1:] if r["log"]]
        sim_lines = [r["sim"] for r in rows[1:] if r["sim"]]
        finals = [l for l in log_lines if FINALS.match(l)]
        log_final = finals[0] if finals else None
        after = log_lines[log_lines.index(log_final) + 1:] if log_final else []
        before = log_lines[:log_lines.index(log_final)] if log_final else log_lines
        where = "%s line %d" % (source, e.src)
        name = cmd_name(e.cmd)
        params = split_params(e.cmd)
        # +QMTOPEN: <id>,-1 after OK: a TLS failure; the real fault is a server the CA
        # does not verify
        m = [re.match(r"^\+QMTOPEN: (\d+),(-?\d+)$", l) for l in after]
        m = [x for x in m if x]
        if name == "+QMTOPEN" and m and m[0].group(2) != "0":
            code = m[0].group(2)
            ssl = any(re.search(r'QMTCFG="SSL",%s,1' % re.escape(params[0]), x.cmd, re.I)
                      for x in exs) if params else False
            if code == "-1" and ssl:
                out.append(([
                    "%s: %s answered OK, then +QMTOPEN: %s,-1 (modemsim: %s)." % (
                        where, e.cmd, params[0], "; ".join(sim_lines) or "nothing"),
                    "A real fault: the server presents a certificate the module's CA does not",
                    "verify, so the TLS handshake fails before any MQTT byte, as in the field.",
                    "(The field's cause may as well be a CA uploaded with a wrong declared",
                    "size, scenarios/ec25-aws-ca-size-mismatch.scn: that is the host's",
                    "doing, which a scenario cannot express.)"],
                    "at 0ms fault tls.cert kind untrusted"))
            else:
                out.append(([
                    "%s: %s answered OK, then +QMTOPEN: %s,%s (modemsim: %s)." % (
                        where, e.cmd, params[0] if params else "?", code,
                        "; ".join(sim_lines) or "nothing"),
                    "No fault of the scenario language gives this code: a rule answers so."],
                    "on %s %s urc 1s %s" % (pattern_of(e.cmd), limit,
                                            q("+QMTOPEN: {1},%s" % code))))
            continue
        m = [re.match(r"^\+QMTSTAT: (\d+),1$", l) for l in after]
        if name == "+QMTCONN" and any(m) and log_final == "OK":
            cid = params[1] if len(params) > 1 else '"*"'
            pat = head_pattern = e.cmd.split("=", 1)[0] + "=*," + cid + ",..."
            out.append(([
                "%s: %s answered OK, then +QMTSTAT: %s,1 and no +QMTCONN (modemsim: %s)." % (
                    where, e.cmd, params[0], "; ".join(sim_lines) or "nothing"),
                "A real fault: the broker ends the connection once it has the CONNECT of this",
                "client id (as a policy that refuses it does); an RST, so the module reads no",
                "CONNACK first (scenarios/ec25-aws-policy-closes.scn)."],
                "after command pattern %s fault link.reset" % q(head_pattern)))
            continue
        # identity answers become settings (written in the header); skip them here
        if re.match(r"^AT\+(C?GMR|C?GSN|COPS\?)$", e.cmd, re.I) or name in ("I",):
            continue
        if log_final is None:
            continue  # the log does not show the answer: nothing to reproduce
        info = [l for l in before if l != ">" and not CONNECT_RE.match(l)]
        if after and not info and log_final == "OK":
            stmt = "on %s %s urc 1s %s" % (q(e.cmd), limit, q(after[0]))
        else:
            stmt = "on %s %s reply %s final %s" % (q(e.cmd), limit,
                                                   " ".join(q(l) for l in info[:16]),
                                                   q(log_final))
            stmt = stmt.replace("reply  final", "reply final")
        out.append(([
            "%s: %s answered %s (modemsim: %s)." % (
                where, e.cmd, "; ".join(before + [log_final] + after),
                "; ".join(sim_lines) or "nothing"),
            "No fault of the scenario language has this cause: the rule answers as the log."],
            stmt))
    return out


def to_scenario(session, idx, model, source, rows_by_ex, exs):
    lines = ["# Generated by harness/fieldlog.py from %s, session %d (log lines %d-%d, %s)." % (
        source, idx + 1, session.start, session.end, session.fmt),
        "# Each statement's comment names the log line it reproduces. Run it with",
        "#   build/sim/modemsim --model %s --scenario THIS_FILE" % model,
        "# and replay the log against it: harness/fieldlog.py replay LOG --scenario THIS_FILE",
        "model %s" % model]
    ident = []
    if session.revision and not re.search(r"X{4,}", session.revision) and \
            len(session.revision) <= 64:
        ident.append(("revision %s" % q(session.revision), "the revision the log shows"))
    if session.imei and re.match(r"^\d{15}$", session.imei):
        ident.append(("imei %s" % session.imei, "the IMEI the log shows"))
    if session.operator and 1 <= len(session.operator) <= 31:
        ident.append(("operator %s" % q(session.operator), "the operator +COPS? showed"))
    for stmt, why in ident:
        lines.append("# %s: %s" % (source, why))
        lines.append(stmt)
    exs_all, _ = exchanges(session)
    joined = " ".join(e.cmd.upper() for e in exs_all)
    if re.search(r'SECLEVEL",\d+,2|AUTHMODE",\d+,2', joined):
        lines.append("# the log's TLS asks for a client certificate (seclevel/authmode 2): port")
        lines.append("# 8883 goes to the embedded broker's listener that requires one")
        lines.append("route 8883 @mutual")
    gap, stamps = median_gap(session)
    if gap is not None and gap >= 1.0:
        lines.append("# %s lines %d-%d: commands answered %.2f s apart (median), far beyond" % (
            source, stamps[0][1], stamps[-1][1], gap))
        lines.append("# their maximum response times: a slow module (or a host pacing its")
        lines.append("# commands; the log cannot tell). Every command's answer is delayed.")
        lines.append("latency command %dms" % int(round(gap * 1000)))
    for comment, stmt in scenario_rules(session, rows_by_ex, exs, source):
        lines.append("")
        for c in comment:
            lines.extend("# " + w for w in textwrap.wrap(c, 96, break_long_words=False,
                                                       break_on_hyphens=False))
        lines.append(stmt)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- CLI


def pick_model(session, forced):
    if forced:
        if forced not in MODELS:
            raise BadInput(0, "unknown model %r (models: %s)" % (forced, ", ".join(MODELS)))
        return forced
    return session.model


def available_models():
    from modemsim_harness.modemsim import BINARY
    import subprocess
    try:
        r = subprocess.run([BINARY, "--list-models"], capture_output=True, text=True,
                           timeout=20)
        return r.stdout.split()
    except OSError:
        return []


def run_replay(sessions, args, source, out):
    """Replay the selected sessions; (exit status, {session index: (rows per exchange)})."""
    avail = available_models()
    worst = EXIT_OK
    results = {}
    report = []
    for i, s in enumerate(sessions):
        if args.session and i + 1 != args.session:
            continue
        model = pick_model(s, args.model)
        if not model:
            raise BadInput(s.start, "session %d names no model: give --model" % (i + 1))
        if model not in avail:
            out.write("session %d: model %s is not in this modemsim (%s): skipped\n\n" % (
                i + 1, model, " ".join(avail)))
            report.append({"session": i + 1, "model": model, "skipped": True})
            continue
        exs, _ = exchanges(s)
        rows = replay_session(s, model, scenario=args.scenario)
        # split the rows back per exchange
        per, cur = [], None
        for r in rows:
            if r["mark"] == "cmd":
                cur = [r]
                per.append(cur)
            else:
                cur.append(r)
        results[i] = (s, model, exs, per)
        bad = print_diff(rows, s, i, model, out)
        report.append({"session": i + 1, "model": model, "rows": rows,
                       "mismatches": len(bad)})
        if bad:
            worst = EXIT_MISMATCH
    if getattr(args, "json", None):
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return worst, results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="fieldlog.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("action", choices=("import", "replay", "to-scenario"))
    ap.add_argument("log")
    ap.add_argument("--format", choices=FORMATS)
    ap.add_argument("--model", help="the model to replay against (default: the log's)")
    ap.add_argument("--session", type=int, default=0,
                    help="only this session (1-based; to-scenario: default the first with a "
                    "departure)")
    ap.add_argument("--scenario", help="replay: run modemsim with this scenario file")
    ap.add_argument("--json", help="replay: also write the compared rows as JSON")
    ap.add_argument("-o", "--output", help="import/to-scenario: write here (default stdout)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no warnings on stderr")
    args = ap.parse_args(argv)
    source = os.path.basename(args.log)

    def warn(n, msg):
        if not args.quiet:
            sys.stderr.write("%s:%d: warning: %s\n" % (args.log, n, msg))

    try:
        if not os.path.isfile(args.log):
            raise BadInput(0, "no such file")
        sessions, _ = load(args.log, args.format, warn)
        if args.session and not 1 <= args.session <= len(sessions):
            raise BadInput(0, "no session %d (the log has %d)" % (args.session, len(sessions)))
        if args.action == "import":
            text = export(sessions, source)
            if args.output:
                with open(args.output, "w") as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
            return EXIT_OK
        if args.action == "replay":
            status, _ = run_replay(sessions, args, source, sys.stdout)
            return status
        # to-scenario: replay, then a rule per departure
        sel = args.session
        status, results = run_replay(sessions, args, source, sys.stderr if not args.quiet
                                     else open(os.devnull, "w"))
        if not results:
            raise BadInput(0, "no session could be replayed (model not in this modemsim?)")
        if not sel:
            sel = next((i + 1 for i, (s, m, e, per) in sorted(results.items())
                        if any(r["mark"] in "!<>" for p in per for r in p)),
                       min(results) + 1)
        if sel - 1 not in results:
            raise BadInput(0, "session %d was not replayed" % sel)
        s, model, exs, per = results[sel - 1]
        text = to_scenario(s, sel - 1, model, source, per, exs)
        if args.output:
            with open(args.output, "w") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return EXIT_OK
    except BadInput as e:
        sys.stderr.write("%s:%s: error: %s\n" % (args.log, e.line, str(e).split(": ", 1)[1]))
        return EXIT_BAD
    except OSError as e:
        sys.stderr.write("%s: error: %s\n" % (args.log, e))
        return EXIT_BAD


if __name__ == "__main__":
    sys.exit(main())
