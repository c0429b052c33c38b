/* The 3GPP TS 27.007 / 27.005 commands a host sends besides the Quectel ones: the packet domain
 * (+CGATT +CGDCONT +CGACT +CGPADDR), time zone reporting (+CTZR, +CTZU or the M95's +QNITZ),
 * the SMS settings (+CMGF +CNMI +CSCS), sleep (+QSCLK) and the battery (+CBC). Two tables:
 * at_family_3gpp_lte (EC25, BG96: the Qualcomm LTE platforms) and at_family_3gpp_gsm (M95).
 *
 * Sources (tags as in the reference): the EC2x-family AT manual's packet domain chapter (a
 * translated copy: the syntax of +CGATT/+CGDCONT/+CGACT/+CGPADDR, the example
 * `+CGPADDR: 1,"10.76.51.180"`, "changing an active context's definition is not allowed", the
 * +CTZU/+CTZR sections with `+CTZU: (0,1,3)` and "saved automatically"); captures of Qualcomm
 * MDM9x07 modules (the EC25's chipset): `+CGDCONT: (1-24),"IP",,,(0-2),(0-4),(0-1),(0-1)` and
 * three more lines for PPP, IPV6, IPV4V6 [LOG], `+CGDCONT: 1,"IP","UNINET","0.0.0.0",0,0,0,0`
 * after `AT+QICSGP=1,1,"UNINET"` on an EC25 [LOG], IPv6 addresses as 16 dotted bytes
 * (`"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"`) and an inactive `+CGPADDR: 1,"0.0.0.0"` [LOG, another
 * Qualcomm module]; `+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)` for a Quectel module [DRV comment];
 * `+CMGF: (0,1)` and `+CNMI: 2,1,0,0,0` [LOG BG770A]; `+CBC: (0-2),(1-100),(voltage)` [LOG,
 * module not named]; TinyGSM's BG96 (+CTZR=0, +CTZU=1, +QSCLK, +CGATT=1, then +CGATT? and
 * +CGPADDR=1 for "connected") and M95 (+QNITZ=1 must answer OK, +QSCLK) [DRV]. What is marked
 * [MEM] below is the manuals as remembered, not confirmed in a source found.
 *
 * Choices, where the sources are silent:
 *   - +CGATT=0 takes every context down as the network would (+QIURC: "pdpdeact",<cid> on the
 *     EC25 and BG96, +PDP DEACT on the M95, the clients on them told) and +CGREG/+CEREG say 0;
 *     +CREG keeps its <stat>. An activation (+CGACT=1, +QIACT) attaches again first.
 *   - Failures of state: +CME ERROR: 3 (operation not allowed) with the radio off or for an
 *     active context's +CGDCONT, 30 (no network service) when not registered, 4 for what the
 *     simulator does not do; a parameter out of the manual's range is a plain ERROR ("other
 *     values ... will return ERROR", the manual's +CGATT/+CGACT text).
 *   - EC25/BG96 contexts 17-24 can be defined (the +CGDCONT range) but not activated: the
 *     TCP/IP stack the simulator models has +QIACT's contexts 1-16. "PPP" is not simulated.
 *   - The M95's +CGDCONT contexts 1-3 [MEM] are its own, apart from the legacy TCP/IP stack's
 *     one context (+QIREGAPP/+QIACT); +CGACT gives them the address scheme of pdp.c.
 *   - +CBC answers a powered module at 75 %, 3800 mV: `+CBC: 0,75,3800` (no battery is
 *     simulated). +QSCLK is stored (no sleep is simulated). There is no +CSCLK: it is SIMCom's;
 *     a Quectel module answers ERROR.
 *   - Defaults: context 1 defined on the LTE models (every capture lists it), none on the M95;
 *     +CTZU 0 (the manual's example reads 0 before it sets 1); +CNMI 2,1,0,0,0; +CSCS "GSM".
 *   - A reboot keeps what the manual calls saved automatically on the LTE platforms (+CGDCONT,
 *     +CTZR, +CTZU); everything else here, and everything on the M95, returns to its default.
 *
 * Wire sequences kept here (EC25):
 *   ==> AT+CGDCONT=1,"IP","internet"   <== OK
 *   ==> AT+QICSGP=1                    <== +QICSGP: 1,"internet","","",0  OK   (one profile)
 *   ==> AT+CGACT=1,1                   (as AT+QIACT=1) <== OK
 *   ==> AT+CGPADDR=1                   <== +CGPADDR: 1,"10.100.0.13"  OK
 *   ==> AT+CGATT=0                     <== OK, then +QIURC: "pdpdeact",1 and +CGREG: 0 (n=1) */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"

#define G3_CIDS_MAX 24
/* Realistic delays: an attach or an activation answers in well under a second on LTE (the
 * manuals give only the maxima: +CGATT 140 s, +CGACT 150 s). */
#define G3_ATTACH_MS 500
#define G3_ACT_MS 600
#define G3_DEACT_MS 300

/* +CBC: battery connected and not charging, level and voltage a choice (see above). */
#define G3_CBC_BCS 0
#define G3_CBC_BCL 75
#define G3_CBC_MV 3800

