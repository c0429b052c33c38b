/* Private to net/conn.c (the connection shell) and net/link.c (the link faults): the
 * connection object, and what each file offers the other. Nothing else includes this. */
#ifndef MODEMSIM_NET_CONN_INT_H
#define MODEMSIM_NET_CONN_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "net/conn.h"
#include "net/resolve.h"

enum conn_state {
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_HANDSHAKING,
	CONN_OPEN,
	CONN_CLOSING, /* released while open: flush, close_notify, FIN, wait for the peer's FIN */
	CONN_DEAD, /* handles closing; no more I/O */
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

struct net_conn {
	struct net_host *h;
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
	bool parked; /* waiting for the host's network to come back (fault) */
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
	size_t nreq; /* write requests not yet completed */
	bool tx_full; /* the send queue is over NET_CONN_TX_HIGH: the socket is not read */
	struct net_conn_stats st;
	struct conn_fault *f; /* NULL: no fault ever applied */
	struct net_conn *prev, *next; /* the host's connections not yet freed */
	uint8_t rbuf[16 * 1024]; /* socket reads, then (TLS) plaintext out of the session */
};

static inline uv_loop_t *net_conn_loop(const struct net_conn *c)
{
	return c->h->loop;
}

/* ---- conn.c, for link.c ---- */

/* Close every handle; reset: an RST instead of a FIN where libuv allows it. */
void net_conn_teardown(struct net_conn *c, bool reset);
/* The final failure: handles closed (with an RST when reset), the caller told. */
void net_conn_fail(struct net_conn *c, int status, const char *cause, bool reset);
/* A failure found inside a call from the caller, reported from the loop. */
void net_conn_defer_fail(struct net_conn *c, int status, const char *cause);
/* Bytes to the socket now, copied: 0 or a negative NET status (c->cause says more). */
int net_conn_write_now(struct net_conn *c, const uint8_t *p, size_t n);
/* Bytes from the socket (or released by a fault), in the connection's current state. */
void net_conn_wire_in(struct net_conn *c, const uint8_t *p, size_t n);
/* The peer's FIN (or the one a fault held back behind bytes). */
void net_conn_eof(struct net_conn *c);
/* Queue our FIN after the writes queued so far. */
void net_conn_shutdown(struct net_conn *c);
/* Resolve and connect (a connection that waited for the network). */
void net_conn_start_plan(struct net_conn *c);
/* Read from the socket or not, as the caller, the link and the faults want now. */
void net_conn_sync_reading(struct net_conn *c);
/* Deliver, from the loop, plaintext records the TLS session holds. */
void net_conn_resume_later(struct net_conn *c);

/* ---- link.c, for conn.c ---- */

/* Apply the host's policy to a new connection (its shape). Returns true when the network is
 * down and the connection must wait for it (parked) before it resolves. */
bool net_link_open(struct net_conn *c);
/* Where the host's policy sends a new TCP connect instead of dest (refusal, TLS traps). */
void net_link_redirect(struct net_conn *c, struct sockaddr_in *dest);
/* Nothing flows: a blackhole on c, or the host's network is down. */
bool net_link_blackholed(const struct net_conn *c);
/* Inbound bytes must wait behind faults (held, shaped or stalled). */
bool net_link_in_held(const struct net_conn *c);
void net_link_hold_in(struct net_conn *c, const uint8_t *p, size_t n);
/* The same outbound; net_link_hold_out returns 0 or a negative NET status. */
bool net_link_out_held(const struct net_conn *c);
int net_link_hold_out(struct net_conn *c, const uint8_t *p, size_t n);
/* Run the faults from the loop, never inside the call that asked. */
void net_link_kick(struct net_conn *c);
/* p (n bytes from the socket, wire position pos) may hold the byte a fault inverts. */
void net_link_corrupt(struct net_conn *c, uint64_t pos, uint8_t *p, size_t n);
/* Free what the faults hold (c->f and its bytes); its timer is closed already. */
void net_link_free(struct net_conn *c);

#endif
