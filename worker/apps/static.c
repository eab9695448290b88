/*
 * static.c - builtin:static, files under static_root over GET and HEAD:
 * index files, content types by extension, conditional requests (ETag,
 * Last-Modified), single byte ranges. Path resolution is the kernel's
 * (openat2 RESOLVE_BENEATH), so neither "..", nor encoded dots, nor symlinks
 * can leave the root. Framing, HEAD body suppression and the file transfer
 * itself belong to the server behind api->response_*.
 *
 * Written against the public ABI (include/hornet/app.h) like any
 * shared-object app: configuration comes from api->config, logging from
 * api->log. Being compiled into hornet, it borrows shared/ helpers (date
 * format and parse, reason phrases, case-insensitive compares).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "include/hornet/app.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/headers.h"
#include "shared/str.h"

/* Enough for content-type, content-length, last-modified, etag,
 * accept-ranges, content-range and one spare. */
#define MAX_HEADERS 8

typedef struct range {
    uint64_t start, len;
} range_t;

typedef enum range_result {
    RANGE_NONE,          /* no usable Range: serve the whole file */
    RANGE_OK,            /* one satisfiable range */
    RANGE_UNSATISFIABLE, /* 416 */
} range_result_t;

static int init(const hornet_api_t *a);
static void on_request(hornet_request_t *req, const hornet_scope_t *s);
static int open_beneath(const char *path, int *fd);
static int walk_beneath(const char *path, int *fd);
static int normalize(const char *src, char *dst);
static int open_stat(const char *path, int *fd, struct stat *st);
static int status_for_errno(const hornet_scope_t *s, const char *path, int e);
static void serve_file(hornet_request_t *req, const hornet_scope_t *s, int fd,
                       const struct stat *st, const char *name);
static bool not_modified(const hornet_scope_t *s, const struct stat *st, const char *etag);
static bool precondition_failed(const hornet_scope_t *s, const struct stat *st, const char *etag);
static bool etag_list_match(const char *list, size_t len, const char *etag, bool weak);
static range_result_t parse_range(const hornet_scope_t *s, uint64_t size, const char *etag,
                                  time_t mtime, range_t *out);
static bool parse_u64(const char **p, const char *end, uint64_t *out);
static const char *content_type(const char *name);
static void respond_error(hornet_request_t *req, const hornet_scope_t *s, int status,
                          const hornet_header_t *extra, size_t n_extra);
static const hornet_header_t *find_header(const hornet_scope_t *s, const char *name);
static bool is_head(const hornet_scope_t *s);
static bool is_bare_mount_point(const hornet_scope_t *s);
static hornet_header_t header(const char *name, const char *value);
static char *req_strndup(hornet_request_t *req, const char *str, size_t len);
static char *req_printf(hornet_request_t *req, const char *fmt, ...) HN_PRINTF(2, 3);

/* Every response is handed over within on_request, and the server owns the
 * fd from then on: no per-request state, so no on_body or on_disconnect. */
const hornet_app_t hn_builtin_static = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "static",
    .init = init,
    .on_request = on_request,
};

static const hornet_api_t *api;

/* Per worker: opened after fork by init, kept for the worker's life. A reload
 * forks new workers, which open the (possibly new) root again. */
static int root_fd = -1;
static const char *index_name;
static bool have_openat2;

/* O_NONBLOCK: opening a FIFO someone left in the root must not hang the
 * worker (it is refused after fstat anyway); it changes nothing for regular
 * files. */
#define FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"}, /* RFC 9239 */
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"xml", "text/xml; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"}, /* WebAssembly.instantiateStreaming insists on it */
    {"pdf", "application/pdf"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
};

/* Both keys are read as their string form: "." or "/srv/www", unquoted. A
 * relative static_root is relative to the worker's working directory. */
