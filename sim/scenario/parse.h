/* The scenario language (scenarios/README.md), parsed. Pure: no I/O, no clock, no modem.
 *
 * scn_parse_line() turns one line (a file's line, or a control-socket line) into one statement,
 * or reports the first error with its column and what was expected. scn_parse_text() parses a
 * whole file's text and collects every error as line:column. A statement is flat (no pointers):
 * its strings live unescaped in its own pool, so it may be copied with memcpy.
 *
 * Fault statements carry their parameters as a struct scn_params, the type the fault code
 * (scenario/fault.h) takes: fault_check() validates them at parse time, fault_fire() runs them. */
#ifndef MODEMSIM_SCENARIO_PARSE_H
#define MODEMSIM_SCENARIO_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_LINE_MAX 4096 /* bytes of one statement line (file or control socket) */
#define SCN_POOL_MAX SCN_LINE_MAX /* unescaped strings of one statement: never longer */
#define SCN_REPLY_MAX 16 /* info lines of one reply action */
#define SCN_PARAMS_MAX 8 /* parameters of one fault */
#define SCN_NAME_MAX 31 /* a fault's or a parameter's name */
#define SCN_VALUE_MAX 511 /* a parameter's value text */
#define SCN_MSG_MAX 200 /* an error message */
#define SCN_DURATION_MAX_MS (30ULL * 24 * 3600 * 1000) /* 30 days */

/* ---- fault parameters: `fault <name> [<param> <value> ...]` ---- */

/* What a parameter's value looked like. A bare token is a NUM when it is a decimal or 0x
 * number, a DUR when it is a number with a unit (ms, s, m), else a WORD; a quoted value is a
 * STR. A parameter name with no value (a flag such as modem.baud's `input`) is NONE: a flag
 * must come last, since a word after a parameter's name is taken as its value. */
enum scn_vtype { SCN_V_NONE, SCN_V_WORD, SCN_V_NUM, SCN_V_DUR, SCN_V_STR };

struct scn_param {
	char name[SCN_NAME_MAX + 1];
	enum scn_vtype type;
	long long num; /* NUM */
	uint64_t ms; /* DUR, as written (the engine applies --time-scale) */
	char text[SCN_VALUE_MAX + 1]; /* the value: STR unescaped, the others as written */
	size_t len; /* of text (a STR may hold NUL bytes from \x00) */
	int col; /* 1-based column of the name, and of the value (0: none) */
	int vcol;
};

struct scn_params {
	int n;
	struct scn_param p[SCN_PARAMS_MAX];
};

/* The parameter called name, or NULL. */
const struct scn_param *scn_param_get(const struct scn_params *p, const char *name);

/* ---- statements ---- */

enum scn_kind {
	SCN_SETTING, /* model, revision, imei, sim, registration, ... */
	SCN_RULE, /* on <match> [<limit>] [<window>] <action> */
	SCN_AT, /* at <duration> <do> */
	SCN_AFTER, /* after <event> [<limit>] [delay <duration>] <do> */
	SCN_QUERY, /* query ...: the control socket only */
};

/* A string in the statement's pool: scn_str(stmt, t). */
struct scn_text {
	uint16_t off;
	uint16_t len;
};

enum scn_setting {
	SCN_SET_MODEL, /* text: "ec25" | "m95" */
	SCN_SET_REVISION, /* text */
	SCN_SET_IMEI, /* text: 15 digits */
	SCN_SET_ICCID, /* text: 19 or 20 digits */
	SCN_SET_IMSI, /* text: 15 digits */
	SCN_SET_SIM, /* a: enum scn_sim */
	SCN_SET_REGISTRATION, /* a: stat 0-5; ms: after (has_ms) */
	SCN_SET_SIGNAL, /* a: rssi, b: ber (-1: not given) */
	SCN_SET_OPERATOR, /* text */
	SCN_SET_TIMING, /* a: 0 realistic, 1 fast */
	SCN_SET_LATENCY_COMMAND, /* ms */
	SCN_SET_LATENCY_URC, /* ms */
	SCN_SET_RESOLVE, /* text: name, text2: IPv4 address or "fail" */
	SCN_SET_ROUTE, /* a: port, text2: "HOST:PORT" or "@plain" / "@tls" / "@mutual" */
	SCN_SET_DEFAULT_BEARER, /* a: 1 on, 0 off (pdp_default_bearer_sync) */
};

