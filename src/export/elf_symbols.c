#include "export/elf_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "base/internal_alloc.h"

/* Sanity caps: far above any real object, low enough that a corrupt count
 * cannot make us allocate or loop for long. */
#define MAX_SECTIONS (1u << 20)
#define MAX_STRTAB ((uint64_t)1 << 31) /* st_name offsets are kept in 32 bits */
#define MAX_SYMBOLS ((size_t)1 << 23)
#define MAX_NAME 65536                 /* longest name read (mangled C++ can be long) */
#define NAME_CHUNK 256
#define SYM_CHUNK 256                  /* symbols read per pread */
#define MAX_TABS 2                     /* .symtab and .dynsym */
#define SIZE_MAX28 ((1u << 28) - 1)

/* One function. 16 bytes: .symtab of a large C++ binary holds 10^5 of these.
 *
 * Names are not kept: a big C++ binary's string table runs to tens of MB,
 * and a profile needs a few thousand names. The tables are read whole while
 * loading (to validate and rank names), then dropped; a name is read again
 * from the file the first time a profile needs it, and cached.
 *
 * A symbol of size 0 (hand-written assembly, _init) has no known end. It is
 * marked open_end and given the rest of its section as size: it then names
 * addresses up to the next symbol, but never spills into another section
 * (without that bound, every static function of a stripped library after
 * .init would be called "_init"). */
typedef struct sym_entry {
    uint64_t addr;          /* ELF virtual address */
    uint32_t name;          /* st_name: offset in string table `tab` */
    uint32_t size : 28;     /* bytes, saturated at 2^28-1 */
    uint32_t rank : 2;      /* binding preference among aliases: global > weak > local */
    uint32_t open_end : 1;  /* size is a bound, not the symbol's own size */
    uint32_t tab : 1;       /* which string table */
} sym_entry;

typedef struct strtab {
    uint64_t off, size; /* where it is in the file */
    char *data;         /* its bytes plus a NUL, only while loading */
} strtab;

typedef struct name_slot {
    uint64_t key; /* (tab << 32 | st_name) + 1; 0 = empty */
    char *name;
} name_slot;

struct hp_elf_syms {
    sym_entry *e;
    size_t n, cap;
    int has_symtab;
    strtab tab[MAX_TABS];
    int ntab;
    /* where names are read back from: a file (checked to be the same one)
     * or a memory image */
    char *path;
    struct stat id;
    const uint8_t *mem;
    uint64_t mem_size;
    name_slot *cache;
    size_t cache_cap, cache_used;
};

/* Where the bytes come from: a file descriptor or a memory image. */
typedef struct elf_src {
    int fd;
    const uint8_t *mem;
    uint64_t size;
} elf_src;

/* Reads exactly n bytes at off, or fails: the range is checked against the
 * size first, so no count from the file can send us out of bounds. */
