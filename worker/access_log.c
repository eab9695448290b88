/*
 * access_log.c - the worker's access log. Owns the compiled format (an array
 * of ops built once from Hypercorn's access_log_format), the static 64 KiB
 * line buffer, the log fd (the master opens the file) and its swap after a
 * reopen. Deciding when a request is logged is request.c's business; calling
 * hn_access_log_flush once per loop iteration is the worker's (ev_prepare).
 *
 * The atoms and their values follow Hypercorn's AccessLogAtoms
 * (shared/reference/hypercorn.md 1.4), with two deliberate differences:
 * r, R, U and Uq use the raw path as received (Hypercorn logs the decoded
 * one), and client- or app-supplied bytes are escaped (access_log_escape:
 * \xHH as nginx does by default, JSON string escapes, or none).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/access_log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "shared/cfg.h"
#include "shared/headers.h"
#include "shared/log.h"
#include "shared/mem.h"
#include "worker/request.h"
#include "worker/ws_codec.h"

/* The buffer holds many lines so that a busy worker issues one write(2) per
 * loop iteration; past FLUSH_AT it writes at once so a burst of pipelined
 * requests in one iteration never needs more than the static buffer. */
#define BUF_SIZE (64 * 1024)
#define FLUSH_AT (32 * 1024)

/* The format's own text must leave most of the buffer to the values. */
#define LITERAL_MAX (BUF_SIZE / 4)

#define DEFAULT_FORMAT "%(h)s %(l)s %(l)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""

typedef enum op_kind {
    OP_LITERAL,      /* text from the format, or an atom resolved at compile time */
    OP_CLIENT,       /* h */
    OP_TIME,         /* t */
    OP_REQUEST_LINE, /* r */
    OP_REQUEST_LINE_QUERY, /* R */
    OP_METHOD,       /* m */
    OP_PATH,         /* U */
    OP_PATH_QUERY,   /* Uq */
    OP_QUERY,        /* q */
    OP_VERSION,      /* H */
    OP_STATUS,       /* s */
    OP_REASON,       /* st */
    OP_SCHEME,       /* S */
    OP_LENGTH,       /* b, B */
    OP_REQ_HEADER,   /* {name}i, f, a */
    OP_RESP_HEADER,  /* {name}o */
    OP_SECONDS,      /* T */
    OP_MICROS,       /* D */
    OP_SECONDS_FRAC, /* L */
    OP_ENV,          /* {name}e that is set: its value, escaped like the request's bytes */
} op_kind_t;

typedef struct op {
    op_kind_t kind;
    /* literal text or header name: an offset into the pool, because the
     * pool is realloc'ed while compiling */
    size_t arg_off;
    size_t arg_len;
    /* Python's %-conversion width and precision for the atom; -1: none */
    int width;
    int prec;
    bool left;
} op_t;

typedef struct format {
    op_t *ops;
    size_t n_ops, cap_ops;
    char *pool;
    size_t pool_len, pool_cap;
    size_t literal_size; /* the most bytes the OP_LITERAL ops write, padding included */
} format_t;

/* Output cursor over the buffer. Values (atoms) get at most room bytes; the
 * rest of the buffer is kept for the format's own text, the prefix, a "..."
 * and the newline, so a value too long for the line is cut but the format
 * around it is whole (a JSON format keeps its closing quote and brace). */
typedef struct out {
    char *p;
    size_t room;      /* bytes left for values */
    size_t prec_left; /* bytes of the current value its %.N precision still allows */
    bool truncated;   /* a value did not fit */
} out_t;

static int compile(const char *fmt, format_t *f, hn_err_t *err);
static int reserve_literals(format_t *f, hn_err_t *err);
static void format_free(format_t *f);
static size_t format_line(char *dst, size_t cap, const hn_request_t *r, double now,
                          bool *truncated);
static void refresh_time(time_t sec);

extern char **environ;

static format_t fmt_compiled;
static hn_cfg_access_log_escape_t escape_mode;
static bool with_prefix;
static char *log_path;  /* NULL when disabled or stdout */
static int log_fd = -1;
static bool log_is_stdout;
static bool write_failed; /* the last write failed and was logged: don't repeat */
static unsigned long dropped;

static char buf[BUF_SIZE];
static size_t buf_used;