/* What differs between the LTE platforms and the M95. */
struct g3_dialect {
	bool shared; /* contexts 1-PDP_EC25_CIDS are the +QICSGP/+QIACT ones (modem_pdp(m)->ctx) */
	int cids; /* +CGDCONT <cid> 1-cids */
	bool ipv6; /* "IPV6"/"IPV4V6" types, the 8-field +CGDCONT? lines (Qualcomm) */
	bool ppp; /* "PPP" is accepted */
	bool keeps_tz; /* +CTZR/+CTZU survive a reboot ("saved automatically") */
	bool keeps_contexts; /* +CGDCONT definitions survive a reboot */
	const char *const *charsets; /* +CSCS <chset>s, NULL-terminated */
	int act_ms; /* +CGACT=1 */
};

/* One +CGDCONT context: the fields +QICSGP has no place for, and (when not shared) the rest. */
struct g3_ctx {
	struct pdp_config cfg; /* not shared: type, APN, defined */
	bool ppp; /* <PDP_type> "PPP" (M95) */
	char addr[PDP_ADDR_MAX]; /* <PDP_addr> as the host gave it; "" prints the zero address */
	int d_comp, h_comp, alloc, request;
	bool active; /* not shared (M95): +CGACT's own activation */
	char ip[PDP_ADDR_MAX];
};

struct g3_state {
	struct g3_ctx ctx[G3_CIDS_MAX + 1]; /* indexed by cid; [0] unused */
	int ctzr, ctzu, qnitz;
	int cmgf, cnmi[5], cscs, qsclk;
	int cpms[3]; /* +CPMS <mem1..3>: index in cpms_mems */
	struct modem_timer *timer; /* +CGATT=1 / +CGACT in flight (reboot cancels it) */
	int pend_state; /* +CGACT <state> in flight; -1: +CGATT=1 */
	int pend_cid; /* 0: every defined context */
};

static const int cnmi_default[5] = {2, 1, 0, 0, 0};

static const struct g3_dialect *dialect(const struct at_call *c)
{
	return c->fam->data;
}

static void settings_reset(struct g3_state *st, bool keep_tz);

/* The family's state, allocated with its defaults on first use (an idle modem has none). */
static struct g3_state *state_of(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct g3_state *st;

	if (!slot)
		return NULL;
	if (*slot)
		return *slot;
	st = modem_area_alloc(m, sizeof(*st), "3GPP");
	for (int cid = 0; cid <= G3_CIDS_MAX; cid++)
		st->ctx[cid].cfg.type = PDP_IPV4;
	settings_reset(st, false);
	*slot = st;
	return st;
}

static bool is_shared(const struct g3_dialect *d, int cid)
{
	return d->shared && cid <= PDP_EC25_CIDS;
}

static struct pdp_config *cfg_of(struct modem *m, const struct g3_dialect *d, struct g3_state *st,
                                 int cid)
{
	return is_shared(d, cid) ? &modem_pdp(m)->ctx[cid].cfg : &st->ctx[cid].cfg;
}

static bool ctx_active(struct modem *m, const struct g3_dialect *d, struct g3_state *st, int cid)
{
	return is_shared(d, cid) ? pdp_active(m, cid) : st->ctx[cid].active;
}

/* The radio and the network an attach or an activation needs: CME 3 with the radio off, 30
 * without a network. */
static int network_check(struct at_call *c)
{
	if (c->m->cfun != 1) {
		at_why(c->m, "radio off: +CFUN is %d", c->m->cfun);
		return CME_NOT_ALLOWED;
	}
	if (!reg_registered(c->m)) {
		at_why(c->m, "not registered to the network");
		return CME_NO_NETWORK;
	}
	return AT_OK;
}

/* Everything active goes down as the network would take it (+CGATT=0). */
static void all_down(struct modem *m, const struct g3_dialect *d, struct g3_state *st)
{
	pdp_network_deactivate_all(m);
	for (int cid = 1; cid <= d->cids; cid++)
		if (!is_shared(d, cid) && st->ctx[cid].active) {
			st->ctx[cid].active = false;
			st->ctx[cid].ip[0] = 0;
			trace_event(m->index, "pdp", "context %d deactivated (+CGATT=0)", cid);
		}
}

static void ctx_up(struct modem *m, const struct g3_dialect *d, struct g3_state *st, int cid)
{
	struct g3_ctx *x = &st->ctx[cid];

	if (is_shared(d, cid)) {
		if (!pdp_active(m, cid))
			pdp_activate(m, cid);
		return;
	}
	if (x->active)
		return;
	reg_set_ps_detached(m, false);
	x->active = true;
	pdp_addr4(m, cid, x->ip, sizeof(x->ip));
	trace_event(m->index, "pdp", "context %d active (+CGACT), %s", cid, x->ip);
}

static void ctx_down(struct modem *m, const struct g3_dialect *d, struct g3_state *st, int cid)
{
	if (is_shared(d, cid)) {
		pdp_deactivate(m, cid); /* as AT+QIDEACT: no URC, the clients on it close */
		return;
	}
	if (!st->ctx[cid].active)
		return;
	st->ctx[cid].active = false;
	st->ctx[cid].ip[0] = 0;
	trace_event(m->index, "pdp", "context %d deactivated (+CGACT)", cid);
}

/* ---- +CGATT ---- */

