/* EC25 file commands: +QFUPL +QFDWL +QFDEL +QFLST +QFLDS +QFOPEN +QFREAD +QFWRITE +QFSEEK
 * +QFPOSITION +QFTUCAT +QFCLOSE on the drives UFS: (flash, persistent) and RAM:.
 *
 * Sources: reference §3 (EC25/BG96 FILE AT manuals, EC25 and BG96 captures), §2 (checksum), §1
 * (CONNECT framing), host-drivers.md items 5, 11 and 12. Test-form texts are the BG770A
 * capture's where it has them (reference §3 uses them too), the BG96 manual's otherwise.
 *
 *   ==> AT+QFUPL="RAM:cacert.pem",1188,100
 *   <== \r\nCONNECT\r\n
 *   ==> 1188 bytes (or fewer, then <timeout> s of silence, or +++ framed by 1 s of silence)
 *   <== +QFUPL: 1188,2d13\r\n\r\nOK\r\n
 *
 *   ==> AT+QFDWL="UFS:a.pem"
 *   <== \r\nCONNECT\r\n<the file's bytes>\r\n+QFDWL: <size>,<checksum>\r\n\r\nOK\r\n
 *
 *   ==> AT+QFREAD=1024,10
 *   <== \r\nCONNECT 10\r\n<10 bytes>\r\nOK\r\n
 */
#include <stdio.h>
#include <string.h>

#include "at/cmd_file.h"
#include "at/families.h"
#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/hooks.h"
#include "modem/modemsim.h"
#include "store/checksum.h"
#include "store/fs.h"

/* File error codes of the EC2x/BG9x FILE manuals (reference §3 table). */
#define CME_FILE_INPUT 400 /* invalid input value */
#define CME_FILE_PAST_END 401 /* larger than the size of the file */
#define CME_FILE_NOT_FOUND 405
#define CME_FILE_BAD_NAME 406
#define CME_FILE_EXISTS 407
#define CME_FILE_WRITE 409
#define CME_FILE_MAX_OPEN 413
#define CME_FILE_READ_ONLY 414
#define CME_FILE_BAD_HANDLE 416
#define CME_FILE_DELETE 418
#define CME_FILE_NO_SPACE 420
#define CME_FILE_TOO_LARGE 423
#define CME_FILE_OPENED 426

/* Reference §3 "Framing after the data": the EC25 frogwatch capture and a BG96 log show
 * "+QFUPL: 851,6d21\r\n\r\nOK\r\n" right after the data, with no CR LF before +QFUPL:, while
 * fwupd's regex wants one. The captures win; set this to 1 for a leading CR LF (a later
 * --qfupl-crlf option flips it). host-drivers.md item 12 asks the same of +QFWRITE. */
#define FILE_QFUPL_LEADING_CRLF 0

/* BG96 FILE manual: <file_size> defaults to 10240, <timeout> to 5 s. The +QFWRITE defaults
 * are not in a source found; the same values are used [MEM]. */
#define FILE_DEFAULT_SIZE 10240
#define FILE_DEFAULT_TIMEOUT_S 5
/* +++ must be framed by this much silence (V.250 S12 default, 1 s), under --time-scale. */
#define FILE_ESCAPE_GUARD_S 1.0
/* AT+QFUPL ackmode 1: one 'A' after every 1024 bytes (BG96 FILE manual note 4; fwupd). */
#define FILE_ACK_BLOCK 1024

/* Handles are FILE_HANDLE_BASE + slot. Real EC2x handles are large numbers (reference §9
 * lists the numbering as unverified; one EC2x driver comment shows 1027); a choice. */
#define FILE_HANDLE_BASE 1024

/* Downloads larger than the host has read so far are written in pieces: at most
 * FILE_STREAM_HIGH bytes wait for the host at any time; the next piece goes when the host has
 * taken everything (modem on_drain). */
#define FILE_STREAM_CHUNK (16 * 1024)
#define FILE_STREAM_HIGH (64 * 1024)

