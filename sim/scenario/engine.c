#include "scenario/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "at/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "modem/reg.h"
#include "modem/pdp.h"
#include "mqtt/client.h"
#include "net/broker.h"
#include "net/resolve.h"
#include "store/checksum.h"
#include "store/fs.h"

#include "scenario/fault.h"

#define SCN_FILE_MAX (16u * 1024 * 1024) /* a scenario file larger than this is refused */
#define EXPAND_MAX (2 * SCN_LINE_MAX + 64)
/* Statements kept (rules, triggers, events): a control client cannot grow modemsim without
 * bound. Each is about 9 KiB plus two counters per modem. */
#define SCN_HELD_MAX 10000

/* A statement the engine keeps: a rule, an `after` trigger, or an `at` event that timers point
 * to. Counters are per modem: every modem is its own device, so `once` is once per modem. */
struct scn_held {
	struct scn_held *next;
	uint64_t t0; /* loop time when applied: `from`, `until` and `at` count from here */
	int ord; /* order of arrival, for the default random seed */
	int pending; /* `at`: its timers not yet fired; the statement is freed with the last */
	uint64_t *hits; /* per modem: matches whose window held */
	uint64_t *rng; /* per modem: `prob` generator state */
	char text[160]; /* canonical text (cut) for traces */
	struct scn_stmt st;
};

enum timer_kind { TIMER_DO, TIMER_REGISTRATION };

/* An engine timer: survives a modem's reboot, closed at scn_engine_stop. */
struct scn_timer {
	uv_timer_t handle;
	struct scn_engine *e;
	struct scn_timer *prev, *next;
	enum timer_kind kind;
	struct modem *m;
	const struct scn_held *h; /* TIMER_DO: the statement whose <do> runs */
	int stat; /* TIMER_REGISTRATION */
	char *cmd; /* the command an `after command` saw, for {n} in its URC; or NULL */
};

struct scn_modem {
	struct scn_engine *e;
	struct modem *m;
	uint64_t lat_cmd_ms; /* as written; scaled when used */
	uint64_t lat_urc_ms;
	/* a revision of its own: a copy of the model profile that points at it */
	bool own_profile;
	struct model_profile profile;
	char revision[72];
	/* network settings: the network keeps them across the modem's reboot */
	bool has_signal, has_oper, has_reg;
	int rssi, ber, reg;
	char oper[32];
	uint64_t commands;
	uint64_t publishes;
};

struct scn_engine {
	struct modemsim *sim;
	uint64_t start;
	int nextord;
	int nheld; /* statements held now (rules, triggers, `at` events still pending) */
	struct scn_held *rules, **rules_tail;
	struct scn_held *triggers, **triggers_tail;
	struct scn_held *events; /* `at` statements (timers point to them) */
	struct scn_timer *timers;
	struct scn_modem *modems;
	int count;
};

static uint64_t scaled(const struct scn_engine *e, uint64_t ms)
{
	double v = (double)ms * e->sim->opt.time_scale + 0.5;

	return v < 0 ? 0 : (uint64_t)v;
}

static uint64_t now_ms(const struct scn_engine *e)
{
	return uv_now(e->sim->loop);
}

/* ---- engine timers ---- */

static void timer_free_cb(uv_handle_t *h)
{
	struct scn_timer *t = h->data;

	free(t->cmd);
	free(t);
}

static void timer_drop(struct scn_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->e->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	uv_timer_stop(&t->handle);
	uv_close((uv_handle_t *)&t->handle, timer_free_cb);
}

static void release_event(struct scn_engine *e, const struct scn_held *ch);
static void do_run(struct modem *m, const struct scn_held *h, const char *cmd);

static void timer_fire(uv_timer_t *handle)
{
	struct scn_timer *t = handle->data;
	struct scn_engine *e = t->e;

	if (!t->m->closing) {
		switch (t->kind) {
		case TIMER_DO:
			do_run(t->m, t->h, t->cmd);
			release_event(e, t->h);
			break;
		case TIMER_REGISTRATION:
			reg_set_registration(t->m, t->stat);
			t->m->scn->has_reg = true;
			t->m->scn->reg = t->stat;
			break;
		}
	}
	timer_drop(t);
}

static struct scn_timer *timer_add(struct scn_engine *e, struct modem *m, uint64_t ms,
                                   enum timer_kind kind)
{
	struct scn_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		log_msg(LOG_ERROR, "#%d: out of memory for a scenario timer", m->index);
		return NULL;
	}
	t->e = e;
	t->m = m;
	t->kind = kind;
	uv_timer_init(e->sim->loop, &t->handle);
	t->handle.data = t;
	t->next = e->timers;
	if (e->timers)
		e->timers->prev = t;
	e->timers = t;
	uv_timer_start(&t->handle, timer_fire, ms, 0);
	return t;
}

/* ---- start and stop ---- */

static const struct modem_hooks scn_hooks;

