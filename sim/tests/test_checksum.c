/* The XOR16 checksum of +QFUPL/+QFDWL/+QSECWRITE/+QSECREAD against the vectors in
 * data/xor16.txt (ctest runs from sim/tests), one-shot and fed in two chunks split at every
 * byte, and in single bytes. */
#include <stdlib.h>

#include "check.h"
#include "store/checksum.h"

#define MAX_DATA (64 * 1024)

static uint8_t data[MAX_DATA];

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns the byte count, or -1 on a malformed vector. */
static long parse_hex(const char *s)
{
	long n = 0;

	if (strcmp(s, "-") == 0)
		return 0;
	for (; s[0] && s[1]; s += 2) {
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0 || n == MAX_DATA)
			return -1;
		data[n++] = (uint8_t)(hi << 4 | lo);
	}
	return s[0] ? -1 : n;
}

static long read_file(const char *name, const char *how)
{
	char path[300];
	FILE *f;
	long n = 0;
	int c;

	snprintf(path, sizeof(path), "data/%s", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from sim/tests)\n", path);
		return -1;
	}
	while ((c = getc(f)) != EOF && n < MAX_DATA - 1) {
		if (c == '\n' && strcmp(how, "crlf") == 0)
			data[n++] = '\r';
		data[n++] = (uint8_t)c;
	}
	fclose(f);
	if (strcmp(how, "chop") == 0 && n > 0)
		n--;
	return n;
}

static void check_vector(int lineno, long n, const char *want)
{
	char got[8];
	struct fs_xor16 x;

	snprintf(got, sizeof(got), "%x", fs_xor16(data, (size_t)n));
	if (strcmp(got, want) != 0)
		fprintf(stderr, "xor16.txt:%d: got %s want %s\n", lineno, got, want);
	CHECK(strcmp(got, want) == 0);

	/* Two chunks split at every byte: the incremental form must agree. */
	for (long split = 0; split <= n; split++) {
		fs_xor16_init(&x);
		fs_xor16_update(&x, data, (size_t)split);
		fs_xor16_update(&x, data + split, (size_t)(n - split));
		snprintf(got, sizeof(got), "%x", fs_xor16_final(&x));
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "xor16.txt:%d: split at %ld: got %s want %s\n", lineno,
			        split, got, want);
			CHECK(0);
			return;
		}
	}
	/* One byte at a time; final() may be asked in between without changing the result. */
	fs_xor16_init(&x);
	for (long i = 0; i < n; i++) {
		fs_xor16_update(&x, data + i, 1);
		(void)fs_xor16_final(&x);
	}
	snprintf(got, sizeof(got), "%x", fs_xor16_final(&x));
	CHECK(strcmp(got, want) == 0);
}

int main(void)
{
	FILE *f = fopen("data/xor16.txt", "r");
	char line[512];
	int lineno = 0, vectors = 0;

	if (!f) {
		fprintf(stderr, "cannot open data/xor16.txt (run from sim/tests)\n");
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		char kind[16], a[256], b[64], want[16];
		long n = -1;
		int got;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		got = sscanf(line, "%15s %255s %63s %15s", kind, a, b, want);
		if (got == 3 && strcmp(kind, "hex") == 0) {
			n = parse_hex(a);
			snprintf(want, sizeof(want), "%.15s", b);
		} else if (got == 4 && strcmp(kind, "range") == 0) {
			long first = strtol(a, NULL, 16), last = strtol(b, NULL, 16);

			for (n = 0; first + n <= last; n++)
				data[n] = (uint8_t)(first + n);
		} else if (got == 4) {
			n = read_file(a, kind);
			if (n >= 0 && n != strtol(b, NULL, 10)) {
				fprintf(stderr, "xor16.txt:%d: %s is %ld bytes, want %s\n", lineno,
				        a, n, b);
				n = -1;
			}
		}
		if (n < 0) {
			fprintf(stderr, "xor16.txt:%d: bad vector: %s", lineno, line);
			CHECK(0);
			continue;
		}
		check_vector(lineno, n, want);
		vectors++;
	}
	fclose(f);
	CHECK(vectors >= 15);
	return check_exit();
}
