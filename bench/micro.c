/* bench-micro: the parts of heapprof whose cost a program pays.
 *
 *  shim     added ns of the interposed malloc/free over glibc's, unsampled,
 *           with 0 / 1k / 100k sampled blocks live; and a sampled
 *           malloc+free pair (RATE=1) at stack depth ~10. The built
 *           libheapprof.so is dlopen()ed (RTLD_LOCAL) and its malloc/free
 *           are called through pointers, glibc's likewise, interleaved batch
 *           by batch in one process: same heap, same CPU, same noise.
 *  addrset  hp_addrset_remove negative lookups with 0 / 1k / 100k entries.
 *  sample   hp_stack_capture + hp_ring_reserve/commit at stack depth 10 and 64,
 *           and the other parts of a sample (addrset insert, next gap).
 *  capture  the two unwinders alone, warm, at depth 10 and 64: heapprof's own
 *           (hp_unwind_backtrace) and libunwind's unw_backtrace; and the
 *           first capture of a new thread with each.
 *  flusher  aggregate 1,000,000 live samples on 10,000 stacks, then encode and
 *           gzip the profile: time, heapprof's own memory (hp_own_bytes), the
 *           profile's size; then the flusher's steady state at that live count
 *           (FREE + ALLOC pairs) and every sample freed.
 *
 * usage: bench-micro [--quick] [shim|addrset|sample|flusher|capture]...
 * The library path is built in (HEAPPROF_LIB_PATH) unless $HEAPPROF_LIB is set.
 * Per-op figures are medians over many batches; "added" is the median of the
 * per-round differences (heapprof batch minus the glibc batch next to it). */
#include <dlfcn.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record/addrset.h"
#include "base/config.h"
#include "control/encode.h"
#include "heapprof.h"
#include "base/internal_alloc.h"
#include "export/maps.h"
#include "aggregate/profile.h"
#include "record/ring.h"
#include "record/sampler.h"
#include "record/stack.h"
#include "record/unwind.h"
#include "record/unwind_tables.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")

static int quick;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench-micro: out of memory\n");
        exit(1);
    }
    return p;
}

/* ------------------------------------------------------------------ shim */

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);

typedef struct {
    malloc_fn m;
    free_fn f;
} allocator;

#define BATCH 256

/* Times BATCH mallocs of `size`, then BATCH frees of them: ns per call each. */
static void time_batch(allocator a, size_t size, double *ns_malloc, double *ns_free) {
    void *ptrs[BATCH];
    uint64_t t0 = now_ns();
    for (int i = 0; i < BATCH; i++)
        ptrs[i] = a.m(size);
    uint64_t t1 = now_ns();
    for (int i = 0; i < BATCH; i++)
        a.f(ptrs[i]);
    uint64_t t2 = now_ns();
    *ns_malloc = (double)(t1 - t0) / BATCH;
    *ns_free = (double)(t2 - t1) / BATCH;
}

typedef struct {
    double plain_malloc, plain_free, hp_malloc, hp_free, add_malloc, add_free;
} ab_result;

/* Interleaves glibc and heapprof batches (order flipped every round so
 * neither always runs on a warmer cache) and takes medians. */
static ab_result ab_unsampled(allocator plain, allocator hp, size_t size, int rounds) {
    double *v = xmalloc(sizeof(double) * 6 * (size_t)rounds);
    double *pm = v, *pf = v + rounds, *hm = v + 2 * rounds, *hf = v + 3 * rounds, *dm = v + 4 * rounds,
           *df = v + 5 * rounds;
    for (int r = 0; r < rounds; r++) {
        if (r & 1) {
            time_batch(hp, size, &hm[r], &hf[r]);
            time_batch(plain, size, &pm[r], &pf[r]);
        } else {
            time_batch(plain, size, &pm[r], &pf[r]);
            time_batch(hp, size, &hm[r], &hf[r]);
        }
        dm[r] = hm[r] - pm[r];
        df[r] = hf[r] - pf[r];
    }
    ab_result out = {median(pm, (size_t)rounds), median(pf, (size_t)rounds), median(hm, (size_t)rounds),
                     median(hf, (size_t)rounds), median(dm, (size_t)rounds), median(df, (size_t)rounds)};
    free(v);
    return out;
}

/* A malloc+free pair made `depth` frames below the caller, BATCH times. */
static NOINLINE double pairs_at_depth(allocator a, size_t size, int depth) {
    if (depth > 0) {
        double r = pairs_at_depth(a, size, depth - 1);
        BARRIER();
        return r;
    }
    uint64_t t0 = now_ns();
    for (int i = 0; i < BATCH; i++) {
        void *p = a.m(size);
        BARRIER();
        a.f(p);
    }
    return (double)(now_ns() - t0) / BATCH;
}

typedef struct {
    allocator plain, hp;
    int rounds;
    unsigned want;
    void **kept;
    unsigned nkept;
} shim_ctx;

