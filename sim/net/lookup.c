#include "net/lookup.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "net/host.h"
#include "net/resolve.h"

struct net_lookup {
	uv_getaddrinfo_t gai;
	net_lookup_cb cb; /* NULL once cancelled */
	void *arg;
	int trace_id;
	char name[NET_NAME_MAX + 1];
};

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct net_lookup *l = req->data;
	struct in_addr addrs[NET_LOOKUP_MAX];
	size_t n = 0;

	for (struct addrinfo *ai = status == 0 ? res : NULL; ai && n < NET_LOOKUP_MAX;
	     ai = ai->ai_next) {
		struct in_addr a;
		size_t i;

		if (ai->ai_family != AF_INET)
			continue;
		a = ((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
		for (i = 0; i < n && addrs[i].s_addr != a.s_addr; i++)
			;
		if (i == n) /* one entry per address, whatever the socket types */
			addrs[n++] = a;
	}
	if (res)
		uv_freeaddrinfo(res);
	if (l->cb) {
		trace_event(l->trace_id, "net", "lookup of %s: %zu address%s%s", l->name, n,
		            n == 1 ? "" : "es", status < 0 ? " (system resolver failed)" : "");
		l->cb(l->arg, n ? 0 : -NET_ERR_DNS, addrs, n);
	}
	free(l);
}

int net_lookup_start(struct net_host *h, const char *name, net_lookup_cb cb, void *arg,
                     struct net_lookup **out)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	struct in_addr addr = {0};
	struct net_lookup *l;

	*out = NULL;
	switch (net_map_plan(h->map, name, &addr, NULL)) {
	case NET_PLAN_ADDR:
		cb(arg, 0, &addr, 1);
		return 0;
	case NET_PLAN_FAIL:
		trace_event(h->trace_id, "net", "lookup of %s: does not resolve", name);
		cb(arg, -NET_ERR_DNS, NULL, 0);
		return 0;
	case NET_PLAN_LOOKUP:
		break;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ERR_NOMEM;
	l->cb = cb;
	l->arg = arg;
	l->trace_id = h->trace_id;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->gai.data = l;
	if (uv_getaddrinfo(h->loop, &l->gai, on_resolved, l->name, NULL, &hints) != 0) {
		free(l);
		cb(arg, -NET_ERR_DNS, NULL, 0);
		return 0;
	}
	*out = l;
	return 0;
}

void net_lookup_cancel(struct net_lookup *l)
{
	if (!l)
		return;
	l->cb = NULL;
	uv_cancel((uv_req_t *)&l->gai); /* the callback still comes, and frees l */
}
