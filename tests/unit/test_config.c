/* Configuration parsing: defaults, every good form of every variable, and
 * every class of bad value -> exactly one warning line and the default.
 * The environment comes from a fake getenv so tests never touch the real
 * one; the warn hook records lines instead of writing to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <unistd.h>

#include "base/common.h"
#include "base/config.h"
#include "base/warn.h"

/* ---- fake environment ---- */

#define MAX_VARS 12
static struct {
    const char *name;
    const char *value;
} g_env[MAX_VARS];
static size_t g_env_n;

static void env_clear(void) { g_env_n = 0; }

static void env_set(const char *name, const char *value)
{
    assert_true(g_env_n < MAX_VARS);
    g_env[g_env_n].name = name;
    g_env[g_env_n].value = value;
    g_env_n++;
}

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < g_env_n; i++)
        if (strcmp(g_env[i].name, name) == 0)
            return g_env[i].value;
    return NULL;
}

/* ---- captured warnings ---- */

static int g_warn_count;
static char g_warn_last[512];

static void capture_warn(const char *line)
{
    g_warn_count++;
    snprintf(g_warn_last, sizeof g_warn_last, "%s", line);
}

static int setup(void **state)
{
    (void)state;
    env_clear();
    g_warn_count = 0;
    g_warn_last[0] = '\0';
    return 0;
}

static void load(hp_config *cfg)
{
    g_warn_count = 0;
    g_warn_last[0] = '\0';
    hp_config_load(cfg, fake_getenv, capture_warn);
}

static void assert_defaults_except(const hp_config *cfg, const char *except)
{
    if (strcmp(except, "RATE") != 0)
        assert_int_equal(cfg->rate, HP_DEFAULT_RATE);
    if (strcmp(except, "SEED") != 0) {
        assert_int_equal(cfg->seed_set, 0);
    }
    if (strcmp(except, "DEPTH") != 0)
        assert_int_equal(cfg->depth, HP_DEFAULT_DEPTH);
    if (strcmp(except, "INTERVAL") != 0)
        assert_int_equal(cfg->interval_ns, HP_DEFAULT_INTERVAL_NS);
    if (strcmp(except, "FLUSH_MS") != 0)
        assert_int_equal(cfg->flush_ns, HP_DEFAULT_FLUSH_NS);
    if (strcmp(except, "OUT") != 0)
        assert_string_equal(cfg->out_prefix, HP_DEFAULT_OUT);
    if (strcmp(except, "HTTP") != 0)
        assert_int_equal(cfg->http.family, 0); /* no server unless asked for */
    if (strcmp(except, "SIGNAL") != 0)
        assert_int_equal(cfg->dump_signal, 0);
    if (strcmp(except, "CONTROL_SIGNAL") != 0)
        assert_int_equal(cfg->control_signal, 0);
    if (strcmp(except, "HEADERS") != 0)
        assert_int_equal(cfg->headers, 1);
    if (strcmp(except, "CHILDREN") != 0)
        assert_int_equal(cfg->children, 1);
    if (strcmp(except, "BUILD_IDS") != 0)
        assert_int_equal(cfg->build_ids, 0); /* off: Go 1.19's pprof rejects the right binary with one */
}

/* ---- defaults ---- */

static void test_defaults_empty_env(void **state)
{
    (void)state;
    hp_config cfg;
    load(&cfg);
    assert_int_equal(g_warn_count, 0);
    assert_defaults_except(&cfg, "");
    assert_int_equal(cfg.seed, 0);
}

static void test_null_getenv_and_warn(void **state)
{
    (void)state;
    hp_config cfg;
    hp_config_load(&cfg, NULL, NULL);
    assert_defaults_except(&cfg, "");
    /* A NULL warn hook must be tolerated too (bad value, no crash). */
    env_set("HEAPPROF_RATE", "abc");
    hp_config_load(&cfg, fake_getenv, NULL);
    assert_int_equal(cfg.rate, HP_DEFAULT_RATE);
}

/* ---- good values ---- */

