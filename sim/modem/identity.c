#include "modem/identity.h"

#include <stdio.h>
#include <string.h>

#include "modem/modem.h"

char identity_luhn(const char *digits)
{
	size_t n = strlen(digits);
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';

		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void identity_derive(struct identity *id, const char *imei_tac, uint64_t seed, int index)
{
	uint64_t s = seed * 0x100000001b3ULL + (uint64_t)index;
	char body[20];
	unsigned long long serial = splitmix64(&s) % 1000000ULL;
	unsigned long long acct = splitmix64(&s) % 1000000000000ULL;
	unsigned long long msin = splitmix64(&s) % 10000000000ULL;

	/* IMEI: TAC (8) + serial (6) + Luhn */
	snprintf(body, sizeof(body), "%.8s%06llu", imei_tac, serial);
	snprintf(id->imei, sizeof(id->imei), "%.14s%c", body, identity_luhn(body));
	/* ICCID: 89 (telecom) 44 (country) 10 (issuer) + account (12) + Luhn = 19 digits */
	snprintf(body, sizeof(body), "894410%012llu", acct);
	snprintf(id->iccid, sizeof(id->iccid), "%.18s%c", body, identity_luhn(body));
	/* IMSI: MCC 001 MNC 01 (the test network) + MSIN (10) */
	snprintf(id->imsi, sizeof(id->imsi), "00101%010llu", msin);
}
