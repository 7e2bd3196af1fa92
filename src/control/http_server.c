/* The /debug/pprof HTTP server (see http_server.h and docs/http.md).
 *
 * Why one thread with poll() rather than an acceptor plus workers: all the
 * real work (building a profile) happens under the flusher's aggregation lock
 * anyway, so workers could not build profiles in parallel; what must never
 * happen is that a slow or silent client holds up the others, and a poll loop
 * with a deadline per connection gives exactly that, with one thread, no
 * locks of its own and a fixed memory bound. ?seconds=N requests wait as a
 * connection state with a deadline: the wait holds neither the lock nor the
 * thread.
 *
 * Bounds: MAX_CONNS connections (more are answered 503 and closed at once),
 * HP_HTTP_MAX_REQUEST bytes per request head, READ_TIMEOUT_MS from accept to
 * a complete head (then 408), WRITE_TIMEOUT_MS to send a response,
 * LINGER_MS to let the client read it before the close, at most
 * MAX_DELTA_WAITS connections waiting on ?seconds= at once, N <= 300.
 * One request per connection ("Connection: close"): keep-alive would only
 * add state, and pprof clients fetch one profile per connection anyway.
 *
 * Descriptors the program took back: a daemon may close every descriptor
 * above 2 (closefrom) and open its own, which then get our numbers. Every
 * descriptor the server holds is remembered with the identity of what it
 * refers to (st_dev + st_ino from fstat, taken when it was made: socket
 * inodes are unique while the socket lives), and that identity is checked
 * before each accept, recv, send, shutdown and close. A descriptor that
 * fails the check (EBADF, or another inode) is not ours any more: it is
 * forgotten, never closed. The listener gone means the server stops, with
 * one line. A check and the use that follows are two system calls, so a
 * program that closes and reuses a number from another thread in the few
 * microseconds between them is not covered; closefrom() run while the
 * server sleeps in poll() (the usual case) is. */
#include "control/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/profile.h"
#include "base/common.h"
#include "base/internal_alloc.h"
#include "base/textbuf.h"
#include "base/warn.h"
#include "control/encode.h"
#include "control/http_request.h"
#include "control/http_peer.h"
#include "control/metrics.h"
#include "control/parent_profiled.h"
#include "control/rate_control.h"
#include "control/state.h"
#include "export/legacy_text.h"
#include "export/maps.h"
#include "export/pprof.h"
#include "record/recorder.h"
#include "record/runtime.h"

#define MAX_CONNS 8
#define MAX_DELTA_WAITS 4 /* leaves slots for plain fetches while deltas wait */
#define MAX_SECONDS 300
#define READ_TIMEOUT_MS 5000
#define WRITE_TIMEOUT_MS 30000
#define LINGER_MS 1000
#define LINGER_MAX_BYTES (256 * 1024)
#define ACCEPT_BATCH 16     /* per poll round, so open connections keep being served */
#define ACCEPT_PAUSE_MS 100 /* after EMFILE & co: the listener would stay readable */
#define LISTEN_BACKLOG 16

enum conn_state { CONN_FREE, CONN_READING, CONN_WAITING, CONN_WRITING, CONN_LINGER };

/* What a descriptor referred to when heapprof made it. */
typedef struct fd_id {
    dev_t dev;
    ino_t ino;
} fd_id;

typedef struct conn {
    int fd;
    fd_id id;
    enum conn_state state;
    uint64_t deadline_ms; /* CLOCK_MONOTONIC; what happens then depends on state */
    int head_only;        /* HEAD: headers as for GET, no body */
    int allocs;           /* /debug/pprof/allocs: the heap profile with alloc_space as its default */
    size_t in_len;
    char in[HP_HTTP_MAX_REQUEST];
    hp_http_request req;
    /* CONN_WAITING (?seconds=N): the values at the start, per stack index */
    int64_t (*base)[HP_NVALUES];
    size_t n_base;
    uint64_t base_ns;
    /* CONN_WRITING: status line, headers and body in one buffer */
    char *out;
    size_t out_len, out_off;
    size_t lingered; /* bytes discarded in CONN_LINGER */
} conn;

