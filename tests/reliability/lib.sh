# shellcheck shell=bash
# Shared helpers for the reliability tests (sourced, not run).
#
# Builds on tests/e2e/lib.sh (run/run_plain/check/values/value/truth...).
# Inputs, from CTest (tests/reliability/CMakeLists.txt) or by hand:
#   HEAPPROF_LIB   path of libheapprof.so
#   RELI_BIN       folder holding the reliability test programs
#   RELI_PLUGIN    the plugin .so for the dlopen test
# Run one by hand:
#   HEAPPROF_LIB=build/libheapprof.so RELI_BIN=build/tests/reliability \
#     RELI_PLUGIN=build/tests/reliability/libreli_plugin.so bash tests/reliability/test_x.sh
# A test that cannot run here (no root, no setuid, no mount) exits 77: CTest
# shows it as skipped, with the reason printed as "SKIP: ...".
: "${RELI_BIN:?set RELI_BIN to the folder of the reliability test programs}"
export RELI_SRC
RELI_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Absolute paths: the runs change directory.
[ -n "${HEAPPROF_LIB:-}" ] && [ -e "$HEAPPROF_LIB" ] && HEAPPROF_LIB=$(realpath "$HEAPPROF_LIB")
RELI_BIN=$(realpath "$RELI_BIN")
E2E_BIN=$RELI_BIN
# shellcheck source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
unset HEAPPROF_FLUSH_MS
# Never let a crashing host leave a core file behind (abort test).
ulimit -c 0 2>/dev/null

skip() {
    echo "SKIP: $*"
    exit 77
}
note() { echo "note: $*"; }

# raw FILE: `go tool pprof -raw` output, cached.
# (Cached in $TMP/.raw, never next to the profile: the output folder may be
# a tiny or read-only file system.)
raw_cache() { echo "$TMP/.raw/$(echo "$1" | tr '/' '_')"; }
# `go tool pprof` only execs this binary; calling it directly halves the
# start-up time, which adds up over the ~100 profiles of the git test.
PPROF=(go tool pprof)
_pprof_bin=$(go env GOTOOLDIR 2>/dev/null)/pprof
[ -x "$_pprof_bin" ] && PPROF=("$_pprof_bin")
raw() {
    local c
    c=$(raw_cache "$1")
    mkdir -p "$TMP/.raw"
    [ -s "$c" ] || "${PPROF[@]}" -raw "$1" >"$c" 2>"$c.err" || { rm -f "$c"; return 1; }
    cat "$c"
}

# comment FILE KEY: the number after KEY= in the profile's heapprof comments.
comment() {
    raw "$1" | sed -n "s/^Comment: .*[ ]$2=\([0-9][0-9]*\).*/\1/p" | head -1
}

# is_final FILE: the profile is the final dump at exit.
is_final() { raw "$1" | grep -q '^Comment: heapprof final dump at exit'; }

# stacks FILE: one line per sample:
#   alloc_objects<TAB>alloc_space<TAB>inuse_objects<TAB>inuse_space<TAB>f1;f2;...
# (innermost function first, inlined frames included).
stacks() { raw "$1" | raw_stacks; }

# sum_stacks FILE REGEX COLUMN: COLUMN (alloc_objects|alloc_space|inuse_objects|
# inuse_space) summed over the samples with a frame whose name matches REGEX.
sum_stacks() {
    local c
    case $3 in
    alloc_objects) c=1 ;; alloc_space) c=2 ;; inuse_objects) c=3 ;; inuse_space) c=4 ;;
    *) echo "sum_stacks: bad column $3" >&2; return 1 ;;
    esac
    stacks "$1" | awk -F'\t' -v re="$2" -v c="$c" '
        { n = split($5, f, ";"); hit = 0; for (i = 1; i <= n; i++) if (f[i] ~ re) hit = 1; if (hit) s += $c }
        END { printf "%d\n", s }'
}

# nonzero_inuse FILE REGEX: samples with a frame matching REGEX and in-use
# bytes != 0, one a line (empty when none).
nonzero_inuse() {
    stacks "$1" | awk -F'\t' -v re="$2" '
        { n = split($5, f, ";"); hit = 0; for (i = 1; i <= n; i++) if (f[i] ~ re) hit = 1; if (hit && ($3 != 0 || $4 != 0)) print }'
}

