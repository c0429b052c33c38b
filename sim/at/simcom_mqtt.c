/* SIMCom MQTT(S): AT+CMQTT* (reference §1-§5): two tables, at_family_mqtt_sim7600 (SIM7500/
 * SIM7600 manual V3.00 ch. 16) and at_family_mqtt_a7670 (A76XX manual V1.09 ch. 18: A7670,
 * SIM7670G); the per-model differences they share are m->model->simcom. The protocol is
 * mqtt/client.c, which knows nothing of this dialect: every result and URC is worded here.
 *
 *   AT+CMQTTSTART         SIM7600: +CMQTTSTART: 0, OK; A76XX: OK, +CMQTTSTART: 0
 *   AT+CMQTTACCQ=i,"id"[,server_type[,version (SIM7600)]]              OK
 *   AT+CMQTTSSLCFG=i,ctx / WILLTOPIC / WILLMSG / CFG                    OK (before CONNECT)
 *   AT+CMQTTCONNECT=i,"tcp://host:port",keepalive,clean[,"user"[,"pass"]]
 *                                            OK ... +CMQTTCONNECT: i,<err> (after CONNACK)
 *   AT+CMQTTTOPIC / PAYLOAD / SUBTOPIC / UNSUBTOPIC=i,len[,qos]   \r\n> <len bytes> OK
 *   AT+CMQTTPUB=i,qos,timeout / SUB / UNSUB  OK ... +CMQTTPUB: i,<err> (PUBACK, PUBCOMP)
 *   AT+CMQTTDISC=i,timeout                   OK ... +CMQTTDISC: i,0 (the broker closed)
 *   AT+CMQTTREL=i, AT+CMQTTSTOP              OK ... +CMQTTSTOP: 0
 *   broker's PUBLISH     +CMQTTRXSTART: i,tlen,plen / +CMQTTRXTOPIC: i,tlen<CRLF>topic /
 *                        +CMQTTRXPAYLOAD: i,n<CRLF>bytes (n <= 1500, repeated) / +CMQTTRXEND: i
 *   lost                 [+CMQTTPING: i,17 (SIM7600)] +CMQTTCONNLOST: i,<cause>
 *   network lost         +CMQTTCONNLOST: i,3 ... +CMQTTNONET (the service stops)
 *
 * State errors (reference §2): `+CMQTTxxx: i,<err>` then ERROR, synchronously: 19 ACCQ of an
 * acquired client, 20 a client not acquired, 11 not connected, 14 busy (the client's CONNECT,
 * PUB, SUB, UNSUB or DISC is outstanding: one asynchronous operation per client, seed 003's
 * `+CMQTTSUBTOPIC: 0,14` right after CONNECT), 13 CONNECT when connected, 21 STOP with a client
 * acquired, 23 START when started (SIM7600; A76XX: bare ERROR). A length or value outside its
 * range is a bare ERROR (the central checks), as is every command but SSLCFG and CONNECT
 * before AT+CMQTTSTART (A76XX manual 18.2.1 note; both models).
 *
 * Choices where the sources are silent (each marked "choice" below as well):
 *   - CONNECT on a client that is not acquired (or before START): `+CMQTTCONNECT: i,12` then
 *     ERROR, as seed 002's SIM7670G answered after its START and ACCQ had failed.
 *   - REL of a connected client: `+CMQTTREL: i,14`; WILLTOPIC/WILLMSG/CFG while connecting:
 *     14, while connected: 13; DISC while CONNECT is outstanding: 14.
 *   - A SUBACK refusing a topic (0x80): `+CMQTTSUB: i,1`; PUB with no topic: 18; SUB/UNSUB
 *     with nothing cached: 18; PUB's wait (pub_timeout) expired: 17 (reference §5).
 *   - The handshake failure is asynchronous on both families (OK, then +CMQTTCONNECT: i,32 or
 *     34); DNS failure 25, refused or unreachable 3, closed by the server during CONNECT 26,
 *     CONNACK codes 1-5: 27-31, authmode needing a file the context does not name: 33.
 *   - NETCLOSE leaves MQTT alone (it does not need NETOPEN, reference §3.1); the network
 *     dropping context 1 (with or without NETOPEN) loses every client with cause 3 and stops
 *     the service: +CMQTTNONET.
 *   - No AT+CMQTTDELWILL (in no manual, reference §3.6: ERROR) and no "argtopic" EX dialect.
 *   - optimeout is the client's packet timeout (retransmission after it, 3 times). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "modem/pdp.h"
#include "modem/reg.h"
#include "modem/ssl.h"
#include "mqtt/codec.h"
#include "net/conn.h"

/* Realistic latency of result URCs after the command's OK (SIM7600 AN and seed 003: CONNECT
 * well under a second, SUB and PUB at once); the real network time counts towards it. */
#define LAT_START_MS 100
#define LAT_CONN_MS 400
#define LAT_SUB_MS 150
#define LAT_PUB_MS 50
#define LAT_DISC_MS 100

#define CONNECT_TIMEOUT_S 120 /* AT+CMQTTCONNECT's maximum response time (S76-ATC 16.2.7) */
#define CMQ_ID_MAX 128 /* clientID 1-128 bytes */
#define CMQ_URL_MAX 256 /* server_addr 9-256 */
#define CMQ_CRED_MAX 256 /* user name, password 1-256 */
#define CMQ_LEN_MAX 1024 /* TOPIC, WILLTOPIC, WILLMSG, SUBTOPIC, UNSUBTOPIC lengths */
#define CMQ_SUB_BYTES 5120 /* cached subscribe topics in total (S76-ATC 16.2.13) */
#define CMQ_SUBS_MAX 32 /* cached topics per list: a choice (5120 bytes allow more) */
#define CMQ_RX_CHUNK 1500 /* +CMQTTRXPAYLOAD chunk (S76-ATC 16.3.2) */
/* An incoming message is taken (and acknowledged) only while less than this waits for the
 * host, as the Quectel dialect (QMT_HOST_HIGH): beyond, the client holds it, unacknowledged,
 * and TCP pushes back on the broker. */
#define CMQ_HOST_HIGH (32 * 1024)

/* <err> (reference §5) */
#define E_OK 0
#define E_FAILED 1
#define E_UTF8 2
#define E_SOCK_CONNECT 3
#define E_RECV 6
#define E_NO_CONN 11
#define E_PARAM 12
#define E_NOT_SUPPORTED 13
#define E_BUSY 14
#define E_TIMEOUT 17
#define E_NO_TOPIC 18
#define E_USED 19
#define E_NOT_ACQUIRED 20
#define E_NOT_RELEASED 21
#define E_LENGTH 22
#define E_DNS 25
#define E_SERVER_CLOSED 26
#define E_CONNACK_BASE 26 /* CONNACK return code 1-5: 27-31 */
#define E_NOCERT 33

/* +CMQTTCONNLOST <cause> */
#define LOST_CLOSED 1 /* socket closed passively */
#define LOST_RESET 2 /* socket reset */
#define LOST_NETWORK 3 /* network closed */

enum cmq_op { OP_NONE, OP_CONNECT, OP_DISC, OP_SUB, OP_UNSUB, OP_PUB };

/* The topics AT+CMQTTSUBTOPIC / UNSUBTOPIC cached for the next SUB / UNSUB. */
struct cmq_topics {
	int n;
	size_t bytes;
	char *t[CMQ_SUBS_MAX];
	int qos[CMQ_SUBS_MAX];
};

