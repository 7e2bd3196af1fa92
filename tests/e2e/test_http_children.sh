#!/bin/bash
# A child that inherits HEAPPROF_HTTP (HEAPPROF_CHILDREN=1, the default)
# finds the port taken by its profiled parent: it runs without a server and
# says nothing on its stderr, which is the program's (before: one "cannot
# serve HTTP" line in every child, e.g. in each of Python's subprocesses).
# A process whose port is taken by someone else still says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_curl
command -v python3 >/dev/null || abort "python3 is not on PATH"
TINY=$E2E_BIN/tiny
PORT=$(free_port)

# The parent serves; its child (tiny, profiled too) is started while it does.
RC=0
env HEAPPROF_HTTP=127.0.0.1:$PORT HEAPPROF_OUT="$TMP/p" LD_PRELOAD="$HEAPPROF_LIB" python3 -c '
import subprocess, sys, time, urllib.request
url = "http://127.0.0.1:%s/debug/pprof/" % sys.argv[2]
for _ in range(100):
    try:
        urllib.request.urlopen(url, timeout=2).read(); break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("parent never served")
r = subprocess.run([sys.argv[1]], capture_output=True, text=True)
print("child status", r.returncode)
print("child stdout", r.stdout.replace("\n", "|"))
print("child stderr [%s]" % r.stderr)
print("parent still serves", urllib.request.urlopen(url, timeout=2).status)
' "$TINY" "$PORT" >"$TMP/parent.out" 2>"$TMP/parent.err" || RC=$?
cat "$TMP/parent.out"
check "the parent ran and served (status $RC; $(head -c 200 "$TMP/parent.err"))" \
    bash -c "[ $RC = 0 ] && grep -qx 'parent still serves 200' '$TMP/parent.out'"
check "the child ran as without heapprof" grep -qx 'child stdout tiny: hello|tiny: 100 blocks kept|tiny: bye|' "$TMP/parent.out"
check "the child's stderr is empty (no 'cannot serve HTTP' line)" grep -qx 'child stderr \[\]' "$TMP/parent.out"
check "the parent's stderr is empty" test ! -s "$TMP/parent.err"

# Someone else holds a port: the line is still printed. (Another port: the
# first one's connections sit in TIME_WAIT, which a bind without SO_REUSEADDR
# refuses.)
PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(30)' "$PORT" "$TMP/held" &
holder=$!
for i in $(seq 50); do [ -e "$TMP/held" ] && break; sleep 0.1; done
[ -e "$TMP/held" ] || abort "the port holder did not start"
run other HEAPPROF_HTTP=127.0.0.1:$PORT -- "$TINY"
kill "$holder" 2>/dev/null
check "a port taken by an unrelated process is still reported ($(head -c 200 "$TMP/other.err"))" \
    grep -q "^heapprof: cannot serve HTTP on 127.0.0.1:$PORT: Address already in use" "$TMP/other.err"
check "... and that program runs on (exit $RC)" test "$RC" = 0
finish
