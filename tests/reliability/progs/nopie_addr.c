/* nopie_addr [own]: built without PIE and taking malloc's address, so the
 * program's `malloc` is a PLT stub with a canonical address (as in Debian's
 * python3): a lookup of "malloc" in the global scope finds the program, not
 * the allocator the stub jumps to. Allocates through that address.
 * Prints what it did; the test checks what heapprof says on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *(*volatile nopie_malloc)(size_t);

int main(void) {
    /* In code, not a data initialiser: -fno-pie makes this an absolute
     * address, the canonical PLT stub, not a dynamic relocation. */
    nopie_malloc = malloc;
    int kept = 0;
    for (int i = 0; i < 100; i++) {
        char *p = nopie_malloc(64 + (size_t)i);
        if (!p)
            return 3;
        memset(p, 1, 64);
        if (i % 2)
            free(p);
        else
            kept++;
    }
    printf("nopie_addr: %d blocks kept\n", kept);
    return 0;
}
