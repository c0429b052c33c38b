#include "modem/profile.h"

#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "modem/modem.h"
#include "modem/pdp.h"
#include "modem/ssl.h"
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

/* BG96 boot capture (a Cat-M1 bring-up log, SKT): RDY, +CFUN: 1, APP RDY, +CPIN: READY,
 * +QUSIM: 1, +QIND: SMS DONE; no +QIND: PB DONE in either BG96 capture found. APP RDY is the
 * BG96 AT manual's "send AT commands after it" (older firmware lacks it). */
static const struct boot_urc bg96_boot[] = {
        {"RDY", 0},         {"+CFUN: 1", 400},         {"APP RDY", 450}, {"+CPIN: READY", 500},
        {"+QUSIM: 1", 600}, {"+QIND: SMS DONE", 2500}, {NULL, 0},
};

static const struct at_family *const ec25_families[] = {
        &at_family_basic,
        &at_family_identity_ec25,
        &at_family_network_ec25,
        &at_family_pdp_ec25,
        &at_family_file_ec25,
        &at_family_ssl_ec25,
        &at_family_mqtt_ec25,
        &at_family_sock_ec25,
        &at_family_3gpp_lte,
        &at_family_qcfg_ec25,
        NULL,
};

static const struct at_family *const m95_families[] = {
        &at_family_basic,       &at_family_identity_m95,
        &at_family_network_m95, &at_family_pdp_m95,
        &at_family_sec_m95,     &at_family_ssl_m95,
        &at_family_mqtt_m95,    &at_family_sock_m95,
        &at_family_3gpp_gsm,    NULL,
};

/* The BG96 is the EC25's platform with Cat-M1/NB-IoT radio: the EC25 families, with its own
 * MQTT and SSL key sets and the scan settings of +QCFG. The +QCFG family comes before the EC25
 * network family: its +QCSQ row (the BG96's system modes) wins. */
static const struct at_family *const bg96_families[] = {
        &at_family_basic,
        &at_family_identity_ec25,
        &at_family_qcfg_bg96,
        &at_family_network_ec25,
        &at_family_pdp_ec25,
        &at_family_file_ec25,
        &at_family_ssl_bg96,
        &at_family_mqtt_bg96,
        &at_family_sock_ec25,
        &at_family_3gpp_lte,
        NULL,
};

/* Documented commands modemsim does not simulate (their manuals: EC2x AT manual and its PING/
 * NTP, HTTP(S), FTP(S), GNSS application notes; BG96 AT manual and the same notes; M95 AT
 * manual V3.2, its revision history (drivers.md D3) and the GSM HTTP/FTP notes). A host that
 * sends one gets +CME ERROR: 4 and an info finding, not the "not a command" warning. */
static const char *const ec25_unsimulated[] = {
        "+QPING",   "+QHTTPCFG", "+QHTTPURL",  "+QHTTPGET", "+QHTTPPOST", "+QHTTPREAD",
        "+QFTPCFG", "+QFTPOPEN", "+QFTPGET",   "+QFTPPUT",  "+QGPS",      "+QGPSCFG",
        "+QGPSLOC", "+QGPSEND",  "+QGPSGNMEA", "+CMGS",     "+CMGR",      "+CMGL",
        "+CMGD",    "+CSCA",     "+QSPN",      "+QLTS",     "+QTEMP",     "+QENG",
        "+CMUX",    "+QURCCFG",  "+QINDCFG",   "+CPSMS",    "+CEDRXS",    NULL,
};

static const char *const bg96_unsimulated[] = {
        "+QPING",    "+QHTTPCFG", "+QHTTPURL", "+QHTTPGET", "+QHTTPPOST", "+QHTTPREAD", "+QFTPCFG",
        "+QFTPOPEN", "+QGPS",     "+QGPSCFG",  "+QGPSLOC",  "+QGPSEND",   "+CMGS",      "+CMGR",
        "+CMGL",     "+CMGD",     "+CSCA",     "+QSPN",     "+QLTS",      "+QENG",      "+CMUX",
        "+QURCCFG",  "+QINDCFG",  "+CPSMS",    "+CEDRXS",   "+QPSMS",     NULL,
};

