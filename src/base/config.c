/* Parsing and validation of every HEAPPROF_* variable.
 *
 * One table, k_options at the end of this file, defines each variable once:
 * name, default, accepted range, parser kind, warning wording, the hp_config
 * field it fills, and a one-line description. hp_config_load walks it; the
 * README check (tests/unit/test_config_readme.c) reads it through
 * hp_option_at.
 *
 * hp_config_load may run inside the very first malloc call of the host (the
 * shim configures itself lazily), so everything here is written to be safe
 * there: no heap allocation, no stdio, no locale.  Numbers are parsed by hand
 * rather than with strtoull/strtod because those accept leading whitespace,
 * a sign ("-5" wraps to a huge value in strtoull), exponents and hex floats,
 * and strtod reads the decimal point from LC_NUMERIC.  Warning lines are
 * assembled in a stack buffer by the small appenders below.  Addresses are
 * numeric only (inet_pton, which neither allocates nor locks). */
#include "base/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "base/common.h"

/* HEAPPROF_INTERVAL: 0 means "only at exit / on demand"; otherwise at least
 * 10 ms (a dump symbolizes and gzips a whole profile, so faster makes no sense)
 * and at most one week. */
#define HP_MIN_INTERVAL_NS 10000000ull
#define HP_MAX_INTERVAL_NS (7ull * 24 * 3600 * 1000000000ull)
#define HP_MIN_FLUSH_MS 1u
#define HP_MAX_FLUSH_MS 60000u
#define HP_MIN_PORT 1u
#define HP_MAX_PORT 65535u

#define NS_PER_SEC UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

/* A macro's value as a string literal: the table's default texts come from
 * the HP_DEFAULT_* literals in config.h. */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Why a text was refused; selects the wording of the warning. */
enum parse_status { PARSE_OK = 0, PARSE_SYNTAX, PARSE_RANGE, PARSE_UNCATCHABLE, PARSE_FAULT };

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits only: no sign, no whitespace, no prefix.  Overflow of
 * uint64 is a range error, not a syntax error, so "99999999999999999999999"
 * is reported as out of range. */
static enum parse_status parse_decimal(const char *s, const char **end, uint64_t *out) {
    uint64_t v = 0;
    int overflow = 0;
    const char *p = s;
    if (!is_digit(*p))
        return PARSE_SYNTAX;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = 1; /* keep scanning so trailing junk is still a syntax error */
        else
            v = v * 10 + d;
    }
    *end = p;
    *out = v;
    return overflow ? PARSE_RANGE : PARSE_OK;
}

static enum parse_status parse_u64_st(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
    const char *end;
    uint64_t v;
    enum parse_status st;
    if (text == NULL)
        return PARSE_SYNTAX;
    st = parse_decimal(text, &end, &v);
    if (st == PARSE_SYNTAX || *end != '\0')
        return PARSE_SYNTAX;
    if (st == PARSE_RANGE || v < min || v > max)
        return PARSE_RANGE;
    *out = v;
    return PARSE_OK;
}

/* A seed is any u64, written in decimal or as 0x-prefixed hex (seeds are
 * often copied from logs or hashes in hex). */
static enum parse_status parse_seed_st(const char *text, uint64_t *out) {
    if (text != NULL && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        const char *p = text + 2;
        uint64_t v = 0;
        int overflow = 0;
        if (hp_hex_digit((unsigned char)*p) < 0)
            return PARSE_SYNTAX;
        for (; *p != '\0'; p++) {
            int d = hp_hex_digit((unsigned char)*p);
            if (d < 0)
                return PARSE_SYNTAX;
            if (v >> 60)
                overflow = 1;
            v = (v << 4) | (uint64_t)d;
        }
        if (overflow)
            return PARSE_RANGE;
        *out = v;
        return PARSE_OK;
    }
    return parse_u64_st(text, 0, UINT64_MAX, out);
}

/* A byte count: decimal digits, optionally followed by K, M or G (either
 * case; binary multiples) and then optionally "B" or "iB": 512K, 512KiB and
 * 512KB all mean 524288.  "KB" is read as KiB on purpose: someone writing
 * 64KB for a sampling period means 64K, and 2.4% does not matter here. */
