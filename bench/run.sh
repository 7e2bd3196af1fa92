#!/usr/bin/env bash
# heapprof overhead benchmark: one command, one table.
#
#   bench/run.sh [--install] [--rounds N] [--iters N] [--threads "1 2"] [--quick] [--no-micro] [--build DIR]
#
# Builds what is missing (RelWithDebInfo, in build-bench/), then runs
# bench-workload under every tool, in alternating rounds (each round runs
# every configuration once, in a rotated order, so slow drifts of the
# machine's load hit every configuration alike), and reports medians:
#   ns/iteration, ratio to plain glibc (and to the tool's own allocator),
#   peak RSS and its ratio, output size per run, heapprof's own memory.
# Writes bench/results/table.md, raw.tsv, micro.md and overhead.png (gnuplot).
#
# --install  apt-get installs heaptrack, libjemalloc2, libgoogle-perftools4 and
#            gnuplot-nox from Debian (needs root or sudo). Without it, tools that
#            are absent are skipped.
# Tools that are much slower run fewer iterations (ns/iteration stays
# comparable: the timed phase excludes start-up and the live-set warm-up).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"
rounds=9
iters=1000000
threads_list="1 2"
install=0
micro=1
while [ $# -gt 0 ]; do
    case "$1" in
    --install) install=1 ;;
    --rounds) rounds=$2; shift ;;
    --iters) iters=$2; shift ;;
    --threads) threads_list=$2; shift ;;
    --quick) rounds=1; iters=200000 ;;
    --no-micro) micro=0 ;;
    --build) build=$2; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$install" = 1 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y --no-install-recommends heaptrack libjemalloc2 libgoogle-perftools4 gnuplot-nox
fi

