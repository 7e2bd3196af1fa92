#include "record/unwind.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/common.h"
#include "base/internal_alloc.h"
#include "record/cfi.h"
#include "record/unwind_tables.h"

/* ---- where the stack may be read ---- */

/* glibc's: the main thread's stack top at process start (argv is above it). */
extern void *__libc_stack_end;

static pthread_t main_thread;
static int main_known;
static uintptr_t main_lo, main_hi;

/* This thread's stack and alternate signal stack; learned on the first
 * capture (thread_known), the alternate one also from the sigaltstack hook. */
static HP_TLS uintptr_t thread_lo, thread_hi;
static HP_TLS int thread_known;
static HP_TLS uintptr_t alt_lo, alt_hi;
static HP_TLS int alt_known;

#define PAGE 4096u
#define HP_MAIN_STACK_MAX (8ull << 30) /* RLIMIT_STACK unlimited: the main stack still ends somewhere */

void hp_unwind_init(void) {
    if (main_known || syscall(SYS_gettid) != getpid())
        return; /* not the main thread: it learns its bounds like the others */
    struct rlimit rl;
    uint64_t size = HP_MAIN_STACK_MAX;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < size)
        size = rl.rlim_cur;
    /* __libc_stack_end's page is mapped, and argv/envp/auxv lie above it in
     * the same mapping: its end is a safe upper bound. */
    main_hi = ((uintptr_t)__libc_stack_end + PAGE) & ~(uintptr_t)(PAGE - 1);
    main_lo = main_hi - (uintptr_t)size;
    main_thread = pthread_self();
    main_known = 1;
}

void hp_unwind_note_altstack(const stack_t *ss) {
    if (ss->ss_flags & SS_DISABLE) {
        alt_lo = alt_hi = 0;
    } else {
        alt_lo = (uintptr_t)ss->ss_sp;
        alt_hi = alt_lo + ss->ss_size;
    }
    alt_known = 1;
}

/* ---- the memo: the last capture of this thread ---- */

/* A program allocating in a loop captures from the same place again and
 * again: same stack pointer, same words on the stack. The memo keeps the
 * last capture's result and every stack word its walk read, in order
 * (address and value); a capture with the same registers first loads those
 * words again — independent loads the CPU overlaps, where a walk is a chain
 * of dependent ones (return address -> recipe -> next return address).
 * - If every word that decided the result holds what it held, the result
 *   is the memo's.
 * - Otherwise (another call path through frames of the same sizes, as when
 *   a loop calls malloc from one of several places) the walk runs with the
 *   words already loaded: where its k-th read is at the memo's k-th
 *   address, it takes the word loaded before it started instead of waiting
 *   for the load. Each frame then waits only for its own return address's
 *   recipe, not for all the frames before it; at the first read elsewhere
 *   the walk loads as usual from there on.
 * Allocated on the thread's first capture (heapprof's own heap), freed at
 * its exit. */
#define MEMO_FRAMES 80
#define MEMO_READS (3 * MEMO_FRAMES)
typedef struct memo {
    int valid;
    uintptr_t sp, bp, end;
    uint32_t gen;
    unsigned max, n, nreads;
    int cut, bp_used; /* bp_used: the walk depended on the entry rbp */
    uintptr_t pcs[MEMO_FRAMES];
    uintptr_t addr[MEMO_READS], value[MEMO_READS]; /* every read, in order */
    uint8_t needed[MEMO_READS]; /* whether the read decided the result (a saved rbp may be left unused) */
} memo;

static HP_TLS memo *thread_memo;
static HP_TLS volatile sig_atomic_t memo_busy;
#define HP_SIGNAL_FENCE() __asm__ volatile("" ::: "memory")

/* The first capture of a thread: its stack bounds (pthread_getattr_np
 * allocates and makes a system call; it is only used on threads other than
 * the main one, for which it would read /proc/self/maps) and its alternate
 * signal stack, unless the hook saw it set. */