static enum parse_status parse_bytes_st(const char *text, uint64_t max, uint64_t *out) {
    const char *p;
    uint64_t v, mult = 1;
    enum parse_status st;
    if (text == NULL)
        return PARSE_SYNTAX;
    st = parse_decimal(text, &p, &v);
    if (st == PARSE_SYNTAX)
        return PARSE_SYNTAX;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': mult = 1ull << 10; p++; break;
    case 'm': case 'M': mult = 1ull << 20; p++; break;
    case 'g': case 'G': mult = 1ull << 30; p++; break;
    default: return PARSE_SYNTAX;
    }
    if (mult != 1) {
        if (p[0] == 'i' && p[1] == 'B')
            p += 2;
        else if (p[0] == 'B')
            p += 1;
    }
    if (*p != '\0')
        return PARSE_SYNTAX;
    if (st == PARSE_RANGE || v > UINT64_MAX / mult || v * mult > max)
        return PARSE_RANGE;
    *out = v * mult;
    return PARSE_OK;
}

/* Seconds with an optional decimal fraction ("2", "0.5", ".5", "1.25"),
 * always with '.' whatever LC_NUMERIC says.  No sign, exponent or unit.
 * Digits beyond nanoseconds round *up*, so a nonzero text never becomes 0
 * (which would silently mean "periodic dumps off"). */
static enum parse_status parse_seconds_st(const char *text, uint64_t max_ns, uint64_t *out_ns) {
    const char *p = text;
    uint64_t secs = 0, frac = 0, scale = NS_PER_SEC;
    int digits = 0, overflow = 0, round_up = 0;
    if (text == NULL)
        return PARSE_SYNTAX;
    for (; is_digit(*p); p++, digits++) {
        unsigned d = (unsigned)(*p - '0');
        if (secs > (UINT64_MAX / NS_PER_SEC - d) / 10)
            overflow = 1;
        else
            secs = secs * 10 + d;
    }
    if (*p == '.') {
        p++;
        for (; is_digit(*p); p++, digits++) {
            unsigned d = (unsigned)(*p - '0');
            if (scale > 1) {
                scale /= 10;
                frac += d * scale;
            } else if (d != 0) {
                round_up = 1;
            }
        }
    }
    if (digits == 0 || *p != '\0')
        return PARSE_SYNTAX;
    if (overflow)
        return PARSE_RANGE;
    /* secs <= UINT64_MAX / 1e9 by the check above, so this cannot wrap. */
    uint64_t ns = secs * NS_PER_SEC + frac + (uint64_t)round_up;
    if (ns < secs * NS_PER_SEC || ns > max_ns)
        return PARSE_RANGE;
    *out_ns = ns;
    return PARSE_OK;
}

/* Test-only entry points (see config.h); the loader calls the *_st forms. */
int hp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
    return parse_u64_st(text, min, max, out) == PARSE_OK ? 0 : -1;
}

int hp_parse_bytes(const char *text, uint64_t max, uint64_t *out) {
    return parse_bytes_st(text, max, out) == PARSE_OK ? 0 : -1;
}

int hp_parse_seconds_ns(const char *text, uint64_t max_ns, uint64_t *out_ns) {
    return parse_seconds_st(text, max_ns, out_ns) == PARSE_OK ? 0 : -1;
}

/* ---- HEAPPROF_HTTP ---- */

static int is_loopback(const hp_http_config *h) {
    static const unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (h->family == HP_HTTP_INET)
        return h->addr[0] == 127;
    return memcmp(h->addr, v6_loopback, 16) == 0 ||
           (memcmp(h->addr, v4_mapped, 12) == 0 && h->addr[12] == 127);
}

/* [host]:port with numeric hosts only: name resolution (getaddrinfo) takes
 * locks, reads files and allocates, and this may run inside the first malloc.
 * "localhost" is the one name understood, as 127.0.0.1. A missing host means
 * loopback, never "all interfaces": exposing heap contents to the network
 * must be spelled out (0.0.0.0:6060, [::]:6060). */
