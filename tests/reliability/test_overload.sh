#!/bin/bash
# Issue 12, bounded backlog under overload: 4 threads at HEAPPROF_RATE=1,
# each freeing the blocks of another (progs/overload.c), on a machine with
# fewer cores than that. Nothing can be folded, the flusher alone cannot
# keep up, and allocating threads compete for the state lock. Must hold:
#   - heapprof's memory stays bounded: the peak resident set grows by at most
#     4 MiB + 128 B per live sample more than in the plain run (was: 150-300 MB,
#     the backlog grew without bound)
#   - the flusher still writes its periodic dumps (every 20 ms here; was:
#     allocating threads took the lock back to back, none for seconds)
#   - every allocation counted exactly, no lost event, no pending free, no
#     phantom leak
. "$(dirname "$0")/lib.sh"
need_go
threads=4 iters=500000
run_plain plain "$RELI_BIN/overload" $threads $iters
[ "$RC" = 0 ] || abort "plain run: exit status $RC: $(head -c 300 "$TMP/plain.err")"
run ov HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.02 -- "$RELI_BIN/overload" $threads $iters
expect_clean_run ov || finish
last=$(series "$TMP/ov" | tail -1)
raw "$last" | grep '^Comment' | sed 's/^/    /'
growth() { awk '$1 == "overload_peak_growth_kib" { print $2 }' "$1"; }
plain=$(growth "$TMP/plain.out") grew=$(growth "$TMP/ov.out")
live=$(comment "$last" live_samples)
budget=$((${plain:-0} + 4096 + (${live:-0} * 128 + 1023) / 1024))
check "peak resident set grew by ${grew:-?} KiB, <= $budget KiB (plain run's ${plain:-?} + 4 MiB + 128 B x ${live:-?} live samples)" \
    test -n "$grew" -a "${grew:-999999}" -le "$budget"
nperiodic=$(($(series "$TMP/ov" | wc -l) - 1))
check "the flusher wrote periodic dumps during the run ($nperiodic besides the final one)" test "$nperiodic" -ge 3
check_profiles ov "$TMP/ov" final
check "pending_frees=0 (every FREE met its ALLOC)" test "$(comment "$last" pending_frees)" = 0
values "$last" >"$TMP/ov.values"
want=$(awk '$1 == "overload_allocs" { print $2 }' "$TMP/ov.out")
n=$(value "$TMP/ov.values" overload_alloc alloc_objects)
check "overload_alloc: every allocation counted ($want, got $n)" test "$n" = "${want:-x}"
leaks=$(nonzero_inuse "$last" '^overload_alloc$')
check "no phantom leak: 0 in use for overload_alloc${leaks:+ (got: $(echo "$leaks" | head -3 | tr '\n\t' '/ '))}" test -z "$leaks"
kept=$(awk '$1 == "overload_live" { print $2 }' "$TMP/ov.out")
n=$(value "$TMP/ov.values" overload_keep inuse_objects)
check "overload_keep: ${kept:-?} blocks in use at exit (got $n)" test "$n" = "${kept:-x}"
finish
