#!/bin/bash
# heapprof_set_rate reaches every thread at once (issue 11, defect 5): a
# thread whose countdown was parked for 1 GiB while sampling was off samples
# its very next allocations after heapprof_set_rate(1). (Forced-off is sticky:
# tests/reliability/test_setuid.sh.)
. "$(dirname "$0")/lib.sh"
need_go
run rc HEAPPROF_RATE=0 HEAPPROF_INTERVAL=0 -- "$RELI_BIN/ratechange"
if expect_clean_run rc; then
    check "after heapprof_set_rate(1), every allocation of a parked thread is sampled ($(cat "$TMP/rc.out"))" \
        grep -qx "sampled 1000 of 1000" "$TMP/rc.out"
    f=$(series "$TMP/rc" | tail -1)
    check "the final profile holds after_rate_change's 1000 blocks" \
        test "$(sum_stacks "$f" '^after_rate_change$' alloc_objects)" = 1000
fi
finish
