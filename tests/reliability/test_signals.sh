#!/bin/bash
# malloc and free from a signal handler: a SIGALRM storm (every 50 us) for
# 1.5 s while the main loop allocates and frees at HEAPPROF_RATE=1; the handler
# allocates its own blocks and frees blocks the main thread allocated (so its
# frees can land while main is inside the profiler's recording path). The
# program exits normally with the same stdout shape; at the end every block is
# freed, so no stack of handler_alloc, main_handoff or main_loop_alloc may keep
# bytes in use (a lost FREE would show as a phantom leak), and main's
# allocations are all counted.
. "$(dirname "$0")/lib.sh"
need_go
run sig HEAPPROF_RATE=1 -- "$RELI_BIN/sigstorm" 1.5
if expect_clean_run sig; then
    RELI_ALLOW_UNRECORDED=1
    cat "$TMP/sig.out" | grep signals
    check_profiles sig "$TMP/sig" final
    last=$(series "$TMP/sig" | tail -1)
    raw "$last" | grep '^Comment' | sed 's/^/    /'
    n=$(awk '$1 == "signals" { print $2 }' "$TMP/sig.out")
    check "the storm delivered signals during the run ($n > 1000)" test "${n:-0}" -gt 1000
    leaks=$(nonzero_inuse "$last" '^(handler_alloc|main_handoff|main_loop_alloc)$')
    check "no phantom leak: 0 bytes in use for every stack of the three functions${leaks:+ (got: $(echo "$leaks" | head -3 | tr '\n\t' '/ '))}" \
        test -z "$leaks"
    values "$last" >"$TMP/sig.values"
    for f in main_handoff main_loop_alloc; do
        got=$(value "$TMP/sig.values" $f alloc_objects)
        want=$(truth "$TMP/sig.out" $f alloc_objects)
        check "$f: every allocation counted ($got of $want)" test "$got" = "$want"
    done
    # An allocation made in a handler that interrupted the profiler itself
    # cannot be recorded then; it must at least be counted (unrecorded_samples),
    # never silently missing.
    got=$(value "$TMP/sig.values" handler_alloc alloc_objects)
    unrec=$(comment "$last" unrecorded_samples)
    want=$(truth "$TMP/sig.out" handler_alloc alloc_objects)
    check "handler_alloc: every allocation recorded or counted as unrecorded ($got recorded + ${unrec:-?} unrecorded = $want?)" \
        test $((got + ${unrec:-0})) = "$want"
fi
# Handler allocations that interrupt a sample in progress are counted as
# unrecorded at any rate (they cannot be sampled re-entrantly); still never lost.
RELI_ALLOW_UNRECORDED=1
run sig.default HEAPPROF_RATE=4096 -- "$RELI_BIN/sigstorm" 1
expect_clean_run sig.default && check_profiles sig.4096 "$TMP/sig.default" final
finish
