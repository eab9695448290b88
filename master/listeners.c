/*
 * listeners.c - binding (see listeners.h). Sockets are created
 * close-on-exec and non-blocking; listen() is called here, in the master,
 * so connections queue in the backlog before any worker is up.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/listeners.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/migrate.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "shared/mem.h"

static int
tcp_socket(const hn_addr_t *a, int backlog, bool reuseport, hn_err_t *err)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        hn_err_set(err, errno, "%s: socket: %s", a->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        hn_err_set(err, errno, "%s: SO_REUSEPORT: %s", a->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (a->sa.ss_family == AF_INET6) /* [::] means IPv6 only, as in nginx */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    /* inherited by accepted sockets: responses leave without Nagle's delay */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->sa, a->sa_len) < 0) {
        hn_err_set(err, errno, "%s: bind: %s", a->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (backlog > 0 && listen(fd, backlog) < 0) {
        hn_err_set(err, errno, "%s: listen: %s", a->text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* A new reuseport group: what a closing slot socket has queued moves to
 * the others (migrate.h). Said once when the kernel will not, unless the
 * sysctl does it for every group. */
static void
enable_migration(int fd)
{
    static bool warned;
    if (hn_migrate_enable(fd) || warned)
        return;
    warned = true;
    char v = '0';
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "re");
    if (f) {
        v = (char)fgetc(f);
        fclose(f);
    }
    if (v != '1')
        hn_log(HN_LOG_INFO, "cannot attach the reuseport migration program (it needs CAP_BPF): "
               "connections queued on a worker slot's socket when it closes are reset; "
               "sysctl net.ipv4.tcp_migrate_req=1 keeps them");
}

/* One SO_REUSEPORT socket per slot. Slots that the open socket set had
 * (prev, may be NULL) keep their descriptors; new slots join the group. */
static int
open_tcp(hn_listen_item_t *it, const hn_listen_item_t *prev, int backlog, unsigned n_slots,
         hn_err_t *err)
{
    hn_addr_t *a = &it->addr;
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;
    bool port0 = (a->sa.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port) == 0;
    if (prev) {
        /* the port the kernel chose for a configured port 0 stays */
        *a = prev->addr;
        port0 = false;
    } else if (!port0) {
        /* A socket without SO_REUSEPORT first: it fails if anyone holds the
         * address, even another server's reuseport group we would otherwise
         * silently join and share connections with. */
        int probe = tcp_socket(a, 0, false, err);
        if (probe < 0)
            return HN_ERR;
        close(probe);
    }
    it->per_slot = true;
    it->n_fds = n_slots;
    it->fds = hn_xmalloc(n_slots * sizeof(int));
    for (unsigned i = 0; i < n_slots; i++)
        it->fds[i] = -1;
    for (unsigned i = 0; i < n_slots; i++) {
        if (prev && i < prev->n_fds) {
            it->fds[i] = prev->fds[i];
            /* a changed backlog applies to the socket in place */
            listen(it->fds[i], backlog);
            continue;
        }
        it->fds[i] = tcp_socket(a, backlog, true, err);
        if (it->fds[i] < 0)
            return HN_ERR;
        if (prev == NULL && i == 0)
            enable_migration(it->fds[0]);
        if (port0 && i == 0) {
            /* port 0: every slot must share the port the kernel chose */
            socklen_t len = sizeof(a->sa);
            getsockname(it->fds[0], (struct sockaddr *)&a->sa, &len);
            hn_addr_format_sa((struct sockaddr *)&a->sa, len, a->text, sizeof(a->text));
        }
    }
    return HN_OK;
}

/* A unix socket or fd://N: one socket every worker accepts on. */
static void
set_shared(hn_listen_item_t *it, int fd)
{
    it->per_slot = false;
    it->n_fds = 1;
    it->fds = hn_xmalloc(sizeof(int));
    it->fds[0] = fd;
}

static int
open_unix(hn_listen_item_t *it, const hn_config_t *cfg, hn_err_t *err)
{
    hn_addr_t *a = &it->addr;
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        hn_err_set(err, errno, "%s: socket: %s", a->text, strerror(errno));
        return HN_ERR;
    }
    struct stat st;
    if (sun->sun_path[0] != '\0' && lstat(sun->sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            hn_err_set(err, EEXIST, "%s: exists and is not a socket", a->text);
            close(fd);
            return HN_ERR;
        }
        /* a socket file: stale if nobody answers on it */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)sun, a->sa_len) == 0) {
            close(probe);
            close(fd);
            hn_err_set(err, EADDRINUSE, "%s: bind: %s (a server is listening on it)", a->text,
                       strerror(EADDRINUSE));
            return HN_ERR;
        }
        if (probe >= 0)
            close(probe);
        unlink(sun->sun_path);
    }
    if (bind(fd, (struct sockaddr *)sun, a->sa_len) < 0) {
        hn_err_set(err, errno, "%s: bind: %s", a->text, strerror(errno));
        close(fd);
        return HN_ERR;
    }
    it->unlink_on_close = sun->sun_path[0] != '\0';
    if (listen(fd, cfg->backlog) < 0) {
        hn_err_set(err, errno, "%s: listen: %s", a->text, strerror(errno));
        close(fd);
        return HN_ERR;
    }
    set_shared(it, fd);
    return HN_OK;
}

