/* Many distinct stacks (issue 12, "memory per stack"): a call tree of depth
 * BITS whose every level goes through one of two distinct functions, so the
 * 2^BITS leaves are 2^BITS distinct stacks that share their outer frames
 * (like espresso's 228,000 at RATE=1). Each leaf allocates and frees once.
 *
 *   bench-stacks [BITS, default 18]
 *
 * Profile comments give profile_bytes and stacks: bytes per distinct stack. */
#include <stdlib.h>

static void *volatile sink;
static void level_a(int bits);
static void level_b(int bits);

__attribute__((noinline)) static void leaf(void) {
    sink = malloc(24);
    free(sink);
}

static void branch(int bits) {
    if (bits == 0) {
        leaf();
        return;
    }
    level_a(bits - 1);
    level_b(bits - 1);
}

__attribute__((noinline)) static void level_a(int bits) {
    branch(bits);
    __asm__ volatile("" ::: "memory"); /* not a tail call: one frame per level */
}

__attribute__((noinline)) static void level_b(int bits) {
    branch(bits);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
    int bits = argc > 1 ? atoi(argv[1]) : 18;
    if (bits < 1 || bits > 24)
        bits = 18;
    branch(bits);
    return 0;
}
