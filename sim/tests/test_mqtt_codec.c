/* MQTT codec tests, driven by the vectors in data/mqtt_*.txt (see each file's header for its
 * syntax). A packet is written as "kind key=value ..."; the test both encodes that text and
 * prints decoded packets in it, so every vector also round-trips bytes -> packet -> text ->
 * bytes. Run from sim/tests (ctest does) or give the data directory as argv[1]. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "mqtt/codec.h"

static int checks, failures;
static const char *row_name = "";

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: [%s] ", __FILE__, __LINE__, row_name);             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static const char *data_dir = "data";

/* ---- Reading the data files ---- */

static const struct {
	const char *name;
	int code;
} err_names[] = {
        {"INVAL", -ERR_INVAL}, {"TOOBIG", -ERR_TOOBIG}, {"SYNTAX", -ERR_SYNTAX},
        {"RANGE", -ERR_RANGE}, {"NOMEM", -ERR_NOMEM},
};

static int err_by_name(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (strlen(err_names[i].name) == len && !memcmp(err_names[i].name, name, len))
			return err_names[i].code;
	fprintf(stderr, "unknown error name %.*s\n", (int)len, name);
	exit(2);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* Splits at '|' outside quotes; returns the number of columns. */
static size_t split_cols(char *line, char **cols, size_t max)
{
	size_t n = 0;
	bool quoted = false;
	char *p, *start = line;

	for (p = line; *p; p++) {
		if (quoted && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		if (*p == '|' && !quoted && n + 1 < max) {
			*p = 0;
			cols[n++] = trim(start);
			start = p + 1;
		}
	}
	cols[n++] = trim(start);
	return n;
}

/* Next whitespace-separated token, quotes kept whole; NULL at the end. */
static char *next_token(char **s)
{
	char *p = *s, *start;
	bool quoted = false;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	start = p;
	for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
		if (quoted && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
	}
	if (*p)
		*p++ = 0;
	*s = p;
	return start;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void die_syntax(const char *what, const char *tok)
{
	fprintf(stderr, "[%s] bad %s in data file: %s\n", row_name, what, tok);
	exit(2);
}

static void append_hex(struct buf *out, const char *s, size_t n)
{
	size_t i;

	if (n % 2)
		die_syntax("hex", s);
	for (i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			die_syntax("hex", s);
		buf_putc(out, (uint8_t)(hi << 4 | lo));
	}
}

/* One value: "text", hex:..., fill:N:XX, or phantom:N (sets *phantom, appends nothing). */
static void parse_value(const char *tok, struct buf *out, size_t *phantom)
{
	if (tok[0] == '"') {
		const char *p = tok + 1;

		while (*p && *p != '"') {
			if (*p == '\\' && p[1] == 'x' && p[2] && p[3]) {
				append_hex(out, p + 2, 2);
				p += 4;
			} else if (*p == '\\' && p[1]) {
				buf_putc(out, (uint8_t)p[1]);
				p += 2;
			} else {
				buf_putc(out, (uint8_t)*p++);
			}
		}
		if (*p != '"' || p[1])
			die_syntax("string", tok);
	} else if (!strncmp(tok, "hex:", 4)) {
		append_hex(out, tok + 4, strlen(tok + 4));
	} else if (!strncmp(tok, "fill:", 5)) {
		char *end;
		unsigned long n = strtoul(tok + 5, &end, 10);
		int hi, lo;

		if (*end != ':' || (hi = hexval(end[1])) < 0 || (lo = hexval(end[2])) < 0 || end[3])
			die_syntax("fill", tok);
		if (buf_reserve(out, n))
			die_syntax("fill size", tok);
		memset(out->data + out->len, hi << 4 | lo, n);
		out->len += n;
	} else if (!strncmp(tok, "phantom:", 8) && phantom) {
		*phantom = (size_t)strtoull(tok + 8, NULL, 10);
	} else {
		die_syntax("value", tok);
	}
}

/* A byte stream: hex pairs (any run length), "text", fill:N:XX; "-" is empty. */
static void parse_stream(char *text, struct buf *out)
{
	char *tok;

	buf_reset(out);
	while ((tok = next_token(&text))) {
		if (!strcmp(tok, "-"))
			continue;
		if (tok[0] == '"' || !strncmp(tok, "fill:", 5))
			parse_value(tok, out, NULL);
		else
			append_hex(out, tok, strlen(tok));
	}
}

/* ---- Packets as text ---- */

#define MAX_LIST 16

struct field {
	bool present;
	struct buf b;
	size_t phantom; /* a length with no bytes behind it */
};

struct spec {
	char kind[16];
	long proto, clean, keepalive, will_qos, will_retain, qos, retain, dup, id;
	long session_present, return_code, type, byte1;
	unsigned long long rl;
	size_t limit;
	struct field client_id, will_topic, will_message, username, password, topic, payload;
	struct field filter[MAX_LIST];
	long fqos[MAX_LIST];
	size_t nfilter, nfqos;
	uint8_t code[MAX_LIST];
	size_t ncode;
	bool noroundtrip;
};

static const uint8_t phantom_bytes[8];

static void spec_free(struct spec *s)
{
	size_t i;

	buf_free(&s->client_id.b);
	buf_free(&s->will_topic.b);
	buf_free(&s->will_message.b);
	buf_free(&s->username.b);
	buf_free(&s->password.b);
	buf_free(&s->topic.b);
	buf_free(&s->payload.b);
	for (i = 0; i < MAX_LIST; i++)
		buf_free(&s->filter[i].b);
}

static void field_set(struct field *f, const char *val)
{
	f->present = true;
	parse_value(val, &f->b, &f->phantom);
}

static long num(const char *val)
{
	char *end;
	long v = strtol(val, &end, 0);

	if (*end || end == val)
		die_syntax("number", val);
	return v;
}

static void spec_parse(const char *text, struct spec *s)
{
	char *copy = strdup(text), *p = copy, *tok;

	memset(s, 0, sizeof(*s));
	tok = next_token(&p);
	if (!tok || strlen(tok) >= sizeof(s->kind))
		die_syntax("packet kind", text);
	strcpy(s->kind, tok);
	while ((tok = next_token(&p))) {
		char *eq = strchr(tok, '='), *val;

		if (!strcmp(tok, "noroundtrip")) {
			s->noroundtrip = true;
			continue;
		}
		if (!eq)
			die_syntax("field", tok);
		*eq = 0;
		val = eq + 1;
		if (!strcmp(tok, "proto"))
			s->proto = num(val);
		else if (!strcmp(tok, "clean"))
			s->clean = num(val);
		else if (!strcmp(tok, "keepalive"))
			s->keepalive = num(val);
		else if (!strcmp(tok, "will_qos"))
			s->will_qos = num(val);
		else if (!strcmp(tok, "will_retain"))
			s->will_retain = num(val);
		else if (!strcmp(tok, "qos") && !strcmp(s->kind, "subscribe")) {
			if (s->nfqos >= MAX_LIST)
				die_syntax("list", text);
			s->fqos[s->nfqos++] = num(val);
		} else if (!strcmp(tok, "qos"))
			s->qos = num(val);
		else if (!strcmp(tok, "retain"))
			s->retain = num(val);
		else if (!strcmp(tok, "dup"))
			s->dup = num(val);
		else if (!strcmp(tok, "id"))
			s->id = num(val);
		else if (!strcmp(tok, "session_present"))
			s->session_present = num(val);
		else if (!strcmp(tok, "return_code"))
			s->return_code = num(val);
		else if (!strcmp(tok, "type"))
			s->type = num(val);
		else if (!strcmp(tok, "byte1"))
			s->byte1 = num(val);
		else if (!strcmp(tok, "rl"))
			s->rl = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "limit"))
			s->limit = (size_t)num(val);
		else if (!strcmp(tok, "flags"))
			s->noroundtrip = true; /* the encoders write canonical flags only */
		else if (!strcmp(tok, "client_id"))
			field_set(&s->client_id, val);
		else if (!strcmp(tok, "will_topic"))
			field_set(&s->will_topic, val);
		else if (!strcmp(tok, "will_message"))
			field_set(&s->will_message, val);
		else if (!strcmp(tok, "username"))
			field_set(&s->username, val);
		else if (!strcmp(tok, "password"))
			field_set(&s->password, val);
		else if (!strcmp(tok, "topic"))
			field_set(&s->topic, val);
		else if (!strcmp(tok, "payload"))
			field_set(&s->payload, val);
		else if (!strcmp(tok, "filter")) {
			if (s->nfilter >= MAX_LIST)
				die_syntax("list", text);
			field_set(&s->filter[s->nfilter++], val);
		} else if (!strcmp(tok, "code")) {
			if (s->ncode >= MAX_LIST)
				die_syntax("list", text);
			s->code[s->ncode++] = (uint8_t)num(val);
		} else {
			die_syntax("field name", tok);
		}
	}
	free(copy);
}

static struct mqtt_str as_str(const struct field *f)
{
	struct mqtt_str s = {NULL, 0};

	if (!f->present)
		return s;
	if (f->phantom) {
		s.ptr = (const char *)phantom_bytes;
		s.len = f->phantom;
	} else {
		s.ptr = f->b.data ? (const char *)f->b.data : "";
		s.len = f->b.len;
	}
	return s;
}

static struct mqtt_bytes as_bytes(const struct field *f)
{
	struct mqtt_str s = as_str(f);
	struct mqtt_bytes b = {(const uint8_t *)s.ptr, s.len};

	return b;
}

static int spec_encode(const struct spec *s, struct buf *out)
{
	if (!strcmp(s->kind, "connect")) {
		struct mqtt_connect c = {
		        .protocol = (uint8_t)s->proto,
		        .clean_session = s->clean,
		        .keepalive = (uint16_t)s->keepalive,
		        .client_id = as_str(&s->client_id),
		        .will_topic = as_str(&s->will_topic),
		        .will_message = as_bytes(&s->will_message),
		        .will_qos = (uint8_t)s->will_qos,
		        .will_retain = s->will_retain,
		        .username = as_str(&s->username),
		        .password = as_bytes(&s->password),
		};

		return mqtt_codec_encode_connect(out, &c);
	}
	if (!strcmp(s->kind, "connack"))
		return mqtt_codec_encode_connack(out, s->session_present, (uint8_t)s->return_code);
	if (!strcmp(s->kind, "publish")) {
		struct mqtt_publish m = {
		        .qos = (uint8_t)s->qos,
		        .retain = s->retain,
		        .dup = s->dup,
		        .topic = as_str(&s->topic),
		        .payload = as_bytes(&s->payload),
		};

		return mqtt_codec_encode_publish(out, &m, (uint16_t)s->id);
	}
	if (!strcmp(s->kind, "puback"))
		return mqtt_codec_encode_ack(out, MQTT_PUBACK, (uint16_t)s->id);
	if (!strcmp(s->kind, "pubrec"))
		return mqtt_codec_encode_ack(out, MQTT_PUBREC, (uint16_t)s->id);
	if (!strcmp(s->kind, "pubrel"))
		return mqtt_codec_encode_ack(out, MQTT_PUBREL, (uint16_t)s->id);
	if (!strcmp(s->kind, "pubcomp"))
		return mqtt_codec_encode_ack(out, MQTT_PUBCOMP, (uint16_t)s->id);
	if (!strcmp(s->kind, "unsuback"))
		return mqtt_codec_encode_ack(out, MQTT_UNSUBACK, (uint16_t)s->id);
	if (!strcmp(s->kind, "ack"))
		return mqtt_codec_encode_ack(out, (enum mqtt_packet_type)s->type, (uint16_t)s->id);
	if (!strcmp(s->kind, "subscribe")) {
		struct mqtt_subscription subs[MAX_LIST];
		size_t i;

		if (s->nfilter != s->nfqos)
			die_syntax("filter/qos pairs", s->kind);
		for (i = 0; i < s->nfilter; i++) {
			subs[i].filter = as_str(&s->filter[i]);
			subs[i].qos = (uint8_t)s->fqos[i];
		}
		return mqtt_codec_encode_subscribe(out, (uint16_t)s->id, s->nfilter ? subs : NULL,
		                                   s->nfilter);
	}
	if (!strcmp(s->kind, "suback"))
		return mqtt_codec_encode_suback(out, (uint16_t)s->id, s->ncode ? s->code : NULL,
		                                s->ncode);
	if (!strcmp(s->kind, "unsubscribe")) {
		struct mqtt_str filters[MAX_LIST];
		size_t i;

		for (i = 0; i < s->nfilter; i++)
			filters[i] = as_str(&s->filter[i]);
		return mqtt_codec_encode_unsubscribe(out, (uint16_t)s->id,
		                                     s->nfilter ? filters : NULL, s->nfilter);
	}
	if (!strcmp(s->kind, "pingreq"))
		return mqtt_codec_encode_empty(out, MQTT_PINGREQ);
	if (!strcmp(s->kind, "pingresp"))
		return mqtt_codec_encode_empty(out, MQTT_PINGRESP);
	if (!strcmp(s->kind, "disconnect"))
		return mqtt_codec_encode_empty(out, MQTT_DISCONNECT);
	if (!strcmp(s->kind, "empty"))
		return mqtt_codec_encode_empty(out, (enum mqtt_packet_type)s->type);
	if (!strcmp(s->kind, "header")) {
		uint8_t hdr[5];
		int n = mqtt_codec_header_put(hdr, (uint8_t)s->byte1, (size_t)s->rl);

		return n < 0 ? n : buf_append(out, hdr, (size_t)n);
	}
	die_syntax("packet kind", s->kind);
	return -ERR_INVAL;
}

static void dump_value(struct buf *out, const char *key, const void *ptr, size_t len, bool text)
{
	const uint8_t *p = ptr;
	bool same = len >= 16, printable = true;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != p[0])
			same = false;
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
			printable = false;
	}
	if (same) {
		buf_printf(out, " %s=fill:%zu:%02x", key, len, p[0]);
	} else if (printable || text) {
		buf_printf(out, " %s=\"", key);
		for (i = 0; i < len; i++) {
			if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
				buf_printf(out, "\\x%02x", p[i]);
			else
				buf_putc(out, p[i]);
		}
		buf_putc(out, '"');
	} else {
		buf_printf(out, " %s=hex:", key);
		for (i = 0; i < len; i++)
			buf_printf(out, "%02x", p[i]);
	}
}

