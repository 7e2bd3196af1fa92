/* The profile.proto encoder: decoded back with a decoder written here from
 * the spec, then read by the real `go tool pprof`. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/dump.h"
#include "base/internal_alloc.h"
#include "export/maps.h"
#include "export/pprof.h"

/* ==== a minimal, independent profile.proto decoder ==== */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static uint64_t rd_varint(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        assert_true(r->p < r->end);
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("varint longer than 10 bytes");
    return 0;
}

typedef struct field {
    uint32_t num;
    int wire;
    uint64_t v; /* varint value */
    rd sub;     /* LEN payload */
} field;

static int rd_next(rd *r, field *f) {
    if (r->p >= r->end)
        return 0;
    uint64_t tag = rd_varint(r);
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (f->wire == 0) {
        f->v = rd_varint(r);
    } else if (f->wire == 2) {
        uint64_t n = rd_varint(r);
        assert_true(n <= (uint64_t)(r->end - r->p));
        f->sub.p = r->p;
        f->sub.end = r->p + n;
        r->p += n;
    } else {
        fail_msg("unexpected wire type %d in field %u", f->wire, f->num);
    }
    return 1;
}

/* A repeated varint field, packed or not. */
static void rd_repeated(const field *f, uint64_t *out, size_t *n, size_t cap) {
    if (f->wire == 0) {
        assert_true(*n < cap);
        out[(*n)++] = f->v;
        return;
    }
    rd r = f->sub;
    while (r.p < r.end) {
        assert_true(*n < cap);
        out[(*n)++] = rd_varint(&r);
    }
}

#define MAXF 300 /* frames or lines per message in these tests */

typedef struct d_sample {
    uint64_t loc[MAXF];
    size_t nloc;
    uint64_t val[8];
    size_t nval;
} d_sample;

typedef struct d_mapping {
    uint64_t id, start, limit, offset, filename, build_id, has_functions;
} d_mapping;

typedef struct d_location {
    uint64_t id, mapping_id, address;
    uint64_t fn[8];
    size_t nlines;
} d_location;

typedef struct d_function {
    uint64_t id, name, system_name;
} d_function;

typedef struct d_profile {
    uint64_t st_type[8], st_unit[8];
    size_t n_st;
    d_sample *s;
    size_t ns;
    d_mapping m[4096];
    size_t nm;
    d_location *l;
    size_t nl;
    d_function *f;
    size_t nf;
    const char *str[1 << 16];
    size_t nstr;
    int64_t time_nanos, duration_nanos, period;
    uint64_t pt_type, pt_unit;
    uint64_t comment[64];
    size_t ncomment;
    int64_t default_sample_type;
    int has_duration;
} d_profile;

static void *grow(void *p, size_t n, size_t size) {
    /* powers of two: grow when n reaches one */
    if (n && (n & (n - 1)))
        return p;
    void *q = realloc(p, (n ? n * 2 : 1) * size);
    assert_non_null(q);
    return q;
}

static void dec_value_type(rd r, uint64_t *type, uint64_t *unit) {
    field f;
    while (rd_next(&r, &f))
        if (f.num == 1)
            *type = f.v;
        else if (f.num == 2)
            *unit = f.v;
}

static void dec_sample(rd r, d_sample *s) {
    field f;
    memset(s, 0, sizeof *s);
    while (rd_next(&r, &f)) {
        if (f.num == 1)
            rd_repeated(&f, s->loc, &s->nloc, MAXF);
        else if (f.num == 2)
            rd_repeated(&f, s->val, &s->nval, 8);
    }
}

static void dec_mapping(rd r, d_mapping *m) {
    field f;
    memset(m, 0, sizeof *m);
    uint64_t *slot[] = {NULL, &m->id, &m->start, &m->limit, &m->offset, &m->filename, &m->build_id, &m->has_functions};
    while (rd_next(&r, &f))
        if (f.num < 8 && f.wire == 0)
            *slot[f.num] = f.v;
}