static enum parse_status parse_http_st(const char *text, uint64_t port_min, uint64_t port_max,
                                       hp_http_config *out) {
    char host[64];
    const char *port_text;
    size_t host_len;
    uint64_t port;
    hp_http_config h;
    enum parse_status st;
    memset(&h, 0, sizeof h);
    if (text == NULL || text[0] == '\0')
        return PARSE_SYNTAX;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return PARSE_SYNTAX;
        host_len = (size_t)(close - text - 1);
        if (host_len == 0 || host_len >= sizeof host)
            return PARSE_SYNTAX;
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        if (inet_pton(AF_INET6, host, h.addr) != 1)
            return PARSE_SYNTAX;
        h.family = HP_HTTP_INET6;
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL) {
            port_text = text; /* "6060" alone: same as ":6060" */
            host_len = 0;
        } else {
            port_text = colon + 1;
            host_len = (size_t)(colon - text);
        }
        if (host_len >= sizeof host)
            return PARSE_SYNTAX;
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        h.family = HP_HTTP_INET;
        if (host_len == 0 || strcmp(host, "localhost") == 0) {
            h.addr[0] = 127;
            h.addr[3] = 1;
        } else if (inet_pton(AF_INET, host, h.addr) != 1) {
            return PARSE_SYNTAX; /* also an unbracketed IPv6 address */
        }
    }
    st = parse_u64_st(port_text, port_min, port_max, &port);
    if (st != PARSE_OK)
        return st;
    h.port = (uint16_t)port;
    h.loopback = is_loopback(&h);
    *out = h;
    return PARSE_OK;
}

int hp_parse_http_addr(const char *text, hp_http_config *out) {
    return parse_http_st(text, HP_MIN_PORT, HP_MAX_PORT, out) == PARSE_OK ? 0 : -1;
}

/* ---- HEAPPROF_SIGNAL ---- */

static const struct {
    const char *name;
    int signo;
} k_signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
    {"IO", SIGIO},       {"POLL", SIGPOLL},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
    {"SYS", SIGSYS},
};

static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* Case-insensitive: a is the user's text, b an upper-case table name. */
static int upper_equal_n(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ascii_upper(a[i]) != b[i])
            return 0;
    return 1;
}

/* RTMIN, RTMIN+n, RTMAX, RTMAX-n (after any SIG prefix). SIGRTMIN is a
 * function call in glibc (it reserves the first real-time signals for
 * itself), a plain read of a constant, safe here. */
static enum parse_status parse_rt_signal(const char *t, int *out) {
    int rtmin = SIGRTMIN, rtmax = SIGRTMAX;
    int base, sign;
    uint64_t n = 0;
    if (upper_equal_n(t, "RTMIN", 5) && (t[5] == '\0' || t[5] == '+')) {
        base = rtmin;
        sign = 1;
    } else if (upper_equal_n(t, "RTMAX", 5) && (t[5] == '\0' || t[5] == '-')) {
        base = rtmax;
        sign = -1;
    } else {
        return PARSE_SYNTAX;
    }
    if (t[5] != '\0') {
        enum parse_status st = parse_u64_st(t + 6, 0, UINT64_MAX, &n);
        if (st == PARSE_SYNTAX)
            return PARSE_SYNTAX;
        if (st != PARSE_OK || n > (uint64_t)(rtmax - rtmin))
            return PARSE_RANGE;
    }
    *out = base + sign * (int)n;
    return PARSE_OK;
}

static enum parse_status parse_signal_st(const char *text, int *out) {
    const char *t = text;
    int signo = 0;
    uint64_t n;
    enum parse_status st;
    if (text == NULL || text[0] == '\0')
        return PARSE_SYNTAX;
    if (is_digit(t[0])) {
        st = parse_u64_st(t, 1, (uint64_t)SIGRTMAX, &n);
        if (st != PARSE_OK)
            return st;
        signo = (int)n;
    } else {
        if (upper_equal_n(t, "SIG", 3) && t[3] != '\0')
            t += 3;
        size_t len = strlen(t);
        for (size_t i = 0; i < HP_ARRAY_LEN(k_signals) && signo == 0; i++)
            if (strlen(k_signals[i].name) == len && upper_equal_n(t, k_signals[i].name, len))
                signo = k_signals[i].signo;
        if (signo == 0) {
            st = parse_rt_signal(t, &signo);
            if (st != PARSE_OK)
                return st;
        }
    }
    if (signo == SIGKILL || signo == SIGSTOP)
        return PARSE_UNCATCHABLE;
    /* A handler that returns from a real fault re-runs the faulting
     * instruction forever; these signals cannot carry dump requests. */
    if (signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL)
        return PARSE_FAULT;
    /* glibc keeps the signals between 32 and SIGRTMIN for its own threads
     * and cancellation. */
    if (signo >= 32 && signo < SIGRTMIN)
        return PARSE_UNCATCHABLE;
    *out = signo;
    return PARSE_OK;
}

