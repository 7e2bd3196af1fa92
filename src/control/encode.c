#include "control/encode.h"

#include "base/common.h"
#include "base/internal_alloc.h"
#include "control/profile_comments.h"
#include "export/dump.h"
#include "record/runtime.h"

int hp_encode_gz(hp_profile *p, hp_maps *m, const char *what, const int64_t (*base)[HP_NVALUES], size_t n_base,
                 int64_t duration_ns, uint8_t **gz, size_t *gz_len) {
    hp_pprof_sample *samples = NULL;
    size_t n_samples = 0;
    int err = hp_profile_samples(p, &samples, &n_samples);
    if (err)
        return err;
    /* A delta: stacks are append-only, so index i is the same stack in both. */
    for (size_t i = 0; i < n_samples && i < n_base; i++)
        for (int v = 0; v < HP_NVALUES; v++)
            samples[i].values[v] -= base[i][v];
    hp_maps_refresh(m);

    hp_comments comments;
    hp_comments_build(&comments, p, what);
    hp_pprof_profile prof = {
        .samples = samples,
        .n_samples = n_samples,
        .period = (int64_t)hp_current_rate(),
        .time_nanos = (int64_t)hp_now_ns(CLOCK_REALTIME),
        .duration_nanos = duration_ns,
        .comments = comments.lines,
        .n_comments = HP_COMMENT_LINES,
    };
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    err = hp_pprof_encode(&prof, m, &raw, &raw_len);
    hp_free(samples);
    if (!err)
        err = hp_gzip(raw, raw_len, gz, gz_len);
    hp_free(raw);
    return err;
}

int hp_encode_to_file(hp_profile *p, hp_maps *m, const char *path, const char *what) {
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    int err = hp_encode_gz(p, m, what, NULL, 0, 0, &gz, &gz_len);
    if (!err)
        err = hp_write_atomic(path, gz, gz_len);
    hp_free(gz);
    return err;
}
