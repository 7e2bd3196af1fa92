#include "base/stack_code.h"

size_t hp_stack_encode(const uintptr_t *frames, uint32_t depth, uint8_t *out) {
    uint8_t *o = out;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < depth; i++) {
        uint64_t d = (uint64_t)frames[i] - prev; /* modular: any two addresses */
        prev = (uint64_t)frames[i];
        uint64_t z = d << 1 ^ (uint64_t)-(int64_t)(d >> 63); /* zigzag: small either way */
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
