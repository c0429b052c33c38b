/* AT+QMT*: the MQTT commands. Syntax and results per reference §6 (EC25, EC2x MQTT AN V1.1
 * via drivers and captures) and the M95 MQTT AN (seed 001); the protocol work is in
 * mqtt/client.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "at/families.h"
#include "modem/modem.h"
#include "mqtt/client.h"

static bool is_m95(const struct modem *m)
{
	return m->model->id == MODEL_M95;
}

static struct mqtt_client *client_of(struct at_call *c)
{
	return &c->m->mqtt.c[at_num(c, 0)];
}

/* A number given bare or quoted (the M95 note's SSL example sends the port as "8883"). */
static int num_or_str(const struct at_param *p, long long *v)
{
	if (p->type == AT_P_NUM) {
		*v = p->num;
		return 0;
	}
	if (p->type == AT_P_STR && at_parse_number(p->s, p->len, v, NULL) == 0)
		return 0;
	return -1;
}

/* ---- AT+QMTCFG ---- */

static int need_num(struct at_call *c, int i, long long lo, long long hi, int *out)
{
	const struct at_param *p = &c->args.p[i];

	if (p->type != AT_P_NUM || p->num < lo || p->num > hi) {
		at_why(c->m, "parameter %d must be %lld-%lld", i + 1, lo, hi);
		return -1;
	}
	*out = (int)p->num;
	return 0;
}

/* Read replies: EC25 "+QMTCFG: \"keepalive\",120" (reference §6a); the M95 AN shows the
 * values alone, "+QMTCFG: 120". */
