/* Loaded objects and their symbols: the executable as mapping 1 with exact
 * segment bounds, the test's own functions, libc and a stripped library by
 * name, dlclose'd objects kept, and hostile ELF files that must not crash. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/elf_symbols.h"
#include "export/maps.h"

/* Functions the test looks itself up by. noinline + used: they must exist
 * as real symbols of this executable. */
__attribute__((noinline, used)) int hp_test_known_function(int x) {
    __asm__ volatile("" : "+r"(x));
    return x * 7 + 3;
}

__attribute__((noinline, used)) static int hp_test_static_function(int x) {
    __asm__ volatile("" : "+r"(x));
    return x * 5 + 1;
}

static char exe[4096];

static int setup(void **state) {
    (void)state;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    ssize_t r;
    while (n < (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
        n += (size_t)r;
    close(fd);
    *len = n;
    return buf;
}

/* ---- the executable ---- */

static void test_executable_is_mapping_one(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    assert_true(hp_maps_count(m) >= 2);
    const hp_mapping *mp = hp_maps_get(m, 0);
    assert_non_null(mp);
    assert_true(mp->is_main);
    assert_string_equal(mp->path, exe);
    uintptr_t fn = (uintptr_t)hp_test_known_function;
    assert_int_equal(hp_maps_find(m, fn), 0);
    assert_true(fn >= mp->start && fn < mp->limit);
    /* Exactly one main mapping. */
    for (size_t i = 1; i < hp_maps_count(m); i++)
        assert_false(hp_maps_get(m, i)->is_main);
    hp_maps_free(m);
}

/* Bounds must be the segment's own, read here from the file's program
 * headers: start - bias == p_vaddr, limit - start == p_memsz, offset ==
 * p_offset (not page-rounded as /proc/self/maps would give). */
static void test_exact_segment_bounds(void **state) {
    (void)state;
    size_t len = 0;
    uint8_t *img = slurp("/proc/self/exe", &len);
    assert_non_null(img);
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    const hp_mapping *mp = hp_maps_get(m, 0);
    int matched = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
            assert_int_equal(mp->start - mp->bias, ph.p_vaddr);
            assert_int_equal(mp->limit - mp->start, ph.p_memsz);
            assert_int_equal(mp->offset, ph.p_offset);
            matched = 1;
            break;
        }
    }
    assert_true(matched);
    /* The toolchain stamps a GNU build-id: read from memory as hex. */
    assert_true(strlen(mp->build_id) >= 16 && strlen(mp->build_id) % 2 == 0);
    assert_int_equal(strspn(mp->build_id, "0123456789abcdef"), strlen(mp->build_id));
    hp_maps_free(m);
    free(img);
}

static void test_own_symbols(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    uintptr_t k = (uintptr_t)hp_test_known_function, s = (uintptr_t)hp_test_static_function;
    assert_string_equal(hp_maps_symbol(m, k), "hp_test_known_function");
    /* a return address minus one lands inside, not at, the function */
    assert_string_equal(hp_maps_symbol(m, k + 1), "hp_test_known_function");
    assert_string_equal(hp_maps_symbol(m, s), "hp_test_static_function"); /* .symtab only */
    assert_int_equal(hp_test_known_function(1) + hp_test_static_function(1), 16);
    assert_null(hp_maps_symbol(m, 0));
    assert_int_equal(hp_maps_find(m, 0), -1);
    assert_int_equal(hp_maps_find(m, UINT64_MAX), -1);
    hp_maps_free(m);
}

/* ---- shared libraries ---- */

/* The definition inside a library, not a PLT slot of the executable. */
static uintptr_t lib_symbol(const char *lib, const char *name) {
    void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return 0;
    uintptr_t a = (uintptr_t)dlsym(h, name);
    dlclose(h);
    return a;
}

static void test_libc_symbols(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    uintptr_t q = lib_symbol("libc.so.6", "qsort"), ma = lib_symbol("libc.so.6", "malloc");
    assert_true(q && ma);
    long i = hp_maps_find(m, q);
    assert_true(i > 0);
    assert_non_null(strstr(hp_maps_get(m, (size_t)i)->path, "libc"));
    assert_string_equal(hp_maps_symbol(m, q + 1), "qsort");
    /* malloc and __libc_malloc share an address: the plain name wins. */
    assert_string_equal(hp_maps_symbol(m, ma), "malloc");
    /* A versioned definition: named without "@@GLIBC_..." (the suffix is in
     * glibc's .symtab, read when libc6-dbg is installed). */
    uintptr_t lsm = lib_symbol("libc.so.6", "__libc_start_main");
    assert_true(lsm != 0);
    assert_string_equal(hp_maps_symbol(m, lsm + 1), "__libc_start_main");
    hp_maps_free(m);
}