static int
open_fd(hn_listen_item_t *it, const hn_config_t *cfg, hn_err_t *err)
{
    int fd = it->addr.fd;
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        hn_err_set(err, EBADF, "%s: not a stream socket", it->addr.text);
        return HN_ERR;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* harmless if the socket already listens; needed if it was only bound */
    if (listen(fd, cfg->backlog) < 0) {
        hn_err_set(err, errno, "%s: listen: %s", it->addr.text, strerror(errno));
        return HN_ERR;
    }
    set_shared(it, fd);
    return HN_OK;
}

/* Whether fd is one of keep's descriptors. */
static bool
holds_fd(const hn_listeners_t *keep, int fd)
{
    for (size_t i = 0; keep && i < keep->n; i++)
        for (size_t k = 0; k < keep->items[i].n_fds; k++)
            if (keep->items[i].fds[k] == fd)
                return true;
    return false;
}

const hn_listen_item_t *
hn_listeners_find(const hn_listeners_t *ls, const hn_addr_t *conf)
{
    for (size_t i = 0; ls && i < ls->n; i++)
        if (hn_addr_equal(&ls->items[i].conf, conf))
            return &ls->items[i];
    return NULL;
}

/* One configured address: its sockets, kept from cur or bound now. */
static int
derive_item(hn_listen_item_t *it, const hn_addr_t *conf, const hn_listeners_t *cur,
            const hn_config_t *cfg, unsigned n_slots, hn_err_t *err)
{
    it->conf = it->addr = *conf;
    const hn_listen_item_t *prev = hn_listeners_find(cur, &it->conf);
    if (it->addr.kind == HN_ADDR_TCP)
        return open_tcp(it, prev, cfg->backlog, n_slots, err);
    if (prev) {
        it->addr = prev->addr;
        it->unlink_on_close = prev->unlink_on_close;
        set_shared(it, prev->fds[0]);
        listen(prev->fds[0], cfg->backlog);
        return HN_OK;
    }
    if (it->addr.kind == HN_ADDR_UNIX)
        return open_unix(it, cfg, err);
    return open_fd(it, cfg, err);
}

int
hn_listeners_derive(hn_listeners_t *next, const hn_listeners_t *cur, const hn_config_t *cfg,
                    unsigned n_slots, hn_err_t *err)
{
    size_t total = cfg->n_bind + cfg->n_insecure_bind;
    next->n = 0;
    next->items = hn_xcalloc(total ? total : 1, sizeof(*next->items));
    for (size_t i = 0; i < total; i++) {
        bool secure = i < cfg->n_bind;
        const hn_addr_t *conf = secure ? &cfg->bind[i] : &cfg->insecure_bind[i - cfg->n_bind];
        hn_listen_item_t *it = &next->items[i];
        next->n = i + 1;
        it->tls = secure && cfg->certfile != NULL;
        /* from cfg, never from a kept socket: a reload may move it */
        it->proxy_protocol = hn_cfg_has_proxy_protocol(cfg, conf);
        if (derive_item(it, conf, cur, cfg, n_slots, err) != HN_OK) {
            hn_listeners_close_keeping(next, cur);
            return HN_ERR;
        }
    }
    return HN_OK;
}

int
hn_listeners_open(hn_listeners_t *ls, const hn_config_t *cfg, unsigned n_slots, hn_err_t *err)
{
    return hn_listeners_derive(ls, NULL, cfg, n_slots, err);
}

void
hn_listeners_close_fds(const hn_listeners_t *ls, const hn_listeners_t *keep)
{
    for (size_t i = 0; ls && i < ls->n; i++) {
        const hn_listen_item_t *it = &ls->items[i];
        for (size_t k = 0; k < it->n_fds; k++)
            if (it->fds && it->fds[k] >= 0 && !holds_fd(keep, it->fds[k]))
                close(it->fds[k]);
    }
}

void
hn_listeners_close_keeping(hn_listeners_t *ls, const hn_listeners_t *keep)
{
    hn_listeners_close_fds(ls, keep);
    for (size_t i = 0; i < ls->n; i++) {
        hn_listen_item_t *it = &ls->items[i];
        if (it->unlink_on_close && !hn_listeners_find(keep, &it->conf))
            unlink(((struct sockaddr_un *)&it->addr.sa)->sun_path);
        free(it->fds);
    }
    free(ls->items);
    ls->items = NULL;
    ls->n = 0;
}

void
hn_listeners_close(hn_listeners_t *ls)
{
    hn_listeners_close_keeping(ls, NULL);
}

void
hn_listeners_url(const hn_listen_item_t *it, char *buf, size_t size)
{
    if (it->addr.kind == HN_ADDR_TCP)
        snprintf(buf, size, "%s://%s", it->tls ? "https" : "http", it->addr.text);
    else
        snprintf(buf, size, "%s", it->addr.text);
}
