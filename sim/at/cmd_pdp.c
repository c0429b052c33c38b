/* PDP context commands: EC25 +QICSGP/+QIACT/+QIDEACT/+QIDNSCFG/+QIGETERROR (reference §4a,
 * EC2x TCP/IP AN), M95 legacy stack +QIFGCNT/+QICSGP/+QIREGAPP/+QIACT/+QILOCIP/+QIDEACT/
 * +QISTAT/+QIMUX/+QIDNSIP (reference §4b, M95/M35 AT manual, GSM SSL AN step 2/3).
 *
 * EC25 wire sequence (EC2x TCP/IP AN 3.1; field log seeds/000):
 *   ==> AT+QICSGP=1,1,"internet","","",0      <== OK
 *   ==> AT+QIACT=1                            (network attach, 0.3-150 s) <== OK
 *   ==> AT+QIACT?                             <== +QIACT: 1,1,1,"10.100.0.13"  OK
 *   ... network drops it                      <== +QIURC: "pdpdeact",1
 *
 * M95 state machine (+QISTAT states: M35 AT manual 11.9, GSM SSL AN table), each step only from
 * the state before it. The order rules (QIREGAPP only in IP INITIAL, QIACT only in IP START,
 * QILOCIP only once active) are the M95 manual's notes as remembered [MEM], not confirmed in a
 * source found; they match every driver sequence found (SSL AN, RT-Thread M26, TinyGSM):
 *   IP INITIAL --QIREGAPP--> IP START --QIACT--> IP CONFIG/IP IND --(network)--> IP GPRSACT
 *   --QILOCIP--> IP STATUS;  any state --QIDEACT--> IP INITIAL;  network drop --> PDP DEACT */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "core/err.h"
#include "modem/modem.h"
#include "net/lookup.h"
#include "net/resolve.h"

/* Realistic delays (reference §10 gives only the maxima: QIACT 150 s, QIDEACT 40 s). An LTE
 * activation answers in well under a second; GPRS takes a little longer. */
#define EC25_QIACT_MS 600
#define M95_QIACT_MS 800
#define QIDEACT_MS 300

/* TCP/IP error codes (reference §4a table). */
#define QIERR_OK 0
#define QIERR_INVALID_PARAMS 552
#define QIERR_PDP_OPEN_FAILED 561
#define QIERR_NOT_ALLOWED 572
#define QIERR_DNS_BUSY 564
#define QIERR_DNS_PARSE 565

/* AT+QIDNSGIP: the result comes this long after OK (realistic timing; a lookup on a live
 * network takes a few hundred ms), and <DNS_ttl> is a choice: the resolver behind modemsim
 * does not say how long its answer lives. */
#define DNSGIP_LAT_MS 400
#define DNSGIP_TTL 600

/* The AT+QIDNSGIP lookup of one modem (one at a time, as the module's "DNS busy" says) and the
 * M95's AT+QIDNSCFG servers: the pdp family's own state (modem_family_state). */
struct dns_state {
	struct modem *m;
	bool busy;
	bool legacy; /* the M95's words: a bare address line */
	struct net_lookup *lookup;
	struct modem_timer *timer;
	int status;
	size_t n;
	struct in_addr addrs[NET_LOOKUP_MAX];
	char pri[PDP_ADDR_MAX]; /* M95 AT+QIDNSCFG=: "" until the host sets one */
	char sec[PDP_ADDR_MAX];
};

static bool network_ready(const struct modem *m)
{
	return m->cfun == 1 && (m->reg.stat == 1 || m->reg.stat == 5);
}

/* Fail a TCP/IP command: plain ERROR (EC2x TCP/IP AN: "If there is any error: ERROR"), with the
 * detail kept for AT+QIGETERROR. */
static int qi_fail(struct at_call *c, int code, const char *why)
{
	pdp_set_error(c->m, code);
	at_why(c->m, "%s", why);
	return AT_ERROR;
}

static int qi_ok(struct at_call *c)
{
	pdp_set_error(c->m, QIERR_OK);
	return AT_OK;
}

