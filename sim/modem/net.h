/* Network side of a modem: registration, operator, signal, RTC-related state. */
#ifndef MODEMSIM_MODEM_NET_H
#define MODEMSIM_MODEM_NET_H

struct modem;

struct net_state {
	int creg_n; /* unsolicited result mode of +CREG / +CGREG / +CEREG */
	int cgreg_n;
	int cereg_n;
	int stat; /* 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming */
};

void net_init(struct modem *m);
void net_reboot(struct modem *m);

#endif
