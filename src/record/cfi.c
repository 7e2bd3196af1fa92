/* .eh_frame CIE/FDE parsing and the CFA program, for x86-64.
 *
 * Every read goes through a cursor bounded by the segment that holds the
 * bytes, so malformed or hostile CFI gives "no recipe", never a read outside
 * it. Only three registers are followed (rsp, rbp, the return address): the
 * others' rules are parsed and ignored. DWARF expressions are evaluated
 * symbolically, so the common ones resolve to "register + constant" at
 * parse time: the PLT's (rsp + 8 + ((rip & 15) >= 11) * 8, rip being the
 * looked-up pc) and a realigned frame's (load(rbp - 8)). */
#include "record/cfi.h"

#include <string.h>

/* A bounded reader. Reading past end sets bad and yields zeros. */
typedef struct reader {
    const uint8_t *p, *end;
    int bad;
} reader;

static int need(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint64_t read_le(reader *r, size_t n) {
    if (!need(r, n))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static uint8_t read_u8(reader *r) { return (uint8_t)read_le(r, 1); }

static uint64_t read_uleb(reader *r) {
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (!need(r, 1))
            return 0;
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        if (shift > 70) { /* longer than any real number: malformed */
            r->bad = 1;
            return 0;
        }
    }
}

static int64_t read_sleb(reader *r) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (!need(r, 1))
            return 0;
        b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (shift > 77) {
            r->bad = 1;
            return 0;
        }
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~UINT64_C(0) << shift;
    return (int64_t)v;
}

/* DW_EH_PE_* pointer encodings. */
#define PE_OMIT 0xff
#define PE_FORMAT 0x0f
#define PE_APPLY 0x70
#define PE_PCREL 0x10
#define PE_DATAREL 0x30

/* A pointer in encoding enc; datarel is relative to base (the .eh_frame_hdr).
 * Indirect pointers (0x80) are never dereferenced: only personality
 * routines use them, and their value is not needed. */
static uint64_t read_encoded(reader *r, uint8_t enc, uintptr_t base) {
    uintptr_t field = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & PE_FORMAT) {
    case 0x00: v = read_le(r, 8); break;                          /* absptr */
    case 0x01: v = read_uleb(r); break;                           /* uleb128 */
    case 0x02: v = read_le(r, 2); break;                          /* udata2 */
    case 0x03: v = read_le(r, 4); break;                          /* udata4 */
    case 0x04: v = read_le(r, 8); break;                          /* udata8 */
    case 0x09: v = (uint64_t)read_sleb(r); break;                 /* sleb128 */
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)read_le(r, 2); break; /* sdata2 */
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)read_le(r, 4); break; /* sdata4 */
    case 0x0c: v = read_le(r, 8); break;                          /* sdata8 */
    default: r->bad = 1; return 0;
    }
    switch (enc & PE_APPLY) {
    case 0x00: break;
    case PE_PCREL: v += field; break;
    case PE_DATAREL: v += base; break;
    default: r->bad = 1; return 0; /* textrel, funcrel, aligned: not on x86-64 Linux */
    }
    return v;
}

/* One CFI record's bounds: [body, end) after its length field. */
static int record_bounds(const uint8_t *at, const uint8_t *lo, const uint8_t *hi, reader *body) {
    if (at < lo || at >= hi)
        return -1;
    reader r = {at, hi, 0};
    uint64_t len = read_le(&r, 4);
    if (len == 0xffffffffu)
        len = read_le(&r, 8);
    if (r.bad || len == 0 || len > (uint64_t)(hi - r.p))
        return -1;
    body->p = r.p;
    body->end = r.p + len;
    body->bad = 0;
    return 0;
}

/* ---- register rules ---- */

enum rule_kind { RULE_SAME = 0, RULE_UNDEF, RULE_AT_CFA, RULE_AT_RBP, RULE_VAL_CFA, RULE_OTHER };

typedef struct rule {
    uint8_t kind;
    int64_t off;
} rule;

/* The CFA: a register (rsp, rbp; anything else is unsupported) plus off,
 * optionally loaded from and offset again. */
typedef struct cfa_rule {
    int reg; /* DWARF number; -1 = unsupported expression */
    int deref;
    int64_t off, off2;
} cfa_rule;

