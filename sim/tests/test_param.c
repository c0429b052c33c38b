/* The command-line splitter and the parameter parser, table-driven. */
#include "at/param.h"
#include "check.h"

struct split_row {
	const char *line; /* after "AT" */
	const char *expect; /* "NAME/req;NAME/req" with req E R W T, or "!" for an error */
};

static const struct split_row split_rows[] = {
        {"", ""},
        {"+CSQ", "+CSQ/E"},
        {"+cmee?", "+CMEE/R"},
        {"+CMEE=?", "+CMEE/T"},
        {"+CMEE=2", "+CMEE/W"},
        {"+CMEE=2;+CSQ", "+CMEE/W;+CSQ/E"},
        {"E0V1", "E/W;V/W"},
        {"E", "E/E"},
        {"I", "I/E"},
        {"S3?", "S3/R"},
        {"S3=13", "S3/W"},
        {"&F", "&F/E"},
        {"&F0E1", "&F/W;E/W"},
        {"+QMTPUB=0,1,1,0,\"a;b\";+CSQ", "+QMTPUB/W;+CSQ/E"},
        {"+QFLST=\"*\"", "+QFLST/W"},
        {"+QMTCFG=\"recv/mode\",0,0,1", "+QMTCFG/W"},
        {"+", "!"},
        {"+CSQ?x", "!"},
        {"#", "!"},
        {"\xe2\x80\x9c", "!"},
        {"+QFUPL=\"RAM:a\",10;;+CSQ", "+QFUPL/W;+CSQ/E"},
};

static void test_split(void)
{
	for (size_t i = 0; i < sizeof(split_rows) / sizeof(split_rows[0]); i++) {
		const struct split_row *r = &split_rows[i];
		const char *p = r->line, *end = r->line + strlen(r->line), *why = NULL;
		char got[256] = "";
		struct at_cmd_req req;
		int rc;

		while ((rc = at_parse_next(&p, end, &req, &why)) == 1) {
			static const char forms[] = "?ERxWxxxT";

			if (got[0])
				strcat(got, ";");
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s/%c", req.name,
			         forms[req.req]);
		}
		if (rc < 0)
			snprintf(got, sizeof(got), "!");
		if (strcmp(got, r->expect) != 0)
			fprintf(stderr, "split row %zu (%s): got %s want %s\n", i, r->line, got,
			        r->expect);
		CHECK(strcmp(got, r->expect) == 0);
	}
}

struct arg_row {
	const char *args;
	int n; /* parameters, or -1 for a parse error */
	const char *types; /* per parameter: O omitted, N number, S string, T token */
	long long num0;
};

static const struct arg_row arg_rows[] = {
        {"", 0, "", 0},
        {"1", 1, "N", 1},
        {"0x1F", 1, "N", 31},
        {"0XFFFF", 1, "N", 65535},
        {"-1", 1, "N", -1},
        {"1,,3", 3, "NON", 1},
        {"\"a,b\",2", 2, "SN", 0},
        {" 1 , \"x\" ", 2, "NS", 1},
        {"\"\"", 1, "S", 0},
        {"CMNET", 1, "T", 0},
        {"\"0xFFFF\"", 1, "S", 0},
        {",", 2, "OO", 0},
        {"\"abc", -1, "", 0},
        {"\"a\"b", -1, "", 0},
        {"1\x01", -1, "", 0},
        {"\xe2\x80\x9c"
         "a"
         "\xe2\x80\x9d",
         -1, "", 0},
        {"\xff", -1, "", 0},
        {"a\"b", -1, "", 0},
        {"99999999999999999999999", 1, "T", 0},
        {"0x", 1, "T", 0},
        {"\"utf8 \xc3\xa9\"", 1, "S", 0},
};

static void test_args(void)
{
	for (size_t i = 0; i < sizeof(arg_rows) / sizeof(arg_rows[0]); i++) {
		const struct arg_row *r = &arg_rows[i];
		struct at_args a;
		char why[128];
		int rc = at_parse_args(r->args, strlen(r->args), &a, why, sizeof(why));

		if (r->n < 0) {
			CHECK(rc == -1);
			continue;
		}
		CHECK(rc == 0);
		CHECK(a.n == r->n);
		if (rc || a.n != r->n) {
			fprintf(stderr, "arg row %zu (%s): rc %d n %d\n", i, r->args, rc, a.n);
			continue;
		}
		for (int k = 0; k < a.n; k++) {
			static const char t[] = "ONST";

			CHECK(t[a.p[k].type] == r->types[k]);
		}
		if (a.n && a.p[0].type == AT_P_NUM)
			CHECK(a.p[0].num == r->num0);
	}
	{
		struct at_args a;
		char why[128];

		CHECK(at_parse_args("\xe2\x80\x9cRAM:x\xe2\x80\x9d,1", 14, &a, why, sizeof(why)) ==
		      -1);
		CHECK(strstr(why, "U+201C") != NULL);
	}
}

int main(void)
{
	test_split();
	test_args();
	return check_exit();
}
