/* The fault mechanisms (scenario/fault.h): one table row per fault, with its parameters and
 * its firing function. The mechanisms themselves live with what they break: net/conn.c (the
 * links), net/trap.c (endpoints that misbehave), net/broker.c (bad certificates, restarts),
 * mqtt/client.c (broker answers), modem/modem.c and transport/pty.c (a hung or slow module).
 *
 * Where a fault's effect outlives the call (`for <duration>`), an undo record and its timer
 * restore what the fault changed. Network-side undos (dns.fail, link.refuse, tls.cert) use
 * timers of their own and survive a modem's reboot, as the network does; modem-side ones
 * (modem.hang, net.deregister) use the modem's timers, which a reboot ends (a rebooted module
 * answers and registers again). */
#include "scenario/fault.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "mqtt/client.h"
#include "net/broker.h"
#include "net/conn.h"
#include "net/resolve.h"
#include "net/trap.h"

#define HISTORY_MAX 10000 /* firings kept for `query faults`; later ones are counted only */
#define URC_BURST_MAX 10000
#define BAUD_MIN 300
#define BAUD_MAX 4000000

/* ---- parameters ---- */

struct pspec {
	const char *name;
	enum scn_vtype type; /* SCN_V_NONE: a flag */
	bool required;
	long long lo, hi; /* NUM: the range; DUR: in ms */
	const char *words; /* WORD: "a|b|c" */
};

struct fire;

struct fault_def {
	const char *name;
	struct pspec params[3];
	int (*fire)(struct fire *f);
};

struct fire {
	struct modem *m;
	const struct fault_def *def;
	const struct scn_params *p;
	char *err;
	size_t errlen;
};

#define CLIENT_P                                                                                   \
	{                                                                                          \
		"client", SCN_V_NUM, false, 0, MQTT_CLIENTS_MAX - 1, NULL                          \
	}
#define FOR_P(req)                                                                                 \
	{                                                                                          \
		"for", SCN_V_DUR, (req), 1, (long long)SCN_DURATION_MAX_MS, NULL                   \
	}

static int fire_link_end(struct fire *f);
static int fire_link_blackhole(struct fire *f);
static int fire_link_shape(struct fire *f);
static int fire_link_corrupt(struct fire *f);
static int fire_link_refuse(struct fire *f);
static int fire_dns_fail(struct fire *f);
static int fire_pdp_deact(struct fire *f);
static int fire_net_deregister(struct fire *f);
static int fire_sim_remove(struct fire *f);
static int fire_tls_cert(struct fire *f);
static int fire_tls_trap(struct fire *f);
static int fire_mqtt(struct fire *f);
static int fire_broker_restart(struct fire *f);
static int fire_modem_reboot(struct fire *f);
static int fire_modem_hang(struct fire *f);
static int fire_urc_burst(struct fire *f);
static int fire_modem_baud(struct fire *f);

/* scenarios/README.md, "Faults". `client` is optional everywhere: without it a link fault acts
 * on every connection of the modem, an MQTT fault on whichever client meets it first.
 * broker.restart is an addition (mqtt.session-lost is made of it). */
