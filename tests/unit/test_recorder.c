/* Unit tests of the recorder (src/record/recorder.c) without the preloaded
 * shim: the tests play the shim's part (hp_sample_due before allocating,
 * a block padded by hp_mark_offset, hp_sample_finish, hp_mark_take +
 * hp_record_free before the real free) and the flusher's part (hp_rings_drain,
 * hp_spill_drain), and check the events that come out.
 *
 * The settings are read once per process, so each group runs in a forked
 * child with its own environment (test_isolate.h):
 *  - "rate1/headers" and "rate1/addrset": HEAPPROF_RATE=1 (every call
 *    samples), in both ways of marking a sampled block;
 *  - "gaps": HEAPPROF_RATE=4096, HEAPPROF_SEED=42, HEAPPROF_DEPTH=3: the
 *    countdown and its exponential gaps, the depth limit.
 *
 * Nothing here runs a flusher thread: the test thread is the only consumer
 * of the rings, as the flusher is in production. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>

#include "test_isolate.h"

#include "base/event.h"
#include "record/recorder.h"
#include "record/ring.h"
#include "record/runtime.h"
#include "record/sample_mark.h"
#include "record/sampler.h"
#include "record/spill.h"

/* ---- what the drains deliver ---- */

typedef struct rec_ev {
    uint16_t kind, flags;
    uint32_t depth;
    uint64_t id, addr, size, rate;
    uintptr_t frame0;
    int from_spill;
} rec_ev;

#define MAX_EVS 65536
static rec_ev evs[MAX_EVS];
static size_t n_evs, n_evs_dropped;

/* An ALLOC whose FREE the ring folded in (HP_EV_ALLOC_FREED) is collected
 * as its ALLOC, and its FREE is appended after the drain (drain_more): the
 * order the tests expect when the frees came after every allocation. */
static struct {
    uint64_t id, addr;
} folded[MAX_EVS];
static size_t n_folded;
static uint64_t n_folded_total; /* over the whole run */

static void collect(const hp_event *ev, void *ctx) {
    if (n_evs == MAX_EVS) {
        n_evs_dropped++;
        return;
    }
    rec_ev *r = &evs[n_evs++];
    r->kind = hp_event_kind(ev);
    if (r->kind == HP_EV_ALLOC_FREED) {
        r->kind = HP_EV_ALLOC;
        folded[n_folded].id = ev->id;
        folded[n_folded++].addr = ev->addr;
        n_folded_total++;
    }
    r->flags = ev->flags;
    r->depth = ev->depth;
    r->id = ev->id;
    r->addr = ev->addr;
    r->size = ev->size;
    r->rate = ev->rate;
    r->frame0 = ev->depth ? ev->frames[0] : 0;
    r->from_spill = ctx != NULL;
}

static int spill_ctx; /* marks events delivered by the spill list */

/* Appends whatever is queued (spill list, rings, spill list again, as
 * hp_state_drain does). Returns how many were delivered. */
static size_t drain_more(void) {
    size_t n = hp_spill_drain(collect, &spill_ctx);
    n += hp_rings_drain(collect, NULL);
    n += hp_spill_drain(collect, &spill_ctx);
    for (size_t i = 0; i < n_folded && n_evs < MAX_EVS; i++, n++) {
        rec_ev *r = &evs[n_evs++];
        memset(r, 0, sizeof *r);
        r->kind = HP_EV_FREE;
        r->id = folded[i].id;
        r->addr = folded[i].addr;
    }
    n_folded = 0;
    return n;
}

/* Starts a fresh collection with what is queued now. */
static size_t drain_fresh(void) {
    n_evs = 0;
    n_evs_dropped = 0;
    return drain_more();
}

/* ---- playing the shim ---- */

/* The shim's sampled path for a block of `size` bytes that hp_sample_due
 * said is due (`rate`): the real allocation padded, then hp_sample_finish. */
static void *alloc_sampled(size_t size, uint64_t rate, void **base_out) {
    size_t off = hp_mark_offset(0);
    void *base = malloc(size + off);
    if (!base)
        return NULL;
    void *p = hp_sample_finish(base, off, size, rate);
    if (base_out)
        *base_out = base;
    return p;
}