int hp_parse_signal(const char *text, int *out) {
    return parse_signal_st(text, out) == PARSE_OK ? 0 : -1;
}

/* ---- warning lines, built without malloc or stdio ---- */

#define LINE_MAX_BYTES 256
/* At most about this many characters of the offending value are echoed, so a runaway
 * value (a 100 KiB string, binary garbage) still gives one short line. */
#define VALUE_ECHO_MAX 48

typedef struct line_buf {
    char buf[LINE_MAX_BYTES];
    size_t len; /* always < sizeof buf; buf[len] == '\0' */
} line_buf;

static void lb_putc(line_buf *lb, char c) {
    if (lb->len + 1 < sizeof lb->buf) {
        lb->buf[lb->len++] = c;
        lb->buf[lb->len] = '\0';
    }
}

static void lb_puts(line_buf *lb, const char *s) {
    while (*s != '\0')
        lb_putc(lb, *s++);
}

/* The value between quotes: printable ASCII as is, '"' and '\' escaped,
 * everything else (newlines, escape sequences, UTF-8 bytes) as \xNN so the
 * warning cannot break the line or drive the terminal; long values are cut
 * and marked with "...". */
static void lb_put_value(line_buf *lb, const char *v) {
    static const char hex[] = "0123456789abcdef";
    size_t i, start;
    lb_putc(lb, '"');
    start = lb->len;
    for (i = 0; v[i] != '\0'; i++) {
        unsigned char c = (unsigned char)v[i];
        /* Counted in echoed characters, so 48 bytes of control characters
         * (4 characters each) do not make a 200-character line. */
        if (lb->len - start >= VALUE_ECHO_MAX) {
            lb_puts(lb, "...");
            break;
        }
        if (c == '"' || c == '\\') {
            lb_putc(lb, '\\');
            lb_putc(lb, (char)c);
        } else if (c >= 0x20 && c < 0x7f) {
            lb_putc(lb, (char)c);
        } else {
            lb_putc(lb, '\\');
            lb_putc(lb, 'x');
            lb_putc(lb, hex[c >> 4]);
            lb_putc(lb, hex[c & 15]);
        }
    }
    lb_putc(lb, '"');
}

/* ---- the options table ---- */

/* How a variable's text is read; each kind is one of the parsers above. */
enum option_kind {
    KIND_BYTES,   /* a byte count with optional K/M/G suffix, min..max bytes */
    KIND_U64,     /* a whole decimal number, min..max, stored times scale */
    KIND_SECONDS, /* decimal seconds, min..max in ns, stored in ns */
    KIND_SEED,    /* any u64, decimal or 0x hex; also sets seed_set */
    KIND_BOOL,    /* exactly "0" or "1" */
    KIND_PATH,    /* min..max bytes, copied into a char array */
    KIND_HTTP,    /* [address]:port, port min..max */
    KIND_SIGNAL,  /* a catchable signal; its range (SIGRTMAX) is known only at run time */
    KIND_CHOICE,  /* one of the words in choices, stored as its index */
};

typedef struct option {
    hp_option_info info; /* name, default text (parsed like a set value), description */
    enum option_kind kind;
    uint64_t min, max;   /* accepted: bytes, a number before scale, ns, a path's length or a port */
    uint64_t scale;      /* KIND_U64: stored = accepted * scale (ms -> ns); 0 means 1 */
    int zero_off;        /* 0 is accepted below min: it means "off" */
    size_t offset, size; /* the hp_config field */
    const char *fallback; /* after "; using " when the default is HP_OPTION_UNSET */
    const char *if_empty; /* the problem for a set-but-empty value, when it has words of its own */
    const char *if_syntax, *if_range;
    const char *const *choices; /* KIND_CHOICE: the accepted words, NULL-terminated */
} option;

