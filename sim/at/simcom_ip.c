/* SIMCom's IP stack: AT+NETOPEN, AT+NETCLOSE, AT+IPADDR, AT+CDNSCFG (SIM7600 manual V3.00
 * 11.2, A76XX manual V1.09 15.2; reference §7.1), and what the other SIMCom families ask of it
 * (at/simcom.h): whether the network is open, its events, and the data prompt with the A76XX
 * echo. The family's state is the SIMCom state the others share.
 *
 * Wire sequences (reference §7.1, seed 003, A76XX manual 15.2.1-15.2.7):
 *   ==> AT+NETOPEN    <== OK, then +NETOPEN: 0            (already open: +IP ERROR: Network is
 *                                                           already opened, ERROR)
 *   ==> AT+NETOPEN?   <== +NETOPEN: 1  OK
 *   ==> AT+IPADDR     <== +IPADDR: 10.100.0.13  OK        (closed: +IP ERROR: Network not
 *                                                           opened, ERROR)
 *   ==> AT+NETCLOSE   <== OK, [+CIPCLOSE: <link>,0 ... (A76XX)], +NETCLOSE: 0
 *                                                          (closed: +NETCLOSE: 2, ERROR)
 *   network drops context 1 while open: +CIPEVENT: NETWORK CLOSED UNEXPECTEDLY
 *
 * Choices where the sources are silent:
 *   - NETOPEN activates context 1 if it is not active (the manual: "start service by
 *     activating PDP context"); it needs the radio on and the registration, else OK then
 *     +NETOPEN: 1 (network failure).
 *   - NETCLOSE closes the stack, not the context: the LTE default bearer stays up (the
 *     A76XX boot announces it with +CGEV: EPS PDN ACT 1) and CMQTT, which does not need
 *     NETOPEN (reference §3.1), keeps it.
 *   - A NETOPEN while one is in flight answers ERROR.
 *   - AT+CDNSCFG (A76XX manual 15.2.20, not in the SIM7600 V3.00 manual: both models
 *     answer it the A76XX way) is kept and read back; names still resolve through the
 *     simulator's resolver (--resolve). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"

struct net_observer {
	simcom_net_cb cb;
	void *arg;
};

#define NETOPEN_MS 400 /* realistic latency of +NETOPEN: 0 (seed 003: about 10 ms to 1 s) */
#define NETCLOSE_MS 200
#define DNS_MAX 64

struct ip_state {
	bool open; /* AT+NETOPEN succeeded and no NETCLOSE or loss since */
	struct modem_timer *timer; /* +NETOPEN / +NETCLOSE in flight */
	bool opening;
	char dns_pri[DNS_MAX], dns_sec[DNS_MAX];
	struct net_observer obs[SIMCOM_NET_OBSERVERS_MAX];
	int nobs;
	/* the data prompt in progress (simcom_prompt): its owner's ops, wrapped for the echo */
	const struct at_data_ops *prompt_ops;
	void *prompt_arg;
};

static struct ip_state *state_of(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_ip_simcom);

	return slot ? *slot : NULL;
}

bool simcom_net_is_open(struct modem *m)
{
	struct ip_state *st = state_of(m);

	return st && st->open;
}

const char *simcom_net_ip(struct modem *m)
{
	return simcom_net_is_open(m) ? pdp_local_ip(m, SIMCOM_NET_CID) : NULL;
}

int simcom_net_observe(struct modem *m, simcom_net_cb cb, void *arg)
{
	struct ip_state *st = state_of(m);

	if (!st)
		return -ERR_INVAL;
	if (st->nobs == SIMCOM_NET_OBSERVERS_MAX)
		return -ERR_NOSPC;
	st->obs[st->nobs].cb = cb;
	st->obs[st->nobs].arg = arg;
	st->nobs++;
	return 0;
}

static void notify(struct modem *m, struct ip_state *st, enum simcom_net_event ev)
{
	for (int i = 0; i < st->nobs; i++)
		st->obs[i].cb(m, ev, st->obs[i].arg);
}

