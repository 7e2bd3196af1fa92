#include "control/dump_series.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control/encode.h"
#include "control/identity.h"
#include "control/leak_report.h"
#include "control/state.h"
#include "control/write_report.h"
#include "record/runtime.h"

static unsigned dump_seq; /* last sequence number written, per process */
static char out_prefix[HP_OUT_PREFIX_MAX + PATH_MAX];

/* <prefix>.<program>.<pid>-<run>.<seq>.pb.gz: see control/identity.h for why
 * the run part, and docs/design.md ("File names"). */
static void series_path(char *path, size_t size, unsigned seq) {
    const hp_identity *id = hp_identity_get();
    snprintf(path, size, "%s.%s.%d-%s.%04u.pb.gz", out_prefix, id->program, id->pid, id->run, seq);
}

/* The highest sequence number already on disk for this pid and run, whatever
 * the program's name. Normally 0, but a process that exec()s keeps its pid
 * (and start time): the new image continues the one series instead of
 * starting another at 0001. Read with getdents64 into a stack buffer: no
 * allocation, no stdio, the directory's descriptor open for this call only. */
static unsigned existing_dumps(void) {
    char dir[sizeof out_prefix];
    snprintf(dir, sizeof dir, "%s", out_prefix);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    const hp_identity *id = hp_identity_get();
    char tail[64]; /* ".<pid>-<run>." then <seq>.pb.gz */
    int tail_len = snprintf(tail, sizeof tail, ".%d-%s.", id->pid, id->run);
    size_t base_len = strlen(base);
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned best = 0;
    char buf[4096] __attribute__((aligned(8)));
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const struct hp_dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (const void *)(buf + off);
            off += d->reclen;
            /* <base>.<program>.<pid>-<run>.<seq>.pb.gz */
            if (strncmp(d->name, base, base_len) != 0 || d->name[base_len] != '.')
                continue;
            const char *t = strstr(d->name + base_len + 1, tail);
            if (!t)
                continue;
            char *end;
            unsigned long seq = strtoul(t + tail_len, &end, 10);
            if (end != t + tail_len && strcmp(end, ".pb.gz") == 0 && seq > best && seq < UINT_MAX)
                best = (unsigned)seq;
        }
    }
    close(fd);
    return best;
}

static void resolve_prefix(void) {
    const char *prefix = hp_cfg.out_prefix;
    /* Absolute, so a program that changes directory keeps writing in one place. */
    if (prefix[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) {
            snprintf(out_prefix, sizeof out_prefix, "%s/%s", cwd, prefix);
            return;
        }
    }
    snprintf(out_prefix, sizeof out_prefix, "%s", prefix);
}

void hp_series_init(void) {
    hp_identity_refresh();
    resolve_prefix();
    dump_seq = existing_dumps();
}

void hp_series_after_fork_child(void) {
    hp_identity_refresh();
    dump_seq = existing_dumps();
}

/* report: HEAPPROF_LEAK_REPORT's table from the same snapshot (final dump). */
static int write_one(const char *path, const char *what, int peak, int report) {
    hp_snapshot snap;
    int err = peak ? hp_state_snapshot_peak(&snap, what) : hp_state_snapshot(&snap, what);
    if (err == 0) {
        err = hp_snapshot_to_file(&snap, path);
        if (report)
            hp_leak_report(&snap, err ? NULL : path);
        hp_snapshot_release(&snap);
    }
    hp_report_write_result(path, err);
    return err;
}

void hp_series_dump_next(const char *what) {
    char path[sizeof out_prefix + 64];
    series_path(path, sizeof path, dump_seq + 1);
    if (write_one(path, what, 0, 0) == 0)
        dump_seq++;
}

void hp_peak_path(char *out, size_t size, const char *path) {
    size_t n = strlen(path);
    const char *ext = ".pb.gz";
    if (n >= strlen(ext) && strcmp(path + n - strlen(ext), ext) == 0)
        n -= strlen(ext);
    snprintf(out, size, "%.*s.peak.pb.gz", (int)n, path);
}

static void dump_with_peak(const char *what, int report) {
    char path[sizeof out_prefix + 64], peak[sizeof path + 16];
    series_path(path, sizeof path, dump_seq + 1);
    if (write_one(path, what, 0, report) != 0)
        return;
    dump_seq++;
    hp_peak_path(peak, sizeof peak, path);
    (void)write_one(peak, what, 1, 0);
}

void hp_series_dump_next_with_peak(const char *what) { dump_with_peak(what, 0); }

void hp_series_dump_final(void) { dump_with_peak("final dump at exit", hp_cfg.leak_report); }
