/* The line engine fed one byte at a time and in random splits gives the same events. */
#include <stdlib.h>

#include "at/line.h"
#include "check.h"
#include "core/buf.h"

/* In a script, the host waits here for the modem's answer before it writes the rest: the
 * bytes after it arrive after whatever mode the bytes before it started. */
#define WAIT "\xff"

/* Record every event as text: L<line>| R<line>| D<data>| E<end>| and echo as e<bytes>|. The
 * script runs the data modes a handler would start: a line "AT+P=n" starts PROMPT with n bytes
 * (0: Ctrl+Z), "AT+R=n" RAW with n bytes, 1000 ms idle, 1000 ms guard. The script is written
 * by the host in writes separated by WAIT; each write arrives whole, and is fed in pieces of
 * splits[] bytes (all at once without splits). */
static void run(const uint8_t *script, size_t len, const size_t *splits, struct buf *out)
{
	struct at_line l = {0};
	struct at_event ev;
	uint64_t now = 0;
	size_t si = 0, w = 0;

	at_line_free(&l); /* and start afresh */
	buf_reset(out);
	while (w < len) {
		const uint8_t *in = script + w;
		size_t n = 0, off = 0;

		while (w + n < len && script[w + n] != 0xff)
			n++;
		w += n + 1;
		while (off < n) {
			size_t chunk = splits ? splits[si++] : n - off;
			const uint8_t *p = in + off;
			size_t left;

			if (chunk > n - off)
				chunk = n - off;
			left = chunk;
			off += chunk;
			for (;;) {
				size_t used = at_line_feed(&l, p, left, now, &ev);
				size_t unfed;

				p += used;
				left -= used;
				unfed = (size_t)(in + n - p); /* of this write */
				if (ev.type == AT_EV_DATA && ev.echo_len && ev.echo == ev.data &&
				    ev.echo_len == ev.len) {
					/* prompt payload: echoed as it is taken */
					buf_putc(out, 'P');
					buf_append(out, ev.data, ev.len);
					buf_putc(out, '|');
					continue;
				}
				if (ev.echo_len) {
					buf_putc(out, 'e');
					buf_append(out, ev.echo, ev.echo_len);
					buf_putc(out, '|');
				}
				if (ev.type == AT_EV_NONE)
					break;
				switch (ev.type) {
				case AT_EV_LINE:
				case AT_EV_REPEAT:
					buf_putc(out, ev.type == AT_EV_LINE ? 'L' : 'R');
					if (ev.overflow)
						buf_putc(out, '!');
					buf_append(out, ev.data, ev.len);
					buf_putc(out, '|');
					if (ev.len > 5 && memcmp(ev.data, "AT+P=", 5) == 0)
						at_line_prompt(
						        &l, (size_t)atoi((const char *)ev.data + 5),
						        unfed, now);
					if (ev.len > 5 && memcmp(ev.data, "AT+R=", 5) == 0)
						at_line_raw(&l,
						            (size_t)atoi((const char *)ev.data + 5),
						            1000, 1000, unfed, now);
					break;
				case AT_EV_DATA:
					buf_putc(out, 'D');
					buf_append(out, ev.data, ev.len);
					buf_putc(out, '|');
					break;
				case AT_EV_DATA_END:
					buf_printf(out, "E%d|", (int)ev.end);
					break;
				case AT_EV_NONE:
					break;
				}
			}
		}
	}
	at_line_free(&l);
}

/* Merge adjacent D and e records so that different splits compare equal. */
static void normalise(struct buf *b)
{
	struct buf o;
	char last = 0;
	size_t i = 0;

	buf_init(&o, 0);
	while (i < b->len) {
		char kind = (char)b->data[i];
		size_t j = i + 1;

		while (j < b->len && b->data[j] != '|')
			j++;
		if ((kind == 'D' || kind == 'e' || kind == 'P') && kind == last) {
			o.len--; /* drop the previous '|' and extend it */
			buf_append(&o, b->data + i + 1, j - i - 1);
		} else {
			buf_append(&o, b->data + i, j - i);
		}
		buf_putc(&o, '|');
		last = kind;
		i = j + 1;
	}
	buf_free(b);
	*b = o;
}

