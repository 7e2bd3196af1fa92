/* sigstorm SECONDS: a SIGALRM storm (an interval timer every 50 us) while the
 * main loop allocates and frees. The handler mallocs and frees blocks of its
 * own (handler_alloc) and frees the blocks main hands it (main_handoff), so
 * frees arrive in a signal handler while main may be inside the profiler.
 *
 * glibc's malloc is not async-signal-safe; to keep the plain program correct
 * the handler only touches tcache bins that the main thread does not use
 * while the signal can arrive (sizes 200 and 400, with the tcache warmed up),
 * and main allocates its hand-off blocks with SIGALRM blocked. At the end
 * everything is freed: no block of either kind may stay "in use". */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "e2e_prog.h"

static _Atomic(void *) handoff;
static volatile sig_atomic_t handler_runs, handoffs_freed;
static void *hslot[4];
static unsigned long handler_allocs;

__attribute__((noinline)) static void *handler_alloc(void) { return malloc(200); }
__attribute__((noinline)) static void *main_handoff(void) { return malloc(400); }
__attribute__((noinline)) static void *main_loop_alloc(size_t n) { return malloc(n); }

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    unsigned k = (unsigned)handler_runs % 4;
    free(hslot[k]); /* at most 4 live: never empties the warmed tcache bin */
    hslot[k] = handler_alloc();
    if (hslot[k])
        handler_allocs++;
    void *p = atomic_exchange(&handoff, NULL);
    if (p) {
        free(p);
        handoffs_freed++;
    }
    handler_runs++;
    errno = saved;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    /* Warm the tcache bins the handler uses (7 entries each). */
    void *w[7];
    for (int i = 0; i < 7; i++)
        w[i] = malloc(200);
    for (int i = 0; i < 7; i++)
        free(w[i]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);

    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long loops = 0, handed = 0;
    for (;;) {
        /* Sizes 64 and 1000: bins the handler never touches. */
        void *a = main_loop_alloc(64), *b = main_loop_alloc(1000);
        memset(a, 1, 64);
        free(b);
        free(a);
        if (++loops % 8 == 0) {
            sigprocmask(SIG_BLOCK, &alrm, NULL);
            void *p = main_handoff();
            void *old = atomic_exchange(&handoff, p);
            free(old); /* the handler did not take the previous one */
            handed++;
            sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        }
        if (loops % 256 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
                break;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    free(atomic_exchange(&handoff, NULL));
    for (int k = 0; k < 4; k++)
        free(hslot[k]);
    struct truth th = {"handler_alloc", handler_allocs, handler_allocs * 200, 0, 0};
    struct truth tm = {"main_handoff", handed, handed * 400, 0, 0};
    struct truth tl = {"main_loop_alloc", 2 * loops, loops * 1064, 0, 0};
    truth_print(&th);
    truth_print(&tm);
    truth_print(&tl);
    printf("signals %ld handoffs_freed_in_handler %ld loops %lu\n", (long)handler_runs, (long)handoffs_freed, loops);
    return 0;
}