static void dec_location(rd r, d_location *l) {
    field f, g;
    memset(l, 0, sizeof *l);
    while (rd_next(&r, &f)) {
        if (f.num == 1)
            l->id = f.v;
        else if (f.num == 2)
            l->mapping_id = f.v;
        else if (f.num == 3)
            l->address = f.v;
        else if (f.num == 4) {
            assert_true(l->nlines < 8);
            rd lr = f.sub;
            uint64_t fn = 0;
            while (rd_next(&lr, &g))
                if (g.num == 1)
                    fn = g.v;
            l->fn[l->nlines++] = fn;
        }
    }
}

static void dec_function(rd r, d_function *fn) {
    field f;
    memset(fn, 0, sizeof *fn);
    while (rd_next(&r, &f))
        if (f.num == 1)
            fn->id = f.v;
        else if (f.num == 2)
            fn->name = f.v;
        else if (f.num == 3)
            fn->system_name = f.v;
}

/* Decodes; strings are copied so the buffer can go. */
static d_profile *decode(const uint8_t *buf, size_t len) {
    d_profile *p = calloc(1, sizeof *p);
    assert_non_null(p);
    rd r = {buf, buf + len};
    field f;
    uint64_t tmp[64];
    while (rd_next(&r, &f)) {
        switch (f.num) {
        case 1:
            assert_true(p->n_st < 8);
            dec_value_type(f.sub, &p->st_type[p->n_st], &p->st_unit[p->n_st]);
            p->n_st++;
            break;
        case 2:
            p->s = grow(p->s, p->ns, sizeof *p->s);
            dec_sample(f.sub, &p->s[p->ns++]);
            break;
        case 3:
            assert_true(p->nm < 4096);
            dec_mapping(f.sub, &p->m[p->nm++]);
            break;
        case 4:
            p->l = grow(p->l, p->nl, sizeof *p->l);
            dec_location(f.sub, &p->l[p->nl++]);
            break;
        case 5:
            p->f = grow(p->f, p->nf, sizeof *p->f);
            dec_function(f.sub, &p->f[p->nf++]);
            break;
        case 6: {
            assert_int_equal(f.wire, 2);
            assert_true(p->nstr < (1 << 16));
            size_t n = (size_t)(f.sub.end - f.sub.p);
            char *s = malloc(n + 1);
            memcpy(s, f.sub.p, n);
            s[n] = '\0';
            p->str[p->nstr++] = s;
            break;
        }
        case 9: p->time_nanos = (int64_t)f.v; break;
        case 10: p->duration_nanos = (int64_t)f.v; p->has_duration = 1; break;
        case 11: dec_value_type(f.sub, &p->pt_type, &p->pt_unit); break;
        case 12: p->period = (int64_t)f.v; break;
        case 13: {
            size_t n = 0;
            rd_repeated(&f, tmp, &n, 64);
            for (size_t i = 0; i < n; i++)
                p->comment[p->ncomment++] = tmp[i];
            break;
        }
        case 14: p->default_sample_type = (int64_t)f.v; break;
        default: fail_msg("unexpected Profile field %u", f.num);
        }
    }
    return p;
}

static void free_profile(d_profile *p) {
    for (size_t i = 0; i < p->nstr; i++)
        free((void *)p->str[i]);
    free(p->s);
    free(p->l);
    free(p->f);
    free(p);
}

static const char *S(const d_profile *p, uint64_t i) {
    assert_true(i < p->nstr);
    return p->str[i];
}

static const d_location *loc(const d_profile *p, uint64_t id) {
    assert_true(id >= 1 && id <= p->nl);
    assert_int_equal(p->l[id - 1].id, id); /* ids are 1..n in order */
    return &p->l[id - 1];
}

static const char *loc_fn_name(const d_profile *p, const d_location *l) {
    if (l->nlines == 0)
        return NULL;
    uint64_t id = l->fn[0];
    assert_true(id >= 1 && id <= p->nf);
    assert_int_equal(p->f[id - 1].id, id);
    assert_int_equal(p->f[id - 1].name, p->f[id - 1].system_name);
    return S(p, p->f[id - 1].name);
}

