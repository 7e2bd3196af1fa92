/* heapprof's own messages: one line on stderr each, "heapprof: ...".
 *
 * The profiler's failures (an unwritable folder, a bad variable) never stop
 * the host; they are said once, in one line, and heapprof degrades. */
#ifndef HEAPPROF_WARN_H
#define HEAPPROF_WARN_H

/* Writes line + "\n" to fd 2 in one write(2), without stdio or malloc,
 * preserving errno: safe inside the program's first malloc and in a signal
 * handler. Lines longer than HP_WARN_LINE_MAX are cut. */
#define HP_WARN_LINE_MAX 1024
void hp_warn(const char *line);

/* printf-style, formatted on the stack (vsnprintf: not inside malloc, not in
 * a signal handler). */
void hp_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
