/* PDP contexts: EC25 contexts 1-16 (+QICSGP/+QIACT), M95 legacy single-context stack. */
#ifndef MODEMSIM_MODEM_PDP_H
#define MODEMSIM_MODEM_PDP_H

struct modem;

struct pdp_state {
	int unused;
};

void pdp_init(struct modem *m);
void pdp_reboot(struct modem *m);
void pdp_free(struct modem *m);

#endif
