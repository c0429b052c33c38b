/* The override map (--resolve) and the port routes (--route), table-driven. */
#include <arpa/inet.h>

#include "check.h"
#include "core/err.h"
#include "net/resolve.h"

struct spec_row {
	const char *spec;
	int rc;
};

static const struct spec_row resolve_specs[] = {
        {"broker.example=10.0.0.1", 0},
        {"Broker.Example.=10.0.0.2", 0}, /* same name: replaces */
        {"*.amazonaws.com=10.0.0.3", 0},
        {"*.iot.us-east-1.amazonaws.com=10.0.0.4", 0},
        {"*=127.0.0.1", 0},
        {"dead.example=fail", 0},
        {"*.dead.example=fail", 0},
        {"203.0.113.9=127.0.0.2", 0}, /* an exact entry for a literal */
        {"under_score.example=10.0.0.5", 0},
        {"", -ERR_SYNTAX},
        {"no-equals", -ERR_SYNTAX},
        {"=1.2.3.4", -ERR_NAME},
        {"a=", -ERR_SYNTAX},
        {"a=1.2.3", -ERR_SYNTAX},
        {"a=256.1.1.1", -ERR_SYNTAX},
        {"a=1.2.3.4 ", -ERR_SYNTAX},
        {"a=FAIL", -ERR_SYNTAX},
        {"a=::1", -ERR_SYNTAX},
        {"**=1.2.3.4", -ERR_NAME},
        {"*.=1.2.3.4", -ERR_NAME},
        {"*example.com=1.2.3.4", -ERR_NAME},
        {"a.*.com=1.2.3.4", -ERR_NAME},
        {"a..b=1.2.3.4", -ERR_NAME},
        {".a=1.2.3.4", -ERR_NAME},
        {".=1.2.3.4", -ERR_NAME},
        {"a b=1.2.3.4", -ERR_NAME},
        {"a=b=1.2.3.4", -ERR_SYNTAX},
        /* 64-character label: one past RFC 1035's 63 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b=1.2.3.4", -ERR_NAME},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b=1.2.3.4", 0},
};

struct plan_row {
	const char *host;
	enum net_plan plan;
	const char *addr; /* NET_PLAN_ADDR */
	const char *entry; /* the deciding entry's name, or NULL */
};

static const struct plan_row plan_rows[] = {
        {"broker.example", NET_PLAN_ADDR, "10.0.0.2", "broker.example"},
        {"BROKER.EXAMPLE", NET_PLAN_ADDR, "10.0.0.2", "broker.example"},
        {"broker.example.", NET_PLAN_ADDR, "10.0.0.2", "broker.example"},
        /* longest suffix wins; the exact-match table order does not matter */
        {"a1b2c3-ats.iot.us-east-1.amazonaws.com", NET_PLAN_ADDR, "10.0.0.4",
         "*.iot.us-east-1.amazonaws.com"},
        {"a1b2c3-ats.iot.eu-west-1.amazonaws.com", NET_PLAN_ADDR, "10.0.0.3", "*.amazonaws.com"},
        {"s3.amazonaws.com", NET_PLAN_ADDR, "10.0.0.3", "*.amazonaws.com"},
        /* "*.suffix" does not cover the suffix itself, nor a name that merely ends alike */
        {"amazonaws.com", NET_PLAN_ADDR, "127.0.0.1", "*"},
        {"notamazonaws.com", NET_PLAN_ADDR, "127.0.0.1", "*"},
        {"iot.us-east-1.amazonaws.com", NET_PLAN_ADDR, "10.0.0.3", "*.amazonaws.com"},
        {"other.example", NET_PLAN_ADDR, "127.0.0.1", "*"},
        {"dead.example", NET_PLAN_FAIL, NULL, "dead.example"},
        {"x.dead.example", NET_PLAN_FAIL, NULL, "*.dead.example"},
        {"under_score.example", NET_PLAN_ADDR, "10.0.0.5", "under_score.example"},
        /* literals: only an exact entry applies, never "*" */
        {"192.0.2.7", NET_PLAN_ADDR, "192.0.2.7", NULL},
        {"203.0.113.9", NET_PLAN_ADDR, "127.0.0.2", "203.0.113.9"},
        /* not host names at all: unresolved even under "*" */
        {"", NET_PLAN_FAIL, NULL, NULL},
        {".", NET_PLAN_FAIL, NULL, NULL},
        {"mqtts://broker.example", NET_PLAN_FAIL, NULL, NULL},
        {"a b", NET_PLAN_FAIL, NULL, NULL},
        {"a..b", NET_PLAN_FAIL, NULL, NULL},
        {"::1", NET_PLAN_FAIL, NULL, NULL},
};

