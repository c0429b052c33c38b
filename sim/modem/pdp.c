#include "modem/pdp.h"

#include <string.h>

#include "modem/modem.h"

void pdp_init(struct modem *m)
{
	memset(&m->pdp, 0, sizeof(m->pdp));
}

void pdp_reboot(struct modem *m)
{
	pdp_init(m);
}

void pdp_free(struct modem *m)
{
	(void)m;
}
