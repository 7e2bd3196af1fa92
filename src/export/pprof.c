/* profile.proto encoder.
 *
 * Field numbers are those of github.com/google/pprof/proto/profile.proto.
 * Everything is built in one buffer: samples first (interning locations as
 * they appear), then mappings, locations, functions, and the string table
 * last, once every string has its index.
 *
 * Symbols and build ids. Function names come from the ELF symbol tables
 * in-process, so `go tool pprof -top profile` names functions with no binary
 * at hand. Mapping.has_functions stays false: it tells pprof the mapping may
 * still be symbolized, so when the file (or a binary given on the command
 * line) has DWARF, pprof replaces our names with its own and adds file:line.
 * C++ names (which frames to skip, demangling): export/cxx_names.h.
 *
 * Go 1.19 caveat, measured: when pprof finds the binary (at its recorded
 * path or given on the command line) it replaces every line of every
 * location of that mapping with what its DWARF reader says, and that reader
 * returns an EMPTY name for C++ member functions defined out of class
 * (DW_AT_specification is not followed), shown as [binary]. So a mapping
 * whose sampled functions include C++ (_Z) symbols gets has_functions=true:
 * pprof keeps our names (`list` on such a binary then needs
 * `-symbolize=force` with a pprof that reads C++ DWARF well, e.g. standalone
 * pprof with addr2line). Mappings of plain C keep has_functions=false and
 * get file:line from DWARF.
 *
 * Build ids are NOT written by default (HEAPPROF_BUILD_IDS=1 writes them, for
 * stores that match binaries by build id). Measured with Go 1.19.8's `go tool pprof` on a
 * PIE built with -g, one profile written each way:
 *   - binary still at its recorded path: both variants show DWARF file:line;
 *   - `go tool pprof -lines BINARY profile`, binary moved elsewhere: both work
 *     (its symbolizer skips the build-id check when the file reports "");
 *   - binary absent: both show the in-profile ELF names;
 *   - PPROF_BINARY_PATH=DIR holding the moved binary: works only WITHOUT a
 *     build id. With one, pprof prints "Ignoring local file DIR/prog:
 *     build-id mismatch (b47d21... != )": Go's object reader returns "" for
 *     native binaries, so the right file is rejected (google/pprof#455).
 * So omitting build ids loses nothing with Go 1.19 and keeps the search path
 * usable. Profile stores (Parca, debuginfod, symbol servers) and newer
 * standalone pprof ($PPROF_BINARY_PATH/<id>/) find binaries by build id:
 * prof->build_ids (HEAPPROF_BUILD_IDS=1) writes hp_mapping.build_id, read
 * from the object's mapped PT_NOTE by maps.c. */
#include "export/pprof.h"

#include <errno.h>
#include <string.h>

#include "base/common.h"
#include "base/internal_alloc.h"
#include "base/stack_code.h"
#include "export/cxx_names.h"
#include "export/protobuf.h"

/* profile.proto field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,

    VALUETYPE_TYPE = 1,
    VALUETYPE_UNIT = 2,

    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    SAMPLE_LABEL = 3,

    LABEL_KEY = 1,
    LABEL_NUM = 3,
    LABEL_NUM_UNIT = 4,

    MAPPING_ID = 1,
    MAPPING_START = 2,
    MAPPING_LIMIT = 3,
    MAPPING_OFFSET = 4,
    MAPPING_FILENAME = 5,
    MAPPING_BUILD_ID = 6,
    MAPPING_HAS_FUNCTIONS = 7,

    LOCATION_ID = 1,
    LOCATION_MAPPING_ID = 2,
    LOCATION_ADDRESS = 3,
    LOCATION_LINE = 4,

    LINE_FUNCTION_ID = 1,

    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
};

/* ---- a growable array of 64-bit values ---- */

typedef struct u64vec {
    uint64_t *v;
    size_t n, cap;
} u64vec;

static int vec_push(u64vec *a, uint64_t x) {
    if (a->n == a->cap) {
        uint64_t *v = hp_array_grow(a->v, &a->cap, sizeof *v, 64, SIZE_MAX);
        if (!v)
            return -1;
        a->v = v;
    }
    a->v[a->n++] = x;
    return 0;
}

/* ---- open-addressing hash tables. Slots hold ids >= 1; 0 means empty. ---- */