static int
init(const hornet_api_t *a)
{
    const char *root, *idx;
    int fd;

    api = a;
    root = api->config("static_root");
    if (root == NULL || root[0] == '\0') {
        api->log(HORNET_LOG_ERROR, "builtin:static needs static_root");
        return -1;
    }
    if (root_fd >= 0)
        close(root_fd);
    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd == -1) {
        api->log(HORNET_LOG_ERROR, "builtin:static: static_root \"%s\": %s", root, strerror(errno));
        return -1;
    }
    have_openat2 = true;
    if (open_beneath(".", &fd) == HN_OK) {
        close(fd);
    } else if (errno == ENOSYS) {
        have_openat2 = false;
        api->log(HORNET_LOG_INFO,
                 "static: no openat2 here, resolving paths component by component");
    }
    idx = api->config("static_index");
    index_name = (idx != NULL && idx[0] != '\0') ? idx : NULL;
    return 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *s)
{
    static const hornet_header_t allow = {"allow", 5, "GET, HEAD", 9};
    struct stat st;
    const char *rel, *name, *path;
    size_t rel_len;
    int fd, status;

    if (!(s->method_len == 3 && memcmp(s->method, "GET", 3) == 0) && !is_head(s)) {
        respond_error(req, s, 405, &allow, 1);
        return;
    }
    /* %00 decodes to a NUL, which would cut the path short at the syscall. */
    if (s->path_len == 0 || s->path[0] != '/' || memchr(s->path, '\0', s->path_len) != NULL) {
        respond_error(req, s, 400, NULL, 0);
        return;
    }

    rel = s->path;
    rel_len = s->path_len;
    while (rel_len > 0 && rel[0] == '/') {
        rel++;
        rel_len--;
    }
    path = rel_len > 0 ? req_strndup(req, rel, rel_len) : ".";

    status = open_stat(path, &fd, &st);
    if (status != 0) {
        respond_error(req, s, status_for_errno(s, path, status), NULL, 0);
        return;
    }
    name = path;

    if (S_ISDIR(st.st_mode)) {
        close(fd);
        if (s->path[s->path_len - 1] != '/' || is_bare_mount_point(s)) {
            /* Relative links in the index resolve against the directory only
             * with the slash. Build it from the raw path so the client's
             * encoding survives, with one leading slash so "//host" can't
             * turn this into an off-site redirect. */
            const char *raw = s->raw_path;
            size_t raw_len = s->raw_path_len;
            hornet_header_t loc;

            while (raw_len > 0 && raw[0] == '/') {
                raw++;
                raw_len--;
            }
            loc = header("location",
                         req_printf(req, "/%.*s/%s%.*s", (int)raw_len, raw,
                                    s->query_string_len > 0 ? "?" : "", (int)s->query_string_len,
                                    s->query_string_len > 0 ? s->query_string : ""));
            respond_error(req, s, 301, &loc, 1);
            return;
        }
        if (index_name == NULL) {
            respond_error(req, s, 404, NULL, 0); /* no directory listings */
            return;
        }
        name = rel_len > 0 ? req_printf(req, "%s%s", path, index_name) : index_name;
        status = open_stat(name, &fd, &st);
        if (status != 0) {
            respond_error(req, s, status_for_errno(s, name, status), NULL, 0);
            return;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        /* FIFOs, devices, sockets, or an index that is a directory. */
        close(fd);
        respond_error(req, s, 404, NULL, 0);
        return;
    }
    serve_file(req, s, fd, &st, name);
}

/* Open path below root_fd. Returns HN_OK with *fd set, or HN_ERR with errno
 * set and *fd = -1. */
static int
open_beneath(const char *path, int *fd)
{
    struct open_how how;
    long rc;

    if (!have_openat2)
        return walk_beneath(path, fd);
    memset(&how, 0, sizeof(how));
    how.flags = FILE_FLAGS;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    do {
        rc = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    } while (rc == -1 && (errno == EINTR || errno == EAGAIN));
    *fd = (int)rc;
    return rc >= 0 ? HN_OK : HN_ERR;
}

/* What openat2 RESOLVE_BENEATH does, one component at a time, for kernels
 * older than 5.6 and for valgrind (which doesn't know the syscall). Every
 * component is opened with O_NOFOLLOW; a symlink is read and spliced into
 * the path, which is normalised again and walked from the root. ".." is
 * handled lexically, so "link/.." can name another file than openat2 would,
 * but never one outside the root: absolute targets and climbing above the
 * root fail with EXDEV, as with openat2. */
static int
walk_beneath(const char *path, int *fd)
{
    char buf[PATH_MAX], norm[PATH_MAX], target[PATH_MAX];
    size_t len = strlen(path);
    int links = 0;

    *fd = -1;
    if (len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return HN_ERR;
    }
    memcpy(buf, path, len + 1);

    for (;;) {
        bool want_dir = len > 0 && buf[len - 1] == '/';
        char *comp, *slash;
        int cur = root_fd, next_fd, e;
        struct stat st;
        ssize_t tlen;

        if (normalize(buf, norm) != HN_OK)
            return HN_ERR;
        comp = norm[0] != '\0' ? norm : (char *)".";
        for (;;) {
            bool last;

            slash = strchr(comp, '/');
            last = slash == NULL;
            if (!last)
                *slash = '\0';
            do {
                next_fd = openat(cur, comp,
                                 last ? FILE_FLAGS | O_NOFOLLOW | (want_dir ? O_DIRECTORY : 0)
                                      : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            } while (next_fd == -1 && errno == EINTR);
            e = errno;
            if (next_fd == -1 && (e == ELOOP || e == ENOTDIR) &&
                fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                break; /* splice below */
            if (cur != root_fd)
                close(cur);
            if (next_fd == -1) {
                errno = e;
                return HN_ERR;
            }
            cur = next_fd;
            if (last) {
                *fd = cur;
                return HN_OK;
            }
            comp = slash + 1;
        }

        tlen = readlinkat(cur, comp, target, sizeof(target));
        e = errno;
        if (cur != root_fd)
            close(cur);
        if (tlen < 0) {
            errno = e;
            return HN_ERR;
        }
        if (tlen == 0 || target[0] == '/' || ++links > 40) {
            errno = links > 40 ? ELOOP : EXDEV;
            return HN_ERR;
        }
        /* buf = the directories before comp + target + what follows comp. */
        {
            size_t head = (size_t)(comp - norm);
            const char *rest = slash != NULL ? slash + 1 : "";
            size_t rest_len = strlen(rest), k;

            if (head + (size_t)tlen + 1 + rest_len + 1 >= sizeof(buf)) {
                errno = ENAMETOOLONG;
                return HN_ERR;
            }
            /* The walk cut norm into C strings; put its separators back. */
            for (k = 0; k < head; k++)
                buf[k] = norm[k] != '\0' ? norm[k] : '/';
            memcpy(buf + head, target, (size_t)tlen);
            len = head + (size_t)tlen;
            if (slash != NULL) {
                buf[len++] = '/';
                memcpy(buf + len, rest, rest_len);
                len += rest_len;
            }
            if (want_dir)
                buf[len++] = '/';
            buf[len] = '\0';
        }
    }
}

/* "a/./b//../c/" -> "a/c": drop empty and "." components, pop on "..". The
 * result has no leading or trailing slash; EXDEV if ".." climbs above the root. */
static int
normalize(const char *src, char *dst)
{
    size_t n = 0;

    while (*src != '\0') {
        const char *end = strchrnul(src, '/');
        size_t clen = (size_t)(end - src);

        if (clen == 2 && src[0] == '.' && src[1] == '.') {
            if (n == 0) {
                errno = EXDEV;
                return HN_ERR;
            }
            while (n > 0 && dst[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the separator before the popped component */
        } else if (clen > 0 && !(clen == 1 && src[0] == '.')) {
            if (n > 0)
                dst[n++] = '/';
            memcpy(dst + n, src, clen);
            n += clen;
        }
        src = *end == '/' ? end + 1 : end;
    }
    dst[n] = '\0';
    return HN_OK;
}

/* open_beneath plus fstat: 0 with *fd open, or the errno that stopped it. */
static int
open_stat(const char *path, int *fd, struct stat *st)
{
    int e;

    if (open_beneath(path, fd) != HN_OK)
        return errno;
    if (fstat(*fd, st) == -1) {
        e = errno;
        close(*fd);
        *fd = -1;
        return e;
    }
    return 0;
}

static int
status_for_errno(const hornet_scope_t *s, const char *path, int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return 403;
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
    /* EXDEV: the path left the root ("..", an absolute or outward symlink).
     * Answer as if it didn't exist, so probing reveals nothing outside. */
    case EXDEV:
        return 404;
    default:
        /* The client didn't cause this (EMFILE, EIO, ...): worth an error line. */
        api->log(HORNET_LOG_ERROR, "static: open \"%s\" for %.*s: %s", path, (int)s->raw_path_len,
                 s->raw_path, strerror(e));
        return 500;
    }
}

static void
serve_file(hornet_request_t *req, const hornet_scope_t *s, int fd, const struct stat *st,
           const char *name)
{
    hornet_header_t h[MAX_HEADERS];
    char date[HN_HTTP_DATE_LEN + 1];
    const char *etag;
    bool head = is_head(s);
    uint64_t size = (uint64_t)st->st_size;
    range_t range = {0, size};
    range_result_t rr = RANGE_NONE;
    size_t n = 0;
    int status = 200;

    /* Like nginx: mtime and size in hex. Honest as a strong validator as long
     * as files are replaced within the same second only with a size change. */
    etag = req_printf(req, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_mtime, size);
    hn_headers_format_date(st->st_mtime, date);

    if (precondition_failed(s, st, etag)) {
        close(fd);
        respond_error(req, s, 412, NULL, 0);
        return;
    }
    h[n++] = header("etag", etag);
    h[n++] = header("last-modified", req_strndup(req, date, HN_HTTP_DATE_LEN));

    if (not_modified(s, st, etag)) {
        close(fd);
        /* No content-length: a 304 has no body, and the server frames it so. */
        if (api->response_start(req, 304, h, n, false) == HORNET_OK)
            api->response_body(req, NULL, 0, false);
        return;
    }

    /* RFC 9110 §14.2: range handling is defined for GET only. */
    if (!head)
        rr = parse_range(s, size, etag, st->st_mtime, &range);
    if (rr == RANGE_UNSATISFIABLE) {
        hornet_header_t cr = header("content-range", req_printf(req, "bytes */%" PRIu64, size));

        close(fd);
        respond_error(req, s, 416, &cr, 1);
        return;
    }
    h[n++] = header("content-type", content_type(name));
    h[n++] = header("accept-ranges", "bytes");
    if (rr == RANGE_OK) {
        status = 206;
        h[n++] =
            header("content-range", req_printf(req, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                                               range.start, range.start + range.len - 1, size));
    }
    h[n++] = header("content-length", req_printf(req, "%" PRIu64, range.len));

    if (api->response_start(req, status, h, n, false) != HORNET_OK) {
        close(fd);
        return;
    }
    if (head || range.len == 0) {
        close(fd);
        api->response_body(req, NULL, 0, false);
        return;
    }
    /* The fd is the server's now, sent or not; an error only means the
     * client is gone, and on_disconnect has nothing of ours to free. */
    (void)api->response_file(req, fd, (off_t)range.start, (size_t)range.len, false);
}

/* If-Match, else If-Unmodified-Since (RFC 9110 §13.2.2 steps 1-2): true means 412. */
static bool
precondition_failed(const hornet_scope_t *s, const struct stat *st, const char *etag)
{
    const hornet_header_t *h = find_header(s, "if-match");

    if (h != NULL)
        return !etag_list_match(h->value, h->value_len, etag, false);
    h = find_header(s, "if-unmodified-since");
    if (h != NULL) {
        time_t t = hn_headers_parse_date(h->value, h->value_len);

        return t != (time_t)-1 && st->st_mtime > t;
    }
    return false;
}

/* If-None-Match, else If-Modified-Since (RFC 9110 §13.2.2 steps 3-4). */
static bool
not_modified(const hornet_scope_t *s, const struct stat *st, const char *etag)
{
    const hornet_header_t *h = find_header(s, "if-none-match");

    /* When both are present, If-None-Match decides alone (§13.1.3): it is the
     * more precise validator. */
    if (h != NULL)
        return etag_list_match(h->value, h->value_len, etag, true);
    h = find_header(s, "if-modified-since");
    if (h != NULL) {
        time_t t = hn_headers_parse_date(h->value, h->value_len);

        return t != (time_t)-1 && st->st_mtime <= t;
    }
    return false;
}

/* Does the If-Match / If-None-Match list match etag (a strong tag, with its
 * quotes)? Weak comparison ignores W/ on either side; strong comparison never
 * matches a weak tag. "*" matches any existing file. */
static bool
etag_list_match(const char *list, size_t len, const char *etag, bool weak)
{
    const char *p = list, *end = list + len;
    size_t etag_len = strlen(etag);

    while (p < end) {
        const char *q;
        bool is_weak = false;

        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == end)
            break;
        if (*p == '*')
            return true;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            is_weak = true;
            p += 2;
        }
        if (p == end || *p != '"')
            return false; /* malformed: match nothing rather than guess */
        q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (q == NULL)
            return false;
        q++;
        if ((weak || !is_weak) && (size_t)(q - p) == etag_len && memcmp(p, etag, etag_len) == 0)
            return true;
        p = q;
    }
    return false;
}

/* One "bytes=" range, honoured only if If-Range (when present) still holds.
 * A malformed or multi-range header is ignored (RFC 9110 §14.2 allows it);
 * multipart/byteranges isn't worth its cost here. */
static range_result_t
parse_range(const hornet_scope_t *s, uint64_t size, const char *etag, time_t mtime, range_t *out)
{
    const hornet_header_t *h = find_header(s, "range");
    const hornet_header_t *ifr;
    const char *p, *end;
    uint64_t a = 0, b = 0;
    bool has_a, has_b;

    if (h == NULL)
        return RANGE_NONE;
    p = h->value;
    end = h->value + h->value_len;
    if (end - p < 6 || !hn_mem_case_eq(p, 6, "bytes=", 6))
        return RANGE_NONE;
    p += 6;
    if (memchr(p, ',', (size_t)(end - p)) != NULL)
        return RANGE_NONE;

    ifr = find_header(s, "if-range");
    if (ifr != NULL) {
        /* An entity tag must match strongly; a date must be exactly our
         * Last-Modified (§13.1.5). Otherwise send the whole, current file. */
        /* "W/" opens a weak tag; a bare W opens a date ("Wed, ...") */
        if (ifr->value_len > 0 && (ifr->value[0] == '"' ||
                                   (ifr->value_len > 1 && ifr->value[0] == 'W' &&
                                    ifr->value[1] == '/'))) {
            if (ifr->value_len != strlen(etag) || memcmp(ifr->value, etag, ifr->value_len) != 0)
                return RANGE_NONE;
        } else if (hn_headers_parse_date(ifr->value, ifr->value_len) != mtime) {
            return RANGE_NONE;
        }
    }

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    has_a = parse_u64(&p, end, &a);
    if (p == end || *p != '-')
        return RANGE_NONE;
    p++;
    has_b = parse_u64(&p, end, &b);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end || (!has_a && !has_b) || (has_a && has_b && b < a))
        return RANGE_NONE;

    if (!has_a) {
        /* "-n": the last n bytes; "-0" asks for nothing, which can't be satisfied. */
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        out->len = HN_MIN(b, size);
        out->start = size - out->len;
        return RANGE_OK;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    if (!has_b || b >= size)
        b = size - 1;
    out->start = a;
    out->len = b - a + 1;
    return RANGE_OK;
}

static bool
parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            v = UINT64_MAX; /* saturate: past any file size is all that matters */
        else
            v = v * 10 + d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

static const char *
content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash != NULL ? slash + 1 : name, '.');
    size_t i;

    if (dot != NULL && dot[1] != '\0') {
        for (i = 0; i < HN_ARRAY_LEN(content_types); i++) {
            const char *ext = content_types[i].ext;

            if (hn_mem_case_eq(dot + 1, strlen(dot + 1), ext, strlen(ext)))
                return content_types[i].type;
        }
    }
    return "application/octet-stream";
}

