/* The /metrics exposition text (control/metrics.c): every family has HELP and
 * TYPE lines, the numbers are printed as given, and label values are escaped
 * (backslash, quote, line feed) and always valid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/internal_alloc.h"
#include "control/metrics.h"

static char *format(const hp_metrics *m) {
    hp_textbuf tb = {0};
    hp_metrics_format(m, &tb);
    assert_false(tb.oom);
    assert_non_null(tb.p);
    return tb.p;
}

static hp_metrics sample_metrics(void) {
    return (hp_metrics){.inuse_bytes = 12345678, .inuse_objects = 42, .alloc_bytes = 99999999999LL,
                        .alloc_objects = 7, .peak_bytes = 23456789, .samples = 300, .dumps = 2, .rate = 524288, .own_bytes = 4096,
                        .resident_bytes = 1 << 20, .have_resident = 1, .version = "0.1.0", .program = "grower",
                        .pid = 4242};
}

static void test_families(void **state) {
    (void)state;
    hp_metrics m = sample_metrics();
    char *t = format(&m);
    static const char *const want[] = {
        "# HELP heapprof_inuse_bytes ", "# TYPE heapprof_inuse_bytes gauge\nheapprof_inuse_bytes 12345678\n",
        "# TYPE heapprof_inuse_objects gauge\nheapprof_inuse_objects 42\n",
        "# TYPE heapprof_peak_inuse_bytes gauge\nheapprof_peak_inuse_bytes 23456789\n",
        "# TYPE heapprof_alloc_bytes_total counter\nheapprof_alloc_bytes_total 99999999999\n",
        "# TYPE heapprof_alloc_objects_total counter\nheapprof_alloc_objects_total 7\n",
        "# TYPE heapprof_samples_total counter\nheapprof_samples_total 300\n",
        "# TYPE heapprof_dumps_total counter\nheapprof_dumps_total 2\n",
        "# TYPE heapprof_sampling_rate_bytes gauge\nheapprof_sampling_rate_bytes 524288\n",
        "# TYPE heapprof_own_memory_bytes gauge\nheapprof_own_memory_bytes 4096\n",
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1048576\n",
        "# TYPE heapprof_info gauge\nheapprof_info{version=\"0.1.0\",program=\"grower\",pid=\"4242\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(strstr(t, want[i]));
    /* every TYPE has its HELP right before it; the text ends with a line feed */
    size_t helps = 0, types = 0;
    for (const char *p = t; (p = strstr(p, "# TYPE ")) != NULL; p++)
        types++;
    for (const char *p = t; (p = strstr(p, "# HELP ")) != NULL; p++)
        helps++;
    assert_int_equal(helps, 11);
    assert_int_equal(types, 11);
    assert_int_equal(t[strlen(t) - 1], '\n');
    hp_free(t);
}

static void test_no_resident(void **state) {
    (void)state;
    hp_metrics m = sample_metrics();
    m.have_resident = 0;
    char *t = format(&m);
    assert_null(strstr(t, "process_resident_memory_bytes"));
    hp_free(t);
}

static void test_label_escaping(void **state) {
    (void)state;
    hp_metrics m = sample_metrics();
    m.program = "a\\b\"c\nd\te\xff" "f\xc3\xa9g\xe2\x82";
    char *t = format(&m);
    /* \ " and LF escaped; TAB, a stray 0xff and a cut-off sequence become U+FFFD; é kept */
    assert_non_null(strstr(t, "program=\"a\\\\b\\\"c\\nd\xef\xbf\xbd" "e\xef\xbf\xbd" "f\xc3\xa9g\xef\xbf\xbd\xef\xbf\xbd\","));
    m.program = NULL;
    hp_free(t);
    t = format(&m);
    assert_non_null(strstr(t, "program=\"\","));
    hp_free(t);
}

static void test_overlong_and_surrogates(void **state) {
    (void)state;
    hp_metrics m = sample_metrics();
    m.program = "\xc0\xaf" "\xed\xa0\x80" "\xf0\x9f\x98\x80";
    char *t = format(&m);
    /* overlong '/' (2 bytes) and a surrogate (3 bytes) replaced byte by byte; the emoji kept */
    assert_non_null(strstr(t, "program=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                              "\xf0\x9f\x98\x80\""));
    hp_free(t);
}

static void test_collect_without_profiling(void **state) {
    (void)state;
    hp_metrics m;
    hp_metrics_collect(&m); /* no state made: zeros, but the process facts are there */
    assert_int_equal(m.inuse_bytes, 0);
    assert_int_equal(m.samples, 0);
    assert_true(m.have_resident);
    assert_true(m.resident_bytes > 0);
    assert_non_null(m.program);
    assert_true(m.pid > 0);
    char *t = format(&m);
    assert_non_null(strstr(t, "heapprof_info{version=\"" HEAPPROF_VERSION "\""));
    hp_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_no_resident),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_overlong_and_surrogates),
        cmocka_unit_test(test_collect_without_profiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
