"""A small fake MQTT 3.1/3.1.1 broker for what a real broker will not do: never PUBACK, never
PINGRESP, close after N publishes, CONNACK with a chosen code, acknowledge late, accept TCP and
say nothing. It records every packet a client sends, byte for byte, so a test can check the
DUP bit of a retransmission or the packet id of a QoS 2 flow.

It is also a hostile broker (FakeBroker.flood): N QoS 1 or QoS 2 PUBLISHes with distinct
payloads, sent as fast as the socket takes them, counting which were acknowledged; optionally
never reading its socket again (its PUBACKs pile up in the client), or resending every QoS 2
PUBLISH with DUP before PUBREL. tls= serves TLS (Python's ssl, the test PKI's server
certificate) for the same behaviours over an encrypted connection.

Plain Python (socket, selectors, threading): it runs under /usr/bin/python3 with no extra
packages. One thread serves every connection; the test thread talks to it through a lock and a
wake-up socket pair. Every wait has a deadline; nothing sleeps a fixed time.

Packet builders are byte-exact per OASIS MQTT 3.1.1 section 3 (the fixed header's flag bits,
the remaining length of 2.2.3); Packet parses what a client sends, including MQTT 3.1's
"MQIsdp" CONNECT.

    fb = FakeBroker(puback=False).start()
    ... modemsim --broker none --resolve '*=127.0.0.1' --route 1883=127.0.0.1:%d % fb.port
    p = fb.wait_packet(lambda p: p.type == PUBLISH and p.dup, timeout=5)
    fb.stop()

    fl = fb.flood(20000, qos=1, size=100)      # after the client subscribed
    fl.wait(lambda f: f.queued == f.n, timeout=10)
    seqs = fl.acked_seqs()                      # which messages the client acknowledged
"""
import selectors
import socket
import ssl
import struct
import threading
import time

from .modemsim import Timeout

HOST = "127.0.0.1"

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}


# ---------------------------------------------------------------- packet builders


def remaining_length(n):
    """3.1.1 section 2.2.3: 7 bits per byte, continuation bit 0x80, at most four bytes."""
    if not 0 <= n <= 268435455:
        raise ValueError("remaining length %d" % n)
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(byte1, body=b""):
    return bytes([byte1]) + remaining_length(len(body)) + body


def mqtt_str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def connack(rc=0, session_present=0):
    return packet(0x20, bytes([session_present & 1, rc]))


def puback(pid):
    return packet(0x40, struct.pack(">H", pid))


def pubrec(pid):
    return packet(0x50, struct.pack(">H", pid))


def pubrel(pid):
    # 3.1.1 3.6.1: PUBREL's fixed header flags are 0010
    return packet(0x62, struct.pack(">H", pid))


def pubcomp(pid):
    return packet(0x70, struct.pack(">H", pid))


def suback(pid, codes):
    return packet(0x90, struct.pack(">H", pid) + bytes(codes))


def unsuback(pid):
    return packet(0xB0, struct.pack(">H", pid))


def pingresp():
    return packet(0xD0)