int scn_engine_start(struct modemsim *sim)
{
	struct scn_engine *e;

	if (sim->scn)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ERR_NOMEM;
	e->modems = calloc((size_t)(sim->count ? sim->count : 1), sizeof(*e->modems));
	if (!e->modems) {
		free(e);
		return -ERR_NOMEM;
	}
	if (modemsim_add_hooks(sim, &scn_hooks) != 0) {
		free(e->modems);
		free(e);
		return -ERR_NOMEM;
	}
	e->sim = sim;
	e->count = sim->count;
	e->start = uv_now(sim->loop);
	e->rules_tail = &e->rules;
	e->triggers_tail = &e->triggers;
	for (int i = 0; i < sim->count; i++) {
		e->modems[i].e = e;
		e->modems[i].m = &sim->modems[i];
		sim->modems[i].scn = &e->modems[i];
	}
	sim->scn = e;
	return 0;
}

static void held_free_list(struct scn_held *h);

/* An `at` statement's timer has fired: with its last, the statement goes (a control client
 * firing faults for hours holds only what is still to come). */
static void release_event(struct scn_engine *e, const struct scn_held *ch)
{
	struct scn_held *h = (struct scn_held *)ch;

	if (h->st.kind != SCN_AT || --h->pending > 0)
		return;
	for (struct scn_held **pp = &e->events; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			h->next = NULL;
			held_free_list(h);
			e->nheld--;
			return;
		}
}

static void held_free_list(struct scn_held *h)
{
	while (h) {
		struct scn_held *next = h->next;

		free(h->hits);
		free(h->rng);
		free(h);
		h = next;
	}
}

void scn_engine_stop(struct modemsim *sim)
{
	struct scn_engine *e = sim->scn;

	if (!e)
		return;
	fault_close(sim);
	while (e->timers)
		timer_drop(e->timers);
	for (int i = 0; i < e->count; i++) {
		struct modem *m = &sim->modems[i];

		/* the copied profile dies with the engine: give the modem its model back */
		if (e->modems[i].own_profile)
			m->model = profile_find(e->modems[i].profile.name);
		m->scn = NULL;
	}
	held_free_list(e->rules);
	held_free_list(e->triggers);
	held_free_list(e->events);
	free(e->modems);
	free(e);
	sim->scn = NULL;
}

/* ---- settings ---- */

/* +CSQ drives the LTE figures the EC25 also reports (+QCSQ), keeping the defaults' relations
 * (net.c: CSQ 25 = -63 dBm RSSI, RSRP 30 dB below, SINR 10 dB, RSRQ -10 dB): RSSI dBm is
 * -113 + 2 * CSQ (27.007 8.5); the others are a choice that moves with it. */
static void set_signal(struct modem *m, int rssi, int ber)
{
	struct reg_state *n = &m->reg;

	n->rssi = rssi;
	if (ber >= 0)
		n->ber = ber;
	if (rssi == 99)
		return;
	n->lte_rssi = -113 + 2 * rssi;
	n->rsrp = n->lte_rssi - 30;
	n->sinr = (rssi - 15 + 20) * 5;
	n->rsrq = -20 + rssi * 10 / 25;
}

static void set_operator(struct modem *m, const char *name)
{
	snprintf(m->reg.oper_long, sizeof(m->reg.oper_long), "%s", name);
	size_t n = strlen(name);

	/* the short form is cut to its field, as a network's short name is */
	if (n >= sizeof(m->reg.oper_short))
		n = sizeof(m->reg.oper_short) - 1;
	memcpy(m->reg.oper_short, name, n);
	m->reg.oper_short[n] = 0;
}

static int apply_setting(struct scn_engine *e, struct modem *m, const struct scn_stmt *s, char *err,
                         size_t errlen)
{
	const struct scn_setting_stmt *st = &s->u.set;
	struct scn_modem *sm = m->scn;
	const char *text = scn_str(s, st->text);

	switch (st->what) {
	case SCN_SET_MODEL:
		if (strcmp(text, m->model->name) != 0) {
			snprintf(err, errlen, "model %s does not match --model %s", text,
			         m->model->name);
			return -1;
		}
		return 0;
	case SCN_SET_REVISION:
		if (!sm->own_profile) {
			sm->profile = *m->model;
			sm->own_profile = true;
		}
		snprintf(sm->revision, sizeof(sm->revision), "%s", text);
		sm->profile.revision = sm->revision;
		m->model = &sm->profile;
		return 0;
	case SCN_SET_IMEI:
		snprintf(m->id.imei, sizeof(m->id.imei), "%s", text);
		return 0;
	case SCN_SET_ICCID:
		snprintf(m->id.iccid, sizeof(m->id.iccid), "%s", text);
		return 0;
	case SCN_SET_IMSI:
		snprintf(m->id.imsi, sizeof(m->id.imsi), "%s", text);
		return 0;
	case SCN_SET_SIM: {
		static const enum sim_state states[] = {SIM_READY, SIM_PIN, SIM_PUK, SIM_ABSENT};

		m->sim_state = states[st->a];
		return 0;
	}
	case SCN_SET_REGISTRATION:
		if (st->has_ms) {
			struct scn_timer *t =
			        timer_add(e, m, scaled(e, st->ms), TIMER_REGISTRATION);

			if (!t) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			t->stat = st->a;
		} else {
			reg_set_registration(m, st->a);
			sm->has_reg = true;
			sm->reg = st->a;
		}
		return 0;
	case SCN_SET_SIGNAL:
		set_signal(m, st->a, st->b);
		sm->has_signal = true;
		sm->rssi = st->a;
		sm->ber = m->reg.ber;
		return 0;
	case SCN_SET_OPERATOR:
		set_operator(m, text);
		sm->has_oper = true;
		snprintf(sm->oper, sizeof(sm->oper), "%s", text);
		return 0;
	case SCN_SET_LATENCY_COMMAND:
		sm->lat_cmd_ms = st->ms;
		return 0;
	case SCN_SET_LATENCY_URC:
		sm->lat_urc_ms = st->ms;
		return 0;
	case SCN_SET_DEFAULT_BEARER:
		if (st->a && !m->model->lte_default_bearer) {
			snprintf(err, errlen, "the %s has no LTE default bearer", m->model->name);
			return -1;
		}
		modem_pdp(m)->default_bearer = st->a != 0;
		pdp_default_bearer_sync(m);
		return 0;
	case SCN_SET_TIMING:
	case SCN_SET_RESOLVE:
	case SCN_SET_ROUTE:
		break; /* process-wide: see apply_global */
	}
	return 0;
}

