/* The scenario parser (pure). A line is first cut into tokens (bare words and "strings", with
 * their 1-based columns; strings unescaped into the statement's pool), then a recursive-descent
 * parser walks the tokens. Every error names the token where it was found and what was expected
 * there ("expected a duration (e.g. 250ms, 1.5s, 2m), got '5'"); at the end of the line the
 * column is one past the last token. */
#include "scenario/parse.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at/param.h"
#include "core/err.h"
#include "net/resolve.h"

#if defined(__has_include)
#if __has_include("scenario/fault.h")
#include "scenario/fault.h"
#define SCN_HAVE_FAULT_H 1
#endif
#endif
#ifndef SCN_HAVE_FAULT_H
/* Until scenario/fault.h exists (the fault mechanisms, another module): validation of a fault's
 * name and parameters; 0, or -1 with a message in err. */
int fault_check(const char *name, const struct scn_params *p, char *err, size_t errlen);
#endif

#define MAX_TOKENS 1024

enum tok_kind { TOK_END, TOK_WORD, TOK_STR };

struct tok {
	enum tok_kind kind;
	const char *s; /* WORD: as written; STR: the unescaped text in the pool */
	size_t len;
	int col;
	struct scn_text text; /* STR */
};

struct ps {
	struct tok t[MAX_TOKENS + 1];
	int n;
	int i;
	int end_col;
	struct scn_stmt *out;
	struct scn_error *err;
};

const struct scn_param *scn_param_get(const struct scn_params *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->p[i].name, name) == 0)
			return &p->p[i];
	return NULL;
}

/* ---- errors ---- */

static int fail_at(struct ps *ps, int col, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail_at(struct ps *ps, int col, const char *fmt, ...)
{
	va_list ap;

	ps->err->line = 0;
	ps->err->col = col;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* "expected <what>" at the end of the line, "expected <what>, got '<token>'" elsewhere. */
static int expected(struct ps *ps, const struct tok *t, const char *what)
{
	if (t->kind == TOK_END)
		return fail_at(ps, t->col, "expected %s", what);
	if (t->kind == TOK_STR)
		return fail_at(ps, t->col, "expected %s, got a string", what);
	return fail_at(ps, t->col, "expected %s, got '%.*s'", what, t->len > 40 ? 40 : (int)t->len,
	               t->s);
}

/* ---- the pool ---- */

static int pool_add(struct ps *ps, const char *p, size_t n, int col, struct scn_text *t)
{
	struct scn_stmt *s = ps->out;

	if (s->pool_len + n + 1 > sizeof(s->pool))
		return fail_at(ps, col, "statement too long");
	memcpy(s->pool + s->pool_len, p, n);
	s->pool[s->pool_len + n] = 0;
	t->off = (uint16_t)s->pool_len;
	t->len = (uint16_t)n;
	s->pool_len += n + 1;
	return 0;
}

/* ---- tokens ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string starting at line[*i] (the quote): unescaped into the pool. */
static int lex_string(struct ps *ps, const char *line, size_t len, size_t *i, struct tok *t)
{
	struct scn_stmt *s = ps->out;
	size_t k = *i + 1, start = s->pool_len;

	t->kind = TOK_STR;
	t->col = (int)*i + 1;
	for (;;) {
		unsigned char c;

		if (k >= len)
			return fail_at(ps, t->col, "unterminated string");
		c = (unsigned char)line[k];
		if (c == '"')
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail_at(ps, (int)k + 1, "byte 0x%02x in a string (write \\xNN)", c);
		if (c == '\\') {
			int h, l;

			if (k + 1 >= len)
				return fail_at(ps, t->col, "unterminated string");
			switch (line[k + 1]) {
			case '"':
			case '\\':
				c = (unsigned char)line[k + 1];
				k += 2;
				break;
			case 'r':
				c = '\r';
				k += 2;
				break;
			case 'n':
				c = '\n';
				k += 2;
				break;
			case 'x':
				h = k + 2 < len ? hexval(line[k + 2]) : -1;
				l = k + 3 < len ? hexval(line[k + 3]) : -1;
				if (h < 0 || l < 0)
					return fail_at(ps, (int)k + 1,
					               "expected two hex digits after \\x");
				c = (unsigned char)(h * 16 + l);
				k += 4;
				break;
			default:
				return fail_at(
				        ps, (int)k + 1,
				        "unknown escape '\\%c' (expected \\\", \\\\, \\r, \\n "
				        "or \\xNN)",
				        line[k + 1] >= 0x20 && line[k + 1] < 0x7f ? line[k + 1]
				                                                  : '?');
			}
		} else {
			k++;
		}
		if (s->pool_len + 1 >= sizeof(s->pool))
			return fail_at(ps, t->col, "statement too long");
		s->pool[s->pool_len++] = (char)c;
	}
	s->pool[s->pool_len++] = 0;
	t->text.off = (uint16_t)start;
	t->text.len = (uint16_t)(s->pool_len - 1 - start);
	t->s = s->pool + start;
	t->len = t->text.len;
	*i = k + 1;
	return 0;
}

static int lex(struct ps *ps, const char *line, size_t len)
{
	size_t i = 0;

	ps->n = 0;
	ps->end_col = 1;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > SCN_LINE_MAX)
		return fail_at(ps, SCN_LINE_MAX + 1, "line longer than %d bytes", SCN_LINE_MAX);
	while (i < len) {
		struct tok *t;
		unsigned char c = (unsigned char)line[i];

		if (c == ' ' || c == '\t') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (ps->n == MAX_TOKENS)
			return fail_at(ps, (int)i + 1, "more than %d words", MAX_TOKENS);
		t = &ps->t[ps->n++];
		if (c == '"') {
			if (lex_string(ps, line, len, &i, t))
				return -1;
		} else {
			t->kind = TOK_WORD;
			t->s = line + i;
			t->col = (int)i + 1;
			while (i < len) {
				c = (unsigned char)line[i];
				if (c == ' ' || c == '\t' || c == '#')
					break;
				if (c == '"')
					return fail_at(ps, (int)i + 1,
					               "unexpected '\"' inside a word (put a space "
					               "before the string)");
				if (c < 0x20 || c >= 0x7f)
					return fail_at(ps, (int)i + 1,
					               "unexpected byte 0x%02x outside a string",
					               c);
				i++;
			}
			t->len = (size_t)(line + i - t->s);
		}
		ps->end_col = (int)i + 1;
	}
	ps->t[ps->n].kind = TOK_END;
	ps->t[ps->n].col = ps->end_col;
	ps->t[ps->n].s = "";
	ps->t[ps->n].len = 0;
	return 0;
}

/* ---- token helpers ---- */

static const struct tok *peek(const struct ps *ps)
{
	return &ps->t[ps->i];
}

static const struct tok *take(struct ps *ps)
{
	const struct tok *t = &ps->t[ps->i];

	if (t->kind != TOK_END)
		ps->i++;
	return t;
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->kind == TOK_WORD && t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

static bool accept_word(struct ps *ps, const char *word)
{
	if (!tok_is(peek(ps), word))
		return false;
	ps->i++;
	return true;
}

/* Index of the token in a NULL-terminated list of words, or -1. */
static int tok_index(const struct tok *t, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (tok_is(t, words[i]))
			return i;
	return -1;
}

static int take_choice(struct ps *ps, const char *const *words, const char *what, int *out)
{
	const struct tok *t = peek(ps);
	int k = tok_index(t, words);

	if (k < 0)
		return expected(ps, t, what);
	ps->i++;
	*out = k;
	return 0;
}

/* ---- values (pure parsers of a bare token) ---- */

static int word_number(const char *s, size_t n, long long *v)
{
	if (n == 0 || s[0] == '-' || s[0] == '+')
		return -1;
	return at_parse_number(s, n, v, NULL);
}

/* "250ms", "1.5s", "2m": rounded to whole milliseconds. */
static int word_duration(const char *s, size_t n, uint64_t *ms)
{
	size_t i = 0, unit_at;
	double v = 0, scale = 1, mult;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	if (i < n && s[i] == '.') {
		size_t d = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9') {
			scale /= 10;
			v += (s[i] - '0') * scale;
			i++;
		}
		if (i == d)
			return -1;
	}
	unit_at = i;
	if (n - unit_at == 2 && s[unit_at] == 'm' && s[unit_at + 1] == 's')
		mult = 1;
	else if (n - unit_at == 1 && s[unit_at] == 's')
		mult = 1000;
	else if (n - unit_at == 1 && s[unit_at] == 'm')
		mult = 60000;
	else
		return -1;
	v = v * mult + 0.5;
	if (v > (double)SCN_DURATION_MAX_MS)
		return -2;
	*ms = (uint64_t)v;
	return 0;
}

/* A probability: 0, 1, or a decimal fraction between them ("0.25"). */
static int word_fraction(const char *s, size_t n, double *p)
{
	size_t i = 0;
	double v = 0, scale = 1;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		v = v * 10 + (s[i++] - '0');
	if (i == 0)
		return -1;
	if (i < n && s[i] == '.') {
		size_t d = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9') {
			scale /= 10;
			v += (s[i++] - '0') * scale;
		}
		if (i == d)
			return -1;
	}
	if (i != n || v > 1)
		return -1;
	*p = v;
	return 0;
}

