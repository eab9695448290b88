/*
 * tap.h - a minimal TAP producer for unit tests (automake's tap-driver reads
 * it). Header only: each test binary includes it once.
 *
 *   ok(cond, "name"); is_int(got, want, "name"); is_str(got, want, "name");
 *   is_mem(got, got_len, want, want_len, "name"); return tap_done();
 */
#ifndef HN_TESTS_TAP_H
#define HN_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__))                                    \
            printf("#   got %lld, want %lld\n", g_, w_);                                           \
    } while (0)
#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int same_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0);               \
        if (!tap_ok(same_, __FILE__, __LINE__, __VA_ARGS__))                                       \
            printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");       \
    } while (0)
#define is_mem(got, glen, want, wlen, ...)                                                         \
    tap_ok((size_t)(glen) == (size_t)(wlen) && memcmp((got), (want), (wlen)) == 0, __FILE__,       \
           __LINE__, __VA_ARGS__)

__attribute__((format(printf, 4, 5))) static int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    return cond;
}

static int
tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
