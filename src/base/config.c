/* Parsing and validation of every HEAPPROF_* variable.
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
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"

/* The largest accepted HEAPPROF_RATE.  Beyond 1 GiB a process would see
 * almost no samples, and keeping the mean gap small keeps -log(u) * rate far
 * from the int64 range of the per-thread countdown (max ~37 * 2^30). */
#define HP_MAX_RATE (1ull << 30)
/* HEAPPROF_INTERVAL: 0 means "only at exit / on demand"; otherwise at least
 * 10 ms (a dump symbolizes and gzips a whole profile, so faster makes no sense)
 * and at most one week. */
#define HP_MIN_INTERVAL_NS 10000000ull
#define HP_MAX_INTERVAL_NS (7ull * 24 * 3600 * 1000000000ull)
#define HP_MIN_FLUSH_MS 1u
#define HP_MAX_FLUSH_MS 60000u

#define NS_PER_SEC UINT64_C(1000000000)

/* Why a text was refused; selects the wording of the warning. */
enum parse_status { PARSE_OK = 0, PARSE_SYNTAX, PARSE_RANGE, PARSE_UNCATCHABLE, PARSE_FAULT };

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits only: no sign, no whitespace, no prefix.  Overflow of
 * uint64 is a range error, not a syntax error, so "99999999999999999999999"
 * is reported as out of range. */
