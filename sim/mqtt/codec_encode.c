/* MQTT encoders: one function per packet type. Each validates everything first, then
 * reserves room for the whole packet and writes it with a walking pointer, so a failure
 * leaves the caller's buffer untouched. See codec.h for what is refused and why. */
#include <string.h>

#include "core/err.h"
#include "mqtt/codec.h"

#define STR_MAX 65535u /* 3.1.1 section 1.5.3: two length bytes */

static void put_u8(uint8_t **p, uint8_t v)
{
	*(*p)++ = v;
}

static void put_u16(uint8_t **p, uint16_t v)
{
	*(*p)++ = (uint8_t)(v >> 8);
	*(*p)++ = (uint8_t)v;
}

static void put_raw(uint8_t **p, const void *data, size_t n)
{
	if (n)
		memcpy(*p, data, n);
	*p += n;
}

/* A length-prefixed field (3.1.1 section 1.5.3 strings and 3.1.3.4 binary data). */
static void put_field(uint8_t **p, const void *data, size_t n)
{
	put_u16(p, (uint16_t)n);
	put_raw(p, data, n);
}

/* 0 if a caller's field can go in a length-prefixed slot. */
static int field_check(const void *ptr, size_t len)
{
	if (!ptr && len)
		return -ERR_INVAL;
	if (len > STR_MAX)
		return -ERR_TOOBIG;
	return 0;
}

/* Reserves the whole packet and writes its fixed header; *p then walks the reserved room. */
static int begin(struct buf *out, uint8_t byte1, size_t remaining, uint8_t **p)
{
	uint8_t hdr[5];
	int n, rc;

	n = mqtt_codec_header_put(hdr, byte1, remaining);
	if (n < 0)
		return n;
	rc = buf_reserve(out, (size_t)n + remaining);
	if (rc)
		return rc;
	*p = out->data + out->len;
	put_raw(p, hdr, (size_t)n);
	return 0;
}

static void finish(struct buf *out, uint8_t *p)
{
	out->len = (size_t)(p - out->data);
	out->data[out->len] = 0; /* struct buf keeps a terminator past len (core/buf.c) */
}

