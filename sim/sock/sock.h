/* Sockets of a modem: the model-independent core under the EC25 (+QIOPEN, +QSSLOPEN) and the
 * M95 (+QIOPEN, +QSSLOPEN) socket commands. The core owns the connection (net/conn.h for TCP
 * and TLS, a connected uv_udp_t for UDP), the receive buffer with its limit and flow control,
 * the send path with its limit, the counters behind the ",0" queries, and transparent mode.
 * The model layers (at/cmd_sock_ec25.c, the M95 file) parse the commands and word every
 * result and URC through the callbacks below: the core never prints a model's text, except
 * the "OK" after "+++" (the same on both models) and ops->closed_text.
 *
 * Life of a socket (one slot per connectID, 0 .. SOCK_MAX-1):
 *
 *   INITIAL --sock_open--> OPENING --opened(0)--> CONNECTED --peer/network--> CLOSING
 *                                  `-opened(<0)-> INITIAL (slot free again)     |
 *   any state --sock_close/sock_abort--> INITIAL <------------------------------'
 *
 * Receiving, by access mode (every mode goes through the receive buffer):
 *   BUFFER       bytes wait in s->rx for sock_read(); ops->recv() tells the model (EC25:
 *                "+QIURC: \"recv\",<id>" when was_empty).
 *   PUSH         the core hands bytes to ops->push() in pieces of at most SOCK_PUSH_CHUNK,
 *                only while the host keeps up (what waits for the host stays below
 *                SOCK_HOST_HIGH); the model frames them (EC25 "+QIURC: \"recv\",<id>,<n>").
 *   TRANSPARENT  after sock_transparent() and the command's final result, raw bytes go to the
 *                host under the same host limit; host bytes go to the peer. "+++" (1 s guard
 *                times) returns to command mode with OK (printed by the core); bytes arriving
 *                meanwhile wait in s->rx until sock_transparent() again (ATO), and
 *                sock_read() may take them. While escaped the socket behaves as in BUFFER
 *                mode for a close (no recv() calls, though).
 * When s->rx holds rx_limit bytes or more, the core stops reading the connection (TCP's window
 * closes; the peer stops sending) and resumes when it is below half. Nothing is dropped: the
 * one read in flight when the limit is reached is kept (at most one read chunk over).
 *
 * Sending: sock_send() refuses with -ERR_BUSY ("SEND FAIL") when the bytes written but not yet
 * acknowledged by the peer plus the new ones exceed tx_limit; in transparent mode the core
 * stops reading the host instead (as RTS/CTS would) until the connection drains.
 *
 * The peer or the network ending a connection: the state becomes CLOSING and ops->closed()
 * runs, in BUFFER mode at once (what is buffered stays readable with sock_read), in PUSH and
 * TRANSPARENT mode once every received byte went to the host. In transparent mode the core
 * first leaves transparent mode printing ops->closed_text (EC25: "NO CARRIER"). The slot
 * stays taken until the host's sock_close()/sock_abort().
 *
 * Callbacks run from the loop (connection events, timers) or from sock_pdp_down, never from
 * inside sock_open/sock_send/sock_read/sock_transparent; sock_close/sock_abort/sock_reboot
 * call no ops callback at all (only sock_close's own done). */
#ifndef MODEMSIM_SOCK_SOCK_H
#define MODEMSIM_SOCK_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct modem;
struct net_conn;
struct sock_udp;
struct modem_timer;
struct tls_config;

#define SOCK_MAX 12 /* EC25 connectID / clientID 0-11 (TCP/IP AN, SSL AN); the M95 uses 0-5 */
#define SOCK_HOST_MAX 128 /* host name as given */

/* Decision (no source gives the module's buffer sizes): 64 KiB of received data per socket
 * before the core stops reading the connection, and 64 KiB written but not acknowledged before
 * a send is refused. Both can be set per socket (sock_open_args). */
#define SOCK_RX_LIMIT (64 * 1024)
#define SOCK_TX_LIMIT (64 * 1024)
/* Bytes per push URC: the most a real EC25 shows in one "+QIURC: \"recv\",<id>,<len>" is a
 * TCP segment's worth; 1500 matches the QIRD/QSSLRECV read maximum (a choice). */
#define SOCK_PUSH_CHUNK 1500
/* Push and transparent delivery stop while this much output waits for the host. */
#define SOCK_HOST_HIGH (32 * 1024)

