/* The embedded broker's shell: find the PKI, spawn mosquitto, probe its ports, stop it.
 *
 *   GENCERTS --(gen.sh done)--> STARTING --(every port accepts)--> UP --(died)--> DEAD
 *                                  |  \--(exited early: new ports, up to 3 tries)--/
 *                                  \--(no luck, deadline)--> FAILED
 *   any --(net_broker_stop)--> STOPPING --(process gone, handles closed)--> freed */
#include "net/broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "net/resolve.h"

#define PROBE_INTERVAL_MS 5
#define START_TRIES 3
#define N_MAIN_LISTENERS 3 /* plain, tls, mutual */
#define N_LISTENERS (N_MAIN_LISTENERS + NET_CERT_KINDS)

/* The fault listeners' certificates, in enum net_broker_cert order. */
static const char *const cert_files[NET_CERT_KINDS] = {
        [NET_CERT_EXPIRED] = "server-expired.pem",
        [NET_CERT_WRONGHOST] = "server-wronghost.pem",
        [NET_CERT_UNTRUSTED] = "server-otherca.pem",
        [NET_CERT_NOTYET] = "server-notyet.pem",
};

enum broker_state {
	BROKER_GENCERTS,
	BROKER_STARTING,
	BROKER_UP,
	BROKER_FAILED, /* did not come up; ready() said so */
	BROKER_DEAD, /* came up, then died */
	BROKER_RESTARTING, /* stopped on purpose, to start again on the same ports */
	BROKER_STOPPING,
};

static const char *const state_names[] = {
        [BROKER_GENCERTS] = "gencerts",
        [BROKER_STARTING] = "starting",
        [BROKER_UP] = "up",
        [BROKER_FAILED] = "failed",
        [BROKER_DEAD] = "dead",
        [BROKER_RESTARTING] = "restarting",
        [BROKER_STOPPING] = "stopping",
};

struct probe {
	struct net_broker *b;
	uv_tcp_t tcp;
	uv_connect_t req;
	int port;
	int probing; /* the port of the connect in flight */
	bool active; /* tcp handle open */
	bool up;
};

struct net_broker {
	uv_loop_t *loop;
	struct net_map *map; /* where apply_defaults() writes */
	net_broker_ready_cb ready;
	void *ready_arg;
	bool strict;
	enum broker_state state;
	bool released; /* net_broker_stop called: free when everything is closed */
	int refs; /* open handles */
	struct net_broker_info info;
	char dir[PATH_MAX]; /* <state>/broker: configuration and log */
	char conf[PATH_MAX];
	char mosquitto[PATH_MAX];
	char setpriv[PATH_MAX];
	char gen[PATH_MAX]; /* certs/gen.sh to run first, or "" */
	bool gen_ran; /* and it ran to its end (exit_status, term_signal) */
	uv_timer_t timer; /* probe ticks while starting, the SIGKILL deadline while stopping */
	uint64_t deadline;
	uv_process_t proc;
	bool proc_open; /* handle not closed yet */
	bool running; /* exit not seen yet */
	int pid;
	int64_t exit_status;
	int term_signal;
	int tries;
	int err; /* why the start failed */
	net_broker_ready_cb restarted; /* a restart is under way: tell this, not ready() */
	void *restarted_arg;
	struct probe probes[N_LISTENERS];
	int nports;
};

static void set_state(struct net_broker *b, enum broker_state s)
{
	log_msg(LOG_DEBUG, "broker: %s -> %s", state_names[b->state], state_names[s]);
	b->state = s;
}

static void maybe_finish(struct net_broker *b);

/* A handle of b closed. The timer closes last (maybe_finish), so refs reaches 0 only when b
 * has been released and everything else is gone. */
static void unref(struct net_broker *b)
{
	if (--b->refs == 0) {
		free(b);
		return;
	}
	maybe_finish(b);
}

static void on_handle_closed(uv_handle_t *h)
{
	unref(h->data);
}

/* Once released and nothing is left running: close the timer, the last handle. */
static void maybe_finish(struct net_broker *b)
{
	if (!b->released || b->running || b->proc_open)
		return;
	for (int i = 0; i < N_LISTENERS; i++)
		if (b->probes[i].active)
			return; /* their close callbacks come back here */
	if (!uv_is_closing((uv_handle_t *)&b->timer)) {
		uv_timer_stop(&b->timer);
		uv_close((uv_handle_t *)&b->timer, on_handle_closed);
	}
}

