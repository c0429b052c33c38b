/* Status and network commands: SIM state, registration and its URC modes, operator, signal,
 * clock, functionality, power down and NTP (reference §7, 3GPP TS 27.007).
 *
 * Wire sequences kept here:
 *   AT+CREG=1 / AT+CFUN=0   ==> OK, then <== +CREG: 0          (URCs always after the final)
 *   AT+CFUN=1,1             ==> OK, then the boot URCs (RDY, +CFUN: 1, ...)
 *   AT+QPOWD (EC25)         ==> OK, POWERED DOWN, silence, then the boot URCs
 *   AT+QPOWD=1 (M95)        ==> NORMAL POWER DOWN (no OK), silence, then the boot URCs
 *   AT+QNTP=1,"server"      ==> OK, then <== +QNTP: 0,"yyyy/MM/dd,hh:mm:ss±zz" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"

/* How long a powered-down module stays off before the simulator powers it on again. A real
 * module stays off until its PWRKEY is pulsed; the host of a simulator has no PWRKEY, so the
 * simulated one comes back by itself. */
#define NET_POWER_OFF_MS 5000
/* An NTP exchange over a live PDP context; the BG96/EC2x TCP/IP note allows up to 125 s. */
#define NET_NTP_MS 1000
/* A manual network scan (AT+COPS=?); the reference gives 180 s as the maximum (§10). */
#define NET_SCAN_MS 3000

/* ---- +CPIN ---- */

static int cmd_cpin(struct at_call *c)
{
	if (c->req != AT_REQ_READ)
		return AT_OK;
	switch (c->m->sim_state) {
	case SIM_READY:
		at_info(c->m, "+CPIN: READY");
		return AT_OK;
	case SIM_PIN:
		at_info(c->m, "+CPIN: SIM PIN");
		return AT_OK;
	case SIM_PUK:
		at_info(c->m, "+CPIN: SIM PUK");
		return AT_OK;
	case SIM_ABSENT:
		at_why(c->m, "no SIM card");
		return CME_SIM_NOT_INSERTED;
	}
	return AT_ERROR;
}

/* ---- registration ---- */

static int *reg_mode(struct modem *m, const char *name)
{
	if (strcmp(name, "+CGREG") == 0)
		return &m->reg.cgreg_n;
	if (strcmp(name, "+CEREG") == 0)
		return &m->reg.cereg_n;
	return &m->reg.creg_n;
}

/* +CREG / +CGREG / +CEREG: the write form sets <n> (omitted: 0, 27.007 7.2). */
static int cmd_reg(struct at_call *c)
{
	int *n = reg_mode(c->m, c->cmd->name);
	char line[96];

	switch (c->req) {
	case AT_REQ_READ:
		reg_format(c->m, c->cmd->name, *n, line, sizeof(line));
		at_info(c->m, "%s", line);
		return AT_OK;
	case AT_REQ_WRITE:
		*n = at_given(c, 0) ? (int)at_num(c, 0) : 0;
		return AT_OK;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		break;
	}
	return AT_OK;
}

static void register_cb(struct modem *m, void *arg)
{
	(void)arg;
	m->reg.reg_timer = NULL;
	reg_set_registration(m, m->reg.reg_stat);
}

/* The network takes the modem back after +CFUN=1 or +COPS=0 (after a realistic delay). The
 * URCs come after the command's OK whatever the delay: the dispatcher holds URCs while a
 * command runs. */
static void schedule_registration(struct modem *m)
{
	uint64_t d = modem_delay(m, REG_DELAY_MS);

	if (m->cfun != 1 || m->reg.cops_mode == 2 || reg_registered(m) || m->reg.reg_timer)
		return;
	if (d == 0) {
		reg_set_registration(m, m->reg.reg_stat);
		return;
	}
	m->reg.reg_timer = modem_after(m, d, register_cb, NULL);
}

static void deregister(struct modem *m)
{
	modem_timer_cancel(m->reg.reg_timer);
	m->reg.reg_timer = NULL;
	reg_set_registration(m, REG_STAT_NOT_REGISTERED);
}

/* ---- +COPS ---- */

static const char *oper_name(const struct reg_state *n, int format)
{
	if (format == 1)
		return n->oper_short;
	if (format == 2)
		return n->oper_numeric;
	return n->oper_long;
}

