#include "modem/profile.h"

#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "store/fs.h"

/* EG25-G boot capture (reference §7): RDY, +CFUN: 1, +CPIN: READY, +QUSIM: 1, then SMS and
 * phonebook ready some seconds later. */
static const struct boot_urc ec25_boot[] = {
        {"RDY", 0},         {"+CFUN: 1", 400},         {"+CPIN: READY", 500},
        {"+QUSIM: 1", 600}, {"+QIND: SMS DONE", 2500}, {"+QIND: PB DONE", 4500},
        {NULL, 0},
};

/* M95: RDY, +CFUN: 1, +CPIN: READY, Call Ready, SMS Ready (reference §7). */
static const struct boot_urc m95_boot[] = {
        {"RDY", 0},           {"+CFUN: 1", 400},   {"+CPIN: READY", 500},
        {"Call Ready", 3000}, {"SMS Ready", 4000}, {NULL, 0},
};

static const struct at_cmd *const ec25_families[] = {
        at_family_basic,     at_family_identity_ec25, at_family_network_ec25,
        at_family_pdp_ec25,  at_family_file_ec25,     at_family_ssl_ec25,
        at_family_mqtt_ec25, at_family_sock_ec25,     NULL,
};

static const struct at_cmd *const m95_families[] = {
        at_family_basic,    at_family_identity_m95, at_family_network_m95,
        at_family_pdp_m95,  at_family_sec_m95,      at_family_ssl_m95,
        at_family_mqtt_m95, at_family_sock_m95,     NULL,
};

/* The file drives (store/fs.h). */
static const struct fs_drive_spec ec25_drives[] = {
        /* EC25 UFS: 14483456 is the total of a real AT+QFLDS="UFS" answer (reference §3,
         * BG96 AN). The upload range is (1-<freesize>), so free space is the only per-file
         * limit. EC25 FILE manual: a plain name is a UFS file (reference §3). */
        {.drive = FS_UFS,
         .prefix = "UFS",
         .total = 14483456,
         .file_max = 14483456,
         .persist = true,
         .bare_names = true},
        /* EC25 RAM: its size is not documented; 2 MiB is a choice. */
        {.drive = FS_RAM, .prefix = "RAM", .total = 2097152, .file_max = 2097152},
        {.prefix = NULL},
};

/* M95 (GSM SSL AN 2.2.7): the name is "RAM:..." or "NVRAM:...", nothing else (so no row takes
 * bare names), and the NVRAM names are these. */
static const char *const m95_nvram_names[] = {"CA0", "CC0", "CK0", NULL};

static const struct fs_drive_spec m95_drives[] = {
        /* M95 (GSM SSL AN V3.3 2.2.7): RAM at most 32768 bytes per file, NVRAM 2017, and
         * NVRAM holds one CA certificate, one client certificate and one key. The RAM drive's
         * total is not documented; 1 MiB is a cap so a runaway host cannot exhaust memory. */
        {.drive = FS_RAM, .prefix = "RAM", .total = 1048576, .file_max = 32768},
        {.drive = FS_NVRAM,
         .prefix = "NVRAM",
         .total = 3 * 2017,
         .file_max = 2017,
         .persist = true,
         .names = m95_nvram_names},
        {.prefix = NULL},
};

const struct model_profile profile_ec25 = {
        .id = MODEL_EC25,
        .name = "ec25",
        .manufacturer = "Quectel",
        .model = "EC25",
        .ati_model = "EC25",
        .revision = "EC25EFAR06A17M4G",
        .subrevision = "01.002.01.002",
        .imei_tac = "86675804",
        .cmee_default = 1,
        .boot = ec25_boot,
        .families = ec25_families,
        .drives = ec25_drives,
};

const struct model_profile profile_m95 = {
        .id = MODEL_M95,
        .name = "m95",
        .manufacturer = "Quectel_Ltd",
        .model = "Quectel_M95",
        .ati_model = "Quectel_M95",
        .revision = "M95FAR02A08",
        .subrevision = NULL,
        .imei_tac = "86205403",
        .cmee_default = 0,
        .boot = m95_boot,
        .families = m95_families,
        .drives = m95_drives,
};

const struct model_profile *profile_find(const char *name)
{
	if (strcasecmp(name, "ec25") == 0)
		return &profile_ec25;
	if (strcasecmp(name, "m95") == 0)
		return &profile_m95;
	return NULL;
}
