/* MQTT 3.1 and 3.1.1 packet codec: pure (no I/O, no clock).
 *
 * Encoders append one whole packet to a caller's struct buf, or nothing: on error the buffer
 * is left as it was. They refuse what cannot be put on the wire or breaks a packet's form
 * (-ERR_INVAL: QoS > 2, packet id 0 where one is required, inconsistent flags, empty
 * SUBSCRIBE; -ERR_TOOBIG: a string over 65535 bytes, remaining length over 268435455 or over
 * the buffer's limit). They do not judge string content (UTF-8, wildcards, empty topics): a
 * real module passes the host's text through and the broker's reaction is what the host
 * sees; callers that want to refuse early use mqtt_codec_check_topic_name/_filter.
 *
 * The framer cuts a byte stream, split anywhere, into whole packets. mqtt_codec_decode()
 * then parses one packet into a struct mqtt_packet whose strings and payload point into the
 * frame (no allocation, no copy). Every protocol violation is -ERR_SYNTAX with a static
 * reason naming the spec clause where there is one ("[MQTT-3.3.1-4] PUBLISH QoS 3").
 *
 * Sources: OASIS MQTT 3.1.1 (2014, clause numbers [MQTT-x.y.z-n]); IBM MQTT V3.1 protocol
 * specification (2010); Mosquitto 2.0 lib/ and src/handle_*.c for what a broker enforces.
 */
#ifndef MODEMSIM_MQTT_CODEC_H
#define MODEMSIM_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum mqtt_packet_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

/* Protocol levels: 3 is MQTT 3.1 ("MQIsdp"), 4 is MQTT 3.1.1 ("MQTT"). */
#define MQTT_PROTO_V31 3
#define MQTT_PROTO_V311 4

/* 3.1.1 section 2.2.3: four length bytes of 7 bits each. */
#define MQTT_MAX_REMAINING 268435455u
/* The largest packet: one type byte, four length bytes, the maximum remaining length. */
#define MQTT_MAX_PACKET (1u + 4u + MQTT_MAX_REMAINING)
/* SUBACK return code for a refused filter (3.1.1 only; accepted from 3.1 brokers too). */
#define MQTT_SUBACK_FAILURE 0x80

/* CONNACK return codes, 3.1.1 table 3.1 (3.1 has the same six). */
enum mqtt_connack_rc {
	MQTT_CONNACK_ACCEPTED = 0,
	MQTT_CONNACK_BAD_PROTOCOL = 1,
	MQTT_CONNACK_ID_REJECTED = 2,
	MQTT_CONNACK_UNAVAILABLE = 3,
	MQTT_CONNACK_BAD_AUTH = 4,
	MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

/* A length-counted string, not NUL-terminated. For optional fields ptr == NULL means absent;
 * {"", 0} is present and empty. */
struct mqtt_str {
	const char *ptr;
	size_t len;
};

/* Length-counted binary data (payload, will message, password). */
struct mqtt_bytes {
	const uint8_t *ptr;
	size_t len;
};

struct mqtt_connect {
	uint8_t protocol; /* MQTT_PROTO_V31 or MQTT_PROTO_V311 */
	bool clean_session;
	uint16_t keepalive; /* seconds */
	struct mqtt_str client_id;
	struct mqtt_str will_topic; /* ptr NULL: no will */
	struct mqtt_bytes will_message; /* ptr NULL with a will: empty message */
	uint8_t will_qos;
	bool will_retain;
	struct mqtt_str username; /* ptr NULL: absent */
	struct mqtt_bytes password; /* ptr NULL: absent; needs a username */
};

struct mqtt_connack {
	bool session_present; /* 3.1.1 only; always false at level 3 */
	uint8_t return_code; /* enum mqtt_connack_rc; 6..255 are passed through */
};

struct mqtt_publish {
	uint8_t qos;
	bool retain;
	bool dup;
	struct mqtt_str topic;
	struct mqtt_bytes payload;
};

struct mqtt_subscription {
	struct mqtt_str filter;
	uint8_t qos; /* requested QoS; 0 for UNSUBSCRIBE */
};

/* The payload of a decoded SUBSCRIBE or UNSUBSCRIBE, already validated; walk it with
 * mqtt_codec_topic_list_next(). */
struct mqtt_topic_list {
	const uint8_t *ptr;
	size_t len;
	size_t count;
	bool with_qos; /* SUBSCRIBE: a QoS byte follows each filter */
};

/* SUBACK return codes, one byte per filter (0, 1, 2 or MQTT_SUBACK_FAILURE), in the frame. */
struct mqtt_suback {
	const uint8_t *granted;
	size_t count;
};

/* One decoded packet. Pointers inside point into the frame given to mqtt_codec_decode() and
 * live as long as it does. */
struct mqtt_packet {
	enum mqtt_packet_type type;
	uint8_t flags; /* low nibble of the first byte, as received */
	uint16_t packet_id; /* 0 for packets that carry none */
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_topic_list topics; /* SUBSCRIBE, UNSUBSCRIBE */
		struct mqtt_suback suback;
	};
};

