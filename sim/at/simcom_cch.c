/* SIMCom (SIM7600, A7670, SIM7670G): the SSL/TCP socket service AT+CCH* (SIM7600 manual V3.00
 * 10.2, A76XX manual V1.09 19.2, A76XX SSL AN V1.02; reference §7.3) over the socket core
 * (sock/sock.c), with TLS from the AT+CSSLCFG contexts (simcom_ssl_params).
 *
 *   AT+CCHSET=<report_send_result>[,<recv_mode>]  AT+CCHMODE=<0|1>   (before CCHSTART)
 *   AT+CCHSTART              ==> OK   <== +CCHSTART: 0
 *   AT+CCHSSLCFG=<s>,<ctx>   AT+CCHCFG="sendtimeout"|"sslctx",<s>,<v>
 *   AT+CCHOPEN=<s>,"host",<port>[,<type 1 TCP|2 TLS>[,<bind_port>]]
 *                            ==> OK   <== +CCHOPEN: <s>,<err>
 *                            (CCHMODE=1, session 0: CONNECT 115200 | CONNECT FAIL)
 *   AT+CCHSEND=<s>,<len>     ==> >  <len bytes>  OK   [<== +CCHSEND: <s>,0 when reported]
 *   data, recv_mode 0:       <== +CCHRECV: DATA,<s>,<n> CR LF <n bytes>
 *   data, recv_mode 1:       <== +CCHEVENT: <s>,RECV EVENT;
 *                            AT+CCHRECV=<s>[,<max>] ==> OK  +CCHRECV: DATA,<s>,<n> CR LF <bytes>
 *                            ... +CCHRECV: <s>,0;   AT+CCHRECV? ==> +CCHRECV: LEN,<c0>,<c1>
 *   peer closed:             <== +CCH_PEER_CLOSED: <s>
 *   AT+CCHCLOSE=<s>          ==> OK   <== +CCHCLOSE: <s>,0
 *   AT+CCHSTOP               ==> OK   <== +CCHSTOP: 0
 *
 * Sessions 0 and 1 live in the core's slots CCH_SLOT0 and CCH_SLOT0 + 1, above the ten
 * links of AT+CIPOPEN (at/simcom_cip.c): the module keeps the two services apart.
 *
 * Choices where the sources are silent (each noted where it is made):
 *   - CCHSTART when started, CCHSTOP when stopped, CCHOPEN on a busy session: bare ERROR
 *     (the manuals' "If failed: ERROR").
 *   - CCHSTART activates context 1 (the manual: "by activating PDP context"); without the
 *     radio or the registration it answers OK then +CCHSTART: 17 (17 "Nonet").
 *   - The open's <err>: DNS 13, TLS 15, timeout 5, anything else 14 (connect socket); a
 *     context that cannot build (a named file absent ...) 15, a missing certificate 19.
 *   - The context drops under a session: +CCH_RECV_CLOSED: <s>,9 (9 network error); A76XX
 *     then +CCH: CCH STOP and the service is stopped (A76XX manual 19.4).
 *   - AT+CCHRECV gives the cache in pieces of at most 1024 bytes (the A76XX manual's example);
 *     with no data cached (or in receive mode 0) it answers +CCHRECV: <s>,11 and ERROR.
 *   - After +CCH_PEER_CLOSED the cached data stays readable (A76XX manual 19.2.15 note); the
 *     session is free for CCHOPEN again, and CCHCLOSE of it answers OK, +CCHCLOSE: <s>,0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "net/conn.h"
#include "sock/sock.h"

#define CCH_SESSIONS 2
#define CCH_SLOT0 10 /* core slots 10 and 11; 0-9 are AT+CIPOPEN's links */
#define CCH_SEND_MAX 2048
#define CCH_RECV_MAX 2048
#define CCH_RECV_PIECE 1024 /* A76XX manual 19.2.15 example: DATA,0,1024 pieces */
#define CCH_HOST_MAX 256 /* <host>: 1-256 */
#define LAT_START_MS 300
#define LAT_OPEN_MS 600
#define OPEN_TIMEOUT_S 120 /* A76XX manual: CCHOPEN's max response time */
#define CLOSE_TIMEOUT_S 10
#define SENDTIMEOUT_DEFAULT 150

