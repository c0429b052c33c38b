/* SIMCom (SIM7600, A7670, SIM7670G): TCP sockets AT+CIPOPEN +CIPSEND +CIPRXGET +CIPCLOSE
 * +CIPMODE and the settings TinyGSM sends with them (+CIPSENDMODE +CIPCCFG +CIPTIMEOUT
 * +CIPHEAD +CIPSRIP), over the socket core (sock/sock.c) and the stack of AT+NETOPEN
 * (SIM7600 manual V3.00 11.2, A76XX manual V1.09 15.2, A76XX TCPIP AN V1.02; reference §7.2).
 *
 *   AT+CIPOPEN=<l>,"TCP","host",<port>[,<local_port>]   ==> OK   <== +CIPOPEN: <l>,<err>
 *     (CIPMODE=1, link 0: CONNECT 115200 | CONNECT FAIL; "+++" -> OK, ATO -> CONNECT)
 *   AT+CIPSEND=<l>,<len>    ==> >  <len bytes>  OK   <== +CIPSEND: <l>,<req>,<cnf>
 *   AT+CIPSEND=<l>          ==> >  <bytes> Ctrl+Z  OK   <== +CIPSEND: <l>,<req>,<cnf>
 *   data, AT+CIPRXGET=0:    <== RECV FROM:<ip>:<port> CR LF +IPD<n> CR LF <n bytes>
 *   data, AT+CIPRXGET=1:    <== +CIPRXGET: 1,<l>   (once until read empty)
 *     AT+CIPRXGET=2,<l>[,<len>]  ==> +CIPRXGET: 2,<l>,<read>,<rest> CR LF <bytes>  OK
 *     AT+CIPRXGET=3,<l>[,<len>]  ==> the same in hex;   AT+CIPRXGET=4,<l> ==> +CIPRXGET:
 * 4,<l>,<rest> peer closed:            <== +IPCLOSE: <l>,1 AT+CIPCLOSE=<l>         ==> OK   <==
 * +CIPCLOSE: <l>,0;   AT+CIPCLOSE? ==> +CIPCLOSE: 1,0,... AT+NETCLOSE (A76XX):    <== +CIPCLOSE:
 * <l>,0 for each link, before +NETCLOSE: 0
 *
 * Links 0-9 are the core's slots 0-9 (AT+CCHOPEN's sessions use 10 and 11).
 *
 * Choices where the sources are silent:
 *   - TCP only: "UDP" and "UDP SERVER" answer +CIPOPEN: <l>,4 (operation not supported) and
 *     ERROR (the core's UDP sockets are connected to one peer; SIMCom's take an address per
 *     send).
 *   - The receive mode of AT+CIPRXGET=0/1 is taken by a link when it opens; reads (modes 2-4)
 *     need a link opened in mode 1.
 *   - The open's <err>: DNS 11, timeout 10, anything else 1 (network failure).
 *   - A link that is not open: +CIPOPEN/+CIPCLOSE/+CIPERROR <err> 4 (operation not supported),
 *     2 when the network is not open; a link in use: +CIPOPEN: <l>,4 and ERROR.
 *   - After +IPCLOSE the link keeps what it received for AT+CIPRXGET; CIPOPEN takes it again
 *     at once (TinyGSM's A7670 client reconnects without CIPCLOSE), CIPCLOSE frees it with
 *     +CIPCLOSE: <l>,4 and ERROR ("abnormally closed").
 *   - AT+CIPSENDMODE=1 is kept and read back; the +CIPSEND result comes when the bytes are
 *     queued either way. AT+CIPSEND with no length takes the bytes up to Ctrl+Z; the <ETX>
 *     escapes are not decoded.
 *   - CIPMODE, CIPSENDMODE, CIPCCFG, CIPTIMEOUT, CIPHEAD, CIPSRIP are taken at any time;
 *     CIPTIMEOUT's <cipopen_timeout> bounds an open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "net/conn.h"
#include "sock/sock.h"

#define CIP_LINKS 10
#define CIP_SEND_MAX 1500
#define CIP_READ_MAX 1500
#define CIP_HEX_MAX 750
#define LAT_OPEN_MS 600
#define CLOSE_TIMEOUT_S 10

_Static_assert(CIP_LINKS <= SOCK_MAX, "the core has no room for CIP links");

/* <err> (A76XX manual 15.3.2, reference §7.1) */
enum {
	CIP_OK = 0,
	CIP_NETWORK = 1,
	CIP_NOT_OPENED = 2,
	CIP_PARAM = 3,
	CIP_NOT_SUPPORTED = 4,
	CIP_TIMEOUT = 10,
	CIP_DNS = 11,
};

