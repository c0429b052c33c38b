/* The connection object end to end on loopback: a libuv server in the same loop for plain TCP
 * (echo, close, silence, flood), and the embedded broker (a real mosquitto) for TLS. Every
 * wait has a deadline, and every case ends with the loop closing cleanly (no handle leaked). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/err.h"
#include "core/log.h"
#include "net/broker.h"
#include "net/conn.h"
#include "net/resolve.h"
#include "net/trap.h"
#include "tls/tls.h"

/* A network host and no modem at all: the connections need nothing above net/. */
static uv_loop_t loop;
static struct net_map map;
static struct net_host nh;
static int handshakes; /* nh's tls_handshake() calls */

static void count_handshake(void *owner)
{
	(*(int *)owner)++;
}

static const struct net_host_ops nh_ops = {.tls_handshake = count_handshake};

/* ---- waiting with a deadline ---- */

static bool timed_out;

static void on_wait_deadline(uv_timer_t *t)
{
	(void)t;
	timed_out = true;
}

/* Run the loop until *flag or ms pass; returns *flag. */
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

/* ---- what the connection reported ---- */

enum on_cb { KEEP, CLOSE_IN_CB, ABORT_IN_CB };

struct rec {
	struct net_conn *c;
	bool in_open; /* inside net_conn_open: no callback may come now */
	bool opened, closed, released;
	int opened_calls, closed_calls, sync_calls;
	int status, reason;
	char cause[512];
	uint8_t data[64 * 1024];
	size_t rx, want_rx;
	bool got_want;
	enum on_cb on_open_fail, on_data, on_closed;
	bool pause_on_data;
	const uint8_t *send_on_open;
	size_t send_len;
};

static void rec_release(struct rec *r, enum on_cb how)
{
	if (r->released || how == KEEP)
		return;
	r->released = true;
	if (how == CLOSE_IN_CB)
		net_conn_close(r->c);
	else
		net_conn_abort(r->c);
}

static void cb_opened(void *arg, int status, const char *cause)
{
	struct rec *r = arg;

	r->sync_calls += r->in_open;
	r->opened = true;
	r->opened_calls++;
	r->status = status;
	snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "");
	if (status)
		rec_release(r, r->on_open_fail);
	else if (r->send_on_open)
		CHECK(net_conn_write(r->c, r->send_on_open, r->send_len) == 0);
}

static void cb_data(void *arg, const uint8_t *p, size_t n)
{
	struct rec *r = arg;

	CHECK(!r->released);
	if (r->rx + n <= sizeof(r->data))
		memcpy(r->data + r->rx, p, n);
	r->rx += n;
	if (r->pause_on_data)
		net_conn_pause(r->c, true);
	if (r->want_rx && r->rx >= r->want_rx) {
		r->got_want = true;
		rec_release(r, r->on_data);
	}
}

static void cb_closed(void *arg, int reason, const char *cause)
{
	struct rec *r = arg;

	CHECK(!r->released);
	r->closed = true;
	r->closed_calls++;
	r->reason = reason;
	snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "");
	rec_release(r, r->on_closed);
}

static const struct net_conn_ops ops = {cb_opened, cb_data, cb_closed};

static int open_rec(struct rec *r, const char *host, int port, const struct tls_config *tls,
                    uint64_t timeout_ms)
{
	int rc;

	r->in_open = true;
	rc = net_conn_open(&nh, host, port, tls, timeout_ms, &ops, r, &r->c);
	r->in_open = false;
	return rc;
}

/* ---- a loopback server ---- */

enum srv_mode { SRV_ECHO, SRV_CLOSE, SRV_SILENT, SRV_FLOOD };

struct server {
	uv_tcp_t tcp;
	int port;
	enum srv_mode mode;
	uv_tcp_t client;
	bool accepted, client_open, client_eof;
	int client_err;
	size_t got;
	uint8_t *flood;
	size_t flood_len;
	uv_write_t wreq;
	bool flood_done;
};

static uint8_t srv_buf[64 * 1024];

static void srv_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)h;
	(void)s;
	*b = uv_buf_init((char *)srv_buf, sizeof(srv_buf));
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