static bool find_in_path(const char *name, const char *const *extra, char *out)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	copy = strdup(path ? path : "/usr/bin:/bin");
	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(out, PATH_MAX, "%s/%s", *d ? d : ".", name);
		found = access(out, X_OK) == 0;
	}
	free(copy);
	/* Debian installs mosquitto in /usr/sbin, which a user's PATH often lacks. */
	for (; extra && *extra && !found; extra++) {
		snprintf(out, PATH_MAX, "%s/%s", *extra, name);
		found = access(out, X_OK) == 0;
	}
	return found;
}

static bool pki_complete(const char *dir)
{
	static const char *const files[] = {"ca.pem", "server.pem", "server.key"};
	char p[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		if (access(p, R_OK) != 0)
			return false;
	}
	return true;
}

/* gen.sh must run when the PKI is missing or older than the script. The script itself would
 * find out (it keeps a hash of its inputs in .complete), but starting bash, sha256sum and flock
 * costs 10-100 ms at every start on a loaded machine; two stat calls do not. */
static bool pki_stale(const char *certs, const char *gen)
{
	char done[PATH_MAX + 16];
	struct stat sd, sg;

	snprintf(done, sizeof(done), "%s/.complete", certs);
	if (!pki_complete(certs) || stat(done, &sd) != 0 || stat(gen, &sg) != 0)
		return true;
	return sg.st_mtim.tv_sec > sd.st_mtim.tv_sec ||
	       (sg.st_mtim.tv_sec == sd.st_mtim.tv_sec && sg.st_mtim.tv_nsec > sd.st_mtim.tv_nsec);
}

/* Where the PKI lives when --certs is not given. There is no compiled-in path: the binary's own
 * location decides. The build tree's <build>/certs sits next to <build>/sim/modemsim, and
 * gen.sh is found by walking up from the binary to the source tree that contains the build
 * directory. (A caller that knows better, as the unit tests built with the tree's paths do,
 * names both in struct net_broker_config.) */
static void default_pki(char *certs, char *gen)
{
	char exe[PATH_MAX], dir[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	certs[0] = gen[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(exe)); /* .../build/sim */
	snprintf(probe, sizeof(probe), "%s", dir);
	snprintf(certs, PATH_MAX, "%s/certs", dirname(probe)); /* .../build/certs */
	/* Installed (cmake --install): <prefix>/bin/modemsim and <prefix>/share/modemsim/certs/
	 * gen.sh; the PKI goes to the user's cache, as a prefix like /usr is not writable. */
	snprintf(probe, sizeof(probe), "%s/../share/modemsim/certs/gen.sh", dir);
	if (access(probe, R_OK) == 0) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

		snprintf(gen, PATH_MAX, "%.*s", PATH_MAX - 1, probe);
		if (xdg && xdg[0] == '/')
			snprintf(certs, PATH_MAX, "%.*s/modemsim/certs", PATH_MAX - 32, xdg);
		else if (home && home[0] == '/')
			snprintf(certs, PATH_MAX, "%.*s/.cache/modemsim/certs", PATH_MAX - 32,
			         home);
		else
			snprintf(certs, PATH_MAX, "/tmp/modemsim-%u/certs", (unsigned)getuid());
		return;
	}
	for (;;) {
		snprintf(probe, sizeof(probe), "%s/certs/gen.sh", dir);
		if (access(probe, R_OK) == 0) {
			snprintf(gen, PATH_MAX, "%.*s", PATH_MAX - 1, probe);
			return;
		}
		if (strcmp(dir, "/") == 0 || !dir[0])
			return;
		snprintf(probe, sizeof(probe), "%s", dir);
		snprintf(dir, sizeof(dir), "%s", dirname(probe));
	}
}

/* Three distinct free loopback ports: bind to port 0 and read back what the kernel chose, all
 * at once so they differ. mosquitto binds them a moment later; if another process takes one
 * meanwhile, mosquitto exits and the start is retried with new ports. */
static int pick_ports(int *ports, int n)
{
	int fds[N_LISTENERS], rc = 0;

	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (int i = 0; i < n && rc == 0; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);

		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0) {
			log_msg(LOG_ERROR, "broker: cannot pick a free port: %s", strerror(errno));
			rc = -ERR_SYS;
		}
		ports[i] = ntohs(sa.sin_port);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