/* A parsed fixed header. */
struct mqtt_header {
	uint8_t byte1;
	uint32_t remaining;
	size_t header_len; /* 2..5 */
};

/* Stream framer. init cannot fail (max_packet 0 or over MQTT_MAX_PACKET means MQTT_MAX_PACKET);
 * free is safe after init or on a zeroed framer. */
struct mqtt_framer {
	struct buf frame; /* bytes of the packet being assembled */
	size_t max_packet; /* whole-packet limit in bytes, header included */
	size_t need; /* total bytes of the current packet; 0 while its header is partial */
	bool delivered; /* frame holds a packet already handed out; dropped on the next feed */
	int error; /* sticky: once set the stream cannot be resynchronised */
	const char *reason;
};

const char *mqtt_codec_type_name(enum mqtt_packet_type type);

/* Fixed header at p. Returns its length (2..5) with *h filled, 0 if more bytes are needed, or
 * -ERR_SYNTAX (a fifth length byte) with *reason set. Non-minimal length encodings are
 * accepted: 3.1.1 does not forbid them (only MQTT 5 does, [MQTT-1.5.5-1]) and Mosquitto reads
 * them. */
int mqtt_codec_header_parse(const uint8_t *p, size_t len, struct mqtt_header *h,
                            const char **reason);
/* Writes the fixed header for byte1 and remaining into out[5]; returns its length (2..5) or
 * -ERR_TOOBIG past MQTT_MAX_REMAINING. */
int mqtt_codec_header_put(uint8_t out[5], uint8_t byte1, size_t remaining);

int mqtt_codec_encode_connect(struct buf *out, const struct mqtt_connect *c);
int mqtt_codec_encode_connack(struct buf *out, bool session_present, uint8_t return_code);
int mqtt_codec_encode_publish(struct buf *out, const struct mqtt_publish *p, uint16_t packet_id);
/* PUBACK, PUBREC, PUBREL (flags 0x2), PUBCOMP or UNSUBACK: a packet id and nothing else. */
int mqtt_codec_encode_ack(struct buf *out, enum mqtt_packet_type type, uint16_t packet_id);
int mqtt_codec_encode_subscribe(struct buf *out, uint16_t packet_id,
                                const struct mqtt_subscription *subs, size_t n);
int mqtt_codec_encode_suback(struct buf *out, uint16_t packet_id, const uint8_t *granted, size_t n);
int mqtt_codec_encode_unsubscribe(struct buf *out, uint16_t packet_id,
                                  const struct mqtt_str *filters, size_t n);
/* PINGREQ, PINGRESP or DISCONNECT: two bytes. */
int mqtt_codec_encode_empty(struct buf *out, enum mqtt_packet_type type);

/* Parses one whole packet (fixed header included) of len bytes. protocol is the session's
 * level (MQTT_PROTO_V31, or 3.1.1's stricter rules for any other value); a CONNECT carries its
 * own and ignores it. Returns 0, or -ERR_SYNTAX for a protocol violation and -ERR_RANGE for a
 * CONNECT whose protocol level is unknown (a broker answers that with CONNACK 1, [MQTT-3.1.2-2];
 * pkt->connect.protocol then holds the level), with *reason set to static text. */
int mqtt_codec_decode(const uint8_t *frame, size_t len, uint8_t protocol, struct mqtt_packet *pkt,
                      const char **reason);

/* Next entry of a decoded SUBSCRIBE/UNSUBSCRIBE list; *pos starts at 0. Returns false at the
 * end. */
bool mqtt_codec_topic_list_next(const struct mqtt_topic_list *l, size_t *pos,
                                struct mqtt_subscription *out);

/* Content checks the decoder applies and the encoders leave to their callers: 0, or
 * -ERR_SYNTAX with *reason. */
int mqtt_codec_check_utf8(const char *s, size_t len, const char **reason);
int mqtt_codec_check_topic_name(const char *s, size_t len, const char **reason);
int mqtt_codec_check_topic_filter(const char *s, size_t len, const char **reason);

void mqtt_framer_init(struct mqtt_framer *f, size_t max_packet);
void mqtt_framer_free(struct mqtt_framer *f);
/* Forget any partial packet and a sticky error (for a new connection). */
void mqtt_framer_reset(struct mqtt_framer *f);
/* Takes bytes from data until one packet is whole; *used says how many it took. Returns 1 with
 * *frame and *frame_len set to the packet (valid until the next feed, reset or free), 0 when
 * all len bytes were taken and no packet is whole yet, or a negative error, sticky until
 * reset: -ERR_SYNTAX for a malformed remaining length, -ERR_TOOBIG for a packet over
 * max_packet, -ERR_NOMEM; f->reason says why. The framer grows its buffer as bytes arrive, so
 * a header announcing 256 MiB costs nothing until the bytes come. */
int mqtt_framer_feed(struct mqtt_framer *f, const uint8_t *data, size_t len, size_t *used,
                     const uint8_t **frame, size_t *frame_len);

#endif
