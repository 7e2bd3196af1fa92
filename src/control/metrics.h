/* The /metrics page of the HTTP server: Prometheus text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Totals only, never one series per stack (their number is unbounded). The
 * numbers are the sums of the values a profile of the same state would hold,
 * so /metrics and /debug/pprof/heap agree. Two steps, as for profiles:
 * hp_metrics_collect copies numbers (the state lock only for the sums), then
 * hp_metrics_format writes the text without any lock. */
#ifndef HEAPPROF_METRICS_H
#define HEAPPROF_METRICS_H

#include <stdint.h>

#include "base/textbuf.h"

#define HP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct hp_metrics {
    int64_t inuse_bytes, inuse_objects; /* estimates: the profile's inuse_space / inuse_objects totals */
    int64_t alloc_bytes, alloc_objects; /* estimates since start: alloc_space / alloc_objects totals */
    uint64_t peak_bytes;                /* the peak profile's in-use estimate (hp_profile_peak_bytes) */
    uint64_t samples;                   /* sampled allocations seen (the comments' samples=) */
    uint64_t dumps;                     /* profile files written */
    uint64_t rate;                      /* current sampling rate in bytes; 0 = off */
    uint64_t own_bytes;                 /* heapprof's own memory */
    uint64_t resident_bytes;            /* the process's resident set, /proc/self/statm */
    int have_resident;                  /* 0 when statm could not be read: the metric is left out */
    const char *version, *program;      /* heapprof_info labels */
    long pid;
} hp_metrics;

/* Fills m for this process: takes the state lock for the sums (nothing
 * sampled yet, or profiling off: zeros), reads /proc/self/statm. Not inside
 * malloc, not with a heapprof lock held. */
void hp_metrics_collect(hp_metrics *m);

/* Appends the exposition text of m to tb (tb->oom on failure). Pure. */
void hp_metrics_format(const hp_metrics *m, hp_textbuf *tb);

#endif
