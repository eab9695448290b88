/*
 * common.h - conventions every file of hornet shares: return codes, the
 * container_of macro, branch hints and attributes. Header only.
 */
#ifndef HN_SHARED_COMMON_H
#define HN_SHARED_COMMON_H

#include <stddef.h>

/* Return codes. I/O calls return a byte count >= 0 or one of these. */
#define HN_OK 0
#define HN_ERR (-1)
#define HN_AGAIN (-2) /* would block; try again when the fd is ready */
#define HN_DONE (-3)  /* the callee closed or freed the object: stop touching it */

#define HN_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define HN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HN_MAX(a, b) ((a) > (b) ? (a) : (b))

#define hn_likely(x) __builtin_expect(!!(x), 1)
#define hn_unlikely(x) __builtin_expect(!!(x), 0)

#define HN_MUST_CHECK __attribute__((warn_unused_result))
#define HN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HN_NORETURN __attribute__((noreturn))
#define HN_UNUSED __attribute__((unused))

/* Exit statuses shared by master and workers. A worker that exits with
 * HN_EXIT_STARTUP could not start (app, listen, lifespan) and would fail the
 * same way again: the master stops the server instead of respawning it. */
#define HN_EXIT_OK 0
#define HN_EXIT_FAILURE 1
#define HN_EXIT_STARTUP 3

/* An error description filled by setup code (anet style); the caller decides
 * whether and where to log it. One line, except a config file's errors: one
 * line each (hn_cfg_load_file reports them all, up to HN_CFG_MAX_ERRORS). */
typedef struct hn_err {
    int code; /* errno when one applies, else 0 */
    char msg[4096];
} hn_err_t;

void hn_err_set(hn_err_t *err, int code, const char *fmt, ...) HN_PRINTF(3, 4);

#endif