/* The rows' state; remember_state pushes copies. */
typedef struct row {
    cfa_rule cfa;
    rule rbp, rsp, ra;
} row;

#define MAX_REMEMBERED 8

static rule *tracked(row *s, uint64_t reg) {
    switch (reg) {
    case HP_DW_RBP: return &s->rbp;
    case HP_DW_RSP: return &s->rsp;
    case HP_DW_RA: return &s->ra;
    default: return NULL;
    }
}

/* ---- symbolic DWARF expressions ---- */

/* A value of the expression stack: c, or base + c, or load(base + c) + d. */
enum { SYM_CONST = -1, SYM_CFA = 100 };
typedef struct sym {
    int base; /* SYM_CONST, HP_DW_RSP, HP_DW_RBP or SYM_CFA */
    int deref;
    int64_t c, d;
} sym;

#define SYM_STACK 8

static int sym_const(const sym *v) { return v->base == SYM_CONST; }

/* Adds k to a value: to its constant, or after its load. */
static void sym_add(sym *v, int64_t k) {
    if (v->deref)
        v->d = (int64_t)((uint64_t)v->d + (uint64_t)k);
    else
        v->c = (int64_t)((uint64_t)v->c + (uint64_t)k);
}

/* Evaluates the expression [r->p, r->p + len) with the CFA pushed first when
 * push_cfa is set. pc stands for rip (DW_OP_breg16). Returns 0 and the top
 * of the stack, or -1 for anything not reducible to one base register. */
static int eval_expr(reader *r, uint64_t len, int push_cfa, uintptr_t pc, sym *out) {
    if (!need(r, len))
        return -1;
    reader e = {r->p, r->p + len, 0};
    r->p += len;
    sym st[SYM_STACK];
    int n = 0;
    if (push_cfa)
        st[n++] = (sym){SYM_CFA, 0, 0, 0};
    while (e.p < e.end) {
        uint8_t op = read_u8(&e);
        sym v = {SYM_CONST, 0, 0, 0};
        int push = 1;
        if (op >= 0x30 && op <= 0x4f) { /* DW_OP_lit0..31 */
            v.c = op - 0x30;
        } else if (op >= 0x70 && op <= 0x8f) { /* DW_OP_breg0..31 */
            int64_t off = read_sleb(&e);
            unsigned reg = op - 0x70u;
            if (reg == HP_DW_RSP || reg == HP_DW_RBP)
                v = (sym){(int)reg, 0, off, 0};
            else if (reg == HP_DW_RA) /* rip: the pc being looked up */
                v.c = (int64_t)((uint64_t)pc + (uint64_t)off);
            else
                return -1;
        } else {
            switch (op) {
            case 0x08: v.c = (int64_t)read_le(&e, 1); break;           /* const1u */
            case 0x09: v.c = (int8_t)read_le(&e, 1); break;            /* const1s */
            case 0x0a: v.c = (int64_t)read_le(&e, 2); break;           /* const2u */
            case 0x0b: v.c = (int16_t)read_le(&e, 2); break;           /* const2s */
            case 0x0c: v.c = (int64_t)read_le(&e, 4); break;           /* const4u */
            case 0x0d: v.c = (int32_t)read_le(&e, 4); break;           /* const4s */
            case 0x0e: case 0x0f: v.c = (int64_t)read_le(&e, 8); break; /* const8u/s */
            case 0x10: v.c = (int64_t)read_uleb(&e); break;            /* constu */
            case 0x11: v.c = read_sleb(&e); break;                     /* consts */
            case 0x12:                                                 /* dup */
                if (n < 1)
                    return -1;
                v = st[n - 1];
                break;
            case 0x13: /* drop */
                if (n < 1)
                    return -1;
                n--;
                push = 0;
                break;
            case 0x06: /* deref: one load of base + c */
                if (n < 1 || st[n - 1].deref || sym_const(&st[n - 1]))
                    return -1;
                st[n - 1].deref = 1;
                push = 0;
                break;
            case 0x23: /* plus_uconst */
                if (n < 1)
                    return -1;
                sym_add(&st[n - 1], (int64_t)read_uleb(&e));
                push = 0;
                break;
            default: {
                /* Binary operators: plus/minus with one constant side; the
                 * rest on constants only. */
                if (n < 2)
                    return -1;
                sym b = st[--n], a = st[--n];
                if (op == 0x22 && sym_const(&a)) { /* plus */
                    sym_add(&b, a.c);
                    v = b;
                    break;
                }
                if ((op == 0x22 || op == 0x1c) && sym_const(&b)) { /* plus, minus */
                    sym_add(&a, op == 0x22 ? b.c : (int64_t)(0 - (uint64_t)b.c));
                    v = a;
                    break;
                }
                if (!sym_const(&a) || !sym_const(&b))
                    return -1;
                uint64_t x = (uint64_t)a.c, y = (uint64_t)b.c;
                switch (op) {
                case 0x1a: v.c = (int64_t)(x & y); break;                        /* and */
                case 0x21: v.c = (int64_t)(x | y); break;                        /* or */
                case 0x27: v.c = (int64_t)(x ^ y); break;                        /* xor */
                case 0x1e: v.c = (int64_t)(x * y); break;                        /* mul */
                case 0x24: v.c = y < 64 ? (int64_t)(x << y) : 0; break;          /* shl */
                case 0x25: v.c = y < 64 ? (int64_t)(x >> y) : 0; break;          /* shr */
                case 0x29: v.c = a.c == b.c; break;                              /* eq */
                case 0x2a: v.c = a.c >= b.c; break;                              /* ge */
                case 0x2b: v.c = a.c > b.c; break;                               /* gt */
                case 0x2c: v.c = a.c <= b.c; break;                              /* le */
                case 0x2d: v.c = a.c < b.c; break;                               /* lt */
                case 0x2e: v.c = a.c != b.c; break;                              /* ne */
                default: return -1;
                }
            }
            }
        }
        if (e.bad)
            return -1;
        if (push) {
            if (n >= SYM_STACK)
                return -1;
            st[n++] = v;
        }
    }
    if (e.bad || n < 1)
        return -1;
    *out = st[n - 1];
    return 0;
}