static char pid_str[24];      /* "4242" */
static size_t pid_len;
static time_t cached_sec = (time_t)-1;
static char prefix_str[96];   /* "[2026-11-23 12:00:00 +0000] [4242] [INFO] " */
static size_t prefix_len;
static char t_str[40];        /* "[23/Nov/2026:12:00:00 +0000]" */
static size_t t_len;

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* ---- compiling ---------------------------------------------------------- */

static size_t
pool_add(format_t *f, const char *s, size_t len)
{
    size_t off = f->pool_len;

    if (f->pool_len + len + 1 > f->pool_cap) {
        size_t cap = f->pool_cap ? f->pool_cap : 256;
        while (cap < f->pool_len + len + 1)
            cap *= 2;
        f->pool = hn_xrealloc(f->pool, cap);
        f->pool_cap = cap;
    }
    memcpy(f->pool + f->pool_len, s, len);
    f->pool_len += len;
    f->pool[f->pool_len] = '\0';
    return off;
}

static op_t *
add_op(format_t *f, op_kind_t kind)
{
    op_t *op;

    if (f->n_ops == f->cap_ops) {
        f->cap_ops = f->cap_ops ? f->cap_ops * 2 : 16;
        f->ops = hn_xrealloc(f->ops, f->cap_ops * sizeof(*f->ops));
    }
    op = &f->ops[f->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->width = -1;
    op->prec = -1;
    return op;
}

/* Append literal text, merging with a preceding unconverted literal so that
 * "a %% b" stays one memcpy per request. */
static void
add_literal(format_t *f, const char *s, size_t len)
{
    op_t *last = f->n_ops ? &f->ops[f->n_ops - 1] : NULL;

    if (len == 0)
        return;
    if (last && last->kind == OP_LITERAL && last->width < 0 && last->prec < 0
        && last->arg_off + last->arg_len == f->pool_len) {
        pool_add(f, s, len);
        last->arg_len += len;
        return;
    }
    size_t off = pool_add(f, s, len);
    last = add_op(f, OP_LITERAL);
    last->arg_off = off;
    last->arg_len = len;
}

/* {name}e: the environment of a worker does not change, so the value is
 * looked up once; it is escaped per line like any other value. Hypercorn
 * lower-cases the names of the environment, so the lookup ignores case; the
 * last match wins. */
static void
add_env(format_t *f, op_t *op, const char *name, size_t name_len)
{
    const char *value = NULL;

    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && (size_t)(eq - *e) == name_len && strncasecmp(*e, name, name_len) == 0)
            value = eq + 1;
    }
    if (value == NULL) {
        op->arg_off = pool_add(f, "-", 1);
        op->arg_len = 1;
        return;
    }
    op->kind = OP_ENV;
    op->arg_len = strlen(value);
    op->arg_off = pool_add(f, value, op->arg_len);
}

/* Turn the name inside %(...) into an op. */
static void
resolve_atom(format_t *f, op_t *op, const char *name, size_t len)
{
    static const struct {
        const char *name;
        op_kind_t kind;
        const char *header; /* for f and a */
    } atoms[] = {
        {"h", OP_CLIENT, NULL},         {"t", OP_TIME, NULL},
        {"r", OP_REQUEST_LINE, NULL},   {"R", OP_REQUEST_LINE_QUERY, NULL},
        {"m", OP_METHOD, NULL},         {"U", OP_PATH, NULL},
        {"Uq", OP_PATH_QUERY, NULL},    {"q", OP_QUERY, NULL},
        {"H", OP_VERSION, NULL},        {"s", OP_STATUS, NULL},
        {"st", OP_REASON, NULL},        {"S", OP_SCHEME, NULL},
        {"b", OP_LENGTH, NULL},         {"B", OP_LENGTH, NULL},
        {"f", OP_REQ_HEADER, "referer"}, {"a", OP_REQ_HEADER, "user-agent"},
        {"T", OP_SECONDS, NULL},        {"D", OP_MICROS, NULL},
        {"L", OP_SECONDS_FRAC, NULL},
    };

    for (size_t i = 0; i < HN_ARRAY_LEN(atoms); i++) {
        if (strlen(atoms[i].name) == len && memcmp(atoms[i].name, name, len) == 0) {
            op->kind = atoms[i].kind;
            if (atoms[i].header) {
                op->arg_len = strlen(atoms[i].header);
                op->arg_off = pool_add(f, atoms[i].header, op->arg_len);
            }
            return;
        }
    }
    op->kind = OP_LITERAL;
    if (len == 1 && name[0] == 'l') {
        op->arg_off = pool_add(f, "-", 1);
        op->arg_len = 1;
        return;
    }
    if (len == 1 && name[0] == 'p') {
        /* "<pid>": fixed for the life of the worker (open runs after fork) */
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "<%ld>", (long)getpid());
        op->arg_off = pool_add(f, tmp, (size_t)n);
        op->arg_len = (size_t)n;
        return;
    }
    if (len >= 3 && name[0] == '{' && name[len - 2] == '}') {
        const char *hname = name + 1;
        size_t hlen = len - 3;
        switch (name[len - 1]) {
        case 'i':
        case 'o':
            op->kind = name[len - 1] == 'i' ? OP_REQ_HEADER : OP_RESP_HEADER;
            op->arg_off = pool_add(f, hname, hlen);
            op->arg_len = hlen;
            return;
        case 'e':
            add_env(f, op, hname, hlen);
            return;
        default:
            break;
        }
    }
    /* Unknown atoms (including Hypercorn's documented but absent u) */
    op->arg_off = pool_add(f, "-", 1);
    op->arg_len = 1;
}

