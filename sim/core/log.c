#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/err.h"

static enum log_level level_now = LOG_WARN;
static FILE *log_file;
static FILE *trace_file;
/* Transcript line numbers: every record the transcript has (or would have, without --log)
 * counts, so that findings can name the line of the host's command. */
static uint64_t log_line;
static uint64_t *last_tx_line; /* per modem */
static size_t n_last_tx;

static void note_tx_line(int modem)
{
	if (modem < 0)
		return;
	if ((size_t)modem >= n_last_tx) {
		size_t n = (size_t)modem + 16;
		uint64_t *p = realloc(last_tx_line, n * sizeof(*p));

		if (!p)
			return;
		memset(p + n_last_tx, 0, (n - n_last_tx) * sizeof(*p));
		last_tx_line = p;
		n_last_tx = n;
	}
	last_tx_line[modem] = log_line;
}

uint64_t trace_last_tx_line(int modem)
{
	return modem >= 0 && (size_t)modem < n_last_tx ? last_tx_line[modem] : 0;
}

void log_set_level(enum log_level level)
{
	level_now = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	va_list ap;

	if (level > level_now)
		return;
	fprintf(stderr, "modemsim: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int trace_open(const char *log_path, const char *trace_path)
{
	/* "-" is stdout (after the banner lines, which come first: no transcript line exists
	 * before "ready"). */
	if (log_path && strcmp(log_path, "-") == 0 && trace_path && strcmp(trace_path, "-") == 0) {
		log_msg(LOG_ERROR, "--log - and --trace - cannot both be stdout");
		return -ERR_INVAL;
	}
	if (log_path && strcmp(log_path, "-") == 0) {
		log_file = stdout;
		setvbuf(stdout, NULL, _IOLBF, 0);
	} else if (log_path) {
		log_file = fopen(log_path, "w");
		if (!log_file) {
			log_msg(LOG_ERROR, "cannot open log file %s: %m", log_path);
			return -ERR_IO;
		}
		setvbuf(log_file, NULL, _IOLBF, 0);
	}
	if (trace_path && strcmp(trace_path, "-") == 0) {
		trace_file = stdout;
		setvbuf(stdout, NULL, _IOLBF, 0);
	} else if (trace_path) {
		trace_file = fopen(trace_path, "w");
		if (!trace_file) {
			log_msg(LOG_ERROR, "cannot open trace file %s: %m", trace_path);
			return -ERR_IO;
		}
		setvbuf(trace_file, NULL, _IOLBF, 0);
	}
	return 0;
}

void trace_close(void)
{
	if (log_file && log_file != stdout)
		fclose(log_file);
	if (trace_file && trace_file != stdout)
		fclose(trace_file);
	fflush(stdout);
	log_file = NULL;
	trace_file = NULL;
	free(last_tx_line);
	last_tx_line = NULL;
	n_last_tx = 0;
}

void trace_flush(void)
{
	if (log_file)
		fflush(log_file);
	if (trace_file)
		fflush(trace_file);
}

bool trace_enabled(void)
{
	return log_file || trace_file;
}

void log_json_str(struct buf *out, const void *p, size_t n)
{
	buf_putc(out, '"');
	log_escape(out, p, n, true);
	buf_putc(out, '"');
}

void log_escape(struct buf *out, const uint8_t *p, size_t n, bool json)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		switch (c) {
		case '\r':
			buf_append(out, "\\r", 2);
			continue;
		case '\n':
			buf_append(out, "\\n", 2);
			continue;
		case '\t':
			buf_append(out, "\\t", 2);
			continue;
		case '\\':
			buf_append(out, "\\\\", 2);
			continue;
		case '"':
			if (json) {
				buf_append(out, "\\\"", 2);
				continue;
			}
			break;
		default:
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			buf_putc(out, c);
		else if (json)
			buf_printf(out, "\\u%04x", c);
		else
			buf_printf(out, "\\x%02x", c);
	}
}

struct stamp {
	char clock[40]; /* HH:MM:SS.mmm, local time */
	char unix[32]; /* seconds.milliseconds */
};

static void stamp_now(struct stamp *s)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	snprintf(s->clock, sizeof(s->clock), "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min,
	         tm.tm_sec, (long)(tv.tv_usec / 1000));
	snprintf(s->unix, sizeof(s->unix), "%lld.%03ld", (long long)tv.tv_sec,
	         (long)(tv.tv_usec / 1000));
}

