/*
 * headers.h - HTTP header rules both directions use: token and field-value
 * validation (Hypercorn's build_and_validate_headers), which statuses carry no
 * body (suppress_body), reason phrases, and the IMF-fixdate format.
 */
#ifndef HN_SHARED_HEADERS_H
#define HN_SHARED_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* RFC 9110 token (header names, methods): 1*tchar. */
bool hn_headers_valid_name(const char *name, size_t len);
/* RFC 9110 field-value: no CR, LF or NUL, no leading/trailing SP/HTAB. */
bool hn_headers_valid_value(const char *value, size_t len);

/* RFC 3986 authority as Host carries it (uri-host [":" port]): reg-name
 * characters or a bracketed IP literal, then an optional decimal port; no
 * userinfo. Empty is valid (RFC 9112 §3.2 allows an empty Host). */
bool hn_headers_valid_host(const char *value, size_t len);

/* RFC 9110 §6.4.1: responses to HEAD and 1xx, 204, 304 carry no body. */
bool hn_headers_suppress_body(const char *method, size_t method_len, int status);

/* "OK", "Not Found"; "Unknown" for codes without a registered phrase. */
const char *hn_headers_reason(int status);

/* "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters + NUL). Returns buf. */
#define HN_HTTP_DATE_LEN 29
const char *hn_headers_format_date(time_t t, char buf[HN_HTTP_DATE_LEN + 1]);
/* The current Date value, formatted once per second (per process). */
const char *hn_headers_date_now(void);
/* Parse IMF-fixdate (and the two obsolete forms of RFC 9110 §5.6.7).
 * Returns (time_t)-1 if unparsable. */
time_t hn_headers_parse_date(const char *s, size_t len);

#endif
