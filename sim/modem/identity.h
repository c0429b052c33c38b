/* IMEI, ICCID and IMSI derived from a seed and the modem's index (pure, deterministic). */
#ifndef MODEMSIM_MODEM_IDENTITY_H
#define MODEMSIM_MODEM_IDENTITY_H

#include <stdint.h>

struct identity;

/* Luhn check digit for a string of decimal digits. */
char identity_luhn(const char *digits);
void identity_derive(struct identity *id, const char *imei_tac, uint64_t seed, int index);

#endif
