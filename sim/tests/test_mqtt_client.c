/* The MQTT client (mqtt/client.c) with no modem and no pty: a network host on a libuv loop, a
 * fake broker on a loopback TCP server in the same loop whose behaviour each case scripts, and
 * an ops table that records every event. The broker frames and parses what the client sends
 * with mqtt/codec.h, and the cases compare the packets byte for byte with hand-written ones.
 *
 * Protocol timers run at time scale 0.01 (pkt_timeout 5 s: 50 ms). Every wait has a deadline,
 * and the loop closes cleanly at the end (no handle left, nothing leaked under ASan). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/err.h"
#include "core/log.h"
#include "mqtt/client.h"
#include "mqtt/codec.h"
#include "net/conn.h"
#include "net/host.h"
#include "net/trap.h"

#define SCALE 0.01
#define PKT_MS 50 /* pkt_timeout 5 s at SCALE */
#define SLACK 10 /* ms a timer's event may seem early, measured at the other end */
#define WAIT 3000 /* ms for anything that should happen soon */

static uv_loop_t loop;
static struct net_host nh;
static struct mqtt_limits limits = {
        .clients = 1, .inflight_max = 0, .payload_max = 4096, .topic_max = MQTT_TOPIC_MAX};
static struct mqtt_env env;

/* ---- waiting with a deadline ---- */

static bool timed_out;

static void on_wait_deadline(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

/* Run the loop until cond(arg) holds or ms pass; returns whether it holds. */
static bool run_until(bool (*cond)(const void *), const void *arg, uint64_t ms)
{
	uv_timer_t t;
	bool ok;

	timed_out = false;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_wait_deadline, ms, 0);
	while (!(ok = cond(arg)) && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return ok || cond(arg);
}

static bool never(const void *arg)
{
	(void)arg;
	return false;
}

static void run_for(uint64_t ms)
{
	run_until(never, NULL, ms);
}

/* ---- what the client reported ---- */

enum ev_kind {
	EV_STATE,
	EV_OPENED,
	EV_CONNACK,
	EV_SUBACK,
	EV_UNSUBACK,
	EV_PUBACK,
	EV_RETRANS,
	EV_GAVE_UP,
	EV_MESSAGE,
	EV_REFUSED, /* message() returned false */
	EV_PING_FAILED,
	EV_LOST,
	EV_KINDS,
};

struct ev {
	enum ev_kind kind;
	int a, b, c, d; /* per kind: see the ops below */
	uint64_t t; /* loop ms */
	uint8_t data[32]; /* SUBACK codes; a message's topic */
	size_t len;
	uint8_t payload[32];
	size_t payload_len;
};

#define EV_MAX 1024
static struct ev evs[EV_MAX];
static int nev;
static int counts[EV_KINDS];
static int delivered[65536]; /* message() accepted, per packet id */
static int accept_budget = -1; /* messages message() takes before refusing; -1: all */
static bool in_api, in_resume; /* inside a mqtt_client_* call (the ops check it) */
static int api_rc;

/* A call into the client, with the ops knowing they run inside it. */
#define API(call) (in_api = true, api_rc = (call), in_api = false, api_rc)

static void events_reset(void)
{
	nev = 0;
	memset(counts, 0, sizeof(counts));
	memset(delivered, 0, sizeof(delivered));
	accept_budget = -1;
}

static struct ev *record(enum ev_kind k, int a, int b, int c, int d)
{
	static struct ev spill;
	struct ev *e = nev < EV_MAX ? &evs[nev++] : &spill;

	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->a = a;
	e->b = b;
	e->c = c;
	e->d = d;
	e->t = uv_now(&loop);
	counts[k]++;
	return e;
}

/* The n-th (0-based) event of kind k, or one that matches no check (a case that goes wrong
 * fails its checks rather than crash). */
static const struct ev *nth(enum ev_kind k, int n)
{
	static const struct ev none = {EV_KINDS, -1000, -1000, -1000, -1000, 0, {0}, 0, {0}, 0};

	for (int i = 0; i < nev; i++)
		if (evs[i].kind == k && n-- == 0)
			return &evs[i];
	return &none;
}

/* Index of the first event of kind k in evs, or -1. */
static int first(enum ev_kind k)
{
	for (int i = 0; i < nev; i++)
		if (evs[i].kind == k)
			return i;
	return -1;
}

/* Every op but state() and message() comes from the loop, never from inside a call (client.h);
 * message() may come from inside mqtt_client_resume(). */
static void from_loop(void)
{
	CHECK(!in_api);
}

static void op_state(struct mqtt_client *c, enum mqtt_state old, enum mqtt_state now)
{
	CHECK(c->state == now && old != now);
	record(EV_STATE, (int)old, (int)now, 0, 0);
}

static void op_opened(struct mqtt_client *c, int status, const char *cause)
{
	from_loop();
	CHECK(status == 0 ? c->state == MQTT_S_OPEN : (c->state == MQTT_S_IDLE && cause));
	record(EV_OPENED, status, 0, 0, 0);
}

static void op_connack(struct mqtt_client *c, unsigned rc)
{
	from_loop();
	record(EV_CONNACK, (int)rc, (int)c->state, 0, 0);
}

static void op_suback(struct mqtt_client *c, uint16_t id, const uint8_t *granted, size_t n)
{
	struct ev *e;

	(void)c;
	from_loop();
	e = record(EV_SUBACK, id, (int)n, 0, 0);
	e->len = n < sizeof(e->data) ? n : sizeof(e->data);
	memcpy(e->data, granted, e->len);
}

static void op_unsuback(struct mqtt_client *c, uint16_t id)
{
	(void)c;
	from_loop();
	record(EV_UNSUBACK, id, 0, 0, 0);
}

static void op_puback(struct mqtt_client *c, uint16_t id, int tag)
{
	(void)c;
	from_loop();
	record(EV_PUBACK, id, tag, 0, 0);
}

static void op_retransmitted(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t id,
                             int tag, int retries)
{
	(void)c;
	from_loop();
	record(EV_RETRANS, (int)type, id, tag, retries);
}

static void op_gave_up(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t id, int tag)
{
	(void)c;
	from_loop();
	record(EV_GAVE_UP, (int)type, id, tag, 0);
}

static bool op_message(struct mqtt_client *c, uint16_t id, const struct mqtt_publish *pub)
{
	struct ev *e;

	(void)c;
	CHECK(!in_api || in_resume);
	if (accept_budget == 0) {
		record(EV_REFUSED, id, pub->qos, 0, 0);
		return false;
	}
	if (accept_budget > 0)
		accept_budget--;
	delivered[id]++;
	e = record(EV_MESSAGE, id, pub->qos, pub->dup, pub->retain);
	e->len = pub->topic.len < sizeof(e->data) ? pub->topic.len : sizeof(e->data);
	memcpy(e->data, pub->topic.ptr, e->len);
	e->payload_len = pub->payload.len;
	memcpy(e->payload, pub->payload.ptr,
	       pub->payload.len < sizeof(e->payload) ? pub->payload.len : sizeof(e->payload));
	return true;
}

static void op_ping_failed(struct mqtt_client *c)
{
	(void)c;
	from_loop();
	record(EV_PING_FAILED, 0, 0, 0, 0);
}

static void op_lost(struct mqtt_client *c, enum mqtt_loss why, const char *cause)
{
	from_loop();
	CHECK(c->state == MQTT_S_IDLE && c->conn == NULL && cause != NULL);
	record(EV_LOST, (int)why, 0, 0, 0);
}

static const struct mqtt_client_ops ops = {
        .state = op_state,
        .opened = op_opened,
        .connack = op_connack,
        .suback = op_suback,
        .unsuback = op_unsuback,
        .puback = op_puback,
        .retransmitted = op_retransmitted,
        .gave_up = op_gave_up,
        .message = op_message,
        .ping_failed = op_ping_failed,
        .lost = op_lost,
};

struct want {
	int kind;
	int n;
};

static bool have_events(const void *arg)
{
	const struct want *w = arg;

	return counts[w->kind] >= w->n;
}

/* Wait until n events of kind k in all. */
static bool wait_ev(enum ev_kind k, int n, uint64_t ms)
{
	struct want w = {k, n};

	return run_until(have_events, &w, ms);
}

/* ---- the fake broker ---- */

/* One connection the broker accepted; freed in its close callback. */
struct bconn {
	uv_tcp_t tcp;
	uv_shutdown_t shut;
	struct mqtt_framer fr;
	uint8_t level; /* from the CONNECT */
	bool closing;
};

struct bpkt {
	uint8_t *data;
	size_t len;
	uint64_t t;
	uint8_t level; /* the session's, to parse it again */
};

#define BPKT_MAX 1024

static struct broker {
	uv_tcp_t listener;
	int port;
	struct bconn *cur; /* the latest connection, until it closes */
	int open; /* connections not closed yet */
	int accepted;
	bool eof, reset; /* the client ended the latest connection with a FIN / an RST */
	bool bad; /* the client sent something the broker could not frame or parse */
	/* the script: what the broker answers by itself */
	int connack_rc; /* -1: no CONNACK */
	int grant; /* SUBACK codes: -1 as requested, else this one for every filter */
	bool suback, unsuback, puback, pubrec, pubcomp, pubrel, pingresp, close_on_disconnect;
	/* what arrived */
	struct bpkt pkts[BPKT_MAX];
	int npkts;
	int count[16]; /* packets per type */
} fake;

static void broker_reset(void)
{
	for (int i = 0; i < fake.npkts && i < BPKT_MAX; i++)
		free(fake.pkts[i].data);
	fake.npkts = 0;
	memset(fake.count, 0, sizeof(fake.count));
	fake.accepted = 0;
	fake.eof = fake.reset = fake.bad = false;
	fake.connack_rc = 0;
	fake.grant = -1;
	fake.suback = fake.unsuback = fake.puback = fake.pubrec = fake.pubcomp = true;
	fake.pingresp = fake.close_on_disconnect = true;
	fake.pubrel = false;
}

static void b_write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

/* Send bytes to the client on the latest connection. */
static void b_send(const void *p, size_t n)
{
	uv_write_t *w;
	uv_buf_t b;

	CHECK(fake.cur && !fake.cur->closing);
	if (!fake.cur || fake.cur->closing)
		return;
	w = malloc(sizeof(*w));
	b = uv_buf_init(malloc(n ? n : 1), (unsigned)n);
	memcpy(b.base, p, n);
	w->data = b.base;
	CHECK(uv_write(w, (uv_stream_t *)&fake.cur->tcp, &b, 1, b_write_done) == 0);
}

/* Send what b holds and free it. */
static void b_send_buf(struct buf *b)
{
	b_send(b->data, b->len);
	buf_free(b);
}

static void b_ack(enum mqtt_packet_type t, uint16_t id)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(mqtt_codec_encode_ack(&b, t, id) == 0);
	b_send_buf(&b);
}

