/* wsload.c - a small WebSocket load client for bench/wsbench.sh.
 *
 * One thread, epoll, non-blocking sockets, libc only (SHA-1 and base64 for
 * the handshake are here). Opens C connections to ws://HOST:PORT/PATH with an
 * HTTP/1.1 handshake (random Sec-WebSocket-Key, Sec-WebSocket-Accept
 * checked, no extension offered), then:
 *
 *   echo       every connection sends a masked message of S bytes and waits
 *              for its echo (compared byte for byte) before sending the next;
 *              a warm-up of W seconds, then D measured seconds. Prints
 *              round trips/s and round-trip latency p50/p99/max.
 *   broadcast  for a chat server that sends every message to every client,
 *              sender included. Connection 0 sends M messages of S bytes,
 *              keeping at most W outstanding (sent minus the copies it got
 *              back itself); every connection checks that it receives every
 *              message, in order (with -d, sending stops after D seconds
 *              and every client must get what was sent). Prints
 *              deliveries/s (messages received, summed over the clients,
 *              per second). Before the measured
 *              part, probe messages are sent until every client has seen
 *              one, so that the server has registered all of them.
 *
 * With -x PID[,PID...] the utime+stime of those processes (the server) is
 * read from /proc at the start and the end of the measured part, so server
 * CPU per message covers neither the handshakes nor the warm-up.
 *
 * The last line of output is machine-readable: "result key=value ...".
 * Exit status: 0 on success, 1 on usage/setup errors, 2 when the server
 * misbehaved (wrong data, lost messages, unexpected close, timeouts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- utils */

static const char *progname = "wsload";

static void
fatal(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        fatal(1, "out of memory");
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t
rng32(void)
{
    /* xorshift64*: masking keys only need to vary, not to be secret */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* ---------------------------------------------------------------- SHA-1 */

static uint32_t
rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        t = rol32(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol32(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void
sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *p = data;
    uint8_t block[64];
    size_t n = len;
    while (n >= 64) {
        sha1_block(h, p);
        p += 64, n -= 64;
    }
    memset(block, 0, sizeof block);
    memcpy(block, p, n);
    block[n] = 0x80;
    if (n >= 56) {
        sha1_block(h, block);
        memset(block, 0, sizeof block);
    }
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        block[63 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, block);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

static void
base64(const uint8_t *in, size_t len, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < len; i += 3) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *out++ = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        *out++ = tab[in[i + 2] & 63];
    }
    if (i + 1 == len) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[(in[i] & 3) << 4];
        *out++ = '=';
        *out++ = '=';
    } else if (i + 2 == len) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *out++ = tab[(in[i + 1] & 15) << 2];
        *out++ = '=';
    }
    *out = '\0';
}

/* ---------------------------------------------------------------- options */

enum mode { MODE_ECHO, MODE_BROADCAST };

static struct {
    enum mode mode;
    const char *host;
    int port;
    const char *path;
    int conns;
    size_t size;
    double duration;  /* echo: measured seconds; broadcast: most seconds of sending */
    bool duration_set;
    double warmup;    /* echo: seconds before measuring */
    long messages;    /* broadcast: M */
    int window;       /* broadcast: W */
    double timeout;   /* seconds without progress before giving up */
    bool binary;
    int npids;
    int pids[16];
} opt = {
    .host = "127.0.0.1",
    .path = "/",
    .conns = 50,
    .size = 64,
    .duration = 5,
    .warmup = 1,
    .messages = 2000,
    .window = 16,
    .timeout = 10,
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: wsload echo|broadcast -p PORT [options]\n"
            "  -h HOST      server address (127.0.0.1)\n"
            "  -p PORT      server port\n"
            "  -u PATH      request target (/)\n"
            "  -c N         connections (50)\n"
            "  -s BYTES     message size (64, at least 9)\n"
            "  -b           binary messages (default: text)\n"
            "  -d SECONDS   echo: measured duration (5);\n"
            "               broadcast: stop sending after this long (no limit)\n"
            "  -W SECONDS   echo: warm-up before measuring (1)\n"
            "  -m N         broadcast: messages to send (2000)\n"
            "  -w N         broadcast: most messages outstanding (16)\n"
            "  -t SECONDS   fail after this long without progress (10)\n"
            "  -x PID,...   server processes whose CPU time to measure\n");
    exit(1);
}