/* heapprof picks up a new rate in a thread at its next slow path, which at
 * rate 0 is a gigabyte of allocation away; a fresh thread takes the slow path
 * at its first allocation. So each phase runs in its own thread. */
static void run_in_thread(void *(*fn)(void *), shim_ctx *c) {
    pthread_t t;
    if (pthread_create(&t, NULL, fn, c) != 0) {
        fprintf(stderr, "bench-micro: pthread_create failed\n");
        exit(1);
    }
    pthread_join(t, NULL);
}

static void *phase_warm(void *arg) {
    shim_ctx *c = arg;
    ab_unsampled(c->plain, c->hp, 32, 50);
    return NULL;
}

static void *phase_fill(void *arg) {
    shim_ctx *c = arg;
    while (c->nkept < c->want)
        c->kept[c->nkept++] = c->hp.m(64);
    return NULL;
}

static void *phase_unsampled(void *arg) {
    shim_ctx *c = arg;
    ab_unsampled(c->plain, c->hp, 32, 50); /* this thread's first calls set it up */
    const size_t sizes[] = {32, 512};
    for (size_t si = 0; si < 2; si++) {
        ab_result r = ab_unsampled(c->plain, c->hp, sizes[si], c->rounds);
        printf("| %u | %zu | %.2f | %+.2f | %.2f | %+.2f |\n", c->nkept, sizes[si], r.plain_malloc, r.add_malloc,
               r.plain_free, r.add_free);
    }
    return NULL;
}

static void *phase_sampled(void *arg) {
    shim_ctx *c = arg;
    const int depths[] = {10, 64};
    for (int di = 0; di < 2; di++) {
        double *v = xmalloc(sizeof(double) * 3 * (size_t)c->rounds);
        double *pv = v, *hv = v + c->rounds, *dv = v + 2 * c->rounds;
        /* Stack depth at malloc: thread start (2 frames), phase_sampled, the
         * recursion, the batch frame. */
        int rec = depths[di] - 4;
        for (int r = 0; r < c->rounds; r++) {
            pv[r] = pairs_at_depth(c->plain, 48, rec);
            hv[r] = pairs_at_depth(c->hp, 48, rec);
            dv[r] = hv[r] - pv[r];
        }
        size_t n = (size_t)c->rounds;
        printf("| %d | %.1f | %.1f | %+.1f |\n", depths[di], median(pv, n), median(hv, n), median(dv, n));
        free(v);
    }
    return NULL;
}

static void bench_shim(void) {
    const char *lib = getenv("HEAPPROF_LIB");
    if (!lib || !*lib)
        lib = HEAPPROF_LIB_PATH;
    /* Unsampled rows first: rate 0 from the start, the flusher stays off.
     * Profiles the library might write at exit go to /tmp (and we _exit). */
    setenv("HEAPPROF_OUT", "/tmp/bench-micro-heapprof", 1);
    setenv("HEAPPROF_RATE", "0", 1);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("shim: cannot dlopen %s: %s (skipped)\n", lib, dlerror());
        return;
    }
    allocator hp = {(malloc_fn)dlsym(h, "malloc"), (free_fn)dlsym(h, "free")};
    /* glibc's, also through pointers so both sides pay the same indirect call. */
    allocator plain = {(malloc_fn)dlsym(RTLD_DEFAULT, "malloc"), (free_fn)dlsym(RTLD_DEFAULT, "free")};
    size_t (*set_rate)(size_t) = (size_t(*)(size_t))dlsym(h, "heapprof_set_rate");
    int (*get_stats)(heapprof_stats *) = (int (*)(heapprof_stats *))dlsym(h, "heapprof_get_stats");
    int (*dump)(const char *) = (int (*)(const char *))dlsym(h, "heapprof_dump");
    if (!hp.m || !hp.f || !plain.m || !plain.f || !set_rate || !get_stats || !dump) {
        printf("shim: missing symbols in %s (skipped)\n", lib);
        return;
    }
    shim_ctx c = {plain, hp, quick ? 200 : 20000, 0, NULL, 0};
    /* Warm both paths (lazy set-up of the thread's state, glibc's tcache). */
    set_rate(0);
    run_in_thread(phase_warm, &c);

    printf("\n## Interposed malloc/free, unsampled (glibc vs heapprof, %d interleaved batches of %d)\n\n", c.rounds,
           BATCH);
    printf("| sampled blocks live | size | glibc malloc ns | +heapprof ns | glibc free ns | +heapprof ns |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    const unsigned lives[] = {0, 1000, 100000};
    c.kept = xmalloc(sizeof(void *) * 100000);
    for (size_t li = 0; li < sizeof lives / sizeof lives[0]; li++) {
        c.want = quick && lives[li] > 1000 ? 2000 : lives[li];
        if (c.nkept < c.want) {
            set_rate(1); /* a new thread starts at the current rate: every allocation sampled */
            run_in_thread(phase_fill, &c);
        }
        set_rate(0); /* and the measuring thread never samples */
        run_in_thread(phase_unsampled, &c);
    }

    /* Fixed cost: heapprof's own memory with those blocks live, after a dump
     * (which loads the symbol tables of every object). */
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench-micro-%d.pb.gz", (int)getpid());
    heapprof_stats st;
    if (dump(path) == 0 && get_stats(&st) == 0)
        printf("\nheapprof own memory after a dump with %llu live samples: %.2f MiB\n",
               (unsigned long long)st.live_samples, (double)st.own_bytes / 1048576.0);
    unlink(path);
    for (unsigned i = 0; i < c.nkept; i++)
        hp.f(c.kept[i]);
    free(c.kept);

    /* Every allocation sampled: a pair costs glibc's pair + one sample (stack
     * capture, addrset insert, ring push, next gap) + the sampled free
     * (addrset remove, ring push). The flusher drains in the background. */
    set_rate(1);
    c.rounds = quick ? 20 : 2000;
    printf("\n## Sampled malloc+free pair through the shim (HEAPPROF_RATE=1), %d interleaved batches of %d\n\n",
           c.rounds, BATCH);
    printf("| program stack depth | glibc pair ns | heapprof pair ns | added ns |\n|---:|---:|---:|---:|\n");
    run_in_thread(phase_sampled, &c);
    set_rate(0);
    /* The library stays loaded: its flusher thread lives in it. */
}

