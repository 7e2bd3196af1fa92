#!/bin/bash
# HEAPPROF_HTTP: the /debug/pprof server inside an unmodified program.
#   - the seed workflow: two curl fetches of /debug/pprof/heap, then
#     `go tool pprof -top -base a.heap b.heap` puts the growing function on top
#   - `go tool pprof -top http://127.0.0.1:PORT/debug/pprof/heap` (URL form)
#   - headers like Go's; the index page; ?debug=1 text that pprof reads
#   - ?seconds=2: a delta holding exactly what was allocated in the window
#     (HEAPPROF_RATE=1: exact; 65536: within 15%), duration set, nothing from
#     before the window, and other requests served while it waits
#   - status codes: 404, 405 (+Allow), 400 for bad parameters, HEAD
#   - a port in use: one line, the program runs on; a bad HEAPPROF_HTTP: one
#     line; 0.0.0.0: served, with a warning line
#   - fork: the parent keeps serving, the child does not hold the port
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_http_pprof

# ---- one host at HEAPPROF_RATE=65536 ----
CTL=$TMP/ctl1
mkdir -p "$CTL"
start_host h1 HEAPPROF_RATE=65536 HEAPPROF_SEED=3 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/http_host" "$CTL" ||
    abort "the server never answered (stderr: $(head -c 300 "$TMP/h1.err"))"

http /debug/pprof/
check "index: 200 text/html listing /debug/pprof/heap (got $CODE)" \
    bash -c "[ $CODE = 200 ] && grep -q '/debug/pprof/heap' '$TMP/body'"
check "index content type is text/html" bash -c "[[ '$(header Content-Type)' == text/html* ]]"

http /debug/pprof/heap
cp "$TMP/body" "$TMP/a.heap"
check "heap: 200 (got $CODE)" test "$CODE" = 200
check "heap: Content-Type application/octet-stream (got '$(header Content-Type)')" \
    test "$(header Content-Type)" = application/octet-stream
check "heap: Content-Disposition attachment (got '$(header Content-Disposition)')" \
    test "$(header Content-Disposition)" = 'attachment; filename="heap"'
check "heap: body is gzip" bash -c "[ \"\$(head -c 2 '$TMP/a.heap' | od -An -tx1 | tr -d ' ')\" = 1f8b ]"
sleep 1.5
http /debug/pprof/heap
cp "$TMP/body" "$TMP/b.heap"
top=$(top_entry -sample_index=inuse_space -base "$TMP/a.heap" "$TMP/b.heap")
check "seed workflow: go tool pprof -top -base a.heap b.heap shows grow_steadily on top (got '$top')" \
    test "$top" = grow_steadily

out=$(go tool pprof -top "http://127.0.0.1:$PORT/debug/pprof/heap" 2>&1)
check "URL form: go tool pprof -top http://127.0.0.1:PORT/debug/pprof/heap names grow_steadily" \
    grep -q 'grow_steadily' <<<"$out"

http "/debug/pprof/heap?debug=1"
cp "$TMP/body" "$TMP/text.heap"
check "debug=1: 200 text/plain (got $CODE, '$(header Content-Type)')" \
    bash -c "[ $CODE = 200 ] && [[ '$(header Content-Type)' == text/plain* ]]"
check "debug=1: legacy header line ($(head -1 "$TMP/text.heap"))" \
    grep -Eq '^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/2$' <(head -1 "$TMP/text.heap")
check "debug=1: sample lines and '#<TAB>0xADDR<TAB>symbol+0xOFF' frame lines" \
    bash -c "grep -Eq '^[0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @( 0x[0-9a-f]+)+$' '$TMP/text.heap' &&
             grep -Pq '^#\t0x[0-9a-f]+\tgrow_steadily\+0x[0-9a-f]+\t' '$TMP/text.heap'"
out=$(go tool pprof -top "$TMP/text.heap" 2>&1)
check "debug=1: go tool pprof reads the text form and names grow_steadily" grep -q 'grow_steadily' <<<"$out"

