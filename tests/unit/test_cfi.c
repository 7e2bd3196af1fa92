/* Unit tests of the CFI parser (src/record/cfi.c) on hand-built .eh_frame
 * bytes: the rows of a CFA program (advance, offsets, remember/restore
 * state), the PLT's CFA expression and a realigned frame's, an undefined
 * return address, CFI that is not followed, every truncation of a record;
 * the .eh_frame_hdr search table; the __restore_rt bytes. Then the unwinder
 * itself (src/record/unwind.c) against libunwind in this very process: a
 * deep recursion, frames with and without frame pointers, a signal
 * handler running on an alternate stack, and the per-thread memo of the
 * last capture when a caller changes under the same stack pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "record/cfi.h"
#include "record/unwind.h"
#include "record/unwind_tables.h"

/* ---- building CFI bytes ---- */

typedef struct buf {
    uint8_t b[512];
    size_t n;
} buf;

static void put(buf *o, const void *p, size_t n) {
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u8(buf *o, uint8_t v) { put(o, &v, 1); }
static void u32(buf *o, uint32_t v) { put(o, &v, 4); }
static void u64(buf *o, uint64_t v) { put(o, &v, 8); }

#define PC_BEGIN 0x1000u
#define PC_RANGE 0x100u

/* A CIE at 0 ("zR", code_align 1, data_align -8, RA r16, FDE pointers
 * absolute udata8; initial: CFA = rsp + 8, RA at CFA - 8) and an FDE after
 * it for [PC_BEGIN, PC_BEGIN + PC_RANGE) with the given instructions.
 * Returns the FDE's offset. */
static size_t build(buf *o, const uint8_t *insns, size_t ninsns) {
    o->n = 0;
    static const uint8_t cie_body[] = {0, 0, 0, 0, /* CIE id */
                                       1, 'z', 'R', 0, 1, 0x78 /* -8 */, 16, 1, 0x04 /* udata8 */,
                                       0x0c, 7, 8, /* def_cfa rsp 8 */
                                       0x90, 1 /* offset r16, 1 * -8 */};
    u32(o, sizeof cie_body);
    put(o, cie_body, sizeof cie_body);
    size_t fde = o->n;
    u32(o, (uint32_t)(4 + 8 + 8 + 1 + ninsns));
    u32(o, (uint32_t)(o->n - 0)); /* back to the CIE at 0 */
    u64(o, PC_BEGIN);
    u64(o, PC_RANGE);
    u8(o, 0); /* no augmentation data */
    put(o, insns, ninsns);
    u32(o, 0); /* terminator */
    return fde;
}

static hp_recipe at(const buf *o, size_t fde, uintptr_t pc) {
    hp_recipe r;
    hp_cfi_recipe_at(o->b + fde, o->b, o->b + o->n, pc, &r);
    return r;
}

/* A typical frame-pointer function: push rbp; mov rsp,rbp; ...; a
 * remember/restore pair around an early return. */
static void test_rows(void **state) {
    (void)state;
    static const uint8_t insns[] = {
        0x41,       /* advance 1 */
        0x0e, 16,   /* def_cfa_offset 16 */
        0x86, 2,    /* offset rbp at CFA - 16 */
        0x43,       /* advance 3 */
        0x0d, 6,    /* def_cfa_register rbp */
        0x02, 0x40, /* advance_loc1 0x40 -> 0x1044 */
        0x0a,       /* remember_state */
        0x0c, 7, 8, /* def_cfa rsp 8 */
        0xc6,       /* restore rbp */
        0x41,       /* advance 1 -> 0x1045 */
        0x0b,       /* restore_state */
    };
    buf o;
    size_t fde = build(&o, insns, sizeof insns);
    hp_recipe r = at(&o, fde, PC_BEGIN);
    assert_int_equal(r.kind, HP_RECIPE_FRAME);
    assert_int_equal(r.cfa_reg, HP_DW_RSP);
    assert_int_equal(r.cfa_off, 8);
    assert_int_equal(r.ra_off, -8);
    assert_int_equal(r.rbp_rule, HP_RBP_SAME);
    r = at(&o, fde, PC_BEGIN + 1);
    assert_int_equal(r.cfa_off, 16);
    assert_int_equal(r.rbp_rule, HP_RBP_AT_CFA);
    assert_int_equal(r.rbp_off, -16);
    r = at(&o, fde, PC_BEGIN + 4);
    assert_int_equal(r.cfa_reg, HP_DW_RBP);
    assert_int_equal(r.cfa_off, 16);
    r = at(&o, fde, PC_BEGIN + 0x44); /* the early return */
    assert_int_equal(r.cfa_reg, HP_DW_RSP);
    assert_int_equal(r.cfa_off, 8);
    assert_int_equal(r.rbp_rule, HP_RBP_SAME);
    r = at(&o, fde, PC_BEGIN + 0x45); /* restored: rbp-based again */
    assert_int_equal(r.cfa_reg, HP_DW_RBP);
    assert_int_equal(r.rbp_rule, HP_RBP_AT_CFA);
    /* Outside the FDE's range: no CFI. */
    assert_int_equal(at(&o, fde, PC_BEGIN - 1).kind, HP_RECIPE_NO_CFI);
    assert_int_equal(at(&o, fde, PC_BEGIN + PC_RANGE).kind, HP_RECIPE_NO_CFI);
}

/* The PLT: CFA = rsp + 8 + ((rip & 15) >= 11) * 8, resolved at the pc. */
static void test_plt_expression(void **state) {
    (void)state;
    static const uint8_t insns[] = {0x0f, 11, 0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22};
    buf o;
    size_t fde = build(&o, insns, sizeof insns);
    for (unsigned low = 0; low < 16; low++) {
        hp_recipe r = at(&o, fde, PC_BEGIN + 0x20 + low);
        assert_int_equal(r.kind, HP_RECIPE_FRAME);
        assert_int_equal(r.cfa_reg, HP_DW_RSP);
        assert_int_equal(r.cfa_deref, 0);
        assert_int_equal(r.cfa_off, low >= 11 ? 16 : 8);
    }
}

/* A realigned frame: CFA = load(rbp - 8), rbp saved at rbp + 0. */
static void test_realigned(void **state) {
    (void)state;
    static const uint8_t insns[] = {0x0f, 3, 0x76, 0x78, 0x06, /* def_cfa_expression breg6 -8; deref */
                                    0x10, 6, 2, 0x76, 0};      /* expression rbp: breg6 0 */
    buf o;
    size_t fde = build(&o, insns, sizeof insns);
    hp_recipe r = at(&o, fde, PC_BEGIN + 8);
    assert_int_equal(r.kind, HP_RECIPE_FRAME);
    assert_int_equal(r.cfa_reg, HP_DW_RBP);
    assert_int_equal(r.cfa_deref, 1);
    assert_int_equal(r.cfa_off, -8);
    assert_int_equal(r.cfa_off2, 0);
    assert_int_equal(r.rbp_rule, HP_RBP_AT_RBP);
    assert_int_equal(r.rbp_off, 0);
}

static void test_outermost_and_unsupported(void **state) {
    (void)state;
    buf o;
    static const uint8_t undef_ra[] = {0x07, 16};
    size_t fde = build(&o, undef_ra, sizeof undef_ra);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_OUTERMOST);
    static const uint8_t cfa_r10[] = {0x0c, 10, 0};
    fde = build(&o, cfa_r10, sizeof cfa_r10);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_UNSUPPORTED);
    static const uint8_t ra_in_reg[] = {0x09, 16, 3};
    fde = build(&o, ra_in_reg, sizeof ra_in_reg);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_UNSUPPORTED);
    static const uint8_t deref_twice[] = {0x0f, 4, 0x77, 0, 0x06, 0x06};
    fde = build(&o, deref_twice, sizeof deref_twice);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_UNSUPPORTED);
    static const uint8_t bad_op[] = {0x3c};
    fde = build(&o, bad_op, sizeof bad_op);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_UNSUPPORTED);
    static const uint8_t restore_unmatched[] = {0x0b};
    fde = build(&o, restore_unmatched, sizeof restore_unmatched);
    assert_int_equal(at(&o, fde, PC_BEGIN).kind, HP_RECIPE_UNSUPPORTED);
}