/* The shim's free of a possibly sampled block: 0 when it was not sampled,
 * else its sample id. */
static uint64_t free_sampled(void *p) {
    hp_marked m;
    if (!hp_mark_take(p, &m)) {
        free(p);
        return 0;
    }
    hp_record_free((uintptr_t)p, m.id);
    free(m.base);
    return m.id;
}

static int expected_mode; /* set by each group's set-up */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- group rate1: every call samples ---- */

static void setup_rate1(void) {
    setenv("HEAPPROF_RATE", "1", 1);
    setenv("HEAPPROF_SEED", "42", 1);
    unsetenv("HEAPPROF_DEPTH");
    unsetenv("HEAPPROF_HEADERS");
}

static void setup_rate1_headers(void) {
    setup_rate1();
    hp_mark_note_allocator(1); /* as the shim does when the next malloc is glibc's */
    expected_mode = HP_MARK_HEADER;
}

static void setup_rate1_addrset(void) {
    setup_rate1();
    hp_mark_note_allocator(0); /* another allocator: the address set */
    expected_mode = HP_MARK_ADDRSET;
}

/* One sampled allocation gives one ALLOC with the request's size, the rate,
 * a fresh id, a stack and the program's pointer; its free one FREE with the
 * same id. errno is left alone throughout. */
static void test_alloc_and_free_events(void **state) {
    (void)state;
    assert_int_equal(hp_runtime_ensure(), 1);
    assert_int_equal(hp_current_rate(), 1);
    assert_int_equal(hp_mark_mode(), expected_mode);
    drain_fresh();

    errno = EDOM;
    uint64_t rate = hp_sample_due(100);
    assert_int_equal(rate, 1);
    assert_int_equal(errno, EDOM);
    assert_int_equal(hp_tls_bytes_left, 0); /* rate 1: the next allocation is due too */

    void *base = NULL;
    errno = EDOM;
    char *p = alloc_sampled(100, rate, &base);
    assert_int_equal(errno, EDOM);
    assert_non_null(p);
    assert_ptr_equal(p, (char *)base + hp_mark_offset(0));
    memset(p, 0xab, 100); /* the program owns all 100 bytes */

    assert_int_equal(drain_fresh(), 1);
    assert_int_equal(n_evs, 1);
    rec_ev a = evs[0];
    assert_int_equal(a.kind, HP_EV_ALLOC);
    assert_int_equal(a.size, 100);
    assert_int_equal(a.rate, 1);
    assert_int_not_equal(a.id, 0);
    assert_int_equal(a.addr, (uintptr_t)p);
    assert_true(a.depth > 0);
    assert_true(a.depth <= hp_cfg.depth);
    assert_int_not_equal(a.frame0, 0);
    assert_int_equal(a.from_spill, 0);

    hp_marked m;
    if (expected_mode == HP_MARK_HEADER) {
        assert_int_equal(hp_mark_peek(p, &m), 1);
        assert_int_equal(m.id, a.id); /* the mark holds the id the FREE will carry */
    }

    errno = ERANGE;
    uint64_t id = free_sampled(p);
    assert_int_equal(errno, ERANGE);
    assert_int_equal(id, a.id);
    assert_int_equal(drain_fresh(), 1);
    assert_int_equal(evs[0].kind, HP_EV_FREE);
    assert_int_equal(evs[0].id, a.id);
    assert_int_equal(evs[0].addr, (uintptr_t)p);
    assert_int_equal(evs[0].depth, 0);

    assert_int_equal(drain_fresh(), 0); /* nothing is delivered twice */
}

/* Many samples on one thread: ids unique and non-zero, events delivered in
 * push order (every ALLOC before the FREE of the same block). */
