#include "control/dump_series.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/encode.h"
#include "control/leak_report.h"
#include "control/state.h"
#include "control/write_report.h"
#include "record/runtime.h"

static unsigned dump_seq; /* last sequence number written, per process */
static char out_prefix[HP_OUT_PREFIX_MAX + PATH_MAX];

static void series_path(char *path, size_t size, unsigned seq) {
    snprintf(path, size, "%s.%d.%04u.pb.gz", out_prefix, (int)getpid(), seq);
}

/* The last sequence number already on disk for this pid. Normally 0, but a
 * process that exec()s keeps its pid: the new image continues the series
 * instead of overwriting the old image's files. */
static unsigned existing_dumps(void) {
    char path[sizeof out_prefix + 64];
    unsigned seq = 0;
    for (;;) {
        series_path(path, sizeof path, seq + 1);
        if (access(path, F_OK) != 0)
            return seq;
        seq++;
    }
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
    resolve_prefix();
    dump_seq = existing_dumps();
}

void hp_series_after_fork_child(void) { dump_seq = existing_dumps(); }

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
