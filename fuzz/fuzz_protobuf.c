/* libFuzzer target for the protobuf writer (src/protobuf.c) and the
 * profile.proto encoder (src/pprof.c), both checked by decoding their output
 * with the small decoder below, written from the protobuf wire-format spec
 * and sharing nothing with the code under test.
 *
 * Byte 0 of the input picks the mode (bit 0) and, in one input of four, an
 * allocation to fail (bits 3..7) so the ENOMEM paths run under LeakSanitizer.
 *
 * Writer mode: the rest is a program of hp_pb_* calls (scalars, _opt forms,
 * bytes, strings, packed lists, nested messages). The output must decode
 * completely, canonically (minimal varints, lengths within bounds), into
 * exactly the fields written, in order, nested as written.
 *
 * Encoder mode: the rest describes a small profile (samples with frames that
 * are raw numbers, addresses inside this binary or libc, repeats; values;
 * comments; period and times). hp_pprof_encode's output must decode
 * completely, with string_table[0] == "", the four sample types and the
 * period type by name, the non-zero samples in order with their values
 * unchanged, each sample's locations being its frames (minus one, minus
 * leading operator-new frames), every referenced location, mapping, function
 * and string present, and the comments and scalars as given. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_alloc.h"
#include "base/internal_alloc.h"
#include "base/stack_code.h"
#include "export/maps.h"
#include "export/pprof.h"
#include "export/protobuf.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_protobuf: %s\n", what);
    abort();
}

static void check(int cond, const char *what)
{
    if (!cond)
        fail(what);
}

/* ==== reading the fuzz input ==== */

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

/* Past the end, the input reads as zeros: every input is a valid program. */
static uint8_t take8(src *s)
{
    if (s->n == 0)
        return 0;
    s->n--;
    return *s->p++;
}

/* A value of 0..8 bytes, the count chosen by the input, so small and large
 * numbers (1- to 10-byte varints) are equally easy to reach. */
static uint64_t take_var(src *s)
{
    unsigned len = take8(s) % 9;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)take8(s) << (8 * i);
    return v;
}

static int64_t as_int64(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, sizeof v); /* the two's complement reading, without an implementation-defined cast */
    return v;
}

/* ==== a minimal protobuf decoder ==== */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

/* A varint, which must be canonical: at most 10 bytes, the 10th holding only
 * bit 63, and no redundant trailing 0x00 group (hp_pb writes minimal ones). */
static uint64_t rd_varint(rd *r, size_t *nbytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        check(r->p < r->end, "varint runs past the end");
        uint8_t b = *r->p++;
        check(i < 9 || b <= 1, "10th varint byte above 1");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            check(i == 0 || b != 0, "varint not minimal");
            if (nbytes)
                *nbytes = i + 1;
            return v;
        }
    }
    fail("varint longer than 10 bytes");
    return 0;
}

typedef struct fld {
    uint32_t num;
    int wire;
    uint64_t v;      /* VARINT */
    size_t vbytes;   /* its encoded size */
    rd body;         /* LEN */
} fld;

/* The next field, or 0 at the end. Only VARINT and LEN are ever written. */
static int rd_field(rd *r, fld *f)
{
    if (r->p == r->end)
        return 0;
    uint64_t tag = rd_varint(r, NULL);
    f->wire = (int)(tag & 7);
    check((tag >> 3) >= 1 && (tag >> 3) <= 0x1fffffff, "field number outside 1..2^29-1");
    f->num = (uint32_t)(tag >> 3);
    if (f->wire == 0) {
        f->v = rd_varint(r, &f->vbytes);
    } else if (f->wire == 2) {
        uint64_t n = rd_varint(r, NULL);
        check(n <= (uint64_t)(r->end - r->p), "length past the end");
        f->body.p = r->p;
        f->body.end = r->p + n;
        r->p += n;
    } else {
        fail("wire type other than VARINT or LEN");
    }
    return 1;
}

/* A repeated varint field, packed (LEN) or not; returns the count. */
static size_t rd_repeated(const fld *f, uint64_t *out, size_t cap)
{
    size_t n = 0;
    if (f->wire == 0) {
        check(cap > 0, "too many repeated values");
        out[n++] = f->v;
        return n;
    }
    rd r = f->body;
    while (r.p < r.end) {
        check(n < cap, "too many repeated values");
        out[n++] = rd_varint(&r, NULL);
    }
    return n;
}

