#include "record/wakeup.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Futex word: bumped by every wake-up so a wake between the flusher's check
 * and its wait is never lost. The waker's increment is a release and the
 * flusher reads it with acquire at the top of each round, so a flag set
 * before a wake (a dump request, the stop request) is seen by the round that
 * sees the new value. */
static _Atomic uint32_t wake_word;
/* Set while the flusher is in (or about to enter) its futex wait: only then
 * does a wake need the system call. App threads nudge the flusher whenever
 * their ring backs up, which at high sampling rates is often, and a futex
 * wake costs a syscall even when nobody waits. SLEEP_NAP: a short wait of a
 * busy flusher, which a nudge does not interrupt (it is back within the nap
 * anyway); SLEEP_LONG: anything else. See hp_flusher_wake. */
enum { AWAKE = 0, SLEEP_NAP = 1, SLEEP_LONG = 2 };
static _Atomic int flusher_sleeping;

/* A Dekker-style handshake with hp_wait_for_wake: the waker writes wake_word
 * then reads flusher_sleeping; the flusher writes flusher_sleeping then reads
 * wake_word. Both sides need seq_cst (a store-then-load pair is the one
 * reordering acquire/release allows): in the single total order at least one
 * side sees the other's write. Either the waker sees the flag and makes the
 * syscall (FUTEX_WAIT compares wake_word in the kernel, so a wake just before
 * the wait makes the wait return at once), or the flusher sees the new
 * wake_word and does not wait. So no wake-up is lost. Async-signal-safe. */
static void wake_if_sleeping(int least) {
    atomic_fetch_add_explicit(&wake_word, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&flusher_sleeping, memory_order_seq_cst) >= least)
        syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void hp_flusher_wake(void) { wake_if_sleeping(SLEEP_NAP); }

/* A nap seen here ends by its timeout; the bumped wake_word makes the
 * flusher's next check see this nudge, so nothing is lost, only delayed by
 * at most the nap. */
void hp_flusher_nudge(void) { wake_if_sleeping(SLEEP_LONG); }

/* Acquire: pairs with the waker's increment (see wake_word). */
uint32_t hp_wake_seen(void) { return atomic_load_explicit(&wake_word, memory_order_acquire); }

void hp_wait_for_wake(uint32_t seen, uint64_t timeout_ns, int nap) {
    atomic_store_explicit(&flusher_sleeping, nap ? SLEEP_NAP : SLEEP_LONG, memory_order_seq_cst);
    if (atomic_load_explicit(&wake_word, memory_order_seq_cst) == seen) {
        struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
        syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    /* Relaxed: a waker that still sees 1 only makes a needless syscall, and
     * the next wait sets it again (seq_cst) before it checks. */
    atomic_store_explicit(&flusher_sleeping, AWAKE, memory_order_relaxed);
}

/* Relaxed: the child is single-threaded here (an atfork child handler). */
void hp_wake_after_fork_child(void) { atomic_store_explicit(&flusher_sleeping, AWAKE, memory_order_relaxed); }
