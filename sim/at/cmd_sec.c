/* M95 certificate and key files: +QSECWRITE +QSECREAD +QSECDEL on the drives RAM: and NVRAM:
 * (GSM SSL Application Note V3.3, 2.2.7-2.2.9 and examples 3.1/3.2; reference §3a).
 *
 *   ==> AT+QSECWRITE="RAM:ca_cert.pem",1614,100
 *   <== \r\nCONNECT\r\n
 *   ==> 1614 bytes (or fewer, then <timeout> s of silence, or +++ framed by 1 s of silence)
 *   <== \r\n+QSECWRITE: 1614,4039\r\n\r\nOK\r\n
 *   ==> AT+QSECREAD="RAM:ca_cert.pem"
 *   <== \r\n+QSECREAD: 1,4039\r\n\r\nOK\r\n
 *
 * Unlike EC25 +QFUPL, the result line after the data starts with CR LF (reference §3a: the M95
 * documents show a blank line between CONNECT's data and +QSECWRITE:). The files cannot be read
 * back by the host, only their checksum (AN 2.2.7).
 *
 * Error codes: the note gives "+CME ERROR: <err>" without a table, and the M95's CMEE default
 * is 0 (plain ERROR). With CMEE 1/2 the 3GPP TS 27.007 codes below are used; a choice. */
#include <stdio.h>
#include <string.h>

#include "at/cmd_file.h"
#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/hooks.h"
#include "store/checksum.h"
#include "store/fs.h"

#define CME_SEC_EXISTS CME_NOT_ALLOWED /* 3: "the host should delete it and then add it" */
#define CME_SEC_NOT_FOUND 22 /* not found */
#define CME_SEC_MEMORY_FULL 20
#define CME_SEC_WRITE 23 /* memory failure */

/* AN 2.2.7: <timeout> 3-200 s, default 100; <filesize> at least 1, at most 32768 in RAM and
 * 2017 in NVRAM (the per-file limits live in the profile's drive table, modem/profile.c). */
#define SEC_DEFAULT_TIMEOUT_S 100
#define SEC_ESCAPE_GUARD_S 1.0

static int name_arg(struct at_call *c, enum fs_drive *d, char *name)
{
	const struct at_param *p = &c->args.p[0];

	if (fs_resolve(&c->m->fs, p->s, p->len, d, name) != 0) {
		at_why(c->m,
		       "\"%.*s\" is not a valid name: \"RAM:<name>\" (at most %d bytes, no /, "
		       "\\, :, wildcards or control characters) or \"NVRAM:CA0\", \"NVRAM:CC0\", "
		       "\"NVRAM:CK0\"",
		       (int)(p->len > 100 ? 100 : p->len), p->s, FS_NAME_MAX);
		return CME_INCORRECT_PARAMETERS;
	}
	return 0;
}

static void upload_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	(void)arg;
	if (buf_append(&m->file_xfer.data, p, n) != 0)
		log_msg(LOG_ERROR, "#%d: out of memory for upload data; %zu bytes lost", m->index,
		        n);
}

static void upload_end(struct modem *m, void *arg, enum at_data_end why)
{
	struct at_file_xfer *x = &m->file_xfer;
	int rc;

	(void)arg;
	if (why == AT_END_ABANDON) {
		/* the power went: nothing is stored, as when the module loses power mid-upload */
		at_file_xfer_reset(m);
		return;
	}
	at_why(m, "data ended (%s) after %zu of %zu bytes", at_data_end_name(why), x->data.len,
	       x->want);
	/* AN 2.2.7: the data received before +++ (or the timeout) is what is stored, and
	 * <uploadsize> is its true size (an M95 capture: declared 1467, "+QSECWRITE: 1392,235a"
	 * after the timeout, reference §3). */
	rc = fs_put(&m->fs, x->drive, x->name, x->data.data, x->data.len, NULL);
	if (rc == 0) {
		at_info(m, "+QSECWRITE: %zu,%x", x->data.len, fs_xor16(x->data.data, x->data.len));
		modem_hook_upload(m, fs_drive_name(x->drive), x->name);
	} else {
		at_why(m, "cannot store the file: %s", err_str(rc));
		rc = rc == -ERR_NOSPC || rc == -ERR_TOOBIG ? CME_SEC_MEMORY_FULL : CME_SEC_WRITE;
	}
	at_file_xfer_reset(m);
	at_complete(m, rc);
}

static const struct at_data_ops upload_ops = {upload_data, upload_end};