#define WHAT_DURATION "a duration (e.g. 250ms, 1.5s, 2m)"

static int take_duration(struct ps *ps, uint64_t *ms)
{
	const struct tok *t = peek(ps);
	int rc = t->kind == TOK_WORD ? word_duration(t->s, t->len, ms) : -1;

	if (rc == -2)
		return fail_at(ps, t->col, "duration longer than 30 days");
	if (rc)
		return expected(ps, t, WHAT_DURATION);
	ps->i++;
	return 0;
}

static int take_int(struct ps *ps, long long lo, long long hi, const char *what, long long *v)
{
	const struct tok *t = peek(ps);
	char buf[96];

	if (t->kind != TOK_WORD || word_number(t->s, t->len, v) || *v < lo || *v > hi) {
		snprintf(buf, sizeof(buf), "%s (%lld-%lld)", what, lo, hi);
		return expected(ps, t, buf);
	}
	ps->i++;
	return 0;
}

static int take_string(struct ps *ps, const char *what, struct scn_text *out)
{
	const struct tok *t = peek(ps);

	if (t->kind != TOK_STR)
		return expected(ps, t, what);
	*out = t->text;
	ps->i++;
	return 0;
}

/* A word or a string, kept in the pool. */
static int take_text(struct ps *ps, const char *what, struct scn_text *out)
{
	const struct tok *t = peek(ps);

	if (t->kind == TOK_STR)
		return take_string(ps, what, out);
	if (t->kind != TOK_WORD)
		return expected(ps, t, what);
	if (pool_add(ps, t->s, t->len, t->col, out))
		return -1;
	ps->i++;
	return 0;
}

static int end_of_line(struct ps *ps)
{
	const struct tok *t = peek(ps);

	if (t->kind != TOK_END)
		return expected(ps, t, "the end of the statement");
	return 0;
}

/* ---- command matches ---- */

/* The command after its "AT" (or the whole text when it has none). */
static const char *after_at(const char *s, size_t n, size_t *rest)
{
	if (n >= 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'T' || s[1] == 't')) {
		*rest = n - 2;
		return s + 2;
	}
	*rest = n;
	return s;
}

static int check_command_text(struct ps *ps, int col, const char *s, size_t n, bool pattern)
{
	const char *p, *end, *why = NULL;
	struct at_cmd_req req;
	struct at_args args;
	char abuf[160];
	size_t rest;

	if (n < 2 || (s[0] != 'A' && s[0] != 'a') || (s[1] != 'T' && s[1] != 't'))
		return fail_at(ps, col, "expected a command starting with AT");
	p = after_at(s, n, &rest);
	end = p + rest;
	if (p == end)
		return 0;
	if (at_parse_next(&p, end, &req, &why) != 1)
		return fail_at(ps, col, "not an AT command: %s", why ? why : "empty");
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p != end)
		return fail_at(ps, col, "expected one command (no ';')");
	if (req.req != AT_REQ_WRITE || req.name[0] == '&' || req.name[0] != '+')
		return 0;
	if (at_parse_args(req.args, req.args_len, &args, abuf, sizeof(abuf)))
		return fail_at(ps, col, "bad parameters: %s", abuf);
	if (!pattern)
		return 0;
	for (int i = 0; i < args.n; i++)
		if (args.p[i].type == AT_P_TOKEN && args.p[i].len == 3 &&
		    memcmp(args.p[i].s, "...", 3) == 0 && i != args.n - 1)
			return fail_at(ps, col, "'...' must be the last parameter of a pattern");
	return 0;
}

#define WHAT_MATCH "a command (\"AT...\", prefix \"AT...\" or pattern \"AT...\")"