static void learn_thread(void) {
    thread_known = 1;
    if (!thread_memo) {
        memo *m = hp_malloc(sizeof *m);
        if (m)
            m->valid = 0;
        thread_memo = m;
    }
    if (!(main_known && pthread_equal(pthread_self(), main_thread))) {
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void *addr;
            size_t size;
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
                thread_lo = (uintptr_t)addr;
                thread_hi = thread_lo + size;
            }
            pthread_attr_destroy(&attr);
        }
    } else {
        thread_lo = main_lo;
        thread_hi = main_hi;
    }
    if (!alt_known) {
        stack_t ss;
        if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)) {
            alt_lo = (uintptr_t)ss.ss_sp;
            alt_hi = alt_lo + ss.ss_size;
        }
        alt_known = 1;
    }
}

/* The end of the stack that holds sp, or 0 when sp is in neither of this
 * thread's known stacks (a coroutine's stack, say): nothing there is read. */
static inline uintptr_t stack_end_of(uintptr_t sp) {
    if (sp >= thread_lo && sp < thread_hi)
        return thread_hi;
    if (sp >= alt_lo && sp < alt_hi)
        return alt_hi;
    return 0;
}

/* ---- the recipe cache ---- */

/* 4096 entries of two words, shared by all threads, no lock: an entry holds
 * the key XOR the recipe, and the recipe. A reader takes both with relaxed
 * loads and accepts the pair only if they give its key back, so a pair torn
 * by a concurrent writer is (except with negligible probability) a miss;
 * and every read a recipe leads to is bounds-checked anyway, so even a bad
 * hit costs at most a wrong frame, never a fault. The key carries the
 * table generation: after a dlopen/dlclose every old entry misses. */
#define CACHE_BITS 12
typedef struct cache_entry {
    _Atomic uint64_t key_x, value;
} cache_entry;
static cache_entry cache[1u << CACHE_BITS];

/* Key bit 47: an exact pc (innermost or interrupted frame), looked up as is,
 * versus a return address, looked up at pc - 1; user space ends below it. */
#define KEY_EXACT (UINT64_C(1) << 47)

static inline uint64_t cache_key(uintptr_t pc, int exact, uint32_t gen) {
    return (uint64_t)pc | (exact ? KEY_EXACT : 0) | ((uint64_t)(gen & 0xffff) << 48);
}

static inline cache_entry *cache_slot(uint64_t key) {
    /* The low bits of return addresses vary enough; a multiply would add
     * its latency to every frame's chain of dependent loads. */
    return &cache[(key ^ (key >> CACHE_BITS)) & ((1u << CACHE_BITS) - 1)];
}

/* A recipe in 64 bits: cfa_off 32 | kind 3 | cfa_reg 1 | deref 1 |
 * rbp_rule 2 | ra_off 8 | cfa_off2 8 | rbp_off 9 (signed fields); kind is
 * never 0, so neither is a packed recipe. A recipe whose numbers do not fit
 * is computed again each time, never cached. */
static int pack(const hp_recipe *r, uint64_t *out) {
    if (r->cfa_off2 < -128 || r->cfa_off2 > 127 || r->ra_off < -128 || r->ra_off > 127 || r->rbp_off < -256 ||
        r->rbp_off > 255)
        return -1;
    uint64_t v = (uint64_t)(uint32_t)r->cfa_off | (uint64_t)r->kind << 32 | (uint64_t)(r->cfa_reg == HP_DW_RBP) << 35 |
                 (uint64_t)r->cfa_deref << 36 | (uint64_t)r->rbp_rule << 37 |
                 ((uint64_t)(uint8_t)(int8_t)r->ra_off) << 39 | ((uint64_t)(uint8_t)(int8_t)r->cfa_off2) << 47 |
                 ((uint64_t)r->rbp_off & 0x1ff) << 55;
    *out = v;
    return 0;
}

/* The fields of a packed recipe, in registers: the walk never stores a
 * recipe to memory and reads it back (a store-forwarding stall on every
 * frame when it did). The CFA offset, on the critical path of every frame,
 * is the low 32 bits as they are; the other signed fields are sign-extended
 * by arithmetic, not by shifts of negatives. */