enum sock_proto { SOCK_TCP, SOCK_UDP, SOCK_TLS };
enum sock_mode { SOCK_MODE_BUFFER = 0, SOCK_MODE_PUSH = 1, SOCK_MODE_TRANSPARENT = 2 };
/* Values as EC25 +QISTATE/+QSSLSTATE <socket_state> print them. */
enum sock_socket_state {
	SOCK_S_INITIAL = 0,
	SOCK_S_OPENING = 1,
	SOCK_S_CONNECTED = 2,
	SOCK_S_LISTENING = 3, /* not used: no server sockets */
	SOCK_S_CLOSING = 4,
};

struct sock;

/* Supplied by the model layer for each socket (a const table). Every callback is optional
 * except opened. */
struct sock_ops {
	/* The open finished: status 0 (CONNECTED), or -NET_ERR_* from net/conn.h with a cause
	 * for the trace (the slot is free again when this runs). Map to the module's code, e.g.
	 * DNS -> 565, TLS -> 566 on the EC25. */
	void (*opened)(struct sock *s, int status, const char *cause);
	/* BUFFER mode: n new bytes are in s->rx; was_empty: it held nothing unread before. */
	void (*recv)(struct sock *s, size_t n, bool was_empty);
	/* PUSH mode: show p[0..n) to the host now (n <= SOCK_PUSH_CHUNK), e.g. with
	 * modem_urc_bytes(); p is valid during the call only. */
	void (*push)(struct sock *s, const uint8_t *p, size_t n);
	/* The peer closed, reset, or the network dropped the context (reason -NET_ERR_*); see
	 * the header comment for when. */
	void (*closed)(struct sock *s, int reason, const char *cause);
	/* Printed (at_transparent_exit) when the peer ends a transparent connection; NULL:
	 * nothing. */
	const char *closed_text;
};

struct sock_open_args {
	enum sock_proto proto;
	const char *host; /* a name or IPv4 literal, at most SOCK_HOST_MAX - 1 characters */
	int port;
	int local_port; /* 0: any (UDP only; TCP always takes an ephemeral port) */
	int cid; /* the PDP context it runs on (EC25 1-16; M95 passes 1) */
	enum sock_mode mode;
	const struct tls_config *tls; /* SOCK_TLS: used during the call only */
	uint64_t timeout_ms; /* lookup + connect + handshake; 0: none */
	/* opened() comes no earlier than this long after sock_open (the module's latency: pass
	 * modem_delay(m, ms), 0 with --timing fast). Data and a close that arrive meanwhile wait
	 * and are reported after opened(), so the model's URCs keep their order. */
	uint64_t report_ms;
	size_t rx_limit; /* 0: SOCK_RX_LIMIT */
	size_t tx_limit; /* 0: SOCK_TX_LIMIT */
};

struct sock {
	/* read-only for the model layers */
	struct modem *m;
	int id;
	enum sock_socket_state state;
	enum sock_proto proto;
	enum sock_mode mode;
	int cid;
	char host[SOCK_HOST_MAX];
	int port;
	int local_port;
	struct buf rx; /* received, not yet read (BUFFER) or not yet shown (PUSH, TRANSPARENT) */
	uint64_t rx_total; /* bytes received from the peer */
	uint64_t rx_read; /* bytes the host has taken (sock_read, push, transparent) */
	bool peer_closed; /* the connection ended by itself (state CLOSING) */
	bool tp_escaped; /* TRANSPARENT: in command mode after "+++" */
	void *arg; /* the model layer's */
	int user; /* free for the model layer (EC25: the SSL context of +QSSLOPEN) */

	/* core-private */
	const struct sock_ops *ops;
	size_t rx_limit, tx_limit;
	struct net_conn *conn;
	struct sock_udp *udp;
	char remote_ip[48]; /* the address it connected to */
	bool rx_paused; /* the connection is not read: s->rx is full */
	bool host_paused; /* TRANSPARENT: the host is not read: the send side is full */
	bool closed_pending; /* ops->closed() is due once rx has gone to the host */
	bool closed_told;
	int close_reason;
	char close_cause[160];
	uint64_t tx_total;
	struct modem_timer *tx_timer; /* TRANSPARENT: waits for the send side to drain */
	/* the open's outcome, held until report_ms passed */
	struct modem_timer *open_timer;
	uint64_t open_due;
	bool open_held;
	int open_status;
	char open_cause[160];
	bool close_held;
	/* sock_close waiting for the peer to acknowledge */
	bool host_closing;
	struct modem_timer *close_timer;
	uint64_t close_deadline;
	void (*close_done)(struct modem *m, void *arg);
	void *close_arg;
};

struct sock_state {
	struct sock s[SOCK_MAX];
	struct sock *tp; /* the socket in transparent mode (also while escaped), or NULL */
	struct modem_timer *kick; /* delivery retry while the host is behind */
	/* Scratch for the model layer's commands (one command runs at a time per modem): the
	 * data of a "> " prompt, and whether sock_close's done came inside the handler. The
	 * core only frees req_data (sock_free) and empties it (sock_reboot). */
	struct buf req_data;
	int req_id;
	bool req_sync;
	bool req_done;
	size_t req_min; /* sock_send_prompt: the accepted payload sizes */
	size_t req_max;
};

