/* The file store on its own (store/fs.h): names under each profile's drive table, persistence
 * under a root directory, and the refusal of a symbolic link in place of the root, its tmp
 * directory or a drive directory, at start-up and at every later write (issue 10 item 8). The AT
 * side is covered end to end by harness/tests/test_file_ec25.py, test_sec_m95.py and
 * test_state_links.py. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/err.h"
#include "modem/profile.h"
#include "store/fs.h"

static char base[] = "/tmp/test_store-XXXXXX";

/* "<base>/<rel>" */
static const char *at(const char *rel)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", base, rel);
	return p;
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int put(struct fs_state *s, enum fs_drive d, const char *name, const char *text)
{
	return fs_put(s, d, name, (const uint8_t *)text, strlen(text), NULL);
}

static void rm_tree(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

/* name, EC25 result, M95 result (0: the drive, else the error) */
static const struct {
	const char *spec;
	int ec25_rc, m95_rc;
	enum fs_drive ec25_drive, m95_drive;
} names[] = {
        {"a.pem", 0, -ERR_NAME, FS_UFS, 0}, /* EC25: a plain name is UFS:; M95: no such thing */
        {"UFS:a.pem", 0, -ERR_NAME, FS_UFS, 0},
        {"ufs:a.pem", 0, -ERR_NAME, FS_UFS, 0},
        {"RAM:a.pem", 0, 0, FS_RAM, FS_RAM},
        {"NVRAM:CA0", -ERR_NAME, 0, 0, FS_NVRAM},
        {"nvram:CK0", -ERR_NAME, 0, 0, FS_NVRAM},
        {"NVRAM:ca0", -ERR_NAME, -ERR_NAME, 0, 0}, /* names are case-sensitive */
        {"NVRAM:XX0", -ERR_NAME, -ERR_NAME, 0, 0},
        {"RAM:", -ERR_NAME, -ERR_NAME, 0, 0},
        {"RAM:../x", -ERR_NAME, -ERR_NAME, 0, 0},
        {"..", -ERR_NAME, -ERR_NAME, 0, 0},
        {"SD:a", -ERR_NAME, -ERR_NAME, 0, 0},
};

static void test_names(void)
{
	struct fs_state ec25, m95;
	char name[FS_NAME_MAX + 1];
	enum fs_drive d;

	CHECK(fs_init(&ec25, profile_ec25.drives, NULL, 0) == 0);
	CHECK(fs_init(&m95, profile_m95.drives, NULL, 1) == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *s = names[i].spec;
		int rc = fs_resolve(&ec25, s, strlen(s), &d, name);

		CHECK(rc == names[i].ec25_rc);
		if (rc == 0)
			CHECK(d == names[i].ec25_drive);
		rc = fs_resolve(&m95, s, strlen(s), &d, name);
		CHECK(rc == names[i].m95_rc);
		if (rc == 0)
			CHECK(d == names[i].m95_drive);
		if (rc != names[i].m95_rc)
			fprintf(stderr, "  m95 %s: %d\n", s, rc);
	}
	/* patterns: NVRAM names are not checked */
	CHECK(fs_resolve_pattern(&m95, "NVRAM:*", 7, &d, name) == 0 && d == FS_NVRAM);
	CHECK(fs_resolve_pattern(&ec25, "*", 1, &d, name) == 0 && d == FS_UFS);
	/* the drive sizes are the profile's */
	CHECK(fs_drive_total(&ec25, FS_UFS) == 14483456);
	CHECK(fs_drive_file_max(&m95, FS_RAM) == 32768);
	CHECK(fs_drive_file_max(&m95, FS_NVRAM) == 2017);
	CHECK(fs_drive_total(&ec25, FS_NVRAM) == 0);
	CHECK(put(&m95, FS_NVRAM, "CA0", "ca") == 0);
	CHECK(fs_drive_used(&m95, FS_NVRAM) == 2 && fs_drive_count(&m95, FS_NVRAM) == 1);
	fs_free(&ec25);
	fs_free(&m95);
}

/* BG96 (subdirs): '/'-separated components, one leading '/' dropped; each file one flat disk
 * file under <root>/UFS ('/' as %2F, '%' as %25), loaded back under its name. */
static void test_subdirs(void)
{
	static const char *const bad[] = {
	        "/",    "a/",    "a//b",           "//a", "/../x", "a/./b",
	        "a/..", "UFS:/", "ufs:/a/../../b", NULL};
	struct fs_state s;
	char name[FS_NAME_MAX + 1];
	enum fs_drive d;
	const uint8_t *data;
	size_t len;

	CHECK(fs_init(&s, profile_bg96.drives, at("bg96"), 2) == 0);
	CHECK(fs_resolve(&s, "ufs:/security/ca.pem", 20, &d, name) == 0 && d == FS_UFS &&
	      strcmp(name, "security/ca.pem") == 0);
	CHECK(fs_resolve(&s, "/security/ca.pem", 16, &d, name) == 0 &&
	      strcmp(name, "security/ca.pem") == 0);
	CHECK(fs_resolve_pattern(&s, "UFS:/security/*", 15, &d, name) == 0 &&
	      strcmp(name, "security/*") == 0);
	for (size_t i = 0; bad[i]; i++)
		CHECK(fs_resolve(&s, bad[i], strlen(bad[i]), &d, name) == -ERR_NAME);
	CHECK(put(&s, FS_UFS, "security/ca.pem", "ca") == 0);
	CHECK(put(&s, FS_UFS, "100%", "p") == 0);
	CHECK(access(at("bg96/UFS/security%2Fca.pem"), F_OK) == 0);
	CHECK(access(at("bg96/UFS/100%25"), F_OK) == 0);
	CHECK(entries(at("bg96/UFS")) == 2);
	fs_free(&s);
	CHECK(fs_init(&s, profile_bg96.drives, at("bg96"), 2) == 0);
	CHECK(fs_get(&s, "/security/ca.pem", &data, &len) == 0 && len == 2 &&
	      memcmp(data, "ca", 2) == 0);
	CHECK(fs_get(&s, "UFS:100%", &data, &len) == 0 && len == 1);
	CHECK(fs_delete(&s, fs_find(&s, FS_UFS, "security/ca.pem")) == 0);
	CHECK(entries(at("bg96/UFS")) == 1);
	fs_free(&s);
	/* the EC25 keeps flat names */
	CHECK(fs_init(&s, profile_ec25.drives, NULL, 0) == 0);
	CHECK(fs_resolve(&s, "/security/ca.pem", 16, &d, name) == -ERR_NAME);
	fs_free(&s);
}

static void test_persist_and_reboot(void)
{
	const char *root = at("p/0");
	const uint8_t *data;
	struct fs_state s;
	struct fs_file *f;
	size_t len;

	CHECK(mkdir(at("p"), 0700) == 0); /* the state directory: main makes it */
	CHECK(fs_init(&s, profile_ec25.drives, root, 0) == 0);
	CHECK(put(&s, FS_UFS, "u.txt", "flash") == 0);
	CHECK(put(&s, FS_RAM, "r.txt", "ram") == 0);
	CHECK(entries(at("p/0/UFS")) == 1);
	CHECK(entries(at("p/0/tmp")) == 0);
	fs_reboot(&s);
	CHECK(fs_get(&s, "u.txt", &data, &len) == 0 && len == 5 && memcmp(data, "flash", 5) == 0);
	CHECK(fs_get(&s, "RAM:r.txt", &data, &len) == -ERR_NOENT);
	fs_free(&s);
	CHECK(fs_init(&s, profile_ec25.drives, root, 0) == 0);
	CHECK(fs_get(&s, "UFS:u.txt", &data, &len) == 0 && len == 5);
	f = fs_find(&s, FS_UFS, "u.txt");
	CHECK(f && fs_delete(&s, f) == 0);
	CHECK(entries(at("p/0/UFS")) == 0);
	fs_free(&s);
}

/* A link in place of rel (under base) at start-up: fs_init refuses, nothing is touched. */
static void start_refused(const struct model_profile *p, const char *rel, const char *dir)
{
	struct fs_state s;

	rm_tree(at("s"));
	CHECK(mkdir(at("s"), 0700) == 0);
	CHECK(mkdir(at("s/0"), 0700) == 0);
	CHECK(symlink(dir, at(rel)) == 0);
	CHECK(fs_init(&s, p->drives, at("s/0"), 0) == -ERR_EXIST);
	CHECK(s.files == NULL && s.root == NULL);
	fs_free(&s);
}

static void test_link_at_start(void)
{
	struct fs_state s;

	CHECK(mkdir(at("out"), 0700) == 0);
	start_refused(&profile_ec25, "s/0/UFS", at("out"));
	start_refused(&profile_ec25, "s/0/tmp", at("out"));
	start_refused(&profile_m95, "s/0/NVRAM", at("out"));
	/* a dangling link is refused the same way */
	start_refused(&profile_ec25, "s/0/UFS", at("nowhere"));
	CHECK(entries(at("out")) == 0);
	/* a link for a drive the model lacks is no reason to refuse */
	rm_tree(at("s"));
	CHECK(mkdir(at("s"), 0700) == 0 && mkdir(at("s/0"), 0700) == 0);
	CHECK(symlink(at("out"), at("s/0/NVRAM")) == 0);
	CHECK(fs_init(&s, profile_ec25.drives, at("s/0"), 0) == 0);
	fs_free(&s);
	/* nor is a root that is absent */
	CHECK(fs_init(&s, profile_ec25.drives, at("s/1"), 1) == 0);
	fs_free(&s);
	/* the root itself */
	rm_tree(at("s"));
	CHECK(mkdir(at("s"), 0700) == 0);
	CHECK(symlink(at("out"), at("s/0")) == 0);
	CHECK(fs_init(&s, profile_ec25.drives, at("s/0"), 0) == -ERR_EXIST);
	fs_free(&s);
	rm_tree(at("s"));
}

/* rel (a directory under base) becomes a link to out while the store runs. */
static void swap_for_link(const char *rel)
{
	char aside[PATH_MAX];

	snprintf(aside, sizeof(aside), "%s.aside", at(rel));
	CHECK(rename(at(rel), aside) == 0);
	CHECK(symlink(at("out"), at(rel)) == 0);
}

static void test_link_later(void)
{
	const char *rels[] = {"w/0/UFS", "w/0/tmp", "w/0"};
	const uint8_t *data;
	size_t len;

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		struct fs_state s;
		struct fs_file *f;
		FILE *fp;

		rm_tree(at("w"));
		rm_tree(at("out"));
		CHECK(mkdir(at("w"), 0700) == 0 && mkdir(at("out"), 0700) == 0);
		CHECK(fs_init(&s, profile_ec25.drives, at("w/0"), 0) == 0);
		CHECK(put(&s, FS_UFS, "a.txt", "mine") == 0);
		f = fs_find(&s, FS_UFS, "a.txt");
		swap_for_link(rels[i]);
		/* a file of the same name outside, which a delete must not remove */
		fp = fopen(at("out/a.txt"), "w");
		CHECK(fp && fputs("keep", fp) >= 0 && fclose(fp) == 0);

		CHECK(put(&s, FS_UFS, "b.txt", "escape") == -ERR_IO);
		CHECK(fs_find(&s, FS_UFS, "b.txt") == NULL);
		CHECK(put(&s, FS_UFS, "a.txt", "replace") == -ERR_IO);
		CHECK(fs_write_at(&s, f, 4, (const uint8_t *)"more", 4) == -ERR_IO);
		CHECK(fs_truncate(&s, f, 1) == -ERR_IO);
		/* the tmp link does not matter to a delete, the others do */
		CHECK(fs_delete(&s, f) == (i == 1 ? 0 : -ERR_IO));
		if (i != 1) {
			CHECK(fs_get(&s, "a.txt", &data, &len) == 0 && len == 4 &&
			      memcmp(data, "mine", 4) == 0);
		}
		/* RAM: is memory only */
		CHECK(put(&s, FS_RAM, "r.txt", "ram") == 0);
		CHECK(entries(at("out")) == 1);
		fs_free(&s);
	}
	rm_tree(at("w"));
}

/* A file in a drive directory that is a link to a host file is not loaded. */
static void test_load_never_follows(void)
{
	struct fs_state s;
	FILE *fp;

	rm_tree(at("out"));
	rm_tree(at("l"));
	CHECK(mkdir(at("out"), 0700) == 0 && mkdir(at("l"), 0700) == 0 &&
	      mkdir(at("l/0"), 0700) == 0);
	CHECK(mkdir(at("l/0/UFS"), 0700) == 0);
	fp = fopen(at("out/secret"), "w");
	CHECK(fp && fputs("host file", fp) >= 0 && fclose(fp) == 0);
	CHECK(symlink(at("out/secret"), at("l/0/UFS/cert.pem")) == 0);
	CHECK(fs_init(&s, profile_ec25.drives, at("l/0"), 0) == 0);
	CHECK(s.files == NULL);
	fs_free(&s);
	rm_tree(at("l"));
}

int main(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_subdirs();
	test_persist_and_reboot();
	test_link_at_start();
	test_link_later();
	test_load_never_follows();
	rm_tree(base);
	return check_exit();
}