static int copy_str(struct at_call *c, int i, char *dst, size_t len)
{
	if (at_str(c, i, dst, len) != 0) {
		at_why(c->m, "parameter %d of %s does not fit", i + 1, c->cmd->name);
		return -1;
	}
	return 0;
}

/* ======================= EC25 ======================= */

/* AT+QICSGP=<contextID>[,<context_type>,"<APN>"[,"<username>","<password>"[,<auth>]]]
 * The one-parameter form is the query (seeds/000: AT+QICSGP=1 -> +QICSGP: 1,"fast...","","",0).
 * Decision: omitted username/password/auth take their defaults ("", "", 0), not the previous
 * values: a write configures the whole context. */
static int ec25_qicsgp(struct at_call *c)
{
	struct pdp_config cfg;
	struct pdp_ctx *ctx;
	int n = c->args.n;

	ctx = &modem_pdp(c->m)->ctx[at_num(c, 0)];
	if (n == 1) {
		at_info(c->m, "+QICSGP: %d,\"%s\",\"%s\",\"%s\",%d", ctx->cfg.type, ctx->cfg.apn,
		        ctx->cfg.user, ctx->cfg.pwd, ctx->cfg.auth);
		return qi_ok(c);
	}
	/* <context_type> and <APN> come together, and so do <username> and <password>. */
	if (n == 2 || n == 4)
		return qi_fail(c, QIERR_INVALID_PARAMS, "+QICSGP: incomplete parameter group");
	for (int i = 1; i < n; i++)
		if (!at_given(c, i))
			return qi_fail(c, QIERR_INVALID_PARAMS, "+QICSGP: empty parameter");
	memset(&cfg, 0, sizeof(cfg));
	cfg.type = (int)at_num(c, 1);
	if (copy_str(c, 2, cfg.apn, sizeof(cfg.apn)) != 0 ||
	    (n >= 5 && (copy_str(c, 3, cfg.user, sizeof(cfg.user)) != 0 ||
	                copy_str(c, 4, cfg.pwd, sizeof(cfg.pwd)) != 0))) {
		pdp_set_error(c->m, QIERR_INVALID_PARAMS);
		return AT_ERROR;
	}
	if (n == 6)
		cfg.auth = (int)at_num(c, 5);
	cfg.defined = true; /* +CGDCONT? lists it from now on (the profile is shared) */
	/* An active context keeps the address it has; the new values apply at the next
	 * activation. */
	ctx->cfg = cfg;
	return qi_ok(c);
}

static void ec25_qiact_done(struct modem *m, void *arg)
{
	int cid = (int)(intptr_t)arg;

	pdp_activate(m, cid);
	pdp_set_error(m, QIERR_OK);
	at_complete(m, AT_OK);
}

static int ec25_qiact(struct at_call *c)
{
	struct modem *m = c->m;
	int cid;

	if (c->req == AT_REQ_READ) {
		/* One line per active context; none -> bare OK (reference §1, §4a). */
		for (cid = 1; cid <= PDP_EC25_CIDS; cid++) {
			const struct pdp_ctx *x = &modem_pdp(m)->ctx[cid];

			if (!x->active)
				continue;
			if (x->act_type == PDP_IPV4V6)
				at_info(m, "+QIACT: %d,1,%d,\"%s\",\"%s\"", cid, x->act_type,
				        x->ip4, x->ip6);
			else
				at_info(m, "+QIACT: %d,1,%d,\"%s\"", cid, x->act_type,
				        x->act_type == PDP_IPV6 ? x->ip6 : x->ip4);
		}
		return AT_OK;
	}
	cid = (int)at_num(c, 0);
	/* reference §8 item 9: activating an active context is an ERROR [LOG BG770A]. Decision:
	 * QIGETERROR then says 561 (no source gives the code). */
	if (modem_pdp(m)->ctx[cid].active)
		return qi_fail(c, QIERR_PDP_OPEN_FAILED, "context already active");
	if (!network_ready(m))
		return qi_fail(c, QIERR_PDP_OPEN_FAILED, "not registered to the network");
	if (!modem_after(m, modem_delay(m, EC25_QIACT_MS), ec25_qiact_done,
	                 (void *)(intptr_t)cid)) {
		pdp_activate(m, cid);
		return qi_ok(c);
	}
	return AT_PENDING;
}