enum scn_sim { SCN_SIM_READY, SCN_SIM_PIN, SCN_SIM_PUK, SCN_SIM_ABSENT };

struct scn_setting_stmt {
	enum scn_setting what;
	struct scn_text text;
	struct scn_text text2;
	int a;
	int b;
	uint64_t ms;
	bool has_ms;
};

enum scn_match_kind {
	SCN_MATCH_EXACT, /* "AT+X=1": the whole command, the name case-insensitive */
	SCN_MATCH_PREFIX, /* prefix "AT+X": the command starts with it */
	SCN_MATCH_PATTERN, /* pattern "AT+X=*,*,...": each * one parameter */
};

struct scn_match {
	enum scn_match_kind kind;
	struct scn_text text; /* as written, "AT..." */
};

enum scn_limit_kind {
	SCN_LIMIT_ALWAYS,
	SCN_LIMIT_ONCE,
	SCN_LIMIT_NTH,
	SCN_LIMIT_FIRST,
	SCN_LIMIT_EVERY,
	SCN_LIMIT_PROB,
};

struct scn_limit {
	enum scn_limit_kind kind;
	long long n; /* NTH, FIRST, EVERY: 1 or more */
	double p; /* PROB: 0..1 */
	bool has_seed;
	uint64_t seed;
};

enum scn_state {
	SCN_STATE_NONE,
	SCN_STATE_MQTT_CONNECTED,
	SCN_STATE_MQTT_OPEN,
	SCN_STATE_PDP_ACTIVE,
	SCN_STATE_REGISTERED,
	SCN_STATE_SIM_READY,
};

struct scn_window {
	bool has_from;
	bool has_until;
	uint64_t from_ms; /* since start, as written */
	uint64_t until_ms;
	enum scn_state when;
	int client; /* when mqtt-*: a client 0-5, or -1 for any */
};

enum scn_action_kind {
	SCN_ACT_REPLY,
	SCN_ACT_ERROR,
	SCN_ACT_SILENT,
	SCN_ACT_DELAY,
	SCN_ACT_URC,
	SCN_ACT_PASS,
};

struct scn_action {
	enum scn_action_kind kind;
	int nlines; /* REPLY */
	struct scn_text lines[SCN_REPLY_MAX];
	bool has_final;
	struct scn_text final;
	int code; /* ERROR: a +CME ERROR code, 0 for plain ERROR */
	uint64_t ms; /* DELAY, URC */
	struct scn_text urc; /* URC */
};

struct scn_rule_stmt {
	struct scn_match match;
	struct scn_limit limit;
	struct scn_window window;
	struct scn_action action;
};

enum scn_event_kind {
	SCN_EVENT_COMMAND,
	SCN_EVENT_MQTT_CONNECTED,
	SCN_EVENT_MQTT_OPEN,
	SCN_EVENT_MQTT_CLOSED,
	SCN_EVENT_PUBLISH,
	SCN_EVENT_TLS_HANDSHAKE,
	SCN_EVENT_UPLOAD,
	SCN_EVENT_BOOT,
};

struct scn_event {
	enum scn_event_kind kind;
	struct scn_match match; /* COMMAND */
	int client; /* MQTT_*: 0-5, or -1 for any */
	long long n; /* PUBLISH: the n-th publish only, 0 for every one */
	bool has_name; /* UPLOAD: that file name only */
	struct scn_text name;
};