enum file_xfer_kind { XFER_QFUPL = 1, XFER_QFWRITE, XFER_QFDWL, XFER_QFREAD };

/* ---- the data phase (at/cmd_file.h), shared with at/cmd_sec.c ---- */

uint64_t at_file_proto_ms(const struct modem *m, double seconds)
{
	double ms = seconds * 1000.0 * m->sim->opt.time_scale;

	return ms < 0 ? 0 : (uint64_t)ms;
}

void at_file_xfer_reset(struct modem *m)
{
	struct at_file_xfer *x = &m->file_xfer;

	if (x->active)
		m->on_drain = NULL; /* a download waiting for the host to read */
	buf_free(&x->data);
	memset(x, 0, sizeof(*x));
	buf_init(&x->data, 0);
}

void at_file_xfer_drop(struct modem *m)
{
	m->file_xfer.timer = NULL;
	at_file_xfer_reset(m);
}

static int store_error(struct modem *m, int rc)
{
	at_why(m, "cannot store the file: %s", err_str(rc));
	switch (rc) {
	case -ERR_NOSPC:
		return CME_FILE_NO_SPACE;
	case -ERR_TOOBIG:
		return CME_FILE_TOO_LARGE;
	default:
		return CME_FILE_WRITE;
	}
}

/* The file name parameter (always parameter 0 here), resolved under the EC25 rules. */
static int name_arg(struct at_call *c, enum fs_drive *d, char *name)
{
	const struct at_param *p = &c->args.p[0];

	if (fs_resolve(&c->m->fs, p->s, p->len, d, name) != 0) {
		at_why(c->m,
		       "\"%.*s\" is not a valid file name (at most %d bytes; no \\, :, "
		       "wildcards or control characters; / only where the model has directories, "
		       "never an empty, . or .. component; a drive of the model)",
		       (int)(p->len > 100 ? 100 : p->len), p->s, FS_NAME_MAX);
		return CME_FILE_BAD_NAME;
	}
	return 0;
}

static struct fs_open *handle_arg(struct at_call *c, int i, int *slot)
{
	long long h = at_num(c, i) - FILE_HANDLE_BASE;

	if (h < 0 || h >= FS_MAX_OPEN || !c->m->fs.open[h].used) {
		at_why(c->m, "%lld is not an open file handle", at_num(c, i));
		return NULL;
	}
	if (slot)
		*slot = (int)h;
	return &c->m->fs.open[h];
}

static size_t drive_free(const struct modem *m, enum fs_drive d)
{
	return fs_drive_total(&m->fs, d) - fs_drive_used(&m->fs, d);
}

/* ---- uploads: +QFUPL and +QFWRITE ---- */

static void upload_data(struct modem *m, void *arg, const uint8_t *p, size_t n)
{
	struct at_file_xfer *x = &m->file_xfer;
	size_t before = x->data.len;

	(void)arg;
	if (buf_append(&x->data, p, n) != 0) {
		log_msg(LOG_ERROR, "#%d: out of memory for upload data; %zu bytes lost", m->index,
		        n);
		return;
	}
	if (x->ackmode)
		for (size_t k = before / FILE_ACK_BLOCK; k < x->data.len / FILE_ACK_BLOCK; k++)
			at_send(m, "A", 1);
}

static void result_line_start(struct modem *m)
{
	if (!FILE_QFUPL_LEADING_CRLF)
		at_info_noblank(m);
}

static int finish_qfupl(struct modem *m)
{
	struct at_file_xfer *x = &m->file_xfer;
	int rc;

	/* BG96 FILE manual: what arrived before a timeout or +++ is kept, and <upload_size> is
	 * the true count; the store gets exactly these bytes. */
	rc = fs_put(&m->fs, x->drive, x->name, x->data.data, x->data.len, NULL);
	if (rc != 0)
		return store_error(m, rc);
	result_line_start(m);
	at_info(m, "+QFUPL: %zu,%x", x->data.len, fs_xor16(x->data.data, x->data.len));
	modem_hook_upload(m, fs_drive_name(x->drive), x->name);
	return AT_OK;
}