static void check_splits(const char *name, const uint8_t *in, size_t n, const char *expect)
{
	struct buf whole, part;
	size_t *splits = malloc((n + 1) * sizeof(size_t));

	buf_init(&whole, 0);
	buf_init(&part, 0);
	run(in, n, NULL, &whole);
	normalise(&whole);
	if (expect) {
		bool ok = whole.len == strlen(expect) && memcmp(whole.data, expect, whole.len) == 0;

		CHECK(ok);
		if (!ok)
			fprintf(stderr, "%s: got   %.*s\n%s: want  %s\n", name, (int)whole.len,
			        (char *)whole.data, name, expect);
	}
	/* one byte at a time */
	for (size_t i = 0; i < n; i++)
		splits[i] = 1;
	run(in, n, splits, &part);
	normalise(&part);
	CHECK_MEM(part.data, part.len, whole.data, whole.len);
	if (part.len != whole.len || memcmp(part.data, whole.data, whole.len))
		fprintf(stderr, "%s bytewise: got %.*s\n", name, (int)part.len, (char *)part.data);
	/* random splits */
	srand(42);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < n; i++)
			splits[i] = 1 + (size_t)rand() % 7;
		run(in, n, splits, &part);
		normalise(&part);
		if (part.len != whole.len || memcmp(part.data, whole.data, whole.len)) {
			CHECK_MEM(part.data, part.len, whole.data, whole.len);
			fprintf(stderr, "%s split: got %.*s\n", name, (int)part.len,
			        (char *)part.data);
			break;
		}
	}
	free(splits);
	buf_free(&whole);
	buf_free(&part);
}

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

static void test_raw_escape_and_idle(void)
{
	struct at_line l = {0};
	struct at_event ev;

	/* "+++" framed by guard times ends RAW mode; its bytes are not data */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 100, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("ab"), 10, &ev) == 2 && ev.type == AT_EV_DATA && ev.len == 2);
	CHECK(at_line_feed(&l, S("+"), 1100, &ev) == 1 && ev.type == AT_EV_NONE);
	CHECK(at_line_feed(&l, S("+"), 1200, &ev) == 1 && ev.type == AT_EV_NONE);
	CHECK(at_line_feed(&l, S("+"), 1300, &ev) == 1 && ev.type == AT_EV_NONE);
	CHECK(at_line_deadline(&l) == 2300);
	at_line_tick(&l, 2300, &ev);
	CHECK(ev.type == AT_EV_DATA_END && ev.end == AT_END_ESCAPE);
	CHECK(l.mode == AT_LINE_COMMAND);

	/* "+++" without the guard before it is data */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 100, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("x"), 10, &ev) == 1 && ev.type == AT_EV_DATA);
	CHECK(at_line_feed(&l, S("+++"), 20, &ev) >= 1 && ev.type == AT_EV_DATA);

	/* "+++" then more data within the guard: the '+' are given back as data */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 100, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("+++"), 1500, &ev) == 1);
	CHECK(at_line_feed(&l, S("++"), 1600, &ev) == 1);
	CHECK(at_line_feed(&l, S("+"), 1700, &ev) == 1);
	CHECK(at_line_feed(&l, S("z"), 1800, &ev) == 0 && ev.type == AT_EV_DATA && ev.len == 3 &&
	      memcmp(ev.data, "+++", 3) == 0);
	CHECK(at_line_feed(&l, S("z"), 1800, &ev) == 1 && ev.type == AT_EV_DATA && ev.len == 1);
	CHECK(l.got == 4);

	/* idle timeout keeps what arrived */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 100, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("abc"), 100, &ev) == 3);
	CHECK(at_line_deadline(&l) == 5100);
	at_line_tick(&l, 5099, &ev);
	CHECK(ev.type == AT_EV_NONE);
	at_line_tick(&l, 5100, &ev);
	CHECK(ev.type == AT_EV_DATA_END && ev.end == AT_END_TIMEOUT);

	/* the declared size ends RAW mode; surplus is a command line */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 3, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("abcAT\r"), 10, &ev) == 3 && ev.type == AT_EV_DATA);
	CHECK(at_line_feed(&l, S("AT\r"), 10, &ev) == 0 && ev.type == AT_EV_DATA_END &&
	      ev.end == AT_END_COUNT);
	CHECK(at_line_feed(&l, S("AT\r"), 10, &ev) == 3 && ev.type == AT_EV_LINE);

	/* a LF long after the CR is data, not the terminator's */
	at_line_free(&l); /* and start afresh */
	CHECK(at_line_feed(&l, S("AT+X\r"), 0, &ev) == 5 && ev.type == AT_EV_LINE);
	at_line_raw(&l, 2, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("\n\n"), 500, &ev) == 2 && ev.type == AT_EV_DATA && ev.len == 2);
	at_line_free(&l);
}

