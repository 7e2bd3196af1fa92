#!/bin/bash
# dlopen of a plugin that allocates, then dlclose, 50 times, at rate 1: the
# final profile (written after the plugin is gone) still names plugin_alloc,
# with the exact bytes still in use (half freed after the last dlclose) and
# every allocation counted; the mapping of the plugin is kept. Also at the
# default rate: same output, readable profiles.
. "$(dirname "$0")/lib.sh"
need_go
: "${RELI_PLUGIN:?set RELI_PLUGIN to the plugin .so}"
plugin=$(realpath "$RELI_PLUGIN")
run_plain plain "$RELI_BIN/dl" "$plugin" 50
run dl HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.05 -- "$RELI_BIN/dl" "$plugin" 50
if expect_clean_run dl; then
    check_profiles dl "$TMP/dl" final
    last=$(series "$TMP/dl" | tail -1)
    values "$last" >"$TMP/dl.values"
    for c in alloc_objects alloc_space inuse_objects inuse_space; do
        got=$(value "$TMP/dl.values" plugin_alloc $c)
        want=$(truth "$TMP/dl.out" plugin_alloc $c)
        check "final profile after dlclose: plugin_alloc $c = $want (got $got)" test "$got" = "$want"
    done
    check "the final profile keeps the plugin's mapping ($(basename "$plugin"))" \
        grep -q "$(basename "$plugin")" <(raw "$last" | sed -n '/^Mappings/,$p')
    check "the final profile names no unknown frame where plugin_alloc should be" \
        test "$(value "$TMP/dl.values" '??' inuse_space)" = 0
fi
# Lock order: a plugin whose constructor (run by dlopen, loader lock held)
# calls heapprof_dump, heapprof_get_stats and fork, loaded 20 times while the
# flusher dumps a profile of 32768 stacks every 10 ms. heapprof used to call
# dlsym (under its lock) in every dump: a deadlock within a few cycles.
: "${RELI_CTOR_PLUGIN:?set RELI_CTOR_PLUGIN to the constructor plugin .so}"
run ctor HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.01 CTOR_DUMP="$TMP/ctor.pb.gz" -- \
    "$RELI_BIN/dlctor" "$(realpath "$RELI_CTOR_PLUGIN")" 20
if expect_clean_run ctor; then
    check "a constructor that dumps and forks while the flusher dumps: no deadlock" grep -qx "done 20" "$TMP/ctor.out"
    check "the constructor's dump is readable" raw "$TMP/ctor.pb.gz"
fi
run dl.default -- "$RELI_BIN/dl" "$plugin" 50
expect_clean_run dl.default && check "default rate: same output as without the library" cmp -s "$TMP/plain.out" "$TMP/dl.default.out"
check_profiles dl.default "$TMP/dl.default" final
finish
