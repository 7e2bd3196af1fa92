/* 2400 short-lived threads, 64 at a time at most; half are joined, half are
 * detached. Each thread frees what thread_churn allocates (10 x 1000 B) and
 * leaves one 4000 B block from thread_keep in a global table, so at
 * HEAPPROF_RATE=1 the profile must hold exactly 2400 thread_keep objects and
 * no thread_churn ones, even though every thread (and its ring) is gone. */
#include <pthread.h>
#include <string.h>

#include "e2e_prog.h"

#define NTHREADS 2400
#define BATCH 64

static void *kept[NTHREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int detached_running;

__attribute__((noinline)) static void thread_churn(void)
{
    void *p[10];
    for (int i = 0; i < 10; i++) {
        p[i] = xmalloc_check(malloc(1000), "thread_churn");
        memset(p[i], i, 1000);
    }
    for (int i = 0; i < 10; i++)
        free(p[i]);
}

__attribute__((noinline)) static void *thread_keep(void)
{
    return xmalloc_check(malloc(4000), "thread_keep");
}

static void *worker(void *arg)
{
    long i = (long)arg;
    thread_churn();
    kept[i] = thread_keep();
    if (i % 2) { /* detached: tell main we are done */
        pthread_mutex_lock(&lock);
        detached_running--;
        pthread_cond_signal(&done_cond);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(void)
{
    pthread_t joinable[BATCH];
    for (long base = 0; base < NTHREADS; base += BATCH) {
        int nj = 0;
        for (long i = base; i < base + BATCH && i < NTHREADS; i++) {
            pthread_t t;
            if (i % 2) {
                pthread_mutex_lock(&lock);
                detached_running++;
                pthread_mutex_unlock(&lock);
            }
            if (pthread_create(&t, NULL, worker, (void *)i) != 0) {
                fprintf(stderr, "pthread_create failed at thread %ld\n", i);
                return 1;
            }
            if (i % 2)
                pthread_detach(t);
            else
                joinable[nj++] = t;
        }
        for (int j = 0; j < nj; j++)
            pthread_join(joinable[j], NULL);
    }
    pthread_mutex_lock(&lock);
    while (detached_running > 0)
        pthread_cond_wait(&done_cond, &lock);
    pthread_mutex_unlock(&lock);

    for (long i = 0; i < NTHREADS; i++)
        if (kept[i] == NULL)
            return 1;
    struct truth keep = {"thread_keep", NTHREADS, NTHREADS * 4000ull, NTHREADS, NTHREADS * 4000ull};
    struct truth churn = {"thread_churn", NTHREADS * 10ull, NTHREADS * 10000ull, 0, 0};
    truth_print(&keep);
    truth_print(&churn);
    return 0;
}
