/*
 * static.c - builtin:static, files under static_root over GET and HEAD:
 * index files, content types by extension, dotfiles refused, precompressed
 * siblings (file.br, file.gz) chosen by Accept-Encoding, conditional
 * requests (ETag, Last-Modified), byte ranges, several of them as
 * multipart/byteranges. The path's dot segments are resolved lexically, as
 * nginx does with the URI; what is left is resolved by the kernel (openat2
 * RESOLVE_BENEATH), so neither "..", nor encoded dots, nor symlinks can
 * leave the root. Range parsing and the multipart layout are
 * static_range.c's, Accept-Encoding weights static_encoding.c's. Framing,
 * HEAD body suppression and the file transfer itself belong to the server
 * behind api->response_*.
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
#include "worker/apps/static_encoding.h"
#include "worker/apps/static_range.h"

/* Enough for content-type, content-length, last-modified, etag,
 * accept-ranges, content-range, content-encoding, vary and two spare. */
#define MAX_HEADERS 10

/* What is sent for a file: the file itself, or a precompressed sibling. */
typedef struct rep {
    int fd;
    struct stat st;
    const char *coding; /* Content-Encoding; NULL for the file as it is */
    const char *suffix; /* of the sibling's name, and of its ETag */
    bool varies;        /* a sibling exists: the answer depends on Accept-Encoding */
} rep_t;

static int init(const hornet_api_t *a);
static void on_request(hornet_request_t *req, const hornet_scope_t *s);
static int open_beneath(const char *path, int *fd);
static int walk_beneath(const char *path, int *fd);
static int normalize(const char *src, char *dst);
static bool names_directory(const char *path, size_t len);
static bool is_hidden(const char *path);
static int open_stat(const char *path, int *fd, struct stat *st);
static int status_for_errno(const hornet_scope_t *s, const char *path, int e);
static void serve_file(hornet_request_t *req, const hornet_scope_t *s, int fd,
                       const struct stat *st, const char *name);
static void choose_representation(hornet_request_t *req, const hornet_scope_t *s, const char *name,
                                  rep_t *rep);
static bool send_multipart(hornet_request_t *req, int fd, const hn_static_range_t *r, size_t n,
                           uint64_t size, const char *type, hornet_header_t *h, size_t n_h);
static bool not_modified(const hornet_scope_t *s, const struct stat *st, const char *etag);
static bool precondition_failed(const hornet_scope_t *s, const struct stat *st, const char *etag);
static bool etag_list_match(const char *list, size_t len, const char *etag, bool weak);
static hn_static_range_result_t parse_range(const hornet_scope_t *s, uint64_t size,
                                            const char *etag, time_t mtime, hn_static_range_t *out,
                                            size_t *n);
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
static bool allow_dotfiles;    /* static_dotfiles: allow */
static bool use_precompressed; /* static_precompressed */

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

/* The precompressed siblings of a file, in order of preference between
 * equal weights: brotli is the smaller. */
static const struct {
    hn_static_encoding_t coding;
    const char *name;   /* Content-Encoding */
    const char *suffix; /* file.SUFFIX */
} siblings[] = {
    {HN_STATIC_ENCODING_BR, "br", "br"},
    {HN_STATIC_ENCODING_GZIP, "gzip", "gz"},
};

/* The keys are read as their string form: "." or "/srv/www", unquoted. A
 * relative static_root is relative to the worker's working directory. */
