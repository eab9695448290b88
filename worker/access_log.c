/*
 * access_log.c - the worker's access log. Owns the compiled format (an array
 * of ops built once from Hypercorn's access_log_format), the static 64 KiB
 * line buffer, the log fd and its reopen. Deciding when a request is logged
 * is request.c's business; calling hn_access_log_flush once per loop
 * iteration is the worker's (ev_prepare).
 *
 * The atoms and their values follow Hypercorn's AccessLogAtoms
 * (shared/reference/hypercorn.md 1.4), with two deliberate differences:
 * r, R, U and Uq use the raw path as received (Hypercorn logs the decoded
 * one), and client- or app-supplied bytes are escaped as \xHH.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/access_log.h"

#include <errno.h>
#include <fcntl.h>
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

/* The buffer holds many lines so that a busy worker issues one write(2) per
 * loop iteration; past FLUSH_AT it writes at once so a burst of pipelined
 * requests in one iteration never needs more than the static buffer. */
#define BUF_SIZE (64 * 1024)
#define FLUSH_AT (32 * 1024)

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
} format_t;

/* Output cursor over the buffer; end leaves room for the line's ending. */
typedef struct out {
    char *p;
    char *end;
    bool truncated;
} out_t;

static int compile(const char *fmt, format_t *f, hn_err_t *err);
static void format_free(format_t *f);
static size_t format_line(char *dst, size_t cap, const hn_request_t *r, double now,
                          bool *truncated);
static void refresh_time(time_t sec);
static int open_target(const char *path, hn_err_t *err);

extern char **environ;

static format_t fmt_compiled;
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

static bool
must_escape(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

/* A literal holding an environment variable's value, escaped now since the
 * environment of a worker does not change. Hypercorn lower-cases the names
 * of the environment, so the lookup ignores case; the last match wins. */
static void
add_env_literal(format_t *f, op_t *op, const char *name, size_t name_len)
{
    static const char hex[] = "0123456789ABCDEF";
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
    op->arg_off = f->pool_len;
    for (const char *v = value; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (must_escape(c)) {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            pool_add(f, esc, 4);
        } else {
            pool_add(f, v, 1);
        }
    }
    op->arg_len = f->pool_len - op->arg_off;
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
            add_env_literal(f, op, hname, hlen);
            return;
        default:
            break;
        }
    }
    /* Unknown atoms (including Hypercorn's documented but absent u) */
    op->arg_off = pool_add(f, "-", 1);
    op->arg_len = 1;
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
    return HN_OK;
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

static int
open_target(const char *path, hn_err_t *err)
{
    int fd;

    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        hn_err_set(err, errno, "accesslog: cannot open %s: %s", path, strerror(errno));
    return fd;
}

int
hn_access_log_open(const hn_config_t *cfg, hn_err_t *err)
{
    hn_access_log_close();

    if (cfg->accesslog == NULL)
        return HN_OK;
    if (compile(cfg->access_log_format ? cfg->access_log_format : DEFAULT_FORMAT,
                &fmt_compiled, err) != HN_OK) {
        format_free(&fmt_compiled);
        return HN_ERR;
    }
    if (strcmp(cfg->accesslog, "-") == 0) {
        log_fd = STDOUT_FILENO;
        log_is_stdout = true;
    } else {
        log_fd = open_target(cfg->accesslog, err);
        if (log_fd < 0) {
            format_free(&fmt_compiled);
            return HN_ERR;
        }
        log_path = hn_xstrdup(cfg->accesslog);
    }
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

static void
put(out_t *o, const char *s, size_t len)
{
    size_t room = (size_t)(o->end - o->p);

    if (hn_unlikely(len > room)) {
        len = room;
        o->truncated = true;
    }
    memcpy(o->p, s, len);
    o->p += len;
}

static void
put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Client- or app-supplied bytes: control characters, '"', '\' and non-ASCII
 * become \xHH (nginx's escaping), so a header value can neither end the line
 * nor close a quoted field. */
static void
put_esc(out_t *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t run = i;
        while (run < len && !must_escape(u[run]))
            run++;
        put(o, s + i, run - i);
        if (run == len)
            break;
        char esc[4] = {'\\', 'x', hex[u[run] >> 4], hex[u[run] & 15]};
        put(o, esc, 4);
        i = run + 1;
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
    case OP_LITERAL:
        put(o, arg, op->arg_len);
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

/* Apply %-width and precision to the text an op just wrote at start. */
static void
apply_width(out_t *o, char *start, const op_t *op)
{
    size_t len = (size_t)(o->p - start);

    if (op->prec >= 0 && len > (size_t)op->prec) {
        o->p = start + op->prec;
        len = (size_t)op->prec;
    }
    if (op->width < 0 || len >= (size_t)op->width)
        return;
    size_t pad = (size_t)op->width - len;
    if (pad > (size_t)(o->end - o->p)) {
        pad = (size_t)(o->end - o->p);
        o->truncated = true;
    }
    if (!op->left)
        memmove(start + pad, start, len);
    memset(op->left ? start + len : start, ' ', pad);
    o->p += pad;
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

/* Format one line into dst (cap bytes). Always ends with '\n'; a line that
 * does not fit ends with "...\n" and sets *truncated. Returns its length,
 * 0 if cap is too small for even that. */
static size_t
format_line(char *dst, size_t cap, const hn_request_t *r, double now, bool *truncated)
{
    out_t o;
    double elapsed = r->start_time > 0 && now > r->start_time ? now - r->start_time : 0.0;
    time_t sec = (time_t)now;

    *truncated = false;
    if (cap < 5) {
        *truncated = true;
        return 0;
    }
    if (sec != cached_sec)
        refresh_time(sec);
    o.p = dst;
    o.end = dst + cap - 4; /* room for "...\n" */
    o.truncated = false;

    put(&o, prefix_str, prefix_len);
    for (size_t i = 0; i < fmt_compiled.n_ops; i++) {
        const op_t *op = &fmt_compiled.ops[i];
        char *start = o.p;
        put_op(&o, op, &fmt_compiled, r, elapsed);
        if (op->width >= 0 || op->prec >= 0)
            apply_width(&o, start, op);
    }
    if (o.truncated) {
        memcpy(o.p, "...", 3);
        o.p += 3;
        *truncated = true;
    }
    *o.p++ = '\n';
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

int
hn_access_log_reopen(void)
{
    hn_err_t err;
    int fd;

    if (log_fd < 0 || log_path == NULL)
        return HN_OK;
    /* Lines buffered before the signal belong to the old file. */
    hn_access_log_flush();
    fd = open_target(log_path, &err);
    if (fd < 0) {
        hn_log(HN_LOG_ERROR, "%s; still writing to the old file", err.msg);
        return HN_ERR;
    }
    /* Keep the fd number: dup2 swaps the file atomically. It clears
     * CLOEXEC on the target, so set it again (one thread: no fork between). */
    if (dup2(fd, log_fd) < 0) {
        hn_log(HN_LOG_ERROR, "access log: reopen %s: dup2: %s", log_path, strerror(errno));
        close(fd);
        return HN_ERR;
    }
    close(fd);
    (void)fcntl(log_fd, F_SETFD, FD_CLOEXEC);
    write_failed = false;
    return HN_OK;
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