typedef struct idtable {
    uint32_t *slot;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t used;
} idtable;

static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return hp_mix64(h);
}

static int table_init(idtable *t, size_t cap) {
    t->slot = hp_calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    t->used = 0;
    return t->slot ? 0 : -1;
}

/* The encoder's state. Strings are borrowed, not copied: every one outlives
 * the encode call (literals, the caller's comments, hp_maps' paths and
 * symbols, which live until hp_maps_free). */
typedef struct enc {
    hp_pb pb;
    const char **strs;
    size_t nstrs, strs_cap;
    idtable str_index;  /* string -> index in strs (index 0, "", not stored) */
    u64vec loc_addr;    /* location id - 1 -> address */
    idtable loc_index;  /* address -> location id */
    u64vec fn_name;     /* function id - 1 -> string index of its name */
    idtable fn_index;   /* string index of name -> function id */
    hp_maps *maps;
    size_t nmaps;       /* mappings in the profile: those known at refresh */
    int failed;
    unsigned char *keep_names; /* per mapping: has C++ symbols, see write_mappings */
    hp_demangler demangler; /* readable C++ names, freed with the encoder */
} enc;

/* Grows a table to keep it at most half full. key_of gives the hash of an
 * existing id so entries can be re-placed. */
static int table_grow(enc *e, idtable *t, uint64_t (*key_of)(const enc *, uint32_t)) {
    if ((t->used + 1) * 2 <= t->mask + 1)
        return 0;
    idtable bigger;
    if (table_init(&bigger, (t->mask + 1) * 2) != 0)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        uint32_t id = t->slot[i];
        if (!id)
            continue;
        size_t j = key_of(e, id) & bigger.mask;
        while (bigger.slot[j])
            j = (j + 1) & bigger.mask;
        bigger.slot[j] = id;
    }
    bigger.used = t->used;
    hp_free(t->slot);
    *t = bigger;
    return 0;
}

/* ---- strings ---- */

static uint64_t str_key(const enc *e, uint32_t id) {
    return hash_str(e->strs[id]);
}

/* Index of s in the string table, adding it if new; 0 for "" and on failure
 * (the failure is sticky and reported at the end). */
static uint64_t intern(enc *e, const char *s) {
    if (!s || !s[0] || e->failed)
        return 0;
    if (table_grow(e, &e->str_index, str_key) != 0)
        goto fail;
    uint64_t h = hash_str(s);
    size_t j = h & e->str_index.mask;
    for (uint32_t id; (id = e->str_index.slot[j]) != 0; j = (j + 1) & e->str_index.mask)
        if (strcmp(e->strs[id], s) == 0)
            return id;
    if (e->nstrs == e->strs_cap) {
        const char **v = hp_array_grow(e->strs, &e->strs_cap, sizeof *v, 64, SIZE_MAX);
        if (!v)
            goto fail;
        e->strs = v;
    }
    if (e->nstrs > UINT32_MAX - 1)
        goto fail;
    uint32_t id = (uint32_t)e->nstrs;
    e->strs[e->nstrs++] = s;
    e->str_index.slot[j] = id;
    e->str_index.used++;
    return id;
fail:
    e->failed = 1;
    return 0;
}

/* ---- locations ---- */

static uint64_t loc_key(const enc *e, uint32_t id) {
    return hp_mix64(e->loc_addr.v[id - 1]);
}

/* Location id of a program counter, one per distinct address. */
static uint64_t location_id(enc *e, uint64_t pc) {
    if (e->failed)
        return 0;
    if (table_grow(e, &e->loc_index, loc_key) != 0)
        goto fail;
    size_t j = hp_mix64(pc) & e->loc_index.mask;
    for (uint32_t id; (id = e->loc_index.slot[j]) != 0; j = (j + 1) & e->loc_index.mask)
        if (e->loc_addr.v[id - 1] == pc)
            return id;
    if (e->loc_addr.n >= UINT32_MAX - 1 || vec_push(&e->loc_addr, pc) != 0)
        goto fail;
    uint32_t id = (uint32_t)e->loc_addr.n;
    e->loc_index.slot[j] = id;
    e->loc_index.used++;
    return id;
fail:
    e->failed = 1;
    return 0;
}

/* ---- functions ---- */

static uint64_t fn_key(const enc *e, uint32_t id) {
    return hp_mix64(e->fn_name.v[id - 1]);
}