/* ==== mode 1: the writer ==== */

enum ev_kind { EV_VARINT, EV_BYTES, EV_PACKED, EV_BEGIN, EV_END };

#define MAX_EVENTS 512
#define MAX_PACKED 8
#define MAX_NEST 16

/* What a correct writer put in the buffer, in order. */
typedef struct ev {
    enum ev_kind kind;
    uint32_t field;
    uint64_t v;
    const uint8_t *bytes;
    size_t n;
    uint64_t list[MAX_PACKED];
} ev;

static ev g_ev[MAX_EVENTS];
static size_t g_nev;

/* Checks the fields of r against the events from *i on, until r ends; r must
 * end exactly where the events say its message ends. */
static void verify_message(rd r, size_t *i)
{
    fld f;
    while (rd_field(&r, &f)) {
        check(*i < g_nev, "more fields than written");
        const ev *e = &g_ev[(*i)++];
        check(e->kind != EV_END, "a message longer than written");
        check(f.num == e->field, "field number differs");
        switch (e->kind) {
        case EV_VARINT:
            check(f.wire == 0 && f.v == e->v, "varint field differs");
            check(hp_pb_varint_size(e->v) == f.vbytes, "hp_pb_varint_size differs from the bytes written");
            break;
        case EV_BYTES:
            check(f.wire == 2 && (size_t)(f.body.end - f.body.p) == e->n, "bytes length differs");
            check(e->n == 0 || memcmp(f.body.p, e->bytes, e->n) == 0, "bytes differ");
            break;
        case EV_PACKED: {
            uint64_t got[MAX_PACKED];
            check(f.wire == 2, "packed field not LEN");
            size_t n = rd_repeated(&f, got, MAX_PACKED);
            check(n == e->n && memcmp(got, e->list, n * sizeof *got) == 0, "packed values differ");
            break;
        }
        case EV_BEGIN:
            check(f.wire == 2, "nested message not LEN");
            verify_message(f.body, i);
            check(*i < g_nev && g_ev[*i].kind == EV_END, "nested message shorter than written");
            (*i)++;
            break;
        case EV_END:
            break;
        }
    }
}