static int parse_match(struct ps *ps, struct scn_match *m)
{
	const struct tok *t = peek(ps);

	if (t->kind == TOK_STR) {
		m->kind = SCN_MATCH_EXACT;
	} else if (tok_is(t, "prefix")) {
		m->kind = SCN_MATCH_PREFIX;
		ps->i++;
	} else if (tok_is(t, "pattern")) {
		m->kind = SCN_MATCH_PATTERN;
		ps->i++;
	} else {
		return expected(ps, t, WHAT_MATCH);
	}
	t = peek(ps);
	if (take_string(ps, "a command in quotes (\"AT...\")", &m->text))
		return -1;
	if (m->kind == SCN_MATCH_PREFIX) {
		if (t->len < 2 || (t->s[0] != 'A' && t->s[0] != 'a') ||
		    (t->s[1] != 'T' && t->s[1] != 't'))
			return fail_at(ps, t->col, "expected a command starting with AT");
		return 0;
	}
	return check_command_text(ps, t->col, t->s, t->len, m->kind == SCN_MATCH_PATTERN);
}

/* ---- limits, windows, actions ---- */

static bool is_limit(const struct tok *t)
{
	static const char *const words[] = {"once", "nth", "first", "every", "prob", NULL};

	return tok_index(t, words) >= 0;
}

static int parse_limit(struct ps *ps, struct scn_limit *l)
{
	const struct tok *t;

	memset(l, 0, sizeof(*l));
	l->kind = SCN_LIMIT_ALWAYS;
	if (accept_word(ps, "once")) {
		l->kind = SCN_LIMIT_ONCE;
		l->n = 1;
	} else if (accept_word(ps, "nth")) {
		l->kind = SCN_LIMIT_NTH;
		return take_int(ps, 1, 1000000000, "a count", &l->n);
	} else if (accept_word(ps, "first")) {
		l->kind = SCN_LIMIT_FIRST;
		return take_int(ps, 1, 1000000000, "a count", &l->n);
	} else if (accept_word(ps, "every")) {
		l->kind = SCN_LIMIT_EVERY;
		return take_int(ps, 1, 1000000000, "a count", &l->n);
	} else if (accept_word(ps, "prob")) {
		l->kind = SCN_LIMIT_PROB;
		t = peek(ps);
		if (t->kind != TOK_WORD || word_fraction(t->s, t->len, &l->p))
			return expected(ps, t, "a probability (0 to 1, e.g. 0.25)");
		ps->i++;
		if (accept_word(ps, "seed")) {
			long long seed;

			if (take_int(ps, 0, 0x7fffffffffffffffLL, "a seed", &seed))
				return -1;
			l->has_seed = true;
			l->seed = (uint64_t)seed;
		}
	}
	return 0;
}

static const char *const state_words[] = {
        "", "mqtt-connected", "mqtt-open", "pdp-active", "registered", "sim-ready", NULL,
};

static int parse_windows(struct ps *ps, struct scn_window *w)
{
	int until_col = 0;

	memset(w, 0, sizeof(*w));
	w->client = -1;
	for (;;) {
		const struct tok *t = peek(ps);

		if (tok_is(t, "from")) {
			if (w->has_from)
				return fail_at(ps, t->col, "'from' given twice");
			ps->i++;
			if (take_duration(ps, &w->from_ms))
				return -1;
			w->has_from = true;
		} else if (tok_is(t, "until")) {
			if (w->has_until)
				return fail_at(ps, t->col, "'until' given twice");
			until_col = t->col;
			ps->i++;
			if (take_duration(ps, &w->until_ms))
				return -1;
			w->has_until = true;
		} else if (tok_is(t, "when")) {
			int k;

			if (w->when != SCN_STATE_NONE)
				return fail_at(ps, t->col, "'when' given twice");
			ps->i++;
			t = peek(ps);
			k = tok_index(t, state_words);
			if (k <= 0)
				return expected(ps, t,
				                "a state (mqtt-connected, mqtt-open, pdp-active, "
				                "registered, sim-ready)");
			ps->i++;
			w->when = (enum scn_state)k;
			if (tok_is(peek(ps), "client")) {
				long long c;

				if (w->when != SCN_STATE_MQTT_CONNECTED &&
				    w->when != SCN_STATE_MQTT_OPEN)
					return fail_at(ps, peek(ps)->col,
					               "'client' goes with mqtt-connected or "
					               "mqtt-open only");
				ps->i++;
				if (take_int(ps, 0, 5, "a client", &c))
					return -1;
				w->client = (int)c;
			}
		} else {
			break;
		}
	}
	if (w->has_from && w->has_until && w->until_ms <= w->from_ms)
		return fail_at(ps, until_col, "'until' must be later than 'from'");
	return 0;
}

#define WHAT_ACTION "an action (reply, error, silent, delay, urc or pass)"

static int parse_action(struct ps *ps, struct scn_action *a)
{
	static const char *const words[] = {"reply", "error", "silent", "delay",
	                                    "urc",   "pass",  NULL};
	const struct tok *t = peek(ps);
	int k;

	memset(a, 0, sizeof(*a));
	if (is_limit(t))
		return fail_at(ps, t->col, "the limit goes right after the command match");
	if (take_choice(ps, words, WHAT_ACTION, &k))
		return -1;
	a->kind = (enum scn_action_kind)k;
	switch (a->kind) {
	case SCN_ACT_REPLY:
		if (peek(ps)->kind != TOK_STR && !tok_is(peek(ps), "final"))
			return expected(ps, peek(ps), "a reply line in quotes");
		while (peek(ps)->kind == TOK_STR) {
			if (a->nlines == SCN_REPLY_MAX)
				return fail_at(ps, peek(ps)->col, "more than %d reply lines",
				               SCN_REPLY_MAX);
			a->lines[a->nlines++] = take(ps)->text;
		}
		if (accept_word(ps, "final")) {
			a->has_final = true;
			if (take_string(ps, "a final result in quotes (\"OK\", \"ERROR\", ...)",
			                &a->final))
				return -1;
			if (a->final.len == 0)
				return fail_at(ps, ps->t[ps->i - 1].col, "empty final result");
		}
		return 0;
	case SCN_ACT_ERROR: {
		long long code;

		t = peek(ps);
		if (t->kind != TOK_WORD || !(t->s[0] >= '0' && t->s[0] <= '9'))
			return 0;
		if (take_int(ps, 1, 65535, "a +CME ERROR code", &code))
			return -1;
		a->code = (int)code;
		return 0;
	}
	case SCN_ACT_SILENT:
	case SCN_ACT_PASS:
		return 0;
	case SCN_ACT_DELAY:
		return take_duration(ps, &a->ms);
	case SCN_ACT_URC:
		if (take_duration(ps, &a->ms))
			return -1;
		return take_string(ps, "a URC in quotes", &a->urc);
	}
	return 0;
}