static void ec25_qideact_done(struct modem *m, void *arg)
{
	pdp_deactivate(m, (int)(intptr_t)arg);
	pdp_set_error(m, QIERR_OK);
	at_complete(m, AT_OK);
}

/* Decision: deactivating an inactive context answers OK at once (drivers such as TinyGSM send
 * AT+QIDEACT=1 before every activation and expect OK). No +QIURC: "pdpdeact" for a host
 * deactivation (reference §4a, §9). */
static int ec25_qideact(struct at_call *c)
{
	struct modem *m = c->m;
	int cid = (int)at_num(c, 0);

	if (!modem_pdp(m)->ctx[cid].active)
		return qi_ok(c);
	if (!modem_after(m, modem_delay(m, QIDEACT_MS), ec25_qideact_done, (void *)(intptr_t)cid)) {
		pdp_deactivate(m, cid);
		return qi_ok(c);
	}
	return AT_PENDING;
}

static bool is_ipv4_text(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static bool valid_addr(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* AT+QIDNSCFG=<contextID>[,"<pridnsaddr>"[,"<secdnsaddr>"]]: both the query and the setting need
 * the context active (query fails when inactive [LOG BG770A, reference §4a]; EC2x-family TCP/IP
 * AN: "Before setting the DNS address, the host must activate the context"). The setting lasts
 * until the context is deactivated. Decision: an omitted secondary keeps the current one. */
static int ec25_qidnscfg(struct at_call *c)
{
	struct pdp_ctx *ctx = &modem_pdp(c->m)->ctx[at_num(c, 0)];
	char pri[PDP_ADDR_MAX], sec[PDP_ADDR_MAX];

	if (!ctx->active) /* decision: 572 for QIGETERROR (no source gives the code) */
		return qi_fail(c, QIERR_NOT_ALLOWED, "context not active");
	if (c->args.n == 1) {
		at_info(c->m, "+QIDNSCFG: %d,\"%s\",\"%s\"", (int)at_num(c, 0), ctx->dns_pri,
		        ctx->dns_sec);
		return qi_ok(c);
	}
	sec[0] = 0;
	if (!at_given(c, 1) || at_str(c, 1, pri, sizeof(pri)) != 0 || !valid_addr(pri))
		return qi_fail(c, QIERR_INVALID_PARAMS, "invalid primary DNS address");
	if (c->args.n == 3 && at_given(c, 2) &&
	    (at_str(c, 2, sec, sizeof(sec)) != 0 || !valid_addr(sec)))
		return qi_fail(c, QIERR_INVALID_PARAMS, "invalid secondary DNS address");
	snprintf(ctx->dns_pri, sizeof(ctx->dns_pri), "%s", pri);
	if (sec[0])
		snprintf(ctx->dns_sec, sizeof(ctx->dns_sec), "%s", sec);
	return qi_ok(c);
}

/* +QIGETERROR: <err>,<description> (reference §4a; code 0 is "operate successfully" [LOG
 * EG800K]). The test form answers a bare OK (EC2x-family TCP/IP AN). */
static int ec25_qigeterror(struct at_call *c)
{
	int err = modem_pdp(c->m)->last_err;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	at_info(c->m, "+QIGETERROR: %d,%s", err, err ? at_cme_text(err) : "operate successfully");
	return AT_OK;
}

/* ---- AT+QIDNSGIP (both models) ---- */

static struct dns_state *dns_of(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);

	return slot ? *slot : NULL;
}

static int dns_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct dns_state *d = calloc(1, sizeof(*d));

	if (!slot || !d) {
		free(d);
		return -ERR_NOMEM;
	}
	d->m = m;
	*slot = d;
	return 0;
}