static void cfg_reply(struct modem *m, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void cfg_reply(struct modem *m, const char *key, const char *fmt, ...)
{
	char vals[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vals, sizeof(vals), fmt, ap);
	va_end(ap);
	if (is_m95(m))
		at_info(m, "+QMTCFG: %s", vals);
	else
		at_info(m, "+QMTCFG: \"%s\",%s", key, vals);
}

static int cfg_will(struct at_call *c, struct mqtt_cfg *cfg)
{
	struct modem *m = c->m;
	int fg, qos, retain;
	char topic[MQTT_TOPIC_MAX + 1];

	if (c->args.n == 2) {
		if (!cfg->will_fg) {
			cfg_reply(m, "will", "%d", cfg->will_fg);
		} else {
			struct buf b;

			buf_init(&b, 0);
			buf_printf(&b, "%d,%d,%d,\"%s\",\"", cfg->will_fg, cfg->will_qos,
			           cfg->will_retain, cfg->will_topic);
			buf_append(&b, cfg->will_msg.data, cfg->will_msg.len);
			buf_putc(&b, '"');
			cfg_reply(m, "will", "%s", (char *)b.data);
			buf_free(&b);
		}
		return AT_OK;
	}
	if (need_num(c, 2, 0, 1, &fg))
		return AT_ERROR;
	if (fg == 0) {
		if (c->args.n != 3)
			return AT_ERROR;
		cfg->will_fg = 0;
		return AT_OK;
	}
	/* M95 MQTT AN 3.2.1 note 1: with will_fg 1 every will field must be present */
	if (c->args.n != 7 || need_num(c, 3, 0, 2, &qos) || need_num(c, 4, 0, 1, &retain) ||
	    c->args.p[5].type != AT_P_STR || c->args.p[6].type != AT_P_STR ||
	    c->args.p[5].len > MQTT_TOPIC_MAX || c->args.p[6].len > 256 ||
	    at_str(c, 5, topic, sizeof(topic))) {
		at_why(m, "\"will\",<id>,1 needs qos 0-2, retain 0/1, \"topic\" (<=255 B) and "
		          "\"message\" (<=256 B)");
		return AT_ERROR;
	}
	cfg->will_fg = 1;
	cfg->will_qos = qos;
	cfg->will_retain = retain;
	memcpy(cfg->will_topic, topic, sizeof(topic));
	buf_reset(&cfg->will_msg);
	buf_append(&cfg->will_msg, c->args.p[6].s, c->args.p[6].len);
	return AT_OK;
}

static int cfg_timeout(struct at_call *c, struct mqtt_cfg *cfg)
{
	int pkt = cfg->pkt_timeout, retry = cfg->retry_times, notice = cfg->timeout_notice;

	if (c->args.n == 2) {
		cfg_reply(c->m, "timeout", "%d,%d,%d", pkt, retry, notice);
		return AT_OK;
	}
	if (c->args.n > 5 || need_num(c, 2, 1, 60, &pkt) ||
	    (at_given(c, 3) && need_num(c, 3, 0, 10, &retry)) ||
	    (at_given(c, 4) && need_num(c, 4, 0, 1, &notice)))
		return AT_ERROR;
	cfg->pkt_timeout = pkt;
	cfg->retry_times = retry;
	cfg->timeout_notice = notice;
	return AT_OK;
}

static int cfg_one(struct at_call *c, const char *key, int *field, int lo, int hi)
{
	int v;

	if (c->args.n == 2) {
		cfg_reply(c->m, key, "%d", *field);
		return AT_OK;
	}
	if (c->args.n != 3 || need_num(c, 2, lo, hi, &v))
		return AT_ERROR;
	*field = v;
	return AT_OK;
}

static int cfg_ssl(struct at_call *c, struct mqtt_cfg *cfg)
{
	int en, ctx = cfg->ssl_ctx;

	if (c->args.n == 2) {
		/* BG770A capture: only <en> while disabled, "1,2" when enabled (reference §6a) */
		if (cfg->ssl_enable)
			cfg_reply(c->m, "ssl", "%d,%d", cfg->ssl_enable, cfg->ssl_ctx);
		else
			cfg_reply(c->m, "ssl", "%d", cfg->ssl_enable);
		return AT_OK;
	}
	if (c->args.n > 4 || need_num(c, 2, 0, 1, &en) ||
	    (at_given(c, 3) && need_num(c, 3, 0, SSL_CTX_COUNT - 1, &ctx)))
		return AT_ERROR;
	if (en && !at_given(c, 3) && is_m95(c->m)) {
		at_why(c->m, "M95 MQTT AN 3.2.1 note 3: <ctxindex> must be given with SSL on");
		return AT_ERROR;
	}
	cfg->ssl_enable = en;
	cfg->ssl_ctx = ctx;
	return AT_OK;
}

static int cfg_recv_mode(struct at_call *c, struct mqtt_cfg *cfg)
{
	int mode = cfg->recv_mode, len = cfg->recv_len;

	if (c->args.n == 2) {
		cfg_reply(c->m, "recv/mode", "%d,%d", mode, len);
		return AT_OK;
	}
	if (c->args.n > 4 || need_num(c, 2, 0, 1, &mode) ||
	    (at_given(c, 3) && need_num(c, 3, 0, 1, &len)))
		return AT_ERROR;
	cfg->recv_mode = mode;
	cfg->recv_len = len;
	return AT_OK;
}

static int cfg_aliauth(struct at_call *c, struct mqtt_cfg *cfg)
{
	if (c->args.n == 2) {
		if (cfg->ali_key[0])
			cfg_reply(c->m, "aliauth", "\"%s\",\"%s\",\"%s\"", cfg->ali_key,
			          cfg->ali_name, cfg->ali_secret);
		return AT_OK;
	}
	if (c->args.n != 5 || at_str(c, 2, cfg->ali_key, sizeof(cfg->ali_key)) ||
	    at_str(c, 3, cfg->ali_name, sizeof(cfg->ali_name)) ||
	    at_str(c, 4, cfg->ali_secret, sizeof(cfg->ali_secret)))
		return AT_ERROR;
	return AT_OK;
}

static const char ec25_cfg_test[] =
        /* assembled from the nine keys and ranges of reference §6a; not a capture */
        "+QMTCFG: \"version\",(0-5),(3,4)\n"
        "+QMTCFG: \"pdpcid\",(0-5),(1-16)\n"
        "+QMTCFG: \"ssl\",(0-5),(0,1),(0-5)\n"
        "+QMTCFG: \"keepalive\",(0-5),(0-3600)\n"
        "+QMTCFG: \"session\",(0-5),(0,1)\n"
        "+QMTCFG: \"timeout\",(0-5),(1-60),(0-10),(0,1)\n"
        "+QMTCFG: \"will\",(0-5),(0,1),(0-2),(0,1),\"will_topic\",\"will_message\"\n"
        "+QMTCFG: \"recv/mode\",(0-5),(0,1),(0,1)\n"
        "+QMTCFG: \"aliauth\",(0-5),\"product_key\",\"device_name\",\"device_secret\"";

static const char m95_cfg_test[] = "+QMTCFG: \"WILL\",(0-5),(0,1),(0-2),(0,1),\"will_topic\","
                                   "\"will_msg\"\n"
                                   "+QMTCFG: \"TIMEOUT\",(0-5),(1-60),(0-10),(0,1)\n"
                                   "+QMTCFG: \"SESSION\",(0-5),(0,1)\n"
                                   "+QMTCFG: \"KEEPALIVE\",(0-5),(0-3600)\n"
                                   "+QMTCFG: \"SSL\",(0-5),(0,1),(0-5)";

static void print_lines(struct modem *m, const char *t)
{
	while (*t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t) : strlen(t);

		at_info_bytes(m, t, n);
		t += n + (nl ? 1 : 0);
	}
}