static ev *push_event(enum ev_kind kind, uint32_t field)
{
    ev *e = &g_ev[g_nev++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->field = field;
    return e;
}

static void fuzz_writer(src *in, char *arena)
{
    hp_pb b;
    size_t marks[MAX_NEST];
    size_t depth = 0;
    hp_pb_init(&b);
    g_nev = 0;
    /* Each op pushes at most one event, and closing the open messages at the
     * end MAX_NEST more. */
    while (in->n > 0 && g_nev + 1 + MAX_NEST < MAX_EVENTS) {
        unsigned op = take8(in) % 12;
        /* Field numbers 1..2^29-1, the protobuf range. */
        uint32_t field = (uint32_t)(1 + take_var(in) % 0x1fffffff);
        uint64_t v;
        ev *e;
        switch (op) {
        case 0:
            v = take_var(in);
            hp_pb_uint64(&b, field, v);
            push_event(EV_VARINT, field)->v = v;
            break;
        case 1:
            v = take_var(in);
            hp_pb_int64(&b, field, as_int64(v));
            push_event(EV_VARINT, field)->v = v;
            break;
        case 2: {
            int flag = take8(in);
            hp_pb_bool(&b, field, flag);
            push_event(EV_VARINT, field)->v = flag != 0;
            break;
        }
        case 3:
            v = take_var(in);
            hp_pb_uint64_opt(&b, field, v);
            if (v)
                push_event(EV_VARINT, field)->v = v;
            break;
        case 4:
            v = take_var(in);
            hp_pb_int64_opt(&b, field, as_int64(v));
            if (v)
                push_event(EV_VARINT, field)->v = v;
            break;
        case 5: {
            size_t n = take8(in) % 64;
            if (n > in->n)
                n = in->n;
            hp_pb_bytes(&b, field, in->p, n);
            e = push_event(EV_BYTES, field);
            e->bytes = in->p;
            e->n = n;
            in->p += n;
            in->n -= n;
            break;
        }
        case 6: {
            /* A C string copied out of the input (it stops at a NUL); length
             * byte 255 passes NULL, which must be written as "". */
            uint8_t len = take8(in);
            size_t n = len % 64;
            if (n > in->n)
                n = in->n;
            memcpy(arena, in->p, n);
            arena[n] = '\0';
            in->p += n;
            in->n -= n;
            const char *s = len == 255 ? NULL : arena;
            hp_pb_string(&b, field, s);
            e = push_event(EV_BYTES, field);
            e->bytes = (const uint8_t *)arena;
            e->n = s ? strlen(s) : 0;
            arena += n + 1;
            break;
        }
        case 7:
        case 8: {
            size_t n = take8(in) % (MAX_PACKED + 1);
            uint64_t u[MAX_PACKED];
            int64_t s[MAX_PACKED];
            for (size_t k = 0; k < n; k++) {
                u[k] = take_var(in);
                s[k] = as_int64(u[k]);
            }
            if (op == 7)
                hp_pb_packed_uint64(&b, field, u, n);
            else
                hp_pb_packed_int64(&b, field, s, n);
            if (n > 0) { /* nothing at all is written for an empty list */
                e = push_event(EV_PACKED, field);
                e->n = n;
                memcpy(e->list, u, n * sizeof *u);
            }
            break;
        }
        case 9:
            if (depth < MAX_NEST) {
                marks[depth++] = hp_pb_begin(&b, field);
                push_event(EV_BEGIN, field);
            }
            break;
        case 10:
            if (depth > 0) {
                hp_pb_end(&b, marks[--depth]);
                push_event(EV_END, 0);
            }
            break;
        default:
            /* The two halves of a scalar field, written separately. */
            v = take_var(in);
            hp_pb_tag(&b, field, HP_PB_VARINT);
            hp_pb_varint(&b, v);
            push_event(EV_VARINT, field)->v = v;
            break;
        }
    }
    while (depth > 0) {
        hp_pb_end(&b, marks[--depth]);
        push_event(EV_END, 0);
    }

    uint8_t *out = (uint8_t *)1; /* finish must overwrite both */
    size_t len = 1;
    int rc = hp_pb_finish(&b, &out, &len);
    if (fuzz_alloc_failed()) {
        /* A failed allocation is sticky: the whole message is refused. */
        check(rc == ENOMEM && out == NULL && len == 0, "hp_pb_finish after a failed allocation");
        return;
    }
    check(rc == 0 && out != NULL, "hp_pb_finish failed without an allocation failure");
    rd r = {out, out + len};
    size_t i = 0;
    verify_message(r, &i);
    check(i == g_nev, "fewer fields than written");
    hp_free(out);
}

/* ==== mode 2: the profile encoder ==== */

#define MAX_SAMPLES 8
#define MAX_DEPTH 16
#define MAX_COMMENTS 4
#define CAP_STR 4096
#define CAP_LOC 1024
#define CAP_MAP 1024
#define CAP_FN 1024

typedef struct d_sample {
    uint64_t loc[MAX_DEPTH];
    size_t nloc;
    uint64_t val[HP_NVALUES + 1];
    size_t nval;
} d_sample;

typedef struct d_location {
    uint64_t id, mapping_id, address;
    uint64_t fn[4];
    size_t nfn;
    int used;
} d_location;

typedef struct d_mapping {
    uint64_t id, start, limit, offset, filename;
} d_mapping;

typedef struct d_function {
    uint64_t id, name, system_name;
} d_function;

typedef struct d_profile {
    rd str[CAP_STR];
    size_t nstr;
    uint64_t st_type[8], st_unit[8];
    size_t nst;
    uint64_t pt_type, pt_unit;
    size_t npt;
    d_sample s[MAX_SAMPLES + 1];
    size_t ns;
    d_location l[CAP_LOC];
    size_t nl;
    d_mapping m[CAP_MAP];
    size_t nm;
    d_function f[CAP_FN];
    size_t nf;
    uint64_t comment[MAX_COMMENTS + 1];
    size_t ncomment;
    int64_t time_nanos, duration_nanos, period, default_sample_type;
} d_profile;

static d_profile g_d; /* large: file scope rather than the stack */
static hp_maps *g_maps;

static void decode_value_type(rd r, uint64_t *type, uint64_t *unit)
{
    fld f;
    *type = *unit = 0;
    while (rd_field(&r, &f)) {
        check(f.wire == 0, "ValueType field not a varint");
        if (f.num == 1)
            *type = f.v;
        else if (f.num == 2)
            *unit = f.v;
        else
            fail("unknown ValueType field");
    }
}

static void decode_sample(rd r, d_sample *s)
{
    fld f;
    memset(s, 0, sizeof *s);
    while (rd_field(&r, &f)) {
        if (f.num == 1)
            s->nloc += rd_repeated(&f, s->loc + s->nloc, MAX_DEPTH - s->nloc);
        else if (f.num == 2)
            s->nval += rd_repeated(&f, s->val + s->nval, HP_NVALUES + 1 - s->nval);
        else
            fail("unknown Sample field");
    }
}

static void decode_location(rd r, d_location *l)
{
    fld f, g;
    memset(l, 0, sizeof *l);
    while (rd_field(&r, &f)) {
        if (f.num == 4) { /* Line */
            check(f.wire == 2 && l->nfn < 4, "Location.line");
            rd lr = f.body;
            uint64_t fn = 0;
            while (rd_field(&lr, &g)) {
                check(g.num == 1 && g.wire == 0, "unexpected Line field"); /* only function_id is written */
                fn = g.v;
            }
            l->fn[l->nfn++] = fn;
            continue;
        }
        check(f.wire == 0, "Location scalar not a varint");
        if (f.num == 1)
            l->id = f.v;
        else if (f.num == 2)
            l->mapping_id = f.v;
        else if (f.num == 3)
            l->address = f.v;
        else
            fail("unknown Location field");
    }
}

static void decode_mapping(rd r, d_mapping *m)
{
    fld f;
    memset(m, 0, sizeof *m);
    while (rd_field(&r, &f)) {
        check(f.wire == 0, "Mapping field not a varint");
        switch (f.num) {
        case 1: m->id = f.v; break;
        case 2: m->start = f.v; break;
        case 3: m->limit = f.v; break;
        case 4: m->offset = f.v; break;
        case 5: m->filename = f.v; break;
        case 6: case 7: case 8: case 9: case 10: break; /* build_id, has_* flags */
        default: fail("unknown Mapping field");
        }
    }
}

static void decode_function(rd r, d_function *fn)
{
    fld f;
    memset(fn, 0, sizeof *fn);
    while (rd_field(&r, &f)) {
        check(f.wire == 0, "Function field not a varint");
        switch (f.num) {
        case 1: fn->id = f.v; break;
        case 2: fn->name = f.v; break;
        case 3: fn->system_name = f.v; break;
        case 4: case 5: break; /* filename, start_line */
        default: fail("unknown Function field");
        }
    }
}

static void decode_profile(const uint8_t *buf, size_t len, d_profile *d)
{
    rd r = {buf, buf + len};
    fld f;
    memset(d, 0, sizeof *d);
    while (rd_field(&r, &f)) {
        switch (f.num) {
        case 1:
            check(f.wire == 2 && d->nst < 8, "sample_type");
            decode_value_type(f.body, &d->st_type[d->nst], &d->st_unit[d->nst]);
            d->nst++;
            break;
        case 2:
            check(f.wire == 2 && d->ns <= MAX_SAMPLES, "more samples than given");
            decode_sample(f.body, &d->s[d->ns++]);
            break;
        case 3:
            check(f.wire == 2 && d->nm < CAP_MAP, "mapping (raise CAP_MAP?)");
            decode_mapping(f.body, &d->m[d->nm++]);
            break;
        case 4:
            check(f.wire == 2 && d->nl < CAP_LOC, "location (raise CAP_LOC?)");
            decode_location(f.body, &d->l[d->nl++]);
            break;
        case 5:
            check(f.wire == 2 && d->nf < CAP_FN, "function (raise CAP_FN?)");
            decode_function(f.body, &d->f[d->nf++]);
            break;
        case 6:
            check(f.wire == 2 && d->nstr < CAP_STR, "string_table (raise CAP_STR?)");
            d->str[d->nstr++] = f.body;
            break;
        case 9: check(f.wire == 0, "time_nanos"); d->time_nanos = as_int64(f.v); break;
        case 10: check(f.wire == 0, "duration_nanos"); d->duration_nanos = as_int64(f.v); break;
        case 11:
            check(f.wire == 2, "period_type");
            decode_value_type(f.body, &d->pt_type, &d->pt_unit);
            d->npt++;
            break;
        case 12: check(f.wire == 0, "period"); d->period = as_int64(f.v); break;
        case 13:
            d->ncomment += rd_repeated(&f, d->comment + d->ncomment, MAX_COMMENTS + 1 - d->ncomment);
            break;
        case 14: check(f.wire == 0, "default_sample_type"); d->default_sample_type = as_int64(f.v); break;
        default: fail("unknown Profile field");
        }
    }
}

/* String table entry i equals the C string s. */
static int str_is(const d_profile *d, uint64_t i, const char *s)
{
    check(i < d->nstr, "string index outside the table");
    size_t n = strlen(s);
    return (size_t)(d->str[i].end - d->str[i].p) == n && memcmp(d->str[i].p, s, n) == 0;
}

static d_location *find_location(d_profile *d, uint64_t id)
{
    for (size_t i = 0; i < d->nl; i++)
        if (d->l[i].id == id)
            return &d->l[i];
    return NULL;
}

static const d_mapping *find_mapping(const d_profile *d, uint64_t id)
{
    for (size_t i = 0; i < d->nm; i++)
        if (d->m[i].id == id)
            return &d->m[i];
    return NULL;
}

static const d_function *find_function(const d_profile *d, uint64_t id)
{
    for (size_t i = 0; i < d->nf; i++)
        if (d->f[i].id == id)
            return &d->f[i];
    return NULL;
}

static int is_new_operator(uint64_t pc)
{
    const char *name = hp_maps_symbol(g_maps, pc);
    return name && (strncmp(name, "_Znwm", 5) == 0 || strncmp(name, "_Znam", 5) == 0);
}

/* Places frames can point at: functions of this binary, of libc, and
 * operator new (whose frames the encoder leaves out), when present. */
static uintptr_t g_anchor[8];
static size_t g_nanchor;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_maps = hp_maps_new();
    if (!g_maps)
        abort();
    hp_maps_refresh(g_maps);
    /* Load every object's symbols now: they are cached for the process, so
     * an allocation failure injected later must not hit (and skew) them. */
    for (size_t i = 0; i < hp_maps_count(g_maps); i++)
        (void)hp_maps_symbol(g_maps, hp_maps_get(g_maps, i)->start);
    g_anchor[g_nanchor++] = (uintptr_t)&LLVMFuzzerInitialize;
    g_anchor[g_nanchor++] = (uintptr_t)&decode_profile;
    g_anchor[g_nanchor++] = (uintptr_t)&hp_pprof_encode;
    g_anchor[g_nanchor++] = (uintptr_t)&getpid;
    g_anchor[g_nanchor++] = (uintptr_t)&qsort;
    static const char *const news[] = {"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t"};
    for (size_t i = 0; i < sizeof news / sizeof news[0]; i++) {
        void *p = dlsym(RTLD_DEFAULT, news[i]);
        if (p)
            g_anchor[g_nanchor++] = (uintptr_t)p;
    }
    return 0;
}