static void srv_echo_done(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct server *s = st->data;

	if (n < 0) {
		if (n == UV_EOF)
			s->client_eof = true;
		else
			s->client_err = (int)n;
		srv_close_client(s);
		return;
	}
	s->got += (size_t)n;
	if (s->mode == SRV_ECHO && n > 0) {
		uv_write_t *w = malloc(sizeof(*w));
		uv_buf_t copy = uv_buf_init(malloc((size_t)n), (unsigned)n);

		memcpy(copy.base, b->base, (size_t)n);
		w->data = copy.base;
		uv_write(w, st, &copy, 1, srv_echo_done);
	}
}

static void srv_flood_done(uv_write_t *w, int status)
{
	struct server *s = w->handle->data;

	(void)status;
	s->flood_done = true;
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
	switch (s->mode) {
	case SRV_CLOSE:
		srv_close_client(s);
		return;
	case SRV_FLOOD: {
		uv_buf_t b = uv_buf_init((char *)s->flood, (unsigned)s->flood_len);

		uv_write(&s->wreq, (uv_stream_t *)&s->client, &b, 1, srv_flood_done);
		break;
	}
	case SRV_ECHO:
	case SRV_SILENT:
		break;
	}
	uv_read_start((uv_stream_t *)&s->client, srv_alloc, srv_read);
}

static void srv_start(struct server *s, enum srv_mode mode)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int len = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
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
	free(s->flood);
}

/* A port nobody listens on: bind one, read it back, let it go. */
static int dead_port(void)
{
	struct server s;
	int port;

	srv_start(&s, SRV_SILENT);
	port = s.port;
	srv_stop(&s);
	return port;
}

/* ---- plain TCP cases ---- */

static void test_echo_and_close_from_data(void)
{
	struct server s;
	struct rec r = {0};
	struct net_conn_stats st;
	static const uint8_t hello[] = "hello";
	char peer[32];

	srv_start(&s, SRV_ECHO);
	r.send_on_open = hello;
	r.send_len = 5;
	r.want_rx = 5;
	r.on_data = KEEP;
	CHECK(open_rec(&r, "127.0.0.1", s.port, NULL, 2000) == 0);
	CHECK(!r.opened); /* never from inside net_conn_open */
	CHECK(run_until(&r.got_want, 2000));
	CHECK(r.status == 0 && r.opened_calls == 1 && r.sync_calls == 0);
	CHECK_MEM(r.data, r.rx, hello, 5);
	net_conn_get_stats(r.c, &st);
	CHECK(st.tx == 5 && st.rx == 5 && st.wire_tx == 5 && st.wire_rx == 5);
	snprintf(peer, sizeof(peer), "127.0.0.1:%d", s.port);
	CHECK(strcmp(net_conn_peer(r.c), peer) == 0);
	CHECK(net_conn_write(r.c, (const uint8_t *)"!", 1) == 0);
	/* a graceful close: the queued byte arrives, then the FIN */
	net_conn_close(r.c);
	r.released = true;
	CHECK(run_until(&s.client_eof, 2000));
	CHECK(s.got == 6);
	CHECK(r.closed_calls == 0);
	srv_stop(&s);
}

static void test_close_inside_data_callback(void)
{
	struct server s;
	struct rec r = {0};
	static const uint8_t ping[] = "ping";

	srv_start(&s, SRV_ECHO);
	r.send_on_open = ping;
	r.send_len = 4;
	r.want_rx = 1; /* close as soon as anything comes back */
	r.on_data = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", s.port, NULL, 2000) == 0);
	CHECK(run_until(&s.client_eof, 2000));
	CHECK(r.released && r.closed_calls == 0);
	srv_stop(&s);
}

