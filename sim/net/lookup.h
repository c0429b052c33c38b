/* A name lookup on its own (AT+QIDNSGIP): the same resolver a connection uses (net/resolve.h's
 * plan: --resolve overrides, the scenario's dns.fail entries, IPv4 literals, else the system
 * resolver), with every IPv4 address it gives instead of the first. */
#ifndef MODEMSIM_NET_LOOKUP_H
#define MODEMSIM_NET_LOOKUP_H

#include <netinet/in.h>
#include <stddef.h>

struct net_host;
struct net_lookup;

#define NET_LOOKUP_MAX 8 /* addresses reported at most */

/* status 0 with n >= 1 addresses, or -NET_ERR_DNS (n 0). addrs is valid during the call. */
typedef void (*net_lookup_cb)(void *arg, int status, const struct in_addr *addrs, size_t n);

/* Resolve name on h's map. An override, a dns.fail entry or a literal answers at once: cb runs
 * before this returns and *out is NULL. Else *out is the lookup in flight, and cb runs from the
 * loop unless net_lookup_cancel() came first. Returns 0, or -ERR_NOMEM (cb not called). */
int net_lookup_start(struct net_host *h, const char *name, net_lookup_cb cb, void *arg,
                     struct net_lookup **out);
/* cb will not run (the lookup's memory goes when the system answers). */
void net_lookup_cancel(struct net_lookup *l);

#endif
