#include "control/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/common.h"

static hp_identity me;

/* File names must stay one path component that shells need not quote. */
static void copy_safe(char *dst, size_t size, const char *src) {
    size_t n = 0;
    for (; src && *src && n + 1 < size; src++) {
        char c = *src;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '+';
        dst[n++] = ok ? c : '_';
    }
    if (n == 0)
        dst[n++] = '_';
    dst[n] = 0;
}

/* Reads a small file into buf (NUL-terminated); 0 bytes on failure. The
 * descriptor lives for this call only and is close-on-exec. */
static size_t read_small(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd >= 0) {
        ssize_t r;
        while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) != 0) {
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            n += (size_t)r;
        }
        close(fd);
    }
    buf[n] = 0;
    return n;
}

/* Field 22 of /proc/self/stat, after the ")" that ends the command name
 * (which may itself hold spaces and parentheses). */
static uint64_t start_ticks(void) {
    char stat[1024];
    if (!read_small("/proc/self/stat", stat, sizeof stat))
        return 0;
    const char *p = strrchr(stat, ')');
    if (!p)
        return 0;
    /* Each step moves p to the space before field `field` (3 = state). */
    for (int field = 3; field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 0;
    }
    unsigned long long v = 0;
    return sscanf(p, " %llu", &v) == 1 ? v : 0;
}

/* Boot time from /proc/stat's "btime", so start can be printed as a date. */
static long long boot_time(void) {
    char buf[8192];
    if (!read_small("/proc/stat", buf, sizeof buf))
        return -1;
    const char *p = strstr(buf, "\nbtime ");
    long long t;
    return p && sscanf(p + 7, "%lld", &t) == 1 ? t : -1;
}

void hp_identity_refresh(void) {
    extern char *program_invocation_short_name;
    copy_safe(me.program, sizeof me.program, program_invocation_short_name);
    struct utsname u;
    copy_safe(me.host, sizeof me.host, uname(&u) == 0 ? u.nodename : "");
    me.pid = (int)getpid();
    struct stat st;
    me.pidns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
    me.start_ticks = start_ticks();
    long hz = sysconf(_SC_CLK_TCK);
    long long boot = boot_time();
    me.start_unix = boot >= 0 && hz > 0 ? boot + (long long)(me.start_ticks / (uint64_t)hz) : -1;
    /* The boot id tells two boots (and, with the host name, two hosts)
     * apart; within one boot, a live pid namespace's inode is unique, and a
     * pid is not reused within the clock tick it started in. */
    char boot_id[64];
    read_small("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id);
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (const char *s = me.host; *s; s++)
        h = hp_mix64(h ^ (unsigned char)*s);
    for (const char *s = boot_id; *s; s++)
        h = hp_mix64(h ^ (unsigned char)*s);
    h = hp_mix64(h ^ me.pidns);
    h = hp_mix64(h ^ me.start_ticks);
    snprintf(me.run, sizeof me.run, "%08x", (unsigned)(h >> 32));
}

const hp_identity *hp_identity_get(void) { return &me; }

/* UTC date by hand (Howard Hinnant's days-to-civil): gmtime_r takes glibc's
 * tz lock, which a dump must never hold against the program. */
static void format_utc(char *buf, size_t size, long long t) {
    long long days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    days += 719468;
    long long era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    long long y = (long long)yoe + era * 400 + (m <= 2);
    snprintf(buf, size, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
}

void hp_identity_comment(char *buf, unsigned size) {
    char start[40] = "unknown";
    if (me.start_unix >= 0)
        format_utc(start, sizeof start, me.start_unix);
    snprintf(buf, size, "heapprof program=%s pid=%d host=%s pidns=%llu start=%s run=%s", me.program, me.pid,
             me.host, (unsigned long long)me.pidns, start, me.run);
}
