/*
 * request.c - the protocol-neutral side of a request (see request.h): header
 * lookup and the response API apps call, which checks the order of calls
 * (Hypercorn's UnexpectedMessageError), records what the access log needs and
 * hands the bytes to the protocol's stream ops.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "worker/request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/cfg.h"
#include "shared/headers.h"
#include "shared/log.h"
#include "shared/str.h"
#include "worker/access_log.h"
#include "worker/app.h"
#include "worker/worker.h"

/* host[:port], [v6]:port or [v6]: the host's length; the port (maybe
 * empty) into *port. */
static size_t
host_len(const char *v, size_t len, const char **port, size_t *port_len)
{
    const char *end = v + len;
    const char *close = len && v[0] == '[' ? memchr(v, ']', len) : NULL;
    const char *from = close ? close : v;
    const char *colon = memrchr(from, ':', (size_t)(end - from));
    *port = colon ? colon + 1 : end;
    *port_len = (size_t)(end - *port);
    return (size_t)((colon ? colon : end) - v);
}

/* One server_names entry against a host and port (port may be empty). */
static bool
name_matches(const char *name, const char *host, size_t hlen, const char *port, size_t plen)
{
    const char *colon = strrchr(name, ':');
    size_t nlen = colon && colon[1] != '\0' && !strchr(colon, ']') ? (size_t)(colon - name)
                                                                  : strlen(name);
    if (nlen < strlen(name)) {
        const char *np = name + nlen + 1;
        if (plen != strlen(np) || memcmp(port, np, plen) != 0)
            return false;
    }
    if (nlen > 2 && name[0] == '*' && name[1] == '.') {
        /* *.example.com: one label or more in front of .example.com */
        size_t slen = nlen - 1;
        return hlen > slen && hn_mem_case_eq(host + hlen - slen, slen, name + 1, slen);
    }
    return hn_mem_case_eq(host, hlen, name, nlen);
}

bool
hn_request_host_allowed(const hn_request_t *r, char *const *names, size_t n)
{
    if (n == 0)
        return true;
    const hn_header_t *h = hn_request_header(r, "host");
    if (h == NULL || h->value_len == 0)
        return false;
    const char *port;
    size_t plen, hlen = host_len(h->value, h->value_len, &port, &plen);
    for (size_t i = 0; i < n; i++)
        if (name_matches(names[i], h->value, hlen, port, plen))
            return true;
    return false;
}

bool
hn_request_redirect_to_https(hn_request_t *r, const hn_config_t *cfg)
{
    if (!cfg->https_redirect || cfg->certfile == NULL || r->scheme[4] == 's' ||
        cfg->n_bind == 0)
        return false;
    /* the host the client asked for, without its port */
    const hn_header_t *h = hn_request_header(r, "host");
    const char *host = h ? h->value : r->server_host;
    const char *hport;
    size_t plen, hlen = host_len(host, h ? h->value_len : strlen(host), &hport, &plen);
    const struct sockaddr_storage *sa = &cfg->bind[0].sa;
    int port = sa->ss_family == AF_INET    ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
               : sa->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                                           : 0; /* fd:// or unix: the default port */
    char portbuf[8] = "";
    if (port > 0 && port != 443)
        snprintf(portbuf, sizeof(portbuf), ":%d", port);
    size_t qlen = r->query_len ? r->query_len + 1 : 0;
    size_t len = 8 + hlen + strlen(portbuf) + r->raw_path_len + qlen;
    char *loc = hn_arena_alloc(r->arena, len + 1);
    int k = snprintf(loc, len + 1, "https://%.*s%s%.*s%s%.*s", (int)hlen, host, portbuf,
                     (int)r->raw_path_len, r->raw_path, qlen ? "?" : "", (int)r->query_len,
                     r->query);
    static const char body[] = "308 Permanent Redirect: this site is served over https\n";
    hn_header_t hd[3] = {
        {"location", 8, loc, (size_t)k},
        {"content-type", 12, "text/plain; charset=utf-8", 25},
        {"content-length", 14, "55", 2},
    };
    _Static_assert(sizeof(body) - 1 == 55, "content-length");
    if (hn_response_start(r, 308, hd, 3) == HN_OK)
        hn_response_write(r, body, sizeof(body) - 1, true);
    return true;
}

const hn_header_t *
hn_request_header(const hn_request_t *r, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name_len == len && memcmp(r->headers[i].name, name, len) == 0)
            return &r->headers[i];
    return NULL;
}