static void test_ids_unique_in_push_order(void **state) {
    (void)state;
    enum { N = 3000 };
    static char *ptrs[N];
    static uint64_t ids[N];
    drain_fresh();
    for (int i = 0; i < N; i++) {
        uint64_t rate = hp_sample_due((size_t)i);
        assert_int_equal(rate, 1);
        ptrs[i] = alloc_sampled((size_t)i, rate, NULL);
        assert_non_null(ptrs[i]);
    }
    for (int i = 0; i < N; i++)
        assert_int_not_equal(free_sampled(ptrs[i]), 0);
    assert_int_equal(drain_fresh(), 2 * N);
    assert_int_equal(n_evs_dropped, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(evs[i].kind, HP_EV_ALLOC);
        assert_int_equal(evs[i].size, (uint64_t)i);
        assert_int_equal(evs[i].addr, (uintptr_t)ptrs[i]);
        assert_int_not_equal(evs[i].id, 0);
        ids[i] = evs[i].id;
        assert_int_equal(evs[N + i].kind, HP_EV_FREE);
        assert_int_equal(evs[N + i].id, evs[i].id);
        assert_int_equal(evs[N + i].addr, (uintptr_t)ptrs[i]);
    }
    qsort(ids, N, sizeof ids[0], cmp_u64);
    for (int i = 1; i < N; i++)
        assert_true(ids[i] != ids[i - 1]);
}

/* The guard stops sampling (without counting misses: heapprof's own work),
 * nests, and leaving it restores sampling. */
static void test_guard(void **state) {
    (void)state;
    drain_fresh();
    hp_recorder_stats before, after;
    hp_recorder_stats_get(&before);

    int outer = hp_guard_enter();
    for (int i = 0; i < 10; i++)
        assert_int_equal(hp_sample_due(64), 0);
    int inner = hp_guard_enter();
    assert_int_equal(hp_sample_due(64), 0);
    hp_guard_leave(inner);
    assert_int_equal(hp_sample_due(64), 0); /* still inside the outer bracket */
    hp_guard_leave(outer);

    hp_recorder_stats_get(&after);
    assert_int_equal(after.unrecorded, before.unrecorded);
    assert_int_equal(drain_fresh(), 0);

    uint64_t rate = hp_sample_due(64);
    assert_int_equal(rate, 1);
    char *p = alloc_sampled(64, rate, NULL);
    free_sampled(p);
    assert_int_equal(drain_fresh(), 2);
    assert_int_equal(evs[0].kind, HP_EV_ALLOC);
    assert_int_equal(evs[1].kind, HP_EV_FREE);
}

/* A FREE that follows its ALLOC before the flusher read it is folded into
 * the ALLOC (one record, HP_EV_ALLOC_FREED); once the ALLOC was read, the
 * FREE is queued as usual. */
static void test_free_folds_into_unread_alloc(void **state) {
    (void)state;
    drain_fresh();
    uint64_t folded0 = n_folded_total;
    char *p = alloc_sampled(48, hp_sample_due(48), NULL);
    free_sampled(p);
    assert_int_equal(hp_rings_drain(collect, NULL), 1); /* one record for both */
    assert_int_equal(n_folded_total, folded0 + 1);
    drain_fresh();
    p = alloc_sampled(48, hp_sample_due(48), NULL);
    assert_int_equal(drain_fresh(), 1); /* the ALLOC is read (claimed) */
    free_sampled(p);
    assert_int_equal(drain_fresh(), 1);
    assert_int_equal(evs[0].kind, HP_EV_FREE);
    assert_int_equal(n_folded_total, folded0 + 1);
}

/* A cancelled sample is counted as unrecorded and queues nothing; a failed
 * allocation (NULL) records nothing, keeps the allocator's errno and is not
 * a lost sample; a free of an unrecorded block (id 0) queues nothing. */
static void test_cancel_and_failed_allocation(void **state) {
    (void)state;
    drain_fresh();
    hp_recorder_stats s0, s1, s2;
    hp_recorder_stats_get(&s0);
    assert_int_equal(hp_sample_due(10), 1);
    hp_sample_cancel();
    hp_recorder_stats_get(&s1);
    assert_int_equal(s1.unrecorded, s0.unrecorded + 1);
    assert_int_equal(drain_fresh(), 0);

    uint64_t rate = hp_sample_due(10);
    assert_int_equal(rate, 1);
    errno = ENOMEM;
    assert_null(hp_sample_finish(NULL, hp_mark_offset(0), 10, rate));
    assert_int_equal(errno, ENOMEM);
    hp_record_free(0x1000, 0);
    assert_int_equal(drain_fresh(), 0);
    hp_recorder_stats_get(&s2);
    assert_int_equal(s2.unrecorded, s1.unrecorded);
}