/* Every cut of the bytes (the segment ending early) is "no CFI" or a
 * recipe, never a read past the end (ASan checks it: the copy is exact). */
static void test_truncations(void **state) {
    (void)state;
    static const uint8_t insns[] = {0x41, 0x0e, 16, 0x86, 2, 0x43, 0x0d, 6, 0x0f, 3, 0x76, 0x78, 0x06};
    buf o;
    size_t fde = build(&o, insns, sizeof insns);
    for (size_t cut = 0; cut <= o.n; cut++) {
        uint8_t *copy = test_malloc(cut ? cut : 1);
        memcpy(copy, o.b, cut);
        hp_recipe r;
        if (fde < cut)
            hp_cfi_recipe_at(copy + fde, copy, copy + cut, PC_BEGIN + 9, &r);
        else
            hp_cfi_recipe_at(copy, copy, copy + cut, PC_BEGIN + 9, &r);
        assert_true(r.kind >= HP_RECIPE_FRAME && r.kind <= HP_RECIPE_UNSUPPORTED);
        test_free(copy);
    }
}

static void test_hdr_search(void **state) {
    (void)state;
    buf h;
    h.n = 0;
    u8(&h, 1);
    u8(&h, 0x1b); /* eh_frame_ptr: pcrel sdata4 */
    u8(&h, 0x03); /* count: udata4 */
    u8(&h, 0x3b); /* table: datarel sdata4 */
    u32(&h, 0);
    u32(&h, 3);
    int32_t table[][2] = {{0x100, 4}, {0x200, 8}, {0x300, 12}};
    put(&h, table, sizeof table);
    const uint8_t *base = h.b;
    const uint8_t *end = h.b + h.n;
    assert_null(hp_cfi_find_fde(base, base, end, (uintptr_t)base + 0xff));
    assert_ptr_equal(hp_cfi_find_fde(base, base, end, (uintptr_t)base + 0x100), base + 4);
    assert_ptr_equal(hp_cfi_find_fde(base, base, end, (uintptr_t)base + 0x2ff), base + 8);
    assert_ptr_equal(hp_cfi_find_fde(base, base, end, (uintptr_t)base + 0x5000), base + 12);
    /* A count that does not fit the segment. */
    assert_null(hp_cfi_find_fde(base, base, end - 1, (uintptr_t)base + 0x100));
    h.b[3] = 0x1b; /* another table encoding */
    assert_null(hp_cfi_find_fde(base, base, end, (uintptr_t)base + 0x100));
}

