#!/usr/bin/python3
"""A bounded soak: N EC25s publish QoS 1 over TLS as fast as they can while faults fire, then
every acknowledged message is looked for at a subscriber. Stops by itself.

    /usr/bin/python3 harness/soak.py [--modems 4] [--duration 60] [--seed 1]
                                     [--faults link.reset,link.blackhole,...] [--json FILE]

One modemsim (--count N, its embedded mosquitto, a --control socket). One thread per modem
drives its tty as careful firmware does (harness/examples/ec25_mqtt_tls.py shows every
command): bring-up (AT+QIACT=1, the CA uploaded once to UFS with its exact size, AT+QSSLCFG,
AT+QMTOPEN to 8883 over TLS, AT+QMTCONN), then AT+QMTPUB with the length form, one message at a
time, each payload unique (modem index and sequence number). A +QMTSTAT, an RDY (reboot) or a
timeout sends it back through the bring-up; only `+QMTPUB: 0,<id>,0` counts as acknowledged (a
result 2, a +QMTSTAT or no result within the deadline: not acknowledged). A paho subscriber
(clean session false, QoS 1, subscribing again on every connect) records what arrives. A fault
thread fires seeded faults through the control socket every few seconds (random.Random(seed)
picks when, which and on which modem). link.blackhole asks for an end (`for` 1-3 s); while
modemsim's blackhole takes no `for`, it is fired without one and the module's own timers end
that connection (a publish unacknowledged after PKT_TIMEOUT and RETRIES, a PINGREQ after
KEEPALIVE).

At the end (after --duration, then up to --drain seconds for the last messages) it prints the
figures, with modemsim's RSS (VmRSS) after --warmup and at the end, and its growth per minute;
exit status 1 when an acknowledged message never arrived and no broker restart
explains it, when a payload arrived that was never sent, or when modemsim did not exit 0.

A message acknowledged but not delivered is put down to a broker restart (mosquitto runs
without persistence: a restart loses what it held, legitimately) when both hold:
  - no proof of loss: no later message of the same modem arrived over a subscriber connection
    whose subscription was in place before this message was sent (mosquitto delivers one
    publisher's QoS 1 messages to one subscriber in order; a later one arriving over the same
    broker process means this one was dropped, restart or not);
  - a restart window [fired, subscriber subscribed again] meets [sent, result + --grace].
Everything else acknowledged and missing is a loss.

Mosquitto queues at most 1000 messages for a subscriber (max_queued_messages) and drops the rest;
the drivers hold back while more than --max-pending acknowledged messages are on their way, so a
subscriber that falls behind on a loaded machine slows the soak rather than losing messages.
"""
import argparse
import bisect
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

# Run as a script from the checkout: harness/ is sys.path[0].
from modemsim_harness.control import Control, ControlError
from modemsim_harness.modemsim import ModemSim, Timeout, Tty

FAULTS = ("link.reset", "link.blackhole", "modem.reboot", "broker.restart")
# Relative frequencies of the faults; a broker restart ends every modem's connection at once.
WEIGHTS = {"link.reset": 3, "link.blackhole": 2, "modem.reboot": 2, "broker.restart": 1}
HOST = "broker.modemsim.test"  # every name resolves to the embedded broker; 8883 is its TLS
CA_NAME = "UFS:soak-ca.pem"  # UFS survives a reboot (RAM: does not)
CLIENT = 0
SSL_CTX = 1
TOPIC = "soak/%d"

# Host-side deadlines: generous, a loaded CI machine must not turn a slow answer into a failure.
T_CMD = 15.0  # any command's final result
T_QIACT = 30.0
T_RESULT = 40.0  # +QMTOPEN / +QMTCONN / +QMTCLOSE / +QMTPUB after OK
# The module's own MQTT timers (AT+QMTCFG "timeout", "keepalive"): a publish unanswered for
# PKT_TIMEOUT is sent again once, then given up (+QMTPUB result 2, +QMTSTAT 6); an idle
# connection pings every KEEPALIVE seconds. They end a blackholed connection within seconds.
PKT_TIMEOUT = 3
RETRIES = 1
KEEPALIVE = 10

FINAL_RE = re.compile(r"^(OK|ERROR|\+CME ERROR: .*|CONNECT)$")
PAYLOAD_RE = re.compile(rb"^soak m(\d+) s(\d+) (x*)$")


