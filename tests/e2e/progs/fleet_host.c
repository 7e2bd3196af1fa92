/* Host program for the fleet tests (Prometheus scrapes, /allocs, build ids).
 *   usage: fleet_host CTL_DIR KEEP_MIB CHURN
 *   kept_blocks   KEEP_MIB MiB in 64 KiB blocks at start, kept: a stable
 *                 in-use heap, different per process
 *   then prints "ready" and, with CHURN=1, allocates and frees 1 MiB in
 *   4 KiB blocks (one at a time) every 10 ms (churn_blocks: the allocation rate goes up,
 *   the in-use heap stays put); with CHURN=0 it only sleeps (no allocation)
 *   CTL_DIR/stop  exit 0 (at the latest after 120 s) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

__attribute__((noinline)) static void *kept_blocks(void)
{
    return memset(xmalloc_check(malloc(64 << 10), "kept_blocks"), 1, 64 << 10);
}

/* Each block is freed at once: at most one is live, so the in-use heap
 * stays at the kept blocks (plus at most one sample's weight). */
__attribute__((noinline)) static void churn_blocks(void)
{
    for (int i = 0; i < 256; i++)
        free(KEEP(memset(xmalloc_check(malloc(4096), "churn_blocks"), 2, 4096)));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fleet_host CTL_DIR KEEP_MIB CHURN\n");
        return 2;
    }
    char stop[4200];
    snprintf(stop, sizeof stop, "%s/stop", argv[1]);
    int keep_mib = atoi(argv[2]), churn = atoi(argv[3]);
    for (int i = 0; i < keep_mib * 16; i++)
        KEEP(kept_blocks());
    printf("ready\n");
    fflush(stdout);
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 12000 && access(stop, F_OK) != 0; i++) {
        if (churn)
            churn_blocks();
        nanosleep(&tick, NULL);
    }
    return 0;
}
