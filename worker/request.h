/*
 * request.h - one HTTP request and its response, independent of the protocol
 * that carries it. Protocols (h1 now, h2 later) fill the scope and feed body
 * bytes; apps answer through the hn_response_* functions, which forward to the
 * protocol's stream ops. The ABI bridge (later) sits on this same interface.
 *
 * Ownership: every pointer in the scope is borrowed from the request's arena
 * and valid until the request ends (after the app's on_end or on_abort).
 */
#ifndef HN_WORKER_REQUEST_H
#define HN_WORKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <string.h>

#include "shared/mem.h"
#include "shared/str.h"

typedef struct hn_header {
    const char *name; /* lower-cased for request headers */
    size_t name_len;
    const char *value;
    size_t value_len;
} hn_header_t;

typedef struct hn_request hn_request_t;
struct hn_config;
typedef struct hn_app hn_app_t;

/* What a protocol provides to carry one response. Each returns HN_OK, or
 * HN_ERR when the stream is gone (the request is then aborted). */
typedef struct hn_stream_ops {
    /* status line and headers; content_length < 0 means unknown */
    int (*send_head)(hn_request_t *r, int status, const hn_header_t *headers, size_t n,
                     int64_t content_length);
    /* a 1xx head before the final one (103 Early Hints); headers are valid
     * and borrowed for the call */
    int (*send_informational)(hn_request_t *r, int status, const hn_header_t *headers, size_t n);
    /* data is copied or referenced until written; last ends the response */
    int (*send_data)(hn_request_t *r, const void *data, size_t len, bool last);
    /* takes fd: closed once sent or on abort */
    int (*send_file)(hn_request_t *r, int fd, off_t offset, size_t len, bool last);
    /* after a body sent with last=false, ends the response with trailers */
    int (*send_trailers)(hn_request_t *r, const hn_header_t *trailers, size_t n);
    /* bytes queued for the client and not yet written */
    size_t (*pending)(const hn_request_t *r);
    /* free a request the protocol let go of while it was held (is_held) */
    void (*release)(hn_request_t *r);
    /* end the stream at once (HTTP/1.1: the connection; HTTP/2: RST_STREAM);
     * the request is aborted, now or from the loop */
    void (*abort)(hn_request_t *r);
    /* Stop (paused) or restart delivering the request body to the app:
     * HTTP/1.1 stops reading the connection, HTTP/2 withholds the stream's
     * window. Bytes that arrive meanwhile are kept and delivered from the
     * loop after the restart, never from inside this call. */
    void (*read_pause)(hn_request_t *r, bool paused);
} hn_stream_ops_t;

typedef enum hn_resp_state {
    HN_RESP_NONE = 0, /* nothing sent */
    HN_RESP_STARTED,  /* head sent, body may follow */
    HN_RESP_TRAILERS, /* body complete, trailers announced and awaited */
    HN_RESP_DONE,     /* complete */
} hn_resp_state_t;

struct hn_request {
    /* scope (ASGI names) */
    const char *method;
    size_t method_len;
    const char *raw_path; /* as received, without the query */
    size_t raw_path_len;
    const char *path;     /* percent-decoded */
    size_t path_len;
    const char *query;    /* after '?', may be empty */
    size_t query_len;
    const char *http_version; /* "1.0", "1.1", "2" */
    const char *scheme;       /* "http" or "https" */
    hn_header_t *headers;
    size_t n_headers;
    const char *client;       /* "127.0.0.1:51234", "[::1]:51234", or the listener for unix */
    const char *client_host;  /* "127.0.0.1"; NULL for a unix socket peer */
    int client_port;
    const char *server;       /* the listener as configured: "127.0.0.1:8000", "unix:/p" */
    const char *server_host;  /* "127.0.0.1", or the unix socket path */
    int server_port;          /* -1 for a unix socket or fd:// */
    int64_t content_length;   /* -1: none or chunked */
    bool has_body;            /* a body follows the head (length > 0 or chunked) */

    /* response as sent, for the access log */
    int status;
    int64_t resp_content_length; /* -1: unknown */
    uint64_t resp_body_bytes;
    const hn_header_t *resp_headers; /* copied into the arena by hn_response_start */
    size_t resp_n_headers;
    hn_resp_state_t resp_state;
    bool has_trailers;       /* announced by the app at response start */
    bool is_held;            /* the app hears of its end later: the protocol
                              * detaches it instead of freeing it, and the
                              * bridge calls ops->release afterwards */
    bool body_done;          /* the whole request body was received */
    bool aborted;            /* the client went away */
    bool is_websocket;       /* a valid WebSocket handshake (RFC 6455 or 8441) */
    bool is_tunnel;          /* accepted: the bodies both ways are WebSocket frames */
    double start_time;       /* ev_time() when the head was complete */

