/* MQTT codec: what encoder and decoder share (fixed header, string checks) and the framer.
 * See codec.h for the contract and the sources. */
#include "mqtt/codec.h"

#include <string.h>

#include "core/err.h"

static const char *const type_names[16] = {
        [MQTT_CONNECT] = "CONNECT",   [MQTT_CONNACK] = "CONNACK",
        [MQTT_PUBLISH] = "PUBLISH",   [MQTT_PUBACK] = "PUBACK",
        [MQTT_PUBREC] = "PUBREC",     [MQTT_PUBREL] = "PUBREL",
        [MQTT_PUBCOMP] = "PUBCOMP",   [MQTT_SUBSCRIBE] = "SUBSCRIBE",
        [MQTT_SUBACK] = "SUBACK",     [MQTT_UNSUBSCRIBE] = "UNSUBSCRIBE",
        [MQTT_UNSUBACK] = "UNSUBACK", [MQTT_PINGREQ] = "PINGREQ",
        [MQTT_PINGRESP] = "PINGRESP", [MQTT_DISCONNECT] = "DISCONNECT",
};

const char *mqtt_codec_type_name(enum mqtt_packet_type type)
{
	unsigned t = (unsigned)type;

	if (t < 16 && type_names[t])
		return type_names[t];
	return "RESERVED";
}

int mqtt_codec_header_parse(const uint8_t *p, size_t len, struct mqtt_header *h,
                            const char **reason)
{
	uint32_t value = 0;
	size_t i;

	if (len < 2)
		return 0;
	/* 3.1.1 section 2.2.3: up to four bytes, 7 bits each, least significant first; a
	 * continuation bit on the fourth is malformed. */
	for (i = 0; i < 4; i++) {
		if (1 + i >= len)
			return 0;
		value |= (uint32_t)(p[1 + i] & 0x7f) << (7 * i);
		if (!(p[1 + i] & 0x80)) {
			h->byte1 = p[0];
			h->remaining = value;
			h->header_len = 2 + i;
			return (int)h->header_len;
		}
	}
	*reason = "remaining length longer than 4 bytes (2.2.3)";
	return -ERR_SYNTAX;
}

int mqtt_codec_header_put(uint8_t out[5], uint8_t byte1, size_t remaining)
{
	size_t n = 1;

	if (remaining > MQTT_MAX_REMAINING)
		return -ERR_TOOBIG;
	out[0] = byte1;
	do {
		uint8_t b = remaining & 0x7f;

		remaining >>= 7;
		if (remaining)
			b |= 0x80;
		out[n++] = b;
	} while (remaining);
	return (int)n;
}

int mqtt_codec_check_utf8(const char *s, size_t len, const char **reason)
{
	const uint8_t *p = (const uint8_t *)s;
	const uint8_t *end = p + len;

	/* Only what the spec forbids with MUST: ill-formed UTF-8, surrogates and U+0000
	 * ([MQTT-1.5.3-1], [MQTT-1.5.3-2]). Control characters are only SHOULD NOT (1.5.3). */
	while (p < end) {
		uint32_t cp, min;
		size_t n, i;

		if (*p == 0) {
			*reason = "[MQTT-1.5.3-2] U+0000 in a string";
			return -ERR_SYNTAX;
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			n = 2;
			cp = *p & 0x1f;
			min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 3;
			cp = *p & 0x0f;
			min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 4;
			cp = *p & 0x07;
			min = 0x10000;
		} else {
			*reason = "[MQTT-1.5.3-1] ill-formed UTF-8";
			return -ERR_SYNTAX;
		}
		if ((size_t)(end - p) < n) {
			*reason = "[MQTT-1.5.3-1] ill-formed UTF-8";
			return -ERR_SYNTAX;
		}
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				*reason = "[MQTT-1.5.3-1] ill-formed UTF-8";
				return -ERR_SYNTAX;
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff) {
			*reason = "[MQTT-1.5.3-1] ill-formed UTF-8";
			return -ERR_SYNTAX;
		}
		if (cp >= 0xd800 && cp <= 0xdfff) {
			*reason = "[MQTT-1.5.3-1] UTF-16 surrogate in a string";
			return -ERR_SYNTAX;
		}
		p += n;
	}
	return 0;
}