/* A DW_CFA_expression's address as a rule. */
static rule rule_from_address(const sym *a) {
    if (a->deref)
        return (rule){RULE_OTHER, 0};
    if (a->base == SYM_CFA)
        return (rule){RULE_AT_CFA, a->c};
    if (a->base == HP_DW_RBP)
        return (rule){RULE_AT_RBP, a->c};
    return (rule){RULE_OTHER, 0};
}

/* ---- the CIE and the CFA program ---- */

typedef struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    int has_aug_data; /* 'z' */
    int signal;       /* 'S' */
    reader insns;
} cie;

static int parse_cie(const uint8_t *at, const uint8_t *lo, const uint8_t *hi, cie *c) {
    reader r;
    if (record_bounds(at, lo, hi, &r) < 0)
        return -1;
    int wide = (at[0] & at[1] & at[2] & at[3]) == 0xff;
    if (read_le(&r, wide ? 8 : 4) != 0) /* CIE id: 0 in .eh_frame */
        return -1;
    uint8_t version = read_u8(&r);
    if (version != 1 && version != 3)
        return -1;
    char aug[8];
    unsigned na = 0;
    for (;;) {
        uint8_t ch = read_u8(&r);
        if (r.bad)
            return -1;
        if (ch == 0)
            break;
        if (na + 1 >= sizeof aug)
            return -1;
        aug[na++] = (char)ch;
    }
    aug[na] = '\0';
    c->code_align = read_uleb(&r);
    c->data_align = read_sleb(&r);
    c->ra_reg = version == 1 ? read_u8(&r) : read_uleb(&r);
    c->fde_enc = 0; /* absptr */
    c->signal = 0;
    c->has_aug_data = aug[0] == 'z';
    if (c->has_aug_data) {
        uint64_t len = read_uleb(&r);
        if (!need(&r, len))
            return -1;
        reader a = {r.p, r.p + len, 0};
        r.p += len;
        for (unsigned i = 1; i < na && !a.bad; i++) {
            switch (aug[i]) {
            case 'R': c->fde_enc = read_u8(&a); break;
            case 'L': (void)read_u8(&a); break;
            case 'P': {
                uint8_t enc = read_u8(&a);
                (void)read_encoded(&a, enc & 0x7f, 0);
                break;
            }
            case 'S': c->signal = 1; break;
            case 'B': case 'G': break;
            default: i = na; break; /* unknown: its data is skipped with the rest */
            }
        }
    } else if (na != 0) {
        return -1; /* "eh" and other pre-'z' forms */
    }
    if (r.bad || c->code_align == 0)
        return -1;
    c->insns = r;
    return 0;
}

