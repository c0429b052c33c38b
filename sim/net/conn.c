/* The connection shell: libuv TCP plus the TLS adapter. States:
 *
 *   RESOLVING --> CONNECTING --> [HANDSHAKING] --> OPEN --(close)--> CLOSING --> DEAD
 *        \______________\_______________\___________\___(failure, abort)_______/
 *
 * Memory: the conn is freed only when the caller has released it (close/abort) and every
 * libuv handle has run its close callback (open_refs == 0). A callback into the caller may
 * release the conn; code that runs after a callback checks c->released / c->state before it
 * touches the connection again, and the memory is still valid because the handles' close
 * callbacks run on a later loop iteration (libuv's rule, and Redis' "free later").
 *
 * The link faults (shaping, blackholes, the host's policy) live in net/link.c; conn_int.h is
 * what the two files share. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <uv.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/conn_int.h"
#include "net/resolve.h"
#include "tls/tls.h"

static const char *const state_names[] = {
        [CONN_RESOLVING] = "resolving",     [CONN_CONNECTING] = "connecting",
        [CONN_HANDSHAKING] = "handshaking", [CONN_OPEN] = "open",
        [CONN_CLOSING] = "closing",         [CONN_DEAD] = "dead",
};

struct wreq {
	uv_write_t req;
	struct net_conn *c;
	size_t n;
	uint8_t data[];
};

/* Connection ids, for traces: process-wide, so that a trace names each connection once. */
static unsigned conn_ids;

static void set_state(struct net_conn *c, enum conn_state s)
{
	log_msg(LOG_DEBUG, "#%d conn %u: %s -> %s", c->h->trace_id, c->id, state_names[c->state],
	        state_names[s]);
	c->state = s;
}

static int status_of_uv(int uverr)
{
	switch (uverr) {
	case UV_ECONNREFUSED:
		return -NET_ERR_REFUSED;
	case UV_ETIMEDOUT:
		return -NET_ERR_TIMEOUT;
	case UV_ENETUNREACH:
	case UV_EHOSTUNREACH:
	case UV_ENETDOWN:
	case UV_EADDRNOTAVAIL:
		return -NET_ERR_UNREACH;
	case UV_ECONNRESET:
	case UV_ECONNABORTED:
	case UV_EPIPE:
		return -NET_ERR_RESET;
	case UV_ENOMEM:
	case UV_ENOBUFS:
		return -NET_ERR_NOMEM;
	default:
		return -NET_ERR_IO;
	}
}

static void maybe_free(struct net_conn *c)
{
	if (!c->released || c->open_refs > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (c->h->conns == c)
		c->h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->f)
		net_link_free(c);
	tls_session_free(c->tls);
	buf_free(&c->pending);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct net_conn *c = h->data;

	c->open_refs--;
	maybe_free(c);
}

/* Close every handle. reset: RST instead of FIN (SO_LINGER 0), unless a FIN is already out
 * (libuv forbids mixing uv_shutdown and uv_tcp_close_reset). */
void net_conn_teardown(struct net_conn *c, bool reset)
{
	if (c->state == CONN_DEAD)
		return;
	set_state(c, CONN_DEAD);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	if (c->f)
		uv_close((uv_handle_t *)&c->f->timer, on_handle_closed);
	if (c->gai_pending)
		uv_cancel((uv_req_t *)&c->gai); /* its callback still comes, with ECANCELED */
	if (c->tcp_init) {
		if (!reset || c->shut || uv_tcp_close_reset(&c->tcp, on_handle_closed) != 0)
			uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	}
}

/* The final callback: opened() with the failure before the connection was open, closed()
 * after. Nothing once the caller has released the conn. */
static void tell(struct net_conn *c, enum conn_state was, int status, const char *cause)
{
	if (c->released || c->told)
		return;
	c->told = true;
	switch (was) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_HANDSHAKING:
		c->ops->opened(c->arg, status, cause);
		break;
	case CONN_OPEN:
		c->ops->closed(c->arg, status, cause);
		break;
	case CONN_CLOSING:
	case CONN_DEAD:
		break;
	}
}