/* A short text/plain answer: "404 Not Found\n". */
static void
respond_error(hornet_request_t *req, const hornet_scope_t *s, int status,
              const hornet_header_t *extra, size_t n_extra)
{
    hornet_header_t h[MAX_HEADERS];
    const char *body = req_printf(req, "%d %s\n", status, hn_headers_reason(status));
    size_t len = strlen(body), n = 0, i;

    for (i = 0; i < n_extra && n < MAX_HEADERS - 2; i++)
        h[n++] = extra[i];
    h[n++] = header("content-type", "text/plain; charset=utf-8");
    h[n++] = header("content-length", req_printf(req, "%zu", len));
    if (api->response_start(req, status, h, n, false) != HORNET_OK)
        return;
    /* The server drops the body of a HEAD response; don't hand it one. */
    if (is_head(s))
        api->response_body(req, NULL, 0, false);
    else
        api->response_body(req, body, len, false);
}

/* First request header with this (lower-case) name, or NULL. */
static const hornet_header_t *
find_header(const hornet_scope_t *s, const char *name)
{
    size_t len = strlen(name), i;

    for (i = 0; i < s->n_headers; i++)
        if (s->headers[i].name_len == len && memcmp(s->headers[i].name, name, len) == 0)
            return &s->headers[i];
    return NULL;
}

static bool
is_head(const hornet_scope_t *s)
{
    return s->method_len == 4 && memcmp(s->method, "HEAD", 4) == 0;
}

/* A request for the mount point itself ("/static" under root_path
 * "/static") reaches the app with path "/", like "/static/". Only the raw
 * path tells them apart, and the first needs the same redirect as any
 * directory named without its slash. */
static bool
is_bare_mount_point(const hornet_scope_t *s)
{
    return s->root_path_len > 0 && s->path_len == 1 && s->raw_path_len > 0 &&
           s->raw_path[s->raw_path_len - 1] != '/';
}

static hornet_header_t
header(const char *name, const char *value)
{
    hornet_header_t h = {name, strlen(name), value, strlen(value)};

    return h;
}

/* NUL-terminated copy in request memory. */
static char *
req_strndup(hornet_request_t *req, const char *str, size_t len)
{
    char *p = api->alloc(req, len + 1);

    memcpy(p, str, len);
    p[len] = '\0';
    return p;
}

/* printf into request memory. */
static char *
req_printf(hornet_request_t *req, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;
    char *out;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    out = api->alloc(req, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(out, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(out, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return out;
}
