/* The link faults of a host's connections (scenario/fault.c fires them): shaping (delay, rate,
 * fragments), blackholes, FIN and RST from the network, a corrupted byte, and the host's
 * policy for new connections (no network, refused connects, TLS traps). Everything acts on
 * the TCP byte stream below TLS; a connection with no fault has c->f NULL and takes
 * net/conn.c's plain paths. conn_int.h is what this file and conn.c share. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/conn_int.h"

#define SHAPER_IN_HIGH (256 * 1024) /* stop reading above this much held inbound */
#define SHAPER_IN_LOW (64 * 1024)

struct net_link_policy *net_link_policy(struct net_host *h)
{
	return &h->policy;
}

static bool shape_on(const struct net_link_shape *s)
{
	return s->delay_ms || s->rate || s->fragment;
}

/* The host's network is down (a network outage stalls traffic only while the owner has no
 * network: a modem that registered again by itself has its network back). */
static bool net_down(const struct net_conn *c)
{
	const struct net_host *h = c->h;

	return h->policy.down && !(h->ops && h->ops->network_up && h->ops->network_up(h->owner));
}

bool net_link_blackholed(const struct net_conn *c)
{
	return (c->f && c->f->blackhole) || net_down(c);
}

bool net_link_in_held(const struct net_conn *c)
{
	return net_link_blackholed(c) || (c->f && (c->f->in.head || shape_on(&c->f->shape)));
}

bool net_link_out_held(const struct net_conn *c)
{
	return net_link_blackholed(c) || (c->f && (c->f->out.head || shape_on(&c->f->shape)));
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

void net_link_free(struct net_conn *c)
{
	shaper_clear(&c->f->in);
	shaper_clear(&c->f->out);
	free(c->f);
	c->f = NULL;
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
	uv_timer_init(net_conn_loop(c), &f->timer);
	f->timer.data = c;
	c->open_refs++; /* the timer; closed in teardown */
	c->f = f;
	return f;
}

/* Run the faults from the loop: never inside the call that asked. */
void net_link_kick(struct net_conn *c)
{
	if (c->f && c->state != CONN_DEAD)
		uv_timer_start(&c->f->timer, fault_tick, 0, 0);
}

static void fault_arm(struct net_conn *c, uint64_t next)
{
	uint64_t now, wait;

	if (!c->f || c->state == CONN_DEAD || next == UINT64_MAX)
		return;
	now = uv_now(net_conn_loop(c));
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
	uint64_t now = uv_now(net_conn_loop(c));

	while (f->out.head && !net_link_blackholed(c) && c->connected &&
	       (c->state == CONN_HANDSHAKING || c->state == CONN_OPEN ||
	        c->state == CONN_CLOSING)) {
		struct chunk *k = f->out.head;
		size_t n = allowance(&f->out, &f->shape, now, next);
		int rc;

		if (!n)
			break;
		rc = net_conn_write_now(c, k->data + k->off, n);
		if (rc) {
			if (c->state == CONN_CLOSING)
				net_conn_teardown(c, false);
			else
				net_conn_defer_fail(c, rc, c->cause);
			return;
		}
		k->off += n;
		f->out.bytes -= n;
		if (k->off == k->len)
			shaper_pop(&f->out);
	}
	if (!f->out.head && f->want_shut && c->state == CONN_CLOSING) {
		f->want_shut = false;
		net_conn_shutdown(c);
	}
}

static void pump_in(struct net_conn *c, uint64_t *next)
{
	struct conn_fault *f = c->f;
	uint64_t now = uv_now(net_conn_loop(c));

	while (f->in.head) {
		struct chunk *k = f->in.head;
		const uint8_t *p;
		size_t n;

		if (c->state == CONN_DEAD || net_link_blackholed(c) ||
		    (c->paused && c->state == CONN_OPEN))
			return;
		n = allowance(&f->in, &f->shape, now, next);
		if (!n)
			break;
		p = k->data + k->off;
		k->off += n;
		f->in.bytes -= n;
		net_conn_wire_in(c, p, n); /* may end the connection; the chunk stays valid */
		if (f->in.head == k && k->off == k->len)
			shaper_pop(&f->in);
	}
	if (c->state == CONN_DEAD)
		return;
	if (f->in_full && f->in.bytes < SHAPER_IN_LOW) {
		f->in_full = false;
		net_conn_sync_reading(c);
	}
	if (!f->in.head && f->eof_held) {
		f->eof_held = false;
		net_conn_eof(c);
	}
}

void net_link_hold_in(struct net_conn *c, const uint8_t *p, size_t n)
{
	struct conn_fault *f = fault_get(c);
	uint64_t next = UINT64_MAX;

	if (!f || shaper_add(&f->in, p, n, uv_now(net_conn_loop(c)) + f->shape.delay_ms) != 0) {
		net_conn_fail(c, -NET_ERR_NOMEM, "no memory to hold inbound bytes", false);
		return;
	}
	if (f->in.bytes > SHAPER_IN_HIGH && !f->in_full) {
		f->in_full = true;
		net_conn_sync_reading(c);
	}
	pump_in(c, &next);
	fault_arm(c, next);
}

int net_link_hold_out(struct net_conn *c, const uint8_t *p, size_t n)
{
	struct conn_fault *f = fault_get(c);
	uint64_t next = UINT64_MAX;

	if (!f)
		return net_conn_write_now(c, p, n);
	if (shaper_add(&f->out, p, n, uv_now(net_conn_loop(c)) + f->shape.delay_ms) != 0)
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
		net_conn_fail(c, -NET_ERR_RESET, "connection reset (fault)", true);
		return;
	case FA_CLOSE:
		if (c->state == CONN_CLOSING || c->state == CONN_DEAD || f->fin_sent)
			return;
		if (!c->connected) {
			net_conn_fail(c, -NET_ERR_IO,
			              "link closed before the connection was made (fault)", false);
			return;
		}
		/* What was held back dies with the link; the peer gets our FIN and answers
		 * with its own, which on_eof reports as a close by the peer. */
		shaper_clear(&f->out);
		f->fin_sent = true;
		c->shut = true;
		trace_event(c->h->trace_id, "net",
		            "conn %u: FIN sent (fault): waiting for the peer's", c->id);
		net_conn_shutdown(c);
		net_conn_sync_reading(c);
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
			net_conn_fail(c, -NET_ERR_PEER_CLOSED,
			              "the peer did not answer our FIN (fault)", false);
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
	net_link_kick(c);
}

void net_conn_fault_reset(struct net_conn *c)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->action = FA_RESET;
	net_link_kick(c);
}

