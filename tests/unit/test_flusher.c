/* Unit tests of the control stage without the preloaded shim: the numbered
 * file series (src/control/dump_series.c), the once-only error reports
 * (write_report.c), the aggregation state (state.c), the flusher thread
 * (flusher.c: dumps on request, on its clock, at stop; draining on its own),
 * the exit protocol (final_dump.c) and fork's new series (fork.c).
 *
 * Samples come from the recorder called directly (as the shim would call
 * it), so profiles have real content. The settings are read once per
 * process and the flusher is one per process, so each group runs in a
 * forked child (test_isolate.h):
 *  - "series": no thread; the series, error reports and hp_state_with;
 *  - "thread": HEAPPROF_INTERVAL=0 (dumps only on request and at exit);
 *  - "periodic": HEAPPROF_INTERVAL=0.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>

#include "test_isolate.h"

#include "aggregate/profile.h"
#include "control/dump_series.h"
#include "control/final_dump.h"
#include "control/identity.h"
#include "control/flusher.h"
#include "control/start.h"
#include "control/state.h"
#include "record/recorder.h"
#include "record/runtime.h"
#include "record/sample_mark.h"

static char g_dir[] = "/tmp/heapprof-test-flusher.XXXXXX";
static char g_sub[PATH_MAX]; /* this group's folder */

static void group_env(const char *sub, const char *file_prefix, const char *interval) {
    xsnprintf(g_sub, sizeof g_sub, "%s/%s", g_dir, sub);
    if (mkdir(g_sub, 0700) != 0)
        perror("mkdir");
    char out[PATH_MAX + 64];
    xsnprintf(out, sizeof out, "%s/%s", g_sub, file_prefix);
    setenv("HEAPPROF_OUT", out, 1);
    setenv("HEAPPROF_RATE", "1", 1);
    setenv("HEAPPROF_SEED", "7", 1);
    setenv("HEAPPROF_INTERVAL", interval, 1);
    setenv("HEAPPROF_FLUSH_MS", "20", 1);
    unsetenv("HEAPPROF_HTTP");
    unsetenv("HEAPPROF_SIGNAL");
    unsetenv("HEAPPROF_DEPTH");
}

/* <dir>/<prefix>.<program>.<pid>-<run>.<seq>.pb.gz (after hp_series_init) */
static void series_file(char *out, size_t size, const char *prefix, long pid, unsigned seq) {
    const hp_identity *id = hp_identity_get();
    xsnprintf(out, size, "%s/%s.%s.%ld-%s.%04u.pb.gz", g_sub, prefix, id->program, pid, id->run, seq);
}

static void set_prefix(const char *prefix) {
    xsnprintf(hp_cfg.out_prefix, sizeof hp_cfg.out_prefix, "%s", prefix);
}

/* The series takes the state lock itself, for the snapshot only. */
static void dump_locked(const char *what) { hp_series_dump_next(what); }

static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

/* ---- playing the shim (as in test_recorder.c) ---- */

static void *alloc_sampled(size_t size) {
    uint64_t rate = hp_sample_due(size);
    if (!rate)
        return NULL;
    size_t off = hp_mark_offset(0);
    void *base = malloc(size + off);
    return hp_sample_finish(base, off, size, rate);
}

static void free_sampled(void *p) {
    hp_marked m;
    if (!hp_mark_take(p, &m)) {
        free(p);
        return;
    }
    hp_record_free((uintptr_t)p, m.id);
    free(m.base);
}

/* ---- group "series": no flusher thread ---- */

static void setup_series(void) { group_env("series", "a", "0"); }

typedef struct with_seen {
    int calls;
    int same_profile;
    uint64_t due_inside;
    hp_profile_stats st;
} with_seen;

static void with_cb(hp_profile *p, hp_maps *m, void *ctx) {
    with_seen *w = ctx;
    w->calls++;
    w->same_profile = p == hp_state_profile() && m == hp_state_maps();
    hp_profile_stats_get(p, &w->st);
    w->due_inside = hp_sample_due(100); /* the guard is up: never sampled */
}

static void test_state_with_before_init(void **state) {
    (void)state;
    assert_int_equal(hp_runtime_ensure(), 1);
    with_seen w = {0};
    assert_int_equal(hp_state_with(with_cb, &w), EAGAIN);
    assert_int_equal(w.calls, 0);
}

/* Dumps are <prefix>.<program>.<pid>-<run>.0001.pb.gz, 0002, ..., each a complete gzip with
 * its reason in the comments, and nothing else is left in the folder. */
