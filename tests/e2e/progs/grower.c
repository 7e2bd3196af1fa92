/* Grows steadily for ~3 s, then idles ~1 s without allocating anything.
 *   setup_once     4 x 1 MiB at start, kept (constant between dumps)
 *   grow_steadily  256 KiB every 50 ms, kept (~15 MiB over 3 s)
 * With HEAPPROF_INTERVAL=0.5 the periodic dumps must keep coming during the
 * idle second (the flusher runs on its own clock), and a -base diff of the
 * first and last dump must put grow_steadily on top. */
#include <string.h>
#include <time.h>

#include "e2e_prog.h"

__attribute__((noinline)) static void *setup_once(void)
{
    return memset(xmalloc_check(malloc(1 << 20), "setup_once"), 1, 1 << 20);
}

__attribute__((noinline)) static void *grow_steadily(void)
{
    return memset(xmalloc_check(malloc(256 << 10), "grow_steadily"), 2, 256 << 10);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void)
{
    static void *keep[128];
    int n = 0;
    for (int i = 0; i < 4; i++)
        keep[n++] = setup_once();
    for (int i = 0; i < 60; i++) {
        keep[n++] = grow_steadily();
        sleep_ms(50);
    }
    sleep_ms(1000);
    KEEP(keep);
    printf("grew %d blocks\n", n - 4);
    return 0;
}