static const char *const m95_unsimulated[] = {
        "+QPING",    "+QNTP",    "+QHTTPURL", "+QHTTPGET", "+QHTTPPOST", "+QHTTPREAD",
        "+QFTPOPEN", "+QFTPGET", "+QFTPPUT",  "+CMGS",     "+CMGR",      "+CMGL",
        "+CMGD",     "+CSCA",    "+QSPN",     "+QLTS",     "+QTEMP",     "+QISTATE",
        "+QENG",     "+CMUX",    "+QCELLLOC", "+QISSTAT",  NULL,
};

/* SIMCom: SIM7500/SIM7600 AT manual V3.00 and A76XX AT manual V1.09 (NTP, PING, HTTP(S),
 * GNSS, SMS, CMUX chapters). */
static const char *const sim7600_unsimulated[] = {
        "+CNTP",     "+CPING", "+HTTPINIT", "+HTTPPARA", "+HTTPACTION", "+HTTPREAD",
        "+HTTPTERM", "+CGPS",  "+CGPSINFO", "+CMGS",     "+CMGR",       "+CMGL",
        "+CMGD",     "+CSCA",  "+CMUX",     NULL,
};

static const char *const a76xx_unsimulated[] = {
        "+CNTP",     "+CPING",    "+HTTPINIT", "+HTTPPARA", "+HTTPACTION", "+HTTPREAD",
        "+HTTPTERM", "+CGNSSPWR", "+CGPSINFO", "+CMGS",     "+CMGR",       "+CMGL",
        "+CMGD",     "+CSCA",     "+CMUX",     NULL,
};

bool profile_unsimulated(const struct model_profile *p, const char *name)
{
	for (const char *const *u = p->unsimulated; u && *u; u++)
		if (strcasecmp(*u, name) == 0)
			return true;
	return false;
}

/* EC25 list: EG25-G AT+QSSLCFG=? output (reference §5a). */
static const int ec25_suites[] = {
        0x0035, 0x002F, 0x0005, 0x000A, 0x003D, 0xC003, 0xC004, 0xC005, 0xC008, 0xC009,
        0xC00A, 0xC012, 0xC013, 0xC014, 0xC00D, 0xC00E, 0xC00F, 0xC023, 0xC024, 0xC025,
        0xC026, 0xC027, 0xC028, 0xC029, 0xC02A, 0xC02F, 0xC030, 0,
};

/* M95: RSA key exchange only (GSM SSL AN V3.3 table 2). */
static const int m95_suites[] = {0x0035, 0x002F, 0x0005, 0x0004, 0x000A, 0x003D, 0};

/* BG96: its AT+QSSLCFG=? list as a RAK5010 (BG96) document quotes it. */
static const int bg96_suites[] = {0x0035, 0x002F, 0x0005, 0x0004, 0x000A, 0x003D, 0xC011,
                                  0xC012, 0xC013, 0xC014, 0xC027, 0xC028, 0xC02F, 0};

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

/* BG96 FILE AT Commands Manual V1.0: files live in UFS only (its AT+QFLDS="UFS" example:
 * `+QFLDS: 12987840,14483456`); no RAM: drive is documented. BG96 sessions name files bare
 * (`AT+QFUPL="AmazonRootCA1.pem",1188,100`); the UFS: prefix is accepted as on the EC25 (not
 * confirmed on a BG96). BG95/BG96 firmware takes names with directories, and the drivers written
 * for it use them (`AT+QFUPL="/security/cacert.pem",...`, `AT+QFLST="ufs:/security/<pattern>"`,
 * issue 15); the EC25 and M95 manuals name files without directories. */