static void pending_done(struct modem *m, void *arg)
{
	const struct at_family *f = arg;
	const struct g3_dialect *d = f->data;
	struct g3_state *st = state_of(m, f);

	if (!st)
		return;
	st->timer = NULL;
	if (st->pend_state != 0 && (m->cfun != 1 || !reg_registered(m))) {
		/* the network went while the module tried */
		at_why(m, "network lost during the attach");
		at_complete(m, m->cfun != 1 ? CME_NOT_ALLOWED : CME_NO_NETWORK);
		return;
	}
	if (st->pend_state < 0) {
		reg_set_ps_detached(m, false);
		at_complete(m, AT_OK);
		return;
	}
	for (int cid = 1; cid <= d->cids; cid++) {
		if (st->pend_cid && cid != st->pend_cid)
			continue;
		if (!cfg_of(m, d, st, cid)->defined)
			continue;
		if (st->pend_state == 1 && !(d->shared && cid > PDP_EC25_CIDS))
			ctx_up(m, d, st, cid);
		else if (st->pend_state == 0)
			ctx_down(m, d, st, cid);
	}
	at_complete(m, AT_OK);
}

static int start_pending(struct at_call *c, struct g3_state *st, int state, int cid, uint64_t ms)
{
	st->pend_state = state;
	st->pend_cid = cid;
	st->timer = modem_after(c->m, modem_delay(c->m, ms), pending_done, (void *)c->fam);
	if (!st->timer)
		return CME_UNKNOWN;
	return AT_PENDING;
}

static int cmd_cgatt(struct at_call *c)
{
	struct modem *m = c->m;
	struct g3_state *st = state_of(m, c->fam);
	int rc;

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(m, "+CGATT: %d", reg_ps_attached(m) ? 1 : 0);
		return AT_OK;
	}
	if (!at_given(c, 0))
		return AT_ERROR;
	if (at_num(c, 0) == 0) {
		/* 27.007 10.1.9: active contexts are deactivated when the module detaches */
		all_down(m, dialect(c), st);
		reg_set_ps_detached(m, true);
		return AT_OK;
	}
	rc = network_check(c);
	if (rc != AT_OK)
		return rc;
	if (reg_ps_attached(m))
		return AT_OK; /* already in the requested state: OK (27.007 10.1.9) */
	return start_pending(c, st, -1, 0, G3_ATTACH_MS);
}

/* ---- +CGDCONT ---- */

static const char *type_name(const struct pdp_config *cfg, const struct g3_ctx *x)
{
	if (x->ppp)
		return "PPP";
	switch (cfg->type) {
	case PDP_IPV6:
		return "IPV6";
	case PDP_IPV4V6:
		return "IPV4V6";
	default:
		return "IP";
	}
}

#define ZERO6 "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"

static const char *zero_addr(int type)
{
	return type == PDP_IPV4 ? "0.0.0.0" : ZERO6;
}

static void cgdcont_line(struct modem *m, const struct g3_dialect *d, struct g3_state *st, int cid)
{
	const struct pdp_config *cfg = cfg_of(m, d, st, cid);
	const struct g3_ctx *x = &st->ctx[cid];
	const char *addr = x->addr[0] ? x->addr : zero_addr(cfg->type);

	if (d->ipv6)
		at_info(m, "+CGDCONT: %d,\"%s\",\"%s\",\"%s\",%d,%d,%d,%d", cid, type_name(cfg, x),
		        cfg->apn, addr, x->d_comp, x->h_comp, x->alloc, x->request);
	else
		at_info(m, "+CGDCONT: %d,\"%s\",\"%s\",\"%s\",%d,%d", cid, type_name(cfg, x),
		        cfg->apn, addr, x->d_comp, x->h_comp);
}

/* Undefined again: the profile's defaults (a shared one loses +QICSGP's credentials too). */
static void ctx_forget(struct pdp_config *cfg, struct g3_ctx *x)
{
	struct pdp_config blank = {.type = PDP_IPV4};

	*cfg = blank;
	memset(x->addr, 0, sizeof(x->addr));
	x->ppp = false;
	x->d_comp = x->h_comp = x->alloc = x->request = 0;
}

/* <PDP_type>: -1 if the dialect has no such type, else the pdp_type (PPP: PDP_IPV4 + *ppp). */
static int parse_type(const struct at_call *c, const struct at_param *p, bool *ppp)
{
	const struct g3_dialect *d = dialect(c);

	*ppp = false;
	if (at_param_is(p, "IP"))
		return PDP_IPV4;
	if (d->ipv6 && at_param_is(p, "IPV6"))
		return PDP_IPV6;
	if (d->ipv6 && at_param_is(p, "IPV4V6"))
		return PDP_IPV4V6;
	if (at_param_is(p, "PPP")) {
		*ppp = true;
		return d->ppp ? PDP_IPV4 : -2;
	}
	return -1;
}