static int cmd_qmtcfg(struct at_call *c)
{
	struct modem *m = c->m;
	const struct at_param *key;
	struct mqtt_cfg *cfg;

	if (c->req == AT_REQ_TEST) {
		print_lines(m, is_m95(m) ? m95_cfg_test : ec25_cfg_test);
		return AT_OK;
	}
	key = &c->args.p[0];
	if (c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
	    c->args.p[1].num >= MQTT_CLIENTS) {
		at_why(m, "client_idx must be 0-5");
		return AT_ERROR;
	}
	cfg = &m->mqtt.c[c->args.p[1].num].cfg;
	if (at_param_is(key, "will"))
		return cfg_will(c, cfg);
	if (at_param_is(key, "timeout"))
		return cfg_timeout(c, cfg);
	if (at_param_is(key, "session"))
		return cfg_one(c, "session", &cfg->clean, 0, 1);
	if (at_param_is(key, "keepalive"))
		return cfg_one(c, "keepalive", &cfg->keepalive, 0, 3600);
	if (at_param_is(key, "ssl"))
		return cfg_ssl(c, cfg);
	if (!is_m95(m)) {
		if (at_param_is(key, "version"))
			return cfg_one(c, "version", &cfg->version, 3, 4);
		if (at_param_is(key, "pdpcid"))
			return cfg_one(c, "pdpcid", &cfg->pdpcid, 1, 16);
		if (at_param_is(key, "recv/mode"))
			return cfg_recv_mode(c, cfg);
		if (at_param_is(key, "aliauth"))
			return cfg_aliauth(c, cfg);
	}
	at_why(m, "unknown AT+QMTCFG key \"%.*s\" on the %s", (int)key->len, key->s,
	       m->model->model);
	return AT_ERROR;
}

/* ---- connection commands ---- */