/* Function id for a symbol name, one per distinct name; 0 for none. */
static uint64_t function_id(enc *e, const char *name) {
    uint64_t s = intern(e, name);
    if (s == 0 || e->failed)
        return 0;
    if (table_grow(e, &e->fn_index, fn_key) != 0)
        goto fail;
    size_t j = hp_mix64(s) & e->fn_index.mask;
    for (uint32_t id; (id = e->fn_index.slot[j]) != 0; j = (j + 1) & e->fn_index.mask)
        if (e->fn_name.v[id - 1] == s)
            return id;
    if (vec_push(&e->fn_name, s) != 0)
        goto fail;
    uint32_t id = (uint32_t)e->fn_name.n;
    e->fn_index.slot[j] = id;
    e->fn_index.used++;
    return id;
fail:
    e->failed = 1;
    return 0;
}

/* ---- the messages ---- */

static void write_value_type(enc *e, uint32_t field, const char *type, const char *unit) {
    uint64_t t = intern(e, type), u = intern(e, unit);
    size_t m = hp_pb_begin(&e->pb, field);
    hp_pb_uint64_opt(&e->pb, VALUETYPE_TYPE, t);
    hp_pb_uint64_opt(&e->pb, VALUETYPE_UNIT, u);
    hp_pb_end(&e->pb, m);
}

static int all_zero(const int64_t *v) {
    for (int i = 0; i < HP_NVALUES; i++)
        if (v[i])
            return 0;
    return 1;
}

/* operator new and new[] are left out like our own frames (cxx_names.h). */
static int is_allocation_wrapper(enc *e, uint64_t pc) {
    return hp_cxx_is_allocation_wrapper(hp_maps_symbol(e->maps, pc));
}

/* A numeric Label. num_unit makes pprof read `-tagfocus age=60s:` and
 * `bytes=1MB:` in the label's own unit (Go writes "bytes" without a unit,
 * which pprof also takes as bytes for the key "bytes"). */
static void write_num_label(enc *e, const char *key, int64_t num, const char *unit) {
    uint64_t k = intern(e, key), u = intern(e, unit);
    size_t m = hp_pb_begin(&e->pb, SAMPLE_LABEL);
    hp_pb_uint64(&e->pb, LABEL_KEY, k);
    hp_pb_int64(&e->pb, LABEL_NUM, num);
    hp_pb_uint64_opt(&e->pb, LABEL_NUM_UNIT, u);
    hp_pb_end(&e->pb, m);
}

const uintptr_t *hp_pprof_sample_frames(const hp_pprof_sample *s, uintptr_t *buf) {
    if (!s->code)
        return s->frames;
    hp_stack_decode(s->code, s->depth, buf);
    return buf;
}

/* One Sample. Frames are return addresses; the call instruction is the byte
 * before, so pc = ret - 1 lands in the caller's line, not the next one.
 * ids and fbuf are scratch space for depth entries. */
static void write_sample(enc *e, const hp_pprof_sample *s, uint64_t *ids, uintptr_t *fbuf) {
    size_t n = 0;
    uint32_t first = 0;
    const uintptr_t *frames = hp_pprof_sample_frames(s, fbuf);
    while (first + 1 < s->depth && frames[first] && is_allocation_wrapper(e, (uint64_t)frames[first] - 1))
        first++;
    for (uint32_t i = first; i < s->depth; i++) {
        if (frames[i] == 0)
            continue; /* an unwinder's end marker, not a place */
        uint64_t id = location_id(e, (uint64_t)frames[i] - 1);
        if (id)
            ids[n++] = id;
    }
    size_t m = hp_pb_begin(&e->pb, PROFILE_SAMPLE);
    hp_pb_packed_uint64(&e->pb, SAMPLE_LOCATION_ID, ids, n);
    hp_pb_packed_int64(&e->pb, SAMPLE_VALUE, s->values, HP_NVALUES);
    if (s->bytes_label > 0)
        write_num_label(e, "bytes", s->bytes_label, "bytes");
    if (s->has_age)
        write_num_label(e, "age", s->age_label, "seconds");
    hp_pb_end(&e->pb, m);
}

