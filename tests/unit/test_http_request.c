/* The HTTP request-head parser: good requests in their accepted forms, every
 * class of bad input with its status, incremental feeding (a request split at
 * every byte must give NEED_MORE until the last byte, never an early error),
 * the size limits, and the query helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/common.h"
#include "control/http_request.h"

static hp_http_request g_req;

static enum hp_http_parse_result parse(const char *text)
{
    return hp_http_parse(text, strlen(text), &g_req);
}

static void expect_bad(const char *text, int status)
{
    enum hp_http_parse_result r = parse(text);
    if (r != HP_HTTP_BAD || g_req.status != status)
        fail_msg("[%s]: result %d status %d, want BAD %d", text, r, g_req.status, status);
    assert_non_null(g_req.reason);
}

/* Every proper prefix of a complete request needs more bytes; the whole is
 * complete. Catches parsers that decide too early. */
static void expect_prefixes_need_more(const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        enum hp_http_parse_result r = hp_http_parse(text, i, &g_req);
        if (r != HP_HTTP_NEED_MORE)
            fail_msg("prefix %zu of [%s]: result %d (status %d)", i, text, r, g_req.status);
    }
    assert_int_equal(hp_http_parse(text, n, &g_req), HP_HTTP_COMPLETE);
    assert_int_equal(g_req.length, n);
}

static void test_simple_get(void **state)
{
    (void)state;
    const char *t = "GET /debug/pprof/heap HTTP/1.1\r\nHost: localhost:6060\r\nUser-Agent: curl/7.88\r\n"
                    "Accept: */*\r\n\r\n";
    assert_int_equal(parse(t), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.method, "GET");
    assert_string_equal(g_req.path, "/debug/pprof/heap");
    assert_string_equal(g_req.query, "");
    assert_int_equal(g_req.version_minor, 1);
    assert_int_equal(g_req.length, strlen(t));
    expect_prefixes_need_more(t);
}

/* What a control request is judged by: an Origin header (web pages) and the
 * body's length; a malformed Content-Length is a 400. */
