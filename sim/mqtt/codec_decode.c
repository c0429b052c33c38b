/* MQTT decoder: one parser per packet type, each walking a reader against the end of the
 * frame. Nothing is copied or allocated: strings and payloads in struct mqtt_packet point into
 * the frame. Every violation returns -ERR_SYNTAX with a static reason (see codec.h). */
#include <string.h>

#include "core/err.h"
#include "mqtt/codec.h"

struct reader {
	const uint8_t *p;
	const uint8_t *end;
};

static size_t rd_left(const struct reader *r)
{
	return (size_t)(r->end - r->p);
}

static bool rd_u8(struct reader *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return false;
	*v = *r->p++;
	return true;
}

static bool rd_u16(struct reader *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return false;
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return true;
}

/* A length-prefixed field; false if either the length or the bytes run past the end. */
static bool rd_field(struct reader *r, const uint8_t **ptr, size_t *len)
{
	uint16_t n;

	if (!rd_u16(r, &n) || rd_left(r) < n)
		return false;
	*ptr = r->p;
	*len = n;
	r->p += n;
	return true;
}

static bool rd_str(struct reader *r, struct mqtt_str *s)
{
	const uint8_t *ptr;

	if (!rd_field(r, &ptr, &s->len))
		return false;
	s->ptr = (const char *)ptr;
	return true;
}

static bool rd_bytes(struct reader *r, struct mqtt_bytes *b)
{
	return rd_field(r, &b->ptr, &b->len);
}

static int fail(const char **reason, const char *why)
{
	*reason = why;
	return -ERR_SYNTAX;
}

/* ==> CONNECT (3.1.1 section 3.1; V3.1 section 3.1) */
static int parse_connect(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                         const char **reason)
{
	struct mqtt_connect *c = &pkt->connect;
	const uint8_t *name;
	size_t name_len;
	uint8_t level, flags;
	int rc = -ERR_SYNTAX;

	(void)protocol; /* the packet states its own */
	if (!rd_field(r, &name, &name_len))
		return fail(reason, "CONNECT truncated protocol name");
	if (!rd_u8(r, &level))
		return fail(reason, "CONNECT truncated protocol level");
	c->protocol = level;
	if (name_len == 4 && !memcmp(name, "MQTT", 4)) {
		if (level != MQTT_PROTO_V311)
			goto unsupported;
	} else if (name_len == 6 && !memcmp(name, "MQIsdp", 6)) {
		if (level != MQTT_PROTO_V31)
			goto unsupported;
	} else {
		return fail(reason, "[MQTT-3.1.2-1] unknown protocol name");
	}
	/* Reserved bits are only checked at 3.1.1, as Mosquitto does (handle_connect.c): V3.1
	 * calls them unused without requiring a value. */
	if (level == MQTT_PROTO_V311 && pkt->flags)
		return fail(reason, "[MQTT-2.2.2-2] CONNECT fixed header flags not 0000");
	if (!rd_u8(r, &flags) || !rd_u16(r, &c->keepalive))
		return fail(reason, "CONNECT truncated variable header");
	if (level == MQTT_PROTO_V311 && (flags & 0x01))
		return fail(reason, "[MQTT-3.1.2-3] CONNECT reserved flag set");
	c->clean_session = flags & 0x02;
	c->will_qos = (flags >> 3) & 0x03;
	c->will_retain = flags & 0x20;
	/* The will and user name rules hold at both levels: V3.1 describes the same flags and
	 * Mosquitto applies them to both. */
	if (!(flags & 0x04) && c->will_qos)
		return fail(reason, "[MQTT-3.1.2-13] will QoS without a will");
	if (!(flags & 0x04) && c->will_retain)
		return fail(reason, "[MQTT-3.1.2-15] will retain without a will");
	if (c->will_qos == 3)
		return fail(reason, "[MQTT-3.1.2-14] will QoS 3");
	if ((flags & 0x40) && !(flags & 0x80))
		return fail(reason, "[MQTT-3.1.2-22] password without a user name");
	/* An empty client id with clean session 0 is not malformed: the broker answers CONNACK
	 * 2 ([MQTT-3.1.3-8]), so it is left to the caller. */
	if (!rd_str(r, &c->client_id))
		return fail(reason, "CONNECT truncated client identifier");
	rc = mqtt_codec_check_utf8(c->client_id.ptr, c->client_id.len, reason);
	if (rc)
		return rc;
	if (flags & 0x04) {
		if (!rd_str(r, &c->will_topic))
			return fail(reason, "CONNECT truncated will topic");
		rc = mqtt_codec_check_topic_name(c->will_topic.ptr, c->will_topic.len, reason);
		if (rc)
			return rc;
		if (!rd_bytes(r, &c->will_message))
			return fail(reason, "CONNECT truncated will message");
	}
	if (flags & 0x80) {
		if (!rd_str(r, &c->username))
			return fail(reason, "CONNECT truncated user name");
		rc = mqtt_codec_check_utf8(c->username.ptr, c->username.len, reason);
		if (rc)
			return rc;
	}
	if ((flags & 0x40) && !rd_bytes(r, &c->password))
		return fail(reason, "CONNECT truncated password");
	if (rd_left(r))
		return fail(reason, "CONNECT bytes after the payload");
	return 0;

unsupported:
	*reason = "[MQTT-3.1.2-2] unsupported protocol level";
	return -ERR_RANGE;
}

