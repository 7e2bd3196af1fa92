#!/bin/bash
# Bad configuration never breaks the host program:
#   - each bad HEAPPROF_* value prints exactly one line, starting "heapprof:"
#     and naming the variable; stdout and exit status are unchanged and the
#     profiler still writes a profile with the defaults
#   - two bad variables: exactly two lines
#   - an unwritable HEAPPROF_OUT (parent is a regular file; parent missing),
#     with dumps every 0.2 s: exactly one "heapprof:" line for the whole run,
#     stdout and exit status (3) unchanged
. "$(dirname "$0")/lib.sh"
prog=$E2E_BIN/tiny

run_plain plain "$prog" 0
# lines_ok NAME COUNT VAR: stderr has exactly COUNT lines, all "heapprof:" ones,
# each naming VAR (when given).
lines_ok() {
    local err=$TMP/$1.err
    [ "$(wc -l <"$err")" -eq "$2" ] || return 1
    [ "$(grep -c '^heapprof: ' "$err")" -eq "$2" ] || return 1
    [ -z "${3:-}" ] || [ "$(grep -c "$3" "$err")" -eq "$2" ]
}

i=0
while IFS='|' read -r var val; do
    i=$((i + 1))
    name=bad$i
    run $name HEAPPROF_INTERVAL=0 "$var=$val" -- "$prog" 0
    check "$var=\"$val\": one heapprof: line ($(head -c 300 "$TMP/$name.err" | tr '\n' '/'))" lines_ok $name 1 "$var"
    check "$var=\"$val\": exit status 0 and stdout unchanged" \
        bash -c "[ $RC = 0 ] && cmp -s '$TMP/plain.out' '$TMP/$name.out'"
    check "$var=\"$val\": a profile is still written" test -n "$(series "$TMP/$name" | tail -1)"
done <<'EOF_CASES'
HEAPPROF_RATE|abc
HEAPPROF_RATE|-5
HEAPPROF_RATE|1e99
HEAPPROF_RATE|
HEAPPROF_RATE|99999999999999999999999
HEAPPROF_DEPTH|abc
HEAPPROF_DEPTH|-1
HEAPPROF_DEPTH|1000
HEAPPROF_INTERVAL|abc
HEAPPROF_INTERVAL|-1
HEAPPROF_INTERVAL|1.2.3
HEAPPROF_SEED|xyz
HEAPPROF_SEED|-5
EOF_CASES

run two HEAPPROF_RATE=abc HEAPPROF_DEPTH=zz HEAPPROF_INTERVAL=0 -- "$prog" 0
check "two bad variables: exactly two heapprof: lines" lines_ok two 2

run_plain plain3 "$prog" 3 700
mkdir -p "$TMP/out"
: >"$TMP/out/afile"
for target in "$TMP/out/afile/prof" "$TMP/out/missing/prof"; do
    name=unwritable$((++i))
    run $name HEAPPROF_OUT="$target" HEAPPROF_INTERVAL=0.2 -- "$prog" 3 700
    check "HEAPPROF_OUT=$target: exactly one heapprof: line ($(head -c 300 "$TMP/$name.err" | tr '\n' '/'))" \
        lines_ok $name 1
    check "HEAPPROF_OUT=$target: exit status 3 passed through (got $RC)" test "$RC" = 3
    check "HEAPPROF_OUT=$target: stdout unchanged" cmp -s "$TMP/plain3.out" "$TMP/$name.out"
done
check "nothing left behind in the output folder (temp files)" \
    test "$(find "$TMP/out" -mindepth 1 | wc -l)" = 1
finish
