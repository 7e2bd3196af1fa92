#!/bin/bash
# Stress for correctness: 4 and 8 threads doing random malloc/calloc/realloc/
# free with cross-thread frees through a shared mailbox (the "churn" program
# prints the exact truth).
#   all, rate 1      every allocation counted exactly per function, and after
#                    everything is freed 0 bytes / 0 objects in use for every
#                    stack through a churn_* function
#   keep, rate 1     each worker keeps what it holds: all four values exact
#   all, rate 4096   sampled: still 0 in use for every stack (no phantom leak)
#   keep, default    same stdout as without the library
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/churn
funcs="churn_alloc churn_calloc churn_grow"
RE='^churn_(alloc|calloc|grow)$'

# exact NAME COLUMNS...: the final profile's values equal the truth.
exact() {
    local name=$1 last
    shift
    last=$(series "$TMP/$name" | tail -1)
    values "$last" >"$TMP/$name.values"
    # shellcheck disable=SC2086 # $funcs is a list of names
    CHECK_COLUMNS="$*" check_exact "$name" "$TMP/$name.values" "$TMP/$name.out" $funcs
}
no_phantoms() {
    local name=$1 last leaks
    last=$(series "$TMP/$name" | tail -1)
    leaks=$(nonzero_inuse "$last" "$RE")
    check "$name: 0 in use for every churn_* stack after freeing everything${leaks:+ (got: $(echo "$leaks" | head -3 | tr '\n\t' '/ '))}" \
        test -z "$leaks"
    check "$name: the profile has churn_* stacks at all" test "$(sum_stacks "$last" "$RE" alloc_objects)" -gt 0
}

run all4 HEAPPROF_RATE=1 -- "$prog" 4 60000 all
if expect_clean_run all4; then
    check_profiles all4 "$TMP/all4" final
    exact all4 alloc_objects alloc_space inuse_objects inuse_space
    no_phantoms all4
fi
run keep8 HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.2 -- "$prog" 8 30000 keep
if expect_clean_run keep8; then
    check_profiles keep8 "$TMP/keep8" final
    exact keep8 alloc_objects alloc_space inuse_objects inuse_space
    kept=$(awk '$1 == "truth" { for (i = 3; i <= NF; i++) if ($i ~ /^inuse_space=/) { sub(/.*=/, "", $i); s += $i } } END { print s + 0 }' "$TMP/keep8.out")
    check "keep8: the program kept memory to find ($kept B)" test "$kept" -gt 0
fi
run all4s HEAPPROF_RATE=4096 -- "$prog" 4 60000 all
if expect_clean_run all4s; then
    check_profiles all4s "$TMP/all4s" final
    no_phantoms all4s
fi
run_plain plain "$prog" 4 20000 keep
run keepd -- "$prog" 4 20000 keep
expect_clean_run keepd && check "keep, default rate: same stdout as without the library" cmp -s "$TMP/plain.out" "$TMP/keepd.out"
finish