static void test_specs(struct net_map *map)
{
	for (size_t i = 0; i < sizeof(resolve_specs) / sizeof(resolve_specs[0]); i++) {
		int rc = net_map_add_resolve(map, resolve_specs[i].spec);

		if (rc != resolve_specs[i].rc)
			fprintf(stderr, "spec %s: got %d want %d\n", resolve_specs[i].spec, rc,
			        resolve_specs[i].rc);
		CHECK(rc == resolve_specs[i].rc);
	}
	/* nine good specs, one of them a replacement, plus the 63-character label */
	CHECK(map->n_entries == 9);
}

static void test_plans(const struct net_map *map)
{
	for (size_t i = 0; i < sizeof(plan_rows) / sizeof(plan_rows[0]); i++) {
		const struct plan_row *r = &plan_rows[i];
		const struct net_entry *used = NULL;
		struct in_addr a = {0};
		char got[INET_ADDRSTRLEN] = "";
		enum net_plan p = net_map_plan(map, r->host, &a, &used);
		bool ok = p == r->plan;

		if (p == NET_PLAN_ADDR)
			inet_ntop(AF_INET, &a, got, sizeof(got));
		if (r->addr)
			ok = ok && strcmp(got, r->addr) == 0;
		if (r->entry)
			ok = ok && used && strcmp(used->name, r->entry) == 0;
		else
			ok = ok && !used;
		if (!ok)
			fprintf(stderr, "plan %s: got %d %s via %s\n", r->host, p, got,
			        used ? used->name : "-");
		CHECK(ok);
	}
}

static void test_without_star(void)
{
	struct net_map map;
	struct in_addr a;

	net_map_init(&map);
	/* no map at all: names are looked up, literals used as they are */
	CHECK(net_map_plan(NULL, "broker.example", &a, NULL) == NET_PLAN_LOOKUP);
	CHECK(net_map_plan(NULL, "10.1.2.3", &a, NULL) == NET_PLAN_ADDR &&
	      a.s_addr == htonl(0x0a010203));
	CHECK(net_map_add_resolve(&map, "*.example=10.9.9.9") == 0);
	CHECK(net_map_plan(&map, "a.example", &a, NULL) == NET_PLAN_ADDR &&
	      a.s_addr == htonl(0x0a090909));
	CHECK(net_map_plan(&map, "a.example.org", &a, NULL) == NET_PLAN_LOOKUP);
	CHECK(net_map_match(&map, "a.example.org") == NULL);
	/* a scenario turns a name's resolution off and on again */
	CHECK(net_map_set(&map, "a.example", NET_ENTRY_FAIL, (struct in_addr){0}) == 0);
	CHECK(net_map_plan(&map, "a.example", &a, NULL) == NET_PLAN_FAIL);
	CHECK(net_map_plan(&map, "b.example", &a, NULL) == NET_PLAN_ADDR);
	CHECK(net_map_remove(&map, "A.Example") == 0);
	CHECK(net_map_remove(&map, "a.example") == -ERR_NOENT);
	CHECK(net_map_plan(&map, "a.example", &a, NULL) == NET_PLAN_ADDR);
	CHECK(net_map_set(&map, "bad name", NET_ENTRY_FAIL, (struct in_addr){0}) == -ERR_NAME);
	net_map_free(&map);
	net_map_free(&map); /* twice is safe */
}