/* hp_set_rate(0) stops sampling (the countdown is parked for a gigabyte); a
 * new rate cuts every countdown short at once, is noticed at the next
 * allocation and carried by the ALLOCs sampled under it. */
static void test_set_rate(void **state) {
    (void)state;
    drain_fresh();
    assert_int_equal(hp_set_rate(0), 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(hp_sample_due(100), 0);
        assert_int_equal(hp_tls_bytes_left, 1ull << 30);
    }
    assert_int_equal(drain_fresh(), 0);

    assert_int_equal(hp_set_rate(64), 0);
    /* The kick (hp_set_rate zeroes every countdown) ... */
    assert_int_equal(hp_tls_bytes_left, 0);
    /* ... sends the next allocation to the slow path, which draws a fresh
     * gap from the new rate: this allocation is sampled only if the gap says
     * so; the next call (a countdown run out) is. */
    uint64_t rate = hp_sample_due(100);
    if (!rate)
        rate = hp_sample_due(100);
    assert_int_equal(rate, 64);
    assert_true(hp_tls_bytes_left >= 1); /* a real gap now, not 0 */
    char *p = alloc_sampled(100, rate, NULL);
    free_sampled(p);
    assert_int_equal(drain_fresh(), 2);
    assert_int_equal(evs[0].kind, HP_EV_ALLOC);
    assert_int_equal(evs[0].rate, 64);

    assert_int_equal(hp_set_rate(1), 64);
    rate = hp_sample_due(1);
    if (!rate)
        rate = hp_sample_due(1);
    assert_int_equal(rate, 1);
    hp_sample_cancel();
}

/* ---- threads ---- */

/* Checks in threads other than cmocka's: remembered, asserted after join. */
typedef struct thread_check {
    int failed_line;
} thread_check;
#define TCHECK(tc, cond)                         \
    do {                                         \
        if (!(cond) && !(tc)->failed_line)      \
            (tc)->failed_line = __LINE__;        \
    } while (0)

enum { PER_THREAD = 10 };
typedef struct sampler_job {
    thread_check tc;
    int count;
    char *ptrs[PER_THREAD];
} sampler_job;

static void *sample_and_exit(void *arg) {
    sampler_job *job = arg;
    for (int i = 0; i < job->count; i++) {
        uint64_t rate = hp_sample_due(32);
        TCHECK(&job->tc, rate == 1);
        job->ptrs[i] = rate ? alloc_sampled(32, rate, NULL) : NULL;
        TCHECK(&job->tc, job->ptrs[i] != NULL);
    }
    return NULL; /* the pointers outlive the thread */
}

static void run_sampler_thread(sampler_job *job, int count) {
    memset(job, 0, sizeof *job);
    job->count = count;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sample_and_exit, job), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(job->tc.failed_line, 0);
}

/* A thread's samples arrive after it exited; blocks it allocated and
 * another thread frees give FREEs with the same ids; an exited thread's ring
 * goes to the next new thread instead of a new one being made. */
static void test_thread_exit_and_foreign_frees(void **state) {
    (void)state;
    drain_fresh();
    sampler_job job;
    run_sampler_thread(&job, PER_THREAD);
    assert_int_equal(drain_fresh(), PER_THREAD);
    uint64_t ids[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
        assert_int_equal(evs[i].kind, HP_EV_ALLOC);
        assert_int_equal(evs[i].addr, (uintptr_t)job.ptrs[i]);
        ids[i] = evs[i].id;
    }
    for (int i = 0; i < PER_THREAD; i++)
        assert_int_equal(free_sampled(job.ptrs[i]), ids[i]);
    assert_int_equal(drain_fresh(), PER_THREAD);
    for (int i = 0; i < PER_THREAD; i++) {
        assert_int_equal(evs[i].kind, HP_EV_FREE);
        assert_int_equal(evs[i].id, ids[i]);
    }

    /* Ten short threads one after another, drained in between (which makes
     * a released ring reusable): at most one ring more than before. */
    hp_ring_stats r0, r1;
    hp_ring_stats_get(&r0);
    for (int k = 0; k < 10; k++) {
        run_sampler_thread(&job, 3);
        assert_int_equal(drain_fresh(), 3);
        for (int i = 0; i < 3; i++)
            free_sampled(job.ptrs[i]);
        assert_int_equal(drain_fresh(), 3);
    }
    hp_ring_stats_get(&r1);
    assert_true(r1.rings <= r0.rings + 1);
}

