#include "at/dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "modem/profile.h"

const struct at_cmd *at_lookup(const struct at_family *const *families, const char *name,
                               const struct at_family **fam)
{
	for (; *families; families++)
		for (const struct at_cmd *c = (*families)->cmds; c->name; c++)
			if (strcasecmp(c->name, name) == 0) {
				if (fam)
					*fam = *families;
				return c;
			}
	return NULL;
}

void at_session_reset(struct at_session *s, int cmee_default)
{
	memset(s, 0, sizeof(*s));
	s->echo = true;
	s->verbose = true;
	s->quiet = false;
	s->cmee = cmee_default;
}

/* ---- output ---- */

void at_send(struct modem *m, const void *p, size_t n)
{
	modem_out(m, p, n);
}

static void info_begin(struct modem *m)
{
	if (!m->at.block_open && m->at.verbose)
		at_send(m, "\r\n", 2);
	m->at.block_open = true;
}

void at_info_noblank(struct modem *m)
{
	m->at.block_open = true;
}

void at_info_bytes(struct modem *m, const void *p, size_t n)
{
	info_begin(m);
	at_send(m, p, n);
	at_send(m, "\r\n", 2);
}

void at_info(struct modem *m, const char *fmt, ...)
{
	char small[512];
	struct buf b;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		at_info_bytes(m, small, (size_t)n);
		return;
	}
	buf_init(&b, 0);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	at_info_bytes(m, b.data, b.len);
	buf_free(&b);
}

void at_text(struct modem *m, const char *text)
{
	if (!m->at.verbose && strcmp(text, "CONNECT") == 0) {
		at_send(m, "1\r", 2);
		return;
	}
	at_send(m, "\r\n", 2);
	at_send(m, text, strlen(text));
	at_send(m, "\r\n", 2);
}

void at_why(struct modem *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->at.why, sizeof(m->at.why), fmt, ap);
	va_end(ap);
}

int at_str(const struct at_call *c, int i, char *dst, size_t dst_len)
{
	const struct at_param *p;

	if (i >= c->args.n || dst_len == 0)
		return -1;
	p = &c->args.p[i];
	if (p->type == AT_P_OMITTED) {
		dst[0] = 0;
		return 0;
	}
	if (p->len >= dst_len || memchr(p->s, 0, p->len))
		return -1;
	memcpy(dst, p->s, p->len);
	dst[p->len] = 0;
	return 0;
}

/* ---- final results ---- */

static void result_text(struct modem *m, int rc, char *out, size_t len)
{
	if (rc == AT_OK)
		snprintf(out, len, "OK");
	else if (rc == AT_CUSTOM)
		snprintf(out, len, "(custom)");
	else if (rc == AT_ERROR || m->at.cmee == 0)
		snprintf(out, len, "ERROR");
	else if (m->at.cmee == 1)
		snprintf(out, len, "+CME ERROR: %d", rc);
	else
		snprintf(out, len, "+CME ERROR: %s", at_cme_text(rc));
}

static void emit_final(struct modem *m, int rc)
{
	char text[96];

	if (rc == AT_CUSTOM || m->at.quiet)
		return;
	if (!m->at.verbose) {
		if (rc == AT_OK) {
			at_send(m, "0\r", 2);
		} else if (rc == AT_ERROR || m->at.cmee == 0) {
			at_send(m, "4\r", 2);
		} else {
			result_text(m, rc, text, sizeof(text));
			at_send(m, text, strlen(text));
			at_send(m, "\r\n", 2);
		}
		return;
	}
	result_text(m, rc, text, sizeof(text));
	at_text(m, text);
}

static void trace_result(struct modem *m, const char *cmd, size_t len, int rc)
{
	char text[96];

	if (!trace_enabled())
		return;
	result_text(m, rc, text, sizeof(text));
	trace_cmd(m->index, cmd, len, text, m->at.why[0] ? m->at.why : NULL);
}

