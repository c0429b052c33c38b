#include "transport/pty.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
static void flush_out(struct pty_port *p);

/* ---- UART pacing (fault modem.baud) ----
 * A UART at B bits per second moves B/10 bytes per second (8N1: a start and a stop bit per
 * byte). Each direction has a token bucket holding at most 10 ms of bytes; an empty bucket
 * stops polling its direction and a timer refills it, so a paced port costs a wakeup per
 * 10 ms of traffic and nothing while idle. */

static double pace_burst(unsigned rate)
{
	return rate / 100.0 < 1 ? 1 : rate / 100.0;
}

static void pace_refill(struct pty_port *p)
{
	uint64_t now = uv_now(p->poll.loop);
	double dt = (double)(now - p->paced_at);

	p->paced_at = now;
	if (p->out_rate) {
		p->out_tokens += dt * p->out_rate / 1000.0;
		if (p->out_tokens > pace_burst(p->out_rate))
			p->out_tokens = pace_burst(p->out_rate);
	}
	if (p->in_rate) {
		p->in_tokens += dt * p->in_rate / 1000.0;
		if (p->in_tokens > pace_burst(p->in_rate))
			p->in_tokens = pace_burst(p->in_rate);
	}
}

static void on_pace(uv_timer_t *t)
{
	struct pty_port *p = t->data;

	pace_refill(p);
	p->out_wait = p->in_wait = false;
	flush_out(p);
	update_poll(p);
}

/* A bucket ran dry: wait until it holds a burst again (or what is left to send). */
static void pace_wait(struct pty_port *p)
{
	double need = 0, ms = 0;

	if (p->out_wait) {
		need = pace_burst(p->out_rate);
		if ((double)p->out.len < need)
			need = (double)p->out.len;
		ms = (need - p->out_tokens) * 1000.0 / p->out_rate;
	}
	if (p->in_wait) {
		double in_ms = (pace_burst(p->in_rate) - p->in_tokens) * 1000.0 / p->in_rate;

		if (!p->out_wait || in_ms < ms)
			ms = in_ms;
	}
	if (!uv_is_active((uv_handle_t *)&p->pace_timer))
		uv_timer_start(&p->pace_timer, on_pace, ms < 1 ? 1 : (uint64_t)ms + 1, 0);
}

static void port_pace(void *ctx, unsigned out_rate, unsigned in_rate)
{
	struct pty_port *p = ctx;

	if (!p->pace_init) {
		uv_timer_init(p->poll.loop, &p->pace_timer);
		p->pace_timer.data = p;
		p->pace_init = true;
	}
	p->out_rate = out_rate;
	p->in_rate = in_rate;
	p->paced_at = uv_now(p->poll.loop);
	p->out_tokens = out_rate ? pace_burst(out_rate) : 0;
	p->in_tokens = in_rate ? pace_burst(in_rate) : 0;
	p->out_wait = p->in_wait = false;
	uv_timer_stop(&p->pace_timer);
	flush_out(p);
	update_poll(p);
}

/* Write what is queued, within the pacing; tells the modem when all of it is gone. */
static void flush_out(struct pty_port *p)
{
	bool had = p->out.len > 0;

	while (p->out.len && !p->out_wait) {
		size_t n = p->out.len;
		ssize_t w;

		if (p->out_rate) {
			pace_refill(p);
			if (p->out_tokens < 1) {
				p->out_wait = true;
				pace_wait(p);
				break;
			}
			if ((double)n > p->out_tokens)
				n = (size_t)p->out_tokens;
		}
		w = write(p->master, p->out.data, n);
		if (w <= 0)
			break;
		buf_consume(&p->out, (size_t)w);
		if (p->out_rate)
			p->out_tokens -= (double)w;
	}
	if (had && !p->out.len)
		modem_output_drained(p->m);
}

