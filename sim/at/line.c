#include "at/line.h"

#include <stdlib.h>
#include <string.h>

#define CR 0x0d
#define LF 0x0a
#define BS 0x08
#define DEL 0x7f
#define CTRL_Z 0x1a
#define ESC 0x1b

static const uint8_t pluses[3] = {'+', '+', '+'};

void at_line_init(struct at_line *l)
{
	memset(l, 0, sizeof(*l));
	l->mode = AT_LINE_COMMAND;
}

void at_line_reset(struct at_line *l)
{
	uint8_t *buf = l->buf, *last = l->last;
	size_t cap = l->cap, last_cap = l->last_cap;

	at_line_init(l);
	l->buf = buf;
	l->cap = cap;
	l->last = last;
	l->last_cap = last_cap;
}

void at_line_free(struct at_line *l)
{
	free(l->buf);
	free(l->last);
	at_line_init(l);
}

static const uint8_t empty[1]; /* the data of an empty line that never needed a block */

/* Room for one more byte of the line: false at AT_LINE_MAX or without memory. */
static bool line_room(struct at_line *l)
{
	size_t cap;
	uint8_t *p;

	if (l->len < l->cap)
		return true;
	if (l->cap >= AT_LINE_MAX)
		return false;
	cap = l->cap ? l->cap * 2 : 64;
	if (cap > AT_LINE_MAX)
		cap = AT_LINE_MAX;
	p = realloc(l->buf, cap);
	if (!p)
		return false;
	l->buf = p;
	l->cap = cap;
	return true;
}

/* A data phase is byte-exact from its first byte. The LF of the command's CR LF is still
 * swallowed if it had arrived before the phase started (the prompt or CONNECT went out): it is
 * then the first of the unfed bytes, however long the command took. A LF the host sends after
 * the prompt is payload, however soon after the CR (issue 10 item 3: "\nabc" as a 4-byte
 * payload lost its LF and took the host's next byte instead). */
static void data_reset(struct at_line *l, size_t unfed, uint64_t now)
{
	l->lf_until = unfed && l->lf_until ? AT_NO_DEADLINE : 0;
	l->got = 0;
	l->plus = 0;
	l->plus_at = 0;
	l->last_rx = now;
}

void at_line_prompt(struct at_line *l, size_t fixed_len, size_t unfed, uint64_t now)
{
	l->mode = AT_LINE_PROMPT;
	l->want = fixed_len;
	l->idle_ms = 0;
	l->guard_ms = 0;
	data_reset(l, unfed, now);
}

void at_line_raw(struct at_line *l, size_t len, uint64_t idle_ms, uint64_t guard_ms, size_t unfed,
                 uint64_t now)
{
	l->mode = AT_LINE_RAW;
	l->want = len;
	l->idle_ms = idle_ms;
	l->guard_ms = guard_ms;
	data_reset(l, unfed, now);
}

void at_line_command(struct at_line *l)
{
	l->mode = AT_LINE_COMMAND;
	l->plus = 0;
}

bool at_line_partial(const struct at_line *l)
{
	return l->mode == AT_LINE_COMMAND && (l->len > 0 || l->overflow);
}

static void ev_clear(struct at_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = AT_EV_NONE;
}

static void end_data(struct at_line *l, struct at_event *ev, enum at_data_end why)
{
	ev->type = AT_EV_DATA_END;
	ev->end = why;
	l->mode = AT_LINE_COMMAND;
	l->plus = 0;
}

/* Swallow the LF of a CR LF terminator: true if in[0] is that LF. */
static bool swallow_lf(struct at_line *l, uint8_t c, uint64_t now)
{
	bool due = l->lf_until && now <= l->lf_until;

	l->lf_until = 0;
	return due && c == LF;
}

static size_t feed_command(struct at_line *l, const uint8_t *in, size_t n, uint64_t now,
                           struct at_event *ev)
{
	size_t i = 0;

	ev->echo = in;
	for (; i < n; i++) {
		uint8_t c = in[i];

		if (c == CR) {
			ev->type = AT_EV_LINE;
			ev->data = l->buf ? l->buf : empty;
			ev->len = l->len;
			ev->overflow = l->overflow;
			ev->echo_len = i + 1;
			if (!l->overflow) { /* this line becomes the previous one: swap the blocks
				             */
				uint8_t *p = l->last;
				size_t cap = l->last_cap;

				l->last = l->buf;
				l->last_cap = l->cap;
				l->last_len = l->len;
				l->buf = p;
				l->cap = cap;
			}
			l->len = 0;
			l->overflow = false;
			l->lf_until = now + AT_LF_WINDOW_MS;
			return i + 1;
		}
		if (c == LF)
			continue; /* a lone LF is not part of a command line */
		/* DEL edits as BS does: picocom and most terminals send it for Backspace. What the
		 * module does with DEL is not documented (V.250's S5, the editing character, is
		 * BS); kept in the line it would end up inside a parameter ("internt\x7f\x7fet").
		 */
		if (c == BS || c == DEL) {
			if (l->len)
				l->len--;
			continue;
		}
		if (!line_room(l)) {
			l->overflow = true;
			continue;
		}
		l->buf[l->len++] = c;
		if (l->len == 2 && (l->buf[0] == 'A' || l->buf[0] == 'a') && l->buf[1] == '/' &&
		    !l->overflow) {
			ev->type = AT_EV_REPEAT;
			ev->data = l->last ? l->last : empty;
			ev->len = l->last_len;
			ev->echo_len = i + 1;
			l->len = 0;
			return i + 1;
		}
	}
	ev->echo_len = n;
	return n;
}

