/* Model profiles: what differs between models is data (identity, boot URCs, limits, defaults)
 * and the command families they list, never a code path that asks which model it is. A new
 * model is a row in the table of profile.c and, where its commands differ, a family table. */
#ifndef MODEMSIM_MODEM_PROFILE_H
#define MODEMSIM_MODEM_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "mqtt/client.h"

struct at_family;
struct pdp_style;
struct fs_drive_spec;

/* Each model's value in enum model_id is used only by the profile definitions (a name for the
 * row); code asks the profile's data instead. */
enum model_id { MODEL_EC25, MODEL_M95, MODEL_BG96 };

struct boot_urc {
	const char *text;
	unsigned delay_ms; /* after power-on, realistic timing */
};

/* The serving cell a model reports by default (modem/reg.c). */
struct cell_defaults {
	int act; /* <AcT> of +CREG/+COPS (7 LTE, 8 eMTC, 9 NB-IoT); -1: a GSM-only model prints
	          * none, and its cell id has two bytes */
	unsigned ci; /* cell id */
	int rssi; /* +CSQ */
	int ber;
	const char *nw_act; /* +QNWINFO <Act> and +QCSQ <sysmode> */
	const char *qcsq_mode; /* +QCSQ <sysmode> */
	const char *band; /* +QNWINFO <band> */
	int channel; /* +QNWINFO <channel> (EARFCN) */
};

struct model_profile {
	enum model_id id; /* the row's name; never compared outside profile definitions */
	const char *name; /* --model value: "ec25" */
	const char *manufacturer; /* +CGMI */
	const char *model; /* +CGMM */
	const char *ati_model; /* second ATI line */
	const char *revision; /* +GMR and "Revision: " in ATI */
	const char *subrevision; /* +QGMR suffix, NULL where the model has no +QGMR */
	const char *imei_tac; /* 8-digit type allocation code */
	int cmee_default;
	const struct boot_urc *boot; /* NULL-terminated by text */
	/* A reset (AT+CFUN=1,1, modem.reboot) leaves the module silent this long before its
	 * boot URCs begin (realistic timing, scaled by --time-scale; none with --timing fast). */
	unsigned reboot_ms;
	const struct at_family *const *families; /* NULL-terminated; first match wins */
	const char *prompt; /* what opens a data prompt ("\r\n> ") */
	struct cell_defaults cell;
	const struct pdp_style *pdp; /* modem/pdp.h: contexts 1-16, or the GSM legacy stack */
	/* The file drives (store/fs.h): sizes, naming rules, which persist. Ended by a row
	 * whose prefix is NULL. */
	const struct fs_drive_spec *drives;
	struct mqtt_limits mqtt;
	const int *ssl_suites; /* cipher suites the model offers, 0-terminated */
	/* TLS time check: false, per SSL context ("ignorelocaltime", with "negotiatetime");
	 * true, one global setting ("ignorertctime", GSM SSL AN 2.2.1) and no negotiate time. */
	bool ssl_rtc_global;
	/* Commands the model's manuals document that modemsim does not simulate ("+QPING"),
	 * NULL-terminated; NULL: none listed. They answer +CME ERROR: 4 (per CMEE) and make an
	 * "unsimulated-command" finding instead of "unknown-command". */
	const char *const *unsimulated;
};

/* Is name (case-insensitive, "+QPING") on p's list of documented but unsimulated commands? */
bool profile_unsimulated(const struct model_profile *p, const char *name);
/* The profile named name (case-insensitive), or NULL. */
const struct model_profile *profile_find(const char *name);
/* The profiles in their table order, NULL-terminated (for --help and the README table). */
extern const struct model_profile *const profile_table[];
extern const struct model_profile profile_ec25;
extern const struct model_profile profile_m95;
extern const struct model_profile profile_bg96;

#endif