/* The packet in the spec syntax; fields in the order the data files use. */
static void dump_packet(const struct mqtt_packet *pkt, struct buf *out)
{
	uint8_t canonical_flags = 0;
	struct mqtt_subscription sub;
	size_t pos = 0, i;
	const char *name = mqtt_codec_type_name(pkt->type);

	buf_reset(out);
	for (i = 0; name[i]; i++)
		buf_putc(out, (uint8_t)(name[i] | 0x20));
	switch (pkt->type) {
	case MQTT_CONNECT: {
		const struct mqtt_connect *c = &pkt->connect;

		buf_printf(out, " proto=%u clean=%d keepalive=%u", c->protocol, c->clean_session,
		           c->keepalive);
		dump_value(out, "client_id", c->client_id.ptr, c->client_id.len, true);
		if (c->will_topic.ptr) {
			dump_value(out, "will_topic", c->will_topic.ptr, c->will_topic.len, true);
			dump_value(out, "will_message", c->will_message.ptr, c->will_message.len,
			           false);
			buf_printf(out, " will_qos=%u will_retain=%d", c->will_qos, c->will_retain);
		}
		if (c->username.ptr)
			dump_value(out, "username", c->username.ptr, c->username.len, true);
		if (c->password.ptr)
			dump_value(out, "password", c->password.ptr, c->password.len, false);
		break;
	}
	case MQTT_CONNACK:
		buf_printf(out, " session_present=%d return_code=%u", pkt->connack.session_present,
		           pkt->connack.return_code);
		break;
	case MQTT_PUBLISH:
		buf_printf(out, " qos=%u retain=%d dup=%d", pkt->publish.qos, pkt->publish.retain,
		           pkt->publish.dup);
		if (pkt->publish.qos)
			buf_printf(out, " id=%u", pkt->packet_id);
		dump_value(out, "topic", pkt->publish.topic.ptr, pkt->publish.topic.len, true);
		dump_value(out, "payload", pkt->publish.payload.ptr, pkt->publish.payload.len,
		           false);
		canonical_flags = pkt->flags;
		break;
	case MQTT_PUBREL:
		canonical_flags = 2;
		/* fall through */
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		buf_printf(out, " id=%u", pkt->packet_id);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		canonical_flags = 2;
		buf_printf(out, " id=%u", pkt->packet_id);
		while (mqtt_codec_topic_list_next(&pkt->topics, &pos, &sub)) {
			dump_value(out, "filter", sub.filter.ptr, sub.filter.len, true);
			if (pkt->type == MQTT_SUBSCRIBE)
				buf_printf(out, " qos=%u", sub.qos);
		}
		CHECK(pos == pkt->topics.len, "topic list walk stopped at %zu of %zu", pos,
		      pkt->topics.len);
		break;
	case MQTT_SUBACK:
		buf_printf(out, " id=%u", pkt->packet_id);
		for (i = 0; i < pkt->suback.count; i++)
			buf_printf(out, " code=%u", pkt->suback.granted[i]);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		break;
	}
	if (pkt->flags != canonical_flags)
		buf_printf(out, " flags=%u", pkt->flags);
}

