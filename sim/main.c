/* modemsim: a Quectel EC25 or M95 on a Linux pseudo-terminal. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "at/dispatch.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/findings.h"
#include "modem/hooks.h"
#include "modem/identity.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "modem/profile.h"
#include "net/broker.h"
#include "net/resolve.h"
#include "scenario/control.h"
#include "scenario/engine.h"
#include "store/fs.h"
#include "transport/pty.h"
#include "transport/tcp.h"

/* Not a resource bound: ptys (kernel.pty.max), descriptors and memory give out first, and
 * each says so; this only keeps the indices in range. */
#define MAX_MODEMS 1000000
#define MAX_INDEX_BASE 1000000000
#define MAX_SCENARIOS 16

static const char usage[] =
        "Usage: modemsim [OPTION]...\n"
        "Make a cellular modem (Quectel EC25, M95, BG96; SIMCom SIM7600, A7670, SIM7670G)\n"
        "appear on a pseudo-terminal, or on a TCP socket for emulated firmware.\n"
        "\n"
        "  -m, --model MODEL      ec25 (default), m95, bg96, sim7600, a7670 or sim7670g\n"
        "                         (--list-models)\n"
        "      --revision STR     the firmware revision the modem reports (+CGMR, ATI); a\n"
        "                         revision the model's table names brings its documented\n"
        "                         quirks (--list-revisions)\n"
        "  -l, --link PATH        make PATH a symlink to the pty (removed on exit);\n"
        "                         with --count N > 1 the links are PATH.0 ... PATH.N-1\n"
        "  -n, --count N          serve N independent modems from one process; bounded by\n"
        "                         ptys (kernel.pty.max), descriptors and memory\n"
        "      --serial SPEC      the modems' serial ports: pty (default), or the raw UART\n"
        "                         bytes over TCP (no telnet), one port per modem, PORT+k\n"
        "                         for modem k:\n"
        "                         tcp-listen:HOST:PORT  listen; firmware connects (QEMU\n"
        "                         -serial tcp:HOST:PORT); PORT 0: ephemeral ports;\n"
        "                         tcp-connect:HOST:PORT  dial a UART an emulator serves\n"
        "                         (QEMU -serial tcp::PORT,server,nowait; Renode's server\n"
        "                         socket terminal), again whenever it is down or goes away;\n"
        "                         one host at a time; a disconnect is the host closing the\n"
        "                         tty (the modem keeps its state)\n"
        "      --index-base N     number the modems N, N+1, ... (default 0): their IMEI,\n"
        "                         ICCID, IMSI, links, state, lines below and scenario and\n"
        "                         control-socket addressing, so shards of a fleet differ\n"
        "      --seed N           seed for the IMEI, ICCID and IMSI of each modem (default 0)\n"
        "      --log FILE         human-readable transcript: [HH:MM:SS.mmm] #modem TX|RX bytes\n"
        "                         (TX: sent by the host; RX: received by the host); FILE\n"
        "                         \"-\" is stdout, after the lines below\n"
        "      --trace FILE       the same as JSON lines, with parsed commands and results\n"
        "      --state DIR        persistent storage (UFS:, NVRAM:) kept across restarts;\n"
        "                         default: a temporary directory removed on exit\n"
        "      --timing PROFILE   realistic (default): module-like delays; fast: none\n"
        "      --time-scale F     multiply modem-side delays and timers by F (default 1)\n"
        "      --broker MODE      embedded (default): run a mosquitto on free loopback ports\n"
        "                         (plain, TLS, TLS with client certificates) and send the\n"
        "                         modems there: every name resolves to 127.0.0.1, port 1883\n"
        "                         goes to the plain listener, 8883 to the TLS one;\n"
        "                         none: no broker, real name resolution and ports\n"
        "      --certs DIR        the test PKI for the embedded broker (ca.pem, server.pem,\n"
        "                         server.key); default: <build>/certs, made by certs/gen.sh\n"
        "      --preload-certs    store the test PKI's ca.pem, client-rsa.pem and\n"
        "                         client-rsa.key in each modem's flash at start (EC25/BG96\n"
        "                         UFS:cacert.pem UFS:client.pem UFS:user_key.pem, M95\n"
        "                         NVRAM:CA0 CC0 CK0, SIMCom cacert.pem ...): no upload\n"
        "                         needed; a \"certs\" line on stdout names them\n"
        "      --resolve NAME=ADDR  make the modems resolve NAME (a host name, *.suffix or\n"
        "                         *) to the IPv4 address ADDR, or fail to resolve it with\n"
        "                         ADDR \"fail\"; exact names beat longer suffixes beat *;\n"
        "                         repeatable\n"
        "      --route PORT=HOST:PORT  send the modems' connections to port PORT (any\n"
        "                         address) to HOST:PORT (an IPv4 address) instead, or to\n"
        "                         the embedded broker's @plain, @tls or @mutual listener;\n"
        "                         repeatable\n"
        "      --scenario FILE    run the scenario FILE (scenarios/README.md): its settings,\n"
        "                         rules and events apply from the start; repeatable\n"
        "      --check FILE...    validate each scenario FILE (repeatable; the arguments after\n"
        "                         it are files too: --check scenarios/*.scn), print\n"
        "                         \"FILE: ok (N statements)\" or its errors\n"
        "                         (file:line:col: message); exit 1 if any has errors\n"
        "      --control PATH     take scenario statements and queries, one per line, on the\n"
        "                         unix-domain socket PATH (mode 0600); each answer is a JSON\n"
        "                         line\n"
        "      --list-commands    print the AT commands of --model, one per line, and exit\n"
        "      --list-models      print the models, one per line, and exit\n"
        "      --list-revisions   print the revisions of --model and their quirks, and exit\n"
        "  -v, --verbose          on stderr, each command with its result and each finding;\n"
        "                         -vv: debug\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and exit\n"
        "\n"
        "When every modem is ready, stdout gets, with the embedded broker, the line\n"
        "  broker <host> <plain-port> <tls-port> <ca-file> <mutual-tls-port>\n"
        "(on a terminal labelled: broker host=H plain=P tls=P mutual=P ca=FILE)\n"
        "(\"-\" for what it lacks), then one line per modem,\n"
        "  modem <index> <model> <pty-path>\n"
        "(with --serial tcp-listen: modem <index> <model> tcp:<address>:<port>, the actual\n"
        "port; with tcp-connect: modem <index> <model> tcp-connect:<address>:<port>)\n"
        "then a line \"ready\". SIGINT or SIGTERM shut down cleanly (exit 0).\n"
        "Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad usage.\n";