static int finish_qfwrite(struct modem *m)
{
	struct at_file_xfer *x = &m->file_xfer;
	struct fs_open *o = &m->fs.open[x->slot];
	int rc;

	rc = fs_write_at(&m->fs, o->f, o->pos, x->data.data, x->data.len);
	if (rc != 0)
		return store_error(m, rc);
	o->pos += x->data.len;
	result_line_start(m);
	at_info(m, "+QFWRITE: %zu,%zu", x->data.len, o->f->len);
	return AT_OK;
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
	rc = x->kind == XFER_QFWRITE ? finish_qfwrite(m) : finish_qfupl(m);
	at_file_xfer_reset(m);
	at_complete(m, rc);
}

static const struct at_data_ops upload_ops = {upload_data, upload_end};

static void upload_start(struct modem *m, size_t size, long long timeout_s)
{
	at_text(m, "CONNECT");
	at_raw(m, size, at_file_proto_ms(m, (double)timeout_s),
	       at_file_proto_ms(m, FILE_ESCAPE_GUARD_S), &upload_ops, NULL);
}

/* AT+QFUPL=<filename>[,<file_size>[,<timeout>[,<ackmode>]]] */
static int cmd_qfupl(struct at_call *c)
{
	struct modem *m = c->m;
	struct at_file_xfer *x = &m->file_xfer;
	char name[FS_NAME_MAX + 1];
	long long size = at_given(c, 1) ? at_num(c, 1) : FILE_DEFAULT_SIZE;
	long long timeout = at_given(c, 2) ? at_num(c, 2) : FILE_DEFAULT_TIMEOUT_S;
	enum fs_drive d;
	int rc = name_arg(c, &d, name);

	if (rc)
		return rc;
	/* host-drivers.md item 11: an existing file gives 407 and no CONNECT. */
	if (fs_find(&m->fs, d, name)) {
		at_why(m, "%s:%s already exists", fs_drive_name(d), name);
		return CME_FILE_EXISTS;
	}
	/* Test form: <file_size> is (1-<freesize>). */
	if ((size_t)size > drive_free(m, d)) {
		at_why(m, "%lld bytes do not fit: %zu free on %s:", size, drive_free(m, d),
		       fs_drive_name(d));
		return CME_FILE_NO_SPACE;
	}
	at_file_xfer_reset(m);
	x->active = true;
	x->kind = XFER_QFUPL;
	x->drive = d;
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->want = (size_t)size;
	x->ackmode = at_given(c, 3) && at_num(c, 3) == 1;
	upload_start(m, (size_t)size, timeout);
	return AT_PENDING;
}

/* AT+QFWRITE=<filehandle>[,<length>[,<timeout>]] */
static int cmd_qfwrite(struct at_call *c)
{
	struct modem *m = c->m;
	struct at_file_xfer *x = &m->file_xfer;
	long long len = at_given(c, 1) ? at_num(c, 1) : FILE_DEFAULT_SIZE;
	long long timeout = at_given(c, 2) ? at_num(c, 2) : FILE_DEFAULT_TIMEOUT_S;
	struct fs_open *o;
	size_t grow;
	int slot;

	o = handle_arg(c, 0, &slot);
	if (!o)
		return CME_FILE_BAD_HANDLE;
	if (o->mode == 2) {
		at_why(m, "the file was opened read-only (mode 2)");
		return CME_FILE_READ_ONLY;
	}
	grow = o->pos + (size_t)len > o->f->len ? o->pos + (size_t)len - o->f->len : 0;
	if (grow > drive_free(m, o->f->drive)) {
		at_why(m, "%lld bytes at offset %zu do not fit: %zu free", len, o->pos,
		       drive_free(m, o->f->drive));
		return CME_FILE_NO_SPACE;
	}
	at_file_xfer_reset(m);
	x->active = true;
	x->kind = XFER_QFWRITE;
	x->slot = slot;
	x->want = (size_t)len;
	upload_start(m, (size_t)len, timeout);
	return AT_PENDING;
}