static int cmd_qmtopen(struct at_call *c)
{
	struct modem *m = c->m;
	char host[MQTT_HOST_MAX + 1];
	long long port;

	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < MQTT_CLIENTS; i++) {
			struct mqtt_client *x = &m->mqtt.c[i];

			if (x->state != MQTT_S_IDLE && x->state != MQTT_S_OPENING)
				at_info(m, "+QMTOPEN: %d,\"%s\",%d", i, x->host, x->port);
		}
		return AT_OK;
	}
	if (c->args.p[1].type != AT_P_STR || at_str(c, 1, host, sizeof(host)) ||
	    num_or_str(&c->args.p[2], &port) || port < 0 || port > 65535) {
		at_why(m, "AT+QMTOPEN=<client_idx>,\"<host_name>\"(<=100 B),<port>");
		return AT_ERROR;
	}
	return mqtt_open(client_of(c), host, (int)port);
}

static int cmd_qmtclose(struct at_call *c)
{
	return mqtt_close(client_of(c));
}

static int cmd_qmtconn(struct at_call *c)
{
	struct modem *m = c->m;
	char id[256], user[256], pass[256];

	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < MQTT_CLIENTS; i++) {
			int s = mqtt_conn_state(&m->mqtt.c[i]);

			if (s)
				at_info(m, "+QMTCONN: %d,%d", i, s);
		}
		return AT_OK;
	}
	if (at_str(c, 1, id, sizeof(id)) || (at_given(c, 2) && at_str(c, 2, user, sizeof(user))) ||
	    (at_given(c, 3) && at_str(c, 3, pass, sizeof(pass)))) {
		at_why(m, "client ID, user name and password are strings of at most 255 bytes");
		return AT_ERROR;
	}
	return mqtt_connect(client_of(c), id, at_given(c, 2) ? user : NULL,
	                    at_given(c, 3) ? pass : NULL);
}

static int cmd_qmtdisc(struct at_call *c)
{
	return mqtt_disconnect(client_of(c));
}

static int cmd_qmtsub(struct at_call *c)
{
	char topics[15][MQTT_TOPIC_MAX + 1];
	const char *tp[15];
	int qos[15], n = 0;

	if (c->args.n % 2 != 0) {
		at_why(c->m, "each topic needs its QoS");
		return AT_ERROR;
	}
	for (int i = 2; i + 1 < c->args.n; i += 2, n++) {
		if (c->args.p[i].type != AT_P_STR || c->args.p[i].len > MQTT_TOPIC_MAX ||
		    at_str(c, i, topics[n], sizeof(topics[n])) || need_num(c, i + 1, 0, 2, &qos[n]))
			return AT_ERROR;
		tp[n] = topics[n];
	}
	return mqtt_subscribe(client_of(c), (uint16_t)at_num(c, 1), tp, qos, n);
}

static int cmd_qmtuns(struct at_call *c)
{
	char topics[15][MQTT_TOPIC_MAX + 1];
	const char *tp[15];
	int n = 0;

	for (int i = 2; i < c->args.n; i++, n++) {
		if (c->args.p[i].type != AT_P_STR || c->args.p[i].len > MQTT_TOPIC_MAX ||
		    at_str(c, i, topics[n], sizeof(topics[n])))
			return AT_ERROR;
		tp[n] = topics[n];
	}
	return mqtt_unsubscribe(client_of(c), (uint16_t)at_num(c, 1), tp, n);
}

/* ---- publishing ---- */

static void pub_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct mqtt_pub_req *r = arg;
	size_t room = MQTT_PAYLOAD_MAX - r->payload.len;

	(void)m;
	/* M95 MQTT AN 5.1: "the data that beyond 1548 bytes will be omitted" */
	buf_append(&r->payload, p, n < room ? n : room);
}

static void pub_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct mqtt_pub_req *r = arg;
	int rc = AT_OK;

	switch (why) {
	case AT_END_CANCEL:
		at_why(m, "ESC: publish cancelled");
		break;
	case AT_END_SUBMIT:
	case AT_END_COUNT:
		rc = mqtt_publish(r->c, r->msgid, r->qos, r->retain, r->topic, r->payload.data,
		                  r->payload.len, r->ex);
		break;
	case AT_END_ESCAPE:
	case AT_END_TIMEOUT:
		rc = AT_ERROR;
		break;
	}
	buf_free(&r->payload);
	at_complete(m, rc);
}

