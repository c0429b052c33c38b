#include "modem/hooks.h"

#include "core/err.h"
#include "modem/modem.h"
#include "modem/modemsim.h"

int modemsim_add_hooks(struct modemsim *sim, const struct modem_hooks *h)
{
	for (int i = 0; i < sim->nhooks; i++)
		if (sim->hooks[i] == h)
			return 0;
	if (sim->nhooks >= MODEM_HOOKS_MAX)
		return -ERR_NOSPC;
	sim->hooks[sim->nhooks++] = h;
	return 0;
}

/* Every registered table that has the entry, in registration order. */
#define EACH(m, name)                                                                              \
	for (int i_ = 0; (m)->sim && i_ < (m)->sim->nhooks; i_++)                                  \
		if ((m)->sim->hooks[i_]->name)

#define HOOK(m, name) ((m)->sim->hooks[i_]->name)

bool modem_hook_command(struct modem *m, const struct at_cmd_req *r, int *rc)
{
	EACH(m, command)
	{
		if (HOOK(m, command)(m, r, rc))
			return true;
	}
	return false;
}

void modem_hook_command_done(struct modem *m, const struct at_cmd_req *r, int rc)
{
	EACH(m, command_done) HOOK(m, command_done)(m, r, rc);
}

void modem_hook_note(struct modem *m, enum modem_note what, int arg)
{
	EACH(m, note) HOOK(m, note)(m, what, arg);
}

void modem_hook_mqtt_state(struct modem *m, int client, int old_state, int new_state)
{
	EACH(m, mqtt_state) HOOK(m, mqtt_state)(m, client, old_state, new_state);
}

void modem_hook_upload(struct modem *m, const char *drive, const char *name)
{
	EACH(m, upload) HOOK(m, upload)(m, drive, name);
}

uint64_t modem_hook_urc_latency(const struct modem *m)
{
	uint64_t sum = 0;

	EACH(m, urc_latency) sum += HOOK(m, urc_latency)(m);
	return sum;
}

void modem_hook_fed(struct modem *m, const struct at_event *ev, size_t off)
{
	EACH(m, fed) HOOK(m, fed)(m, ev, off);
}

void modem_hook_waiting(struct modem *m, size_t off)
{
	EACH(m, waiting) HOOK(m, waiting)(m, off);
}

void modem_hook_urc(struct modem *m, const void *p, size_t n)
{
	EACH(m, urc) HOOK(m, urc)(m, p, n);
}

void modem_hook_reboot(struct modem *m)
{
	EACH(m, reboot) HOOK(m, reboot)(m);
}

void modem_hook_close(struct modem *m)
{
	EACH(m, close) HOOK(m, close)(m);
}

void modem_hook_bad_line(struct modem *m, const char *text, size_t len)
{
	EACH(m, bad_line) HOOK(m, bad_line)(m, text, len);
}

void modem_hook_unknown(struct modem *m, const char *name)
{
	EACH(m, unknown) HOOK(m, unknown)(m, name);
}

void modem_hook_call(struct modem *m, const struct at_call *c)
{
	EACH(m, call) HOOK(m, call)(m, c);
}

void modem_hook_data_end(struct modem *m, enum at_data_end why)
{
	EACH(m, data_end) HOOK(m, data_end)(m, why);
}