_Static_assert(CCH_SLOT0 + CCH_SESSIONS <= SOCK_MAX, "the core has no room for CCH sessions");

/* <err> codes (SIM7600 manual 10.3, A76XX manual 19.3) */
enum {
	CCH_OK = 0,
	CCH_TIMEOUT = 5,
	CCH_TRANSFER = 6,
	CCH_NETWORK = 9,
	CCH_STATE = 11,
	CCH_DNS = 13,
	CCH_CONNECT = 14,
	CCH_HANDSHAKE = 15,
	CCH_NONET = 17,
	CCH_NOCERT = 19,
};

struct cch_session {
	int sslctx; /* AT+CCHSSLCFG / CCHCFG "sslctx"; -1: the session's own index */
	int sendtimeout;
	int client_type; /* of the open or last open: 1 TCP, 2 TLS */
	int bind_port; /* as given, 0: none */
	bool opening_tp; /* CCHMODE=1: the open answers CONNECT / CONNECT FAIL */
};

struct cch_state {
	bool started;
	bool starting; /* +CCHSTART: is due */
	bool report_send; /* AT+CCHSET <report_send_result> */
	int recv_mode; /* AT+CCHSET <recv_mode>: 0 push, 1 cache + +CCHEVENT */
	int mode; /* AT+CCHMODE: 0 normal, 1 transparent (session 0) */
	struct cch_session ses[CCH_SESSIONS];
	/* AT+CCHSEND in progress */
	int send_ses;
	size_t send_len;
};

static struct cch_state *state_of(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cch_simcom);

	return slot ? *slot : NULL;
}

bool simcom_cch_started(struct modem *m)
{
	struct cch_state *st = state_of(m);

	/* the service counts as started from the command on: CMQTTSTART right after CCHSTART's
	 * OK must see it (seed 002) */
	return st && (st->started || st->starting);
}

static struct sock *ses_sock(struct modem *m, int s)
{
	return sock_get(m, CCH_SLOT0 + s);
}

static int sock_ses(const struct sock *s)
{
	return s->id - CCH_SLOT0;
}

static void ses_defaults(struct cch_session *c)
{
	c->sslctx = -1;
	c->sendtimeout = SENDTIMEOUT_DEFAULT;
	c->client_type = 2;
	c->bind_port = 0;
	c->opening_tp = false;
}

static void state_defaults(struct cch_state *st)
{
	st->started = false;
	st->starting = false;
	st->report_send = false;
	st->recv_mode = 0;
	st->mode = 0;
	for (int i = 0; i < CCH_SESSIONS; i++)
		ses_defaults(&st->ses[i]);
}

/* A session that can carry data: open, the peer has not closed. */
static bool ses_connected(struct modem *m, int s)
{
	struct sock *k = ses_sock(m, s);

	return k->state == SOCK_S_CONNECTED && !k->peer_closed;
}

/* ---- the socket core's callbacks ---- */

static int open_err(int status)
{
	switch (-status) {
	case NET_ERR_DNS:
		return CCH_DNS;
	case NET_ERR_TLS:
		return CCH_HANDSHAKE;
	case NET_ERR_TIMEOUT:
		return CCH_TIMEOUT;
	default:
		return CCH_CONNECT;
	}
}

static void cch_opened(struct sock *k, int status, const char *cause)
{
	struct modem *m = k->m;
	struct cch_state *st = state_of(m);
	int s = sock_ses(k);
	struct cch_session *c = &st->ses[s];

	(void)cause; /* traced by the core */
	if (c->opening_tp) {
		c->opening_tp = false;
		if (status == 0 && sock_transparent(k) == 0) {
			/* A76XX SSL AN 3.6: "CONNECT115200" (the manual: CONNECT [<text>]) */
			at_text(m, "CONNECT 115200");
			at_complete(m, AT_CUSTOM);
			return;
		}
		if (status == 0)
			sock_abort(k);
		else
			ses_defaults(c); /* cleared after a failed CCHOPEN */
		at_why(m, "session %d: open failed", s);
		at_text_result(m, "CONNECT FAIL", 4);
		at_complete(m, AT_CUSTOM);
		return;
	}
	if (status)
		ses_defaults(c); /* "The setting will be cleared after AT+CCHOPEN failed" */
	modem_urc(m, "+CCHOPEN: %d,%d", s, status ? open_err(status) : CCH_OK);
}