#define V_CFA_OFF(v) ((intptr_t)(int32_t)(uint32_t)(v))
#define V_KIND(v) ((unsigned)((v) >> 32) & 7u)
#define V_CFA_RBP(v) (((v) >> 35) & 1)
#define V_DEREF(v) (((v) >> 36) & 1)
#define V_RBP_RULE(v) ((unsigned)((v) >> 37) & 3u)
/* Two instructions: the field moved to the top, then an arithmetic shift
 * down (GCC and Clang define >> of a negative value as arithmetic). */
#define V_SIGNED(v, shift, bits) ((intptr_t)((int64_t)((v) << (64 - (shift) - (bits))) >> (64 - (bits))))
#define V_RA_OFF(v) V_SIGNED(v, 39, 8)
#define V_CFA_OFF2(v) V_SIGNED(v, 47, 8)
#define V_RBP_OFF(v) V_SIGNED(v, 55, 9)

/* The recipe for the frame at pc, from the tables (a cache miss). */
__attribute__((noinline)) static void compute_recipe(uintptr_t pc, int exact, hp_recipe *r, uint32_t *gen) {
    memset(r, 0, sizeof *r);
    r->kind = HP_RECIPE_NO_CFI;
    uintptr_t look = exact ? pc : pc - 1;
    const hp_unwind_range *range = hp_unwind_tables_find(look, gen);
    hp_unwind_range fresh;
    if (!range && hp_unwind_tables_find_new(look, &fresh) == 0)
        range = &fresh;
    if (!range || !range->hdr)
        return;
    /* The handler returns to __restore_rt itself (the kernel pushed its
     * address), so the bytes at pc, not pc - 1, say whether it is one. */
    if (pc >= range->text_lo && hp_cfi_is_sigreturn((const uint8_t *)pc, (const uint8_t *)range->text_hi)) {
        r->kind = HP_RECIPE_SIGNAL;
        return;
    }
    const uint8_t *fde = hp_cfi_find_fde(range->hdr, range->data_lo, range->data_hi, look);
    if (fde)
        hp_cfi_recipe_at(fde, range->data_lo, range->data_hi, look, r);
}

/* The cached packed recipe for the frame at pc, or 0. */
static inline uint64_t cache_probe(uint64_t key) {
    cache_entry *e = cache_slot(key);
    /* Relaxed: the pair validates itself (see cache_entry). */
    uint64_t v = atomic_load_explicit(&e->value, memory_order_relaxed);
    uint64_t kx = atomic_load_explicit(&e->key_x, memory_order_relaxed);
    return HP_LIKELY((kx ^ v) == key) ? v : 0;
}

/* The packed recipe for the frame at pc; 0 when it does not pack (huge
 * frames), with the recipe in *slow then. */
static inline uint64_t recipe_for(uintptr_t pc, int exact, uint32_t gen, hp_recipe *slow) {
    uint64_t key = cache_key(pc, exact, gen);
    uint64_t v = cache_probe(key);
    if (HP_LIKELY(v != 0))
        return v;
    cache_entry *e = cache_slot(key);
    uint32_t found_gen = gen;
    compute_recipe(pc, exact, slow, &found_gen);
    if (pack(slow, &v) != 0)
        return 0;
    if (found_gen == gen) { /* else the tables changed meanwhile: use it, do not cache it */
        atomic_store_explicit(&e->value, v, memory_order_relaxed);
        atomic_store_explicit(&e->key_x, key ^ v, memory_order_relaxed);
    }
    return v;
}

/* ---- the walk ---- */

/* A word of the stack at addr, if addr lies in [sp, end - 8]. */
static inline int load_word(uintptr_t addr, uintptr_t sp, uintptr_t end, uintptr_t *out) {
    if (addr < sp || addr > end - sizeof(uintptr_t) || end < sizeof(uintptr_t))
        return 0;
    memcpy(out, (const void *)addr, sizeof *out);
    return 1;
}