static int src_read(const elf_src *s, uint64_t off, void *dst, size_t n) {
    if (off > s->size || n > s->size - off)
        return -1;
    if (s->mem) {
        memcpy(dst, s->mem + off, n);
        return 0;
    }
    uint8_t *d = dst;
    while (n) {
        ssize_t r = pread(s->fd, d, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) /* error, or the file shrank under us */
            return -1;
        d += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int in_bounds(const elf_src *s, uint64_t off, uint64_t n) {
    return off <= s->size && n <= s->size - off;
}

/* ---- building the table ---- */

static int add_entry(hp_elf_syms *t, uint64_t addr, uint64_t size, uint32_t name, unsigned tab, unsigned rank,
                     int open_end) {
    if (t->n == t->cap) {
        sym_entry *e = hp_array_grow(t->e, &t->cap, sizeof *e, 256, MAX_SYMBOLS);
        if (!e)
            return -1;
        t->e = e;
    }
    sym_entry *x = &t->e[t->n++];
    x->addr = addr;
    x->name = name;
    x->size = size > SIZE_MAX28 ? SIZE_MAX28 : (uint32_t)size;
    x->rank = rank & 3;
    x->open_end = open_end != 0;
    x->tab = tab & 1;
    return 0;
}

/* Reads a string table whole, plus a NUL so any in-range offset names a
 * terminated string even when the file's table lacks its final NUL. Returns
 * its slot, or -1. */
static int read_strtab(hp_elf_syms *t, const elf_src *src, const Elf64_Shdr *sh) {
    if (t->ntab >= MAX_TABS || sh->sh_type != SHT_STRTAB || sh->sh_size == 0 || sh->sh_size > MAX_STRTAB ||
        !in_bounds(src, sh->sh_offset, sh->sh_size))
        return -1;
    char *d = hp_malloc(sh->sh_size + 1);
    if (!d)
        return -1;
    if (src_read(src, sh->sh_offset, d, sh->sh_size) != 0) {
        hp_free(d);
        return -1;
    }
    d[sh->sh_size] = '\0';
    strtab *st = &t->tab[t->ntab];
    st->off = sh->sh_offset;
    st->size = sh->sh_size;
    st->data = d;
    return t->ntab++;
}

static unsigned bind_rank(unsigned char info) {
    switch (ELF64_ST_BIND(info)) {
    case STB_GLOBAL:
    case STB_GNU_UNIQUE:
        return 3;
    case STB_WEAK:
        return 2;
    default:
        return 1;
    }
}

/* A .symtab (glibc's, in its debug file) spells versioned definitions
 * "__libc_start_main@@GLIBC_2.34"; pprof would show that verbatim. Cut the
 * name at the '@': C and mangled C++ names never contain one. */
static void strip_version(char *name) {
    char *at = strchr(name, '@');
    if (at && at != name)
        *at = '\0';
}

/* Bytes from a zero-size symbol to the end of its section; unbounded when
 * the section is unknown (SHN_ABS and friends) or does not hold it. */
static uint64_t open_extent(const Elf64_Sym *sym, const Elf64_Shdr *shdrs, size_t shnum) {
    if (sym->st_shndx >= shnum || sym->st_shndx >= SHN_LORESERVE)
        return UINT64_MAX;
    const Elf64_Shdr *sec = &shdrs[sym->st_shndx];
    if (sym->st_value < sec->sh_addr || sym->st_value - sec->sh_addr >= sec->sh_size)
        return UINT64_MAX;
    return sec->sh_size - (sym->st_value - sec->sh_addr);
}

static void add_symbol(hp_elf_syms *t, const Elf64_Sym *sym, int tab, const Elf64_Shdr *shdrs, size_t shnum) {
    unsigned type = ELF64_ST_TYPE(sym->st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC)
        return;
    if (sym->st_shndx == SHN_UNDEF || sym->st_value == 0)
        return; /* imports, and placeholders that name nothing */
    const strtab *st = &t->tab[tab];
    if (sym->st_name == 0 || sym->st_name >= st->size)
        return;
    char c = st->data[sym->st_name];
    if (c == '\0' || c == '@')
        return;
    int open_end = sym->st_size == 0;
    uint64_t size = open_end ? open_extent(sym, shdrs, shnum) : sym->st_size;
    add_entry(t, sym->st_value, size, sym->st_name, (unsigned)tab, bind_rank(sym->st_info), open_end);
}

/* Reads one SHT_SYMTAB or SHT_DYNSYM section and its linked string table. */
static void load_table(hp_elf_syms *t, const elf_src *src, const Elf64_Shdr *sh, const Elf64_Shdr *shdrs,
                       size_t shnum) {
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= shnum)
        return;
    if (!in_bounds(src, sh->sh_offset, sh->sh_size))
        return;
    int tab = read_strtab(t, src, &shdrs[sh->sh_link]);
    if (tab < 0)
        return;
    uint64_t nsyms = sh->sh_size / sizeof(Elf64_Sym);
    Elf64_Sym chunk[SYM_CHUNK];
    for (uint64_t i = 0; i < nsyms; i += SYM_CHUNK) {
        size_t k = nsyms - i < SYM_CHUNK ? (size_t)(nsyms - i) : SYM_CHUNK;
        if (src_read(src, sh->sh_offset + i * sizeof(Elf64_Sym), chunk, k * sizeof(Elf64_Sym)) != 0)
            return;
        for (size_t j = 0; j < k; j++)
            add_symbol(t, &chunk[j], tab, shdrs, shnum);
    }
    if (sh->sh_type == SHT_SYMTAB)
        t->has_symtab = 1;
}

/* ---- sorting: heapsort, because it needs no memory (glibc's qsort may call
 * malloc) and no recursion ---- */

static size_t leading_underscores(const char *s) {
    size_t n = 0;
    while (s[n] == '_')
        n++;
    return n;
}

/* Order by address; among aliases of one address the preferred name first:
 * a symbol with its own size, the strongest binding, the fewest leading underscores
 * (malloc over __libc_malloc), then file order for determinism. */
static int entry_before(const hp_elf_syms *t, const sym_entry *a, const sym_entry *b) {
    if (a->addr != b->addr)
        return a->addr < b->addr;
    if (a->open_end != b->open_end)
        return !a->open_end;
    if (a->rank != b->rank)
        return a->rank > b->rank;
    /* names are in memory while sorting (see load) */
    size_t ua = leading_underscores(t->tab[a->tab].data + a->name);
    size_t ub = leading_underscores(t->tab[b->tab].data + b->name);
    if (ua != ub)
        return ua < ub;
    if (a->tab != b->tab)
        return a->tab < b->tab;
    return a->name < b->name;
}

static void sift_down(hp_elf_syms *t, size_t root, size_t n) {
    sym_entry *e = t->e;
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && entry_before(t, &e[child], &e[child + 1]))
            child++;
        if (!entry_before(t, &e[root], &e[child]))
            return;
        sym_entry tmp = e[root];
        e[root] = e[child];
        e[child] = tmp;
        root = child;
    }
}