/* recv_mode 1: the data waits; one event until the host has read the cache empty. */
static void cch_recv(struct sock *k, size_t n, bool was_empty)
{
	(void)n;
	if (was_empty)
		modem_urc(k->m, "+CCHEVENT: %d,RECV EVENT", sock_ses(k));
}

/* recv_mode 0: "+CCHRECV: DATA,<s>,<len>" CR LF <data> (A76XX SSL AN 3.1); the next line's
 * own CR LF separates what follows. */
static void cch_push(struct sock *k, const uint8_t *p, size_t n)
{
	uint8_t out[64 + SOCK_PUSH_CHUNK];
	int h = snprintf((char *)out, 64, "\r\n+CCHRECV: DATA,%d,%zu\r\n", sock_ses(k), n);

	memcpy(out + h, p, n);
	modem_urc_bytes(k->m, out, (size_t)h + n);
}

static void cch_closed(struct sock *k, int reason, const char *cause)
{
	(void)cause;
	(void)reason;
	if (k->mode == SOCK_MODE_TRANSPARENT && !k->tp_escaped)
		return; /* the core printed CLOSED */
	modem_urc(k->m, "+CCH_PEER_CLOSED: %d", sock_ses(k));
}

static const struct sock_ops cch_sock_ops = {
        .opened = cch_opened,
        .recv = cch_recv,
        .push = cch_push,
        .closed = cch_closed,
        /* A76XX SSL AN 3.6 shows CLOSED when a transparent session ends */
        .closed_text = "CLOSED",
};

/* ---- the service ---- */

static void start_done(struct modem *m, void *arg)
{
	struct cch_state *st = arg;

	if (!st->starting)
		return;
	st->starting = false;
	if (m->cfun != 1 || !reg_registered(m)) {
		modem_urc(m, "+CCHSTART: %d", CCH_NONET);
		return;
	}
	if (!pdp_active(m, SIMCOM_NET_CID))
		pdp_activate(m, SIMCOM_NET_CID);
	st->started = true;
	trace_event(m->index, "cch", "service started");
	modem_urc(m, "+CCHSTART: 0");
}

static int cmd_cchstart(struct at_call *c)
{
	struct cch_state *st = state_of(c->m);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (st->started || st->starting) {
		at_why(c->m, "the SSL service is started already");
		return AT_ERROR;
	}
	st->starting = true;
	if (!modem_after(c->m, modem_latency(c->m, LAT_START_MS), start_done, st))
		start_done(c->m, st);
	return AT_OK;
}

static void close_all(struct modem *m)
{
	struct cch_state *st = state_of(m);

	for (int s = 0; s < CCH_SESSIONS; s++) {
		struct sock *k = ses_sock(m, s);

		if (sock_in_use(k))
			sock_abort(k);
		ses_defaults(&st->ses[s]);
	}
}

static void stop_done(struct modem *m, void *arg)
{
	(void)arg;
	modem_urc(m, "+CCHSTOP: 0");
}

/* AT+CCHSTOP: the sessions still open go with the service (decision: no +CCHCLOSE for them;
 * the manual shows none). */
static int cmd_cchstop(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!st->started) {
		at_why(m, "the SSL service is not started");
		return AT_ERROR;
	}
	close_all(m);
	st->started = false;
	trace_event(m->index, "cch", "service stopped");
	if (!modem_after(m, modem_latency(m, LAT_START_MS / 3), stop_done, NULL))
		stop_done(m, NULL);
	return AT_OK;
}

/* AT+CCHSET=<report_send_result>[,<recv_mode>]: before CCHSTART. */
static int cmd_cchset(struct at_call *c)
{
	struct cch_state *st = state_of(c->m);

	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CCHSET: %d,%d", st->report_send ? 1 : 0, st->recv_mode);
		return AT_OK;
	}
	if (st->started || st->starting) {
		at_why(c->m, "AT+CCHSET must come before AT+CCHSTART");
		return AT_ERROR;
	}
	st->report_send = at_num(c, 0) == 1;
	if (at_given(c, 1))
		st->recv_mode = (int)at_num(c, 1);
	return AT_OK;
}

