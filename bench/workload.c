/* bench-workload: a malloc-heavy program for comparing heap profilers.
 *
 * Each of N threads keeps a live set of L blocks (thousands) and, per
 * iteration, replaces one random block: free + malloc/calloc, or a realloc to a
 * new size. The new block is allocated at the bottom of a ~10-deep call chain
 * of distinct noinline functions, chosen by random bits, so a profiler sees
 * 2^10 distinct stacks of realistic depth. Sizes follow a skewed mix from 16 B
 * to 1 MiB (most blocks small, a few large ones carry much of the bytes).
 *
 * Everything is driven by a fixed PRNG (seed per thread from -s), so every
 * run under every tool does exactly the same allocations.
 *
 * Output (one line, key=value, parsed by run.sh):
 *   threads=2 iters=2000000 ns_per_iter=151.2 app_cpu_ns=148.0 proc_cpu_ns=150.3 wall_s=0.30 maxrss_kib=... ...
 * ns_per_iter: wall time of the timed phase / per-thread iterations (the
 *   threads run concurrently): what a program thread sees, load included.
 * app_cpu_ns: CPU time of the worker threads / all iterations: the cost paid
 *   on the program's own threads, insensitive to time spent descheduled (the
 *   machine may be shared).
 * proc_cpu_ns: CPU time of the whole process (every thread, a profiler's own
 *   included) during the timed phase / all iterations: the total cost.
 * The warm-up that first fills the live set is not timed. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* splitmix64: tiny, fast, good enough for choosing sizes and slots, and
 * identical on every run. */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A size in [lo, hi), roughly log-uniform (skewed to the small end of the band). */
static inline size_t size_in_band(uint64_t r, unsigned lo_log2, unsigned hi_log2) {
    unsigned span = hi_log2 - lo_log2;
    unsigned e = lo_log2 + (unsigned)(r % span);
    size_t base = (size_t)1 << e;
    return base + (size_t)((r >> 8) & (base - 1));
}

/* The size mix, in 1/10000ths: 60% 16-64 B, 25% 64-512 B, 10% 512 B-4 KiB,
 * 4.9% 4-64 KiB, 0.1% 64 KiB-1 MiB. The large band is rare by count but,
 * as in real programs, a good share of the bytes: it is what a byte-based
 * sampler samples most. */
static size_t pick_size(uint64_t r) {
    unsigned band = (unsigned)(r % 10000);
    uint64_t r2 = r >> 16;
    if (band < 6000)
        return size_in_band(r2, 4, 6);
    if (band < 8500)
        return size_in_band(r2, 6, 9);
    if (band < 9500)
        return size_in_band(r2, 9, 12);
    if (band < 9990)
        return size_in_band(r2, 12, 16);
    return size_in_band(r2, 16, 20);
}

/* Allocation kinds at the bottom of the call chain. */
enum { OP_MALLOC, OP_CALLOC };

typedef struct {
    size_t size;
    int op;
} alloc_req;

/* Touch the block the way a program would initialise a header and a
 * trailer: the first and last bytes. Keeps the compiler from dropping the
 * allocation and makes large blocks fault in at least one page each end. */
static inline void touch(unsigned char *p, size_t n) {
    p[0] = (unsigned char)n;
    p[n - 1] = (unsigned char)(n >> 8);
}

static NOINLINE void *do_alloc(const alloc_req *rq) {
    void *p;
    if (rq->op == OP_CALLOC)
        p = calloc(1, rq->size);
    else
        p = malloc(rq->size);
    if (!p) {
        fprintf(stderr, "bench-workload: out of memory for %zu bytes\n", rq->size);
        exit(1);
    }
    touch(p, rq->size);
    return p;
}

/* The call chain: level k has two distinct functions, a and b; bit k of
 * `path` picks which one level k+1 calls. The empty asm after each call keeps
 * it out of tail position, so every level stays a real frame (the build also
 * passes -fno-optimize-sibling-calls). */
#define BARRIER() __asm__ volatile("" ::: "memory")
#define LEVEL(k, next_a, next_b)                                                                                 \
    static NOINLINE void *lvl##k##_a(const alloc_req *rq, unsigned path) {                                     \
        void *p = (path >> (k)) & 1 ? next_a(rq, path) : next_b(rq, path);                                     \
        BARRIER();                                                                                               \
        return p;                                                                                                \
    }                                                                                                            \
    static NOINLINE void *lvl##k##_b(const alloc_req *rq, unsigned path) {                                     \
        void *p = (path >> (k)) & 1 ? next_b(rq, path) : next_a(rq, path);                                     \
        BARRIER();                                                                                               \
        return p;                                                                                                \
    }

static NOINLINE void *leaf_a(const alloc_req *rq, unsigned path) {
    (void)path;
    void *p = do_alloc(rq);
    BARRIER();
    return p;
}
static NOINLINE void *leaf_b(const alloc_req *rq, unsigned path) {
    (void)path;
    void *p = do_alloc(rq);
    BARRIER();
    return p;
}
LEVEL(8, leaf_a, leaf_b)
LEVEL(7, lvl8_a, lvl8_b)
LEVEL(6, lvl7_a, lvl7_b)
LEVEL(5, lvl6_a, lvl6_b)
LEVEL(4, lvl5_a, lvl5_b)
LEVEL(3, lvl4_a, lvl4_b)
LEVEL(2, lvl3_a, lvl3_b)
LEVEL(1, lvl2_a, lvl2_b)
LEVEL(0, lvl1_a, lvl1_b)

/* Entry of the chain: ~11 frames from here to malloc (9 levels, a leaf,
 * do_alloc), plus the thread's own frames above. */
