/* AT+QMT*: the MQTT commands. Syntax and results per reference §6 (EC25, EC2x MQTT AN V1.1
 * via drivers and captures) and the M95 MQTT AN (seed 001). The protocol is mqtt/client.c,
 * which knows nothing of this dialect: every URC below is worded here, from its events. */
#include "at/cmd_mqtt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "modem/pdp.h"
#include "modem/ssl.h"
#include "net/conn.h"
#include "tls/tls.h"

/* Realistic latency of result URCs after the command's OK (reference §6e timing: QMTOPEN
 * 0.2-1.5 s, QMTCONN 0.3-0.8 s, QMTSUB ~0.2 s, QoS 0 QMTPUB at once). The real network time
 * counts towards it: a slower broker is never hidden. */
#define LAT_OPEN_MS 600
#define LAT_CONN_MS 400
#define LAT_SUB_MS 200
#define LAT_PUB_MS 100
#define LAT_CLOSE_MS 100

#define OPEN_TIMEOUT_S 75 /* AT+QMTOPEN maximum response time (M95 MQTT AN 3.2.2) */
/* An incoming message is taken (and acknowledged to the broker) only while less than this
 * waits for the host; the module's buffering, a choice (as sock/sock.h SOCK_HOST_HIGH). */
#define QMT_HOST_HIGH (32 * 1024)

/* +QMTSTAT <err_code> (EC2x MQTT AN 3.3.14; M95 MQTT AN 4.1.1). */
#define QMTSTAT_CLOSED 1 /* closed or reset by the peer, or the network */
#define QMTSTAT_PING 2 /* PINGREQ unanswered */
#define QMTSTAT_CONNACK 4 /* CONNACK not received */
#define QMTSTAT_DISCONNECTED 5 /* the normal end after AT+QMTDISC */
#define QMTSTAT_RETRIES 6 /* a packet unacknowledged after every retransmission */

#define QMT_KEY_VERSION 0x1
#define QMT_KEY_PDPCID 0x2
#define QMT_KEY_RECV_MODE 0x4
#define QMT_KEY_ALIAUTH 0x8

/* What differs between the Quectel models' AT+QMT* (the family's data). */
struct qmt_dialect {
	/* AT+QMTCFG read replies: EC25 `+QMTCFG: "keepalive",120` (reference §6a); the M95 AN
	 * shows the values alone, `+QMTCFG: 120`. */
	bool cfg_values_only;
	/* M95 MQTT AN 3.2.1 note 3: "ssl" needs its <ctxindex> when enabling. */
	bool ssl_needs_ctx;
	/* The keys beyond will/timeout/session/keepalive/ssl (QMT_KEY_*): version, pdpcid,
	 * recv/mode, aliauth (EC25 §6a); the M95 AN has none of them. */
	unsigned keys;
	/* +QMTRECV: payload in quotes, with the length where recv/mode asks for it (EC25); the
	 * M95 note shows the payload bare. */
	bool recv_quoted;
	/* The answer when the in-flight window is full (profile mqtt.inflight_max). */
	int window_full;
	const char *cfg_test; /* AT+QMTCFG=? lines, "\n"-separated */
};

static struct qmt_state *qmt_alloc(struct modem *m);

/* The family's state, allocated on first use (an idle modem has none). */
static struct qmt_state *st(const struct modem *cm)
{
	struct modem *m = (struct modem *)cm; /* allocated on first use: logically const */

	return m->qmt ? m->qmt : qmt_alloc(m);
}

static struct qmt_client *qc_of(struct at_call *c)
{
	return &st(c->m)->q[at_num(c, 0)];
}

static struct modem *modem_of(const struct mqtt_client *cl)
{
	return (struct modem *)cl->env->owner;
}

static struct qmt_client *qc(const struct mqtt_client *cl)
{
	return cl->user;
}

/* A number given bare or quoted (the M95 note's SSL example sends the port as "8883"). */
static int num_or_str(const struct at_param *p, long long *v)
{
	if (p->type == AT_P_NUM) {
		*v = p->num;
		return 0;
	}
	if (p->type == AT_P_STR && at_parse_number(p->s, p->len, v, NULL) == 0)
		return 0;
	return -1;
}

/* ---- URCs, in order per client, never earlier than the realistic latency ---- */

struct urc_job {
	struct qmt_client *q;
	struct buf bytes;
};

static void urc_job_fire(struct modem *m, void *arg)
{
	struct urc_job *j = arg;

	if (j->q->urc_queued > 0)
		j->q->urc_queued--;
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

static void urc_bytes(struct modem *m, struct qmt_client *q, uint64_t latency_ms, const void *p,
                      size_t n)
{
	uint64_t now = modem_now(m),
	         due = q->cmd_at + (latency_ms ? modem_latency(m, latency_ms) : 0);
	struct urc_job *j;

	if (latency_ms == 0 || due < now)
		due = now;
	due += latency_ms ? modem_hook_urc_latency(m) : 0; /* scenario `latency urc` */
	if (due < q->urc_due)
		due = q->urc_due;
	q->urc_due = due;
	if (due <= now && !q->urc_queued) {
		modem_urc_bytes(m, p, n);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		modem_urc_bytes(m, p, n);
		return;
	}
	j->q = q;
	buf_init(&j->bytes, 0);
	buf_append(&j->bytes, p, n);
	q->urc_queued++;
	if (!modem_after_owned(m, due - now, urc_job_fire, j, urc_job_drop)) {
		q->urc_queued--;
		buf_free(&j->bytes);
		free(j);
		modem_urc_bytes(m, p, n);
	}
}

static void urc(struct modem *m, struct qmt_client *q, uint64_t latency_ms, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void urc(struct modem *m, struct qmt_client *q, uint64_t latency_ms, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	urc_bytes(m, q, latency_ms, b.data, b.len);
	buf_free(&b);
}

static int idx_of(const struct qmt_client *q)
{
	return q->cl->idx;
}

/* ---- the client's events, worded ---- */

static void ev_state(struct mqtt_client *cl, enum mqtt_state old, enum mqtt_state now)
{
	modem_hook_mqtt_state(modem_of(cl), cl->idx, (int)old, (int)now);
}

static void ev_opened(struct mqtt_client *cl, int status, const char *cause)
{
	struct modem *m = modem_of(cl);
	int result;

	if (status == 0) {
		urc(m, qc(cl), LAT_OPEN_MS, "+QMTOPEN: %d,0", cl->idx);
		return;
	}
	/* EC2x MQTT AN 3.3.2: 4 "failed to parse domain name"; -1 "failed to open network" */
	result = status == -NET_ERR_DNS ? 4 : -1;
	trace_event(m->index, "mqtt", "client %d: open %s:%d failed: %s%s%s -> +QMTOPEN %d",
	            cl->idx, cl->host, cl->port, net_status_str(status), cause ? ": " : "",
	            cause ? cause : "", result);
	urc(m, qc(cl), LAT_OPEN_MS, "+QMTOPEN: %d,%d", cl->idx, result);
}

static void ev_connack(struct mqtt_client *cl, unsigned rc)
{
	urc(modem_of(cl), qc(cl), LAT_CONN_MS, "+QMTCONN: %d,0,%u", cl->idx, rc);
}

static void ev_suback(struct mqtt_client *cl, uint16_t id, const uint8_t *granted, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "+QMTSUB: %d,%u,0", cl->idx, (unsigned)id);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, ",%u", granted[i]);
	urc(modem_of(cl), qc(cl), LAT_SUB_MS, "%s", (char *)b.data);
	buf_free(&b);
}

