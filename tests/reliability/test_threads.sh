#!/bin/bash
# Thread life at HEAPPROF_RATE=1, exact:
#   many    10,000 short threads (half detached): thread_churn 40,000
#           allocations, none in use; thread_keep 10,000 allocated, 5,000 in
#           use after main freed half (frees of exited threads' samples)
#   orphan  threads exit holding sampled memory; another thread frees it, half
#           while the owners are exiting, half after: 0 in use, all counted
#   cancel  pthread_cancel of threads inside an allocate/free loop (cleanup
#           handlers free): cancel_work 0 in use, every allocation counted;
#           cancel_keep exact
# plus `many` at the default rate: same output as without the library, and a
# bound on the CPU cost at rate 1 (50,000 samples must not make thread
# creation and exit an order of magnitude dearer).
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/threads

exact() { # NAME FUNC...: every column of FUNC in the final profile = truth
    local name=$1 last
    shift
    last=$(series "$TMP/$name" | tail -1)
    is_final "$last" || fail "$name: the newest profile is not the final dump"
    values "$last" >"$TMP/$name.values"
    check_exact "$name" "$TMP/$name.values" "$TMP/$name.out" "$@"
}

# CPU time (user + sys) of a run, in seconds: steadier than wall time when
# other tests share the CPUs.
# cpu_of CMD...: prints the CPU seconds; CMD's stdout/stderr go to $CPU_OUT
# and $CPU_ERR, its exit status to $TMP/cpu.rc.
cpu_of() {
    local TIMEFORMAT='%U %S' t
    t=$({ time { "$@" >"$CPU_OUT" 2>"$CPU_ERR"; echo $? >"$TMP/cpu.rc"; }; } 2>&1 | tail -1)
    echo "$t" | awk '{ print $1 + $2 }'
}
CPU_OUT=$TMP/many.plain.out CPU_ERR=$TMP/many.plain.err
plain_cpu=$(cpu_of "$prog" many)
CPU_OUT=$TMP/many.out CPU_ERR=$TMP/many.err
rate1_cpu=$(cpu_of timeout 150 env HEAPPROF_RATE=1 HEAPPROF_OUT="$TMP/many" LD_PRELOAD="$HEAPPROF_LIB" "$prog" many)
RC=$(cat "$TMP/cpu.rc")
if expect_clean_run many; then
    check_profiles many "$TMP/many" final
    exact many thread_churn thread_keep
fi
echo "10,000 threads: CPU time ${plain_cpu}s without the library, ${rate1_cpu}s at rate 1"
# At rate 1 every new thread samples at once, and libunwind sets up a 256 KiB
# per-thread trace cache on a thread's first unw_backtrace (mmap, page faults,
# munmap with TLB shootdowns at exit): ~1.7 ms of CPU per thread here, ~9x this
# program's plain CPU. The bound catches anything worse than that known cost
# (a per-thread leak or a quadratic registry walk would blow far past it).
check "10,000 threads at rate 1 cost at most 15x the plain run's CPU time + 2 s (${rate1_cpu}s vs ${plain_cpu}s)" \
    awk -v a="$rate1_cpu" -v b="$plain_cpu" 'BEGIN { exit !(a <= 15 * b + 2) }'

run many.default -- "$prog" many
expect_clean_run many.default && check "many, default rate: same output as without the library" \
    cmp -s "$TMP/many.plain.out" "$TMP/many.default.out"
check_profiles many.default "$TMP/many.default" final

for mode in orphan cancel; do
    run $mode HEAPPROF_RATE=1 -- "$prog" $mode
    expect_clean_run $mode || continue
    check_profiles $mode "$TMP/$mode" final
    case $mode in
    orphan) exact orphan orphan_alloc ;;
    cancel) exact cancel cancel_work cancel_keep ;;
    esac
done
finish