def payload_of(idx, seq, size):
    head = b"soak m%d s%d " % (idx, seq)
    return head + b"x" * max(0, size - len(head))


def vmrss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Rebooted(Exception):
    pass


class Trouble(Exception):
    """This attempt failed (link lost, error, timeout): back through the bring-up."""


class Stopped(Exception):
    pass


class Ledger:
    """Everything the drivers, the subscriber and the fault thread saw, on one clock."""

    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Condition()
        self.pubs = {}  # (idx, seq) -> [t_send, t_result, status]
        self.pending = set()  # acknowledged, not yet delivered, since the last restart
        self.deliveries = {}  # (idx, seq) -> [t_first, generation, count]
        self.unknown = []  # payloads that match no publish
        self.gen = -1
        self.gen_suback = []  # per subscriber connection: when its SUBACK came (None before)
        self.wall0 = time.time() - (time.monotonic() - t0)  # the wall clock at t0
        self.restarts = []  # [t_fired, t_subscribed_again]
        self.fault_tries = {}  # kind -> statements sent

    def now(self):
        return time.monotonic() - self.t0

    # ---- drivers

    def sent(self, key):
        with self.lock:
            self.pubs[key] = [self.now(), None, "pending"]

    def result(self, key, status):
        with self.lock:
            rec = self.pubs[key]
            rec[1] = self.now()
            rec[2] = status
            if status == "acked" and key not in self.deliveries:
                self.pending.add(key)

    def wait_room(self, limit, stop):
        """Hold back while more than limit acknowledged messages are on their way."""
        with self.lock:
            while len(self.pending) > limit and not stop.is_set():
                self.lock.wait(0.5)

    # ---- subscriber (paho's thread)

    def connected(self):
        with self.lock:
            self.gen += 1
            self.gen_suback.append(None)

    def subscribed(self):
        with self.lock:
            if self.gen >= 0 and self.gen_suback[self.gen] is None:
                self.gen_suback[self.gen] = self.now()

    def delivered(self, payload):
        m = PAYLOAD_RE.match(payload)
        with self.lock:
            key = (int(m.group(1)), int(m.group(2))) if m else None
            if key is None or key not in self.pubs:
                self.unknown.append(payload[:80])
                return
            d = self.deliveries.get(key)
            if d:
                d[2] += 1
            else:
                self.deliveries[key] = [self.now(), self.gen, 1]
                if key in self.pending:
                    self.pending.discard(key)
                    self.lock.notify_all()

    # ---- faults

    def restart_fired(self, t):
        with self.lock:
            # What the broker held is gone or arrives later: it no longer holds back.
            self.pending.clear()
            self.lock.notify_all()

    def restarts_from(self, fired):
        """The restart windows, from modemsim's record of the faults that really fired: from
        the firing to the subscriber's first SUBACK after it."""
        self.restarts = []
        for f in fired:
            if f["fault"] != "broker.restart":
                continue
            t = f["t"] - self.wall0
            again = [s for s in self.gen_suback if s is not None and s >= t]
            self.restarts.append([t, min(again) if again else None])


# ------------------------------------------------------------------ the modem driver