static double
parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        fatal(1, "bad %s: '%s'", what, s);
    return v;
}

static void
parse_args(int argc, char **argv)
{
    int c;
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "echo"))
        opt.mode = MODE_ECHO;
    else if (!strcmp(argv[1], "broadcast"))
        opt.mode = MODE_BROADCAST;
    else
        usage();
    optind = 2;
    while ((c = getopt(argc, argv, "h:p:u:c:s:bd:W:m:w:t:x:")) != -1) {
        switch (c) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = (int)parse_num(optarg, "port"); break;
        case 'u': opt.path = optarg; break;
        case 'c': opt.conns = (int)parse_num(optarg, "connections"); break;
        case 's': opt.size = (size_t)parse_num(optarg, "size"); break;
        case 'b': opt.binary = true; break;
        case 'd':
            opt.duration = parse_num(optarg, "duration");
            opt.duration_set = true;
            break;
        case 'W': opt.warmup = parse_num(optarg, "warm-up"); break;
        case 'm': opt.messages = (long)parse_num(optarg, "messages"); break;
        case 'w': opt.window = (int)parse_num(optarg, "window"); break;
        case 't': opt.timeout = parse_num(optarg, "timeout"); break;
        case 'x': {
            char *s = strdup(optarg), *tok, *save = NULL;
            for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (opt.npids == (int)(sizeof opt.pids / sizeof opt.pids[0]))
                    fatal(1, "too many pids");
                opt.pids[opt.npids++] = (int)parse_num(tok, "pid");
            }
            free(s);
            break;
        }
        default: usage();
        }
    }
    if (optind != argc || opt.port <= 0 || opt.port > 65535)
        usage();
    if (opt.conns < 1 || opt.size < 9 || opt.size > (64u << 20) || opt.window < 1 ||
        opt.messages < 1 || opt.duration <= 0)
        usage();
}

/* utime+stime in clock ticks, summed over -x pids. */
static long
server_ticks(void)
{
    long total = 0;
    for (int i = 0; i < opt.npids; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", opt.pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        if (!p)
            continue;
        /* after ") ": state(3) ... utime(14) stime(15) */
        unsigned long ut = 0, st = 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            total += (long)(ut + st);
    }
    return total;
}

static double
client_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- connections */

enum state { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };

struct conn {
    int fd;
    int id;
    enum state state;
    char key_accept[32]; /* the Sec-WebSocket-Accept we expect */
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
    bool want_out;
    /* reassembly of fragmented messages (servers here should not fragment,
     * but a client must accept it) */
    uint8_t *mbuf;
    size_t mlen, mcap;
    int mop; /* opcode of the message in progress, 0 = none */
    /* echo */
    uint64_t sent_at;
    uint32_t seq;
    bool waiting;
    /* broadcast */
    long received;  /* data messages received */
    long next;      /* sequence number expected next */
    long probes;    /* probe messages received */
};

static struct conn *conns;
static int epfd;
static uint8_t *tmpl;       /* payload template: S bytes */
static int failures;
static int closed_ok;

/* what the run is doing, shared by the event handlers */
static struct {
    bool measuring;
    bool stop_sending;  /* echo: past the measured window */
    uint64_t t_start, t_end;
    /* echo */
    uint64_t *lat;
    size_t nlat, caplat;
    long warm_msgs;
    /* broadcast */
    long sent;          /* data messages sent by conn 0 */
    long total_recv;    /* data messages received, all clients */
    int finished;       /* clients that received the last message */
    long target;        /* messages to send */
    bool probing;
    long probes_sent;
    int probe_seen;     /* clients that saw a probe */
    uint64_t last_progress;
    uint64_t t_last_recv;
} run;

