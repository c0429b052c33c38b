#!/usr/bin/python3
"""naive_driver.py: how NOT to drive an EC25. MQTT over TLS written the way forum code does it,
committing on purpose every class of protocol violation that modemsim's findings report.

    naive_driver.py TTY [--violate all|none|KIND[,KIND...]] [--host NAME] [--port 8883]
                        [--ca FILE] [--client-id ID] [--topic T]

With no --violate it commits all of them. Each one, and the forum habit behind it:

  cmd-before-result   "activate and check" written back to back: AT+QIACT=1 and AT+QIACT?
                      in one write, the second before the first's result.
  non-ascii           command text pasted from a word processor: “curly quotes” in
                      AT+QSSLCFG (the field log of seed 000 has them everywhere).
  data-before-prompt  the certificate written right behind AT+QFUPL without waiting for
                      CONNECT, and a payload right behind AT+QMTPUB without waiting for "> ".
  length-mismatch     sizes computed wrongly: AT+QFUPL declares the size the file would have
                      with CR LF line ends, and AT+QMTPUB=...,<len> declares len() of the
                      text rather than of its UTF-8 bytes.
  not-connected       AT+QMTPUB right after AT+QMTOPEN, before AT+QMTCONN.
  retry-storm         AT+QMTOPEN in a loop every 200 ms, "until it works".
  inflight-exceeded   16 QoS 1 messages without waiting for a single +QMTPUB result.
  msgid-reused        msgid 1 copied from the manual's example for every QoS 1 message.
  qmtstat-ignored     a second client (index 1) with the same client id, which makes the
                      broker drop the first (+QMTSTAT: 0,1); publishing on client 0 goes on.
  unknown-command     AT+QMTPUBLISH, a command that exists only in blog posts.
  no-shutdown         the port is closed with the client still connected: no AT+QMTDISC,
                      no AT+QMTCLOSE.

Otherwise it reads answers the forum way: write, then collect whatever arrives until OK or
ERROR or a fixed time passes, print it, and carry on whatever it said. Exit status is always 0
(this code never checks anything), 2 on bad usage.
"""
import argparse
import os
import sys
import time

import serial

KINDS = ("cmd-before-result", "data-before-prompt", "length-mismatch", "non-ascii",
         "not-connected", "inflight-exceeded", "msgid-reused", "qmtstat-ignored",
         "retry-storm", "unknown-command", "no-shutdown")

# A certificate for when no --ca is given; the module stores any bytes.
FAKE_CA = b"-----BEGIN CERTIFICATE-----\nMIIBnaive\nnaive==\n-----END CERTIFICATE-----\n"


