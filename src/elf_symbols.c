#include "elf_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal_alloc.h"

/* Sanity caps: far above any real object, low enough that a corrupt count
 * cannot make us allocate or loop for long. */
#define MAX_SECTIONS (1u << 20)
#define MAX_STRINGS ((size_t)1 << 30) /* offsets are stored in 32 bits */
#define MAX_SYMBOLS ((size_t)1 << 26)
#define SYM_CHUNK 256                 /* symbols read per pread */
#define SIZE_MAX29 ((1u << 29) - 1)

/* One function. 16 bytes: .symtab of a large C++ binary holds 10^5 of these.
 *
 * A symbol of size 0 (hand-written assembly, _init) has no known end. It is
 * marked open_end and given the rest of its section as size: it then names
 * addresses up to the next symbol, but never spills into another section
 * (without that bound, every static function of a stripped library after
 * .init would be called "_init"). */
typedef struct sym_entry {
    uint64_t addr;          /* ELF virtual address */
    uint32_t name;          /* offset into hp_elf_syms.strings */
    uint32_t size : 29;     /* bytes, saturated at 2^29-1 */
    uint32_t rank : 2;      /* binding preference among aliases: global > weak > local */
    uint32_t open_end : 1;  /* size is a bound, not the symbol's own size */
} sym_entry;

struct hp_elf_syms {
    sym_entry *e;
    size_t n, cap;
    char *strings; /* the string tables, each followed by an extra NUL */
    size_t strings_len;
    int has_symtab;
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

static int add_entry(hp_elf_syms *t, uint64_t addr, uint64_t size, uint32_t name, unsigned rank, int open_end) {
    if (t->n == t->cap) {
        if (t->cap >= MAX_SYMBOLS)
            return -1;
        size_t cap = t->cap ? t->cap * 2 : 256;
        sym_entry *e = hp_realloc(t->e, cap * sizeof *e);
        if (!e)
            return -1;
        t->e = e;
        t->cap = cap;
    }
    sym_entry *x = &t->e[t->n++];
    x->addr = addr;
    x->name = name;
    x->size = size > SIZE_MAX29 ? SIZE_MAX29 : (uint32_t)size;
    x->rank = rank & 3;
    x->open_end = open_end != 0;
    return 0;
}

/* Appends a string table and a terminating NUL, so any in-range offset names
 * a terminated string even when the file's table lacks its final NUL.
 * Returns the table's base offset, or -1. */
static long append_strtab(hp_elf_syms *t, const elf_src *src, const Elf64_Shdr *sh) {
    if (sh->sh_type != SHT_STRTAB || sh->sh_size == 0 || !in_bounds(src, sh->sh_offset, sh->sh_size))
        return -1;
    if (sh->sh_size > MAX_STRINGS - t->strings_len - 1)
        return -1;
    size_t base = t->strings_len;
    char *s = hp_realloc(t->strings, base + sh->sh_size + 1);
    if (!s)
        return -1;
    t->strings = s;
    if (src_read(src, sh->sh_offset, s + base, sh->sh_size) != 0)
        return -1; /* t->strings_len unchanged: the bytes are ignored */
    s[base + sh->sh_size] = '\0';
    t->strings_len = base + sh->sh_size + 1;
    return (long)base;
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
 * name at the '@' in place: C and mangled C++ names never contain one, and a
 * string sharing this tail (string tables merge suffixes) wants the same cut. */
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

static void add_symbol(hp_elf_syms *t, const Elf64_Sym *sym, size_t base, uint64_t strsize, const Elf64_Shdr *shdrs,
                       size_t shnum) {
    unsigned type = ELF64_ST_TYPE(sym->st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC)
        return;
    if (sym->st_shndx == SHN_UNDEF || sym->st_value == 0)
        return; /* imports, and placeholders that name nothing */
    if (sym->st_name == 0 || sym->st_name >= strsize)
        return;
    if (t->strings[base + sym->st_name] == '\0')
        return;
    strip_version(t->strings + base + sym->st_name);
    int open_end = sym->st_size == 0;
    uint64_t size = open_end ? open_extent(sym, shdrs, shnum) : sym->st_size;
    add_entry(t, sym->st_value, size, (uint32_t)(base + sym->st_name), bind_rank(sym->st_info), open_end);
}

/* Reads one SHT_SYMTAB or SHT_DYNSYM section and its linked string table. */
static void load_table(hp_elf_syms *t, const elf_src *src, const Elf64_Shdr *sh, const Elf64_Shdr *shdrs,
                       size_t shnum) {
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= shnum)
        return;
    if (!in_bounds(src, sh->sh_offset, sh->sh_size))
        return;
    const Elf64_Shdr *str = &shdrs[sh->sh_link];
    long base = append_strtab(t, src, str);
    if (base < 0)
        return;
    uint64_t nsyms = sh->sh_size / sizeof(Elf64_Sym);
    Elf64_Sym chunk[SYM_CHUNK];
    for (uint64_t i = 0; i < nsyms; i += SYM_CHUNK) {
        size_t k = nsyms - i < SYM_CHUNK ? (size_t)(nsyms - i) : SYM_CHUNK;
        if (src_read(src, sh->sh_offset + i * sizeof(Elf64_Sym), chunk, k * sizeof(Elf64_Sym)) != 0)
            return;
        for (size_t j = 0; j < k; j++)
            add_symbol(t, &chunk[j], (size_t)base, str->sh_size, shdrs, shnum);
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
    size_t ua = leading_underscores(t->strings + a->name), ub = leading_underscores(t->strings + b->name);
    if (ua != ub)
        return ua < ub;
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
    return t;
}

hp_elf_syms *hp_elf_syms_load_file(const char *path) {
    /* O_NONBLOCK: opening a FIFO planted at a library's path must not hang
     * the flusher; it is a no-op for regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct stat st;
    hp_elf_syms *t = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        elf_src src = {.fd = fd, .mem = NULL, .size = (uint64_t)st.st_size};
        t = load(&src);
    }
    close(fd);
    return t;
}

hp_elf_syms *hp_elf_syms_load_mem(const void *image, size_t len) {
    if (!image)
        return NULL;
    elf_src src = {.fd = -1, .mem = image, .size = len};
    return load(&src);
}

void hp_elf_syms_free(hp_elf_syms *s) {
    if (!s)
        return;
    hp_free(s->e);
    hp_free(s->strings);
    hp_free(s);
}

const char *hp_elf_syms_lookup(const hp_elf_syms *s, uint64_t vaddr) {
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
        return s->strings + c->name;
    /* A few steps back cover a symbol nested in a larger one (a local label
     * typed FUNC inside its function); beyond that vaddr is in a gap. */
    for (size_t k = 0; k < 4 && k < lo; k++) {
        c = &s->e[lo - 1 - k];
        if (!c->open_end && vaddr - c->addr < c->size)
            return s->strings + c->name;
    }
    return NULL;
}

size_t hp_elf_syms_count(const hp_elf_syms *s) {
    return s ? s->n : 0;
}

int hp_elf_syms_has_symtab(const hp_elf_syms *s) {
    return s ? s->has_symtab : 0;
}
