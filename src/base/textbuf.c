#include "base/textbuf.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/internal_alloc.h"

void hp_tb_printf(hp_textbuf *tb, const char *fmt, ...) {
    for (int attempt = 0; attempt < 2 && !tb->oom; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tb->p ? tb->p + tb->len : NULL, tb->p ? tb->cap - tb->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            tb->oom = 1;
            return;
        }
        if (tb->p && (size_t)n < tb->cap - tb->len) {
            tb->len += (size_t)n;
            return;
        }
        size_t want = tb->len + (size_t)n + 1, cap = tb->cap ? tb->cap : 4096;
        while (cap < want)
            cap *= 2;
        char *np = hp_realloc(tb->p, cap);
        if (!np) {
            tb->oom = 1;
            return;
        }
        tb->p = np;
        tb->cap = cap;
    }
}
