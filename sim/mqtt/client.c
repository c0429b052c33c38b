#include "mqtt/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "mqtt/codec.h"
#include "net/conn.h"
#include "scenario/engine.h"

/* Realistic latency of result URCs after the command's OK (reference §6e timing: QMTOPEN
 * 0.2-1.5 s, QMTCONN 0.3-0.8 s, QMTSUB ~0.2 s, QoS 0 QMTPUB at once). The real network time
 * counts towards it: a slower broker is never hidden. */
#define LAT_OPEN_MS 600
#define LAT_CONN_MS 400
#define LAT_SUB_MS 200
#define LAT_PUB_MS 100
#define LAT_CLOSE_MS 100

#define OPEN_TIMEOUT_S 75 /* AT+QMTOPEN maximum response time (M95 MQTT AN 3.2.2) */
#define DISC_LINGER_MS 5000 /* wait this long for the server to close after DISCONNECT */
#define RX_PACKET_MAX (1024 * 1024)

static const char *const state_names[] = {"idle",       "opening",   "open",
                                          "connecting", "connected", "disconnecting"};

static void set_state(struct mqtt_client *c, enum mqtt_state s)
{
	if (c->state == s)
		return;
	trace_event(c->m->index, "mqtt", "client %d: %s -> %s", c->idx, state_names[c->state],
	            state_names[s]);
	scn_notify_mqtt(c->m, c->idx, (int)c->state, (int)s);
	c->state = s;
}

/* Protocol timers (pkt_timeout, keepalive) follow --time-scale but not --timing fast: they
 * are the module's protocol, not its latency. */
static uint64_t proto_ms(const struct mqtt_client *c, uint64_t ms)
{
	double f = (double)ms * c->m->sim->opt.time_scale;

	return f < 1 ? 1 : (uint64_t)f;
}

/* ---- URCs, in order per client, never earlier than the realistic latency ---- */

struct urc_job {
	struct mqtt_client *c;
	struct buf bytes;
};

static void urc_job_fire(struct modem *m, void *arg)
{
	struct urc_job *j = arg;

	if (j->c->urc_queued > 0)
		j->c->urc_queued--;
	modem_urc_bytes(m, j->bytes.data, j->bytes.len);
	buf_free(&j->bytes);
	free(j);
}

static void urc_job_drop(void *arg)
{
	struct urc_job *j = arg;

	buf_free(&j->bytes);
	free(j);
}

static void client_urc_bytes(struct mqtt_client *c, uint64_t latency_ms, const void *p, size_t n)
{
	struct modem *m = c->m;
	uint64_t now = modem_now(m), due = c->cmd_at + modem_delay(m, latency_ms);
	struct urc_job *j;

	if (latency_ms == 0 || due < now)
		due = now;
	due += latency_ms ? scn_urc_latency(m) : 0; /* scenario `latency urc` */
	if (due < c->urc_due)
		due = c->urc_due;
	c->urc_due = due;
	if (due <= now && !c->urc_queued) {
		modem_urc_bytes(m, p, n);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		modem_urc_bytes(m, p, n);
		return;
	}
	j->c = c;
	buf_init(&j->bytes, 0);
	buf_append(&j->bytes, p, n);
	c->urc_queued++;
	if (!modem_after_owned(m, due - now, urc_job_fire, j, urc_job_drop)) {
		c->urc_queued--;
		buf_free(&j->bytes);
		free(j);
		modem_urc_bytes(m, p, n);
	}
}

