/* A small protocol-buffer writer: just what profile.proto needs.
 *
 * The buffer grows through hp_realloc. An allocation failure is sticky: every
 * later call is a no-op and hp_pb_finish reports ENOMEM, so encoders can write
 * straight through without checking each call.
 *
 * Nested messages are written in place and their length prefix is inserted
 * afterwards (hp_pb_begin/hp_pb_end), which avoids a sizing pass. */
#ifndef HEAPPROF_PROTOBUF_H
#define HEAPPROF_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

enum hp_pb_wire { HP_PB_VARINT = 0, HP_PB_I64 = 1, HP_PB_LEN = 2, HP_PB_I32 = 5 };

typedef struct hp_pb {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* sticky: an allocation failed */
} hp_pb;

void hp_pb_init(hp_pb *b);
/* Releases the buffer (use after hp_pb_finish failed or to abandon it). */
void hp_pb_free(hp_pb *b);
/* Hands the bytes to the caller (free with hp_free). Returns 0 or ENOMEM; on
 * failure the buffer is released and *out is NULL. An empty message gives a
 * valid non-NULL buffer. */
int hp_pb_finish(hp_pb *b, uint8_t **out, size_t *out_len);

/* Number of bytes the varint encoding of v takes (1..10). */
size_t hp_pb_varint_size(uint64_t v);

void hp_pb_varint(hp_pb *b, uint64_t v);
void hp_pb_tag(hp_pb *b, uint32_t field, enum hp_pb_wire wire);

/* Scalar fields. int64 is encoded as two's complement in 10 bytes when
 * negative, as protobuf's int64 (not sint64) requires. The _opt forms skip a
 * zero value, as proto3 does for fields left at their default. */
void hp_pb_uint64(hp_pb *b, uint32_t field, uint64_t v);
void hp_pb_int64(hp_pb *b, uint32_t field, int64_t v);
void hp_pb_bool(hp_pb *b, uint32_t field, int v);
void hp_pb_uint64_opt(hp_pb *b, uint32_t field, uint64_t v);
void hp_pb_int64_opt(hp_pb *b, uint32_t field, int64_t v);

/* Length-delimited fields. A NULL string is written as "". */
void hp_pb_bytes(hp_pb *b, uint32_t field, const void *p, size_t n);
void hp_pb_string(hp_pb *b, uint32_t field, const char *s);

/* Packed repeated varints; nothing is written for n == 0. */
void hp_pb_packed_uint64(hp_pb *b, uint32_t field, const uint64_t *v, size_t n);
void hp_pb_packed_int64(hp_pb *b, uint32_t field, const int64_t *v, size_t n);

/* Nested message: begin returns a mark to pass to end, which inserts the
 * length prefix. Marks nest like parentheses. */
size_t hp_pb_begin(hp_pb *b, uint32_t field);
void hp_pb_end(hp_pb *b, size_t mark);

#endif
