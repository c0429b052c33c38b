#include "modem/findings.h"

#include "modem/hooks.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "at/param.h"
#include "at/dispatch.h"
#include "core/buf.h"
#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "modem/profile.h"
#include "mqtt/client.h"
#include "mqtt/codec.h"

#define CTRL_Z 0x1a
#define ESC 0x1b

enum fnd_severity { FND_ERROR, FND_WARNING, FND_INFO };

static const char *const severity_names[] = {"error", "warning", "info"};

/* The kinds the report generator knows; the names are the contract. */
enum fnd_kind {
	FK_CMD_BEFORE_RESULT,
	FK_DATA_BEFORE_PROMPT,
	FK_LENGTH_MISMATCH,
	FK_NON_ASCII,
	FK_NOT_CONNECTED,
	FK_INFLIGHT_EXCEEDED,
	FK_MSGID_REUSED,
	FK_QMTSTAT_IGNORED,
	FK_RETRY_STORM,
	FK_NO_SHUTDOWN,
	FK_UNKNOWN_COMMAND,
	FK_CONTROL_BYTE,
	FK_UNSIMULATED_COMMAND,
};

static const char *const kind_names[] = {
        "cmd-before-result",   "data-before-prompt", "length-mismatch", "non-ascii",
        "not-connected",       "inflight-exceeded",  "msgid-reused",    "qmtstat-ignored",
        "retry-storm",         "no-shutdown",        "unknown-command", "control-byte",
        "unsimulated-command",
};

struct fnd_rec {
	int64_t t_ms; /* Unix time */
	enum fnd_severity sev;
	enum fnd_kind kind;
	uint64_t line;
	char *msg;
};

/* One MQTT client as the host was shown it (its URCs), plus the storm window. */
struct fnd_client {
	bool opened; /* "+QMTOPEN: <id>,0" went to the host */
	bool connected; /* "+QMTCONN: <id>,0,0" went to the host */
	bool stat_pending; /* "+QMTSTAT: <id>,<err>" (err not 5), no QMTOPEN/QMTCLOSE since */
	int stat_code;
	bool stat_reported; /* a command on the closed client was reported: once per +QMTSTAT */
	bool over_window; /* a publish over the in-flight window was reported: once until it
	                   * drains */
	uint64_t stat_line; /* the host's latest input line when that +QMTSTAT was queued */
	uint64_t opens[FINDINGS_STORM_OPENS]; /* loop times of the latest QMTOPENs */
	int nopens;
};

struct findings {
	struct fnd_rec *recs; /* the first FINDINGS_KEEP findings */
	size_t nrecs;
	uint64_t total;
	uint64_t by_sev[3];
	/* Host input bytes are numbered as modem.n_bytes_in counts them; those before judged
	 * have been looked at, so that bytes waiting in the input buffer are judged once. */
	uint64_t judged;
	bool declared; /* the running command gave the length of its data phase */
	bool phase_flagged; /* the current data phase already has a length finding */
	struct fnd_client c[MQTT_CLIENTS_MAX];
};

static struct findings *get(struct modem *m)
{
	if (!m->findings) {
		m->findings = calloc(1, sizeof(*m->findings));
		if (!m->findings)
			log_msg(LOG_ERROR, "#%d: out of memory for findings", m->index);
	}
	return m->findings;
}