static void test_sigreturn_bytes(void **state) {
    (void)state;
    static const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x90};
    assert_true(hp_cfi_is_sigreturn(code, code + sizeof code));
    assert_false(hp_cfi_is_sigreturn(code, code + 8));
    assert_false(hp_cfi_is_sigreturn(code + 1, code + sizeof code));
}

/* ---- the unwinder against libunwind, in this process ---- */

#define MAXF 200

static uintptr_t own_pcs[MAXF], lu_pcs[MAXF];
static unsigned own_n, lu_n;
static int own_cut;

/* Both captures from the same function; the two lists are compared from
 * the frame of capture_both's caller on (each unwinder's own frames
 * differ). */
__attribute__((noinline)) static void capture_both(void) {
    own_n = hp_unwind_backtrace(own_pcs, MAXF, &own_cut);
    void *tmp[MAXF];
    int n = unw_backtrace(tmp, MAXF);
    lu_n = n > 0 ? (unsigned)n : 0;
    memcpy(lu_pcs, tmp, lu_n * sizeof(void *));
    __asm__ volatile("" ::: "memory");
}

static void assert_same_stacks(unsigned min_frames) {
    /* own_pcs[0] is the return address into capture_both; libunwind's list
     * starts inside capture_both too (its first ip is unw_backtrace's
     * caller context): align on own_pcs[1], the caller of capture_both. */
    if (own_n <= min_frames)
        fail_msg("own unwinder: %u frames (cut %d), libunwind %u", own_n, own_cut, lu_n);
    unsigned k = 0;
    while (k < lu_n && lu_pcs[k] != own_pcs[1])
        k++;
    assert_true(k < lu_n);
    assert_int_equal(own_n - 1, lu_n - k);
    for (unsigned i = 1; i < own_n; i++)
        assert_true(own_pcs[i] == lu_pcs[k + i - 1]);
    assert_int_equal(own_cut, 0);
}

__attribute__((noipa, optimize("omit-frame-pointer"))) static int deep_nofp(int d) {
    if (d == 0) {
        capture_both();
        return 0;
    }
    volatile int keep = d; /* read after the call: the recursion stays real */
    return deep_nofp(d - 1) + keep;
}

__attribute__((noipa, optimize("no-omit-frame-pointer"))) static int deep_fp(int d) {
    if (d == 0)
        return deep_nofp(30);
    volatile char pad[d % 5 + 1];
    pad[0] = (char)d;
    return deep_fp(d - 1) + pad[0];
}

static void test_unwind_matches_libunwind(void **state) {
    (void)state;
    hp_unwind_init();
    assert_int_equal(hp_unwind_tables_refresh(), 0);
    deep_fp(40);
    assert_same_stacks(70);
}

/* Two callers with the same frame: capture_both runs at the same stack
 * pointer from both, so the second capture finds the first one's memo and
 * must see that a return address on the stack changed. */
__attribute__((noipa)) static void via_a(void) {
    capture_both();
    __asm__ volatile("" ::: "memory");
}
__attribute__((noipa)) static void via_b(void) {
    capture_both();
    __asm__ volatile("" ::: "memory");
}

