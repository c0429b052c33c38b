/* One outgoing connection of a network host (net/host.h): name resolution with the host's
 * override map, the port route, TCP, and TLS through the adapter (tls/tls.h) when asked. The
 * caller sees plaintext only.
 *
 *   net_conn_open  -> resolve (map, else uv_getaddrinfo) -> route -> uv_tcp_connect
 *                  -> [TLS handshake] -> opened(0)
 *   any failure on the way -> opened(-NET_ERR_*, cause); the deadline covers every step.
 *   open: data() for plaintext in, net_conn_write() for plaintext out, closed() at the end.
 *
 * Ownership: the caller owns the connection from net_conn_open() until it calls
 * net_conn_close() or net_conn_abort(), exactly once, also after a failed opened() or a
 * closed(): that call releases it. No callback runs after it returns, and it may be made from
 * inside any of the callbacks. The memory goes when libuv has closed every handle. */
#ifndef MODEMSIM_NET_CONN_H
#define MODEMSIM_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "net/host.h"

struct tls_config;
struct net_conn;

/* Why a connection did not open or ended: a NET_ERR_* cause of core/err.h's one table, negated
 * (-NET_ERR_DNS, ...); the caller maps it to the module's result codes (e.g. DNS ->
 * "+QMTOPEN: <id>,4", the rest -> 5 or +QMTSTAT). net_status_str() is err_str() under the
 * name its callers use: "name not resolved" for -NET_ERR_DNS, "success" for 0. */
static inline const char *net_status_str(int status)
{
	return err_str(status);
}

struct net_conn_ops {
	/* 0, or -NET_ERR_DNS / REFUSED / UNREACH / TIMEOUT / TLS / RESET / IO / NOMEM with a
	 * human-readable cause (for TLS, the adapter's). */
	void (*opened)(void *arg, int status, const char *cause);
	/* Plaintext from the peer; p is valid during the call only. */
	void (*data)(void *arg, const uint8_t *p, size_t n);
	/* After opened(0): -NET_ERR_PEER_CLOSED (FIN or close_notify), RESET, TLS, TIMEOUT
	 * (a graceful close that did not finish), IO. */
	void (*closed)(void *arg, int reason, const char *cause);
};

struct net_conn_stats {
	uint64_t tx; /* plaintext bytes the caller wrote */
	uint64_t rx; /* plaintext bytes delivered to data() */
	uint64_t wire_tx; /* bytes handed to the socket (ciphertext with TLS) */
	uint64_t wire_rx; /* bytes read from the socket */
	uint64_t unacked; /* bytes written but not yet acknowledged by the peer's TCP */
};

/* Start connecting a connection of h to host:port (host: a name or IPv4 literal, at most
 * NET_NAME_MAX characters). tls NULL: plain TCP; else the session is set up here, so cfg and
 * what it points to need to live only through this call. timeout_ms covers lookup, connect and
 * handshake (0: none). Returns 0 with *out set, and opened() follows from the loop, never from
 * inside this call; or a negative ERR_* (bad arguments, out of memory) with no callback. */
int net_conn_open(struct net_host *h, const char *host, int port, const struct tls_config *tls,
                  uint64_t timeout_ms, const struct net_conn_ops *ops, void *arg,
                  struct net_conn **out);
/* Queue plaintext after opened(0). Returns 0, -ERR_STATE (not open, or closed by the peer),
 * -ERR_NOSPC (NET_CONN_TX_MAX bytes already queued) or -ERR_NOMEM. Every byte taken is sent in
 * order; see net_conn_backlog for flow control. */
int net_conn_write(struct net_conn *c, const uint8_t *p, size_t n);
/* Bytes taken by net_conn_write that have not reached the kernel yet. */
size_t net_conn_backlog(const struct net_conn *c);
/* Stop (true) or resume delivering data(): the socket is not read meanwhile, so TCP's window
 * closes and the peer stops sending, as a module with full receive buffers does. */
void net_conn_pause(struct net_conn *c, bool pause);
/* Release, gracefully: queued data goes out, then close_notify (TLS), then FIN; the socket
 * lingers until the peer closes too or NET_CONN_LINGER_MS pass. Before opened(): abandons. */
void net_conn_close(struct net_conn *c);
/* Release with a reset (RST; uv_tcp_close_reset) and drop what is queued. */
void net_conn_abort(struct net_conn *c);

void net_conn_get_stats(const struct net_conn *c, struct net_conn_stats *out);
/* Where it went, for traces and queries: "127.0.0.1:41234" (after route), or "" before. */
const char *net_conn_peer(const struct net_conn *c);

#define NET_CONN_LINGER_MS 2000

/* The send queue's bounds (bytes and write requests taken but not yet in the kernel): over
 * NET_CONN_TX_HIGH bytes or NET_CONN_TX_REQS_HIGH requests the connection is not read (a peer
 * that does not read cannot make us queue answers without end; TCP pushes back on it), and
 * reading resumes below half of both. net_conn_write refuses more than NET_CONN_TX_MAX bytes
 * queued with -ERR_NOSPC. */
#define NET_CONN_TX_HIGH (256 * 1024)
#define NET_CONN_TX_REQS_HIGH 4096
#define NET_CONN_TX_MAX (4 * 1024 * 1024)

/* ---- Faults (scenario/fault.c; net/link.c): real impairments of a host's link ----
 *
 * Everything acts on the TCP byte stream, below TLS, because that is where a network fails: a
 * delayed, throttled or fragmented stream is what TCP hands up, and a corrupted byte inside a
 * TLS record breaks the record's MAC (the session fails with a TLS error, as in the field).
 * Actions that end a connection run from the loop, never inside the call, so a fault fired
 * from inside a caller's callback (a scenario event) cannot pull the connection from under it. */

/* The peer closes: a FIN goes to the peer now, the peer's FIN follows and closed() reports
 * -NET_ERR_PEER_CLOSED (or after NET_CONN_LINGER_MS if the peer never answers). What the
 * caller writes meanwhile is dropped, as bytes sent into a closing connection are. */
void net_conn_fault_close(struct net_conn *c);
/* The connection is reset: an RST goes to the peer and closed() reports -NET_ERR_RESET. */
void net_conn_fault_reset(struct net_conn *c);
/* Traffic stops both ways (on) or resumes: the socket is not read and nothing is sent, but it
 * stays open, so TCP's window closes and keepalives go unanswered, as behind a dead link. */
void net_conn_fault_blackhole(struct net_conn *c, bool on);
void net_conn_fault_shape(struct net_conn *c, const struct net_link_shape *s);
/* The connection's current shape (all 0 when none). */
void net_conn_fault_shape_get(const struct net_conn *c, struct net_link_shape *out);
/* Invert one byte of the stream from the peer: the offset-th byte from now (0: the first
 * byte of the next chunk). */
void net_conn_fault_corrupt(struct net_conn *c, uint64_t offset);
/* The host c was opened on. */
struct net_host *net_conn_host(const struct net_conn *c);

#endif