static conn *conns; /* MAX_CONNS of them, from hp_calloc at start */
static int listen_fd = -1;
static fd_id listen_id;
static uint64_t accept_paused_until_ms;
static char listen_name[80]; /* "127.0.0.1:6060", for messages */

/* Every descriptor the server owns (the listener last), for the forked child
 * to close: the child has no server thread and must not keep the port or a
 * client's connection open. Written by the server thread, read by the
 * child's atfork handler in the copy fork made: relaxed is enough, since the
 * child only needs each slot to hold a whole value, and a slot is cleared
 * before its close so a number reused by the program is never closed. */
static _Atomic int owned_fds[MAX_CONNS + 1];
/* The identity of each, for the child to check before its close. */
static fd_id owned_ids[MAX_CONNS + 1];

static uint64_t now_ms(void) { return hp_now_ns(CLOCK_MONOTONIC) / 1000000u; }

/* fstat is async-signal-safe: these are used in the atfork child too. */
static int fd_identify(int fd, fd_id *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    return 0;
}

/* 1 when fd still refers to what it did when id was taken. */
static int fd_is(int fd, const fd_id *id)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino;
}

static void own_fd(int slot, int fd, const fd_id *id)
{
    owned_ids[slot] = *id;
    atomic_store_explicit(&owned_fds[slot], fd, memory_order_relaxed);
}


/* ---- connections ---- */

/* Frees the connection's slot; closes its descriptor only if it is still
 * ours (the program may have closed it and reused the number). */
static void close_conn(conn *c)
{
    int index = (int)(c - conns);
    atomic_store_explicit(&owned_fds[index], -1, memory_order_relaxed);
    if (fd_is(c->fd, &c->id)) {
        /* shutdown first: if a forked child still holds a copy of this socket
         * (accepted in the instant before a fork), close alone would send no
         * FIN and the client would wait for the child. */
        shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
    }
    hp_free(c->out);
    hp_free(c->base);
    c->out = NULL;
    c->base = NULL;
    c->fd = -1;
    c->state = CONN_FREE;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* Queues a complete response and switches the connection to writing.
 * extra: further header lines, each ending in CRLF, or "". */
static void respond(conn *c, int status, const char *content_type, const char *extra, const void *body,
                    size_t body_len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n"
                     "%s\r\n",
                     status, status_text(status), content_type, body_len, extra);
    if (n < 0 || (size_t)n >= sizeof head) {
        close_conn(c);
        return;
    }
    size_t send_body = c->head_only ? 0 : body_len;
    hp_free(c->out);
    c->out = hp_malloc((size_t)n + send_body);
    if (!c->out) {
        close_conn(c);
        return;
    }
    memcpy(c->out, head, (size_t)n);
    if (send_body)
        memcpy(c->out + n, body, send_body);
    c->out_len = (size_t)n + send_body;
    c->out_off = 0;
    c->state = CONN_WRITING;
    c->deadline_ms = now_ms() + WRITE_TIMEOUT_MS;
}

static void respond_error(conn *c, int status, const char *reason, const char *extra)
{
    char body[160];
    int n = snprintf(body, sizeof body, "heapprof: %s\n", reason);
    respond(c, status, "text/plain; charset=utf-8", extra, body, n > 0 ? (size_t)n : 0);
}

/* ---- profile building (under the aggregation lock) ---- */

typedef struct build_ctx {
    conn *c;
    int err;
    uint8_t *data; /* hp_malloc: gz or text */
    size_t len;
    uint64_t stacks;
    uint64_t at_ns;
    hp_snapshot snap; /* build_gz_locked: encoded after the lock is released */
    int taken;
} build_ctx;