void net_conn_fault_blackhole(struct net_conn *c, bool on)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->blackhole = on;
	trace_event(c->h->trace_id, "net", "conn %u: traffic %s (fault)", c->id,
	            on ? "stopped both ways" : "flows again");
	net_conn_sync_reading(c);
	net_link_kick(c);
}

void net_conn_fault_shape(struct net_conn *c, const struct net_link_shape *s)
{
	struct conn_fault *f = fault_get(c);

	if (!f)
		return;
	f->shape = *s;
	trace_event(c->h->trace_id, "net",
	            "conn %u: link shaped: delay %u ms, %u bytes/s, pieces of %u", c->id,
	            s->delay_ms, s->rate, s->fragment);
	net_link_kick(c);
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

void net_link_corrupt(struct net_conn *c, uint64_t pos, uint8_t *p, size_t n)
{
	struct conn_fault *f = c->f;

	if (f->corrupt_at >= pos && f->corrupt_at < pos + n) {
		size_t i = (size_t)(f->corrupt_at - pos);

		p[i] ^= 0xFF;
		f->corrupt_at = UINT64_MAX;
		trace_event(c->h->trace_id, "net",
		            "conn %u: byte %llu from the peer inverted (fault)", c->id,
		            (unsigned long long)(pos + i));
	}
}

/* ---- the host's policy ---- */

bool net_link_open(struct net_conn *c)
{
	const struct net_link_policy *pol = &c->h->policy;

	if (shape_on(&pol->shape))
		net_conn_fault_shape(c, &pol->shape);
	return net_down(c);
}

void net_link_redirect(struct net_conn *c, struct sockaddr_in *dest)
{
	struct net_link_policy *pol = &c->h->policy;

	if (pol->refuse_port) {
		/* A loopback port bound but not listening: the kernel answers the SYN with an
		 * RST, a real "connection refused". */
		trace_event(c->h->trace_id, "net", "conn %u: the network refuses it (fault)",
		            c->id);
		dest->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dest->sin_port = htons((uint16_t)pol->refuse_port);
	} else if (c->tls && pol->tls_port) {
		trace_event(c->h->trace_id, "net", "conn %u: goes to a TLS server with %s (fault)",
		            c->id, pol->tls_what);
		dest->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dest->sin_port = htons((uint16_t)pol->tls_port);
		if (pol->tls_once)
			pol->tls_port = 0;
	}
}

void net_link_update(struct net_host *h)
{
	for (struct net_conn *c = h->conns; c; c = c->next) {
		bool down;

		if (c->released || c->state == CONN_DEAD)
			continue;
		down = net_down(c);
		if (c->parked && !down) {
			c->parked = false;
			trace_event(h->trace_id, "net", "conn %u: the network is back", c->id);
			net_conn_start_plan(c);
			continue;
		}
		net_conn_sync_reading(c);
		if (!down && !c->f && c->tls && c->state == CONN_OPEN)
			net_conn_resume_later(c); /* records the session holds */
		net_link_kick(c);
	}
}
