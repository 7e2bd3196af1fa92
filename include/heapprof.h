/* heapprof — public C API.
 *
 * The library is normally preloaded (LD_PRELOAD=libheapprof.so) into a program
 * that knows nothing about it. A program that wants control can call these
 * functions in one of two ways:
 *
 *   1. Hard dependency: link with -lheapprof. The functions are always there
 *      (linking also interposes malloc, as preloading does).
 *
 *   2. Optional, the same binary runs with and without heapprof: declare the
 *      functions weak and test each for NULL before calling it. Do not link
 *      -lheapprof; when the program runs under LD_PRELOAD=libheapprof.so the
 *      dynamic linker resolves the weak references to the preloaded
 *      definitions, otherwise they stay NULL:
 *
 *          #include <heapprof.h>
 *          #pragma weak heapprof_dump
 *          #pragma weak heapprof_set_rate
 *          #pragma weak heapprof_get_stats
 *          ...
 *          if (heapprof_dump)
 *              heapprof_dump("/tmp/now.pb.gz");
 *
 *      (or `extern __typeof__(heapprof_dump) heapprof_dump __attribute__((weak));`).
 *      Mark every function you call: an unmarked one is an "undefined
 *      reference" when the program is linked without -lheapprof. The pattern
 *      needs an ELF platform and a dynamically linked program (the Linux
 *      default); a static program never sees the preloaded library.
 *
 * tests/e2e/progs/api_demo.c is a complete example of the second way. */
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
