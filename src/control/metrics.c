/* The /metrics exposition text (see metrics.h). */
#include "control/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/profile.h"
#include "base/internal_alloc.h"
#include "control/encode.h"
#include "control/state.h"
#include "record/runtime.h"

#ifndef HEAPPROF_VERSION
#define HEAPPROF_VERSION "unknown"
#endif

/* ---- collecting (the lock for the sums only) ---- */

/* Under the state lock: the same per-stack values a profile would carry,
 * summed (hp_profile_samples rounds each stack as the encoder does, so the
 * totals equal what `go tool pprof` adds up from /debug/pprof/heap). */
static void sum_locked(hp_profile *p, hp_maps *maps, void *arg)
{
    (void)maps;
    hp_metrics *m = arg;
    hp_profile_stats ps;
    hp_profile_stats_get(p, &ps);
    m->samples = ps.samples;
    m->peak_bytes = hp_profile_peak_bytes(p);
    hp_pprof_sample *samples = NULL;
    size_t n = 0;
    if (hp_profile_samples(p, &samples, &n) != 0)
        return; /* out of memory: zeros rather than no page */
    for (size_t i = 0; i < n; i++) {
        m->alloc_objects += samples[i].values[HP_V_ALLOC_OBJECTS];
        m->alloc_bytes += samples[i].values[HP_V_ALLOC_SPACE];
        m->inuse_objects += samples[i].values[HP_V_INUSE_OBJECTS];
        m->inuse_bytes += samples[i].values[HP_V_INUSE_SPACE];
    }
    hp_free(samples);
}

/* Resident pages from /proc/self/statm ("size resident shared ..."), with
 * open/read/close rather than stdio: no FILE buffer, the descriptor lives
 * for three system calls and is close-on-exec. */
static int read_resident(uint64_t *bytes)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strchr(buf, ' ');
    if (!p || p[1] < '0' || p[1] > '9')
        return -1;
    uint64_t pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    long page = sysconf(_SC_PAGESIZE);
    *bytes = pages * (uint64_t)(page > 0 ? page : 4096);
    return 0;
}

void hp_metrics_collect(hp_metrics *m)
{
    memset(m, 0, sizeof *m);
    /* EAGAIN (profiling never started) leaves the sums at 0: nothing sampled. */
    (void)hp_state_with(sum_locked, m);
    m->dumps = hp_dumps_written();
    m->rate = hp_current_rate();
    m->own_bytes = hp_own_bytes();
    m->have_resident = read_resident(&m->resident_bytes) == 0;
    m->version = HEAPPROF_VERSION;
    m->program = program_invocation_short_name;
    m->pid = (long)getpid();
}

/* ---- the text ---- */

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when it is not one
 * (Prometheus refuses a scrape whose label values are not UTF-8). */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, beyond Unicode, or a surrogate */
    return n;
}

/* A label value between double quotes: backslash, quote and line feed are
 * escaped as the format says; other control characters and bytes that are
 * not UTF-8 become U+FFFD, so any program name gives a valid page. */
static void put_label_value(hp_textbuf *tb, const char *v)
{
    const unsigned char *s = (const unsigned char *)(v ? v : "");
    hp_tb_printf(tb, "\"");
    while (*s) {
        size_t n = utf8_len(s);
        if (*s == '\\' || *s == '"') {
            hp_tb_printf(tb, "\\%c", *s);
        } else if (*s == '\n') {
            hp_tb_printf(tb, "\\n");
        } else if (n == 0 || *s < 0x20 || *s == 0x7f) {
            hp_tb_printf(tb, "\xef\xbf\xbd");
            n = 1;
        } else {
            hp_tb_printf(tb, "%.*s", (int)n, (const char *)s);
        }
        s += n ? n : 1;
    }
    hp_tb_printf(tb, "\"");
}

static void put_family(hp_textbuf *tb, const char *name, const char *type, const char *help)
{
    /* help texts are literals without backslashes or line feeds: nothing to escape */
    hp_tb_printf(tb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_signed(hp_textbuf *tb, const char *name, const char *type, const char *help, int64_t v)
{
    put_family(tb, name, type, help);
    hp_tb_printf(tb, "%s %lld\n", name, (long long)v);
}

static void put_unsigned(hp_textbuf *tb, const char *name, const char *type, const char *help, uint64_t v)
{
    put_family(tb, name, type, help);
    hp_tb_printf(tb, "%s %llu\n", name, (unsigned long long)v);
}

void hp_metrics_format(const hp_metrics *m, hp_textbuf *tb)
{
    put_signed(tb, "heapprof_inuse_bytes", "gauge",
               "Estimated bytes in live heap blocks (the heap profile's inuse_space total).", m->inuse_bytes);
    put_signed(tb, "heapprof_inuse_objects", "gauge",
               "Estimated live heap blocks (the heap profile's inuse_objects total).", m->inuse_objects);
    put_unsigned(tb, "heapprof_peak_inuse_bytes", "gauge",
                 "Highest estimated in-use bytes so far (the peak profile's, /debug/pprof/heap?peak=1).",
                 m->peak_bytes);
    put_signed(tb, "heapprof_alloc_bytes_total", "counter",
               "Estimated bytes allocated since the start (the profile's alloc_space total).", m->alloc_bytes);
    put_signed(tb, "heapprof_alloc_objects_total", "counter",
               "Estimated blocks allocated since the start (the profile's alloc_objects total).", m->alloc_objects);
    put_unsigned(tb, "heapprof_samples_total", "counter", "Sampled allocations recorded since the start.",
                 m->samples);
    put_unsigned(tb, "heapprof_dumps_total", "counter", "Profile files written by this process.", m->dumps);
    put_unsigned(tb, "heapprof_sampling_rate_bytes", "gauge",
                 "Mean bytes allocated between two samples; 0 means sampling is off.", m->rate);
    put_unsigned(tb, "heapprof_own_memory_bytes", "gauge", "Memory held by heapprof itself.", m->own_bytes);
    if (m->have_resident)
        put_unsigned(tb, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                     m->resident_bytes);
    put_family(tb, "heapprof_info", "gauge", "Which heapprof profiles which program; always 1.");
    hp_tb_printf(tb, "heapprof_info{version=");
    put_label_value(tb, m->version);
    hp_tb_printf(tb, ",program=");
    put_label_value(tb, m->program);
    hp_tb_printf(tb, ",pid=\"%ld\"} 1\n", m->pid);
}
