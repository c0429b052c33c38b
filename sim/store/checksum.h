/* The Quectel file checksum (pure): a 16-bit XOR over big-endian byte pairs. Byte i (even) is
 * the high byte and byte i+1 the low byte; an odd last byte is the high byte of a final word
 * whose low byte is 0. Printed by the modules in lower-case hex without padding ("%x").
 *
 * Source: reference §2 (BG96 FILE AT Commands Manual V1.0 p.11, fwupd's implementation), checked
 * against real answers: AmazonRootCA1.pem (1188 bytes) -> 2d13, ISRG Root X1 (1939) -> 4f64.
 * Used by +QFUPL, +QFDWL (EC25) and +QSECWRITE, +QSECREAD (M95). */
#ifndef MODEMSIM_STORE_CHECKSUM_H
#define MODEMSIM_STORE_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Incremental form, for data that arrives in chunks split at any byte. */
struct fs_xor16 {
	uint16_t sum;
	bool odd; /* a high byte is waiting for its low byte */
	uint8_t high;
};

void fs_xor16_init(struct fs_xor16 *x);
void fs_xor16_update(struct fs_xor16 *x, const uint8_t *p, size_t n);
/* The checksum of everything fed so far (x stays usable). */
uint16_t fs_xor16_final(const struct fs_xor16 *x);

/* One-shot form. */
uint16_t fs_xor16(const uint8_t *p, size_t n);

#endif