/* a * b, wrapping (malformed CFI may hold any numbers; what does not fit
 * 32 bits is refused later anyway). */
static int64_t mul_wrap(uint64_t a, int64_t b) { return (int64_t)(a * (uint64_t)b); }

/* Runs a CFA program until the row that holds pc (loc > pc stops it).
 * initial is the CIE's row (DW_CFA_restore); NULL while running the CIE. */
static int run_program(reader *r, const cie *c, uintptr_t *loc, uintptr_t pc, row *s, const row *initial) {
    row saved[MAX_REMEMBERED];
    unsigned nsaved = 0;
    while (r->p < r->end) {
        uint8_t op = read_u8(r);
        uint64_t reg = 0, delta = 0;
        int64_t off;
        uint8_t hi2 = op & 0xc0, low = op & 0x3f;
        if (hi2 == 0x40) { /* advance_loc */
            delta = low;
            goto advance;
        }
        if (hi2 == 0x80) { /* offset */
            reg = low;
            off = mul_wrap(read_uleb(r), c->data_align);
            goto set_offset;
        }
        if (hi2 == 0xc0) { /* restore */
            reg = low;
            goto restore;
        }
        switch (op) {
        case 0x00: break; /* nop */
        case 0x01: { /* set_loc */
            uintptr_t to = (uintptr_t)read_encoded(r, c->fde_enc, 0);
            if (r->bad)
                return -1;
            if (to > pc)
                return 0;
            *loc = to;
            break;
        }
        case 0x02: delta = read_le(r, 1); goto advance;
        case 0x03: delta = read_le(r, 2); goto advance;
        case 0x04: delta = read_le(r, 4); goto advance;
        case 0x05: /* offset_extended */
            reg = read_uleb(r);
            off = mul_wrap(read_uleb(r), c->data_align);
            goto set_offset;
        case 0x11: /* offset_extended_sf */
            reg = read_uleb(r);
            off = mul_wrap((uint64_t)read_sleb(r), c->data_align);
            goto set_offset;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = read_uleb(r);
            off = mul_wrap(0 - read_uleb(r), c->data_align);
            goto set_offset;
        case 0x06: reg = read_uleb(r); goto restore; /* restore_extended */
        case 0x07: { /* undefined */
            rule *t = tracked(s, read_uleb(r));
            if (t)
                *t = (rule){RULE_UNDEF, 0};
            break;
        }
        case 0x08: { /* same_value */
            rule *t = tracked(s, read_uleb(r));
            if (t)
                *t = (rule){RULE_SAME, 0};
            break;
        }
        case 0x09: { /* register */
            rule *t = tracked(s, read_uleb(r));
            (void)read_uleb(r);
            if (t)
                *t = (rule){RULE_OTHER, 0};
            break;
        }
        case 0x0a: /* remember_state */
            if (nsaved >= MAX_REMEMBERED)
                return -1;
            saved[nsaved++] = *s;
            break;
        case 0x0b: /* restore_state: the whole row, CFA included */
            if (nsaved == 0)
                return -1;
            *s = saved[--nsaved];
            break;
        case 0x0c: /* def_cfa */
            reg = read_uleb(r);
            s->cfa = (cfa_rule){(int)(reg < 64 ? reg : 63), 0, (int64_t)read_uleb(r), 0};
            break;
        case 0x12: /* def_cfa_sf */
            reg = read_uleb(r);
            s->cfa = (cfa_rule){(int)(reg < 64 ? reg : 63), 0, mul_wrap((uint64_t)read_sleb(r), c->data_align), 0};
            break;
        case 0x0d: /* def_cfa_register */
            reg = read_uleb(r);
            s->cfa.reg = (int)(reg < 64 ? reg : 63);
            s->cfa.deref = 0;
            break;
        case 0x0e: s->cfa.off = (int64_t)read_uleb(r); break;             /* def_cfa_offset */
        case 0x13: s->cfa.off = mul_wrap((uint64_t)read_sleb(r), c->data_align); break;      /* def_cfa_offset_sf */
        case 0x0f: { /* def_cfa_expression */
            sym v;
            uint64_t len = read_uleb(r);
            if (eval_expr(r, len, 0, pc, &v) == 0 && (v.base == HP_DW_RSP || v.base == HP_DW_RBP))
                s->cfa = (cfa_rule){v.base, v.deref, v.c, v.d};
            else if (!r->bad)
                s->cfa = (cfa_rule){-1, 0, 0, 0};
            break;
        }
        case 0x10: { /* expression: the register is saved at the computed address */
            reg = read_uleb(r);
            uint64_t len = read_uleb(r);
            rule *t = tracked(s, reg);
            sym v;
            if (!t) {
                if (need(r, len))
                    r->p += len;
            } else if (eval_expr(r, len, 1, pc, &v) == 0) {
                *t = rule_from_address(&v);
            } else {
                *t = (rule){RULE_OTHER, 0};
            }
            break;
        }
        case 0x16: { /* val_expression */
            reg = read_uleb(r);
            uint64_t len = read_uleb(r);
            rule *t = tracked(s, reg);
            if (need(r, len))
                r->p += len;
            if (t)
                *t = (rule){RULE_OTHER, 0};
            break;
        }
        case 0x14: /* val_offset */
        case 0x15: { /* val_offset_sf */
            reg = read_uleb(r);
            off = op == 0x14 ? mul_wrap(read_uleb(r), c->data_align) : mul_wrap((uint64_t)read_sleb(r), c->data_align);
            rule *t = tracked(s, reg);
            if (t)
                *t = (rule){RULE_VAL_CFA, off};
            break;
        }
        case 0x2e: (void)read_uleb(r); break; /* GNU_args_size */
        default: return -1;
        }
        if (r->bad)
            return -1;
        continue;
    advance:
        if (r->bad)
            return -1;
        {
            uintptr_t next = *loc + (uintptr_t)(delta * c->code_align);
            if (next > pc || next < *loc)
                return 0; /* the row for pc is complete */
            *loc = next;
        }
        continue;
    set_offset:
        if (r->bad)
            return -1;
        {
            rule *t = tracked(s, reg);
            if (t)
                *t = (rule){RULE_AT_CFA, off};
        }
        continue;
    restore:
        if (r->bad || !initial)
            return -1;
        {
            rule *t = tracked(s, reg);
            const rule *from = tracked((row *)initial, reg);
            if (t)
                *t = *from;
        }
        continue;
    }
    return r->bad ? -1 : 0;
}