static const struct at_data_ops pub_ops = {pub_data, pub_end};

static int do_publish(struct at_call *c, bool ex)
{
	struct modem *m = c->m;
	struct mqtt_pub_req *r = &m->mqtt.pub;
	struct mqtt_client *cl = client_of(c);
	uint16_t msgid = (uint16_t)at_num(c, 1);
	int qos = (int)at_num(c, 2), rc;
	char topic[MQTT_TOPIC_MAX + 1];

	if (c->args.p[4].type != AT_P_STR || at_str(c, 4, topic, sizeof(topic))) {
		at_why(m, "topic must be a quoted string of at most 255 bytes");
		return AT_ERROR;
	}
	rc = mqtt_publish_check(cl, msgid, qos);
	if (rc)
		return rc;
	if (c->args.n == 6 && c->args.p[5].type == AT_P_STR) {
		/* inline payload: AT+QMTPUB=0,1,1,0,"topic","msg" (host-drivers.md item 7) */
		if (c->args.p[5].len > MQTT_PAYLOAD_MAX)
			return AT_ERROR;
		return mqtt_publish(cl, msgid, qos, (int)at_num(c, 3), topic,
		                    (const uint8_t *)c->args.p[5].s, c->args.p[5].len, ex);
	}
	buf_free(&r->payload);
	memset(r, 0, sizeof(*r));
	buf_init(&r->payload, MQTT_PAYLOAD_MAX);
	r->c = cl;
	r->msgid = msgid;
	r->qos = qos;
	r->retain = (int)at_num(c, 3);
	r->ex = ex;
	memcpy(r->topic, topic, sizeof(topic));
	if (c->args.n == 6) {
		if (c->args.p[5].type != AT_P_NUM || c->args.p[5].num < 1 ||
		    c->args.p[5].num > MQTT_PAYLOAD_MAX) {
			at_why(m, "message length must be 1-%d", MQTT_PAYLOAD_MAX);
			return AT_ERROR;
		}
		r->fixed = true;
		at_prompt(m, (size_t)c->args.p[5].num, &pub_ops, r);
	} else {
		if (ex) {
			at_why(m, "AT+QMTPUBEX needs a length or an inline message");
			return AT_ERROR;
		}
		at_prompt(m, 0, &pub_ops, r);
	}
	return AT_PENDING;
}

static int cmd_qmtpub(struct at_call *c)
{
	return do_publish(c, false);
}

static int cmd_qmtpubex(struct at_call *c)
{
	return do_publish(c, true);
}

/* ---- receive buffers (recv/mode 1) ---- */

static int cmd_qmtrecv(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req == AT_REQ_READ) {
		/* one line per client with a network; answered in every mode (host-drivers.md
		 * item 9: some drivers poll it in URC mode too) */
		for (int i = 0; i < MQTT_CLIENTS; i++) {
			struct mqtt_client *x = &m->mqtt.c[i];

			if (x->state == MQTT_S_IDLE || x->state == MQTT_S_OPENING)
				continue;
			at_info(m, "+QMTRECV: %d,%d,%d,%d,%d,%d", i, x->slots[0].used,
			        x->slots[1].used, x->slots[2].used, x->slots[3].used,
			        x->slots[4].used);
		}
		return AT_OK;
	}
	return mqtt_recv_read(client_of(c), at_given(c, 1) ? (int)at_num(c, 1) : -1);
}

#define W AT_REQ_WRITE
#define T AT_REQ_TEST
#define R AT_REQ_READ