struct cmq_client {
	struct mqtt_client *cl;
	bool acquired;
	char id[CMQ_ID_MAX + 1];
	int server_type; /* 1: SSL/TLS */
	int version; /* 3 or 4 */
	int ssl_ctx; /* AT+CMQTTSSLCFG's context, -1: the client index (reference §3.5) */
	int check_utf8;
	int optimeout;
	bool will_topic_set, will_msg_set;
	struct buf topic; /* AT+CMQTTTOPIC, NUL-terminated */
	struct buf payload;
	bool topic_set;
	struct cmq_topics sub, unsub;
	/* the last CONNECT, for AT+CMQTTCONNECT? */
	char url[CMQ_URL_MAX + 1];
	int keepalive, clean;
	char user[CMQ_CRED_MAX + 1], pass[CMQ_CRED_MAX + 1];
	bool has_user, has_pass;
	bool connected; /* the host was told +CMQTTCONNECT: i,0 and nothing ended it since */
	enum cmq_op op; /* the outstanding asynchronous operation */
	uint16_t op_id;
	uint16_t next_id;
	struct modem_timer *pub_timer;
	uint64_t cmd_at; /* when the command was answered OK, for realistic latency */
	uint64_t urc_due; /* result URCs go out in order: none before this time */
	int urc_queued;
};

enum cmq_input_kind {
	IN_WILLTOPIC,
	IN_WILLMSG,
	IN_TOPIC,
	IN_PAYLOAD,
	IN_SUBTOPIC,
	IN_UNSUBTOPIC,
	IN_SUB,
	IN_UNSUB,
};

/* The data the host is typing after `>` (one AT command runs at a time). */
struct cmq_input {
	struct cmq_client *q;
	enum cmq_input_kind kind;
	const char *name; /* "+CMQTTTOPIC" */
	int qos;
	struct buf data;
};

struct cmq_state {
	bool started;
	struct cmq_client q[MQTT_CLIENTS_MAX];
	struct cmq_input in;
};

static struct cmq_state *state_of(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_mqtt_sim7600);

	if (!slot)
		slot = modem_family_state(m, &at_family_mqtt_a7670);
	return slot ? *slot : NULL;
}

static const struct simcom_traits *traits(const struct modem *m)
{
	return &m->model->simcom;
}

static struct modem *modem_of(const struct mqtt_client *cl)
{
	return (struct modem *)cl->env->owner;
}

static struct cmq_client *qc(const struct mqtt_client *cl)
{
	return cl->user;
}

static int idx_of(const struct cmq_client *q)
{
	return q->cl->idx;
}

/* ---- URCs, in order per client, never earlier than the realistic latency ---- */