/* Runs after the recorder's own thread-exit destructor (a key made later,
 * glibc runs destructors in key order; re-armed for the next round if the
 * recorder's has not run yet). */
typedef struct late_free {
    thread_check tc;
    char *p;
    uint64_t id;
    int rounds;
    int done;
} late_free;
static pthread_key_t late_key;

static void late_free_destructor(void *arg) {
    late_free *lf = arg;
    uint64_t rate = hp_sample_due(16);
    if (rate) { /* the recorder's destructor has not run yet */
        hp_sample_cancel();
        if (++lf->rounds < 3)
            pthread_setspecific(late_key, lf);
        return;
    }
    lf->id = free_sampled(lf->p);
    TCHECK(&lf->tc, lf->id != 0);
    TCHECK(&lf->tc, hp_sample_due(16) == 0); /* an exited thread never samples */
    lf->done = 1;
}

static void *sample_then_free_late(void *arg) {
    late_free *lf = arg;
    uint64_t rate = hp_sample_due(48);
    TCHECK(&lf->tc, rate == 1);
    lf->p = alloc_sampled(48, rate, NULL);
    TCHECK(&lf->tc, lf->p != NULL);
    pthread_setspecific(late_key, lf);
    return NULL;
}

/* A free after the thread's exit destructor (its ring is released) goes to
 * the spill list and still arrives, counted as spilled. */
static void test_free_after_thread_exit_spills(void **state) {
    (void)state;
    assert_int_equal(pthread_key_create(&late_key, late_free_destructor), 0);
    drain_fresh();
    hp_recorder_stats s0, s1;
    hp_recorder_stats_get(&s0);
    late_free lf;
    memset(&lf, 0, sizeof lf);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sample_then_free_late, &lf), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(lf.tc.failed_line, 0);
    assert_int_equal(lf.done, 1);

    hp_recorder_stats_get(&s1);
    assert_int_equal(s1.spilled, s0.spilled + 1);
    assert_int_equal(drain_fresh(), 2);
    int allocs = 0, frees = 0;
    for (size_t i = 0; i < n_evs; i++) {
        if (evs[i].kind == HP_EV_ALLOC) {
            allocs++;
            assert_int_equal(evs[i].id, lf.id);
            assert_int_equal(evs[i].from_spill, 0);
        } else {
            frees++;
            assert_int_equal(evs[i].kind, HP_EV_FREE);
            assert_int_equal(evs[i].id, lf.id);
            assert_int_equal(evs[i].addr, (uintptr_t)lf.p);
            assert_int_equal(evs[i].from_spill, 1);
        }
    }
    assert_int_equal(allocs, 1);
    assert_int_equal(frees, 1);
    pthread_key_delete(late_key);
}

/* Several threads sample and free at once while this thread drains, as the
 * flusher does: every event arrives once, ids are unique across threads, and
 * each FREE comes after its ALLOC (same thread, same ring). */
enum { CT_THREADS = 4, CT_PER = 4000, CT_LIVE = 8 };
typedef struct churn_job {
    thread_check tc;
    _Atomic int *done;
} churn_job;

static void *churn(void *arg) {
    churn_job *job = arg;
    char *live[CT_LIVE] = {0};
    for (int i = 0; i < CT_PER; i++) {
        int slot = i % CT_LIVE;
        if (live[slot])
            TCHECK(&job->tc, free_sampled(live[slot]) != 0);
        uint64_t rate = hp_sample_due((size_t)(i % 200));
        TCHECK(&job->tc, rate == 1);
        live[slot] = alloc_sampled((size_t)(i % 200), rate, NULL);
        TCHECK(&job->tc, live[slot] != NULL);
    }
    for (int s = 0; s < CT_LIVE; s++)
        if (live[s])
            free_sampled(live[s]);
    atomic_fetch_add(job->done, 1);
    return NULL;
}