/* AT+QSECWRITE=<filename>,<filesize>[,<timeout>] */
static int cmd_qsecwrite(struct at_call *c)
{
	struct modem *m = c->m;
	struct at_file_xfer *x = &m->file_xfer;
	char name[FS_NAME_MAX + 1];
	long long size = at_num(c, 1);
	long long timeout = at_given(c, 2) ? at_num(c, 2) : SEC_DEFAULT_TIMEOUT_S;
	enum fs_drive d;
	int rc;

	if (c->req == AT_REQ_READ)
		return AT_OK; /* AN 2.2.7: the read form answers OK */
	rc = name_arg(c, &d, name);
	if (rc)
		return rc;
	if (size < 1 || (size_t)size > fs_drive_file_max(&m->fs, d)) {
		at_why(m, "<filesize> %lld is outside 1-%zu for %s:", size,
		       fs_drive_file_max(&m->fs, d), fs_drive_name(d));
		return CME_INCORRECT_PARAMETERS;
	}
	/* AN 2.2.7: "the certificate or key should not exist in the corresponding storage ...
	 * if it already exists, the host should delete it and then add it". */
	if (fs_find(&m->fs, d, name)) {
		at_why(m, "%s:%s exists; AT+QSECDEL it first", fs_drive_name(d), name);
		return CME_SEC_EXISTS;
	}
	at_file_xfer_reset(m);
	x->active = true;
	x->drive = d;
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->want = (size_t)size;
	at_text(m, "CONNECT");
	at_raw(m, (size_t)size, at_file_proto_ms(m, (double)timeout),
	       at_file_proto_ms(m, SEC_ESCAPE_GUARD_S), &upload_ops, NULL);
	return AT_PENDING;
}

/* AT+QSECREAD=<filename>: "+QSECREAD: <good>,<checksum>". good is 1 while the checksum of the
 * stored bytes equals the one recorded by AT+QSECWRITE (AN 2.2.8); checksum is the XOR16 of the
 * bytes held now (reference §9: assumed the same algorithm as +QSECWRITE). A missing file is an
 * error, not "0,...": a public M66/M95 driver takes a successful QSECREAD to mean "already
 * uploaded" and writes only after an error. */
static int cmd_qsecread(struct at_call *c)
{
	struct modem *m = c->m;
	char name[FS_NAME_MAX + 1];
	struct fs_file *f;
	enum fs_drive d;
	uint16_t now;
	int rc = name_arg(c, &d, name);

	if (rc)
		return rc;
	f = fs_find(&m->fs, d, name);
	if (!f) {
		at_why(m, "no file %s:%s", fs_drive_name(d), name);
		return CME_SEC_NOT_FOUND;
	}
	now = fs_xor16(f->data, f->len);
	at_info(m, "+QSECREAD: %d,%x", now == f->sum, now);
	return AT_OK;
}

/* AT+QSECDEL=<filename> */
static int cmd_qsecdel(struct at_call *c)
{
	struct modem *m = c->m;
	char name[FS_NAME_MAX + 1];
	struct fs_file *f;
	enum fs_drive d;
	int rc = name_arg(c, &d, name);

	if (rc)
		return rc;
	f = fs_find(&m->fs, d, name);
	if (!f) {
		at_why(m, "no file %s:%s", fs_drive_name(d), name);
		return CME_SEC_NOT_FOUND;
	}
	if (fs_delete(&m->fs, f) != 0)
		return CME_SEC_WRITE;
	return AT_OK;
}

/* Test texts follow AN 2.2.7-2.2.9 with the documented ranges filled in. */
/* The family owns the data phase (struct at_file_xfer); the files are the modem's store. */
static int xfer_init(struct modem *m, const struct at_family *f)
{
	(void)f;
	at_file_xfer_reset(m);
	return 0;
}

static const struct at_cmd sec_m95_cmds[] = {
        {"+QSECWRITE", AT_REQ_READ | AT_REQ_WRITE | AT_REQ_TEST, 2, 3,
         AT_SPEC(AT_STR(0), AT_NUM(0, 0x7fffffff), AT_NUM(3, 200)),
         "+QSECWRITE: <filename>,<filesize>[,(3-200)]", 0, CME_INCORRECT_PARAMETERS, cmd_qsecwrite},
        {"+QSECREAD", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_STR(0)), "+QSECREAD: <filename>",
         0, CME_INCORRECT_PARAMETERS, cmd_qsecread},
        {"+QSECDEL", AT_REQ_WRITE | AT_REQ_TEST, 1, 1, AT_SPEC(AT_STR(0)), "+QSECDEL: <filename>",
         0, CME_INCORRECT_PARAMETERS, cmd_qsecdel},
        {0},
};

const struct at_family at_family_sec_m95 = {
        .name = "file-quectel-gsm",
        .cmds = sec_m95_cmds,
        .init = xfer_init,
        .reboot = at_file_xfer_drop,
        .close = at_file_xfer_drop,
};
