/*
 * cfg_options.c - THE option table: one row per configuration key, the only
 * place a key is defined (name, type, field, default, bounds, reload
 * behaviour, CLI flag, help). Parsing lives in cfg_types.c, the YAML walk and
 * the public API in cfg.c.
 *
 * Adding a key: a field in hn_config_t, a row here, a line in
 * man/hornet.yaml.5 and etc/hornet.yaml, a test.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/cfg_internal.h"

#include <string.h>
#include <strings.h>

#include "shared/log.h"

static int parse_loglevel(const char *text);
static const char *name_loglevel(int level);
static int parse_app_mode(const char *text);
static int parse_verify_mode(const char *text);
static const char *name_verify_mode(int mode);
static const char *name_app_mode(int mode);
static int parse_worker_class(const char *text);
static const char *name_worker_class(int cls);
static int parse_proxy_headers(const char *text);
static int parse_access_log_escape(const char *text);
static const char *name_access_log_escape(int mode);
static const char *name_proxy_headers(int mode);
static int parse_static_dotfiles(const char *text);
static const char *name_static_dotfiles(int mode);
static size_t edit_distance(const char *a, const char *b);

/* A few fields per line keeps each key within one screen. */
/* clang-format off */
const hn_cfg_option_t hn_cfg_options_table[] = {
    /* listeners and processes */
    {.name = "bind", .type = HN_CFG_ADDRS, HN_CFG_FIELD(bind),
     .count_offset = offsetof(hn_config_t, n_bind), .def = NULL, .flags = HN_CFG_RELOADABLE,
     .cli = "bind", .cli_short = 'b', .metavar = "ADDR",
     .doc = "addresses to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N "
            "(empty: 127.0.0.1:8000)"},
    {.name = "insecure_bind", .type = HN_CFG_ADDRS, HN_CFG_FIELD(insecure_bind),
     .count_offset = offsetof(hn_config_t, n_insecure_bind), .def = NULL,
     .flags = HN_CFG_RELOADABLE, .cli = "insecure-bind", .metavar = "ADDR",
     .doc = "cleartext addresses to listen on beside a TLS bind (with certfile)"},
    {.name = "backlog", .type = HN_CFG_INT, HN_CFG_FIELD(backlog), .def = "100", .min = "1",
     .max = "65535", .flags = HN_CFG_RELOADABLE, .cli = "backlog", .metavar = "N",
     .doc = "listen() backlog of each socket"},
    {.name = "workers", .type = HN_CFG_INT, HN_CFG_FIELD(workers), .def = "1", .min = "1",
     .max = "512", .flags = HN_CFG_RELOADABLE | HN_CFG_AUTO, .cli = "workers", .cli_short = 'w',
     .metavar = "N|auto", .doc = "worker processes; \"auto\": one per online CPU"},
    {.name = "max_requests", .type = HN_CFG_INT, HN_CFG_FIELD(max_requests), .def = "0",
     .min = "0", .flags = HN_CFG_RELOADABLE, .cli = "max-requests", .metavar = "N",
     .doc = "replace a worker after it served N requests, the new one ready before the old "
            "drains (0: never)"},
    {.name = "max_requests_jitter", .type = HN_CFG_INT, HN_CFG_FIELD(max_requests_jitter),
     .def = "0", .min = "0", .flags = HN_CFG_RELOADABLE, .cli = "max-requests-jitter",
     .metavar = "N", .doc = "add a random 0..N to max_requests per worker"},
    {.name = "max_worker_lifetime", .type = HN_CFG_DURATION, HN_CFG_FIELD(max_worker_lifetime),
     .def = "0", .flags = HN_CFG_RELOADABLE, .cli = "max-worker-lifetime",
     .metavar = "SECONDS",
     .doc = "replace a worker this long after it started, like max_requests (0: never)"},
    {.name = "max_worker_lifetime_jitter", .type = HN_CFG_DURATION,
     HN_CFG_FIELD(max_worker_lifetime_jitter), .def = "0", .flags = HN_CFG_RELOADABLE,
     .cli = "max-worker-lifetime-jitter", .metavar = "SECONDS",
     .doc = "add a random 0..SECONDS to max_worker_lifetime per worker"},
    {.name = "worker_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(worker_timeout),
     .def = "60s", .flags = HN_CFG_RELOADABLE, .cli = "worker-timeout", .metavar = "SECONDS",
     .doc = "a worker whose event loop is stuck this long gets TERM, ABRT (a core), then KILL, "
            "and is replaced (0: off)"},
    {.name = "worker_stall_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(worker_stall_timeout),
     .def = "5s", .flags = HN_CFG_RELOADABLE, .cli = "worker-stall-timeout",
     .metavar = "SECONDS",
     .doc = "a worker whose event loop is stuck this long gets no new connections and is "
            "replaced; it is killed at worker_timeout (0: off; the default yields to a "
            "worker_timeout at or below it)"},
    {.name = "use_reloader", .type = HN_CFG_BOOL, HN_CFG_FIELD(use_reloader), .def = "false",
     .flags = HN_CFG_RELOADABLE, .cli = "reload", .metavar = "true|false",
     .doc = "reload when the config file or an application's shared object changes"},
    {.name = "reload.paths", .type = HN_CFG_STRINGS, HN_CFG_FIELD(reload_paths),
     .count_offset = offsetof(hn_config_t, n_reload_paths), .def = NULL,
     .flags = HN_CFG_RELOADABLE, .cli = "reload-path", .metavar = "PATH",
     .doc = "also reload when these files, directories or globs (*.html) change; turns the "
            "watch on"},
    {.name = "application_path", .type = HN_CFG_STRING, HN_CFG_FIELD(application_path),
     .def = "builtin:hello", .flags = HN_CFG_RELOADABLE | HN_CFG_NONEMPTY,
     .doc = "the application: builtin:NAME, PATH.so[:SYMBOL] or a Python MODULE[:ATTR] (the "
            "APP argument overrides it)"},
    {.name = "app_dir", .type = HN_CFG_PATH, HN_CFG_FIELD(app_dir), .def = NULL,
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL, .cli = "app-dir", .metavar = "DIR",
     .doc = "directory put first on a Python app's module path (unset: the working "
            "directory)"},
    {.name = "pid_path", .type = HN_CFG_PATH, HN_CFG_FIELD(pid_path), .def = NULL,
     .flags = HN_CFG_RESTART | HN_CFG_OPTIONAL, .cli = "pid", .cli_short = 'p',
     .metavar = "FILE", .doc = "file that receives the master's PID (unset: none)"},
    {.name = "user", .type = HN_CFG_STRING, HN_CFG_FIELD(user), .def = NULL,
     .flags = HN_CFG_RESTART | HN_CFG_OPTIONAL | HN_CFG_NONEMPTY, .cli = "user",
     .cli_short = 'u', .metavar = "USER", .doc = "user (name or uid) the workers run as"},
    {.name = "group", .type = HN_CFG_STRING, HN_CFG_FIELD(group), .def = NULL,
     .flags = HN_CFG_RESTART | HN_CFG_OPTIONAL | HN_CFG_NONEMPTY, .cli = "group",
     .cli_short = 'g', .metavar = "GROUP", .doc = "group (name or gid) the workers run as"},
    {.name = "umask", .type = HN_CFG_OCTAL, HN_CFG_FIELD(umask), .def = NULL,
     .flags = HN_CFG_RESTART | HN_CFG_OPTIONAL, .cli = "umask", .cli_short = 'm',
     .metavar = "MODE", .doc = "umask of the workers and unix sockets, in octal (unset: keep)"},

    /* HTTP */
    {.name = "worker_connections", .type = HN_CFG_INT, HN_CFG_FIELD(worker_connections),
     .def = "4096", .min = "1", .max = "1000000", .flags = HN_CFG_RELOADABLE,
     .cli = "worker-connections", .metavar = "N",
     .doc = "most connections one worker holds; more wait in the listen backlog"},
    {.name = "keep_alive_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(keep_alive_timeout),
     .def = "5s", .flags = HN_CFG_RELOADABLE, .cli = "keep-alive", .metavar = "SECONDS",
     .doc = "idle time before a keep-alive connection is closed; also bounds a request head"},
    {.name = "request_head_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(request_head_timeout),
     .def = "10s", .min = "1ms", .flags = HN_CFG_RELOADABLE,
     .doc = "an HTTP/1.1 request head must be complete this long after its first byte "
            "(slowloris); 408 beyond"},
    {.name = "keep_alive_max_requests", .type = HN_CFG_INT,
     HN_CFG_FIELD(keep_alive_max_requests), .def = "1000", .min = "1",
     .flags = HN_CFG_RELOADABLE, .doc = "requests served on one connection before closing it"},
    {.name = "graceful_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(graceful_timeout),
     .def = "3s", .flags = HN_CFG_RELOADABLE, .cli = "graceful-timeout", .metavar = "SECONDS",
     .doc = "on shutdown, how long in-flight requests may finish"},
    {.name = "read_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(read_timeout), .def = "0",
     .flags = HN_CFG_RELOADABLE, .cli = "read-timeout", .metavar = "SECONDS",
     .doc = "close a connection that sends nothing for this long (0: off)"},
    {.name = "h11_max_incomplete_size", .type = HN_CFG_SIZE,
     HN_CFG_FIELD(h11_max_incomplete_size), .def = "16KiB", .min = "1KiB", .max = "1MiB",
     .flags = HN_CFG_RELOADABLE, .doc = "largest HTTP/1.1 request head (431 beyond)"},
    {.name = "max_header_field_size", .type = HN_CFG_SIZE, HN_CFG_FIELD(max_header_field_size),
     .def = "8KiB", .min = "256", .max = "1MiB", .flags = HN_CFG_RELOADABLE,
     .doc = "largest header field, name and value, in HTTP/1.1 and HTTP/2 (431 beyond)"},
    {.name = "max_request_line_size", .type = HN_CFG_SIZE,
     HN_CFG_FIELD(max_request_line_size), .def = "8KiB", .min = "256", .max = "1MiB",
     .flags = HN_CFG_RELOADABLE,
     .doc = "largest request line, method and target (HTTP/2: :path), as nginx's header "
            "buffer (414 beyond)"},
    {.name = "max_header_count", .type = HN_CFG_INT, HN_CFG_FIELD(max_header_count),
     .def = "100", .min = "1", .max = "1000", .flags = HN_CFG_RELOADABLE,
     .doc = "most header fields in one request (431 beyond)"},
    {.name = "max_body_size", .type = HN_CFG_SIZE, HN_CFG_FIELD(max_body_size), .def = "16MiB",
     .flags = HN_CFG_RELOADABLE, .doc = "largest request body (413 beyond; 0: unlimited)"},
    {.name = "proxy_protocol", .type = HN_CFG_BOOL, HN_CFG_FIELD(proxy_protocol),
     .def = "false", .flags = HN_CFG_RELOADABLE, .cli = "proxy-protocol",
     .metavar = "true|false",
     .doc = "every connection starts with a PROXY protocol v1 or v2 header (HAProxy, AWS "
            "NLB), accepted from forwarded_allow_ips only"},
    {.name = "proxy_protocol_bind", .type = HN_CFG_ADDRS, HN_CFG_FIELD(proxy_protocol_bind),
     .count_offset = offsetof(hn_config_t, n_proxy_protocol_bind), .def = NULL,
     .flags = HN_CFG_RELOADABLE, .cli = "proxy-protocol-bind", .metavar = "ADDR",
     .doc = "only connections to these listeners (each one of bind or insecure_bind) start "
            "with a PROXY header; proxy_protocol: true is every listener"},
    {.name = "proxy_headers", .type = HN_CFG_ENUM, HN_CFG_FIELD(proxy_headers), .def = "off",
     .flags = HN_CFG_RELOADABLE, .enum_parse = parse_proxy_headers,
     .enum_name = name_proxy_headers, .choices = "off, legacy, modern",
     .cli = "proxy-headers", .metavar = "MODE",
     .doc = "take the client, scheme and host from X-Forwarded-* (legacy) or Forwarded "
            "(modern) sent by a trusted proxy"},
    {.name = "proxy_trusted_hops", .type = HN_CFG_INT, HN_CFG_FIELD(proxy_trusted_hops),
     .def = "1", .min = "1", .max = "64", .flags = HN_CFG_RELOADABLE,
     .doc = "proxies in front: the forwarded value taken is this many from the right"},
    {.name = "forwarded_allow_ips", .type = HN_CFG_STRINGS, HN_CFG_FIELD(forwarded_allow_ips),
     .count_offset = offsetof(hn_config_t, n_forwarded_allow_ips), .def = "127.0.0.1,::1",
     .flags = HN_CFG_RELOADABLE, .cli = "forwarded-allow-ips", .metavar = "IPS",
     .doc = "peers whose forwarding headers are trusted: IPs, CIDRs or *"},
    {.name = "server_names", .type = HN_CFG_STRINGS, HN_CFG_FIELD(server_names),
     .count_offset = offsetof(hn_config_t, n_server_names), .def = NULL,
     .flags = HN_CFG_RELOADABLE, .cli = "server-name", .metavar = "NAME",
     .doc = "host names served: example.com, *.example.com, example.com:8443 (others get 421; "
            "empty: any)"},
    {.name = "include_server_header", .type = HN_CFG_BOOL, HN_CFG_FIELD(include_server_header),
     .def = "true", .flags = HN_CFG_RELOADABLE, .doc = "add a Server header to responses"},
    {.name = "include_date_header", .type = HN_CFG_BOOL, HN_CFG_FIELD(include_date_header),
     .def = "true", .flags = HN_CFG_RELOADABLE, .doc = "add a Date header to responses"},

    /* logging */
    {.name = "accesslog", .type = HN_CFG_STRING, HN_CFG_FIELD(accesslog), .def = NULL,
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL | HN_CFG_NONEMPTY, .cli = "access-logfile",
     .metavar = "FILE", .doc = "access log file; \"-\": stdout (unset: off)"},
    {.name = "errorlog", .type = HN_CFG_STRING, HN_CFG_FIELD(errorlog), .def = "-",
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL | HN_CFG_NONEMPTY, .cli = "error-logfile",
     .metavar = "FILE", .doc = "error log file; \"-\": stderr (null: off)"},
    {.name = "loglevel", .type = HN_CFG_ENUM, HN_CFG_FIELD(loglevel), .def = "info",
     .flags = HN_CFG_RELOADABLE, .enum_parse = parse_loglevel, .enum_name = name_loglevel,
     .choices = "critical, error, warning, notice, info, debug", .cli = "log-level",
     .metavar = "LEVEL", .doc = "least severe level written to the error log"},
    {.name = "access_log_format", .type = HN_CFG_STRING, HN_CFG_FIELD(access_log_format),
     .def = "%(h)s %(l)s %(l)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"",
     .flags = HN_CFG_RELOADABLE, .cli = "access-logformat", .metavar = "FMT",
     .doc = "access log line, Hypercorn's %(atom)s format"},
    {.name = "access_log_escape", .type = HN_CFG_ENUM, HN_CFG_FIELD(access_log_escape),
     .def = "default", .flags = HN_CFG_RELOADABLE, .enum_parse = parse_access_log_escape,
     .enum_name = name_access_log_escape, .choices = "default, json, none",
     .cli = "access-log-escape", .metavar = "MODE",
     .doc = "how client and app bytes are written in access-log values: \\xHH (default), "
            "JSON string escapes (json) or as they came (none)"},
    {.name = "access_log_prefix", .type = HN_CFG_BOOL, HN_CFG_FIELD(access_log_prefix),
     .def = "true", .flags = HN_CFG_RELOADABLE, .cli = "access-log-prefix",
     .metavar = "true|false",
     .doc = "start access-log lines with Hypercorn's \"[date] [pid] [INFO] \" (false: only "
            "the formatted line, e.g. for JSON lines)"},

    /* built-in apps */
    {.name = "static_root", .type = HN_CFG_PATH, HN_CFG_FIELD(static_root), .def = ".",
     .flags = HN_CFG_RELOADABLE, .cli = "static-root", .metavar = "DIR",
     .doc = "directory served by builtin:static"},
    {.name = "static_index", .type = HN_CFG_STRING, HN_CFG_FIELD(static_index),
     .def = "index.html", .flags = HN_CFG_RELOADABLE | HN_CFG_NONEMPTY,
     .doc = "file builtin:static serves for a directory"},
    {.name = "static_dotfiles", .type = HN_CFG_ENUM, HN_CFG_FIELD(static_dotfiles),
     .def = "deny", .flags = HN_CFG_RELOADABLE, .enum_parse = parse_static_dotfiles,
     .enum_name = name_static_dotfiles, .choices = "deny, allow",
     .doc = "builtin:static and paths with a segment starting with a dot (.git, .env): deny "
            "(404) or allow; .well-known is served either way"},
    {.name = "static_precompressed", .type = HN_CFG_BOOL, HN_CFG_FIELD(static_precompressed),
     .def = "true", .flags = HN_CFG_RELOADABLE,
     .doc = "builtin:static serves file.br or file.gz, when present and not older, to clients "
            "that accept br or gzip"},

    {.name = "events_hub", .type = HN_CFG_BOOL, HN_CFG_FIELD(events_hub), .def = "false",
     .flags = HN_CFG_RELOADABLE,
     .doc = "run the event hub for applications' own event calls even where no mount is "
            "builtin:events (which runs it anyway)"},
    {.name = "events_server_id", .type = HN_CFG_INT, HN_CFG_FIELD(events_server_id),
     .def = "1", .min = "0", .max = "2147483647", .flags = HN_CFG_RESTART,
     .doc = "builtin:events: the server part of every event id this server assigns"},
    {.name = "events_retention_max_events", .type = HN_CFG_INT,
     HN_CFG_FIELD(events_retention_max_events), .def = "100000", .min = "1",
     .max = "100000000", .flags = HN_CFG_RESTART,
     .doc = "builtin:events: the newest events the hub keeps for queries; older ones go"},
    {.name = "events_client_tokens", .type = HN_CFG_STRINGS, HN_CFG_FIELD(events_client_tokens),
     .count_offset = offsetof(hn_config_t, n_events_client_tokens), .def = NULL,
     .flags = HN_CFG_RELOADABLE,
     .doc = "builtin:events: an init's client_token must be one of these (empty: none needed)"},

    /* applications (Hypercorn's names where it has the key) */
    {.name = "root_path", .type = HN_CFG_STRING, HN_CFG_FIELD(root_path), .def = "",
     .flags = HN_CFG_RELOADABLE | HN_CFG_PREFIX, .cli = "root-path", .metavar = "PATH",
     .doc = "URL prefix the server is reached under behind a proxy (apps' root_path)"},
    {.name = "app_mode", .type = HN_CFG_ENUM, HN_CFG_FIELD(app_mode), .def = "auto",
     .flags = HN_CFG_RELOADABLE, .enum_parse = parse_app_mode, .enum_name = name_app_mode,
     .choices = "auto, asgi, simple, wsgi", .cli = "app-mode", .metavar = "MODE",
     .doc = "how apps are called: asgi (events), simple (whole request; wsgi is another name "
            "for it) or auto"},
    {.name = "wsgi_max_body_size", .type = HN_CFG_SIZE, HN_CFG_FIELD(wsgi_max_body_size),
     .def = "16MiB", .min = "1", .flags = HN_CFG_RELOADABLE,
     .doc = "largest request body a simple-mode app is given (413 beyond)"},
    {.name = "wsgi_threads", .type = HN_CFG_INT, HN_CFG_FIELD(wsgi_threads), .def = "10",
     .min = "1", .max = "1024", .flags = HN_CFG_RELOADABLE,
     .doc = "threads per worker that run a Python WSGI app's calls"},
    {.name = "worker_class", .type = HN_CFG_ENUM, HN_CFG_FIELD(worker_class), .def = "asyncio",
     .flags = HN_CFG_RELOADABLE, .enum_parse = parse_worker_class,
     .enum_name = name_worker_class, .choices = "asyncio, uvloop", .cli = "worker-class",
     .cli_short = 'k', .metavar = "CLASS",
     .doc = "Python apps' event loop: asyncio (uvloop is accepted and served by asyncio)"},
    {.name = "startup_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(startup_timeout),
     .def = "60s", .min = "1ms", .flags = HN_CFG_RELOADABLE,
     .doc = "how long an app's lifespan startup may take (the worker fails beyond)"},
    {.name = "shutdown_timeout", .type = HN_CFG_DURATION, HN_CFG_FIELD(shutdown_timeout),
     .def = "60s", .min = "1ms", .flags = HN_CFG_RELOADABLE,
     .doc = "how long an app's lifespan shutdown may take (the worker exits beyond)"},
    /* TLS (Hypercorn's names) */
    {.name = "certfile", .type = HN_CFG_PATH, HN_CFG_FIELD(certfile), .def = NULL,
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL, .cli = "certfile", .metavar = "FILE",
     .doc = "PEM certificate chain: bind serves TLS (unset: cleartext)"},
    {.name = "keyfile", .type = HN_CFG_PATH, HN_CFG_FIELD(keyfile), .def = NULL,
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL, .cli = "keyfile", .metavar = "FILE",
     .doc = "PEM private key (unset: in certfile)"},
    {.name = "keyfile_password", .type = HN_CFG_STRING, HN_CFG_FIELD(keyfile_password),
     .def = NULL, .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL | HN_CFG_SECRET,
     .cli = "keyfile-password", .metavar = "PASSWORD",
     .doc = "password of an encrypted keyfile (--dump-config masks it)"},
    {.name = "ca_certs", .type = HN_CFG_PATH, HN_CFG_FIELD(ca_certs), .def = NULL,
     .flags = HN_CFG_RELOADABLE | HN_CFG_OPTIONAL, .cli = "ca-certs", .metavar = "FILE",
     .doc = "PEM CA certificates that client certificates are checked against"},
    {.name = "https_redirect", .type = HN_CFG_BOOL, HN_CFG_FIELD(https_redirect),
     .def = "false", .flags = HN_CFG_RELOADABLE, .cli = "https-redirect",
     .metavar = "true|false",
     .doc = "answer every request on insecure_bind with a 308 to the same URL over https"},
    {.name = "ciphers", .type = HN_CFG_STRING, HN_CFG_FIELD(ciphers),
     .def = "ECDHE+AESGCM:ECDHE+CHACHA20", .flags = HN_CFG_RELOADABLE | HN_CFG_NONEMPTY,
     .cli = "ciphers", .metavar = "LIST", .doc = "OpenSSL cipher list for TLS 1.2"},
    {.name = "verify_mode", .type = HN_CFG_ENUM, HN_CFG_FIELD(verify_mode), .def = "none",
     .flags = HN_CFG_RELOADABLE, .enum_parse = parse_verify_mode,
     .enum_name = name_verify_mode, .choices = "none, optional, required",
     .cli = "verify-mode", .metavar = "MODE", .doc = "client certificates: none, optional or "
     "required (checked against ca_certs)"},
    {.name = "alpn_protocols", .type = HN_CFG_STRINGS, HN_CFG_FIELD(alpn_protocols),
     .count_offset = offsetof(hn_config_t, n_alpn_protocols), .def = NULL,
     .choices = "h2, http/1.1", .flags = HN_CFG_RELOADABLE,
     .doc = "what TLS ALPN offers, in order of preference; without h2, HTTP/2 is refused in "
            "cleartext too (empty: h2, http/1.1)"},
    {.name = "ssl_handshake_timeout", .type = HN_CFG_DURATION,
     HN_CFG_FIELD(ssl_handshake_timeout), .def = "60s", .min = "1ms",
     .flags = HN_CFG_RELOADABLE, .cli = "ssl-handshake-timeout", .metavar = "SECONDS",
     .doc = "a TLS handshake not done by then is closed"},
    /* HTTP/2 (Hypercorn's names and defaults) */
    {.name = "h2_max_concurrent_streams", .type = HN_CFG_INT,
     HN_CFG_FIELD(h2_max_concurrent_streams), .def = "100", .min = "1", .max = "10000",
     .flags = HN_CFG_RELOADABLE, .cli = "h2-max-concurrent-streams", .metavar = "N",
     .doc = "HTTP/2 streams a client may have open at once"},
    {.name = "h2_max_header_list_size", .type = HN_CFG_SIZE,
     HN_CFG_FIELD(h2_max_header_list_size), .def = "64KiB", .min = "1KiB", .max = "16MiB",
     .flags = HN_CFG_RELOADABLE, .cli = "h2-max-header-list-size", .metavar = "SIZE",
     .doc = "decoded size of one HTTP/2 header block (names + values + 32 each)"},
    {.name = "h2_max_inbound_frame_size", .type = HN_CFG_SIZE,
     HN_CFG_FIELD(h2_max_inbound_frame_size), .def = "16KiB", .min = "16KiB",
     .max = "16777215", .flags = HN_CFG_RELOADABLE, .cli = "h2-max-inbound-frame-size",
     .metavar = "SIZE", .doc = "largest HTTP/2 frame payload a client may send"},
    /* WebSocket (Hypercorn's names, plus uvicorn's for compression) */
    {.name = "websocket_max_message_size", .type = HN_CFG_SIZE,
     HN_CFG_FIELD(websocket_max_message_size), .def = "16MiB", .min = "125", .max = "1GiB",
     .flags = HN_CFG_RELOADABLE, .doc = "largest WebSocket message, reassembled and "
     "decompressed (Close 1009 beyond)"},
    {.name = "websocket_ping_interval", .type = HN_CFG_DURATION,
     HN_CFG_FIELD(websocket_ping_interval), .def = "0", .flags = HN_CFG_RELOADABLE,
     .cli = "websocket-ping-interval", .metavar = "SECONDS",
     .doc = "send a Ping this often; no Pong by the next one drops the connection (0: off)"},
    {.name = "websocket_per_message_deflate", .type = HN_CFG_BOOL,
     HN_CFG_FIELD(websocket_per_message_deflate), .def = "true", .flags = HN_CFG_RELOADABLE,
     .doc = "accept permessage-deflate compression when a client offers it"},
    {.name = "mount", .type = HN_CFG_MOUNTS, HN_CFG_FIELD(mount),
     .count_offset = offsetof(hn_config_t, n_mount), .def = NULL, .flags = HN_CFG_RELOADABLE,
     .doc = "more apps under URL prefixes, a mapping such as /api: ./libapi.so:app"},
};
/* clang-format on */