static const struct fs_drive_spec bg96_drives[] = {
        {.drive = FS_UFS,
         .prefix = "UFS",
         .total = 14483456,
         .file_max = 14483456,
         .persist = true,
         .bare_names = true,
         .subdirs = true},
        {.prefix = NULL},
};

/* MQTT limits: six clients, payload 1-1548 (reference §6c: EC2x, BG96 and M95 "(1-1548)"),
 * topic 255; the M95's in-flight window of 5 (M95 MQTT AN 3.2.8 note 1). The largest packet
 * taken from the broker is not documented: 64 KiB is a choice (a larger one ends the
 * connection with +QMTSTAT: <id>,1, README "What is guaranteed"). */
#define QUECTEL_MQTT(window)                                                                       \
	{                                                                                          \
		.clients = 6, .inflight_max = (window), .payload_max = 1548,                       \
		.topic_max = MQTT_TOPIC_MAX, .rx_packet_max = 64 * 1024                            \
	}

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
        /* a choice: the EC25's reset time is not in the sources (the BG96's, on the same
         * platform, is about 5.9 s) */
        .reboot_ms = 5000,
        .families = ec25_families,
        .prompt = "\r\n> ",
        /* LTE band 3: EARFCN 1300 lies in band 3's downlink range 1200-1949 */
        .cell = {.act = 7,
                 .ci = 0x1A2D101,
                 .rssi = 25,
                 .ber = 99,
                 .nw_act = "FDD LTE",
                 .qcsq_mode = "LTE",
                 .band = "LTE BAND 3",
                 .channel = 1300},
        .pdp = &pdp_style_contexts,
        .lte_default_bearer = true,
        .drives = ec25_drives,
        .mqtt = QUECTEL_MQTT(0),
        .ssl_suites = ec25_suites,
        .ssl_rtc_global = false,
        .ssl_ctx_count = SSL_CTX_COUNT,
        .unsimulated = ec25_unsimulated,
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
        .reboot_ms = 3000, /* a choice: no source gives the M95's */
        .families = m95_families,
        .prompt = "\r\n> ",
        /* GSM only: no AcT, a two-byte cell id */
        .cell = {.act = -1,
                 .ci = 0x0C5F,
                 .rssi = 22,
                 .ber = 0,
                 .nw_act = "GSM",
                 .qcsq_mode = "GSM",
                 .band = "GSM 900",
                 .channel = 0},
        .pdp = &pdp_style_legacy,
        .drives = m95_drives,
        .mqtt = QUECTEL_MQTT(5),
        .ssl_suites = m95_suites,
        .ssl_rtc_global = true,
        .ssl_ctx_count = SSL_CTX_COUNT,
        .unsimulated = m95_unsimulated,
};

/* Identity from BG96 captures: ATI `Quectel` / `BG96` / `Revision: BG96MAR02A07M1G` (TinyGSM
 * issue 157 and a RAK5010 document), AT+QGMR `BG96MAR02A07M1G_01.016.01.016` (firmware
 * names), IMEI TAC 86528404 (a Particle tracker's trace). Registered on Cat-M1 (AcT 8,
 * `+CEREG: 2,1,"D0B","C45C010",8` in that trace), LTE band 12 (EARFCN 5110 lies in band 12's
 * downlink range 5010-5179); +QCSQ and +QNWINFO name the RAT "CAT-M1". */