static int cgdcont_write(struct at_call *c, struct g3_state *st)
{
	struct modem *m = c->m;
	const struct g3_dialect *d = dialect(c);
	int cid = (int)at_num(c, 0), type;
	struct pdp_config *cfg = cfg_of(m, d, st, cid);
	struct g3_ctx *x = &st->ctx[cid];
	char apn[PDP_APN_MAX + 1] = "", addr[PDP_ADDR_MAX] = "";
	bool ppp = false;

	if (ctx_active(m, d, st, cid)) {
		/* the manual: changing an active context's definition is not allowed */
		at_why(m, "context %d is active", cid);
		return CME_NOT_ALLOWED;
	}
	if (c->args.n == 1) {
		ctx_forget(cfg, x); /* 27.007 10.1.1: <cid> alone undefines it */
		return AT_OK;
	}
	type = cfg->defined && !x->ppp ? cfg->type : PDP_IPV4;
	if (at_given(c, 1)) {
		type = parse_type(c, &c->args.p[1], &ppp);
		if (type == -2) {
			at_why(m, "PDP type PPP is not simulated");
			return CME_NOT_SUPPORTED;
		}
		if (type < 0) {
			at_why(m, "unknown PDP type \"%.*s\"", (int)c->args.p[1].len,
			       c->args.p[1].s);
			return AT_ERROR;
		}
	} else {
		ppp = cfg->defined && x->ppp;
	}
	if ((c->args.n > 2 && at_str(c, 2, apn, sizeof(apn)) != 0) ||
	    (c->args.n > 3 && at_str(c, 3, addr, sizeof(addr)) != 0))
		return AT_ERROR;
	/* the APN and the host's credentials stay one profile with +QICSGP's */
	cfg->type = type;
	memcpy(cfg->apn, apn, sizeof(apn));
	cfg->defined = true;
	x->ppp = ppp;
	memcpy(x->addr, addr, sizeof(addr));
	x->d_comp = at_given(c, 4) ? (int)at_num(c, 4) : 0;
	x->h_comp = at_given(c, 5) ? (int)at_num(c, 5) : 0;
	x->alloc = at_given(c, 6) ? (int)at_num(c, 6) : 0;
	x->request = at_given(c, 7) ? (int)at_num(c, 7) : 0;
	return AT_OK;
}

static int cmd_cgdcont(struct at_call *c)
{
	struct g3_state *st = state_of(c->m, c->fam);
	const struct g3_dialect *d = dialect(c);

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_WRITE)
		return cgdcont_write(c, st);
	for (int cid = 1; cid <= d->cids; cid++)
		if (cfg_of(c->m, d, st, cid)->defined)
			cgdcont_line(c->m, d, st, cid);
	return AT_OK;
}

/* ---- +CGACT ---- */

static int cmd_cgact(struct at_call *c)
{
	struct modem *m = c->m;
	const struct g3_dialect *d = dialect(c);
	struct g3_state *st = state_of(m, c->fam);
	int state, cid = 0, rc;
	bool change = false;

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		for (cid = 1; cid <= d->cids; cid++)
			if (cfg_of(m, d, st, cid)->defined)
				at_info(m, "+CGACT: %d,%d", cid, ctx_active(m, d, st, cid) ? 1 : 0);
		return AT_OK;
	}
	if (!at_given(c, 0))
		return AT_ERROR;
	state = (int)at_num(c, 0);
	if (at_given(c, 1)) {
		cid = (int)at_num(c, 1);
		if (!cfg_of(m, d, st, cid)->defined) {
			at_why(m, "context %d is not defined (+CGDCONT)", cid);
			return CME_NOT_ALLOWED;
		}
		if (state == 1 && d->shared && cid > PDP_EC25_CIDS) {
			at_why(m, "context %d: the simulator activates contexts 1-%d", cid,
			       PDP_EC25_CIDS);
			return CME_NOT_SUPPORTED;
		}
	}
	if (state == 1) {
		rc = network_check(c);
		if (rc != AT_OK)
			return rc;
	}
	/* 27.007 10.1.10: a context already in the requested state stays as it is */
	for (int i = 1; i <= d->cids; i++) {
		if ((cid && i != cid) || !cfg_of(m, d, st, i)->defined)
			continue;
		if (state == 1 && d->shared && i > PDP_EC25_CIDS)
			continue;
		if (ctx_active(m, d, st, i) != (state == 1))
			change = true;
	}
	if (!change)
		return AT_OK;
	return start_pending(c, st, state, cid, state == 1 ? (uint64_t)d->act_ms : G3_DEACT_MS);
}

/* ---- +CGPADDR ---- */