static void test_rate_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"0", 0},           {"1", 1},
        {"524288", 524288}, {"65536", 65536},
        {"512k", 524288},   {"512K", 524288},
        {"512KiB", 524288}, {"512KB", 524288},
        {"64m", 64ull << 20}, {"1M", 1ull << 20},
        {"1MiB", 1ull << 20}, {"1G", 1ull << 30},
        {"1g", 1ull << 30}, {"1073741824", 1ull << 30},
        {"0K", 0},          {"007", 7},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_RATE", cases[i].text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("RATE=%s warned: %s", cases[i].text, g_warn_last);
        assert_int_equal(cfg.rate, cases[i].want);
        assert_defaults_except(&cfg, "RATE");
    }
}

static void test_seed_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"0", 0},
        {"42", 42},
        {"18446744073709551615", UINT64_MAX},
        {"0x2a", 42},
        {"0XFFFFFFFFFFFFFFFF", UINT64_MAX},
        {"0xdeadBEEF", 0xdeadbeefull},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_SEED", cases[i].text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("SEED=%s warned: %s", cases[i].text, g_warn_last);
        assert_int_equal(cfg.seed_set, 1);
        assert_int_equal(cfg.seed, cases[i].want);
        assert_defaults_except(&cfg, "SEED");
    }
}

static void test_depth_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned want;
    } cases[] = {{"1", 1}, {"64", 64}, {"128", 128}, {"256", 256}, {"0010", 10}};
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_DEPTH", cases[i].text);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_int_equal(cfg.depth, cases[i].want);
        assert_defaults_except(&cfg, "DEPTH");
    }
}

static void test_interval_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want_ns;
    } cases[] = {
        {"0", 0},
        {"0.0", 0},
        {"60", 60000000000ull},
        {"2", 2000000000ull},
        {"0.5", 500000000ull},
        {".5", 500000000ull},
        {"5.", 5000000000ull},
        {"1.25", 1250000000ull},
        {"0.01", 10000000ull},
        {"0.123456789", 123456789ull},
        /* beyond nanoseconds: rounds up, never down to a smaller value */
        {"0.1234567891", 123456790ull},
        {"0.1234567890000", 123456789ull},
        {"604800", 604800ull * 1000000000ull},
        {"604800.000", 604800ull * 1000000000ull},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_INTERVAL", cases[i].text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("INTERVAL=%s warned: %s", cases[i].text, g_warn_last);
        assert_int_equal(cfg.interval_ns, cases[i].want_ns);
        assert_defaults_except(&cfg, "INTERVAL");
    }
}

static void test_flush_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want_ns;
    } cases[] = {{"1", 1000000ull}, {"100", 100000000ull}, {"250", 250000000ull},
                 {"60000", 60000000000ull}};
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_FLUSH_MS", cases[i].text);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_int_equal(cfg.flush_ns, cases[i].want_ns);
        assert_defaults_except(&cfg, "FLUSH_MS");
    }
}

static void run_bad(const char *var, const char *const *values, size_t n, const char *suffix,
                    const char *problem_syntax, const char *problem_range);

static void test_headers(void **state)
{
    (void)state;
    hp_config cfg;
    static const char *const good[] = {"0", "1"};
    for (size_t i = 0; i < HP_ARRAY_LEN(good); i++) {
        env_clear();
        env_set("HEAPPROF_HEADERS", good[i]);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_int_equal(cfg.headers, good[i][0] == '1');
        assert_defaults_except(&cfg, "HEADERS");
    }
    static const char *const bad[] = {"2", "yes", "on", "-1", "01x", " 1", "10"};
    run_bad("HEADERS", bad, HP_ARRAY_LEN(bad), "; using 1", "is not 0 or 1", "is not 0 or 1");
}

static void test_children(void **state)
{
    (void)state;
    hp_config cfg;
    static const char *const good[] = {"0", "1"};
    for (size_t i = 0; i < HP_ARRAY_LEN(good); i++) {
        env_clear();
        env_set("HEAPPROF_CHILDREN", good[i]);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_int_equal(cfg.children, good[i][0] == '1');
        assert_defaults_except(&cfg, "CHILDREN");
    }
    static const char *const bad[] = {"2", "no", "off", "-1", " 0", "00x"};
    run_bad("CHILDREN", bad, HP_ARRAY_LEN(bad), "; using 1", "is not 0 or 1", "is not 0 or 1");
}

