/*
 * cfg.h - hornet's configuration: what a YAML file plus command-line
 * overrides become once validated. Immutable once hn_cfg_finish succeeded; a
 * worker keeps the config it was forked with.
 *
 * Every key is declared once, in the option table of cfg_options.c (name,
 * type, default, bounds, help). The man page hornet.yaml(5), `hornet --help`
 * and etc/hornet.yaml are checked against that table by a test.
 */
#ifndef HN_SHARED_CFG_H
#define HN_SHARED_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/addr.h"
#include "shared/common.h"

#define HN_CFG_MAX_WORKERS 512

/* app_mode: how an application's exports are read. */
typedef enum hn_cfg_app_mode {
    HN_CFG_APP_AUTO = 0, /* simple mode if the app sets handle and not on_request */
    HN_CFG_APP_ASGI,     /* event mode (on_request ...) */
    HN_CFG_APP_SIMPLE,   /* whole request in, whole response out (the WSGI counterpart;
                          * "wsgi" in the config is another name for it) */
} hn_cfg_app_mode_t;

/* worker_class: Hypercorn's name for the Python apps' event loop. */
typedef enum hn_cfg_worker_class {
    HN_CFG_WORKER_ASYNCIO = 0, /* asyncio, a pass at a time from libev (python/asgi.py) */
    HN_CFG_WORKER_UVLOOP,      /* accepted, served by the same asyncio loop (a warning says
                                * why: bench/looppass.py) */
} hn_cfg_worker_class_t;

/* proxy_headers: which forwarding headers a trusted proxy's requests carry. */
typedef enum hn_cfg_proxy_headers {
    HN_CFG_PROXY_HEADERS_OFF = 0,
    HN_CFG_PROXY_HEADERS_LEGACY, /* X-Forwarded-For, -Proto, -Host */
    HN_CFG_PROXY_HEADERS_MODERN, /* RFC 7239 Forwarded */
} hn_cfg_proxy_headers_t;

/* access_log_escape: how bytes from the client or the app are written into
 * an access-log line (nginx's log_format escape=). */
typedef enum hn_cfg_access_log_escape {
    HN_CFG_ESCAPE_DEFAULT = 0, /* \xHH for controls, '"', '\' and bytes >= 0x7f */
    HN_CFG_ESCAPE_JSON,        /* JSON string escapes; a line stays valid UTF-8 */
    HN_CFG_ESCAPE_NONE,        /* as they came */
} hn_cfg_access_log_escape_t;

/* static_dotfiles: paths with a segment starting with a dot, in builtin:static. */
typedef enum hn_cfg_static_dotfiles {
    HN_CFG_STATIC_DOTFILES_DENY = 0, /* 404, as if absent (.well-known excepted) */
    HN_CFG_STATIC_DOTFILES_ALLOW,    /* served like any file */
} hn_cfg_static_dotfiles_t;

/* One entry of `mount` (Hypercorn's DispatcherMiddleware): requests under
 * prefix go to app, with prefix as their root_path. */
typedef struct hn_cfg_mount {
    char *prefix; /* "/api", no trailing slash */
    char *app;    /* an application_path value */
} hn_cfg_mount_t;

/* verify_mode: client certificates. */
typedef enum hn_cfg_verify {
    HN_CFG_VERIFY_NONE = 0, /* not asked for */
    HN_CFG_VERIFY_OPTIONAL, /* asked for, checked if sent */
    HN_CFG_VERIFY_REQUIRED, /* the handshake fails without a valid one */
} hn_cfg_verify_t;