/* ---- faults and do ---- */

static bool param_name_ok(const struct tok *t)
{
	if (t->kind != TOK_WORD || t->len == 0 || t->len > SCN_NAME_MAX)
		return false;
	if (t->s[0] < 'a' || t->s[0] > 'z')
		return false;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool fault_name_ok(const struct tok *t)
{
	if (t->kind != TOK_WORD || t->len == 0 || t->len > SCN_NAME_MAX)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return false;
	}
	return true;
}

static int parse_fault(struct ps *ps, struct scn_do *d)
{
	const struct tok *t = peek(ps);
	char err[SCN_MSG_MAX];

	if (!fault_name_ok(t))
		return expected(ps, t, "a fault name (e.g. link.reset)");
	memcpy(d->fault, t->s, t->len);
	d->fault[t->len] = 0;
	d->fault_col = t->col;
	ps->i++;
	while (peek(ps)->kind != TOK_END) {
		struct scn_param *p;
		const struct tok *v;

		t = peek(ps);
		if (!param_name_ok(t))
			return expected(ps, t, "a parameter name");
		for (int i = 0; i < d->params.n; i++)
			if (strlen(d->params.p[i].name) == t->len &&
			    memcmp(d->params.p[i].name, t->s, t->len) == 0)
				return fail_at(ps, t->col, "parameter '%.*s' given twice",
				               (int)t->len, t->s);
		if (d->params.n == SCN_PARAMS_MAX)
			return fail_at(ps, t->col, "more than %d parameters", SCN_PARAMS_MAX);
		p = &d->params.p[d->params.n++];
		memcpy(p->name, t->s, t->len);
		p->name[t->len] = 0;
		p->col = t->col;
		ps->i++;
		v = peek(ps);
		if (v->kind == TOK_END) {
			p->type = SCN_V_NONE;
			break;
		}
		if (v->len > SCN_VALUE_MAX)
			return fail_at(ps, v->col, "value longer than %d bytes", SCN_VALUE_MAX);
		memcpy(p->text, v->s, v->len);
		p->text[v->len] = 0;
		p->len = v->len;
		p->vcol = v->col;
		if (v->kind == TOK_STR)
			p->type = SCN_V_STR;
		else if (word_number(v->s, v->len, &p->num) == 0)
			p->type = SCN_V_NUM;
		else if (word_duration(v->s, v->len, &p->ms) == 0)
			p->type = SCN_V_DUR;
		else
			p->type = SCN_V_WORD;
		ps->i++;
	}
	err[0] = 0;
	if (fault_check(d->fault, &d->params, err, sizeof(err)) != 0)
		return fail_at(ps, d->fault_col, "%s", err[0] ? err : "invalid fault");
	return 0;
}

#define WHAT_DO "urc or fault"

static int parse_do(struct ps *ps, struct scn_do *d)
{
	memset(d, 0, sizeof(*d));
	if (accept_word(ps, "urc")) {
		d->kind = SCN_DO_URC;
		if (take_string(ps, "a URC in quotes", &d->urc))
			return -1;
		return end_of_line(ps);
	}
	if (accept_word(ps, "fault")) {
		d->kind = SCN_DO_FAULT;
		return parse_fault(ps, d);
	}
	return expected(ps, peek(ps), WHAT_DO);
}

/* ---- events ---- */

static const char *const event_words[] = {
        "command",       "mqtt-connected", "mqtt-open", "mqtt-closed", "publish",
        "tls-handshake", "upload",         "boot",      NULL,
};

static int parse_event(struct ps *ps, struct scn_event *e)
{
	int k;

	memset(e, 0, sizeof(*e));
	e->client = -1;
	if (take_choice(ps, event_words,
	                "an event (command, mqtt-connected, mqtt-open, mqtt-closed, publish, "
	                "tls-handshake, upload or boot)",
	                &k))
		return -1;
	e->kind = (enum scn_event_kind)k;
	switch (e->kind) {
	case SCN_EVENT_COMMAND:
		return parse_match(ps, &e->match);
	case SCN_EVENT_MQTT_CONNECTED:
	case SCN_EVENT_MQTT_OPEN:
	case SCN_EVENT_MQTT_CLOSED:
		if (accept_word(ps, "client")) {
			long long c;

			if (take_int(ps, 0, 5, "a client", &c))
				return -1;
			e->client = (int)c;
		}
		return 0;
	case SCN_EVENT_PUBLISH: {
		const struct tok *t = peek(ps);

		if (t->kind == TOK_WORD && t->s[0] >= '0' && t->s[0] <= '9')
			return take_int(ps, 1, 1000000000, "a publish count", &e->n);
		return 0;
	}
	case SCN_EVENT_UPLOAD:
		if (peek(ps)->kind == TOK_STR) {
			e->has_name = true;
			e->name = take(ps)->text;
		}
		return 0;
	case SCN_EVENT_TLS_HANDSHAKE:
	case SCN_EVENT_BOOT:
		return 0;
	}
	return 0;
}

/* ---- settings ---- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static int parse_id(struct ps *ps, struct scn_setting_stmt *st, size_t lo, size_t hi,
                    const char *what)
{
	const struct tok *t = peek(ps);
	char buf[64];

	if ((t->kind != TOK_WORD && t->kind != TOK_STR) || !all_digits(t->s, t->len) ||
	    t->len < lo || t->len > hi) {
		if (lo == hi)
			snprintf(buf, sizeof(buf), "%s (%zu digits)", what, lo);
		else
			snprintf(buf, sizeof(buf), "%s (%zu to %zu digits)", what, lo, hi);
		return expected(ps, t, buf);
	}
	return take_text(ps, what, &st->text);
}

static int parse_resolve(struct ps *ps, struct scn_setting_stmt *st)
{
	const struct tok *t = peek(ps);
	struct net_map map;
	struct in_addr addr = {0};
	bool fail = false;
	int rc;

	if (t->kind == TOK_END || t->len > NET_NAME_MAX)
		return expected(ps, t, "a host name (name, *.suffix or *)");
	if (take_text(ps, "a host name", &st->text))
		return -1;
	/* The same rules as --resolve, from the same code. */
	net_map_init(&map);
	rc = net_map_set(&map, scn_str(ps->out, st->text), NET_ENTRY_FAIL, addr);
	net_map_free(&map);
	if (rc == -ERR_NAME)
		return fail_at(ps, t->col, "expected a host name (name, *.suffix or *)");
	t = peek(ps);
	if (tok_is(t, "fail"))
		fail = true;
	else if (t->kind != TOK_WORD || t->len >= INET_ADDRSTRLEN)
		return expected(ps, t, "an IPv4 address or fail");
	if (!fail) {
		char a[INET_ADDRSTRLEN];

		memcpy(a, t->s, t->len);
		a[t->len] = 0;
		if (inet_pton(AF_INET, a, &addr) != 1)
			return expected(ps, t, "an IPv4 address or fail");
	}
	return take_text(ps, "an address", &st->text2);
}