/* 27.007 7.3: `+COPS: <mode>[,<format>,<oper>[,<AcT>]]`, only <mode> while not registered. */
static int cops_read(struct at_call *c)
{
	const struct reg_state *n = &c->m->reg;
	char act[16] = "";

	if (!reg_registered(c->m)) {
		at_info(c->m, "+COPS: %d", n->cops_mode);
		return AT_OK;
	}
	if (n->act >= 0)
		snprintf(act, sizeof(act), ",%d", n->act);
	at_info(c->m, "+COPS: %d,%d,\"%s\"%s", n->cops_mode, n->cops_format,
	        oper_name(n, n->cops_format), act);
	return AT_OK;
}

static void cops_scan_done(struct modem *m, void *arg)
{
	const struct reg_state *n = &m->reg;
	char act[16] = "";

	(void)arg;
	if (n->act >= 0)
		snprintf(act, sizeof(act), ",%d", n->act);
	/* <stat> 2: the current operator; then the supported modes and formats (27.007 7.3) */
	at_info(m, "+COPS: (%d,\"%s\",\"%s\",\"%s\"%s),,(0-4),(0-2)", reg_registered(m) ? 2 : 1,
	        n->oper_long, n->oper_short, n->oper_numeric, act);
	at_complete(m, AT_OK);
}

static int cmd_cops(struct at_call *c)
{
	struct modem *m = c->m;
	struct reg_state *n = &m->reg;
	char oper[40];
	int mode, format;

	switch (c->req) {
	case AT_REQ_READ:
		return cops_read(c);
	case AT_REQ_TEST:
		if (m->cfun != 1) {
			at_why(m, "no radio: +CFUN is %d", m->cfun);
			return CME_NO_NETWORK;
		}
		if (!modem_after(m, modem_delay(m, NET_SCAN_MS), cops_scan_done, NULL))
			return CME_UNKNOWN;
		return AT_PENDING;
	case AT_REQ_EXEC:
		return AT_ERROR;
	case AT_REQ_WRITE:
		break;
	}
	mode = (int)at_num(c, 0);
	format = at_given(c, 1) ? (int)at_num(c, 1) : n->cops_format;
	oper[0] = 0;
	if (!at_given(c, 0) || (at_given(c, 2) && at_str(c, 2, oper, sizeof(oper)) != 0))
		return AT_ERROR;
	switch (mode) {
	case 0:
		n->cops_mode = 0;
		n->cops_format = format;
		schedule_registration(m);
		return AT_OK;
	case 1:
	case 4:
		if (!at_given(c, 2)) {
			at_why(m, "manual selection needs <oper>");
			return AT_ERROR;
		}
		if (strcmp(oper, oper_name(n, format)) != 0 && mode == 1) {
			at_why(m, "operator \"%s\" is not in range", oper);
			return CME_NO_NETWORK;
		}
		/* mode 4 falls back to automatic selection when <oper> is not found */
		n->cops_mode = strcmp(oper, oper_name(n, format)) == 0 ? mode : 0;
		n->cops_format = format;
		schedule_registration(m);
		return AT_OK;
	case 2:
		n->cops_mode = 2;
		deregister(m);
		return AT_OK;
	case 3:
		if (!at_given(c, 1))
			return AT_ERROR;
		n->cops_format = format;
		return AT_OK;
	}
	return AT_ERROR;
}

/* ---- signal ---- */

static int cmd_csq(struct at_call *c)
{
	const struct reg_state *n = &c->m->reg;

	if (c->req != AT_REQ_EXEC)
		return AT_OK;
	if (!reg_registered(c->m)) {
		at_info(c->m, "+CSQ: 99,99");
		return AT_OK;
	}
	at_info(c->m, "+CSQ: %d,%d", n->rssi, n->ber);
	return AT_OK;
}

/* EC25 +QCSQ: `+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>` or `+QCSQ: "NOSERVICE"` (reference
 * §7, the field log's `+QCSQ: "LTE",50,-78,188,-14`); the BG96 names its RAT "CAT-M1" (a BG96
 * capture: `+QCSQ: "CAT-M1",-62,-101,71,-20`). The <sysmode> is the profile's. */
