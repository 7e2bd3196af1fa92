/* dl PLUGIN CYCLES: dlopen the plugin, call its plugin_alloc (blocks kept),
 * dlclose it; CYCLES times. Every other block is freed after the plugin is
 * gone. Prints the truth for plugin_alloc. */
#include <dlfcn.h>

#include "e2e_prog.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dl PLUGIN CYCLES\n");
        return 2;
    }
    int cycles = atoi(argv[2]);
    struct truth t = {"plugin_alloc", 0, 0, 0, 0};
    void **blocks = xmalloc_check(calloc((size_t)cycles * 4, sizeof *blocks), "main");
    int nb = 0;
    for (int c = 0; c < cycles; c++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        void *(*fn)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_alloc");
        if (!fn) {
            fprintf(stderr, "dlsym: %s\n", dlerror());
            return 1;
        }
        for (int i = 0; i < 4; i++) {
            size_t n = 1000 + (size_t)(c * 4 + i) * 10;
            blocks[nb++] = xmalloc_check(fn(n), "plugin_alloc");
            truth_alloc(&t, n);
        }
        if (dlclose(h) != 0) {
            fprintf(stderr, "dlclose: %s\n", dlerror());
            return 1;
        }
    }
    for (int i = 0; i < nb; i += 2) {
        free(blocks[i]);
        truth_free(&t, 1000 + (size_t)i * 10);
    }
    truth_print(&t);
    printf("cycles %d\n", cycles);
    return 0;
}
