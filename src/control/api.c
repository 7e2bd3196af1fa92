/* The public heapprof_* functions (include/heapprof.h). */
#include "heapprof.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "aggregate/profile.h"
#include "base/common.h"
#include "base/internal_alloc.h"
#include "control/dump_series.h"
#include "control/encode.h"
#include "control/write_report.h"
#include "control/start.h"
#include "control/state.h"
#include "record/recorder.h"
#include "record/runtime.h"

HP_EXPORT int heapprof_dump(const char *path) {
    if (!path || !*path)
        return EINVAL;
    if (!hp_runtime_ensure())
        return EAGAIN;
    /* The lock is held for the snapshot only: fork() and the flusher do not
     * wait for this encoding and write. */
    hp_snapshot snap;
    int err = hp_state_snapshot(&snap, "dump on request");
    if (err)
        return err;
    int guard = hp_guard_enter();
    err = hp_snapshot_to_file(&snap, path);
    hp_snapshot_release(&snap);
    /* The peak profile next to it (path's .pb.gz -> .peak.pb.gz); the
     * result is the main file's: a failure here is reported on stderr. */
    char peak[PATH_MAX + 16];
    if (!err && strlen(path) < PATH_MAX && hp_state_snapshot_peak(&snap, "dump on request") == 0) {
        hp_peak_path(peak, sizeof peak, path);
        hp_report_write_result(peak, hp_snapshot_to_file(&snap, peak));
        hp_snapshot_release(&snap);
    }
    hp_guard_leave(guard);
    return err;
}

HP_EXPORT size_t heapprof_set_rate(size_t rate) {
    if (!hp_runtime_ensure())
        return 0;
    if (hp_rate_forced_off())
        return 0; /* sticky: setuid, or no way to mark samples (runtime.h) */
    if (hp_runtime_passive_child()) /* HEAPPROF_CHILDREN=0: a child stays unprofiled */
        return 0;
    uint64_t old = hp_set_rate(rate);
    if (rate != 0) {
        /* Sampling may have been off since start-up: the flusher was never
         * started. This is a program thread outside malloc: safe to start it. */
        int guard = hp_guard_enter();
        hp_profiling_start();
        hp_guard_leave(guard);
    }
    return (size_t)old;
}

static void collect_stats(hp_profile *p, hp_maps *m, void *arg) {
    (void)m;
    heapprof_stats *out = arg;
    hp_profile_stats ps;
    hp_profile_stats_get(p, &ps);
    out->live_samples = ps.live_samples;
    out->samples = ps.samples;
    hp_pprof_sample *samples = NULL;
    size_t n = 0;
    if (hp_profile_samples(p, &samples, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            out->live_bytes_estimate += (uint64_t)samples[i].values[HP_V_INUSE_SPACE];
        hp_free(samples);
    }
}

HP_EXPORT int heapprof_get_stats(heapprof_stats *out) {
    if (!out)
        return EINVAL;
    *out = (heapprof_stats){0};
    if (!hp_runtime_ensure())
        return EAGAIN;
    out->rate = hp_current_rate();
    int err = hp_state_with(collect_stats, out);
    out->own_bytes = hp_own_bytes();
    return err;
}
