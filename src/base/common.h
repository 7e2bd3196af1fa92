/* Shared macros for every heapprof translation unit. */
#ifndef HEAPPROF_COMMON_H
#define HEAPPROF_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HP_LIKELY(x) __builtin_expect(!!(x), 1)
#define HP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HP_NOINLINE __attribute__((noinline))
#define HP_CACHELINE 64

/* Thread-locals of a preloaded library must be initial-exec: the general-dynamic
 * model may call __tls_get_addr, which can allocate and recurse into malloc. */
#define HP_TLS __thread __attribute__((tls_model("initial-exec")))

/* The library's only exported symbols are the interposed libc functions and
 * the heapprof_* API; everything else is built with -fvisibility=hidden. */
#define HP_EXPORT __attribute__((visibility("default")))

#define HP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A 64-bit finaliser (MurmurHash3's fmix64): every output bit depends on
 * every input bit. */
static inline uint64_t hp_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Nanoseconds on `clock` (CLOCK_MONOTONIC for schedules and deadlines,
 * CLOCK_REALTIME for the time written into a profile). A vDSO call: no
 * system call, safe on any thread. */
static inline uint64_t hp_now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Copies n words (stack frames on the sampling path, ~10-60 of them). A
 * memcpy of a variable size is inlined here as `rep movsq`, whose start-up
 * costs about as much as copying 20 words; the empty asm on the index keeps
 * the compiler from turning these loops back into one. */
static inline void hp_copy_words(uintptr_t *dst, const uintptr_t *src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __asm__("" : "+r"(i));
        __builtin_memcpy(dst + i, src + i, 4 * sizeof *dst); /* constant size: two 16-byte moves */
    }
    for (; i < n; i++) {
        __asm__("" : "+r"(i));
        dst[i] = src[i];
    }
}

/* Value of a hexadecimal digit, -1 for anything else (locale-independent,
 * unlike isxdigit: parsing may run inside the program's first malloc). */
static inline int hp_hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