static void test_build_ids(void **state)
{
    (void)state;
    hp_config cfg;
    static const char *const good[] = {"0", "1"};
    for (size_t i = 0; i < HP_ARRAY_LEN(good); i++) {
        env_clear();
        env_set("HEAPPROF_BUILD_IDS", good[i]);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_int_equal(cfg.build_ids, good[i][0] == '1');
        assert_defaults_except(&cfg, "BUILD_IDS");
    }
    static const char *const bad[] = {"2", "yes", "true", "-1", " 1", "1 "};
    run_bad("BUILD_IDS", bad, HP_ARRAY_LEN(bad), "; using 0", "is not 0 or 1", "is not 0 or 1");
}

static void test_out_good(void **state)
{
    (void)state;
    static char longest[HP_OUT_PREFIX_MAX];
    const char *cases[] = {"/tmp/myapp", "x", "rel/dir/prefix", "with space", longest};
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0'; /* 1023 bytes: the longest accepted */
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_OUT", cases[i]);
        load(&cfg);
        assert_int_equal(g_warn_count, 0);
        assert_string_equal(cfg.out_prefix, cases[i]);
        assert_defaults_except(&cfg, "OUT");
    }
}

static void test_all_at_once(void **state)
{
    (void)state;
    hp_config cfg;
    env_set("HEAPPROF_RATE", "64K");
    env_set("HEAPPROF_SEED", "7");
    env_set("HEAPPROF_DEPTH", "32");
    env_set("HEAPPROF_INTERVAL", "0.25");
    env_set("HEAPPROF_FLUSH_MS", "10");
    env_set("HEAPPROF_OUT", "/tmp/x");
    load(&cfg);
    assert_int_equal(g_warn_count, 0);
    assert_int_equal(cfg.rate, 65536);
    assert_int_equal(cfg.seed_set, 1);
    assert_int_equal(cfg.seed, 7);
    assert_int_equal(cfg.depth, 32);
    assert_int_equal(cfg.interval_ns, 250000000ull);
    assert_int_equal(cfg.flush_ns, 10000000ull);
    assert_string_equal(cfg.out_prefix, "/tmp/x");
}

/* ---- bad values ---- */
/* The brief's list of bad inputs, applied to every numeric variable. */
static const char *const k_bad_common[] = {
    "abc", "-5", "1e99", "12abc", "", "99999999999999999999999",
    " 5", "5 ", "\t5", "5\n", "+5", "0x", "1 2", "1,5", "\xc3\xa9",
};

/* The expected warning for one bad value: prefix `heapprof: NAME="VALUE" `
 * (VALUE escaped as the implementation documents), suffix `; using DEFAULT`,
 * exactly one line, and short. */
static void expect_one_warning(const char *name, const char *escaped, const char *suffix)
{
    char prefix[256];
    size_t n, slen = strlen(suffix);
    if (g_warn_count != 1)
        fail_msg("%s=%s: %d warnings (last: %s)", name, escaped, g_warn_count, g_warn_last);
    snprintf(prefix, sizeof prefix, "heapprof: %s=\"%s\" ", name, escaped);
    if (strncmp(g_warn_last, prefix, strlen(prefix)) != 0)
        fail_msg("want prefix [%s], got [%s]", prefix, g_warn_last);
    n = strlen(g_warn_last);
    if (n < slen || strcmp(g_warn_last + n - slen, suffix) != 0)
        fail_msg("want suffix [%s], got [%s]", suffix, g_warn_last);
    assert_null(strchr(g_warn_last, '\n'));
    assert_true(n < 200);
}

/* Escapes a test input the way the warning must show it. */
static void escape(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < size; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p >= 0x20 && *p < 0x7f) {
            out[o++] = (char)*p;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
        }
    }
    out[o] = '\0';
}