/* Bytes -> packet -> text -> packet -> bytes must give the same bytes. */
static void check_roundtrip(const uint8_t *bytes, size_t len, uint8_t proto)
{
	struct mqtt_packet pkt;
	struct buf text, again;
	struct spec s;
	const char *why = NULL;
	int rc;

	buf_init(&text, 0);
	buf_init(&again, 0);
	rc = mqtt_codec_decode(bytes, len, proto, &pkt, &why);
	CHECK(rc == 0, "round trip: decode failed: %s", why ? why : "?");
	if (rc == 0) {
		dump_packet(&pkt, &text);
		spec_parse((const char *)text.data, &s);
		rc = spec_encode(&s, &again);
		CHECK(rc == 0, "round trip: encode of '%s' failed: %d", (const char *)text.data,
		      rc);
		CHECK(again.len == len && !memcmp(again.data, bytes, len),
		      "round trip: '%s' encodes differently", (const char *)text.data);
		spec_free(&s);
	}
	buf_free(&text);
	buf_free(&again);
}

static FILE *open_data(const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	return f;
}

/* Calls fn for each row with at least min columns. */
static int for_each_row(const char *file, size_t min, void (*fn)(char **cols, size_t n))
{
	FILE *f = open_data(file);
	char *line = NULL, *cols[8];
	size_t cap = 0, n;
	int rows = 0;

	while (getline(&line, &cap, f) > 0) {
		char *t = trim(line);

		if (!*t || *t == '#')
			continue;
		n = split_cols(t, cols, 8);
		if (n < min) {
			fprintf(stderr, "%s: short row: %s\n", file, t);
			exit(2);
		}
		row_name = cols[0];
		fn(cols, n);
		rows++;
	}
	row_name = "";
	free(line);
	fclose(f);
	return rows;
}