struct urc_job {
	struct cmq_client *q;
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

static void urc_bytes(struct modem *m, struct cmq_client *q, uint64_t latency_ms, const void *p,
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

static void urc(struct modem *m, struct cmq_client *q, uint64_t latency_ms, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void urc(struct modem *m, struct cmq_client *q, uint64_t latency_ms, const char *fmt, ...)
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

/* ---- per-client state ---- */

static void topics_clear(struct cmq_topics *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->t[i]);
	t->n = 0;
	t->bytes = 0;
}

static void will_clear(struct cmq_client *q)
{
	struct mqtt_cfg *cfg = &q->cl->cfg;

	q->will_topic_set = q->will_msg_set = false;
	cfg->will_fg = 0;
	cfg->will_topic[0] = 0;
	buf_reset(&cfg->will_msg);
}

static void pub_clear(struct cmq_client *q)
{
	buf_reset(&q->topic);
	buf_reset(&q->payload);
	q->topic_set = false;
}

/* AT+CMQTTREL, AT+CFUN=1,1, +CMQTTNONET: the client as before ACCQ. */
static void client_reset(struct modem *m, struct cmq_client *q)
{
	q->acquired = false;
	q->id[0] = 0;
	q->server_type = 0;
	q->version = simcom_mqtt_version_default(m);
	q->ssl_ctx = -1;
	q->check_utf8 = 1;
	q->optimeout = 120;
	will_clear(q);
	pub_clear(q);
	topics_clear(&q->sub);
	topics_clear(&q->unsub);
	q->url[0] = q->user[0] = q->pass[0] = 0;
	q->has_user = q->has_pass = false;
	q->keepalive = 0;
	q->clean = 0;
	q->connected = false;
	q->op = OP_NONE;
	if (q->pub_timer)
		modem_timer_cancel(q->pub_timer);
	q->pub_timer = NULL;
}

static const char *op_name(enum cmq_op op)
{
	switch (op) {
	case OP_CONNECT:
		return "+CMQTTCONNECT";
	case OP_DISC:
		return "+CMQTTDISC";
	case OP_SUB:
		return "+CMQTTSUB";
	case OP_UNSUB:
		return "+CMQTTUNSUB";
	case OP_PUB:
		return "+CMQTTPUB";
	case OP_NONE:
		break;
	}
	return "";
}

/* The outstanding operation ends with err (its URC). */
static void op_done(struct modem *m, struct cmq_client *q, uint64_t latency_ms, int err)
{
	enum cmq_op op = q->op;

	if (op == OP_NONE)
		return;
	q->op = OP_NONE;
	if (q->pub_timer) {
		modem_timer_cancel(q->pub_timer);
		q->pub_timer = NULL;
	}
	urc(m, q, latency_ms, "%s: %d,%d", op_name(op), idx_of(q), err);
}

static uint16_t next_id(struct cmq_client *q)
{
	if (++q->next_id == 0)
		q->next_id = 1;
	return q->next_id;
}

/* ---- the client's events, worded ---- */

static void ev_state(struct mqtt_client *cl, enum mqtt_state old, enum mqtt_state now)
{
	modem_hook_mqtt_state(modem_of(cl), cl->idx, (int)old, (int)now);
}

/* The connection failed before CONNACK: the SSL binding is cleared with it (reference §3.5). */
static void connect_failed(struct modem *m, struct cmq_client *q, int err)
{
	q->ssl_ctx = -1;
	op_done(m, q, LAT_CONN_MS, err);
}

static void ev_opened(struct mqtt_client *cl, int status, const char *cause)
{
	struct modem *m = modem_of(cl);
	struct cmq_client *q = qc(cl);
	int err, rc;

	if (q->op != OP_CONNECT)
		return;
	if (status == 0) {
		rc = mqtt_client_connect(cl, q->id, q->has_user ? q->user : NULL,
		                         q->has_pass ? q->pass : NULL);
		if (rc == 0)
			return;
		trace_event(m->index, "mqtt", "client %d: CONNECT not sent: %s", cl->idx,
		            err_str(rc));
		mqtt_client_drop(cl, true);
		connect_failed(m, q, E_FAILED);
		return;
	}
	if (status == -NET_ERR_DNS)
		err = E_DNS;
	else if (status == -NET_ERR_TLS)
		err = traits(m)->handshake_err;
	else
		err = E_SOCK_CONNECT;
	trace_event(m->index, "mqtt", "client %d: open %s:%d failed: %s%s%s -> +CMQTTCONNECT %d",
	            cl->idx, cl->host, cl->port, net_status_str(status), cause ? ": " : "",
	            cause ? cause : "", err);
	connect_failed(m, q, err);
}

static void ev_connack(struct mqtt_client *cl, unsigned rc)
{
	struct modem *m = modem_of(cl);
	struct cmq_client *q = qc(cl);

	if (q->op != OP_CONNECT)
		return;
	if (rc == 0) {
		q->connected = true;
		op_done(m, q, LAT_CONN_MS, E_OK);
		return;
	}
	/* 3.1.1 3.2.2-5: the broker closes after a refusal; its close is not a CONNLOST */
	connect_failed(m, q, rc <= 5 ? E_CONNACK_BASE + (int)rc : E_FAILED);
}

static void ev_suback(struct mqtt_client *cl, uint16_t id, const uint8_t *granted, size_t n)
{
	struct cmq_client *q = qc(cl);
	int err = E_OK;

	if (q->op != OP_SUB || q->op_id != id)
		return;
	for (size_t i = 0; i < n; i++)
		if (granted[i] >= 0x80)
			err = E_FAILED; /* choice: reference §5 "SUBACK failure (0x80) -> 1" */
	op_done(modem_of(cl), q, LAT_SUB_MS, err);
}

static void ev_unsuback(struct mqtt_client *cl, uint16_t id)
{
	struct cmq_client *q = qc(cl);

	if (q->op == OP_UNSUB && q->op_id == id)
		op_done(modem_of(cl), q, LAT_SUB_MS, E_OK);
}

static void ev_puback(struct mqtt_client *cl, uint16_t id, int tag)
{
	struct cmq_client *q = qc(cl);

	(void)tag;
	if (q->op == OP_PUB && q->op_id == id)
		op_done(modem_of(cl), q, LAT_PUB_MS, E_OK);
}

static void ev_gave_up(struct mqtt_client *cl, enum mqtt_packet_type type, uint16_t id, int tag)
{
	struct cmq_client *q = qc(cl);

	(void)type;
	(void)tag;
	if (q->op != OP_NONE && q->op_id == id)
		op_done(modem_of(cl), q, 0, E_TIMEOUT);
}

/* The receive block (reference §4): the topic and each payload chunk start right after the
 * LF of their header line; no RXPAYLOAD for an empty payload. One burst, in order with the
 * client's other URCs. */
static bool ev_message(struct mqtt_client *cl, uint16_t id, const struct mqtt_publish *pub)
{
	struct modem *m = modem_of(cl);
	struct cmq_client *q = qc(cl);
	const uint8_t *p = pub->payload.ptr;
	size_t left = pub->payload.len;
	struct buf b;

	(void)id;
	if (modem_host_pending(m) >= CMQ_HOST_HIGH)
		return false; /* held in the client until the host drains (cmq_host_drained) */
	buf_init(&b, 0);
	buf_printf(&b, "\r\n+CMQTTRXSTART: %d,%zu,%zu\r\n", cl->idx, pub->topic.len, left);
	buf_printf(&b, "\r\n+CMQTTRXTOPIC: %d,%zu\r\n", cl->idx, pub->topic.len);
	buf_append(&b, pub->topic.ptr, pub->topic.len);
	buf_append(&b, "\r\n", 2);
	while (left) {
		size_t n = left < CMQ_RX_CHUNK ? left : CMQ_RX_CHUNK;

		buf_printf(&b, "\r\n+CMQTTRXPAYLOAD: %d,%zu\r\n", cl->idx, n);
		buf_append(&b, p, n);
		buf_append(&b, "\r\n", 2);
		p += n;
		left -= n;
	}
	buf_printf(&b, "\r\n+CMQTTRXEND: %d\r\n", cl->idx);
	urc_bytes(m, q, 0, b.data, b.len);
	buf_free(&b);
	return true;
}

static void ev_ping_failed(struct mqtt_client *cl)
{
	/* S76-ATC 16.3.2: "send ping ... failed"; 17 "timeout" (no PINGRESP), a choice */
	if (traits(modem_of(cl))->ping_urc)
		urc(modem_of(cl), qc(cl), 0, "+CMQTTPING: %d,%d", cl->idx, E_TIMEOUT);
}

static void ev_lost(struct mqtt_client *cl, enum mqtt_loss why, const char *cause)
{
	struct modem *m = modem_of(cl);
	struct cmq_client *q = qc(cl);
	int code = cause && strstr(cause, "reset") ? LOST_RESET : LOST_CLOSED;

	if (q->op == OP_DISC) {
		/* the broker closed after the host's DISCONNECT (or the link went meanwhile):
		 * the disconnection is done either way */
		q->connected = false;
		q->ssl_ctx = -1;
		op_done(m, q, LAT_DISC_MS, E_OK);
		return;
	}
	if (q->op == OP_CONNECT) {
		trace_event(m->index, "mqtt", "client %d: lost during CONNECT (%s)", cl->idx,
		            cause ? cause : "?");
		connect_failed(m, q, E_SERVER_CLOSED); /* [LOG-AWS]: AWS policy close */
		return;
	}
	if (!q->connected)
		return; /* the close after a refused CONNACK */
	if (why == MQTT_LOSS_DROPPED)
		code = LOST_NETWORK;
	trace_event(m->index, "mqtt", "client %d: link lost (%s): +CMQTTCONNLOST %d", cl->idx,
	            cause ? cause : "?", code);
	/* [LOG-AWS]: `+CMQTTPUB: 0,6` then `+CMQTTCONNLOST: 0,1` */
	op_done(m, q, 0, E_RECV);
	q->connected = false;
	urc(m, q, 0, "+CMQTTCONNLOST: %d,%d", cl->idx, code);
}

static const struct mqtt_client_ops cmq_ops = {
        .state = ev_state,
        .opened = ev_opened,
        .connack = ev_connack,
        .suback = ev_suback,
        .unsuback = ev_unsuback,
        .puback = ev_puback,
        .gave_up = ev_gave_up,
        .message = ev_message,
        .ping_failed = ev_ping_failed,
        .lost = ev_lost,
};

/* ---- common checks ---- */

/* `+CMQTTxxx: i,err` then ERROR (reference §1.2, the synchronous failure). */
static int fail(struct at_call *c, int idx, int err, const char *why)
{
	at_why(c->m, "%s", why);
	at_info(c->m, "%s: %d,%d", c->cmd->name, idx, err);
	return AT_ERROR;
}

static bool started(struct at_call *c)
{
	if (state_of(c->m)->started)
		return true;
	at_why(c->m, "the MQTT service is not started: AT+CMQTTSTART first");
	return false;
}

static struct cmq_client *client_of(struct at_call *c)
{
	return &state_of(c->m)->q[at_num(c, 0)];
}

/* Before CONNECT (WILLTOPIC, WILLMSG, CFG): 0 or the failure. */
static int before_connect(struct at_call *c, struct cmq_client *q)
{
	int i = idx_of(q);

	if (!q->acquired)
		return fail(c, i, E_NOT_ACQUIRED, "the client is not acquired: AT+CMQTTACCQ first");
	if (q->op == OP_CONNECT)
		return fail(c, i, E_BUSY, "the client's CONNECT is outstanding");
	if (q->connected || q->cl->state != MQTT_S_IDLE)
		return fail(c, i, E_NOT_SUPPORTED, "only before AT+CMQTTCONNECT");
	return 0;
}

/* On a connected client (TOPIC, PAYLOAD, SUBTOPIC ...; busy: also no operation outstanding). */
static int need_connected(struct at_call *c, struct cmq_client *q, bool busy)
{
	int i = idx_of(q);

	if (!q->acquired)
		return fail(c, i, E_NOT_ACQUIRED, "the client is not acquired");
	if (q->op == OP_CONNECT || (busy && q->op != OP_NONE))
		return fail(c, i, E_BUSY, "the client's previous operation is outstanding");
	if (!q->connected || q->cl->state != MQTT_S_CONNECTED)
		return fail(c, i, E_NO_CONN, "the client is not connected");
	return 0;
}

/* ---- the data phase (`>` then exactly len bytes, at/simcom.h simcom_prompt) ---- */

static bool topic_ok(struct modem *m, const struct cmq_client *q, const struct buf *d,
                     bool is_topic)
{
	const char *reason = NULL;

	if (is_topic && memchr(d->data, 0, d->len)) {
		at_why(m, "a topic cannot hold a NUL byte");
		return false;
	}
	if (q->check_utf8 && mqtt_codec_check_utf8((const char *)d->data, d->len, &reason)) {
		at_why(m, "checkUTF8 is on: %s", reason ? reason : "not UTF-8");
		return false;
	}
	return true;
}

static int topics_add(struct modem *m, struct cmq_topics *t, const struct buf *d, int qos)
{
	char *s;

	if (t->n == CMQ_SUBS_MAX || t->bytes + d->len > CMQ_SUB_BYTES) {
		at_why(m, "the cached topics are full (%d topics, %zu of %d bytes)", t->n, t->bytes,
		       CMQ_SUB_BYTES);
		return E_LENGTH;
	}
	s = malloc(d->len + 1);
	if (!s)
		return E_FAILED;
	memcpy(s, d->data, d->len);
	s[d->len] = 0;
	t->t[t->n] = s;
	t->qos[t->n] = qos;
	t->n++;
	t->bytes += d->len;
	return E_OK;
}

static int do_subscribe(struct modem *m, struct cmq_client *q, struct cmq_topics *t, bool sub)
{
	uint16_t id = next_id(q);
	int rc = sub ? mqtt_client_subscribe(q->cl, id, (const char *const *)t->t, t->qos, t->n)
	             : mqtt_client_unsubscribe(q->cl, id, (const char *const *)t->t, t->n);

	topics_clear(t); /* reference §2: cleared after SUB / UNSUB */
	if (rc) {
		at_why(m, "%s not sent: %s", sub ? "SUBSCRIBE" : "UNSUBSCRIBE", err_str(rc));
		return E_FAILED;
	}
	q->op = sub ? OP_SUB : OP_UNSUB;
	q->op_id = id;
	q->cmd_at = modem_now(m);
	return E_OK;
}

/* The data of in is complete: the command's result. */
static int input_done(struct modem *m, struct cmq_input *in)
{
	struct cmq_client *q = in->q;
	struct mqtt_cfg *cfg = &q->cl->cfg;
	bool is_topic = in->kind != IN_WILLMSG && in->kind != IN_PAYLOAD;
	int i = idx_of(q), err = E_OK;

	if (!topic_ok(m, q, &in->data, is_topic)) {
		err = E_UTF8;
		goto out;
	}
	switch (in->kind) {
	case IN_WILLTOPIC:
		memcpy(cfg->will_topic, in->data.data, in->data.len);
		cfg->will_topic[in->data.len] = 0;
		q->will_topic_set = true;
		break;
	case IN_WILLMSG:
		buf_reset(&cfg->will_msg);
		buf_append(&cfg->will_msg, in->data.data, in->data.len);
		cfg->will_qos = in->qos;
		cfg->will_retain = 0; /* reference §3.6: no retain parameter */
		q->will_msg_set = true;
		break;
	case IN_TOPIC:
		buf_reset(&q->topic);
		buf_append(&q->topic, in->data.data, in->data.len);
		buf_putc(&q->topic, 0);
		q->topic_set = true;
		break;
	case IN_PAYLOAD:
		buf_reset(&q->payload);
		buf_append(&q->payload, in->data.data, in->data.len);
		break;
	case IN_SUBTOPIC:
		err = topics_add(m, &q->sub, &in->data, in->qos);
		break;
	case IN_UNSUBTOPIC:
		err = topics_add(m, &q->unsub, &in->data, 0);
		break;
	case IN_SUB:
	case IN_UNSUB: {
		struct cmq_topics *t = in->kind == IN_SUB ? &q->sub : &q->unsub;

		/* the client may have lost its connection while the host typed */
		if (!q->connected || q->cl->state != MQTT_S_CONNECTED) {
			err = E_NO_CONN;
			break;
		}
		if (q->op != OP_NONE) {
			err = E_BUSY;
			break;
		}
		topics_clear(t);
		err = topics_add(m, t, &in->data, in->qos);
		if (err == E_OK)
			err = do_subscribe(m, q, t, in->kind == IN_SUB);
		break;
	}
	}
out:
	if (err == E_OK)
		return AT_OK;
	at_info(m, "%s: %d,%d", in->name, i, err);
	return AT_ERROR;
}

static void in_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct cmq_input *in = arg;

	(void)m;
	buf_append(&in->data, p, n);
}

static void in_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct cmq_input *in = arg;
	int rc = AT_ERROR;

