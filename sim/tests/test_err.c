/* The one error table (core/err.h): every cause in its layer's range, no number used twice (so
 * a status names one cause), and err_str() naming each, the texts that traces and tests read
 * included. */
#include <stdlib.h>

#include "check.h"
#include "core/err.h"
#include "net/conn.h"
#include "tls/tls.h"

struct row {
	const char *name;
	int num;
	const char *text;
};

static const struct row rows[] = {
#define ERR_ROW_(name, num, text) {#name, num, text},
        ERR_TABLE(ERR_ROW_)
#undef ERR_ROW_
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static void test_ranges_and_uniqueness(void)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &rows[i];
		int lo = 1, hi = 99;

		if (strncmp(r->name, "NET_ERR_", 8) == 0) {
			lo = 100;
			hi = 199;
		} else if (strncmp(r->name, "TLS_ERR_", 8) == 0) {
			lo = 200;
			hi = 299;
		} else {
			CHECK(strncmp(r->name, "ERR_", 4) == 0);
		}
		CHECK(r->num >= lo && r->num <= hi);
		if (r->num < lo || r->num > hi)
			fprintf(stderr, "%s = %d: outside %d..%d\n", r->name, r->num, lo, hi);
		CHECK(strcmp(err_str(-r->num), r->text) == 0);
		for (size_t j = 0; j < i; j++)
			CHECK(rows[j].num != r->num);
	}
	CHECK(N_ROWS >= 13 + 9 + 3);
}

/* The texts traces print (harness tests read them), and the numbers that used to collide. */
static void test_texts(void)
{
	CHECK(strcmp(err_str(0), "success") == 0);
	CHECK(strcmp(err_str(-ERR_NOMEM), "out of memory") == 0);
	CHECK(strcmp(err_str(-ERR_STATE), "not allowed in this state") == 0);
	CHECK(strcmp(err_str(-NET_ERR_DNS), "name not resolved") == 0);
	CHECK(strcmp(err_str(-NET_ERR_REFUSED), "connection refused") == 0);
	CHECK(strcmp(err_str(-NET_ERR_UNREACH), "network unreachable") == 0);
	CHECK(strcmp(err_str(-NET_ERR_TIMEOUT), "timed out") == 0);
	CHECK(strcmp(err_str(-NET_ERR_TLS), "TLS failure") == 0);
	CHECK(strcmp(err_str(-NET_ERR_RESET), "connection reset by peer") == 0);
	CHECK(strcmp(err_str(-NET_ERR_PEER_CLOSED), "closed by peer") == 0);
	CHECK(strcmp(err_str(-NET_ERR_IO), "socket error") == 0);
	CHECK(strcmp(err_str(-NET_ERR_NOMEM), "out of memory") == 0);
	CHECK(strcmp(net_status_str(-NET_ERR_DNS), "name not resolved") == 0);
	CHECK(strcmp(net_status_str(0), "success") == 0);
	/* -1 was both ERR_NOMEM and NET_ERR_DNS (and TLS_WANT) */
	CHECK(-ERR_NOMEM != -NET_ERR_DNS && -ERR_NOMEM != TLS_WANT && -NET_ERR_DNS != TLS_WANT);
	CHECK(TLS_WANT < 0 && TLS_CLOSED < 0 && TLS_FAILED < 0 && TLS_DONE == 0);
	CHECK(strcmp(err_str(TLS_FAILED), "TLS session failed") == 0);
	/* nothing else */
	CHECK(strcmp(err_str(-99), "unknown error") == 0);
	CHECK(strcmp(err_str(-1000000), "unknown error") == 0);
	CHECK(strcmp(err_str(1), "unknown error") == 0);
	CHECK(strcmp(err_str(-2147483647 - 1), "unknown error") == 0);
}

int main(void)
{
	test_ranges_and_uniqueness();
	test_texts();
	return check_exit();
}
