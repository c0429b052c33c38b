/* The socket core: see sock.h for the contract. */
#include "sock/sock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "at/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "net/conn.h"
#include "net/resolve.h"

/* While the host is behind, delivery is retried this often besides the port's drain
 * notification (which another user of modem.on_drain may hold). */
#define KICK_MS 10
/* The kernel gives no event when the peer has acknowledged everything: sock_close and the
 * transparent send side look at the unacknowledged count this often while they wait. */
#define DRAIN_POLL_MS 10
/* Transparent mode: bytes per write to the host (no framing, so any size would do). */
#define TP_CHUNK 4096

/* UDP: a connected uv_udp_t. Datagram boundaries are kept: a read or a push never crosses
 * one (dg holds the lengths of the datagrams in s->rx, oldest first). */
struct sock_udp {
	uv_udp_t h;
	uv_getaddrinfo_t gai;
	struct sock *s; /* NULL once released */
	struct modem_timer *defer;
	struct buf dg;
	int refs; /* libuv objects still to report back */
	bool h_init;
	bool gai_pending;
	struct in_addr addr;
	uint8_t rbuf[65536];
};

struct udp_send_req {
	uv_udp_send_t req;
	uint8_t data[];
};

static const char *const state_names[] = {
        [SOCK_S_INITIAL] = "INITIAL",     [SOCK_S_OPENING] = "OPENING",
        [SOCK_S_CONNECTED] = "CONNECTED", [SOCK_S_LISTENING] = "LISTENING",
        [SOCK_S_CLOSING] = "CLOSING",
};

static const struct at_data_ops tp_ops;
static void pump_all(struct modem *m);
static bool pump_sock(struct sock *s);
static void udp_release(struct sock_udp *u);
static void udp_pause(struct sock_udp *u, bool on);

const char *sock_proto_name(enum sock_proto p)
{
	switch (p) {
	case SOCK_TCP:
		return "TCP";
	case SOCK_UDP:
		return "UDP";
	case SOCK_TLS:
		return "TLS";
	}
	return "?";
}

const char *sock_mode_name(enum sock_mode mode)
{
	switch (mode) {
	case SOCK_MODE_BUFFER:
		return "buffer";
	case SOCK_MODE_PUSH:
		return "push";
	case SOCK_MODE_TRANSPARENT:
		return "transparent";
	}
	return "?";
}

static void set_state(struct sock *s, enum sock_socket_state st)
{
	if (s->state == st)
		return;
	log_msg(LOG_DEBUG, "#%d: socket %d: %s -> %s", s->m->index, s->id, state_names[s->state],
	        state_names[st]);
	trace_event(s->m->index, "sock", "socket %d: %s -> %s", s->id, state_names[s->state],
	            state_names[st]);
	s->state = st;
}

/* ---- init ---- */

struct sock_state *modem_sock(const struct modem *cm)
{
	struct modem *m = (struct modem *)cm; /* allocated on first use: logically const */
	struct sock_state *st = m->sock;

	if (st)
		return st;
	st = m->sock = modem_area_alloc(m, sizeof(*st), "socket");
	buf_init(&st->req_data, 0);
	for (int i = 0; i < SOCK_MAX; i++) {
		struct sock *s = &st->s[i];

		s->m = m;
		s->id = i;
		buf_init(&s->rx, 0);
	}
	return st;
}

struct sock *sock_get(struct modem *m, int id)
{
	if (id < 0 || id >= SOCK_MAX)
		return NULL;
	return &modem_sock(m)->s[id];
}

/* ---- the host side ---- */

static size_t host_pending(struct modem *m)
{
	return modem_host_pending(m);
}

/* Stop (or resume) reading the host while the transparent send side is full, as a module
 * does with RTS/CTS. modem.c pauses the port for its own input buffer too: never resume what
 * it paused. */
static void host_pause(struct sock *s, bool on)
{
	struct modem *m = s->m;

	if (s->host_paused == on)
		return;
	s->host_paused = on;
	trace_event(m->index, "sock", "socket %d: %s reading the host", s->id,
	            on ? "stop" : "resume");
	if (m->port.pause_input && (on || !m->input_paused))
		m->port.pause_input(m->port.ctx, on);
}

/* ---- counters ---- */

static uint64_t tx_unacked(const struct sock *s)
{
	struct net_conn_stats st;

	if (!s->conn)
		return 0;
	net_conn_get_stats(s->conn, &st);
	return st.unacked;
}

