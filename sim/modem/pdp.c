#include "modem/pdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "modem/modem.h"

/* Who is told when a context goes down (host AT+QIDEACT, network drop): every family of the
 * profile with a pdp_down hook, e.g. +QIURC: "closed" for sockets, +QMTSTAT for MQTT clients
 * (reference §4a: "After it, MQTT clients on that context get +QMTSTAT and sockets close").
 * by_network is false for a host AT+QIDEACT, whose sockets close silently. The legacy stack
 * passes cid 1. */
static void run_down_hooks(struct modem *m, int cid, bool by_network)
{
	modem_pdp_down(m, cid, by_network);
}

/* ---- simulated addresses ----
 *
 * Decision (no source): each modem gets its own private-looking address derived from its index
 * and the context, stable across activations so that tests and transcripts are repeatable:
 * 10.(100 + index/256).(index%256).(16*cid - 3), and fd00:a:<index>:<cid>::1 for IPv6. The
 * network's DNS servers are the same for every modem, as on one operator's network. */
#define DNS4_PRI PDP_DNS4_PRI
#define DNS4_SEC PDP_DNS4_SEC
#define DNS6_PRI "fd00:a::53"
#define DNS6_SEC "fd00:a::54"

void pdp_addr4(const struct modem *m, int cid, char *out, size_t len)
{
	snprintf(out, len, "10.%d.%d.%d", 100 + ((m->index >> 8) & 0x7f), m->index & 0xff,
	         16 * cid - 3);
}

static void addr6(const struct modem *m, int cid, char *out, size_t len)
{
	snprintf(out, len, "fd00:a:%x:%x::1", (unsigned)m->index & 0xffff, (unsigned)cid);
}

/* ---- life cycle ---- */

static void m95_reset(struct pdp_m95 *s)
{
	memset(s, 0, sizeof(*s));
	s->state = PDP_M95_IP_INITIAL;
	/* <mode> 1 (GPRS) with no APN until +QICSGP or +QIREGAPP sets one (decision: the
	 * manuals found do not give the default APN). */
	for (int i = 0; i < PDP_M95_CTXS; i++)
		s->cfg[i].type = 1;
}

struct pdp_state *modem_pdp(const struct modem *cm)
{
	struct modem *m = (struct modem *)cm; /* allocated on first use: logically const */
	struct pdp_state *s = m->pdp;

	if (s)
		return s;
	s = m->pdp = modem_area_alloc(m, sizeof(*s), "PDP");
	for (int cid = 1; cid <= PDP_EC25_CIDS; cid++)
		s->ctx[cid].cfg.type = PDP_IPV4;
	/* Context 1 is the default profile every capture of +CGDCONT? lists. */
	s->ctx[1].cfg.defined = true;
	m95_reset(&s->m95);
	return s;
}

/* Decision: on the EC25 the +QICSGP configuration survives a reboot. The EC25 is a Qualcomm
 * platform whose context profiles (shared with +CGDCONT) are stored in non-volatile memory, and
 * the field log (seeds/000) shows AT+QICSGP=1 answering an APN the log never set. The EC200U
 * AN says "will not be saved", but that is a different (Unisoc) platform. Only the simulated
 * process's memory keeps it: a restart of modemsim starts from the defaults.
 * M95: everything goes back to IP INITIAL and the defaults (the GSM TCP/IP settings are not
 * saved; the SSL AN's steps configure them after every boot). */
void pdp_reboot(struct modem *m)
{
	struct pdp_state *s = m->pdp;

	if (!s)
		return; /* never used: the defaults it would go back to */
	for (int cid = 1; cid <= PDP_EC25_CIDS; cid++) {
		struct pdp_ctx *c = &s->ctx[cid];
		struct pdp_config keep = c->cfg;

		memset(c, 0, sizeof(*c));
		c->cfg = keep;
	}
	s->last_err = 0;
	m95_reset(&s->m95);
}

/* ---- queries ---- */

static bool m95_up(enum pdp_m95_state s)
{
	switch (s) {
	case PDP_M95_IP_GPRSACT:
	case PDP_M95_IP_STATUS:
	case PDP_M95_TCP_CONNECTING:
	case PDP_M95_UDP_CONNECTING:
	case PDP_M95_IP_PROCESSING:
	case PDP_M95_IP_CLOSE:
	case PDP_M95_CONNECT_OK:
		return true;
	case PDP_M95_IP_INITIAL:
	case PDP_M95_IP_START:
	case PDP_M95_IP_CONFIG:
	case PDP_M95_IP_IND:
	case PDP_M95_PDP_DEACT:
		break;
	}
	return false;
}

