/* Every command family the model profiles can list. */
#ifndef MODEMSIM_AT_FAMILIES_H
#define MODEMSIM_AT_FAMILIES_H

#include "at/dispatch.h"

extern const struct at_family at_family_basic; /* V.250: E V Q Z &F I S, +CMEE, +IPR */
extern const struct at_family
        at_family_identity_ec25; /* +CGMI +CGMM +GMR +QGMR +GSN +CIMI +QCCID */
extern const struct at_family at_family_identity_m95;
extern const struct at_family at_family_network_ec25; /* +CPIN +CREG +COPS +CSQ +CFUN +CCLK ... */
extern const struct at_family at_family_network_m95;
/* BG96 +QCFG "nwscanseq", "nwscanmode", "iotopmode" (Cat-M1 / NB-IoT scan settings) */
extern const struct at_family at_family_qcfg_bg96;
/* EC25 +QCFG "nwscanmode", "nwscanseq", "band" */
extern const struct at_family at_family_qcfg_ec25;
extern const struct at_family at_family_pdp_ec25; /* +QICSGP +QIACT +QIDEACT +QIDNSCFG ... */
extern const struct at_family at_family_pdp_m95; /* +QIFGCNT +QICSGP +QIREGAPP +QIACT ... */
extern const struct at_family at_family_file_ec25; /* +QFUPL +QFDWL +QFDEL +QFLST +QFOPEN ... */
extern const struct at_family at_family_sec_m95; /* +QSECWRITE +QSECREAD +QSECDEL */
extern const struct at_family at_family_ssl_ec25; /* +QSSLCFG */
extern const struct at_family at_family_ssl_m95;
extern const struct at_family at_family_ssl_bg96; /* +QSSLCFG with the BG96's keys */
extern const struct at_family at_family_mqtt_ec25; /* +QMTCFG +QMTOPEN +QMTCONN +QMTPUB ... */
extern const struct at_family at_family_mqtt_m95;
extern const struct at_family at_family_mqtt_bg96; /* no +QMTPUBEX, no recv/mode, no +QMTRECV */
/* 3GPP TS 27.007/27.005: +CGATT +CGDCONT +CGACT +CGPADDR +CTZR +CMGF +CNMI +CSCS +CBC, and
 * +CTZU +QSCLK (EC25, BG96; contexts shared with +QICSGP) or +QNITZ +QSCLK (M95) */
extern const struct at_family at_family_3gpp_lte;
extern const struct at_family at_family_3gpp_gsm;
/* +QIOPEN +QISEND +QIRD +QICLOSE +QISTATE, +QSSLOPEN ... +QSSLSTATE, ATO */
extern const struct at_family at_family_sock_ec25;
/* 3GPP TS 27.007/27.005: +CGATT +CGDCONT +CGACT +CGPADDR +CTZR +CMGF +CNMI +CSCS +CBC, and
 * +CTZU +QSCLK (EC25, BG96; contexts shared with +QICSGP) or +QNITZ +QSCLK (M95) */
extern const struct at_family at_family_3gpp_lte;
extern const struct at_family at_family_3gpp_gsm;
/* +QIOPEN +QISEND +QIRD +QICLOSE +QISACK +QINDI +QIMODE +QIHEAD, +QSSLOPEN ... +QSSLSTATE, ATO */
extern const struct at_family at_family_sock_m95;
/* SIMCom (SIM7600, A7670, SIM7670G; at/simcom.h): ATI, +SIMCOMATI, +CGMI ... +CICCID */
extern const struct at_family at_family_identity_simcom;
extern const struct at_family at_family_network_simcom; /* +CPSI (at/simcom_network.c) */
/* +CPIN +CREG +CGREG +CEREG +COPS +CSQ +CCLK +CFUN (cmd_network.c's handlers) */
extern const struct at_family at_family_network_3gpp_simcom;
/* 3GPP: +CGATT +CGDCONT +CGACT +CGPADDR +CTZR +CMGF +CNMI +CSCS +CBC +CSCLK (cmd_3gpp.c) */
extern const struct at_family at_family_3gpp_simcom;
extern const struct at_family at_family_ip_simcom; /* +NETOPEN +NETCLOSE +IPADDR +CDNSCFG */
extern const struct at_family at_family_cert_simcom; /* +CCERTDOWN +CCERTLIST +CCERTDELE */
extern const struct at_family at_family_ssl_simcom; /* +CSSLCFG */
extern const struct at_family at_family_mqtt_sim7600; /* +CMQTT*, SIM7500/SIM7600 */
extern const struct at_family at_family_mqtt_a7670; /* +CMQTT*, A76XX (A7670, SIM7670G) */
extern const struct at_family at_family_cch_simcom; /* +CCHSTART +CCHOPEN +CCHSEND ... */
extern const struct at_family at_family_cip_simcom; /* +CIPOPEN +CIPSEND +CIPRXGET ... */
/* +QISTAT's per-socket lines with QIMUX=1 (at/cmd_sock_m95.c). */
void at_sock_m95_qistat(struct modem *m);

#endif
