#!/bin/bash
# 2400 short-lived threads (half joined, half detached), each allocating:
# at rate 1 the final profile must count exactly 2400 thread_keep objects in
# use (4000 B each) and 24000 thread_churn allocations with none in use, so no
# event of an exited thread is lost. At the default rate and at rate 4096 the
# program must simply run as before (no crash, same output).
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/many_threads
run_plain plain "$prog"

run rate1 HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.2 -- "$prog"
if expect_clean_run rate1; then
    values "$(series "$TMP/rate1" | tail -1)" >"$TMP/rate1.values"
    check_exact "rate 1" "$TMP/rate1.values" "$TMP/rate1.out" thread_keep thread_churn
fi
for rate in default 4096; do
    vars=(HEAPPROF_INTERVAL=0.1)
    [ $rate != default ] && vars+=("HEAPPROF_RATE=$rate")
    run r$rate "${vars[@]}" -- "$prog"
    expect_clean_run r$rate && check "rate $rate: same output as without the library" \
        cmp -s "$TMP/plain.out" "$TMP/r$rate.out"
    check "rate $rate: a final profile was written" test -n "$(series "$TMP/r$rate" | tail -1)"
done
finish