static void ev_unsuback(struct mqtt_client *cl, uint16_t id)
{
	urc(modem_of(cl), qc(cl), LAT_SUB_MS, "+QMTUNS: %d,%u,0", cl->idx, (unsigned)id);
}

/* tag 1: the publish was AT+QMTPUBEX */
static const char *result_name(enum mqtt_packet_type type, int tag)
{
	switch (type) {
	case MQTT_SUBSCRIBE:
		return "+QMTSUB";
	case MQTT_UNSUBSCRIBE:
		return "+QMTUNS";
	case MQTT_CONNECT:
	case MQTT_CONNACK:
	case MQTT_PUBLISH:
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		break;
	}
	return tag ? "+QMTPUBEX" : "+QMTPUB";
}

static void ev_puback(struct mqtt_client *cl, uint16_t id, int tag)
{
	urc(modem_of(cl), qc(cl), LAT_PUB_MS, "%s: %d,%u,0", result_name(MQTT_PUBLISH, tag),
	    cl->idx, (unsigned)id);
}

/* EC2x MQTT AN 3.3.6: <result> 1 "packet retransmission" (with timeout_notice), 2 "failed" */
static void ev_retransmitted(struct mqtt_client *cl, enum mqtt_packet_type type, uint16_t id,
                             int tag, int retries)
{
	if (qc(cl)->timeout_notice)
		urc(modem_of(cl), qc(cl), 0, "%s: %d,%u,1,%d", result_name(type, tag), cl->idx,
		    (unsigned)id, retries);
}

static void ev_gave_up(struct mqtt_client *cl, enum mqtt_packet_type type, uint16_t id, int tag)
{
	urc(modem_of(cl), qc(cl), 0, "%s: %d,%u,2", result_name(type, tag), cl->idx, (unsigned)id);
}

/* +QMTRECV with the payload (recv/mode 0; reference §6d, M95 MQTT AN 4.1.2). Payloads are not
 * escaped: quotes, commas, CR and LF pass as they are (host-drivers.md item 17). */
static void format_recv(const struct qmt_state *s, const struct qmt_client *q, struct buf *b,
                        uint16_t id, const uint8_t *topic, size_t tlen, const uint8_t *payload,
                        size_t plen)
{
	bool quoted = s->d->recv_quoted;

	buf_printf(b, "+QMTRECV: %d,%u,\"", idx_of(q), (unsigned)id);
	buf_append(b, topic, tlen);
	buf_append(b, "\",", 2);
	if (quoted && q->recv_len)
		buf_printf(b, "%zu,", plen);
	if (quoted)
		buf_putc(b, '"');
	buf_append(b, payload, plen);
	if (quoted)
		buf_putc(b, '"');
}

static int free_slot(const struct qmt_client *q)
{
	for (int i = 0; i < QMT_RECV_SLOTS; i++)
		if (!q->slots[i].used)
			return i;
	return -1;
}

static bool ev_message(struct mqtt_client *cl, uint16_t id, const struct mqtt_publish *pub)
{
	struct modem *m = modem_of(cl);
	struct qmt_client *q = qc(cl);
	struct buf b;

	/* The host is behind: the message waits in the broker's connection, unacknowledged,
	 * until what waits for the host drains (qmt_host_drained). */
	if (modem_host_pending(m) >= QMT_HOST_HIGH)
		return false;

	if (q->recv_mode == 1) {
		/* recv/mode 1: a slot per message; with every slot taken the message waits
		 * in the broker's connection until AT+QMTRECV frees one */
		int s = free_slot(q);
		struct qmt_slot *slot;

		if (s < 0)
			return false;
		slot = &q->slots[s];
		slot->used = true;
		slot->msgid = id;
		buf_reset(&slot->topic);
		buf_reset(&slot->payload);
		buf_append(&slot->topic, pub->topic.ptr, pub->topic.len);
		buf_append(&slot->payload, pub->payload.ptr, pub->payload.len);
		urc(m, q, 0, "+QMTRECV: %d,%d", cl->idx, s);
		return true;
	}
	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	format_recv(st(m), q, &b, id, (const uint8_t *)pub->topic.ptr, pub->topic.len,
	            pub->payload.ptr, pub->payload.len);
	buf_append(&b, "\r\n", 2);
	urc_bytes(m, q, 0, b.data, b.len);
	buf_free(&b);
	return true;
}

static void ev_ping_failed(struct mqtt_client *cl)
{
	urc(modem_of(cl), qc(cl), 0, "+QMTPING: %d,1", cl->idx);
}

static void ev_lost(struct mqtt_client *cl, enum mqtt_loss why, const char *cause)
{
	struct modem *m = modem_of(cl);
	int code = QMTSTAT_CLOSED;

	switch (why) {
	case MQTT_LOSS_PEER:
	case MQTT_LOSS_PROTOCOL:
	case MQTT_LOSS_DROPPED:
		code = QMTSTAT_CLOSED;
		break;
	case MQTT_LOSS_PING:
		code = QMTSTAT_PING;
		break;
	case MQTT_LOSS_CONNACK:
		code = QMTSTAT_CONNACK;
		break;
	case MQTT_LOSS_RETRIES:
		code = QMTSTAT_RETRIES;
		break;
	case MQTT_LOSS_DISCONNECTED:
		urc(m, qc(cl), 0, "+QMTSTAT: %d,%d", cl->idx, QMTSTAT_DISCONNECTED);
		return;
	}
	trace_event(m->index, "mqtt", "client %d: link lost (%s): +QMTSTAT %d", cl->idx,
	            cause ? cause : "?", code);
	urc(m, qc(cl), 0, "+QMTSTAT: %d,%d", cl->idx, code);
}

static const struct mqtt_client_ops qmt_ops = {
        .state = ev_state,
        .opened = ev_opened,
        .connack = ev_connack,
        .suback = ev_suback,
        .unsuback = ev_unsuback,
        .puback = ev_puback,
        .retransmitted = ev_retransmitted,
        .gave_up = ev_gave_up,
        .message = ev_message,
        .ping_failed = ev_ping_failed,
        .lost = ev_lost,
};

/* ---- AT+QMTCFG ---- */