/* Each line keeps room for the format's own text (see out_t), so that text
 * must leave most of the buffer to the values. */
static int
reserve_literals(format_t *f, hn_err_t *err)
{
    f->literal_size = 0;
    for (size_t i = 0; i < f->n_ops; i++) {
        const op_t *op = &f->ops[i];
        if (op->kind != OP_LITERAL)
            continue;
        size_t len = op->prec >= 0 ? HN_MIN(op->arg_len, (size_t)op->prec) : op->arg_len;
        f->literal_size += op->width >= 0 ? HN_MAX(len, (size_t)op->width) : len;
    }
    if (f->literal_size > LITERAL_MAX) {
        hn_err_set(err, 0, "access_log_format: its text and padding take %zu bytes; at most %d",
                   f->literal_size, LITERAL_MAX);
        return HN_ERR;
    }
    return HN_OK;
}

/* Parse Python's printf-style mapping format: literal text, %%, and
 * %(name)[flags][width][.precision]conv with conv one of s, d, i (the atoms
 * are all rendered as text; d and i are accepted for %(T)d and %(D)d). Other
 * forms would make Python raise at every request, so they are refused here,
 * once, at start-up. */
static int
compile(const char *fmt, format_t *f, hn_err_t *err)
{
    const char *p = fmt, *lit = fmt;

    while (*p) {
        if (*p != '%') {
            p++;
            continue;
        }
        add_literal(f, lit, (size_t)(p - lit));
        size_t at = (size_t)(p - fmt);
        p++;
        if (*p == '%') {
            add_literal(f, "%", 1);
            lit = ++p;
            continue;
        }
        if (*p != '(') {
            hn_err_set(err, 0, "access_log_format: expected %%(name)s or %%%% at offset %zu", at);
            return HN_ERR;
        }
        /* Python matches nested parentheses in the key. */
        const char *name = ++p;
        int depth = 1;
        while (*p && depth > 0) {
            if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            if (depth > 0)
                p++;
        }
        if (*p != ')') {
            hn_err_set(err, 0, "access_log_format: unclosed %%( at offset %zu", at);
            return HN_ERR;
        }
        size_t name_len = (size_t)(p - name);
        p++;

        bool left = false;
        int width = -1, prec = -1;
        while (*p && strchr("-0 +#", *p)) {
            if (*p == '-')
                left = true;
            p++;
        }
        if (*p >= '0' && *p <= '9') {
            width = 0;
            while (*p >= '0' && *p <= '9' && width < 10000)
                width = width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            prec = 0;
            while (*p >= '0' && *p <= '9' && prec < 10000)
                prec = prec * 10 + (*p++ - '0');
        }
        if (*p != 's' && *p != 'd' && *p != 'i') {
            hn_err_set(err, 0,
                       "access_log_format: unsupported conversion after %%(%.*s) at offset %zu"
                       " (use s)",
                       (int)HN_MIN(name_len, 64), name, at);
            return HN_ERR;
        }
        p++;

        op_t *op = add_op(f, OP_LITERAL);
        resolve_atom(f, op, name, name_len);
        op->width = width;
        op->prec = prec;
        op->left = left;
        lit = p;
    }
    add_literal(f, lit, (size_t)(p - lit));
    return reserve_literals(f, err);
}