/* An IPv6 address as Qualcomm prints it: 16 bytes in dotted decimal. */
static void dotted6(const char *text, char *out, size_t len)
{
	unsigned char b[16];
	size_t o = 0;

	if (inet_pton(AF_INET6, text, b) != 1) {
		snprintf(out, len, "%s", ZERO6);
		return;
	}
	out[0] = 0;
	for (int i = 0; i < 16 && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%u", i ? "." : "", b[i]);
}

static void cgpaddr_line(struct modem *m, const struct g3_dialect *d, struct g3_state *st, int cid)
{
	const struct pdp_config *cfg = cfg_of(m, d, st, cid);
	char v6[64];

	if (!is_shared(d, cid)) {
		const struct g3_ctx *x = &st->ctx[cid];

		if (x->active)
			at_info(m, "+CGPADDR: %d,\"%s\"", cid, x->ip);
		else if (cfg->type == PDP_IPV4V6)
			at_info(m, "+CGPADDR: %d,\"0.0.0.0\",\"%s\"", cid, ZERO6);
		else
			at_info(m, "+CGPADDR: %d,\"%s\"", cid, zero_addr(cfg->type));
		return;
	}
	if (!pdp_active(m, cid)) {
		if (cfg->type == PDP_IPV4V6)
			at_info(m, "+CGPADDR: %d,\"0.0.0.0\",\"%s\"", cid, ZERO6);
		else
			at_info(m, "+CGPADDR: %d,\"%s\"", cid, zero_addr(cfg->type));
		return;
	}
	/* the type it was activated with: a later +QICSGP/+CGDCONT applies at the next one */
	switch (modem_pdp(m)->ctx[cid].act_type) {
	case PDP_IPV6:
		dotted6(modem_pdp(m)->ctx[cid].ip6, v6, sizeof(v6));
		at_info(m, "+CGPADDR: %d,\"%s\"", cid, v6);
		return;
	case PDP_IPV4V6:
		dotted6(modem_pdp(m)->ctx[cid].ip6, v6, sizeof(v6));
		at_info(m, "+CGPADDR: %d,\"%s\",\"%s\"", cid, modem_pdp(m)->ctx[cid].ip4, v6);
		return;
	default:
		at_info(m, "+CGPADDR: %d,\"%s\"", cid, modem_pdp(m)->ctx[cid].ip4);
		return;
	}
}

static int cmd_cgpaddr(struct at_call *c)
{
	struct modem *m = c->m;
	const struct g3_dialect *d = dialect(c);
	struct g3_state *st = state_of(m, c->fam);
	char list[G3_CIDS_MAX * 4 + 1] = "";
	size_t o = 0;

	if (!st)
		return AT_ERROR;
	switch (c->req) {
	case AT_REQ_TEST:
		/* +CGPADDR: (list of defined <cid>s) */
		for (int cid = 1; cid <= d->cids; cid++)
			if (cfg_of(m, d, st, cid)->defined && o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%d",
				                      o ? "," : "", cid);
		at_info(m, "+CGPADDR: (%s)", list);
		return AT_OK;
	case AT_REQ_EXEC:
		for (int cid = 1; cid <= d->cids; cid++)
			if (cfg_of(m, d, st, cid)->defined)
				cgpaddr_line(m, d, st, cid);
		return AT_OK;
	case AT_REQ_READ:
		return AT_ERROR;
	case AT_REQ_WRITE:
		break;
	}
	/* every <cid> checked before a line is printed: one bad one is the whole answer */
	for (int i = 0; i < c->args.n; i++) {
		const struct at_param *p = &c->args.p[i];

		if (p->type != AT_P_NUM || p->num < 1 || p->num > d->cids) {
			at_why(m, "parameter %d of +CGPADDR is not a <cid> 1-%d", i + 1, d->cids);
			return AT_ERROR;
		}
		if (!cfg_of(m, d, st, (int)p->num)->defined) {
			at_why(m, "context %lld is not defined (+CGDCONT)", p->num);
			return AT_ERROR;
		}
	}
	for (int i = 0; i < c->args.n; i++)
		cgpaddr_line(m, d, st, (int)c->args.p[i].num);
	return AT_OK;
}

/* ---- settings: +CTZR +CTZU +QNITZ +CMGF +QSCLK ---- */

static int *setting_of(struct g3_state *st, const char *name)
{
	if (strcmp(name, "+CTZR") == 0)
		return &st->ctzr;
	if (strcmp(name, "+CTZU") == 0)
		return &st->ctzu;
	if (strcmp(name, "+QNITZ") == 0)
		return &st->qnitz;
	if (strcmp(name, "+CMGF") == 0)
		return &st->cmgf;
	if (strcmp(name, "+QSCLK") == 0 || strcmp(name, "+CSCLK") == 0)
		return &st->qsclk; /* the sleep setting: Quectel's +QSCLK or SIMCom's +CSCLK */
	return NULL;
}

/* One number, its range in the table row. AT+CMGF= with nothing is 0 (27.005 3.2.3). +CTZU
 * has no 2 (`+CTZU: (0,1,3)`). */
static int cmd_setting(struct at_call *c)
{
	struct g3_state *st = state_of(c->m, c->fam);
	int *v = st ? setting_of(st, c->cmd->name) : NULL;

	if (!v)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "%s: %d", c->cmd->name, *v);
		return AT_OK;
	}
	if (!at_given(c, 0)) {
		if (strcmp(c->cmd->name, "+CMGF") != 0)
			return AT_ERROR;
		*v = 0;
		return AT_OK;
	}
	if (strcmp(c->cmd->name, "+CTZU") == 0 && at_num(c, 0) == 2) {
		at_why(c->m, "+CTZU takes 0, 1 or 3");
		return AT_ERROR;
	}
	*v = (int)at_num(c, 0);
	return AT_OK;
}

/* ---- +CNMI ---- */

/* AT+CNMI=[<mode>[,<mt>[,<bm>[,<ds>[,<bfr>]]]]]: an omitted field keeps its value. No SMS is
 * simulated, so nothing is ever indicated. <bm> is 0 or 2. */
