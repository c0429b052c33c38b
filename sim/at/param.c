#include "at/param.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* End of an extended command's text: the first ';' outside quotes, or the end of the line. */
static const char *command_end(const char *p, const char *end)
{
	bool quoted = false;

	for (; p < end; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ';' && !quoted)
			return p;
	}
	return end;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '/' || c == '-' || c == '.';
}

int at_parse_next(const char **pp, const char *end, struct at_cmd_req *req, const char **why)
{
	const char *p = skip_space(*pp, end), *start, *stop;
	size_t n = 0;

	while (p < end && *p == ';')
		p = skip_space(p + 1, end);
	if (p >= end) {
		*pp = p;
		return 0;
	}
	memset(req, 0, sizeof(*req));
	req->text = p;
	start = p;
	if (*p == '+' || *p == '^' || *p == '$' || *p == '%') {
		/* extended: +NAME[=?|?|=args] */
		req->name[n++] = *p++;
		while (p < end && name_char(*p)) {
			if (n == AT_NAME_MAX) {
				*why = "command name too long";
				return -1;
			}
			req->name[n++] = (char)toupper((unsigned char)*p++);
		}
		if (n == 1) {
			*why = "missing command name";
			return -1;
		}
		stop = command_end(p, end);
		if (p + 2 <= stop && p[0] == '=' && p[1] == '?' &&
		    skip_space(p + 2, stop) == stop) {
			req->req = AT_REQ_TEST;
		} else if (p < stop && p[0] == '=') {
			req->req = AT_REQ_WRITE;
			req->args = p + 1;
			req->args_len = (size_t)(stop - p - 1);
		} else if (p < stop && p[0] == '?' && skip_space(p + 1, stop) == stop) {
			req->req = AT_REQ_READ;
		} else if (skip_space(p, stop) == stop) {
			req->req = AT_REQ_EXEC;
		} else {
			*why = "unexpected text after the command name";
			return -1;
		}
		req->text_len = (size_t)(stop - start);
		*pp = stop;
		return 1;
	}
	if (*p == '&' || isalpha((unsigned char)*p)) {
		/* basic: [&]letter[digits][=value|?]; S registers: Sn=v / Sn? */
		bool sreg = toupper((unsigned char)*p) == 'S';

		if (*p == '&')
			req->name[n++] = *p++;
		if (p >= end || !isalpha((unsigned char)*p)) {
			*why = "invalid basic command";
			return -1;
		}
		req->name[n++] = (char)toupper((unsigned char)*p++);
		if (sreg && n == 1) {
			while (p < end && isdigit((unsigned char)*p) && n < AT_NAME_MAX)
				req->name[n++] = *p++;
			if (p < end && *p == '?') {
				req->req = AT_REQ_READ;
				p++;
			} else if (p + 1 < end && p[0] == '=' && p[1] == '?') {
				req->req = AT_REQ_TEST;
				p += 2;
			} else if (p < end && *p == '=') {
				req->req = AT_REQ_WRITE;
				req->args = ++p;
				while (p < end && isdigit((unsigned char)*p))
					p++;
				req->args_len = (size_t)(p - req->args);
			} else {
				req->req = AT_REQ_EXEC;
			}
		} else {
			req->args = p;
			while (p < end && isdigit((unsigned char)*p))
				p++;
			req->args_len = (size_t)(p - req->args);
			req->req = req->args_len ? AT_REQ_WRITE : AT_REQ_EXEC;
			if (p < end && *p == '?') {
				req->req = AT_REQ_READ;
				p++;
			}
		}
		req->text_len = (size_t)(p - start);
		*pp = p;
		return 1;
	}
	*why = "invalid character in command line";
	return -1;
}

/* UTF-8 sequences word processors put where an ASCII quote belongs. */
const char *at_smart_quote(const uint8_t *p, size_t n)
{
	if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80) {
		switch (p[2]) {
		case 0x9c:
			return "U+201C left double quotation mark";
		case 0x9d:
			return "U+201D right double quotation mark";
		case 0x98:
			return "U+2018 left single quotation mark";
		case 0x99:
			return "U+2019 right single quotation mark";
		default:
			break;
		}
	}
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0xab || p[1] == 0xbb))
		return "a guillemet";
	return NULL;
}

int at_parse_number(const char *s, size_t n, long long *out, bool *hex)
{
	size_t i = 0;
	bool neg = false;
	unsigned long long v = 0;
	int base = 10;

	if (n == 0)
		return -1;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		int d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		if (v > (0x7fffffffffffffffULL - (unsigned)d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + (unsigned)d;
	}
	*out = neg ? -(long long)v : (long long)v;
	if (hex)
		*hex = base == 16;
	return 0;
}

int at_parse_args(const char *s, size_t n, struct at_args *a, char *why, size_t why_len)
{
	const char *p = s, *end = s + n;

	memset(a, 0, sizeof(*a));
	for (;;) {
		struct at_param *prm;
		const char *tok;

		if (a->n == AT_MAX_PARAMS) {
			snprintf(why, why_len, "more than %d parameters", AT_MAX_PARAMS);
			return -1;
		}
		prm = &a->p[a->n++];
		p = skip_space(p, end);
		if (p < end && *p == '"') {
			const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));

			if (!q) {
				snprintf(why, why_len, "unterminated string at column %zu",
				         (size_t)(p - s) + 1);
				return -1;
			}
			prm->type = AT_P_STR;
			prm->s = p + 1;
			prm->len = (size_t)(q - p - 1);
			p = skip_space(q + 1, end);
			if (p < end && *p != ',') {
				snprintf(why, why_len, "unexpected '%c' after string at column %zu",
				         *p, (size_t)(p - s) + 1);
				return -1;
			}
		} else {
			tok = p;
			while (p < end && *p != ',') {
				unsigned char c = (unsigned char)*p;
				const char *sq =
				        at_smart_quote((const uint8_t *)p, (size_t)(end - p));

				if (sq) {
					snprintf(why, why_len,
					         "non-ASCII quote (%s) at column %zu: only the "
					         "ASCII "
					         "quote \" delimits strings",
					         sq, (size_t)(p - s) + 1);
					return -1;
				}
				if (c >= 0x80 || c < 0x20 || c == 0x7f) {
					snprintf(why, why_len,
					         "byte 0x%02x at column %zu outside a string", c,
					         (size_t)(p - s) + 1);
					return -1;
				}
				if (c == '"') {
					snprintf(why, why_len, "stray quote at column %zu",
					         (size_t)(p - s) + 1);
					return -1;
				}
				p++;
			}
			{
				const char *t = p;

				while (t > tok && is_space(t[-1]))
					t--;
				prm->s = tok;
				prm->len = (size_t)(t - tok);
			}
			if (prm->len == 0)
				prm->type = AT_P_OMITTED;
			else if (at_parse_number(prm->s, prm->len, &prm->num, &prm->hex) == 0)
				prm->type = AT_P_NUM;
			else
				prm->type = AT_P_TOKEN;
		}
		if (p >= end)
			break;
		p++; /* the comma */
	}
	if (a->n == 1 && a->p[0].type == AT_P_OMITTED)
		a->n = 0; /* "AT+X=" has no parameters */
	return 0;
}

bool at_param_is(const struct at_param *p, const char *keyword)
{
	size_t k = strlen(keyword);

	return (p->type == AT_P_STR || p->type == AT_P_TOKEN) && p->len == k &&
	       strncasecmp(p->s, keyword, k) == 0;
}
