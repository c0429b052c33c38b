#include "mqtt/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"

#define DISC_LINGER_MS 5000 /* wait this long for the server to close after DISCONNECT */
#define QOS2_BITMAP_BYTES (65536 / 8)

static const char *const state_names[] = {"idle",       "opening",   "open",
                                          "connecting", "connected", "disconnecting"};

const char *mqtt_state_name(enum mqtt_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

static const struct mqtt_client_ops *ops(const struct mqtt_client *c)
{
	return c->env->ops;
}

static uint64_t now_ms(const struct mqtt_client *c)
{
	return uv_now(c->env->loop);
}

static void set_state(struct mqtt_client *c, enum mqtt_state s)
{
	enum mqtt_state old = c->state;

	if (old == s)
		return;
	trace_event(c->env->trace_id, "mqtt", "client %d: %s -> %s", c->idx, state_names[old],
	            state_names[s]);
	c->state = s;
	if (ops(c)->state)
		ops(c)->state(c, old, s);
}

/* Protocol timers (pkt_timeout, keepalive) follow --time-scale but not --timing fast: they
 * are the module's protocol, not its latency. */
static uint64_t proto_ms(const struct mqtt_client *c, uint64_t ms)
{
	double f = (double)ms * c->env->time_scale;

	return f < 1 ? 1 : (uint64_t)f;
}

static uint64_t pkt_timeout_ms(const struct mqtt_client *c)
{
	return proto_ms(c, (uint64_t)c->cfg.pkt_timeout * 1000);
}

/* ---- the client's one timer: the earliest deadline ---- */

static void timer_cb(uv_timer_t *t);

static void rearm(struct mqtt_client *c)
{
	uint64_t due = 0, now;
	const uint64_t dues[] = {c->connack_due, c->ping_due, c->pingresp_due, c->close_due};

	if (!c->timer_live)
		return;
	for (size_t i = 0; i < sizeof(dues) / sizeof(dues[0]); i++)
		if (dues[i] && (!due || dues[i] < due))
			due = dues[i];
	for (size_t i = 0; i < MQTT_PENDING_MAX; i++)
		if (c->pend[i].used && c->pend[i].due && (!due || c->pend[i].due < due))
			due = c->pend[i].due;
	if (!due) {
		uv_timer_stop(&c->timer);
		return;
	}
	now = now_ms(c);
	uv_timer_start(&c->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* ---- sending ---- */

static int send_bytes(struct mqtt_client *c, const struct buf *b)
{
	if (!c->conn || net_conn_write(c->conn, b->data, b->len) != 0)
		return -ERR_STATE;
	c->last_tx = now_ms(c);
	return 0;
}

static void trace_pkt(struct mqtt_client *c, bool out, enum mqtt_packet_type t, uint16_t id,
                      const char *extra)
{
	trace_event(c->env->trace_id, "mqtt", "client %d %s %s%s%.0u%s%s", c->idx,
	            out ? "==>" : "<==", mqtt_codec_type_name(t), id ? " id " : "", (unsigned)id,
	            extra ? " " : "", extra ? extra : "");
}

/* ---- teardown ---- */

static void pending_clear(struct mqtt_pending *p)
{
	buf_free(&p->packet);
	memset(p, 0, sizeof(*p));
}

/* Drop the connection and everything that belongs to it. abort_conn: RST instead of FIN. */
static void teardown(struct mqtt_client *c, bool abort_conn)
{
	for (size_t i = 0; i < MQTT_PENDING_MAX; i++)
		pending_clear(&c->pend[i]);
	c->inflight = 0;
	if (c->qos2_in)
		memset(c->qos2_in, 0, QOS2_BITMAP_BYTES);
	c->connack_due = c->ping_due = c->pingresp_due = c->close_due = 0;
	if (c->conn) {
		if (abort_conn)
			net_conn_abort(c->conn);
		else
			net_conn_close(c->conn);
		c->conn = NULL;
	}
	buf_reset(&c->rx);
	c->paused = false;
	c->rx_again = false;
	set_state(c, MQTT_S_IDLE);
	rearm(c);
}

static void lose(struct mqtt_client *c, enum mqtt_loss why, const char *cause, bool abort_conn)
{
	teardown(c, abort_conn);
	if (ops(c)->lost)
		ops(c)->lost(c, why, cause);
}

void mqtt_client_drop(struct mqtt_client *c, bool abort_conn)
{
	if (c->state != MQTT_S_IDLE)
		teardown(c, abort_conn);
}

void mqtt_client_lose(struct mqtt_client *c, enum mqtt_loss why, const char *cause)
{
	if (c->state != MQTT_S_IDLE)
		lose(c, why, cause, true);
}

/* ---- keepalive ---- */

static void ping_arm(struct mqtt_client *c)
{
	uint64_t ka, idle;

	c->ping_due = 0;
	if (c->cfg.keepalive == 0 || c->state != MQTT_S_CONNECTED)
		return;
	ka = proto_ms(c, (uint64_t)c->cfg.keepalive * 1000);
	idle = now_ms(c) - c->last_tx;
	c->ping_due = now_ms(c) + (idle >= ka ? 0 : ka - idle);
	if (!c->ping_due)
		c->ping_due = 1;
}

static void pingresp_timeout(struct mqtt_client *c)
{
	c->pingresp_due = 0;
	if (c->paused) {
		/* The connection is not read while the owner refuses messages: the PINGRESP may
		 * be waiting behind an unread PUBLISH. Judge again once the owner made room. */
		c->pingresp_due = now_ms(c) + pkt_timeout_ms(c);
		return;
	}
	if (ops(c)->ping_failed)
		ops(c)->ping_failed(c);
	if (c->state != MQTT_S_IDLE)
		lose(c, MQTT_LOSS_PING, "PINGRESP not received", true);
}

static void ping_due(struct mqtt_client *c)
{
	uint64_t idle = now_ms(c) - c->last_tx, ka = proto_ms(c, (uint64_t)c->cfg.keepalive * 1000);
	struct buf b;

	c->ping_due = 0;
	if (c->state != MQTT_S_CONNECTED)
		return;
	if (idle + 5 < ka) {
		ping_arm(c);
		return;
	}
	buf_init(&b, 0);
	mqtt_codec_encode_empty(&b, MQTT_PINGREQ);
	send_bytes(c, &b);
	buf_free(&b);
	trace_pkt(c, true, MQTT_PINGREQ, 0, NULL);
	if (!c->pingresp_due)
		c->pingresp_due = now_ms(c) + pkt_timeout_ms(c);
	ping_arm(c);
}

/* ---- outgoing packets that wait for an acknowledgement ---- */

static struct mqtt_pending *pending_find(struct mqtt_client *c, uint8_t type, uint16_t id)
{
	for (size_t i = 0; i < MQTT_PENDING_MAX; i++)
		if (c->pend[i].used && c->pend[i].type == type && c->pend[i].msgid == id)
			return &c->pend[i];
	return NULL;
}

static bool msgid_busy(const struct mqtt_client *c, uint16_t id)
{
	for (size_t i = 0; i < MQTT_PENDING_MAX; i++)
		if (c->pend[i].used && c->pend[i].msgid == id)
			return true;
	return false;
}

/* pkt_timeout passed without the acknowledgement: retransmit (DUP set on PUBLISH, and on
 * SUBSCRIBE/UNSUBSCRIBE only under MQTT 3.1, whose header allows it), report it, give up after
 * retry_times (reference §6c/§6e, M95 MQTT AN 3.2.1). */
static void pending_timeout(struct mqtt_client *c, struct mqtt_pending *p)
{
	p->due = 0;
	if (c->paused) {
		/* the acknowledgement may be waiting behind an unread PUBLISH (see process_rx) */
		p->due = now_ms(c) + pkt_timeout_ms(c);
		return;
	}
	if (p->retries >= c->cfg.retry_times) {
		enum mqtt_packet_type type = (enum mqtt_packet_type)p->type;
		uint16_t id = p->msgid;
		int tag = p->tag;

		trace_event(c->env->trace_id, "mqtt",
		            "client %d: %s id %u unacknowledged after %d retries", c->idx,
		            mqtt_codec_type_name(type), (unsigned)id, p->retries);
		if (ops(c)->gave_up)
			ops(c)->gave_up(c, type, id, tag);
		if (c->state != MQTT_S_IDLE)
			lose(c, MQTT_LOSS_RETRIES, "retransmissions exhausted", true);
		return;
	}
	p->retries++;
	if (p->type == MQTT_PUBLISH)
		p->packet.data[0] |= 0x08; /* DUP */
	else if ((p->type == MQTT_SUBSCRIBE || p->type == MQTT_UNSUBSCRIBE) &&
	         c->cfg.version == MQTT_PROTO_V31)
		p->packet.data[0] |= 0x08;
	send_bytes(c, &p->packet);
	trace_pkt(c, true, (enum mqtt_packet_type)p->type, p->msgid, "(retransmission)");
	p->due = now_ms(c) + pkt_timeout_ms(c);
	if (ops(c)->retransmitted)
		ops(c)->retransmitted(c, (enum mqtt_packet_type)p->type, p->msgid, p->tag,
		                      p->retries);
}

static struct mqtt_pending *pending_add(struct mqtt_client *c, uint8_t type, uint16_t id, int qos,
                                        int tag, const struct buf *packet)
{
	for (size_t i = 0; i < MQTT_PENDING_MAX; i++) {
		struct mqtt_pending *p = &c->pend[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		buf_init(&p->packet, 0);
		if (buf_append(&p->packet, packet->data, packet->len) != 0) {
			buf_free(&p->packet);
			return NULL;
		}
		p->used = true;
		p->type = type;
		p->msgid = id;
		p->qos = qos;
		p->tag = tag;
		p->due = now_ms(c) + pkt_timeout_ms(c);
		rearm(c);
		return p;
	}
	return NULL;
}

/* Everything due now, in a fixed order; each step may end the session. */
static void timer_cb(uv_timer_t *t)
{
	struct mqtt_client *c = t->data;
	uint64_t now = now_ms(c);

	if (c->connack_due && c->connack_due <= now) {
		c->connack_due = 0;
		if (c->state == MQTT_S_CONNECTING)
			lose(c, MQTT_LOSS_CONNACK, "CONNACK not received", true);
	}
	if (c->pingresp_due && c->pingresp_due <= now)
		pingresp_timeout(c);
	if (c->ping_due && c->ping_due <= now)
		ping_due(c);
	if (c->close_due && c->close_due <= now) {
		c->close_due = 0;
		if (c->state == MQTT_S_DISCONNECTING) {
			trace_event(c->env->trace_id, "mqtt",
			            "client %d: server did not close after DISCONNECT", c->idx);
			lose(c, MQTT_LOSS_DISCONNECTED, "server did not close after DISCONNECT",
			     false);
		}
	}
	for (size_t i = 0; i < MQTT_PENDING_MAX && c->state != MQTT_S_IDLE; i++) {
		struct mqtt_pending *p = &c->pend[i];

		if (p->used && p->due && p->due <= now)
			pending_timeout(c, p);
	}
	rearm(c);
}

/* ---- broker-side faults (scenario/fault.c) ---- */

/* The armed fault of this kind if it applies to client c (the caller consumes it), or NULL. */
static struct mqtt_fault_one *fault_for(struct mqtt_client *c, size_t offset)
{
	struct mqtt_fault_one *f;

	if (!c->env->faults)
		return NULL;
	f = (struct mqtt_fault_one *)((char *)c->env->faults + offset);
	if (!f->armed || (f->client >= 0 && f->client != c->idx))
		return NULL;
	return f;
}

#define FAULT(c, name) fault_for((c), offsetof(struct mqtt_faults, name))

void mqtt_fault_arm(struct mqtt_fault_one *f, int client, int value)
{
	f->armed = value >= 0;
	f->client = client;
	f->value = value;
}

/* ---- incoming ---- */

static bool qos2_seen(const struct mqtt_client *c, uint16_t id)
{
	return c->qos2_in && (c->qos2_in[id >> 3] & (1u << (id & 7)));
}

static void qos2_mark(struct mqtt_client *c, uint16_t id, bool on)
{
	if (!c->qos2_in) {
		if (!on)
			return;
		c->qos2_in = calloc(1, QOS2_BITMAP_BYTES);
		if (!c->qos2_in)
			return;
	}
	if (on)
		c->qos2_in[id >> 3] |= (uint8_t)(1u << (id & 7));
	else
		c->qos2_in[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

static void send_ack(struct mqtt_client *c, enum mqtt_packet_type t, uint16_t id)
{
	struct buf b;

	buf_init(&b, 0);
	if (mqtt_codec_encode_ack(&b, t, id) == 0) {
		send_bytes(c, &b);
		trace_pkt(c, true, t, id, NULL);
	}
	buf_free(&b);
}

/* Offer a PUBLISH to the owner; false: refused, read no further. */
static bool deliver(struct mqtt_client *c, uint16_t id, const struct mqtt_publish *pub)
{
	if (ops(c)->message && !ops(c)->message(c, id, pub))
		return false;
	c->pub_in++;
	return true;
}

/* Returns false when the packet was not taken (a refused PUBLISH): it stays in rx. */
static bool handle_packet(struct mqtt_client *c, const struct mqtt_packet *pk)
{
	struct mqtt_pending *p;
	struct mqtt_fault_one *f;
	char extra[64];
	unsigned rc_in;
	bool forced = false;

	switch (pk->type) {
	case MQTT_CONNACK:
		snprintf(extra, sizeof(extra), "rc %u", pk->connack.return_code);
		trace_pkt(c, false, pk->type, 0, extra);
		if (c->state != MQTT_S_CONNECTING)
			return true;
		c->connack_due = 0;
		rc_in = pk->connack.return_code;
		if ((f = FAULT(c, connack)) != NULL) {
			f->armed = false;
			rc_in = (unsigned)f->value;
			forced = true;
			trace_event(c->env->trace_id, "fault",
			            "client %d: CONNACK return code %u made %u (mqtt.connack)",
			            c->idx, pk->connack.return_code, rc_in);
		}
		if (rc_in == 0) {
			set_state(c, MQTT_S_CONNECTED);
			ping_arm(c);
		} else {
			set_state(c, MQTT_S_OPEN);
		}
		if (ops(c)->connack)
			ops(c)->connack(c, rc_in);
		/* 3.1.1 3.2.2-5: a server that refuses closes the connection; the broker
		 * accepted, so the refusal's close is made here, as a real FIN. */
		if (forced && rc_in != 0 && c->conn)
			net_conn_fault_close(c->conn);
		return true;
	case MQTT_PUBLISH:
		if (pk->publish.qos == 2) {
			if (!qos2_seen(c, pk->packet_id)) {
				if (!deliver(c, pk->packet_id, &pk->publish))
					return false;
				qos2_mark(c, pk->packet_id, true);
			}
			trace_pkt(c, false, pk->type, pk->packet_id, NULL);
			send_ack(c, MQTT_PUBREC, pk->packet_id);
			return true;
		}
		if (!deliver(c, pk->packet_id, &pk->publish))
			return false;
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		if (pk->publish.qos == 1)
			send_ack(c, MQTT_PUBACK, pk->packet_id);
		return true;
	case MQTT_PUBREL:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		qos2_mark(c, pk->packet_id, false);
		send_ack(c, MQTT_PUBCOMP, pk->packet_id);
		return true;
	case MQTT_PUBACK:
	case MQTT_PUBCOMP:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		if ((f = FAULT(c, noack)) != NULL) {
			/* lost on the way: the retransmission logic takes it from here */
			if (--f->value <= 0)
				f->armed = false;
			trace_event(c->env->trace_id, "fault",
			            "client %d: %s id %u dropped (mqtt.noack)", c->idx,
			            mqtt_codec_type_name(pk->type), (unsigned)pk->packet_id);
			return true;
		}
		p = pending_find(c, pk->type == MQTT_PUBACK ? MQTT_PUBLISH : MQTT_PUBREL,
		                 pk->packet_id);
		if (!p || (pk->type == MQTT_PUBACK && p->qos != 1))
			return true;
		{
			/* the broker acknowledged: only now is the publish reported done */
			uint16_t id = p->msgid;
			int tag = p->tag;

			pending_clear(p);
			if (c->inflight > 0)
				c->inflight--;
			rearm(c);
			if (ops(c)->puback)
				ops(c)->puback(c, id, tag);
		}
		return true;
	case MQTT_PUBREC: {
		struct buf b;
		int tag;

		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_PUBLISH, pk->packet_id);
		if (!p || p->qos != 2) {
			send_ack(c, MQTT_PUBREL, pk->packet_id);
			return true;
		}
		tag = p->tag;
		pending_clear(p);
		buf_init(&b, 0);
		mqtt_codec_encode_ack(&b, MQTT_PUBREL, pk->packet_id);
		send_bytes(c, &b);
		trace_pkt(c, true, MQTT_PUBREL, pk->packet_id, NULL);
		pending_add(c, MQTT_PUBREL, pk->packet_id, 2, tag, &b);
		buf_free(&b);
		return true;
	}
	case MQTT_SUBACK: {
		uint8_t *refused = NULL;
		size_t n = pk->suback.count;

		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_SUBSCRIBE, pk->packet_id);
		if (!p)
			return true;
		if ((f = FAULT(c, suback)) != NULL && f->value == 0x80 &&
		    (refused = malloc(n ? n : 1)) != NULL) {
			/* A refusal cannot be asked of the broker: its answer is replaced (the
			 * broker still holds the subscription it granted). */
			f->armed = false;
			memset(refused, 0x80, n);
			trace_event(c->env->trace_id, "fault",
			            "client %d: SUBACK id %u made a refusal (mqtt.suback)", c->idx,
			            (unsigned)pk->packet_id);
		}
		pending_clear(p);
		rearm(c);
		if (ops(c)->suback)
			ops(c)->suback(c, pk->packet_id, refused ? refused : pk->suback.granted, n);
		free(refused);
		return true;
	}
	case MQTT_UNSUBACK:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_UNSUBSCRIBE, pk->packet_id);
		if (!p)
			return true;
		pending_clear(p);
		rearm(c);
		if (ops(c)->unsuback)
			ops(c)->unsuback(c, pk->packet_id);
		return true;
	case MQTT_PINGRESP:
		trace_pkt(c, false, pk->type, 0, NULL);
		c->pingresp_due = 0;
		rearm(c);
		return true;
	case MQTT_CONNECT:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
	case MQTT_PINGREQ:
	case MQTT_DISCONNECT:
		trace_pkt(c, false, pk->type, pk->packet_id, "(not for a client: ignored)");
		return true;
	}
	return true;
}

/* Parse what the broker sent. A PUBLISH the owner refuses waits in rx, and so does every
 * PUBLISH after it (their order is kept); they are offered again by mqtt_client_resume() and
 * with the next data. Packets that are not PUBLISHes (acknowledgements of the client's own
 * packets, PINGRESP) are handled meanwhile, so results and keepalive go on. While PUBLISHes
 * wait, the connection is read until MQTT_RX_HOLD_MAX bytes wait: then it is paused and TCP's
 * window closes on the broker. Nothing is acknowledged before the owner took it.
 *
 * rx is compacted in place: bytes [0, kept) are the waiting PUBLISHes, [rd, len) not yet
 * parsed. A callback may end the session (rx is then reset): every step checks for it. */
static void process_rx(struct mqtt_client *c)
{
	size_t rd = 0, kept = 0;
	size_t max = c->env->limits && c->env->limits->rx_packet_max ? c->env->limits->rx_packet_max
	                                                             : MQTT_RX_PACKET_MAX;
	bool held = false, pause;

	if (c->in_rx) {
		c->rx_again = true; /* from inside a callback: the running pass goes round again */
		return;
	}
	c->in_rx = true;
again:
	c->rx_again = false;
	while (c->conn && rd < c->rx.len) {
		struct mqtt_header h;
		struct mqtt_packet pk;
		const char *reason = NULL;
		int rc = mqtt_codec_header_parse(c->rx.data + rd, c->rx.len - rd, &h, &reason);
		size_t total;

		if (rc == 0)
			break;
		if (rc < 0) {
			trace_event(c->env->trace_id, "mqtt",
			            "client %d: bad packet from broker: %s", c->idx,
			            reason ? reason : "?");
			goto protocol_error;
		}
		total = h.header_len + h.remaining;
		if (h.remaining > max) {
			trace_event(
			        c->env->trace_id, "mqtt",
			        "client %d: %s of %zu bytes from the broker exceeds the receive "
			        "limit of %zu bytes",
			        c->idx, mqtt_codec_type_name((enum mqtt_packet_type)(h.byte1 >> 4)),
			        total, max);
			c->in_rx = false;
			lose(c, MQTT_LOSS_PROTOCOL, "packet larger than the receive limit", true);
			return;
		}
		if (c->rx.len - rd < total)
			break;
		if ((h.byte1 >> 4) == MQTT_PUBLISH && held) {
			memmove(c->rx.data + kept, c->rx.data + rd, total);
			kept += total;
			rd += total;
			continue;
		}
		rc = mqtt_codec_decode(c->rx.data + rd, total, (uint8_t)c->cfg.version, &pk,
		                       &reason);
		if (rc != 0) {
			trace_event(c->env->trace_id, "mqtt", "client %d: malformed packet: %s",
			            c->idx, reason ? reason : "?");
			goto protocol_error;
		}
		if (!handle_packet(c, &pk)) {
			held = true;
			memmove(c->rx.data + kept, c->rx.data + rd, total);
			kept += total;
			rd += total;
			continue;
		}
		if (c->state == MQTT_S_IDLE) {
			c->in_rx = false;
			return; /* the packet ended the session */
		}
		rd += total;
	}
	if (c->state == MQTT_S_IDLE) {
		c->in_rx = false;
		return;
	}
	if (rd > kept) {
		memmove(c->rx.data + kept, c->rx.data + rd, c->rx.len - rd);
		c->rx.len -= rd - kept;
	}
	if (c->rx_again && c->conn) {
		rd = kept = 0;
		held = false;
		goto again;
	}
	c->in_rx = false;
	pause = held && c->rx.len >= MQTT_RX_HOLD_MAX;
	if (!pause && c->paused && c->conn) {
		/* The answers the deadlines wait for may be unread in the socket, and the loop
		 * runs due timers before it reads again: judge them a pkt_timeout after reading
		 * resumes, not at once. */
		uint64_t fair = now_ms(c) + pkt_timeout_ms(c);

		for (size_t i = 0; i < MQTT_PENDING_MAX; i++)
			if (c->pend[i].used && c->pend[i].due && c->pend[i].due < fair)
				c->pend[i].due = fair;
		if (c->pingresp_due && c->pingresp_due < fair)
			c->pingresp_due = fair;
	}
	if (pause != c->paused && c->conn) {
		c->paused = pause;
		net_conn_pause(c->conn, pause);
		trace_event(c->env->trace_id, "mqtt", "client %d: %s", c->idx,
		            pause ? "messages wait for the host: reading paused"
		                  : "reading resumed");
	}
	rearm(c);
	return;
protocol_error:
	c->in_rx = false;
	lose(c, MQTT_LOSS_PROTOCOL, "protocol error from broker", true);
}

void mqtt_client_resume(struct mqtt_client *c)
{
	if (c->conn)
		process_rx(c);
}

/* ---- connection callbacks ---- */

static void on_data(void *arg, const uint8_t *p, size_t n)
{
	struct mqtt_client *c = arg;

	if (buf_append(&c->rx, p, n) != 0) {
		lose(c, MQTT_LOSS_PROTOCOL, "receive buffer overflow", true);
		return;
	}
	process_rx(c);
}

static void on_closed(void *arg, int reason, const char *cause)
{
	struct mqtt_client *c = arg;

	trace_event(c->env->trace_id, "mqtt", "client %d: connection ended: %s%s%s", c->idx,
	            net_status_str(reason), cause ? ": " : "", cause ? cause : "");
	if (c->state == MQTT_S_DISCONNECTING) {
		/* M95 MQTT AN 4.1.1 code 5: the server closed after our DISCONNECT (normal) */
		lose(c, MQTT_LOSS_DISCONNECTED, "closed by the server after DISCONNECT", false);
		return;
	}
	lose(c, MQTT_LOSS_PEER, cause ? cause : net_status_str(reason), false);
}

static void on_opened(void *arg, int status, const char *cause)
{
	struct mqtt_client *c = arg;

	if (status == 0) {
		trace_event(c->env->trace_id, "mqtt", "client %d: network open to %s:%d (%s)",
		            c->idx, c->host, c->port, net_conn_peer(c->conn));
		set_state(c, MQTT_S_OPEN);
	} else {
		teardown(c, true);
	}
	if (ops(c)->opened)
		ops(c)->opened(c, status, cause);
}

static const struct net_conn_ops conn_ops = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
};

/* ---- life ---- */

void mqtt_cfg_defaults(struct mqtt_cfg *cfg)
{
	buf_free(&cfg->will_msg);
	memset(cfg, 0, sizeof(*cfg));
	/* MQTT 3.1.1 by default: the EC2x log of the field report (seed 000) reaches AWS IoT,
	 * which speaks only 3.1.1, without setting "version"; the M95 note's SSL example does
	 * the same. */
	cfg->version = MQTT_PROTO_V311;
	cfg->keepalive = 120;
	cfg->clean = 1;
	cfg->pkt_timeout = 5;
	cfg->retry_times = 3;
	buf_init(&cfg->will_msg, 0);
}

void mqtt_client_init(struct mqtt_client *c, const struct mqtt_env *env, int idx, void *user)
{
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->env = env;
	c->user = user;
	buf_init(&c->rx, 0);
	buf_init(&c->cfg.will_msg, 0);
	mqtt_cfg_defaults(&c->cfg);
	uv_timer_init(env->loop, &c->timer);
	c->timer.data = c;
	c->timer_live = true;
}

void mqtt_client_free(struct mqtt_client *c)
{
	if (!c->env)
		return;
	teardown(c, true);
	buf_free(&c->rx);
	buf_free(&c->cfg.will_msg);
	free(c->qos2_in);
	c->qos2_in = NULL;
	if (c->timer_live) {
		c->timer_live = false;
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, NULL);
	}
}

/* ---- operations ---- */

int mqtt_client_open(struct mqtt_client *c, const char *host, int port,
                     const struct tls_config *tls, uint64_t timeout_ms)
{
	int rc;

	if (c->state != MQTT_S_IDLE)
		return -ERR_STATE;
	if (!host[0] || port < 1 || port > 65535 || strlen(host) > MQTT_HOST_MAX)
		return -ERR_INVAL;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	set_state(c, MQTT_S_OPENING);
	rc = net_conn_open(c->env->net, host, port, tls, timeout_ms, &conn_ops, c, &c->conn);
	if (rc != 0) {
		c->conn = NULL;
		set_state(c, MQTT_S_IDLE);
	}
	return rc;
}

int mqtt_client_connect(struct mqtt_client *c, const char *client_id, const char *user,
                        const char *pass)
{
	struct mqtt_connect cn;
	struct buf b;
	int rc;

	if (c->state != MQTT_S_OPEN)
		return -ERR_STATE;
	memset(&cn, 0, sizeof(cn));
	cn.protocol = (uint8_t)c->cfg.version;
	cn.clean_session = c->cfg.clean != 0;
	cn.keepalive = (uint16_t)c->cfg.keepalive;
	cn.client_id.ptr = client_id;
	cn.client_id.len = strlen(client_id);
	if (c->cfg.will_fg) {
		cn.will_topic.ptr = c->cfg.will_topic;
		cn.will_topic.len = strlen(c->cfg.will_topic);
		cn.will_message.ptr =
		        c->cfg.will_msg.data ? c->cfg.will_msg.data : (const uint8_t *)"";
		cn.will_message.len = c->cfg.will_msg.len;
		cn.will_qos = (uint8_t)c->cfg.will_qos;
		cn.will_retain = c->cfg.will_retain != 0;
	}
	if (user) {
		cn.username.ptr = user;
		cn.username.len = strlen(user);
	}
	if (user && pass) {
		cn.password.ptr = (const uint8_t *)pass;
		cn.password.len = strlen(pass);
	}
	buf_init(&b, 0);
	rc = mqtt_codec_encode_connect(&b, &cn);
	if (rc == 0)
		rc = send_bytes(c, &b);
	buf_free(&b);
	if (rc != 0)
		return rc;
	trace_event(c->env->trace_id, "mqtt", "client %d ==> CONNECT client id \"%s\" level %d%s%s",
	            c->idx, client_id, c->cfg.version, user ? " user " : "", user ? user : "");
	set_state(c, MQTT_S_CONNECTING);
	c->connack_due = now_ms(c) + pkt_timeout_ms(c);
	rearm(c);
	return 0;
}

int mqtt_client_disconnect(struct mqtt_client *c)
{
	struct buf b;

	if (c->state != MQTT_S_CONNECTED && c->state != MQTT_S_CONNECTING)
		return -ERR_STATE;
	buf_init(&b, 0);
	mqtt_codec_encode_empty(&b, MQTT_DISCONNECT);
	send_bytes(c, &b);
	buf_free(&b);
	trace_pkt(c, true, MQTT_DISCONNECT, 0, NULL);
	c->ping_due = c->pingresp_due = c->connack_due = 0;
	set_state(c, MQTT_S_DISCONNECTING);
	c->close_due = now_ms(c) + proto_ms(c, DISC_LINGER_MS);
	rearm(c);
	return 0;
}

/* Send an encoded SUBSCRIBE or UNSUBSCRIBE (rc: the encoder's status) and wait for its
 * acknowledgement like any pending packet. Frees b. */
static int send_tracked(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t msgid,
                        struct buf *b, int rc, const char *first_topic)
{
	if (rc == 0 && !pending_add(c, type, msgid, 1, 0, b))
		rc = -ERR_NOSPC;
	if (rc == 0)
		rc = send_bytes(c, b);
	buf_free(b);
	if (rc == 0)
		trace_pkt(c, true, type, msgid, first_topic);
	return rc;
}

int mqtt_client_subscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics,
                          const int *qos, int n)
{
	struct mqtt_subscription subs[16];
	struct mqtt_fault_one *f;
	struct buf b;
	int rc;

	if (c->state != MQTT_S_CONNECTED)
		return -ERR_STATE;
	if (n < 1 || n > 16)
		return -ERR_INVAL;
	if (msgid_busy(c, msgid))
		return -ERR_BUSY;
	for (int i = 0; i < n; i++) {
		subs[i].filter.ptr = topics[i];
		subs[i].filter.len = strlen(topics[i]);
		subs[i].qos = (uint8_t)qos[i];
	}
	if ((f = FAULT(c, suback)) != NULL && f->value <= 2) {
		/* Grants 0-2 are real: the SUBSCRIBE asks for that QoS, and the broker's SUBACK
		 * grants it (3.1.1 3.9.3: the maximum QoS granted). */
		f->armed = false;
		for (int i = 0; i < n; i++)
			subs[i].qos = (uint8_t)f->value;
		trace_event(c->env->trace_id, "fault",
		            "client %d: SUBSCRIBE id %u asks for QoS %d (mqtt.suback)", c->idx,
		            (unsigned)msgid, f->value);
	}
	buf_init(&b, 0);
	rc = mqtt_codec_encode_subscribe(&b, msgid, subs, (size_t)n);
	return send_tracked(c, MQTT_SUBSCRIBE, msgid, &b, rc, topics[0]);
}

