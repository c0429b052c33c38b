#!/usr/bin/python3
"""A correct host driver for a Quectel EC25: publish MQTT messages over TLS with AT+QMT*.

    ec25_mqtt_tls.py TTY --ca FILE [--cert FILE --key FILE] --host NAME [--port 8883]
                     --client-id ID --topic T --message M [--subscribe T2] [--count N]
                     [--timeout S]  (--help lists the rest: --interval, --receive, ...)

It is an example of what the module expects from its host (shared/reference/quectel.md, cited
as "ref §n"; shared/reference/host-drivers.md as "drivers n"), and what the field expects from a
driver that must keep working when the network does not:

* one command at a time: the next command line is written only after the previous one's final
  result (OK, ERROR, +CME ERROR, CONNECT, or the "> " prompt), and data only after the prompt;
* URCs are taken whenever they come (between commands, after OK, during a wait) and acted on:
  +QMTSTAT closes the client, +QIURC "pdpdeact" the data context, RDY means the module rebooted;
* every wait has a deadline taken from the module's maximum response time (ref §10), never
  shorter than a floor that a slow module still meets;
* failures are retried after an exponential, bounded back-off, never in a tight loop.

Exit status: 0 when every message was acknowledged by the broker (QoS 1: +QMTPUB result 0 means
the PUBACK arrived, ref §6c), 1 with a one-line reason on stderr otherwise, 2 on bad usage.
Progress goes to stdout; -v writes the AT dialogue to stderr.
"""
import argparse
import re
import sys
import time

import serial

# ---------------------------------------------------------------- timing

# Maximum response times (ref §10). The short ones are the module's specification (300 ms), but
# a busy module has been seen to exceed them; a host that stops waiting and writes the next
# command commits exactly the violation this driver exists to avoid, so no wait is shorter
# than FLOOR_S. A module that is merely slow (seconds per command) therefore still works.
FLOOR_S = 10.0
T_SHORT = 0.3  # QMTCFG, QSSLCFG, QICSGP, QFDEL, CPIN?, CREG?...
T_QIACT = 150.0
T_QIDEACT = 40.0
T_QMTOPEN = 75.0
T_QMTCLOSE = 30.0
T_QMTDISC = 30.0
T_UPLOAD_IDLE = 10  # the <timeout> given to AT+QFUPL: inactivity ends the data phase (ref §3)

# MQTT timers configured with AT+QMTCFG="timeout" (ref §6a: pkt_timeout 1-60 s, retry 0-10).
# A QMTCONN/QMTSUB/QMTPUB result comes within pkt_timeout x (retries + 1) (ref §10).
PKT_TIMEOUT_S = 5
RETRIES = 3
T_PACKET = PKT_TIMEOUT_S * (RETRIES + 1) + 5.0

CLIENT = 0  # MQTT client_idx (0-5)
PDP_CID = 1  # data context the MQTT client runs on (QMTCFG "pdpcid")
# SSL context: every QSSLCFG line and QMTCFG "ssl" name this one. Contexts are separate on the
# module (drivers 13): configuring one and opening another silently runs with defaults.
SSL_CTX = 2
# UFS (flash), not RAM: RAM: files are lost when the module reboots (ref §3). The upload is
# redone on every run anyway, so a changed certificate always reaches the module.
FILES = {"ca": "UFS:cacert.pem", "cert": "UFS:client.pem", "key": "UFS:user_key.pem"}

FINAL_RE = re.compile(r"^(OK|ERROR|\+CME ERROR: .*|\+CMS ERROR: .*|NO CARRIER)$")
# Lines the module sends on its own. Result URCs of the QMT* commands come after the command's
# OK (ref §1 "URC"); the others can come at any time.
URC_RE = re.compile(r"^(\+QMT(OPEN|CLOSE|CONN|DISC|SUB|UNS|PUB|PUBEX|STAT|RECV|PING):|"
                    r"\+QIURC:|\+QSSLURC:|\+CPIN:|\+CFUN:|\+QUSIM:|\+QIND:|\+C(E|G)?REG:|"
                    r"RDY$|POWERED DOWN$)")
# +QMTRECV with a length (recv/mode 0,1, ref §6d): the payload is not escaped and may hold CR,
# LF, quotes and commas (drivers 17), so it is cut by its length, never at a line end.
RECV_HEAD_RE = re.compile(rb'\+QMTRECV: (\d+),(\d+),"([^"\r\n]*)",(\d+),"')