static int parse_route(struct ps *ps, struct scn_setting_stmt *st)
{
	const struct tok *t;
	long long port;
	char spec[64];
	struct net_map map;
	int rc;

	if (take_int(ps, 1, 65535, "a port", &port))
		return -1;
	st->a = (int)port;
	t = peek(ps);
	if (t->kind != TOK_WORD || t->len > 40)
		return expected(ps, t, "HOST:PORT (an IPv4 address) or @plain, @tls, @mutual");
	snprintf(spec, sizeof(spec), "%d=%.*s", st->a, (int)t->len, t->s);
	net_map_init(&map);
	rc = net_map_add_route(&map, spec);
	net_map_free(&map);
	if (rc)
		return expected(ps, t, "HOST:PORT (an IPv4 address) or @plain, @tls, @mutual");
	return take_text(ps, "a route", &st->text2);
}

static int parse_setting(struct ps *ps, int which)
{
	struct scn_setting_stmt *st = &ps->out->u.set;
	long long v;
	int k;

	memset(st, 0, sizeof(*st));
	st->what = (enum scn_setting)which;
	switch (st->what) {
	case SCN_SET_MODEL: {
		static const char *const models[] = {"ec25",  "m95",      "bg96", "sim7600",
		                                     "a7670", "sim7670g", NULL};

		if (take_choice(ps, models, "a model (ec25, m95, bg96, sim7600, a7670 or sim7670g)",
		                &k))
			return -1;
		return pool_add(ps, models[k], strlen(models[k]), 0, &st->text);
	}
	case SCN_SET_REVISION:
		if (take_string(ps, "a revision in quotes", &st->text))
			return -1;
		if (st->text.len == 0 || st->text.len > 64)
			return fail_at(ps, ps->t[ps->i - 1].col, "a revision has 1 to 64 bytes");
		return 0;
	case SCN_SET_IMEI:
		return parse_id(ps, st, 15, 15, "an IMEI");
	case SCN_SET_ICCID:
		return parse_id(ps, st, 19, 20, "an ICCID");
	case SCN_SET_IMSI:
		return parse_id(ps, st, 15, 15, "an IMSI");
	case SCN_SET_SIM: {
		static const char *const states[] = {"ready", "pin", "puk", "absent", NULL};

		if (take_choice(ps, states, "a SIM state (ready, pin, puk or absent)", &k))
			return -1;
		st->a = k;
		return 0;
	}
	case SCN_SET_REGISTRATION:
		if (take_int(ps, 0, 5, "a registration stat", &v))
			return -1;
		st->a = (int)v;
		if (accept_word(ps, "after")) {
			st->has_ms = true;
			return take_duration(ps, &st->ms);
		}
		return 0;
	case SCN_SET_SIGNAL: {
		const struct tok *t = peek(ps);

		if (t->kind != TOK_WORD || word_number(t->s, t->len, &v) || (v > 31 && v != 99))
			return expected(ps, t, "an RSSI (0-31 or 99)");
		ps->i++;
		st->a = (int)v;
		st->b = -1;
		t = peek(ps);
		if (t->kind == TOK_END)
			return 0;
		if (t->kind != TOK_WORD || word_number(t->s, t->len, &v) || (v > 7 && v != 99))
			return expected(ps, t, "a BER (0-7 or 99)");
		ps->i++;
		st->b = (int)v;
		return 0;
	}
	case SCN_SET_OPERATOR:
		if (take_string(ps, "an operator name in quotes", &st->text))
			return -1;
		if (st->text.len == 0 || st->text.len > 31)
			return fail_at(ps, ps->t[ps->i - 1].col,
			               "an operator name has 1 to 31 bytes");
		return 0;
	case SCN_SET_TIMING: {
		static const char *const profiles[] = {"realistic", "fast", NULL};

		if (take_choice(ps, profiles, "a timing profile (realistic or fast)", &k))
			return -1;
		st->a = k;
		return 0;
	}
	case SCN_SET_LATENCY_COMMAND:
	case SCN_SET_LATENCY_URC: {
		static const char *const kinds[] = {"command", "urc", NULL};

		if (take_choice(ps, kinds, "command or urc", &k))
			return -1;
		st->what = k == 0 ? SCN_SET_LATENCY_COMMAND : SCN_SET_LATENCY_URC;
		return take_duration(ps, &st->ms);
	}
	case SCN_SET_RESOLVE:
		return parse_resolve(ps, st);
	case SCN_SET_ROUTE:
		return parse_route(ps, st);
	case SCN_SET_DEFAULT_BEARER: {
		static const char *const onoff[] = {"off", "on", NULL};

		if (take_choice(ps, onoff, "on or off", &k))
			return -1;
		st->a = k;
		return 0;
	}
	}
	return 0;
}

/* ---- statements ---- */

/* Statement keywords; settings keep the order of enum scn_setting ("latency" stands for both
 * latency settings). */
static const char *const setting_words[] = {
        "model",        "revision", "imei",           "iccid",  "imsi",    "sim",
        "registration", "signal",   "operator",       "timing", "latency", "latency",
        "resolve",      "route",    "default-bearer", NULL,
};

#define WHAT_STATEMENT "a statement (a setting, on, at, after or query)"