/* The final failure: handles closed (with an RST when reset), the caller told. */
void net_conn_fail(struct net_conn *c, int status, const char *cause, bool reset)
{
	enum conn_state was = c->state;
	char why[sizeof(c->cause)];

	if (was == CONN_DEAD)
		return;
	/* cause may point into c (c->cause, the session's text): copy before the teardown */
	snprintf(why, sizeof(why), "%s", cause ? cause : net_status_str(status));
	if (cause && strcmp(cause, net_status_str(status)) == 0)
		cause = NULL; /* "connection refused: connection refused" says it once */
	trace_event(c->h->trace_id, status == -NET_ERR_TLS ? "tls" : "net",
	            "conn %u: %s%s%s%s (%s)", c->id,
	            was == CONN_OPEN      ? "closed: "
	            : was == CONN_CLOSING ? "close ended: "
	                                  : "open failed: ",
	            net_status_str(status), cause ? ": " : "", cause ? why : "", state_names[was]);
	net_conn_teardown(c, reset);
	tell(c, was, status, why);
}

static void fail(struct net_conn *c, int status, const char *cause)
{
	net_conn_fail(c, status, cause, false);
}

static void on_deferred(uv_timer_t *t)
{
	struct net_conn *c = t->data;

	fail(c, c->deferred, c->cause);
}

/* A failure found inside a call from the caller (open, write): report it from the loop, so
 * that no callback runs inside the caller's own call. */
void net_conn_defer_fail(struct net_conn *c, int status, const char *cause)
{
	if (c->deferred || c->state == CONN_DEAD)
		return;
	c->deferred = status;
	if (cause != c->cause)
		snprintf(c->cause, sizeof(c->cause), "%s", cause ? cause : net_status_str(status));
	uv_timer_start(&c->timer, on_deferred, 0, 0);
}

static void on_write(uv_write_t *req, int status);

/* Bytes to the socket now, copied. Returns 0 or a negative NET status (reported by the
 * caller). */
int net_conn_write_now(struct net_conn *c, const uint8_t *p, size_t n)
{
	struct wreq *w;
	uv_buf_t b;
	int rc;

	if (n == 0)
		return 0;
	w = malloc(sizeof(*w) + n);
	if (!w)
		return -NET_ERR_NOMEM;
	w->c = c;
	w->n = n;
	memcpy(w->data, p, n);
	w->req.data = w;
	b = uv_buf_init((char *)w->data, (unsigned)n);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc) {
		free(w);
		snprintf(c->cause, sizeof(c->cause), "write: %s", uv_strerror(rc));
		return status_of_uv(rc);
	}
	c->queued += n;
	c->nreq++;
	c->st.wire_tx += n;
	if (!c->tx_full && (c->queued >= NET_CONN_TX_HIGH || c->nreq >= NET_CONN_TX_REQS_HIGH)) {
		c->tx_full = true;
		trace_event(c->h->trace_id, "net",
		            "conn %u: %zu bytes in %zu writes wait for the peer: not reading",
		            c->id, c->queued, c->nreq);
		net_conn_sync_reading(c);
	}
	return 0;
}

/* Bytes to the socket, through the link's faults when it has any. */
static int send_wire(struct net_conn *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->f && c->f->fin_sent)
		return 0; /* the link is closing under a fault: nothing more goes out */
	if (net_link_out_held(c))
		return net_link_hold_out(c, p, n);
	return net_conn_write_now(c, p, n);
}

/* Ciphertext the session produced, to the socket. */
static int flush_tls(struct net_conn *c)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (!c->tls)
		return 0;
	tls_out(c->tls, &p, &n);
	if (n == 0)
		return 0;
	rc = send_wire(c, p, n);
	if (rc == 0)
		tls_out_consume(c->tls, n);
	return rc;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct net_conn *c = req->handle->data;

	if (status == UV_ECANCELED)
		return;
	if (status == 0)
		c->shut_done = true; /* also after a fault's FIN, for a close that follows */
	if (c->state != CONN_CLOSING)
		return;
	if (status < 0 || c->eof) {
		trace_event(c->h->trace_id, "net", "conn %u: closed%s%s", c->id,
		            status < 0 ? ": " : "", status < 0 ? uv_strerror(status) : "");
		net_conn_teardown(c, false);
	}
}

/* CLOSING and every plaintext byte handed to the session: close_notify, then FIN once the
 * queue has drained (libuv runs a shutdown after the writes queued before it). */
