#!/bin/bash
# Issue 12, bounded backlog: a flusher that cannot keep up (the program
# allocates 300,000 samples inside dl_iterate_phdr, holding the loader lock
# the flusher waits for) must not make heapprof's memory grow with the
# backlog: at most 4 MiB + 128 B per live sample. Past the budget the
# allocating thread drains the rings itself (the state lock is free: the
# flusher waits outside it), counted as ring_backlog_helped; nothing is lost
# or refused (every sample counted exactly, no pending free, no phantom leak,
# also for blocks freed by another thread).
. "$(dirname "$0")/lib.sh"
need_go
run bl HEAPPROF_RATE=1 HEAPPROF_FLUSH_MS=1 -- "$RELI_BIN/backlog" 300000
expect_clean_run bl || finish
last=$(series "$TMP/bl" | tail -1)
raw "$last" | grep '^Comment' | sed 's/^/    /'
helped=$(comment "$last" ring_backlog_helped)
unrec=$(comment "$last" unrecorded_samples)
live=$(comment "$last" live_samples)
grew=$(awk '$1 == "backlog_rss_growth_kib" { print $2 }' "$TMP/bl.out")
# The program's own share of the growth: its 1,000 kept blocks of 100 B, a
# thread's stack and malloc's bookkeeping for it (< 256 KiB).
budget=$((4096 + (${live:-0} * 128 + 1023) / 1024 + 256))
check "the allocating thread drained the backlog itself (ring_backlog_helped=${helped:-missing} > 0)" test "${helped:-0}" -gt 0
check "unrecorded_samples=0" test "${unrec:-x}" = 0
check "resident memory grew by ${grew:-?} KiB during the burst, <= $budget KiB (4 MiB + 128 B x $live live samples + the program's)" \
    test -n "$grew" -a "${grew:-999999}" -le "$budget"
check "lost_events=0" test "$(comment "$last" lost_events)" = 0
check "pending_frees=0 (every FREE met its ALLOC)" test "$(comment "$last" pending_frees)" = 0
leaks=$(nonzero_inuse "$last" '^backlog_alloc$')
check "no phantom leak: 0 in use for backlog_alloc${leaks:+ (got: $(echo "$leaks" | head -3 | tr '\n\t' '/ '))}" test -z "$leaks"
values "$last" >"$TMP/bl.values"
n=$(value "$TMP/bl.values" backlog_alloc alloc_objects)
check "backlog_alloc: every allocation counted (300064, got $n)" test "$n" = 300064
finish