/* Debian's libz is stripped (.dynsym only), as distro libraries are. */
static void test_distro_stripped_library(void **state) {
    (void)state;
    /* Loaded for the test: nothing here references zlib, so the linker's
     * --as-needed may have left it out. */
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        skip();
    uintptr_t d = (uintptr_t)dlsym(h, "deflate");
    assert_true(d != 0);
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    long i = hp_maps_find(m, d);
    assert_true(i > 0);
    hp_elf_syms *s = hp_elf_syms_load_file(hp_maps_get(m, (size_t)i)->path);
    assert_non_null(s);
    if (hp_elf_syms_has_symtab(s))
        print_message("note: this libz has a .symtab; the .dynsym-only path is covered by the built library\n");
    hp_elf_syms_free(s);
    assert_string_equal(hp_maps_symbol(m, d + 4), "deflate");
    hp_maps_free(m);
    dlclose(h);
}

/* A refresh walks the object list only when an object came or went
 * (dlpi_adds/dlpi_subs): the refreshes of an idle process are O(1). */
static void test_refresh_only_on_change(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    assert_int_equal(hp_maps_walks(m), 1);
    for (int i = 0; i < 10; i++)
        hp_maps_refresh(m);
    assert_int_equal(hp_maps_walks(m), 1);
    const char *lib = "libanl.so.1";
    if (dlopen(lib, RTLD_NOW | RTLD_NOLOAD))
        skip(); /* already loaded: nothing to add */
    size_t before = hp_maps_count(m);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        skip();
    hp_maps_refresh(m);
    assert_int_equal(hp_maps_walks(m), 2);
    assert_true(hp_maps_count(m) > before);
    hp_maps_refresh(m);
    assert_int_equal(hp_maps_walks(m), 2);
    dlclose(h);
    hp_maps_refresh(m); /* an object went: walked again (seen_gen changes) */
    assert_int_equal(hp_maps_walks(m), 3);
    hp_maps_free(m);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* A library built and stripped (objcopy --strip-all) here, dlopen'd, then
 * dlclose'd: exported functions keep their names through .dynsym, a static
 * one is not misnamed, and the object stays known after dlclose. */
static void test_built_stripped_library(void **state) {
    (void)state;
    char dir[] = "/tmp/hp_maps_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048], so[256];
    snprintf(so, sizeof so, "%s/libstripped.so", dir);
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' "
             "'__attribute__((noinline)) static int hidden_helper(int x) { return x * 3 + 1; }' "
             "'int stripped_exported(int x) { return hidden_helper(x) + 1; }' "
             "'void *stripped_hidden_addr(void) { return (void *)hidden_helper; }' > %s/s.c && "
             "cc -O1 -shared -fPIC -o %s %s/s.c 2>/dev/null && objcopy --strip-all %s",
             dir, so, dir, so);
    if (run(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        run(cmd);
        skip(); /* no compiler or binutils here */
    }
    hp_elf_syms *s = hp_elf_syms_load_file(so);
    assert_non_null(s);
    assert_false(hp_elf_syms_has_symtab(s));
    hp_elf_syms_free(s);

    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    uintptr_t exported = (uintptr_t)dlsym(h, "stripped_exported");
    void *(*hidden_addr)(void) = (void *(*)(void))dlsym(h, "stripped_hidden_addr");
    assert_true(exported && hidden_addr);
    uintptr_t hidden = (uintptr_t)hidden_addr();

    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    size_t count = hp_maps_count(m);
    long i = hp_maps_find(m, exported);
    assert_true(i > 0);
    const hp_mapping *mp = hp_maps_get(m, (size_t)i);
    assert_string_equal(mp->path, so);
    assert_string_equal(hp_maps_symbol(m, exported + 1), "stripped_exported");
    const char *hn = hp_maps_symbol(m, hidden + 1);
    print_message("static function in the stripped library resolves to: %s\n", hn ? hn : "(unknown)");
    /* The static function has no symbol left: unknown, or at worst not a
     * name from another section such as _init. */
    assert_true(hn == NULL || (strcmp(hn, "_init") != 0 && strcmp(hn, "_fini") != 0));

    dlclose(h);
    hp_maps_refresh(m);
    /* Kept after dlclose (its samples may still be in use), same pointer. */
    assert_true(hp_maps_count(m) >= count);
    assert_ptr_equal(hp_maps_get(m, (size_t)i), mp);
    assert_int_equal(hp_maps_find(m, exported), i);
    assert_string_equal(hp_maps_symbol(m, exported + 1), "stripped_exported");
    hp_maps_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
}

static void test_vdso_mapping(void **state) {
    (void)state;
    if (!getauxval(AT_SYSINFO_EHDR))
        skip();
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    int found = 0;
    for (size_t i = 0; i < hp_maps_count(m); i++) {
        const hp_mapping *mp = hp_maps_get(m, i);
        if (strcmp(mp->path, "[vdso]") == 0) {
            found = 1;
            /* read from the in-memory image; any answer, but no crash */
            (void)hp_maps_symbol(m, mp->start);
        }
    }
    assert_true(found);
    /* Its symbols come from the in-memory image (x86-64 name). */
    void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    void *fn = h ? dlsym(h, "__vdso_clock_gettime") : NULL;
    if (fn) {
        const char *name = hp_maps_symbol(m, (uintptr_t)fn + 2);
        assert_non_null(name);
        assert_non_null(strstr(name, "clock_gettime"));
    }
    if (h)
        dlclose(h);
    hp_maps_free(m);
}

/* ---- concurrency ---- */

typedef struct worker_arg {
    hp_maps *m;
    int failures;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < 200; i++) {
        hp_maps_refresh(a->m);
        const char *n = hp_maps_symbol(a->m, (uintptr_t)hp_test_known_function);
        if (!n || strcmp(n, "hp_test_known_function") != 0)
            a->failures++;
        if (hp_maps_get(a->m, 0) == NULL || !hp_maps_get(a->m, 0)->is_main)
            a->failures++;
    }
    return NULL;
}

