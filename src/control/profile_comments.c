#include "control/profile_comments.h"

#include <stdio.h>

#include "base/internal_alloc.h"
#include "control/identity.h"
#include "control/rate_control.h"
#include "record/addrset.h"
#include "record/recorder.h"
#include "record/ring.h"
#include "record/runtime.h"
#include "record/sample_mark.h"
#include "record/stack.h"

void hp_comments_build(hp_comments *c, const hp_profile *p, const char *what) {
    hp_profile_stats ps;
    hp_profile_stats_get(p, &ps);
    hp_ring_stats rs;
    hp_ring_stats_get(&rs);
    hp_recorder_stats recs;
    hp_recorder_stats_get(&recs);
    hp_addrset_stats as;
    hp_addrset_stats_get(&as);
    snprintf(c->what, sizeof c->what, "heapprof %s", what);
    hp_rate_control_stats rc;
    hp_rate_control_stats_get(&rc);
    snprintf(c->counts, sizeof c->counts,
             "heapprof samples=%llu frees=%llu live_samples=%llu stacks=%llu truncated_stacks=%llu depth=%u "
             "rate=%llu rate_changes=%llu rate_requests_rejected=%llu unwind_cut_stacks=%llu",
             (unsigned long long)ps.samples, (unsigned long long)ps.frees, (unsigned long long)ps.live_samples,
             (unsigned long long)ps.stacks, (unsigned long long)ps.truncated, hp_cfg.depth,
             (unsigned long long)hp_current_rate(), (unsigned long long)rc.changes,
             (unsigned long long)rc.rejected, (unsigned long long)hp_stack_cut_count());
    snprintf(c->loss, sizeof c->loss,
             "heapprof ring_overflow_segments=%llu ring_backlog_helped=%llu ring_backlog_waits=%llu "
             "ring_backlog_overruns=%llu spilled_frees=%llu unrecorded_samples=%llu lost_events=%llu pending_frees=%llu",
             (unsigned long long)rs.overflow_segments, (unsigned long long)rs.backlog_helped,
             (unsigned long long)rs.backlog_waits, (unsigned long long)rs.backlog_overruns, (unsigned long long)recs.spilled,
             (unsigned long long)recs.unrecorded, (unsigned long long)(rs.lost + ps.lost_frees),
             (unsigned long long)ps.pending_frees);
    snprintf(c->mem, sizeof c->mem,
             "heapprof own_memory_bytes=%zu rings=%llu ring_pooled_segments=%llu marks=%s addrset_levels=%u/%u "
             "addrset_bytes=%llu profile_bytes=%zu",
             hp_own_bytes(), (unsigned long long)rs.rings, (unsigned long long)rs.pooled_segments,
             hp_mark_mode() == HP_MARK_HEADER ? "headers" : "addrset", as.nonempty_levels, as.levels,
             (unsigned long long)as.bytes, hp_profile_bytes(p));
    c->lines[0] = c->what;
    c->lines[1] = c->counts;
    c->lines[2] = c->loss;
    c->lines[3] = c->mem;
    hp_identity_comment(c->who, sizeof c->who);
    c->lines[4] = c->who;
}