int mqtt_codec_check_topic_name(const char *s, size_t len, const char **reason)
{
	if (len == 0) {
		*reason = "[MQTT-4.7.3-1] empty topic name";
		return -ERR_SYNTAX;
	}
	if (memchr(s, '+', len) || memchr(s, '#', len)) {
		*reason = "[MQTT-3.3.2-2] wildcard in a topic name";
		return -ERR_SYNTAX;
	}
	return mqtt_codec_check_utf8(s, len, reason);
}

int mqtt_codec_check_topic_filter(const char *s, size_t len, const char **reason)
{
	size_t i;

	if (len == 0) {
		*reason = "[MQTT-4.7.3-1] empty topic filter";
		return -ERR_SYNTAX;
	}
	for (i = 0; i < len; i++) {
		bool level_start = i == 0 || s[i - 1] == '/';
		bool level_end = i + 1 == len || s[i + 1] == '/';

		if (s[i] == '#' && (!level_start || i + 1 != len)) {
			*reason = "[MQTT-4.7.1-2] '#' not alone as the last level";
			return -ERR_SYNTAX;
		}
		if (s[i] == '+' && (!level_start || !level_end)) {
			*reason = "[MQTT-4.7.1-3] '+' not alone in its level";
			return -ERR_SYNTAX;
		}
	}
	return mqtt_codec_check_utf8(s, len, reason);
}

void mqtt_framer_init(struct mqtt_framer *f, size_t max_packet)
{
	buf_init(&f->frame, 0);
	f->max_packet = max_packet && max_packet < MQTT_MAX_PACKET ? max_packet : MQTT_MAX_PACKET;
	f->need = 0;
	f->delivered = false;
	f->error = 0;
	f->reason = NULL;
}

void mqtt_framer_free(struct mqtt_framer *f)
{
	buf_free(&f->frame);
}

void mqtt_framer_reset(struct mqtt_framer *f)
{
	buf_reset(&f->frame);
	f->need = 0;
	f->delivered = false;
	f->error = 0;
	f->reason = NULL;
}

static int framer_fail(struct mqtt_framer *f, int status, const char *reason)
{
	f->error = status;
	f->reason = reason;
	return status;
}

int mqtt_framer_feed(struct mqtt_framer *f, const uint8_t *data, size_t len, size_t *used,
                     const uint8_t **frame, size_t *frame_len)
{
	size_t pos = 0, take;
	int rc = -ERR_STATE;

	*used = 0;
	if (f->error)
		return f->error;
	if (f->delivered) {
		buf_reset(&f->frame);
		f->need = 0;
		f->delivered = false;
	}
	/* The header arrives a byte at a time so that a split anywhere inside it is fine. */
	while (!f->need) {
		struct mqtt_header h;
		const char *why = NULL;

		if (pos == len) {
			*used = pos;
			return 0;
		}
		rc = buf_putc(&f->frame, data[pos++]);
		if (rc) {
			*used = pos;
			return framer_fail(f, rc, "out of memory");
		}
		rc = mqtt_codec_header_parse(f->frame.data, f->frame.len, &h, &why);
		if (rc < 0) {
			*used = pos;
			return framer_fail(f, rc, why);
		}
		if (rc == 0)
			continue;
		if (h.header_len + h.remaining > f->max_packet) {
			*used = pos;
			return framer_fail(f, -ERR_TOOBIG, "packet over the maximum packet size");
		}
		f->need = h.header_len + h.remaining;
	}
	/* The buffer grows with the bytes that arrive, never to the announced size up front. */
	take = f->need - f->frame.len;
	if (take > len - pos)
		take = len - pos;
	rc = buf_append(&f->frame, data + pos, take);
	if (rc) {
		*used = pos;
		return framer_fail(f, rc, "out of memory");
	}
	pos += take;
	*used = pos;
	if (f->frame.len < f->need)
		return 0;
	f->delivered = true;
	*frame = f->frame.data;
	*frame_len = f->frame.len;
	return 1;
}
