/* Which loaded object defines an allocator function (issue 11, defects 2 and 3).
 *
 * Decided by object, never by comparing symbols: gperftools' tcmalloc and
 * mimalloc export __libc_malloc & co. as aliases of their own functions, so
 * "malloc == __libc_malloc" holds over them too. */
#ifndef HEAPPROF_ALLOCATOR_ORIGIN_H
#define HEAPPROF_ALLOCATOR_ORIGIN_H

/* The load address of the object that contains fn (dladdr's dli_fbase), or
 * NULL when fn is NULL or in no loaded object. dladdr takes the loader lock
 * (recursive) and does not allocate: usable inside the first malloc. */
const void *hp_object_of(const void *fn);

/* 1 when `base` (from hp_object_of) is glibc's own libc.so.6: the object that
 * defines gnu_get_libc_version, which no other allocator provides. */
int hp_object_is_glibc(const void *base);

/* At start-up, outside any malloc and any heapprof lock: when the malloc the
 * program calls (the first object in the global scope that defines it, read
 * from the dynamic symbol tables of the objects before this library) is not
 * this library's, prints one "heapprof:" line saying whose it is. The
 * library then sees none of the program's allocations. 1 when it warned. */
int hp_warn_if_malloc_not_ours(void);

#endif
