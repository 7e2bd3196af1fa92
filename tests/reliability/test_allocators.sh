#!/bin/bash
# Issue 11 defect 2: heapprof over allocators other than glibc's.
#
# gperftools' tcmalloc and mimalloc export __libc_malloc & co. as aliases of
# their own functions; a test by symbol equality took them for glibc, padded
# sampled blocks and made free() read the 16 bytes below every pointer, which
# these allocators need not have mapped (SIGSEGV with TCMALLOC_SKIP_SBRK=true).
#
# progs/allocmix.c (many small, large 256 KiB and page-aligned blocks through
# malloc, calloc, posix_memalign, aligned_alloc, memalign, valloc, realloc)
# runs over tcmalloc linked in (-ltcmalloc) and preloaded after heapprof,
# jemalloc and mimalloc preloaded after heapprof, and glibc, at
# HEAPPROF_RATE=1 and at the default rate. Each run must:
#   - exit 0 with the same stdout and an empty stderr as over that allocator
#     alone (mimalloc 2.0.9 misaligns some aligned_alloc blocks on its own:
#     the program counts that, the count must not change);
#   - say marks=addrset in its profile comments (marks=headers over glibc);
#   - at RATE=1, show in use per function what the program holds at exit:
#     every allocation is sampled with weight 1 (sizes >= 16 bytes), so
#     objects are exact and bytes within 0.01%; at the default rate the
#     estimated total within 20% (~600 samples: about 5 standard errors).
# An allocator that is not installed is skipped (scripts/deps.sh installs them).
. "$(dirname "$0")/lib.sh"
need_go

libdir=/usr/lib/x86_64-linux-gnu
[ -d "$libdir" ] || libdir=$(dirname "$(ldconfig -p | awk '/libc\.so\.6 / { print $NF; exit }')")
tcmalloc=$libdir/libtcmalloc.so.4
jemalloc=$libdir/libjemalloc.so.2
mimalloc=$libdir/libmimalloc.so.2
funcs="mix_small mix_calloc mix_large mix_posix_memalign mix_aligned_alloc mix_memalign mix_valloc mix_grow"

# one NAME MARKS PRELOAD_AFTER PROGRAM: the checks above for one allocator.
one() {
    local name=$1 want=$2 after=$3 prog=$4
    # TCMALLOC_SKIP_SBRK: tcmalloc maps every span (the crash's condition);
    # the other allocators ignore it.
    local env=(TCMALLOC_SKIP_SBRK=true)
    RC=0
    timeout 60 env "${env[@]}" ${after:+LD_PRELOAD="$after"} "$prog" >"$TMP/$name.plain.out" 2>"$TMP/$name.plain.err" || RC=$?
    [ "$RC" -eq 0 ] || { fail "$name: the program alone exits $RC: $(head -c 300 "$TMP/$name.plain.err")"; return; }
    local rate
    for rate in 1 default; do
        local n=$name.$rate rv=()
        [ "$rate" = 1 ] && rv=(HEAPPROF_RATE=1)
        RC=0
        timeout 60 env "${env[@]}" ${rv[@]+"${rv[@]}"} HEAPPROF_INTERVAL=0 HEAPPROF_OUT="$TMP/$n" \
            LD_PRELOAD="$HEAPPROF_LIB${after:+ $after}" "$prog" >"$TMP/$n.out" 2>"$TMP/$n.err" || RC=$?
        if [ "$RC" -ne 0 ]; then
            fail "$n: exit status $RC$( [ "$RC" -eq 139 ] && echo ' (SIGSEGV)') (stderr: $(head -c 300 "$TMP/$n.err"))"
            continue
        fi
        check "$n: exit 0, stdout as over $name alone ($(grep misaligned "$TMP/$n.out"))" \
            cmp -s "$TMP/$n.out" "$TMP/$name.plain.out"
        check "$n: stderr empty ($(head -c 200 "$TMP/$n.err"))" test ! -s "$TMP/$n.err"
        local f
        f=$(series "$TMP/$n" | tail -1)
        [ -n "$f" ] || { fail "$n: no profile written"; continue; }
        local marks
        marks=$(raw "$f" | grep -o 'marks=[a-z]*' | head -1)
        check "$n: $marks in the profile comments (want marks=$want)" test "$marks" = "marks=$want"
        check_profiles "$n" "$TMP/$n" final
        values "$f" >"$TMP/$n.values"
        local fn bad=0 total_truth=0 total_prof=0
        for fn in $funcs; do
            local to tb po pb
            to=$(truth "$TMP/$n.out" "$fn" inuse_objects)
            tb=$(truth "$TMP/$n.out" "$fn" inuse_space)
            po=$(value "$TMP/$n.values" "$fn" inuse_objects)
            pb=$(value "$TMP/$n.values" "$fn" inuse_space)
            total_truth=$((total_truth + tb))
            total_prof=$((total_prof + pb))
            [ "$rate" = 1 ] || continue
            if [ "$po" != "$to" ] || ! within "$pb" "$tb" 0.01; then
                fail "$n: $fn in use: profile $po objects $pb bytes, program holds $to objects $tb bytes ($(pct "$pb" "$tb"))"
                bad=$((bad + 1))
            fi
        done
        if [ "$rate" = 1 ]; then
            [ "$bad" -eq 0 ] && pass "$n: in use per function as the program holds ($total_prof bytes in the profile, $total_truth held, $(pct "$total_prof" "$total_truth"))"
        else
            check "$n: in use $total_prof bytes estimated, $total_truth held ($(pct "$total_prof" "$total_truth"), at most 20% off)" \
                within "$total_prof" "$total_truth" 20
        fi
    done
}

prog=$RELI_BIN/allocmix
one glibc headers "" "$prog"
ran=0
if [ -x "$RELI_BIN/allocmix_tc" ]; then
    one tcmalloc-linked addrset "" "$RELI_BIN/allocmix_tc"
    ran=$((ran + 1))
else
    note "tcmalloc-linked: not built (no libtcmalloc at configure time; Debian: libgoogle-perftools-dev)"
fi
for a in tcmalloc jemalloc mimalloc; do
    lib=${!a}
    if [ -f "$lib" ]; then
        one "$a" addrset "$lib" "$prog"
        ran=$((ran + 1))
    else
        note "$a: $lib not installed (scripts/deps.sh installs it)"
    fi
done
[ "$ran" -gt 0 ] || skip "none of tcmalloc, jemalloc, mimalloc is installed"
finish
