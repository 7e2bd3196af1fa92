/* A daemon that closes every descriptor it did not open and reuses the
 * numbers (issue 11, defect 6). Run with HEAPPROF_HTTP=127.0.0.1:PORT and
 * PORT as its argument:
 *   1. finds heapprof's listening socket L (the fd bound to PORT);
 *   2. connects to it and sends half a request, so the server holds an open
 *      connection N (found as the other fd with local port PORT);
 *   3. atomically replaces L with a listening socket of its own (dup2) and N
 *      with a regular file holding "precious" (offset 8), then closes every
 *      other descriptor above 2 — as a daemon does after closefrom(3) — which
 *      also closes its client end and so wakes heapprof's poll at once;
 *      (with "close-first": closes every descriptor above 2 first, then
 *      puts the new ones under the old numbers);
 *   4. connects a client to its own listener and waits 1.5 s, then checks that
 *      heapprof never touched L or N: both still open (F_GETFD), the file's
 *      content and offset unchanged, its own accept() gets the client, and the
 *      client has received nothing.
 * Prints "ok ..." or "bad ..." lines; exit status 0 when every check held. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int bad;

static void report(int okay, const char *what)
{
    printf("%s %s\n", okay ? "ok" : "bad", what);
    fflush(stdout);
    if (!okay)
        bad = 1;
}

static int local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sin_family != AF_INET)
        return -1;
    return ntohs(sa.sin_port);
}

static int is_listening(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* The fds above 2 bound locally to port, listening or not as asked. */
static int find_fd(int port, int listening, int not_this)
{
    for (int fd = 3; fd < 1024; fd++)
        if (fd != not_this && local_port(fd) == port && is_listening(fd) == listening)
            return fd;
    return -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fd_daemon PORT [close-first]\n");
        return 2;
    }
    int close_first = argc > 2 && strcmp(argv[2], "close-first") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = atoi(argv[1]);
    int L = find_fd(port, 1, -1);
    if (L < 0) {
        printf("bad no listening socket on port %d\n", port);
        return 1;
    }
    int client = connect_to(port);
    if (client < 0) {
        printf("bad cannot connect to heapprof's server\n");
        return 1;
    }
    static const char half[] = "GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n"; /* no blank line: incomplete */
    if (write(client, half, sizeof half - 1) != (ssize_t)(sizeof half - 1)) {
        printf("bad cannot write the half request\n");
        return 1;
    }
    int N = -1;
    for (int i = 0; i < 200 && N < 0; i++) {
        N = find_fd(port, 0, client);
        if (N < 0)
            sleep_ms(10);
    }
    if (N < 0) {
        printf("bad the server never accepted the connection\n");
        return 1;
    }
    sleep_ms(100); /* let the server read the half request and poll again */

    /* close-first: closefrom(3) as such, then the new objects are put under
     * the old numbers; heapprof may see the numbers closed for a moment. */
    if (close_first)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    /* The program's own objects, put under heapprof's numbers (atomically
     * when they were still open). */
    char path[] = "/tmp/heapprof-fd-daemon.XXXXXX";
    int file = mkstemp(path);
    if (file < 0 || write(file, "precious", 8) != 8) {
        printf("bad cannot create the file\n");
        return 1;
    }
    unlink(path);
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lst < 0 || bind(lst, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lst, 4) != 0) {
        printf("bad cannot make the program's listener\n");
        return 1;
    }
    int own_port = local_port(lst);
    if (dup2(file, N) != N || dup2(lst, L) != L) {
        printf("bad dup2 failed\n");
        return 1;
    }
    /* closefrom(3), keeping only what the daemon reopened. */
    for (int fd = 3; fd < 1024; fd++)
        if (fd != L && fd != N)
            close(fd);

    int peer = connect_to(own_port); /* queued on the program's listener, now at L */
    if (peer < 0) {
        printf("bad cannot connect to the program's own listener\n");
        return 1;
    }
    sleep_ms(1500);

    report(fcntl(L, F_GETFD) >= 0, "the listener the program put at the old number is still open");
    report(fcntl(N, F_GETFD) >= 0, "the file the program put at the connection's number is still open");
    report(lseek(N, 0, SEEK_CUR) == 8, "the file's offset is unchanged");
    char buf[16] = {0};
    report(pread(N, buf, sizeof buf, 0) == 8 && memcmp(buf, "precious", 8) == 0, "the file's content is unchanged");
    char junk[64];
    ssize_t got = recv(peer, junk, sizeof junk, MSG_DONTWAIT);
    report(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
           "the program's client received nothing (no one accepted and answered it)");
    struct pollfd p = {.fd = L, .events = POLLIN};
    int ready = poll(&p, 1, 0);
    int acc = ready == 1 ? accept(L, NULL, NULL) : -1;
    report(acc >= 0, "the program's own accept() gets its client's connection");
    if (acc >= 0) {
        static const char hello[] = "hello";
        report(write(peer, hello, 5) == 5 && read(acc, junk, sizeof junk) == 5, "and it works end to end");
    }
    return bad;
}
