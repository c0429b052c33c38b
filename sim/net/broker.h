/* The embedded MQTT broker (--broker embedded): modemsim runs its own mosquitto on free
 * loopback ports with the test PKI, so that firmware configured for a cloud endpoint reaches a
 * real broker unchanged (every name resolves to 127.0.0.1, port 1883 is routed to the plain
 * listener and 8883 to the TLS one; --resolve and --route take precedence).
 *
 * Listeners, all on 127.0.0.1:
 *   plain    MQTT over TCP, anonymous
 *   tls      MQTT over TLS, server authentication only (require_certificate false)
 *   mutual   MQTT over TLS, a client certificate signed by the test CA is required
 *
 * Lifecycle: net_broker_start spawns it (after running certs/gen.sh when the PKI is missing),
 * then probes the ports from a timer until each accepts a connection; ready(arg, 0) follows, or
 * ready(arg, -ERR_*) with the reason on stderr. net_broker_stop sends SIGTERM, then SIGKILL after
 * NET_BROKER_KILL_MS, and frees the broker once the process is gone. mosquitto also gets
 * SIGTERM if modemsim dies first (PR_SET_PDEATHSIG through setpriv(1) when available). */
#ifndef MODEMSIM_NET_BROKER_H
#define MODEMSIM_NET_BROKER_H

#include <limits.h>
#include <stdbool.h>
#include <uv.h>

struct net_map;
struct net_broker;

#define NET_BROKER_START_MS 10000 /* from spawn to every listener accepting */
#define NET_BROKER_KILL_MS 3000 /* from SIGTERM to SIGKILL */

/* Extra TLS listeners for fault tls.cert: the same broker behind a certificate that a modem
 * must refuse (certs/gen.sh makes them; all use server.key). */
enum net_broker_cert {
	NET_CERT_EXPIRED, /* server-expired.pem: valid 2020-01-01 to 2020-01-02 only */
	NET_CERT_WRONGHOST, /* server-wronghost.pem: names only wrong-host.invalid */
	NET_CERT_UNTRUSTED, /* server-otherca.pem: signed by an unrelated CA */
	NET_CERT_NOTYET, /* server-notyet.pem: valid in 2049 only */
	NET_CERT_KINDS,
};

struct net_broker_info {
	char host[16]; /* "127.0.0.1" */
	int plain_port;
	int tls_port; /* 0: no TLS listeners (no PKI found; the implicit default only) */
	int mutual_port;
	char ca[PATH_MAX]; /* the CA certificate that signed the broker's ("" without TLS) */
	char certs[PATH_MAX]; /* the PKI directory */
	char log[PATH_MAX]; /* mosquitto's own log */
	int cert_port[NET_CERT_KINDS]; /* 0: that certificate is not in the PKI */
};

/* What the broker needs from the process; read during net_broker_start only, except loop and
 * map, which must outlive the broker. */
struct net_broker_config {
	uv_loop_t *loop;
	struct net_map *map; /* the broker's defaults go in, below what --resolve and --route say */
	const char *state_dir; /* <state_dir>/broker holds the configuration and log */
	const char *certs_dir; /* --certs: the PKI; NULL: the source tree's, made when missing */
	/* With certs_dir: the script that makes the PKI there when it is missing or stale (the
	 * unit tests name the tree's certs/gen.sh); NULL: certs_dir must hold a complete PKI. */
	const char *gen_script;
	bool strict; /* --broker given: a missing PKI is an error, not a broker without TLS */
};

typedef void (*net_broker_ready_cb)(void *arg, int status);

/* Start the broker. Returns 0 with *out set and ready(arg, status) to follow from the loop, or
 * a negative ERR_* with a message on stderr (-ERR_NOENT: no mosquitto, or no PKI under an
 * explicit certs_dir). */
int net_broker_start(const struct net_broker_config *cfg, net_broker_ready_cb ready, void *arg,
                     struct net_broker **out);
const struct net_broker_info *net_broker_info(const struct net_broker *b);
/* True while mosquitto runs (false after it died or before it started). */
bool net_broker_alive(const struct net_broker *b);
/* Stop mosquitto and start it again on the same ports (fault mqtt.session-lost, broker.restart):
 * every connection to it ends and, without persistence, every session is forgotten, as when a
 * real broker restarts. Returns 0 and done(arg, 0 or -ERR_*) follows once it listens again (or
 * did not come back: it is then dead); -ERR_STATE when it is not up, or already restarting. */
int net_broker_restart(struct net_broker *b, net_broker_ready_cb done, void *arg);

/* Stop and free (asynchronously); no ready() after this. NULL-safe. */
void net_broker_stop(struct net_broker *b);

#endif
