#include "control/leak_report.h"

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/internal_alloc.h"
#include "base/warn.h"
#include "export/cxx_names.h"
#include "export/maps.h"

#define REPORT_STACKS 20 /* rows; the rest is summed in one line */
#define REPORT_FRAMES 4  /* first frames named per row */

typedef struct leak_row {
    const hp_pprof_sample *first; /* the stack's frames */
    int64_t objects, space;
} leak_row;

/* The function of a return address, as the profile names it (pc - 1 lands
 * in the call); "??" when no symbol covers it. */
static const char *frame_name(hp_maps *m, uintptr_t ret) {
    const char *s = ret ? hp_maps_symbol(m, (uint64_t)ret - 1) : NULL;
    return s ? s : "??";
}

/* "leaf < caller < ...": the first frames, allocation wrappers (operator
 * new) skipped as in the profile, so the first name is pprof's flat entry. */
static void describe(hp_maps *m, const hp_pprof_sample *s, char *out, size_t size) {
    size_t len = 0;
    uint32_t i = 0, shown = 0;
    uintptr_t fbuf[HP_MAX_DEPTH];
    const uintptr_t *frames = hp_pprof_sample_frames(s, fbuf);
    while (i + 1 < s->depth && frames[i] && hp_cxx_is_allocation_wrapper(frame_name(m, frames[i])))
        i++;
    out[0] = '\0';
    for (; i < s->depth && shown < REPORT_FRAMES && len + 1 < size; i++) {
        if (!frames[i])
            continue;
        int n = snprintf(out + len, size - len, "%s%s", shown ? " < " : "", frame_name(m, frames[i]));
        if (n < 0)
            break;
        len += (size_t)n;
        shown++;
    }
    if (i < s->depth && len + 6 < size)
        snprintf(out + len, size - len, " < ...");
}

void hp_leak_report(const hp_snapshot *s, const char *path) {
    size_t n = 0;
    hp_pprof_sample *samples = hp_snapshot_samples(s, &n);
    leak_row *rows = samples ? hp_calloc(n ? n : 1, sizeof *rows) : NULL;
    if (!rows) {
        hp_free(samples);
        hp_warn("heapprof: leak report: out of memory");
        return;
    }
    /* One stack's samples (its totals and its pieces by size and age) are
     * consecutive and share the frames (their code, in the stack store). */
    size_t nrows = 0;
    int64_t total_space = 0, total_objects = 0;
    for (size_t i = 0; i < n; i++) {
        if (!nrows || rows[nrows - 1].first->frames != samples[i].frames ||
            rows[nrows - 1].first->code != samples[i].code)
            rows[nrows++] = (leak_row){.first = &samples[i]};
        rows[nrows - 1].objects += samples[i].values[HP_V_INUSE_OBJECTS];
        rows[nrows - 1].space += samples[i].values[HP_V_INUSE_SPACE];
    }
    size_t live = 0;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].space > 0) {
            rows[live++] = rows[i];
            total_space += rows[live - 1].space;
            total_objects += rows[live - 1].objects;
        }
    hp_warnf("heapprof: leak report: %zu stack%s still in use at exit, %lld bytes in %lld objects (estimates, as in %s)",
             live, live == 1 ? "" : "s", (long long)total_space, (long long)total_objects,
             path ? path : "the final dump");
    if (live)
        hp_warnf("heapprof: %14s %10s  %s", "bytes", "objects", "stack (innermost first)");
    /* The largest first: a selection of the top rows (few), not a sort. */
    size_t shown = live < REPORT_STACKS ? live : REPORT_STACKS;
    for (size_t k = 0; k < shown; k++) {
        size_t best = k;
        for (size_t i = k + 1; i < live; i++)
            if (rows[i].space > rows[best].space)
                best = i;
        leak_row t = rows[k];
        rows[k] = rows[best];
        rows[best] = t;
        char frames[HP_WARN_LINE_MAX - 64];
        describe(s->maps, rows[k].first, frames, sizeof frames);
        hp_warnf("heapprof: %14lld %10lld  %s", (long long)rows[k].space, (long long)rows[k].objects, frames);
    }
    if (live > shown) {
        int64_t rest = 0, rest_objects = 0;
        for (size_t i = shown; i < live; i++) {
            rest += rows[i].space;
            rest_objects += rows[i].objects;
        }
        hp_warnf("heapprof: %14lld %10lld  (%zu more stacks)", (long long)rest, (long long)rest_objects, live - shown);
    }
    hp_free(rows);
    hp_free(samples);
}