/* ---- downloads: +QFDWL and +QFREAD ---- */

/* Write what the host has room for; true when everything is out. */
static bool stream_pump(struct modem *m)
{
	struct at_file_xfer *x = &m->file_xfer;
	size_t queued = m->outq.len + (m->port.backlog ? m->port.backlog(m->port.ctx) : 0);

	while (x->sent < x->data.len && queued < FILE_STREAM_HIGH) {
		size_t n = x->data.len - x->sent;

		if (n > FILE_STREAM_CHUNK)
			n = FILE_STREAM_CHUNK;
		at_send(m, x->data.data + x->sent, n);
		x->sent += n;
		queued += n;
	}
	return x->sent == x->data.len;
}

static int stream_finish(struct modem *m)
{
	struct at_file_xfer *x = &m->file_xfer;

	/* +QFDWL: the result line follows the data after a CR LF (BG96 FILE manual 2.5; driver
	 * parsers of "...data\r\n+QFDWL: 20,3\r\n\r\nOK"). +QFREAD: only "\r\nOK\r\n". */
	if (x->kind == XFER_QFDWL)
		at_info(m, "+QFDWL: %zu,%x", x->data.len, fs_xor16(x->data.data, x->data.len));
	at_file_xfer_reset(m);
	return AT_OK;
}

static void stream_drained(struct modem *m)
{
	if (!m->file_xfer.active)
		return;
	if (stream_pump(m)) {
		at_complete(m, stream_finish(m));
		return;
	}
	m->on_drain = stream_drained;
}

/* The caller printed CONNECT; data is already in xfer. */
static int stream_start(struct modem *m)
{
	if (stream_pump(m))
		return stream_finish(m);
	m->on_drain = stream_drained;
	return AT_PENDING;
}

static int stream_load(struct modem *m, int kind, const uint8_t *p, size_t n)
{
	struct at_file_xfer *x = &m->file_xfer;

	at_file_xfer_reset(m);
	if (n && buf_append(&x->data, p, n) != 0) {
		at_why(m, "out of memory");
		return AT_ERROR;
	}
	x->active = true;
	x->kind = kind;
	return 0;
}

/* AT+QFDWL=<filename> */
static int cmd_qfdwl(struct at_call *c)
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
		return CME_FILE_NOT_FOUND;
	}
	rc = stream_load(m, XFER_QFDWL, f->data, f->len);
	if (rc)
		return rc;
	at_text(m, "CONNECT");
	return stream_start(m);
}

/* AT+QFREAD=<filehandle>[,<length>]: from the file pointer; without <length>, to the end. */
static int cmd_qfread(struct at_call *c)
{
	struct modem *m = c->m;
	struct fs_open *o = handle_arg(c, 0, NULL);
	char text[40];
	size_t n;
	int rc;

	if (!o)
		return CME_FILE_BAD_HANDLE;
	n = o->f->len - o->pos;
	if (at_given(c, 1) && (size_t)at_num(c, 1) < n)
		n = (size_t)at_num(c, 1);
	rc = stream_load(m, XFER_QFREAD, o->f->data + o->pos, n);
	if (rc)
		return rc;
	o->pos += n;
	snprintf(text, sizeof(text), "CONNECT %zu", n);
	at_text(m, text);
	return stream_start(m);
}

/* ---- names and listings ---- */

static bool has_wildcard(const char *s)
{
	return strchr(s, '*') || strchr(s, '?');
}

static int pattern_arg(struct at_call *c, enum fs_drive *d, char *pattern)
{
	const struct at_param *p = &c->args.p[0];

	if (fs_resolve_pattern(&c->m->fs, p->s, p->len, d, pattern) != 0) {
		at_why(c->m, "\"%.*s\" is not a valid file name or pattern",
		       (int)(p->len > 100 ? 100 : p->len), p->s);
		return CME_FILE_BAD_NAME;
	}
	return 0;
}

