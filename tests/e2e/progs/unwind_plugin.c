/* The dlopen'ed plugin of unwind_diff.c: allocates itself and calls back
 * into the program, so stacks cross the plugin in both directions. */
#include <stdlib.h>

__attribute__((noinline)) static void *plugin_alloc(size_t n) {
    void *p = malloc(n);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

__attribute__((visibility("default"))) int plugin_run(int (*callback)(int), int n) {
    free(plugin_alloc((size_t)n));
    return callback(n);
}
