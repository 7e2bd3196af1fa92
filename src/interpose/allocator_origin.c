#include "interpose/allocator_origin.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "base/warn.h"

const void *hp_object_of(const void *fn) {
    Dl_info info;
    if (!fn || !dladdr(fn, &info))
        return NULL;
    return info.dli_fbase;
}

int hp_object_is_glibc(const void *base) {
    /* Looked up after this library (RTLD_NEXT), not taken from our own GOT:
     * in a program built without PIE that takes the function's address, that
     * would be the program's PLT stub. Only libc.so.6 defines it, and no
     * allocator does. dlsym of a name that exists allocates nothing. */
    const void *libc = hp_object_of(dlsym(RTLD_NEXT, "gnu_get_libc_version"));
    return base && libc && base == libc;
}

/* A pointer from an object's dynamic section. glibc rewrites these in
 * place to absolute addresses when the section is writable (x86-64); a
 * read-only one (the vDSO's) keeps offsets from the load address. */
static const void *dyn_ptr(const struct link_map *l, ElfW(Addr) p) {
    return (const void *)(p < l->l_addr ? p + l->l_addr : p);
}

/* A symbol `name` that l defines (ELF64_ST_BIND is ELF32_ST_BIND too). */
static int is_definition(const ElfW(Sym) *s, const char *strtab, const char *name) {
    return s->st_shndx != SHN_UNDEF && s->st_value != 0 && ELF64_ST_BIND(s->st_info) != STB_LOCAL &&
           strcmp(strtab + s->st_name, name) == 0;
}

/* In a GNU hash table (the default of every current toolchain). */
static int gnu_defines(const uint32_t *gnu, const ElfW(Sym) *symtab, const char *strtab, const char *name) {
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = h * 33 + *c;
    uint32_t nbuckets = gnu[0], symoffset = gnu[1], bloom_words = gnu[2];
    if (nbuckets == 0)
        return 0;
    const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(gnu + 4) + bloom_words);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset)
        return 0;
    for (;; i++) {
        uint32_t h2 = chain[i - symoffset];
        if ((h | 1) == (h2 | 1) && is_definition(&symtab[i], strtab, name))
            return 1;
        if (h2 & 1)
            return 0;
    }
}

/* In a SysV hash table (--hash-style=sysv). */
static int sysv_defines(const uint32_t *sysv, const ElfW(Sym) *symtab, const char *strtab, const char *name) {
    uint32_t h = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h = (h << 4) + *c;
        uint32_t g = h & 0xf0000000u;
        h ^= g >> 24;
        h &= ~g;
    }
    uint32_t nbucket = sysv[0], nchain = sysv[1];
    if (nbucket == 0)
        return 0;
    const uint32_t *bucket = sysv + 2, *chain = bucket + nbucket;
    for (uint32_t i = bucket[h % nbucket], n = 0; i != STN_UNDEF && i < nchain && n < nchain; i = chain[i], n++)
        if (is_definition(&symtab[i], strtab, name))
            return 1;
    return 0;
}

/* 1 when the object l itself defines `name` (not merely refers to it), read
 * from its dynamic symbol table; -1 when it cannot be told. Not dlsym: a
 * lookup in one preloaded object needs a dlopen handle (its search list is
 * only built by dlopen), and the lookup in the global scope returns the
 * canonical address of an undefined symbol, the PLT stub of a program built
 * without PIE that takes malloc's address (python3 on Debian). */
static int defines(const struct link_map *l, const char *name) {
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *gnu = NULL, *sysv = NULL;
    for (const ElfW(Dyn) *d = l->l_ld; d && d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_SYMTAB)
            symtab = dyn_ptr(l, d->d_un.d_ptr);
        else if (d->d_tag == DT_STRTAB)
            strtab = dyn_ptr(l, d->d_un.d_ptr);
        else if (d->d_tag == DT_GNU_HASH)
            gnu = dyn_ptr(l, d->d_un.d_ptr);
        else if (d->d_tag == DT_HASH)
            sysv = dyn_ptr(l, d->d_un.d_ptr);
    }
    if (!symtab || !strtab)
        return -1;
    if (gnu)
        return gnu_defines(gnu, symtab, strtab, name);
    if (sysv)
        return sysv_defines(sysv, symtab, strtab, name);
    return -1;
}

static int is_vdso(const struct link_map *l) {
    unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
    return (ehdr && l->l_addr == ehdr) || (l->l_name && strncmp(l->l_name, "linux-", 6) == 0);
}

/* The object whose malloc the program calls: the first, in the order of the
 * global scope, that defines it. 1 = this library, 2 = another object (its
 * link_map in *who), 0 = cannot tell. Only the objects before this library
 * are read: the program, the vDSO (skipped) and what was preloaded before
 * us. The list cannot change meanwhile: this runs in our constructor, at
 * start-up before the program runs, or inside the dlopen that loaded us,
 * which holds the loader lock. */
static int malloc_definer(const struct link_map **who) {
    Dl_info mine;
    struct link_map *self = NULL;
    /* hp_object_of is hidden: its address is in this library. */
    if (!dladdr1((const void *)hp_object_of, &mine, (void **)&self, RTLD_DL_LINKMAP) || !self)
        return 0;
    for (const struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
        if (l == self)
            return 1;
        if (is_vdso(l))
            continue;
        int d = defines(l, "malloc");
        if (d < 0)
            return 0;
        if (d) {
            *who = l;
            return 2;
        }
    }
    return 0;
}

int hp_warn_if_malloc_not_ours(void) {
    const struct link_map *l = NULL;
    if (malloc_definer(&l) != 2)
        return 0; /* ours, or cannot tell: say nothing rather than something wrong */
    if (!l->l_name || !l->l_name[0])
        hp_warn("heapprof: the program has its own malloc, not heapprof's: nothing will be sampled");
    else
        hp_warnf("heapprof: the program calls the malloc of %s, not heapprof's: nothing will be sampled "
                 "(put libheapprof.so first in LD_PRELOAD)",
                 l->l_name);
    return 1;
}
