/* allocator_origin.c: which object defines a function, and whether it is
 * glibc's libc.so.6 (issue 11 defect 2: tcmalloc and mimalloc alias
 * __libc_malloc to their own malloc, so only the object tells them apart). */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "interpose/allocator_origin.h"
#include "test_sanitizer.h"

static void test_glibc_functions_are_glibc(void **state) {
    (void)state;
    assert_int_equal(hp_object_is_glibc(hp_object_of((const void *)gnu_get_libc_release)), 1);
    if (TEST_UNDER_ASAN || TEST_UNDER_TSAN)
        skip(); /* malloc is the sanitizer's there */
    void *(*volatile m)(size_t) = malloc;
    assert_int_equal(hp_object_is_glibc(hp_object_of((const void *)m)), 1);
}

static void test_other_objects_are_not(void **state) {
    (void)state;
    double (*volatile c)(double) = cos; /* libm */
    assert_non_null(hp_object_of((const void *)c));
    assert_int_equal(hp_object_is_glibc(hp_object_of((const void *)c)), 0);
    /* this program */
    assert_int_equal(hp_object_is_glibc(hp_object_of((const void *)test_other_objects_are_not)), 0);
    assert_null(hp_object_of(NULL));
    assert_int_equal(hp_object_is_glibc(NULL), 0);
}

/* An allocator whose __libc_malloc is its own malloc is not glibc. Loaded
 * RTLD_LOCAL in a child, so its malloc never becomes this process's. */
static void test_aliasing_allocator_is_not_glibc(void **state) {
    (void)state;
    static const char *libs[] = {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libmimalloc.so.2"};
    int tried = 0;
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
            if (!h)
                _exit(77);
            void *m = dlsym(h, "malloc"), *lm = dlsym(h, "__libc_malloc");
            /* The alias that fooled the symbol test, and the object test. */
            int ok = m && m == lm && hp_object_of(m) != NULL && !hp_object_is_glibc(hp_object_of(m));
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
            continue; /* not installed */
        assert_int_equal(WEXITSTATUS(status), 0);
        tried++;
    }
    if (!tried)
        skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glibc_functions_are_glibc),
        cmocka_unit_test(test_other_objects_are_not),
        cmocka_unit_test(test_aliasing_allocator_is_not_glibc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
