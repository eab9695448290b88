/*
 * fuzz_h1.c - the HTTP/1.1 request path on arbitrary client bytes: bytes in,
 * responses out, no network.
 *
 * Why a real connection over a socketpair rather than h1 alone behind a
 * fake transport: h1.c reaches past hn_transport_t into the connection
 * (hn_conn_of(transport) for its timer, the peer and local addresses), the
 * timer needs the loop conn.c keeps, and what an h1 callback hands back to
 * the transport only leaves in conn.c's flush pass. A fake would have to
 * re-implement conn.c and tcp.c, and would fuzz the fake. So one process
 * runs what a worker runs for one client, minus accept() and the master:
 *
 *   client end of a socketpair --> tcp.c --> conn.c (sniff) --> h1.c
 *     --> request.c --> bridge.c --> builtin:echo (and ws.c, ws_codec.c
 *         after a WebSocket 101; h2.c after a prior-knowledge preface or
 *         Upgrade: h2c; builtin:hello under /hello, builtin:static under
 *         /static)
 *
 * on one libev loop, with an ev_prepare that is worker.c's flush pass. The
 * worker.c functions the connection layers call (hn_worker_config,
 * hn_worker_app, ...) are defined at the bottom of this file instead of
 * linking worker.c, whose state only hn_worker_main sets up, and that
 * function takes the whole process (signals, the shared-memory record, a
 * loop that ends in _exit). The access log is on
 * (to /dev/null, with every atom) and so is the error log at debug level,
 * so their formatting of client bytes is fuzzed too.
 *
 * Input: byte 0 is a set of switches, the rest is what the client sends.
 *   bit 0      drain the worker (as SIGTERM does) once half the bytes are in
 *   bit 1      fire the connection's timer after the last byte (the idle,
 *              request head, read or linger deadline, whichever is armed)
 *   bit 2      end with EOF from the client; otherwise the connection is
 *              killed as graceful_timeout does
 *   bit 3      a slow client: the server's socket buffer is small and the
 *              client reads at most SLOW_READ bytes per loop iteration, so
 *              writes block, the write queue grows, and past its high
 *              watermark the protocol and the app are paused, then resumed
 *   bits 4-7   seed for the sizes of the writes, so a request arrives split
 *              at different places
 * Each write is delivered and answered (the loop runs until it is quiet)
 * before the next one.
 *
 * With HN_FUZZ_VERBOSE set in the environment, what the server wrote is
 * copied to stderr (for triage: run the replay test on one file).
 *
 * Checked, beyond "no crash, leak or hang": once killed or closed, nothing
 * of the connection is left; the first bytes of an HTTP/1.x connection's
 * output are a status line; and no response carries the contents of a
 * file outside static_root (a sibling of the root, also reachable by a
 * symlink inside it).
 */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include/hornet/app.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "worker/access_log.h"
#include "worker/accept.h"
#include "worker/app.h"
#include "worker/bridge.h"
#include "worker/conn.h"
#include "worker/lifespan.h"
#include "worker/timer.h"
#include "worker/worker.h"

#define SECRET_LEN 32
#define OUT_MAX (4u << 20) /* output kept for the checks */
#define SLOW_READ 2048      /* bytes a slow client reads per loop iteration */
#define HASH_MUL 1099511628211u

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct ev_loop *loop;
static hn_config_t *cfg;
static bool draining;
static ev_prepare flush_watcher;
static hn_listener_t listener;
static char tmpdir[64];

static char *out;
static size_t out_len;
static size_t read_limit; /* per read_output call */

/* The contents of the file outside static_root: random for each process,
 * and looked for by hash, so neither the corpus nor libFuzzer's comparison
 * hooks can hand it to builtin:echo, which would reflect it. */
static char secret[SECRET_LEN + 1];
static uint64_t secret_hash, secret_pow; /* pow: the weight of a window's first byte */

static void
die(const char *what)
{
    fprintf(stderr, "fuzz_h1: %s\n", what);
    abort();
}

/* --- the process: a worker's state, built once --------------------------- */

/* worker.c's on_prepare: write out, tell apps about ended requests, again
 * until both are quiet; then the access log. */
static void
on_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
    (void)w;
    (void)revents;
    do
        hn_conn_flush_all(l);
    while (hn_bridge_flush() > 0);
    hn_access_log_flush();
}

static void
put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write the static files");
}

static void
remove_tmpdir(void)
{
    static const char *const files[] = {
        "root/index.html", "root/a.txt", "root/d/b.txt", "root/link",
        "root/d",          "root",       "secret.txt",   ""};
    char path[128];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
}

/* static_root with a few files, and a secret beside it that must never be
 * served: reached by ".." or by root/link, a symlink to it. */