enum scn_do_kind { SCN_DO_URC, SCN_DO_FAULT };

struct scn_do {
	enum scn_do_kind kind;
	struct scn_text urc; /* URC */
	char fault[SCN_NAME_MAX + 1]; /* FAULT */
	struct scn_params params;
	int fault_col;
};

struct scn_timed_stmt {
	uint64_t at_ms; /* AT: since start, as written */
	struct scn_event event; /* AFTER */
	struct scn_limit limit; /* AFTER */
	uint64_t delay_ms; /* AFTER */
	struct scn_do act;
};

enum scn_query_kind {
	SCN_QUERY_MODEM,
	SCN_QUERY_FILES,
	SCN_QUERY_MQTT,
	SCN_QUERY_COUNTERS,
	SCN_QUERY_FAULTS,
};

struct scn_query_stmt {
	enum scn_query_kind what;
	int index; /* a modem (MODEM, FILES, MQTT, COUNTERS), or -1 for all */
};

struct scn_stmt {
	enum scn_kind kind;
	int modem; /* `modem <n>` before the statement, or -1: every modem */
	int line; /* where it was written (scn_parse_text), 1-based; 0 for a lone line */
	union {
		struct scn_setting_stmt set;
		struct scn_rule_stmt rule;
		struct scn_timed_stmt ev; /* SCN_AT and SCN_AFTER */
		struct scn_query_stmt query;
	} u;
	size_t pool_len;
	char pool[SCN_POOL_MAX]; /* every string NUL-terminated after its len bytes */
};

static inline const char *scn_str(const struct scn_stmt *s, struct scn_text t)
{
	return s->pool + t.off;
}

struct scn_error {
	int line; /* 1-based; 0 when parsing a lone line */
	int col; /* 1-based byte column */
	char msg[SCN_MSG_MAX];
};

/* Parse one line (no line terminator needed; a trailing CR or LF is ignored). Returns 1 with
 * *out filled, 0 for a blank or comment-only line, or -1 with *err set (line 0). A statement
 * whose canonical text (scn_format) would be longer than SCN_LINE_MAX is refused, so that the
 * canonical text of every statement is a line that parses. */
int scn_parse_line(const char *line, size_t len, struct scn_stmt *out, struct scn_error *err);

/* A file: every statement, and every error. */
struct scn_script {
	struct scn_stmt *stmts;
	size_t n;
	size_t cap;
	struct scn_error *errs;
	size_t nerr;
	size_t cap_err;
};

#define SCN_ERRORS_MAX 100 /* a file stops being parsed after this many errors */

void scn_script_init(struct scn_script *s);
void scn_script_free(struct scn_script *s); /* NULL-safe */
/* Parse a file's text (lines end with LF, CR LF or CR). Queries are errors in a file.
 * Returns 0 when there is no error, -ERR_SYNTAX when s->errs has some, -ERR_NOMEM. */
int scn_parse_text(const char *text, size_t len, struct scn_script *s);

/* ---- matching commands (pure, for the engine and the tests) ---- */

/* Does the command cmd (as typed, "AT..." or one command of a concatenated line without "AT",
 * e.g. "+QMTOPEN=0,\"h\",1883") match? */
bool scn_match_command(const struct scn_stmt *s, const struct scn_match *m, const char *cmd,
                       size_t len);

/* Expand {0} (the whole command, "AT..."), {1}, {2}, ... (the command's n-th parameter as typed,
 * quotes removed; empty when absent) in tmpl into out (NUL-terminated, truncated to out_len);
 * any other "{" is literal. Returns the length written. */
size_t scn_expand(const char *tmpl, size_t tlen, const char *cmd, size_t clen, char *out,
                  size_t out_len);

/* The canonical text of a statement (keywords, durations in ms, strings escaped): parsing it
 * again gives the same statement. Returns the length it needs (as snprintf). */
size_t scn_format(const struct scn_stmt *s, char *out, size_t len);

#endif
