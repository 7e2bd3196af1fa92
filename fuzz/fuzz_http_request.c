/* libFuzzer target for the HTTP request parser (src/http_request.c).
 *
 * Feeds the input whole and then in two pieces split at a byte the input
 * itself chooses, and checks the parser's own promises: a result is one of
 * the three values; a complete head's length is within the input and the cap;
 * a refusal carries a status and a reason; the decoded path is NUL-terminated
 * within its buffer and has no ".." segment; feeding a prefix of a request
 * that completes never gives a different verdict than NEED_MORE or the final
 * one. Query look-ups run on whatever query was parsed. ASan/UBSan catch the
 * rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/http_request.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static void check_request(const char *buf, size_t len, enum hp_http_parse_result r, const hp_http_request *req)
{
    check(r == HP_HTTP_NEED_MORE || r == HP_HTTP_COMPLETE || r == HP_HTTP_BAD);
    if (r == HP_HTTP_BAD) {
        check(req->status >= 400 && req->status <= 505 && req->reason != NULL);
        return;
    }
    if (r == HP_HTTP_NEED_MORE) {
        check(len < HP_HTTP_MAX_REQUEST);
        return;
    }
    check(req->length > 0 && req->length <= len && req->length <= HP_HTTP_MAX_REQUEST);
    check(memchr(req->path, '\0', sizeof req->path) != NULL);
    check(memchr(req->query, '\0', sizeof req->query) != NULL);
    check(req->path[0] == '/' || strcmp(req->path, "*") == 0);
    check(strstr(req->path, "/../") == NULL);
    size_t pl = strlen(req->path);
    check(!(pl >= 3 && strcmp(req->path + pl - 3, "/..") == 0));
    check(req->method[0] != '\0');
    (void)buf;

    char value[64];
    uint64_t n;
    static const char *const names[] = {"seconds", "debug", "gc", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int q = hp_http_query_get(req->query, names[i], value, sizeof value);
        check(q >= -1 && q <= 1);
        if (q == 1)
            check(memchr(value, '\0', sizeof value) != NULL);
        q = hp_http_query_uint(req->query, names[i], 1, 300, &n);
        check(q >= -1 && q <= 1);
        if (q == 1)
            check(n >= 1 && n <= 300);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hp_http_request *req = malloc(sizeof *req);
    if (!req)
        return 0;
    const char *buf = (const char *)data;
    enum hp_http_parse_result whole = hp_http_parse(buf, size, req);
    check_request(buf, size, whole, req);

    /* A prefix of the same bytes: needs more, or the same verdict (an error
     * visible in the prefix is the same error in the whole). */
    if (size > 1) {
        size_t cut = data[0] % size;
        enum hp_http_parse_result part = hp_http_parse(buf, cut, req);
        check_request(buf, cut, part, req);
        if (whole == HP_HTTP_COMPLETE)
            check(part == HP_HTTP_NEED_MORE || part == HP_HTTP_COMPLETE);
        if (whole == HP_HTTP_NEED_MORE)
            check(part == HP_HTTP_NEED_MORE);
    }
    free(req);
    return 0;
}