    hn_arena_t *arena;       /* per-request memory, freed when the request ends */
    const hn_app_t *app;
    void *app_data;          /* the app's own per-request state */

    /* protocol side */
    const hn_stream_ops_t *ops;
    void *proto;             /* the protocol object carrying this request */
};

/* A request lives in one buffer chunk: the protocol's state (state_size
 * bytes, zeroed, holding r and arena) and after it the arena's memory.
 * Sets what every protocol's request starts with, and a headers array of
 * headers_cap entries. */
void hn_request_start_in_chunk(char *chunk, size_t state_size, hn_request_t *r,
                               hn_arena_t *arena, const hn_stream_ops_t *ops, void *proto,
                               bool secure, size_t headers_cap);
/* Give back the chunk of hn_request_start_in_chunk. */
void hn_request_chunk_free(char *chunk, hn_arena_t *arena);
/* The exchange is over. complete: the response went out whole, so it is
 * logged and counted and the app hears on_end; otherwise the request is
 * aborted and the app hears on_abort. Either only if *app_called, which
 * is cleared. */
void hn_request_end(hn_request_t *r, bool complete, bool *app_called);

/* Split a request target ("/p?q", or absolute-form) into raw_path, query
 * and the percent-decoded path, in the request's arena. 0, or 400. */
int hn_request_set_target(hn_request_t *r, const char *target, size_t len);

/* May this server answer for the request's Host (HTTP/2: :authority)?
 * names: server_names entries (HOST, HOST:PORT, *.SUFFIX, *.SUFFIX:PORT; a
 * name without a port allows any port); none allows every host. */
bool hn_request_host_allowed(const hn_request_t *r, char *const *names, size_t n);

/* https_redirect: a cleartext request while TLS is configured (it came in
 * on insecure_bind) gets 308 to the same URL over https, on the port of
 * the first TLS listener (Hypercorn's HTTPToHTTPSRedirectMiddleware, with
 * a permanent, method-keeping status). True when it was answered. */
bool hn_request_redirect_to_https(hn_request_t *r, const struct hn_config *cfg);

/* Each element of every header of this (lower-case) name, in order, as an
 * hn_str_t in elem (a comma list, RFC 9110 §5.6.1). */
#define HN_REQUEST_FOR_EACH_LIST_ELEMENT(r, hname, elem)                                           \
    for (size_t i_ = 0; i_ < (r)->n_headers; i_++)                                                 \
        if ((r)->headers[i_].name_len == strlen(hname) &&                                          \
            memcmp((r)->headers[i_].name, (hname), (r)->headers[i_].name_len) == 0)                \
            for (const char *p_ = (r)->headers[i_].value,                                          \
                            *e_ = p_ + (r)->headers[i_].value_len;                                 \
                 hn_str_list_next(&p_, e_, &(elem));)

/* First header with this lower-case name, or NULL. */
const hn_header_t *hn_request_header(const hn_request_t *r, const char *name);

/* Response API for apps. Out-of-order calls (a second start, data before
 * start, anything after the end) return HN_ERR and log an error. */
int hn_response_start(hn_request_t *r, int status, const hn_header_t *headers, size_t n);
/* An informational head (1xx but 101) before hn_response_start. Nothing is
 * sent to an HTTP/1.0 client (RFC 9110 §15.2), which is still HN_OK.
 * HN_ERR for a bad status or header (nothing sent), a call after the
 * start, or a stream that is gone. The access log keeps the final status. */
int hn_response_informational(hn_request_t *r, int status, const hn_header_t *headers, size_t n);
/* After hn_response_start: the body will end with trailers. */
void hn_response_expect_trailers(hn_request_t *r);
int hn_response_trailers(hn_request_t *r, const hn_header_t *trailers, size_t n);
/* Bytes of this response queued and not yet written to the client. */
size_t hn_response_pending(const hn_request_t *r);
int hn_response_write(hn_request_t *r, const void *data, size_t len, bool last);
/* Takes fd in every case: it is closed once sent, or at once on failure. */
int hn_response_sendfile(hn_request_t *r, int fd, off_t offset, size_t len, bool last);
/* start + body + end with a Content-Length; ctype may be NULL. */
int hn_response_simple(hn_request_t *r, int status, const char *ctype, const void *body,
                       size_t len);

#endif