static int parse_query(struct ps *ps)
{
	static const char *const words[] = {"modem", "files", "mqtt", "counters", "faults", NULL};
	struct scn_query_stmt *q = &ps->out->u.query;
	int k;

	q->index = -1;
	if (take_choice(ps, words, "modem, files, mqtt, counters or faults", &k))
		return -1;
	q->what = (enum scn_query_kind)k;
	if (q->what != SCN_QUERY_FAULTS && peek(ps)->kind == TOK_WORD) {
		long long v;

		if (take_int(ps, 0, 1023, "a modem index", &v))
			return -1;
		q->index = (int)v;
	}
	return 0;
}

static int parse_stmt(struct ps *ps)
{
	struct scn_stmt *s = ps->out;
	const struct tok *t;
	int k;

	if (accept_word(ps, "modem")) {
		long long v;

		if (take_int(ps, 0, 1023, "a modem index", &v))
			return -1;
		s->modem = (int)v;
	}
	t = peek(ps);
	k = tok_index(t, setting_words);
	if (k >= 0) {
		ps->i++;
		s->kind = SCN_SETTING;
		if (parse_setting(ps, k))
			return -1;
		return end_of_line(ps);
	}
	if (accept_word(ps, "on")) {
		struct scn_rule_stmt *r = &s->u.rule;

		s->kind = SCN_RULE;
		if (parse_match(ps, &r->match) || parse_limit(ps, &r->limit) ||
		    parse_windows(ps, &r->window) || parse_action(ps, &r->action))
			return -1;
		return end_of_line(ps);
	}
	if (accept_word(ps, "at")) {
		s->kind = SCN_AT;
		if (take_duration(ps, &s->u.ev.at_ms))
			return -1;
		return parse_do(ps, &s->u.ev.act);
	}
	if (accept_word(ps, "after")) {
		struct scn_timed_stmt *e = &s->u.ev;

		s->kind = SCN_AFTER;
		if (parse_event(ps, &e->event) || parse_limit(ps, &e->limit))
			return -1;
		if (accept_word(ps, "delay") && take_duration(ps, &e->delay_ms))
			return -1;
		return parse_do(ps, &e->act);
	}
	if (accept_word(ps, "query")) {
		if (s->modem >= 0)
			return fail_at(ps, ps->t[ps->i - 1].col,
			               "a query takes its modem after it (query modem <n>)");
		s->kind = SCN_QUERY;
		if (parse_query(ps))
			return -1;
		return end_of_line(ps);
	}
	return expected(ps, t, WHAT_STATEMENT);
}