static int cmd_qcsq(struct at_call *c)
{
	const struct reg_state *n = &c->m->reg;

	if (c->req != AT_REQ_EXEC)
		return AT_OK;
	if (!reg_registered(c->m)) {
		at_info(c->m, "+QCSQ: \"NOSERVICE\"");
		return AT_OK;
	}
	at_info(c->m, "+QCSQ: \"%s\",%d,%d,%d,%d", n->qcsq_mode, n->lte_rssi, n->rsrp, n->sinr,
	        n->rsrq);
	return AT_OK;
}

/* EC25 +QNWINFO: `+QNWINFO: "FDD LTE","00101","LTE BAND 3",1300` (reference §7 and the field
 * log); `+QNWINFO: No Service` without a network (EC25 AT manual [MEM]). */
static int cmd_qnwinfo(struct at_call *c)
{
	const struct reg_state *n = &c->m->reg;

	if (c->req != AT_REQ_EXEC)
		return AT_OK;
	if (!reg_registered(c->m)) {
		at_info(c->m, "+QNWINFO: No Service");
		return AT_OK;
	}
	at_info(c->m, "+QNWINFO: \"%s\",\"%s\",\"%s\",%d", n->nw_act, n->oper_numeric, n->band,
	        n->channel);
	return AT_OK;
}

/* ---- +CCLK ---- */

static int cmd_cclk(struct at_call *c)
{
	struct modem *m = c->m;
	char text[40];
	int64_t utc, real;
	int tz;

	switch (c->req) {
	case AT_REQ_READ:
		reg_rtc_format(modem_rtc_ms(m), m->rtc_tz, false, text, sizeof(text));
		at_info(m, "+CCLK: \"%s\"", text);
		return AT_OK;
	case AT_REQ_WRITE:
		if (at_str(c, 0, text, sizeof(text)) != 0 ||
		    reg_rtc_parse(text, strlen(text), &utc, &tz) != 0) {
			at_why(m, "time must be \"yy/MM/dd,hh:mm:ss+zz\" with a valid date");
			return AT_ERROR;
		}
		real = modem_rtc_ms(m) - m->rtc_offset_ms;
		m->rtc_offset_ms = utc - real;
		m->rtc_tz = tz;
		return AT_OK;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		break;
	}
	return AT_OK;
}

/* ---- +CFUN ---- */

static void reboot_cb(struct modem *m, void *arg)
{
	(void)arg;
	modem_reboot(m);
}

/* 27.007 8.2. <rst>=1 resets the module, which then runs fully (EC25 manual: only with
 * <fun>=1): OK goes out first, then the boot URCs. 0 and 4 switch the radio off and the
 * modem deregisters; 1 switches it on and the network registers it again. */
static int cmd_cfun(struct at_call *c)
{
	struct modem *m = c->m;
	int fun;

	switch (c->req) {
	case AT_REQ_READ:
		at_info(m, "+CFUN: %d", m->cfun);
		return AT_OK;
	case AT_REQ_WRITE:
		break;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		return AT_OK;
	}
	if (!at_given(c, 0))
		return AT_ERROR;
	fun = (int)at_num(c, 0);
	if (fun != 0 && fun != 1 && fun != 4) {
		at_why(m, "<fun> %d is not 0, 1 or 4", fun);
		return AT_ERROR;
	}
	if (at_given(c, 1) && at_num(c, 1) == 1) {
		if (fun != 1) {
			at_why(m, "<rst>=1 needs <fun>=1");
			return AT_ERROR;
		}
		if (!modem_after(m, 0, reboot_cb, NULL))
			return CME_UNKNOWN;
		return AT_OK;
	}
	if (fun == m->cfun)
		return AT_OK;
	trace_event(m->index, "net", "cfun %d -> %d", m->cfun, fun);
	m->cfun = fun;
	if (fun == 1)
		schedule_registration(m);
	else
		deregister(m);
	return AT_OK;
}

/* ---- power down ---- */

static void power_on_cb(struct modem *m, void *arg)
{
	(void)arg;
	modem_power_on(m);
}

/* The module is off: the line engine swallows every byte (RAW mode with no owner drops its
 * data and never echoes), URCs wait in the queue that the next boot empties, and after
 * NET_POWER_OFF_MS the module boots again as if PWRKEY had been pressed. */