void
hn_request_start_in_chunk(char *chunk, size_t state_size, hn_request_t *r, hn_arena_t *arena,
                          const hn_stream_ops_t *ops, void *proto, bool secure,
                          size_t headers_cap)
{
    memset(chunk, 0, state_size);
    size_t off = (state_size + 15) & ~(size_t)15;
    hn_arena_init(arena, chunk + off, HN_BUF_CHUNK_SIZE - off);
    r->arena = arena;
    r->ops = ops;
    r->proto = proto;
    r->content_length = -1;
    r->resp_content_length = -1;
    r->scheme = secure ? "https" : "http";
    r->headers = hn_arena_alloc(arena, headers_cap * sizeof(hn_header_t));
}

void
hn_request_chunk_free(char *chunk, hn_arena_t *arena)
{
    hn_arena_reset(arena);
    hn_buf_put(chunk);
}

void
hn_request_end(hn_request_t *r, bool complete, bool *app_called)
{
    if (complete) {
        if (hn_access_log_enabled() && r->method)
            hn_access_log_request(r, ev_time());
        hn_worker_request_done();
    } else {
        r->aborted = true;
    }
    if (!*app_called)
        return;
    *app_called = false;
    if (complete)
        r->app->on_end(r);
    else
        r->app->on_abort(r);
}

int
hn_request_set_target(hn_request_t *r, const char *t, size_t len)
{
    hn_arena_t *a = r->arena;
    if (t == NULL || len == 0)
        return 400;
    /* absolute-form (RFC 9112 §3.2.2): keep only the path and query */
    if (t[0] != '/' && !(len == 1 && t[0] == '*')) {
        const char *sep = memmem(t, len, "://", 3);
        if (sep == NULL)
            return 400;
        const char *slash = memchr(sep + 3, '/', len - (size_t)(sep + 3 - t));
        const char *aend = slash ? slash : memchr(sep + 3, '?', len - (size_t)(sep + 3 - t));
        if (aend == NULL)
            aend = t + len;
        if (!hn_headers_valid_host(sep + 3, (size_t)(aend - sep - 3)))
            return 400;
        if (slash == NULL) {
            const char *q = memchr(sep + 3, '?', len - (size_t)(sep + 3 - t));
            size_t qlen = q ? len - (size_t)(q - t) : 0;
            char *nt = hn_arena_alloc(a, qlen + 2);
            nt[0] = '/';
            if (qlen)
                memcpy(nt + 1, q, qlen);
            nt[qlen + 1] = '\0';
            t = nt;
            len = qlen + 1;
        } else {
            len -= (size_t)(slash - t);
            t = slash;
        }
    }
    const char *q = memchr(t, '?', len);
    size_t plen = q ? (size_t)(q - t) : len;
    r->raw_path = hn_arena_strndup(a, t, plen);
    r->raw_path_len = plen;
    if (q) {
        r->query = q + 1;
        r->query_len = len - plen - 1;
    } else {
        r->query = "";
        r->query_len = 0;
    }
    char *path = hn_arena_alloc(a, plen + 1);
    long dlen = hn_str_percent_decode(path, r->raw_path, plen);
    if (dlen < 0)
        return 400;
    path[dlen] = '\0';
    r->path = path;
    r->path_len = (size_t)dlen;
    return 0;
}

static int
refuse(hn_request_t *r, const char *what)
{
    hn_log(HN_LOG_ERROR, "app %s: unexpected %s (response %s)", r->app ? r->app->name : "?", what,
           r->resp_state == HN_RESP_NONE ? "not started" : "already complete");
    return HN_ERR;
}