/* Issue 10 item 3: a data phase is byte-exact from its first byte. Only the LF that directly
 * follows the command's CR and had arrived before the prompt (or CONNECT) went out is the
 * host's CR LF terminator; a LF the host sends after it is data, however soon. */
static void test_lf_after_the_prompt(void)
{
	struct at_line l = {0};
	struct at_event ev;

	/* a command that answers later: the LF came while it ran, before the prompt */
	at_line_free(&l); /* and start afresh */
	CHECK(at_line_feed(&l, S("AT+X\r"), 0, &ev) == 5 && ev.type == AT_EV_LINE);
	at_line_prompt(&l, 2, 3, 300);
	CHECK(at_line_feed(&l, S("\nab"), 300, &ev) == 3 && ev.type == AT_EV_DATA && ev.len == 2 &&
	      memcmp(ev.data, "ab", 2) == 0 && ev.echo == ev.data && ev.echo_len == 2);

	/* the same LF sent after the prompt, within a millisecond of the CR */
	at_line_free(&l); /* and start afresh */
	CHECK(at_line_feed(&l, S("AT+X\r"), 0, &ev) == 5 && ev.type == AT_EV_LINE);
	at_line_prompt(&l, 2, 0, 0);
	CHECK(at_line_feed(&l, S("\nab"), 1, &ev) == 2 && ev.type == AT_EV_DATA && ev.len == 2 &&
	      memcmp(ev.data, "\na", 2) == 0 && ev.echo == ev.data && ev.echo_len == 2);
	CHECK(at_line_feed(&l, S("b"), 1, &ev) == 0 && ev.type == AT_EV_DATA_END &&
	      ev.end == AT_END_COUNT);

	/* RAW after CONNECT: likewise */
	at_line_free(&l); /* and start afresh */
	CHECK(at_line_feed(&l, S("AT+X\r"), 0, &ev) == 5 && ev.type == AT_EV_LINE);
	at_line_raw(&l, 3, 5000, 1000, 0, 0);
	CHECK(at_line_feed(&l, S("\nab"), 0, &ev) == 3 && ev.type == AT_EV_DATA && ev.len == 3 &&
	      memcmp(ev.data, "\nab", 3) == 0);

	/* arrived before the prompt but not right after the CR: only the first byte may be it */
	at_line_free(&l); /* and start afresh */
	CHECK(at_line_feed(&l, S("AT+X\r"), 0, &ev) == 5 && ev.type == AT_EV_LINE);
	at_line_prompt(&l, 3, 3, 0);
	CHECK(at_line_feed(&l, S("a\nb"), 0, &ev) == 3 && ev.type == AT_EV_DATA && ev.len == 3 &&
	      memcmp(ev.data, "a\nb", 3) == 0);

	/* a data mode that no command line started (no CR before it) swallows nothing */
	at_line_free(&l); /* and start afresh */
	at_line_raw(&l, 0, 0, 1000, 2, 0);
	CHECK(at_line_feed(&l, S("\nz"), 0, &ev) == 2 && ev.type == AT_EV_DATA && ev.len == 2);
	at_line_free(&l);
}