/* Under the lock: the snapshot only; serve_profile encodes it after. */
static void build_gz_locked(hp_profile *p, hp_maps *m, void *arg)
{
    build_ctx *b = arg;
    b->err = hp_snapshot_take(&b->snap, p, m, b->c->base ? "delta over HTTP" : "served over HTTP");
    b->taken = b->err == 0;
    if (b->c->allocs) /* as Go's /debug/pprof/allocs: same data, another default view */
        b->snap.default_sample_type = "alloc_space";
}

static void snapshot_base_locked(hp_profile *p, hp_maps *m, void *arg)
{
    (void)m;
    build_ctx *b = arg;
    hp_pprof_sample *samples = NULL;
    size_t n = 0;
    b->err = hp_profile_samples(p, &samples, &n);
    if (b->err)
        return;
    conn *c = b->c;
    c->base = hp_malloc((n ? n : 1) * sizeof *c->base);
    if (!c->base) {
        b->err = ENOMEM;
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(c->base[i], samples[i].values, sizeof c->base[i]);
        c->n_base = n;
        c->base_ns = hp_now_ns(CLOCK_MONOTONIC);
    }
    hp_free(samples);
}

static void count_stacks_locked(hp_profile *p, hp_maps *m, void *arg)
{
    (void)m;
    build_ctx *b = arg;
    hp_profile_stats st;
    hp_profile_stats_get(p, &st);
    b->stacks = st.stacks;
}

/* ?peak=1: the peak profile (aggregate/profile.h), gz or text. */
static void build_peak_locked(hp_profile *p, hp_maps *m, void *arg)
{
    build_ctx *b = arg;
    b->err = hp_snapshot_take_peak(&b->snap, p, m, "served over HTTP");
    b->taken = b->err == 0;
}

/* The legacy text format ("heap profile: ..."), as Go's ?debug=1 writes it. */
static void build_text_locked(hp_profile *p, hp_maps *m, void *arg)
{
    build_ctx *b = arg;
    b->err = hp_snapshot_take(&b->snap, p, m, "text over HTTP");
    b->taken = b->err == 0;
}

/* After the lock: the text or gzipped profile of the snapshot. */
static void build_encode(build_ctx *b, int text)
{
    conn *c = b->c;
    if (text) {
        hp_textbuf tb = {0};
        b->err = hp_legacy_text_encode(b->snap.samples, b->snap.n_samples, b->snap.maps,
                                       (uint64_t)b->snap.period, &tb);
        if (b->err) {
            hp_free(tb.p);
            return;
        }
        b->data = (uint8_t *)tb.p;
        b->len = tb.len;
        return;
    }
    int64_t duration = 0;
    if (c->base)
        duration = (int64_t)(hp_now_ns(CLOCK_MONOTONIC) - c->base_ns);
    b->err = hp_snapshot_gz(&b->snap, (const int64_t(*)[HP_NVALUES])c->base, c->n_base, duration, &b->data,
                            &b->len);
}

/* ---- endpoints ---- */

static void serve_index(conn *c)
{
    build_ctx b = {.c = c};
    hp_state_with(count_stacks_locked, &b);
    hp_textbuf tb = {0};
    hp_tb_printf(&tb,
              "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
              "/debug/pprof/<br>\n<br>\n"
              "Types of profiles available:\n"
              "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n"
              "<tr><td>%llu</td><td><a href=\"/debug/pprof/allocs?debug=1\">allocs</a></td></tr>\n"
              "<tr><td>%llu</td><td><a href=\"/debug/pprof/heap?debug=1\">heap</a></td></tr>\n"
              "</table>\n"
              "<p>\nProfile Descriptions:\n<ul>\n"
              "<li><div class=profile-name>allocs: </div> A sampling of all past memory allocations: "
              "the heap profile with <code>alloc_space</code> as its default sample type, as Go serves it.</li>\n"
              "<li><div class=profile-name>heap: </div> A sampling of the memory allocations of this "
              "process (served by heapprof): in-use and allocated objects and bytes by call stack. "
              "<a href=\"/debug/pprof/heap\">/debug/pprof/heap</a> is the gzipped profile for "
              "<code>go tool pprof</code>; <code>?seconds=N</code> (1 to %d) gives the difference over "
              "the next N seconds; <code>?debug=1</code> the same data as text.</li>\n"
              "<li><div class=profile-name>heap?peak=1: </div> The in-use profile as it was when the "
              "estimated in-use bytes were highest: <a href=\"/debug/pprof/heap?peak=1\">/debug/pprof/heap?peak=1</a> "
              "(<a href=\"/debug/pprof/heap?peak=1&amp;debug=1\">as text</a>).</li>\n"
              "</ul>\n</p>\n<p><a href=\"/metrics\">/metrics</a>: totals for Prometheus.</p>\n"
              "</body>\n</html>\n",
              (unsigned long long)b.stacks, (unsigned long long)b.stacks, MAX_SECONDS);
    if (tb.oom) {
        hp_free(tb.p);
        close_conn(c);
        return;
    }
    respond(c, 200, "text/html; charset=utf-8", "", tb.p, tb.len);
    hp_free(tb.p);
}