static void b_empty(enum mqtt_packet_type t)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(mqtt_codec_encode_empty(&b, t) == 0);
	b_send_buf(&b);
}

/* Append a PUBLISH to b. */
static void put_publish(struct buf *b, int qos, uint16_t id, bool dup, const char *topic,
                        const char *payload)
{
	struct mqtt_publish p = {
	        .qos = (uint8_t)qos,
	        .dup = dup,
	        .topic = {topic, strlen(topic)},
	        .payload = {(const uint8_t *)payload, strlen(payload)},
	};

	CHECK(mqtt_codec_encode_publish(b, &p, id) == 0);
}

static void b_publish(int qos, uint16_t id, bool dup, const char *topic, const char *payload)
{
	struct buf b;

	buf_init(&b, 0);
	put_publish(&b, qos, id, dup, topic, payload);
	b_send_buf(&b);
}

static void b_closed(uv_handle_t *h)
{
	struct bconn *bc = h->data;

	if (fake.cur == bc)
		fake.cur = NULL;
	fake.open--;
	mqtt_framer_free(&bc->fr);
	free(bc);
}

static void b_shutdown_done(uv_shutdown_t *req, int status)
{
	struct bconn *bc = req->data;

	(void)status;
	if (!uv_is_closing((uv_handle_t *)&bc->tcp))
		uv_close((uv_handle_t *)&bc->tcp, b_closed);
}

/* End a connection: a FIN after what is queued, or an RST. */
static void b_close(struct bconn *bc, bool rst)
{
	if (!bc || bc->closing)
		return;
	bc->closing = true;
	if (rst) {
		uv_tcp_close_reset(&bc->tcp, b_closed);
		return;
	}
	bc->shut.data = bc;
	if (uv_shutdown(&bc->shut, (uv_stream_t *)&bc->tcp, b_shutdown_done) != 0)
		uv_close((uv_handle_t *)&bc->tcp, b_closed);
}

/* What the broker does with one packet from the client: record it, answer per the script. */
static void b_packet(struct bconn *bc, const uint8_t *frame, size_t len)
{
	struct mqtt_packet pk;
	const char *reason = NULL;
	struct buf b;

	if (fake.npkts < BPKT_MAX) {
		struct bpkt *p = &fake.pkts[fake.npkts];

		p->data = malloc(len);
		memcpy(p->data, frame, len);
		p->len = len;
		p->t = uv_now(&loop);
		p->level = bc->level;
	}
	fake.npkts++;
	fake.count[frame[0] >> 4]++;
	if (mqtt_codec_decode(frame, len, bc->level ? bc->level : MQTT_PROTO_V311, &pk, &reason) !=
	    0) {
		fprintf(stderr, "broker: bad packet from the client: %s\n", reason);
		fake.bad = true;
		return;
	}
	switch (pk.type) {
	case MQTT_CONNECT:
		bc->level = pk.connect.protocol;
		if (fake.connack_rc >= 0) {
			buf_init(&b, 0);
			CHECK(mqtt_codec_encode_connack(&b, false, (uint8_t)fake.connack_rc) == 0);
			b_send_buf(&b);
		}
		break;
	case MQTT_SUBSCRIBE:
		if (fake.suback) {
			uint8_t granted[16];
			struct mqtt_subscription s;
			size_t pos = 0, n = 0;

			while (n < sizeof(granted) &&
			       mqtt_codec_topic_list_next(&pk.topics, &pos, &s))
				granted[n++] = fake.grant < 0 ? s.qos : (uint8_t)fake.grant;
			buf_init(&b, 0);
			CHECK(mqtt_codec_encode_suback(&b, pk.packet_id, granted, n) == 0);
			b_send_buf(&b);
		}
		break;
	case MQTT_UNSUBSCRIBE:
		if (fake.unsuback)
			b_ack(MQTT_UNSUBACK, pk.packet_id);
		break;
	case MQTT_PUBLISH:
		if (pk.publish.qos == 1 && fake.puback)
			b_ack(MQTT_PUBACK, pk.packet_id);
		if (pk.publish.qos == 2 && fake.pubrec)
			b_ack(MQTT_PUBREC, pk.packet_id);
		break;
	case MQTT_PUBREC:
		if (fake.pubrel)
			b_ack(MQTT_PUBREL, pk.packet_id);
		break;
	case MQTT_PUBREL:
		if (fake.pubcomp)
			b_ack(MQTT_PUBCOMP, pk.packet_id);
		break;
	case MQTT_PINGREQ:
		if (fake.pingresp)
			b_empty(MQTT_PINGRESP);
		break;
	case MQTT_DISCONNECT:
		if (fake.close_on_disconnect)
			b_close(bc, false);
		break;
	case MQTT_CONNACK:
	case MQTT_PUBACK:
	case MQTT_PUBCOMP:
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		break;
	}
}

static uint8_t b_rbuf[64 * 1024];

static void b_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)h;
	(void)s;
	*b = uv_buf_init((char *)b_rbuf, sizeof(b_rbuf));
}

static void b_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct bconn *bc = st->data;
	size_t off = 0;

	if (n < 0) {
		if (bc == fake.cur) {
			fake.eof |= n == UV_EOF;
			fake.reset |= n != UV_EOF;
		}
		if (bc->closing) {
			/* a FIN of ours is on its way: nothing more to read */
			uv_read_stop(st);
			return;
		}
		b_close(bc, false);
		return;
	}
	while (off < (size_t)n && !bc->closing) {
		const uint8_t *frame;
		size_t used = 0, flen;
		int rc = mqtt_framer_feed(&bc->fr, (const uint8_t *)buf->base + off,
		                          (size_t)n - off, &used, &frame, &flen);

		off += used;
		if (rc < 0) {
			fprintf(stderr, "broker: cannot frame the client's bytes: %s\n",
			        bc->fr.reason);
			fake.bad = true;
			b_close(bc, true);
			return;
		}
		if (rc == 1)
			b_packet(bc, frame, flen);
	}
}

static void b_accept(uv_stream_t *l, int status)
{
	struct bconn *bc;

	if (status < 0)
		return;
	bc = calloc(1, sizeof(*bc));
	uv_tcp_init(&loop, &bc->tcp);
	bc->tcp.data = bc;
	fake.open++;
	if (uv_accept(l, (uv_stream_t *)&bc->tcp) != 0) {
		uv_close((uv_handle_t *)&bc->tcp, b_closed);
		return;
	}
	mqtt_framer_init(&bc->fr, 0);
	fake.cur = bc;
	fake.accepted++;
	fake.eof = fake.reset = false;
	uv_read_start((uv_stream_t *)&bc->tcp, b_alloc, b_read);
}

static void broker_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int len = sizeof(sa);

	memset(&fake, 0, sizeof(fake));
	broker_reset();
	uv_tcp_init(&loop, &fake.listener);
	CHECK(uv_tcp_bind(&fake.listener, (struct sockaddr *)&sa, 0) == 0);
	CHECK(uv_listen((uv_stream_t *)&fake.listener, 8, b_accept) == 0);
	uv_tcp_getsockname(&fake.listener, (struct sockaddr *)&sa, &len);
	fake.port = ntohs(sa.sin_port);
}

static void broker_stop(void)
{
	b_close(fake.cur, true);
	uv_close((uv_handle_t *)&fake.listener, NULL);
	broker_reset();
}

struct want_pkt {
	enum mqtt_packet_type type;
	int n;
};

static bool have_pkts(const void *arg)
{
	const struct want_pkt *w = arg;

	return fake.count[w->type] >= w->n;
}

/* Wait until the broker has n packets of type t in all. */
static bool wait_pkts(enum mqtt_packet_type t, int n, uint64_t ms)
{
	struct want_pkt w = {t, n};

	return run_until(have_pkts, &w, ms);
}

struct want_int {
	const int *p;
	int n;
};

static bool int_reached(const void *arg)
{
	const struct want_int *w = arg;

	return *w->p >= w->n;
}

static bool broker_idle(const void *arg)
{
	(void)arg;
	return fake.open == 0;
}

/* The n-th (0-based) packet of type t at the broker, or an empty one that matches no check. */
static const struct bpkt *bnth(enum mqtt_packet_type t, int n)
{
	static uint8_t nothing[1];
	static const struct bpkt none = {nothing, 0, 0, 0};

	for (int i = 0; i < fake.npkts && i < BPKT_MAX; i++)
		if (fake.pkts[i].data[0] >> 4 == t && n-- == 0)
			return &fake.pkts[i];
	return &none;
}

