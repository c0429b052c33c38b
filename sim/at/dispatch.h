/* The AT dispatcher: command tables, central checks, result framing, data modes.
 *
 * A command family is a const table of struct at_cmd rows ending with an empty row. A model
 * profile lists families; the first row whose name matches (case-insensitively) wins, so a
 * model-specific family listed first overrides a shared one. The dispatcher checks the request
 * type, the parameter count and each parameter's type and range against the row before the
 * handler runs, so handlers never re-check what the row states.
 *
 * A handler returns AT_OK, AT_ERROR, a positive +CME ERROR code, AT_CUSTOM (it printed its own
 * final line, e.g. "DEACT OK", or none as M95 AT+QILOCIP), or AT_PENDING: it will call
 * at_complete() later (after a timer, a network answer, or a data phase). Nothing else reaches
 * the host while a command is pending: URCs wait until the final result. */
#ifndef MODEMSIM_AT_DISPATCH_H
#define MODEMSIM_AT_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at/line.h"
#include "at/param.h"

struct modem;

#define AT_OK 0
#define AT_ERROR (-1)
#define AT_PENDING (-2)
#define AT_CUSTOM (-3)

/* CME error codes used across families (3GPP TS 27.007 9.2 and the Quectel manuals). */
#define CME_NOT_ALLOWED 3
#define CME_NOT_SUPPORTED 4
#define CME_SIM_NOT_INSERTED 10
#define CME_SIM_PIN_REQUIRED 11
#define CME_SIM_PUK_REQUIRED 12
#define CME_SIM_FAILURE 13
#define CME_SIM_BUSY 14
#define CME_INCORRECT_PASSWORD 16
#define CME_NO_NETWORK 30
#define CME_INCORRECT_PARAMETERS 50
#define CME_UNKNOWN 100

enum at_atype {
	AT_A_ANY, /* not checked centrally */
	AT_A_NUM, /* a number within [min, max] */
	AT_A_STR, /* a "quoted" string of at most max bytes (max 0: any length) */
	AT_A_TEXT, /* a quoted string or a bare token, at most max bytes (0: any) */
};

struct at_argspec {
	enum at_atype type;
	long long min;
	long long max;
};

#define AT_NUM(lo, hi)                                                                             \
	{                                                                                          \
		AT_A_NUM, (lo), (hi)                                                               \
	}
#define AT_STR(maxlen)                                                                             \
	{                                                                                          \
		AT_A_STR, 0, (maxlen)                                                              \
	}
#define AT_TEXT(maxlen)                                                                            \
	{                                                                                          \
		AT_A_TEXT, 0, (maxlen)                                                             \
	}
#define AT_ANY                                                                                     \
	{                                                                                          \
		AT_A_ANY, 0, 0                                                                     \
	}
#define AT_SPEC(...)                                                                               \
	.spec = (const struct at_argspec[]){__VA_ARGS__},                                          \
	.nspec = (int)(sizeof((const struct at_argspec[]){__VA_ARGS__}) /                          \
	               sizeof(struct at_argspec))

/* Preconditions checked centrally. */
#define AT_F_SIM 0x1 /* needs the SIM ready: +CME ERROR: 10 (absent) / 11 (PIN) */
#define AT_F_NOCME 0x2 /* central failures give plain ERROR even with CMEE 1/2 */

struct at_call;
typedef int (*at_handler)(struct at_call *c);

struct at_cmd {
	const char *name; /* upper case: "+QFUPL", "E", "&F" */
	unsigned reqs; /* AT_REQ_* allowed */
	int min_args; /* WRITE only */
	int max_args;
	const struct at_argspec *spec; /* optional; checks the first nspec parameters */
	int nspec;
	const char *test; /* TEST answer printed centrally ("\n" separates lines), or NULL */
	unsigned flags;
	int bad_args; /* result when the central checks fail: 0 means AT_ERROR */
	at_handler fn;
};