int mqtt_client_unsubscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics, int n)
{
	struct mqtt_str f[16];
	struct buf b;
	int rc;

	if (c->state != MQTT_S_CONNECTED)
		return -ERR_STATE;
	if (n < 1 || n > 16)
		return -ERR_INVAL;
	if (msgid_busy(c, msgid))
		return -ERR_BUSY;
	for (int i = 0; i < n; i++) {
		f[i].ptr = topics[i];
		f[i].len = strlen(topics[i]);
	}
	buf_init(&b, 0);
	rc = mqtt_codec_encode_unsubscribe(&b, msgid, f, (size_t)n);
	return send_tracked(c, MQTT_UNSUBSCRIBE, msgid, &b, rc, topics[0]);
}

int mqtt_client_publish_check(const struct mqtt_client *c, uint16_t msgid, int qos)
{
	int window = c->env->limits ? c->env->limits->inflight_max : 0;

	if (c->state != MQTT_S_CONNECTED)
		return -ERR_STATE;
	if ((qos == 0) != (msgid == 0))
		return -ERR_INVAL;
	if (qos > 0 && msgid_busy(c, msgid))
		return -ERR_BUSY;
	if (qos > 0 && window > 0 && c->inflight >= window)
		return -ERR_NOSPC;
	return 0;
}