/* A reboot or shutdown ends the lookup (the modem's timers are cancelled already). */
static void dns_stop(struct dns_state *d)
{
	if (!d)
		return;
	net_lookup_cancel(d->lookup);
	d->lookup = NULL;
	d->timer = NULL;
	d->busy = false;
	d->pri[0] = d->sec[0] = 0;
}

static void dns_report(struct modem *m, void *arg)
{
	struct dns_state *d = arg;
	char a[INET_ADDRSTRLEN];

	d->timer = NULL;
	d->busy = false;
	if (d->legacy) {
		/* M95: the address line after OK (RT-Thread M26 and other M95/M26 drivers parse
		 * "OK\r\n\r\n<ip>"); the first address only. Decision: a name that does not
		 * resolve gives an "ERROR" line there (the manual's failure text is not in the
		 * sources found). */
		if (d->status == 0 && d->n) {
			inet_ntop(AF_INET, &d->addrs[0], a, sizeof(a));
			modem_urc(m, "%s", a);
		} else {
			modem_urc(m, "ERROR");
		}
		return;
	}
	/* EC2x TCP/IP AN (AT+QIDNSGIP): +QIURC: "dnsgip",<err>,<IP_count>,<DNS_ttl>, then one
	 * +QIURC: "dnsgip","<hostIPaddr>" per address; a failure is +QIURC: "dnsgip",<err>. */
	if (d->status != 0 || !d->n) {
		pdp_set_error(m, QIERR_DNS_PARSE);
		modem_urc(m, "+QIURC: \"dnsgip\",%d", QIERR_DNS_PARSE);
		return;
	}
	modem_urc(m, "+QIURC: \"dnsgip\",0,%zu,%d", d->n, DNSGIP_TTL);
	for (size_t i = 0; i < d->n; i++) {
		inet_ntop(AF_INET, &d->addrs[i], a, sizeof(a));
		modem_urc(m, "+QIURC: \"dnsgip\",\"%s\"", a);
	}
}

static void dns_done(void *arg, int status, const struct in_addr *addrs, size_t n)
{
	struct dns_state *d = arg;

	d->lookup = NULL;
	d->status = status;
	d->n = n < NET_LOOKUP_MAX ? n : NET_LOOKUP_MAX;
	if (d->n)
		memcpy(d->addrs, addrs, d->n * sizeof(addrs[0]));
	d->timer = modem_after(d->m, modem_latency(d->m, DNSGIP_LAT_MS), dns_report, d);
	if (!d->timer)
		dns_report(d->m, d);
}

/* Start the lookup of the host parameter i; OK, the result follows as URCs. */
static int dnsgip_start(struct at_call *c, int i, bool legacy)
{
	struct dns_state *d = dns_of(c->m, c->fam);
	char host[NET_NAME_MAX + 1];
	int rc;

	if (!d || at_str(c, i, host, sizeof(host)) != 0 || !host[0]) {
		at_why(c->m, "+QIDNSGIP: bad host name");
		return AT_ERROR;
	}
	if (d->busy) {
		/* decision: the EC25 reports it as "DNS busy"; the M95 refuses */
		at_why(c->m, "+QIDNSGIP: a lookup is running");
		if (legacy)
			return AT_ERROR;
		modem_urc(c->m, "+QIURC: \"dnsgip\",%d", QIERR_DNS_BUSY);
		return qi_ok(c);
	}
	d->busy = true;
	d->legacy = legacy;
	rc = net_lookup_start(&c->m->nh, host, dns_done, d, &d->lookup);
	if (rc) {
		d->busy = false;
		at_why(c->m, "+QIDNSGIP: %s", err_str(rc));
		return AT_ERROR;
	}
	pdp_set_error(c->m, QIERR_OK);
	return AT_OK;
}

/* EC25: AT+QIDNSGIP=<contextID>,"<hostname>" -> OK, then the +QIURC: "dnsgip" lines. Decision
 * (as +QIOPEN's): an inactive context is reported in the URC, 561 "open PDP context failed". */