static void sort_entries(hp_elf_syms *t) {
    size_t n = t->n;
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(t, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        sym_entry tmp = t->e[0];
        t->e[0] = t->e[end];
        t->e[end] = tmp;
        sift_down(t, 0, end);
    }
}

/* Keeps the preferred entry of each address (the first after sorting). */
static void dedup_entries(hp_elf_syms *t) {
    size_t w = 0;
    for (size_t r = 0; r < t->n; r++)
        if (w == 0 || t->e[w - 1].addr != t->e[r].addr)
            t->e[w++] = t->e[r];
    t->n = w;
}

/* ---- the ELF headers ---- */

static int header_ok(const Elf64_Ehdr *eh) {
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return 0;
#else
    if (eh->e_ident[EI_DATA] != ELFDATA2MSB)
        return 0;
#endif
    return eh->e_shoff != 0 && eh->e_shentsize == sizeof(Elf64_Shdr);
}

/* Section count, following the extended numbering rule: e_shnum == 0 means
 * the real count is in section 0's sh_size. 0 on any inconsistency. */
static size_t section_count(const elf_src *src, const Elf64_Ehdr *eh) {
    uint64_t n = eh->e_shnum;
    if (n == 0) {
        Elf64_Shdr first;
        if (src_read(src, eh->e_shoff, &first, sizeof first) != 0)
            return 0;
        n = first.sh_size;
    }
    if (n == 0 || n > MAX_SECTIONS || !in_bounds(src, eh->e_shoff, n * sizeof(Elf64_Shdr)))
        return 0;
    return (size_t)n;
}

/* Drops the string tables once the entries are final, and the array's
 * slack: what stays is 16 bytes per function. */
static void finish_load(hp_elf_syms *t) {
    for (int i = 0; i < t->ntab; i++) {
        hp_free(t->tab[i].data);
        t->tab[i].data = NULL;
    }
    sym_entry *e = hp_realloc(t->e, t->n * sizeof *e);
    if (e) {
        t->e = e;
        t->cap = t->n;
    }
}

static hp_elf_syms *load(const elf_src *src) {
    Elf64_Ehdr eh;
    if (src_read(src, 0, &eh, sizeof eh) != 0 || !header_ok(&eh))
        return NULL;
    size_t shnum = section_count(src, &eh);
    if (shnum == 0)
        return NULL;
    Elf64_Shdr *shdrs = hp_malloc(shnum * sizeof *shdrs);
    hp_elf_syms *t = hp_calloc(1, sizeof *t);
    if (!shdrs || !t || src_read(src, eh.e_shoff, shdrs, shnum * sizeof *shdrs) != 0) {
        hp_free(shdrs);
        hp_free(t);
        return NULL;
    }
    /* Both tables when both exist: .symtab adds the static functions, and
     * the duplicates collapse in dedup_entries. */
    for (size_t i = 0; i < shnum; i++)
        if (shdrs[i].sh_type == SHT_SYMTAB || shdrs[i].sh_type == SHT_DYNSYM)
            load_table(t, src, &shdrs[i], shdrs, shnum);
    hp_free(shdrs);
    if (t->n == 0) {
        hp_elf_syms_free(t);
        return NULL;
    }
    sort_entries(t);
    dedup_entries(t);
    finish_load(t);
    return t;
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* O_NONBLOCK: opening a FIFO planted at a library's path must not hang the
 * flusher; it is a no-op for regular files. */
static int open_regular(const char *path, struct stat *st) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size <= 0) {
        close(fd);
        return -1;
    }
    return fd;
}

hp_elf_syms *hp_elf_syms_load_file(const char *path) {
    struct stat st;
    int fd = open_regular(path, &st);
    if (fd < 0)
        return NULL;
    elf_src src = {.fd = fd, .mem = NULL, .size = (uint64_t)st.st_size};
    hp_elf_syms *t = load(&src);
    close(fd);
    if (t) {
        t->path = hp_strdup(path);
        t->id = st;
        if (!t->path) {
            hp_elf_syms_free(t);
            return NULL;
        }
    }
    return t;
}

hp_elf_syms *hp_elf_syms_load_mem(const void *image, size_t len) {
    if (!image)
        return NULL;
    elf_src src = {.fd = -1, .mem = image, .size = len};
    hp_elf_syms *t = load(&src);
    if (t) {
        t->mem = image;
        t->mem_size = len;
    }
    return t;
}