static size_t feed_prompt(struct at_line *l, const uint8_t *in, size_t n, struct at_event *ev)
{
	size_t i = 0;

	if (l->want) {
		size_t take = l->want - l->got;

		if (take > n)
			take = n;
		l->got += take;
		ev->type = AT_EV_DATA;
		ev->data = in;
		ev->len = take;
		ev->echo = in;
		ev->echo_len = take;
		if (l->got == l->want && take == 0)
			end_data(l, ev, AT_END_COUNT);
		return take;
	}
	for (; i < n; i++)
		if (in[i] == CTRL_Z || in[i] == ESC)
			break;
	if (i > 0 || i == n) {
		ev->type = AT_EV_DATA;
		ev->data = in;
		ev->len = i;
		ev->echo = in;
		ev->echo_len = i;
		l->got += i;
		return i;
	}
	end_data(l, ev, in[0] == CTRL_Z ? AT_END_SUBMIT : AT_END_CANCEL);
	return 1;
}

/* Give back held '+' as data (they were not an escape after all). */
static void flush_plus(struct at_line *l, struct at_event *ev)
{
	ev->type = AT_EV_DATA;
	ev->data = pluses;
	ev->len = (size_t)l->plus;
	l->got += (size_t)l->plus;
	l->plus = 0;
}

static size_t feed_raw(struct at_line *l, const uint8_t *in, size_t n, uint64_t now,
                       struct at_event *ev)
{
	size_t i = 0, room;

	if (l->want && l->got == l->want) {
		end_data(l, ev, AT_END_COUNT);
		return 0;
	}
	room = l->want ? l->want - l->got : SIZE_MAX;
	if (l->guard_ms) {
		/* A '+' after a guard time of silence may start an escape. */
		if (in[0] == '+' && (size_t)l->plus + 1 < room &&
		    (l->plus ? now - l->plus_at < l->guard_ms : now - l->last_rx >= l->guard_ms)) {
			if (l->plus < 3) {
				l->plus++;
				l->plus_at = now;
				l->last_rx = now;
				return 1;
			}
		}
		if (l->plus) {
			flush_plus(l, ev);
			return 0; /* the current byte is fed again */
		}
	}
	for (; i < n && i < room; i++) {
		if (l->guard_ms && in[i] == '+' && i > 0)
			break; /* look at it on its own: it may open an escape */
	}
	if (i == 0)
		i = 1; /* a '+' that does not open an escape is data */
	l->got += i;
	l->last_rx = now;
	ev->type = AT_EV_DATA;
	ev->data = in;
	ev->len = i;
	return i;
}

size_t at_line_feed(struct at_line *l, const uint8_t *in, size_t n, uint64_t now,
                    struct at_event *ev)
{
	size_t used;

	ev_clear(ev);
	if (n == 0) {
		if (l->mode == AT_LINE_PROMPT && l->want && l->got == l->want)
			end_data(l, ev, AT_END_COUNT);
		else if (l->mode == AT_LINE_RAW && l->want && l->got == l->want && !l->plus)
			end_data(l, ev, AT_END_COUNT);
		return 0;
	}
	if (swallow_lf(l, in[0], now)) {
		used = 1 + at_line_feed(l, in + 1, n - 1, now, ev);
		if (ev->echo_len == 0)
			ev->echo = in + 1;
		return used;
	}
	switch (l->mode) {
	case AT_LINE_COMMAND:
		l->last_rx = now;
		return feed_command(l, in, n, now, ev);
	case AT_LINE_PROMPT:
		l->last_rx = now;
		if (l->want && l->got == l->want) {
			end_data(l, ev, AT_END_COUNT);
			return 0;
		}
		return feed_prompt(l, in, n, ev);
	case AT_LINE_RAW:
		return feed_raw(l, in, n, now, ev);
	}
	return n;
}

uint64_t at_line_deadline(const struct at_line *l)
{
	uint64_t d = AT_NO_DEADLINE;

	if (l->mode != AT_LINE_RAW)
		return d;
	if (l->plus)
		d = l->plus_at + l->guard_ms;
	if (l->idle_ms && l->last_rx + l->idle_ms < d)
		d = l->last_rx + l->idle_ms;
	return d;
}

void at_line_tick(struct at_line *l, uint64_t now, struct at_event *ev)
{
	ev_clear(ev);
	if (l->mode != AT_LINE_RAW)
		return;
	if (l->plus && now >= l->plus_at + l->guard_ms) {
		if (l->plus == 3) {
			end_data(l, ev, AT_END_ESCAPE);
			return;
		}
		flush_plus(l, ev);
		return;
	}
	if (l->idle_ms && now >= l->last_rx + l->idle_ms) {
		if (l->plus) {
			flush_plus(l, ev);
			return;
		}
		end_data(l, ev, AT_END_TIMEOUT);
	}
}

const char *at_data_end_name(enum at_data_end why)
{
	switch (why) {
	case AT_END_COUNT:
		return "declared size reached";
	case AT_END_TIMEOUT:
		return "inactivity timeout";
	case AT_END_ESCAPE:
		return "+++";
	case AT_END_SUBMIT:
		return "Ctrl+Z";
	case AT_END_CANCEL:
		return "ESC";
	case AT_END_ABANDON:
		return "abandoned";
	}
	return "?";
}
