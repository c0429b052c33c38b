/* The data phase of the file command families: EC25 +QFUPL/+QFWRITE (uploads) and
 * +QFDWL/+QFREAD (paced downloads) in at/cmd_file.c, M95 +QSECWRITE in at/cmd_sec.c. One per
 * modem (struct modem's file_xfer), owned by the family that started it; the modem drops it on
 * reboot and close. The files themselves are the store's (store/fs.h). */
#ifndef MODEMSIM_AT_CMD_FILE_H
#define MODEMSIM_AT_CMD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/fs.h"

struct modem;
struct modem_timer;

struct at_file_xfer {
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

/* A protocol timer (upload inactivity, +++ guard time) of `seconds`, in loop milliseconds under
 * --time-scale. Not a latency: --timing fast leaves it as it is. */
uint64_t at_file_proto_ms(const struct modem *m, double seconds);

/* Drop a data phase's buffers (the caller has finished or abandoned it). Also readies a zeroed
 * struct at_file_xfer. */
void at_file_xfer_reset(struct modem *m);

/* Reboot and close: the modem's timers were all cancelled before this runs, so the download
 * pacing timer is forgotten, not cancelled twice; then as at_file_xfer_reset. */
void at_file_xfer_drop(struct modem *m);

#endif