/* The line is over: print its final result, and let URCs and input flow again. */
static void enter_transparent(struct modem *m)
{
	double guard = (double)modem_proto_ms(m, 1000);

	m->at.tp_pending = false;
	if (m->at.tp_banner)
		at_text(m, m->at.tp_banner);
	m->at.tp_banner = NULL;
	m->at.transparent = true;
	m->at.data_ops = m->at.tp_ops;
	m->at.data_arg = m->at.tp_arg;
	at_line_raw(&m->line, 0, 0, guard < 1 ? 1 : (uint64_t)guard, modem_input_unfed(m),
	            modem_now(m));
	modem_line_timer_update(m);
	trace_event(m->index, "note", "transparent data mode");
}

void at_transparent(struct modem *m, const struct at_data_ops *ops, void *arg)
{
	m->at.tp_ops = ops;
	m->at.tp_arg = arg;
	m->at.tp_pending = true;
	if (!m->at.busy)
		enter_transparent(m);
}

bool at_in_transparent(const struct modem *m)
{
	return m->at.transparent;
}

bool at_transparent_pending(const struct modem *m)
{
	return m->at.tp_pending;
}

static void leave_transparent(struct modem *m)
{
	m->at.transparent = false;
	m->at.data_ops = NULL;
	m->at.data_arg = NULL;
	at_line_command(&m->line);
	modem_line_timer_update(m);
}

void at_transparent_banner(struct modem *m, const char *text)
{
	m->at.tp_banner = text;
}

void at_transparent_exit(struct modem *m, const char *text)
{
	if (!m->at.transparent) {
		m->at.tp_pending = false;
		m->at.tp_banner = NULL;
		return;
	}
	leave_transparent(m);
	trace_event(m->index, "note", "transparent data mode ended%s%s", text ? ": " : "",
	            text ? text : "");
	if (text)
		at_text(m, text);
	modem_urc_flush(m);
}

static void line_done(struct modem *m, int rc)
{
	emit_final(m, rc);
	m->at.busy = false;
	m->at.block_open = false;
	m->at.data_ops = NULL;
	m->at.data_arg = NULL;
	if (m->at.tp_pending)
		enter_transparent(m);
	modem_urc_flush(m);
	/* what the host typed while the command ran is read now, not at its next byte */
	modem_resume_input(m);
}

/* Whole-line failures (before any command ran). */
static void line_fail(struct modem *m, const uint8_t *line, size_t len, const char *why)
{
	m->at.why[0] = 0;
	at_why(m, "%s", why);
	modem_hook_bad_line(m, (const char *)line, len);
	trace_result(m, (const char *)line, len, AT_ERROR);
	m->at.why[0] = 0;
	emit_final(m, AT_ERROR);
	modem_urc_flush(m);
}

static int central_checks(struct at_call *c)
{
	const struct at_cmd *cmd = c->cmd;
	struct modem *m = c->m;
	int bad = cmd->bad_args ? cmd->bad_args : AT_ERROR;

	if (c->req == AT_REQ_WRITE) {
		if (c->args.n < cmd->min_args || c->args.n > cmd->max_args) {
			at_why(m, "%s takes %d to %d parameters, got %d", cmd->name, cmd->min_args,
			       cmd->max_args, c->args.n);
			return bad;
		}
		for (int i = 0; i < cmd->nspec && i < c->args.n; i++) {
			const struct at_argspec *s = &cmd->spec[i];
			const struct at_param *p = &c->args.p[i];

			if (p->type == AT_P_OMITTED)
				continue;
			switch (s->type) {
			case AT_A_ANY:
				break;
			case AT_A_NUM:
				if (p->type != AT_P_NUM) {
					at_why(m, "parameter %d of %s must be a number", i + 1,
					       cmd->name);
					return bad;
				}
				if (p->num < s->min || p->num > s->max) {
					at_why(m, "parameter %d of %s is %lld, outside %lld-%lld",
					       i + 1, cmd->name, p->num, s->min, s->max);
					return bad;
				}
				break;
			case AT_A_STR:
			case AT_A_TEXT:
				if (s->type == AT_A_STR && p->type != AT_P_STR) {
					at_why(m, "parameter %d of %s must be a quoted string",
					       i + 1, cmd->name);
					return bad;
				}
				if (s->max && p->len > (size_t)s->max) {
					at_why(m, "parameter %d of %s is %zu bytes, at most %lld",
					       i + 1, cmd->name, p->len, s->max);
					return bad;
				}
				break;
			}
		}
	}
	if (cmd->flags & AT_F_SIM) {
		switch (m->sim_state) {
		case SIM_READY:
			break;
		case SIM_ABSENT:
			at_why(m, "no SIM card");
			return CME_SIM_NOT_INSERTED;
		case SIM_PIN:
			at_why(m, "SIM PIN required");
			return CME_SIM_PIN_REQUIRED;
		case SIM_PUK:
			at_why(m, "SIM PUK required");
			return CME_SIM_PUK_REQUIRED;
		}
	}
	return AT_OK;
}

