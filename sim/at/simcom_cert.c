/* SIMCom (SIM7600, A7670, SIM7670G): AT+CCERTDOWN +CCERTLIST +CCERTDELE (the certificate store,
 * names without a drive). */
#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static const struct at_cmd cert_simcom_cmds[] = {
        {0},
};

const struct at_family at_family_cert_simcom = {
        .name = "cert-simcom",
        .cmds = cert_simcom_cmds,
};
