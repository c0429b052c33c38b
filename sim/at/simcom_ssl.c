/* SIMCom SSL contexts: AT+CSSLCFG (SIM7600 manual V3.00 10.2.12, A76XX manual V1.09 19.2.1;
 * reference §6.1), ten contexts (0-9) in modem/ssl.h's struct ssl_ctx_cfg (authmode in
 * .seclevel, enableSNI in .sni), and the TLS configuration a context gives the MQTT, CCH and
 * socket families (simcom_ssl_params, at/simcom.h). The files are named as AT+CCERTDOWN named
 * them (no drive): the certificate store's drive takes bare names (modem/profile.c).
 *
 * Wire sequences (seed 003, reference §6.1):
 *   ==> AT+CSSLCFG="sslversion",0,4          <== OK   (LE11B02SIM7500A: ERROR)
 *   ==> AT+CSSLCFG="authmode",0,2            <== OK
 *   ==> AT+CSSLCFG="cacert",0,"cacert.pem"   <== OK
 *   ==> AT+CSSLCFG?      <== +CSSLCFG: 0,4,2,1,300,"cacert.pem","","",0,"",0xFFFF ... OK
 *   ==> AT+CSSLCFG=0     <== that context's line only
 *
 * Choices where the sources are silent: a file named need not exist yet (it is read when a
 * connection opens, and a missing one fails it then); a key the model does not have
 * (SIM7600 "password", A76XX "keypwd"/"ciphersuites") and a value out of range are a plain
 * ERROR; "keypwd" holds at most 63 bytes (the manual allows 128); the SIM7600 read line
 * prints its ciphersuites as 0x%04X. The contexts are RAM: a reboot restores the defaults
 * (reference §6.1, "the context is lost on modem reset while the cert files survive"). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

const struct ssl_ctx_cfg *simcom_ssl_ctx(struct modem *m, int ctx)
{
	if (ctx < 0 || ctx >= simcom_ssl_ctx_count(m))
		return NULL;
	return &modem_ssl(m)->ctx[ctx];
}

int simcom_ssl_params(struct modem *m, int ctx, const char *host, struct ssl_params *p, char *cause,
                      size_t cause_len)
{
	const struct ssl_ctx_cfg *c = simcom_ssl_ctx(m, ctx);

	if (!c) {
		snprintf(cause, cause_len, "SSL context %d outside 0-%d", ctx,
		         simcom_ssl_ctx_count(m) - 1);
		return -1;
	}
	/* reference §5: "authmode >= 1 with no CA file configured -> 33"; the client files of
	 * authmode 2 likewise (the module cannot offer what it was not told) */
	if ((c->seclevel == 1 || c->seclevel == 2) && !c->cacert[0]) {
		snprintf(cause, cause_len, "authmode %d needs a cacert: context %d names none",
		         c->seclevel, ctx);
		return SIMCOM_SSL_NOCERT;
	}
	if (c->seclevel == 2 && (!c->clientcert[0] || !c->clientkey[0])) {
		snprintf(cause, cause_len,
		         "authmode 2 needs a clientcert and a clientkey: context %d lacks one",
		         ctx);
		return SIMCOM_SSL_NOCERT;
	}
	if (ssl_params_build(m, ctx, host, p, cause, cause_len) != 0)
		return -1;
	/* A76XX "password" names a key-password file (ASR1603 only), not a password */
	if (m->model->simcom.cssl_a76)
		p->cfg.key_password = NULL;
	return 0;
}

static void print_ctx(struct modem *m, int i)
{
	const struct ssl_ctx_cfg *c = &modem_ssl(m)->ctx[i];

	if (m->model->simcom.cssl_a76)
		/* A76XX: ctx,ver,auth,ignoretime,negtime,ca,cert,key,password,sni (reference §6.1)
		 */
		at_info(m, "+CSSLCFG: %d,%d,%d,%d,%d,\"%s\",\"%s\",\"%s\",\"%s\",%d", i,
		        c->sslversion, c->seclevel, c->ignorelocaltime, c->negotiatetime, c->cacert,
		        c->clientcert, c->clientkey, c->keypwd, c->sni);
	else
		/* SIM7600: ...,ca,cert,key,enableSNI,keypwd,ciphersuites */
		at_info(m, "+CSSLCFG: %d,%d,%d,%d,%d,\"%s\",\"%s\",\"%s\",%d,\"%s\",0x%04X", i,
		        c->sslversion, c->seclevel, c->ignorelocaltime, c->negotiatetime, c->cacert,
		        c->clientcert, c->clientkey, c->sni, c->keypwd, (unsigned)c->ciphersuite);
}

