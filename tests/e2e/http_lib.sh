# Helpers for the HTTP, signal and API tests of issue 6 (sourced after lib.sh).
#
# Talks to the server with curl (and bash's /dev/tcp for hand-made requests);
# python3, when present, only picks a free port.

need_curl() {
    command -v curl >/dev/null 2>&1 ||
        abort "'curl' is not on PATH: this test fetches profiles with it (Debian: apt-get install curl)"
}

# need_http_pprof: go and curl on PATH, and go tool pprof's cache and
# $HOME inside $TMP (pprof fetching a URL writes both; a test must not leave
# files in the real ones).
need_http_pprof() {
    need_go
    need_curl
    export PPROF_TMPDIR="$TMP/pprof" HOME="$TMP/home"
    mkdir -p "$PPROF_TMPDIR" "$HOME"
}

# free_port: a TCP port free on 127.0.0.1 right now. A race with another
# process is possible, so start_host retries on "cannot serve".
free_port() {
    if command -v python3 >/dev/null 2>&1 &&
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null; then
        return
    fi
    echo $((20000 + RANDOM % 40000))
}

# http PATH [CURL_ARGS...]: fetches http://127.0.0.1:$PORT/PATH; body to
# $TMP/body, headers to $TMP/headers; sets CODE (000 = no HTTP answer).
http() {
    local path=$1
    shift
    CODE=$(curl -s --path-as-is -m 30 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$PORT$path" 2>/dev/null) || true
    [ -n "$CODE" ] || CODE=000
}

# header NAME: the value of a header of the last http() answer.
header() {
    tr -d '\r' <"$TMP/headers" | awk -v n="$1" 'BEGIN { n = tolower(n) }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^ */, "", v); print v; exit } }'
}

# start_host NAME [VAR=value...] -- PROGRAM ARGS...: starts PROGRAM in the
# background under the library with HEAPPROF_HTTP=127.0.0.1:$PORT and
# HEAPPROF_OUT=$TMP/NAME, and waits until the server answers. Sets PORT and
# HOST_PID. stdout/stderr go to $TMP/NAME.out/.err.
start_host() {
    local name=$1
    shift
    local vars=()
    while [ "$1" != "--" ]; do
        vars+=("$1")
        shift
    done
    shift
    local attempt i
    for attempt in 1 2 3; do
        PORT=$(free_port)
        env HEAPPROF_OUT="$TMP/$name" HEAPPROF_HTTP="127.0.0.1:$PORT" "${vars[@]}" LD_PRELOAD="$HEAPPROF_LIB" \
            "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
        HOST_PID=$!
        for i in $(seq 100); do
            http /debug/pprof/
            [ "$CODE" = 200 ] && return 0
            grep -q "cannot serve HTTP" "$TMP/$name.err" && break
            kill -0 "$HOST_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$HOST_PID" 2>/dev/null
        wait "$HOST_PID" 2>/dev/null
        HOST_PID=
    done
    return 1
}

# stop_host CTL_DIR: asks the host program to exit (CTL_DIR/stop) and waits;
# RC is its exit status.
stop_host() {
    RC=0
    [ -n "${HOST_PID:-}" ] || return 0
    touch "$1/stop"
    local i
    for i in $(seq 100); do
        kill -0 "$HOST_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$HOST_PID" 2>/dev/null
    wait "$HOST_PID" || RC=$?
    HOST_PID=
}

# A host left running by a failed check must not outlive the test.
http_cleanup() {
    [ -n "${HOST_PID:-}" ] && kill "$HOST_PID" 2>/dev/null
    e2e_cleanup
}
trap http_cleanup EXIT

# max_tick_gap FILE: the largest gap in ms between the host's consecutive
# "tick N MS" lines (about 100 when the program was never held up).
max_tick_gap() {
    awk '$1 == "tick" { if (n++) { g = $3 - last; if (g > m) m = g } last = $3 } END { print m + 0 }' "$1"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