/* A Content-Length value: digits only, no sign, no overflow; -1 if bad. */
static int64_t
parse_length(const char *v, size_t len)
{
    if (len == 0 || len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

static bool
is_suppressed(const hn_request_t *r)
{
    return !r->is_tunnel && hn_headers_suppress_body(r->method, r->method_len, r->status);
}

int
hn_response_start(hn_request_t *r, int status, const hn_header_t *headers, size_t n)
{
    if (r->resp_state != HN_RESP_NONE || r->aborted)
        return refuse(r, "response start");
    if (status < 100 || status > 999) {
        hn_log(HN_LOG_ERROR, "app %s: invalid status %d", r->app ? r->app->name : "?", status);
        return HN_ERR;
    }
    int64_t length = -1;
    /* Headers are borrowed from the app for this call only. The protocol
     * copies them into its output; only the access log needs them later,
     * so they are copied into request memory only when it is on. */
    bool keep = hn_access_log_enabled();
    hn_header_t *copy = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const hn_header_t *h = &headers[i];
        /* an app cannot split the response with CR/LF or emit a bad name */
        bool valid = hn_headers_valid_name(h->name, h->name_len) &&
                     hn_headers_valid_value(h->value, h->value_len);
        if (valid && h->name_len == 14 && hn_mem_case_eq(h->name, 14, "content-length", 14)) {
            length = parse_length(h->value, h->value_len);
            valid = length >= 0;
        }
        if (!valid) {
            hn_log(HN_LOG_ERROR, "app %s: dropping invalid response header %.*s",
                   r->app ? r->app->name : "?", (int)HN_MIN(h->name_len, (size_t)64), h->name);
        }
        if ((!valid || keep) && copy == NULL) {
            /* from here on, a filtered (or kept) copy of the array */
            copy = hn_arena_alloc(r->arena, (n ? n : 1) * sizeof(*copy));
            memcpy(copy, headers, i * sizeof(*copy));
            kept = i;
        }
        if (!valid)
            continue;
        if (copy)
            copy[kept] = *h;
        kept++;
    }
    if (copy && keep) {
        for (size_t i = 0; i < kept; i++) {
            copy[i].name = hn_arena_strndup(r->arena, copy[i].name, copy[i].name_len);
            copy[i].value = hn_arena_strndup(r->arena, copy[i].value, copy[i].value_len);
        }
    }
    const hn_header_t *out = copy ? copy : headers;
    r->status = status;
    r->resp_headers = keep ? out : NULL;
    r->resp_n_headers = keep ? kept : 0;
    r->resp_content_length = length;
    r->resp_state = HN_RESP_STARTED;
    if (r->ops->send_head(r, status, out, kept, length) != HN_OK) {
        r->resp_state = HN_RESP_DONE;
        return HN_ERR;
    }
    return HN_OK;
}

void
hn_response_expect_trailers(hn_request_t *r)
{
    r->has_trailers = true;
}

int
hn_response_write(hn_request_t *r, const void *data, size_t len, bool last)
{
    if (r->resp_state != HN_RESP_STARTED)
        return refuse(r, "response body");
    if (is_suppressed(r))
        len = 0;
    r->resp_body_bytes += len;
    if (last && r->has_trailers) {
        /* the body is complete but the response ends with the trailers */
        r->resp_state = HN_RESP_TRAILERS;
        return r->ops->send_data(r, data, len, false);
    }
    if (last)
        r->resp_state = HN_RESP_DONE;
    return r->ops->send_data(r, data, len, last);
}

/* Fields an app may not send: a name that is not a token, CR, LF or NUL in
 * a value (response splitting). */
static bool
fields_valid(const hn_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!hn_headers_valid_name(h[i].name, h[i].name_len) ||
            !hn_headers_valid_value(h[i].value, h[i].value_len))
            return false;
    return true;
}

int
hn_response_informational(hn_request_t *r, int status, const hn_header_t *headers, size_t n)
{
    if (r->resp_state != HN_RESP_NONE || r->aborted)
        return refuse(r, "informational response");
    if (status < 100 || status > 199 || status == 101 || !fields_valid(headers, n)) {
        hn_log(HN_LOG_ERROR, "app %s: invalid informational response %d or its fields",
               r->app ? r->app->name : "?", status);
        return HN_ERR;
    }
    /* RFC 9110 §15.2: no 1xx to a 1.0 client, which could not tell it
     * from the final response */
    if (strcmp(r->http_version, "1.0") == 0)
        return HN_OK;
    return r->ops->send_informational(r, status, headers, n);
}

int
hn_response_trailers(hn_request_t *r, const hn_header_t *trailers, size_t n)
{
    if (r->resp_state != HN_RESP_TRAILERS)
        return refuse(r, "response trailers");
    if (!fields_valid(trailers, n)) {
        hn_log(HN_LOG_ERROR, "app %s: invalid trailer", r->app ? r->app->name : "?");
        return HN_ERR;
    }
    r->resp_state = HN_RESP_DONE;
    return r->ops->send_trailers(r, trailers, n);
}

size_t
hn_response_pending(const hn_request_t *r)
{
    return r->ops->pending(r);
}

int
hn_response_sendfile(hn_request_t *r, int fd, off_t offset, size_t len, bool last)
{
    if (r->resp_state != HN_RESP_STARTED) {
        close(fd);
        return refuse(r, "response file");
    }
    if (is_suppressed(r))
        len = 0;
    r->resp_body_bytes += len;
    if (last && r->has_trailers) {
        r->resp_state = HN_RESP_TRAILERS;
        return r->ops->send_file(r, fd, offset, len, false);
    }
    if (last)
        r->resp_state = HN_RESP_DONE;
    return r->ops->send_file(r, fd, offset, len, last);
}

int
hn_response_simple(hn_request_t *r, int status, const char *ctype, const void *body, size_t len)
{
    char clen[24];
    hn_header_t h[2];
    size_t n = 0;
    if (ctype) {
        h[n++] = (hn_header_t){"content-type", 12, ctype, strlen(ctype)};
    }
    int k = snprintf(clen, sizeof(clen), "%zu", len);
    h[n++] = (hn_header_t){"content-length", 14, clen, (size_t)k};
    if (hn_response_start(r, status, h, n) != HN_OK)
        return HN_ERR;
    return hn_response_write(r, body, len, true);
}
