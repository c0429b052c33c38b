/* libFuzzer target for the AT line engine (sim/at/line.c) in every mode, driven the way
 * modem.c's pump() drives it: host writes arrive, the engine is fed what arrived, command
 * lines start data modes as handlers would, and time passes between writes with the engine's
 * deadlines ticked in order.
 *
 * Input: the host's bytes, except 0xFF. "FF FF" is one 0xFF byte; "FF k" ends a write: the next
 * one arrives (k & 0x7f) * 16 ms later, and is fed one byte at a time when k & 0x80 (as split
 * reads would; it has still arrived whole). Lines the harness acts on:
 *   AT+P=<n>                   PROMPT: n bytes (n > 0), or to Ctrl+Z / ESC (n = 0)
 *   AT+R=<len>,<idle>,<guard>  RAW: len bytes (0: unlimited), idle and guard in ms (0: off)
 *   AT+PD=..., AT+RD=...       the same, started once the next write has arrived (a handler
 *                              that answers later: those bytes came before the prompt)
 * Any other line is answered at once and starts nothing.
 *
 * Properties: no crash or sanitizer report; each feed makes progress (bytes taken or an
 * event); a deadline, once reached, gives an event; echo lies within the bytes just taken;
 * a command line holds no CR, LF or BS. And no byte is lost or invented in a data phase: what
 * the engine reports as data equals the bytes it took in that phase minus the documented
 * framing, which is
 *   - the first byte, if it is the LF of the command's CR LF and had arrived before the phase
 *     started (directly after the command line; never after A/),
 *   - the Ctrl+Z or ESC that ends a PROMPT without a length,
 *   - the "+++" of an escape (guard time of silence before and after it),
 * with exactly the declared length when one was given, and held '+' given back before any
 * other byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at/line.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK 0xff
#define NUM_MAX (1u << 20) /* lengths and milliseconds from the lines are capped here */
#define STEP_MS 16
#define CTRL_Z 0x1a
#define ESC 0x1b

enum phase { PH_NONE, PH_FIXED, PH_CTRL_Z, PH_RAW };

struct host {
	struct at_line l;
	uint64_t now;
	struct buf in; /* arrived, from `fed` on not fed yet */
	size_t fed;
	bool one_by_one;
	bool deferred; /* a line waits for the next write before its mode starts */
	uint8_t line[64];
	size_t line_len;
	bool after_line; /* the last byte fed was the CR of a command line */
	/* the data phase */
	enum phase ph;
	size_t want;
	uint64_t idle_ms, guard_ms;
	bool lf_may_go; /* its first byte may be the CR LF's LF */
	uint64_t last_byte_at;
	struct buf took; /* every byte the engine took in the phase */
	size_t data_len; /* what it reported as data (checked against `took` as it comes) */
};

static void need(bool cond)
{
	if (!cond)
		abort();
}

static bool prefix(const uint8_t *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && memcmp(s, p, k) == 0;
}

static uint64_t number(const uint8_t *s, size_t n, size_t *i)
{
	uint64_t v = 0;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (v < NUM_MAX)
			v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	if (*i < n && s[*i] == ',')
		(*i)++;
	return v < NUM_MAX ? v : NUM_MAX;
}

/* The framing byte at the start: the LF of the command's CR LF, when it may go. */
static size_t lead(const struct host *h)
{
	return h->lf_may_go && h->took.len && h->took.data[0] == '\n' ? 1 : 0;
}

static void start_mode(struct host *h, const uint8_t *s, size_t n)
{
	size_t unfed = h->in.len - h->fed, i;

	if (prefix(s, n, "AT+P=") || prefix(s, n, "AT+PD=")) {
		i = s[4] == '=' ? 5 : 6;
		h->want = number(s, n, &i);
		h->ph = h->want ? PH_FIXED : PH_CTRL_Z;
		at_line_prompt(&h->l, h->want, unfed, h->now);
	} else if (prefix(s, n, "AT+R=") || prefix(s, n, "AT+RD=")) {
		i = s[4] == '=' ? 5 : 6;
		h->want = number(s, n, &i);
		h->idle_ms = number(s, n, &i);
		h->guard_ms = number(s, n, &i);
		h->ph = PH_RAW;
		at_line_raw(&h->l, h->want, h->idle_ms, h->guard_ms, unfed, h->now);
	} else {
		return;
	}
	h->lf_may_go = h->after_line && unfed > 0;
	h->last_byte_at = h->now;
	buf_reset(&h->took);
	h->data_len = 0;
}

