#include "store/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "modem/modemsim.h"
#include "store/checksum.h"

/* ---- drives per model (data, not code paths) ---- */

struct drive_spec {
	enum model_id model;
	enum fs_drive drive;
	const char *prefix; /* as printed: "UFS" */
	size_t total; /* capacity in bytes */
	size_t file_max; /* largest single file */
	bool persist; /* kept under <root>/<prefix>/ */
	bool fixed_names; /* M95 NVRAM: CA0, CC0, CK0 only */
};

static const struct drive_spec drives[] = {
        /* EC25 UFS: 14483456 is the total of a real AT+QFLDS="UFS" answer (reference §3,
         * BG96 AN). The upload range is (1-<freesize>), so free space is the only per-file
         * limit. */
        {MODEL_EC25, FS_UFS, "UFS", 14483456, 14483456, true, false},
        /* EC25 RAM: its size is not documented; 2 MiB is a choice. */
        {MODEL_EC25, FS_RAM, "RAM", 2097152, 2097152, false, false},
        /* M95 (GSM SSL AN V3.3 2.2.7): RAM at most 32768 bytes per file, NVRAM 2017, and
         * NVRAM holds one CA certificate, one client certificate and one key. The RAM drive's
         * total is not documented; 1 MiB is a cap so a runaway host cannot exhaust memory. */
        {MODEL_M95, FS_RAM, "RAM", 1048576, 32768, false, false},
        {MODEL_M95, FS_NVRAM, "NVRAM", 3 * 2017, 2017, true, true},
};

static const char *const nvram_names[] = {"CA0", "CC0", "CK0"};

static const struct drive_spec *drive_spec(const struct modem *m, enum fs_drive d)
{
	for (size_t i = 0; i < sizeof(drives) / sizeof(drives[0]); i++)
		if (drives[i].model == m->model->id && drives[i].drive == d)
			return &drives[i];
	return NULL;
}

const char *fs_drive_name(enum fs_drive d)
{
	switch (d) {
	case FS_UFS:
		return "UFS";
	case FS_RAM:
		return "RAM";
	case FS_NVRAM:
		return "NVRAM";
	}
	return "?";
}

size_t fs_drive_total(const struct modem *m, enum fs_drive d)
{
	const struct drive_spec *s = drive_spec(m, d);

	return s ? s->total : 0;
}

size_t fs_drive_file_max(const struct modem *m, enum fs_drive d)
{
	const struct drive_spec *s = drive_spec(m, d);

	return s ? s->file_max : 0;
}

size_t fs_drive_used(const struct modem *m, enum fs_drive d)
{
	size_t n = 0;

	for (const struct fs_file *f = m->fs.files; f; f = f->next)
		if (f->drive == d)
			n += f->len;
	return n;
}

size_t fs_drive_count(const struct modem *m, enum fs_drive d)
{
	size_t n = 0;

	for (const struct fs_file *f = m->fs.files; f; f = f->next)
		if (f->drive == d)
			n++;
	return n;
}

uint64_t fs_proto_ms(const struct modem *m, double seconds)
{
	double ms = seconds * 1000.0 * m->sim->opt.time_scale;

	return ms < 0 ? 0 : (uint64_t)ms;
}

/* ---- names ---- */

/* A name inside the modem. Everything that could make it a host path, or confuse a listing, is
 * refused: path separators, the drive separator, wildcards, quotes and control bytes. */
static bool name_ok(const char *s, size_t n, bool wild)
{
	if (n == 0 || n > FS_NAME_MAX)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' || c == '"')
			return false;
		if (!wild && (c == '*' || c == '?'))
			return false;
	}
	return true;
}