const size_t hn_cfg_options_count = HN_ARRAY_LEN(hn_cfg_options_table);
_Static_assert(HN_ARRAY_LEN(hn_cfg_options_table) <= HN_CFG_MAX_OPTIONS,
               "raise HN_CFG_MAX_OPTIONS");

/* Hypercorn's keys that have no row here, and why: someone translating a
 * Hypercorn config needs what to do instead, not "unknown key". */
static const struct {
    const char *name, *why;
} hypercorn_keys[] = {
    {"quic_bind", "HTTP/3 (QUIC) is not implemented; serve HTTP/2 over TLS on bind"},
    {"alt_svc_headers", "HTTP/3 is not implemented, so there is no Alt-Svc to advertise"},
    {"daemon", "Python multiprocessing's daemon flag; hornet's workers are forked processes "
               "and may start their own"},
    {"debug", "asyncio's debug mode; for more log output use loglevel: debug"},
    {"verify_flags", "OpenSSL's X509 verify flags are not configurable; verify_mode and "
                     "ca_certs set how client certificates are checked"},
    {"cert_reqs", "a deprecated Hypercorn alias; use verify_mode"},
    {"h11_pass_raw_headers", "header names reach applications lower-cased, as ASGI requires; "
                             "their original case is not kept"},
    {"logconfig", "Python logging configuration; use errorlog, loglevel, accesslog and "
                  "access_log_format"},
    {"logconfig_dict", "Python logging configuration; use errorlog, loglevel, accesslog and "
                       "access_log_format"},
    {"logger_class", "a Python class; use errorlog, loglevel, accesslog and access_log_format"},
    {"statsd_host", "StatsD metrics are not implemented"},
    {"statsd_prefix", "StatsD metrics are not implemented"},
    {"dogstatsd_tags", "StatsD metrics are not implemented"},
    {"max_app_queue_size", "there is no queue of events per request: a request body is read "
                           "as fast as the application takes it"},
};