typedef struct hn_config {
    char *file; /* the YAML file it came from, or NULL */

    /* listeners and processes */
    hn_addr_t *bind; /* array of n_bind addresses */
    size_t n_bind;
    int backlog;
    int workers;          /* >= 1 after hn_cfg_finish; before it 0 means "auto" */
    int max_requests;     /* a worker that served this many is replaced; 0: never */
    int max_requests_jitter; /* plus a random 0..jitter, so workers do not recycle together */
    double worker_timeout;   /* a worker whose loop is stuck this long is killed; 0: off */
    double worker_stall_timeout; /* ... taken out of the reuseport groups and replaced; 0: off */
    double max_worker_lifetime; /* a worker older than this is replaced; 0: never */
    double max_worker_lifetime_jitter; /* plus a random 0..jitter */
    bool use_reloader;       /* reload when the config file or an app's .so changes */
    char **reload_paths;     /* more files, directories or globs to watch (reload.paths) */
    size_t n_reload_paths;
    char *application_path; /* "builtin:NAME" (later: PATH.so:SYMBOL) */
    char *pid_path;       /* NULL: no PID file */
    char *user, *group;   /* NULL: keep; a name or a number */
    int umask;            /* -1: keep */

    /* HTTP */
    int worker_connections;     /* per worker; beyond, new ones wait in the backlog */
    double keep_alive_timeout;  /* seconds; also bounds the arrival of a request head */
    double request_head_timeout; /* from a head's first byte to its end */
    int keep_alive_max_requests;
    double graceful_timeout;
    double read_timeout;        /* 0: off */
    size_t h11_max_incomplete_size;
    size_t max_header_field_size;
    size_t max_request_line_size;  /* method and target; HTTP/2: :path */
    int max_header_count;
    uint64_t max_body_size;     /* 0: unlimited */
    bool include_server_header;
    bool include_date_header;
    bool proxy_protocol;        /* a PROXY header opens every connection */
    hn_addr_t *proxy_protocol_bind; /* ...or only those to these listeners */
    size_t n_proxy_protocol_bind;
    int proxy_headers;          /* hn_cfg_proxy_headers_t */
    int proxy_trusted_hops;
    char **forwarded_allow_ips; /* entries: IPs, CIDRs, "*", comma-separated */
    size_t n_forwarded_allow_ips;
    char **server_names;        /* Host values served; none: any */
    size_t n_server_names;

    /* logging */
    char *accesslog; /* NULL: off; "-": stdout */
    char *errorlog;  /* NULL: off; "-": stderr */
    int loglevel;    /* hn_log_level_t */
    char *access_log_format;
    int access_log_escape;  /* hn_cfg_access_log_escape_t */
    bool access_log_prefix; /* lines start with "[date] [pid] [INFO] " (Hypercorn's) */

    /* built-in apps */
    char *static_root;
    char *app_dir; /* Python apps: first on sys.path (NULL: the working directory) */
    char *static_index;
    int static_dotfiles;       /* hn_cfg_static_dotfiles_t */
    bool static_precompressed; /* serve file.br / file.gz for Accept-Encoding */

    /* applications */
    char *root_path;           /* "" or "/prefix" without a trailing slash */
    int app_mode;              /* hn_cfg_app_mode_t */

    /* TLS: with certfile set, bind is TLS and insecure_bind is cleartext */
    hn_addr_t *insecure_bind;
    size_t n_insecure_bind;
    char *certfile, *keyfile, *keyfile_password, *ca_certs;
    char *ciphers;             /* TLS 1.2 cipher list (1.3 suites are OpenSSL's) */
    bool https_redirect;       /* insecure_bind requests: 308 to https */
    int verify_mode;           /* hn_cfg_verify_t */
    double ssl_handshake_timeout;
    char **alpn_protocols;     /* "h2", "http/1.1"; hn_cfg_finish fills in both if empty */
    size_t n_alpn_protocols;
    bool alpn_h2;              /* from alpn_protocols by hn_cfg_finish: HTTP/2 is served */

    /* HTTP/2 (Hypercorn's names) */
    int h2_max_concurrent_streams;
    size_t h2_max_header_list_size;
    size_t h2_max_inbound_frame_size;

    /* WebSocket */
    uint64_t websocket_max_message_size;
    double websocket_ping_interval; /* 0: off */
    bool websocket_per_message_deflate;
    uint64_t wsgi_max_body_size; /* simple mode: whole-body limit (413 beyond) */
    int wsgi_threads;            /* Python WSGI apps: calls at once per worker */
    int worker_class;            /* hn_cfg_worker_class_t */
    /* builtin:events (hub/hub.h) */
    bool events_hub;               /* run the hub without builtin:events (C apps' calls) */
    int events_server_id;          /* the server part of every event id */
    int events_retention_max_events; /* events the hub keeps for queries */
    char **events_client_tokens;   /* an init's client_token must be one; none: any */
    size_t n_events_client_tokens;
    double startup_timeout;    /* lifespan startup */
    double shutdown_timeout;   /* lifespan shutdown */
    hn_cfg_mount_t *mount;     /* prefix -> app, longest prefix first */
    size_t n_mount;
} hn_config_t;