/* AT+QFLST[=<name_pattern>]: "+QFLST: "UFS:name",size" per file, always with the drive prefix
 * (reference §3: EC25 frogwatch and EG800K captures); nothing found is a bare OK (BG96 log).
 * Without a pattern, or with "*", UFS: is listed; "RAM:*" lists RAM:. */
static int cmd_qflst(struct at_call *c)
{
	struct modem *m = c->m;
	char pattern[FS_NAME_MAX + 1] = "*";
	enum fs_drive d = FS_UFS;

	if (c->req == AT_REQ_WRITE && c->args.n > 0) {
		int rc = pattern_arg(c, &d, pattern);

		if (rc)
			return rc;
	}
	for (const struct fs_file *f = m->fs.files; f; f = f->next)
		if (f->drive == d && fs_match(pattern, f->name))
			at_info(m, "+QFLST: \"%s:%s\",%zu", fs_drive_name(d), f->name, f->len);
	return AT_OK;
}

/* AT+QFDEL=<name_pattern>. "*" deletes every UFS: file (reference §3, BG96 log), "RAM:*" every
 * RAM: file; a wildcard that matches nothing is OK. A plain name that does not exist is
 * +CME ERROR: 418 on EC25 (frogwatch capture; BG95 says 405). Open files are not deleted: a
 * plain name gives 426, a wildcard passes them by (a choice: the manuals are silent). */
static int cmd_qfdel(struct at_call *c)
{
	struct modem *m = c->m;
	char pattern[FS_NAME_MAX + 1];
	struct fs_file *f, *next;
	enum fs_drive d;
	int rc = pattern_arg(c, &d, pattern);

	if (rc)
		return rc;
	if (!has_wildcard(pattern)) {
		f = fs_find(&m->fs, d, pattern);
		if (!f) {
			at_why(m, "no file %s:%s", fs_drive_name(d), pattern);
			return CME_FILE_DELETE;
		}
		if (fs_is_open(&m->fs, f)) {
			at_why(m, "%s:%s is open; AT+QFCLOSE it first", fs_drive_name(d), pattern);
			return CME_FILE_OPENED;
		}
		return fs_delete(&m->fs, f) == 0 ? AT_OK : CME_FILE_DELETE;
	}
	for (f = m->fs.files; f; f = next) {
		next = f->next;
		if (f->drive == d && fs_match(pattern, f->name) && !fs_is_open(&m->fs, f) &&
		    fs_delete(&m->fs, f) != 0)
			return CME_FILE_DELETE;
	}
	return AT_OK;
}

/* AT+QFLDS: "+QFLDS: <UFS_file_size>,<UFS_file_number>"; AT+QFLDS="UFS"|"RAM":
 * "+QFLDS: <free_size>,<total_size>" (reference §3, BG96 FILE manual). */
static int cmd_qflds(struct at_call *c)
{
	struct modem *m = c->m;
	enum fs_drive d;

	if (c->req == AT_REQ_EXEC) {
		at_info(m, "+QFLDS: %zu,%zu", fs_drive_used(&m->fs, FS_UFS),
		        fs_drive_count(&m->fs, FS_UFS));
		return AT_OK;
	}
	if (at_param_is(&c->args.p[0], "UFS")) {
		d = FS_UFS;
	} else if (at_param_is(&c->args.p[0], "RAM")) {
		d = FS_RAM;
	} else {
		at_why(m, "the drives are \"UFS\" and \"RAM\"");
		return CME_FILE_INPUT;
	}
	at_info(m, "+QFLDS: %zu,%zu", drive_free(m, d), fs_drive_total(&m->fs, d));
	return AT_OK;
}

/* ---- open files ---- */

/* AT+QFOPEN=<filename>[,<mode>]: 0 open or create, 1 create or truncate, 2 read-only (the
 * file must exist). AT+QFOPEN? lists the open files (BG96 FILE manual 2.6). */
