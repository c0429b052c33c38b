/* The scenario parser, driven by data/scenario_parse.txt (statements, errors, matches,
 * expansions; see its header) and by the files data/scenario_good.txt and
 * data/scenario_bad.txt (whose expected errors are in data/scenario_bad.expect).
 * Run from sim/tests (ctest does) or give the data directory as argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "scenario/parse.h"

static const char *data_dir = "data";

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "\xNN" in a row marked ">x": the bytes a text file cannot hold. */
static size_t unhex(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (s[0] == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
			out[n++] = (char)(hexval(s[2]) * 16 + hexval(s[3]));
			s += 4;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = 0;
	return n;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static struct scn_stmt stmt, stmt2;

/* The statement's canonical text, and that parsing it again gives the same text. */
static void check_roundtrip(int lineno, const char *want)
{
	static char text[8192], again[8192];
	struct scn_error err;
	int rc;

	scn_format(&stmt, text, sizeof(text));
	if (strcmp(text, want) != 0)
		fprintf(stderr, "row at line %d: got  %s\n                 want %s\n", lineno, text,
		        want);
	CHECK(strcmp(text, want) == 0);
	rc = scn_parse_line(text, strlen(text), &stmt2, &err);
	if (rc != 1)
		fprintf(stderr, "row at line %d: canonical text does not parse: %d: %s\n", lineno,
		        err.col, err.msg);
	CHECK(rc == 1);
	scn_format(&stmt2, again, sizeof(again));
	CHECK(strcmp(text, again) == 0);
}

static void run_rows(void)
{
	size_t len;
	char *text = slurp("scenario_parse.txt", &len), *save = NULL, *line;
	static char input[8192];
	size_t input_len = 0;
	int lineno = 0, rows = 0;
	bool have_input = false;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct scn_error err;
		int rc;

		lineno++;
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (line[0] == '>') {
			bool hex = line[1] == 'x';
			const char *s = line + (hex ? 2 : 1);

			if (*s == ' ')
				s++;
			if (hex) {
				input_len = unhex(s, input);
			} else {
				snprintf(input, sizeof(input), "%s", s);
				input_len = strlen(input);
			}
			have_input = true;
			continue;
		}
		if (!have_input) {
			fprintf(stderr, "data line %d: expectation without input\n", lineno);
			exit(2);
		}
		rows++;
		memset(&err, 0, sizeof(err));
		rc = scn_parse_line(input, input_len, &stmt, &err);
		if (line[0] == '=') {
			/* "=" alone: the canonical text is the input itself */
			const char *want = trim(line + 1);

			if (rc != 1)
				fprintf(stderr, "line %d: %s\n  unexpected error at %d: %s\n",
				        lineno, input, err.col, err.msg);
			CHECK(rc == 1);
			if (rc == 1)
				check_roundtrip(lineno, *want ? want : input);
		} else if (line[0] == '-') {
			if (rc != 0)
				fprintf(stderr, "line %d: expected nothing, got %d\n", lineno, rc);
			CHECK(rc == 0);
		} else if (line[0] == '!') {
			/* "! <col> <message>", or "! <col> *" for any message */
			char *rest = trim(line + 1), *msg;
			int col = (int)strtol(rest, &msg, 10);

			msg = trim(msg);
			if (rc != -1 || err.col != col ||
			    (strcmp(msg, "*") && strcmp(msg, err.msg)))
				fprintf(stderr,
				        "line %d: %s\n  want error %d: %s\n  got  %d (%d): %s\n",
				        lineno, input, col, msg, rc, err.col, err.msg);
			CHECK(rc == -1);
			CHECK(err.col == col);
			CHECK(strcmp(msg, "*") == 0 || strcmp(msg, err.msg) == 0);
		} else if (line[0] == '?') {
			/* "? <command> | yes|no": the input is a rule whose match is tried */
			char *bar = strchr(line, '|'), *cmd, *want;
			bool got;

			if (!bar) {
				fprintf(stderr, "data line %d: no '|'\n", lineno);
				exit(2);
			}
			*bar = 0;
			cmd = trim(line + 1);
			want = trim(bar + 1);
			CHECK(rc == 1 && stmt.kind == SCN_RULE);
			got = rc == 1 &&
			      scn_match_command(&stmt, &stmt.u.rule.match, cmd, strlen(cmd));
			if (got != (strcmp(want, "yes") == 0))
				fprintf(stderr, "line %d: %s vs %s: got %s\n", lineno, input, cmd,
				        got ? "yes" : "no");
			CHECK(got == (strcmp(want, "yes") == 0));
		} else if (line[0] == '{') {
			/* "{ <command> | <expansion>": the input rule's urc or first reply line,
			 * expanded for the command */
			char *bar = strchr(line, '|'), *cmd, *want, out[512];
			const struct scn_action *a = &stmt.u.rule.action;
			struct scn_text t;

			if (!bar) {
				fprintf(stderr, "data line %d: no '|'\n", lineno);
				exit(2);
			}
			*bar = 0;
			cmd = trim(line + 1);
			want = trim(bar + 1);
			CHECK(rc == 1 && stmt.kind == SCN_RULE);
			if (rc != 1)
				continue;
			t = a->kind == SCN_ACT_URC ? a->urc : a->lines[0];
			scn_expand(scn_str(&stmt, t), t.len, cmd, strlen(cmd), out, sizeof(out));
			if (strcmp(out, want) != 0)
				fprintf(stderr, "line %d: expand for %s: got '%s' want '%s'\n",
				        lineno, cmd, out, want);
			CHECK(strcmp(out, want) == 0);
		} else {
			fprintf(stderr, "data line %d: unknown row kind '%c'\n", lineno, line[0]);
			exit(2);
		}
	}
	printf("%d rows\n", rows);
	CHECK(rows > 100);
	free(text);
}

/* Edge rows that a text file cannot hold. */
static void run_edges(void)
{
	static char big[SCN_LINE_MAX + 64];
	struct scn_error err;
	char out[64];
	int rc;

	/* a line of exactly SCN_LINE_MAX bytes is taken; one more is refused */
	memset(big, ' ', sizeof(big));
	memcpy(big, "operator \"", 10);
	memset(big + 10, 'x', 20);
	big[30] = '"';
	rc = scn_parse_line(big, SCN_LINE_MAX, &stmt, &err);
	CHECK(rc == 1);
	rc = scn_parse_line(big, SCN_LINE_MAX + 1, &stmt, &err);
	CHECK(rc == -1 && err.col == SCN_LINE_MAX + 1);
	CHECK(strcmp(err.msg, "line longer than 4096 bytes") == 0);
	/* the canonical text must fit a line too (fuzz_scenario_parse: a string of raw tabs,
	 * each printed \x09, gave a statement whose canonical text did not parse): exactly
	 * SCN_LINE_MAX bytes of it are taken, one more is refused */
	{
		static char text[2 * SCN_LINE_MAX];
		int n = snprintf(big, sizeof(big), "on \"AT\" urc 1s \"");

		memset(big + n, '\t', 1000);
		memset(big + n + 1000, 'x', 75);
		big[n + 1075] = '"';
		rc = scn_parse_line(big, (size_t)n + 1076, &stmt, &err);
		CHECK(rc == 1 && scn_format(&stmt, text, sizeof(text)) == SCN_LINE_MAX);
		CHECK(rc == 1 && scn_parse_line(text, strlen(text), &stmt2, &err) == 1);
		memset(big + n + 1000, 'x', 76);
		big[n + 1076] = '"';
		rc = scn_parse_line(big, (size_t)n + 1077, &stmt, &err);
		CHECK(rc == -1 && err.col == 1);
		CHECK(strcmp(err.msg, "statement longer than 4096 bytes once written out (\\xNN "
		                      "escapes, durations in ms)") == 0);
	}
	/* a NUL byte outside a string, and inside one */
	rc = scn_parse_line("sim\0ready", 9, &stmt, &err);
	CHECK(rc == -1 && err.col == 4);
	rc = scn_parse_line("operator \"a\0b\"", 14, &stmt, &err);
	CHECK(rc == -1 && err.col == 12);
	/* a string with every escape keeps its bytes, NUL included */
	{
		const char *l = "operator \"\\x00\\\\\\\"\\r\\n\"";

		rc = scn_parse_line(l, strlen(l), &stmt, &err);
	}
	CHECK(rc == 1 && stmt.u.set.text.len == 5);
	CHECK(rc == 1 && memcmp(scn_str(&stmt, stmt.u.set.text), "\0\\\"\r\n", 5) == 0);
	/* the expansion is cut at the output's size, NUL-terminated */
	{
		const char *l = "on \"AT\" urc 1s \"0123456789{0}\"";

		rc = scn_parse_line(l, strlen(l), &stmt, &err);
	}
	CHECK(rc == 1);
	CHECK(scn_expand(scn_str(&stmt, stmt.u.rule.action.urc), stmt.u.rule.action.urc.len, "AT+X",
	                 4, out, 8) == 7);
	CHECK(strcmp(out, "0123456") == 0);
	/* scn_param_get */
	{
		const char *l = "at 1s fault link.delay ms 200 client 2";

		rc = scn_parse_line(l, strlen(l), &stmt, &err);
	}
	CHECK(rc == 1);
	CHECK(rc == 1 && scn_param_get(&stmt.u.ev.act.params, "client")->num == 2);
	CHECK(rc == 1 && scn_param_get(&stmt.u.ev.act.params, "bytes") == NULL);
}

/* A whole file: statements with their lines, every error with line and column. */
static void run_files(void)
{
	struct scn_script s;
	size_t len, elen;
	char *text, *expect, *line, *save = NULL;
	size_t k = 0;
	int rc;

	text = slurp("scenario_good.txt", &len);
	scn_script_init(&s);
	rc = scn_parse_text(text, len, &s);
	for (size_t i = 0; i < s.nerr; i++)
		fprintf(stderr, "scenario_good.txt:%d:%d: %s\n", s.errs[i].line, s.errs[i].col,
		        s.errs[i].msg);
	CHECK(rc == 0 && s.nerr == 0);
	CHECK(s.n == 18);
	CHECK(s.n > 0 && s.stmts[0].line == 3);
	scn_script_free(&s);
	free(text);

	text = slurp("scenario_bad.txt", &len);
	expect = slurp("scenario_bad.expect", &elen);
	scn_script_init(&s);
	rc = scn_parse_text(text, len, &s);
	CHECK(rc == -ERR_SYNTAX);
	for (line = strtok_r(expect, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char got[300];

		if (line[0] == '#')
			continue;
		if (k >= s.nerr) {
			fprintf(stderr, "missing error: %s\n", line);
			CHECK(0);
			continue;
		}
		snprintf(got, sizeof(got), "%d:%d: %s", s.errs[k].line, s.errs[k].col,
		         s.errs[k].msg);
		/* "line:col: *": any message (the fault module words its own) */
		if (strlen(line) > 1 && strcmp(line + strlen(line) - 2, " *") == 0)
			got[strlen(line) - 1 < sizeof(got) ? strlen(line) - 1 : 0] = 0;
		if (strncmp(got, line, strlen(got)) != 0 || strlen(got) == 0)
			fprintf(stderr, "error %zu: got  %s\n          want %s\n", k, got, line);
		CHECK(strlen(got) > 0 && strncmp(got, line, strlen(got)) == 0);
		k++;
	}
	CHECK(k == s.nerr);
	CHECK(s.n == 3);
	scn_script_free(&s);
	scn_script_free(NULL);
	free(text);
	free(expect);

	/* CR LF and lone CR line ends count lines the same way */
	scn_script_init(&s);
	rc = scn_parse_text("sim ready\r\n\r\nsim nope\rsim pin", 29, &s);
	CHECK(rc == -ERR_SYNTAX && s.n == 2 && s.nerr == 1);
	CHECK(s.nerr == 1 && s.errs[0].line == 3 && s.errs[0].col == 5);
	CHECK(s.n == 2 && s.stmts[1].line == 4);
	scn_script_free(&s);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	run_rows();
	run_edges();
	run_files();
	return check_exit();
}
