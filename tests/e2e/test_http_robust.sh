#!/bin/bash
# The HTTP server against bad clients, while the host program keeps working:
# random bytes, a request without line end, a 100 KiB header, slow clients
# that never finish, every slot taken, 50 clients at once, "..", POST. Each
# gets a proper status or a closed connection within a bounded time, normal
# fetches keep working, and the host's 100 ms ticks never stall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_curl

CTL=$TMP/ctl
mkdir -p "$CTL"
start_host host HEAPPROF_RATE=65536 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/http_host" "$CTL" ||
    abort "the server never answered (stderr: $(head -c 300 "$TMP/host.err"))"

# raw NAME TIMEOUT: sends stdin on a new connection, then reads until the
# server closes (at most TIMEOUT s). Sets STATUS (first line, or "closed")
# and TOOK (seconds from connect to close).
raw() {
    local name=$1 limit=$2 t0 writer
    t0=$(now)
    exec 6<>"/dev/tcp/127.0.0.1/$PORT" || { STATUS="connect failed"; TOOK=0; return; }
    # The writer runs beside the reader (a server may answer before the
    # request ends) and may be cut off by the close: that is fine. stdin is
    # passed explicitly: a background job's default stdin is /dev/null.
    exec 7<&0
    cat <&7 >&6 2>/dev/null &
    writer=$!
    timeout "$limit" cat <&6 >"$TMP/$name.raw" 2>/dev/null
    TOOK=$(elapsed "$t0")
    kill "$writer" 2>/dev/null
    wait "$writer" 2>/dev/null
    exec 6<&- 7<&-
    STATUS=$(head -1 "$TMP/$name.raw" | tr -d '\r')
    [ -n "$STATUS" ] || STATUS=closed
}

raw random 10 < <(head -c 4096 /dev/urandom)
check "random bytes: an HTTP error status or a close, within 2 s (got '$STATUS' in $TOOK s)" \
    awk -v s="$STATUS" -v t="$TOOK" 'BEGIN { exit !((s ~ /^HTTP\/1\.1 [45][0-9][0-9] / || s == "closed") && t <= 2) }'

raw nocrlf 12 < <(printf 'GET /debug/pprof/heap HTTP/1.1'; sleep 8)
check "no line end, then silence: 408 after the 5 s read timeout (got '$STATUS' in $TOOK s)" \
    awk -v s="$STATUS" -v t="$TOOK" 'BEGIN { exit !(s ~ /^HTTP\/1\.1 408 / && t >= 4.5 && t <= 7) }'

raw bighdr 10 < <(printf 'GET /debug/pprof/heap HTTP/1.1\r\nHost: a\r\nX-Big: '
    head -c 102400 /dev/zero | tr '\0' a
    printf '\r\n\r\n')
check "100 KiB header: 431 within 3 s (got '$STATUS' in $TOOK s)" \
    awk -v s="$STATUS" -v t="$TOOK" 'BEGIN { exit !(s ~ /^HTTP\/1\.1 431 / && t <= 3) }'

raw dotdot 5 < <(printf 'GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n')
check "GET /../etc/passwd: 400 (got '$STATUS')" grep -q '^HTTP/1.1 400 ' <<<"$STATUS"
check "GET /../etc/passwd: no file content in the answer" bash -c "! grep -q 'root:' '$TMP/dotdot.raw'"
raw dotdot2 5 < <(printf 'GET /debug/pprof/%%2e%%2e/%%2e%%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n')
check "GET /debug/pprof/%2e%2e/...: 400 (got '$STATUS')" grep -q '^HTTP/1.1 400 ' <<<"$STATUS"
raw post 5 < <(printf 'POST /debug/pprof/heap HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello')
check "POST: 405 (got '$STATUS')" grep -q '^HTTP/1.1 405 ' <<<"$STATUS"
raw nohost 5 < <(printf 'GET /debug/pprof/heap HTTP/1.1\r\n\r\n')
check "HTTP/1.1 without Host: 400 (got '$STATUS')" grep -q '^HTTP/1.1 400 ' <<<"$STATUS"
raw http2 5 < <(printf 'GET /debug/pprof/heap HTTP/2.0\r\n\r\n')
check "HTTP/2.0 request line: 505 (got '$STATUS')" grep -q '^HTTP/1.1 505 ' <<<"$STATUS"
raw http10 5 < <(printf 'GET /debug/pprof/heap HTTP/1.0\r\n\r\n')
check "HTTP/1.0 without Host: 200 (got '$STATUS')" grep -q '^HTTP/1.1 200 ' <<<"$STATUS"