/* The invariants every profile must hold. */
static void check_common(const d_profile *p, const char *default_type) {
    assert_true(p->nstr >= 1);
    assert_string_equal(p->str[0], "");
    for (size_t i = 1; i < p->nstr; i++) /* deduplicated */
        for (size_t j = i + 1; j < p->nstr; j++)
            assert_string_not_equal(p->str[i], p->str[j]);
    static const char *const want[4][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    assert_int_equal(p->n_st, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(S(p, p->st_type[i]), want[i][0]);
        assert_string_equal(S(p, p->st_unit[i]), want[i][1]);
    }
    assert_string_equal(S(p, p->pt_type), "space");
    assert_string_equal(S(p, p->pt_unit), "bytes");
    assert_string_equal(S(p, (uint64_t)p->default_sample_type), default_type ? default_type : "inuse_space");
    for (size_t i = 0; i < p->nm; i++) {
        assert_int_equal(p->m[i].id, i + 1);
        assert_int_equal(p->m[i].has_functions, 0); /* so pprof may resymbolize */
        assert_true(p->m[i].start < p->m[i].limit);
    }
    for (size_t i = 0; i < p->nf; i++)
        assert_int_equal(p->f[i].id, i + 1);
    for (size_t i = 0; i < p->nl; i++) {
        assert_int_equal(p->l[i].id, i + 1);
        uint64_t mid = p->l[i].mapping_id;
        if (mid) {
            assert_true(mid <= p->nm);
            assert_true(p->l[i].address >= p->m[mid - 1].start && p->l[i].address < p->m[mid - 1].limit);
        }
        for (size_t k = 0; k < p->l[i].nlines; k++)
            assert_true(p->l[i].fn[k] >= 1 && p->l[i].fn[k] <= p->nf);
        for (size_t j = i + 1; j < p->nl; j++) /* one location per address */
            assert_true(p->l[i].address != p->l[j].address);
    }
    for (size_t i = 0; i < p->ns; i++) {
        assert_int_equal(p->s[i].nval, 4);
        for (size_t k = 0; k < p->s[i].nloc; k++)
            assert_true(p->s[i].loc[k] >= 1 && p->s[i].loc[k] <= p->nl);
    }
}

static d_profile *encode_decode(const hp_pprof_profile *prof, hp_maps *maps) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(hp_pprof_encode(prof, maps, &buf, &len), 0);
    assert_non_null(buf);
    d_profile *p = decode(buf, len);
    hp_free(buf);
    check_common(p, prof->default_sample_type);
    return p;
}

/* ==== tests ==== */

static void test_structure_without_maps(void **state) {
    (void)state;
    const uintptr_t f0[] = {0x1001, 0x2001, 0x3001};
    const uintptr_t f1[] = {0x1001, 0, 0x4001}; /* 0: end marker, skipped */
    const uintptr_t f2[] = {0x5001};
    hp_pprof_sample s[] = {
        {.frames = f0, .depth = 3, .values = {1, 100, 1, 100}},
        {.frames = f1, .depth = 3, .values = {2, 200, 0, 0}},
        {.frames = f2, .depth = 1, .values = {0, 0, 0, 0}}, /* contributes nothing: left out */
        {.frames = NULL, .depth = 0, .values = {5, 50, 5, 50}},
    };
    const char *comments[] = {"heapprof samples=3", "", "bytes"}; /* "" skipped; "bytes" shared */
    hp_pprof_profile prof = {s, 4, 524288, 1700000000123456789LL, 0, comments, 3, NULL, 0};
    d_profile *p = encode_decode(&prof, NULL);

    assert_int_equal(p->period, 524288);
    assert_int_equal(p->time_nanos, 1700000000123456789LL);
    assert_false(p->has_duration); /* omitted when zero */
    assert_int_equal(p->ncomment, 2);
    assert_string_equal(S(p, p->comment[0]), "heapprof samples=3");
    assert_string_equal(S(p, p->comment[1]), "bytes");
    assert_int_equal(p->comment[1], p->st_unit[1]);

    assert_int_equal(p->ns, 3);
    assert_int_equal(p->nl, 4); /* 0x1000 shared by two samples */
    assert_int_equal(p->nm, 0);
    assert_int_equal(p->nf, 0);
    const uint64_t want_addr[] = {0x1000, 0x2000, 0x3000, 0x4000}; /* return address - 1 */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(loc(p, i + 1)->address, want_addr[i]);
        assert_int_equal(loc(p, i + 1)->mapping_id, 0);
        assert_int_equal(loc(p, i + 1)->nlines, 0);
    }
    assert_int_equal(p->s[0].nloc, 3);
    assert_int_equal(p->s[0].loc[0], 1);
    assert_int_equal(p->s[0].loc[1], 2);
    assert_int_equal(p->s[0].loc[2], 3);
    assert_int_equal(p->s[1].nloc, 2);
    assert_int_equal(p->s[1].loc[0], 1);
    assert_int_equal(p->s[1].loc[1], 4);
    const uint64_t want_v[3][4] = {{1, 100, 1, 100}, {2, 200, 0, 0}, {5, 50, 5, 50}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            assert_int_equal(p->s[i].val[k], want_v[i][k]);
    assert_int_equal(p->s[2].nloc, 0);
    free_profile(p);

    prof.duration_nanos = 5000000000LL;
    prof.n_samples = 0;
    p = encode_decode(&prof, NULL);
    assert_true(p->has_duration);
    assert_int_equal(p->duration_nanos, 5000000000LL);
    assert_int_equal(p->ns, 0);
    free_profile(p);
}

