/* Fork with the HTTP server running.
 *   usage: http_forker CTL_DIR
 * The child writes its pid to CTL_DIR/child.pid and lives until
 * CTL_DIR/stop_child appears; the parent lives until CTL_DIR/stop and then
 * exits without waiting for the child. The test checks that the parent still
 * serves after the fork and that the port is free once the parent is gone,
 * while the child still runs (the child must not keep the listening socket). */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "e2e_prog.h"

static void wait_for(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++) {
        KEEP(malloc(1000));
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/child.pid", argv[1]);
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
        wait_for(argv[1], "stop_child");
        return 0;
    }
    wait_for(argv[1], "stop");
    printf("parent done\n");
    return 0;
}