int mqtt_client_publish(struct mqtt_client *c, uint16_t msgid, int qos, int retain,
                        const char *topic, const uint8_t *payload, size_t len, int tag)
{
	struct mqtt_publish pub;
	struct mqtt_fault_one *f;
	struct buf b;
	int rc = mqtt_client_publish_check(c, msgid, qos);

	if (rc)
		return rc;
	memset(&pub, 0, sizeof(pub));
	pub.qos = (uint8_t)qos;
	pub.retain = retain != 0;
	pub.topic.ptr = topic;
	pub.topic.len = strlen(topic);
	pub.payload.ptr = payload ? payload : (const uint8_t *)"";
	pub.payload.len = len;
	buf_init(&b, 0);
	rc = mqtt_codec_encode_publish(&b, &pub, msgid);
	if (rc == 0 && qos > 0 && !pending_add(c, MQTT_PUBLISH, msgid, qos, tag, &b))
		rc = -ERR_BUSY;
	if (rc == 0)
		rc = send_bytes(c, &b);
	buf_free(&b);
	if (rc)
		return rc;
	c->pub_out++;
	if ((f = FAULT(c, close_after)) != NULL && --f->value <= 0) {
		/* the broker closes once this PUBLISH is on its way (a real FIN, from the loop) */
		f->armed = false;
		trace_event(c->env->trace_id, "fault",
		            "client %d: the broker closes after this PUBLISH (mqtt.close-after)",
		            c->idx);
		net_conn_fault_close(c->conn);
	}
	{
		char extra[300];

		snprintf(extra, sizeof(extra), "qos %d topic %s (%zu bytes)", qos, topic, len);
		trace_pkt(c, true, MQTT_PUBLISH, msgid, extra);
	}
	if (qos > 0)
		c->inflight++;
	return 0;
}