/* <== CONNACK (3.1.1 section 3.2) */
static int parse_connack(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                         const char **reason)
{
	uint8_t ack_flags, code;

	if (rd_left(r) != 2 || !rd_u8(r, &ack_flags) || !rd_u8(r, &code))
		return fail(reason, "CONNACK remaining length not 2 (3.2.1)");
	pkt->connack.return_code = code;
	/* V3.1 calls the first byte reserved and unused: ignore it there. Codes 6..255 are
	 * "reserved for future use", not forbidden: passed through for the client to refuse. */
	if (protocol == MQTT_PROTO_V31)
		return 0;
	if (ack_flags & 0xfe)
		return fail(reason, "CONNACK reserved acknowledge flags set (3.2.2.1)");
	pkt->connack.session_present = ack_flags & 0x01;
	if (pkt->connack.session_present && code)
		return fail(reason, "[MQTT-3.2.2-4] session present with a refusal");
	return 0;
}

/* <=> PUBLISH (3.1.1 section 3.3) */
static int parse_publish(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                         const char **reason)
{
	struct mqtt_publish *m = &pkt->publish;
	int rc = -ERR_SYNTAX;

	m->qos = (pkt->flags >> 1) & 0x03;
	m->dup = pkt->flags & 0x08;
	m->retain = pkt->flags & 0x01;
	if (m->qos == 3)
		return fail(reason, "[MQTT-3.3.1-4] PUBLISH QoS 3");
	/* V3.1 only says DUP is meaningless at QoS 0; Mosquitto does not refuse it there. */
	if (protocol != MQTT_PROTO_V31 && m->dup && m->qos == 0)
		return fail(reason, "[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH");
	if (!rd_str(r, &m->topic))
		return fail(reason, "PUBLISH truncated topic name");
	rc = mqtt_codec_check_topic_name(m->topic.ptr, m->topic.len, reason);
	if (rc)
		return rc;
	if (m->qos) {
		if (!rd_u16(r, &pkt->packet_id))
			return fail(reason, "PUBLISH truncated packet identifier");
		if (pkt->packet_id == 0)
			return fail(reason, "[MQTT-2.3.1-1] packet identifier 0");
	}
	m->payload.ptr = r->p; /* the rest, possibly empty (3.3.3) */
	m->payload.len = rd_left(r);
	return 0;
}

/* <=> PUBACK, PUBREC, PUBREL, PUBCOMP; <== UNSUBACK: a packet id and nothing else. */
static int parse_ack(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                     const char **reason)
{
	(void)protocol;
	if (rd_left(r) != 2 || !rd_u16(r, &pkt->packet_id))
		return fail(reason, "acknowledgement remaining length not 2");
	if (pkt->packet_id == 0)
		return fail(reason, "[MQTT-2.3.1-1] packet identifier 0");
	return 0;
}

