/* A network endpoint: what the connections of one modem share (the loop, the name and route
 * map, the link faults that the scenario put on its link) and the way up from them to whoever
 * owns it. The net layer knows nothing above it: a modem embeds one host and hands its
 * connections the host, not itself, as gatchat hands a handler the context it registered.
 *
 * Ownership: the owner embeds or allocates the host, fills it with net_host_init(), and keeps
 * its memory valid until every connection opened on it is released and libuv has closed their
 * handles (the loop's last run, for a modem). net_host_free() ends what goes upward. */
#ifndef MODEMSIM_NET_HOST_H
#define MODEMSIM_NET_HOST_H

#include <stdbool.h>
#include <uv.h>

struct net_conn;
struct net_map;

struct net_link_shape {
	unsigned delay_ms; /* every chunk, both ways, this much later */
	unsigned rate; /* bytes per second both ways; 0: no limit */
	unsigned fragment; /* at most this many bytes per write or delivery; 0: as they come */
};

/* What new connections of one host meet (every field 0: nothing). */
struct net_link_policy {
	struct net_link_shape shape; /* copied into each new connection */
	bool down; /* no network: connections stall both ways, new ones wait for it */
	int refuse_port; /* new TCP connects go to this loopback port, which refuses them */
	int tls_port; /* new TLS connections go to this loopback port instead */
	bool tls_once; /* ... the next one only */
	char tls_what[64]; /* what waits there, for the trace ("expired certificate") */
};

/* What goes up from the host's connections to its owner; any member may be NULL. */
struct net_host_ops {
	/* A TLS handshake completed on one of the host's connections (just before its
	 * opened(0)). */
	void (*tls_handshake)(void *owner);
	/* Whether the owner has its network now (a modem: registered). The policy's `down`
	 * stalls traffic only while this says false, so an owner that got its network back by
	 * itself has it back; NULL: never, and `down` alone decides. */
	bool (*network_up)(void *owner);
};

struct net_host {
	uv_loop_t *loop;
	const struct net_map *map; /* --resolve and --route: shared, read at each open */
	int trace_id; /* the "modem" of its trace events */
	struct net_link_policy policy; /* changes apply to new connections; see net_link_update */
	const struct net_host_ops *ops; /* NULL: nothing goes up */
	void *owner; /* the ops' argument */
	struct net_conn *conns; /* every connection opened here and not yet freed */
};

/* Set up h (nothing to fail): no policy, no connection. map may be NULL (no overrides). */
void net_host_init(struct net_host *h, uv_loop_t *loop, const struct net_map *map, int trace_id,
                   const struct net_host_ops *ops, void *owner);
/* The owner goes: no call up from now on and the policy is lifted, so connections that still
 * close gracefully finish as on a healthy link. Every connection must have been released
 * before (net_conn_close or net_conn_abort); the memory rule above still holds. */
void net_host_free(struct net_host *h);

/* The host's policy (never NULL; the same as &h->policy). Changes apply to new connections;
 * call net_link_update() after changing `down`. */
struct net_link_policy *net_link_policy(struct net_host *h);
/* Re-apply the host's policy to its live connections: resume reading and sending after
 * `down` cleared, start the connections that waited for the network. */
void net_link_update(struct net_host *h);

/* Call fn for each live connection of h (not released, not dead); returns how many. fn must
 * not release the connection. */
int net_conn_each(struct net_host *h, void (*fn)(struct net_conn *c, void *arg), void *arg);

#endif
