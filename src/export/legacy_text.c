#include "export/legacy_text.h"

#include <errno.h>
#include <string.h>

#include "base/common.h"
#include "base/config.h"
#include "base/internal_alloc.h"

static int same_function(hp_maps *m, uint64_t addr, const char *name)
{
    const char *other = hp_maps_symbol(m, addr);
    return other && strcmp(other, name) == 0;
}

/* Start of the function `name` that holds pc, for the "+0xOFF" of the text
 * format. hp_maps only answers "which function holds this address", so the
 * start is found by galloping down from pc while the answer stays the same,
 * then bisecting the last step: ~2 log2(offset) look-ups, and a function is
 * one contiguous range. Never below `floor` (the mapping's start). */
static uint64_t function_start(hp_maps *m, uint64_t pc, const char *name, uint64_t floor)
{
    uint64_t good = pc, bad = 0, step = 1;
    int have_bad = 0;
    while (good > floor) {
        uint64_t cand = good - floor > step ? good - step : floor;
        if (!same_function(m, cand, name)) {
            bad = cand;
            have_bad = 1;
            break;
        }
        good = cand;
        step *= 2;
    }
    if (!have_bad)
        return good;
    while (good - bad > 1) {
        uint64_t mid = bad + (good - bad) / 2;
        if (same_function(m, mid, name))
            good = mid;
        else
            bad = mid;
    }
    return good;
}

static void text_frame(hp_textbuf *tb, hp_maps *m, uint64_t pc)
{
    /* pc is a return address: look up the call instruction before it, as
     * pprof does, so a call at the very end of a function names that function. */
    uint64_t at = pc ? pc - 1 : pc;
    long mi = hp_maps_find(m, at);
    const hp_mapping *map = mi >= 0 ? hp_maps_get(m, (size_t)mi) : NULL;
    const char *name = hp_maps_symbol(m, at);
    const char *object = map && map->path[0] ? map->path : "?";
    if (name) {
        uint64_t start = function_start(m, at, name, map ? map->start : 0);
        hp_tb_printf(tb, "#\t0x%llx\t%s+0x%llx\t%s\n", (unsigned long long)pc, name,
                  (unsigned long long)(pc - start), object);
    } else {
        hp_tb_printf(tb, "#\t0x%llx\t??\t%s\n", (unsigned long long)pc, object);
    }
}

/* Indices sorted by in-use bytes, largest first (as Go prints them). Shell
 * sort: in place, no recursion, and no qsort, which may malloc. */
static void sort_by_inuse(size_t *idx, size_t n, const hp_pprof_sample *s)
{
    static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < HP_ARRAY_LEN(gaps); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            size_t v = idx[i], j = i;
            int64_t key = s[v].values[HP_V_INUSE_SPACE];
            while (j >= gap && s[idx[j - gap]].values[HP_V_INUSE_SPACE] < key) {
                idx[j] = idx[j - gap];
                j -= gap;
            }
            idx[j] = v;
        }
    }
}

/* Our values are already un-sampled estimates, so the header says heap/2,
 * which tells pprof "sampling rate 1: use the numbers as they are" (heap/N
 * means rate N/2, and pprof would otherwise scale them a second time). */
int hp_legacy_text_encode(hp_pprof_sample *s, size_t n, hp_maps *m, uint64_t rate, hp_textbuf *tb) {
    size_t *idx = hp_malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return ENOMEM;
    hp_maps_refresh(m);
    int64_t tot[HP_NVALUES] = {0};
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        /* pprof refuses "0: N" (a count of zero with bytes): the rounded
         * estimates of a stack whose blocks are all freed could give that. */
        for (int v = 0; v < HP_NVALUES; v += 2)
            if (s[i].values[v] <= 0)
                s[i].values[v] = s[i].values[v + 1] = 0;
        if (s[i].values[HP_V_ALLOC_OBJECTS] == 0 && s[i].values[HP_V_INUSE_OBJECTS] == 0)
            continue;
        for (int v = 0; v < HP_NVALUES; v++)
            tot[v] += s[i].values[v];
        idx[kept++] = i;
    }
    sort_by_inuse(idx, kept, s);
    hp_tb_printf(tb, "heap profile: %lld: %lld [%lld: %lld] @ heap/2\n", (long long)tot[HP_V_INUSE_OBJECTS],
              (long long)tot[HP_V_INUSE_SPACE], (long long)tot[HP_V_ALLOC_OBJECTS], (long long)tot[HP_V_ALLOC_SPACE]);
    hp_tb_printf(tb,
              "# heapprof: values are estimates already scaled up from samples taken every %llu bytes on average;\n"
              "# the header says heap/2 (rate 1) so that readers use them as they are.\n",
              (unsigned long long)rate);
    for (size_t k = 0; k < kept && !tb->oom; k++) {
        const hp_pprof_sample *x = &s[idx[k]];
        hp_tb_printf(tb, "%lld: %lld [%lld: %lld] @", (long long)x->values[HP_V_INUSE_OBJECTS],
                  (long long)x->values[HP_V_INUSE_SPACE], (long long)x->values[HP_V_ALLOC_OBJECTS],
                  (long long)x->values[HP_V_ALLOC_SPACE]);
        uintptr_t fbuf[HP_MAX_DEPTH];
        const uintptr_t *frames = hp_pprof_sample_frames(x, fbuf);
        for (uint32_t f = 0; f < x->depth; f++)
            hp_tb_printf(tb, " 0x%llx", (unsigned long long)frames[f]);
        hp_tb_printf(tb, "\n");
        for (uint32_t f = 0; f < x->depth; f++)
            text_frame(tb, m, frames[f]);
        hp_tb_printf(tb, "\n");
    }
    /* The executable mappings in /proc/self/maps form: with them pprof can
     * symbolize the addresses from the binaries when they are at hand. */
    hp_tb_printf(tb, "--- Memory map: ---\n");
    for (size_t i = 0; i < hp_maps_count(m); i++) {
        const hp_mapping *map = hp_maps_get(m, i);
        if (!map->path[0] || strpbrk(map->path, " \t\n") != NULL)
            continue; /* pprof reads the path as one word */
        hp_tb_printf(tb, "%llx-%llx r-xp %08llx 00:00 0 %s\n", (unsigned long long)map->start,
                  (unsigned long long)map->limit, (unsigned long long)map->offset, map->path);
    }
    hp_free(idx);
    return tb->oom ? ENOMEM : 0;
}