static struct modemsim sim;
static struct pty_port *ports; /* --serial pty */
static struct tcp_port *tports; /* --serial tcp-* */
static bool serial_tcp;
static struct tcp_spec serial_spec;
static uv_signal_t sig_int, sig_term, sig_hup;
static struct net_map netmap;
static bool stopping;
static int late_status; /* a failure found once the loop runs */
static const char *scenario_paths[MAX_SCENARIOS];
static struct scn_script scenarios[MAX_SCENARIOS];
static int n_scenarios;
static bool preload_certs; /* --preload-certs */
static const char *check_paths[MAX_SCENARIOS * 16];
static int n_checks;
static const char *control_path;
static bool model_given;
static bool list_revisions;
static const char *revision; /* --revision */
/* The profile with --revision in place of its default revision (every modem's). */
static struct model_profile revised;
static struct scn_control *control;

/* Descriptors: a modem holds two (a pty's master and slave; with tcp-listen its listener and
 * its host's connection) and one more per open socket or MQTT connection. The soft
 * RLIMIT_NOFILE goes up to the hard one (the embedded broker inherits it); when even that is
 * short of three per modem, say so now: past the limit libuv accepts a host's connection and
 * closes it at once, without an error to report. */
static void fd_budget(int count)
{
	struct rlimit rl;
	long need = 3L * count + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need)
		log_msg(LOG_WARN,
		        "%d modems may need %ld descriptors (2 per modem, 1 per connection): "
		        "RLIMIT_NOFILE is %ld; raise ulimit -n (hard limit), or modems past it "
		        "lose their hosts or connections",
		        count, need, (long)rl.rlim_cur);
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "modemsim: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try 'modemsim --help')\n");
	exit(2);
}