static int cmd_cnmi(struct at_call *c)
{
	struct g3_state *st = state_of(c->m, c->fam);
	int v[5];

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CNMI: %d,%d,%d,%d,%d", st->cnmi[0], st->cnmi[1], st->cnmi[2],
		        st->cnmi[3], st->cnmi[4]);
		return AT_OK;
	}
	memcpy(v, st->cnmi, sizeof(v));
	for (int i = 0; i < c->args.n; i++)
		if (at_given(c, i))
			v[i] = (int)at_num(c, i);
	if (v[2] == 1) {
		at_why(c->m, "+CNMI <bm> is 0 or 2");
		return AT_ERROR;
	}
	memcpy(st->cnmi, v, sizeof(v));
	return AT_OK;
}

/* ---- +CSCS ---- */

static int cmd_cscs(struct at_call *c)
{
	struct g3_state *st = state_of(c->m, c->fam);
	const char *const *sets = dialect(c)->charsets;

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CSCS: \"%s\"", sets[st->cscs]);
		return AT_OK;
	}
	for (int i = 0; sets[i]; i++)
		if (at_param_is(&c->args.p[0], sets[i])) {
			st->cscs = i;
			return AT_OK;
		}
	at_why(c->m, "character set \"%.*s\" is not supported", (int)c->args.p[0].len,
	       c->args.p[0].s);
	return AT_ERROR;
}

/* ---- +CPMS ---- */

/* 27.005 3.2.2 with the storages Quectel's manuals list: "SM" (the SIM), "ME" (the module),
 * "MT" (both). Choices, no capture backs them: the default is "SM" for all three, as a fresh
 * SIM-based module reads it; the SIM holds 50 messages, the module 255, "MT" the sum; no
 * message is ever stored (modemsim does not simulate SMS), so <used> is 0. An unknown storage
 * is a plain ERROR. */
static const char *const cpms_mems[] = {"SM", "ME", "MT", NULL};
static const int cpms_total[] = {50, 255, 305};

static int cmd_cpms(struct at_call *c)
{
	struct g3_state *st = state_of(c->m, c->fam);
	int v[3];

	if (!st)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CPMS: \"%s\",0,%d,\"%s\",0,%d,\"%s\",0,%d", cpms_mems[st->cpms[0]],
		        cpms_total[st->cpms[0]], cpms_mems[st->cpms[1]], cpms_total[st->cpms[1]],
		        cpms_mems[st->cpms[2]], cpms_total[st->cpms[2]]);
		return AT_OK;
	}
	memcpy(v, st->cpms, sizeof(v));
	for (int i = 0; i < c->args.n && i < 3; i++) {
		int k;

		if (!at_given(c, i))
			continue;
		for (k = 0; cpms_mems[k] && !at_param_is(&c->args.p[i], cpms_mems[k]); k++)
			;
		if (!cpms_mems[k]) {
			at_why(c->m, "+CPMS: storage \"%.*s\" is not one of SM, ME, MT",
			       (int)c->args.p[i].len, c->args.p[i].s);
			return AT_ERROR;
		}
		v[i] = k;
	}
	memcpy(st->cpms, v, sizeof(v));
	at_info(c->m, "+CPMS: 0,%d,0,%d,0,%d", cpms_total[v[0]], cpms_total[v[1]],
	        cpms_total[v[2]]);
	return AT_OK;
}

/* ---- +CBC ---- */

static int cmd_cbc(struct at_call *c)
{
	at_info(c->m, "+CBC: %d,%d,%d", G3_CBC_BCS, G3_CBC_BCL, G3_CBC_MV);
	return AT_OK;
}

/* ---- life ---- */

static void settings_reset(struct g3_state *st, bool keep_tz)
{
	if (!keep_tz) {
		st->ctzr = 0;
		st->ctzu = 0;
		st->qnitz = 0;
	}
	st->cmgf = 0;
	memset(st->cpms, 0, sizeof(st->cpms));
	memcpy(st->cnmi, cnmi_default, sizeof(st->cnmi));
	st->cscs = 0;
	st->qsclk = 0;
}

/* Which of this file's families the modem's profile carries (reboot and close are not told). */
static void **slot_of(struct modem *m, const struct at_family **f)
{
	static const struct at_family *const mine[] = {&at_family_3gpp_lte, &at_family_3gpp_gsm,
	                                               &at_family_3gpp_simcom};

	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		void **slot = modem_family_state(m, mine[i]);

		if (slot) {
			*f = mine[i];
			return slot;
		}
	}
	*f = NULL;
	return NULL;
}

/* AT+CFUN=1,1 and power down: the timers are gone already; what the manual saves stays. */
static void g3_reboot(struct modem *m)
{
	const struct at_family *f;
	void **slot = slot_of(m, &f);
	const struct g3_dialect *d = f->data;
	struct g3_state *st = slot ? *slot : NULL;

	if (!st)
		return;
	st->timer = NULL;
	for (int cid = 1; cid <= G3_CIDS_MAX; cid++) {
		struct g3_ctx *x = &st->ctx[cid];

		x->active = false;
		x->ip[0] = 0;
		if (!d->keeps_contexts)
			ctx_forget(&x->cfg, x);
	}
	settings_reset(st, d->keeps_tz);
}

