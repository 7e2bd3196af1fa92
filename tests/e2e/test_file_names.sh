#!/bin/bash
# File names never collide (issue 14, item 5): two processes that are both
# pid 1 (two pid namespaces, as in two containers) on one shared folder, two
# "hosts" (UTS namespaces with their own host names), and a later process with
# the same pid each write their own series; the program's name is in the name;
# every profile's comments say which program, pid, host and start time wrote it.
# Real namespaces (unshare, as root); skipped with the reason where they cannot
# be made.
. "$(dirname "$0")/lib.sh"
need_go
TINY=$E2E_BIN/tiny
unshare --pid --fork --mount-proc true 2>/dev/null ||
    { echo "SKIP: cannot create a pid namespace here (unshare --pid: not root or not allowed)"; exit 0; }

comment() { go tool pprof -raw "$1" 2>/dev/null | grep -o 'heapprof program=.*' | head -1; }

# in_ns NAME HOST: tiny as pid 1 of a new pid namespace (and UTS namespace with
# host name HOST), writing to the shared prefix $TMP/shared.
in_ns() {
    local name=$1 host=$2
    env HEAPPROF_OUT="$TMP/shared" HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 \
        unshare --pid --fork --mount-proc --uts \
        sh -c "hostname '$host' && LD_PRELOAD='$HEAPPROF_LIB' exec '$TINY' 0 400" \
        >"$TMP/$name.out" 2>"$TMP/$name.err"
}

# Two containers at once, same host name, both pid 1.
in_ns c1 samehost &
a=$!
in_ns c2 samehost &
b=$!
wait $a && wait $b
check "both runs exit 0 with a clean stderr" bash -c "! [ -s '$TMP/c1.err' ] && ! [ -s '$TMP/c2.err' ]"
mapfile -t files < <(series "$TMP/shared")
printf '    %s\n' "${files[@]##*/}"
check "two pid-1 processes in two pid namespaces: two files (${#files[@]})" test "${#files[@]}" = 2
check "both are pid 1 and both numbered 0001, under distinct names" \
    bash -c "[[ '${files[0]}' == *.tiny.1-*.0001.pb.gz ]] && [[ '${files[1]:-}' == *.tiny.1-*.0001.pb.gz ]] && [ '${files[0]}' != '${files[1]:-}' ]"
c1=$(comment "${files[0]}")
c2=$(comment "${files[1]:-/none}")
echo "    $c1"
echo "    $c2"
check "the comments name program, pid and host" \
    bash -c "[[ '$c1' == 'heapprof program=tiny pid=1 host=samehost pidns='* ]] && [[ '$c2' == 'heapprof program=tiny pid=1 host=samehost pidns='* ]]"
ns1=$(sed -E 's/.* pidns=([0-9]+) .*/\1/' <<<"$c1")
ns2=$(sed -E 's/.* pidns=([0-9]+) .*/\1/' <<<"$c2")
own=$(stat -L -c %i /proc/self/ns/pid)
check "... and two different pid namespaces, neither this one ($ns1, $ns2; ours $own)" \
    bash -c "[ '$ns1' != '$ns2' ] && [ '$ns1' != '$own' ] && [ '$ns2' != '$own' ]"
now=$(date -u +%s)
start=$(sed -E 's/.* start=([^ ]+) .*/\1/' <<<"$c1")
st=$(date -u -d "$start" +%s 2>/dev/null || echo 0)
check "the start time is the run's ($start, $((now - st)) s ago)" bash -c "[ $((now - st)) -ge 0 ] && [ $((now - st)) -le 120 ]"

# Two hosts: same pid (1), other host names.
rm -f "$TMP"/shared.*
in_ns h1 host-a &
a=$!
in_ns h2 host-b &
b=$!
wait $a && wait $b
mapfile -t files < <(series "$TMP/shared")
check "two hosts, both pid 1: two series (${#files[@]})" test "${#files[@]}" = 2
hosts=$(for f in "${files[@]}"; do comment "$f" | sed -E 's/.* host=([^ ]+) .*/\1/'; done | sort | tr '\n' ' ')
check "their comments name host-a and host-b ($hosts)" test "$hosts" = "host-a host-b "

# A later process with the same pid (pid 1 again, same host name): its own
# series from 0001, not a continuation of the earlier one.
rm -f "$TMP"/shared.*
in_ns s1 samehost
in_ns s2 samehost
mapfile -t files < <(series "$TMP/shared")
check "two runs one after the other, both pid 1: two series, each from 0001 (${files[*]##*/})" \
    bash -c "[ ${#files[@]} = 2 ] && [[ '${files[0]}' == *.0001.pb.gz ]] && [[ '${files[1]:-}' == *.0001.pb.gz ]]"

# The program's name as the file names it: argv[0]'s last part, odd characters as _.
ln -s "$TINY" "$TMP/my prog.v2"
run odd HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$TMP/my prog.v2"
expect_clean_run odd
f=$(series "$TMP/odd" | head -1)
check "a program called 'my prog.v2' writes odd.my_prog_v2.<pid>-<run>.0001.pb.gz (${f##*/})" \
    bash -c "[[ '${f##*/}' =~ ^odd\.my_prog_v2\.[0-9]+-[0-9a-f]{8}\.0001\.pb\.gz$ ]]"

finish