static void run_bad(const char *var, const char *const *values, size_t n, const char *suffix,
                    const char *problem_syntax, const char *problem_range)
{
    char name[64], esc[256];
    snprintf(name, sizeof name, "HEAPPROF_%s", var);
    for (size_t i = 0; i < n; i++) {
        hp_config cfg;
        env_clear();
        env_set(name, values[i]);
        load(&cfg);
        escape(values[i], esc, sizeof esc);
        expect_one_warning(name, esc, suffix);
        /* the problem wording is one of the two documented ones */
        if (strstr(g_warn_last, problem_syntax) == NULL && strstr(g_warn_last, problem_range) == NULL)
            fail_msg("unexpected wording: %s", g_warn_last);
        assert_defaults_except(&cfg, "");
    }
}

static void test_rate_bad(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "1073741825", "2G", "1025M", "18446744073709551615K", "0.5", "1.5M",
        "5KK", "5Ki", "5iB", "K", "5 K", "5T", "5b", "0x10",
    };
    run_bad("RATE", k_bad_common, HP_ARRAY_LEN(k_bad_common), "; using 524288",
            "is not a byte count", "is out of range");
    run_bad("RATE", extra, HP_ARRAY_LEN(extra), "; using 524288", "is not a byte count",
            "is out of range");
}

static void test_rate_exact_messages(void **state)
{
    (void)state;
    hp_config cfg;
    env_set("HEAPPROF_RATE", "abc");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_RATE=\"abc\" is not a byte count; using 524288");
    env_clear();
    env_set("HEAPPROF_RATE", "99999999999999999999999");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_RATE=\"99999999999999999999999\" "
                                     "is out of range (0 to 1G bytes); using 524288");
    env_clear();
    env_set("HEAPPROF_DEPTH", "0");
    load(&cfg);
    assert_string_equal(g_warn_last,
                        "heapprof: HEAPPROF_DEPTH=\"0\" is out of range (1 to 256); using 64");
    env_clear();
    env_set("HEAPPROF_INTERVAL", "-5");
    load(&cfg);
    assert_string_equal(g_warn_last,
                        "heapprof: HEAPPROF_INTERVAL=\"-5\" is not a number of seconds; using 60");
    env_clear();
    env_set("HEAPPROF_SEED", "");
    load(&cfg);
    assert_string_equal(g_warn_last,
                        "heapprof: HEAPPROF_SEED=\"\" is not an unsigned integer; using a random seed");
    env_clear();
    env_set("HEAPPROF_FLUSH_MS", "60001");
    load(&cfg);
    assert_string_equal(g_warn_last,
                        "heapprof: HEAPPROF_FLUSH_MS=\"60001\" is out of range (1 to 60000); using 100");
    env_clear();
    env_set("HEAPPROF_OUT", "");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_OUT=\"\" is empty; using \"heapprof\"");
}

static void test_seed_bad(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "18446744073709551616", "0x1FFFFFFFFFFFFFFFF", "0xg", "0x 1", "-0", "1.0",
    };
    run_bad("SEED", k_bad_common, HP_ARRAY_LEN(k_bad_common), "; using a random seed",
            "is not an unsigned integer", "is out of range");
    run_bad("SEED", extra, HP_ARRAY_LEN(extra), "; using a random seed",
            "is not an unsigned integer", "is out of range");
}

static void test_depth_bad(void **state)
{
    (void)state;
    static const char *const extra[] = {"0", "257", "1000", "4294967297", "64K", "6.4"};
    run_bad("DEPTH", k_bad_common, HP_ARRAY_LEN(k_bad_common), "; using 64",
            "is not a whole number", "is out of range");
    run_bad("DEPTH", extra, HP_ARRAY_LEN(extra), "; using 64", "is not a whole number",
            "is out of range");
}

static void test_interval_bad(void **state)
{
    (void)state;
    static const char *const extra[] = {
        "0.001", "0.0099", "0.0000000001", "604800.000000001", "604801", "1e3",
        "1.2.3", ".", "1s", "0,5", "inf", "nan", "18446744073709551616",
        "18446744074", "18446744073.9999999999",
    };
    run_bad("INTERVAL", k_bad_common, HP_ARRAY_LEN(k_bad_common), "; using 60",
            "is not a number of seconds", "is out of range");
    run_bad("INTERVAL", extra, HP_ARRAY_LEN(extra), "; using 60",
            "is not a number of seconds", "is out of range");
}