static int ec25_qidnsgip(struct at_call *c)
{
	if (!modem_pdp(c->m)->ctx[at_num(c, 0)].active) {
		at_why(c->m, "+QIDNSGIP: context %d not active", (int)at_num(c, 0));
		pdp_set_error(c->m, QIERR_PDP_OPEN_FAILED);
		modem_urc(c->m, "+QIURC: \"dnsgip\",%d", QIERR_PDP_OPEN_FAILED);
		return AT_OK;
	}
	return dnsgip_start(c, 1, false);
}

static int dns_ec25_init(struct modem *m, const struct at_family *f)
{
	return dns_init(m, f);
}

static void dns_ec25_reboot(struct modem *m)
{
	dns_stop(dns_of(m, &at_family_pdp_ec25));
	pdp_reboot(m);
}

static void dns_ec25_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_pdp_ec25);

	if (slot) {
		dns_stop(*slot);
		free(*slot);
		*slot = NULL;
	}
}

#define PDP_CID AT_NUM(1, PDP_EC25_CIDS)

static const struct at_cmd pdp_ec25_cmds[] = {
        {"+QICSGP", AT_REQ_WRITE | AT_REQ_TEST, 1, 6,
         AT_SPEC(PDP_CID, AT_NUM(1, 3), AT_STR(PDP_APN_MAX), AT_STR(PDP_CRED_MAX),
                 AT_STR(PDP_CRED_MAX), AT_NUM(0, 3)),
         "+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)", 0, 0, ec25_qicsgp},
        {"+QIACT", AT_REQ_WRITE | AT_REQ_READ | AT_REQ_TEST, 1, 1, AT_SPEC(PDP_CID),
         "+QIACT: (1-16)", AT_F_SIM, 0, ec25_qiact},
        {"+QIDEACT", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(PDP_CID), "+QIDEACT: (1-16)", 0, 0,
         ec25_qideact},
        {"+QIDNSCFG", AT_REQ_WRITE | AT_REQ_TEST, 1, 3,
         AT_SPEC(PDP_CID, AT_STR(PDP_ADDR_MAX - 1), AT_STR(PDP_ADDR_MAX - 1)),
         "+QIDNSCFG: (1-16),<pridnsaddr>,<secdnsaddr>", 0, 0, ec25_qidnscfg},
        {"+QIGETERROR", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, ec25_qigeterror},
        {"+QIDNSGIP", AT_REQ_WRITE | AT_REQ_TEST, 2, 2, AT_SPEC(PDP_CID, AT_STR(NET_NAME_MAX)),
         "+QIDNSGIP: (1-16),<hostname>", 0, 0, ec25_qidnsgip},
        {0},
};

const struct at_family at_family_pdp_ec25 = {
        .name = "pdp-quectel",
        .cmds = pdp_ec25_cmds,
        .init = dns_ec25_init,
        .reboot = dns_ec25_reboot,
        .close = dns_ec25_close,
};

/* ======================= M95 ======================= */

static struct pdp_config *m95_cfg(struct modem *m)
{
	return &modem_pdp(m)->m95.cfg[modem_pdp(m)->m95.fgcnt];
}

/* AT+QIFGCNT=<id>: the foreground context (0-1). Read: +QIFGCNT: <id>,<channel>, channel 0
 * (the one UART) as a driver compares it byte for byte ("\r\n+QIFGCNT: 0,0\r\n\r\nOK\r\n"). */
static int m95_qifgcnt(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QIFGCNT: %d,0", modem_pdp(c->m)->m95.fgcnt);
		return AT_OK;
	}
	modem_pdp(c->m)->m95.fgcnt = (int)at_num(c, 0);
	return AT_OK;
}

/* AT+QICSGP=<mode>,"<apn>"[,"<user>","<pwd>"[,<rate>]] (mode 1 GPRS, 0 CSD); read +QICSGP:
 * <mode> (reference §4b). The settings go to the foreground context and are used by the next
 * AT+QIREGAPP. */