# Result and error codes, for messages a user can act on (ref §6b, §6e).
QMTOPEN_TEXT = {-1: "failed to open network: no route, refused, or the TLS handshake failed "
                    "(check --ca, --cert, --key, --host)",
                1: "wrong parameter", 2: "identifier occupied", 3: "failed to activate PDP",
                4: "failed to parse domain name", 5: "network connection error"}
QMTSTAT_TEXT = {1: "closed by peer", 2: "keep-alive failed", 3: "CONNECT failed",
                4: "CONNACK failed", 5: "disconnected", 6: "packet retransmissions failed",
                7: "link not alive"}
CONNACK_TEXT = {1: "unacceptable protocol version", 2: "identifier rejected",
                3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}


class Fatal(Exception):
    """Retrying cannot help (bad arguments, refused credentials, out of time)."""


class Retry(Exception):
    """This attempt failed; back off and try again."""


class LinkLost(Retry):
    """The module closed the MQTT client (+QMTSTAT) or the data context (+QIURC pdpdeact)."""


class Rebooted(Exception):
    """RDY: the module restarted and forgot everything (contexts, SSL and MQTT settings)."""


class CommandTimeout(Exception):
    """No final result within the deadline: the module's state is unknown."""


class Response:
    def __init__(self, cmd):
        self.cmd = cmd
        self.info = []
        self.final = None

    @property
    def ok(self):
        return self.final == "OK"

    def cme(self, code, text):
        """True for +CME ERROR: <code> (AT+CMEE=1) or its text (AT+CMEE=2)."""
        return self.final in ("+CME ERROR: %d" % code, "+CME ERROR: " + text)

    def __str__(self):
        return "%s -> %s" % (self.cmd, " | ".join(self.info + [self.final or "(nothing)"]))


# ---------------------------------------------------------------- the serial channel


class Channel:
    """The module's serial port, cut into lines, "> " prompts and URCs. Single-threaded: a
    URC is read whenever the driver reads, and kept in self.urcs (in order) until a wait
    takes it; on_urc sees each one as it arrives."""

    def __init__(self, path, deadline, verbose=False, ser=None):
        # pyserial flushes the input on open: the boot URCs sent before are gone, which is
        # fine, the bring-up asks for everything it needs. (ser: a stand-in, for tests.)
        self.ser = ser or serial.Serial(path, 115200, timeout=0.2)
        self.buf = b""
        self.urcs = []
        self.deadline = deadline
        self.verbose = verbose
        self.on_urc = None

    def close(self):
        self.ser.close()

    def log(self, direction, data):
        if self.verbose:
            sys.stderr.write("%s %r\n" % (direction, data))

    def write(self, data):
        self.log(">>", data)
        self.ser.write(data)
        self.ser.flush()

    def _fill(self, until):
        left = min(until, self.deadline) - time.monotonic()
        if left <= 0:
            return False
        self.ser.timeout = min(left, 0.5)
        chunk = self.ser.read(max(1, self.ser.in_waiting))
        if chunk:
            self.log("<<", chunk)
            self.buf += chunk
        return True

    def _item(self, until, prompt=False):
        """The next line (str), "> " (with prompt), or None at the deadline."""
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            if prompt and self.buf.startswith(b"> "):
                self.buf = self.buf[2:]
                return "> "
            m = RECV_HEAD_RE.match(self.buf)
            if m:
                end = m.end() + int(m.group(4))
                if len(self.buf) >= end + 1:
                    line = self.buf[:end + 1].decode("latin-1")
                    self.buf = self.buf[end + 1:]
                    return line
            elif b"\r" in self.buf or b"\n" in self.buf:
                # A line ends at LF; the echo of a command ends at its bare CR (ref §1).
                cut = min(i for i in (self.buf.find(b"\r"), self.buf.find(b"\n")) if i >= 0)
                line, self.buf = self.buf[:cut], self.buf[cut:]
                return line.decode("latin-1")
            if not self._fill(until):
                return None

    def _urc(self, line):
        self.urcs.append(line)
        if self.on_urc:
            self.on_urc(line)

    def poll(self):
        """Take in whatever arrived while nothing was asked (URCs)."""
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            if not (self.ser.in_waiting or self.buf):
                return
            line = self._item(time.monotonic() + 0.05)
            if line is None:
                return
            self._urc(line)

    def command(self, cmd, timeout, expect=None):
        """Write one command line and read up to its final result. expect: "CONNECT" or
        "> " ends the exchange there (the caller sends the data next). Raises
        CommandTimeout."""
        self.poll()
        own = None
        m = re.match(r"AT(\+\w+)", cmd)
        if m:
            own = m.group(1) + ":"
        resp = Response(cmd)
        self.write(cmd.encode() + b"\r")
        until = time.monotonic() + max(timeout, FLOOR_S)
        while True:
            line = self._item(until, prompt=(expect == "> "))
            if line is None:
                if time.monotonic() >= self.deadline:
                    raise Fatal("out of time (--timeout) waiting for the answer to " + cmd)
                raise CommandTimeout("no answer to %s within %.0f s" % (cmd, max(timeout,
                                                                                 FLOOR_S)))
            if line == cmd:
                continue  # the echo (with ATE1, and of ATE0 itself)
            if FINAL_RE.match(line) or (expect and line == expect):
                resp.final = line
                return resp
            if own and line.startswith(own):
                resp.info.append(line)
            elif URC_RE.match(line):
                self._urc(line)
            else:
                resp.info.append(line)

    def wait_urc(self, pattern, timeout, check=None):
        """The first kept URC matching pattern, waiting up to timeout; check() runs before
        every read and may raise (a lost link ends the wait). None at the deadline."""
        rx = re.compile(pattern)
        until = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.urcs):
                m = rx.match(line)
                if m:
                    del self.urcs[i]
                    return m
            if check:
                check()
            line = self._item(until)
            if line is None:
                if time.monotonic() >= self.deadline:
                    raise Fatal("out of time (--timeout) waiting for " + pattern)
                return None
            self._urc(line)

    def drop(self, pattern):
        """Forget kept URCs matching pattern (a stale result of an abandoned attempt)."""
        rx = re.compile(pattern)
        self.urcs = [u for u in self.urcs if not rx.match(u)]

    def idle(self, seconds, stop=None):
        """Wait, taking URCs as they come (a back-off that still hears the module); stop()
        true ends the wait early."""
        until = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < until and not (stop and stop()):
            line = self._item(until)
            if line is not None:
                self._urc(line)