static int64_t unix_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void report(struct modem *m, enum fnd_severity sev, enum fnd_kind kind, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void report(struct modem *m, enum fnd_severity sev, enum fnd_kind kind, const char *fmt, ...)
{
	struct findings *f = get(m);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	trace_finding(m->index, severity_names[sev], kind_names[kind], "%s", msg);
	if (!f)
		return;
	f->total++;
	f->by_sev[sev]++;
	if (f->nrecs == FINDINGS_KEEP)
		return;
	if (!f->recs) {
		f->recs = calloc(FINDINGS_KEEP, sizeof(*f->recs));
		if (!f->recs)
			return;
	}
	f->recs[f->nrecs] = (struct fnd_rec){
	        .t_ms = unix_ms(),
	        .sev = sev,
	        .kind = kind,
	        .line = trace_last_tx_line(m->index),
	        .msg = strdup(msg),
	};
	f->nrecs++;
}

/* Host bytes as a transcript shows them, at most max of them; only up to the first CR when
 * line is set. */
static void excerpt(char *dst, size_t len, const void *p, size_t n, size_t max, bool line)
{
	const uint8_t *s = p, *cr = n && line ? memchr(p, '\r', n) : NULL;
	struct buf b;
	bool cut;

	if (cr)
		n = (size_t)(cr - s);
	cut = n > max;
	buf_init(&b, 0);
	log_escape(&b, s, cut ? max : n, false);
	snprintf(dst, len, "%.*s%s", (int)b.len, b.data ? (char *)b.data : "", cut ? "..." : "");
	buf_free(&b);
}

/* The running command as typed, "AT+QMTPUB=0,1,1,0,\"t\"" (shortened); len >= 3. */
static void running(const struct modem *m, char *dst, size_t len)
{
	memcpy(dst, "AT", 2);
	excerpt(dst + 2, len - 2, m->at.cur.text, m->at.cur.text_len, 40, true);
}

/* ---- host input ---- */

static bool is_crlf(uint8_t c)
{
	return c == '\r' || c == '\n';
}

/* The part of the input from off to its end not judged yet; false if there is none. */
static bool unjudged(struct modem *m, struct findings *f, size_t off, const uint8_t **p, size_t *n)
{
	uint64_t start;
	size_t skip;

	if (off >= m->inbuf.len)
		return false;
	*p = m->inbuf.data + off;
	*n = m->inbuf.len - off;
	start = m->n_bytes_in >= *n ? m->n_bytes_in - *n : 0;
	skip = f->judged > start ? (size_t)(f->judged - start) : 0;
	if (skip >= *n)
		return false;
	*p += skip;
	*n -= skip;
	return true;
}

static void skip_crlf(const uint8_t **p, size_t *n)
{
	while (*n && is_crlf(**p)) {
		(*p)++;
		(*n)--;
	}
}

static bool starts_command(const uint8_t *p, size_t n)
{
	return n && (p[0] == 'A' || p[0] == 'a');
}

/* Commands that print CONNECT only once a connection is up, with the command still running
 * (EC2x TCP/IP AN: access mode 2 answers CONNECT; ATO). */
static bool connects_later(const struct modem *m)
{
	static const char *const names[] = {"+QIOPEN", "+QSSLOPEN", "O", NULL};

	for (const char *const *n = names; *n; n++)
		if (strcmp(m->at.cur.name, *n) == 0)
			return true;
	return false;
}

/* A line the dispatcher acts on (it ignores lines of blanks and control bytes). */
static bool line_counts(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] > ' ' && p[i] != 0x7f)
			return true;
	return false;
}

/* A command line just ran, was answered at once, and more input was in the same write. */
static void early_command(struct modem *m, struct findings *f, size_t off)
{
	const uint8_t *p;
	size_t n;
	char what[64], cur[64];

	if (!unjudged(m, f, off, &p, &n))
		return;
	f->judged = m->n_bytes_in;
	skip_crlf(&p, &n);
	if (!n)
		return;
	excerpt(what, sizeof(what), p, n, 40, true);
	running(m, cur, sizeof(cur));
	report(m, FND_WARNING, FK_CMD_BEFORE_RESULT,
	       "\"%s\" was sent in the same write as %s, before its final result: wait for "
	       "OK/ERROR before the next command",
	       what, cur);
}

/* A command line opened "> " or CONNECT, and input followed in the same write. */
static void early_data(struct modem *m, struct findings *f, size_t off)
{
	const uint8_t *p;
	size_t n;
	char cur[64];

	/* the LF of a CR LF terminator is the line's, not data (host-drivers.md item 2) */
	if (off < m->inbuf.len && m->inbuf.data[off] == '\n')
		off++;
	if (!unjudged(m, f, off, &p, &n))
		return;
	f->judged = m->n_bytes_in;
	running(m, cur, sizeof(cur));
	report(m, FND_ERROR, FK_DATA_BEFORE_PROMPT,
	       "%zu bytes were sent in the same write as %s, before its %s: a module reads data "
	       "only after showing it",
	       n, cur, m->line.mode == AT_LINE_PROMPT ? "\"> \" prompt" : "CONNECT");
}

