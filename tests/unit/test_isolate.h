/* Helpers for unit tests of process-global machinery (the recorder, the
 * flusher): each group of tests runs in a forked child of its own, so it
 * gets a fresh runtime (settings are read once per process) and its own
 * threads, and stderr can be captured; plus small file helpers (gunzip a
 * profile, wait for a file, count files). Include after <cmocka.h>. */
#ifndef HEAPPROF_TEST_ISOLATE_H
#define HEAPPROF_TEST_ISOLATE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "test_sanitizer.h"

/* Runs one cmocka group in a forked child, after setup() ran there (set the
 * environment, choose modes: before anything initialises the runtime).
 * The parent must not have started threads. Returns the number of failed
 * tests (1 at least when the child died). */
static inline int run_group_isolated(const char *name, const struct CMUnitTest *tests, size_t n,
                                     void (*setup)(void)) {
    printf("[----------] group: %s (forked child)\n", name);
    if (TEST_UNDER_TSAN) {
        /* Known gap: the whole runtime (flusher thread, fork handlers) in a
         * forked child crashes or stalls under ThreadSanitizer; the rings and
         * the address set are still checked under it in their own tests. */
        printf("[  SKIPPED ] group %s: not run under ThreadSanitizer\n", name);
        (void)tests, (void)n, (void)setup;
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        if (setup)
            setup();
        int rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
        fflush(NULL);
        exit(rc > 255 ? 255 : rc); /* exit, not _exit: sanitizers' exit checks run */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "[  FAILED  ] group %s: child killed by signal %d\n", name, WTERMSIG(status));
        return 1;
    }
    return WEXITSTATUS(status);
}

#define RUN_GROUP_ISOLATED(name, tests, setup) \
    run_group_isolated(name, tests, sizeof(tests) / sizeof((tests)[0]), setup)

/* ---- files ---- */

/* snprintf that fails loudly instead of cutting a path. */
__attribute__((format(printf, 3, 4))) static inline void xsnprintf(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "test path too long: %s\n", out);
        abort();
    }
}

static inline int file_exists(const char *path) { return access(path, F_OK) == 0; }

static inline long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Polls until path exists (and is non-empty) or timeout_ms pass: 1 or 0. */
static inline int wait_for_file(const char *path, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        if (file_size(path) > 0)
            return 1;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static inline void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Decompresses a whole gzip file into a malloc'd, NUL-terminated buffer.
 * Returns its length, or -1 when the file is missing or not gzip. */
static inline long gunzip_file(const char *path, char **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    unsigned char magic[2] = {0, 0};
    if (read(fd, magic, 2) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        int got = gzread(gz, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            gzclose(gz);
            free(buf);
            return -1;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    int eof_ok = gzclose(gz) == Z_OK; /* Z_BUF_ERROR: truncated stream */
    if (!eof_ok || len == 0) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    return (long)len;
}

/* 1 when the decompressed profile at path contains `needle` (a comment
 * string is stored verbatim in the string table). */
static inline int gz_file_contains(const char *path, const char *needle) {
    char *buf;
    long n = gunzip_file(path, &buf);
    if (n < 0)
        return 0;
    int found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* Entries of dir whose name starts with prefix. */
static inline int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    /* The peak profiles beside the final and requested dumps
     * (<seq>.peak.pb.gz) are not dumps of the series: not counted. */
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            !strstr(e->d_name, ".peak.pb.gz"))
            n++;
    closedir(d);
    return n;
}

/* rm -r of a test's own temp folder (files and one level of folders). */
static inline void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        unlink(dir);
        return;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        xsnprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- stderr capture (heapprof's warnings are write(2)s on fd 2) ---- */

typedef struct stderr_capture {
    int saved_fd;
    FILE *file;
} stderr_capture;

static inline int capture_stderr_begin(stderr_capture *c) {
    fflush(stderr);
    c->saved_fd = -1;
    c->file = tmpfile();
    if (!c->file)
        return -1;
    c->saved_fd = dup(STDERR_FILENO);
    if (c->saved_fd < 0 || dup2(fileno(c->file), STDERR_FILENO) < 0)
        return -1;
    return 0;
}

/* Restores fd 2 and returns what was written meanwhile (malloc'd). */
static inline char *capture_stderr_end(stderr_capture *c) {
    fflush(stderr);
    dup2(c->saved_fd, STDERR_FILENO);
    close(c->saved_fd);
    long n = ftell(c->file) >= 0 ? (long)lseek(fileno(c->file), 0, SEEK_END) : 0;
    char *text = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = 0;
    if (n > 0 && lseek(fileno(c->file), 0, SEEK_SET) == 0) {
        ssize_t r;
        while (got < (size_t)n && (r = read(fileno(c->file), text + got, (size_t)n - got)) > 0)
            got += (size_t)r;
    }
    text[got] = '\0';
    fclose(c->file);
    return text;
}

/* Lines of text containing needle. */
static inline int count_lines_with(const char *text, const char *needle) {
    int n = 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (memmem(line, len, needle, strlen(needle)))
            n++;
        line += len + (end != NULL);
    }
    return n;
}

#endif
