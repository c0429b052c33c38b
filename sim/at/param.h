/* AT command-line parsing (pure): split a line into commands, and a command's argument text
 * into parameters. V.250 syntax with the Quectel habits: case-insensitive names, ';' between
 * extended commands, basic commands concatenated (ATE0V1), "..." strings without escapes,
 * decimal and 0x/0X hexadecimal numbers. */
#ifndef MODEMSIM_AT_PARAM_H
#define MODEMSIM_AT_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_MAX_PARAMS 32
#define AT_NAME_MAX 24

enum at_req {
	AT_REQ_EXEC = 1, /* AT+CMD */
	AT_REQ_READ = 2, /* AT+CMD? */
	AT_REQ_WRITE = 4, /* AT+CMD=... */
	AT_REQ_TEST = 8, /* AT+CMD=? */
};

/* One command out of a command line. */
struct at_cmd_req {
	char name[AT_NAME_MAX + 1]; /* upper-cased: "+QFUPL", "E", "&F", "S3", "I" */
	enum at_req req;
	const char *args; /* WRITE: the argument text (basic commands: their number) */
	size_t args_len;
	const char *text; /* the command as typed, for traces */
	size_t text_len;
};

enum at_ptype {
	AT_P_OMITTED, /* nothing between the commas */
	AT_P_NUM, /* decimal or 0x hex: num */
	AT_P_STR, /* "quoted": s/len without the quotes */
	AT_P_TOKEN, /* bare text that is not a number: s/len */
};

struct at_param {
	enum at_ptype type;
	long long num;
	const char *s;
	size_t len;
	bool hex; /* NUM written as 0x... */
};

struct at_args {
	int n;
	struct at_param p[AT_MAX_PARAMS];
};

/* Parse the command starting at *pp (just after "AT" or after the previous command) into req.
 * Returns 1 with *pp advanced, 0 at the end of the line, or -1 with *why set (static text). */
int at_parse_next(const char **pp, const char *end, struct at_cmd_req *req, const char **why);

/* Split argument text into parameters. Returns 0, or -1 with a reason written to why. */
int at_parse_args(const char *s, size_t n, struct at_args *a, char *why, size_t why_len);

/* Strict numbers for string-valued parameters (e.g. a quoted "0xFFFF"): 0 or -1. */
int at_parse_number(const char *s, size_t n, long long *out, bool *hex);

/* A UTF-8 quote a word processor put where an ASCII quote belongs, at p: its name
 * ("U+201C left double quotation mark"), or NULL. */
const char *at_smart_quote(const uint8_t *p, size_t n);

/* Case-insensitive compare of a parameter's text with a keyword. */
bool at_param_is(const struct at_param *p, const char *keyword);

#endif