	switch (why) {
	case AT_END_ABANDON:
		/* reboot or shutdown: nothing completes */
		buf_free(&in->data);
		return;
	case AT_END_COUNT:
	case AT_END_SUBMIT:
		rc = input_done(m, in);
		break;
	case AT_END_CANCEL:
	case AT_END_ESCAPE:
	case AT_END_TIMEOUT:
		at_why(m, "the data phase ended short");
		break;
	}
	buf_free(&in->data);
	at_complete(m, rc);
}

static const struct at_data_ops in_ops = {in_data, in_end};

static int input(struct at_call *c, struct cmq_client *q, enum cmq_input_kind kind, long long len,
                 int qos)
{
	struct cmq_input *in = &state_of(c->m)->in;

	buf_free(&in->data);
	buf_init(&in->data, (size_t)len);
	in->q = q;
	in->kind = kind;
	in->name = c->cmd->name;
	in->qos = qos;
	simcom_prompt(c->m, (size_t)len, &in_ops, in);
	return AT_PENDING;
}

/* ---- the service ---- */

static int cmd_start(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_state *s = state_of(m);
	int err = E_OK;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (simcom_cch_started(m)) {
		/* seed 002: a SIM7670G answers ERROR while the CCH SSL service runs */
		at_why(m, "the SSL socket service (AT+CCHSTART) is started");
		return AT_ERROR;
	}
	if (s->started) {
		at_why(m, "the MQTT service is started already");
		if (traits(m)->start_again_err)
			at_info(m, "+CMQTTSTART: %d", traits(m)->start_again_err);
		return AT_ERROR;
	}
	/* START activates the PDP context itself (reference §3.1) */
	if (m->cfun != 1 || !reg_registered(m)) {
		at_why(m, "not registered: network open fail");
		err = 7;
	} else {
		if (!pdp_active(m, SIMCOM_NET_CID))
			pdp_activate(m, SIMCOM_NET_CID);
		s->started = true;
	}
	if (traits(m)->start_urc_first) {
		at_info(m, "+CMQTTSTART: %d", err);
		return AT_OK;
	}
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++)
		s->q[i].cmd_at = modem_now(m);
	urc(m, &s->q[0], LAT_START_MS, "+CMQTTSTART: %d", err);
	return AT_OK;
}

static int cmd_stop(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_state *s = state_of(m);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!started(c))
		return AT_ERROR;
	for (int i = 0; i < m->model->mqtt.clients; i++) {
		if (s->q[i].acquired) {
			at_why(m, "client %d is acquired: AT+CMQTTREL first", i);
			at_info(m, "+CMQTTSTOP: %d", E_NOT_RELEASED);
			return AT_ERROR;
		}
	}
	s->started = false;
	s->q[0].cmd_at = modem_now(m);
	urc(m, &s->q[0], LAT_START_MS, "+CMQTTSTOP: 0");
	return AT_OK;
}

/* ---- clients ---- */