/* Thousands of stacks over a pool of addresses: the hash tables grow and
 * every frame still maps to the right location. */
static void test_many_stacks(void **state) {
    (void)state;
    enum { NS = 20000, POOL = 5000, DEPTH = 24 };
    uintptr_t *frames = malloc(sizeof(uintptr_t) * NS * DEPTH);
    hp_pprof_sample *s = calloc(NS, sizeof *s);
    uint64_t x = 12345;
    for (size_t i = 0; i < NS; i++) {
        for (size_t k = 0; k < DEPTH; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            frames[i * DEPTH + k] = 0x400000 + 16 * (uintptr_t)((x >> 33) % POOL) + 1;
        }
        s[i] = (hp_pprof_sample){.frames = &frames[i * DEPTH], .depth = DEPTH, .values = {1, (int64_t)i, 1, (int64_t)i}};
    }
    hp_pprof_profile prof = {s, NS, 1, 1, 0, NULL, 0, NULL, 0};
    d_profile *p = encode_decode(&prof, NULL);
    assert_int_equal(p->ns, NS);
    assert_true(p->nl <= POOL && p->nl > POOL / 2);
    for (size_t i = 0; i < p->ns; i++) {
        assert_int_equal(p->s[i].nloc, DEPTH);
        for (size_t k = 0; k < DEPTH; k++)
            assert_int_equal(loc(p, p->s[i].loc[k])->address, frames[i * DEPTH + k] - 1);
    }
    free_profile(p);
    free(s);
    free(frames);
}

/* ---- real frames of this test, symbolized through hp_maps ---- */

static uintptr_t captured[4];

__attribute__((noinline, noclone)) void hp_pprof_test_leaf(int slot) {
    captured[slot] = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

/* Two calls to leaf: two return addresses in one function, so two
 * locations sharing one Function. */
__attribute__((noinline, noclone)) void hp_pprof_test_mid(void) {
    hp_pprof_test_leaf(0);
    __asm__ volatile("" ::: "memory");
    hp_pprof_test_leaf(1);
    __asm__ volatile("" ::: "memory");
    captured[2] = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noclone)) void hp_pprof_test_outer(void) {
    hp_pprof_test_mid();
    __asm__ volatile("" ::: "memory");
}

/* qsort's definition in libc (not a PLT slot of this executable), + 1 as if
 * it were a return address. */
static uintptr_t libc_qsort_ret(void) {
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    uintptr_t a = (uintptr_t)dlsym(h, "qsort");
    dlclose(h);
    assert_true(a != 0);
    return a + 1;
}

typedef struct real_stacks {
    uintptr_t f0[3], f1[3], f2[2];
    hp_pprof_sample s[3];
    hp_pprof_profile prof;
} real_stacks;

