/* Quectel's AT+QMT* dialect over the dialect-free MQTT client (mqtt/client.h): the family owns
 * the wording of every result and URC, the receive slots of recv/mode 1, the ordering and
 * realistic latency of result URCs, and the dialect's per-client settings. */
#ifndef MODEMSIM_AT_CMD_MQTT_H
#define MODEMSIM_AT_CMD_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "mqtt/client.h"

/* recv/mode 1: buffers 0-4 (EC2x MQTT AN, AT+QMTRECV) */
#define QMT_RECV_SLOTS 5

struct qmt_slot {
	bool used;
	uint16_t msgid;
	struct buf topic;
	struct buf payload;
};

/* The dialect's settings of one client, beside the protocol's (struct mqtt_cfg). */
struct qmt_client {
	struct mqtt_client *cl;
	int pdpcid;
	int ssl_enable;
	int ssl_ctx;
	int timeout_notice;
	int recv_mode; /* 0: payload in the URC, 1: buffered in slots */
	int recv_len; /* 1: the URC carries the payload length */
	char ali_key[64]; /* aliauth: the CONNECT credentials are derived from these */
	char ali_name[64];
	char ali_secret[128];
	struct qmt_slot slots[QMT_RECV_SLOTS];
	uint64_t cmd_at; /* when the pending command was answered OK, for realistic latency */
	uint64_t urc_due; /* result URCs go out in order: none before this time */
	int urc_queued; /* URCs scheduled and not yet emitted */
};

/* The publish whose payload the host is typing (one AT command runs at a time). */
struct qmt_pub {
	struct qmt_client *q;
	uint16_t msgid;
	int qos;
	int retain;
	bool ex;
	char topic[MQTT_TOPIC_MAX + 1];
	struct buf payload;
};

struct qmt_dialect;

/* The family's state, m->qmt (allocated by the family's init). */
struct qmt_state {
	const struct qmt_dialect *d;
	struct qmt_client q[MQTT_CLIENTS_MAX];
	struct qmt_pub pub;
};

#endif
