/* SIMCom (SIM7600, A7670, SIM7670G): +CPIN +CREG +CGREG +CEREG +COPS +CSQ +CPSI +CFUN +CCLK +CTZU
 * +CNTP. */
#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static const struct at_cmd network_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_network_simcom = {
        .name = "network-simcom",
        .cmds = network_simcom_cmds,
};
