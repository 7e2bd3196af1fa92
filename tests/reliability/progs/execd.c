/* The "other program" of the exec/spawn tests: allocates 3 x 100000 B in
 * execd_work (kept) and prints its truth with its pid. */
#include <unistd.h>

#include "e2e_prog.h"

static struct truth t_execd = {"execd_work", 0, 0, 0, 0};
static void *keep[3];

__attribute__((noinline)) static void execd_work(void)
{
    for (int i = 0; i < 3; i++) {
        keep[i] = xmalloc_check(malloc(100000), "execd_work");
        truth_alloc(&t_execd, 100000);
    }
}

int main(int argc, char **argv)
{
    execd_work();
    printf("pid execd %d %s\n", (int)getpid(), argc > 1 ? argv[1] : "");
    truth_print(&t_execd);
    return 0;
}
