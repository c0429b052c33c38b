/* One simulated modem: its AT session, line engine, URC queue, timers and the state of each
 * command area. The shell (transport/pty.c) feeds modem_input() and gives modem_out() a place
 * to write; everything else happens on the one libuv loop shared by all modems. */
#ifndef MODEMSIM_MODEM_MODEM_H
#define MODEMSIM_MODEM_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "at/cmd_file.h"
#include "at/dispatch.h"
#include "at/line.h"
#include "core/buf.h"
#include "modem/pdp.h"
#include "modem/profile.h"
#include "modem/reg.h"
#include "modem/ssl.h"
#include "mqtt/client.h"
#include "net/host.h"
#include "sock/sock.h"
#include "store/fs.h"

struct modemsim;
struct modem_timer;
struct scn_modem;
struct findings;
struct qmt_state;
struct at_family;

/* The modem's MQTT sessions, dialect-free (mqtt/client.h); the dialect's family words them. */
struct modem_mqtt {
	struct mqtt_env env;
	struct mqtt_client c[MQTT_CLIENTS_MAX];
	struct mqtt_faults fault; /* broker-side faults armed by scenario/fault.c */
};

#define MODEM_INBUF_MAX (64 * 1024) /* host bytes waiting while a command runs */
#define MODEM_OUTBUF_MAX                                                                           \
	(256 * 1024) /* bytes the host has not read yet; URCs beyond are dropped                   \
	              */
#define MODEM_PARTIAL_HOLD_MS 1000 /* URCs wait this long for a half-typed command line */
#define MODEM_FAMILIES_MAX 16 /* families in one profile */

struct identity {
	char imei[16];
	char iccid[21];
	char imsi[16];
};

enum sim_state { SIM_READY, SIM_PIN, SIM_PUK, SIM_ABSENT };

struct modem_port {
	/* Write bytes to the host; returns 0, or -ERR_BUSY when the backlog is full. */
	int (*write)(void *ctx, const uint8_t *p, size_t n);
	size_t (*backlog)(void *ctx);
	void (*pause_input)(void *ctx, bool pause);
	/* Pace the port like a UART (fault modem.baud): at most out_rate bytes per second to the
	 * host and in_rate from it; 0 lifts the limit. May be NULL (a port without pacing). */
	void (*set_pace)(void *ctx, unsigned out_rate, unsigned in_rate);
	void *ctx;
};

/* The timers of the modem-side faults scenario/fault.c armed on this modem (modem.hang,
 * net.deregister with a duration); modem timers, so a reboot or close cancels them. */
struct modem_fault_timers {
	struct modem_timer *hang;
	struct modem_timer *dereg;
};

struct modem {
	int index;
	struct modemsim *sim;
	const struct model_profile *model;
	struct modem_port port;

	struct at_line line;
	struct at_session at;
	struct buf inbuf; /* host bytes not yet fed to the line engine */
	bool input_paused;
	bool pumping; /* pump() is feeding the line engine */
	size_t inbuf_fed; /* while pumping: bytes of inbuf already fed to the line engine */
	uv_timer_t line_timer; /* data-mode deadlines and the partial-line URC hold */
	struct buf urcs; /* framed URC bytes waiting for the host */
	struct buf outq; /* bytes for the host, written once per loop iteration */
	struct modem *dirty_next;
	/* Called once when every byte for the host has left modemsim (a large download waits
	 * for this instead of polling); cleared before the call. */
	void (*on_drain)(struct modem *m);
	bool dirty;
	bool hung; /* fault modem.hang: input discarded, output and URCs held */
	struct modem_timer *timers;
	bool closing;

	struct identity id;
	enum sim_state sim_state;
	int cfun;
	int ipr; /* +IPR: kept for the read form; the pty has no baud rate */
	int64_t rtc_offset_ms; /* simulated RTC minus the host's real time */
	uint64_t rng; /* modem_latency's draws: seeded by --seed and the index */
	int rtc_tz; /* quarter hours */
	struct reg_state reg; /* cellular registration (modem/reg.h) */
	struct pdp_state *pdp; /* modem_pdp(): allocated on first use, as are ssl, mqtt and sock */
	struct fs_state fs;
	struct at_file_xfer file_xfer; /* the file families' data phase (at/cmd_file.h) */
	struct ssl_state *ssl; /* modem_ssl() */
	struct modem_mqtt *mqtt; /* modem_mqtt() */
	struct qmt_state *qmt; /* the AT+QMT* family's state (at/cmd_mqtt.h), or NULL */
	/* State a family keeps for itself, one slot per entry of the profile's family list
	 * (modem_family_state). */
	void *fstate[MODEM_FAMILIES_MAX];
	struct scn_modem *scn; /* scenario engine state (scenario/engine.h), or NULL */
	uint64_t n_urcs, n_bytes_in, n_bytes_out; /* totals for the control socket's queries */
	struct sock_state *sock; /* modem_sock() */
	struct net_host nh; /* its network endpoint: its connections and link faults */
	struct findings *findings; /* modem/findings.h: where the host broke the protocol */
	struct modem_fault_timers fault;
};

/* Create a modem (not yet attached to a port). Returns 0 or a negative ERR_* (-ERR_EXIST: its
 * directory under --state is unusable, see fs_init); on failure nothing needs closing. */
