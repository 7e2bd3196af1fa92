/* The public API (include/heapprof.h), used the way the header recommends:
 * declared weak, so the same binary runs with heapprof preloaded, linked, or
 * absent.
 *   usage: api_demo FIRST.pb.gz SECOND.pb.gz
 *   leak_for_api       64 x 64 KiB, kept, before the first dump
 *   after_rate_change  10 x 100 bytes, kept, after heapprof_set_rate(1)
 * Prints "api ..." lines the test compares with the profiles. */
#include <errno.h>
#include <string.h>

#include <heapprof.h>

#include "e2e_prog.h"

#pragma weak heapprof_dump
#pragma weak heapprof_set_rate
#pragma weak heapprof_get_stats

__attribute__((noinline)) static void *leak_for_api(void)
{
    return memset(xmalloc_check(malloc(64 << 10), "leak_for_api"), 1, 64 << 10);
}

__attribute__((noinline)) static void *after_rate_change(void)
{
    return memset(xmalloc_check(malloc(100), "after_rate_change"), 2, 100);
}

/* A thread picks a new rate up at its next sample: one big allocation uses
 * up what is left of the old gap (mean 512 KiB; 64 MiB is never outlasted). */
__attribute__((noinline)) static void use_up_gap(void)
{
    free(KEEP(malloc(64 << 20)));
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    if (!heapprof_dump || !heapprof_set_rate || !heapprof_get_stats) {
        printf("api heapprof not loaded\n");
        return 0;
    }
    for (int i = 0; i < 64; i++)
        KEEP(leak_for_api());

    heapprof_stats st;
    int r = heapprof_get_stats(&st);
    printf("api stats r=%d rate=%llu samples=%llu live_bytes=%llu own_bytes=%llu\n", r,
           (unsigned long long)st.rate, (unsigned long long)st.samples,
           (unsigned long long)st.live_bytes_estimate, (unsigned long long)st.own_bytes);
    printf("api dump1 r=%d\n", heapprof_dump(argv[1]));
    printf("api dump_bad r=%d enoent=%d\n", heapprof_dump("/nonexistent-heapprof-dir/x.pb.gz"), ENOENT);
    printf("api dump_null r=%d einval=%d\n", heapprof_dump(NULL), EINVAL);
    printf("api stats_null r=%d\n", heapprof_get_stats(NULL));

    size_t old = heapprof_set_rate(1);
    printf("api set_rate old=%zu again=%zu\n", old, heapprof_set_rate(1));
    use_up_gap();
    for (int i = 0; i < 10; i++)
        KEEP(after_rate_change());
    printf("api dump2 r=%d\n", heapprof_dump(argv[2]));
    r = heapprof_get_stats(&st);
    printf("api stats2 r=%d rate=%llu samples=%llu\n", r, (unsigned long long)st.rate,
           (unsigned long long)st.samples);
    return 0;
}
