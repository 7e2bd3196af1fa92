/* Which sanitizer the unit tests were built with (gcc defines __SANITIZE_*,
 * clang answers __has_feature), so heavy tests can shrink their loops:
 * TEST_SCALE is the divisor of their sizes (TEST_SCALE_UNDER_SANITIZER, if a
 * file defines it first, else 10; 1 without a sanitizer). */
#ifndef HEAPPROF_TEST_SANITIZER_H
#define HEAPPROF_TEST_SANITIZER_H

#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif
#ifndef TEST_UNDER_TSAN
#define TEST_UNDER_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#ifndef TEST_UNDER_ASAN
#define TEST_UNDER_ASAN 0
#endif

#ifndef TEST_SCALE_UNDER_SANITIZER
#define TEST_SCALE_UNDER_SANITIZER 10
#endif
#define TEST_SCALE ((TEST_UNDER_TSAN || TEST_UNDER_ASAN) ? TEST_SCALE_UNDER_SANITIZER : 1)

#endif