static void print_test(struct modem *m)
{
	int n = simcom_ssl_ctx_count(m) - 1, fmax = m->model->simcom.cert_name_max;

	at_info(m, "+CSSLCFG: \"sslversion\",(0-%d),(0-4)", n);
	at_info(m, "+CSSLCFG: \"authmode\",(0-%d),(0-3)", n);
	at_info(m, "+CSSLCFG: \"ignorelocaltime\",(0-%d),(0,1)", n);
	at_info(m, "+CSSLCFG: \"negotiatetime\",(0-%d),(10-300)", n);
	at_info(m, "+CSSLCFG: \"cacert\",(0-%d),(5-%d)", n, fmax);
	at_info(m, "+CSSLCFG: \"clientcert\",(0-%d),(5-%d)", n, fmax);
	at_info(m, "+CSSLCFG: \"clientkey\",(0-%d),(5-%d)", n, fmax);
	at_info(m, "+CSSLCFG: \"enableSNI\",(0-%d),(0,1)", n);
	if (m->model->simcom.cssl_a76) {
		at_info(m, "+CSSLCFG: \"password\",(0-%d),(5-%d)", n, fmax);
	} else {
		at_info(m, "+CSSLCFG: \"keypwd\",(0-%d),(0-128)", n);
		at_info(m, "+CSSLCFG: \"ciphersuites\",(0-%d),(0x002F,0xFFFF)", n);
	}
}

enum key_kind { K_NUM, K_FILE, K_TEXT };

struct cssl_key {
	const char *name;
	enum key_kind kind;
	int lo, hi;
	int model; /* 0 both, 1 SIM7600 only, 2 A76XX only */
};

static const struct cssl_key keys[] = {
        {"sslversion", K_NUM, 0, 4, 0},      {"authmode", K_NUM, 0, 3, 0},
        {"ignorelocaltime", K_NUM, 0, 1, 0}, {"negotiatetime", K_NUM, 10, 300, 0},
        {"cacert", K_FILE, 0, 0, 0},         {"clientcert", K_FILE, 0, 0, 0},
        {"clientkey", K_FILE, 0, 0, 0},      {"enableSNI", K_NUM, 0, 1, 0},
        {"keypwd", K_TEXT, 0, 63, 1},        {"ciphersuites", K_NUM, 0, 0xFFFF, 1},
        {"password", K_FILE, 0, 0, 2},
};

static int *num_field(struct ssl_ctx_cfg *c, const char *key)
{
	if (strcasecmp(key, "sslversion") == 0)
		return &c->sslversion;
	if (strcasecmp(key, "authmode") == 0)
		return &c->seclevel;
	if (strcasecmp(key, "ignorelocaltime") == 0)
		return &c->ignorelocaltime;
	if (strcasecmp(key, "negotiatetime") == 0)
		return &c->negotiatetime;
	if (strcasecmp(key, "enableSNI") == 0)
		return &c->sni;
	return &c->ciphersuite;
}

static char *text_field(struct ssl_ctx_cfg *c, const char *key)
{
	if (strcasecmp(key, "cacert") == 0)
		return c->cacert;
	if (strcasecmp(key, "clientcert") == 0)
		return c->clientcert;
	if (strcasecmp(key, "clientkey") == 0)
		return c->clientkey;
	return c->keypwd; /* "keypwd", and A76XX "password" (a key-password file's name) */
}

