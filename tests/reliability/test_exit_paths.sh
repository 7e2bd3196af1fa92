#!/bin/bash
# Ways out of a process, with threads allocating at HEAPPROF_RATE=1 and dumps
# every 10 ms (so a dump is often in flight), each run under `timeout`:
#   exitrace  6 threads and main call exit(7) at the same moment: status 7, no
#             hang, and the final dump is written
#   _exit     main calls _exit(5) while threads allocate: status 5, no hang
#   abort     main calls abort(): killed by SIGABRT (134), no hang
# Each kind 8 times. Every profile left behind must be complete and readable,
# and no temporary file (*.tmp.*) may be left in the output folder: a profile
# is either there whole or not at all.
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/threads
mkdir -p "$TMP/out"
for mode in exitrace _exit abort; do
    case $mode in exitrace) want=7 ;; _exit) want=5 ;; abort) want=134 ;; esac
    bad_rc=0 hung=0 finals=0
    for i in 1 2 3 4 5 6 7 8; do
        rc=0
        # (a subshell, so bash's own "Aborted" notice stays out of the log)
        (timeout -s KILL 20 env HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.01 HEAPPROF_OUT="$TMP/out/$mode" \
            LD_PRELOAD="$HEAPPROF_LIB" "$prog" $mode >"$TMP/$mode.$i.out" 2>"$TMP/$mode.$i.err") 2>/dev/null || rc=$?
        [ $rc = 137 ] && hung=$((hung + 1))
        [ $rc = "$want" ] || { bad_rc=$((bad_rc + 1)); echo "$mode run $i: status $rc: $(head -c 200 "$TMP/$mode.$i.err")"; }
    done
    check "$mode: no run hung (killed after 20 s: $hung of 8)" test $hung = 0
    check "$mode: every run exited with status $want ($bad_rc of 8 did not)" test $bad_rc = 0
    check_profiles $mode "$TMP/out/$mode"
    if [ $mode = exitrace ]; then
        for pid in $(pids "$TMP/out/$mode"); do
            is_final "$(series "$TMP/out/$mode" "$pid" | tail -1)" && finals=$((finals + 1))
        done
        check "exitrace: every run wrote its final dump ($finals of 8)" test $finals = 8
    fi
    tmps=$(find "$TMP/out" -name "$mode.*" ! -name '*.pb.gz' ! -name '*.raw*' | sed 's|.*/||')
    check "$mode: no temporary file left behind ($(echo $tmps | wc -w): $(echo $tmps | cut -c1-200))" test -z "$tmps"
done
finish
