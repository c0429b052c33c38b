/* The fault mechanisms below the modem: fault_check() against the vectors in
 * data/fault_check.txt, and the link faults of net/conn.c and net/trap.c on real loopback
 * sockets (a libuv echo server in the same loop). Every wait has a deadline, and the run ends
 * with the loop closing cleanly. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/resolve.h"
#include "net/trap.h"
#include "scenario/fault.h"
#include "scenario/parse.h"
#include "tls/tls.h"

/* The link faults act on a network host; no modem is needed, only an owner that says whether
 * it has its network (as a registered modem does). */
static uv_loop_t loop;
static struct net_map map;
static struct net_host nh;
static bool registered = true;

static bool nh_network_up(void *owner)
{
	return *(bool *)owner;
}

static const struct net_host_ops nh_ops = {.network_up = nh_network_up};

/* ---- fault_check vectors ---- */

static void test_check_vectors(void)
{
	FILE *f = fopen("data/fault_check.txt", "r");
	char line[1024];
	int rows = 0, lineno = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char stmt[1200], *sep, *want;
		struct scn_stmt *s = calloc(1, sizeof(*s));
		struct scn_error err = {0};
		int rc;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		sep = strstr(line, " => ");
		if (!line[0] || line[0] == '#' || !sep || !s) {
			free(s);
			continue;
		}
		*sep = 0;
		want = sep + 4;
		snprintf(stmt, sizeof(stmt), "at 1s fault %s", line);
		rc = scn_parse_line(stmt, strlen(stmt), s, &err);
		if (strcmp(want, "ok") == 0) {
			CHECK(rc == 1);
			if (rc != 1)
				fprintf(stderr, "line %d: %s: %s\n", lineno, line, err.msg);
		} else {
			bool good = rc == -1 && strstr(err.msg, want) != NULL;

			CHECK(good);
			if (!good)
				fprintf(stderr, "line %d: %s: want '%s', got %d '%s'\n", lineno,
				        line, want, rc, err.msg);
		}
		rows++;
		free(s);
	}
	fclose(f);
	CHECK(rows > 80);
}

/* ---- waiting with a deadline ---- */

static bool timed_out;

static void on_wait_deadline(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

static bool run_until(const bool *flag, uint64_t ms)
{
	uv_timer_t t;

	timed_out = false;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_wait_deadline, ms, 0);
	while (!*flag && !timed_out)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return *flag;
}

static void run_for(uint64_t ms)
{
	bool never = false;

	run_until(&never, ms);
}

/* ---- a connection's callbacks, recorded ---- */

struct rec {
	struct net_conn *c;
	bool opened, closed, got_want;
	int status, reason, data_calls;
	char cause[512];
	uint8_t data[64 * 1024];
	size_t rx, want_rx;
	uint64_t want_at; /* loop time when want_rx was reached */
};

static void cb_opened(void *arg, int status, const char *cause)
{
	struct rec *r = arg;

	r->opened = true;
	r->status = status;
	snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "");
}

static void cb_data(void *arg, const uint8_t *p, size_t n)
{
	struct rec *r = arg;

	if (r->rx + n <= sizeof(r->data))
		memcpy(r->data + r->rx, p, n);
	r->rx += n;
	r->data_calls++;
	if (r->want_rx && r->rx >= r->want_rx && !r->got_want) {
		r->got_want = true;
		r->want_at = uv_now(&loop);
	}
}

static void cb_closed(void *arg, int reason, const char *cause)
{
	struct rec *r = arg;

	r->closed = true;
	r->reason = reason;
	snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "");
}

static const struct net_conn_ops ops = {cb_opened, cb_data, cb_closed};

/* ---- an echo server ---- */

struct server {
	uv_tcp_t tcp;
	int port;
	uv_tcp_t client;
	bool accepted, client_open, client_eof, echo;
	int client_err;
	size_t got;
	uint8_t buf[64 * 1024];
	uint8_t seen[64 * 1024];
};

