/* A compact, exact form of a call stack for the profile's stack store: each
 * return address as the zigzag varint of its difference from the previous
 * one (innermost first). Addresses of one object are close together, so a
 * frame takes 1-3 bytes instead of 8, and ~7 where the stack crosses into
 * another object. */
#ifndef HEAPPROF_STACK_CODE_H
#define HEAPPROF_STACK_CODE_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes hp_stack_encode writes for `depth` frames. */
#define HP_STACK_CODE_MAX(depth) ((size_t)(depth) * 10u)

/* Writes the form of frames[0..depth) to out (room for
 * HP_STACK_CODE_MAX(depth)); returns its length. */
size_t hp_stack_encode(const uintptr_t *frames, uint32_t depth, uint8_t *out);

/* Reads `depth` frames back from code into out. */
void hp_stack_decode(const uint8_t *code, uint32_t depth, uintptr_t *out);

#endif
