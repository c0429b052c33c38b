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
#include "store/checksum.h"

/* ---- drives (the profile's table) ---- */

static const struct fs_drive_spec *drive_spec(const struct fs_state *s, enum fs_drive d)
{
	for (const struct fs_drive_spec *ds = s->drives; ds && ds->prefix; ds++)
		if (ds->drive == d)
			return ds;
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

size_t fs_drive_total(const struct fs_state *s, enum fs_drive d)
{
	const struct fs_drive_spec *ds = drive_spec(s, d);

	return ds ? ds->total : 0;
}

size_t fs_drive_file_max(const struct fs_state *s, enum fs_drive d)
{
	const struct fs_drive_spec *ds = drive_spec(s, d);

	return ds ? ds->file_max : 0;
}

size_t fs_drive_used(const struct fs_state *s, enum fs_drive d)
{
	size_t n = 0;

	for (const struct fs_file *f = s->files; f; f = f->next)
		if (f->drive == d)
			n += f->len;
	return n;
}

size_t fs_drive_count(const struct fs_state *s, enum fs_drive d)
{
	size_t n = 0;

	for (const struct fs_file *f = s->files; f; f = f->next)
		if (f->drive == d)
			n++;
	return n;
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

static bool in_list(const char *const *list, const char *s, size_t n)
{
	for (; *list; list++)
		if (n == strlen(*list) && memcmp(s, *list, n) == 0)
			return true;
	return false;
}

static int resolve(const struct fs_state *s, const char *spec, size_t len, enum fs_drive *drive,
                   char *name, bool wild)
{
	const char *colon = memchr(spec, ':', len);
	const struct fs_drive_spec *ds = NULL;
	const char *rest = spec;
	size_t rest_len = len;

	if (colon) {
		size_t plen = (size_t)(colon - spec);

		for (const struct fs_drive_spec *d = s->drives; d && d->prefix; d++)
			if (strlen(d->prefix) == plen && strncasecmp(d->prefix, spec, plen) == 0)
				ds = d;
		rest = colon + 1;
		rest_len = len - plen - 1;
	} else {
		for (const struct fs_drive_spec *d = s->drives; d && d->prefix; d++)
			if (d->bare_names)
				ds = d;
	}
	if (!ds || !name_ok(rest, rest_len, wild))
		return -ERR_NAME;
	if (ds->names && !wild && !in_list(ds->names, rest, rest_len))
		return -ERR_NAME;
	*drive = ds->drive;
	memcpy(name, rest, rest_len);
	name[rest_len] = 0;
	return 0;
}

int fs_resolve(const struct fs_state *s, const char *spec, size_t len, enum fs_drive *drive,
               char *name)
{
	return resolve(s, spec, len, drive, name, false);
}

int fs_resolve_pattern(const struct fs_state *s, const char *spec, size_t len, enum fs_drive *drive,
                       char *pattern)
{
	return resolve(s, spec, len, drive, pattern, true);
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

static int path_of(const struct fs_state *s, char *out, size_t len, const char *sub,
                   const char *name)
{
	int n = snprintf(out, len, "%s/%s%s%s", s->root, sub, name ? "/" : "", name ? name : "");

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
static int make_dirs(const struct fs_state *s, const char *sub)
{
	char path[sizeof(s->root) + 16];
	int rc;

	if (make_dir(s->root) != 0)
		return -ERR_IO;
	rc = path_of(s, path, sizeof(path), sub, NULL);
	if (rc == 0)
		rc = make_dir(path);
	if (rc == 0)
		rc = path_of(s, path, sizeof(path), "tmp", NULL);
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
static int persist(const struct fs_state *s, const struct fs_file *f)
{
	const struct fs_drive_spec *ds = drive_spec(s, f->drive);
	char tmp[sizeof(s->root) + 32], dst[sizeof(s->root) + FS_NAME_MAX + 16];
	int fd, rc = -ERR_IO;

	if (!ds || !ds->persist || !s->root[0])
		return 0;
	if (make_dirs(s, ds->prefix) != 0 || path_of(s, tmp, sizeof(tmp), "tmp/wXXXXXX", NULL) ||
	    path_of(s, dst, sizeof(dst), ds->prefix, f->name))
		return -ERR_IO;
	fd = mkstemp(tmp);
	if (fd < 0) {
		log_msg(LOG_WARN, "#%d: cannot create %s: %s", s->trace_id, tmp, strerror(errno));
		return -ERR_IO;
	}
	if (write_all(fd, f->data, f->len) == 0 && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -ERR_IO;
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -ERR_IO;
	if (rc != 0) {
		log_msg(LOG_WARN, "#%d: cannot store %s:%s in %s: %s", s->trace_id, ds->prefix,
		        f->name, dst, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static int unpersist(const struct fs_state *s, const struct fs_file *f)
{
	const struct fs_drive_spec *ds = drive_spec(s, f->drive);
	char path[sizeof(s->root) + FS_NAME_MAX + 16];

	if (!ds || !ds->persist || !s->root[0])
		return 0;
	if (path_of(s, path, sizeof(path), ds->prefix, f->name) != 0)
		return -ERR_IO;
	if (unlink(path) != 0 && errno != ENOENT) {
		log_msg(LOG_WARN, "#%d: cannot remove %s: %s", s->trace_id, path, strerror(errno));
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

static void file_link(struct fs_state *s, struct fs_file *f)
{
	struct fs_file **pp = &s->files;

	/* Kept in the order of creation: listings then read like the module's. */
	while (*pp)
		pp = &(*pp)->next;
	f->next = NULL;
	*pp = f;
}

static void file_unlink(struct fs_state *s, struct fs_file *f)
{
	for (struct fs_file **pp = &s->files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			f->next = NULL;
			return;
		}
}

struct fs_file *fs_find(struct fs_state *s, enum fs_drive d, const char *name)
{
	for (struct fs_file *f = s->files; f; f = f->next)
		if (f->drive == d && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

bool fs_is_open(const struct fs_state *s, const struct fs_file *f)
{
	for (int i = 0; i < FS_MAX_OPEN; i++)
		if (s->open[i].used && s->open[i].f == f)
			return true;
	return false;
}

static int check_room(const struct fs_state *s, enum fs_drive d, size_t old_len, size_t new_len)
{
	const struct fs_drive_spec *ds = drive_spec(s, d);
	size_t used;

	if (!ds)
		return -ERR_NAME;
	if (new_len > ds->file_max)
		return -ERR_TOOBIG;
	used = fs_drive_used(s, d) - old_len;
	if (new_len > ds->total - used)
		return -ERR_NOSPC;
	return 0;
}

/* Give f the bytes in buf (owned by the caller until this succeeds), on disk first. */
static int file_replace(struct fs_state *s, struct fs_file *f, uint8_t *buf, size_t len)
{
	struct fs_file next = *f;
	int rc;

	next.data = buf;
	next.len = len;
	next.sum = fs_xor16(buf, len);
	rc = persist(s, &next);
	if (rc != 0)
		return rc;
	free(f->data);
	f->data = buf;
	f->len = len;
	f->sum = next.sum;
	return 0;
}

int fs_put(struct fs_state *s, enum fs_drive d, const char *name, const uint8_t *data, size_t len,
           struct fs_file **out)
{
	struct fs_file *f = fs_find(s, d, name), *fresh = NULL;
	uint8_t *copy;
	int rc = check_room(s, d, f ? f->len : 0, len);

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
	rc = file_replace(s, f, copy, len);
	if (rc != 0) {
		free(copy);
		file_free(fresh);
		return rc;
	}
	if (fresh)
		file_link(s, fresh);
	if (out)
		*out = f;
	return 0;
}

int fs_write_at(struct fs_state *s, struct fs_file *f, size_t off, const uint8_t *p, size_t n)
{
	size_t len = off + n > f->len ? off + n : f->len;
	uint8_t *buf;
	int rc = check_room(s, f->drive, f->len, len);

	if (rc != 0)
		return rc;
	buf = calloc(1, len ? len : 1);
	if (!buf)
		return -ERR_NOMEM;
	memcpy(buf, f->data, f->len);
	if (n)
		memcpy(buf + off, p, n);
	rc = file_replace(s, f, buf, len);
	if (rc != 0)
		free(buf);
	return rc;
}

int fs_truncate(struct fs_state *s, struct fs_file *f, size_t len)
{
	uint8_t *buf;
	int rc;

	if (len >= f->len)
		return 0;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ERR_NOMEM;
	memcpy(buf, f->data, len);
	rc = file_replace(s, f, buf, len);
	if (rc != 0)
		free(buf);
	return rc;
}

int fs_delete(struct fs_state *s, struct fs_file *f)
{
	int rc = unpersist(s, f);

	if (rc != 0)
		return rc;
	file_unlink(s, f);
	file_free(f);
	return 0;
}

int fs_get(struct fs_state *s, const char *name, const uint8_t **data, size_t *len)
{
	char base[FS_NAME_MAX + 1];
	enum fs_drive d;
	struct fs_file *f;

	if (fs_resolve(s, name, strlen(name), &d, base) != 0)
		return -ERR_NAME;
	f = fs_find(s, d, base);
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

static void load_drive(struct fs_state *s, const struct fs_drive_spec *ds)
{
	char dir[sizeof(s->root) + 16], path[sizeof(s->root) + 300];
	struct dirent *e;
	DIR *d;

	if (path_of(s, dir, sizeof(dir), ds->prefix, NULL) != 0)
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
		if (fs_resolve(s, spec, strlen(spec), &drive, check) != 0 || drive != ds->drive) {
			log_msg(LOG_WARN, "#%d: %s/%s is not a valid %s name; ignored", s->trace_id,
			        dir, e->d_name, ds->prefix);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, check);
		rc = read_file(path, ds->file_max, &data, &len);
		if (rc != 0) {
			log_msg(LOG_WARN, "#%d: %s: %s; ignored", s->trace_id, path, err_str(rc));
			continue;
		}
		if (len > ds->total - fs_drive_used(s, ds->drive)) {
			log_msg(LOG_WARN, "#%d: %s: the %s drive is full; ignored", s->trace_id,
			        path, ds->prefix);
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
		file_link(s, f);
	}
	closedir(d);
}

int fs_init(struct fs_state *s, const struct fs_drive_spec *drives, const char *root, int trace_id)
{
	memset(s, 0, sizeof(*s));
	s->drives = drives;
	s->trace_id = trace_id;
	if (!root || !root[0])
		return 0;
	if (strlen(root) >= sizeof(s->root)) {
		log_msg(LOG_WARN, "#%d: state directory path too long; files will not persist",
		        s->trace_id);
		return 0;
	}
	snprintf(s->root, sizeof(s->root), "%s", root);
	for (const struct fs_drive_spec *ds = s->drives; ds && ds->prefix; ds++)
		if (ds->persist)
			load_drive(s, ds);
	return 0;
}

void fs_reboot(struct fs_state *s)
{
	struct fs_file *f = s->files, *next;

	memset(s->open, 0, sizeof(s->open));
	for (; f; f = next) {
		const struct fs_drive_spec *ds = drive_spec(s, f->drive);

		next = f->next;
		if (!ds || !ds->persist) {
			file_unlink(s, f);
			file_free(f);
		}
	}
}

void fs_free(struct fs_state *s)
{
	struct fs_file *f = s->files, *next;

	for (; f; f = next) {
		next = f->next;
		file_free(f);
	}
	s->files = NULL;
}
