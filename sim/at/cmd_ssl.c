/* AT+QSSLCFG: per-context SSL settings, EC25 (reference §5a, EG25-G test output) and M95
 * (GSM SSL AN V3.3 §2.2.1). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "modem/modem.h"

enum key_kind {
	KEY_INT, /* a number in [min, max] */
	KEY_PATH, /* a file name in the modem */
	KEY_KEY, /* file name and optional key password */
	KEY_SUITE, /* cipher suite code, bare or quoted, 0x/0X */
	KEY_TEXT, /* a string */
	KEY_PSK, /* identity and key */
};

/* Which dialects have a key (struct qssl_dialect.keys). */
#define EC25 1
#define M95 2
#define BG96 4

struct key_def {
	const char *key;
	enum key_kind kind;
	int min, max;
	size_t off; /* in struct ssl_ctx_cfg */
	size_t size;
	unsigned models;
};

#define INT_KEY(k, lo, hi, field, models)                                                          \
	{                                                                                          \
		k, KEY_INT, lo, hi, offsetof(struct ssl_ctx_cfg, field), 0, models                 \
	}
#define STR_KEY(k, kind, field, models)                                                            \
	{                                                                                          \
		k, kind, 0, 0, offsetof(struct ssl_ctx_cfg, field),                                \
		        sizeof(((struct ssl_ctx_cfg *)0)->field), models                           \
	}

static const struct key_def keys[] = {
        INT_KEY("sslversion", 0, 4, sslversion, EC25 | M95 | BG96),
        INT_KEY("dtls", 0, 1, dtls, EC25),
        INT_KEY("dtlsversion", 0, 1, dtlsversion, EC25),
        {"ciphersuite", KEY_SUITE, 0, 0xFFFF, offsetof(struct ssl_ctx_cfg, ciphersuite), 0,
         EC25 | M95 | BG96},
        STR_KEY("cacert", KEY_PATH, cacert, EC25 | M95 | BG96),
        /* In the EG25-G test output (reference §5a) with no description in any source found:
         * taken and read back like "cacert", never used for a handshake. */
        STR_KEY("cacertex", KEY_PATH, cacertex, EC25),
        STR_KEY("clientcert", KEY_PATH, clientcert, EC25 | M95 | BG96),
        STR_KEY("clientkey", KEY_KEY, clientkey, EC25 | M95 | BG96),
        INT_KEY("seclevel", 0, 2, seclevel, EC25 | M95 | BG96),
        INT_KEY("ignorelocaltime", 0, 1, ignorelocaltime, EC25 | BG96),
        INT_KEY("negotiatetime", 10, 300, negotiatetime, EC25 | BG96),
        INT_KEY("sni", 0, 1, sni, EC25 | BG96),
        STR_KEY("psk", KEY_PSK, psk_identity, EC25),
        INT_KEY("closetimemode", 0, 1, closetimemode, EC25),
        INT_KEY("session_cache", 0, 1, session_cache, EC25),
        STR_KEY("alpn", KEY_TEXT, alpn, EC25),
        INT_KEY("renegotiation", 0, 1, renegotiation, EC25),
        INT_KEY("ignoremulticertchainverify", 0, 1, ignoremulticertchainverify, EC25),
        INT_KEY("ignoreinvalidcertsign", 0, 1, ignoreinvalidcertsign, EC25),
        INT_KEY("ignorecertitem", 0, 1048575, ignorecertitem, EC25),
        {NULL, KEY_INT, 0, 0, 0, 0, 0},
};