static void
format_free(format_t *f)
{
    free(f->ops);
    free(f->pool);
    memset(f, 0, sizeof(*f));
}

int
hn_access_log_check_format(const char *format, hn_err_t *err)
{
    format_t f = {0};
    int rc = compile(format ? format : DEFAULT_FORMAT, &f, err);

    format_free(&f);
    return rc;
}

/* ---- opening ------------------------------------------------------------ */

int
hn_access_log_open(const hn_config_t *cfg, int fd, hn_err_t *err)
{
    hn_access_log_close();

    if (cfg->accesslog == NULL)
        return HN_OK;
    if (compile(cfg->access_log_format ? cfg->access_log_format : DEFAULT_FORMAT,
                &fmt_compiled, err) != HN_OK) {
        format_free(&fmt_compiled);
        if (fd >= 0)
            close(fd);
        return HN_ERR;
    }
    if (strcmp(cfg->accesslog, "-") == 0) {
        log_fd = STDOUT_FILENO;
        log_is_stdout = true;
    } else {
        if (fd < 0) {
            hn_err_set(err, EBADF, "accesslog: %s was not opened", cfg->accesslog);
            format_free(&fmt_compiled);
            return HN_ERR;
        }
        log_fd = fd;
        log_path = hn_xstrdup(cfg->accesslog);
    }
    escape_mode = (hn_cfg_access_log_escape_t)cfg->access_log_escape;
    with_prefix = cfg->access_log_prefix;
    pid_len = (size_t)snprintf(pid_str, sizeof(pid_str), "%ld", (long)getpid());
    /* localtime_r is not required to read TZ; tzset makes the offset right. */
    tzset();
    cached_sec = (time_t)-1;
    buf_used = 0;
    write_failed = false;
    dropped = 0;
    return HN_OK;
}

bool
hn_access_log_enabled(void)
{
    return log_fd >= 0;
}

/* ---- formatting --------------------------------------------------------- */

/* Text of a value that may be cut anywhere: up to len bytes, fewer when its
 * precision runs out or the line is full. Returns whether all of it went in
 * (false: the value stops here). */
static bool
put(out_t *o, const char *s, size_t len)
{
    size_t n = HN_MIN(len, o->prec_left);

    if (hn_unlikely(n > o->room)) {
        n = o->room;
        o->truncated = true;
    }
    memcpy(o->p, s, n);
    o->p += n;
    o->room -= n;
    o->prec_left -= n;
    return n == len;
}

/* One escape sequence or one UTF-8 character standing for in_len bytes of
 * the value: all of it or nothing, so a cut never leaves half an escape. */
static bool
put_unit(out_t *o, size_t in_len, const char *s, size_t len)
{
    if (in_len > o->prec_left) {
        o->prec_left = 0; /* what follows in this value is cut too */
        return false;
    }
    if (hn_unlikely(len > o->room)) {
        o->truncated = true;
        return false;
    }
    memcpy(o->p, s, len);
    o->p += len;
    o->room -= len;
    o->prec_left -= in_len;
    return true;
}

/* The format's own text: room for it was kept (out_t). */
static void
put_literal(out_t *o, const char *s, size_t len)
{
    memcpy(o->p, s, len);
    o->p += len;
}

static void
put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Bytes that both escaping modes rewrite; all others are copied in runs. A
 * table, because this test runs for every byte a line takes from a request. */
static const bool escaped_bytes[256] = {
    [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f ... 0xff] = true,
};

static inline bool
must_escape(unsigned char c)
{
    return escaped_bytes[c];
}

/* access_log_escape: default, nginx's \xHH, so a header value can neither
 * end the line nor close a quoted field. */
static size_t
escape_hex(const unsigned char *u, char *esc, size_t *in_len)
{
    static const char hex[] = "0123456789ABCDEF";

    esc[0] = '\\';
    esc[1] = 'x';
    esc[2] = hex[u[0] >> 4];
    esc[3] = hex[u[0] & 15];
    *in_len = 1;
    return 4;
}

