/* forkdump OUT: a fork() issued while a dump is being encoded returns before
 * that dump is done.
 *
 * heapprof_dump(OUT) runs on a second thread. Its encoder calls this
 * program's own __cxa_demangle (exported with -rdynamic, so heapprof finds it
 * as the program's demangler) for the mangled name of _Z6leakerm: that call
 * says "the dump is in progress" and then holds the dump up until main's
 * fork() has returned, at most 10 s. If fork() waited for the dump (the
 * atfork prepare handler behind a lock held while encoding), the wait runs
 * out first. What is compared is the order of the two events, not a time:
 * prints "fork returned during the dump" or "fork waited for the dump". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapprof.h"
#pragma weak heapprof_dump

static atomic_int in_dump, fork_returned, dump_gave_up;

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status)
{
    (void)mangled, (void)buf, (void)len;
    if (!atomic_exchange(&in_dump, 1)) {
        for (int ms = 0; ms < 10000 && !atomic_load(&fork_returned); ms++) {
            struct timespec one_ms = {0, 1000000};
            nanosleep(&one_ms, NULL);
        }
        if (!atomic_load(&fork_returned))
            atomic_store(&dump_gave_up, 1);
    }
    *status = -2; /* "not a mangled name": heapprof keeps the symbol as it is */
    return NULL;
}

/* A C function with a C++ (Itanium) name, so the dump has one to demangle. */
__attribute__((noinline)) void *_Z6leakerm(size_t n);
__attribute__((noinline)) void *_Z6leakerm(size_t n)
{
    return malloc(n);
}

static int dump_err = -1;

static void *dumper(void *arg)
{
    dump_err = heapprof_dump(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !heapprof_dump) {
        fprintf(stderr, "usage: forkdump OUT (under LD_PRELOAD=libheapprof.so)\n");
        return 2;
    }
    void *keep = _Z6leakerm(1000);
    pthread_t t;
    pthread_create(&t, NULL, dumper, argv[1]);
    for (int ms = 0; ms < 10000 && !atomic_load(&in_dump); ms++) {
        struct timespec one_ms = {0, 1000000};
        nanosleep(&one_ms, NULL);
    }
    if (!atomic_load(&in_dump)) {
        fprintf(stderr, "forkdump: the dump never called __cxa_demangle\n");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int gave_up_before_fork_returned = atomic_load(&dump_gave_up);
    atomic_store(&fork_returned, 1);
    pthread_join(t, NULL);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    printf("%s\n", gave_up_before_fork_returned ? "fork waited for the dump" : "fork returned during the dump");
    printf("dump %d child %d\n", dump_err, pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    free(keep);
    return 0;
}