static int port_write(void *ctx, const uint8_t *data, size_t n)
{
	struct pty_port *p = ctx;

	if (p->out_rate) {
		/* paced: everything goes through the queue */
		if (buf_append(&p->out, data, n) != 0)
			return -ERR_BUSY;
		flush_out(p);
		update_poll(p);
		return 0;
	}
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
		if (p->out_rate) {
			flush_out(p);
		} else {
			while (p->out.len) {
				ssize_t w = write(p->master, p->out.data, p->out.len);

				if (w <= 0)
					break;
				buf_consume(&p->out, (size_t)w);
			}
			if (!p->out.len)
				modem_output_drained(p->m);
		}
	}
	if ((events & UV_READABLE) && !p->paused) {
		/* Read a bounded amount per wakeup so one busy host cannot starve the others. */
		for (int i = 0; i < 16 && !p->paused && !p->in_wait; i++) {
			size_t want = sizeof(chunk);
			ssize_t r;

			if (p->in_rate) {
				pace_refill(p);
				if (p->in_tokens < 1) {
					p->in_wait = true;
					pace_wait(p);
					break;
				}
				if ((double)want > p->in_tokens)
					want = (size_t)p->in_tokens;
			}
			r = read(p->master, chunk, want);
			if (r > 0) {
				if (p->in_rate)
					p->in_tokens -= (double)r;
				modem_input(p->m, chunk, (size_t)r);
				/* drained: no read to hear EAGAIN (polls are level-triggered) */
				if ((size_t)r < want)
					break;
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

	if (!p->paused && !p->in_wait)
		ev |= UV_READABLE;
	if (p->out.len && !p->out_wait)
		ev |= UV_WRITABLE;
	/* libuv's uv_poll_start stops the watcher first (an epoll_ctl DEL, then an ADD on the
	 * next loop turn): only when the wanted set changes, not on every wakeup, so that an AT
	 * round trip costs a read, a write and the wait. */
	if (ev) {
		if (!p->polling || ev != p->poll_events)
			uv_poll_start(&p->poll, ev, on_poll);
		p->polling = true;
		p->poll_events = ev;
	} else if (p->polling) {
		uv_poll_stop(&p->poll);
		p->polling = false;
		p->poll_events = 0;
	}
}

/* The pid of another running modemsim that holds the pty `target` open (it keeps its slave
 * fd), or 0. A stale link from a killed run points at a pty nobody holds, or one a terminal
 * reuses: those are replaced; a live modemsim's link is not taken over. */
static pid_t pty_holder(const char *target)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!proc)
		return 0;
	while (!found && (e = readdir(proc))) {
		char path[64], comm[32] = "", fdpath[400], to[PATH_MAX];
		pid_t pid = (pid_t)atoi(e->d_name);
		struct dirent *f;
		DIR *fds;
		FILE *c;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		c = fopen(path, "r");
		if (!c)
			continue;
		if (!fgets(comm, sizeof(comm), c))
			comm[0] = 0;
		fclose(c);
		if (strcmp(comm, "modemsim\n") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			ssize_t n;

			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, f->d_name);
			n = readlink(fdpath, to, sizeof(to) - 1);
			if (n > 0) {
				to[n] = 0;
				if (strcmp(to, target) == 0)
					found = pid;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

static int make_link(struct pty_port *p, const char *link)
{
	struct stat st;

	if (lstat(link, &st) == 0) {
		char target[PATH_MAX];
		ssize_t n;
		pid_t holder;

		if (!S_ISLNK(st.st_mode)) {
			log_msg(LOG_ERROR,
			        "--link %s: exists and is not a symlink; not replacing it", link);
			return -ERR_EXIST;
		}
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		holder = n > 0 ? pty_holder(target) : 0;
		if (holder) {
			log_msg(LOG_ERROR,
			        "--link %s: in use by modemsim (pid %d, %s); not taking it over",
			        link, (int)holder, target);
			return -ERR_EXIST;
		}
		unlink(link);
	}
	if (symlink(p->path, link) != 0) {
		log_msg(LOG_ERROR, "--link %s: cannot create symlink: %s", link, strerror(errno));
		return -ERR_SYS;
	}
	p->link = strdup(link);
	if (!p->link) {
		unlink(link);
		log_msg(LOG_ERROR, "--link %s: out of memory", link);
		return -ERR_NOMEM;
	}
	return 0;
}

/* Name the limit a fleet ran into: the kernel's pty count (ENOSPC from /dev/ptmx) or the
 * process's descriptors (each pty takes two). */
static void pty_open_failed(int e)
{
	char max[32] = "?";
	FILE *f;

	if (e == ENOSPC) {
		f = fopen("/proc/sys/kernel/pty/max", "r");
		if (f) {
			if (!fgets(max, sizeof(max), f))
				snprintf(max, sizeof(max), "?");
			max[strcspn(max, "\n")] = 0;
			fclose(f);
		}
		log_msg(LOG_ERROR,
		        "posix_openpt: %s: the kernel's pty limit is reached (kernel.pty.max = %s;"
		        " raise it with sysctl -w kernel.pty.max=N, or use --serial tcp-listen)",
		        strerror(e), max);
	} else if (e == EMFILE || e == ENFILE) {
		log_msg(LOG_ERROR,
		        "posix_openpt: %s: each pty takes two descriptors (raise ulimit -n)",
		        strerror(e));
	} else {
		log_msg(LOG_ERROR, "posix_openpt: %s", strerror(e));
	}
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
		pty_open_failed(errno);
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
	m->port.set_pace = port_pace;
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
	if (p->link)
		unlink(p->link);
	free(p->link);
	p->link = NULL;
	p->m->port.write = NULL;
	p->m->port.set_pace = NULL;
	if (p->pace_init)
		uv_close((uv_handle_t *)&p->pace_timer, NULL);
	uv_poll_stop(&p->poll);
	uv_close((uv_handle_t *)&p->poll, pty_closed);
}
