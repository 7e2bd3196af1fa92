/* gzip and the atomic file write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "export/dump.h"
#include "base/internal_alloc.h"
#include "test_child.h"

/* ---- helpers ---- */

static char *make_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char *dir = malloc(512);
    snprintf(dir, 512, "%s/hp_dump_XXXXXX", base && base[0] ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in dir; none may contain must_not_contain. */
static int count_entries(const char *dir, const char *must_not_contain) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (must_not_contain)
            assert_null(strstr(e->d_name, must_not_contain));
        n++;
    }
    closedir(d);
    return n;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static uint8_t *gunzip(const uint8_t *in, size_t in_len, size_t expect_len) {
    uint8_t *out = malloc(expect_len + 1);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip wrapper only */
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = out;
    zs.avail_out = (uInt)expect_len + 1;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, expect_len);
    assert_int_equal(zs.avail_in, 0);
    inflateEnd(&zs);
    return out;
}

/* ---- gzip ---- */

static void round_trip(const uint8_t *data, size_t len) {
    uint8_t *gz = NULL;
    size_t gz_len = 0;
    assert_int_equal(hp_gzip(data, len, &gz, &gz_len), 0);
    assert_non_null(gz);
    assert_true(gz_len >= 18); /* header + trailer at least */
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    uint8_t *back = gunzip(gz, gz_len, len);
    if (len)
        assert_memory_equal(back, data, len);
    free(back);
    hp_free(gz);
}

static void test_gzip_round_trip(void **state) {
    (void)state;
    round_trip((const uint8_t *)"", 0);
    round_trip((const uint8_t *)"hello, pprof", 12);
    /* Half compressible text, half noise: exercises deflate's worst case
     * (incompressible data must still fit the deflateBound buffer). */
    size_t n = 3 << 20;
    uint8_t *big = malloc(n);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = i < n / 2 ? (uint8_t)("abcdefgh"[i % 8]) : (uint8_t)x;
    }
    round_trip(big, n);
    free(big);
}

static void test_gzip_uses_own_allocator(void **state) {
    (void)state;
    /* zlib's state lives in hp_malloc memory while it runs and is all given
     * back afterwards: only the output buffer remains counted. */
    size_t before = hp_own_bytes();
    uint8_t *gz;
    size_t gz_len;
    assert_int_equal(hp_gzip((const uint8_t *)"abc", 3, &gz, &gz_len), 0);
    assert_true(hp_own_bytes() > before);
    hp_free(gz);
    assert_int_equal(hp_own_bytes(), before);
}

/* ---- atomic write ---- */

static void test_write_and_overwrite(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/profile.pb.gz", dir);

    errno = 1234; /* preserved on success: it may run on an app thread */
    assert_int_equal(hp_write_atomic(path, (const uint8_t *)"first", 5), 0);
    assert_int_equal(errno, 1234);
    size_t len;
    uint8_t *got = read_file(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "first", 5);
    free(got);

    assert_int_equal(hp_write_atomic(path, (const uint8_t *)"2nd", 3), 0);
    got = read_file(path, &len);
    assert_int_equal(len, 3); /* replaced, not overwritten in place */
    assert_memory_equal(got, "2nd", 3);
    free(got);

    assert_int_equal(hp_write_atomic(path, (const uint8_t *)"", 0), 0);
    got = read_file(path, &len);
    assert_int_equal(len, 0);
    free(got);

    assert_int_equal(count_entries(dir, ".tmp."), 1);
    remove_tree(dir);
    free(dir);
}

static void test_missing_dir(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/profile.pb.gz", dir);
    assert_int_equal(hp_write_atomic(path, (const uint8_t *)"x", 1), ENOENT);
    assert_int_equal(count_entries(dir, NULL), 0);
    assert_int_equal(hp_write_atomic("", (const uint8_t *)"x", 1), EINVAL);
    remove_tree(dir);
    free(dir);
}

/* An unprivileged process, in a folder it may enter but not write to: as
 * root (as CI runs) the forked child first drops to nobody, since root writes
 * through mode bits. Only setresuid is needed for that, no mount rights. */
#define UNPRIVILEGED_ID 65534