static int m95_qicsgp(struct at_call *c)
{
	struct pdp_config *cfg = m95_cfg(c->m);
	struct pdp_config n;

	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QICSGP: %d", cfg->type);
		return AT_OK;
	}
	if (c->args.n == 3) {
		at_why(c->m, "+QICSGP: user name without password");
		return AT_ERROR;
	}
	memset(&n, 0, sizeof(n));
	n.type = (int)at_num(c, 0);
	if (copy_str(c, 1, n.apn, sizeof(n.apn)) != 0 ||
	    (c->args.n >= 4 && (copy_str(c, 2, n.user, sizeof(n.user)) != 0 ||
	                        copy_str(c, 3, n.pwd, sizeof(n.pwd)) != 0)))
		return AT_ERROR;
	*cfg = n;
	return AT_OK;
}

/* AT+QIREGAPP[="<apn>"[,"<user>","<pwd>"[,<rate>]]]: start the TCP/IP task, only in IP INITIAL
 * (M95 AT manual). The write form sets the foreground context's APN first. Decision: user and
 * password may be omitted in the write form (they become ""). */
static int m95_qiregapp(struct at_call *c)
{
	struct modem *m = c->m;
	struct pdp_config *cfg = m95_cfg(m);
	struct pdp_config n;

	if (c->req == AT_REQ_READ) {
		at_info(m, "+QIREGAPP: \"%s\",\"%s\",\"%s\"", cfg->apn, cfg->user, cfg->pwd);
		return AT_OK;
	}
	if (pdp_m95_state(m) != PDP_M95_IP_INITIAL) {
		at_why(m, "+QIREGAPP in %s (only in IP INITIAL)",
		       pdp_m95_state_name(pdp_m95_state(m)));
		return AT_ERROR;
	}
	if (c->req == AT_REQ_WRITE) {
		if (c->args.n == 2) {
			at_why(m, "+QIREGAPP: user name without password");
			return AT_ERROR;
		}
		memset(&n, 0, sizeof(n));
		n.type = cfg->type;
		if (copy_str(c, 0, n.apn, sizeof(n.apn)) != 0 ||
		    (c->args.n >= 3 && (copy_str(c, 1, n.user, sizeof(n.user)) != 0 ||
		                        copy_str(c, 2, n.pwd, sizeof(n.pwd)) != 0)))
			return AT_ERROR;
		*cfg = n;
	}
	pdp_m95_set_state(m, PDP_M95_IP_START);
	return AT_OK;
}

static void m95_qiact_done(struct modem *m, void *arg)
{
	(void)arg;
	pdp_m95_activate(m);
	at_complete(m, AT_OK);
}

/* AT+QIACT: only at the status of IP START (M95 AT manual); the state goes IP CONFIG, IP IND
 * (activating) and IP GPRSACT when the network answers. */
static int m95_qiact(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (pdp_m95_state(m) != PDP_M95_IP_START) {
		at_why(m, "+QIACT in %s (only in IP START)", pdp_m95_state_name(pdp_m95_state(m)));
		return AT_ERROR;
	}
	if (m95_cfg(m)->type != 1) {
		/* M35/M95 AT manual: "CSD context is not supported at present". */
		at_why(m, "+QIACT: CSD context not supported");
		return AT_ERROR;
	}
	if (!network_ready(m)) {
		at_why(m, "+QIACT: not attached to GPRS");
		return AT_ERROR;
	}
	pdp_m95_set_state(m, PDP_M95_IP_CONFIG);
	pdp_m95_set_state(m, PDP_M95_IP_IND);
	if (!modem_after(m, modem_delay(m, M95_QIACT_MS), m95_qiact_done, NULL)) {
		pdp_m95_activate(m);
		return AT_OK;
	}
	return AT_PENDING;
}

/* AT+QILOCIP: just the address line, no OK (reference §4b, GSM SSL AN step 3:
 * "AT+QILOCIP ... 10.1.83.188"); IP GPRSACT becomes IP STATUS. ERROR before activation. */
static int m95_qilocip(struct at_call *c)
{
	struct modem *m = c->m;
	const char *ip = pdp_local_ip(m, 1);

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!ip) {
		at_why(m, "+QILOCIP in %s (context not active)",
		       pdp_m95_state_name(pdp_m95_state(m)));
		return AT_ERROR;
	}
	if (pdp_m95_state(m) == PDP_M95_IP_GPRSACT)
		pdp_m95_set_state(m, PDP_M95_IP_STATUS);
	at_info(m, "%s", ip);
	return AT_CUSTOM;
}

