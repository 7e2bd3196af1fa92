/* How C++ frames are named and shown in a profile.
 *
 * - operator new and new[] (every overload: _Znwm, _ZnwmRKSt9nothrow_t,
 *   _ZnamSt11align_val_t, ...) are to C++ what malloc is to C: the program's
 *   function is their caller, so they are left out of a stack like our own
 *   frames.
 * - A Function's system_name holds the raw (mangled) symbol and its name the
 *   demangled form when the program has libstdc++'s __cxa_demangle loaded,
 *   so even `-symbolize=none` reads well; otherwise name = system_name and
 *   pprof demangles it itself (checked with Go 1.19: _ZN2ns5Klass6methodEi
 *   shows as ns::Klass::method). heapprof itself never pulls in libstdc++.
 * - A mapping whose sampled functions include C++ (_Z) symbols keeps our
 *   names (has_functions=true): Go 1.19's DWARF reader returns an empty name
 *   for C++ member functions defined out of class (see pprof.c). */
#ifndef HEAPPROF_CXX_NAMES_H
#define HEAPPROF_CXX_NAMES_H

#include <stddef.h>

/* operator new / new[]: a frame to skip at the top of a stack. */
int hp_cxx_is_allocation_wrapper(const char *symbol);

/* An Itanium-ABI mangled name (C++). */
int hp_cxx_is_mangled(const char *symbol);

/* The program's demangler, if it has one, and the texts it returned (freed
 * together at the end of one encoding). */
typedef struct hp_demangler {
    char *(*demangle)(const char *mangled, char *buf, size_t *len, int *status);
    char **texts;
    size_t n;
} hp_demangler;

/* Looks __cxa_demangle up in the program (dlsym: takes the loader lock).
 * Once, at start-up, outside every heapprof lock. */
void hp_demangler_setup(void);
/* The demangler found by hp_demangler_setup, if any (no loader call). */
void hp_demangler_init(hp_demangler *d);
/* The readable form of a mangled symbol, owned by d; NULL when there is none. */
const char *hp_demangle(hp_demangler *d, const char *symbol);
void hp_demangler_release(hp_demangler *d);

#endif
