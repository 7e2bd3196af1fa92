/* libFuzzer target for the configuration parser (src/config.c).
 *
 * Input layout: bytes 0 and 1 are a little-endian mask of which HEAPPROF_*
 * variables are set (bit i for k_vars[i]); the rest is split at NUL bytes into their values, in order
 * (a set variable without a piece of its own is ""). NUL is the separator
 * because an environment value can never contain one, so every value a real
 * environment can hold is reachable.
 *
 * Checked, beyond what ASan/UBSan catch:
 *   - every warning is one line of printable ASCII starting with
 *     "heapprof: HEAPPROF_<NAME>=", shorter than 600 bytes, at most one per
 *     variable and only for a variable that is set;
 *   - the loaded config is inside the documented ranges whatever the input;
 *   - a variable that warned kept its default, one that did not warn holds
 *     what the public parser (hp_parse_bytes, hp_parse_signal, ...) makes of
 *     the same text: hp_config_load and the exported parsers agree;
 *   - the exported parsers, run on the whole input as one string, agree with
 *     small independent oracles written here (decimal round trip, byte
 *     suffixes, seconds with a fraction rounded up). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

#define NS_PER_SEC UINT64_C(1000000000)
#define MAX_RATE (UINT64_C(1) << 30)
#define MIN_INTERVAL_NS UINT64_C(10000000)
#define MAX_INTERVAL_NS (UINT64_C(7) * 24 * 3600 * NS_PER_SEC)
/* config.c builds lines in a 256-byte buffer; 600 is the promise we test, so
 * a future longer buffer still passes as long as lines stay short. */
#define MAX_WARN_LINE 600

/* Every variable hp_config_load reads. The fake getenv aborts on any other
 * name, so a variable added to config.c without being added here fails the
 * fuzzer instead of going unfuzzed. */
enum { V_RATE, V_SEED, V_DEPTH, V_INTERVAL, V_FLUSH_MS, V_OUT, V_HTTP, V_SIGNAL, V_HEADERS, V_CHILDREN, V_CONTROL_SIGNAL,
       V_BUILD_IDS, V_DUMP_GROWTH, V_DUMP_NEAR_LIMIT, V_LEAK_REPORT, V_UNWIND, NVARS };
static const char *const k_vars[NVARS] = {
    "HEAPPROF_RATE", "HEAPPROF_SEED", "HEAPPROF_DEPTH", "HEAPPROF_INTERVAL",
    "HEAPPROF_FLUSH_MS", "HEAPPROF_OUT", "HEAPPROF_HTTP", "HEAPPROF_SIGNAL",
    "HEAPPROF_HEADERS", "HEAPPROF_CHILDREN", "HEAPPROF_CONTROL_SIGNAL", "HEAPPROF_BUILD_IDS",
    "HEAPPROF_DUMP_GROWTH", "HEAPPROF_DUMP_NEAR_LIMIT", "HEAPPROF_LEAK_REPORT", "HEAPPROF_UNWIND",
};

/* The fake environment of one run. hp_getenv_fn has no context argument,
 * hence file-scope state; libFuzzer runs inputs one at a time. */
static const char *g_value[NVARS];
static int g_warned[NVARS];

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static void check(int cond, const char *what)
{
    if (!cond)
        fail(what);
}

static const char *fake_getenv(const char *name)
{
    for (int i = 0; i < NVARS; i++)
        if (strcmp(name, k_vars[i]) == 0)
            return g_value[i];
    fprintf(stderr, "fuzz_config: hp_config_load read %s; add it to k_vars\n", name);
    abort();
}

static void on_warn(const char *line)
{
    size_t n = strnlen(line, MAX_WARN_LINE);
    check(n < MAX_WARN_LINE, "warning line too long");
    /* Printable ASCII only: values are echoed escaped, so a hostile value can
     * neither break the line nor send terminal escape sequences. */
    for (size_t i = 0; i < n; i++)
        check(line[i] >= 0x20 && line[i] < 0x7f, "warning line has a control or non-ASCII byte");
    check(strncmp(line, "heapprof: ", 10) == 0, "warning line does not start with \"heapprof: \"");
    const char *name = line + 10;
    for (int i = 0; i < NVARS; i++) {
        size_t k = strlen(k_vars[i]);
        if (strncmp(name, k_vars[i], k) == 0 && name[k] == '=') {
            check(g_value[i] != NULL, "warning about a variable that is not set");
            check(!g_warned[i], "two warnings about one variable");
            g_warned[i] = 1;
            return;
        }
    }
    fail("warning names no known variable");
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ---- independent oracles for the exported parsers ---- */

/* Decimal digits only, accumulated with an overflow flag. Returns 0 when s is
 * a non-empty digit string and sets *v (or *overflow when it exceeds u64). */
static int oracle_digits(const char *s, size_t n, uint64_t *v, int *overflow)
{
    *v = 0;
    *overflow = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, d, v))
            *overflow = 1;
    }
    return 0;
}