/* A file name as AT+CCERTDOWN takes it: 5 to cert_name_max bytes, ".pem" or ".der". */
static bool file_ok(const struct modem *m, const char *s, size_t n)
{
	if (n < 5 || n > (size_t)m->model->simcom.cert_name_max || n >= SSL_PATH_MAX)
		return false;
	return memcmp(s + n - 4, ".pem", 4) == 0 || memcmp(s + n - 4, ".der", 4) == 0;
}

static int cmd_csslcfg(struct at_call *c)
{
	struct modem *m = c->m;
	const struct at_param *kp = &c->args.p[0];
	const struct cssl_key *k = NULL;
	char key[24];
	struct ssl_ctx_cfg *ctx;
	int ci;

	switch (c->req) {
	case AT_REQ_TEST:
		print_test(m);
		return AT_OK;
	case AT_REQ_READ:
		for (int i = 0; i < simcom_ssl_ctx_count(m); i++)
			print_ctx(m, i);
		return AT_OK;
	case AT_REQ_EXEC:
		return AT_ERROR;
	case AT_REQ_WRITE:
		break;
	}
	/* AT+CSSLCFG=<ctx>: that context's line */
	if (kp->type == AT_P_NUM) {
		if (c->args.n != 1 || kp->num < 0 || kp->num >= simcom_ssl_ctx_count(m))
			return AT_ERROR;
		print_ctx(m, (int)kp->num);
		return AT_OK;
	}
	if ((kp->type != AT_P_STR && kp->type != AT_P_TOKEN) || kp->len >= sizeof(key) ||
	    c->args.n != 3 || c->args.p[1].type != AT_P_NUM)
		return AT_ERROR;
	memcpy(key, kp->s, kp->len);
	key[kp->len] = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k || (k->model == 1 && m->model->simcom.cssl_a76) ||
	    (k->model == 2 && !m->model->simcom.cssl_a76)) {
		at_why(m, "no key \"%s\" on this model", key);
		return AT_ERROR;
	}
	ci = (int)c->args.p[1].num;
	if (c->args.p[1].num < 0 || ci >= simcom_ssl_ctx_count(m))
		return AT_ERROR;
	ctx = &modem_ssl(m)->ctx[ci];
	/* seed 003: firmware LE11B02SIM7500A refuses the key the others take */
	if (strcasecmp(k->name, "sslversion") == 0 && modem_quirk(m, QUIRK_SSLVERSION_ERROR)) {
		at_why(m, "revision %s answers ERROR to \"sslversion\"", m->model->revision);
		return AT_ERROR;
	}
	switch (k->kind) {
	case K_NUM: {
		const struct at_param *v = &c->args.p[2];

		if (v->type != AT_P_NUM || v->num < k->lo || v->num > k->hi)
			return AT_ERROR;
		/* SIM7600 10.2.12: 0x002F or 0xFFFF ("support all") */
		if (strcasecmp(k->name, "ciphersuites") == 0 && v->num != 0x002F &&
		    v->num != 0xFFFF)
			return AT_ERROR;
		*num_field(ctx, k->name) = (int)v->num;
		return AT_OK;
	}
	case K_FILE:
	case K_TEXT: {
		const struct at_param *v = &c->args.p[2];
		char *dst = text_field(ctx, k->name);

		if (v->type != AT_P_STR && v->type != AT_P_TOKEN)
			return AT_ERROR;
		if (k->kind == K_FILE ? !file_ok(m, v->s, v->len) : v->len > (size_t)k->hi) {
			at_why(m, "bad %s value", k->name);
			return AT_ERROR;
		}
		memcpy(dst, v->s, v->len);
		dst[v->len] = 0;
		return AT_OK;
	}
	}
	return AT_ERROR;
}

static const struct at_cmd ssl_simcom_cmds[] = {
        {"+CSSLCFG", AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST | AT_REQ_EXEC, 1, 3, NULL, 0, NULL, 0,
         0, cmd_csslcfg},
        {0},
};

const struct at_family at_family_ssl_simcom = {
        .name = "ssl-simcom",
        .cmds = ssl_simcom_cmds,
        .reboot = ssl_init,
};
