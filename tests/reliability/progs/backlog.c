/* A flusher that cannot keep up, made certain: the allocating work runs inside
 * a dl_iterate_phdr callback, holding the loader lock that heapprof's flusher
 * takes (once per interval) to look at the loaded objects. So the flusher is
 * stuck while N blocks are allocated and freed (pairs, and some freed by a
 * second thread: cross-ring frees). Prints how much the process's resident
 * memory grew during the burst (the program's own blocks are all freed), and
 * truth lines for the blocks kept live:  "backlog_live <count> <bytes>". */
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long n_pairs = 300000;
#define KEEP 1000
static void *kept[KEEP];
static void *volatile handoff[64];

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

__attribute__((noinline)) static void *backlog_alloc(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *backlog_keep(size_t n) { return malloc(n); }

static void *freer(void *arg) {
    (void)arg;
    for (int i = 0; i < 64; i++)
        free(handoff[i]);
    return NULL;
}

static int burst(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info;
    (void)size;
    long *grew = data;
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL); /* the flusher reaches dl_iterate_phdr and waits */
    long before = rss_kib();
    for (int i = 0; i < 64; i++) /* sampled before the backlog is full; freed by another thread */
        handoff[i] = backlog_alloc(64);
    for (long i = 0; i < n_pairs; i++)
        free(backlog_alloc(16 + (size_t)(i & 127)));
    pthread_t t;
    pthread_create(&t, NULL, freer, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < KEEP; i++)
        kept[i] = backlog_keep(100);
    *grew = rss_kib() - before;
    return 1; /* the first object is enough */
}

int main(int argc, char **argv) {
    if (argc > 1)
        n_pairs = atol(argv[1]);
    long grew = 0;
    dl_iterate_phdr(burst, &grew);
    printf("backlog_rss_growth_kib %ld\n", grew);
    printf("backlog_live %d %d\n", KEEP, KEEP * 100);
    return 0;
}
