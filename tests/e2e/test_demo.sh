#!/bin/bash
# The README walkthrough on the leaky demo: run it under the heapprof command
# with a short period, diff the first and the last dump, and find recur on
# top; `list recur` with the binary shows recur's source lines; `--svg` writes
# a graph naming recur. Also the demo itself: --help, bad flags, exit 0.
. "$(dirname "$0")/lib.sh"
need_go
H=${HEAPPROF_SCRIPT:?set HEAPPROF_SCRIPT to scripts/heapprof}
demo=${LEAKY_DEMO:?set LEAKY_DEMO to the leaky-demo binary}

check "leaky-demo --help exits 0" bash -c "'$demo' --help >/dev/null"
RC=0; "$demo" --period nope >/dev/null 2>&1 || RC=$?
check "leaky-demo --period nope exits 2 (got $RC)" test "$RC" = 2

RC=0
timeout 60 "$H" --interval 0.5 --rate 16384 --out "$TMP/demo" -- \
    "$demo" --period 0.02 --max-threads 16 --run-time 3 >"$TMP/demo.out" 2>"$TMP/demo.err" || RC=$?
check "demo under heapprof exits 0 (got $RC; stderr: $(head -c 300 "$TMP/demo.err"))" test "$RC" = 0
check "demo prints its startup line" grep -q 'Memory Leak Test Program' "$TMP/demo.out"
mapfile -t files < <(series "$TMP/demo")
[ "${#files[@]}" -ge 3 ] || abort "only ${#files[@]} dumps from a 3 s run at --interval 0.5"
first=${files[0]}
last=${files[${#files[@]} - 1]}

RC=0
"$H" diff "$first" "$last" >"$TMP/diff.out" 2>"$TMP/diff.err" || RC=$?
top=$(awk '/flat%/ { body = 1; next } body && NF >= 6 { print $NF; exit }' "$TMP/diff.out")
check "heapprof diff FIRST LAST: recur on top (got '$top')" test "$top" = recur
check "heapprof diff: recur's growth is positive" \
    bash -c "awk '/flat%/ { body = 1; next } body && \$NF == \"recur\" { exit !(\$1 !~ /^-/ && \$1 != \"0\") }' '$TMP/diff.out'"

RC=0
"$H" top "$last" >"$TMP/top.out" 2>&1 || RC=$?
top=$(awk '/flat%/ { body = 1; next } body && NF >= 6 { print $NF; exit }' "$TMP/top.out")
check "heapprof top LAST: recur on top (got '$top')" test "$top" = recur
check "heapprof latest PREFIX: the last dump" test "$("$H" latest "$TMP/demo")" = "$last"

# The seed guide's form, with the binary: -list shows the leaking lines.
go tool pprof -list 'recur' -sample_index=inuse_space -base "$first" "$demo" "$last" >"$TMP/list.out" 2>&1
check "go tool pprof -list recur BINARY shows recur's source (leaky.c)" \
    grep -qE 'ROUTINE =+ recur in .*leaky\.c' "$TMP/list.out"
check "-list shows the malloc line of the growing copy" grep -qE 'malloc\(\(strarr\.len \+ 1\)' "$TMP/list.out"

RC=0
"$H" diff --list recur "$first" "$last" "$demo" >"$TMP/hplist.out" 2>&1 || RC=$?
check "heapprof diff --list recur OLD NEW BINARY shows recur's source" \
    bash -c "[ $RC = 0 ] && grep -qE 'ROUTINE =+ recur in .*leaky\.c' '$TMP/hplist.out'"

if command -v dot >/dev/null; then
    RC=0
    "$H" diff --svg "$TMP/leak.svg" "$first" "$last" >/dev/null 2>&1 || RC=$?
    check "heapprof diff --svg writes an SVG naming recur" \
        bash -c "[ $RC = 0 ] && grep -q '<svg' '$TMP/leak.svg' && grep -q 'recur' '$TMP/leak.svg'"
else
    fail "graphviz 'dot' not on PATH: cannot check --svg (Debian: apt-get install graphviz)"
fi
finish
