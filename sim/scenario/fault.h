/* The fault mechanisms: what `fault <name> [<param> <value> ...]` does (scenarios/README.md,
 * "Faults"). Each fault is real wherever it can be: a reset is an RST on the socket, a
 * blackhole stops reading and writing a live socket, a bad certificate is presented by a real
 * TLS listener, a refused connection is refused by the kernel.
 *
 * The scenario engine and the control socket call fault_check() when a statement is parsed and
 * fault_fire() when it runs; every firing is traced as `fault <name> fired ...` and kept for
 * `query faults` (fault_history_json). */
#ifndef MODEMSIM_SCENARIO_FAULT_H
#define MODEMSIM_SCENARIO_FAULT_H

#include <stddef.h>

#include "core/buf.h"
#include "scenario/parse.h"

struct modem;
struct modemsim;

/* Is this a known fault with valid parameters (names, value types, ranges, required ones)?
 * Returns 0, or -ERR_NAME (unknown fault) / -ERR_INVAL with a message in err ("fault
 * link.delay: ms takes a number 0-600000"). Pure: no modem, no state. */
int fault_check(const char *name, const struct scn_params *p, char *err, size_t errlen);

/* Fire the fault on modem m. Returns 0 (fired: traced and recorded), or a negative ERR_* with
 * the reason in err when it cannot act (bad parameters, no such connection, no embedded
 * broker, nothing to act on). Never calls back into whoever called it: actions that end a
 * connection run from the loop. Durations are scaled by --time-scale. */
int fault_fire(struct modem *m, const char *name, const struct scn_params *p, char *err,
               size_t errlen);

/* Every firing so far, oldest first, appended to out as a JSON array:
 * [{"t":1700000000.123,"modem":0,"fault":"link.reset","params":{"client":0}}, ...]
 * Numbers are JSON numbers, durations as written ("1.5s"), words and strings JSON strings,
 * flags true. Returns 0 or -ERR_NOMEM. */
int fault_history_json(struct buf *out);
/* How many faults fired so far. */
size_t fault_count(void);

/* Stop every fault timer and close the trap endpoints (at shutdown, before the loop's last
 * run): pending undos are dropped, not run. Safe to call twice. */
void fault_close(struct modemsim *sim);

#endif
