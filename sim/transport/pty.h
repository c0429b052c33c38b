/* A modem's serial port: a pseudo-terminal pair. modemsim keeps the slave open itself so the
 * master never sees EOF/EIO while no host has the tty open (and so that a host may close and
 * reopen it, as firmware resets do). The master is served with uv_poll and plain read/write,
 * which avoids libuv 1.44's pty early-EOF bug. */
#ifndef MODEMSIM_TRANSPORT_PTY_H
#define MODEMSIM_TRANSPORT_PTY_H

#include <limits.h>
#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"

struct modem;

struct pty_port {
	struct modem *m;
	int master;
	int slave;
	char path[32]; /* /dev/pts/N (ptsname_r fails if it does not fit) */
	char *link; /* symlink we made (heap), NULL if none */
	uv_poll_t poll;
	bool polling;
	int poll_events; /* UV_READABLE | UV_WRITABLE while polling */
	bool paused;
	struct buf out; /* bytes the host has not taken yet */
	/* UART pacing (fault modem.baud): token buckets in bytes per second, refilled from a
	 * timer; while a bucket is empty its direction is not polled. */
	unsigned out_rate, in_rate; /* 0: no limit */
	double out_tokens, in_tokens;
	uint64_t paced_at; /* loop time of the last refill */
	bool out_wait, in_wait; /* bucket empty: the timer resumes it */
	bool pace_init;
	uv_timer_t pace_timer;
};

/* Open the pty, make it raw, and attach it to m. link may be NULL. Returns 0 or -ERR_*. */
int pty_open(struct pty_port *p, uv_loop_t *loop, struct modem *m, const char *link);
void pty_close(struct pty_port *p);

#endif