void trace_io(int modem, enum trace_dir dir, const uint8_t *p, size_t n)
{
	const char *d = dir == TRACE_TX ? "TX" : "RX";
	struct stamp s;
	struct buf b;

	log_line++;
	if (dir == TRACE_TX)
		note_tx_line(modem);
	if (!log_file && !trace_file)
		return;
	stamp_now(&s);
	buf_init(&b, 0);
	if (log_file) {
		log_escape(&b, p, n, false);
		fprintf(log_file, "[%s] #%d %s %.*s\n", s.clock, modem, d, (int)b.len,
		        b.data ? (char *)b.data : "");
		buf_reset(&b);
	}
	if (trace_file) {
		log_escape(&b, p, n, true);
		fprintf(trace_file,
		        "{\"t\":%s,\"modem\":%d,\"ev\":\"%s\",\"line\":%llu,\"bytes\":\"%.*s\"}\n",
		        s.unix, modem, dir == TRACE_TX ? "tx" : "rx", (unsigned long long)log_line,
		        (int)b.len, b.data ? (char *)b.data : "");
	}
	buf_free(&b);
}

void trace_cmd(int modem, const char *cmd, size_t len, const char *result, const char *why)
{
	struct stamp s;
	struct buf b, r, w;

	log_line++;
	if (!log_file && !trace_file && level_now < LOG_INFO)
		return;
	stamp_now(&s);
	buf_init(&b, 0);
	buf_init(&r, 0);
	buf_init(&w, 0);
	if (level_now >= LOG_INFO) {
		/* -v: what the modem does, on the terminal */
		log_escape(&b, (const uint8_t *)cmd, len, false);
		log_msg(LOG_INFO, "#%d AT%.*s => %s%s%s%s", modem, (int)b.len,
		        b.data ? (char *)b.data : "", result, why ? " (" : "", why ? why : "",
		        why ? ")" : "");
		buf_reset(&b);
	}
	if (log_file) {
		log_escape(&b, (const uint8_t *)cmd, len, false);
		fprintf(log_file, "[%s] #%d -- %.*s => %s%s%s%s\n", s.clock, modem, (int)b.len,
		        b.data ? (char *)b.data : "", result, why ? " (" : "", why ? why : "",
		        why ? ")" : "");
		buf_reset(&b);
	}
	if (trace_file) {
		log_escape(&b, (const uint8_t *)cmd, len, true);
		log_escape(&r, (const uint8_t *)result, strlen(result), true);
		if (why)
			log_escape(&w, (const uint8_t *)why, strlen(why), true);
		fprintf(trace_file,
		        "{\"t\":%s,\"modem\":%d,\"ev\":\"cmd\",\"cmd\":\"%.*s\",\"result\":\"%.*"
		        "s\"",
		        s.unix, modem, (int)b.len, b.data ? (char *)b.data : "", (int)r.len,
		        r.data ? (char *)r.data : "");
		if (why)
			fprintf(trace_file, ",\"why\":\"%.*s\"", (int)w.len, (char *)w.data);
		fputs("}\n", trace_file);
	}
	buf_free(&b);
	buf_free(&r);
	buf_free(&w);
}

void trace_event(int modem, const char *kind, const char *fmt, ...)
{
	struct stamp s;
	struct buf msg, esc;
	va_list ap;

	log_line++;
	if (!log_file && !trace_file && level_now < LOG_DEBUG)
		return;
	stamp_now(&s);
	buf_init(&msg, 0);
	buf_init(&esc, 0);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (log_file)
		fprintf(log_file, "[%s] #%d %s %s\n", s.clock, modem, kind,
		        msg.data ? (char *)msg.data : "");
	if (trace_file) {
		log_escape(&esc, msg.data, msg.len, true);
		fprintf(trace_file, "{\"t\":%s,\"modem\":%d,\"ev\":\"%s\",\"msg\":\"%.*s\"}\n",
		        s.unix, modem, kind, (int)esc.len, esc.data ? (char *)esc.data : "");
	}
	log_msg(LOG_DEBUG, "#%d %s %s", modem, kind, msg.data ? (char *)msg.data : "");
	buf_free(&msg);
	buf_free(&esc);
}

void trace_finding(int modem, const char *severity, const char *kind, const char *fmt, ...)
{
	uint64_t line = trace_last_tx_line(modem);
	struct stamp s;
	struct buf msg, esc;
	va_list ap;

	log_line++;
	buf_init(&msg, 0);
	buf_init(&esc, 0);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	stamp_now(&s);
	if (log_file)
		fprintf(log_file, "[%s] #%d FINDING %s %s: %s (transcript line %llu)\n", s.clock,
		        modem, severity, kind, msg.data ? (char *)msg.data : "",
		        (unsigned long long)line);
	if (trace_file) {
		log_escape(&esc, msg.data, msg.len, true);
		fprintf(trace_file,
		        "{\"t\":%s,\"modem\":%d,\"ev\":\"finding\",\"severity\":\"%s\","
		        "\"kind\":\"%s\",\"line\":%llu,\"msg\":\"%.*s\"}\n",
		        s.unix, modem, severity, kind, (unsigned long long)line, (int)esc.len,
		        esc.data ? (char *)esc.data : "");
	}
	log_msg(LOG_INFO, "#%d finding %s %s: %s", modem, severity, kind,
	        msg.data ? (char *)msg.data : "");
	buf_free(&msg);
	buf_free(&esc);
}