/* Settings of the whole process (one loop, one name map): `modem <n>` cannot narrow them. */
static int apply_global(struct scn_engine *e, const struct scn_stmt *s, char *err, size_t errlen)
{
	const struct scn_setting_stmt *st = &s->u.set;
	struct modemsim *sim = e->sim;
	int rc = -ERR_INVAL;

	switch (st->what) {
	case SCN_SET_TIMING:
		sim->opt.timing = st->a ? TIMING_FAST : TIMING_REALISTIC;
		return 0;
	case SCN_SET_RESOLVE: {
		struct in_addr addr = {0};
		bool fail = strcmp(scn_str(s, st->text2), "fail") == 0;

		if (!fail)
			inet_pton(AF_INET, scn_str(s, st->text2), &addr);
		rc = net_map_set(sim->net, scn_str(s, st->text),
		                 fail ? NET_ENTRY_FAIL : NET_ENTRY_ADDR, addr);
		break;
	}
	case SCN_SET_ROUTE: {
		char spec[80];
		int bad = 0;

		snprintf(spec, sizeof(spec), "%d=%s", st->a, scn_str(s, st->text2));
		rc = net_map_add_route(sim->net, spec);
		if (rc == 0 && scn_str(s, st->text2)[0] == '@') {
			const struct net_broker_info *bi =
			        sim->broker ? net_broker_info(sim->broker) : NULL;

			/* a broker route needs the listeners' ports, known once it is up */
			rc = net_map_bind_broker(sim->net, bi ? bi->plain_port : 0,
			                         bi ? bi->tls_port : 0, bi ? bi->mutual_port : 0,
			                         &bad);
			if (rc) {
				snprintf(err, errlen, "route %d: %s needs the embedded broker",
				         st->a, scn_str(s, st->text2));
				return -1;
			}
		}
		break;
	}
	case SCN_SET_MODEL:
	case SCN_SET_REVISION:
	case SCN_SET_IMEI:
	case SCN_SET_ICCID:
	case SCN_SET_IMSI:
	case SCN_SET_SIM:
	case SCN_SET_REGISTRATION:
	case SCN_SET_SIGNAL:
	case SCN_SET_OPERATOR:
	case SCN_SET_LATENCY_COMMAND:
	case SCN_SET_LATENCY_URC:
	case SCN_SET_DEFAULT_BEARER:
		return 1; /* per modem */
	}
	if (rc) {
		snprintf(err, errlen, "%s", err_str(rc));
		return -1;
	}
	return 0;
}

/* ---- statements ---- */

static struct scn_held *hold(struct scn_engine *e, const struct scn_stmt *s)
{
	struct scn_held *h;

	if (e->nheld >= SCN_HELD_MAX)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->hits = calloc((size_t)e->count, sizeof(*h->hits));
	h->rng = calloc((size_t)e->count, sizeof(*h->rng));
	if (!h->hits || !h->rng) {
		held_free_list(h);
		return NULL;
	}
	memcpy(&h->st, s, offsetof(struct scn_stmt, pool) + s->pool_len);
	h->t0 = now_ms(e);
	h->ord = ++e->nextord;
	e->nheld++;
	scn_format(s, h->text, sizeof(h->text));
	return h;
}

static void seed_rng(struct scn_engine *e, struct scn_held *h, const struct scn_limit *l)
{
	uint64_t base = l->has_seed ? l->seed : e->sim->opt.seed ^ ((uint64_t)h->ord << 32);

	for (int i = 0; i < e->count; i++)
		h->rng[i] = base ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
}

static bool addressed(const struct scn_stmt *s, const struct modem *m)
{
	return s->modem < 0 || s->modem == m->index;
}

