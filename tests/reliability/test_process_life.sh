#!/bin/bash
# fork with and without exec, posix_spawn, vfork (+exec and +_exit), and exec
# of another program in the same process, all at HEAPPROF_RATE=1 with
# LD_PRELOAD inherited:
#   - every process that ran a program wrote its own series, ending with a
#     final dump, readable, with the exact in-use bytes its program reports
#     (execd_work in the exec'd/spawned program, child_work in a fork child,
#     parent_work in the parent)
#   - the parent's profile never shows the child's allocations
#   - exec in the same process: the first image's periodic dumps are kept
#     (still holding image1_work, not overwritten) and the new image continues
#     the numbering with its own final dump, which holds execd_work only
. "$(dirname "$0")/lib.sh"
need_go
life=$RELI_BIN/life
execd=$RELI_BIN/execd

# role_pid NAME ROLE: the pid a run printed for ROLE.
role_pid() { awk -v r="$2" '$1 == "pid" && $2 == r { print $3 }' "$TMP/$1.out" | head -1; }
# final_value NAME PID FUNC COLUMN: COLUMN of FUNC in PID's last profile.
final_value() {
    local f
    f=$(series "$TMP/$1" "$2" | tail -1)
    [ -n "$f" ] || { echo "none"; return; }
    values "$f" >"$TMP/v" && value "$TMP/v" "$3" "$4"
}

for mode in fork forkexec spawn vfork; do
    run $mode HEAPPROF_RATE=1 -- "$life" $mode "$execd"
    expect_clean_run $mode || continue
    check_profiles $mode "$TMP/$mode" final
    parent=$(role_pid $mode parent)
    want=$(truth "$TMP/$mode.out" parent_work inuse_space)
    got=$(final_value $mode "$parent" parent_work inuse_space)
    check "$mode: parent's final profile: parent_work inuse_space $got = $want" test "$got" = "$want"
    case $mode in
    fork) child=$(role_pid $mode child); func=child_work ;;
    *) child=$(role_pid $mode execd); func=execd_work ;;
    esac
    [ -n "$child" ] || { fail "$mode: the child did not report its pid"; continue; }
    want=$(truth "$TMP/$mode.out" $func inuse_space)
    got=$(final_value $mode "$child" $func inuse_space)
    check "$mode: child $child's final profile: $func inuse_space $got = $want" test "$got" = "$want"
    got=$(final_value $mode "$parent" $func alloc_objects)
    check "$mode: the parent's profile has no $func allocations (got $got)" test "$got" = 0
    if [ $mode = forkexec ]; then
        got=$(final_value $mode "$child" child_work inuse_space)
        check "forkexec: the exec'd image's profile does not carry the pre-exec child_work ($got B)" test "$got" = 0
    fi
    n=$(pids "$TMP/$mode" | wc -l)
    check "$mode: exactly 2 processes wrote profiles (got $n; vfork+_exit writes none)" test "$n" = 2
done

# exec in the same process.
run exec HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0.2 -- "$life" exec "$execd"
if expect_clean_run exec; then
    pid=$(role_pid exec parent)
    check "exec: the new image kept the pid" test "$(role_pid exec execd)" = "$pid"
    check_profiles exec "$TMP/exec" final
    files=$(series "$TMP/exec" "$pid")
    n=$(echo "$files" | grep -c .)
    echo "exec: $n files: $(echo "$files" | sed 's|.*/||' | tr '\n' ' ')"
    seqs=$(echo "$files" | sed -E 's/.*\.([0-9]+)\.pb\.gz$/\1/' | tr '\n' ' ')
    check "exec: sequence numbers are 0001..$(printf %04d "$n") without gaps ($seqs)" \
        test "$seqs" = "$(seq -f %04g 1 "$n" | tr '\n' ' ')"
    want1=$(truth "$TMP/exec.out" image1_work inuse_space)
    img1=0
    for f in $(echo "$files" | head -n $((n - 1))); do
        values "$f" >"$TMP/v"
        got=$(value "$TMP/v" image1_work inuse_space)
        if is_final "$f"; then
            fail "exec: $(basename "$f") of the first image is marked final"
        elif [ "$got" = "$want1" ]; then
            img1=$((img1 + 1))
        else
            fail "exec: $(basename "$f"): image1_work inuse_space $got, want $want1 (overwritten by the new image?)"
        fi
    done
    check "exec: the first image's periodic dumps are all still there ($img1 >= 1)" test "$img1" -ge 1
    last=$(echo "$files" | tail -1)
    values "$last" >"$TMP/v"
    want=$(truth "$TMP/exec.out" execd_work inuse_space)
    got=$(value "$TMP/v" execd_work inuse_space)
    check "exec: the new image's final dump: execd_work inuse_space $got = $want" test "$got" = "$want"
    got=$(value "$TMP/v" image1_work inuse_space)
    check "exec: the new image's final dump has no image1_work ($got B)" test "$got" = 0
fi
finish