/* AT+CIPCCFG's defaults: <NmRetry>,<DelayTm>,<Ack>,<errMode>,<HeaderType>,<AsyncMode>,
 * <TimeoutVal> (SIM7600 manual 11.2.13) */
static const int ccfg_default[7] = {10, 0, 0, 1, 0, 0, 500};
#define CCFG_HEADER_TYPE 4

struct cip_state {
	int rxget; /* AT+CIPRXGET=0/1 */
	int mode; /* AT+CIPMODE */
	int sendmode; /* AT+CIPSENDMODE */
	int head; /* AT+CIPHEAD */
	int srip; /* AT+CIPSRIP */
	int ccfg[7];
	int timeout[3]; /* AT+CIPTIMEOUT: netopen, cipopen, cipsend (ms) */
	bool opening_tp; /* CIPOPEN in transparent mode waits for its CONNECT */
	/* AT+CIPSEND in progress */
	int send_link;
	size_t send_len; /* 0: up to Ctrl+Z */
};

static struct cip_state *state_of(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cip_simcom);

	return slot ? *slot : NULL;
}

static void defaults(struct cip_state *st)
{
	memset(st, 0, sizeof(*st));
	st->head = 1;
	st->srip = 1;
	memcpy(st->ccfg, ccfg_default, sizeof(st->ccfg));
	for (int i = 0; i < 3; i++)
		st->timeout[i] = 120000;
}

static bool link_connected(const struct sock *k)
{
	return k->state == SOCK_S_CONNECTED && !k->peer_closed;
}

/* <err> for a link that is not there */
static int absent_err(struct modem *m)
{
	return simcom_net_is_open(m) ? CIP_NOT_SUPPORTED : CIP_NOT_OPENED;
}

/* ---- the socket core's callbacks ---- */

static int open_err(int status)
{
	switch (-status) {
	case NET_ERR_DNS:
		return CIP_DNS;
	case NET_ERR_TIMEOUT:
		return CIP_TIMEOUT;
	default:
		return CIP_NETWORK;
	}
}

static void cip_opened(struct sock *k, int status, const char *cause)
{
	struct modem *m = k->m;
	struct cip_state *st = state_of(m);

	(void)cause; /* traced by the core */
	if (st->opening_tp && k->id == 0) {
		st->opening_tp = false;
		if (status == 0 && sock_transparent(k) == 0) {
			at_text(m, "CONNECT 115200");
			at_complete(m, AT_CUSTOM);
			return;
		}
		if (status == 0)
			sock_abort(k);
		at_why(m, "link %d: open failed", k->id);
		at_text_result(m, "CONNECT FAIL", 4);
		at_complete(m, AT_CUSTOM);
		return;
	}
	modem_urc(m, "+CIPOPEN: %d,%d", k->id, status ? open_err(status) : CIP_OK);
}

static void cip_recv(struct sock *k, size_t n, bool was_empty)
{
	(void)n;
	if (was_empty)
		modem_urc(k->m, "+CIPRXGET: 1,%d", k->id);
}

/* AT+CIPRXGET=0: "RECV FROM:<ip>:<port>" (AT+CIPSRIP) CR LF "+IPD<n>" (AT+CIPHEAD; with
 * AT+CIPCCFG <HeaderType> 1 "+RECEIVE,<l>,<n>") CR LF <data> (A76XX TCPIP AN 3.2.1). */
