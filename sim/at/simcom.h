/* What the SIMCom families (SIM7600, A7670, SIM7670G) share: the IP stack of AT+NETOPEN
 * (at/simcom_ip.c), the SSL contexts of AT+CSSLCFG with their certificates in the store of
 * AT+CCERTDOWN (at/simcom_ssl.c, at/simcom_cert.c), the data prompt with the A76XX echo, and
 * the conflicts between the services (CMQTTSTART after CCHSTART, seed 002).
 *
 * The per-model differences are profile data: m->model->simcom (struct simcom_traits,
 * modem/profile.h) and the revision's quirks (modem_quirk(m, QUIRK_*)). */
#ifndef MODEMSIM_AT_SIMCOM_H
#define MODEMSIM_AT_SIMCOM_H

#include <stdbool.h>
#include <stddef.h>

#include "at/dispatch.h"
#include "modem/modem.h"
#include "modem/profile.h"
#include "modem/ssl.h"

/* ---- the IP stack (AT+NETOPEN / AT+NETCLOSE, at/simcom_ip.c) ---- */

/* NETOPEN's PDP context: SIMCom's sockets, CCH and CMQTT use context 1 unless AT+CSOCKSETPN
 * says otherwise (not simulated). */
#define SIMCOM_NET_CID 1

/* Is the network open (AT+NETOPEN? answers 1)? */
bool simcom_net_is_open(struct modem *m);
/* The local address of the open network (AT+IPADDR), or NULL when it is not open. */
const char *simcom_net_ip(struct modem *m);

enum simcom_net_event {
	/* `+NETOPEN: 0` was queued: the stack is open */
	SIMCOM_NET_OPENED,
	/* AT+NETCLOSE runs (its OK follows): every socket on the stack closes now; on A76XX
	 * (traits.netclose_cipclose) a socket family queues `+CIPCLOSE: <link>,<err>` for each
	 * of its links with modem_urc(), so that they come after OK and before +NETCLOSE: 0
	 * (A76XX manual 15.2.2) */
	SIMCOM_NET_CLOSING,
	/* the network dropped the context: `+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY` was queued
	 * (reference §7.1); sockets and clients are gone (+CMQTTCONNLOST <i>,3, +CMQTTNONET) */
	SIMCOM_NET_LOST,
};

typedef void (*simcom_net_cb)(struct modem *m, enum simcom_net_event ev, void *arg);

#define SIMCOM_NET_OBSERVERS_MAX 8

/* Be told of the stack's events. Call it from a family's init: the IP family comes before
 * its users in the profiles' lists, and observers last until shutdown (a reboot keeps them;
 * it closes the stack without an event, as the host asked for it). 0, or -ERR_NOSPC, or
 * -ERR_INVAL when the profile has no IP family. */
int simcom_net_observe(struct modem *m, simcom_net_cb cb, void *arg);

/* ---- SSL contexts (AT+CSSLCFG, at/simcom_ssl.c) ---- */

/* How many contexts the model has (10: 0-9, reference §6.1). */
static inline int simcom_ssl_ctx_count(const struct modem *m)
{
	return m->model->ssl_ctx_count;
}

/* The settings of context ctx, or NULL outside 0 .. count-1. sslversion (0-4), authmode in
 * .seclevel (0 none, 1 server, 2 server and client, 3 client only), cacert/clientcert/
 * clientkey (names in the certificate store), ignorelocaltime, negotiatetime, sni
 * (enableSNI), keypwd. */
const struct ssl_ctx_cfg *simcom_ssl_ctx(struct modem *m, int ctx);

/* The context needs a certificate it does not name (authmode 1 or 2 without a cacert, 2 or 3
 * without a clientcert/clientkey): MQTT's err 33 "not set certificate", CCH's 19. */
#define SIMCOM_SSL_NOCERT (-2)

/* The TLS configuration of context ctx for a connection to host (its SNI when enableSNI is 1,
 * the name checked when authmode verifies the server), as ssl_params_build gives it, with
 * the files read from the certificate store by their names. 0; -1 with a cause for the trace
 * (a named file absent, sslversion 0 ...): a handshake failure; SIMCOM_SSL_NOCERT with a
 * cause. p->negotiate_s is negotiatetime. */
int simcom_ssl_params(struct modem *m, int ctx, const char *host, struct ssl_params *p, char *cause,
                      size_t cause_len);

/* ---- MQTT ---- */

/* The MQTT protocol level a client gets when the host selects none: 3 on a revision with
 * QUIRK_MQTT_DEFAULT_31, else the profile's. */
static inline int simcom_mqtt_version_default(const struct modem *m)
{
	return modem_quirk(m, QUIRK_MQTT_DEFAULT_31) ? 3 : m->model->simcom.mqtt_version_default;
}

/* ---- the data prompt ---- */

/* AT+CCERTDOWN, AT+CMQTTTOPIC ...: print the profile's prompt (`\r\n>`) and take exactly n
 * bytes (at_prompt's contract: ops->end with AT_END_COUNT or AT_END_ABANDON). On a revision
 * with QUIRK_PROMPT_ECHO the bytes go back to the host as they arrive (reference §1.4). */
void simcom_prompt(struct modem *m, size_t n, const struct at_data_ops *ops, void *arg);

/* ---- the services' conflicts ---- */

/* Is the SSL socket service started (AT+CCHSTART, at/simcom_cch.c)? Seed 002: a SIM7670G
 * answers ERROR to AT+CMQTTSTART then. */
bool simcom_cch_started(struct modem *m);
/* Is the MQTT service started (AT+CMQTTSTART, at/simcom_mqtt.c)? */
bool simcom_mqtt_started(struct modem *m);

#endif