/* A fixed-length data phase took its count: what followed in the same write. */
static void surplus(struct modem *m, struct findings *f, size_t off)
{
	const uint8_t *p;
	size_t n;
	char what[64], cur[64];
	bool data = false;

	if (!unjudged(m, f, off, &p, &n))
		return;
	skip_crlf(&p, &n);
	if (!n) {
		/* a CR or CR LF after the data is tolerated (host-drivers.md item 5) */
		f->judged = m->n_bytes_in;
		return;
	}
	running(m, cur, sizeof(cur));
	if (starts_command(p, n)) {
		if (m->at.busy)
			return; /* still running: findings_waiting() judges it */
		f->judged = m->n_bytes_in;
		excerpt(what, sizeof(what), p, n, 40, true);
		report(m, FND_WARNING, FK_CMD_BEFORE_RESULT,
		       "\"%s\" was sent in the same write as the data of %s, before its final "
		       "result",
		       what, cur);
		return;
	}
	f->judged = m->n_bytes_in;
	excerpt(what, sizeof(what), p, n, 20, false);
	for (size_t i = 0; i < n; i++)
		if (!is_crlf(p[i]) && p[i] != CTRL_Z && p[i] != ESC)
			data = true;
	/* Reference §6c [LOG EC800M]: surplus bytes, a trailing Ctrl+Z too, are parsed as a new
	 * command line. A lone Ctrl+Z is a prompt-mode habit that drivers carry over
	 * (host-drivers.md item 5) and that this simulator ignores: a warning; data is lost. */
	report(m, data ? FND_ERROR : FND_WARNING, FK_LENGTH_MISMATCH,
	       "%zu bytes (\"%s\") beyond the %zu declared by %s: the module reads them as a "
	       "command line",
	       n, what, m->line.want, cur);
}

/* A write inside a fixed-length "> " payload that ends with Ctrl+Z: the host treats Ctrl+Z as
 * the terminator, but with a length it is payload and the module waits for the rest. A
 * binary payload whose write happens to end in 0x1A looks the same; rare enough to report. */
static void ctrl_z_in_fixed(struct modem *m, struct findings *f, const struct at_event *ev,
                            size_t off)
{
	const struct at_line *l = &m->line;
	char cur[64];

	if (l->mode != AT_LINE_PROMPT || !l->want || l->got >= l->want || off < m->inbuf.len ||
	    !ev->len || ev->data[ev->len - 1] != CTRL_Z || f->phase_flagged)
		return;
	f->phase_flagged = true;
	running(m, cur, sizeof(cur));
	report(m, FND_ERROR, FK_LENGTH_MISMATCH,
	       "Ctrl+Z after %zu of the %zu bytes declared by %s: with a length Ctrl+Z is "
	       "payload, and the module waits for %zu more bytes",
	       l->got - 1, l->want, cur, l->want - l->got);
}

void findings_fed(struct modem *m, const struct at_event *ev, size_t off)
{
	struct findings *f = get(m);

	if (!f || m->closing)
		return;
	switch (ev->type) {
	case AT_EV_NONE:
		return;
	case AT_EV_LINE:
	case AT_EV_REPEAT:
		if (!line_counts(ev->data, ev->len))
			return;
		if (m->line.mode != AT_LINE_COMMAND)
			early_data(m, f, off);
		else if (!m->at.busy)
			early_command(m, f, off);
		/* still running: findings_waiting() judges what follows */
		return;
	case AT_EV_DATA:
		ctrl_z_in_fixed(m, f, ev, off);
		return;
	case AT_EV_DATA_END:
		if (ev->end == AT_END_COUNT && m->line.mode == AT_LINE_COMMAND)
			surplus(m, f, off);
		return;
	}
}

void findings_waiting(struct modem *m, size_t off)
{
	struct findings *f;
	const uint8_t *p;
	size_t n;
	char what[64], cur[64];

	if (m->closing || !m->at.busy || m->line.mode != AT_LINE_COMMAND)
		return;
	f = get(m);
	if (!f || !unjudged(m, f, off, &p, &n))
		return;
	f->judged = m->n_bytes_in;
	skip_crlf(&p, &n); /* the LF of the running command's CR LF */
	if (!n)
		return;
	running(m, cur, sizeof(cur));
	if (starts_command(p, n)) {
		excerpt(what, sizeof(what), p, n, 40, true);
		report(m, FND_ERROR, FK_CMD_BEFORE_RESULT,
		       "\"%s\" was sent while %s was still running: wait for its final result",
		       what, cur);
	} else if (connects_later(m)) {
		report(m, FND_ERROR, FK_DATA_BEFORE_PROMPT,
		       "%zu bytes were sent while %s was still connecting, before its CONNECT", n,
		       cur);
	} else {
		report(m, FND_ERROR, FK_CMD_BEFORE_RESULT,
		       "%zu bytes were sent while %s was still running: wait for its final result",
		       n, cur);
	}
}