int scn_apply(struct modemsim *sim, const struct scn_stmt *s, char *err, size_t errlen)
{
	struct scn_engine *e = sim->scn;
	struct scn_held *h;
	int rc;

	if (!e) {
		snprintf(err, errlen, "no scenario engine");
		return -1;
	}
	if (s->modem >= 0 &&
	    (s->modem < sim->opt.index_base || s->modem - sim->opt.index_base >= sim->count)) {
		snprintf(err, errlen, "modem %d does not exist (%d modem%s)", s->modem, sim->count,
		         sim->count == 1 ? "" : "s");
		return -1;
	}
	switch (s->kind) {
	case SCN_SETTING:
		rc = apply_global(e, s, err, errlen);
		if (rc <= 0)
			return rc;
		for (int i = 0; i < sim->count; i++)
			if (addressed(s, &sim->modems[i]) &&
			    apply_setting(e, &sim->modems[i], s, err, errlen))
				return -1;
		return 0;
	case SCN_RULE:
	case SCN_AFTER:
		h = hold(e, s);
		if (!h)
			break;
		if (s->kind == SCN_RULE) {
			seed_rng(e, h, &s->u.rule.limit);
			*e->rules_tail = h;
			e->rules_tail = &h->next;
		} else {
			seed_rng(e, h, &s->u.ev.limit);
			*e->triggers_tail = h;
			e->triggers_tail = &h->next;
		}
		return 0;
	case SCN_AT:
		h = hold(e, s);
		if (!h)
			break;
		h->next = e->events;
		e->events = h;
		for (int i = 0; i < sim->count; i++) {
			struct scn_timer *t;

			if (!addressed(s, &sim->modems[i]))
				continue;
			t = timer_add(e, &sim->modems[i], scaled(e, s->u.ev.at_ms), TIMER_DO);
			if (!t)
				break;
			t->h = h;
			h->pending++;
		}
		if (!h->pending) {
			h->pending = 1;
			release_event(e, h); /* no modem to fire for */
		}
		return 0;
	case SCN_QUERY:
		snprintf(err, errlen, "a query is not a statement");
		return -1;
	}
	if (e->nheld >= SCN_HELD_MAX)
		snprintf(err, errlen, "too many rules and events (at most %d)", SCN_HELD_MAX);
	else
		snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---- windows and limits ---- */

static bool mqtt_state_is(const struct modem *m, int client, bool connected)
{
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		enum mqtt_state st = modem_mqtt(m)->c[i].state;

		if (client >= 0 && i != client)
			continue;
		if (connected ? st == MQTT_S_CONNECTED : st >= MQTT_S_OPEN)
			return true;
	}
	return false;
}

static bool any_pdp_active(const struct modem *m)
{
	for (int cid = 1; cid <= PDP_EC25_CIDS; cid++)
		if (pdp_active(m, cid))
			return true;
	return false;
}

static bool window_holds(const struct scn_engine *e, const struct modem *m,
                         const struct scn_held *h)
{
	const struct scn_window *w = &h->st.u.rule.window;
	uint64_t since = now_ms(e) - h->t0;

	if (w->has_from && since < scaled(e, w->from_ms))
		return false;
	if (w->has_until && since >= scaled(e, w->until_ms))
		return false;
	switch (w->when) {
	case SCN_STATE_NONE:
		return true;
	case SCN_STATE_MQTT_CONNECTED:
		return mqtt_state_is(m, w->client, true);
	case SCN_STATE_MQTT_OPEN:
		return mqtt_state_is(m, w->client, false);
	case SCN_STATE_PDP_ACTIVE:
		return any_pdp_active(m);
	case SCN_STATE_REGISTERED:
		return reg_registered(m);
	case SCN_STATE_SIM_READY:
		return m->sim_state == SIM_READY;
	}
	return false;
}