/* --------------------------------------------------------------- addrset */

static double time_negative_lookups(const uintptr_t *probe, size_t n, int reps) {
    double *v = xmalloc(sizeof(double) * (size_t)reps);
    uint64_t id, hits = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            hits += (uint64_t)hp_addrset_remove(probe[i], &id);
        v[r] = (double)(now_ns() - t0) / (double)n;
    }
    double m = median(v, (size_t)reps);
    free(v);
    if (hits)
        printf("addrset: %llu unexpected hits\n", (unsigned long long)hits);
    return m;
}

static void bench_addrset(void) {
    if (hp_addrset_init() != 0) {
        printf("addrset: init failed (skipped)\n");
        return;
    }
    /* Heap-like addresses: 16-aligned, in one region; the set holds the even
     * 16-byte granules, probes are odd granules (never present), in random
     * order, as a program frees blocks in no particular order. */
    const uintptr_t base = (uintptr_t)0x7f3a12000000ull;
    size_t nprobe = 4096;
    uintptr_t *probe = xmalloc(nprobe * sizeof *probe);
    uint64_t seed = 42;
    for (size_t i = 0; i < nprobe; i++)
        probe[i] = base + 16 * (2 * (splitmix(&seed) % 4000000) + 1);
    int reps = quick ? 20 : 2000;
    printf("\n## hp_addrset_remove, negative lookup (address not sampled)\n\n");
    printf("| live entries | levels probed | ns per lookup |\n|---:|---:|---:|\n");
    const unsigned sizes[] = {0, 1000, 100000};
    unsigned have = 0;
    for (int si = 0; si < 3; si++) {
        while (have < sizes[si]) {
            uintptr_t a = base + 16 * (2 * (splitmix(&seed) % 4000000));
            if (hp_addrset_insert(a, have + 1) != 0)
                break;
            have++;
        }
        hp_addrset_stats st;
        hp_addrset_stats_get(&st);
        printf("| %llu | %u | %.2f |\n", (unsigned long long)st.entries, st.nonempty_levels,
               time_negative_lookups(probe, nprobe, reps));
    }
    /* Leave the set as we found it, in case another section follows. */
    seed = 42;
    for (size_t i = 0; i < nprobe; i++)
        (void)splitmix(&seed);
    for (unsigned i = 0; i < have; i++) {
        uint64_t id;
        (void)hp_addrset_remove(base + 16 * (2 * (splitmix(&seed) % 4000000)), &id);
    }
    free(probe);
}

/* ---------------------------------------------------------------- sample */

static void drain_noop(const hp_event *ev, void *ctx) {
    (void)ev;
    ++*(size_t *)ctx;
}

typedef struct {
    hp_ring *ring;
    unsigned max;     /* the depth limit, HEAPPROF_DEPTH */
    int what;         /* 0: capture + ring push, 1: capture only, 2: ring push only */
    unsigned got;     /* frames captured by the last sample */
    double ns;
} sample_ctx;

#define SAMPLE_BATCH 16

/* One sample the way recorder.c takes it: reserve room for `max` frames,
 * unwind into it, fill the header, commit with the real size. */
