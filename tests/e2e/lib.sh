# Shared helpers for the end-to-end tests (sourced, not run).
#
# Every test runs real programs with LD_PRELOAD=libheapprof.so and reads the
# profiles with the real `go tool pprof`, as a user would. Inputs, from CTest
# (tests/e2e/CMakeLists.txt) or by hand:
#   HEAPPROF_LIB     path of libheapprof.so
#   E2E_BIN          folder holding the test programs
#   HEAPPROF_SCRIPT  the heapprof command (scripts/heapprof)
#   LEAKY_DEMO       the leaky-demo binary
# Run one by hand:  HEAPPROF_LIB=build/libheapprof.so E2E_BIN=build/tests/e2e bash tests/e2e/test_x.sh
# Set E2E_KEEP=1 to keep the scratch folder even when every check passes.

set -u
export LC_ALL=C
: "${HEAPPROF_LIB:?set HEAPPROF_LIB to the path of libheapprof.so}"
: "${E2E_BIN:?set E2E_BIN to the folder of the e2e test programs}"
# go needs a HOME (or GOCACHE) even for `go tool`; CI shells sometimes have none.
export HOME="${HOME:-/tmp}"
# Profiles must come only from the variables each test sets.
unset LD_PRELOAD HEAPPROF_RATE HEAPPROF_SEED HEAPPROF_DEPTH HEAPPROF_INTERVAL HEAPPROF_OUT

# timeout(1) that prints every thread's backtrace of what it kills (a hang
# in CI says where it was).
TIMEOUT_BT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/timeout_bt

E2E_FAILS=0
E2E_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-$E2E_NAME.XXXXXX") || exit 1

e2e_cleanup() {
    if [ "$E2E_FAILS" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$TMP"
    else
        echo "scratch files kept in $TMP"
    fi
}
trap e2e_cleanup EXIT

if [ ! -f "$HEAPPROF_LIB" ]; then
    echo "FAIL: library not found: $HEAPPROF_LIB"
    exit 1
fi

pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    E2E_FAILS=$((E2E_FAILS + 1))
}
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    if [ "$E2E_FAILS" -ne 0 ]; then
        echo "$E2E_NAME: $E2E_FAILS check(s) failed"
        exit 1
    fi
    echo "$E2E_NAME: all checks passed"
    exit 0
}
# Stops the test at once: later checks would only repeat the cause.
abort() {
    fail "$*"
    finish
}

need_go() {
    command -v go >/dev/null 2>&1 ||
        abort "'go' is not on PATH: this test reads profiles with 'go tool pprof' (Debian: apt-get install golang-go)"
}

# run NAME [VAR=value...] -- PROGRAM ARGS...
# Runs PROGRAM under the library with HEAPPROF_OUT=$TMP/NAME (unless given),
# stdout to $TMP/NAME.out, stderr to $TMP/NAME.err. Sets RC to the exit status.
# A run that hangs is killed after 60 s (status 124), its threads' backtraces
# in NAME.err.
run() {
    local name=$1
    shift
    local vars=("HEAPPROF_OUT=$TMP/$name")
    while [ "$1" != "--" ]; do
        vars+=("$1")
        shift
    done
    shift
    RC=0
    # timeout outside env: only the program itself gets the library.
    "$TIMEOUT_BT" 60 env "${vars[@]}" LD_PRELOAD="$HEAPPROF_LIB" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
}

# run_plain NAME PROGRAM ARGS...: the same without the library.
run_plain() {
    local name=$1
    shift
    RC=0
    "$TIMEOUT_BT" 60 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
}

# Expects the last run to have exited with status 0 and an empty stderr apart
# from what the test allows (none by default).
expect_clean_run() {
    local name=$1
    if [ "$RC" -ne 0 ]; then
        if [ "$RC" = 124 ]; then
            fail "$name: hung, killed after the time limit; where its threads were:"
            sed 's/^/    /' "$TMP/$name.err" | head -300
        else
            fail "$name: exit status $RC (stderr: $(head -c 400 "$TMP/$name.err"))"
        fi
        return 1
    fi
    if [ -s "$TMP/$name.err" ]; then
        fail "$name: unexpected stderr: $(head -c 400 "$TMP/$name.err")"
        return 1
    fi
    return 0
}

# Files are <prefix>.<program>.<pid>-<run>.<seq>.pb.gz (control/identity.h).
# series PREFIX [PID]: the profile files of a run, oldest first, one a line.
# Without PID, all pids (grouped by process, each oldest first). The peak
# profiles beside them (NNNN.peak.pb.gz) are not in it: see peaks.
series() {
    local prefix=$1 pid=${2:-[0-9]*}
    # Sort by process (pid-run), then by the zero-padded sequence number: an
    # exec'd image continues its pid's numbering under its own program name.
    compgen -G "$prefix.*.$pid-????????.[0-9]*.pb.gz" | grep -v '\.peak\.pb\.gz$' |
        awk -F. '{ print $(NF-3) "\t" $(NF-2) "\t" $0 }' | sort | cut -f3
}

# peaks PREFIX [PID]: the peak profiles of a run, oldest first.
peaks() {
    local prefix=$1 pid=${2:-[0-9]*}
    compgen -G "$prefix.*.$pid-????????.[0-9]*.peak.pb.gz" | sort
}

