/* SIMCom (SIM7600, A7670, SIM7670G): the SSL/TCP socket service AT+CCH* (reference §7.3). */
#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static const struct at_cmd cch_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_cch_simcom = {
        .name = "cch-simcom",
        .cmds = cch_simcom_cmds,
};

bool simcom_cch_started(struct modem *m)
{
	(void)m;
	return false;
}