# ---------------------------------------------------------------- helpers


def xor16(data):
    """The +QFUPL checksum (ref §2): XOR of big-endian 16-bit words, an odd last byte as the
    high byte of a final word."""
    c = 0
    for i in range(0, len(data) - 1, 2):
        c ^= (data[i] << 8) | data[i + 1]
    if len(data) % 2:
        c ^= data[-1] << 8
    return c


def quoted(s, what):
    """A string the module takes inside quotes: printable ASCII without the quote itself (the
    AT parser has no escapes; curly quotes from a word processor are not quotes)."""
    if not all(0x20 <= ord(ch) < 0x7f and ch != '"' for ch in s):
        raise Fatal("%s %r: only printable ASCII without '\"' can be sent" % (what, s))
    return '"%s"' % s


class Backoff:
    """Exponential back-off between attempts: first, 2*first, ... capped, at most `tries`
    attempts in a row before giving up. A fleet would add jitter; one driver does not
    need it and stays reproducible without."""

    def __init__(self, first, cap, tries):
        self.first, self.cap, self.tries = first, cap, tries
        self.n = 0

    def reset(self):
        self.n = 0

    def delay(self, why):
        self.n += 1
        if self.n >= self.tries:
            raise Fatal("giving up after %d attempts: %s" % (self.n, why))
        return min(self.cap, self.first * 2 ** (self.n - 1))


# ---------------------------------------------------------------- the driver


