/* Ways a process ends (issue 11, defects 1 and 4), each a mode:
 *   lastthread  a detached thread allocates, main calls pthread_exit, the
 *               thread returns: the process must exit 0 (atexit runs)
 *   lingering   the same, but the thread sleeps 30 s (the test kills it)
 *   forkchild   a forked child does `lastthread`; the parent reports its status
 *   wait        allocates, says "ready", waits for a signal
 *   before SIG  installs a handler for SIG, then starts profiling
 *               (heapprof_set_rate, when present), raises SIG: handled, exit 3
 *   after SIG   the same with profiling on from the start
 *   readback    prints what sigaction/signal report for the four signals
 *   ignored     the four signals are inherited as ignored: raises them, exit 0
 *   uexit       allocates, then _exit(5)
 *   failexec    a forked child's exec fails, it _exits 127
 *   childwork   a forked child allocates, then _exits 3
 * EXITSIG_TIMING=FILE: lastthread writes the time from the thread's end to
 * the atexit handler there (ns). Output is the same with and without
 * heapprof. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile void *sink[64];
static _Atomic uint64_t thread_end_ns;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static void exitsig_alloc(void) {
    for (int i = 0; i < 64; i++)
        sink[i] = malloc(64 * 1024);
}

static void say(const char *s) {
    if (write(1, s, strlen(s)) < 0)
        _exit(99);
}

static void on_atexit(void) {
    uint64_t end = atomic_load(&thread_end_ns);
    const char *path = getenv("EXITSIG_TIMING");
    if (path && end) {
        char line[64];
        int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)(now_ns() - end));
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            if (write(fd, line, (size_t)n) < 0)
                n = 0;
            close(fd);
        }
    }
    say("atexit ran\n");
}

static void *worker(void *arg) {
    exitsig_alloc();
    struct timespec t = {0, 200 * 1000000};
    if (arg)
        t.tv_sec = 30;
    nanosleep(&t, NULL);
    atomic_store(&thread_end_ns, now_ns());
    return NULL;
}

static void last_thread(int linger) {
    atexit(on_atexit);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &a, worker, linger ? (void *)1 : NULL) != 0)
        _exit(98);
    say("main leaves\n");
    pthread_exit(NULL);
}

static void report_child(pid_t pid) {
    int st = 0;
    fprintf(stderr, "child pid %d\n", (int)pid);
    if (waitpid(pid, &st, 0) != pid) {
        say("waitpid failed\n");
        exit(1);
    }
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    exit(0);
}

static volatile sig_atomic_t got;
static void on_signal(int sig) { got = sig; }

static void handled(int sig, int before) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        _exit(97);
    if (before) {
        /* Starts profiling now, when run under heapprof at HEAPPROF_RATE=0. */
        int (*set_rate)(uint64_t) = (int (*)(uint64_t))dlsym(RTLD_DEFAULT, "heapprof_set_rate");
        if (set_rate)
            set_rate(1);
    }
    exitsig_alloc();
    kill(getpid(), sig);
    printf("handler got %d\n", (int)got);
    exit(3);
}

static const int k_sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

static void show(const char *what, int sig) {
    struct sigaction old;
    memset(&old, 0, sizeof old);
    if (sigaction(sig, NULL, &old) != 0) {
        printf("%s %d: error\n", what, sig);
        return;
    }
    const char *h = old.sa_handler == SIG_DFL ? "DFL" : old.sa_handler == SIG_IGN ? "IGN"
                  : old.sa_handler == on_signal ? "own" : "OTHER";
    printf("%s %d: %s flags=%#x mask:", what, sig, h, (unsigned)old.sa_flags);
    for (int i = 0; i < 4; i++)
        printf(" %d", sigismember(&old.sa_mask, k_sigs[i]));
    printf("\n");
}

static void readback(void) {
    for (int i = 0; i < 4; i++) {
        int sig = k_sigs[i];
        show("start", sig);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGINT);
        sigaction(sig, &sa, NULL);
        show("dfl+flags", sig);
        printf("signal(IGN) returned %s\n", signal(sig, SIG_IGN) == SIG_DFL ? "DFL" : "not DFL");
        show("ign", sig);
        printf("signal(own) returned %s\n", signal(sig, on_signal) == SIG_IGN ? "IGN" : "not IGN");
        show("own", sig);
        printf("signal(DFL) returned %s\n", signal(sig, SIG_DFL) == on_signal ? "own" : "not own");
        show("dfl", sig);
    }
    exit(0);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    int sig = argc > 2 ? atoi(argv[2]) : SIGTERM;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "lastthread"))
        last_thread(0);
    if (!strcmp(mode, "lingering"))
        last_thread(1);
    if (!strcmp(mode, "forkchild")) {
        pid_t pid = fork();
        if (pid == 0)
            last_thread(0);
        report_child(pid);
    }
    if (!strcmp(mode, "wait")) {
        exitsig_alloc();
        say("ready\n");
        for (;;)
            pause();
    }
    if (!strcmp(mode, "before") || !strcmp(mode, "after"))
        handled(sig, !strcmp(mode, "before"));
    if (!strcmp(mode, "readback"))
        readback();
    if (!strcmp(mode, "ignored")) {
        exitsig_alloc();
        for (int i = 0; i < 4; i++) {
            show("inherited", k_sigs[i]);
            kill(getpid(), k_sigs[i]);
        }
        say("survived\n");
        exit(0);
    }
    if (!strcmp(mode, "uexit")) {
        exitsig_alloc();
        _exit(5);
    }
    if (!strcmp(mode, "failexec") || !strcmp(mode, "childwork")) {
        int work = !strcmp(mode, "childwork");
        pid_t pid = fork();
        if (pid == 0) {
            if (work) {
                exitsig_alloc();
                _exit(3);
            }
            char *args[] = {"/nonexistent/prog", NULL};
            execv(args[0], args);
            _exit(127);
        }
        report_child(pid);
    }
    fprintf(stderr, "usage: exitsig MODE [SIGNAL]\n");
    return 2;
}
