#!/bin/bash
# secure_getenv: a setuid program ignores every HEAPPROF_* variable.
# suid_tiny is linked against libheapprof.so (a setuid program never loads an
# LD_PRELOAD path with a slash, so preloading would prove nothing). A
# setuid-root copy is run as user nobody with HEAPPROF_OUT pointing to a
# folder nobody may write and HEAPPROF_RATE=abc: no "heapprof:" warning (the
# garbage was never read) and no file under that prefix. The control run of a
# non-setuid copy by the same user must read both (warning + profile), which
# shows the library is loaded and the test would see a leak of the variables.
# As documented, the setuid run is not profiled at all: no file anywhere.
# Needs root, a user "nobody", setpriv, and a folder without nosuid.
. "$(dirname "$0")/lib.sh"
need_go
[ "$(id -u)" = 0 ] || skip "needs root to make a setuid-root copy (uid $(id -u))"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
nobody=$(id -u nobody)
nogroup=$(id -g nobody)
as_nobody() { setpriv --reuid="$nobody" --regid="$nogroup" --clear-groups "$@"; }
as_nobody test -r "$HEAPPROF_LIB" || skip "user nobody cannot read $HEAPPROF_LIB (its folders are not world-readable)"
chmod 755 "$TMP"
mkdir -p "$TMP/bin" "$TMP/out" "$TMP/cwd"
chmod 755 "$TMP/bin"
chmod 777 "$TMP/out" "$TMP/cwd"
cp "$RELI_BIN/suid_tiny" "$TMP/bin/suid_tiny"
cp "$RELI_BIN/suid_tiny" "$TMP/bin/plain_tiny"
chown root:root "$TMP/bin/suid_tiny"
chmod 4755 "$TMP/bin/suid_tiny"
chmod 755 "$TMP/bin/plain_tiny"
if ! as_nobody "$TMP/bin/suid_tiny" | grep -q 'euid 0$'; then
    skip "the setuid bit has no effect in $TMP (nosuid mount or no privilege): $(as_nobody "$TMP/bin/suid_tiny" 2>&1 | head -c 200)"
fi

# runs KIND PROGRAM: as nobody, in $TMP/cwd, with garbage and a prefix.
runs() {
    RC=0
    (cd "$TMP/cwd" && as_nobody env HEAPPROF_RATE=abc HEAPPROF_OUT="$TMP/out/$1" HEAPPROF_INTERVAL=0 "$2" \
        >"$TMP/$1.out" 2>"$TMP/$1.err") || RC=$?
}
runs control "$TMP/bin/plain_tiny"
check "control (not setuid): exit status 0 (got $RC)" test "$RC" = 0
check "control (not setuid): the library read HEAPPROF_RATE=abc and warned ($(head -c 200 "$TMP/control.err"))" \
    grep -q '^heapprof: HEAPPROF_RATE' "$TMP/control.err"
check "control (not setuid): profile written under HEAPPROF_OUT" test -n "$(series "$TMP/out/control")"

runs suid "$TMP/bin/suid_tiny"
check "setuid: exit status 0 (got $RC), ran with euid 0 ($(cat "$TMP/suid.out"))" \
    bash -c "[ $RC = 0 ] && grep -q 'euid 0$' '$TMP/suid.out'"
check "setuid: no heapprof: line (HEAPPROF_RATE=abc was not read): '$(head -c 200 "$TMP/suid.err")'" \
    test ! -s "$TMP/suid.err"
check "setuid: nothing written under HEAPPROF_OUT ($(ls "$TMP/out" | grep '^suid' | head -3 | tr '\n' ' '))" \
    test -z "$(ls "$TMP/out" | grep '^suid')"
# Documented (docs/configuration.md): a setuid/setgid program is not profiled
# at all, so not even the default prefix in its working directory is used.
left=$(ls "$TMP/cwd")
check "setuid: not profiled at all: nothing in its working directory either (${left:-none})" test -z "$left"
finish
