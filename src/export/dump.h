/* Writing a profile file: gzip, then temp file + rename so a reader never
 * sees half a file. */
#ifndef HEAPPROF_DUMP_H
#define HEAPPROF_DUMP_H

#include <stddef.h>
#include <stdint.h>

/* gzip-compresses data (zlib, allocations through hp_malloc) into a buffer
 * the caller frees with hp_free. Returns 0 or ENOMEM. */
int hp_gzip(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len);

/* Writes bytes to path atomically: a temp file in the same folder, fsync'd,
 * then renamed over path. On failure nothing is left behind and an errno
 * value is returned (ENOENT, EACCES, ENOSPC, ...); 0 on success. */
int hp_write_atomic(const char *path, const uint8_t *data, size_t len);

#endif