/* Queued QoS 1 and 2 messages per client beyond those in flight (mosquitto's default: 1000). */
#define NET_BROKER_QUEUE 100000

static int write_config(struct net_broker *b)
{
	const struct net_broker_info *in = &b->info;
	FILE *f = fopen(b->conf, "w");

	if (!f) {
		log_msg(LOG_ERROR, "broker: %s: %s", b->conf, strerror(errno));
		return -ERR_IO;
	}
	fprintf(f,
	        "# Written by modemsim for this run (sim/net/broker.c); rewritten at each start.\n"
	        "per_listener_settings false\n"
	        "allow_anonymous true\n"
	        "persistence false\n"
	        "log_dest stderr\n"
	        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
	        "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n");
	/* Fleets (issue 13): a subscriber of the harness takes one QoS 1 message per modem in a
	 * burst, and mosquitto's default queue (1000 beyond the 20 in flight, per client) drops
	 * the rest silently, after the broker acknowledged them to the modems. The queue is
	 * bounded still, at NET_BROKER_QUEUE messages per client (a few hundred bytes each), so
	 * a persistent session nobody resumes cannot take the machine's memory. In flight stays
	 * mosquitto's 20: what a modem subscribed at QoS 1 sees arrive unacknowledged is the
	 * broker's behaviour, not a fleet setting.
	 * The listen backlog is not configurable: mosquitto 2.0 passes 100 to listen() (ss -ltn
	 * shows Send-Q 100 with somaxconn at 4096), so more than 100 connections arriving while
	 * it is busy with TLS handshakes overflow the accept queue and the kernel drops their
	 * SYNs; the client retries after its 1 s initial RTO. See sim/README.md, "Fleets". */
	fprintf(f, "max_queued_messages %d\nmax_queued_bytes 0\nmax_inflight_messages 20\n",
	        NET_BROKER_QUEUE);
	/* Started as root, mosquitto drops to the "mosquitto" user, which may not reach a PKI
	 * under /root; it stays root instead (mosquitto.conf(5), "user"). */
	if (geteuid() == 0)
		fprintf(f, "user root\n");
	fprintf(f, "\nlistener %d %s\n", in->plain_port, in->host);
	if (in->tls_port) {
		/* TLS versions and suites: mosquitto's defaults (TLS 1.2 and up), as cloud
		 * brokers have them. */
		fprintf(f,
		        "\nlistener %d %s\ncafile %s\ncertfile %s/server.pem\n"
		        "keyfile %s/server.key\nrequire_certificate false\n",
		        in->tls_port, in->host, in->ca, in->certs, in->certs);
		fprintf(f,
		        "\nlistener %d %s\ncafile %s\ncertfile %s/server.pem\n"
		        "keyfile %s/server.key\nrequire_certificate true\n",
		        in->mutual_port, in->host, in->ca, in->certs, in->certs);
		for (int k = 0; k < NET_CERT_KINDS; k++)
			if (in->cert_port[k])
				fprintf(f,
				        "\n# fault tls.cert\nlistener %d %s\ncafile %s\n"
				        "certfile %s/%s\nkeyfile %s/server.key\n"
				        "require_certificate false\n",
				        in->cert_port[k], in->host, in->ca, in->certs,
				        cert_files[k], in->certs);
	}
	if (fclose(f) != 0) {
		log_msg(LOG_ERROR, "broker: %s: %s", b->conf, strerror(errno));
		return -ERR_IO;
	}
	return 0;
}

