/* An MQTT 3.1 / 3.1.1 client session over a real TCP or TLS connection (net/conn.h) to a real
 * broker. It knows MQTT, not any module's AT dialect: it reports through struct
 * mqtt_client_ops (as sock/sock.h does with sock_ops) and returns negative ERR_* causes; the
 * dialect's family (at/cmd_mqtt.c for Quectel's AT+QMT*) words every result and URC.
 *
 *   mqtt_client_open     TCP (+TLS) connect                      ops->opened(0 | -NET_ERR_*)
 *   mqtt_client_connect  ==> CONNECT     <== CONNACK              ops->connack(rc)
 *   mqtt_client_subscribe ==> SUBSCRIBE  <== SUBACK               ops->suback(id, granted)
 *   mqtt_client_publish  ==> PUBLISH     <== PUBACK / PUBREC ..   ops->puback(id, tag)
 *                        <== PUBLISH     ==> PUBACK ...           ops->message() (may refuse)
 *   mqtt_client_disconnect ==> DISCONNECT (server closes)         ops->lost(MQTT_LOSS_DISCONNECTED)
 *   peer close / reset / protocol error                           ops->lost(MQTT_LOSS_PEER...)
 *   PINGREQ unanswered                                            ops->ping_failed, ops->lost(PING)
 *   pkt_timeout x retry_times                                     ops->retransmitted ... gave_up
 *
 * A success event only ever follows the broker's answer. Callbacks run from the loop
 * (connection events, the client's timer), never from inside a mqtt_client_* call, except
 * ops->state() for the change the call itself makes, ops->lost() from mqtt_client_lose(), and
 * ops->message() which mqtt_client_resume() may cause. Every callback is optional.
 *
 * Flow control: ops->message() returns false when the owner cannot take the message now; the
 * client does not acknowledge it, keeps it and the PUBLISHes after it in order (at most
 * MQTT_RX_HOLD_MAX bytes: beyond, it stops reading the connection and TCP pushes back on the
 * broker), and offers it again after mqtt_client_resume(). Acknowledgements of the client's own
 * packets and PINGRESP are handled meanwhile; while the connection is not read, none
 * counts as missing, and each is judged a pkt_timeout after reading resumes at the earliest. */
#ifndef MODEMSIM_MQTT_CLIENT_H
#define MODEMSIM_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "mqtt/codec.h"

struct net_conn;
struct net_host;
struct tls_config;

/* Array bounds; a model's real limits come from its profile (struct mqtt_limits). */
#define MQTT_CLIENTS_MAX 6
#define MQTT_PENDING_MAX 16 /* packets awaiting an acknowledgement, per client */
#define MQTT_TOPIC_MAX 255 /* reference §6c: topic max 255 B */
#define MQTT_HOST_MAX 100 /* M95 MQTT AN 3.2.2: host name at most 100 bytes */
/* The longest will topic a dialect sets (SIMCom AT+CMQTTWILLTOPIC: 1-1024 bytes). */
#define MQTT_WILL_TOPIC_MAX 1024
#define MQTT_RX_PACKET_MAX (1024 * 1024) /* receive limit when the profile gives none */
/* Bytes of refused PUBLISHes (the owner could not take them yet) that wait in the client; with
 * more, the connection is not read and TCP pushes back on the broker. */
#define MQTT_RX_HOLD_MAX (64 * 1024)

/* What a model allows (profile data). */
struct mqtt_limits {
	int clients; /* client_idx 0 .. clients-1 */
	int inflight_max; /* outgoing QoS 1/2 publishes unacknowledged; 0: no window */
	size_t payload_max; /* bytes of one PUBLISH payload the host may send */
	size_t topic_max;
	/* The largest packet taken from the broker, by its remaining length (0:
	 * MQTT_RX_PACKET_MAX); a larger one ends the connection (ops->lost(MQTT_LOSS_PROTOCOL)),
	 * never a silent drop. */
	size_t rx_packet_max;
};

/* The protocol settings of one client (the dialect keeps its own beside them). */
struct mqtt_cfg {
	int version; /* MQTT_PROTO_V31 (3) or MQTT_PROTO_V311 (4) */
	int keepalive; /* seconds, 0: none */
	int clean; /* 1: clean session */
	int pkt_timeout; /* seconds */
	int retry_times;
	int will_fg;
	int will_qos;
	int will_retain;
	char will_topic[MQTT_WILL_TOPIC_MAX + 1];
	struct buf will_msg;
};

