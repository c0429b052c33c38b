/* SIMCom (SIM7600, A7670, SIM7670G) network commands of their own: AT+CPSI? (SIM7600 manual
 * V3.00 4.2.x, A76XX manual V1.09 4.2.x). The 27.007 ones (+CPIN, +CREG, +CGREG, +CEREG, +COPS,
 * +CSQ, +CCLK, +CFUN) are cmd_network.c's at_family_network_3gpp_simcom.
 *
 * +CPSI for LTE as seed 003's SIM7600E prints it:
 *   +CPSI: LTE,Online,505-01,0x309D,136092930,257,EUTRAN-BAND3,1275,4,4,-178,-1185,-789,7
 *   <System Mode>,<Operation Mode>,<MCC>-<MNC>,<TAC>,<SCellID>,<PCellID>,<Frequency Band>,
 *   <earfcn>,<dlbw>,<ulbw>,<RSRQ>,<RSRP>,<RSSI>,<RSSNR> (RSRQ, RSRP, RSSI in tenths of dB).
 * Not registered: `+CPSI: NO SERVICE,Online` (the manual's form); radio off: `+CPSI: NO
 * SERVICE,Low Power Mode`. PCellID 257 and bandwidths 4/4 (20 MHz) are a choice. */
#include <stdio.h>
#include <string.h>

#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

static int cmd_cpsi(struct at_call *c)
{
	struct modem *m = c->m;
	const struct reg_state *r = &m->reg;
	const char *num = r->oper_numeric;
	size_t n = strlen(num);

	if (c->req == AT_REQ_TEST) {
		at_info(m, "+CPSI: (0-255)");
		return AT_OK;
	}
	if (c->req == AT_REQ_WRITE)
		return AT_OK; /* the reporting interval: no periodic report is simulated */
	if (m->cfun != 1) {
		at_info(m, "+CPSI: NO SERVICE,Low Power Mode");
		return AT_OK;
	}
	if (!reg_registered(m) || n < 5) {
		at_info(m, "+CPSI: NO SERVICE,Online");
		return AT_OK;
	}
	at_info(m, "+CPSI: LTE,Online,%.3s-%s,0x%04X,%u,257,%s,%d,4,4,%d,%d,%d,%d", num, num + 3,
	        r->lac & 0xFFFF, r->ci, r->band, r->channel, r->rsrq * 10, r->rsrp * 10,
	        r->lte_rssi * 10, r->sinr / 5 - 20);
	return AT_OK;
}

static const struct at_cmd network_simcom_cmds[] = {
        {"+CPSI", AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_NUM(0, 255)), NULL, 0,
         0, cmd_cpsi},
        {0},
};

const struct at_family at_family_network_simcom = {
        .name = "network-simcom",
        .cmds = network_simcom_cmds,
};
