#include "modem/modem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "at/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/hooks.h"
#include "modem/modemsim.h"

struct modem_timer {
	uv_timer_t handle;
	struct modem *m;
	modem_timer_cb cb;
	void *arg;
	void (*drop)(void *arg);
	struct modem_timer *prev, *next;
	bool active;
};

static void line_timer_cb(uv_timer_t *t);
static void modem_flush_one(struct modem *m);

/* The modem's own directory under --state (store/fs.h), or NULL: nothing persists. */
static const char *state_root(const struct modem *m, char *out, size_t len)
{
	if (!m->sim || !m->sim->state_dir[0])
		return NULL;
	snprintf(out, len, "%s/%d", m->sim->state_dir, m->index);
	return out;
}

void *modem_area_alloc(const struct modem *m, size_t size, const char *what)
{
	void *p = calloc(1, size);

	if (!p) {
		log_msg(LOG_ERROR, "modem %d: out of memory for its %s state (%zu bytes)", m->index,
		        what, size);
		abort();
	}
	return p;
}

/* The MQTT clients: their environment, and a uv timer each (closed by modem_close, freed by
 * modem_release once the loop has closed them). */
struct modem_mqtt *modem_mqtt(const struct modem *cm)
{
	struct modem *m = (struct modem *)cm; /* allocated on first use: logically const */
	struct mqtt_env *env;

	if (m->mqtt)
		return m->mqtt;
	m->mqtt = modem_area_alloc(m, sizeof(*m->mqtt), "MQTT");
	env = &m->mqtt->env;
	env->loop = m->sim->loop;
	env->net = &m->nh;
	env->trace_id = m->index;
	env->time_scale = m->sim->opt.time_scale;
	env->limits = &m->model->mqtt;
	env->faults = &m->mqtt->fault;
	env->owner = m;
	for (int i = 0; i < MQTT_CLIENTS_MAX; i++)
		mqtt_client_init(&m->mqtt->c[i], env, i, NULL);
	return m->mqtt;
}

/* The profile's families, first to last (init) or last to first (reboot, close: the upper
 * areas let go of what they hold on the lower ones first). */