static int need_num(struct at_call *c, int i, long long lo, long long hi, int *out)
{
	const struct at_param *p = &c->args.p[i];

	if (p->type != AT_P_NUM || p->num < lo || p->num > hi) {
		at_why(c->m, "parameter %d must be %lld-%lld", i + 1, lo, hi);
		return -1;
	}
	*out = (int)p->num;
	return 0;
}

static void cfg_reply(struct modem *m, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void cfg_reply(struct modem *m, const char *key, const char *fmt, ...)
{
	char vals[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vals, sizeof(vals), fmt, ap);
	va_end(ap);
	if (st(m)->d->cfg_values_only)
		at_info(m, "+QMTCFG: %s", vals);
	else
		at_info(m, "+QMTCFG: \"%s\",%s", key, vals);
}

static int cfg_will(struct at_call *c, struct mqtt_cfg *cfg)
{
	struct modem *m = c->m;
	int fg, qos, retain;
	char topic[MQTT_TOPIC_MAX + 1];

	if (c->args.n == 2) {
		if (!cfg->will_fg) {
			cfg_reply(m, "will", "%d", cfg->will_fg);
		} else {
			struct buf b;

			buf_init(&b, 0);
			buf_printf(&b, "%d,%d,%d,\"%s\",\"", cfg->will_fg, cfg->will_qos,
			           cfg->will_retain, cfg->will_topic);
			buf_append(&b, cfg->will_msg.data, cfg->will_msg.len);
			buf_putc(&b, '"');
			cfg_reply(m, "will", "%s", (char *)b.data);
			buf_free(&b);
		}
		return AT_OK;
	}
	if (need_num(c, 2, 0, 1, &fg))
		return AT_ERROR;
	if (fg == 0) {
		if (c->args.n != 3)
			return AT_ERROR;
		cfg->will_fg = 0;
		return AT_OK;
	}
	/* M95 MQTT AN 3.2.1 note 1: with will_fg 1 every will field must be present */
	if (c->args.n != 7 || need_num(c, 3, 0, 2, &qos) || need_num(c, 4, 0, 1, &retain) ||
	    c->args.p[5].type != AT_P_STR || c->args.p[6].type != AT_P_STR ||
	    c->args.p[5].len > MQTT_TOPIC_MAX || c->args.p[6].len > 256 ||
	    at_str(c, 5, topic, sizeof(topic))) {
		at_why(m, "\"will\",<id>,1 needs qos 0-2, retain 0/1, \"topic\" (<=255 B) and "
		          "\"message\" (<=256 B)");
		return AT_ERROR;
	}
	cfg->will_fg = 1;
	cfg->will_qos = qos;
	cfg->will_retain = retain;
	memcpy(cfg->will_topic, topic, sizeof(topic));
	buf_reset(&cfg->will_msg);
	buf_append(&cfg->will_msg, c->args.p[6].s, c->args.p[6].len);
	return AT_OK;
}

static int cfg_timeout(struct at_call *c, struct mqtt_cfg *cfg, struct qmt_client *q)
{
	int pkt = cfg->pkt_timeout, retry = cfg->retry_times, notice = q->timeout_notice;

	if (c->args.n == 2) {
		cfg_reply(c->m, "timeout", "%d,%d,%d", pkt, retry, notice);
		return AT_OK;
	}
	if (c->args.n > 5 || need_num(c, 2, 1, 60, &pkt) ||
	    (at_given(c, 3) && need_num(c, 3, 0, 10, &retry)) ||
	    (at_given(c, 4) && need_num(c, 4, 0, 1, &notice)))
		return AT_ERROR;
	cfg->pkt_timeout = pkt;
	cfg->retry_times = retry;
	q->timeout_notice = notice;
	return AT_OK;
}

static int cfg_one(struct at_call *c, const char *key, int *field, int lo, int hi)
{
	int v;

	if (c->args.n == 2) {
		cfg_reply(c->m, key, "%d", *field);
		return AT_OK;
	}
	if (c->args.n != 3 || need_num(c, 2, lo, hi, &v))
		return AT_ERROR;
	*field = v;
	return AT_OK;
}

static int cfg_ssl(struct at_call *c, struct qmt_client *q)
{
	int en, ctx = q->ssl_ctx;

	if (c->args.n == 2) {
		/* BG770A capture: only <en> while disabled, "1,2" when enabled (reference §6a) */
		if (q->ssl_enable)
			cfg_reply(c->m, "ssl", "%d,%d", q->ssl_enable, q->ssl_ctx);
		else
			cfg_reply(c->m, "ssl", "%d", q->ssl_enable);
		return AT_OK;
	}
	if (c->args.n > 4 || need_num(c, 2, 0, 1, &en) ||
	    (at_given(c, 3) && need_num(c, 3, 0, SSL_CTX_COUNT - 1, &ctx)))
		return AT_ERROR;
	if (en && !at_given(c, 3) && st(c->m)->d->ssl_needs_ctx) {
		at_why(c->m, "M95 MQTT AN 3.2.1 note 3: <ctxindex> must be given with SSL on");
		return AT_ERROR;
	}
	q->ssl_enable = en;
	q->ssl_ctx = ctx;
	return AT_OK;
}

static int cfg_recv_mode(struct at_call *c, struct qmt_client *q)
{
	int mode = q->recv_mode, len = q->recv_len;

	if (c->args.n == 2) {
		cfg_reply(c->m, "recv/mode", "%d,%d", mode, len);
		return AT_OK;
	}
	if (c->args.n > 4 || need_num(c, 2, 0, 1, &mode) ||
	    (at_given(c, 3) && need_num(c, 3, 0, 1, &len)))
		return AT_ERROR;
	q->recv_mode = mode;
	q->recv_len = len;
	/* back to mode 0 with messages waiting: they can be shown now */
	if (mode == 0)
		mqtt_client_resume(q->cl);
	return AT_OK;
}

static int cfg_aliauth(struct at_call *c, struct qmt_client *q)
{
	if (c->args.n == 2) {
		if (q->ali_key[0])
			cfg_reply(c->m, "aliauth", "\"%s\",\"%s\",\"%s\"", q->ali_key, q->ali_name,
			          q->ali_secret);
		return AT_OK;
	}
	if (c->args.n != 5 || at_str(c, 2, q->ali_key, sizeof(q->ali_key)) ||
	    at_str(c, 3, q->ali_name, sizeof(q->ali_name)) ||
	    at_str(c, 4, q->ali_secret, sizeof(q->ali_secret)))
		return AT_ERROR;
	return AT_OK;
}

static int cmd_qmtcfg(struct at_call *c)
{
	struct modem *m = c->m;
	const struct qmt_dialect *d = st(m)->d;
	const struct at_param *key;
	struct qmt_client *q;
	struct mqtt_cfg *cfg;

	if (c->req == AT_REQ_TEST) {
		at_info_lines(m, d->cfg_test);
		return AT_OK;
	}
	key = &c->args.p[0];
	if (c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
	    c->args.p[1].num >= m->model->mqtt.clients) {
		at_why(m, "client_idx must be 0-%d", m->model->mqtt.clients - 1);
		return AT_ERROR;
	}
	q = &st(m)->q[c->args.p[1].num];
	cfg = &q->cl->cfg;
	if (at_param_is(key, "will"))
		return cfg_will(c, cfg);
	if (at_param_is(key, "timeout"))
		return cfg_timeout(c, cfg, q);
	if (at_param_is(key, "session"))
		return cfg_one(c, "session", &cfg->clean, 0, 1);
	if (at_param_is(key, "keepalive"))
		return cfg_one(c, "keepalive", &cfg->keepalive, 0, 3600);
	if (at_param_is(key, "ssl"))
		return cfg_ssl(c, q);
	if ((d->keys & QMT_KEY_VERSION) && at_param_is(key, "version"))
		return cfg_one(c, "version", &cfg->version, 3, 4);
	if ((d->keys & QMT_KEY_PDPCID) && at_param_is(key, "pdpcid"))
		return cfg_one(c, "pdpcid", &q->pdpcid, 1, 16);
	if ((d->keys & QMT_KEY_RECV_MODE) && at_param_is(key, "recv/mode"))
		return cfg_recv_mode(c, q);
	if ((d->keys & QMT_KEY_ALIAUTH) && at_param_is(key, "aliauth"))
		return cfg_aliauth(c, q);
	at_why(m, "unknown AT+QMTCFG key \"%.*s\" on the %s", (int)key->len, key->s,
	       m->model->model);
	return AT_ERROR;
}

/* ---- connection commands ---- */

static int cmd_qmtopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct qmt_client *q;
	struct mqtt_client *cl;
	struct ssl_params sp;
	char host[MQTT_HOST_MAX + 1], cause[200];
	long long port;
	int rc, timeout_s;

	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			const struct mqtt_client *x = st(m)->q[i].cl;

			if (x->state != MQTT_S_IDLE && x->state != MQTT_S_OPENING)
				at_info(m, "+QMTOPEN: %d,\"%s\",%d", i, x->host, x->port);
		}
		return AT_OK;
	}
	if (c->args.p[1].type != AT_P_STR || at_str(c, 1, host, sizeof(host)) ||
	    num_or_str(&c->args.p[2], &port) || port < 0 || port > 65535) {
		at_why(m, "AT+QMTOPEN=<client_idx>,\"<host_name>\"(<=100 B),<port>");
		return AT_ERROR;
	}
	q = qc_of(c);
	cl = q->cl;
	q->cmd_at = modem_now(m);
	q->urc_due = 0;
	/* EC2x MQTT AN 3.3.2 <result>: 1 wrong parameter, 2 identifier occupied, 3 failed to
	 * activate PDP; the OK comes first in every case */
	if (cl->state != MQTT_S_IDLE) {
		at_why(m, "client %d already has a network (state %s)", cl->idx,
		       mqtt_state_name(cl->state));
		urc(m, q, LAT_CLOSE_MS, "+QMTOPEN: %d,2", cl->idx);
		return AT_OK;
	}
	if (!host[0] || port < 1 || port > 65535) {
		at_why(m, "empty host name or bad port");
		urc(m, q, LAT_CLOSE_MS, "+QMTOPEN: %d,1", cl->idx);
		return AT_OK;
	}
	if (!pdp_active(m, q->pdpcid)) {
		at_why(m, "PDP context %d is not active", q->pdpcid);
		urc(m, q, LAT_OPEN_MS, "+QMTOPEN: %d,3", cl->idx);
		return AT_OK;
	}
	if (q->ssl_enable &&
	    ssl_params_build(m, q->ssl_ctx, host, &sp, cause, sizeof(cause)) != 0) {
		at_why(m, "SSL context %d: %s", q->ssl_ctx, cause);
		trace_event(m->index, "tls", "client %d: %s -> +QMTOPEN %d,-1", cl->idx, cause,
		            cl->idx);
		urc(m, q, LAT_OPEN_MS, "+QMTOPEN: %d,-1", cl->idx);
		return AT_OK;
	}
	/* One deadline covers lookup, connect and handshake: QMTOPEN's 75 s maximum (M95 MQTT
	 * AN 3.2.2), or the SSL context's shorter "negotiatetime" when TLS is on. */
	timeout_s = OPEN_TIMEOUT_S;
	if (q->ssl_enable && sp.negotiate_s > 0 && sp.negotiate_s < timeout_s)
		timeout_s = sp.negotiate_s;
	rc = mqtt_client_open(cl, host, (int)port, q->ssl_enable ? &sp.cfg : NULL,
	                      modem_proto_ms(m, (uint64_t)timeout_s * 1000));
	if (rc != 0) {
		at_why(m, "cannot start the connection: %s", err_str(rc));
		urc(m, q, LAT_OPEN_MS, "+QMTOPEN: %d,-1", cl->idx);
	}
	return AT_OK;
}

