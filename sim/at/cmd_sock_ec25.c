/* EC25 sockets: TCP/UDP (+QIOPEN +QISEND +QIRD +QICLOSE +QISTATE, EC2x TCP/IP AN) and SSL
 * (+QSSLOPEN +QSSLSEND +QSSLRECV +QSSLCLOSE +QSSLSTATE, reference §5b), and ATO. The sockets
 * themselves are sock/sock.c's; this file words the commands, results and URCs.
 *
 *   AT+QIOPEN=1,0,"TCP","host",port,0,<mode>
 *     mode 0/1:  ==> OK            <== +QIOPEN: 0,<err>
 *     mode 2:    ==> CONNECT (raw bytes both ways; "+++" -> OK; ATO -> CONNECT) | ERROR
 *   data in:     mode 0 +QIURC: "recv",0 then AT+QIRD=0,<len>;  mode 1 +QIURC: "recv",0,<n>
 *   peer closed: +QIURC: "closed",0 (mode 2: NO CARRIER); AT+QICLOSE=0 frees the slot.
 *
 * TCP/UDP and SSL share one table of 12 sockets: a connectID in use by one is "socket identity
 * has been used" (563) for the other (decision: no source says the EC25 keeps two pools; the
 * +QSSLSTATE capture's serverID equals its clientID, as +QISTATE's does for TCP). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "net/conn.h"

/* +QIOPEN/+QSSLOPEN result URCs no earlier than this after the command (host-drivers.md item
 * 1: an SDK lost a result URC 50 ms after OK; modules answer in 0.2-1.5 s). The same latency
 * as +QMTOPEN (mqtt/client.c). Under --timing fast: at once. */
#define LAT_OPEN_MS 600
/* EC2x TCP/IP AN: AT+QIOPEN answers within 150 s; AT+QSSLOPEN within 150 s + negotiatetime
 * (reference §10). The open's deadline, scaled by --time-scale like every protocol timer. */
#define QIOPEN_TIMEOUT_S 150
#define SEND_MAX 1460 /* <send_length> 1-1460; also the most a Ctrl+Z send takes */
#define HEXSEND_MAX 512 /* AT+QISENDEX <hex_string>: at most 512 bytes of text */
#define READ_MAX 1500 /* <read_length> 0-1500; omitted: 1500 */
#define CLOSE_TIMEOUT_DEFAULT_S 10 /* AT+QICLOSE/QSSLCLOSE <timeout> default */

/* The module's TCP/IP result codes (reference §4a). */
enum {
	QI_OK = 0,
	QI_MEMORY = 553,
	QI_NOT_SUPPORTED = 555,
	QI_PDP_OPEN = 561,
	QI_ID_USED = 563,
	QI_DNS_PARSE = 565,
	QI_CONNECT = 566,
};

#define SOCK_ID AT_NUM(0, SOCK_MAX - 1)

static uint64_t scaled_ms(const struct modem *m, uint64_t ms)
{
	double f = (double)ms * m->sim->opt.time_scale;

	return f < 1 ? 1 : (uint64_t)f;
}

static bool is_ssl(const struct sock *s)
{
	return s->proto == SOCK_TLS;
}

/* +QIOPEN/+QSSLOPEN <err> for a failed open. Decision: the module's "socket connect failed"
 * for everything but a name that does not resolve, so a refused or timed-out TCP connect and
 * every TLS failure (untrusted, expired, wrong host, handshake) give 566, as reference §8
 * item 13 says of certificates. */
static int open_err(int status)
{
	switch (status) {
	case -NET_ERR_DNS:
		return QI_DNS_PARSE;
	case -NET_ERR_NOMEM:
		return QI_MEMORY;
	default:
		return QI_CONNECT;
	}
}

/* ---- the socket's callbacks ---- */

static void ec25_opened(struct sock *s, int status, const char *cause)
{
	struct modem *m = s->m;
	const char *cmd = is_ssl(s) ? "+QSSLOPEN" : "+QIOPEN";
	int err = status ? open_err(status) : QI_OK;

	(void)cause; /* traced by the core */
	pdp_set_error(m, err);
	if (s->mode == SOCK_MODE_TRANSPARENT) {
		/* EC2x TCP/IP AN: transparent access mode answers CONNECT, or ERROR */
		if (status == 0 && sock_transparent(s) == 0) {
			at_text(m, "CONNECT");
			at_complete(m, AT_CUSTOM);
			return;
		}
		if (status == 0)
			sock_abort(s);
		at_why(m, "%s failed: %d", cmd, err);
		at_complete(m, AT_ERROR);
		return;
	}
	modem_urc(m, "%s: %d,%d", cmd, s->id, err);
}

