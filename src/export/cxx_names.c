#include "export/cxx_names.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal_alloc.h"

int hp_cxx_is_allocation_wrapper(const char *symbol) {
    return symbol && (strncmp(symbol, "_Znwm", 5) == 0 || strncmp(symbol, "_Znam", 5) == 0);
}

int hp_cxx_is_mangled(const char *symbol) { return symbol && strncmp(symbol, "_Z", 2) == 0; }

void hp_demangler_init(hp_demangler *d) {
    memset(d, 0, sizeof *d);
    /* Only if the program already loaded libstdc++ (a program with C++
     * symbols did). */
    d->demangle = (char *(*)(const char *, char *, size_t *, int *))dlsym(RTLD_DEFAULT, "__cxa_demangle");
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