static uint16_t pkt_id(const struct bpkt *p)
{
	struct mqtt_packet pk;
	const char *reason;

	if (mqtt_codec_decode(p->data, p->len, p->level ? p->level : MQTT_PROTO_V311, &pk,
	                      &reason) != 0)
		return 0;
	return pk.packet_id;
}

static bool pkt_is(const struct bpkt *p, const uint8_t *want, size_t len)
{
	return p->len == len && memcmp(p->data, want, len) == 0;
}

/* ---- a client for each case ---- */

/* A new client, with no keepalive and a pkt_timeout of 600 ms: nothing times out unless the
 * case asks for it (fast_timers). */
static void client_new(struct mqtt_client *c)
{
	events_reset();
	broker_reset();
	mqtt_client_init(c, &env, 0, NULL);
	c->cfg.keepalive = 0;
	c->cfg.pkt_timeout = 60;
	c->cfg.retry_times = 3;
}

/* pkt_timeout 5 s: PKT_MS */
static void fast_timers(struct mqtt_client *c)
{
	c->cfg.pkt_timeout = 5;
}

/* Open the network to the broker; true when open. */
static bool client_open(struct mqtt_client *c)
{
	int n = counts[EV_OPENED];

	CHECK(API(mqtt_client_open(c, "127.0.0.1", fake.port, NULL, 2000)) == 0);
	CHECK(c->state == MQTT_S_OPENING);
	CHECK(counts[EV_OPENED] == n); /* never from inside the call */
	if (!wait_ev(EV_OPENED, n + 1, WAIT))
		return false;
	return nth(EV_OPENED, n)->a == 0 && c->state == MQTT_S_OPEN;
}

/* Open and connect; true when connected. */
static bool client_up(struct mqtt_client *c)
{
	int n;

	if (!client_open(c))
		return false;
	n = counts[EV_CONNACK];
	CHECK(API(mqtt_client_connect(c, "c", NULL, NULL)) == 0);
	CHECK(c->state == MQTT_S_CONNECTING);
	if (!wait_ev(EV_CONNACK, n + 1, WAIT))
		return false;
	return c->state == MQTT_S_CONNECTED;
}

/* Free the client (whatever it was doing) and check that nothing follows but its going: no
 * event after the state change, every connection closed at the broker. */
static void client_end(struct mqtt_client *c)
{
	int n;

	in_api = true;
	mqtt_client_free(c);
	in_api = false;
	CHECK(c->state == MQTT_S_IDLE && c->conn == NULL);
	n = nev;
	CHECK(run_until(broker_idle, NULL, WAIT));
	run_for(10); /* the client's timer closes */
	CHECK(nev == n);
}

/* ---- open ---- */

static void test_open(void)
{
	struct mqtt_client c;
	char longname[MQTT_HOST_MAX + 2];
	int refuse = net_trap_refuse_port();

	client_new(&c);
	CHECK(refuse > 0);

	/* a refused port: opened(-NET_ERR_REFUSED) from the loop, idle again, no lost() */
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", refuse, NULL, 2000)) == 0);
	CHECK(c.state == MQTT_S_OPENING && counts[EV_OPENED] == 0);
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", refuse, NULL, 2000)) == -ERR_STATE);
	CHECK(wait_ev(EV_OPENED, 1, WAIT));
	CHECK(nth(EV_OPENED, 0)->a == -NET_ERR_REFUSED);
	CHECK(c.state == MQTT_S_IDLE && c.conn == NULL);
	CHECK(counts[EV_LOST] == 0);
	CHECK(counts[EV_STATE] == 2 && nth(EV_STATE, 0)->b == MQTT_S_OPENING &&
	      nth(EV_STATE, 1)->b == MQTT_S_IDLE);

	/* bad arguments: nothing starts */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(API(mqtt_client_open(&c, "", fake.port, NULL, 2000)) == -ERR_INVAL);
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", 0, NULL, 2000)) == -ERR_INVAL);
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", 65536, NULL, 2000)) == -ERR_INVAL);
	CHECK(API(mqtt_client_open(&c, longname, fake.port, NULL, 2000)) == -ERR_INVAL);
	CHECK(c.state == MQTT_S_IDLE && counts[EV_STATE] == 2);

	/* MQTT needs the network first */
	CHECK(API(mqtt_client_connect(&c, "c", NULL, NULL)) == -ERR_STATE);
	CHECK(API(mqtt_client_disconnect(&c)) == -ERR_STATE);

	/* the broker: opened(0), state open, nothing sent yet */
	CHECK(client_open(&c));
	CHECK(nth(EV_OPENED, 1)->a == 0);
	{
		struct want_int w = {&fake.accepted, 1};

		CHECK(run_until(int_reached, &w, WAIT) && fake.accepted == 1 && fake.open == 1);
	}
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", fake.port, NULL, 2000)) == -ERR_STATE);
	run_for(20);
	CHECK(fake.npkts == 0);

	/* dropped by the owner: a graceful close, no event but the state */
	mqtt_client_drop(&c, false);
	CHECK(c.state == MQTT_S_IDLE && counts[EV_LOST] == 0);
	CHECK(run_until(broker_idle, NULL, WAIT));
	CHECK(fake.eof && !fake.reset);
	mqtt_client_lose(&c, MQTT_LOSS_DROPPED, "idle"); /* idle: nothing to lose */
	CHECK(counts[EV_LOST] == 0);

	/* dropped while opening: the connection is abandoned, opened() never comes */
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", fake.port, NULL, 2000)) == 0);
	mqtt_client_drop(&c, true);
	run_for(50);
	CHECK(counts[EV_OPENED] == 2 && c.state == MQTT_S_IDLE);

	/* and opened again after all that */
	CHECK(client_open(&c));
	client_end(&c);
}

/* ---- CONNECT and CONNACK ---- */

struct will {
	int qos, retain;
	const char *topic, *msg; /* topic NULL: no will */
};

struct connect_row {
	int version, clean, keepalive;
	const char *id;
	struct will will;
	const char *user, *pass;
	const uint8_t *want;
	size_t want_len;
};

/* 3.1.1 section 3.1 and 3.1 section 3.1: level 4 "MQTT" or level 3 "MQIsdp", the flags
 * (username 0x80, password 0x40, will retain 0x20, will QoS << 3, will 0x04, clean 0x02), the
 * keepalive, then client id, will topic, will message, username, password. */

/* 3.1.1, clean, keepalive 60, client id "c" */
static const uint8_t connect_plain[] = {0x10, 0x0d, 0, 4,  'M', 'Q', 'T', 'T',
                                        4,    0x02, 0, 60, 0,   1,   'c'};
/* 3.1, persistent, no keepalive, "dev", username "u", password "pw" */
static const uint8_t connect_user_pass[] = {0x10, 0x18, 0,    6,   'M', 'Q', 'I', 's', 'd',
                                            'p',  3,    0xc0, 0,   0,   0,   3,   'd', 'e',
                                            'v',  0,    1,    'u', 0,   2,   'p', 'w'};
/* 3.1.1, clean, keepalive 120, will QoS 1 retained "w/t" "bye", username "u", no password */
static const uint8_t connect_will_user[] = {0x10, 0x1a, 0,   4,   'M', 'Q', 'T', 'T', 4,   0xae,
                                            0,    120,  0,   1,   'c', 0,   3,   'w', '/', 't',
                                            0,    3,    'b', 'y', 'e', 0,   1,   'u'};
/* 3.1, clean, keepalive 300, will QoS 2 "lw" with an empty message, "user" and an empty
 * password */
static const uint8_t connect_will_empty[] = {0x10, 0x1f, 0,  6, 'M', 'Q', 'I', 's', 'd', 'p', 3,
                                             0xd6, 1,    44, 0, 3,   'm', '9', '5', 0,   2,   'l',
                                             'w',  0,    0,  0, 4,   'u', 's', 'e', 'r', 0,   0};

#define BYTES(a) a, sizeof(a)

static const struct connect_row connect_rows[] = {
        {MQTT_PROTO_V311, 1, 60, "c", {0}, NULL, NULL, BYTES(connect_plain)},
        {MQTT_PROTO_V31, 0, 0, "dev", {0}, "u", "pw", BYTES(connect_user_pass)},
        {MQTT_PROTO_V311, 1, 120, "c", {1, 1, "w/t", "bye"}, "u", NULL, BYTES(connect_will_user)},
        {MQTT_PROTO_V31, 1, 300, "m95", {2, 0, "lw", ""}, "user", "", BYTES(connect_will_empty)},
};

static void test_connect_bytes(void)
{
	for (size_t i = 0; i < sizeof(connect_rows) / sizeof(connect_rows[0]); i++) {
		const struct connect_row *r = &connect_rows[i];
		struct mqtt_client c;
		const struct bpkt *p;

		client_new(&c);
		c.cfg.version = r->version;
		c.cfg.clean = r->clean;
		c.cfg.keepalive = r->keepalive;
		if (r->will.topic) {
			c.cfg.will_fg = 1;
			c.cfg.will_qos = r->will.qos;
			c.cfg.will_retain = r->will.retain;
			snprintf(c.cfg.will_topic, sizeof(c.cfg.will_topic), "%s", r->will.topic);
			buf_append(&c.cfg.will_msg, r->will.msg, strlen(r->will.msg));
		}
		fake.connack_rc = -1; /* look at the CONNECT alone */
		CHECK(client_open(&c));
		CHECK(API(mqtt_client_connect(&c, r->id, r->user, r->pass)) == 0);
		CHECK(c.state == MQTT_S_CONNECTING);
		CHECK(API(mqtt_client_connect(&c, r->id, r->user, r->pass)) == -ERR_STATE);
		CHECK(wait_pkts(MQTT_CONNECT, 1, WAIT));
		p = bnth(MQTT_CONNECT, 0);
		if (!pkt_is(p, r->want, r->want_len))
			fprintf(stderr, "connect row %zu: CONNECT differs\n", i);
		CHECK(pkt_is(p, r->want, r->want_len));
		CHECK(!fake.bad && fake.npkts == 1);
		/* the broker accepts: connected */
		b_send((const uint8_t[]){0x20, 0x02, 0x00, 0x00}, 4);
		CHECK(wait_ev(EV_CONNACK, 1, WAIT));
		CHECK(nth(EV_CONNACK, 0)->a == 0 && c.state == MQTT_S_CONNECTED);
		client_end(&c);
	}
}

