/* libFuzzer target: the CFI parser (src/record/cfi.c) on arbitrary bytes.
 * Input: 8 bytes of pc (little-endian), 1 byte of FDE offset, then the
 * "segment" the parser may read: the FDE (or a .eh_frame_hdr) inside it.
 * ASan catches any read outside the segment (the copy is exactly its size);
 * checked beyond that: the recipe's kind is one of the five and its fields
 * are in range for the kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/cfi.h"

static void check(int ok, const char *what) {
    if (!ok) {
        (void)what;
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 9)
        return 0;
    uint64_t pc;
    memcpy(&pc, data, 8);
    size_t n = size - 9;
    uint8_t *seg = malloc(n ? n : 1);
    if (!seg)
        return 0;
    memcpy(seg, data + 9, n);
    size_t off = n ? data[8] % n : 0;
    hp_recipe r;
    hp_cfi_recipe_at(seg + off, seg, seg + n, (uintptr_t)pc, &r);
    check(r.kind >= HP_RECIPE_FRAME && r.kind <= HP_RECIPE_UNSUPPORTED, "kind");
    if (r.kind == HP_RECIPE_FRAME) {
        check(r.cfa_reg == HP_DW_RSP || r.cfa_reg == HP_DW_RBP, "cfa register");
        check(r.cfa_deref <= 1 && r.rbp_rule <= HP_RBP_UNDEF, "rules");
    }
    /* The same bytes as a .eh_frame_hdr: pc relative to the segment. */
    const uint8_t *fde = hp_cfi_find_fde(seg + off, seg, seg + n, (uintptr_t)seg + (uintptr_t)(pc & 0xffff));
    check(fde == NULL || (fde >= seg && fde < seg + n), "fde inside");
    if (fde)
        hp_cfi_recipe_at(fde, seg, seg + n, (uintptr_t)pc, &r);
    check(hp_cfi_is_sigreturn(seg, seg + n) == 0 || n >= 9, "sigreturn bounds");
    free(seg);
    return 0;
}
