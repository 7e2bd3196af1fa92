#include "control/write_report.h"

#include <string.h>

#include "base/common.h"
#include "base/warn.h"

static unsigned reported_errors[8]; /* errno values already reported once */

void hp_report_write_result(const char *path, int err) {
    if (err == 0) {
        if (reported_errors[0]) {
            hp_warnf("heapprof: writing profiles works again (%s)", path);
            memset(reported_errors, 0, sizeof reported_errors);
        }
        return;
    }
    size_t i = 0;
    for (; i < HP_ARRAY_LEN(reported_errors) && reported_errors[i]; i++)
        if (reported_errors[i] == (unsigned)err)
            return;
    if (i < HP_ARRAY_LEN(reported_errors))
        reported_errors[i] = (unsigned)err;
    char msg[128];
    const char *reason = strerror_r(err, msg, sizeof msg);
    hp_warnf("heapprof: cannot write profile %s: %s (the program continues; this error is reported once)", path,
             reason);
}
