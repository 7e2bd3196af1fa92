#!/bin/bash
# Issue 11 defect 3: never profile nothing in silence.
#
# An allocator already in LD_PRELOAD when heapprof is added: the first malloc
# in the search order is the one the program calls.
#   - the heapprof command puts the library first: `LD_PRELOAD=<allocator>
#     heapprof --rate 1 -- allocmix` samples every allocation (over that
#     allocator: marks=addrset), with the program's output and an empty stderr;
#   - preloaded by hand after the allocator (LD_PRELOAD="<allocator>
#     libheapprof.so"), the library prints exactly one "heapprof:" line naming
#     the allocator, and the program's stdout and status are unchanged;
#   - nothing is printed when heapprof comes first, nor at HEAPPROF_RATE=0
#     (sampling off on purpose);
# run over jemalloc, tcmalloc and mimalloc, those installed. And:
#   - a program built without PIE that takes malloc's address (its "malloc"
#     in the global scope is its own PLT stub, as in Debian's python3) is
#     sampled, with nothing printed;
#   - a program with its own malloc family gets one line saying so.
. "$(dirname "$0")/lib.sh"
need_go
H=$RELI_SRC/../../scripts/heapprof
prog=$RELI_BIN/allocmix
libdir=/usr/lib/x86_64-linux-gnu
ran=0

for a in libjemalloc.so.2 libtcmalloc.so.4 libmimalloc.so.2; do
    alloc=$libdir/$a
    [ -f "$alloc" ] || { note "$a not installed (scripts/deps.sh installs it)"; continue; }
    ran=$((ran + 1))
    n=${a%%.so*}
    RC=0
    timeout 60 env LD_PRELOAD="$alloc" "$prog" 10 >"$TMP/$n.plain.out" 2>"$TMP/$n.plain.err" || RC=$?
    [ "$RC" -eq 0 ] || { fail "$n: the program alone exits $RC"; continue; }

    # The command, with the allocator already preloaded.
    RC=0
    timeout 60 env LD_PRELOAD="$alloc" HEAPPROF_LIB="$HEAPPROF_LIB" "$H" -q --rate 1 --interval 0 \
        --out "$TMP/$n.cmd" -- "$prog" 10 >"$TMP/$n.cmd.out" 2>"$TMP/$n.cmd.err" || RC=$?
    check "$n: heapprof command over LD_PRELOAD=$a: exit 0, stdout unchanged (status $RC)" \
        bash -c "[ $RC -eq 0 ] && cmp -s '$TMP/$n.cmd.out' '$TMP/$n.plain.out'"
    check "$n: heapprof command: stderr empty ($(head -c 200 "$TMP/$n.cmd.err"))" test ! -s "$TMP/$n.cmd.err"
    f=$(series "$TMP/$n.cmd" | tail -1)
    if [ -z "$f" ]; then
        fail "$n: heapprof command: no profile written"
    else
        samples=$(comment "$f" samples)
        marks=$(raw "$f" | grep -o 'marks=[a-z]*' | head -1)
        values "$f" >"$TMP/$n.values"
        held=$(truth "$TMP/$n.cmd.out" mix_small inuse_objects)
        got=$(value "$TMP/$n.values" mix_small inuse_objects)
        check "$n: heapprof command: allocations sampled (samples=${samples:-?}, $marks, mix_small holds $got of $held blocks)" \
            bash -c "[ '${samples:-0}' -gt 0 ] && [ '$marks' = marks=addrset ] && [ '$got' = '$held' ]"
    fi

    # By hand, in the wrong order: one line, naming the allocator.
    RC=0
    timeout 60 env HEAPPROF_OUT="$TMP/$n.late" LD_PRELOAD="$alloc $HEAPPROF_LIB" "$prog" 10 \
        >"$TMP/$n.late.out" 2>"$TMP/$n.late.err" || RC=$?
    check "$n: preloaded after $a: exit 0, stdout unchanged (status $RC)" \
        bash -c "[ $RC -eq 0 ] && cmp -s '$TMP/$n.late.out' '$TMP/$n.plain.out'"
    check "$n: preloaded after $a: one heapprof: line naming it ($(head -c 300 "$TMP/$n.late.err"))" \
        bash -c "[ \$(wc -l <'$TMP/$n.late.err') -eq 1 ] && grep -q '^heapprof: .*$a.*nothing will be sampled' '$TMP/$n.late.err'"

    # The right order by hand, and sampling off: silent.
    RC=0
    timeout 60 env HEAPPROF_OUT="$TMP/$n.first" LD_PRELOAD="$HEAPPROF_LIB $alloc" "$prog" 10 \
        >"$TMP/$n.first.out" 2>"$TMP/$n.first.err" || RC=$?
    check "$n: preloaded before $a: exit 0, stderr empty ($(head -c 200 "$TMP/$n.first.err"))" \
        bash -c "[ $RC -eq 0 ] && [ ! -s '$TMP/$n.first.err' ]"
    RC=0
    timeout 60 env HEAPPROF_RATE=0 HEAPPROF_OUT="$TMP/$n.off" LD_PRELOAD="$alloc $HEAPPROF_LIB" "$prog" 10 \
        >"$TMP/$n.off.out" 2>"$TMP/$n.off.err" || RC=$?
    check "$n: after $a at HEAPPROF_RATE=0: exit 0, stderr empty ($(head -c 200 "$TMP/$n.off.err"))" \
        bash -c "[ $RC -eq 0 ] && [ ! -s '$TMP/$n.off.err' ]"
