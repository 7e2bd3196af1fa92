#!/bin/bash
# issue 13, the sample labels, read with `go tool pprof` as on a Go profile:
#   bytes  the allocation size (rounded down to a power of two):
#          -tagfocus bytes=1MB: keeps big() (2 MiB blocks) and drops small()
#          (100 B blocks); -tags lists both sizes
#   age    seconds since the allocation (powers of two): old() allocates,
#          the program sleeps 3 s, young() allocates; -tagfocus age=2s:
#          keeps old() only, -tagignore age=2s: young() only
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/peakage

run labels HEAPPROF_RATE=1 -- "$prog" labels
if expect_clean_run labels; then
    file=$(series "$TMP/labels" | tail -1)
    values "$file" -tagfocus bytes=1MB: >"$TMP/big.values"
    check "bytes=1MB: keeps big() at 16 MiB (got $(value "$TMP/big.values" big inuse_space))" \
        test "$(value "$TMP/big.values" big inuse_space)" = $((16 * 1024 * 1024))
    check "bytes=1MB: drops small() (got $(value "$TMP/big.values" small inuse_space))" \
        test "$(value "$TMP/big.values" small inuse_space)" = 0
    values "$file" -tagfocus bytes=:1kB >"$TMP/small.values"
    check "bytes=:1kB keeps small() at 400000 B (got $(value "$TMP/small.values" small inuse_space))" \
        test "$(value "$TMP/small.values" small inuse_space)" = 400000
    go tool pprof -tags "$file" >"$TMP/tags" 2>&1
    check "-tags lists the sizes 2MB and 64B (100 rounded down)" \
        bash -c "grep -q 'bytes: Total' '$TMP/tags' && grep -qE ': 2MB\$' '$TMP/tags' && grep -qE ': 64B\$' '$TMP/tags'"
fi

run age HEAPPROF_RATE=4096 -- "$prog" age
if expect_clean_run age; then
    file=$(series "$TMP/age" | tail -1)
    values "$file" -tagfocus age=2s: >"$TMP/old.values"
    old=$(value "$TMP/old.values" old inuse_space)
    check "age=2s: keeps old() at 4 MiB +-10% (got $old)" within "$old" $((4 * 1024 * 1024)) 10
    check "age=2s: drops young() (got $(value "$TMP/old.values" young inuse_space))" \
        test "$(value "$TMP/old.values" young inuse_space)" = 0
    values "$file" -tagignore age=2s: >"$TMP/young.values"
    young=$(value "$TMP/young.values" young inuse_space)
    check "-tagignore age=2s: keeps young() at 4 MiB +-10% (got $young)" within "$young" $((4 * 1024 * 1024)) 10
    check "-tagignore age=2s: drops old()" test "$(value "$TMP/young.values" old inuse_space)" = 0
    go tool pprof -tags "$file" >"$TMP/age.tags" 2>&1
    check "-tags shows ages in seconds (2s or 4s for old, 0 for young)" \
        bash -c "grep -q 'age: Total' '$TMP/age.tags' && grep -qE ': (2s|4s)\$' '$TMP/age.tags'"
    # Allocation totals carry no age: with -tagfocus they are left out, not misdated.
    values "$file" -sample_index=alloc_space >"$TMP/alloc.values"
    check "alloc_space of old() still counted (no age filter)" \
        test "$(value "$TMP/alloc.values" old alloc_space)" -gt 0
fi

finish