void at_info_lines(struct modem *m, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		at_info_bytes(m, p, n);
		p += n + (nl ? 1 : 0);
	}
}

static int run_one(struct modem *m, const struct at_cmd_req *r, bool ask_scenario)
{
	struct at_call call;
	char why[200];
	int rc;

	/* A scenario rule may answer, hold back or drop the command (scenario/engine.h). */
	if (ask_scenario && modem_hook_command(m, r, &rc))
		return rc;
	memset(&call, 0, sizeof(call));
	call.m = m;
	call.req = r->req;
	call.cmd = at_lookup(m->model->families, r->name, &call.fam);
	if (!call.cmd) {
		modem_hook_unknown(m, r->name);
		if (profile_unsimulated(m->model, r->name)) {
			/* the module has it; modemsim does not simulate it */
			at_why(m, "%s is a command of the %s that modemsim does not simulate",
			       r->name, m->model->model);
			return CME_NOT_SUPPORTED;
		}
		at_why(m, "%s is not a command of the %s", r->name, m->model->model);
		return AT_ERROR;
	}
	if (!(call.cmd->reqs & r->req)) {
		static const char *const forms[] = {"", "execute", "read", "",    "write",
		                                    "", "",        "",     "test"};

		at_why(m, "%s has no %s form", call.cmd->name, forms[r->req]);
		return AT_ERROR;
	}
	if (r->req == AT_REQ_WRITE &&
	    at_parse_args(r->args, r->args_len, &call.args, why, sizeof(why)) != 0) {
		at_why(m, "%s", why);
		modem_hook_bad_line(m, r->text, r->text_len);
		return (call.cmd->flags & AT_F_NOCME) || !call.cmd->bad_args ? AT_ERROR
		                                                             : call.cmd->bad_args;
	}
	rc = central_checks(&call);
	if (rc != AT_OK)
		return rc;
	modem_hook_call(m, &call);
	if (r->req == AT_REQ_TEST && call.cmd->test) {
		at_info_lines(m, call.cmd->test);
		return AT_OK;
	}
	rc = call.cmd->fn ? call.cmd->fn(&call) : AT_OK;
	return rc;
}

/* Run the commands of the current line from at.next until one is pending or fails. */
static void run_line(struct modem *m)
{
	const char *end = m->at.line + m->at.line_len;

	for (;;) {
		const char *why = NULL;
		int got, rc;

		got = at_parse_next(&m->at.next, end, &m->at.cur, &why);
		if (got == 0) {
			line_done(m, AT_OK);
			return;
		}
		if (got < 0) {
			at_why(m, "%s at column %zu", why, (size_t)(m->at.next - m->at.line) + 1);
			modem_hook_bad_line(m, m->at.next, (size_t)(end - m->at.next));
			trace_result(m, m->at.next, (size_t)(end - m->at.next), AT_ERROR);
			line_done(m, AT_ERROR);
			return;
		}
		m->at.why[0] = 0;
		m->at.block_open = false;
		m->at.ncmds++;
		rc = run_one(m, &m->at.cur, true);
		if (rc == AT_PENDING)
			return;
		trace_result(m, m->at.cur.text, m->at.cur.text_len, rc);
		modem_hook_command_done(m, &m->at.cur, rc);
		if (rc != AT_OK) {
			line_done(m, rc);
			return;
		}
	}
}

