#include "export/cxx_names.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal_alloc.h"

int hp_cxx_is_allocation_wrapper(const char *symbol) {
    return symbol && (strncmp(symbol, "_Znwm", 5) == 0 || strncmp(symbol, "_Znam", 5) == 0);
}

int hp_cxx_is_mangled(const char *symbol) { return symbol && strncmp(symbol, "_Z", 2) == 0; }

typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

/* Looked up once, at start-up (hp_demangler_setup), never while encoding:
 * dlsym takes the loader lock, and a thread inside dlopen holds it while a
 * library constructor runs; if that constructor forks or asks for a dump it
 * waits for heapprof, which must then never wait for the loader. Relaxed: a
 * function pointer, read alone. */
static _Atomic(demangle_fn) program_demangler;

void hp_demangler_setup(void) {
    /* Only if the program has libstdc++ loaded at start-up (a program with
     * C++ symbols does). One loaded later by dlopen is not looked for: the
     * names stay mangled and pprof demangles them itself. */
    demangle_fn fn = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
    atomic_store_explicit(&program_demangler, fn, memory_order_relaxed);
}

void hp_demangler_init(hp_demangler *d) {
    memset(d, 0, sizeof *d);
    d->demangle = atomic_load_explicit(&program_demangler, memory_order_relaxed);
}

const char *hp_demangle(hp_demangler *d, const char *symbol) {
    if (!d->demangle || !hp_cxx_is_mangled(symbol))
        return NULL;
    if (d->n % 64 == 0) {
        char **v = hp_realloc(d->texts, (d->n + 64) * sizeof *v);
        if (!v)
            return NULL;
        d->texts = v;
    }
    int status = -1;
    char *text = d->demangle(symbol, NULL, NULL, &status); /* malloc'd: ours is the flusher, unsampled */
    if (status != 0 || !text) {
        free(text);
        return NULL;
    }
    d->texts[d->n++] = text;
    return text;
}

void hp_demangler_release(hp_demangler *d) {
    for (size_t i = 0; i < d->n; i++)
        free(d->texts[i]);
    hp_free(d->texts);
    memset(d, 0, sizeof *d);
}
