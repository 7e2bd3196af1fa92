/* Function symbols of one ELF file (.symtab and/or .dynsym), for naming
 * addresses in-process so a profile reads well without the binary.
 *
 * The reader treats the file as hostile: every offset, size and count is
 * bounds-checked, so a truncated or corrupt file yields fewer (or no) symbols,
 * never a crash. Files are read with pread rather than mmap: a file truncated
 * by someone else while we read it would raise SIGBUS in the host through an
 * mmap, while pread just comes up short. Memory comes from hp_malloc. No
 * file descriptor is kept open between calls. */
#ifndef HEAPPROF_ELF_SYMBOLS_H
#define HEAPPROF_ELF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hp_elf_syms hp_elf_syms;

/* Loads the function symbols of a file; NULL when it cannot be opened, is not
 * a usable ELF64 of this machine's byte order, or has no function symbols. */
hp_elf_syms *hp_elf_syms_load_file(const char *path);

/* Same, from an ELF image already in memory (len bytes readable). */
hp_elf_syms *hp_elf_syms_load_mem(const void *image, size_t len);

void hp_elf_syms_free(hp_elf_syms *s);

/* Name of the function whose [value, value+size) holds vaddr (an ELF virtual
 * address, i.e. runtime address minus load bias); NULL when none does. A
 * zero-size symbol (hand-written assembly) is taken to extend to the next one
 * or the end of its section, whichever comes first.
 * The string lives as long as s.
 *
 * Only 16 bytes per function stay in memory: a name is read back from the
 * file (or image) the first time it is asked for, then cached in s; if the
 * file was replaced since loading (same path, other inode, size or mtime),
 * names come back NULL rather than wrong. Not thread-safe: the cache
 * changes, so callers serialise (hp_maps holds its mutex). */
const char *hp_elf_syms_lookup(hp_elf_syms *s, uint64_t vaddr);

/* Number of distinct function addresses known. Test-only. */
size_t hp_elf_syms_count(const hp_elf_syms *s);

/* True when the symbols came from a full .symtab (not only .dynsym). */
int hp_elf_syms_has_symtab(const hp_elf_syms *s);

#endif