const char *
hn_cfg_options_foreign(const char *name)
{
    for (size_t i = 0; i < HN_ARRAY_LEN(hypercorn_keys); i++)
        if (strcmp(hypercorn_keys[i].name, name) == 0)
            return hypercorn_keys[i].why;
    return NULL;
}

const hn_cfg_option_t *
hn_cfg_options_find(const char *name)
{
    for (size_t i = 0; i < hn_cfg_options_count; i++)
        if (strcmp(hn_cfg_options_table[i].name, name) == 0)
            return &hn_cfg_options_table[i];
    return NULL;
}

const char *
hn_cfg_options_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = strlen(name);
    /* A third of the key, at least 2: "bnd" finds "bind", "timeout" finds nothing. */
    size_t limit = HN_MAX(len / 3, (size_t)2);

    /* Someone who knows "--keep-alive" may write it as a key. */
    for (size_t i = 0; i < hn_cfg_options_count; i++)
        if (hn_cfg_options_table[i].cli && strcmp(hn_cfg_options_table[i].cli, name) == 0)
            return hn_cfg_options_table[i].name;
    for (size_t i = 0; i < hn_cfg_options_count; i++) {
        size_t d = edit_distance(name, hn_cfg_options_table[i].name);
        if (d < best_d) {
            best_d = d;
            best = hn_cfg_options_table[i].name;
        }
    }
    return best_d <= limit ? best : NULL;
}