def publish(topic, payload, qos=0, pid=0, dup=False, retain=False):
    byte1 = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mqtt_str(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return packet(byte1, body)


# The client's side, for tests that speak MQTT themselves (through a modem's socket, or as a
# subscriber): byte-exact, MQTT 3.1.1.


def connect_packet(client_id, keepalive=60):
    """3.1: protocol name, level 4, flags: clean session, keep alive, client id."""
    body = mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack(">H", keepalive)
    return packet(0x10, body + mqtt_str(client_id))


def subscribe_packet(pid, topics):
    """3.8: fixed header flags 0010, packet id, (topic filter, requested QoS) pairs."""
    return packet(0x82, struct.pack(">H", pid) +
                  b"".join(mqtt_str(t) + bytes([q]) for t, q in topics))


def disconnect_packet():
    return packet(0xE0)


def malformed_remaining_length():
    """A PUBLISH whose remaining length runs to a fifth byte (3.1.1 2.2.3 allows four)."""
    return b"\x30\xff\xff\xff\xff\x01"


def publish_qos3(topic, payload, pid=1):
    """A PUBLISH with both QoS bits set: 3.1.1 3.3.1-4, the receiver closes the connection."""
    body = mqtt_str(topic) + struct.pack(">H", pid) + payload
    return packet(0x36, body)


def publish_topic_overrun(pid=1):
    """A QoS 1 PUBLISH whose topic length claims more bytes than the packet holds."""
    return packet(0x32, struct.pack(">H", 200) + b"short" + struct.pack(">H", pid))


def flood_payload(seq, size):
    """The payload of flood message seq: eight digits, then dots up to size bytes, so a
    delivery names the message it carries."""
    return (b"%08d" % seq) + b"." * (size - 8)


def flood_seq(payload):
    """The sequence number a flood payload carries (see flood_payload)."""
    return int(payload[:8])


# ---------------------------------------------------------------- parsing


class Packet:
    """One packet a client sent. raw is every byte of it; the rest is parsed from raw."""

    def __init__(self, conn, raw, header_len, at):
        self.conn = conn  # index of the connection, in order of accept
        self.raw = raw
        self.at = at  # time.monotonic() of arrival
        self.byte1 = raw[0]
        self.type = raw[0] >> 4
        self.flags = raw[0] & 0x0F
        self.dup = bool(raw[0] & 0x08)
        self.qos = (raw[0] >> 1) & 3
        self.retain = bool(raw[0] & 1)
        self.body = raw[header_len:]
        self.packet_id = None
        self.topic = None
        self.payload = None
        self.topics = []  # SUBSCRIBE: (filter, qos); UNSUBSCRIBE: (filter, None)
        self.connect = None
        self.malformed = False
        try:
            self._parse()
        except (IndexError, struct.error, UnicodeDecodeError):
            # a client's bytes are never trusted: record, do not react
            self.malformed = True

    def _parse(self):
        b = self.body
        if self.type == PUBLISH:
            n = struct.unpack(">H", b[:2])[0]
            self.topic = b[2:2 + n].decode("utf-8", "replace")
            off = 2 + n
            if self.qos:
                self.packet_id = struct.unpack(">H", b[off:off + 2])[0]
                off += 2
            self.payload = b[off:]
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK):
            self.packet_id = struct.unpack(">H", b[:2])[0]
        elif self.type in (SUBSCRIBE, UNSUBSCRIBE):
            self.packet_id = struct.unpack(">H", b[:2])[0]
            off = 2
            while off < len(b):
                n = struct.unpack(">H", b[off:off + 2])[0]
                f = b[off + 2:off + 2 + n].decode("utf-8", "replace")
                off += 2 + n
                q = None
                if self.type == SUBSCRIBE:
                    q = b[off]
                    off += 1
                self.topics.append((f, q))
        elif self.type == CONNECT:
            self.connect = parse_connect(b)

    def __repr__(self):
        extra = ""
        if self.packet_id is not None:
            extra += " id %d" % self.packet_id
        if self.type == PUBLISH:
            extra += " qos %d%s %r %r" % (self.qos, " dup" if self.dup else "", self.topic,
                                          self.payload)
        return "<%s%s conn %d>" % (NAMES.get(self.type, "type %d" % self.type), extra, self.conn)


def parse_connect(b):
    """CONNECT's variable header and payload (3.1.1 3.1.2/3.1.3; 3.1's "MQIsdp" alike)."""
    def take_str(off):
        n = struct.unpack(">H", b[off:off + 2])[0]
        return b[off + 2:off + 2 + n], off + 2 + n

    name, off = take_str(0)
    level, flags = b[off], b[off + 1]
    keepalive = struct.unpack(">H", b[off + 2:off + 4])[0]
    off += 4
    client_id, off = take_str(off)
    out = {"protocol": name.decode(), "level": level, "flags": flags, "keepalive": keepalive,
           "clean": bool(flags & 0x02), "client_id": client_id.decode("utf-8", "replace"),
           "will": None, "username": None, "password": None}
    if flags & 0x04:
        topic, off = take_str(off)
        msg, off = take_str(off)
        out["will"] = {"topic": topic.decode("utf-8", "replace"), "message": msg,
                       "qos": (flags >> 3) & 3, "retain": bool(flags & 0x20)}
    if flags & 0x80:
        user, off = take_str(off)
        out["username"] = user.decode("utf-8", "replace")
    if flags & 0x40:
        pw, off = take_str(off)
        out["password"] = pw
    return out