static void
fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    if (failures++ < 20) {
        if (c)
            fprintf(stderr, "%s: FAIL: connection %d: ", progname, c->id);
        else
            fprintf(stderr, "%s: FAIL: ", progname);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

static void
set_events(struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_drop(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = ST_DONE;
}

static void
wbuf_reserve(struct conn *c, size_t more)
{
    if (c->woff && c->woff == c->wlen)
        c->woff = c->wlen = 0;
    if (c->wlen + more > c->wcap) {
        if (c->woff) {
            memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wlen + more > c->wcap) {
            c->wcap = (c->wlen + more) * 2;
            c->wbuf = xrealloc(c->wbuf, c->wcap);
        }
    }
}

/* Write what is buffered; arm EPOLLOUT when the kernel is full. */
static void
conn_flush(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                c->want_out = true;
                set_events(c);
            }
            return;
        }
        if (c->state != ST_CLOSING)
            fail(c, "send: %s", n < 0 ? strerror(errno) : "wrote nothing");
        conn_drop(c);
        return;
    }
    c->woff = c->wlen = 0;
    if (c->want_out) {
        c->want_out = false;
        set_events(c);
    }
}

/* Append one masked frame (FIN set) to the write buffer. */
static void
queue_frame(struct conn *c, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t *p;
    uint32_t key = rng32();
    uint8_t mask[4];
    wbuf_reserve(c, len + 14);
    p = c->wbuf + c->wlen;
    *p++ = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        *p++ = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        *p++ = 0x80 | 126;
        *p++ = (uint8_t)(len >> 8);
        *p++ = (uint8_t)len;
    } else {
        *p++ = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            *p++ = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(mask, &key, 4);
    memcpy(p, mask, 4);
    p += 4;
    /* XOR four bytes at a time where we can */
    size_t i = 0;
    if (len >= 8) {
        uint32_t m32;
        memcpy(&m32, mask, 4);
        for (; i + 4 <= len; i += 4) {
            uint32_t v;
            memcpy(&v, payload + i, 4);
            v ^= m32;
            memcpy(p + i, &v, 4);
        }
    }
    for (; i < len; i++)
        p[i] = payload[i] ^ mask[i & 3];
    p += len;
    c->wlen = (size_t)(p - c->wbuf);
}

/* Message payload: kind ('D' data, 'P' probe), 8 hex digits of sequence,
 * then the template. */
static uint8_t *msgbuf;

static const uint8_t *
make_payload(char kind, uint32_t seq)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(msgbuf, tmpl, opt.size);
    msgbuf[0] = (uint8_t)kind;
    for (int i = 0; i < 8; i++)
        msgbuf[1 + i] = (uint8_t)hex[(seq >> (28 - 4 * i)) & 15];
    return msgbuf;
}

static bool
parse_payload(const uint8_t *p, size_t len, char *kind, uint32_t *seq)
{
    uint32_t v = 0;
    if (len != opt.size)
        return false;
    for (int i = 0; i < 8; i++) {
        int ch = p[1 + i], d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else
            return false;
        v = v << 4 | (uint32_t)d;
    }
    if (memcmp(p + 9, tmpl + 9, len - 9) != 0)
        return false;
    *kind = (char)p[0];
    *seq = v;
    return true;
}

/* ---------------------------------------------------------------- modes */

static void
lat_add(uint64_t ns)
{
    if (run.nlat == run.caplat) {
        run.caplat = run.caplat ? run.caplat * 2 : 1 << 16;
        run.lat = xrealloc(run.lat, run.caplat * sizeof *run.lat);
    }
    run.lat[run.nlat++] = ns;
}

static void
echo_send(struct conn *c)
{
    if (run.stop_sending || c->state != ST_OPEN)
        return;
    const uint8_t *p = make_payload('D', c->seq);
    queue_frame(c, opt.binary ? 2 : 1, p, opt.size);
    c->sent_at = now_ns();
    c->waiting = true;
    conn_flush(c);
}

static void
echo_message(struct conn *c, const uint8_t *p, size_t len)
{
    char kind;
    uint32_t seq;
    uint64_t t = now_ns();
    if (!c->waiting) {
        fail(c, "unexpected message of %zu bytes (nothing outstanding)", len);
        return;
    }
    if (!parse_payload(p, len, &kind, &seq) || kind != 'D' || seq != c->seq) {
        fail(c, "echo does not match what was sent (%zu bytes, expected %zu, seq %u)", len,
             opt.size, c->seq);
        conn_drop(c);
        return;
    }
    c->waiting = false;
    c->seq++;
    if (run.measuring && c->sent_at >= run.t_start && t <= run.t_end)
        lat_add(t - c->sent_at);
    else if (!run.measuring)
        run.warm_msgs++;
    run.last_progress = t;
    echo_send(c);
}

