/* A program with its own unwinder and zlib (issue 11, defect 7): it exports
 * (-rdynamic) functions named like libunwind's and zlib's, as a program
 * linked with LLVM's libunwind or another zlib build would. heapprof must
 * neither call them (its dumps and stacks would break) nor show the program
 * its own copies: the checks below look up names that only heapprof's
 * libraries could provide in the program's global scope.
 * Prints "ok ..."/"bad ..." lines; a fake that is called writes "host's X
 * called" to stderr. Exit status 0 when every check held. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void called(const char *what)
{
    char line[128];
    int n = snprintf(line, sizeof line, "host's %s called\n", what);
    if (write(2, line, (size_t)n) < 0)
        abort();
}

/* zlib's names (heapprof gzips its dumps with these) */
int deflateInit2_(void *s, int level, int method, int bits, int mem, int strategy, const char *v, int size)
{
    (void)s, (void)level, (void)method, (void)bits, (void)mem, (void)strategy, (void)v, (void)size;
    called("deflateInit2_");
    return -2;
}
int deflate(void *s, int flush)
{
    (void)s, (void)flush;
    called("deflate");
    return -2;
}
int deflateEnd(void *s)
{
    (void)s;
    called("deflateEnd");
    return -2;
}
unsigned long deflateBound(void *s, unsigned long n)
{
    (void)s, (void)n;
    called("deflateBound");
    return 0;
}
/* libunwind's: the one heapprof calls, and ones libunwind calls internally */
int unw_backtrace(void **buf, int n)
{
    (void)buf, (void)n;
    called("unw_backtrace");
    return 0;
}
int _ULx86_64_step(void *cursor)
{
    (void)cursor;
    called("_ULx86_64_step");
    return 0;
}
int _ULx86_64_init_local(void *cursor, void *ctx)
{
    (void)cursor, (void)ctx;
    called("_ULx86_64_init_local");
    return -1;
}

static int bad;
static void report(int okay, const char *what)
{
    printf("%s %s\n", okay ? "ok" : "bad", what);
    if (!okay)
        bad = 1;
}

#define N_BLOCKS 100
static void *blocks[N_BLOCKS];

__attribute__((noinline)) void own_libs_alloc(void)
{
    for (int i = 0; i < N_BLOCKS; i++)
        blocks[i] = malloc(4096);
    printf("truth own_libs_alloc inuse_objects=%d\n", N_BLOCKS);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    own_libs_alloc();
    /* Names only the unwinder or zlib define: none may be visible. */
    static const char *const foreign[] = {"zlibVersion", "deflateReset", "_Unwind_RaiseException",
                                          "_ULx86_64_get_reg", "_ULx86_64_local_addr_space",
                                          "lzma_code", NULL};
    for (int i = 0; foreign[i]; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s is not in the program's symbol scope", foreign[i]);
        report(dlsym(RTLD_DEFAULT, foreign[i]) == NULL, what);
    }
    return bad;
}