# series_file PREFIX PID SEQ: the file with that number (SEQ as 1, 0001, ...);
# prints the pattern itself when there is none, so `test -s` fails.
series_file() {
    local name
    name=$(compgen -G "$1.*.$2-????????.$(printf %04d "$((10#$3))").pb.gz" | head -1)
    echo "${name:-$1.*.$2-*.$(printf %04d "$((10#$3))").pb.gz}"
}

# pids PREFIX: the distinct pids that wrote files under PREFIX.
pids() {
    series "$1" | sed -E 's/.*\.([0-9]+)-[0-9a-f]{8}\.[0-9]+\.pb\.gz$/\1/' | sort -u
}

# raw_stacks: reads `go tool pprof -raw` text on stdin and prints one line per
# sample:
#   alloc_objects<TAB>alloc_space<TAB>inuse_objects<TAB>inuse_space<TAB>f1;f2;...
# (innermost function first, inlined frames included; "??" when unnamed).
raw_stacks() {
    awk '
        /^Samples:/ { sec = "hdr"; next }
        sec == "hdr" {
            for (i = 1; i <= NF; i++) { t = $i; sub(/\/.*/, "", t); col[t] = i }
            sec = "samples"; next
        }
        /^Locations/ { sec = "loc"; next }
        /^Mappings/ { sec = "map"; next }
        sec == "samples" && /^ *-?[0-9]+ .*: / {
            split($0, parts, ":")
            split(parts[1], v, " ")
            ns++
            ids[ns] = parts[2]
            line[ns] = v[col["alloc_objects"]] "\t" v[col["alloc_space"]] "\t" v[col["inuse_objects"]] "\t" v[col["inuse_space"]]
            next
        }
        sec == "loc" && /^ *[0-9]+: 0x/ {
            id = $1; sub(/:/, "", id)
            s = $0
            sub(/^ *[0-9]+: 0x[0-9a-f]+ /, "", s); sub(/^M=[0-9]+ /, "", s); sub(/^\[F\] /, "", s)
            sub(/ [^ ]*:-?[0-9]+ s=-?[0-9]+.*$/, "", s)
            if (s == "") s = "??"
            name[id] = s; last = id; next
        }
        sec == "loc" && /^  +[^ ]/ && last != "" {
            # An inlined frame: the outer function, listed after the inner one.
            s = $0; sub(/^ +/, "", s); sub(/ [^ ]*:-?[0-9]+ s=-?[0-9]+.*$/, "", s)
            name[last] = name[last] ";" s; next
        }
        END {
            for (k = 1; k <= ns; k++) {
                n = split(ids[k], l, " "); f = ""
                for (j = 1; j <= n; j++) f = f (j > 1 ? ";" : "") ((l[j] in name) ? name[l[j]] : "??")
                print line[k] "\t" f
            }
        }'
}

# values FILE [PPROF_FLAGS...]: one line per leaf function of the profile:
#   function<TAB>alloc_objects<TAB>alloc_space<TAB>inuse_objects<TAB>inuse_space
# summed over the samples whose innermost frame is that function (pprof's
# "flat"). Read from `go tool pprof -raw`, so values are exact, not rounded.
values() {
    local file=$1
    shift
    go tool pprof -raw "$@" "$file" 2>"$TMP/pprof.err" | raw_stacks | awk -F'\t' '
        {
            f = $5; sub(/;.*/, "", f) # the leaf: innermost frame of the sample
            seen[f] = 1
            for (w = 1; w <= 4; w++) sum[f, w] += $w
        }
        END {
            for (f in seen)
                printf "%s\t%d\t%d\t%d\t%d\n", f, sum[f, 1], sum[f, 2], sum[f, 3], sum[f, 4]
        }'
}

# value VALUES_FILE FUNCTION COLUMN: one number from values() output; COLUMN is
# alloc_objects|alloc_space|inuse_objects|inuse_space. Functions whose name
# starts with FUNCTION followed by "(" (C++ signatures) count too. 0 if absent.
value() {
    local file=$1 func=$2 c
    case $3 in
    alloc_objects) c=2 ;; alloc_space) c=3 ;; inuse_objects) c=4 ;; inuse_space) c=5 ;;
    *) echo "value: bad column $3" >&2; return 1 ;;
    esac
    awk -F'\t' -v f="$func" -v c="$c" '
        $1 == f || substr($1, 1, length(f) + 1) == f "(" { s += $c }
        END { printf "%d\n", s }' "$file"
}

# truth OUTFILE FUNCTION COLUMN: what the program said it allocated.
truth() {
    awk -v f="$2" -v c="$3" '$1 == "truth" && $2 == f {
        for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == c) print kv[2] } }' "$1"
}

# check_exact LABEL VALUES_FILE OUTFILE FUNCTION...: every column of each
# FUNCTION in the profile equals what the program said (RATE=1: nothing scaled).
# CHECK_COLUMNS (default: all four) limits the columns compared.
check_exact() {
    local label=$1 vals=$2 out=$3 f c got want
    shift 3
    for f in "$@"; do
        for c in ${CHECK_COLUMNS:-alloc_objects alloc_space inuse_objects inuse_space}; do
            got=$(value "$vals" "$f" $c)
            want=$(truth "$out" "$f" $c)
            check "$label: $f $c = ${want:-?} exactly (got $got)" test "$got" = "${want:-x}"
        done
    done
}

# within ACTUAL EXPECTED PERCENT: |actual - expected| <= percent% of expected.
within() {
    awk -v a="$1" -v e="$2" -v p="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}

# pct A B: A as a percentage of B, for messages.
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%+.1f%%\n", (a - b) * 100 / b }'
}

# top_entry [PPROF_FLAGS...] FILE: the name of the first row of `go tool pprof -top`.
top_entry() {
    go tool pprof -top "$@" 2>"$TMP/pprof.err" | awk '
        /flat%/ { body = 1; next }
        body && NF >= 6 { s = $6; for (i = 7; i <= NF; i++) s = s " " $i; print s; exit }'
}
