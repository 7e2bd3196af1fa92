#!/bin/bash
# Blocks that change hands.
#   Cross-thread frees: xt_produce's blocks are all freed by another thread, so
#   its inuse_space must be < 1% of its alloc_space (exactly 0 at rate 1) while
#   its alloc_space and xt_keep's inuse_space stay within +-10% at rate 65536.
#   Realloc chains: 40 blocks grown 100 times by grow_chain: in use only the
#   final sizes (+-10% at rate 65536, exact at rate 1), attributed to
#   grow_chain (the caller of realloc); at rate 1 each realloc counts as one
#   allocation (alloc_objects = 4000) and the replaced blocks as freed.
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/xthread

for rate in 65536 1; do
    name=xthread$rate
    run $name HEAPPROF_RATE=$rate HEAPPROF_SEED=11 HEAPPROF_INTERVAL=0 -- "$prog" xthread
    if expect_clean_run $name; then
        values "$(series "$TMP/$name" | tail -1)" >"$TMP/$name.values"
        inuse=$(value "$TMP/$name.values" xt_produce inuse_space)
        alloc=$(value "$TMP/$name.values" xt_produce alloc_space)
        want=$(truth "$TMP/$name.out" xt_produce alloc_space)
        if [ $rate = 1 ]; then
            check "rate 1: xt_produce blocks freed on another thread: inuse_space $inuse = 0" test "$inuse" = 0
            check "rate 1: xt_produce alloc_space $alloc = $want" test "$alloc" = "$want"
        else
            check "rate $rate: xt_produce freed on another thread: inuse_space $inuse < 1% of $want" \
                awk -v g="$inuse" -v a="$want" 'BEGIN { exit !(g < a / 100) }'
            check "rate $rate: xt_produce alloc_space $alloc vs $want ($(pct "$alloc" "$want"), limit 10%)" \
                within "$alloc" "$want" 10
        fi
        got=$(value "$TMP/$name.values" xt_keep inuse_space)
        want=$(truth "$TMP/$name.out" xt_keep inuse_space)
        tol=10; [ $rate = 1 ] && tol=0
        check "rate $rate: xt_keep inuse_space $got vs $want ($(pct "$got" "$want"), limit $tol%)" \
            within "$got" "$want" $tol
    fi

    name=realloc$rate
    run $name HEAPPROF_RATE=$rate HEAPPROF_SEED=12 HEAPPROF_INTERVAL=0 -- "$prog" realloc
    if expect_clean_run $name; then
        values "$(series "$TMP/$name" | tail -1)" >"$TMP/$name.values"
        if [ $rate = 1 ]; then
            for c in inuse_objects inuse_space alloc_objects alloc_space; do
                got=$(value "$TMP/$name.values" grow_chain $c)
                want=$(truth "$TMP/$name.out" grow_chain $c)
                check "rate 1: grow_chain $c = $want exactly (got $got)" test "$got" = "$want"
            done
        else
            for c in inuse_space alloc_space; do
                got=$(value "$TMP/$name.values" grow_chain $c)
                want=$(truth "$TMP/$name.out" grow_chain $c)
                check "rate $rate: grow_chain $c $got vs $want ($(pct "$got" "$want"), limit 10%)" \
                    within "$got" "$want" 10
            done
        fi
        # Nothing else may claim the chain's memory (e.g. a "realloc" leaf).
        other=$(awk -F'\t' '$1 != "grow_chain" { s += $5 } END { printf "%d\n", s }' "$TMP/$name.values")
        want=$(truth "$TMP/$name.out" grow_chain inuse_space)
        check "rate $rate: other functions hold $other B in use, < 5% of the chains' $want B" \
            awk -v g="$other" -v a="$want" 'BEGIN { exit !(g < a / 20) }'
    fi
done
finish