static void client_urc(struct mqtt_client *c, uint64_t latency_ms, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void client_urc(struct mqtt_client *c, uint64_t latency_ms, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	client_urc_bytes(c, latency_ms, b.data, b.len);
	buf_free(&b);
}

/* ---- sending ---- */

static int send_bytes(struct mqtt_client *c, const struct buf *b)
{
	if (!c->conn || net_conn_write(c->conn, b->data, b->len) != 0)
		return -ERR_STATE;
	c->last_tx = modem_now(c->m);
	return 0;
}

static void trace_pkt(struct mqtt_client *c, bool out, enum mqtt_packet_type t, uint16_t id,
                      const char *extra)
{
	trace_event(c->m->index, "mqtt", "client %d %s %s%s%.0u%s%s", c->idx,
	            out ? "==>" : "<==", mqtt_codec_type_name(t), id ? " id " : "", (unsigned)id,
	            extra ? " " : "", extra ? extra : "");
}

/* ---- teardown ---- */

static void cancel(struct modem_timer **t)
{
	modem_timer_cancel(*t);
	*t = NULL;
}

static void pending_clear(struct mqtt_pending *p)
{
	cancel(&p->timer);
	buf_free(&p->packet);
	memset(p, 0, sizeof(*p));
}

static void slots_clear(struct mqtt_client *c)
{
	for (int i = 0; i < MQTT_RECV_SLOTS; i++) {
		buf_free(&c->slots[i].topic);
		buf_free(&c->slots[i].payload);
		c->slots[i].used = false;
	}
}

/* Drop the connection and everything that belongs to it. abort: RST instead of FIN. */
static void teardown(struct mqtt_client *c, bool abort_conn)
{
	for (size_t i = 0; i < sizeof(c->pend) / sizeof(c->pend[0]); i++)
		pending_clear(&c->pend[i]);
	c->inflight = 0;
	c->nqos2_in = 0;
	cancel(&c->conn_timer);
	cancel(&c->ping_timer);
	cancel(&c->pingresp_timer);
	cancel(&c->close_timer);
	if (c->conn) {
		if (abort_conn)
			net_conn_abort(c->conn);
		else
			net_conn_close(c->conn);
		c->conn = NULL;
	}
	buf_reset(&c->rx);
	c->paused = false;
	set_state(c, MQTT_S_IDLE);
}

/* The link is gone: tell the host why (+QMTSTAT) and forget the session's network. */
static void link_lost(struct mqtt_client *c, int code, const char *why, bool abort_conn)
{
	trace_event(c->m->index, "mqtt", "client %d: link lost (%s): +QMTSTAT %d", c->idx, why,
	            code);
	teardown(c, abort_conn);
	client_urc(c, 0, "+QMTSTAT: %d,%d", c->idx, code);
}

/* ---- keepalive ---- */

static void ping_arm(struct mqtt_client *c);

static void pingresp_timeout(struct modem *m, void *arg)
{
	struct mqtt_client *c = arg;

	c->pingresp_timer = NULL;
	if (c->paused) {
		/* The socket is not read while the receive buffers are full: the PINGRESP may be
		 * waiting behind an unread PUBLISH. Judge again once the host made room. */
		c->pingresp_timer = modem_after(m, proto_ms(c, (uint64_t)c->cfg.pkt_timeout * 1000),
		                                pingresp_timeout, c);
		return;
	}
	client_urc(c, 0, "+QMTPING: %d,1", c->idx);
	link_lost(c, 2, "PINGRESP not received", true);
}

static void ping_due(struct modem *m, void *arg)
{
	struct mqtt_client *c = arg;
	uint64_t idle = modem_now(m) - c->last_tx,
	         ka = proto_ms(c, (uint64_t)c->cfg.keepalive * 1000);
	struct buf b;

	c->ping_timer = NULL;
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
	if (!c->pingresp_timer)
		c->pingresp_timer = modem_after(m, proto_ms(c, (uint64_t)c->cfg.pkt_timeout * 1000),
		                                pingresp_timeout, c);
	ping_arm(c);
}

static void ping_arm(struct mqtt_client *c)
{
	uint64_t ka, idle, wait;

	cancel(&c->ping_timer);
	if (c->cfg.keepalive == 0 || c->state != MQTT_S_CONNECTED)
		return;
	ka = proto_ms(c, (uint64_t)c->cfg.keepalive * 1000);
	idle = modem_now(c->m) - c->last_tx;
	wait = idle >= ka ? 0 : ka - idle;
	c->ping_timer = modem_after(c->m, wait, ping_due, c);
}

/* ---- outgoing packets that wait for an acknowledgement ---- */

static struct mqtt_pending *pending_find(struct mqtt_client *c, uint8_t type, uint16_t id)
{
	for (size_t i = 0; i < sizeof(c->pend) / sizeof(c->pend[0]); i++)
		if (c->pend[i].used && c->pend[i].type == type && c->pend[i].msgid == id)
			return &c->pend[i];
	return NULL;
}

static bool msgid_busy(struct mqtt_client *c, uint16_t id)
{
	for (size_t i = 0; i < sizeof(c->pend) / sizeof(c->pend[0]); i++)
		if (c->pend[i].used && c->pend[i].msgid == id)
			return true;
	return false;
}

static const char *result_name(const struct mqtt_pending *p)
{
	switch (p->type) {
	case MQTT_SUBSCRIBE:
		return "+QMTSUB";
	case MQTT_UNSUBSCRIBE:
		return "+QMTUNS";
	default:
		return p->ex ? "+QMTPUBEX" : "+QMTPUB";
	}
}

static void pending_timeout(struct modem *m, void *arg);

static void pending_arm(struct mqtt_client *c, struct mqtt_pending *p)
{
	cancel(&p->timer);
	p->timer = modem_after(c->m, proto_ms(c, (uint64_t)c->cfg.pkt_timeout * 1000),
	                       pending_timeout, p);
}

/* pkt_timeout passed without the acknowledgement: retransmit (DUP set on PUBLISH, and on
 * SUBSCRIBE/UNSUBSCRIBE only under MQTT 3.1, whose header allows it), report it when
 * timeout_notice is on, give up after retry_times (reference §6c/§6e, M95 MQTT AN 3.2.1). */
static void pending_timeout(struct modem *m, void *arg)
{
	struct mqtt_pending *p = arg;
	struct mqtt_client *c = NULL;

	for (int i = 0; i < MQTT_CLIENTS && !c; i++) {
		struct mqtt_client *x = &m->mqtt.c[i];

		if (p >= x->pend && p < x->pend + sizeof(x->pend) / sizeof(x->pend[0]))
			c = x;
	}
	p->timer = NULL;
	if (!c || !p->used)
		return;
	if (c->paused) {
		/* the acknowledgement may be waiting behind an unread PUBLISH (see process_rx) */
		pending_arm(c, p);
		return;
	}
	if (p->retries >= c->cfg.retry_times) {
		char name[16];
		uint16_t id = p->msgid;

		snprintf(name, sizeof(name), "%s", result_name(p));
		trace_event(m->index, "mqtt", "client %d: %s id %u unacknowledged after %d retries",
		            c->idx, mqtt_codec_type_name((enum mqtt_packet_type)p->type),
		            (unsigned)id, p->retries);
		client_urc(c, 0, "%s: %d,%u,2", name, c->idx, (unsigned)id);
		link_lost(c, 6, "retransmissions exhausted", true);
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
	if (c->cfg.timeout_notice)
		client_urc(c, 0, "%s: %d,%u,1,%d", result_name(p), c->idx, (unsigned)p->msgid,
		           p->retries);
	pending_arm(c, p);
}

static struct mqtt_pending *pending_add(struct mqtt_client *c, uint8_t type, uint16_t id, int qos,
                                        bool ex, const struct buf *packet)
{
	for (size_t i = 0; i < sizeof(c->pend) / sizeof(c->pend[0]); i++) {
		struct mqtt_pending *p = &c->pend[i];

		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->type = type;
		p->msgid = id;
		p->qos = qos;
		p->ex = ex;
		buf_init(&p->packet, 0);
		buf_append(&p->packet, packet->data, packet->len);
		p->sent_at = modem_now(c->m);
		pending_arm(c, p);
		return p;
	}
	return NULL;
}

/* ---- broker-side faults (scenario/fault.c) ---- */

/* Does the armed fault f apply to client c? (The caller consumes it.) */
static bool fault_applies(struct mqtt_client *c, struct mqtt_fault_one *f)
{
	if (!f->armed || (f->client >= 0 && f->client != c->idx))
		return false;
	return true;
}

static void fault_arm(struct mqtt_fault_one *f, int client, int value)
{
	f->armed = value >= 0;
	f->client = client;
	f->value = value;
}

void mqtt_fault_connack(struct modem *m, int client, int code)
{
	fault_arm(&m->mqtt.fault.connack, client, code);
}

void mqtt_fault_suback(struct modem *m, int client, int code)
{
	fault_arm(&m->mqtt.fault.suback, client, code);
}

void mqtt_fault_noack(struct modem *m, int client, int count)
{
	fault_arm(&m->mqtt.fault.noack, client, count > 0 ? count : -1);
}

void mqtt_fault_close_after(struct modem *m, int client, int publishes)
{
	fault_arm(&m->mqtt.fault.close_after, client, publishes > 0 ? publishes : -1);
}

/* ---- incoming ---- */

static bool qos2_seen(struct mqtt_client *c, uint16_t id)
{
	for (int i = 0; i < c->nqos2_in; i++)
		if (c->qos2_in[i] == id)
			return true;
	return false;
}

static void qos2_forget(struct mqtt_client *c, uint16_t id)
{
	for (int i = 0; i < c->nqos2_in; i++)
		if (c->qos2_in[i] == id) {
			c->qos2_in[i] = c->qos2_in[--c->nqos2_in];
			return;
		}
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

/* +QMTRECV with the payload (recv/mode 0; reference §6d, M95 MQTT AN 4.1.2). Payloads are not
 * escaped: quotes, commas, CR and LF pass as they are (host-drivers.md item 17). The M95 note
 * shows the payload without quotes. */
static void format_recv(struct mqtt_client *c, struct buf *b, uint16_t id, const uint8_t *topic,
                        size_t tlen, const uint8_t *payload, size_t plen)
{
	bool m95 = c->m->model->id == MODEL_M95;

	buf_printf(b, "+QMTRECV: %d,%u,\"", c->idx, (unsigned)id);
	buf_append(b, topic, tlen);
	buf_append(b, "\",", 2);
	if (!m95 && c->cfg.recv_len)
		buf_printf(b, "%zu,", plen);
	if (!m95)
		buf_putc(b, '"');
	buf_append(b, payload, plen);
	if (!m95)
		buf_putc(b, '"');
}

static int free_slot(const struct mqtt_client *c)
{
	for (int i = 0; i < MQTT_RECV_SLOTS; i++)
		if (!c->slots[i].used)
			return i;
	return -1;
}

static void deliver(struct mqtt_client *c, uint16_t id, const struct mqtt_publish *pub)
{
	struct buf b;

	c->pub_in++;
	if (c->cfg.recv_mode == 1 && c->m->model->id != MODEL_M95) {
		int s = free_slot(c);
		struct mqtt_recv_slot *slot = &c->slots[s];

		slot->used = true;
		slot->msgid = id;
		buf_reset(&slot->topic);
		buf_reset(&slot->payload);
		buf_append(&slot->topic, pub->topic.ptr, pub->topic.len);
		buf_append(&slot->payload, pub->payload.ptr, pub->payload.len);
		client_urc(c, 0, "+QMTRECV: %d,%d", c->idx, s);
		return;
	}
	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	format_recv(c, &b, id, (const uint8_t *)pub->topic.ptr, pub->topic.len, pub->payload.ptr,
	            pub->payload.len);
	buf_append(&b, "\r\n", 2);
	client_urc_bytes(c, 0, b.data, b.len);
	buf_free(&b);
}

static void handle_packet(struct mqtt_client *c, const struct mqtt_packet *pk)
{
	struct mqtt_pending *p;
	char extra[64];
	unsigned rc_in;
	bool forced = false;

	switch (pk->type) {
	case MQTT_CONNACK:
		snprintf(extra, sizeof(extra), "rc %u", pk->connack.return_code);
		trace_pkt(c, false, pk->type, 0, extra);
		if (c->state != MQTT_S_CONNECTING)
			return;
		cancel(&c->conn_timer);
		rc_in = pk->connack.return_code;
		if (fault_applies(c, &c->m->mqtt.fault.connack)) {
			c->m->mqtt.fault.connack.armed = false;
			rc_in = (unsigned)c->m->mqtt.fault.connack.value;
			forced = true;
			trace_event(c->m->index, "fault",
			            "client %d: CONNACK return code %u made %u (mqtt.connack)",
			            c->idx, pk->connack.return_code, rc_in);
		}
		if (rc_in == 0) {
			set_state(c, MQTT_S_CONNECTED);
			ping_arm(c);
		} else {
			set_state(c, MQTT_S_OPEN);
		}
		client_urc(c, LAT_CONN_MS, "+QMTCONN: %d,0,%u", c->idx, rc_in);
		/* 3.1.1 3.2.2-5: a server that refuses closes the connection; the broker
		 * accepted, so the refusal's close is made here, as a real FIN. */
		if (forced && rc_in != 0 && c->conn)
			net_conn_fault_close(c->conn);
		return;
	case MQTT_PUBLISH:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		if (pk->publish.qos == 2) {
			if (!qos2_seen(c, pk->packet_id)) {
				if (c->nqos2_in < (int)(sizeof(c->qos2_in) / sizeof(c->qos2_in[0])))
					c->qos2_in[c->nqos2_in++] = pk->packet_id;
				deliver(c, pk->packet_id, &pk->publish);
			}
			send_ack(c, MQTT_PUBREC, pk->packet_id);
			return;
		}
		deliver(c, pk->packet_id, &pk->publish);
		if (pk->publish.qos == 1)
			send_ack(c, MQTT_PUBACK, pk->packet_id);
		return;
	case MQTT_PUBREL:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		qos2_forget(c, pk->packet_id);
		send_ack(c, MQTT_PUBCOMP, pk->packet_id);
		return;
	case MQTT_PUBACK:
	case MQTT_PUBCOMP:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		if (fault_applies(c, &c->m->mqtt.fault.noack)) {
			/* lost on the way: the retransmission logic takes it from here */
			if (--c->m->mqtt.fault.noack.value <= 0)
				c->m->mqtt.fault.noack.armed = false;
			trace_event(c->m->index, "fault",
			            "client %d: %s id %u dropped (mqtt.noack)", c->idx,
			            mqtt_codec_type_name(pk->type), (unsigned)pk->packet_id);
			return;
		}
		p = pending_find(c, pk->type == MQTT_PUBACK ? MQTT_PUBLISH : MQTT_PUBREL,
		                 pk->packet_id);
		if (!p || (pk->type == MQTT_PUBACK && p->qos != 1))
			return;
		/* the broker acknowledged: only now is the publish reported done */
		client_urc(c, LAT_PUB_MS, "%s: %d,%u,0", result_name(p), c->idx,
		           (unsigned)p->msgid);
		pending_clear(p);
		if (c->inflight > 0)
			c->inflight--;
		return;
	case MQTT_PUBREC: {
		struct buf b;
		bool ex;

		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_PUBLISH, pk->packet_id);
		if (!p || p->qos != 2) {
			send_ack(c, MQTT_PUBREL, pk->packet_id);
			return;
		}
		ex = p->ex;
		pending_clear(p);
		buf_init(&b, 0);
		mqtt_codec_encode_ack(&b, MQTT_PUBREL, pk->packet_id);
		send_bytes(c, &b);
		trace_pkt(c, true, MQTT_PUBREL, pk->packet_id, NULL);
		pending_add(c, MQTT_PUBREL, pk->packet_id, 2, ex, &b);
		buf_free(&b);
		return;
	}
	case MQTT_SUBACK: {
		struct buf b;

		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_SUBSCRIBE, pk->packet_id);
		if (!p)
			return;
		if (fault_applies(c, &c->m->mqtt.fault.suback) &&
		    c->m->mqtt.fault.suback.value == 0x80) {
			/* A refusal cannot be asked of the broker: its answer is replaced (the
			 * broker still holds the subscription it granted). */
			c->m->mqtt.fault.suback.armed = false;
			forced = true;
			trace_event(c->m->index, "fault",
			            "client %d: SUBACK id %u made a refusal (mqtt.suback)", c->idx,
			            (unsigned)pk->packet_id);
		}
		buf_init(&b, 0);
		buf_printf(&b, "+QMTSUB: %d,%u,0", c->idx, (unsigned)pk->packet_id);
		for (size_t i = 0; i < pk->suback.count; i++)
			buf_printf(&b, ",%u", forced ? 0x80u : pk->suback.granted[i]);
		client_urc(c, LAT_SUB_MS, "%s", (char *)b.data);
		buf_free(&b);
		pending_clear(p);
		return;
	}
	case MQTT_UNSUBACK:
		trace_pkt(c, false, pk->type, pk->packet_id, NULL);
		p = pending_find(c, MQTT_UNSUBSCRIBE, pk->packet_id);
		if (!p)
			return;
		client_urc(c, LAT_SUB_MS, "+QMTUNS: %d,%u,0", c->idx, (unsigned)pk->packet_id);
		pending_clear(p);
		return;
	case MQTT_PINGRESP:
		trace_pkt(c, false, pk->type, 0, NULL);
		cancel(&c->pingresp_timer);
		return;
	case MQTT_CONNECT:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
	case MQTT_PINGREQ:
	case MQTT_DISCONNECT:
		trace_pkt(c, false, pk->type, pk->packet_id, "(not for a client: ignored)");
		return;
	}
}

/* Parse what the broker sent. With recv/mode 1 and every slot taken, stop: the socket is not
 * read until AT+QMTRECV frees a slot, so nothing is dropped. */
static void process_rx(struct mqtt_client *c)
{
	size_t off = 0;

	while (c->conn && off < c->rx.len) {
		struct mqtt_header h;
		struct mqtt_packet pk;
		const char *reason = NULL;
		int rc = mqtt_codec_header_parse(c->rx.data + off, c->rx.len - off, &h, &reason);
		size_t total;

		if (rc == 0)
			break;
		if (rc < 0 || h.remaining > RX_PACKET_MAX) {
			trace_event(c->m->index, "mqtt", "client %d: bad packet from broker: %s",
			            c->idx, reason ? reason : "packet too large");
			link_lost(c, 1, "protocol error from broker", true);
			return;
		}
		total = h.header_len + h.remaining;
		if (c->rx.len - off < total)
			break;
		if ((h.byte1 >> 4) == MQTT_PUBLISH && c->cfg.recv_mode == 1 &&
		    c->m->model->id != MODEL_M95 && free_slot(c) < 0) {
			if (!c->paused) {
				c->paused = true;
				net_conn_pause(c->conn, true);
				trace_event(c->m->index, "mqtt",
				            "client %d: receive buffers full, reading paused",
				            c->idx);
			}
			break;
		}
		rc = mqtt_codec_decode(c->rx.data + off, total, (uint8_t)c->cfg.version, &pk,
		                       &reason);
		off += total;
		if (rc != 0) {
			trace_event(c->m->index, "mqtt", "client %d: malformed packet: %s", c->idx,
			            reason ? reason : "?");
			link_lost(c, 1, "protocol error from broker", true);
			return;
		}
		handle_packet(c, &pk);
	}
	if (off)
		buf_consume(&c->rx, off);
}

/* ---- connection callbacks ---- */

static void on_data(void *arg, const uint8_t *p, size_t n)
{
	struct mqtt_client *c = arg;

	if (buf_append(&c->rx, p, n) != 0) {
		link_lost(c, 1, "receive buffer overflow", true);
		return;
	}
	process_rx(c);
}

static void on_closed(void *arg, int reason, const char *cause)
{
	struct mqtt_client *c = arg;

	trace_event(c->m->index, "mqtt", "client %d: connection ended: %s%s%s", c->idx,
	            net_status_str(reason), cause ? ": " : "", cause ? cause : "");
	if (c->state == MQTT_S_DISCONNECTING) {
		/* M95 MQTT AN 4.1.1 code 5: the server closed after our DISCONNECT (normal) */
		teardown(c, false);
		client_urc(c, 0, "+QMTSTAT: %d,5", c->idx);
		return;
	}
	link_lost(c, 1, cause ? cause : net_status_str(reason), false);
}

static void on_opened(void *arg, int status, const char *cause)
{
	struct mqtt_client *c = arg;
	int result;

	if (status == 0) {
		trace_event(c->m->index, "mqtt", "client %d: network open to %s:%d (%s)", c->idx,
		            c->host, c->port, net_conn_peer(c->conn));
		set_state(c, MQTT_S_OPEN);
		client_urc(c, LAT_OPEN_MS, "+QMTOPEN: %d,0", c->idx);
		return;
	}
	result = status == -NET_ERR_DNS ? 4 : -1;
	trace_event(c->m->index, "mqtt", "client %d: open %s:%d failed: %s%s%s -> +QMTOPEN %d",
	            c->idx, c->host, c->port, net_status_str(status), cause ? ": " : "",
	            cause ? cause : "", result);
	teardown(c, true);
	client_urc(c, LAT_OPEN_MS, "+QMTOPEN: %d,%d", c->idx, result);
}

static const struct net_conn_ops conn_ops = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
};