static void test_resolve_override_and_route(void)
{
	struct server s;
	struct rec r = {0};
	char route[64];
	static const uint8_t x[] = "x";

	srv_start(&s, SRV_ECHO);
	snprintf(route, sizeof(route), "8883=127.0.0.1:%d", s.port);
	CHECK(net_map_add_resolve(&map, "*.iot.us-east-1.amazonaws.com=192.0.2.1") == 0);
	CHECK(net_map_add_route(&map, route) == 0);
	r.send_on_open = x;
	r.send_len = 1;
	r.want_rx = 1;
	r.on_data = CLOSE_IN_CB;
	CHECK(open_rec(&r, "a1b2c3-ats.iot.us-east-1.amazonaws.com", 8883, NULL, 2000) == 0);
	CHECK(run_until(&s.client_eof, 2000));
	CHECK(r.status == 0 && r.rx == 1);
	srv_stop(&s);
	net_map_free(&map);
	net_map_init(&map);
}

static void test_system_lookup(void)
{
	struct server s;
	struct rec r = {0};

	/* localhost comes from /etc/hosts: uv_getaddrinfo, no network needed */
	srv_start(&s, SRV_SILENT);
	r.on_data = KEEP;
	CHECK(open_rec(&r, "localhost", s.port, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 3000));
	CHECK(r.status == 0);
	CHECK(run_until(&s.accepted, 1000));
	net_conn_close(r.c);
	CHECK(run_until(&s.client_eof, 3000));
	srv_stop(&s);
}

static void test_open_failures(void)
{
	struct rec r;
	struct server s;
	int port = dead_port();

	/* refused */
	memset(&r, 0, sizeof(r));
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", port, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_REFUSED && r.sync_calls == 0 && r.released);
	CHECK(strcmp(net_status_str(r.status), "connection refused") == 0);

	/* a name the map makes unresolvable: reported from the loop, not from open */
	CHECK(net_map_add_resolve(&map, "dead.example=fail") == 0);
	memset(&r, 0, sizeof(r));
	r.on_open_fail = ABORT_IN_CB;
	CHECK(open_rec(&r, "dead.example", 1883, NULL, 2000) == 0);
	CHECK(!r.opened);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_DNS && r.sync_calls == 0);
	CHECK(strstr(r.cause, "override dead.example=fail") != NULL);

	/* not a host name at all */
	memset(&r, 0, sizeof(r));
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, "mqtt://x", 1883, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_DNS);

	/* a route to the broker's listener with no broker */
	CHECK(net_map_add_route(&map, "8883=@tls") == 0);
	memset(&r, 0, sizeof(r));
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", 8883, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_REFUSED && strstr(r.cause, "@tls") != NULL);
	net_map_free(&map);
	net_map_init(&map);

	/* released later, outside any callback */
	memset(&r, 0, sizeof(r));
	CHECK(open_rec(&r, "127.0.0.1", port, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000));
	run_for(10);
	net_conn_close(r.c);

	/* released before anything happened: no callback at all */
	memset(&r, 0, sizeof(r));
	CHECK(open_rec(&r, "127.0.0.1", port, NULL, 2000) == 0);
	net_conn_close(r.c);
	run_for(50);
	CHECK(r.opened_calls == 0);

	/* bad arguments: no conn, no callback */
	CHECK(net_conn_open(&nh, "127.0.0.1", 0, NULL, 0, &ops, &r, &r.c) == -ERR_INVAL);
	CHECK(net_conn_open(&nh, "127.0.0.1", 65536, NULL, 0, &ops, &r, &r.c) == -ERR_INVAL);
	CHECK(r.c == NULL);

	/* the peer closes at once: open, then closed() */
	srv_start(&s, SRV_CLOSE);
	memset(&r, 0, sizeof(r));
	r.on_closed = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", s.port, NULL, 2000) == 0);
	CHECK(run_until(&r.closed, 2000));
	CHECK(r.status == 0 && r.reason == -NET_ERR_PEER_CLOSED && r.closed_calls == 1);
	CHECK(r.released);
	srv_stop(&s);
}

static void test_abort_sends_rst(void)
{
	struct server s;
	struct rec r = {0};
	bool err;

	srv_start(&s, SRV_SILENT);
	CHECK(open_rec(&r, "127.0.0.1", s.port, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000) && r.status == 0);
	CHECK(run_until(&s.accepted, 1000));
	net_conn_abort(r.c);
	for (int i = 0; i < 100 && !s.client_err && !s.client_eof; i++)
		run_for(10);
	err = s.client_err == UV_ECONNRESET;
	CHECK(err);
	CHECK(!s.client_eof);
	srv_stop(&s);
}

