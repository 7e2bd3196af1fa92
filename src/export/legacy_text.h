/* The legacy text heap profile ("heap profile: ..."), as Go's
 * /debug/pprof/heap?debug=1 writes it: for readers that predate
 * profile.proto and for people reading it as it is. */
#ifndef HEAPPROF_LEGACY_TEXT_H
#define HEAPPROF_LEGACY_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/textbuf.h"
#include "export/maps.h"
#include "export/pprof.h"

/* Writes samples (modified: counts of zero are cleared) into *tb, with the
 * executable mappings of m; `rate` is named in a comment line. Returns 0 or
 * ENOMEM. */
int hp_legacy_text_encode(hp_pprof_sample *s, size_t n, hp_maps *m, uint64_t rate, hp_textbuf *tb);

#endif