void findings_data_end(struct modem *m, enum at_data_end why)
{
	struct findings *f = get(m);
	const struct at_line *l = &m->line;
	bool short_of = l->want && l->got < l->want;
	bool flagged;
	char cur[64];

	if (!f)
		return;
	flagged = f->phase_flagged;
	f->phase_flagged = false;
	if (!short_of || !f->declared || flagged)
		return;
	running(m, cur, sizeof(cur));
	switch (why) {
	case AT_END_TIMEOUT:
		/* the M95 capture of reference §3: declared 1467, "+QSECWRITE: 1392,..." */
		report(m, FND_ERROR, FK_LENGTH_MISMATCH,
		       "%s declared %zu bytes; %zu came before the inactivity timeout ended the "
		       "upload",
		       cur, l->want, l->got);
		break;
	case AT_END_ESCAPE:
		/* BG96 FILE manual: +++ ends an upload early, and the true size is reported */
		report(m, FND_WARNING, FK_LENGTH_MISMATCH,
		       "%s declared %zu bytes; \"+++\" ended the upload after %zu", cur, l->want,
		       l->got);
		break;
	case AT_END_COUNT:
	case AT_END_SUBMIT:
	case AT_END_CANCEL:
	case AT_END_ABANDON:
		break;
	}
}

/* ---- command lines ---- */

void findings_bad_line(struct modem *m, const char *text, size_t len)
{
	const uint8_t *p = (const uint8_t *)text;
	const char *base = text, *sq;
	size_t base_len = len, i;
	char what[96], byte[32];

	for (i = 0; i < len && p[i] < 0x80; i++)
		;
	if (i == len)
		return;
	/* one command of the current line: columns and excerpt are the whole line's */
	if (text >= m->at.line && text < m->at.line + m->at.line_len) {
		base = m->at.line;
		base_len = m->at.line_len;
	}
	sq = at_smart_quote(p + i, len - i);
	if (!sq) {
		snprintf(byte, sizeof(byte), "byte 0x%02x", p[i]);
		sq = byte;
	}
	excerpt(what, sizeof(what), base, base_len, 60, true);
	report(m, FND_ERROR, FK_NON_ASCII,
	       "non-ASCII %s at column %zu of \"%s\": AT syntax is ASCII (a copy from a word "
	       "processor?); the module answers ERROR",
	       sq, (size_t)(text - base) + i + 1, what);
}

/* Levenshtein distance, case-insensitive, over command names (short: at most 31 bytes). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 31), lb = strnlen(b, 31), row[32];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost =
			        toupper((unsigned char)a[i - 1]) == toupper((unsigned char)b[j - 1])
			                ? 0
			                : 1;
			size_t best = diag + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

void findings_unknown(struct modem *m, const char *name)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, limit = (strlen(name) + 2) / 3;

	if (profile_unsimulated(m->model, name)) {
		/* not the host's mistake: the module would answer it */
		report(m, FND_INFO, FK_UNSIMULATED_COMMAND,
		       "AT%s is a command of the %s that modemsim does not simulate (+CME ERROR: "
		       "4)",
		       name, m->model->model);
		return;
	}
	for (const struct at_family *const *fam = m->model->families; *fam; fam++)
		for (const struct at_cmd *c = (*fam)->cmds; c->name; c++) {
			size_t d = distance(name, c->name);

			if (d < best_d) {
				best_d = d;
				best = c->name;
			}
		}
	/* a suggestion only when it is close: a third of the name may differ */
	if (best && best_d <= (limit ? limit : 1))
		report(m, FND_WARNING, FK_UNKNOWN_COMMAND,
		       "AT%s is not a command of the %s; did you mean AT%s?", name, m->model->model,
		       best);
	else
		report(m, FND_WARNING, FK_UNKNOWN_COMMAND,
		       "AT%s is not a command of the %s (no known command is close)", name,
		       m->model->model);
}

/* ---- MQTT ---- */

/* OP_CMQ_*: SIMCom's AT+CMQTT* (at/simcom_mqtt.c), which has no network open of its own: a
 * CONNECT starts over, and the commands that need the connection are judged on what the host
 * was shown (+CMQTTCONNECT: <i>,0, +CMQTTCONNLOST). */
enum mqtt_op {
	OP_OPEN,
	OP_CLOSE,
	OP_CONN,
	OP_DISC,
	OP_SUB,
	OP_UNS,
	OP_PUB,
	OP_CMQ_CONN,
	OP_CMQ_USE
};

