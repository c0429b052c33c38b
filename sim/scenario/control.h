/* The live control socket (--control PATH): a unix-domain stream socket, mode 0600, that takes
 * scenario statements and queries one per line (LF or CR LF, at most SCN_LINE_MAX bytes) and
 * answers each line with one JSON line: {"ok":true}, {"ok":false,"error":"<line>:<col>: ..."}
 * (the line counts lines on that connection), or a query's data. Several clients may be
 * connected; a client's bad bytes, floods or early disconnects only ever affect that client.
 *
 * The engine (scenario/engine.h) must be started first. */
#ifndef MODEMSIM_SCENARIO_CONTROL_H
#define MODEMSIM_SCENARIO_CONTROL_H

struct modemsim;
struct scn_control;

/* Listen on path (a stale socket there is replaced; any other file is an error). Returns 0
 * with *out set, or a negative ERR_* with a message logged. */
int scn_control_start(struct modemsim *sim, const char *path, struct scn_control **out);
/* Close every client and the listener, and remove the socket file. NULL-safe. The memory goes
 * once the loop has run the close callbacks. */
void scn_control_stop(struct scn_control *ctl);

#endif
