#!/bin/bash
# The README, pasted: every shell block marked `<!-- test: NAME -->` is run in a
# scratch folder that looks like the source tree (its top-level entries
# symlinked, build-demo/ pointing at this build), and what the README says it
# shows is checked, so README and behaviour cannot drift apart.
#
# Scheme: the line `<!-- test: NAME -->` comes right before a fenced block (the
# commands). A plain ``` block right after it is what the README says they
# print; it is checked line by line (see check_expected): pprof's table (same
# function on top, every function it names present), pprof -list lines (same
# line number and source text), any other line verbatim.
#
# Substitutions, applied to commands and expected output alike:
#   12345        -> the pid the last "...-run" block printed (`pid N`)
#   0a1b2c3d     -> that process's run id (from its files' names)
#   /tmp/        -> the scratch folder's tmp/ (parallel runs do not collide)
#   6060         -> a free port
#   /usr/local   -> a prefix in the scratch folder; `sudo ` dropped; `-j` -> `-j2`
# and PPROF_TMPDIR points into the scratch folder (where the README says
# `go tool pprof URL` saves its copies).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_go
need_curl
SRC=$(cd "$(dirname "$0")/../.." && pwd)
README=$SRC/README.md
BUILD=${HEAPPROF_BUILD:-$(dirname "$(readlink -f "$HEAPPROF_LIB")")}
[ -x "$BUILD/examples/leaky-demo" ] || abort "no leaky-demo in $BUILD/examples (set HEAPPROF_BUILD to the build folder)"

W=$TMP/w
mkdir -p "$W/tmp" "$TMP/blocks" "$TMP/pprof" "$TMP/prefix"
for e in "$SRC"/* "$SRC"/.ci; do
    [ -e "$e" ] || continue
    case ${e##*/} in build | build-*) continue ;; esac
    ln -s "$e" "$W/${e##*/}"
done
ln -s "$BUILD" "$W/build-demo"
export PPROF_TMPDIR=$TMP/pprof
PORT=$(free_port)
PID=""

