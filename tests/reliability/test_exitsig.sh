#!/bin/bash
# How a process ends under heapprof, compared with the same program run plain
# (issue 11, defects 1 and 4; progs/exitsig.c):
#   lastthread  main calls pthread_exit, its last thread returns: exit 0, the
#               atexit handler runs, the final dump is written, in < 2 s
#               (was: hung for ever, heapprof's flusher kept it alive)
#   lingering   the same with the thread still sleeping: SIGTERM kills it
#   forkchild   a forked child that ends that way: the parent's waitpid returns
#   signals     SIGHUP, SIGINT, SIGQUIT, SIGTERM at their default: the same
#               raw wait status as plain, and a final dump naming the
#               allocating function (was: no file at all)
#   dumpsig     HEAPPROF_SIGNAL=SIGHUP: HUP dumps, the process lives on
#   handlers    the program's own handler, installed before profiling starts
#               (HEAPPROF_RATE=0, then heapprof_set_rate) and after: it runs,
#               the program goes on, same output and status
#   readback    what sigaction/signal return is what they return plain
#   ignored     signals inherited as ignored (nohup) stay ignored
#   _exit       _exit(5): status 5 and a final dump
#   failexec    a forked child whose exec fails and _exits: no file of its own
#   childwork   a forked child that allocates and _exits: its own final dump
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/exitsig
cd "$TMP" || exit 1

# top FILE: `go tool pprof -top` of a profile.
top() { "${PPROF[@]}" -top "$1" 2>/dev/null; }
# final_with_alloc NAME PREFIX [PID]: the newest profile under PREFIX (of
# PID) is the final dump and names exitsig_alloc.
final_with_alloc() {
    local f
    f=$(series "$2" "${3:-*}" | tail -1)
    if [ -z "$f" ]; then
        fail "$1: no profile written"
        return
    fi
    check "$1: $(basename "$f") is the final dump" is_final "$f"
    top "$f" >"$TMP/top.txt"
    check "$1: go tool pprof -top shows exitsig_alloc" grep -qE '[0-9.]+[kMG]?B .* exitsig_alloc$' "$TMP/top.txt"
}
# same NAME: run NAME's output and status equal those of NAME.plain.
same() {
    check "$1: status $(cat "$TMP/$1.rc"), as plain ($(cat "$TMP/$1.plain.rc"))" test "$(cat "$TMP/$1.rc")" = "$(cat "$TMP/$1.plain.rc")"
    check "$1: output as plain" cmp -s "$TMP/$1.out" "$TMP/$1.plain.out"
}
# go NAME [VAR=value...] -- ARGS: runs the program plain (NAME.plain) and
# under heapprof (NAME), output in NAME.out, status in NAME.rc, seconds in
# NAME.secs.
go() {
    local name=$1 vars=()
    shift
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    local rc=0
    timeout -s KILL 20 "$prog" "$@" >"$TMP/$name.plain.out" 2>"$TMP/$name.plain.err" || rc=$?
    echo $rc >"$TMP/$name.plain.rc"
    rc=0
    local t0 t1
    t0=$(date +%s%N)
    timeout -s KILL 20 env HEAPPROF_OUT="$TMP/$name" ${vars[@]+"${vars[@]}"} LD_PRELOAD="$HEAPPROF_LIB" "$prog" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    t1=$(date +%s%N)
    echo $rc >"$TMP/$name.rc"
    echo $(((t1 - t0) / 1000000)) >"$TMP/$name.ms"
}

# --- defect 1: the last thread -----------------------------------------------
for rate in 1 default; do
    vars=(EXITSIG_TIMING="$TMP/lastthread.$rate.ns")
    [ $rate = 1 ] && vars+=(HEAPPROF_RATE=1)
    go lastthread.$rate "${vars[@]}" -- lastthread
    same lastthread.$rate
    check "lastthread.$rate: the atexit handler ran" grep -qx 'atexit ran' "$TMP/lastthread.$rate.out"
    # The thread sleeps 200 ms; well under 2 s more, so no machine is too slow.
    check "lastthread.$rate: ended in $(cat "$TMP/lastthread.$rate.ms") ms (< 2000)" test "$(cat "$TMP/lastthread.$rate.ms")" -lt 2000
    [ -s "$TMP/lastthread.$rate.ns" ] && note "lastthread.$rate: last thread's end to atexit: $(($(cat "$TMP/lastthread.$rate.ns") / 1000)) us"
    if [ $rate = 1 ]; then final_with_alloc lastthread.1 "$TMP/lastthread.1"; else
        f=$(series "$TMP/lastthread.default" | tail -1)
        check "lastthread.default: final dump written" is_final "$f"
    fi
done

python3 "$RELI_SRC/progs/killwait.py" TERM 'main leaves' 0.3 "$TMP/lingering.plain.out" -- "$prog" lingering >"$TMP/lingering.plain.st"
python3 "$RELI_SRC/progs/killwait.py" TERM 'main leaves' 0.3 "$TMP/lingering.out" -- env HEAPPROF_RATE=1 \
    HEAPPROF_OUT="$TMP/lingering" LD_PRELOAD="$HEAPPROF_LIB" "$prog" lingering >"$TMP/lingering.st"
check "lingering: SIGTERM after main's pthread_exit: wait status $(cut -d' ' -f1 "$TMP/lingering.st"), as plain ($(cut -d' ' -f1 "$TMP/lingering.plain.st"))" \
    test "$(cut -d' ' -f1 "$TMP/lingering.st")" = "$(cut -d' ' -f1 "$TMP/lingering.plain.st")"