/* HEAPPROF_UNWIND, in the order of HP_UNWIND_* (config.h). */
static const char *const k_unwind_choices[] = {"own", "libunwind", "compare", NULL};

#define FIELD(f) .offset = offsetof(hp_config, f), .size = sizeof(((hp_config *)0)->f)

/* Loaded, and warned about, in this order (the README's). */
static const option k_options[] = {
    {.info = {"HEAPPROF_RATE", STR(HP_DEFAULT_RATE), "mean bytes allocated between two samples; 0 = off"},
     .kind = KIND_BYTES, .min = 0, .max = HP_MAX_RATE, FIELD(rate),
     .if_syntax = "is not a byte count", .if_range = "is out of range (0 to 1G bytes)"},
    {.info = {"HEAPPROF_SEED", HP_OPTION_UNSET, "seed of the sampling PRNG; unset = a random seed per run"},
     .kind = KIND_SEED, .min = 0, .max = UINT64_MAX, FIELD(seed), .fallback = "a random seed",
     .if_syntax = "is not an unsigned integer", .if_range = "is out of range (0 to 2^64-1)"},
    {.info = {"HEAPPROF_DEPTH", STR(HP_DEFAULT_DEPTH), "most frames recorded per call stack"},
     .kind = KIND_U64, .min = 1, .max = HP_MAX_DEPTH, FIELD(depth),
     .if_syntax = "is not a whole number", .if_range = "is out of range (1 to 256)"},
    {.info = {"HEAPPROF_INTERVAL", STR(HP_DEFAULT_INTERVAL_S), "seconds between periodic dumps; 0 = none"},
     .kind = KIND_SECONDS, .min = HP_MIN_INTERVAL_NS, .max = HP_MAX_INTERVAL_NS, .zero_off = 1, FIELD(interval_ns),
     .if_syntax = "is not a number of seconds", .if_range = "is out of range (0, or 0.01 to 604800 seconds)"},
    {.info = {"HEAPPROF_FLUSH_MS", STR(HP_DEFAULT_FLUSH_MS), "milliseconds between two drains of the event rings"},
     .kind = KIND_U64, .min = HP_MIN_FLUSH_MS, .max = HP_MAX_FLUSH_MS, .scale = NS_PER_MS, FIELD(flush_ns),
     .if_syntax = "is not a whole number of milliseconds", .if_range = "is out of range (1 to 60000)"},
    {.info = {"HEAPPROF_OUT", HP_DEFAULT_OUT, "path prefix of the profiles: <prefix>.<pid>.<seq>.pb.gz"},
     .kind = KIND_PATH, .min = 1, .max = HP_OUT_PREFIX_MAX - 1, FIELD(out_prefix),
     .if_empty = "is empty", .if_range = "is longer than 1023 bytes"},
    {.info = {"HEAPPROF_HTTP", HP_OPTION_UNSET, "[address]:port of the /debug/pprof server; unset = no server"},
     .kind = KIND_HTTP, .min = HP_MIN_PORT, .max = HP_MAX_PORT, FIELD(http), .fallback = "no HTTP server",
     .if_empty = "is empty", .if_syntax = "is not [address]:port (:6060, 127.0.0.1:6060, [::1]:6060)",
     .if_range = "has a port out of range (1 to 65535)"},
    {.info = {"HEAPPROF_SIGNAL", HP_OPTION_UNSET, "signal that requests a dump; unset = none"},
     .kind = KIND_SIGNAL, FIELD(dump_signal), .fallback = "no signal dumps",
     .if_empty = "is empty", .if_syntax = "is not a signal name or number",
     .if_range = "is out of range (1 to SIGRTMAX)"},
    {.info = {"HEAPPROF_CONTROL_SIGNAL", HP_OPTION_UNSET,
              "signal whose sigqueue value sets the rate (heapprof rate); unset = none"},
     .kind = KIND_SIGNAL, FIELD(control_signal), .fallback = "no rate control by signal",
     .if_empty = "is empty", .if_syntax = "is not a signal name or number",
     .if_range = "is out of range (1 to SIGRTMAX)"},
    {.info = {"HEAPPROF_HEADERS", STR(HP_DEFAULT_HEADERS), "1 = a header marks sampled blocks over glibc; 0 = a table"},
     .kind = KIND_BOOL, .min = 0, .max = 1, FIELD(headers),
     .if_syntax = "is not 0 or 1", .if_range = "is not 0 or 1"},
    {.info = {"HEAPPROF_CHILDREN", STR(HP_DEFAULT_CHILDREN), "1 = forked and exec'd children are profiled too; 0 = not"},
     .kind = KIND_BOOL, .min = 0, .max = 1, FIELD(children),
     .if_syntax = "is not 0 or 1", .if_range = "is not 0 or 1"},
    {.info = {"HEAPPROF_BUILD_IDS", STR(HP_DEFAULT_BUILD_IDS), "1 = profiles carry each object's GNU build ID; 0 = not"},
     .kind = KIND_BOOL, .min = 0, .max = 1, FIELD(build_ids),
     .if_syntax = "is not 0 or 1", .if_range = "is not 0 or 1"},
    {.info = {"HEAPPROF_DUMP_GROWTH", STR(HP_DEFAULT_DUMP_GROWTH), "a dump each time in-use bytes grow by this much; 0 = off"},
     .kind = KIND_BYTES, .min = 0, .max = HP_MAX_DUMP_GROWTH, FIELD(dump_growth),
     .if_syntax = "is not a byte count", .if_range = "is out of range (0 to 1024G bytes)"},
    {.info = {"HEAPPROF_DUMP_NEAR_LIMIT", STR(HP_DEFAULT_DUMP_NEAR_LIMIT),
              "dump at this % of the cgroup memory limit and each 5% more; 0 = off"},
     .kind = KIND_U64, .min = 0, .max = 100, FIELD(dump_near_limit),
     .if_syntax = "is not a whole number", .if_range = "is out of range (0 to 100)"},
    {.info = {"HEAPPROF_LEAK_REPORT", STR(HP_DEFAULT_LEAK_REPORT), "1 = a table of the stacks still in use on stderr at exit"},
     .kind = KIND_BOOL, .min = 0, .max = 1, FIELD(leak_report),
     .if_syntax = "is not 0 or 1", .if_range = "is not 0 or 1"},
    {.info = {"HEAPPROF_UNWIND", HP_DEFAULT_UNWIND, "stack unwinder: own (built in) or libunwind"},
     .kind = KIND_CHOICE, FIELD(unwind), .choices = k_unwind_choices,
     .if_empty = "is empty", .if_syntax = "is not own, libunwind or compare"},
};

