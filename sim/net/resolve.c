#include "net/resolve.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void net_map_init(struct net_map *map)
{
	memset(map, 0, sizeof(*map));
}

void net_map_free(struct net_map *map)
{
	free(map->entries);
	free(map->routes);
	memset(map, 0, sizeof(*map));
}

/* Host names compare case-insensitively (RFC 4343), and "name." is the same name as "name"
 * (a fully qualified name's root dot). Writes the normalised name; false if it does not fit. */
static bool normalise(const char *in, size_t n, char *out)
{
	if (n && in[n - 1] == '.' && !(n == 2 && in[0] == '*')) /* "*." is no name */
		n--;
	if (n > NET_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return true;
}

static bool label_char(char c)
{
	/* '_' is not a host name character (RFC 952) but appears in real service names. */
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* A host name of labels separated by single dots, none empty. */
static bool valid_name(const char *s)
{
	size_t label = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (label_char(*s)) {
			if (++label > 63) /* RFC 1035 2.3.4 */
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* "*", "*.suffix" or a name (already normalised). */
static bool valid_pattern(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	if (s[0] == '*')
		return s[1] == '.' && valid_name(s + 2);
	return valid_name(s);
}

static struct net_entry *find_entry(const struct net_map *map, const char *name)
{
	for (size_t i = 0; i < map->n_entries; i++)
		if (strcmp(map->entries[i].name, name) == 0)
			return &map->entries[i];
	return NULL;
}

int net_map_set(struct net_map *map, const char *name, enum net_entry_kind kind,
                struct in_addr addr)
{
	char norm[NET_NAME_MAX + 1];
	struct net_entry *e;

	if (!normalise(name, strlen(name), norm) || !valid_pattern(norm))
		return -ERR_NAME;
	e = find_entry(map, norm);
	if (!e) {
		if (map->n_entries == map->cap_entries) {
			size_t cap = map->cap_entries ? map->cap_entries * 2 : 8;
			struct net_entry *p = realloc(map->entries, cap * sizeof(*p));

			if (!p)
				return -ERR_NOMEM;
			map->entries = p;
			map->cap_entries = cap;
		}
		e = &map->entries[map->n_entries++];
		memset(e, 0, sizeof(*e));
		memcpy(e->name, norm, strlen(norm) + 1);
	}
	e->kind = kind;
	e->addr = kind == NET_ENTRY_ADDR ? addr : (struct in_addr){0};
	return 0;
}

int net_map_add_resolve(struct net_map *map, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char name[NET_NAME_MAX + 2];
	struct in_addr addr = {0};
	enum net_entry_kind kind;
	size_t n;

	if (!eq)
		return -ERR_SYNTAX;
	n = (size_t)(eq - spec);
	if (n == 0 || n >= sizeof(name))
		return -ERR_NAME;
	memcpy(name, spec, n);
	name[n] = '\0';
	if (strcmp(eq + 1, "fail") == 0)
		kind = NET_ENTRY_FAIL;
	else if (inet_pton(AF_INET, eq + 1, &addr) == 1)
		kind = NET_ENTRY_ADDR;
	else
		return -ERR_SYNTAX;
	return net_map_set(map, name, kind, addr);
}

int net_map_remove(struct net_map *map, const char *name)
{
	char norm[NET_NAME_MAX + 1];
	struct net_entry *e;

	if (!normalise(name, strlen(name), norm))
		return -ERR_NOENT;
	e = find_entry(map, norm);
	if (!e)
		return -ERR_NOENT;
	*e = map->entries[--map->n_entries];
	return 0;
}

const struct net_entry *net_map_match(const struct net_map *map, const char *host)
{
	char norm[NET_NAME_MAX + 1];
	const struct net_entry *best = NULL, *any = NULL;
	size_t best_len = 0, n;

	if (!map || !normalise(host, strlen(host), norm) || !*norm)
		return NULL;
	n = strlen(norm);
	for (size_t i = 0; i < map->n_entries; i++) {
		const struct net_entry *e = &map->entries[i];
		size_t sl;

		if (strcmp(e->name, norm) == 0)
			return e; /* an exact name beats every wildcard */
		if (strcmp(e->name, "*") == 0) {
			any = e;
			continue;
		}
		if (e->name[0] != '*')
			continue;
		/* "*.suffix" stands for names below suffix, not suffix itself (as in DNS wildcards
		 * and certificate names); one or more labels may replace the star. */
		sl = strlen(e->name) - 1; /* ".suffix" */
		if (n > sl && memcmp(norm + n - sl, e->name + 1, sl) == 0 && sl > best_len) {
			best = e;
			best_len = sl;
		}
	}
	return best ? best : any;
}

enum net_plan net_map_plan(const struct net_map *map, const char *host, struct in_addr *addr,
                           const struct net_entry **used)
{
	const struct net_entry *e = NULL;
	struct in_addr lit;
	bool literal = inet_pton(AF_INET, host, &lit) == 1;

	if (used)
		*used = NULL;
	if (literal) {
		/* Only an entry for this very literal applies to an address. */
		e = map ? find_entry(map, host) : NULL;
		if (!e) {
			*addr = lit;
			return NET_PLAN_ADDR;
		}
	} else {
		char norm[NET_NAME_MAX + 1];

		/* What no resolver would take ("mqtts://host", "a b", "") stays unresolved
		 * even under "*", as on the module, rather than reaching the test broker. */
		if (!normalise(host, strlen(host), norm) || !valid_name(norm))
			return NET_PLAN_FAIL;
		e = net_map_match(map, host);
	}
	if (!e)
		return NET_PLAN_LOOKUP;
	if (used)
		*used = e;
	switch (e->kind) {
	case NET_ENTRY_ADDR:
		*addr = e->addr;
		return NET_PLAN_ADDR;
	case NET_ENTRY_FAIL:
		return NET_PLAN_FAIL;
	}
	return NET_PLAN_FAIL;
}

static int parse_port(const char *s, size_t n, int *out)
{
	long v = 0;

	if (n == 0 || n > 5)
		return n ? -ERR_RANGE : -ERR_SYNTAX;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -ERR_SYNTAX;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -ERR_RANGE;
	*out = (int)v;
	return 0;
}

static struct net_route *find_route(const struct net_map *map, int port)
{
	for (size_t i = 0; i < map->n_routes; i++)
		if (map->routes[i].port == port)
			return &map->routes[i];
	return NULL;
}

static int put_route(struct net_map *map, const struct net_route *r)
{
	struct net_route *slot = find_route(map, r->port);

	if (!slot) {
		if (map->n_routes == map->cap_routes) {
			size_t cap = map->cap_routes ? map->cap_routes * 2 : 4;
			struct net_route *p = realloc(map->routes, cap * sizeof(*p));

			if (!p)
				return -ERR_NOMEM;
			map->routes = p;
			map->cap_routes = cap;
		}
		slot = &map->routes[map->n_routes++];
	}
	*slot = *r;
	return 0;
}

static const struct {
	const char *name;
	enum net_route_kind kind;
} broker_targets[] = {
        {"@plain", NET_ROUTE_BROKER_PLAIN},
        {"@tls", NET_ROUTE_BROKER_TLS},
        {"@mutual", NET_ROUTE_BROKER_MUTUAL},
};

int net_map_add_route(struct net_map *map, const char *spec)
{
	const char *eq = strchr(spec, '='), *target, *colon;
	struct net_route r = {0};
	char host[INET_ADDRSTRLEN];
	int rc;

	if (!eq)
		return -ERR_SYNTAX;
	rc = parse_port(spec, (size_t)(eq - spec), &r.port);
	if (rc)
		return rc;
	target = eq + 1;
	for (size_t i = 0; i < sizeof(broker_targets) / sizeof(broker_targets[0]); i++) {
		if (strcmp(target, broker_targets[i].name) == 0) {
			r.kind = broker_targets[i].kind;
			return put_route(map, &r);
		}
	}
	/* A route is applied after resolution, so its target is an address, not a name. */
	colon = strrchr(target, ':');
	if (!colon || (size_t)(colon - target) >= sizeof(host))
		return -ERR_SYNTAX;
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	if (inet_pton(AF_INET, host, &r.addr) != 1)
		return -ERR_SYNTAX;
	rc = parse_port(colon + 1, strlen(colon + 1), &r.to_port);
	if (rc)
		return rc;
	r.kind = NET_ROUTE_ADDR;
	return put_route(map, &r);
}

int net_map_default_route(struct net_map *map, int port, enum net_route_kind kind)
{
	struct net_route r = {.port = port, .kind = kind};

	if (find_route(map, port))
		return 0;
	return put_route(map, &r);
}

const struct net_route *net_map_route(const struct net_map *map, int port)
{
	return map ? find_route(map, port) : NULL;
}

int net_map_bind_broker(struct net_map *map, int plain, int tls, int mutual, int *bad)
{
	int rc = 0;

	for (size_t i = 0; i < map->n_routes; i++) {
		struct net_route *r = &map->routes[i];
		int to = 0;

		switch (r->kind) {
		case NET_ROUTE_ADDR:
			continue;
		case NET_ROUTE_BROKER_PLAIN:
			to = plain;
			break;
		case NET_ROUTE_BROKER_TLS:
			to = tls;
			break;
		case NET_ROUTE_BROKER_MUTUAL:
			to = mutual;
			break;
		}
		r->addr.s_addr = htonl(INADDR_LOOPBACK);
		r->to_port = to;
		if (!to && rc == 0) {
			rc = -ERR_NOENT;
			if (bad)
				*bad = r->port;
		}
	}
	return rc;
}

void net_route_str(const struct net_route *r, char *out, size_t len)
{
	char a[INET_ADDRSTRLEN];

	if (r->kind != NET_ROUTE_ADDR && !r->to_port) {
		for (size_t i = 0; i < sizeof(broker_targets) / sizeof(broker_targets[0]); i++)
			if (broker_targets[i].kind == r->kind)
				snprintf(out, len, "%s", broker_targets[i].name);
		return;
	}
	inet_ntop(AF_INET, &r->addr, a, sizeof(a));
	snprintf(out, len, "%s:%d", a, r->to_port);
}
