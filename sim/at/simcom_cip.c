/* SIMCom (SIM7600, A7670, SIM7670G): TCP/UDP sockets AT+CIPOPEN +CIPSEND +CIPRXGET +CIPCLOSE
 * +CIPMODE (reference §7.2). */
#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static const struct at_cmd cip_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_cip_simcom = {
        .name = "cip-simcom",
        .cmds = cip_simcom_cmds,
};
