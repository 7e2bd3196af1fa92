/* waiter STOPFILE [STATUS]: allocates a little every 10 ms (blocks kept in a
 * ring of 64, in waiter_work) until STOPFILE exists (or 60 s), then prints
 * how many rounds it ran and exits with STATUS (default 0). For the fault
 * tests: the host must run on while the profiler cannot write. */
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

static void *ring[64];

__attribute__((noinline)) static void waiter_work(unsigned i)
{
    free(ring[i % 64]);
    ring[i % 64] = xmalloc_check(malloc(1000 + (i % 64) * 100), "waiter_work");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: waiter STOPFILE [STATUS]\n");
        return 2;
    }
    unsigned i = 0;
    printf("waiter started\n");
    fflush(stdout);
    for (; i < 6000 && access(argv[1], F_OK) != 0; i++) {
        waiter_work(i);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("waiter stopped %s\n", i < 6000 ? "on request" : "on timeout");
    return argc > 2 ? atoi(argv[2]) : 0;
}
