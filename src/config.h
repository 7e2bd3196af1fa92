/* Every HEAPPROF_* environment variable, parsed and validated once.
 *
 * A bad value never stops the host: it prints one line
 *   heapprof: HEAPPROF_RATE="abc" is not a byte count; using 524288
 * and the default is used instead. */
#ifndef HEAPPROF_CONFIG_H
#define HEAPPROF_CONFIG_H

#include <stdint.h>

#define HP_OUT_PREFIX_MAX 1024

typedef struct hp_config {
    uint64_t rate;          /* HEAPPROF_RATE: mean bytes between samples; 0 = off, 1 = every allocation */
    uint64_t seed;          /* HEAPPROF_SEED: PRNG seed; only meaningful when seed_set */
    int seed_set;
    unsigned depth;         /* HEAPPROF_DEPTH: max frames per stack, 1..256 */
    uint64_t interval_ns;   /* HEAPPROF_INTERVAL (seconds, decimals ok): periodic dump; 0 = exit/on demand only */
    uint64_t flush_ns;      /* HEAPPROF_FLUSH_MS: how often the flusher drains the rings */
    char out_prefix[HP_OUT_PREFIX_MAX]; /* HEAPPROF_OUT: files are <prefix>.<pid>.<seq>.pb.gz */
} hp_config;

#define HP_DEFAULT_RATE 524288u
#define HP_DEFAULT_DEPTH 64u
#define HP_MAX_DEPTH 256u
#define HP_DEFAULT_INTERVAL_NS (60ull * 1000000000ull)
#define HP_DEFAULT_FLUSH_NS (100ull * 1000000ull)
#define HP_DEFAULT_OUT "heapprof"

/* Looks a variable up; NULL when unset. Production passes secure_getenv. */
typedef const char *(*hp_getenv_fn)(const char *name);
/* Receives one complete warning line (no trailing newline). */
typedef void (*hp_warn_fn)(const char *line);

/* Fills *cfg from the environment. Never fails: bad values warn and fall back. */
void hp_config_load(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn);

/* The production warn function: writes line + "\n" to fd 2 in one write(2),
 * without stdio or malloc, preserving errno. */
void hp_config_warn_stderr(const char *line);

/* The parsers behind it, exposed for tests and for the future HTTP/API code.
 * Each returns 0 on success, -1 when the text is not acceptable. */
int hp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
int hp_parse_bytes(const char *text, uint64_t max, uint64_t *out); /* accepts k/K/m/M/g/G (KiB...) suffixes */
int hp_parse_seconds_ns(const char *text, uint64_t max_ns, uint64_t *out_ns); /* "2", "0.5", "1.25" */

#endif