/* ---- Encode vectors ---- */

static void encode_row(char **cols, size_t n)
{
	struct buf out, want;
	struct spec s;
	int rc;

	(void)n;
	spec_parse(cols[1], &s);
	buf_init(&out, 0);
	buf_init(&want, 0);
	/* A marker in front: the packet must be appended after it, and a refusal must leave
	 * the buffer exactly as it was. */
	buf_append(&out, "XY", 2);
	if (s.limit)
		out.limit = 2 + s.limit;
	rc = spec_encode(&s, &out);
	if (!strncmp(cols[2], "error ", 6)) {
		int want_rc = err_by_name(cols[2] + 6, strlen(cols[2] + 6));

		CHECK(rc == want_rc, "encode gave %d (%s), want %d", rc, err_str(rc), want_rc);
		CHECK(out.len == 2 && !memcmp(out.data, "XY", 2), "buffer changed on error");
	} else {
		parse_stream(cols[2], &want);
		CHECK(rc == 0, "encode failed: %d (%s)", rc, err_str(rc));
		CHECK(out.len == 2 + want.len && !memcmp(out.data, "XY", 2) &&
		              !memcmp(out.data + 2, want.data, want.len),
		      "encoded %zu bytes, want %zu; first byte %02x", out.len - 2, want.len,
		      out.len > 2 ? out.data[2] : 0);
		if (rc == 0 && !s.noroundtrip && strcmp(s.kind, "header"))
			check_roundtrip(out.data + 2, out.len - 2,
			                s.proto ? (uint8_t)s.proto : MQTT_PROTO_V311);
	}
	spec_free(&s);
	buf_free(&out);
	buf_free(&want);
}