static void srv_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
	struct server *s = h->data;

	(void)n;
	*b = uv_buf_init((char *)s->buf, sizeof(s->buf));
}

static void srv_client_closed(uv_handle_t *h)
{
	struct server *s = h->data;

	s->client_open = false;
}

static void srv_close_client(struct server *s)
{
	if (s->client_open && !uv_is_closing((uv_handle_t *)&s->client))
		uv_close((uv_handle_t *)&s->client, srv_client_closed);
}

static void srv_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void srv_send(struct server *s, const void *p, size_t n)
{
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init(malloc(n), (unsigned)n);

	memcpy(b.base, p, n);
	w->data = b.base;
	uv_write(w, (uv_stream_t *)&s->client, &b, 1, srv_written);
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct server *s = st->data;

	if (n < 0) {
		if (n == UV_EOF)
			s->client_eof = true;
		else
			s->client_err = (int)n;
		srv_close_client(s); /* answers a FIN with a FIN */
		return;
	}
	if (s->got + (size_t)n <= sizeof(s->seen))
		memcpy(s->seen + s->got, b->base, (size_t)n);
	s->got += (size_t)n;
	if (s->echo && n > 0)
		srv_send(s, b->base, (size_t)n);
}

static void srv_accept(uv_stream_t *l, int status)
{
	struct server *s = l->data;

	if (status < 0 || s->client_open)
		return;
	uv_tcp_init(&loop, &s->client);
	s->client.data = s;
	if (uv_accept(l, (uv_stream_t *)&s->client) != 0) {
		uv_close((uv_handle_t *)&s->client, NULL);
		return;
	}
	s->accepted = s->client_open = true;
	uv_read_start((uv_stream_t *)&s->client, srv_alloc, srv_read);
}

static void srv_start(struct server *s, bool echo)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int len = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->echo = echo;
	uv_tcp_init(&loop, &s->tcp);
	s->tcp.data = s;
	CHECK(uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0) == 0);
	CHECK(uv_listen((uv_stream_t *)&s->tcp, 8, srv_accept) == 0);
	uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&sa, &len);
	s->port = ntohs(sa.sin_port);
}

static void srv_stop(struct server *s)
{
	srv_close_client(s);
	uv_close((uv_handle_t *)&s->tcp, NULL);
	run_for(20);
}

/* Open a plain connection to s and wait until both ends have it. */
static void open_to(struct rec *r, struct server *s)
{
	memset(r, 0, sizeof(*r));
	CHECK(net_conn_open(&nh, "127.0.0.1", s->port, NULL, 2000, &ops, r, &r->c) == 0);
	CHECK(run_until(&r->opened, 2000) && r->status == 0);
	CHECK(run_until(&s->accepted, 1000));
}

static void finish(struct rec *r, struct server *s)
{
	if (!r->closed)
		net_conn_close(r->c);
	else
		net_conn_abort(r->c);
	run_for(30);
	srv_stop(s);
}

/* ---- link faults ---- */

static void test_delay_both_ways(void)
{
	struct server s;
	struct rec r;
	struct net_link_shape sh = {.delay_ms = 100};
	uint64_t t0;

	srv_start(&s, true);
	open_to(&r, &s);
	net_conn_fault_shape(r.c, &sh);
	r.want_rx = 3;
	t0 = uv_now(&loop);
	CHECK(net_conn_write(r.c, (const uint8_t *)"abc", 3) == 0);
	run_for(60);
	CHECK(s.got == 0); /* held on the way out */
	CHECK(run_until(&r.got_want, 2000));
	CHECK(r.want_at - t0 >= 195); /* 100 ms out, 100 ms back */
	CHECK_MEM(r.data, r.rx, "abc", 3);
	finish(&r, &s);
}

