/* Thread life: threads MODE
 *   many     10,000 short threads (batches of 50; half joined, half
 *            detached): each allocates and frees in thread_churn and keeps one
 *            block from thread_keep; main frees every other kept block
 *   orphan   8 threads each allocate 500 blocks in orphan_alloc and exit
 *            holding them; a reaper thread frees half of them while the
 *            owners are still exiting, the rest after they were joined
 *   cancel   8 threads allocate and free in a loop with a cancellation point
 *            (cleanup handlers free the block in flight) and keep one block
 *            each; main cancels them all
 *   exitrace 6 threads allocate in a loop, then all call exit(7) at once
 *   _exit    4 threads allocate in a loop; main calls _exit(5)
 *   abort    4 threads allocate in a loop; once a periodic dump has been
 *            written (so the check of "complete files only" has files to
 *            look at, however loaded the machine), main calls abort() while
 *            the next dump is likely in flight
 * Prints "truth" lines. */
#include <dirent.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- many ---- */
#define MANY 10000
#define BATCH 50
static void *kept[MANY];
static atomic_int detached_left;

__attribute__((noinline)) static void thread_churn(void)
{
    void *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = xmalloc_check(malloc(200 + i), "thread_churn");
    for (int i = 0; i < 4; i++)
        free(p[i]);
}

__attribute__((noinline)) static void *thread_keep(void) { return xmalloc_check(malloc(1000), "thread_keep"); }

static void *many_worker(void *arg)
{
    long i = (long)arg;
    thread_churn();
    kept[i] = thread_keep();
    if (i % 2)
        atomic_fetch_sub(&detached_left, 1);
    return NULL;
}

static int run_many(void)
{
    struct truth churn = {"thread_churn", 0, 0, 0, 0}, keep = {"thread_keep", 0, 0, 0, 0};
    pthread_t t[BATCH];
    for (long base = 0; base < MANY; base += BATCH) {
        int nj = 0;
        for (long i = base; i < base + BATCH; i++) {
            pthread_t th;
            if (i % 2)
                atomic_fetch_add(&detached_left, 1);
            if (pthread_create(&th, NULL, many_worker, (void *)i) != 0) {
                fprintf(stderr, "pthread_create failed at %ld\n", i);
                return 1;
            }
            if (i % 2)
                pthread_detach(th);
            else
                t[nj++] = th;
        }
        for (int j = 0; j < nj; j++)
            pthread_join(t[j], NULL);
    }
    while (atomic_load(&detached_left) > 0)
        sleep_ms(1);
    for (long i = 0; i < MANY; i++) {
        for (int k = 0; k < 4; k++)
            truth_alloc(&churn, 200 + k), truth_free(&churn, 200 + k);
        truth_alloc(&keep, 1000);
        if (i % 2 == 0) {
            free(kept[i]);
            truth_free(&keep, 1000);
        }
    }
    truth_print(&churn);
    truth_print(&keep);
    return 0;
}

/* ---- orphan ---- */
#define OWNERS 8
#define PER 500
static void *orphan[OWNERS][PER];
static atomic_int owners_done;

__attribute__((noinline)) static void *orphan_alloc(size_t n) { return xmalloc_check(malloc(n), "orphan_alloc"); }

static void *owner(void *arg)
{
    long o = (long)arg;
    for (int i = 0; i < PER; i++)
        orphan[o][i] = orphan_alloc(64 + (size_t)(o * PER + i) % 1000);
    atomic_fetch_add(&owners_done, 1); /* the thread now exits, still "holding" its blocks */
    return NULL;
}

static void *reaper(void *arg)
{
    int half = (int)(long)arg;
    for (int o = 0; o < OWNERS; o++)
        for (int i = half ? 0 : 1; i < PER; i += 2)
            free(orphan[o][i]);
    return NULL;
}

static int run_orphan(void)
{
    struct truth t = {"orphan_alloc", 0, 0, 0, 0};
    pthread_t th[OWNERS], r1, r2;
    for (long o = 0; o < OWNERS; o++)
        pthread_create(&th[o], NULL, owner, (void *)o);
    while (atomic_load(&owners_done) < OWNERS)
        ;
    /* The owners are exiting right now (their rings being released). */
    pthread_create(&r1, NULL, reaper, (void *)1L);
    pthread_join(r1, NULL);
    for (int o = 0; o < OWNERS; o++)
        pthread_join(th[o], NULL);
    sleep_ms(150); /* a flush in between */
    pthread_create(&r2, NULL, reaper, (void *)0L);
    pthread_join(r2, NULL);
    for (int o = 0; o < OWNERS; o++)
        for (int i = 0; i < PER; i++)
            truth_alloc(&t, 64 + (size_t)(o * PER + i) % 1000), truth_free(&t, 64 + (size_t)(o * PER + i) % 1000);
    truth_print(&t);
    return 0;
}