static void m95_qideact_done(struct modem *m, void *arg)
{
	(void)arg;
	pdp_m95_deactivate(m);
	at_text(m, "DEACT OK");
	at_complete(m, AT_CUSTOM);
}

/* AT+QIDEACT: "DEACT OK" (reference §4b, GSM SSL AN step 8), then IP INITIAL (M35 AT manual:
 * "After closing the connection, the status becomes to IP INITIAL"). Decision: also DEACT OK in
 * IP INITIAL, although that note reads "except at the status of IP INITIAL": the RT-Thread M26
 * driver sends AT+QIDEACT right after boot and treats anything but DEACT OK as a failed
 * initialisation. */
static int m95_qideact(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (pdp_active(m, 1) && modem_after(m, modem_delay(m, QIDEACT_MS), m95_qideact_done, NULL))
		return AT_PENDING;
	pdp_m95_deactivate(m);
	at_text(m, "DEACT OK");
	return AT_CUSTOM;
}

/* AT+QISTAT: "OK" then "STATE: <state>" (M35 AT manual 11.9; a driver waits for
 * "OK\r\n\r\nSTATE: IP GPRSACT\r\n"). With QIMUX=1 the manual lists +QISTAT: lines per
 * socket, printed by at/cmd_sock_m95.c. */
static int m95_qistat(struct at_call *c)
{
	char line[48];

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	at_text(c->m, "OK");
	snprintf(line, sizeof(line), "STATE: %s", pdp_m95_state_name(pdp_m95_state(c->m)));
	at_text(c->m, line);
	if (modem_pdp(c->m)->m95.mux)
		at_sock_m95_qistat(c->m);
	return AT_CUSTOM;
}

/* AT+QIMUX=<0|1>: multiple TCP/IP sessions. Set in IP INITIAL by every sequence found (SSL AN
 * step 2, RT-Thread M26). A change while a socket is open is refused. */
static int m95_qimux(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QIMUX: %d", modem_pdp(c->m)->m95.mux);
		return AT_OK;
	}
	for (int i = 0; i < SOCK_MAX; i++) {
		const struct sock *s = sock_get(c->m, i);

		/* one the peer or the network ended is closed already (GSM SSL AN 2.2.10.2) */
		if (sock_in_use(s) && !s->peer_closed && at_num(c, 0) != modem_pdp(c->m)->m95.mux) {
			at_why(c->m, "+QIMUX: socket %d is open", i);
			return AT_ERROR;
		}
	}
	modem_pdp(c->m)->m95.mux = (int)at_num(c, 0);
	return AT_OK;
}

/* AT+QIDNSIP=<0|1>: connect by dotted address (0) or domain name (1). */
static int m95_qidnsip(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QIDNSIP: %d", modem_pdp(c->m)->m95.dnsip);
		return AT_OK;
	}
	modem_pdp(c->m)->m95.dnsip = (int)at_num(c, 0);
	return AT_OK;
}

/* AT+QIDNSCFG=<primary>[,<secondary>] and AT+QIDNSCFG? -> "PrimaryDns: <ip>" and
 * "SecondaryDns: <ip>" lines (the M95/M26 form RT-Thread's m26/m6315 drivers parse). Decision:
 * the network's servers while the context is up, 0.0.0.0 before, unless the host set its own
 * (they last until a reboot). */