static void test_concurrent_use(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    worker_arg args[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){m, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    hp_maps_free(m);
}

/* Names are read back from the file on demand: cached once read, and never
 * taken from a different file that replaced the original at its path. */
static void test_names_read_on_demand(void **state) {
    (void)state;
    hp_maps *m = hp_maps_new();
    hp_maps_refresh(m);
    uint64_t bias = hp_maps_get(m, 0)->bias;
    hp_maps_free(m);
    uint64_t known = (uintptr_t)hp_test_known_function - bias;
    uint64_t stat_fn = (uintptr_t)hp_test_static_function - bias;

    size_t len = 0;
    uint8_t *img = slurp("/proc/self/exe", &len);
    char path[] = "/tmp/hp_copy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);

    hp_elf_syms *s = hp_elf_syms_load_file(path);
    assert_non_null(s);
    const char *a = hp_elf_syms_lookup(s, known);
    assert_string_equal(a, "hp_test_known_function");
    assert_ptr_equal(hp_elf_syms_lookup(s, known + 1), a); /* cached */

    /* Replace the file (new inode, as a package upgrade does). */
    char other[64];
    snprintf(other, sizeof other, "%s.new", path);
    fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, img, len / 2), (ssize_t)(len / 2));
    close(fd);
    assert_int_equal(rename(other, path), 0);
    assert_null(hp_elf_syms_lookup(s, stat_fn));           /* not read from the new file */
    assert_string_equal(hp_elf_syms_lookup(s, known), a);  /* already known: still named */
    unlink(path);
    assert_null(hp_elf_syms_lookup(s, stat_fn));           /* file gone: unknown, no crash */
    hp_elf_syms_free(s);
    free(img);
}

/* ---- hostile files ---- */

static void test_unusable_files(void **state) {
    (void)state;
    assert_null(hp_elf_syms_load_file("/nonexistent/libnothing.so"));
    assert_null(hp_elf_syms_load_file("/dev/null"));
    assert_null(hp_elf_syms_load_file("/"));
    assert_null(hp_elf_syms_load_mem(NULL, 100));
    assert_null(hp_elf_syms_lookup(NULL, 1234));
    /* A FIFO at a library's path must not block the reader. */
    char fifo[] = "/tmp/hp_fifo_XXXXXX";
    int fd = mkstemp(fifo);
    assert_true(fd >= 0);
    close(fd);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(hp_elf_syms_load_file(fifo));
    unlink(fifo);
}

