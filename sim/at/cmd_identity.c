/* Identity commands: manufacturer, model, revision, IMEI, IMSI, ICCID (reference §7).
 *
 * Every answer is one bare information line, except the ICCID: the EC25 prints
 * `+QCCID: <iccid>` (reference §7), the M95 prints `+CCID: "<iccid>"` for AT+CCID (an M95
 * driver compares the reply with "+CCID: " and copies the 20 characters after the first quote)
 * and the bare ICCID for AT+QCCID (the Quectel GSM command tables list +QCCID with no prefix
 * and a hex-digit answer; an MC60 driver reads the line after the echo as the ICCID).
 * The test form of each answers OK, as V.250 and the Quectel manuals define it for action
 * commands without parameters. */
#include <stdio.h>

#include "at/families.h"
#include "modem/modem.h"

static int cmd_cgmi(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->model->manufacturer);
	return AT_OK;
}

static int cmd_cgmm(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->model->model);
	return AT_OK;
}

/* EC25: the bare revision (reference §7, BG770A capture form, the field log's
 * `AT+GMR` -> `EC25AFFAR07A08M4G`). */
static int cmd_gmr_ec25(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->model->revision);
	return AT_OK;
}

/* M95: the Quectel GSM manuals print the revision with the same "Revision: " label as ATI
 * (M10/M95 AT manuals, AT+GMR / AT+CGMR examples). [MEM: no capture found] */
static int cmd_gmr_m95(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "Revision: %s", c->m->model->revision);
	return AT_OK;
}

/* AT+QGMR: `<revision>_<subrevision>` (EG25-G capture EG25GGBR07A08M2G_30.203.30.203). */
static int cmd_qgmr(struct at_call *c)
{
	const struct model_profile *p = c->m->model;

	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s_%s", p->revision, p->subrevision ? p->subrevision : "");
	return AT_OK;
}

static int cmd_gsn(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->id.imei);
	return AT_OK;
}

static int cmd_cimi(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->id.imsi);
	return AT_OK;
}

static int cmd_qccid_ec25(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "+QCCID: %s", c->m->id.iccid);
	return AT_OK;
}

static int cmd_ccid_m95(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "+CCID: \"%s\"", c->m->id.iccid);
	return AT_OK;
}

static int cmd_qccid_m95(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "%s", c->m->id.iccid);
	return AT_OK;
}

#define ID_ROW(n, fn, flags)                                                                       \
	{                                                                                          \
		n, AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, flags, 0, fn                    \
	}

static const struct at_cmd identity_ec25_cmds[] = {
        ID_ROW("+CGMI", cmd_cgmi, 0),
        ID_ROW("+GMI", cmd_cgmi, 0),
        ID_ROW("+CGMM", cmd_cgmm, 0),
        ID_ROW("+GMM", cmd_cgmm, 0),
        ID_ROW("+CGMR", cmd_gmr_ec25, 0),
        ID_ROW("+GMR", cmd_gmr_ec25, 0),
        ID_ROW("+QGMR", cmd_qgmr, 0),
        ID_ROW("+CGSN", cmd_gsn, 0),
        ID_ROW("+GSN", cmd_gsn, 0),
        ID_ROW("+CIMI", cmd_cimi, AT_F_SIM),
        ID_ROW("+QCCID", cmd_qccid_ec25, AT_F_SIM),
        {0},
};

const struct at_family at_family_identity_ec25 = {
        .name = "identity-quectel",
        .cmds = identity_ec25_cmds,
};

static const struct at_cmd identity_m95_cmds[] = {
        ID_ROW("+CGMI", cmd_cgmi, 0),
        ID_ROW("+GMI", cmd_cgmi, 0),
        ID_ROW("+CGMM", cmd_cgmm, 0),
        ID_ROW("+GMM", cmd_cgmm, 0),
        ID_ROW("+CGMR", cmd_gmr_m95, 0),
        ID_ROW("+GMR", cmd_gmr_m95, 0),
        ID_ROW("+CGSN", cmd_gsn, 0),
        ID_ROW("+GSN", cmd_gsn, 0),
        ID_ROW("+CIMI", cmd_cimi, AT_F_SIM),
        ID_ROW("+CCID", cmd_ccid_m95, AT_F_SIM),
        ID_ROW("+QCCID", cmd_qccid_m95, AT_F_SIM),
        {0},
};

const struct at_family at_family_identity_m95 = {
        .name = "identity-quectel-gsm",
        .cmds = identity_m95_cmds,
};
