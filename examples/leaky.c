/* leaky-demo: a C port of the classic Go memory-leak program used to teach
 * the pprof "-base" workflow.
 *
 * The Go original:
 *   func Recur(strarr []string) {
 *       cnt = cnt + 1
 *       time.Sleep(30 * time.Second)
 *       strarr = append(strarr, time.Now().String())
 *       strarr2 = append(strarr2, time.Now().String())
 *       go Recur(strarr)
 *       Recur(strarr)
 *   }
 * Every level keeps its own copy of the slice alive (the goroutines never
 * return) and the global slice only grows, so memory grows without bound and
 * the number of goroutines doubles every period.
 *
 * Here a "slice" is a struct passed by value; append() makes a new heap array
 * one element longer (Go's append copies once the capacity is exceeded, and the
 * copies stay referenced by the never-returning frames, exactly as here).
 * Unlike the original, the thread count is capped and the program ends after
 * --run-time seconds so it cannot take the machine down.
 *
 * All allocations are made directly in recur() so that a heap profile names
 * recur as the leaking function, as `go tool pprof` names main.Recur. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct strarr {
    char **items;
    size_t len;
};

static double period_s = 30.0;   /* the original sleeps 30 s per level */
static long max_threads = 64;    /* the original has no cap: 2^levels goroutines */
static double run_time_s = 300.0; /* the original's main sleeps 300 s */
static double max_memory_mb = 512; /* safety cap on leaked bytes; the original has none */

/* Each recursion thread gets a stack this big (reserved, committed lazily) and
 * parks once it is MAX_DEPTH levels deep, so a tiny --period cannot overflow it. */
#define THREAD_STACK (8u << 20)
#define MAX_DEPTH (THREAD_STACK / 1024)
static __thread long depth;      /* recursion levels on this thread */
static atomic_long leaked_bytes;
static atomic_int parked_note;
static atomic_int exiting;       /* set by main just before it returns */

static atomic_long cnt;          /* recursion levels entered, all threads */
static atomic_long threads;      /* recursion threads started */

static pthread_mutex_t strarr2_lock = PTHREAD_MUTEX_INITIALIZER;
static struct strarr strarr2;    /* the global array every level appends to */

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Like Go's time.Now().String(): "2006-01-02 15:04:05.999999999 -0700 MST". */
static void now_string(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char date[32], zone[16];
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z %Z", &tm);
    snprintf(buf, size, "%s.%09ld %s", date, ts.tv_nsec, zone);
}

static void recur(struct strarr strarr);

static void *recur_thread(void *arg)
{
    struct strarr copy = *(struct strarr *)arg;
    free(arg);
    recur(copy);
    return NULL;
}