/* ---- Decode vectors ---- */

/* Cuts the body of a valid packet at every length and re-labels the remaining length to
 * match: each cut must decode or fail cleanly, never read past the frame (ASan, valgrind). */
static void truncation_sweep(const uint8_t *bytes, size_t len, uint8_t proto)
{
	struct mqtt_header h;
	struct mqtt_packet pkt;
	const char *why = NULL;
	size_t cut;

	if (mqtt_codec_header_parse(bytes, len, &h, &why) <= 0 || len > 4096 ||
	    h.header_len + h.remaining != len)
		return;
	for (cut = 0; cut < h.remaining; cut++) {
		uint8_t hdr[5], *frame;
		int hl = mqtt_codec_header_put(hdr, h.byte1, cut), rc;

		frame = malloc((size_t)hl + cut);
		memcpy(frame, hdr, (size_t)hl);
		memcpy(frame + hl, bytes + h.header_len, cut);
		rc = mqtt_codec_decode(frame, (size_t)hl + cut, proto, &pkt, &why);
		CHECK(rc == 0 || rc == -ERR_SYNTAX || rc == -ERR_RANGE, "cut at %zu gave %d", cut,
		      rc);
		CHECK(rc == 0 || (why && *why), "cut at %zu: no reason", cut);
		free(frame);
	}
}

static void decode_row(char **cols, size_t n)
{
	uint8_t proto = (uint8_t)num(cols[1]);
	struct buf in, text;
	struct mqtt_packet pkt;
	const char *why = NULL;
	uint8_t *exact;
	int rc;

	buf_init(&in, 0);
	buf_init(&text, 0);
	parse_stream(cols[2], &in);
	/* An allocation of exactly the frame's size, so that an over-read is caught. */
	exact = malloc(in.len ? in.len : 1);
	if (in.len)
		memcpy(exact, in.data, in.len);
	rc = mqtt_codec_decode(exact, in.len, proto, &pkt, &why);
	if (!strncmp(cols[3], "error ", 6)) {
		const char *name = cols[3] + 6, *sp = strchr(name, ' ');
		int want_rc = err_by_name(name, sp ? (size_t)(sp - name) : strlen(name));

		CHECK(rc == want_rc, "decode gave %d (%s), want %d", rc, err_str(rc), want_rc);
		CHECK(rc && why && sp && !strcmp(why, sp + 1), "reason '%s', want '%s'",
		      why ? why : "(none)", sp ? sp + 1 : "");
	} else {
		CHECK(rc == 0, "decode failed: %s", why ? why : "?");
		if (rc == 0) {
			dump_packet(&pkt, &text);
			CHECK(!strcmp((const char *)text.data, cols[3]),
			      "decoded as\n  %s\nwant\n  %s", (const char *)text.data, cols[3]);
			if (!(n > 4 && !strcmp(cols[4], "no-rt")))
				check_roundtrip(exact, in.len, proto);
		}
	}
	truncation_sweep(exact, in.len, proto);
	free(exact);
	buf_free(&in);
	buf_free(&text);
}