static void test_memo_sees_a_new_caller(void **state) {
    (void)state;
    uintptr_t first[MAXF];
    for (int round = 0; round < 3; round++) {
        via_a();
        assert_same_stacks(3);
        memcpy(first, own_pcs, sizeof first);
        via_b();
        assert_same_stacks(3);
        assert_true(own_pcs[1] != first[1]); /* in via_b, not via_a */
        via_a();
        assert_same_stacks(3);
        assert_true(own_pcs[1] == first[1]); /* in via_a again (the call sites in here differ) */
    }
}

/* Two call paths that reach capture_both at (about) the same stack
 * pointer through frames of other sizes: the capture on one path is
 * predicted from the other one's reads, and the prediction is right for the
 * inner frames and wrong from the first frame whose size differs on (the
 * walk must then load as usual). */
__attribute__((noipa)) static void inner_big(void) {
    volatile char pad[96];
    pad[0] = 1;
    capture_both();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}
__attribute__((noipa)) static void inner_small(void) {
    volatile char pad[16];
    pad[0] = 1;
    capture_both();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}
__attribute__((noipa)) static void outer_small(void) {
    volatile char pad[16];
    pad[0] = 1;
    inner_big();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}
__attribute__((noipa)) static void outer_big(void) {
    volatile char pad[96];
    pad[0] = 1;
    inner_small();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

static void test_memo_prediction_with_other_frame_sizes(void **state) {
    (void)state;
    uintptr_t first[MAXF];
    for (int round = 0; round < 4; round++) {
        outer_small();
        assert_same_stacks(4);
        memcpy(first, own_pcs, sizeof first);
        outer_big();
        assert_same_stacks(4);
        assert_true(own_pcs[1] != first[1]); /* in inner_small, not inner_big */
        assert_true(own_pcs[2] != first[2]);
        via_a(); /* the same frame sizes again, another caller */
        assert_same_stacks(3);
        via_b();
        assert_same_stacks(3);
    }
}

/* Captures at other depths under the same outer frames, through two
 * callers at the same stack pointer: each one's memo (and its predicted
 * reads) belongs to another stack pointer or another caller, and no frame
 * of it may leak into the next capture. */
__attribute__((noipa)) static int recurse(int d) {
    if (d == 0) {
        capture_both();
        return 0;
    }
    volatile int keep = d;
    return recurse(d - 1) + keep;
}
__attribute__((noipa)) static void from_x(int d) {
    recurse(d);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noipa)) static void from_y(int d) {
    recurse(d);
    __asm__ volatile("" ::: "memory");
}

static void test_memo_other_depths_and_callers(void **state) {
    (void)state;
    static const int depths[] = {3, 7, 2, 9, 9, 1, 5, 12, 4};
    uintptr_t seen_x = 0;
    for (unsigned i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        int d = depths[i];
        from_x(d);
        assert_same_stacks((unsigned)d + 3);
        /* own_pcs[d + 1]: the return address into from_x (or from_y) */
        if (!seen_x)
            seen_x = own_pcs[d + 2];
        assert_true(own_pcs[d + 2] == seen_x);
        from_y(d + (int)(i % 3)); /* another depth, another caller */
        assert_same_stacks((unsigned)d + 3);
        assert_true(own_pcs[d + (int)(i % 3) + 2] != seen_x);
        from_y(d);
        assert_same_stacks((unsigned)d + 3);
        from_x(d);
        assert_same_stacks((unsigned)d + 3);
        assert_true(own_pcs[d + 2] == seen_x);
    }
}

static void on_usr1(int sig) {
    (void)sig;
    capture_both();
}

static void test_unwind_alt_stack(void **state) {
    (void)state;
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    assert_int_equal(sigaltstack(&ss, NULL), 0);
    hp_unwind_note_altstack(&ss); /* the hook's part (not in the unit tests' core) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    /* Through the signal frame down to this test's caller. */
    assert_same_stacks(5);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    hp_unwind_note_altstack(&ss);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_plt_expression),
        cmocka_unit_test(test_realigned),
        cmocka_unit_test(test_outermost_and_unsupported),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_hdr_search),
        cmocka_unit_test(test_sigreturn_bytes),
        cmocka_unit_test(test_unwind_matches_libunwind),
        cmocka_unit_test(test_unwind_alt_stack),
        cmocka_unit_test(test_memo_sees_a_new_caller),
        cmocka_unit_test(test_memo_prediction_with_other_frame_sizes),
        cmocka_unit_test(test_memo_other_depths_and_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