static void power_off_cb(struct modem *m, void *arg)
{
	(void)arg;
	trace_event(m->index, "note", "powered down");
	at_data_abandon(m);
	at_line_raw(&m->line, 0, 0, 0, 0, modem_now(m));
	modem_line_timer_update(m);
	if (!modem_after(m, modem_delay(m, NET_POWER_OFF_MS), power_on_cb, NULL))
		modem_power_on(m);
}

static int power_down(struct modem *m)
{
	if (!modem_after(m, 0, power_off_cb, NULL))
		return CME_UNKNOWN;
	return 0;
}

/* EC25 AT+QPOWD[=<n>]: OK, then the URC `POWERED DOWN` (reference §7, TinyGSM). */
static int cmd_qpowd_ec25(struct at_call *c)
{
	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (power_down(c->m) != 0)
		return CME_UNKNOWN;
	modem_urc(c->m, "POWERED DOWN");
	/* A module going down runs nothing after this command on the same line: the line ends
	 * here with OK, so no later command can still be pending when the power goes. */
	at_line_end(c->m);
	return AT_OK;
}

/* M95 AT+QPOWD=<n>: 1 prints `NORMAL POWER DOWN` in place of a result code, 0 (urgent) answers
 * OK (Quectel GSM hardware designs §3.4.2.2; an M95 driver's notes on both forms). */
static int cmd_qpowd_m95(struct at_call *c)
{
	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (power_down(c->m) != 0)
		return CME_UNKNOWN;
	if (at_num(c, 0) == 0)
		return AT_OK;
	at_text(c->m, "NORMAL POWER DOWN");
	return AT_CUSTOM;
}

/* ---- +QNTP (EC25) ---- */

/* The result URC. Success sets the RTC to the host's real UTC time (autosettime 1, the
 * default): TLS certificate checks need a true clock (host-drivers.md item 10). Without a
 * network the exchange cannot start: `+QNTP: 561` (open PDP context failed, TCP/IP AN
 * chapter 4); the failure form has no time field [choice: no capture of a failure]. */
static void ntp_done(struct modem *m, void *arg)
{
	char text[40];
	int64_t real;

	(void)arg;
	m->reg.ntp_timer = NULL;
	if (!reg_registered(m)) {
		modem_urc(m, "+QNTP: 561");
		return;
	}
	real = modem_rtc_ms(m) - m->rtc_offset_ms;
	if (m->reg.ntp_set_rtc)
		m->rtc_offset_ms = 0;
	reg_rtc_format(real, m->rtc_tz, true, text, sizeof(text));
	modem_urc(m, "+QNTP: 0,\"%s\"", text);
}

/* AT+QNTP=<contextID>,<server>[,<port>[,<autosettime>]] (BG96/EC2x TCP/IP AN 2.2.12). The
 * PDP context is not checked: the PDP family keeps its own state [choice]. */
static int cmd_qntp(struct at_call *c)
{
	struct modem *m = c->m;
	struct reg_state *n = &m->reg;
	char server[sizeof(n->ntp_server)];

	switch (c->req) {
	case AT_REQ_READ:
		if (n->ntp_timer)
			at_info(m, "+QNTP: \"%s\",%d", n->ntp_server, n->ntp_port);
		return AT_OK;
	case AT_REQ_WRITE:
		break;
	case AT_REQ_EXEC:
	case AT_REQ_TEST:
		return AT_ERROR;
	}
	if (!at_given(c, 0) || at_str(c, 1, server, sizeof(server)) != 0 || !server[0]) {
		at_why(m, "+QNTP needs <contextID> and a server");
		return AT_ERROR;
	}
	if (n->ntp_timer) {
		at_why(m, "a time synchronisation is already running");
		return AT_ERROR;
	}
	memcpy(n->ntp_server, server, sizeof(server));
	n->ntp_port = at_given(c, 2) ? (int)at_num(c, 2) : 123;
	n->ntp_set_rtc = at_given(c, 3) ? at_num(c, 3) == 1 : true;
	n->ntp_timer = modem_after(m, modem_delay(m, NET_NTP_MS), ntp_done, NULL);
	if (!n->ntp_timer)
		return CME_UNKNOWN;
	return AT_OK;
}

/* ---- tables ---- */

#define RD (AT_REQ_READ)
#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define ET (AT_REQ_EXEC | AT_REQ_TEST)

#define REG_ROW(n)                                                                                 \
	{                                                                                          \
		n, RWT, 0, 1, AT_SPEC(AT_NUM(0, 2)), n ": (0-2)", 0, 0, cmd_reg                    \
	}