/* load_word for the walk's k-th read, given the last walk's read
 * addresses (see memo; *np: how many of them may still be used, all in the
 * mapped [sp, end) of this capture's stack). The word is loaded from the
 * predicted address, which does not depend on the loads before, and used if
 * addr is that address. The load is an asm statement placed before the
 * comparison: the compiler cannot move it after, where it would know the
 * two addresses equal and could load through addr instead. */
static inline int load_word_k(uintptr_t addr, uintptr_t sp, uintptr_t end, uintptr_t *out, unsigned k,
                              const uintptr_t *pred_addr, unsigned *np) {
    if (addr < sp || addr > end - sizeof(uintptr_t) || end < sizeof(uintptr_t))
        return 0;
    if (HP_LIKELY(k < *np)) {
        uintptr_t at = pred_addr[k], w;
        __asm__ volatile("movq (%1), %0" : "=r"(w) : "r"(at), "m"(*(const uintptr_t *)at));
        if (HP_LIKELY(at == addr)) {
            *out = w;
            return 1;
        }
        *np = 0;
    }
    memcpy(out, (const void *)addr, sizeof *out);
    return 1;
}

/* The walk from the registers of hp_unwind_backtrace's own frame. Every
 * stack word it reads is appended to rec (when there is room), so the next
 * capture from the same place can check those words instead of walking
 * (see memo). rec->valid says whether the record is complete. The first
 * npred reads are predicted to be at pred_addr (the last walk's: see memo);
 * rec may be the memo they come from (each entry is read before it is
 * overwritten). */
