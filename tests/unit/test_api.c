/* The public API (include/heapprof.h) linked straight into a program, without
 * the interposed malloc: argument checks, errors before profiling runs,
 * heapprof_set_rate's return value and start of the flusher, a dump that is
 * a gzip file, errno values for unwritable paths, and the stats call.
 * (Sampling itself needs the preloaded shim: tests/e2e/test_api.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "heapprof.h"

static char g_dir[] = "/tmp/heapprof-test-api.XXXXXX";

/* Registered before the flusher's own exit handler, so it runs after the
 * final dump at exit and removes that file too. */
static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(g_dir);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(heapprof_dump(NULL), EINVAL);
    assert_int_equal(heapprof_dump(""), EINVAL);
    assert_int_equal(heapprof_get_stats(NULL), EINVAL);
}

static void test_before_start(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/early.pb.gz", g_dir);
    /* No constructor ran here, so the flusher has not started: not an error
     * of the caller's, just "not now". */
    assert_int_equal(heapprof_dump(path), EAGAIN);
    heapprof_stats st;
    memset(&st, 0xff, sizeof st);
    assert_int_equal(heapprof_get_stats(&st), EAGAIN);
    assert_int_equal(st.samples, 0);
    assert_int_equal(st.rate, 65536);
}

static void test_set_rate_and_dump(void **state)
{
    (void)state;
    char path[256];
    assert_int_equal(heapprof_set_rate(4096), 65536);
    assert_int_equal(heapprof_set_rate(4096), 4096);

    snprintf(path, sizeof path, "%s/now.pb.gz", g_dir);
    assert_int_equal(heapprof_dump(path), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char magic[2] = {0, 0};
    assert_int_equal(fread(magic, 1, 2, f), 2);
    fclose(f);
    assert_int_equal(magic[0], 0x1f);
    assert_int_equal(magic[1], 0x8b);

    assert_int_equal(heapprof_dump("/nonexistent-heapprof-dir/x.pb.gz"), ENOENT);
    snprintf(path, sizeof path, "%s/now.pb.gz/below", g_dir); /* parent is a file */
    assert_int_equal(heapprof_dump(path), ENOTDIR);

    heapprof_stats st;
    assert_int_equal(heapprof_get_stats(&st), 0);
    assert_int_equal(st.rate, 4096);
    assert_int_equal(st.samples, 0); /* nothing is interposed in this test */
    assert_int_equal(st.live_samples, 0);
    assert_true(st.own_bytes > 0);

    assert_int_equal(heapprof_set_rate(0), 4096);
    assert_int_equal(heapprof_get_stats(&st), 0);
    assert_int_equal(st.rate, 0);
}

int main(void)
{
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(remove_dir);
    /* The configuration is read on first use: make it this test's own. */
    char out[256];
    snprintf(out, sizeof out, "%s/final", g_dir);
    setenv("HEAPPROF_OUT", out, 1);
    setenv("HEAPPROF_RATE", "65536", 1);
    unsetenv("HEAPPROF_HTTP");
    unsetenv("HEAPPROF_SIGNAL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_before_start),
        cmocka_unit_test(test_set_rate_and_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
