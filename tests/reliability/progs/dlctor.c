/* dlctor PLUGIN CYCLES: builds a profile of many distinct stacks (so each
 * dump takes a while), then dlopen()s and dlclose()s PLUGIN CYCLES times;
 * the plugin's constructor asks for a dump and forks while the flusher is
 * dumping (run with a short HEAPPROF_INTERVAL). Prints "done CYCLES". */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* 2^LEVELS distinct call stacks: each level calls on through one of two call sites. */
#define LEVELS 15
static void **blocks;
static size_t nblocks;

__attribute__((noinline)) static void grow(unsigned level, unsigned bits);
__attribute__((noinline)) static void left(unsigned level, unsigned bits) { grow(level + 1, bits >> 1); }
__attribute__((noinline)) static void right(unsigned level, unsigned bits) { grow(level + 1, bits >> 1); }
__attribute__((noinline)) static void grow(unsigned level, unsigned bits)
{
    if (level == LEVELS) {
        blocks[nblocks++] = malloc(16);
        return;
    }
    if (bits & 1)
        left(level, bits);
    else
        right(level, bits);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dlctor PLUGIN CYCLES\n");
        return 2;
    }
    int cycles = atoi(argv[2]);
    blocks = calloc(1u << LEVELS, sizeof *blocks);
    for (unsigned b = 0; b < 1u << LEVELS; b++)
        grow(0, b);
    for (int c = 0; c < cycles; c++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        void *(*fn)(size_t) = (void *(*)(size_t))dlsym(h, "ctor_plugin_alloc");
        if (fn)
            free(fn(100));
        dlclose(h);
    }
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    free(blocks);
    printf("done %d\n", cycles);
    return 0;
}
