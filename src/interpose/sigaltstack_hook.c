/* sigaltstack is interposed so the unwinder knows each thread's alternate
 * signal stack: a sample taken in a handler running there is read within
 * that stack's bounds, then through the signal frame on the interrupted
 * stack (record/unwind.c). The system call itself is made directly, as
 * glibc's wrapper does: no dlsym, so it is safe in a signal handler too. */
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/common.h"
#include "record/unwind.h"

HP_EXPORT int sigaltstack(const stack_t *ss, stack_t *old) {
    long rc = syscall(SYS_sigaltstack, ss, old);
    if (rc == 0 && ss)
        hp_unwind_note_altstack(ss);
    return (int)rc;
}
