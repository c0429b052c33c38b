/* The connection shell: libuv TCP plus the TLS adapter. States:
 *
 *   RESOLVING --> CONNECTING --> [HANDSHAKING] --> OPEN --(close)--> CLOSING --> DEAD
 *        \______________\_______________\___________\___(failure, abort)_______/
 *
 * Memory: the conn is freed only when the caller has released it (close/abort) and every
 * libuv handle has run its close callback (open_refs == 0). A callback into the caller may
 * release the conn; code that runs after a callback checks c->released / c->state before it
 * touches the connection again, and the memory is still valid because the handles' close
 * callbacks run on a later loop iteration (libuv's rule, and Redis' "free later"). */
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
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "net/resolve.h"
#include "scenario/engine.h"
#include "tls/tls.h"

enum conn_state {
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_HANDSHAKING,
	CONN_OPEN,
	CONN_CLOSING, /* released while open: flush, close_notify, FIN, wait for the peer's FIN */
	CONN_DEAD, /* handles closing; no more I/O */
};

static const char *const state_names[] = {
        [CONN_RESOLVING] = "resolving",     [CONN_CONNECTING] = "connecting",
        [CONN_HANDSHAKING] = "handshaking", [CONN_OPEN] = "open",
        [CONN_CLOSING] = "closing",         [CONN_DEAD] = "dead",
};

/* Faults: bytes held back by a shaped or stalled link, in arrival order. */
struct chunk {
	struct chunk *next;
	uint64_t due; /* not before this loop time */
	size_t len, off;
	uint8_t data[];
};

struct shaper {
	struct chunk *head, *tail;
	size_t bytes;
	double tokens; /* the rate limit's bucket, in bytes */
	uint64_t filled; /* loop time of the last top-up */
};

enum fault_action { FA_NONE, FA_CLOSE, FA_RESET };

/* A connection's faults, allocated when the first one applies (a healthy connection has
 * none and takes the plain paths). */
struct conn_fault {
	uv_timer_t timer; /* releases held bytes and runs the pending action */
	struct net_link_shape shape;
	bool blackhole;
	enum fault_action action;
	bool fin_sent; /* fault close: our FIN is out, waiting for the peer's */
	bool in_full; /* reading stopped: too much held on the way in */
	bool eof_held; /* the peer's FIN came behind held bytes */
	bool want_shut; /* graceful close waits for the held outgoing bytes */
	uint64_t corrupt_at; /* wire_rx position of the byte to invert; UINT64_MAX: none */
	struct shaper in, out;
};

#define SHAPER_IN_HIGH (256 * 1024) /* stop reading above this much held inbound */
#define SHAPER_IN_LOW (64 * 1024)

struct wreq {
	uv_write_t req;
	struct net_conn *c;
	size_t n;
	uint8_t data[];
};

struct net_conn {
	struct modem *m;
	const struct net_conn_ops *ops;
	void *arg;
	unsigned id;
	enum conn_state state;
	bool released; /* the caller let go: no callback from now on */
	bool told; /* the final callback (failed opened, or closed) went out */
	bool paused;
	bool shut; /* uv_shutdown issued (FIN queued) */
	bool shut_done;
	bool eof; /* the peer's FIN arrived */
	bool connected; /* TCP connected: reading is ours to start and stop */
	bool parked; /* waiting for the modem's network to come back (fault) */
	int open_refs; /* handles not yet closed + lookups not yet answered */
	char host[NET_NAME_MAX + 1];
	int port;
	char peer[INET_ADDRSTRLEN + 8];
	uint64_t timeout_ms;

	uv_timer_t timer; /* deadline, deferred failure, resume, linger: one at a time */
	uv_getaddrinfo_t gai;
	bool gai_pending;
	uv_tcp_t tcp;
	bool tcp_init;
	uv_connect_t creq;
	uv_shutdown_t sreq;

	struct tls_session *tls;

	int deferred; /* a failure found outside a loop callback, reported from the timer */
	char cause[640];