/* access_log_escape: json, for a value inside a JSON string (RFC 8259 §7):
 * '"' and '\' and the control characters escaped, a well-formed UTF-8
 * character kept as it is, and any other byte >= 0x80 written as \u00XX (the
 * code point of the same number), so a line is valid JSON and valid UTF-8
 * whatever the client sent. */
static size_t
escape_json(const unsigned char *u, size_t avail, char *esc, size_t *in_len)
{
    static const char hex[] = "0123456789abcdef";
    static const char short_form[] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
                                      ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};
    unsigned char c = u[0];

    *in_len = 1;
    if (c < sizeof(short_form) && short_form[c]) {
        esc[0] = '\\';
        esc[1] = short_form[c];
        return 2;
    }
    if (c >= 0xC0) {
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (n <= avail && hn_ws_utf8_valid((const char *)u, n)) {
            memcpy(esc, u, n);
            *in_len = n;
            return n;
        }
    }
    memcpy(esc, "\\u00", 4);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
}

/* Client- or app-supplied bytes (paths, header values), in the configured
 * access_log_escape. */
static void
put_esc(out_t *o, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    if (escape_mode == HN_CFG_ESCAPE_NONE) {
        put(o, s, len);
        return;
    }
    while (i < len) {
        size_t run = i;
        while (run < len && !must_escape(u[run]))
            run++;
        if (!put(o, s + i, run - i) || run == len)
            return;
        char esc[8];
        size_t in_len, esc_len = escape_mode == HN_CFG_ESCAPE_JSON
                                     ? escape_json(u + run, len - run, esc, &in_len)
                                     : escape_hex(u + run, esc, &in_len);
        if (!put_unit(o, in_len, esc, esc_len))
            return;
        i = run + in_len;
    }
}

/* A scope field that may be missing: "-" then, like Hypercorn's None. */
static void
put_field(out_t *o, const char *s, size_t len)
{
    if (s == NULL)
        put(o, "-", 1);
    else
        put_esc(o, s, len);
}

static void
put_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    char *q = tmp + sizeof(tmp);

    do
        *--q = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(o, q, (size_t)(tmp + sizeof(tmp) - q));
}

static void
put_path(out_t *o, const hn_request_t *r)
{
    if (r->raw_path)
        put_esc(o, r->raw_path, r->raw_path_len);
    else
        put_field(o, r->path, r->path_len);
}

static void
put_path_query(out_t *o, const hn_request_t *r)
{
    put_path(o, r);
    if (r->query && r->query_len > 0) {
        put(o, "?", 1);
        put_esc(o, r->query, r->query_len);
    }
}

static void
put_request_line(out_t *o, const hn_request_t *r, bool with_query)
{
    put_field(o, r->method, r->method_len);
    put(o, " ", 1);
    if (with_query)
        put_path_query(o, r);
    else
        put_path(o, r);
    put(o, " ", 1);
    put_str(o, r->http_version ? r->http_version : "-");
}

/* Headers keep the last value of a repeated name, as Hypercorn's dict of
 * atoms does; names compare without case (response headers keep the app's
 * case). */
static const hn_header_t *
find_header(const hn_header_t *h, size_t n, const char *name, size_t len)
{
    const hn_header_t *found = NULL;

    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0)
            found = &h[i];
    return found;
}

static void
put_header(out_t *o, const hn_header_t *h)
{
    if (h)
        put_esc(o, h->value, h->value_len);
    else
        put(o, "-", 1);
}

static bool
has_response(const hn_request_t *r)
{
    return r->status > 0;
}

static void
put_length(out_t *o, const hn_request_t *r)
{
    const hn_header_t *h;

    if (!has_response(r)) {
        put(o, "-", 1);
        return;
    }
    h = find_header(r->resp_headers, r->resp_n_headers, "content-length", 14);
    if (h)
        put_esc(o, h->value, h->value_len);
    else if (r->resp_content_length >= 0)
        /* the protocol wrote the Content-Length header itself */
        put_u64(o, (uint64_t)r->resp_content_length);
    else
        put(o, "-", 1);
}

