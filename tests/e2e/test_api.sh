#!/bin/bash
# The public API (include/heapprof.h) from a program that declares it weak:
#   - without heapprof the program runs and notices the functions are absent
#   - preloaded, and linked with -lheapprof (no preload): heapprof_get_stats,
#     heapprof_dump (a readable profile; ENOENT for a missing folder, EINVAL
#     for NULL), heapprof_set_rate (returns the old rate; at rate 1 the later
#     allocations are counted exactly)
. "$(dirname "$0")/lib.sh"
need_go

run_plain plain "$E2E_BIN/api_demo" "$TMP/x1.pb.gz" "$TMP/x2.pb.gz"
check "without heapprof: exit 0, reports it is not loaded" \
    bash -c "[ $RC = 0 ] && grep -q '^api heapprof not loaded$' '$TMP/plain.out'"

api_checks() { # NAME: checks the output and the two dumps of one run
    local name=$1 out=$TMP/$1.out
    check "$name: exit 0 (got $RC; stderr: $(head -c 200 "$TMP/$name.err"))" test "$RC" = 0
    check "$name: heapprof_get_stats -> 0, rate 65536" grep -q '^api stats r=0 rate=65536 ' "$out"
    local live
    live=$(awk '$2 == "stats" { for (i = 3; i <= NF; i++) if ($i ~ /^live_bytes=/) { sub(/.*=/, "", $i); print $i } }' "$out")
    check "$name: live_bytes_estimate $live within 40% of the 4 MiB kept" within "${live:-0}" 4194304 40
    check "$name: own_bytes reported" grep -Eq '^api stats .* own_bytes=[1-9]' "$out"
    check "$name: heapprof_dump -> 0" grep -q '^api dump1 r=0$' "$out"
    check "$name: heapprof_dump into a missing folder -> ENOENT" grep -Eq '^api dump_bad r=([0-9]+) enoent=\1$' "$out"
    check "$name: heapprof_dump(NULL) -> EINVAL" grep -Eq '^api dump_null r=([0-9]+) einval=\1$' "$out"
    check "$name: heapprof_get_stats(NULL) -> EINVAL" grep -q '^api stats_null r=22$' "$out"
    check "$name: heapprof_set_rate returns the old rate" grep -q '^api set_rate old=65536 again=1$' "$out"
    check "$name: stats after set_rate: rate 1" grep -q '^api stats2 r=0 rate=1 ' "$out"
    values "$TMP/$name.1.pb.gz" >"$TMP/$name.v1"
    local got
    got=$(value "$TMP/$name.v1" leak_for_api inuse_space)
    check "$name: dump 1 holds leak_for_api ($got bytes, want 4 MiB +-40%)" within "$got" 4194304 40
    values "$TMP/$name.2.pb.gz" >"$TMP/$name.v2"
    check "$name: at rate 1, after_rate_change counted exactly (10 objects, 1000 bytes)" \
        test "$(value "$TMP/$name.v2" after_rate_change inuse_objects) $(value "$TMP/$name.v2" after_rate_change inuse_space)" = "10 1000"
}

run pre HEAPPROF_RATE=65536 HEAPPROF_SEED=11 -- "$E2E_BIN/api_demo" "$TMP/pre.1.pb.gz" "$TMP/pre.2.pb.gz"
api_checks pre

run_plain linked env HEAPPROF_RATE=65536 HEAPPROF_SEED=11 HEAPPROF_OUT="$TMP/linked" \
    "$E2E_BIN/api_demo_linked" "$TMP/linked.1.pb.gz" "$TMP/linked.2.pb.gz"
api_checks linked
finish
