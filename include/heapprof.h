/* heapprof — public C API.
 *
 * The library is normally preloaded (LD_PRELOAD=libheapprof.so) into a program
 * that knows nothing about it. A program that wants control can call these
 * functions; to keep running unchanged when heapprof is NOT loaded, declare
 * them weak and test for NULL:
 *
 *     #include <heapprof.h>
 *     #pragma weak heapprof_dump
 *     ...
 *     if (heapprof_dump) heapprof_dump("/tmp/now.pb.gz");
 *
 * (or link with -lheapprof to make the dependency hard). */
#ifndef HEAPPROF_H
#define HEAPPROF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a gzipped pprof heap profile of the current state to `path` (temp
 * file + rename). Returns 0, or an errno value (ENOENT, EACCES, ENOSPC, ...;
 * EAGAIN when profiling is off). Thread-safe; do not call from a signal handler. */
int heapprof_dump(const char *path);

/* Changes the mean sampling interval in bytes (0 = off, 1 = every allocation).
 * Each thread picks the new rate up at its next sample. Returns the old rate. */
size_t heapprof_set_rate(size_t rate);

typedef struct heapprof_stats {
    uint64_t rate;              /* current sampling rate in bytes */
    uint64_t live_samples;      /* sampled allocations still live (as of the last drain) */
    uint64_t live_bytes_estimate; /* un-sampled estimate of live heap bytes */
    uint64_t samples;           /* sampled allocations since start */
    uint64_t own_bytes;         /* memory held by heapprof itself */
} heapprof_stats;

/* Fills *out (drains pending events first). Returns 0, or EAGAIN when off. */
int heapprof_get_stats(heapprof_stats *out);

#ifdef __cplusplus
}
#endif

#endif
