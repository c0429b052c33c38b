/* PDP contexts: EC25 contexts 1-16 (+QICSGP/+QIACT, reference §4a), M95 legacy single-context
 * stack (+QIFGCNT/+QICSGP/+QIREGAPP/+QIACT, reference §4b).
 *
 * The AT handlers live in at/cmd_pdp.c; this module keeps the state and offers the calls that
 * later areas (sockets, MQTT, the network-fault code) build on. */
#ifndef MODEMSIM_MODEM_PDP_H
#define MODEMSIM_MODEM_PDP_H

#include <stdbool.h>
#include <stddef.h>

struct modem;

#define PDP_EC25_CIDS 16 /* contextID 1-16 */
#define PDP_M95_CTXS 2 /* +QIFGCNT context 0-1 */
#define PDP_APN_MAX 100 /* 3GPP TS 23.003 9.1: an APN is at most 100 octets */
#define PDP_CRED_MAX 127 /* username/password (EC2x TCP/IP AN: at most 127 bytes) */
#define PDP_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

/* +QICSGP <context_type> */
enum pdp_type { PDP_IPV4 = 1, PDP_IPV6 = 2, PDP_IPV4V6 = 3 };

struct pdp_config {
	int type; /* enum pdp_type (EC25); M95: <mode>, 0 CSD, 1 GPRS */
	char apn[PDP_APN_MAX + 1];
	char user[PDP_CRED_MAX + 1];
	char pwd[PDP_CRED_MAX + 1];
	int auth; /* 0 none, 1 PAP, 2 CHAP, 3 PAP or CHAP */
	bool defined; /* listed by +CGDCONT?: set by +QICSGP and +CGDCONT, undone by +CGDCONT=<cid>
	               */
};

/* One EC25 context. The configuration survives a reboot; the rest does not (see pdp_reboot). */
struct pdp_ctx {
	struct pdp_config cfg;
	bool active;
	int act_type; /* the type it was activated with: a later +QICSGP does not change it */
	char ip4[PDP_ADDR_MAX];
	char ip6[PDP_ADDR_MAX];
	char dns_pri[PDP_ADDR_MAX];
	char dns_sec[PDP_ADDR_MAX];
};

/* M95 +QISTAT <state> (M95/M35 AT manual, AT+QISTAT; GSM SSL AN table). The socket states
 * (TCP CONNECTING ... CONNECT OK) are entered by the socket commands of a later issue through
 * pdp_m95_set_state(). */
enum pdp_m95_state {
	PDP_M95_IP_INITIAL,
	PDP_M95_IP_START,
	PDP_M95_IP_CONFIG,
	PDP_M95_IP_IND,
	PDP_M95_IP_GPRSACT,
	PDP_M95_IP_STATUS,
	PDP_M95_TCP_CONNECTING,
	PDP_M95_UDP_CONNECTING,
	PDP_M95_IP_PROCESSING,
	PDP_M95_IP_CLOSE,
	PDP_M95_CONNECT_OK,
	PDP_M95_PDP_DEACT,
};

struct pdp_m95 {
	enum pdp_m95_state state;
	int fgcnt; /* +QIFGCNT foreground context */
	struct pdp_config cfg[PDP_M95_CTXS];
	int mux; /* +QIMUX */
	int dnsip; /* +QIDNSIP: 0 dotted address, 1 domain name */
	int indi; /* +QINDI: 0 data shown at once, 1/2 +QIRDI and AT+QIRD (at/cmd_sock_m95.c) */
	int qimode; /* +QIMODE: 1 transparent TCP (at/cmd_sock_m95.c) */
	int qihead; /* +QIHEAD: 1 "IPD<len>:" before shown data (at/cmd_sock_m95.c) */
	char ip4[PDP_ADDR_MAX];
};

/* The network's IPv4 DNS servers, the same for every modem (one operator's network). */
#define PDP_DNS4_PRI "10.200.0.10"
#define PDP_DNS4_SEC "10.200.0.11"