# check_profiles NAME PREFIX [final]: every profile under PREFIX is readable by
# `go tool pprof`, and its loss counters are zero (lost_events, unrecorded
# samples). With "final", each pid's newest profile must be its final dump.
# Sets NPROFILES and NPIDS.
check_profiles() {
    local name=$1 prefix=$2 want_final=${3:-} f bad=0 lossy=0 nofinal=0 pid
    NPROFILES=0
    NPIDS=0
    for f in $(series "$prefix"); do
        NPROFILES=$((NPROFILES + 1))
        if ! raw "$f" >/dev/null; then
            fail "$name: go tool pprof cannot read $(basename "$f"): $(head -c 300 "$(raw_cache "$f").err")"
            bad=$((bad + 1))
            continue
        fi
        local lost unrec
        lost=$(comment "$f" lost_events)
        unrec=$(comment "$f" unrecorded_samples)
        # RELI_ALLOW_UNRECORDED=1: the test checks unrecorded_samples itself.
        [ -n "${RELI_ALLOW_UNRECORDED:-}" ] && [ -n "$unrec" ] && unrec=0
        if [ "${lost:-x}" != 0 ] || [ "${unrec:-x}" != 0 ]; then
            fail "$name: $(basename "$f") reports lost_events=${lost:-?} unrecorded_samples=${unrec:-?}"
            lossy=$((lossy + 1))
        fi
    done
    for pid in $(pids "$prefix"); do
        NPIDS=$((NPIDS + 1))
        [ -n "$want_final" ] || continue
        f=$(series "$prefix" "$pid" | tail -1)
        if ! is_final "$f"; then
            fail "$name: pid $pid: newest profile $(basename "$f") is not a final dump"
            nofinal=$((nofinal + 1))
        fi
    done
    if [ "$NPROFILES" -eq 0 ]; then
        fail "$name: no profile written under $prefix"
        return 1
    fi
    [ $((bad + lossy + nofinal)) -eq 0 ] &&
        pass "$name: $NPROFILES profile(s) from $NPIDS process(es), all readable by go tool pprof${want_final:+, each process ended with its final dump}, no lost events"
}

# same_as_plain NAME PLAIN: stdout, stderr and exit status of run NAME equal
# those of run PLAIN (run_plain/run store them in $TMP/NAME.{out,err,rc}).
same_as_plain() {
    local name=$1 plain=$2 ok=1
    if [ "$(cat "$TMP/$name.rc")" != "$(cat "$TMP/$plain.rc")" ]; then
        fail "$name: exit status $(cat "$TMP/$name.rc"), without the library $(cat "$TMP/$plain.rc")"
        ok=0
    fi
    if ! cmp -s "$TMP/$name.out" "$TMP/$plain.out"; then
        fail "$name: stdout differs from the plain run: $(diff "$TMP/$plain.out" "$TMP/$name.out" | head -5 | tr '\n' '/')"
        ok=0
    fi
    if ! cmp -s "$TMP/$name.err" "$TMP/$plain.err"; then
        fail "$name: stderr differs from the plain run: $(diff "$TMP/$plain.err" "$TMP/$name.err" | head -5 | tr '\n' '/')"
        ok=0
    fi
    [ $ok = 1 ] && pass "$name: stdout, stderr and exit status ($(cat "$TMP/$name.rc")) identical to the plain run"
}

# real_program NAME [VAR=value...] -- PROGRAM ARGS...: the issue's check for an
# unmodified program: runs it plain, at HEAPPROF_RATE=1 and at the default
# rate (cwd: a fresh folder per run, $TMP/NAME.<kind>.d; stdin from
# $TMP/NAME.stdin when present); output and status must be identical and every
# profile of every process readable, each process ending with a final dump.
# The runs' own files (a git repo, a db) are made again for each run, by the
# function NAME_setup if defined (called in the run's folder).
real_program() {
    local name=$1
    shift
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    local kind
    for kind in plain rate1 default; do
        local d=$TMP/$name.$kind.d
        mkdir -p "$d"
        if declare -F "${name}_setup" >/dev/null; then (cd "$d" && "${name}_setup") || abort "$name: setup failed"; fi
        local pre=()
        case $kind in
        plain) pre=() ;;
        rate1) pre=(HEAPPROF_RATE=1 HEAPPROF_OUT="$TMP/$name.$kind" LD_PRELOAD="$HEAPPROF_LIB") ;;
        default) pre=(HEAPPROF_OUT="$TMP/$name.$kind" LD_PRELOAD="$HEAPPROF_LIB") ;;
        esac
        local rc=0 in=/dev/null start=$SECONDS
        [ -f "$TMP/$name.stdin" ] && in=$TMP/$name.stdin
        (cd "$d" && "$TIMEOUT_BT" 120 env ${vars[@]+"${vars[@]}"} ${pre[@]+"${pre[@]}"} "$@" <"$in" \
            >"$TMP/$name.$kind.out" 2>"$TMP/$name.$kind.err") || rc=$?
        echo "$rc" >"$TMP/$name.$kind.rc"
        echo "$name ($kind): exit status $rc, $((SECONDS - start)) s"
    done
    [ "$(cat "$TMP/$name.plain.rc")" = 0 ] || [ -n "${RELI_NONZERO_OK:-}" ] ||
        abort "$name: the plain run itself fails (status $(cat "$TMP/$name.plain.rc")): $(head -c 300 "$TMP/$name.plain.err")"
    [ "$(cat "$TMP/$name.plain.rc")" = 0 ] || note "$name: the plain run itself exits with $(cat "$TMP/$name.plain.rc"): $(head -c 300 "$TMP/$name.plain.err")"
    for kind in rate1 default; do
        same_as_plain "$name.$kind" "$name.plain"
        check_profiles "$name.$kind" "$TMP/$name.$kind" final
    done
}
