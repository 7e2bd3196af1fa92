#!/bin/bash
# Every interposed function (malloc calloc realloc reallocarray free
# posix_memalign aligned_alloc memalign valloc pvalloc, malloc_usable_size)
# and glibc's edge cases, checked by the edge program itself (it exits 1 and
# prints FAIL lines on any mismatch). Run without the library first: the
# program must pass on plain glibc, and its output under the library, at
# rate 1 (every call sampled), 64 (a mix: realloc crosses between sampled and
# unsampled, padded and not), the default rate and rate 0 (off), must be
# byte-for-byte the same. All of it in both ways of marking sampled blocks:
# padded blocks (the default over glibc) and the address set
# (HEAPPROF_HEADERS=0), and with jemalloc underneath when it is installed
# (the address set is then chosen on its own).
. "$(dirname "$0")/lib.sh"
prog=$E2E_BIN/edge

run_plain plain "$prog"
[ "$RC" -eq 0 ] || abort "edge fails on plain glibc (status $RC): $(grep FAIL "$TMP/plain.out")"
pass "edge passes on plain glibc ($(grep -c '^ok' "$TMP/plain.out") checks)"

for headers in 1 0; do
    for rate in 1 64 default 0; do
        name=h${headers}r$rate
        vars=(HEAPPROF_INTERVAL=0 HEAPPROF_HEADERS=$headers)
        [ $rate != default ] && vars+=("HEAPPROF_RATE=$rate")
        run $name "${vars[@]}" -- "$prog"
        if expect_clean_run $name; then
            pass "headers=$headers rate $rate: every check passes under the library"
        else
            grep FAIL "$TMP/$name.out" | sed 's/^/    /'
        fi
        check "headers=$headers rate $rate: output identical to plain glibc" \
            cmp -s "$TMP/plain.out" "$TMP/$name.out"
    done
done

# jemalloc underneath (loaded after us, so RTLD_NEXT finds it): the part of
# the program every allocator supports (the realloc chains over the aligned
# family), compared with the same on jemalloc alone.
jemalloc=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -1)
if [ -n "$jemalloc" ]; then
    RC=0
    timeout 60 env LD_PRELOAD="$jemalloc" "$prog" --portable >"$TMP/je.out" 2>"$TMP/je.err" || RC=$?
    check "edge on jemalloc alone exits 0" test "$RC" -eq 0
    for rate in 1 64; do
        RC=0
        timeout 60 env HEAPPROF_OUT="$TMP/je$rate" HEAPPROF_RATE=$rate HEAPPROF_INTERVAL=0 \
            LD_PRELOAD="$HEAPPROF_LIB $jemalloc" "$prog" --portable >"$TMP/je$rate.out" 2>"$TMP/je$rate.err" || RC=$?
        check "jemalloc underneath, rate $rate: exit 0 (stderr: $(head -c 200 "$TMP/je$rate.err"))" test "$RC" -eq 0
        check "jemalloc underneath, rate $rate: output identical to jemalloc alone" \
            cmp -s "$TMP/je.out" "$TMP/je$rate.out"
    done
else
    echo "skip: libjemalloc.so.2 not installed (scripts/deps.sh installs it)"
fi

# Which way blocks were marked, from the final profile's comments.
need_go
marks_of() {
    local f
    f=$(series "$TMP/$1" | tail -1)
    [ -n "$f" ] && go tool pprof -raw "$f" 2>/dev/null | sed -n 's/^Comment: .* marks=\([a-z]*\).*/\1/p' | head -1
}
check "glibc underneath: sampled blocks carry headers (marks=$(marks_of h1r1))" test "$(marks_of h1r1)" = headers
check "HEAPPROF_HEADERS=0: the address set (marks=$(marks_of h0r1))" test "$(marks_of h0r1)" = addrset
if [ -n "$jemalloc" ]; then
    check "jemalloc underneath: the address set, chosen on its own (marks=$(marks_of je1))" \
        test "$(marks_of je1)" = addrset
fi
# The library really was in the way: at rate 1 every call of main's shows up
# (the errno loop alone makes 3000 allocations).
need_go
f=$(series "$TMP/h1r1" | tail -1)
[ -n "$f" ] || abort "rate 1: no profile written"
values "$f" >"$TMP/r1.values"
got=$(value "$TMP/r1.values" main alloc_objects)
check "rate 1: main's allocations recorded ($got, want >= 3000)" test "$got" -ge 3000
finish
