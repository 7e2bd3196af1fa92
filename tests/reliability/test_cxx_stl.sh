#!/bin/bash
# A C++ program using the standard library heavily (containers, strings,
# streams, regex, shared_ptr graphs, exceptions, std::async and std::thread):
# stdout, stderr and exit status identical with and without the library at
# rate 1 and at the default rate; its profiles readable with demangled C++
# names.
. "$(dirname "$0")/lib.sh"
need_go
real_program cxx -- "$RELI_BIN/cxxstl"
f=$(series "$TMP/cxx.rate1" | tail -1)
n=$(sum_stacks "$f" '^containers\(' alloc_objects)
check "cxx rate 1: the profile names containers(int) (alloc_objects $n > 0)" test "$n" -gt 0
finish
