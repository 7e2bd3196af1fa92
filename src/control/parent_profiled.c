#include "control/parent_profiled.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int hp_parent_has_heapprof(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)getppid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    static const char needle[] = "/libheapprof";
    const size_t keep = sizeof needle - 2; /* a match may straddle two reads */
    char buf[4096 + sizeof needle];
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        buf[have] = 0;
        if (strstr(buf, needle)) {
            found = 1;
            break;
        }
        if (have > keep) {
            memmove(buf, buf + have - keep, keep);
            have = keep;
        }
    }
    close(fd);
    return found;
}