static void cip_push(struct sock *k, const uint8_t *p, size_t n)
{
	struct cip_state *st = state_of(k->m);
	uint8_t out[256 + SOCK_PUSH_CHUNK];
	size_t h = 0;

	if (st->srip)
		h += (size_t)snprintf((char *)out + h, 128, "\r\nRECV FROM:%s:%d",
		                      sock_remote_ip(k), k->port);
	if (st->head) {
		if (st->ccfg[CCFG_HEADER_TYPE])
			h += (size_t)snprintf((char *)out + h, 64, "\r\n+RECEIVE,%d,%zu", k->id, n);
		else
			h += (size_t)snprintf((char *)out + h, 64, "\r\n+IPD%zu", n);
	}
	if (h) {
		memcpy(out + h, "\r\n", 2);
		h += 2;
	}
	memcpy(out + h, p, n);
	modem_urc_bytes(k->m, out, h + n);
}

/* The peer closed: +IPCLOSE: <l>,1 (1: closed by remote, A76XX manual 15.4). In transparent
 * mode the core printed CLOSED. */
static void cip_closed(struct sock *k, int reason, const char *cause)
{
	(void)reason;
	(void)cause;
	if (k->mode == SOCK_MODE_TRANSPARENT && !k->tp_escaped)
		return;
	modem_urc(k->m, "+IPCLOSE: %d,1", k->id);
}

static const struct sock_ops cip_sock_ops = {
        .opened = cip_opened,
        .recv = cip_recv,
        .push = cip_push,
        .closed = cip_closed,
        .closed_text = "CLOSED",
};

/* ---- AT+CIPOPEN ---- */

static int open_refused(struct modem *m, int link, int err)
{
	at_info(m, "+CIPOPEN: %d,%d", link, err);
	return AT_ERROR;
}

static void list_links(struct modem *m)
{
	for (int l = 0; l < CIP_LINKS; l++) {
		struct sock *k = sock_get(m, l);

		if (link_connected(k))
			at_info(m, "+CIPOPEN: %d,\"TCP\",\"%s\",%d,-1", l, sock_remote_ip(k),
			        k->port);
		else
			at_info(m, "+CIPOPEN: %d", l);
	}
}

static int cmd_cipopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct cip_state *st = state_of(m);
	struct sock_open_args a = {0};
	char type[16], host[SOCK_HOST_MAX];
	long long link = at_num(c, 0);
	struct sock *k;
	int rc;

	if (c->req == AT_REQ_READ) {
		list_links(m);
		return AT_OK;
	}
	if (link >= CIP_LINKS) {
		/* "when the <link_num> is greater than 9" */
		at_info(m, "+IP ERROR: Invalid parameter");
		return AT_ERROR;
	}
	if (at_str(c, 1, type, sizeof(type)))
		return AT_ERROR;
	if (strcasecmp(type, "TCP") != 0) {
		at_why(m, "service type \"%s\" is not simulated", type);
		return open_refused(m, (int)link, CIP_NOT_SUPPORTED);
	}
	if (c->args.n < 4 || !at_given(c, 2) || !at_given(c, 3) ||
	    at_str(c, 2, host, sizeof(host)) || !host[0] || at_num(c, 3) == 0)
		return open_refused(m, (int)link, CIP_PARAM);
	if (!simcom_net_is_open(m)) {
		at_why(m, "the network is not open (AT+NETOPEN)");
		return open_refused(m, (int)link, CIP_NOT_OPENED);
	}
	if (st->mode == 1 && (link != 0 || modem_sock(m)->tp)) {
		at_why(m, "transparent mode: link 0 only");
		return open_refused(m, (int)link, CIP_PARAM);
	}
	k = sock_get(m, (int)link);
	if (sock_in_use(k)) {
		if (!k->peer_closed || k->host_closing) {
			at_why(m, "link %lld is in use (%s:%d)", link, k->host, k->port);
			return open_refused(m, (int)link, CIP_NOT_SUPPORTED);
		}
		sock_abort(k); /* ended by the peer: taken again */
	}
	a.proto = SOCK_TCP;
	a.host = host;
	a.port = (int)at_num(c, 3);
	a.cid = SIMCOM_NET_CID;
	a.mode = st->mode == 1    ? SOCK_MODE_TRANSPARENT
	         : st->rxget == 1 ? SOCK_MODE_BUFFER
	                          : SOCK_MODE_PUSH;
	a.timeout_ms = modem_proto_ms(m, (uint64_t)st->timeout[1]);
	a.report_ms = modem_latency(m, LAT_OPEN_MS);
	rc = sock_open(m, (int)link, &a, &cip_sock_ops, NULL);
	if (rc) {
		at_why(m, "cannot open: %s", err_str(rc));
		return open_refused(m, (int)link, CIP_NETWORK);
	}
	if (st->mode == 1) {
		st->opening_tp = true;
		return AT_PENDING;
	}
	return AT_OK;
}