int main(void)
{
	check_splits("plain", S("AT\rATI\r\n"), "eAT\r|LAT|eATI\r|LATI|");
	check_splits("crlf swallowed", S("AT\r\nAT\r\n"), "eAT\r|LAT|eAT\r|LAT|");
	check_splits("lone lf and bs", S("A\nX\bT\r"), "eA\nX\bT\r|LAT|");
	check_splits("repeat", S("AT+CSQ\rA/"), "eAT+CSQ\r|LAT+CSQ|eA/|RAT+CSQ|");
	check_splits("prompt ctrl-z", S("AT+P=0\r\nhello\x1a\rAT\r"),
	             "eAT+P=0\r|LAT+P=0|Phello|E1|e\r|L|eAT\r|LAT|");
	check_splits("prompt esc", S("AT+P=0\rab\x1b"), "eAT+P=0\r|LAT+P=0|Pab|E2|");
	check_splits("prompt fixed takes exactly n", S("AT+P=4\r\nab\x1a\x1b\rAT\r"),
	             "eAT+P=4\r|LAT+P=4|Pab\x1a\x1b|E0|e\r|L|eAT\r|LAT|");
	/* WAIT: the host writes the payload once it saw "> " or CONNECT */
	check_splits("prompt fixed, lf after the prompt", S("AT+P=4\r" WAIT "\nabcAT\r"),
	             "eAT+P=4\r|LAT+P=4|P\nabc|E0|eAT\r|LAT|");
	check_splits("prompt ctrl-z, lf after the prompt", S("AT+P=0\r" WAIT "\nhi\x1a"),
	             "eAT+P=0\r|LAT+P=0|P\nhi|E1|");
	check_splits("prompt fixed, crlf then lf after the prompt",
	             S("AT+P=3\r\n" WAIT "\n\r\nAT\r"), "eAT+P=3\r|LAT+P=3|P\n\r\n|E0|eAT\r|LAT|");
	check_splits("raw fixed, lf after connect", S("AT+R=3\r" WAIT "\nab"),
	             "eAT+R=3\r|LAT+R=3|D\nab|E0|");
	check_splits("raw fixed, crlf in one write", S("AT+R=3\r\nabc"),
	             "eAT+R=3\r|LAT+R=3|Dabc|E0|");
	check_splits("command lf in a later write is the terminator's", S("AT\r" WAIT "\nAT\r"),
	             "eAT\r|LAT|eAT\r|LAT|");
	check_splits("raw fixed", S("AT+R=5\r\n12345AT\r"),
	             "eAT+R=5\r|LAT+R=5|D12345|E0|eAT\r|LAT|");
	{
		static uint8_t big[AT_LINE_MAX + 20];

		memset(big, 'A', sizeof(big));
		big[sizeof(big) - 1] = '\r';
		check_splits("overflow", big, sizeof(big), NULL);
	}
	{
		struct at_line l = {0};
		struct at_event ev;
		static uint8_t big[AT_LINE_MAX + 2];

		memset(big, '1', sizeof(big));
		big[sizeof(big) - 1] = '\r';
		at_line_free(&l); /* and start afresh */
		CHECK(at_line_feed(&l, big, sizeof(big), 0, &ev) == sizeof(big));
		CHECK(ev.type == AT_EV_LINE && ev.overflow);
		CHECK(at_line_feed(&l, S("AT\r"), 0, &ev) == 3 && ev.type == AT_EV_LINE &&
		      !ev.overflow && ev.len == 2);
		at_line_free(&l);
	}
	test_raw_escape_and_idle();
	test_lf_after_the_prompt();
	return check_exit();
}
