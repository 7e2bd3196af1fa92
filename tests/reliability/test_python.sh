#!/bin/bash
# Debian's unmodified python3 (/usr/bin/python3, not a pyenv shim) running a
# script with 8 threads, fork (with os._exit and with sys.exit), subprocess
# (python, a shell pipeline, cat through pipes) and the sqlite3 module:
# stdout, stderr and exit status identical with and without the library at
# HEAPPROF_RATE=1 and at the default rate; every process's profiles readable by
# go tool pprof with no lost events; every process that exits normally ends
# with its final dump.
. "$(dirname "$0")/lib.sh"
need_go
py=/usr/bin/python3
[ -x $py ] || abort "$py is missing (Debian: apt-get install python3)"
$py -c 'import sqlite3' 2>/dev/null || abort "$py has no sqlite3 module"
real_program python -- $py -I "$RELI_SRC/progs/py_workload.py"
# The workload's processes: python, its two fork children (one _exits without
# a dump), python -c, sh, seq, sort, sha256sum, cat: at least 7 processes wrote.
check "python rate 1: at least 7 processes wrote profiles (got $(pids "$TMP/python.rate1" | wc -l))" \
    test "$(pids "$TMP/python.rate1" | wc -l)" -ge 7
finish
