#include "scenario/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/findings.h"
#include "modem/modemsim.h"
#include "scenario/engine.h"
#include "scenario/parse.h"

/* A client that does not read its answers: reading from it stops while this much is queued,
 * and starts again once the queue has drained to the low mark (flow control, not a drop). */
#define CTL_QUEUE_HIGH (1024 * 1024)
#define CTL_QUEUE_LOW (64 * 1024)

struct ctl_client {
	uv_pipe_t pipe;
	struct scn_control *ctl;
	struct ctl_client *prev, *next;
	char line[SCN_LINE_MAX + 1];
	size_t len;
	bool overflow; /* the current line went past SCN_LINE_MAX: discard to its end */
	bool paused;
	bool closing;
	int lineno;
};

struct scn_control {
	uv_pipe_t server;
	struct modemsim *sim;
	char *path;
	struct ctl_client *clients;
	struct scn_stmt *stmt; /* scratch: statements are large */
	int refs; /* the server handle and each open client: freed at 0 */
	bool stopping;
};

struct ctl_write {
	uv_write_t req;
	struct ctl_client *cl;
	size_t len;
	char data[];
};

static void ctl_unref(struct scn_control *ctl)
{
	if (--ctl->refs > 0)
		return;
	free(ctl->stmt);
	free(ctl->path);
	free(ctl);
}

/* ---- clients ---- */

static void client_closed(uv_handle_t *h)
{
	struct ctl_client *cl = h->data;
	struct scn_control *ctl = cl->ctl;

	free(cl);
	ctl_unref(ctl);
}

static void client_close(struct ctl_client *cl)
{
	if (cl->closing)
		return;
	cl->closing = true;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		cl->ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void write_done(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;
	struct ctl_client *cl = w->cl;

	free(w);
	if (status < 0 || cl->closing)
		return;
	if (cl->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) < CTL_QUEUE_LOW) {
		cl->paused = false;
		uv_read_start((uv_stream_t *)&cl->pipe, alloc_cb, read_cb);
	}
}

/* One answer line: p/n and a newline. */
static void answer(struct ctl_client *cl, const void *p, size_t n)
{
	struct ctl_write *w;
	uv_buf_t b;

	if (cl->closing)
		return;
	w = malloc(sizeof(*w) + n + 1);
	if (!w) {
		log_msg(LOG_ERROR, "control: out of memory; client dropped");
		client_close(cl);
		return;
	}
	memcpy(w->data, p, n);
	w->data[n] = '\n';
	w->len = n + 1;
	w->cl = cl;
	b = uv_buf_init(w->data, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1, write_done) != 0) {
		free(w);
		client_close(cl);
		return;
	}
	if (!cl->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) > CTL_QUEUE_HIGH) {
		cl->paused = true;
		uv_read_stop((uv_stream_t *)&cl->pipe);
	}
}

static void answer_error(struct ctl_client *cl, int col, const char *msg)
{
	struct buf b, text;

	buf_init(&b, 0);
	buf_init(&text, 0);
	if (col > 0)
		buf_printf(&text, "%d:%d: ", cl->lineno, col);
	buf_printf(&text, "%s", msg);
	buf_printf(&b, "{\"ok\":false,\"error\":");
	log_json_str(&b, text.data, text.len);
	buf_free(&text);
	buf_printf(&b, "}");
	if (b.data)
		answer(cl, b.data, b.len);
	buf_free(&b);
}

/* "query findings [<modem>]" (modem/findings.h); false for any other line */
static bool answer_findings(struct ctl_client *cl, const char *line, size_t len)
{
	struct buf b;
	int handled;

	buf_init(&b, 0);
	handled = findings_query(cl->ctl->sim, line, len, &b);
	if (handled && b.data)
		answer(cl, b.data, b.len);
	else if (handled)
		answer_error(cl, 0, "out of memory");
	buf_free(&b);
	return handled;
}

