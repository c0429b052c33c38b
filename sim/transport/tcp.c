#include "transport/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"

#define DIAL_FIRST_MS 100
#define DIAL_MAX_MS 2000 /* the backoff's bound: an emulator that comes up is found quickly */

/* One uv_write: owns its copy of the bytes. */
struct wreq {
	uv_write_t req;
	struct tcp_port *p;
	size_t n;
	uint8_t data[];
};

static void on_retry(uv_timer_t *t);
static void kick(struct tcp_port *p);

/* ---- spec ---- */

int tcp_spec_parse(const char *spec, struct tcp_spec *out, char *why, size_t whylen)
{
	char host[256];
	const char *rest, *colon;
	size_t hl;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "tcp-listen:", 11) == 0) {
		out->mode = TCP_MODE_LISTEN;
		rest = spec + 11;
	} else if (strncmp(spec, "tcp-connect:", 12) == 0) {
		out->mode = TCP_MODE_CONNECT;
		rest = spec + 12;
	} else {
		snprintf(why, whylen,
		         "expected pty, tcp-listen:HOST:PORT or tcp-connect:HOST:PORT");
		return -ERR_SYNTAX;
	}
	colon = strrchr(rest, ':');
	if (!colon || colon == rest) {
		snprintf(why, whylen, "expected HOST:PORT after '%.*s'", (int)(rest - spec), spec);
		return -ERR_SYNTAX;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535 ||
	    (port == 0 && out->mode == TCP_MODE_CONNECT)) {
		snprintf(why, whylen, "invalid port '%s' (expected %s-65535)", colon + 1,
		         out->mode == TCP_MODE_CONNECT ? "1" : "0");
		return -ERR_SYNTAX;
	}
	hl = (size_t)(colon - rest);
	if (rest[0] == '[') { /* [IPv6] */
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;

		if (hl < 3 || rest[hl - 1] != ']' || hl - 2 >= sizeof(host)) {
			snprintf(why, whylen, "invalid IPv6 address '%.*s'", (int)hl, rest);
			return -ERR_SYNTAX;
		}
		memcpy(host, rest + 1, hl - 2);
		host[hl - 2] = 0;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			snprintf(why, whylen, "invalid IPv6 address '%s'", host);
			return -ERR_SYNTAX;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (hl >= sizeof(host) || memchr(rest, ':', hl)) {
		snprintf(why, whylen, "invalid host '%.*s' (an IPv6 address goes in [])", (int)hl,
		         rest);
		return -ERR_SYNTAX;
	}
	memcpy(host, rest, hl);
	host[hl] = 0;
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			/* a name: resolved once, at startup (the emulator's address does not move)
			 */
			if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
				snprintf(why, whylen, "cannot resolve host '%s'", host);
				return -ERR_NAME;
			}
			a4->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
			freeaddrinfo(res);
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
	}
	return 0;
}

static void addr_name(const struct sockaddr_storage *a, const char *prefix, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;

		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:[%s]:%u", prefix, ip, ntohs(a6->sin6_port));
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;

		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%s:%u", prefix, ip, ntohs(a4->sin_port));
	}
}

/* ---- output ---- */

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct tcp_port *p = w->p;

	p->inflight -= w->n;
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		log_msg(LOG_INFO, "#%d: write to %s: %s", p->m->index, p->name,
		        uv_strerror(status));
	if (p->closing)
		return;
	kick(p);
	if (!p->out.len && !p->inflight)
		modem_output_drained(p->m);
}

/* Hand what is queued to libuv, one write at a time (its bytes count in the backlog until the
 * kernel took them, as the pty's queue does). */
static void kick(struct tcp_port *p)
{
	struct wreq *w;
	uv_buf_t b;

	if (!p->conn || p->inflight || !p->out.len)
		return;
	w = malloc(sizeof(*w) + p->out.len);
	if (!w)
		return; /* stays queued; the next write or connection tries again */
	w->p = p;
	w->n = p->out.len;
	memcpy(w->data, p->out.data, w->n);
	b = uv_buf_init((char *)w->data, (unsigned)w->n);
	if (uv_write(&w->req, (uv_stream_t *)p->conn, &b, 1, on_written) != 0) {
		free(w);
		return;
	}
	p->inflight = w->n;
	buf_consume(&p->out, w->n);
}

static int port_write(void *ctx, const uint8_t *data, size_t n)
{
	struct tcp_port *p = ctx;

	if (p->conn && !p->inflight && !p->out.len) {
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
		int w = uv_try_write((uv_stream_t *)p->conn, &b, 1);

		if (w > 0) {
			data += w;
			n -= (size_t)w;
		}
		if (n == 0)
			return 0;
	}
	/* the same bound as the pty's queue: beyond it the modem drops, and says so */
	if (p->out.len + p->inflight + n > MODEM_OUTBUF_MAX || buf_append(&p->out, data, n) != 0)
		return -ERR_BUSY;
	kick(p);
	return 0;
}

