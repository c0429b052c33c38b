/* Network side of a modem: registration and its URC modes, operator, serving cell, signal, and
 * the simulated RTC's text forms. Scenario code changes the network through the net_set_*
 * functions, which emit the registration URCs a host asked for (3GPP TS 27.007 7.2, 10.1.19,
 * 10.1.22); the values below may also be changed directly before the host next asks. */
#ifndef MODEMSIM_MODEM_REG_H
#define MODEMSIM_MODEM_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct modem;
struct modem_timer;

/* <stat> of +CREG / +CGREG / +CEREG (27.007 7.2). */
enum reg_stat {
	REG_STAT_NOT_REGISTERED = 0,
	REG_STAT_HOME = 1,
	REG_STAT_SEARCHING = 2,
	REG_STAT_DENIED = 3,
	REG_STAT_UNKNOWN = 4,
	REG_STAT_ROAMING = 5,
};

struct reg_state {
	/* Unsolicited result mode <n> of +CREG / +CGREG / +CEREG: 0 off, 1 <stat>, 2 with cell. */
	int creg_n;
	int cgreg_n;
	int cereg_n;
	int stat; /* enum reg_stat; one value for CS and PS: the simulated network attaches both */
	/* AT+CGATT=0: the host detached from the packet domain. +CGREG and +CEREG say 0 (and
	 * AT+CGATT? 0) until AT+CGATT=1 or an activation attaches again; +CREG keeps stat. */
	bool ps_detached;
	int reg_stat; /* what +CFUN=1 and +COPS=0 register as: REG_STAT_HOME or REG_STAT_ROAMING */

	/* Operator (+COPS): the test network MCC 001 / MNC 01 of the SIM's IMSI. */
	char oper_long[32];
	char oper_short[16];
	char oper_numeric[8];
	int act; /* +COPS <AcT>: 7 E-UTRAN (EC25); -1 prints no AcT field (M95, GSM only) */
	int cops_mode; /* 0 automatic, 1 manual, 2 deregistered, 4 manual/automatic */
	int cops_format; /* 0 long, 1 short, 2 numeric */

	/* Serving cell: LAC (GSM) or TAC (LTE), and cell id. */
	unsigned lac;
	unsigned ci;

	/* Signal: +CSQ, and the LTE values of +QCSQ (EC25). */
	int rssi; /* 0-31, 99 unknown */
	int ber; /* 0-7, 99 unknown */
	int lte_rssi; /* dBm */
	int rsrp; /* dBm */
	int sinr; /* raw: dB = sinr / 5 - 20 */
	int rsrq; /* dB */

	/* +QNWINFO (EC25). */
	char nw_act[16]; /* +QNWINFO "FDD LTE" */
	char qcsq_mode[16]; /* +QCSQ "LTE" */
	char band[24]; /* "LTE BAND 3" */
	int channel; /* EARFCN */

	/* Work in flight; the modem owns the timers (reboot cancels them all). */
	struct modem_timer *reg_timer; /* registration after +CFUN=1 / +COPS=0 */
	struct modem_timer *ntp_timer; /* +QNTP result */
	char ntp_server[256];
	int ntp_port;
	bool ntp_set_rtc;
};

/* Defaults of the modem's model; registered (home). */
void reg_init(struct modem *m);
/* Power cycle: back to the defaults, URC modes off. */
void reg_reboot(struct modem *m);

/* Change the registration state and emit +CREG/+CGREG/+CEREG URCs in the modes the host set.
 * stat is an enum reg_stat; nothing is emitted when it does not change. */
void reg_set_registration(struct modem *m, int stat);
/* Move to another serving cell; hosts with <n>=2 get the URCs with the new location. */
void reg_set_cell(struct modem *m, unsigned lac, unsigned ci);
bool reg_registered(const struct modem *m);
/* Packet domain attached (AT+CGATT?): registered and not detached by the host. */
bool reg_ps_attached(const struct modem *m);
/* The host detached (AT+CGATT=0) or the module attached again (AT+CGATT=1, an activation):
 * +CGREG/+CEREG URCs in the modes the host set when their <stat> changes. */
void reg_set_ps_detached(struct modem *m, bool detached);
/* Delay before the network registers the modem, under the timing profile. */
#define REG_DELAY_MS 1500

/* The read answer of +CREG / +CGREG / +CEREG, e.g. "+CREG: 2,1,\"2B44\",\"1A2D101\",7". */
void reg_format(const struct modem *m, const char *name, int n, char *out, size_t len);

/* RTC text forms. The RTC runs in UTC (modem_rtc_ms); tz is the local offset in quarter hours
 * and the printed time is local time, as 27.007 8.15 defines +CCLK.
 * "yy/MM/dd,hh:mm:ss±zz" (+CCLK) or, with long_year, "yyyy/MM/dd,hh:mm:ss±zz" (+QNTP). */
void reg_rtc_format(int64_t utc_ms, int tz, bool long_year, char *out, size_t len);
/* Parse the +CCLK form (n bytes, no quotes). 0 with the UTC time and tz, or -1. */
int reg_rtc_parse(const char *s, size_t n, int64_t *utc_ms, int *tz);

#endif
