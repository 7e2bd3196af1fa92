/* A service whose allocations come in phases, driven by commands on stdin
 * (one per line), so a test can change heapprof's rate between phases:
 *   early MIB   keep MIB MiB in 4 KiB blocks from early_blocks()
 *   late MIB    the same from late_blocks()
 *   free_late   free every late block
 *   exit        exit 0
 * After each command it prints "done CMD" (flushed), so the test knows it ran. */
#include <string.h>
#include <unistd.h>

#include "e2e_prog.h"

#define BLOCK 4096
#define MAX_BLOCKS (256 * 256) /* 256 MiB */

static void *early[MAX_BLOCKS], *late[MAX_BLOCKS];
static size_t n_early, n_late;

__attribute__((noinline)) static void early_blocks(size_t mib)
{
    for (size_t i = 0; i < mib * 256 && n_early < MAX_BLOCKS; i++)
        early[n_early++] = xmalloc_check(malloc(BLOCK), "early_blocks");
}

__attribute__((noinline)) static void late_blocks(size_t mib)
{
    for (size_t i = 0; i < mib * 256 && n_late < MAX_BLOCKS; i++)
        late[n_late++] = xmalloc_check(malloc(BLOCK), "late_blocks");
}

int main(void)
{
    char line[128];
    printf("phases: pid %d\n", (int)getpid());
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        size_t mib = 0;
        if (sscanf(line, "early %zu", &mib) == 1)
            early_blocks(mib);
        else if (sscanf(line, "late %zu", &mib) == 1)
            late_blocks(mib);
        else if (strncmp(line, "free_late", 9) == 0) {
            while (n_late)
                free(late[--n_late]);
        } else if (strncmp(line, "exit", 4) == 0) {
            printf("done exit\n");
            return 0;
        }
        line[strcspn(line, "\n")] = 0;
        printf("done %s\n", line);
        fflush(stdout);
    }
    KEEP(early);
    return 0;
}