static int write_samples(enc *e, const hp_pprof_profile *prof) {
    uint32_t max_depth = 1;
    for (size_t i = 0; i < prof->n_samples; i++)
        if (prof->samples[i].depth > max_depth)
            max_depth = prof->samples[i].depth;
    uint64_t *ids = hp_malloc((size_t)max_depth * sizeof *ids);
    uintptr_t *fbuf = hp_malloc((size_t)max_depth * sizeof *fbuf);
    if (!ids || !fbuf) {
        hp_free(ids);
        hp_free(fbuf);
        return -1;
    }
    for (size_t i = 0; i < prof->n_samples && !e->failed; i++) {
        /* A stack with nothing allocated and nothing in use adds nothing
         * to any view; leaving it out keeps the file small. */
        if (!all_zero(prof->samples[i].values))
            write_sample(e, &prof->samples[i], ids, fbuf);
    }
    hp_free(ids);
    hp_free(fbuf);
    return 0;
}

static void write_mappings(enc *e, int build_ids) {
    for (size_t i = 0; i < e->nmaps; i++) {
        const hp_mapping *mp = hp_maps_get(e->maps, i);
        if (!mp)
            break;
        uint64_t file = intern(e, mp->path);
        size_t m = hp_pb_begin(&e->pb, PROFILE_MAPPING);
        hp_pb_uint64(&e->pb, MAPPING_ID, i + 1);
        hp_pb_uint64_opt(&e->pb, MAPPING_START, mp->start);
        hp_pb_uint64_opt(&e->pb, MAPPING_LIMIT, mp->limit);
        hp_pb_uint64_opt(&e->pb, MAPPING_OFFSET, mp->offset);
        hp_pb_uint64_opt(&e->pb, MAPPING_FILENAME, file);
        if (build_ids) /* off by default: see the header comment */
            hp_pb_uint64_opt(&e->pb, MAPPING_BUILD_ID, intern(e, mp->build_id));
        /* has_functions stays false so pprof adds file:line from DWARF, except
         * for objects with C++ symbols, whose member functions Go 1.19's
         * DWARF reader leaves nameless (see the header comment). */
        if (e->keep_names && e->keep_names[i])
            hp_pb_bool(&e->pb, MAPPING_HAS_FUNCTIONS, 1);
        hp_pb_end(&e->pb, m);
    }
}

static void write_location(enc *e, uint64_t id, uint64_t pc) {
    long mi = hp_maps_find(e->maps, pc);
    /* A mapping added by a concurrent refresh is not in this profile. */
    uint64_t mapping_id = mi >= 0 && (size_t)mi < e->nmaps ? (uint64_t)mi + 1 : 0;
    const char *sym = mapping_id ? hp_maps_symbol(e->maps, pc) : NULL;
    uint64_t fn = sym ? function_id(e, sym) : 0;
    if (e->keep_names && hp_cxx_is_mangled(sym))
        e->keep_names[mapping_id - 1] = 1;
    size_t m = hp_pb_begin(&e->pb, PROFILE_LOCATION);
    hp_pb_uint64(&e->pb, LOCATION_ID, id);
    hp_pb_uint64_opt(&e->pb, LOCATION_MAPPING_ID, mapping_id);
    hp_pb_uint64_opt(&e->pb, LOCATION_ADDRESS, pc);
    if (fn) {
        /* No line number: pprof then shows the function alone, and fills
         * lines from DWARF when it can. Unknown symbol: no Line at all, so
         * pprof shows the address. */
        size_t l = hp_pb_begin(&e->pb, LOCATION_LINE);
        hp_pb_uint64(&e->pb, LINE_FUNCTION_ID, fn);
        hp_pb_end(&e->pb, l);
    }
    hp_pb_end(&e->pb, m);
}

static void write_locations(enc *e) {
    /* loc_addr can grow only through location_id, not here: a fixed count. */
    size_t n = e->loc_addr.n;
    for (size_t i = 0; i < n && !e->failed; i++)
        write_location(e, i + 1, e->loc_addr.v[i]);
}

static void write_functions(enc *e) {
    hp_demangler_init(&e->demangler);
    for (size_t i = 0; i < e->fn_name.n; i++) {
        /* name is what people read; system_name keeps the symbol as linked. */
        const char *text = hp_demangle(&e->demangler, e->strs[e->fn_name.v[i]]);
        uint64_t name = text ? intern(e, text) : 0;
        size_t m = hp_pb_begin(&e->pb, PROFILE_FUNCTION);
        hp_pb_uint64(&e->pb, FUNCTION_ID, i + 1);
        hp_pb_uint64(&e->pb, FUNCTION_NAME, name ? name : e->fn_name.v[i]);
        hp_pb_uint64(&e->pb, FUNCTION_SYSTEM_NAME, e->fn_name.v[i]);
        hp_pb_end(&e->pb, m);
    }
}

