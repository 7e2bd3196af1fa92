#!/bin/bash
# Child processes (HEAPPROF_CHILDREN, heapprof --children / --no-children).
#   - a wrapper script like pyenv's python3 shim (bash: command substitutions,
#     a pipeline, then `exec` of python3, which starts subprocesses and forks):
#     by default every process writes its own series; with --no-children one
#     series only, under the wrapper's pid, and it holds the Python program's
#     allocations (the exec'd image is the process started)
#   - with --no-children a subprocess's LD_PRELOAD no longer names the library
#   - fork without exec (forker): HEAPPROF_CHILDREN=0 gives the parent's series
#     only, with the parent's allocations; the child writes nothing
#   - a bad HEAPPROF_CHILDREN warns once and follows children (the default)
. "$(dirname "$0")/lib.sh"
need_go
H=${HEAPPROF_SCRIPT:?set HEAPPROF_SCRIPT to scripts/heapprof}
PY=$(type -P python3) || abort "python3 is not on PATH (Debian: apt-get install python3)"

cat >"$TMP/app.py" <<'EOF'
import os, subprocess, sys
subprocess.run(["true"])
subprocess.run(["sh", "-c", 'echo "child LD_PRELOAD=[$LD_PRELOAD]"; ls / >/dev/null'])
pid = os.fork()
if pid == 0:
    junk = [bytes(2000) for _ in range(1000)]
    os._exit(0)
os.waitpid(pid, 0)
def python_leak():
    return [("x" * 100, i) for i in range(20000)]
kept = python_leak()
print("python pid", os.getpid())
EOF
# The shim: what pyenv's shims do before they exec the real interpreter.
cat >"$TMP/python3" <<EOF
#!/bin/bash
set -e
version=\$(echo 3 | cat)
ls / | head -1 >/dev/null
exec "$PY" "\$@"
EOF
chmod +x "$TMP/python3"

# hp NAME ARGS...: the heapprof command, output in $TMP/NAME.out/.err, RC.
hp() {
    local name=$1
    shift
    RC=0
    timeout 120 "$H" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || RC=$?
}

hp all --rate 64K --interval 0 --out "$TMP/all" -- "$TMP/python3" "$TMP/app.py"
check "default (children): exit 0 (got $RC; $(head -c 300 "$TMP/all.err"))" test "$RC" = 0
n_all=$(pids "$TMP/all" | wc -l)
check "default: every process writes its own series ($n_all series, want >= 5)" test "$n_all" -ge 5

hp one --no-children --rate 64K --interval 0 --out "$TMP/one" -- "$TMP/python3" "$TMP/app.py"
check "--no-children: exit 0 (got $RC; $(head -c 300 "$TMP/one.err"))" test "$RC" = 0
wrapper_pid=$(grep -o 'one\.[^.]*\.[0-9]*-\*\.NNNN' "$TMP/one.err" | cut -d. -f3 | cut -d- -f1)
py_pid=$(awk '/^python pid/ { print $3 }' "$TMP/one.out")
check "--no-children: one series only ($(pids "$TMP/one" | tr '\n' ' '))" test "$(pids "$TMP/one" | wc -l)" = 1
check "--no-children: it is the process started (pid $wrapper_pid), which exec'd python ($py_pid)" \
    bash -c "[ -n '$py_pid' ] && [ '$py_pid' = '$wrapper_pid' ] && [ '$(pids "$TMP/one")' = '$wrapper_pid' ]"
check "--no-children: a subprocess's LD_PRELOAD no longer names the library ($(grep 'child LD_PRELOAD' "$TMP/one.out"))" \
    grep -qx 'child LD_PRELOAD=\[\]' "$TMP/one.out"
last=$(series "$TMP/one" | tail -1)
if [ -n "$last" ]; then
    go tool pprof -top -sample_index=alloc_space "$last" >"$TMP/one.top" 2>/dev/null
    check "--no-children: the profile is the Python program's (interpreter frames)" \
        grep -qE 'PyObject|PyType_|PyList_|PyDict_|PyUnicode|PyBytes' "$TMP/one.top"
fi
check "--no-children: no warning from the children" bash -c "! grep -q 'heapprof: HEAPPROF' '$TMP/one.err'"

# Fork without exec, by hand (the variable, no wrapper).
run fork HEAPPROF_CHILDREN=0 HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.2 -- "$E2E_BIN/forker"
expect_clean_run fork || finish
child=$(awk '$1 == "child" { print $2 }' "$TMP/fork.out")
check "HEAPPROF_CHILDREN=0, fork: the child ($child) writes nothing" test -z "$(series "$TMP/fork" "$child")"
check "HEAPPROF_CHILDREN=0, fork: the parent's series only" test "$(pids "$TMP/fork" | wc -l)" = 1
parent_file=$(series "$TMP/fork" | tail -1)
if [ -n "$parent_file" ]; then
    values "$parent_file" >"$TMP/parent.values"
    check "the parent's profile has parent_after (after the fork)" \
        test "$(value "$TMP/parent.values" parent_after inuse_space)" = 1048576
    check "the parent's profile has no child_work" test "$(value "$TMP/parent.values" child_work inuse_space)" = 0
fi

run bad HEAPPROF_CHILDREN=maybe HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$E2E_BIN/forker"
check "HEAPPROF_CHILDREN=maybe: one warning line ($(head -1 "$TMP/bad.err"))" \
    bash -c "[ \$(grep -c '^heapprof: HEAPPROF_CHILDREN=\"maybe\" is not 0 or 1; using 1\$' '$TMP/bad.err') = 1 ]"
check "HEAPPROF_CHILDREN=maybe: children followed (2 series)" test "$(pids "$TMP/bad" | wc -l)" = 2

hp badopt --children=0 -- true
check "--children takes no value: status 2" test "$RC" = 2
finish
