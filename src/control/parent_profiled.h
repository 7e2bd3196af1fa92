/* Whether this process's parent has libheapprof loaded too: a child that
 * inherited HEAPPROF_HTTP finds the port taken, most likely by that parent,
 * and should not say so on the child's stderr (http_server.c). Reads
 * /proc/<ppid>/maps once, at start-up, only after a bind failed. */
#ifndef HEAPPROF_PARENT_PROFILED_H
#define HEAPPROF_PARENT_PROFILED_H

int hp_parent_has_heapprof(void);

#endif