static const char *const k_attachment = "Content-Disposition: attachment; filename=\"heap\"\r\n";
static const char *const k_attachment_delta = "Content-Disposition: attachment; filename=\"heap-delta\"\r\n";
static const char *const k_attachment_allocs = "Content-Disposition: attachment; filename=\"allocs\"\r\n";
static const char *const k_attachment_allocs_delta =
    "Content-Disposition: attachment; filename=\"allocs-delta\"\r\n";

/* Builds the profile (plain, the peak or, when c->base is set, the delta) and answers. */
static void serve_profile(conn *c, int text, int peak)
{
    build_ctx b = {.c = c};
    int err = hp_state_with(peak ? build_peak_locked : text ? build_text_locked : build_gz_locked, &b);
    if (!err)
        err = b.err;
    if (b.taken) {
        if (!err) {
            int guard = hp_guard_enter();
            build_encode(&b, text);
            hp_guard_leave(guard);
            err = b.err;
        }
        hp_snapshot_release(&b.snap);
    }
    if (err == EAGAIN) {
        respond_error(c, 503, "profiling is off (HEAPPROF_RATE=0 or start-up failed)", "");
    } else if (err) {
        respond_error(c, 500, "could not build the profile (out of memory)", "");
    } else if (text) {
        respond(c, 200, "text/plain; charset=utf-8", "", b.data, b.len);
    } else {
        const char *disposition = c->allocs ? (c->base ? k_attachment_allocs_delta : k_attachment_allocs)
                                            : (c->base ? k_attachment_delta : k_attachment);
        respond(c, 200, "application/octet-stream", disposition, b.data, b.len);
    }
    hp_free(b.data);
    hp_free(c->base);
    c->base = NULL;
}

static int delta_waiters(void)
{
    int n = 0;
    for (int i = 0; i < MAX_CONNS; i++)
        n += conns[i].state == CONN_WAITING;
    return n;
}