struct pdp_state {
	struct pdp_ctx ctx[PDP_EC25_CIDS + 1]; /* EC25, indexed by contextID; [0] unused */
	struct pdp_m95 m95;
	int last_err; /* +QIGETERROR: result of the last TCP/IP command, 0 or 55x/56x/57x */
	/* The scenario's `default-bearer on` (see pdp_default_bearer_sync); kept across reboots. */
	bool default_bearer;
};

/* What differs between the 3GPP contexts 1-16 (+QIACT: EC25, BG96) and the GSM legacy stack's
 * one context (+QIREGAPP/+QIACT: M95), as profile data (struct model_profile.pdp). */
struct pdp_style {
	int contexts; /* how many a host can address; 1: every cid means the one context */
	bool (*active)(const struct modem *m, int cid);
	const char *(*local_ip)(const struct modem *m, int cid); /* of an active context */
	void (*network_deactivate)(struct modem *m, int cid);
};

extern const struct pdp_style pdp_style_contexts;
extern const struct pdp_style pdp_style_contexts_simcom; /* no +QIURC: "pdpdeact" */
extern const struct pdp_style pdp_style_legacy;

/* The modem's PDP state, allocated with its defaults on first use (modem_area_alloc). */
struct pdp_state *modem_pdp(const struct modem *m);
/* AT+CFUN=1,1: every context is deactivated (no URC: the host asked for the reboot). */
void pdp_reboot(struct modem *m);

/* Is the context active? EC25: contextID 1-16; M95: the single foreground context (cid is
 * ignored), active from IP GPRSACT on. */
bool pdp_active(const struct modem *m, int cid);
/* The context's local address (IPv4 first; IPv6 for an IPv6-only context), or NULL if it is not
 * active. The string belongs to the modem and changes on the next activation. */
const char *pdp_local_ip(const struct modem *m, int cid);

/* The network dropped the context (the network-fault code calls this): it becomes inactive, the
 * sockets and MQTT clients on it are told (see the hook table in pdp.c), and the host gets
 * +QIURC: "pdpdeact",<cid> (EC25) or +PDP DEACT (M95). Nothing happens if it is not active. */
void pdp_network_deactivate(struct modem *m, int cid);
/* The same for every active context (the modem lost the network, +CFUN=0/4). */
void pdp_network_deactivate_all(struct modem *m);

/* The simulated IPv4 address of context cid on this modem (the same on every activation). */
void pdp_addr4(const struct modem *m, int cid, char *out, size_t len);

/* Record the outcome of a TCP/IP command for AT+QIGETERROR: 0 or a 55x-57x code. */
void pdp_set_error(struct modem *m, int code);

/* M95 +QISTAT state; every change goes through the setter, which logs old -> new. */
enum pdp_m95_state pdp_m95_state(const struct modem *m);
void pdp_m95_set_state(struct modem *m, enum pdp_m95_state state);
const char *pdp_m95_state_name(enum pdp_m95_state state);

/* The LTE default bearer: an LTE network brings up the default EPS bearer when the module
 * attaches (3GPP TS 23.401 5.3.2.1), and an EC25 or BG96 reports it as context 1 with no
 * AT+QIACT from the host (`+QIACT: 1,1,1,"<ip>"`; hosts open MQTT and sockets on it at once).
 * Where the profile has it (struct model_profile.lte_default_bearer) and the scenario turned it
 * on (`default-bearer on`; off by default), context 1 is activated, without a URC, whenever the
 * module is PS attached on an LTE cell and it is not active. Called on every change of the
 * registration or attach state, at boot and when the setting changes. */
void pdp_default_bearer_sync(struct modem *m);

/* EC25 host-side activation and deactivation, used by the AT handlers. */
void pdp_activate(struct modem *m, int cid);
void pdp_deactivate(struct modem *m, int cid);
/* M95: the context went up (IP GPRSACT) or was deactivated by AT+QIDEACT (IP INITIAL). */
void pdp_m95_activate(struct modem *m);
void pdp_m95_deactivate(struct modem *m);

#endif