/* EG25-G firmware EG25GGBR07A08M2G_30.203 test output, verbatim (reference §5a). */
static const char ec25_test[] =
        "+QSSLCFG: \"sslversion\",(0-5),(0-4)\n"
        "+QSSLCFG: \"dtls\",(0-5),(0,1)\n"
        "+QSSLCFG: \"dtlsversion\",(0-5),(0,1)\n"
        "+QSSLCFG: \"ciphersuite\",(0-5),(0X0035,0X002F,0X0005,0X000A,0X003D,0XC003,0XC004,"
        "0XC005,0XC008,0XC009,0XC00A,0XC012,0XC013,0XC014,0XC00D,0XC00E,0XC00F,0XC023,0XC024,"
        "0XC025,0XC026,0XC027,0XC028,0XC029,0XC02A,0XC02F,0XC030,0XFFFF)\n"
        "+QSSLCFG: \"cacert\",(0-5),<cacertpath>\n"
        "+QSSLCFG: \"cacertex\",(0-5),<cacertexpath>\n"
        "+QSSLCFG: \"clientcert\",(0-5),<client_cert_path>\n"
        "+QSSLCFG: \"clientkey\",(0-5),<client_key_path>,<key_pwd>\n"
        "+QSSLCFG: \"seclevel\",(0-5),(0-2)\n"
        "+QSSLCFG: \"ignorelocaltime\",(0-5),(0,1)\n"
        "+QSSLCFG: \"negotiatetime\",(0-5),(10-300)\n"
        "+QSSLCFG: \"sni\",(0-5),(0,1)\n"
        "+QSSLCFG: \"psk\",(0-5),<identity>,<key>\n"
        "+QSSLCFG: \"closetimemode\",(0-5),(0,1)\n"
        "+QSSLCFG: \"session_cache\",(0-5),(0,1)\n"
        "+QSSLCFG: \"alpn\",(0-5),<protocolname>\n"
        "+QSSLCFG: \"renegotiation\",(0-5),(0,1)\n"
        "+QSSLCFG: \"ignoremulticertchainverify\",(0-5),(0,1)\n"
        "+QSSLCFG: \"ignoreinvalidcertsign\",(0-5),(0,1)\n"
        "+QSSLCFG: \"ignorecertitem\",(0-5),(0-1048575)";

/* The GSM SSL AN gives only the shape; this list follows its keys and ranges, with the cipher
 * codes written as the EC25 writes them (the AN calls <ciphersuite> numeric). */
static const char m95_test[] = "+QSSLCFG: \"sslversion\",(0-5),(0-4)\n"
                               "+QSSLCFG: \"ciphersuite\",(0-5),(0X0035,0X002F,0X0005,0X0004,"
                               "0X000A,0X003D,0XFFFF)\n"
                               "+QSSLCFG: \"seclevel\",(0-5),(0-2)\n"
                               "+QSSLCFG: \"cacert\",(0-5),\"<cacertname>\"\n"
                               "+QSSLCFG: \"clientcert\",(0-5),\"<clientcertname>\"\n"
                               "+QSSLCFG: \"clientkey\",(0-5),\"<clientkeyname>\"\n"
                               "+QSSLCFG: \"ignorertctime\",(0,1)\n"
                               "+QSSLCFG: \"ctxindex\",(0-5)\n"
                               "+QSSLCFG: \"https\",(0,1)\n"
                               "+QSSLCFG: \"httpsctxi\",(0-5)\n"
                               "+QSSLCFG: \"smtpstyle\",(0-2)\n"
                               "+QSSLCFG: \"smtpsctxi\",(0-5)";

/* Assembled from the BG96 SSL manual's keys and a BG96's cipher list (a RAK5010 document
 * quoting its test output; reference: BG96 notes in the closing note of the dialect issue);
 * checkhost and ignorecertchain are left out (not simulated). */