/* ---- Framer ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* xorshift64: reproducible splits from a fixed seed */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

/* Feeds stream in chunks chosen by mode; writes the event text to events. Each frame must be
 * the next bytes of the stream. */
static void run_framer(const uint8_t *stream, size_t len, size_t max, enum split_mode mode,
                       struct buf *events)
{
	struct mqtt_framer f;
	size_t off = 0, frame_off = 0;
	int rc = 0;

	mqtt_framer_init(&f, max);
	buf_reset(events);
	while (off < len && rc >= 0) {
		size_t chunk = len - off;

		if (mode == SPLIT_BYTES)
			chunk = 1;
		else if (mode == SPLIT_RANDOM && chunk > 1) {
			/* mostly short pieces, now and then a long one */
			size_t pick = 1 + (size_t)(rng_next() % (rng_next() % 4 ? 8 : chunk));

			chunk = pick < chunk ? pick : chunk;
		}
		while (chunk) {
			const uint8_t *frame = NULL;
			size_t used = 0, frame_len = 0;

			rc = mqtt_framer_feed(&f, stream + off, chunk, &used, &frame, &frame_len);
			CHECK(used <= chunk, "framer used %zu of %zu", used, chunk);
			off += used;
			chunk -= used;
			if (rc < 0) {
				const char *name = "?";
				size_t i;

				for (i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
					if (err_names[i].code == rc)
						name = err_names[i].name;
				buf_printf(events, "%serror:%s %s", events->len ? " " : "", name,
				           f.reason ? f.reason : "(none)");
				break;
			}
			if (rc == 1) {
				buf_printf(events, "%sframe:%zu", events->len ? " " : "",
				           frame_len);
				CHECK(frame_off + frame_len <= len &&
				              !memcmp(frame, stream + frame_off, frame_len),
				      "frame at %zu differs from the stream", frame_off);
				frame_off += frame_len;
			} else {
				CHECK(chunk == 0, "framer returned 0 with %zu bytes left", chunk);
			}
		}
	}
	if (rc < 0) {
		/* Sticky until reset: nothing more is taken. */
		const uint8_t *frame;
		size_t used = 1, frame_len;
		int again = mqtt_framer_feed(&f, (const uint8_t *)"\xc0\x00", 2, &used, &frame,
		                             &frame_len);

		CHECK(again == rc && used == 0, "error not sticky: %d, used %zu", again, used);
	} else if (f.frame.len && !f.delivered) {
		buf_printf(events, "%spending:%zu", events->len ? " " : "", f.need);
		/* The buffer follows the bytes, not the announced length. */
		CHECK(f.frame.cap <= 64 || f.frame.cap <= 2 * (f.frame.len + 1),
		      "framer holds %zu bytes in %zu", f.frame.len, f.frame.cap);
	}
	if (!events->len)
		buf_append(events, "-", 1);
	mqtt_framer_free(&f);
}

static void framer_row(char **cols, size_t n)
{
	size_t max = (size_t)num(cols[1]);
	struct buf stream, events;
	int seed;

	(void)n;
	buf_init(&stream, 0);
	buf_init(&events, 0);
	parse_stream(cols[2], &stream);
	run_framer(stream.data, stream.len, max, SPLIT_WHOLE, &events);
	CHECK(!strcmp((const char *)events.data, cols[3]), "whole: %s", (const char *)events.data);
	run_framer(stream.data, stream.len, max, SPLIT_BYTES, &events);
	CHECK(!strcmp((const char *)events.data, cols[3]), "bytewise: %s",
	      (const char *)events.data);
	for (seed = 1; seed <= 5; seed++) {
		rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)seed;
		run_framer(stream.data, stream.len, max, SPLIT_RANDOM, &events);
		CHECK(!strcmp((const char *)events.data, cols[3]), "random seed %d: %s", seed,
		      (const char *)events.data);
	}
	buf_free(&stream);
	buf_free(&events);
}

/* Every well-framed decode vector, back to back in one stream: framed in any split, each
 * frame must be that vector again and decode the same way. */
struct stream_rows {
	struct buf stream;
	size_t lens[512];
	uint8_t protos[512];
	size_t count;
};

static struct stream_rows all_rows;

static void collect_row(char **cols, size_t n)
{
	struct mqtt_header h;
	const char *why;
	struct buf in;

	(void)n;
	buf_init(&in, 0);
	parse_stream(cols[2], &in);
	if (mqtt_codec_header_parse(in.data, in.len, &h, &why) > 0 &&
	    h.header_len + h.remaining == in.len && all_rows.count < 512) {
		buf_append(&all_rows.stream, in.data, in.len);
		all_rows.lens[all_rows.count] = in.len;
		all_rows.protos[all_rows.count++] = (uint8_t)num(cols[1]);
	}
	buf_free(&in);
}