static long long parse_int(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
		        "modemsim: %s: invalid value '%s' (expected %lld-%lld)"
		        " (try 'modemsim --help')\n",
		        opt, s, lo, hi);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct modemsim_options *o)
{
	enum {
		OPT_SEED = 256,
		OPT_LOG,
		OPT_TRACE,
		OPT_STATE,
		OPT_TIMING,
		OPT_TIME_SCALE,
		OPT_BROKER,
		OPT_CERTS,
		OPT_PRELOAD_CERTS,
		OPT_RESOLVE,
		OPT_ROUTE,
		OPT_LIST_COMMANDS,
		OPT_LIST_MODELS,
		OPT_LIST_REVISIONS,
		OPT_REVISION,
		OPT_SCENARIO,
		OPT_CHECK,
		OPT_CONTROL,
		OPT_SERIAL,
		OPT_INDEX_BASE,
	};
	static const struct option longopts[] = {
	        {"model", required_argument, NULL, 'm'},
	        {"link", required_argument, NULL, 'l'},
	        {"count", required_argument, NULL, 'n'},
	        {"seed", required_argument, NULL, OPT_SEED},
	        {"log", required_argument, NULL, OPT_LOG},
	        {"trace", required_argument, NULL, OPT_TRACE},
	        {"state", required_argument, NULL, OPT_STATE},
	        {"timing", required_argument, NULL, OPT_TIMING},
	        {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
	        {"broker", required_argument, NULL, OPT_BROKER},
	        {"certs", required_argument, NULL, OPT_CERTS},
	        {"preload-certs", no_argument, NULL, OPT_PRELOAD_CERTS},
	        {"resolve", required_argument, NULL, OPT_RESOLVE},
	        {"route", required_argument, NULL, OPT_ROUTE},
	        {"list-commands", no_argument, NULL, OPT_LIST_COMMANDS},
	        {"list-models", no_argument, NULL, OPT_LIST_MODELS},
	        {"list-revisions", no_argument, NULL, OPT_LIST_REVISIONS},
	        {"revision", required_argument, NULL, OPT_REVISION},
	        {"scenario", required_argument, NULL, OPT_SCENARIO},
	        {"check", required_argument, NULL, OPT_CHECK},
	        {"control", required_argument, NULL, OPT_CONTROL},
	        {"serial", required_argument, NULL, OPT_SERIAL},
	        {"index-base", required_argument, NULL, OPT_INDEX_BASE},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->model = "ec25";
	o->count = 1;
	o->timing = TIMING_REALISTIC;
	o->time_scale = 1.0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:l:n:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!profile_find(optarg))
				die_usage("--model: unknown model '%s' (expected ec25, m95, bg96, "
				          "sim7600, a7670 or sim7670g)",
				          optarg);
			o->model = optarg;
			model_given = true;
			break;
		case 'l':
			if (!*optarg)
				die_usage("--link: empty path%s", "");
			o->link = optarg;
			break;
		case 'n':
			o->count = (int)parse_int("--count", optarg, 1, MAX_MODEMS);
			break;
		case OPT_SEED:
			o->seed = (uint64_t)parse_int("--seed", optarg, 0, 0x7fffffffffffffffLL);
			break;
		case OPT_LOG:
			o->log_path = optarg;
			break;
		case OPT_TRACE:
			o->trace_path = optarg;
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case OPT_TIMING:
			if (strcmp(optarg, "realistic") == 0)
				o->timing = TIMING_REALISTIC;
			else if (strcmp(optarg, "fast") == 0)
				o->timing = TIMING_FAST;
			else
				die_usage("--timing: unknown profile '%s' (expected realistic or "
				          "fast)",
				          optarg);
			break;
		case OPT_TIME_SCALE: {
			char *end;
			double f;

			errno = 0;
			f = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(f > 0) || f > 1000)
				die_usage("--time-scale: invalid factor '%s' (expected a number "
				          "above 0, at most 1000)",
				          optarg);
			o->time_scale = f;
			break;
		}
		case OPT_BROKER:
			if (strcmp(optarg, "embedded") == 0)
				o->broker = BROKER_EMBEDDED;
			else if (strcmp(optarg, "none") == 0)
				o->broker = BROKER_NONE;
			else
				die_usage("--broker: unknown mode '%s' (expected embedded or none)",
				          optarg);
			o->broker_given = true;
			break;
		case OPT_CERTS:
			/* a PKI named on the command line must work: no silent broker without TLS
			 */
			o->certs_dir = optarg;
			o->broker_given = true;
			break;
		case OPT_PRELOAD_CERTS:
			preload_certs = true;
			break;
		case OPT_RESOLVE:
			if (net_map_add_resolve(&netmap, optarg) != 0)
				die_usage("--resolve: invalid '%s' (expected NAME=ADDR)", optarg);
			break;
		case OPT_ROUTE:
			if (net_map_add_route(&netmap, optarg) != 0)
				die_usage("--route: invalid '%s' (expected PORT=IPV4:PORT or "
				          "PORT=@plain|@tls|@mutual)",
				          optarg);
			break;
		case OPT_LIST_COMMANDS:
			o->list_commands = true;
			break;
		case OPT_LIST_MODELS:
			o->list_models = true;
			break;
		case OPT_LIST_REVISIONS:
			list_revisions = true;
			break;
		case OPT_REVISION:
			/* as the scenario's `revision` (scenario/parse.c): 1 to 64 bytes */
			if (!*optarg || strlen(optarg) > 64)
				die_usage("--revision: 1 to 64 bytes%s", "");
			revision = optarg;
			break;
		case OPT_SCENARIO:
			if (n_scenarios == MAX_SCENARIOS)
				die_usage("--scenario: at most %s files", "16");
			scenario_paths[n_scenarios++] = optarg;
			break;
		case OPT_CHECK:
			if (n_checks == (int)(sizeof(check_paths) / sizeof(check_paths[0])))
				die_usage("--check: at most %s files", "256");
			check_paths[n_checks++] = optarg;
			break;
		case OPT_CONTROL:
			if (!*optarg)
				die_usage("--control: empty path%s", "");
			control_path = optarg;
			break;
		case OPT_SERIAL: {
			char why[160], msg[400];

			if (strcmp(optarg, "pty") == 0) {
				serial_tcp = false;
				break;
			}
			if (tcp_spec_parse(optarg, &serial_spec, why, sizeof(why)) != 0) {
				snprintf(msg, sizeof(msg), "'%s': %s", optarg, why);
				die_usage("--serial: %s", msg);
			}
			serial_tcp = true;
			break;
		}
		case OPT_INDEX_BASE:
			o->index_base = (int)parse_int("--index-base", optarg, 0, MAX_INDEX_BASE);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			printf("modemsim %s\n", MODEMSIM_VERSION);
			exit(0);
		case ':':
			die_usage("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* --check a.scn b.scn ...: what the shell expanded from one glob */
	while (n_checks && optind < argc &&
	       n_checks < (int)(sizeof(check_paths) / sizeof(check_paths[0])))
		check_paths[n_checks++] = argv[optind++];
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (serial_tcp && o->link)
		die_usage("--link: a pty's link (not with --serial %s)",
		          serial_spec.mode == TCP_MODE_LISTEN ? "tcp-listen" : "tcp-connect");
	if (serial_tcp) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&serial_spec.addr;
		unsigned port = ntohs(a->sin_port); /* sin6_port sits at the same offset */

		if (port && port + (unsigned)o->count - 1 > 65535)
			die_usage("--serial: ports PORT..PORT+N-1 end beyond 65535 (%s)",
			          "lower PORT or --count");
	}
	if (o->broker == BROKER_NONE && net_map_bind_broker(&netmap, 0, 0, 0, NULL) != 0)
		die_usage("--route: %s needs the embedded broker", "@plain, @tls and @mutual");
}

