#!/usr/bin/python3
"""A correct host driver for SIMCom SIM7600 / A7670 / SIM7670G: MQTT over TLS with AT+CMQTT*.

    simcom_mqtt_tls.py TTY --ca FILE [--cert FILE --key FILE] --host NAME [--port 8883]
                       --client-id ID --topic T --message M [--subscribe T2] [--count N]
                       [--timeout S]  (--help lists the rest: --interval, --receive, ...)

The command line is ec25_mqtt_tls.py's; the dialect is SIMCom's (shared/reference/simcom.md,
cited as "ref §n"), in the order of seed 003's working flow: CCERTDOWN x3, CSSLCFG, NETOPEN,
CMQTTSTART, ACCQ, SSLCFG, CONNECT, SUB, TOPIC/PAYLOAD/PUB, DISC, REL, STOP, NETCLOSE. The
family (SIM7600 or A76XX) is read from AT+CGMM; the differences it decides are few: START's
result before or after OK (ref §1.3), MQTT 3.1.1 asked in ACCQ (SIM7600) or with
AT+CMQTTCFG="version" (A76XX, whose default may be 3.1: seed 002), tcp:// or ssl:// URLs.

What the module expects from its host, and the field from a driver:

* one command at a time: the next command line only after the previous one's final result
  (OK, ERROR, +CME ERROR) or its ">" prompt, and data only after the prompt (ref §1.4);
* an asynchronous result (+CMQTTCONNECT: <i>,<err>, +CMQTTSUB, +CMQTTPUB, +CMQTTDISC,
  +NETOPEN, +CMQTTSTOP ...) is waited for before anything else is sent for that client: a
  command after CONNECT's OK and before its result is "client is busy" (14, seed 003);
* URCs are taken whenever they come and acted on: +CMQTTCONNLOST (connect again),
  +CMQTTNONET (start the service again), +CIPEVENT NETWORK CLOSED, RDY (rebooted);
* the receive block (+CMQTTRXSTART ... +CMQTTRXEND) is cut by its lengths, never at line
  ends: a payload may hold CR, LF and "OK";
* SNI on (Azure IoT Hub and AWS pick the certificate by name: seed 002), MQTT 3.1.1;
* every wait has a deadline, failures are retried after an exponential, bounded back-off,
  and a refusal that retrying cannot change (CONNACK 1-5) ends the run.

Exit status: 0 when every message was acknowledged by the broker (+CMQTTPUB: 0,0 at QoS 1: the
PUBACK arrived), 1 with a one-line reason on stderr otherwise, 2 on bad usage. Progress goes to
stdout; -v writes the AT dialogue to stderr.
"""
import argparse
import re
import sys
import time

import serial

# ---------------------------------------------------------------- timing

# No wait is shorter than FLOOR_S: a module that is merely slow still works (ec25_mqtt_tls.py).
FLOOR_S = 10.0
T_SHORT = 0.3
T_NET = 125.0  # NETOPEN / NETCLOSE: 120 s at most (ref §7.1)
T_START = 125.0  # CMQTTSTART / CMQTTSTOP (ref §3.1)
NEGOTIATE_S = 60  # CSSLCFG "negotiatetime": the handshake's limit
T_CONNECT = NEGOTIATE_S + 60.0  # +CMQTTCONNECT: TCP, the handshake, CONNACK
PUB_TIMEOUT_S = 60  # AT+CMQTTPUB's wait for PUBACK (60-180 on SIM7600, 1-180 on A76XX)
T_PUB = PUB_TIMEOUT_S + 10.0
T_OP = 130.0  # SUB / UNSUB / DISC: the client's "optimeout", 120 s by default (ref §3.12)
DISC_TIMEOUT_S = 120

CLIENT = 0  # client index (0-1)
SSL_CTX = 0  # CSSLCFG context; AT+CMQTTSSLCFG binds it to the client before every CONNECT
FILES = {"ca": "cacert.pem", "cert": "clientcert.pem", "key": "clientkey.pem"}  # no drive