/* The end of mosquitto's log, for a death or a failed start. */
static void log_tail(const struct net_broker *b, enum log_level level)
{
	char tail[2048];
	FILE *f = fopen(b->info.log, "r");
	long size;
	size_t n;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0, SEEK_SET);
	n = fread(tail, 1, sizeof(tail) - 1, f);
	fclose(f);
	tail[n] = '\0';
	for (char *save = NULL, *line = strtok_r(tail, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		log_msg(level, "broker: mosquitto: %s", line);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig);
static void on_proc_closed(uv_handle_t *h);
static void on_tick(uv_timer_t *t);

static int spawn(struct net_broker *b, char **args, int out_fd)
{
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	int rc;

	memset(&o, 0, sizeof(o));
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_INHERIT_FD;
	io[1].data.fd = out_fd;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = out_fd;
	o.file = args[0];
	o.args = args;
	o.exit_cb = on_proc_exit;
	o.stdio = io;
	o.stdio_count = 3;
	rc = uv_spawn(b->loop, &b->proc, &o);
	b->proc.data = b;
	b->proc_open = true;
	b->refs++;
	if (rc) {
		/* a handle whose spawn failed must still be closed */
		uv_close((uv_handle_t *)&b->proc, on_proc_closed);
		return rc;
	}
	b->running = true;
	b->pid = b->proc.pid;
	return 0;
}

static void on_failed(uv_timer_t *t)
{
	struct net_broker *b = t->data;
	net_broker_ready_cb restarted = b->restarted;

	b->restarted = NULL;
	if (b->released)
		return;
	if (restarted) {
		log_msg(LOG_ERROR, "broker: mosquitto did not come back after the restart");
		restarted(b->restarted_arg, b->err);
		return;
	}
	b->ready(b->ready_arg, b->err);
}

/* ready(err) once, from the loop: never from inside net_broker_start, whose caller has not
 * finished setting up yet. The process, if any, is killed. */
static void start_failed(struct net_broker *b, int err)
{
	set_state(b, BROKER_FAILED);
	b->err = err;
	if (b->running)
		uv_process_kill(&b->proc, SIGKILL);
	uv_timer_start(&b->timer, on_failed, 0, 0);
}

/* Are the fault listeners' certificates in the PKI? */
static bool pki_has_fault_certs(const char *dir)
{
	char p[PATH_MAX + 32];

	for (int k = 0; k < NET_CERT_KINDS; k++) {
		snprintf(p, sizeof(p), "%s/%s", dir, cert_files[k]);
		if (access(p, R_OK) != 0)
			return false;
	}
	return true;
}

/* Spawn mosquitto; same_ports: on the ports it had (a restart), else on new free ones. */
static void start_mosquitto(struct net_broker *b, bool same_ports)
{
	char *args[8];
	int n = 0, fd, rc, ports[N_LISTENERS] = {0};
	int nports = 1; /* no PKI: the plain listener only */

	if (b->info.ca[0])
		nports = pki_has_fault_certs(b->info.certs) ? N_LISTENERS : N_MAIN_LISTENERS;
	b->tries++;
	if (same_ports) {
		nports = b->nports;
		for (int i = 0; i < nports; i++)
			ports[i] = b->probes[i].port;
	} else if (pick_ports(ports, nports) != 0) {
		start_failed(b, -ERR_SYS);
		return;
	}
	b->info.plain_port = ports[0];
	b->info.tls_port = nports > 1 ? ports[1] : 0;
	b->info.mutual_port = nports > 2 ? ports[2] : 0;
	for (int k = 0; k < NET_CERT_KINDS; k++)
		b->info.cert_port[k] =
		        nports > N_MAIN_LISTENERS + k ? ports[N_MAIN_LISTENERS + k] : 0;
	b->nports = nports;
	for (int i = 0; i < N_LISTENERS; i++) {
		b->probes[i].b = b;
		b->probes[i].port = i < nports ? ports[i] : 0;
		b->probes[i].up = false;
	}
	if (write_config(b) != 0) {
		start_failed(b, -ERR_IO);
		return;
	}
	fd = open(b->info.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_msg(LOG_ERROR, "broker: %s: %s", b->info.log, strerror(errno));
		start_failed(b, -ERR_IO);
		return;
	}
	if (b->setpriv[0]) {
		/* PR_SET_PDEATHSIG survives the exec (prctl(2)): mosquitto gets SIGTERM when
		 * modemsim dies without stopping it (SIGKILL, a crash), so no broker outlives us.
		 */
		args[n++] = b->setpriv;
		args[n++] = "--pdeathsig";
		args[n++] = "TERM";
		args[n++] = "--";
	}
	args[n++] = b->mosquitto;
	args[n++] = "-c";
	args[n++] = b->conf;
	args[n] = NULL;
	set_state(b, BROKER_STARTING);
	rc = spawn(b, args, fd);
	close(fd);
	if (rc) {
		log_msg(LOG_ERROR, "broker: cannot run %s: %s", b->mosquitto, uv_strerror(rc));
		start_failed(b, -ERR_SYS);
		return;
	}
	log_msg(LOG_INFO, "broker: mosquitto pid %d on %s ports %d %d %d (+%d for faults, try %d)",
	        b->pid, b->info.host, b->info.plain_port, b->info.tls_port, b->info.mutual_port,
	        b->nports - (b->nports > 1 ? N_MAIN_LISTENERS : 1), b->tries);
	b->deadline = uv_now(b->loop) + NET_BROKER_START_MS;
	uv_timer_start(&b->timer, on_tick, 0, PROBE_INTERVAL_MS);
}

/* The embedded broker's defaults, below what the command line said. */
static int apply_defaults(struct net_broker *b)
{
	struct net_map *map = b->map;
	int bad = 0;

	if (!net_map_match(map, "*")) { /* the "*" entry itself, if --resolve gave one */
		struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};

		if (net_map_set(map, "*", NET_ENTRY_ADDR, lo) != 0)
			return -ERR_NOMEM;
	}
	/* MQTT's registered ports (IANA: 1883 mqtt, 8883 secure-mqtt). */
	if (net_map_default_route(map, 1883, NET_ROUTE_BROKER_PLAIN) != 0)
		return -ERR_NOMEM;
	if (b->info.tls_port && net_map_default_route(map, 8883, NET_ROUTE_BROKER_TLS) != 0)
		return -ERR_NOMEM;
	if (net_map_bind_broker(map, b->info.plain_port, b->info.tls_port, b->info.mutual_port,
	                        &bad) != 0) {
		log_msg(LOG_ERROR, "--route %d: the embedded broker has no such listener (no PKI)",
		        bad);
		return -ERR_NOENT;
	}
	return 0;
}