final_with_alloc lingering "$TMP/lingering"

go forkchild HEAPPROF_RATE=1 -- forkchild
same forkchild
check "forkchild: the child ended, the parent's waitpid returned" grep -qx 'child status 0' "$TMP/forkchild.out"
check "forkchild: two processes wrote profiles" test "$(pids "$TMP/forkchild" | wc -l)" = 2
child=$(sed -n 's/^child pid //p' "$TMP/forkchild.err")
final_with_alloc "forkchild: the child ($child)" "$TMP/forkchild" "$child"

# --- defect 4: signals ---------------------------------------------------------
for sig in HUP INT QUIT TERM; do
    python3 "$RELI_SRC/progs/killwait.py" $sig ready 0 "$TMP/sig$sig.plain.out" -- "$prog" wait >"$TMP/sig$sig.plain.st"
    python3 "$RELI_SRC/progs/killwait.py" $sig ready 0 "$TMP/sig$sig.out" -- env HEAPPROF_OUT="$TMP/sig$sig" \
        LD_PRELOAD="$HEAPPROF_LIB" "$prog" wait >"$TMP/sig$sig.st"
    read -r st ms <"$TMP/sig$sig.st"
    read -r pst _ <"$TMP/sig$sig.plain.st"
    check "SIG$sig: raw wait status $st, as plain ($pst); died $ms ms after the signal" test "$st" = "$pst"
    final_with_alloc "SIG$sig" "$TMP/sig$sig"
done

# HEAPPROF_SIGNAL=SIGHUP: HUP asks for a dump (the process lives on), TERM
# still ends it with its final dump.
env HEAPPROF_SIGNAL=SIGHUP HEAPPROF_OUT="$TMP/dumpsig" LD_PRELOAD="$HEAPPROF_LIB" "$prog" wait >"$TMP/dumpsig.out" &
p=$!
for _ in $(seq 200); do grep -q ready "$TMP/dumpsig.out" && break; sleep 0.05; done
kill -HUP $p
for _ in $(seq 200); do [ -n "$(series "$TMP/dumpsig")" ] && break; sleep 0.05; done
check "HEAPPROF_SIGNAL=SIGHUP: HUP wrote a dump and the process lives on" kill -0 $p
kill -TERM $p
rc=0
wait $p || rc=$?
check "HEAPPROF_SIGNAL=SIGHUP: then TERM ends it (status $rc, want 143) with a second, final dump" \
    test "$rc" = 143 -a "$(series "$TMP/dumpsig" | wc -l)" = 2
f=$(series "$TMP/dumpsig" | tail -1)
check "HEAPPROF_SIGNAL=SIGHUP: the second one is the final dump" is_final "$f"

for sig in 1 2 3 15; do
    go before.$sig HEAPPROF_RATE=0 -- before $sig
    same before.$sig
    check "before.$sig: the program's handler ran" grep -qx "handler got $sig" "$TMP/before.$sig.out"
    check "before.$sig: profiling started (heapprof_set_rate), so the handler was there first" test -n "$(series "$TMP/before.$sig")"
    go after.$sig HEAPPROF_RATE=1 -- after $sig
    same after.$sig
    check "after.$sig: the program's handler ran" grep -qx "handler got $sig" "$TMP/after.$sig.out"
done

go readback -- readback
same readback
go readback.1 HEAPPROF_RATE=1 -- readback
cp "$TMP/readback.plain.out" "$TMP/readback.1.plain.out"
cp "$TMP/readback.plain.rc" "$TMP/readback.1.plain.rc"
same readback.1

# Not under timeout(1), which catches these signals (so its child would
# start with them at the default).
(
    trap '' HUP INT QUIT TERM
    rc=0
    "$prog" ignored >"$TMP/ignored.plain.out" 2>&1 || rc=$?
    echo $rc >"$TMP/ignored.plain.rc"
    rc=0
    env HEAPPROF_RATE=1 HEAPPROF_OUT="$TMP/ignored" LD_PRELOAD="$HEAPPROF_LIB" "$prog" ignored >"$TMP/ignored.out" 2>&1 || rc=$?
    echo $rc >"$TMP/ignored.rc"
)
same ignored
check "ignored: inherited SIG_IGN stays (the program survives its own signals)" grep -qx survived "$TMP/ignored.out"
check "ignored: the program saw them ignored" test "$(grep -c ': IGN ' "$TMP/ignored.out")" = 4

# --- _exit -------------------------------------------------------------------
go uexit HEAPPROF_RATE=1 -- uexit
same uexit
check "uexit: status 5" test "$(cat "$TMP/uexit.rc")" = 5
final_with_alloc uexit "$TMP/uexit"

go failexec HEAPPROF_RATE=1 -- failexec
same failexec
check "failexec: only the parent wrote a file (pids: $(pids "$TMP/failexec" | tr '\n' ' '))" test "$(pids "$TMP/failexec" | wc -l)" = 1
go childwork HEAPPROF_RATE=1 -- childwork
same childwork
check "childwork: the child wrote its own final dump too" test "$(pids "$TMP/childwork" | wc -l)" = 2
child=$(sed -n 's/^child pid //p' "$TMP/childwork.err")
final_with_alloc "childwork: the child ($child)" "$TMP/childwork" "$child"
finish
