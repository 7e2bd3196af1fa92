#!/bin/bash
# HEAPPROF_SIGNAL: `kill -USR2` makes the flusher write the next numbered
# dump while the program runs on undisturbed; numbers work as names do; off
# by default (then SIGUSR2 keeps its default action); bad values give one
# line each and the program runs normally.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_go

# start_sig NAME [VAR=value...]: the host program in the background, no HTTP.
start_sig() {
    local name=$1
    shift
    env HEAPPROF_OUT="$TMP/$name" HEAPPROF_INTERVAL=0 "$@" LD_PRELOAD="$HEAPPROF_LIB" "$E2E_BIN/http_host" "$CTL" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    HOST_PID=$!
    local i
    for i in $(seq 50); do grep -q '^tick' "$TMP/$name.out" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# wait_file PREFIX PID SEQ: until that file of the series exists (3 s).
wait_file() {
    local i
    for i in $(seq 30); do [ -s "$(series_file "$@")" ] && return 0; sleep 0.1; done
    return 1
}

CTL=$TMP/ctl1
mkdir -p "$CTL"
start_sig sig HEAPPROF_SIGNAL=SIGUSR2 HEAPPROF_RATE=65536 || abort "host did not start"
pid=$HOST_PID
check "no dump before the signal" test -z "$(series "$TMP/sig")"
kill -USR2 "$pid"
check "kill -USR2 -> dump 0001 within 3 s" wait_file "$TMP/sig" "$pid" 0001
top=$(top_entry -sample_index=inuse_space "$(series_file "$TMP/sig" "$pid" 0001)")
check "the signal dump is a readable profile (top: '$top')" \
    bash -c "[ '$top' = setup_before ] || [ '$top' = grow_steadily ]"
check "the dump says it was requested" \
    bash -c "go tool pprof -raw '$(series_file "$TMP/sig" "$pid" 1)' 2>/dev/null | grep -q 'dump on request'"
sleep 0.3
kill -USR2 "$pid"
check "a second kill -USR2 -> dump 0002" wait_file "$TMP/sig" "$pid" 0002
check "the program is still running after two signals" kill -0 "$pid"
stop_host "$CTL"
check "exit status 0 (got $RC)" test "$RC" = 0
check "stderr empty ($(head -c 200 "$TMP/sig.err"))" test ! -s "$TMP/sig.err"
check "the program ran to its end" grep -q '^done$' "$TMP/sig.out"
check "the final dump at exit follows as 0003" test -s "$(series_file "$TMP/sig" "$pid" 0003)"
gap=$(max_tick_gap "$TMP/sig.out")
check "ticks never stalled (largest gap $gap ms)" test "$gap" -lt 1000

CTL=$TMP/ctl2
mkdir -p "$CTL"
start_sig num HEAPPROF_SIGNAL=12 || abort "host did not start"
kill -s 12 "$HOST_PID"
check "HEAPPROF_SIGNAL=12: signal 12 -> dump 0001" wait_file "$TMP/num" "$HOST_PID" 0001
stop_host "$CTL"
check "HEAPPROF_SIGNAL=12: exit 0 (got $RC)" test "$RC" = 0

CTL=$TMP/ctl3
mkdir -p "$CTL"
start_sig rt HEAPPROF_SIGNAL=SIGRTMIN+3 || abort "host did not start"
kill -s RTMIN+3 "$HOST_PID"
check "HEAPPROF_SIGNAL=SIGRTMIN+3: that signal -> dump 0001" wait_file "$TMP/rt" "$HOST_PID" 0001
stop_host "$CTL"
check "HEAPPROF_SIGNAL=SIGRTMIN+3: exit 0 (got $RC)" test "$RC" = 0

# Off by default: SIGUSR2 keeps its default action (terminate).
CTL=$TMP/ctl4
mkdir -p "$CTL"
start_sig off || abort "host did not start"
kill -USR2 "$HOST_PID"
RC=0
{ wait "$HOST_PID"; } 2>/dev/null || RC=$? # no "User defined signal 2" job notice
HOST_PID=
check "without HEAPPROF_SIGNAL, SIGUSR2 terminates as usual (status $RC, want 140)" test "$RC" = 140

for v in SIGFOO SIGKILL STOP SEGV 0 99 ""; do
    run bad HEAPPROF_SIGNAL="$v" -- "$E2E_BIN/tiny"
    check "HEAPPROF_SIGNAL='$v': exit 0 and one line ($(head -1 "$TMP/bad.err"))" \
        bash -c "[ $RC = 0 ] && [ \$(wc -l <'$TMP/bad.err') = 1 ] && grep -q '^heapprof: HEAPPROF_SIGNAL=\".*; using no signal dumps\$' '$TMP/bad.err'"
done
finish
