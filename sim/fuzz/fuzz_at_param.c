/* libFuzzer target for the AT parameter parser (sim/at/param.c).
 *
 * Input: a command line after its "AT" ("+QMTPUB=0,1,1,0,\"t\";+CSQ", "E0V1"). It is split
 * with at_parse_next(); every WRITE's argument text, and the whole input too, goes through
 * at_parse_args(); the whole input through at_parse_number() and at_smart_quote().
 *
 * Properties: no crash or sanitizer report; at_parse_next() makes progress and ends at the end
 * of the line or with a reason; a command's name is upper-case and its text and arguments lie
 * within the line; every refusal says why. Every parameter is what its type says (a NUM is
 * at_parse_number() of its text, a STR sits between two quotes, a TOKEN is not a number and
 * holds no quote or comma), and printing the parameters back (numbers in decimal, or 0x when
 * written so; strings quoted; tokens as written) parses to the same parameters. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/param.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void need(bool cond)
{
	if (!cond)
		abort();
}

static bool within(const char *p, size_t n, const char *lo, const char *hi)
{
	return p >= lo && p + n <= hi;
}

static void print_args(const struct at_args *a, struct buf *out)
{
	for (int i = 0; i < a->n; i++) {
		const struct at_param *p = &a->p[i];

		if (i)
			buf_putc(out, ',');
		switch (p->type) {
		case AT_P_OMITTED:
			break;
		case AT_P_NUM:
			if (p->hex)
				buf_printf(out, "%s0x%llx", p->num < 0 ? "-" : "",
				           p->num < 0 ? -(unsigned long long)p->num
				                      : (unsigned long long)p->num);
			else
				buf_printf(out, "%lld", p->num);
			break;
		case AT_P_STR:
			buf_putc(out, '"');
			buf_append(out, p->s, p->len);
			buf_putc(out, '"');
			break;
		case AT_P_TOKEN:
			buf_append(out, p->s, p->len);
			break;
		}
	}
}

static void check_args(const char *s, size_t n)
{
	static struct at_args a, b;
	char why[128];
	struct buf text;
	int rc;

	memset(why, 0x55, sizeof(why));
	rc = at_parse_args(s, n, &a, why, sizeof(why));
	if (rc) {
		need(rc == -1 && memchr(why, 0, sizeof(why)) && why[0]);
		return;
	}
	need(a.n >= 0 && a.n <= AT_MAX_PARAMS);
	for (int i = 0; i < a.n; i++) {
		const struct at_param *p = &a.p[i];
		long long v;
		bool hex;

		need(within(p->s, p->len, s, s + n));
		switch (p->type) {
		case AT_P_OMITTED:
			need(p->len == 0);
			break;
		case AT_P_NUM:
			need(at_parse_number(p->s, p->len, &v, &hex) == 0 && v == p->num &&
			     hex == p->hex);
			break;
		case AT_P_STR:
			need(p->s > s && p->s[-1] == '"' && p->s + p->len < s + n &&
			     p->s[p->len] == '"' && !memchr(p->s, '"', p->len));
			break;
		case AT_P_TOKEN:
			need(p->len > 0 && at_parse_number(p->s, p->len, &v, NULL) != 0);
			need(!memchr(p->s, '"', p->len) && !memchr(p->s, ',', p->len));
			break;
		}
	}
	buf_init(&text, 0);
	print_args(&a, &text);
	rc = at_parse_args(text.data ? (const char *)text.data : "", text.len, &b, why,
	                   sizeof(why));
	need(rc == 0 && b.n == a.n);
	for (int i = 0; i < a.n; i++) {
		need(a.p[i].type == b.p[i].type);
		if (a.p[i].type == AT_P_NUM)
			need(a.p[i].num == b.p[i].num && a.p[i].hex == b.p[i].hex);
		else
			need(a.p[i].len == b.p[i].len &&
			     (a.p[i].len == 0 || memcmp(a.p[i].s, b.p[i].s, a.p[i].len) == 0));
	}
	buf_free(&text);
}

static void check_line(const char *line, size_t n)
{
	const char *p = line, *end = line + n;

	for (size_t rounds = 0;; rounds++) {
		struct at_cmd_req req;
		const char *why = NULL, *before = p;
		size_t k;
		int rc;

		need(rounds <= n);
		rc = at_parse_next(&p, end, &req, &why);
		need(p >= before && p <= end);
		if (rc == 0) {
			need(p == end);
			return;
		}
		if (rc < 0) {
			need(rc == -1 && why && why[0]);
			return;
		}
		need(rc == 1 && p > before);
		k = strnlen(req.name, sizeof(req.name));
		need(k > 0 && k <= AT_NAME_MAX);
		for (size_t i = 0; i < k; i++)
			need(!(req.name[i] >= 'a' && req.name[i] <= 'z'));
		need(req.req == AT_REQ_EXEC || req.req == AT_REQ_READ || req.req == AT_REQ_WRITE ||
		     req.req == AT_REQ_TEST);
		need(within(req.text, req.text_len, before, p) && req.text_len > 0);
		if (req.req == AT_REQ_WRITE) {
			need(within(req.args, req.args_len, req.text, req.text + req.text_len));
			check_args(req.args, req.args_len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly the input's size, so that a read past it is caught */
	char *s = malloc(size ? size : 1);
	long long v;
	bool hex;

	if (!s)
		return 0;
	memcpy(s, data, size);
	check_line(s, size);
	check_args(s, size);
	if (at_parse_number(s, size, &v, &hex) == 0) {
		char text[32];
		long long v2;
		bool hex2;

		if (hex)
			snprintf(text, sizeof(text), "%s0x%llx", v < 0 ? "-" : "",
			         v < 0 ? -(unsigned long long)v : (unsigned long long)v);
		else
			snprintf(text, sizeof(text), "%lld", v);
		need(at_parse_number(text, strlen(text), &v2, &hex2) == 0 && v2 == v &&
		     hex2 == hex);
	}
	(void)at_smart_quote(data, size);
	free(s);
	return 0;
}