static void handle_line(struct ctl_client *cl, const char *line, size_t len)
{
	struct scn_control *ctl = cl->ctl;
	struct scn_stmt *st = ctl->stmt;
	struct scn_error err;
	char msg[SCN_MSG_MAX + 64];
	int rc;

	cl->lineno++;
	if (answer_findings(cl, line, len))
		return;
	rc = scn_parse_line(line, len, st, &err);
	if (rc < 0) {
		answer_error(cl, err.col, err.msg);
		return;
	}
	if (rc == 0) {
		answer(cl, "{\"ok\":true}", 11);
		return;
	}
	if (st->kind == SCN_QUERY) {
		struct buf b;

		buf_init(&b, 0);
		scn_query(ctl->sim, st, &b);
		if (b.data)
			answer(cl, b.data, b.len);
		else
			answer_error(cl, 0, "out of memory");
		buf_free(&b);
		return;
	}
	scn_format(st, msg, sizeof(msg));
	trace_event(st->modem, "scenario", "control: %s", msg);
	if (scn_apply(ctl->sim, st, msg, sizeof(msg)) != 0) {
		answer_error(cl, 0, msg);
		return;
	}
	answer(cl, "{\"ok\":true}", 11);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char chunk[16384];

	(void)h;
	(void)suggested;
	/* one loop, one read at a time: the chunk is consumed before the next read */
	*b = uv_buf_init(chunk, sizeof(chunk));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ctl_client *cl = s->data;

	if (n < 0) {
		/* EOF or an error: a half line is dropped with the client */
		client_close(cl);
		return;
	}
	for (ssize_t i = 0; i < n && !cl->closing; i++) {
		char c = b->base[i];

		if (c == '\n') {
			if (cl->overflow) {
				cl->lineno++;
				answer_error(cl, SCN_LINE_MAX + 1, "line longer than 4096 bytes");
			} else {
				size_t len = cl->len;

				if (len && cl->line[len - 1] == '\r')
					len--;
				handle_line(cl, cl->line, len);
			}
			cl->len = 0;
			cl->overflow = false;
			continue;
		}
		if (cl->overflow)
			continue;
		/* a CR LF line may carry its CR one byte past the limit */
		if (cl->len == SCN_LINE_MAX + 1 || (cl->len == SCN_LINE_MAX && c != '\r')) {
			cl->overflow = true;
			continue;
		}
		cl->line[cl->len++] = c;
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct scn_control *ctl = server->data;
	struct ctl_client *cl;

	if (status < 0) {
		log_msg(LOG_WARN, "control: accept failed: %s", uv_strerror(status));
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		log_msg(LOG_ERROR, "control: out of memory for a client");
		return;
	}
	cl->ctl = ctl;
	uv_pipe_init(server->loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	ctl->refs++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
		cl->closing = true;
		uv_close((uv_handle_t *)&cl->pipe, client_closed);
		return;
	}
	cl->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = cl;
	ctl->clients = cl;
	uv_read_start((uv_stream_t *)&cl->pipe, alloc_cb, read_cb);
}

/* ---- the listener ---- */

static void server_closed(uv_handle_t *h)
{
	ctl_unref(h->data);
}

int scn_control_start(struct modemsim *sim, const char *path, struct scn_control **out)
{
	struct scn_control *ctl;
	struct stat st;
	mode_t old;
	int rc;

	*out = NULL;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_msg(LOG_ERROR, "--control %s: exists and is not a socket", path);
			return -ERR_EXIST;
		}
		unlink(path); /* a stale socket from an earlier run */
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ERR_NOMEM;
	ctl->stmt = malloc(sizeof(*ctl->stmt));
	ctl->path = strdup(path);
	if (!ctl->stmt || !ctl->path) {
		free(ctl->stmt);
		free(ctl->path);
		free(ctl);
		return -ERR_NOMEM;
	}
	ctl->sim = sim;
	uv_pipe_init(sim->loop, &ctl->server, 0);
	ctl->server.data = ctl;
	ctl->refs = 1;
	/* created 0600 from the start: no window in which others may connect */
	old = umask(0177);
	rc = uv_pipe_bind(&ctl->server, path);
	umask(old);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
	if (rc != 0) {
		log_msg(LOG_ERROR, "--control %s: %s", path, uv_strerror(rc));
		ctl->stopping = true;
		uv_close((uv_handle_t *)&ctl->server, server_closed);
		return -ERR_IO;
	}
	chmod(path, 0600);
	*out = ctl;
	return 0;
}

void scn_control_stop(struct scn_control *ctl)
{
	if (!ctl || ctl->stopping)
		return;
	ctl->stopping = true;
	while (ctl->clients)
		client_close(ctl->clients);
	unlink(ctl->path);
	uv_close((uv_handle_t *)&ctl->server, server_closed);
}