static int network_init(struct modem *m, const struct at_family *f)
{
	(void)f;
	reg_init(m);
	return 0;
}

static const struct at_cmd network_ec25_cmds[] = {
        {"+CPIN", RD | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cpin},
        REG_ROW("+CREG"),
        REG_ROW("+CGREG"),
        REG_ROW("+CEREG"),
        {"+COPS", RWT, 1, 4, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 2), AT_STR(32), AT_NUM(0, 7)), NULL, 0,
         0, cmd_cops},
        {"+CSQ", ET, 0, 0, NULL, 0, "+CSQ: (0-31,99),(0-7,99)", 0, 0, cmd_csq},
        /* the EC25 manual's system modes [MEM] */
        {"+QCSQ", ET, 0, 0, NULL, 0, "+QCSQ: (\"NOSERVICE\",\"GSM\",\"WCDMA\",\"TDSCDMA\",\"LTE\")",
         0, 0, cmd_qcsq},
        {"+QNWINFO", ET, 0, 0, NULL, 0, NULL, 0, 0, cmd_qnwinfo},
        {"+CCLK", RWT, 1, 1, AT_SPEC(AT_STR(32)), NULL, 0, 0, cmd_cclk},
        {"+CFUN", RWT, 1, 2, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 1)), "+CFUN: (0,1,4),(0,1)", 0, 0,
         cmd_cfun},
        {"+QPOWD", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_NUM(0, 1)),
         "+QPOWD: (0,1)", 0, 0, cmd_qpowd_ec25},
        {"+QNTP", RWT, 2, 4, AT_SPEC(AT_NUM(1, 16), AT_STR(255), AT_NUM(1, 65535), AT_NUM(0, 1)),
         "+QNTP: (1-16),<server>,(1-65535),(0,1)", 0, 0, cmd_qntp},
        {0},
};

/* SIMCom (SIM7600, A7670, SIM7670G): the 27.007 rows the Quectel LTE table shares with
 * SIMCom's manuals (SIM7600 V3.00 ch. 3-4, A76XX V1.09 ch. 3-4: same syntax and answers);
 * SIMCom's own network commands (+CPSI ...) are at/simcom_network.c. */
static const struct at_cmd network_3gpp_simcom_cmds[] = {
        {"+CPIN", RD | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cpin},
        REG_ROW("+CREG"),
        REG_ROW("+CGREG"),
        REG_ROW("+CEREG"),
        {"+COPS", RWT, 1, 4, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 2), AT_STR(32), AT_NUM(0, 7)), NULL, 0,
         0, cmd_cops},
        {"+CSQ", ET, 0, 0, NULL, 0, "+CSQ: (0-31,99),(0-7,99)", 0, 0, cmd_csq},
        {"+CCLK", RWT, 1, 1, AT_SPEC(AT_STR(32)), NULL, 0, 0, cmd_cclk},
        {"+CFUN", RWT, 1, 2, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 1)), "+CFUN: (0,1,4),(0,1)", 0, 0,
         cmd_cfun},
        {0},
};

const struct at_family at_family_network_3gpp_simcom = {
        .name = "network-simcom-3gpp",
        .cmds = network_3gpp_simcom_cmds,
        .init = network_init,
        .reboot = reg_reboot,
};

const struct at_family at_family_network_ec25 = {
        .name = "network-quectel",
        .cmds = network_ec25_cmds,
        .init = network_init,
        .reboot = reg_reboot,
};

/* The M95 is GSM only: no +CEREG, +QCSQ, +QNWINFO (absent from the M95 AT manual); +QNTP is
 * left out of this family. */
static const struct at_cmd network_m95_cmds[] = {
        {"+CPIN", RD | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_cpin},
        REG_ROW("+CREG"),
        REG_ROW("+CGREG"),
        {"+COPS", RWT, 1, 3, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 2), AT_STR(32)), NULL, 0, 0, cmd_cops},
        {"+CSQ", ET, 0, 0, NULL, 0, "+CSQ: (0-31,99),(0-7,99)", 0, 0, cmd_csq},
        {"+CCLK", RWT, 1, 1, AT_SPEC(AT_STR(32)), NULL, 0, 0, cmd_cclk},
        {"+CFUN", RWT, 1, 2, AT_SPEC(AT_NUM(0, 4), AT_NUM(0, 1)), "+CFUN: (0,1,4),(0,1)", 0, 0,
         cmd_cfun},
        {"+QPOWD", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QPOWD: (0,1)", 0, 0,
         cmd_qpowd_m95},
        {0},
};

