#!/bin/bash
# Sampling switched on, to another rate and off in a running process (issue
# 14, item 3): `heapprof rate PID BYTES` over HEAPPROF_CONTROL_SIGNAL. A
# service starts at HEAPPROF_RATE=0: its profile is empty; switched to 64 KiB,
# a leak that starts afterwards shows at its size (within 10%); switched off,
# the samples taken while on are still matched when freed (a fixed seed: the
# sizes are checked against one known draw, not a chance). Blocks allocated
# while off stay unknown. Plus the command's refusals, which never hurt the
# process (no channel, bad BYTES, a plain kill of the control signal).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_go
need_curl
H=$HEAPPROF_SCRIPT
PHASES=$E2E_BIN/phases
export HEAPPROF_LIB

# start NAME VAR=VALUE...: phases in the background, commands through a FIFO.
start() {
    local name=$1
    shift
    mkfifo "$TMP/$name.in"
    env "$@" HEAPPROF_OUT="$TMP/$name" HEAPPROF_INTERVAL=0 LD_PRELOAD="$HEAPPROF_LIB" \
        "$PHASES" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID=$!
    exec 7>"$TMP/$name.in"
    wait_line "$name" "phases: pid $PID" || abort "$name did not start"
}
wait_line() { # NAME LINE: up to 10 s for that line of stdout
    local i
    for i in $(seq 100); do grep -qxF -- "$2" "$TMP/$1.out" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
cmd() { # NAME COMMAND: sends it and waits for "done COMMAND"
    echo "$2" >&7
    wait_line "$1" "done $2" || fail "$1: '$2' not done"
}
# dump NAME: a dump on request (SIGUSR2); prints the new file's name.
dump() {
    local before after i
    before=$(series "$TMP/$1" | wc -l)
    kill -USR2 "$PID"
    for i in $(seq 50); do
        after=$(series "$TMP/$1" | wc -l)
        [ "$after" -gt "$before" ] && break
        sleep 0.1
    done
    series "$TMP/$1" | tail -1
}
comment_value() { # FILE KEY: a number from the profile's comments
    go tool pprof -raw "$1" 2>/dev/null | grep -o " $2=[0-9]*" | head -1 | cut -d= -f2
}
# wait_rate NAME RATE: dumps until one says that rate is in force (the change
# is applied by the flusher, a few ms after the command returns).
wait_rate() {
    local i f
    for i in $(seq 30); do
        f=$(dump "$1")
        [ "$(comment_value "$f" rate)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
inuse() { # FILE FUNC: inuse_space of FUNC in bytes (0 if absent)
    values "$1" | awk -v f="$2" '$1 == f { print $5; found = 1 } END { if (!found) print 0 }'
}

start svc HEAPPROF_RATE=0 HEAPPROF_SEED=7 HEAPPROF_CONTROL_SIGNAL=SIGRTMIN+3 HEAPPROF_SIGNAL=SIGUSR2
cmd svc "early 8"
f=$(dump svc)
check "at rate 0 the profile is empty (samples=$(comment_value "$f" samples), rate=$(comment_value "$f" rate))" \
    bash -c "[ '$(comment_value "$f" samples)' = 0 ] && [ '$(comment_value "$f" rate)' = 0 ]"

"$H" rate "$PID" 64KiB 2>"$TMP/rate1.err"
check "heapprof rate PID 64KiB: exit 0 ($(cat "$TMP/rate1.err"))" test $? = 0
check "the new rate is in force within 3 s" wait_rate svc 65536
cmd svc "late 40"
f=$(dump svc)
late=$(inuse "$f" late_blocks)
check "switched on: rate=65536 in the profile (got $(comment_value "$f" rate))" test "$(comment_value "$f" rate)" = 65536
check "the leak that started afterwards: late_blocks at 40 MiB +-10% (got $late bytes)" \
    awk -v v="$late" 'BEGIN { t = 40 * 1048576; exit !(v > 0.9 * t && v < 1.1 * t) }'
check "blocks allocated while off are unknown: no early_blocks ($(inuse "$f" early_blocks))" \
    test "$(inuse "$f" early_blocks)" = 0
live_on=$(comment_value "$f" live_samples)

"$H" rate "$PID" 0 2>"$TMP/rate0.err"
check "heapprof rate PID 0: exit 0" test $? = 0
check "sampling is off within 3 s" wait_rate svc 0
cmd svc "early 8"
cmd svc "free_late"
f=$(dump svc)
check "switched off: rate=0 (got $(comment_value "$f" rate)), two changes ($(comment_value "$f" rate_changes))" \
    bash -c "[ '$(comment_value "$f" rate)' = 0 ] && [ '$(comment_value "$f" rate_changes)' = 2 ]"
check "the samples taken while on are matched when freed after: late_blocks at 0 ($(inuse "$f" late_blocks)), live_samples $live_on -> $(comment_value "$f" live_samples)" \
    bash -c "[ '$(inuse "$f" late_blocks)' = 0 ] && [ '$(comment_value "$f" live_samples)' = 0 ] && [ '$live_on' -gt 100 ]"
check "frees of unknown blocks are not counted (frees=$(comment_value "$f" frees) = samples=$(comment_value "$f" samples))" \
    test "$(comment_value "$f" frees)" = "$(comment_value "$f" samples)"

# Refusals: bad BYTES, a plain kill of the control signal; the process lives on.
RC=0
"$H" rate "$PID" 12abc 2>"$TMP/bad.err" || RC=$?
check "heapprof rate PID 12abc: exit 2 with the library's message ($(cat "$TMP/bad.err"))" \
    bash -c "[ $RC = 2 ] && grep -q 'not a byte count' '$TMP/bad.err'"
kill -s RTMIN+3 "$PID"
sleep 0.3
check "a plain kill of the control signal (no value) does not end the process" kill -0 "$PID"
f=$(dump svc)
check "... and changes nothing (rate=$(comment_value "$f" rate), rejected=$(comment_value "$f" rate_requests_rejected))" \
    bash -c "[ '$(comment_value "$f" rate)' = 0 ] && [ '$(comment_value "$f" rate_requests_rejected)' = 1 ]"
echo exit >&7
exec 7>&-
RC=0
wait "$PID" || RC=$?
check "the service exits 0 with a clean stderr (got $RC: $(head -c 300 "$TMP/svc.err"))" \
    bash -c "[ $RC = 0 ] && ! [ -s '$TMP/svc.err' ]"

# The HTTP channel: the same, answered once in force; refused from a web page,
# with a body, and to another user.
PORT=$(free_port)
start web HEAPPROF_RATE=0 HEAPPROF_SEED=7 HEAPPROF_HTTP=127.0.0.1:$PORT HEAPPROF_SIGNAL=SIGUSR2
for i in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/debug/pprof/rate" >"$TMP/r0" 2>/dev/null && break; sleep 0.1; done
check "GET /debug/pprof/rate: 0 at start ($(cat "$TMP/r0"))" test "$(cat "$TMP/r0")" = 0
"$H" rate "$PID" 64K 2>"$TMP/rate_http.err"
check "heapprof rate PID 64K over HTTP: exit 0, answered ($(cat "$TMP/rate_http.err"))" \
    grep -q 'rate 65536 (was 0) (over HTTP' "$TMP/rate_http.err"
cmd web "late 40"
f=$(dump web)
late=$(inuse "$f" late_blocks)
check "over HTTP: in force at once; late_blocks at 40 MiB +-10% (got $late)" \
    awk -v v="$late" 'BEGIN { t = 40 * 1048576; exit !(v > 0.9 * t && v < 1.1 * t) }'
code=$(curl -s -o "$TMP/origin" -w '%{http_code}' -X POST -H 'Origin: http://evil.example' "http://127.0.0.1:$PORT/debug/pprof/rate?bytes=0")
check "a POST from a web page (Origin) is refused: 403 ($code: $(cat "$TMP/origin"))" test "$code" = 403
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "http://127.0.0.1:$PORT/debug/pprof/rate?bytes=0")
check "a POST with a body is refused: 403 ($code)" test "$code" = 403
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -w '\n%{http_code}' -X POST \
    "http://127.0.0.1:$PORT/debug/pprof/rate?bytes=0")
check "a POST by another user (nobody) is refused: 403, said why ($(tr '\n' ' ' <<<"$out"))" \
    test "$(tail -1 <<<"$out") $(head -1 <<<"$out")" = "403 heapprof: a rate change is taken only from this process's user or root"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/debug/pprof/rate?bytes=2G")
check "bytes out of range: 400 ($code)" test "$code" = 400
check "the rate is still 65536 after the refusals ($(curl -s "http://127.0.0.1:$PORT/debug/pprof/rate"))" \
    test "$(curl -s "http://127.0.0.1:$PORT/debug/pprof/rate")" = 65536
"$H" rate "$PID" 0 2>/dev/null
cmd web "free_late"
f=$(dump web)
check "off over HTTP; the samples are matched when freed (live_samples=$(comment_value "$f" live_samples))" \
    bash -c "[ '$(comment_value "$f" rate)' = 0 ] && [ '$(comment_value "$f" live_samples)' = 0 ]"
echo exit >&7
exec 7>&-
wait "$PID"
check "the HTTP service exits 0 with a clean stderr ($(head -c 300 "$TMP/web.err"))" test ! -s "$TMP/web.err"

# No channel: refused, nothing sent (the process would die of SIGRTMIN+3's default).
start plain HEAPPROF_RATE=0
RC=0
"$H" rate "$PID" 64K 2>"$TMP/nochan.err" || RC=$?
check "no control channel: exit 3, says so ($(cat "$TMP/nochan.err"))" \
    bash -c "[ $RC = 3 ] && grep -q 'without a control channel' '$TMP/nochan.err'"
check "... and the process is untouched" kill -0 "$PID"
echo exit >&7
exec 7>&-
wait "$PID"
check "a process started at rate 0 that was never switched on writes no file ($(series "$TMP/plain" | wc -l))" \
    test -z "$(series "$TMP/plain")"
RC=0
"$H" rate 999999999 64K 2>"$TMP/nopid.err" || RC=$?
check "no such pid: exit 3 ($(cat "$TMP/nopid.err"))" test "$RC" = 3

finish
