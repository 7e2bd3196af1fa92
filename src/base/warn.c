#include "base/warn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void hp_warn(const char *line) {
    /* One write() of line + '\n' so lines from several processes (fork,
     * exec'd children inheriting the environment) do not interleave. Runs
     * inside malloc: errno must come back unchanged. */
    char buf[HP_WARN_LINE_MAX + 2];
    int saved = errno;
    /* A loop, not strnlen: callers pass buffers shorter than the bound, which
     * GCC's -O3 flags (wrongly: the scan stops at the terminator). */
    size_t n = 0;
    while (n < HP_WARN_LINE_MAX && line[n] != '\0')
        n++;
    const char *p = buf;
    memcpy(buf, line, n);
    buf[n++] = '\n';
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stderr closed or full: nothing sensible to do */
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

void hp_warnf(const char *fmt, ...) {
    char line[HP_WARN_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    hp_warn(line);
}