static const char bg96_test[] =
        "+QSSLCFG: \"sslversion\",(0-5),(0-4)\n"
        "+QSSLCFG: \"ciphersuite\",(0-5),(0X0035,0X002F,0X0005,0X0004,0X000A,0X003D,0XC011,"
        "0XC012,0XC013,0XC014,0XC027,0XC028,0XC02F,0XFFFF)\n"
        "+QSSLCFG: \"cacert\",(0-5),<cacertpath>\n"
        "+QSSLCFG: \"clientcert\",(0-5),<client_cert_path>\n"
        "+QSSLCFG: \"clientkey\",(0-5),<client_key_path>\n"
        "+QSSLCFG: \"seclevel\",(0-5),(0-2)\n"
        "+QSSLCFG: \"sni\",(0-5),(0,1)\n"
        "+QSSLCFG: \"ignorelocaltime\",(0-5),(0,1)\n"
        "+QSSLCFG: \"negotiatetime\",(0-5),(10-300)";

/* What differs between the Quectel models' AT+QSSLCFG (the family's data). */
struct qssl_dialect {
	unsigned keys; /* EC25, M95 or BG96: the keys of the dialect */
	/* Read reply: EC25 echoes the context ("+QSSLCFG: \"sslversion\",1,4", reference §5a);
	 * the M95 does not ("+QSSLCFG: \"sslversion\",<sslversion>", AN §2.2.1). */
	bool ctx_in_reply;
	/* "clientkey": EC25 <client_key_path>,<key_pwd> (reference §5a); the M95's has only
	 * <clientkeyname> (GSM SSL AN 2.2.1). The most parameters the write takes. */
	int clientkey_max_args;
	/* The M95's keys without a context ("ignorertctime", "https", ...). */
	bool globals;
	const char *test;
};

static const struct key_def *find_key(const struct at_param *p, unsigned model)
{
	for (const struct key_def *k = keys; k->key; k++)
		if ((k->models & model) && at_param_is(p, k->key))
			return k;
	return NULL;
}

/* A cipher suite: 0x0035, 0X0035 or "0x0035" (M95 drivers quote it; host-drivers.md item 8). */
static int suite_value(const struct at_param *p, long long *v)
{
	bool hex = false;

	if (p->type == AT_P_NUM) {
		*v = p->num;
		return 0;
	}
	if ((p->type == AT_P_STR || p->type == AT_P_TOKEN) &&
	    at_parse_number(p->s, p->len, v, &hex) == 0)
		return 0;
	return -1;
}

static bool suite_allowed(const struct modem *m, long long v)
{
	const int *all = ssl_model_suites(m);

	if (v == 0xFFFF)
		return true;
	for (size_t i = 0; all[i]; i++)
		if (all[i] == v)
			return true;
	return false;
}

static int *int_field(struct ssl_ctx_cfg *c, const struct key_def *k)
{
	return (int *)((char *)c + k->off);
}

static char *str_field(struct ssl_ctx_cfg *c, const struct key_def *k)
{
	return (char *)c + k->off;
}

static void query_key(struct modem *m, const struct qssl_dialect *d, const struct key_def *k,
                      int ctx)
{
	struct ssl_ctx_cfg *c = &modem_ssl(m)->ctx[ctx];
	char head[64];

	if (!d->ctx_in_reply)
		snprintf(head, sizeof(head), "+QSSLCFG: \"%s\"", k->key);
	else
		snprintf(head, sizeof(head), "+QSSLCFG: \"%s\",%d", k->key, ctx);
	switch (k->kind) {
	case KEY_INT:
		at_info(m, "%s,%d", head, *int_field(c, k));
		break;
	case KEY_SUITE:
		at_info(m, "%s,0X%04X", head, (unsigned)c->ciphersuite);
		break;
	case KEY_PATH:
	case KEY_TEXT:
		at_info(m, "%s,\"%s\"", head, str_field(c, k));
		break;
	case KEY_KEY:
		if (c->keypwd[0])
			at_info(m, "%s,\"%s\",\"%s\"", head, c->clientkey, c->keypwd);
		else
			at_info(m, "%s,\"%s\"", head, c->clientkey);
		break;
	case KEY_PSK:
		at_info(m, "%s,\"%s\",\"%s\"", head, c->psk_identity, c->psk_key);
		break;
	}
}

