#include "control/encode.h"

#include <stdatomic.h>
#include <string.h>

#include "base/common.h"
#include "base/internal_alloc.h"
#include "export/dump.h"
#include "record/runtime.h"

/* Relaxed: a count read for display only; no other data is published with it. */
static _Atomic uint64_t dumps_written;

uint64_t hp_dumps_written(void) { return atomic_load_explicit(&dumps_written, memory_order_relaxed); }

int hp_snapshot_take(hp_snapshot *s, hp_profile *p, hp_maps *m, const char *what) {
    memset(s, 0, sizeof *s);
    int err = hp_profile_samples(p, &s->samples, &s->n_samples);
    if (err)
        return err;
    hp_comments_build(&s->comments, p, what);
    s->period = (int64_t)hp_current_rate();
    s->time_nanos = (int64_t)hp_now_ns(CLOCK_REALTIME);
    s->maps = m;
    return 0;
}

void hp_snapshot_release(hp_snapshot *s) {
    hp_free(s->samples);
    s->samples = NULL;
    s->n_samples = 0;
}

int hp_snapshot_gz(hp_snapshot *s, const int64_t (*base)[HP_NVALUES], size_t n_base, int64_t duration_ns,
                   uint8_t **gz, size_t *gz_len) {
    /* A delta: stacks are append-only, so index i is the same stack in both. */
    for (size_t i = 0; i < s->n_samples && i < n_base; i++)
        for (int v = 0; v < HP_NVALUES; v++)
            s->samples[i].values[v] -= base[i][v];
    hp_pprof_profile prof = {
        .samples = s->samples,
        .n_samples = s->n_samples,
        .period = s->period,
        .time_nanos = s->time_nanos,
        .duration_nanos = duration_ns,
        .comments = s->comments.lines,
        .n_comments = HP_COMMENT_LINES,
        .default_sample_type = s->default_sample_type,
        .build_ids = hp_cfg.build_ids,
    };
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    /* hp_pprof_encode refreshes the maps first (cheap when no object was
     * loaded or unloaded): outside the state lock, so dl_iterate_phdr never
     * runs under it. */
    int err = hp_pprof_encode(&prof, s->maps, &raw, &raw_len);
    if (!err)
        err = hp_gzip(raw, raw_len, gz, gz_len);
    hp_free(raw);
    return err;
}

int hp_snapshot_to_file(hp_snapshot *s, const char *path) {
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    int err = hp_snapshot_gz(s, NULL, 0, 0, &gz, &gz_len);
    if (!err)
        err = hp_write_atomic(path, gz, gz_len);
    hp_free(gz);
    if (!err)
        atomic_fetch_add_explicit(&dumps_written, 1, memory_order_relaxed);
    return err;
}

int hp_encode_gz(hp_profile *p, hp_maps *m, const char *what, const int64_t (*base)[HP_NVALUES], size_t n_base,
                 int64_t duration_ns, uint8_t **gz, size_t *gz_len) {
    hp_snapshot s;
    int err = hp_snapshot_take(&s, p, m, what);
    if (err)
        return err;
    err = hp_snapshot_gz(&s, base, n_base, duration_ns, gz, gz_len);
    hp_snapshot_release(&s);
    return err;
}