static int cmd_qmtclose(struct at_call *c)
{
	struct qmt_client *q = qc_of(c);
	struct mqtt_client *cl = q->cl;

	q->cmd_at = modem_now(c->m);
	if (cl->state == MQTT_S_OPENING) {
		mqtt_client_drop(cl, true);
		urc(c->m, q, 0, "+QMTOPEN: %d,-1", cl->idx);
	} else {
		mqtt_client_drop(cl, false);
	}
	/* Closing a client that has no network is a success: there is nothing left open. */
	urc(c->m, q, LAT_CLOSE_MS, "+QMTCLOSE: %d,0", cl->idx);
	return AT_OK;
}

/* QMTCONN? state number (1-4), 0 when the client has no network. */
static int conn_state(const struct mqtt_client *c)
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

/* The reason for the trace when the client refuses an operation. */
static int refused(struct modem *m, const struct mqtt_client *cl, int rc, const char *what)
{
	switch (rc) {
	case -ERR_STATE:
		at_why(m, "client %d is %s, not connected", cl->idx, mqtt_state_name(cl->state));
		break;
	default:
		at_why(m, "%s not sent: %s", what, err_str(rc));
		break;
	}
	return AT_ERROR;
}

/* AT+QMTCFG="aliauth" set: the module, not the host, makes the CONNECT's credentials, as the
 * EC2x MQTT AN's aliauth key and Alibaba Cloud IoT's MQTT-TCP sign-in specify: client ID
 * "<clientID>|securemode=3,signmethod=hmacsha1|", user name "<device_name>&<product_key>",
 * password the lower-case hex HMAC-SHA1, keyed with the device secret, of
 * "clientId<clientID>deviceName<device_name>productKey<product_key>" (the fields sorted by name,
 * no timestamp). A user name and password given in AT+QMTCONN are replaced (a choice: the AN
 * does not say). Returns 0, or -ERR_IO if the library refused. */