static void
make_static_root(char *root, size_t size)
{
    char path[128];
    snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/hornet-fuzz-h1.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        die("mkdtemp failed");
    atexit(remove_tmpdir);
    uint8_t rnd[SECRET_LEN / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        die("getrandom failed");
    secret_pow = 1;
    for (size_t i = 0; i < SECRET_LEN; i++) {
        secret[i] = "0123456789abcdef"[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
        secret_hash = secret_hash * HASH_MUL + (uint8_t)secret[i];
        if (i)
            secret_pow *= HASH_MUL;
    }
    snprintf(path, sizeof(path), "%s/secret.txt", tmpdir);
    put_file(path, secret);
    snprintf(root, size, "%s/root", tmpdir);
    snprintf(path, sizeof(path), "%s/root/d", tmpdir);
    if (mkdir(root, 0755) != 0 || mkdir(path, 0755) != 0)
        die("cannot make static_root");
    snprintf(path, sizeof(path), "%s/root/index.html", tmpdir);
    put_file(path, "<p>index</p>\n");
    snprintf(path, sizeof(path), "%s/root/a.txt", tmpdir);
    put_file(path, "a text file, 0123456789 0123456789 0123456789\n");
    snprintf(path, sizeof(path), "%s/root/d/b.txt", tmpdir);
    put_file(path, "b\n");
    snprintf(path, sizeof(path), "%s/root/link", tmpdir);
    if (symlink("../secret.txt", path) != 0)
        die("cannot make the symlink");
}

static void
setup(void)
{
    char root[96];
    hn_err_t err;

    signal(SIGPIPE, SIG_IGN); /* as the master leaves it for its workers */
    make_static_root(root, sizeof(root));
    /* limits small enough that short inputs reach 413, 421, 431 and 1009 */
    const char *const settings[][2] = {
        {"application_path", "builtin:echo"},
        {"mount", "/hello=builtin:hello"},
        {"mount", "/static=builtin:static"},
        {"static_root", root},
        {"root_path", "/root"},
        {"server_names", "a"},
        {"server_names", "*.example.com"},
        {"h11_max_incomplete_size", "2KiB"},
        {"max_header_field_size", "1KiB"},
        {"max_header_count", "16"},
        {"max_body_size", "8KiB"},
        {"keep_alive_max_requests", "8"},
        {"read_timeout", "30s"},
        {"websocket_max_message_size", "1KiB"},
        {"accesslog", "/dev/null"},
        {"access_log_format",
         "%(h)s %(l)s %(t)s \"%(r)s\" \"%(R)s\" %(m)s %(U)s %(Uq)s %(q)s %(H)s %(s)s %(st)s "
         "%(S)s %(b)s %(B)s \"%(f)s\" \"%(a)s\" %(T)s %(D)s %(L)s %({host}i)s "
         "%({content-type}o)s %(U)-12.5s %(s)5d %(p)s %({HOME}e)s %(nothing)s"},
    };
    cfg = hn_cfg_new();
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (hn_cfg_set(cfg, settings[i][0], settings[i][1], "fuzz_h1", &err) != HN_OK)
            die(err.msg);
    if (hn_cfg_finish(cfg, &err) != HN_OK)
        die(err.msg);

    hn_log_set_role("worker 0");
    if (hn_log_open("/dev/null", &err) != HN_OK)
        die(err.msg);
    hn_log_level = HN_LOG_DEBUG;

    loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (loop == NULL)
        die("cannot create the loop");
    if (hn_access_log_open(cfg, hn_log_open_file("accesslog", cfg->accesslog, &err), &err) !=
        HN_OK)
        die(err.msg);
    hn_timer_set_loop(loop);
    if (hn_bridge_open(loop, cfg, &err) != HN_OK ||
        hn_lifespan_run(loop, HORNET_LIFESPAN_STARTUP, cfg->startup_timeout, &err) != HN_OK)
        die(err.msg);
    ev_prepare_init(&flush_watcher, on_prepare);
    ev_prepare_start(loop, &flush_watcher);

    listener.fd = -1;
    snprintf(listener.text, sizeof(listener.text), "127.0.0.1:8000");
    snprintf(listener.host, sizeof(listener.host), "127.0.0.1");
    listener.port = 8000;

    out = malloc(OUT_MAX);
    if (out == NULL)
        abort();
}

/* --- one client ----------------------------------------------------------- */

/* Read what the server wrote so far; returns how many bytes. */
static size_t
read_output(int fd)
{
    size_t total = 0;
    char buf[16384];
    while (total < read_limit) {
        ssize_t n = recv(fd, buf, HN_MIN(sizeof(buf), read_limit - total), MSG_DONTWAIT);
        if (n <= 0)
            break;
        size_t keep = HN_MIN((size_t)n, OUT_MAX - out_len);
        memcpy(out + out_len, buf, keep);
        out_len += keep;
        total += (size_t)n;
    }
    return total;
}

static int
unread_input(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) != 0)
        return -1;
    return n;
}

/* Run the loop until the connection is gone or quiet: no output, no
 * change in what it has not read yet, nothing queued for the flush pass,
 * twice in a row. Bounded: a connection that never settles is a bug. */
