#include "modem/net.h"

#include <string.h>

#include "modem/modem.h"

void net_init(struct modem *m)
{
	memset(&m->net, 0, sizeof(m->net));
	m->net.stat = 1;
}

void net_reboot(struct modem *m)
{
	net_init(m);
}