static void on_probe_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	struct net_broker *b = p->b;

	p->active = false;
	unref(b);
}

static void on_probe(uv_connect_t *req, int status)
{
	struct probe *p = req->handle->data;
	struct net_broker *b = p->b;
	int rc;

	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
	/* a probe from before a restart may have reached whoever took the old port */
	if (status != 0 || b->state != BROKER_STARTING || p->probing != p->port)
		return;
	p->up = true;
	for (int i = 0; i < b->nports; i++)
		if (!b->probes[i].up)
			return;
	uv_timer_stop(&b->timer);
	set_state(b, BROKER_UP);
	log_msg(LOG_INFO, "broker: up after %llu ms",
	        (unsigned long long)(uv_now(b->loop) + NET_BROKER_START_MS - b->deadline));
	if (b->restarted) {
		net_broker_ready_cb restarted = b->restarted;

		b->restarted = NULL; /* the same ports: the routes stand */
		if (!b->released)
			restarted(b->restarted_arg, 0);
		return;
	}
	rc = apply_defaults(b);
	if (rc) {
		start_failed(b, rc);
		return;
	}
	if (!b->released)
		b->ready(b->ready_arg, 0);
}

static void on_tick(uv_timer_t *t)
{
	struct net_broker *b = t->data;

	if (uv_now(b->loop) >= b->deadline) {
		log_msg(LOG_ERROR, "broker: mosquitto not listening within %d ms",
		        NET_BROKER_START_MS);
		log_tail(b, LOG_ERROR);
		start_failed(b, -ERR_IO);
		return;
	}
	for (int i = 0; i < b->nports; i++) {
		struct probe *p = &b->probes[i];
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                         .sin_port = htons((uint16_t)p->port)};

		if (p->up || p->active)
			continue;
		if (uv_tcp_init(b->loop, &p->tcp) != 0)
			continue;
		p->tcp.data = p;
		p->active = true;
		p->probing = p->port;
		b->refs++;
		if (uv_tcp_connect(&p->req, &p->tcp, (struct sockaddr *)&sa, on_probe) != 0)
			uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
	}
}

static void after_gen(struct net_broker *b)
{
	char done[PATH_MAX + 16];

	if (b->gen_ran && (b->exit_status != 0 || b->term_signal)) {
		log_msg(LOG_WARN, "broker: %s %s failed (status %lld, signal %d)", b->gen,
		        b->info.certs, (long long)b->exit_status, b->term_signal);
	} else if (b->gen_ran) {
		/* A script touched but not changed leaves .complete as it was: mark the PKI
		 * checked, or pki_stale would run the script at every start. */
		snprintf(done, sizeof(done), "%s/.complete", b->info.certs);
		utimensat(AT_FDCWD, done, NULL, 0);
	}
	if (pki_complete(b->info.certs))
		return;
	b->info.ca[0] = '\0';
	if (b->strict) {
		log_msg(LOG_ERROR, "broker: no test PKI in %s (ca.pem, server.pem, server.key)",
		        b->info.certs);
		start_failed(b, -ERR_NOENT);
		return;
	}
	log_msg(LOG_WARN,
	        "broker: no test PKI in %s: starting mosquitto without TLS listeners "
	        "(use --certs DIR)",
	        b->info.certs);
}