static int cmd_accq(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_state *s = state_of(m);
	struct cmq_client *q;

	if (!started(c))
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			q = &s->q[i];
			if (traits(m)->accq_version)
				at_info(m, "+CMQTTACCQ: %d,\"%s\",%d,%d", i, q->id, q->server_type,
				        q->version);
			else
				at_info(m, "+CMQTTACCQ: %d,\"%s\",%d", i, q->id, q->server_type);
		}
		return AT_OK;
	}
	q = client_of(c);
	if (q->acquired)
		return fail(c, idx_of(q), E_USED, "the client is acquired already");
	if (c->args.p[1].len < 1 || at_str(c, 1, q->id, sizeof(q->id))) {
		q->id[0] = 0;
		at_why(m, "clientID: 1-%d bytes", CMQ_ID_MAX);
		return AT_ERROR;
	}
	q->acquired = true;
	q->server_type = at_given(c, 2) ? (int)at_num(c, 2) : 0;
	q->version = at_given(c, 3) ? (int)at_num(c, 3) : simcom_mqtt_version_default(m);
	return AT_OK;
}

static int cmd_rel(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_client *q;

	if (!started(c))
		return AT_ERROR;
	if (c->req == AT_REQ_READ)
		return AT_OK;
	q = client_of(c);
	if (!q->acquired)
		return fail(c, idx_of(q), E_NOT_ACQUIRED, "the client is not acquired");
	if (q->connected || q->op != OP_NONE)
		/* choice: the manual only says "after DISC" */
		return fail(c, idx_of(q), E_BUSY, "the client is connected: AT+CMQTTDISC first");
	/* a refused CONNACK's connection may linger until the broker closes it (its URC is out
	 * already): the release ends it, as a new CONNECT would */
	mqtt_client_drop(q->cl, true);
	client_reset(m, q);
	return AT_OK;
}

static int cmd_sslcfg(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_client *q;
	long long ctx;

	if (c->req == AT_REQ_TEST) {
		at_info(m, "+CMQTTSSLCFG: (0-1),(0-%d)", simcom_ssl_ctx_count(m) - 1);
		return AT_OK;
	}
	if (c->req == AT_REQ_READ) {
		if (!started(c))
			return AT_ERROR;
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			q = &state_of(m)->q[i];
			if (q->ssl_ctx >= 0)
				at_info(m, "+CMQTTSSLCFG: %d,%d", i, q->ssl_ctx);
			else
				at_info(m, "+CMQTTSSLCFG: %d,", i);
		}
		return AT_OK;
	}
	/* seed 002: OK even where AT+CMQTTSTART had failed */
	q = client_of(c);
	ctx = at_num(c, 1);
	if (ctx >= simcom_ssl_ctx_count(m)) {
		at_why(m, "SSL context 0-%d", simcom_ssl_ctx_count(m) - 1);
		return AT_ERROR;
	}
	if (q->connected || q->op == OP_CONNECT) {
		at_why(m, "only before AT+CMQTTCONNECT");
		return AT_ERROR;
	}
	q->ssl_ctx = (int)ctx;
	return AT_OK;
}

static int cmd_willtopic(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = before_connect(c, q);
	return rc ? rc : input(c, q, IN_WILLTOPIC, at_num(c, 1), 0);
}

static int cmd_willmsg(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = before_connect(c, q);
	return rc ? rc : input(c, q, IN_WILLMSG, at_num(c, 1), (int)at_num(c, 2));
}

/* ---- AT+CMQTTCFG ---- */

static int cmd_cfg(struct at_call *c)
{
	struct modem *m = c->m;
	const struct at_param *key = &c->args.p[0];
	struct cmq_client *q;
	int rc;

	if (c->req == AT_REQ_TEST) {
		at_info_lines(m, c->fam->data);
		return AT_OK;
	}
	if (!started(c))
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < m->model->mqtt.clients; i++) {
			q = &state_of(m)->q[i];
			at_info(m, "+CMQTTCFG: %d,%d,%d", i, q->check_utf8, q->optimeout);
		}
		return AT_OK;
	}
	if (c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
	    c->args.p[1].num >= m->model->mqtt.clients) {
		at_why(m, "client_index 0-%d", m->model->mqtt.clients - 1);
		return AT_ERROR;
	}
	q = &state_of(m)->q[c->args.p[1].num];
	if (at_param_is(key, "aliauth")) {
		/* Alibaba Cloud's sign-in: accepted and not used (reference §3.12) */
		if (c->args.n != 5)
			return AT_ERROR;
		return before_connect(c, q);
	}
	if (c->args.n != 3 || c->args.p[2].type != AT_P_NUM)
		return AT_ERROR;
	if (at_param_is(key, "checkUTF8")) {
		if (c->args.p[2].num < 0 || c->args.p[2].num > 1)
			return AT_ERROR;
		rc = before_connect(c, q);
		if (!rc)
			q->check_utf8 = (int)c->args.p[2].num;
		return rc;
	}
	if (at_param_is(key, "optimeout")) {
		if (c->args.p[2].num < 20 || c->args.p[2].num > 120)
			return AT_ERROR;
		rc = before_connect(c, q);
		if (!rc)
			q->optimeout = (int)c->args.p[2].num;
		return rc;
	}
	if (traits(m)->cfg_version && at_param_is(key, "version")) {
		if (c->args.p[2].num < 3 || c->args.p[2].num > 4)
			return AT_ERROR;
		rc = before_connect(c, q);
		if (!rc)
			q->version = (int)c->args.p[2].num;
		return rc;
	}
	at_why(m, "AT+CMQTTCFG key \"%.*s\" is not simulated on the %s", (int)key->len, key->s,
	       m->model->model);
	return AT_ERROR;
}

/* ---- AT+CMQTTCONNECT / AT+CMQTTDISC ---- */

/* "tcp://host[:port]" (ssl:// where the model takes it): 0, or -1. */
static int parse_url(struct modem *m, const char *url, char *host, size_t host_len, int *port,
                     bool *ssl)
{
	const char *h, *colon;
	size_t n;
	long p = 1883;

	if (strncmp(url, "tcp://", 6) == 0) {
		*ssl = false;
	} else if (traits(m)->url_ssl && strncmp(url, "ssl://", 6) == 0) {
		*ssl = true;
	} else {
		at_why(m, "server_addr must start with tcp://%s",
		       traits(m)->url_ssl ? " or ssl://" : "");
		return -1;
	}
	h = url + 6;
	colon = strchr(h, ':');
	n = colon ? (size_t)(colon - h) : strlen(h);
	if (n == 0 || n >= host_len) {
		at_why(m, "the host name is empty or longer than %zu bytes", host_len - 1);
		return -1;
	}
	if (colon) {
		char *end;

		p = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end || p < 1 || p > 65535) {
			at_why(m, "bad port in server_addr");
			return -1;
		}
	}
	memcpy(host, h, n);
	host[n] = 0;
	*port = (int)p;
	return 0;
}

