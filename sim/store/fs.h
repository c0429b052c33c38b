/* The modem's file store: drives UFS: and RAM: (EC25), RAM: and NVRAM: (M95).
 *
 * Every file lives in memory; files of the persistent drives (UFS:, NVRAM:) are also kept on disk
 * under <state_dir>/<modem index>/UFS/ and .../NVRAM/, written atomically (a temporary file under
 * .../tmp/ renamed into place) and loaded again by fs_init. RAM: is memory only and fs_reboot
 * (AT+CFUN=1,1) clears it. A file name is a name inside the modem, never a host path: names are
 * checked by fs_resolve before they reach the disk, so nothing outside the state directory is
 * ever touched.
 *
 * The AT families (at/cmd_file.c for EC25, at/cmd_sec.c for M95) keep the state of their
 * pending data phases and open files here, so that reboot and close can drop it. */
#ifndef MODEMSIM_STORE_FS_H
#define MODEMSIM_STORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

#include "core/buf.h"

struct modem;
struct modem_timer;

/* Reference §3: "Max filename length 80 bytes" [AN BG96 FILE]; the limit applies to the name
 * without its drive prefix ("UFS:", "RAM:"), a choice where the manual is silent. */
#define FS_NAME_MAX 80
/* EC25 AT+QFOPEN: how many files may be open at once before +CME ERROR: 413. Not documented
 * for EC25; a choice. */
#define FS_MAX_OPEN 16

enum fs_drive { FS_UFS, FS_RAM, FS_NVRAM };

struct fs_file {
	struct fs_file *next;
	enum fs_drive drive;
	char name[FS_NAME_MAX + 1];
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

/* A command's data phase (upload or paced download); owned by the AT family that started it. */
struct fs_xfer {
	bool active;
	int kind; /* the family's own enum */
	enum fs_drive drive;
	char name[FS_NAME_MAX + 1];
	int slot; /* AT+QFWRITE / AT+QFREAD: index into fs_state.open */
	size_t want; /* declared size of an upload */
	bool ackmode; /* AT+QFUPL ackmode 1: an 'A' after every 1024 bytes */
	struct buf data; /* bytes received, or bytes still to send */
	size_t sent; /* download: bytes of data already written to the host */
	struct modem_timer *timer; /* download pacing; cancelled by reboot/close */
};

struct fs_state {
	struct fs_file *files;
	struct fs_open open[FS_MAX_OPEN];
	struct fs_xfer xfer;
	char root[PATH_MAX]; /* <state_dir>/<index>; empty: nothing persists */
};

/* Load the persistent drives of the modem's model from its state directory. Files that cannot
 * be read or whose names are not valid modem names are skipped with a warning. */
int fs_init(struct modem *m);
/* AT+CFUN=1,1: RAM: is lost, open handles and any data phase are dropped. */
void fs_reboot(struct modem *m);
void fs_free(struct modem *m);

/* Split a file name as the host gives it ("UFS:a.pem", "RAM:a", "a", "NVRAM:CA0") into its
 * drive and name, under the model's rules: EC25 knows UFS: and RAM: (no prefix: UFS:), M95 knows
 * RAM: and NVRAM: (a prefix is required; NVRAM: names are CA0, CC0 and CK0 only). Drive prefixes
 * are case-insensitive ("ufs:" appears in a field log), names are case-sensitive.
 * Returns 0, or -ERR_NAME for an empty, over-long or unknown-drive name, a name with '/', '\\',
 * ':', '*', '?', '"' or a control byte, and "." or "..". name must hold FS_NAME_MAX + 1 bytes. */
int fs_resolve(const struct modem *m, const char *spec, size_t len, enum fs_drive *drive,
               char *name);
/* The same for a pattern of AT+QFLST / AT+QFDEL: '*' and '?' are allowed, NVRAM names are not
 * checked. pattern must hold FS_NAME_MAX + 1 bytes. */
int fs_resolve_pattern(const struct modem *m, const char *spec, size_t len, enum fs_drive *drive,
                       char *pattern);
/* Glob match: '*' any run of bytes, '?' any one byte, everything else itself. */
bool fs_match(const char *pattern, const char *name);
/* The drive prefix printed in listings ("UFS", "RAM", "NVRAM"). */
const char *fs_drive_name(enum fs_drive d);

struct fs_file *fs_find(struct modem *m, enum fs_drive d, const char *name);
/* Create or replace a file with a copy of data. Returns 0, -ERR_NOSPC (drive limit),
 * -ERR_TOOBIG (per-file limit), -ERR_NOMEM or -ERR_IO (the disk copy could not be written; the
 * store is then unchanged). *out (may be NULL) gets the file. */
int fs_put(struct modem *m, enum fs_drive d, const char *name, const uint8_t *data, size_t len,
           struct fs_file **out);
/* Write n bytes at off (extending the file), or cut it to len; persisted like fs_put. */
int fs_write_at(struct modem *m, struct fs_file *f, size_t off, const uint8_t *p, size_t n);
int fs_truncate(struct modem *m, struct fs_file *f, size_t len);
/* Remove a file (and its disk copy). f is freed. */
int fs_delete(struct modem *m, struct fs_file *f);
bool fs_is_open(const struct modem *m, const struct fs_file *f);

/* Capacity of a drive on this model (bytes), and what its files use. */
size_t fs_drive_total(const struct modem *m, enum fs_drive d);
size_t fs_drive_file_max(const struct modem *m, enum fs_drive d);
size_t fs_drive_used(const struct modem *m, enum fs_drive d);
size_t fs_drive_count(const struct modem *m, enum fs_drive d);

/* For the TLS code: the bytes of a file named as the host names it in AT+QSSLCFG (EC25
 * "RAM:x", "UFS:x" or "x" meaning UFS:x; M95 "RAM:x", "NVRAM:CA0"). The pointer stays valid
 * until the file is written or deleted. Returns 0, -ERR_NAME or -ERR_NOENT. */
int fs_get(struct modem *m, const char *name, const uint8_t **data, size_t *len);

/* A protocol timer (upload inactivity, +++ guard time) of `seconds`, in loop milliseconds under
 * --time-scale. Not a latency: --timing fast leaves it as it is. */
uint64_t fs_proto_ms(const struct modem *m, double seconds);

/* Drop a data phase's buffers (the caller has finished or abandoned it). */
void fs_xfer_reset(struct modem *m);

#endif