	struct buf pending; /* TLS: plaintext the session has not taken yet */
	size_t queued; /* bytes in write requests not yet completed */
	struct net_conn_stats st;
	struct conn_fault *f; /* NULL: no fault ever applied */
	struct net_conn *prev, *next; /* every connection not yet freed */
	uint8_t rbuf[16 * 1024]; /* socket reads, then (TLS) plaintext out of the session */
};

static unsigned conn_ids;
static struct net_conn *all_conns;
/* Per-modem link policies, indexed by modem index; reachable until exit. */
static struct net_link_policy *policies;
static size_t n_policies;

/* Faults (defined at the end of the file). */
static struct net_link_policy *policy_peek(const struct modem *m);
static bool in_held(const struct net_conn *c);
static void hold_in(struct net_conn *c, const uint8_t *p, size_t n);
static void sync_reading(struct net_conn *c);
static void fault_kick(struct net_conn *c);

static uv_loop_t *loop_of(const struct net_conn *c)
{
	return c->m->sim->loop;
}

static void set_state(struct net_conn *c, enum conn_state s)
{
	log_msg(LOG_DEBUG, "#%d conn %u: %s -> %s", c->m->index, c->id, state_names[c->state],
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

static void shaper_clear(struct shaper *q)
{
	while (q->head) {
		struct chunk *k = q->head;

		q->head = k->next;
		free(k);
	}
	q->tail = NULL;
	q->bytes = 0;
}

static void maybe_free(struct net_conn *c)
{
	if (!c->released || c->open_refs > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (all_conns == c)
		all_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->f) {
		shaper_clear(&c->f->in);
		shaper_clear(&c->f->out);
		free(c->f);
	}
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
static void teardown(struct net_conn *c, bool reset)
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
static void fail_how(struct net_conn *c, int status, const char *cause, bool reset)
{
	enum conn_state was = c->state;
	char why[sizeof(c->cause)];

	if (was == CONN_DEAD)
		return;
	/* cause may point into c (c->cause, the session's text): copy before the teardown */
	snprintf(why, sizeof(why), "%s", cause ? cause : net_status_str(status));
	if (cause && strcmp(cause, net_status_str(status)) == 0)
		cause = NULL; /* "connection refused: connection refused" says it once */
	trace_event(c->m->index, status == -NET_ERR_TLS ? "tls" : "net", "conn %u: %s%s%s%s (%s)",
	            c->id,
	            was == CONN_OPEN      ? "closed: "
	            : was == CONN_CLOSING ? "close ended: "
	                                  : "open failed: ",
	            net_status_str(status), cause ? ": " : "", cause ? why : "", state_names[was]);
	teardown(c, reset);
	tell(c, was, status, why);
}

static void fail(struct net_conn *c, int status, const char *cause)
{
	fail_how(c, status, cause, false);
}

static void on_deferred(uv_timer_t *t)
{
	struct net_conn *c = t->data;

	fail(c, c->deferred, c->cause);
}

/* A failure found inside a call from the caller (open, write): report it from the loop, so
 * that no callback runs inside the caller's own call. */
static void defer_fail(struct net_conn *c, int status, const char *cause)
{
	if (c->deferred || c->state == CONN_DEAD)
		return;
	c->deferred = status;
	if (cause != c->cause)
		snprintf(c->cause, sizeof(c->cause), "%s", cause ? cause : net_status_str(status));
	uv_timer_start(&c->timer, on_deferred, 0, 0);
}

static void on_write(uv_write_t *req, int status);
static bool out_held(struct net_conn *c);
static int hold_out(struct net_conn *c, const uint8_t *p, size_t n);

/* Bytes to the socket now, copied. Returns 0 or a negative NET status (reported by the
 * caller). */
static int write_now(struct net_conn *c, const uint8_t *p, size_t n)
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
	c->st.wire_tx += n;
	return 0;
}

/* Bytes to the socket, through the link's faults when it has any. */
static int send_wire(struct net_conn *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->f && c->f->fin_sent)
		return 0; /* the link is closing under a fault: nothing more goes out */
	if (out_held(c))
		return hold_out(c, p, n);
	return write_now(c, p, n);
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
		trace_event(c->m->index, "net", "conn %u: closed%s%s", c->id,
		            status < 0 ? ": " : "", status < 0 ? uv_strerror(status) : "");
		teardown(c, false);
	}
}