/* What a URC line told the host about one of its MQTT clients: the dialect recognizes its own
 * words (at_family.mqtt_shown), so that observers judge events, not text. */
enum mqtt_shown_kind {
	MQTT_SHOWN_OPEN, /* the network open's outcome */
	MQTT_SHOWN_CONN, /* the MQTT connection's outcome */
	MQTT_SHOWN_LOST, /* the client's network ended */
};

struct mqtt_shown {
	enum mqtt_shown_kind kind;
	int client;
	bool ok; /* OPEN: the network is open; CONN: connected */
	bool unchanged; /* OPEN: refused because the client is busy: it stays as it was */
	bool normal; /* LOST: the end the host asked for (after its own disconnect) */
	int code; /* the dialect's number, for messages */
};

/* One family: its commands, its wording, and the state it owns. Every hook is optional. */
struct at_family {
	const char *name; /* "mqtt-quectel": for traces and --list-commands */
	const struct at_cmd *cmds;
	const void *data; /* the dialect's constants, read by the handlers as c->fam->data */
	/* Power-on: create the family's state with its defaults. 0 or a negative ERR_*. */
	int (*init)(struct modem *m, const struct at_family *f);
	/* AT+CFUN=1,1, AT+QPOWD and the like: volatile state is lost (the modem's timers are
	 * already cancelled and any data phase was told it is abandoned). */
	void (*reboot)(struct modem *m);
	/* Shutdown: free everything the family holds. */
	void (*close)(struct modem *m);
	/* A PDP context went down (by_network: the network dropped it, else AT+QIDEACT). */
	void (*pdp_down)(struct modem *m, int cid, bool by_network);
	/* Everything queued for the host has left modemsim: what waited for room may go. */
	void (*host_drained)(struct modem *m);
	/* Is this URC line (without CR LF) one of the family's MQTT outcomes? Fills *out. */
	bool (*mqtt_shown)(const char *line, size_t len, struct mqtt_shown *out);
};

struct at_call {
	struct modem *m;
	const struct at_family *fam; /* the family cmd belongs to */
	const struct at_cmd *cmd;
	enum at_req req;
	struct at_args args;
};

/* Data phase callbacks: data() gets each chunk as it arrives; end() when the phase ends, and
 * must eventually lead to at_complete(), except for AT_END_ABANDON (reboot, power down,
 * shutdown): then the owner frees what the phase holds and completes nothing. */
struct at_data_ops {
	void (*data)(struct modem *m, void *arg, const uint8_t *p, size_t n);
	void (*end)(struct modem *m, void *arg, enum at_data_end why);
};

struct at_session {
	bool echo;
	bool verbose; /* V1: text results; V0: numeric */
	bool quiet; /* Q1: no result codes */
	int cmee;
	bool busy; /* a command line is running */
	bool block_open; /* an information block has started */
	char line[AT_LINE_MAX + 1];
	size_t line_len;
	const char *next;
	struct at_cmd_req cur;
	int ncmds; /* commands run so far on this line */
	char why[320];
	const struct at_data_ops *data_ops;
	void *data_arg;
	bool transparent; /* in a transparent data mode (a socket), no command running */
	bool tp_pending; /* enter transparent mode once the current line's result is out */
	const char *tp_banner; /* printed on entering transparent mode (\"CONNECT\") */
	const struct at_data_ops *tp_ops;
	void *tp_arg;
};

/* Families and profiles: the first row named name (case-insensitively), and its family in
 * *fam (fam may be NULL). NULL when no family has it. */
const struct at_cmd *at_lookup(const struct at_family *const *families, const char *name,
                               const struct at_family **fam);

/* Engine entry points, used by the modem shell. */
void at_session_reset(struct at_session *s, int cmee_default);
void at_dispatch_line(struct modem *m, const uint8_t *line, size_t len, bool overflow);

/* Output for handlers. Info lines are framed per V.250: the first line of a command's block is
 * preceded by CR LF, every line is followed by CR LF. */
