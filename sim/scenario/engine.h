/* The scenario engine: applies parsed statements (scenario/parse.h) to running modems.
 *
 * Settings change a modem at once. Rules are asked, through scn_command(), before the
 * dispatcher runs a command: the first rule whose match, window and limit hold answers it
 * (reply, error, silent, urc later), delays it, or lets it pass. Events fire a URC or a fault
 * at a time (at) or after something the modem reports through the scn_notify_*() calls below.
 *
 * Time: every scenario duration is multiplied by --time-scale (not by --timing fast: a
 * scenario's delays are the story, not the module's latency). `at`, `from`, `until` and
 * `registration ... after` count from when their statement was applied: for a file, the start;
 * for the control socket, the moment the line arrived.
 *
 * Scenario timers (at, after ... delay, registration after) belong to the engine and survive a
 * modem's reboot: they script the network, which does not reboot. What a rule made the modem do
 * (a URC later, a delayed answer) uses the modem's own timers, which a reboot cancels.
 *
 * Without --scenario and --control the engine is not started, m->scn stays NULL, and every
 * hook is a NULL test. */
#ifndef MODEMSIM_SCENARIO_ENGINE_H
#define MODEMSIM_SCENARIO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "scenario/parse.h"

struct modem;
struct modemsim;
struct at_cmd_req;
struct scn_engine;

/* Attach an engine to sim and to each of its modems (sim->scn, m->scn). Call after the modems
 * exist and before they boot. Returns 0 or -ERR_NOMEM. */
int scn_engine_start(struct modemsim *sim);
/* Cancel the engine's timers and free it (the uv handles close on the next loop turn). NULL-safe
 * on a sim that has no engine. */
void scn_engine_stop(struct modemsim *sim);

/* Apply one statement to its modem (or every modem). Queries are not statements: 0, or -1 with
 * the reason in err (e.g. a model that does not match --model). */
int scn_apply(struct modemsim *sim, const struct scn_stmt *s, char *err, size_t errlen);
/* Answer a query as one JSON object (no newline) appended to out. */
void scn_query(struct modemsim *sim, const struct scn_stmt *s, struct buf *out);

/* Read and parse a scenario file. Errors go to errs as "file:line:col: message" lines. Returns
 * 0 with the statements in *script, -ERR_SYNTAX (errors printed) or -ERR_IO (printed). */
int scn_load_file(const char *path, struct scn_script *script, FILE *errs);
/* --check: "FILE: ok (N statements)" on out, or the errors on errs; model (if not NULL) is
 * the --model given with it, which `model` statements must match. Returns 0 or 1. */
int scn_check_file(const char *path, const char *model, FILE *out, FILE *errs);

/* ---- hooks (each a no-op when m->scn is NULL) ---- */

/* The dispatcher asks before it runs command r: true when a rule decided, with *rc the
 * handler's result (AT_OK, AT_ERROR, a CME code, AT_CUSTOM, or AT_PENDING: the engine will
 * call at_complete() or at_run_current() later). */
bool scn_command(struct modem *m, const struct at_cmd_req *r, int *rc);

enum scn_note {
	SCN_NOTE_BOOT, /* modem_boot(): the boot URCs are on their way */
	SCN_NOTE_PUBLISH, /* the modem sent a PUBLISH (arg: client) */
	SCN_NOTE_TLS_HANDSHAKE, /* a TLS handshake completed */
};

void scn_notify(struct modem *m, enum scn_note what, int arg);
/* A command's final result is known (rc as from a handler). */
void scn_notify_command(struct modem *m, const struct at_cmd_req *r, int rc);
/* An MQTT client changed state (enum mqtt_state values). */
void scn_notify_mqtt(struct modem *m, int client, int old_state, int new_state);
/* An upload (AT+QFUPL, AT+QSECWRITE) stored a file: "RAM:ca.pem". */
void scn_notify_upload(struct modem *m, const char *drive, const char *name);
/* Extra latency of result URCs (`latency urc`), already scaled; 0 without a scenario. */
uint64_t scn_urc_latency(const struct modem *m);

#endif
