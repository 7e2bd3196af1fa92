/* issue 13: programs for the size and age labels, the peak profile, the
 * dump triggers and the leak report. One binary, the mode in argv[1]:
 *   labels  small() keeps 4000 blocks of 100 B, big() keeps 8 blocks of 2 MiB
 *   age     old() keeps 4 MiB, the program sleeps 3 s, young() keeps 4 MiB
 *   peak [CTL]  a() holds 200 MB for 0.5 s and frees it, b() keeps 20 MB;
 *           with CTL (a folder): waits for CTL/go before a(), writes
 *           CTL/ready after b() and waits for CTL/stop
 *   grow    grow() adds 1 MiB every 10 ms (touched) until N MiB (argv[2]),
 *           or for ever: until a memory limit kills the program
 * Every block is written to, so it is resident (the cgroup test counts it).
 * Prints "truth FUNCTION inuse_space=N" for what it keeps at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB (1024 * 1024)

static void pause_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void ctl_path(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void wait_for(const char *dir, const char *name) {
    char path[4096];
    ctl_path(path, sizeof path, dir, name);
    for (int i = 0; i < 3000; i++) { /* 30 s at most */
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            return;
        }
        pause_ms(10);
    }
}

static void touch(const char *dir, const char *name) {
    char path[4096];
    ctl_path(path, sizeof path, dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

/* A macro, not a function: the allocating frame is the function that uses it. */
#define TOUCHED(p, n)                                                                                           \
    do {                                                                                                       \
        (p) = malloc(n);                                                                                       \
        if (p)                                                                                                 \
            memset((p), 1, (n));                                                                               \
    } while (0)

static void **small(int n) {
    void **v = malloc(n * sizeof *v);
    for (int i = 0; i < n; i++)
        TOUCHED(v[i], 100);
    return v;
}

static void **big(int n) {
    void **v = malloc(n * sizeof *v);
    for (int i = 0; i < n; i++)
        TOUCHED(v[i], 2 * MiB);
    return v;
}

static void **old(int n) {
    void **v = malloc(n * sizeof *v);
    for (int i = 0; i < n; i++)
        TOUCHED(v[i], 2 * MiB);
    return v;
}

static void **young(int n) {
    void **v = malloc(n * sizeof *v);
    for (int i = 0; i < n; i++)
        TOUCHED(v[i], 2 * MiB);
    return v;
}

static void a(void) {
    enum { N = 200 };
    void *v[N];
    for (int i = 0; i < N; i++)
        TOUCHED(v[i], 1000 * 1000);
    pause_ms(500);
    for (int i = 0; i < N; i++)
        free(v[i]);
}

static void **b(void) {
    void **v = malloc(20 * sizeof *v);
    for (int i = 0; i < 20; i++)
        TOUCHED(v[i], 1000 * 1000);
    return v;
}

static void grow(long limit_mib) {
    for (long i = 0; limit_mib == 0 || i < limit_mib; i++) {
        void *keep;
        TOUCHED(keep, MiB);
        __asm__ volatile("" : : "r"(keep) : "memory"); /* kept: the leak is the point */
        pause_ms(10);
    }
    printf("truth grow inuse_space=%ld\n", limit_mib * MiB);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "labels") == 0) {
        void **s = small(4000), **g = big(8);
        printf("truth small inuse_space=%d\ntruth big inuse_space=%d\n", 4000 * 100, 8 * 2 * MiB);
        (void)s, (void)g;
    } else if (strcmp(mode, "age") == 0) {
        void **o = old(2);
        pause_ms(3000);
        void **y = young(2);
        (void)o, (void)y;
    } else if (strcmp(mode, "peak") == 0) {
        const char *ctl = argc > 2 ? argv[2] : NULL;
        if (ctl)
            wait_for(ctl, "go");
        a();
        void **k = b();
        pause_ms(200);
        if (ctl) {
            touch(ctl, "ready");
            wait_for(ctl, "stop");
        }
        printf("truth b inuse_space=%d\n", 20 * 1000 * 1000);
        (void)k;
    } else if (strcmp(mode, "grow") == 0) {
        grow(argc > 2 ? atol(argv[2]) : 0);
    } else {
        fprintf(stderr, "usage: peakage labels|age|peak|grow [MiB]\n");
        return 2;
    }
    return 0;
}
