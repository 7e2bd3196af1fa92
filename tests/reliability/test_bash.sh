#!/bin/bash
# Debian's unmodified bash running a pipeline and shell-heavy work (arrays,
# associative arrays, command substitution, subshells, here-strings, read
# loops) that forks many children, each inheriting LD_PRELOAD: stdout, stderr
# and exit status (7, chosen by the script) identical with and without the
# library at rate 1 and at the default rate; every process's profiles
# readable, each ending with its final dump.
. "$(dirname "$0")/lib.sh"
need_go
cat >"$TMP/bash-workload.sh" <<'SH'
declare -A count
words=()
for i in $(seq 1 1000); do words+=("w$((i * 7 % 101))"); done
for w in "${words[@]}"; do count[$w]=$(( ${count[$w]:-0} + 1 )); done
echo "distinct ${#count[@]}"
seq 1 20000 | awk '{ print $1 * 3 % 1000, $1 }' | sort -n -k1,1 -k2,2 | uniq -c -w 4 |
    sort -rn | tr 'a-z' 'A-Z' | cksum
s=$( (for i in {1..200}; do printf '%s-' "$i"; done) | wc -c )
echo "subshell $s"
total=0
while read -r a b; do total=$((total + a * b)); done <<<"$(paste <(seq 1 500) <(seq 500 -1 1))"
echo "total $total"
x=$(printf '%*s' 100000 '' | tr ' ' x); echo "len ${#x}"
exit 7
SH
RELI_NONZERO_OK=1 real_program bash -- bash "$TMP/bash-workload.sh"
check "bash: the script's exit status 7 came through" test "$(cat "$TMP/bash.rate1.rc")" = 7
check "bash rate 1: the pipeline's processes wrote profiles ($(pids "$TMP/bash.rate1" | wc -l), want >= 8)" \
    test "$(pids "$TMP/bash.rate1" | wc -l)" -ge 8
finish