static int copy_str(struct at_call *c, int i, char *dst, size_t size)
{
	const struct at_param *p = &c->args.p[i];

	if (p->type != AT_P_STR && p->type != AT_P_TOKEN) {
		at_why(c->m, "parameter %d must be a string", i + 1);
		return -1;
	}
	if (at_str(c, i, dst, size) != 0) {
		at_why(c->m, "parameter %d longer than %zu bytes", i + 1, size - 1);
		return -1;
	}
	return 0;
}

static int set_key(struct at_call *c, const struct key_def *k, int ctx)
{
	struct ssl_ctx_cfg *cfg = &modem_ssl(c->m)->ctx[ctx];
	const struct at_param *v = &c->args.p[2];
	long long num;

	switch (k->kind) {
	case KEY_INT:
		if (c->args.n != 3 || v->type != AT_P_NUM || v->num < k->min || v->num > k->max) {
			at_why(c->m, "\"%s\" takes one number %d-%d", k->key, k->min, k->max);
			return AT_ERROR;
		}
		*int_field(cfg, k) = (int)v->num;
		return AT_OK;
	case KEY_SUITE:
		if (c->args.n != 3 || suite_value(v, &num) != 0 || !suite_allowed(c->m, num)) {
			at_why(c->m, "cipher suite not supported by the %s", c->m->model->model);
			return AT_ERROR;
		}
		cfg->ciphersuite = (int)num;
		return AT_OK;
	case KEY_PATH:
	case KEY_TEXT:
		if (c->args.n != 3 || copy_str(c, 2, str_field(cfg, k), k->size))
			return AT_ERROR;
		return AT_OK;
	case KEY_KEY:
		if (c->args.n > ((const struct qssl_dialect *)c->fam->data)->clientkey_max_args ||
		    copy_str(c, 2, cfg->clientkey, sizeof(cfg->clientkey)))
			return AT_ERROR;
		cfg->keypwd[0] = 0;
		if (c->args.n == 4 && copy_str(c, 3, cfg->keypwd, sizeof(cfg->keypwd)))
			return AT_ERROR;
		return AT_OK;
	case KEY_PSK:
		if (c->args.n != 4 ||
		    copy_str(c, 2, cfg->psk_identity, sizeof(cfg->psk_identity)) ||
		    copy_str(c, 3, cfg->psk_key, sizeof(cfg->psk_key)))
			return AT_ERROR;
		return AT_OK;
	}
	return AT_ERROR;
}

/* M95 keys without a context: "ignorertctime", "https", "httpsctxi", "smtpstyle",
 * "smtpsctxi"; and the "ctxindex" summary query. */
static int m95_global(struct at_call *c, bool *handled)
{
	static const struct {
		const char *key;
		int min, max;
		size_t off;
	} globals[] = {
	        {"ignorertctime", 0, 1, offsetof(struct ssl_state, ignorertctime)},
	        {"https", 0, 1, offsetof(struct ssl_state, https)},
	        {"httpsctxi", 0, 5, offsetof(struct ssl_state, httpsctxi)},
	        {"smtpstyle", 0, 2, offsetof(struct ssl_state, smtpstyle)},
	        {"smtpsctxi", 0, 5, offsetof(struct ssl_state, smtpsctxi)},
	};
	struct modem *m = c->m;
	const struct at_param *k = &c->args.p[0];

	*handled = true;
	if (at_param_is(k, "ctxindex")) {
		const struct ssl_ctx_cfg *x;
		long long ctx;

		if (c->args.n != 2 || c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
		    c->args.p[1].num >= SSL_CTX_COUNT)
			return AT_ERROR;
		ctx = c->args.p[1].num;
		x = &modem_ssl(m)->ctx[ctx];
		/* AN 2.2.1: <ciphersuite> is "Numeric type" (written as in the test output),
		 * the three names are strings; the same forms as the single-key queries */
		at_info(m, "+QSSLCFG: %lld,%d,%d,0X%04X,\"%s\",\"%s\",\"%s\"", ctx, x->sslversion,
		        x->seclevel, (unsigned)x->ciphersuite, x->cacert, x->clientcert,
		        x->clientkey);
		return AT_OK;
	}
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++) {
		int *field;

		if (!at_param_is(k, globals[i].key))
			continue;
		field = (int *)((char *)modem_ssl(m) + globals[i].off);
		if (c->args.n == 1) {
			at_info(m, "+QSSLCFG: \"%s\",%d", globals[i].key, *field);
			return AT_OK;
		}
		if (c->args.n != 2 || c->args.p[1].type != AT_P_NUM ||
		    c->args.p[1].num < globals[i].min || c->args.p[1].num > globals[i].max) {
			at_why(m, "\"%s\" takes %d-%d", globals[i].key, globals[i].min,
			       globals[i].max);
			return AT_ERROR;
		}
		*field = (int)c->args.p[1].num;
		return AT_OK;
	}
	*handled = false;
	return AT_ERROR;
}

