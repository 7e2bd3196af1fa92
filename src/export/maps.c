#include "export/maps.h"

#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "export/elf_symbols.h"
#include "base/internal_alloc.h"

/* Mappings live in fixed chunks that never move, so a pointer handed out by
 * hp_maps_get survives later refreshes (the encoder may hold one while the
 * flusher or an HTTP request refreshes). */
#define CHUNK 64
#define MAX_CHUNKS 1024 /* 65536 executable segments: far more than any process */
#define MAX_BUILD_ID 64 /* bytes; GNU build-ids are 20 (sha1) in practice */

/* One loaded object (executable, library, vdso). Kept after dlclose. */
typedef struct hp_object {
    struct hp_object *next;
    char *key_name;  /* dlpi_name as the loader reported it: identity */
    char *path;      /* what the profile shows */
    char *build_id;  /* hex, or "" */
    uint64_t bias;
    int is_main;
    const void *vdso_image; /* the vdso's ELF image in memory, else NULL */
    size_t vdso_len;
    _Atomic int syms_loaded;
    hp_elf_syms *syms;
    uint64_t seen_gen; /* last refresh that saw it loaded */
} hp_object;

typedef struct map_slot {
    hp_mapping pub;
    hp_object *obj;
} map_slot;

struct hp_maps {
    pthread_mutex_t mu;
    map_slot *chunks[MAX_CHUNKS];
    size_t count;
    hp_object *objects;
    hp_object **tail;
    uint64_t gen;
    /* dlpi_adds/dlpi_subs at the last full walk: the loader's own counts of
     * objects ever loaded and unloaded. Equal now: nothing changed. */
    unsigned long long seen_adds, seen_subs;
    int walked;
    size_t last_hit; /* consecutive lookups cluster: check it first */
};

hp_maps *hp_maps_new(void) {
    hp_maps *m = hp_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->tail = &m->objects;
    return m;
}

void hp_maps_free(hp_maps *m) {
    if (!m)
        return;
    for (hp_object *o = m->objects, *next; o; o = next) {
        next = o->next;
        hp_free(o->key_name);
        hp_free(o->path);
        hp_free(o->build_id);
        hp_elf_syms_free(o->syms);
        hp_free(o);
    }
    for (size_t i = 0; i < MAX_CHUNKS; i++)
        hp_free(m->chunks[i]);
    pthread_mutex_destroy(&m->mu);
    hp_free(m);
}

void hp_maps_after_fork(hp_maps *m) {
    if (m)
        pthread_mutex_init(&m->mu, NULL);
}

static map_slot *slot_at(hp_maps *m, size_t i) {
    return &m->chunks[i / CHUNK][i % CHUNK];
}

/* ---- discovering objects ---- */

static void hex_encode(const uint8_t *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* True when [vaddr, vaddr+len) lies in the file-backed part of a PT_LOAD,
 * i.e. it is really mapped and readable. */
static int loaded_range(const struct dl_phdr_info *info, uint64_t vaddr, uint64_t len) {
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && len <= ph->p_filesz &&
            vaddr - ph->p_vaddr <= ph->p_filesz - len)
            return 1;
    }
    return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) & ~(a - 1);
}

/* Looks for NT_GNU_BUILD_ID in one PT_NOTE segment already in memory. */
static int note_build_id(const uint8_t *p, uint64_t size, uint64_t align, char *hex) {
    uint64_t off = 0;
    while (size - off >= 12) {
        uint32_t w[3]; /* namesz, descsz, type; memcpy: p may be misaligned */
        memcpy(w, p + off, sizeof w);
        uint64_t name_off = off + 12;
        uint64_t desc_off = name_off + align_up(w[0], align);
        uint64_t next = desc_off + align_up(w[1], align);
        if (desc_off > size || w[1] > size - desc_off)
            return 0;
        if (w[2] == NT_GNU_BUILD_ID && w[0] == 4 && memcmp(p + name_off, "GNU", 4) == 0 && w[1] > 0) {
            hex_encode(p + desc_off, w[1] < MAX_BUILD_ID ? w[1] : MAX_BUILD_ID, hex);
            return 1;
        }
        if (next <= off || next > size)
            return 0;
        off = next;
    }
    return 0;
}

static void read_build_id(const struct dl_phdr_info *info, char *hex) {
    hex[0] = '\0';
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE || !loaded_range(info, ph->p_vaddr, ph->p_filesz))
            continue;
        /* Notes are 4-aligned, except in segments declared 8-aligned
         * (.note.gnu.property and friends). */
        uint64_t align = ph->p_align == 8 ? 8 : 4;
        const uint8_t *p = (const uint8_t *)(uintptr_t)(info->dlpi_addr + ph->p_vaddr);
        if (note_build_id(p, ph->p_filesz, align, hex))
            return;
    }
}

/* The vdso is the object whose ELF header the kernel announced in the
 * auxiliary vector; its name differs by architecture. */