/* AT+CCHMODE=<mode>: before CCHSTART. */
static int cmd_cchmode(struct at_call *c)
{
	struct cch_state *st = state_of(c->m);

	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CCHMODE: %d", st->mode);
		return AT_OK;
	}
	if (st->started || st->starting) {
		at_why(c->m, "AT+CCHMODE must come before AT+CCHSTART");
		return AT_ERROR;
	}
	st->mode = (int)at_num(c, 0);
	return AT_OK;
}

static void print_ctx(struct modem *m, const char *name, const struct cch_session *c, int s)
{
	if (c->sslctx < 0)
		at_info(m, "%s: %d,", name, s);
	else
		at_info(m, "%s: %d,%d", name, s, c->sslctx);
}

/* AT+CCHSSLCFG=<session_id>,<ssl_ctx_index>: after CCHSTART, before CCHOPEN. */
static int cmd_cchsslcfg(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	int s;

	if (c->req == AT_REQ_READ) {
		for (s = 0; s < CCH_SESSIONS; s++)
			print_ctx(m, "+CCHSSLCFG", &st->ses[s], s);
		return AT_OK;
	}
	s = (int)at_num(c, 0);
	if (!st->started || sock_in_use(ses_sock(m, s))) {
		at_why(m, "AT+CCHSSLCFG: service not started or session %d open", s);
		return AT_ERROR;
	}
	if (at_num(c, 1) >= simcom_ssl_ctx_count(m))
		return AT_ERROR;
	st->ses[s].sslctx = (int)at_num(c, 1);
	return AT_OK;
}

/* AT+CCHCFG="sendtimeout",<s>,<60-150> | "sslctx",<s>,<0-9>: after CCHSTART, before CCHOPEN. */
static int cmd_cchcfg(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	char key[16];
	long long v;
	int s;

	if (c->req == AT_REQ_READ) {
		for (s = 0; s < CCH_SESSIONS; s++) {
			const struct cch_session *x = &st->ses[s];

			at_info(m, "+CCHCFG: %d,%d,%d", s, x->sendtimeout,
			        x->sslctx < 0 ? s : x->sslctx);
		}
		return AT_OK;
	}
	if (at_str(c, 0, key, sizeof(key)))
		return AT_ERROR;
	s = (int)at_num(c, 1);
	v = at_num(c, 2);
	if (!st->started || sock_in_use(ses_sock(m, s))) {
		at_why(m, "AT+CCHCFG: service not started or session %d open", s);
		return AT_ERROR;
	}
	if (strcasecmp(key, "sendtimeout") == 0 && v >= 60 && v <= 150)
		st->ses[s].sendtimeout = (int)v;
	else if (strcasecmp(key, "sslctx") == 0 && v >= 0 && v < simcom_ssl_ctx_count(m))
		st->ses[s].sslctx = (int)v;
	else
		return AT_ERROR;
	return AT_OK;
}

/* ---- opening ---- */

/* A failure known before the connection starts: OK then +CCHOPEN: <s>,<err> (its settings are
 * cleared), or CONNECT FAIL in transparent mode. */
static int open_fails_early(struct modem *m, struct cch_state *st, int s, bool tp, int err)
{
	ses_defaults(&st->ses[s]);
	if (tp) {
		at_text_result(m, "CONNECT FAIL", 4);
		return AT_CUSTOM;
	}
	modem_urc(m, "+CCHOPEN: %d,%d", s, err);
	return AT_OK;
}