static void set_open(struct modem *m, struct ip_state *st, bool open)
{
	if (st->open != open)
		trace_event(m->index, "netopen", "%s -> %s", st->open ? "open" : "closed",
		            open ? "open" : "closed");
	st->open = open;
}

/* ---- AT+NETOPEN / AT+NETCLOSE / AT+IPADDR ---- */

static bool valid_ip(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

static void netopen_done(struct modem *m, void *arg)
{
	struct ip_state *st = arg;

	st->timer = NULL;
	st->opening = false;
	if (m->cfun != 1 || !reg_registered(m)) {
		modem_urc(m, "+NETOPEN: 1"); /* 1: network failure (reference §7.1) */
		return;
	}
	if (!pdp_active(m, SIMCOM_NET_CID))
		pdp_activate(m, SIMCOM_NET_CID);
	set_open(m, st, true);
	modem_urc(m, "+NETOPEN: 0");
	notify(m, st, SIMCOM_NET_OPENED);
}

static int cmd_netopen(struct at_call *c)
{
	struct ip_state *st = state_of(c->m);

	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "+NETOPEN: %d", st->open ? 1 : 0);
		return AT_OK;
	case AT_REQ_TEST:
		return AT_OK;
	case AT_REQ_EXEC:
		break;
	case AT_REQ_WRITE:
		return AT_ERROR;
	}
	if (st->open) {
		at_info(c->m, "+IP ERROR: Network is already opened");
		return AT_ERROR;
	}
	if (st->opening) {
		at_why(c->m, "a NETOPEN is in flight");
		return AT_ERROR;
	}
	st->opening = true;
	st->timer = modem_after(c->m, modem_latency(c->m, NETOPEN_MS), netopen_done, st);
	return AT_OK;
}

static void netclose_done(struct modem *m, void *arg)
{
	struct ip_state *st = arg;

	st->timer = NULL;
	modem_urc(m, "+NETCLOSE: 0");
}

static int cmd_netclose(struct at_call *c)
{
	struct ip_state *st = state_of(c->m);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!st->open || st->timer) {
		/* 2: network not opened (reference §7.1; [LILY-NET] accepts +NETCLOSE: 2) */
		at_info(c->m, "+NETCLOSE: 2");
		return AT_ERROR;
	}
	set_open(c->m, st, false);
	/* the sockets close now: their +CIPCLOSE lines (A76XX) queue before +NETCLOSE */
	notify(c->m, st, SIMCOM_NET_CLOSING);
	st->timer = modem_after(c->m, modem_latency(c->m, NETCLOSE_MS), netclose_done, st);
	return AT_OK;
}

static int cmd_ipaddr(struct at_call *c)
{
	const char *ip = simcom_net_ip(c->m);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!ip) {
		at_info(c->m, "+IP ERROR: Network not opened");
		return AT_ERROR;
	}
	at_info(c->m, "+IPADDR: %s", ip);
	return AT_OK;
}

/* AT+CDNSCFG=<pri_dns>[,<sec_dns>[,<type>]]: quoted (seed 002) or bare (the manual's
 * example) addresses; IPv4 only is kept (type 1 is accepted and ignored). */
static int cmd_cdnscfg(struct at_call *c)
{
	struct ip_state *st = state_of(c->m);
	char pri[DNS_MAX], sec[DNS_MAX] = "";

	switch (c->req) {
	case AT_REQ_TEST:
		at_info(c->m, "+CDNSCFG: (\"Primary DNS\"),(\"Secondary DNS\"),type");
		return AT_OK;
	case AT_REQ_READ:
		at_info(c->m, "Primary IPv4 DNS: %s,Secondary IPv4 DNS: %s", st->dns_pri,
		        st->dns_sec);
		at_info(c->m, "Primary IPv6 DNS: ::,Secondary IPv6 DNS: ::");
		return AT_OK;
	case AT_REQ_EXEC:
		return AT_ERROR;
	case AT_REQ_WRITE:
		break;
	}
	if (at_str(c, 0, pri, sizeof(pri)) || (at_given(c, 1) && at_str(c, 1, sec, sizeof(sec))))
		return AT_ERROR;
	if (!valid_ip(pri) || (sec[0] && !valid_ip(sec))) {
		at_why(c->m, "not an address");
		return AT_ERROR;
	}
	if (at_given(c, 2) && at_num(c, 2) == 1)
		return AT_OK;
	snprintf(st->dns_pri, sizeof(st->dns_pri), "%s", pri);
	if (sec[0])
		snprintf(st->dns_sec, sizeof(st->dns_sec), "%s", sec);
	return AT_OK;
}

