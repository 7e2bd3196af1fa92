/* Process life: life MODE EXECD
 *   fork      fork without exec; the child works and exits with exit()
 *   forkexec  fork, the child execs EXECD
 *   spawn     posix_spawn of EXECD
 *   vfork     vfork + execv of EXECD, then vfork + _exit
 *   exec      this image works, sleeps 0.6 s (periodic dumps), then execs EXECD
 *             in the same process
 * Prints "pid ROLE PID" and "truth" lines; exit status 0 when every child
 * exited with 0. */
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

extern char **environ;

static struct truth t_parent = {"parent_work", 0, 0, 0, 0};
static struct truth t_child = {"child_work", 0, 0, 0, 0};
static struct truth t_image1 = {"image1_work", 0, 0, 0, 0};
static void *keep[64];
static int nkeep;

__attribute__((noinline)) static void parent_work(void)
{
    for (int i = 0; i < 4; i++) {
        keep[nkeep++] = xmalloc_check(malloc(65536), "parent_work");
        truth_alloc(&t_parent, 65536);
    }
}

__attribute__((noinline)) static void child_work(void)
{
    void *tmp[8];
    for (int i = 0; i < 8; i++) {
        tmp[i] = xmalloc_check(malloc(4096 * (i + 1)), "child_work");
        truth_alloc(&t_child, 4096 * (i + 1));
    }
    for (int i = 0; i < 8; i += 2) {
        free(tmp[i]);
        truth_free(&t_child, 4096 * (i + 1));
    }
    for (int i = 1; i < 8; i += 2)
        keep[nkeep++] = tmp[i];
}

__attribute__((noinline)) static void image1_work(void)
{
    for (int i = 0; i < 5; i++) {
        keep[nkeep++] = xmalloc_check(malloc(50000), "image1_work");
        truth_alloc(&t_image1, 50000);
    }
}

static int wait_ok(pid_t pid, const char *what)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: child %d failed (status 0x%x)\n", what, (int)pid, st);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: life fork|forkexec|spawn|vfork|exec EXECD\n");
        return 2;
    }
    const char *mode = argv[1], *execd = argv[2];
    int bad = 0;
    printf("pid parent %d\n", (int)getpid());
    fflush(stdout);
    parent_work();
    if (!strcmp(mode, "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            printf("pid child %d\n", (int)getpid());
            child_work();
            truth_print(&t_child);
            exit(0);
        }
        bad |= pid < 0 || wait_ok(pid, "fork");
    } else if (!strcmp(mode, "forkexec")) {
        pid_t pid = fork();
        if (pid == 0) {
            child_work(); /* in the child's image, then gone with exec */
            execl(execd, execd, "forkexec", (char *)NULL);
            _exit(127);
        }
        bad |= pid < 0 || wait_ok(pid, "forkexec");
    } else if (!strcmp(mode, "spawn")) {
        pid_t pid;
        char *args[] = {(char *)execd, "spawn", NULL};
        int err = posix_spawn(&pid, execd, NULL, NULL, args, environ);
        bad |= err != 0 || wait_ok(pid, "posix_spawn");
    } else if (!strcmp(mode, "vfork")) {
        pid_t pid = vfork();
        if (pid == 0) {
            execl(execd, execd, "vfork", (char *)NULL);
            _exit(127);
        }
        bad |= pid < 0 || wait_ok(pid, "vfork+exec");
        pid = vfork();
        if (pid == 0)
            _exit(0);
        bad |= pid < 0 || wait_ok(pid, "vfork+_exit");
    } else if (!strcmp(mode, "exec")) {
        image1_work();
        truth_print(&t_image1);
        fflush(stdout);
        struct timespec ts = {0, 600 * 1000 * 1000};
        nanosleep(&ts, NULL);
        execl(execd, execd, "exec", (char *)NULL);
        perror("execl");
        return 1;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    truth_print(&t_parent);
    return bad;
}