static int cmd_cchopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	struct sock_open_args a = {0};
	struct ssl_params sp = {0};
	char host[CCH_HOST_MAX + 1], cause[200];
	int s, type, ctx, rc;
	struct sock *k;
	bool tp;

	if (c->req == AT_REQ_READ) {
		/* TinyGsmClientA76xxSSL.h's comments: `+CCHOPEN: 0,"httpbin.org",443,2,54021`
		 * open, `+CCHOPEN: 0,"",,,` not */
		for (s = 0; s < CCH_SESSIONS; s++) {
			k = ses_sock(m, s);
			if (k->state == SOCK_S_CONNECTED && !k->peer_closed) {
				char bind[16] = "";

				if (st->ses[s].bind_port)
					snprintf(bind, sizeof(bind), "%d", st->ses[s].bind_port);
				at_info(m, "+CCHOPEN: %d,\"%s\",%d,%d,%s", s, k->host, k->port,
				        st->ses[s].client_type, bind);
			} else {
				at_info(m, "+CCHOPEN: %d,\"\",,,", s);
			}
		}
		return AT_OK;
	}
	s = (int)at_num(c, 0);
	type = at_given(c, 3) ? (int)at_num(c, 3) : 2;
	k = ses_sock(m, s);
	tp = st->mode == 1;
	if (!st->started) {
		at_why(m, "the SSL service is not started");
		return AT_ERROR;
	}
	if (at_str(c, 1, host, sizeof(host)) || !host[0] || strlen(host) >= SOCK_HOST_MAX) {
		at_why(m, "bad host");
		return AT_ERROR;
	}
	if (tp && (s != 0 || modem_sock(m)->tp)) {
		/* "There is only one session in the transparent mode, it's the first session" */
		at_why(m, "transparent mode: session 0 only, one at a time");
		return AT_ERROR;
	}
	if (sock_in_use(k)) {
		if (!k->peer_closed || k->host_closing) {
			at_why(m, "session %d is open (%s:%d)", s, k->host, k->port);
			return AT_ERROR;
		}
		sock_abort(k); /* closed by the peer: what it cached goes with it */
	}
	st->ses[s].client_type = type;
	st->ses[s].bind_port = at_given(c, 4) ? (int)at_num(c, 4) : 0;
	a.proto = type == 1 ? SOCK_TCP : SOCK_TLS;
	if (a.proto == SOCK_TLS) {
		ctx = st->ses[s].sslctx < 0 ? s : st->ses[s].sslctx;
		rc = simcom_ssl_params(m, ctx, host, &sp, cause, sizeof(cause));
		if (rc) {
			int err = rc == SIMCOM_SSL_NOCERT ? CCH_NOCERT : CCH_HANDSHAKE;

			at_why(m, "SSL context %d: %s", ctx, cause);
			trace_event(m->index, "tls", "session %d: %s -> +CCHOPEN: %d,%d", s, cause,
			            s, err);
			return open_fails_early(m, st, s, tp, err);
		}
		a.tls = &sp.cfg;
	}
	if (!pdp_active(m, SIMCOM_NET_CID)) {
		at_why(m, "context %d is not active", SIMCOM_NET_CID);
		return open_fails_early(m, st, s, tp, CCH_NETWORK);
	}
	a.host = host;
	a.port = (int)at_num(c, 2);
	a.cid = SIMCOM_NET_CID;
	a.mode = tp                   ? SOCK_MODE_TRANSPARENT
	         : st->recv_mode == 1 ? SOCK_MODE_BUFFER
	                              : SOCK_MODE_PUSH;
	a.timeout_ms = modem_proto_ms(m, (uint64_t)(OPEN_TIMEOUT_S + sp.negotiate_s) * 1000);
	a.report_ms = modem_latency(m, LAT_OPEN_MS);
	rc = sock_open(m, CCH_SLOT0 + s, &a, &cch_sock_ops, NULL);
	if (rc) {
		at_why(m, "cannot open: %s", err_str(rc));
		return open_fails_early(m, st, s, tp, CCH_CONNECT);
	}
	if (tp) {
		st->ses[s].opening_tp = true;
		return AT_PENDING;
	}
	return AT_OK;
}

/* ---- sending ---- */

static void send_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	buf_append(&modem_sock(m)->req_data, p, n);
}

/* The bytes go to the peer: OK, then +CCHSEND: <s>,0 when the host asked for the report. A
 * session that ended meanwhile or a full send buffer: ERROR (decision), with +CCHSEND: <s>,6
 * (transfer failed) first when reported. */
