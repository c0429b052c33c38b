/* Diagnostics (stderr), the human transcript (--log) and the JSON-lines trace (--trace).
 *
 * Transcript lines read like a serial terminal's: "[12:23:24.873] #0 TX AT+CSQ\r" where TX is
 * what the host transmitted to the modem and RX what the host received from it. The trace has
 * one JSON object per line with "t" (Unix time, seconds with milliseconds), "modem", and "ev":
 * "tx"/"rx" (bytes), "cmd" (a parsed command and its result), or any named event. */
#ifndef MODEMSIM_CORE_LOG_H
#define MODEMSIM_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Either path may be NULL. Returns 0 or -ERR_IO with a message on stderr. */
int trace_open(const char *log_path, const char *trace_path);
void trace_close(void);
void trace_flush(void);
bool trace_enabled(void);

enum trace_dir { TRACE_TX, TRACE_RX };
void trace_io(int modem, enum trace_dir dir, const uint8_t *p, size_t n);
/* A command line (or one command of a concatenated line) and its final result. why may be NULL. */
void trace_cmd(int modem, const char *cmd, size_t len, const char *result, const char *why);
/* Any other event: kind is a short word ("note", "urc", "fault", "mqtt", "tls", ...). */
void trace_event(int modem, const char *kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A place where the host broke the documented protocol ("the module judges the host"):
 * severity "error" | "warning" | "info", kind a short word ("cmd-before-result",
 * "data-before-prompt", ...). The record names the transcript line of the modem's latest host
 * input ("line"; tx records carry their own "line" too). Trace: {"ev":"finding", "severity",
 * "kind", "line", "msg"}; transcript: "#0 FINDING error kind: msg (transcript line N)". */
void trace_finding(int modem, const char *severity, const char *kind, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Transcript line number of the modem's latest host input (0: none yet). */
uint64_t trace_last_tx_line(int modem);

/* Escape bytes for a transcript (printable ASCII as is, \r \n \t \\ and \xNN) or for a JSON
 * string body (\u00NN for control and non-ASCII bytes, so that the bytes are recoverable). */
void log_escape(struct buf *out, const uint8_t *p, size_t n, bool json);
/* p[0..n) as a quoted JSON string (log_escape's JSON form): the one JSON string writer. */
void log_json_str(struct buf *out, const void *p, size_t n);

#endif