static void serve_heap(conn *c)
{
    uint64_t debug = 0, seconds = 0, peak = 0;
    int has_debug = hp_http_query_uint(c->req.query, "debug", 0, 1000, &debug);
    int has_peak = hp_http_query_uint(c->req.query, "peak", 0, 1, &peak);
    if (has_peak < 0) {
        respond_error(c, 400, "peak must be 0 or 1", "");
        return;
    }
    int has_seconds = hp_http_query_uint(c->req.query, "seconds", 1, MAX_SECONDS, &seconds);
    if (has_debug < 0) {
        respond_error(c, 400, "debug must be a whole number", "");
        return;
    }
    if (has_seconds < 0) {
        respond_error(c, 400, "seconds must be a whole number from 1 to 300", "");
        return;
    }
    if (has_seconds && debug) {
        respond_error(c, 400, "seconds and debug params are incompatible", "");
        return;
    }
    if (has_seconds && peak) {
        respond_error(c, 400, "seconds and peak params are incompatible", "");
        return;
    }
    if (!has_seconds) {
        serve_profile(c, debug != 0, peak != 0);
        return;
    }
    if (delta_waiters() >= MAX_DELTA_WAITS) {
        respond_error(c, 503, "too many ?seconds= requests at once", "Retry-After: 5\r\n");
        return;
    }
    build_ctx b = {.c = c};
    int err = hp_state_with(snapshot_base_locked, &b);
    if (!err)
        err = b.err;
    if (err) {
        hp_free(c->base);
        c->base = NULL;
        if (err == EAGAIN)
            respond_error(c, 503, "profiling is off (HEAPPROF_RATE=0 or start-up failed)", "");
        else
            respond_error(c, 500, "out of memory", "");
        return;
    }
    c->state = CONN_WAITING;
    /* Counted from the snapshot, rounded up to the millisecond clock the poll
     * loop uses: the window is never shorter than asked (duration_nanos). */
    c->deadline_ms = (c->base_ns + 999999u) / 1000000u + seconds * 1000u;
}

/* Prometheus' pull: totals only (control/metrics.c); answered even when
 * profiling is off, so a fleet sees the process and its rate of 0. */
static void serve_metrics(conn *c)
{
    hp_metrics m;
    hp_metrics_collect(&m);
    hp_textbuf tb = {0};
    hp_metrics_format(&m, &tb);
    if (tb.oom) {
        hp_free(tb.p);
        respond_error(c, 500, "out of memory", "");
        return;
    }
    respond(c, 200, HP_METRICS_CONTENT_TYPE, "", tb.p, tb.len);
    hp_free(tb.p);
}

/* GET /debug/pprof/rate: the rate in force. POST /debug/pprof/rate?bytes=N:
 * sets it (heapprof rate PID BYTES), only from this host, only by the
 * process's own user or root (the owner of the peer's socket), never from a
 * web page (browsers send Origin; a page must not switch a local service's
 * profiling), with no body. docs/design.md, "Changing the rate from outside". */
static void serve_rate(conn *c)
{
    const hp_http_request *r = &c->req;
    char body[128];
    int n;
    if (strcmp(r->method, "POST") != 0) {
        n = snprintf(body, sizeof body, "%llu\n", (unsigned long long)hp_current_rate());
        respond(c, 200, "text/plain; charset=utf-8", "", body, n > 0 ? (size_t)n : 0);
        return;
    }
    if (r->has_origin || r->content_length != 0) {
        respond_error(c, 403, "a rate change is not taken from a web page or with a body", "");
        return;
    }
    uid_t peer = 0;
    enum hp_peer_result who = hp_http_peer_uid(c->fd, &peer);
    if (who != HP_PEER_OK || (peer != 0 && peer != geteuid())) {
        respond_error(c, 403,
                      who == HP_PEER_NOT_LOCAL ? "a rate change is taken only from this host"
                                               : "a rate change is taken only from this process's user or root",
                      "");
        return;
    }
    uint64_t rate = 0, old = 0;
    if (hp_http_query_uint(r->query, "bytes", 0, UINT64_MAX, &rate) != 1) {
        respond_error(c, 400, "give the new rate as ?bytes=N (0 = off)", "");
        return;
    }
    int err = hp_rate_control_set_now(rate, &old);
    if (err) {
        respond_error(c, err == EINVAL ? 400 : 409,
                      err == EINVAL ? "bytes is out of range (0 to 1073741824)"
                                    : "sampling is forced off in this process (setuid, or no way to mark samples)",
                      "");
        return;
    }
    n = snprintf(body, sizeof body, "rate %llu (was %llu)\n", (unsigned long long)rate, (unsigned long long)old);
    respond(c, 200, "text/plain; charset=utf-8", "", body, n > 0 ? (size_t)n : 0);
}

