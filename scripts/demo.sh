#!/bin/bash
# The leak hunt of the README, end to end, in about a minute: builds heapprof
# and the leaky demo, runs the demo under heapprof with dumps every 2 s, then
# compares the first and the last dump, as the Go guide does with
#   go tool pprof -base initial.heap time1.heap
# and prints the diff with the leaking function, recur, on top.
set -u
cd "$(dirname "$0")/.." || exit 1
# graphviz is not needed here: only `heapprof diff --svg` (and pprof's graph view) draw with dot.
scripts/deps.sh build-essential g++ cmake pkg-config libunwind-dev zlib1g-dev golang-go || exit 1
# HEAPPROF_BUILD_DIR: where to build (default build-demo)
build=${HEAPPROF_BUILD_DIR:-build-demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null &&
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target heapprof leaky-demo >/dev/null ||
    { echo "demo: build failed (run: cmake --build $build)" >&2; exit 1; }

out=$build/profiles
rm -rf "$out" && mkdir -p "$out"
hp=scripts/heapprof
demo=$build/examples/leaky-demo
run=("$hp" --interval 2 --rate 65536 --out "$out/leaky" -- "$demo" --period 0.1 --max-threads 32 --run-time 12)
echo "\$ ${run[*]}"
HEAPPROF_LIB=$build/libheapprof.so "${run[@]}" || { echo "demo: the demo failed" >&2; exit 1; }

first=$(ls "$out"/leaky.*.0001.pb.gz 2>/dev/null | head -1)
last=$("$hp" latest "$out/leaky") || exit 1
[ -n "$first" ] || { echo "demo: no profiles in $out" >&2; exit 1; }
echo
echo "\$ $hp diff $first $last"
"$hp" diff "$first" "$last" || exit 1
echo
echo "Next: the leaking lines (the binary has debug info) and a graph:"
echo "  go tool pprof -list recur -base $first $demo $last"
echo "  $hp diff --svg leak.svg $first $last   (needs graphviz)"
echo "  $hp web $last $first                  (flame graph in a browser)"