static void test_numbered_files(void **state) {
    (void)state;
    assert_int_equal(hp_state_init(), 0);
    hp_series_init();
    dump_locked("unit dump one");
    dump_locked("unit dump two");
    char path[PATH_MAX + 64];
    long pid = getpid();
    series_file(path, sizeof path, "a", pid, 1);
    assert_true(gz_file_contains(path, "heapprof unit dump one"));
    assert_true(gz_file_contains(path, "heapprof samples=0 frees=0 live_samples=0"));
    series_file(path, sizeof path, "a", pid, 2);
    assert_true(gz_file_contains(path, "heapprof unit dump two"));
    assert_false(gz_file_contains(path, "heapprof unit dump one"));
    assert_int_equal(count_files(g_sub, "a."), 2);
}

/* An exec'd image (same pid, a new hp_series_init) continues after the
 * files on disk and overwrites none; files of other pids do not count. */
static void test_series_continues_after_existing(void **state) {
    (void)state;
    char path[PATH_MAX + 64];
    long pid = getpid();
    hp_series_init();
    dump_locked("after exec");
    series_file(path, sizeof path, "a", pid, 3);
    assert_true(gz_file_contains(path, "heapprof after exec"));
    series_file(path, sizeof path, "a", pid, 1);
    assert_true(gz_file_contains(path, "heapprof unit dump one")); /* not overwritten */
    assert_int_equal(count_files(g_sub, "a."), 3);

    /* Files an earlier image left under another prefix (empty here), and
     * another process's. */
    char prefix[PATH_MAX];
    xsnprintf(prefix, sizeof prefix, "%s/b", g_sub);
    series_file(path, sizeof path, "b", pid, 1);
    touch(path);
    series_file(path, sizeof path, "b", pid, 2);
    touch(path);
    series_file(path, sizeof path, "b", pid + 1, 1);
    touch(path);
    series_file(path, sizeof path, "b", pid + 1, 3);
    touch(path);
    set_prefix(prefix);
    hp_series_init();
    dump_locked("third image");
    series_file(path, sizeof path, "b", pid, 3);
    assert_true(gz_file_contains(path, "heapprof third image"));
    series_file(path, sizeof path, "b", pid, 1);
    assert_int_equal(file_size(path), 0);
    series_file(path, sizeof path, "b", pid, 2);
    assert_int_equal(file_size(path), 0);
    series_file(path, sizeof path, "b", pid + 1, 3);
    assert_int_equal(file_size(path), 0);
    assert_int_equal(count_files(g_sub, "b."), 5);
}

/* The series belongs to the process (pid and run), not to the program's name:
 * an image exec'd under another name continues it; a file of an earlier
 * process that had the same pid (another run) is not part of it. */
static void test_series_by_process_not_program(void **state) {
    (void)state;
    char prefix[PATH_MAX], path[PATH_MAX + 64];
    long pid = getpid();
    xsnprintf(prefix, sizeof prefix, "%s/c", g_sub);
    set_prefix(prefix);
    hp_series_init();
    const hp_identity *id = hp_identity_get();
    assert_int_equal(strlen(id->run), 8);
    xsnprintf(path, sizeof path, "%s.other-image.%ld-%s.0004.pb.gz", prefix, pid, id->run);
    touch(path);
    xsnprintf(path, sizeof path, "%s.%s.%ld-%s.0009.pb.gz", prefix, id->program, pid,
              strcmp(id->run, "00000000") ? "00000000" : "11111111");
    touch(path);
    hp_series_init();
    dump_locked("new image");
    series_file(path, sizeof path, "c", pid, 5);
    assert_true(gz_file_contains(path, "heapprof new image"));
    /* Every profile says who wrote it. */
    char who[300];
    xsnprintf(who, sizeof who, "heapprof program=%s pid=%ld host=%s", id->program, pid, id->host);
    assert_true(gz_file_contains(path, who));
    assert_true(gz_file_contains(path, " start=20"));
}

/* A relative prefix is resolved once, at init: a program that changes
 * directory keeps writing in the same place. */
static void test_relative_prefix(void **state) {
    (void)state;
    char cwd[PATH_MAX], path[PATH_MAX + 64];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_sub), 0);
    set_prefix("rel");
    hp_series_init();
    assert_int_equal(chdir("/"), 0);
    dump_locked("relative");
    assert_int_equal(chdir(cwd), 0);
    series_file(path, sizeof path, "rel", getpid(), 1);
    assert_true(gz_file_contains(path, "heapprof relative"));
}