struct connack_row {
	int rc; /* the broker's CONNACK code; -1: none */
	enum mqtt_state state; /* after it */
	bool close_after; /* the broker then closes, as a refusing server does */
};

static const struct connack_row connack_rows[] = {
        {0, MQTT_S_CONNECTED, false},
        {5, MQTT_S_OPEN, false},
        {2, MQTT_S_OPEN, true},
        {-1, MQTT_S_IDLE, false},
};

static void test_connack(void)
{
	for (size_t i = 0; i < sizeof(connack_rows) / sizeof(connack_rows[0]); i++) {
		const struct connack_row *r = &connack_rows[i];
		struct mqtt_client c;
		const struct ev *e;
		uint64_t sent;

		client_new(&c);
		fast_timers(&c);
		fake.connack_rc = r->rc;
		CHECK(client_open(&c));
		sent = uv_now(&loop);
		CHECK(API(mqtt_client_connect(&c, "c", NULL, NULL)) == 0);
		if (r->rc < 0) {
			/* no CONNACK within pkt_timeout: lost(CONNACK) */
			CHECK(wait_ev(EV_LOST, 1, WAIT));
			e = nth(EV_LOST, 0);
			CHECK(e->a == MQTT_LOSS_CONNACK && e->t >= sent + PKT_MS);
			CHECK(counts[EV_CONNACK] == 0 && c.state == MQTT_S_IDLE);
			CHECK(run_until(broker_idle, NULL, WAIT) && fake.reset);
			client_end(&c);
			continue;
		}
		CHECK(wait_ev(EV_CONNACK, 1, WAIT));
		e = nth(EV_CONNACK, 0);
		CHECK(e->a == r->rc && e->b == (int)r->state && c.state == r->state);
		if (r->rc != 0) {
			/* refused: the session is open but not connected */
			const char *t = "t";
			int q = 0;

			CHECK(API(mqtt_client_subscribe(&c, 1, &t, &q, 1)) == -ERR_STATE);
			CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == -ERR_STATE);
		}
		run_for(PKT_MS * 2); /* the CONNACK deadline is over: nothing more */
		CHECK(counts[EV_LOST] == 0 && c.state == r->state);
		if (r->close_after) {
			b_close(fake.cur, false);
			CHECK(wait_ev(EV_LOST, 1, WAIT));
			CHECK(nth(EV_LOST, 0)->a == MQTT_LOSS_PEER && c.state == MQTT_S_IDLE);
		}
		client_end(&c);
	}
}

/* ---- SUBSCRIBE and UNSUBSCRIBE ---- */

static void test_subscribe(void)
{
	struct mqtt_client c;
	const char *two[] = {"a/b", "c/#"}, *one[] = {"a/b"};
	const int q12[] = {1, 2}, q0[] = {0};
	static const uint8_t sub1[] = {0x82, 0x0e, 0, 1, 0,   3,   'a', '/',
	                               'b',  1,    0, 3, 'c', '/', '#', 2};
	static const uint8_t unsub4[] = {0xa2, 0x07, 0, 4, 0, 3, 'a', '/', 'b'};
	const struct ev *e;

	client_new(&c);
	CHECK(API(mqtt_client_subscribe(&c, 1, one, q0, 1)) == -ERR_STATE);
	CHECK(API(mqtt_client_unsubscribe(&c, 1, one, 1)) == -ERR_STATE);
	CHECK(client_open(&c));
	CHECK(API(mqtt_client_subscribe(&c, 1, one, q0, 1)) == -ERR_STATE); /* open only */
	CHECK(API(mqtt_client_unsubscribe(&c, 1, one, 1)) == -ERR_STATE);
	mqtt_client_drop(&c, true);
	CHECK(client_up(&c));

	/* two filters, granted as asked */
	CHECK(API(mqtt_client_subscribe(&c, 1, two, q12, 2)) == 0);
	CHECK(counts[EV_SUBACK] == 0);
	CHECK(wait_ev(EV_SUBACK, 1, WAIT));
	CHECK(pkt_is(bnth(MQTT_SUBSCRIBE, 0), sub1, sizeof(sub1)));
	e = nth(EV_SUBACK, 0);
	CHECK(e->a == 1 && e->b == 2 && e->data[0] == 1 && e->data[1] == 2);

	/* refused by the broker: the failure code comes through */
	fake.grant = MQTT_SUBACK_FAILURE;
	CHECK(API(mqtt_client_subscribe(&c, 2, one, q0, 1)) == 0);
	CHECK(wait_ev(EV_SUBACK, 2, WAIT));
	e = nth(EV_SUBACK, 1);
	CHECK(e->a == 2 && e->b == 1 && e->data[0] == MQTT_SUBACK_FAILURE);

	/* a message id in flight is busy for every kind of packet until its answer */
	fake.suback = false;
	CHECK(API(mqtt_client_subscribe(&c, 3, one, q0, 1)) == 0);
	CHECK(API(mqtt_client_subscribe(&c, 3, one, q0, 1)) == -ERR_BUSY);
	CHECK(API(mqtt_client_unsubscribe(&c, 3, one, 1)) == -ERR_BUSY);
	CHECK(API(mqtt_client_publish(&c, 3, 1, 0, "t", NULL, 0, 0)) == -ERR_BUSY);
	CHECK(mqtt_client_publish_check(&c, 3, 2) == -ERR_BUSY);
	CHECK(wait_pkts(MQTT_SUBSCRIBE, 3, WAIT));
	run_for(20);
	CHECK(counts[EV_SUBACK] == 2);
	/* a SUBACK for an id nobody waits for changes nothing */
	b_send((const uint8_t[]){0x90, 0x03, 0, 99, 0}, 5);
	run_for(20);
	CHECK(counts[EV_SUBACK] == 2 && c.state == MQTT_S_CONNECTED);
	b_send((const uint8_t[]){0x90, 0x03, 0, 3, 0}, 5);
	CHECK(wait_ev(EV_SUBACK, 3, WAIT));
	CHECK(nth(EV_SUBACK, 2)->a == 3);
	CHECK(mqtt_client_publish_check(&c, 3, 1) == 0); /* free again */

	/* the number of filters */
	CHECK(API(mqtt_client_subscribe(&c, 5, one, q0, 0)) == -ERR_INVAL);
	CHECK(API(mqtt_client_subscribe(&c, 5, one, q0, 17)) == -ERR_INVAL);
	CHECK(API(mqtt_client_unsubscribe(&c, 5, one, 0)) == -ERR_INVAL);

	/* UNSUBSCRIBE, UNSUBACK */
	CHECK(API(mqtt_client_unsubscribe(&c, 4, one, 1)) == 0);
	CHECK(wait_ev(EV_UNSUBACK, 1, WAIT));
	CHECK(pkt_is(bnth(MQTT_UNSUBSCRIBE, 0), unsub4, sizeof(unsub4)));
	CHECK(nth(EV_UNSUBACK, 0)->a == 4);
	CHECK(mqtt_client_publish_check(&c, 4, 1) == 0); /* answered: the id is free */
	fake.unsuback = false;
	CHECK(API(mqtt_client_unsubscribe(&c, 6, one, 1)) == 0);
	CHECK(API(mqtt_client_unsubscribe(&c, 6, one, 1)) == -ERR_BUSY);
	CHECK(API(mqtt_client_subscribe(&c, 6, one, q0, 1)) == -ERR_BUSY);
	CHECK(wait_pkts(MQTT_UNSUBSCRIBE, 2, WAIT));
	b_ack(MQTT_UNSUBACK, 6);
	CHECK(wait_ev(EV_UNSUBACK, 2, WAIT));
	CHECK(nth(EV_UNSUBACK, 1)->a == 6);
	CHECK(mqtt_client_publish_check(&c, 6, 1) == 0 && mqtt_client_publish_check(&c, 1, 1) == 0);
	CHECK(counts[EV_LOST] == 0 && !fake.bad);
	client_end(&c);
}

/* ---- outgoing PUBLISH ---- */

struct publish_row {
	int qos, retain;
	uint16_t id;
	int tag;
	uint8_t want[16];
	size_t want_len;
};

/* 3.1.1 section 3.3: 0x30 | DUP 0x08 | QoS << 1 | RETAIN, topic "t", the id for QoS 1/2, "hi" */
static const struct publish_row publish_rows[] = {
        {0, 0, 0, 0, {0x30, 0x05, 0, 1, 't', 'h', 'i'}, 7},
        {0, 1, 0, 0, {0x31, 0x05, 0, 1, 't', 'h', 'i'}, 7},
        {1, 0, 10, 7, {0x32, 0x07, 0, 1, 't', 0, 10, 'h', 'i'}, 9},
        {1, 1, 0x1234, 8, {0x33, 0x07, 0, 1, 't', 0x12, 0x34, 'h', 'i'}, 9},
        {2, 0, 11, 9, {0x34, 0x07, 0, 1, 't', 0, 11, 'h', 'i'}, 9},
        {2, 1, 65535, 1, {0x35, 0x07, 0, 1, 't', 0xff, 0xff, 'h', 'i'}, 9},
};