static int cmd_connect(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_state *s = state_of(m);
	struct cmq_client *q;
	struct mqtt_cfg *cfg;
	struct ssl_params sp;
	char url[CMQ_URL_MAX + 1], host[MQTT_HOST_MAX + 1], cause[200];
	int port, i, rc, ctx, timeout_s = CONNECT_TIMEOUT_S;
	bool ssl;

	if (c->req == AT_REQ_READ) {
		if (!started(c))
			return AT_ERROR;
		for (i = 0; i < m->model->mqtt.clients; i++) {
			q = &s->q[i];
			if (!q->connected) {
				at_info(m, "+CMQTTCONNECT: %d", i);
				continue;
			}
			if (q->has_pass)
				at_info(m, "+CMQTTCONNECT: %d,\"%s\",%d,%d,\"%s\",\"%s\"", i,
				        q->url, q->keepalive, q->clean, q->user, q->pass);
			else if (q->has_user)
				at_info(m, "+CMQTTCONNECT: %d,\"%s\",%d,%d,\"%s\"", i, q->url,
				        q->keepalive, q->clean, q->user);
			else
				at_info(m, "+CMQTTCONNECT: %d,\"%s\",%d,%d", i, q->url,
				        q->keepalive, q->clean);
		}
		return AT_OK;
	}
	q = client_of(c);
	i = idx_of(q);
	/* seed 002 (SIM7670G): the user name and an empty password: bare ERROR */
	if (at_str(c, 1, url, sizeof(url)) || strlen(url) < 9 ||
	    (at_given(c, 4) && c->args.p[4].len < 1) || (at_given(c, 5) && c->args.p[5].len < 1)) {
		at_why(m, "server_addr 9-%d bytes, user name and password 1-%d bytes", CMQ_URL_MAX,
		       CMQ_CRED_MAX);
		return AT_ERROR;
	}
	if (!s->started || !q->acquired)
		/* choice: seed 002's answer with START and ACCQ failed */
		return fail(c, i, E_PARAM, "no acquired client: AT+CMQTTSTART, AT+CMQTTACCQ");
	if (q->op != OP_NONE)
		return fail(c, i, E_BUSY, "the client's previous operation is outstanding");
	if (q->connected)
		return fail(c, i, E_NOT_SUPPORTED, "the client is connected already");
	if (parse_url(m, url, host, sizeof(host), &port, &ssl))
		return fail(c, i, E_PARAM, "bad server_addr");
	if (q->cl->state != MQTT_S_IDLE)
		mqtt_client_drop(q->cl, false); /* a refused CONNACK's connection, if it lingers */
	memcpy(q->url, url, sizeof(url));
	q->keepalive = (int)at_num(c, 2);
	q->clean = (int)at_num(c, 3);
	q->has_user = at_given(c, 4) && !at_str(c, 4, q->user, sizeof(q->user));
	q->has_pass = at_given(c, 5) && !at_str(c, 5, q->pass, sizeof(q->pass));
	cfg = &q->cl->cfg;
	cfg->version = q->version;
	cfg->keepalive = q->keepalive;
	cfg->clean = q->clean;
	cfg->pkt_timeout = q->optimeout;
	cfg->retry_times = 3;
	cfg->will_fg = q->will_topic_set && q->will_msg_set;
	q->op = OP_CONNECT;
	q->cmd_at = modem_now(m);
	q->urc_due = 0;
	ssl = ssl || q->server_type == 1;
	if (ssl) {
		ctx = q->ssl_ctx >= 0 ? q->ssl_ctx : i;
		rc = simcom_ssl_params(m, ctx, host, &sp, cause, sizeof(cause));
		if (rc) {
			at_why(m, "SSL context %d: %s", ctx, cause);
			trace_event(m->index, "tls", "client %d: %s", i, cause);
			connect_failed(m, q,
			               rc == SIMCOM_SSL_NOCERT ? E_NOCERT
			                                       : traits(m)->handshake_err);
			return AT_OK;
		}
		if (sp.negotiate_s > 0 && sp.negotiate_s < timeout_s)
			timeout_s = sp.negotiate_s;
	}
	rc = mqtt_client_open(q->cl, host, port, ssl ? &sp.cfg : NULL,
	                      modem_proto_ms(m, (uint64_t)timeout_s * 1000));
	if (rc) {
		at_why(m, "cannot start the connection: %s", err_str(rc));
		connect_failed(m, q, E_SOCK_CONNECT);
	}
	return AT_OK;
}

static int cmd_disc(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_client *q;
	long long t;
	int i, rc;

	if (!started(c))
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		/* reference §3.8: 0 connected, 1 disconnected */
		for (i = 0; i < m->model->mqtt.clients; i++)
			at_info(m, "+CMQTTDISC: %d,%d", i, state_of(m)->q[i].connected ? 0 : 1);
		return AT_OK;
	}
	q = client_of(c);
	i = idx_of(q);
	t = at_num(c, 1);
	if (t != 0 && t < traits(m)->disc_timeout_min) {
		at_why(m, "timeout 0 or %d-180", traits(m)->disc_timeout_min);
		return AT_ERROR;
	}
	rc = need_connected(c, q, true);
	if (rc)
		return rc;
	rc = mqtt_client_disconnect(q->cl);
	if (rc)
		return fail(c, i, E_NO_CONN, "DISCONNECT not sent");
	q->op = OP_DISC;
	q->cmd_at = modem_now(m);
	return AT_OK;
}

/* ---- publishing ---- */

static int cmd_topic(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = need_connected(c, q, false);
	return rc ? rc : input(c, q, IN_TOPIC, at_num(c, 1), 0);
}

static int cmd_payload(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = need_connected(c, q, false);
	return rc ? rc : input(c, q, IN_PAYLOAD, at_num(c, 1), 0);
}

static void pub_timeout_fire(struct modem *m, void *arg)
{
	struct cmq_client *q = arg;

	q->pub_timer = NULL;
	if (q->op == OP_PUB) {
		trace_event(m->index, "mqtt", "client %d: no PUBACK/PUBCOMP within pub_timeout",
		            idx_of(q));
		op_done(m, q, 0, E_TIMEOUT);
	}
}

static int cmd_pub(struct at_call *c)
{
	struct modem *m = c->m;
	struct cmq_client *q;
	int qos = (int)at_num(c, 1), i, rc;
	long long timeout = at_num(c, 2);
	uint16_t id;

	if (!started(c))
		return AT_ERROR;
	if (timeout < traits(m)->pub_timeout_min) {
		at_why(m, "pub_timeout %d-180", traits(m)->pub_timeout_min);
		return AT_ERROR;
	}
	q = client_of(c);
	i = idx_of(q);
	rc = need_connected(c, q, true);
	if (rc)
		return rc;
	if (!q->topic_set)
		return fail(c, i, E_NO_TOPIC, "no topic: AT+CMQTTTOPIC first");
	id = qos ? next_id(q) : 0;
	rc = mqtt_client_publish(q->cl, id, qos, at_given(c, 3) ? (int)at_num(c, 3) : 0,
	                         (const char *)q->topic.data, q->payload.data, q->payload.len, 0);
	pub_clear(q); /* reference §3.9: cleared after PUB */
	if (rc)
		return fail(c, i, E_FAILED, "PUBLISH not sent");
	q->cmd_at = modem_now(m);
	modem_hook_note(m, MODEM_NOTE_PUBLISH, i);
	q->op = OP_PUB;
	q->op_id = id;
	if (qos == 0) {
		op_done(m, q, LAT_PUB_MS, E_OK); /* once the packet is written */
		return AT_OK;
	}
	q->pub_timer =
	        modem_after(m, modem_proto_ms(m, (uint64_t)timeout * 1000), pub_timeout_fire, q);
	return AT_OK;
}

/* ---- subscribing ---- */

static int cmd_subtopic(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = need_connected(c, q, false);
	return rc ? rc : input(c, q, IN_SUBTOPIC, at_num(c, 1), (int)at_num(c, 2));
}

static int cmd_unsubtopic(struct at_call *c)
{
	struct cmq_client *q;
	int rc;

	if (!started(c))
		return AT_ERROR;
	q = client_of(c);
	rc = need_connected(c, q, false);
	return rc ? rc : input(c, q, IN_UNSUBTOPIC, at_num(c, 1), 0);
}