typedef struct id_pos {
    uint64_t id;
    size_t pos;
} id_pos;
static int cmp_id_pos(const void *a, const void *b) {
    return cmp_u64(&((const id_pos *)a)->id, &((const id_pos *)b)->id);
}

static void test_concurrent_threads(void **state) {
    (void)state;
    drain_fresh();
    _Atomic int done = 0;
    churn_job jobs[CT_THREADS];
    pthread_t t[CT_THREADS];
    for (int i = 0; i < CT_THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].done = &done;
        assert_int_equal(pthread_create(&t[i], NULL, churn, &jobs[i]), 0);
    }
    n_evs = 0;
    while (atomic_load(&done) < CT_THREADS)
        drain_more();
    for (int i = 0; i < CT_THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(jobs[i].tc.failed_line, 0);
    }
    drain_more();
    assert_int_equal(n_evs_dropped, 0);
    assert_int_equal(n_evs, 2 * CT_THREADS * CT_PER);

    static id_pos allocs[CT_THREADS * CT_PER];
    size_t na = 0;
    for (size_t i = 0; i < n_evs; i++)
        if (evs[i].kind == HP_EV_ALLOC)
            allocs[na++] = (id_pos){evs[i].id, i};
    assert_int_equal(na, CT_THREADS * CT_PER);
    qsort(allocs, na, sizeof allocs[0], cmp_id_pos);
    for (size_t i = 1; i < na; i++)
        assert_true(allocs[i].id != allocs[i - 1].id);
    for (size_t i = 0; i < n_evs; i++) {
        if (evs[i].kind != HP_EV_FREE)
            continue;
        id_pos key = {evs[i].id, 0};
        id_pos *a = bsearch(&key, allocs, na, sizeof allocs[0], cmp_id_pos);
        assert_non_null(a);
        assert_true(a->pos < i);
    }
}

/* ---- group gaps: HEAPPROF_RATE=4096, HEAPPROF_SEED=42, HEAPPROF_DEPTH=3 ---- */

enum { GAP_RATE = 4096 };

static void setup_gaps(void) {
    setenv("HEAPPROF_RATE", "4096", 1);
    setenv("HEAPPROF_SEED", "42", 1);
    setenv("HEAPPROF_DEPTH", "3", 1);
    unsetenv("HEAPPROF_HEADERS");
    hp_mark_note_allocator(1);
    expected_mode = HP_MARK_HEADER;
}

/* The first thread to sample is seeded with HEAPPROF_SEED itself: its gaps
 * are the sampler's draws from that seed. The first gap covers the first
 * small allocation (not sampled, the countdown keeps the rest); every later
 * slow path re-arms the countdown with a whole new gap. Must run first in
 * its group (the seed of a thread depends on how many started before). */
static void test_countdown_follows_seeded_gaps(void **state) {
    (void)state;
    assert_int_equal(hp_runtime_ensure(), 1);
    assert_int_equal(hp_current_rate(), GAP_RATE);
    hp_rng ref;
    hp_rng_seed(&ref, 42);
    uint64_t first = (uint64_t)hp_sampler_next_gap(&ref, GAP_RATE);
    assert_true(first > 10); /* true for seed 42; the rest of the test relies on it */

    assert_int_equal(hp_sample_due(10), 0);
    assert_int_equal(hp_tls_bytes_left, first - 10);
    for (int i = 0; i < 200; i++) {
        uint64_t want = (uint64_t)hp_sampler_next_gap(&ref, GAP_RATE);
        assert_int_equal(hp_sample_due((size_t)i * 7), GAP_RATE);
        assert_int_equal(hp_tls_bytes_left, want); /* not reduced by the allocation's size */
        hp_sample_cancel();
    }
}

/* Over many draws the gaps are exponential with mean `rate`: mean, spread
 * and the share below the mean (1 - 1/e) all close to the theory. */
