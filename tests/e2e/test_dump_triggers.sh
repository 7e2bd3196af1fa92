#!/bin/bash
# issue 13, dumps the program's growth asks for:
#   HEAPPROF_DUMP_GROWTH=8M: grow() keeps 40 MiB, 1 MiB every 10 ms: a dump
#     at each 8 MiB more (4 of them, then the final dump), each saying why in
#     its comments, in-use rising from one to the next
#   at most one dump per drain: HEAPPROF_DUMP_GROWTH=1M with
#     HEAPPROF_FLUSH_MS=400 over ~0.6 s of growth gives a handful, not 60
#   HEAPPROF_DUMP_NEAR_LIMIT=50 in a REAL cgroup (v1 memory controller, a
#     64 MiB limit, swap off): grow() runs until the kernel's OOM killer
#     kills it; the dumps on disk say "near the memory limit" and the last
#     one shows grow() holding most of the limit. Skipped, saying why, only
#     where no memory cgroup can be made (not root, no v1 memory controller).
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/peakage
MiB=1048576

run growth HEAPPROF_RATE=65536 HEAPPROF_DUMP_GROWTH=8M -- "$prog" grow 40
if expect_clean_run growth; then
    mapfile -t files < <(series "$TMP/growth")
    # Marks at 8, 16, 24, 32 MiB: 4 dumps, fewer when one drain (a loaded
    # machine) sees two marks passed at once (one dump per drain at most).
    n=${#files[@]}
    check "2 to 4 growth dumps + the final dump (got $n)" bash -c "[ $n -ge 3 ] && [ $n -le 5 ]"
    prev=0
    for f in "${files[@]:0:n-1}"; do
        go tool pprof -raw "$f" >"$TMP/raw" 2>&1
        check "${f##*/}: comments say dump on growth" grep -q "heapprof dump on growth: in-use estimate" "$TMP/raw"
        values "$f" >"$TMP/v"
        got=$(value "$TMP/v" grow inuse_space)
        check "${f##*/}: grow() in use $got, more than the dump before ($prev) by 8 MiB or more" \
            awk -v g="$got" -v p="$prev" -v m=$MiB 'BEGIN { exit !(g - p > 6 * m && g < 44 * m) }'
        prev=$got
    done
fi

t0=$(date +%s%N)
run burst HEAPPROF_RATE=65536 HEAPPROF_DUMP_GROWTH=1M HEAPPROF_FLUSH_MS=400 -- "$prog" grow 60
ms=$((($(date +%s%N) - t0) / 1000000))
if expect_clean_run burst; then
    n=$(series "$TMP/burst" | wc -l)
    # 60 MiB passed 1 MiB marks 60 times, but drains come every 400 ms: at
    # most one growth dump per drain during the run's $ms ms, plus the final.
    limit=$((ms / 400 + 2))
    check "DUMP_GROWTH=1M, FLUSH_MS=400: at most one dump per drain (got $n files in $ms ms, limit $limit)" \
        test "$n" -ge 2 -a "$n" -le "$limit"
fi

# ---- near the memory limit, in a real cgroup ----
mem_root=/sys/fs/cgroup/memory
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
group="$mem_root${own%/}/heapprof-e2e-$$"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: near-limit dumps: not root, cannot create a memory cgroup"
elif [ ! -w "$mem_root${own%/}" ] || ! mkdir "$group" 2>/dev/null; then
    echo "SKIP: near-limit dumps: no writable v1 memory controller at $mem_root${own%/}"
else
    cleanup_group() { [ -d "$group" ] && rmdir "$group" 2>/dev/null; }
    trap 'cleanup_group; e2e_cleanup' EXIT
    echo $((64 * MiB)) >"$group/memory.limit_in_bytes"
    [ -e "$group/memory.memsw.limit_in_bytes" ] && echo $((64 * MiB)) >"$group/memory.memsw.limit_in_bytes"
    echo 0 >"$group/memory.swappiness" 2>/dev/null
    RC=0
    timeout 60 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec env "$@"' sh "$group" \
        HEAPPROF_OUT="$TMP/oom" HEAPPROF_RATE=65536 HEAPPROF_DUMP_NEAR_LIMIT=50 LD_PRELOAD="$HEAPPROF_LIB" \
        "$prog" grow >"$TMP/oom.out" 2>"$TMP/oom.err" || RC=$?
    check "the kernel killed the growing program (status $RC = 128 + SIGKILL)" test "$RC" = 137
    oom_kills=$(awk '$1 == "oom_kill" { print $2 }' "$group/memory.oom_control" 2>/dev/null)
    check "the cgroup counted an OOM kill (oom_kill ${oom_kills:-?})" test "${oom_kills:-1}" -ge 1
    mapfile -t files < <(series "$TMP/oom")
    check "near-limit dumps on disk before the kill (got ${#files[@]}: at 50%, 55%, ...)" test "${#files[@]}" -ge 3
    if [ "${#files[@]}" -gt 0 ]; then
        last=${files[-1]}
        go tool pprof -raw "$last" >"$TMP/raw" 2>&1
        check "${last##*/}: comments say dump near the memory limit" \
            grep -q "heapprof dump near the memory limit: cgroup use [0-9]* of limit $((64 * MiB)) bytes" "$TMP/raw"
        check "${last##*/}: grow() is on top" test "$(top_entry -sample_index=inuse_space "$last")" = grow
        values "$last" >"$TMP/v"
        got=$(value "$TMP/v" grow inuse_space)
        check "${last##*/}: grow() holds over half the limit (got $got)" test "$got" -gt $((32 * MiB))
    fi
    # The group is empty once the killed process is reaped.
    for i in $(seq 50); do cleanup_group && break; sleep 0.1; done
    check "the cgroup was removed" test ! -d "$group"
fi

finish