static int fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

/* The row as a recipe. */
static void finish(const row *s, const cie *c, hp_recipe *out) {
    memset(out, 0, sizeof *out);
    out->kind = HP_RECIPE_UNSUPPORTED;
    if (s->ra.kind == RULE_UNDEF) {
        out->kind = HP_RECIPE_OUTERMOST;
        return;
    }
    if (c->signal || c->ra_reg != HP_DW_RA)
        return;
    if (s->cfa.reg != HP_DW_RSP && s->cfa.reg != HP_DW_RBP)
        return;
    if (!fits32(s->cfa.off) || !fits32(s->cfa.off2))
        return;
    if (s->ra.kind != RULE_AT_CFA || !fits32(s->ra.off))
        return;
    if (!(s->rsp.kind == RULE_SAME || (s->rsp.kind == RULE_VAL_CFA && s->rsp.off == 0)))
        return;
    switch (s->rbp.kind) {
    case RULE_SAME: out->rbp_rule = HP_RBP_SAME; break;
    case RULE_UNDEF: out->rbp_rule = HP_RBP_UNDEF; break;
    case RULE_AT_CFA: out->rbp_rule = HP_RBP_AT_CFA; break;
    case RULE_AT_RBP: out->rbp_rule = HP_RBP_AT_RBP; break;
    default: return;
    }
    if (!fits32(s->rbp.off))
        return;
    out->rbp_off = (int32_t)s->rbp.off;
    out->cfa_reg = (uint8_t)s->cfa.reg;
    out->cfa_deref = (uint8_t)s->cfa.deref;
    out->cfa_off = (int32_t)s->cfa.off;
    out->cfa_off2 = (int32_t)s->cfa.off2;
    out->ra_off = (int32_t)s->ra.off;
    out->kind = HP_RECIPE_FRAME;
}

