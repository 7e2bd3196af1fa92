/* Every HEAPPROF_* environment variable, parsed and validated once.
 *
 * A bad value never stops the host: it prints one line
 *   heapprof: HEAPPROF_RATE="abc" is not a byte count; using 524288
 * and the default is used instead. */
#ifndef HEAPPROF_CONFIG_H
#define HEAPPROF_CONFIG_H

#include <stdint.h>

#define HP_OUT_PREFIX_MAX 1024

/* HEAPPROF_HTTP, parsed: where the /debug/pprof server listens. */
typedef struct hp_http_config {
    int family;             /* 0 = no server, else HP_HTTP_INET or HP_HTTP_INET6 */
    unsigned char addr[16]; /* network byte order; the first 4 bytes for HP_HTTP_INET */
    uint16_t port;          /* 1..65535 */
    int loopback;           /* 127.0.0.0/8 or ::1: only this machine can connect */
} hp_http_config;

/* Address families of hp_http_config, kept apart from <sys/socket.h> so this
 * header stays light; http_server.c maps them to AF_INET/AF_INET6. */
#define HP_HTTP_INET 4
#define HP_HTTP_INET6 6

typedef struct hp_config {
    uint64_t rate;          /* HEAPPROF_RATE: mean bytes between samples; 0 = off, 1 = every allocation */
    uint64_t seed;          /* HEAPPROF_SEED: PRNG seed; only meaningful when seed_set */
    int seed_set;
    unsigned depth;         /* HEAPPROF_DEPTH: max frames per stack, 1..256 */
    uint64_t interval_ns;   /* HEAPPROF_INTERVAL (seconds, decimals ok): periodic dump; 0 = exit/on demand only */
    uint64_t flush_ns;      /* HEAPPROF_FLUSH_MS: how often the flusher drains the rings */
    char out_prefix[HP_OUT_PREFIX_MAX]; /* HEAPPROF_OUT: files are <prefix>.<pid>.<seq>.pb.gz */
    hp_http_config http;    /* HEAPPROF_HTTP: [addr]:port of the /debug/pprof server; off by default */
    int dump_signal;        /* HEAPPROF_SIGNAL: signal number that requests a dump; 0 = off (default) */
    int control_signal;     /* HEAPPROF_CONTROL_SIGNAL: signal whose sigqueue value sets the rate; 0 = off */
    int headers;            /* HEAPPROF_HEADERS: 1 (default) = pad sampled blocks over glibc; 0 = address set */
    int children;           /* HEAPPROF_CHILDREN: 1 (default) = forked and exec'd children are profiled too;
                               0 = only the process started (and the programs it execs itself) */
    int build_ids;          /* HEAPPROF_BUILD_IDS: 1 = profiles carry each mapping's GNU build ID; 0 (default) = not */
    uint64_t dump_growth;   /* HEAPPROF_DUMP_GROWTH: a dump each time in-use grows by this many bytes; 0 = off */
    unsigned dump_near_limit; /* HEAPPROF_DUMP_NEAR_LIMIT: % of the cgroup memory limit; 0 = off */
    int leak_report;        /* HEAPPROF_LEAK_REPORT: 1 = stacks still in use on stderr at exit */
    int unwind;             /* HEAPPROF_UNWIND: HP_UNWIND_OWN (default), _LIBUNWIND or _COMPARE */
} hp_config;

/* HEAPPROF_UNWIND's values. */
#define HP_UNWIND_OWN 0
#define HP_UNWIND_LIBUNWIND 1
#define HP_UNWIND_COMPARE 2 /* both, differences reported: for the differential tests */

/* The defaults, as plain literals: the options table in config.c turns each
 * into its default text by stringizing it (the "using 524288" of a warning,
 * the README check) and loads that text with the option's own parser, so a
 * default is written only here. */
#define HP_DEFAULT_RATE 524288
#define HP_DEFAULT_DEPTH 64
#define HP_MAX_DEPTH 256u
/* The largest accepted rate (HEAPPROF_RATE, heapprof rate). Beyond 1 GiB a
 * process would see almost no samples, and keeping the mean gap small keeps
 * -log(u) * rate far from the int64 range of the per-thread countdown (max
 * ~37 * 2^30). */
#define HP_MAX_RATE (1ull << 30)
#define HP_DEFAULT_INTERVAL_S 60
#define HP_DEFAULT_INTERVAL_NS (HP_DEFAULT_INTERVAL_S * 1000000000ull)
#define HP_DEFAULT_FLUSH_MS 100
#define HP_DEFAULT_FLUSH_NS (HP_DEFAULT_FLUSH_MS * 1000000ull)
#define HP_DEFAULT_HEADERS 1
#define HP_DEFAULT_CHILDREN 1
#define HP_DEFAULT_BUILD_IDS 0
#define HP_DEFAULT_OUT "heapprof"
#define HP_DEFAULT_DUMP_GROWTH 0
#define HP_MAX_DUMP_GROWTH (1ull << 40)
#define HP_DEFAULT_DUMP_NEAR_LIMIT 0
#define HP_DEFAULT_LEAK_REPORT 0
#define HP_DEFAULT_UNWIND "own"

/* Looks a variable up; NULL when unset. Production passes secure_getenv. */
typedef const char *(*hp_getenv_fn)(const char *name);
/* Receives one complete warning line (no trailing newline). Production passes
 * hp_warn (base/warn.h). */
typedef void (*hp_warn_fn)(const char *line);

/* Fills *cfg from the environment. Never fails: bad values warn and fall back. */
void hp_config_load(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn);

/* The options table, read-only: one entry per HEAPPROF_* variable the library
 * reads, in the order they are loaded (and warned about). */
typedef struct hp_option_info {
    const char *name;         /* "HEAPPROF_RATE" */
    const char *default_text; /* "524288", "heapprof", or "unset" (HP_OPTION_UNSET) */
    const char *description;  /* one line */
} hp_option_info;
#define HP_OPTION_UNSET "unset"
unsigned hp_option_count(void);
/* NULL when i >= hp_option_count(). */
const hp_option_info *hp_option_at(unsigned i);

/* Test-only: the parsers behind hp_config_load, for tests/unit/test_config.c
 * and fuzz/fuzz_config.c (no production caller; the loader uses the same code
 * through the table). Each returns 0 on success, -1 when the text is not
 * acceptable, and leaves *out alone then. */
int hp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
int hp_parse_bytes(const char *text, uint64_t max, uint64_t *out); /* accepts k/K/m/M/g/G (KiB...) suffixes */
int hp_parse_seconds_ns(const char *text, uint64_t max_ns, uint64_t *out_ns); /* "2", "0.5", "1.25" */
/* "127.0.0.1:6060", ":6060" (= 127.0.0.1), "[::1]:6060", "localhost:6060",
 * "6060"; numeric addresses only (no name lookup: this may run inside malloc). */
int hp_parse_http_addr(const char *text, hp_http_config *out);
/* "SIGUSR2", "USR2", "usr2", "12", "SIGRTMIN+1", "RTMAX-2": a signal a handler
 * can usefully catch (not KILL/STOP, not the fault signals SEGV/BUS/FPE/ILL). */
int hp_parse_signal(const char *text, int *out);

#endif