static void on_proc_closed(uv_handle_t *h)
{
	struct net_broker *b = h->data;

	b->proc_open = false;
	if (b->released) {
		unref(b);
		return;
	}
	b->refs--; /* the timer's ref keeps b */
	switch (b->state) {
	case BROKER_GENCERTS:
		after_gen(b);
		if (b->state == BROKER_GENCERTS)
			start_mosquitto(b, false);
		return;
	case BROKER_RESTARTING:
		b->tries = 0;
		start_mosquitto(b, true);
		return;
	case BROKER_STARTING:
		/* exited before listening: a port taken meanwhile, most likely; new ports
		 * (a restart keeps its ports: the modems' routes point there) */
		if (b->tries < START_TRIES) {
			start_mosquitto(b, b->restarted != NULL);
			return;
		}
		log_msg(LOG_ERROR, "broker: mosquitto did not start (%d tries)", b->tries);
		start_failed(b, -ERR_IO);
		return;
	case BROKER_UP:
	case BROKER_FAILED:
	case BROKER_DEAD:
	case BROKER_STOPPING:
		return;
	}
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
	struct net_broker *b = p->data;

	b->running = false;
	b->gen_ran = b->state == BROKER_GENCERTS;
	b->exit_status = status;
	b->term_signal = sig;
	switch (b->state) {
	case BROKER_GENCERTS:
	case BROKER_FAILED:
		break;
	case BROKER_STARTING:
		log_msg(LOG_WARN,
		        "broker: mosquitto exited while starting (status %lld, signal %d)",
		        (long long)status, sig);
		log_tail(b, LOG_WARN);
		break;
	case BROKER_UP:
		/* Loud: every MQTT connection of every modem fails from now on. */
		log_msg(LOG_ERROR,
		        "broker: mosquitto (pid %d) DIED (status %lld, signal %d); connections to "
		        "the embedded broker will be refused",
		        b->pid, (long long)status, sig);
		log_tail(b, LOG_ERROR);
		set_state(b, BROKER_DEAD);
		break;
	case BROKER_DEAD:
		break;
	case BROKER_RESTARTING:
		log_msg(LOG_INFO, "broker: pid %d stopped for a restart (status %lld, signal %d)",
		        b->pid, (long long)status, sig);
		uv_timer_stop(&b->timer);
		break;
	case BROKER_STOPPING:
		log_msg(LOG_INFO, "broker: pid %d exited (status %lld, signal %d)", b->pid,
		        (long long)status, sig);
		uv_timer_stop(&b->timer);
		break;
	}
	uv_close((uv_handle_t *)&b->proc, on_proc_closed);
}