int modem_init(struct modem *m, struct modemsim *sim, int index, const struct model_profile *model);
/* Cancel timers and free everything; the uv handles close asynchronously, so the memory of m
 * must stay valid until the loop has run once more (sim_free does that). */
void modem_close(struct modem *m);
/* After the loop has closed every handle of m (after modem_close and uv_run): free what the
 * areas allocated on first use hold. */
void modem_release(struct modem *m);

/* An area's state (PDP, SSL, MQTT, sockets, a family's own) is allocated when first used, so an
 * idle modem holds only what every modem needs (README "Performance"). The accessors
 * (modem_pdp, modem_ssl, modem_sock, modem_mqtt) allocate and set the defaults on the first
 * call, also from a read: the state a reader sees is the one a write would have changed.
 * Running out of memory there ends the process with a message naming the modem and the area
 * (there is no result an AT command could give for it). */
void *modem_area_alloc(const struct modem *m, size_t size, const char *what);
struct modem_mqtt *modem_mqtt(const struct modem *m);
/* Emit the boot URCs on the profile's schedule. */
void modem_boot(struct modem *m);
/* AT+CFUN=1,1: clear volatile state, cancel everything pending, stay silent for the profile's
 * reboot time, boot again. */
void modem_reboot(struct modem *m);
/* The same with no silence: the module was off already (AT+QPOWD's power key). */
void modem_power_on(struct modem *m);
/* The slot where family f keeps its own state on m (NULL if f is not in m's profile). */
void **modem_family_state(struct modem *m, const struct at_family *f);
/* A PDP context went down: every family that holds something on it is told. */
void modem_pdp_down(struct modem *m, int cid, bool by_network);
/* Fault modem.hang: while hung the modem reads and discards what the host sends and sends
 * nothing (answers and URCs wait); unhung, what waited goes out. */
void modem_hang(struct modem *m, bool hung);

/* From the transport. */
void modem_input(struct modem *m, const uint8_t *p, size_t n);
/* Feed the host bytes that waited while a command ran, after it completed asynchronously (from
 * a timer; never from inside the input path). */
void modem_resume_input(struct modem *m);
/* Host bytes received but not yet fed to the line engine: a data mode starting now was
 * announced ("> ", CONNECT) after they arrived (at_line_prompt's `unfed`). */
size_t modem_input_unfed(const struct modem *m);
/* The port took everything: the one-shot on_drain runs, then every family's host_drained. */
void modem_output_drained(struct modem *m);
/* Bytes that wait for the host: queued output, held URCs and the port's backlog. */
size_t modem_host_pending(const struct modem *m);

/* Bytes to the host (traced). Queued and written once per loop iteration, so a reply made
 * of many pieces reaches the host (and the transcript) as one write. */
void modem_out(struct modem *m, const void *p, size_t n);
/* Write what modem_out queued, for every modem that has something (the loop does this before
 * it blocks and after each round of I/O; see modemsim_flush_init). */
void modemsim_flush(struct modemsim *sim);
void modemsim_flush_init(struct modemsim *sim);
void modemsim_flush_close(struct modemsim *sim);

/* Queue a URC line, framed "\r\n<line>\r\n"; delivered when no command is running. */
void modem_urc(struct modem *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queue bytes exactly as given (the caller frames them). */
void modem_urc_bytes(struct modem *m, const void *p, size_t n);
/* Deliver queued URCs if the host may see them now. Called after every final result. */
void modem_urc_flush(struct modem *m);

/* Timers owned by the modem: cancelled by reboot and close. cb runs once. */
typedef void (*modem_timer_cb)(struct modem *m, void *arg);
struct modem_timer *modem_after(struct modem *m, uint64_t ms, modem_timer_cb cb, void *arg);
/* The same, and arg is owned by the timer: drop(arg) runs if it is cancelled before it fires
 * (reboot, shutdown); when it fires, cb owns arg. */
struct modem_timer *modem_after_owned(struct modem *m, uint64_t ms, modem_timer_cb cb, void *arg,
                                      void (*drop)(void *arg));
void modem_timer_cancel(struct modem_timer *t);

/* Milliseconds on the loop clock. */
uint64_t modem_now(const struct modem *m);
/* A modem-side delay under the timing profile: 0 with --timing fast, else ms * --time-scale. */
uint64_t modem_delay(const struct modem *m, uint64_t realistic_ms);
/* The latency of a result URC (or a connection's outcome): modem_delay() of a draw between
 * half and one and a half times realistic_ms, from the modem's own generator seeded by --seed
 * and its index, so a host that depends on the timing fails or passes the same way for a
 * seed every time, and a conformance run can sweep seeds. */
uint64_t modem_latency(struct modem *m, uint64_t realistic_ms);
/* A protocol timer (guard times, upload inactivity, pkt_timeout) of ms under --time-scale, at
 * least 1; --timing fast leaves it as it is: it is the protocol, not the module's latency. */
uint64_t modem_proto_ms(const struct modem *m, uint64_t ms);
/* Simulated RTC, milliseconds since the Unix epoch (UTC). */
int64_t modem_rtc_ms(const struct modem *m);

/* Re-arm the line timer after the engine's state changed. */
void modem_line_timer_update(struct modem *m);

#endif