static int resolve(const struct modem *m, const char *spec, size_t len, enum fs_drive *drive,
                   char *name, bool wild)
{
	const char *colon = memchr(spec, ':', len);
	const struct drive_spec *ds = NULL;
	const char *rest = spec;
	size_t rest_len = len;

	if (colon) {
		size_t plen = (size_t)(colon - spec);

		for (size_t i = 0; i < sizeof(drives) / sizeof(drives[0]); i++)
			if (drives[i].model == m->model->id && strlen(drives[i].prefix) == plen &&
			    strncasecmp(drives[i].prefix, spec, plen) == 0)
				ds = &drives[i];
		rest = colon + 1;
		rest_len = len - plen - 1;
	} else if (m->model->id == MODEL_EC25) {
		/* EC25 FILE manual: a plain name is a UFS file (reference §3). */
		ds = drive_spec(m, FS_UFS);
	}
	/* M95 (GSM SSL AN 2.2.7): the name is "RAM:..." or "NVRAM:...", nothing else. */
	if (!ds || !name_ok(rest, rest_len, wild))
		return -ERR_NAME;
	if (ds->fixed_names && !wild) {
		bool found = false;

		for (size_t i = 0; i < sizeof(nvram_names) / sizeof(nvram_names[0]); i++)
			if (rest_len == strlen(nvram_names[i]) &&
			    memcmp(rest, nvram_names[i], rest_len) == 0)
				found = true;
		if (!found)
			return -ERR_NAME;
	}
	*drive = ds->drive;
	memcpy(name, rest, rest_len);
	name[rest_len] = 0;
	return 0;
}

int fs_resolve(const struct modem *m, const char *spec, size_t len, enum fs_drive *drive,
               char *name)
{
	return resolve(m, spec, len, drive, name, false);
}

int fs_resolve_pattern(const struct modem *m, const char *spec, size_t len, enum fs_drive *drive,
                       char *pattern)
{
	return resolve(m, spec, len, drive, pattern, true);
}