static NOINLINE void sample_batch(sample_ctx *c) {
    uintptr_t scratch[HP_MAX_DEPTH];
    uint64_t t0 = now_ns();
    for (int i = 0; i < SAMPLE_BATCH; i++) {
        int truncated = 0;
        if (c->what == 1) {
            c->got = hp_stack_capture(scratch, c->max, &truncated);
            BARRIER();
            continue;
        }
        hp_event *ev = hp_ring_reserve(c->ring, hp_event_bytes(c->max));
        if (!ev)
            continue;
        unsigned n = c->what == 2 ? 10 : hp_stack_capture(ev->frames, c->max, &truncated);
        ev->kind = HP_EV_ALLOC;
        ev->flags = truncated ? HP_EV_TRUNCATED : 0;
        ev->depth = n;
        ev->id = (uint64_t)i + 1;
        ev->addr = (uintptr_t)ev;
        ev->size = 64;
        ev->rate = 524288;
        hp_ring_commit(c->ring, ev, hp_event_bytes(n));
        c->got = n;
    }
    c->ns = (double)(now_ns() - t0) / SAMPLE_BATCH;
}

static NOINLINE void sample_at_depth(sample_ctx *c, int depth) {
    if (depth > 0) {
        sample_at_depth(c, depth - 1);
        BARRIER();
        return;
    }
    sample_batch(c);
}

/* Median ns per sample with the program stack `depth` frames deep at the
 * capture (main, bench_sample, the recursion, sample_batch). The rings are
 * drained between batches, outside the timing, as the flusher would. */
static double time_samples(hp_ring *ring, int what, int depth, unsigned max, unsigned *got) {
    int reps = quick ? 20 : 3000;
    double *v = xmalloc(sizeof(double) * (size_t)reps);
    sample_ctx c = {ring, max, what, 0, 0};
    for (int r = 0; r < reps; r++) {
        sample_at_depth(&c, depth - 4);
        v[r] = c.ns;
        size_t n = 0;
        hp_rings_drain(drain_noop, &n);
    }
    *got = c.got;
    double m = median(v, (size_t)reps);
    free(v);
    return m;
}

static void bench_sample(void) {
    /* hp_stack_init is deliberately not called: it marks the executable
     * heapprof is linked into as "own code", which here is this benchmark, and
     * every frame would be skipped. Without it nothing is skipped, so the
     * captured count is the real program depth. The own unwinder's tables
     * and the main thread's bounds are what it needs instead. */
    hp_unwind_init();
    hp_unwind_tables_refresh();
    hp_ring *ring = hp_ring_acquire();
    if (!ring || hp_addrset_init() != 0) {
        printf("sample: no ring (skipped)\n");
        return;
    }
    printf("\n## One sample (recorder.c's work, timed in batches of %d)\n\n", SAMPLE_BATCH);
    printf("| program stack depth | frames captured | stack capture ns | ring reserve+commit ns | capture + push ns |\n");
    printf("|---:|---:|---:|---:|---:|\n");
    const int depths[] = {10, 64};
    for (int di = 0; di < 2; di++) {
        unsigned got = 0, got2 = 0;
        double cap = time_samples(ring, 1, depths[di], HP_DEFAULT_DEPTH, &got);
        double push = time_samples(ring, 2, depths[di], HP_DEFAULT_DEPTH, &got2);
        double both = time_samples(ring, 0, depths[di], HP_DEFAULT_DEPTH, &got2);
        printf("| %d | %u | %.1f | %.1f | %.1f |\n", depths[di], got, cap, push, both);
    }

    /* The rest of a sample: remember the address, draw the next gap. */
    int n = quick ? 1000 : 200000;
    uintptr_t base = (uintptr_t)0x7f5500000000ull;
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        (void)hp_addrset_insert(base + 16 * (uintptr_t)i, (uint64_t)i + 1);
    uint64_t t1 = now_ns();
    uint64_t id;
    for (int i = 0; i < n; i++)
        (void)hp_addrset_remove(base + 16 * (uintptr_t)i, &id);
    uint64_t t2 = now_ns();
    hp_rng rng;
    hp_rng_seed(&rng, 7);
    int64_t acc = 0;
    for (int i = 0; i < n; i++)
        acc += hp_sampler_next_gap(&rng, 524288);
    uint64_t t3 = now_ns();
    printf("\nother parts of a sample: addrset insert %.1f ns, addrset remove (hit, the sampled free) %.1f ns, "
           "next gap (exponential draw) %.1f ns [%lld]\n",
           (double)(t1 - t0) / n, (double)(t2 - t1) / n, (double)(t3 - t2) / n, (long long)(acc % 10));
    hp_ring_release(ring);
    size_t drained = 0;
    hp_rings_drain(drain_noop, &drained);
}

/* --------------------------------------------------------------- capture */

typedef struct {
    int libunwind; /* 0: own unwinder, 1: unw_backtrace */
    unsigned got;
    double ns;
} capture_ctx;

#define CAPTURE_MAX (HP_DEFAULT_DEPTH + 9) /* what hp_stack_capture asks for */