static void handle_request(conn *c)
{
    const hp_http_request *r = &c->req;
    c->head_only = strcmp(r->method, "HEAD") == 0;
    if (strcmp(r->path, "/debug/pprof/rate") == 0 && (strcmp(r->method, "POST") == 0 || strcmp(r->method, "GET") == 0)) {
        serve_rate(c);
        return;
    }
    if (strcmp(r->method, "GET") != 0 && !c->head_only) {
        respond_error(c, 405, "only GET and HEAD are served", "Allow: GET, HEAD\r\n");
        return;
    }
    if (strcmp(r->path, "/debug/pprof/") == 0 || strcmp(r->path, "/debug/pprof") == 0)
        serve_index(c);
    else if (strcmp(r->path, "/debug/pprof/heap") == 0 || strcmp(r->path, "/debug/pprof/allocs") == 0) {
        c->allocs = strcmp(r->path, "/debug/pprof/allocs") == 0;
        serve_heap(c);
    } else if (strcmp(r->path, "/metrics") == 0)
        serve_metrics(c);
    else
        respond_error(c, 404, "not found (try /debug/pprof/)", "");
}

/* ---- the poll loop ---- */

/* Before each recv/send on a connection: 0 (and the slot freed, the
 * descriptor untouched) when the number is no longer our socket. */
static int conn_still_ours(conn *c)
{
    if (fd_is(c->fd, &c->id))
        return 1;
    close_conn(c); /* sees it is not ours: only frees the slot */
    return 0;
}

static void on_readable(conn *c)
{
    if (!conn_still_ours(c))
        return;
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* closed before a complete request, or reset */
        close_conn(c);
        return;
    }
    c->in_len += (size_t)n;
    switch (hp_http_parse(c->in, c->in_len, &c->req)) {
    case HP_HTTP_NEED_MORE:
        break; /* the buffer is never full here: a full one parses as 431 */
    case HP_HTTP_BAD:
        respond_error(c, c->req.status, c->req.reason, "");
        break;
    case HP_HTTP_COMPLETE:
        handle_request(c);
        break;
    }
}

static void on_writable(conn *c, uint64_t now)
{
    if (!conn_still_ours(c))
        return;
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            close_conn(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    /* All sent. Closing now with unread request bytes in our buffer would
     * make the kernel send a reset, which can destroy the response before
     * the client reads it (e.g. our 431 to a client still sending its 100 KiB
     * of headers). So: FIN, then read and discard briefly, then close. */
    hp_free(c->out);
    c->out = NULL;
    if (!conn_still_ours(c))
        return;
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->lingered = 0;
    c->deadline_ms = now + LINGER_MS;
}

static void on_linger_readable(conn *c)
{
    char scratch[4096];
    if (!conn_still_ours(c))
        return;
    ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || (c->lingered += (size_t)n) > LINGER_MAX_BYTES)
        close_conn(c);
}

static void on_deadline(conn *c)
{
    switch (c->state) {
    case CONN_READING:
        /* The slow client: it gets a status line, then the connection goes. */
        respond_error(c, 408, "the request took longer than 5 s", "");
        break;
    case CONN_WAITING:
        serve_profile(c, 0, 0);
        break;
    default:
        close_conn(c);
        break;
    }
}

/* When all slots are taken: a best-effort 503 and the connection is closed
 * at once, so the newcomer learns quickly instead of waiting in the backlog. */
static void refuse_busy(int fd, const fd_id *id)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 46\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n"
                              "\r\n"
                              "heapprof: too many connections, retry shortly\n";
    if (!fd_is(fd, id))
        return;
    ssize_t ignored = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    if (!fd_is(fd, id))
        return;
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

/* The listener is not ours any more: it is forgotten, never closed. */
static void stop_listening(const char *why)
{
    hp_warnf("heapprof: HTTP server on %s stopped: %s", listen_name, why);
    atomic_store_explicit(&owned_fds[MAX_CONNS], -1, memory_order_relaxed);
    listen_fd = -1;
}

