/* Observers of a modem: the scenario engine (scenario/engine.h) and the findings
 * (modem/findings.h) watch and steer the modem through these hooks instead of being called by
 * name from the AT families. Each observer registers one const table with the process
 * (modemsim_add_hooks); every entry is optional. The modem_hook_*() calls below run the
 * registered tables in order; with none registered each is a loop over nothing. */
#ifndef MODEMSIM_MODEM_HOOKS_H
#define MODEMSIM_MODEM_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at/line.h"

struct at_call;
struct at_cmd_req;
struct modem;
struct modemsim;

#define MODEM_HOOKS_MAX 4

enum modem_note {
	MODEM_NOTE_BOOT, /* modem_boot(): the boot URCs are on their way */
	MODEM_NOTE_PUBLISH, /* the modem sent a PUBLISH (arg: client) */
	MODEM_NOTE_TLS_HANDSHAKE, /* a TLS handshake completed */
};

struct modem_hooks {
	/* The dispatcher asks before it runs command r: true when the observer decided, with
	 * *rc the handler's result (AT_PENDING: the observer completes it later). */
	bool (*command)(struct modem *m, const struct at_cmd_req *r, int *rc);
	/* A command's final result is known (rc as from a handler). */
	void (*command_done)(struct modem *m, const struct at_cmd_req *r, int rc);
	void (*note)(struct modem *m, enum modem_note what, int arg);
	/* An MQTT client changed state (enum mqtt_state values). */
	void (*mqtt_state)(struct modem *m, int client, int old_state, int new_state);
	/* An upload stored a file ("RAM", "ca.pem"). */
	void (*upload)(struct modem *m, const char *drive, const char *name);
	/* Extra latency of result URCs, ms; the hooks' values add up. */
	uint64_t (*urc_latency)(const struct modem *m);

	/* The modem's input path: after each line-engine event (off: first byte not yet fed),
	 * and when feeding stopped at off because a command runs. */
	void (*fed)(struct modem *m, const struct at_event *ev, size_t off);
	void (*waiting)(struct modem *m, size_t off);
	/* A URC was queued for the host. */
	void (*urc)(struct modem *m, const void *p, size_t n);
	/* The modem rebooted; the modem is closing (its MQTT clients still exist). */
	void (*reboot)(struct modem *m);
	void (*close)(struct modem *m);
	/* The dispatcher: a line failed to parse; no family has the command; a command passed
	 * the central checks; a data phase ended. */
	void (*bad_line)(struct modem *m, const char *text, size_t len);
	void (*unknown)(struct modem *m, const char *name);
	void (*call)(struct modem *m, const struct at_call *c);
	void (*data_end)(struct modem *m, enum at_data_end why);
};

/* Register an observer for every modem of sim. 0, or -ERR_NOSPC beyond MODEM_HOOKS_MAX. */
int modemsim_add_hooks(struct modemsim *sim, const struct modem_hooks *h);

bool modem_hook_command(struct modem *m, const struct at_cmd_req *r, int *rc);
void modem_hook_command_done(struct modem *m, const struct at_cmd_req *r, int rc);
void modem_hook_note(struct modem *m, enum modem_note what, int arg);
void modem_hook_mqtt_state(struct modem *m, int client, int old_state, int new_state);
void modem_hook_upload(struct modem *m, const char *drive, const char *name);
uint64_t modem_hook_urc_latency(const struct modem *m);
void modem_hook_fed(struct modem *m, const struct at_event *ev, size_t off);
void modem_hook_waiting(struct modem *m, size_t off);
void modem_hook_urc(struct modem *m, const void *p, size_t n);
void modem_hook_reboot(struct modem *m);
void modem_hook_close(struct modem *m);
void modem_hook_bad_line(struct modem *m, const char *text, size_t len);
void modem_hook_unknown(struct modem *m, const char *name);
void modem_hook_call(struct modem *m, const struct at_call *c);
void modem_hook_data_end(struct modem *m, enum at_data_end why);

#endif