static void test_fragment_and_throttle(void)
{
	struct server s;
	struct rec r;
	struct net_link_shape sh = {.fragment = 1};
	uint8_t big[6000];
	uint64_t t0;

	srv_start(&s, true);
	open_to(&r, &s);
	net_conn_fault_shape(r.c, &sh);
	r.want_rx = 10;
	CHECK(net_conn_write(r.c, (const uint8_t *)"0123456789", 10) == 0);
	CHECK(run_until(&r.got_want, 2000));
	CHECK_MEM(r.data, r.rx, "0123456789", 10);
	CHECK(r.data_calls == 10); /* delivered a byte at a time */

	/* 20000 bytes/s both ways: 6000 bytes take about 0.3 s each way, the echo overlapping
	 * the way out (the first 50 ms of tokens come at once) */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	sh.fragment = 0;
	sh.rate = 20000;
	net_conn_fault_shape(r.c, &sh);
	r.rx = 0;
	r.got_want = false;
	r.want_rx = sizeof(big);
	t0 = uv_now(&loop);
	CHECK(net_conn_write(r.c, big, sizeof(big)) == 0);
	CHECK(net_conn_backlog(r.c) > 0);
	CHECK(run_until(&r.got_want, 5000));
	CHECK(r.want_at - t0 >= 240);
	CHECK(r.want_at - t0 < 2000);
	CHECK_MEM(r.data, r.rx, big, sizeof(big));
	finish(&r, &s);
}

static void test_corrupt_one_byte(void)
{
	struct server s;
	struct rec r;

	srv_start(&s, true);
	open_to(&r, &s);
	net_conn_fault_corrupt(r.c, 3);
	r.want_rx = 6;
	CHECK(net_conn_write(r.c, (const uint8_t *)"abcdef", 6) == 0);
	CHECK(run_until(&r.got_want, 2000));
	CHECK(s.got == 6 && memcmp(s.seen, "abcdef", 6) == 0); /* sent intact */
	CHECK(r.rx == 6 && memcmp(r.data, "abc", 3) == 0 && r.data[3] == (uint8_t) ~'d' &&
	      memcmp(r.data + 4, "ef", 2) == 0);
	/* once only */
	r.got_want = false;
	r.want_rx = 9;
	CHECK(net_conn_write(r.c, (const uint8_t *)"xyz", 3) == 0);
	CHECK(run_until(&r.got_want, 2000));
	CHECK(memcmp(r.data + 6, "xyz", 3) == 0);
	finish(&r, &s);
}

static void test_close_is_a_fin_both_ways(void)
{
	struct server s;
	struct rec r;

	srv_start(&s, true);
	open_to(&r, &s);
	net_conn_fault_close(r.c);
	CHECK(!r.closed); /* from the loop, never inside the call */
	CHECK(run_until(&r.closed, 2000));
	CHECK(s.client_eof && s.client_err == 0); /* the peer saw a FIN */
	CHECK(r.reason == -NET_ERR_PEER_CLOSED);
	CHECK(net_conn_write(r.c, (const uint8_t *)"x", 1) == -ERR_STATE);
	finish(&r, &s);
}

static void test_reset_is_an_rst(void)
{
	struct server s;
	struct rec r;

	srv_start(&s, false);
	open_to(&r, &s);
	net_conn_fault_reset(r.c);
	CHECK(!r.closed);
	CHECK(run_until(&r.closed, 2000));
	CHECK(r.reason == -NET_ERR_RESET);
	for (int i = 0; i < 100 && !s.client_err && !s.client_eof; i++)
		run_for(10);
	CHECK(s.client_err == UV_ECONNRESET && !s.client_eof);
	finish(&r, &s);
}