static void g3_close(struct modem *m)
{
	const struct at_family *f;
	void **slot = slot_of(m, &f);

	if (!slot)
		return;
	free(*slot);
	*slot = NULL;
}

/* ---- tables ---- */

#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define ET (AT_REQ_EXEC | AT_REQ_TEST)
#define ERWT (AT_REQ_EXEC | AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)

static const char *const lte_charsets[] = {"GSM", "IRA", "UCS2", NULL};
static const char *const gsm_charsets[] = {"GSM", "HEX", "IRA", "PCCP936", "UCS2", NULL};

static const struct g3_dialect lte_dialect = {
        .shared = true,
        .cids = G3_CIDS_MAX,
        .ipv6 = true,
        .ppp = false,
        .keeps_tz = true,
        .keeps_contexts = true,
        .charsets = lte_charsets,
        .act_ms = G3_ACT_MS,
};

static const struct g3_dialect gsm_dialect = {
        .shared = false,
        .cids = 3,
        .ipv6 = false,
        .ppp = true,
        .keeps_tz = false,
        .keeps_contexts = false,
        .charsets = gsm_charsets,
        .act_ms = 800, /* GPRS takes a little longer (as +QIACT in cmd_pdp.c) */
};

/* EC25, BG96 (the BG96 is the same Qualcomm platform; no BG96 capture of these was found). */
static const struct at_cmd lte_cmds[] = {
        /* +CGATT/+CGACT test: the manual's "(list of supported <state>s)" [MEM] */
        {"+CGATT", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CGATT: (0,1)", AT_F_SIM, 0, cmd_cgatt},
        {"+CGDCONT", RWT, 1, 8,
         AT_SPEC(AT_NUM(1, G3_CIDS_MAX), AT_STR(8), AT_STR(PDP_APN_MAX), AT_STR(PDP_ADDR_MAX - 1),
                 AT_NUM(0, 2), AT_NUM(0, 4), AT_NUM(0, 1), AT_NUM(0, 1)),
         "+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"PPP\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"IPV6\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"IPV4V6\",,,(0-2),(0-4),(0-1),(0-1)",
         0, 0, cmd_cgdcont},
        {"+CGACT", RWT, 1, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(1, G3_CIDS_MAX)), "+CGACT: (0,1)",
         AT_F_SIM, 0, cmd_cgact},
        {"+CGPADDR", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, G3_CIDS_MAX, NULL, 0, NULL, 0, 0,
         cmd_cgpaddr},
        /* +CTZR (0-2) [MEM]: 2 is +CTZE in the manual's example */
        {"+CTZR", RWT, 1, 1, AT_SPEC(AT_NUM(0, 2)), "+CTZR: (0-2)", 0, 0, cmd_setting},
        {"+CTZU", RWT, 1, 1, AT_SPEC(AT_NUM(0, 3)), "+CTZU: (0,1,3)", 0, 0, cmd_setting},
        {"+CMGF", RWT, 0, 1, AT_SPEC(AT_NUM(0, 1)), "+CMGF: (0,1)", 0, 0, cmd_setting},
        {"+CNMI", RWT, 1, 5,
         AT_SPEC(AT_NUM(0, 2), AT_NUM(0, 3), AT_NUM(0, 2), AT_NUM(0, 2), AT_NUM(0, 1)),
         "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)", 0, 0, cmd_cnmi},
        /* the 27.005 sets the EC2x manual lists [MEM] */
        {"+CPMS", RWT, 1, 3, AT_SPEC(AT_STR(4), AT_STR(4), AT_STR(4)),
         "+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")", 0, 0,
         cmd_cpms},
        {"+CSCS", RWT, 1, 1, AT_SPEC(AT_STR(16)), "+CSCS: (\"GSM\",\"IRA\",\"UCS2\")", 0, 0,
         cmd_cscs},
        /* EC2x: AT+QSCLK=<n>, 0 or 1 [MEM; a Quectel host tool answers `+QSCLK: (0,1)`] */
        {"+QSCLK", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QSCLK: (0,1)", 0, 0, cmd_setting},
        {"+CBC", ET, 0, 0, NULL, 0, "+CBC: (0-2),(1-100),(voltage)", 0, 0, cmd_cbc},
        {0},
};

const struct at_family at_family_3gpp_lte = {
        .name = "3gpp-quectel",
        .cmds = lte_cmds,
        .data = &lte_dialect,
        .reboot = g3_reboot,
        .close = g3_close,
};

/* SIMCom (SIM7600, A7670, SIM7670G): the Qualcomm/ASR LTE contexts of the EC25's table, with
 * SIMCom's sleep command +CSCLK (SIM7600 manual V3.00 4.2.x, A76XX manual) in place of
 * +QSCLK. The contexts are the ones NETOPEN, CMQTTSTART and CCHSTART use (m->pdp). */