static int
parse_loglevel(const char *text)
{
    return hn_log_level_parse(text);
}

static const char *
name_loglevel(int level)
{
    return hn_log_level_name((hn_log_level_t)level);
}

/* An enum's value from its name in a table (any case), and back. */
static int
table_parse(const char *const *names, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(text, names[i]) == 0)
            return (int)i;
    return -1;
}

static const char *
table_name(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

static const char *const verify_modes[] = {
    [HN_CFG_VERIFY_NONE] = "none",
    [HN_CFG_VERIFY_OPTIONAL] = "optional",
    [HN_CFG_VERIFY_REQUIRED] = "required",
};

static int
parse_verify_mode(const char *text)
{
    int v = table_parse(verify_modes, HN_ARRAY_LEN(verify_modes), text);
    if (v >= 0)
        return v;
    /* Hypercorn's spelling, from Python's ssl module */
    for (size_t i = 0; i < HN_ARRAY_LEN(verify_modes); i++) {
        char up[32];
        snprintf(up, sizeof(up), "CERT_%s", verify_modes[i]);
        if (strcasecmp(text, up) == 0)
            return (int)i;
    }
    return -1;
}

static const char *
name_verify_mode(int mode)
{
    return table_name(verify_modes, HN_ARRAY_LEN(verify_modes), mode);
}

static const char *const app_modes[] = {
    [HN_CFG_APP_AUTO] = "auto",
    [HN_CFG_APP_ASGI] = "asgi",
    [HN_CFG_APP_SIMPLE] = "simple",
};

static int
parse_app_mode(const char *text)
{
    /* Hypercorn's users say wsgi: simple mode is what runs a WSGI app */
    if (strcasecmp(text, "wsgi") == 0)
        return HN_CFG_APP_SIMPLE;
    return table_parse(app_modes, HN_ARRAY_LEN(app_modes), text);
}

static const char *
name_app_mode(int mode)
{
    return table_name(app_modes, HN_ARRAY_LEN(app_modes), mode);
}

static const char *const worker_classes[] = {
    [HN_CFG_WORKER_ASYNCIO] = "asyncio",
    [HN_CFG_WORKER_UVLOOP] = "uvloop",
};

static int
parse_worker_class(const char *text)
{
    return table_parse(worker_classes, HN_ARRAY_LEN(worker_classes), text);
}

static const char *
name_worker_class(int cls)
{
    return table_name(worker_classes, HN_ARRAY_LEN(worker_classes), cls);
}

static const char *const proxy_headers_modes[] = {
    [HN_CFG_PROXY_HEADERS_OFF] = "off",
    [HN_CFG_PROXY_HEADERS_LEGACY] = "legacy",
    [HN_CFG_PROXY_HEADERS_MODERN] = "modern",
};

static int
parse_proxy_headers(const char *text)
{
    return table_parse(proxy_headers_modes, HN_ARRAY_LEN(proxy_headers_modes), text);
}

static const char *
name_proxy_headers(int mode)
{
    return table_name(proxy_headers_modes, HN_ARRAY_LEN(proxy_headers_modes), mode);
}

static const char *const access_log_escapes[] = {
    [HN_CFG_ESCAPE_DEFAULT] = "default",
    [HN_CFG_ESCAPE_JSON] = "json",
    [HN_CFG_ESCAPE_NONE] = "none",
};

static int
parse_access_log_escape(const char *text)
{
    return table_parse(access_log_escapes, HN_ARRAY_LEN(access_log_escapes), text);
}

static const char *
name_access_log_escape(int mode)
{
    return table_name(access_log_escapes, HN_ARRAY_LEN(access_log_escapes), mode);
}

static const char *const static_dotfiles_modes[] = {
    [HN_CFG_STATIC_DOTFILES_DENY] = "deny",
    [HN_CFG_STATIC_DOTFILES_ALLOW] = "allow",
};

static int
parse_static_dotfiles(const char *text)
{
    return table_parse(static_dotfiles_modes, HN_ARRAY_LEN(static_dotfiles_modes), text);
}

static const char *
name_static_dotfiles(int mode)
{
    return table_name(static_dotfiles_modes, HN_ARRAY_LEN(static_dotfiles_modes), mode);
}

/* Optimal string alignment distance: Levenshtein plus adjacent swaps, since
 * "wokrers" is as likely a typo as "wokers". Keys are short; longer input is
 * cut, which only makes the distance larger. */
static size_t
edit_distance(const char *a, const char *b)
{
    enum { N = 64 };
    size_t d[N + 1][N + 1];
    size_t la = HN_MIN(strlen(a), (size_t)N), lb = HN_MIN(strlen(b), (size_t)N);

    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = HN_MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
            v = HN_MIN(v, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = HN_MIN(v, d[i - 2][j - 2] + 1);
            d[i][j] = v;
        }
    }
    return d[la][lb];
}
