#!/bin/bash
# /debug/pprof/allocs, as Go serves it: the same profile as /heap with
# alloc_space as its default sample type (profile.proto default_sample_type),
# so pull configurations written for Go targets (Parca, Pyroscope) work.
#   - the index page lists it; 200, octet-stream, filename="allocs"
#   - `go tool pprof -top` shows Type: alloc_space for /allocs (file and URL
#     form) and still inuse_space for /heap; the top entries differ as they
#     should (the churning function for allocs, the kept blocks for heap)
#   - the same samples in both (every value equal, idle process)
#   - ?debug=1 and ?seconds=N work there too (filename="allocs-delta")
#   - profiling off (HEAPPROF_RATE=0): /allocs is an empty profile, /metrics is
#     still served (heap values 0, heapprof_sampling_rate_bytes 0)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_http_pprof
mkdir -p "$TMP/ctl"

start_host a HEAPPROF_RATE=65536 HEAPPROF_SEED=5 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/fleet_host" "$TMP/ctl" 4 1 ||
    abort "the server never answered (stderr: $(head -c 300 "$TMP/a.err"))"
for i in $(seq 100); do grep -q '^ready' "$TMP/a.out" && break; sleep 0.1; done
sleep 0.5 # some churn

http /debug/pprof/
check "index lists /debug/pprof/allocs" grep -q 'href="/debug/pprof/allocs' "$TMP/body"
check "index lists /metrics" grep -q 'href="/metrics"' "$TMP/body"

http /debug/pprof/allocs
cp "$TMP/body" "$TMP/allocs.pb.gz"
check "allocs: 200 (got $CODE)" test "$CODE" = 200
check "allocs: application/octet-stream (got '$(header Content-Type)')" \
    test "$(header Content-Type)" = application/octet-stream
check "allocs: Content-Disposition filename=\"allocs\" (got '$(header Content-Disposition)')" \
    test "$(header Content-Disposition)" = 'attachment; filename="allocs"'
http /debug/pprof/heap
cp "$TMP/body" "$TMP/heap.pb.gz"

type_of() { go tool pprof -top "$1" 2>/dev/null | awk '/^Type:/ { print $2; exit }'; }
t=$(type_of "$TMP/allocs.pb.gz")
check "go tool pprof -top /allocs: default Type alloc_space (got '$t')" test "$t" = alloc_space
t=$(type_of "$TMP/heap.pb.gz")
check "go tool pprof -top /heap: default Type still inuse_space (got '$t')" test "$t" = inuse_space
t=$(type_of "http://127.0.0.1:$PORT/debug/pprof/allocs")
check "URL form http://.../debug/pprof/allocs: Type alloc_space (got '$t')" test "$t" = alloc_space
top=$(top_entry "$TMP/allocs.pb.gz")
check "allocs: churn_blocks on top (got '$top')" test "$top" = churn_blocks
top=$(top_entry "$TMP/heap.pb.gz")
check "heap: kept_blocks on top (got '$top')" test "$top" = kept_blocks
top=$(top_entry -sample_index=inuse_space "$TMP/allocs.pb.gz")
check "allocs with -sample_index=inuse_space: kept_blocks on top (got '$top')" test "$top" = kept_blocks

http "/debug/pprof/allocs?debug=1"
check "allocs?debug=1: 200 text/plain legacy text (got $CODE)" \
    bash -c "[ $CODE = 200 ] && head -1 '$TMP/body' | grep -q '^heap profile: '"
http "/debug/pprof/allocs?seconds=1"
cp "$TMP/body" "$TMP/delta.pb.gz"
check "allocs?seconds=1: 200, filename=\"allocs-delta\" (got $CODE, '$(header Content-Disposition)')" \
    bash -c "[ $CODE = 200 ] && [ '$(header Content-Disposition)' = 'attachment; filename=\"allocs-delta\"' ]"
t=$(type_of "$TMP/delta.pb.gz")
check "allocs delta: Type alloc_space (got '$t')" test "$t" = alloc_space
v=$(values "$TMP/delta.pb.gz")
got=$(value <(echo "$v") churn_blocks alloc_space)
check "allocs delta: churn_blocks allocated in the window (got $got bytes)" test "$got" -gt 0
got=$(value <(echo "$v") kept_blocks alloc_space)
check "allocs delta: kept_blocks (before the window) is 0 (got $got)" test "$got" = 0
stop_host "$TMP/ctl"
check "host exits 0 (got $RC)" test "$RC" = 0
check "host stderr empty ($(head -c 200 "$TMP/a.err"))" test ! -s "$TMP/a.err"

# An idle process: the two endpoints hold the same samples.
mkdir -p "$TMP/ctl2"
start_host b HEAPPROF_RATE=65536 HEAPPROF_SEED=6 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/fleet_host" "$TMP/ctl2" 2 0 ||
    abort "the second server never answered"
for i in $(seq 100); do grep -q '^ready' "$TMP/b.out" && break; sleep 0.1; done
http /debug/pprof/allocs
go tool pprof -raw "$TMP/body" 2>/dev/null | raw_stacks | sort >"$TMP/b_allocs.raw"
http /debug/pprof/heap
go tool pprof -raw "$TMP/body" 2>/dev/null | raw_stacks | sort >"$TMP/b_heap.raw"
check "idle process: /allocs and /heap hold the same samples ($(wc -l <"$TMP/b_heap.raw") stacks)" \
    bash -c "[ -s '$TMP/b_heap.raw' ] && cmp -s '$TMP/b_allocs.raw' '$TMP/b_heap.raw'"
stop_host "$TMP/ctl2"

mkdir -p "$TMP/ctl3"
start_host off HEAPPROF_RATE=0 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/fleet_host" "$TMP/ctl3" 1 1 ||
    abort "the server of the RATE=0 process never answered"
http /debug/pprof/allocs
# With the server (a control channel, see rate_control.h) the flusher runs at
# rate 0 too: the profile is served, empty, until sampling is switched on.
check "RATE=0: /debug/pprof/allocs is an empty profile (got $CODE, $(go tool pprof -raw "$TMP/body" 2>/dev/null | grep -o 'samples=[0-9]*' | head -1))" \
    bash -c "[ $CODE = 200 ] && go tool pprof -raw '$TMP/body' 2>/dev/null | grep -q 'heapprof samples=0 '"
http /metrics
check "RATE=0: /metrics is 200 with heapprof_sampling_rate_bytes 0 and heapprof_inuse_bytes 0 (got $CODE)" \
    bash -c "[ $CODE = 200 ] && grep -qx 'heapprof_sampling_rate_bytes 0' '$TMP/body' &&
             grep -qx 'heapprof_inuse_bytes 0' '$TMP/body' && grep -q '^process_resident_memory_bytes [1-9]' '$TMP/body'"
stop_host "$TMP/ctl3"
check "RATE=0 host exits 0, stderr empty (got $RC; $(head -c 200 "$TMP/off.err"))" \
    bash -c "[ $RC = 0 ] && [ ! -s '$TMP/off.err' ]"
finish