static int is_vdso(const struct dl_phdr_info *info, size_t *image_len) {
    uint64_t ehdr = getauxval(AT_SYSINFO_EHDR);
    if (!ehdr)
        return 0;
    int found = 0;
    uint64_t len = 0;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_offset == 0 && info->dlpi_addr + ph->p_vaddr == ehdr)
            found = 1;
        if (ph->p_offset + ph->p_filesz > len)
            len = ph->p_offset + ph->p_filesz;
    }
    /* The kernel maps the vdso by whole pages and its section headers sit
     * past the PT_LOAD's file size, on the last page: round up to see them. */
    uint64_t page = getauxval(AT_PAGESZ);
    if (page && (page & (page - 1)) == 0)
        len = align_up(len, page);
    *image_len = (size_t)len;
    return found;
}

/* The executable's path. /proc/self/exe survives a chdir and names the real
 * file; AT_EXECFN (the path given to execve) is the fallback without /proc. */
static char *exe_path(void) {
    char buf[PATH_MAX + 1];
    ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX);
    if (n > 0) {
        buf[n] = '\0';
        return hp_strdup(buf);
    }
    const char *fn = (const char *)getauxval(AT_EXECFN);
    return hp_strdup(fn ? fn : "");
}

/* Absolute form of a library name; dlopen("./x.so") leaves it relative.
 * Built by hand: realpath may malloc, and ours must not. */
static char *absolute_path(const char *name) {
    if (name[0] == '/')
        return hp_strdup(name);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return hp_strdup(name);
    size_t a = strlen(cwd), b = strlen(name);
    char *p = hp_malloc(a + b + 2);
    if (p) {
        memcpy(p, cwd, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static hp_object *find_object(hp_maps *m, const char *name, uint64_t bias) {
    for (hp_object *o = m->objects; o; o = o->next)
        if (o->bias == bias && strcmp(o->key_name, name) == 0)
            return o;
    return NULL;
}

static hp_object *new_object(const struct dl_phdr_info *info, int first) {
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t vdso_len = 0;
    int vdso = is_vdso(info, &vdso_len);
    int is_main = first && name[0] == '\0' && !vdso;
    if (name[0] == '\0' && !is_main && !vdso)
        return NULL; /* nothing to name it by: leave its frames unmapped */
    char hex[2 * MAX_BUILD_ID + 1];
    read_build_id(info, hex);
    hp_object *o = hp_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->key_name = hp_strdup(name);
    /* "[vdso]" as in /proc/self/maps: pprof skips names starting with '['
     * instead of looking for a file. */
    o->path = is_main ? exe_path() : vdso ? hp_strdup("[vdso]") : absolute_path(name);
    o->build_id = hp_strdup(hex);
    o->bias = info->dlpi_addr;
    o->is_main = is_main;
    if (vdso) {
        o->vdso_image = (const void *)(uintptr_t)getauxval(AT_SYSINFO_EHDR);
        o->vdso_len = vdso_len;
    }
    if (!o->key_name || !o->path || !o->build_id) {
        hp_free(o->key_name);
        hp_free(o->path);
        hp_free(o->build_id);
        hp_free(o);
        return NULL;
    }
    return o;
}

/* Publishes one mapping; the count moves only after the slot is complete. */
static void add_mapping(hp_maps *m, hp_object *o, const ElfW(Phdr) *ph) {
    size_t i = m->count;
    if (i / CHUNK >= MAX_CHUNKS)
        return;
    if (!m->chunks[i / CHUNK]) {
        m->chunks[i / CHUNK] = hp_calloc(CHUNK, sizeof(map_slot));
        if (!m->chunks[i / CHUNK])
            return;
    }
    map_slot *s = slot_at(m, i);
    s->pub.start = o->bias + ph->p_vaddr;
    s->pub.limit = s->pub.start + ph->p_memsz;
    s->pub.offset = ph->p_offset;
    s->pub.bias = o->bias;
    s->pub.path = o->path;
    s->pub.build_id = o->build_id;
    s->pub.is_main = o->is_main;
    s->obj = o;
    m->count = i + 1;
}

typedef struct iter_ctx {
    hp_maps *m;
    int first;
} iter_ctx;

/* Runs under the loader's lock: only memory reads and hp_malloc here, no
 * file access. */
static int on_object(struct dl_phdr_info *info, size_t size, void *arg) {
    iter_ctx *c = arg;
    int first = c->first;
    c->first = 0;
    if (size < offsetof(struct dl_phdr_info, dlpi_phnum) + sizeof info->dlpi_phnum)
        return 0;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    hp_object *o = find_object(c->m, name, info->dlpi_addr);
    if (!o) {
        o = new_object(info, first);
        if (!o)
            return 0;
        *c->m->tail = o;
        c->m->tail = &o->next;
        for (size_t i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && ph->p_memsz > 0)
                add_mapping(c->m, o, ph);
        }
    }
    o->seen_gen = c->m->gen;
    return 0;
}

typedef struct counts_ctx {
    unsigned long long adds, subs;
    int ok;
} counts_ctx;

/* Reads the loader's counters from the first object and stops the walk. */
static int on_first_object(struct dl_phdr_info *info, size_t size, void *arg) {
    counts_ctx *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
        c->ok = 1;
    }
    return 1;
}

void hp_maps_refresh(hp_maps *m) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    /* One callback, O(1), under dl_iterate_phdr's list lock (held by the
     * loader only while it links or unlinks an object, never while it runs
     * a constructor); the O(objects) walk with its per-object search only
     * when an object came or went. */
    counts_ctx cc = {0};
    dl_iterate_phdr(on_first_object, &cc);
    if (!m->walked || !cc.ok || cc.adds != m->seen_adds || cc.subs != m->seen_subs) {
        m->gen++;
        iter_ctx c = {.m = m, .first = 1};
        dl_iterate_phdr(on_object, &c);
        /* The counts read before the walk: an object loaded in between makes
         * the next refresh walk again (never a missed one). */
        m->seen_adds = cc.adds;
        m->seen_subs = cc.subs;
        m->walked = cc.ok;
    }
    pthread_mutex_unlock(&m->mu);
}