static void test_framer_stream(void)
{
	int mode;

	buf_init(&all_rows.stream, 0);
	for_each_row("mqtt_decode.txt", 4, collect_row);
	row_name = "all decode vectors as one stream";
	CHECK(all_rows.count > 100, "only %zu vectors", all_rows.count);
	for (mode = 0; mode < 7; mode++) {
		struct mqtt_framer f;
		size_t off = 0, idx = 0, row_off = 0;

		rng_state = 0x2545f4914f6cdd1dull + (uint64_t)mode;
		mqtt_framer_init(&f, 0);
		while (off < all_rows.stream.len) {
			size_t chunk = all_rows.stream.len - off, used;
			const uint8_t *frame;
			size_t frame_len;
			int rc;

			if (mode == 1)
				chunk = 1;
			else if (mode > 1)
				chunk = 1 + (size_t)(rng_next() % (chunk < 300 ? chunk : 300));
			rc = mqtt_framer_feed(&f, all_rows.stream.data + off, chunk, &used, &frame,
			                      &frame_len);
			off += used;
			CHECK(rc >= 0, "framer error %d: %s", rc, f.reason);
			if (rc < 0)
				break;
			if (rc == 1) {
				struct mqtt_packet a, b;
				const char *wa = NULL, *wb = NULL;
				int ra, rb;

				CHECK(idx < all_rows.count && frame_len == all_rows.lens[idx] &&
				              !memcmp(frame, all_rows.stream.data + row_off,
				                      frame_len),
				      "frame %zu differs", idx);
				if (idx >= all_rows.count)
					break;
				ra = mqtt_codec_decode(frame, frame_len, all_rows.protos[idx], &a,
				                       &wa);
				rb = mqtt_codec_decode(all_rows.stream.data + row_off,
				                       all_rows.lens[idx], all_rows.protos[idx], &b,
				                       &wb);
				CHECK(ra == rb && wa == wb, "frame %zu decodes differently", idx);
				row_off += all_rows.lens[idx++];
			}
		}
		CHECK(idx == all_rows.count, "mode %d: %zu frames of %zu", mode, idx,
		      all_rows.count);
		mqtt_framer_free(&f);
	}
	/* After an error, reset makes the framer usable again. */
	{
		struct mqtt_framer f;
		const uint8_t *frame;
		size_t used, frame_len;
		int rc;

		row_name = "reset after error";
		mqtt_framer_init(&f, 0);
		rc = mqtt_framer_feed(&f, (const uint8_t *)"\x30\xff\xff\xff\xff", 5, &used, &frame,
		                      &frame_len);
		CHECK(rc == -ERR_SYNTAX, "got %d", rc);
		mqtt_framer_reset(&f);
		rc = mqtt_framer_feed(&f, (const uint8_t *)"\xd0\x00", 2, &used, &frame,
		                      &frame_len);
		CHECK(rc == 1 && used == 2 && frame_len == 2 && frame[0] == 0xd0, "got %d", rc);
		mqtt_framer_free(&f);
	}
	buf_free(&all_rows.stream);
	row_name = "";
}

/* ---- String checks ---- */

static void topic_row(char **cols, size_t n)
{
	struct buf s;
	const char *why = NULL;
	int rc;

	(void)n;
	buf_init(&s, 0);
	parse_value(cols[1], &s, NULL);
	if (!strcmp(cols[0], "utf8"))
		rc = mqtt_codec_check_utf8((const char *)s.data, s.len, &why);
	else if (!strcmp(cols[0], "name"))
		rc = mqtt_codec_check_topic_name((const char *)s.data, s.len, &why);
	else
		rc = mqtt_codec_check_topic_filter((const char *)s.data, s.len, &why);
	if (!strcmp(cols[2], "ok"))
		CHECK(rc == 0, "%s %s refused: %s", cols[0], cols[1], why);
	else
		CHECK(rc == -ERR_SYNTAX && why && !strcmp(why, cols[2]), "%s %s: %d '%s'", cols[0],
		      cols[1], rc, why ? why : "(none)");
	buf_free(&s);
}

/* ---- Odd calls ---- */

/* Calls the data files cannot express: NULL pointers with lengths, and lists whose total
 * passes the maximum remaining length (refused before anything is read or allocated). */