/* ==> SUBSCRIBE, UNSUBSCRIBE (3.1.1 sections 3.8 and 3.10) */
static int parse_topic_list(struct reader *r, struct mqtt_packet *pkt, bool with_qos,
                            const char **reason)
{
	struct mqtt_topic_list *l = &pkt->topics;
	int rc = -ERR_SYNTAX;

	if (!rd_u16(r, &pkt->packet_id))
		return fail(reason, with_qos ? "SUBSCRIBE truncated packet identifier"
		                             : "UNSUBSCRIBE truncated packet identifier");
	if (pkt->packet_id == 0)
		return fail(reason, "[MQTT-2.3.1-1] packet identifier 0");
	if (!rd_left(r))
		return fail(reason, with_qos
		                            ? "[MQTT-3.8.3-3] SUBSCRIBE without a topic filter"
		                            : "[MQTT-3.10.3-2] UNSUBSCRIBE without a topic filter");
	l->ptr = r->p;
	l->len = rd_left(r);
	l->with_qos = with_qos;
	while (rd_left(r)) {
		struct mqtt_str filter;
		uint8_t qos;

		if (!rd_str(r, &filter))
			return fail(reason, "truncated topic filter");
		rc = mqtt_codec_check_topic_filter(filter.ptr, filter.len, reason);
		if (rc)
			return rc;
		if (with_qos) {
			if (!rd_u8(r, &qos))
				return fail(reason, "SUBSCRIBE truncated requested QoS");
			if (qos > 2)
				return fail(reason,
				            "[MQTT-3.8.3-4] requested QoS byte not 0, 1 or 2");
		}
		l->count++;
	}
	return 0;
}

static int parse_subscribe(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                           const char **reason)
{
	(void)protocol;
	return parse_topic_list(r, pkt, true, reason);
}

static int parse_unsubscribe(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                             const char **reason)
{
	(void)protocol;
	return parse_topic_list(r, pkt, false, reason);
}

/* <== SUBACK (3.1.1 section 3.9) */
static int parse_suback(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                        const char **reason)
{
	size_t i;

	(void)protocol;
	if (!rd_u16(r, &pkt->packet_id))
		return fail(reason, "SUBACK truncated packet identifier");
	if (pkt->packet_id == 0)
		return fail(reason, "[MQTT-2.3.1-1] packet identifier 0");
	if (!rd_left(r))
		return fail(reason, "SUBACK without a return code (3.9.3)");
	pkt->suback.granted = r->p;
	pkt->suback.count = rd_left(r);
	/* 0x80 is 3.1.1's; it is accepted from a 3.1 session too because brokers (Mosquitto
	 * among them) send it to 3.1 clients for a refused filter. */
	for (i = 0; i < pkt->suback.count; i++)
		if (r->p[i] > 2 && r->p[i] != MQTT_SUBACK_FAILURE)
			return fail(reason, "[MQTT-3.9.3-2] SUBACK reserved return code");
	return 0;
}

/* PINGREQ, PINGRESP, DISCONNECT: a fixed header alone. */
static int parse_empty(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
                       const char **reason)
{
	(void)pkt;
	(void)protocol;
	if (rd_left(r))
		return fail(reason, "remaining length not 0");
	return 0;
}

/* Per type: the parser and the fixed-header flags 3.1.1 table 2.2 requires (PUBLISH's are
 * its own; CONNECT checks them once it knows its level). */