int mqtt_codec_encode_connect(struct buf *out, const struct mqtt_connect *c)
{
	const char *name;
	uint8_t flags = 0;
	size_t rl;
	uint8_t *p;
	int rc = -ERR_INVAL;

	switch (c->protocol) {
	case MQTT_PROTO_V31:
		name = "MQIsdp"; /* MQTT V3.1 section 3.1 */
		break;
	case MQTT_PROTO_V311:
		name = "MQTT"; /* [MQTT-3.1.2-1] */
		break;
	default:
		return -ERR_INVAL;
	}
	/* An empty client id (or, in 3.1, one over 23 bytes) is not refused here: the broker
	 * answers CONNACK 2 ([MQTT-3.1.3-8]; V3.1 section 3.1) and that is what a host sees from
	 * a real module. */
	rc = field_check(c->client_id.ptr, c->client_id.len);
	if (rc)
		return rc;
	rl = 2 + strlen(name) + 1 + 1 + 2 + 2 + c->client_id.len;
	if (c->clean_session)
		flags |= 0x02;
	if (c->will_topic.ptr) {
		if (c->will_qos > 2) /* [MQTT-3.1.2-14] */
			return -ERR_INVAL;
		rc = field_check(c->will_topic.ptr, c->will_topic.len);
		if (!rc)
			rc = field_check(c->will_message.ptr, c->will_message.len);
		if (rc)
			return rc;
		flags |= 0x04 | (uint8_t)(c->will_qos << 3) | (c->will_retain ? 0x20 : 0);
		rl += 2 + c->will_topic.len + 2 + c->will_message.len;
	} else if (c->will_qos || c->will_retain || c->will_message.ptr) {
		return -ERR_INVAL; /* [MQTT-3.1.2-13], [MQTT-3.1.2-15]: no will, no will fields */
	}
	if (c->username.ptr) {
		rc = field_check(c->username.ptr, c->username.len);
		if (rc)
			return rc;
		flags |= 0x80;
		rl += 2 + c->username.len;
	}
	if (c->password.ptr) {
		if (!c->username.ptr) /* [MQTT-3.1.2-22] */
			return -ERR_INVAL;
		rc = field_check(c->password.ptr, c->password.len);
		if (rc)
			return rc;
		flags |= 0x40;
		rl += 2 + c->password.len;
	}
	rc = begin(out, MQTT_CONNECT << 4, rl, &p);
	if (rc)
		return rc;
	put_field(&p, name, strlen(name));
	put_u8(&p, c->protocol);
	put_u8(&p, flags);
	put_u16(&p, c->keepalive);
	put_field(&p, c->client_id.ptr, c->client_id.len);
	if (c->will_topic.ptr) {
		put_field(&p, c->will_topic.ptr, c->will_topic.len);
		put_field(&p, c->will_message.ptr, c->will_message.len);
	}
	if (c->username.ptr)
		put_field(&p, c->username.ptr, c->username.len);
	if (c->password.ptr)
		put_field(&p, c->password.ptr, c->password.len);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_connack(struct buf *out, bool session_present, uint8_t return_code)
{
	uint8_t *p;
	int rc = -ERR_INVAL;

	if (session_present && return_code) /* [MQTT-3.2.2-4] */
		return -ERR_INVAL;
	rc = begin(out, MQTT_CONNACK << 4, 2, &p);
	if (rc)
		return rc;
	put_u8(&p, session_present ? 1 : 0);
	put_u8(&p, return_code);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_publish(struct buf *out, const struct mqtt_publish *m, uint16_t packet_id)
{
	uint8_t byte1, *p;
	size_t rl;
	int rc = -ERR_INVAL;

	if (m->qos > 2)
		return -ERR_INVAL;
	/* [MQTT-2.3.1-1] an id for QoS 1 and 2; [MQTT-2.3.1-5] none for QoS 0, so a non-zero
	 * id there is a caller's mix-up; [MQTT-3.3.1-2] no DUP on QoS 0. */
	if ((m->qos > 0) != (packet_id != 0))
		return -ERR_INVAL;
	if (m->qos == 0 && m->dup)
		return -ERR_INVAL;
	rc = field_check(m->topic.ptr, m->topic.len);
	if (rc)
		return rc;
	if (!m->payload.ptr && m->payload.len)
		return -ERR_INVAL;
	/* Checked before the sum so that the sum cannot wrap. */
	if (m->payload.len > MQTT_MAX_REMAINING)
		return -ERR_TOOBIG;
	rl = 2 + m->topic.len + (m->qos ? 2 : 0) + m->payload.len;
	byte1 = (uint8_t)(MQTT_PUBLISH << 4 | (m->dup ? 0x08 : 0) | m->qos << 1 |
	                  (m->retain ? 0x01 : 0));
	rc = begin(out, byte1, rl, &p);
	if (rc)
		return rc;
	put_field(&p, m->topic.ptr, m->topic.len);
	if (m->qos)
		put_u16(&p, packet_id);
	put_raw(&p, m->payload.ptr, m->payload.len);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_ack(struct buf *out, enum mqtt_packet_type type, uint16_t packet_id)
{
	uint8_t byte1, *p;
	int rc = -ERR_INVAL;

	if ((unsigned)type < MQTT_CONNECT || (unsigned)type > MQTT_DISCONNECT || packet_id == 0)
		return -ERR_INVAL;
	byte1 = (uint8_t)(type << 4);
	switch (type) {
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		break;
	case MQTT_PUBREL:
		byte1 |= 0x02; /* [MQTT-3.6.1-1]; 3.1 calls it QoS 1 */
		break;
	case MQTT_CONNECT:
	case MQTT_CONNACK:
	case MQTT_PUBLISH:
	case MQTT_SUBSCRIBE:
	case MQTT_SUBACK:
	case MQTT_UNSUBSCRIBE:
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		return -ERR_INVAL;
	}
	rc = begin(out, byte1, 2, &p);
	if (rc)
		return rc;
	put_u16(&p, packet_id);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_subscribe(struct buf *out, uint16_t packet_id,
                                const struct mqtt_subscription *subs, size_t n)
{
	size_t rl = 2, i;
	uint8_t *p;
	int rc = -ERR_INVAL;

	if (packet_id == 0 || n == 0 || !subs) /* [MQTT-2.3.1-1], [MQTT-3.8.3-3] */
		return -ERR_INVAL;
	for (i = 0; i < n; i++) {
		if (subs[i].qos > 2)
			return -ERR_INVAL;
		rc = field_check(subs[i].filter.ptr, subs[i].filter.len);
		if (rc)
			return rc;
		rl += 2 + subs[i].filter.len + 1;
		if (rl > MQTT_MAX_REMAINING)
			return -ERR_TOOBIG;
	}
	rc = begin(out, MQTT_SUBSCRIBE << 4 | 0x02, rl, &p); /* [MQTT-3.8.1-1] */
	if (rc)
		return rc;
	put_u16(&p, packet_id);
	for (i = 0; i < n; i++) {
		put_field(&p, subs[i].filter.ptr, subs[i].filter.len);
		put_u8(&p, subs[i].qos);
	}
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_suback(struct buf *out, uint16_t packet_id, const uint8_t *granted, size_t n)
{
	uint8_t *p;
	size_t i;
	int rc = -ERR_INVAL;

	if (packet_id == 0 || n == 0 || !granted)
		return -ERR_INVAL;
	if (n > MQTT_MAX_REMAINING - 2)
		return -ERR_TOOBIG;
	for (i = 0; i < n; i++)
		if (granted[i] > 2 && granted[i] != MQTT_SUBACK_FAILURE) /* [MQTT-3.9.3-2] */
			return -ERR_INVAL;
	rc = begin(out, MQTT_SUBACK << 4, 2 + n, &p);
	if (rc)
		return rc;
	put_u16(&p, packet_id);
	put_raw(&p, granted, n);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_unsubscribe(struct buf *out, uint16_t packet_id,
                                  const struct mqtt_str *filters, size_t n)
{
	size_t rl = 2, i;
	uint8_t *p;
	int rc = -ERR_INVAL;

	if (packet_id == 0 || n == 0 || !filters) /* [MQTT-2.3.1-1], [MQTT-3.10.3-2] */
		return -ERR_INVAL;
	for (i = 0; i < n; i++) {
		rc = field_check(filters[i].ptr, filters[i].len);
		if (rc)
			return rc;
		rl += 2 + filters[i].len;
		if (rl > MQTT_MAX_REMAINING)
			return -ERR_TOOBIG;
	}
	rc = begin(out, MQTT_UNSUBSCRIBE << 4 | 0x02, rl, &p); /* [MQTT-3.10.1-1] */
	if (rc)
		return rc;
	put_u16(&p, packet_id);
	for (i = 0; i < n; i++)
		put_field(&p, filters[i].ptr, filters[i].len);
	finish(out, p);
	return 0;
}

int mqtt_codec_encode_empty(struct buf *out, enum mqtt_packet_type type)
{
	uint8_t *p;
	int rc = -ERR_INVAL;

	if ((unsigned)type < MQTT_CONNECT || (unsigned)type > MQTT_DISCONNECT)
		return -ERR_INVAL;
	switch (type) {
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		break;
	case MQTT_CONNECT:
	case MQTT_CONNACK:
	case MQTT_PUBLISH:
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_SUBSCRIBE:
	case MQTT_SUBACK:
	case MQTT_UNSUBSCRIBE:
	case MQTT_UNSUBACK:
		return -ERR_INVAL;
	}
	rc = begin(out, (uint8_t)(type << 4), 0, &p);
	if (rc)
		return rc;
	finish(out, p);
	return 0;
}