static void test_pause_is_flow_control(void)
{
	struct server s;
	struct rec r = {0};
	size_t before;
	const size_t total = 16u << 20; /* more than loopback's socket buffers hold */

	srv_start(&s, SRV_FLOOD);
	s.flood_len = total;
	s.flood = calloc(1, total);
	r.pause_on_data = true;
	CHECK(open_rec(&r, "127.0.0.1", s.port, NULL, 2000) == 0);
	CHECK(run_until(&r.opened, 2000));
	while (r.rx == 0 && !timed_out)
		run_until(&s.flood_done, 50);
	before = r.rx;
	run_for(200);
	CHECK(r.rx == before); /* nothing delivered while paused */
	CHECK(!s.flood_done); /* and the sender is held up: TCP's window closed */
	CHECK(s.client.write_queue_size > 0);
	r.pause_on_data = false;
	net_conn_pause(r.c, false);
	for (int i = 0; i < 500 && r.rx < total; i++)
		run_for(10);
	CHECK(r.rx == total);
	CHECK(s.flood_done);
	net_conn_close(r.c);
	run_until(&s.client_eof, 2000);
	srv_stop(&s);
}

/* ---- TLS ---- */

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX + 64];
	FILE *f;
	uint8_t *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	p[*len] = 0;
	fclose(f);
	return p;
}

static void test_tls_setup_failure_and_timeout(void)
{
	struct server s;
	struct rec r = {0};
	static const uint8_t junk[] = "-----BEGIN CERTIFICATE-----\nnot base64\n";
	struct tls_config cfg = {
	        .version_min = TLS_V1_2,
	        .version_max = TLS_V1_2,
	        .verify = TLS_VERIFY_SERVER,
	        .ca = junk,
	        .ca_len = sizeof(junk),
	        .ca_name = "UFS:junk.pem",
	        .now = time(NULL),
	};

	srv_start(&s, SRV_SILENT);
	/* a CA the adapter refuses: fails from the loop, before any connection */
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", s.port, &cfg, 2000) == 0);
	CHECK(!r.opened);
	CHECK(run_until(&r.opened, 2000));
	CHECK(r.status == -NET_ERR_TLS && r.cause[0] && r.sync_calls == 0);
	run_for(20);
	CHECK(!s.accepted);

	/* a server that never answers the ClientHello: the deadline */
	memset(&r, 0, sizeof(r));
	cfg.verify = TLS_VERIFY_NONE;
	cfg.ca = NULL;
	cfg.ca_len = 0;
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, "127.0.0.1", s.port, &cfg, 300) == 0);
	CHECK(run_until(&r.opened, 3000));
	CHECK(r.status == -NET_ERR_TIMEOUT && strstr(r.cause, "TLS handshake") != NULL);
	CHECK(s.got > 0); /* the ClientHello went out */
	CHECK(run_until(&s.client_eof, 2000));
	srv_stop(&s);
}

/* ---- hosts: nothing above net/ ---- */