void net_conn_shutdown(struct net_conn *c)
{
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		net_conn_teardown(c, false);
}

static void finish_close(struct net_conn *c)
{
	if (c->tls) {
		tls_close_notify(c->tls);
		if (flush_tls(c) != 0) {
			net_conn_teardown(c, false);
			return;
		}
	}
	c->shut = true;
	if (c->f && c->f->out.head) {
		c->f->want_shut = true; /* the FIN follows the bytes a fault holds back */
		return;
	}
	net_conn_shutdown(c);
}

/* Move queued plaintext into the session and its ciphertext to the socket. Called from the
 * caller's write and from write completions; failures are deferred. */
static void pump(struct net_conn *c)
{
	int rc;

	while (c->tls && c->pending.len) {
		int r = tls_write(c->tls, c->pending.data, c->pending.len);

		if (r > 0) {
			buf_consume(&c->pending, (size_t)r);
			continue;
		}
		if (r == TLS_WANT)
			break;
		if (c->state == CONN_CLOSING) {
			net_conn_teardown(c, false);
			return;
		}
		net_conn_defer_fail(c, -NET_ERR_TLS, tls_cause(c->tls));
		return;
	}
	rc = flush_tls(c);
	if (rc) {
		if (c->state == CONN_CLOSING)
			net_conn_teardown(c, false);
		else
			net_conn_defer_fail(c, rc, c->cause);
		return;
	}
	if (c->state == CONN_CLOSING && c->pending.len == 0 && !c->shut)
		finish_close(c);
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct net_conn *c = w->c;

	c->queued -= w->n;
	c->nreq--;
	free(w);
	if (c->tx_full && c->queued < NET_CONN_TX_HIGH / 2 && c->nreq < NET_CONN_TX_REQS_HIGH / 2 &&
	    c->state != CONN_DEAD) {
		c->tx_full = false;
		trace_event(c->h->trace_id, "net", "conn %u: the peer reads again: reading", c->id);
		net_conn_sync_reading(c);
	}
	if (status == UV_ECANCELED || c->state == CONN_DEAD)
		return;
	if (status < 0) {
		if (c->state == CONN_CLOSING)
			net_conn_teardown(c, false);
		else
			fail(c, status_of_uv(status), uv_strerror(status));
		return;
	}
	if (c->state == CONN_OPEN || c->state == CONN_CLOSING)
		pump(c);
}

static void deliver(struct net_conn *c, const uint8_t *p, size_t n)
{
	c->st.rx += n;
	if (!c->released)
		c->ops->data(c->arg, p, n);
}

/* Plaintext out of the session until it wants more, the caller pauses or the conn ends. */
static void deliver_tls(struct net_conn *c)
{
	while (c->state == CONN_OPEN && !c->paused && !c->released) {
		int r = tls_read(c->tls, c->rbuf, sizeof(c->rbuf));

		if (flush_tls(c) != 0) {
			fail(c, -NET_ERR_IO, c->cause);
			return;
		}
		if (r > 0) {
			deliver(c, c->rbuf, (size_t)r);
			continue;
		}
		if (r == TLS_WANT)
			return;
		if (r == TLS_CLOSED)
			fail(c, -NET_ERR_PEER_CLOSED,
			     *tls_cause(c->tls) ? tls_cause(c->tls)
			     : c->eof           ? "peer closed the connection"
			                        : "close_notify from the peer");
		else
			fail(c, -NET_ERR_TLS, tls_cause(c->tls));
		return;
	}
}

static void on_resume(uv_timer_t *t)
{
	deliver_tls(t->data);
}

void net_conn_resume_later(struct net_conn *c)
{
	uv_timer_start(&c->timer, on_resume, 0, 0);
}

static void become_open(struct net_conn *c)
{
	uv_timer_stop(&c->timer);
	set_state(c, CONN_OPEN);
	if (c->tls)
		trace_event(c->h->trace_id, "tls", "conn %u: handshake done: %s %s", c->id,
		            tls_version_name(c->tls), tls_suite_name(c->tls));
	if (c->tls && c->h->ops && c->h->ops->tls_handshake)
		c->h->ops->tls_handshake(c->h->owner);
	trace_event(c->h->trace_id, "net", "conn %u: open to %s", c->id, c->peer);
	net_conn_sync_reading(c);
	if (!c->released)
		c->ops->opened(c->arg, 0, NULL);
	/* application data that came with the server's Finished */
	if (c->tls)
		deliver_tls(c);
}