static int m95_qidnscfg(struct at_call *c)
{
	struct dns_state *d = dns_of(c->m, c->fam);
	bool up = pdp_active(c->m, 1);
	char pri[PDP_ADDR_MAX], sec[PDP_ADDR_MAX];

	if (!d)
		return AT_ERROR;
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "PrimaryDns: %s", d->pri[0] ? d->pri : up ? PDP_DNS4_PRI : "0.0.0.0");
		at_info(c->m, "SecondaryDns: %s",
		        d->sec[0] ? d->sec
		        : up      ? PDP_DNS4_SEC
		                  : "0.0.0.0");
		return AT_OK;
	}
	sec[0] = 0;
	if (at_str(c, 0, pri, sizeof(pri)) != 0 || !is_ipv4_text(pri) ||
	    (at_given(c, 1) && (at_str(c, 1, sec, sizeof(sec)) != 0 || !is_ipv4_text(sec)))) {
		at_why(c->m, "+QIDNSCFG: not a dotted address");
		return AT_ERROR;
	}
	snprintf(d->pri, sizeof(d->pri), "%s", pri);
	if (sec[0])
		snprintf(d->sec, sizeof(d->sec), "%s", sec);
	return AT_OK;
}

/* M95: AT+QIDNSGIP="<domain name>" -> OK, then the address line. The context must be up (the
 * lookup goes over it). */
static int m95_qidnsgip(struct at_call *c)
{
	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (!pdp_active(c->m, 1)) {
		at_why(c->m, "+QIDNSGIP in %s (context not active)",
		       pdp_m95_state_name(pdp_m95_state(c->m)));
		return AT_ERROR;
	}
	return dnsgip_start(c, 0, true);
}

static void dns_m95_reboot(struct modem *m)
{
	dns_stop(dns_of(m, &at_family_pdp_m95));
	pdp_reboot(m);
}

static void dns_m95_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_pdp_m95);

	if (slot) {
		dns_stop(*slot);
		free(*slot);
		*slot = NULL;
	}
}

#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define ET (AT_REQ_EXEC | AT_REQ_TEST)

static const struct at_cmd pdp_m95_cmds[] = {
        {"+QIFGCNT", RWT, 1, 1, AT_SPEC(AT_NUM(0, PDP_M95_CTXS - 1)), "+QIFGCNT: (0-1)", 0, 0,
         m95_qifgcnt},
        {"+QICSGP", RWT, 2, 5,
         AT_SPEC(AT_NUM(0, 1), AT_STR(PDP_APN_MAX), AT_STR(PDP_CRED_MAX), AT_STR(PDP_CRED_MAX),
                 AT_NUM(0, 3)),
         "+QICSGP: (0-CSD,1-GPRS)", 0, 0, m95_qicsgp},
        {"+QIREGAPP", AT_REQ_EXEC | RWT, 1, 4,
         AT_SPEC(AT_STR(PDP_APN_MAX), AT_STR(PDP_CRED_MAX), AT_STR(PDP_CRED_MAX), AT_NUM(0, 3)),
         "+QIREGAPP: \"APN\",\"USER\",\"PWD\"", 0, 0, m95_qiregapp},
        {"+QIACT", ET, 0, 0, NULL, 0, NULL, AT_F_SIM, 0, m95_qiact},
        {"+QILOCIP", ET, 0, 0, NULL, 0, NULL, 0, 0, m95_qilocip},
        {"+QIDEACT", ET, 0, 0, NULL, 0, NULL, 0, 0, m95_qideact},
        {"+QISTAT", ET, 0, 0, NULL, 0, NULL, 0, 0, m95_qistat},
        {"+QIMUX", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QIMUX: (0,1)", 0, 0, m95_qimux},
        {"+QIDNSIP", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QIDNSIP: (0,1)", 0, 0, m95_qidnsip},
        {"+QIDNSCFG", RWT, 1, 2, AT_SPEC(AT_STR(PDP_ADDR_MAX - 1), AT_STR(PDP_ADDR_MAX - 1)),
         "+QIDNSCFG: <pri_dns>[,<sec_dns>]", 0, 0, m95_qidnscfg},
        {"+QIDNSGIP", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_STR(NET_NAME_MAX)), NULL, 0, 0,
         m95_qidnsgip},
        {0},
};

const struct at_family at_family_pdp_m95 = {
        .name = "pdp-quectel-gsm",
        .cmds = pdp_m95_cmds,
        .init = dns_ec25_init,
        .reboot = dns_m95_reboot,
        .close = dns_m95_close,
};