static int cmd_qsslcfg(struct at_call *c)
{
	struct modem *m = c->m;
	const struct qssl_dialect *d = c->fam->data;
	const struct key_def *k;
	long long ctx;

	if (c->req == AT_REQ_TEST) {
		at_info_lines(m, d->test);
		return AT_OK;
	}
	if (d->globals) {
		bool handled;
		int rc = m95_global(c, &handled);

		if (handled)
			return rc;
	}
	k = find_key(&c->args.p[0], d->keys);
	if (!k) {
		at_why(m, "unknown AT+QSSLCFG key \"%.*s\"", (int)c->args.p[0].len, c->args.p[0].s);
		return AT_ERROR;
	}
	if (c->args.n < 2 || c->args.p[1].type != AT_P_NUM) {
		at_why(m, "\"%s\" needs an SSL context 0-5", k->key);
		return AT_ERROR;
	}
	ctx = c->args.p[1].num;
	if (ctx < 0 || ctx >= SSL_CTX_COUNT) {
		at_why(m, "SSL context %lld outside 0-5", ctx);
		return AT_ERROR;
	}
	if (c->args.n == 2) {
		query_key(m, d, k, (int)ctx);
		return AT_OK;
	}
	return set_key(c, k, (int)ctx);
}

static const struct at_cmd ctx_cmds[] = {
        {"+QSSLCFG", AT_REQ_WRITE | AT_REQ_TEST, 2, 4, AT_SPEC(AT_TEXT(32)), NULL, 0, 0,
         cmd_qsslcfg},
        {0},
};

static const struct qssl_dialect ec25_dialect = {EC25, true, 4, false, ec25_test};

const struct at_family at_family_ssl_ec25 = {
        .name = "ssl-quectel",
        .cmds = ctx_cmds,
        .data = &ec25_dialect,
        .reboot = ssl_init,
};

static const struct qssl_dialect bg96_dialect = {BG96, true, 3, false, bg96_test};

const struct at_family at_family_ssl_bg96 = {
        .name = "ssl-quectel-bg96",
        .cmds = ctx_cmds,
        .data = &bg96_dialect,
        .reboot = ssl_init,
};

static const struct at_cmd m95_cmds[] = {
        {"+QSSLCFG", AT_REQ_WRITE | AT_REQ_TEST, 1, 4, AT_SPEC(AT_TEXT(32)), NULL, 0, 0,
         cmd_qsslcfg},
        {0},
};

static const struct qssl_dialect m95_dialect = {M95, false, 3, true, m95_test};

const struct at_family at_family_ssl_m95 = {
        .name = "ssl-quectel-gsm",
        .cmds = m95_cmds,
        .data = &m95_dialect,
        .reboot = ssl_init,
};