/* Dumps with fd 2 captured; returns what heapprof said. */
static char *dumps_said(int n) {
    stderr_capture c;
    assert_int_equal(capture_stderr_begin(&c), 0);
    for (int i = 0; i < n; i++)
        dump_locked("error test");
    return capture_stderr_end(&c);
}

#define CANNOT "heapprof: cannot write profile"
#define AGAIN "heapprof: writing profiles works again"

/* A failing write is said once per kind of failure, not at every dump, and
 * does not use up a number; a success after failures says "works again"
 * once, and a failure after that is said again. */
static void test_write_errors_reported_once(void **state) {
    (void)state;
    char dir[PATH_MAX], prefix[PATH_MAX + 8], path[PATH_MAX + 64], want[PATH_MAX + 64];
    long pid = getpid();
    xsnprintf(dir, sizeof dir, "%s/missing", g_sub);
    xsnprintf(prefix, sizeof prefix, "%s/x", dir);
    set_prefix(prefix);
    hp_series_init();

    char *said = dumps_said(3);
    assert_int_equal(count_lines_with(said, CANNOT), 1);
    const hp_identity *id = hp_identity_get();
    xsnprintf(want, sizeof want, "%s.%s.%ld-%s.0001.pb.gz: %s", prefix, id->program, pid, id->run, strerror(ENOENT));
    assert_int_equal(count_lines_with(said, want), 1);
    assert_int_equal(count_lines_with(said, "heapprof:"), 1);
    free(said);

    /* Another kind of failure (a file where a folder should be): said too. */
    char file_prefix[PATH_MAX + 16];
    xsnprintf(path, sizeof path, "%s/plainfile", g_sub);
    touch(path);
    xsnprintf(file_prefix, sizeof file_prefix, "%s/x", path);
    set_prefix(file_prefix);
    hp_series_init();
    said = dumps_said(2);
    assert_int_equal(count_lines_with(said, CANNOT), 1);
    assert_int_equal(count_lines_with(said, strerror(ENOTDIR)), 1);
    free(said);

    /* The first kind again: already said. */
    set_prefix(prefix);
    hp_series_init();
    said = dumps_said(2);
    assert_int_equal(count_lines_with(said, "heapprof:"), 0);
    free(said);

    /* Writable again: said once; the failures used no number. */
    assert_int_equal(mkdir(dir, 0700), 0);
    said = dumps_said(1);
    assert_int_equal(count_lines_with(said, AGAIN), 1);
    assert_int_equal(count_lines_with(said, CANNOT), 0);
    free(said);
    xsnprintf(path, sizeof path, "%s.%s.%ld-%s.0001.pb.gz", prefix, id->program, pid, id->run);
    assert_true(gz_file_contains(path, "heapprof error test"));
    said = dumps_said(1);
    assert_int_equal(count_lines_with(said, "heapprof:"), 0);
    free(said);
    xsnprintf(path, sizeof path, "%s.%s.%ld-%s.0002.pb.gz", prefix, id->program, pid, id->run);
    assert_true(file_exists(path));

    /* Failing again after the recovery: said again, once. */
    remove_tree(dir);
    said = dumps_said(2);
    assert_int_equal(count_lines_with(said, CANNOT), 1);
    free(said);
    assert_int_equal(mkdir(dir, 0700), 0);
    said = dumps_said(1);
    assert_int_equal(count_lines_with(said, AGAIN), 1);
    free(said);
}

/* hp_state_with drains what the recorder queued and runs the callback on
 * the profile, with sampling off on this thread meanwhile and back on after. */
static void test_state_with_sees_samples(void **state) {
    (void)state;
    enum { N = 20, FREED = 5 };
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = alloc_sampled(64 + (size_t)i);
        assert_non_null(ptrs[i]);
    }
    with_seen w = {0};
    assert_int_equal(hp_state_with(with_cb, &w), 0);
    assert_int_equal(w.calls, 1);
    assert_true(w.same_profile);
    assert_int_equal(w.due_inside, 0);
    assert_int_equal(w.st.samples, N);
    assert_int_equal(w.st.live_samples, N);
    assert_int_equal(w.st.frees, 0);
    assert_true(w.st.stacks >= 1);

    for (int i = 0; i < FREED; i++)
        free_sampled(ptrs[i]);
    memset(&w, 0, sizeof w);
    assert_int_equal(hp_state_with(with_cb, &w), 0);
    assert_int_equal(w.st.samples, N);
    assert_int_equal(w.st.frees, FREED);
    assert_int_equal(w.st.live_samples, N - FREED);
    assert_int_equal(w.st.pending_frees, 0);

    assert_int_equal(hp_sample_due(1), 1); /* sampling is back on */
    hp_sample_cancel();

    char prefix[PATH_MAX + 8], path[PATH_MAX + 64];
    xsnprintf(prefix, sizeof prefix, "%s/s", g_sub);
    set_prefix(prefix);
    hp_series_init();
    dump_locked("with samples");
    series_file(path, sizeof path, "s", getpid(), 1);
    assert_true(gz_file_contains(path, "heapprof samples=20 frees=5 live_samples=15"));
    for (int i = FREED; i < N; i++)
        free_sampled(ptrs[i]);
}

