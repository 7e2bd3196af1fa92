#!/bin/bash
# Peer suite: CPython's own regression tests (Debian's libpython3.11-testsuite,
# run by Debian's /usr/bin/python3 -m test) under libheapprof.so, compared test
# by test with a plain run.
#
#   tests/peer/run_cpython.sh BUILD_DIR       (BUILD_DIR holds libheapprof.so)
#
# Three runs of the modules in cpython_modules.txt: plain (no LD_PRELOAD), then
# with the library at the default rate and at HEAPPROF_RATE=1. Exit status 1 if
# a test case that passed plain fails, errors, is missing (its module hung past
# the timeout or its worker died) under the library; if a heapprof run wrote no
# readable profile with samples; or if a "heapprof:" line appeared in the output.
# Excluded up front (regrtest --ignorefile): the test cases of
# cpython_excluded.txt (they fail on this kind of machine without heapprof)
# and of known_heapprof_defects.txt (temporary: known heapprof defects).
#
# Environment (all optional):
#   PEER_JOBS      regrtest worker processes (default: nproc)
#   PEER_TIMEOUT   seconds one test module may take before regrtest kills it
#                  (default 600: RATE=1 is ~4x slower than plain; a hang fails)
#   PEER_CONFIGS   which runs, default "plain default rate1" (plain is needed
#                  for the comparison)
#   PEER_MODULES   modules to run instead of cpython_modules.txt
#   PEER_DIR       scratch folder (default: a new one under $TMPDIR); kept on
#                  failure or with PEER_KEEP=1
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR}
lib=$(cd "$build" 2>/dev/null && pwd)/libheapprof.so
py=/usr/bin/python3
jobs=${PEER_JOBS:-$(nproc 2>/dev/null || echo 2)}
timeout=${PEER_TIMEOUT:-600}
configs=${PEER_CONFIGS:-plain default rate1}
# Every resource except those that need the network, a GUI/sound device,
# huge files or long CPU-bound runs.
resources=all,-network,-urlfetch,-gui,-audio,-largefile,-extralargefile,-cpu,-decimal,-tzdata

die() { echo "peer: $*" >&2; exit 1; }
[ -f "$lib" ] || die "no libheapprof.so in '$build'"
[ -x $py ] || die "$py is missing (Debian: apt-get install python3)"
$py -c 'import test.libregrtest, test.test_os' 2>/dev/null ||
    die "CPython's test suite is missing (Debian: apt-get install libpython3.11-testsuite)"
command -v go >/dev/null 2>&1 || die "'go' is not on PATH (needed to read the profiles; Debian: golang-go)"
export HOME=${HOME:-/tmp}

# strip FILE: the lines without comments and blanks.
strip() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$@"; }

if [ -n "${PEER_MODULES:-}" ]; then
    read -r -a modules <<<"$PEER_MODULES"
else
    mapfile -t modules < <(strip "$here/cpython_modules.txt" | grep -v '^-')
