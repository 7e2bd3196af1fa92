#include "control/http_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/internal_alloc.h"

/* /proc/net/tcp prints an address as the hex of its 32-bit words in host
 * order ("0100007F:1F90" for 127.0.0.1:8080); tcp6 as four such words. */
static void format_proc_addr(const struct sockaddr_storage *ss, char *out, size_t size) {
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        snprintf(out, size, "%08X:%04X", (unsigned)a->sin_addr.s_addr, (unsigned)ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const void *)ss;
        uint32_t w[4];
        memcpy(w, &a->sin6_addr, sizeof w);
        snprintf(out, size, "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1], (unsigned)w[2], (unsigned)w[3],
                 (unsigned)ntohs(a->sin6_port));
    }
}

static int is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* Reads the whole file (it has no size in stat) into an hp_malloc buffer. */
static char *read_proc(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = hp_malloc(cap);
    while (buf) {
        if (len + 1 == cap) {
            char *bigger = hp_realloc(buf, cap * 2);
            if (!bigger) {
                hp_free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

enum hp_peer_result hp_http_peer_uid(int fd, uid_t *uid) {
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof peer, sl = sizeof self;
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 || getsockname(fd, (struct sockaddr *)&self, &sl) != 0)
        return HP_PEER_UNKNOWN;
    if (!is_loopback(&peer))
        return HP_PEER_NOT_LOCAL;
    /* The peer's socket: local = the peer's address, remote = ours. */
    char want_local[64], want_remote[64];
    format_proc_addr(&peer, want_local, sizeof want_local);
    format_proc_addr(&self, want_remote, sizeof want_remote);
    char *table = read_proc(peer.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6");
    if (!table)
        return HP_PEER_UNKNOWN;
    enum hp_peer_result result = HP_PEER_UNKNOWN;
    /* "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid ..." */
    for (char *line = strchr(table, '\n'); line && *line; line = strchr(line, '\n')) {
        line++;
        char local[64], remote[64];
        unsigned st;
        unsigned long owner;
        if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %lu", local, remote, &st, &owner) != 4)
            continue;
        if (strcmp(local, want_local) == 0 && strcmp(remote, want_remote) == 0) {
            *uid = (uid_t)owner;
            result = HP_PEER_OK;
            break;
        }
    }
    hp_free(table);
    return result;
}
