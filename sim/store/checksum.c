#include "store/checksum.h"

void fs_xor16_init(struct fs_xor16 *x)
{
	x->sum = 0;
	x->odd = false;
	x->high = 0;
}

void fs_xor16_update(struct fs_xor16 *x, const uint8_t *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return;
	if (x->odd) {
		x->sum ^= (uint16_t)((unsigned)x->high << 8 | p[0]);
		x->odd = false;
		i = 1;
	}
	for (; i + 1 < n; i += 2)
		x->sum ^= (uint16_t)((unsigned)p[i] << 8 | p[i + 1]);
	if (i < n) {
		x->high = p[i];
		x->odd = true;
	}
}

uint16_t fs_xor16_final(const struct fs_xor16 *x)
{
	/* BG96 FILE manual: an odd last byte is the high 8 bits, the low 8 bits are 0. */
	return x->odd ? (uint16_t)(x->sum ^ (unsigned)x->high << 8) : x->sum;
}

uint16_t fs_xor16(const uint8_t *p, size_t n)
{
	struct fs_xor16 x;

	fs_xor16_init(&x);
	fs_xor16_update(&x, p, n);
	return fs_xor16_final(&x);
}