class Driver(threading.Thread):
    """One modem's host, as careful firmware: one command at a time, every wait bounded, URCs
    taken whenever they come, every failure back through the bring-up."""

    def __init__(self, idx, path, ca, ledger, stop, args):
        super().__init__(name="modem%d" % idx, daemon=True)
        self.idx = idx
        self.tty = Tty(path)
        self.ca = ca
        self.ledger = ledger
        self.stop = stop
        self.a = args
        self.seq = 0
        self.mid = 0
        self.urcs = []
        self.rebooted = False
        self.synced = False
        self.lost = None  # the +QMTSTAT line that ended the connection
        self.stats = {"bring_ups": 0, "reboots_seen": 0, "uploads": 0, "acked": 0,
                      "result2": 0, "link_lost": 0, "no_result": 0, "refused": 0,
                      "timeouts": 0, "errors": []}

    # ---- the serial line

    def item(self, deadline, prompt=False):
        """The next line, "> " (with prompt), or None at the deadline."""
        t = self.tty
        while True:
            t.buf = t.buf.lstrip(b"\r\n")
            if prompt and t.buf.startswith(b"> "):
                t.buf = t.buf[2:]
                return "> "
            cut = [i for i in (t.buf.find(b"\r"), t.buf.find(b"\n")) if i >= 0]
            if cut:
                line, t.buf = t.buf[:min(cut)], t.buf[min(cut):]
                return line.decode("latin-1")
            if not t._fill(deadline):
                return None

    def urc(self, line):
        if line == "RDY":
            self.rebooted = True
            if self.synced:  # not the boot before the soak began
                self.stats["reboots_seen"] += 1
        elif line.startswith("+QMTSTAT: %d," % CLIENT):
            self.lost = line
        if line.startswith("+QMT"):
            # Kept until a wait takes it; results of abandoned attempts age out.
            self.urcs.append(line)
            del self.urcs[:-100]

    def check(self):
        if self.rebooted:
            raise Rebooted()
        if self.lost:
            raise Trouble(self.lost)

    def command(self, cmd, timeout=T_CMD, expect=None, data=None, finishing=False):
        """Write cmd, return (final, info lines). expect "> " or "CONNECT" ends the exchange
        there; data is then written and the final result after it read. Once the soak is
        over only a publish under way (finishing) still talks to the module."""
        if self.stop.is_set() and not finishing:
            raise Stopped()
        self.tty.write(cmd.encode() + b"\r")
        own = None
        m = re.match(r"AT(\+\w+)", cmd)
        if m and not m.group(1).startswith("+QMT"):
            own = m.group(1) + ":"
        info = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.item(deadline, prompt=(expect == "> "))
            if line is None:
                self.stats["timeouts"] += 1
                raise Trouble("no answer to %s within %.0f s" % (cmd, timeout))
            if (expect and line == expect) or FINAL_RE.match(line):
                if self.rebooted:
                    raise Rebooted()
                if line == expect and data is not None:
                    self.tty.write(data)
                    expect, data = None, None
                    deadline = time.monotonic() + timeout
                    continue
                return line, info
            if line.startswith("+QMT") or not (own and line.startswith(own)) and (
                    line.startswith("+") or line in ("RDY", "POWERED DOWN")):
                self.urc(line)
                if self.rebooted:
                    raise Rebooted()
            else:
                info.append(line)

    def ok(self, cmd, timeout=T_CMD):
        final, info = self.command(cmd, timeout)
        if final != "OK":
            raise Trouble("%s: %s" % (cmd, final))
        return info

    def wait_urc(self, pattern, timeout=T_RESULT, lost_ends=True, finishing=False):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if self.stop.is_set() and not finishing:
                raise Stopped()
            for i, line in enumerate(self.urcs):
                m = rx.match(line)
                if m:
                    del self.urcs[i]
                    return m
            if self.rebooted:
                raise Rebooted()
            if lost_ends and self.lost:
                raise Trouble(self.lost)
            line = self.item(min(deadline, time.monotonic() + 0.5))
            if line is None:
                if time.monotonic() >= deadline:
                    return None
                continue
            self.urc(line)

    def drop(self, prefix):
        self.urcs = [u for u in self.urcs if not u.startswith(prefix)]

    def idle(self, seconds):
        """A pause that still hears the module."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            line = self.item(min(deadline, time.monotonic() + 0.2))
            if line is not None:
                self.urc(line)

    # ---- bring-up

    def sync(self):
        for _ in range(20):
            if self.stop.is_set():
                raise Stopped()
            self.rebooted = False
            try:
                final, _ = self.command("AT", 3.0)
                if final == "OK":
                    break
            except (Trouble, Rebooted):
                continue
        else:
            raise Trouble("the module does not answer AT")
        self.rebooted = False
        self.synced = True
        self.ok("ATE0")
        self.ok("AT+CMEE=1")
        for _ in range(30):
            final, info = self.command("AT+CPIN?")
            if "+CPIN: READY" in info:
                break
            self.idle(0.5)
        else:
            raise Trouble("SIM not ready")

    def ca_present(self, data):
        final, info = self.command('AT+QFLST="%s"' % CA_NAME)
        return final == "OK" and any(l == '+QFLST: "%s",%d' % (CA_NAME, len(data)) for l in info)

    def upload_ca(self):
        with open(self.ca, "rb") as f:
            data = f.read()
        if self.ca_present(data):
            return
        self.command('AT+QFDEL="%s"' % CA_NAME)
        final, info = self.command('AT+QFUPL="%s",%d,10' % (CA_NAME, len(data)), T_CMD,
                                   expect="CONNECT", data=data)
        if final != "OK" or not any(l.startswith("+QFUPL: %d," % len(data)) for l in info):
            raise Trouble("CA upload: %s %s" % (final, info))
        self.stats["uploads"] += 1

    def pdp_up(self):
        final, info = self.command("AT+QIACT?")
        if any(l.startswith("+QIACT: 1,1,") for l in info):
            return
        self.ok('AT+QICSGP=1,1,"internet","","",0')
        final, _ = self.command("AT+QIACT=1", T_QIACT)
        final, info = self.command("AT+QIACT?")
        if not any(l.startswith("+QIACT: 1,1,") for l in info):
            raise Trouble("PDP context not active")

    def close_client(self):
        """AT+QMTCLOSE, and its result when it was open: the next open starts clean."""
        self.drop("+QMTCLOSE:")
        final, _ = self.command("AT+QMTCLOSE=%d" % CLIENT)
        if final == "OK":
            self.wait_urc(r"\+QMTCLOSE: %d," % CLIENT, T_RESULT, lost_ends=False)
        self.lost = None
        self.drop("+QMTSTAT:")

    def bring_up(self):
        self.stats["bring_ups"] += 1
        self.sync()
        self.pdp_up()
        self.upload_ca()
        for line in ('"sslversion",%d,4' % SSL_CTX, '"cacert",%d,"%s"' % (SSL_CTX, CA_NAME),
                     '"seclevel",%d,1' % SSL_CTX, '"ignorelocaltime",%d,1' % SSL_CTX):
            self.ok("AT+QSSLCFG=" + line)
        for line in ('"ssl",%d,1,%d' % (CLIENT, SSL_CTX), '"version",%d,4' % CLIENT,
                     '"keepalive",%d,%d' % (CLIENT, KEEPALIVE),
                     '"timeout",%d,%d,%d,0' % (CLIENT, PKT_TIMEOUT, RETRIES)):
            self.ok("AT+QMTCFG=" + line)
        self.close_client()
        self.drop("+QMTOPEN:")
        self.ok('AT+QMTOPEN=%d,"%s",8883' % (CLIENT, HOST))
        m = self.wait_urc(r"\+QMTOPEN: %d,(-?\d+)$" % CLIENT)
        if m is None or m.group(1) != "0":
            raise Trouble("+QMTOPEN: %s" % (m.group(1) if m else "none"))
        self.drop("+QMTCONN:")
        self.ok('AT+QMTCONN=%d,"soak-modem-%d"' % (CLIENT, self.idx))
        m = self.wait_urc(r"\+QMTCONN: %d,(\d+)(?:,(\d+))?$" % CLIENT)
        if m is None or m.group(1) != "0" or (m.group(2) or "0") != "0":
            raise Trouble("+QMTCONN: %s" % (m.group(0) if m else "none"))

    # ---- publishing

    def publish(self):
        self.ledger.wait_room(self.a.max_pending, self.stop)
        if self.stop.is_set():
            raise Stopped()
        self.check()
        self.mid = self.mid % 65535 + 1
        mid = self.mid
        key = (self.idx, self.seq)
        data = payload_of(self.idx, self.seq, self.a.size)
        self.seq += 1
        self.drop("+QMTPUB: %d,%d," % (CLIENT, mid))
        self.ledger.sent(key)
        try:
            final, _ = self.command('AT+QMTPUB=%d,%d,1,0,"%s",%d' % (
                CLIENT, mid, TOPIC % self.idx, len(data)), expect="> ", data=data,
                finishing=True)
            if final != "OK":
                self.stats["refused"] += 1
                self.ledger.result(key, "refused")
                self.idle(0.2)
                raise Trouble("AT+QMTPUB: %s" % final)
            while True:
                m = self.wait_urc(r"\+QMTPUB: %d,%d,(\d)(?:,\d+)?$" % (CLIENT, mid),
                                  finishing=True)
                if m is None:
                    self.stats["no_result"] += 1
                    self.ledger.result(key, "no result")
                    raise Trouble("no +QMTPUB result for %d" % mid)
                if m.group(1) == "0":
                    self.stats["acked"] += 1
                    self.ledger.result(key, "acked")
                    return
                if m.group(1) == "2":
                    self.stats["result2"] += 1
                    self.ledger.result(key, "result 2")
                    raise Trouble("+QMTPUB result 2")
        except (Trouble, Rebooted) as e:
            rec = self.ledger.pubs[key]
            if rec[2] == "pending":
                self.stats["link_lost"] += 1
                self.ledger.result(key, "lost: %s" % (type(e).__name__ if isinstance(
                    e, Rebooted) else e))
            raise

    def run(self):
        backoff = 0.2
        try:
            while not self.stop.is_set():
                try:
                    self.bring_up()
                    backoff = 0.2
                    while not self.stop.is_set():
                        self.publish()
                except Rebooted:
                    continue
                except Trouble as e:
                    if len(self.stats["errors"]) < 20:
                        self.stats["errors"].append("%.1f %s" % (self.ledger.now(), e))
                    self.idle(backoff)
                    backoff = min(backoff * 2, 2.0)
                except Timeout:
                    self.idle(backoff)
        except Stopped:
            pass
        except OSError as e:
            self.stats["errors"].append("tty: %s" % e)
        finally:
            self.tty.close()


# ------------------------------------------------------------------ subscriber


def start_subscriber(broker, ledger):
    c = mqtt.Client(client_id="soak-subscriber", clean_session=False,
                    protocol=mqtt.MQTTv311)

    def on_connect(client, userdata, flags, rc):
        if rc == 0:
            ledger.connected()
            client.subscribe("soak/#", qos=1)

    def on_subscribe(client, userdata, mid, granted):
        ledger.subscribed()

    def on_message(client, userdata, msg):
        ledger.delivered(msg.payload)

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
    c.connect_async(broker["host"], broker["plain"], keepalive=30)
    c.loop_start()
    return c


# ------------------------------------------------------------------ faults


class FaultThread(threading.Thread):
    def __init__(self, ctl_path, ledger, stop, args):
        super().__init__(name="faults", daemon=True)
        self.ctl_path = ctl_path
        self.ledger = ledger
        self.stop = stop
        self.a = args
        self.rng = random.Random(args.seed)
        self.blackhole_for = True  # until modemsim says link.blackhole takes no `for`
        self.errors = []

    def fire(self, ctl, kind, modem):
        stmt = "modem %d at 0ms fault %s" % (modem, kind)
        if kind == "link.blackhole" and self.blackhole_for:
            stmt += " for %dms" % self.rng.randint(1000, 3000)
        t = self.ledger.now()
        ans = ctl.send(stmt, timeout=15)
        if not ans.get("ok") and kind == "link.blackhole" and "for" in ans.get("error", ""):
            # A blackhole without an end: the module's own timers (a retransmission given
            # up, a PINGREQ unanswered) end that connection within seconds.
            self.blackhole_for = False
            stmt = "modem %d at 0ms fault %s" % (modem, kind)
            ans = ctl.send(stmt, timeout=15)
        # "at 0ms" is taken at once and fires from modemsim's loop: whether it did (a link
        # fault needs a connection, a restart no restart under way) `query faults` says.
        self.ledger.fault_tries[kind] = self.ledger.fault_tries.get(kind, 0) + 1
        if ans.get("ok"):
            if kind == "broker.restart":
                self.ledger.restart_fired(t)
        elif len(self.errors) < 20:
            self.errors.append("%s: %s" % (stmt, ans.get("error")))

    def run(self):
        kinds = [k for k in self.a.faults]
        weights = [WEIGHTS[k] for k in kinds]
        with Control(self.ctl_path) as ctl:
            next_t = self.a.fault_start
            while not self.stop.wait(max(0.0, next_t - self.ledger.now())):
                kind = self.rng.choices(kinds, weights)[0]
                modem = self.rng.randrange(self.a.modems)
                try:
                    self.fire(ctl, kind, modem)
                except ControlError as e:
                    self.errors.append("%s: %s" % (kind, e))
                every = self.a.fault_every
                next_t = self.ledger.now() + self.rng.uniform(0.5 * every, 1.5 * every)


# ------------------------------------------------------------------ the verdict


def analyse(ledger, grace):
    """The figures, and the list of acknowledged messages lost with no restart to explain
    them."""
    pubs, dl = ledger.pubs, ledger.deliveries
    acked = [k for k, r in pubs.items() if r[2] == "acked"]
    missing = [k for k in acked if k not in dl]
    # Per modem: delivered sequence numbers and, from the highest down, the earliest SUBACK
    # (of the connection each arrived on) of any message later than a given one.
    later_suback = {}
    for idx in {k[0] for k in pubs}:
        seqs = sorted(s for (i, s) in dl if i == idx)
        subs = []
        best = float("inf")
        for s in reversed(seqs):
            g = dl[(idx, s)][1]
            t = ledger.gen_suback[g] if 0 <= g < len(ledger.gen_suback) else None
            if t is not None:
                best = min(best, t)
            subs.append(best)
        later_suback[idx] = (seqs, list(reversed(subs)))
    restart_lost, other_lost = [], []
    end = ledger.now()
    for k in missing:
        t_send, t_result, _ = pubs[k]
        seqs, subs = later_suback[k[0]]
        i = bisect.bisect_right(seqs, k[1])
        proof = i < len(seqs) and subs[i] <= t_send
        overlap = any(r[0] <= t_result + grace and (r[1] if r[1] is not None else end) >= t_send
                      for r in ledger.restarts)
        (restart_lost if overlap and not proof else other_lost).append(k)
    delivered_unacked = [k for k in dl if pubs[k][2] != "acked"]
    lat = sorted(d[0] - pubs[k][1] for k, d in dl.items() if pubs[k][2] == "acked")
    statuses = {}
    for r in pubs.values():
        s = r[2].split(":")[0]
        statuses[s] = statuses.get(s, 0) + 1
    return {
        "published": len(pubs),
        "acknowledged": len(acked),
        "delivered": len(dl),
        "not_delivered": len(missing),
        "not_delivered_restart": len(restart_lost),
        "not_delivered_other": len(other_lost),
        "lost_other": ["m%d s%d" % k for k in sorted(other_lost)[:50]],
        "duplicates": sum(d[2] - 1 for d in dl.values()),
        "delivered_not_acknowledged": len(delivered_unacked),
        "unknown_payloads": len(ledger.unknown),
        "publish_status": statuses,
        # from the +QMTPUB result to the subscriber (negative: it arrived before the PUBACK)
        "latency_ms": {"median": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
                       "max": round(lat[-1] * 1000, 1) if lat else None},
        "subscriber_connections": ledger.gen + 1,
        "restarts": [[round(a, 2), None if b is None else round(b, 2)]
                     for a, b in ledger.restarts],
    }


def rss_figures(samples, warmup, t_end):
    """RSS at the first sample after warm-up and at the last before t_end, the growth per
    minute between them, and the least-squares slope over every sample in between."""
    run = [(t, kb) for t, kb in samples if warmup <= t <= t_end and kb is not None]
    if len(run) < 2:
        return {"start_kb": None, "end_kb": None, "growth_kb_per_min": None,
                "slope_kb_per_min": None}
    (t1, a), (t2, b) = run[0], run[-1]
    n = len(run)
    mt = sum(t for t, _ in run) / n
    mk = sum(k for _, k in run) / n
    var = sum((t - mt) ** 2 for t, _ in run)
    slope = sum((t - mt) * (k - mk) for t, k in run) / var if var else 0.0
    return {"start_kb": a, "start_t": round(t1, 1), "end_kb": b, "end_t": round(t2, 1),
            "growth_kb_per_min": round((b - a) / (t2 - t1) * 60, 1),
            "slope_kb_per_min": round(slope * 60, 1)}


# ------------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modems", type=int, default=4)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    p.add_argument("--faults", default=",".join(FAULTS),
                   help="comma-separated, from: %s; empty for none" % ", ".join(FAULTS))
    p.add_argument("--fault-every", type=float, default=3.0,
                   help="mean seconds between faults (each gap uniform in 0.5-1.5 times it)")
    p.add_argument("--fault-start", type=float, default=3.0, help="first fault after S s")
    p.add_argument("--warmup", type=float, default=10.0, help="RSS start is taken after S s")
    p.add_argument("--drain", type=float, default=20.0,
                   help="at most S s after the end for the last messages to arrive")
    p.add_argument("--grace", type=float, default=10.0,
                   help="a restart up to S s after a publish's result may have lost it")
    p.add_argument("--max-pending", type=int, default=400,
                   help="drivers hold back while more acknowledged messages are undelivered")
    p.add_argument("--size", type=int, default=64, help="payload bytes")
    p.add_argument("--timing", default="fast", choices=("fast", "realistic"))
    p.add_argument("--rss-every", type=float, default=1.0, help="RSS sample period, seconds")
    p.add_argument("--json", help="write the figures here as JSON")
    p.add_argument("--workdir", help="modemsim's files (default: a temporary directory, "
                                     "removed unless the soak fails)")
    p.add_argument("-v", "--verbose", action="store_true", help="progress every 10 s")
    a = p.parse_args(argv)
    a.faults = [f for f in a.faults.split(",") if f]
    for f in a.faults:
        if f not in FAULTS:
            p.error("unknown fault %r (expected %s)" % (f, ", ".join(FAULTS)))
    if not 1 <= a.modems <= 64 or a.duration <= 0 or a.fault_every <= 0:
        p.error("bad --modems, --duration or --fault-every")
    if a.size < 24 or a.size > 1548:
        p.error("--size is 24-1548")
    a.warmup = min(a.warmup, a.duration / 2)
    return a


def report(fig):
    out = [
        "soak: %d modems, %.0f s, seed %d, faults %s" % (
            fig["modems"], fig["duration"], fig["seed"], ",".join(fig["faults"]) or "none"),
        "acknowledged: %d (of %d publishes: %s)" % (
            fig["acknowledged"], fig["published"],
            ", ".join("%s %d" % kv for kv in sorted(fig["publish_status"].items()))),
        "delivered: %d distinct payloads (after the +QMTPUB result: median %s ms, max %s ms)" % (
            fig["delivered"], fig["latency_ms"]["median"], fig["latency_ms"]["max"]),
        "acknowledged but not delivered: %d (overlapping a broker.restart: %d, other: %d)" % (
            fig["not_delivered"], fig["not_delivered_restart"], fig["not_delivered_other"]),
        "duplicates delivered: %d; delivered but not acknowledged: %d; unknown payloads: %d" % (
            fig["duplicates"], fig["delivered_not_acknowledged"], fig["unknown_payloads"]),
    ]
    r = fig["rss"]
    if r["start_kb"] is not None:
        out.append("modemsim RSS: %.1f MB at %.0f s, %.1f MB at %.0f s: %+.3f MB/min "
                   "(least-squares %+.3f MB/min)" % (
                       r["start_kb"] / 1024, r["start_t"], r["end_kb"] / 1024, r["end_t"],
                       r["growth_kb_per_min"] / 1024, r["slope_kb_per_min"] / 1024))
    out.append("faults fired: %s" % (", ".join(
        "%s %d" % kv for kv in sorted(fig["faults_fired"].items())) or "none"))
    if fig["faults_failed"]:
        out.append("faults that could not act (a link fault on a modem without a connection, "
                   "a restart while one is under way): %s" % ", ".join(
                       "%s %d" % kv for kv in sorted(fig["faults_failed"].items())))
    out.append("bring-ups per modem: %s; subscriber connections: %d" % (
        " ".join(str(d["bring_ups"]) for d in fig["drivers"]), fig["subscriber_connections"]))
    if fig["lost_other"]:
        out.append("LOST (acknowledged, never delivered, no restart): %s" % " ".join(
            fig["lost_other"]))
    if fig["modemsim_exit"] != 0:
        out.append("modemsim exited %s" % fig["modemsim_exit"])
    out.append("verdict: %s" % ("ok" if fig["ok"] else "FAILED"))
    return "\n".join(out)


def main(argv=None):
    a = parse_args(argv)
    own_workdir = a.workdir is None
    workdir = a.workdir or tempfile.mkdtemp(prefix="modemsim-soak-")
    os.makedirs(workdir, exist_ok=True)
    ctl_path = os.path.join(workdir, "control.sock")
    sim = ModemSim("--control", ctl_path, model="ec25", timing=a.timing, count=a.modems,
                   trace=False, log=False, workdir=workdir)
    stop = threading.Event()
    drivers, sub, faults = [], None, None
    samples = []
    fig = None
    try:
        t0 = time.monotonic()
        ledger = Ledger(t0)
        sub = start_subscriber(sim.broker, ledger)
        # Publishing starts once the subscription is in place: nothing is lost for want of it.
        deadline = time.monotonic() + 15
        while ledger.gen < 0 or ledger.gen_suback[0] is None:
            if time.monotonic() > deadline:
                raise SystemExit("soak: the subscriber did not connect to the broker")
            time.sleep(0.02)
        drivers = [Driver(i, sim.path(i), sim.broker["ca"], ledger, stop, a)
                   for i in range(a.modems)]
        for d in drivers:
            d.start()
        if a.faults:
            faults = FaultThread(ctl_path, ledger, stop, a)
            faults.start()
        next_log = 10.0
        while ledger.now() < a.duration:
            samples.append((ledger.now(), vmrss_kb(sim.proc.pid)))
            if a.verbose and ledger.now() >= next_log:
                next_log += 10.0
                print("%5.0f s: acknowledged %d, delivered %d, RSS %s kB" % (
                    ledger.now(), sum(d.stats["acked"] for d in drivers),
                    len(ledger.deliveries), samples[-1][1]), flush=True)
            if sim.proc.poll() is not None:
                break
            time.sleep(min(a.rss_every, max(0.0, a.duration - ledger.now())))
        t_end = ledger.now()
        samples.append((t_end, vmrss_kb(sim.proc.pid)))
        stop.set()
        with ledger.lock:
            ledger.lock.notify_all()
        if faults:
            faults.join(30)
        for d in drivers:
            d.join(T_RESULT + T_CMD + 10)  # the publish under way gets its result
        # The drain: until every acknowledged message arrived, nothing arrived for 5 s (what a
        # restart lost never will), or the time is up.
        drain_end = time.monotonic() + a.drain
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < drain_end and time.monotonic() - quiet_since < 5:
            with ledger.lock:
                acked = [k for k, r in ledger.pubs.items() if r[2] == "acked"]
                if all(k in ledger.deliveries for k in acked):
                    break
                if len(ledger.deliveries) != seen:
                    seen, quiet_since = len(ledger.deliveries), time.monotonic()
            time.sleep(0.2)
        time.sleep(0.5)  # duplicates still on their way
        sub.disconnect()
        sub.loop_stop()
        sub = None
        fired = {}
        record = []
        try:
            with Control(ctl_path) as ctl:
                record = ctl.query("faults", timeout=15)["faults"]
        except (ControlError, OSError) as e:
            print("soak: query faults: %s" % e, file=sys.stderr)
        failed = {}
        for f in record:
            into = fired if f.get("ok", True) else failed
            into[f["fault"]] = into.get(f["fault"], 0) + 1
        record = [f for f in record if f.get("ok", True)]
        try:
            rc = sim.stop(timeout=30)
        except AssertionError as e:  # a sanitizer report, or no exit after SIGTERM
            print(str(e)[:4000], file=sys.stderr)
            rc = "failed"
        with ledger.lock:
            ledger.restarts_from(record)
            fig = analyse(ledger, a.grace)
        fig.update({
            "modems": a.modems, "duration": a.duration, "seed": a.seed, "faults": a.faults,
            "rss": rss_figures(samples, a.warmup, t_end),
            "rss_samples": [[round(t, 1), kb] for t, kb in samples],
            "faults_fired": fired,
            "faults_failed": failed,
            "fault_tries": ledger.fault_tries,
            "fault_errors": faults.errors if faults else [],
            "drivers": [dict(d.stats, modem=d.idx) for d in drivers],
            "modemsim_exit": rc,
        })
        fig["ok"] = (fig["not_delivered_other"] == 0 and fig["unknown_payloads"] == 0 and
                     rc == 0)
    finally:
        stop.set()
        if sub is not None:
            sub.loop_stop()
        if sim.proc.poll() is None:
            sim.kill()
    print(report(fig), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    if fig["ok"] and own_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    elif not fig["ok"]:
        print("soak: modemsim's files are in %s" % workdir, flush=True)
    return 0 if fig["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