/* Truncated copies of a real executable, written to disk and read back. */
static void test_truncated_files(void **state) {
    (void)state;
    size_t len = 0;
    uint8_t *img = slurp("/proc/self/exe", &len);
    assert_non_null(img);
    char path[] = "/tmp/hp_trunc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t cuts[] = {0, 3, 4, 16, 63, 64, 65, 200, 4096, len / 3, len / 2, len - 64, len - 1, len};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(pwrite(fd, img, cuts[i], 0), (ssize_t)cuts[i]);
        hp_elf_syms *s = hp_elf_syms_load_file(path);
        (void)hp_elf_syms_lookup(s, 0x1000);
        if (cuts[i] == len) { /* the intact file still reads */
            assert_non_null(s);
            assert_true(hp_elf_syms_count(s) > 10);
        }
        hp_elf_syms_free(s);
    }
    close(fd);
    unlink(path);
    free(img);
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Overwrites one header field of a copy, loads it, looks a few addresses up. */
static void load_mutated(const uint8_t *img, size_t len, size_t off, const void *val, size_t n) {
    uint8_t *copy = malloc(len);
    memcpy(copy, img, len);
    if (off + n <= len)
        memcpy(copy + off, val, n);
    hp_elf_syms *s = hp_elf_syms_load_mem(copy, len);
    for (int i = 0; i < 8; i++)
        (void)hp_elf_syms_lookup(s, next_rand() % (len * 2));
    hp_elf_syms_free(s);
    free(copy);
}

/* Targeted lies in the headers (huge counts, offsets past the end, offsets
 * that overflow when added, wrong entry sizes, dangling links), then random
 * byte flips in the header and section table. Run under ASan in CI. */
static void test_corrupt_images(void **state) {
    (void)state;
    size_t len = 0;
    uint8_t *img = slurp("/proc/self/exe", &len);
    assert_non_null(img);
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    const uint64_t big[] = {UINT64_MAX, UINT64_MAX - 8, (uint64_t)len, (uint64_t)len - 1, 1ULL << 40, 0};
    const uint16_t counts[] = {0, 1, 0xffff, (uint16_t)(eh.e_shnum + 1)};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        load_mutated(img, len, offsetof(Elf64_Ehdr, e_shoff), &big[i], 8);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        load_mutated(img, len, offsetof(Elf64_Ehdr, e_shnum), &counts[i], 2);
        load_mutated(img, len, offsetof(Elf64_Ehdr, e_shentsize), &counts[i], 2);
    }
    /* every field of every section header, set to each hostile value */
    for (size_t sec = 0; sec < eh.e_shnum; sec++) {
        size_t base = eh.e_shoff + sec * sizeof(Elf64_Shdr);
        const size_t fields[] = {offsetof(Elf64_Shdr, sh_offset), offsetof(Elf64_Shdr, sh_size),
                                 offsetof(Elf64_Shdr, sh_addr), offsetof(Elf64_Shdr, sh_entsize)};
        for (size_t f = 0; f < 4; f++)
            for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
                load_mutated(img, len, base + fields[f], &big[i], 8);
        const uint32_t links[] = {0, sec == 0 ? 1u : (uint32_t)sec, 0xffffffffu, (uint32_t)eh.e_shnum};
        for (size_t i = 0; i < 4; i++)
            load_mutated(img, len, base + offsetof(Elf64_Shdr, sh_link), &links[i], 4);
    }
    /* random flips */
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, img, len);
        int flips = 1 + (int)(next_rand() % 8);
        for (int k = 0; k < flips; k++) {
            size_t where;
            switch (next_rand() % 3) {
            case 0: where = next_rand() % sizeof(Elf64_Ehdr); break;
            case 1: where = eh.e_shoff + next_rand() % ((size_t)eh.e_shnum * sizeof(Elf64_Shdr)); break;
            default: where = next_rand() % len; break;
            }
            if (where < len)
                copy[where] = (uint8_t)next_rand();
        }
        hp_elf_syms *s = hp_elf_syms_load_mem(copy, len);
        for (int i = 0; i < 4; i++)
            (void)hp_elf_syms_lookup(s, next_rand());
        hp_elf_syms_free(s);
        free(copy);
    }
    /* A string table without its final NUL: names stay bounded. */
    for (size_t sec = 0; sec < eh.e_shnum; sec++) {
        Elf64_Shdr sh;
        memcpy(&sh, img + eh.e_shoff + sec * sizeof sh, sizeof sh);
        if (sh.sh_type == SHT_STRTAB && sh.sh_size > 0 && sh.sh_offset + sh.sh_size <= len)
            load_mutated(img, len, sh.sh_offset + sh.sh_size - 1, "X", 1);
    }
    free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_executable_is_mapping_one),
        cmocka_unit_test(test_exact_segment_bounds),
        cmocka_unit_test(test_own_symbols),
        cmocka_unit_test(test_libc_symbols),
        cmocka_unit_test(test_distro_stripped_library),
        cmocka_unit_test(test_refresh_only_on_change),
        cmocka_unit_test(test_built_stripped_library),
        cmocka_unit_test(test_vdso_mapping),
        cmocka_unit_test(test_concurrent_use),
        cmocka_unit_test(test_names_read_on_demand),
        cmocka_unit_test(test_unusable_files),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_corrupt_images),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
