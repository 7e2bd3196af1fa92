/* own_malloc: a program with its own malloc family (a bump allocator that
 * never frees): whatever is preloaded, the program calls its own malloc, so
 * heapprof can sample nothing and must say so in one line. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) char heap[1 << 24];
static size_t top;

void *malloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof heap - top)
        return NULL;
    void *p = heap + top;
    top += n;
    return p;
}
void free(void *p) { (void)p; }
void *calloc(size_t count, size_t n) {
    if (n && count > (size_t)-1 / n)
        return NULL;
    void *p = malloc(count * n);
    return p ? memset(p, 0, count * n) : NULL;
}
void *realloc(void *p, size_t n) {
    void *q = malloc(n);
    if (q && p) /* bump allocator: the old block is below q and at most top bytes long */
        memmove(q, p, n < (size_t)((char *)q - (char *)p) ? n : (size_t)((char *)q - (char *)p));
    return q;
}

int main(void) {
    char *s = malloc(16);
    strcpy(s, "own_malloc: ok");
    puts(s);
    return 0;
}