static void drive_handshake(struct net_conn *c)
{
	int r = tls_handshake(c->tls);

	if (flush_tls(c) != 0) {
		fail(c, -NET_ERR_IO, c->cause);
		return;
	}
	switch (r) {
	case TLS_DONE:
		become_open(c);
		return;
	case TLS_WANT:
		if (c->eof)
			fail(c, -NET_ERR_TLS, "peer closed the connection during the handshake");
		return;
	default:
		fail(c, -NET_ERR_TLS, *tls_cause(c->tls) ? tls_cause(c->tls) : "handshake failed");
		return;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct net_conn *c = h->data;

	(void)suggested;
	*b = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

void net_conn_eof(struct net_conn *c)
{
	c->eof = true;
	switch (c->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_DEAD:
		return;
	case CONN_HANDSHAKING:
		tls_feed_eof(c->tls);
		drive_handshake(c);
		return;
	case CONN_OPEN:
		trace_event(c->h->trace_id, "net", "conn %u: FIN from the peer", c->id);
		if (!c->tls) {
			fail(c, -NET_ERR_PEER_CLOSED, "peer closed the connection");
			return;
		}
		tls_feed_eof(c->tls);
		deliver_tls(c);
		if (c->state == CONN_OPEN) /* the session did not notice: still closed */
			fail(c, -NET_ERR_PEER_CLOSED, "peer closed the connection");
		return;
	case CONN_CLOSING:
		/* both sides closed once our FIN is out; until then keep flushing */
		if (c->shut_done) {
			trace_event(c->h->trace_id, "net", "conn %u: closed", c->id);
			net_conn_teardown(c, false);
		}
		return;
	}
}

/* Bytes from the socket (or released by a fault), in the connection's current state. */
void net_conn_wire_in(struct net_conn *c, const uint8_t *p, size_t n)
{
	switch (c->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_CLOSING: /* released: what still comes is dropped */
	case CONN_DEAD:
		return;
	case CONN_HANDSHAKING:
		if (tls_feed(c->tls, p, n) != 0) {
			fail(c, -NET_ERR_TLS, tls_cause(c->tls));
			return;
		}
		drive_handshake(c);
		return;
	case CONN_OPEN:
		if (!c->tls) {
			deliver(c, p, n);
			return;
		}
		if (tls_feed(c->tls, p, n) != 0) {
			fail(c, -NET_ERR_TLS, tls_cause(c->tls));
			return;
		}
		deliver_tls(c);
		return;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct net_conn *c = s->data;
	uint64_t pos;

	(void)b;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread == UV_EOF && c->f && c->f->in.head) {
			c->f->eof_held = true; /* after the bytes a fault holds back */
		} else if (nread == UV_EOF) {
			net_conn_eof(c);
		} else if (c->state == CONN_CLOSING) {
			net_conn_teardown(c, false);
		} else {
			uv_read_stop(s);
			fail(c, status_of_uv((int)nread), uv_strerror((int)nread));
		}
		return;
	}
	pos = c->st.wire_rx;
	c->st.wire_rx += (uint64_t)nread;
	if (c->f)
		net_link_corrupt(c, pos, c->rbuf, (size_t)nread);
	if (net_link_in_held(c)) {
		net_link_hold_in(c, c->rbuf, (size_t)nread);
		return;
	}
	net_conn_wire_in(c, c->rbuf, (size_t)nread);
}

/* Read from the socket unless the caller paused an open connection, the link is down, or a
 * fault holds too much inbound. */
void net_conn_sync_reading(struct net_conn *c)
{
	bool want;

	if (!c->connected || c->state == CONN_DEAD)
		return;
	want = !net_link_blackholed(c) && !(c->f && c->f->in_full) &&
	       !(c->paused && c->state == CONN_OPEN) && !c->tx_full;
	if (want)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct net_conn *c = req->handle->data;
	int rc;

	if (status == UV_ECANCELED || c->state != CONN_CONNECTING)
		return;
	if (status < 0) {
		fail(c, status_of_uv(status), uv_strerror(status));
		return;
	}
	trace_event(c->h->trace_id, "net", "conn %u: TCP connected to %s", c->id, c->peer);
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc) {
		fail(c, status_of_uv(rc), uv_strerror(rc));
		return;
	}
	c->connected = true;
	net_conn_sync_reading(c); /* a link that is down already */
	if (!c->tls) {
		become_open(c);
		return;
	}
	set_state(c, CONN_HANDSHAKING);
	drive_handshake(c);
}