const struct model_profile profile_bg96 = {
        .id = MODEL_BG96,
        .name = "bg96",
        .manufacturer = "Quectel",
        .model = "BG96",
        .ati_model = "BG96",
        .revision = "BG96MAR02A07M1G",
        .subrevision = "01.016.01.016",
        .imei_tac = "86528404",
        .cmee_default = 1,
        .boot = bg96_boot,
        /* TinyGSM issue 157's BG96 log: RDY about 5.9 s after the OK of AT+CFUN=1,1 */
        .reboot_ms = 5900,
        .families = bg96_families,
        .prompt = "\r\n> ",
        .cell = {.act = 8,
                 .ci = 0xC45C010,
                 .rssi = 25,
                 .ber = 99,
                 .nw_act = "CAT-M1",
                 .qcsq_mode = "CAT-M1",
                 .band = "LTE BAND 12",
                 .channel = 5110},
        .pdp = &pdp_style_contexts,
        .lte_default_bearer = true,
        .drives = bg96_drives,
        .mqtt = QUECTEL_MQTT(0),
        .ssl_suites = bg96_suites,
        .ssl_rtc_global = false,
        .ssl_ctx_count = SSL_CTX_COUNT,
        .unsimulated = bg96_unsimulated,
};

/* ---- SIMCom ---- */

/* SIM7600 boot: RDY, +CPIN: READY, SMS DONE, PB DONE (reference §9; seed 003 shows SMS DONE
 * and PB DONE after power-on). The delays are a choice. */
static const struct boot_urc sim7600_boot[] = {
        {"RDY", 0}, {"+CPIN: READY", 600}, {"SMS DONE", 3000}, {"PB DONE", 4500}, {NULL, 0},
};

/* A76XX boot: *ATREADY: 1, +CPIN: READY, SMS DONE, +CGEV: EPS PDN ACT 1 (reference §9; the
 * LTE default bearer comes up with the attach). The delays are a choice. */
static const struct boot_urc a7670_boot[] = {
        {"*ATREADY: 1", 0}, {"+CPIN: READY", 500},
        {"SMS DONE", 2000}, {"+CGEV: EPS PDN ACT 1", 2500},
        {NULL, 0},
};

/* The SIMCom families. The identity family comes before basic: its ATI row (SIMCom's
 * Manufacturer:/Model:/Revision:/IMEI: form) wins. */
static const struct at_family *const sim7600_families[] = {
        &at_family_identity_simcom,     &at_family_basic,        &at_family_network_simcom,
        &at_family_network_3gpp_simcom, &at_family_ip_simcom,    &at_family_cert_simcom,
        &at_family_ssl_simcom,          &at_family_mqtt_sim7600, &at_family_cch_simcom,
        &at_family_cip_simcom,          &at_family_3gpp_simcom,  NULL,
};

static const struct at_family *const a7670_families[] = {
        &at_family_identity_simcom,     &at_family_basic,       &at_family_network_simcom,
        &at_family_network_3gpp_simcom, &at_family_ip_simcom,   &at_family_cert_simcom,
        &at_family_ssl_simcom,          &at_family_mqtt_a7670,  &at_family_cch_simcom,
        &at_family_cip_simcom,          &at_family_3gpp_simcom, NULL,
};

/* SIM7600 manual V3.00 10.2.12 names 0x002F and 0xFFFF ("support all") only; what "all" is
 * is not documented: a modern RSA/ECDSA set, a choice. */
static const int simcom_suites[] = {
        0x002F, 0x0035, 0x003C, 0x003D, 0x009C, 0x009D, 0xC009, 0xC00A, 0xC013, 0xC014,
        0xC023, 0xC024, 0xC027, 0xC028, 0xC02B, 0xC02C, 0xC02F, 0xC030, 0,
};

/* The certificate store of AT+CCERTDOWN/CCERTLIST/CCERTDELE: names without a drive
 * (`AT+CCERTDOWN="cacert.pem",1188`), kept in flash across reboots (reference §6.2). A file is
 * at most 10240 bytes (the <len> range); the store's size is not documented: 1 MiB is a cap,
 * a choice. */
static const struct fs_drive_spec simcom_drives[] = {
        {.drive = FS_CERT,
         .prefix = "CERT",
         .total = 1048576,
         .file_max = 10240,
         .persist = true,
         .bare_names = true,
         .name_max = FS_NAME_LONGEST},
        {.prefix = NULL},
};