/* ---- group "thread": the flusher, HEAPPROF_INTERVAL=0 ---- */

static void setup_thread(void) { group_env("thread", "t", "0"); }

static int task_count(void) { return count_files("/proc/self/task", ""); }

static void wait_profile_samples(uint64_t want, hp_profile_stats *st) {
    for (int ms = 0; ms < 10000; ms += 5) {
        hp_state_lock(); /* read without draining: only the flusher drained */
        hp_profile_stats_get(hp_state_profile(), st);
        hp_state_unlock();
        if (st->samples >= want)
            return;
        sleep_ms(5);
    }
}

/* Started once (a second start adds no thread); no dump without a request
 * when there is no interval; a request gives the next file within a bound. */
static void test_start_and_request_dump(void **state) {
    (void)state;
    char path[PATH_MAX + 64];
    assert_int_equal(hp_runtime_ensure(), 1);
    assert_int_equal(hp_cfg.interval_ns, 0);
    int tasks = task_count();
    assert_int_equal(hp_profiling_start(), 0);
    assert_true(hp_flusher_running());
    assert_int_equal(task_count(), tasks + 1);
    assert_int_equal(hp_profiling_start(), 0);
    assert_int_equal(task_count(), tasks + 1);

    sleep_ms(300); /* ~15 flush rounds */
    assert_int_equal(count_files(g_sub, "t."), 0);

    hp_flusher_request_dump();
    series_file(path, sizeof path, "t", getpid(), 1);
    assert_true(wait_for_file(path, 10000));
    assert_true(gz_file_contains(path, "heapprof dump on request"));
}

/* The flusher drains the rings every HEAPPROF_FLUSH_MS by itself, and a
 * requested dump shows what it drained. */
static void test_flusher_drains_on_its_own(void **state) {
    (void)state;
    enum { N = 5 };
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = alloc_sampled(1000);
        assert_non_null(ptrs[i]);
    }
    hp_profile_stats st;
    wait_profile_samples(N, &st);
    assert_int_equal(st.samples, N);
    assert_int_equal(st.live_samples, N);

    char path[PATH_MAX + 64];
    hp_flusher_request_dump();
    series_file(path, sizeof path, "t", getpid(), 2);
    assert_true(wait_for_file(path, 10000));
    assert_true(gz_file_contains(path, "heapprof samples=5 frees=0 live_samples=5"));
    for (int i = 0; i < N; i++)
        free_sampled(ptrs[i]);
    with_seen w = {0};
    assert_int_equal(hp_state_with(with_cb, &w), 0);
    assert_int_equal(w.st.frees, N);
    assert_int_equal(w.st.live_samples, 0);
}

/* A forked child has its own flusher and its own series from 0001 under its
 * own pid; the parent's series goes on. (ThreadSanitizer does not support
 * starting threads in the child of a multi-threaded fork.) */
static void test_fork_child_series(void **state) {
    (void)state;
    if (TEST_UNDER_TSAN)
        skip();
    char path[PATH_MAX + 64];
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int code = 0;
        if (!hp_flusher_running())
            code = 2;
        hp_flusher_request_dump();
        series_file(path, sizeof path, "t", getpid(), 1);
        if (!code && !wait_for_file(path, 10000))
            code = 3;
        if (!code && !gz_file_contains(path, "heapprof dump on request"))
            code = 4;
        hp_final_dump();
        series_file(path, sizeof path, "t", getpid(), 2);
        if (!code && !gz_file_contains(path, "heapprof final dump at exit"))
            code = 5;
        _exit(code);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The child's own series: its pid, its own start time (so its own run
     * id), two files. */
    char child_prefix[64];
    xsnprintf(child_prefix, sizeof child_prefix, "t.%s.%ld-", program_invocation_short_name, (long)child);
    assert_int_equal(count_files(g_sub, child_prefix), 2);

    assert_true(hp_flusher_running());
    hp_flusher_request_dump();
    series_file(path, sizeof path, "t", getpid(), 3);
    assert_true(wait_for_file(path, 10000));
}

/* The final dump is written once, by the flusher as it stops; later exit
 * paths (a second call, the atexit handler) add nothing. */