int net_broker_start(const struct net_broker_config *cfg, net_broker_ready_cb ready, void *arg,
                     struct net_broker **out)
{
	static const char *const sbin[] = {"/usr/sbin", "/usr/local/sbin", "/sbin", NULL};
	static const char *const bin[] = {"/usr/bin", "/bin", NULL};
	struct net_broker *b;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ERR_NOMEM;
	b->loop = cfg->loop;
	b->map = cfg->map;
	b->ready = ready;
	b->ready_arg = arg;
	b->strict = cfg->strict;
	snprintf(b->info.host, sizeof(b->info.host), "127.0.0.1");
	if (!find_in_path("mosquitto", sbin, b->mosquitto)) {
		log_msg(cfg->strict ? LOG_ERROR : LOG_WARN,
		        "broker: mosquitto not found (PATH, /usr/sbin)");
		free(b);
		return -ERR_NOENT;
	}
	if (!find_in_path("setpriv", bin, b->setpriv))
		b->setpriv[0] = '\0';
	snprintf(b->dir, sizeof(b->dir), "%.*s/broker", PATH_MAX - 16, cfg->state_dir);
	snprintf(b->conf, sizeof(b->conf), "%.*s/mosquitto.conf", PATH_MAX - 32, b->dir);
	snprintf(b->info.log, sizeof(b->info.log), "%.*s/mosquitto.log", PATH_MAX - 32, b->dir);
	if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) {
		log_msg(LOG_ERROR, "broker: %s: %s", b->dir, strerror(errno));
		free(b);
		return -ERR_SYS;
	}
	if (cfg->certs_dir && cfg->gen_script) {
		/* a PKI made (and remade when stale) by the given script */
		snprintf(b->info.certs, sizeof(b->info.certs), "%s", cfg->certs_dir);
		snprintf(b->gen, sizeof(b->gen), "%s", cfg->gen_script);
	} else if (cfg->certs_dir) {
		if (!realpath(cfg->certs_dir, b->info.certs) || !pki_complete(b->info.certs)) {
			log_msg(LOG_ERROR, "--certs %s: no ca.pem, server.pem and server.key there",
			        cfg->certs_dir);
			free(b);
			return -ERR_NOENT;
		}
	} else {
		default_pki(b->info.certs, b->gen);
	}
	snprintf(b->info.ca, sizeof(b->info.ca), "%.*s/ca.pem", PATH_MAX - 16, b->info.certs);
	uv_timer_init(b->loop, &b->timer);
	b->timer.data = b;
	b->refs = 1;
	*out = b;
	if (b->gen[0] && pki_stale(b->info.certs, b->gen)) {
		/* gen.sh is idempotent and safe to run concurrently (flock, then an atomic
		 * rename); its chatter goes to stderr, never to stdout. */
		char *args[] = {"bash", b->gen, b->info.certs, NULL};
		int rc;

		set_state(b, BROKER_GENCERTS);
		log_msg(LOG_INFO, "broker: %s %s", b->gen, b->info.certs);
		rc = spawn(b, args, STDERR_FILENO);
		if (rc == 0)
			return 0;
		log_msg(LOG_WARN, "broker: cannot run %s: %s", b->gen, uv_strerror(rc));
		return 0; /* on_proc_closed goes on as after a failed gen.sh */
	}
	after_gen(b);
	if (b->state == BROKER_GENCERTS)
		start_mosquitto(b, false);
	return 0;
}

const struct net_broker_info *net_broker_info(const struct net_broker *b)
{
	return &b->info;
}

bool net_broker_alive(const struct net_broker *b)
{
	return b && b->state == BROKER_UP && b->running;
}

static void on_kill_deadline(uv_timer_t *t)
{
	struct net_broker *b = t->data;

	if (!b->running)
		return;
	log_msg(LOG_WARN, "broker: pid %d still running %d ms after SIGTERM: SIGKILL", b->pid,
	        NET_BROKER_KILL_MS);
	uv_process_kill(&b->proc, SIGKILL);
}

/* mosquitto 2.0 blocks signals while it waits in epoll_wait (up to 100 ms), so a SIGTERM
 * alone takes that long once it has served a connection (measured: ~91 ms, against ~1 ms with
 * this). A connection attempt to a listener wakes the wait, and the pending signal is taken
 * at once. Non-blocking, closed right away: the loopback handshake is done inside connect(). */
static void poke(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
		log_msg(LOG_DEBUG, "broker: poke port %d: %s", port, strerror(errno));
	close(fd);
}

int net_broker_restart(struct net_broker *b, net_broker_ready_cb done, void *arg)
{
	if (!b || b->released || b->state != BROKER_UP || !b->running || b->restarted)
		return -ERR_STATE;
	b->restarted = done;
	b->restarted_arg = arg;
	set_state(b, BROKER_RESTARTING);
	uv_process_kill(&b->proc, SIGTERM);
	if (b->info.plain_port)
		poke(b->info.plain_port);
	uv_timer_start(&b->timer, on_kill_deadline, NET_BROKER_KILL_MS, 0);
	return 0;
}

void net_broker_stop(struct net_broker *b)
{
	if (!b || b->released)
		return;
	b->released = true;
	set_state(b, BROKER_STOPPING);
	uv_timer_stop(&b->timer);
	for (int i = 0; i < N_LISTENERS; i++)
		if (b->probes[i].active && !uv_is_closing((uv_handle_t *)&b->probes[i].tcp))
			uv_close((uv_handle_t *)&b->probes[i].tcp, on_probe_closed);
	if (b->running) {
		uv_process_kill(&b->proc, SIGTERM);
		if (b->info.plain_port)
			poke(b->info.plain_port);
		uv_timer_start(&b->timer, on_kill_deadline, NET_BROKER_KILL_MS, 0);
	}
	maybe_finish(b);
}