void at_complete(struct modem *m, int rc)
{
	if (!m->at.busy) {
		log_msg(LOG_WARN, "#%d: command completed twice (rc %d)", m->index, rc);
		return;
	}
	m->at.data_ops = NULL;
	m->at.data_arg = NULL;
	at_line_command(&m->line);
	trace_result(m, m->at.cur.text, m->at.cur.text_len, rc);
	modem_hook_command_done(m, &m->at.cur, rc);
	if (rc != AT_OK) {
		line_done(m, rc);
		return;
	}
	run_line(m);
}

void at_run_current(struct modem *m)
{
	int rc;

	if (!m->at.busy)
		return;
	rc = run_one(m, &m->at.cur, false);
	if (rc != AT_PENDING)
		at_complete(m, rc);
}

static bool ignorable(uint8_t c)
{
	return c == ' ' || c == '\t' || c < 0x20 || c == 0x7f;
}

void at_dispatch_line(struct modem *m, const uint8_t *line, size_t len, bool overflow)
{
	const uint8_t *nul;

	if (overflow) {
		line_fail(m, line, len, "command line longer than 4096 bytes");
		return;
	}
	/* Stray control bytes (a CR after uploaded data, "\x1a\r" after a prompt) and blank
	 * lines produce nothing, so they cannot shift the host's view of the next reply. */
	while (len && ignorable(line[0])) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if (len < 2 || (line[0] != 'A' && line[0] != 'a') || (line[1] != 'T' && line[1] != 't')) {
		line_fail(m, line, len, "line does not start with AT");
		return;
	}
	nul = memchr(line, 0, len);
	if (nul) {
		char why[64];

		snprintf(why, sizeof(why), "NUL byte at column %zu", (size_t)(nul - line) + 1);
		line_fail(m, line, len, why);
		return;
	}
	memcpy(m->at.line, line, len);
	m->at.line[len] = 0;
	m->at.line_len = len;
	m->at.next = m->at.line + 2;
	m->at.busy = true;
	m->at.ncmds = 0;
	m->at.block_open = false;
	m->at.why[0] = 0;
	if (len == 2) {
		trace_cmd(m->index, "AT", 2, "OK", NULL);
		line_done(m, AT_OK);
		return;
	}
	run_line(m);
}

/* ---- data modes ---- */

void at_prompt(struct modem *m, size_t fixed_len, const struct at_data_ops *ops, void *arg)
{
	m->at.data_ops = ops;
	m->at.data_arg = arg;
	at_send(m, m->model->prompt, strlen(m->model->prompt));
	at_line_prompt(&m->line, fixed_len, modem_input_unfed(m), modem_now(m));
	modem_line_timer_update(m);
}

void at_raw(struct modem *m, size_t len, uint64_t idle_ms, uint64_t guard_ms,
            const struct at_data_ops *ops, void *arg)
{
	m->at.data_ops = ops;
	m->at.data_arg = arg;
	at_line_raw(&m->line, len, idle_ms, guard_ms, modem_input_unfed(m), modem_now(m));
	modem_line_timer_update(m);
}

void at_data_event(struct modem *m, const struct at_event *ev)
{
	const struct at_data_ops *ops = m->at.data_ops;

	if (!ops) {
		if (ev->type == AT_EV_DATA_END)
			at_line_command(&m->line);
		return;
	}
	if (ev->type == AT_EV_DATA && ev->len) {
		ops->data(m, m->at.data_arg, ev->data, ev->len);
	} else if (ev->type == AT_EV_DATA_END) {
		void *arg = m->at.data_arg;

		modem_hook_data_end(m, ev->end);
		if (m->at.transparent) {
			/* back in command mode before the owner answers (OK) */
			leave_transparent(m);
			ops->end(m, arg, ev->end);
			modem_urc_flush(m);
			return;
		}
		ops->end(m, arg, ev->end);
	}
}

