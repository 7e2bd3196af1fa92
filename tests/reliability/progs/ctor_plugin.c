/* A plugin whose constructor, run by dlopen with the loader lock held, asks
 * heapprof for a dump and forks (the child exits at once). Neither may wait
 * for heapprof while heapprof waits for the loader. CTOR_DUMP: the path. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapprof.h"
#pragma weak heapprof_dump
#pragma weak heapprof_get_stats

__attribute__((constructor)) static void ctor(void)
{
    const char *path = getenv("CTOR_DUMP");
    if (heapprof_dump && path)
        heapprof_dump(path);
    heapprof_stats st;
    if (heapprof_get_stats)
        heapprof_get_stats(&st);
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

__attribute__((noinline)) void *ctor_plugin_alloc(size_t n)
{
    return malloc(n);
}
