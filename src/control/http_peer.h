/* Who is on the other end of a TCP connection to the HTTP server: whether
 * the peer is on this host (a loopback address), and which user owns the
 * peer's socket, found in /proc/net/tcp or tcp6 (the row whose local address
 * is the peer's and whose remote address is ours). Used to let only the
 * process's own user (or root) change its sampling rate over HTTP. Runs on
 * the HTTP thread, only for such a request. */
#ifndef HEAPPROF_HTTP_PEER_H
#define HEAPPROF_HTTP_PEER_H

#include <sys/types.h>

enum hp_peer_result {
    HP_PEER_OK = 0,        /* *uid is the owner of the peer's socket */
    HP_PEER_NOT_LOCAL = 1, /* the peer's address is not a loopback address */
    HP_PEER_UNKNOWN = 2,   /* no such row, or /proc/net unreadable */
};

enum hp_peer_result hp_http_peer_uid(int fd, uid_t *uid);

#endif