/* ---- AT+CIPSEND ---- */

static void send_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct buf *b = &modem_sock(m)->req_data;

	(void)arg;
	if (b->len <= CIP_SEND_MAX)
		buf_append(b, p, n);
}

/* OK, then +CIPSEND: <l>,<req>,<cnf>: <cnf> is <req> when the stack took the bytes, 0 when
 * the send buffer is full, -1 when the link is gone (SIM7600 manual 11.2.5). ESC: ERROR (the
 * manual's example). */
static void send_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct cip_state *st = arg;
	struct buf *b = &modem_sock(m)->req_data;
	struct sock *k = sock_get(m, st->send_link);
	size_t n = b->len;
	long cnf;

	switch (why) {
	case AT_END_ABANDON:
		buf_reset(b);
		return;
	case AT_END_COUNT:
	case AT_END_SUBMIT:
		break;
	case AT_END_CANCEL:
	case AT_END_ESCAPE:
	case AT_END_TIMEOUT:
		buf_reset(b);
		at_complete(m, AT_ERROR);
		return;
	}
	if (n == 0 || n > CIP_SEND_MAX) {
		at_why(m, "%zu bytes to send (1-%d)", n, CIP_SEND_MAX);
		buf_reset(b);
		at_complete(m, AT_ERROR);
		return;
	}
	if (!link_connected(k))
		cnf = -1;
	else if (sock_send(k, b->data, n) == 0)
		cnf = (long)n;
	else
		cnf = sock_send_full(k, n) ? 0 : -1;
	buf_reset(b);
	modem_urc(m, "+CIPSEND: %d,%zu,%ld", st->send_link, n, cnf);
	at_complete(m, AT_OK);
}

static const struct at_data_ops send_ops = {send_data, send_end};

/* AT+CIPSEND=<l>[,<len>]; a UDP form (address and port) is refused: no UDP links. */
static int cmd_cipsend(struct at_call *c)
{
	struct modem *m = c->m;
	struct cip_state *st = state_of(m);
	int link = (int)at_num(c, 0);
	struct sock *k = sock_get(m, link);

	if (at_given(c, 2) || at_given(c, 3)) {
		at_why(m, "no UDP links");
		return AT_ERROR;
	}
	if (!link_connected(k) || k->mode == SOCK_MODE_TRANSPARENT) {
		at_why(m, "link %d is not open", link);
		at_info(m, "+CIPERROR: %d", absent_err(m));
		return AT_ERROR;
	}
	buf_reset(&modem_sock(m)->req_data);
	st->send_link = link;
	st->send_len = at_given(c, 1) ? (size_t)at_num(c, 1) : 0;
	simcom_prompt(m, st->send_len, &send_ops, st);
	return AT_PENDING;
}

/* ---- AT+CIPRXGET ---- */

static int ip_error(struct modem *m, const char *text)
{
	at_info(m, "+IP ERROR: %s", text);
	return AT_ERROR;
}

