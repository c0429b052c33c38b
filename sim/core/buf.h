/* A growable byte buffer. buf_init cannot fail; buf_free is safe on an initialised or zeroed
 * buffer. Appends return 0 or -ERR_NOMEM / -ERR_TOOBIG past the buffer's cap. */
#ifndef MODEMSIM_CORE_BUF_H
#define MODEMSIM_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: no limit */
};

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_putc(struct buf *b, uint8_t c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