static void test_flush_bad(void **state)
{
    (void)state;
    static const char *const extra[] = {"0", "60001", "1.5", "100ms"};
    run_bad("FLUSH_MS", k_bad_common, HP_ARRAY_LEN(k_bad_common), "; using 100",
            "is not a whole number of milliseconds", "is out of range");
    run_bad("FLUSH_MS", extra, HP_ARRAY_LEN(extra), "; using 100",
            "is not a whole number of milliseconds", "is out of range");
}

static void test_out_bad(void **state)
{
    (void)state;
    static char too_long[HP_OUT_PREFIX_MAX + 1];
    static char huge[100000];
    hp_config cfg;
    memset(too_long, 'b', sizeof too_long - 1); /* 1024 bytes: one too many */
    memset(huge, 'c', sizeof huge - 1);

    env_set("HEAPPROF_OUT", "");
    load(&cfg);
    expect_one_warning("HEAPPROF_OUT", "", "; using \"heapprof\"");
    assert_string_equal(cfg.out_prefix, HP_DEFAULT_OUT);

    const char *longs[] = {too_long, huge};
    for (size_t i = 0; i < 2; i++) {
        env_clear();
        env_set("HEAPPROF_OUT", longs[i]);
        load(&cfg);
        assert_int_equal(g_warn_count, 1);
        assert_non_null(strstr(g_warn_last, "is longer than 1023 bytes; using \"heapprof\""));
        assert_true(strlen(g_warn_last) < 200); /* the value is cut, the line stays short */
        assert_non_null(strstr(g_warn_last, "...\""));
        assert_string_equal(cfg.out_prefix, HP_DEFAULT_OUT);
    }
}

/* ---- HEAPPROF_HTTP and HEAPPROF_SIGNAL (issue 6) ---- */

static void test_http_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int family;
        unsigned char addr[16];
        unsigned port;
        int loopback;
    } cases[] = {
        {"127.0.0.1:6060", HP_HTTP_INET, {127, 0, 0, 1}, 6060, 1},
        {":6060", HP_HTTP_INET, {127, 0, 0, 1}, 6060, 1}, /* bare port: loopback, never "any" */
        {"6060", HP_HTTP_INET, {127, 0, 0, 1}, 6060, 1},
        {"localhost:1", HP_HTTP_INET, {127, 0, 0, 1}, 1, 1},
        {"127.1.2.3:65535", HP_HTTP_INET, {127, 1, 2, 3}, 65535, 1},
        {"[::1]:6060", HP_HTTP_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 6060, 1},
        {"[::ffff:127.0.0.1]:80", HP_HTTP_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, 80, 1},
        {"0.0.0.0:6060", HP_HTTP_INET, {0, 0, 0, 0}, 6060, 0}, /* explicit: allowed, warned at start */
        {"192.168.1.5:8080", HP_HTTP_INET, {192, 168, 1, 5}, 8080, 0},
        {"[::]:6060", HP_HTTP_INET6, {0}, 6060, 0},
        {"[fe80::1]:7", HP_HTTP_INET6, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 7, 0},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_HTTP", cases[i].text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("HTTP=%s warned: %s", cases[i].text, g_warn_last);
        assert_int_equal(cfg.http.family, cases[i].family);
        assert_memory_equal(cfg.http.addr, cases[i].addr, cases[i].family == HP_HTTP_INET ? 4 : 16);
        assert_int_equal(cfg.http.port, cases[i].port);
        assert_int_equal(cfg.http.loopback, cases[i].loopback);
        assert_defaults_except(&cfg, "HTTP");
    }
}