/* Two clients on every SIMCom model (§1.6); payload 1-10240 (CMQTTPAYLOAD), topic 1-1024
 * (CMQTTTOPIC); no in-flight window is documented. 64 KiB for what the broker sends is a
 * choice, as for the Quectel models. */
#define SIMCOM_MQTT                                                                                \
	{                                                                                          \
		.clients = 2, .inflight_max = 0, .payload_max = 10240, .topic_max = 1024,          \
		.rx_packet_max = 64 * 1024                                                         \
	}

/* SIM7600 firmware revisions. LE11B02SIM7600M21-A: the SIM7600E of seed 003 (ATI `Revision:
 * SIM7600M21-A_V1.1`, AT+CGMR `+CGMR: LE11B02SIM7600M21-A`), whose CSSLCFG "sslversion"
 * answers OK. LE11B02SIM7500A: the SIM7600A dev board of the same thread, "ERROR" to
 * sslversion; LE11B03SIM7600A-H: its upgrade, which fixed it. LE20B04SIM7600G22: a SIM7600G-H
 * (reference §9, [ISS T-SIM7600X#49]). The ATI revisions of the last three are not in the
 * sources: ATI prints the firmware revision for them (the manual's form says "revision
 * identification of firmware"). */
static const struct model_revision sim7600_revisions[] = {
        {"LE11B02SIM7600M21-A", NULL, "SIM7600M21-A_V1.1", 0},
        {"LE11B02SIM7500A", NULL, NULL, QUIRK_SSLVERSION_ERROR},
        {"LE11B03SIM7600A-H", NULL, NULL, 0},
        {"LE20B04SIM7600G22", NULL, NULL, 0},
        {NULL, NULL, NULL, 0},
};

/* A7670E-FASE: AT+SIMCOMATI `Revision: A011B07A7670M7_F` / `A7670M7_B07V01_240927`
 * (LilyGo-Modem-Series #441, reference §9); MQTT 3.1 by default (A76XX manual 18.2.17).
 * A011B07A7670M7_F-ECHO is the same firmware with the prompt echo of reference §1.4 (a name
 * for the option, not a real revision). */
static const struct model_revision a7670_revisions[] = {
        {"A011B07A7670M7_F", "A7670M7_B07V01_240927", NULL, QUIRK_MQTT_DEFAULT_31},
        {"A011B07A7670M7_F-ECHO", "A7670M7_B07V01_240927", NULL,
         QUIRK_MQTT_DEFAULT_31 | QUIRK_PROMPT_ECHO},
        {NULL, NULL, NULL, 0},
};

/* SIM7670G-MNGV of seed 002: AT+SIMCOMATI `Revision: 2374B02SIM767XM5A_M` /
 * `SIM767XM5_B02V01_240717`, ATI `Revision: V1.9.01`; MQTT 3.1 unless asked (the seed's fix).
 * 2374B05SIM767XM5A_M: a B05 build, whose log ([ISS-197]) shows the data of a prompt echoed;
 * its full revision text is not in the log (a name for the option). */
static const struct model_revision sim7670g_revisions[] = {
        {"2374B02SIM767XM5A_M", "SIM767XM5_B02V01_240717", "V1.9.01", QUIRK_MQTT_DEFAULT_31},
        {"2374B05SIM767XM5A_M", "SIM767XM5_B05V01", NULL,
         QUIRK_MQTT_DEFAULT_31 | QUIRK_PROMPT_ECHO},
        {NULL, NULL, NULL, 0},
};

/* A SIMCom client ends with DISC, then REL and STOP (reference simcom.md §2). */
#define SIMCOM_MQTT_SHUTDOWN                                                                       \
	{                                                                                          \
		"AT+CMQTTDISC/AT+CMQTTREL/AT+CMQTTSTOP", "AT+CMQTTREL/AT+CMQTTSTOP"                \
	}