/* CLOSING and every plaintext byte handed to the session: close_notify, then FIN once the
 * queue has drained (libuv runs a shutdown after the writes queued before it). */
static void do_shutdown(struct net_conn *c)
{
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
		teardown(c, false);
}

static void finish_close(struct net_conn *c)
{
	if (c->tls) {
		tls_close_notify(c->tls);
		if (flush_tls(c) != 0) {
			teardown(c, false);
			return;
		}
	}
	c->shut = true;
	if (c->f && c->f->out.head) {
		c->f->want_shut = true; /* the FIN follows the bytes a fault holds back */
		return;
	}
	do_shutdown(c);
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
			teardown(c, false);
			return;
		}
		defer_fail(c, -NET_ERR_TLS, tls_cause(c->tls));
		return;
	}
	rc = flush_tls(c);
	if (rc) {
		if (c->state == CONN_CLOSING)
			teardown(c, false);
		else
			defer_fail(c, rc, c->cause);
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
	free(w);
	if (status == UV_ECANCELED || c->state == CONN_DEAD)
		return;
	if (status < 0) {
		if (c->state == CONN_CLOSING)
			teardown(c, false);
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

static void become_open(struct net_conn *c)
{
	uv_timer_stop(&c->timer);
	set_state(c, CONN_OPEN);
	if (c->tls)
		trace_event(c->m->index, "tls", "conn %u: handshake done: %s %s", c->id,
		            tls_version_name(c->tls), tls_suite_name(c->tls));
	if (c->tls)
		scn_notify(c->m, SCN_NOTE_TLS_HANDSHAKE, 0);
	trace_event(c->m->index, "net", "conn %u: open to %s", c->id, c->peer);
	sync_reading(c);
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

static void on_eof(struct net_conn *c)
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
		trace_event(c->m->index, "net", "conn %u: FIN from the peer", c->id);
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
			trace_event(c->m->index, "net", "conn %u: closed", c->id);
			teardown(c, false);
		}
		return;
	}
}