static inline __attribute__((always_inline)) unsigned walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t end,
                                                           uint32_t gen, uintptr_t *pcs, unsigned max, int *cut,
                                                           memo *rec, const uintptr_t *pred_addr, unsigned npred) {
    int exact = 1, bp_known = 1, first = 1;
    /* Whether rbp still holds the value it had on entry, and whether the walk
     * used that value: only then must a replay have the same rbp (a caller
     * may keep a loop counter in it). */
    int bp_initial = 1, bp_used = 0;
    unsigned n = 0;
    unsigned nr = 0;
    int complete = rec != NULL;
    /* The read index of rbp's current value when it came from the stack
     * (-1: not from the stack): a saved rbp matters to a replay only if
     * the walk then uses it, so its read is kept only then. */
    int bp_read = -1;
#define LOAD_AS(a_, lo_, out_, need_)                                                                              \
    (load_word_k((a_), (lo_), end, (out_), nr, pred_addr, &npred) &&                                   \
     (HP_LIKELY(nr < MEMO_READS)                                                                                  \
          ? ((rec ? (rec->addr[nr] = (a_), rec->value[nr] = *(out_), rec->needed[nr] = (need_)) : 0), nr++, 1)  \
          : (complete = 0, 1)))
#define LOAD(a_, lo_, out_) LOAD_AS(a_, lo_, out_, 1)
#define USE_BP()                                                                                                   \
    do {                                                                                                           \
        bp_used |= bp_initial;                                                                                     \
        if (rec && bp_read >= 0)                                                                                   \
            rec->needed[bp_read] = 1;                                                                              \
    } while (0)
    /* The common frames, with fewer instructions and branches: a cached
     * recipe of an ordinary frame (CFA = rsp or rbp + offset, rbp unchanged
     * or saved at the CFA). Exactly what the general loop below does for
     * them; at any other frame it hands over to that loop, before the frame
     * is taken. */
    const uint64_t key_gen = cache_key(0, 0, gen);
    uint64_t key_exact = KEY_EXACT; /* the first frame only */
    for (;;) {
        uint64_t v = cache_probe((uint64_t)pc | key_gen | key_exact);
        /* Kind FRAME (bits 32-34), no dereference (bit 36), rbp unchanged
         * or saved at the CFA (rule < 2: bit 38 clear); a miss is 0. */
        if (HP_UNLIKELY(((v >> 32) & 0x57) != HP_RECIPE_FRAME) || HP_UNLIKELY(V_CFA_RBP(v) && !bp_known))
            break;
        key_exact = 0;
        if (!first) {
            if (n == max)
                goto done;
            pcs[n++] = pc;
        }
        first = 0;
        uintptr_t base = sp;
        if (V_CFA_RBP(v)) {
            base = bp;
            USE_BP();
        }
        uintptr_t cfa = base + (uintptr_t)V_CFA_OFF(v);
        uintptr_t ra;
        if (cfa <= sp || cfa > end || !LOAD(cfa + (uintptr_t)V_RA_OFF(v), sp, &ra))
            goto cut;
        if (V_RBP_RULE(v) == HP_RBP_AT_CFA) {
            if (!LOAD_AS(cfa + (uintptr_t)V_RBP_OFF(v), sp, &bp, 0)) {
                bp_known = 0;
                bp_read = -1;
            } else {
                bp_known = 1;
                bp_read = (int)nr - 1;
            }
            bp_initial = 0;
        }
        sp = cfa;
        pc = ra;
        if (pc == 0)
            goto done; /* the outermost frame's return address (clone's child) */
    }
    exact = key_exact != 0;
    for (;;) {
        if (!first) {
            if (n == max)
                goto done;
            pcs[n++] = pc;
        }
        first = 0;
        hp_recipe slow;
        uint64_t v = recipe_for(pc, exact, gen, &slow);
        /* Each field is decoded where it is used (most frames need two). */
#define F(packed, field) (HP_LIKELY(v != 0) ? (packed) : (intptr_t)slow.field)
        unsigned kind = HP_LIKELY(v != 0) ? V_KIND(v) : slow.kind;
        if (HP_LIKELY(kind == HP_RECIPE_FRAME)) {
            uintptr_t base = sp;
            if (HP_LIKELY(v != 0) ? V_CFA_RBP(v) : slow.cfa_reg == HP_DW_RBP) {
                if (!bp_known)
                    break;
                base = bp;
                USE_BP();
            }
            uintptr_t cfa = base + (uintptr_t)F(V_CFA_OFF(v), cfa_off);
            if (F((intptr_t)V_DEREF(v), cfa_deref)) {
                if (!LOAD(cfa, sp, &cfa))
                    break;
                cfa += (uintptr_t)F(V_CFA_OFF2(v), cfa_off2);
            }
            uintptr_t ra;
            if (cfa <= sp || cfa > end || !LOAD(cfa + (uintptr_t)F(V_RA_OFF(v), ra_off), sp, &ra))
                break;
            intptr_t rbp_off;
            switch (F((intptr_t)V_RBP_RULE(v), rbp_rule)) {
            case HP_RBP_AT_CFA:
                rbp_off = F(V_RBP_OFF(v), rbp_off);
                if (!LOAD_AS(cfa + (uintptr_t)rbp_off, sp, &bp, 0)) {
                    bp_known = 0;
                    bp_read = -1;
                } else {
                    bp_known = 1;
                    bp_read = (int)nr - 1;
                }
                bp_initial = 0;
                break;
            case HP_RBP_AT_RBP:
                rbp_off = F(V_RBP_OFF(v), rbp_off);
                if (bp_known)
                    USE_BP();
                if (!bp_known || !LOAD_AS(bp + (uintptr_t)rbp_off, sp, &bp, 0)) {
                    bp_known = 0;
                    bp_read = -1;
                } else {
                    bp_read = (int)nr - 1;
                }
                bp_initial = 0;
                break;
            case HP_RBP_UNDEF: bp_known = 0; break;
            default: break;
            }
            sp = cfa;
            pc = ra;
            exact = 0;
            if (pc == 0)
                goto done; /* the outermost frame's return address (clone's child) */
            continue;
        }
        if (kind == HP_RECIPE_SIGNAL) {
            /* rsp points at the ucontext_t of the kernel's rt_sigframe (the
             * handler's ret popped the restorer's address). */
            uintptr_t uc = sp, rip, rsp, rbp;
            complete = 0; /* never replayed: the next stack may be gone by then (a freed alternate stack) */
            if (!load_word(uc + offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]), sp, end, &rip) ||
                !load_word(uc + offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]), sp, end, &rsp) ||
                !load_word(uc + offsetof(ucontext_t, uc_mcontext.gregs[REG_RBP]), sp, end, &rbp))
                break;
            end = stack_end_of(rsp);
            if (!end || rip == 0)
                break;
            pc = rip;
            sp = rsp;
            bp = rbp;
            bp_known = 1;
            exact = 1;
            continue;
        }
        if (kind == HP_RECIPE_OUTERMOST)
            goto done;
        break; /* no CFI, unsupported CFI */
    }