/* The time limit is up: what was sent is what every client must get. */
static void
bcast_stop_sending(void)
{
    run.target = run.sent;
    run.finished = 0;
    for (int i = 0; i < opt.conns; i++)
        run.finished += conns[i].next == run.target;
}

static void
bcast_fill_window(void)
{
    struct conn *s = &conns[0];
    if (s->state != ST_OPEN || run.probing)
        return;
    bool queued = false;
    if (opt.duration_set && run.sent < run.target && now_ns() >= run.t_end)
        bcast_stop_sending();
    while (run.sent < run.target && run.sent - s->received < opt.window) {
        queue_frame(s, opt.binary ? 2 : 1, make_payload('D', (uint32_t)run.sent), opt.size);
        run.sent++;
        queued = true;
    }
    if (queued)
        conn_flush(s);
}

static void
bcast_message(struct conn *c, const uint8_t *p, size_t len)
{
    char kind;
    uint32_t seq;
    if (!parse_payload(p, len, &kind, &seq)) {
        fail(c, "received a message that is not one that was sent (%zu bytes)", len);
        return;
    }
    if (kind == 'P') {
        if (c->probes++ == 0)
            run.probe_seen++;
        return;
    }
    if (kind != 'D') {
        fail(c, "received a message of unknown kind");
        return;
    }
    if (seq != (uint32_t)c->next)
        fail(c, "message %u arrived when %ld was expected (lost or reordered)", seq, c->next);
    c->next = (long)seq + 1; /* resynchronise, to report further losses once */
    c->received++;
    if (c->next == run.target)
        run.finished++;
    run.total_recv++;
    run.last_progress = run.t_last_recv = now_ns();
    if (c == &conns[0])
        bcast_fill_window();
}

/* ---------------------------------------------------------------- frames */

static void
on_message(struct conn *c, int opcode, const uint8_t *p, size_t len)
{
    if (opt.binary ? opcode != 2 : opcode != 1) {
        fail(c, "message of opcode %d, expected %d", opcode, opt.binary ? 2 : 1);
        return;
    }
    if (opt.mode == MODE_ECHO)
        echo_message(c, p, len);
    else
        bcast_message(c, p, len);
}

/* Parse whole frames in rbuf; returns false when the connection went away. */
static bool
parse_frames(struct conn *c)
{
    size_t off = 0;
    while (c->fd >= 0) {
        uint8_t *h = c->rbuf + off;
        size_t avail = c->rlen - off, hl = 2;
        uint64_t len;
        if (avail < 2)
            break;
        int fin = h[0] & 0x80, rsv = h[0] & 0x70, op = h[0] & 0x0f;
        if (h[1] & 0x80) {
            fail(c, "server frame is masked");
            conn_drop(c);
            return false;
        }
        len = h[1] & 0x7f;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (len > (1u << 30)) {
            fail(c, "frame of %" PRIu64 " bytes", len);
            conn_drop(c);
            return false;
        }
        if (avail - hl < len) {
            /* make room for the whole frame */
            if (hl + len > c->rcap - off) {
                memmove(c->rbuf, c->rbuf + off, avail);
                c->rlen = avail;
                off = 0;
                if (hl + len > c->rcap) {
                    c->rcap = hl + len + 65536;
                    c->rbuf = xrealloc(c->rbuf, c->rcap);
                }
            }
            break;
        }
        const uint8_t *pl = h + hl;
        off += hl + (size_t)len;
        if (rsv) {
            fail(c, "frame with RSV bits 0x%x (no extension was negotiated)", rsv);
            conn_drop(c);
            return false;
        }
        switch (op) {
        case 0x0: /* continuation */
        case 0x1:
        case 0x2:
            if (op == 0 && !c->mop) {
                fail(c, "continuation frame without a message");
                conn_drop(c);
                return false;
            }
            if (op != 0 && c->mop) {
                fail(c, "new message inside a fragmented one");
                conn_drop(c);
                return false;
            }
            if (op != 0 && fin) {
                on_message(c, op, pl, (size_t)len);
                break;
            }
            if (op != 0)
                c->mop = op, c->mlen = 0;
            if (c->mlen + len > c->mcap) {
                c->mcap = (c->mlen + (size_t)len) * 2;
                c->mbuf = xrealloc(c->mbuf, c->mcap);
            }
            memcpy(c->mbuf + c->mlen, pl, (size_t)len);
            c->mlen += (size_t)len;
            if (fin) {
                int mop = c->mop;
                c->mop = 0;
                on_message(c, mop, c->mbuf, c->mlen);
            }
            break;
        case 0x8: { /* close */
            int code = len >= 2 ? (pl[0] << 8 | pl[1]) : 1005;
            if (c->state == ST_CLOSING) {
                closed_ok++;
            } else {
                fail(c, "server closed the WebSocket: code %d%s%.*s", code, len > 2 ? ", " : "",
                     len > 2 ? (int)len - 2 : 0, (const char *)pl + 2);
                queue_frame(c, 0x8, pl, len >= 2 ? 2 : 0);
                conn_flush(c);
            }
            conn_drop(c);
            return false;
        }
        case 0x9: /* ping */
            queue_frame(c, 0xA, pl, (size_t)len);
            conn_flush(c);
            break;
        case 0xA: /* pong */
            break;
        default:
            fail(c, "frame with opcode %d", op);
            conn_drop(c);
            return false;
        }
    }
    if (c->fd < 0)
        return false;
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    return true;
}

