/* One outgoing connection of a modem: name resolution with the override map, the port route,
 * TCP, and TLS through the adapter (tls/tls.h) when asked. The caller sees plaintext only.
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

struct modem;
struct tls_config;
struct net_conn;

/* Why a connection did not open or ended; the caller maps these to the module's result codes
 * (e.g. DNS -> "+QMTOPEN: <id>,4", the rest -> 5 or +QMTSTAT). */
#define NET_STATUS_TABLE(X)                                                                        \
	X(DNS, "name not resolved")                                                                \
	X(REFUSED, "connection refused")                                                           \
	X(UNREACH, "network unreachable")                                                          \
	X(TIMEOUT, "timed out")                                                                    \
	X(TLS, "TLS failure")                                                                      \
	X(RESET, "connection reset by peer")                                                       \
	X(PEER_CLOSED, "closed by peer")                                                           \
	X(IO, "socket error")                                                                      \
	X(NOMEM, "out of memory")

/* Statuses are negative, as with core/err.h: -NET_ERR_DNS, ... */
enum net_status {
	NET_OK = 0,
#define NET_ENUM_(name, text) NET_ERR_##name,
	NET_STATUS_TABLE(NET_ENUM_)
#undef NET_ENUM_
};

/* Text of a status (-NET_ERR_DNS: "name not resolved"); "success" for 0. */
const char *net_status_str(int status);

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

/* Start connecting m's connection to host:port (host: a name or IPv4 literal, at most
 * NET_NAME_MAX characters). tls NULL: plain TCP; else the session is set up here, so cfg and
 * what it points to need to live only through this call. timeout_ms covers lookup, connect and
 * handshake (0: none). Returns 0 with *out set, and opened() follows from the loop, never from
 * inside this call; or a negative ERR_* (bad arguments, out of memory) with no callback. */
int net_conn_open(struct modem *m, const char *host, int port, const struct tls_config *tls,
                  uint64_t timeout_ms, const struct net_conn_ops *ops, void *arg,
                  struct net_conn **out);
/* Queue plaintext after opened(0). Returns 0, -ERR_STATE (not open, or closed by the peer) or
 * -ERR_NOMEM. Every byte taken is sent in order; see net_conn_backlog for flow control. */
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

#endif
