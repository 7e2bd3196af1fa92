#include "base/stack_code.h"

#include <string.h>

#include "base/common.h"

/* The varint of z < 2^56 as one little-endian word: its 7-bit groups
 * spread to bytes, the continuation bit on every byte but the last. No
 * branch on the length: a frame takes 1, 2 or 3 bytes in no predictable
 * order, and a loop that tests each byte mispredicts about once a frame. */
static inline uint64_t varint_word(uint64_t z, unsigned nbytes) {
    uint64_t w = (z & 0x7f) | (z << 1 & 0x7f00) | (z << 2 & 0x7f0000) | (z << 3 & 0x7f000000) |
                 (z << 4 & 0x7f00000000) | (z << 5 & 0x7f0000000000) | (z << 6 & 0x7f000000000000) |
                 (z << 7 & 0x7f00000000000000);
    return w | (UINT64_C(0x8080808080808080) & ((UINT64_C(1) << (8 * (nbytes - 1))) - 1));
}

size_t hp_stack_encode(const uintptr_t *frames, uint32_t depth, uint8_t *out) {
    uint8_t *o = out;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < depth; i++) {
        uint64_t d = (uint64_t)frames[i] - prev; /* modular: any two addresses */
        prev = (uint64_t)frames[i];
        uint64_t z = d << 1 ^ (uint64_t)-(int64_t)(d >> 63); /* zigzag: small either way */
        if (HP_LIKELY(z < (UINT64_C(1) << 56))) {
            /* 1 to 8 bytes. Writes 8: before frame i at most 10 i bytes are
             * used, so this ends within the 10 (i + 1) of HP_STACK_CODE_MAX. */
            unsigned bits = 64 - (unsigned)__builtin_clzll(z | 1);
            unsigned nbytes = (bits + 6) / 7;
            uint64_t w = varint_word(z, nbytes);
            memcpy(o, &w, sizeof w);
            o += nbytes;
            continue;
        }
        while (z >= 0x80) {
            *o++ = (uint8_t)(z | 0x80);
            z >>= 7;
        }
        *o++ = (uint8_t)z;
    }
    return (size_t)(o - out);
}

void hp_stack_decode(const uint8_t *code, uint32_t depth, uintptr_t *out) {
    uint64_t prev = 0;
    for (uint32_t i = 0; i < depth; i++) {
        uint64_t z = 0;
        unsigned shift = 0;
        uint8_t b;
        do {
            b = *code++;
            if (shift < 64)
                z |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
        } while (b & 0x80);
        uint64_t d = z >> 1 ^ (uint64_t)-(int64_t)(z & 1);
        prev += d;
        out[i] = (uintptr_t)prev;
    }
}
