/* Heap profile in profile.proto form (the format of Go's /debug/pprof/heap).
 *
 * The caller hands over aggregated samples (already un-sampled estimates);
 * this module adds mappings, locations and function names from hp_maps and
 * encodes the message. Gzip and file writing live in dump.h. */
#ifndef HEAPPROF_PPROF_H
#define HEAPPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "export/maps.h"

/* Value order is Go's: alloc_objects, alloc_space, inuse_objects, inuse_space. */
enum { HP_V_ALLOC_OBJECTS, HP_V_ALLOC_SPACE, HP_V_INUSE_OBJECTS, HP_V_INUSE_SPACE, HP_NVALUES };

typedef struct hp_pprof_sample {
    /* The stack: return addresses as captured, innermost first, either as
     * they are (frames) or, when code is set, in the compact form of
     * base/stack_code.h (the profile's stack store). Read them through
     * hp_pprof_sample_frames. */
    const uintptr_t *frames;
    const uint8_t *code;
    uint32_t depth;
    int64_t values[HP_NVALUES];
    int64_t bytes_label; /* numeric label "bytes" (unit bytes) when > 0, as Go's heap profile */
    int64_t age_label;   /* numeric label "age" (unit seconds) when has_age */
    int has_age;         /* zero (a sample without labels) means no label */
} hp_pprof_sample;

/* The sample's frames: s->frames, or its code decoded into buf (room for
 * s->depth frames, at most HP_MAX_DEPTH). */
const uintptr_t *hp_pprof_sample_frames(const hp_pprof_sample *s, uintptr_t *buf);

typedef struct hp_pprof_profile {
    const hp_pprof_sample *samples;
    size_t n_samples;
    int64_t period;          /* the sampling rate in bytes (period_type space/bytes) */
    int64_t time_nanos;      /* wall clock of the dump */
    int64_t duration_nanos;  /* 0 unless a delta profile */
    const char *const *comments;
    size_t n_comments;
    const char *default_sample_type; /* NULL = "inuse_space" (/heap); "alloc_space" for /allocs */
    int build_ids;           /* 1: each mapping's GNU build ID (HEAPPROF_BUILD_IDS); 0: none */
} hp_pprof_profile;

/* Encodes the profile (uncompressed protobuf) into a buffer from hp_malloc,
 * which the caller releases with hp_free. Returns 0, or ENOMEM. */
int hp_pprof_encode(const hp_pprof_profile *prof, hp_maps *maps, uint8_t **out, size_t *out_len);

#endif
