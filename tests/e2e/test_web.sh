#!/bin/bash
# heapprof web PROFILE [BASE]: starts `go tool pprof -http` on loopback, prints
# the flame graph's address when the server answers, serves until stopped.
# The page, the flame graph (naming recur, the demo's leak), the top table and
# the graph (when graphviz is there) are fetched from it; stopping the command
# stops pprof. Also --help, a bad port and a missing profile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_go
need_curl
H=${HEAPPROF_SCRIPT:?set HEAPPROF_SCRIPT to scripts/heapprof}
demo=${LEAKY_DEMO:?set LEAKY_DEMO to the leaky-demo binary}

timeout 60 "$H" -q --interval 1 --rate 16K --out "$TMP/leak" -- "$demo" --period 0.02 --max-threads 16 --run-time 3 \
    >"$TMP/demo.out" 2>&1 || abort "the demo failed: $(tail -3 "$TMP/demo.out")"
first=$(series "$TMP/leak" | head -1)
last=$(series "$TMP/leak" | tail -1)
[ -n "$first" ] && [ "$first" != "$last" ] || abort "want two dumps, got: $(series "$TMP/leak")"

RC=0
"$H" web --help >"$TMP/help.out" 2>&1 || RC=$?
check "web --help: status 0, usage" bash -c "[ $RC = 0 ] && grep -q '^usage: heapprof web' '$TMP/help.out'"
RC=0
"$H" web --port 70000 "$last" >"$TMP/badport.out" 2>&1 || RC=$?
check "web --port 70000: status 2, one line ($(cat "$TMP/badport.out"))" \
    bash -c "[ $RC = 2 ] && [ \$(wc -l <'$TMP/badport.out') = 1 ]"
RC=0
"$H" web "$TMP/none.pb.gz" >"$TMP/none.out" 2>&1 || RC=$?
check "web on a missing profile: status 2 ($(cat "$TMP/none.out"))" test "$RC" = 2

PORT=$(free_port)
"$H" web --port "$PORT" "$last" "$first" >"$TMP/web.out" 2>"$TMP/web.err" &
web_pid=$!
url=""
for i in $(seq 600); do
    url=$(head -1 "$TMP/web.out")
    [ -n "$url" ] && break
    kill -0 "$web_pid" 2>/dev/null || break
    sleep 0.1
done
check "web prints the flame graph's address ($url; $(head -c 300 "$TMP/web.err"))" \
    test "$url" = "http://127.0.0.1:$PORT/ui/flamegraph"
if [ -n "$url" ]; then
    http /ui/flamegraph
    check "GET /ui/flamegraph: 200 (got $CODE)" test "$CODE" = 200
    check "the flame graph names recur" grep -q recur "$TMP/body"
    http /ui/top
    check "GET /ui/top: 200, recur in it" bash -c "[ $CODE = 200 ] && grep -q recur '$TMP/body'"
    CODE=$(curl -sL -m 60 -o "$TMP/root" -w '%{http_code}' "http://127.0.0.1:$PORT/") || true
    check "GET / (the page): 200 (got $CODE)" test "$CODE" = 200
    if command -v dot >/dev/null 2>&1; then
        check "the page's call graph names recur (graphviz present)" grep -q recur "$TMP/root"
    fi
fi
kill "$web_pid" 2>/dev/null
wait "$web_pid" 2>/dev/null
sleep 0.5
check "stopping heapprof web stops pprof (port $PORT closed)" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
finish