# HEAD by hand (curl -I would not show a body sent by mistake): the answer
# must end right after the blank line, with the Content-Length of the GET.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'HEAD /debug/pprof/heap HTTP/1.1\r\nHost: a\r\n\r\n' >&5
timeout 10 cat <&5 >"$TMP/head.raw"
exec 5<&-
check "HEAD: 200 with Content-Length and no body ($(head -1 "$TMP/head.raw" | tr -d '\r'))" \
    bash -c "head -1 '$TMP/head.raw' | grep -q '^HTTP/1.1 200' && grep -qi '^Content-Length: [1-9]' '$TMP/head.raw' &&
             [ \"\$(tail -c 4 '$TMP/head.raw' | od -An -tx1 | tr -d ' ')\" = 0d0a0d0a ]"
http /nope
check "unknown path: 404 (got $CODE)" test "$CODE" = 404
http /debug/pprof/goroutine
check "other Go profile: 404 (got $CODE)" test "$CODE" = 404
http /debug/pprof/heap -X POST -d x=1
check "POST: 405 with Allow: GET, HEAD (got $CODE, '$(header Allow)')" \
    bash -c "[ $CODE = 405 ] && [ '$(header Allow)' = 'GET, HEAD' ]"
for q in seconds=0 seconds=301 seconds=abc seconds=-1 debug=x "debug=1&seconds=1"; do
    http "/debug/pprof/heap?$q"
    check "?$q: 400 (got $CODE)" test "$CODE" = 400
done

# ?seconds=2 at 65536: the burst happens inside the window.
delta_window() { # NAME: fetches ?seconds=2 to $TMP/NAME.heap, triggering the burst 0.5 s in
    local start
    start=$(now)
    curl -s -m 30 -o "$TMP/$1.heap" -D "$TMP/$1.hdr" "http://127.0.0.1:$PORT/debug/pprof/heap?seconds=2" &
    local cpid=$!
    sleep 0.5
    touch "$CTL/burst"
    # Another request while the delta waits: served at once (the wait holds no lock).
    local t0
    t0=$(now)
    http /debug/pprof/heap
    DURING="$CODE $(elapsed "$t0")"
    wait $cpid
    TOOK=$(elapsed "$start")
}
delta_window d1
check "?seconds=2 answered after $TOOK s (want 2 to 4)" awk -v t="$TOOK" 'BEGIN { exit !(t >= 2 && t <= 4) }'
check "a plain fetch during the wait: 200 within 1 s (got $DURING)" \
    awk -v c="${DURING% *}" -v t="${DURING#* }" 'BEGIN { exit !(c == 200 && t <= 1) }'
check "delta: Content-Disposition heap-delta" grep -qi 'filename="heap-delta"' "$TMP/d1.hdr"
for i in $(seq 50); do grep -q '^truth burst_in_window' "$TMP/h1.out" && break; sleep 0.1; done
values "$TMP/d1.heap" >"$TMP/d1.values"
want=$(truth "$TMP/h1.out" burst_in_window alloc_space)
got=$(value "$TMP/d1.values" burst_in_window alloc_space)
check "delta at rate 65536: burst_in_window alloc_space $got vs truth $want ($(pct "$got" "$want"), want +-15%)" \
    within "$got" "$want" 15
got=$(value "$TMP/d1.values" setup_before alloc_space)
check "delta: setup_before (before the window) is 0 (got $got)" test "$got" = 0
dur=$(go tool pprof -raw "$TMP/d1.heap" 2>/dev/null | awk '/^Duration:/ { print $2; exit }')
check "delta: duration_nanos set (pprof says '$dur')" bash -c "[[ '$dur' == 2.* ]]"

stop_host "$CTL"
check "host exits 0 (got $RC)" test "$RC" = 0
check "host stderr empty ($(head -c 200 "$TMP/h1.err"))" test ! -s "$TMP/h1.err"
check "host printed its ticks to the end" grep -q '^done$' "$TMP/h1.out"

# ---- HEAPPROF_RATE=1: the delta is exact ----
CTL=$TMP/ctl2
mkdir -p "$CTL"
start_host h2 HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/http_host" "$CTL" || abort "server h2 never answered"
delta_window d2
for i in $(seq 50); do grep -q '^truth burst_in_window' "$TMP/h2.out" && break; sleep 0.1; done
values "$TMP/d2.heap" >"$TMP/d2.values"
check_exact "delta at rate 1" "$TMP/d2.values" "$TMP/h2.out" burst_in_window
got=$(value "$TMP/d2.values" setup_before alloc_objects)
check "delta at rate 1: setup_before is 0 (got $got)" test "$got" = 0

# ---- port in use, while h2 holds it ----
run inuse HEAPPROF_HTTP="127.0.0.1:$PORT" -- "$E2E_BIN/tiny"
check "port in use: program exits 0 (got $RC)" test "$RC" = 0
check "port in use: exactly one stderr line ($(wc -l <"$TMP/inuse.err"))" test "$(wc -l <"$TMP/inuse.err")" = 1
check "port in use: the line says so ($(head -1 "$TMP/inuse.err"))" \
    grep -q "^heapprof: cannot serve HTTP on 127.0.0.1:$PORT: Address already in use" "$TMP/inuse.err"
run_plain inuse_plain "$E2E_BIN/tiny"
check "port in use: same stdout as without the library" cmp -s "$TMP/inuse.out" "$TMP/inuse_plain.out"
stop_host "$CTL"
check "h2 exits 0 (got $RC)" test "$RC" = 0

# ---- bad values, and an explicit non-loopback address ----
for v in bogus 127.0.0.1 ":0" "[::1]" ""; do
    run badhttp HEAPPROF_HTTP="$v" -- "$E2E_BIN/tiny"
    check "HEAPPROF_HTTP='$v': exit 0 and one line ($(head -1 "$TMP/badhttp.err"))" \
        bash -c "[ $RC = 0 ] && [ \$(wc -l <'$TMP/badhttp.err') = 1 ] && grep -q '^heapprof: HEAPPROF_HTTP=' '$TMP/badhttp.err'"
done
CTL=$TMP/ctl3
mkdir -p "$CTL"
PORT=$(free_port)
env HEAPPROF_OUT="$TMP/any" HEAPPROF_HTTP="0.0.0.0:$PORT" LD_PRELOAD="$HEAPPROF_LIB" "$E2E_BIN/http_host" "$CTL" \
    >"$TMP/any.out" 2>"$TMP/any.err" &
HOST_PID=$!
for i in $(seq 50); do http /debug/pprof/; [ "$CODE" = 200 ] && break; sleep 0.1; done
check "0.0.0.0:PORT serves (got $CODE)" test "$CODE" = 200
stop_host "$CTL"
check "0.0.0.0:PORT: one warning line ($(head -1 "$TMP/any.err"))" \
    bash -c "[ \$(wc -l <'$TMP/any.err') = 1 ] && grep -q 'reachable from other machines' '$TMP/any.err'"

# ---- fork: the parent serves on, the child lets the port go ----
CTL=$TMP/ctl4
mkdir -p "$CTL"
start_host fork HEAPPROF_INTERVAL=0 -- "$E2E_BIN/http_forker" "$CTL" || abort "forker server never answered"
for i in $(seq 50); do [ -s "$CTL/child.pid" ] && break; sleep 0.1; done
child=$(cat "$CTL/child.pid" 2>/dev/null)
http /debug/pprof/heap
check "after fork: the parent still serves (got $CODE)" test "$CODE" = 200
stop_host "$CTL"
check "forker parent exits 0 (got $RC)" test "$RC" = 0
check "the child is still running (pid '$child')" kill -0 "${child:-999999}"
# Had the child kept the listening socket, the kernel would still accept
# connections into its backlog and curl would wait; refused means it is gone.
rc=0
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/debug/pprof/heap" || rc=$?
check "parent gone, child alive: connection refused at once (curl status $rc, want 7)" test "$rc" = 7
check "parent gone: the port can be listened on again" \
    bash -c "! command -v python3 >/dev/null || python3 -c 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", $PORT)); s.listen()'"
touch "$CTL/stop_child"
for i in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
check "forker: stderr empty ($(head -c 200 "$TMP/fork.err"))" test ! -s "$TMP/fork.err"
finish
