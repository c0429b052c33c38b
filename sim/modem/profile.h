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
struct modem;

/* Documented firmware quirks a revision of a model has (struct model_revision, modem_quirk). */
/* SIM7600 firmware LE11B02SIM7500A answers ERROR to AT+CSSLCFG="sslversion" (seed 003: "I kept
 * getting ERROR on AT+CSSLCFG=\"sslversion\",0,4 ... upgrading to LE11B03SIM7600A-H" fixed it) */
#define QUIRK_SSLVERSION_ERROR 0x1u
/* A76XX firmware whose MQTT protocol level is 3 (MQTT 3.1, "MQIsdp") unless the host sends
 * AT+CMQTTCFG="version",<i>,4 (A76XX manual 18.2.17 "default 3"; seed 002: SIM7670G against
 * Azure IoT Hub, which needs 3.1.1) */
#define QUIRK_MQTT_DEFAULT_31 0x2u
/* A76XX firmware that echoes the bytes of a data prompt (TOPIC, PAYLOAD, CCERTDOWN ...) back
 * to the host even with ATE0 (reference §1.4, [ISS-197] SIM7670G B05 log; optional fidelity) */
#define QUIRK_PROMPT_ECHO 0x4u

/* One firmware revision of a model: what it prints and the quirks it has. The first row of a
 * profile's table is its default; the revision setting (--revision, the scenario's
 * `revision`) selects another by its text; a text no row names has no quirks. */
struct model_revision {
	const char *revision; /* +CGMR (SIMCom), +GMR, and AT+SIMCOMATI's Revision: */
	const char *build; /* AT+SIMCOMATI's line after Revision: (NULL: none) */
	const char *ati_revision; /* ATI's Revision: where it differs (NULL: the revision) */
	unsigned quirks; /* QUIRK_* */
};

/* Each model's value in enum model_id is used only by the profile definitions (a name for the
 * row); code asks the profile's data instead. */
enum model_id { MODEL_EC25, MODEL_M95, MODEL_BG96, MODEL_SIM7600, MODEL_A7670, MODEL_SIM7670G };

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

/* The per-model differences of the SIMCom dialect that its families read (reference §9);
 * all zero on the other models. MQTT wording the two families' tables differ in (test texts,
 * ranges) stays in those tables; what several families need, or what a revision changes, is
 * here. */
struct simcom_traits {
	/* AT+CMQTTSTART: SIM7600 prints `+CMQTTSTART: 0` before OK, A76XX after (§1.3) */
	bool start_urc_first;
	/* AT+CMQTTSTART when started: `+CMQTTSTART: 23` then ERROR (SIM7600); 0: bare ERROR
	 * (A76XX manual 18.2.1) */
	int start_again_err;
	/* +CMQTTCONNECT's <err> when the TLS handshake fails: 32 (SIM7600), 34 (A7670) (§2) */
	int handshake_err;
	/* the server URL may say ssl:// (A76XX: seed 002's CONNECT got 0,12 for a parameter,
	 * not for the scheme); SIM7600: tcp:// only (S76-ATC 16.2.7) */
	bool url_ssl;
	/* AT+CMQTTACCQ takes a 4th parameter <mqtt_version> (SIM7600) */
	bool accq_version;
	/* AT+CMQTTCFG="version" exists (A76XX) */
	bool cfg_version;
	/* the MQTT protocol level when nothing selects one and the revision has no
	 * QUIRK_MQTT_DEFAULT_31: 4 (3.1.1). SIM7600: not documented; seed 003's flow, which
	 * never chooses, connects to AWS IoT, which takes 3.1.1 only. */
	int mqtt_version_default;
	int pub_timeout_min; /* AT+CMQTTPUB <pub_timeout>: 60-180 (SIM7600), 1-180 (A76XX) */
	int disc_timeout_min; /* AT+CMQTTDISC <timeout>: 0 or 60-180 / 0 or 1-180 */
	bool ping_urc; /* +CMQTTPING (SIM7600 only) */
	bool sub_read; /* AT+CMQTTSUB? (A76XX only) */
	bool err35; /* <err> 35 "disconnect from server failed" (A76XX only) */
	int cert_name_max; /* AT+CCERTDOWN / CSSLCFG file names: 5-128 (SIM7600), 5-108 (A76XX) */
	/* AT+CSSLCFG's A76XX key set and read form (`password`, no keypwd/ciphersuites; read
	 * line ctx,ver,auth,ignoretime,negtime,ca,cert,key,password,sni) */
	bool cssl_a76;
	/* AT+NETCLOSE prints `+CIPCLOSE: <link>,<err>` for each open socket first (A76XX) */
	bool netclose_cipclose;
	/* the context dropping stops the CCH service with `+CCH: CCH STOP` (A76XX manual 19.4) */
	bool cch_stop_urc;
};

struct model_profile {
	enum model_id id; /* the row's name; never compared outside profile definitions */
	const char *name; /* --model value: "ec25" */
	const char *manufacturer; /* +CGMI */
	const char *model; /* +CGMM */
	const char *ati_model; /* second ATI line */
	/* SIMCom ATI's Manufacturer: where it differs from +CGMI (NULL: the same) */
	const char *ati_manufacturer;
	const char *revision; /* +GMR and "Revision: " in ATI (SIMCom: +CGMR; see revisions) */
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
	/* On LTE the network may bring context 1 up at attach (pdp_default_bearer_sync; the
	 * scenario's `default-bearer on` turns it on). */
	bool lte_default_bearer;
	/* The file drives (store/fs.h): sizes, naming rules, which persist. Ended by a row
	 * whose prefix is NULL. */
	const struct fs_drive_spec *drives;
	struct mqtt_limits mqtt;
	const int *ssl_suites; /* cipher suites the model offers, 0-terminated */
	/* TLS time check: false, per SSL context ("ignorelocaltime", with "negotiatetime");
	 * true, one global setting ("ignorertctime", GSM SSL AN 2.2.1) and no negotiate time. */
	bool ssl_rtc_global;
	int ssl_ctx_count; /* SSL contexts 0 .. count-1 (at most SSL_CTX_MAX, modem/ssl.h) */
	/* Firmware revisions with their quirks; the first is the default (revision is its
	 * text). NULL where the model has no table (no quirks). Ended by a NULL revision. */
	const struct model_revision *revisions;
	const char *gcap; /* ATI's last line ("+GCAP: +CGSM"), NULL: none (SIMCom's ATI) */
	struct simcom_traits simcom;
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
extern const struct model_profile profile_sim7600;
extern const struct model_profile profile_a7670;
extern const struct model_profile profile_sim7670g;

/* The row of p's revision table whose text is p->revision, or NULL. */
const struct model_revision *profile_revision(const struct model_profile *p);
/* What ATI prints after "Revision: " (the row's ati_revision, else the revision). */
const char *profile_ati_revision(const struct model_profile *p);
/* Does the modem's firmware revision have quirk (a QUIRK_* bit)? */
bool modem_quirk(const struct modem *m, unsigned quirk);

#endif
