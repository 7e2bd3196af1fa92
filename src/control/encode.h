/* A snapshot of the aggregation state as a gzipped profile.proto, with
 * heapprof's comment lines: what every dump, API call and HTTP response
 * writes.
 *
 * Two steps, so that the aggregation lock is held only for the copy:
 * hp_snapshot_take (lock held: the values of every stack and the counters,
 * O(stacks), no I/O, no loader call) and hp_snapshot_gz (no heapprof lock:
 * object list, symbols, encoding, gzip). fork()'s prepare handler, the API
 * and the HTTP thread never wait for an encoding, a gzip or an fsync. */
#ifndef HEAPPROF_ENCODE_H
#define HEAPPROF_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate/profile.h"
#include "control/profile_comments.h"
#include "export/maps.h"
#include "export/pprof.h"

typedef struct hp_snapshot {
    hp_pprof_sample *samples; /* hp_malloc; frames point into the profile's stack store, which never moves */
    size_t n_samples;         /* one per record (stack, size class): a delta's base is indexed like them */
    hp_piece *pieces;         /* hp_malloc: in-use values by size and age (hp_profile_pieces), NULL for none */
    size_t n_pieces;
    hp_comments comments; /* lines point into the struct itself: never copy a taken snapshot */
    int64_t period;
    int64_t time_nanos;
    hp_maps *maps;
    const char *default_sample_type; /* NULL (inuse_space) unless the caller sets it after take */
} hp_snapshot;

/* With the state lock held: copies what an encoding needs. Returns 0 or
 * ENOMEM (then nothing to release). */
int hp_snapshot_take(hp_snapshot *s, hp_profile *p, hp_maps *m, const char *what);

/* Same, for the peak profile (hp_profile_peak_samples): its comments say
 * `what` and the peak's size and time. */
int hp_snapshot_take_peak(hp_snapshot *s, hp_profile *p, hp_maps *m, const char *what);

/* The samples as a full profile writes them (with the labels), for
 * readers of the snapshot other than the encoder (the leak report): an
 * array from hp_malloc, or NULL (ENOMEM). */
hp_pprof_sample *hp_snapshot_samples(const hp_snapshot *s, size_t *n);

/* Without any heapprof lock: the gzipped profile.proto of the snapshot. With
 * base (values per stack index, as from hp_profile_samples earlier), a delta
 * profile: snapshot minus base, with duration_ns set. *gz is freed with
 * hp_free. Returns 0 or ENOMEM. */
int hp_snapshot_gz(hp_snapshot *s, const int64_t (*base)[HP_NVALUES], size_t n_base, int64_t duration_ns,
                   uint8_t **gz, size_t *gz_len);

/* Same, written atomically to `path`. Returns 0 or an errno value. */
int hp_snapshot_to_file(hp_snapshot *s, const char *path);

void hp_snapshot_release(hp_snapshot *s);

/* Profile files written by this process (hp_snapshot_to_file succeeded):
 * periodic, signal, exit and API dumps; heapprof_dumps_total of /metrics. */
uint64_t hp_dumps_written(void);

/* Take + gz + release in one call, for callers that own the profile alone
 * (benchmarks, tests) or hold the lock anyway. */
int hp_encode_gz(hp_profile *p, hp_maps *m, const char *what, const int64_t (*base)[HP_NVALUES], size_t n_base,
                 int64_t duration_ns, uint8_t **gz, size_t *gz_len);

#endif
