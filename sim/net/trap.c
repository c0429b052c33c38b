/* The trap endpoints (net/trap.h). The refuse and hang sockets are plain descriptors with no
 * I/O of ours: the kernel does all they need. The alert server is a libuv listener; each
 * accepted connection lives until its alert is written and the FIN is out, or the client
 * goes away:
 *
 *   accept --> read the first record (5-byte header + body) --> write 15 vv vv 00 02 02 28
 *          --> shutdown (FIN) --> close
 */
#include "net/trap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

#define TLS_RECORD_MAX (5 + 16384 + 2048) /* header + TLSCiphertext (RFC 5246 6.2.3) */

struct alert_conn {
	uv_tcp_t tcp;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	uint8_t hdr[5];
	size_t have; /* bytes of the first record read so far */
	size_t need; /* its length, once the header is in */
	bool answered;
	struct alert_conn *prev, *next;
	uint8_t rbuf[4096];
	uint8_t alert[7];
};

static int refuse_fd = -1, refuse_port;
static int hang_fd = -1, hang_port;
static uv_tcp_t alert_listener;
static bool alert_open;
static int alert_port;
static struct alert_conn *alert_conns;

/* A loopback socket on a free port; listening with backlog when backlog > 0. */
static int bound_socket(int backlog, int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    (backlog > 0 && listen(fd, backlog) != 0)) {
		log_msg(LOG_ERROR, "trap: cannot make a loopback socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

int net_trap_refuse_port(void)
{
	if (refuse_fd < 0)
		refuse_fd = bound_socket(0, &refuse_port);
	return refuse_fd < 0 ? 0 : refuse_port;
}

int net_trap_hang_port(void)
{
	/* The backlog bounds how many hung handshakes wait at once; beyond it the SYNs are
	 * dropped, which hangs the connect instead: a hang either way. */
	if (hang_fd < 0)
		hang_fd = bound_socket(64, &hang_port);
	return hang_fd < 0 ? 0 : hang_port;
}

static void on_conn_closed(uv_handle_t *h)
{
	struct alert_conn *a = h->data;

	if (a->prev)
		a->prev->next = a->next;
	else
		alert_conns = a->next;
	if (a->next)
		a->next->prev = a->prev;
	free(a);
}

static void conn_close(struct alert_conn *a)
{
	if (!uv_is_closing((uv_handle_t *)&a->tcp))
		uv_close((uv_handle_t *)&a->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	conn_close(req->data);
}

static void on_written(uv_write_t *req, int status)
{
	struct alert_conn *a = req->data;

	if (status < 0 || uv_shutdown(&a->sreq, (uv_stream_t *)&a->tcp, on_shutdown) != 0)
		conn_close(a);
}

static void answer(struct alert_conn *a)
{
	uv_buf_t b;

	a->answered = true;
	uv_read_stop((uv_stream_t *)&a->tcp);
	/* An alert record in the client's record version: 21 (alert), version, length 2,
	 * fatal (2), handshake_failure (40). */
	a->alert[0] = 21;
	a->alert[1] = a->hdr[1];
	a->alert[2] = a->hdr[2];
	a->alert[3] = 0;
	a->alert[4] = 2;
	a->alert[5] = 2;
	a->alert[6] = 40;
	b = uv_buf_init((char *)a->alert, sizeof(a->alert));
	a->wreq.data = a;
	a->sreq.data = a;
	if (uv_write(&a->wreq, (uv_stream_t *)&a->tcp, &b, 1, on_written) != 0)
		conn_close(a);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct alert_conn *a = h->data;

	(void)suggested;
	*b = uv_buf_init((char *)a->rbuf, sizeof(a->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct alert_conn *a = s->data;

	(void)b;
	if (nread < 0) {
		conn_close(a);
		return;
	}
	for (ssize_t i = 0; i < nread && !a->answered; i++) {
		if (a->have < sizeof(a->hdr))
			a->hdr[a->have] = a->rbuf[i];
		a->have++;
		if (a->have == sizeof(a->hdr)) {
			a->need = sizeof(a->hdr) + ((size_t)a->hdr[3] << 8 | a->hdr[4]);
			if (a->hdr[0] != 22 || a->need > TLS_RECORD_MAX) {
				/* not a TLS handshake record: answer at once */
				answer(a);
				return;
			}
		}
		if (a->need && a->have >= a->need)
			answer(a);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct alert_conn *a;

	if (status < 0)
		return;
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	uv_tcp_init(server->loop, &a->tcp);
	a->tcp.data = a;
	a->next = alert_conns;
	if (alert_conns)
		alert_conns->prev = a;
	alert_conns = a;
	if (uv_accept(server, (uv_stream_t *)&a->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read) != 0)
		conn_close(a);
}

int net_trap_alert_port(uv_loop_t *loop)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int len = sizeof(sa);

	if (alert_open)
		return alert_port;
	uv_tcp_init(loop, &alert_listener);
	if (uv_tcp_bind(&alert_listener, (struct sockaddr *)&sa, 0) != 0 ||
	    uv_listen((uv_stream_t *)&alert_listener, 16, on_connection) != 0 ||
	    uv_tcp_getsockname(&alert_listener, (struct sockaddr *)&sa, &len) != 0) {
		log_msg(LOG_ERROR, "trap: cannot start the TLS alert server");
		uv_close((uv_handle_t *)&alert_listener, NULL);
		return 0;
	}
	alert_open = true;
	alert_port = ntohs(sa.sin_port);
	return alert_port;
}

void net_trap_close(void)
{
	if (refuse_fd >= 0)
		close(refuse_fd);
	if (hang_fd >= 0)
		close(hang_fd);
	refuse_fd = hang_fd = -1;
	if (alert_open) {
		uv_close((uv_handle_t *)&alert_listener, NULL);
		alert_open = false;
	}
	for (struct alert_conn *a = alert_conns; a; a = a->next)
		conn_close(a);
}