static void test_blackhole_holds_both_ways(void)
{
	struct server s;
	struct rec r;

	srv_start(&s, true);
	open_to(&r, &s);
	net_conn_fault_blackhole(r.c, true);
	r.want_rx = 4;
	CHECK(net_conn_write(r.c, (const uint8_t *)"ping", 4) == 0);
	srv_send(&s, "in", 2); /* from the peer: stays in the socket */
	run_for(300);
	CHECK(s.got == 0 && r.rx == 0 && !r.closed);
	net_conn_fault_blackhole(r.c, false);
	r.want_rx = 6;
	CHECK(run_until(&r.got_want, 2000));
	CHECK(s.got == 4);
	CHECK_MEM(r.data, r.rx, "inping", 6);
	finish(&r, &s);
}

static void test_policy_refuse_and_down(void)
{
	struct server s;
	struct rec r = {0};
	struct net_link_policy *pol = net_link_policy(&nh);

	srv_start(&s, true);
	CHECK(pol != NULL);
	pol->refuse_port = net_trap_refuse_port();
	CHECK(pol->refuse_port > 0);
	CHECK(net_conn_open(&nh, "127.0.0.1", s.port, NULL, 2000, &ops, &r, &r.c) == 0);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_REFUSED && !s.accepted);
	net_conn_close(r.c);
	pol->refuse_port = 0;

	/* no network: a new connection waits (parked), then goes when it comes back */
	pol->down = true;
	registered = false;
	memset(&r, 0, sizeof(r));
	CHECK(net_conn_open(&nh, "127.0.0.1", s.port, NULL, 5000, &ops, &r, &r.c) == 0);
	run_for(200);
	CHECK(!r.opened && !s.accepted);
	pol->down = false;
	registered = true;
	net_link_update(&nh);
	CHECK(run_until(&r.opened, 2000) && r.status == 0);
	CHECK(run_until(&s.accepted, 1000));
	finish(&r, &s);
}

static void test_tls_traps(void)
{
	struct rec r = {0};
	struct net_link_policy *pol = net_link_policy(&nh);
	struct tls_config cfg = {
	        .version_min = TLS_V1_2,
	        .version_max = TLS_V1_2,
	        .verify = TLS_VERIFY_NONE,
	        .now = time(NULL),
	};
	struct server s;

	srv_start(&s, false);
	/* the alert server: the handshake fails with the peer's alert */
	pol->tls_port = net_trap_alert_port(&loop);
	pol->tls_once = true;
	CHECK(pol->tls_port > 0);
	CHECK(net_conn_open(&nh, "127.0.0.1", s.port, &cfg, 3000, &ops, &r, &r.c) == 0);
	CHECK(run_until(&r.opened, 3000));
	CHECK(r.status == -NET_ERR_TLS);
	CHECK(pol->tls_port == 0); /* the next handshake only */
	CHECK(!s.accepted);
	net_conn_close(r.c);

	/* the silent server: the handshake's deadline */
	pol->tls_port = net_trap_hang_port();
	pol->tls_once = true;
	memset(&r, 0, sizeof(r));
	CHECK(net_conn_open(&nh, "127.0.0.1", s.port, &cfg, 300, &ops, &r, &r.c) == 0);
	CHECK(run_until(&r.opened, 3000));
	CHECK(r.status == -NET_ERR_TIMEOUT && strstr(r.cause, "TLS handshake") != NULL);
	net_conn_close(r.c);
	srv_stop(&s);
}

int main(void)
{
	uv_loop_init(&loop);
	net_map_init(&map);
	net_host_init(&nh, &loop, &map, 0, &nh_ops, &registered);
	log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_WARN);

	test_check_vectors();
	test_delay_both_ways();
	test_fragment_and_throttle();
	test_corrupt_one_byte();
	test_close_is_a_fin_both_ways();
	test_reset_is_an_rst();
	test_blackhole_holds_both_ways();
	test_policy_refuse_and_down();
	test_tls_traps();

	net_host_free(&nh);
	net_trap_close();
	run_for(100);
	CHECK(uv_loop_close(&loop) == 0); /* every handle closed: nothing leaked */
	net_map_free(&map);
	return check_exit();
}