FINAL_RE = re.compile(r"^(OK|ERROR|\+CME ERROR: .*)$")
URC_RE = re.compile(r"^(\+CMQTT(START|STOP|CONNECT|DISC|SUB|UNSUB|PUB|CONNLOST|PING|RX\w+):|"
                    r"\+CMQTTNONET$|\+NETOPEN: \d+$|\+NETCLOSE: \d+$|\+CIPEVENT:|\+IPCLOSE:|"
                    r"\+CPIN:|\+CFUN:|\+C(E|G)?REG:|\+CGEV:|\+CCHSTOP:|\+CCHSTART:|"
                    r"RDY$|SMS DONE$|PB DONE$|\*ATREADY|POWERED DOWN$)")
# The topic and payload pieces of the receive block: the header, CR LF, exactly n bytes
# (ref §4). They are cut by length.
RX_PIECE_HEAD_RE = re.compile(rb"\+CMQTTRX(TOPIC|PAYLOAD):")
RX_PIECE_RE = re.compile(rb"\+CMQTTRX(TOPIC|PAYLOAD): (\d+),(\d+)\r\n")

ERR_TEXT = {3: "socket connect failed", 11: "no connection", 12: "invalid parameter",
            14: "client is busy", 17: "timeout", 25: "DNS error",
            26: "connection closed by the server", 27: "unacceptable protocol version",
            28: "identifier rejected", 29: "server unavailable", 30: "bad user name or password",
            31: "not authorized", 32: "TLS handshake failed (check --ca, --cert, --key, --host)",
            33: "no certificate configured", 34: "TLS session failed (check --ca, --cert, --key, "
            "--host)"}


def err_text(code):
    return ERR_TEXT.get(code, "error %d" % code)


class Fatal(Exception):
    """Retrying cannot help (bad arguments, refused credentials, out of time)."""


class Retry(Exception):
    """This attempt failed; back off and try again."""


class Rebooted(Exception):
    """RDY: the module restarted and forgot its services (the certificates stay in flash)."""


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

    def __str__(self):
        return "%s -> %s" % (self.cmd, " | ".join(self.info + [self.final or "(nothing)"]))


# ---------------------------------------------------------------- the serial channel


class Channel:
    """The module's serial port, cut into lines, ">" prompts, receive-block pieces and URCs.
    Single-threaded: URCs are read whenever the driver reads, kept in self.urcs until a wait
    takes them; on_urc sees each one as it arrives."""

    def __init__(self, path, deadline, verbose=False, ser=None):
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
        """The next line (str; a receive piece is its header line, LF, its bytes), ">"
        (with prompt), or None at the deadline."""
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            if prompt and self.buf.startswith(b">"):
                self.buf = self.buf[1:]
                return ">"
            if RX_PIECE_HEAD_RE.match(self.buf):
                m = RX_PIECE_RE.match(self.buf)
                end = m.end() + int(m.group(3)) if m else -1
                if m and len(self.buf) >= end:
                    item = self.buf[:m.end() - 2] + b"\n" + self.buf[m.end():end]
                    self.buf = self.buf[end:]
                    return item.decode("latin-1")
            elif b"\r" in self.buf or b"\n" in self.buf:
                # a line ends at LF; the echo of a command ends at its bare CR
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

    def _read_result(self, resp, own, until, expect=None):
        while True:
            line = self._item(until, prompt=(expect == ">"))
            if line is None:
                if time.monotonic() >= self.deadline:
                    raise Fatal("out of time (--timeout) waiting for the answer to " + resp.cmd)
                raise CommandTimeout("no answer to %s" % resp.cmd)
            if line == resp.cmd:
                continue  # the echo (with ATE1, and of ATE0 itself)
            if FINAL_RE.match(line) or (expect and line == expect):
                resp.final = line
                return resp
            # "+CMQTTxxx: <i>,<err>" before ERROR (ref §1.2), SIM7600's "+CMQTTSTART: 0"
            # before OK (ref §1.3): the command's own lines
            if own and line.startswith(own) and not line.startswith("+CMQTTRX"):
                resp.info.append(line)
            elif URC_RE.match(line):
                self._urc(line)
            else:
                resp.info.append(line)

    def command(self, cmd, timeout, expect=None):
        """Write one command line and read up to its final result; expect ">" ends the
        exchange at the prompt (the caller sends the data next)."""
        self.poll()
        m = re.match(r"AT(\+\w+)", cmd)
        own = m.group(1) + ":" if m else None
        self.write(cmd.encode() + b"\r")
        return self._read_result(Response(cmd), own, time.monotonic() + max(timeout, FLOOR_S),
                                 expect)

    def after_data(self, cmd, timeout, data=b""):
        """The result of a data phase (after the bytes a prompt asked for). A76XX firmware
        may echo the data even with ATE0 (ref §1.4): an exact echo is dropped, so that a
        payload "OK" is never taken for the result."""
        until = time.monotonic() + 1.0
        while data and len(self.buf) < len(data) and data.startswith(self.buf):
            if not self._fill(until):
                break
        if data and self.buf.startswith(data):
            self.buf = self.buf[len(data):]
        m = re.match(r"AT(\+\w+)", cmd)
        return self._read_result(Response(cmd + " <data>"), m.group(1) + ":",
                                 time.monotonic() + max(timeout, FLOOR_S))

    def wait_urc(self, pattern, timeout, check=None):
        """The first kept URC matching pattern, waiting up to timeout; check() runs before
        every read and may raise. None at the deadline."""
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
        rx = re.compile(pattern)
        self.urcs = [u for u in self.urcs if not rx.match(u)]

    def idle(self, seconds, stop=None):
        until = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < until and not (stop and stop()):
            line = self._item(until)
            if line is not None:
                self._urc(line)


