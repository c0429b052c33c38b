#include "store/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
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
	case FS_CERT:
		return "CERT";
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

/* One component of a name inside the modem. Everything that could make it a host path, or
 * confuse a listing, is refused: path separators, the drive separator, wildcards, quotes and
 * control bytes, and "." and "..". */
static bool component_ok(const char *s, size_t n, bool wild)
{
	if (n == 0)
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

/* A name of at most max bytes as given; with dirs, '/'-separated components after an optional
 * leading '/', none of them empty (so no "//" and no trailing '/'). */
static bool name_ok(const char *s, size_t n, size_t max, bool wild, bool dirs)
{
	const char *end = s + n;

	if (n == 0 || n > max)
		return false;
	if (!dirs)
		return component_ok(s, n, wild);
	if (s[0] == '/')
		s++;
	for (;;) {
		const char *slash = memchr(s, '/', (size_t)(end - s));
		const char *stop = slash ? slash : end;

		if (!component_ok(s, (size_t)(stop - s), wild))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
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
	if (!ds ||
	    !name_ok(rest, rest_len, ds->name_max ? ds->name_max : FS_NAME_MAX, wild, ds->subdirs))
		return -ERR_NAME;
	if (ds->subdirs && rest[0] == '/') {
		rest++;
		rest_len--;
	}
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

/* ---- disk copies of the persistent drives ----
 *
 * Nothing is read or written through a symbolic link (issue 10 item 8): at every write, delete
 * and load, <root> is opened with O_NOFOLLOW | O_DIRECTORY, <root>/<drive> and <root>/tmp the
 * same way relative to it, and files by name relative to those descriptors. A link (or anything
 * but a directory) put in place of one of them, before start-up or while modemsim runs, is
 * refused, never followed: the operation fails with -ERR_IO and a log line names the path. */

/* "<root>[/<sub>[/<name>]]", for log lines. */
static void path_of(const struct fs_state *s, char *out, size_t len, const char *sub,
                    const char *name)
{
	snprintf(out, len, "%s%s%s%s%s", s->root ? s->root : "", sub ? "/" : "", sub ? sub : "",
	         name ? "/" : "", name ? name : "");
}

/* Why name under at is no directory the store may use, or NULL if it looks like one. */
static const char *not_a_dir(int at, const char *name)
{
	struct stat st;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return NULL;
	if (S_ISLNK(st.st_mode))
		return "is a symbolic link";
	if (!S_ISDIR(st.st_mode))
		return "is not a directory";
	return NULL;
}

/* Open the directory name under at (for the root: AT_FDCWD and its absolute path) as a real
 * directory, creating it first if create; path names it in log lines. Returns the descriptor,
 * -ERR_NOENT (absent, and !create) or -ERR_IO (logged). */
static int open_dir(const struct fs_state *s, int at, const char *name, const char *path,
                    bool create)
{
	const char *why;
	int fd, err;

	if (create && mkdirat(at, name, 0700) != 0 && errno != EEXIST) {
		log_msg(LOG_WARN, "cannot create %s: %s", path, strerror(errno));
		return -ERR_IO;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err == ENOENT && !create)
		return -ERR_NOENT;
	why = not_a_dir(at, name);
	if (why)
		log_msg(LOG_ERROR,
		        "#%d: %s %s; not used (the modem's files stay inside the state directory)",
		        s->trace_id, path, why);
	else
		log_msg(LOG_WARN, "#%d: cannot open %s: %s", s->trace_id, path, strerror(err));
	return -ERR_IO;
}

/* mkstemp relative to a directory descriptor: a new file "w" + 8 hex digits in dir. */
static int make_temp(int dir, char *name, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (unsigned i = 0; i < 100; i++) {
		unsigned r = (unsigned)ts.tv_nsec ^ (unsigned)getpid() << 12 ^ i * 0x9e3779b9u;
		int fd;

		snprintf(name, len, "w%08x", r);
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
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

/* The name of f's disk copy: the name itself, or on a drive with subdirs the name with each '/'
 * written as %2F and each '%' as %25, so a name with directories is still one file directly in
 * the drive's directory (out: FS_DISK_NAME bytes). */
#define FS_DISK_NAME (3 * FS_NAME_LONGEST + 1)

static void disk_name(const struct fs_drive_spec *ds, const char *name, char *out)
{
	size_t o = 0;

	for (; *name; name++) {
		if (ds->subdirs && (*name == '/' || *name == '%')) {
			o += (size_t)sprintf(out + o, "%%%02X", (unsigned)(unsigned char)*name);
			continue;
		}
		out[o++] = *name;
	}
	out[o] = 0;
}

/* The reverse for a file found on disk; false if it is no name disk_name writes. */
static bool name_from_disk(const struct fs_drive_spec *ds, const char *disk, char *out, size_t len)
{
	size_t o = 0;

	for (; *disk; disk++) {
		char c = *disk;

		if (ds->subdirs && c == '%') {
			if (strncmp(disk, "%2F", 3) == 0)
				c = '/';
			else if (strncmp(disk, "%25", 3) == 0)
				c = '%';
			else
				return false;
			disk += 2;
		}
		if (o + 1 >= len)
			return false;
		out[o++] = c;
	}
	out[o] = 0;
	return true;
}

/* Write the whole file to a temporary file in <root>/tmp and rename it into <root>/<drive>, so a
 * crash leaves the old copy or the new one, never half of one. The directories are created
 * when first needed. */
static int persist(const struct fs_state *s, const struct fs_file *f)
{
	const struct fs_drive_spec *ds = drive_spec(s, f->drive);
	char tmp[PATH_MAX + 32], dst[PATH_MAX + FS_DISK_NAME + 16], name[16];
	char disk[FS_DISK_NAME];
	int root, dir, tmpdir, fd, err = 0, rc = -ERR_IO;

	if (!ds || !ds->persist || !s->root)
		return 0;
	disk_name(ds, f->name, disk);
	root = open_dir(s, AT_FDCWD, s->root, s->root, true);
	if (root < 0)
		return -ERR_IO;
	path_of(s, dst, sizeof(dst), ds->prefix, NULL);
	dir = open_dir(s, root, ds->prefix, dst, true);
	if (dir < 0)
		goto close_root;
	path_of(s, tmp, sizeof(tmp), "tmp", NULL);
	tmpdir = open_dir(s, root, "tmp", tmp, true);
	if (tmpdir < 0)
		goto close_dir;
	fd = make_temp(tmpdir, name, sizeof(name));
	if (fd < 0) {
		log_msg(LOG_WARN, "#%d: cannot create a file in %s: %s", s->trace_id, tmp,
		        strerror(errno));
		goto close_tmpdir;
	}
	if (write_all(fd, f->data, f->len) == 0 && fsync(fd) == 0)
		rc = 0;
	else
		err = errno;
	if (close(fd) != 0 && rc == 0) {
		err = errno;
		rc = -ERR_IO;
	}
	if (rc == 0 && renameat(tmpdir, name, dir, disk) != 0) {
		err = errno;
		rc = -ERR_IO;
	}
	if (rc != 0) {
		path_of(s, dst, sizeof(dst), ds->prefix, disk);
		log_msg(LOG_WARN, "#%d: cannot store %s:%s in %s: %s", s->trace_id, ds->prefix,
		        f->name, dst, strerror(err));
		unlinkat(tmpdir, name, 0);
	}
close_tmpdir:
	close(tmpdir);
close_dir:
	close(dir);
close_root:
	close(root);
	return rc;
}

static int unpersist(const struct fs_state *s, const struct fs_file *f)
{
	const struct fs_drive_spec *ds = drive_spec(s, f->drive);
	char path[PATH_MAX + FS_DISK_NAME + 16], disk[FS_DISK_NAME];
	int root, dir, rc = -ERR_IO;

	if (!ds || !ds->persist || !s->root)
		return 0;
	disk_name(ds, f->name, disk);
	root = open_dir(s, AT_FDCWD, s->root, s->root, false);
	if (root < 0)
		return root == -ERR_NOENT ? 0 : -ERR_IO; /* absent: nothing stored */
	path_of(s, path, sizeof(path), ds->prefix, NULL);
	dir = open_dir(s, root, ds->prefix, path, false);
	if (dir < 0) {
		rc = dir == -ERR_NOENT ? 0 : -ERR_IO;
		goto close_root;
	}
	rc = 0;
	if (unlinkat(dir, disk, 0) != 0 && errno != ENOENT) {
		path_of(s, path, sizeof(path), ds->prefix, disk);
		log_msg(LOG_WARN, "#%d: cannot remove %s: %s", s->trace_id, path, strerror(errno));
		rc = -ERR_IO;
	}
	close(dir);
close_root:
	close(root);
	return rc;
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
	char base[FS_NAME_LONGEST + 1];
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

static int read_file(int dir, const char *name, size_t max, uint8_t **out, size_t *out_len)
{
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

static void load_drive(struct fs_state *s, int root, const struct fs_drive_spec *ds)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 16 + 260];
	struct dirent *e;
	int fd;
	DIR *d;

	path_of(s, dir, sizeof(dir), ds->prefix, NULL);
	fd = open_dir(s, root, ds->prefix, dir, false);
	if (fd < 0)
		return; /* nothing stored yet, or refused (logged) */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char check[FS_NAME_LONGEST + 1], plain[FS_NAME_LONGEST + 2];
		enum fs_drive drive;
		char spec[FS_NAME_LONGEST + 16];
		struct fs_file *f;
		uint8_t *data;
		size_t len;
		int rc;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* A name the store would have written under another spelling ("%2Fa" for "a") is
		 * not taken either: each file has one disk copy. */
		if (!name_from_disk(ds, e->d_name, plain, sizeof(plain)))
			plain[0] = 0;
		snprintf(spec, sizeof(spec), "%s:%s", ds->prefix, plain);
		if (!plain[0] || fs_resolve(s, spec, strlen(spec), &drive, check) != 0 ||
		    drive != ds->drive || strcmp(check, plain) != 0) {
			log_msg(LOG_WARN, "#%d: %s/%s is not a valid %s name; ignored", s->trace_id,
			        dir, e->d_name, ds->prefix);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = read_file(fd, e->d_name, ds->file_max, &data, &len);
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

/* At start-up: <root>, <root>/tmp and the persistent drives' directories are absent or real
 * directories. Anything else in their place is named and refused (-ERR_EXIST). */
static int check_dir(const char *path)
{
	struct stat st;
	const char *why;

	if (lstat(path, &st) != 0)
		return 0; /* absent: made when first needed */
	if (S_ISLNK(st.st_mode))
		why = "is a symbolic link";
	else if (!S_ISDIR(st.st_mode))
		why = "is not a directory";
	else
		return 0;
	log_msg(LOG_ERROR,
	        "%s %s: the modem's files must stay inside the state directory, so it is not "
	        "used; remove it",
	        path, why);
	return -ERR_EXIST;
}

static int check_dirs(const struct fs_state *s)
{
	char path[PATH_MAX + 16];

	if (check_dir(s->root) != 0)
		return -ERR_EXIST;
	path_of(s, path, sizeof(path), "tmp", NULL);
	if (check_dir(path) != 0)
		return -ERR_EXIST;
	for (const struct fs_drive_spec *ds = s->drives; ds && ds->prefix; ds++) {
		path_of(s, path, sizeof(path), ds->prefix, NULL);
		if (ds->persist && check_dir(path) != 0)
			return -ERR_EXIST;
	}
	return 0;
}

int fs_init(struct fs_state *s, const struct fs_drive_spec *drives, const char *root, int trace_id)
{
	int rc, fd;

	memset(s, 0, sizeof(*s));
	s->drives = drives;
	s->trace_id = trace_id;
	if (!root || !root[0])
		return 0;
	if (strlen(root) >= PATH_MAX) {
		log_msg(LOG_WARN, "#%d: state directory path too long; files will not persist",
		        s->trace_id);
		return 0;
	}
	s->root = strdup(root);
	if (!s->root)
		return -ERR_NOMEM;
	rc = check_dirs(s);
	if (rc != 0) {
		free(s->root);
		s->root = NULL;
		return rc;
	}
	fd = open_dir(s, AT_FDCWD, s->root, s->root, false);
	if (fd < 0)
		return 0; /* nothing stored yet, or refused (logged) */
	for (const struct fs_drive_spec *ds = s->drives; ds && ds->prefix; ds++)
		if (ds->persist)
			load_drive(s, fd, ds);
	close(fd);
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
	free(s->root);
	s->root = NULL;
}

int fs_preload(struct fs_state *s, int i, const char *conventional, const uint8_t *data, size_t len,
               char *out, size_t size)
{
	const struct fs_drive_spec *ds = s->drives;
	const char *name = conventional;
	int rc;

	while (ds->prefix && !ds->persist)
		ds++;
	if (!ds->prefix)
		return -ERR_NOENT;
	if (ds->names) {
		for (int k = 0; k < i; k++)
			if (!ds->names[k])
				return -ERR_NOENT;
		name = ds->names[i];
		if (!name)
			return -ERR_NOENT;
	}
	rc = fs_put(s, ds->drive, name, data, len, NULL);
	if (rc)
		return rc;
	if (ds->bare_names && !s->drives[1].prefix)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "%s:%s", ds->prefix, name);
	return 0;
}