/* ---- operations ---- */

void mqtt_cfg_defaults(struct modem *m, struct mqtt_cfg *cfg)
{
	buf_free(&cfg->will_msg);
	memset(cfg, 0, sizeof(*cfg));
	/* MQTT 3.1.1 by default: the EC2x log of the field report (seed 000) reaches AWS IoT,
	 * which speaks only 3.1.1, without setting "version"; the M95 note's SSL example does
	 * the same. */
	cfg->version = MQTT_PROTO_V311;
	cfg->pdpcid = 1;
	cfg->keepalive = 120;
	cfg->clean = 1;
	cfg->pkt_timeout = 5;
	cfg->retry_times = 3;
	buf_init(&cfg->will_msg, 0);
	(void)m;
}

void mqtt_init(struct modem *m)
{
	for (int i = 0; i < MQTT_CLIENTS; i++) {
		struct mqtt_client *c = &m->mqtt.c[i];

		buf_free(&c->rx);
		slots_clear(c);
		buf_free(&c->cfg.will_msg);
		memset(c, 0, sizeof(*c));
		c->idx = i;
		c->m = m;
		buf_init(&c->rx, 0);
		for (int s = 0; s < MQTT_RECV_SLOTS; s++) {
			buf_init(&c->slots[s].topic, 0);
			buf_init(&c->slots[s].payload, 0);
		}
		mqtt_cfg_defaults(m, &c->cfg);
	}
}