/* Buffer mode: one URC until the host has read the buffer empty (BG96/BG95 TCP/IP AN 2.4.2:
 * "it does not report a new URC until all the received data has been retrieved"). */
static void ec25_recv(struct sock *s, size_t n, bool was_empty)
{
	(void)n;
	if (was_empty)
		modem_urc(s->m, "%s: \"recv\",%d", is_ssl(s) ? "+QSSLURC" : "+QIURC", s->id);
}

/* Direct push: "+QIURC: \"recv\",<id>,<len>" CR LF <data> (EC2x TCP/IP AN 2.3.2), and a CR LF
 * after the data: reference §5b shows the SSL form with the payload as a line of its own. */
static void ec25_push(struct sock *s, const uint8_t *p, size_t n)
{
	char head[64];
	uint8_t out[64 + SOCK_PUSH_CHUNK + 2];
	int h = snprintf(head, sizeof(head), "\r\n%s: \"recv\",%d,%zu\r\n",
	                 is_ssl(s) ? "+QSSLURC" : "+QIURC", s->id, n);

	memcpy(out, head, (size_t)h);
	memcpy(out + h, p, n);
	memcpy(out + (size_t)h + n, "\r\n", 2);
	modem_urc_bytes(s->m, out, (size_t)h + n + 2);
}

/* The peer closed (or the network dropped the context): "+QIURC: \"closed\",<id>". In
 * transparent mode the core has printed NO CARRIER (EC2x TCP/IP AN: the module leaves
 * transparent mode and reports NO CARRIER; the host then closes with AT+QICLOSE) and nothing
 * else follows. Decision: after "+++" the socket is in command mode and gets the URC. */
static void ec25_closed(struct sock *s, int reason, const char *cause)
{
	(void)reason;
	(void)cause;
	if (s->mode == SOCK_MODE_TRANSPARENT && !s->tp_escaped)
		return;
	modem_urc(s->m, "%s: \"closed\",%d", is_ssl(s) ? "+QSSLURC" : "+QIURC", s->id);
}

static const struct sock_ops ec25_sock_ops = {
        .opened = ec25_opened,
        .recv = ec25_recv,
        .push = ec25_push,
        .closed = ec25_closed,
        .closed_text = "NO CARRIER",
};

/* ---- opening ---- */

/* A result that comes as the URC after OK (modes 0 and 1), or as ERROR (mode 2). */
static int early_fail(struct modem *m, const char *cmd, int id, int mode, int err)
{
	pdp_set_error(m, err);
	if (mode == SOCK_MODE_TRANSPARENT)
		return AT_ERROR;
	modem_urc(m, "%s: %d,%d", cmd, id, err);
	return AT_OK;
}

static int do_open(struct at_call *c, const char *cmd, int cid, int id, struct sock_open_args *a,
                   int user)
{
	struct modem *m = c->m;
	struct sock *s = sock_get(m, id);
	int rc;

	if (a->mode == SOCK_MODE_TRANSPARENT && modem_sock(m)->tp) {
		at_why(m, "socket %d is already in transparent mode", modem_sock(m)->tp->id);
		return AT_ERROR;
	}
	if (sock_in_use(s)) {
		at_why(m, "socket %d is in use (%s %s:%d)", id, sock_proto_name(s->proto), s->host,
		       s->port);
		return early_fail(m, cmd, id, a->mode, QI_ID_USED);
	}
	/* Decision: no capture shows the code for an inactive context; 561 "open PDP context
	 * failed" is the nearest text in the table. */
	if (!pdp_active(m, cid)) {
		at_why(m, "PDP context %d is not active", cid);
		return early_fail(m, cmd, id, a->mode, QI_PDP_OPEN);
	}
	a->cid = cid;
	a->report_ms = modem_latency(m, LAT_OPEN_MS);
	rc = sock_open(m, id, a, &ec25_sock_ops, NULL);
	if (rc) {
		at_why(m, "cannot open: %s", err_str(rc));
		return early_fail(m, cmd, id, a->mode, rc == -ERR_NOMEM ? QI_MEMORY : QI_CONNECT);
	}
	s->user = user;
	pdp_set_error(m, QI_OK);
	return a->mode == SOCK_MODE_TRANSPARENT ? AT_PENDING : AT_OK;
}