def split_packets(buf):
    """(list of (raw, header_len), rest) for the whole packets at the start of buf."""
    out = []
    while len(buf) >= 2:
        mult, n, i = 1, 0, 1
        while True:
            if i >= len(buf):
                return out, buf
            c = buf[i]
            n += (c & 0x7F) * mult
            mult *= 128
            i += 1
            if not c & 0x80:
                break
            if i > 4:
                raise ValueError("malformed remaining length")
        if len(buf) < i + n:
            break
        out.append((buf[:i + n], i))
        buf = buf[i + n:]
    return out, buf


# ---------------------------------------------------------------- the broker


class _Conn:
    def __init__(self, index, sock):
        self.index = index
        self.sock = sock
        self.rx = b""
        self.raw = b""  # every byte received, also what is not MQTT (a TLS ClientHello)
        self.garbage = False
        self.open = True
        self.publishes = 0  # PUBLISH packets received on this connection
        self.tx = bytearray()  # bytes queued for the client, sent as the socket takes them
        self.tx_chunk = None  # the write under way (TLS retries a write with the same bytes)
        self.close_when_sent = False  # close (FIN) once tx is out
        self.reading = True  # False: the socket is never read again (hostile)
        self.flood = None  # a Flood sending on this connection
        self.events = 0  # what the selector watches
        self.wire_tx = 0  # bytes the socket took