# ---------------------------------------------------------------- helpers


def quoted(s, what):
    """A string the module takes inside quotes: printable ASCII without the quote itself."""
    if not all(0x20 <= ord(ch) < 0x7f and ch != '"' for ch in s):
        raise Fatal("%s %r: only printable ASCII without '\"' can be sent" % (what, s))
    return '"%s"' % s


class Backoff:
    """first, 2*first, ... capped; at most `tries` attempts in a row before giving up."""

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


class Simcom:
    def __init__(self, args):
        self.a = args
        self.deadline = time.monotonic() + args.timeout
        self.ch = Channel(args.tty, self.deadline, args.verbose)
        self.ch.on_urc = self.on_urc
        self.backoff = Backoff(args.backoff, 60.0, args.attempts)
        self.received = []
        self.rx = None  # the receive block being assembled: [topic, payload]
        self.a76 = False
        self.reset_state()

    def reset_state(self):
        self.rebooted = False
        self.net = False  # NETOPEN done
        self.service = False  # CMQTTSTART done
        self.client = "free"  # free | acquired | connected
        self.lost = None  # why the connection or the service went away (a URC said so)
        self.subscribed = False

    def say(self, fmt, *args):
        print(fmt % args, flush=True)

    # ---- URCs, whenever they come

    def on_urc(self, line):
        if line == "RDY":
            self.rebooted = True
        elif line.startswith("+CMQTTCONNLOST: %d," % CLIENT):
            # ref §4: the client is still acquired; it needs a new CONNECT
            if self.client == "connected":
                self.client = "acquired"
                self.lost = line
        elif line == "+CMQTTNONET":
            # the network went: the service is stopped, its clients with it (ref §4)
            self.service = self.net = False
            self.client = "free"
            self.lost = line
        elif line.startswith("+CIPEVENT: NETWORK CLOSED"):
            self.net = False
            self.lost = self.lost or line
        elif line.startswith("+CMQTTPING: %d," % CLIENT):
            self.lost = self.lost or line  # the keep-alive failed: reconnect
        elif line.startswith("+CMQTTRXSTART: %d," % CLIENT):
            self.rx = ["", ""]
        elif line.startswith("+CMQTTRXTOPIC: %d," % CLIENT) and self.rx is not None:
            self.rx[0] += line.split("\n", 1)[1]
        elif line.startswith("+CMQTTRXPAYLOAD: %d," % CLIENT) and self.rx is not None:
            self.rx[1] += line.split("\n", 1)[1]
        elif line == "+CMQTTRXEND: %d" % CLIENT and self.rx is not None:
            topic, payload = self.rx
            self.rx = None
            self.received.append((topic, payload))
            self.say("received %s: %s", topic, payload)

    def troubled(self):
        return self.rebooted or self.lost is not None

    def check(self):
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        if self.lost is not None:
            raise Retry(self.lost)

    def at(self, cmd, timeout=T_SHORT, expect=None, must=True, guard=False):
        if guard:
            self.ch.poll()
            self.check()
        resp = self.ch.command(cmd, timeout, expect)
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        if must and not (resp.ok or (expect and resp.final == expect)):
            raise Retry(str(resp))
        return resp

    def send_data(self, cmd, data, timeout=T_SHORT, guard=False):
        """A length command: its ">" prompt, then exactly the bytes (ref §1.4), then OK."""
        r = self.at(cmd, expect=">", must=False, guard=guard)
        if r.final != ">":
            return r
        self.ch.write(data)
        return self.ch.after_data(cmd, timeout, data)

    def result(self, pattern, timeout, what, lost_ends=True):
        m = self.ch.wait_urc(pattern, timeout, self.check if lost_ends else None)
        if m is None:
            raise Retry("no %s within %.0f s" % (what, timeout))
        return m

    # ---- bring-up

    def sync(self):
        for _ in range(10):
            try:
                if self.ch.command("AT", 3.0).ok:
                    break
            except CommandTimeout:
                continue
        else:
            raise Fatal("the module does not answer AT")
        self.rebooted = False
        self.at("ATE0")
        self.at("AT+CMEE=2")
        model = " ".join(self.at("AT+CGMM").info)
        self.a76 = bool(re.search(r"A76|SIM767|A78", model))
        self.say("module %s (%s family)", model, "A76XX" if self.a76 else "SIM7600")

    def wait_sim(self):
        until = time.monotonic() + 20
        while True:
            r = self.at("AT+CPIN?", must=False)
            if "+CPIN: READY" in r.info:
                return
            if any(x in r.info for x in ("+CPIN: SIM PIN", "+CPIN: SIM PUK")):
                raise Fatal("the SIM wants a PIN/PUK (%s)" % r)
            if time.monotonic() > until:
                raise Fatal("SIM not ready: %s" % r)
            self.ch.idle(1.0)

    def registered(self):
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

    def download(self, name, path):
        """AT+CCERTDOWN: exactly the file's bytes (its size as it is on disk: a CR LF file
        keeps its CRs), and the name must then be in AT+CCERTLIST."""
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise Fatal("%s is empty" % path)
        if len(data) > 10240:
            raise Fatal("%s: at most 10240 bytes can be downloaded (ref §6.2)" % path)
        for _ in range(2):
            r = self.send_data("AT+CCERTDOWN=%s,%d" % (quoted(name, "file name"), len(data)),
                               data, timeout=FLOOR_S + len(data) / 1000.0)
            if r.ok:
                break
            # a stale file of that name: delete it, then again
            self.at("AT+CCERTDELE=%s" % quoted(name, "file name"), must=False)
        else:
            raise Fatal("%s could not be downloaded to %s: %s" % (path, name, r))
        if '+CCERTLIST: "%s"' % name not in self.at("AT+CCERTLIST").info:
            raise Fatal("%s is not in AT+CCERTLIST after its download" % name)
        self.say("downloaded %s (%d bytes)", name, len(data))

    def configure(self):
        a = self.a
        self.download(FILES["ca"], a.ca)
        if a.cert:
            self.download(FILES["cert"], a.cert)
            self.download(FILES["key"], a.key)
        ctx = SSL_CTX
        # old SIM7600 firmware answers ERROR to "sslversion" (seed 003); 4 (all) is its
        # default anyway, so that ERROR is noted, not fatal
        r = self.at('AT+CSSLCFG="sslversion",%d,4' % ctx, must=False)
        if not r.ok:
            self.say("this firmware does not take \"sslversion\" (%s): keeping its default",
                     r.final)
        lines = ['"authmode",%d,%d' % (ctx, 2 if a.cert else 1),  # verify; 2: and present ours
                 '"cacert",%d,"%s"' % (ctx, FILES["ca"]),
                 '"ignorelocaltime",%d,1' % ctx,  # the RTC may be unset after boot
                 '"negotiatetime",%d,%d' % (ctx, NEGOTIATE_S),
                 '"enableSNI",%d,1' % ctx]  # the server picks its certificate by name
        if a.cert:
            lines += ['"clientcert",%d,"%s"' % (ctx, FILES["cert"]),
                      '"clientkey",%d,"%s"' % (ctx, FILES["key"])]
        for line in lines:
            self.at("AT+CSSLCFG=" + line)

    def net_open(self):
        """AT+NETOPEN and +NETOPEN: 0; "Network is already opened" is open (ref §7.1)."""
        r = self.at('AT+CGDCONT=1,"IP",%s' % quoted(self.a.apn, "APN"), must=False)
        if not r.ok:
            # refused while the context is active (another service, CCH, started it): it
            # runs with the APN it has
            self.say("context 1 is active: keeping its settings (%s)", r.final)
        self.ch.drop(r"\+NETOPEN: ")
        r = self.at("AT+NETOPEN", T_NET, must=False)
        if r.ok:
            m = self.result(r"\+NETOPEN: (\d+)$", T_NET, "+NETOPEN")
            if m.group(1) != "0":
                raise Retry("+NETOPEN: %s (network open failed)" % m.group(1))
        elif not any("already opened" in x for x in r.info):
            raise Retry(str(r))
        self.net = True
        if self.lost and not self.lost.startswith("+CMQTT"):
            self.lost = None
        self.say("network open")

    def service_start(self):
        """AT+CMQTTSTART: SIM7600 answers +CMQTTSTART: 0 before OK, A76XX after (ref §1.3);
        23 (SIM7600) is "already started". A bare ERROR on A76XX is either "already started"
        or the CCH SSL service holding the stack (seed 002): AT+CMQTTACCQ? tells them apart
        (it answers only when the service runs), and AT+CCHSTOP frees the stack."""
        for attempt in range(2):
            self.ch.drop(r"\+CMQTTSTART: ")
            r = self.at("AT+CMQTTSTART", T_START, must=False)
            codes = [x.split(": ")[1] for x in r.info if x.startswith("+CMQTTSTART: ")]
            if r.ok:
                code = codes[0] if codes else self.result(r"\+CMQTTSTART: (\d+)$", T_START,
                                                          "+CMQTTSTART").group(1)
                if code != "0":
                    raise Retry("+CMQTTSTART: %s" % code)
                break
            if codes == ["23"] or self.at("AT+CMQTTACCQ?", must=False).ok:
                self.release_leftover()
                break
            if attempt == 0:
                self.say("the MQTT service does not start: stopping the CCH service first")
                self.ch.drop(r"\+CCHSTOP: ")
                if self.at("AT+CCHSTOP", T_START, must=False).ok:
                    self.ch.wait_urc(r"\+CCHSTOP: (\d+)", T_START)
        else:
            raise Retry("AT+CMQTTSTART refused: %s" % r)
        self.service = True
        self.lost = None
        self.say("MQTT service started")

    def release_leftover(self):
        """The service ran already (a previous run that died): our client may be acquired,
        or connected, from then."""
        r = self.at("AT+CMQTTCONNECT?", must=False)
        if any(x.startswith("+CMQTTCONNECT: %d," % CLIENT) for x in r.info):
            self.client = "connected"
            self.disconnect()
        self.at("AT+CMQTTREL=%d" % CLIENT, must=False)
        self.client = "free"

    def bring_up(self):
        self.reset_state()
        self.sync()
        self.wait_sim()
        self.wait_registered()
        self.configure()

    # ---- the MQTT client

    def url(self):
        # SIM7600: tcp:// only, TLS from ACCQ's server_type (ref §3.7); A76XX: ssl://
        return "%s://%s:%d" % ("ssl" if self.a76 else "tcp", self.a.host, self.a.port)

    def acquire(self):
        # server_type 1: SSL/TLS; SIM7600 takes the MQTT version here (4: 3.1.1)
        cid = quoted(self.a.client_id, "client id")
        self.at("AT+CMQTTACCQ=%d,%s,1%s" % (CLIENT, cid, "" if self.a76 else ",4"))
        self.client = "acquired"
        if self.a76:
            # A76XX firmware may default to MQTT 3.1, which brokers refuse (seed 002)
            self.at('AT+CMQTTCFG="version",%d,4' % CLIENT)

    def connect(self):
        # the SSL binding goes with a failed CONNECT or a DISC (ref §2): set it every time
        self.at("AT+CMQTTSSLCFG=%d,%d" % (CLIENT, SSL_CTX), guard=True)
        cmd = "AT+CMQTTCONNECT=%d,%s,%d,1" % (CLIENT, quoted(self.url(), "host"),
                                               self.a.keepalive)
        if self.a.username:
            cmd += ",%s,%s" % (quoted(self.a.username, "user name"),
                               quoted(self.a.password, "password"))
        self.ch.drop(r"\+CMQTTCONNECT: ")
        r = self.at(cmd, T_SHORT, must=False)
        if not r.ok:
            raise Retry(str(r))
        # nothing for this client until the result (14 otherwise: seed 003)
        m = self.result(r"\+CMQTTCONNECT: %d,(\d+)$" % CLIENT, T_CONNECT, "+CMQTTCONNECT")
        code = int(m.group(1))
        if code == 0:
            self.client = "connected"
            self.lost = None
            return
        if 27 <= code <= 31:
            # the broker answered and said no: trying again changes nothing
            raise Fatal("broker refused the connection: +CMQTTCONNECT: %d,%d (%s)" %
                        (CLIENT, code, err_text(code)))
        raise Retry("+CMQTTCONNECT: %d,%d (%s)" % (CLIENT, code, err_text(code)))

    def subscribe(self):
        topic = self.a.subscribe.encode()
        self.ch.drop(r"\+CMQTTSUB: ")
        r = self.send_data("AT+CMQTTSUB=%d,%d,1" % (CLIENT, len(topic)), topic, guard=True)
        if not r.ok:
            raise Retry("subscribe refused: %s" % r)
        m = self.result(r"\+CMQTTSUB: %d,(\d+)$" % CLIENT, T_OP, "+CMQTTSUB")
        if m.group(1) != "0":
            raise Retry("+CMQTTSUB: %d,%s (%s)" % (CLIENT, m.group(1), err_text(int(m.group(1)))))
        self.subscribed = True
        self.say("subscribed to %s", self.a.subscribe)

    def disconnect(self):
        """AT+CMQTTDISC and its result: the broker sees a DISCONNECT (no will)."""
        self.ch.drop(r"\+CMQTTDISC: ")
        r = self.at("AT+CMQTTDISC=%d,%d" % (CLIENT, DISC_TIMEOUT_S), must=False)
        if r.ok:
            self.ch.wait_urc(r"\+CMQTTDISC: %d,(\d+)" % CLIENT, T_OP)
        self.client = "acquired"

    def release(self):
        if self.client == "connected":
            self.disconnect()
        if self.client == "acquired":
            self.at("AT+CMQTTREL=%d" % CLIENT, must=False)
        self.client = "free"
        self.subscribed = False

    def recover(self, why):
        delay = self.backoff.delay(why)
        self.say("%s; retrying in %.0f s", why, delay)
        self.ch.idle(delay)
        self.ch.poll()
        if self.rebooted:
            raise Rebooted("the module restarted (RDY)")
        self.lost = None
        # a connection that was lost needs a new CONNECT; a client whose CONNECT failed is
        # released and acquired again, so every attempt starts from the same state
        self.release()
        self.wait_registered()

    def ensure_connected(self, why=None):
        while True:
            try:
                if why:
                    self.recover(why)
                    why = None
                self.check()
                if not self.net:
                    self.net_open()
                if not self.service:
                    self.service_start()
                if self.client == "free":
                    self.acquire()
                if self.client == "acquired":
                    self.connect()
                if self.a.subscribe and not self.subscribed:
                    self.subscribe()
                self.backoff.reset()
                return
            except Retry as e:
                why = str(e)

    # ---- publishing

    def publish(self, payload):
        """One QoS 1 message: TOPIC, PAYLOAD (each after its prompt, exactly its bytes), PUB,
        and +CMQTTPUB: 0,0 (the PUBACK arrived)."""
        topic = self.a.topic.encode()
        for cmd, data in (("AT+CMQTTTOPIC=%d,%d" % (CLIENT, len(topic)), topic),
                          ("AT+CMQTTPAYLOAD=%d,%d" % (CLIENT, len(payload)), payload)):
            r = self.send_data(cmd, data, guard=True)
            if not r.ok:
                self.ch.idle(0.5, stop=self.troubled)
                self.check()
                raise Retry("publish refused: %s" % r)
        self.ch.drop(r"\+CMQTTPUB: ")
        r = self.at("AT+CMQTTPUB=%d,1,%d" % (CLIENT, PUB_TIMEOUT_S), must=False, guard=True)
        if not r.ok:
            raise Retry("publish not taken: %s" % r)
        m = self.result(r"\+CMQTTPUB: %d,(\d+)$" % CLIENT, T_PUB, "+CMQTTPUB")
        if m.group(1) != "0":
            # 6 or 17: the broker closed or did not acknowledge; a CONNLOST may follow
            self.ch.idle(0.5, stop=self.troubled)
            self.check()
            raise Retry("+CMQTTPUB: %d,%s (%s)" % (CLIENT, m.group(1), err_text(int(m.group(1)))))

    # ---- the session

    def shutdown(self):
        """DISC, REL, STOP, NETCLOSE, each waiting for its result (ref §2: REL after DISC,
        STOP after REL)."""
        self.release()
        if self.service:
            self.ch.drop(r"\+CMQTTSTOP: ")
            if self.at("AT+CMQTTSTOP", T_START, must=False).ok:
                self.ch.wait_urc(r"\+CMQTTSTOP: (\d+)", T_START)
            self.service = False
        if self.net:
            self.ch.drop(r"\+NETCLOSE: ")
            if self.at("AT+NETCLOSE", T_NET, must=False).ok:
                self.ch.wait_urc(r"\+NETCLOSE: (\d+)", T_NET)
            self.net = False
        self.say("disconnected")

    def session(self, messages):
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
                    self.ch.idle(self.a.interval, stop=self.troubled)
            except Retry as e:
                why = str(e)
        if len(self.received) < self.a.receive:
            self.say("waiting for %d message(s) on %s", self.a.receive, self.a.subscribe)
            while len(self.received) < self.a.receive:
                if time.monotonic() >= self.deadline:
                    raise Fatal("received %d of %d messages" % (len(self.received),
                                                                self.a.receive))
                try:
                    self.ensure_connected(why)
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
            if len(payload.encode()) > 10240:
                raise Fatal("a message is at most 10240 bytes (ref §3.9)")
        restarts = 0
        while True:
            try:
                self.session(messages)
                return
            except (Rebooted, CommandTimeout, Retry) as e:
                restarts += 1
                if restarts > 3:
                    raise Fatal("%s (after %d restarts)" % (e, restarts - 1))
                self.say("%s: starting over", e)
                self.ch.idle(min(30.0, a.backoff * 2 ** restarts))

    def abandon(self):
        """Leaving after a failure: release what the module holds for us (client, service,
        network), if it still answers. Bounded: 15 s more."""
        self.ch.deadline = time.monotonic() + 15
        try:
            self.ch.poll()
            self.shutdown()
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
    p.add_argument("--username", help="MQTT user name (Azure IoT Hub: HUB/DEVICE/?api-...)")
    p.add_argument("--password", help="MQTT password (with --username; not empty)")
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
    if bool(a.username) != bool(a.password):
        # the modules answer ERROR to an empty password (seed 002)
        p.error("--username and --password go together")
    if a.count < 1 or not 0 < a.port < 65536 or not 1 <= a.keepalive <= 64800:
        p.error("bad --count, --port or --keepalive")
    if a.backoff < 1.0:
        p.error("--backoff is at least 1 second")
    if a.receive and not a.subscribe:
        p.error("--receive needs --subscribe")
    return a


def main(argv=None):
    a = parse_args(argv)
    try:
        drv = Simcom(a)
    except (OSError, serial.SerialException) as e:
        sys.stderr.write("simcom_mqtt_tls: cannot open %s: %s\n" % (a.tty, e))
        return 1
    try:
        drv.run()
        drv.say("done: %d message(s) acknowledged", a.count)
        return 0
    except Fatal as e:
        sys.stderr.write("simcom_mqtt_tls: %s\n" % e)
        drv.abandon()
        return 1
    except (OSError, serial.SerialException) as e:
        sys.stderr.write("simcom_mqtt_tls: serial port: %s\n" % e)
        return 1
    finally:
        drv.close()


if __name__ == "__main__":
    sys.exit(main())
