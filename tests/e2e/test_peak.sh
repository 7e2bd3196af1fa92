#!/bin/bash
# issue 13, the peak profile: a() holds 200 MB for half a second and frees it,
# then b() keeps 20 MB.
#   - at exit, NNNN.peak.pb.gz beside the final dump NNNN.pb.gz: the peak
#     shows a() at 200 MB +-10% and no b(); the final dump b() at 20 MB +-10%
#     and a() at nothing (go tool pprof -top -sample_index=inuse_space)
#   - /debug/pprof/heap?peak=1 serves it (listed on the index page), and a
#     HEAPPROF_SIGNAL dump writes one beside its file
#   - heapprof_dump(PATH) writes PATH's .peak.pb.gz beside it
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_http_pprof
prog=$E2E_BIN/peakage

# inuse_space of FUNCTION (flat) in FILE, from pprof -top -sample_index=inuse_space.
inuse() {
    values "$2" -sample_index=inuse_space >"$TMP/v" && value "$TMP/v" "$1" inuse_space
}

check_peak() { # LABEL FILE: a() at 200 MB +-10%, b() nothing
    local got
    got=$(inuse a "$2")
    check "$1: a() at 200 MB +-10% (got $got, $(pct "$got" 200000000))" within "$got" 200000000 10
    check "$1: no b() (got $(inuse b "$2"))" test "$(inuse b "$2")" = 0
}

run file HEAPPROF_RATE=65536 HEAPPROF_SEED=5 -- "$prog" peak
if expect_clean_run file; then
    final=$(series "$TMP/file" | tail -1)
    peak=$(peaks "$TMP/file" | tail -1)
    check "the peak profile is beside the final dump (${final##*/}, ${peak##*/})" \
        test "$peak" = "${final%.pb.gz}.peak.pb.gz"
    check_peak "peak at exit" "$peak"
    got=$(inuse b "$final")
    check "final dump: b() at 20 MB +-10% (got $got)" within "$got" 20000000 10
    check "final dump: no a() (got $(inuse a "$final"))" test "$(inuse a "$final")" = 0
    go tool pprof -top -sample_index=inuse_space "$peak" >"$TMP/peak.top" 2>&1
    check "pprof -top of the peak names a() first" test "$(top_entry -sample_index=inuse_space "$peak")" = a
    check "its comments say it is the peak and how big" grep -q "heapprof peak profile, in-use estimate [0-9]* bytes at" "$TMP/peak.top"
fi

# Over HTTP and with a signal dump, while the program holds b().
CTL=$TMP/ctl
mkdir -p "$CTL"
start_host served HEAPPROF_RATE=65536 HEAPPROF_SIGNAL=SIGUSR2 HEAPPROF_INTERVAL=0 -- "$prog" peak "$CTL" ||
    abort "the server never answered (stderr: $(head -c 300 "$TMP/served.err"))"
http /debug/pprof/
check "index page lists /debug/pprof/heap?peak=1" grep -q 'heap?peak=1' "$TMP/body"
touch "$CTL/go"
for i in $(seq 300); do [ -e "$CTL/ready" ] && break; sleep 0.1; done
http "/debug/pprof/heap?peak=1"
cp "$TMP/body" "$TMP/served.peak"
check "?peak=1: 200 (got $CODE)" test "$CODE" = 200
check_peak "?peak=1" "$TMP/served.peak"
http "/debug/pprof/heap?peak=2"
check "?peak=2: 400 (got $CODE)" test "$CODE" = 400
http "/debug/pprof/heap?peak=1&seconds=1"
check "?peak=1&seconds=1: 400 (got $CODE)" test "$CODE" = 400
kill -USR2 "$HOST_PID"
sig_peak() { peaks "$TMP/served" "$HOST_PID" | head -1; }
for i in $(seq 50); do [ -n "$(sig_peak)" ] && break; sleep 0.1; done
sp=$(sig_peak)
check "signal dump: 0001.peak.pb.gz beside 0001.pb.gz (got ${sp##*/})" \
    test -n "$sp" -a "${sp%.peak.pb.gz}.pb.gz" = "$(series_file "$TMP/served" "$HOST_PID" 1)"
[ -n "$sp" ] && check_peak "signal dump's peak" "$sp"
stop_host "$CTL"
check "host exited 0 (got $RC)" test "$RC" = 0

# The API: heapprof_dump(PATH) writes the peak beside PATH.
run api HEAPPROF_RATE=65536 -- "$E2E_BIN/api_demo" "$TMP/api.1.pb.gz" "$TMP/api.2.pb.gz"
check "heapprof_dump: api.1.peak.pb.gz and api.2.peak.pb.gz beside the dumps" \
    test -s "$TMP/api.1.peak.pb.gz" -a -s "$TMP/api.2.peak.pb.gz"
check "heapprof_dump's peak is a profile pprof reads" bash -c "go tool pprof -raw '$TMP/api.2.peak.pb.gz' >/dev/null 2>&1"

finish