void hp_elf_syms_free(hp_elf_syms *s) {
    if (!s)
        return;
    for (int i = 0; i < s->ntab; i++)
        hp_free(s->tab[i].data);
    for (size_t i = 0; i < s->cache_cap; i++)
        hp_free(s->cache[i].name);
    hp_free(s->cache);
    hp_free(s->path);
    hp_free(s->e);
    hp_free(s);
}

/* ---- names, read back on demand ---- */

/* Reads the NUL-terminated string at off, at most max bytes (the rest of its
 * table), in small steps: most names are short. */
static char *read_string(const elf_src *src, uint64_t off, uint64_t max) {
    if (max > MAX_NAME)
        max = MAX_NAME;
    char *buf = NULL;
    size_t have = 0;
    while (have < max) {
        size_t n = max - have < NAME_CHUNK ? (size_t)(max - have) : NAME_CHUNK;
        char *nb = hp_realloc(buf, have + n + 1);
        if (!nb || src_read(src, off + have, nb + have, n) != 0) {
            hp_free(nb ? nb : buf);
            return NULL;
        }
        buf = nb;
        void *nul = memchr(buf + have, '\0', n);
        have += n;
        if (nul)
            return buf;
    }
    if (buf)
        buf[have] = '\0'; /* unterminated: cut at the table's end */
    return buf;
}

/* The name of e from its file, which must still be the one loaded (a
 * library replaced by an upgrade has other offsets); NULL otherwise. */
static char *read_name(const hp_elf_syms *s, const sym_entry *e) {
    const strtab *st = &s->tab[e->tab];
    if (e->name >= st->size)
        return NULL;
    char *name;
    if (s->mem) {
        elf_src src = {.fd = -1, .mem = s->mem, .size = s->mem_size};
        name = read_string(&src, st->off + e->name, st->size - e->name);
    } else {
        struct stat now;
        int fd = open_regular(s->path, &now);
        if (fd < 0)
            return NULL;
        elf_src src = {.fd = fd, .mem = NULL, .size = (uint64_t)now.st_size};
        name = same_file(&now, &s->id) ? read_string(&src, st->off + e->name, st->size - e->name) : NULL;
        close(fd);
    }
    if (name)
        strip_version(name);
    return name;
}

/* Cached name of e (open addressing, kept at most half full). */
static const char *entry_name(hp_elf_syms *s, const sym_entry *e) {
    uint64_t key = (((uint64_t)e->tab << 32) | e->name) + 1;
    if (s->cache_cap) {
        for (size_t j = hp_mix64(key) & (s->cache_cap - 1); s->cache[j].key; j = (j + 1) & (s->cache_cap - 1))
            if (s->cache[j].key == key)
                return s->cache[j].name;
    }
    if ((s->cache_used + 1) * 2 > s->cache_cap) {
        size_t cap = s->cache_cap ? s->cache_cap * 2 : 64;
        name_slot *c = hp_calloc(cap, sizeof *c);
        if (!c)
            return NULL;
        for (size_t i = 0; i < s->cache_cap; i++) {
            if (!s->cache[i].key)
                continue;
            size_t j = hp_mix64(s->cache[i].key) & (cap - 1);
            while (c[j].key)
                j = (j + 1) & (cap - 1);
            c[j] = s->cache[i];
        }
        hp_free(s->cache);
        s->cache = c;
        s->cache_cap = cap;
    }
    char *name = read_name(s, e);
    if (!name)
        return NULL; /* not cached: a transient failure may pass */
    size_t j = hp_mix64(key) & (s->cache_cap - 1);
    while (s->cache[j].key)
        j = (j + 1) & (s->cache_cap - 1);
    s->cache[j].key = key;
    s->cache[j].name = name;
    s->cache_used++;
    return name;
}

const char *hp_elf_syms_lookup(hp_elf_syms *s, uint64_t vaddr) {
    if (!s || s->n == 0)
        return NULL;
    /* First entry above vaddr; the candidate is the one before it. */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const sym_entry *c = &s->e[lo - 1];
    /* An open-ended symbol reaches only to the next symbol (the search
     * ensures that) and to the end of its section (its size). */
    if (c->open_end && vaddr - c->addr < c->size)
        return entry_name(s, c);
    /* A few steps back cover a symbol nested in a larger one (a local label
     * typed FUNC inside its function); beyond that vaddr is in a gap. */
    for (size_t k = 0; k < 4 && k < lo; k++) {
        c = &s->e[lo - 1 - k];
        if (!c->open_end && vaddr - c->addr < c->size)
            return entry_name(s, c);
    }
    return NULL;
}

size_t hp_elf_syms_count(const hp_elf_syms *s) {
    return s ? s->n : 0;
}

int hp_elf_syms_has_symtab(const hp_elf_syms *s) {
    return s ? s->has_symtab : 0;
}
