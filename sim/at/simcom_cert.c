/* SIMCom certificate store: AT+CCERTDOWN, AT+CCERTLIST, AT+CCERTDELE (SIM7600 manual V3.00
 * 10.2.13-10.2.15, A76XX manual V1.09 19.2.x; reference §6.2). The files are the store's
 * (store/fs.h) on the profile's certificate drive, which takes names without a drive and keeps
 * them across reboots; AT+CSSLCFG names them the same way (at/simcom_ssl.c).
 *
 * Wire sequences (seed 003):
 *   ==> AT+CCERTDOWN="cacert.pem",1188   <== \r\n>     ==> exactly 1188 bytes   <== OK
 *   ==> AT+CCERTLIST                     <== +CCERTLIST: "cacert.pem"  ...  OK
 *   ==> AT+CCERTDELE="cacert.pem"        <== OK
 *
 * The bytes stored are the bytes sent, exactly: a PEM with the wrong length or line endings
 * fails the handshake later for real, as on the module. Bytes after the N-th go back to the
 * command parser (reference §1.4).
 *
 * Choices where the sources are silent: a name is 5 to cert_name_max bytes ending in ".pem"
 * or ".der" (the CSSLCFG rule applied to the download too); an invalid name, a length out of
 * 1-10240 or a full store is a plain ERROR (the manual's only failure); the listing is in name
 * order (seed 003 lists cacert, clientcert, clientkey after downloading them in another
 * order); a name is quoted or bare (seed 002 logs `AT+CCERTDOWN=cacert.pem,1295`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at/families.h"
#include "at/simcom.h"
#include "core/buf.h"
#include "core/err.h"
#include "modem/hooks.h"
#include "modem/modem.h"
#include "store/fs.h"

#define CERT_LEN_MAX 10240

struct cert_state {
	bool active; /* a download's data phase runs */
	char name[FS_NAME_LONGEST + 1];
	size_t want;
	struct buf data;
};

static struct cert_state *state_of(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cert_simcom);

	return slot ? *slot : NULL;
}

/* A certificate name as the host gives it: 5 to cert_name_max bytes, ".pem" or ".der". */
static int cert_name(struct at_call *c, int i, char *name)
{
	const struct at_param *p = &c->args.p[i];
	size_t max = (size_t)c->m->model->simcom.cert_name_max;
	enum fs_drive d;

	if (p->len < 5 || p->len > max) {
		at_why(c->m, "a certificate name has 5 to %zu bytes", max);
		return -1;
	}
	if (p->len < 4 || (memcmp(p->s + p->len - 4, ".pem", 4) != 0 &&
	                   memcmp(p->s + p->len - 4, ".der", 4) != 0)) {
		at_why(c->m, "a certificate name ends in .pem or .der");
		return -1;
	}
	if (fs_resolve(&c->m->fs, p->s, p->len, &d, name) != 0 || d != FS_CERT) {
		at_why(c->m, "not a valid file name");
		return -1;
	}
	return 0;
}

static void cert_reset(struct cert_state *st)
{
	st->active = false;
	st->want = 0;
	st->name[0] = 0;
	buf_reset(&st->data);
}

static void down_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct cert_state *st = arg;

	(void)m;
	if (buf_append(&st->data, p, n) != 0)
		st->want = SIZE_MAX; /* out of memory: fails at the end */
}

static void down_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct cert_state *st = arg;
	int rc;

	if (why == AT_END_ABANDON) {
		/* the power went: nothing is stored */
		cert_reset(st);
		return;
	}
	if (why != AT_END_COUNT || st->data.len != st->want) {
		at_why(m, "data ended (%s) after %zu of %zu bytes", at_data_end_name(why),
		       st->data.len, st->want);
		cert_reset(st);
		at_complete(m, AT_ERROR);
		return;
	}
	rc = fs_put(&m->fs, FS_CERT, st->name, st->data.data, st->data.len, NULL);
	if (rc != 0) {
		at_why(m, "%s: %s", st->name, err_str(rc));
		cert_reset(st);
		at_complete(m, AT_ERROR);
		return;
	}
	modem_hook_upload(m, fs_drive_name(FS_CERT), st->name);
	cert_reset(st);
	at_complete(m, AT_OK);
}

