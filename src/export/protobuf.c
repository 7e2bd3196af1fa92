#include "export/protobuf.h"

#include <errno.h>
#include <string.h>

#include "base/internal_alloc.h"

void hp_pb_init(hp_pb *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void hp_pb_free(hp_pb *b) {
    hp_free(b->data);
    hp_pb_init(b);
}

int hp_pb_finish(hp_pb *b, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    /* An empty message is valid protobuf; hand back a real buffer anyway so
     * callers need no special case. */
    if (!b->failed && !b->data) {
        b->data = hp_malloc(1);
        b->failed = b->data == NULL;
    }
    if (b->failed) {
        hp_pb_free(b);
        return ENOMEM;
    }
    *out = b->data;
    *out_len = b->len;
    hp_pb_init(b);
    return 0;
}

/* Makes room for n more bytes; false (and the sticky failure) when it cannot. */
static int reserve(hp_pb *b, size_t n) {
    if (b->failed)
        return 0;
    if (n <= b->cap - b->len)
        return 1;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    size_t need = b->len + n;
    /* Doubling keeps appends amortised O(1). */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = hp_realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

size_t hp_pb_varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes a varint into dst (room for 10 bytes); returns the bytes written. */
static size_t put_varint(uint8_t *dst, uint64_t v) {
    size_t i = 0;
    while (v >= 0x80) {
        dst[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[i++] = (uint8_t)v;
    return i;
}

void hp_pb_varint(hp_pb *b, uint64_t v) {
    if (!reserve(b, 10))
        return;
    b->len += put_varint(b->data + b->len, v);
}

void hp_pb_tag(hp_pb *b, uint32_t field, enum hp_pb_wire wire) {
    hp_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void hp_pb_uint64(hp_pb *b, uint32_t field, uint64_t v) {
    hp_pb_tag(b, field, HP_PB_VARINT);
    hp_pb_varint(b, v);
}

void hp_pb_int64(hp_pb *b, uint32_t field, int64_t v) {
    /* Conversion to unsigned is defined modulo 2^64: exactly the two's
     * complement bit pattern protobuf wants for negative int64. */
    hp_pb_uint64(b, field, (uint64_t)v);
}

void hp_pb_bool(hp_pb *b, uint32_t field, int v) {
    hp_pb_uint64(b, field, v ? 1 : 0);
}

void hp_pb_uint64_opt(hp_pb *b, uint32_t field, uint64_t v) {
    if (v)
        hp_pb_uint64(b, field, v);
}

void hp_pb_int64_opt(hp_pb *b, uint32_t field, int64_t v) {
    if (v)
        hp_pb_int64(b, field, v);
}

void hp_pb_bytes(hp_pb *b, uint32_t field, const void *p, size_t n) {
    hp_pb_tag(b, field, HP_PB_LEN);
    hp_pb_varint(b, n);
    if (n && reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void hp_pb_string(hp_pb *b, uint32_t field, const char *s) {
    if (!s)
        s = "";
    hp_pb_bytes(b, field, s, strlen(s));
}

void hp_pb_packed_uint64(hp_pb *b, uint32_t field, const uint64_t *v, size_t n) {
    if (n == 0)
        return;
    /* Sizing first lets the prefix go in front without moving the payload. */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += hp_pb_varint_size(v[i]);
    hp_pb_tag(b, field, HP_PB_LEN);
    hp_pb_varint(b, bytes);
    if (!reserve(b, bytes))
        return;
    for (size_t i = 0; i < n; i++)
        b->len += put_varint(b->data + b->len, v[i]);
}

void hp_pb_packed_int64(hp_pb *b, uint32_t field, const int64_t *v, size_t n) {
    if (n == 0)
        return;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += hp_pb_varint_size((uint64_t)v[i]);
    hp_pb_tag(b, field, HP_PB_LEN);
    hp_pb_varint(b, bytes);
    if (!reserve(b, bytes))
        return;
    for (size_t i = 0; i < n; i++)
        b->len += put_varint(b->data + b->len, (uint64_t)v[i]);
}

size_t hp_pb_begin(hp_pb *b, uint32_t field) {
    hp_pb_tag(b, field, HP_PB_LEN);
    return b->len; /* the body starts here; its length goes in front at end */
}

void hp_pb_end(hp_pb *b, size_t mark) {
    if (b->failed || mark > b->len)
        return;
    size_t body = b->len - mark;
    size_t k = hp_pb_varint_size(body);
    if (!reserve(b, k))
        return;
    /* Shift the body right by the prefix size. Bodies are small (one
     * sample, mapping, location or function), so the copy is cheap. */
    memmove(b->data + mark + k, b->data + mark, body);
    put_varint(b->data + mark, body);
    b->len += k;
}
