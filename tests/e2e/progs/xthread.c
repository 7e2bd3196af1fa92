/* Two ways a block changes hands that a heap profiler must follow.
 *
 *   xthread  xt_produce allocates ~20 MiB on one thread and a consumer thread
 *            frees every block, while xt_keep (on the producing thread) keeps
 *            ~8 MiB: xt_produce must end with nothing in use.
 *   realloc  grow_chain grows 40 blocks 100 times each (2621 B per step, to
 *            262100 B): only the final blocks are in use, attributed to
 *            grow_chain, the caller of realloc. */
#include <pthread.h>
#include <string.h>

#include "e2e_prog.h"

#define MiB (1024u * 1024u)

static struct truth tp = {"xt_produce", 0, 0, 0, 0};
static struct truth tk = {"xt_keep", 0, 0, 0, 0};
static struct truth tg = {"grow_chain", 0, 0, 0, 0};

/* A small blocking queue from producer to consumer. */
#define QCAP 256
static void *queue[QCAP];
static size_t qsize[QCAP];
static size_t qhead, qtail;
static int qdone;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;

static void qpush(void *p, size_t n)
{
    pthread_mutex_lock(&qlock);
    while (qtail - qhead == QCAP)
        pthread_cond_wait(&qcond, &qlock);
    queue[qtail % QCAP] = p;
    qsize[qtail % QCAP] = n;
    qtail++;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
}

static void *consumer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&qlock);
    for (;;) {
        while (qhead == qtail && !qdone)
            pthread_cond_wait(&qcond, &qlock);
        if (qhead == qtail)
            break;
        void *p = queue[qhead % QCAP];
        size_t n = qsize[qhead % QCAP];
        qhead++;
        truth_free(&tp, n);
        pthread_cond_broadcast(&qcond);
        pthread_mutex_unlock(&qlock);
        free(p); /* the cross-thread free */
        pthread_mutex_lock(&qlock);
    }
    pthread_mutex_unlock(&qlock);
    return NULL;
}

__attribute__((noinline)) static void *xt_produce(uint64_t *rng)
{
    size_t n = mixed_size(rng, 1024, 64 * 1024);
    char *p = xmalloc_check(malloc(n), "xt_produce");
    memset(p, 0x5a, n);
    return p;
}

__attribute__((noinline)) static void *xt_keep(uint64_t *rng)
{
    size_t n = mixed_size(rng, 16 * 1024, 512 * 1024);
    char *p = xmalloc_check(malloc(n), "xt_keep");
    p[0] = 1;
    truth_alloc(&tk, n);
    return p;
}

static void *producer(void *arg)
{
    uint64_t rng = 7;
    (void)arg;
    while (tp.alloc_space < 20 * MiB) {
        uint64_t peek = rng;
        size_t n = mixed_size(&peek, 1024, 64 * 1024); /* the size xt_produce will pick */
        void *p = xt_produce(&rng);
        pthread_mutex_lock(&qlock);
        tp.alloc_objects++;
        tp.alloc_space += n;
        tp.inuse_objects++;
        tp.inuse_space += n;
        pthread_mutex_unlock(&qlock);
        qpush(p, n);
        if (tk.alloc_space < 8 * MiB && (tp.alloc_objects % 8) == 0)
            KEEP(xt_keep(&rng));
    }
    while (tk.alloc_space < 8 * MiB)
        KEEP(xt_keep(&rng));
    return NULL;
}

static int run_xthread(void)
{
    pthread_t prod, cons;
    if (pthread_create(&cons, NULL, consumer, NULL) != 0 ||
        pthread_create(&prod, NULL, producer, NULL) != 0)
        return 1;
    pthread_join(prod, NULL);
    pthread_mutex_lock(&qlock);
    qdone = 1;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
    pthread_join(cons, NULL);
    truth_print(&tp);
    truth_print(&tk);
    return 0;
}

/* Grows one block step by step; the caller of realloc is grow_chain. */
__attribute__((noinline)) static void *grow_chain(size_t step, int steps)
{
    char *p = NULL;
    for (int i = 1; i <= steps; i++) {
        size_t n = step * (size_t)i;
        p = xmalloc_check(realloc(p, n), "grow_chain");
        p[n - 1] = (char)i;
        /* realloc = the old block freed + a new one allocated */
        if (i > 1)
            truth_free(&tg, n - step);
        truth_alloc(&tg, n);
    }
    return p;
}

static int run_realloc(void)
{
    void *blocks[40];
    for (int i = 0; i < 40; i++)
        blocks[i] = grow_chain(2621, 100);
    KEEP(blocks);
    truth_print(&tg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "xthread") == 0)
        return run_xthread();
    if (argc == 2 && strcmp(argv[1], "realloc") == 0)
        return run_realloc();
    fputs("usage: xthread xthread|realloc\n", stderr);
    return 2;
}