const struct at_cmd at_family_mqtt_ec25[] = {
        {"+QMTCFG", W | T, 2, 7, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_qmtcfg},
        {"+QMTOPEN", W | R | T, 3, 3, AT_SPEC(AT_NUM(0, 5), AT_ANY, AT_ANY),
         "+QMTOPEN: (0-5),\"<host_name>\",(1-65535)", 0, 0, cmd_qmtopen},
        {"+QMTCLOSE", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTCLOSE: (0-5)", 0, 0, cmd_qmtclose},
        {"+QMTCONN", W | R | T, 2, 4, AT_SPEC(AT_NUM(0, 5), AT_STR(0), AT_STR(0), AT_STR(0)),
         "+QMTCONN: (0-5),\"<clientID>\"[,\"<username>\"[,\"<password>\"]]", 0, 0, cmd_qmtconn},
        {"+QMTDISC", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTDISC: (0-5)", 0, 0, cmd_qmtdisc},
        {"+QMTSUB", W | T, 4, 32, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTSUB: (0-5),(1-65535),\"<topic>\",(0-2)", 0, 0, cmd_qmtsub},
        {"+QMTUNS", W | T, 3, 17, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTUNS: (0-5),(1-65535),\"<topic>\"", 0, 0, cmd_qmtuns},
        /* EC2x test reply with its stray space (reference §6c) */
        {"+QMTPUB", W | T, 5, 6,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY, AT_ANY),
         "+QMTPUB: (0-5), <msgid>,(0-2),(0,1),\"topic\",[(1-1548)]", 0, 0, cmd_qmtpub},
        {"+QMTPUBEX", W | T, 6, 6,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY, AT_ANY),
         "+QMTPUBEX: (0-5), <msgid>,(0-2),(0,1),\"topic\",(1-1548)", 0, 0, cmd_qmtpubex},
        {"+QMTRECV", W | R | T, 1, 2, AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 4)), "+QMTRECV: (0-5),(0-4)",
         0, 0, cmd_qmtrecv},
        {0},
};

/* M95 MQTT AN (seed 001): no version/pdpcid/recv/mode keys, no QMTPUBEX, no QMTRECV command,
 * QMTPUB with the Ctrl+Z prompt only. */
const struct at_cmd at_family_mqtt_m95[] = {
        {"+QMTCFG", W | T, 2, 7, AT_SPEC(AT_TEXT(16)), NULL, 0, 0, cmd_qmtcfg},
        {"+QMTOPEN", W | R | T, 3, 3, AT_SPEC(AT_NUM(0, 5), AT_ANY, AT_ANY),
         "+QMTOPEN: (0-5),\"<host_name>\",(1-65535)", 0, 0, cmd_qmtopen},
        {"+QMTCLOSE", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTCLOSE: (0-5)", 0, 0, cmd_qmtclose},
        {"+QMTCONN", W | R | T, 2, 4, AT_SPEC(AT_NUM(0, 5), AT_STR(0), AT_STR(0), AT_STR(0)),
         "+QMTCONN: (0-5),\"<clientID>\"[,\"<username>\"[,\"<password>\"]]", 0, 0, cmd_qmtconn},
        {"+QMTDISC", W | T, 1, 1, AT_SPEC(AT_NUM(0, 5)), "+QMTDISC: (0-5)", 0, 0, cmd_qmtdisc},
        {"+QMTSUB", W | T, 4, 32, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTSUB: (0-5),(1-65535),\"<topic>\",(0-2)", 0, 0, cmd_qmtsub},
        {"+QMTUNS", W | T, 3, 17, AT_SPEC(AT_NUM(0, 5), AT_NUM(1, 65535)),
         "+QMTUNS: (0-5),(1-65535),\"<topic>\"", 0, 0, cmd_qmtuns},
        {"+QMTPUB", W | T, 5, 5,
         AT_SPEC(AT_NUM(0, 5), AT_NUM(0, 65535), AT_NUM(0, 2), AT_NUM(0, 1), AT_ANY),
         "+QMTPUB: (0-5),(0-65535),(0-2),(0,1),\"<topic>\"", 0, 0, cmd_qmtpub},
        {0},
};
