#include "modem/reg.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "modem/modem.h"

/* Defaults: a coherent serving cell on the test network 001/01 that the IMSI belongs to
 * (identity.c), with the cell of the model's profile (struct cell_defaults: RAT, cell id,
 * CSQ, band). RSSI -63 dBm (the same as CSQ 25), RSRP -93 dBm, SINR raw 150 = 10 dB, RSRQ
 * -10 dB. Formats: reference §7 and the EC25 field log (seeds/000). A GSM-only model (act -1)
 * prints no AcT field (M95 drivers parse `+COPS: 0,0,"<oper>"`), and its cell id has two
 * bytes. */
void reg_init(struct modem *m)
{
	struct reg_state *n = &m->reg;
	const struct cell_defaults *cell = &m->model->cell;

	memset(n, 0, sizeof(*n));
	n->stat = REG_STAT_HOME;
	n->reg_stat = REG_STAT_HOME;
	snprintf(n->oper_long, sizeof(n->oper_long), "modemsim");
	snprintf(n->oper_short, sizeof(n->oper_short), "modemsim");
	snprintf(n->oper_numeric, sizeof(n->oper_numeric), "00101");
	n->act = cell->act;
	n->lac = 0x2B44;
	n->ci = cell->ci;
	n->rssi = cell->rssi;
	n->ber = cell->ber;
	n->lte_rssi = -63;
	n->rsrp = -93;
	n->sinr = 150;
	n->rsrq = -10;
	snprintf(n->nw_act, sizeof(n->nw_act), "%s", cell->nw_act ? cell->nw_act : "");
	snprintf(n->qcsq_mode, sizeof(n->qcsq_mode), "%s", cell->qcsq_mode ? cell->qcsq_mode : "");
	snprintf(n->band, sizeof(n->band), "%s", cell->band ? cell->band : "");
	n->channel = cell->channel;
	n->ntp_port = 123;
}

/* Called by modem_reboot after it cancelled every modem timer: the pointers are stale, not
 * live, so they are only forgotten here. */
void reg_reboot(struct modem *m)
{
	reg_init(m);
}

static bool stat_registered(int stat)
{
	return stat == REG_STAT_HOME || stat == REG_STAT_ROAMING;
}

bool reg_registered(const struct modem *m)
{
	return stat_registered(m->reg.stat);
}

bool reg_ps_attached(const struct modem *m)
{
	return reg_registered(m) && !m->reg.ps_detached;
}

/* <stat> of one command: +CREG the circuit-switched one, +CGREG/+CEREG the packet domain's. */
static int stat_of(const struct modem *m, const char *name)
{
	if (strcmp(name, "+CREG") != 0 && m->reg.ps_detached)
		return REG_STAT_NOT_REGISTERED;
	return m->reg.stat;
}

/* Location fields of <n>=2: lac/tac two bytes, ci two bytes on GSM and four on LTE, both as
 * quoted upper-case hex (27.007 7.2; EC2x capture `+CREG: 2,1,"2604","6DA5A09",7`, M95 style
 * `+CREG: 2,1,"1878","0873"`), then <AcT> where the model reports one. Only while registered:
 * `+CREG: 2,0` carries no location. */
static int format_location(const struct modem *m, int stat, char *out, size_t len)
{
	const struct reg_state *n = &m->reg;

	if (!stat_registered(stat))
		return snprintf(out, len, "%s", "");
	if (n->act < 0)
		return snprintf(out, len, ",\"%04X\",\"%04X\"", n->lac & 0xFFFF, n->ci & 0xFFFF);
	return snprintf(out, len, ",\"%04X\",\"%X\",%d", n->lac & 0xFFFF, n->ci, n->act);
}

void reg_format(const struct modem *m, const char *name, int n, char *out, size_t len)
{
	char loc[48] = "";
	int stat = stat_of(m, name);

	if (n == 2)
		format_location(m, stat, loc, sizeof(loc));
	snprintf(out, len, "%s: %d,%d%s", name, n, stat, loc);
}

/* The URC of one command in mode n: "+CREG: <stat>" or "+CREG: <stat>,<lac>,<ci>[,<AcT>]". */
static void reg_urc(struct modem *m, const char *name, int n)
{
	char loc[48] = "";
	int stat = stat_of(m, name);

	if (n == 0)
		return;
	if (n == 2)
		format_location(m, stat, loc, sizeof(loc));
	modem_urc(m, "%s: %d%s", name, stat, loc);
}