void sock_get_counters(const struct sock *s, struct sock_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->rx_total = s->rx_total;
	out->rx_read = s->rx_read;
	out->rx_unread = s->rx.len;
	out->tx_total = s->tx_total;
	out->tx_unacked = tx_unacked(s);
	/* with TLS the kernel's count is ciphertext: never report more than was sent */
	if (out->tx_unacked > out->tx_total)
		out->tx_unacked = out->tx_total;
	out->tx_acked = out->tx_total - out->tx_unacked;
}

const char *sock_remote_ip(const struct sock *s)
{
	return s->remote_ip[0] ? s->remote_ip : s->host;
}

/* ---- the slot ---- */

/* A reboot cancels every modem timer: these hooks forget the ones a socket holds. */
static void tx_timer_drop(void *arg)
{
	((struct sock *)arg)->tx_timer = NULL;
}

static void close_timer_drop(void *arg)
{
	((struct sock *)arg)->close_timer = NULL;
}

static void open_timer_drop(void *arg)
{
	((struct sock *)arg)->open_timer = NULL;
}

static void timer_clear(struct modem_timer **t)
{
	struct modem_timer *x = *t;

	*t = NULL;
	modem_timer_cancel(x);
}

/* Free everything of s; reset: RST (and drop what is queued) instead of a graceful close. */
static void release(struct sock *s, bool reset)
{
	struct modem *m = s->m;

	if (modem_sock(m)->tp == s) {
		modem_sock(m)->tp = NULL;
		if (!s->tp_escaped)
			at_transparent_exit(m, NULL);
	}
	host_pause(s, false);
	timer_clear(&s->tx_timer);
	timer_clear(&s->close_timer);
	timer_clear(&s->open_timer);
	s->open_held = false;
	s->close_held = false;
	if (s->conn) {
		struct net_conn *c = s->conn;

		s->conn = NULL;
		if (reset)
			net_conn_abort(c);
		else
			net_conn_close(c);
	}
	if (s->udp) {
		udp_release(s->udp);
		s->udp = NULL;
	}
	buf_free(&s->rx);
	buf_init(&s->rx, 0);
	s->ops = NULL;
	s->rx_paused = false;
	s->closed_pending = false;
	s->closed_told = false;
	s->tp_escaped = false;
	s->host_closing = false;
	s->close_done = NULL;
	s->close_arg = NULL;
	set_state(s, SOCK_S_INITIAL);
}

void sock_abort(struct sock *s)
{
	if (!sock_in_use(s))
		return;
	trace_event(s->m->index, "sock", "socket %d: reset by the host", s->id);
	release(s, true);
}

void sock_reboot(struct modem *m)
{
	struct sock_state *st = m->sock;

	if (!st)
		return;
	/* the modem's timers are gone already (their drop hooks cleared our pointers) */
	for (int i = 0; i < SOCK_MAX; i++)
		if (sock_in_use(&st->s[i]))
			release(&st->s[i], true);
	st->tp = NULL;
	buf_reset(&st->req_data);
}

void sock_free(struct modem *m)
{
	struct sock_state *st = m->sock;

	if (!st)
		return;
	sock_reboot(m);
	for (int i = 0; i < SOCK_MAX; i++)
		buf_free(&st->s[i].rx);
	buf_free(&st->req_data);
	/* the area itself: modem_release, once the loop has closed the connections */
}

/* ---- receiving ---- */

static void rx_pause(struct sock *s, bool on)
{
	if (s->rx_paused == on)
		return;
	s->rx_paused = on;
	trace_event(s->m->index, "sock", "socket %d: %s reading the network (%zu bytes buffered)",
	            s->id, on ? "stop" : "resume", s->rx.len);
	if (s->conn)
		net_conn_pause(s->conn, on);
	if (s->udp)
		udp_pause(s->udp, on);
}

static size_t udp_head(const struct sock *s)
{
	uint32_t len;

	if (!s->udp || s->udp->dg.len < sizeof(len))
		return SIZE_MAX;
	memcpy(&len, s->udp->dg.data, sizeof(len));
	return len;
}

/* Take n bytes off the front of rx (n never crosses a datagram). */
static void consume(struct sock *s, size_t n)
{
	buf_consume(&s->rx, n);
	s->rx_read += n;
	if (s->udp && s->udp->dg.len >= sizeof(uint32_t)) {
		uint32_t len;

		memcpy(&len, s->udp->dg.data, sizeof(len));
		len -= (uint32_t)n;
		if (len == 0)
			buf_consume(&s->udp->dg, sizeof(len));
		else
			memcpy(s->udp->dg.data, &len, sizeof(len));
	}
	if (s->rx_paused && s->rx.len < s->rx_limit / 2)
		rx_pause(s, false);
}