static int aliauth_credentials(const struct qmt_client *q, char *id, size_t id_len, char *user,
                               size_t user_len, char *pass, size_t pass_len)
{
	char msg[sizeof(q->ali_key) + sizeof(q->ali_name) + 512];
	uint8_t mac[TLS_SHA1_LEN];
	char cid[256];

	snprintf(cid, sizeof(cid), "%.255s", id); /* at most 255 bytes (AT+QMTCONN) */
	snprintf(msg, sizeof(msg), "clientId%sdeviceName%sproductKey%s", cid, q->ali_name,
	         q->ali_key);
	if (tls_hmac_sha1((const uint8_t *)q->ali_secret, strlen(q->ali_secret),
	                  (const uint8_t *)msg, strlen(msg), mac) != 0)
		return -ERR_IO;
	snprintf(id, id_len, "%s|securemode=3,signmethod=hmacsha1|", cid);
	snprintf(user, user_len, "%s&%s", q->ali_name, q->ali_key);
	for (size_t i = 0; i < sizeof(mac) && 2 * i + 2 < pass_len; i++)
		snprintf(pass + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

static int cmd_qmtconn(struct at_call *c)
{
	struct modem *m = c->m;
	struct qmt_client *q;
	char id[320], user[256], pass[256];
	bool has_user, has_pass;
	int rc;

	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			int s = conn_state(st(m)->q[i].cl);

			if (s)
				at_info(m, "+QMTCONN: %d,%d", i, s);
		}
		return AT_OK;
	}
	if (at_str(c, 1, id, sizeof(id)) || (at_given(c, 2) && at_str(c, 2, user, sizeof(user))) ||
	    (at_given(c, 3) && at_str(c, 3, pass, sizeof(pass)))) {
		at_why(m, "client ID, user name and password are strings of at most 255 bytes");
		return AT_ERROR;
	}
	q = qc_of(c);
	if (q->cl->state != MQTT_S_OPEN) {
		at_why(m, "client %d is %s: AT+QMTOPEN first", q->cl->idx,
		       mqtt_state_name(q->cl->state));
		return AT_ERROR;
	}
	has_user = at_given(c, 2);
	has_pass = at_given(c, 3);
	if (q->ali_key[0]) {
		if (aliauth_credentials(q, id, sizeof(id), user, sizeof(user), pass,
		                        sizeof(pass)) != 0) {
			at_why(m, "cannot sign the aliauth credentials");
			return AT_ERROR;
		}
		has_user = has_pass = true;
	}
	q->cmd_at = modem_now(m);
	rc = mqtt_client_connect(q->cl, id, has_user ? user : NULL, has_pass ? pass : NULL);
	return rc ? refused(m, q->cl, rc, "CONNECT") : AT_OK;
}

static int cmd_qmtdisc(struct at_call *c)
{
	struct qmt_client *q = qc_of(c);
	int rc = mqtt_client_disconnect(q->cl);

	if (rc) {
		at_why(c->m, "client %d is not connected", q->cl->idx);
		return AT_ERROR;
	}
	q->cmd_at = modem_now(c->m);
	urc(c->m, q, LAT_CLOSE_MS, "+QMTDISC: %d,0", q->cl->idx);
	return AT_OK;
}

static int sub_refused(struct modem *m, const struct mqtt_client *cl, int rc, uint16_t msgid,
                       const char *what)
{
	if (rc == -ERR_BUSY && cl->state == MQTT_S_CONNECTED) {
		at_why(m, "msgid %u is still in flight", (unsigned)msgid);
		return AT_ERROR;
	}
	return refused(m, cl, rc, what);
}

static int cmd_qmtsub(struct at_call *c)
{
	struct qmt_client *q = qc_of(c);
	char topics[15][MQTT_TOPIC_MAX + 1];
	const char *tp[15];
	int qos[15], n = 0, rc;
	uint16_t msgid = (uint16_t)at_num(c, 1);

	if (c->args.n % 2 != 0) {
		at_why(c->m, "each topic needs its QoS");
		return AT_ERROR;
	}
	for (int i = 2; i + 1 < c->args.n; i += 2, n++) {
		if (c->args.p[i].type != AT_P_STR || c->args.p[i].len > MQTT_TOPIC_MAX ||
		    at_str(c, i, topics[n], sizeof(topics[n])) || need_num(c, i + 1, 0, 2, &qos[n]))
			return AT_ERROR;
		tp[n] = topics[n];
	}
	rc = mqtt_client_subscribe(q->cl, msgid, tp, qos, n);
	if (rc)
		return sub_refused(c->m, q->cl, rc, msgid, "SUBSCRIBE");
	q->cmd_at = modem_now(c->m);
	return AT_OK;
}

static int cmd_qmtuns(struct at_call *c)
{
	struct qmt_client *q = qc_of(c);
	char topics[15][MQTT_TOPIC_MAX + 1];
	const char *tp[15];
	int n = 0, rc;
	uint16_t msgid = (uint16_t)at_num(c, 1);

	for (int i = 2; i < c->args.n; i++, n++) {
		if (c->args.p[i].type != AT_P_STR || c->args.p[i].len > MQTT_TOPIC_MAX ||
		    at_str(c, i, topics[n], sizeof(topics[n])))
			return AT_ERROR;
		tp[n] = topics[n];
	}
	rc = mqtt_client_unsubscribe(q->cl, msgid, tp, n);
	if (rc)
		return sub_refused(c->m, q->cl, rc, msgid, "UNSUBSCRIBE");
	q->cmd_at = modem_now(c->m);
	return AT_OK;
}

/* ---- publishing ---- */

/* The checks before the payload is taken, worded. */
static int publish_check(struct modem *m, const struct mqtt_client *cl, uint16_t msgid, int qos)
{
	int rc = mqtt_client_publish_check(cl, msgid, qos);

	switch (rc) {
	case 0:
		return 0;
	case -ERR_INVAL:
		at_why(m, "msgid must be 0 with QoS 0 and 1-65535 with QoS 1 or 2");
		return AT_ERROR;
	case -ERR_BUSY:
		at_why(m, "msgid %u is still in flight", (unsigned)msgid);
		return AT_ERROR;
	case -ERR_NOSPC:
		at_why(m, "%d messages already in flight (window %d)", cl->inflight,
		       m->model->mqtt.inflight_max);
		return st(m)->d->window_full;
	default:
		return refused(m, cl, rc, "PUBLISH");
	}
}

static int publish(struct modem *m, struct qmt_client *q, uint16_t msgid, int qos, int retain,
                   const char *topic, const uint8_t *payload, size_t len, bool ex)
{
	int rc = publish_check(m, q->cl, msgid, qos);

	if (rc)
		return rc;
	rc = mqtt_client_publish(q->cl, msgid, qos, retain, topic, payload, len, ex);
	if (rc) {
		at_why(m, "PUBLISH not sent: %s", err_str(rc));
		return AT_ERROR;
	}
	q->cmd_at = modem_now(m);
	modem_hook_note(m, MODEM_NOTE_PUBLISH, q->cl->idx);
	if (qos == 0)
		urc(m, q, 0, "%s: %d,0,0", ex ? "+QMTPUBEX" : "+QMTPUB", q->cl->idx);
	return AT_OK;
}

