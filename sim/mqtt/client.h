/* The modem's MQTT clients (AT+QMT*): six per modem, each a real MQTT 3.1 / 3.1.1 session
 * over a real TCP or TLS connection (net/conn.h) to a real broker.
 *
 * Wire sequence and URCs (reference §6; M95 MQTT AN; host-drivers.md):
 *
 *   AT+QMTOPEN  -> OK   TCP (+TLS) connect                +QMTOPEN: <id>,<result>
 *   AT+QMTCONN  -> OK   ==> CONNECT     <== CONNACK        +QMTCONN: <id>,0,<ret_code>
 *   AT+QMTSUB   -> OK   ==> SUBSCRIBE   <== SUBACK         +QMTSUB: <id>,<msgid>,0,<qos>[,...]
 *   AT+QMTPUB   -> > .. ==> PUBLISH     <== PUBACK/PUBCOMP +QMTPUB: <id>,<msgid>,0
 *                       <== PUBLISH     ==> PUBACK ...     +QMTRECV: ...
 *   AT+QMTDISC  -> OK   ==> DISCONNECT  (server closes)    +QMTDISC: <id>,0  +QMTSTAT: <id>,5
 *   peer close / reset                                     +QMTSTAT: <id>,1
 *   PINGREQ unanswered                                     +QMTPING: <id>,1  +QMTSTAT: <id>,2
 *
 * A success URC is only ever emitted after the broker's answer arrived. */
#ifndef MODEMSIM_MQTT_CLIENT_H
#define MODEMSIM_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct modem;
struct net_conn;
struct modem_timer;

#define MQTT_CLIENTS 6
#define MQTT_INFLIGHT_MAX 5 /* M95 MQTT AN 3.2.8 note 1: in-flight window is 5 */
#define MQTT_RECV_SLOTS 5 /* recv/mode 1: buffers 0-4 */
#define MQTT_TOPIC_MAX 255 /* reference §6c: topic max 255 B */
#define MQTT_HOST_MAX 100 /* M95 MQTT AN 3.2.2: host name at most 100 bytes */
#define MQTT_PAYLOAD_MAX 1548 /* reference §6c: EC2x and M95 "(1-1548)" */

struct mqtt_cfg {
	int version; /* 3: MQTT 3.1 (MQIsdp), 4: MQTT 3.1.1 */
	int pdpcid;
	int ssl_enable;
	int ssl_ctx;
	int keepalive; /* seconds, 0: none */
	int clean; /* 1: clean session */
	int pkt_timeout; /* seconds */
	int retry_times;
	int timeout_notice;
	int will_fg;
	int will_qos;
	int will_retain;
	char will_topic[MQTT_TOPIC_MAX + 1];
	struct buf will_msg;
	int recv_mode; /* 0: payload in the URC, 1: buffered */
	int recv_len; /* 1: URC carries the payload length */
	char ali_key[64]; /* aliauth: kept and reported only */
	char ali_name[64];
	char ali_secret[128];
};

enum mqtt_state {
	MQTT_S_IDLE, /* no network */
	MQTT_S_OPENING, /* AT+QMTOPEN: resolving, connecting, handshaking */
	MQTT_S_OPEN, /* network open, MQTT "initial" (QMTCONN? state 1) */
	MQTT_S_CONNECTING, /* CONNECT sent (state 2) */
	MQTT_S_CONNECTED, /* state 3 */
	MQTT_S_DISCONNECTING, /* DISCONNECT sent (state 4) */
};

/* One outgoing packet waiting for its acknowledgement. */
struct mqtt_pending {
	bool used;
	uint8_t type; /* MQTT_PUBLISH (QoS 1/2), MQTT_PUBREL, MQTT_SUBSCRIBE, MQTT_UNSUBSCRIBE */
	uint16_t msgid;
	int qos;
	bool ex; /* reported as +QMTPUBEX */
	int retries;
	uint64_t sent_at;
	struct buf packet; /* bytes to send again (with DUP set where the spec allows) */
	struct modem_timer *timer;
};