static bool delivers(const struct sock *s)
{
	switch (s->mode) {
	case SOCK_MODE_BUFFER:
		return false;
	case SOCK_MODE_PUSH:
		return true;
	case SOCK_MODE_TRANSPARENT:
		return !s->tp_escaped;
	}
	return false;
}

size_t sock_read(struct sock *s, uint8_t *dst, size_t max)
{
	size_t n = s->rx.len < max ? s->rx.len : max, head = udp_head(s);

	if (head < n)
		n = head;
	if (!n)
		return 0;
	memcpy(dst, s->rx.data, n);
	consume(s, n);
	return n;
}

/* Is received data kept? Not when the host is closing the socket: what still comes is
 * dropped. */
static bool accepting(const struct sock *s)
{
	if (s->host_closing)
		return false;
	return s->state == SOCK_S_CONNECTED || (s->open_held && s->open_status == 0);
}

/* Bytes came from the peer (the connection or a datagram). */
static void got_data(struct sock *s, const uint8_t *p, size_t n)
{
	bool was_empty = s->rx.len == 0;

	if (!accepting(s) || !n)
		return;
	if (buf_append(&s->rx, p, n) != 0) {
		log_msg(LOG_ERROR, "#%d: socket %d: out of memory for %zu received bytes",
		        s->m->index, s->id, n);
		return;
	}
	s->rx_total += n;
	if (s->rx.len >= s->rx_limit)
		rx_pause(s, true);
	if (s->open_held)
		return; /* reported after opened() */
	if (delivers(s)) {
		pump_all(s->m);
		return;
	}
	if (s->mode == SOCK_MODE_BUFFER && s->ops->recv)
		s->ops->recv(s, n, was_empty);
}

/* Tell the model that the connection ended; first leave transparent mode. */
static void finish_closed(struct sock *s)
{
	struct modem *m = s->m;

	s->closed_pending = false;
	if (modem_sock(m)->tp == s && !s->tp_escaped) {
		modem_sock(m)->tp = NULL;
		host_pause(s, false);
		at_transparent_exit(m, s->ops->closed_text);
	}
	if (s->closed_told)
		return;
	s->closed_told = true;
	if (s->ops->closed)
		s->ops->closed(s, s->close_reason, s->close_cause);
}

/* The peer or the network ended the connection (its resources are released already). */
static void peer_gone(struct sock *s, int reason, const char *cause)
{
	trace_event(s->m->index, "sock", "socket %d: ended: %s%s%s (%zu bytes unread)", s->id,
	            net_status_str(reason), cause ? ": " : "", cause ? cause : "", s->rx.len);
	s->peer_closed = true;
	s->close_reason = reason;
	if (cause != s->close_cause)
		snprintf(s->close_cause, sizeof(s->close_cause), "%s", cause ? cause : "");
	host_pause(s, false);
	timer_clear(&s->tx_timer);
	set_state(s, SOCK_S_CLOSING);
	s->closed_pending = true;
	if (delivers(s))
		pump_all(s->m); /* the rest goes to the host first */
	else
		finish_closed(s);
}

/* ---- delivery to the host (PUSH, TRANSPARENT) ---- */

static void kick_fire(struct modem *m, void *arg)
{
	(void)arg;
	modem_sock(m)->kick = NULL;
	pump_all(m);
}

static void kick_drop(void *arg)
{
	((struct modem *)arg)->sock->kick = NULL;
}

static void kick(struct modem *m, uint64_t ms)
{
	if (!modem_sock(m)->kick)
		modem_sock(m)->kick = modem_after_owned(m, ms, kick_fire, m, kick_drop);
}

static void drained(struct modem *m)
{
	pump_all(m);
}

