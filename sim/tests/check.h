/* A minimal test harness for the C unit tests: CHECK records a failure and goes on; the test's
 * main returns check_exit(). Output ends with "N passed, N failed". */
#ifndef MODEMSIM_TESTS_CHECK_H
#define MODEMSIM_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_MEM(a, alen, b, blen)                                                                \
	CHECK((size_t)(alen) == (size_t)(blen) && memcmp((a), (b), (size_t)(blen)) == 0)

static inline int check_exit(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
