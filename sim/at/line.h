/* The AT line engine: a pure state machine fed with the bytes the host sends. No I/O and no
 * clock: the caller passes `now` (milliseconds) and asks for the next deadline.
 *
 * Modes:
 *  COMMAND  bytes accumulate into a command line ended by CR. A LF right after the CR is
 *           swallowed if it arrives within AT_LF_WINDOW_MS of the CR. "A/" repeats the
 *           previous line at once. BS and DEL edit. When the line starts a data mode, that LF is
 *           swallowed only if it had arrived before the mode started (see `unfed`): a data
 *           phase is byte-exact from its first byte.
 *  PROMPT   after "> ": payload ended by Ctrl+Z (submit) or ESC (cancel), or exactly `want`
 *           bytes when a length was given (Ctrl+Z and ESC are then ordinary data).
 *  RAW      after CONNECT: exactly `want` bytes (0: unlimited), or until `idle_ms` pass without
 *           input, or "+++" framed by `guard_ms` of silence on both sides.
 *
 * at_line_feed() consumes input up to and including the first event and reports it; the caller
 * echoes ev.echo (when echo is on), acts on the event (which may switch the mode), and feeds
 * the rest. DATA events point into the caller's input (or at a held "+++"), never copied. */
#ifndef MODEMSIM_AT_LINE_H
#define MODEMSIM_AT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_LINE_MAX 4096 /* bytes of a command line before the CR; longer lines fail */
#define AT_LF_WINDOW_MS 100 /* a LF this soon after the CR is the host's CR LF terminator */
#define AT_NO_DEADLINE UINT64_MAX

enum at_line_mode { AT_LINE_COMMAND, AT_LINE_PROMPT, AT_LINE_RAW };

enum at_ev_type {
	AT_EV_NONE, /* input exhausted, nothing to act on (echo may still be due) */
	AT_EV_LINE, /* command line: data/len without the CR; overflow if it was too long */
	AT_EV_REPEAT, /* "A/": run the previous line again (data/len is that line) */
	AT_EV_DATA, /* payload bytes of a data mode */
	AT_EV_DATA_END, /* the data mode ended (see end); the engine is back in COMMAND mode */
};

enum at_data_end {
	AT_END_COUNT, /* the declared length arrived */
	AT_END_SUBMIT, /* Ctrl+Z */
	AT_END_CANCEL, /* ESC */
	AT_END_ESCAPE, /* +++ with guard times */
	AT_END_TIMEOUT, /* no input for idle_ms */
	AT_END_ABANDON, /* the modem rebooted, powered down or shut down (not from the engine) */
};

struct at_event {
	enum at_ev_type type;
	const uint8_t *data;
	size_t len;
	bool overflow;
	enum at_data_end end;
	const uint8_t *echo; /* input bytes the modem echoes before acting on the event */
	size_t echo_len;
};

struct at_line {
	enum at_line_mode mode;
	/* The line being typed and the previous one (for A/): heap blocks that grow with the
	 * longest line seen, doubling from 64 bytes to AT_LINE_MAX (a line that finds no memory
	 * to grow into fails as too long). They swap at each CR. */
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
	uint8_t *last;
	size_t last_cap;
	size_t last_len;
	/* swallow a LF fed before this time; 0: none pending; AT_NO_DEADLINE: the first byte of a
	 * data mode, which had arrived before the mode started */
	uint64_t lf_until;
	uint64_t last_rx; /* time of the last byte received */
	/* data modes */
	size_t want;
	size_t got;
	uint64_t idle_ms;
	uint64_t guard_ms;
	int plus; /* '+' held as a possible escape */
	uint64_t plus_at; /* when the last held '+' arrived */
};

/* Start an engine in COMMAND mode; l holds nothing yet. */
void at_line_init(struct at_line *l);
/* Back to a fresh engine (a reboot), keeping the line buffers. */
void at_line_reset(struct at_line *l);
/* Release the line buffers (at_line_init may follow). */
void at_line_free(struct at_line *l);
/* Enter PROMPT mode: fixed_len > 0 takes exactly that many bytes, 0 runs to Ctrl+Z / ESC.
 * unfed: how many bytes the host had sent before this call (before the prompt went out) that
 * the engine has not been fed yet; only the first of them may be the LF of the command's CR LF. */
void at_line_prompt(struct at_line *l, size_t fixed_len, size_t unfed, uint64_t now);
/* Enter RAW mode: len 0 is unlimited; idle_ms 0 never times out; guard_ms 0 disables +++.
 * unfed: as for at_line_prompt (bytes sent before CONNECT went out, not fed yet). */
void at_line_raw(struct at_line *l, size_t len, uint64_t idle_ms, uint64_t guard_ms, size_t unfed,
                 uint64_t now);
/* Leave any data mode at once (the command owning it was aborted). */
void at_line_command(struct at_line *l);

size_t at_line_feed(struct at_line *l, const uint8_t *in, size_t n, uint64_t now,
                    struct at_event *ev);
/* When at_line_tick must next be called; AT_NO_DEADLINE if never. */
uint64_t at_line_deadline(const struct at_line *l);
/* Time passed: may report DATA (held '+' that were data after all) or DATA_END. */
void at_line_tick(struct at_line *l, uint64_t now, struct at_event *ev);
/* How a data phase ended, in words for traces ("inactivity timeout", "+++", ...). */
const char *at_data_end_name(enum at_data_end why);
/* A command line is partly received (URCs should wait for it, for a while). */
bool at_line_partial(const struct at_line *l);

#endif
