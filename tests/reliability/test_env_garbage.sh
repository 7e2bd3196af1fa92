#!/bin/bash
# Every HEAPPROF_* variable given garbage (syntax errors, signs, exponents,
# units it does not take, overflow, empty, control characters and a newline,
# non-ASCII digits, 100,000-byte values): each bad value gives exactly one
# "heapprof:" line naming the variable, at most 512 bytes long whatever the
# value's size; the program's stdout and exit status are unchanged and a
# profile is still written with the defaults (HEAPPROF_OUT garbage: in the
# working directory, as "heapprof.<program>.<pid>-<run>.<seq>.pb.gz"). All six at once: six
# lines.
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/churn
args=(2 500 keep)
run_plain plain "$prog" "${args[@]}"
long9=$(printf '9%.0s' $(seq 1 100000))
longx=$(head -c 100000 /dev/zero | tr '\0' x)
nl=$'1\n2'
ctl=$'1\x01\x1b[31m'
i=0
declare -A pprof_done
gzip_ok() { gzip -t "$1" 2>/dev/null; }
# one VAR VALUE: a single bad variable.
one() {
    local var=$1 val=$2 name d
    i=$((i + 1))
    name=g$i
    d=$TMP/$name.d
    mkdir -p "$d"
    local out=(HEAPPROF_OUT="$d/p")
    [ "$var" = HEAPPROF_OUT ] && out=()
    RC=0
    (cd "$d" && timeout 60 env HEAPPROF_INTERVAL=0 ${out[@]+"${out[@]}"} "$var=$val" LD_PRELOAD="$HEAPPROF_LIB" \
        "$prog" "${args[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err") || RC=$?
    local shown
    shown=$(printf '%q' "$val" | cut -c1-40)
    local lines heap named maxlen
    lines=$(wc -l <"$TMP/$name.err")
    heap=$(grep -c '^heapprof: ' "$TMP/$name.err")
    named=$(grep -c "^heapprof: $var" "$TMP/$name.err")
    maxlen=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$TMP/$name.err")
    if [ "$lines" = 1 ] && [ "$heap" = 1 ] && [ "$named" = 1 ] && [ "$maxlen" -le 512 ]; then
        pass "$var=$shown: one heapprof: line naming it ($maxlen bytes)"
    else
        fail "$var=$shown: want one heapprof: line naming $var, <= 512 bytes; got $lines line(s), longest $maxlen: $(head -c 300 "$TMP/$name.err" | tr '\n' '/')"
    fi
    if [ "$RC" = 0 ] && cmp -s "$TMP/plain.out" "$TMP/$name.out"; then
        pass "$var=$shown: exit status 0 and stdout unchanged"
    else
        fail "$var=$shown: exit status $RC or stdout changed"
    fi
    local where=$d/p
    [ "$var" = HEAPPROF_OUT ] && where=$d/heapprof
    # go tool pprof reads the first profile of each variable (it is slow to
    # start); the others must be whole gzip files.
    local f readable=gzip_ok
    f=$(series "$where" | tail -1)
    if [ -z "${pprof_done[$var]:-}" ]; then
        pprof_done[$var]=1
        readable=raw
    fi
    if [ -n "$f" ] && $readable "$f" >/dev/null; then
        pass "$var=$shown: a readable profile written with the defaults ($(series "$where" | tail -1 | sed "s|$TMP/||"))"
    else
        fail "$var=$shown: no readable profile at $where.* ($(ls "$d" | head -5 | tr '\n' ' '))"
    fi
}
for v in abc -1 1e3 0x10 " 1" 5T 2G 18446744073709551616 K "" "$nl" "$ctl" "１" "$longx"; do
    one HEAPPROF_RATE "$v"
done
for v in abc -1 18446744073709551616 0xg 1.5 "" "$long9"; do one HEAPPROF_SEED "$v"; done
for v in 0 257 -1 "" 99999999999999999999 "$nl"; do one HEAPPROF_DEPTH "$v"; done
for v in -1 1e3 1s 0,5 0.001 604801 nan "" . "$long9"; do one HEAPPROF_INTERVAL "$v"; done
for v in 0 60001 abc 1.5 "$ctl"; do one HEAPPROF_FLUSH_MS "$v"; done
for v in "" "$longx"; do one HEAPPROF_OUT "$v"; done

# All at once (OUT too): six lines, profile in the working directory.
mkdir -p "$TMP/all.d"
RC=0
(cd "$TMP/all.d" && timeout 60 env HEAPPROF_RATE=zz HEAPPROF_SEED=zz HEAPPROF_DEPTH=zz HEAPPROF_INTERVAL=zz \
    HEAPPROF_FLUSH_MS=zz HEAPPROF_OUT= LD_PRELOAD="$HEAPPROF_LIB" "$prog" "${args[@]}" \
    >"$TMP/all.out" 2>"$TMP/all.err") || RC=$?
check "all six bad at once: six heapprof: lines ($(wc -l <"$TMP/all.err"))" \
    test "$(grep -c '^heapprof: HEAPPROF_' "$TMP/all.err")" = 6 -a "$(wc -l <"$TMP/all.err")" = 6
check "all six bad at once: exit status 0, stdout unchanged" \
    bash -c "[ $RC = 0 ] && cmp -s '$TMP/plain.out' '$TMP/all.out'"
check "all six bad at once: a profile in the working directory" test -n "$(series "$TMP/all.d/heapprof")"
finish
