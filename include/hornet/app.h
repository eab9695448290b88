/*
 * hornet/app.h - the application ABI of the hornet HTTP server.
 *
 * ASGI translated to C. The server hands the application a scope for each
 * request (or WebSocket, or the worker's lifespan) and calls it with events;
 * the application answers by calling the server through the function table
 * it received in init(). This is the only header an application includes.
 *
 * An application is a shared object exporting one `const hornet_app_t`
 * (default symbol name `app`; `application_path: ./libx.so:SYMBOL`).
 * It is loaded in every worker after fork, never in the master.
 *
 * Threading: everything happens on the worker's event loop thread. No call
 * blocks; an application that must wait uses a timer or answers later from
 * another event. Callbacks may call back into the server.
 *
 * Memory words: *borrows* = valid only during the call; *request memory* =
 * valid until on_disconnect returns.
 *
 * Event order for an HTTP request (ASGI http.* messages):
 *   server -> app:  on_request (scope)                       -- the connection "opens"
 *                   on_body (zero or more, more_body=false last)  http.request
 *                   on_disconnect                             http.disconnect
 *   app -> server:  response_informational (zero or more)      http.response.early_hint
 *                   response_start                            http.response.start
 *                   response_body (more_body=false last)      http.response.body
 *                   response_trailers (if announced)          http.response.trailers
 * An out-of-order call returns HORNET_EUNEXPECTED (Hypercorn's
 * UnexpectedMessageError) and is logged; if nothing reached the client yet it
 * gets a 500. Once the request has ended (response and body complete, or the
 * client gone) every call on it returns HORNET_EGONE instead, until
 * on_disconnect. HORNET_EINVAL means nothing was taken and the request is
 * unchanged: the app may correct the arguments and call again.
 *
 * on_disconnect is called exactly once per request, whichever way it ends:
 * with completed=false when the client went away first (cancellation: stop
 * producing), with completed=true once the response and the request body are
 * both complete (ASGI's http.disconnect after the response). After it
 * returns, the hornet_request_t pointer and all request memory are gone, so
 * an application frees its per-request state there. on_disconnect never
 * runs from inside a call the application is making (it comes from the
 * server's own loop, as ASGI delivers http.disconnect on the next receive),
 * so the state is still there when the final response_body returns; calls
 * made on the request after it ended return HORNET_EGONE.
 *
 * Backpressure: on_pause may run from inside response_body, when that call
 * pushes the unsent output over the high watermark; on_resume comes later
 * from the loop. HORNET_EAGAIN is returned only when the unsent output is
 * already over the hard limit (a single chunk of any size is accepted
 * below it), and an on_resume always follows one.
 */
#ifndef HORNET_APP_H
#define HORNET_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change. The loader refuses an application built
 * against another version (NoAppError). */
#define HORNET_ABI_VERSION 1

/* Return codes of the server's functions. */
#define HORNET_OK 0
#define HORNET_EUNEXPECTED (-1)  /* call out of order for this request */
#define HORNET_EGONE (-2)        /* the client disconnected; stop producing */
#define HORNET_EINVAL (-3)       /* bad argument (status, header name or value) */
#define HORNET_EAGAIN (-4)       /* too much unsent output; wait for on_resume */
#define HORNET_EUNSUPPORTED (-5) /* not available on this server or protocol */

typedef struct hornet_request hornet_request_t; /* one HTTP request or WebSocket */
typedef struct hornet_lifespan hornet_lifespan_t;
typedef struct hornet_timer hornet_timer_t;
typedef struct hornet_io hornet_io_t;

typedef struct hornet_header {
    const char *name; /* request headers: lower-case */
    size_t name_len;
    const char *value;
    size_t value_len;
} hornet_header_t;

typedef enum hornet_scope_type {
    HORNET_SCOPE_HTTP = 1,
    HORNET_SCOPE_WEBSOCKET = 2,
    HORNET_SCOPE_LIFESPAN = 3,
} hornet_scope_type_t;

/* ASGI's scope. Strings are byte strings with a length (not NUL-terminated
 * unless said); all borrowed from request memory. */