static void check_parse_u64(const char *s, uint64_t min, uint64_t max)
{
    uint64_t got = 0, want;
    int overflow;
    int ok = hp_parse_u64(s, min, max, &got) == 0;
    int want_ok = oracle_digits(s, strlen(s), &want, &overflow) == 0 && !overflow &&
                  want >= min && want <= max;
    check(ok == want_ok, "hp_parse_u64 accepts/refuses unlike the oracle");
    if (ok)
        check(got == want, "hp_parse_u64 value differs from the oracle");
}

static void check_parse_bytes(const char *s, uint64_t max)
{
    uint64_t got = 0, want = 0, mult = 1;
    int overflow;
    size_t n = strlen(s), digits = 0;
    while (digits < n && is_digit(s[digits]))
        digits++;
    /* Suffix: nothing, or one of kKmMgG then nothing, "B" or "iB". */
    const char *suf = s + digits;
    int suffix_ok = 1;
    if (*suf != '\0') {
        switch (*suf) {
        case 'k': case 'K': mult = UINT64_C(1) << 10; break;
        case 'm': case 'M': mult = UINT64_C(1) << 20; break;
        case 'g': case 'G': mult = UINT64_C(1) << 30; break;
        default: suffix_ok = 0; break;
        }
        if (suffix_ok)
            suffix_ok = strcmp(suf + 1, "") == 0 || strcmp(suf + 1, "B") == 0 || strcmp(suf + 1, "iB") == 0;
    }
    int want_ok = suffix_ok && oracle_digits(s, digits, &want, &overflow) == 0 && !overflow &&
                  !__builtin_mul_overflow(want, mult, &want) && want <= max;
    int ok = hp_parse_bytes(s, max, &got) == 0;
    check(ok == want_ok, "hp_parse_bytes accepts/refuses unlike the oracle");
    if (ok)
        check(got == want, "hp_parse_bytes value differs from the oracle");
}

static void check_parse_seconds(const char *s, uint64_t max_ns)
{
    uint64_t got = 0, secs = 0, frac = 0, want = 0;
    int overflow = 0, round_up = 0, nonzero = 0;
    size_t n = strlen(s), i = 0, int_digits, frac_digits = 0;
    while (i < n && is_digit(s[i]))
        i++;
    int_digits = i;
    int syntax_ok = 1;
    if (i < n && s[i] == '.') {
        /* Up to nine fraction digits are nanoseconds; any nonzero digit
         * beyond rounds up by one nanosecond (a nonzero text is never 0). */
        for (i++; i < n && is_digit(s[i]); i++, frac_digits++) {
            if (frac_digits < 9)
                frac = frac * 10 + (uint64_t)(s[i] - '0');
            else if (s[i] != '0')
                round_up = 1;
        }
        for (size_t k = frac_digits; k < 9; k++)
            frac *= 10;
    }
    if (i != n || int_digits + frac_digits == 0)
        syntax_ok = 0;
    if (int_digits > 0)
        oracle_digits(s, int_digits, &secs, &overflow);
    for (size_t k = 0; k < n; k++)
        nonzero |= s[k] >= '1' && s[k] <= '9';
    int want_ok = syntax_ok && !overflow && !__builtin_mul_overflow(secs, NS_PER_SEC, &want) &&
                  !__builtin_add_overflow(want, frac + (uint64_t)round_up, &want) && want <= max_ns;
    int ok = hp_parse_seconds_ns(s, max_ns, &got) == 0;
    check(ok == want_ok, "hp_parse_seconds_ns accepts/refuses unlike the oracle");
    if (ok) {
        check(got == want, "hp_parse_seconds_ns value differs from the oracle");
        check(!nonzero || got > 0, "hp_parse_seconds_ns turned a nonzero text into 0");
    }
}

/* A signal the profiler may install a handler for (config.h's promise). */
static int signal_allowed(int s)
{
    return s >= 1 && s <= SIGRTMAX && s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS &&
           s != SIGFPE && s != SIGILL && !(s >= 32 && s < SIGRTMIN);
}

static void check_http(const hp_http_config *h)
{
    check(h->family == 0 || h->family == HP_HTTP_INET || h->family == HP_HTTP_INET6, "http family");
    if (h->family != 0)
        check(h->port >= 1, "http port 0");
    if (h->family == HP_HTTP_INET)
        check(h->loopback == (h->addr[0] == 127), "http loopback flag (IPv4)");
}