static int cmd_qfopen(struct at_call *c)
{
	struct modem *m = c->m;
	char name[FS_NAME_MAX + 1];
	int mode = at_given(c, 1) ? (int)at_num(c, 1) : 0;
	struct fs_file *f;
	enum fs_drive d;
	int slot, rc;

	if (c->req == AT_REQ_READ) {
		for (int i = 0; i < FS_MAX_OPEN; i++) {
			const struct fs_open *o = &m->fs.open[i];

			if (o->used)
				at_info(m, "+QFOPEN: \"%s:%s\",%d,%d", fs_drive_name(o->f->drive),
				        o->f->name, FILE_HANDLE_BASE + i, o->mode);
		}
		return AT_OK;
	}
	rc = name_arg(c, &d, name);
	if (rc)
		return rc;
	f = fs_find(&m->fs, d, name);
	if (f && fs_is_open(&m->fs, f)) {
		at_why(m, "%s:%s is already open", fs_drive_name(d), name);
		return CME_FILE_OPENED;
	}
	for (slot = 0; slot < FS_MAX_OPEN && m->fs.open[slot].used; slot++)
		;
	if (slot == FS_MAX_OPEN) {
		at_why(m, "%d files are open already", FS_MAX_OPEN);
		return CME_FILE_MAX_OPEN;
	}
	if (!f && mode == 2) {
		at_why(m, "no file %s:%s to open read-only", fs_drive_name(d), name);
		return CME_FILE_NOT_FOUND;
	}
	if (!f)
		rc = fs_put(&m->fs, d, name, NULL, 0, &f);
	else if (mode == 1)
		rc = fs_truncate(&m->fs, f, 0);
	if (rc)
		return store_error(m, rc);
	m->fs.open[slot].used = true;
	m->fs.open[slot].f = f;
	m->fs.open[slot].mode = mode;
	m->fs.open[slot].pos = 0;
	at_info(m, "+QFOPEN: %d", FILE_HANDLE_BASE + slot);
	return AT_OK;
}

/* AT+QFSEEK=<filehandle>,<offset>[,<position>]: from 0 the start, 1 the pointer, 2 the end.
 * Past the end is an error (BG96 FILE manual); 401 is the code that says so. */
static int cmd_qfseek(struct at_call *c)
{
	struct fs_open *o = handle_arg(c, 0, NULL);
	int whence = at_given(c, 2) ? (int)at_num(c, 2) : 0;
	long long base, pos;

	if (!o)
		return CME_FILE_BAD_HANDLE;
	base = whence == 0 ? 0 : whence == 1 ? (long long)o->pos : (long long)o->f->len;
	pos = base + at_num(c, 1);
	if (pos < 0 || pos > (long long)o->f->len) {
		at_why(c->m, "offset %lld is outside the file (%zu bytes)", pos, o->f->len);
		return CME_FILE_PAST_END;
	}
	o->pos = (size_t)pos;
	return AT_OK;
}

static int cmd_qfposition(struct at_call *c)
{
	struct fs_open *o = handle_arg(c, 0, NULL);

	if (!o)
		return CME_FILE_BAD_HANDLE;
	at_info(c->m, "+QFPOSITION: %zu", o->pos);
	return AT_OK;
}

/* AT+QFTUCAT=<filehandle>: cut the file at its pointer (BG96 FILE manual). */
static int cmd_qftucat(struct at_call *c)
{
	struct fs_open *o = handle_arg(c, 0, NULL);
	int rc;

	if (!o)
		return CME_FILE_BAD_HANDLE;
	if (o->mode == 2) {
		at_why(c->m, "the file was opened read-only (mode 2)");
		return CME_FILE_READ_ONLY;
	}
	rc = fs_truncate(&c->m->fs, o->f, o->pos);
	return rc ? store_error(c->m, rc) : AT_OK;
}

