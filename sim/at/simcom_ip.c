/* SIMCom's IP stack: AT+NETOPEN, AT+NETCLOSE, AT+IPADDR, AT+CDNSCFG (SIM7600 manual V3.00
 * 11.2, A76XX manual V1.09 15.2; reference §7.1), and what the other SIMCom families ask of it
 * (at/simcom.h): whether the network is open, its events, and the data prompt with the A76XX
 * echo. The family's state is the SIMCom state the others share. */
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/err.h"
#include "modem/modem.h"

struct net_observer {
	simcom_net_cb cb;
	void *arg;
};

struct ip_state {
	bool open; /* AT+NETOPEN succeeded and no NETCLOSE or loss since */
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

static int ip_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct ip_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ERR_NOMEM;
	*slot = st;
	return 0;
}

/* AT+CFUN=1,1: the stack is closed; the observers stay (they belong to the families). */
static void ip_reboot(struct modem *m)
{
	struct ip_state *st = state_of(m);

	if (st)
		st->open = false;
}

static void ip_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_ip_simcom);

	if (slot) {
		free(*slot);
		*slot = NULL;
	}
}

static const struct at_cmd ip_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_ip_simcom = {
        .name = "ip-simcom",
        .cmds = ip_simcom_cmds,
        .init = ip_init,
        .reboot = ip_reboot,
        .close = ip_close,
};
