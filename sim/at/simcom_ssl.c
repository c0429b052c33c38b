/* SIMCom SSL contexts: AT+CSSLCFG (SIM7600 manual V3.00 10.2.12, A76XX manual V1.09 19.2.1;
 * reference §6.1), ten contexts (0-9) in modem/ssl.h's struct ssl_ctx_cfg (authmode in
 * .seclevel, enableSNI in .sni), and the TLS configuration a context gives the MQTT, CCH and
 * socket families (simcom_ssl_params, at/simcom.h). The files are named as AT+CCERTDOWN named
 * them (no drive): the certificate store's drive takes bare names (modem/profile.c). */
#include <stdio.h>

#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

const struct ssl_ctx_cfg *simcom_ssl_ctx(struct modem *m, int ctx)
{
	if (ctx < 0 || ctx >= simcom_ssl_ctx_count(m))
		return NULL;
	return &m->ssl.ctx[ctx];
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
	return ssl_params_build(m, ctx, host, p, cause, cause_len) ? -1 : 0;
}

static const struct at_cmd ssl_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_ssl_simcom = {
        .name = "ssl-simcom",
        .cmds = ssl_simcom_cmds,
};