static void test_publish(void)
{
	struct mqtt_client c;

	client_new(&c);
	CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == -ERR_STATE);
	CHECK(mqtt_client_publish_check(&c, 1, 1) == -ERR_STATE);
	CHECK(client_up(&c));
	for (size_t i = 0; i < sizeof(publish_rows) / sizeof(publish_rows[0]); i++) {
		const struct publish_row *r = &publish_rows[i];
		const struct ev *e;
		int acks = counts[EV_PUBACK];

		fake.pubcomp = false; /* QoS 2: the PUBCOMP comes when the row says so */
		CHECK(API(mqtt_client_publish(&c, r->id, r->qos, r->retain, "t",
		                              (const uint8_t *)"hi", 2, r->tag)) == 0);
		CHECK(wait_pkts(MQTT_PUBLISH, (int)i + 1, WAIT));
		CHECK(pkt_is(bnth(MQTT_PUBLISH, (int)i), r->want, r->want_len));
		if (r->qos == 0) {
			run_for(20);
			CHECK(counts[EV_PUBACK] == acks);
			continue;
		}
		if (r->qos == 2) {
			/* PUBREC: the client releases it, and waits for the PUBCOMP */
			uint8_t rel[] = {0x62, 0x02, (uint8_t)(r->id >> 8), (uint8_t)r->id};
			int n = fake.count[MQTT_PUBREL];

			CHECK(wait_pkts(MQTT_PUBREL, n + 1, WAIT));
			CHECK(pkt_is(bnth(MQTT_PUBREL, n), rel, sizeof(rel)));
			run_for(20);
			CHECK(counts[EV_PUBACK] == acks);
			CHECK(mqtt_client_publish_check(&c, r->id, 2) == -ERR_BUSY);
			b_ack(MQTT_PUBCOMP, r->id);
		}
		CHECK(wait_ev(EV_PUBACK, acks + 1, WAIT));
		e = nth(EV_PUBACK, acks);
		CHECK(e->a == r->id && e->b == r->tag);
		CHECK(mqtt_client_publish_check(&c, r->id, r->qos) == 0);
	}
	run_for(20);
	CHECK(counts[EV_PUBACK] == 4 && counts[EV_RETRANS] == 0 && counts[EV_LOST] == 0);
	CHECK(c.pub_out == 6 && c.inflight == 0);

	/* acknowledgements that fit nothing change nothing: an unknown id, a PUBACK for a QoS 2
	 * PUBLISH (which waits for PUBREC), a PUBCOMP before any PUBREL */
	fake.pubrec = false;
	CHECK(API(mqtt_client_publish(&c, 20, 2, 0, "t", NULL, 0, 5)) == 0);
	CHECK(wait_pkts(MQTT_PUBLISH, 7, WAIT));
	b_ack(MQTT_PUBACK, 99);
	b_ack(MQTT_PUBACK, 20);
	b_ack(MQTT_PUBCOMP, 20);
	run_for(20);
	CHECK(counts[EV_PUBACK] == 4 && c.inflight == 1);
	fake.pubcomp = true;
	b_ack(MQTT_PUBREC, 20);
	CHECK(wait_ev(EV_PUBACK, 5, WAIT));
	CHECK(nth(EV_PUBACK, 4)->a == 20 && nth(EV_PUBACK, 4)->b == 5 && c.inflight == 0);
	client_end(&c);
}

struct publish_arg_row {
	uint16_t id;
	int qos;
	int want;
};

static const struct publish_arg_row publish_arg_rows[] = {
        {0, 0, 0},          {1, 0, -ERR_INVAL}, /* QoS 0 carries no id */
        {0, 1, -ERR_INVAL}, /* QoS 1/2 need one (3.1.1 2.3.1) */
        {0, 2, -ERR_INVAL}, {1, 3, -ERR_INVAL}, /* no QoS 3 */
        {1, 1, 0},
};

static void test_publish_checks(void)
{
	struct mqtt_client c;

	client_new(&c);
	CHECK(client_up(&c));
	for (size_t i = 0; i < sizeof(publish_arg_rows) / sizeof(publish_arg_rows[0]); i++) {
		const struct publish_arg_row *r = &publish_arg_rows[i];

		CHECK(API(mqtt_client_publish(&c, r->id, r->qos, 0, "t", NULL, 0, 0)) == r->want);
	}
	CHECK(wait_ev(EV_PUBACK, 1, WAIT));
	CHECK(fake.count[MQTT_PUBLISH] == 2);

	/* the in-flight window (M95 MQTT AN 3.2.8 note 1: 5; here 2) */
	limits.inflight_max = 2;
	fake.puback = fake.pubrec = fake.pubcomp = false;
	CHECK(API(mqtt_client_publish(&c, 1, 1, 0, "t", NULL, 0, 1)) == 0);
	CHECK(API(mqtt_client_publish(&c, 2, 2, 0, "t", NULL, 0, 2)) == 0);
	CHECK(mqtt_client_publish_check(&c, 3, 1) == -ERR_NOSPC);
	CHECK(API(mqtt_client_publish(&c, 3, 1, 0, "t", NULL, 0, 3)) == -ERR_NOSPC);
	CHECK(API(mqtt_client_publish(&c, 3, 2, 0, "t", NULL, 0, 3)) == -ERR_NOSPC);
	CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == 0); /* QoS 0: no window */
	CHECK(API(mqtt_client_publish(&c, 1, 1, 0, "t", NULL, 0, 1)) == -ERR_BUSY);
	CHECK(wait_pkts(MQTT_PUBLISH, 5, WAIT));
	b_ack(MQTT_PUBACK, 1);
	CHECK(wait_ev(EV_PUBACK, 2, WAIT));
	CHECK(API(mqtt_client_publish(&c, 3, 1, 0, "t", NULL, 0, 3)) == 0);
	CHECK(API(mqtt_client_publish(&c, 4, 1, 0, "t", NULL, 0, 4)) == -ERR_NOSPC);
	/* QoS 2 leaves the window at PUBCOMP, not at PUBREC */
	b_ack(MQTT_PUBREC, 2);
	CHECK(wait_pkts(MQTT_PUBREL, 1, WAIT));
	CHECK(API(mqtt_client_publish(&c, 4, 1, 0, "t", NULL, 0, 4)) == -ERR_NOSPC);
	b_ack(MQTT_PUBCOMP, 2);
	CHECK(wait_ev(EV_PUBACK, 3, WAIT));
	CHECK(API(mqtt_client_publish(&c, 4, 1, 0, "t", NULL, 0, 4)) == 0);
	limits.inflight_max = 0;
	mqtt_client_drop(&c, true);

	/* no window: the pending slots are the limit (-ERR_BUSY, client.h) */
	CHECK(client_up(&c));
	for (int id = 1; id <= MQTT_PENDING_MAX; id++)
		CHECK(API(mqtt_client_publish(&c, (uint16_t)id, 1, 0, "t", NULL, 0, 0)) == 0);
	CHECK(API(mqtt_client_publish(&c, 100, 1, 0, "t", NULL, 0, 0)) == -ERR_BUSY);
	CHECK(c.inflight == MQTT_PENDING_MAX);
	client_end(&c);
}

/* ---- retransmission ---- */

enum what { W_PUB1, W_PUB2, W_PUBREL, W_SUB, W_UNSUB };

struct retrans_row {
	const char *name;
	int version;
	enum what what;
	int retry_times;
	enum mqtt_packet_type type; /* what is retransmitted */
	uint8_t first, again; /* its first byte, then on retransmissions */
};

/* DUP on PUBLISH always, on SUBSCRIBE/UNSUBSCRIBE only under 3.1 (3.1.1 fixes their flags at
 * 0010); never on PUBREL (3.1.1 4.3.3: PUBREL is sent again as it was). */
static const struct retrans_row retrans_rows[] = {
        {"3.1.1 PUBLISH QoS 1", MQTT_PROTO_V311, W_PUB1, 3, MQTT_PUBLISH, 0x32, 0x3a},
        {"3.1.1 PUBLISH QoS 2", MQTT_PROTO_V311, W_PUB2, 2, MQTT_PUBLISH, 0x34, 0x3c},
        {"3.1 PUBLISH QoS 1", MQTT_PROTO_V31, W_PUB1, 1, MQTT_PUBLISH, 0x32, 0x3a},
        {"3.1.1 PUBREL", MQTT_PROTO_V311, W_PUBREL, 3, MQTT_PUBREL, 0x62, 0x62},
        {"3.1.1 SUBSCRIBE", MQTT_PROTO_V311, W_SUB, 3, MQTT_SUBSCRIBE, 0x82, 0x82},
        {"3.1 SUBSCRIBE", MQTT_PROTO_V31, W_SUB, 2, MQTT_SUBSCRIBE, 0x82, 0x8a},
        {"3.1.1 UNSUBSCRIBE", MQTT_PROTO_V311, W_UNSUB, 1, MQTT_UNSUBSCRIBE, 0xa2, 0xa2},
        {"3.1 UNSUBSCRIBE", MQTT_PROTO_V31, W_UNSUB, 2, MQTT_UNSUBSCRIBE, 0xa2, 0xaa},
        {"no retries", MQTT_PROTO_V311, W_PUB1, 0, MQTT_PUBLISH, 0x32, 0x3a},
};