void mqtt_drop_all(struct modem *m, int qmtstat_code)
{
	for (int i = 0; i < MQTT_CLIENTS; i++) {
		struct mqtt_client *c = &m->mqtt.c[i];

		if (c->state == MQTT_S_IDLE)
			continue;
		if (qmtstat_code > 0)
			link_lost(c, qmtstat_code, "network lost", true);
		else
			teardown(c, true);
	}
}

void mqtt_pdp_down(struct modem *m, int cid, bool by_network)
{
	for (int i = 0; i < MQTT_CLIENTS; i++) {
		struct mqtt_client *c = &m->mqtt.c[i];

		if (c->state == MQTT_S_IDLE)
			continue;
		if (m->model->id != MODEL_M95 && c->cfg.pdpcid != cid)
			continue;
		link_lost(c, 1,
		          by_network ? "PDP context deactivated by the network"
		                     : "PDP context deactivated by AT+QIDEACT",
		          true);
	}
}

void mqtt_free(struct modem *m)
{
	for (int i = 0; i < MQTT_CLIENTS; i++) {
		struct mqtt_client *c = &m->mqtt.c[i];

		teardown(c, true);
		buf_free(&c->rx);
		slots_clear(c);
		buf_free(&c->cfg.will_msg);
	}
}

int mqtt_conn_state(const struct mqtt_client *c)
{
	switch (c->state) {
	case MQTT_S_IDLE:
	case MQTT_S_OPENING:
		return 0;
	case MQTT_S_OPEN:
		return 1;
	case MQTT_S_CONNECTING:
		return 2;
	case MQTT_S_CONNECTED:
		return 3;
	case MQTT_S_DISCONNECTING:
		return 4;
	}
	return 0;
}

