/* SSL contexts (AT+QSSLCFG): six per modem, each with its own settings (host-drivers.md item
 * 13: never apply one context's settings to another). RAM-only: a reboot restores defaults
 * (reference §5a, EG800K log). */
#ifndef MODEMSIM_MODEM_SSL_H
#define MODEMSIM_MODEM_SSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/tls.h"

struct modem;

/* The Quectel models' six contexts (their families' ranges); a profile's ssl_ctx_count says
 * how many a model has (SIMCom: 10), at most SSL_CTX_MAX. */
#define SSL_CTX_COUNT 6
#define SSL_CTX_MAX 10
#define SSL_PATH_MAX 96

struct ssl_ctx_cfg {
	int sslversion; /* 0 SSL3.0, 1 TLS1.0, 2 TLS1.1, 3 TLS1.2, 4 all */
	int ciphersuite; /* module code; 0xFFFF: all the model supports */
	/* 0 none, 1 server, 2 server and client; 3 (SIMCom authmode 3, "client only"): no
	 * server check, as 0 (the A76XX manual: "3 behaves like 0") */
	int seclevel;
	char cacert[SSL_PATH_MAX];
	char cacertex[SSL_PATH_MAX]; /* EC25: kept and read back only (see at/cmd_ssl.c) */
	char clientcert[SSL_PATH_MAX];
	char clientkey[SSL_PATH_MAX];
	char keypwd[64];
	int ignorelocaltime; /* EC25; the M95 has one global "ignorertctime" */
	int negotiatetime; /* seconds */
	int sni;
	int dtls;
	int dtlsversion;
	int closetimemode;
	int session_cache;
	int renegotiation;
	int ignoremulticertchainverify;
	int ignoreinvalidcertsign;
	int ignorecertitem;
	char alpn[64];
	char psk_identity[64];
	char psk_key[130];
};

struct ssl_state {
	struct ssl_ctx_cfg ctx[SSL_CTX_MAX];
	int ignorertctime; /* M95 */
	int https; /* M95 "https" / "httpsctxi" / "smtpstyle" / "smtpsctxi": kept only */
	int httpsctxi;
	int smtpstyle;
	int smtpsctxi;
};

/* The SSL contexts, allocated with their defaults on first use (modem_area_alloc). */
struct ssl_state *modem_ssl(const struct modem *m);
/* Init and reboot: every context back to its defaults. */
void ssl_init(struct modem *m);

/* Everything a TLS session needs from a context, with the storage behind the pointers. */
struct ssl_params {
	struct tls_config cfg;
	int suites[40];
	char host[128];
	/* EC25 "negotiatetime": the handshake limit in seconds, for the caller's open timer
	 * (tls_config has no timer of its own); 0 when the model has no such key (M95). */
	int negotiate_s;
};

/* Build the TLS configuration of context ctx for a connection to host. Returns 0, or -1 with
 * a cause for the trace (e.g. "cacert RAM:ca.pem: no such file in the modem", "sslversion 0
 * (SSL 3.0) ..."). A file the level needs but the context does not name is left to the TLS
 * adapter, which words the cause (CA) or sends no certificate (client, seclevel 2). The
 * pointers in p->cfg point into p and into the modem's file store: use them before the next
 * AT command can change either. */
int ssl_params_build(struct modem *m, int ctx, const char *host, struct ssl_params *p, char *cause,
                     size_t cause_len);

/* Cipher suite codes of the model, for AT+QSSLCFG validation and for "0xFFFF". */
const int *ssl_model_suites(const struct modem *m);

#endif