static void make_real_profile(real_stacks *r) {
    hp_pprof_test_outer();
    uintptr_t q = libc_qsort_ret();
    /* mid -> outer -> qsort (an impossible but well-formed stack) */
    r->f0[0] = captured[0], r->f0[1] = captured[2], r->f0[2] = q;
    r->f1[0] = captured[1], r->f1[1] = captured[2], r->f1[2] = q;
    r->f2[0] = 0x11, r->f2[1] = captured[2]; /* 0x10: in no mapping */
    r->s[0] = (hp_pprof_sample){.frames = r->f0, .depth = 3, .values = {10, 1000, 4, 400}};
    r->s[1] = (hp_pprof_sample){.frames = r->f1, .depth = 3, .values = {20, 2000, 0, 0}};
    r->s[2] = (hp_pprof_sample){.frames = r->f2, .depth = 2, .values = {1, 64, 1, 64}};
    static const char *comments[] = {"heapprof test profile"};
    r->prof = (hp_pprof_profile){r->s, 3, 512, 1700000000000000000LL, 0, comments, 1, NULL, 0};
}

static void test_real_frames_with_maps(void **state) {
    (void)state;
    real_stacks r;
    make_real_profile(&r);
    hp_maps *maps = hp_maps_new();
    d_profile *p = encode_decode(&r.prof, maps);

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_true(p->nm >= 2);
    assert_string_equal(S(p, p->m[0].filename), exe); /* executable = mapping 1 */
    assert_int_equal(p->m[0].build_id, 0);             /* see pprof.c: no build ids */

    /* locations: mid+0, outer, qsort, mid+1, 0x10 */
    assert_int_equal(p->nl, 5);
    const d_location *l_mid0 = loc(p, p->s[0].loc[0]), *l_outer = loc(p, p->s[0].loc[1]),
                     *l_q = loc(p, p->s[0].loc[2]), *l_mid1 = loc(p, p->s[1].loc[0]),
                     *l_none = loc(p, p->s[2].loc[0]);
    assert_int_equal(l_mid0->address, captured[0] - 1);
    assert_int_equal(l_mid1->address, captured[1] - 1);
    assert_int_equal(l_outer->address, captured[2] - 1);
    assert_int_equal(l_q->address, libc_qsort_ret() - 1);
    assert_int_equal(l_none->address, 0x10);
    assert_int_equal(p->s[1].loc[1], p->s[0].loc[1]); /* shared frames share ids */

    assert_int_equal(l_mid0->mapping_id, 1);
    assert_int_equal(l_outer->mapping_id, 1);
    assert_true(l_q->mapping_id > 1);
    assert_non_null(strstr(S(p, p->m[l_q->mapping_id - 1].filename), "libc"));
    assert_int_equal(l_none->mapping_id, 0);

    assert_string_equal(loc_fn_name(p, l_mid0), "hp_pprof_test_mid");
    assert_string_equal(loc_fn_name(p, l_mid1), "hp_pprof_test_mid");
    assert_int_equal(l_mid0->fn[0], l_mid1->fn[0]); /* one Function per name */
    assert_string_equal(loc_fn_name(p, l_outer), "hp_pprof_test_outer");
    assert_string_equal(loc_fn_name(p, l_q), "qsort");
    assert_null(loc_fn_name(p, l_none)); /* unknown: no line, pprof shows the address */
    assert_int_equal(p->nf, 3);
    assert_int_equal(p->s[0].val[3], 400);
    free_profile(p);
    hp_maps_free(maps);
}

/* /debug/pprof/allocs (default alloc_space) and HEAPPROF_BUILD_IDS=1: the
 * executable's mapping carries the build id maps.c read from its note. */
static void test_allocs_default_and_build_ids(void **state) {
    (void)state;
    real_stacks r;
    make_real_profile(&r);
    r.prof.default_sample_type = "alloc_space";
    r.prof.build_ids = 1;
    hp_maps *maps = hp_maps_new();
    d_profile *p = encode_decode(&r.prof, maps); /* checks the default type */
    const hp_mapping *exe = hp_maps_get(maps, 0);
    assert_non_null(exe);
    assert_true(strlen(exe->build_id) >= 16); /* the test binary is linked with a GNU build id */
    assert_string_equal(S(p, p->m[0].build_id), exe->build_id);
    free_profile(p);
    hp_maps_free(maps);
}