typedef struct hornet_scope {
    hornet_scope_type_t type;
    const char *http_version; /* "1.0", "1.1", "2" (NUL-terminated) */
    const char *method;       /* "GET"; NULL for websocket */
    size_t method_len;
    const char *scheme;       /* "http", "https", "ws", "wss" (NUL-terminated) */
    const char *path;         /* percent-decoded, root_path removed ("/" when
                               * nothing is left: raw_path tells /mount from
                               * /mount/) */
    size_t path_len;
    const char *raw_path;     /* as received, without the query */
    size_t raw_path_len;
    const char *query_string; /* after '?', may be empty */
    size_t query_string_len;
    const char *root_path;    /* the mount point ("" when not mounted) */
    size_t root_path_len;
    const hornet_header_t *headers; /* in the order received */
    size_t n_headers;
    const char *client_host;  /* "127.0.0.1"; NULL if unknown (unix socket) */
    int client_port;
    const char *server_host;  /* "127.0.0.1", or the unix socket path */
    int server_port;          /* -1 for a unix socket */
    const char *const *subprotocols; /* websocket only: offered subprotocols */
    size_t n_subprotocols;
    void *state;              /* what the app set in lifespan (ASGI state) */
} hornet_scope_t;

typedef enum hornet_lifespan_event {
    HORNET_LIFESPAN_STARTUP = 1,
    HORNET_LIFESPAN_SHUTDOWN = 2,
} hornet_lifespan_event_t;

typedef enum hornet_log_level {
    HORNET_LOG_ERROR = 1,
    HORNET_LOG_WARNING = 2,
    HORNET_LOG_NOTICE = 3,
    HORNET_LOG_INFO = 4,
    HORNET_LOG_DEBUG = 5,
} hornet_log_level_t;

/* What the server offers the application. Handed to init(); valid for the
 * life of the worker. */