static int cmd_ciprxget(struct at_call *c)
{
	struct modem *m = c->m;
	struct cip_state *st = state_of(m);
	int mode = (int)at_num(c, 0), link;
	uint8_t data[CIP_READ_MAX];
	struct sock *k;
	size_t want, n;

	if (c->req == AT_REQ_READ) {
		at_info(m, "+CIPRXGET: %d", st->rxget);
		return AT_OK;
	}
	if (mode <= 1) {
		if (c->args.n > 1)
			return AT_ERROR;
		st->rxget = mode;
		return AT_OK;
	}
	if (!at_given(c, 1))
		return ip_error(m, "Invalid parameter");
	link = (int)at_num(c, 1);
	k = sock_get(m, link);
	if (!sock_in_use(k))
		return ip_error(m, "Connection is not created");
	if (k->mode != SOCK_MODE_BUFFER)
		return ip_error(m, "Operation not supported");
	if (mode == 4) {
		if (c->args.n > 2)
			return AT_ERROR;
		at_info(m, "+CIPRXGET: 4,%d,%zu", link, k->rx.len);
		return AT_OK;
	}
	want = at_given(c, 2) ? (size_t)at_num(c, 2) : mode == 2 ? CIP_READ_MAX : CIP_HEX_MAX;
	if (mode == 3 && want > CIP_HEX_MAX)
		return ip_error(m, "Invalid parameter");
	if (k->rx.len == 0)
		return ip_error(m, "No data");
	n = sock_read(k, data, want);
	at_info(m, "+CIPRXGET: %d,%d,%zu,%zu", mode, link, n, k->rx.len);
	if (mode == 2) {
		at_info_bytes(m, data, n);
	} else {
		char hex[2 * CIP_HEX_MAX];

		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02X", data[i]);
		at_info_bytes(m, hex, 2 * n);
	}
	return AT_OK;
}

/* ---- AT+CIPCLOSE ---- */

static void close_done(struct modem *m, void *arg)
{
	modem_urc(m, "+CIPCLOSE: %d,0", (int)(intptr_t)arg);
}

static int cmd_cipclose(struct at_call *c)
{
	struct modem *m = c->m;
	int link;
	struct sock *k;

	if (c->req == AT_REQ_READ) {
		char line[64];
		size_t o = (size_t)snprintf(line, sizeof(line), "+CIPCLOSE: ");

		for (int l = 0; l < CIP_LINKS; l++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%d", l ? "," : "",
			                      link_connected(sock_get(m, l)) ? 1 : 0);
		at_info(m, "%s", line);
		return AT_OK;
	}
	link = (int)at_num(c, 0);
	k = sock_get(m, link);
	if (!link_connected(k) || k->host_closing) {
		/* not opened, still opening, or ended by the peer (then freed now) */
		at_why(m, "link %d is not open", link);
		if (sock_in_use(k) && k->peer_closed && !k->host_closing)
			sock_abort(k);
		at_info(m, "+CIPCLOSE: %d,%d", link, absent_err(m));
		return AT_ERROR;
	}
	if (k->mode == SOCK_MODE_TRANSPARENT)
		modem_urc(m, "CLOSED"); /* the manual: OK, CLOSED, +CIPCLOSE */
	sock_close(k, modem_proto_ms(m, CLOSE_TIMEOUT_S * 1000), close_done,
	           (void *)(intptr_t)link);
	return AT_OK;
}

/* ---- settings ---- */

/* AT+CIPMODE / AT+CIPSENDMODE / AT+CIPHEAD / AT+CIPSRIP: one 0-1 value; the execution form
 * sets the default (CIPMODE 0, CIPHEAD and CIPSRIP 1). */
static int one_setting(struct at_call *c, const char *name, int *v, int dflt)
{
	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "%s: %d", name, *v);
		return AT_OK;
	case AT_REQ_EXEC:
		*v = dflt;
		return AT_OK;
	case AT_REQ_WRITE:
		*v = (int)at_num(c, 0);
		return AT_OK;
	case AT_REQ_TEST:
		break;
	}
	return AT_OK;
}