static void test_http_bad(void **state)
{
    (void)state;
    static const char *const syntax[] = {
        "abc", "127.0.0.1", "127.0.0.1:", ":", "::1:6060", "[::1]", "[::1]6060", "[::1]:",
        "[]:6060", "[127.0.0.1]:6060", "example.com:80", "1.2.3:80", "1.2.3.4.5:80", "256.0.0.1:80",
        ":60x", ": 6060", ":6060 ", "[::1%lo]:6060", "-1", "http://127.0.0.1:6060", "\xc3\xa9:1",
    };
    static const char *const range[] = {":0", "0", ":65536", "127.0.0.1:99999999999999999999999"};
    run_bad("HTTP", syntax, HP_ARRAY_LEN(syntax), "; using no HTTP server", "is not [address]:port",
            "has a port out of range");
    run_bad("HTTP", range, HP_ARRAY_LEN(range), "; using no HTTP server", "has a port out of range (1 to 65535)",
            "has a port out of range (1 to 65535)");
    hp_config cfg;
    env_clear();
    env_set("HEAPPROF_HTTP", "nope");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_HTTP=\"nope\" is not [address]:port "
                                     "(:6060, 127.0.0.1:6060, [::1]:6060); using no HTTP server");
    env_clear();
    env_set("HEAPPROF_HTTP", "");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_HTTP=\"\" is empty; using no HTTP server");
}

static void test_signal_good(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int want;
    } cases[] = {
        {"SIGUSR2", SIGUSR2}, {"USR2", SIGUSR2},   {"usr2", SIGUSR2},   {"SigUsr1", SIGUSR1},
        {"12", 12},           {"SIGHUP", SIGHUP},  {"PROF", SIGPROF},   {"SIGWINCH", SIGWINCH},
        {"RTMIN", SIGRTMIN},  {"SIGRTMIN+2", SIGRTMIN + 2}, {"rtmax", SIGRTMAX}, {"SIGRTMAX-1", SIGRTMAX - 1},
        {"SIGTERM", SIGTERM}, {"ABRT", SIGABRT},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        hp_config cfg;
        env_clear();
        env_set("HEAPPROF_SIGNAL", cases[i].text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("SIGNAL=%s warned: %s", cases[i].text, g_warn_last);
        assert_int_equal(cfg.dump_signal, cases[i].want);
        assert_defaults_except(&cfg, "SIGNAL");
    }
}

/* HEAPPROF_CONTROL_SIGNAL: the same parser and rules as HEAPPROF_SIGNAL, its
 * own field and fallback. */
static void test_control_signal(void **state)
{
    (void)state;
    hp_config cfg;
    env_clear();
    env_set("HEAPPROF_CONTROL_SIGNAL", "SIGRTMIN+3");
    load(&cfg);
    assert_int_equal(g_warn_count, 0);
    assert_int_equal(cfg.control_signal, SIGRTMIN + 3);
    assert_defaults_except(&cfg, "CONTROL_SIGNAL");
    env_clear();
    env_set("HEAPPROF_CONTROL_SIGNAL", "KILL");
    load(&cfg);
    assert_int_equal(cfg.control_signal, 0);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_CONTROL_SIGNAL=\"KILL\" cannot be caught by a handler; "
                                     "using no rate control by signal");
}

static void test_signal_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "FOO", "SIG", "SIGUSR3", "USR2 ", "0", "65", "-12", "12x", "SIGKILL", "9", "STOP", "SIGSEGV",
        "BUS", "8", "ILL", "32", "33", "SIGRTMIN+999", "RTMIN+", "RTMIN-1", "RTMAX+1", "SIG USR2",
        "", "\x1b[31m",
    };
    run_bad("SIGNAL", bad, HP_ARRAY_LEN(bad), "; using no signal dumps", "HEAPPROF_SIGNAL=", "HEAPPROF_SIGNAL=");
    hp_config cfg;
    static const struct {
        const char *text, *line;
    } exact[] = {
        {"FOO", "heapprof: HEAPPROF_SIGNAL=\"FOO\" is not a signal name or number; using no signal dumps"},
        {"KILL", "heapprof: HEAPPROF_SIGNAL=\"KILL\" cannot be caught by a handler; using no signal dumps"},
        {"SIGSEGV", "heapprof: HEAPPROF_SIGNAL=\"SIGSEGV\" is a fault signal (SEGV, BUS, FPE, ILL); "
                    "using no signal dumps"},
        {"999", "heapprof: HEAPPROF_SIGNAL=\"999\" is out of range (1 to SIGRTMAX); using no signal dumps"},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(exact); i++) {
        env_clear();
        env_set("HEAPPROF_SIGNAL", exact[i].text);
        load(&cfg);
        assert_string_equal(g_warn_last, exact[i].line);
    }
}

