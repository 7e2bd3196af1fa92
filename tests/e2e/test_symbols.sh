#!/bin/bash
# Issue 11, defect 7: libheapprof.so puts nothing of its own into the
# program's symbol scope but the functions it interposes, its hooks and the
# heapprof_* API; it needs nothing but glibc (zlib is linked in statically and
# hidden; libunwind is dlopen'ed with RTLD_LOCAL | RTLD_DEEPBIND), and a
# program with its own libunwind or zlib names neither binds to heapprof's
# nor has heapprof bind to its own.
. "$(dirname "$0")/lib.sh"
need_go
for tool in nm readelf ldd; do
    command -v "$tool" >/dev/null 2>&1 || abort "'$tool' is not on PATH (Debian: binutils, libc-bin)"
done

# The allow-list. A new export fails this test on purpose: add it here only
# if the program is meant to bind to it (an interposed libc function, a hook,
# or public API), and say so in docs/design.md.
allowed="
malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size free_sized free_aligned_sized
exit _exit _Exit dlclose sigaltstack
sigaction signal bsd_signal sysv_signal __sysv_signal
heapprof_dump heapprof_set_rate heapprof_get_stats
"
nm -D --defined-only "$HEAPPROF_LIB" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$TMP/exports"
extra=$(grep -vxF -f <(tr ' ' '\n' <<<"$allowed" | grep .) "$TMP/exports" | tr '\n' ' ')
check "exports only the allow-list ($(wc -l <"$TMP/exports") symbols; not allowed: ${extra:-none})" test -z "$extra"
check "exports malloc, free and heapprof_dump" bash -c "grep -qx malloc '$TMP/exports' && grep -qx free '$TMP/exports' && grep -qx heapprof_dump '$TMP/exports'"

readelf -dW "$HEAPPROF_LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$TMP/needed"
bad_needed=$(grep -vxE 'libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-x86-64\.so\.2' "$TMP/needed" | tr '\n' ' ')
check "NEEDED lists only glibc ($(tr '\n' ' ' <"$TMP/needed"); other: ${bad_needed:-none})" test -z "$bad_needed"
ldd "$HEAPPROF_LIB" >"$TMP/ldd" 2>&1
check "ldd lists no libunwind, libz or liblzma" bash -c "! grep -Eq 'libunwind|libz\.|liblzma' '$TMP/ldd'"
# Every symbol it takes from elsewhere is glibc's (versioned), or weak.
nm -D --undefined-only "$HEAPPROF_LIB" | awk '$1 == "U" && $2 !~ /@GLIBC_/ {print $2}' >"$TMP/undef"
check "every undefined symbol is glibc's (other: $(tr '\n' ' ' <"$TMP/undef"))" test ! -s "$TMP/undef"
check "no text relocations" bash -c "! readelf -dW '$HEAPPROF_LIB' | grep -q TEXTREL"

# A program with its own libunwind and zlib names (exported with -rdynamic).
run own HEAPPROF_RATE=1 -- "$E2E_BIN/own_libs"
check "own_libs: exit status 0, every lookup held (rc $RC; $(grep '^bad' "$TMP/own.out" | tr '\n' ';'))" test "$RC" -eq 0
check "own_libs: heapprof called none of the program's functions ($(grep -c "^host's" "$TMP/own.err") calls: $(grep "^host's" "$TMP/own.err" | sort | uniq -c | head -3 | tr '\n' ';'))" \
    bash -c "! grep -q \"^host's\" '$TMP/own.err'"
check "own_libs: nothing on stderr ($(head -c 200 "$TMP/own.err"))" test ! -s "$TMP/own.err"
f=$(series "$TMP/own" | tail -1)
if [ -z "$f" ]; then
    fail "own_libs: no profile written"
else
    values "$f" >"$TMP/own.values"
    got=$(value "$TMP/own.values" own_libs_alloc inuse_objects)
    want=$(truth "$TMP/own.out" own_libs_alloc inuse_objects)
    check "own_libs: the profile is readable and has own_libs_alloc's $want live blocks with their stack (got $got)" \
        test "$got" = "$want"
fi
finish
