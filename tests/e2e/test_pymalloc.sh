#!/bin/bash
# Python under the heapprof command: PYTHONMALLOC=malloc unless the user set
# PYTHONMALLOC, so the objects CPython would carve out of pymalloc's mmap'ed
# arenas are malloc calls the profile sees. A program making 20,000 tuples of
# a 100-character string (about 4 MB) shows them in alloc_space with the
# default, and not with PYTHONMALLOC=pymalloc.
. "$(dirname "$0")/lib.sh"
need_go
H=${HEAPPROF_SCRIPT:?set HEAPPROF_SCRIPT to scripts/heapprof}
type -P python3 >/dev/null || abort "python3 is not on PATH (Debian: apt-get install python3)"
unset PYTHONMALLOC

RC=0
out=$("$H" -q -- python3 -c 'import os; print(os.environ.get("PYTHONMALLOC"))' 2>&1) || RC=$?
check "heapprof -- python3: PYTHONMALLOC=malloc (got '$out')" test "$out" = malloc
out=$(PYTHONMALLOC=pymalloc "$H" -q -- python3 -c 'import os; print(os.environ.get("PYTHONMALLOC"))' 2>&1)
check "the user's PYTHONMALLOC is kept (got '$out')" test "$out" = pymalloc

cat >"$TMP/objects.py" <<'EOF2'
kept = [("x" * 100 + str(i), i) for i in range(20000)]
EOF2
# total FILE: alloc_space of the whole profile, in bytes.
total() { go tool pprof -top -sample_index=alloc_space -unit=B "$1" 2>/dev/null | sed -n 's/^Showing nodes accounting for \([0-9]*\)B.*/\1/p'; }
"$H" -q --no-children --rate 16K --interval 0 --seed 7 --out "$TMP/malloc" -- python3 "$TMP/objects.py"
PYTHONMALLOC=pymalloc "$H" -q --no-children --rate 16K --interval 0 --seed 7 --out "$TMP/pymalloc" -- python3 "$TMP/objects.py"
m=$(total "$("$H" latest "$TMP/malloc")")
p=$(total "$("$H" latest "$TMP/pymalloc")")
echo "alloc_space: PYTHONMALLOC=malloc ${m:-?} B, pymalloc ${p:-?} B"
check "with malloc the 20,000 objects (~4 MB) are seen: ${m:-?} - ${p:-?} > 3,000,000 B" \
    bash -c "[ -n '$m' ] && [ -n '$p' ] && [ $((${m:-0} - ${p:-0})) -gt 3000000 ]"
finish