class Naive:
    def __init__(self, args, violate):
        self.a = args
        self.v = violate
        # forum code: 115200, timeout 1, and hope
        self.ser = serial.Serial(args.tty, 115200, timeout=0.1)
        self.msgid = 10

    def bad(self, kind):
        return kind in self.v

    def read(self, seconds, until=("OK\r\n", "ERROR")):
        """Whatever arrives within `seconds`, or up to one of `until`."""
        out = ""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            chunk = self.ser.read(max(1, self.ser.in_waiting))
            out += chunk.decode("utf-8", "replace")
            if until and any(u in out for u in until):
                break
        if out.strip():
            print(out.strip().replace("\r\n", " | "))
        return out

    def write(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.ser.write(data)
        self.ser.flush()

    def send(self, cmd, wait=2.0, until=("OK\r\n", "ERROR")):
        print(">> " + cmd)
        self.write(cmd + "\r\n")
        return self.read(wait, until)

    # ---- the steps

    def bring_up(self):
        self.send("AT")
        self.send("ATE1")
        self.send("AT+CPIN?")
        self.send("AT+CREG?")
        self.send('AT+QICSGP=1,1,"internet","","",0')
        if self.bad("cmd-before-result"):
            print(">> AT+QIACT=1 / AT+QIACT?")
            self.write("AT+QIACT=1\r\nAT+QIACT?\r\n")
            self.read(1.5, until=None)
        else:
            self.send("AT+QIACT=1", 10)
            self.send("AT+QIACT?")

    def upload_ca(self):
        data = FAKE_CA
        if self.a.ca:
            with open(self.a.ca, "rb") as f:
                data = f.read()
        size = len(data)
        if self.bad("length-mismatch"):
            # "Windows line ends": the size with CR LF, the file sent as it is (LF)
            size = len(data) + data.count(b"\n")
        self.send('AT+QFDEL="UFS:cacert.pem"')
        cmd = 'AT+QFUPL="UFS:cacert.pem",%d,3' % size
        print(">> " + cmd)
        if self.bad("data-before-prompt"):
            self.write(cmd.encode() + b"\r\n" + data)
        else:
            self.write(cmd + "\r\n")
            self.read(5, until=("CONNECT", "ERROR"))
            self.write(data)
        # the upload ends by size, or after 3 s of silence when the size was wrong
        self.read(8, until=("OK\r\n", "ERROR"))

    def configure(self):
        lq, rq = ("\u201c", "\u201d") if self.bad("non-ascii") else ('"', '"')
        self.send("AT+QSSLCFG=%scacert%s,2,%sUFS:cacert.pem%s" % (lq, rq, lq, rq))
        # "set seclevel 0 and it works" - the forum's answer to every TLS problem
        self.send('AT+QSSLCFG="seclevel",2,0')
        self.send('AT+QSSLCFG="sslversion",2,4')
        for idx in (0, 1):  # client 1 is for the "subscriber" (see run)
            self.send('AT+QMTCFG="ssl",%d,1,2' % idx)
            self.send('AT+QMTCFG="version",%d,4' % idx)

    def open(self, idx=0):
        cmd = 'AT+QMTOPEN=%d,"%s",%d' % (idx, self.a.host, self.a.port)
        if self.bad("retry-storm") and idx == 0:
            for _ in range(8):  # "retry until it works" - but it never looks
                self.send(cmd, 0.2, until=None)
            self.read(1.5, until=("+QMTOPEN: 0,0",))
            return
        self.send(cmd, 10, until=("+QMTOPEN: %d," % idx,))
        self.read(0.5, until=None)

    def connect(self, idx=0):
        out = self.send('AT+QMTCONN=%d,"%s"' % (idx, self.a.client_id), 10,
                        until=("+QMTCONN: %d," % idx, "ERROR", "+QMTSTAT"))
        return out + self.read(0.5, until=None)

    def pub_prompt(self, idx, msgid, qos, payload, wait=2.0, early=False):
        """Prompt mode: text, then Ctrl+Z. early: the text goes right behind the command."""
        cmd = 'AT+QMTPUB=%d,%d,%d,0,"%s"' % (idx, msgid, qos, self.a.topic)
        print(">> " + cmd)
        if early:
            self.write(cmd.encode() + b"\r\n" + payload.encode() + b"\x1a")
        else:
            self.write(cmd + "\r\n")
            if ">" not in self.read(5, until=(">", "ERROR")):
                return
            self.write(payload.encode() + b"\x1a")
        # wait 0: only the OK, never the +QMTPUB result (the message is still in flight)
        self.read(wait or 2, until=("+QMTPUB:", "ERROR") if wait else ("OK\r\n", "ERROR"))

    def pub_length(self, msgid, payload, wait=3.0):
        """Length form: exactly <len> bytes after "> "."""
        n = len(payload)  # characters, not bytes: wrong for anything but ASCII
        if not self.bad("length-mismatch"):
            n = len(payload.encode())
        cmd = 'AT+QMTPUB=0,%d,1,0,"%s",%d' % (msgid, self.a.topic, n)
        print(">> " + cmd)
        self.write(cmd + "\r\n")
        if ">" in self.read(5, until=(">", "ERROR")):
            if self.bad("length-mismatch"):
                self.write(payload.encode() + b"\r\n")  # "every line ends with CR LF"
            else:
                self.write(payload.encode())
            self.read(wait, until=("+QMTPUB:", "ERROR"))

    def next_msgid(self):
        self.msgid += 1
        return self.msgid

    def run(self):
        self.bring_up()
        self.upload_ca()
        self.configure()
        self.open(0)
        if self.bad("not-connected"):
            self.pub_prompt(0, 0, 0, "too early")
        self.connect(0)
        self.pub_prompt(0, 0, 0, "hello from forum code", early=self.bad("data-before-prompt"))
        self.pub_length(self.next_msgid(), "\u00e9t\u00e9 23C")
        if self.bad("inflight-exceeded"):
            for i in range(16):
                self.pub_prompt(0, self.next_msgid(), 1, "burst %d" % i, wait=0)
            self.read(1, until=None)
        if self.bad("msgid-reused"):
            for _ in range(3):
                self.pub_prompt(0, 1, 1, "same id", wait=0)
            self.read(1, until=None)
        if self.bad("qmtstat-ignored"):
            # "one client to publish, one to subscribe", both with the same client id
            self.open(1)
            if "+QMTSTAT: 0," not in self.connect(1):
                self.read(3, until=("+QMTSTAT: 0,",))
            for i in range(3):
                self.pub_prompt(0, 0, 0, "still there? %d" % i, wait=0.5)
        if self.bad("unknown-command"):
            self.send('AT+QMTPUBLISH=0,0,0,0,"%s","hello"' % self.a.topic)
        if not self.bad("no-shutdown"):
            for idx in (0, 1):
                self.send("AT+QMTDISC=%d" % idx, 5, until=("+QMTDISC:", "ERROR"))
                self.send("AT+QMTCLOSE=%d" % idx, 5, until=("+QMTCLOSE:", "ERROR"))
        self.read(0.5, until=None)
        self.ser.close()


def parse_violations(text):
    if text in ("all", None):
        return set(KINDS)
    if text == "none":
        return set()
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    unknown = kinds - set(KINDS)
    if unknown:
        raise argparse.ArgumentTypeError("unknown violation %s (known: %s)" %
                                         (", ".join(sorted(unknown)), ", ".join(KINDS)))
    return kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("tty")
    p.add_argument("--violate", type=parse_violations, default=None,
                   help="all (default), none, or a comma-separated list of: " +
                   ", ".join(KINDS))
    p.add_argument("--host", default="broker.modemsim.test")
    p.add_argument("--port", type=int, default=8883)
    p.add_argument("--ca", help="a CA file to upload (any bytes otherwise)")
    p.add_argument("--client-id", default="forum-device")
    p.add_argument("--topic", default="forum/test")
    a = p.parse_args(argv)
    violate = set(KINDS) if a.violate is None else a.violate
    if a.ca and not os.path.exists(a.ca):
        p.error("no such file: " + a.ca)
    print("violating: " + (",".join(k for k in KINDS if k in violate) or "nothing"))
    Naive(a, violate).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