static bool ctx_active(const struct modem *m, int cid)
{
	return cid >= 1 && cid <= PDP_EC25_CIDS && modem_pdp(m)->ctx[cid].active;
}

static bool legacy_active(const struct modem *m, int cid)
{
	(void)cid;
	return m95_up(modem_pdp(m)->m95.state);
}

bool pdp_active(const struct modem *m, int cid)
{
	return m->model->pdp->active(m, cid);
}

static const char *ctx_local_ip(const struct modem *m, int cid)
{
	const struct pdp_ctx *c = &modem_pdp(m)->ctx[cid];

	return c->act_type == PDP_IPV6 ? c->ip6 : c->ip4;
}

static const char *legacy_local_ip(const struct modem *m, int cid)
{
	(void)cid;
	return modem_pdp(m)->m95.ip4;
}

const char *pdp_local_ip(const struct modem *m, int cid)
{
	if (!pdp_active(m, cid))
		return NULL;
	return m->model->pdp->local_ip(m, cid);
}

void pdp_set_error(struct modem *m, int code)
{
	modem_pdp(m)->last_err = code;
}

/* ---- EC25 ---- */

void pdp_activate(struct modem *m, int cid)
{
	struct pdp_ctx *c = &modem_pdp(m)->ctx[cid];

	/* 27.007 10.1.10: a module that is not PS attached attaches before it activates. */
	reg_set_ps_detached(m, false);
	c->active = true;
	c->act_type = c->cfg.type;
	c->ip4[0] = c->ip6[0] = 0;
	if (c->act_type != PDP_IPV6)
		pdp_addr4(m, cid, c->ip4, sizeof(c->ip4));
	if (c->act_type != PDP_IPV4)
		addr6(m, cid, c->ip6, sizeof(c->ip6));
	snprintf(c->dns_pri, sizeof(c->dns_pri), "%s",
	         c->act_type == PDP_IPV6 ? DNS6_PRI : DNS4_PRI);
	snprintf(c->dns_sec, sizeof(c->dns_sec), "%s",
	         c->act_type == PDP_IPV6 ? DNS6_SEC : DNS4_SEC);
	trace_event(m->index, "pdp", "context %d active, %s%s%s", cid, c->ip4,
	            c->ip4[0] && c->ip6[0] ? " " : "", c->ip6);
}

/* 27.007 <AcT> 7 E-UTRAN; Quectel reports Cat-M1 as 8 and NB-IoT as 9. */
static bool on_lte(const struct modem *m)
{
	return m->reg.act >= 7 && m->reg.act <= 9;
}

void pdp_default_bearer_sync(struct modem *m)
{
	/* the setting allocates the state: a modem without it has nothing to do here */
	if (!m->pdp || !m->pdp->default_bearer || !m->model->lte_default_bearer ||
	    m->pdp->ctx[1].active || !reg_ps_attached(m) || !on_lte(m))
		return;
	pdp_activate(m, 1);
	trace_event(m->index, "pdp", "context 1 is the LTE default bearer (no AT+QIACT)");
}

static void ec25_down(struct modem *m, int cid, bool by_network)
{
	struct pdp_ctx *c = &modem_pdp(m)->ctx[cid];
	struct pdp_config keep = c->cfg;

	memset(c, 0, sizeof(*c));
	c->cfg = keep;
	trace_event(m->index, "pdp", "context %d deactivated%s", cid,
	            by_network ? " by the network" : "");
	run_down_hooks(m, cid, by_network);
}

void pdp_deactivate(struct modem *m, int cid)
{
	if (cid >= 1 && cid <= PDP_EC25_CIDS && modem_pdp(m)->ctx[cid].active)
		ec25_down(m, cid, false);
}

/* ---- M95 ---- */

static const char *const m95_state_names[] = {
        [PDP_M95_IP_INITIAL] = "IP INITIAL",         [PDP_M95_IP_START] = "IP START",
        [PDP_M95_IP_CONFIG] = "IP CONFIG",           [PDP_M95_IP_IND] = "IP IND",
        [PDP_M95_IP_GPRSACT] = "IP GPRSACT",         [PDP_M95_IP_STATUS] = "IP STATUS",
        [PDP_M95_TCP_CONNECTING] = "TCP CONNECTING", [PDP_M95_UDP_CONNECTING] = "UDP CONNECTING",
        [PDP_M95_IP_PROCESSING] = "IP PROCESSING",   [PDP_M95_IP_CLOSE] = "IP CLOSE",
        [PDP_M95_CONNECT_OK] = "CONNECT OK",         [PDP_M95_PDP_DEACT] = "PDP DEACT",
};