static void start_what(struct mqtt_client *c, enum what w, uint16_t id, int tag)
{
	const char *t[] = {"x/y"};
	const int q[] = {1};

	switch (w) {
	case W_PUB1:
		CHECK(API(mqtt_client_publish(c, id, 1, 0, "t", (const uint8_t *)"p", 1, tag)) ==
		      0);
		break;
	case W_PUB2:
	case W_PUBREL:
		CHECK(API(mqtt_client_publish(c, id, 2, 0, "t", (const uint8_t *)"p", 1, tag)) ==
		      0);
		break;
	case W_SUB:
		CHECK(API(mqtt_client_subscribe(c, id, t, q, 1)) == 0);
		break;
	case W_UNSUB:
		CHECK(API(mqtt_client_unsubscribe(c, id, t, 1)) == 0);
		break;
	}
}

static void test_retransmission(void)
{
	for (size_t i = 0; i < sizeof(retrans_rows) / sizeof(retrans_rows[0]); i++) {
		const struct retrans_row *r = &retrans_rows[i];
		const uint16_t id = 42;
		const int tag =
		        r->what == W_PUB1 || r->what == W_PUB2 || r->what == W_PUBREL ? 7 : 0;
		struct mqtt_client c;
		int g, l, bad = 0;

		client_new(&c);
		fast_timers(&c);
		c.cfg.version = r->version;
		c.cfg.retry_times = r->retry_times;
		fake.puback = fake.suback = fake.unsuback = fake.pubcomp = false;
		fake.pubrec = r->what == W_PUBREL;
		CHECK(client_up(&c));
		start_what(&c, r->what, id, tag);
		CHECK(wait_ev(EV_LOST, 1, WAIT));
		CHECK(wait_pkts(r->type, r->retry_times + 1, WAIT));
		run_for(20);
		/* the original, then retry_times copies, DUP where the version allows */
		CHECK(fake.count[r->type] == r->retry_times + 1);
		for (int k = 0; k <= r->retry_times; k++) {
			const struct bpkt *p = bnth(r->type, k), *p0 = bnth(r->type, 0);

			if (!p->len || p->data[0] != (k ? r->again : r->first) ||
			    p->len != p0->len ||
			    memcmp(p->data + 1, p0->data + 1, p->len - 1) != 0 || pkt_id(p) != id)
				bad++;
			/* a pkt_timeout between them */
			if (k && p->t + SLACK < bnth(r->type, k - 1)->t + PKT_MS)
				bad++;
		}
		if (bad)
			fprintf(stderr, "retransmission row \"%s\": %d differences\n", r->name,
			        bad);
		CHECK(bad == 0);
		/* retransmitted(type, id, tag, 1..retry_times), gave_up, lost(RETRIES) */
		CHECK(counts[EV_RETRANS] == r->retry_times);
		for (int k = 0; k < r->retry_times; k++) {
			const struct ev *e = nth(EV_RETRANS, k);

			CHECK(e->a == (int)r->type && e->b == id && e->c == tag && e->d == k + 1);
		}
		g = first(EV_GAVE_UP);
		l = first(EV_LOST);
		CHECK(counts[EV_GAVE_UP] == 1 && counts[EV_LOST] == 1 && g >= 0 && g < l);
		CHECK(g >= 0 && evs[g].a == (int)r->type && evs[g].b == id && evs[g].c == tag);
		CHECK(l >= 0 && evs[l].a == MQTT_LOSS_RETRIES && c.state == MQTT_S_IDLE);
		CHECK(counts[EV_PUBACK] == 0 && counts[EV_SUBACK] == 0);
		CHECK(run_until(broker_idle, NULL, WAIT) && fake.reset);
		client_end(&c);
	}
}

/* An acknowledgement after a retransmission ends it, once, however many come. */
static void test_late_ack(void)
{
	struct mqtt_client c;

	client_new(&c);
	fast_timers(&c);
	fake.puback = false;
	CHECK(client_up(&c));
	CHECK(API(mqtt_client_publish(&c, 5, 1, 0, "t", NULL, 0, 3)) == 0);
	CHECK(wait_ev(EV_RETRANS, 1, WAIT));
	b_ack(MQTT_PUBACK, 5);
	b_ack(MQTT_PUBACK, 5);
	CHECK(wait_ev(EV_PUBACK, 1, WAIT));
	run_for(PKT_MS * 5);
	CHECK(counts[EV_PUBACK] == 1 && nth(EV_PUBACK, 0)->a == 5 && nth(EV_PUBACK, 0)->b == 3);
	CHECK(counts[EV_RETRANS] == 1 && counts[EV_GAVE_UP] == 0 && counts[EV_LOST] == 0);
	CHECK(fake.count[MQTT_PUBLISH] == 2 && c.inflight == 0);
	client_end(&c);
}

/* ---- incoming PUBLISH ---- */

static void test_incoming(void)
{
	struct mqtt_client c;
	const struct ev *e;
	static const uint8_t puback10[] = {0x40, 0x02, 0, 10};

	client_new(&c);
	CHECK(client_up(&c));

	/* QoS 0: delivered, nothing answered */
	b_publish(0, 0, false, "a/b", "zero");
	CHECK(wait_ev(EV_MESSAGE, 1, WAIT));
	e = nth(EV_MESSAGE, 0);
	CHECK(e->a == 0 && e->b == 0);
	CHECK_MEM(e->data, e->len, "a/b", 3);
	CHECK_MEM(e->payload, e->payload_len, "zero", 4);

	/* QoS 1: delivered, then PUBACK */
	b_publish(1, 10, false, "a/c", "one");
	CHECK(wait_pkts(MQTT_PUBACK, 1, WAIT));
	CHECK(pkt_is(bnth(MQTT_PUBACK, 0), puback10, sizeof(puback10)));
	CHECK(counts[EV_MESSAGE] == 2);
	e = nth(EV_MESSAGE, 1);
	CHECK(e->a == 10 && e->b == 1 && e->t <= bnth(MQTT_PUBACK, 0)->t);
	CHECK_MEM(e->data, e->len, "a/c", 3);
	CHECK_MEM(e->payload, e->payload_len, "one", 3);
	run_for(20);
	CHECK(fake.count[MQTT_PUBACK] == 1 && fake.npkts == 2);
	CHECK(c.pub_in == 2);
	client_end(&c);
}

/* QoS 2 from the broker, 100 ids at once, each sent twice (the second with DUP) before its
 * PUBREL: each delivered once, PUBREC for every copy, PUBCOMP after PUBREL; after that, an id
 * is a new message again. */
static void test_incoming_qos2(void)
{
	enum { N = 100 };
	struct mqtt_client c;
	uint16_t ids[N];
	struct buf b;
	int bad = 0, comp[N] = {0};

	for (int i = 0; i < N; i++)
		ids[i] = i == N - 1 ? 65535 : (uint16_t)(1 + i * 655); /* all over the id space */
	client_new(&c);
	CHECK(client_up(&c));
	buf_init(&b, 0);
	for (int i = 0; i < N; i++)
		put_publish(&b, 2, ids[i], false, "q/2", "m");
	b_send_buf(&b);
	CHECK(wait_pkts(MQTT_PUBREC, N, WAIT));
	buf_init(&b, 0);
	for (int i = 0; i < N; i++)
		put_publish(&b, 2, ids[i], true, "q/2", "m");
	b_send_buf(&b);
	CHECK(wait_pkts(MQTT_PUBREC, 2 * N, WAIT));
	run_for(20);
	CHECK(counts[EV_MESSAGE] == N && counts[EV_REFUSED] == 0);
	for (int i = 0; i < N; i++)
		bad += delivered[ids[i]] != 1 || pkt_id(bnth(MQTT_PUBREC, i)) != ids[i] ||
		       pkt_id(bnth(MQTT_PUBREC, N + i)) != ids[i];
	CHECK(bad == 0);
	CHECK(fake.count[MQTT_PUBCOMP] == 0);

	buf_init(&b, 0);
	for (int i = 0; i < N; i++)
		CHECK(mqtt_codec_encode_ack(&b, MQTT_PUBREL, ids[i]) == 0);
	b_send_buf(&b);
	CHECK(wait_pkts(MQTT_PUBCOMP, N, WAIT));
	for (int i = 0; i < N; i++) {
		uint16_t id = pkt_id(bnth(MQTT_PUBCOMP, i));

		for (int k = 0; k < N; k++)
			comp[k] += ids[k] == id;
	}
	for (int k = 0; k < N; k++)
		bad += comp[k] != 1;
	CHECK(bad == 0);

	/* released: the same id is a new message; a PUBREL nobody waits for still gets its
	 * PUBCOMP (3.1.1 4.3.3) */
	b_publish(2, ids[0], false, "q/2", "again");
	b_ack(MQTT_PUBREL, 7);
	CHECK(wait_pkts(MQTT_PUBCOMP, N + 1, WAIT));
	CHECK(wait_pkts(MQTT_PUBREC, 2 * N + 1, WAIT));
	CHECK(delivered[ids[0]] == 2 && counts[EV_MESSAGE] == N + 1);
	CHECK(pkt_id(bnth(MQTT_PUBCOMP, N)) == 7);
	CHECK(counts[EV_LOST] == 0 && !fake.bad);
	client_end(&c);
}

/* ---- flow control ---- */

struct flow_row {
	int qos;
	int budget; /* messages taken before the first refusal */
	enum mqtt_packet_type ack; /* 0: none */
};

static const struct flow_row flow_rows[] = {
        {0, 0, 0},           {1, 0, MQTT_PUBACK}, {1, 2, MQTT_PUBACK},
        {2, 0, MQTT_PUBREC}, {2, 3, MQTT_PUBREC},
};