int mqtt_open(struct mqtt_client *c, const char *host, int port)
{
	struct modem *m = c->m;
	struct ssl_params sp;
	char cause[200];
	int rc, timeout_s;

	c->cmd_at = modem_now(m);
	c->urc_due = 0;
	if (c->state != MQTT_S_IDLE) {
		at_why(m, "client %d already has a network (state %s)", c->idx,
		       state_names[c->state]);
		client_urc(c, LAT_CLOSE_MS, "+QMTOPEN: %d,2", c->idx);
		return AT_OK;
	}
	if (!host[0] || port < 1 || port > 65535) {
		at_why(m, "empty host name or bad port");
		client_urc(c, LAT_CLOSE_MS, "+QMTOPEN: %d,1", c->idx);
		return AT_OK;
	}
	if (!pdp_active(m, c->cfg.pdpcid)) {
		at_why(m, "PDP context %d is not active", c->cfg.pdpcid);
		client_urc(c, LAT_OPEN_MS, "+QMTOPEN: %d,3", c->idx);
		return AT_OK;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	if (c->cfg.ssl_enable) {
		if (ssl_params_build(m, c->cfg.ssl_ctx, host, &sp, cause, sizeof(cause)) != 0) {
			at_why(m, "SSL context %d: %s", c->cfg.ssl_ctx, cause);
			trace_event(m->index, "tls", "client %d: %s -> +QMTOPEN %d,-1", c->idx,
			            cause, c->idx);
			client_urc(c, LAT_OPEN_MS, "+QMTOPEN: %d,-1", c->idx);
			return AT_OK;
		}
	}
	set_state(c, MQTT_S_OPENING);
	/* One deadline covers lookup, connect and handshake: QMTOPEN's 75 s maximum (M95 MQTT
	 * AN 3.2.2), or the SSL context's shorter "negotiatetime" when TLS is on. */
	timeout_s = OPEN_TIMEOUT_S;
	if (c->cfg.ssl_enable && sp.negotiate_s > 0 && sp.negotiate_s < timeout_s)
		timeout_s = sp.negotiate_s;
	rc = net_conn_open(&m->nh, host, port, c->cfg.ssl_enable ? &sp.cfg : NULL,
	                   proto_ms(c, (uint64_t)timeout_s * 1000), &conn_ops, c, &c->conn);
	if (rc != 0) {
		c->conn = NULL;
		set_state(c, MQTT_S_IDLE);
		at_why(m, "cannot start the connection: %s", err_str(rc));
		client_urc(c, LAT_OPEN_MS, "+QMTOPEN: %d,-1", c->idx);
	}
	return AT_OK;
}

int mqtt_close(struct mqtt_client *c)
{
	c->cmd_at = modem_now(c->m);
	if (c->state == MQTT_S_OPENING) {
		teardown(c, true);
		client_urc(c, 0, "+QMTOPEN: %d,-1", c->idx);
	} else if (c->state != MQTT_S_IDLE) {
		teardown(c, false);
	}
	/* Closing a client that has no network is a success: there is nothing left open. */
	client_urc(c, LAT_CLOSE_MS, "+QMTCLOSE: %d,0", c->idx);
	return AT_OK;
}

static void connack_timeout(struct modem *m, void *arg)
{
	struct mqtt_client *c = arg;

	(void)m;
	c->conn_timer = NULL;
	if (c->state == MQTT_S_CONNECTING)
		link_lost(c, 4, "CONNACK not received", true);
}

int mqtt_connect(struct mqtt_client *c, const char *client_id, const char *user, const char *pass)
{
	struct mqtt_connect cn;
	struct buf b;
	int rc;

	if (c->state != MQTT_S_OPEN) {
		at_why(c->m, "client %d is %s: AT+QMTOPEN first", c->idx, state_names[c->state]);
		return AT_ERROR;
	}
	c->cmd_at = modem_now(c->m);
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
	if (rc != 0) {
		at_why(c->m, "CONNECT not sent: %s", err_str(rc));
		return AT_ERROR;
	}
	trace_event(c->m->index, "mqtt", "client %d ==> CONNECT client id \"%s\" level %d%s%s",
	            c->idx, client_id, c->cfg.version, user ? " user " : "", user ? user : "");
	set_state(c, MQTT_S_CONNECTING);
	c->conn_timer = modem_after(c->m, proto_ms(c, (uint64_t)c->cfg.pkt_timeout * 1000),
	                            connack_timeout, c);
	return AT_OK;
}

static void disc_linger(struct modem *m, void *arg)
{
	struct mqtt_client *c = arg;

	(void)m;
	c->close_timer = NULL;
	if (c->state != MQTT_S_DISCONNECTING)
		return;
	trace_event(c->m->index, "mqtt", "client %d: server did not close after DISCONNECT",
	            c->idx);
	teardown(c, false);
	client_urc(c, 0, "+QMTSTAT: %d,5", c->idx);
}

int mqtt_disconnect(struct mqtt_client *c)
{
	struct buf b;

	if (c->state != MQTT_S_CONNECTED && c->state != MQTT_S_CONNECTING) {
		at_why(c->m, "client %d is not connected", c->idx);
		return AT_ERROR;
	}
	c->cmd_at = modem_now(c->m);
	buf_init(&b, 0);
	mqtt_codec_encode_empty(&b, MQTT_DISCONNECT);
	send_bytes(c, &b);
	buf_free(&b);
	trace_pkt(c, true, MQTT_DISCONNECT, 0, NULL);
	cancel(&c->ping_timer);
	cancel(&c->pingresp_timer);
	cancel(&c->conn_timer);
	set_state(c, MQTT_S_DISCONNECTING);
	client_urc(c, LAT_CLOSE_MS, "+QMTDISC: %d,0", c->idx);
	c->close_timer = modem_after(c->m, proto_ms(c, DISC_LINGER_MS), disc_linger, c);
	return AT_OK;
}

static int need_connected(struct mqtt_client *c)
{
	if (c->state == MQTT_S_CONNECTED)
		return 0;
	at_why(c->m, "client %d is %s, not connected", c->idx, state_names[c->state]);
	return AT_ERROR;
}

/* Send an encoded SUBSCRIBE or UNSUBSCRIBE (rc: the encoder's status) and wait for its
 * acknowledgement like any pending packet. Frees b. */
static int send_tracked(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t msgid,
                        struct buf *b, int rc, const char *first_topic)
{
	if (rc == 0 && !pending_add(c, type, msgid, 1, false, b))
		rc = -ERR_BUSY;
	if (rc == 0)
		rc = send_bytes(c, b);
	buf_free(b);
	if (rc) {
		at_why(c->m, "%s not sent: %s", mqtt_codec_type_name(type), err_str(rc));
		return AT_ERROR;
	}
	c->cmd_at = modem_now(c->m);
	trace_pkt(c, true, type, msgid, first_topic);
	return AT_OK;
}

int mqtt_subscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics, const int *qos,
                   int n)
{
	struct mqtt_subscription subs[16];
	struct buf b;
	int rc;

	if (need_connected(c))
		return AT_ERROR;
	if (msgid_busy(c, msgid)) {
		at_why(c->m, "msgid %u is still in flight", (unsigned)msgid);
		return AT_ERROR;
	}
	for (int i = 0; i < n; i++) {
		subs[i].filter.ptr = topics[i];
		subs[i].filter.len = strlen(topics[i]);
		subs[i].qos = (uint8_t)qos[i];
	}
	if (fault_applies(c, &c->m->mqtt.fault.suback) && c->m->mqtt.fault.suback.value <= 2) {
		/* Grants 0-2 are real: the SUBSCRIBE asks for that QoS, and the broker's SUBACK
		 * grants it (3.1.1 3.9.3: the maximum QoS granted). */
		c->m->mqtt.fault.suback.armed = false;
		for (int i = 0; i < n; i++)
			subs[i].qos = (uint8_t)c->m->mqtt.fault.suback.value;
		trace_event(c->m->index, "fault",
		            "client %d: SUBSCRIBE id %u asks for QoS %d (mqtt.suback)", c->idx,
		            (unsigned)msgid, c->m->mqtt.fault.suback.value);
	}
	buf_init(&b, 0);
	rc = mqtt_codec_encode_subscribe(&b, msgid, subs, (size_t)n);
	return send_tracked(c, MQTT_SUBSCRIBE, msgid, &b, rc, topics[0]);
}

