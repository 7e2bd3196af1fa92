/* A snapshot of the aggregation state as a gzipped profile.proto, with
 * heapprof's comment lines: what every dump, API call and HTTP response
 * writes. */
#ifndef HEAPPROF_ENCODE_H
#define HEAPPROF_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate/profile.h"
#include "export/maps.h"
#include "export/pprof.h"

/* With the state lock held (hp_state_with, or the flusher): the gzipped
 * profile.proto of the current state, `what` in its first comment. With base
 * (values per stack index, as from hp_profile_samples earlier), a delta
 * profile: current minus base, with duration_ns set. *gz is freed with
 * hp_free. Returns 0 or ENOMEM. */
int hp_encode_gz(hp_profile *p, hp_maps *m, const char *what, const int64_t (*base)[HP_NVALUES], size_t n_base,
                 int64_t duration_ns, uint8_t **gz, size_t *gz_len);

/* Same, written atomically to `path`. Returns 0 or an errno value. */
int hp_encode_to_file(hp_profile *p, hp_maps *m, const char *path, const char *what);

#endif
