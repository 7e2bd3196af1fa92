#include "control/encode.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
    err = hp_profile_pieces(p, &s->pieces, &s->n_pieces);
    if (err) {
        hp_free(s->samples);
        return err;
    }
    hp_comments_build(&s->comments, p, what);
    s->period = (int64_t)hp_current_rate();
    s->time_nanos = (int64_t)hp_now_ns(CLOCK_REALTIME);
    s->maps = m;
    return 0;
}

int hp_snapshot_take_peak(hp_snapshot *s, hp_profile *p, hp_maps *m, const char *what) {
    memset(s, 0, sizeof *s);
    hp_profile_peak peak;
    int err = hp_profile_peak_samples(p, &s->samples, &s->n_samples, &peak);
    if (err)
        return err;
    char line[sizeof s->comments.what];
    time_t t = (time_t)(peak.realtime_ns / 1000000000u);
    struct tm tm;
    char when[32] = "never";
    if (peak.realtime_ns && gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(line, sizeof line, "peak profile, in-use estimate %llu bytes at %s (with the %s)",
             (unsigned long long)peak.inuse_bytes, when, what);
    hp_comments_build(&s->comments, p, line);
    s->period = (int64_t)hp_current_rate();
    s->time_nanos = (int64_t)(peak.realtime_ns ? peak.realtime_ns : hp_now_ns(CLOCK_REALTIME));
    s->maps = m;
    return 0;
}

void hp_snapshot_release(hp_snapshot *s) {
    hp_free(s->samples);
    hp_free(s->pieces);
    s->samples = NULL;
    s->n_samples = 0;
    s->pieces = NULL;
    s->n_pieces = 0;
}

/* The samples as written: per stack, one sample with its allocation totals
 * and no labels (freed memory has no age, and the totals are not kept by
 * size), and one per size class and age of its live samples with their
 * in-use values and the `bytes` and `age` labels. A stack with nothing live
 * keeps its one sample. */
static hp_pprof_sample *with_labels(const hp_snapshot *s, size_t *n) {
    hp_pprof_sample *out = hp_calloc(s->n_samples + s->n_pieces, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0, a = 0;
    for (size_t i = 0; i < s->n_samples; i++) {
        hp_pprof_sample alloc = s->samples[i];
        if (a < s->n_pieces && s->pieces[a].record == i)
            alloc.values[HP_V_INUSE_OBJECTS] = alloc.values[HP_V_INUSE_SPACE] = 0;
        out[k++] = alloc;
        for (; a < s->n_pieces && s->pieces[a].record == i; a++) {
            hp_pprof_sample live = s->samples[i];
            live.values[HP_V_ALLOC_OBJECTS] = live.values[HP_V_ALLOC_SPACE] = 0;
            live.values[HP_V_INUSE_OBJECTS] = s->pieces[a].objects;
            live.values[HP_V_INUSE_SPACE] = s->pieces[a].space;
            live.bytes_label = s->pieces[a].bytes;
            live.age_label = s->pieces[a].age_seconds;
            live.has_age = 1;
            out[k++] = live;
        }
    }
    *n = k;
    return out;
}

hp_pprof_sample *hp_snapshot_samples(const hp_snapshot *s, size_t *n) {
    if (s->n_pieces)
        return with_labels(s, n);
    hp_pprof_sample *out = hp_calloc(s->n_samples ? s->n_samples : 1, sizeof *out);
    if (out && s->n_samples)
        memcpy(out, s->samples, s->n_samples * sizeof *out);
    *n = s->n_samples;
    return out;
}

int hp_snapshot_gz(hp_snapshot *s, const int64_t (*base)[HP_NVALUES], size_t n_base, int64_t duration_ns,
                   uint8_t **gz, size_t *gz_len) {
    /* A delta: stacks are append-only, so index i is the same stack in both. */
    for (size_t i = 0; i < s->n_samples && i < n_base; i++)
        for (int v = 0; v < HP_NVALUES; v++)
            s->samples[i].values[v] -= base[i][v];
    /* A delta has no labels: the in-use difference of a stack is not split
     * by size or age (the base was taken without). */
    hp_pprof_sample *aged = NULL;
    size_t n_aged = 0;
    if (!base && s->n_pieces) {
        aged = with_labels(s, &n_aged);
        if (!aged)
            return ENOMEM;
    }
    hp_pprof_profile prof = {
        .samples = aged ? aged : s->samples,
        .n_samples = aged ? n_aged : s->n_samples,
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
    hp_free(aged);
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