static const struct {
	const char *name;
	enum mqtt_op op;
} mqtt_ops[] = {
        {"+QMTOPEN", OP_OPEN},
        {"+QMTCLOSE", OP_CLOSE},
        {"+QMTCONN", OP_CONN},
        {"+QMTDISC", OP_DISC},
        {"+QMTSUB", OP_SUB},
        {"+QMTUNS", OP_UNS},
        {"+QMTPUB", OP_PUB},
        {"+QMTPUBEX", OP_PUB},
        {"+CMQTTCONNECT", OP_CMQ_CONN},
        {"+CMQTTDISC", OP_DISC},
        {"+CMQTTPUB", OP_CMQ_USE},
        {"+CMQTTSUB", OP_CMQ_USE},
        {"+CMQTTUNSUB", OP_CMQ_USE},
        {"+CMQTTTOPIC", OP_CMQ_USE},
        {"+CMQTTPAYLOAD", OP_CMQ_USE},
        {"+CMQTTSUBTOPIC", OP_CMQ_USE},
        {"+CMQTTUNSUBTOPIC", OP_CMQ_USE},
};

/* The result URC the host still waits for on this msgid, or NULL if it is not in flight. */
static const char *msgid_in_flight(const struct mqtt_client *c, long long msgid)
{
	for (size_t i = 0; i < sizeof(c->pend) / sizeof(c->pend[0]); i++) {
		const struct mqtt_pending *p = &c->pend[i];

		if (!p->used || p->msgid != msgid)
			continue;
		if (p->type == MQTT_SUBSCRIBE)
			return "+QMTSUB";
		if (p->type == MQTT_UNSUBSCRIBE)
			return "+QMTUNS";
		return p->tag ? "+QMTPUBEX" : "+QMTPUB";
	}
	return NULL;
}

static void each_shown(const struct modem *m, const void *p, size_t n,
                       bool (*fn)(struct modem *m, void *arg, const struct mqtt_shown *ev),
                       void *arg);

/* Is a loss of client idx still waiting in the URC queue (the host has not seen it)? */
struct held_probe {
	int idx;
	bool found;
};

static bool probe_held(struct modem *m, void *arg, const struct mqtt_shown *ev)
{
	struct held_probe *h = arg;

	(void)m;
	if (ev->kind == MQTT_SHOWN_LOST && !ev->normal && ev->client == h->idx) {
		h->found = true;
		return false;
	}
	return true;
}

static bool stat_held(const struct modem *m, int idx)
{
	struct held_probe h = {idx, false};

	each_shown(m, m->urcs.data, m->urcs.len, probe_held, &h);
	return h.found;
}

/* A command on a client the host was told is closed. True when the command is judged here
 * (reported, or a race the host could not avoid). */
static bool stat_ignored(struct modem *m, struct fnd_client *v, int idx, const char *cmd)
{
	if (!v->stat_pending)
		return false;
	if (stat_held(m, idx) || trace_last_tx_line(m->index) <= v->stat_line)
		return true; /* the command was on its way before the host could see the URC */
	if (v->stat_reported)
		return true;
	v->stat_reported = true;
	report(m, FND_ERROR, FK_QMTSTAT_IGNORED,
	       "%s on client %d after +QMTSTAT: %d,%d without AT+QMTOPEN: the client is closed "
	       "(reference 6e: reopen, or close it)",
	       cmd, idx, idx, v->stat_code);
	return true;
}

static void storm(struct modem *m, struct fnd_client *v, int idx)
{
	uint64_t now = modem_now(m);

	if (v->nopens == FINDINGS_STORM_OPENS) {
		memmove(v->opens, v->opens + 1, sizeof(v->opens) - sizeof(v->opens[0]));
		v->nopens--;
	}
	v->opens[v->nopens++] = now;
	if (v->nopens < FINDINGS_STORM_OPENS || now - v->opens[0] > FINDINGS_STORM_MS)
		return;
	report(m, FND_WARNING, FK_RETRY_STORM,
	       "%d AT+QMTOPEN on client %d within %.1f s without a connection: back off between "
	       "attempts",
	       FINDINGS_STORM_OPENS, idx, (double)(now - v->opens[0]) / 1000.0);
	v->nopens = 0;
}

/* SIMCom: a command that needs the connection before the host saw +CMQTTCONNECT: <i>,0, or
 * after +CMQTTCONNLOST without a new AT+CMQTTCONNECT (the module answers 11 or 14). */
static void judge_cmq(struct modem *m, struct fnd_client *v, int idx, const char *cmd)
{
	if (v->stat_pending) {
		if (stat_held(m, idx) || trace_last_tx_line(m->index) <= v->stat_line ||
		    v->stat_reported)
			return; /* on its way before the host could see the URC, or reported */
		v->stat_reported = true;
		report(m, FND_ERROR, FK_QMTSTAT_IGNORED,
		       "%s on client %d after +CMQTTCONNLOST: %d,%d without AT+CMQTTCONNECT: the "
		       "client is not connected (reference simcom.md §4: connect again)",
		       cmd, idx, idx, v->stat_code);
		return;
	}
	if (!v->connected)
		report(m, FND_ERROR, FK_NOT_CONNECTED,
		       "%s on client %d before +CMQTTCONNECT: %d,0: wait for the connection's URC",
		       cmd, idx, idx);
}

