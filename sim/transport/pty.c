#include "transport/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"

static void update_poll(struct pty_port *p);

static int port_write(void *ctx, const uint8_t *data, size_t n)
{
	struct pty_port *p = ctx;

	if (p->out.len == 0) {
		ssize_t w = write(p->master, data, n);

		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			log_msg(LOG_WARN, "#%d: write to %s: %s", p->m->index, p->path,
			        strerror(errno));
			return 0;
		}
		if (w > 0) {
			data += w;
			n -= (size_t)w;
		}
		if (n == 0)
			return 0;
	}
	if (buf_append(&p->out, data, n) != 0)
		return -ERR_BUSY;
	update_poll(p);
	return 0;
}

static size_t port_backlog(void *ctx)
{
	return ((struct pty_port *)ctx)->out.len;
}

static void port_pause(void *ctx, bool pause)
{
	struct pty_port *p = ctx;

	p->paused = pause;
	update_poll(p);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pty_port *p = h->data;
	uint8_t chunk[4096];

	if (status < 0) {
		log_msg(LOG_WARN, "#%d: poll on %s: %s", p->m->index, p->path, uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE) {
		while (p->out.len) {
			ssize_t w = write(p->master, p->out.data, p->out.len);

			if (w <= 0)
				break;
			buf_consume(&p->out, (size_t)w);
		}
		if (!p->out.len)
			modem_output_drained(p->m);
	}
	if ((events & UV_READABLE) && !p->paused) {
		/* Read a bounded amount per wakeup so one busy host cannot starve the others. */
		for (int i = 0; i < 16 && !p->paused; i++) {
			ssize_t r = read(p->master, chunk, sizeof(chunk));

			if (r > 0) {
				modem_input(p->m, chunk, (size_t)r);
				continue;
			}
			if (r < 0 && errno == EIO) {
				/* no slave open: cannot happen while we hold one, but never spin */
				break;
			}
			break;
		}
	}
	update_poll(p);
}

static void update_poll(struct pty_port *p)
{
	int ev = 0;

	if (!p->paused)
		ev |= UV_READABLE;
	if (p->out.len)
		ev |= UV_WRITABLE;
	if (ev) {
		uv_poll_start(&p->poll, ev, on_poll);
		p->polling = true;
	} else if (p->polling) {
		uv_poll_stop(&p->poll);
		p->polling = false;
	}
}

static int make_link(struct pty_port *p, const char *link)
{
	struct stat st;

	if (lstat(link, &st) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			log_msg(LOG_ERROR,
			        "--link %s: exists and is not a symlink; not replacing it", link);
			return -ERR_EXIST;
		}
		unlink(link);
	}
	if (symlink(p->path, link) != 0) {
		log_msg(LOG_ERROR, "--link %s: cannot create symlink: %s", link, strerror(errno));
		return -ERR_SYS;
	}
	snprintf(p->link, sizeof(p->link), "%s", link);
	return 0;
}

int pty_open(struct pty_port *p, uv_loop_t *loop, struct modem *m, const char *link)
{
	struct termios tio;
	int rc = -ERR_SYS;

	memset(p, 0, sizeof(*p));
	p->m = m;
	p->slave = -1;
	buf_init(&p->out, MODEM_OUTBUF_MAX);
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (p->master < 0) {
		log_msg(LOG_ERROR, "posix_openpt: %s", strerror(errno));
		return -ERR_SYS;
	}
	if (grantpt(p->master) || unlockpt(p->master) ||
	    ptsname_r(p->master, p->path, sizeof(p->path))) {
		log_msg(LOG_ERROR, "pty setup: %s", strerror(errno));
		goto close_master;
	}
	p->slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0) {
		log_msg(LOG_ERROR, "open %s: %s", p->path, strerror(errno));
		goto close_master;
	}
	/* Raw, like a UART: no echo, no CR/LF translation by the line discipline. */
	if (tcgetattr(p->slave, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetispeed(&tio, B115200);
		cfsetospeed(&tio, B115200);
		tcsetattr(p->slave, TCSANOW, &tio);
	}
	chmod(p->path, 0660);
	if (link) {
		rc = make_link(p, link);
		if (rc)
			goto close_slave;
	}
	uv_poll_init(loop, &p->poll, p->master);
	p->poll.data = p;
	m->port.write = port_write;
	m->port.backlog = port_backlog;
	m->port.pause_input = port_pause;
	m->port.ctx = p;
	update_poll(p);
	return 0;

close_slave:
	close(p->slave);
	p->slave = -1;
close_master:
	close(p->master);
	p->master = -1;
	buf_free(&p->out);
	return rc;
}

static void pty_closed(uv_handle_t *h)
{
	struct pty_port *p = h->data;

	close(p->master);
	close(p->slave);
	p->master = p->slave = -1;
}

void pty_close(struct pty_port *p)
{
	if (p->master < 0)
		return;
	/* Give the host what is still queued if it can take it now. */
	while (p->out.len) {
		ssize_t w = write(p->master, p->out.data, p->out.len);

		if (w <= 0)
			break;
		buf_consume(&p->out, (size_t)w);
	}
	buf_free(&p->out);
	if (p->link[0])
		unlink(p->link);
	p->link[0] = 0;
	p->m->port.write = NULL;
	uv_poll_stop(&p->poll);
	uv_close((uv_handle_t *)&p->poll, pty_closed);
}