class Ec25:
    def __init__(self, args):
        self.a = args
        self.deadline = time.monotonic() + args.timeout
        self.ch = Channel(args.tty, self.deadline, args.verbose)
        self.ch.on_urc = self.on_urc
        self.backoff = Backoff(args.backoff, 60.0, args.attempts)
        self.msgid = 0
        self.received = []
        self.reset_state()

    def reset_state(self):
        self.rebooted = False
        self.pdp_lost = False
        self.link_lost = None  # +QMTSTAT code while open/connected
        self.mqtt = "idle"  # idle | open | connected | closing | unknown
        self.subscribed = False

    def say(self, fmt, *args):
        print(fmt % args, flush=True)

    # ---- URCs, whenever they come

    def on_urc(self, line):
        if line == "RDY":
            self.rebooted = True
        elif line.startswith('+QIURC: "pdpdeact",'):
            # ref §4a: the network took the context down; MQTT clients on it close too.
            if line.endswith(",%d" % PDP_CID):
                self.pdp_lost = True
        elif line.startswith("+QMTSTAT: %d," % CLIENT):
            code = int(line.split(",")[1])
            # 5 after our own QMTDISC is the normal end (drivers 6), not a lost link.
            if self.mqtt in ("open", "connected"):
                self.link_lost = code
            self.mqtt = "idle"
        elif line.startswith("+QMTRECV: %d," % CLIENT):
            m = RECV_HEAD_RE.match(line.encode("latin-1"))
            if m:
                payload = line[m.end():-1]
                self.received.append((m.group(3).decode(), payload))
                self.say("received %s: %s", m.group(3).decode(), payload)

    def troubled(self):
        return self.rebooted or self.pdp_lost or self.link_lost is not None

    def check(self):
        """Raise what a URC told us, before we act as if nothing happened."""
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        if self.pdp_lost:
            raise LinkLost("the network deactivated PDP context %d" % PDP_CID)
        if self.link_lost is not None:
            raise LinkLost("+QMTSTAT: %d,%d (%s)" % (CLIENT, self.link_lost,
                                                   QMTSTAT_TEXT.get(self.link_lost, "?")))

    def at(self, cmd, timeout=T_SHORT, expect=None, must=True, guard=False):
        """One command. guard: first act on what the URCs said (a client closed by +QMTSTAT
        is not used again before it is reopened)."""
        if guard:
            self.ch.poll()
            self.check()
        resp = self.ch.command(cmd, timeout, expect)
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        if must and not (resp.ok or (expect and resp.final == expect)):
            raise Retry(str(resp))
        return resp

    def result(self, pattern, timeout, what, lost_ends=True):
        m = self.ch.wait_urc(pattern, timeout, self.check if lost_ends else None)
        if m is None:
            raise Retry("no %s within %.0f s" % (what, timeout))
        return m

    # ---- bring-up

    def sync(self):
        """AT until OK: the module may still be booting (RDY comes seconds after power-on,
        ref §7). A bare AT gets its answer at once, so waiting 3 s for each is enough."""
        for _ in range(10):
            try:
                if self.ch.command("AT", 3.0).ok:
                    break
            except CommandTimeout:
                continue
        else:
            raise Fatal("the module does not answer AT")
        self.rebooted = False
        # ATE0: no echo of commands or of the published payload (ref §1) - less to parse.
        self.at("ATE0")
        # Errors as text in the log, e.g. "+CME ERROR: fail to delete the file".
        self.at("AT+CMEE=2")

    def wait_sim(self):
        until = time.monotonic() + 20
        while True:
            r = self.at("AT+CPIN?", must=False)
            if "+CPIN: READY" in r.info:
                return
            if any(x in r.info for x in ("+CPIN: SIM PIN", "+CPIN: SIM PUK")):
                raise Fatal("the SIM wants a PIN/PUK (%s)" % r)
            # +CME ERROR: 10/13/14 while the SIM is absent or still initialising
            if time.monotonic() > until:
                raise Fatal("SIM not ready: %s" % r)
            self.ch.idle(1.0)

    def registered(self):
        """+CREG/+CEREG stat 1 (home) or 5 (roaming) on either (ref §7); 3 (denied) is
        final."""
        stats = []
        for cmd in ("AT+CREG?", "AT+CEREG?"):
            r = self.at(cmd, must=False)
            for line in r.info:
                m = re.match(r"\+C(E)?REG: \d+,(\d+)", line)
                if m:
                    stats.append(int(m.group(2)))
        if 1 in stats or 5 in stats:
            return True
        if stats and all(s == 3 for s in stats):
            raise Fatal("registration denied by the network")
        return False

    def wait_registered(self):
        until = time.monotonic() + self.a.reg_timeout
        first = True
        while not self.registered():
            if first:
                self.say("waiting for network registration")
                first = False
            if time.monotonic() > until:
                raise Retry("not registered within %.0f s" % self.a.reg_timeout)
            self.ch.idle(2.0)

    def pdp_active(self):
        r = self.at("AT+QIACT?")
        return any(line.startswith("+QIACT: %d,1," % PDP_CID) for line in r.info)

    def activate_pdp(self, fresh=False):
        """AT+QIACT=1, then AT+QIACT? decides: QIACT on an active context answers ERROR
        (ref §8 item 9). fresh: deactivate first (after +QMTSTAT 2, ref §6e)."""
        if fresh:
            self.at("AT+QIDEACT=%d" % PDP_CID, T_QIDEACT, must=False)
        elif self.pdp_active():
            self.pdp_lost = False
            return
        self.at("AT+QICSGP=%d,1,%s,\"\",\"\",0" % (PDP_CID, quoted(self.a.apn, "APN")))
        r = self.at("AT+QIACT=%d" % PDP_CID, T_QIACT, must=False)
        if not r.ok and not self.pdp_active():
            raise Retry("PDP context not activated: %s" % r)
        self.pdp_lost = False
        self.say("PDP context %d active", PDP_CID)

    def upload(self, name, path):
        """QFDEL (a missing file is +CME ERROR: 418 on EC25, ref §3), QFUPL, data only after
        CONNECT, and the module's size and XOR16 must match ours."""
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise Fatal("%s is empty" % path)
        for _ in range(3):
            r = self.at("AT+QFDEL=%s" % quoted(name, "file name"), must=False)
            if not (r.ok or r.cme(418, "fail to delete the file") or
                    r.cme(405, "file not found")):
                raise Retry("cannot delete %s: %s" % (name, r))
            r = self.at("AT+QFUPL=%s,%d,%d" % (quoted(name, "file name"), len(data),
                                                T_UPLOAD_IDLE), expect="CONNECT", must=False)
            if r.cme(407, "file already existed"):
                continue  # ref §3: "already exists" (the delete did not take): again
            if r.final != "CONNECT":
                raise Retry("upload of %s refused: %s" % (name, r))
            self.ch.write(data)
            r = self.at_after_data("AT+QFUPL", T_UPLOAD_IDLE + len(data) / 1000.0)
            m = re.match(r"\+QFUPL: (\d+),([0-9a-fA-F]+)$", r.info[0] if r.info else "")
            if r.ok and m and int(m.group(1)) == len(data) and int(m.group(2), 16) == xor16(
                    data):
                self.say("uploaded %s (%d bytes, checksum %x)", name, len(data), xor16(data))
                return
            self.say("upload of %s damaged (%s, expected %d,%x): again", name,
                     " ".join(r.info) or r.final, len(data), xor16(data))
        raise Fatal("%s could not be uploaded intact to %s" % (path, name))

    def at_after_data(self, cmd, timeout):
        """The result of a data phase (QFUPL after its data, QMTPUB after its payload): read
        like a command's, without writing a line."""
        resp = Response(cmd + " <data>")
        own = cmd[2:] + ":"
        until = time.monotonic() + max(timeout, FLOOR_S)
        while True:
            line = self.ch._item(until)
            if line is None:
                raise CommandTimeout("no result after the data of " + cmd)
            if FINAL_RE.match(line):
                resp.final = line
                return resp
            if line.startswith(own) and cmd != "AT+QMTPUB":
                resp.info.append(line)
            elif URC_RE.match(line):
                self.ch._urc(line)
            else:
                resp.info.append(line)

    def configure(self):
        a = self.a
        self.upload(FILES["ca"], a.ca)
        if a.cert:
            self.upload(FILES["cert"], a.cert)
            self.upload(FILES["key"], a.key)
        ctx = SSL_CTX
        lines = ['"sslversion",%d,4' % ctx,  # TLS 1.0-1.2, whatever the server offers
                 '"ciphersuite",%d,0XFFFF' % ctx,
                 '"cacert",%d,"%s"' % (ctx, FILES["ca"]),
                 # 1: verify the server; 2: also present our certificate
                 '"seclevel",%d,%d' % (ctx, 2 if a.cert else 1),
                 # the RTC may be unset right after boot: do not fail on "not yet valid"
                 '"ignorelocaltime",%d,1' % ctx,
                 # SNI: endpoints sharing an address (AWS IoT) pick the certificate by name
                 '"sni",%d,1' % ctx]
        if a.cert:
            lines += ['"clientcert",%d,"%s"' % (ctx, FILES["cert"]),
                      '"clientkey",%d,"%s"' % (ctx, FILES["key"])]
        for line in lines:
            self.at("AT+QSSLCFG=" + line)
        for line in ['"pdpcid",%d,%d' % (CLIENT, PDP_CID),
                     '"ssl",%d,1,%d' % (CLIENT, ctx),
                     '"version",%d,4' % CLIENT,  # MQTT 3.1.1 (EC25's default may be 3.1)
                     '"keepalive",%d,%d' % (CLIENT, a.keepalive),
                     '"session",%d,1' % CLIENT,
                     '"timeout",%d,%d,%d,0' % (CLIENT, PKT_TIMEOUT_S, RETRIES),
                     # payload length in +QMTRECV: the only safe delimiter (drivers 17)
                     '"recv/mode",%d,0,1' % CLIENT]:
            self.at("AT+QMTCFG=" + line)

    def bring_up(self):
        self.reset_state()
        self.sync()
        self.wait_sim()
        self.wait_registered()
        self.activate_pdp()
        self.configure()

    # ---- the MQTT connection

    def close_client(self):
        """AT+QMTCLOSE and its +QMTCLOSE result; closing an idle client is harmless."""
        self.ch.drop(r"\+QMTCLOSE: ")
        self.mqtt = "closing"
        r = self.at("AT+QMTCLOSE=%d" % CLIENT, must=False)
        if r.ok:
            self.ch.wait_urc(r"\+QMTCLOSE: %d,(-?\d+)" % CLIENT, T_QMTCLOSE)
        self.mqtt = "idle"
        self.link_lost = None

    def open(self):
        self.ch.drop(r"\+QMTOPEN: ")
        self.at("AT+QMTOPEN=%d,%s,%d" % (CLIENT, quoted(self.a.host, "host"), self.a.port),
                guard=True)
        # The result comes 0.2-1.5 s after OK on a good day (ref §6e), up to 75 s (ref §10).
        m = self.result(r"\+QMTOPEN: %d,(-?\d+)$" % CLIENT, T_QMTOPEN + 5, "+QMTOPEN")
        code = int(m.group(1))
        if code == 0:
            self.mqtt = "open"
            self.link_lost = None
            return
        if code == 2:
            # "MQTT identifier occupied": our client is still open from before; close it
            # and let the next attempt open it afresh.
            self.close_client()
        if code == 1:
            raise Fatal("+QMTOPEN: %d,1: wrong parameter (host %r port %d)" %
                        (CLIENT, self.a.host, self.a.port))
        if code == 3:
            self.pdp_lost = True  # "failed to activate PDP": check the context next time
        raise Retry("+QMTOPEN: %d,%d (%s)" % (CLIENT, code, QMTOPEN_TEXT.get(code, "?")))

    def connect(self):
        self.ch.drop(r"\+QMTCONN: ")
        self.at("AT+QMTCONN=%d,%s" % (CLIENT, quoted(self.a.client_id, "client id")),
                guard=True)
        m = self.result(r"\+QMTCONN: %d,(\d+)(?:,(\d+))?$" % CLIENT, T_PACKET, "+QMTCONN")
        result, ret = int(m.group(1)), int(m.group(2) or 0)
        if result == 0 and ret == 0:
            self.mqtt = "connected"
            return
        if result == 0 and ret in (1, 2, 4, 5):
            # the broker answered and said no: trying again changes nothing
            raise Fatal("broker refused the connection: CONNACK %d (%s)" %
                        (ret, CONNACK_TEXT.get(ret, "?")))
        self.close_client()
        raise Retry("+QMTCONN: %d,%d,%d" % (CLIENT, result, ret))

    def subscribe(self):
        mid = self.next_msgid()
        self.ch.drop(r"\+QMTSUB: ")
        self.at("AT+QMTSUB=%d,%d,%s,1" % (CLIENT, mid, quoted(self.a.subscribe, "topic")),
                guard=True)
        m = self.result(r"\+QMTSUB: %d,%d,(\d+)(?:,(\d+))?$" % (CLIENT, mid), T_PACKET,
                        "+QMTSUB")
        if m.group(1) != "0":
            raise Retry("+QMTSUB result %s" % m.group(1))
        if m.group(2) == "128":
            raise Fatal("the broker refused the subscription to %r" % self.a.subscribe)
        self.subscribed = True
        self.say("subscribed to %s", self.a.subscribe)

    def recover(self, why):
        """Back off after a failed attempt, hearing URCs meanwhile, then put back what the
        failure took: the data context (pdpdeact, +QMTSTAT 2, +QMTOPEN 3)."""
        delay = self.backoff.delay(why)
        self.say("%s; retrying in %.0f s", why, delay)
        self.ch.idle(delay)
        self.ch.poll()
        lost = self.link_lost
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        if self.mqtt != "idle":
            self.close_client()
        self.link_lost = None
        self.mqtt = "idle"
        self.subscribed = False
        self.wait_registered()
        # ref §6e: +QMTSTAT 2 (keep-alive failed) -> re-activate the PDP context, then open.
        self.activate_pdp(fresh=(lost == 2))

    def ensure_connected(self, why=None):
        """Connected (and subscribed) when it returns. why: the failure that ended the last
        attempt, to back off from and repair first. Every failure here, of the repair
        too, counts as an attempt: Backoff bounds them all."""
        while True:
            try:
                if why:
                    self.recover(why)
                    why = None
                self.check()
                if self.mqtt == "idle":
                    self.open()
                if self.mqtt == "open":
                    self.connect()
                if self.a.subscribe and not self.subscribed:
                    self.subscribe()
                self.backoff.reset()
                return
            except Retry as e:
                why = str(e)

    # ---- publishing

    def next_msgid(self):
        # 1-65535 for QoS > 0 (ref §6c); a new id for every packet, so none is reused while
        # a previous one may still be in flight at the module.
        self.msgid = self.msgid % 65535 + 1
        return self.msgid

    def publish(self, payload):
        """One QoS 1 message, acknowledged. Length form: exactly len bytes after "> ", no
        Ctrl+Z (ref §6c)."""
        mid = self.next_msgid()
        topic = quoted(self.a.topic, "topic")
        self.ch.drop(r"\+QMTPUB: %d,%d," % (CLIENT, mid))
        r = self.at("AT+QMTPUB=%d,%d,1,0,%s,%d" % (CLIENT, mid, topic, len(payload)),
                    expect="> ", must=False, guard=True)
        if r.final != "> ":
            # ERROR: the client is not connected (a +QMTSTAT may be on its way): its state
            # is unknown, so it is closed and opened again.
            self.ch.idle(0.5, stop=self.troubled)
            self.check()
            self.mqtt = "unknown"
            raise Retry("publish refused: %s" % r)
        self.ch.write(payload)
        r = self.at_after_data("AT+QMTPUB", FLOOR_S)
        if not r.ok:
            raise Retry("publish not taken: %s" % r)
        while True:
            m = self.result(r"\+QMTPUB: %d,%d,(\d+)(?:,(\d+))?$" % (CLIENT, mid), T_PACKET,
                            "+QMTPUB")
            if m.group(1) == "0":
                return
            if m.group(1) == "2":
                # retransmissions exhausted: the module drops the client (+QMTSTAT 6)
                self.ch.idle(0.5, stop=self.troubled)
                self.check()
                raise Retry("publish %d failed" % mid)
            # "1": a retransmission notice, the result is still to come

    # ---- the session

    def shutdown(self):
        """QMTDISC, then QMTCLOSE: the broker sees a clean DISCONNECT (no will), the module
        frees the client."""
        if self.mqtt == "connected":
            self.mqtt = "closing"
            self.ch.drop(r"\+QMTDISC: ")
            r = self.at("AT+QMTDISC=%d" % CLIENT, must=False)
            if r.ok:
                self.ch.wait_urc(r"\+QMTDISC: %d,(-?\d+)" % CLIENT, T_QMTDISC)
        self.close_client()
        self.say("disconnected")

    def session(self, messages):
        """Publish what is left of messages; returns when all were acknowledged."""
        self.bring_up()
        why = None
        while messages:
            self.ensure_connected(why)
            why = None
            try:
                self.publish(messages[0].encode())
                self.say("published %d/%d", self.a.count - len(messages) + 1, self.a.count)
                messages.pop(0)
                if messages and self.a.interval:
                    # a sensor's period: URCs are still heard, and a lost link or context
                    # ends the wait, to be mended at once rather than at the next message
                    self.ch.idle(self.a.interval, stop=self.troubled)
            except Retry as e:
                # the message was not acknowledged: send it again once connected again
                why = str(e)
        if len(self.received) < self.a.receive:
            self.say("waiting for %d message(s) on %s", self.a.receive, self.a.subscribe)
            while len(self.received) < self.a.receive:
                if time.monotonic() >= self.deadline:
                    raise Fatal("received %d of %d messages" % (len(self.received),
                                                                self.a.receive))
                try:
                    self.ensure_connected(why)  # reconnects and subscribes again if lost
                    why = None
                    self.ch.idle(0.5, stop=self.troubled)
                    self.check()
                except Retry as e:
                    why = str(e)
        self.shutdown()

    def run(self):
        a = self.a
        messages = [a.message.replace("{n}", str(i + 1)) for i in range(a.count)]
        for payload in messages:
            if len(payload.encode()) > 1548:
                raise Fatal("a message is at most 1548 bytes (ref §6c)")
        restarts = 0
        while True:
            try:
                self.session(messages)
                return
            except (Rebooted, CommandTimeout, Retry) as e:
                # Everything the module knew is gone or unknown: start over, a bounded number
                # of times, after a pause (the module needs seconds to boot).
                restarts += 1
                if restarts > 3:
                    raise Fatal("%s (after %d restarts)" % (e, restarts - 1))
                self.say("%s: starting over", e)
                self.ch.idle(min(30.0, a.backoff * 2 ** restarts))

    def abandon(self):
        """Leaving after a failure: close the MQTT client if the module still answers, so
        that no connection (or unanswered +QMTSTAT) is left behind. Bounded: 15 s more."""
        self.ch.deadline = time.monotonic() + 15
        try:
            self.ch.poll()
            if self.mqtt == "connected":
                self.shutdown()
            else:
                self.close_client()
        except (Fatal, Retry, Rebooted, CommandTimeout, OSError, serial.SerialException):
            pass

    def close(self):
        self.ch.close()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("tty")
    p.add_argument("--ca", required=True, help="CA certificate (PEM) of the broker")
    p.add_argument("--cert", help="client certificate (PEM) for mutual TLS")
    p.add_argument("--key", help="client private key (PEM) for mutual TLS")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--client-id", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--message", required=True, help='payload; "{n}" becomes 1, 2, ...')
    p.add_argument("--subscribe", help="also subscribe to this topic (QoS 1)")
    p.add_argument("--receive", type=int, default=0,
                   help="wait for this many messages on --subscribe before leaving")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--interval", type=float, default=0.0, help="seconds between messages")
    p.add_argument("--timeout", type=float, default=300.0, help="overall limit, seconds")
    p.add_argument("--apn", default="internet")
    p.add_argument("--keepalive", type=int, default=60)
    p.add_argument("--reg-timeout", type=float, default=120.0)
    p.add_argument("--backoff", type=float, default=1.0, help="first retry delay, seconds")
    p.add_argument("--attempts", type=int, default=6,
                   help="connection attempts in a row before giving up (1+2+4+8+16 s apart)")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if bool(a.cert) != bool(a.key):
        p.error("--cert and --key go together")
    if a.count < 1 or not 0 < a.port < 65536 or not 0 <= a.keepalive <= 3600:
        p.error("bad --count, --port or --keepalive")
    if a.backoff < 1.0:
        # below 1 s, five failed opens fit in 10 s: a retry storm (the module's findings)
        p.error("--backoff is at least 1 second")
    if a.receive and not a.subscribe:
        p.error("--receive needs --subscribe")
    return a


def main(argv=None):
    a = parse_args(argv)
    try:
        drv = Ec25(a)
    except (OSError, serial.SerialException) as e:
        sys.stderr.write("ec25_mqtt_tls: cannot open %s: %s\n" % (a.tty, e))
        return 1
    try:
        drv.run()
        drv.say("done: %d message(s) acknowledged", a.count)
        return 0
    except Fatal as e:
        sys.stderr.write("ec25_mqtt_tls: %s\n" % e)
        drv.abandon()
        return 1
    except (OSError, serial.SerialException) as e:
        sys.stderr.write("ec25_mqtt_tls: serial port: %s\n" % e)
        return 1
    finally:
        drv.close()


if __name__ == "__main__":
    sys.exit(main())