typedef struct hornet_api {
    uint32_t abi_version;
    uint32_t size; /* sizeof(hornet_api_t) of the server: newer servers append
                    * (HORNET_API_HAS) */

    /* --- HTTP responses (ASGI http.response.*) --- */
    /* headers: borrowed (copied by the server). trailers: the app will send
     * response_trailers after the last body chunk. Content-Length among the
     * headers fixes the body length; without it HTTP/1.1 responses are
     * chunked. */
    int (*response_start)(hornet_request_t *req, int status, const hornet_header_t *headers,
                          size_t n_headers, bool trailers);
    /* data: borrowed (copied or written before returning). more_body=false
     * ends the body. HORNET_EAGAIN: over the hard limit of unsent output,
     * nothing was taken: wait for on_resume. */
    int (*response_body)(hornet_request_t *req, const void *data, size_t len, bool more_body);
    /* A file range as body (zero-copy where the protocol allows). Takes fd in
     * every case: it is closed once sent, or at once on error. */
    int (*response_file)(hornet_request_t *req, int fd, off_t offset, size_t len,
                         bool more_body);
    /* After the last body chunk of a response started with trailers=true. */
    int (*response_trailers)(hornet_request_t *req, const hornet_header_t *trailers, size_t n,
                             bool more_trailers);

    /* --- per-request helpers --- */
    /* The app's own pointer for this request (NULL until set). */
    void (*set_data)(hornet_request_t *req, void *data);
    void *(*get_data)(const hornet_request_t *req);
    /* Request memory: freed when the request ends (after on_disconnect).
     * Never NULL; aligned to 8 bytes. */
    void *(*alloc)(hornet_request_t *req, size_t size);
    /* Is the client reading slower than the app writes (between on_pause and
     * on_resume)? */
    bool (*is_paused)(const hornet_request_t *req);

    /* --- WebSocket (ASGI websocket.*) --- */
    /* websocket.accept, once, in answer to a HORNET_SCOPE_WEBSOCKET scope.
     * subprotocol: NULL, or one of scope->subprotocols (else HORNET_EINVAL).
     * headers: extra response headers (borrowed). Instead of accepting, an
     * app may refuse: websocket_close (the client gets 403), or any HTTP
     * response through response_start/response_body (the ASGI denial
     * response), which the client receives as a plain HTTP response. */
    int (*websocket_accept)(hornet_request_t *req, const char *subprotocol,
                            const hornet_header_t *headers, size_t n);
    /* One whole message (websocket.send). data: borrowed (copied). Text must
     * be UTF-8 (else HORNET_EINVAL, nothing sent). HORNET_EAGAIN as for
     * response_body: over the hard limit of unsent output, wait for
     * on_resume. */
    int (*websocket_send)(hornet_request_t *req, const void *data, size_t len, bool is_text);
    /* websocket.close. Before accept: refuses the handshake with 403. After:
     * sends a Close frame; code is 1000-1003, 1007-1014 or 3000-4999 (else
     * HORNET_EINVAL), reason NULL or at most 123 bytes of UTF-8. The app
     * hears on_disconnect once the client answered (or after 5 s). */
    int (*websocket_close)(hornet_request_t *req, int code, const char *reason);

    /* --- lifespan (ASGI lifespan.*.complete / failed) --- */
    /* message: borrowed; may be NULL. */
    int (*lifespan_complete)(hornet_lifespan_t *ls, hornet_lifespan_event_t ev);
    int (*lifespan_failed)(hornet_lifespan_t *ls, hornet_lifespan_event_t ev,
                           const char *message);
    /* The pointer every later scope carries in `state` (ASGI lifespan state). */
    void (*lifespan_set_state)(hornet_lifespan_t *ls, void *state);

    /* --- timers on the worker's loop --- */
    /* cb runs after `after` seconds, then every `repeat` seconds if > 0.
     * timer_new never returns NULL; a timer may be freed from its callback. */
    hornet_timer_t *(*timer_new)(void (*cb)(hornet_timer_t *t, void *ud), void *ud);
    void (*timer_start)(hornet_timer_t *t, double after, double repeat);
    void (*timer_stop)(hornet_timer_t *t);
    void (*timer_free)(hornet_timer_t *t); /* stops it first */

    /* --- the server --- */
    void (*log)(hornet_log_level_t level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* The effective value of a config key as text ("8", "5s",
     * "builtin:hello"; strings unquoted), or NULL for an unknown or unset
     * key; lists and mappings (bind, mount) are not offered. Borrowed for the
     * life of the worker. */
    const char *(*config)(const char *key);
    /* Seconds on the loop's clock (monotonic, cached per iteration). */
    double (*now)(void);

    /* What lifespan_set_state stored (for freeing it at SHUTDOWN). */
    void *(*lifespan_get_state)(hornet_lifespan_t *ls);

    /* --- appended: check HORNET_API_HAS before calling (older servers lack
     * them) --- */
    /* The code of websocket.disconnect, for on_disconnect: the code of the
     * client's Close frame (1005 when it carried none), the code the server
     * closed with (the app's, 1001 going away, 1002 protocol error, 1007
     * invalid UTF-8, 1009 message too big), or 1006 when the connection
     * ended without a Close. *reason (may be NULL) gets the client's reason,
     * borrowed from request memory. 0 for an HTTP request, or a WebSocket
     * that is still open. */
    int (*websocket_close_code)(const hornet_request_t *req, const char **reason,
                                size_t *reason_len);

    /* Readiness of a descriptor the app owns, on the worker's loop: for an
     * event loop embedded in the app (the Python bridge's asyncio). cb runs
     * whenever fd is readable (level-triggered) until io_free, which is
     * safe from inside cb; the descriptor stays the app's to close. */
    hornet_io_t *(*io_new)(int fd, void (*cb)(hornet_io_t *io, void *ud), void *ud);
    void (*io_free)(hornet_io_t *io);
    /* End the exchange at once, for an app that failed after its response
     * started (ASGI: the server resets the connection): HTTP/1.1 closes the
     * connection, HTTP/2 resets the stream. on_disconnect follows from the
     * loop, as for a client that went away. */
    void (*abort)(hornet_request_t *req);
    /* Request-body backpressure, the input side of on_pause/on_resume (what
     * uvicorn and Hypercorn do when an app's receive queue is full).
     * paused=true: no on_body for this request until read_pause(req, false);
     * the server stops reading the connection (HTTP/1.1) or stops giving
     * back flow-control window for this stream (HTTP/2: the client may send
     * at most the stream's window more, which the server holds; other
     * streams go on). While paused, read_timeout does not run for the body
     * (the wait is the app's choice), and a client that goes away is noticed
     * as far as the socket tells without reading (an error, or its close
     * found by the periodic check): on_disconnect comes as usual.
     * paused=false: what arrived meanwhile is delivered from the loop, never
     * from inside this call. May be called from any callback, on_body
     * included; ignored for a WebSocket, once the body is complete, and
     * after the request ended; a pause is also ignored once the response is
     * complete (the rest of the body is then read and dropped, or the
     * connection closed). */
    void (*read_pause)(hornet_request_t *req, bool paused);
    /* An informational (1xx) response before the final one, such as 103
     * Early Hints (RFC 8297; ASGI http.response.early_hint): status 100..199
     * except 101 (else HORNET_EINVAL), headers borrowed and checked as for
     * response_start. Only before response_start (else HORNET_EUNEXPECTED);
     * may be called more than once. An HTTP/1.0 client is sent nothing
     * (RFC 9110 §15.2) and the call still returns HORNET_OK. */
    int (*response_informational)(hornet_request_t *req, int status,
                                  const hornet_header_t *headers, size_t n);
} hornet_api_t;

/* True when the table api points to contains `member` whole: its `size`
 * reaches the end of the member. Members are only ever appended, so an
 * application built against this header that runs under an older server
 * checks this before calling one the server may lack (those from
 * websocket_close_code on):
 *
 *     if (HORNET_API_HAS(api, read_pause))
 *         api->read_pause(req, true);
 *
 * The size alone decides; the pointer is not tested for NULL: the server
 * fills every member its table has (what a server or protocol does not
 * support answers HORNET_EUNSUPPORTED or ignores the call, but is never
 * left NULL), and so the macro works for any member, abi_version and size
 * included. api is evaluated once (the operand of sizeof is not). */
#define HORNET_API_HAS(api, member)                                                                \
    ((size_t)(api)->size >= offsetof(hornet_api_t, member) + sizeof((api)->member))

/* Simple mode (the WSGI counterpart): the whole request in, the whole
 * response out, in one call. */
typedef struct hornet_simple_response {
    int status;
    const hornet_header_t *headers; /* static or from api->alloc(req, ...) */
    size_t n_headers;
    const void *body;               /* static or from api->alloc(req, ...) */
    size_t body_len;
} hornet_simple_response_t;

/* Flags of hornet_app_t. */
#define HORNET_APP_SIMPLE 0x1u /* force simple mode (else told by what is set) */

/* What an application exports. Unused callbacks are NULL. */
typedef struct hornet_app {
    uint32_t abi_version; /* HORNET_ABI_VERSION */
    uint32_t flags;
    const char *name;     /* for logs */

    /* Once per worker, right after loading, before lifespan. api is valid for
     * the life of the worker. Return 0, or -1 to refuse to start (the last
     * error logged here is the reason given). Also called once in a checking
     * process that exits right after (start-up, reload, hornet -t): keep it
     * to checks and preparations; threads and connections belong in the
     * lifespan startup. */
    int (*init)(const hornet_api_t *api);

    /* Lifespan: STARTUP before the worker accepts connections, SHUTDOWN after
     * it drained. Answer (now or later) with api->lifespan_complete or
     * api->lifespan_failed; ls stays valid until answered. NULL: the app does
     * not use lifespan. */
    void (*on_lifespan)(hornet_lifespan_t *ls, hornet_lifespan_event_t ev);

    /* A request (HTTP) or a WebSocket handshake; scope: request memory. */
    void (*on_request)(hornet_request_t *req, const hornet_scope_t *scope);
    /* A chunk of the request body (HTTP), in order; the last has more_body
     * false and may be empty (data NULL, len 0). data: borrowed. */
    void (*on_body)(hornet_request_t *req, const void *data, size_t len, bool more_body);
    /* The request is over: the client went away, or (always, last) the
     * exchange completed. `completed` tells which. req is gone afterwards. */
    void (*on_disconnect)(hornet_request_t *req, bool completed);
    /* Backpressure: the client reads slower than the app writes. Stop
     * producing until on_resume. */
    void (*on_pause)(hornet_request_t *req);
    void (*on_resume)(hornet_request_t *req);

    /* WebSocket messages: whole messages, text (UTF-8 checked) or binary.
     * data: borrowed. A WebSocket goes: on_request with a
     * HORNET_SCOPE_WEBSOCKET scope (websocket.connect), the app accepts or
     * refuses; then on_websocket_receive per message; on_disconnect once
     * (completed: the closing handshake finished; websocket_close_code
     * tells the code). An app without on_websocket_receive is not offered
     * WebSockets: over HTTP/1.1 the handshake reaches it as a plain GET,
     * over HTTP/2 the client gets 501. */
    void (*on_websocket_receive)(hornet_request_t *req, const void *data, size_t len,
                                 bool is_text);

    /* Simple mode: set instead of on_request. Called once the whole body
     * arrived (up to wsgi_max_body_size; larger bodies get 413 without a
     * call). Fill *out and return 0; -1 answers 500. */
    int (*handle)(hornet_request_t *req, const hornet_scope_t *scope, const void *body,
                  size_t body_len, hornet_simple_response_t *out);
} hornet_app_t;

#ifdef __cplusplus
}
#endif

#endif
