/* V.250 basic commands and the session settings every model shares. */
#include <stdio.h>
#include <string.h>

#include "at/families.h"
#include "modem/modem.h"

static int basic_flag(struct at_call *c, bool *flag)
{
	long long v = 0;

	if (c->req == AT_REQ_WRITE)
		v = at_num(c, 0);
	if (v > 1) {
		at_why(c->m, "%s takes 0 or 1", c->cmd->name);
		return AT_ERROR;
	}
	*flag = v == 1;
	return AT_OK;
}

static int cmd_e(struct at_call *c)
{
	return basic_flag(c, &c->m->at.echo);
}

static int cmd_v(struct at_call *c)
{
	return basic_flag(c, &c->m->at.verbose);
}

static int cmd_q(struct at_call *c)
{
	return basic_flag(c, &c->m->at.quiet);
}

/* ATZ and AT&F: back to the factory settings of the session. */
static int cmd_z(struct at_call *c)
{
	struct at_session *s = &c->m->at;

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	s->echo = true;
	s->verbose = true;
	s->quiet = false;
	s->cmee = c->m->model->cmee_default;
	return AT_OK;
}

static int cmd_ok(struct at_call *c)
{
	(void)c;
	return AT_OK;
}

static int cmd_i(struct at_call *c)
{
	const struct model_profile *p = c->m->model;

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	at_info(c->m, "%s", p->manufacturer);
	at_info(c->m, "%s", p->ati_model);
	at_info(c->m, "Revision: %s", p->revision);
	return AT_OK;
}

/* S registers: S0 auto-answer rings, S3 CR, S4 LF, S5 BS, S7 connect wait, S10 carrier loss
 * delay. Only their values are kept; the line engine uses the standard characters. */
static struct {
	const char *name;
	int def;
	int max;
} sregs[] = {
        {"S0", 0, 255}, {"S3", 13, 127},  {"S4", 10, 127},
        {"S5", 8, 127}, {"S7", 255, 255}, {"S10", 15, 254},
};

static int cmd_s(struct at_call *c)
{
	const char *name = c->m->at.cur.name;
	size_t i;

	for (i = 0; i < sizeof(sregs) / sizeof(sregs[0]); i++)
		if (strcmp(sregs[i].name, name) == 0)
			break;
	if (i == sizeof(sregs) / sizeof(sregs[0])) {
		at_why(c->m, "no S register %s", name + 1);
		return AT_ERROR;
	}
	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "%03d", sregs[i].def);
		return AT_OK;
	case AT_REQ_WRITE:
		if (at_num(c, 0) < 0 || at_num(c, 0) > sregs[i].max)
			return AT_ERROR;
		return AT_OK;
	case AT_REQ_TEST:
		at_info(c->m, "%s: (0-%d)", name, sregs[i].max);
		return AT_OK;
	case AT_REQ_EXEC:
		return AT_OK;
	}
	return AT_ERROR;
}

static int cmd_cmee(struct at_call *c)
{
	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "+CMEE: %d", c->m->at.cmee);
		return AT_OK;
	case AT_REQ_WRITE:
		c->m->at.cmee = at_given(c, 0) ? (int)at_num(c, 0) : 0;
		return AT_OK;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		break;
	}
	return AT_OK;
}

static const long long ec25_rates[] = {4800,   9600,   19200,  38400,   57600,   115200,
                                       230400, 460800, 921600, 3000000, 3686400, 4000000};

/* The pty has no baud rate; the value is kept for the read form. */
static int cmd_ipr(struct at_call *c)
{
	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "+IPR: %d", c->m->ipr);
		return AT_OK;
	case AT_REQ_WRITE:
		for (size_t i = 0; i < sizeof(ec25_rates) / sizeof(ec25_rates[0]); i++)
			if (at_num(c, 0) == ec25_rates[i] || at_num(c, 0) == 0) {
				c->m->ipr = (int)at_num(c, 0);
				return AT_OK;
			}
		at_why(c->m, "unsupported baud rate %lld", at_num(c, 0));
		return AT_ERROR;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		break;
	}
	return AT_OK;
}

#define ALL (AT_REQ_EXEC | AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define FLAG_ROW(n, fn)                                                                            \
	{                                                                                          \
		n, AT_REQ_EXEC | AT_REQ_WRITE, 1, 1, AT_SPEC(AT_NUM(0, 9)), NULL, 0, 0, fn         \
	}

static const struct at_cmd basic_cmds[] = {
        FLAG_ROW("E", cmd_e),
        FLAG_ROW("V", cmd_v),
        FLAG_ROW("Q", cmd_q),
        FLAG_ROW("Z", cmd_z),
        FLAG_ROW("&F", cmd_z),
        FLAG_ROW("I", cmd_i),
        FLAG_ROW("&W", cmd_ok),
        FLAG_ROW("H", cmd_ok),
        FLAG_ROW("X", cmd_ok),
        FLAG_ROW("&C", cmd_ok),
        FLAG_ROW("&D", cmd_ok),
        {"S0", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"S3", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"S4", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"S5", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"S7", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"S10", ALL, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0, 0, cmd_s},
        {"+CMEE", AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST, 0, 1, AT_SPEC(AT_NUM(0, 2)),
         "+CMEE: (0-2)", 0, 0, cmd_cmee},
        {"+IPR", AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_NUM(0, 4000000)),
         "+IPR: (4800,9600,19200,38400,57600,115200,230400,460800,921600,3000000,3686400,"
         "4000000)",
         0, 0, cmd_ipr},
        {0},
};

const struct at_family at_family_basic = {
        .name = "basic",
        .cmds = basic_cmds,
};