# The blocks: $TMP/blocks/NAME.sh and, when the README shows output, NAME.expect.
awk -v dir="$TMP/blocks" '
    /^<!-- test: [a-z0-9-]+ -->$/ { name = $3; want = 1; next }
    want && /^```/ { want = 0; inblk = 1; f = dir "/" name ".sh"; printf "" > f; next }
    inblk && /^```$/ { inblk = 0; close(f); after = 1; next }
    inblk { print > f; next }
    after { after = 0; if ($0 == "```") { inexp = 1; e = dir "/" name ".expect"; printf "" > e; next } }
    inexp && /^```$/ { inexp = 0; close(e); next }
    inexp { print > e; next }
' "$README"
for b in packages walkthrough-run walkthrough-diff walkthrough-list walkthrough-top walkthrough-svg \
    live fleet by-hand-run by-hand-read more install; do
    check "README has the marked block '$b'" test -s "$TMP/blocks/$b.sh"
done

subst() {
    sed -e "s#/tmp/#$W/tmp/#g" -e "s/12345-0a1b2c3d/${PID:-12345}-${RUN:-0a1b2c3d}/g" -e "s/12345/${PID:-12345}/g" -e "s/6060/$PORT/g" \
        -e "s#/usr/local#$TMP/prefix#g" -e 's/sudo //g' -e 's/ -j / -j2 /g; s/ -j$/ -j2/'
}

# block NAME: runs the block (substituted) in the scratch folder; output in
# $TMP/NAME.out/.err, status in RC.
block() {
    subst <"$TMP/blocks/$1.sh" >"$TMP/$1.run.sh"
    RC=0
    (cd "$W" && timeout 170 bash "$TMP/$1.run.sh") >"$TMP/$1.out" 2>"$TMP/$1.err" || RC=$?
    check "block $1 exits 0 (got $RC; stderr: $(head -c 400 "$TMP/$1.err"))" test "$RC" = 0
}

# The functions of pprof's first table in a file, in order.
table_funcs() { awk '/ flat%/ { body = 1; next } body && NF >= 6 && $2 ~ /%$/ { print $NF; next } body { exit }' "$1"; }

# check_expected NAME: the README's output of block NAME against the real one.
check_expected() {
    local exp=$TMP/blocks/$1.expect out=$TMP/$1.out line
    [ -f "$exp" ] || return 0
    subst <"$exp" >"$TMP/$1.want"
    local want_top got_top
    want_top=$(table_funcs "$TMP/$1.want" | head -1)
    table_funcs "$out" >"$TMP/$1.funcs"
    got_top=$(head -1 "$TMP/$1.funcs")
    if [ -n "$want_top" ]; then
        check "$1: $want_top on top, as the README shows (got '$got_top')" test "$want_top" = "$got_top"
    fi
    while IFS= read -r line; do
        if [[ $line =~ ^Showing\ nodes\ accounting\ for ]]; then
            check "$1: pprof's 'Showing nodes' line" grep -q '^Showing nodes accounting for' "$out"
        elif [[ $line =~ ^\ +flat\ +flat% ]]; then
            check "$1: the table's header" grep -q '^ *flat  flat%' "$out"
        elif [[ $line =~ ^\ *-?[0-9.]+[kMGT]?B?\ +-?[0-9.]+%\ .*\ ([^ ]+)$ ]]; then
            local fn=${BASH_REMATCH[1]}
            check "$1: $fn in the table" grep -qx -- "$fn" "$TMP/$1.funcs"
        elif [[ $line =~ ^\ *[-0-9.]+[kMGT]?B?\ +[-0-9.]+[kMGT]?B?\ +([0-9]+:.*)$ ]]; then
            local src=${BASH_REMATCH[1]}
            check "$1: source line '${src:0:60}'" grep -qF -- "$src" "$out"
        elif [ -n "$line" ]; then
            check "$1: prints '$line'" grep -qxF -- "$line" "$out"
        fi
    done <"$TMP/$1.want"
}

# check_series PREFIX: the highest sequence number the README names for the
# series /tmp/PREFIX.PROGRAM.12345-0a1b2c3d.NNNN.pb.gz; the run must have written
# exactly that many, under that program's name. Sets RUN from the files.
check_series() {
    local name=$1 n got prog
    n=$(grep -o "/tmp/$name\.[a-z-]*\.12345-0a1b2c3d\.[0-9]\{4\}\.pb\.gz" "$README" | sed 's/.*\.\([0-9]\{4\}\)\.pb\.gz/\1/' | sort -n | tail -1)
    prog=$(grep -o "/tmp/$name\.[a-z-]*\.12345-0a1b2c3d\." "$README" | head -1 | cut -d. -f2)
    n=$((10#${n:-0}))
    RUN=$(ls "$W/tmp/$name.$prog.$PID"-*.pb.gz 2>/dev/null | head -1 | sed -E 's/.*\.[0-9]+-([0-9a-f]{8})\.[0-9]+\.pb\.gz$/\1/')
    check "$name: files named $name.$prog.$PID-<run>.NNNN.pb.gz (run '$RUN')" bash -c "[[ '$RUN' =~ ^[0-9a-f]{8}$ ]]"
    got=$(ls "$W/tmp/$name".*.pb.gz 2>/dev/null | grep -vc '\.peak\.pb\.gz$')
    check "$name: $n dumps, as the README says (got $got: $(ls "$W/tmp" | grep "^$name\." | tr '\n' ' '))" \
        test "$got" = "$n"
    local i
    for i in $(seq "$n"); do
        check "$name: $(printf '%s.%s.%s-%s.%04d.pb.gz' "$name" "$prog" "$PID" "$RUN" "$i") exists" \
            test -s "$(printf '%s/tmp/%s.%s.%s-%s.%04d.pb.gz' "$W" "$name" "$prog" "$PID" "$RUN" "$i")"
    done
}

run_pid() { # the pid a run printed
    PID=$(grep -o 'pid [0-9]\+' "$TMP/$1.out" | head -1 | cut -d' ' -f2)
    check "$1 printed its pid ($PID)" test -n "$PID"
}

# --- Try it: the package list is scripts/deps.sh's.
words() { sed 's/([^)]*)//g' | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u; }
deps_list() { # the array after `pkgs=(` in deps.sh (all packages) or the demo's call
    tr '\n' ' ' <"$SRC/scripts/deps.sh" | grep -o '|| pkgs=([^)]*)' | sed 's/.*pkgs=(//; s/)$//'
}
deps_list | words >"$TMP/deps.words"
words <"$TMP/blocks/packages.sh" >"$TMP/readme.words"
check "README's package list is scripts/deps.sh's ($(diff "$TMP/deps.words" "$TMP/readme.words" | grep '^[<>]' | tr '\n' ' '))" \
    cmp -s "$TMP/deps.words" "$TMP/readme.words"
grep -o 'scripts/deps.sh [^|]*' "$SRC/scripts/demo.sh" | sed 's#scripts/deps.sh##' | words >"$TMP/demo.words"
head -1 "$TMP/blocks/packages.sh" | words >"$TMP/readme1.words"
check "scripts/demo.sh installs the README's first line" cmp -s "$TMP/demo.words" "$TMP/readme1.words"
check "scripts/demo.sh does not need graphviz" bash -c "! grep -qx graphviz '$TMP/demo.words'"

# --- Walkthrough.
block walkthrough-run
run_pid walkthrough-run
check_series leaky
for b in walkthrough-diff walkthrough-list walkthrough-top; do
    block $b
    check_expected $b
done
check "walkthrough-diff: only the table (no pprof header, no counters)" \
    bash -c "! grep -qE '^(File|Type|Time):|heapprof samples=' '$TMP/walkthrough-diff.out'"
if command -v dot >/dev/null 2>&1; then
    block walkthrough-svg
    check "walkthrough-svg: leak.svg written, naming recur" grep -q recur "$W/leak.svg"
fi

# --- Live.
block live
check_expected live
check "live: a.heap and b.heap are profiles" bash -c "[ -s '$W/a.heap' ] && [ -s '$W/b.heap' ]"
check "live: go tool pprof URL saved a copy under PPROF_TMPDIR ($(ls "$TMP/pprof" | head -1))" \
    bash -c "ls '$TMP/pprof' | grep -q '^pprof\..*\.pb\.gz$'"

# --- Fleets: /metrics and /debug/pprof/allocs, on the same port: the live
# block's program (killed at its end) must be gone first.
for i in $(seq 100); do
    curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null || break
    sleep 0.1
done
block fleet
check_expected fleet

# --- By hand.
block by-hand-run
run_pid by-hand-run
check_series byhand
block by-hand-read
check_expected by-hand-read

# Peak, growth, age, size, leak report (issue 13).
block more
check "more: a peak profile was read (its comment)" grep -q "heapprof peak profile, in-use estimate" "$TMP/more.out"
check "more: the first dump was written on growth" grep -q "Comment: heapprof dump on growth" "$TMP/more.out"
check "more: -tags lists ages and sizes" bash -c "grep -q ' age: Total' '$TMP/more.out' && grep -q ' bytes: Total' '$TMP/more.out'"
check "more: the leak report on stderr" grep -q "^heapprof: leak report: .* still in use at exit" "$TMP/more.err"

# --- Install (a fresh build of the library alone).
block install
while read -r f; do
    f=$(printf '%s\n' "$f" | subst)
    check "install: $f" test -e "$f"
done < <(sed -n '/^<!-- test: install -->/,/^## /p' "$README" | grep -o '`/usr/local/[^`]*`' | tr -d '`')
RC=0
(unset HEAPPROF_LIB; "$TMP/prefix/bin/heapprof" --rate 1 --interval 0 --out "$TMP/inst" -- "$E2E_BIN/tiny" 7) \
    >"$TMP/inst.out" 2>"$TMP/inst.err" || RC=$?
check "installed heapprof finds its library and profiles (status $RC; $(head -c 200 "$TMP/inst.err"))" \
    bash -c "[ $RC = 7 ] && ls '$TMP'/inst.*.pb.gz >/dev/null 2>&1"
check "installed heapprof.pc: pkg-config --libs heapprof" \
    env PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig" pkg-config --exists heapprof
finish
