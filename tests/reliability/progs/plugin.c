/* A dlopen()ed plugin that allocates from its own function. */
#include <stdlib.h>

__attribute__((noinline)) void *plugin_alloc(size_t n)
{
    return malloc(n);
}