/* Apply the route and start the TCP connection. Failures are deferred (this runs inside
 * net_conn_open too). */
static void start_connect(struct net_conn *c, struct in_addr addr)
{
	const struct net_route *r = net_map_route(c->h->map, c->port);
	struct sockaddr_in dest = {
	        .sin_family = AF_INET, .sin_addr = addr, .sin_port = htons((uint16_t)c->port)};
	char a[INET_ADDRSTRLEN];
	int rc;

	if (r) {
		char to[64];

		net_route_str(r, to, sizeof(to));
		if (!r->to_port) {
			snprintf(c->cause, sizeof(c->cause),
			         "route for port %d: %s is not available", c->port, to);
			net_conn_defer_fail(c, -NET_ERR_REFUSED, c->cause);
			return;
		}
		inet_ntop(AF_INET, &addr, a, sizeof(a));
		trace_event(c->h->trace_id, "net", "conn %u: route %s:%d -> %s (route for port %d)",
		            c->id, a, c->port, to, c->port);
		dest.sin_addr = r->addr;
		dest.sin_port = htons((uint16_t)r->to_port);
	}
	net_link_redirect(c, &dest);
	inet_ntop(AF_INET, &dest.sin_addr, a, sizeof(a));
	snprintf(c->peer, sizeof(c->peer), "%s:%d", a, ntohs(dest.sin_port));
	rc = uv_tcp_init(net_conn_loop(c), &c->tcp);
	if (rc) {
		net_conn_defer_fail(c, status_of_uv(rc), uv_strerror(rc));
		return;
	}
	c->tcp.data = c;
	c->tcp_init = true;
	c->open_refs++;
	/* MQTT packets are small and latency matters more than segments saved. */
	uv_tcp_nodelay(&c->tcp, 1);
	set_state(c, CONN_CONNECTING);
	trace_event(c->h->trace_id, "net", "conn %u: connecting to %s", c->id, c->peer);
	rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&dest, on_connect);
	if (rc)
		net_conn_defer_fail(c, status_of_uv(rc), uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct net_conn *c = req->data;
	struct in_addr addr;
	char a[INET_ADDRSTRLEN];

	c->gai_pending = false;
	c->open_refs--;
	if (c->state != CONN_RESOLVING) {
		uv_freeaddrinfo(res);
		maybe_free(c); /* nothing touches c after this */
		return;
	}
	if (status < 0 || !res || res->ai_family != AF_INET) {
		char why[NET_NAME_MAX + 96];

		snprintf(why, sizeof(why), "lookup of %s: %s", c->host,
		         status < 0 ? uv_strerror(status) : "no IPv4 address");
		uv_freeaddrinfo(res);
		fail(c, -NET_ERR_DNS, why);
		return;
	}
	addr = ((const struct sockaddr_in *)res->ai_addr)->sin_addr;
	uv_freeaddrinfo(res);
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	trace_event(c->h->trace_id, "net", "conn %u: %s resolved to %s", c->id, c->host, a);
	start_connect(c, addr);
}

static void on_deadline(uv_timer_t *t)
{
	struct net_conn *c = t->data;
	char why[NET_NAME_MAX + 96];

	switch (c->state) {
	case CONN_RESOLVING:
		/* The module reports a lookup that never answered as a name not resolved. */
		snprintf(why, sizeof(why), "lookup of %s: no answer within %llu ms", c->host,
		         (unsigned long long)c->timeout_ms);
		fail(c, -NET_ERR_DNS, why);
		return;
	case CONN_CONNECTING:
	case CONN_HANDSHAKING:
		snprintf(why, sizeof(why), "%s not done within %llu ms",
		         c->state == CONN_CONNECTING ? "TCP connect" : "TLS handshake",
		         (unsigned long long)c->timeout_ms);
		fail(c, -NET_ERR_TIMEOUT, why);
		return;
	case CONN_OPEN:
	case CONN_CLOSING:
	case CONN_DEAD:
		return;
	}
}

