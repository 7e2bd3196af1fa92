#!/bin/bash
# Every interposed function (malloc calloc realloc reallocarray free
# posix_memalign aligned_alloc memalign valloc pvalloc, malloc_usable_size)
# and glibc's edge cases, checked by the edge program itself (it exits 1 and
# prints FAIL lines on any mismatch). Run without the library first: the
# program must pass on plain glibc, and its output under the library, at
# rate 1 (every call sampled), the default rate and rate 0 (off), must be
# byte-for-byte the same.
. "$(dirname "$0")/lib.sh"
prog=$E2E_BIN/edge

run_plain plain "$prog"
[ "$RC" -eq 0 ] || abort "edge fails on plain glibc (status $RC): $(grep FAIL "$TMP/plain.out")"
pass "edge passes on plain glibc ($(grep -c '^ok' "$TMP/plain.out") checks)"

for rate in 1 default 0; do
    vars=(HEAPPROF_INTERVAL=0)
    [ $rate != default ] && vars+=("HEAPPROF_RATE=$rate")
    run r$rate "${vars[@]}" -- "$prog"
    if expect_clean_run r$rate; then
        pass "rate $rate: every check passes under the library"
    else
        grep FAIL "$TMP/r$rate.out" | sed 's/^/    /'
    fi
    check "rate $rate: output identical to plain glibc" cmp -s "$TMP/plain.out" "$TMP/r$rate.out"
done
# The library really was in the way: at rate 1 every call of main's shows up
# (the errno loop alone makes 3000 allocations).
need_go
f=$(series "$TMP/r1" | tail -1)
[ -n "$f" ] || abort "rate 1: no profile written"
values "$f" >"$TMP/r1.values"
got=$(value "$TMP/r1.values" main alloc_objects)
check "rate 1: main's allocations recorded ($got, want >= 3000)" test "$got" -ge 3000
finish