static const struct fault_def faults[] = {
        {"link.close", {CLIENT_P}, fire_link_end},
        {"link.reset", {CLIENT_P}, fire_link_end},
        {"link.blackhole", {CLIENT_P}, fire_link_blackhole},
        {"link.delay", {{"ms", SCN_V_NUM, true, 0, 600000, NULL}, CLIENT_P}, fire_link_shape},
        /* bits per second, as a link's rate is given; 0 lifts the limit */
        {"link.throttle",
         {{"bps", SCN_V_NUM, true, 0, 1000000000, NULL}, CLIENT_P},
         fire_link_shape},
        {"link.fragment", {{"bytes", SCN_V_NUM, true, 0, 65536, NULL}, CLIENT_P}, fire_link_shape},
        {"link.corrupt",
         {CLIENT_P, {"offset", SCN_V_NUM, false, 0, 1000000000, NULL}},
         fire_link_corrupt},
        {"link.refuse", {FOR_P(false)}, fire_link_refuse},
        {"dns.fail",
         {{"name", SCN_V_STR, true, 1, NET_NAME_MAX, NULL}, FOR_P(false)},
         fire_dns_fail},
        {"pdp.deact", {{"cid", SCN_V_NUM, false, 1, PDP_EC25_CIDS, NULL}}, fire_pdp_deact},
        {"net.deregister", {FOR_P(false)}, fire_net_deregister},
        {"sim.remove", {{NULL}}, fire_sim_remove},
        {"tls.cert",
         {{"kind", SCN_V_WORD, true, 0, 0, "expired|wronghost|untrusted|notyet"}, FOR_P(false)},
         fire_tls_cert},
        {"tls.alert", {{NULL}}, fire_tls_trap},
        {"tls.hang", {{NULL}}, fire_tls_trap},
        {"mqtt.connack", {{"code", SCN_V_NUM, true, 0, 255, NULL}, CLIENT_P}, fire_mqtt},
        /* 3.1.1 3.9.3: 0, 1, 2 or 0x80 (checked below) */
        {"mqtt.suback", {{"code", SCN_V_NUM, true, 0, 128, NULL}, CLIENT_P}, fire_mqtt},
        {"mqtt.noack", {{"count", SCN_V_NUM, false, 1, 1000, NULL}, CLIENT_P}, fire_mqtt},
        {"mqtt.close-after",
         {{"publishes", SCN_V_NUM, true, 1, 100000, NULL}, CLIENT_P},
         fire_mqtt},
        {"mqtt.session-lost", {{NULL}}, fire_broker_restart},
        {"broker.restart", {{NULL}}, fire_broker_restart},
        {"modem.reboot", {{NULL}}, fire_modem_reboot},
        {"modem.hang", {FOR_P(true)}, fire_modem_hang},
        {"modem.urc-burst",
         {{"count", SCN_V_NUM, true, 1, URC_BURST_MAX, NULL},
          {"text", SCN_V_STR, false, 1, SCN_VALUE_MAX, NULL}},
         fire_urc_burst},
        {"modem.baud",
         {{"bps", SCN_V_NUM, true, 0, BAUD_MAX, NULL}, {"input", SCN_V_NONE, false, 0, 0, NULL}},
         fire_modem_baud},
};

static const struct fault_def *find_fault(const char *name)
{
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (strcmp(faults[i].name, name) == 0)
			return &faults[i];
	return NULL;
}

/* The fault whose name is closest to a mistyped one (edit distance at most a third of the
 * name, or 3), for "did you mean": NULL when none is that close. */
static const char *closest_fault(const char *name)
{
	size_t best = (size_t)-1, lim = strlen(name) / 3 > 3 ? strlen(name) / 3 : 3;
	const char *hit = NULL;

	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		const char *f = faults[i].name;
		size_t la = strnlen(name, 31), lb = strnlen(f, 31), row[32];

		for (size_t j = 0; j <= lb; j++)
			row[j] = j;
		for (size_t x = 1; x <= la; x++) {
			size_t diag = row[0];

			row[0] = x;
			for (size_t j = 1; j <= lb; j++) {
				size_t up = row[j], v = diag + (name[x - 1] != f[j - 1]);

				if (up + 1 < v)
					v = up + 1;
				if (row[j - 1] + 1 < v)
					v = row[j - 1] + 1;
				row[j] = v;
				diag = up;
			}
		}
		if (row[lb] < best) {
			best = row[lb];
			hit = f;
		}
	}
	return best <= lim ? hit : NULL;
}

static const char *type_words(enum scn_vtype t)
{
	switch (t) {
	case SCN_V_NONE:
		return "no value (a flag, last)";
	case SCN_V_WORD:
		return "a word";
	case SCN_V_NUM:
		return "a number";
	case SCN_V_DUR:
		return "a duration (250ms, 1.5s, 2m)";
	case SCN_V_STR:
		return "a string in quotes";
	}
	return "?";
}

static bool word_in(const char *words, const char *w, size_t len)
{
	while (*words) {
		size_t n = strcspn(words, "|");

		if (n == len && memcmp(words, w, n) == 0)
			return true;
		words += n + (words[n] == '|');
	}
	return false;
}

static int check_value(const struct fault_def *d, const struct pspec *s, const struct scn_param *v,
                       char *err, size_t errlen)
{
	if (v->type != s->type) {
		snprintf(err, errlen, "fault %s: %s takes %s", d->name, s->name,
		         type_words(s->type));
		return -ERR_INVAL;
	}
	switch (s->type) {
	case SCN_V_NUM:
		if (v->num < s->lo || v->num > s->hi) {
			snprintf(err, errlen, "fault %s: %s takes a number %lld-%lld", d->name,
			         s->name, s->lo, s->hi);
			return -ERR_INVAL;
		}
		return 0;
	case SCN_V_DUR:
		if ((long long)v->ms < s->lo || v->ms > (uint64_t)s->hi) {
			snprintf(err, errlen, "fault %s: %s takes a duration of at least 1ms",
			         d->name, s->name);
			return -ERR_INVAL;
		}
		return 0;
	case SCN_V_STR:
		if ((long long)v->len < s->lo || (long long)v->len > s->hi ||
		    memchr(v->text, 0, v->len)) {
			snprintf(err, errlen, "fault %s: %s takes a string of %lld-%lld bytes",
			         d->name, s->name, s->lo, s->hi);
			return -ERR_INVAL;
		}
		return 0;
	case SCN_V_WORD:
		if (!word_in(s->words, v->text, v->len)) {
			snprintf(err, errlen, "fault %s: %s takes one of %s", d->name, s->name,
			         s->words);
			return -ERR_INVAL;
		}
		return 0;
	case SCN_V_NONE:
		return 0;
	}
	return -ERR_INVAL;
}

