/* Linked against libheapprof.so (not preloaded) so that a setuid-root copy of
 * it still loads the profiler: allocates a little, asks for sampling at every
 * byte (heapprof_set_rate(1): must not turn on a profiler heapprof turned off),
 * allocates again, prints its ids. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "heapprof.h"

static void *volatile sink;

__attribute__((noinline)) static void suid_work(void)
{
    for (int i = 0; i < 100; i++)
        sink = malloc(10000);
}

int main(void)
{
    suid_work();
    heapprof_set_rate(1);
    suid_work();
    printf("uid %d euid %d\n", (int)getuid(), (int)geteuid());
    return 0;
}