done
[ "$ran" -gt 0 ] || note "none of jemalloc, tcmalloc, mimalloc is installed: only the checks below ran"

# A program built without PIE that takes malloc's address (Debian's python3):
# the global scope's "malloc" is the program's PLT stub, which still jumps to
# heapprof's. Silent, and sampled.
RC=0
timeout 60 env HEAPPROF_RATE=1 HEAPPROF_OUT="$TMP/nopie" LD_PRELOAD="$HEAPPROF_LIB" "$RELI_BIN/nopie_addr" \
    >"$TMP/nopie.out" 2>"$TMP/nopie.err" || RC=$?
f=$(series "$TMP/nopie" | tail -1)
samples=$([ -n "$f" ] && comment "$f" samples)
check "non-PIE program taking malloc's address: exit 0, stderr empty, sampled (status $RC, samples=${samples:-?}: $(head -c 200 "$TMP/nopie.err"))" \
    bash -c "[ $RC -eq 0 ] && [ ! -s '$TMP/nopie.err' ] && [ '${samples:-0}' -ge 100 ]"
if [ -f "$libdir/libjemalloc.so.2" ]; then
    RC=0
    timeout 60 env HEAPPROF_OUT="$TMP/nopie.late" LD_PRELOAD="$libdir/libjemalloc.so.2 $HEAPPROF_LIB" \
        "$RELI_BIN/nopie_addr" >"$TMP/nopie.late.out" 2>"$TMP/nopie.late.err" || RC=$?
    check "non-PIE program, heapprof after jemalloc: one line naming jemalloc ($(head -c 300 "$TMP/nopie.late.err"))" \
        bash -c "[ $RC -eq 0 ] && [ \$(wc -l <'$TMP/nopie.late.err') -eq 1 ] && grep -q '^heapprof: .*libjemalloc.so.2.*nothing will be sampled' '$TMP/nopie.late.err'"
fi

# A program with its own malloc family: nothing can be sampled, one line.
RC=0
timeout 60 env HEAPPROF_OUT="$TMP/own" LD_PRELOAD="$HEAPPROF_LIB" "$RELI_BIN/own_malloc" \
    >"$TMP/own.out" 2>"$TMP/own.err" || RC=$?
check "program with its own malloc: exit 0, stdout kept, one line ($(head -c 300 "$TMP/own.err"))" \
    bash -c "[ $RC -eq 0 ] && grep -qx 'own_malloc: ok' '$TMP/own.out' && [ \$(wc -l <'$TMP/own.err') -eq 1 ] && grep -q '^heapprof: the program has its own malloc' '$TMP/own.err'"
finish