static void test_gap_distribution(void **state) {
    (void)state;
    enum { N = 40000 };
    double sum = 0, sum2 = 0;
    uint64_t min = UINT64_MAX;
    int below_mean = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(hp_sample_due(1), GAP_RATE);
        hp_sample_cancel();
        uint64_t g = hp_tls_bytes_left;
        sum += (double)g;
        sum2 += (double)g * (double)g;
        if (g < min)
            min = g;
        below_mean += g <= GAP_RATE;
    }
    double mean = sum / N, sd = sqrt(sum2 / N - mean * mean);
    /* Standard error of the mean: 4096 / 200 = 20.5; 3 % is 6 of them. */
    assert_true(fabs(mean - GAP_RATE) < 0.03 * GAP_RATE);
    assert_true(fabs(sd - GAP_RATE) < 0.05 * GAP_RATE); /* exponential: sd == mean */
    assert_true(fabs((double)below_mean / N - (1 - exp(-1.0))) < 0.015);
    assert_true(min >= 1);
}

typedef struct gap_job {
    thread_check tc;
    uint64_t gaps[8];
} gap_job;

static void *first_alloc_is_huge(void *arg) {
    gap_job *job = arg;
    /* A first allocation beyond the thread's first gap is sampled. */
    TCHECK(&job->tc, hp_sample_due((size_t)1 << 40) == GAP_RATE);
    hp_sample_cancel();
    for (int i = 0; i < 8; i++) {
        TCHECK(&job->tc, hp_sample_due(1) == GAP_RATE);
        hp_sample_cancel();
        job->gaps[i] = hp_tls_bytes_left;
    }
    return NULL;
}

/* Each new thread starts its own countdown: a first allocation larger than
 * its first gap is sampled, and threads draw different gaps. */
static void test_new_threads(void **state) {
    (void)state;
    gap_job a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, first_alloc_is_huge, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, first_alloc_is_huge, &b), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.tc.failed_line, 0);
    assert_int_equal(b.tc.failed_line, 0);
    assert_memory_not_equal(a.gaps, b.gaps, sizeof a.gaps);
    drain_fresh();
    assert_int_equal(n_evs, 0); /* only cancelled samples */
}

/* HEAPPROF_DEPTH caps the stack; a cut stack is flagged. */
static void test_depth_limit(void **state) {
    (void)state;
    assert_int_equal(hp_cfg.depth, 3);
    drain_fresh();
    uint64_t rate = hp_sample_due(200);
    assert_int_equal(rate, GAP_RATE);
    char *p = alloc_sampled(200, rate, NULL);
    assert_int_equal(drain_fresh(), 1);
    assert_int_equal(evs[0].kind, HP_EV_ALLOC);
    assert_int_equal(evs[0].rate, GAP_RATE);
    assert_int_equal(evs[0].size, 200);
    /* Under cmocka the stack outside this executable (cmocka, libc) is
     * deeper than 3 frames. */
    assert_int_equal(evs[0].depth, 3);
    assert_true(evs[0].flags & HP_EV_TRUNCATED);
    free_sampled(p);
    assert_int_equal(drain_fresh(), 1);
}

int main(void) {
    const struct CMUnitTest rate1[] = {
        cmocka_unit_test(test_alloc_and_free_events),
        cmocka_unit_test(test_ids_unique_in_push_order),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_free_folds_into_unread_alloc),
        cmocka_unit_test(test_cancel_and_failed_allocation),
        cmocka_unit_test(test_set_rate),
        cmocka_unit_test(test_thread_exit_and_foreign_frees),
        cmocka_unit_test(test_free_after_thread_exit_spills),
        cmocka_unit_test(test_concurrent_threads),
    };
    const struct CMUnitTest gaps[] = {
        cmocka_unit_test(test_countdown_follows_seeded_gaps), /* first: thread seed ordinal 0 */
        cmocka_unit_test(test_gap_distribution),
        cmocka_unit_test(test_new_threads),
        cmocka_unit_test(test_depth_limit),
    };
    int failed = 0;
    failed += RUN_GROUP_ISOLATED("recorder rate1/headers", rate1, setup_rate1_headers);
    failed += RUN_GROUP_ISOLATED("recorder rate1/addrset", rate1, setup_rate1_addrset);
    failed += RUN_GROUP_ISOLATED("recorder gaps", gaps, setup_gaps);
    return failed ? 1 : 0;
}