static size_t port_backlog(void *ctx)
{
	struct tcp_port *p = ctx;

	return p->out.len + p->inflight;
}

/* ---- input ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	/* one loop thread: libuv reads into it and calls on_read before the next alloc */
	static char chunk[16384];

	(void)h;
	(void)hint;
	*b = uv_buf_init(chunk, sizeof(chunk));
}

static void on_conn_closed(uv_handle_t *h)
{
	free(h);
}

/* The host went away: as a host closing the tty, the modem keeps its state. */
static void hangup(struct tcp_port *p, const char *why)
{
	uv_tcp_t *c = p->conn;

	if (!c)
		return;
	p->conn = NULL;
	log_msg(LOG_INFO, "#%d: %s: host disconnected (%s)", p->m->index, p->name, why);
	trace_event(p->m->index, "note", "%s: host disconnected (%s)", p->name, why);
	uv_read_stop((uv_stream_t *)c);
	uv_close((uv_handle_t *)c, on_conn_closed);
	if (p->mode == TCP_MODE_CONNECT && !p->closing) {
		p->backoff_ms = DIAL_FIRST_MS;
		uv_timer_start(&p->retry, on_retry, p->backoff_ms, 0);
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct tcp_port *p = s->data;

	if (n > 0) {
		modem_input(p->m, (const uint8_t *)b->base, (size_t)n);
		return;
	}
	if (n == UV_EOF)
		hangup(p, "end of stream");
	else if (n < 0)
		hangup(p, uv_strerror((int)n));
}

static void port_pause(void *ctx, bool pause)
{
	struct tcp_port *p = ctx;

	p->paused = pause;
	if (!p->conn)
		return;
	if (pause)
		uv_read_stop((uv_stream_t *)p->conn);
	else
		uv_read_start((uv_stream_t *)p->conn, on_alloc, on_read);
}

/* c is the host's connection now. */
static void attach(struct tcp_port *p, uv_tcp_t *c)
{
	struct sockaddr_storage peer;
	int len = sizeof(peer);
	char who[TCP_NAME_MAX] = "tcp:?";

	p->conn = c;
	c->data = p;
	uv_tcp_nodelay(c, 1); /* a UART sends each byte as it comes */
	if (uv_tcp_getpeername(c, (struct sockaddr *)&peer, &len) == 0)
		addr_name(&peer, "tcp", who, sizeof(who));
	log_msg(LOG_INFO, "#%d: %s: host connected from %s", p->m->index, p->name, who);
	trace_event(p->m->index, "note", "%s: host connected from %s", p->name, who);
	if (!p->paused)
		uv_read_start((uv_stream_t *)c, on_alloc, on_read);
	kick(p);
}

/* ---- tcp-listen ---- */

static void on_connection(uv_stream_t *server, int status)
{
	struct tcp_port *p = server->data;
	uv_tcp_t *c;

	if (status < 0) {
		log_msg(LOG_WARN, "#%d: accept on %s: %s", p->m->index, p->name,
		        uv_strerror(status));
		return;
	}
	c = malloc(sizeof(*c));
	if (!c)
		return; /* stays in the backlog: the next connection tries again */
	uv_tcp_init(p->loop, c);
	if (uv_accept(server, (uv_stream_t *)c) != 0) {
		uv_close((uv_handle_t *)c, on_conn_closed);
		return;
	}
	if (p->conn || p->closing) {
		/* a UART has one host: the second is turned away, the first keeps the modem */
		log_msg(LOG_WARN, "#%d: %s: already has a host; refusing another connection",
		        p->m->index, p->name);
		uv_close((uv_handle_t *)c, on_conn_closed);
		return;
	}
	attach(p, c);
}

/* ---- tcp-connect ---- */

static void on_connect(uv_connect_t *req, int status)
{
	struct tcp_port *p = req->data;
	uv_tcp_t *c = p->dialling;

	p->dialling = NULL;
	if (p->closing || status == UV_ECANCELED) {
		if (!uv_is_closing((uv_handle_t *)c))
			uv_close((uv_handle_t *)c, on_conn_closed);
		return;
	}
	if (status < 0) {
		if (!p->dial_failed)
			log_msg(LOG_INFO, "#%d: %s: %s; dialling again", p->m->index, p->name,
			        uv_strerror(status));
		p->dial_failed = true;
		uv_close((uv_handle_t *)c, on_conn_closed);
		uv_timer_start(&p->retry, on_retry, p->backoff_ms, 0);
		p->backoff_ms = p->backoff_ms * 2 > DIAL_MAX_MS ? DIAL_MAX_MS : p->backoff_ms * 2;
		return;
	}
	p->dial_failed = false;
	p->backoff_ms = DIAL_FIRST_MS;
	attach(p, c);
}

static void dial(struct tcp_port *p)
{
	uv_tcp_t *c;
	int rc;

	if (p->closing || p->conn || p->dialling)
		return;
	c = malloc(sizeof(*c));
	if (!c) {
		uv_timer_start(&p->retry, on_retry, DIAL_MAX_MS, 0);
		return;
	}
	uv_tcp_init(p->loop, c);
	p->connect_req.data = p;
	rc = uv_tcp_connect(&p->connect_req, c, (const struct sockaddr *)&p->addr, on_connect);
	if (rc) {
		log_msg(LOG_WARN, "#%d: %s: %s", p->m->index, p->name, uv_strerror(rc));
		uv_close((uv_handle_t *)c, on_conn_closed);
		uv_timer_start(&p->retry, on_retry, DIAL_MAX_MS, 0);
		return;
	}
	p->dialling = c;
}

static void on_retry(uv_timer_t *t)
{
	dial(t->data);
}

/* ---- open, close ---- */

static void set_port(struct sockaddr_storage *a, int offset)
{
	if (a->ss_family == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)a;
		unsigned port = ntohs(a6->sin6_port);

		a6->sin6_port = htons((uint16_t)(port ? port + (unsigned)offset : 0));
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)a;
		unsigned port = ntohs(a4->sin_port);

		a4->sin_port = htons((uint16_t)(port ? port + (unsigned)offset : 0));
	}
}

