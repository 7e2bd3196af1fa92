#!/bin/bash
# fork(): the child gets its own series <prefix>.<program>.<childpid>-<run>.NNNN.pb.gz with
# child_work in it (2 MiB in use, exact at rate 1), written by its own flusher
# (HEAPPROF_INTERVAL=0.2 and the child lives 0.8 s, so at least one periodic
# dump plus the final one); the parent's series has parent_work (3 MiB) and
# parent_after (1 MiB) and no trace of child_work.
. "$(dirname "$0")/lib.sh"
need_go
MiB=1048576

run fork HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.2 -- "$E2E_BIN/forker"
expect_clean_run fork || finish
child=$(awk '$1 == "child" { print $2 }' "$TMP/fork.out")
parent=$(pids "$TMP/fork" | grep -vx "$child" | head -1)
echo "parent pid ${parent:-?}, child pid $child; files:"
series "$TMP/fork" | sed "s|$TMP/|    |"

[ -n "$parent" ] || abort "no profile series from the parent"
cfiles=$(series "$TMP/fork" "$child" | wc -l)
check "child wrote its own series ($cfiles files, want >= 2: periodic + final)" test "$cfiles" -ge 2
check "only parent and child wrote files" test "$(pids "$TMP/fork" | wc -l)" = 2

if [ "$cfiles" -ge 1 ]; then
    values "$(series "$TMP/fork" "$child" | tail -1)" >"$TMP/child.values"
    got=$(value "$TMP/child.values" child_work inuse_space)
    check "child's final profile: child_work inuse_space $got = 2 MiB" test "$got" = $((2 * MiB))
    got=$(value "$TMP/child.values" parent_work inuse_space)
    echo "note: the child's profile shows $got B of the inherited parent_work blocks"
fi
values "$(series "$TMP/fork" "$parent" | tail -1)" >"$TMP/parent.values"
got=$(value "$TMP/parent.values" parent_work inuse_space)
check "parent's final profile: parent_work inuse_space $got = 3 MiB" test "$got" = $((3 * MiB))
got=$(value "$TMP/parent.values" parent_after inuse_space)
check "parent's final profile: parent_after inuse_space $got = 1 MiB" test "$got" = $((1 * MiB))
got=$(value "$TMP/parent.values" child_work alloc_objects)
check "parent's final profile has no child_work allocations (got $got)" test "$got" = 0
finish