static void
pump(hn_conn_t *c, int server_fd, int client_fd)
{
    int quiet = 0, unread = -2;
    for (int i = 0; i < 256 && quiet < 2; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        size_t got = read_output(client_fd);
        if (hn_conn_count() == 0)
            return;
        int now = unread_input(server_fd);
        quiet = got == 0 && now == unread && !c->is_pending ? quiet + 1 : 0;
        unread = now;
    }
}

/* Send one piece, letting the server read when the socket buffer is full.
 * false: the server closed its end. */
static bool
send_piece(hn_conn_t *c, int server_fd, int client_fd, const uint8_t *p, size_t n)
{
    for (int tries = 0; n > 0 && tries < 64; tries++) {
        ssize_t w = send(client_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            tries = 0;
        }
        if (hn_conn_count() == 0)
            return false;
        pump(c, server_fd, client_fd);
    }
    return n == 0; /* not read for 64 rounds: the server stopped reading */
}

static uint32_t
next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Does the output hold the secret? Rabin-Karp over every window. */
static bool
has_secret(void)
{
    uint64_t h = 0;
    if (out_len < SECRET_LEN)
        return false;
    for (size_t i = 0; i < out_len; i++) {
        if (i >= SECRET_LEN)
            h -= secret_pow * (uint8_t)out[i - SECRET_LEN];
        h = h * HASH_MUL + (uint8_t)out[i];
        if (i + 1 >= SECRET_LEN && h == secret_hash &&
            memcmp(out + i + 1 - SECRET_LEN, secret, SECRET_LEN) == 0)
            return true;
    }
    return false;
}

static void
check_output(const uint8_t *in, size_t in_len)
{
    if (has_secret())
        die("a file outside static_root was served");
    bool h2 =
        in_len >= sizeof(h2_preface) - 1 && memcmp(in, h2_preface, sizeof(h2_preface) - 1) == 0;
    if (!h2 && out_len > 0 && (out_len < 9 || memcmp(out, "HTTP/1.1 ", 9) != 0)) {
        fprintf(stderr, "fuzz_h1: output starts with \"%.*s\"\n", (int)HN_MIN(out_len, 64), out);
        die("the first bytes of an HTTP/1.x connection are not a status line");
    }
}

int
HN_FUZZ_ENTRY(h1)(const uint8_t *data, size_t size)
{
    if (loop == NULL)
        setup();
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *in = data + 1;
    size_t in_len = size - 1;
    uint32_t rnd = 0x2545f491u ^ (uint32_t)(flags >> 4);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair failed");
    struct sockaddr_in peer = {
        .sin_family = AF_INET, .sin_port = htons(40000), .sin_addr.s_addr = htonl(0x7f000001)};
    out_len = 0;
    draining = false;
    read_limit = SIZE_MAX;
    if (flags & 8) {
        int sndbuf = 4096; /* the kernel's floor is about this */
        if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0)
            die("SO_SNDBUF failed");
        read_limit = SLOW_READ;
    }
    hn_conn_t *c =
        hn_conn_open(loop, sv[0], &listener, (const struct sockaddr *)&peer, sizeof(peer));
    pump(c, sv[0], sv[1]);

    size_t off = 0;
    bool open = true;
    while (open && off < in_len && hn_conn_count() > 0) {
        size_t left = in_len - off, n;
        uint32_t r = next_rand(&rnd);
        switch (r & 3) {
        case 0:
            n = left;
            break;
        case 1:
            n = 1 + (r >> 8) % 4;
            break;
        default:
            n = 1 + (r >> 8) % 512;
            break;
        }
        n = HN_MIN(n, left);
        if ((flags & 1) && !draining && off + n >= in_len / 2) {
            draining = true;
            hn_conn_drain_all();
        }
        open = send_piece(c, sv[0], sv[1], in + off, n);
        off += n;
    }
    if ((flags & 2) && hn_conn_count() > 0) {
        ev_feed_event(loop, &c->timer, EV_TIMER);
        pump(c, sv[0], sv[1]);
    }
    if ((flags & 4) && hn_conn_count() > 0) {
        shutdown(sv[1], SHUT_WR);
        pump(c, sv[0], sv[1]);
    }
    if (hn_conn_count() > 0) {
        hn_conn_kill_all(loop);
        ev_run(loop, EVRUN_NOWAIT); /* the flush pass tells the apps */
    }
    read_limit = SIZE_MAX;
    read_output(sv[1]);
    if (hn_conn_count() != 0)
        die("a connection survived hn_conn_kill_all");
    close(sv[1]);
    draining = false;
    if (getenv("HN_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_h1: %zu bytes out:\n%.*s\n", out_len, (int)out_len, out);
    check_output(in, in_len);
    return 0;
}

/* --- worker.c's side, for the connection layers -------------------------- */

const hn_config_t *
hn_worker_config(void)
{
    return cfg;
}

const hn_app_t *
hn_worker_app(void)
{
    return &hn_bridge_app;
}

bool
hn_worker_is_draining(void)
{
    return draining;
}

void
hn_worker_conn_closed(void)
{
}

void
hn_worker_request_done(void)
{
}