/* Before each use of the listener: 1 when it is still the socket we bound. */
static int listener_still_ours(void)
{
    if (listen_fd < 0)
        return 0;
    struct stat st;
    if (fstat(listen_fd, &st) != 0) {
        stop_listening("its socket was closed by the program");
        return 0;
    }
    if (st.st_dev != listen_id.dev || st.st_ino != listen_id.ino) {
        stop_listening("its socket was closed by the program, whose descriptor now has that number (left alone)");
        return 0;
    }
    return 1;
}

static void on_acceptable(uint64_t now)
{
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        if (!listener_still_ours())
            return;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_paused_until_ms = now + ACCEPT_PAUSE_MS;
            else if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL)
                /* The program closed our socket (a daemon closing every
                 * descriptor) or put something else under its number: we
                 * cannot tell which, so we stop touching it. */
                stop_listening("its socket was closed by the program");
            return;
        }
        fd_id id;
        if (fd_identify(fd, &id) != 0)
            continue; /* closed by the program already: the number is not ours */
        conn *c = NULL;
        for (int i = 0; i < MAX_CONNS && !c; i++)
            if (conns[i].state == CONN_FREE)
                c = &conns[i];
        if (!c) {
            refuse_busy(fd, &id);
            continue;
        }
        c->fd = fd;
        c->id = id;
        c->in_len = 0;
        c->head_only = 0;
        c->allocs = 0;
        c->base = NULL;
        c->out = NULL;
        c->state = CONN_READING;
        c->deadline_ms = now + READ_TIMEOUT_MS;
        own_fd((int)(c - conns), fd, &id);
    }
}

static void serve_forever(void)
{
    struct pollfd pfd[MAX_CONNS + 1];
    conn *who[MAX_CONNS + 1];
    for (;;) {
        uint64_t now = now_ms();
        int n = 0;
        uint64_t next = UINT64_MAX;
        if (listen_fd >= 0 && now >= accept_paused_until_ms && listener_still_ours()) {
            pfd[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
            who[n++] = NULL;
        } else if (listen_fd >= 0) {
            next = accept_paused_until_ms;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &conns[i];
            short ev;
            switch (c->state) {
            case CONN_READING: ev = POLLIN; break;
            case CONN_WAITING: ev = POLLRDHUP; break; /* only to notice a client that gave up */
            case CONN_WRITING: ev = POLLOUT; break;
            case CONN_LINGER: ev = POLLIN; break;
            default: continue;
            }
            pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            who[n++] = c;
            if (c->deadline_ms < next)
                next = c->deadline_ms;
        }
        if (n == 0 && next == UINT64_MAX)
            return; /* no listener and no connection: nothing left to do */
        int timeout = -1;
        if (next != UINT64_MAX)
            timeout = next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
        int ready = poll(pfd, (nfds_t)n, timeout);
        /* EINTR cannot happen (all signals blocked) and ENOMEM is transient:
         * either way no revents to look at, but deadlines still apply. */
        if (ready < 0)
            ready = 0;
        now = now_ms();
        for (int k = 0; k < n && ready > 0; k++) {
            short re = pfd[k].revents;
            if (!re)
                continue;
            conn *c = who[k];
            if (!c) {
                if (re & POLLNVAL)
                    stop_listening("its socket was closed by the program");
                else
                    on_acceptable(now);
                continue;
            }
            if (re & POLLNVAL) { /* closed under us by the program: forget it */
                close_conn(c);     /* frees the slot; the number is not ours to close */
                continue;
            }
            switch (c->state) {
            case CONN_READING: on_readable(c); break;
            case CONN_WAITING: close_conn(c); break; /* the client went away */
            case CONN_WRITING: on_writable(c, now); break;
            case CONN_LINGER: on_linger_readable(c); break;
            default: break;
            }
        }
        now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i].state != CONN_FREE && conns[i].deadline_ms <= now)
                on_deadline(&conns[i]);
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    hp_thread_mark_internal();
    pthread_setname_np(pthread_self(), "heapprof-http");
    serve_forever();
    return NULL;
}

/* ---- start-up and fork ---- */