cut:
    *cut = 1;
done:
#undef F
#undef LOAD
#undef LOAD_AS
#undef USE_BP
    if (rec) {
        rec->valid = complete && n <= MEMO_FRAMES;
        rec->bp_used = bp_used;
        if (rec->valid) {
            rec->nreads = nr;
            rec->n = n;
            rec->cut = *cut;
            hp_copy_words(rec->pcs, pcs, n);
        }
    }
    return n;
}

__attribute__((noinline)) unsigned hp_unwind_backtrace(uintptr_t *pcs, unsigned max, int *cut) {
    *cut = 0;
    uint32_t gen = hp_unwind_tables_generation();
    if (HP_UNLIKELY(gen == 0))
        return 0; /* before start-up built the tables (another constructor allocating): no frames, as before */
    if (HP_UNLIKELY(!thread_known))
        learn_thread();
    uintptr_t pc, sp, bp;
    /* The pc of the instruction after the lea, and rsp/rbp as the CFI row at
     * that pc describes them (nothing in between moves rsp). */
    __asm__ volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2" : "=r"(pc), "=r"(sp), "=r"(bp));
    uintptr_t end = stack_end_of(sp);
    if (!end) {
        *cut = 1;
        return 0;
    }
    /* A capture interrupted by a signal whose handler captures too: the
     * handler's capture neither reads nor writes the memo. */
    memo *m = memo_busy ? NULL : thread_memo;
    unsigned npred = 0;
    if (m) {
        memo_busy = 1;
        HP_SIGNAL_FENCE();
        if (m->valid && m->sp == sp && m->gen == gen && m->max == max && m->end == end) {
            /* Same place, same stack pointer: the last walk's reads lie in
             * [sp, end) of the stack this thread runs on now (mapped). If
             * the words that decided its result hold what they held, the
             * walk would give the same frames. */
            unsigned k = 0;
            for (; k < m->nreads; k++) {
                uintptr_t w;
                memcpy(&w, (const void *)m->addr[k], sizeof w);
                if ((w ^ m->value[k]) & -(uintptr_t)m->needed[k])
                    break;
            }
            if (k == m->nreads && (!m->bp_used || m->bp == bp)) {
                hp_copy_words(pcs, m->pcs, m->n);
                *cut = m->cut;
                HP_SIGNAL_FENCE();
                memo_busy = 0;
                return m->n;
            }
            npred = m->nreads;
        }
        m->valid = 0;
        m->sp = sp;
        m->bp = bp;
        m->gen = gen;
        m->max = max;
        m->end = end;
    }
    /* Two copies of the walk: one that records into the memo, one without
     * (a capture in a signal handler that interrupted a capture). */
    unsigned n = m ? walk(pc, sp, bp, end, gen, pcs, max, cut, m, m->addr, npred)
                   : walk(pc, sp, bp, end, gen, pcs, max, cut, NULL, NULL, 0);
    if (m) {
        HP_SIGNAL_FENCE();
        memo_busy = 0;
    }
    return n;
}

void hp_unwind_thread_exit(void) {
    memo *m = thread_memo;
    thread_memo = NULL;
    HP_SIGNAL_FENCE();
    hp_free(m);
}