const struct at_family at_family_network_m95 = {
        .name = "network-quectel-gsm",
        .cmds = network_m95_cmds,
        .init = network_init,
        .reboot = reg_reboot,
};

/* ---- BG96 AT+QCFG: the Cat-M1 / NB-IoT scan settings ----
 *
 * BG96 AT manual (RAK5010 and Magenta documents quote its test output; drivers: FreeRTOS BG96,
 * TinyGSM, ST X-CUBE-CELLULAR): "nwscanseq" <scanseq> is RAT codes of two digits each, 00
 * automatic, 01 GSM, 02 Cat-M1, 03 Cat-NB1 (`020301`: Cat-M1, then NB1, then GSM);
 * "nwscanmode" 0 automatic, 1 GSM only, 3 LTE only; "iotopmode" 0 Cat-M1, 1 Cat-NB1, 2 both.
 * Each write takes an optional <effect> (1, the default: at once; 0: after a reboot), and the
 * read answers the value alone (`+QCFG: "nwscanseq",020301`). The values live in non-volatile
 * memory: a reboot keeps them. Defaults (the manual's order M1 -> NB1 -> GSM, both IoT modes,
 * automatic scan) are a choice: a BG95 capture showed other values out of the box, so they
 * vary with firmware and carrier configuration. */
struct qcfg_state {
	char scanseq[16];
	int scanmode;
	int iotopmode;
};

static struct qcfg_state *qcfg_of(struct at_call *c)
{
	void **slot = modem_family_state(c->m, c->fam);

	return slot ? *slot : NULL;
}

static int qcfg_effect(struct at_call *c, int i)
{
	if (!at_given(c, i))
		return 0;
	if (c->args.p[i].type != AT_P_NUM || c->args.p[i].num < 0 || c->args.p[i].num > 1) {
		at_why(c->m, "<effect> must be 0 or 1");
		return -1;
	}
	return 0;
}

static bool scanseq_ok(const struct at_param *p)
{
	if (p->type != AT_P_NUM || p->len < 2 || p->len > 8 || p->len % 2 || p->hex)
		return false;
	for (size_t i = 0; i < p->len; i += 2)
		if (p->s[i] != '0' || p->s[i + 1] < '0' || p->s[i + 1] > '3')
			return false;
	return true;
}

static int cmd_qcfg(struct at_call *c)
{
	struct qcfg_state *q = qcfg_of(c);
	const struct at_param *key = &c->args.p[0];
	int *field = NULL, max = 0;

	if (!q)
		return AT_ERROR;
	if (at_param_is(key, "nwscanseq")) {
		if (c->args.n == 1) {
			at_info(c->m, "+QCFG: \"nwscanseq\",%s", q->scanseq);
			return AT_OK;
		}
		if (c->args.n > 3 || !scanseq_ok(&c->args.p[1]) || qcfg_effect(c, 2)) {
			at_why(c->m, "\"nwscanseq\",<scanseq>[,<effect>]: 00, or RAT codes 01-03");
			return AT_ERROR;
		}
		/* 00 (automatic) reads back as the automatic order */
		if (c->args.p[1].num == 0)
			snprintf(q->scanseq, sizeof(q->scanseq), "020301");
		else
			snprintf(q->scanseq, sizeof(q->scanseq), "%.*s", (int)c->args.p[1].len,
			         c->args.p[1].s);
		return AT_OK;
	}
	if (at_param_is(key, "nwscanmode")) {
		field = &q->scanmode;
		max = 3;
	} else if (at_param_is(key, "iotopmode")) {
		field = &q->iotopmode;
		max = 2;
	} else {
		at_why(c->m, "AT+QCFG key \"%.*s\" is not simulated", (int)key->len, key->s);
		return AT_ERROR;
	}
	if (c->args.n == 1) {
		at_info(c->m, "+QCFG: \"%.*s\",%d", (int)key->len, key->s, *field);
		return AT_OK;
	}
	if (c->args.n > 3 || c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
	    c->args.p[1].num > max || (field == &q->scanmode && c->args.p[1].num == 2) ||
	    qcfg_effect(c, 2)) {
		at_why(c->m, "\"%.*s\",<mode>[,<effect>]: mode out of range", (int)key->len,
		       key->s);
		return AT_ERROR;
	}
	*field = (int)c->args.p[1].num;
	return AT_OK;
}