int mqtt_unsubscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics, int n)
{
	struct mqtt_str f[16];
	struct buf b;
	int rc;

	if (need_connected(c))
		return AT_ERROR;
	if (msgid_busy(c, msgid)) {
		at_why(c->m, "msgid %u is still in flight", (unsigned)msgid);
		return AT_ERROR;
	}
	for (int i = 0; i < n; i++) {
		f[i].ptr = topics[i];
		f[i].len = strlen(topics[i]);
	}
	buf_init(&b, 0);
	rc = mqtt_codec_encode_unsubscribe(&b, msgid, f, (size_t)n);
	return send_tracked(c, MQTT_UNSUBSCRIBE, msgid, &b, rc, topics[0]);
}

int mqtt_publish_check(struct mqtt_client *c, uint16_t msgid, int qos)
{
	if (need_connected(c))
		return AT_ERROR;
	if ((qos == 0) != (msgid == 0)) {
		at_why(c->m, "msgid must be 0 with QoS 0 and 1-65535 with QoS 1 or 2");
		return AT_ERROR;
	}
	if (qos > 0 && msgid_busy(c, msgid)) {
		at_why(c->m, "msgid %u is still in flight", (unsigned)msgid);
		return AT_ERROR;
	}
	if (qos > 0 && c->inflight >= MQTT_INFLIGHT_MAX && c->m->model->id == MODEL_M95) {
		at_why(c->m, "%d messages already in flight (window %d)", c->inflight,
		       MQTT_INFLIGHT_MAX);
		return 8512; /* M95 MQTT AN 3.2.8 note 1 */
	}
	return 0;
}

