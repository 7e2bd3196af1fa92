/* HEAPPROF_HTTP: a small HTTP/1.1 server inside the profiled process serving
 * Go's /debug/pprof/heap endpoints (see docs/http.md).
 *
 * One thread, created with every signal blocked and marked internal (its
 * allocations are never sampled; its memory comes from internal_alloc). It
 * multiplexes the listening socket and at most 8 connections with poll(), one
 * request per connection. Not restarted in a forked child: the port belongs
 * to the parent; the child closes its copies of the sockets. */
#ifndef HEAPPROF_HTTP_SERVER_H
#define HEAPPROF_HTTP_SERVER_H

/* From the library constructor, once: binds hp_cfg.http (if set) and starts
 * the thread. On failure (port in use, ...) prints one line and returns the
 * errno value; the program runs on without the server. 0 when started or
 * not configured. */
int hp_http_start(void);

#endif