/* Show what s holds to the host while it keeps up. Returns true when it must be retried. */
static bool pump_sock(struct sock *s)
{
	struct modem *m = s->m;
	bool tp = s->mode == SOCK_MODE_TRANSPARENT;

	if (!sock_in_use(s) || !delivers(s))
		return false;
	if (tp && modem_sock(m)->tp == s && !at_in_transparent(m) && at_transparent_pending(m))
		return true; /* CONNECT's result is not out yet */
	if (tp && (modem_sock(m)->tp != s || !at_in_transparent(m))) {
		/* not (or no longer) in transparent mode: nothing can go */
		if (s->closed_pending)
			finish_closed(s);
		return false;
	}
	while (s->rx.len) {
		size_t n = s->rx.len, head = udp_head(s), max = tp ? TP_CHUNK : SOCK_PUSH_CHUNK;

		if (host_pending(m) >= SOCK_HOST_HIGH)
			return true;
		if (n > max)
			n = max;
		if (head < n)
			n = head;
		if (tp)
			at_send(m, s->rx.data, n);
		else if (s->ops->push)
			s->ops->push(s, s->rx.data, n);
		consume(s, n);
	}
	if (s->closed_pending)
		finish_closed(s);
	return false;
}

static void pump_all(struct modem *m)
{
	bool again = false;

	for (int i = 0; i < SOCK_MAX; i++)
		if (pump_sock(&modem_sock(m)->s[i]))
			again = true;
	if (!again)
		return;
	if (!m->on_drain)
		m->on_drain = drained;
	kick(m, KICK_MS);
}

/* ---- the connection's callbacks ---- */

/* The open's outcome goes to the model now, or when report_ms has passed. */
static void open_report(struct sock *s)
{
	const struct sock_ops *ops = s->ops;
	int status = s->open_status;

	s->open_held = false;
	if (status != 0) {
		release(s, true);
		ops->opened(s, status, s->open_cause[0] ? s->open_cause : NULL);
		return;
	}
	set_state(s, SOCK_S_CONNECTED);
	ops->opened(s, 0, NULL);
	if (s->state != SOCK_S_CONNECTED)
		return; /* the model closed it */
	if (s->rx.len) {
		if (delivers(s))
			pump_all(s->m);
		else if (s->mode == SOCK_MODE_BUFFER && ops->recv)
			ops->recv(s, s->rx.len, true);
	}
	if (s->close_held && s->state == SOCK_S_CONNECTED) {
		s->close_held = false;
		peer_gone(s, s->close_reason, s->close_cause);
	}
}

static void open_fire(struct modem *m, void *arg)
{
	struct sock *s = arg;

	(void)m;
	s->open_timer = NULL;
	open_report(s);
}

static void open_result(struct sock *s, int status, const char *cause)
{
	struct modem *m = s->m;
	uint64_t now = modem_now(m);

	s->open_status = status;
	snprintf(s->open_cause, sizeof(s->open_cause), "%s", cause ? cause : "");
	if (status == 0) {
		if (s->conn) {
			const char *peer = net_conn_peer(s->conn);
			const char *colon = strrchr(peer, ':');
			size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

			if (n >= sizeof(s->remote_ip))
				n = sizeof(s->remote_ip) - 1;
			memcpy(s->remote_ip, peer, n);
			s->remote_ip[n] = 0;
		}
		trace_event(m->index, "sock", "socket %d: %s open to %s:%d (%s), %s mode", s->id,
		            sock_proto_name(s->proto), s->host, s->port, s->remote_ip,
		            sock_mode_name(s->mode));
	} else {
		trace_event(m->index, "sock", "socket %d: open %s:%d failed: %s%s%s", s->id,
		            s->host, s->port, net_status_str(status), cause ? ": " : "",
		            cause ? cause : "");
	}
	if (now < s->open_due) {
		s->open_held = true;
		s->open_timer =
		        modem_after_owned(m, s->open_due - now, open_fire, s, open_timer_drop);
		if (s->open_timer)
			return;
	}
	open_report(s);
}

static void on_opened(void *arg, int status, const char *cause)
{
	open_result(arg, status, cause);
}

static void on_data(void *arg, const uint8_t *p, size_t n)
{
	got_data(arg, p, n);
}

static void host_close_done(struct sock *s, bool reset)
{
	struct modem *m = s->m;
	void (*done)(struct modem *, void *) = s->close_done;
	void *arg = s->close_arg;

	trace_event(m->index, "sock", "socket %d: closed%s", s->id,
	            reset ? " with a reset: not acknowledged in time" : "");
	release(s, reset);
	if (done)
		done(m, arg);
}