/* ---------------------------------------------------------------- handshake */

static void
start_handshake(struct conn *c)
{
    uint8_t raw[16], digest[20];
    char key[32], cat[128];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        for (int i = 0; i < 16; i++)
            raw[i] = (uint8_t)rng32();
    base64(raw, sizeof raw, key);
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1(cat, strlen(cat), digest);
    base64(digest, sizeof digest, c->key_accept);
    wbuf_reserve(c, 512 + strlen(opt.path) + strlen(opt.host));
    c->wlen += (size_t)snprintf((char *)c->wbuf + c->wlen, c->wcap - c->wlen,
                                "GET %s HTTP/1.1\r\n"
                                "Host: %s:%d\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: %s\r\n"
                                "Sec-WebSocket-Version: 13\r\n"
                                "User-Agent: hornet-wsload\r\n"
                                "\r\n",
                                opt.path, opt.host, opt.port, key);
    c->state = ST_HANDSHAKE;
    conn_flush(c);
}

static int handshakes_done;

/* Look for the end of the response head; check it; keep what follows. */
static void
read_handshake(struct conn *c)
{
    uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen > 16384) {
            fail(c, "handshake response head too long");
            conn_drop(c);
        }
        return;
    }
    size_t headlen = (size_t)(end - c->rbuf) + 4;
    char *head = strndup((char *)c->rbuf, headlen);
    bool ok101 = !strncmp(head, "HTTP/1.1 101", 12);
    bool accept_ok = false, upgrade_ok = false, ext = false;
    for (char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        char *name = line + 2, *colon = strchr(name, ':'), *eol = strstr(name, "\r\n");
        if (!colon || colon > eol)
            continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vlen = (size_t)(eol - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        size_t nlen = (size_t)(colon - name);
        if (nlen == 20 && !strncasecmp(name, "Sec-WebSocket-Accept", 20))
            accept_ok = vlen == strlen(c->key_accept) && !memcmp(v, c->key_accept, vlen);
        else if (nlen == 7 && !strncasecmp(name, "Upgrade", 7))
            upgrade_ok = vlen == 9 && !strncasecmp(v, "websocket", 9);
        else if (nlen == 24 && !strncasecmp(name, "Sec-WebSocket-Extensions", 24))
            ext = true;
    }
    if (!ok101 || !accept_ok || !upgrade_ok || ext) {
        char *eol = strstr(head, "\r\n");
        if (eol)
            *eol = '\0';
        fail(c, "bad handshake answer (\"%s\"%s%s%s)", head,
             ok101 && !accept_ok ? ", wrong or missing Sec-WebSocket-Accept" : "",
             ok101 && !upgrade_ok ? ", no Upgrade: websocket" : "",
             ext ? ", an extension nobody offered" : "");
        free(head);
        conn_drop(c);
        return;
    }
    free(head);
    memmove(c->rbuf, c->rbuf + headlen, c->rlen - headlen);
    c->rlen -= headlen;
    c->state = ST_OPEN;
    handshakes_done++;
    if (c->rlen)
        parse_frames(c);
}

/* ---------------------------------------------------------------- loop */

