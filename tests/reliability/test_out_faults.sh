#!/bin/bash
# The output folder fails while the program runs (dumps every 0.1 s, rate
# 4096, the program `waiter` allocating every 10 ms until told to stop):
#   missing     HEAPPROF_OUT in a folder that does not exist yet
#   notdir      HEAPPROF_OUT under a regular file (mkdir/open fail: ENOTDIR;
#               works as root too)
#   readonly    a tmpfs remounted read-only (EROFS)           [root + mount]
#   full        a 64 KiB tmpfs filled up (ENOSPC)              [root + mount]
# For each: exactly one "heapprof:" line for the failure while it lasts, the
# host runs on (its stdout and exit status 3 unchanged), then the fault is
# repaired and the next dump succeeds (a "works again" line, new profiles,
# the final dump at exit, all readable). The folder is polled every few ms
# during the run: a *.pb.gz name is never seen incomplete, and no temporary
# file is left after a failed write.
. "$(dirname "$0")/lib.sh"
need_go
prog=$RELI_BIN/waiter

# wait_until SECONDS CMD...: polls CMD every 20 ms.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.02
    done
}
has_profile() { [ -n "$(series "$1")" ]; }
err_has() { grep -q "$2" "$TMP/$1.err"; }

# poll_dir DIR LOG: records every name seen in DIR; each *.pb.gz at first
# sight must be a whole gzip file. Runs until $TMP/stop-poll exists.
poll_dir() {
    local dir=$1 log=$2 f
    declare -A seen
    : >"$log"
    while [ ! -e "$TMP/stop-poll" ]; do
        for f in "$dir"/*; do
            [ -e "$f" ] || continue
            [ -n "${seen[$f]:-}" ] && continue
            seen[$f]=1
            case $f in
            *.pb.gz)
                if gzip -t "$f" 2>/dev/null; then echo "whole $f" >>"$log"; else echo "PARTIAL $f" >>"$log"; fi ;;
            *) echo "other $f" >>"$log" ;;
            esac
        done
        sleep 0.003
    done
}

# scenario NAME PREFIX BREAK REPAIR ERRTEXT: BREAK runs before the program
# starts, REPAIR once the failure was reported.
scenario() {
    local name=$1 prefix=$2 break=$3 repair=$4 errtext=$5
    local dir
    dir=$(dirname "$prefix")
    $break || { fail "$name: could not set up the fault"; return; }
    rm -f "$TMP/stop" "$TMP/stop-poll"
    local poller=
    if [ -d "$dir" ]; then
        poll_dir "$dir" "$TMP/$name.poll" &
        poller=$!
    fi
    : >"$TMP/$name.err"
    timeout 60 env HEAPPROF_RATE=4096 HEAPPROF_INTERVAL=0.1 HEAPPROF_OUT="$prefix" LD_PRELOAD="$HEAPPROF_LIB" \
        "$prog" "$TMP/stop" 3 >"$TMP/$name.out" 2>"$TMP/$name.err" &
    local pid=$!
    if wait_until 10 err_has $name '^heapprof: '; then
        sleep 0.4 # several more failing dumps: still one line
        local lines
        lines=$(grep -c '^heapprof: ' "$TMP/$name.err")
        check "$name: exactly one heapprof: line while the fault lasts ($lines: $(head -c 300 "$TMP/$name.err" | tr '\n' '/'))" \
            test "$lines" = 1
        check "$name: the line gives the reason ($errtext)" grep -q "$errtext" "$TMP/$name.err"
        check "$name: the host runs on during the fault" kill -0 $pid
        if [ -d "$dir" ]; then
            local left
            left=$(find "$dir" -name "$(basename "$prefix")*" | sed 's|.*/||' | tr '\n' ' ')
            check "$name: nothing of ours in the folder after failed writes (${left:-none})" test -z "$left"
        fi
    else
        fail "$name: no heapprof: line within 10 s (stderr: $(head -c 300 "$TMP/$name.err"))"
    fi
    $repair || fail "$name: could not repair the fault"
    if [ -z "$poller" ] && [ -d "$dir" ]; then
        poll_dir "$dir" "$TMP/$name.poll" &
        poller=$!
    fi
    wait_until 10 has_profile "$prefix" ||
        fail "$name: no profile within 10 s after the fault was repaired"
    sleep 0.3
    touch "$TMP/stop"
    local rc=0
    wait $pid || rc=$?
    touch "$TMP/stop-poll"
    [ -n "$poller" ] && wait $poller
    check "$name: exit status 3 passed through (got $rc)" test $rc = 3
    check "$name: the host's stdout is whole" grep -q 'waiter stopped on request' "$TMP/$name.out"
    check "$name: \"works again\" reported once after the repair" \
        test "$(grep -c '^heapprof: writing profiles works again' "$TMP/$name.err")" = 1
    check "$name: stderr has just those two lines ($(tr '\n' '/' <"$TMP/$name.err" | head -c 400))" \
        test "$(wc -l <"$TMP/$name.err")" = 2
    check_profiles "$name" "$prefix" final
    if [ -f "$TMP/$name.poll" ]; then
        local partial tmps
        partial=$(grep -c '^PARTIAL' "$TMP/$name.poll")
        check "$name: no *.pb.gz ever seen incomplete while polling ($partial)" test "$partial" = 0
        tmps=$(grep -c '\.tmp\.' "$TMP/$name.poll")
        note "$name: $(grep -c '^whole' "$TMP/$name.poll") profiles seen whole while polling; temporary names seen in passing: $tmps"
    fi
}

# missing: the folder appears later.
scenario missing "$TMP/missing/p" true "mkdir $TMP/missing" "No such file or directory"

# notdir: the folder is (a symlink to) a regular file; the repair swaps it
# atomically for a folder, so no other kind of failure shows in between.
notdir_break() { : >"$TMP/afile" && mkdir "$TMP/adir" && ln -s afile "$TMP/notdir"; }
notdir_repair() { ln -s adir "$TMP/notdir.new" && mv -T "$TMP/notdir.new" "$TMP/notdir"; }
scenario notdir "$TMP/notdir/p" notdir_break notdir_repair "Not a directory"

can_mount=0
if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/mnt-probe" && mount -t tmpfs -o size=64k tmpfs "$TMP/mnt-probe" 2>/dev/null; then
    umount "$TMP/mnt-probe"
    can_mount=1
fi
if [ $can_mount = 1 ]; then
    mounts=()
    cleanup_mounts() { for m in ${mounts[@]+"${mounts[@]}"}; do umount "$m" 2>/dev/null; done; e2e_cleanup; }
    trap cleanup_mounts EXIT
    ro_break() { mkdir -p "$TMP/ro" && mount -t tmpfs -o size=1m tmpfs "$TMP/ro" && mounts+=("$TMP/ro") &&
        mount -o remount,ro "$TMP/ro"; }
    ro_repair() { mount -o remount,rw "$TMP/ro"; }
    scenario readonly "$TMP/ro/p" ro_break ro_repair "Read-only file system"

    full_break() { mkdir -p "$TMP/full" && mount -t tmpfs -o size=64k tmpfs "$TMP/full" && mounts+=("$TMP/full") &&
        { dd if=/dev/zero of="$TMP/full/filler" bs=4k 2>/dev/null; true; } && [ -s "$TMP/full/filler" ]; }
    full_repair() { rm -f "$TMP/full/filler"; }
    scenario full "$TMP/full/p" full_break full_repair "No space left on device"
else
    echo "SKIP: readonly and full scenarios: need root and permission to mount a tmpfs (uid $(id -u))"
fi
finish