static void test_flow_control(void)
{
	for (size_t i = 0; i < sizeof(flow_rows) / sizeof(flow_rows[0]); i++) {
		const struct flow_row *r = &flow_rows[i];
		struct mqtt_client c;
		struct buf b;
		int bad = 0, acks = r->ack ? r->budget : 0;

		client_new(&c);
		fast_timers(&c);
		CHECK(client_up(&c));
		accept_budget = r->budget;
		/* 1..4 in one write: the refused one and those after it wait, unacknowledged */
		buf_init(&b, 0);
		for (int id = 1; id <= 4; id++)
			put_publish(&b, r->qos, r->qos ? (uint16_t)id : 0, false, "f", "x");
		b_send_buf(&b);
		CHECK(wait_ev(EV_REFUSED, 1, WAIT));
		run_for(PKT_MS);
		CHECK(counts[EV_REFUSED] >= 1 && counts[EV_MESSAGE] == r->budget);
		/* a few bytes wait: the connection is still read */
		CHECK(!c.paused && c.conn);
		if (!c.conn) {
			client_end(&c);
			continue;
		}
		if (r->ack)
			CHECK(fake.count[r->ack] == acks);
		/* more from the broker waits behind them, in order; the acknowledgement of the
		 * client's own publish is handled meanwhile (results go on) */
		b_publish(r->qos, r->qos ? 5 : 0, false, "f", "x");
		CHECK(API(mqtt_client_publish(&c, 50, 1, 0, "t", NULL, 0, 9)) == 0);
		CHECK(wait_ev(EV_PUBACK, 1, WAIT));
		run_for(PKT_MS * 2);
		CHECK(counts[EV_MESSAGE] == r->budget);
		CHECK(counts[EV_RETRANS] == 0 && counts[EV_LOST] == 0 && counts[EV_PUBACK] == 1);
		if (r->ack)
			CHECK(fake.count[r->ack] == acks);

		/* the owner makes room: the refused message again, then the rest, in order */
		accept_budget = -1;
		in_resume = in_api = true;
		mqtt_client_resume(&c);
		in_resume = in_api = false;
		CHECK(counts[EV_MESSAGE] == 5); /* everything waited in the client */
		if (r->ack)
			CHECK(wait_pkts(r->ack, 5, WAIT));
		run_for(20);
		CHECK(counts[EV_MESSAGE] == 5 && !c.paused);
		for (int k = 0; k < 5; k++) {
			const struct ev *e = nth(EV_MESSAGE, k);

			bad += e->a != (r->qos ? k + 1 : 0);
			if (r->ack)
				bad += pkt_id(bnth(r->ack, k)) != k + 1;
		}
		CHECK(bad == 0);
		if (r->ack)
			CHECK(fake.count[r->ack] == 5);
		CHECK(nth(EV_PUBACK, 0)->a == 50 && nth(EV_PUBACK, 0)->b == 9);
		CHECK(counts[EV_RETRANS] == 0 && fake.count[MQTT_PUBLISH] == 1);
		/* resuming when nothing waits changes nothing */
		mqtt_client_resume(&c);
		CHECK(counts[EV_MESSAGE] == 5 && counts[EV_LOST] == 0);
		client_end(&c);
	}
}

/* Refused messages beyond MQTT_RX_HOLD_MAX: the connection is not read (TCP pushes back). */
#define HOLD_MSGS 100 /* of about 1 KiB each: more than the 64 KiB hold */

static char kib[1001];

static void send_hold_fill(void)
{
	struct buf b;

	memset(kib, 'k', sizeof(kib) - 1);
	buf_init(&b, 0);
	for (int id = 1; id <= HOLD_MSGS; id++)
		put_publish(&b, 1, (uint16_t)id, false, "h", kib);
	b_send_buf(&b);
}

static bool paused_now(const void *arg)
{
	return ((const struct mqtt_client *)arg)->paused;
}

static void test_flow_hold_limit(void)
{
	struct mqtt_client c;
	struct net_conn_stats before, after;
	int bad = 0;

	client_new(&c);
	fast_timers(&c);
	CHECK(client_up(&c));
	accept_budget = 0;
	send_hold_fill();
	CHECK(run_until(paused_now, &c, WAIT));
	CHECK(c.rx.len >= MQTT_RX_HOLD_MAX);
	if (!c.conn) {
		client_end(&c);
		return;
	}
	net_conn_get_stats(c.conn, &before);
	run_for(PKT_MS * 2);
	net_conn_get_stats(c.conn, &after);
	CHECK(after.rx == before.rx); /* not read */
	CHECK(counts[EV_MESSAGE] == 0 && fake.count[MQTT_PUBACK] == 0);
	accept_budget = -1;
	mqtt_client_resume(&c);
	CHECK(wait_ev(EV_MESSAGE, HOLD_MSGS, WAIT));
	CHECK(wait_pkts(MQTT_PUBACK, HOLD_MSGS, WAIT));
	for (int k = 0; k < HOLD_MSGS; k++)
		bad += nth(EV_MESSAGE, k)->a != k + 1;
	CHECK(bad == 0 && !c.paused && counts[EV_LOST] == 0);
	client_end(&c);
}

/* Deadlines that passed while the client was not reading: at the first turn of the loop after
 * reading resumes the timers run before anything is read, and the answers they wait for are
 * still unread. The client judges them a pkt_timeout after reading resumes, so neither a
 * PUBACK nor a PINGRESP waiting in the socket counts as missing. */
static void test_resume_deadlines(void)
{
	for (int ping = 0; ping < 2; ping++) {
		struct mqtt_client c;

		client_new(&c);
		fast_timers(&c);
		c.cfg.keepalive = ping ? 10 : 0; /* 100 ms */
		CHECK(client_up(&c));
		accept_budget = 0;
		send_hold_fill();
		CHECK(run_until(paused_now, &c, WAIT));
		if (ping)
			CHECK(wait_pkts(MQTT_PINGREQ, 1, WAIT)); /* its PINGRESP stays unread */
		else
			CHECK(API(mqtt_client_publish(&c, 50, 1, 0, "t", NULL, 0, 9)) == 0);
		run_for(10);
		/* the loop is held past the deadline (pkt_timeout after the PINGREQ or PUBLISH) */
		usleep((PKT_MS + 20) * 1000);
		uv_update_time(&loop);
		accept_budget = -1;
		in_resume = in_api = true;
		mqtt_client_resume(&c);
		in_resume = in_api = false;
		CHECK(counts[EV_MESSAGE] >= 1);
		run_for(PKT_MS / 2);
		CHECK(counts[EV_RETRANS] == 0 && counts[EV_PING_FAILED] == 0);
		CHECK(counts[EV_LOST] == 0 && c.state == MQTT_S_CONNECTED);
		if (!ping)
			CHECK(counts[EV_PUBACK] == 1 && fake.count[MQTT_PUBLISH] == 1);
		CHECK(wait_pkts(MQTT_PUBACK, HOLD_MSGS, WAIT));
		client_end(&c);
	}
}

/* ---- keepalive ---- */

static void test_keepalive(void)
{
	struct mqtt_client c;
	static const uint8_t pingreq[] = {0xc0, 0x00};
	const uint64_t ka = 100; /* keepalive 10 s at SCALE */
	const struct bpkt *p;
	int n, f, l;

	client_new(&c);
	fast_timers(&c);
	c.cfg.keepalive = 10;
	CHECK(client_up(&c));

	/* PINGREQ after keepalive idle, answered: the session goes on */
	CHECK(wait_pkts(MQTT_PINGREQ, 1, WAIT));
	p = bnth(MQTT_PINGREQ, 0);
	CHECK(pkt_is(p, pingreq, sizeof(pingreq)));
	CHECK(p->t + SLACK >= bnth(MQTT_CONNECT, 0)->t + ka);
	CHECK(wait_pkts(MQTT_PINGREQ, 3, WAIT));
	CHECK(bnth(MQTT_PINGREQ, 2)->t + SLACK >= bnth(MQTT_PINGREQ, 1)->t + ka);

	/* traffic keeps it alive: no PINGREQ while the client sends more often than that */
	n = fake.count[MQTT_PINGREQ];
	for (int i = 0; i < 8; i++) {
		CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == 0);
		run_for(ka / 4);
	}
	CHECK(fake.count[MQTT_PINGREQ] == n);
	CHECK(counts[EV_PING_FAILED] == 0 && counts[EV_LOST] == 0);

	/* unanswered: ping_failed, then lost(PING), a pkt_timeout after the PINGREQ */
	fake.pingresp = false;
	CHECK(wait_ev(EV_LOST, 1, WAIT));
	f = first(EV_PING_FAILED);
	l = first(EV_LOST);
	CHECK(counts[EV_PING_FAILED] == 1 && f >= 0 && f < l && evs[l].a == MQTT_LOSS_PING);
	p = bnth(MQTT_PINGREQ, fake.count[MQTT_PINGREQ] - 1);
	CHECK(l >= 0 && evs[l].t + SLACK >= p->t + PKT_MS);
	CHECK(c.state == MQTT_S_IDLE);
	CHECK(run_until(broker_idle, NULL, WAIT) && fake.reset);
	client_end(&c);

	/* keepalive 0: never a PINGREQ */
	client_new(&c);
	CHECK(client_up(&c));
	run_for(300);
	CHECK(fake.count[MQTT_PINGREQ] == 0 && counts[EV_LOST] == 0);
	client_end(&c);
}

/* ---- the session's end ---- */

enum provoke { P_CLOSE, P_RESET, P_BYTES };

struct loss_row {
	const char *name;
	enum provoke how;
	uint8_t bytes[8]; /* P_BYTES: what the broker sends */
	size_t len;
	enum mqtt_loss want;
};