static void judge_mqtt(struct modem *m, struct findings *f, const struct at_call *c,
                       enum mqtt_op op)
{
	int idx = (int)at_num(c, 0);
	struct fnd_client *v = &f->c[idx];
	const struct mqtt_client *cl = &modem_mqtt(m)->c[idx];
	long long msgid = at_given(c, 1) && c->args.p[1].type == AT_P_NUM ? at_num(c, 1) : -1;
	long long qos = at_given(c, 2) && c->args.p[2].type == AT_P_NUM ? at_num(c, 2) : 0;
	/* the model's window refuses (M95: 8512); without one, the M95 AN's is a warning */
	int window =
	        m->model->mqtt.inflight_max > 0 ? m->model->mqtt.inflight_max : FINDINGS_DOC_WINDOW;
	bool refused = m->model->mqtt.inflight_max > 0;
	const char *busy;
	char cmd[24];

	snprintf(cmd, sizeof(cmd), "AT%s", c->cmd->name);
	switch (op) {
	case OP_OPEN:
		v->stat_pending = false;
		storm(m, v, idx);
		return;
	case OP_CLOSE:
		v->stat_pending = false;
		v->opened = false;
		v->connected = false;
		return;
	case OP_DISC:
		v->connected = false;
		return;
	case OP_CONN:
		if (stat_ignored(m, v, idx, cmd) || v->opened)
			return;
		report(m, FND_ERROR, FK_NOT_CONNECTED,
		       "AT+QMTCONN=%d before +QMTOPEN: %d,0: the client has no network yet", idx,
		       idx);
		return;
	case OP_CMQ_CONN:
		v->stat_pending = false;
		return;
	case OP_CMQ_USE:
		judge_cmq(m, v, idx, cmd);
		return;
	case OP_SUB:
	case OP_UNS:
	case OP_PUB:
		break;
	}
	if (stat_ignored(m, v, idx, cmd))
		return;
	if (!v->connected) {
		report(m, FND_ERROR, FK_NOT_CONNECTED,
		       "%s on client %d before +QMTCONN: %d,0,0: wait for the connection's URC",
		       cmd, idx, idx);
		return;
	}
	if (cl->state != MQTT_S_CONNECTED)
		return; /* lost, and the host has not been told yet */
	busy = (op != OP_PUB || qos > 0) && msgid > 0 ? msgid_in_flight(cl, msgid) : NULL;
	if (busy) {
		report(m, FND_ERROR, FK_MSGID_REUSED,
		       "%s reuses msgid %lld on client %d while it is still in flight (its %s "
		       "result has not come)",
		       cmd, msgid, idx, busy);
		return;
	}
	/* M95 MQTT AN 3.2.8 note 1: at most 5 messages in flight; the M95 refuses (8512), the
	 * EC25 in this simulator answers, but the host is outside the documented window. */
	if (op != OP_PUB || qos == 0)
		return;
	if (cl->inflight < window) {
		v->over_window = false;
		return;
	}
	if (v->over_window)
		return; /* one finding per excursion over the window */
	v->over_window = true;
	report(m, refused ? FND_ERROR : FND_WARNING, FK_INFLIGHT_EXCEEDED,
	       "%s with %d QoS 1/2 messages of client %d already in flight: the window is %d "
	       "(wait for +QMTPUB results; more publishes over it are not reported until it "
	       "drains)",
	       cmd, cl->inflight, idx, window);
}

/* A control byte inside a parameter (a terminal's editing keys, a stray Ctrl+key) is taken
 * as part of it, as the module's parser takes any byte: an APN of "internt\x08et" is stored
 * as typed. The command still runs; the host is told where the byte is. */
static void control_bytes(struct modem *m, const struct at_call *c)
{
	for (int i = 0; i < c->args.n; i++) {
		const struct at_param *p = &c->args.p[i];

		if (p->type != AT_P_STR && p->type != AT_P_TOKEN)
			continue;
		for (size_t j = 0; j < p->len; j++) {
			unsigned char b = (unsigned char)p->s[j];

			if (b >= 0x20 && b != 0x7f)
				continue;
			report(m, FND_WARNING, FK_CONTROL_BYTE,
			       "AT%s parameter %d holds the control byte 0x%02x at offset %zu: it "
			       "is part of the value now (an editing key the terminal sent?)",
			       c->cmd->name, i + 1, b, j);
			return;
		}
	}
}