static void on_closed(void *arg, int reason, const char *cause)
{
	struct sock *s = arg;
	struct net_conn *c = s->conn;

	s->conn = NULL;
	net_conn_close(c); /* releases it (net/conn.h: also after closed()) */
	if (s->host_closing) {
		host_close_done(s, false);
		return;
	}
	if (s->open_held) {
		/* after a failed open nothing more comes; after a good one, report it later */
		s->close_held = true;
		s->close_reason = reason;
		snprintf(s->close_cause, sizeof(s->close_cause), "%s", cause ? cause : "");
		return;
	}
	peer_gone(s, reason, cause);
}

static const struct net_conn_ops conn_ops = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
};

/* ---- UDP ---- */

static void udp_maybe_free(struct sock_udp *u)
{
	if (u->s || u->refs)
		return;
	buf_free(&u->dg);
	free(u);
}

static void udp_handle_closed(uv_handle_t *h)
{
	struct sock_udp *u = h->data;

	u->refs--;
	udp_maybe_free(u);
}

static void udp_release(struct sock_udp *u)
{
	u->s = NULL;
	timer_clear(&u->defer);
	if (u->gai_pending)
		uv_cancel((uv_req_t *)&u->gai);
	if (u->h_init && !uv_is_closing((uv_handle_t *)&u->h))
		uv_close((uv_handle_t *)&u->h, udp_handle_closed);
	udp_maybe_free(u);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                     unsigned flags);

static void udp_pause(struct sock_udp *u, bool on)
{
	if (!u->h_init)
		return;
	if (on)
		uv_udp_recv_stop(&u->h);
	else
		uv_udp_recv_start(&u->h, udp_alloc, udp_recv);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct sock_udp *u = h->data;

	(void)suggested;
	*b = uv_buf_init((char *)u->rbuf, sizeof(u->rbuf));
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                     unsigned flags)
{
	struct sock_udp *u = h->data;
	struct sock *s = u->s;
	uint32_t len;

	(void)b;
	(void)addr;
	(void)flags;
	if (!s || nread == 0)
		return;
	if (nread < 0) {
		/* ICMP port unreachable on a connected socket: UDP carries on */
		trace_event(s->m->index, "sock", "socket %d: UDP: %s", s->id,
		            uv_strerror((int)nread));
		return;
	}
	len = (uint32_t)nread;
	if (!accepting(s))
		return;
	if (buf_append(&u->dg, &len, sizeof(len)) != 0)
		return;
	got_data(s, u->rbuf, (size_t)nread);
}

static void udp_connect(struct sock_udp *u)
{
	struct sock *s = u->s;
	struct modem *m = s->m;
	const struct net_route *r = net_map_route(m->sim->net, s->port);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char cause[96];
	int rc;

	sa.sin_addr = u->addr;
	sa.sin_port = htons((uint16_t)s->port);
	if (r && r->kind == NET_ROUTE_ADDR && r->to_port) {
		sa.sin_addr = r->addr;
		sa.sin_port = htons((uint16_t)r->to_port);
	}
	inet_ntop(AF_INET, &sa.sin_addr, s->remote_ip, sizeof(s->remote_ip));
	rc = uv_udp_init(m->sim->loop, &u->h);
	if (rc == 0) {
		u->h.data = u;
		u->h_init = true;
		u->refs++;
		if (s->local_port) {
			struct sockaddr_in la = {.sin_family = AF_INET};

			la.sin_port = htons((uint16_t)s->local_port);
			rc = uv_udp_bind(&u->h, (const struct sockaddr *)&la, 0);
		}
	}
	if (rc == 0)
		rc = uv_udp_connect(&u->h, (const struct sockaddr *)&sa);
	if (rc == 0)
		rc = uv_udp_recv_start(&u->h, udp_alloc, udp_recv);
	if (rc) {
		snprintf(cause, sizeof(cause), "UDP socket: %s", uv_strerror(rc));
		open_result(s, -NET_ERR_IO, cause);
		return;
	}
	open_result(s, 0, NULL);
}

static void udp_deferred(struct modem *m, void *arg)
{
	struct sock_udp *u = arg;

	(void)m;
	u->defer = NULL;
	if (!u->s)
		return;
	if (u->addr.s_addr == INADDR_NONE) {
		char cause[SOCK_HOST_MAX + 32];

		snprintf(cause, sizeof(cause), "%s: not resolved", u->s->host);
		open_result(u->s, -NET_ERR_DNS, cause);
		return;
	}
	udp_connect(u);
}

static void udp_defer_drop(void *arg)
{
	((struct sock_udp *)arg)->defer = NULL;
}