bool fs_match(const char *pattern, const char *name)
{
	const char *star = NULL, *resume = NULL;

	while (*name) {
		if (*pattern == '*') {
			star = pattern++;
			resume = name;
		} else if (*pattern == '?' || *pattern == *name) {
			pattern++;
			name++;
		} else if (star) {
			pattern = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == 0;
}

/* ---- disk copies of the persistent drives ---- */

static int path_of(const struct modem *m, char *out, size_t len, const char *sub, const char *name)
{
	int n = snprintf(out, len, "%s/%s%s%s", m->fs.root, sub, name ? "/" : "", name ? name : "");

	return n < 0 || (size_t)n >= len ? -ERR_NAME : 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_msg(LOG_WARN, "cannot create %s: %s", path, strerror(errno));
		return -ERR_IO;
	}
	return 0;
}

/* Create <root>, <root>/<drive> and <root>/tmp when first needed. */
static int make_dirs(const struct modem *m, const char *sub)
{
	char path[sizeof(m->fs.root) + 16];
	int rc;

	if (make_dir(m->fs.root) != 0)
		return -ERR_IO;
	rc = path_of(m, path, sizeof(path), sub, NULL);
	if (rc == 0)
		rc = make_dir(path);
	if (rc == 0)
		rc = path_of(m, path, sizeof(path), "tmp", NULL);
	if (rc == 0)
		rc = make_dir(path);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write the whole file to a temporary file and rename it into place, so a crash leaves the old
 * copy or the new one, never half of one. */
static int persist(const struct modem *m, const struct fs_file *f)
{
	const struct drive_spec *ds = drive_spec(m, f->drive);
	char tmp[sizeof(m->fs.root) + 32], dst[sizeof(m->fs.root) + FS_NAME_MAX + 16];
	int fd, rc = -ERR_IO;

	if (!ds || !ds->persist || !m->fs.root[0])
		return 0;
	if (make_dirs(m, ds->prefix) != 0 || path_of(m, tmp, sizeof(tmp), "tmp/wXXXXXX", NULL) ||
	    path_of(m, dst, sizeof(dst), ds->prefix, f->name))
		return -ERR_IO;
	fd = mkstemp(tmp);
	if (fd < 0) {
		log_msg(LOG_WARN, "#%d: cannot create %s: %s", m->index, tmp, strerror(errno));
		return -ERR_IO;
	}
	if (write_all(fd, f->data, f->len) == 0 && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -ERR_IO;
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -ERR_IO;
	if (rc != 0) {
		log_msg(LOG_WARN, "#%d: cannot store %s:%s in %s: %s", m->index, ds->prefix,
		        f->name, dst, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static int unpersist(const struct modem *m, const struct fs_file *f)
{
	const struct drive_spec *ds = drive_spec(m, f->drive);
	char path[sizeof(m->fs.root) + FS_NAME_MAX + 16];

	if (!ds || !ds->persist || !m->fs.root[0])
		return 0;
	if (path_of(m, path, sizeof(path), ds->prefix, f->name) != 0)
		return -ERR_IO;
	if (unlink(path) != 0 && errno != ENOENT) {
		log_msg(LOG_WARN, "#%d: cannot remove %s: %s", m->index, path, strerror(errno));
		return -ERR_IO;
	}
	return 0;
}

/* ---- files in memory ---- */

static struct fs_file *file_new(enum fs_drive d, const char *name)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->drive = d;
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

static void file_free(struct fs_file *f)
{
	if (!f)
		return;
	free(f->data);
	free(f);
}

static void file_link(struct modem *m, struct fs_file *f)
{
	struct fs_file **pp = &m->fs.files;

	/* Kept in the order of creation: listings then read like the module's. */
	while (*pp)
		pp = &(*pp)->next;
	f->next = NULL;
	*pp = f;
}

static void file_unlink(struct modem *m, struct fs_file *f)
{
	for (struct fs_file **pp = &m->fs.files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			f->next = NULL;
			return;
		}
}

struct fs_file *fs_find(struct modem *m, enum fs_drive d, const char *name)
{
	for (struct fs_file *f = m->fs.files; f; f = f->next)
		if (f->drive == d && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

bool fs_is_open(const struct modem *m, const struct fs_file *f)
{
	for (int i = 0; i < FS_MAX_OPEN; i++)
		if (m->fs.open[i].used && m->fs.open[i].f == f)
			return true;
	return false;
}

static int check_room(const struct modem *m, enum fs_drive d, size_t old_len, size_t new_len)
{
	const struct drive_spec *ds = drive_spec(m, d);
	size_t used;

	if (!ds)
		return -ERR_NAME;
	if (new_len > ds->file_max)
		return -ERR_TOOBIG;
	used = fs_drive_used(m, d) - old_len;
	if (new_len > ds->total - used)
		return -ERR_NOSPC;
	return 0;
}

/* Give f the bytes in buf (owned by the caller until this succeeds), on disk first. */
static int file_replace(struct modem *m, struct fs_file *f, uint8_t *buf, size_t len)
{
	struct fs_file next = *f;
	int rc;

	next.data = buf;
	next.len = len;
	next.sum = fs_xor16(buf, len);
	rc = persist(m, &next);
	if (rc != 0)
		return rc;
	free(f->data);
	f->data = buf;
	f->len = len;
	f->sum = next.sum;
	return 0;
}

int fs_put(struct modem *m, enum fs_drive d, const char *name, const uint8_t *data, size_t len,
           struct fs_file **out)
{
	struct fs_file *f = fs_find(m, d, name), *fresh = NULL;
	uint8_t *copy;
	int rc = check_room(m, d, f ? f->len : 0, len);

	if (rc != 0)
		return rc;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ERR_NOMEM;
	if (len)
		memcpy(copy, data, len);
	if (!f) {
		fresh = file_new(d, name);
		if (!fresh) {
			free(copy);
			return -ERR_NOMEM;
		}
		f = fresh;
	}
	rc = file_replace(m, f, copy, len);
	if (rc != 0) {
		free(copy);
		file_free(fresh);
		return rc;
	}
	if (fresh)
		file_link(m, fresh);
	if (out)
		*out = f;
	return 0;
}

int fs_write_at(struct modem *m, struct fs_file *f, size_t off, const uint8_t *p, size_t n)
{
	size_t len = off + n > f->len ? off + n : f->len;
	uint8_t *buf;
	int rc = check_room(m, f->drive, f->len, len);

	if (rc != 0)
		return rc;
	buf = calloc(1, len ? len : 1);
	if (!buf)
		return -ERR_NOMEM;
	memcpy(buf, f->data, f->len);
	if (n)
		memcpy(buf + off, p, n);
	rc = file_replace(m, f, buf, len);
	if (rc != 0)
		free(buf);
	return rc;
}

int fs_truncate(struct modem *m, struct fs_file *f, size_t len)
{
	uint8_t *buf;
	int rc;

	if (len >= f->len)
		return 0;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ERR_NOMEM;
	memcpy(buf, f->data, len);
	rc = file_replace(m, f, buf, len);
	if (rc != 0)
		free(buf);
	return rc;
}

int fs_delete(struct modem *m, struct fs_file *f)
{
	int rc = unpersist(m, f);

	if (rc != 0)
		return rc;
	file_unlink(m, f);
	file_free(f);
	return 0;
}

int fs_get(struct modem *m, const char *name, const uint8_t **data, size_t *len)
{
	char base[FS_NAME_MAX + 1];
	enum fs_drive d;
	struct fs_file *f;

	if (fs_resolve(m, name, strlen(name), &d, base) != 0)
		return -ERR_NAME;
	f = fs_find(m, d, base);
	if (!f)
		return -ERR_NOENT;
	*data = f->data;
	*len = f->len;
	return 0;
}

/* ---- lifecycle ---- */

static int read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return -ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return -ERR_TOOBIG;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		return -ERR_IO;
	}
	*out = buf;
	*out_len = got;
	return 0;
}

static void load_drive(struct modem *m, const struct drive_spec *ds)
{
	char dir[sizeof(m->fs.root) + 16], path[sizeof(m->fs.root) + 300];
	struct dirent *e;
	DIR *d;

	if (path_of(m, dir, sizeof(dir), ds->prefix, NULL) != 0)
		return;
	d = opendir(dir);
	if (!d)
		return; /* nothing stored yet */
	while ((e = readdir(d)) != NULL) {
		char check[FS_NAME_MAX + 1];
		enum fs_drive drive;
		char spec[FS_NAME_MAX + 16];
		struct fs_file *f;
		uint8_t *data;
		size_t len;
		int rc;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(spec, sizeof(spec), "%s:%.*s", ds->prefix, FS_NAME_MAX + 1, e->d_name);
		if (fs_resolve(m, spec, strlen(spec), &drive, check) != 0 || drive != ds->drive) {
			log_msg(LOG_WARN, "#%d: %s/%s is not a valid %s name; ignored", m->index,
			        dir, e->d_name, ds->prefix);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, check);
		rc = read_file(path, ds->file_max, &data, &len);
		if (rc != 0) {
			log_msg(LOG_WARN, "#%d: %s: %s; ignored", m->index, path, err_str(rc));
			continue;
		}
		if (len > ds->total - fs_drive_used(m, ds->drive)) {
			log_msg(LOG_WARN, "#%d: %s: the %s drive is full; ignored", m->index, path,
			        ds->prefix);
			free(data);
			continue;
		}
		f = file_new(ds->drive, check);
		if (!f) {
			free(data);
			continue;
		}
		f->data = data;
		f->len = len;
		f->sum = fs_xor16(data, len);
		file_link(m, f);
	}
	closedir(d);
}

int fs_init(struct modem *m)
{
	struct fs_state *s = &m->fs;
	int n;

	memset(s, 0, sizeof(*s));
	buf_init(&s->xfer.data, 0);
	if (!m->sim || !m->sim->state_dir[0])
		return 0;
	n = snprintf(s->root, sizeof(s->root), "%s/%d", m->sim->state_dir, m->index);
	if (n < 0 || (size_t)n >= sizeof(s->root)) {
		s->root[0] = 0;
		log_msg(LOG_WARN, "#%d: state directory path too long; files will not persist",
		        m->index);
		return 0;
	}
	for (size_t i = 0; i < sizeof(drives) / sizeof(drives[0]); i++)
		if (drives[i].model == m->model->id && drives[i].persist)
			load_drive(m, &drives[i]);
	return 0;
}

void fs_xfer_reset(struct modem *m)
{
	struct fs_xfer *x = &m->fs.xfer;

	if (x->active)
		m->on_drain = NULL; /* a download waiting for the host to read */
	buf_free(&x->data);
	memset(x, 0, sizeof(*x));
	buf_init(&x->data, 0);
}

void fs_reboot(struct modem *m)
{
	struct fs_file *f = m->fs.files, *next;

	/* The modem's timers were all cancelled before this runs (modem_reboot), so the
	 * download pacing timer is forgotten, not cancelled twice. */
	m->fs.xfer.timer = NULL;
	fs_xfer_reset(m);
	memset(m->fs.open, 0, sizeof(m->fs.open));
	for (; f; f = next) {
		next = f->next;
		if (f->drive == FS_RAM) {
			file_unlink(m, f);
			file_free(f);
		}
	}
}

void fs_free(struct modem *m)
{
	struct fs_file *f = m->fs.files, *next;

	m->fs.xfer.timer = NULL;
	buf_free(&m->fs.xfer.data);
	for (; f; f = next) {
		next = f->next;
		file_free(f);
	}
	m->fs.files = NULL;
}