static int qcfg_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct qcfg_state *q;

	if (!slot)
		return 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ERR_NOMEM;
	snprintf(q->scanseq, sizeof(q->scanseq), "020301");
	q->scanmode = 0;
	q->iotopmode = 2;
	*slot = q;
	return 0;
}

static void qcfg_close(struct modem *m)
{
	for (size_t i = 0; i < MODEM_FAMILIES_MAX && m->model->families[i]; i++)
		if (m->model->families[i] == &at_family_qcfg_bg96) {
			free(m->fstate[i]);
			m->fstate[i] = NULL;
		}
}

/* The profile lists this family before the EC25's network family, so its rows win. */
static const struct at_cmd qcfg_bg96_cmds[] = {
        /* test reply: a RAK5010 (BG96) document's, the keys simulated here */
        {"+QCFG", AT_REQ_WRITE | AT_REQ_TEST, 1, 3, AT_SPEC(AT_TEXT(32)),
         "+QCFG: \"nwscanmode\",(0,1,3),(0,1)\n+QCFG: \"nwscanseq\",(00-010203),(0,1)\n"
         "+QCFG: \"iotopmode\",(0-2)",
         0, 0, cmd_qcfg},
        /* The BG96's system modes, not the EC25's: its test reply as the FreeRTOS BG96
         * maintainer pasted it (BG96MAR02A10M1G), no parentheses. */
        {"+QCSQ", ET, 0, 0, NULL, 0, "+QCSQ: \"NOSERVICE\",\"GSM\",\"CAT-M1\",\"CAT-NB1\"", 0, 0,
         cmd_qcsq},
        {0},
};

const struct at_family at_family_qcfg_bg96 = {
        .name = "qcfg-bg96",
        .cmds = qcfg_bg96_cmds,
        .init = qcfg_init,
        .close = qcfg_close,
};

/* ---- EC25 AT+QCFG: the keys host drivers touch ----
 *
 * A real EG25-G's AT+QCFG=? (drivers.md D2) lists "nwscanmode",(0-8),(0,1) and
 * "nwscanseq",(00-0102030405),(0,1), and "band" (its read: `+QCFG: "band",0xbff,
 * 0x1e00b0e18df,0x0`); it has no "iotopmode" (a Cat-M1/NB-IoT key: ERROR, as for every key
 * not simulated). Scan codes: 00 automatic, 01 GSM, 02 TD-SCDMA, 03 WCDMA, 04 LTE, 05 CDMA.
 * Defaults are choices: automatic scan (0) and the order LTE, WCDMA, TD-SCDMA, GSM; the band
 * masks of that EG25-G. Writes keep what they set (non-volatile on the module, as the BG96's). */
struct qcfg_ec25_state {
	char scanseq[16];
	int scanmode;
	char band[3][24];
};

static bool scanseq_ec25_ok(const struct at_param *p)
{
	if (p->type != AT_P_NUM || p->len < 2 || p->len > 10 || p->len % 2 || p->hex)
		return false;
	for (size_t i = 0; i < p->len; i += 2)
		if (p->s[i] != '0' || p->s[i + 1] < '0' || p->s[i + 1] > '5')
			return false;
	return true;
}

/* A band mask as the host wrote it: hex digits, with or without 0x. */
static bool band_ok(const struct at_param *p, char *out, size_t len)
{
	size_t i = 0;

	if (p->type == AT_P_OMITTED || p->len == 0 || p->len + 3 > len)
		return false;
	if (p->len > 2 && p->s[0] == '0' && (p->s[1] == 'x' || p->s[1] == 'X'))
		i = 2;
	if (i == p->len)
		return false;
	for (size_t k = i; k < p->len; k++)
		if (!((p->s[k] >= '0' && p->s[k] <= '9') || (p->s[k] >= 'a' && p->s[k] <= 'f') ||
		      (p->s[k] >= 'A' && p->s[k] <= 'F')))
			return false;
	snprintf(out, len, "0x%.*s", (int)(p->len - i), p->s + i);
	for (char *q = out + 2; *q; q++)
		if (*q >= 'A' && *q <= 'F')
			*q = (char)(*q - 'A' + 'a');
	return true;
}

