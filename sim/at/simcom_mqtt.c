/* SIMCom MQTT(S): AT+CMQTT* (reference §1-§5): two tables, at_family_mqtt_sim7600 (SIM7500/
 * SIM7600 manual V3.00 ch. 16) and at_family_mqtt_a7670 (A76XX manual V1.09 ch. 18: A7670,
 * SIM7670G); the per-model differences they share are m->model->simcom. */
#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static const struct at_cmd mqtt_sim7600_cmds[] = {
        {0},
};

static const struct at_cmd mqtt_a7670_cmds[] = {
        {0},
};

const struct at_family at_family_mqtt_sim7600 = {
        .name = "mqtt-simcom",
        .cmds = mqtt_sim7600_cmds,
};

const struct at_family at_family_mqtt_a7670 = {
        .name = "mqtt-simcom-a76xx",
        .cmds = mqtt_a7670_cmds,
};

bool simcom_mqtt_started(struct modem *m)
{
	(void)m;
	return false;
}