class Flood:
    """N PUBLISHes to one connection, as fast as its socket takes them (FakeBroker.flood).

    Message seq (first_seq, first_seq+1, ...) carries flood_payload(seq, size) on topic, with
    packet id seq % 65535 + 1; an id still in flight (QoS 1: until its PUBACK; QoS 2: until
    PUBCOMP) is not reused: the flood waits, as a broker's id space makes it (a flood that does
    not read reuses ids regardless). Counters (read them under wait() or snapshot()):
      queued     PUBLISHes (not counting DUP resends) handed to the socket's queue
      dups       DUP resends queued
      acked      seqs in the order their first PUBACK (QoS 1) or PUBREC (QoS 2) arrived
      acks       every PUBACK/PUBREC for a flood id, duplicates included
      stray      acknowledgements for an id not in flight
      pubrels    PUBRELs sent
      pubcomps   PUBCOMPs received
    dup: None; "each": every QoS 2 PUBLISH is followed at once by its DUP resend; "all": the n
    PUBLISHes, then the n DUP resends. A PUBREL is only ever sent after the id's DUP was queued,
    so the resend always reaches the client before PUBREL; hold_pubrel: no PUBREL at all until
    every PUBLISH and DUP is queued (then every id is in flight at once).
    """

    def __init__(self, broker, conn, n, qos, topic, size, first_seq, dup, hold_pubrel,
                 track=True):
        if qos not in (1, 2) or size < 8 or (dup and qos != 2):
            raise ValueError("flood: qos 1 or 2, size >= 8, dup only with QoS 2")
        self._broker = broker
        self.conn = conn
        self.n, self.qos, self.topic, self.size = n, qos, topic, size
        self.first_seq = first_seq
        self.dup, self.hold_pubrel = dup, hold_pubrel
        self.track = track  # False: ids are reused without waiting (acks are never read)
        self.total = n * (2 if dup else 1)  # packets to queue, resends included
        self.pos = 0
        self.queued = 0
        self.dups = 0
        self.acked = []
        self.acks = 0
        self.stray = 0
        self.pubrels = 0
        self.pubcomps = 0
        self._inflight = {}  # packet id -> seq, until PUBACK / PUBCOMP
        self._acked_ids = set()  # QoS 2: ids whose PUBREC came (until PUBCOMP)
        self._dup_sent = set()  # QoS 2: ids whose DUP resend is queued
        self._rel_wait = []  # QoS 2: ids whose PUBREC came, PUBREL held back
        self._topic = mqtt_str(topic)
        body_len = len(self._topic) + 2 + size
        self._head = {False: bytes([0x30 | (qos << 1)]) + remaining_length(body_len),
                      True: bytes([0x38 | (qos << 1)]) + remaining_length(body_len)}

    def pid(self, seq):
        return seq % 65535 + 1

    def _item(self, pos):
        """(index, is_dup) of the pos-th packet to queue."""
        if self.dup == "each":
            return pos // 2, bool(pos % 2)
        if self.dup == "all":
            return (pos, False) if pos < self.n else (pos - self.n, True)
        return pos, False

    def _packet(self, seq, dup):
        return (self._head[dup] + self._topic + struct.pack(">H", self.pid(seq)) +
                flood_payload(seq, self.size))

    # -- from the server thread, under the broker's lock

    def pump(self, out, limit):
        """Append packets to out (a bytearray) until it holds limit bytes or the flood waits."""
        while self.pos < self.total and len(out) < limit:
            i, dup = self._item(self.pos)
            seq = self.first_seq + i
            pid = self.pid(seq)
            if not dup:
                if self.track:
                    if pid in self._inflight:
                        return  # the id is still in use: wait for its acknowledgement
                    self._inflight[pid] = seq
                self.queued += 1
            else:
                self.dups += 1
                self._dup_sent.add(pid)
            out += self._packet(seq, dup)
            self.pos += 1
            if dup and not self.hold_pubrel and pid in self._rel_wait:
                self._rel_wait.remove(pid)
                self._pubrel(out, pid)
        if self.pos == self.total and self._rel_wait:
            for pid in self._rel_wait:
                self._pubrel(out, pid)
            self._rel_wait = []

    def _pubrel(self, out, pid):
        out += pubrel(pid)
        self.pubrels += 1

    def more(self):
        """True when pump() would queue something now."""
        if self.pos >= self.total:
            return False
        i, dup = self._item(self.pos)
        return dup or self.pid(self.first_seq + i) not in self._inflight

    def on_ack(self, ptype, pid, out):
        """A PUBACK, PUBREC or PUBCOMP from the client; True when it was the flood's."""
        if ptype == PUBCOMP:
            if self.qos != 2 or pid not in self._acked_ids:
                return False
            self._acked_ids.discard(pid)
            self._dup_sent.discard(pid)
            del self._inflight[pid]
            self.pubcomps += 1
            return True
        if (ptype == PUBACK) != (self.qos == 1):
            return False
        seq = self._inflight.get(pid)
        if seq is None:
            self.stray += 1
            return True
        self.acks += 1
        if self.qos == 1:
            del self._inflight[pid]
            self.acked.append(seq)
            return True
        if pid in self._acked_ids:
            return True  # the PUBREC for a DUP resend
        self._acked_ids.add(pid)
        self.acked.append(seq)
        if (self.dup and pid not in self._dup_sent) or \
                (self.hold_pubrel and self.pos < self.total):
            self._rel_wait.append(pid)
        else:
            self._pubrel(out, pid)
        return True

    # -- from the test thread

    def snapshot(self):
        """(queued, len(acked), pubcomps) now."""
        with self._broker._lock:
            return self.queued, len(self.acked), self.pubcomps

    def acked_seqs(self):
        with self._broker._lock:
            return list(self.acked)

    def wait(self, predicate, timeout=10.0, what="flood condition"):
        """Wait until predicate(self) is true (evaluated under the broker's lock)."""
        deadline = time.monotonic() + timeout
        with self._broker._lock:
            while True:
                if predicate(self):
                    return self
                if self._broker.error:
                    raise AssertionError("fake broker failed: %r" % (self._broker.error,))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("fake broker: no %s within %.1f s (queued %d of %d, "
                                  "acked %d, pubcomps %d)" % (what, timeout, self.queued,
                                                              self.n, len(self.acked),
                                                              self.pubcomps))
                self._broker._lock.wait(min(left, 0.5))