int fault_check(const char *name, const struct scn_params *p, char *err, size_t errlen)
{
	const struct fault_def *d = find_fault(name);

	if (!d) {
		const char *near = closest_fault(name);

		if (near)
			snprintf(err, errlen, "unknown fault '%s' (did you mean '%s'?)", name,
			         near);
		else
			snprintf(err, errlen, "unknown fault '%s'", name);
		return -ERR_NAME;
	}
	for (int i = 0; i < p->n; i++) {
		const struct pspec *s = NULL;
		int rc;

		for (int k = 0; k < 3 && d->params[k].name && !s; k++)
			if (strcmp(d->params[k].name, p->p[i].name) == 0)
				s = &d->params[k];
		if (!s) {
			snprintf(err, errlen, "fault %s has no parameter '%s'", name, p->p[i].name);
			return -ERR_INVAL;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(p->p[j].name, p->p[i].name) == 0) {
				snprintf(err, errlen, "fault %s: %s given twice", name, s->name);
				return -ERR_INVAL;
			}
		rc = check_value(d, s, &p->p[i], err, errlen);
		if (rc)
			return rc;
	}
	for (int k = 0; k < 3 && d->params[k].name; k++)
		if (d->params[k].required && !scn_param_get(p, d->params[k].name)) {
			snprintf(err, errlen, "fault %s needs %s", name, d->params[k].name);
			return -ERR_INVAL;
		}
	if (strcmp(name, "mqtt.suback") == 0) {
		long long code = scn_param_get(p, "code")->num;

		if (code > 2 && code != 128) {
			snprintf(err, errlen, "fault mqtt.suback: code takes 0, 1, 2 or 128");
			return -ERR_INVAL;
		}
	}
	if (strcmp(name, "modem.baud") == 0) {
		long long bps = scn_param_get(p, "bps")->num;

		if (bps != 0 && bps < BAUD_MIN) {
			snprintf(err, errlen, "fault modem.baud: bps takes 0 (no pacing) or %d-%d",
			         BAUD_MIN, BAUD_MAX);
			return -ERR_INVAL;
		}
	}
	return 0;
}

/* ---- helpers for the firing functions ---- */

static long long num_or(const struct fire *f, const char *name, long long dflt)
{
	const struct scn_param *v = scn_param_get(f->p, name);

	return v ? v->num : dflt;
}

/* A duration parameter under --time-scale (the engine's rule for every scenario duration),
 * or 0 when not given. */
static uint64_t dur_ms(const struct fire *f, const char *name)
{
	const struct scn_param *v = scn_param_get(f->p, name);
	double ms;

	if (!v)
		return 0;
	ms = (double)v->ms * f->m->sim->opt.time_scale;
	return ms < 1 ? 1 : (uint64_t)ms;
}

