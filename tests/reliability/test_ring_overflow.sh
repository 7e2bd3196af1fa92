#!/bin/bash
# HEAPPROF_RATE=1 with a workload whose rings overflow: 4 threads churning
# (allocations, reallocs, cross-thread frees) while the background thread
# drains rarely (HEAPPROF_FLUSH_MS=60000: only a backlog wakes it). The
# profile must count the overflows (ring_overflow_segments > 0) and lose
# nothing: lost_events=0, unrecorded_samples=0, every allocation counted
# exactly, and 0 in use for every stack after everything was freed.
. "$(dirname "$0")/lib.sh"
need_go
run ovf HEAPPROF_RATE=1 HEAPPROF_FLUSH_MS=60000 -- "$RELI_BIN/churn" 4 120000 all
expect_clean_run ovf || finish
check_profiles ovf "$TMP/ovf" final
last=$(series "$TMP/ovf" | tail -1)
raw "$last" | grep '^Comment' | sed 's/^/    /'
n=$(comment "$last" ring_overflow_segments)
check "rings overflowed and the overflows are counted (ring_overflow_segments=${n:-missing} > 0)" test "${n:-0}" -gt 0
check "pending_frees=0 at exit (every FREE met its ALLOC)" test "$(comment "$last" pending_frees)" = 0
values "$last" >"$TMP/ovf.values"
check_exact "ring overflow" "$TMP/ovf.values" "$TMP/ovf.out" churn_alloc churn_calloc churn_grow
leaks=$(nonzero_inuse "$last" '^churn_(alloc|calloc|grow)$')
check "no phantom leak: 0 in use for every churn_* stack${leaks:+ (got: $(echo "$leaks" | head -3 | tr '\n\t' '/ '))}" test -z "$leaks"
finish