/* ---- the real go tool pprof ---- */

static char *run_capture(const char *cmd) {
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t r;
    while ((r = fread(out + n, 1, cap - 1 - n, f)) > 0) {
        n += r;
        if (n == cap - 1)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    int rc = pclose(f);
    if (rc != 0)
        fail_msg("`%s` failed (%d):\n%s", cmd, rc, out);
    return out;
}

static int have_go(void) {
    return system("go version >/dev/null 2>&1") == 0;
}

static void expect_in(const char *out, const char *what, const char *cmd) {
    if (!strstr(out, what))
        fail_msg("`%s` does not show \"%s\":\n%s", cmd, what, out);
}

static void test_go_tool_pprof_reads_it(void **state) {
    (void)state;
    if (!have_go())
        skip();
    real_stacks r;
    make_real_profile(&r);
    hp_maps *maps = hp_maps_new();
    uint8_t *raw, *gz;
    size_t raw_len, gz_len;
    assert_int_equal(hp_pprof_encode(&r.prof, maps, &raw, &raw_len), 0);
    assert_int_equal(hp_gzip(raw, raw_len, &gz, &gz_len), 0);
    char dir[] = "/tmp/hp_pprof_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/test.pb.gz", dir);
    assert_int_equal(hp_write_atomic(path, gz, gz_len), 0);
    hp_free(raw);
    hp_free(gz);
    hp_maps_free(maps);

    /* -raw: the decoded structure as pprof sees it. */
    snprintf(cmd, sizeof cmd, "PPROF_TMPDIR=%s go tool pprof -raw %s 2>&1", dir, path);
    char *out = run_capture(cmd);
    expect_in(out, "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]", cmd);
    expect_in(out, "PeriodType: space bytes", cmd);
    expect_in(out, "Period: 512", cmd);
    expect_in(out, "hp_pprof_test_mid", cmd);
    expect_in(out, "qsort", cmd);
    free(out);

    /* -top with no symbolization: only the names we wrote. */
    const char *names[] = {"hp_pprof_test_mid", "hp_pprof_test_outer", "qsort"};
    snprintf(cmd, sizeof cmd, "PPROF_TMPDIR=%s go tool pprof -symbolize=none -top -sample_index=alloc_space %s 2>&1",
             dir, path);
    out = run_capture(cmd);
    for (int i = 0; i < 3; i++)
        expect_in(out, names[i], cmd);
    expect_in(out, "3000B", cmd); /* alloc_space of mid: 1000 + 2000 */
    free(out);

    /* -top as a user runs it: pprof may re-symbolize from this binary. */
    snprintf(cmd, sizeof cmd, "PPROF_TMPDIR=%s go tool pprof -top %s 2>&1", dir, path);
    out = run_capture(cmd);
    for (int i = 0; i < 3; i++)
        expect_in(out, names[i], cmd);
    expect_in(out, "400B", cmd); /* inuse_space is the default */
    free(out);

    /* With the binary given and DWARF in it: file:line. (Checked on this
     * process's file: in a shell, /proc/self is the shell's command.) */
    snprintf(cmd, sizeof cmd, "readelf -S /proc/%ld/exe 2>/dev/null | grep -q debug_line", (long)getpid());
    if (system(cmd) == 0) {
        snprintf(cmd, sizeof cmd, "PPROF_TMPDIR=%s go tool pprof -lines -top /proc/%ld/exe %s 2>&1", dir,
                 (long)getpid(), path);
        out = run_capture(cmd);
        expect_in(out, "test_pprof.c:", cmd);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_without_maps),
        cmocka_unit_test(test_many_stacks),
        cmocka_unit_test(test_real_frames_with_maps),
        cmocka_unit_test(test_allocs_default_and_build_ids),
        cmocka_unit_test(test_go_tool_pprof_reads_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