static NOINLINE void capture_batch(capture_ctx *c) {
    uintptr_t pcs[CAPTURE_MAX];
    void *lpcs[CAPTURE_MAX];
    uint64_t t0 = now_ns();
    for (int i = 0; i < SAMPLE_BATCH; i++) {
        int cut;
        c->got = c->libunwind ? (unsigned)unw_backtrace(lpcs, CAPTURE_MAX) : hp_unwind_backtrace(pcs, CAPTURE_MAX, &cut);
        BARRIER();
    }
    c->ns = (double)(now_ns() - t0) / SAMPLE_BATCH;
}

static NOINLINE void capture_at_depth(capture_ctx *c, int depth) {
    if (depth > 0) {
        capture_at_depth(c, depth - 1);
        BARRIER();
        return;
    }
    capture_batch(c);
}

static double time_capture(int libunwind, int depth, unsigned *got) {
    int reps = quick ? 20 : 3000;
    double *v = xmalloc(sizeof(double) * (size_t)reps);
    capture_ctx c = {libunwind, 0, 0};
    for (int r = 0; r < reps; r++) {
        capture_at_depth(&c, depth - 4);
        v[r] = c.ns;
    }
    *got = c.got;
    double m = median(v, (size_t)reps);
    free(v);
    return m;
}

/* Captures from 2^10 call paths of equal depth (the bench workload's
 * shape): each capture's path differs from the last one's, so a memo of the
 * last capture's frames does not apply as a whole. Level k calls the a or
 * the b function of level k+1 by bit k of the path. */
typedef struct {
    int libunwind;
    unsigned got;
    uintptr_t sink;
} path_ctx;

static NOINLINE void path_leaf(path_ctx *c) {
    uintptr_t pcs[CAPTURE_MAX];
    void *lpcs[CAPTURE_MAX];
    int cut;
    if (c->libunwind == 2) { /* the calls alone */
        c->sink += (uintptr_t)__builtin_return_address(0);
        BARRIER();
        return;
    }
    c->got = c->libunwind ? (unsigned)unw_backtrace(lpcs, CAPTURE_MAX) : hp_unwind_backtrace(pcs, CAPTURE_MAX, &cut);
    c->sink += c->libunwind ? (uintptr_t)lpcs[c->got / 2] : pcs[c->got / 2];
    BARRIER();
}

static NOINLINE void path_a(path_ctx *c, unsigned path, int level);
static NOINLINE void path_b(path_ctx *c, unsigned path, int level);
static NOINLINE void path_a(path_ctx *c, unsigned path, int level) {
    if (level == 10)
        path_leaf(c);
    else if ((path >> level) & 1)
        path_a(c, path, level + 1);
    else
        path_b(c, path, level + 1);
    BARRIER();
}
static NOINLINE void path_b(path_ctx *c, unsigned path, int level) {
    if (level == 10)
        path_leaf(c);
    else if ((path >> level) & 1)
        path_b(c, path, level + 1);
    else
        path_a(c, path, level + 1);
    BARRIER();
}

static double time_capture_paths(int libunwind, unsigned *got) {
    int reps = quick ? 20 : 3000;
    double *v = xmalloc(sizeof(double) * (size_t)reps);
    path_ctx c = {libunwind, 0, 0};
    uint64_t rng = 12345;
    for (int r = 0; r < reps; r++) {
        unsigned paths[SAMPLE_BATCH];
        for (int i = 0; i < SAMPLE_BATCH; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            paths[i] = (unsigned)(rng >> 40);
        }
        uint64_t t0 = now_ns();
        for (int i = 0; i < SAMPLE_BATCH; i++)
            path_a(&c, paths[i], 0);
        v[r] = (double)(now_ns() - t0) / SAMPLE_BATCH;
    }
    *got = c.got;
    double m = median(v, (size_t)reps);
    free(v);
    return m;
}

/* The first capture on a fresh thread, at depth ~10. */
static void *first_capture_thread(void *arg) {
    capture_ctx *c = arg;
    uintptr_t pcs[CAPTURE_MAX];
    void *lpcs[CAPTURE_MAX];
    int cut;
    uint64_t t0 = now_ns();
    c->got = c->libunwind ? (unsigned)unw_backtrace(lpcs, CAPTURE_MAX) : hp_unwind_backtrace(pcs, CAPTURE_MAX, &cut);
    c->ns = (double)(now_ns() - t0);
    return NULL;
}

static double time_first_capture(int libunwind) {
    int reps = quick ? 5 : 200;
    double *v = xmalloc(sizeof(double) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        capture_ctx c = {libunwind, 0, 0};
        pthread_t t;
        if (pthread_create(&t, NULL, first_capture_thread, &c) != 0) {
            v[r] = 0;
            continue;
        }
        pthread_join(t, NULL);
        v[r] = c.ns;
    }
    double m = median(v, (size_t)reps);
    free(v);
    return m;
}

