#!/bin/bash
# HEAPPROF_BUILD_IDS: each mapping's GNU build ID in the profile, or none.
#   - unset and =0: no mapping has a build id (the default: Go 1.19's pprof
#     rejects the right binary under PPROF_BINARY_PATH when there is one,
#     google/pprof#455), and a binary moved to PPROF_BINARY_PATH is still used
#   - =1: every mapping of a file that has an NT_GNU_BUILD_ID note carries
#     exactly the id `readelf -n` prints for that file (the program, libc)
#   - a bad value: one line, and the default (none) is used
. "$(dirname "$0")/lib.sh"
need_go
command -v readelf >/dev/null 2>&1 || abort "'readelf' is not on PATH (Debian: binutils)"

# mappings FILE: "path<TAB>build_id" per mapping of the profile (build_id may be empty).
mappings() {
    go tool pprof -raw "$1" 2>/dev/null | awk '
        /^Mappings/ { on = 1; next }
        on && /^ *[0-9]+: 0x/ {
            path = $3; id = ""
            if (NF >= 4 && $4 ~ /^[0-9a-f]+$/) id = $4
            printf "%s\t%s\n", path, id
        }'
}
# build_id_of FILE: what readelf says, "" when the file has none.
build_id_of() { readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'; }

for setting in unset 0 1 yes; do
    vars=(HEAPPROF_RATE=4096 HEAPPROF_INTERVAL=0)
    [ "$setting" != unset ] && vars+=("HEAPPROF_BUILD_IDS=$setting")
    run "b_$setting" "${vars[@]}" -- "$E2E_BIN/tiny"
    if [ "$setting" = yes ]; then
        check "HEAPPROF_BUILD_IDS=yes: exit 0 (got $RC)" test "$RC" = 0
        check "HEAPPROF_BUILD_IDS=yes: one line saying the default is used ($(head -c 200 "$TMP/b_yes.err"))" \
            bash -c "[ \"\$(wc -l <'$TMP/b_yes.err')\" = 1 ] &&
                     grep -qx 'heapprof: HEAPPROF_BUILD_IDS=\"yes\" is not 0 or 1; using 0' '$TMP/b_yes.err'"
    else
        expect_clean_run "b_$setting" && pass "HEAPPROF_BUILD_IDS=$setting: clean run"
    fi
    f=$(series "$TMP/b_$setting" | tail -1)
    [ -n "$f" ] || { fail "HEAPPROF_BUILD_IDS=$setting: no profile written"; continue; }
    mappings "$f" >"$TMP/b_$setting.maps"
    check "HEAPPROF_BUILD_IDS=$setting: the program is among the mappings" \
        grep -q "^$E2E_BIN/tiny	" "$TMP/b_$setting.maps"
    if [ "$setting" = 1 ]; then
        n=0
        while IFS=$'\t' read -r path id; do
            [ -f "$path" ] || continue
            want=$(build_id_of "$path")
            [ -n "$want" ] || continue
            n=$((n + 1))
            check "HEAPPROF_BUILD_IDS=1: $(basename "$path") has build id $want (got '${id:-none}')" \
                test "$id" = "$want"
        done <"$TMP/b_1.maps"
        check "HEAPPROF_BUILD_IDS=1: the program and libc were compared ($n mappings)" test "$n" -ge 2
    else
        check "HEAPPROF_BUILD_IDS=$setting: no mapping has a build id ($(cut -f2 "$TMP/b_$setting.maps" | sort -u | tr '\n' ' '))" \
            bash -c "! cut -f2 '$TMP/b_$setting.maps' | grep -q ."
    fi
done

# Why the default is 0: the program moved into PPROF_BINARY_PATH is found
# without a build id (DWARF file:line shown), rejected with one.
mkdir -p "$TMP/bin" "$TMP/moved"
cp "$E2E_BIN/tiny" "$TMP/bin/tiny"
run moved HEAPPROF_RATE=4096 HEAPPROF_INTERVAL=0 -- "$TMP/bin/tiny"
run moved_ids HEAPPROF_RATE=4096 HEAPPROF_INTERVAL=0 HEAPPROF_BUILD_IDS=1 -- "$TMP/bin/tiny"
mv "$TMP/bin/tiny" "$TMP/moved/tiny"
out=$(PPROF_BINARY_PATH="$TMP/moved" go tool pprof -lines -top "$(series "$TMP/moved" | tail -1)" 2>&1)
check "default: a binary moved to PPROF_BINARY_PATH gives file:line (tiny.c:N)" grep -q 'tiny\.c:[0-9]' <<<"$out"
out=$(PPROF_BINARY_PATH="$TMP/moved" go tool pprof -lines -top "$(series "$TMP/moved_ids" | tail -1)" 2>&1)
if grep -q 'build-id mismatch' <<<"$out"; then
    echo "note: with build ids this pprof rejects the moved binary (google/pprof#455), as docs/fleet.md says"
else
    echo "note: this pprof accepts the moved binary with build ids too: HEAPPROF_BUILD_IDS=1 could become the default"
fi
finish
