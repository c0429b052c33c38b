/* M95 sockets: the legacy TCP/IP stack (+QIOPEN +QISEND +QIRD +QICLOSE +QISACK +QINDI +QIMODE
 * +QIHEAD, reference §4b, host-drivers.md item 15) and SSL (+QSSLOPEN +QSSLSEND +QSSLRECV
 * +QSSLCLOSE +QSSLSTATE, GSM SSL AN V3.3 = seeds/004), and ATO. The sockets are sock/sock.c's;
 * this file words the commands, results and URCs the M95 way.
 *
 *   QIMUX=0:  AT+QIOPEN="TCP","1.2.3.4",80   ==> OK  <== CONNECT OK | CONNECT FAIL
 *             AT+QISEND[=<len>] "> " data     <== SEND OK | SEND FAIL | ERROR
 *             QINDI=0: data shown as it comes ("IPD<len>:" first with QIHEAD=1)
 *             QINDI=1: <== +QIRDI: 0,1,0  then AT+QIRD=0,1,0,1500
 *                      <== +QIRD: 1.2.3.4:80,TCP,<n> CR LF <data>  OK
 *             peer closes: <== CLOSED;  AT+QICLOSE ==> CLOSE OK
 *             QIMODE=1: ==> OK <== CONNECT, raw bytes both ways, "+++" -> OK, ATO -> CONNECT,
 *                       the peer closing -> CLOSED (command mode again)
 *   QIMUX=1:  AT+QIOPEN=1,"TCP",...  <== 1, CONNECT OK; AT+QISEND=1[,<len>]; AT+QIRD=0,1,1,<len>;
 *             QINDI=0: <== +RECEIVE: 1, <n> CR LF <data>;  <== 1, CLOSED;  AT+QICLOSE=1 ->
 *             1, CLOSE OK
 *   SSL:      AT+QSSLOPEN=1,0,"host",443,0    ==> OK  <== +QSSLOPEN: 1,0 (-1 failed, -2 occupied)
 *             <connectmode> 1: ==> OK <== CONNECT (transparent; the SSL AN 3.4 example)
 *             data in: <== +QSSLURC: "recv",0,1 (only when the buffer was empty, AN 2.2.10.1)
 *             AT+QSSLRECV=0,1,1500 <== +QSSLRECV: 1.2.3.4:443,TCP,<n> CR LF <data>  OK
 *             peer closes: <== +QSSLURC: "closed",1;  AT+QSSLCLOSE=1 ==> CLOSE OK
 *
 * One table of six sockets (0-5) serves TCP/UDP and SSL: the SSL AN 1.3 asks for different
 * socket indexes for SSL and normal TCP in the same foreground context. With QIMUX=0 the one
 * TCP/UDP connection is socket 0 (its +QIRDI/+QIRD <sid> is 0). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "net/conn.h"

#define M95_SOCKS 6 /* <index>/<ssid> 0-5 (GSM SSL AN 2.2.2; M95 AT manual, AT+QIOPEN) */
/* The open's result comes no earlier than this after OK (host-drivers.md item 1; a GPRS
 * connect takes about a second). --timing fast: at once. */
#define LAT_OPEN_MS 600
/* AT+QIOPEN: the module gives up after 75 s (RT-Thread M26 driver comment, TinyGSM's 75 s
 * wait). AT+QSSLOPEN <timeout>: 10-300 s, default 90 (GSM SSL AN 2.2.2). */
#define QIOPEN_TIMEOUT_S 75
#define QSSLOPEN_TIMEOUT_S 90
#define SEND_MAX 1460 /* QISEND/QSSLSEND <length> 1-1460 (SSL AN 2.2.3; RT-Thread M26) */
#define READ_MAX 1500 /* QIRD/QSSLRECV <length> 1-1500 (SSL AN 2.2.4) */
/* Decision: how long CLOSE OK waits for the peer to acknowledge what was sent before the
 * close is forced (no source gives it; the EC25's default close timeout). */
#define CLOSE_WAIT_S 10

static const struct sock_ops tcp_ops;
static const struct sock_ops ssl_ops;

static uint64_t scaled_ms(const struct modem *m, uint64_t ms)
{
	double f = (double)ms * m->sim->opt.time_scale;

	return f < 1 ? 1 : (uint64_t)f;
}