struct mqtt_recv_slot {
	bool used;
	uint16_t msgid;
	struct buf topic;
	struct buf payload;
};

struct mqtt_client {
	int idx;
	struct modem *m;
	enum mqtt_state state;
	struct mqtt_cfg cfg;
	char host[MQTT_HOST_MAX + 1];
	int port;
	struct net_conn *conn;
	struct buf rx; /* unparsed bytes from the broker */
	uint64_t cmd_at; /* when the pending command was answered OK, for realistic latency */
	uint64_t urc_due; /* result URCs go out in order: none before this time */
	int urc_queued; /* URCs scheduled and not yet emitted */
	struct mqtt_pending pend[16];
	int inflight; /* outgoing QoS 1/2 publishes not yet acknowledged */
	uint16_t qos2_in[32]; /* incoming QoS 2 ids awaiting PUBREL (deduplication) */
	int nqos2_in;
	struct mqtt_recv_slot slots[MQTT_RECV_SLOTS];
	struct modem_timer *conn_timer; /* CONNACK timeout */
	struct modem_timer *ping_timer; /* keepalive */
	struct modem_timer *pingresp_timer;
	struct modem_timer *close_timer;
	uint64_t last_tx;
	bool paused; /* receive slots full: socket reading stopped */
	/* counters for queries */
	uint64_t pub_out, pub_in;
};

/* The publish whose payload the host is typing (one AT command runs at a time). */
struct mqtt_pub_req {
	struct mqtt_client *c;
	uint16_t msgid;
	int qos;
	int retain;
	bool ex;
	bool fixed;
	char topic[MQTT_TOPIC_MAX + 1];
	struct buf payload;
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

struct mqtt_state_all {
	struct mqtt_client c[MQTT_CLIENTS];
	struct mqtt_pub_req pub;
	struct mqtt_faults fault;
};

void mqtt_init(struct modem *m);

/* Operations behind the AT commands. They return 0 when the command answers OK (the result
 * URC follows), or an AT result (AT_ERROR, a CME code) when it fails at once. */
int mqtt_open(struct mqtt_client *c, const char *host, int port);
int mqtt_close(struct mqtt_client *c);
int mqtt_connect(struct mqtt_client *c, const char *client_id, const char *user, const char *pass);
int mqtt_disconnect(struct mqtt_client *c);
int mqtt_subscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics, const int *qos,
                   int n);
int mqtt_unsubscribe(struct mqtt_client *c, uint16_t msgid, const char *const *topics, int n);
/* Checks before the payload is taken (state, msgid rules, in-flight window). */
int mqtt_publish_check(struct mqtt_client *c, uint16_t msgid, int qos);
int mqtt_publish(struct mqtt_client *c, uint16_t msgid, int qos, int retain, const char *topic,
                 const uint8_t *payload, size_t len, bool ex);
/* AT+QMTRECV=<id>[,<recv_id>]: print stored messages and free their slots. */
int mqtt_recv_read(struct mqtt_client *c, int recv_id);
/* QMTCONN? state number (1-4), 0 when the client has no network. */
int mqtt_conn_state(const struct mqtt_client *c);
void mqtt_cfg_defaults(struct modem *m, struct mqtt_cfg *cfg);
/* Reboot or network loss: close every client without URCs (reboot) or with
 * +QMTSTAT: <id>,<code> (code > 0). */
void mqtt_drop_all(struct modem *m, int qmtstat_code);
void mqtt_free(struct modem *m);
/* A PDP context went down (network drop or AT+QIDEACT): its clients lose their connection
 * with +QMTSTAT: <id>,1 (the socket is gone, as a reset by the peer; no source names the
 * code). The M95 has one context: cid is 1 and every client is on it. */
void mqtt_pdp_down(struct modem *m, int cid, bool by_network);

/* Arm a broker-side fault (see struct mqtt_faults); client -1 for any. */
void mqtt_fault_connack(struct modem *m, int client, int code);
void mqtt_fault_suback(struct modem *m, int client, int code);
void mqtt_fault_noack(struct modem *m, int client, int count);
void mqtt_fault_close_after(struct modem *m, int client, int publishes);

#endif