static void pub_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct qmt_pub *r = arg;
	size_t max = m->model->mqtt.payload_max, room = max - r->payload.len;

	/* M95 MQTT AN 5.1: "the data that beyond 1548 bytes will be omitted" */
	buf_append(&r->payload, p, n < room ? n : room);
}

static void pub_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct qmt_pub *r = arg;
	int rc = AT_OK;

	switch (why) {
	case AT_END_ABANDON:
		buf_free(&r->payload);
		return;
	case AT_END_CANCEL:
		at_why(m, "ESC: publish cancelled");
		break;
	case AT_END_SUBMIT:
	case AT_END_COUNT:
		rc = publish(m, r->q, r->msgid, r->qos, r->retain, r->topic, r->payload.data,
		             r->payload.len, r->ex);
		break;
	case AT_END_ESCAPE:
	case AT_END_TIMEOUT:
		rc = AT_ERROR;
		break;
	}
	buf_free(&r->payload);
	at_complete(m, rc);
}

static const struct at_data_ops pub_ops = {pub_data, pub_end};

static int do_publish(struct at_call *c, bool ex)
{
	struct modem *m = c->m;
	struct qmt_pub *r = &st(m)->pub;
	struct qmt_client *q = qc_of(c);
	uint16_t msgid = (uint16_t)at_num(c, 1);
	int qos = (int)at_num(c, 2), rc;
	long long max = (long long)m->model->mqtt.payload_max;
	char topic[MQTT_TOPIC_MAX + 1];

	if (c->args.p[4].type != AT_P_STR || at_str(c, 4, topic, sizeof(topic))) {
		at_why(m, "topic must be a quoted string of at most 255 bytes");
		return AT_ERROR;
	}
	rc = publish_check(m, q->cl, msgid, qos);
	if (rc)
		return rc;
	if (c->args.n == 6 && c->args.p[5].type == AT_P_STR) {
		/* inline payload: AT+QMTPUB=0,1,1,0,"topic","msg" (host-drivers.md item 7) */
		if ((long long)c->args.p[5].len > max)
			return AT_ERROR;
		return publish(m, q, msgid, qos, (int)at_num(c, 3), topic,
		               (const uint8_t *)c->args.p[5].s, c->args.p[5].len, ex);
	}
	buf_free(&r->payload);
	memset(r, 0, sizeof(*r));
	buf_init(&r->payload, (size_t)max);
	r->q = q;
	r->msgid = msgid;
	r->qos = qos;
	r->retain = (int)at_num(c, 3);
	r->ex = ex;
	memcpy(r->topic, topic, sizeof(topic));
	if (c->args.n == 6) {
		if (c->args.p[5].type != AT_P_NUM || c->args.p[5].num < 1 ||
		    c->args.p[5].num > max) {
			at_why(m, "message length must be 1-%lld", max);
			return AT_ERROR;
		}
		at_prompt(m, (size_t)c->args.p[5].num, &pub_ops, r);
	} else {
		if (ex) {
			at_why(m, "AT+QMTPUBEX needs a length or an inline message");
			return AT_ERROR;
		}
		at_prompt(m, 0, &pub_ops, r);
	}
	return AT_PENDING;
}

static int cmd_qmtpub(struct at_call *c)
{
	return do_publish(c, false);
}

static int cmd_qmtpubex(struct at_call *c)
{
	return do_publish(c, true);
}

/* ---- receive buffers (recv/mode 1) ---- */

static int cmd_qmtrecv(struct at_call *c)
{
	struct modem *m = c->m;
	struct qmt_client *q;
	int recv_id;
	struct buf b;

	if (c->req == AT_REQ_READ) {
		/* one line per client with a network; answered in every mode (host-drivers.md
		 * item 9: some drivers poll it in URC mode too) */
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			const struct qmt_client *x = &st(m)->q[i];

			if (x->cl->state == MQTT_S_IDLE || x->cl->state == MQTT_S_OPENING)
				continue;
			at_info(m, "+QMTRECV: %d,%d,%d,%d,%d,%d", i, x->slots[0].used,
			        x->slots[1].used, x->slots[2].used, x->slots[3].used,
			        x->slots[4].used);
		}
		return AT_OK;
	}
	q = qc_of(c);
	recv_id = at_given(c, 1) ? (int)at_num(c, 1) : -1;
	buf_init(&b, 0);
	for (int i = 0; i < QMT_RECV_SLOTS; i++) {
		struct qmt_slot *s = &q->slots[i];

		if (!s->used || (recv_id >= 0 && i != recv_id))
			continue;
		buf_reset(&b);
		format_recv(st(m), q, &b, s->msgid, s->topic.data, s->topic.len, s->payload.data,
		            s->payload.len);
		at_info_bytes(m, b.data, b.len);
		s->used = false;
	}
	buf_free(&b);
	/* a slot is free: what waits in the broker's connection may come */
	if (free_slot(q) >= 0)
		mqtt_client_resume(q->cl);
	return AT_OK;
}

/* ---- the family's state ---- */

static void slots_clear(struct qmt_client *q)
{
	for (int i = 0; i < QMT_RECV_SLOTS; i++) {
		buf_reset(&q->slots[i].topic);
		buf_reset(&q->slots[i].payload);
		q->slots[i].used = false;
	}
}

/* The dialect's defaults of a client (the protocol's are mqtt_cfg_defaults). */
static void client_defaults(struct qmt_client *q)
{
	q->pdpcid = 1;
	q->ssl_enable = 0;
	q->ssl_ctx = 0;
	q->timeout_notice = 0;
	q->recv_mode = 0;
	q->recv_len = 0;
	q->ali_key[0] = q->ali_name[0] = q->ali_secret[0] = 0;
	q->cmd_at = q->urc_due = 0;
	q->urc_queued = 0;
	slots_clear(q);
}

static void qmt_close(struct modem *m);

static struct qmt_state *qmt_alloc(struct modem *m)
{
	const struct at_family *const *f = m->model->families;
	struct qmt_state *s;

	while (*f && (*f)->close != qmt_close) /* this file's families */
		f++;
	s = modem_area_alloc(m, sizeof(*s), "AT+QMT*");
	s->d = (*f)->data; /* st() is reached only through this family's commands and hooks */
	buf_init(&s->pub.payload, 0);
	m->qmt = s;
	modem_mqtt(m)->env.ops = &qmt_ops;
	modem_mqtt(m)->env.owner = m;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		struct qmt_client *q = &s->q[i];

		q->cl = &modem_mqtt(m)->c[i];
		q->cl->user = q;
		for (int k = 0; k < QMT_RECV_SLOTS; k++) {
			buf_init(&q->slots[k].topic, 0);
			buf_init(&q->slots[k].payload, 0);
		}
		client_defaults(q);
	}
	return s;
}

