/* Where the modem's connections go (pure): name overrides (--resolve) and port routes (--route).
 *
 * A connection to host H, port P is planned in two steps:
 *   1. the address of H: an override entry if one matches (exact name, then the longest
 *      "*.suffix", then "*"), else H itself when it is an IPv4 literal, else a real lookup;
 *      an entry of kind FAIL makes the name unresolvable (a scenario's "DNS failure");
 *   2. the route of P: if a route for port P exists, the connection goes to its target instead,
 *      whatever the address was (so "anything:8883" reaches the local TLS broker).
 * Nothing here does I/O: net/conn.c does the lookup and the connecting. */
#ifndef MODEMSIM_NET_RESOLVE_H
#define MODEMSIM_NET_RESOLVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#define NET_NAME_MAX 253 /* RFC 1035 2.3.4: 255 octets on the wire, 253 characters as text */

enum net_entry_kind {
	NET_ENTRY_ADDR, /* the name resolves to addr */
	NET_ENTRY_FAIL, /* the name does not resolve (ADDR "fail") */
};

struct net_entry {
	char name[NET_NAME_MAX + 1]; /* lower case: "host.example", "*.suffix" or "*" */
	enum net_entry_kind kind;
	struct in_addr addr;
};

enum net_route_kind {
	NET_ROUTE_ADDR, /* HOST:PORT with an IPv4 literal */
	NET_ROUTE_BROKER_PLAIN, /* "@plain": the embedded broker's plain listener */
	NET_ROUTE_BROKER_TLS, /* "@tls": its TLS listener (server authentication) */
	NET_ROUTE_BROKER_MUTUAL, /* "@mutual": its TLS listener that requires a client cert */
};

struct net_route {
	int port; /* destination port this route takes */
	enum net_route_kind kind;
	struct in_addr addr; /* the target, once known (broker routes: when the broker is up) */
	int to_port; /* 0 while a broker route's listener is not known */
};

struct net_map {
	struct net_entry *entries;
	size_t n_entries, cap_entries;
	struct net_route *routes;
	size_t n_routes, cap_routes;
};

enum net_plan {
	NET_PLAN_ADDR, /* *addr is the answer */
	NET_PLAN_LOOKUP, /* ask the system resolver */
	NET_PLAN_FAIL, /* the name must not resolve: a FAIL entry, or not a host name at all */
};

void net_map_init(struct net_map *map);
void net_map_free(struct net_map *map); /* safe on an initialised or zeroed map */

/* "NAME=ADDR" (--resolve): NAME is a host name, "*.suffix" or "*"; ADDR an IPv4 literal or
 * "fail". A later entry for the same NAME replaces the earlier one. Returns 0, -ERR_NAME (bad
 * NAME), -ERR_SYNTAX (bad ADDR or no '=') or -ERR_NOMEM. */
int net_map_add_resolve(struct net_map *map, const char *spec);
/* The same from parts (scenarios, the embedded broker's defaults). addr is ignored for FAIL. */
int net_map_set(struct net_map *map, const char *name, enum net_entry_kind kind,
                struct in_addr addr);
/* Drop the entry for exactly this NAME pattern; returns 0 or -ERR_NOENT. */
int net_map_remove(struct net_map *map, const char *name);
/* The entry that decides host, or NULL. */
const struct net_entry *net_map_match(const struct net_map *map, const char *host);
/* How to resolve host. For NET_PLAN_ADDR, *addr is set; *used (if not NULL) gets the entry
 * that decided, or NULL. An IPv4 literal host uses only an exact entry: wildcards stand for
 * names, and an address needs no lookup. */
enum net_plan net_map_plan(const struct net_map *map, const char *host, struct in_addr *addr,
                           const struct net_entry **used);

/* "PORT=HOST:PORT" or "PORT=@plain|@tls|@mutual" (--route). A later route for the same PORT
 * replaces the earlier one. Returns 0, -ERR_SYNTAX, -ERR_RANGE (a port outside 1-65535) or
 * -ERR_NOMEM. */
int net_map_add_route(struct net_map *map, const char *spec);
/* Add a route unless one for port exists (the embedded broker's defaults yield to --route). */
int net_map_default_route(struct net_map *map, int port, enum net_route_kind kind);
/* The route for a destination port, or NULL. A route with to_port 0 is not usable yet. */
const struct net_route *net_map_route(const struct net_map *map, int port);
/* Fill in the broker routes: listeners on 127.0.0.1 (port 0: that listener does not exist).
 * Returns 0, or -ERR_NOENT if a route names a missing listener (*bad gets its port). */
int net_map_bind_broker(struct net_map *map, int plain, int tls, int mutual, int *bad);

/* Text of a route target for messages: "127.0.0.1:41234" or "@tls". */
void net_route_str(const struct net_route *r, char *out, size_t len);

#endif