/* +CEREG is an LTE command: the M95 has none (its cereg_n stays 0). */
static void ps_urcs(struct modem *m)
{
	reg_urc(m, "+CGREG", m->reg.cgreg_n);
	reg_urc(m, "+CEREG", m->reg.cereg_n);
}

void reg_set_registration(struct modem *m, int stat)
{
	int ps_old = stat_of(m, "+CGREG");

	if (stat < REG_STAT_NOT_REGISTERED || stat > REG_STAT_ROAMING) {
		log_msg(LOG_WARN, "#%d: registration state %d is not a 27.007 <stat>", m->index,
		        stat);
		return;
	}
	if (m->reg.stat == stat)
		return;
	trace_event(m->index, "net", "registration %d -> %d", m->reg.stat, stat);
	m->reg.stat = stat;
	reg_urc(m, "+CREG", m->reg.creg_n);
	if (stat_of(m, "+CGREG") != ps_old)
		ps_urcs(m);
	pdp_default_bearer_sync(m);
}

void reg_set_ps_detached(struct modem *m, bool detached)
{
	int ps_old = stat_of(m, "+CGREG");

	if (m->reg.ps_detached == detached)
		return;
	trace_event(m->index, "net", "packet domain %s", detached ? "detached" : "attached");
	m->reg.ps_detached = detached;
	if (stat_of(m, "+CGREG") != ps_old)
		ps_urcs(m);
	pdp_default_bearer_sync(m);
}

void reg_set_cell(struct modem *m, unsigned lac, unsigned ci)
{
	if (m->reg.lac == lac && m->reg.ci == ci)
		return;
	trace_event(m->index, "net", "cell %X/%X -> %X/%X", m->reg.lac, m->reg.ci, lac, ci);
	m->reg.lac = lac;
	m->reg.ci = ci;
	if (!reg_registered(m))
		return;
	/* 27.007 7.2: n=2 also reports a change of the serving cell; n=1 does not. */
	if (m->reg.creg_n == 2)
		reg_urc(m, "+CREG", 2);
	if (m->reg.cgreg_n == 2 && !m->reg.ps_detached)
		reg_urc(m, "+CGREG", 2);
	if (m->reg.cereg_n == 2 && !m->reg.ps_detached)
		reg_urc(m, "+CEREG", 2);
}

/* ---- RTC text forms (pure) ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, int mo, int d)
{
	int64_t era, yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *mo, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*mo <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void reg_rtc_format(int64_t utc_ms, int tz, bool long_year, char *out, size_t len)
{
	int64_t local = floor_div(utc_ms, 1000) + (int64_t)tz * 15 * 60;
	int64_t days = floor_div(local, 86400), secs = local - days * 86400, y;
	int mo, d;

	civil_from_days(days, &y, &mo, &d);
	snprintf(out, len, "%0*lld/%02d/%02d,%02d:%02d:%02d%c%02d", long_year ? 4 : 2,
	         (long long)(long_year ? y : ((y % 100) + 100) % 100), mo, d, (int)(secs / 3600),
	         (int)(secs / 60 % 60), (int)(secs % 60), tz < 0 ? '-' : '+', tz < 0 ? -tz : tz);
}

static int two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/* "yy/MM/dd,hh:mm:ss±zz": exactly 20 bytes. yy is 2000+yy (the EC25 and M95 RTCs count from
 * 1980 and 2004; a host setting the clock means this century). zz: -48..+56 quarter hours
 * (UTC-12 to UTC+14). */
int reg_rtc_parse(const char *s, size_t n, int64_t *utc_ms, int *tz)
{
	static const char shape[] = "dd/dd/dd,dd:dd:dd#dd";
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int f[7], zone;
	int64_t year, days;

	if (n != sizeof(shape) - 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == 'd')
			continue;
		if (shape[i] == '#' ? (s[i] != '+' && s[i] != '-') : s[i] != shape[i])
			return -1;
	}
	for (int i = 0; i < 7; i++)
		if (two_digits(s + i * 3, &f[i]))
			return -1;
	year = 2000 + f[0];
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[3] > 23 || f[4] > 59 || f[5] > 59)
		return -1;
	if (f[2] >
	    mdays[f[1] - 1] + (f[1] == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return -1;
	zone = s[17] == '-' ? -f[6] : f[6];
	if (zone < -48 || zone > 56)
		return -1;
	days = days_from_civil(year, f[1], f[2]);
	*utc_ms =
	        ((days * 86400 + f[3] * 3600 + f[4] * 60 + f[5]) - (int64_t)zone * 15 * 60) * 1000;
	*tz = zone;
	return 0;
}