static void udp_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct sock_udp *u = req->data;

	u->gai_pending = false;
	u->refs--;
	if (u->s && status == 0 && res)
		u->addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	else
		u->addr.s_addr = INADDR_NONE;
	if (res)
		uv_freeaddrinfo(res);
	if (u->s)
		udp_deferred(u->s->m, u);
	udp_maybe_free(u);
}

static int udp_open(struct sock *s)
{
	struct modem *m = s->m;
	struct sock_udp *u = calloc(1, sizeof(*u));
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};

	if (!u)
		return -ERR_NOMEM;
	u->s = s;
	buf_init(&u->dg, 0);
	s->udp = u;
	switch (net_map_plan(m->sim->net, s->host, &u->addr, NULL)) {
	case NET_PLAN_ADDR:
		break;
	case NET_PLAN_FAIL:
		u->addr.s_addr = INADDR_NONE;
		break;
	case NET_PLAN_LOOKUP:
		u->gai.data = u;
		if (uv_getaddrinfo(m->sim->loop, &u->gai, udp_resolved, s->host, NULL, &hints) !=
		    0) {
			u->addr.s_addr = INADDR_NONE;
			break;
		}
		u->gai_pending = true;
		u->refs++;
		return 0;
	}
	/* opened() comes from the loop, never from inside sock_open */
	u->defer = modem_after_owned(m, 0, udp_deferred, u, udp_defer_drop);
	if (!u->defer) {
		s->udp = NULL;
		udp_release(u);
		return -ERR_NOMEM;
	}
	return 0;
}

static void udp_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req);
}

static int udp_send(struct sock_udp *u, const uint8_t *p, size_t n)
{
	struct udp_send_req *r = malloc(sizeof(*r) + n);
	uv_buf_t b;

	if (!r)
		return -ERR_NOMEM;
	memcpy(r->data, p, n);
	b = uv_buf_init((char *)r->data, (unsigned)n);
	if (uv_udp_send(&r->req, &u->h, &b, 1, NULL, udp_sent) != 0) {
		free(r);
		return -ERR_STATE;
	}
	return 0;
}

/* ---- opening ---- */

int sock_open(struct modem *m, int id, const struct sock_open_args *a, const struct sock_ops *ops,
              void *arg)
{
	struct sock *s = sock_get(m, id);
	int rc = -ERR_INVAL;

	if (!s || !a || !ops || !ops->opened || !a->host || a->port < 0 || a->port > 65535 ||
	    strlen(a->host) >= SOCK_HOST_MAX || (a->proto == SOCK_TLS && !a->tls))
		return -ERR_INVAL;
	if (sock_in_use(s))
		return -ERR_BUSY;
	s->proto = a->proto;
	s->mode = a->mode;
	s->cid = a->cid;
	snprintf(s->host, sizeof(s->host), "%s", a->host);
	s->port = a->port;
	s->local_port = a->local_port;
	s->remote_ip[0] = 0;
	s->rx_limit = a->rx_limit ? a->rx_limit : SOCK_RX_LIMIT;
	s->tx_limit = a->tx_limit ? a->tx_limit : SOCK_TX_LIMIT;
	s->rx_total = s->rx_read = s->tx_total = 0;
	s->peer_closed = false;
	s->close_reason = 0;
	s->close_cause[0] = 0;
	s->ops = ops;
	s->arg = arg;
	s->open_due = modem_now(m) + a->report_ms;
	set_state(s, SOCK_S_OPENING);
	trace_event(m->index, "sock", "socket %d: open %s %s:%d, %s mode", id,
	            sock_proto_name(a->proto), a->host, a->port, sock_mode_name(a->mode));
	if (a->proto == SOCK_UDP)
		rc = udp_open(s);
	else
		rc = net_conn_open(&m->nh, a->host, a->port, a->proto == SOCK_TLS ? a->tls : NULL,
		                   a->timeout_ms, &conn_ops, s, &s->conn);
	if (rc) {
		s->conn = NULL;
		release(s, true);
	}
	return rc;
}

/* ---- sending ---- */

bool sock_send_full(const struct sock *s, size_t n)
{
	if (s->proto == SOCK_UDP)
		return false; /* datagrams are not queued: they go or the kernel drops them */
	return tx_unacked(s) + n > s->tx_limit;
}

static int do_write(struct sock *s, const uint8_t *p, size_t n)
{
	int rc = -ERR_STATE;

	if (s->conn)
		rc = net_conn_write(s->conn, p, n);
	else if (s->udp && s->udp->h_init)
		rc = udp_send(s->udp, p, n);
	if (rc == 0)
		s->tx_total += n;
	return rc;
}