static NOINLINE void *alloc_deep(size_t size, int op, unsigned path) {
    alloc_req rq = {size, op};
    void *p = path & (1u << 9) ? lvl0_a(&rq, path) : lvl0_b(&rq, path);
    BARRIER();
    return p;
}

typedef struct {
    void *p;
    size_t size;
} slot;

typedef struct {
    unsigned id;
    unsigned live;
    uint64_t iters;
    uint64_t seed;
    pthread_barrier_t *start;
    uint64_t bytes; /* requested bytes over the timed phase */
    double cpu_s;   /* this thread's CPU time over the timed phase */
    uint64_t allocs;
    unsigned long checksum;
} worker;

static NOINLINE void *realloc_block(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "bench-workload: realloc to %zu bytes failed\n", n);
        exit(1);
    }
    touch(q, n);
    return q;
}

/* One iteration on slot s: the operation mix is 10% realloc of the current
 * block, else free + a new block (calloc for 15% of blocks up to 4 KiB,
 * where zeroing is cheap; malloc otherwise). */
static inline void step(worker *w, slot *s, uint64_t *rng) {
    uint64_t r = rng_next(rng);
    size_t n = pick_size(r);
    unsigned choice = (unsigned)(r >> 54); /* 0..1023 */
    if (s->p && choice < 102) {
        s->p = realloc_block(s->p, n);
    } else {
        free(s->p);
        int op = (choice < 102 + 154 && n <= 4096) ? OP_CALLOC : OP_MALLOC;
        s->p = alloc_deep(n, op, (unsigned)(r >> 40));
    }
    s->size = n;
    w->bytes += n;
    w->allocs++;
}

static double cpu_s(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    slot *slots = calloc(w->live, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "bench-workload: cannot allocate the live set\n");
        exit(1);
    }
    uint64_t rng = w->seed;
    /* Warm-up: fill the live set once (not timed, not counted). */
    for (unsigned i = 0; i < w->live; i++) {
        size_t n = pick_size(rng_next(&rng));
        slots[i].p = alloc_deep(n, OP_MALLOC, (unsigned)i);
        slots[i].size = n;
    }
    pthread_barrier_wait(w->start);
    double c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (uint64_t it = 0; it < w->iters; it++) {
        /* The slot index comes from its own draw so it is independent of
         * the size. */
        unsigned k = (unsigned)(rng_next(&rng) % w->live);
        step(w, &slots[k], &rng);
    }
    w->cpu_s = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    pthread_barrier_wait(w->start);
    /* The live set stays allocated at exit, as in most programs: a
     * profiler's final dump shows it (and its own memory with it). */
    unsigned long sum = 0;
    for (unsigned i = 0; i < w->live; i++)
        sum += ((unsigned char *)slots[i].p)[0];
    w->checksum = sum;
    return NULL;
}


static void usage(FILE *f) {
    fprintf(f,
            "usage: bench-workload [-t threads] [-n iterations per thread] [-l live blocks per thread] [-s seed]\n"
            "  defaults: -t 1 -n 2000000 -l 4096 -s 1\n");
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    uint64_t threads = 1, iters = 2000000, live = 4096, seed = 1;
    int opt;
    while ((opt = getopt(argc, argv, "t:n:l:s:h")) != -1) {
        int bad = 0;
        switch (opt) {
        case 't': bad = parse_u64(optarg, 1, 256, &threads); break;
        case 'n': bad = parse_u64(optarg, 1, UINT64_MAX / 2, &iters); break;
        case 'l': bad = parse_u64(optarg, 1, 1u << 24, &live); break;
        case 's': bad = parse_u64(optarg, 0, UINT64_MAX, &seed); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "bench-workload: bad value for -%c: %s\n", opt, optarg);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    pthread_barrier_t barrier;
    /* The main thread joins the barrier to time exactly the parallel phase. */
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    worker *ws = calloc(threads, sizeof *ws);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!ws || !tids) {
        fprintf(stderr, "bench-workload: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < threads; i++) {
        ws[i] = (worker){.id = (unsigned)i, .live = (unsigned)live, .iters = iters,
                         .seed = seed * 0x100000001B3ull + i, .start = &barrier};
        int err = pthread_create(&tids[i], NULL, worker_main, &ws[i]);
        if (err) {
            fprintf(stderr, "bench-workload: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    pthread_barrier_wait(&barrier); /* every live set is full */
    double t0 = cpu_s(CLOCK_MONOTONIC), p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    pthread_barrier_wait(&barrier); /* every thread finished its iterations */
    double t1 = cpu_s(CLOCK_MONOTONIC), p1 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t bytes = 0, allocs = 0;
    double thread_cpu = 0;
    unsigned long sum = 0;
    for (uint64_t i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        bytes += ws[i].bytes;
        allocs += ws[i].allocs;
        sum += ws[i].checksum;
        thread_cpu += ws[i].cpu_s;
    }
    pthread_barrier_destroy(&barrier);
    free(ws);
    free(tids);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double n_total = (double)iters * (double)threads;
    printf("threads=%llu iters=%llu ns_per_iter=%.2f app_cpu_ns=%.2f proc_cpu_ns=%.2f wall_s=%.4f maxrss_kib=%ld "
           "mean_size=%.0f checksum=%lu\n",
           (unsigned long long)threads, (unsigned long long)iters, (t1 - t0) * 1e9 / (double)iters,
           thread_cpu * 1e9 / n_total, (p1 - p0) * 1e9 / n_total, t1 - t0, ru.ru_maxrss,
           allocs ? (double)bytes / (double)allocs : 0.0, sum);
    return 0;
}
