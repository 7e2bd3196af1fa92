#!/bin/bash
# A C++ program (std::vector, std::string, std::map, exceptions) that leaks
# through operator new in leaky::Registry::make_node. At rate 1 the function
# that called new must own exactly 5000 objects of sizeof(Node) bytes: the
# operator new / malloc frames are not the leaf. Names must be readable from
# the profile alone (pprof -symbolize=none); the test records whether they
# come demangled (leaky::Registry::make_node) or mangled (_ZN5leaky...).
. "$(dirname "$0")/lib.sh"
need_go
prog=$E2E_BIN/cxx_leaks
run_plain plain "$prog"

run cxx HEAPPROF_RATE=1 HEAPPROF_INTERVAL=0 -- "$prog"
expect_clean_run cxx || finish
check "output identical to the run without the library" cmp -s "$TMP/plain.out" "$TMP/cxx.out"
file=$(series "$TMP/cxx" | tail -1)

go tool pprof -top -symbolize=none -nodecount=10000 "$file" >"$TMP/nosym.top" 2>&1
if grep -q 'leaky::Registry::make_node' "$TMP/nosym.top"; then
    form=demangled
    func=$(grep -o 'leaky::Registry::make_node.*' "$TMP/nosym.top" | head -1)
elif grep -q '_ZN5leaky8Registry9make_node' "$TMP/nosym.top"; then
    form=mangled
    func=$(grep -o '_ZN5leaky8Registry9make_node[A-Za-z0-9_]*' "$TMP/nosym.top" | head -1)
else
    abort "make_node is not named in the profile (pprof -symbolize=none): $(head -20 "$TMP/nosym.top")"
fi
echo "note: C++ names in the profile are $form ($func)"
pass "make_node named in the profile ($form)"
check "std:: library functions named too" grep -qE 'std::|_ZNSt|_ZSt' "$TMP/nosym.top"

# Attribution, from the names in the profile itself (no symbolization), so
# this checks what the profiler recorded, whatever pprof does with the binary.
values "$file" -symbolize=none >"$TMP/cxx.values"
# value() matches "name(" too, so a demangled name may carry its signature.
name=leaky::Registry::make_node
[ $form = mangled ] && name=$func
for c in alloc_objects alloc_space inuse_objects inuse_space; do
    got=$(value "$TMP/cxx.values" "$name" $c)
    want=$(truth "$TMP/cxx.out" make_node $c)
    check "rate 1: make_node $c = $want exactly (got $got)" test "$got" = "$want"
done
leaf=$(top_entry -symbolize=none -sample_index=inuse_objects "$file")
check "make_node tops inuse_objects (top: $leaf)" grep -q make_node <<<"$leaf"
check "operator new (_Znwm) is never the allocating leaf" \
    bash -c "! grep -qE '[[:space:]](operator new|_Znwm)' <(go tool pprof -top -symbolize=none -nodecount=10000 '$file' 2>/dev/null | awk '\$1 != \"0\"')"

# What a user sees: plain `go tool pprof -top` (it symbolizes from the binary's
# DWARF when the binary is still where the profile says) must name make_node.
go tool pprof -top -nodecount=10000 "$file" >"$TMP/default.top" 2>&1
check "go tool pprof -top (default symbolization) names make_node" grep -qE 'make_node' "$TMP/default.top"
check "go tool pprof -top does not lose the executable's names ([cxx_leaks] rows)" \
    bash -c "! grep -qF '[cxx_leaks]' '$TMP/default.top'"
finish
