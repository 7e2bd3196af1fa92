#!/bin/bash
# C23 free_sized / free_aligned_sized (issue 11, defect 5): heapprof defines
# them (glibc 2.36 has neither; glibc 2.39 does), so a sampled, padded block
# freed that way reaches the allocator by its base and its FREE is recorded.
# At HEAPPROF_RATE=1 (every block sampled and padded, the aligned ones by one
# alignment) and with the address set (HEAPPROF_HEADERS=0): exact values.
. "$(dirname "$0")/lib.sh"
need_go
for mode in 1 0; do
    name=hdr$mode
    run $name HEAPPROF_RATE=1 HEAPPROF_HEADERS=$mode HEAPPROF_INTERVAL=0 -- "$E2E_BIN/sized"
    expect_clean_run $name || continue
    file=$(series "$TMP/$name" | tail -1)
    values "$file" >"$TMP/$name.values"
    for f in sized_alloc sized_aligned; do
        for c in alloc_objects inuse_objects inuse_space; do
            got=$(value "$TMP/$name.values" $f $c)
            want=$(truth "$TMP/$name.out" $f $c)
            check "HEAPPROF_HEADERS=$mode: $f $c = $want (got $got)" test "$got" = "$want"
        done
    done
done
finish
