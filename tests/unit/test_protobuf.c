/* The protobuf writer, checked byte for byte against the wire format and
 * read back with a decoder written here from the spec (not from the writer). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/internal_alloc.h"
#include "export/protobuf.h"

/* ---- an independent reader ---- */

typedef struct rd {
    const uint8_t *p, *end;
    int bad;
} rd;

static uint64_t rd_varint(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = 1;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

/* Reads a tag and, for LEN fields, the payload as a sub-reader. */
static void rd_field(rd *r, uint32_t *field, int *wire, uint64_t *val, rd *sub) {
    uint64_t tag = rd_varint(r);
    *field = (uint32_t)(tag >> 3);
    *wire = (int)(tag & 7);
    if (*wire == 0) {
        *val = rd_varint(r);
    } else if (*wire == 2) {
        uint64_t n = rd_varint(r);
        if (n > (uint64_t)(r->end - r->p)) {
            r->bad = 1;
            return;
        }
        sub->p = r->p;
        sub->end = r->p + n;
        sub->bad = 0;
        r->p += n;
        *val = n;
    } else {
        r->bad = 1;
    }
}

static uint8_t *finish(hp_pb *b, size_t *len) {
    uint8_t *out;
    assert_int_equal(hp_pb_finish(b, &out, len), 0);
    assert_non_null(out);
    return out;
}

static void expect_bytes(hp_pb *b, const uint8_t *want, size_t n) {
    size_t len;
    uint8_t *out = finish(b, &len);
    assert_int_equal(len, n);
    assert_memory_equal(out, want, n);
    hp_free(out);
}

/* ---- tests ---- */

static void test_varint_encoding(void **state) {
    (void)state;
    struct {
        uint64_t v;
        uint8_t bytes[10];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {300, {0xac, 0x02}, 2},
        {16383, {0xff, 0x7f}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hp_pb b;
        hp_pb_init(&b);
        hp_pb_varint(&b, cases[i].v);
        assert_int_equal(hp_pb_varint_size(cases[i].v), cases[i].n);
        expect_bytes(&b, cases[i].bytes, cases[i].n);
    }
}

static void test_scalar_fields(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    hp_pb_uint64(&b, 1, 150);     /* the spec's example: 08 96 01 */
    hp_pb_int64(&b, 2, -1);       /* int64 -1: ten bytes, not zigzag */
    hp_pb_bool(&b, 3, 7);         /* any true is 1 */
    hp_pb_uint64_opt(&b, 4, 0);   /* skipped */
    hp_pb_int64_opt(&b, 5, 0);    /* skipped */
    hp_pb_int64_opt(&b, 6, -2);   /* written */
    hp_pb_uint64(&b, 16, 1);      /* field 16: two-byte tag */
    static const uint8_t want[] = {
        0x08, 0x96, 0x01,
        0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x18, 0x01,
        0x30, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x80, 0x01, 0x01,
    };
    expect_bytes(&b, want, sizeof want);
}

static void test_strings_and_bytes(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    hp_pb_string(&b, 2, "testing"); /* spec example: 12 07 74 65 73 74 69 6e 67 */
    hp_pb_string(&b, 6, "");
    hp_pb_string(&b, 6, NULL);
    const uint8_t raw[] = {0, 1, 2};
    hp_pb_bytes(&b, 3, raw, sizeof raw);
    static const uint8_t want[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g', 0x32, 0x00,
                                   0x32, 0x00, 0x1a, 0x03, 0, 1, 2};
    expect_bytes(&b, want, sizeof want);
}

static void test_packed(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    const uint64_t u[] = {3, 270, 86942}; /* spec example: 22 06 03 8e 02 9e a7 05 */
    hp_pb_packed_uint64(&b, 4, u, 3);
    const int64_t s[] = {-1, 1};
    hp_pb_packed_int64(&b, 2, s, 2);
    hp_pb_packed_uint64(&b, 5, u, 0); /* nothing */
    static const uint8_t want[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05, 0x12, 0x0b, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01};
    expect_bytes(&b, want, sizeof want);
}

static void test_nested_messages(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    /* outer { inner { 200-byte string } ; empty {} } ; then a scalar, to see
     * that the inserted prefixes did not shift what follows. */
    char big[201];
    memset(big, 'x', 200);
    big[200] = '\0';
    size_t outer = hp_pb_begin(&b, 1);
    size_t inner = hp_pb_begin(&b, 2);
    hp_pb_string(&b, 3, big);
    hp_pb_end(&b, inner);
    size_t empty = hp_pb_begin(&b, 4);
    hp_pb_end(&b, empty);
    hp_pb_end(&b, outer);
    hp_pb_uint64(&b, 5, 42);

    size_t len;
    uint8_t *out = finish(&b, &len);
    rd r = {out, out + len, 0}, o, i, s, e;
    uint32_t f;
    int w;
    uint64_t v;
    rd_field(&r, &f, &w, &v, &o);
    assert_int_equal(f, 1);
    assert_int_equal(w, 2);
    assert_int_equal(v, 1 + 2 + (1 + 2 + 200) + 1 + 1); /* tag+len(2) inner, tag+len(0) empty */
    rd_field(&o, &f, &w, &v, &i);
    assert_int_equal(f, 2);
    assert_int_equal(v, 203);
    rd_field(&i, &f, &w, &v, &s);
    assert_int_equal(f, 3);
    assert_int_equal(v, 200);
    assert_memory_equal(s.p, big, 200);
    rd_field(&o, &f, &w, &v, &e);
    assert_int_equal(f, 4);
    assert_int_equal(v, 0);
    assert_true(o.p == o.end);
    rd_field(&r, &f, &w, &v, &e);
    assert_int_equal(f, 5);
    assert_int_equal(v, 42);
    assert_true(r.p == r.end);
    assert_false(r.bad || o.bad || i.bad);
    hp_free(out);
}

/* Many fields force the buffer through several reallocations. */
static void test_growth_round_trip(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    enum { N = 200000 };
    for (uint64_t k = 0; k < N; k++) {
        size_t m = hp_pb_begin(&b, 7);
        hp_pb_uint64(&b, 1, k * 0x9e3779b97f4a7c15ULL);
        hp_pb_end(&b, m);
    }
    size_t len;
    uint8_t *out = finish(&b, &len);
    rd r = {out, out + len, 0};
    for (uint64_t k = 0; k < N; k++) {
        rd sub;
        uint32_t f;
        int w;
        uint64_t v;
        rd_field(&r, &f, &w, &v, &sub);
        assert_int_equal(f, 7);
        rd_field(&sub, &f, &w, &v, &sub);
        assert_int_equal(f, 1);
        assert_true(v == k * 0x9e3779b97f4a7c15ULL);
    }
    assert_true(r.p == r.end);
    assert_false(r.bad);
    hp_free(out);
}

static void test_empty_message(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    size_t len = 99;
    uint8_t *out = finish(&b, &len);
    assert_int_equal(len, 0);
    hp_free(out);
}

/* A request no allocator can satisfy: the failure sticks, later writes are
 * ignored, and finish reports ENOMEM with nothing to free. */
static void test_sticky_failure(void **state) {
    (void)state;
    hp_pb b;
    hp_pb_init(&b);
    hp_pb_uint64(&b, 1, 1);
    static const uint8_t dummy;
    hp_pb_bytes(&b, 2, &dummy, SIZE_MAX / 2);
    assert_true(b.failed);
    hp_pb_uint64(&b, 3, 3);
    size_t m = hp_pb_begin(&b, 4);
    hp_pb_end(&b, m);
    uint8_t *out = (uint8_t *)&dummy;
    size_t len = 1;
    assert_int_equal(hp_pb_finish(&b, &out, &len), ENOMEM);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_null(b.data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_encoding), cmocka_unit_test(test_scalar_fields),
        cmocka_unit_test(test_strings_and_bytes), cmocka_unit_test(test_packed),
        cmocka_unit_test(test_nested_messages), cmocka_unit_test(test_growth_round_trip),
        cmocka_unit_test(test_empty_message), cmocka_unit_test(test_sticky_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