int mqtt_publish(struct mqtt_client *c, uint16_t msgid, int qos, int retain, const char *topic,
                 const uint8_t *payload, size_t len, bool ex)
{
	struct mqtt_publish pub;
	struct buf b;
	int rc = mqtt_publish_check(c, msgid, qos);

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
	if (rc == 0 && qos > 0 && !pending_add(c, MQTT_PUBLISH, msgid, qos, ex, &b))
		rc = -ERR_BUSY;
	if (rc == 0)
		rc = send_bytes(c, &b);
	buf_free(&b);
	if (rc) {
		at_why(c->m, "PUBLISH not sent: %s", err_str(rc));
		return AT_ERROR;
	}
	c->cmd_at = modem_now(c->m);
	c->pub_out++;
	scn_notify(c->m, SCN_NOTE_PUBLISH, c->idx);
	if (fault_applies(c, &c->m->mqtt.fault.close_after) &&
	    --c->m->mqtt.fault.close_after.value <= 0) {
		/* the broker closes once this PUBLISH is on its way (a real FIN, from the loop) */
		c->m->mqtt.fault.close_after.armed = false;
		trace_event(c->m->index, "fault",
		            "client %d: the broker closes after this PUBLISH (mqtt.close-after)",
		            c->idx);
		net_conn_fault_close(c->conn);
	}
	{
		char extra[300];

		snprintf(extra, sizeof(extra), "qos %d topic %s (%zu bytes)", qos, topic, len);
		trace_pkt(c, true, MQTT_PUBLISH, msgid, extra);
	}
	if (qos == 0)
		client_urc(c, 0, "%s: %d,0,0", ex ? "+QMTPUBEX" : "+QMTPUB", c->idx);
	else
		c->inflight++;
	return AT_OK;
}

int mqtt_recv_read(struct mqtt_client *c, int recv_id)
{
	struct modem *m = c->m;
	struct buf b;

	buf_init(&b, 0);
	for (int i = 0; i < MQTT_RECV_SLOTS; i++) {
		struct mqtt_recv_slot *s = &c->slots[i];

		if (!s->used || (recv_id >= 0 && i != recv_id))
			continue;
		buf_reset(&b);
		format_recv(c, &b, s->msgid, s->topic.data, s->topic.len, s->payload.data,
		            s->payload.len);
		at_info_bytes(m, b.data, b.len);
		s->used = false;
	}
	buf_free(&b);
	if (c->paused && c->conn && free_slot(c) >= 0) {
		c->paused = false;
		net_conn_pause(c->conn, false);
		process_rx(c);
	}
	return AT_OK;
}
