/* libFuzzer target for the scenario and control-socket statement parser (sim/scenario/parse.c).
 *
 * Input: a statement line; after the first LF, a command ("AT+QMTPUB=0,1,1,0,\"t\"") that a
 * rule's match is tried on and its reply or URC template expanded for. The whole input is also
 * parsed as a file (scn_parse_text).
 *
 * Properties: no crash or sanitizer report; an error has a column and a message; a statement
 * prints (scn_format) to a text that parses again to a statement printing to the same text
 * (print -> parse round-trips); matching and expansion stay within their buffers; a file's
 * statements and errors carry their line numbers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "scenario/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical text of a line of SCN_LINE_MAX bytes is longer (escapes, durations in ms):
 * with room for every byte as \xNN. */
#define TEXT_MAX (4 * SCN_LINE_MAX + 256)

static void need(bool cond)
{
	if (!cond)
		abort();
}

static void check_error(const struct scn_error *e)
{
	need(e->col >= 1 && e->col <= SCN_LINE_MAX + 2);
	need(memchr(e->msg, 0, sizeof(e->msg)) && e->msg[0]);
}

static void check_expand(const struct scn_stmt *s, struct scn_text t, const char *cmd, size_t n)
{
	char out[96];
	size_t room = 1 + n % sizeof(out), k;

	memset(out, 0x55, sizeof(out));
	k = scn_expand(scn_str(s, t), t.len, cmd, n, out, room);
	need(k < room && out[k] == 0);
}

static void check_command(const struct scn_stmt *s, const char *cmd, size_t n)
{
	const struct scn_action *a;

	switch (s->kind) {
	case SCN_RULE:
		(void)scn_match_command(s, &s->u.rule.match, cmd, n);
		a = &s->u.rule.action;
		if (a->kind == SCN_ACT_URC)
			check_expand(s, a->urc, cmd, n);
		for (int i = 0; i < a->nlines; i++)
			check_expand(s, a->lines[i], cmd, n);
		break;
	case SCN_AFTER:
		if (s->u.ev.event.kind == SCN_EVENT_COMMAND)
			(void)scn_match_command(s, &s->u.ev.event.match, cmd, n);
		break;
	case SCN_SETTING:
	case SCN_AT:
	case SCN_QUERY:
		break;
	}
}

static void check_line(const char *line, size_t n, const char *cmd, size_t cmd_len)
{
	static struct scn_stmt s, again;
	static char text[TEXT_MAX], text2[TEXT_MAX];
	struct scn_error err;
	size_t k, k2;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = scn_parse_line(line, n, &s, &err);
	if (rc < 0) {
		need(rc == -1);
		check_error(&err);
		return;
	}
	if (rc == 0)
		return;
	need(rc == 1 && s.pool_len <= sizeof(s.pool));
	k = scn_format(&s, text, sizeof(text));
	need(k < sizeof(text) && strlen(text) == k);
	rc = scn_parse_line(text, k, &again, &err);
	need(rc == 1);
	k2 = scn_format(&again, text2, sizeof(text2));
	need(k2 == k && memcmp(text, text2, k) == 0);
	need(again.kind == s.kind && again.modem == s.modem);
	if (cmd)
		check_command(&s, cmd, cmd_len);
}

static void check_file(const char *text, size_t n)
{
	struct scn_script sc;
	int rc;

	scn_script_init(&sc);
	rc = scn_parse_text(text, n, &sc);
	need(rc == 0 || rc == -ERR_SYNTAX || rc == -ERR_NOMEM);
	need((rc == -ERR_SYNTAX) == (sc.nerr > 0) || rc == -ERR_NOMEM);
	need(sc.nerr <= SCN_ERRORS_MAX);
	for (size_t i = 0; i < sc.nerr; i++) {
		need(sc.errs[i].line >= 1);
		check_error(&sc.errs[i]);
	}
	for (size_t i = 0; i < sc.n; i++) {
		need(sc.stmts[i].line >= 1 && sc.stmts[i].kind != SCN_QUERY);
		need(i == 0 || sc.stmts[i].line > sc.stmts[i - 1].line);
	}
	scn_script_free(&sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copies of exactly their size, so that a read past them is caught */
	char *all = malloc(size ? size : 1), *line, *cmd = NULL;
	const uint8_t *lf = memchr(data, '\n', size);
	size_t n = lf ? (size_t)(lf - data) : size, cmd_len = 0;

	if (!all)
		return 0;
	memcpy(all, data, size);
	line = malloc(n ? n : 1);
	if (!line) {
		free(all);
		return 0;
	}
	memcpy(line, data, n);
	if (lf) {
		cmd_len = size - n - 1;
		cmd = malloc(cmd_len ? cmd_len : 1);
		if (cmd)
			memcpy(cmd, lf + 1, cmd_len);
	}
	check_line(line, n, cmd, cmd_len);
	check_file(all, size);
	free(cmd);
	free(line);
	free(all);
	return 0;
}