/* Every command the model answers (first row of a name wins, as in the dispatcher). */
static void list_commands(const struct model_profile *model)
{
	for (const struct at_family *const *f = model->families; *f; f++)
		for (const struct at_cmd *c = (*f)->cmds; c->name; c++)
			if (at_lookup(model->families, c->name, NULL) == c)
				printf("AT%s\n", c->name);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int setup_state_dir(struct modemsim *s)
{
	if (s->opt.state_dir) {
		if (mkdir(s->opt.state_dir, 0700) != 0 && errno != EEXIST) {
			log_msg(LOG_ERROR, "--state %s: %s", s->opt.state_dir, strerror(errno));
			return -ERR_SYS;
		}
		if (!realpath(s->opt.state_dir, s->state_dir)) {
			log_msg(LOG_ERROR, "--state %s: %s", s->opt.state_dir, strerror(errno));
			return -ERR_SYS;
		}
		return 0;
	}
	snprintf(s->state_dir, sizeof(s->state_dir), "%s/modemsim-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(s->state_dir)) {
		log_msg(LOG_ERROR, "cannot create a temporary state directory: %s",
		        strerror(errno));
		return -ERR_SYS;
	}
	s->state_tmp = true;
	return 0;
}

static void shutdown_all(void)
{
	stopping = true;
	scn_control_stop(control);
	control = NULL;
	scn_engine_stop(&sim);
	net_broker_stop(sim.broker);
	sim.broker = NULL;
	modemsim_flush(&sim);
	for (int i = 0; i < sim.count; i++) {
		modem_close(&sim.modems[i]);
		if (serial_tcp)
			tcp_close(&tports[i]);
		else
			pty_close(&ports[i]);
	}
	modemsim_flush_close(&sim);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_hup, NULL);
}