static int cmd_cipmode(struct at_call *c)
{
	return one_setting(c, "+CIPMODE", &state_of(c->m)->mode, 0);
}

static int cmd_cipsendmode(struct at_call *c)
{
	return one_setting(c, "+CIPSENDMODE", &state_of(c->m)->sendmode, 0);
}

static int cmd_ciphead(struct at_call *c)
{
	return one_setting(c, "+CIPHEAD", &state_of(c->m)->head, 1);
}

static int cmd_cipsrip(struct at_call *c)
{
	return one_setting(c, "+CIPSRIP", &state_of(c->m)->srip, 1);
}

/* AT+CIPCCFG=[<NmRetry>][,[<DelayTm>][,[<Ack>][,[<errMode>][,[<HeaderType>][,[<AsyncMode>]
 * [,[<TimeoutVal>]]]]]]] (SIM7600 manual 11.2.13); TinyGSM: 10,0,0,0,1,0,75000. */
static int cmd_cipccfg(struct at_call *c)
{
	struct cip_state *st = state_of(c->m);
	int v[7];

	memcpy(v, st->ccfg, sizeof(v));
	switch (c->req) {
	case AT_REQ_READ:
		at_info(c->m, "+CIPCCFG: %d,%d,%d,%d,%d,%d,%d", st->ccfg[0], st->ccfg[1],
		        st->ccfg[2], st->ccfg[3], st->ccfg[4], st->ccfg[5], st->ccfg[6]);
		return AT_OK;
	case AT_REQ_EXEC:
		memcpy(st->ccfg, ccfg_default, sizeof(st->ccfg));
		return AT_OK;
	case AT_REQ_TEST:
	case AT_REQ_WRITE:
		break;
	}
	for (int i = 0; i < c->args.n && i < 7; i++)
		if (at_given(c, i))
			v[i] = (int)at_num(c, i);
	memcpy(st->ccfg, v, sizeof(v));
	return AT_OK;
}

/* AT+CIPTIMEOUT=[<netopen_timeout>][,[<cipopen_timeout>][,[<cipsend_timeout>]]]: 3000-120000
 * ms each. */
static int cmd_ciptimeout(struct at_call *c)
{
	struct cip_state *st = state_of(c->m);
	int v[3];

	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+CIPTIMEOUT: %d,%d,%d", st->timeout[0], st->timeout[1],
		        st->timeout[2]);
		return AT_OK;
	}
	memcpy(v, st->timeout, sizeof(v));
	for (int i = 0; i < c->args.n && i < 3; i++)
		if (at_given(c, i))
			v[i] = (int)at_num(c, i);
	memcpy(st->timeout, v, sizeof(v));
	return AT_OK;
}

/* ATO: back to the transparent link or session left with "+++" (V.250 6.3.7). */
static int cmd_o(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *k = sock_escaped(m);

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	if (!k || sock_transparent(k) != 0) {
		at_why(m, "no transparent connection to return to");
		at_result_code(m, "NO CARRIER", 3);
		return AT_CUSTOM;
	}
	at_text(m, "CONNECT 115200");
	return AT_CUSTOM;
}

/* ---- the stack's events ---- */

/* AT+NETCLOSE closes every link now; A76XX prints +CIPCLOSE: <l>,0 for each (A76XX manual
 * 15.2.2), after NETCLOSE's OK and before +NETCLOSE: 0. The network dropping the context:
 * the links are gone; +CIPEVENT said so. */
static void cip_net_event(struct modem *m, enum simcom_net_event ev, void *arg)
{
	(void)arg;
	if (ev == SIMCOM_NET_OPENED)
		return;
	for (int l = 0; l < CIP_LINKS; l++) {
		struct sock *k = sock_get(m, l);

		if (!sock_in_use(k))
			continue;
		if (ev == SIMCOM_NET_CLOSING && m->model->simcom.netclose_cipclose)
			modem_urc(m, "+CIPCLOSE: %d,0", l);
		if (ev == SIMCOM_NET_CLOSING)
			sock_close(k, 0, NULL, NULL);
		else
			sock_abort(k);
	}
}