static void
put_op(out_t *o, const op_t *op, const format_t *f, const hn_request_t *r, double elapsed)
{
    const char *arg = f->pool + op->arg_off;
    char tmp[48];
    int n;

    switch (op->kind) {
    case OP_LITERAL: /* format_line writes them */
        break;
    case OP_ENV:
        put_esc(o, arg, op->arg_len);
        break;
    case OP_CLIENT:
        put_field(o, r->client, r->client ? strlen(r->client) : 0);
        break;
    case OP_TIME:
        put(o, t_str, t_len);
        break;
    case OP_REQUEST_LINE:
        put_request_line(o, r, false);
        break;
    case OP_REQUEST_LINE_QUERY:
        put_request_line(o, r, true);
        break;
    case OP_METHOD:
        put_field(o, r->method, r->method_len);
        break;
    case OP_PATH:
        put_path(o, r);
        break;
    case OP_PATH_QUERY:
        put_path_query(o, r);
        break;
    case OP_QUERY:
        if (r->query)
            put_esc(o, r->query, r->query_len);
        break;
    case OP_VERSION:
        put_str(o, r->http_version ? r->http_version : "-");
        break;
    case OP_STATUS:
        if (has_response(r))
            put_u64(o, (uint64_t)r->status);
        else
            put(o, "-", 1);
        break;
    case OP_REASON:
        put_str(o, has_response(r) ? hn_headers_reason(r->status) : "-");
        break;
    case OP_SCHEME:
        put_str(o, r->scheme ? r->scheme : "-");
        break;
    case OP_LENGTH:
        put_length(o, r);
        break;
    case OP_REQ_HEADER:
        put_header(o, find_header(r->headers, r->n_headers, arg, op->arg_len));
        break;
    case OP_RESP_HEADER:
        if (has_response(r))
            put_header(o, find_header(r->resp_headers, r->resp_n_headers, arg, op->arg_len));
        else
            put(o, "-", 1);
        break;
    case OP_SECONDS:
        put_u64(o, (uint64_t)elapsed);
        break;
    case OP_MICROS:
        put_u64(o, (uint64_t)(elapsed * 1e6));
        break;
    case OP_SECONDS_FRAC:
        n = snprintf(tmp, sizeof(tmp), "%.6f", elapsed);
        put(o, tmp, (size_t)HN_MIN(n, (int)sizeof(tmp) - 1));
        break;
    }
}

/* The spaces Python's %-width adds to len bytes of text. */
static size_t
width_pad(const op_t *op, size_t len)
{
    return op->width >= 0 && (size_t)op->width > len ? (size_t)op->width - len : 0;
}

/* Pad the len bytes at start with pad spaces: on the left, or on the right
 * for '-'. The caller has the room. */
static void
pad_to_width(char *start, size_t len, size_t pad, const op_t *op)
{
    if (pad == 0)
        return;
    if (!op->left)
        memmove(start + pad, start, len);
    memset(op->left ? start + len : start, ' ', pad);
}

