/* A small, quiet program: prints a few fixed lines, allocates a little in
 * tiny_alloc and exits with the status given as its first argument (default 0).
 * Used to check that the library changes neither output nor exit status, and
 * by the heapprof command's own tests. With a second argument it also sleeps
 * that many milliseconds, so periodic dumps have time to happen. */
#include <time.h>

#include "e2e_prog.h"

__attribute__((noinline)) static void *tiny_alloc(size_t n)
{
    return xmalloc_check(malloc(n), "tiny_alloc");
}

int main(int argc, char **argv)
{
    static void *keep[100];
    for (int i = 0; i < 100; i++)
        keep[i] = tiny_alloc(1000 + (size_t)i * 100);
    KEEP(keep);
    printf("tiny: hello\ntiny: %d blocks kept\n", 100);
    if (argc > 2) {
        long ms = atol(argv[2]);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("tiny: bye\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