fi
dir=${PEER_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/heapprof-peer.XXXXXX")} || exit 1
mkdir -p "$dir"
{
    strip "$here/cpython_excluded.txt" "$here/known_heapprof_defects.txt"
    strip "$here/cpython_modules.txt" | sed -n 's/^-//p'
} >"$dir/ignore.txt"
n_trimmed=$(strip "$here/cpython_modules.txt" | grep -c '^-')
n_plain_excl=$(strip "$here/cpython_excluded.txt" | wc -l)
n_defect_excl=$(strip "$here/known_heapprof_defects.txt" | wc -l)

# Processes of a run that outlive it (a hung grandchild of a killed worker):
# found by this run's own PEER_RUN_TAG in their environment and killed by pid.
# Read through every thread: a process whose main thread has ended (the
# pthread_exit hang) has no /proc/PID/environ, only its other threads'.
kill_leftovers() {
    local tag=$1 p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = $$ ] && continue
        if cat "$p"/task/*/environ 2>/dev/null | tr '\0' '\n' | grep -qxF "PEER_RUN_TAG=$tag"; then
            echo "peer: killing leftover process ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline" | head -c 160)"
            kill -KILL "${p#/proc/}" 2>/dev/null
        fi
    done
}

failed=0
summary=()
ran=()
for cfg in $configs; do
    out=$dir/$cfg
    rm -rf "$out"
    mkdir -p "$out/tmp" "$out/profiles"
    # Some tests run children as another user (test_subprocess's user= and
    # group= as root): they must be able to reach the folder (mktemp's is
    # 0700) and write their profiles too.
    chmod 755 "$dir" "$out"
    chmod 1777 "$out/profiles"
    env=(env -u LD_PRELOAD -u HEAPPROF_RATE -u HEAPPROF_INTERVAL -u HEAPPROF_HTTP -u HEAPPROF_SIGNAL
        -u HEAPPROF_CHILDREN -u HEAPPROF_ROOT_PID -u PYTHONPATH -u PYTHONHOME -u PYTHONSTARTUP
        PEER_RUN_TAG="$out")
    case $cfg in
        plain) ;;
        default) env+=(LD_PRELOAD="$lib" HEAPPROF_OUT="$out/profiles/hp") ;;
        rate1) env+=(LD_PRELOAD="$lib" HEAPPROF_OUT="$out/profiles/hp" HEAPPROF_RATE=1) ;;
        *) die "unknown configuration '$cfg' (plain, default, rate1)" ;;
    esac
    echo "=== peer: CPython tests, $cfg: ${#modules[@]} modules, $jobs jobs, timeout ${timeout}s per module ==="
    start=$SECONDS
    # The whole run is bounded too, in case regrtest's own process hangs.
    (cd "$out" && exec timeout -k 30 $((timeout * ${#modules[@]} / jobs + timeout * 2)) \
        "${env[@]}" $py -m test -j"$jobs" --timeout "$timeout" -u "$resources" \
        --ignorefile "$dir/ignore.txt" --junit-xml "$out/junit.xml" --tempdir "$out/tmp" \
        "${modules[@]}") >"$out/log" 2>&1
    rc=$?
    secs=$((SECONDS - start))
    kill_leftovers "$out"
    grep -E '^[0-9:]+ load avg: .*\] test|^(Total duration|Result):|tests? (failed|skipped|omitted)' "$out/log" | tail -4
    $py "$here/junit_outcomes.py" outcomes "$out/junit.xml" >"$out/outcomes.txt"
    note="regrtest exit $rc"
    if [ "$cfg" != plain ]; then
        nfiles=$(find "$out/profiles" -name '*.pb.gz' | wc -l)
        biggest=$(find "$out/profiles" -name '*.pb.gz' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
        nsamples=0
        if [ -n "$biggest" ]; then
            nsamples=$(go tool pprof -raw "$biggest" 2>"$out/pprof.err" |
                awk '/^Samples:/ {s = 1; getline; next} /^Locations/ {s = 0} s && /^ *[0-9]+ .*: / {n++} END {print n + 0}')
        fi
        lost=$(go tool pprof -raw "$biggest" 2>/dev/null | sed -n 's/.* lost_events=\([0-9]*\).*/\1/p')
        note="$note, $nfiles profiles, largest $(basename "${biggest:-none}") has $nsamples samples, lost_events=${lost:-?}"
        if [ "${lost:-x}" != 0 ]; then
            echo "peer: FAIL: $cfg: the largest profile reports lost_events=${lost:-?} (or is unreadable)"
            failed=1
        fi
        if [ "$nfiles" -eq 0 ] || [ "$nsamples" -eq 0 ]; then
            echo "peer: FAIL: $cfg: heapprof was not active: $nfiles profiles, $nsamples samples in the largest"
            [ -s "$out/pprof.err" ] && head -5 "$out/pprof.err"
            failed=1
        fi
        # heapprof prints only on a real problem (bad setting, unwritable
        # folder, ...); this run gives it none, so any such line is a defect.
        if grep -n 'heapprof:' "$out/log" >"$out/warnings.txt"; then
            echo "peer: FAIL: $cfg: heapprof printed $(wc -l <"$out/warnings.txt") warning line(s):"
            sort "$out/warnings.txt" | head -10
            failed=1
        fi
        ran+=("$cfg:$out/outcomes.txt")
    fi
    summary+=("$(printf '%-8s %5d test cases %5ds  %s' "$cfg" "$(wc -l <"$out/outcomes.txt")" "$secs" "$note")")
done

echo
echo "=== peer: CPython summary ==="
echo "modules: ${#modules[@]} (${modules[*]})"
echo "excluded test cases: $n_plain_excl that fail without heapprof here (cpython_excluded.txt)," \
    "$n_defect_excl for known heapprof defects (known_heapprof_defects.txt)," \
    "$n_trimmed pattern(s) trimming modules for time (cpython_modules.txt)"
printf '%s\n' "${summary[@]}"
if [ -f "$dir/plain/outcomes.txt" ] && [ ${#ran[@]} -gt 0 ]; then
    $py "$here/junit_outcomes.py" compare "$dir/plain/outcomes.txt" "${ran[@]}" || failed=1
fi
if [ "$failed" -ne 0 ] || [ "${PEER_KEEP:-0}" = 1 ]; then
    echo "peer: logs, JUnit XML and profiles kept in $dir"
else
    rm -rf "$dir"
fi
[ "$failed" -eq 0 ] && echo "peer: CPython suite: no difference from the plain run" || echo "peer: CPython suite: FAILED"
exit "$failed"