static void test_unwritable_dir(void **state) {
    (void)state;
    /* /proc refuses new files even to root: an error, and nothing created. */
    struct stat st;
    assert_int_not_equal(hp_write_atomic("/proc/hp_test.pb.gz", (const uint8_t *)"x", 1), 0);
    assert_int_not_equal(stat("/proc/hp_test.pb.gz", &st), 0);

    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/profile.pb.gz", dir);
    assert_int_equal(chmod(dir, 0555), 0); /* searchable by all, writable by none */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cwd: the relative path does not depend on TMPDIR's parents being
         * searchable by nobody; the absolute one is tried as well. */
        CHILD_CHECK(chdir(dir) == 0);
        if (geteuid() == 0) {
            CHILD_CHECK(setgroups(0, NULL) == 0);
            CHILD_CHECK(setresgid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID) == 0);
            CHILD_CHECK(setresuid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID) == 0);
            CHILD_CHECK(geteuid() == UNPRIVILEGED_ID);
        }
        /* The set-up really denies writing here (no leftover privilege). */
        CHILD_CHECK(access(".", W_OK) != 0 && errno == EACCES);
        CHILD_CHECK(hp_write_atomic("profile.pb.gz", (const uint8_t *)"x", 1) == EACCES);
        CHILD_CHECK(hp_write_atomic(path, (const uint8_t *)"x", 1) == EACCES);
        _exit(0);
    }
    wait_child_ok(pid);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(count_entries(dir, NULL), 0); /* nothing left behind */
    remove_tree(dir);
    free(dir);
}

/* Works for root too: the target is a directory, so the final rename fails
 * after the temp file was fully written. The temp file must be gone. */
static void test_rename_failure_cleans_up(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/target", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    int err = hp_write_atomic(path, (const uint8_t *)"data", 4);
    assert_true(err == EISDIR || err == ENOTEMPTY || err == EEXIST);
    assert_int_equal(count_entries(dir, ".tmp."), 1); /* only the directory */
    remove_tree(dir);
    free(dir);
}

/* The temp names are predictable (<path>.tmp.<pid>.<n>): links or files
 * planted at them must not receive our write (O_EXCL), nor be removed by us. The path
 * exists already, so the rename route is taken (linkat never replaces). */
static void test_planted_symlink(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char path[600], tmp[700], victim[600];
    snprintf(path, sizeof path, "%s/profile.pb.gz", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *f = fopen(victim, "w");
    fputs("precious", f);
    fclose(f);
    assert_int_equal(hp_write_atomic(path, (const uint8_t *)"old", 3), 0);
    enum { PLANTED = 1000 };
    for (int i = 0; i < PLANTED; i++) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)getpid(), i);
        if (i % 2) { /* a file someone else can read: never written into */
            FILE *pf = fopen(tmp, "w");
            fputs("planted", pf);
            fclose(pf);
        } else {
            assert_int_equal(symlink(victim, tmp), 0);
        }
    }
    int err = hp_write_atomic(path, (const uint8_t *)"x", 1);
    assert_int_equal(err, EEXIST);
    size_t len;
    uint8_t *got = read_file(victim, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(got, "precious", 8);
    free(got);
    got = read_file(path, &len); /* the old profile is still whole */
    assert_int_equal(len, 3);
    assert_memory_equal(got, "old", 3);
    free(got);
    assert_int_equal(count_entries(dir, NULL), PLANTED + 2); /* not ours: left alone (+ victim, path) */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)getpid(), 1);
    got = read_file(tmp, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(got, "planted", 7);
    free(got);
    remove_tree(dir);
    free(dir);
}

/* A reader polling the file while it is rewritten must only ever see one
 * whole version or the other. */
typedef struct race {
    const char *path;
    atomic_int stop;
    int torn;
    int reads;
} race;

#define VERSION_LEN 65536

static void *reader(void *arg) {
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        size_t len;
        uint8_t *got = read_file(r->path, &len);
        if (!got)
            continue;
        r->reads++;
        int ok = len == VERSION_LEN;
        for (size_t i = 1; ok && i < len; i++)
            ok = got[i] == got[0];
        if (!ok)
            r->torn++;
        free(got);
    }
    return NULL;
}

static void test_readers_never_see_partial_files(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/profile.pb.gz", dir);
    uint8_t *a = malloc(VERSION_LEN), *b = malloc(VERSION_LEN);
    memset(a, 'a', VERSION_LEN);
    memset(b, 'b', VERSION_LEN);
    assert_int_equal(hp_write_atomic(path, a, VERSION_LEN), 0);
    race r = {.path = path};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
    for (int i = 0; i < 60; i++)
        assert_int_equal(hp_write_atomic(path, i % 2 ? a : b, VERSION_LEN), 0);
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(r.torn, 0);
    assert_true(r.reads > 0);
    assert_int_equal(count_entries(dir, ".tmp."), 1);
    free(a);
    free(b);
    remove_tree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gzip_uses_own_allocator),
        cmocka_unit_test(test_write_and_overwrite),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_unwritable_dir),
        cmocka_unit_test(test_rename_failure_cleans_up),
        cmocka_unit_test(test_planted_symlink),
        cmocka_unit_test(test_readers_never_see_partial_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
