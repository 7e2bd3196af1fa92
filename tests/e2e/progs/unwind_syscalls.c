/* The strace check of test_unwind.sh: N sampled allocations (RATE=1) at a
 * depth of ~12 frames on the main thread, between two getppid() calls that
 * mark where the counting starts and ends. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void nest(int depth, long n) {
    if (depth > 0) {
        nest(depth - 1, n);
        __asm__ volatile("" ::: "memory");
        return;
    }
    for (long i = 0; i < n; i++) {
        sink = malloc(32 + (size_t)(i & 63));
        free(sink);
    }
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000;
    nest(10, 100); /* the thread's first samples: bounds learned, caches warm */
    syscall(SYS_getppid);
    nest(10, n);
    syscall(SYS_getppid);
    return 0;
}