static void count_live(struct net_conn *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

/* Two more hosts on the loop, neither of them a modem, with no owner and no ops, one with no
 * map: each sees only its own connections and has its own policy, and its `down` (with no
 * owner to say the network is back) holds until it is lifted. */
static void test_hosts_without_a_modem(void)
{
	struct net_host a, b;
	struct server s;
	struct rec ra = {0}, rb = {0};
	int n = 0;

	net_host_init(&a, &loop, &map, 7, NULL, NULL);
	net_host_init(&b, &loop, NULL, 8, NULL, NULL);
	CHECK(net_link_policy(&a) == &a.policy && a.conns == NULL);
	srv_start(&s, SRV_ECHO);
	a.policy.refuse_port = net_trap_refuse_port();
	CHECK(a.policy.refuse_port > 0);
	CHECK(net_conn_open(&a, "127.0.0.1", s.port, NULL, 2000, &ops, &ra, &ra.c) == 0);
	CHECK(net_conn_open(&b, "127.0.0.1", s.port, NULL, 2000, &ops, &rb, &rb.c) == 0);
	CHECK(net_conn_host(ra.c) == &a && net_conn_host(rb.c) == &b);
	CHECK(net_conn_each(&nh, count_live, &n) == 0 && n == 0);
	CHECK(run_until(&ra.opened, 2000) && run_until(&rb.opened, 2000));
	CHECK(ra.status == -NET_ERR_REFUSED); /* a's policy */
	CHECK(rb.status == 0 && run_until(&s.accepted, 1000)); /* not b's */
	CHECK(net_conn_each(&a, count_live, &n) == 0 && n == 0); /* failed: not live */
	CHECK(net_conn_each(&b, count_live, &n) == 1 && n == 1);
	net_conn_close(ra.c);
	ra.released = true;

	/* no network on b: nothing moves either way until the policy is lifted */
	b.policy.down = true;
	net_link_update(&b);
	rb.want_rx = 2;
	CHECK(net_conn_write(rb.c, (const uint8_t *)"hi", 2) == 0);
	run_for(100);
	CHECK(s.got == 0 && rb.rx == 0);
	b.policy.down = false;
	net_link_update(&b);
	CHECK(run_until(&rb.got_want, 2000));
	CHECK(s.got == 2);
	CHECK_MEM(rb.data, rb.rx, "hi", 2);

	net_conn_close(rb.c);
	rb.released = true;
	CHECK(run_until(&s.client_eof, 2000));
	srv_stop(&s);
	run_for(50);
	CHECK(a.conns == NULL && b.conns == NULL); /* every connection freed */
	net_host_free(&a);
	net_host_free(&b);
	CHECK(b.ops == NULL && !b.policy.down);
}

static bool broker_done;
static int broker_status;

static void on_broker(void *arg, int status)
{
	(void)arg;
	broker_status = status;
	broker_done = true;
}

/* MQTT 3.1.1 CONNECT (client id "c") and the CONNACK accepting it (3.1, 3.2). */
static const uint8_t mqtt_connect_packet[] = {0x10, 0x0d, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                              0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'c'};
static const uint8_t mqtt_connack[] = {0x20, 0x02, 0x00, 0x00};

/* want_status 0: CONNACK; else the open fails with want_status or alt. */
static void mqtt_roundtrip(const char *host, int port, const struct tls_config *cfg,
                           int want_status, int alt)
{
	struct rec r = {0};

	r.send_on_open = mqtt_connect_packet;
	r.send_len = sizeof(mqtt_connect_packet);
	r.want_rx = sizeof(mqtt_connack);
	r.on_data = CLOSE_IN_CB;
	r.on_open_fail = CLOSE_IN_CB;
	CHECK(open_rec(&r, host, port, cfg, 5000) == 0);
	if (want_status == 0) {
		CHECK(run_until(&r.got_want, 5000));
		CHECK(r.status == 0);
		CHECK_MEM(r.data, r.rx, mqtt_connack, sizeof(mqtt_connack));
	} else {
		CHECK(run_until(&r.opened, 5000));
		if (r.status != want_status && r.status != alt)
			fprintf(stderr, "%s:%d: status %d (%s), want %d\n", host, port, r.status,
			        r.cause, want_status);
		CHECK(r.status == want_status || r.status == alt);
		CHECK(r.cause[0] != '\0');
		if (r.status == 0 && !r.released) /* keep going for the summary */
			net_conn_close(r.c);
	}
	run_for(20);
}

static void test_tls_with_broker(void)
{
	struct net_broker *b = NULL;
	struct net_broker_config bc = {.loop = &loop, .map = &map, .strict = true};
	const struct net_broker_info *bi;
	char state[] = "/tmp/test_conn-XXXXXX", cmd[PATH_MAX];
	const char *host = "a1b2c3-ats.iot.us-east-1.amazonaws.com";
	size_t ca_len = 0, other_len = 0, cert_len = 0, key_len = 0;
	uint8_t *ca, *other, *cert, *key;
	struct tls_config cfg = {
	        .version_min = TLS_V1_2,
	        .version_max = TLS_V1_2,
	        .verify = TLS_VERIFY_SERVER,
	        .ca_name = "UFS:ca.pem",
	        .sni = host,
	        .verify_host = host,
	        .now = time(NULL),
	};

	if (!mkdtemp(state)) {
		CHECK(0);
		return;
	}
	bc.state_dir = state;
	bc.certs_dir = MODEMSIM_TEST_CERTS;
	bc.gen_script = MODEMSIM_TEST_GEN;
	CHECK(net_map_add_route(&map, "8884=@mutual") == 0);
	if (net_broker_start(&bc, on_broker, NULL, &b) != 0) {
		printf("skipped: no embedded broker (mosquitto or PKI missing)\n");
		goto out;
	}
	CHECK(run_until(&broker_done, 15000));
	CHECK(broker_status == 0);
	if (broker_status != 0)
		goto stop;
	bi = net_broker_info(b);
	ca = slurp(bi->certs, "ca.pem", &ca_len);
	other = slurp(bi->certs, "other-ca.pem", &other_len);
	cert = slurp(bi->certs, "client-rsa.pem", &cert_len);
	key = slurp(bi->certs, "client-rsa.key", &key_len);
	CHECK(ca && other && cert && key);
	if (!ca || !other || !cert || !key)
		goto free_files;
	cfg.ca = ca;
	cfg.ca_len = ca_len;

	/* The broker's defaults: every name is 127.0.0.1, 1883 plain, 8883 TLS. */
	mqtt_roundtrip(host, 1883, NULL, 0, 0);
	CHECK(handshakes == 0);
	mqtt_roundtrip(host, 8883, &cfg, 0, 0);
	CHECK(handshakes == 1); /* the host's owner hears of each completed handshake */
	/* a CA that did not sign the broker's certificate */
	cfg.ca = other;
	cfg.ca_len = other_len;
	mqtt_roundtrip(host, 8883, &cfg, -NET_ERR_TLS, -NET_ERR_TLS);
	CHECK(handshakes == 1);
	cfg.ca = ca;
	cfg.ca_len = ca_len;
	/* mutual authentication: refused without a client certificate, accepted with one */
	cfg.verify = TLS_VERIFY_MUTUAL;
	mqtt_roundtrip(host, 8884, &cfg, -NET_ERR_TLS, -NET_ERR_TLS);
	cfg.cert = cert;
	cfg.cert_len = cert_len;
	cfg.cert_name = "UFS:client.pem";
	cfg.key = key;
	cfg.key_len = key_len;
	cfg.key_name = "UFS:client.key";
	mqtt_roundtrip(host, 8884, &cfg, 0, 0);
	/* TLS to the plain listener: mosquitto takes the ClientHello for a bad MQTT packet and
	 * drops the connection, with a FIN or (unread bytes left) an RST */
	mqtt_roundtrip(host, 1883, &cfg, -NET_ERR_TLS, -NET_ERR_RESET);
free_files:
	free(ca);
	free(other);
	free(cert);
	free(key);
stop:
	net_broker_stop(b);
	run_for(500);
out:
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	CHECK(system(cmd) == 0);
	net_map_free(&map);
	net_map_init(&map);
}

int main(void)
{
	uv_loop_init(&loop);
	net_map_init(&map);
	net_host_init(&nh, &loop, &map, 0, &nh_ops, &handshakes);
	log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_WARN);

	test_echo_and_close_from_data();
	test_close_inside_data_callback();
	test_resolve_override_and_route();
	test_system_lookup();
	test_open_failures();
	test_abort_sends_rst();
	test_pause_is_flow_control();
	test_tls_setup_failure_and_timeout();
	test_tls_with_broker();
	test_hosts_without_a_modem();

	net_host_free(&nh);
	net_trap_close();
	run_for(100);
	CHECK(uv_loop_close(&loop) == 0); /* every handle closed: nothing leaked */
	net_map_free(&map);
	return check_exit();
}