class FakeBroker:
    """Behaviour switches, for every connection; a test may change them while it runs:
      connack          return code to answer CONNECT with; None: never answer (no CONNACK)
      session_present  the CONNACK flag
      silent           accept TCP and send nothing at all (implies no CONNACK)
      puback           True: acknowledge QoS 1/2 publishes (PUBACK, PUBREC then PUBCOMP);
                       False: never
      pubcomp          answer PUBREL with PUBCOMP (when puback is on)
      ack_delay        seconds to wait before each PUBACK/PUBREC/PUBCOMP (late acknowledgement)
      pingresp         answer PINGREQ
      suback           granted codes for SUBSCRIBE (list), default: the requested QoS
      answer_subscribe answer SUBSCRIBE and UNSUBSCRIBE at all
      disconnect_closes close the connection on DISCONNECT, as 3.1.1 3.14.4 has a server do
      close_after      close the connection when this many PUBLISH packets arrived on it
                       (the last one unanswered)
    rcvbuf: SO_RCVBUF of every connection (bytes; None: the kernel's default), small to make
    a broker that does not read push back on its client at once.
    mss: TCP_MAXSEG announced to clients (None: the loopback's 65483). A small one keeps the
    client's kernel send buffer small too (Linux sizes it from the segment size): what a
    client cannot send then piles up in the client itself, where a test can see it.
    tls: None (plain TCP) or (certfile, keyfile): every connection is TLS, the handshake made
    at accept (blocking, 5 s at most); everything else works the same over it.
    What the broker sends is queued per connection and written as the socket takes it: a
    client that stops reading never blocks the broker's thread.
    """

    def __init__(self, connack=0, session_present=0, silent=False, puback=True, pubcomp=True,
                 ack_delay=0.0, pingresp=True, suback=None, answer_subscribe=True,
                 disconnect_closes=True, close_after=None, tls=None, rcvbuf=None,
                 mss=None):
        self.connack = connack
        self.session_present = session_present
        self.silent = silent
        self.puback = puback
        self.pubcomp = pubcomp
        self.ack_delay = ack_delay
        self.pingresp = pingresp
        self.suback = suback
        self.answer_subscribe = answer_subscribe
        self.disconnect_closes = disconnect_closes
        self.close_after = close_after
        self.rcvbuf = rcvbuf
        self.mss = mss
        self._tls = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self.tls_failures = []  # handshake errors, by repr
        self.packets = []
        self.sent = []  # (conn, time, bytes) of what the broker sent, in order
        self.accepted = 0
        self.closed_by_peer = []  # connection indexes the client closed (FIN or RST)
        self.port = None
        self._lock = threading.Condition()
        self._timers = []  # (due, conn index, bytes or None to close)
        self._conns = {}
        self._sel = None
        self._thread = None
        self._stop = False
        self._lsock = None
        self._wake_r = self._wake_w = None
        self.error = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.rcvbuf:
            # set before listen: accepted sockets inherit it, and the window is announced
            # from the handshake on
            self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        if self.mss:
            self._lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, self.mss)
        self._lsock.bind((HOST, 0))
        self._lsock.listen(8)
        self._lsock.setblocking(False)
        self.port = self._lsock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._lsock, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        if self._thread is None:
            return
        with self._lock:
            self._stop = True
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise Timeout("fake broker thread did not stop within %.1f s" % timeout)
        self._thread = None
        for c in list(self._conns.values()):
            c.sock.close()
        self._conns = {}
        self._sel.close()
        self._lsock.close()
        self._wake_r.close()
        self._wake_w.close()
        if self.error:
            raise AssertionError("fake broker failed: %r" % (self.error,))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- from the test thread -------------------------------------------------------------

    def send(self, data, conn=None, delay=0.0):
        """Send bytes to connection conn (default: the newest) after delay seconds."""
        with self._lock:
            if conn is None:
                conn = self.accepted - 1
            self._timers.append((time.monotonic() + delay, conn, data))
        self._wake()

    def close(self, conn=None, delay=0.0):
        """Close connection conn (FIN) after what was queued before."""
        self.send(None, conn, delay)

    def wait_packet(self, predicate, timeout=5.0, after=0):
        """The first recorded packet (index >= after) for which predicate(p) is true."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for p in self.packets[after:]:
                    if predicate(p):
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("fake broker: no matching packet within %.1f s; got %r" %
                                  (timeout, self.packets))
                self._lock.wait(left)

    def wait_count(self, ptype, n, timeout=5.0):
        """Wait until n packets of type ptype arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = [p for p in self.packets if p.type == ptype]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("fake broker: %d %s within %.1f s, wanted %d" %
                                  (len(got), NAMES.get(ptype), timeout, n))
                self._lock.wait(left)

    def received(self, conn=0):
        """Every byte connection conn sent so far."""
        with self._lock:
            c = self._conns.get(conn)
            return c.raw if c else b""

    def wait_accept(self, n=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.accepted < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("fake broker: %d connections within %.1f s, wanted %d" %
                                  (self.accepted, timeout, n))
                self._lock.wait(left)

    def wait_peer_closed(self, conn=0, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._lock:
            while conn not in self.closed_by_peer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("fake broker: connection %d still open after %.1f s" %
                                  (conn, timeout))
                self._lock.wait(left)

    def of_type(self, ptype):
        with self._lock:
            return [p for p in self.packets if p.type == ptype]

    def sent_at(self, predicate):
        """Time the broker sent the first of its packets whose bytes match predicate."""
        with self._lock:
            for conn, at, data in self.sent:
                if predicate(data):
                    return at
        return None

    def flood(self, n, qos=1, topic="flood", size=100, conn=None, first_seq=0, dup=None,
              hold_pubrel=False, read=True):
        """Start sending n PUBLISHes on connection conn (default: the newest) as fast as its
        socket takes them (see Flood); returns the Flood. read=False: the broker never reads
        that socket again, so the client's PUBACKs (and everything else) stay unread."""
        with self._lock:
            if conn is None:
                conn = self.accepted - 1
            c = self._conns[conn]
            fl = Flood(self, conn, n, qos, topic, size, first_seq, dup, hold_pubrel, read)
            c.flood = fl
            self._timers.append((time.monotonic(), conn, ("read", read)))
        self._wake()
        return fl

    def stop_reading(self, conn=None):
        """Never read connection conn (default: the newest) again."""
        with self._lock:
            if conn is None:
                conn = self.accepted - 1
            self._timers.append((time.monotonic(), conn, ("read", False)))
        self._wake()

    # -- the server thread ----------------------------------------------------------------

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _run(self):
        try:
            while True:
                with self._lock:
                    if self._stop:
                        return
                    now = time.monotonic()
                    due = [t for t in self._timers if t[0] <= now]
                    self._timers = [t for t in self._timers if t[0] > now]
                    nxt = min((t[0] for t in self._timers), default=None)
                for _, conn, data in sorted(due, key=lambda t: t[0]):
                    self._out(conn, data)
                timeout = None if nxt is None else max(0.0, nxt - time.monotonic())
                for key, events in self._sel.select(timeout):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                    else:
                        if events & selectors.EVENT_READ:
                            self._readable(key.data)
                        if events & selectors.EVENT_WRITE and key.data.open:
                            self._flush(key.data)
        except Exception as e:  # reported by stop(); a dead server thread would hang tests
            self.error = e
            with self._lock:
                self._lock.notify_all()

    def _accept(self):
        try:
            sock, _ = self._lsock.accept()
        except BlockingIOError:
            return
        if self._tls is not None:
            try:
                sock.settimeout(5.0)
                sock = self._tls.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError) as e:
                sock.close()
                with self._lock:
                    self.tls_failures.append(repr(e))
                    self._lock.notify_all()
                return
        sock.setblocking(False)
        with self._lock:
            c = _Conn(self.accepted, sock)
            self._conns[c.index] = c
            self.accepted += 1
            self._lock.notify_all()
        self._watch(c)

    def _watch(self, c):
        """Select on c for what it needs: reading unless it stopped, writing while it has
        bytes to send."""
        if not c.open:
            return
        want = (selectors.EVENT_READ if c.reading else 0) | \
            (selectors.EVENT_WRITE if c.tx or c.tx_chunk or (c.flood and c.flood.more())
             else 0)
        if want == c.events:
            return
        if not want:
            self._sel.unregister(c.sock)
        elif not c.events:
            self._sel.register(c.sock, want, c)
        else:
            self._sel.modify(c.sock, want, c)
        c.events = want

    def _drop(self, c, by_peer):
        if not c.open:
            return
        c.open = False
        if c.events:
            try:
                self._sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
        c.events = 0
        c.sock.close()
        with self._lock:
            if by_peer:
                self.closed_by_peer.append(c.index)
            self._lock.notify_all()

    def _out(self, conn, data):
        c = self._conns.get(conn)
        if c is None or not c.open:
            return
        if isinstance(data, tuple):  # ("read", False): stop reading; a flood may start
            c.reading = c.reading and data[1]
            self._flush(c)
            return
        if data is None:
            c.close_when_sent = True
        else:
            with self._lock:
                self.sent.append((conn, time.monotonic(), data))
            c.tx += data
        self._flush(c)

    def _flush(self, c):
        """Write what the socket takes now (at most 1 MiB a call, so a fast reader cannot keep
        the thread from its other sockets); refill from the flood; close when asked and done."""
        chunk_max = 16384 if self._tls is not None else 262144
        budget = 1 << 20
        while c.open and budget > 0:
            if c.tx_chunk is None:
                if len(c.tx) < chunk_max and c.flood is not None:
                    with self._lock:
                        c.flood.pump(c.tx, chunk_max)
                if not c.tx:
                    break
                c.tx_chunk = bytes(c.tx[:chunk_max])
                del c.tx[:chunk_max]
            try:
                n = c.sock.send(c.tx_chunk)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            except OSError:
                self._drop(c, True)
                return
            c.wire_tx += n
            budget -= n
            c.tx_chunk = c.tx_chunk[n:] or None
        if c.open and c.close_when_sent and not c.tx and not c.tx_chunk:
            self._drop(c, False)
            return
        self._watch(c)

    def _later(self, c, data, delay):
        if delay <= 0:
            self._out(c.index, data)
            return
        with self._lock:
            self._timers.append((time.monotonic() + delay, c.index, data))

    def _recv(self, c):
        """Bytes from c's socket (b"" at its end), or None when there are none now."""
        try:
            chunk = c.sock.recv(262144)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except OSError:
            return b""
        if chunk and self._tls is not None:
            # decrypted bytes the socket's readiness no longer announces
            while c.sock.pending():
                try:
                    chunk += c.sock.recv(c.sock.pending())
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    break
        return chunk

    def _readable(self, c):
        if not c.reading:
            return
        chunk = self._recv(c)
        if chunk is None:
            return
        if not chunk:
            self._drop(c, True)
            return
        with self._lock:
            if c.flood is None:
                c.raw += chunk  # a flood's acknowledgements are counted, not kept
            self._lock.notify_all()
        if c.garbage:
            return
        c.rx += chunk
        try:
            frames, c.rx = split_packets(c.rx)
        except ValueError:
            c.garbage = True
            return
        flood_out = False
        for raw, hl in frames:
            fl = c.flood
            if fl is not None and raw[0] in (0x40, 0x50, 0x70) and len(raw) == 4:
                with self._lock:
                    if fl.on_ack(raw[0] >> 4, (raw[2] << 8) | raw[3], c.tx):
                        flood_out = True
                        continue
            p = Packet(c.index, raw, hl, time.monotonic())
            with self._lock:
                self.packets.append(p)
                self._lock.notify_all()
            if not p.malformed:
                self._react(c, p)
            if not c.open:
                return
        if flood_out:
            with self._lock:
                self._lock.notify_all()
            self._flush(c)

    def _react(self, c, p):
        if self.silent:
            return
        if p.type == CONNECT:
            if self.connack is not None:
                self._out(c.index, connack(self.connack, self.session_present))
        elif p.type == PUBLISH:
            c.publishes += 1
            if self.close_after is not None and c.publishes >= self.close_after:
                self._drop(c, False)
                return
            if p.qos and self.puback:
                ack = puback if p.qos == 1 else pubrec
                self._later(c, ack(p.packet_id), self.ack_delay)
        elif p.type == PUBREL:
            if self.puback and self.pubcomp:
                self._later(c, pubcomp(p.packet_id), self.ack_delay)
        elif p.type in (SUBSCRIBE, UNSUBSCRIBE) and not self.answer_subscribe:
            return
        elif p.type == SUBSCRIBE:
            codes = self.suback if self.suback is not None else [q for _, q in p.topics]
            self._out(c.index, suback(p.packet_id, codes))
        elif p.type == UNSUBSCRIBE:
            self._out(c.index, unsuback(p.packet_id))
        elif p.type == PINGREQ:
            if self.pingresp:
                self._out(c.index, pingresp())
        elif p.type == DISCONNECT and self.disconnect_closes:
            # 3.1.1 3.14.4: the server closes after DISCONNECT
            self._drop(c, False)