/* AT+QIOPEN=<contextID>,<connectID>,"<service_type>","<host>",<remote_port>[,<local_port>
 * [,<access_mode>]] */
static int cmd_qiopen(struct at_call *c)
{
	struct sock_open_args a = {0};
	char type[16], host[SOCK_HOST_MAX];
	int id = (int)at_num(c, 1);

	if (at_str(c, 2, type, sizeof(type)) || at_str(c, 3, host, sizeof(host))) {
		at_why(c->m, "bad service type or host");
		return AT_ERROR;
	}
	if (strcasecmp(type, "TCP") == 0) {
		a.proto = SOCK_TCP;
	} else if (strcasecmp(type, "UDP") == 0) {
		a.proto = SOCK_UDP;
	} else {
		/* "TCP LISTENER" and "UDP SERVICE": no server sockets here (a choice) */
		at_why(c->m, "service type \"%s\" is not supported", type);
		return AT_ERROR;
	}
	if (!host[0] || at_num(c, 4) < 1) {
		at_why(c->m, "empty host or port 0");
		return AT_ERROR;
	}
	a.host = host;
	a.port = (int)at_num(c, 4);
	a.local_port = at_given(c, 5) ? (int)at_num(c, 5) : 0;
	a.mode = at_given(c, 6) ? (enum sock_mode)at_num(c, 6) : SOCK_MODE_BUFFER;
	a.timeout_ms = scaled_ms(c->m, (uint64_t)QIOPEN_TIMEOUT_S * 1000);
	return do_open(c, "+QIOPEN", (int)at_num(c, 0), id, &a, 0);
}

/* AT+QSSLOPEN=<pdpctxID>,<sslctxID>,<clientID>,"<serveraddr>",<server_port>[,<access_mode>] */
static int cmd_qsslopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock_open_args a = {0};
	struct ssl_params sp = {0};
	char host[SOCK_HOST_MAX], cause[200];
	int ctx = (int)at_num(c, 1), id = (int)at_num(c, 2);
	int mode = at_given(c, 5) ? (int)at_num(c, 5) : SOCK_MODE_BUFFER;
	struct sock *s = sock_get(m, id);

	if (at_str(c, 3, host, sizeof(host)) || !host[0]) {
		at_why(m, "bad server address");
		return AT_ERROR;
	}
	if (!sock_in_use(s) && pdp_active(m, (int)at_num(c, 0)) &&
	    ssl_params_build(m, ctx, host, &sp, cause, sizeof(cause)) != 0) {
		/* reference §8 item 13: every certificate failure is 566 */
		at_why(m, "SSL context %d: %s", ctx, cause);
		trace_event(m->index, "tls", "client %d: %s -> +QSSLOPEN %d,%d", id, cause, id,
		            QI_CONNECT);
		return early_fail(m, "+QSSLOPEN", id, mode, QI_CONNECT);
	}
	a.proto = SOCK_TLS;
	a.host = host;
	a.port = (int)at_num(c, 4);
	a.mode = (enum sock_mode)mode;
	a.tls = &sp.cfg;
	a.timeout_ms = scaled_ms(m, (uint64_t)(QIOPEN_TIMEOUT_S + sp.negotiate_s) * 1000);
	return do_open(c, "+QSSLOPEN", (int)at_num(c, 0), id, &a, ctx);
}

/* ---- sending ---- */

static struct sock *data_sock(struct at_call *c, int id, bool ssl)
{
	struct sock *s = sock_get(c->m, id);

	if (!s || s->state != SOCK_S_CONNECTED || is_ssl(s) != ssl) {
		at_why(c->m, "socket %d is not a connected %s socket", id, ssl ? "SSL" : "TCP/UDP");
		return NULL;
	}
	return s;
}

