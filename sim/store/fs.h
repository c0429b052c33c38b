/* The modem's file store: the drives of its model, e.g. UFS: and RAM: (EC25), RAM: and NVRAM:
 * (M95), described by the model profile's table of struct fs_drive_spec.
 *
 * Every file lives in memory; files of the persistent drives (UFS:, NVRAM:) are also kept on disk
 * under <root>/UFS/ and <root>/NVRAM/ (root: <state_dir>/<modem index>), written atomically (a
 * temporary file under <root>/tmp/ renamed into place) and loaded again by fs_init. RAM: is
 * memory only and fs_reboot (AT+CFUN=1,1) clears it. A file name is a name inside the modem,
 * never a host path: names are checked by fs_resolve before they reach the disk, so nothing
 * outside the state directory is ever touched.
 *
 * Nor is anything reached through a symbolic link (issue 10 item 8): <root>, <root>/tmp and the
 * drive directories must be real directories. fs_init refuses to start with a link (or any
 * non-directory) in their place; one that appears later makes every write, delete or load that
 * would go through it fail with -ERR_IO and a log line naming the path, and the store stays as
 * it was (the AT families answer as for any disk failure).
 *
 * The store knows nothing of AT commands or modems: the AT families (at/cmd_file.c for EC25,
 * at/cmd_sec.c for M95) keep the state of their data phases themselves (at/cmd_file.h) and
 * turn the store's error causes into their result codes. */
#ifndef MODEMSIM_STORE_FS_H
#define MODEMSIM_STORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

/* Reference §3: "Max filename length 80 bytes" [AN BG96 FILE]; the limit applies to the name
 * without its drive prefix ("UFS:", "RAM:"), a choice where the manual is silent. */
#define FS_NAME_MAX 80
/* The longest name any drive takes (struct fs_drive_spec.name_max): SIMCom's certificate
 * names, 5-128 bytes (AT+CCERTDOWN, SIM7600 manual V3.00 10.2.13). */
#define FS_NAME_LONGEST 128
/* EC25 AT+QFOPEN: how many files may be open at once before +CME ERROR: 413. Not documented
 * for EC25; a choice. */
#define FS_MAX_OPEN 16

/* FS_CERT: SIMCom's certificate store (AT+CCERTDOWN), names without a drive. */
enum fs_drive { FS_UFS, FS_RAM, FS_NVRAM, FS_CERT };

/* One drive of a model (a row of the profile's table, which ends with a row whose prefix is
 * NULL). Which drives a model has, their sizes and their naming rules are profile data
 * (modem/profile.c); the store only applies them. */
struct fs_drive_spec {
	enum fs_drive drive;
	const char *prefix; /* as printed: "UFS" */
	size_t total; /* capacity in bytes */
	size_t file_max; /* largest single file */
	bool persist; /* kept under <root>/<prefix>/ */
	/* A name without a drive prefix ("a.pem") is on this drive. At most one row sets it; with
	 * none, a drive prefix is required. */
	bool bare_names;
	/* NULL: any valid name; else the only names the drive holds (NULL-terminated). */
	const char *const *names;
	size_t name_max; /* longest name, at most FS_NAME_LONGEST; 0: FS_NAME_MAX */
	/* Names may have directories ("/security/cacert.pem", BG95/BG96 firmware): components
	 * separated by '/', one leading '/' (the drive's root) dropped, so "/a/b" and "a/b" are
	 * the same file. Empty, "." and ".." components are refused. On disk such a name is one
	 * flat file (each '/' and '%' written as %2F and %25): the store never makes or follows
	 * host directories below the drive's. */
	bool subdirs;
};

struct fs_file {
	struct fs_file *next;
	enum fs_drive drive;
	char name[FS_NAME_LONGEST + 1];
	uint8_t *data;
	size_t len;
	/* XOR16 recorded when the file was written (M95 AT+QSECREAD compares it with the
	 * checksum of the bytes held now: "good" is 1 while they agree). */
	uint16_t sum;
};

/* An EC25 file handle (AT+QFOPEN). The file cannot be deleted while open. */
struct fs_open {
	bool used;
	struct fs_file *f;
	int mode; /* 0 read/write, 1 truncated read/write, 2 read-only */
	size_t pos;
};

struct fs_state {
	struct fs_file *files;
	struct fs_open open[FS_MAX_OPEN];
	const struct fs_drive_spec *drives; /* the model's (profile), ended by a NULL prefix */
	int trace_id; /* the modem's index, for log lines ("#0: ...") */
	char *root; /* <state_dir>/<index> (PATH_MAX at most); NULL: nothing persists */
};

