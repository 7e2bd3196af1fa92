/* Checks inside a forked child, where cmocka's asserts cannot be used (they
 * would longjmp back into the child's copy of the test runner): CHILD_CHECK
 * reports the failed condition and exits 1; the parent asserts a clean exit
 * with wait_child_ok. Include after <cmocka.h>. */
#ifndef HEAPPROF_TEST_CHILD_H
#define HEAPPROF_TEST_CHILD_H

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_CHECK(cond)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
            _exit(1);                                                                        \
        }                                                                                    \
    } while (0)

/* The child exited 0: not killed (e.g. free() of a wrong base aborts), and
 * every CHILD_CHECK held. */
static inline void wait_child_ok(pid_t pid) {
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

#endif
