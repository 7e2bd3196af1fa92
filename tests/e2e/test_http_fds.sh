#!/bin/bash
# Issue 11, defect 6: a daemon that closes every descriptor above 2 and puts
# its own under the same numbers. heapprof's HTTP server must never accept on,
# read from, write to or close a descriptor it no longer owns: it checks the
# socket's identity (fstat st_dev/st_ino, recorded when it was made) before
# each use, and when the listener is gone it stops with exactly one line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"

# daemon NAME [close-first]: runs progs/fd_daemon under the library, retrying
# on a port that was taken meanwhile.
daemon() {
    local name=$1 attempt
    shift
    for attempt in 1 2 3; do
        PORT=$(free_port)
        run "$name" HEAPPROF_HTTP="127.0.0.1:$PORT" HEAPPROF_RATE=65536 HEAPPROF_INTERVAL=0 -- \
            "$E2E_BIN/fd_daemon" "$PORT" "$@"
        grep -q "cannot serve HTTP" "$TMP/$name.err" || return 0
    done
}

for mode in replace close-first; do
    if [ "$mode" = replace ]; then daemon "$mode"; else daemon "$mode" close-first; fi
    check "$mode: every check of the program held (exit $RC; $(grep -c '^bad' "$TMP/$mode.out") bad: $(grep '^bad' "$TMP/$mode.out" | head -3 | tr '\n' ';'))" \
        test "$RC" -eq 0
    lines=$(grep -c '^heapprof:' "$TMP/$mode.err")
    check "$mode: exactly one heapprof line on stderr (got $lines: $(head -c 300 "$TMP/$mode.err"))" test "$lines" -eq 1
    check "$mode: it says the HTTP server stopped" grep -q '^heapprof: HTTP server on 127.0.0.1:[0-9]* stopped' "$TMP/$mode.err"
    others=$(grep -vc '^heapprof:' "$TMP/$mode.err")
    check "$mode: nothing else on stderr" test "$others" -eq 0
done
finish
