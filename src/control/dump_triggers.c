#include "control/dump_triggers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/runtime.h"

/* ---- the cgroup's memory files ---- */

/* Reads a small file into buf (NUL-terminated); returns the length or -1.
 * O_CLOEXEC: the descriptor lives only here, on the flusher thread. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* A number as the kernel writes it; "max" (v2: no limit) or junk -> 0. */
static uint64_t read_u64(const char *dir, const char *name) {
    char path[4200], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (read_small(path, buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9')
        return 0;
    return strtoull(buf, NULL, 10);
}

static int has_option(const char *list, const char *opt) {
    size_t n = strlen(opt);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, opt, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* The mount point and root of the v1 memory controller (version 1) or of
 * cgroup2 (version 2), from /proc/self/mountinfo:
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS */
static int find_mount(int version, char *root, char *mnt, size_t size) {
    static char buf[65536];
    if (read_small("/proc/self/mountinfo", buf, sizeof buf) <= 0)
        return 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char r[1024], m[1024], fstype[64], superopts[512];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
            sscanf(dash + 3, "%63s %*s %511s", fstype, superopts) != 2)
            continue;
        if ((version == 2 && strcmp(fstype, "cgroup2") == 0) ||
            (version == 1 && strcmp(fstype, "cgroup") == 0 && has_option(superopts, "memory"))) {
            snprintf(root, size, "%s", r);
            snprintf(mnt, size, "%s", m);
            return 1;
        }
    }
    return 0;
}

int hp_triggers_cgroup_dir(char *out, size_t size) {
    /* /proc/self/cgroup: "N:memory:/path" (v1, controllers comma-separated)
     * or "0::/path" (v2). v1's memory line wins: it is the one with limits. */
    static char buf[8192];
    if (read_small("/proc/self/cgroup", buf, sizeof buf) <= 0)
        return 0;
    char v1[2048] = "", v2[2048] = "";
    int have_v1 = 0, have_v2 = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        if (c1[1] == '\0' && strncmp(line, "0:", 2) == 0) {
            snprintf(v2, sizeof v2, "%s", c2 + 1);
            have_v2 = 1;
        } else if (has_option(c1 + 1, "memory")) {
            snprintf(v1, sizeof v1, "%s", c2 + 1);
            have_v1 = 1;
        }
    }
    for (int version = 1; version <= 2; version++) {
        const char *path = version == 1 ? v1 : v2;
        if (!(version == 1 ? have_v1 : have_v2))
            continue;
        char root[1024], mnt[1024];
        if (!find_mount(version, root, mnt, sizeof root))
            continue;
        /* A mount of a sub-tree (containers): the path is relative to its root. */
        size_t rl = strlen(root);
        if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0)
            path += rl;
        snprintf(out, size, "%s%s", mnt, strcmp(path, "/") == 0 ? "" : path);
        return version;
    }
    return 0;
}

/* ---- the checks ---- */

static uint64_t growth_mark;      /* in-use estimate at the last growth dump */
static int limit_level = -1;      /* the last 5% step dumped (0 = PERCENT itself), -1 none */
static int cgroup_version = -1;   /* -1: not looked up yet; 0: none */
static char cgroup_dir[4096];

/* Use and limit of the cgroup, 0 and 0 when unknown or unlimited. */
static void cgroup_usage(uint64_t *usage, uint64_t *limit) {
    *usage = *limit = 0;
    if (cgroup_version < 0)
        cgroup_version = hp_triggers_cgroup_dir(cgroup_dir, sizeof cgroup_dir);
    if (cgroup_version == 1) {
        *limit = read_u64(cgroup_dir, "memory.limit_in_bytes");
        *usage = read_u64(cgroup_dir, "memory.usage_in_bytes");
    } else if (cgroup_version == 2) {
        *limit = read_u64(cgroup_dir, "memory.max");
        if (!*limit)
            *limit = read_u64(cgroup_dir, "memory.high");
        *usage = read_u64(cgroup_dir, "memory.current");
    }
    /* v1 writes "no limit" as the largest page-aligned long. */
    if (*limit >= (UINT64_C(1) << 62))
        *limit = 0;
}

int hp_triggers_check(uint64_t inuse, char *why, size_t why_size) {
    int due = 0;
    size_t len = 0;
    why[0] = '\0';
    uint64_t step = hp_cfg.dump_growth;
    if (step && inuse >= growth_mark + step) {
        growth_mark = inuse;
        len += (size_t)snprintf(why, why_size, "dump on growth: in-use estimate %llu bytes (HEAPPROF_DUMP_GROWTH=%llu)",
                                (unsigned long long)inuse, (unsigned long long)step);
        due = 1;
    }
    unsigned pct = hp_cfg.dump_near_limit;
    if (pct) {
        uint64_t usage, limit;
        cgroup_usage(&usage, &limit);
        if (limit && usage * 100 >= (uint64_t)pct * limit) {
            int level = (int)((usage * 100 / limit - pct) / 5);
            if (level > limit_level) {
                limit_level = level;
                if (len < why_size)
                    snprintf(why + len, why_size - len,
                             "%sdump near the memory limit: cgroup use %llu of limit %llu bytes (%llu%%)",
                             len ? "; " : "", (unsigned long long)usage, (unsigned long long)limit,
                             (unsigned long long)(usage * 100 / limit));
                due = 1;
            }
        }
    }
    return due;
}