static void test_final_dump_once(void **state) {
    (void)state;
    char path[PATH_MAX + 64], prefix[64];
    long pid = getpid();
    xsnprintf(prefix, sizeof prefix, "t.%s.%ld-", program_invocation_short_name, pid);
    int before = count_files(g_sub, prefix);
    assert_true(before >= 2);
    hp_final_dump();
    assert_false(hp_flusher_running());
    series_file(path, sizeof path, "t", pid, (unsigned)before + 1);
    assert_true(file_exists(path)); /* written before hp_final_dump returned */
    assert_true(gz_file_contains(path, "heapprof final dump at exit"));
    char peak[PATH_MAX + 80];
    xsnprintf(peak, sizeof peak, "%.*s.peak.pb.gz", (int)(strlen(path) - strlen(".pb.gz")), path);
    assert_true(file_exists(peak)); /* the peak profile beside it */
    assert_true(gz_file_contains(peak, "heapprof peak profile, in-use estimate"));
    hp_final_dump();
    assert_int_equal(hp_flusher_stop(1), 0);
    sleep_ms(100);
    assert_int_equal(count_files(g_sub, prefix), before + 1);
}

/* ---- group "periodic": HEAPPROF_INTERVAL=0.2 ---- */

static void setup_periodic(void) { group_env("periodic", "p", "0.2"); }

/* Dumps on the flusher's clock, numbered on; hp_flusher_stop writes the
 * final dump as the next number and ends the thread. */
static void test_periodic_then_stop(void **state) {
    (void)state;
    char path[PATH_MAX + 64], prefix[64];
    long pid = getpid();
    xsnprintf(prefix, sizeof prefix, "p.%s.%ld-", program_invocation_short_name, pid);
    assert_int_equal(hp_runtime_ensure(), 1);
    assert_int_equal(hp_cfg.interval_ns, 200000000ull);
    uint64_t t0 = hp_now_ns(CLOCK_MONOTONIC);
    assert_int_equal(hp_profiling_start(), 0);
    series_file(path, sizeof path, "p", pid, 2);
    assert_true(wait_for_file(path, 10000));
    uint64_t elapsed = hp_now_ns(CLOCK_MONOTONIC) - t0;
    assert_true(elapsed >= 390000000ull); /* two intervals, not sooner */
    assert_true(gz_file_contains(path, "heapprof periodic dump"));
    series_file(path, sizeof path, "p", pid, 1);
    assert_true(gz_file_contains(path, "heapprof periodic dump"));

    assert_int_equal(hp_flusher_stop(10), 0);
    assert_false(hp_flusher_running());
    int n = count_files(g_sub, prefix);
    assert_true(n >= 3);
    for (int seq = 1; seq <= n; seq++) { /* consecutive, no gap */
        series_file(path, sizeof path, "p", pid, (unsigned)seq);
        assert_true(file_exists(path));
    }
    series_file(path, sizeof path, "p", pid, (unsigned)n);
    assert_true(gz_file_contains(path, "heapprof final dump at exit"));
    sleep_ms(500); /* the thread is gone: no more periodic dumps */
    assert_int_equal(count_files(g_sub, prefix), n);
    assert_int_equal(hp_flusher_stop(10), 0); /* stopping again is harmless */
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest series[] = {
        cmocka_unit_test(test_state_with_before_init),
        cmocka_unit_test(test_numbered_files),
        cmocka_unit_test(test_series_continues_after_existing),
        cmocka_unit_test(test_series_by_process_not_program),
        cmocka_unit_test(test_relative_prefix),
        cmocka_unit_test(test_write_errors_reported_once),
        cmocka_unit_test(test_state_with_sees_samples),
    };
    const struct CMUnitTest thread[] = {
        cmocka_unit_test(test_start_and_request_dump),
        cmocka_unit_test(test_flusher_drains_on_its_own),
        cmocka_unit_test(test_fork_child_series),
        cmocka_unit_test(test_final_dump_once),
    };
    const struct CMUnitTest periodic[] = {
        cmocka_unit_test(test_periodic_then_stop),
    };
    int failed = 0;
    failed += RUN_GROUP_ISOLATED("flusher series", series, setup_series);
    failed += RUN_GROUP_ISOLATED("flusher thread", thread, setup_thread);
    failed += RUN_GROUP_ISOLATED("flusher periodic", periodic, setup_periodic);
    if (!getenv("HEAPPROF_TEST_KEEP"))
        remove_tree(g_dir);
    else
        printf("kept %s\n", g_dir);
    return failed ? 1 : 0;
}
