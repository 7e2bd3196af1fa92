#include "control/own_threads.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "record/recorder.h"
#include "record/wakeup.h"

/* Relaxed: the flag is only a hint that makes the flusher look; what it
 * decides on is read from /proc, and the wake orders the flag before the
 * flusher's next round (record/wakeup.h). */
static _Atomic int leader_gone;
static pthread_key_t leader_key;
static int key_made;
static int forked_child; /* set in the child's atfork handler, single-threaded there */

static void leader_ended(void *arg) {
    (void)arg;
    atomic_store_explicit(&leader_gone, 1, memory_order_relaxed);
    hp_flusher_wake();
}

static void mark_leader(void) {
    if (!key_made)
        key_made = pthread_key_create(&leader_key, leader_ended) == 0;
    /* Any non-NULL value: the destructor runs only for those. */
    if (key_made)
        pthread_setspecific(leader_key, &leader_key);
}

void hp_own_threads_watch_leader(void) {
    if (syscall(SYS_gettid) == getpid())
        mark_leader();
}

void hp_own_threads_after_fork_child(void) {
    forked_child = 1;
    atomic_store_explicit(&leader_gone, 0, memory_order_relaxed);
    mark_leader();
}

int hp_own_threads_forked_child(void) { return forked_child; }

int hp_own_threads_leader_gone(void) { return atomic_load_explicit(&leader_gone, memory_order_relaxed); }

/* The task has not ended: its state in /proc/self/task/TID/stat (the field
 * after the parenthesised name) is not Z or X. A leader that called
 * pthread_exit stays listed, as a zombie, while other threads live. */
static int task_alive(int dirfd, const char *tid) {
    char path[64];
    size_t n = strlen(tid);
    if (n > 40)
        return 1;
    memcpy(path, tid, n);
    memcpy(path + n, "/stat", 6);
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* gone since the directory was read */
    char buf[512];
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return 0;
    buf[got] = '\0';
    char *end = strrchr(buf, ')');
    if (!end || end[1] != ' ')
        return 1; /* unreadable: count it as alive, never end a live program */
    return end[2] != 'Z' && end[2] != 'X';
}

/* Threads in the process (field 20 of /proc/self/stat, counting a zombie
 * first thread or not), or -1. */
static int thread_count(void) {
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[1024];
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return -1;
    buf[got] = '\0';
    char *p = strrchr(buf, ')');
    /* After ") ": state is field 3; num_threads is field 20. */
    for (int field = 2; p && field < 20; field++)
        p = strchr(p + 1, ' ');
    return p ? atoi(p + 1) : -1;
}

int hp_own_threads_program_gone(void) {
    /* The common case while a program thread lives, in one small read:
     * more threads than heapprof's own and the first one. */
    int n = thread_count();
    if (n > hp_thread_internal_count() + 1)
        return 0;
    int dirfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return 0;
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return 0;
    }
    int alive = 0;
    struct dirent *e;
    while (!alive && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        if (hp_thread_is_internal(tid))
            continue;
        alive = task_alive(dirfd, e->d_name);
    }
    closedir(d);
    return !alive;
}