/* ---- cancel ---- */
#define CANCELS 8
static atomic_ullong cancel_allocs, cancel_bytes;
static void *cancel_kept[CANCELS];

__attribute__((noinline)) static void *cancel_work(size_t n) { return xmalloc_check(malloc(n), "cancel_work"); }
__attribute__((noinline)) static void *cancel_keep(void) { return xmalloc_check(malloc(3000), "cancel_keep"); }

static void cleanup_free(void *arg) { free(*(void **)arg); }

static void *canceled(void *arg)
{
    long k = (long)arg;
    cancel_kept[k] = cancel_keep();
    for (unsigned i = 0;; i++) {
        void *p = NULL;
        pthread_cleanup_push(cleanup_free, &p);
        size_t n = 100 + (i * 37 + (unsigned)k) % 2000;
        p = cancel_work(n);
        atomic_fetch_add(&cancel_allocs, 1);
        atomic_fetch_add(&cancel_bytes, n);
        memset(p, 1, n);
        if (i % 16 == 0)
            usleep(50); /* a cancellation point while holding p */
        pthread_testcancel();
        pthread_cleanup_pop(1);
    }
    return NULL;
}

static int run_cancel(void)
{
    pthread_t th[CANCELS];
    for (long k = 0; k < CANCELS; k++)
        pthread_create(&th[k], NULL, canceled, (void *)k);
    sleep_ms(200);
    for (int k = 0; k < CANCELS; k++)
        pthread_cancel(th[k]);
    for (int k = 0; k < CANCELS; k++) {
        void *ret;
        pthread_join(th[k], &ret);
        if (ret != PTHREAD_CANCELED) {
            fprintf(stderr, "thread %d was not canceled\n", k);
            return 1;
        }
    }
    struct truth w = {"cancel_work", atomic_load(&cancel_allocs), atomic_load(&cancel_bytes), 0, 0};
    struct truth kk = {"cancel_keep", 0, 0, 0, 0};
    for (int k = 0; k < CANCELS; k++)
        truth_alloc(&kk, 3000);
    truth_print(&w);
    truth_print(&kk);
    return 0;
}

/* ---- exit paths ---- */
static atomic_int go, ready;

__attribute__((noinline)) static void exit_churn(unsigned seed)
{
    void *p[16] = {0};
    for (unsigned i = 0;; i++) {
        unsigned j = (i * 7 + seed) % 16;
        free(p[j]);
        p[j] = malloc(16 + (i * 131 + seed) % 5000);
        if (i == 1000)
            atomic_fetch_add(&ready, 1);
        if (atomic_load_explicit(&go, memory_order_relaxed) == 1 && i % 64 == 0)
            break;
    }
}

static void *exiter(void *arg)
{
    exit_churn((unsigned)(long)arg);
    exit(7); /* every thread at once */
}

static void *churner(void *arg)
{
    for (;;)
        exit_churn((unsigned)(long)arg);
    return NULL;
}

/* Whether HEAPPROF_OUT's folder holds a finished profile of that prefix
 * (PREFIX.*.pb.gz; temporary files have another suffix). */
static int profile_written(void)
{
    const char *out = getenv("HEAPPROF_OUT");
    if (!out)
        return 1;
    char dir[4096], base[4096];
    snprintf(dir, sizeof dir, "%s", out);
    snprintf(base, sizeof base, "%s.", out);
    const char *prefix = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
    DIR *d = opendir(dirname(dir));
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = !strncmp(e->d_name, prefix, strlen(prefix)) && n > 6 &&
                !strcmp(e->d_name + n - 6, ".pb.gz");
    }
    closedir(d);
    return found;
}

static int run_exit_path(const char *mode)
{
    int n = !strcmp(mode, "exitrace") ? 6 : 4;
    for (long k = 0; k < n; k++) {
        pthread_t th;
        pthread_create(&th, NULL, !strcmp(mode, "exitrace") ? exiter : churner, (void *)k);
    }
    while (atomic_load(&ready) < n)
        sleep_ms(1);
    printf("threads running\n");
    fflush(stdout);
    sleep_ms(50);
    if (!strcmp(mode, "exitrace")) {
        atomic_store(&go, 1);
        exit(7);
    }
    if (!strcmp(mode, "_exit"))
        _exit(5);
    for (int waited = 0; !profile_written() && waited < 10000; waited += 5)
        sleep_ms(5);
    sleep_ms(7); /* into the next 10 ms dump */
    abort();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "many"))
        return run_many();
    if (!strcmp(mode, "orphan"))
        return run_orphan();
    if (!strcmp(mode, "cancel"))
        return run_cancel();
    if (!strcmp(mode, "exitrace") || !strcmp(mode, "_exit") || !strcmp(mode, "abort"))
        return run_exit_path(mode);
    fprintf(stderr, "usage: threads many|orphan|cancel|exitrace|_exit|abort\n");
    return 2;
}
