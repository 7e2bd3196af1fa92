/* The comment lines of every profile heapprof writes: why it was written, and
 * the counters of the parts that could lose or cut data (profile, rings,
 * recorder, sample marks, address set), so a reader can tell a complete
 * profile from one that is not. `go tool pprof -comments` prints them. */
#ifndef HEAPPROF_PROFILE_COMMENTS_H
#define HEAPPROF_PROFILE_COMMENTS_H

#include "aggregate/profile.h"

#define HP_COMMENT_LINES 5

typedef struct hp_comments {
    char what[192], counts[320], loss[256], mem[320], who[256];
    const char *lines[HP_COMMENT_LINES];
} hp_comments;

/* Fills c for a profile of p written because of `what` ("periodic dump", …). */
void hp_comments_build(hp_comments *c, const hp_profile *p, const char *what);

#endif