/* splitmix64 (Steele, Lea, Flood 2014): small, and the same sequence for the same seed. */
static double next_unit(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Count one occurrence and tell whether the limit lets it through. */
static bool limit_holds(struct scn_held *h, const struct scn_limit *l, int idx)
{
	uint64_t n = ++h->hits[idx];

	switch (l->kind) {
	case SCN_LIMIT_ALWAYS:
		return true;
	case SCN_LIMIT_ONCE:
		return n == 1;
	case SCN_LIMIT_NTH:
		return n == (uint64_t)l->n;
	case SCN_LIMIT_FIRST:
		return n <= (uint64_t)l->n;
	case SCN_LIMIT_EVERY:
		return n % (uint64_t)l->n == 0;
	case SCN_LIMIT_PROB:
		return next_unit(&h->rng[idx]) < l->p;
	}
	return false;
}

/* ---- rules ---- */

/* One command as typed, with its "AT" ("at" as the host wrote it; a concatenated line's later
 * commands have none of their own: "AT"). */
static size_t command_text(const struct modem *m, const struct at_cmd_req *r, char *out, size_t len)
{
	bool first = r->text == m->at.line + 2;
	int n = snprintf(out, len, "%.2s%.*s", first ? m->at.line : "AT", (int)r->text_len,
	                 r->text);

	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

static void urc_text(struct modem *m, const char *text, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	buf_append(&b, text, n);
	buf_append(&b, "\r\n", 2);
	if (b.data)
		modem_urc_bytes(m, b.data, b.len);
	buf_free(&b);
}

static void later_urc_fire(struct modem *m, void *arg)
{
	char *text = arg;

	trace_event(m->index, "scenario", "rule URC: %s", text);
	urc_text(m, text, strlen(text));
	free(text);
}

/* What the rule answers, now: info lines and a final result, an error, a URC later. */
static int perform(struct modem *m, const struct scn_held *h, const char *cmd, size_t clen)
{
	const struct scn_stmt *s = &h->st;
	const struct scn_action *a = &s->u.rule.action;
	struct scn_engine *e = m->scn->e;
	static char out[EXPAND_MAX];
	size_t n;

	at_why(m, "scenario: %s", h->text);
	switch (a->kind) {
	case SCN_ACT_REPLY:
		for (int i = 0; i < a->nlines; i++) {
			n = scn_expand(scn_str(s, a->lines[i]), a->lines[i].len, cmd, clen, out,
			               sizeof(out));
			at_info_bytes(m, out, n);
		}
		if (!a->has_final)
			return AT_OK;
		n = scn_expand(scn_str(s, a->final), a->final.len, cmd, clen, out, sizeof(out));
		/* OK and ERROR are the dispatcher's own, so ATV0 and ATQ1 still apply */
		if (strcmp(out, "OK") == 0)
			return AT_OK;
		if (strcmp(out, "ERROR") == 0)
			return AT_ERROR;
		at_text(m, out);
		return AT_CUSTOM;
	case SCN_ACT_ERROR:
		return a->code ? a->code : AT_ERROR;
	case SCN_ACT_SILENT:
		return AT_CUSTOM;
	case SCN_ACT_URC: {
		char *text;

		n = scn_expand(scn_str(s, a->urc), a->urc.len, cmd, clen, out, sizeof(out));
		text = malloc(n + 1);
		if (text) {
			memcpy(text, out, n + 1);
			if (!modem_after_owned(m, scaled(e, a->ms), later_urc_fire, text, free))
				free(text);
		}
		return AT_OK;
	}
	case SCN_ACT_DELAY:
	case SCN_ACT_PASS:
		break;
	}
	return AT_OK;
}

/* A command held back (`delay`, `latency command`): run later, by the rule or normally. */
struct deferred {
	const struct scn_held *h; /* NULL or a delay/pass rule: the normal behaviour */
	size_t clen;
	char cmd[];
};

static void deferred_fire(struct modem *m, void *arg)
{
	struct deferred *d = arg;
	const struct scn_held *h = d->h;

	if (h && h->st.u.rule.action.kind != SCN_ACT_DELAY &&
	    h->st.u.rule.action.kind != SCN_ACT_PASS) {
		int rc = perform(m, h, d->cmd, d->clen);

		free(d);
		at_complete(m, rc);
	} else {
		free(d);
		at_run_current(m);
	}
	/* what the host typed meanwhile (a timer callback: not inside the input path) */
	modem_resume_input(m);
}

bool scn_command(struct modem *m, const struct at_cmd_req *r, int *rc)
{
	struct scn_modem *sm = m->scn;
	struct scn_engine *e;
	struct scn_held *hit = NULL;
	char cmd[AT_LINE_MAX + 3];
	size_t clen;
	uint64_t delay;

	if (!sm)
		return false;
	e = sm->e;
	sm->commands++;
	clen = command_text(m, r, cmd, sizeof(cmd));
	for (struct scn_held *h = e->rules; h; h = h->next) {
		const struct scn_rule_stmt *rule = &h->st.u.rule;

		if (!addressed(&h->st, m) || !scn_match_command(&h->st, &rule->match, cmd, clen))
			continue;
		if (!window_holds(e, m, h) || !limit_holds(h, &rule->limit, m->index))
			continue;
		hit = h;
		break;
	}
	if (hit && hit->st.u.rule.action.kind == SCN_ACT_SILENT) {
		*rc = perform(m, hit, cmd, clen);
		return true;
	}
	delay = scaled(e, sm->lat_cmd_ms);
	if (hit && hit->st.u.rule.action.kind == SCN_ACT_DELAY)
		delay += scaled(e, hit->st.u.rule.action.ms);
	if (delay) {
		struct deferred *d = malloc(sizeof(*d) + clen + 1);

		if (!d)
			return false;
		d->h = hit;
		d->clen = clen;
		memcpy(d->cmd, cmd, clen + 1);
		if (hit)
			at_why(m, "scenario: %s", hit->text);
		if (!modem_after_owned(m, delay, deferred_fire, d, free)) {
			free(d);
			return false;
		}
		*rc = AT_PENDING;
		return true;
	}
	if (!hit || hit->st.u.rule.action.kind == SCN_ACT_PASS)
		return false;
	*rc = perform(m, hit, cmd, clen);
	return true;
}

uint64_t scn_urc_latency(const struct modem *m)
{
	return m->scn ? scaled(m->scn->e, m->scn->lat_urc_ms) : 0;
}

/* ---- events ---- */

static void json_params(struct buf *b, const struct scn_params *p);

static void do_run(struct modem *m, const struct scn_held *h, const char *cmd)
{
	const struct scn_do *d = &h->st.u.ev.act;
	static char out[EXPAND_MAX];
	char err[SCN_MSG_MAX] = "";
	size_t n;
	int rc;

	switch (d->kind) {
	case SCN_DO_URC:
		n = scn_expand(scn_str(&h->st, d->urc), d->urc.len, cmd ? cmd : "",
		               cmd ? strlen(cmd) : 0, out, sizeof(out));
		trace_event(m->index, "scenario", "URC: %s", out);
		urc_text(m, out, n);
		return;
	case SCN_DO_FAULT: {
		struct buf b;

		buf_init(&b, 0);
		json_params(&b, &d->params);
		trace_event(m->index, "scenario", "fault %s %.*s", d->fault, (int)b.len,
		            b.data ? (const char *)b.data : "");
		buf_free(&b);
		rc = fault_fire(m, d->fault, &d->params, err, sizeof(err));
		if (rc && err[0])
			log_msg(LOG_WARN, "#%d: %s", m->index, err);
		else if (rc)
			log_msg(LOG_WARN, "#%d: fault %s: %s", m->index, d->fault, err_str(rc));
		return;
	}
	}
}

static void trigger(struct scn_engine *e, struct modem *m, struct scn_held *h, uint64_t extra_ms,
                    const char *cmd)
{
	struct scn_timer *t;

	if (!limit_holds(h, &h->st.u.ev.limit, m->index))
		return;
	/* always through the loop, even with no delay: the notifying code is mid-transition */
	t = timer_add(e, m, extra_ms + scaled(e, h->st.u.ev.delay_ms), TIMER_DO);
	if (!t)
		return;
	t->h = h;
	if (cmd)
		t->cmd = strdup(cmd);
}

static void fire_event(struct modem *m, enum scn_event_kind kind, int client, const char *name,
                       const char *cmd, size_t clen, uint64_t extra_ms)
{
	struct scn_engine *e = m->scn->e;
	struct scn_modem *sm = m->scn;

	for (struct scn_held *h = e->triggers; h; h = h->next) {
		const struct scn_event *ev = &h->st.u.ev.event;
		bool ok = false;

		if (ev->kind != kind || !addressed(&h->st, m))
			continue;
		switch (kind) {
		case SCN_EVENT_COMMAND:
			ok = scn_match_command(&h->st, &ev->match, cmd, clen);
			break;
		case SCN_EVENT_MQTT_CONNECTED:
		case SCN_EVENT_MQTT_OPEN:
		case SCN_EVENT_MQTT_CLOSED:
			ok = ev->client < 0 || ev->client == client;
			break;
		case SCN_EVENT_PUBLISH:
			ok = ev->n == 0 || (uint64_t)ev->n == sm->publishes;
			break;
		case SCN_EVENT_UPLOAD: {
			const char *want = scn_str(&h->st, ev->name);
			const char *colon = strchr(name, ':');

			/* "RAM:ca.pem" names one drive; "ca.pem" any */
			ok = !ev->has_name || strcmp(want, name) == 0 ||
			     (!strchr(want, ':') && colon && strcmp(want, colon + 1) == 0);
			break;
		}
		case SCN_EVENT_TLS_HANDSHAKE:
		case SCN_EVENT_BOOT:
			ok = true;
			break;
		}
		if (ok)
			trigger(e, m, h, extra_ms, cmd);
	}
}

void scn_notify(struct modem *m, enum scn_note what, int arg)
{
	struct scn_modem *sm = m->scn;

	(void)arg;
	if (!sm)
		return;
	switch (what) {
	case SCN_NOTE_BOOT: {
		uint64_t last = 0;

		/* The network's settings outlive the modem's reboot (reg_reboot reset them). */
		if (sm->has_signal)
			set_signal(m, sm->rssi, sm->ber);
		if (sm->has_oper)
			set_operator(m, sm->oper);
		if (sm->has_reg)
			m->reg.stat = sm->reg;
		/* `after boot` fires once the last boot URC is out */
		for (const struct boot_urc *b = m->model->boot; b && b->text; b++) {
			uint64_t d = modem_delay(m, b->delay_ms);

			if (d > last)
				last = d;
		}
		fire_event(m, SCN_EVENT_BOOT, -1, NULL, NULL, 0, last);
		return;
	}
	case SCN_NOTE_PUBLISH:
		sm->publishes++;
		fire_event(m, SCN_EVENT_PUBLISH, arg, NULL, NULL, 0, 0);
		return;
	case SCN_NOTE_TLS_HANDSHAKE:
		fire_event(m, SCN_EVENT_TLS_HANDSHAKE, -1, NULL, NULL, 0, 0);
		return;
	}
}

void scn_notify_command(struct modem *m, const struct at_cmd_req *r, int rc)
{
	char cmd[AT_LINE_MAX + 3];
	size_t clen;

	(void)rc;
	if (!m->scn || !m->scn->e->triggers)
		return;
	clen = command_text(m, r, cmd, sizeof(cmd));
	fire_event(m, SCN_EVENT_COMMAND, -1, NULL, cmd, clen, 0);
}

void scn_notify_mqtt(struct modem *m, int client, int old_state, int new_state)
{
	if (!m->scn)
		return;
	if (new_state == MQTT_S_OPEN && old_state == MQTT_S_OPENING)
		fire_event(m, SCN_EVENT_MQTT_OPEN, client, NULL, NULL, 0, 0);
	else if (new_state == MQTT_S_CONNECTED)
		fire_event(m, SCN_EVENT_MQTT_CONNECTED, client, NULL, NULL, 0, 0);
	else if (new_state == MQTT_S_IDLE && old_state >= MQTT_S_OPEN)
		fire_event(m, SCN_EVENT_MQTT_CLOSED, client, NULL, NULL, 0, 0);
}

void scn_notify_upload(struct modem *m, const char *drive, const char *name)
{
	char full[FS_NAME_MAX + 16];

	if (!m->scn)
		return;
	snprintf(full, sizeof(full), "%s:%s", drive, name);
	fire_event(m, SCN_EVENT_UPLOAD, -1, full, NULL, 0, 0);
}

/* ---- queries ---- */

static void json_str(struct buf *b, const char *s, size_t n)
{
	log_json_str(b, s, n);
}

static void json_cstr(struct buf *b, const char *s)
{
	log_json_str(b, s, strlen(s));
}

static void json_params(struct buf *b, const struct scn_params *p)
{
	buf_putc(b, '{');
	for (int i = 0; i < p->n; i++) {
		const struct scn_param *v = &p->p[i];

		if (i)
			buf_putc(b, ',');
		json_cstr(b, v->name);
		buf_putc(b, ':');
		switch (v->type) {
		case SCN_V_NONE:
			buf_printf(b, "true");
			break;
		case SCN_V_NUM:
			buf_printf(b, "%lld", v->num);
			break;
		case SCN_V_DUR:
		case SCN_V_WORD:
		case SCN_V_STR:
			json_str(b, v->text, v->len);
			break;
		}
	}
	buf_putc(b, '}');
}

static const char *const mqtt_state_names[] = {"idle",       "opening",   "open",
                                               "connecting", "connected", "disconnecting"};

static void query_modem(const struct modem *m, struct buf *b)
{
	static const char *const sims[] = {"ready", "pin", "puk", "absent"};
	bool first = true;

	buf_printf(b, "{\"modem\":%d,\"model\":", m->index);
	json_cstr(b, m->model->name);
	buf_printf(b, ",\"revision\":");
	json_cstr(b, m->model->revision);
	buf_printf(b, ",\"imei\":");
	json_cstr(b, m->id.imei);
	buf_printf(b, ",\"iccid\":");
	json_cstr(b, m->id.iccid);
	buf_printf(b, ",\"imsi\":");
	json_cstr(b, m->id.imsi);
	buf_printf(b, ",\"sim\":\"%s\",\"cfun\":%d,\"registration\":%d,\"rssi\":%d,\"ber\":%d",
	           sims[m->sim_state], m->cfun, m->reg.stat, m->reg.rssi, m->reg.ber);
	buf_printf(b, ",\"operator\":");
	json_cstr(b, m->reg.oper_long);
	buf_printf(b, ",\"busy\":%s,\"pdp\":[", m->at.busy ? "true" : "false");
	for (int cid = 1; cid <= m->model->pdp->contexts; cid++) {
		const char *ip = pdp_local_ip(m, cid);

		if (!pdp_active(m, cid))
			continue;
		buf_printf(b, "%s{\"cid\":%d,\"ip\":", first ? "" : ",", cid);
		json_cstr(b, ip ? ip : "");
		buf_putc(b, '}');
		first = false;
	}
	buf_printf(b, "],\"mqtt\":[");
	first = true;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++) {
		const struct mqtt_client *c = &modem_mqtt(m)->c[i];

		if (c->state == MQTT_S_IDLE)
			continue;
		buf_printf(b, "%s{\"client\":%d,\"state\":\"%s\"}", first ? "" : ",", i,
		           mqtt_state_names[c->state]);
		first = false;
	}
	buf_printf(b, "]}");
}

static void query_files(const struct modem *m, struct buf *b)
{
	bool first = true;

	buf_printf(b, "{\"modem\":%d,\"files\":[", m->index);
	for (const struct fs_file *f = m->fs.files; f; f = f->next) {
		buf_printf(b, "%s{\"drive\":\"%s\",\"name\":", first ? "" : ",",
		           fs_drive_name(f->drive));
		json_cstr(b, f->name);
		buf_printf(b, ",\"size\":%zu,\"checksum\":\"%x\"}", f->len,
		           fs_xor16(f->data, f->len));
		first = false;
	}
	buf_printf(b, "]}");
}

static void query_mqtt(const struct modem *m, struct buf *b)
{
	buf_printf(b, "{\"modem\":%d,\"clients\":[", m->index);
	for (int i = 0; i < m->model->mqtt.clients; i++) {
		const struct mqtt_client *c = &modem_mqtt(m)->c[i];

		buf_printf(b, "%s{\"client\":%d,\"state\":\"%s\",\"host\":", i ? "," : "", i,
		           mqtt_state_names[c->state]);
		json_cstr(b, c->host);
		buf_printf(b, ",\"port\":%d,\"published\":%llu,\"received\":%llu,\"inflight\":%d}",
		           c->port, (unsigned long long)c->pub_out, (unsigned long long)c->pub_in,
		           c->inflight);
	}
	buf_printf(b, "]}");
}

static void query_counters(const struct modem *m, struct buf *b)
{
	buf_printf(b,
	           "{\"modem\":%d,\"commands\":%llu,\"urcs\":%llu,\"bytes_in\":%llu,"
	           "\"bytes_out\":%llu,\"publishes\":%llu}",
	           m->index, (unsigned long long)(m->scn ? m->scn->commands : 0),
	           (unsigned long long)m->n_urcs, (unsigned long long)m->n_bytes_in,
	           (unsigned long long)m->n_bytes_out,
	           (unsigned long long)(m->scn ? m->scn->publishes : 0));
}

static void query_faults(struct buf *b)
{
	/* the fault module keeps the (bounded) history of what really fired */
	buf_printf(b, "{\"ok\":true,\"faults\":");
	if (fault_history_json(b) != 0)
		buf_printf(b, "[]");
	buf_putc(b, '}');
}

void scn_query(struct modemsim *sim, const struct scn_stmt *s, struct buf *out)
{
	const struct scn_query_stmt *q = &s->u.query;
	bool first = true;

	if (q->what == SCN_QUERY_FAULTS) {
		if (sim->scn)
			query_faults(out);
		else
			buf_printf(out, "{\"ok\":true,\"faults\":[]}");
		return;
	}
	if (q->index >= 0 &&
	    (q->index < sim->opt.index_base || q->index - sim->opt.index_base >= sim->count)) {
		buf_printf(out, "{\"ok\":false,\"error\":\"modem %d does not exist (%d modem%s)\"}",
		           q->index, sim->count, sim->count == 1 ? "" : "s");
		return;
	}
	buf_printf(out, "{\"ok\":true,\"modems\":[");
	for (int i = 0; i < sim->count; i++) {
		const struct modem *m = &sim->modems[i];

		if (q->index >= 0 && q->index != m->index)
			continue;
		if (!first)
			buf_putc(out, ',');
		first = false;
		switch (q->what) {
		case SCN_QUERY_MODEM:
			query_modem(m, out);
			break;
		case SCN_QUERY_FILES:
			query_files(m, out);
			break;
		case SCN_QUERY_MQTT:
			query_mqtt(m, out);
			break;
		case SCN_QUERY_COUNTERS:
			query_counters(m, out);
			break;
		case SCN_QUERY_FAULTS:
			break;
		}
	}
	buf_printf(out, "]}");
}

/* ---- files ---- */

static char *read_file(const char *path, size_t *len, FILE *errs)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (!f) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, SCN_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) != 0) {
			fprintf(errs, "%s: larger than %u bytes\n", path, SCN_FILE_MAX);
			fclose(f);
			buf_free(&b);
			return NULL;
		}
	}
	if (ferror(f)) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	buf_putc(&b, 0);
	*len = b.len ? b.len - 1 : 0;
	return (char *)b.data;
}