/* AT+QISEND / AT+QSSLSEND on both models: "\r\n> ", then exactly fixed_len bytes, or (0) the
 * bytes up to Ctrl+Z (ESC cancels: OK). Sends them on socket id and answers "SEND OK", or
 * "SEND FAIL" when the send buffer is full, or ERROR when the socket is gone or the payload is
 * outside [min, max] bytes. The caller returns AT_PENDING. */
void sock_send_prompt(struct modem *m, int id, size_t fixed_len, size_t min, size_t max);

/* The modem's sockets, allocated on first use (modem_area_alloc); freed by modem_release. */
struct sock_state *modem_sock(const struct modem *m);
/* AT+CFUN=1,1 and shutdown: every socket goes at once (reset), with no callback. */
void sock_reboot(struct modem *m);
void sock_free(struct modem *m);
/* The pdp.c down hook: sockets on context cid end. by_network: like a peer close
 * (ops->closed with -NET_ERR_UNREACH, "PDP context deactivated"); else (host AT+QIDEACT)
 * silently, slot freed. */
void sock_pdp_down(struct modem *m, int cid, bool by_network);

/* The socket of connectID id, or NULL when id is outside 0 .. SOCK_MAX-1. */
struct sock *sock_get(struct modem *m, int id);
static inline bool sock_in_use(const struct sock *s)
{
	return s->state != SOCK_S_INITIAL;
}

/* Start opening socket id. Returns 0 (opened() follows from the loop, never from inside this
 * call), -ERR_BUSY (the slot is in use), -ERR_INVAL (bad arguments), -ERR_NOMEM. */
int sock_open(struct modem *m, int id, const struct sock_open_args *a, const struct sock_ops *ops,
              void *arg);

/* Queue bytes to the peer. 0; -ERR_BUSY: the send buffer is full (unacknowledged + n over
 * tx_limit: nothing taken, "SEND FAIL"); -ERR_STATE: not CONNECTED (or the peer closed). */
int sock_send(struct sock *s, const uint8_t *p, size_t n);
/* Would a send of n bytes be refused with -ERR_BUSY now? */
bool sock_send_full(const struct sock *s, size_t n);
/* Take up to max buffered bytes (BUFFER mode, or any mode's leftovers after a close). Returns
 * the count (0: nothing buffered). Reading may resume a paused connection. */
size_t sock_read(struct sock *s, uint8_t *dst, size_t max);

/* Counters for the ",0" queries: EC25 +QIRD/+QSSLRECV <total>,<read>,<unread>;
 * +QISEND <total_send>,<acked>,<unacked>; M95 +QISACK <sent>,<acked>,<nAcked>. */
struct sock_counters {
	uint64_t rx_total, rx_read, rx_unread;
	uint64_t tx_total, tx_acked, tx_unacked;
};
void sock_get_counters(const struct sock *s, struct sock_counters *out);

/* Enter transparent mode on s (open, or open and escaped): call from the command that prints
 * CONNECT (QIOPEN/QSSLOPEN mode 2 when opened, ATO); it takes effect after the command's
 * final result (answer AT_CUSTOM). Returns 0, or -ERR_STATE when another socket is in
 * transparent mode or s cannot carry data. */
int sock_transparent(struct sock *s);
/* The socket left by "+++" that ATO would resume, or NULL. */
struct sock *sock_escaped(struct modem *m);

/* Close the socket: queued bytes go out, then FIN (close_notify first with TLS). With
 * timeout_ms > 0 the core waits until the peer has acknowledged everything or timeout_ms
 * passes (then resets), and calls done(m, arg) once; with 0 it resets at once if anything
 * is unacknowledged. The slot is free (INITIAL) when done runs (at once if nothing is
 * waiting: done is then called before sock_close returns). No ops callback runs after. */
void sock_close(struct sock *s, uint64_t timeout_ms, void (*done)(struct modem *m, void *arg),
                void *arg);
/* Reset at once and free the slot; no callback. */
void sock_abort(struct sock *s);

/* The remote address for +QISTATE/+QSSLSTATE: the IPv4 address it connected to, or the host
 * as given while it is still opening. */
const char *sock_remote_ip(const struct sock *s);

/* Names for traces: "TCP", "UDP", "TLS"; "buffer", "push", "transparent". */
const char *sock_proto_name(enum sock_proto p);
const char *sock_mode_name(enum sock_mode mode);

#endif
