#!/bin/bash
# Known leaks: per-function estimates at HEAPPROF_RATE=65536 against the truth
# the program prints, for three fixed seeds:
#   leak_a, leak_b  inuse_space within +-10% of the bytes they keep
#   churn           inuse_space < 1% of its allocated bytes (it frees them all),
#                   alloc_space within +-10% of what it allocated
# With these sizes one standard deviation of the sampling error is about 2.1%
# (leak_a), 1.4% (leak_b) and 1.6% (churn), so +-10% holds at any seed unless
# the estimator is wrong (measured over 30 seeds: no bias, sd as predicted).
# Then HEAPPROF_RATE=1: every value exact for every function.
# Also the profile's shape: Go's sample type order, inuse_space as default,
# period = rate, and names readable with no symbolization at all.
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/known_leaks

for seed in 1 2 3; do
    name=seed$seed
    run $name HEAPPROF_RATE=65536 HEAPPROF_SEED=$seed HEAPPROF_INTERVAL=0 -- "$prog"
    expect_clean_run $name || continue
    file=$(series "$TMP/$name" | tail -1)
    [ -n "$file" ] || { fail "$name: no profile written"; continue; }
    values "$file" >"$TMP/$name.values"
    [ -s "$TMP/$name.values" ] || { fail "$name: go tool pprof could not read $file: $(cat "$TMP/pprof.err")"; continue; }
    for f in leak_a leak_b; do
        got=$(value "$TMP/$name.values" $f inuse_space)
        want=$(truth "$TMP/$name.out" $f inuse_space)
        check "seed $seed: $f inuse_space $got vs truth $want ($(pct "$got" "$want"), limit 10%)" \
            within "$got" "$want" 10
    done
    got=$(value "$TMP/$name.values" churn inuse_space)
    alloc=$(truth "$TMP/$name.out" churn alloc_space)
    check "seed $seed: churn freed everything: inuse_space $got < 1% of its $alloc allocated bytes" \
        awk -v g="$got" -v a="$alloc" 'BEGIN { exit !(g < a / 100) }'
    got=$(value "$TMP/$name.values" churn alloc_space)
    check "seed $seed: churn alloc_space $got vs truth $alloc ($(pct "$got" "$alloc"), limit 10%)" \
        within "$got" "$alloc" 10
done

# The profile's shape, from the last run.
raw=$(go tool pprof -raw "$file" 2>&1)
header=$(printf '%s\n' "$raw" | sed -n '/^Samples:/{n;p;q}')
check "sample types in Go's order with inuse_space as default (got: $header)" \
    test "$header" = "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]"
check "period type space/bytes, period 65536" \
    grep -qx -e 'PeriodType: space bytes' <<<"$raw"
check "period = rate = 65536" grep -qx 'Period: 65536' <<<"$raw"
# Names must come from the profile itself: no binary lookup at all.
go tool pprof -top -symbolize=none -nodecount=1000 "$file" >"$TMP/nosym.top" 2>&1
for f in leak_a leak_b; do
    check "$f named in the profile itself (pprof -symbolize=none)" grep -qE " $f\$" "$TMP/nosym.top"
done
check "no malloc/shim frame shown as an allocating leaf" \
    bash -c "! grep -qE '[[:space:]](malloc|calloc|realloc|__libc_malloc|hp_[a-z_]*)\$' '$TMP/nosym.top'"

# Rate 1: every allocation recorded, nothing scaled.
run rate1 HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$prog"
if expect_clean_run rate1; then
    file=$(series "$TMP/rate1" | tail -1)
    values "$file" >"$TMP/rate1.values"
    check_exact "rate 1" "$TMP/rate1.values" "$TMP/rate1.out" leak_a leak_b churn
fi
finish