/* Bytes from the socket (or released by a fault), in the connection's current state. */
static void wire_in(struct net_conn *c, const uint8_t *p, size_t n)
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
			on_eof(c);
		} else if (c->state == CONN_CLOSING) {
			teardown(c, false);
		} else {
			uv_read_stop(s);
			fail(c, status_of_uv((int)nread), uv_strerror((int)nread));
		}
		return;
	}
	pos = c->st.wire_rx;
	c->st.wire_rx += (uint64_t)nread;
	if (c->f && c->f->corrupt_at >= pos && c->f->corrupt_at < c->st.wire_rx) {
		size_t i = (size_t)(c->f->corrupt_at - pos);

		c->rbuf[i] ^= 0xFF;
		c->f->corrupt_at = UINT64_MAX;
		trace_event(c->m->index, "net", "conn %u: byte %llu from the peer inverted (fault)",
		            c->id, (unsigned long long)(pos + i));
	}
	if (in_held(c)) {
		hold_in(c, c->rbuf, (size_t)nread);
		return;
	}
	wire_in(c, c->rbuf, (size_t)nread);
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
	trace_event(c->m->index, "net", "conn %u: TCP connected to %s", c->id, c->peer);
	rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc) {
		fail(c, status_of_uv(rc), uv_strerror(rc));
		return;
	}
	c->connected = true;
	sync_reading(c); /* a link that is down already */
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
	const struct net_route *r = net_map_route(c->m->sim->net, c->port);
	struct net_link_policy *pol = policy_peek(c->m);
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
			defer_fail(c, -NET_ERR_REFUSED, c->cause);
			return;
		}
		inet_ntop(AF_INET, &addr, a, sizeof(a));
		trace_event(c->m->index, "net", "conn %u: route %s:%d -> %s (route for port %d)",
		            c->id, a, c->port, to, c->port);
		dest.sin_addr = r->addr;
		dest.sin_port = htons((uint16_t)r->to_port);
	}
	if (pol && pol->refuse_port) {
		/* A loopback port bound but not listening: the kernel answers the SYN with an
		 * RST, a real "connection refused". */
		trace_event(c->m->index, "net", "conn %u: the network refuses it (fault)", c->id);
		dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dest.sin_port = htons((uint16_t)pol->refuse_port);
	} else if (c->tls && pol && pol->tls_port) {
		trace_event(c->m->index, "net", "conn %u: goes to a TLS server with %s (fault)",
		            c->id, pol->tls_what);
		dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dest.sin_port = htons((uint16_t)pol->tls_port);
		if (pol->tls_once)
			pol->tls_port = 0;
	}
	inet_ntop(AF_INET, &dest.sin_addr, a, sizeof(a));
	snprintf(c->peer, sizeof(c->peer), "%s:%d", a, ntohs(dest.sin_port));
	rc = uv_tcp_init(loop_of(c), &c->tcp);
	if (rc) {
		defer_fail(c, status_of_uv(rc), uv_strerror(rc));
		return;
	}
	c->tcp.data = c;
	c->tcp_init = true;
	c->open_refs++;
	/* MQTT packets are small and latency matters more than segments saved. */
	uv_tcp_nodelay(&c->tcp, 1);
	set_state(c, CONN_CONNECTING);
	trace_event(c->m->index, "net", "conn %u: connecting to %s", c->id, c->peer);
	rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&dest, on_connect);
	if (rc)
		defer_fail(c, status_of_uv(rc), uv_strerror(rc));
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
	trace_event(c->m->index, "net", "conn %u: %s resolved to %s", c->id, c->host, a);
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
static void start_plan(struct net_conn *c)
{
	struct modem *m = c->m;
	const struct net_entry *used = NULL;
	struct in_addr addr = {0};
	char a[INET_ADDRSTRLEN];
	int rc;

	switch (net_map_plan(m->sim->net, c->host, &addr, &used)) {
	case NET_PLAN_ADDR:
		if (used) {
			inet_ntop(AF_INET, &addr, a, sizeof(a));
			trace_event(m->index, "net", "conn %u: %s resolved to %s (override %s)",
			            c->id, c->host, a, used->name);
		}
		start_connect(c, addr);
		return;
	case NET_PLAN_FAIL:
		if (used)
			snprintf(c->cause, sizeof(c->cause), "%s: not resolved (override %s=fail)",
			         c->host, used->name);
		else
			snprintf(c->cause, sizeof(c->cause), "'%s' is not a host name", c->host);
		defer_fail(c, -NET_ERR_DNS, c->cause);
		return;
	case NET_PLAN_LOOKUP:
		break;
	}
	{
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};

		c->gai.data = c;
		rc = uv_getaddrinfo(loop_of(c), &c->gai, on_resolved, c->host, NULL, &hints);
		if (rc) {
			snprintf(c->cause, sizeof(c->cause), "lookup of %s: %s", c->host,
			         uv_strerror(rc));
			defer_fail(c, -NET_ERR_DNS, c->cause);
			return;
		}
		c->gai_pending = true;
		c->open_refs++;
	}
}

int net_conn_open(struct modem *m, const char *host, int port, const struct tls_config *tls,
                  uint64_t timeout_ms, const struct net_conn_ops *ops, void *arg,
                  struct net_conn **out)
{
	const struct net_link_policy *pol = policy_peek(m);
	struct net_conn *c;
	size_t hl;