/* noinline: recur must stay a frame of its own so profiles name it. */
__attribute__((noinline)) static void recur(struct strarr strarr)
{
    char stamp[96];
    atomic_fetch_add(&cnt, 1);
    sleep_seconds(period_s);

    /* Safety valves the original lacks: stop growing instead of exhausting
     * memory or the thread's stack. The thread sleeps until main exits. */
    if (++depth > MAX_DEPTH || atomic_load(&leaked_bytes) > max_memory_mb * 1048576.0) {
        if (atomic_exchange(&parked_note, 1) == 0)
            fputs("leaky-demo: memory or depth cap reached; threads stop growing\n", stderr);
        while (!atomic_load(&exiting))
            sleep_seconds(1);
        return;
    }

    /* strarr = append(strarr, time.Now().String()): a new, longer copy; the
     * old array stays referenced by the caller's frame, so both live on. */
    now_string(stamp, sizeof stamp);
    size_t n = strlen(stamp) + 1;
    struct strarr grown = {malloc((strarr.len + 1) * sizeof(char *)), strarr.len + 1};
    char *s = malloc(n);
    if (grown.items == NULL || s == NULL) {
        fputs("leaky-demo: out of memory\n", stderr);
        exit(1);
    }
    if (strarr.len > 0)
        memcpy(grown.items, strarr.items, strarr.len * sizeof(char *));
    memcpy(s, stamp, n);
    grown.items[strarr.len] = s;
    atomic_fetch_add(&leaked_bytes, (long)(grown.len * sizeof(char *) + n));

    /* strarr2 = append(strarr2, time.Now().String()) */
    now_string(stamp, sizeof stamp);
    n = strlen(stamp) + 1;
    char *s2 = malloc(n);
    pthread_mutex_lock(&strarr2_lock);
    char **items2 = realloc(strarr2.items, (strarr2.len + 1) * sizeof(char *));
    if (s2 == NULL || items2 == NULL) {
        fputs("leaky-demo: out of memory\n", stderr);
        exit(1);
    }
    memcpy(s2, stamp, n);
    items2[strarr2.len] = s2;
    strarr2.items = items2;
    strarr2.len++;
    pthread_mutex_unlock(&strarr2_lock);
    atomic_fetch_add(&leaked_bytes, (long)(n + sizeof(char *)));

    /* go Recur(strarr): the thread gets its own copy of the slice header. */
    if (atomic_fetch_add(&threads, 1) < max_threads) {
        struct strarr *arg = malloc(sizeof *arg);
        pthread_t t;
        pthread_attr_t attr;
        if (arg != NULL) {
            *arg = grown;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, THREAD_STACK);
            if (pthread_create(&t, &attr, recur_thread, arg) != 0)
                free(arg);
            pthread_attr_destroy(&attr);
        }
    } else {
        atomic_fetch_sub(&threads, 1);
    }

    /* Recur(strarr) */
    recur(grown);
    /* Like the original, recursion only ends with the process. The barrier
     * stops the compiler from turning the call above into a jump, which
     * would drop recur's frames and leak-holding arrays from the stack. */
    __asm__ volatile("" ::: "memory");
}

static void usage(FILE *f)
{
    fputs("usage: leaky-demo [--period SECONDS] [--max-threads N] [--run-time SECONDS]\n"
          "  A program that leaks memory on purpose, like the classic Go example.\n"
          "  --period S       sleep per recursion level (default 30, decimals ok, >= 0.001)\n"
          "  --max-threads N  cap on recursion threads (default 64; the original has none)\n"
          "  --run-time S     exit (status 0) after S seconds (default 300)\n"
          "  --max-memory MB  stop growing once this much has leaked (default 512)\n",
          f);
}

static int parse_double(const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        double v;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "leaky-demo: unknown option or missing value: %s\n", opt);
            usage(stderr);
            return 2;
        }
        const char *val = argv[++i];
        if (strcmp(opt, "--period") == 0 && parse_double(val, 0.001, 86400, &v) == 0) {
            period_s = v;
        } else if (strcmp(opt, "--max-threads") == 0 && parse_double(val, 1, 100000, &v) == 0 &&
                   v == (long)v) {
            max_threads = (long)v;
        } else if (strcmp(opt, "--run-time") == 0 && parse_double(val, 0, 1e7, &v) == 0) {
            run_time_s = v;
        } else if (strcmp(opt, "--max-memory") == 0 && parse_double(val, 1, 1e7, &v) == 0) {
            max_memory_mb = v;
        } else {
            fprintf(stderr, "leaky-demo: bad option: %s %s\n", opt, val);
            usage(stderr);
            return 2;
        }
    }

    /* log.Println("Memory Leak Test Program") */
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y/%m/%d %H:%M:%S", &tm);
    printf("%s Memory Leak Test Program (pid %ld, period %gs, max %ld threads, run time %gs)\n",
           when, (long)getpid(), period_s, max_threads, run_time_s);
    fflush(stdout);

    /* go Recur(strarr) with an empty array */
    struct strarr *arg = calloc(1, sizeof *arg);
    pthread_t th;
    pthread_attr_t attr;
    atomic_store(&threads, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    if (arg == NULL || pthread_create(&th, &attr, recur_thread, arg) != 0) {
        fputs("leaky-demo: cannot start the first thread\n", stderr);
        return 1;
    }
    pthread_attr_destroy(&attr);

    sleep_seconds(run_time_s);
    printf("leaky-demo: %ld recursion levels in %ld threads; exiting\n",
           (long)atomic_load(&cnt), (long)atomic_load(&threads));
    fflush(stdout);
    atomic_store(&exiting, 1);
    return 0; /* exit() with the threads still sleeping, like the original's main */
}