static void
on_readable(struct conn *c)
{
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            c->rcap = c->rcap * 2 + 65536;
            c->rbuf = xrealloc(c->rbuf, c->rcap);
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            if (c->state == ST_HANDSHAKE)
                read_handshake(c);
            else if (c->state == ST_OPEN || c->state == ST_CLOSING)
                parse_frames(c);
            if (c->fd < 0)
                return;
            if ((size_t)n < 16384) /* short read: most likely drained */
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c->state != ST_CLOSING)
            fail(c, "connection %s (state %d)", n == 0 ? "closed by the server" : strerror(errno),
                 c->state);
        conn_drop(c);
        return;
    }
}

static void
on_event(struct conn *c, uint32_t events)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            fail(c, "connect: %s", strerror(err));
            conn_drop(c);
            return;
        }
        c->want_out = false;
        set_events(c);
        start_handshake(c);
        return;
    }
    if (events & EPOLLOUT)
        conn_flush(c);
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        on_readable(c);
}

static void
poll_once(int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(epfd, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR)
        fatal(1, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c->fd >= 0)
            on_event(c, evs[i].events);
    }
}

static int
open_count(void)
{
    int n = 0;
    for (int i = 0; i < opt.conns; i++)
        n += conns[i].state == ST_OPEN;
    return n;
}

static void
connect_all(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
        fatal(1, "not an IPv4 address: %s", opt.host);
    conns = calloc((size_t)opt.conns, sizeof *conns);
    if (!conns)
        fatal(1, "out of memory");
    /* Connect in batches so the server's listen backlog is never the limit. */
    int next = 0;
    uint64_t deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
    while (handshakes_done + failures < opt.conns) {
        while (next < opt.conns && next - handshakes_done - failures < 256) {
            struct conn *c = &conns[next];
            c->id = next++;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0)
                fatal(1, "socket: %s (raise ulimit -n?)", strerror(errno));
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->rcap = opt.size + 65536;
            c->rbuf = xrealloc(NULL, c->rcap);
            c->state = ST_CONNECTING;
            c->want_out = true;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
                fail(c, "connect: %s", strerror(errno));
                close(c->fd);
                c->fd = -1;
                c->state = ST_DONE;
                continue;
            }
            epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        }
        if (failures)
            break;
        if (now_ns() > deadline) {
            fail(NULL, "only %d of %d handshakes done after %.0f s", handshakes_done, opt.conns,
                 opt.timeout);
            break;
        }
        poll_once(100);
    }
    if (failures)
        fatal(2, "handshakes failed (%d of %d connections open)", open_count(), opt.conns);
}

/* Send Close 1000 on every open connection and wait (briefly) for the
 * server's Close; not part of any measurement. */
static void
close_all(void)
{
    static const uint8_t code[2] = {0x03, 0xE8};
    int closing = 0;
    for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];
        if (c->state != ST_OPEN)
            continue;
        c->state = ST_CLOSING;
        queue_frame(c, 0x8, code, 2);
        conn_flush(c);
        closing++;
    }
    uint64_t deadline = now_ns() + 2000000000ull;
    while (now_ns() < deadline) {
        int left = 0;
        for (int i = 0; i < opt.conns; i++)
            left += conns[i].state == ST_CLOSING;
        if (!left)
            break;
        poll_once(50);
    }
    int left = 0;
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].state == ST_CLOSING) {
            left++;
            conn_drop(&conns[i]);
        }
    if (left)
        fprintf(stderr, "%s: note: %d of %d connections got no Close answer within 2 s\n",
                progname, left, closing);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double
pct_us(double p)
{
    if (!run.nlat)
        return 0;
    size_t i = (size_t)(p * (double)(run.nlat - 1) + 0.5);
    return (double)run.lat[i] / 1e3;
}

static void
print_cpu(long ticks, double secs, double client_cpu, long msgs, const char *per)
{
    long hz = sysconf(_SC_CLK_TCK);
    printf("client CPU %.0f%% of one core", client_cpu / secs * 100);
    if (opt.npids)
        printf(", server CPU %.0f%% of one core, %.2f us per %s", (double)ticks / hz / secs * 100,
               msgs ? (double)ticks / hz * 1e6 / (double)msgs : 0.0, per);
    printf("\n");
}