static void prompt_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct ip_state *st = arg;

	/* reference §1.4: A76XX firmware echoes the data even with ATE0 */
	if (modem_quirk(m, QUIRK_PROMPT_ECHO))
		at_send(m, p, n);
	st->prompt_ops->data(m, st->prompt_arg, p, n);
}

static void prompt_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct ip_state *st = arg;
	const struct at_data_ops *ops = st->prompt_ops;

	st->prompt_ops = NULL;
	ops->end(m, st->prompt_arg, why);
}

static const struct at_data_ops prompt_wrap = {.data = prompt_data, .end = prompt_end};

void simcom_prompt(struct modem *m, size_t n, const struct at_data_ops *ops, void *arg)
{
	struct ip_state *st = state_of(m);

	if (!st) {
		at_prompt(m, n, ops, arg);
		return;
	}
	st->prompt_ops = ops;
	st->prompt_arg = arg;
	at_prompt(m, n, &prompt_wrap, st);
}

static void dns_defaults(struct ip_state *st)
{
	/* the network's servers (modem/pdp.c's DNS4_PRI/SEC) */
	snprintf(st->dns_pri, sizeof(st->dns_pri), "10.200.0.10");
	snprintf(st->dns_sec, sizeof(st->dns_sec), "10.200.0.11");
}

static int ip_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct ip_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ERR_NOMEM;
	dns_defaults(st);
	*slot = st;
	return 0;
}

/* Context 1 went down under the open stack: by the network, +CIPEVENT (reference §7.1); by the
 * host (AT+CGACT=0,1), silently. Either way the stack is closed and its users are told. */
static void ip_pdp_down(struct modem *m, int cid, bool by_network)
{
	struct ip_state *st = state_of(m);

	if (!st || cid != SIMCOM_NET_CID || !st->open)
		return;
	set_open(m, st, false);
	if (by_network)
		modem_urc(m, "+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY");
	notify(m, st, SIMCOM_NET_LOST);
}

/* AT+CFUN=1,1: the stack is closed; the observers stay (they belong to the families). */
static void ip_reboot(struct modem *m)
{
	struct ip_state *st = state_of(m);

	if (!st)
		return;
	st->open = false;
	st->opening = false;
	st->timer = NULL; /* cancelled with the modem's timers */
	dns_defaults(st);
}

static void ip_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_ip_simcom);

	if (slot) {
		free(*slot);
		*slot = NULL;
	}
}

#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)

static const struct at_cmd ip_simcom_cmds[] = {
        {"+NETOPEN", AT_REQ_EXEC | RWT, 0, 0, NULL, 0, NULL, 0, 0, cmd_netopen},
        {"+NETCLOSE", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_netclose},
        {"+IPADDR", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_ipaddr},
        {"+CDNSCFG", AT_REQ_EXEC | RWT, 1, 3,
         AT_SPEC(AT_TEXT(DNS_MAX - 1), AT_TEXT(DNS_MAX - 1), AT_NUM(0, 1)), NULL, 0, 0,
         cmd_cdnscfg},
        {0},
};

const struct at_family at_family_ip_simcom = {
        .name = "ip-simcom",
        .cmds = ip_simcom_cmds,
        .init = ip_init,
        .reboot = ip_reboot,
        .close = ip_close,
        .pdp_down = ip_pdp_down,
};