/* The scenario files' statements, in the order given; the first failure stops modemsim. */
static int apply_scenarios(void)
{
	char err[SCN_MSG_MAX + 64];

	for (int f = 0; f < n_scenarios; f++) {
		for (size_t i = 0; i < scenarios[f].n; i++) {
			const struct scn_stmt *st = &scenarios[f].stmts[i];

			if (scn_apply(&sim, st, err, sizeof(err)) != 0) {
				log_msg(LOG_ERROR, "%s:%d: %s", scenario_paths[f], st->line, err);
				return -1;
			}
		}
		scn_script_free(&scenarios[f]);
	}
	return 0;
}

/* --preload-certs: the PKI's CA, client certificate and key into every modem's flash, under
 * the names its drives give them (store/fs.h fs_preload); a "certs" line names them. */
static int preload(const char *dir)
{
	static const char *const files[] = {"ca.pem", "client-rsa.pem", "client-rsa.key"};
	static const char *const conventional[] = {"cacert.pem", "client.pem", "user_key.pem"};
	static const char *const what[] = {"ca", "cert", "key"};

	for (int i = 0; i < sim.count; i++) {
		char line[3 * (FS_NAME_LONGEST + 16)] = "";
		size_t used = 0;

		for (int k = 0; k < 3; k++) {
			char path[PATH_MAX], name[FS_NAME_LONGEST + 16];
			uint8_t buf[16384];
			size_t n = 0;
			FILE *f;
			int rc;

			snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
			f = fopen(path, "rb");
			if (!f) {
				log_msg(LOG_ERROR, "--preload-certs: %s: %s", path,
				        strerror(errno));
				return -1;
			}
			n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			rc = fs_preload(&sim.modems[i].fs, k, conventional[k], buf, n, name,
			                sizeof(name));
			if (rc) {
				log_msg(LOG_ERROR, "--preload-certs: modem %d: %s: %s", i, path,
				        err_str(rc));
				return -1;
			}
			trace_event(i, "note", "preloaded %s as %s (%zu bytes)", path, name, n);
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%s",
			                         what[k], name);
		}
		printf("certs %d%s\n", i, line);
	}
	return 0;
}

/* Every modem is up (and the broker, if any): tell the caller and boot the modems. The
 * "ready" line stays last, so a harness may connect to everything once it reads it. */