static void on_line(struct host *h, const struct at_event *ev)
{
	if (ev->overflow)
		return;
	if (prefix(ev->data, ev->len, "AT+PD=") || prefix(ev->data, ev->len, "AT+RD=")) {
		if (ev->len > sizeof(h->line))
			return;
		memcpy(h->line, ev->data, ev->len);
		h->line_len = ev->len;
		h->deferred = true;
		return;
	}
	start_mode(h, ev->data, ev->len);
}

/* The data reported is all that was taken but the framing: lead_n bytes before it, tail_n
 * after (its bytes were compared with what was taken as they came). */
static void check_data(const struct host *h, size_t lead_n, size_t tail_n)
{
	need(h->took.len >= lead_n + tail_n);
	need(h->data_len == h->took.len - lead_n - tail_n);
}

static void data_end(struct host *h, enum at_data_end why)
{
	size_t f = lead(h);

	need(h->ph != PH_NONE && h->l.mode == AT_LINE_COMMAND);
	switch (why) {
	case AT_END_COUNT:
		need(h->want > 0 && (h->ph == PH_FIXED || h->ph == PH_RAW));
		need(h->data_len == h->want);
		check_data(h, f, 0);
		break;
	case AT_END_ABANDON:
		need(0); /* the engine never reports it: only the dispatcher abandons */
		break;
	case AT_END_SUBMIT:
	case AT_END_CANCEL:
		need(h->ph == PH_CTRL_Z && h->took.len > f);
		need(h->took.data[h->took.len - 1] == (why == AT_END_SUBMIT ? CTRL_Z : ESC));
		check_data(h, f, 1);
		break;
	case AT_END_ESCAPE:
		need(h->ph == PH_RAW && h->guard_ms && h->took.len >= f + 3);
		need(memcmp(h->took.data + h->took.len - 3, "+++", 3) == 0);
		need(h->now >= h->last_byte_at + h->guard_ms);
		check_data(h, f, 3);
		break;
	case AT_END_TIMEOUT:
		need(h->ph == PH_RAW && h->idle_ms);
		need(h->now >= h->last_byte_at + h->idle_ms);
		check_data(h, f, 0);
		break;
	}
	h->ph = PH_NONE;
}

static void handle(struct host *h, const struct at_event *ev)
{
	switch (ev->type) {
	case AT_EV_NONE:
		break;
	case AT_EV_LINE:
		need(ev->len <= AT_LINE_MAX);
		for (size_t i = 0; i < ev->len; i++)
			need(ev->data[i] != '\r' && ev->data[i] != '\n' && ev->data[i] != 0x08);
		h->after_line = true;
		on_line(h, ev);
		break;
	case AT_EV_REPEAT:
		h->after_line = false;
		on_line(h, ev);
		break;
	case AT_EV_DATA: {
		size_t at = lead(h) + h->data_len;

		need(h->ph != PH_NONE);
		/* the next bytes taken, in order ... */
		need(at + ev->len <= h->took.len);
		need(ev->len == 0 || memcmp(ev->data, h->took.data + at, ev->len) == 0);
		h->data_len += ev->len;
		/* ... and everything taken so far: nothing is held back here */
		check_data(h, lead(h), 0);
		break;
	}
	case AT_EV_DATA_END:
		data_end(h, ev->end);
		break;
	}
}