/* A config holding every default. Never NULL. Only hn_cfg_new makes an
 * hn_config_t: it carries private state used by hn_cfg_set (bind lists). */
hn_config_t *hn_cfg_new(void);
void hn_cfg_free(hn_config_t *cfg);

/* A file's errors are all reported, one line each, up to this many; a last
 * line says how many more there were. */
#define HN_CFG_MAX_ERRORS 20

/* Read a YAML mapping of keys to values. On error fills err->msg with
 *   FILE:LINE:COLUMN: KEY: expected WHAT, got "FOUND"
 * one line per error in the file (unknown keys suggest the nearest known
 * one or say which Hypercorn key hornet lacks; unparsable YAML names the
 * libyaml problem and its position, and stops there) and returns HN_ERR.
 * After an error cfg may hold some of the file's values: free it rather
 * than use it. */
int hn_cfg_load_file(hn_config_t *cfg, const char *path, hn_err_t *err);

/* Set one key from a string, as the CLI does ("--workers 4" sets "workers"
 * to "4"). origin names the source in errors ("--workers"). For list keys
 * (bind) the first hn_cfg_set from the CLI replaces the file's list and later
 * ones append. */
int hn_cfg_set(hn_config_t *cfg, const char *key, const char *value, const char *origin,
               hn_err_t *err);

/* Cross-field checks and resolution ("auto" workers, an empty bind list
 * becomes 127.0.0.1:8000, proxy_protocol_bind names listeners and is not
 * set beside proxy_protocol: true, keyfile and ca_certs need certfile,
 * verify_mode needs ca_certs). Call once after the file and the CLI. Every
 * failed check is a line of err->msg, starting FILE:LINE:COLUMN: when the
 * key came from the file. */
int hn_cfg_finish(hn_config_t *cfg, hn_err_t *err);

/* Does a connection to the listener configured as `listener` (an entry of
 * bind or insecure_bind) start with a PROXY header? proxy_protocol: true
 * says every listener, else proxy_protocol_bind names them. */
bool hn_cfg_has_proxy_protocol(const hn_config_t *cfg, const hn_addr_t *listener);

/* Documentation of every option, from the table: for --help. */
void hn_cfg_print_help(FILE *out);
/* The effective values as YAML (--dump-config). */
void hn_cfg_dump(const hn_config_t *cfg, FILE *out);

/* Iterate the option table (for tests and the man-page check): returns the
 * name of option i, or NULL past the end. */
const char *hn_cfg_option_name(size_t i);

/* How option i is spelled on the command line, from the same table, so the
 * CLI builds its getopt list instead of repeating the keys. */
typedef struct hn_cfg_flag {
    const char *key;       /* "workers" */
    const char *long_name; /* "workers" for --workers; NULL: no flag */
    int short_name;        /* 'w', or 0 */
    const char *metavar;   /* "N|auto", for usage text */
    const char *doc;       /* one line */
    bool is_list;          /* repeatable (bind): see hn_cfg_set */
} hn_cfg_flag_t;

/* Fill *flag for option i; false past the end of the table. */
bool hn_cfg_option_flag(size_t i, hn_cfg_flag_t *flag);

/* For reload: does option i differ between a and b, and would a change need
 * a restart (false: a reload applies it)? */
bool hn_cfg_option_differs(const hn_config_t *a, const hn_config_t *b, size_t i);
bool hn_cfg_option_needs_restart(size_t i);

#endif