#define SIM7600_TRAITS                                                                             \
	{                                                                                          \
		.start_urc_first = true, .start_again_err = 23, .handshake_err = 32,               \
		.url_ssl = false, .accq_version = true, .cfg_version = false,                      \
		.mqtt_version_default = 4, .pub_timeout_min = 60, .disc_timeout_min = 60,          \
		.ping_urc = true, .sub_read = false, .err35 = false, .cert_name_max = 128,         \
		.cssl_a76 = false, .netclose_cipclose = false, .cch_stop_urc = false,              \
	}

#define A76XX_TRAITS                                                                               \
	{                                                                                          \
		.start_urc_first = false, .start_again_err = 0, .handshake_err = 34,               \
		.url_ssl = true, .accq_version = false, .cfg_version = true,                       \
		.mqtt_version_default = 4, .pub_timeout_min = 1, .disc_timeout_min = 1,            \
		.ping_urc = false, .sub_read = true, .err35 = true, .cert_name_max = 108,          \
		.cssl_a76 = true, .netclose_cipclose = true, .cch_stop_urc = true,                 \
	}

/* SIM7600E of seed 003: ATI `Manufacturer: SIMCOM INCORPORATED` / `Model: SIMCOM_SIM7600E` /
 * `Revision: SIM7600M21-A_V1.1` / `IMEI:` / `+GCAP: +CGSM`; +CGMM as the manual's example
 * form (the model without the SIMCOM_ prefix is not shown anywhere: the ATI text is used).
 * Registered on LTE band 3, EARFCN 1275, cell 136092930 (the seed's +CPSI). IMEI TAC: the
 * manual's ATI example (351602...). */
const struct model_profile profile_sim7600 = {
        .id = MODEL_SIM7600,
        .name = "sim7600",
        .manufacturer = "SIMCOM INCORPORATED",
        .model = "SIMCOM_SIM7600E",
        .ati_model = "SIMCOM_SIM7600E",
        .revision = "LE11B02SIM7600M21-A",
        .subrevision = NULL,
        .imei_tac = "35160200",
        .cmee_default = 0,
        .boot = sim7600_boot,
        .reboot_ms = 12000, /* a choice: the SIM7600's reset time is not in the sources */
        .families = sim7600_families,
        .prompt = "\r\n>", /* seed 003: `>` and nothing after it (reference §1.4) */
        .cell = {.act = 7,
                 .ci = 136092930,
                 .rssi = 25,
                 .ber = 99,
                 .nw_act = "LTE",
                 .qcsq_mode = "LTE",
                 .band = "EUTRAN-BAND3",
                 .channel = 1275},
        .pdp = &pdp_style_contexts_simcom,
        .drives = simcom_drives,
        .mqtt = SIMCOM_MQTT,
        .ssl_suites = simcom_suites,
        .ssl_rtc_global = false,
        .ssl_ctx_count = 10,
        .revisions = sim7600_revisions,
        .gcap = "+GCAP: +CGSM",
        .simcom = SIM7600_TRAITS,
        .unsimulated = sim7600_unsimulated,
        .mqtt_shutdown = SIMCOM_MQTT_SHUTDOWN,
};

/* A7670E-FASE (reference §9: AT+SIMCOMATI `Manufacturer: INCORPORATED` on this model);
 * ATI's +GCAP as the A76XX manual's example. IMEI TAC of an A7670E (LilyGo-Modem-Series
 * #213). LTE band 3 (a choice). */