int sock_send(struct sock *s, const uint8_t *p, size_t n)
{
	if (s->state != SOCK_S_CONNECTED || s->host_closing)
		return -ERR_STATE;
	if (sock_send_full(s, n)) {
		trace_event(s->m->index, "sock",
		            "socket %d: send buffer full (%llu unacknowledged + %zu > %zu)", s->id,
		            (unsigned long long)tx_unacked(s), n, s->tx_limit);
		return -ERR_BUSY;
	}
	return do_write(s, p, n);
}

/* ---- transparent mode ---- */

static void tx_poll(struct modem *m, void *arg)
{
	struct sock *s = arg;

	(void)m;
	s->tx_timer = NULL;
	if (!s->host_paused)
		return;
	if (s->state != SOCK_S_CONNECTED || tx_unacked(s) <= s->tx_limit / 2) {
		host_pause(s, false);
		return;
	}
	s->tx_timer = modem_after_owned(s->m, DRAIN_POLL_MS, tx_poll, s, tx_timer_drop);
}

static void tp_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct sock *s = arg;

	if (s->state != SOCK_S_CONNECTED || do_write(s, p, n) != 0) {
		trace_event(m->index, "sock", "socket %d: %zu bytes from the host dropped: %s",
		            s->id, n, state_names[s->state]);
		return;
	}
	if (s->proto != SOCK_UDP && !s->host_paused && tx_unacked(s) > s->tx_limit) {
		host_pause(s, true);
		if (!s->tx_timer)
			s->tx_timer =
			        modem_after_owned(m, DRAIN_POLL_MS, tx_poll, s, tx_timer_drop);
	}
}

/* "+++" with its guard times: back in command mode (the dispatcher did that), then OK
 * (EC2x TCP/IP AN, transparent access mode; M95 AT manual, +++). */
static void tp_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct sock *s = arg;

	if (why == AT_END_ABANDON)
		return; /* a reboot or shutdown: the socket goes with it */
	s->tp_escaped = true;
	host_pause(s, false);
	trace_event(m->index, "sock", "socket %d: +++: command mode, %zu bytes held", s->id,
	            s->rx.len);
	at_result_code(m, "OK", 0);
	if (s->closed_pending)
		finish_closed(s); /* the peer had closed: tell the model now, as in buffer mode */
}

static const struct at_data_ops tp_ops = {tp_data, tp_end};

int sock_transparent(struct sock *s)
{
	struct modem *m = s->m;

	if ((modem_sock(m)->tp && modem_sock(m)->tp != s) || s->mode != SOCK_MODE_TRANSPARENT ||
	    s->state != SOCK_S_CONNECTED || s->host_closing)
		return -ERR_STATE;
	modem_sock(m)->tp = s;
	s->tp_escaped = false;
	at_transparent(m, &tp_ops, s);
	/* what waited while escaped goes once CONNECT's result is out */
	kick(m, 0);
	return 0;
}

struct sock *sock_escaped(struct modem *m)
{
	struct sock *s = modem_sock(m)->tp;

	if (!s || !s->tp_escaped || s->state != SOCK_S_CONNECTED)
		return NULL;
	return s;
}

/* ---- closing ---- */

static void close_poll(struct modem *m, void *arg)
{
	struct sock *s = arg;

	s->close_timer = NULL;
	if (!s->conn || tx_unacked(s) == 0) {
		host_close_done(s, false);
		return;
	}
	if (modem_now(m) >= s->close_deadline) {
		host_close_done(s, true);
		return;
	}
	s->close_timer = modem_after_owned(m, DRAIN_POLL_MS, close_poll, s, close_timer_drop);
}