enum mqtt_state {
	MQTT_S_IDLE, /* no network */
	MQTT_S_OPENING, /* resolving, connecting, handshaking */
	MQTT_S_OPEN, /* network open, MQTT not connected */
	MQTT_S_CONNECTING, /* CONNECT sent */
	MQTT_S_CONNECTED,
	MQTT_S_DISCONNECTING, /* DISCONNECT sent */
};

/* Why a session's network ended (ops->lost). */
enum mqtt_loss {
	MQTT_LOSS_PEER, /* the broker closed or reset it, or the network failed */
	MQTT_LOSS_PROTOCOL, /* the broker sent something malformed or too large */
	MQTT_LOSS_PING, /* no PINGRESP within pkt_timeout */
	MQTT_LOSS_CONNACK, /* no CONNACK within pkt_timeout */
	MQTT_LOSS_RETRIES, /* a packet unacknowledged after retry_times retransmissions */
	MQTT_LOSS_DISCONNECTED, /* the normal end after DISCONNECT */
	MQTT_LOSS_DROPPED, /* the owner dropped it (mqtt_client_drop with a reason) */
};

/* One outgoing packet waiting for its acknowledgement. */
struct mqtt_pending {
	bool used;
	uint8_t type; /* MQTT_PUBLISH (QoS 1/2), MQTT_PUBREL, MQTT_SUBSCRIBE, MQTT_UNSUBSCRIBE */
	uint16_t msgid;
	int qos;
	int tag; /* the owner's, given with the publish (Quectel: +QMTPUBEX or +QMTPUB) */
	int retries;
	uint64_t due; /* retransmission deadline (loop ms) */
	struct buf packet; /* bytes to send again (with DUP set where the spec allows) */
};

/* Faults of the broker's side (scenario/fault.c), armed per modem; they survive a reboot, as
 * the broker does. client -1: whichever client meets it first. */
struct mqtt_fault_one {
	bool armed;
	int client;
	int value; /* a CONNACK or SUBACK code, or how many acks / publishes are left */
};

struct mqtt_faults {
	struct mqtt_fault_one connack; /* the next CONNACK carries value */
	struct mqtt_fault_one suback; /* the next SUBACK grants value */
	struct mqtt_fault_one noack; /* the next value PUBACK/PUBCOMP never arrive */
	struct mqtt_fault_one close_after; /* the broker closes after value more PUBLISHes */
};

struct mqtt_client;

struct mqtt_client_ops {
	void (*state)(struct mqtt_client *c, enum mqtt_state old, enum mqtt_state now);
	/* The open finished: 0, or -NET_ERR_* with a cause (the client is idle again). */
	void (*opened)(struct mqtt_client *c, int status, const char *cause);
	/* CONNACK arrived with this return code (0: connected; else the session is open). */
	void (*connack)(struct mqtt_client *c, unsigned rc);
	void (*suback)(struct mqtt_client *c, uint16_t id, const uint8_t *granted, size_t n);
	void (*unsuback)(struct mqtt_client *c, uint16_t id);
	/* A QoS 1 PUBLISH's PUBACK or a QoS 2 PUBLISH's PUBCOMP. */
	void (*puback)(struct mqtt_client *c, uint16_t id, int tag);
	/* A packet was sent again (retries: how many times so far). */
	void (*retransmitted)(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t id,
	                      int tag, int retries);
	/* A packet stayed unacknowledged after retry_times retransmissions; lost(RETRIES)
	 * follows. */
	void (*gave_up)(struct mqtt_client *c, enum mqtt_packet_type type, uint16_t id, int tag);
	/* A PUBLISH from the broker (QoS 2: once, however often the broker sends it). Return
	 * false to refuse it for now (see flow control above); pub points into the client's
	 * buffer during the call only. */
	bool (*message)(struct mqtt_client *c, uint16_t id, const struct mqtt_publish *pub);
	void (*ping_failed)(struct mqtt_client *c);
	/* The network is gone (the client is idle again). cause: words for the trace. */
	void (*lost)(struct mqtt_client *c, enum mqtt_loss why, const char *cause);
};

