#!/bin/bash
# /metrics scraped by a real Prometheus server (Debian's prometheus package).
#   - three profiled processes (fleet_host), each with HEAPPROF_HTTP on its own
#     port: two idle with 3 and 6 MiB kept, one with 2 MiB kept that keeps
#     allocating and freeing
#   - `promtool check metrics` accepts each /metrics page; Content-Type is
#     text/plain; version=0.0.4
#   - docs/fleet.md's scrape configuration and alerting rules pass `promtool
#     check config` / `check rules`, and Prometheus runs with them (1 s scrapes)
#   - the API (/api/v1/query) has three heapprof_inuse_bytes series whose
#     values equal each process's own profile (/debug/pprof/heap read with
#     go tool pprof -raw; exactly for the idle ones, within 10% for the churner)
#   - rate(heapprof_alloc_bytes_total[5s]) > 0 for the churner, 0 for the idle
#   - heapprof_info has the program and pid labels; the rules are loaded
# Skipped (exit 77) only when prometheus cannot be installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_go
need_curl
command -v python3 >/dev/null 2>&1 || abort "'python3' is not on PATH: it reads the API's JSON"
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP: prometheus/promtool not installed (scripts/deps.sh installs Debian's prometheus)"
    exit 77
fi
DOCS=$(dirname "$0")/../../docs/fleet.md

HOSTS=()
PROM_PID=
prom_cleanup() {
    local p
    for p in "${HOSTS[@]}" $PROM_PID; do kill "$p" 2>/dev/null; done
    for p in "${HOSTS[@]}" $PROM_PID; do wait "$p" 2>/dev/null; done
    e2e_cleanup
}
trap prom_cleanup EXIT

# ---- three processes ----
declare -A PORT_OF PID_OF
for spec in idle_a:3:0 idle_b:6:0 churner:2:1; do
    IFS=: read -r name mib churn <<<"$spec"
    mkdir -p "$TMP/ctl_$name"
    start_host "$name" HEAPPROF_RATE=65536 HEAPPROF_SEED=7 HEAPPROF_INTERVAL=0 -- \
        "$E2E_BIN/fleet_host" "$TMP/ctl_$name" "$mib" "$churn" ||
        abort "$name: the server never answered (stderr: $(head -c 300 "$TMP/$name.err"))"
    PORT_OF[$name]=$PORT
    PID_OF[$name]=$HOST_PID
    HOSTS+=("$HOST_PID")
    HOST_PID=
done
for name in idle_a idle_b churner; do
    for i in $(seq 100); do grep -q '^ready' "$TMP/$name.out" && break; sleep 0.1; done
    PORT=${PORT_OF[$name]}
    http /metrics
    cp "$TMP/body" "$TMP/$name.metrics"
    check "$name /metrics: 200, Content-Type text/plain; version=0.0.4 (got $CODE, '$(header Content-Type)')" \
        bash -c "[ $CODE = 200 ] && [ '$(header Content-Type)' = 'text/plain; version=0.0.4; charset=utf-8' ]"
    out=$(promtool check metrics <"$TMP/$name.metrics" 2>&1)
    check "$name: promtool check metrics accepts the page ($(head -c 200 <<<"$out"))" test -z "$out"
done

# ---- Prometheus, configured from docs/fleet.md ----
# doc_block NAME: the fenced block after "<!-- fleet: NAME -->" in docs/fleet.md.
doc_block() {
    awk -v n="<!-- fleet: $1 -->" '$0 == n { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$DOCS"
}
P=$TMP/prom
mkdir -p "$P/data"
doc_block heapprof-rules.yml >"$P/heapprof-rules.yml"
doc_block prometheus.yml >"$P/docs-prometheus.yml"
check "docs/fleet.md has both blocks" bash -c "[ -s '$P/heapprof-rules.yml' ] && [ -s '$P/docs-prometheus.yml' ]"
out=$(promtool check rules "$P/heapprof-rules.yml" 2>&1)
check "promtool check rules: docs/fleet.md's alerting rules ($(tr '\n' ' ' <<<"$out" | head -c 200))" \
    grep -q 'SUCCESS: 2 rules found' <<<"$out"
out=$(promtool check config "$P/docs-prometheus.yml" 2>&1)
check "promtool check config: docs/fleet.md's scrape configuration ($(tr '\n' ' ' <<<"$out" | head -c 200))" \
    grep -q 'SUCCESS' <<<"$out"
# The docs' configuration with the test's targets and a 1 s interval.
targets=$(printf '"127.0.0.1:%s", ' "${PORT_OF[idle_a]}" "${PORT_OF[idle_b]}" "${PORT_OF[churner]}")
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/; s/evaluation_interval: 15s/evaluation_interval: 1s/' \
    -e "s/- targets: \[.*\]/- targets: [${targets%, }]/" "$P/docs-prometheus.yml" >"$P/prometheus.yml"
check "test configuration has the three targets" grep -q "${PORT_OF[churner]}" "$P/prometheus.yml"

PPORT=
for attempt in 1 2 3; do
    PPORT=$(free_port)
    prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
        --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$P/prometheus.log" 2>&1 &
    PROM_PID=$!
    for i in $(seq 150); do
        [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/-/ready")" = 200 ] && break 2
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    PROM_PID=
done
[ -n "$PROM_PID" ] || abort "prometheus did not start (log: $(tail -c 400 "$P/prometheus.log"))"
pass "prometheus is ready on 127.0.0.1:$PPORT"

# query EXPR: instance<TAB>value per series of an instant query.
query() {
    curl -s -m 10 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json, sys
d = json.load(sys.stdin)
for r in d.get("data", {}).get("result", []):
    print("%s\t%s" % (r["metric"].get("instance", ""), r["value"][1]))' 2>/dev/null
}
# Enough scrapes of every target for a rate over 5 s.
for i in $(seq 120); do
    n=$(query 'count_over_time(heapprof_alloc_bytes_total[5s]) >= 4' | wc -l)
    [ "$n" = 3 ] && break
    sleep 0.5
done
check "every target scraped at least 4 times in 5 s (got $n series)" test "$n" = 3
check "the three targets are up" test "$(query 'up == 1' | wc -l)" = 3

query heapprof_inuse_bytes >"$TMP/inuse.prom"
check "three heapprof_inuse_bytes series ($(tr '\n\t' '; ' <"$TMP/inuse.prom"))" test "$(wc -l <"$TMP/inuse.prom")" = 3
check "every target's heapprof_peak_inuse_bytes is at least its heapprof_inuse_bytes (to 1%: the page sums rounded stacks), and above 0" \
    test "$(query 'heapprof_peak_inuse_bytes >= 0.99 * heapprof_inuse_bytes and heapprof_peak_inuse_bytes > 0' | wc -l)" = 3
query 'rate(heapprof_alloc_bytes_total[5s])' >"$TMP/rate.prom"
prom_value() { awk -F'\t' -v i="127.0.0.1:$2" '$1 == i { print $2 }' "$1"; }
for name in idle_a idle_b churner; do
    PORT=${PORT_OF[$name]}
    http /debug/pprof/heap
    profile=$(go tool pprof -raw "$TMP/body" 2>/dev/null | raw_stacks | awk -F'\t' '{ s += $4 } END { printf "%d\n", s }')
    got=$(prom_value "$TMP/inuse.prom" "$PORT")
    got=${got%.*}
    if [ "$name" = churner ]; then
        # A scrape or the profile may catch one churn sample alive (~68 KB at this rate).
        check "$name: Prometheus' heapprof_inuse_bytes $got vs its profile's inuse_space $profile (within 10%)" \
            within "${got:-0}" "$profile" 10
    else
        check "$name: Prometheus' heapprof_inuse_bytes $got = its profile's inuse_space $profile" \
            test "${got:-x}" = "$profile"
    fi
    check "$name: the profile holds the kept blocks ($profile bytes, > 1 MiB)" test "$profile" -gt 1048576
    r=$(prom_value "$TMP/rate.prom" "$PORT")
    if [ "$name" = churner ]; then
        check "$name: rate(heapprof_alloc_bytes_total[5s]) > 0 (got ${r:-none})" \
            awk -v r="${r:-0}" 'BEGIN { exit !(r > 0) }'
    else
        check "$name: rate(heapprof_alloc_bytes_total[5s]) = 0 (got ${r:-none})" test "${r:-x}" = 0
    fi
done
query 'heapprof_info' >/dev/null
info=$(curl -s -m 10 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=heapprof_info{program="fleet_host"}' |
    python3 -c 'import json, sys; print(" ".join(sorted(r["metric"]["pid"] for r in json.load(sys.stdin)["data"]["result"])))')
want=$(printf '%s\n' "${PID_OF[idle_a]}" "${PID_OF[idle_b]}" "${PID_OF[churner]}" | sort | tr '\n' ' ')
check "heapprof_info{program=\"fleet_host\"} has the three pids (got '$info', want '${want% }')" test "$info" = "${want% }"
rules=$(curl -s -m 10 "http://127.0.0.1:$PPORT/api/v1/rules")
check "Prometheus loaded the alerting rules (HeapGrowingSteadily)" grep -q '"HeapGrowingSteadily"' <<<"$rules"
no_rule_errors() { ! grep -q '"health":"err' <<<"$rules"; }
check "the rules evaluate without error" no_rule_errors

for name in idle_a idle_b churner; do touch "$TMP/ctl_$name/stop"; done
for p in "${HOSTS[@]}"; do
    RC=0
    wait "$p" || RC=$?
    check "host $p exits 0 (got $RC)" test "$RC" = 0
done
HOSTS=()
for name in idle_a idle_b churner; do
    check "$name: stderr empty ($(head -c 200 "$TMP/$name.err"))" test ! -s "$TMP/$name.err"
done
finish