static int cmd_qfclose(struct at_call *c)
{
	struct fs_open *o = handle_arg(c, 0, NULL);

	if (!o)
		return CME_FILE_BAD_HANDLE;
	memset(o, 0, sizeof(*o));
	return AT_OK;
}

#define W AT_REQ_WRITE
#define T AT_REQ_TEST
#define HANDLE AT_NUM(0, 0x7fffffff)
#define SIZE AT_NUM(1, 0x7fffffff)

/* Malformed parameters give +CME ERROR: 400 (invalid input value), as a file command's own
 * checks do. */
/* The family owns the data phase (struct at_file_xfer); the files are the modem's store. */
static int xfer_init(struct modem *m, const struct at_family *f)
{
	(void)f;
	at_file_xfer_reset(m);
	return 0;
}

static const struct at_cmd file_ec25_cmds[] = {
        {"+QFUPL", W | T, 1, 4, AT_SPEC(AT_STR(0), SIZE, AT_NUM(1, 65535), AT_NUM(0, 1)),
         "+QFUPL: <filename>[,(1-<freesize>)[,(1-65535)[,(0,1)]]]", 0, CME_FILE_INPUT, cmd_qfupl},
        {"+QFDWL", W | T, 1, 1, AT_SPEC(AT_STR(0)), "+QFDWL: <filename>", 0, CME_FILE_INPUT,
         cmd_qfdwl},
        {"+QFDEL", W | T, 1, 1, AT_SPEC(AT_STR(0)), "+QFDEL: <filename>", 0, CME_FILE_INPUT,
         cmd_qfdel},
        {"+QFLST", AT_REQ_EXEC | W | T, 1, 1, AT_SPEC(AT_STR(0)), "", 0, CME_FILE_INPUT, cmd_qflst},
        {"+QFLDS", AT_REQ_EXEC | W | T, 1, 1, AT_SPEC(AT_STR(0)), "", 0, CME_FILE_INPUT, cmd_qflds},
        {"+QFOPEN", AT_REQ_READ | W | T, 1, 2, AT_SPEC(AT_STR(0), AT_NUM(0, 2)),
         "+QFOPEN: <filename>[,(0-2)]", 0, CME_FILE_INPUT, cmd_qfopen},
        {"+QFREAD", W | T, 1, 2, AT_SPEC(HANDLE, AT_NUM(0, 0x7fffffff)),
         "+QFREAD: <filehandle>[,<length>]", 0, CME_FILE_INPUT, cmd_qfread},
        {"+QFWRITE", W | T, 1, 3, AT_SPEC(HANDLE, SIZE, AT_NUM(1, 65535)),
         "+QFWRITE: <filehandle>[,<length>[,<timeout>]]", 0, CME_FILE_INPUT, cmd_qfwrite},
        {"+QFSEEK", W | T, 2, 3, AT_SPEC(HANDLE, AT_NUM(-0x7fffffffLL, 0x7fffffff), AT_NUM(0, 2)),
         "+QFSEEK: <filehandle>,<offset>[,(0-2)]", 0, CME_FILE_INPUT, cmd_qfseek},
        {"+QFPOSITION", W | T, 1, 1, AT_SPEC(HANDLE), "+QFPOSITION: <filehandle>", 0,
         CME_FILE_INPUT, cmd_qfposition},
        {"+QFTUCAT", W | T, 1, 1, AT_SPEC(HANDLE), "+QFTUCAT: <filehandle>", 0, CME_FILE_INPUT,
         cmd_qftucat},
        {"+QFCLOSE", W | T, 1, 1, AT_SPEC(HANDLE), "+QFCLOSE: <filehandle>", 0, CME_FILE_INPUT,
         cmd_qfclose},
        {0},
};

const struct at_family at_family_file_ec25 = {
        .name = "file-quectel",
        .cmds = file_ec25_cmds,
        .init = xfer_init,
        .reboot = at_file_xfer_drop,
        .close = at_file_xfer_drop,
};
