/* SIMCom identity commands (SIM7600, A7670, SIM7670G): ATI, AT+SIMCOMATI, +CGMI, +CGMM,
 * +CGMR, +CGSN, +CIMI, +CICCID.
 *
 * Sources: seed 003 (SIM7600E: ATI `Manufacturer: SIMCOM INCORPORATED` / `Model:
 * SIMCOM_SIM7600E` / `Revision: SIM7600M21-A_V1.1` / `IMEI: ...` / `+GCAP: +CGSM`, and
 * `+CGMR: LE11B02SIM7600M21-A`); seed 002 (SIM7670G: AT+SIMCOMATI `Manufacturer: SIMCOM
 * INCORPORATED` / `Model: SIM7670G-MNGV` / `Revision: 2374B02SIM767XM5A_M` /
 * `SIM767XM5_B02V01_240717` / `IMEI: 864643060013622`, ATI's `Revision: V1.9.01`); the
 * SIM7600 manual V3.00 2.2.28-2.2.33 and 3.2.3 and the A76XX manual V1.09 2.2.x (bare
 * +CGMI/+CGMM/+CGSN/+CIMI lines, `+CGMR: <revision>`, `+ICCID: <ICCID>`; the test form of
 * each answers OK).
 *
 * What ATI prints as its revision and what +CGMR prints differ on the SIM7600E (a product
 * revision and the firmware): the revision table of the profile (struct model_revision) holds
 * both, and the firmware text is the one a revision setting names. */
#include <stdio.h>

#include "at/families.h"
#include "at/simcom.h"
#include "modem/modem.h"

/* ATI (V.250 I0 only): the manuals' five lines; the seed's spacing (`Manufacturer: ...`). */
static int cmd_i(struct at_call *c)
{
	const struct model_profile *p = c->m->model;

	if (c->req == AT_REQ_WRITE && at_num(c, 0) != 0)
		return AT_ERROR;
	at_info(c->m, "Manufacturer: %s",
	        p->ati_manufacturer ? p->ati_manufacturer : p->manufacturer);
	at_info(c->m, "Model: %s", p->ati_model);
	at_info(c->m, "Revision: %s", profile_ati_revision(p));
	at_info(c->m, "IMEI: %s", c->m->id.imei);
	if (p->gcap)
		at_info(c->m, "%s", p->gcap);
	return AT_OK;
}

/* AT+SIMCOMATI: the firmware revision and, where the revision has one, its build line. */
static int cmd_simcomati(struct at_call *c)
{
	const struct model_profile *p = c->m->model;
	const struct model_revision *r = profile_revision(p);

	if (c->req != AT_REQ_EXEC)
		return AT_OK;
	at_info(c->m, "Manufacturer: %s",
	        p->ati_manufacturer ? p->ati_manufacturer : p->manufacturer);
	at_info(c->m, "Model: %s", p->ati_model);
	at_info(c->m, "Revision: %s", p->revision);
	if (r && r->build)
		at_info(c->m, "%s", r->build);
	at_info(c->m, "IMEI: %s", c->m->id.imei);
	return AT_OK;
}

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

static int cmd_cgmr(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "+CGMR: %s", c->m->model->revision);
	return AT_OK;
}

static int cmd_cgsn(struct at_call *c)
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

static int cmd_ciccid(struct at_call *c)
{
	if (c->req == AT_REQ_EXEC)
		at_info(c->m, "+ICCID: %s", c->m->id.iccid);
	return AT_OK;
}

#define ID_ROW(n, fn, flags)                                                                       \
	{                                                                                          \
		n, AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, flags, 0, fn                    \
	}

static const struct at_cmd identity_simcom_cmds[] = {
        {"I", AT_REQ_EXEC | AT_REQ_WRITE, 1, 1, AT_SPEC(AT_NUM(0, 9)), NULL, 0, 0, cmd_i},
        ID_ROW("+SIMCOMATI", cmd_simcomati, 0),
        ID_ROW("+CGMI", cmd_cgmi, 0),
        ID_ROW("+GMI", cmd_cgmi, 0),
        ID_ROW("+CGMM", cmd_cgmm, 0),
        ID_ROW("+GMM", cmd_cgmm, 0),
        ID_ROW("+CGMR", cmd_cgmr, 0),
        ID_ROW("+CGSN", cmd_cgsn, 0),
        ID_ROW("+GSN", cmd_cgsn, 0),
        ID_ROW("+CIMI", cmd_cimi, AT_F_SIM),
        ID_ROW("+CICCID", cmd_ciccid, AT_F_SIM),
        {0},
};

const struct at_family at_family_identity_simcom = {
        .name = "identity-simcom",
        .cmds = identity_simcom_cmds,
};