static void fuzz_encoder(src *in, char *arena)
{
    uintptr_t frames[MAX_SAMPLES][MAX_DEPTH];
    uint8_t codes[MAX_SAMPLES][HP_STACK_CODE_MAX(MAX_DEPTH)];
    hp_pprof_sample samples[MAX_SAMPLES];
    const char *comments[MAX_COMMENTS];
    uintptr_t seen[MAX_SAMPLES * MAX_DEPTH];
    size_t nseen = 0;

    hp_pprof_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.n_samples = take8(in) % (MAX_SAMPLES + 1);
    for (size_t i = 0; i < prof.n_samples; i++) {
        hp_pprof_sample *s = &samples[i];
        memset(s, 0, sizeof *s); /* no labels */
        s->frames = frames[i];
        s->depth = take8(in) % (MAX_DEPTH + 1);
        for (uint32_t k = 0; k < s->depth; k++) {
            uintptr_t fr;
            switch (take8(in) % 5) {
            case 0: fr = 0; break; /* the unwinder's end marker */
            case 1: fr = (uintptr_t)take_var(in); break;
            case 2: fr = g_anchor[take8(in) % g_nanchor] + take8(in); break;
            case 3: fr = g_anchor[take8(in) % g_nanchor] + (take_var(in) & 0xffff); break;
            default: fr = nseen ? seen[take8(in) % nseen] : 0; break; /* a repeat: one location */
            }
            frames[i][k] = fr;
            seen[nseen++] = fr;
        }
        /* Half the samples carry their stack in the profile's compact form
         * (as the stack store hands them over); the checks below compare
         * with the frames as they were. */
        if (take8(in) & 1) {
            hp_stack_encode(frames[i], s->depth, codes[i]);
            s->code = codes[i];
        }
        /* Zero often, so all-zero samples (which are dropped) come up. */
        for (int v = 0; v < HP_NVALUES; v++)
            s->values[v] = take8(in) & 1 ? as_int64(take_var(in)) : 0;
    }
    prof.samples = samples;
    prof.period = as_int64(take_var(in));
    prof.time_nanos = as_int64(take_var(in));
    prof.duration_nanos = as_int64(take_var(in));
    prof.n_comments = take8(in) % (MAX_COMMENTS + 1);
    for (size_t i = 0; i < prof.n_comments; i++) {
        uint8_t len = take8(in);
        size_t n = len % 32;
        if (n > in->n)
            n = in->n;
        memcpy(arena, in->p, n);
        arena[n] = '\0';
        in->p += n;
        in->n -= n;
        comments[i] = len == 255 ? NULL : arena; /* NULL and "" are both skipped */
        arena += n + 1;
    }
    prof.comments = comments;

    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    int rc = hp_pprof_encode(&prof, g_maps, &out, &len);
    if (rc == ENOMEM) {
        check(out == NULL && len == 0, "hp_pprof_encode's ENOMEM left an output");
        check(fuzz_alloc_failed(), "hp_pprof_encode failed without an allocation failure");
        return;
    }
    /* Some allocations may fail without failing the profile (the demangled
     * name array, the C++ mapping flags: the profile is written without
     * them), so a failure does not always mean ENOMEM. */
    check(rc == 0 && out != NULL, "hp_pprof_encode returned neither 0 nor ENOMEM");

    d_profile *d = &g_d;
    decode_profile(out, len, d);

    /* Strings: "" first; C strings, so no NUL inside. */
    check(d->nstr >= 1 && d->str[0].p == d->str[0].end, "string_table[0] is not \"\"");
    for (size_t i = 0; i < d->nstr; i++)
        check(memchr(d->str[i].p, '\0', (size_t)(d->str[i].end - d->str[i].p)) == NULL, "NUL in a string");

    /* Header. */
    static const char *const types[4][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    check(d->nst == 4, "not four sample types");
    for (size_t i = 0; i < 4; i++)
        check(str_is(d, d->st_type[i], types[i][0]) && str_is(d, d->st_unit[i], types[i][1]), "sample type names");
    check(d->npt == 1 && str_is(d, d->pt_type, "space") && str_is(d, d->pt_unit, "bytes"), "period type");
    check(d->default_sample_type >= 0 && str_is(d, (uint64_t)d->default_sample_type, "inuse_space"),
          "default sample type");
    check(d->period == prof.period, "period differs");
    check(d->time_nanos == prof.time_nanos, "time_nanos differs");
    check(d->duration_nanos == prof.duration_nanos, "duration_nanos differs");

    /* Comments: the non-empty ones, in order. */
    size_t nc = 0;
    for (size_t i = 0; i < prof.n_comments; i++) {
        if (!comments[i] || !comments[i][0])
            continue;
        check(nc < d->ncomment && str_is(d, d->comment[nc], comments[i]), "comment differs");
        nc++;
    }
    check(nc == d->ncomment, "extra comments");

    /* Tables: ids unique and non-zero; references resolve. */
    for (size_t i = 0; i < d->nm; i++) {
        check(d->m[i].id != 0 && find_mapping(d, d->m[i].id) == &d->m[i], "mapping id zero or repeated");
        check(d->m[i].filename < d->nstr && d->m[i].start <= d->m[i].limit, "mapping fields");
    }
    for (size_t i = 0; i < d->nf; i++) {
        check(d->f[i].id != 0 && find_function(d, d->f[i].id) == &d->f[i], "function id zero or repeated");
        check(d->f[i].name != 0 && d->f[i].name < d->nstr, "function name");
        check(d->f[i].system_name != 0 && d->f[i].system_name < d->nstr, "function system_name");
    }
    for (size_t i = 0; i < d->nl; i++) {
        d_location *l = &d->l[i];
        check(l->id != 0 && find_location(d, l->id) == l, "location id zero or repeated");
        if (l->mapping_id != 0) {
            const d_mapping *m = find_mapping(d, l->mapping_id);
            check(m != NULL, "location names a missing mapping");
            check(l->address >= m->start && l->address < m->limit, "location outside its mapping");
        } else {
            for (size_t k = 0; k < d->nm; k++)
                check(l->address < d->m[k].start || l->address >= d->m[k].limit, "location lost its mapping");
        }
        for (size_t k = 0; k < l->nfn; k++) {
            const d_function *fn = find_function(d, l->fn[k]);
            check(fn != NULL, "line names a missing function");
            /* The symbol as linked is what hp_maps knows for the address. */
            const char *sym = hp_maps_symbol(g_maps, l->address);
            check(sym != NULL && str_is(d, fn->system_name, sym), "function is not the address's symbol");
        }
    }

    /* Samples: the non-zero ones, in order, values unchanged; locations are
     * the non-zero frames minus one, after any leading operator-new frames. */
    size_t ds = 0;
    for (size_t i = 0; i < prof.n_samples; i++) {
        const hp_pprof_sample *s = &samples[i];
        int zero = 1;
        for (int v = 0; v < HP_NVALUES; v++)
            zero &= s->values[v] == 0;
        if (zero)
            continue;
        check(ds < d->ns, "a non-zero sample is missing");
        const d_sample *got = &d->s[ds++];
        check(got->nval == HP_NVALUES, "sample has not four values");
        for (int v = 0; v < HP_NVALUES; v++)
            check(as_int64(got->val[v]) == s->values[v], "sample value differs");

        uint64_t want[MAX_DEPTH];
        size_t nwant = 0;
        for (uint32_t k = 0; k < s->depth; k++)
            if (s->frames[k] != 0)
                want[nwant++] = (uint64_t)s->frames[k] - 1;
        check(got->nloc <= nwant, "more locations than frames");
        size_t skipped = nwant - got->nloc;
        check(skipped < s->depth || s->depth == 0, "every frame left out");
        for (size_t k = 0; k < skipped; k++)
            check(s->frames[k] != 0 && is_new_operator(want[k]), "a frame other than operator new left out");
        for (size_t k = 0; k < got->nloc; k++) {
            d_location *l = find_location(d, got->loc[k]);
            check(l != NULL, "sample names a missing location");
            check(l->address == want[skipped + k], "location address is not the frame's");
            l->used = 1;
        }
    }
    check(ds == d->ns, "an all-zero sample was written");
    for (size_t i = 0; i < d->nl; i++)
        check(d->l[i].used, "a location no sample uses");

    hp_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    src in = {data, size};
    uint8_t mode = take8(&in);
    /* Room for every string copied out of the input plus its terminator. */
    char *arena = malloc(2 * size + 16);
    if (!arena)
        return 0;
    fuzz_alloc_fail_at((mode & 6) == 0 ? (unsigned long)(mode >> 3) + 1 : 0);
    if (mode & 1)
        fuzz_encoder(&in, arena);
    else
        fuzz_writer(&in, arena);
    fuzz_alloc_fail_at(0);
    free(arena);
    return 0;
}