static void announce(void)
{
	if (apply_scenarios() != 0) {
		late_status = 1;
		shutdown_all();
		return;
	}
	if (sim.broker) {
		const struct net_broker_info *bi = net_broker_info(sim.broker);
		char tls[16] = "-", mutual[16] = "-";

		if (bi->tls_port) {
			snprintf(tls, sizeof(tls), "%d", bi->tls_port);
			snprintf(mutual, sizeof(mutual), "%d", bi->mutual_port);
		}
		if (isatty(STDOUT_FILENO)) /* a person reads it: say what each field is */
			printf("broker host=%s plain=%d tls=%s mutual=%s ca=%s\n", bi->host,
			       bi->plain_port, tls, mutual, bi->tls_port ? bi->ca : "-");
		else /* the fixed form programs parse */
			printf("broker %s %d %s %s %s\n", bi->host, bi->plain_port, tls,
			       bi->tls_port ? bi->ca : "-", mutual);
	}
	for (int i = 0; i < sim.count; i++)
		printf("modem %d %s %s\n", sim.modems[i].index, sim.modems[i].model->name,
		       serial_tcp ? tports[i].name : ports[i].path);
	if (preload_certs) {
		const char *dir = sim.broker && net_broker_info(sim.broker)->tls_port
		                          ? net_broker_info(sim.broker)->certs
		                          : sim.opt.certs_dir;

		if (!dir) {
			log_msg(LOG_ERROR,
			        "--preload-certs: no PKI (the embedded broker has no TLS; "
			        "name one with --certs DIR)");
			late_status = 1;
		} else if (preload(dir) != 0) {
			late_status = 1;
		}
		if (late_status) {
			fflush(stdout);
			shutdown_all();
			return;
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < sim.count; i++)
		modem_boot(&sim.modems[i]);
}

static void on_broker_ready(void *arg, int rc)
{
	struct modemsim *s = arg;

	if (stopping)
		return;
	if (rc) {
		/* An explicit --broker embedded must work; the implicit default may fall back. */
		if (s->opt.broker_given) {
			log_msg(LOG_ERROR, "the embedded broker did not start: %s", err_str(rc));
			late_status = 1;
			shutdown_all();
			return;
		}
		log_msg(LOG_WARN, "the embedded broker did not start (%s): going on without it",
		        err_str(rc));
		net_broker_stop(s->broker);
		s->broker = NULL;
	}
	announce();
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	log_msg(LOG_INFO, "signal %d: shutting down", signum);
	shutdown_all();
}

/* The first record of each modem's trace names what runs, so that a trace alone (a report
 * made from it, harness/modemsim_harness/report.py) says which model and scenarios it shows. */
static void trace_start(int i, const struct model_profile *model)
{
	char files[1024] = "";
	size_t len = 0;

	for (int f = 0; f < n_scenarios && len < sizeof(files); f++)
		len += (size_t)snprintf(files + len, sizeof(files) - len, "%s%s", f ? " " : "",
		                        scenario_paths[f]);
	trace_event(i, "start", "model %s%s%s", model->name, n_scenarios ? " scenario " : "",
	            files);
}

int main(int argc, char **argv)
{
	const struct model_profile *model;
	uv_loop_t loop;
	char link[PATH_MAX];
	int rc, status = 0;

	net_map_init(&netmap);
	sim.net = &netmap;
	parse_args(argc, argv, &sim.opt);
	if (sim.opt.list_models) {
		for (const struct model_profile *const *p = profile_table; *p; p++)
			printf("%s\n", (*p)->name);
		return 0;
	}
	if (list_revisions) {
		const struct model_profile *p = profile_find(sim.opt.model);

		for (const struct model_revision *r = p->revisions; r && r->revision; r++)
			printf("%s%s%s%s\n", r->revision,
			       r->quirks & QUIRK_SSLVERSION_ERROR ? " sslversion-error" : "",
			       r->quirks & QUIRK_MQTT_DEFAULT_31 ? " mqtt-default-3.1" : "",
			       r->quirks & QUIRK_PROMPT_ECHO ? " prompt-echo" : "");
		return 0;
	}
	if (sim.opt.list_commands) {
		list_commands(profile_find(sim.opt.model));
		return 0;
	}
	if (n_checks) {
		for (int f = 0; f < n_checks; f++)
			status |= scn_check_file(check_paths[f], model_given ? sim.opt.model : NULL,
			                         stdout, stderr);
		return status ? 1 : 0;
	}
	/* A scenario with errors is bad usage: nothing starts. */
	for (int f = 0; f < n_scenarios; f++) {
		scn_script_init(&scenarios[f]);
		if (scn_load_file(scenario_paths[f], &scenarios[f], stderr) != 0) {
			while (f >= 0)
				scn_script_free(&scenarios[f--]);
			return 2;
		}
	}
	log_set_level(sim.opt.verbose >= 2 ? LOG_DEBUG : sim.opt.verbose ? LOG_INFO : LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	model = profile_find(sim.opt.model);
	if (revision) {
		revised = *model;
		revised.revision = revision;
		model = &revised;
	}
	if (trace_open(sim.opt.log_path, sim.opt.trace_path) != 0)
		return 1;
	if (setup_state_dir(&sim) != 0)
		return 1;
	uv_loop_init(&loop);
	sim.loop = &loop;
	modemsim_flush_init(&sim);
	modemsim_add_hooks(&sim, &findings_hooks); /* the module judges the host */
	/* The broker starts first so that mosquitto comes up while the ptys open. */
	if (sim.opt.broker == BROKER_EMBEDDED) {
		struct net_broker_config bc = {
		        .loop = sim.loop,
		        .map = sim.net,
		        .state_dir = sim.state_dir,
		        .certs_dir = sim.opt.certs_dir,
		        .strict = sim.opt.broker_given,
		};

		rc = net_broker_start(&bc, on_broker_ready, &sim, &sim.broker);
		if (rc && sim.opt.broker_given)
			status = 1;
		else if (rc)
			log_msg(LOG_WARN, "going on without the embedded broker "
			                  "(--broker none: without the warning)");
	}
	fd_budget(sim.opt.count);
	sim.modems = calloc((size_t)sim.opt.count, sizeof(*sim.modems));
	if (serial_tcp)
		tports = calloc((size_t)sim.opt.count, sizeof(*tports));
	else
		ports = calloc((size_t)sim.opt.count, sizeof(*ports));
	if (!sim.modems || (!ports && !tports)) {
		log_msg(LOG_ERROR, "out of memory for %d modems", sim.opt.count);
		return 1;
	}
	for (int i = 0; status == 0 && i < sim.opt.count; i++) {
		struct modem *m = &sim.modems[i];
		const char *lp = NULL;
		int index = sim.opt.index_base + i;

		rc = modem_init(m, &sim, index, model);
		if (rc == -ERR_EXIST) {
			/* --state holds a link or a file where the modem's directories go; the
			 * store has named it (store/fs.h). Nothing starts, as for a bad option. */
			status = 2;
			break;
		}
		if (rc) {
			log_msg(LOG_ERROR, "modem %d: %s", index, err_str(rc));
			status = 1;
			break;
		}
		identity_derive(&m->id, model->imei_tac, sim.opt.seed, index);
		trace_start(index, model);
		sim.count = i + 1;
		if (sim.opt.link) {
			if (sim.opt.count > 1)
				snprintf(link, sizeof(link), "%s.%d", sim.opt.link, index);
			else
				snprintf(link, sizeof(link), "%s", sim.opt.link);
			lp = link;
		}
		if (serial_tcp)
			rc = tcp_open(&tports[i], &loop, m, &serial_spec, i);
		else
			rc = pty_open(&ports[i], &loop, m, lp);
		if (rc) {
			status = 1;
			modem_close(m);
			sim.count = i;
			break;
		}
	}
	if (status == 0 && (n_scenarios || control_path) && scn_engine_start(&sim) != 0) {
		log_msg(LOG_ERROR, "out of memory for the scenario engine");
		status = 1;
	}
	if (status == 0 && control_path && scn_control_start(&sim, control_path, &control) != 0)
		status = 1;
	uv_signal_init(&loop, &sig_int);
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_hup);
	if (status == 0) {
		uv_signal_start(&sig_int, on_signal, SIGINT);
		uv_signal_start(&sig_term, on_signal, SIGTERM);
		uv_signal_start(&sig_hup, on_signal, SIGHUP);
		if (!sim.broker)
			announce(); /* else when the broker is up: on_broker_ready */
	} else {
		shutdown_all();
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		log_msg(LOG_WARN, "event loop closed with handles still open");
	trace_close();
	net_map_free(&netmap);
	for (int f = 0; f < n_scenarios; f++)
		scn_script_free(&scenarios[f]);
	if (late_status)
		status = late_status;
	if (sim.state_tmp)
		nftw(sim.state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; sim.modems && i < sim.opt.count; i++)
		modem_release(&sim.modems[i]);
	free(sim.modems);
	free(ports);
	free(tports);
	return status;
}