static int
init(const hornet_api_t *a)
{
    const char *root, *idx, *opt;
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
    opt = api->config("static_dotfiles");
    allow_dotfiles = opt != NULL && strcmp(opt, "allow") == 0;
    opt = api->config("static_precompressed");
    use_precompressed = opt == NULL || strcmp(opt, "false") != 0;
    return 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *s)
{
    static const hornet_header_t allow = {"allow", 5, "GET, HEAD", 9};
    struct stat st;
    const char *rel, *name, *path;
    char *norm;
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
    /* Dot segments go first, lexically ("a/../b" is "b", as nginx has it
     * and RFC 3986 §5.2.4 says), so that the segments checked for dotfiles
     * are the ones opened, whatever symlinks the path crosses. */
    path = req_strndup(req, rel, rel_len);
    norm = api->alloc(req, rel_len + 2); /* the result, a slash, the NUL */
    if (normalize(path, norm) != HN_OK) {
        respond_error(req, s, status_for_errno(s, path, errno), NULL, 0); /* EXDEV: 404 */
        return;
    }
    if (!allow_dotfiles && is_hidden(norm)) {
        /* 404, not 403: whether .git or .env exists is itself worth hiding. */
        respond_error(req, s, 404, NULL, 0);
        return;
    }
    if (norm[0] == '\0')
        path = ".";
    else if (names_directory(rel, rel_len))
        path = strcat(norm, "/"); /* "file.txt/" must stay ENOTDIR */
    else
        path = norm;

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
        /* path is "." or ends with a slash: only "dir/" reaches here. */
        name = norm[0] != '\0' ? req_printf(req, "%s%s", path, index_name) : index_name;
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

/* Does the path name a directory, as "dir/", "dir/." and "dir/.." do? Then
 * the normalised path keeps a trailing slash (RFC 3986 §5.2.4 leaves one). */
static bool
names_directory(const char *path, size_t len)
{
    size_t k = len;

    while (k > 0 && path[k - 1] != '/')
        k--;
    path += k;
    len -= k;
    return len == 0 || (len == 1 && path[0] == '.') ||
           (len == 2 && path[0] == '.' && path[1] == '.');
}

/* A dotfile: a segment of the (normalised) path starting with a dot, as
 * .git/config, .env or .htpasswd do. .well-known is not one: RFC 8615 puts
 * ACME challenges, security.txt and the like there. */
static bool
is_hidden(const char *path)
{
    const char *p = path;

    while (*p != '\0') {
        const char *end = strchrnul(p, '/');

        if (p[0] == '.' && !(end - p == 11 && memcmp(p, ".well-known", 11) == 0))
            return true;
        p = *end == '/' ? end + 1 : end;
    }
    return false;
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
    static const hornet_header_t vary = {"vary", 4, "Accept-Encoding", 15};
    hornet_header_t h[MAX_HEADERS];
    hn_static_range_t ranges[HN_STATIC_RANGE_MAX];
    char date[HN_HTTP_DATE_LEN + 1];
    const char *etag, *type = content_type(name);
    bool head = is_head(s);
    rep_t rep = {.fd = fd, .st = *st};
    uint64_t size;
    hn_static_range_result_t rr = HN_STATIC_RANGE_NONE;
    size_t n = 0, n_ranges = 0, n_vary;
    int status = 200;

    choose_representation(req, s, name, &rep);
    size = (uint64_t)rep.st.st_size;
    n_vary = rep.varies ? 1 : 0;

    /* Like nginx: mtime and size in hex. Honest as a strong validator as long
     * as files are replaced within the same second only with a size change.
     * A sibling's tag names its coding, so that no two representations
     * share one even when sizes and times coincide. */
    etag = rep.coding == NULL
               ? req_printf(req, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)rep.st.st_mtime, size)
               : req_printf(req, "\"%" PRIx64 "-%" PRIx64 "-%s\"", (uint64_t)rep.st.st_mtime, size,
                            rep.suffix);
    hn_headers_format_date(rep.st.st_mtime, date);

    if (precondition_failed(s, &rep.st, etag)) {
        close(rep.fd);
        respond_error(req, s, 412, &vary, n_vary);
        return;
    }
    h[n++] = header("etag", etag);
    h[n++] = header("last-modified", req_strndup(req, date, HN_HTTP_DATE_LEN));
    if (rep.varies)
        h[n++] = vary; /* on a 304 too (RFC 9110 §15.4.5) */

    if (not_modified(s, &rep.st, etag)) {
        close(rep.fd);
        /* No content-length: a 304 has no body, and the server frames it so. */
        if (api->response_start(req, 304, h, n, false) == HORNET_OK)
            api->response_body(req, NULL, 0, false);
        return;
    }

    /* RFC 9110 §14.2: range handling is defined for GET only. */
    if (!head)
        rr = parse_range(s, size, etag, rep.st.st_mtime, ranges, &n_ranges);
    if (rr == HN_STATIC_RANGE_UNSATISFIABLE) {
        hornet_header_t extra[2] = {
            header("content-range", req_printf(req, "bytes */%" PRIu64, size)), vary};

        close(rep.fd);
        respond_error(req, s, 416, extra, 1 + n_vary);
        return;
    }
    if (rr == HN_STATIC_RANGE_OK && n_ranges > 1) {
        /* Content-Encoding beside multipart/byteranges would say the
         * multipart document is compressed, not the parts: send the whole
         * sibling instead, as §14.2 allows. */
        if (rep.coding == NULL && send_multipart(req, rep.fd, ranges, n_ranges, size, type, h, n))
            return;
        rr = HN_STATIC_RANGE_NONE;
    }
    h[n++] = header("content-type", type);
    if (rep.coding != NULL)
        h[n++] = header("content-encoding", rep.coding);
    h[n++] = header("accept-ranges", "bytes");
    if (rr == HN_STATIC_RANGE_OK) {
        status = 206;
        h[n++] = header("content-range",
                        req_printf(req, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, ranges[0].start,
                                   ranges[0].start + ranges[0].len - 1, size));
    } else {
        ranges[0].start = 0;
        ranges[0].len = size;
    }
    h[n++] = header("content-length", req_printf(req, "%" PRIu64, ranges[0].len));

    if (api->response_start(req, status, h, n, false) != HORNET_OK) {
        close(rep.fd);
        return;
    }
    if (head || ranges[0].len == 0) {
        close(rep.fd);
        api->response_body(req, NULL, 0, false);
        return;
    }
    /* The fd is the server's now, sent or not; an error only means the
     * client is gone, and on_disconnect has nothing of ours to free. */
    (void)api->response_file(req, rep.fd, (off_t)ranges[0].start, (size_t)ranges[0].len, false);
}