static enum parse_status parse_decimal(const char *s, const char **end, uint64_t *out)
{
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

static enum parse_status parse_u64_st(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
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
static enum parse_status parse_seed_st(const char *text, uint64_t *out)
{
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
static enum parse_status parse_bytes_st(const char *text, uint64_t max, uint64_t *out)
{
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
static enum parse_status parse_seconds_st(const char *text, uint64_t max_ns, uint64_t *out_ns)
{
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

int hp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    return parse_u64_st(text, min, max, out) == PARSE_OK ? 0 : -1;
}

int hp_parse_bytes(const char *text, uint64_t max, uint64_t *out)
{
    return parse_bytes_st(text, max, out) == PARSE_OK ? 0 : -1;
}

int hp_parse_seconds_ns(const char *text, uint64_t max_ns, uint64_t *out_ns)
{
    return parse_seconds_st(text, max_ns, out_ns) == PARSE_OK ? 0 : -1;
}

/* ---- HEAPPROF_HTTP ---- */

static int is_loopback(const hp_http_config *h)
{
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
static enum parse_status parse_http_st(const char *text, hp_http_config *out)
{
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
    st = parse_u64_st(port_text, 1, 65535, &port);
    if (st != PARSE_OK)
        return st;
    h.port = (uint16_t)port;
    h.loopback = is_loopback(&h);
    *out = h;
    return PARSE_OK;
}

int hp_parse_http_addr(const char *text, hp_http_config *out)
{
    return parse_http_st(text, out) == PARSE_OK ? 0 : -1;
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
static int upper_equal_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_upper(a[i]) != b[i])
            return 0;
    return 1;
}

/* RTMIN, RTMIN+n, RTMAX, RTMAX-n (after any SIG prefix). SIGRTMIN is a
 * function call in glibc (it reserves the first real-time signals for
 * itself), a plain read of a constant, safe here. */
static enum parse_status parse_rt_signal(const char *t, int *out)
{
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

static enum parse_status parse_signal_st(const char *text, int *out)
{
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

int hp_parse_signal(const char *text, int *out)
{
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

static void lb_putc(line_buf *lb, char c)
{
    if (lb->len + 1 < sizeof lb->buf) {
        lb->buf[lb->len++] = c;
        lb->buf[lb->len] = '\0';
    }
}

static void lb_puts(line_buf *lb, const char *s)
{
    while (*s != '\0')
        lb_putc(lb, *s++);
}

static void lb_putu64(line_buf *lb, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        lb_putc(lb, tmp[--n]);
}

/* The value between quotes: printable ASCII as is, '"' and '\' escaped,
 * everything else (newlines, escape sequences, UTF-8 bytes) as \xNN so the
 * warning cannot break the line or drive the terminal; long values are cut
 * and marked with "...". */
static void lb_put_value(line_buf *lb, const char *v)
{
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

/* "heapprof: NAME="value" <problem>; using <fallback>" */
static void warn_bad(hp_warn_fn warn, const char *name, const char *value,
                     const char *problem, const char *fallback)
{
    line_buf lb = {.len = 0};
    lb.buf[0] = '\0';
    if (warn == NULL)
        return;
    lb_puts(&lb, "heapprof: ");
    lb_puts(&lb, name);
    lb_putc(&lb, '=');
    lb_put_value(&lb, value);
    lb_putc(&lb, ' ');
    lb_puts(&lb, problem);
    lb_puts(&lb, "; using ");
    lb_puts(&lb, fallback);
    warn(lb.buf);
}

/* Formats a u64 into a small caller buffer (for the "using N" part). */
static const char *u64_text(char *buf, size_t size, uint64_t v)
{
    line_buf lb = {.len = 0};
    lb.buf[0] = '\0';
    lb_putu64(&lb, v);
    if (lb.len + 1 > size)
        return "?";
    memcpy(buf, lb.buf, lb.len + 1);
    return buf;
}

/* ---- the variables ---- */

static void load_rate(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_RATE");
    char dflt[24];
    uint64_t r;
    enum parse_status st;
    cfg->rate = HP_DEFAULT_RATE;
    if (v == NULL)
        return;
    st = parse_bytes_st(v, HP_MAX_RATE, &r);
    if (st == PARSE_OK)
        cfg->rate = r;
    else
        warn_bad(warn, "HEAPPROF_RATE", v,
                 st == PARSE_SYNTAX ? "is not a byte count"
                                    : "is out of range (0 to 1G bytes)",
                 u64_text(dflt, sizeof dflt, HP_DEFAULT_RATE));
}

static void load_seed(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_SEED");
    uint64_t s;
    enum parse_status st;
    cfg->seed = 0;
    cfg->seed_set = 0;
    if (v == NULL)
        return;
    st = parse_seed_st(v, &s);
    if (st == PARSE_OK) {
        cfg->seed = s;
        cfg->seed_set = 1;
    } else {
        warn_bad(warn, "HEAPPROF_SEED", v,
                 st == PARSE_SYNTAX ? "is not an unsigned integer"
                                    : "is out of range (0 to 2^64-1)",
                 "a random seed");
    }
}

static void load_depth(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_DEPTH");
    char dflt[24];
    uint64_t d;
    enum parse_status st;
    cfg->depth = HP_DEFAULT_DEPTH;
    if (v == NULL)
        return;
    st = parse_u64_st(v, 1, HP_MAX_DEPTH, &d);
    if (st == PARSE_OK)
        cfg->depth = (unsigned)d;
    else
        warn_bad(warn, "HEAPPROF_DEPTH", v,
                 st == PARSE_SYNTAX ? "is not a whole number"
                                    : "is out of range (1 to 256)",
                 u64_text(dflt, sizeof dflt, HP_DEFAULT_DEPTH));
}

static void load_interval(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_INTERVAL");
    char dflt[24];
    uint64_t ns;
    enum parse_status st;
    cfg->interval_ns = HP_DEFAULT_INTERVAL_NS;
    if (v == NULL)
        return;
    st = parse_seconds_st(v, HP_MAX_INTERVAL_NS, &ns);
    if (st == PARSE_OK && ns != 0 && ns < HP_MIN_INTERVAL_NS)
        st = PARSE_RANGE;
    if (st == PARSE_OK)
        cfg->interval_ns = ns;
    else
        warn_bad(warn, "HEAPPROF_INTERVAL", v,
                 st == PARSE_SYNTAX ? "is not a number of seconds"
                                    : "is out of range (0, or 0.01 to 604800 seconds)",
                 u64_text(dflt, sizeof dflt, HP_DEFAULT_INTERVAL_NS / NS_PER_SEC));
}

static void load_flush(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_FLUSH_MS");
    char dflt[24];
    uint64_t ms;
    enum parse_status st;
    cfg->flush_ns = HP_DEFAULT_FLUSH_NS;
    if (v == NULL)
        return;
    st = parse_u64_st(v, HP_MIN_FLUSH_MS, HP_MAX_FLUSH_MS, &ms);
    if (st == PARSE_OK)
        cfg->flush_ns = ms * 1000000ull;
    else
        warn_bad(warn, "HEAPPROF_FLUSH_MS", v,
                 st == PARSE_SYNTAX ? "is not a whole number of milliseconds"
                                    : "is out of range (1 to 60000)",
                 u64_text(dflt, sizeof dflt, HP_DEFAULT_FLUSH_NS / 1000000ull));
}

static void load_headers(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_HEADERS");
    uint64_t on;
    cfg->headers = 1;
    if (v == NULL)
        return;
    if (parse_u64_st(v, 0, 1, &on) == PARSE_OK)
        cfg->headers = (int)on;
    else
        warn_bad(warn, "HEAPPROF_HEADERS", v, "is not 0 or 1", "1");
}

static void load_children(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_CHILDREN");
    uint64_t on;
    cfg->children = 1;
    if (v == NULL)
        return;
    if (parse_u64_st(v, 0, 1, &on) == PARSE_OK)
        cfg->children = (int)on;
    else
        warn_bad(warn, "HEAPPROF_CHILDREN", v, "is not 0 or 1", "1");
}

static void load_out(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_OUT");
    size_t n;
    memcpy(cfg->out_prefix, HP_DEFAULT_OUT, sizeof HP_DEFAULT_OUT);
    if (v == NULL)
        return;
    /* The prefix must fit out_prefix with its terminator; strnlen so a huge
     * value is not scanned to its end. */
    n = strnlen(v, HP_OUT_PREFIX_MAX);
    if (n == 0)
        warn_bad(warn, "HEAPPROF_OUT", v, "is empty", "\"" HP_DEFAULT_OUT "\"");
    else if (n >= HP_OUT_PREFIX_MAX)
        warn_bad(warn, "HEAPPROF_OUT", v, "is longer than 1023 bytes",
                 "\"" HP_DEFAULT_OUT "\"");
    else
        memcpy(cfg->out_prefix, v, n + 1);
}

static void load_http(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_HTTP");
    hp_http_config h;
    enum parse_status st;
    memset(&cfg->http, 0, sizeof cfg->http);
    if (v == NULL)
        return;
    st = parse_http_st(v, &h);
    if (st == PARSE_OK)
        cfg->http = h;
    else if (v[0] == '\0')
        warn_bad(warn, "HEAPPROF_HTTP", v, "is empty", "no HTTP server");
    else
        warn_bad(warn, "HEAPPROF_HTTP", v,
                 st == PARSE_SYNTAX ? "is not [address]:port (:6060, 127.0.0.1:6060, [::1]:6060)"
                                    : "has a port out of range (1 to 65535)",
                 "no HTTP server");
}

static void load_signal(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    const char *v = get("HEAPPROF_SIGNAL");
    const char *problem;
    int signo = 0;
    enum parse_status st;
    cfg->dump_signal = 0;
    if (v == NULL)
        return;
    st = parse_signal_st(v, &signo);
    switch (st) {
    case PARSE_OK:
        cfg->dump_signal = signo;
        return;
    case PARSE_RANGE: problem = "is out of range (1 to SIGRTMAX)"; break;
    case PARSE_UNCATCHABLE: problem = "cannot be caught by a handler"; break;
    case PARSE_FAULT: problem = "is a fault signal (SEGV, BUS, FPE, ILL)"; break;
    default: problem = v[0] == '\0' ? "is empty" : "is not a signal name or number"; break;
    }
    warn_bad(warn, "HEAPPROF_SIGNAL", v, problem, "no signal dumps");
}

void hp_config_load(hp_config *cfg, hp_getenv_fn get, hp_warn_fn warn)
{
    /* Zero first so padding and unused prefix bytes are deterministic. */
    memset(cfg, 0, sizeof *cfg);
    if (get == NULL) {
        cfg->rate = HP_DEFAULT_RATE;
        cfg->depth = HP_DEFAULT_DEPTH;
        cfg->interval_ns = HP_DEFAULT_INTERVAL_NS;
        cfg->flush_ns = HP_DEFAULT_FLUSH_NS;
        memcpy(cfg->out_prefix, HP_DEFAULT_OUT, sizeof HP_DEFAULT_OUT);
        cfg->headers = 1;
        cfg->children = 1;
        return;
    }
    load_rate(cfg, get, warn);
    load_seed(cfg, get, warn);
    load_depth(cfg, get, warn);
    load_interval(cfg, get, warn);
    load_flush(cfg, get, warn);
    load_out(cfg, get, warn);
    load_http(cfg, get, warn);
    load_signal(cfg, get, warn);
    load_headers(cfg, get, warn);
    load_children(cfg, get, warn);
}

void hp_config_warn_stderr(const char *line)
{
    /* One write() of line + '\n' so lines from several processes (fork,
     * exec'd children inheriting the environment) do not interleave.  Runs
     * inside malloc: errno must come back unchanged. */
    char buf[LINE_MAX_BYTES + 2];
    int saved = errno;
    /* A loop, not strnlen: callers pass buffers shorter than the bound, which
     * GCC's -O3 flags (wrongly: the scan stops at the terminator). */
    size_t n = 0;
    while (n < LINE_MAX_BYTES && line[n] != '\0')
        n++;
    const char *p = buf;
    memcpy(buf, line, n);
    buf[n++] = '\n';
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stderr closed or full: nothing sensible to do */
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}