/* Power cycle: every client is gone without a URC (the host asked for it), the settings go
 * back to their defaults. The modem's timers (URC jobs) were cancelled already. */
static void qmt_reboot(struct modem *m)
{
	struct qmt_state *s = m->qmt;

	if (!s)
		return;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		mqtt_client_drop(s->q[i].cl, true);
		mqtt_cfg_defaults(&s->q[i].cl->cfg);
		client_defaults(&s->q[i]);
	}
	buf_free(&s->pub.payload);
}

static void qmt_close(struct modem *m)
{
	struct qmt_state *s = m->qmt;

	if (!s)
		return;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		for (int k = 0; k < QMT_RECV_SLOTS; k++) {
			buf_free(&s->q[i].slots[k].topic);
			buf_free(&s->q[i].slots[k].payload);
		}
	}
	buf_free(&s->pub.payload);
	free(s);
	m->qmt = NULL;
}

/* The dialect's outcome URCs, for observers (modem/findings.c): +QMTOPEN: <id>,<result>
 * (2: "identifier occupied", the client stays as it was), +QMTCONN: <id>,0,<ret_code>,
 * +QMTSTAT: <id>,<err> (5: the server closed after the host's AT+QMTDISC). */
static bool qmt_shown(const char *line, size_t len, struct mqtt_shown *out)
{
	char s[64];
	int idx, a, b = 0, k;

	if (len < 8 || len >= sizeof(s) || memcmp(line, "+QMT", 4) != 0)
		return false;
	memcpy(s, line, len);
	s[len] = 0;
	memset(out, 0, sizeof(*out));
	if (sscanf(s, "+QMTOPEN: %d,%d", &idx, &a) == 2) {
		out->kind = MQTT_SHOWN_OPEN;
		out->ok = a == 0;
		out->unchanged = a == 2;
	} else if ((k = sscanf(s, "+QMTCONN: %d,%d,%d", &idx, &a, &b)) >= 2) {
		out->kind = MQTT_SHOWN_CONN;
		out->ok = a == 0 && k == 3 && b == 0;
	} else if (sscanf(s, "+QMTSTAT: %d,%d", &idx, &a) == 2) {
		out->kind = MQTT_SHOWN_LOST;
		out->normal = a == QMTSTAT_DISCONNECTED;
	} else {
		return false;
	}
	if (idx < 0 || idx >= MQTT_CLIENTS_MAX)
		return false;
	out->client = idx;
	out->code = a;
	return true;
}

/* The host read what waited: messages the clients kept may be taken now. */
static void qmt_host_drained(struct modem *m)
{
	struct qmt_state *s = m->qmt;

	for (int i = 0; s && i < MQTT_CLIENTS_MAX; i++)
		if (s->q[i].cl->conn && s->q[i].cl->rx.len)
			mqtt_client_resume(s->q[i].cl);
}

/* A PDP context went down: its clients lose their connection with +QMTSTAT: <id>,1 (the
 * socket is gone, as a reset by the peer; no source names the code). */
static void qmt_pdp_down(struct modem *m, int cid, bool by_network)
{
	for (int i = 0; m->qmt && i < MQTT_CLIENTS_MAX; i++) {
		struct qmt_client *q = &st(m)->q[i];

		if (q->cl->state == MQTT_S_IDLE || q->pdpcid != cid)
			continue;
		mqtt_client_lose(q->cl, MQTT_LOSS_DROPPED,
		                 by_network ? "PDP context deactivated by the network"
		                            : "PDP context deactivated by AT+QIDEACT");
	}
}

#define W AT_REQ_WRITE
#define T AT_REQ_TEST
#define R AT_REQ_READ

static const struct at_cmd ec25_cmds[] = {
        {"+QMTCFG", W | T, 2, 7, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_qmtcfg},
        {"+QMTOPEN", W | R | T, 3, 3, AT_SPEC(AT_NUM(0, 5), AT_ANY, AT_ANY),
         "+QMTOPEN: (0-5),\"<host_name>\",(1-65535)", 0, 0, cmd_qmtopen},
        {"+QMTCLOSE", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTCLOSE: (0-5)", 0, 0, cmd_qmtclose},
        {"+QMTCONN", W | R | T, 2, 4, AT_SPEC(AT_NUM(0, 5), AT_STR(0), AT_STR(0), AT_STR(0)),
         "+QMTCONN: (0-5),\"<clientID>\"[,\"<username>\"[,\"<password>\"]]", 0, 0, cmd_qmtconn},
        {"+QMTDISC", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTDISC: (0-5)", 0, 0, cmd_qmtdisc},
        {"+QMTSUB", W | T, 4, 32, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTSUB: (0-5),(1-65535),\"<topic>\",(0-2)", 0, 0, cmd_qmtsub},
        {"+QMTUNS", W | T, 3, 17, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTUNS: (0-5),(1-65535),\"<topic>\"", 0, 0, cmd_qmtuns},
        /* EC2x test reply with its stray space (reference §6c) */
        {"+QMTPUB", W | T, 5, 6,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY, AT_ANY),
         "+QMTPUB: (0-5), <msgid>,(0-2),(0,1),\"topic\",[(1-1548)]", 0, 0, cmd_qmtpub},
        {"+QMTPUBEX", W | T, 6, 6,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY, AT_ANY),
         "+QMTPUBEX: (0-5), <msgid>,(0-2),(0,1),\"topic\",(1-1548)", 0, 0, cmd_qmtpubex},
        {"+QMTRECV", W | R | T, 1, 2, AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 4)), "+QMTRECV: (0-5),(0-4)",
         0, 0, cmd_qmtrecv},
        {0},
};

static const struct qmt_dialect ec25_dialect = {
        .cfg_values_only = false,
        .ssl_needs_ctx = false,
        .keys = QMT_KEY_VERSION | QMT_KEY_PDPCID | QMT_KEY_RECV_MODE | QMT_KEY_ALIAUTH,
        .recv_quoted = true,
        .window_full = AT_ERROR, /* no window on the EC25 (profile inflight_max 0) */
        /* assembled from the nine keys and ranges of reference §6a; not a capture */
        .cfg_test = "+QMTCFG: \"version\",(0-5),(3,4)\n"
                    "+QMTCFG: \"pdpcid\",(0-5),(1-16)\n"
                    "+QMTCFG: \"ssl\",(0-5),(0,1),(0-5)\n"
                    "+QMTCFG: \"keepalive\",(0-5),(0-3600)\n"
                    "+QMTCFG: \"session\",(0-5),(0,1)\n"
                    "+QMTCFG: \"timeout\",(0-5),(1-60),(0-10),(0,1)\n"
                    "+QMTCFG: \"will\",(0-5),(0,1),(0-2),(0,1),\"will_topic\",\"will_message\"\n"
                    "+QMTCFG: \"recv/mode\",(0-5),(0,1),(0,1)\n"
                    "+QMTCFG: \"aliauth\",(0-5),\"product_key\",\"device_name\",\"device_secret\"",
};

