#!/bin/bash
# Periodic dumps: HEAPPROF_INTERVAL=0.5 with a program that grows for ~3 s and
# then idles 1 s without allocating.
#   - >= 4 periodic files before the final one, and dumps keep coming during
#     the idle second (the flusher's own clock, not the allocations, drives it)
#   - on time: the first periodic file within 1.0 s of the start and every
#     gap between periodic files 0.5 s, +-0.25 s (file times, written by rename)
#   - `go tool pprof -top -base FIRST LAST` shows grow_steadily on top, and
#     setup_once (allocated before the first dump) does not grow
. "$(dirname "$0")/lib.sh"
need_go

start=$(date +%s.%N)
run grow HEAPPROF_INTERVAL=0.5 HEAPPROF_RATE=65536 HEAPPROF_SEED=5 -- "$E2E_BIN/grower"
end=$(date +%s.%N)
expect_clean_run grow || finish

mapfile -t files < <(series "$TMP/grow")
n=${#files[@]}
echo "$n files in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') s"
[ "$n" -ge 2 ] || abort "only $n profile files"
periodic=("${files[@]:0:n-1}") # the last file is the final dump at exit
check "${#periodic[@]} periodic dumps (want >= 4)" test "${#periodic[@]}" -ge 4
seq=$(basename "${files[0]}" .pb.gz)
check "sequence numbers start at 0001 (first file: $(basename "${files[0]}"))" test "${seq##*.}" = 0001

times=()
for f in "${periodic[@]}"; do times+=("$(stat -c %.9Y "$f")"); done
check "first periodic dump $(awk -v a="${times[0]}" -v s="$start" 'BEGIN { printf "%.2f", a - s }') s after start (want <= 1.0)" \
    awk -v a="${times[0]}" -v s="$start" 'BEGIN { exit !(a - s <= 1.0) }'
bad=""
for ((i = 1; i < ${#times[@]}; i++)); do
    gap=$(awk -v a="${times[i - 1]}" -v b="${times[i]}" 'BEGIN { printf "%.3f", b - a }')
    awk -v g="$gap" 'BEGIN { exit !(g >= 0.25 && g <= 0.75) }' || bad="$bad $gap"
done
check "gaps between periodic dumps 0.5 +-0.25 s (off:${bad:- none})" test -z "$bad"
idle=$(awk -v s="$start" -v t="${times[*]}" 'BEGIN { n = split(t, a, " "); c = 0; for (i = 1; i <= n; i++) if (a[i] - s > 3.4) c++; print c }')
check "$idle periodic dumps during the idle last second (want >= 1)" test "$idle" -ge 1

first=${periodic[0]}
last=${files[n - 1]}
top=$(top_entry -sample_index=inuse_space -base "$first" "$last")
check "go tool pprof -top -base FIRST LAST: grow_steadily on top (got '$top')" test "$top" = grow_steadily
setup=$(go tool pprof -top -sample_index=inuse_space -base "$first" "$last" 2>/dev/null | awk '$NF == "setup_once" { print $1 }')
check "setup_once does not grow between dumps (flat diff '${setup:-absent}')" \
    bash -c "[ -z '$setup' ] || [ '$setup' = 0 ]"
finish
