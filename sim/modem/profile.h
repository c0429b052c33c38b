/* Model profiles: what differs between an EC25 and an M95 is data, not code paths. */
#ifndef MODEMSIM_MODEM_PROFILE_H
#define MODEMSIM_MODEM_PROFILE_H

#include <stddef.h>

struct at_cmd;
struct fs_drive_spec;

enum model_id { MODEL_EC25, MODEL_M95 };

struct boot_urc {
	const char *text;
	unsigned delay_ms; /* after power-on, realistic timing */
};

struct model_profile {
	enum model_id id;
	const char *name; /* --model value: "ec25" */
	const char *manufacturer; /* +CGMI */
	const char *model; /* +CGMM */
	const char *ati_model; /* second ATI line */
	const char *revision; /* +GMR and "Revision: " in ATI */
	const char *subrevision; /* +QGMR suffix, NULL where the model has no +QGMR */
	const char *imei_tac; /* 8-digit type allocation code */
	int cmee_default;
	const struct boot_urc *boot; /* NULL-terminated by text */
	const struct at_cmd *const *families;
	/* The file drives (store/fs.h): sizes, naming rules, which persist. Ended by a row
	 * whose prefix is NULL. */
	const struct fs_drive_spec *drives;
};

const struct model_profile *profile_find(const char *name);
extern const struct model_profile profile_ec25;
extern const struct model_profile profile_m95;

#endif