static const struct packet_rule {
	int (*parse)(struct reader *r, struct mqtt_packet *pkt, uint8_t protocol,
	             const char **reason);
	bool own_flags;
	uint8_t flags;
	const char *bad_flags;
} rules[16] = {
        [MQTT_CONNECT] = {parse_connect, true, 0, NULL},
        [MQTT_CONNACK] = {parse_connack, false, 0, "[MQTT-2.2.2-2] CONNACK flags not 0000"},
        [MQTT_PUBLISH] = {parse_publish, true, 0, NULL},
        [MQTT_PUBACK] = {parse_ack, false, 0, "[MQTT-2.2.2-2] PUBACK flags not 0000"},
        [MQTT_PUBREC] = {parse_ack, false, 0, "[MQTT-2.2.2-2] PUBREC flags not 0000"},
        [MQTT_PUBREL] = {parse_ack, false, 2, "[MQTT-3.6.1-1] PUBREL flags not 0010"},
        [MQTT_PUBCOMP] = {parse_ack, false, 0, "[MQTT-2.2.2-2] PUBCOMP flags not 0000"},
        [MQTT_SUBSCRIBE] = {parse_subscribe, false, 2, "[MQTT-3.8.1-1] SUBSCRIBE flags not 0010"},
        [MQTT_SUBACK] = {parse_suback, false, 0, "[MQTT-2.2.2-2] SUBACK flags not 0000"},
        [MQTT_UNSUBSCRIBE] = {parse_unsubscribe, false, 2,
                              "[MQTT-3.10.1-1] UNSUBSCRIBE flags not 0010"},
        [MQTT_UNSUBACK] = {parse_ack, false, 0, "[MQTT-2.2.2-2] UNSUBACK flags not 0000"},
        [MQTT_PINGREQ] = {parse_empty, false, 0, "[MQTT-2.2.2-2] PINGREQ flags not 0000"},
        [MQTT_PINGRESP] = {parse_empty, false, 0, "[MQTT-2.2.2-2] PINGRESP flags not 0000"},
        [MQTT_DISCONNECT] = {parse_empty, false, 0, "[MQTT-3.14.1-1] DISCONNECT flags not 0000"},
};

int mqtt_codec_decode(const uint8_t *frame, size_t len, uint8_t protocol, struct mqtt_packet *pkt,
                      const char **reason)
{
	const struct packet_rule *rule;
	struct mqtt_header h;
	struct reader r;
	int rc = -ERR_SYNTAX;

	memset(pkt, 0, sizeof(*pkt));
	rc = mqtt_codec_header_parse(frame, len, &h, reason);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return fail(reason, "truncated fixed header");
	if (len - h.header_len < h.remaining)
		return fail(reason, "truncated packet");
	if (len - h.header_len > h.remaining)
		return fail(reason, "bytes after the end of the packet");
	pkt->type = (enum mqtt_packet_type)(h.byte1 >> 4);
	pkt->flags = h.byte1 & 0x0f;
	rule = &rules[h.byte1 >> 4];
	if (!rule->parse)
		return fail(reason, (h.byte1 >> 4) ? "reserved packet type 15 (2.2.1)"
		                                   : "reserved packet type 0 (2.2.1)");
	/* Mosquitto skips these checks for 3.1 sessions (handle_*.c): V3.1 sets DUP on
	 * retransmitted PUBREL, SUBSCRIBE and UNSUBSCRIBE and leaves the others unused. */
	if (!rule->own_flags && protocol != MQTT_PROTO_V31 && pkt->flags != rule->flags)
		return fail(reason, rule->bad_flags);
	r.p = frame + h.header_len;
	r.end = frame + len;
	return rule->parse(&r, pkt, protocol, reason);
}

bool mqtt_codec_topic_list_next(const struct mqtt_topic_list *l, size_t *pos,
                                struct mqtt_subscription *out)
{
	size_t n, need;

	if (*pos >= l->len || l->len - *pos < 2)
		return false;
	n = (size_t)(l->ptr[*pos] << 8 | l->ptr[*pos + 1]);
	need = 2 + n + (l->with_qos ? 1 : 0);
	if (l->len - *pos < need)
		return false;
	out->filter.ptr = (const char *)l->ptr + *pos + 2;
	out->filter.len = n;
	out->qos = l->with_qos ? l->ptr[*pos + 2 + n] : 0;
	*pos += need;
	return true;
}