/* Numeric fields are uint64_t, unsigned or int; every range fits the field. */
_Static_assert(sizeof(unsigned) == sizeof(uint32_t) && sizeof(int) == sizeof(uint32_t), "32-bit int fields");

static int has_default(const option *o) { return strcmp(o->info.default_text, HP_OPTION_UNSET) != 0; }

/* memcpy, not a cast: the field's type is known only by its size. */
static void store_number(hp_config *cfg, const option *o, uint64_t v) {
    unsigned char *field = (unsigned char *)cfg + o->offset;
    if (o->size == sizeof(uint64_t)) {
        memcpy(field, &v, sizeof v);
    } else if (o->size == sizeof(uint32_t)) {
        uint32_t w = (uint32_t)v;
        memcpy(field, &w, sizeof w);
    }
}

/* Parses text as option o and, only when it is acceptable, stores it in cfg. */
static enum parse_status parse_option(const option *o, const char *text, hp_config *cfg) {
    unsigned char *field = (unsigned char *)cfg + o->offset;
    uint64_t v = 0;
    enum parse_status st;
    switch (o->kind) {
    case KIND_BYTES: st = parse_bytes_st(text, o->max, &v); break;
    case KIND_U64:
    case KIND_BOOL: st = parse_u64_st(text, o->min, o->max, &v); break;
    case KIND_SECONDS: st = parse_seconds_st(text, o->max, &v); break;
    case KIND_SEED: st = parse_seed_st(text, &v); break;
    case KIND_SIGNAL: {
        int signo = 0;
        st = parse_signal_st(text, &signo);
        v = (uint64_t)signo;
        break;
    }
    case KIND_PATH: {
        /* strnlen so a huge value is not scanned to its end. */
        size_t n = strnlen(text, o->max + 1);
        if (n < o->min)
            return PARSE_SYNTAX;
        if (n > o->max)
            return PARSE_RANGE;
        memcpy(field, text, n);
        field[n] = '\0';
        return PARSE_OK;
    }
    case KIND_CHOICE:
        for (unsigned i = 0; o->choices[i] != NULL; i++)
            if (strcmp(text, o->choices[i]) == 0) {
                int index = (int)i;
                memcpy(field, &index, sizeof index);
                return PARSE_OK;
            }
        return PARSE_SYNTAX;
    case KIND_HTTP: {
        hp_http_config h;
        st = parse_http_st(text, o->min, o->max, &h);
        if (st == PARSE_OK)
            memcpy(field, &h, sizeof h);
        return st;
    }
    default: return PARSE_SYNTAX;
    }
    if (st == PARSE_OK && v < o->min && !(v == 0 && o->zero_off))
        st = PARSE_RANGE;
    if (st != PARSE_OK)
        return st;
    store_number(cfg, o, o->scale != 0 ? v * o->scale : v);
    if (o->kind == KIND_SEED)
        cfg->seed_set = 1; /* the one option whose "unset" is no value at all */
    return PARSE_OK;
}