/* What the client needs from its owner; shared by a modem's clients, outlives them. */
struct mqtt_env {
	uv_loop_t *loop;
	struct net_host *net; /* where connections are opened */
	int trace_id; /* the modem number in traces */
	double time_scale; /* protocol timers (pkt_timeout, keepalive) are multiplied by it */
	const struct mqtt_limits *limits;
	struct mqtt_faults *faults; /* broker-side faults (scenario/fault.c); may be NULL */
	const struct mqtt_client_ops *ops;
	void *owner; /* the owner's (the modem), for its ops */
};

struct mqtt_client {
	int idx;
	const struct mqtt_env *env;
	void *user; /* the owner's per-client state */
	enum mqtt_state state;
	struct mqtt_cfg cfg;
	char host[MQTT_HOST_MAX + 1];
	int port;
	struct net_conn *conn;
	struct buf rx; /* unparsed bytes from the broker */
	struct mqtt_pending pend[MQTT_PENDING_MAX];
	int inflight; /* outgoing QoS 1/2 publishes not yet acknowledged */
	/* Incoming QoS 2 ids awaiting PUBREL, one bit per id (8 KiB, allocated with the first
	 * QoS 2 message): every id the broker may use is remembered, so no duplicate is
	 * delivered twice however many are in flight. */
	uint8_t *qos2_in;
	uv_timer_t timer; /* the earliest of the deadlines below and the pendings' */
	bool timer_live;
	uint64_t connack_due, ping_due, pingresp_due, close_due; /* loop ms; 0: none */
	uint64_t last_tx;
	bool paused; /* refused messages fill the hold: the connection is not read */
	bool in_rx, rx_again; /* process_rx is running; it must go round once more */
	uint64_t pub_out, pub_in; /* counters for queries */
};

/* Set up client idx over env (env outlives it). Cannot fail. */
void mqtt_client_init(struct mqtt_client *c, const struct mqtt_env *env, int idx, void *user);
/* Release the connection (RST) and every buffer, and close the timer; the client's memory
 * must stay valid until the loop has run once more (the timer closes asynchronously). */
void mqtt_client_free(struct mqtt_client *c);
/* The protocol defaults (MQTT 3.1.1, keepalive 120 s, clean session, 5 s x 3). */
void mqtt_cfg_defaults(struct mqtt_cfg *cfg);

/* Operations. Each returns 0 (the event follows from the loop) or a negative ERR_* cause:
 * -ERR_STATE (not in a state that allows it), -ERR_BUSY (msgid in flight, window full, no
 * pending slot), -ERR_INVAL (bad arguments), -ERR_NOMEM. */
/* tls NULL: plain TCP; else used during the call only. timeout_ms covers lookup, connect and
 * handshake. */
int mqtt_client_open(struct mqtt_client *c, const char *host, int port,
                     const struct tls_config *tls, uint64_t timeout_ms);
int mqtt_client_connect(struct mqtt_client *c, const char *client_id, const char *user,
                        const char *pass);
int mqtt_client_disconnect(struct mqtt_client *c);
int mqtt_client_subscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics,
                          const int *qos, int n);
int mqtt_client_unsubscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics,
                            int n);
/* The checks a publish will meet, before its payload is taken. -ERR_INVAL: msgid/QoS
 * mismatch; -ERR_BUSY: msgid in flight; -ERR_NOSPC: the in-flight window is full. */
int mqtt_client_publish_check(const struct mqtt_client *c, uint16_t msgid, int qos);
int mqtt_client_publish(struct mqtt_client *c, uint16_t msgid, int qos, int retain,
                        const char *topic, const uint8_t *payload, size_t len, int tag);
/* Drop the network: RST (abort) or a graceful close, no event. A connection being opened is
 * abandoned. */
void mqtt_client_drop(struct mqtt_client *c, bool abort_conn);
/* The same, reporting ops->lost(why, cause) afterwards (a network the modem lost). */
void mqtt_client_lose(struct mqtt_client *c, enum mqtt_loss why, const char *cause);
/* The owner can take messages again: read on. */
void mqtt_client_resume(struct mqtt_client *c);

const char *mqtt_state_name(enum mqtt_state s);
/* Arm a broker-side fault (see struct mqtt_faults); client -1 for any. */
void mqtt_fault_arm(struct mqtt_fault_one *f, int client, int value);

#endif