static void send_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct cch_state *st = arg;
	struct buf *b = &modem_sock(m)->req_data;
	int s = st->send_ses, rc;

	if (why == AT_END_ABANDON) {
		buf_reset(b);
		return;
	}
	if (why != AT_END_COUNT || b->len != st->send_len) {
		buf_reset(b);
		at_complete(m, AT_ERROR);
		return;
	}
	rc = ses_connected(m, s) ? sock_send(ses_sock(m, s), b->data, b->len) : -ERR_STATE;
	buf_reset(b);
	if (rc) {
		at_why(m, "session %d: %s", s, rc == -ERR_BUSY ? "send buffer full" : "not open");
		if (st->report_send)
			at_info(m, "+CCHSEND: %d,%d", s, CCH_TRANSFER);
		at_complete(m, AT_ERROR);
		return;
	}
	if (st->report_send)
		modem_urc(m, "+CCHSEND: %d,0", s);
	at_complete(m, AT_OK);
}

static const struct at_data_ops send_ops = {send_data, send_end};

static int cmd_cchsend(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	int s;

	if (c->req == AT_REQ_READ) {
		struct sock_counters k0, k1;

		sock_get_counters(ses_sock(m, 0), &k0);
		sock_get_counters(ses_sock(m, 1), &k1);
		at_info(m, "+CCHSEND: 0,%llu,1,%llu", (unsigned long long)k0.tx_unacked,
		        (unsigned long long)k1.tx_unacked);
		return AT_OK;
	}
	s = (int)at_num(c, 0);
	if (!st->started || !ses_connected(m, s)) {
		at_why(m, "session %d is not open", s);
		return AT_ERROR;
	}
	buf_reset(&modem_sock(m)->req_data);
	st->send_ses = s;
	st->send_len = (size_t)at_num(c, 1);
	simcom_prompt(m, st->send_len, &send_ops, st);
	return AT_PENDING;
}

/* ---- receiving ---- */

static size_t cached(struct modem *m, int s)
{
	struct sock *k = ses_sock(m, s);

	return sock_in_use(k) ? k->rx.len : 0;
}

/* AT+CCHRECV=<s>[,<max_recv_len>]: OK, then the cache (at most max, 0 or omitted: all of it,
 * capped at 2048 as the SIM7600 manual says) in DATA pieces, then +CCHRECV: <s>,0. */
static int cmd_cchrecv(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	uint8_t out[64 + CCH_RECV_PIECE];
	size_t want, have;
	struct sock *k;
	int s;

	if (c->req == AT_REQ_READ) {
		at_info(m, "+CCHRECV: LEN,%zu,%zu", cached(m, 0), cached(m, 1));
		return AT_OK;
	}
	s = (int)at_num(c, 0);
	k = ses_sock(m, s);
	have = cached(m, s);
	if (!st->started || !sock_in_use(k) || k->mode != SOCK_MODE_BUFFER || have == 0) {
		at_why(m, "session %d: nothing cached to read", s);
		at_info(m, "+CCHRECV: %d,%d", s, CCH_STATE);
		return AT_ERROR;
	}
	want = at_given(c, 1) && at_num(c, 1) > 0 ? (size_t)at_num(c, 1) : CCH_RECV_MAX;
	while (want > 0) {
		size_t n = sock_read(k, out + 64, want < CCH_RECV_PIECE ? want : CCH_RECV_PIECE);
		char head[64];
		int h;

		if (n == 0)
			break;
		h = snprintf(head, sizeof(head), "\r\n+CCHRECV: DATA,%d,%zu\r\n", s, n);
		memcpy(out + 64 - h, head, (size_t)h);
		modem_urc_bytes(m, out + 64 - h, (size_t)h + n);
		want -= n;
	}
	modem_urc(m, "+CCHRECV: %d,0", s);
	return AT_OK;
}

/* ---- closing ---- */

static void close_done(struct modem *m, void *arg)
{
	modem_urc(m, "+CCHCLOSE: %d,0", (int)(intptr_t)arg);
}

static int cmd_cchclose(struct at_call *c)
{
	struct modem *m = c->m;
	struct cch_state *st = state_of(m);
	int s = (int)at_num(c, 0);
	struct sock *k = ses_sock(m, s);

	if (!st->started || !sock_in_use(k) || k->host_closing || k->state == SOCK_S_OPENING) {
		at_why(m, "session %d is not open", s);
		return AT_ERROR;
	}
	ses_defaults(&st->ses[s]); /* "cleared after ... AT+CCHCLOSE" */
	sock_close(k, modem_proto_ms(m, CLOSE_TIMEOUT_S * 1000), close_done, (void *)(intptr_t)s);
	return AT_OK;
}