/* Form A, the cached topics: AT+CMQTTSUB=i[,dup] / AT+CMQTTUNSUB=i[,dup]; form B, one topic
 * after `>`: AT+CMQTTSUB=i,len,qos[,dup] / AT+CMQTTUNSUB=i,len,dup (reference §3.10-3.11). */
static int sub_or_unsub(struct at_call *c, bool sub)
{
	struct modem *m = c->m;
	struct cmq_client *q = client_of(c);
	struct cmq_topics *t = sub ? &q->sub : &q->unsub;
	int i = idx_of(q), rc, err;

	if (c->args.n < 3) {
		if (at_given(c, 1) && at_num(c, 1) > 1) {
			at_why(m, "dup 0-1");
			return AT_ERROR;
		}
		rc = need_connected(c, q, true);
		if (rc)
			return rc;
		if (t->n == 0)
			return fail(c, i, E_NO_TOPIC, "no cached topic");
		err = do_subscribe(m, q, t, sub);
		return err ? fail(c, i, err, "not sent") : AT_OK;
	}
	if (at_num(c, 1) < 1 || at_num(c, 2) > (sub ? 2 : 1)) {
		at_why(m, "length 1-%d, %s", CMQ_LEN_MAX, sub ? "qos 0-2" : "dup 0-1");
		return AT_ERROR;
	}
	rc = need_connected(c, q, true);
	if (rc)
		return rc;
	return input(c, q, sub ? IN_SUB : IN_UNSUB, at_num(c, 1), sub ? (int)at_num(c, 2) : 0);
}

static int cmd_sub(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		/* A76XX manual 18.2.13: `+CMQTTSUB: [<topic>]`; nothing cached is shown: a
		 * choice */
		return started(c) ? AT_OK : AT_ERROR;
	}
	if (!started(c))
		return AT_ERROR;
	return sub_or_unsub(c, true);
}

static int cmd_unsub(struct at_call *c)
{
	if (!started(c))
		return AT_ERROR;
	return sub_or_unsub(c, false);
}

/* ---- the family's state ---- */

/* The network dropped the context (reference §2 "Module reset while connected", §10.6):
 * every client is lost with cause 3, then +CMQTTNONET, and the service is stopped. */
static void net_lost(struct modem *m)
{
	struct cmq_state *s = state_of(m);

	if (!s || !s->started)
		return;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		struct cmq_client *q = &s->q[i];

		if (q->cl->state != MQTT_S_IDLE)
			mqtt_client_lose(q->cl, MQTT_LOSS_DROPPED, "the network closed");
		op_done(m, q, 0, E_SOCK_CONNECT);
		client_reset(m, q);
	}
	s->started = false;
	urc(m, &s->q[0], 0, "+CMQTTNONET"); /* after the clients' CONNLOST */
}

static void net_event(struct modem *m, enum simcom_net_event ev, void *arg)
{
	(void)arg;
	if (ev == SIMCOM_NET_LOST)
		net_lost(m);
}

static void cmq_pdp_down(struct modem *m, int cid, bool by_network)
{
	(void)by_network;
	if (cid == SIMCOM_NET_CID)
		net_lost(m);
}

static int cmq_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct cmq_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ERR_NOMEM;
	*slot = s;
	buf_init(&s->in.data, 0);
	modem_mqtt(m)->env.ops = &cmq_ops;
	modem_mqtt(m)->env.owner = m;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		struct cmq_client *q = &s->q[i];

		q->cl = &modem_mqtt(m)->c[i];
		q->cl->user = q;
		buf_init(&q->topic, 0);
		buf_init(&q->payload, 0);
		client_reset(m, q);
	}
	return simcom_net_observe(m, net_event, NULL);
}

/* Power cycle: every client is gone without a URC (the host asked for it); the modem's timers
 * (URC jobs, pub_timeout) were cancelled already. */
static void cmq_reboot(struct modem *m)
{
	struct cmq_state *s = state_of(m);

	if (!s)
		return;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		struct cmq_client *q = &s->q[i];

		mqtt_client_drop(q->cl, true);
		mqtt_cfg_defaults(&q->cl->cfg);
		q->pub_timer = NULL;
		q->urc_queued = 0;
		q->cmd_at = q->urc_due = 0;
		client_reset(m, q);
	}
	s->started = false;
	buf_free(&s->in.data);
}

static void cmq_close(struct modem *m)
{
	struct cmq_state *s = state_of(m);
	void **slot;

	if (!s)
		return;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		s->q[i].pub_timer = NULL;
		topics_clear(&s->q[i].sub);
		topics_clear(&s->q[i].unsub);
		buf_free(&s->q[i].topic);
		buf_free(&s->q[i].payload);
	}
	buf_free(&s->in.data);
	free(s);
	slot = modem_family_state(m, &at_family_mqtt_sim7600);
	if (!slot)
		slot = modem_family_state(m, &at_family_mqtt_a7670);
	*slot = NULL;
}

/* The host read what waited: messages the clients held may be taken now. */
static void cmq_host_drained(struct modem *m)
{
	struct cmq_state *s = state_of(m);

	for (int i = 0; s && i < MQTT_CLIENTS_MAX; i++)
		if (s->q[i].cl->conn && s->q[i].cl->rx.len)
			mqtt_client_resume(s->q[i].cl);
}

/* The dialect's outcome URCs, for observers (modem/findings.c): +CMQTTCONNECT: i,<err> (0:
 * connected), +CMQTTCONNLOST: i,<cause>, +CMQTTDISC: i,0 (the end the host asked for). */
static bool cmq_shown(const char *line, size_t len, struct mqtt_shown *out)
{
	char s[48];
	int idx, a;

	if (len < 14 || len >= sizeof(s) || memcmp(line, "+CMQTT", 6) != 0)
		return false;
	memcpy(s, line, len);
	s[len] = 0;
	memset(out, 0, sizeof(*out));
	if (sscanf(s, "+CMQTTCONNECT: %d,%d", &idx, &a) == 2) {
		out->kind = MQTT_SHOWN_CONN;
		out->ok = a == 0;
	} else if (sscanf(s, "+CMQTTCONNLOST: %d,%d", &idx, &a) == 2) {
		out->kind = MQTT_SHOWN_LOST;
	} else if (sscanf(s, "+CMQTTDISC: %d,%d", &idx, &a) == 2 && a == 0) {
		out->kind = MQTT_SHOWN_LOST;
		out->normal = true;
	} else {
		return false;
	}
	if (idx < 0 || idx >= MQTT_CLIENTS_MAX)
		return false;
	out->client = idx;
	out->code = a;
	return true;
}

bool simcom_mqtt_started(struct modem *m)
{
	struct cmq_state *s = state_of(m);

	return s && s->started;
}

#define W AT_REQ_WRITE
#define T AT_REQ_TEST
#define R AT_REQ_READ
#define X AT_REQ_EXEC