const char *pdp_m95_state_name(enum pdp_m95_state state)
{
	if ((unsigned)state >= sizeof(m95_state_names) / sizeof(m95_state_names[0]))
		return "?";
	return m95_state_names[state];
}

enum pdp_m95_state pdp_m95_state(const struct modem *m)
{
	return modem_pdp(m)->m95.state;
}

void pdp_m95_set_state(struct modem *m, enum pdp_m95_state state)
{
	enum pdp_m95_state old = modem_pdp(m)->m95.state;

	if (old == state)
		return;
	modem_pdp(m)->m95.state = state;
	log_msg(LOG_DEBUG, "#%d: TCP/IP state %s -> %s", m->index, pdp_m95_state_name(old),
	        pdp_m95_state_name(state));
	trace_event(m->index, "pdp", "%s -> %s", pdp_m95_state_name(old),
	            pdp_m95_state_name(state));
}

void pdp_m95_activate(struct modem *m)
{
	struct pdp_m95 *s = &modem_pdp(m)->m95;

	reg_set_ps_detached(m, false); /* an activation attaches first (27.007 10.1.10) */
	pdp_addr4(m, s->fgcnt + 1, s->ip4, sizeof(s->ip4));
	pdp_m95_set_state(m, PDP_M95_IP_GPRSACT);
}

void pdp_m95_deactivate(struct modem *m)
{
	bool was_up = m95_up(modem_pdp(m)->m95.state);

	modem_pdp(m)->m95.ip4[0] = 0;
	pdp_m95_set_state(m, PDP_M95_IP_INITIAL);
	if (was_up)
		run_down_hooks(m, 1, false);
}

/* ---- network side ---- */

static void ctx_network_deactivate(struct modem *m, int cid)
{
	if (!pdp_active(m, cid))
		return;
	/* EC2x TCP/IP AN 2.5.5; reference §4a: the URC, then the clients on it close. */
	modem_urc(m, "+QIURC: \"pdpdeact\",%d", cid);
	ec25_down(m, cid, true);
}

/* SIMCom: no URC of the context's own (no +QIURC); the IP stack's +CIPEVENT and the MQTT
 * service's +CMQTTCONNLOST/+CMQTTNONET follow from the down hooks (reference §7.1, §2). */
static void ctx_network_deactivate_quiet(struct modem *m, int cid)
{
	if (!pdp_active(m, cid))
		return;
	ec25_down(m, cid, true);
}

static void legacy_network_deactivate(struct modem *m, int cid)
{
	(void)cid;
	if (!m95_up(modem_pdp(m)->m95.state))
		return;
	/* +QISTAT then reports PDP DEACT until AT+QIDEACT (M95 AT manual, AT+QISTAT); the URC
	 * as the M26 driver parses it (reference §4b). */
	modem_pdp(m)->m95.ip4[0] = 0;
	pdp_m95_set_state(m, PDP_M95_PDP_DEACT);
	modem_urc(m, "+PDP DEACT");
	run_down_hooks(m, 1, true);
}

void pdp_network_deactivate(struct modem *m, int cid)
{
	m->model->pdp->network_deactivate(m, cid);
}

const struct pdp_style pdp_style_contexts = {
        .contexts = PDP_EC25_CIDS,
        .active = ctx_active,
        .local_ip = ctx_local_ip,
        .network_deactivate = ctx_network_deactivate,
};

const struct pdp_style pdp_style_contexts_simcom = {
        .contexts = PDP_EC25_CIDS,
        .active = ctx_active,
        .local_ip = ctx_local_ip,
        .network_deactivate = ctx_network_deactivate_quiet,
};

const struct pdp_style pdp_style_legacy = {
        .contexts = 1,
        .active = legacy_active,
        .local_ip = legacy_local_ip,
        .network_deactivate = legacy_network_deactivate,
};

void pdp_network_deactivate_all(struct modem *m)
{
	for (int cid = 1; cid <= PDP_EC25_CIDS; cid++)
		pdp_network_deactivate(m, cid);
}