# Slowloris: 7 clients trickle a header byte every 0.5 s, never finishing.
# A normal fetch meanwhile is served at once; each slow one is cut off with
# 408 about 5 s after it connected.
slow_pids=()
for i in $(seq 7); do
    raw "slow$i" 20 < <(printf 'GET /debug/pprof/heap HTTP/1.1\r\nHost: a\r\n'
        for k in $(seq 30); do printf 'X'; sleep 0.5; done) &
    slow_pids+=($!)
done
sleep 1
t0=$(now)
http /debug/pprof/heap
check "a fetch while 7 slow clients hold slots: 200 within 1 s (got $CODE in $(elapsed "$t0") s)" \
    awk -v c="$CODE" -v t="$(elapsed "$t0")" 'BEGIN { exit !(c == 200 && t <= 1) }'
t0=$(now)
wait "${slow_pids[@]}"
slow_took=$(elapsed "$t0")
bad=""
for i in $(seq 7); do
    head -1 "$TMP/slow$i.raw" | grep -q '^HTTP/1.1 408 ' || bad="$bad slow$i"
done
check "every slow client got 408 (wrong:${bad:- none})" test -z "$bad"
check "the slow clients were cut off within 6.5 s of connecting (last one $slow_took s after the check)" \
    awk -v t="$slow_took" 'BEGIN { exit !(t <= 5.5) }'

# All 8 slots taken by idle connections: a ninth client gets 503 (or a
# close) at once, and service is back once the idle ones time out.
for fd in 10 11 12 13 14 15 16 17; do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
sleep 0.3
t0=$(now)
http /debug/pprof/heap
busy="$CODE $(elapsed "$t0")"
check "all slots taken: 503 or closed within 1 s (got $busy)" \
    awk -v c="${busy% *}" -v t="${busy#* }" 'BEGIN { exit !((c == 503 || c == 000) && t <= 1) }'
for fd in 10 11 12 13 14 15 16 17; do eval "exec $fd<&-"; done
sleep 0.3
http /debug/pprof/heap
check "slots free again after the clients left: 200 (got $CODE)" test "$CODE" = 200

# 50 clients at once: each gets 200 or 503 (busy), none hangs.
t0=$(now)
many_pids=()
for i in $(seq 50); do
    curl -s -m 30 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/debug/pprof/heap" >"$TMP/many.$i" 2>/dev/null &
    many_pids+=($!)
done
wait "${many_pids[@]}"
many_took=$(elapsed "$t0")
codes=$(cat "$TMP"/many.* | sort | uniq -c | tr '\n' ' ')
n200=$(cat "$TMP"/many.* | grep -c '^200$')
nother=$(cat "$TMP"/many.* | grep -vc '^\(200\|503\)$')
check "50 clients at once: all answered 200 or 503 in $many_took s (codes: $codes)" \
    bash -c "[ $nother = 0 ] && [ $n200 -ge 8 ] && awk -v t=$many_took 'BEGIN { exit !(t <= 15) }'"

http /debug/pprof/heap
check "after all that: a normal fetch works (got $CODE)" test "$CODE" = 200

ticks_before=$(grep -c '^tick' "$TMP/host.out")
sleep 0.5
ticks_after=$(grep -c '^tick' "$TMP/host.out")
stop_host "$CTL"
check "the host kept ticking ($ticks_before then $ticks_after ticks)" test "$ticks_after" -gt "$ticks_before"
gap=$(max_tick_gap "$TMP/host.out")
check "the host was never held up: largest gap between 100 ms ticks $gap ms (want < 1000)" test "$gap" -lt 1000
check "host exits 0 (got $RC)" test "$RC" = 0
check "host stderr empty ($(head -c 200 "$TMP/host.err"))" test ! -s "$TMP/host.err"
finish