#define CMQ_ROWS_COMMON                                                                            \
	{"+CMQTTSTART", X | T, 0, 0, NULL, 0, NULL, 0, 0, cmd_start},                              \
	        {"+CMQTTSTOP", X | T, 0, 0, NULL, 0, NULL, 0, 0, cmd_stop},                        \
	        {"+CMQTTREL",        W | R | T, 1, 1,      AT_SPEC(AT_NUM(0, 1)),                  \
	         "+CMQTTREL: (0-1)", 0,         0, cmd_rel},                                       \
	        {"+CMQTTSSLCFG", W | R | T, 2, 2,         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 9)),     \
	         NULL,           0,         0, cmd_sslcfg},                                        \
	        {"+CMQTTWILLTOPIC",                                                                \
	         W | T,                                                                            \
	         2,                                                                                \
	         2,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, CMQ_LEN_MAX)),                                    \
	         "+CMQTTWILLTOPIC: (0-1),(1-1024)",                                                \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_willtopic},                                                                   \
	        {"+CMQTTWILLMSG",                                                                  \
	         W | T,                                                                            \
	         3,                                                                                \
	         3,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, CMQ_LEN_MAX), AT_NUM(0, 2)),                      \
	         "+CMQTTWILLMSG: (0-1),(1-1024),(0-2)",                                            \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_willmsg},                                                                     \
	        {"+CMQTTTOPIC",                                                                    \
	         W | T,                                                                            \
	         2,                                                                                \
	         2,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, CMQ_LEN_MAX)),                                    \
	         "+CMQTTTOPIC: (0-1),(1-1024)",                                                    \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_topic},                                                                       \
	        {"+CMQTTPAYLOAD",                                                                  \
	         W | T,                                                                            \
	         2,                                                                                \
	         2,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, 10240)),                                          \
	         "+CMQTTPAYLOAD: (0-1),(1-10240)",                                                 \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_payload},                                                                     \
	        {"+CMQTTSUBTOPIC",                                                                 \
	         W | T,                                                                            \
	         3,                                                                                \
	         3,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, CMQ_LEN_MAX), AT_NUM(0, 2)),                      \
	         "+CMQTTSUBTOPIC: (0-1),(1-1024),(0-2)",                                           \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_subtopic},                                                                    \
	        {"+CMQTTUNSUBTOPIC",                                                               \
	         W | T,                                                                            \
	         2,                                                                                \
	         2,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(1, CMQ_LEN_MAX)),                                    \
	         "+CMQTTUNSUBTOPIC: (0-1),(1-1024)",                                               \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_unsubtopic},                                                                  \
	        {"+CMQTTUNSUB",                                                                    \
	         W | T,                                                                            \
	         1,                                                                                \
	         3,                                                                                \
	         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, CMQ_LEN_MAX), AT_NUM(0, 1)),                      \
	         "+CMQTTUNSUB: (0-1),(1-1024),(0-1)",                                              \
	         0,                                                                                \
	         0,                                                                                \
	         cmd_unsub},                                                                       \
	{                                                                                          \
		"+CMQTTCFG", W | R | T, 3, 5, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_cfg            \
	}

static const struct at_cmd mqtt_sim7600_cmds[] = {
        CMQ_ROWS_COMMON,
        {"+CMQTTACCQ", W | R | T, 2, 4,
         AT_SPEC(AT_NUM(0, 1), AT_STR(CMQ_ID_MAX), AT_NUM(0, 1), AT_NUM(3, 4)),
         "+CMQTTACCQ: (0-1),(1-128),(0-1),(3-4)", 0, 0, cmd_accq},
        {"+CMQTTCONNECT", W | R | T, 4, 6,
         AT_SPEC(AT_NUM(0, 1), AT_STR(CMQ_URL_MAX), AT_NUM(1, 64800), AT_NUM(0, 1),
                 AT_STR(CMQ_CRED_MAX), AT_STR(CMQ_CRED_MAX)),
         "+CMQTTCONNECT: (0-1),(9-256),(1-64800),(0-1)", 0, 0, cmd_connect},
        {"+CMQTTDISC", W | R | T, 2, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 180)),
         "+CMQTTDISC: (0-1),(0,60-180)", 0, 0, cmd_disc},
        {"+CMQTTPUB", W | T, 3, 5,
         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 2), AT_NUM(1, 180), AT_NUM(0, 1), AT_NUM(0, 1)),
         "+CMQTTPUB: (0-1),(0-2),(60-180),(0-1),(0-1)", 0, 0, cmd_pub},
        {"+CMQTTSUB", W | T, 1, 4,
         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, CMQ_LEN_MAX), AT_NUM(0, 2), AT_NUM(0, 1)),
         "+CMQTTSUB: (0-1),(1-1024),(0-2),(0-1)", 0, 0, cmd_sub},
        {0},
};

static const struct at_cmd mqtt_a7670_cmds[] = {
        CMQ_ROWS_COMMON,
        {"+CMQTTACCQ", W | R | T, 2, 3, AT_SPEC(AT_NUM(0, 1), AT_STR(CMQ_ID_MAX), AT_NUM(0, 1)),
         "+CMQTTACCQ: (0-1),(1-128),(0-1)", 0, 0, cmd_accq},
        {"+CMQTTCONNECT", W | R | T, 4, 6,
         AT_SPEC(AT_NUM(0, 1), AT_STR(CMQ_URL_MAX), AT_NUM(1, 64800), AT_NUM(0, 1),
                 AT_STR(CMQ_CRED_MAX), AT_STR(CMQ_CRED_MAX)),
         "+CMQTTCONNECT: (0-1),(9-256),(1-64800),(0-1),(1-256),(1-256)", 0, 0, cmd_connect},
        {"+CMQTTDISC", W | R | T, 2, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 180)),
         "+CMQTTDISC: (0-1),(0,1-180)", 0, 0, cmd_disc},
        {"+CMQTTPUB", W | T, 3, 5,
         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 2), AT_NUM(1, 180), AT_NUM(0, 1), AT_NUM(0, 1)),
         "+CMQTTPUB: (0-1),(0-2),(1-180),(0-1),(0-1)", 0, 0, cmd_pub},
        {"+CMQTTSUB", W | R | T, 1, 4,
         AT_SPEC(AT_NUM(0, 1), AT_NUM(0, CMQ_LEN_MAX), AT_NUM(0, 2), AT_NUM(0, 1)),
         "+CMQTTSUB: (0-1),(1-1024),(0-2),(0-1)", 0, 0, cmd_sub},
        {0},
};

/* AT+CMQTTCFG=? (S76-ATC 16.2.17; A76XX adds "version" and "argtopic", reference §3.12) */
static const char cfg_test_sim7600[] = "+CMQTTCFG: \"checkUTF8\",(0-1),(0-1)\n"
                                       "+CMQTTCFG: \"optimeout\",(0-1),(20-120)\n"
                                       "+CMQTTCFG: \"aliauth\",(0-1),\"productkey\","
                                       "\"devicename\",\"devicesecret\"";
static const char cfg_test_a7670[] = "+CMQTTCFG: \"checkUTF8\",(0-1),(0-1)\n"
                                     "+CMQTTCFG: \"optimeout\",(0-1),(20-120)\n"
                                     "+CMQTTCFG: \"aliauth\",(0-1),\"productkey\","
                                     "\"devicename\",\"devicesecret\"\n"
                                     "+CMQTTCFG: \"version\",(0-1),(3-4)\n"
                                     "+CMQTTCFG: \"argtopic\",(0-1),(0-1)";

const struct at_family at_family_mqtt_sim7600 = {
        .name = "mqtt-simcom",
        .cmds = mqtt_sim7600_cmds,
        .data = cfg_test_sim7600,
        .init = cmq_init,
        .reboot = cmq_reboot,
        .close = cmq_close,
        .pdp_down = cmq_pdp_down,
        .host_drained = cmq_host_drained,
        .mqtt_shown = cmq_shown,
};

const struct at_family at_family_mqtt_a7670 = {
        .name = "mqtt-simcom-a76xx",
        .cmds = mqtt_a7670_cmds,
        .data = cfg_test_a7670,
        .init = cmq_init,
        .reboot = cmq_reboot,
        .close = cmq_close,
        .pdp_down = cmq_pdp_down,
        .host_drained = cmq_host_drained,
        .mqtt_shown = cmq_shown,
};
