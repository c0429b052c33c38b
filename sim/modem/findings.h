/* The module judges the host: where the host broke the documented protocol, a finding with a
 * severity, a kind, the transcript line of the host's latest input and a message goes to the
 * trace (trace_finding) and to a per-modem list that the control socket reports
 * ("query findings [<n>]").
 *
 * Severities: "error" where a real module loses data, refuses, or waits forever; "warning"
 * where a real module tolerates it but the host is outside the documented protocol; "info"
 * for style (no kind uses it yet).
 *
 *   kind                severity  when
 *   cmd-before-result   error     bytes sent while a command was running (no final result)
 *                       warning   a command in the same write as a command line that then
 *                                 completed at once (the host did not wait for its result)
 *   data-before-prompt  error     data in the same write as the command that opens "> " or
 *                                 CONNECT, or sent while AT+QIOPEN/QSSLOPEN/ATO waited for
 *                                 the connection
 *   length-mismatch     error     a fixed-length upload ended by its inactivity timeout short
 *                                 of the declared length; Ctrl+Z ending a write inside a
 *                                 fixed-length payload (Ctrl+Z is data there: the module
 *                                 waits); bytes beyond the declared length in the same write
 *                                 (the module reads them as a command line)
 *                       warning   "+++" ended a fixed-length upload short of the length;
 *                                 only Ctrl+Z/ESC (and CR/LF) beyond the declared length
 *   non-ascii           error     a command line the module failed for a non-ASCII byte
 *   not-connected       error     QMTPUB/QMTSUB/QMTUNS before the host saw
 *                                 "+QMTCONN: <id>,0,0", QMTCONN before "+QMTOPEN: <id>,0";
 *                                 SIMCom: CMQTTTOPIC/PAYLOAD/PUB/SUB... before
 *                                 "+CMQTTCONNECT: <id>,0"
 *   inflight-exceeded   error     M95: a QoS 1/2 publish beyond the window of 5 (8512)
 *                       warning   EC25: the same; the module answers, the window is the AN's
 *                                 (both: once per excursion over the window)
 *   msgid-reused        error     a msgid whose SUBSCRIBE/UNSUBSCRIBE/PUBLISH is still in flight
 *   qmtstat-ignored     error     a command on a client after "+QMTSTAT: <id>,<err>" and no
 *                                 QMTOPEN/QMTCLOSE since (once per +QMTSTAT); SIMCom: after
 *                                 "+CMQTTCONNLOST" and no CMQTTCONNECT since
 *                       warning   at exit: a +QMTSTAT never answered with QMTOPEN or QMTCLOSE
 *   retry-storm         warning   FINDINGS_STORM_OPENS QMTOPEN of one client within
 *                                 FINDINGS_STORM_MS without a successful QMTCONN between them
 *   no-shutdown         warning   at exit: a client still connected or with its network open
 *                                 (no QMTDISC/QMTCLOSE)
 *   unknown-command     warning   a command the model does not have, with the closest one
 *                                 (case-insensitive Levenshtein; named if a third of the name
 *                                 or less differs)
 *   control-byte        warning   a byte below 0x20 (or 0x7f) inside a command's parameter
 *   unsimulated-command info      a command the model's manuals document but modemsim does
 *                                 not simulate (the profile's list); answered +CME ERROR: 4
 *
 * MQTT obligations are judged on what the host was shown: the URCs it was sent (a scenario's
 * fake "+QMTSTAT" counts as a real one), not the client's internal state. A command that was
 * on its way before the +QMTSTAT reached the host is a race the host cannot avoid: no finding.
 *
 * "line" is the transcript line of the host's latest input when the finding is made. For
 * bytes judged while they waited behind a running command, and for the findings at exit,
 * that is the host's latest write, which is the offending one unless the host wrote again.
 *
 * Not detected: a fixed-length "> " payload that stays short without a Ctrl+Z (prompt mode
 * has no timeout: the module waits, as a real one does); non-ASCII inside a quoted string
 * that a command accepts (MQTT topics and payloads may be UTF-8); bytes sent between the
 * M95's OK and its later CONNECT (they are command lines there).
 *
 * The state is per modem (struct modem.findings), allocated at the first hook. */
#ifndef MODEMSIM_MODEM_FINDINGS_H
#define MODEMSIM_MODEM_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "at/line.h"

struct at_call;
struct buf;
struct modem;
struct modemsim;

/* Retry storm: this many QMTOPEN of one client within this time (the host's real time, not
 * scaled: the host's backoff is its own). 5 in 10 s is below any documented retry scheme and
 * above what a host that backs off even 2.5 s between attempts sends. */
#define FINDINGS_STORM_OPENS 5
#define FINDINGS_STORM_MS 10000
/* Records kept per modem for the control socket (the first ones: the root cause comes first);
 * every finding is counted and traced. */
#define FINDINGS_KEEP 256
/* The in-flight window of the M95 MQTT AN (3.2.8 note 1): a model without a window of its own
 * (profile mqtt.inflight_max 0) answers beyond it, but the host is outside the documented
 * protocol. */
#define FINDINGS_DOC_WINDOW 5

struct modem_hooks;

/* The findings as an observer of every modem (modem/hooks.h); main.c registers it. The
 * functions below are its entries. */
extern const struct modem_hooks findings_hooks;

/* modem.c pump(): after each line-engine event, off = first input byte not yet fed. */
void findings_fed(struct modem *m, const struct at_event *ev, size_t off);
/* modem.c pump(): feeding stopped at off (a command is running: what waits was sent early). */
void findings_waiting(struct modem *m, size_t off);
/* modem.c: a URC queued for the host (MQTT URCs change what the host may do). */
void findings_urc(struct modem *m, const void *p, size_t n);
/* modem.c: AT+CFUN=1,1 and the like: the MQTT clients are gone. */
void findings_reboot(struct modem *m);
/* modem.c modem_close(), before the MQTT clients are freed: shutdown findings, then free. */
void findings_close(struct modem *m);

/* dispatch.c: a command line, or one command of it, failed to parse (text as typed). */
void findings_bad_line(struct modem *m, const char *text, size_t len);
/* dispatch.c: no row of the model's table has this (upper-case) name. */
void findings_unknown(struct modem *m, const char *name);
/* dispatch.c: a command passed the central checks and its handler runs next. */
void findings_command(struct modem *m, const struct at_call *c);
/* dispatch.c: a data phase ended (before its owner's end callback). */
void findings_data_end(struct modem *m, enum at_data_end why);

/* control.c: answer "query findings [<modem>]" into out (one JSON line) and return 1, or
 * return 0 for any other line. */
int findings_query(struct modemsim *sim, const char *line, size_t len, struct buf *out);

#endif