void findings_command(struct modem *m, const struct at_call *c)
{
	struct findings *f = get(m);
	const char *name = c->cmd->name;

	if (!f)
		return;
	f->phase_flagged = false;
	f->declared = true;
	if (c->req != AT_REQ_WRITE)
		return;
	control_bytes(m, c);
	/* the file size of these has a default (10240): only a given one is a declaration */
	if (strcmp(name, "+QFUPL") == 0 || strcmp(name, "+QFWRITE") == 0) {
		f->declared = at_given(c, 1);
		return;
	}
	for (size_t i = 0; i < sizeof(mqtt_ops) / sizeof(mqtt_ops[0]); i++) {
		if (strcmp(name, mqtt_ops[i].name) != 0)
			continue;
		if (at_given(c, 0) && c->args.p[0].type == AT_P_NUM && c->args.p[0].num >= 0 &&
		    c->args.p[0].num < MQTT_CLIENTS_MAX)
			judge_mqtt(m, f, c, mqtt_ops[i].op);
		return;
	}
}

/* One outcome the host was shown: what it now knows of its MQTT clients. */
static void shown(struct modem *m, struct findings *f, const struct mqtt_shown *ev)
{
	struct fnd_client *v = &f->c[ev->client];

	switch (ev->kind) {
	case MQTT_SHOWN_OPEN:
		if (ev->ok)
			v->opened = true;
		else if (!ev->unchanged)
			v->opened = v->connected = false;
		return;
	case MQTT_SHOWN_CONN:
		v->connected = ev->ok;
		if (v->connected)
			v->nopens = 0; /* a connection ends a storm */
		return;
	case MQTT_SHOWN_LOST:
		v->opened = v->connected = false;
		/* the end the host asked for: nothing to act on */
		if (!ev->normal) {
			v->stat_pending = true;
			v->stat_reported = false;
			v->stat_code = ev->code;
			v->stat_line = trace_last_tx_line(m->index);
		}
		return;
	}
}

/* The model's families recognize their own outcome URCs (at_family.mqtt_shown). */
static bool recognize(const struct modem *m, const char *line, size_t len, struct mqtt_shown *ev)
{
	for (const struct at_family *const *fam = m->model->families; *fam; fam++)
		if ((*fam)->mqtt_shown && (*fam)->mqtt_shown(line, len, ev))
			return true;
	return false;
}

/* Call fn for each outcome among the URC lines of p[0..n). */
static void each_shown(const struct modem *m, const void *p, size_t n,
                       bool (*fn)(struct modem *m, void *arg, const struct mqtt_shown *ev),
                       void *arg)
{
	const char *s = p, *end = s + n;

	while (s < end) {
		const char *e = s;
		struct mqtt_shown ev;

		while (e < end && *e != '\r' && *e != '\n')
			e++;
		if (e > s && recognize(m, s, (size_t)(e - s), &ev) &&
		    !fn((struct modem *)m, arg, &ev))
			return;
		s = e + 1;
	}
}

static bool apply_shown(struct modem *m, void *arg, const struct mqtt_shown *ev)
{
	shown(m, arg, ev);
	return true;
}

void findings_urc(struct modem *m, const void *p, size_t n)
{
	struct findings *f = get(m);

	if (f)
		each_shown(m, p, n, apply_shown, f);
}

void findings_reboot(struct modem *m)
{
	struct findings *f = m->findings;

	if (!f)
		return;
	memset(f->c, 0, sizeof(f->c));
	f->phase_flagged = false;
	f->declared = true;
}

void findings_close(struct modem *m)
{
	const char *disc = m->model->mqtt_shutdown[0], *net_close = m->model->mqtt_shutdown[1];
	struct findings *f;

	/* m->mqtt, not modem_mqtt(): clients never used were never connected (and exit need
	 * not allocate them) */
	for (int i = 0; m->mqtt && i < MQTT_CLIENTS_MAX; i++) {
		const struct mqtt_client *c = &m->mqtt->c[i];

		switch (c->state) {
		case MQTT_S_CONNECTING:
		case MQTT_S_CONNECTED:
			report(m, FND_WARNING, FK_NO_SHUTDOWN,
			       "client %d was still connected at exit: no %s (the broker sees the "
			       "connection drop and publishes any will)",
			       i, disc ? disc : "AT+QMTDISC/AT+QMTCLOSE");
			break;
		case MQTT_S_OPENING:
		case MQTT_S_OPEN:
			report(m, FND_WARNING, FK_NO_SHUTDOWN,
			       "client %d had its network open at exit: no %s", i,
			       net_close ? net_close : "AT+QMTCLOSE");
			break;
		case MQTT_S_IDLE:
			if (m->findings && m->findings->c[i].stat_pending)
				report(m, FND_WARNING, FK_QMTSTAT_IGNORED,
				       "+QMTSTAT: %d,%d was never answered with AT+QMTOPEN or "
				       "AT+QMTCLOSE",
				       i, m->findings->c[i].stat_code);
			break;
		case MQTT_S_DISCONNECTING:
			break;
		}
	}
	f = m->findings;
	if (!f)
		return;
	for (size_t i = 0; i < f->nrecs; i++)
		free(f->recs[i].msg);
	free(f->recs);
	free(f);
	m->findings = NULL;
}