/* Unset means "default, silently"; set-but-empty is a mistake worth a line. */
static void test_unset_vs_empty(void **state)
{
    (void)state;
    static const char *const vars[] = {"HEAPPROF_RATE",     "HEAPPROF_SEED",     "HEAPPROF_DEPTH",
                                       "HEAPPROF_INTERVAL", "HEAPPROF_FLUSH_MS", "HEAPPROF_OUT",
                                       "HEAPPROF_HTTP",     "HEAPPROF_SIGNAL",   "HEAPPROF_HEADERS"};
    hp_config cfg;
    load(&cfg);
    assert_int_equal(g_warn_count, 0);
    for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++) {
        env_clear();
        env_set(vars[i], "");
        load(&cfg);
        assert_int_equal(g_warn_count, 1);
        assert_defaults_except(&cfg, "");
    }
    /* all empty: one line each */
    env_clear();
    for (size_t i = 0; i < HP_ARRAY_LEN(vars); i++)
        env_set(vars[i], "");
    load(&cfg);
    assert_int_equal(g_warn_count, (int)HP_ARRAY_LEN(vars));
}

/* Non-printable and long values are escaped and cut so the line stays one
 * short line that cannot drive a terminal. */
static void test_escaping(void **state)
{
    (void)state;
    hp_config cfg;
    static char long_ctl[400];
    env_set("HEAPPROF_RATE", "a\"b\\c\n\x1b[31m");
    load(&cfg);
    assert_string_equal(g_warn_last, "heapprof: HEAPPROF_RATE=\"a\\\"b\\\\c\\x0a\\x1b[31m\" "
                                     "is not a byte count; using 524288");
    memset(long_ctl, 0x01, sizeof long_ctl - 1);
    env_clear();
    env_set("HEAPPROF_DEPTH", long_ctl);
    load(&cfg);
    assert_int_equal(g_warn_count, 1);
    assert_true(strlen(g_warn_last) < 200);
    assert_non_null(strstr(g_warn_last, "...\" is not a whole number; using 64"));
    for (const char *p = g_warn_last; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

/* Decimal seconds must not depend on LC_NUMERIC (parsed by hand). */
static void test_interval_locale_independent(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(hp_parse_seconds_ns("0.5", UINT64_MAX, &ns), 0);
    assert_int_equal(ns, 500000000ull);
    assert_int_equal(hp_parse_seconds_ns("0,5", UINT64_MAX, &ns), -1);
    /* Under a comma-decimal locale, when one is installed, nothing changes. */
    static const char *const comma_locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
    for (size_t i = 0; i < HP_ARRAY_LEN(comma_locales); i++) {
        if (setlocale(LC_NUMERIC, comma_locales[i]) == NULL)
            continue;
        ns = 0;
        assert_int_equal(hp_parse_seconds_ns("0.5", UINT64_MAX, &ns), 0);
        assert_int_equal(ns, 500000000ull);
        assert_int_equal(hp_parse_seconds_ns("0,5", UINT64_MAX, &ns), -1);
        setlocale(LC_NUMERIC, "C");
        break;
    }
}

/* The exposed parsers, directly. */
static void test_parsers_direct(void **state)
{
    (void)state;
    uint64_t v = 123;
    assert_int_equal(hp_parse_u64("5", 1, 10, &v), 0);
    assert_int_equal(v, 5);
    v = 123;
    assert_int_equal(hp_parse_u64("11", 1, 10, &v), -1);
    assert_int_equal(v, 123); /* untouched on failure */
    assert_int_equal(hp_parse_u64(NULL, 0, 10, &v), -1);
    assert_int_equal(hp_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(hp_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(hp_parse_bytes("16G", UINT64_MAX, &v), 0);
    assert_true(v == 16ull << 30);
    assert_int_equal(hp_parse_bytes("17179869184G", UINT64_MAX, &v), -1); /* 2^34 G wraps */
    assert_int_equal(hp_parse_bytes("2K", 2047, &v), -1);
    assert_int_equal(hp_parse_seconds_ns("18446744073", UINT64_MAX, &v), 0);
    assert_true(v == 18446744073000000000ull);
    assert_int_equal(hp_parse_seconds_ns("18446744073.709551615", UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(hp_parse_seconds_ns("18446744073.709551616", UINT64_MAX, &v), -1);
    assert_int_equal(hp_parse_seconds_ns("", UINT64_MAX, &v), -1);
}

/* The options table (hp_option_at): well formed, and every default text,
 * set explicitly, is accepted silently and gives the default configuration
 * (the loader parses the default text itself, so a default outside its own
 * range would otherwise go unnoticed). */
static void test_option_table(void **state)
{
    (void)state;
    hp_config dflt, cfg;
    unsigned n = hp_option_count();
    load(&dflt);
    assert_int_equal(n, 16); /* a new variable: also a README row */
    assert_null(hp_option_at(n));
    for (unsigned i = 0; i < n; i++) {
        const hp_option_info *o = hp_option_at(i);
        assert_non_null(o);
        assert_int_equal(strncmp(o->name, "HEAPPROF_", 9), 0);
        assert_true(o->default_text[0] != '\0');
        assert_true(o->description[0] != '\0' && strlen(o->description) <= 80);
        assert_null(strchr(o->description, '\n'));
        for (unsigned j = 0; j < i; j++)
            assert_string_not_equal(hp_option_at(j)->name, o->name);
        if (strcmp(o->default_text, HP_OPTION_UNSET) == 0)
            continue;
        env_clear();
        env_set(o->name, o->default_text);
        load(&cfg);
        if (g_warn_count != 0)
            fail_msg("%s=%s (its default) warned: %s", o->name, o->default_text, g_warn_last);
        assert_memory_equal(&cfg, &dflt, sizeof cfg);
    }
}

/* The production sink (hp_warn, which runtime.c passes to hp_config_load)
 * writes exactly line + "\n" to fd 2. */
static void test_warn_stderr(void **state)
{
    (void)state;
    int fds[2];
    char buf[256];
    ssize_t n;
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(pipe(fds), 0);
    assert_true(dup2(fds[1], 2) >= 0);
    errno = 1234;
    hp_warn("heapprof: hello");
    assert_int_equal(errno, 1234); /* errno preserved: it runs inside malloc */
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    assert_int_equal(n, 16);
    assert_memory_equal(buf, "heapprof: hello\n", 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_empty_env, setup),
        cmocka_unit_test_setup(test_null_getenv_and_warn, setup),
        cmocka_unit_test_setup(test_rate_good, setup),
        cmocka_unit_test_setup(test_seed_good, setup),
        cmocka_unit_test_setup(test_depth_good, setup),
        cmocka_unit_test_setup(test_interval_good, setup),
        cmocka_unit_test_setup(test_flush_good, setup),
        cmocka_unit_test_setup(test_out_good, setup),
        cmocka_unit_test_setup(test_all_at_once, setup),
        cmocka_unit_test_setup(test_rate_bad, setup),
        cmocka_unit_test_setup(test_rate_exact_messages, setup),
        cmocka_unit_test_setup(test_seed_bad, setup),
        cmocka_unit_test_setup(test_depth_bad, setup),
        cmocka_unit_test_setup(test_interval_bad, setup),
        cmocka_unit_test_setup(test_flush_bad, setup),
        cmocka_unit_test_setup(test_out_bad, setup),
        cmocka_unit_test_setup(test_http_good, setup),
        cmocka_unit_test_setup(test_http_bad, setup),
        cmocka_unit_test_setup(test_signal_good, setup),
        cmocka_unit_test_setup(test_signal_bad, setup),
        cmocka_unit_test_setup(test_headers, setup),
        cmocka_unit_test_setup(test_children, setup),
        cmocka_unit_test_setup(test_build_ids, setup),
        cmocka_unit_test_setup(test_unset_vs_empty, setup),
        cmocka_unit_test_setup(test_escaping, setup),
        cmocka_unit_test_setup(test_interval_locale_independent, setup),
        cmocka_unit_test_setup(test_parsers_direct, setup),
        cmocka_unit_test_setup(test_option_table, setup),
        cmocka_unit_test_setup(test_control_signal, setup),
        cmocka_unit_test_setup(test_warn_stderr, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