/* Bytes the engine took in one call, in the mode it was in. */
static void took(struct host *h, enum at_line_mode mode, const uint8_t *p, size_t used)
{
	if (!used)
		return;
	h->after_line = false;
	if (mode == AT_LINE_COMMAND)
		return;
	need(h->ph != PH_NONE);
	if (buf_append(&h->took, p, used))
		abort();
	h->last_byte_at = h->now;
}

static void pump(struct host *h)
{
	int stalls = 0;

	while (!h->deferred) {
		enum at_line_mode mode = h->l.mode;
		size_t n = h->in.len - h->fed, used;
		const uint8_t *p = h->in.data ? h->in.data + h->fed : (const uint8_t *)"";
		struct at_event ev;

		need((mode == AT_LINE_COMMAND) == (h->ph == PH_NONE));
		if (h->one_by_one && n > 1)
			n = 1;
		used = at_line_feed(&h->l, p, n, h->now, &ev);
		need(used <= n);
		need(ev.echo_len == 0 || (ev.echo >= p && ev.echo + ev.echo_len <= p + used));
		if (ev.type == AT_EV_DATA && mode == AT_LINE_PROMPT)
			need(ev.echo == ev.data && ev.echo_len == ev.len);
		took(h, mode, p, used);
		h->fed += used;
		if (ev.type == AT_EV_NONE) {
			need(used > 0 || n == 0); /* else the input would stall */
			if (used && h->fed < h->in.len)
				continue;
			break;
		}
		stalls = used ? 0 : stalls + 1;
		need(stalls < 3);
		handle(h, &ev);
	}
}

/* Let time pass to `to`, ticking every deadline on the way. */
static void advance(struct host *h, uint64_t to)
{
	for (int rounds = 0;; rounds++) {
		uint64_t d = at_line_deadline(&h->l);
		struct at_event ev;

		need(rounds < 10000);
		if (d == AT_NO_DEADLINE || d > to)
			break;
		if (d > h->now)
			h->now = d;
		at_line_tick(&h->l, h->now, &ev);
		if (ev.type == AT_EV_NONE) {
			need(at_line_deadline(&h->l) > h->now); /* else the timer would spin */
			continue;
		}
		handle(h, &ev);
		pump(h);
	}
	if (to > h->now)
		h->now = to;
}

/* The next write: its bytes appended to h->in; returns the marker's k, or -1 at the end. */
static int next_write(struct host *h, const uint8_t *data, size_t size, size_t *pos)
{
	while (*pos < size) {
		uint8_t c = data[(*pos)++];

		if (c == MARK) {
			if (*pos == size)
				return -1;
			c = data[(*pos)++];
			if (c != MARK)
				return c;
		}
		if (buf_putc(&h->in, c))
			abort();
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct host h;
	size_t pos = 0;
	int k;

	memset(&h, 0, sizeof(h));
	at_line_init(&h.l);
	buf_init(&h.in, 0);
	buf_init(&h.took, 0);
	do {
		buf_consume(&h.in, h.fed);
		h.fed = 0;
		k = next_write(&h, data, size, &pos);
		if (h.deferred) {
			h.deferred = false;
			start_mode(&h, h.line, h.line_len);
		}
		pump(&h);
		if (k >= 0) {
			advance(&h, h.now + (uint64_t)(k & 0x7f) * STEP_MS);
			h.one_by_one = k & 0x80;
		}
	} while (k >= 0);
	if (h.deferred) {
		h.deferred = false;
		start_mode(&h, h.line, h.line_len);
		pump(&h);
	}
	advance(&h, h.now + 4 * (uint64_t)NUM_MAX);
	if (h.ph != PH_NONE) {
		/* a phase still open: all taken is reported, but for '+' held as a possible
		 * escape */
		size_t held = (size_t)h.l.plus;

		need(h.ph == PH_RAW || held == 0);
		check_data(&h, lead(&h), held);
		for (size_t i = 0; i < held; i++)
			need(h.took.data[h.took.len - 1 - i] == '+');
	}
	at_line_free(&h.l);
	buf_free(&h.in);
	buf_free(&h.took);
	return 0;
}
