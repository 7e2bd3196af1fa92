#!/bin/bash
# The heapprof command (scripts/heapprof):
#   - run form: sets HEAPPROF_* from its options, puts the library first in
#     LD_PRELOAD (keeping what is there: issue 11 defect 3), keeps the
#     program's stdout and exit status (7)
#   - finds the library relative to itself in an installed layout
#     (PREFIX/bin/heapprof + PREFIX/lib/libheapprof.so) without HEAPPROF_LIB
#   - errors are one "heapprof:" line with status 127 (no such program), 126
#     (not executable) or 2 (unknown option, bad value, unreadable profile,
#     no go on PATH)
#   - top / diff / latest on real profiles
. "$(dirname "$0")/lib.sh"
need_go
H=${HEAPPROF_SCRIPT:?set HEAPPROF_SCRIPT to scripts/heapprof}
prog=$E2E_BIN/tiny

run_plain plain "$prog" 7
# hp NAME ARGS...: runs the command (stdout, stderr to files), RC = status.
hp() {
    local name=$1
    shift
    RC=0
    timeout 60 "$H" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
}
one_line() { # one_line NAME STATUS: failed with STATUS and one heapprof: line
    [ "$RC" = "$2" ] && [ "$(wc -l <"$TMP/$1.err")" = 1 ] && grep -q '^heapprof: ' "$TMP/$1.err"
}

hp run --rate 1 --interval 0 --out "$TMP/cmd" --seed 3 --depth 32 -- "$prog" 7
check "exit status 7 passed through (got $RC)" test "$RC" = 7
check "stdout unchanged" cmp -s "$TMP/plain.out" "$TMP/run.out"
file=$(series "$TMP/cmd" | tail -1)
check "profile written under --out" test -n "$file"
if [ -n "$file" ]; then
    check "--rate 1 reached the library (Period: 1)" grep -qx 'Period: 1' <(go tool pprof -raw "$file" 2>/dev/null)
    values "$file" >"$TMP/run.values"
    check "tiny_alloc's 100 blocks counted (rate 1)" test "$(value "$TMP/run.values" tiny_alloc inuse_objects)" = 100
fi
hp env --quiet -- env
check "--quiet: nothing on stderr" test ! -s "$TMP/env.err"
check "LD_PRELOAD set to the library" grep -qx "LD_PRELOAD=$(readlink -f "$HEAPPROF_LIB")" "$TMP/env.out"
RC=0
LD_PRELOAD=libm.so.6 "$H" -q -- env >"$TMP/env2.out" 2>&1 || RC=$?
check "existing LD_PRELOAD kept, library put first" \
    grep -qx "LD_PRELOAD=$(readlink -f "$HEAPPROF_LIB"):libm.so.6" "$TMP/env2.out"

# Installed layout: PREFIX/bin/heapprof finds PREFIX/lib/libheapprof.so.
mkdir -p "$TMP/prefix/bin" "$TMP/prefix/lib"
cp "$H" "$TMP/prefix/bin/heapprof"
cp "$HEAPPROF_LIB" "$TMP/prefix/lib/libheapprof.so"
RC=0
(unset HEAPPROF_LIB; "$TMP/prefix/bin/heapprof" -q -- env) >"$TMP/inst.out" 2>"$TMP/inst.err" || RC=$?
check "installed layout: library found in ../lib (status $RC)" \
    grep -qx "LD_PRELOAD=$TMP/prefix/lib/libheapprof.so" "$TMP/inst.out"

# Errors.
hp nf1 -- no-such-program-heapprof-e2e
check "unknown program: status 127, one line ($(cat "$TMP/nf1.err"))" one_line nf1 127
hp nf2 -- "$TMP/missing/prog"
check "missing path: status 127, one line" one_line nf2 127
hp nx -- "$TMP/cmd.out.none" 2>/dev/null
: >"$TMP/noexec"
hp nx -- "$TMP/noexec"
check "not executable: status 126, one line ($(cat "$TMP/nx.err"))" one_line nx 126
hp bad1 --frobnicate -- "$prog"
check "unknown option: status 2, one line ($(cat "$TMP/bad1.err"))" one_line bad1 2
hp bad2 --rate lots -- "$prog"
check "bad --rate: status 2, one line ($(cat "$TMP/bad2.err"))" one_line bad2 2
hp bad3 --interval
check "option without value: status 2, one line" one_line bad3 2
hp d1 diff "$TMP/nope.pb.gz" "$file"
check "diff of a missing profile: status 2, one line ($(cat "$TMP/d1.err"))" one_line d1 2
echo "not a profile" >"$TMP/junk.pb.gz"
hp d2 diff "$TMP/junk.pb.gz" "$file"
check "diff of a corrupt profile: status 2, one line ($(cat "$TMP/d2.err"))" one_line d2 2
hp d3 top "$TMP/junk.pb.gz"
check "top of a corrupt profile: status 2, one line" one_line d3 2

# No go on PATH: a PATH holding only what the script itself needs.
mkdir -p "$TMP/nogo"
for t in bash mktemp grep head rm readlink dirname cat; do ln -sf "$(type -P $t)" "$TMP/nogo/$t"; done
RC=0
PATH=$TMP/nogo "$TMP/nogo/bash" "$H" top "$file" >"$TMP/nogo.out" 2>"$TMP/nogo.err" || RC=$?
check "top without go: status 2, one line naming go ($(cat "$TMP/nogo.err"))" \
    bash -c "[ $RC = 2 ] && [ \$(wc -l <'$TMP/nogo.err') = 1 ] && grep -q \"^heapprof: .*'go'\" '$TMP/nogo.err'"

# Reading profiles.
if [ -n "$file" ]; then
    hp top top "$file"
    check "top: tiny_alloc listed first ($(awk '/flat%/ { getline; print; exit }' "$TMP/top.out"))" \
        bash -c "[ $RC = 0 ] && awk '/flat%/ { getline; exit !(\$NF == \"tiny_alloc\") }' '$TMP/top.out'"
    hp diff0 diff "$file" "$file"
    check "diff of a profile with itself: nothing grows" \
        bash -c "[ $RC = 0 ] && grep -q 'accounting for 0, 0% of 0 total' '$TMP/diff0.out'"
    hp latest latest "$TMP/cmd"
    check "latest: the newest file ($(cat "$TMP/latest.out"))" test "$(cat "$TMP/latest.out")" = "$file"
fi
finish