struct route_row {
	const char *spec;
	int rc;
};

static const struct route_row route_specs[] = {
        {"8883=127.0.0.1:18883", 0},
        {"1883=@plain", 0},
        {"8883=127.0.0.1:28883", 0}, /* replaces */
        {"443=@mutual", 0},
        {"65535=10.0.0.1:1", 0},
        {"1=10.0.0.1:65535", 0},
        {"8884=@tls", 0},
        {"", -ERR_SYNTAX},
        {"8883", -ERR_SYNTAX},
        {"=127.0.0.1:1", -ERR_SYNTAX},
        {"0=127.0.0.1:1", -ERR_RANGE},
        {"65536=127.0.0.1:1", -ERR_RANGE},
        {"123456=127.0.0.1:1", -ERR_RANGE},
        {"-1=127.0.0.1:1", -ERR_SYNTAX},
        {"8883=127.0.0.1", -ERR_SYNTAX},
        {"8883=127.0.0.1:", -ERR_SYNTAX},
        {"8883=127.0.0.1:0", -ERR_RANGE},
        {"8883=127.0.0.1:65536", -ERR_RANGE},
        {"8883=localhost:1", -ERR_SYNTAX},
        {"8883=:1", -ERR_SYNTAX},
        {"8883=@other", -ERR_SYNTAX},
        {"88a3=127.0.0.1:1", -ERR_SYNTAX},
};

static void test_routes(void)
{
	struct net_map map;
	const struct net_route *r;
	char s[64];
	int bad = 0;

	net_map_init(&map);
	for (size_t i = 0; i < sizeof(route_specs) / sizeof(route_specs[0]); i++) {
		int rc = net_map_add_route(&map, route_specs[i].spec);

		if (rc != route_specs[i].rc)
			fprintf(stderr, "route %s: got %d want %d\n", route_specs[i].spec, rc,
			        route_specs[i].rc);
		CHECK(rc == route_specs[i].rc);
	}
	CHECK(map.n_routes == 6);
	r = net_map_route(&map, 8883);
	CHECK(r && r->kind == NET_ROUTE_ADDR && r->to_port == 28883 &&
	      r->addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(net_map_route(&map, 8884) && net_map_route(&map, 8884)->to_port == 0);
	CHECK(net_map_route(&map, 80) == NULL);
	CHECK(net_map_route(NULL, 8883) == NULL);
	net_route_str(net_map_route(&map, 1883), s, sizeof(s));
	CHECK(strcmp(s, "@plain") == 0);
	/* --route beats the broker's defaults; a new port gets one */
	CHECK(net_map_default_route(&map, 8883, NET_ROUTE_BROKER_TLS) == 0);
	CHECK(net_map_route(&map, 8883)->kind == NET_ROUTE_ADDR);
	CHECK(net_map_default_route(&map, 9883, NET_ROUTE_BROKER_TLS) == 0);
	CHECK(net_map_route(&map, 9883)->kind == NET_ROUTE_BROKER_TLS);
	/* binding: a broker without a mutual listener cannot serve the 443 route */
	CHECK(net_map_bind_broker(&map, 40001, 40002, 0, &bad) == -ERR_NOENT && bad == 443);
	CHECK(net_map_bind_broker(&map, 40001, 40002, 40003, &bad) == 0);
	CHECK(net_map_route(&map, 1883)->to_port == 40001);
	CHECK(net_map_route(&map, 8884)->to_port == 40002);
	CHECK(net_map_route(&map, 443)->to_port == 40003);
	CHECK(net_map_route(&map, 8883)->to_port == 28883);
	net_route_str(net_map_route(&map, 443), s, sizeof(s));
	CHECK(strcmp(s, "127.0.0.1:40003") == 0);
	net_map_free(&map);
}

int main(void)
{
	struct net_map map;

	net_map_init(&map);
	test_specs(&map);
	test_plans(&map);
	net_map_free(&map);
	test_without_star();
	test_routes();
	return check_exit();
}
