/* DWARF call frame information (.eh_frame) for x86-64, reduced to what an
 * unwinder needs: how to find the caller's rsp (the CFA), return address and
 * rbp at one pc. Pure parsing over bounded memory, no state: unit-tested and
 * fuzzed on arbitrary bytes. */
#ifndef HEAPPROF_CFI_H
#define HEAPPROF_CFI_H

#include <stddef.h>
#include <stdint.h>

/* DWARF register numbers of x86-64 (System V psABI). */
#define HP_DW_RBP 6
#define HP_DW_RSP 7
#define HP_DW_RA 16

/* What a frame's unwind recipe says to do. */
enum hp_recipe_kind {
    HP_RECIPE_FRAME = 1,   /* caller = load(CFA + ra_off), rsp = CFA, rbp by its rule */
    HP_RECIPE_SIGNAL,      /* glibc's __restore_rt: the interrupted registers are in a ucontext at rsp */
    HP_RECIPE_OUTERMOST,   /* the return address is undefined (_start, clone3's child): the stack ends */
    HP_RECIPE_NO_CFI,      /* no FDE covers the pc: the stack is cut */
    HP_RECIPE_UNSUPPORTED, /* CFI this unwinder does not follow (expressions, other registers): cut */
};

/* How rbp is found in the caller. */
enum hp_rbp_rule {
    HP_RBP_SAME = 0, /* unchanged */
    HP_RBP_AT_CFA,   /* saved at CFA + rbp_off */
    HP_RBP_AT_RBP,   /* saved at rbp + rbp_off (DW_CFA_expression after stack realignment) */
    HP_RBP_UNDEF,    /* unknown from here on */
};

/* One pc's recipe. CFA = cfa_reg + cfa_off, or, when cfa_deref is set,
 * load(cfa_reg + cfa_off) + cfa_off2 (a realigned frame: DW_OP_breg6 -8;
 * DW_OP_deref). */
typedef struct hp_recipe {
    uint8_t kind;      /* enum hp_recipe_kind */
    uint8_t cfa_reg;   /* HP_DW_RSP or HP_DW_RBP */
    uint8_t cfa_deref; /* 0 or 1 */
    uint8_t rbp_rule;  /* enum hp_rbp_rule */
    int32_t cfa_off;
    int32_t cfa_off2;
    int32_t ra_off;  /* the return address is at CFA + ra_off */
    int32_t rbp_off;
} hp_recipe;

/* The recipe at pc from the FDE at fde, every read kept inside [lo, hi)
 * (the mapped segment holding .eh_frame). Returns HP_RECIPE_NO_CFI when the
 * FDE does not cover pc or the bytes are malformed. */
void hp_cfi_recipe_at(const uint8_t *fde, const uint8_t *lo, const uint8_t *hi, uintptr_t pc, hp_recipe *out);

/* The FDE for pc from a .eh_frame_hdr (PT_GNU_EH_FRAME) inside [lo, hi):
 * its binary-search table. NULL when the header's format is not the usual
 * one (version 1, datarel sdata4 table) or no entry starts at or below pc
 * (the FDE found may still not cover pc: hp_cfi_recipe_at checks). */
const uint8_t *hp_cfi_find_fde(const uint8_t *hdr, const uint8_t *lo, const uint8_t *hi, uintptr_t pc);

/* Whether the code at pc is glibc's x86-64 signal trampoline __restore_rt
 * (mov $15,%rax; syscall), given that [pc, end) is mapped. */
int hp_cfi_is_sigreturn(const uint8_t *pc, const uint8_t *end);

#endif