const struct model_profile profile_a7670 = {
        .id = MODEL_A7670,
        .name = "a7670",
        .manufacturer = "SIMCOM INCORPORATED", /* +CGMI: the A76XX manual's example */
        .ati_manufacturer = "INCORPORATED",
        .model = "A7670E-FASE",
        .ati_model = "A7670E-FASE",
        .revision = "A011B07A7670M7_F",
        .subrevision = NULL,
        .imei_tac = "86277107",
        .cmee_default = 0,
        .boot = a7670_boot,
        .reboot_ms = 8000, /* a choice */
        .families = a7670_families,
        .prompt = "\r\n>",
        .cell = {.act = 7,
                 .ci = 0x1A2D101,
                 .rssi = 24,
                 .ber = 99,
                 .nw_act = "LTE",
                 .qcsq_mode = "LTE",
                 .band = "EUTRAN-BAND3",
                 .channel = 1300},
        .pdp = &pdp_style_contexts_simcom,
        .drives = simcom_drives,
        .mqtt = SIMCOM_MQTT,
        .ssl_suites = simcom_suites,
        .ssl_rtc_global = false,
        .ssl_ctx_count = 10,
        .revisions = a7670_revisions,
        .gcap = "+GCAP: +CGSM,+FCLASS,+DS",
        .simcom = A76XX_TRAITS,
        .unsimulated = a76xx_unsimulated,
        .mqtt_shutdown = SIMCOM_MQTT_SHUTDOWN,
};

/* SIM7670G-MNGV of seed 002 (the A76XX firmware family): `Manufacturer: SIMCOM INCORPORATED`,
 * `Model: SIM7670G-MNGV`; IMEI TAC from its AT+SIMCOMATI (864643...); LTE band 7, EARFCN
 * 2850, cell 5314856 (its +CPSI). */
const struct model_profile profile_sim7670g = {
        .id = MODEL_SIM7670G,
        .name = "sim7670g",
        .manufacturer = "SIMCOM INCORPORATED",
        .model = "SIM7670G-MNGV",
        .ati_model = "SIM7670G-MNGV",
        .revision = "2374B02SIM767XM5A_M",
        .subrevision = NULL,
        .imei_tac = "86464306",
        .cmee_default = 0,
        .boot = a7670_boot,
        .reboot_ms = 8000, /* a choice */
        .families = a7670_families,
        .prompt = "\r\n>",
        .cell = {.act = 7,
                 .ci = 5314856,
                 .rssi = 22,
                 .ber = 99,
                 .nw_act = "LTE",
                 .qcsq_mode = "LTE",
                 .band = "EUTRAN-BAND7",
                 .channel = 2850},
        .pdp = &pdp_style_contexts_simcom,
        .drives = simcom_drives,
        .mqtt = SIMCOM_MQTT,
        .ssl_suites = simcom_suites,
        .ssl_rtc_global = false,
        .ssl_ctx_count = 10,
        .revisions = sim7670g_revisions,
        .gcap = "+GCAP: +CGSM,+FCLASS,+DS",
        .simcom = A76XX_TRAITS,
        .unsimulated = a76xx_unsimulated,
        .mqtt_shutdown = SIMCOM_MQTT_SHUTDOWN,
};

const struct model_profile *const profile_table[] = {
        &profile_ec25,  &profile_m95,      &profile_bg96, &profile_sim7600,
        &profile_a7670, &profile_sim7670g, NULL,
};

const struct model_profile *profile_find(const char *name)
{
	for (const struct model_profile *const *p = profile_table; *p; p++)
		if (strcasecmp(name, (*p)->name) == 0)
			return *p;
	return NULL;
}

const struct model_revision *profile_revision(const struct model_profile *p)
{
	if (!p->revisions)
		return NULL;
	for (const struct model_revision *r = p->revisions; r->revision; r++)
		if (strcmp(r->revision, p->revision) == 0)
			return r;
	return NULL;
}

const char *profile_ati_revision(const struct model_profile *p)
{
	const struct model_revision *r = profile_revision(p);

	return r && r->ati_revision ? r->ati_revision : p->revision;
}

bool modem_quirk(const struct modem *m, unsigned quirk)
{
	const struct model_revision *r = profile_revision(m->model);

	return r && (r->quirks & quirk) != 0;
}
