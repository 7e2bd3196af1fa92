#!/bin/bash
# issue 13, HEAPPROF_LEAK_REPORT=1: at exit, a table on stderr of the stacks
# still in use, with the final dump's numbers: for each leaf function the
# bytes and objects of the report's rows add up to exactly what
# `go tool pprof` reads from the final dump (inuse_space, inuse_objects).
# Every line is a "heapprof:" line; stdout and the exit status are the
# program's; without the variable, no report.
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/known_leaks

run_plain plain "$prog"
run report HEAPPROF_RATE=65536 HEAPPROF_SEED=7 HEAPPROF_LEAK_REPORT=1 -- "$prog"
check "exit status 0 (got $RC)" test "$RC" = 0
check "stdout is the program's own (same lines as without the library)" \
    bash -c "[ \"\$(sed 's/=.*//' '$TMP/report.out')\" = \"\$(sed 's/=.*//' '$TMP/plain.out')\" ]"
check "every stderr line is a heapprof: line" bash -c "! grep -v '^heapprof: ' '$TMP/report.err'"
final=$(series "$TMP/report" | tail -1)
check "the report names the final dump" grep -q "leak report: .* still in use at exit, .*as in $final)" "$TMP/report.err"
# Rows: "heapprof: BYTES OBJECTS leaf < caller < ..."
awk '$1 == "heapprof:" && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { b[$4] += $2; o[$4] += $3 }
     END { for (f in b) printf "%s\t%d\t%d\n", f, b[f], o[f] }' "$TMP/report.err" | sort >"$TMP/report.rows"
check "the report lists leak_a and leak_b, not churn (freed)" \
    bash -c "grep -q '^leak_a' '$TMP/report.rows' && grep -q '^leak_b' '$TMP/report.rows' && ! grep -q '^churn' '$TMP/report.rows'"
values "$final" >"$TMP/final.values"
while IFS=$'\t' read -r f bytes objects; do
    check "$f: report $bytes bytes = final dump's inuse_space $(value "$TMP/final.values" "$f" inuse_space)" \
        test "$bytes" = "$(value "$TMP/final.values" "$f" inuse_space)"
    check "$f: report $objects objects = final dump's inuse_objects $(value "$TMP/final.values" "$f" inuse_objects)" \
        test "$objects" = "$(value "$TMP/final.values" "$f" inuse_objects)"
done <"$TMP/report.rows"
total=$(awk -F'\t' '{ s += $5 } END { printf "%d", s }' "$TMP/final.values")
check "the first line's total is the dump's in-use total ($total)" \
    grep -q "still in use at exit, $total bytes in" "$TMP/report.err"

run quiet HEAPPROF_RATE=65536 -- "$prog"
expect_clean_run quiet && pass "without HEAPPROF_LEAK_REPORT: nothing on stderr"

finish
