/* libFuzzer target for the MQTT codec (sim/mqtt/codec*.c). Built and run like every target
 * (sim/fuzz/CMakeLists.txt, .ci/fuzz); its seeds are the decode vectors
 * (`build/sim/test_mqtt_codec --seeds DIR`, which sim/fuzz/make_corpus.py runs).
 *
 * Input: one control byte (bit 0: protocol level 3 or 4; the rest seeds the split sizes),
 * then a byte stream. The stream is framed in pieces; every frame is decoded, and every
 * decoded packet is encoded again. Properties: no crash or sanitizer report; encoding a
 * decoded packet succeeds, and decoding that gives a packet that encodes to the same bytes;
 * at 3.1.1 with a minimal length encoding the re-encoded bytes are the frame itself. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "mqtt/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int encode_packet(struct buf *out, const struct mqtt_packet *pkt)
{
	struct mqtt_subscription *subs, sub;
	struct mqtt_str *filters;
	size_t pos = 0, n = 0;
	int rc = -ERR_INVAL;

	switch (pkt->type) {
	case MQTT_CONNECT:
		return mqtt_codec_encode_connect(out, &pkt->connect);
	case MQTT_CONNACK:
		return mqtt_codec_encode_connack(out, pkt->connack.session_present,
		                                 pkt->connack.return_code);
	case MQTT_PUBLISH:
		return mqtt_codec_encode_publish(out, &pkt->publish, pkt->packet_id);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		return mqtt_codec_encode_ack(out, pkt->type, pkt->packet_id);
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		subs = calloc(pkt->topics.count, sizeof(*subs));
		filters = calloc(pkt->topics.count, sizeof(*filters));
		if (!subs || !filters)
			abort();
		while (mqtt_codec_topic_list_next(&pkt->topics, &pos, &sub)) {
			subs[n] = sub;
			filters[n++] = sub.filter;
		}
		if (n != pkt->topics.count || pos != pkt->topics.len)
			abort();
		if (pkt->type == MQTT_SUBSCRIBE)
			rc = mqtt_codec_encode_subscribe(out, pkt->packet_id, subs, n);
		else
			rc = mqtt_codec_encode_unsubscribe(out, pkt->packet_id, filters, n);
		free(subs);
		free(filters);
		return rc;
	case MQTT_SUBACK:
		return mqtt_codec_encode_suback(out, pkt->packet_id, pkt->suback.granted,
		                                pkt->suback.count);
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		return mqtt_codec_encode_empty(out, pkt->type);
	}
	return rc;
}

static void check_frame(const uint8_t *frame, size_t len, uint8_t proto)
{
	struct mqtt_packet pkt, again;
	struct mqtt_header h;
	struct buf e1, e2;
	const char *why = NULL;
	uint8_t hdr[5];

	if (mqtt_codec_decode(frame, len, proto, &pkt, &why)) {
		if (!why || !*why)
			abort(); /* every refusal says why */
		return;
	}
	/* The one thing a decoder takes that the encoders refuse: DUP on a QoS 0 PUBLISH from
	 * a 3.1 session. */
	if (pkt.type == MQTT_PUBLISH && pkt.publish.qos == 0)
		pkt.publish.dup = false;
	buf_init(&e1, 0);
	buf_init(&e2, 0);
	if (encode_packet(&e1, &pkt))
		abort();
	if (mqtt_codec_decode(e1.data, e1.len, proto, &again, &why) || encode_packet(&e2, &again))
		abort();
	if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len))
		abort();
	/* 3.1.1 checks every flag, so only a non-minimal length (accepted, see codec.h) or a
	 * 3.1 CONNECT (its reserved bits are ignored) may come back different. */
	if (proto == MQTT_PROTO_V311 &&
	    !(pkt.type == MQTT_CONNECT && pkt.connect.protocol == MQTT_PROTO_V31) &&
	    mqtt_codec_header_parse(frame, len, &h, &why) > 0 &&
	    mqtt_codec_header_put(hdr, h.byte1, h.remaining) == (int)h.header_len &&
	    (e1.len != len || memcmp(e1.data, frame, len)))
		abort();
	buf_free(&e1);
	buf_free(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_framer f;
	uint8_t proto, seed;
	size_t off = 1;

	if (size < 1)
		return 0;
	proto = (data[0] & 1) ? MQTT_PROTO_V31 : MQTT_PROTO_V311;
	seed = data[0] >> 1;
	mqtt_framer_init(&f, 1 << 16);
	while (off < size) {
		size_t chunk = seed ? 1 + (off * seed) % 97 : size - off, used = 0, frame_len;
		const uint8_t *frame;
		int rc;

		if (chunk > size - off)
			chunk = size - off;
		rc = mqtt_framer_feed(&f, data + off, chunk, &used, &frame, &frame_len);
		if (used > chunk)
			abort();
		off += used;
		if (rc < 0) {
			if (!f.reason)
				abort();
			break;
		}
		if (rc == 1)
			check_frame(frame, frame_len, proto);
		else if (used != chunk)
			abort();
	}
	/* The same bytes as one frame, unframed: the decoder must cope with any length. */
	check_frame(data + 1, size - 1, proto);
	mqtt_framer_free(&f);
	return 0;
}