/* Swap the file in rep for the precompressed sibling the request weighs
 * highest (file.br, file.gz), if one beats the file as it is; and note in
 * rep->varies whether any sibling exists, since then every answer for this
 * file depends on Accept-Encoding, even one that was not compressed. Like
 * nginx's gzip_static, the sibling must be a regular file; unlike it, not
 * older than the file (to the second): an older one was left behind when
 * the file was updated, and would serve what the file used to be. Siblings
 * are opened as the file is, so one that is a symlink out of the root does
 * not exist. */
static void
choose_representation(hornet_request_t *req, const hornet_scope_t *s, const char *name, rep_t *rep)
{
    int q[HN_STATIC_ENCODING_COUNT], best;
    time_t mtime = rep->st.st_mtime;
    size_t i;

    if (!use_precompressed)
        return;
    hn_static_encoding_weigh(s->headers, s->n_headers, q);
    best = q[HN_STATIC_ENCODING_IDENTITY];
    for (i = 0; i < HN_ARRAY_LEN(siblings); i++) {
        int w = q[siblings[i].coding], fd;
        struct stat st;

        if (w == 0 && rep->varies)
            continue; /* not wanted, and Vary is settled: no need to look */
        if (open_stat(req_printf(req, "%s.%s", name, siblings[i].suffix), &fd, &st) != 0)
            continue;
        if (!S_ISREG(st.st_mode) || st.st_mtime < mtime) {
            close(fd);
            continue;
        }
        rep->varies = true;
        /* Between equal weights the earlier sibling wins, and any sibling
         * wins over the file as it is: that is what the siblings are for. */
        if (w > 0 && (w > best || (w == best && rep->coding == NULL))) {
            close(rep->fd);
            rep->fd = fd;
            rep->st = st;
            rep->coding = siblings[i].name;
            rep->suffix = siblings[i].suffix;
            best = w;
        } else {
            close(fd);
        }
    }
}