void at_info(struct modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void at_info_bytes(struct modem *m, const void *p, size_t n);
/* Info lines from a text whose lines are separated by "\n" (TEST answers). */
void at_info_lines(struct modem *m, const char *text);
/* Start the next info line without the leading CR LF (as +QFUPL after its data). */
void at_info_noblank(struct modem *m);
/* "\r\nTEXT\r\n": CONNECT, SEND OK, DEACT OK, ... */
void at_text(struct modem *m, const char *text);
/* A result a handler prints itself (it answers AT_CUSTOM): "\r\nTEXT\r\n", or its number the
 * same way with ATV0, nothing with ATQ1. */
void at_text_result(struct modem *m, const char *text, int code);
/* The commands after the current one on its line are not run (a module going down). */
void at_line_end(struct modem *m);
void at_send(struct modem *m, const void *p, size_t n);
/* Reason for the trace line of the current command. */
void at_why(struct modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "\r\n> " and PROMPT mode; fixed_len 0 runs to Ctrl+Z / ESC. */
void at_prompt(struct modem *m, size_t fixed_len, const struct at_data_ops *ops, void *arg);
/* RAW input mode (the caller printed CONNECT). */
void at_raw(struct modem *m, size_t len, uint64_t idle_ms, uint64_t guard_ms,
            const struct at_data_ops *ops, void *arg);
/* Transparent data mode (QSSLOPEN/QIOPEN access mode 2, ATO): after the current command's
 * final result (the caller prints CONNECT and answers AT_CUSTOM), every host byte goes to
 * ops->data until "+++" framed by 1 s guard times (scaled by --time-scale); then ops->end gets
 * AT_END_ESCAPE with the modem back in command mode (the owner prints OK). Bytes from the
 * network go to the host with at_send() meanwhile; URCs wait. Called with no command running,
 * it takes effect at once. */
void at_transparent(struct modem *m, const struct at_data_ops *ops, void *arg);
/* Text to print at the moment transparent mode is entered by the next at_transparent() (e.g.
 * "CONNECT" for a connection that came up while the host was running another command: it
 * comes after that command's final result). Static storage. */
void at_transparent_banner(struct modem *m, const char *text);
/* Leave transparent mode from the network side (peer closed): print text (e.g. "NO CARRIER")
 * if not NULL. A pending entry is cancelled silently. */
void at_transparent_exit(struct modem *m, const char *text);
bool at_in_transparent(const struct modem *m);
/* Transparent mode is to begin once the current command line's result is out. */
bool at_transparent_pending(const struct modem *m);

/* Finish the pending command with rc (AT_OK, AT_ERROR, CME code, AT_CUSTOM). */
void at_complete(struct modem *m, int rc);
/* Run the pending command now, as if it had just arrived but without asking the scenario
 * engine again (a scenario rule held it back), and finish it as at_complete() does. */
void at_run_current(struct modem *m);

/* Data-mode events from the engine, forwarded by the modem shell. */
void at_data_event(struct modem *m, const struct at_event *ev);
/* The data phase in progress (prompt, upload, transparent mode), if any, is abandoned: its
 * owner's end() gets AT_END_ABANDON and the line engine returns to command mode. For reboot,
 * power down and shutdown. */
void at_data_abandon(struct modem *m);
/* Print a result code as the session's V and Q settings want it ("OK"/"0", "NO CARRIER"/"3");
 * nothing with Q1. For results that are not a command's final result (after +++). */
void at_result_code(struct modem *m, const char *text, int code);

const char *at_cme_text(int code);

/* Parameter helpers for handlers. */
static inline bool at_given(const struct at_call *c, int i)
{
	return i < c->args.n && c->args.p[i].type != AT_P_OMITTED;
}
static inline long long at_num(const struct at_call *c, int i)
{
	return c->args.p[i].num;
}
/* Copy a string parameter into dst (NUL-terminated). -1 if it does not fit or has a NUL. */
int at_str(const struct at_call *c, int i, char *dst, size_t dst_len);

#endif