/* Resolve (override map, else the system) and connect. Failures are deferred. */
void net_conn_start_plan(struct net_conn *c)
{
	const struct net_entry *used = NULL;
	struct in_addr addr = {0};
	char a[INET_ADDRSTRLEN];
	int rc;

	switch (net_map_plan(c->h->map, c->host, &addr, &used)) {
	case NET_PLAN_ADDR:
		if (used) {
			inet_ntop(AF_INET, &addr, a, sizeof(a));
			trace_event(c->h->trace_id, "net",
			            "conn %u: %s resolved to %s (override %s)", c->id, c->host, a,
			            used->name);
		}
		start_connect(c, addr);
		return;
	case NET_PLAN_FAIL:
		if (used)
			snprintf(c->cause, sizeof(c->cause), "%s: not resolved (override %s=fail)",
			         c->host, used->name);
		else
			snprintf(c->cause, sizeof(c->cause), "'%s' is not a host name", c->host);
		net_conn_defer_fail(c, -NET_ERR_DNS, c->cause);
		return;
	case NET_PLAN_LOOKUP:
		break;
	}
	{
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};

		c->gai.data = c;
		rc = uv_getaddrinfo(net_conn_loop(c), &c->gai, on_resolved, c->host, NULL, &hints);
		if (rc) {
			snprintf(c->cause, sizeof(c->cause), "lookup of %s: %s", c->host,
			         uv_strerror(rc));
			net_conn_defer_fail(c, -NET_ERR_DNS, c->cause);
			return;
		}
		c->gai_pending = true;
		c->open_refs++;
	}
}

int net_conn_open(struct net_host *h, const char *host, int port, const struct tls_config *tls,
                  uint64_t timeout_ms, const struct net_conn_ops *ops, void *arg,
                  struct net_conn **out)
{
	struct net_conn *c;
	size_t hl;

	*out = NULL;
	hl = host ? strlen(host) : 0;
	if (!h || !ops || !ops->opened || !ops->data || !ops->closed || hl > NET_NAME_MAX ||
	    port < 1 || port > 65535)
		return -ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ERR_NOMEM;
	c->h = h;
	c->ops = ops;
	c->arg = arg;
	c->id = ++conn_ids;
	c->state = CONN_RESOLVING;
	memcpy(c->host, host ? host : "", hl + 1);
	c->port = port;
	c->timeout_ms = timeout_ms;
	buf_init(&c->pending, 0);
	uv_timer_init(net_conn_loop(c), &c->timer);
	c->timer.data = c;
	c->open_refs = 1;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	trace_event(h->trace_id, "net", "conn %u: open %s:%d%s", c->id, c->host, port,
	            tls ? " with TLS" : "");
	if (timeout_ms)
		uv_timer_start(&c->timer, on_deadline, timeout_ms, 0);
	*out = c;
	if (tls) {
		/* The adapter parses certificates and keys here: a configuration it refuses (a CA
		 * file that does not parse, ...) fails the open before anything goes out, not even
		 * a lookup (tls/tls.c makes the same choice). */
		if (tls_session_new(tls, &c->tls, c->cause, sizeof(c->cause)) != 0) {
			c->tls = NULL;
			if (!c->cause[0])
				snprintf(c->cause, sizeof(c->cause), "TLS setup failed");
			net_conn_defer_fail(c, -NET_ERR_TLS, c->cause);
			return 0;
		}
	}
	if (net_link_open(c)) {
		/* No network (fault): the lookup waits for it, until the deadline. */
		c->parked = true;
		trace_event(h->trace_id, "net", "conn %u: waiting for the network (fault)", c->id);
		return 0;
	}
	net_conn_start_plan(c);
	return 0;
}

