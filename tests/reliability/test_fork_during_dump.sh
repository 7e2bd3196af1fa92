#!/bin/bash
# fork() never waits for a dump being written (issue 11, defect 5): the dump
# is held up inside its encoding (the program's own __cxa_demangle blocks
# until fork() has returned, at most 10 s), so the test compares the order of
# the two events, not times. Before the fix the atfork prepare handler waited
# for the lock held during the whole encoding, gzip and fsync.
. "$(dirname "$0")/lib.sh"
need_go
run fd HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$RELI_BIN/forkdump" "$TMP/api.pb.gz"
if expect_clean_run fd; then
    check "fork() returned while the dump was being encoded ($(head -1 "$TMP/fd.out"))" \
        grep -qx "fork returned during the dump" "$TMP/fd.out"
    check "the dump and the child succeeded ($(sed -n 2p "$TMP/fd.out"))" grep -qx "dump 0 child 0" "$TMP/fd.out"
    check "the API dump is readable and names the sampled function" grep -q _Z6leakerm <(raw "$TMP/api.pb.gz")
fi
check_profiles fd "$TMP/fd" final
finish