static const struct at_cmd simcom_cmds[] = {
        {"+CGATT", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CGATT: (0,1)", AT_F_SIM, 0, cmd_cgatt},
        {"+CGDCONT", RWT, 1, 8,
         AT_SPEC(AT_NUM(1, G3_CIDS_MAX), AT_STR(8), AT_STR(PDP_APN_MAX), AT_STR(PDP_ADDR_MAX - 1),
                 AT_NUM(0, 2), AT_NUM(0, 4), AT_NUM(0, 1), AT_NUM(0, 1)),
         "+CGDCONT: (1-24),\"IP\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"PPP\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"IPV6\",,,(0-2),(0-4),(0-1),(0-1)\n"
         "+CGDCONT: (1-24),\"IPV4V6\",,,(0-2),(0-4),(0-1),(0-1)",
         0, 0, cmd_cgdcont},
        {"+CGACT", RWT, 1, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(1, G3_CIDS_MAX)), "+CGACT: (0,1)",
         AT_F_SIM, 0, cmd_cgact},
        {"+CGPADDR", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, G3_CIDS_MAX, NULL, 0, NULL, 0, 0,
         cmd_cgpaddr},
        {"+CTZR", RWT, 1, 1, AT_SPEC(AT_NUM(0, 2)), "+CTZR: (0-2)", 0, 0, cmd_setting},
        /* seed 002: AT+CTZU=1 -> OK; SIMCom's (0-1) */
        {"+CTZU", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CTZU: (0-1)", 0, 0, cmd_setting},
        {"+CMGF", RWT, 0, 1, AT_SPEC(AT_NUM(0, 1)), "+CMGF: (0,1)", 0, 0, cmd_setting},
        {"+CNMI", RWT, 1, 5,
         AT_SPEC(AT_NUM(0, 2), AT_NUM(0, 3), AT_NUM(0, 2), AT_NUM(0, 2), AT_NUM(0, 1)),
         "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)", 0, 0, cmd_cnmi},
        {"+CSCS", RWT, 1, 1, AT_SPEC(AT_STR(16)), "+CSCS: (\"IRA\",\"UCS2\",\"GSM\")", 0, 0,
         cmd_cscs},
        {"+CSCLK", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CSCLK: (0-1)", 0, 0, cmd_setting},
        {"+CBC", ET, 0, 0, NULL, 0, NULL, 0, 0, cmd_cbc},
        {0},
};

const struct at_family at_family_3gpp_simcom = {
        .name = "3gpp-simcom",
        .cmds = simcom_cmds,
        .data = &lte_dialect,
        .reboot = g3_reboot,
        .close = g3_close,
};

/* M95 (GSM/GPRS): contexts 1-3 "IP"/"PPP" and the 6-field +CGDCONT? of 27.007 [MEM]; +CTZR 0-1
 * (+CTZV only) [MEM]; +QNITZ in place of +CTZU (TinyGSM's M95 and MC60 drivers send
 * AT+QNITZ=1 at init and give up without OK); +QSCLK 0-2 [MEM]. */
static const struct at_cmd gsm_cmds[] = {
        {"+CGATT", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CGATT: (0,1)", AT_F_SIM, 0, cmd_cgatt},
        {"+CGDCONT", RWT, 1, 6,
         AT_SPEC(AT_NUM(1, 3), AT_STR(8), AT_STR(PDP_APN_MAX), AT_STR(PDP_ADDR_MAX - 1),
                 AT_NUM(0, 2), AT_NUM(0, 4)),
         "+CGDCONT: (1-3),\"IP\",,,(0-2),(0-4)\n+CGDCONT: (1-3),\"PPP\",,,(0-2),(0-4)", 0, 0,
         cmd_cgdcont},
        {"+CGACT", RWT, 1, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(1, 3)), "+CGACT: (0,1)", AT_F_SIM, 0,
         cmd_cgact},
        {"+CGPADDR", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, 3, NULL, 0, NULL, 0, 0,
         cmd_cgpaddr},
        {"+CTZR", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+CTZR: (0,1)", 0, 0, cmd_setting},
        {"+QNITZ", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QNITZ: (0,1)", 0, 0, cmd_setting},
        {"+CMGF", RWT, 0, 1, AT_SPEC(AT_NUM(0, 1)), "+CMGF: (0,1)", 0, 0, cmd_setting},
        {"+CNMI", RWT, 1, 5,
         AT_SPEC(AT_NUM(0, 3), AT_NUM(0, 3), AT_NUM(0, 2), AT_NUM(0, 2), AT_NUM(0, 1)),
         "+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)", 0, 0, cmd_cnmi},
        {"+CPMS", RWT, 1, 3, AT_SPEC(AT_STR(4), AT_STR(4), AT_STR(4)),
         "+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")", 0, 0,
         cmd_cpms},
        {"+CSCS", RWT, 1, 1, AT_SPEC(AT_STR(16)),
         "+CSCS: (\"GSM\",\"HEX\",\"IRA\",\"PCCP936\",\"UCS2\")", 0, 0, cmd_cscs},
        {"+QSCLK", RWT, 1, 1, AT_SPEC(AT_NUM(0, 2)), "+QSCLK: (0-2)", 0, 0, cmd_setting},
        {"+CBC", ET, 0, 0, NULL, 0, "+CBC: (0-2),(1-100),(voltage)", 0, 0, cmd_cbc},
        {0},
};

const struct at_family at_family_3gpp_gsm = {
        .name = "3gpp-quectel-gsm",
        .cmds = gsm_cmds,
        .data = &gsm_dialect,
        .reboot = g3_reboot,
        .close = g3_close,
};
