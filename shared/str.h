/*
 * str.h - counted byte slices and the small string checks HTTP needs.
 */
#ifndef HN_SHARED_STR_H
#define HN_SHARED_STR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hn_str {
    const char *ptr;
    size_t len;
} hn_str_t;

#define HN_STR_LIT(s) ((hn_str_t){(s), sizeof(s) - 1})

bool hn_str_eq(hn_str_t a, hn_str_t b);
bool hn_str_case_eq(hn_str_t a, const char *lit); /* ASCII case-insensitive vs C string */
bool hn_mem_case_eq(const char *a, size_t alen, const char *b, size_t blen);
void hn_str_lower(char *s, size_t len);
/* Does the comma-separated list (a header value) contain token, ignoring case
 * and optional whitespace? "keep-alive, Upgrade" contains "upgrade". */
bool hn_str_list_has_token(const char *list, size_t len, const char *token);
/* The next element of a comma-separated list, without the whitespace
 * around it, starting at *pos (advanced past it); false when none is left.
 * Empty elements are skipped (RFC 9110 §5.6.1). */
bool hn_str_list_next(const char **pos, const char *end, hn_str_t *elem);
/* Percent-decode src into dst (dst may equal src). Returns the decoded length,
 * or -1 on a malformed escape. '+' is left alone (paths, not forms). */
long hn_str_percent_decode(char *dst, const char *src, size_t len);

#endif