/* 206 with a multipart/byteranges body (RFC 9110 §14.6): for each range a
 * head from static_range.c, then the range itself straight from the file.
 * response_file takes the fd it is given, so every part but the last sends
 * a duplicate. False, with nothing sent and fd still the caller's, when
 * there are no fds for the duplicates. */
static bool
send_multipart(hornet_request_t *req, int fd, const hn_static_range_t *r, size_t n, uint64_t size,
               const char *type, hornet_header_t *h, size_t n_h)
{
    char boundary[HN_STATIC_RANGE_BOUNDARY_LEN + 1];
    char **heads = api->alloc(req, (n + 1) * sizeof(*heads)); /* the parts', then the tail */
    size_t *lens = api->alloc(req, (n + 1) * sizeof(*lens));
    int fds[HN_STATIC_RANGE_MAX];
    uint64_t total = 0;
    size_t i;

    for (i = 0; i + 1 < n; i++) {
        fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (fds[i] == -1) {
            api->log(HORNET_LOG_WARNING,
                     "static: no fd for a part of a %zu-range answer (%s); "
                     "sending the whole file",
                     n, strerror(errno));
            while (i > 0)
                close(fds[--i]);
            return false;
        }
    }
    fds[n - 1] = fd;

    hn_static_range_boundary(boundary);
    for (i = 0; i < n; i++) {
        lens[i] = hn_static_range_part_head(NULL, 0, boundary, type, &r[i], size, i == 0);
        heads[i] = api->alloc(req, lens[i] + 1);
        hn_static_range_part_head(heads[i], lens[i] + 1, boundary, type, &r[i], size, i == 0);
        total += lens[i] + r[i].len;
    }
    lens[n] = hn_static_range_tail(NULL, 0, boundary);
    heads[n] = api->alloc(req, lens[n] + 1);
    hn_static_range_tail(heads[n], lens[n] + 1, boundary);
    total += lens[n];
    h[n_h++] =
        header("content-type", req_printf(req, "multipart/byteranges; boundary=%s", boundary));
    h[n_h++] = header("accept-ranges", "bytes");
    h[n_h++] = header("content-length", req_printf(req, "%" PRIu64, total));

    i = 0;
    if (api->response_start(req, 206, h, n_h, false) == HORNET_OK) {
        for (; i < n; i++) {
            int part_fd = fds[i];

            fds[i] = -1; /* response_file takes it, sent or not */
            if (api->response_body(req, heads[i], lens[i], true) != HORNET_OK) {
                close(part_fd);
                break;
            }
            if (api->response_file(req, part_fd, (off_t)r[i].start, (size_t)r[i].len, true) !=
                HORNET_OK)
                break;
        }
        if (i == n)
            api->response_body(req, heads[n], lens[n], false);
    }
    /* The client is gone: what was not handed over is still ours. */
    for (; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return true;
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

/* The Range header, honoured only if If-Range (when present) still holds;
 * static_range.c reads it. */
static hn_static_range_result_t
parse_range(const hornet_scope_t *s, uint64_t size, const char *etag, time_t mtime,
            hn_static_range_t *out, size_t *n)
{
    const hornet_header_t *h = find_header(s, "range");
    const hornet_header_t *ifr;

    if (h == NULL)
        return HN_STATIC_RANGE_NONE;
    ifr = find_header(s, "if-range");
    if (ifr != NULL) {
        /* An entity tag must match strongly; a date must be exactly our
         * Last-Modified (§13.1.5). Otherwise send the whole, current file. */
        /* "W/" opens a weak tag; a bare W opens a date ("Wed, ...") */
        if (ifr->value_len > 0 && (ifr->value[0] == '"' ||
                                   (ifr->value_len > 1 && ifr->value[0] == 'W' &&
                                    ifr->value[1] == '/'))) {
            if (ifr->value_len != strlen(etag) || memcmp(ifr->value, etag, ifr->value_len) != 0)
                return HN_STATIC_RANGE_NONE;
        } else if (hn_headers_parse_date(ifr->value, ifr->value_len) != mtime) {
            return HN_STATIC_RANGE_NONE;
        }
    }
    return hn_static_range_parse(h->value, h->value_len, size, out, n);
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