/* AT+CCHADDR: the address of the service's context. */
static int cmd_cchaddr(struct at_call *c)
{
	struct cch_state *st = state_of(c->m);
	const char *ip = pdp_local_ip(c->m, SIMCOM_NET_CID);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!st->started || !ip) {
		at_why(c->m, "the SSL service is not started");
		return AT_ERROR;
	}
	at_info(c->m, "+CCHADDR: %s", ip);
	return AT_OK;
}

/* ---- the family ---- */

static int cch_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct cch_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ERR_NOMEM;
	state_defaults(st);
	*slot = st;
	return 0;
}

static void cch_reboot(struct modem *m)
{
	struct cch_state *st = state_of(m);

	sock_reboot(m);
	if (st)
		state_defaults(st);
}

static void cch_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cch_simcom);

	sock_free(m); /* idempotent: the CIP family frees it too */
	if (slot) {
		free(*slot);
		*slot = NULL;
	}
}

/* Context 1 went down: the sessions on it end (decision above); by the host, silently. */
static void cch_pdp_down(struct modem *m, int cid, bool by_network)
{
	struct cch_state *st = state_of(m);
	if (!st || cid != SIMCOM_NET_CID)
		return;
	for (int s = 0; s < CCH_SESSIONS; s++) {
		struct sock *k = ses_sock(m, s);

		if (!sock_in_use(k))
			continue;
		if (by_network && k->state != SOCK_S_CLOSING && !k->host_closing)
			modem_urc(m, "+CCH_RECV_CLOSED: %d,%d", s, CCH_NETWORK);
		sock_abort(k);
		ses_defaults(&st->ses[s]);
	}
	if (by_network && st->started && m->model->simcom.cch_stop_urc) {
		st->started = false;
		modem_urc(m, "+CCH: CCH STOP");
	}
}

#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define SES AT_NUM(0, CCH_SESSIONS - 1)

static const struct at_cmd cch_simcom_cmds[] = {
        {"+CCHSET", RWT, 1, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 1)), "+CCHSET: (0,1),(0,1)", 0, 0,
         cmd_cchset},
        {"+CCHMODE", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CCHMODE: (0,1)", 0, 0, cmd_cchmode},
        {"+CCHSTART", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cchstart},
        {"+CCHSTOP", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cchstop},
        {"+CCHSSLCFG", RWT, 2, 2, AT_SPEC(SES, AT_NUM(0, 9)), "+CCHSSLCFG: (0,1),(0-9)", 0, 0,
         cmd_cchsslcfg},
        {"+CCHCFG", RWT, 3, 3, AT_SPEC(AT_STR(15), SES, AT_NUM(0, 150)),
         "+CCHCFG: \"sendtimeout\",(0-1),(60-150)\n+CCHCFG: \"sslctx\",(0-1),(0-9)", 0, 0,
         cmd_cchcfg},
        {"+CCHOPEN", RWT, 3, 5,
         AT_SPEC(SES, AT_STR(CCH_HOST_MAX), AT_NUM(1, 65535), AT_NUM(1, 2), AT_NUM(1, 65535)),
         "+CCHOPEN: (0,1),\"ADDRESS\",(1-65535)[,(1-2)[,(1-65535)]]", 0, 0, cmd_cchopen},
        {"+CCHSEND", RWT, 2, 2, AT_SPEC(SES, AT_NUM(1, CCH_SEND_MAX)), "+CCHSEND: (0,1),(1-2048)",
         0, 0, cmd_cchsend},
        {"+CCHRECV", AT_REQ_READ | AT_REQ_WRITE, 1, 2, AT_SPEC(SES, AT_NUM(0, CCH_RECV_MAX)), NULL,
         0, 0, cmd_cchrecv},
        {"+CCHCLOSE", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(SES), "+CCHCLOSE: (0,1)", 0, 0,
         cmd_cchclose},
        {"+CCHADDR", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cchaddr},
        {0},
};

const struct at_family at_family_cch_simcom = {
        .name = "cch-simcom",
        .cmds = cch_simcom_cmds,
        .init = cch_init,
        .reboot = cch_reboot,
        .close = cch_close,
        .pdp_down = cch_pdp_down,
};
