/* Differential unwinding (test_unwind.sh): allocation points of every kind
 * the unwinder must follow, run under HEAPPROF_UNWIND=compare, which
 * captures each sample with both heapprof's unwinder and libunwind and
 * reports any difference. Built at -O2 with and without frame pointers.
 *   deep recursion (deeper than HEAPPROF_DEPTH), calls through pointers,
 *   a SIGALRM handler on an alternate stack that allocates while the main
 *   thread computes (arbitrary interrupted pcs), a raise()d handler on the
 *   alternate stack, a dlopen'ed plugin calling back, and two threads. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static void *volatile sink;

__attribute__((noinline)) static void *leaf(size_t n) {
    void *p = malloc(n);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

__attribute__((noinline)) static void recurse(int depth, size_t n) {
    if (depth == 0) {
        free(leaf(n));
        return;
    }
    char pad[depth % 7 + 1]; /* a variable frame size: rbp-based frames */
    memset(pad, depth, sizeof pad);
    recurse(depth - 1, n + pad[0] % 3);
    __asm__ volatile("" : : "r"(pad) : "memory");
}

typedef void (*step_fn)(int, size_t);
static step_fn volatile through_pointer = recurse;

static volatile sig_atomic_t alarms;

static void on_signal(int sig) {
    (void)sig;
    alarms++;
    free(leaf(48));
    recurse(3, 24);
}

/* Busy arithmetic for the timer to interrupt at arbitrary pcs. */
__attribute__((noinline)) static double compute(long n) {
    double x = 1;
    for (long i = 1; i < n; i++)
        x = x * 1.0000001 + (double)(i % 13) / (double)i;
    return x;
}

static int plugin_callback(int n) {
    free(leaf((size_t)n));
    return n + 1;
}

static void *thread_main(void *arg) {
    long rounds = (long)arg;
    for (long i = 0; i < rounds; i++)
        through_pointer((int)(i % 90), 32 + (size_t)(i % 200));
    return NULL;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 2000;
    const char *plugin = argc > 2 ? argv[2] : NULL;

    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    for (long i = 0; i < rounds; i++)
        through_pointer((int)(i % 90), 16 + (size_t)(i % 300));
    for (int i = 0; i < 20; i++)
        raise(SIGUSR1);

    struct itimerval it = {{0, 2000}, {0, 2000}};
    setitimer(ITIMER_REAL, &it, NULL);
    double x = 0;
    for (int i = 0; i < 40 && alarms < 60; i++)
        x += compute(2000000);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);

    if (plugin) {
        void *h = dlopen(plugin, RTLD_NOW);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 3;
        }
        int (*run)(int (*)(int), int) = (int (*)(int (*)(int), int))dlsym(h, "plugin_run");
        if (!run)
            return 4;
        for (int i = 0; i < 200; i++)
            run(plugin_callback, 16 + i);
        dlclose(h);
    }

    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)(rounds / 2));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    sink = &x;
    printf("alarms=%d\n", (int)alarms);
    return 0;
}
