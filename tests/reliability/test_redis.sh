#!/bin/bash
# Debian's unmodified redis-server (it links jemalloc: the library must wrap
# jemalloc and forward malloc_usable_size to it) on a random loopback port,
# driven by redis-benchmark and redis-cli, started and stopped by the test
# (SHUTDOWN NOSAVE: the final dump is written at shutdown). Run plain, at
# HEAPPROF_RATE=1 and at the default rate (redis-benchmark preloaded too):
#   - server and benchmark exit 0, no "heapprof:" line, the server's log shows
#     a normal start and shutdown
#   - redis-cli's answers (DBSIZE, values, a Lua script, SORT, MEMORY USAGE of
#     fixed values, which jemalloc's malloc_usable_size decides) are identical
#     to the plain run; used_memory (also malloc_usable_size based) within 10%
#   - jemalloc is still the allocator (INFO mem_allocator, MALLOC-STATS)
#   - every profile readable; the server's newest one is its final dump
. "$(dirname "$0")/lib.sh"
need_go
for c in redis-server redis-benchmark redis-cli; do
    command -v $c >/dev/null || abort "$c is missing (Debian: apt-get install redis-server redis-tools)"
done
free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

# session KIND: one server life.
session() {
    local kind=$1 port pre=()
    local d=$TMP/redis.$kind.d
    mkdir -p "$d"
    case $kind in
    plain) ;;
    rate1) pre=(HEAPPROF_RATE=1 HEAPPROF_OUT="$TMP/redis.$kind" LD_PRELOAD="$HEAPPROF_LIB") ;;
    default) pre=(HEAPPROF_OUT="$TMP/redis.$kind" LD_PRELOAD="$HEAPPROF_LIB") ;;
    esac
    local cli
    for _ in 1 2 3; do
        port=$(free_port)
        timeout 120 env ${pre[@]+"${pre[@]}"} redis-server --port "$port" --bind 127.0.0.1 --save '' \
            --appendonly no --daemonize no --dir "$d" --logfile '' --io-threads 2 \
            >"$TMP/redis.$kind.log" 2>&1 &
        SERVER=$!
        local up=0
        for _ in $(seq 1 250); do
            if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then up=1; break; fi
            kill -0 $SERVER 2>/dev/null || break
            sleep 0.02
        done
        [ $up = 1 ] && break
        kill $SERVER 2>/dev/null
        wait $SERVER 2>/dev/null
        grep -q 'Address already in use' "$TMP/redis.$kind.log" || break
    done
    [ $up = 1 ] || { fail "redis.$kind: the server did not come up: $(tail -c 400 "$TMP/redis.$kind.log")"; return 1; }
    cli=(redis-cli -p "$port")
    local brc=0
    timeout 120 env ${pre[@]+"${pre[@]}"} redis-benchmark -p "$port" -q -n 2000 -c 8 -P 4 --threads 2 \
        -t set,get,incr,lpush,lpop,sadd,hset,zadd,lrange_100,mset \
        >"$TMP/redis.$kind.bench" 2>&1 || brc=$?
    echo "$brc" >"$TMP/redis.$kind.brc"
    {
        "${cli[@]}" dbsize
        awk 'BEGIN { for (i = 1; i <= 200; i++) { v = ""; for (j = 0; j <= i % 50; j++) v = v "v"; print "SET k" i " " v } }' |
            "${cli[@]}" >/dev/null
        "${cli[@]}" get k77
        "${cli[@]}" rpush list 5 3 9 1 7 >/dev/null
        "${cli[@]}" sort list
        "${cli[@]}" eval "local t = {} for i = 1, 1000 do t[i] = tostring(i) end return #table.concat(t, ',')" 0
        for k in k1 k50 k199 list; do "${cli[@]}" memory usage $k; done
        "${cli[@]}" dbsize
    } >"$TMP/redis.$kind.answers" 2>&1
    "${cli[@]}" info memory | tr -d '\r' >"$TMP/redis.$kind.info"
    "${cli[@]}" memory malloc-stats | head -1 | tr -d '\r' >"$TMP/redis.$kind.mstats"
    "${cli[@]}" shutdown nosave >/dev/null 2>&1
    local rc=0
    wait $SERVER || rc=$?
    echo "$rc" >"$TMP/redis.$kind.rc"
    echo "redis ($kind): port $port, server exit $rc, benchmark exit $brc"
}

for kind in plain rate1 default; do session $kind; done
used() { awk -F: '$1 == "used_memory" { print $2 }' "$TMP/redis.$1.info"; }
for kind in rate1 default; do
    n=redis.$kind
    check "$n: server exit status 0 after SHUTDOWN (got $(cat "$TMP/$n.rc"))" test "$(cat "$TMP/$n.rc")" = 0
    check "$n: redis-benchmark exit status 0 (got $(cat "$TMP/$n.brc"))" \
        test "$(cat "$TMP/$n.brc")" = 0
    check "$n: no heapprof: line from the server or the benchmark" \
        bash -c "! grep -q 'heapprof:' '$TMP/$n.log' '$TMP/$n.bench'"
    check "$n: the server log shows a normal start and shutdown" \
        bash -c "grep -q 'Ready to accept connections' '$TMP/$n.log' && grep -q 'ready to exit, bye bye' '$TMP/$n.log'"
    check "$n: redis-cli answers identical to the plain run (incl. MEMORY USAGE)$(diff "$TMP/redis.plain.answers" "$TMP/$n.answers" | head -4 | tr '\n' '/')" \
        cmp -s "$TMP/redis.plain.answers" "$TMP/$n.answers"
    check "$n: jemalloc is still the allocator ($(grep mem_allocator "$TMP/$n.info"), $(cut -c1-40 "$TMP/$n.mstats"))" \
        bash -c "grep -q 'mem_allocator:jemalloc' '$TMP/$n.info' && grep -qi jemalloc '$TMP/$n.mstats'"
    a=$(used $kind) b=$(used plain)
    check "$n: used_memory $a within 10% of the plain run's $b (malloc_usable_size forwarded to jemalloc)" \
        within "${a:-0}" "${b:-1}" 10
    check_profiles "$n" "$TMP/$n"
    nfinal=0
    for pid in $(pids "$TMP/$n"); do is_final "$(series "$TMP/$n" "$pid" | tail -1)" && nfinal=$((nfinal + 1)); done
    check "$n: server and benchmark each ended with a final dump ($nfinal of $(pids "$TMP/$n" | wc -l))" \
        test "$nfinal" = 2 -a "$(pids "$TMP/$n" | wc -l)" = 2
done
finish