static void test_encode_limits(void)
{
	static const char big[65535];
	struct mqtt_publish m = {.qos = 0, .topic = {"t", 1}, .payload = {NULL, 5}};
	struct mqtt_connect c = {.protocol = MQTT_PROTO_V311, .client_id = {NULL, 3}};
	struct mqtt_subscription *subs;
	struct mqtt_str *filters;
	struct buf out;
	size_t i, n = MQTT_MAX_REMAINING / (2 + sizeof(big) + 1) + 1;

	row_name = "encode limits";
	buf_init(&out, 0);
	CHECK(mqtt_codec_encode_publish(&out, &m, 0) == -ERR_INVAL, "NULL payload with a length");
	m.payload.len = 0;
	m.topic.ptr = NULL;
	CHECK(mqtt_codec_encode_publish(&out, &m, 0) == -ERR_INVAL, "NULL topic with a length");
	CHECK(mqtt_codec_encode_connect(&out, &c) == -ERR_INVAL, "NULL client id with a length");
	CHECK(mqtt_codec_encode_suback(&out, 1, (const uint8_t *)"", SIZE_MAX) == -ERR_TOOBIG,
	      "SUBACK of SIZE_MAX codes");
	subs = calloc(n, sizeof(*subs));
	filters = calloc(n, sizeof(*filters));
	for (i = 0; i < n; i++) {
		subs[i].filter.ptr = big;
		subs[i].filter.len = sizeof(big);
		filters[i] = subs[i].filter;
	}
	/* n - 1 entries fit (about 256 MiB, not built here); n do not. */
	CHECK(mqtt_codec_encode_subscribe(&out, 1, subs, n) == -ERR_TOOBIG, "SUBSCRIBE too big");
	CHECK(mqtt_codec_encode_unsubscribe(&out, 1, filters, n) == -ERR_TOOBIG,
	      "UNSUBSCRIBE too big");
	CHECK(out.len == 0 && out.cap == 0, "buffer touched");
	free(subs);
	free(filters);
	buf_free(&out);
	row_name = "";
}

static void test_misc(void)
{
	struct mqtt_topic_list bad = {(const uint8_t *)"\x00\x05"
	                                               "ab",
	                              4, 1, false};
	struct mqtt_subscription sub;
	struct mqtt_header h;
	const char *why = NULL;
	size_t pos = 0;

	row_name = "misc";
	/* A list whose entry runs past its end stops instead of reading on. */
	CHECK(!mqtt_codec_topic_list_next(&bad, &pos, &sub) && pos == 0, "walked a bad list");
	CHECK(!strcmp(mqtt_codec_type_name(MQTT_PUBREL), "PUBREL"), "type name");
	CHECK(!strcmp(mqtt_codec_type_name((enum mqtt_packet_type)0), "RESERVED"), "type 0");
	CHECK(!strcmp(mqtt_codec_type_name((enum mqtt_packet_type)15), "RESERVED"), "type 15");
	CHECK(mqtt_codec_header_parse((const uint8_t *)"\x30", 1, &h, &why) == 0, "1 byte");
	CHECK(mqtt_codec_header_parse((const uint8_t *)"\x30\x80\x80\x80", 4, &h, &why) == 0,
	      "4 bytes, incomplete");
	CHECK(mqtt_codec_header_parse((const uint8_t *)"\x30\x80\x80\x80\x01", 5, &h, &why) == 5 &&
	              h.remaining == 2097152 && h.header_len == 5,
	      "5-byte header");
	row_name = "";
}

/* --seeds DIR: the decode vectors as libFuzzer seeds for sim/fuzz/fuzz_mqtt_codec.c (a
 * control byte for the level, then the bytes). */
static const char *seed_dir;
static int seed_count;

static void seed_row(char **cols, size_t n)
{
	char path[512];
	struct buf in;
	uint8_t ctl = num(cols[1]) == MQTT_PROTO_V31 ? 1 : 0;
	FILE *f;

	(void)n;
	buf_init(&in, 0);
	parse_stream(cols[2], &in);
	snprintf(path, sizeof(path), "%s/vector-%03d", seed_dir, seed_count++);
	f = fopen(path, "wb");
	if (!f || fwrite(&ctl, 1, 1, f) != 1 ||
	    (in.len && fwrite(in.data, 1, in.len, f) != in.len)) {
		perror(path);
		exit(2);
	}
	fclose(f);
	buf_free(&in);
}

int main(int argc, char **argv)
{
	int rows;

	if (argc > 2 && !strcmp(argv[1], "--seeds")) {
		seed_dir = argv[2];
		for_each_row("mqtt_decode.txt", 4, seed_row);
		printf("%d seeds in %s\n", seed_count, seed_dir);
		return 0;
	}
	if (argc > 1)
		data_dir = argv[1];
	rows = for_each_row("mqtt_encode.txt", 3, encode_row);
	printf("encode vectors: %d\n", rows);
	rows = for_each_row("mqtt_decode.txt", 4, decode_row);
	printf("decode vectors: %d\n", rows);
	rows = for_each_row("mqtt_framer.txt", 4, framer_row);
	printf("framer vectors: %d (each whole, bytewise and 5 random splits)\n", rows);
	rows = for_each_row("mqtt_topics.txt", 3, topic_row);
	printf("string check vectors: %d\n", rows);
	test_framer_stream();
	test_encode_limits();
	test_misc();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
