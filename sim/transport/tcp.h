/* A modem's serial port over TCP, for emulated firmware (QEMU -serial tcp:..., Renode's server
 * socket terminal): the raw UART bytes, no telnet negotiation. Either modemsim listens and the
 * firmware connects (tcp-listen), or modemsim dials a UART the emulator serves (tcp-connect)
 * and dials again, with a bounded backoff, until it is up and whenever it goes away.
 *
 * One host at a time: a disconnect is the host closing the tty. The modem keeps its state, and
 * what it says while no host is connected waits in the port's bounded buffer for the next one
 * (as the pty keeps it for the next open), so a firmware that connects after the boot still
 * reads RDY. */
#ifndef MODEMSIM_TRANSPORT_TCP_H
#define MODEMSIM_TRANSPORT_TCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/buf.h"

struct modem;

enum tcp_mode { TCP_MODE_LISTEN, TCP_MODE_CONNECT };

/* A parsed --serial tcp-listen:HOST:PORT or tcp-connect:HOST:PORT. */
struct tcp_spec {
	enum tcp_mode mode;
	struct sockaddr_storage addr; /* the first modem's; modem k uses port + k (0 stays 0) */
};

#define TCP_NAME_MAX 80

struct tcp_port {
	struct modem *m;
	uv_loop_t *loop;
	enum tcp_mode mode;
	struct sockaddr_storage addr; /* listening on (the actual port) or dialling */
	char name[TCP_NAME_MAX]; /* "tcp:127.0.0.1:5000" or "tcp-connect:127.0.0.1:5000" */
	uv_tcp_t listener; /* TCP_MODE_LISTEN */
	bool listening;
	uv_tcp_t *conn; /* the host's connection, or NULL */
	uv_tcp_t *dialling; /* TCP_MODE_CONNECT: the connection being made, or NULL */
	uv_connect_t connect_req;
	uv_timer_t retry; /* TCP_MODE_CONNECT: the next dial */
	unsigned backoff_ms;
	bool dial_failed; /* logged the far end is not up; quiet until it was */
	struct buf out; /* bytes no uv_write holds yet */
	size_t inflight; /* bytes of the one uv_write under way */
	bool paused; /* the modem's input buffer is full: not reading */
	bool closing;
};

/* Parse spec; returns 0, or -ERR_SYNTAX (why says what is wrong) or -ERR_NAME (HOST does not
 * resolve). HOST is an IPv4 address, a name (resolved now, IPv4) or an [IPv6] address. */
int tcp_spec_parse(const char *spec, struct tcp_spec *out, char *why, size_t whylen);
/* Serve modem m on spec's port + offset (spec's port 0: an ephemeral port when listening).
 * Listening is bound when this returns (p->name says where); dialling has started. Returns 0
 * or -ERR_*, logged. */
int tcp_open(struct tcp_port *p, uv_loop_t *loop, struct modem *m, const struct tcp_spec *spec,
             int offset);
void tcp_close(struct tcp_port *p);

#endif