int scn_load_file(const char *path, struct scn_script *script, FILE *errs)
{
	size_t len = 0;
	char *text = read_file(path, &len, errs);
	int rc;

	if (!text)
		return -ERR_IO;
	rc = scn_parse_text(text, len, script);
	free(text);
	if (rc == -ERR_NOMEM) {
		fprintf(errs, "%s: out of memory\n", path);
		return -ERR_IO;
	}
	for (size_t i = 0; i < script->nerr; i++)
		fprintf(errs, "%s:%d:%d: %s\n", path, script->errs[i].line, script->errs[i].col,
		        script->errs[i].msg);
	return rc;
}

int scn_check_file(const char *path, const char *model, FILE *out, FILE *errs)
{
	struct scn_script s;
	int bad = 0;

	scn_script_init(&s);
	if (scn_load_file(path, &s, errs) != 0) {
		scn_script_free(&s);
		return 1;
	}
	for (size_t i = 0; model && i < s.n; i++) {
		const struct scn_stmt *st = &s.stmts[i];

		if (st->kind == SCN_SETTING && st->u.set.what == SCN_SET_MODEL &&
		    strcmp(scn_str(st, st->u.set.text), model) != 0) {
			fprintf(errs, "%s:%d:1: model %s does not match --model %s\n", path,
			        st->line, scn_str(st, st->u.set.text), model);
			bad = 1;
		}
	}
	if (!bad)
		fprintf(out, "%s: ok (%zu statement%s)\n", path, s.n, s.n == 1 ? "" : "s");
	scn_script_free(&s);
	return bad;
}

/* ---- the engine as an observer of every modem (modem/hooks.h) ---- */

static void hook_note(struct modem *m, enum modem_note what, int arg)
{
	switch (what) {
	case MODEM_NOTE_BOOT:
		scn_notify(m, SCN_NOTE_BOOT, arg);
		return;
	case MODEM_NOTE_PUBLISH:
		scn_notify(m, SCN_NOTE_PUBLISH, arg);
		return;
	case MODEM_NOTE_TLS_HANDSHAKE:
		scn_notify(m, SCN_NOTE_TLS_HANDSHAKE, arg);
		return;
	}
}

static const struct modem_hooks scn_hooks = {
        .command = scn_command,
        .command_done = scn_notify_command,
        .note = hook_note,
        .mqtt_state = scn_notify_mqtt,
        .upload = scn_notify_upload,
        .urc_latency = scn_urc_latency,
};