static void test_origin_and_length(void **state)
{
    (void)state;
    assert_int_equal(parse("POST /debug/pprof/rate?bytes=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                     HP_HTTP_COMPLETE);
    assert_int_equal(g_req.has_origin, 0);
    assert_int_equal(g_req.content_length, 0);
    assert_int_equal(parse("POST /r HTTP/1.1\r\nHost: x\r\norigin: http://a.example\r\nContent-Length:  12 \r\n\r\n"),
                     HP_HTTP_COMPLETE);
    assert_int_equal(g_req.has_origin, 1);
    assert_int_equal(g_req.content_length, 12);
    /* A later request on the same struct starts clean. */
    assert_int_equal(parse("GET /r HTTP/1.1\r\nHost: x\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_int_equal(g_req.has_origin, 0);
    assert_int_equal(g_req.content_length, 0);
    expect_prefixes_need_more("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
    expect_bad("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400);
    expect_bad("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400);
    expect_bad("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
}

static void test_forms(void **state)
{
    (void)state;
    /* HTTP/1.0 needs no Host */
    assert_int_equal(parse("GET /debug/pprof/ HTTP/1.0\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_int_equal(g_req.version_minor, 0);
    /* bare LF line ends, leading empty lines */
    assert_int_equal(parse("\r\n\nGET /x HTTP/1.1\nHost: a\n\n"), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/x");
    /* query kept raw, path decoded */
    assert_int_equal(parse("GET /debug/pprof/h%65ap?seconds=2&debug=%31 HTTP/1.1\r\nHost: a\r\n\r\n"),
                     HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/debug/pprof/heap");
    assert_string_equal(g_req.query, "seconds=2&debug=%31");
    /* absolute-form */
    assert_int_equal(parse("GET http://127.0.0.1:6060/debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
                     HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/debug/pprof/heap");
    assert_string_equal(g_req.query, "debug=1");
    assert_int_equal(parse("GET HTTP://h HTTP/1.1\r\nHost: x\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/");
    assert_int_equal(parse("GET http://h?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/");
    assert_string_equal(g_req.query, "a=1");
    /* other methods parse (the server answers 405) */
    assert_int_equal(parse("POST /debug/pprof/heap HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"),
                     HP_HTTP_COMPLETE);
    assert_string_equal(g_req.method, "POST");
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "*");
    /* header values: tabs, obs-text, empty values, odd names */
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A:\t v\xc3\xa9 \r\nX-Empty:\r\n!#$%&'*+-.^_`|~: 1\r\n\r\n"),
                     HP_HTTP_COMPLETE);
    /* exactly 64 header fields is fine */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < HP_HTTP_MAX_HEADERS; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "X-%d: v\r\n", i);
    snprintf(big + o, sizeof big - o, "\r\n");
    assert_int_equal(parse(big), HP_HTTP_COMPLETE);
}

static void test_incremental(void **state)
{
    (void)state;
    expect_prefixes_need_more("GET /debug/pprof/heap?seconds=2 HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_prefixes_need_more("\r\nGET / HTTP/1.0\n\n");
    /* garbage is refused as soon as it is visible, not after more bytes */
    assert_int_equal(hp_http_parse("\x16\x03\x01", 3, &g_req), HP_HTTP_BAD); /* a TLS hello */
    assert_int_equal(hp_http_parse("GET /a\x01", 7, &g_req), HP_HTTP_BAD);
    assert_int_equal(hp_http_parse("GET / FTP", 9, &g_req), HP_HTTP_BAD);
    assert_int_equal(hp_http_parse("GET / HTTP/2", 12, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 505);
}

static void test_bad_request_line(void **state)
{
    (void)state;
    expect_bad("GET\r\n\r\n", 400);
    expect_bad("GET /\r\n\r\n", 400);                 /* HTTP/0.9 */
    expect_bad(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    expect_bad("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    expect_bad("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    expect_bad("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    expect_bad("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n", 501); /* 17-byte method */
    expect_bad("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("\r\r\n", 400);
}

static void test_bad_headers(void **state)
{
    (void)state;
    expect_bad("GET / HTTP/1.1\r\n\r\n", 400);                        /* no Host */
    expect_bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);  /* two */
    expect_bad("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\n: a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nHost a\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400);
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    assert_int_equal(hp_http_parse(nul, sizeof nul - 1, &g_req), HP_HTTP_BAD);
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < HP_HTTP_MAX_HEADERS; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "X-%d: v\r\n", i);
    snprintf(big + o, sizeof big - o, "\r\n");
    expect_bad(big, 431);
}

static void test_paths(void **state)
{
    (void)state;
    expect_bad("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /debug/pprof/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /.. HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /%2e%2e/x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /%2E./x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET http://h/../x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_bad("GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    /* dots that are not a ".." segment are fine */
    assert_int_equal(parse("GET /a..b/...?x=.. HTTP/1.1\r\nHost: a\r\n\r\n"), HP_HTTP_COMPLETE);
    assert_string_equal(g_req.path, "/a..b/...");
}

static void test_limits(void **state)
{
    (void)state;
    static char buf[3 * HP_HTTP_MAX_REQUEST];
    /* a target of exactly the maximum is fine, one more is 414 */
    size_t o = (size_t)snprintf(buf, sizeof buf, "GET /");
    memset(buf + o, 'a', HP_HTTP_MAX_TARGET - 1);
    o += HP_HTTP_MAX_TARGET - 1;
    o += (size_t)snprintf(buf + o, sizeof buf - o, " HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(hp_http_parse(buf, o, &g_req), HP_HTTP_COMPLETE);
    assert_int_equal(strlen(g_req.path), HP_HTTP_MAX_TARGET);
    o = (size_t)snprintf(buf, sizeof buf, "GET /");
    memset(buf + o, 'a', HP_HTTP_MAX_TARGET);
    o += HP_HTTP_MAX_TARGET;
    assert_int_equal(hp_http_parse(buf, o, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 414);

    /* one huge header: need-more below the cap, 431 at it */
    o = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(buf + o, 'b', sizeof buf - o);
    assert_int_equal(hp_http_parse(buf, HP_HTTP_MAX_REQUEST - 1, &g_req), HP_HTTP_NEED_MORE);
    assert_int_equal(hp_http_parse(buf, HP_HTTP_MAX_REQUEST, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 431);
    assert_int_equal(hp_http_parse(buf, sizeof buf, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 431);
    /* a complete head that is just too big */
    memcpy(buf + HP_HTTP_MAX_REQUEST - 2, "\r\n\r\n", 4);
    assert_int_equal(hp_http_parse(buf, HP_HTTP_MAX_REQUEST + 2, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 431);
    /* an endless stream of empty lines */
    for (size_t i = 0; i < HP_HTTP_MAX_REQUEST; i += 2)
        memcpy(buf + i, "\r\n", 2);
    assert_int_equal(hp_http_parse(buf, HP_HTTP_MAX_REQUEST, &g_req), HP_HTTP_BAD);
    assert_int_equal(g_req.status, 431);
    assert_int_equal(hp_http_parse(buf, 0, &g_req), HP_HTTP_NEED_MORE);
}

static void test_query(void **state)
{
    (void)state;
    char v[16];
    uint64_t n = 77;
    assert_int_equal(hp_http_query_get("seconds=2&debug=1", "debug", v, sizeof v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(hp_http_query_get("seconds=2&debug=1", "gc", v, sizeof v), 0);
    assert_int_equal(hp_http_query_get("", "gc", v, sizeof v), 0);
    assert_int_equal(hp_http_query_get("gc", "gc", v, sizeof v), 1);
    assert_string_equal(v, "");
    assert_int_equal(hp_http_query_get("a=1&&a=2", "a", v, sizeof v), 1); /* first wins */
    assert_string_equal(v, "1");
    assert_int_equal(hp_http_query_get("x=a+b%21", "x", v, sizeof v), 1);
    assert_string_equal(v, "a b!");
    assert_int_equal(hp_http_query_get("%64ebug=3", "debug", v, sizeof v), 1);
    assert_string_equal(v, "3");
    assert_int_equal(hp_http_query_get("x=%zz", "x", v, sizeof v), -1);
    assert_int_equal(hp_http_query_get("x=%00", "x", v, sizeof v), -1);
    assert_int_equal(hp_http_query_get("x=0123456789abcdef", "x", v, sizeof v), -1); /* too long */

    assert_int_equal(hp_http_query_uint("seconds=30", "seconds", 1, 300, &n), 1);
    assert_int_equal(n, 30);
    n = 77;
    static const char *const bad[] = {"seconds=0", "seconds=301", "seconds=", "seconds=-1", "seconds=1.5",
                                      "seconds=+1", "seconds=%201", "seconds=99999999999999999999999",
                                      "seconds=2s"};
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++) {
        if (hp_http_query_uint(bad[i], "seconds", 1, 300, &n) != -1)
            fail_msg("%s accepted", bad[i]);
        assert_int_equal(n, 77);
    }
    assert_int_equal(hp_http_query_uint("debug=1", "seconds", 1, 300, &n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get), cmocka_unit_test(test_origin_and_length), cmocka_unit_test(test_forms),
        cmocka_unit_test(test_incremental), cmocka_unit_test(test_bad_request_line),
        cmocka_unit_test(test_bad_headers), cmocka_unit_test(test_paths),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