static void write_comments(enc *e, const hp_pprof_profile *prof) {
    if (prof->n_comments == 0)
        return;
    int64_t *ids = hp_malloc(prof->n_comments * sizeof *ids);
    if (!ids) {
        e->failed = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < prof->n_comments; i++)
        if (prof->comments[i] && prof->comments[i][0])
            ids[n++] = (int64_t)intern(e, prof->comments[i]);
    hp_pb_packed_int64(&e->pb, PROFILE_COMMENT, ids, n);
    hp_free(ids);
}

static void write_header(enc *e, const hp_pprof_profile *prof) {
    /* Go's order, so our profiles and Go's read (and diff) alike. */
    write_value_type(e, PROFILE_SAMPLE_TYPE, "alloc_objects", "count");
    write_value_type(e, PROFILE_SAMPLE_TYPE, "alloc_space", "bytes");
    write_value_type(e, PROFILE_SAMPLE_TYPE, "inuse_objects", "count");
    write_value_type(e, PROFILE_SAMPLE_TYPE, "inuse_space", "bytes");
    write_value_type(e, PROFILE_PERIOD_TYPE, "space", "bytes");
    hp_pb_int64_opt(&e->pb, PROFILE_PERIOD, prof->period);
    hp_pb_int64_opt(&e->pb, PROFILE_TIME_NANOS, prof->time_nanos);
    hp_pb_int64_opt(&e->pb, PROFILE_DURATION_NANOS, prof->duration_nanos);
    const char *dflt = prof->default_sample_type ? prof->default_sample_type : "inuse_space";
    hp_pb_int64(&e->pb, PROFILE_DEFAULT_SAMPLE_TYPE, (int64_t)intern(e, dflt));
    write_comments(e, prof);
}

static void write_string_table(enc *e) {
    hp_pb_string(&e->pb, PROFILE_STRING_TABLE, ""); /* index 0 must be "" */
    for (size_t i = 1; i < e->nstrs; i++)
        hp_pb_string(&e->pb, PROFILE_STRING_TABLE, e->strs[i]);
}

static int enc_init(enc *e, hp_maps *maps) {
    memset(e, 0, sizeof *e);
    hp_pb_init(&e->pb);
    e->maps = maps;
    e->strs_cap = 64;
    e->strs = hp_malloc(e->strs_cap * sizeof *e->strs);
    if (!e->strs)
        return -1;
    e->strs[0] = "";
    e->nstrs = 1;
    if (table_init(&e->str_index, 64) || table_init(&e->loc_index, 256) || table_init(&e->fn_index, 64))
        return -1;
    return 0;
}

static void enc_release(enc *e) {
    hp_free(e->keep_names);
    hp_demangler_release(&e->demangler);
    hp_pb_free(&e->pb);
    hp_free(e->strs);
    hp_free(e->str_index.slot);
    hp_free(e->loc_addr.v);
    hp_free(e->loc_index.slot);
    hp_free(e->fn_name.v);
    hp_free(e->fn_index.slot);
}

int hp_pprof_encode(const hp_pprof_profile *prof, hp_maps *maps, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    enc e;
    if (enc_init(&e, maps) != 0) {
        enc_release(&e);
        return ENOMEM;
    }
    /* Catch objects loaded since the last dump; cheap when nothing changed.
     * The count is fixed now so every location refers to a written mapping. */
    hp_maps_refresh(maps);
    e.nmaps = hp_maps_count(maps);

    write_header(&e, prof);
    if (write_samples(&e, prof) != 0)
        e.failed = 1;
    e.keep_names = hp_calloc(e.nmaps ? e.nmaps : 1, 1);
    write_locations(&e); /* before the mappings: it finds which hold C++ */
    write_mappings(&e, prof->build_ids);
    write_functions(&e);
    write_string_table(&e);

    int rc = ENOMEM;
    if (!e.failed)
        rc = hp_pb_finish(&e.pb, out, out_len);
    enc_release(&e);
    return rc;
}