# ---- build ----
lib="$build/libheapprof.so"
wl="$build/bench/bench-workload"
mb="$build/bench/bench-micro"
if [ ! -x "$wl" ] || [ ! -f "$lib" ] || [ ! -x "$mb" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# Always bring it up to date (cheap when nothing changed).
cmake --build "$build" -j2 --target heapprof bench-workload bench-micro >/dev/null

results="$here/results"
mkdir -p "$results"
tmp=$(mktemp -d /tmp/heapprof-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

find_lib() { # first path ldconfig knows for a soname, else empty
    # awk reads everything (no early exit): under pipefail, SIGPIPE in ldconfig would end the script.
    ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64|x86_64|64bit/ && !found {print $NF; found = 1}'
}
jemalloc=$(find_lib libjemalloc.so.2)
tcmalloc=$(find_lib libtcmalloc.so.4)
have_heaptrack=0
command -v heaptrack >/dev/null && have_heaptrack=1

# ---- configurations: name | iteration divisor | base (for "x own allocator") | rate (plot) ----
configs=()
add() { configs+=("$1|$2|$3|$4"); }
add plain 1 plain -
add heapprof-default 1 plain 524288
add heapprof-64k 1 plain 65536
add heapprof-4k 4 plain 4096
add heapprof-4m 1 plain 4194304
add heapprof-rate1 4 plain 1
add heapprof-off 1 plain 0
# The same without the 16-byte headers (HEAPPROF_HEADERS=0: the address set, as
# over jemalloc): what the headers save.
add heapprof-default-nohdr 1 plain -
add heapprof-rate1-nohdr 4 plain -
if [ "$have_heaptrack" = 1 ]; then add heaptrack 400 plain -; fi
if [ -n "$jemalloc" ]; then
    add jemalloc 1 jemalloc -
    add jemalloc-prof 1 jemalloc 524288
fi
if [ -n "$tcmalloc" ]; then
    add tcmalloc 1 tcmalloc -
    add gperftools-heapprofile 400 tcmalloc -
fi

# Runs one configuration; prints "ns_per_iter proc_cpu_ns maxrss_kib output_bytes own_bytes live_samples".
run_one() {
    local name=$1 threads=$2 n=$3
    local out="$tmp/out" line
    rm -rf "$out"
    mkdir -p "$out"
    local args=(-t "$threads" -n "$n")
    case "$name" in
    plain) line=$("$wl" "${args[@]}") ;;
    heapprof-*)
        local rate headers=1
        case "$name" in
        heapprof-default-nohdr) rate="" headers=0 ;;
        heapprof-rate1-nohdr) rate=1 headers=0 ;;
        heapprof-default) rate="" ;;
        heapprof-64k) rate=65536 ;;
        heapprof-4k) rate=4096 ;;
        heapprof-4m) rate=4194304 ;;
        heapprof-rate1) rate=1 ;;
        heapprof-off) rate=0 ;;
        esac
        line=$(env ${rate:+HEAPPROF_RATE=$rate} HEAPPROF_HEADERS=$headers HEAPPROF_OUT="$out/hp" \
            LD_PRELOAD="$lib" "$wl" "${args[@]}") ;;
    heaptrack)
        # heaptrack prints its own chatter on stdout; keep the workload's line.
        # A hard time limit: see README (its interpreter can run away).
        line=$(timeout 60 heaptrack -o "$out/ht" "$wl" "${args[@]}" 2>/dev/null | grep 'ns_per_iter=' || true) ;;
    jemalloc) line=$(LD_PRELOAD="$jemalloc" "$wl" "${args[@]}") ;;
    jemalloc-prof)
        line=$(MALLOC_CONF="prof:true,lg_prof_sample:19,prof_final:true,prof_prefix:$out/jeprof" \
            LD_PRELOAD="$jemalloc" "$wl" "${args[@]}") ;;
    tcmalloc) line=$(LD_PRELOAD="$tcmalloc" "$wl" "${args[@]}") ;;
    gperftools-heapprofile)
        line=$(HEAPPROFILE="$out/gp" LD_PRELOAD="$tcmalloc" "$wl" "${args[@]}" 2>/dev/null) ;;
    esac
    local ns cpu rss bytes own="-" live="-"
    ns=$(sed -n 's/.*ns_per_iter=\([0-9.]*\).*/\1/p' <<<"$line")
    cpu=$(sed -n 's/.*proc_cpu_ns=\([0-9.]*\).*/\1/p' <<<"$line")
    rss=$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' <<<"$line")
    bytes=$(find "$out" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    if [[ "$name" == heapprof-* ]]; then
        # The final dump's comments carry heapprof's own memory and live samples.
        local last
        last=$(ls "$out"/hp.*.pb.gz 2>/dev/null | sort | tail -1 || true)
        if [ -n "$last" ]; then
            local text
            text=$(gzip -dc "$last" | tr -c '[:print:]' '\n' | grep -a 'heapprof' || true)
            own=$(sed -n 's/.*own_memory_bytes=\([0-9]*\).*/\1/p' <<<"$text" | head -1)
            live=$(sed -n 's/.*live_samples=\([0-9]*\).*/\1/p' <<<"$text" | head -1)
        fi
    fi
    echo "${ns:-nan} ${cpu:-nan} ${rss:-0} $bytes ${own:--} ${live:--}"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
raw="$results/raw.tsv"
printf 'round\tconfig\tthreads\titers\tns_per_iter\tproc_cpu_ns\tmaxrss_kib\toutput_bytes\town_bytes\tlive_samples\n' >"$raw"
ncfg=${#configs[@]}
echo "heapprof bench: $ncfg configurations x threads {$threads_list} x $rounds rounds, $iters iterations/thread; load $load_before" >&2
for ((r = 1; r <= rounds; r++)); do
    for threads in $threads_list; do
        for ((k = 0; k < ncfg; k++)); do
            # Rotate the order every round.
            IFS='|' read -r name div base rate <<<"${configs[$(((k + r) % ncfg))]}"
            n=$((iters / div))
            [ "$n" -ge 1000 ] || n=1000
            read -r ns cpu rss bytes own live < <(run_one "$name" "$threads" "$n")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$threads" "$n" "$ns" "$cpu" "$rss" "$bytes" "$own" "$live" >>"$raw"
        done
    done
    echo "  round $r/$rounds done ($(($(date +%s) - start)) s)" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- medians and the table ----
summary="$tmp/summary.tsv"
cfgfile="$tmp/configs"
printf '%s\n' "${configs[@]}" >"$cfgfile"
awk -F'\t' -v cfgfile="$cfgfile" '
function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n == 0) return "nan"
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
BEGIN { while ((getline l < cfgfile) > 0) { split(l, f, "|"); order[++nc] = f[1]; base[f[1]] = f[3]; prate[f[1]] = f[4] } }
NR > 1 {
    key = $2 SUBSEP $3
    if ($5 != "nan" && $5 != "") ns[key] = ns[key] " " $5
    if ($6 != "nan" && $6 != "") cpu[key] = cpu[key] " " $6
    rss[key] = rss[key] " " $7; out[key] = out[key] " " $8; it[key] = $4
    if ($9 != "-") own[key] = own[key] " " $9
    if ($10 != "-") live[key] = live[key] " " $10
    th[$3] = 1
}
END {
    for (t in th) for (c = 1; c <= nc; c++) {
        k = order[c] SUBSEP t
        if (!(k in it)) continue
        m_ns[k] = (k in ns) ? median(ns[k]) : "nan"; m_cpu[k] = (k in cpu) ? median(cpu[k]) : "nan"
        m_rss[k] = median(rss[k]); m_out[k] = median(out[k])
        m_own[k] = (k in own) ? median(own[k]) : "-"; m_live[k] = (k in live) ? median(live[k]) : "-"
    }
    for (t in th) for (c = 1; c <= nc; c++) {
        name = order[c]; k = name SUBSEP t
        if (!(k in it)) continue
        p = "plain" SUBSEP t; b = base[name] SUBSEP t
        x = (m_ns[k] != "nan" && m_ns[p] > 0) ? m_ns[k] / m_ns[p] : "nan"
        xc = (m_cpu[k] != "nan" && m_cpu[p] > 0) ? m_cpu[k] / m_cpu[p] : "nan"
        xb = (m_cpu[k] != "nan" && m_cpu[b] > 0) ? m_cpu[k] / m_cpu[b] : "nan"
        xr = m_rss[p] > 0 ? m_rss[k] / m_rss[p] : "nan"
        # 1 name 2 threads 3 iters 4 wall ns 5 x plain (wall) 6 cpu ns 7 x plain (cpu) 8 x own allocator (cpu)
        # 9 rss kib 10 rss x 11 output bytes 12 own bytes 13 live samples 14 plot rate
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, t, it[k], m_ns[k], x, m_cpu[k], xc, xb, m_rss[k], xr, m_out[k], m_own[k], m_live[k], prate[name]
    }
}' "$raw" | sort -t$'\t' -k2,2n -s >"$summary"

table="$results/table.md"
{
    echo "bench-workload, $rounds alternating rounds, medians; $(nproc) CPUs; load average before: $load_before, after: $load_after"
    echo "($(uname -srm); $(ldd --version 2>/dev/null | head -1 | sed 's/^ldd //'))"
    echo
    echo "| tool | threads | iterations/thread | wall ns/iter | × plain (wall) | CPU ns/iter | **× plain (CPU)** | × own allocator (CPU) | peak RSS MiB | RSS × plain | output per run | heapprof own memory (live samples) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
    function size(b) { return b >= 1048576 ? sprintf("%.1f MiB", b / 1048576) : b >= 1024 ? sprintf("%.0f KiB", b / 1024) : sprintf("%d B", b) }
    function f2(x) { return x == "nan" ? "n/a" : sprintf("%.3f", x) }
    function f1(x) { return x == "nan" ? "failed" : sprintf("%.1f", x) }
    {
        ownc = ($12 == "-") ? "" : sprintf("%.2f MiB (%d)", $12 / 1048576, $13)
        printf "| %s | %s | %s | %s | %s | %s | **%s** | %s | %.1f | %s | %s | %s |\n", $1, $2, $3, f1($4), f2($5), f1($6),
            f2($7), ($8 == $7 ? "" : f2($8)), $9 / 1024, f2($10), ($11 > 0 ? size($11) : ""), ownc
    }' "$summary"
    echo
    echo "Elapsed: $(($(date +%s) - start)) s. Command: bench/run.sh --rounds $rounds --iters $iters --threads \"$threads_list\""
} >"$table"
cat "$table"

# ---- plot: overhead against sampling rate ----
if command -v gnuplot >/dev/null; then
    dat="$tmp/plot.dat"
    for t in $threads_list; do
        echo "# threads $t"
        awk -F'\t' -v t="$t" '$2 == t && $1 ~ /^heapprof-/ && $14 != "-" && $14 > 0 && $7 != "nan" {print $14, ($7 - 1) * 100}' "$summary" | sort -n
        echo
        echo
    done >"$dat"
    je="$(awk -F'\t' '$1 == "jemalloc-prof" && $2 == 1 && $8 != "nan" {printf "%.2f", ($8 - 1) * 100}' "$summary")"
    {
        echo "set terminal pngcairo size 900,560 noenhanced"
        echo "set output '$results/overhead.png'"
        echo "set title 'heapprof: CPU-time overhead vs plain glibc (bench-workload, median of $rounds rounds)'"
        echo "set logscale x 2"
        echo "set logscale y 10"
        echo "set xlabel 'HEAPPROF_RATE (mean bytes between samples)'"
        echo "set ylabel 'CPU overhead, % (log; 0.1 = at or below 0.1)'"
        echo "set grid"
        echo "set key top right"
        echo "set xrange [0.5:8388608]"
        echo "set xtics ('1 B' 1, '64 B' 64, '4 KiB' 4096, '64 KiB' 65536, '512 KiB' 524288, '4 MiB' 4194304)"
        [ -n "$je" ] && echo "set label 1 'jemalloc prof at 512 KiB vs jemalloc: ${je}%' at 524288,${je#-} right point pt 7 offset -1,1"
        printf "plot "
        i=0
        for t in $threads_list; do
            [ $i -gt 0 ] && printf ", "
            # Overheads at or below 0 cannot be drawn on a log axis: clamp to 0.1%.
            printf "'%s' index %d using 1:(\$2 > 0.1 ? \$2 : 0.1) with linespoints lw 2 title '%s thread(s)'" "$dat" "$i" "$t"
            i=$((i + 1))
        done
        printf ", 2 with lines dt 2 lc rgb 'gray' title '2%% (target at the default rate)'\n"
    } >"$tmp/plot.gp"
    gnuplot "$tmp/plot.gp" && echo "plot: $results/overhead.png" >&2
else
    echo "gnuplot not found: no plot (bench/run.sh --install gets it)" >&2
fi

# ---- micro-benchmarks ----
if [ "$micro" = 1 ]; then
    "$mb" | tee "$results/micro.md"
fi