/* Start an empty store with the drives of drives (kept by reference: a static table) and load
 * their persistent files from root (the modem's directory, <state_dir>/<index>; NULL or "": nothing
 * persists). Files that cannot be read or whose names are not valid modem names are skipped with
 * a warning. trace_id names the modem in log lines. Returns 0, or -ERR_EXIST when root,
 * root/tmp or a persistent drive's directory is a symbolic link or not a directory (logged with
 * its path; the store is then empty and persists nothing, and fs_free is still safe). */
int fs_init(struct fs_state *s, const struct fs_drive_spec *drives, const char *root, int trace_id);
/* AT+CFUN=1,1: the files of memory-only drives (RAM:) are lost, open handles are dropped. */
void fs_reboot(struct fs_state *s);
void fs_free(struct fs_state *s);

/* Split a file name as the host gives it ("UFS:a.pem", "RAM:a", "a", "NVRAM:CA0") into its
 * drive and name, under the rules of the store's drives: a prefix names one of them; a name
 * without one is on the drive marked bare_names, or invalid if none is; a drive with a names
 * list holds those names only. Drive prefixes are case-insensitive ("ufs:" appears in a field
 * log), names are case-sensitive.
 * Returns 0, or -ERR_NAME for an empty, over-long or unknown-drive name, a name with '/', '\\',
 * ':', '*', '?', '"' or a control byte, and "." or ".."; on a drive with subdirs, '/' separates
 * components (see struct fs_drive_spec) and name gets the name without its leading '/'.
 * name must hold the drive's name_max + 1
 * bytes (FS_NAME_MAX + 1 on a drive that sets none; FS_NAME_LONGEST + 1 always suffices). */
int fs_resolve(const struct fs_state *s, const char *spec, size_t len, enum fs_drive *drive,
               char *name);
/* The same for a pattern of AT+QFLST / AT+QFDEL: '*' and '?' are allowed, names lists are not
 * checked. pattern must hold as many bytes as fs_resolve's name. */
int fs_resolve_pattern(const struct fs_state *s, const char *spec, size_t len, enum fs_drive *drive,
                       char *pattern);
/* Glob match: '*' any run of bytes, '?' any one byte, everything else itself. */
bool fs_match(const char *pattern, const char *name);
/* The drive prefix printed in listings ("UFS", "RAM", "NVRAM"). */
const char *fs_drive_name(enum fs_drive d);

struct fs_file *fs_find(struct fs_state *s, enum fs_drive d, const char *name);
/* Create or replace a file with a copy of data. Returns 0, -ERR_NOSPC (drive limit),
 * -ERR_TOOBIG (per-file limit), -ERR_NOMEM or -ERR_IO (the disk copy could not be written; the
 * store is then unchanged). *out (may be NULL) gets the file. */
int fs_put(struct fs_state *s, enum fs_drive d, const char *name, const uint8_t *data, size_t len,
           struct fs_file **out);
/* Write n bytes at off (extending the file), or cut it to len; persisted like fs_put. */
int fs_write_at(struct fs_state *s, struct fs_file *f, size_t off, const uint8_t *p, size_t n);
int fs_truncate(struct fs_state *s, struct fs_file *f, size_t len);
/* Remove a file (and its disk copy). f is freed. */
int fs_delete(struct fs_state *s, struct fs_file *f);
bool fs_is_open(const struct fs_state *s, const struct fs_file *f);

/* Capacity of a drive (bytes; 0 for a drive the store does not have), and what its files use. */
size_t fs_drive_total(const struct fs_state *s, enum fs_drive d);
size_t fs_drive_file_max(const struct fs_state *s, enum fs_drive d);
size_t fs_drive_used(const struct fs_state *s, enum fs_drive d);
size_t fs_drive_count(const struct fs_state *s, enum fs_drive d);

/* Store a file given at start (modemsim --preload-certs) as the i-th of its kind (0 the CA, 1
 * the client certificate, 2 its key): on the store's first drive that persists, under that
 * drive's i-th fixed name where it has a list (M95 NVRAM: CA0, CC0, CK0), else under
 * conventional ("cacert.pem"). out gets the name as a host gives it to AT+QSSLCFG and its
 * like: "UFS:cacert.pem", "NVRAM:CA0", or the bare name on a store of one drive. Returns 0,
 * -ERR_NOENT (no drive persists, or the list is shorter), or fs_put's errors. */
int fs_preload(struct fs_state *s, int i, const char *conventional, const uint8_t *data, size_t len,
               char *out, size_t size);

/* For the TLS code: the bytes of a file named as the host names it in AT+QSSLCFG (EC25
 * "RAM:x", "UFS:x" or "x" meaning UFS:x; M95 "RAM:x", "NVRAM:CA0"). The pointer stays valid
 * until the file is written or deleted. Returns 0, -ERR_NAME or -ERR_NOENT. */
int fs_get(struct fs_state *s, const char *name, const uint8_t **data, size_t *len);

#endif