static void bench_capture(void) {
    hp_unwind_init();
    if (hp_unwind_tables_refresh() != 0) {
        printf("capture: no unwind tables (skipped)\n");
        return;
    }
    /* As heapprof sets libunwind up (record/stack.c). */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    printf("\n## Stack capture alone: own unwinder vs libunwind (warm; batches of %d)\n\n", SAMPLE_BATCH);
    printf("| program stack depth | frames | own ns | libunwind ns |\n|---:|---:|---:|---:|\n");
    const int depths[] = {10, 64};
    for (int di = 0; di < 2; di++) {
        unsigned got = 0, got2 = 0;
        double own = time_capture(0, depths[di], &got);
        double lu = time_capture(1, depths[di], &got2);
        printf("| %d | %u (libunwind %u) | %.1f | %.1f |\n", depths[di], got, got2, own, lu);
    }
    unsigned pgot = 0, pgot2 = 0;
    double calls = time_capture_paths(2, &pgot);
    double pown = time_capture_paths(0, &pgot) - calls, plu = time_capture_paths(1, &pgot2) - calls;
    printf("| ~15, another call path each time (2^10 paths; the calls' own %.1f ns taken off) | %u (libunwind %u) | %.1f | "
           "%.1f |\n",
           calls, pgot, pgot2, pown, plu);
    double own_first = time_first_capture(0), lu_first = time_first_capture(1);
    printf("\nfirst capture of a new thread (median of %d threads): own %.1f us, libunwind %.1f us\n",
           quick ? 5 : 200, own_first / 1000.0, lu_first / 1000.0);
}

/* --------------------------------------------------------------- flusher */

/* Return-address-like values spread over the executable segments of the
 * loaded objects, so symbolisation sees many distinct functions. */
typedef struct {
    uintptr_t *pc;
    size_t n, cap;
} pc_pool;

static int collect_exec(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    pc_pool *pool = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz < 4096)
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        for (size_t k = 0; k < 400 && pool->n < pool->cap; k++)
            pool->pc[pool->n++] = start + 16 + (ph->p_memsz - 32) * k / 400;
    }
    return 0;
}

typedef struct {
    _Atomic int stop;
    _Atomic size_t peak;
} watcher;

/* Polls hp_own_bytes() to catch the transient peak of an encode. */
static void *watch_own_bytes(void *arg) {
    watcher *w = arg;
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        size_t b = hp_own_bytes();
        if (b > atomic_load_explicit(&w->peak, memory_order_relaxed))
            atomic_store_explicit(&w->peak, b, memory_order_relaxed);
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static double mib(size_t b) { return (double)b / 1048576.0; }

/* Events are applied in batches, as the flusher drains a ring segment: built
 * into one buffer first, then applied back to back under one timer (a timer
 * per event would cost as much as the event). */
#define FL_BATCH 1024

typedef struct {
    hp_profile *prof;
    const pc_pool *pool;
    unsigned depth;
    size_t n_stacks;
    uint64_t seed;
    unsigned char *buf; /* FL_BATCH records of hp_event_bytes(depth) */
    size_t n;           /* records in buf */
} fl_batch;

static hp_event *fl_slot(fl_batch *b) {
    hp_event *ev = (hp_event *)(void *)(b->buf + b->n++ * hp_event_bytes(b->depth));
    memset(ev, 0, sizeof *ev);
    return ev;
}

/* Sample `id` on stack k, with frames spread over the loaded code. */
static void fl_alloc(fl_batch *b, uint64_t id, size_t k) {
    hp_event *ev = fl_slot(b);
    ev->kind = HP_EV_ALLOC;
    ev->depth = b->depth;
    ev->id = id;
    ev->addr = 0x7e0000000000ull + 64 * id;
    ev->size = 16 + splitmix(&b->seed) % 4096;
    ev->rate = 524288;
    for (unsigned j = 0; j < b->depth; j++)
        ev->frames[j] = b->pool->pc[(k * 2654435761u + j * 40503u + (k >> 3) * j) % b->pool->n];
}

static void fl_free(fl_batch *b, uint64_t id) {
    hp_event *ev = fl_slot(b);
    ev->kind = HP_EV_FREE;
    ev->id = id;
}

/* Applies the batch; returns the ns it took. */
static uint64_t fl_apply(fl_batch *b) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < b->n; i++)
        hp_profile_apply(b->prof, (const hp_event *)(const void *)(b->buf + i * hp_event_bytes(b->depth)));
    uint64_t t = now_ns() - t0;
    b->n = 0;
    return t;
}

/* Steady state at `live` live samples: n_pairs times, a random live sample is
 * freed and a new one allocated: a long-running program, whose every
 * allocation and free the flusher applies at RATE=1. */
static double fl_steady(fl_batch *b, uint64_t *live_ids, size_t live, size_t n_pairs, uint64_t *next_id) {
    uint64_t t = 0;
    for (size_t i = 0; i < n_pairs; i++) {
        size_t k = splitmix(&b->seed) % live;
        fl_free(b, live_ids[k]);
        live_ids[k] = (*next_id)++;
        fl_alloc(b, live_ids[k], splitmix(&b->seed) % b->n_stacks);
        if (b->n == FL_BATCH)
            t += fl_apply(b);
    }
    t += fl_apply(b);
    return (double)t;
}