static const struct at_data_ops down_ops = {down_data, down_end};

/* AT+CCERTDOWN=<filename>,<len> */
static int cmd_ccertdown(struct at_call *c)
{
	struct cert_state *st = state_of(c->m);
	char name[FS_NAME_LONGEST + 1];

	if (c->req == AT_REQ_TEST) {
		at_info(c->m, "+CCERTDOWN: (5-%d),(1-%d)", c->m->model->simcom.cert_name_max,
		        CERT_LEN_MAX);
		return AT_OK;
	}
	if (!st || st->active || cert_name(c, 0, name) != 0)
		return AT_ERROR;
	cert_reset(st);
	st->active = true;
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->want = (size_t)at_num(c, 1);
	simcom_prompt(c->m, st->want, &down_ops, st);
	return AT_PENDING;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct fs_file *const *)a)->name, (*(struct fs_file *const *)b)->name);
}

static int cmd_ccertlist(struct at_call *c)
{
	struct fs_file **v;
	size_t n = fs_drive_count(&c->m->fs, FS_CERT), k = 0;

	if (c->req == AT_REQ_TEST || n == 0)
		return AT_OK;
	v = calloc(n, sizeof(*v));
	if (!v)
		return AT_ERROR;
	for (struct fs_file *f = c->m->fs.files; f && k < n; f = f->next)
		if (f->drive == FS_CERT)
			v[k++] = f;
	qsort(v, k, sizeof(*v), by_name);
	for (size_t i = 0; i < k; i++)
		at_info(c->m, "+CCERTLIST: \"%s\"", v[i]->name);
	free(v);
	return AT_OK;
}

/* AT+CCERTDELE=<filename> */
static int cmd_ccertdele(struct at_call *c)
{
	char name[FS_NAME_LONGEST + 1];
	struct fs_file *f;
	int rc;

	if (c->req == AT_REQ_TEST)
		return AT_OK;
	if (cert_name(c, 0, name) != 0)
		return AT_ERROR;
	f = fs_find(&c->m->fs, FS_CERT, name);
	if (!f) {
		at_why(c->m, "no certificate %s", name);
		return AT_ERROR;
	}
	rc = fs_delete(&c->m->fs, f);
	if (rc != 0) {
		at_why(c->m, "%s: %s", name, err_str(rc));
		return AT_ERROR;
	}
	return AT_OK;
}

static int cert_init(struct modem *m, const struct at_family *f)
{
	void **slot = modem_family_state(m, f);
	struct cert_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ERR_NOMEM;
	buf_init(&st->data, CERT_LEN_MAX);
	*slot = st;
	return 0;
}

/* The data phase was abandoned (down_end) before this runs; the files persist. */
static void cert_reboot(struct modem *m)
{
	struct cert_state *st = state_of(m);

	if (st)
		cert_reset(st);
}

static void cert_close(struct modem *m)
{
	void **slot = modem_family_state(m, &at_family_cert_simcom);
	struct cert_state *st = slot ? *slot : NULL;

	if (!st)
		return;
	buf_free(&st->data);
	free(st);
	*slot = NULL;
}

static const struct at_cmd cert_simcom_cmds[] = {
        {"+CCERTDOWN", AT_REQ_WRITE | AT_REQ_TEST, 2, 2,
         AT_SPEC(AT_TEXT(FS_NAME_LONGEST), AT_NUM(1, CERT_LEN_MAX)), NULL, 0, 0, cmd_ccertdown},
        {"+CCERTLIST", AT_REQ_EXEC | AT_REQ_TEST, 0, 0, NULL, 0, NULL, 0, 0, cmd_ccertlist},
        {"+CCERTDELE", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_TEXT(FS_NAME_LONGEST)), NULL, 0,
         0, cmd_ccertdele},
        {0},
};

const struct at_family at_family_cert_simcom = {
        .name = "cert-simcom",
        .cmds = cert_simcom_cmds,
        .init = cert_init,
        .reboot = cert_reboot,
        .close = cert_close,
};