static int fail_msg(struct fire *f, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail_msg(struct fire *f, int rc, const char *fmt, ...)
{
	va_list ap;

	/* no "fault <name>:" prefix: the engine and the control socket name the fault */
	va_start(ap, fmt);
	vsnprintf(f->err, f->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- per-modem state (modem timers of the modem-side faults) ---- */

/* A fault fired again replaces its timer: the old timer's drop must not end the fault. */
static bool rearming;

static void rearm_cancel(struct modem_timer **t)
{
	struct modem_timer *old = *t;

	*t = NULL;
	rearming = true;
	modem_timer_cancel(old);
	rearming = false;
}

/* The modem keeps the timers of its own faults (struct modem.fault). */
static struct modem_fault_timers *fm_of(struct modem *m)
{
	return &m->fault;
}

/* ---- undo records with timers of their own (network-side durations) ---- */

enum undo_kind { UNDO_DNS, UNDO_REFUSE, UNDO_TLS };

struct undo {
	uv_timer_t timer;
	enum undo_kind kind;
	struct modemsim *sim;
	struct modem *m;
	char name[NET_NAME_MAX + 1]; /* DNS: the name, lower case */
	bool had; /* DNS: an entry for exactly this name existed before */
	struct net_entry before;
	int port; /* TLS: the redirect it set */
	struct undo *prev, *next;
};

static struct undo *undos;

static void undo_unlink(struct undo *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		undos = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->prev = u->next = NULL;
}

static void undo_free(uv_handle_t *h)
{
	free(h->data);
}

static void undo_drop(struct undo *u)
{
	undo_unlink(u);
	uv_timer_stop(&u->timer);
	uv_close((uv_handle_t *)&u->timer, undo_free);
}

static struct undo *undo_find(enum undo_kind kind, const struct modem *m, const char *name)
{
	for (struct undo *u = undos; u; u = u->next)
		if (u->kind == kind && (kind == UNDO_DNS ? strcmp(u->name, name) == 0 : u->m == m))
			return u;
	return NULL;
}

static void on_undo(uv_timer_t *t)
{
	struct undo *u = t->data;
	struct net_link_policy *pol;

	switch (u->kind) {
	case UNDO_DNS:
		if (u->had)
			net_map_set(u->sim->net, u->name, u->before.kind, u->before.addr);
		else
			net_map_remove(u->sim->net, u->name);
		trace_event(u->m->index, "fault", "dns.fail ended: %s resolves again", u->name);
		break;
	case UNDO_REFUSE:
		pol = net_link_policy(&u->m->nh);
		if (pol)
			pol->refuse_port = 0;
		trace_event(u->m->index, "fault", "link.refuse ended");
		break;
	case UNDO_TLS:
		pol = net_link_policy(&u->m->nh);
		if (pol && pol->tls_port == u->port && !pol->tls_once)
			pol->tls_port = 0;
		trace_event(u->m->index, "fault", "tls.cert ended");
		break;
	}
	undo_drop(u);
}

/* The undo of (kind, m, name): the existing one (its saved state is the original), or a new
 * one. ms 0: none is kept, the fault stays. Returns the record (NULL for ms 0 or no memory);
 * *fresh says whether the caller must save the state before changing it. */
static struct undo *undo_arm(struct fire *f, enum undo_kind kind, const char *name, uint64_t ms,
                             bool *fresh)
{
	struct undo *u = undo_find(kind, f->m, name);

	*fresh = u == NULL;
	if (!ms) {
		if (u)
			undo_drop(u); /* from now on for good: nothing to restore */
		return NULL;
	}
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return NULL;
		u->kind = kind;
		u->sim = f->m->sim;
		u->m = f->m;
		snprintf(u->name, sizeof(u->name), "%s", name ? name : "");
		uv_timer_init(f->m->sim->loop, &u->timer);
		u->timer.data = u;
		u->next = undos;
		if (undos)
			undos->prev = u;
		undos = u;
	}
	uv_timer_start(&u->timer, on_undo, ms, 0); /* again: the later end wins */
	return u;
}

/* ---- link.* ---- */

/* The connections a link fault acts on: client n's, or every one of the modem. */
struct targets {
	struct net_conn *c[64];
	int n;
};

static void collect(struct net_conn *c, void *arg)
{
	struct targets *t = arg;

	if (t->n < (int)(sizeof(t->c) / sizeof(t->c[0])))
		t->c[t->n++] = c;
}

static int targets_of(struct fire *f, struct targets *t)
{
	long long client = num_or(f, "client", -1);

	t->n = 0;
	if (client >= 0) {
		struct net_conn *c = modem_mqtt(f->m)->c[client].conn;

		if (!c)
			return fail_msg(f, -ERR_STATE, "MQTT client %lld has no connection",
			                client);
		t->c[t->n++] = c;
		return 0;
	}
	net_conn_each(&f->m->nh, collect, t);
	if (!t->n)
		return fail_msg(f, -ERR_STATE, "modem %d has no connection", f->m->index);
	return 0;
}

static int fire_link_end(struct fire *f)
{
	struct targets t;
	bool reset = strcmp(f->def->name, "link.reset") == 0;
	int rc = targets_of(f, &t);

	for (int i = 0; i < t.n && !rc; i++) {
		if (reset)
			net_conn_fault_reset(t.c[i]);
		else
			net_conn_fault_close(t.c[i]);
	}
	return rc;
}

static int fire_link_blackhole(struct fire *f)
{
	struct targets t;
	int rc = targets_of(f, &t);

	for (int i = 0; i < t.n && !rc; i++)
		net_conn_fault_blackhole(t.c[i], true);
	return rc;
}

struct shape_change {
	const char *what;
	unsigned value;
};

static void apply_shape(struct net_link_shape *s, const struct shape_change *ch)
{
	if (strcmp(ch->what, "link.delay") == 0)
		s->delay_ms = ch->value;
	else if (strcmp(ch->what, "link.throttle") == 0)
		s->rate = ch->value;
	else
		s->fragment = ch->value;
}

static void shape_one(struct net_conn *c, void *arg)
{
	struct net_link_shape s;

	net_conn_fault_shape_get(c, &s);
	apply_shape(&s, arg);
	net_conn_fault_shape(c, &s);
}

static int fire_link_shape(struct fire *f)
{
	struct shape_change ch = {f->def->name, 0};
	long long v;

	if (strcmp(f->def->name, "link.delay") == 0) {
		double ms = (double)num_or(f, "ms", 0) * f->m->sim->opt.time_scale;

		ch.value = ms > 0 && ms < 1 ? 1 : (unsigned)ms;
	} else if (strcmp(f->def->name, "link.throttle") == 0) {
		v = num_or(f, "bps", 0);
		ch.value = v > 0 && v < 8 ? 1 : (unsigned)(v / 8); /* bits to bytes per second */
	} else {
		ch.value = (unsigned)num_or(f, "bytes", 0);
	}
	if (num_or(f, "client", -1) >= 0) {
		struct targets t;
		int rc = targets_of(f, &t);

		if (!rc)
			shape_one(t.c[0], &ch);
		return rc;
	}
	/* the modem's link: its connections now and later */
	{
		struct net_link_policy *pol = net_link_policy(&f->m->nh);

		if (!pol)
			return fail_msg(f, -ERR_NOMEM, "out of memory");
		apply_shape(&pol->shape, &ch);
		net_conn_each(&f->m->nh, shape_one, &ch);
	}
	return 0;
}

static int fire_link_corrupt(struct fire *f)
{
	struct targets t;
	int rc = targets_of(f, &t);

	for (int i = 0; i < t.n && !rc; i++)
		net_conn_fault_corrupt(t.c[i], (uint64_t)num_or(f, "offset", 0));
	return rc;
}

static int fire_link_refuse(struct fire *f)
{
	struct net_link_policy *pol = net_link_policy(&f->m->nh);
	int port = net_trap_refuse_port();
	bool fresh;

	if (!pol || !port)
		return fail_msg(f, -ERR_SYS, "no refusing port (see the log)");
	pol->refuse_port = port;
	undo_arm(f, UNDO_REFUSE, NULL, dur_ms(f, "for"), &fresh);
	return 0;
}

/* ---- dns.fail: the network's resolver, shared by every modem (the override map) ---- */

static int fire_dns_fail(struct fire *f)
{
	const struct scn_param *v = scn_param_get(f->p, "name");
	struct net_map *map = f->m->sim->net;
	char name[NET_NAME_MAX + 1];
	struct net_entry before = {0};
	bool had = false, fresh;
	struct undo *u;
	struct in_addr none = {0};
	int rc;

	for (size_t i = 0; i <= v->len && i < sizeof(name); i++)
		name[i] = (char)tolower((unsigned char)v->text[i]);
	name[sizeof(name) - 1] = 0;
	for (size_t i = 0; i < map->n_entries; i++)
		if (strcmp(map->entries[i].name, name) == 0) {
			before = map->entries[i];
			had = true;
		}
	rc = net_map_set(map, name, NET_ENTRY_FAIL, none);
	if (rc)
		return fail_msg(f, rc, "'%s' is not a host name, *.suffix or *", v->text);
	u = undo_arm(f, UNDO_DNS, name, dur_ms(f, "for"), &fresh);
	if (u && fresh) {
		u->had = had;
		u->before = before;
	}
	return 0;
}

/* ---- the network and the SIM (modem-side: deferred to the loop, so that a fault fired
 * from inside a modem's own callback does not pull state from under it) ---- */

static void pdp_deact_cb(struct modem *m, void *arg)
{
	pdp_network_deactivate(m, (int)(intptr_t)arg);
}

static int fire_pdp_deact(struct fire *f)
{
	int cid = (int)num_or(f, "cid", 1);

	if (f->m->model->pdp->contexts == 1)
		cid = 1; /* one context (pdp.h) */
	if (!pdp_active(f->m, cid))
		return fail_msg(f, -ERR_STATE, "PDP context %d is not active", cid);
	if (!modem_after(f->m, 0, pdp_deact_cb, (void *)(intptr_t)cid))
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	return 0;
}

static void dereg_end(struct modem *m, void *arg)
{
	struct net_link_policy *pol = net_link_policy(&m->nh);
	struct modem_fault_timers *fm = fm_of(m);

	(void)arg;
	if (fm)
		fm->dereg = NULL;
	if (pol)
		pol->down = false;
	trace_event(m->index, "fault", "net.deregister ended: the network is back");
	/* the network takes the modem back unless the host turned the radio off meanwhile */
	if (m->cfun == 1 && m->reg.cops_mode != 2)
		reg_set_registration(m, m->reg.reg_stat);
	net_link_update(&m->nh);
}

/* A reboot (or the end) cancelled the timer: the rebooted modem registers at once (net.c),
 * so the outage is over for it. */
static void dereg_drop(void *arg)
{
	struct modem *m = arg;
	struct net_link_policy *pol = net_link_policy(&m->nh);
	struct modem_fault_timers *fm = fm_of(m);

	if (rearming)
		return;
	if (fm)
		fm->dereg = NULL;
	if (pol)
		pol->down = false;
	if (!m->closing)
		net_link_update(&m->nh);
}

static void dereg_cb(struct modem *m, void *arg)
{
	(void)arg;
	/* A registration on its way would undo the loss. */
	modem_timer_cancel(m->reg.reg_timer);
	m->reg.reg_timer = NULL;
	/* 27.007 7.2: 2 "not registered, searching", then 0 "not searching" */
	reg_set_registration(m, REG_STAT_SEARCHING);
	reg_set_registration(m, REG_STAT_NOT_REGISTERED);
	net_link_update(&m->nh); /* no registration, no traffic */
}

static int fire_net_deregister(struct fire *f)
{
	struct modem *m = f->m;
	struct net_link_policy *pol = net_link_policy(&m->nh);
	struct modem_fault_timers *fm = fm_of(m);
	uint64_t ms = dur_ms(f, "for");
	bool again = fm && fm->dereg;

	if (!pol || !fm)
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	if (!reg_registered(m) && !again)
		return fail_msg(f, -ERR_STATE, "modem %d is not registered", m->index);
	if (!again && !modem_after(m, 0, dereg_cb, NULL))
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	/* Traffic stalls once the registration is gone; new connections wait for it. */
	pol->down = true;
	if (fm->dereg)
		rearm_cancel(&fm->dereg);
	/* Without `for`: until the modem registers again by itself (AT+CFUN, AT+COPS=0, a
	 * reboot); conn.c stalls traffic only while the modem is not registered. */
	if (ms)
		fm->dereg = modem_after_owned(m, ms, dereg_end, m, dereg_drop);
	return 0;
}

static void sim_remove_cb(struct modem *m, void *arg)
{
	(void)arg;
	/* AT+QSIMDET example (Quectel manual): "<Remove (U)SIM card>  +CPIN: NOT READY". A
	 * module without its SIM detaches: contexts down, registration lost. */
	modem_urc(m, "+CPIN: NOT READY");
	pdp_network_deactivate_all(m);
	modem_timer_cancel(m->reg.reg_timer);
	m->reg.reg_timer = NULL;
	reg_set_registration(m, REG_STAT_NOT_REGISTERED);
}

static int fire_sim_remove(struct fire *f)
{
	if (f->m->sim_state == SIM_ABSENT)
		return fail_msg(f, -ERR_STATE, "modem %d has no SIM", f->m->index);
	f->m->sim_state = SIM_ABSENT; /* at once: commands that need it fail from now */
	if (!modem_after(f->m, 0, sim_remove_cb, NULL))
		sim_remove_cb(f->m, NULL);
	return 0;
}

/* ---- tls.* ---- */

static int fire_tls_cert(struct fire *f)
{
	static const struct {
		const char *kind;
		enum net_broker_cert cert;
		const char *what;
	} kinds[] = {
	        {"expired", NET_CERT_EXPIRED, "an expired certificate"},
	        {"wronghost", NET_CERT_WRONGHOST, "a certificate for another host"},
	        {"untrusted", NET_CERT_UNTRUSTED, "a certificate from an unknown CA"},
	        {"notyet", NET_CERT_NOTYET, "a certificate not yet valid"},
	};
	const struct scn_param *v = scn_param_get(f->p, "kind");
	struct net_broker *b = f->m->sim->broker;
	struct net_link_policy *pol = net_link_policy(&f->m->nh);
	struct undo *u;
	bool fresh;
	size_t k = 0;
	int port;

	while (k < sizeof(kinds) / sizeof(kinds[0]) - 1 && strcmp(kinds[k].kind, v->text) != 0)
		k++;
	if (!b)
		return fail_msg(
		        f, -ERR_STATE,
		        "needs the embedded broker, whose listeners present the certificates "
		        "(not with --broker none)");
	port = net_broker_info(b)->cert_port[kinds[k].cert];
	if (!port)
		return fail_msg(
		        f, -ERR_NOENT,
		        "the embedded broker has no listener for it: its PKI (%s) lacks the "
		        "certificate (certs/gen.sh makes it)",
		        net_broker_info(b)->certs);
	if (!pol)
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	pol->tls_port = port;
	pol->tls_once = false;
	snprintf(pol->tls_what, sizeof(pol->tls_what), "%s", kinds[k].what);
	u = undo_arm(f, UNDO_TLS, NULL, dur_ms(f, "for"), &fresh);
	if (u)
		u->port = port;
	return 0;
}

static int fire_tls_trap(struct fire *f)
{
	struct net_link_policy *pol = net_link_policy(&f->m->nh);
	bool alert = strcmp(f->def->name, "tls.alert") == 0;
	int port = alert ? net_trap_alert_port(f->m->sim->loop) : net_trap_hang_port();

	if (!pol || !port)
		return fail_msg(f, -ERR_SYS, "cannot start the %s server (see the log)",
		                alert ? "alerting" : "silent");
	pol->tls_port = port;
	pol->tls_once = true; /* the next handshake only */
	snprintf(pol->tls_what, sizeof(pol->tls_what), "%s",
	         alert ? "a handshake_failure alert" : "no answer at all");
	return 0;
}

/* ---- mqtt.* ---- */

/* A count of acknowledgements or publishes: 0 or less disarms (-1). */
static int positive(long long v)
{
	return v > 0 ? (int)v : -1;
}

static int fire_mqtt(struct fire *f)
{
	const char *n = f->def->name;
	int client = (int)num_or(f, "client", -1);

	if (strcmp(n, "mqtt.connack") == 0)
		mqtt_fault_arm(&modem_mqtt(f->m)->fault.connack, client, (int)num_or(f, "code", 0));
	else if (strcmp(n, "mqtt.suback") == 0)
		mqtt_fault_arm(&modem_mqtt(f->m)->fault.suback, client, (int)num_or(f, "code", 0));
	else if (strcmp(n, "mqtt.noack") == 0)
		mqtt_fault_arm(&modem_mqtt(f->m)->fault.noack, client,
		               positive(num_or(f, "count", 1)));
	else
		mqtt_fault_arm(&modem_mqtt(f->m)->fault.close_after, client,
		               positive(num_or(f, "publishes", 1)));
	return 0;
}

static int restart_modem = -1;

static void on_restarted(void *arg, int status)
{
	(void)arg;
	trace_event(restart_modem, "fault", "broker restart: %s",
	            status ? "mosquitto did not come back" : "listening again, sessions gone");
}

/* mosquitto runs without persistence (net/broker.c): a restart forgets every session and
 * subscription for real, and ends every connection to it, of every modem (a broker restart
 * is what loses sessions in the field; a broker does not forget one session on its own). */
static int fire_broker_restart(struct fire *f)
{
	struct net_broker *b = f->m->sim->broker;

	if (!b)
		return fail_msg(f, -ERR_STATE,
		                "needs the embedded broker (not with --broker none): the sessions "
		                "live there");
	if (net_broker_restart(b, on_restarted, NULL) != 0)
		return fail_msg(f, -ERR_STATE, "the embedded broker is not up (or restarting)");
	restart_modem = f->m->index;
	return 0;
}

/* ---- modem.* ---- */

static void reboot_cb(struct modem *m, void *arg)
{
	(void)arg;
	modem_reboot(m);
}

static int fire_modem_reboot(struct fire *f)
{
	if (!modem_after(f->m, 0, reboot_cb, NULL))
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	return 0;
}

static void hang_end(struct modem *m, void *arg)
{
	struct modem_fault_timers *fm = fm_of(m);

	(void)arg;
	if (fm)
		fm->hang = NULL;
	modem_hang(m, false);
}

static void hang_drop(void *arg)
{
	struct modem *m = arg;
	struct modem_fault_timers *fm = fm_of(m);

	if (rearming)
		return;
	if (fm)
		fm->hang = NULL;
	modem_hang(m, false); /* a reboot ends a hang (no-op while closing) */
}

static int fire_modem_hang(struct fire *f)
{
	struct modem_fault_timers *fm = fm_of(f->m);

	if (!fm)
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	if (fm->hang)
		rearm_cancel(&fm->hang); /* hung already: the new end replaces the old */
	modem_hang(f->m, true);
	fm->hang = modem_after_owned(f->m, dur_ms(f, "for"), hang_end, f->m, hang_drop);
	if (!fm->hang) {
		modem_hang(f->m, false);
		return fail_msg(f, -ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int fire_urc_burst(struct fire *f)
{
	const struct scn_param *text = scn_param_get(f->p, "text");
	long long n = num_or(f, "count", 1);

	/* V.250 6.3.4's RING when no text is given: the result code every AT host must take
	 * unasked. */
	for (long long i = 0; i < n; i++)
		modem_urc(f->m, "%s", text ? text->text : "RING");
	return 0;
}

static int fire_modem_baud(struct fire *f)
{
	long long bps = num_or(f, "bps", 0);
	unsigned rate = (unsigned)(bps / 10); /* 8N1: ten bits a byte */

	if (!f->m->port.set_pace)
		return fail_msg(f, -ERR_STATE, "modem %d's port cannot be paced", f->m->index);
	f->m->port.set_pace(f->m->port.ctx, rate, scn_param_get(f->p, "input") ? rate : 0);
	return 0;
}

/* ---- firing and history ---- */

static struct buf history; /* JSON objects joined by commas; reachable until exit */
static size_t n_history, n_fired;

static void params_text(const struct scn_params *p, struct buf *b, bool json)
{
	if (json)
		buf_putc(b, '{');
	for (int i = 0; i < p->n; i++) {
		const struct scn_param *v = &p->p[i];

		if (json) {
			buf_printf(b, "%s\"%s\":", i ? "," : "", v->name);
			switch (v->type) {
			case SCN_V_NONE:
				buf_printf(b, "true");
				break;
			case SCN_V_NUM:
				buf_printf(b, "%lld", v->num);
				break;
			case SCN_V_WORD:
			case SCN_V_DUR:
			case SCN_V_STR:
				buf_putc(b, '"');
				log_escape(b, (const uint8_t *)v->text, v->len, true);
				buf_putc(b, '"');
				break;
			}
			continue;
		}
		buf_printf(b, " %s", v->name);
		if (v->type == SCN_V_NONE)
			continue;
		buf_putc(b, ' ');
		if (v->type == SCN_V_STR)
			buf_putc(b, '"');
		log_escape(b, (const uint8_t *)v->text, v->len, false);
		if (v->type == SCN_V_STR)
			buf_putc(b, '"');
	}
	if (json)
		buf_putc(b, '}');
}

static void record(struct modem *m, const char *name, const struct scn_params *p)
{
	struct timeval tv;
	struct buf b;

	buf_init(&b, 0);
	params_text(p, &b, false);
	buf_putc(&b, 0);
	trace_event(m->index, "fault", "fault %s fired%s", name, b.data ? (char *)b.data : "");
	log_msg(LOG_INFO, "#%d: fault %s fired%s", m->index, name, b.data ? (char *)b.data : "");
	buf_free(&b);
	n_fired++;
	if (n_history >= HISTORY_MAX)
		return;
	gettimeofday(&tv, NULL);
	buf_printf(&history, "%s{\"t\":%lld.%03d,\"modem\":%d,\"fault\":\"%s\",\"params\":",
	           n_history ? "," : "", (long long)tv.tv_sec, (int)(tv.tv_usec / 1000), m->index,
	           name);
	params_text(p, &history, true);
	buf_putc(&history, '}');
	n_history++;
}

int fault_fire(struct modem *m, const char *name, const struct scn_params *p, char *err,
               size_t errlen)
{
	struct fire f = {m, find_fault(name), p, err, errlen};
	int rc = fault_check(name, p, err, errlen);

	if (rc)
		return rc;
	if (m->closing) {
		snprintf(err, errlen, "fault %s: modem %d is shutting down", name, m->index);
		return -ERR_STATE;
	}
	rc = f.def->fire(&f);
	if (rc) {
		trace_event(m->index, "fault", "fault %s not fired: %s", name, err);
		return rc;
	}
	record(m, name, p);
	return 0;
}

int fault_history_json(struct buf *out)
{
	int rc = buf_putc(out, '[');

	if (!rc && history.len)
		rc = buf_append(out, history.data, history.len);
	if (!rc)
		rc = buf_putc(out, ']');
	return rc ? -ERR_NOMEM : 0;
}

size_t fault_count(void)
{
	return n_fired;
}

void fault_close(struct modemsim *sim)
{
	(void)sim;
	while (undos)
		undo_drop(undos);
	net_trap_close();
}