void at_data_abandon(struct modem *m)
{
	const struct at_data_ops *ops = m->at.data_ops;
	void *arg = m->at.data_arg;

	m->at.data_ops = NULL;
	m->at.data_arg = NULL;
	if (m->at.transparent)
		leave_transparent(m);
	else
		at_line_command(&m->line);
	if (!ops)
		return;
	trace_event(m->index, "note", "data phase abandoned");
	ops->end(m, arg, AT_END_ABANDON);
}

void at_text_result(struct modem *m, const char *text, int code)
{
	char num[16];

	if (m->at.quiet)
		return;
	snprintf(num, sizeof(num), "%d", code);
	at_text(m, m->at.verbose ? text : num);
}

void at_line_end(struct modem *m)
{
	m->at.next = m->at.line + m->at.line_len;
}

void at_result_code(struct modem *m, const char *text, int code)
{
	char num[16];

	if (m->at.quiet)
		return;
	if (m->at.verbose) {
		at_text(m, text);
		return;
	}
	snprintf(num, sizeof(num), "%d\r", code);
	at_send(m, num, strlen(num));
}

/* ---- +CME ERROR texts (CMEE=2) ---- */

struct cme_text {
	int code;
	const char *text;
};

static const struct cme_text cme_texts[] = {
        {0, "phone failure"},
        {1, "no connection to phone"},
        {3, "operation not allowed"},
        {4, "operation not supported"},
        {5, "PH-SIM PIN required"},
        {10, "SIM not inserted"},
        {11, "SIM PIN required"},
        {12, "SIM PUK required"},
        {13, "SIM failure"},
        {14, "SIM busy"},
        {15, "SIM wrong"},
        {16, "incorrect password"},
        {20, "memory full"},
        {21, "invalid index"},
        {22, "not found"},
        {23, "memory failure"},
        {24, "text string too long"},
        {25, "invalid characters in text string"},
        {26, "dial string too long"},
        {27, "invalid characters in dial string"},
        {30, "no network service"},
        {31, "network timeout"},
        {32, "network not allowed - emergency calls only"},
        {50, "incorrect parameters"},
        {100, "unknown"},
        {400, "invalid input value"},
        {401, "larger than the size of the file"},
        {402, "read zero byte"},
        {403, "drive full"},
        {405, "file not found"},
        {406, "invalid file name"},
        {407, "file already existed"},
        {409, "fail to write the file"},
        {410, "fail to open the file"},
        {411, "fail to read the file"},
        {413, "reach the max number of files allowed to be opened"},
        {414, "the file read-only"},
        {416, "invalid file descriptor"},
        {417, "fail to list the file"},
        {418, "fail to delete the file"},
        {419, "fail to get disk info"},
        {420, "no space"},
        {421, "time out"},
        {423, "file too large"},
        {425, "invalid parameter"},
        {426, "file already opened"},
        {550, "unknown error"},
        {551, "operation blocked"},
        {552, "invalid parameters"},
        {553, "memory not enough"},
        {554, "create socket failed"},
        {555, "operation not supported"},
        {556, "socket bind failed"},
        {557, "socket listen failed"},
        {558, "socket write failed"},
        {559, "socket read failed"},
        {560, "socket accept failed"},
        {561, "open PDP context failed"},
        {562, "close PDP context failed"},
        {563, "socket identity has been used"},
        {564, "DNS busy"},
        {565, "DNS parse failed"},
        {566, "socket connect failed"},
        {567, "socket has been closed"},
        {568, "operation busy"},
        {569, "operation timeout"},
        {570, "PDP context broken down"},
        {571, "cancel send"},
        {572, "operation not allowed"},
        {573, "APN not configured"},
        {574, "port busy"},
};

const char *at_cme_text(int code)
{
	for (size_t i = 0; i < sizeof(cme_texts) / sizeof(cme_texts[0]); i++)
		if (cme_texts[i].code == code)
			return cme_texts[i].text;
	return "unknown";
}