static int
run_echo(void)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < opt.conns; i++)
        echo_send(&conns[i]);
    /* warm-up */
    run.last_progress = t0;
    uint64_t warm_end = t0 + (uint64_t)(opt.warmup * 1e9);
    while (now_ns() < warm_end && !failures && open_count())
        poll_once(10);
    long ticks0 = server_ticks();
    double cpu0 = client_cpu_seconds();
    run.t_start = now_ns();
    run.t_end = run.t_start + (uint64_t)(opt.duration * 1e9);
    run.measuring = true;
    for (;;) {
        uint64_t t = now_ns();
        if (t >= run.t_end)
            break;
        if (!open_count())
            break;
        if (t - run.last_progress > (uint64_t)(opt.timeout * 1e9)) {
            fail(NULL, "no echo for %.0f s", opt.timeout);
            break;
        }
        int ms = (int)((run.t_end - t) / 1000000) + 1;
        poll_once(ms < 100 ? ms : 100);
    }
    uint64_t t_stop = now_ns();
    long ticks1 = server_ticks();
    double cpu1 = client_cpu_seconds();
    run.stop_sending = true;
    /* let outstanding echoes come back so that closing is clean */
    uint64_t deadline = now_ns() + 2000000000ull;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < opt.conns; i++)
            waiting += conns[i].state == ST_OPEN && conns[i].waiting;
        if (!waiting || now_ns() > deadline || failures)
            break;
        poll_once(10);
    }
    /* only round trips that ended by t_end count */
    double secs = (double)((t_stop < run.t_end ? t_stop : run.t_end) - run.t_start) / 1e9;
    qsort(run.lat, run.nlat, sizeof *run.lat, cmp_u64);
    long msgs = (long)run.nlat;
    double rate = (double)msgs / secs;
    long ticks = ticks1 - ticks0;
    long hz = sysconf(_SC_CLK_TCK);
    int open = open_count();
    close_all();
    printf("echo: %d connections, %zu-byte %s messages, %.1f s (after %.1f s warm-up)\n",
           opt.conns, opt.size, opt.binary ? "binary" : "text", secs, opt.warmup);
    printf("%ld round trips, %.0f messages/s; latency p50 %.1f us, p99 %.1f us, max %.1f us\n",
           msgs, rate, pct_us(0.50), pct_us(0.99), pct_us(1.0));
    print_cpu(ticks, secs, cpu1 - cpu0, msgs, "message");
    if (open != opt.conns)
        fail(NULL, "%d of %d connections were lost during the run", opt.conns - open, opt.conns);
    printf("result mode=echo conns=%d size=%zu secs=%.3f messages=%ld rate=%.0f p50_us=%.1f "
           "p99_us=%.1f max_us=%.1f server_ticks=%ld hz=%ld server_us_per_msg=%.3f "
           "client_cpu=%.3f failures=%d\n",
           opt.conns, opt.size, secs, msgs, rate, pct_us(0.50), pct_us(0.99), pct_us(1.0), ticks,
           hz, msgs && opt.npids ? (double)ticks / hz * 1e6 / (double)msgs : 0.0, cpu1 - cpu0,
           failures);
    return failures ? 2 : 0;
}