/* ---- hp_config_load against the fake environment ---- */

static void check_config(const hp_config *c)
{
    /* Documented ranges, whatever the input. */
    check(c->rate <= MAX_RATE, "rate above 1 GiB");
    check(c->depth >= 1 && c->depth <= HP_MAX_DEPTH, "depth outside 1..256");
    check(c->flush_ns >= UINT64_C(1000000) && c->flush_ns <= UINT64_C(60000) * 1000000 &&
              c->flush_ns % 1000000 == 0, "flush outside 1..60000 ms");
    check(c->interval_ns == 0 || (c->interval_ns >= MIN_INTERVAL_NS && c->interval_ns <= MAX_INTERVAL_NS),
          "interval neither 0 nor 0.01 s..1 week");
    check(memchr(c->out_prefix, '\0', sizeof c->out_prefix) != NULL, "out_prefix not NUL-terminated");
    check(c->out_prefix[0] != '\0', "out_prefix empty");
    check_http(&c->http);
    check(c->dump_signal == 0 || signal_allowed(c->dump_signal), "dump_signal not catchable");
    check(c->seed_set == 0 || c->seed_set == 1, "seed_set not a flag");

    /* Per variable: unset or warned means the default; accepted means what
     * the exported parser makes of the same text. */
    const char *v;
    uint64_t u;
    int kept;

    v = g_value[V_RATE];
    kept = v == NULL || g_warned[V_RATE];
    if (!kept)
        check(hp_parse_bytes(v, MAX_RATE, &u) == 0 && u == c->rate, "rate differs from hp_parse_bytes");
    else
        check(c->rate == HP_DEFAULT_RATE, "rate not default after a warning");
    if (v != NULL)
        check(g_warned[V_RATE] == (hp_parse_bytes(v, MAX_RATE, &u) != 0), "rate warning unlike hp_parse_bytes");

    v = g_value[V_SEED];
    check(c->seed_set == (v != NULL && !g_warned[V_SEED]), "seed_set unlike the warnings");
    if (!c->seed_set)
        check(c->seed == 0, "seed set without seed_set");
    int seed_overflow;
    if (v != NULL && oracle_digits(v, strlen(v), &u, &seed_overflow) == 0 && !seed_overflow)
        check(c->seed_set && c->seed == u, "decimal seed not accepted as is");

    v = g_value[V_DEPTH];
    if (v != NULL && !g_warned[V_DEPTH])
        check(hp_parse_u64(v, 1, HP_MAX_DEPTH, &u) == 0 && u == c->depth, "depth differs from hp_parse_u64");
    else
        check(c->depth == HP_DEFAULT_DEPTH, "depth not default");
    if (v != NULL)
        check(g_warned[V_DEPTH] == (hp_parse_u64(v, 1, HP_MAX_DEPTH, &u) != 0), "depth warning");

    v = g_value[V_FLUSH_MS];
    if (v != NULL && !g_warned[V_FLUSH_MS])
        check(hp_parse_u64(v, 1, 60000, &u) == 0 && u * 1000000 == c->flush_ns, "flush differs");
    else
        check(c->flush_ns == HP_DEFAULT_FLUSH_NS, "flush not default");
    if (v != NULL)
        check(g_warned[V_FLUSH_MS] == (hp_parse_u64(v, 1, 60000, &u) != 0), "flush warning");

    v = g_value[V_INTERVAL];
    if (v != NULL) {
        int ok = hp_parse_seconds_ns(v, MAX_INTERVAL_NS, &u) == 0 && (u == 0 || u >= MIN_INTERVAL_NS);
        check(g_warned[V_INTERVAL] == !ok, "interval warning unlike hp_parse_seconds_ns");
        if (ok)
            check(c->interval_ns == u, "interval differs from hp_parse_seconds_ns");
    }
    if (v == NULL || g_warned[V_INTERVAL])
        check(c->interval_ns == HP_DEFAULT_INTERVAL_NS, "interval not default");

    v = g_value[V_OUT];
    if (v != NULL && !g_warned[V_OUT])
        check(strcmp(c->out_prefix, v) == 0, "out_prefix is not the value");
    else
        check(strcmp(c->out_prefix, HP_DEFAULT_OUT) == 0, "out_prefix not default");
    if (v != NULL)
        check(g_warned[V_OUT] == (v[0] == '\0' || strlen(v) >= HP_OUT_PREFIX_MAX), "out warning");

    v = g_value[V_HTTP];
    if (v != NULL) {
        hp_http_config h;
        int ok = hp_parse_http_addr(v, &h) == 0;
        check(g_warned[V_HTTP] == !ok, "http warning unlike hp_parse_http_addr");
        if (ok)
            check(h.family == c->http.family && h.port == c->http.port && h.loopback == c->http.loopback &&
                      memcmp(h.addr, c->http.addr, sizeof h.addr) == 0,
                  "http differs from hp_parse_http_addr");
    }
    if (v == NULL || g_warned[V_HTTP])
        check(c->http.family == 0, "http server on without a valid HEAPPROF_HTTP");

    v = g_value[V_SIGNAL];
    if (v != NULL) {
        int s = 0;
        int ok = hp_parse_signal(v, &s) == 0;
        check(g_warned[V_SIGNAL] == !ok, "signal warning unlike hp_parse_signal");
        if (ok)
            check(c->dump_signal == s && signal_allowed(s), "signal differs from hp_parse_signal");
    }
    if (v == NULL || g_warned[V_SIGNAL])
        check(c->dump_signal == 0, "signal dumps on without a valid HEAPPROF_SIGNAL");

    v = g_value[V_CONTROL_SIGNAL];
    if (v != NULL) {
        int s = 0;
        int ok = hp_parse_signal(v, &s) == 0;
        check(g_warned[V_CONTROL_SIGNAL] == !ok, "control signal warning unlike hp_parse_signal");
        if (ok)
            check(c->control_signal == s && signal_allowed(s), "control signal differs from hp_parse_signal");
    }
    if (v == NULL || g_warned[V_CONTROL_SIGNAL])
        check(c->control_signal == 0, "rate control on without a valid HEAPPROF_CONTROL_SIGNAL");

    v = g_value[V_HEADERS];
    if (v != NULL) {
        uint64_t on = 0;
        int ok = hp_parse_u64(v, 0, 1, &on) == 0;
        check(g_warned[V_HEADERS] == !ok, "headers warning unlike hp_parse_u64(0..1)");
        if (ok)
            check(c->headers == (int)on, "headers differs from hp_parse_u64");
    }
    if (v == NULL || g_warned[V_HEADERS])
        check(c->headers == 1, "headers not default (1)");

    v = g_value[V_UNWIND];
    if (v != NULL) {
        static const char *const words[] = {"own", "libunwind", "compare"};
        int expect = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(v, words[i]) == 0)
                expect = i;
        check(g_warned[V_UNWIND] == (expect < 0), "unwind warning unlike the three words");
        if (expect >= 0)
            check(c->unwind == expect, "unwind differs from its word");
    }
    if (v == NULL || g_warned[V_UNWIND])
        check(c->unwind == 0, "unwind not default (own)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One NUL-terminated copy: the pieces point into it, each ending at the
     * next separator, and the whole (up to its first NUL) feeds the parsers. */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    buf[size] = '\0';

    unsigned mask = (size > 0 ? data[0] : 0) | (size > 1 ? (unsigned)data[1] << 8 : 0);
    size_t skip = size < 2 ? size : 2;
    char *p = buf + skip;
    char *end = buf + size;
    for (int i = 0; i < NVARS; i++) {
        g_warned[i] = 0;
        g_value[i] = NULL;
        if (!(mask & (1u << i)))
            continue;
        g_value[i] = p; /* "" once the input ran out: set but empty */
        if (p < end)
            p += strlen(p) + 1;
        if (p > end)
            p = end;
    }

    hp_config *cfg = malloc(sizeof *cfg);
    if (cfg) {
        hp_config_load(cfg, fake_getenv, on_warn);
        check_config(cfg);
        /* No warn callback: the same config, silently. */
        hp_config *quiet = malloc(sizeof *quiet);
        if (quiet) {
            hp_config_load(quiet, fake_getenv, NULL);
            check(memcmp(quiet, cfg, sizeof *cfg) == 0, "config depends on the warn callback");
            free(quiet);
        }
        free(cfg);
    }

    /* The whole input (after the mask) as one text for each parser. */
    const char *text = buf + skip;
    check_parse_u64(text, 0, UINT64_MAX);
    check_parse_u64(text, 1, HP_MAX_DEPTH);
    check_parse_bytes(text, UINT64_MAX);
    check_parse_bytes(text, MAX_RATE);
    check_parse_seconds(text, UINT64_MAX);
    check_parse_seconds(text, MAX_INTERVAL_NS);
    hp_http_config h;
    memset(&h, 0, sizeof h);
    if (hp_parse_http_addr(text, &h) == 0)
        check_http(&h);
    int s = 0;
    if (hp_parse_signal(text, &s) == 0)
        check(signal_allowed(s), "hp_parse_signal accepted an uncatchable signal");

    free(buf);
    return 0;
}