	*out = NULL;
	hl = host ? strlen(host) : 0;
	if (!m || !ops || !ops->opened || !ops->data || !ops->closed || hl > NET_NAME_MAX ||
	    port < 1 || port > 65535)
		return -ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ERR_NOMEM;
	c->m = m;
	c->ops = ops;
	c->arg = arg;
	c->id = ++conn_ids;
	c->state = CONN_RESOLVING;
	memcpy(c->host, host ? host : "", hl + 1);
	c->port = port;
	c->timeout_ms = timeout_ms;
	buf_init(&c->pending, 0);
	uv_timer_init(loop_of(c), &c->timer);
	c->timer.data = c;
	c->open_refs = 1;
	c->next = all_conns;
	if (all_conns)
		all_conns->prev = c;
	all_conns = c;
	trace_event(m->index, "net", "conn %u: open %s:%d%s", c->id, c->host, port,
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
			defer_fail(c, -NET_ERR_TLS, c->cause);
			return 0;
		}
	}
	if (pol && (pol->shape.delay_ms || pol->shape.rate || pol->shape.fragment))
		net_conn_fault_shape(c, &pol->shape);
	if (pol && pol->down && !net_registered(m)) {
		/* No network (fault): the lookup waits for it, until the deadline. */
		c->parked = true;
		trace_event(m->index, "net", "conn %u: waiting for the network (fault)", c->id);
		return 0;
	}
	start_plan(c);
	return 0;
}