uint64_t hp_maps_walks(hp_maps *m) {
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->gen;
    pthread_mutex_unlock(&m->mu);
    return n;
}

size_t hp_maps_count(hp_maps *m) {
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    size_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const hp_mapping *hp_maps_get(hp_maps *m, size_t i) {
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->mu);
    const hp_mapping *p = i < m->count ? &slot_at(m, i)->pub : NULL;
    pthread_mutex_unlock(&m->mu);
    return p;
}

static int contains(const map_slot *s, uint64_t addr) {
    return addr >= s->pub.start && addr < s->pub.limit;
}

/* When a plugin was unloaded and another loaded at its address, mappings
 * overlap: prefer the object seen loaded most recently, then the newer one. */
static long find_locked(hp_maps *m, uint64_t addr) {
    if (m->last_hit < m->count) {
        map_slot *s = slot_at(m, m->last_hit);
        if (contains(s, addr) && s->obj->seen_gen == m->gen)
            return (long)m->last_hit;
    }
    long best = -1;
    uint64_t best_gen = 0;
    for (size_t i = 0; i < m->count; i++) {
        map_slot *s = slot_at(m, i);
        if (contains(s, addr) && (best < 0 || s->obj->seen_gen >= best_gen)) {
            best = (long)i;
            best_gen = s->obj->seen_gen;
        }
    }
    if (best >= 0)
        m->last_hit = (size_t)best;
    return best;
}

long hp_maps_find(hp_maps *m, uint64_t addr) {
    if (!m)
        return -1;
    pthread_mutex_lock(&m->mu);
    long i = find_locked(m, addr);
    pthread_mutex_unlock(&m->mu);
    return i;
}

/* Separate debug info installed by a -dbg/-dbgsym package carries the full
 * .symtab of a stripped library. */
static hp_elf_syms *load_debug_file(const char *build_id) {
    size_t n = strlen(build_id);
    if (n < 4)
        return NULL;
    char path[sizeof "/usr/lib/debug/.build-id/" + 2 * MAX_BUILD_ID + 16];
    snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%.2s/%s.debug", build_id, build_id + 2);
    return hp_elf_syms_load_file(path);
}

static hp_elf_syms *find_symbols(const hp_object *o) {
    if (o->vdso_image)
        return hp_elf_syms_load_mem(o->vdso_image, o->vdso_len);
    hp_elf_syms *syms = NULL;
    /* /proc/self/exe still reads the running binary when its file was
     * replaced or deleted since exec. */
    if (o->is_main)
        syms = hp_elf_syms_load_file("/proc/self/exe");
    if (!syms)
        syms = hp_elf_syms_load_file(o->path);
    if (hp_elf_syms_has_symtab(syms) || !o->build_id[0])
        return syms;
    hp_elf_syms *dbg = load_debug_file(o->build_id);
    if (hp_elf_syms_has_symtab(dbg)) {
        hp_elf_syms_free(syms);
        return dbg;
    }
    hp_elf_syms_free(dbg);
    return syms;
}

/* The table is complete before it is published (syms, then syms_loaded): an
 * encoder no longer runs under the state lock, so fork() may copy the maps
 * while another thread is loading symbols, and the child re-arms the mutex
 * without waiting for it. The child then sees the object either without
 * symbols (loaded again on first use) or with all of them. */
static void load_symbols(hp_object *o) {
    o->syms = find_symbols(o);
    /* Release: the table's stores become visible (to a fork taken by another
     * thread at any instant) before the flag. */
    atomic_store_explicit(&o->syms_loaded, 1, memory_order_release);
}

const char *hp_maps_symbol(hp_maps *m, uint64_t addr) {
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->mu);
    const char *name = NULL;
    long i = find_locked(m, addr);
    if (i >= 0) {
        hp_object *o = slot_at(m, (size_t)i)->obj;
        if (!atomic_load_explicit(&o->syms_loaded, memory_order_acquire))
            load_symbols(o);
        name = hp_elf_syms_lookup(o->syms, addr - o->bias);
    }
    pthread_mutex_unlock(&m->mu);
    return name;
}