static int
run_broadcast(void)
{
    struct conn *s = &conns[0];
    uint64_t t0 = now_ns(), next_probe = 0;
    /* Probe until every client has seen a message from the sender: only
     * then are they all in the server's set. */
    run.probing = true;
    while (run.probe_seen < opt.conns) {
        uint64_t t = now_ns();
        if (failures || s->state != ST_OPEN)
            break;
        if (t - t0 > (uint64_t)(opt.timeout * 1e9)) {
            fail(NULL, "after %.0f s of probes only %d of %d clients receive broadcasts",
                 opt.timeout, run.probe_seen, opt.conns);
            break;
        }
        if (t >= next_probe) {
            queue_frame(s, opt.binary ? 2 : 1, make_payload('P', (uint32_t)run.probes_sent++),
                        opt.size);
            conn_flush(s);
            next_probe = t + 20000000; /* 20 ms */
        }
        poll_once(5);
    }
    /* Every client must see the last probe before data starts. */
    while (!failures && s->state == ST_OPEN) {
        bool all = true;
        for (int i = 0; i < opt.conns; i++)
            if (conns[i].state == ST_OPEN && conns[i].probes < 1)
                all = false;
        if (all && s->probes == run.probes_sent)
            break;
        if (now_ns() - t0 > (uint64_t)(opt.timeout * 1e9) * 2) {
            fail(NULL, "probes did not come back");
            break;
        }
        poll_once(5);
    }
    /* probes still in flight to other clients are fine: they precede data */
    if (failures)
        fatal(2, "could not set up the broadcast");

    run.probing = false;
    run.target = opt.messages;
    long ticks0 = server_ticks();
    double cpu0 = client_cpu_seconds();
    run.t_start = now_ns();
    run.t_end = run.t_start + (uint64_t)(opt.duration * 1e9);
    run.last_progress = run.t_start;
    bcast_fill_window();
    for (;;) {
        uint64_t t = now_ns();
        int gone = 0;
        if (opt.duration_set && run.sent < run.target && t >= run.t_end)
            bcast_stop_sending();
        for (int i = 0; i < opt.conns; i++)
            gone += conns[i].state != ST_OPEN && conns[i].next != run.target;
        if (run.finished + gone >= opt.conns || failures > 1000)
            break;
        if (t - run.last_progress > (uint64_t)(opt.timeout * 1e9)) {
            fail(NULL, "no message received for %.0f s", opt.timeout);
            break;
        }
        poll_once(100);
    }
    uint64_t t_end = run.t_last_recv > run.t_start ? run.t_last_recv : now_ns();
    long ticks1 = server_ticks();
    double cpu1 = client_cpu_seconds();
    double secs = (double)(t_end - run.t_start) / 1e9;
    long ticks = ticks1 - ticks0;
    long hz = sysconf(_SC_CLK_TCK);
    long incomplete = 0, missing = 0, expected = run.target * opt.conns;
    for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];
        if (c->received != run.target) {
            if (incomplete < 10)
                fprintf(stderr, "%s: FAIL: client %d received %ld of %ld messages%s\n", progname,
                        i, c->received, run.target, c->state == ST_OPEN ? "" : " (connection lost)");
            incomplete++;
            missing += run.target - c->received;
        }
    }
    if (incomplete) {
        fprintf(stderr, "%s: FAIL: %ld of %d clients did not receive every message (%ld deliveries "
                "missing of %ld)\n", progname, incomplete, opt.conns, missing, expected);
        failures++;
    }
    close_all();
    double rate = (double)run.total_recv / secs;
    printf("broadcast: %d clients, %ld %zu-byte %s messages from one, window %d, %.3f s%s\n",
           opt.conns, run.sent, opt.size, opt.binary ? "binary" : "text", opt.window, secs,
           run.target < opt.messages ? " (time limit reached)" : "");
    printf("%ld deliveries of %ld expected, %.0f deliveries/s (%.0f messages/s sent)%s\n",
           run.total_recv, expected, rate, (double)run.sent / secs,
           incomplete ? "  ** INCOMPLETE **" : "");
    print_cpu(ticks, secs, cpu1 - cpu0, run.total_recv, "delivery");
    printf("result mode=broadcast conns=%d size=%zu window=%d secs=%.3f sent=%ld deliveries=%ld "
           "expected=%ld rate=%.0f server_ticks=%ld hz=%ld server_us_per_delivery=%.3f "
           "client_cpu=%.3f failures=%d\n",
           opt.conns, opt.size, opt.window, secs, run.sent, run.total_recv, expected, rate, ticks,
           hz, run.total_recv && opt.npids ? (double)ticks / hz * 1e6 / (double)run.total_recv : 0.0,
           cpu1 - cpu0, failures);
    return failures ? 2 : 0;
}

int
main(int argc, char **argv)
{
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed && seed)
        rng_state = seed;
    tmpl = xrealloc(NULL, opt.size);
    msgbuf = xrealloc(NULL, opt.size);
    for (size_t i = 0; i < opt.size; i++)
        tmpl[i] = (uint8_t)('a' + i % 26); /* ASCII: valid UTF-8 as text */
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        fatal(1, "epoll_create1: %s", strerror(errno));
    connect_all();
    int rc = opt.mode == MODE_ECHO ? run_echo() : run_broadcast();
    if (rc)
        fprintf(stderr, "%s: %d failure(s)\n", progname, failures);
    return rc;
}