void hp_cfi_recipe_at(const uint8_t *fde, const uint8_t *lo, const uint8_t *hi, uintptr_t pc, hp_recipe *out) {
    memset(out, 0, sizeof *out);
    out->kind = HP_RECIPE_NO_CFI;
    reader r;
    if (record_bounds(fde, lo, hi, &r) < 0)
        return;
    int wide = (fde[0] & fde[1] & fde[2] & fde[3]) == 0xff;
    if (wide) /* 64-bit CFI: not produced for x86-64 .eh_frame */
        return;
    const uint8_t *id_field = r.p;
    uint64_t cie_off = read_le(&r, 4);
    if (r.bad || cie_off == 0 || cie_off > (uint64_t)(id_field - lo))
        return; /* a CIE, or a pointer before the segment */
    cie c;
    if (parse_cie(id_field - cie_off, lo, hi, &c) < 0)
        return;
    uintptr_t begin = (uintptr_t)read_encoded(&r, c.fde_enc, 0);
    uintptr_t range = (uintptr_t)read_encoded(&r, c.fde_enc & PE_FORMAT, 0);
    if (r.bad || pc < begin || pc - begin >= range)
        return;
    if (c.has_aug_data) {
        uint64_t len = read_uleb(&r);
        if (!need(&r, len))
            return;
        r.p += len;
    }
    /* Before any instruction: CFA undefined, every register "same". */
    row s = {{-1, 0, 0, 0}, {RULE_SAME, 0}, {RULE_SAME, 0}, {RULE_SAME, 0}};
    uintptr_t loc = begin;
    reader ci = c.insns;
    out->kind = HP_RECIPE_UNSUPPORTED;
    if (run_program(&ci, &c, &loc, UINTPTR_MAX, &s, NULL) < 0)
        return;
    row initial = s;
    loc = begin;
    if (run_program(&r, &c, &loc, pc, &s, &initial) < 0)
        return;
    finish(&s, &c, out);
}

static int32_t load_s32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

const uint8_t *hp_cfi_find_fde(const uint8_t *hdr, const uint8_t *lo, const uint8_t *hi, uintptr_t pc) {
    if (hdr < lo || hdr >= hi || hi - hdr < 4)
        return NULL;
    if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | 0x0b)) /* version 1, datarel sdata4 */
        return NULL;
    reader r = {hdr + 4, hi, 0};
    (void)read_encoded(&r, hdr[1], (uintptr_t)hdr); /* eh_frame_ptr: the table is enough */
    uint64_t count = read_encoded(&r, hdr[2], (uintptr_t)hdr);
    if (r.bad || hdr[2] == PE_OMIT || count == 0 || count > (uint64_t)(hi - r.p) / 8)
        return NULL;
    const uint8_t *table = r.p;
    /* The last entry whose start is <= pc. */
    uint64_t a = 0, b = count;
    while (b - a > 1) {
        uint64_t m = a + (b - a) / 2;
        uintptr_t start = (uintptr_t)hdr + (uintptr_t)(intptr_t)load_s32(table + m * 8);
        if (start <= pc)
            a = m;
        else
            b = m;
    }
    uintptr_t start = (uintptr_t)hdr + (uintptr_t)(intptr_t)load_s32(table + a * 8);
    if (start > pc)
        return NULL;
    uintptr_t fde = (uintptr_t)hdr + (uintptr_t)(intptr_t)load_s32(table + a * 8 + 4);
    if (fde < (uintptr_t)lo || fde >= (uintptr_t)hi)
        return NULL;
    return lo + (fde - (uintptr_t)lo);
}

int hp_cfi_is_sigreturn(const uint8_t *pc, const uint8_t *end) {
    /* mov $0xf,%rax (48 c7 c0 0f 00 00 00); syscall (0f 05) */
    static const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    return end > pc && (size_t)(end - pc) >= sizeof code && memcmp(pc, code, sizeof code) == 0;
}
