/* SSL contexts: their defaults, and the TLS configuration a context gives a connection
 * (reference §5a for the EC25, GSM SSL AN V3.3 2.2.1 for the M95). AT+QSSLCFG is at/cmd_ssl.c. */
#include "modem/ssl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modem/modem.h"
#include "store/fs.h"

const int *ssl_model_suites(const struct modem *m)
{
	return m->model->ssl_suites;
}

static void ssl_defaults(struct ssl_state *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < SSL_CTX_MAX; i++) {
		struct ssl_ctx_cfg *c = &s->ctx[i];

		c->sslversion = 4;
		c->ciphersuite = 0xFFFF;
		c->seclevel = 0;
		/* EC25 reads back 1 untouched (reference §5a: EG800K and BG96 logs) */
		c->ignorelocaltime = 1;
		c->negotiatetime = 300;
	}
	/* M95 "ignorertctime" starts at 0 (the RTC is checked): the AN's table lost its
	 * underline, but every example of the note sets it to 1 before opening, which only makes
	 * sense if it is not already 1. "httpsctxi"/"smtpsctxi": -1 until set (AN 2.2.1). */
	s->ignorertctime = 0;
	s->httpsctxi = -1;
	s->smtpsctxi = -1;
}

struct ssl_state *modem_ssl(const struct modem *cm)
{
	struct modem *m = (struct modem *)cm; /* allocated on first use: logically const */

	if (!m->ssl) {
		m->ssl = modem_area_alloc(m, sizeof(*m->ssl), "SSL");
		ssl_defaults(m->ssl);
	}
	return m->ssl;
}

/* Init and reboot: the defaults (a state never used has them already). */
void ssl_init(struct modem *m)
{
	if (m->ssl)
		ssl_defaults(m->ssl);
}

/* A file the context names. Not named: *data stays NULL and the TLS adapter decides (its cause
 * for a missing CA; no client certificate unless one is named). Named but absent: the open
 * fails here, before any byte goes out, as the adapter does for a file that does not parse. */
static int load_file(struct modem *m, const char *what, const char *name, const uint8_t **data,
                     size_t *len, const char **cfg_name, char *cause, size_t cause_len)
{
	*data = NULL;
	*len = 0;
	*cfg_name = NULL;
	if (!name[0])
		return 0;
	if (fs_get(&m->fs, name, data, len) != 0) {
		snprintf(cause, cause_len, "%s %s: no such file in the modem", what, name);
		return -1;
	}
	*cfg_name = name;
	return 0;
}

/* RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName". */
static bool is_ip_literal(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int ssl_params_build(struct modem *m, int ctx, const char *host, struct ssl_params *p, char *cause,
                     size_t cause_len)
{
	const struct ssl_ctx_cfg *c;
	struct tls_config *cfg = &p->cfg;
	const int *all = ssl_model_suites(m);
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	if (ctx < 0 || ctx >= m->model->ssl_ctx_count) {
		snprintf(cause, cause_len, "SSL context %d outside 0-%d", ctx,
		         m->model->ssl_ctx_count - 1);
		return -1;
	}
	/* host-drivers.md item 13: only this context's settings, never another's */
	c = &modem_ssl(m)->ctx[ctx];
	snprintf(p->host, sizeof(p->host), "%s", host);
	switch (c->sslversion) {
	case 0:
		snprintf(cause, cause_len,
		         "sslversion 0 (SSL 3.0) is not offered by the TLS "
		         "library; the handshake cannot succeed");
		return -1;
	case 1:
	case 2:
	case 3:
		cfg->version_min = cfg->version_max = (enum tls_version)c->sslversion;
		break;
	default:
		cfg->version_min = TLS_V1_0;
		cfg->version_max = TLS_V1_2;
		break;
	}
	for (size_t i = 0; all[i] && n + 1 < sizeof(p->suites) / sizeof(p->suites[0]); i++)
		if (c->ciphersuite == 0xFFFF || c->ciphersuite == all[i])
			p->suites[n++] = all[i];
	p->suites[n] = 0;
	cfg->ciphersuites = p->suites;
	cfg->verify = c->seclevel == 3 ? TLS_VERIFY_NONE : (enum tls_verify)c->seclevel;
	if (c->seclevel == 1 || c->seclevel == 2) {
		if (load_file(m, "cacert", c->cacert, &cfg->ca, &cfg->ca_len, &cfg->ca_name, cause,
		              cause_len))
			return -1;
		/* reference §8 item 13: a wrong host name fails like any certificate error */
		cfg->verify_host = p->host;
	}
	/* seclevel 2 is "server and client authentication if requested by the remote server"
	 * (GSM SSL AN 2.2.1): the client files go out only when the server asks for them. */
	if (c->seclevel == 2) {
		if (load_file(m, "clientcert", c->clientcert, &cfg->cert, &cfg->cert_len,
		              &cfg->cert_name, cause, cause_len) ||
		    load_file(m, "clientkey", c->clientkey, &cfg->key, &cfg->key_len,
		              &cfg->key_name, cause, cause_len))
			return -1;
		cfg->key_password = c->keypwd[0] ? c->keypwd : NULL;
	}
	/* "sni" is the EC25's; off by default (reference §5a). An address is never sent as a
	 * name (RFC 6066 3), a choice where the module's manual is silent. */
	cfg->sni = c->sni && !is_ip_literal(p->host) ? p->host : NULL;
	if (m->model->ssl_rtc_global) {
		cfg->ignore_time = modem_ssl(m)->ignorertctime != 0;
	} else {
		cfg->ignore_time = c->ignorelocaltime != 0;
		p->negotiate_s = c->negotiatetime;
	}
	cfg->now = modem_rtc_ms(m) / 1000;
	cfg->seed = (uint64_t)m->index;
	return 0;
}
