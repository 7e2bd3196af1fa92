#!/bin/bash
# The library must not change what programs print: every deterministic test
# program's stdout, with and without the library (rate 1 and the default),
# compared byte for byte, and the exit status must be the same.
. "$(dirname "$0")/lib.sh"

for cmd in "known_leaks" "xthread xthread" "xthread realloc" "many_threads" "edge" "cxx_leaks" "tiny 5"; do
    set -- $cmd
    prog=$E2E_BIN/$1
    shift
    name=${cmd// /_}
    run_plain "$name.plain" "$prog" "$@"
    want=$RC
    for rate in 1 default; do
        vars=(HEAPPROF_INTERVAL=0.3)
        [ $rate != default ] && vars+=("HEAPPROF_RATE=$rate")
        run "$name.$rate" "${vars[@]}" -- "$prog" "$@"
        check "$cmd (rate $rate): same stdout and exit status ($RC vs $want)" \
            bash -c "[ $RC = $want ] && cmp -s '$TMP/$name.plain.out' '$TMP/$name.$rate.out'"
        check "$cmd (rate $rate): the library was loaded (a profile exists)" \
            test -n "$(series "$TMP/$name.$rate" | tail -1)"
    done
done
finish