static int do_send(struct at_call *c, bool ssl)
{
	struct modem *m = c->m;
	int id = (int)at_num(c, 0);
	struct sock *s;

	/* AT+QISEND=<id>,0: +QISEND: <total_send_length>,<ackedbytes>,<unackedbytes> */
	if (!ssl && c->args.n == 2 && at_num(c, 1) == 0) {
		struct sock_counters k;

		s = sock_get(m, id);
		if (!sock_in_use(s) || is_ssl(s))
			return AT_ERROR;
		sock_get_counters(s, &k);
		at_info(m, "+QISEND: %llu,%llu,%llu", (unsigned long long)k.tx_total,
		        (unsigned long long)k.tx_acked, (unsigned long long)k.tx_unacked);
		return AT_OK;
	}
	s = data_sock(c, id, ssl);
	if (!s)
		return AT_ERROR;
	/* an empty Ctrl+Z send is taken (SEND OK), as before */
	sock_send_prompt(m, id, c->args.n == 2 ? (size_t)at_num(c, 1) : 0, 0, SEND_MAX);
	return AT_PENDING;
}

/* AT+QISEND=<connectID>[,<send_length>] */
static int cmd_qisend(struct at_call *c)
{
	return do_send(c, false);
}

/* AT+QSSLSEND=<clientID>[,<sendlen>] */
static int cmd_qsslsend(struct at_call *c)
{
	return do_send(c, true);
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* AT+QISENDEX=<connectID>,"<hex_string>" (EC2x/BG96 TCP/IP AN): the bytes the hex digits spell,
 * at most 512 digits, sent as AT+QISEND's are (the same socket send path): SEND OK, SEND FAIL
 * when the send buffer is full, ERROR for an odd count or a non-hex digit or no connected
 * TCP/UDP socket. */
static int cmd_qisendex(struct at_call *c)
{
	struct modem *m = c->m;
	const struct at_param *p = &c->args.p[1];
	uint8_t data[HEXSEND_MAX / 2];
	struct sock *s = data_sock(c, (int)at_num(c, 0), false);
	size_t n = p->len / 2;

	if (!s)
		return AT_ERROR;
	if (p->len == 0 || p->len % 2) {
		at_why(m, "+QISENDEX: %zu hex digits (an even count, 2-%d)", p->len, HEXSEND_MAX);
		return AT_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(p->s[2 * i]), lo = hex_val(p->s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			at_why(m, "+QISENDEX: not a hex digit at %zu", 2 * i);
			return AT_ERROR;
		}
		data[i] = (uint8_t)(hi << 4 | lo);
	}
	if (s->mode == SOCK_MODE_TRANSPARENT) {
		at_why(m, "socket %d is in transparent mode", s->id);
		return AT_ERROR;
	}
	switch (sock_send(s, data, n)) {
	case 0:
		at_text(m, "SEND OK");
		return AT_CUSTOM;
	case -ERR_BUSY:
		at_why(m, "send buffer full");
		at_text(m, "SEND FAIL");
		return AT_CUSTOM;
	default:
		at_why(m, "socket %d cannot send", s->id);
		return AT_ERROR;
	}
}

/* ---- receiving ---- */

/* AT+QIRD=<id>[,<len>] / AT+QSSLRECV=<id>,<len>:
 *   "+QIRD: <n>" CR LF <n bytes> CR LF, then OK; nothing buffered: "+QIRD: 0" then OK;
 *   <len> 0: "+QIRD: <total>,<read>,<unread>" (BG96 TCP/IP AN; host-drivers.md item 14 for
 *   QSSLRECV). Decision: reading is for buffer mode (and the bytes held after "+++"); a push
 *   mode socket shows everything itself and answers ERROR. */
static int do_read(struct at_call *c, bool ssl)
{
	struct modem *m = c->m;
	const char *name = ssl ? "+QSSLRECV" : "+QIRD";
	struct sock *s = sock_get(m, (int)at_num(c, 0));
	size_t want = at_given(c, 1) ? (size_t)at_num(c, 1) : READ_MAX;
	uint8_t data[READ_MAX];
	size_t n;

	if (!sock_in_use(s) || is_ssl(s) != ssl) {
		at_why(m, "socket %d does not exist", (int)at_num(c, 0));
		return AT_ERROR;
	}
	if (want == 0) {
		struct sock_counters k;

		sock_get_counters(s, &k);
		at_info(m, "%s: %llu,%llu,%llu", name, (unsigned long long)k.rx_total,
		        (unsigned long long)k.rx_read, (unsigned long long)k.rx_unread);
		return AT_OK;
	}
	if (s->mode == SOCK_MODE_PUSH || (s->mode == SOCK_MODE_TRANSPARENT && !s->tp_escaped)) {
		at_why(m, "socket %d is in %s mode", s->id, sock_mode_name(s->mode));
		return AT_ERROR;
	}
	n = sock_read(s, data, want);
	at_info(m, "%s: %zu", name, n);
	if (n)
		at_info_bytes(m, data, n);
	return AT_OK;
}

static int cmd_qird(struct at_call *c)
{
	return do_read(c, false);
}

static int cmd_qsslrecv(struct at_call *c)
{
	return do_read(c, true);
}

/* ---- closing ---- */

static void close_done(struct modem *m, void *arg)
{
	(void)arg;
	if (modem_sock(m)->req_sync) {
		modem_sock(m)->req_done = true;
		return;
	}
	at_complete(m, AT_OK);
}

/* AT+QICLOSE=<id>[,<timeout>] / AT+QSSLCLOSE: OK once the socket is closed; the module waits
 * up to <timeout> s for the peer to acknowledge, then forces the close (EC2x TCP/IP AN).
 * Closing a socket that is not open is OK too (nothing is left open). */
static int do_close(struct at_call *c, bool ssl)
{
	struct modem *m = c->m;
	struct sock *s = sock_get(m, (int)at_num(c, 0));
	uint64_t t = at_given(c, 1) ? (uint64_t)at_num(c, 1) : CLOSE_TIMEOUT_DEFAULT_S;

	if (sock_in_use(s) && is_ssl(s) != ssl) {
		at_why(m, "socket %d is a%s socket", s->id, ssl ? " TCP/UDP" : "n SSL");
		return AT_ERROR;
	}
	modem_sock(m)->req_sync = true;
	modem_sock(m)->req_done = false;
	sock_close(s, t ? scaled_ms(m, t * 1000) : 0, close_done, NULL);
	modem_sock(m)->req_sync = false;
	return modem_sock(m)->req_done ? AT_OK : AT_PENDING;
}

static int cmd_qiclose(struct at_call *c)
{
	return do_close(c, false);
}

static int cmd_qsslclose(struct at_call *c)
{
	return do_close(c, true);
}

/* ---- state ---- */

/* <AT_port>: the host talks over a UART ("uart1" in the +QSSLSTATE capture). <local_port>: as
 * given to +QIOPEN, 0 when the module picked one (the capture shows 0). <serverID>: the
 * socket's own id (capture). */
static void print_state(struct modem *m, const struct sock *s)
{
	if (is_ssl(s))
		at_info(m, "+QSSLSTATE: %d,\"SSLClient\",\"%s\",%d,%d,%d,%d,%d,%d,\"uart1\",%d",
		        s->id, sock_remote_ip(s), s->port, s->local_port, (int)s->state, s->cid,
		        s->id, (int)s->mode, s->user);
	else
		at_info(m, "+QISTATE: %d,\"%s\",\"%s\",%d,%d,%d,%d,%d,%d,\"uart1\"", s->id,
		        sock_proto_name(s->proto), sock_remote_ip(s), s->port, s->local_port,
		        (int)s->state, s->cid, s->id, (int)s->mode);
}

static void list_state(struct modem *m, bool ssl, int cid)
{
	for (int i = 0; i < SOCK_MAX; i++) {
		struct sock *s = sock_get(m, i);

		if (sock_in_use(s) && is_ssl(s) == ssl && (cid < 0 || s->cid == cid))
			print_state(m, s);
	}
}

/* AT+QISTATE? lists every socket; AT+QISTATE=0,<contextID> those on a context;
 * AT+QISTATE=1,<connectID> one. None: a bare OK (reference §1). */
static int cmd_qistate(struct at_call *c)
{
	struct modem *m = c->m;

	switch (c->req) {
	case AT_REQ_TEST:
		return AT_OK;
	case AT_REQ_READ:
	case AT_REQ_EXEC:
		list_state(m, false, -1);
		return AT_OK;
	case AT_REQ_WRITE:
		break;
	}
	if (at_num(c, 0) == 0) {
		if (at_num(c, 1) < 1 || at_num(c, 1) > PDP_EC25_CIDS)
			return AT_ERROR;
		list_state(m, false, (int)at_num(c, 1));
		return AT_OK;
	}
	{
		struct sock *s = sock_get(m, (int)at_num(c, 1));

		if (!s)
			return AT_ERROR;
		if (sock_in_use(s) && !is_ssl(s))
			print_state(m, s);
	}
	return AT_OK;
}

/* AT+QSSLSTATE[=<clientID>] (and AT+QSSLSTATE?): reference §5b. */
static int cmd_qsslstate(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *s;

	switch (c->req) {
	case AT_REQ_TEST:
		return AT_OK;
	case AT_REQ_READ:
	case AT_REQ_EXEC:
		list_state(m, true, -1);
		return AT_OK;
	case AT_REQ_WRITE:
		break;
	}
	s = sock_get(m, (int)at_num(c, 0));
	if (sock_in_use(s) && is_ssl(s))
		print_state(m, s);
	return AT_OK;
}

/* ATO: back to the transparent socket left with "+++": CONNECT, or NO CARRIER when there is
 * none (V.250 6.3.7; EC2x TCP/IP AN, transparent access mode). */
static int cmd_o(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *s = sock_escaped(m);

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	if (!s || sock_transparent(s) != 0) {
		at_why(m, "no transparent connection to return to");
		at_result_code(m, "NO CARRIER", 3);
		return AT_CUSTOM;
	}
	at_text(m, "CONNECT");
	return AT_CUSTOM;
}

#define W_T (AT_REQ_WRITE | AT_REQ_TEST)

static const struct at_cmd sock_ec25_cmds[] = {
        {"+QIOPEN", W_T, 5, 7,
         AT_SPEC(AT_NUM(1, PDP_EC25_CIDS), SOCK_ID, AT_STR(15), AT_STR(SOCK_HOST_MAX - 1),
                 AT_NUM(0, 65535), AT_NUM(0, 65535), AT_NUM(0, 2)),
         "+QIOPEN: (1-16),(0-11),\"TCP/UDP/TCP LISTENER/UDP SERVICE\","
         "\"<IP_address>/<domain_name>\",<remote_port>,<local_port>,(0-2)",
         0, 0, cmd_qiopen},
        {"+QISEND", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(0, SEND_MAX)), "+QISEND: (0-11),(0-1460)", 0,
         0, cmd_qisend},
        {"+QISENDEX", W_T, 2, 2, AT_SPEC(SOCK_ID, AT_STR(HEXSEND_MAX)),
         "+QISENDEX: (0-11),<hex_string>", 0, 0, cmd_qisendex},
        {"+QIRD", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(0, READ_MAX)), "+QIRD: (0-11),(0-1500)", 0, 0,
         cmd_qird},
        {"+QICLOSE", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(0, 65535)), "+QICLOSE: (0-11),(0-65535)", 0,
         0, cmd_qiclose},
        {"+QISTATE", AT_REQ_READ | AT_REQ_EXEC | W_T, 2, 2, AT_SPEC(AT_NUM(0, 1), AT_NUM(0, 16)),
         NULL, 0, 0, cmd_qistate},
        {"+QSSLOPEN", W_T, 5, 6,
         AT_SPEC(AT_NUM(1, PDP_EC25_CIDS), AT_NUM(0, SSL_CTX_COUNT - 1), SOCK_ID,
                 AT_STR(SOCK_HOST_MAX - 1), AT_NUM(1, 65535), AT_NUM(0, 2)),
         "+QSSLOPEN: (1-16),(0-5),(0-11),<serveraddr>,<server_port>,(0-2)", 0, 0, cmd_qsslopen},
        {"+QSSLSEND", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(1, SEND_MAX)),
         "+QSSLSEND: (0-11),(1-1460)", 0, 0, cmd_qsslsend},
        {"+QSSLRECV", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(0, READ_MAX)),
         "+QSSLRECV: (0-11),(0-1500)", 0, 0, cmd_qsslrecv},
        {"+QSSLCLOSE", W_T, 1, 2, AT_SPEC(SOCK_ID, AT_NUM(0, 65535)),
         "+QSSLCLOSE: (0-11),(0-65535)", 0, 0, cmd_qsslclose},
        {"+QSSLSTATE", AT_REQ_READ | AT_REQ_EXEC | W_T, 1, 1, AT_SPEC(SOCK_ID), NULL, 0, 0,
         cmd_qsslstate},
        {"O", AT_REQ_EXEC | AT_REQ_WRITE, 1, 1, AT_SPEC(AT_NUM(0, 9)), NULL, 0, 0, cmd_o},
        {0},
};

const struct at_family at_family_sock_ec25 = {
        .name = "sock-quectel",
        .cmds = sock_ec25_cmds,
        .reboot = sock_reboot,
        .close = sock_free,
        .pdp_down = sock_pdp_down,
};
