/* fork(): the child must get its own profile series under its own pid, with
 * its own flusher, and the parent's series must not see the child's work.
 *   parent_work   3 x 1 MiB kept, before fork (so the child inherits them)
 *   child_work    2 x 1 MiB kept in the child, which then lives ~0.8 s so
 *                 periodic dumps can happen, and exits normally (exit(0))
 *   parent_after  1 x 1 MiB kept by the parent after the child is reaped
 * Prints "child <pid>" so the test knows which series is the child's. */
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

#define MiB (1024u * 1024u)

__attribute__((noinline)) static void *parent_work(void)
{
    return memset(xmalloc_check(malloc(MiB), "parent_work"), 1, MiB);
}

__attribute__((noinline)) static void *child_work(void)
{
    return memset(xmalloc_check(malloc(MiB), "child_work"), 2, MiB);
}

__attribute__((noinline)) static void *parent_after(void)
{
    return memset(xmalloc_check(malloc(MiB), "parent_after"), 3, MiB);
}

int main(void)
{
    static void *keep[8];
    for (int i = 0; i < 3; i++)
        keep[i] = parent_work();
    fflush(stdout); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        keep[3] = child_work();
        keep[4] = child_work();
        struct timespec ts = {0, 800 * 1000 * 1000};
        nanosleep(&ts, NULL);
        exit(0); /* a normal exit: atexit handlers and destructors run */
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child failed: status %#x\n", status);
        return 1;
    }
    keep[5] = parent_after();
    KEEP(keep);
    printf("child %ld\n", (long)pid);
    return 0;
}