const struct at_family at_family_mqtt_ec25 = {
        .name = "mqtt-quectel",
        .cmds = ec25_cmds,
        .data = &ec25_dialect,
        .reboot = qmt_reboot,
        .close = qmt_close,
        .pdp_down = qmt_pdp_down,
        .host_drained = qmt_host_drained,
        .mqtt_shown = qmt_shown,
};

/* M95 MQTT AN (seed 001): no version/pdpcid/recv/mode keys, no QMTPUBEX, no QMTRECV command,
 * QMTPUB with the Ctrl+Z prompt only. */
static const struct at_cmd m95_cmds[] = {
        {"+QMTCFG", W | T, 2, 7, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_qmtcfg},
        {"+QMTOPEN", W | R | T, 3, 3, AT_SPEC(AT_NUM(0, 5), AT_ANY, AT_ANY),
         "+QMTOPEN: (0-5),\"<host_name>\",(1-65535)", 0, 0, cmd_qmtopen},
        {"+QMTCLOSE", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTCLOSE: (0-5)", 0, 0, cmd_qmtclose},
        {"+QMTCONN", W | R | T, 2, 4, AT_SPEC(AT_NUM(0, 5), AT_STR(0), AT_STR(0), AT_STR(0)),
         "+QMTCONN: (0-5),\"<clientID>\"[,\"<username>\"[,\"<password>\"]]", 0, 0, cmd_qmtconn},
        {"+QMTDISC", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTDISC: (0-5)", 0, 0, cmd_qmtdisc},
        {"+QMTSUB", W | T, 4, 32, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTSUB: (0-5),(1-65535),\"<topic>\",(0-2)", 0, 0, cmd_qmtsub},
        {"+QMTUNS", W | T, 3, 17, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTUNS: (0-5),(1-65535),\"<topic>\"", 0, 0, cmd_qmtuns},
        {"+QMTPUB", W | T, 5, 5,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY),
         "+QMTPUB: (0-5),(0-65535),(0-2),(0,1),\"<topic>\"", 0, 0, cmd_qmtpub},
        {0},
};

static const struct qmt_dialect m95_dialect = {
        .cfg_values_only = true,
        .ssl_needs_ctx = true,
        .keys = 0,
        .recv_quoted = false,
        .window_full = 8512, /* M95 MQTT AN 3.2.8 note 1 */
        .cfg_test = "+QMTCFG: \"WILL\",(0-5),(0,1),(0-2),(0,1),\"will_topic\",\"will_msg\"\n"
                    "+QMTCFG: \"TIMEOUT\",(0-5),(1-60),(0-10),(0,1)\n"
                    "+QMTCFG: \"SESSION\",(0-5),(0,1)\n"
                    "+QMTCFG: \"KEEPALIVE\",(0-5),(0-3600)\n"
                    "+QMTCFG: \"SSL\",(0-5),(0,1),(0-5)",
};

const struct at_family at_family_mqtt_m95 = {
        .name = "mqtt-quectel-gsm",
        .cmds = m95_cmds,
        .data = &m95_dialect,
        .reboot = qmt_reboot,
        .close = qmt_close,
        .pdp_down = qmt_pdp_down,
        .host_drained = qmt_host_drained,
        .mqtt_shown = qmt_shown,
};

/* BG96 MQTT AN V1.0 (quoted by WIZnet's BG96 guides; real sessions in them): AT+QMTPUB as on
 * the EC25 (its test reply lists the length), but no AT+QMTPUBEX and no "recv/mode": the
 * section the EC2x AN gives to QMTPUBEX is QMTPUB on the BG96, and no BG96 source shows
 * recv/mode or AT+QMTRECV. +QMTRECV carries the payload in quotes without a length
 * (`+QMTRECV: 0,0,"topic/openhouse-A","Hello WIZnet"`, a BG96 session). */
static const struct at_cmd bg96_cmds[] = {
        {"+QMTCFG", W | T, 2, 7, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_qmtcfg},
        {"+QMTOPEN", W | R | T, 3, 3, AT_SPEC(AT_NUM(0, 5), AT_ANY, AT_ANY),
         "+QMTOPEN: (0-5),\"<host_name>\",(1-65535)", 0, 0, cmd_qmtopen},
        {"+QMTCLOSE", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTCLOSE: (0-5)", 0, 0, cmd_qmtclose},
        {"+QMTCONN", W | R | T, 2, 4, AT_SPEC(AT_NUM(0, 5), AT_STR(0), AT_STR(0), AT_STR(0)),
         "+QMTCONN: (0-5),\"<clientID>\"[,\"<username>\"[,\"<password>\"]]", 0, 0, cmd_qmtconn},
        {"+QMTDISC", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTDISC: (0-5)", 0, 0, cmd_qmtdisc},
        {"+QMTSUB", W | T, 4, 32, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTSUB: (0-5),(1-65535),\"<topic>\",(0-2)", 0, 0, cmd_qmtsub},
        {"+QMTUNS", W | T, 3, 17, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTUNS: (0-5),(1-65535),\"<topic>\"", 0, 0, cmd_qmtuns},
        {"+QMTPUB", W | T, 5, 6,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY, AT_ANY),
         "+QMTPUB: (0-5), <msgid>,(0-2),(0,1),\"topic\",(1-1548)", 0, 0, cmd_qmtpub},
        {0},
};

static const struct qmt_dialect bg96_dialect = {
        .cfg_values_only = false,
        .ssl_needs_ctx = false,
        .keys = QMT_KEY_VERSION | QMT_KEY_PDPCID | QMT_KEY_ALIAUTH,
        .recv_quoted = true,
        .window_full = AT_ERROR,
        /* the EC25's list without recv/mode; not a capture */
        .cfg_test = "+QMTCFG: \"version\",(0-5),(3,4)\n"
                    "+QMTCFG: \"pdpcid\",(0-5),(1-16)\n"
                    "+QMTCFG: \"ssl\",(0-5),(0,1),(0-5)\n"
                    "+QMTCFG: \"keepalive\",(0-5),(0-3600)\n"
                    "+QMTCFG: \"session\",(0-5),(0,1)\n"
                    "+QMTCFG: \"timeout\",(0-5),(1-60),(0-10),(0,1)\n"
                    "+QMTCFG: \"will\",(0-5),(0,1),(0-2),(0,1),\"will_topic\",\"will_message\"\n"
                    "+QMTCFG: \"aliauth\",(0-5),\"product_key\",\"device_name\",\"device_secret\"",
};

const struct at_family at_family_mqtt_bg96 = {
        .name = "mqtt-quectel-bg96",
        .cmds = bg96_cmds,
        .data = &bg96_dialect,
        .reboot = qmt_reboot,
        .close = qmt_close,
        .pdp_down = qmt_pdp_down,
        .host_drained = qmt_host_drained,
        .mqtt_shown = qmt_shown,
};