int scn_parse_line(const char *line, size_t len, struct scn_stmt *out, struct scn_error *err)
{
	struct ps *ps = malloc(sizeof(*ps));
	int rc;

	if (!ps) {
		err->line = 0;
		err->col = 1;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	memset(out, 0, offsetof(struct scn_stmt, pool));
	out->pool[0] = 0;
	out->pool_len = 1; /* offset 0 is the empty string */
	out->modem = -1;
	ps->i = 0;
	ps->out = out;
	ps->err = err;
	rc = lex(ps, line, len);
	if (rc == 0 && ps->n == 0) {
		free(ps);
		return 0;
	}
	if (rc == 0)
		rc = parse_stmt(ps);
	/* The canonical text must be a line this parser takes, or it cannot be sent back (the
	 * control socket) or round-trip: escapes (a raw tab or UTF-8 byte is printed \xNN) and
	 * durations in ms make it longer than the text read. */
	if (rc == 0 && scn_format(out, NULL, 0) > SCN_LINE_MAX)
		rc = fail_at(ps, 1,
		             "statement longer than %d bytes once written out (\\xNN escapes, "
		             "durations in ms)",
		             SCN_LINE_MAX);
	free(ps);
	return rc == 0 ? 1 : -1;
}

/* ---- files ---- */

void scn_script_init(struct scn_script *s)
{
	memset(s, 0, sizeof(*s));
}

void scn_script_free(struct scn_script *s)
{
	if (!s)
		return;
	free(s->stmts);
	free(s->errs);
	scn_script_init(s);
}

static int add_error(struct scn_script *s, const struct scn_error *e)
{
	if (s->nerr == s->cap_err) {
		size_t cap = s->cap_err ? s->cap_err * 2 : 8;
		struct scn_error *n = realloc(s->errs, cap * sizeof(*n));

		if (!n)
			return -ERR_NOMEM;
		s->errs = n;
		s->cap_err = cap;
	}
	s->errs[s->nerr++] = *e;
	return 0;
}

static struct scn_stmt *next_stmt(struct scn_script *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct scn_stmt *n = realloc(s->stmts, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->stmts = n;
		s->cap = cap;
	}
	return &s->stmts[s->n];
}

int scn_parse_text(const char *text, size_t len, struct scn_script *s)
{
	size_t pos = 0;
	int line = 0;

	while (pos < len && s->nerr < SCN_ERRORS_MAX) {
		size_t end = pos;
		struct scn_stmt *st;
		struct scn_error e;
		int rc;

		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		line++;
		st = next_stmt(s);
		if (!st)
			return -ERR_NOMEM;
		rc = scn_parse_line(text + pos, end - pos, st, &e);
		if (rc == 1 && st->kind == SCN_QUERY) {
			rc = -1;
			e.col = 1;
			snprintf(e.msg, sizeof(e.msg), "a query is for the control socket only");
		}
		if (rc < 0) {
			e.line = line;
			if (add_error(s, &e))
				return -ERR_NOMEM;
		} else if (rc == 1) {
			st->line = line;
			s->n++;
		}
		if (end < len && text[end] == '\r' && end + 1 < len && text[end + 1] == '\n')
			end++;
		pos = end + 1;
	}
	return s->nerr ? -ERR_SYNTAX : 0;
}

/* ---- matching ---- */

/* "AT" + the command with its name in upper case (the part before '=', '?' or a quote). */
static size_t normalise(const char *cmd, size_t len, char *out, size_t out_len)
{
	size_t rest, n = 0, i;
	const char *p = after_at(cmd, len, &rest);
	bool name = true;

	if (out_len < 3)
		return 0;
	out[n++] = 'A';
	out[n++] = 'T';
	while (rest && (p[rest - 1] == ' ' || p[rest - 1] == '\t'))
		rest--;
	for (i = 0; i < rest && n + 1 < out_len; i++) {
		char c = p[i];

		if (c == '=' || c == '?' || c == '"')
			name = false;
		if (name && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[n++] = c;
	}
	out[n] = 0;
	return n;
}

static bool param_equal(const struct at_param *pat, const struct at_param *p)
{
	if (pat->type == AT_P_OMITTED || p->type == AT_P_OMITTED)
		return pat->type == p->type;
	if (pat->type == AT_P_NUM && p->type == AT_P_NUM)
		return pat->num == p->num;
	return pat->len == p->len && memcmp(pat->s, p->s, p->len) == 0;
}

static bool match_pattern(const char *pat, size_t plen, const char *cmd, size_t clen)
{
	const char *pp, *pe, *cp, *ce, *why;
	struct at_cmd_req pr, cr;
	struct at_args pa, ca;
	char w[128];
	size_t rest;

	pp = after_at(pat, plen, &rest);
	pe = pp + rest;
	cp = after_at(cmd, clen, &rest);
	ce = cp + rest;
	if (at_parse_next(&pp, pe, &pr, &why) != 1 || at_parse_next(&cp, ce, &cr, &why) != 1)
		return false;
	if (strcmp(pr.name, cr.name) != 0 || pr.req != cr.req)
		return false;
	if (pr.req != AT_REQ_WRITE)
		return true;
	if (pr.name[0] != '+')
		return pr.args_len == cr.args_len && memcmp(pr.args, cr.args, pr.args_len) == 0;
	if (at_parse_args(pr.args, pr.args_len, &pa, w, sizeof(w)) ||
	    at_parse_args(cr.args, cr.args_len, &ca, w, sizeof(w)))
		return false;
	for (int i = 0; i < pa.n; i++) {
		const struct at_param *p = &pa.p[i];

		if (p->type == AT_P_TOKEN && p->len == 3 && memcmp(p->s, "...", 3) == 0)
			return true;
		if (i >= ca.n)
			return false;
		if (p->type == AT_P_TOKEN && p->len == 1 && p->s[0] == '*')
			continue;
		if (!param_equal(p, &ca.p[i]))
			return false;
	}
	return pa.n == ca.n;
}

bool scn_match_command(const struct scn_stmt *s, const struct scn_match *m, const char *cmd,
                       size_t len)
{
	char a[SCN_LINE_MAX + 3], b[SCN_LINE_MAX + 3];
	size_t na, nb;

	if (m->kind == SCN_MATCH_PATTERN)
		return match_pattern(scn_str(s, m->text), m->text.len, cmd, len);
	na = normalise(scn_str(s, m->text), m->text.len, a, sizeof(a));
	nb = normalise(cmd, len, b, sizeof(b));
	if (m->kind == SCN_MATCH_PREFIX)
		return nb >= na && memcmp(a, b, na) == 0;
	return na == nb && memcmp(a, b, na) == 0;
}

size_t scn_expand(const char *tmpl, size_t tlen, const char *cmd, size_t clen, char *out,
                  size_t out_len)
{
	struct at_args args;
	bool have_args = false;
	size_t n = 0, rest;
	const char *body = after_at(cmd, clen, &rest);

	if (out_len == 0)
		return 0;
	for (size_t i = 0; i < tlen; i++) {
		const char *add = tmpl + i;
		size_t addn = 1, j = i + 1;
		unsigned idx = 0;

		if (tmpl[i] == '{') {
			while (j < tlen && tmpl[j] >= '0' && tmpl[j] <= '9' && idx < 1000)
				idx = idx * 10 + (unsigned)(tmpl[j++] - '0');
			if (j > i + 1 && j < tlen && tmpl[j] == '}') {
				i = j;
				addn = 0;
				if (idx == 0 && body != cmd) {
					add = cmd; /* as typed, "at" included */
					addn = clen;
				} else if (idx == 0) {
					if (n + 2 < out_len) {
						memcpy(out + n, "AT", 2);
						n += 2;
					}
					add = body;
					addn = rest;
				} else {
					if (!have_args) {
						const char *p = body, *why;
						struct at_cmd_req r;
						char w[64];

						/* only an extended command's WRITE form has
						 * parameters */
						args.n = 0;
						if (at_parse_next(&p, body + rest, &r, &why) == 1 &&
						    r.req == AT_REQ_WRITE && r.name[0] == '+' &&
						    at_parse_args(r.args, r.args_len, &args, w,
						                  sizeof(w)) != 0)
							args.n = 0;
						have_args = true;
					}
					if ((int)idx <= args.n) {
						add = args.p[idx - 1].s;
						addn = args.p[idx - 1].len;
					}
				}
			}
		}
		if (addn > out_len - 1 - n)
			addn = out_len - 1 - n;
		memcpy(out + n, add, addn);
		n += addn;
	}
	out[n] = 0;
	return n;
}

/* ---- the canonical text ---- */

struct out {
	char *p;
	size_t len;
	size_t n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(o->n < o->len ? o->p + o->n : NULL, o->n < o->len ? o->len - o->n : 0, fmt,
	              ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k;
}

static void put_str(struct out *o, const char *s, size_t n)
{
	put(o, " \"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c == '\r')
			put(o, "\\r");
		else if (c == '\n')
			put(o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			put(o, "\\x%02x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

static void put_text(struct out *o, const struct scn_stmt *s, struct scn_text t)
{
	put_str(o, scn_str(s, t), t.len);
}

static void put_match(struct out *o, const struct scn_stmt *s, const struct scn_match *m)
{
	if (m->kind == SCN_MATCH_PREFIX)
		put(o, " prefix");
	else if (m->kind == SCN_MATCH_PATTERN)
		put(o, " pattern");
	put_text(o, s, m->text);
}

static void put_limit(struct out *o, const struct scn_limit *l)
{
	switch (l->kind) {
	case SCN_LIMIT_ALWAYS:
		break;
	case SCN_LIMIT_ONCE:
		put(o, " once");
		break;
	case SCN_LIMIT_NTH:
		put(o, " nth %lld", l->n);
		break;
	case SCN_LIMIT_FIRST:
		put(o, " first %lld", l->n);
		break;
	case SCN_LIMIT_EVERY:
		put(o, " every %lld", l->n);
		break;
	case SCN_LIMIT_PROB: {
		/* plain decimals (never %g's exponent form, which the parser refuses) */
		char num[32];
		size_t k = (size_t)snprintf(num, sizeof(num), "%.9f", l->p);

		while (k > 1 && num[k - 1] == '0')
			num[--k] = 0;
		if (k > 1 && num[k - 1] == '.')
			num[--k] = 0;
		put(o, " prob %s", num);
		if (l->has_seed)
			put(o, " seed %llu", (unsigned long long)l->seed);
		break;
	}
	}
}

static void put_do(struct out *o, const struct scn_stmt *s, const struct scn_do *d)
{
	if (d->kind == SCN_DO_URC) {
		put(o, " urc");
		put_text(o, s, d->urc);
		return;
	}
	put(o, " fault %s", d->fault);
	for (int i = 0; i < d->params.n; i++) {
		const struct scn_param *p = &d->params.p[i];

		put(o, " %s", p->name);
		switch (p->type) {
		case SCN_V_NONE:
			break;
		case SCN_V_STR:
			put_str(o, p->text, p->len);
			break;
		case SCN_V_NUM:
			put(o, " %lld", p->num);
			break;
		case SCN_V_DUR:
			put(o, " %llums", (unsigned long long)p->ms);
			break;
		case SCN_V_WORD:
			put(o, " %s", p->text);
			break;
		}
	}
}

static void put_setting(struct out *o, const struct scn_stmt *s)
{
	const struct scn_setting_stmt *st = &s->u.set;
	static const char *const sims[] = {"ready", "pin", "puk", "absent"};

	switch (st->what) {
	case SCN_SET_MODEL:
		put(o, "model %s", scn_str(s, st->text));
		break;
	case SCN_SET_REVISION:
		put(o, "revision");
		put_text(o, s, st->text);
		break;
	case SCN_SET_IMEI:
		put(o, "imei %s", scn_str(s, st->text));
		break;
	case SCN_SET_ICCID:
		put(o, "iccid %s", scn_str(s, st->text));
		break;
	case SCN_SET_IMSI:
		put(o, "imsi %s", scn_str(s, st->text));
		break;
	case SCN_SET_SIM:
		put(o, "sim %s", sims[st->a]);
		break;
	case SCN_SET_REGISTRATION:
		put(o, "registration %d", st->a);
		if (st->has_ms)
			put(o, " after %llums", (unsigned long long)st->ms);
		break;
	case SCN_SET_SIGNAL:
		put(o, "signal %d", st->a);
		if (st->b >= 0)
			put(o, " %d", st->b);
		break;
	case SCN_SET_OPERATOR:
		put(o, "operator");
		put_text(o, s, st->text);
		break;
	case SCN_SET_TIMING:
		put(o, "timing %s", st->a ? "fast" : "realistic");
		break;
	case SCN_SET_LATENCY_COMMAND:
		put(o, "latency command %llums", (unsigned long long)st->ms);
		break;
	case SCN_SET_LATENCY_URC:
		put(o, "latency urc %llums", (unsigned long long)st->ms);
		break;
	case SCN_SET_RESOLVE:
		put(o, "resolve %s %s", scn_str(s, st->text), scn_str(s, st->text2));
		break;
	case SCN_SET_ROUTE:
		put(o, "route %d %s", st->a, scn_str(s, st->text2));
		break;
	case SCN_SET_DEFAULT_BEARER:
		put(o, "default-bearer %s", st->a ? "on" : "off");
		break;
	}
}

static void put_rule(struct out *o, const struct scn_stmt *s)
{
	const struct scn_rule_stmt *r = &s->u.rule;
	const struct scn_action *a = &r->action;

	put(o, "on");
	put_match(o, s, &r->match);
	put_limit(o, &r->limit);
	if (r->window.has_from)
		put(o, " from %llums", (unsigned long long)r->window.from_ms);
	if (r->window.has_until)
		put(o, " until %llums", (unsigned long long)r->window.until_ms);
	if (r->window.when != SCN_STATE_NONE) {
		put(o, " when %s", state_words[r->window.when]);
		if (r->window.client >= 0)
			put(o, " client %d", r->window.client);
	}
	switch (a->kind) {
	case SCN_ACT_REPLY:
		put(o, " reply");
		for (int i = 0; i < a->nlines; i++)
			put_text(o, s, a->lines[i]);
		if (a->has_final) {
			put(o, " final");
			put_text(o, s, a->final);
		}
		break;
	case SCN_ACT_ERROR:
		put(o, " error");
		if (a->code)
			put(o, " %d", a->code);
		break;
	case SCN_ACT_SILENT:
		put(o, " silent");
		break;
	case SCN_ACT_DELAY:
		put(o, " delay %llums", (unsigned long long)a->ms);
		break;
	case SCN_ACT_URC:
		put(o, " urc %llums", (unsigned long long)a->ms);
		put_text(o, s, a->urc);
		break;
	case SCN_ACT_PASS:
		put(o, " pass");
		break;
	}
}

static void put_after(struct out *o, const struct scn_stmt *s)
{
	const struct scn_timed_stmt *e = &s->u.ev;

	put(o, "after %s", event_words[e->event.kind]);
	switch (e->event.kind) {
	case SCN_EVENT_COMMAND:
		put_match(o, s, &e->event.match);
		break;
	case SCN_EVENT_MQTT_CONNECTED:
	case SCN_EVENT_MQTT_OPEN:
	case SCN_EVENT_MQTT_CLOSED:
		if (e->event.client >= 0)
			put(o, " client %d", e->event.client);
		break;
	case SCN_EVENT_PUBLISH:
		if (e->event.n)
			put(o, " %lld", e->event.n);
		break;
	case SCN_EVENT_UPLOAD:
		if (e->event.has_name)
			put_text(o, s, e->event.name);
		break;
	case SCN_EVENT_TLS_HANDSHAKE:
	case SCN_EVENT_BOOT:
		break;
	}
	put_limit(o, &e->limit);
	if (e->delay_ms)
		put(o, " delay %llums", (unsigned long long)e->delay_ms);
	put_do(o, s, &e->act);
}

size_t scn_format(const struct scn_stmt *s, char *out, size_t len)
{
	static const char *const queries[] = {"modem", "files", "mqtt", "counters", "faults"};
	struct out o = {out, len, 0};

	if (len)
		out[0] = 0;
	if (s->modem >= 0)
		put(&o, "modem %d ", s->modem);
	switch (s->kind) {
	case SCN_SETTING:
		put_setting(&o, s);
		break;
	case SCN_RULE:
		put_rule(&o, s);
		break;
	case SCN_AT:
		put(&o, "at %llums", (unsigned long long)s->u.ev.at_ms);
		put_do(&o, s, &s->u.ev.act);
		break;
	case SCN_AFTER:
		put_after(&o, s);
		break;
	case SCN_QUERY:
		put(&o, "query %s", queries[s->u.query.what]);
		if (s->u.query.index >= 0)
			put(&o, " %d", s->u.query.index);
		break;
	}
	return o.n;
}