int tcp_open(struct tcp_port *p, uv_loop_t *loop, struct modem *m, const struct tcp_spec *spec,
             int offset)
{
	int rc = -ERR_SYS;

	memset(p, 0, sizeof(*p));
	p->m = m;
	p->loop = loop;
	p->mode = spec->mode;
	p->addr = spec->addr;
	set_port(&p->addr, offset);
	buf_init(&p->out, MODEM_OUTBUF_MAX);
	if (p->mode == TCP_MODE_LISTEN) {
		int len = sizeof(p->addr);
		char want[TCP_NAME_MAX];

		addr_name(&p->addr, "tcp", want, sizeof(want));
		uv_tcp_init(loop, &p->listener);
		p->listener.data = p;
		rc = uv_tcp_bind(&p->listener, (const struct sockaddr *)&p->addr, 0);
		if (!rc)
			rc = uv_listen((uv_stream_t *)&p->listener, 4, on_connection);
		if (rc) {
			log_msg(LOG_ERROR, "--serial %s: cannot listen: %s", want + 4,
			        uv_strerror(rc));
			uv_close((uv_handle_t *)&p->listener, NULL);
			buf_free(&p->out);
			p->closing = true;
			return -ERR_SYS;
		}
		p->listening = true;
		uv_tcp_getsockname(&p->listener, (struct sockaddr *)&p->addr, &len);
		addr_name(&p->addr, "tcp", p->name, sizeof(p->name));
	} else {
		addr_name(&p->addr, "tcp-connect", p->name, sizeof(p->name));
		uv_timer_init(loop, &p->retry);
		p->retry.data = p;
		p->backoff_ms = DIAL_FIRST_MS;
		dial(p);
	}
	m->port.write = port_write;
	m->port.backlog = port_backlog;
	m->port.pause_input = port_pause;
	m->port.set_pace = NULL; /* no UART timing on a socket (fault modem.baud says so) */
	m->port.ctx = p;
	return 0;
}

void tcp_close(struct tcp_port *p)
{
	if (p->closing)
		return;
	/* Give the host what is still queued if it can take it now. */
	if (p->conn && !p->inflight && p->out.len) {
		uv_buf_t b = uv_buf_init((char *)p->out.data, (unsigned)p->out.len);

		uv_try_write((uv_stream_t *)p->conn, &b, 1);
	}
	p->closing = true;
	p->m->port.write = NULL;
	buf_free(&p->out);
	if (p->conn) {
		uv_read_stop((uv_stream_t *)p->conn);
		uv_close((uv_handle_t *)p->conn, on_conn_closed);
		p->conn = NULL;
	}
	if (p->dialling && !uv_is_closing((uv_handle_t *)p->dialling))
		uv_close((uv_handle_t *)p->dialling, on_conn_closed);
	if (p->listening)
		uv_close((uv_handle_t *)&p->listener, NULL);
	if (p->mode == TCP_MODE_CONNECT)
		uv_close((uv_handle_t *)&p->retry, NULL);
}