static const struct loss_row loss_rows[] = {
        {"the broker closes", P_CLOSE, {0}, 0, MQTT_LOSS_PEER},
        {"the broker resets", P_RESET, {0}, 0, MQTT_LOSS_PEER},
        {"reserved packet type 0", P_BYTES, {0x00, 0x00}, 2, MQTT_LOSS_PROTOCOL},
        {"reserved packet type 15", P_BYTES, {0xf0, 0x00}, 2, MQTT_LOSS_PROTOCOL},
        {"5 length bytes", P_BYTES, {0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 6, MQTT_LOSS_PROTOCOL},
        {"PUBLISH QoS 3", P_BYTES, {0x36, 0x05, 0, 1, 't', 0, 1}, 7, MQTT_LOSS_PROTOCOL},
        {"PUBACK of 3 bytes", P_BYTES, {0x40, 0x03, 0, 1, 0}, 5, MQTT_LOSS_PROTOCOL},
        {"a CONNACK too short", P_BYTES, {0x20, 0x01, 0x00}, 3, MQTT_LOSS_PROTOCOL},
        /* 2 MiB announced: refused on the header, before any of it arrives */
        {"oversized", P_BYTES, {0x30, 0x80, 0x80, 0x80, 0x01}, 5, MQTT_LOSS_PROTOCOL},
};

static void test_losses(void)
{
	for (size_t i = 0; i < sizeof(loss_rows) / sizeof(loss_rows[0]); i++) {
		const struct loss_row *r = &loss_rows[i];
		struct mqtt_client c;
		const struct ev *e;

		client_new(&c);
		CHECK(client_up(&c));
		switch (r->how) {
		case P_CLOSE:
			b_close(fake.cur, false);
			break;
		case P_RESET:
			b_close(fake.cur, true);
			break;
		case P_BYTES:
			b_send(r->bytes, r->len);
			break;
		}
		CHECK(wait_ev(EV_LOST, 1, WAIT));
		e = nth(EV_LOST, 0);
		if (e->a != (int)r->want)
			fprintf(stderr, "loss row \"%s\": lost(%d)\n", r->name, e->a);
		CHECK(e->a == (int)r->want);
		CHECK(c.state == MQTT_S_IDLE && c.conn == NULL && c.rx.len == 0);
		CHECK(counts[EV_MESSAGE] == 0 && counts[EV_PING_FAILED] == 0);
		CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == -ERR_STATE);
		/* a protocol error ends it with an RST */
		CHECK(run_until(broker_idle, NULL, WAIT));
		if (r->want == MQTT_LOSS_PROTOCOL)
			CHECK(fake.reset);
		run_for(20);
		CHECK(counts[EV_LOST] == 1);
		client_end(&c);
	}
}

/* The largest packet the client takes from the broker (MQTT_RX_PACKET_MAX remaining bytes),
 * and one byte more. */
static void test_rx_limit(void)
{
	const size_t payload = MQTT_RX_PACKET_MAX - 3; /* topic "t": 2 + 1 bytes */
	struct mqtt_client c;
	static const uint8_t topic[] = {0, 1, 't'};
	uint8_t hdr[5];
	uint8_t *big = malloc(payload + 8);
	int h;

	client_new(&c);
	CHECK(client_up(&c));
	h = mqtt_codec_header_put(hdr, 0x30, MQTT_RX_PACKET_MAX);
	CHECK(h > 0);
	memcpy(big, hdr, (size_t)h);
	memcpy(big + h, topic, sizeof(topic));
	memset(big + h + 3, 'p', payload);
	b_send(big, (size_t)h + 3 + payload);
	CHECK(wait_ev(EV_MESSAGE, 1, WAIT));
	CHECK(nth(EV_MESSAGE, 0)->payload_len == payload && c.state == MQTT_S_CONNECTED);

	h = mqtt_codec_header_put(hdr, 0x30, MQTT_RX_PACKET_MAX + 1);
	b_send(hdr, (size_t)h);
	CHECK(wait_ev(EV_LOST, 1, WAIT));
	CHECK(nth(EV_LOST, 0)->a == MQTT_LOSS_PROTOCOL && counts[EV_MESSAGE] == 1);
	free(big);
	client_end(&c);
}

static void test_disconnect(void)
{
	static const uint8_t disc[] = {0xe0, 0x00};
	struct mqtt_client c;
	uint64_t sent;

	/* DISCONNECT, the broker closes: lost(DISCONNECTED) */
	client_new(&c);
	CHECK(client_up(&c));
	CHECK(API(mqtt_client_disconnect(&c)) == 0);
	CHECK(c.state == MQTT_S_DISCONNECTING);
	CHECK(API(mqtt_client_disconnect(&c)) == -ERR_STATE);
	CHECK(API(mqtt_client_publish(&c, 0, 0, 0, "t", NULL, 0, 0)) == -ERR_STATE);
	CHECK(wait_ev(EV_LOST, 1, WAIT));
	CHECK(pkt_is(bnth(MQTT_DISCONNECT, 0), disc, sizeof(disc)));
	CHECK(nth(EV_LOST, 0)->a == MQTT_LOSS_DISCONNECTED && c.state == MQTT_S_IDLE);
	CHECK(run_until(broker_idle, NULL, WAIT));
	client_end(&c);

	/* a broker that does not close: the client closes after a while, the same event */
	client_new(&c);
	fake.close_on_disconnect = false;
	CHECK(client_up(&c));
	sent = uv_now(&loop);
	CHECK(API(mqtt_client_disconnect(&c)) == 0);
	CHECK(wait_pkts(MQTT_DISCONNECT, 1, WAIT));
	run_for(20);
	CHECK(counts[EV_LOST] == 0);
	CHECK(wait_ev(EV_LOST, 1, WAIT));
	CHECK(nth(EV_LOST, 0)->a == MQTT_LOSS_DISCONNECTED);
	CHECK(nth(EV_LOST, 0)->t >= sent + 5000 * SCALE);
	CHECK(run_until(broker_idle, NULL, WAIT) && fake.eof && !fake.reset); /* a FIN */
	client_end(&c);

	/* DISCONNECT before the CONNACK */
	client_new(&c);
	fast_timers(&c);
	fake.connack_rc = -1;
	CHECK(client_open(&c));
	CHECK(API(mqtt_client_connect(&c, "c", NULL, NULL)) == 0);
	CHECK(API(mqtt_client_disconnect(&c)) == 0);
	CHECK(wait_ev(EV_LOST, 1, WAIT));
	CHECK(nth(EV_LOST, 0)->a == MQTT_LOSS_DISCONNECTED && fake.count[MQTT_DISCONNECT] == 1);
	run_for(PKT_MS * 2); /* the CONNACK deadline went with it */
	CHECK(counts[EV_LOST] == 1);
	client_end(&c);
}

/* ---- freeing ---- */

static void test_free(void)
{
	struct mqtt_client c;
	const char *t[] = {"s"};
	const int q[] = {1};

	/* never opened */
	client_new(&c);
	client_end(&c);

	/* opening */
	client_new(&c);
	CHECK(API(mqtt_client_open(&c, "127.0.0.1", fake.port, NULL, 2000)) == 0);
	client_end(&c);
	CHECK(counts[EV_OPENED] == 0);

	/* connected, with everything held: packets awaiting acknowledgement, an incoming QoS 2
	 * id remembered, half a packet read, a keepalive and a retransmission due */
	client_new(&c);
	c.cfg.keepalive = 60;
	fake.puback = fake.pubrec = fake.suback = false;
	CHECK(client_up(&c));
	CHECK(API(mqtt_client_publish(&c, 1, 1, 0, "t", (const uint8_t *)"a", 1, 0)) == 0);
	CHECK(API(mqtt_client_publish(&c, 2, 2, 0, "t", (const uint8_t *)"b", 1, 0)) == 0);
	CHECK(API(mqtt_client_subscribe(&c, 3, t, q, 1)) == 0);
	b_publish(2, 9, false, "in", "c");
	b_send((const uint8_t[]){0x30, 0x10, 0x00}, 3);
	CHECK(wait_pkts(MQTT_PUBREC, 1, WAIT));
	CHECK(wait_pkts(MQTT_SUBSCRIBE, 1, WAIT));
	run_for(20);
	CHECK(c.qos2_in != NULL && c.rx.len == 3 && c.inflight == 2);
	CHECK(counts[EV_LOST] == 0);
	client_end(&c); /* an RST to the broker; no lost() */
	CHECK(fake.reset && counts[EV_LOST] == 0 && c.qos2_in == NULL);
}

int main(void)
{
	int rc;

	alarm(120); /* a case that hangs fails instead */
	uv_loop_init(&loop);
	log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_WARN);
	net_host_init(&nh, &loop, NULL, 0, NULL, NULL);
	env = (struct mqtt_env){
	        .loop = &loop,
	        .net = &nh,
	        .trace_id = 0,
	        .time_scale = SCALE,
	        .limits = &limits,
	        .faults = NULL,
	        .ops = &ops,
	        .owner = NULL,
	};
	broker_start();

	test_open();
	test_connect_bytes();
	test_connack();
	test_subscribe();
	test_publish();
	test_publish_checks();
	test_retransmission();
	test_late_ack();
	test_incoming();
	test_incoming_qos2();
	test_flow_control();
	test_flow_hold_limit();
	test_resume_deadlines();
	test_keepalive();
	test_losses();
	test_rx_limit();
	test_disconnect();
	test_free();

	broker_stop();
	net_host_free(&nh);
	net_trap_close();
	/* as libuv's tests end: run until every handle has closed and the loop closes */
	for (int i = 0; (rc = uv_loop_close(&loop)) == UV_EBUSY && i < 3000; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	CHECK(rc == 0);
	return check_exit();
}
