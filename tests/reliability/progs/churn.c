/* churn THREADS OPS MODE   (MODE: all | keep)
 * THREADS workers each do OPS random operations on their own list of blocks:
 * malloc (churn_alloc), calloc (churn_calloc), realloc (churn_grow: the block
 * then belongs to churn_grow), free, hand a block to a shared mailbox, or take
 * one from it and free it (a cross-thread free). Sizes are 32..8192 bytes
 * (so each sample's weight at rate 1 is exactly 1).
 * At the end the mailbox is emptied and freed by main; in "all" mode every
 * block is freed, in "keep" mode each worker keeps what is left in its list.
 * Prints the exact truth per function: in use at the end and allocated. */
#include <pthread.h>
#include <string.h>

#include "e2e_prog.h"

enum { F_ALLOC, F_CALLOC, F_GROW, NF };
static const char *fname[NF] = {"churn_alloc", "churn_calloc", "churn_grow"};

struct block {
    void *p;
    size_t size;
    int fn;
};

#define LIST 256
#define MAILBOX 1024
static struct block mailbox[MAILBOX];
static int mail_n;
static pthread_mutex_t mail_lock = PTHREAD_MUTEX_INITIALIZER;

struct worker {
    pthread_t th;
    int id;
    long ops;
    struct block list[LIST];
    int n;
    /* allocations made, per function: count and bytes */
    uint64_t allocs[NF], bytes[NF];
};

__attribute__((noinline)) static void *churn_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *churn_calloc(size_t n) { return calloc(1, n); }
__attribute__((noinline)) static void *churn_grow(void *p, size_t n) { return realloc(p, n); }

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    for (long i = 0; i < w->ops; i++) {
        unsigned op = (unsigned)(lcg_next(&rng) % 100);
        size_t size = mixed_size(&rng, 32, 8192);
        if ((op < 35 && w->n < LIST) || w->n == 0) {
            int fn = op % 5 == 0 ? F_CALLOC : F_ALLOC;
            void *p = xmalloc_check(fn == F_CALLOC ? churn_calloc(size) : churn_alloc(size), "churn");
            memset(p, 0x5a, size < 64 ? size : 64);
            w->list[w->n++] = (struct block){p, size, fn};
            w->allocs[fn]++;
            w->bytes[fn] += size;
        } else if (op < 50) {
            struct block *b = &w->list[lcg_next(&rng) % (uint64_t)w->n];
            b->p = xmalloc_check(churn_grow(b->p, size), "churn_grow");
            b->size = size;
            b->fn = F_GROW;
            w->allocs[F_GROW]++;
            w->bytes[F_GROW] += size;
        } else if (op < 70) {
            int k = (int)(lcg_next(&rng) % (uint64_t)w->n);
            free(w->list[k].p);
            w->list[k] = w->list[--w->n];
        } else if (op < 85) {
            int k = (int)(lcg_next(&rng) % (uint64_t)w->n);
            pthread_mutex_lock(&mail_lock);
            if (mail_n < MAILBOX) {
                mailbox[mail_n++] = w->list[k];
                w->list[k] = w->list[--w->n];
            }
            pthread_mutex_unlock(&mail_lock);
        } else {
            struct block b = {0, 0, 0};
            pthread_mutex_lock(&mail_lock);
            if (mail_n > 0)
                b = mailbox[--mail_n];
            pthread_mutex_unlock(&mail_lock);
            free(b.p); /* most likely another thread's block */
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: churn THREADS OPS all|keep\n");
        return 2;
    }
    int nt = atoi(argv[1]);
    long ops = atol(argv[2]);
    int keep = !strcmp(argv[3], "keep");
    struct worker *w = xmalloc_check(calloc((size_t)nt, sizeof *w), "main");
    for (int i = 0; i < nt; i++) {
        w[i].id = i;
        w[i].ops = ops;
        pthread_create(&w[i].th, NULL, work, &w[i]);
    }
    for (int i = 0; i < nt; i++)
        pthread_join(w[i].th, NULL);
    for (int i = 0; i < mail_n; i++)
        free(mailbox[i].p);
    mail_n = 0;
    struct truth t[NF];
    for (int f = 0; f < NF; f++)
        t[f] = (struct truth){fname[f], 0, 0, 0, 0};
    for (int i = 0; i < nt; i++) {
        for (int f = 0; f < NF; f++) {
            t[f].alloc_objects += w[i].allocs[f];
            t[f].alloc_space += w[i].bytes[f];
        }
        for (int k = 0; k < w[i].n; k++) {
            if (keep) {
                t[w[i].list[k].fn].inuse_objects++;
                t[w[i].list[k].fn].inuse_space += w[i].list[k].size;
            } else {
                free(w[i].list[k].p);
            }
        }
    }
    for (int f = 0; f < NF; f++)
        truth_print(&t[f]);
    free(w); /* in keep mode the blocks stay referenced by nothing: known leaks */
    return 0;
}