static bool is_ssl(const struct sock *s)
{
	return s->proto == SOCK_TLS;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static struct sock *m95_sock(struct modem *m, long long id)
{
	return id >= 0 && id < M95_SOCKS ? sock_get(m, (int)id) : NULL;
}

/* A connection that ended by itself (peer closed, network gone) frees its index for a new
 * open: the M95 closes it by itself (GSM SSL AN 2.2.10.2: "the host does not need to execute
 * AT+QSSLCLOSE"); what was buffered is lost then. */
static bool free_dead(struct sock *s)
{
	if (!sock_in_use(s))
		return true;
	if (s->peer_closed && !s->host_closing) {
		sock_abort(s);
		return true;
	}
	return false;
}

/* The address in +QIRD/+QSSLRECV/+QISTAT: the one the host gave when it is an address (the
 * module knows nothing of modemsim's routes), else the one the name resolved to. */
static const char *peer_addr(const struct sock *s)
{
	return is_ipv4(s->host) ? s->host : sock_remote_ip(s);
}

/* <port> as a number or a quoted number ("AT+QIOPEN=\"TCP\",\"1.2.3.4\",\"80\"" in the M35
 * driver found). -1 when it is neither or out of range. */
static int param_port(const struct at_call *c, int i)
{
	const struct at_param *p = &c->args.p[i];
	long long v;
	bool hex;

	if (p->type == AT_P_NUM)
		v = p->num;
	else if (p->type != AT_P_STR || at_parse_number(p->s, p->len, &v, &hex) != 0 || hex)
		return -1;
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* ---- the TCP/IP state of +QISTAT ---- */

/* QIMUX=1: IP PROCESSING while a connection is up or opening, IP STATUS when none is (the SSL
 * AN's state table: "IP PROCESSING: Establish connection"). Decision: SSL sockets count, as
 * they share the table; with QIMUX=0 only the TCP/UDP connection moves the state. */
static void mux_state(struct modem *m)
{
	bool any = false;

	if (!modem_pdp(m)->m95.mux || !pdp_active(m, 1))
		return;
	for (int i = 0; i < M95_SOCKS; i++) {
		struct sock *s = sock_get(m, i);

		if (sock_in_use(s) && !s->peer_closed)
			any = true;
	}
	pdp_m95_set_state(m, any ? PDP_M95_IP_PROCESSING : PDP_M95_IP_STATUS);
}

/* A change of the QIMUX=0 connection. The context may have gone (PDP DEACT, IP INITIAL):
 * then the state stays what pdp.c made it. */
static void single_state(struct modem *m, enum pdp_m95_state st)
{
	if (!modem_pdp(m)->m95.mux && pdp_active(m, 1))
		pdp_m95_set_state(m, st);
}

static void sock_moved(struct modem *m, bool tcp, enum pdp_m95_state st)
{
	if (modem_pdp(m)->m95.mux)
		mux_state(m);
	else if (tcp)
		single_state(m, st);
}

/* Text of a socket's state in +QISTAT and +QSSLSTATE lines (SSL AN 2.2.6's list). */
static const char *state_word(const struct sock *s)
{
	switch (s->state) {
	case SOCK_S_INITIAL:
		return "INITIAL";
	case SOCK_S_OPENING:
		return "CONNECTING";
	case SOCK_S_CONNECTED:
		return "CONNECTED";
	case SOCK_S_LISTENING:
		return "LISTENING";
	case SOCK_S_CLOSING:
		return s->peer_closed ? "CLOSED" : "CLOSING";
	}
	return "INITIAL";
}

static const char *proto_word(const struct sock *s)
{
	return s->proto == SOCK_UDP ? "UDP" : "TCP";
}

/* +QISTAT with QIMUX=1: a line per socket after STATE (M95 AT manual, AT+QISTAT; the spacing
 * as a public M35/M95 driver's parser expects it: `+QISTAT: 0, "TCP", "121.15.212.251",
 * 10002, "CONNECTED"`, an unused index `+QISTAT: 1, "", "", , "INITIAL"`). Decision: one
 * blank line between STATE and the lines, none between them (reference §1's block framing). */
void at_sock_m95_qistat(struct modem *m)
{
	char line[SOCK_HOST_MAX + 64];

	at_send(m, "\r\n", 2);
	for (int i = 0; i < M95_SOCKS; i++) {
		struct sock *s = sock_get(m, i);
		int n;

		if (sock_in_use(s))
			n = snprintf(line, sizeof(line),
			             "+QISTAT: %d, \"%s\", \"%s\", %d, \"%s\"\r\n", i,
			             proto_word(s), peer_addr(s), s->port, state_word(s));
		else
			n = snprintf(line, sizeof(line),
			             "+QISTAT: %d, \"\", \"\", , \"INITIAL\"\r\n", i);
		if (n > 0)
			at_send(m, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}

/* ---- transparent mode ---- */

/* A transparent connection is up: CONNECT after the command's OK (GSM SSL AN 3.4: "OK" then
 * "CONNECT"), and data mode from then on. If the host is running another command, CONNECT and
 * data mode follow that command's final result (the dispatcher defers the entry). */
static void tp_connect(struct sock *s)
{
	struct modem *m = s->m;

	if (s->state != SOCK_S_CONNECTED || s->mode != SOCK_MODE_TRANSPARENT || modem_sock(m)->tp)
		return;
	at_transparent_banner(m, "CONNECT");
	if (sock_transparent(s) != 0) {
		at_transparent_banner(m, NULL);
		sock_abort(s);
		return;
	}
	s->arg = s; /* CONNECT is out: the core prints CLOSED when the peer ends it */
}

/* ---- the socket's callbacks ---- */

static void tcp_result(struct sock *s, const char *text)
{
	if (modem_pdp(s->m)->m95.mux)
		modem_urc(s->m, "%d, %s", s->id, text);
	else
		modem_urc(s->m, "%s", text);
}

static void tcp_opened(struct sock *s, int status, const char *cause)
{
	struct modem *m = s->m;

	(void)cause; /* traced by the core */
	if (status != 0) {
		tcp_result(s, "CONNECT FAIL");
		sock_moved(m, true, PDP_M95_IP_CLOSE);
		return;
	}
	sock_moved(m, true, PDP_M95_CONNECT_OK);
	if (s->mode == SOCK_MODE_TRANSPARENT)
		tp_connect(s);
	else
		tcp_result(s, "CONNECT OK");
}

static void ssl_opened(struct sock *s, int status, const char *cause)
{
	struct modem *m = s->m;

	(void)cause;
	mux_state(m);
	if (status == 0 && s->mode == SOCK_MODE_TRANSPARENT) {
		tp_connect(s);
		return;
	}
	/* GSM SSL AN 2.2.2 <connectcode>: 0 success, -1 error (every TLS failure, as reference
	 * §8 item 13 says of the EC25's 566), -2 socket occupied */
	modem_urc(m, "+QSSLOPEN: %d,%d", s->id, status ? -1 : 0);
}

/* QINDI=1: "+QIRDI: <id>,<sc>,<sid>" once until AT+QIRD has emptied the buffer (M95 AT
 * manual, AT+QINDI; the SSL AN 3.3 example "+QIRDI: 0,1,1"). QINDI=2: one per arrival with
 * <num>,<len>,<tlen> (a public MC60 test parses "+QIRDI: 0,1,0,3,2,2693"). <id> is the
 * foreground context, <sc> 1: the module is the client. */
static void tcp_recv(struct sock *s, size_t n, bool was_empty)
{
	struct modem *m = s->m;

	if (modem_pdp(m)->m95.indi == 2) {
		s->user++;
		modem_urc(m, "+QIRDI: %d,1,%d,%d,%zu,%zu", modem_pdp(m)->m95.fgcnt, s->id, s->user,
		          n, s->rx.len);
		return;
	}
	if (was_empty)
		modem_urc(m, "+QIRDI: %d,1,%d", modem_pdp(m)->m95.fgcnt, s->id);
}

static void ssl_recv(struct sock *s, size_t n, bool was_empty)
{
	(void)n;
	/* GSM SSL AN 2.2.10.1 note 1: only when the buffer was empty */
	if (was_empty)
		modem_urc(s->m, "+QSSLURC: \"recv\",%d,%d", modem_pdp(s->m)->m95.fgcnt, s->id);
}

/* QINDI=0: the data go to the host as they come. QIMUX=1: "+RECEIVE: <id>, <len>" CR LF
 * <data> (RT-Thread M26 driver; a public M35/M95 driver parses "+RECEIVE: 0, 20"). QIMUX=0:
 * the bytes alone, or "IPD<len>:" first with QIHEAD=1 (TinyGSM's comment on AT+QIHEAD=1).
 * Decision: no CR LF around the bytes in either form. */
static void tcp_push(struct sock *s, const uint8_t *p, size_t n)
{
	struct modem *m = s->m;
	uint8_t out[64 + SOCK_PUSH_CHUNK];
	int h = 0;

	if (modem_pdp(m)->m95.mux)
		h = snprintf((char *)out, 64, "\r\n+RECEIVE: %d, %zu\r\n", s->id, n);
	else if (modem_pdp(m)->m95.qihead)
		h = snprintf((char *)out, 64, "IPD%zu:", n);
	memcpy(out + h, p, n);
	modem_urc_bytes(m, out, (size_t)h + n);
}

/* The peer closed or the network dropped the context: "CLOSED" / "<id>, CLOSED"
 * (host-drivers.md item 15; RT-Thread M26 matches ", CLOSED"). In transparent mode the core
 * printed CLOSED when it left data mode, and that is all. */
static void tcp_closed(struct sock *s, int reason, const char *cause)
{
	(void)reason;
	(void)cause;
	sock_moved(s->m, true, PDP_M95_IP_CLOSE);
	if (s->mode == SOCK_MODE_TRANSPARENT && !s->tp_escaped && s->arg)
		return;
	tcp_result(s, "CLOSED");
}

/* GSM SSL AN 2.2.10.2: "+QSSLURC: \"closed\",<ssid>" for every reason. Decision: also after a
 * transparent connection ends; the module leaves data mode first (AN 1.2 step 6: "module will
 * automatically exit from the data mode") with no other text. */
static void ssl_closed(struct sock *s, int reason, const char *cause)
{
	(void)reason;
	(void)cause;
	mux_state(s->m);
	modem_urc(s->m, "+QSSLURC: \"closed\",%d", s->id);
}

static const struct sock_ops tcp_ops = {
        .opened = tcp_opened,
        .recv = tcp_recv,
        .push = tcp_push,
        .closed = tcp_closed,
        .closed_text = "CLOSED",
};

static const struct sock_ops ssl_ops = {
        .opened = ssl_opened,
        .recv = ssl_recv,
        .closed = ssl_closed,
        .closed_text = NULL,
};

/* ---- AT+QIOPEN ---- */

static int qiopen_test(struct modem *m)
{
	/* M95 AT manual's form [MEM]: the index list only with QIMUX=1 */
	at_info(m,
	        "+QIOPEN: %s(\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\","
	        "\"DOMAIN NAME\"),(1-65535)",
	        modem_pdp(m)->m95.mux ? "(0-5)," : "");
	return AT_OK;
}

/* AT+QIOPEN=[<index>,]"<mode>","<address>",<port> ("TCP"/"UDP"; the index only with QIMUX=1):
 * OK, then the result. An index in use answers "ALREADY CONNECT" after OK (decision: TinyGSM
 * waits for it as a result of the open). */
static int cmd_qiopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct pdp_m95 *st = &modem_pdp(m)->m95;
	struct sock_open_args a = {0};
	char type[8], host[SOCK_HOST_MAX];
	int base = 0, id = 0, port, rc;
	struct sock *s;

	if (c->req == AT_REQ_TEST)
		return qiopen_test(m);
	if (c->args.p[0].type == AT_P_NUM) {
		if (!st->mux) {
			at_why(m, "+QIOPEN with an index needs AT+QIMUX=1");
			return AT_ERROR;
		}
		id = (int)at_num(c, 0);
		base = 1;
	} else if (st->mux) {
		at_why(m, "+QIOPEN needs an index with AT+QIMUX=1");
		return AT_ERROR;
	}
	s = m95_sock(m, id);
	port = c->args.n == base + 3 ? param_port(c, base + 2) : -1;
	if (!s || port < 0 || c->args.p[base].type != AT_P_STR ||
	    c->args.p[base + 1].type != AT_P_STR || at_str(c, base, type, sizeof(type)) ||
	    at_str(c, base + 1, host, sizeof(host)) || !host[0]) {
		at_why(m, "+QIOPEN: bad index, mode, address or port");
		return AT_ERROR;
	}
	if (strcasecmp(type, "TCP") == 0) {
		a.proto = SOCK_TCP;
	} else if (strcasecmp(type, "UDP") == 0) {
		a.proto = SOCK_UDP;
	} else {
		at_why(m, "+QIOPEN: mode \"%s\" (TCP or UDP)", type);
		return AT_ERROR;
	}
	/* AT+QIDNSIP=0 (the default): <address> is a dotted address. Decision: a name then is a
	 * parameter error (ERROR), as the command cannot be carried out as given. */
	if (!st->dnsip && !is_ipv4(host)) {
		at_why(m, "+QIOPEN: \"%s\" is not an address and AT+QIDNSIP is 0", host);
		return AT_ERROR;
	}
	/* Decision: the context must be up (IP GPRSACT on); the M95's own activation from
	 * IP INITIAL is not simulated: every driver found activates first. */
	if (!pdp_active(m, 1)) {
		at_why(m, "+QIOPEN in %s (context not active)", pdp_m95_state_name(st->state));
		return AT_ERROR;
	}
	if (st->qimode && st->mux) {
		at_why(m, "+QIOPEN: transparent mode (QIMODE=1) needs QIMUX=0");
		return AT_ERROR;
	}
	if (st->qimode && modem_sock(m)->tp) {
		at_why(m, "socket %d is already in transparent mode", modem_sock(m)->tp->id);
		return AT_ERROR;
	}
	if (!free_dead(s)) {
		at_why(m, "socket %d is in use (%s %s:%d)", id, sock_proto_name(s->proto), s->host,
		       s->port);
		tcp_result(s, "ALREADY CONNECT");
		return AT_OK;
	}
	a.host = host;
	a.port = port;
	a.cid = 1;
	a.mode = st->qimode      ? SOCK_MODE_TRANSPARENT
	         : st->indi == 0 ? SOCK_MODE_PUSH
	                         : SOCK_MODE_BUFFER;
	a.timeout_ms = scaled_ms(m, (uint64_t)QIOPEN_TIMEOUT_S * 1000);
	a.report_ms = modem_latency(m, LAT_OPEN_MS);
	rc = sock_open(m, id, &a, &tcp_ops, NULL);
	if (rc) {
		at_why(m, "cannot open: %s", err_str(rc));
		tcp_result(s, "CONNECT FAIL");
		return AT_OK;
	}
	s->user = 0; /* QINDI=2 <num> */
	sock_moved(m, true, a.proto == SOCK_UDP ? PDP_M95_UDP_CONNECTING : PDP_M95_TCP_CONNECTING);
	return AT_OK;
}

/* ---- sending ---- */

/* fixed: a <length> was given (exactly that many bytes, 1-1460); else the data run to
 * Ctrl+Z. */
static int start_send(struct at_call *c, struct sock *s, bool ssl, bool fixed, long long len)
{
	struct modem *m = c->m;

	if (!s || s->state != SOCK_S_CONNECTED || is_ssl(s) != ssl ||
	    s->mode == SOCK_MODE_TRANSPARENT) {
		at_why(m, "no connected %s socket there (transparent ones take data mode only)",
		       ssl ? "SSL" : "TCP/UDP");
		return AT_ERROR;
	}
	if (fixed && (len < 1 || len > SEND_MAX)) {
		at_why(m, "<length> %lld (1-%d)", len, SEND_MAX);
		return AT_ERROR;
	}
	sock_send_prompt(m, s->id, fixed ? (size_t)len : 0, 1, SEND_MAX);
	return AT_PENDING;
}

/* QIMUX=0: AT+QISEND (to Ctrl+Z) or AT+QISEND=<length>; QIMUX=1: AT+QISEND=<index>[,<length>]
 * (RT-Thread M26 sends AT+QISEND=<n>,<len>). */
static int cmd_qisend(struct at_call *c)
{
	struct modem *m = c->m;
	bool mux = modem_pdp(m)->m95.mux;

	switch (c->req) {
	case AT_REQ_TEST:
		at_info(m, "+QISEND: %s(1-%d)", mux ? "(0-5)," : "", SEND_MAX);
		return AT_OK;
	case AT_REQ_EXEC:
		if (mux)
			return AT_ERROR;
		return start_send(c, sock_get(m, 0), false, false, 0);
	case AT_REQ_READ:
		return AT_ERROR;
	case AT_REQ_WRITE:
		break;
	}
	for (int i = 0; i < c->args.n; i++)
		if (c->args.p[i].type != AT_P_NUM)
			return AT_ERROR;
	if (!mux)
		return c->args.n == 1 ? start_send(c, sock_get(m, 0), false, true, at_num(c, 0))
		                      : AT_ERROR;
	return start_send(c, m95_sock(m, at_num(c, 0)), false, c->args.n == 2,
	                  c->args.n == 2 ? at_num(c, 1) : 0);
}

/* AT+QSSLSEND=<ssid>[,<length>] */
static int cmd_qsslsend(struct at_call *c)
{
	if (c->req == AT_REQ_READ)
		return AT_OK;
	return start_send(c, m95_sock(c->m, at_num(c, 0)), true, c->args.n == 2,
	                  c->args.n == 2 ? at_num(c, 1) : 0);
}

/* AT+QISACK (QIMUX=0) / AT+QISACK=<index>: "+QISACK: <sent>, <acked>, <nAcked>" (RT-Thread
 * M26 parses "+QISACK: %d, %d, %d"; TinyGSM polls it until nAcked is 0). */
static int cmd_qisack(struct at_call *c)
{
	struct modem *m = c->m;
	bool mux = modem_pdp(m)->m95.mux;
	struct sock_counters k;
	struct sock *s;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if ((c->req == AT_REQ_WRITE) != mux)
		return AT_ERROR;
	s = mux ? m95_sock(m, at_num(c, 0)) : sock_get(m, 0);
	if (!s || !sock_in_use(s) || is_ssl(s)) {
		at_why(m, "no TCP/UDP socket there");
		return AT_ERROR;
	}
	sock_get_counters(s, &k);
	at_info(m, "+QISACK: %llu, %llu, %llu", (unsigned long long)k.tx_total,
	        (unsigned long long)k.tx_acked, (unsigned long long)k.tx_unacked);
	return AT_OK;
}

/* ---- receiving ---- */

/* "<head>: <address>:<port>,TCP,<n>" CR LF <data> CR LF, then OK; nothing buffered: OK alone
 * (GSM SSL AN 2.2.4 "If the buffer is empty: OK"; the AN 3.3 example of AT+QIRD). */
static int read_out(struct modem *m, struct sock *s, const char *head, size_t want)
{
	uint8_t data[READ_MAX];
	size_t n;

	/* QINDI=0 / push: the data went to the host already; after "+++" the held bytes wait for
	 * ATO (decision: they are not read by command) */
	if (s->mode != SOCK_MODE_BUFFER)
		return AT_OK;
	n = sock_read(s, data, want);
	if (!n)
		return AT_OK;
	at_info(m, "%s: %s:%d,%s,%zu", head, peer_addr(s), s->port, proto_word(s), n);
	at_info_bytes(m, data, n);
	return AT_OK;
}

/* AT+QIRD=<id>,<sc>,<sid>,<len>: <id> the foreground context, <sc> 1 (client), <sid> the
 * socket (0 with QIMUX=0), <len> 1-1500 (SSL AN 3.3: AT+QIRD=0,1,1,1024). */
static int cmd_qird(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *s = m95_sock(m, at_num(c, 2));

	if (at_num(c, 0) != modem_pdp(m)->m95.fgcnt || at_num(c, 1) != 1 ||
	    (!modem_pdp(m)->m95.mux && at_num(c, 2) != 0) || !s || !sock_in_use(s) || is_ssl(s)) {
		at_why(m, "no TCP/UDP socket %lld,%lld,%lld", at_num(c, 0), at_num(c, 1),
		       at_num(c, 2));
		return AT_ERROR;
	}
	return read_out(m, s, "+QIRD", (size_t)at_num(c, 3));
}

/* AT+QSSLRECV=<cid>,<ssid>,<length> (GSM SSL AN 2.2.4). */
static int cmd_qsslrecv(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *s = m95_sock(m, at_num(c, 1));

	if (at_num(c, 0) != modem_pdp(m)->m95.fgcnt || !s || !sock_in_use(s) || !is_ssl(s)) {
		at_why(m, "no SSL socket %lld on context %lld", at_num(c, 1), at_num(c, 0));
		return AT_ERROR;
	}
	return read_out(m, s, "+QSSLRECV", (size_t)at_num(c, 2));
}

/* ---- closing ---- */

#define CLOSE_SSL 0x100 /* close_done's arg: the socket's index | these */
#define CLOSE_MUX 0x200 /* a TCP/UDP socket with QIMUX=1: "<id>, CLOSE OK" */

static void close_done(struct modem *m, void *arg)
{
	int v = (int)(intptr_t)arg;
	char text[24];

	if (v & CLOSE_MUX)
		snprintf(text, sizeof(text), "%d, CLOSE OK", v & 0xff);
	else
		snprintf(text, sizeof(text), "CLOSE OK");
	sock_moved(m, !(v & CLOSE_SSL), PDP_M95_IP_CLOSE);
	at_text(m, text);
	if (modem_sock(m)->req_sync) {
		modem_sock(m)->req_done = true;
		return;
	}
	at_complete(m, AT_CUSTOM);
}

/* Decision: closing an index with no connection of that kind is an ERROR (AN 2.2.5: "If there
 * is any error: ERROR"). A connection the peer ended closes with CLOSE OK. */
static int do_close(struct at_call *c, struct sock *s, bool ssl)
{
	struct modem *m = c->m;
	bool mux_tcp = !ssl && modem_pdp(m)->m95.mux;

	if (!s || !sock_in_use(s) || is_ssl(s) != ssl) {
		at_why(m, "no %s socket there", ssl ? "SSL" : "TCP/UDP");
		return AT_ERROR;
	}
	modem_sock(m)->req_sync = true;
	modem_sock(m)->req_done = false;
	sock_close(s, scaled_ms(m, (uint64_t)CLOSE_WAIT_S * 1000), close_done,
	           (void *)(intptr_t)(s->id | (ssl ? CLOSE_SSL : 0) | (mux_tcp ? CLOSE_MUX : 0)));
	modem_sock(m)->req_sync = false;
	return modem_sock(m)->req_done ? AT_CUSTOM : AT_PENDING;
}

/* QIMUX=0: AT+QICLOSE; QIMUX=1: AT+QICLOSE=<index> -> "<index>, CLOSE OK" (RT-Thread M26
 * matches ", CLOSE OK"; the SSL AN 3.3 prints "1,CLOSE OK", taken as a typesetting slip). */
static int cmd_qiclose(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if ((c->req == AT_REQ_WRITE) != (modem_pdp(m)->m95.mux != 0)) {
		at_why(m, "AT+QICLOSE takes an index exactly when QIMUX=1");
		return AT_ERROR;
	}
	return do_close(c, c->req == AT_REQ_WRITE ? m95_sock(m, at_num(c, 0)) : sock_get(m, 0),
	                false);
}

/* AT+QSSLCLOSE=<ssid>[,<0|1>]: CLOSE OK. The test form lists a second parameter (0,1) that the
 * AN does not describe: accepted and not used. */
static int cmd_qsslclose(struct at_call *c)
{
	if (c->req == AT_REQ_READ)
		return AT_OK;
	return do_close(c, m95_sock(c->m, at_num(c, 0)), true);
}

/* ---- state ---- */

/* AT+QSSLSTATE: "+QSSLSTATE: <state>" (the +QISTAT state), then a line per socket in use,
 * "+QSSLSTATE: <index>,"TCP","<address>",<port>,"<status>",<sslflag>" (GSM SSL AN 2.2.6).
 * Decisions: the state unquoted, as STATE: prints it; string fields quoted; unused indexes
 * not listed. */
static int cmd_qsslstate(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req != AT_REQ_EXEC)
		return AT_OK;
	at_info(m, "+QSSLSTATE: %s", pdp_m95_state_name(pdp_m95_state(m)));
	for (int i = 0; i < M95_SOCKS; i++) {
		struct sock *s = sock_get(m, i);

		if (sock_in_use(s))
			at_info(m, "+QSSLSTATE: %d,\"%s\",\"%s\",%d,\"%s\",%d", i, proto_word(s),
			        peer_addr(s), s->port, state_word(s), is_ssl(s) ? 1 : 0);
	}
	return AT_OK;
}

/* ---- settings ---- */

static bool tcp_open(struct modem *m)
{
	for (int i = 0; i < M95_SOCKS; i++) {
		struct sock *s = sock_get(m, i);

		if (sock_in_use(s) && !is_ssl(s))
			return true;
	}
	return false;
}

/* AT+QINDI=<m>: 0 show received data at once, 1 "+QIRDI" once and AT+QIRD, 2 "+QIRDI" per
 * arrival (M95 AT manual; SSL AN 1.3 step 5). Decision: a connection keeps the way it was
 * opened with (buffer or shown at once); the +QIRDI form follows the setting. */
static int cmd_qindi(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QINDI: %d", modem_pdp(c->m)->m95.indi);
		return AT_OK;
	}
	modem_pdp(c->m)->m95.indi = (int)at_num(c, 0);
	return AT_OK;
}

/* AT+QIMODE=<0|1>: transparent TCP (M95 AT manual; RT-Thread M26 reads it and sets 0).
 * Decision: no change while a TCP/UDP connection is open. */
static int cmd_qimode(struct at_call *c)
{
	struct modem *m = c->m;

	if (c->req == AT_REQ_READ) {
		at_info(m, "+QIMODE: %d", modem_pdp(m)->m95.qimode);
		return AT_OK;
	}
	if (tcp_open(m) && at_num(c, 0) != modem_pdp(m)->m95.qimode) {
		at_why(m, "+QIMODE: a connection is open");
		return AT_ERROR;
	}
	modem_pdp(m)->m95.qimode = (int)at_num(c, 0);
	return AT_OK;
}

/* AT+QIHEAD=<0|1> (TinyGSM sends AT+QIHEAD=1). */
static int cmd_qihead(struct at_call *c)
{
	if (c->req == AT_REQ_READ) {
		at_info(c->m, "+QIHEAD: %d", modem_pdp(c->m)->m95.qihead);
		return AT_OK;
	}
	modem_pdp(c->m)->m95.qihead = (int)at_num(c, 0);
	return AT_OK;
}

/* ---- AT+QSSLOPEN ---- */

/* AT+QSSLOPEN=<ssid>,<ctxindex>,"<host>",<port>,<connectmode>[,<timeout>] (GSM SSL AN
 * 2.2.2): OK, then +QSSLOPEN: <ssid>,<connectcode> (or CONNECT, transparent). Decision: an
 * inactive context is an ERROR at once ("If there is any error: ERROR"). */
static int cmd_qsslopen(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock_open_args a = {0};
	struct ssl_params sp = {0};
	char host[SOCK_HOST_MAX], cause[200];
	int id = (int)at_num(c, 0), ctx = (int)at_num(c, 1);
	int port = param_port(c, 3);
	int mode = (int)at_num(c, 4);
	int timeout_s = at_given(c, 5) ? (int)at_num(c, 5) : QSSLOPEN_TIMEOUT_S;
	struct sock *s = m95_sock(m, id);
	int rc;

	if (c->req == AT_REQ_READ)
		return AT_OK;
	if (port < 0 || at_str(c, 2, host, sizeof(host)) || !host[0] || !at_given(c, 4)) {
		at_why(m, "+QSSLOPEN: bad address, port or connect mode");
		return AT_ERROR;
	}
	if (!pdp_active(m, 1)) {
		at_why(m, "+QSSLOPEN in %s (context not active)",
		       pdp_m95_state_name(pdp_m95_state(m)));
		return AT_ERROR;
	}
	if (mode == 1 && modem_sock(m)->tp) {
		at_why(m, "socket %d is already in transparent mode", modem_sock(m)->tp->id);
		return AT_ERROR;
	}
	if (!free_dead(s)) {
		at_why(m, "socket %d is in use (%s %s:%d)", id, sock_proto_name(s->proto), s->host,
		       s->port);
		modem_urc(m, "+QSSLOPEN: %d,-2", id);
		return AT_OK;
	}
	if (ssl_params_build(m, ctx, host, &sp, cause, sizeof(cause)) != 0) {
		at_why(m, "SSL context %d: %s", ctx, cause);
		trace_event(m->index, "tls", "socket %d: %s -> +QSSLOPEN: %d,-1", id, cause, id);
		modem_urc(m, "+QSSLOPEN: %d,-1", id);
		return AT_OK;
	}
	a.proto = SOCK_TLS;
	a.host = host;
	a.port = port;
	a.cid = 1;
	a.mode = mode ? SOCK_MODE_TRANSPARENT : SOCK_MODE_BUFFER;
	a.tls = &sp.cfg;
	a.timeout_ms = scaled_ms(m, (uint64_t)timeout_s * 1000);
	a.report_ms = modem_latency(m, LAT_OPEN_MS);
	rc = sock_open(m, id, &a, &ssl_ops, NULL);
	if (rc) {
		at_why(m, "cannot open: %s", err_str(rc));
		modem_urc(m, "+QSSLOPEN: %d,-1", id);
		return AT_OK;
	}
	s->user = ctx;
	mux_state(m);
	return AT_OK;
}

/* ATO: back to the transparent connection left with "+++" (GSM SSL AN 3.4: "ATO" ->
 * "CONNECT"); NO CARRIER when there is none (V.250 6.3.7). */
static int cmd_o(struct at_call *c)
{
	struct modem *m = c->m;
	struct sock *s = sock_escaped(m);

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	if (!s || sock_transparent(s) != 0) {
		at_why(m, "no transparent connection to return to");
		at_text_result(m, "NO CARRIER", 3);
		return AT_CUSTOM;
	}
	at_text(m, "CONNECT");
	return AT_CUSTOM;
}

#define ALL (AT_REQ_EXEC | AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define RWT (AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST)
#define SSID AT_NUM(0, M95_SOCKS - 1)

static const struct at_cmd sock_m95_cmds[] = {
        {"+QIOPEN", AT_REQ_WRITE | AT_REQ_TEST, 3, 4, NULL, 0, NULL, 0, 0, cmd_qiopen},
        {"+QISEND", ALL, 1, 2, NULL, 0, NULL, 0, 0, cmd_qisend},
        {"+QIRD", AT_REQ_WRITE | AT_REQ_TEST, 4, 4,
         AT_SPEC(AT_NUM(0, PDP_M95_CTXS - 1), AT_NUM(1, 2), SSID, AT_NUM(1, READ_MAX)),
         "+QIRD: (0,1),(1,2),(0-5),(1-1500)", 0, 0, cmd_qird},
        {"+QICLOSE", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(SSID), NULL, 0, 0,
         cmd_qiclose},
        {"+QISACK", AT_REQ_EXEC | AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(SSID), NULL, 0, 0,
         cmd_qisack},
        {"+QINDI", RWT, 1, 1, AT_SPEC(AT_NUM(0, 2)), "+QINDI: (0-2)", 0, 0, cmd_qindi},
        {"+QIMODE", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QIMODE: (0,1)", 0, 0, cmd_qimode},
        {"+QIHEAD", RWT, 1, 1, AT_SPEC(AT_NUM(0, 1)), "+QIHEAD: (0,1)", 0, 0, cmd_qihead},
        {"+QSSLOPEN", RWT, 5, 6,
         AT_SPEC(SSID, AT_NUM(0, SSL_CTX_COUNT - 1), AT_STR(SOCK_HOST_MAX - 1), AT_ANY,
                 AT_NUM(0, 1), AT_NUM(10, 300)),
         "+QSSLOPEN: (0-5),(0-5),\"<ipaddr>/<domainname>\",(1-65535),(0,1),(10-300)", 0, 0,
         cmd_qsslopen},
        {"+QSSLSEND", RWT, 1, 2, AT_SPEC(SSID, AT_NUM(1, SEND_MAX)), "+QSSLSEND: (0-5),(1-1460)", 0,
         0, cmd_qsslsend},
        {"+QSSLRECV", AT_REQ_WRITE | AT_REQ_TEST, 3, 3,
         AT_SPEC(AT_NUM(0, PDP_M95_CTXS - 1), SSID, AT_NUM(1, READ_MAX)),
         "+QSSLRECV: (0,1),(0-5),(1-1500)", 0, 0, cmd_qsslrecv},
        {"+QSSLCLOSE", RWT, 1, 2, AT_SPEC(SSID, AT_NUM(0, 1)), "+QSSLCLOSE: (0-5),(0,1)", 0, 0,
         cmd_qsslclose},
        {"+QSSLSTATE", AT_REQ_EXEC | AT_REQ_READ | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0,
         cmd_qsslstate},
        {"O", AT_REQ_EXEC | AT_REQ_WRITE, 1, 1, AT_SPEC(AT_NUM(0, 9)), NULL, 0, 0, cmd_o},
        {0},
};

const struct at_family at_family_sock_m95 = {
        .name = "sock-quectel-gsm",
        .cmds = sock_m95_cmds,
        .reboot = sock_reboot,
        .close = sock_free,
        .pdp_down = sock_pdp_down,
};
