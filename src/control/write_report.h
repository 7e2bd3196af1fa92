/* Saying that profiles cannot be written, without flooding stderr: each
 * failure kind (errno) once, and once more when writing works again. */
#ifndef HEAPPROF_WRITE_REPORT_H
#define HEAPPROF_WRITE_REPORT_H

/* The result of writing `path` (err 0: success). Flusher thread only. */
void hp_report_write_result(const char *path, int err);

#endif