static void
put_2d(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* Both timestamps change once a second: format them then, not per line. */
static void
refresh_time(time_t sec)
{
    struct tm tm;
    char zone[8];

    if (localtime_r(&sec, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    long off = tm.tm_gmtoff / 60;
    zone[0] = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    put_2d(zone + 1, (int)(off / 60));
    put_2d(zone + 3, (int)(off % 60));
    zone[5] = '\0';

    /* Hypercorn's handler: "%(asctime)s [%(process)d] [%(levelname)s] " */
    prefix_len = (size_t)snprintf(prefix_str, sizeof(prefix_str),
                                  "[%04d-%02d-%02d %02d:%02d:%02d %s] [%s] [INFO] ",
                                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                  tm.tm_min, tm.tm_sec, zone, pid_str);
    /* %(t)s: time.strftime("[%d/%b/%Y:%H:%M:%S %z]"), with C-locale months */
    t_len = (size_t)snprintf(t_str, sizeof(t_str), "[%02d/%s/%04d:%02d:%02d:%02d %s]",
                             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                             tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
    cached_sec = sec;
}

/* Format one line into dst (cap bytes). Always ends with '\n'. A value
 * that does not fit is cut (never inside an escape or a UTF-8 character)
 * and followed by "...", the values after it are left empty, the format's
 * own text is always whole, and *truncated is set. Returns the line's
 * length, 0 (and *truncated) if cap cannot hold even the format's text. */
static size_t
format_line(char *dst, size_t cap, const hn_request_t *r, double now, bool *truncated)
{
    out_t o;
    double elapsed = r->start_time > 0 && now > r->start_time ? now - r->start_time : 0.0;
    time_t sec = (time_t)now;

    if (sec != cached_sec)
        refresh_time(sec);
    size_t kept = (with_prefix ? prefix_len : 0) + fmt_compiled.literal_size + 4; /* "...\n" */
    *truncated = cap < kept;
    if (*truncated)
        return 0;
    o.p = dst;
    o.room = cap - kept;
    o.truncated = false;

    if (with_prefix)
        put_literal(&o, prefix_str, prefix_len);
    for (size_t i = 0; i < fmt_compiled.n_ops; i++) {
        const op_t *op = &fmt_compiled.ops[i];
        char *start = o.p;
        size_t len, pad;
        if (op->kind == OP_LITERAL) {
            len = op->prec >= 0 ? HN_MIN(op->arg_len, (size_t)op->prec) : op->arg_len;
            put_literal(&o, fmt_compiled.pool + op->arg_off, len);
            pad = width_pad(op, len);
            pad_to_width(start, len, pad, op);
            o.p += pad;
            continue;
        }
        if (o.truncated)
            continue;
        o.prec_left = op->prec >= 0 ? (size_t)op->prec : SIZE_MAX;
        put_op(&o, op, &fmt_compiled, r, elapsed);
        len = (size_t)(o.p - start);
        pad = width_pad(op, len);
        if (!o.truncated && pad <= o.room) {
            pad_to_width(start, len, pad, op);
            o.p += pad;
            o.room -= pad;
        } else {
            o.truncated = true;
            put_literal(&o, "...", 3);
        }
    }
    *o.p++ = '\n';
    *truncated = o.truncated;
    return (size_t)(o.p - dst);
}

void
hn_access_log_request(const hn_request_t *r, double now)
{
    size_t len;
    bool truncated;

    if (log_fd < 0)
        return;
    if (buf_used > FLUSH_AT)
        hn_access_log_flush();

    len = format_line(buf + buf_used, BUF_SIZE - buf_used, r, now, &truncated);
    if (truncated && buf_used > 0) {
        /* Give a long line the whole buffer before cutting it. */
        hn_access_log_flush();
        if (buf_used > 0) {
            /* the fd would block and the buffer is still full: drop it */
            dropped++;
            return;
        }
        len = format_line(buf, BUF_SIZE, r, now, &truncated);
    }
    buf_used += len;
}

/* ---- writing ------------------------------------------------------------ */

void
hn_access_log_flush(void)
{
    size_t off = 0;

    if (buf_used == 0 || log_fd < 0)
        return;
    while (off < buf_used) {
        ssize_t n = write(log_fd, buf + off, buf_used - off);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* stdout may be a non-blocking pipe: keep the rest for the
             * next iteration rather than block the worker's loop */
            memmove(buf, buf + off, buf_used - off);
            buf_used -= off;
            return;
        }
        if (!write_failed)
            hn_log(HN_LOG_ERROR, "access log: write to %s failed: %s (lines dropped)",
                   log_path ? log_path : "stdout", strerror(errno));
        write_failed = true;
        buf_used = 0;
        return;
    }
    if (hn_unlikely(dropped > 0)) {
        hn_log(HN_LOG_WARN, "access log: %lu lines dropped (log output would block)", dropped);
        dropped = 0;
    }
    write_failed = false;
    buf_used = 0;
}

void
hn_access_log_adopt(int fd)
{
    if (log_fd < 0 || log_path == NULL) {
        close(fd);
        return;
    }
    /* Lines buffered before the reopen belong to the old file. */
    hn_access_log_flush();
    if (hn_log_replace_fd(log_fd, fd) != HN_OK) {
        hn_log(HN_LOG_ERROR, "access log: reopen %s: dup2: %s; still writing to the old file",
               log_path, strerror(errno));
        return;
    }
    write_failed = false;
}

void
hn_access_log_close(void)
{
    hn_access_log_flush();
    if (log_fd >= 0 && !log_is_stdout)
        close(log_fd);
    log_fd = -1;
    log_is_stdout = false;
    free(log_path);
    log_path = NULL;
    format_free(&fmt_compiled);
    buf_used = 0;
}