static void after_fork_child(void)
{
    /* The port belongs to the parent; this process has no server thread.
     * Only fstat() and close(): async-signal-safe, as a handler after fork
     * must be. A number the program reused is left alone. */
    for (int i = 0; i <= MAX_CONNS; i++) {
        int fd = atomic_exchange_explicit(&owned_fds[i], -1, memory_order_relaxed);
        if (fd >= 0 && fd_is(fd, &owned_ids[i]))
            close(fd);
    }
}

static void format_name(const hp_http_config *h)
{
    char host[INET6_ADDRSTRLEN];
    if (!inet_ntop(h->family == HP_HTTP_INET6 ? AF_INET6 : AF_INET, h->addr, host, sizeof host))
        snprintf(host, sizeof host, "?");
    snprintf(listen_name, sizeof listen_name, h->family == HP_HTTP_INET6 ? "[%s]:%u" : "%s:%u", host,
             (unsigned)h->port);
}

static int open_listener(const hp_http_config *h)
{
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } sa;
    socklen_t len;
    memset(&sa, 0, sizeof sa);
    int family = h->family == HP_HTTP_INET6 ? AF_INET6 : AF_INET;
    if (family == AF_INET) {
        sa.v4.sin_family = AF_INET;
        sa.v4.sin_port = htons(h->port);
        memcpy(&sa.v4.sin_addr, h->addr, 4);
        len = sizeof sa.v4;
    } else {
        sa.v6.sin6_family = AF_INET6;
        sa.v6.sin6_port = htons(h->port);
        memcpy(&sa.v6.sin6_addr, h->addr, 16);
        len = sizeof sa.v6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* Lets a restarted program re-bind while old connections sit in
     * TIME_WAIT; on Linux it never lets two live listeners share the port. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int hp_http_start(void)
{
    static int started; /* the constructor runs once; this is belt and braces */
    const hp_http_config *h = &hp_cfg.http;
    if (h->family == 0 || started)
        return 0;
    started = 1;
    format_name(h);
    for (int i = 0; i <= MAX_CONNS; i++)
        atomic_store_explicit(&owned_fds[i], -1, memory_order_relaxed);

    conns = hp_calloc(MAX_CONNS, sizeof *conns);
    if (!conns) {
        hp_warnf("heapprof: HTTP server on %s not started: out of memory", listen_name);
        return ENOMEM;
    }
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;
    int fd = open_listener(h);
    if (fd < 0) {
        char msg[96];
        /* A child that inherited HEAPPROF_HTTP (HEAPPROF_CHILDREN=1) finds
         * the port its profiled parent serves: expected, and the child's
         * stderr is the program's, so nothing is said. */
        if (fd == -EADDRINUSE && hp_parent_has_heapprof())
            ;
        else
            hp_warnf("heapprof: cannot serve HTTP on %s: %s; the program runs without the HTTP server", listen_name,
                      strerror_r(-fd, msg, sizeof msg));
        hp_free(conns);
        conns = NULL;
        return -fd;
    }
    if (fd_identify(fd, &listen_id) != 0) { /* cannot fail on a descriptor we just made */
        close(fd);
        hp_free(conns);
        conns = NULL;
        return EBADF;
    }
    listen_fd = fd;
    own_fd(MAX_CONNS, fd, &listen_id);
    if (!h->loopback)
        hp_warnf("heapprof: HTTP server on %s is reachable from other machines: anyone who can connect can "
                  "read this program's heap profiles",
                  listen_name);

    /* Every signal blocked in the new thread, so the program's signals keep
     * going to the program's own threads (as for the flusher). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&thread, &attr, server_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        hp_warnf("heapprof: cannot start the HTTP server thread (error %d); the program runs without it", err);
        atomic_store_explicit(&owned_fds[MAX_CONNS], -1, memory_order_relaxed);
        close(fd);
        listen_fd = -1;
        return err;
    }
    pthread_atfork(NULL, NULL, after_fork_child);
    return 0;
}
