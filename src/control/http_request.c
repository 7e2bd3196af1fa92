/* HTTP/1.x request-head parser (see http_request.h).
 *
 * One forward pass with explicit bounds on every index; every "ran out of
 * bytes" exit is HP_HTTP_NEED_MORE, every grammar violation HP_HTTP_BAD with
 * the status RFC 9110/9112 suggests. Nothing here allocates or keeps state
 * between calls, which is what makes it a good libFuzzer target. */
#include "base/common.h"
#include "control/http_request.h"

#include <string.h>

/* tchar of RFC 9110 section 5.6.2: the characters of methods and field names. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible ASCII: the only bytes a request target may hold. */
static int is_target_char(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

/* field-value bytes: visible ASCII, space, tab and obs-text (0x80-0xff); no
 * other control characters (a bare CR or a NUL could smuggle a line end past
 * a proxy that reads the head differently). */
static int is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int equal_nocase(const char *a, size_t n, const char *b)
{
    size_t i = 0;
    for (; i < n && b[i] != '\0'; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return i == n && b[i] == '\0';
}

static enum hp_http_parse_result bad(hp_http_request *req, int status, const char *reason)
{
    req->status = status;
    req->reason = reason;
    return HP_HTTP_BAD;
}

/* Percent-decodes s[0..n) into out (out_size bytes, NUL-terminated), with
 * '+' as a space when plus_is_space (query components, as HTML forms and Go
 * do). Returns the decoded length, or -1 for a bad escape, a decoded NUL or
 * no room. */
static long decode(const char *s, size_t n, int plus_is_space, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) /* needs s[i + 1] and s[i + 2] */
                return -1;
            int hi = hp_hex_digit((unsigned char)s[i + 1]), lo = hp_hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o + 1 >= out_size)
            return -1;
        out[o++] = (char)c;
    }
    if (out_size == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

/* Any ".." segment, whatever its neighbours: "/..", "/../x", "/a/../b".
 * Refused rather than normalised: no endpoint needs it, and a refusal cannot
 * be got wrong. */
static int has_dotdot_segment(const char *path)
{
    const char *seg = path;
    for (const char *p = path;; p++) {
        if (*p == '/' || *p == '\0') {
            if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
                return 1;
            if (*p == '\0')
                return 0;
            seg = p + 1;
        }
    }
}

/* Splits the target into the decoded path and the raw query. */
static enum hp_http_parse_result parse_target(const char *t, size_t n, hp_http_request *req)
{
    if (memchr(t, '#', n) != NULL) /* a fragment is never sent to a server */
        return bad(req, 400, "malformed request target");
    if (n == 1 && t[0] == '*') { /* asterisk-form (OPTIONS *): no resource of ours */
        memcpy(req->path, "*", 2);
        return HP_HTTP_COMPLETE;
    }
    if (t[0] != '/') {
        /* absolute-form, which RFC 9112 3.2.2 says servers must accept:
         * http://host:port/path?query. The authority is not checked: the
         * server answers whatever host name it was reached by. */
        size_t skip;
        if (n >= 7 && equal_nocase(t, 7, "http://"))
            skip = 7;
        else if (n >= 8 && equal_nocase(t, 8, "https://"))
            skip = 8;
        else
            return bad(req, 400, "malformed request target");
        while (skip < n && t[skip] != '/' && t[skip] != '?')
            skip++;
        t += skip;
        n -= skip;
    }
    const char *q = memchr(t, '?', n);
    size_t path_len = q ? (size_t)(q - t) : n;
    if (path_len == 0) {
        memcpy(req->path, "/", 2);
    } else if (decode(t, path_len, 0, req->path, sizeof req->path) < 0) {
        return bad(req, 400, "bad percent escape in path");
    }
    if (req->path[0] != '/')
        return bad(req, 400, "malformed request target");
    /* Checked on the decoded path, so %2e%2e is caught too. */
    if (has_dotdot_segment(req->path))
        return bad(req, 400, "'..' in path");
    if (q) {
        size_t qn = n - path_len - 1; /* <= HP_HTTP_MAX_TARGET - 1 */
        memcpy(req->query, q + 1, qn);
        req->query[qn] = '\0';
    }
    return HP_HTTP_COMPLETE;
}

/* Consumes one line end at *p: "\r\n" or a bare "\n" (RFC 9112 2.2 allows a
 * recipient to accept the latter). Returns 1 consumed, 0 need more bytes,
 * -1 something else is there. */
static int line_end(const char *buf, size_t limit, size_t *p)
{
    if (*p >= limit)
        return 0;
    if (buf[*p] == '\n') {
        *p += 1;
        return 1;
    }
    if (buf[*p] != '\r')
        return -1;
    if (*p + 1 >= limit)
        return 0;
    if (buf[*p + 1] != '\n')
        return -1;
    *p += 2;
    return 1;
}

enum hp_http_parse_result hp_http_parse(const char *buf, size_t len, hp_http_request *req)
{
    size_t limit = len > HP_HTTP_MAX_REQUEST ? HP_HTTP_MAX_REQUEST : len;
    size_t p = 0, start, target_start, target_len;
    int r, headers = 0, hosts = 0;

    req->status = 0;
    req->reason = NULL;
    req->method[0] = '\0';
    req->version_minor = 0;
    req->path[0] = '\0';
    req->query[0] = '\0';
    req->length = 0;
    req->has_origin = 0;
    req->content_length = 0;

    /* Empty lines before the request line are ignored (RFC 9112 2.2): some
     * clients send a CRLF after a POST body. */
    for (;;) {
        size_t before = p;
        r = line_end(buf, limit, &p);
        if (r == 0 && p < limit) /* a lone '\r' at the end: wait for more */
            goto need_more;
        if (r != 1) {
            p = before;
            break;
        }
    }

    /* method SP */
    start = p;
    while (p < limit && is_tchar((unsigned char)buf[p])) {
        if (p - start >= HP_HTTP_MAX_METHOD)
            return bad(req, 501, "method not implemented");
        p++;
    }
    if (p >= limit)
        goto need_more;
    if (p == start || buf[p] != ' ')
        return bad(req, 400, "malformed request line");
    memcpy(req->method, buf + start, p - start);
    req->method[p - start] = '\0';
    p++;

    /* request-target SP */
    target_start = p;
    while (p < limit && is_target_char((unsigned char)buf[p])) {
        if (p - target_start >= HP_HTTP_MAX_TARGET)
            return bad(req, 414, "request target longer than 2048 bytes");
        p++;
    }
    if (p >= limit)
        goto need_more;
    if (p == target_start || buf[p] != ' ')
        return bad(req, 400, "malformed request line");
    target_len = p - target_start;
    p++;

    /* HTTP-version: "HTTP/" DIGIT "." DIGIT, checked byte by byte so a wrong
     * prefix is refused before the line is complete. */
    static const char proto[] = "HTTP/";
    for (size_t i = 0; i < 8; i++) {
        if (p + i >= limit)
            goto need_more;
        unsigned char c = (unsigned char)buf[p + i];
        int ok = i < 5 ? c == (unsigned char)proto[i] : i == 6 ? c == '.' : (c >= '0' && c <= '9');
        if (!ok)
            return bad(req, 400, "malformed request line");
        if (i == 5 && c != '1')
            return bad(req, 505, "only HTTP/1.x is supported");
    }
    req->version_minor = buf[p + 7] - '0';
    p += 8;
    r = line_end(buf, limit, &p);
    if (r == 0)
        goto need_more;
    if (r < 0)
        return bad(req, 400, "malformed request line");

    /* header fields, up to the empty line */
    for (;;) {
        r = line_end(buf, limit, &p);
        if (r == 1)
            break;
        if (r == 0)
            goto need_more;
        if (buf[p] == ' ' || buf[p] == '\t')
            return bad(req, 400, "obsolete header line folding");
        start = p;
        while (p < limit && is_tchar((unsigned char)buf[p]))
            p++;
        if (p >= limit)
            goto need_more;
        if (p == start || buf[p] != ':')
            return bad(req, 400, "malformed header field");
        if (equal_nocase(buf + start, p - start, "host"))
            hosts++;
        if (equal_nocase(buf + start, p - start, "origin"))
            req->has_origin = 1;
        int is_length = equal_nocase(buf + start, p - start, "content-length");
        p++;
        uint64_t length = 0;
        int digits = 0, junk = 0;
        while (p < limit && buf[p] != '\r' && buf[p] != '\n') {
            if (!is_field_char((unsigned char)buf[p]))
                return bad(req, 400, "control character in header field");
            if (is_length && buf[p] >= '0' && buf[p] <= '9' && length < (1ull << 40)) {
                length = length * 10 + (uint64_t)(buf[p] - '0');
                digits++;
            } else if (is_length && buf[p] != ' ' && buf[p] != '\t') {
                junk = 1;
            }
            p++;
        }
        r = line_end(buf, limit, &p);
        if (r == 0)
            goto need_more;
        if (r < 0)
            return bad(req, 400, "malformed header field");
        if (is_length) {
            /* Judged only once the line is whole: a prefix of a good value
             * needs more bytes, it is not a bad request. A body is read by
             * nobody here; its length only decides whether a control request
             * is acceptable (it must have none). */
            if (!digits || junk)
                return bad(req, 400, "malformed Content-Length");
            req->content_length = length;
        }
        if (++headers > HP_HTTP_MAX_HEADERS)
            return bad(req, 431, "more than 64 header fields");
    }

    /* RFC 9112 3.2: a 1.1 request without Host, or with several, is a 400. */
    if (hosts > 1 || (req->version_minor >= 1 && hosts == 0))
        return bad(req, 400, "missing or repeated Host header");
    if (parse_target(buf + target_start, target_len, req) != HP_HTTP_COMPLETE)
        return HP_HTTP_BAD;
    req->length = p;
    return HP_HTTP_COMPLETE;

need_more:
    if (len >= HP_HTTP_MAX_REQUEST)
        return bad(req, 431, "request head larger than 8 KiB");
    return HP_HTTP_NEED_MORE;
}

int hp_http_query_get(const char *query, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen(name);
    const char *p = query;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t key_len = eq ? (size_t)(eq - p) : n;
        char key[64];
        /* Keys longer than any name we look up cannot match; only a key that
         * could match needs valid escapes. */
        if (key_len < sizeof key) {
            long k = decode(p, key_len, 1, key, sizeof key);
            if (k < 0)
                return -1;
            if ((size_t)k == name_len && memcmp(key, name, name_len) == 0) {
                const char *v = eq ? eq + 1 : p + n;
                size_t vn = (size_t)(p + n - v);
                return decode(v, vn, 1, out, out_size) < 0 ? -1 : 1;
            }
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

int hp_http_query_uint(const char *query, const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
    char text[32];
    int r = hp_http_query_get(query, name, text, sizeof text);
    if (r != 1)
        return r;
    uint64_t v = 0;
    if (text[0] == '\0')
        return -1;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 1;
}