static int families_init(struct modem *m)
{
	for (const struct at_family *const *f = m->model->families; *f; f++) {
		int rc = (*f)->init ? (*f)->init(m, *f) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

static size_t families_count(const struct modem *m)
{
	size_t n = 0;

	while (m->model->families[n])
		n++;
	return n;
}

static void families_reboot(struct modem *m)
{
	for (size_t i = families_count(m); i-- > 0;)
		if (m->model->families[i]->reboot)
			m->model->families[i]->reboot(m);
}

static void families_close(struct modem *m)
{
	for (size_t i = families_count(m); i-- > 0;)
		if (m->model->families[i]->close)
			m->model->families[i]->close(m);
}

void **modem_family_state(struct modem *m, const struct at_family *f)
{
	for (size_t i = 0; i < MODEM_FAMILIES_MAX && m->model->families[i]; i++)
		if (m->model->families[i] == f)
			return &m->fstate[i];
	return NULL;
}

void modem_pdp_down(struct modem *m, int cid, bool by_network)
{
	for (const struct at_family *const *f = m->model->families; *f; f++)
		if ((*f)->pdp_down)
			(*f)->pdp_down(m, cid, by_network);
}

/* What the modem's connections report up (net/host.h). */
static void nh_tls_handshake(void *owner)
{
	modem_hook_note(owner, MODEM_NOTE_TLS_HANDSHAKE, 0);
}

static bool nh_network_up(void *owner)
{
	return reg_registered(owner);
}

static const struct net_host_ops nh_ops = {
        .tls_handshake = nh_tls_handshake,
        .network_up = nh_network_up,
};

int modem_init(struct modem *m, struct modemsim *sim, int index, const struct model_profile *model)
{
	char root[sizeof(sim->state_dir) + 16];
	int rc;

	memset(m, 0, sizeof(*m));
	m->index = index;
	m->sim = sim;
	m->model = model;
	m->cfun = 1;
	m->ipr = 115200;
	m->sim_state = SIM_READY;
	m->rng = (sim->opt.seed ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL +
	         (uint64_t)index * 2 + 1;
	if (!m->rng)
		m->rng = 1;
	/* First: the store (the modem's persistent memory, shared by the file and SSL families)
	 * is the step that fails on an unusable state directory, with nothing else to undo. */
	rc = fs_init(&m->fs, model->drives, state_root(m, root, sizeof(root)), index);
	if (rc)
		return rc;
	at_line_init(&m->line);
	at_session_reset(&m->at, model->cmee_default);
	buf_init(&m->inbuf, MODEM_INBUF_MAX);
	buf_init(&m->urcs, MODEM_OUTBUF_MAX);
	buf_init(&m->outq, MODEM_OUTBUF_MAX);
	uv_timer_init(sim->loop, &m->line_timer);
	m->line_timer.data = m;
	net_host_init(&m->nh, sim->loop, sim->net, index, &nh_ops, m);
	rc = families_init(m);
	if (rc)
		modem_close(m);
	return rc;
}

static void timer_free_cb(uv_handle_t *h)
{
	free(h->data);
}

static void timer_unlink(struct modem_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->m->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

void modem_timer_cancel(struct modem_timer *t)
{
	if (!t || !t->active)
		return;
	t->active = false;
	if (t->drop)
		t->drop(t->arg);
	timer_unlink(t);
	uv_timer_stop(&t->handle);
	uv_close((uv_handle_t *)&t->handle, timer_free_cb);
}

static void cancel_all_timers(struct modem *m)
{
	while (m->timers)
		modem_timer_cancel(m->timers);
}

static void modem_timer_fire(uv_timer_t *h)
{
	struct modem_timer *t = h->data;
	struct modem *m = t->m;
	modem_timer_cb cb = t->cb;
	void *arg = t->arg;

	t->drop = NULL;
	modem_timer_cancel(t); /* freed after this callback returns, on close */
	cb(m, arg);
}

struct modem_timer *modem_after(struct modem *m, uint64_t ms, modem_timer_cb cb, void *arg)
{
	return modem_after_owned(m, ms, cb, arg, NULL);
}

struct modem_timer *modem_after_owned(struct modem *m, uint64_t ms, modem_timer_cb cb, void *arg,
                                      void (*drop)(void *arg))
{
	struct modem_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		log_msg(LOG_ERROR, "#%d: out of memory for a timer", m->index);
		return NULL;
	}
	t->m = m;
	t->cb = cb;
	t->arg = arg;
	t->drop = drop;
	t->active = true;
	uv_timer_init(m->sim->loop, &t->handle);
	t->handle.data = t;
	t->next = m->timers;
	if (m->timers)
		m->timers->prev = t;
	m->timers = t;
	uv_timer_start(&t->handle, modem_timer_fire, ms, 0);
	return t;
}

void modem_close(struct modem *m)
{
	if (m->closing)
		return;
	modem_flush_one(m);
	m->closing = true;
	at_data_abandon(m);
	cancel_all_timers(m);
	modem_hook_close(m);
	for (int i = 0; m->mqtt && i < MQTT_CLIENTS_MAX; i++)
		mqtt_client_free(&m->mqtt->c[i]);
	families_close(m);
	net_host_free(&m->nh);
	fs_free(&m->fs);
	uv_timer_stop(&m->line_timer);
	uv_close((uv_handle_t *)&m->line_timer, NULL);
	buf_free(&m->inbuf);
	buf_free(&m->urcs);
	buf_free(&m->outq);
	at_line_free(&m->line);
}

void modem_release(struct modem *m)
{
	free(m->mqtt);
	free(m->sock);
	free(m->ssl);
	free(m->pdp);
	m->mqtt = NULL;
	m->sock = NULL;
	m->ssl = NULL;
	m->pdp = NULL;
}

uint64_t modem_now(const struct modem *m)
{
	return uv_now(m->sim->loop);
}

uint64_t modem_delay(const struct modem *m, uint64_t realistic_ms)
{
	double scaled;

	if (m->sim->opt.timing == TIMING_FAST)
		return 0;
	scaled = (double)realistic_ms * m->sim->opt.time_scale;
	return scaled < 0 ? 0 : (uint64_t)scaled;
}

uint64_t modem_latency(struct modem *m, uint64_t realistic_ms)
{
	uint64_t x = m->rng;

	/* xorshift64*: state never 0 (modem_init) */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->rng = x;
	x *= 0x2545F4914F6CDD1DULL;
	/* 0.5 .. 1.5 times, in 1/1024 steps */
	return modem_delay(m, realistic_ms * (512 + (x >> 54)) / 1024);
}

uint64_t modem_proto_ms(const struct modem *m, uint64_t ms)
{
	double f = (double)ms * m->sim->opt.time_scale;

	return f < 1 ? 1 : (uint64_t)f;
}

int64_t modem_rtc_ms(const struct modem *m)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + m->rtc_offset_ms;
}

/* ---- output ---- */

static void modem_flush_one(struct modem *m)
{
	if (!m->outq.len || m->hung)
		return;
	trace_io(m->index, TRACE_RX, m->outq.data, m->outq.len);
	m->n_bytes_out += m->outq.len;
	if (m->port.write && m->port.write(m->port.ctx, m->outq.data, m->outq.len) != 0)
		log_msg(LOG_WARN, "#%d: host is not reading; %zu bytes dropped", m->index,
		        m->outq.len);
	buf_reset(&m->outq);
	/* the pty may take everything at once: then no writable event will say so */
	modem_output_drained(m);
}

static void mark_dirty(struct modem *m)
{
	if (!m->dirty) {
		m->dirty = true;
		m->dirty_next = m->sim->dirty;
		m->sim->dirty = m;
	}
}

void modem_out(struct modem *m, const void *p, size_t n)
{
	if (!n || m->closing)
		return;
	if (buf_append(&m->outq, p, n) != 0) {
		modem_flush_one(m);
		if (buf_append(&m->outq, p, n) != 0) {
			log_msg(LOG_WARN, "#%d: %zu bytes for the host dropped", m->index, n);
			return;
		}
	}
	mark_dirty(m);
}

void modemsim_flush(struct modemsim *sim)
{
	while (sim->dirty) {
		struct modem *m = sim->dirty;

		sim->dirty = m->dirty_next;
		m->dirty = false;
		m->dirty_next = NULL;
		modem_flush_one(m);
	}
}

static void flush_prepare_cb(uv_prepare_t *h)
{
	modemsim_flush(h->data);
}

static void flush_check_cb(uv_check_t *h)
{
	modemsim_flush(h->data);
}

void modemsim_flush_init(struct modemsim *sim)
{
	uv_prepare_init(sim->loop, &sim->flush_prepare);
	uv_check_init(sim->loop, &sim->flush_check);
	sim->flush_prepare.data = sim;
	sim->flush_check.data = sim;
	uv_prepare_start(&sim->flush_prepare, flush_prepare_cb);
	uv_check_start(&sim->flush_check, flush_check_cb);
	uv_unref((uv_handle_t *)&sim->flush_prepare);
	uv_unref((uv_handle_t *)&sim->flush_check);
}

void modemsim_flush_close(struct modemsim *sim)
{
	modemsim_flush(sim);
	uv_close((uv_handle_t *)&sim->flush_prepare, NULL);
	uv_close((uv_handle_t *)&sim->flush_check, NULL);
}

/* ---- URCs ---- */

static bool urc_may_go(struct modem *m)
{
	if (m->hung)
		return false;
	if (m->at.busy || m->line.mode != AT_LINE_COMMAND)
		return false;
	if (at_line_partial(&m->line) && modem_now(m) < m->line.last_rx + MODEM_PARTIAL_HOLD_MS) {
		modem_line_timer_update(m);
		return false;
	}
	return true;
}

void modem_urc_flush(struct modem *m)
{
	if (!m->urcs.len || !urc_may_go(m))
		return;
	modem_out(m, m->urcs.data, m->urcs.len);
	buf_reset(&m->urcs);
}

void modem_urc_bytes(struct modem *m, const void *p, size_t n)
{
	if (m->closing)
		return;
	if (buf_append(&m->urcs, p, n) != 0) {
		log_msg(LOG_WARN, "#%d: URC queue full (%zu bytes); URC dropped", m->index,
		        m->urcs.len);
		trace_event(m->index, "note", "URC dropped: queue full");
		return;
	}
	m->n_urcs++;
	modem_hook_urc(m, p, n);
	modem_urc_flush(m);
}

void modem_urc(struct modem *m, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	buf_append(&b, "\r\n", 2);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	if (b.data)
		modem_urc_bytes(m, b.data, b.len);
	buf_free(&b);
}

/* ---- input ---- */

static void handle_event(struct modem *m, const struct at_event *ev)
{
	switch (ev->type) {
	case AT_EV_NONE:
		break;
	case AT_EV_LINE:
		at_dispatch_line(m, ev->data, ev->len, ev->overflow);
		break;
	case AT_EV_REPEAT:
		if (ev->len)
			at_dispatch_line(m, ev->data, ev->len, false);
		break;
	case AT_EV_DATA:
	case AT_EV_DATA_END:
		at_data_event(m, ev);
		break;
	}
}

/* Feed buffered host bytes to the engine while no command is running (or one is taking
 * data). Bytes stay in inbuf while a command runs; when inbuf is full, reading stops and the
 * host's writes block, as on a UART with flow control. */
static void pump(struct modem *m)
{
	size_t off = 0;

	m->pumping = true;
	while (!m->closing) {
		struct at_event ev;
		size_t used;
		bool echo_now;

		if (m->at.busy && m->line.mode == AT_LINE_COMMAND)
			break;
		echo_now = m->at.echo &&
		           (m->line.mode == AT_LINE_COMMAND || m->line.mode == AT_LINE_PROMPT);
		used = at_line_feed(&m->line, m->inbuf.data + off, m->inbuf.len - off, modem_now(m),
		                    &ev);
		off += used;
		m->inbuf_fed = off;
		if (echo_now && ev.echo_len)
			modem_out(m, ev.echo, ev.echo_len);
		if (ev.type == AT_EV_NONE) {
			/* RAW mode holds a '+' that may open "+++" and reports nothing: the
			 * bytes after it still need feeding. */
			if (used && off < m->inbuf.len)
				continue;
			break;
		}
		handle_event(m, &ev);
		modem_hook_fed(m, &ev, off);
	}
	m->pumping = false;
	m->inbuf_fed = 0;
	if (m->closing)
		return;
	modem_hook_waiting(m, off);
	buf_consume(&m->inbuf, off);
	if (m->input_paused && m->inbuf.len < MODEM_INBUF_MAX / 2) {
		m->input_paused = false;
		if (m->port.pause_input)
			m->port.pause_input(m->port.ctx, false);
	}
	modem_line_timer_update(m);
	modem_urc_flush(m);
}

void modem_input(struct modem *m, const uint8_t *p, size_t n)
{
	if (m->closing)
		return;
	trace_io(m->index, TRACE_TX, p, n);
	m->n_bytes_in += n;
	if (m->hung)
		return; /* fault modem.hang: read and discarded */
	if (buf_append(&m->inbuf, p, n) != 0) {
		/* cannot happen while the transport honours pause_input; keep what fits */
		size_t room = MODEM_INBUF_MAX - m->inbuf.len;

		log_msg(LOG_WARN, "#%d: input buffer full, %zu bytes dropped", m->index, n - room);
		buf_append(&m->inbuf, p, room);
	}
	if (m->inbuf.len >= MODEM_INBUF_MAX - 4096 && !m->input_paused) {
		m->input_paused = true;
		if (m->port.pause_input)
			m->port.pause_input(m->port.ctx, true);
	}
	pump(m);
}

void modem_resume_input(struct modem *m)
{
	/* Inside pump() the loop itself goes on once the command is done: feeding again from
	 * here would reread the buffer under the loop's feet. */
	if (!m->closing && !m->pumping)
		pump(m);
}

size_t modem_host_pending(const struct modem *m)
{
	size_t n = m->outq.len + m->urcs.len;

	if (m->port.backlog)
		n += m->port.backlog(m->port.ctx);
	return n;
}

size_t modem_input_unfed(const struct modem *m)
{
	return m->inbuf.len > m->inbuf_fed ? m->inbuf.len - m->inbuf_fed : 0;
}

void modem_output_drained(struct modem *m)
{
	void (*cb)(struct modem *) = m->on_drain;

	if (m->closing || m->outq.len || (m->port.backlog && m->port.backlog(m->port.ctx)))
		return;
	if (cb) {
		m->on_drain = NULL;
		cb(m);
	}
	for (const struct at_family *const *f = m->model->families; *f && !m->closing; f++)
		if ((*f)->host_drained)
			(*f)->host_drained(m);
}

void modem_line_timer_update(struct modem *m)
{
	uint64_t d = at_line_deadline(&m->line), now = modem_now(m);

	if (m->closing)
		return;
	if (m->urcs.len && at_line_partial(&m->line) && !m->at.busy) {
		uint64_t hold = m->line.last_rx + MODEM_PARTIAL_HOLD_MS;

		if (hold < d)
			d = hold;
	}
	if (d == AT_NO_DEADLINE) {
		uv_timer_stop(&m->line_timer);
		return;
	}
	uv_timer_start(&m->line_timer, line_timer_cb, d > now ? d - now : 0, 0);
}

static void line_timer_cb(uv_timer_t *t)
{
	struct modem *m = t->data;
	struct at_event ev;

	at_line_tick(&m->line, modem_now(m), &ev);
	if (ev.type != AT_EV_NONE) {
		handle_event(m, &ev);
		/* more may be due at once: the declared size reached by the flushed '+' */
	}
	pump(m);
}

/* ---- boot ---- */

static void boot_urc_cb(struct modem *m, void *arg)
{
	modem_urc(m, "%s", (const char *)arg);
}

void modem_boot(struct modem *m)
{
	for (const struct boot_urc *b = m->model->boot; b && b->text; b++) {
		uint64_t d = modem_delay(m, b->delay_ms);

		if (d == 0)
			modem_urc(m, "%s", b->text);
		else
			modem_after(m, d, boot_urc_cb, (void *)b->text);
	}
	modem_hook_note(m, MODEM_NOTE_BOOT, 0);
	pdp_default_bearer_sync(m); /* after the scenario restored the registration */
}

/* The reset is over: the module hears and speaks again. */
static void power_on_cb(struct modem *m, void *arg)
{
	(void)arg;
	at_line_reset(&m->line);
	modem_line_timer_update(m);
	modem_boot(m);
}

static void reset(struct modem *m, uint64_t silent_ms)
{
	trace_event(m->index, "note", "reboot");
	at_data_abandon(m);
	cancel_all_timers(m);
	m->on_drain = NULL;
	at_line_reset(&m->line);
	at_session_reset(&m->at, m->model->cmee_default);
	buf_reset(&m->inbuf);
	buf_reset(&m->urcs);
	m->cfun = 1;
	families_reboot(m);
	fs_reboot(&m->fs);
	modem_hook_reboot(m);
	if (silent_ms && modem_after(m, silent_ms, power_on_cb, NULL)) {
		/* resetting: the line engine swallows every byte (RAW with no owner drops its data
		 * and never echoes) and URCs wait, until power_on_cb */
		at_line_raw(&m->line, 0, 0, 0, 0, modem_now(m));
		modem_line_timer_update(m);
		return;
	}
	modem_line_timer_update(m);
	modem_boot(m);
}

void modem_reboot(struct modem *m)
{
	reset(m, modem_delay(m, m->model->reboot_ms));
}

void modem_power_on(struct modem *m)
{
	reset(m, 0);
}

void modem_hang(struct modem *m, bool hung)
{
	if (m->hung == hung || m->closing)
		return;
	m->hung = hung;
	trace_event(m->index, "note", "%s",
	            hung ? "hung: input discarded, nothing sent" : "answering again");
	if (hung)
		return;
	if (m->outq.len)
		mark_dirty(m);
	modem_urc_flush(m);
}
