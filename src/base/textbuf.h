/* A growable text buffer on heapprof's own heap (internal_alloc), for the
 * HTTP server's pages and the legacy text profile. Not for the malloc path:
 * vsnprintf. */
#ifndef HEAPPROF_TEXTBUF_H
#define HEAPPROF_TEXTBUF_H

#include <stddef.h>

typedef struct hp_textbuf {
    char *p; /* hp_malloc'd (free with hp_free), NUL-terminated when len > 0 */
    size_t len, cap;
    int oom; /* an append failed: the text is incomplete */
} hp_textbuf;

/* Appends; on failure sets oom and ignores later appends. */
void hp_tb_printf(hp_textbuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
