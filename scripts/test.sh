#!/bin/bash
# Builds heapprof and runs every test: the README's test command, and CI's.
#   1. RelWithDebInfo build with -Werror, all tests (unit + end-to-end)
#   2. unit tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   3. unit tests built with ThreadSanitizer
#   4. libFuzzer targets (clang), each run for a bounded time (ctest -L fuzz)
#   5. peer suite: CPython's own regression tests under the library of stage 1,
#      compared test by test with a plain run (tests/peer/run_cpython.sh)
# Build folders: build-test, build-asan, build-tsan, build-fuzz (prefix:
# HEAPPROF_BUILD_ROOT, default "build"). Missing Debian packages are installed first.
# Exit status 0 only if every stage passed.
set -u
cd "$(dirname "$0")/.." || exit 1
scripts/deps.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
root=${HEAPPROF_BUILD_ROOT:-build}
results=()
failed=0

# stage NAME BUILD_DIR CTEST_ARGS -- CMAKE_ARGS...
# Variables set on the call apply to that stage only (bash exports them to the
# function's commands): CC/CXX pick the compiler of a fresh build folder, and
# build_targets limits what is built (default: everything).
stage() {
    local name=$1 dir=$2 ctest_args=$3
    shift 4
    echo "=== $name ==="
    local start=$SECONDS status=PASS
    if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPPROF_WERROR=ON "$@"; then
        status="FAIL (configure)"
    elif ! cmake --build "$dir" -j "$jobs" ${build_targets:+--target $build_targets}; then
        status="FAIL (build)"
    elif ! (cd "$dir" && ctest --output-on-failure -j "$jobs" $ctest_args); then
        status="FAIL (tests)"
    fi
    [ "$status" = PASS ] || failed=1
    results+=("$(printf '%-32s %-18s %4ds' "$name" "$status" $((SECONDS - start)))")
}

stage "all tests (-Werror)" "${root}-test" "" -- -DHEAPPROF_SANITIZE=
stage "unit tests, address,undefined" "${root}-asan" "-L unit" -- -DHEAPPROF_SANITIZE=address,undefined
stage "unit tests, thread" "${root}-tsan" "-L unit" -- -DHEAPPROF_SANITIZE=thread
# libFuzzer is clang's; only the fuzzers are built (the rest of the project is
# built and tested with gcc above).
CC=clang CXX=clang++ build_targets=fuzzers \
    stage "fuzzers, bounded runs" "${root}-fuzz" "-L fuzz" -- -DHEAPPROF_FUZZ=ON -DHEAPPROF_SANITIZE=

# Runs a real project's regression suite under the library built by stage 1.
peer_stage() {
    local name=$1 start=$SECONDS status=PASS
    shift
    echo "=== $name ==="
    "$@" || status="FAIL (tests)"
    [ "$status" = PASS ] || failed=1
    results+=("$(printf '%-32s %-18s %4ds' "$name" "$status" $((SECONDS - start)))")
}
peer_stage "peer suite: CPython tests" tests/peer/run_cpython.sh "${root}-test"

echo
echo "=== summary ==="
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "FAILED"
    exit 1
fi
echo "all stages passed"
