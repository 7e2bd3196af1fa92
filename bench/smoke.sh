#!/bin/sh
# bench.smoke: the benchmark programs still build and run (no timing checks).
# usage: smoke.sh <bench-workload> <bench-micro>   with HEAPPROF_LIB set.
set -eu
workload=$1
micro=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$workload" -t 2 -n 2000 -l 64 | grep -q 'ns_per_iter='
# Every allocation sampled: the slowest path, and a profile must come out.
HEAPPROF_OUT="$out/hp" HEAPPROF_RATE=1 LD_PRELOAD="$HEAPPROF_LIB" "$workload" -t 2 -n 2000 -l 64 \
    | grep -q 'ns_per_iter='
ls "$out"/hp.*.pb.gz >/dev/null
"$micro" --quick >"$out/micro.txt"
grep -q 'Flusher' "$out/micro.txt"
echo "bench.smoke: ok"