int net_conn_write(struct net_conn *c, const uint8_t *p, size_t n)
{
	int rc;

	if (c->released || c->state != CONN_OPEN || c->deferred)
		return -ERR_STATE;
	if (n == 0)
		return 0;
	if (net_conn_backlog(c) + n > NET_CONN_TX_MAX)
		return -ERR_NOSPC;
	if (!c->tls) {
		rc = send_wire(c, p, n);
		if (rc == -NET_ERR_NOMEM)
			return -ERR_NOMEM;
		if (rc) {
			net_conn_defer_fail(c, rc, c->cause);
			return -ERR_STATE;
		}
		c->st.tx += n;
		return 0;
	}
	if (buf_append(&c->pending, p, n) != 0)
		return -ERR_NOMEM;
	c->st.tx += n;
	pump(c);
	return 0;
}

size_t net_conn_backlog(const struct net_conn *c)
{
	return c->queued + c->pending.len + (c->f ? c->f->out.bytes : 0);
}

void net_conn_pause(struct net_conn *c, bool pause)
{
	if (c->released || c->paused == pause)
		return;
	c->paused = pause;
	if (c->state != CONN_OPEN)
		return; /* applied when it opens */
	net_conn_sync_reading(c);
	if (pause)
		return;
	net_link_kick(c); /* bytes a fault held back wait too */
	/* Records already decrypted wait in the session: deliver them from the loop, not from
	 * inside this call. */
	if (c->tls && !c->deferred)
		net_conn_resume_later(c);
}

void net_conn_close(struct net_conn *c)
{
	assert(!c->released);
	c->released = true;
	switch (c->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_HANDSHAKING:
		trace_event(c->h->trace_id, "net", "conn %u: abandoned while %s", c->id,
		            state_names[c->state]);
		net_conn_teardown(c, false);
		break;
	case CONN_OPEN:
		trace_event(c->h->trace_id, "net", "conn %u: closing (%zu bytes queued)", c->id,
		            net_conn_backlog(c));
		set_state(c, CONN_CLOSING);
		net_conn_sync_reading(c); /* read again if paused, to see the peer's FIN */
		uv_timer_start(&c->timer, on_deferred, NET_CONN_LINGER_MS, 0);
		c->deferred = -NET_ERR_TIMEOUT; /* the linger deadline: fail() just tears down */
		snprintf(c->cause, sizeof(c->cause), "graceful close not done within %d ms",
		         NET_CONN_LINGER_MS);
		pump(c);
		break;
	case CONN_CLOSING:
	case CONN_DEAD:
		break;
	}
	maybe_free(c);
}

void net_conn_abort(struct net_conn *c)
{
	assert(!c->released);
	c->released = true;
	if (c->state != CONN_DEAD) {
		trace_event(c->h->trace_id, "net", "conn %u: reset by us while %s", c->id,
		            state_names[c->state]);
		net_conn_teardown(c, true);
	}
	maybe_free(c);
}

void net_conn_get_stats(const struct net_conn *c, struct net_conn_stats *out)
{
	uv_os_fd_t fd;
	int outq = 0;

	*out = c->st;
	out->unacked = c->queued + c->pending.len;
	/* SIOCOUTQ: bytes in the socket's send queue not yet acknowledged (tcp(7)). */
	if (c->tcp_init && c->state != CONN_DEAD &&
	    uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 &&
	    outq > 0)
		out->unacked += (uint64_t)outq;
}

const char *net_conn_peer(const struct net_conn *c)
{
	return c->peer;
}

struct net_host *net_conn_host(const struct net_conn *c)
{
	return c->h;
}

int net_conn_each(struct net_host *h, void (*fn)(struct net_conn *c, void *arg), void *arg)
{
	int n = 0;

	for (struct net_conn *c = h->conns; c; c = c->next) {
		if (c->released || c->state == CONN_DEAD)
			continue;
		if (fn)
			fn(c, arg);
		n++;
	}
	return n;
}

/* ---- the host ---- */

void net_host_init(struct net_host *h, uv_loop_t *loop, const struct net_map *map, int trace_id,
                   const struct net_host_ops *ops, void *owner)
{
	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->map = map;
	h->trace_id = trace_id;
	h->ops = ops;
	h->owner = owner;
}

void net_host_free(struct net_host *h)
{
	for (struct net_conn *c = h->conns; c; c = c->next)
		assert(c->released); /* the owner lets go of its connections first */
	h->ops = NULL;
	h->owner = NULL;
	memset(&h->policy, 0, sizeof(h->policy));
}
