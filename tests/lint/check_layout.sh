#!/bin/bash
# Fails when an #include breaks the folder map of docs/design.md ("Parts:
# folders by stage"): calls go one way, interpose -> record -> base, with
# control driving everything. Also keeps the malloc hot path (interpose/shim.c)
# free of the flusher's headers, even transitively.
set -u
src=${1:-$(dirname "$0")/../../src}
cd "$src" || exit 2
fail=0

# allowed FOLDER TARGET_HEADER: may FOLDER include TARGET_HEADER (folder/x.h)?
allowed() {
    local from=$1 to=$2 tofolder=${2%%/*}
    [ "$from" = "$tofolder" ] && return 0
    case "$from:$tofolder" in
    base:*) return 1 ;;
    *:base) return 0 ;;
    record:*) return 1 ;;
    export:*) return 1 ;;
    aggregate:export) [ "$to" = export/pprof.h ] ;;
    aggregate:*) return 1 ;;
    interpose:record) return 0 ;;
    interpose:control)
        case "$to" in control/start.h | control/final_dump.h | control/state.h | control/exit_signals.h) return 0 ;; esac
        return 1 ;;
    interpose:*) return 1 ;;
    control:*) return 0 ;;
    *) return 1 ;;
    esac
}

includes() { grep -o '^#include "[a-z_]*/[a-z_0-9]*\.h"' "$1" | sed 's/#include "//;s/"$//'; }

for f in */*.[ch]; do
    from=${f%%/*}
    for to in $(includes "$f"); do
        if [ ! -f "$to" ]; then
            echo "layout: $f includes $to, which does not exist"; fail=1
        elif ! allowed "$from" "$to"; then
            echo "layout: $f includes $to: $from/ may not call ${to%%/*}/ (docs/design.md, folder map)"; fail=1
        fi
    done
done

# Everything interpose/shim.c pulls in, transitively: record/ and base/ only.
declare -A seen=()
todo=(interpose/shim.h)
for to in $(includes interpose/shim.c); do todo+=("$to"); done
while [ ${#todo[@]} -gt 0 ]; do
    h=${todo[0]}; todo=("${todo[@]:1}")
    [ -n "${seen[$h]:-}" ] && continue
    seen[$h]=1
    case "$h" in
    record/* | base/* | interpose/*) ;;
    *) echo "layout: interpose/shim.c (the malloc hot path) pulls in $h"; fail=1 ;;
    esac
    [ -f "$h" ] && for to in $(includes "$h"); do todo+=("$to"); done
done

[ $fail -eq 0 ] && echo "layout: $(ls */*.[ch] | wc -l) files follow the folder map"
exit $fail