void sock_close(struct sock *s, uint64_t timeout_ms, void (*done)(struct modem *m, void *arg),
                void *arg)
{
	struct modem *m = s->m;
	uint64_t unacked;

	if (!sock_in_use(s) || s->host_closing) {
		if (done)
			done(m, arg);
		return;
	}
	unacked = s->state == SOCK_S_CONNECTED ? tx_unacked(s) : 0;
	trace_event(m->index, "sock", "socket %d: close by the host (%llu bytes unacknowledged)",
	            s->id, (unsigned long long)unacked);
	s->close_done = done;
	s->close_arg = arg;
	if (unacked == 0 || timeout_ms == 0) {
		host_close_done(s, unacked != 0);
		return;
	}
	/* EC2x TCP/IP AN, AT+QICLOSE <timeout>: the module waits for the peer's FIN ACK that
	 * long, then forces the close. */
	if (modem_sock(m)->tp == s)
		modem_sock(m)->tp = NULL;
	host_pause(s, false);
	s->host_closing = true;
	s->closed_pending = false;
	s->close_deadline = modem_now(m) + timeout_ms;
	set_state(s, SOCK_S_CLOSING);
	s->close_timer = modem_after_owned(m, DRAIN_POLL_MS, close_poll, s, close_timer_drop);
	if (!s->close_timer)
		host_close_done(s, true);
}

/* ---- PDP context down ---- */

void sock_pdp_down(struct modem *m, int cid, bool by_network)
{
	for (int i = 0; i < SOCK_MAX; i++) {
		struct sock *s = &modem_sock(m)->s[i];
		const struct sock_ops *ops = s->ops;

		if (!sock_in_use(s) || s->cid != cid)
			continue;
		if (!by_network) {
			trace_event(m->index, "sock",
			            "socket %d: context %d deactivated by the host", s->id, cid);
			release(s, true);
			continue;
		}
		if (s->host_closing) {
			host_close_done(s, true);
			continue;
		}
		switch (s->state) {
		case SOCK_S_OPENING:
			release(s, true);
			ops->opened(s, -NET_ERR_UNREACH, "PDP context deactivated");
			break;
		case SOCK_S_CONNECTED:
			if (s->conn) {
				struct net_conn *c = s->conn;

				s->conn = NULL;
				net_conn_abort(c);
			}
			if (s->udp) {
				udp_release(s->udp);
				s->udp = NULL;
			}
			peer_gone(s, -NET_ERR_UNREACH, "PDP context deactivated");
			break;
		case SOCK_S_INITIAL:
		case SOCK_S_LISTENING:
		case SOCK_S_CLOSING:
			break;
		}
	}
}

/* ---- the host's payload for AT+QISEND / AT+QSSLSEND ---- */

static void send_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct buf *b = &modem_sock(m)->req_data;

	(void)arg;
	if (b->len <= modem_sock(m)->req_max)
		buf_append(b, p, n);
}

/* "SEND OK" when the bytes were taken, "SEND FAIL" when the send buffer is full (EC2x TCP/IP
 * AN, AT+QISEND; GSM SSL AN 2.2.3 "if the process of sending data is blocked"; reference §5b),
 * ERROR when the socket is gone. */
static void send_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct buf *b = &modem_sock(m)->req_data;
	struct sock *s = sock_get(m, modem_sock(m)->req_id);
	int rc = AT_ERROR;

	(void)arg;
	switch (why) {
	case AT_END_ABANDON:
		buf_reset(b);
		return;
	case AT_END_CANCEL:
		/* reference §9 and GSM SSL AN 2.2.3: ESC cancels; assumed to answer OK, as
		 * +QMTPUB does here */
		at_why(m, "ESC: send cancelled");
		rc = AT_OK;
		break;
	case AT_END_SUBMIT:
	case AT_END_COUNT:
		if (b->len < modem_sock(m)->req_min || b->len > modem_sock(m)->req_max) {
			at_why(m, "%zu bytes to send (%zu-%zu)", b->len, modem_sock(m)->req_min,
			       modem_sock(m)->req_max);
			break;
		}
		switch (sock_send(s, b->data, b->len)) {
		case 0:
			at_text(m, "SEND OK");
			rc = AT_CUSTOM;
			break;
		case -ERR_BUSY:
			at_why(m, "send buffer full");
			at_text(m, "SEND FAIL");
			rc = AT_CUSTOM;
			break;
		default:
			at_why(m, "socket %d is not connected", s ? s->id : modem_sock(m)->req_id);
			break;
		}
		break;
	case AT_END_ESCAPE:
	case AT_END_TIMEOUT:
		break;
	}
	buf_reset(b);
	at_complete(m, rc);
}

static const struct at_data_ops send_ops = {send_data, send_end};

void sock_send_prompt(struct modem *m, int id, size_t fixed_len, size_t min, size_t max)
{
	buf_reset(&modem_sock(m)->req_data);
	modem_sock(m)->req_id = id;
	modem_sock(m)->req_min = min;
	modem_sock(m)->req_max = max;
	at_prompt(m, fixed_len, &send_ops, NULL);
}