/* ---- the control socket ---- */

static void json_str(struct buf *b, const char *s)
{
	log_json_str(b, s, strlen(s));
}

static void query_one(struct modem *m, struct buf *out)
{
	const struct findings *f = m->findings;

	buf_printf(out,
	           "{\"modem\":%d,\"count\":%llu,\"errors\":%llu,\"warnings\":%llu,\"info\":%llu",
	           m->index, (unsigned long long)(f ? f->total : 0),
	           (unsigned long long)(f ? f->by_sev[FND_ERROR] : 0),
	           (unsigned long long)(f ? f->by_sev[FND_WARNING] : 0),
	           (unsigned long long)(f ? f->by_sev[FND_INFO] : 0));
	if (f && f->total > f->nrecs)
		buf_printf(out, ",\"dropped\":%llu", (unsigned long long)(f->total - f->nrecs));
	buf_printf(out, ",\"findings\":[");
	for (size_t i = 0; f && i < f->nrecs; i++) {
		const struct fnd_rec *r = &f->recs[i];

		buf_printf(out,
		           "%s{\"t\":%lld.%03lld,\"severity\":\"%s\",\"kind\":\"%s\",\"line\":%llu,"
		           "\"msg\":",
		           i ? "," : "", (long long)(r->t_ms / 1000), (long long)(r->t_ms % 1000),
		           severity_names[r->sev], kind_names[r->kind],
		           (unsigned long long)r->line);
		json_str(out, r->msg ? r->msg : "");
		buf_putc(out, '}');
	}
	buf_printf(out, "]}");
}

static const char *word(const char **p, const char *end, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*p = s;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*len = (size_t)(*p - s);
	return s;
}

int findings_query(struct modemsim *sim, const char *line, size_t len, struct buf *out)
{
	const char *p = line, *end = line + len, *w;
	size_t n;
	long idx = -1;

	w = word(&p, end, &n);
	if (n != 5 || memcmp(w, "query", 5) != 0)
		return 0;
	w = word(&p, end, &n);
	if (n != 8 || memcmp(w, "findings", 8) != 0)
		return 0;
	w = word(&p, end, &n);
	if (n) {
		char num[16], *e;

		snprintf(num, sizeof(num), "%.*s", (int)(n < 15 ? n : 15), w);
		idx = strtol(num, &e, 10);
		if (n > 15 || *e || idx < 0) {
			buf_printf(out,
			           "{\"ok\":false,\"error\":\"query findings [<modem>]: a modem "
			           "index, not ");
			log_escape(out, (const uint8_t *)w, n > 40 ? 40 : n, true);
			buf_printf(out, "\"}");
			return 1;
		}
		word(&p, end, &n);
		if (n) {
			buf_printf(out, "{\"ok\":false,\"error\":\"query findings [<modem>]: "
			                "unexpected text after the modem index\"}");
			return 1;
		}
	}
	if (idx >= 0 && (idx < sim->opt.index_base || idx - sim->opt.index_base >= sim->count)) {
		buf_printf(out,
		           "{\"ok\":false,\"error\":\"modem %ld does not exist (%d modem%s)\"}",
		           idx, sim->count, sim->count == 1 ? "" : "s");
		return 1;
	}
	buf_printf(out, "{\"ok\":true,\"modems\":[");
	for (int i = 0; i < sim->count; i++) {
		if (idx >= 0 && idx != sim->modems[i].index)
			continue;
		if (idx < 0 && i)
			buf_putc(out, ',');
		query_one(&sim->modems[i], out);
	}
	buf_printf(out, "]}");
	return 1;
}

const struct modem_hooks findings_hooks = {
        .fed = findings_fed,
        .waiting = findings_waiting,
        .urc = findings_urc,
        .reboot = findings_reboot,
        .close = findings_close,
        .bad_line = findings_bad_line,
        .unknown = findings_unknown,
        .call = findings_command,
        .data_end = findings_data_end,
};