/* ---- the family ---- */

static int cip_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct cip_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ERR_NOMEM;
	defaults(st);
	*slot = st;
	rc = simcom_net_observe(m, cip_net_event, NULL);
	return rc == -ERR_INVAL ? 0 : rc;
}

static void cip_reboot(struct modem *m)
{
	struct cip_state *st = state_of(m);

	sock_reboot(m);
	if (st)
		defaults(st);
}

static void cip_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cip_simcom);

	sock_free(m); /* idempotent: the CCH family frees it too */
	if (slot) {
		free(*slot);
		*slot = NULL;
	}
}

#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define LINK AT_NUM(0, CIP_LINKS - 1)
#define BIT AT_SPEC(AT_NUM(0, 1))
#define TMO AT_NUM(3000, 120000)

static const struct at_cmd cip_simcom_cmds[] = {
        {"+CIPOPEN", RWT, 2, 5,
         AT_SPEC(AT_NUM(0, 65535), AT_STR(15), AT_STR(SOCK_HOST_MAX - 1), AT_NUM(0, 65535),
                 AT_NUM(0, 65535)),
         "+CIPOPEN: (0-9),(\"TCP\",\"UDP\")", 0, 0, cmd_cipopen},
        {"+CIPSEND", AT_REQ_WRITE | AT_REQ_TEST, 1, 4,
         AT_SPEC(LINK, AT_NUM(1, CIP_SEND_MAX), AT_STR(SOCK_HOST_MAX - 1), AT_NUM(0, 65535)),
         "+CIPSEND: (0-9),(1-1500)", 0, 0, cmd_cipsend},
        {"+CIPRXGET", RWT, 1, 3, AT_SPEC(AT_NUM(0, 4), LINK, AT_NUM(1, CIP_READ_MAX)),
         "+CIPRXGET: (0-4),(0-9),(1-1500)", 0, 0, cmd_ciprxget},
        {"+CIPCLOSE", RWT, 1, 1, AT_SPEC(LINK), "+CIPCLOSE: (0-9)", 0, 0, cmd_cipclose},
        {"+CIPMODE", AT_REQ_EXEC | RWT, 1, 1, BIT, "+CIPMODE: (0-1)", 0, 0, cmd_cipmode},
        {"+CIPSENDMODE", RWT, 1, 1, BIT, "+CIPSENDMODE: (0-1)", 0, 0, cmd_cipsendmode},
        {"+CIPHEAD", AT_REQ_EXEC | RWT, 1, 1, BIT, "+CIPHEAD: (0-1)", 0, 0, cmd_ciphead},
        {"+CIPSRIP", AT_REQ_EXEC | RWT, 1, 1, BIT, "+CIPSRIP: (0-1)", 0, 0, cmd_cipsrip},
        {"+CIPCCFG", AT_REQ_EXEC | RWT, 1, 7,
         AT_SPEC(AT_NUM(0, 10), AT_NUM(0, 1000), AT_NUM(0, 0), AT_NUM(0, 1), AT_NUM(0, 1),
                 AT_NUM(0, 1), AT_NUM(500, 120000)),
         "+CIPCCFG: (0-10),(0-1000),(0),(0-1),(0-1),(0-1),(500-120000)", 0, 0, cmd_cipccfg},
        {"+CIPTIMEOUT", AT_REQ_READ | AT_REQ_WRITE, 1, 3, AT_SPEC(TMO, TMO, TMO), NULL, 0, 0,
         cmd_ciptimeout},
        {"O", AT_REQ_EXEC | AT_REQ_WRITE, 1, 1, AT_SPEC(AT_NUM(0, 9)), NULL, 0, 0, cmd_o},
        {0},
};

const struct at_family at_family_cip_simcom = {
        .name = "cip-simcom",
        .cmds = cip_simcom_cmds,
        .init = cip_init,
        .reboot = cip_reboot,
        .close = cip_close,
};