static int cmd_qcfg_ec25(struct at_call *c)
{
	void **slot = modem_family_state(c->m, c->fam);
	struct qcfg_ec25_state *q = slot ? *slot : NULL;
	const struct at_param *key = &c->args.p[0];

	if (!q)
		return AT_ERROR;
	if (at_param_is(key, "nwscanseq")) {
		if (c->args.n == 1) {
			at_info(c->m, "+QCFG: \"nwscanseq\",%s", q->scanseq);
			return AT_OK;
		}
		if (c->args.n > 3 || !scanseq_ec25_ok(&c->args.p[1]) || qcfg_effect(c, 2)) {
			at_why(c->m, "\"nwscanseq\",<scanseq>[,<effect>]: 00, or RAT codes 01-05");
			return AT_ERROR;
		}
		snprintf(q->scanseq, sizeof(q->scanseq), "%.*s", (int)c->args.p[1].len,
		         c->args.p[1].s);
		return AT_OK;
	}
	if (at_param_is(key, "nwscanmode")) {
		if (c->args.n == 1) {
			at_info(c->m, "+QCFG: \"nwscanmode\",%d", q->scanmode);
			return AT_OK;
		}
		if (c->args.n > 3 || c->args.p[1].type != AT_P_NUM || c->args.p[1].num < 0 ||
		    c->args.p[1].num > 8 || qcfg_effect(c, 2)) {
			at_why(c->m, "\"nwscanmode\",<scanmode>[,<effect>]: 0-8");
			return AT_ERROR;
		}
		q->scanmode = (int)c->args.p[1].num;
		return AT_OK;
	}
	if (at_param_is(key, "band")) {
		char b[3][24];

		if (c->args.n == 1) {
			at_info(c->m, "+QCFG: \"band\",%s,%s,%s", q->band[0], q->band[1],
			        q->band[2]);
			return AT_OK;
		}
		if (c->args.n < 4 || c->args.n > 5) {
			at_why(c->m, "\"band\",<gsm>,<lte>,<tds>[,<effect>]");
			return AT_ERROR;
		}
		for (int i = 0; i < 3; i++)
			if (!band_ok(&c->args.p[1 + i], b[i], sizeof(b[i]))) {
				at_why(c->m, "\"band\": mask %d is not hex", i + 1);
				return AT_ERROR;
			}
		if (qcfg_effect(c, 4))
			return AT_ERROR;
		memcpy(q->band, b, sizeof(b));
		return AT_OK;
	}
	at_why(c->m, "AT+QCFG key \"%.*s\" is not simulated", (int)key->len, key->s);
	return AT_ERROR;
}

static int qcfg_ec25_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct qcfg_ec25_state *q;

	if (!slot)
		return 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ERR_NOMEM;
	snprintf(q->scanseq, sizeof(q->scanseq), "04030201");
	snprintf(q->band[0], sizeof(q->band[0]), "0xbff");
	snprintf(q->band[1], sizeof(q->band[1]), "0x1e00b0e18df");
	snprintf(q->band[2], sizeof(q->band[2]), "0x0");
	*slot = q;
	return 0;
}

static void qcfg_ec25_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_qcfg_ec25);

	if (slot) {
		free(*slot);
		*slot = NULL;
	}
}

static const struct at_cmd qcfg_ec25_cmds[] = {
        /* test reply: the EG25-G's lines for the keys simulated here (drivers.md D2) */
        {"+QCFG", AT_REQ_WRITE | AT_REQ_TEST, 1, 5, AT_SPEC(AT_TEXT(32)),
         "+QCFG: \"nwscanmode\",(0-8),(0,1)\n+QCFG: \"nwscanseq\",(00-0102030405),(0,1)\n"
         "+QCFG: \"band\",(0-200),(0-7FFFFFFFFFFFFFFFF),(0-7FFFFFFFFFFFFFFF),(0,1)",
         0, 0, cmd_qcfg_ec25},
        {0},
};

const struct at_family at_family_qcfg_ec25 = {
        .name = "qcfg-ec25",
        .cmds = qcfg_ec25_cmds,
        .init = qcfg_ec25_init,
        .close = qcfg_ec25_close,
};