int net_conn_write(struct net_conn *c, const uint8_t *p, size_t n)
{
	int rc;

	if (c->released || c->state != CONN_OPEN || c->deferred)
		return -ERR_STATE;
	if (n == 0)
		return 0;
	if (!c->tls) {
		rc = send_wire(c, p, n);
		if (rc == -NET_ERR_NOMEM)
			return -ERR_NOMEM;
		if (rc) {
			defer_fail(c, rc, c->cause);
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
	sync_reading(c);
	if (pause)
		return;
	fault_kick(c); /* bytes a fault held back wait too */
	/* Records already decrypted wait in the session: deliver them from the loop, not from
	 * inside this call. */
	if (c->tls && !c->deferred)
		uv_timer_start(&c->timer, on_resume, 0, 0);
}

void net_conn_close(struct net_conn *c)
{
	assert(!c->released);
	c->released = true;
	switch (c->state) {
	case CONN_RESOLVING:
	case CONN_CONNECTING:
	case CONN_HANDSHAKING:
		trace_event(c->m->index, "net", "conn %u: abandoned while %s", c->id,
		            state_names[c->state]);
		teardown(c, false);
		break;
	case CONN_OPEN:
		trace_event(c->m->index, "net", "conn %u: closing (%zu bytes queued)", c->id,
		            net_conn_backlog(c));
		set_state(c, CONN_CLOSING);
		sync_reading(c); /* read again if paused, to see the peer's FIN */
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
		trace_event(c->m->index, "net", "conn %u: reset by us while %s", c->id,
		            state_names[c->state]);
		teardown(c, true);
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

struct modem *net_conn_modem(const struct net_conn *c)
{
	return c->m;
}

/* ---- faults ---- */

static struct net_link_policy *policy_peek(const struct modem *m)
{
	if (!m || m->index < 0 || (size_t)m->index >= n_policies)
		return NULL;
	return &policies[m->index];
}

struct net_link_policy *net_link_policy(struct modem *m)
{
	size_t want = (size_t)m->index + 1;

	if (m->index < 0)
		return NULL;
	/* every modem's at once, so that a pointer handed out stays valid */
	if (m->sim && (size_t)m->sim->count > want)
		want = (size_t)m->sim->count;
	if (want > n_policies) {
		struct net_link_policy *p = realloc(policies, want * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + n_policies, 0, (want - n_policies) * sizeof(*p));
		policies = p;
		n_policies = want;
	}
	return &policies[m->index];
}

static bool shape_on(const struct net_link_shape *s)
{
	return s->delay_ms || s->rate || s->fragment;
}

/* The link is dead for this connection: a blackhole on it, or the modem's network is down
 * (a network outage stalls traffic only while the modem is not registered: a modem that
 * registered again by itself has its network back). */
static bool net_down(const struct net_conn *c)
{
	const struct net_link_policy *pol = policy_peek(c->m);

	return pol && pol->down && !net_registered(c->m);
}

static bool blackholed(const struct net_conn *c)
{
	return (c->f && c->f->blackhole) || net_down(c);
}

static bool in_held(const struct net_conn *c)
{
	return blackholed(c) || (c->f && (c->f->in.head || shape_on(&c->f->shape)));
}

static bool out_held(struct net_conn *c)
{
	return blackholed(c) || (c->f && (c->f->out.head || shape_on(&c->f->shape)));
}

/* Read from the socket unless the caller paused an open connection, the link is down, or a
 * fault holds too much inbound. */
static void sync_reading(struct net_conn *c)
{
	bool want;

	if (!c->connected || c->state == CONN_DEAD)
		return;
	want = !blackholed(c) && !(c->f && c->f->in_full) && !(c->paused && c->state == CONN_OPEN);
	if (want)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void fault_tick(uv_timer_t *t);

static struct conn_fault *fault_get(struct net_conn *c)
{
	struct conn_fault *f;

	if (c->f || c->state == CONN_DEAD)
		return c->f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->corrupt_at = UINT64_MAX;
	uv_timer_init(loop_of(c), &f->timer);
	f->timer.data = c;
	c->open_refs++; /* the timer; closed in teardown */
	c->f = f;
	return f;
}

/* Run the faults from the loop: never inside the call that asked. */
static void fault_kick(struct net_conn *c)
{
	if (c->f && c->state != CONN_DEAD)
		uv_timer_start(&c->f->timer, fault_tick, 0, 0);
}

static void fault_arm(struct net_conn *c, uint64_t next)
{
	uint64_t now, wait;

	if (!c->f || c->state == CONN_DEAD || next == UINT64_MAX)
		return;
	now = uv_now(loop_of(c));
	wait = next > now ? next - now : 0;
	if (uv_is_active((uv_handle_t *)&c->f->timer) && uv_timer_get_due_in(&c->f->timer) <= wait)
		return;
	uv_timer_start(&c->f->timer, fault_tick, wait, 0);
}

static int shaper_add(struct shaper *q, const uint8_t *p, size_t n, uint64_t due)
{
	struct chunk *k = malloc(sizeof(*k) + n);

	if (!k)
		return -NET_ERR_NOMEM;
	k->next = NULL;
	k->due = due;
	k->len = n;
	k->off = 0;
	memcpy(k->data, p, n);
	if (q->tail)
		q->tail->next = k;
	else
		q->head = k;
	q->tail = k;
	q->bytes += n;
	return 0;
}

static void shaper_pop(struct shaper *q)
{
	struct chunk *k = q->head;

	q->head = k->next;
	if (!q->head)
		q->tail = NULL;
	free(k);
}

/* How many bytes of the head chunk may go now: 0 with *next lowered to when more may. The
 * rate limit is a token bucket holding at most 50 ms of traffic, released in pieces of that
 * size (or the fragment size), so a slow link ticks every 50 ms rather than every byte. */
static size_t allowance(struct shaper *q, const struct net_link_shape *s, uint64_t now,
                        uint64_t *next)
{
	struct chunk *k = q->head;
	size_t n;

	if (!k)
		return 0;
	if (k->due > now) {
		if (k->due < *next)
			*next = k->due;
		return 0;
	}
	n = k->len - k->off;
	if (s->fragment && n > s->fragment)
		n = s->fragment;
	if (s->rate) {
		double burst = s->rate / 20.0 < 1 ? 1 : s->rate / 20.0;
		double need = (double)n < burst ? (double)n : burst;

		q->tokens += (double)(now - q->filled) * s->rate / 1000.0;
		q->filled = now;
		if (q->tokens > burst)
			q->tokens = burst;
		if (q->tokens < need) {
			uint64_t ms = (uint64_t)((need - q->tokens) * 1000.0 / s->rate) + 1;

			if (now + ms < *next)
				*next = now + ms;
			return 0;
		}
		if ((double)n > q->tokens)
			n = (size_t)q->tokens;
		q->tokens -= (double)n;
	}
	return n;
}

static void pump_out(struct net_conn *c, uint64_t *next)
{
	struct conn_fault *f = c->f;
	uint64_t now = uv_now(loop_of(c));

	while (f->out.head && !blackholed(c) && c->connected &&
	       (c->state == CONN_HANDSHAKING || c->state == CONN_OPEN ||
	        c->state == CONN_CLOSING)) {
		struct chunk *k = f->out.head;
		size_t n = allowance(&f->out, &f->shape, now, next);
		int rc;

		if (!n)
			break;
		rc = write_now(c, k->data + k->off, n);
		if (rc) {
			if (c->state == CONN_CLOSING)
				teardown(c, false);
			else
				defer_fail(c, rc, c->cause);
			return;
		}
		k->off += n;
		f->out.bytes -= n;
		if (k->off == k->len)
			shaper_pop(&f->out);
	}
	if (!f->out.head && f->want_shut && c->state == CONN_CLOSING) {
		f->want_shut = false;
		do_shutdown(c);
	}
}

static void pump_in(struct net_conn *c, uint64_t *next)
{
	struct conn_fault *f = c->f;
	uint64_t now = uv_now(loop_of(c));

	while (f->in.head) {
		struct chunk *k = f->in.head;
		const uint8_t *p;
		size_t n;

		if (c->state == CONN_DEAD || blackholed(c) || (c->paused && c->state == CONN_OPEN))
			return;
		n = allowance(&f->in, &f->shape, now, next);
		if (!n)
			break;
		p = k->data + k->off;
		k->off += n;
		f->in.bytes -= n;
		wire_in(c, p, n); /* may end the connection; the chunk stays valid */
		if (f->in.head == k && k->off == k->len)
			shaper_pop(&f->in);
	}
	if (c->state == CONN_DEAD)
		return;
	if (f->in_full && f->in.bytes < SHAPER_IN_LOW) {
		f->in_full = false;
		sync_reading(c);
	}
	if (!f->in.head && f->eof_held) {
		f->eof_held = false;
		on_eof(c);
	}
}

static void hold_in(struct net_conn *c, const uint8_t *p, size_t n)
{
	struct conn_fault *f = fault_get(c);
	uint64_t next = UINT64_MAX;

	if (!f || shaper_add(&f->in, p, n, uv_now(loop_of(c)) + f->shape.delay_ms) != 0) {
		fail(c, -NET_ERR_NOMEM, "no memory to hold inbound bytes");
		return;
	}
	if (f->in.bytes > SHAPER_IN_HIGH && !f->in_full) {
		f->in_full = true;
		sync_reading(c);
	}
	pump_in(c, &next);
	fault_arm(c, next);
}

static int hold_out(struct net_conn *c, const uint8_t *p, size_t n)
{
	struct conn_fault *f = fault_get(c);
	uint64_t next = UINT64_MAX;

	if (!f)
		return write_now(c, p, n);
	if (shaper_add(&f->out, p, n, uv_now(loop_of(c)) + f->shape.delay_ms) != 0)
		return -NET_ERR_NOMEM;
	pump_out(c, &next); /* no callback into the caller from here */
	fault_arm(c, next);
	return 0;
}

static void fault_action(struct net_conn *c)
{
	struct conn_fault *f = c->f;
	enum fault_action a = f->action;

	f->action = FA_NONE;
	switch (a) {
	case FA_NONE:
		return;
	case FA_RESET:
		fail_how(c, -NET_ERR_RESET, "connection reset (fault)", true);
		return;
	case FA_CLOSE:
		if (c->state == CONN_CLOSING || c->state == CONN_DEAD || f->fin_sent)
			return;
		if (!c->connected) {
			fail(c, -NET_ERR_IO, "link closed before the connection was made (fault)");
			return;
		}
		/* What was held back dies with the link; the peer gets our FIN and answers
		 * with its own, which on_eof reports as a close by the peer. */
		shaper_clear(&f->out);
		f->fin_sent = true;
		c->shut = true;
		trace_event(c->m->index, "net", "conn %u: FIN sent (fault): waiting for the peer's",
		            c->id);
		do_shutdown(c);
		sync_reading(c);
		return;
	}
}

static void fault_tick(uv_timer_t *t)
{
	struct net_conn *c = t->data;
	struct conn_fault *f = c->f;
	uint64_t next = UINT64_MAX;

	if (c->state == CONN_DEAD)
		return;
	if (f->action != FA_NONE) {
		fault_action(c);
		if (c->state == CONN_DEAD)
			return;
		if (f->fin_sent) /* the peer may never answer: give up after the linger time */
			uv_timer_start(&f->timer, fault_tick, NET_CONN_LINGER_MS, 0);
		return;
	}
	if (f->fin_sent && c->state != CONN_CLOSING && !f->in.head) {
		if (c->state != CONN_DEAD)
			fail(c, -NET_ERR_PEER_CLOSED, "the peer did not answer our FIN (fault)");
		return;
	}
	pump_out(c, &next);
	if (c->state != CONN_DEAD)
		pump_in(c, &next);
	fault_arm(c, next);
}

void net_conn_fault_close(struct net_conn *c)
{
	struct conn_fault *f = fault_get(c);

	if (!f || f->action == FA_RESET)
		return;
	f->action = FA_CLOSE;
	fault_kick(c);
}

void net_conn_fault_reset(struct net_conn *c)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->action = FA_RESET;
	fault_kick(c);
}

void net_conn_fault_blackhole(struct net_conn *c, bool on)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->blackhole = on;
	trace_event(c->m->index, "net", "conn %u: traffic %s (fault)", c->id,
	            on ? "stopped both ways" : "flows again");
	sync_reading(c);
	fault_kick(c);
}

void net_conn_fault_shape(struct net_conn *c, const struct net_link_shape *s)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->shape = *s;
	trace_event(c->m->index, "net",
	            "conn %u: link shaped: delay %u ms, %u bytes/s, pieces of %u", c->id,
	            s->delay_ms, s->rate, s->fragment);
	fault_kick(c);
}

void net_conn_fault_shape_get(const struct net_conn *c, struct net_link_shape *out)
{
	memset(out, 0, sizeof(*out));
	if (c->f)
		*out = c->f->shape;
}

void net_conn_fault_corrupt(struct net_conn *c, uint64_t offset)
{
	struct conn_fault *f = fault_get(c);

	if (f)
		f->corrupt_at = c->st.wire_rx + offset;
}

int net_conn_each(struct modem *m, void (*fn)(struct net_conn *c, void *arg), void *arg)
{
	int n = 0;

	for (struct net_conn *c = all_conns; c; c = c->next) {
		if (c->m != m || c->released || c->state == CONN_DEAD)
			continue;
		if (fn)
			fn(c, arg);
		n++;
	}
	return n;
}

void net_link_update(struct modem *m)
{
	for (struct net_conn *c = all_conns; c; c = c->next) {
		bool down;

		if (c->m != m || c->released || c->state == CONN_DEAD)
			continue;
		down = net_down(c);
		if (c->parked && !down) {
			c->parked = false;
			trace_event(m->index, "net", "conn %u: the network is back", c->id);
			start_plan(c);
			continue;
		}
		sync_reading(c);
		if (!down && !c->f && c->tls && c->state == CONN_OPEN)
			uv_timer_start(&c->timer, on_resume, 0, 0); /* records the session holds */
		fault_kick(c);
	}
}
