/* HTTP/1.x request-head parser for the /debug/pprof server.
 *
 * Pure functions over a byte buffer: no allocation, no I/O, no globals, so the
 * server, the unit tests and the libFuzzer target (fuzz/) all drive the same
 * code. The server re-parses its whole (at most HP_HTTP_MAX_REQUEST bytes)
 * buffer after every read; the parser answers "need more", "complete" or
 * "bad, answer with status N" as early as the bytes allow, so garbage is
 * refused at once instead of after the read timeout.
 *
 * Accepted: RFC 9112 request line (origin-form or absolute-form target,
 * HTTP/1.0 or 1.1), header fields (values are not interpreted, except that an
 * HTTP/1.1 request needs exactly one Host), CRLF or bare LF line ends, empty
 * lines before the request line. Refused: obsolete line folding, control
 * characters, '#' in the target, bad percent escapes, NUL, and any ".." path
 * segment (before or after decoding). */
#ifndef HEAPPROF_HTTP_REQUEST_H
#define HEAPPROF_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define HP_HTTP_MAX_REQUEST 8192 /* whole head, request line + headers + blank line */
#define HP_HTTP_MAX_TARGET 2048  /* request target as sent */
#define HP_HTTP_MAX_METHOD 16
#define HP_HTTP_MAX_HEADERS 64

enum hp_http_parse_result {
    HP_HTTP_NEED_MORE = 0, /* valid so far; read more (the caller enforces its own timeout) */
    HP_HTTP_COMPLETE = 1,  /* req is filled in; req->length bytes were the head */
    HP_HTTP_BAD = -1,      /* answer req->status (400, 414, 431, 501 or 505) and close */
};

typedef struct hp_http_request {
    int status;          /* HP_HTTP_BAD: the status code to answer */
    const char *reason;  /* HP_HTTP_BAD: a short static explanation for the body */
    char method[HP_HTTP_MAX_METHOD + 1];
    int version_minor;   /* HTTP/1.<minor> */
    char path[HP_HTTP_MAX_TARGET + 1];  /* percent-decoded path, starts with '/' (or is "*") */
    char query[HP_HTTP_MAX_TARGET + 1]; /* raw query after '?', not decoded ("" if none) */
    size_t length;       /* HP_HTTP_COMPLETE: bytes of the head, blank line included */
    int has_origin;      /* an Origin header: the request comes from a web page (browsers send it) */
    uint64_t content_length; /* Content-Length, 0 if absent */
} hp_http_request;

/* Parses buf[0..len). len above HP_HTTP_MAX_REQUEST without a complete head
 * gives HP_HTTP_BAD with 431 (or 414 for an endless target). */
enum hp_http_parse_result hp_http_parse(const char *buf, size_t len, hp_http_request *req);

/* Looks up `name` in a raw query ("a=1&b=2"; '+' is a space, %XX escapes are
 * decoded; the first occurrence wins, as in Go's FormValue). Returns 1 with
 * the decoded value in out (NUL-terminated), 0 when absent, -1 when the
 * query is malformed or the value does not fit out_size. */
int hp_http_query_get(const char *query, const char *name, char *out, size_t out_size);

/* The value of `name` as a whole decimal number in [min, max]: 1 found,
 * 0 absent, -1 present but not such a number. *out is set only on 1. */
int hp_http_query_uint(const char *query, const char *name, uint64_t min, uint64_t max, uint64_t *out);

#endif