/* Every live sample freed, in random order. */
static double fl_free_all(fl_batch *b, uint64_t *live_ids, size_t live) {
    for (size_t i = live; i > 1; i--) {
        size_t k = splitmix(&b->seed) % i;
        uint64_t x = live_ids[i - 1];
        live_ids[i - 1] = live_ids[k];
        live_ids[k] = x;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < live; i++) {
        fl_free(b, live_ids[i]);
        if (b->n == FL_BATCH)
            t += fl_apply(b);
    }
    t += fl_apply(b);
    return (double)t;
}

static void bench_flusher(void) {
    const size_t n_stacks = quick ? 1000 : 10000, n_live = quick ? 50000 : 1000000;
    const unsigned depth = 10;
    pc_pool pool = {NULL, 0, 8192};
    pool.pc = xmalloc(pool.cap * sizeof *pool.pc);
    dl_iterate_phdr(collect_exec, &pool);
    if (pool.n < 64) {
        printf("flusher: too few code addresses (skipped)\n");
        free(pool.pc);
        return;
    }
    if (hp_addrset_init() != 0) {
        printf("flusher: addrset init failed (skipped)\n");
        free(pool.pc);
        return;
    }
    size_t own0 = hp_own_bytes();

    /* Each live sample as the profiler holds it: its address in the sampled
     * set (app side) and its ALLOC applied to the profile (flusher side);
     * sample i on stack i % n_stacks. */
    uintptr_t base = (uintptr_t)0x7e0000000000ull;
    hp_profile *prof = hp_profile_new();
    fl_batch fb = {prof, &pool, depth, n_stacks, 9, xmalloc(FL_BATCH * hp_event_bytes(depth)), 0};
    /* Tables grow by splitting or doubling (profile) and by 4x levels
     * (addrset), so the bytes per live sample peak right after a growth step:
     * check the target (4 MiB + 128 B per live sample) after every batch of
     * 1024 samples, not just at the end. */
    double worst_margin = -1e300, worst_prof = 0;
    size_t worst_at = 0, worst_own = 0, worst_prof_at = 0;
    uint64_t t_set = 0, t_apply = 0;
    for (size_t i = 0; i < n_live; i++) {
        fl_alloc(&fb, i + 1, i % n_stacks);
        if (fb.n < FL_BATCH && i + 1 < n_live)
            continue;
        uint64_t a0 = now_ns();
        for (size_t j = i + 1 - fb.n; j <= i; j++)
            (void)hp_addrset_insert(base + 64 * (uintptr_t)j, j + 1);
        t_set += now_ns() - a0;
        t_apply += fl_apply(&fb);
        size_t own = hp_own_bytes() - own0;
        double margin = (double)own - (4.0 * 1048576.0 + 128.0 * (double)(i + 1));
        if (margin > worst_margin)
            worst_margin = margin, worst_at = i + 1, worst_own = own;
        double per = (double)hp_profile_bytes(prof) / (double)(i + 1);
        if (i + 1 >= n_live / 4 && per > worst_prof) /* past the stack tables' weight */
            worst_prof = per, worst_prof_at = i + 1;
    }
    size_t own_prof = hp_own_bytes();
    hp_addrset_stats as;
    hp_addrset_stats_get(&as);
    size_t own_set = own0 + (size_t)as.bytes;
    hp_profile_stats ps;
    hp_profile_stats_get(prof, &ps);
    size_t prof_bytes = hp_profile_bytes(prof);

    hp_maps *maps = hp_maps_new();
    double enc_ms[2] = {0, 0};
    size_t peak[2] = {0, 0}, gz_len = 0;
    for (int round = 0; round < 2 && maps; round++) {
        watcher w = {0, 0};
        atomic_store(&w.peak, hp_own_bytes());
        pthread_t th;
        int have_watch = pthread_create(&th, NULL, watch_own_bytes, &w) == 0;
        uint8_t *gz = NULL;
        uint64_t e0 = now_ns();
        int err = hp_encode_gz(prof, maps, "bench", NULL, 0, 0, &gz, &gz_len);
        uint64_t e1 = now_ns();
        if (have_watch) {
            atomic_store(&w.stop, 1);
            pthread_join(th, NULL);
        }
        if (err)
            printf("flusher: encode failed: %d\n", err);
        hp_free(gz);
        enc_ms[round] = (double)(e1 - e0) / 1e6;
        peak[round] = atomic_load(&w.peak);
    }
    size_t own_maps = hp_own_bytes();

    /* The flusher's other work at rate 1: frees, and allocations that replace
     * them at a constant live count. */
    uint64_t *live_ids = xmalloc(n_live * sizeof *live_ids);
    for (size_t i = 0; i < n_live; i++)
        live_ids[i] = i + 1;
    uint64_t next_id = n_live + 1;
    size_t n_pairs = n_live / 2;
    double t_steady = fl_steady(&fb, live_ids, n_live, n_pairs, &next_id);
    size_t own_steady = hp_own_bytes();
    double t_free = fl_free_all(&fb, live_ids, n_live);
    size_t own_empty = hp_own_bytes();
    hp_profile_stats ps_end;
    hp_profile_stats_get(prof, &ps_end);

    printf("\n## Flusher: %zu live samples on %llu distinct stacks (depth %u)\n\n", n_live,
           (unsigned long long)ps.stacks, depth);
    printf("| step | time | heapprof own memory after |\n|---|---:|---:|\n");
    printf("| addrset: insert %zu addresses (app side; batches of %d) | %.1f ms (%.0f ns each) | %.1f MiB (addrset) |\n",
           n_live, FL_BATCH, (double)t_set / 1e6, (double)t_set / (double)n_live, mib(own_set - own0));
    printf("| profile: apply %zu ALLOC events (batches of %d) | %.1f ms (%.0f ns each) | %.1f MiB (all) |\n", n_live,
           FL_BATCH, (double)t_apply / 1e6, (double)t_apply / (double)n_live, mib(own_prof - own0));
    printf("| encode + gzip, first (reads symbol tables) | %.1f ms | peak %.1f MiB |\n", enc_ms[0],
           mib(peak[0] - own0));
    printf("| encode + gzip, again | %.1f ms | peak %.1f MiB |\n", enc_ms[1], mib(peak[1] - own0));
    printf("| profile: steady state at %zu live, %zu FREE + ALLOC pairs | %.1f ms (%.0f ns per event) | %.1f MiB (all) |\n",
           n_live, n_pairs, t_steady / 1e6, t_steady / (2.0 * (double)n_pairs), mib(own_steady - own0));
    printf("| profile: apply %zu FREE events, random order, down to 0 live | %.1f ms (%.0f ns each) | %.1f MiB (all) |\n",
           n_live, t_free / 1e6, t_free / (double)n_live, mib(own_empty - own0));
    printf("\nprofile %.1f KiB gzipped; own memory at rest %.1f MiB (%.1f MiB of it symbol tables/maps) = "
           "%.0f B per live sample (addrset %.0f B + profile %.0f B) + maps\n",
           (double)gz_len / 1024.0, mib(own_maps - own0), mib(own_maps - own_prof),
           (double)(own_prof - own0) / (double)n_live, (double)(own_set - own0) / (double)n_live,
           (double)(own_prof - own_set) / (double)n_live);
    printf("target: <= 4 MiB + 128 B x %zu = %.1f MiB; measured %.1f MiB at rest, %.1f MiB at the encode's peak\n",
           n_live, 4.0 + 128.0 * (double)n_live / 1048576.0, mib(own_maps - own0),
           mib((peak[0] > peak[1] ? peak[0] : peak[1]) - own0));
    printf("worst point against the target while growing: %.1f MiB own at %zu live samples, %s the limit by %.1f MiB "
           "(%.0f B per live sample there)\n",
           mib(worst_own), worst_at, worst_margin > 0 ? "OVER" : "under", fabs(worst_margin) / 1048576.0,
           (double)worst_own / (double)worst_at);
    printf("the profile's own tables (hp_profile_bytes): %.0f B per live sample at %zu live, worst %.0f B at %zu "
           "while growing (from %zu live); %llu frees matched, %llu left pending\n",
           (double)prof_bytes / (double)n_live, n_live, worst_prof, worst_prof_at, n_live / 4,
           (unsigned long long)ps_end.frees, (unsigned long long)ps_end.pending_frees);
    free(live_ids);
    free(fb.buf);
    if (maps)
        hp_maps_free(maps);
    hp_profile_free(prof);
    free(pool.pc);
}

int main(int argc, char **argv) {
    int want[5] = {0, 0, 0, 0, 0}, any = 0;
    const char *names[5] = {"shim", "addrset", "sample", "flusher", "capture"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
            continue;
        }
        int k = 0;
        while (k < 5 && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == 5) {
            fprintf(stderr, "usage: bench-micro [--quick] [shim|addrset|sample|flusher|capture]...\n");
            return 2;
        }
        want[k] = any = 1;
    }
    printf("# bench-micro%s\n", quick ? " (quick: smaller sizes, not for numbers)" : "");
    /* Order matters: the shim section dlopens the library, whose own copy of
     * the core is separate from the one linked here. */
    if (!any || want[0])
        bench_shim();
    if (!any || want[1])
        bench_addrset();
    if (!any || want[4])
        bench_capture();
    if (!any || want[2])
        bench_sample();
    if (!any || want[3])
        bench_flusher();
    fflush(stdout);
    /* No exit handlers: the dlopened library would write a final profile. */
    _exit(0);
}