static const char *problem_text(const option *o, const char *value, enum parse_status st) {
    const char *p;
    switch (st) {
    case PARSE_RANGE: p = o->if_range; break;
    case PARSE_UNCATCHABLE: p = "cannot be caught by a handler"; break;
    case PARSE_FAULT: p = "is a fault signal (SEGV, BUS, FPE, ILL)"; break;
    default: p = value[0] == '\0' && o->if_empty != NULL ? o->if_empty : o->if_syntax; break;
    }
    return p != NULL ? p : "is not valid";
}

/* "heapprof: NAME="value" <problem>; using <fallback>" */
static void warn_bad(hp_warn_fn warn, const option *o, const char *value, enum parse_status st) {
    line_buf lb = {.len = 0};
    lb.buf[0] = '\0';
    if (warn == NULL)
        return;
    lb_puts(&lb, "heapprof: ");
    lb_puts(&lb, o->info.name);
    lb_putc(&lb, '=');
    lb_put_value(&lb, value);
    lb_putc(&lb, ' ');
    lb_puts(&lb, problem_text(o, value, st));
    lb_puts(&lb, "; using ");
    if (!has_default(o))
        lb_puts(&lb, o->fallback);
    else if (o->kind == KIND_PATH)
        lb_put_value(&lb, o->info.default_text); /* quoted, like the bad value */
    else
        lb_puts(&lb, o->info.default_text);
    warn(lb.buf);
}

static void load_option(hp_config *cfg, const option *o, hp_getenv_fn get, hp_warn_fn warn) {
    const char *v = get != NULL ? get(o->info.name) : NULL;
    if (v != NULL) {
        enum parse_status st = parse_option(o, v, cfg);
        if (st == PARSE_OK)
            return;
        warn_bad(warn, o, v, st);
    }
    /* The default goes through the same parser; an unset default leaves the
     * field zero (no seed, no server, no signal). */
    if (has_default(o))
        (void)parse_option(o, o->info.default_text, cfg);
}

void hp_config_load(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn) {
    /* Zero first so padding and unused prefix bytes are deterministic. */
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < HP_ARRAY_LEN(k_options); i++)
        load_option(cfg, &k_options[i], get, warn);
}

unsigned hp_option_count(void) { return (unsigned)HP_ARRAY_LEN(k_options); }

const hp_option_info *hp_option_at(unsigned i) { return i < HP_ARRAY_LEN(k_options) ? &k_options[i].info : NULL; }
