/* evload.c - the load client of bench/eventsbench.sh: publish/subscribe
 * fan-out against hornet's builtin:events (WebSocket, JSON) or Redis
 * pub/sub (RESP), the same work for both.
 *
 * One thread, epoll, non-blocking sockets, libc only (SHA-1 and base64 for
 * the WebSocket handshake are here). Opens S subscriber connections and P
 * publisher connections to 127.0.0.1:PORT:
 *
 *   hornet  every connection upgrades to WebSocket (HTTP/1.1, random
 *           Sec-WebSocket-Key, Sec-WebSocket-Accept checked, no extension,
 *           client frames masked) and sends init; subscribers subscribe to
 *           [["bench","*"]], publishers to nothing. Publishing starts when
 *           every init_res (result success) is in. A publisher sends
 *           register messages (with_response false) of B events each, type
 *           ["bench","x"], payload {"t":SEND_NS,"seq":N,"p":PUBLISHER}.
 *   redis   subscribers send SUBSCRIBE bench and wait for its confirmation;
 *           publishers send PUBLISH bench PAYLOAD, B commands per write
 *           (pipelined), and read the replies (each must count S receivers).
 *
 * SEND_NS is CLOCK_MONOTONIC in ns when the register (or the PUBLISH
 * batch) is written; N counts from 0 per publisher. With -r RATE the
 * publishers together send RATE events/s (each RATE/P, paced from the
 * clock); with -r 0 as fast as they can, each keeping at most -w WINDOW
 * events that not every subscriber has received yet (otherwise the server's
 * queues, not its speed, would decide the run).
 *
 * Subscribers scan the notifications for the payloads (no JSON library:
 * "t", "seq" and "p" are found by a scan; a notification may carry several
 * events), count deliveries, check that each publisher's events arrive in
 * sequence (lost, duplicated and reordered ones are counted) and put
 * receive time - SEND_NS into a histogram (1 us buckets below 100 ms, 100 us
 * buckets to 10 s).
 *
 * Timeline: setup (connections, init/subscribe), a warm-up of -W seconds
 * (sent and checked, not measured), -d measured seconds, then sending stops
 * and every subscriber must get every event sent (up to -t seconds without
 * progress). deliveries/s counts deliveries received in the measured
 * seconds; latency covers the events sent in them. With -x PID[,PID...]
 * the utime+stime of those processes is read at the start and end of the
 * measured seconds, summed and per process ("cpu PID TICKS" lines).
 *
 * The last line is machine-readable: "result key=value ...". Exit status:
 * 0 on success, 1 on usage/setup errors, 2 when the server misbehaved
 * (lost, duplicated or reordered events, an unexpected close, a timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

static const char *progname = "evload";

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

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
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

enum mode { MODE_HORNET, MODE_REDIS };

#define MAX_PIDS 64

static struct {
    enum mode mode;
    const char *host;
    int port;
    const char *path;
    int subs;        /* S */
    int pubs;        /* P */
    double rate;     /* events/s, all publishers together; 0: as fast as the window allows */
    int batch;       /* B events per register / per write of PUBLISH commands */
    int window;      /* -r 0: events per publisher not yet received by every subscriber */
    double duration; /* measured seconds */
    double warmup;   /* seconds of sending before them */
    double timeout;  /* seconds without progress before giving up */
    int npids;
    int pids[MAX_PIDS];
} opt = {
    .host = "127.0.0.1",
    .path = "/",
    .subs = 1000,
    .pubs = 4,
    .rate = 0,
    .batch = 1,
    .window = 64,
    .duration = 5,
    .warmup = 1,
    .timeout = 10,
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: evload hornet|redis -p PORT [options]\n"
            "  -h HOST      server address (127.0.0.1)\n"
            "  -p PORT      server port\n"
            "  -u PATH      request target, hornet (/)\n"
            "  -s N         subscribers (1000)\n"
            "  -P N         publishers (4)\n"
            "  -r RATE      events/s from all publishers together; 0: as fast as possible (0)\n"
            "  -b N         events per register (hornet) or per pipelined write (redis) (1)\n"
            "  -w N         with -r 0: events per publisher in flight, not yet received by\n"
            "               every subscriber (64)\n"
            "  -d SECONDS   measured duration (5)\n"
            "  -W SECONDS   warm-up before measuring (1)\n"
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
    if (!strcmp(argv[1], "hornet"))
        opt.mode = MODE_HORNET;
    else if (!strcmp(argv[1], "redis"))
        opt.mode = MODE_REDIS;
    else
        usage();
    optind = 2;
    while ((c = getopt(argc, argv, "h:p:u:s:P:r:b:w:d:W:t:x:")) != -1) {
        switch (c) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = (int)parse_num(optarg, "port"); break;
        case 'u': opt.path = optarg; break;
        case 's': opt.subs = (int)parse_num(optarg, "subscribers"); break;
        case 'P': opt.pubs = (int)parse_num(optarg, "publishers"); break;
        case 'r': opt.rate = parse_num(optarg, "rate"); break;
        case 'b': opt.batch = (int)parse_num(optarg, "batch"); break;
        case 'w': opt.window = (int)parse_num(optarg, "window"); break;
        case 'd': opt.duration = parse_num(optarg, "duration"); break;
        case 'W': opt.warmup = parse_num(optarg, "warm-up"); break;
        case 't': opt.timeout = parse_num(optarg, "timeout"); break;
        case 'x': {
            char *s = strdup(optarg), *tok, *save = NULL;
            for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (opt.npids == MAX_PIDS)
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
    if (opt.subs < 1 || opt.pubs < 1 || opt.batch < 1 || opt.batch > 10000 || opt.duration <= 0 ||
        opt.timeout <= 0)
        usage();
    if (opt.window < opt.batch)
        opt.window = opt.batch;
}

/* utime+stime in clock ticks of one process (0 when it is gone). */
static long
pid_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* after ") ": state(3) ... utime(14) stime(15) */
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (long)(ut + st);
}

static double
client_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- histogram */

/* 1 us buckets below 100 ms, 100 us buckets from there to 10 s, then one. */
#define H_FINE 100000u
#define H_COARSE 99000u
#define H_N (H_FINE + H_COARSE + 1)

static uint64_t hist[H_N];
static uint64_t hist_count, hist_max_ns;

static void
hist_add(uint64_t ns)
{
    uint64_t us = ns / 1000;
    size_t i;
    if (us < H_FINE)
        i = (size_t)us;
    else if (us < H_FINE + (uint64_t)H_COARSE * 100)
        i = H_FINE + (size_t)((us - H_FINE) / 100);
    else
        i = H_N - 1;
    hist[i]++;
    hist_count++;
    if (ns > hist_max_ns)
        hist_max_ns = ns;
}

/* The p-quantile in us: the middle of its bucket (max for the last). */
static double
hist_pct(double p)
{
    if (!hist_count)
        return 0;
    uint64_t want = (uint64_t)(p * (double)hist_count + 0.999999), cum = 0;
    if (want < 1)
        want = 1;
    for (size_t i = 0; i < H_N; i++) {
        cum += hist[i];
        if (cum >= want) {
            if (i < H_FINE)
                return (double)i + 0.5;
            if (i < H_N - 1)
                return (double)H_FINE + (double)(i - H_FINE) * 100 + 50;
            return (double)hist_max_ns / 1e3;
        }
    }
    return (double)hist_max_ns / 1e3;
}

/* ---------------------------------------------------------------- state */

enum state { ST_CONNECTING, ST_HANDSHAKE, ST_INIT, ST_READY, ST_CLOSING, ST_DONE };

struct conn {
    int fd;
    int id;       /* 0..S-1 subscribers, S..S+P-1 publishers */
    bool pub;
    int pidx;     /* publisher index */
    enum state state;
    char key_accept[32];
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
    bool want_out;
    uint8_t *mbuf; /* fragmented message reassembly */
    size_t mlen, mcap;
    int mop;
    /* subscriber */
    int64_t *next; /* per publisher: the seq expected next */
    /* publisher */
    int64_t sent;    /* events sent */
    int64_t replies; /* redis: PUBLISH replies read */
    int64_t reg_id;
};

static struct conn *conns;
static int nconns;
static int epfd;
static int failures;
static int handshakes_done; /* connections through the handshake (hornet) or connected (redis) */
static int ready;           /* connections through init / SUBSCRIBE */
static int closed_ok;

/* A gap in one subscriber's stream from one publisher: events first counted
 * lost; one that arrives later is reordered, not lost. Rare by nature. */
struct gap {
    int sub, pub;
    int64_t lo, hi; /* inclusive */
};
static struct gap *gaps;
static size_t ngaps, capgaps;

static struct {
    bool sending;
    bool stop;          /* past the measured seconds: send no more */
    uint64_t t_send0;   /* pacing origin */
    uint64_t t_start, t_end;
    int64_t *pub_sent;  /* per publisher, events sent (= conn sent) */
    int64_t *wm;        /* -r 0: per publisher, events every subscriber has */
    uint32_t *cnt;      /* -r 0: per publisher ring of how many subscribers have each */
    uint32_t ring_mask;
    long meas_sent;     /* events sent in the measured seconds */
    long meas_recv;     /* deliveries received in them */
    long total_recv;
    long dup, reordered, gap_lost;
    uint64_t last_progress;
} run;

static void
fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    if (failures++ < 20) {
        if (c)
            fprintf(stderr, "%s: FAIL: %s %d: ", progname, c->pub ? "publisher" : "subscriber",
                    c->pub ? c->pidx : c->id);
        else
            fprintf(stderr, "%s: FAIL: ", progname);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

/* ---------------------------------------------------------------- i/o */

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

static void
wbuf_append(struct conn *c, const void *p, size_t len)
{
    wbuf_reserve(c, len);
    memcpy(c->wbuf + c->wlen, p, len);
    c->wlen += len;
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

/* Append one masked WebSocket frame (FIN set). */
static void
queue_frame(struct conn *c, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t *p, mask[4];
    uint32_t key = rng32();
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
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t v;
        memcpy(&v, payload + i, 4);
        v ^= key;
        memcpy(p + i, &v, 4);
    }
    for (; i < len; i++)
        p[i] = payload[i] ^ mask[i & 3];
    p += len;
    c->wlen = (size_t)(p - c->wbuf);
}

/* ---------------------------------------------------------------- deliveries */

static bool
gap_take(int sub, int pub, int64_t seq)
{
    for (size_t i = 0; i < ngaps; i++) {
        struct gap *g = &gaps[i];
        if (g->sub != sub || g->pub != pub || seq < g->lo || seq > g->hi)
            continue;
        if (g->lo == g->hi) {
            gaps[i] = gaps[--ngaps];
        } else if (seq == g->lo) {
            g->lo++;
        } else if (seq == g->hi) {
            g->hi--;
        } else {
            struct gap rest = {sub, pub, seq + 1, g->hi};
            g->hi = seq - 1;
            if (ngaps == capgaps) {
                capgaps = capgaps ? capgaps * 2 : 64;
                gaps = xrealloc(gaps, capgaps * sizeof *gaps);
            }
            gaps[ngaps++] = rest;
        }
        return true;
    }
    return false;
}

static void
gap_add(int sub, int pub, int64_t lo, int64_t hi)
{
    if (ngaps == capgaps) {
        capgaps = capgaps ? capgaps * 2 : 64;
        gaps = xrealloc(gaps, capgaps * sizeof *gaps);
    }
    gaps[ngaps++] = (struct gap){sub, pub, lo, hi};
}

/* -r 0: one more subscriber has event seq of publisher p. */
static void
window_count(int p, int64_t seq)
{
    if (!run.cnt || seq < run.wm[p] || seq >= run.wm[p] + (int64_t)run.ring_mask + 1)
        return;
    uint32_t *ring = run.cnt + (size_t)p * (run.ring_mask + 1);
    ring[seq & run.ring_mask]++;
    while (run.wm[p] < run.pub_sent[p] && ring[run.wm[p] & run.ring_mask] >= (uint32_t)opt.subs) {
        ring[run.wm[p] & run.ring_mask] = 0;
        run.wm[p]++;
    }
}

static void
deliver(struct conn *c, int64_t t, int64_t seq, int64_t p, uint64_t now)
{
    if (p < 0 || p >= opt.pubs || seq < 0 || seq >= run.pub_sent[p]) {
        fail(c, "an event that was not sent (p %" PRId64 ", seq %" PRId64 ")", p, seq);
        return;
    }
    int64_t *nx = &c->next[p];
    if (seq == *nx) {
        (*nx)++;
        window_count((int)p, seq);
    } else if (seq > *nx) {
        if (run.gap_lost == 0)
            fprintf(stderr, "%s: subscriber %d: publisher %" PRId64 " event %" PRId64
                    " arrived when %" PRId64 " was expected\n", progname, c->id, p, seq, *nx);
        gap_add(c->id, (int)p, *nx, seq - 1);
        run.gap_lost += seq - *nx;
        *nx = seq + 1;
        window_count((int)p, seq);
    } else if (gap_take(c->id, (int)p, seq)) {
        run.reordered++;
        run.gap_lost--;
        window_count((int)p, seq);
    } else {
        run.dup++;
        if (run.dup == 1)
            fprintf(stderr, "%s: subscriber %d: publisher %" PRId64 " event %" PRId64
                    " arrived twice\n", progname, c->id, p, seq);
        return;
    }
    run.total_recv++;
    run.last_progress = now;
    if (now >= run.t_start && now < run.t_end && run.t_start)
        run.meas_recv++;
    if (run.t_start && (uint64_t)t >= run.t_start && (uint64_t)t < run.t_end)
        hist_add(now - (uint64_t)t);
}

/* Scan "key":integer pairs from just after a payload's '{' up to its '}';
 * returns the position after the '}', or NULL when it is not one of ours. */
static const char *
scan_payload(const char *q, const char *end, int64_t *t, int64_t *seq, int64_t *p)
{
    int have = 0;
    while (q < end) {
        if (*q != '"')
            return NULL;
        const char *k = ++q;
        while (q < end && *q != '"')
            q++;
        if (q + 2 >= end || q[1] != ':')
            return NULL;
        size_t klen = (size_t)(q - k);
        q += 2;
        bool neg = false;
        if (*q == '-')
            neg = true, q++;
        if (q >= end || *q < '0' || *q > '9')
            return NULL;
        int64_t v = 0;
        while (q < end && *q >= '0' && *q <= '9')
            v = v * 10 + (*q++ - '0');
        if (neg)
            v = -v;
        if (klen == 1 && k[0] == 't')
            *t = v, have |= 1;
        else if (klen == 3 && !memcmp(k, "seq", 3))
            *seq = v, have |= 2;
        else if (klen == 1 && k[0] == 'p')
            *p = v, have |= 4;
        if (q >= end)
            return NULL;
        if (*q == '}')
            return have == 7 ? q + 1 : NULL;
        if (*q != ',')
            return NULL;
        q++;
    }
    return NULL;
}

/* ---------------------------------------------------------------- hornet */

static char *sendbuf;
static size_t sendcap;

static void
hornet_send_init(struct conn *c)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "{\"type\":\"init\",\"id\":1,\"client_name\":\"%s%d\",\"client_token\":null,"
                     "\"subscriptions\":%s,\"server_id\":null,\"persisted\":false}",
                     c->pub ? "pub" : "sub", c->pub ? c->pidx : c->id,
                     c->pub ? "[]" : "[[\"bench\",\"*\"]]");
    queue_frame(c, 1, (const uint8_t *)buf, (size_t)n);
    c->state = ST_INIT;
    conn_flush(c);
}

/* One register of n events, all stamped now. */
static void
hornet_publish(struct conn *c, int n)
{
    size_t need = 128 + (size_t)n * 160;
    if (need > sendcap) {
        sendcap = need * 2;
        sendbuf = xrealloc(sendbuf, sendcap);
    }
    uint64_t t = now_ns();
    char *p = sendbuf;
    p += sprintf(p, "{\"type\":\"register\",\"id\":%" PRId64 ",\"events\":[", ++c->reg_id + 1);
    for (int i = 0; i < n; i++)
        p += sprintf(p,
                     "%s{\"type\":[\"bench\",\"x\"],\"source_timestamp\":null,"
                     "\"payload\":{\"t\":%" PRIu64 ",\"seq\":%" PRId64 ",\"p\":%d}}",
                     i ? "," : "", t, c->sent + i, c->pidx);
    p += sprintf(p, "],\"with_response\":false}");
    queue_frame(c, 1, (const uint8_t *)sendbuf, (size_t)(p - sendbuf));
    c->sent += n;
    run.pub_sent[c->pidx] = c->sent;
    if (t >= run.t_start && t < run.t_end && run.t_start)
        run.meas_sent += n;
    conn_flush(c);
}

static void
hornet_message(struct conn *c, int op, const uint8_t *data, size_t len)
{
    const char *s = (const char *)data, *end = s + len;
    if (op != 1) {
        fail(c, "a message of opcode %d (JSON comes in text frames)", op);
        return;
    }
    if (c->state == ST_INIT) {
        if (!memmem(s, len, "\"init_res\"", 10) || !memmem(s, len, "\"success\"", 9)) {
            fail(c, "init refused: %.*s", (int)(len > 300 ? 300 : len), s);
            conn_drop(c);
            return;
        }
        c->state = ST_READY;
        ready++;
        return;
    }
    if (c->pub || !memmem(s, len > 40 ? 40 : len, "\"events\"", 8)) {
        fail(c, "unexpected message: %.*s", (int)(len > 300 ? 300 : len), s);
        return;
    }
    uint64_t now = now_ns();
    int n = 0;
    const char *q = s;
    while ((q = memmem(q, (size_t)(end - q), "\"payload\":{", 11)) != NULL) {
        int64_t t, seq, p;
        q += 11;
        const char *after = scan_payload(q, end, &t, &seq, &p);
        if (!after) {
            fail(c, "a payload that is not ours: %.*s", (int)(end - q > 100 ? 100 : end - q), q);
            return;
        }
        q = after;
        deliver(c, t, seq, p, now);
        n++;
    }
    if (!n)
        fail(c, "a notification without events: %.*s", (int)(len > 300 ? 300 : len), s);
}

/* Parse whole frames in rbuf. */
static void
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
            return;
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
            return;
        }
        if (avail - hl < len) {
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
            return;
        }
        switch (op) {
        case 0x0:
        case 0x1:
        case 0x2:
            if ((op == 0) != (c->mop != 0)) {
                fail(c, "bad fragmentation");
                conn_drop(c);
                return;
            }
            if (op != 0 && fin) {
                hornet_message(c, op, pl, (size_t)len);
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
                hornet_message(c, mop, c->mbuf, c->mlen);
            }
            break;
        case 0x8: {
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
            return;
        }
        case 0x9:
            queue_frame(c, 0xA, pl, (size_t)len);
            conn_flush(c);
            break;
        case 0xA:
            break;
        default:
            fail(c, "frame with opcode %d", op);
            conn_drop(c);
            return;
        }
    }
    if (c->fd < 0)
        return;
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static void
start_handshake(struct conn *c)
{
    uint8_t raw[16], digest[20];
    char key[32], cat[128];
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
                                "User-Agent: hornet-evload\r\n"
                                "\r\n",
                                opt.path, opt.host, opt.port, key);
    c->state = ST_HANDSHAKE;
    conn_flush(c);
}

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
    for (char *line = strstr(head, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
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
        fail(c, "bad handshake answer (\"%s\")", head);
        free(head);
        conn_drop(c);
        return;
    }
    free(head);
    memmove(c->rbuf, c->rbuf + headlen, c->rlen - headlen);
    c->rlen -= headlen;
    handshakes_done++;
    hornet_send_init(c);
    if (c->rlen)
        parse_frames(c);
}

/* ---------------------------------------------------------------- redis */

static void
redis_subscribe(struct conn *c)
{
    static const char cmd[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n";
    wbuf_append(c, cmd, sizeof cmd - 1);
    c->state = ST_INIT;
    conn_flush(c);
}

/* n PUBLISH commands in one write, all stamped now. */
static void
redis_publish(struct conn *c, int n)
{
    size_t need = (size_t)n * 128;
    if (need > sendcap) {
        sendcap = need * 2;
        sendbuf = xrealloc(sendbuf, sendcap);
    }
    uint64_t t = now_ns();
    char *p = sendbuf, payload[96];
    for (int i = 0; i < n; i++) {
        int plen = snprintf(payload, sizeof payload,
                            "{\"t\":%" PRIu64 ",\"seq\":%" PRId64 ",\"p\":%d}", t, c->sent + i,
                            c->pidx);
        p += sprintf(p, "*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$%d\r\n%s\r\n", plen, payload);
    }
    wbuf_append(c, sendbuf, (size_t)(p - sendbuf));
    c->sent += n;
    run.pub_sent[c->pidx] = c->sent;
    if (t >= run.t_start && t < run.t_end && run.t_start)
        run.meas_sent += n;
    conn_flush(c);
}

/* One CRLF-terminated line at *q; returns its end (at '\r'), NULL if incomplete. */
static const char *
resp_line(const char *q, const char *end)
{
    const char *r = memchr(q, '\r', (size_t)(end - q));
    if (!r || r + 1 >= end)
        return NULL;
    return r;
}

static long
resp_int(const char *q, const char *e)
{
    long v = 0;
    bool neg = q < e && *q == '-';
    for (q += neg; q < e && *q >= '0' && *q <= '9'; q++)
        v = v * 10 + (*q - '0');
    return neg ? -v : v;
}

/* Parse what is buffered; returns false when the connection is gone. */
static void
redis_parse(struct conn *c)
{
    const char *s = (const char *)c->rbuf, *end = s + c->rlen, *q = s;
    uint64_t now = 0;
    while (q < end && c->fd >= 0) {
        const char *e = resp_line(q, end);
        if (!e)
            break;
        if (c->pub) {
            /* PUBLISH replies: ":receivers" */
            if (*q != ':') {
                fail(c, "PUBLISH answered %.*s", (int)(e - q), q);
                conn_drop(c);
                return;
            }
            long n = resp_int(q + 1, e);
            if (n != opt.subs) {
                fail(c, "PUBLISH reached %ld subscribers, not %d", n, opt.subs);
            }
            c->replies++;
            q = e + 2;
            continue;
        }
        /* a push: *3 then three elements, bulk strings or an integer */
        if (*q != '*') {
            fail(c, "unexpected RESP: %.*s", (int)(e - q > 100 ? 100 : e - q), q);
            conn_drop(c);
            return;
        }
        long count = resp_int(q + 1, e);
        const char *r = e + 2;
        const char *el[3] = {0};
        size_t ellen[3] = {0};
        long ival = 0;
        bool complete = true;
        if (count != 3) {
            fail(c, "a push of %ld elements", count);
            conn_drop(c);
            return;
        }
        for (int i = 0; i < 3; i++) {
            const char *le = r < end ? resp_line(r, end) : NULL;
            if (!le) {
                complete = false;
                break;
            }
            if (*r == ':') {
                ival = resp_int(r + 1, le);
                el[i] = r;
                ellen[i] = 0;
                r = le + 2;
            } else if (*r == '$') {
                long bl = resp_int(r + 1, le);
                const char *b = le + 2;
                if (bl < 0 || b + bl + 2 > end) {
                    complete = bl >= 0 ? false : complete;
                    if (bl < 0) {
                        fail(c, "a null bulk string");
                        conn_drop(c);
                        return;
                    }
                    break;
                }
                el[i] = b;
                ellen[i] = (size_t)bl;
                r = b + bl + 2;
            } else {
                fail(c, "unexpected RESP element %c", *r);
                conn_drop(c);
                return;
            }
        }
        if (!complete)
            break;
        if (ellen[0] == 7 && !memcmp(el[0], "message", 7)) {
            int64_t t, seq, p;
            if (c->state != ST_READY || ellen[2] < 2 || el[2][0] != '{' ||
                !scan_payload(el[2] + 1, el[2] + ellen[2], &t, &seq, &p)) {
                fail(c, "a message that is not ours: %.*s", (int)ellen[2], el[2]);
            } else {
                if (!now)
                    now = now_ns();
                deliver(c, t, seq, p, now);
            }
        } else if (ellen[0] == 9 && !memcmp(el[0], "subscribe", 9)) {
            if (c->state == ST_INIT && ival == 1) {
                c->state = ST_READY;
                ready++;
            } else {
                fail(c, "unexpected subscribe confirmation");
            }
        } else {
            fail(c, "unexpected push %.*s", (int)ellen[0], el[0]);
        }
        q = r;
    }
    if (c->fd < 0)
        return;
    size_t off = (size_t)(q - s);
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

/* ---------------------------------------------------------------- loop */

static void
on_readable(struct conn *c)
{
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            c->rcap = c->rcap * 2 + 16384;
            c->rbuf = xrealloc(c->rbuf, c->rcap);
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            if (opt.mode == MODE_REDIS)
                redis_parse(c);
            else if (c->state == ST_HANDSHAKE)
                read_handshake(c);
            else
                parse_frames(c);
            if (c->fd < 0)
                return;
            if ((size_t)n < 16384)
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
on_connected(struct conn *c)
{
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
    if (opt.mode == MODE_HORNET) {
        start_handshake(c);
    } else {
        handshakes_done++;
        if (c->pub) {
            c->state = ST_READY;
            ready++;
        } else {
            redis_subscribe(c);
        }
    }
}

static void
poll_once(int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms);
    if (n < 0 && errno != EINTR)
        fatal(1, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c->fd < 0)
            continue;
        if (c->state == ST_CONNECTING) {
            on_connected(c);
            continue;
        }
        if (evs[i].events & EPOLLOUT)
            conn_flush(c);
        if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            on_readable(c);
    }
}

static void
setup(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
        fatal(1, "not an IPv4 address: %s", opt.host);
    nconns = opt.subs + opt.pubs;
    conns = xcalloc((size_t)nconns, sizeof *conns);
    int next = 0;
    uint64_t deadline = now_ns() + (uint64_t)(opt.timeout * 1e9) * 3;
    while (ready < nconns) {
        /* connect in batches so the server's listen backlog is never the limit */
        while (next < nconns && next - ready - failures < 256) {
            struct conn *c = &conns[next];
            c->id = next++;
            c->pub = c->id >= opt.subs;
            c->pidx = c->pub ? c->id - opt.subs : -1;
            if (!c->pub)
                c->next = xcalloc((size_t)opt.pubs, sizeof *c->next);
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0)
                fatal(1, "socket: %s (raise ulimit -n?)", strerror(errno));
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->rcap = 16384;
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
            fail(NULL, "only %d of %d connections set up after %.0f s", ready, nconns,
                 opt.timeout * 3);
            break;
        }
        poll_once(100);
    }
    if (failures)
        fatal(2, "setup failed (%d of %d connections ready)", ready, nconns);
}

/* Send what is due: paced from the clock with -r, else up to the window. */
static void
pump(uint64_t now)
{
    if (run.stop)
        return;
    for (int i = 0; i < opt.pubs; i++) {
        struct conn *c = &conns[opt.subs + i];
        if (c->state != ST_READY)
            continue;
        /* never pile up more than the kernel takes: the write buffer is a
         * queue of its own */
        if (c->wlen - c->woff > (1u << 20))
            continue;
        int n;
        if (opt.rate > 0) {
            double per = opt.rate / opt.pubs;
            int64_t due = (int64_t)((double)(now - run.t_send0) * per / 1e9) + 1;
            n = (int)(due - c->sent >= opt.batch ? opt.batch : 0);
            /* catch up in batches after a stall, a bounded burst per pass */
            for (int k = 0; n && k < 64; k++) {
                if (opt.mode == MODE_HORNET)
                    hornet_publish(c, n);
                else
                    redis_publish(c, n);
                if (c->fd < 0 || due - c->sent < opt.batch)
                    break;
            }
        } else {
            for (int k = 0; k < 64; k++) {
                int64_t room = run.wm[i] + opt.window - c->sent;
                if (room < opt.batch)
                    break;
                if (opt.mode == MODE_HORNET)
                    hornet_publish(c, opt.batch);
                else
                    redis_publish(c, opt.batch);
                if (c->fd < 0)
                    break;
            }
        }
    }
}

static bool
all_delivered(void)
{
    for (int s = 0; s < opt.subs; s++) {
        if (conns[s].state != ST_READY)
            continue;
        for (int p = 0; p < opt.pubs; p++)
            if (conns[s].next[p] < run.pub_sent[p])
                return false;
    }
    if (opt.mode == MODE_REDIS)
        for (int p = 0; p < opt.pubs; p++)
            if (conns[opt.subs + p].state == ST_READY &&
                conns[opt.subs + p].replies < conns[opt.subs + p].sent)
                return false;
    return true;
}

static int
open_count(void)
{
    int n = 0;
    for (int i = 0; i < nconns; i++)
        n += conns[i].state == ST_READY;
    return n;
}

static void
close_all(void)
{
    static const uint8_t code[2] = {0x03, 0xE8};
    if (opt.mode == MODE_REDIS) {
        for (int i = 0; i < nconns; i++)
            conn_drop(&conns[i]);
        return;
    }
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->state != ST_READY)
            continue;
        c->state = ST_CLOSING;
        queue_frame(c, 0x8, code, 2);
        conn_flush(c);
    }
    uint64_t deadline = now_ns() + 2000000000ull;
    while (now_ns() < deadline) {
        int left = 0;
        for (int i = 0; i < nconns; i++)
            left += conns[i].state == ST_CLOSING;
        if (!left)
            break;
        poll_once(50);
    }
    for (int i = 0; i < nconns; i++)
        conn_drop(&conns[i]);
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
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        fatal(1, "epoll_create1: %s", strerror(errno));
    run.pub_sent = xcalloc((size_t)opt.pubs, sizeof *run.pub_sent);
    run.wm = xcalloc((size_t)opt.pubs, sizeof *run.wm);
    if (opt.rate == 0) {
        uint32_t ring = 1;
        while (ring < (uint32_t)opt.window * 2)
            ring <<= 1;
        run.ring_mask = ring - 1;
        run.cnt = xcalloc((size_t)opt.pubs * ring, sizeof *run.cnt);
    }

    uint64_t t_setup = now_ns();
    setup();
    double setup_s = (double)(now_ns() - t_setup) / 1e9;

    /* warm-up, then the measured seconds */
    uint64_t t0 = now_ns();
    run.t_send0 = t0;
    run.last_progress = t0;
    uint64_t t_meas = t0 + (uint64_t)(opt.warmup * 1e9);
    long *ticks0 = xcalloc((size_t)opt.npids + 1, sizeof(long));
    long *ticks1 = xcalloc((size_t)opt.npids + 1, sizeof(long));
    double cpu0 = 0, cpu1 = 0;
    bool measuring = false;
    int ms = opt.rate > 0 ? 1 : 10;
    for (;;) {
        uint64_t now = now_ns();
        if (!measuring && now >= t_meas) {
            for (int i = 0; i < opt.npids; i++)
                ticks0[i] = pid_ticks(opt.pids[i]);
            cpu0 = client_cpu_seconds();
            run.t_start = now_ns();
            run.t_end = run.t_start + (uint64_t)(opt.duration * 1e9);
            measuring = true;
        }
        if (measuring && now >= run.t_end)
            break;
        if (failures > 100 || open_count() < nconns)
            break;
        if (now - run.last_progress > (uint64_t)(opt.timeout * 1e9)) {
            fail(NULL, "no delivery for %.0f s", opt.timeout);
            break;
        }
        pump(now);
        poll_once(ms);
    }
    for (int i = 0; i < opt.npids; i++)
        ticks1[i] = pid_ticks(opt.pids[i]);
    cpu1 = client_cpu_seconds();
    uint64_t t_stop = now_ns();
    if (t_stop < run.t_end)
        run.t_end = t_stop; /* stopped early: a failure */
    run.stop = true;

    /* every subscriber must get every event sent */
    run.last_progress = now_ns();
    while (!all_delivered() && failures <= 100) {
        if (now_ns() - run.last_progress > (uint64_t)(opt.timeout * 1e9)) {
            fail(NULL, "no delivery for %.0f s after sending stopped", opt.timeout);
            break;
        }
        if (open_count() < nconns)
            break;
        poll_once(10);
    }
    uint64_t t_drained = now_ns();

    /* what did not arrive */
    int64_t total_sent = 0;
    long lost = run.gap_lost, subs_short = 0;
    for (int p = 0; p < opt.pubs; p++)
        total_sent += run.pub_sent[p];
    for (int s = 0; s < opt.subs; s++) {
        long miss = 0;
        for (int p = 0; p < opt.pubs; p++)
            if (conns[s].next[p] < run.pub_sent[p])
                miss += run.pub_sent[p] - conns[s].next[p];
        if (miss || conns[s].state != ST_READY) {
            if (subs_short++ < 10)
                fprintf(stderr, "%s: FAIL: subscriber %d is missing %ld events%s\n", progname, s,
                        miss, conns[s].state == ST_READY ? "" : " (connection lost)");
        }
        lost += miss;
    }
    int open = open_count();
    if (open != nconns)
        fail(NULL, "%d of %d connections were lost", nconns - open, nconns);
    if (lost || run.dup || run.reordered)
        fail(NULL, "%ld lost, %ld duplicated, %ld reordered deliveries", lost, run.dup,
             run.reordered);
    close_all();

    double secs = (double)(run.t_end - run.t_start) / 1e9;
    long hz = sysconf(_SC_CLK_TCK);
    long ticks = 0;
    for (int i = 0; i < opt.npids; i++) {
        ticks += ticks1[i] - ticks0[i];
        printf("cpu %d %ld\n", opt.pids[i], ticks1[i] - ticks0[i]);
    }
    double dps = secs > 0 ? (double)run.meas_recv / secs : 0;
    double eps = secs > 0 ? (double)run.meas_sent / secs : 0;
    double us_per = run.meas_recv && opt.npids ? (double)ticks / hz * 1e6 / (double)run.meas_recv
                                               : 0.0;
    printf("%s: %d subscribers, %d publishers, %s, batch %d; setup %.1f s, %.1f s warm-up, "
           "%.3f s measured, drained %.3f s after\n",
           opt.mode == MODE_HORNET ? "hornet" : "redis", opt.subs, opt.pubs,
           opt.rate > 0 ? "paced" : "as fast as the window allows", opt.batch, setup_s,
           opt.warmup, secs, (double)(t_drained - run.t_end) / 1e9);
    printf("%.0f events/s sent, %.0f deliveries/s; latency p50 %.1f us, p99 %.1f us, max %.1f us "
           "(%" PRIu64 " samples)\n",
           eps, dps, hist_pct(0.50), hist_pct(0.99), (double)hist_max_ns / 1e3, hist_count);
    printf("client CPU %.0f%% of one core", (cpu1 - cpu0) / secs * 100);
    if (opt.npids)
        printf(", server CPU %.0f%% of one core, %.3f us per delivery",
               (double)ticks / hz / secs * 100, us_per);
    printf("\n");
    printf("result mode=%s subs=%d pubs=%d rate=%.0f batch=%d window=%d secs=%.3f sent=%" PRId64
           " events_per_s=%.0f deliveries=%ld deliveries_per_s=%.0f p50_us=%.1f p99_us=%.1f "
           "max_us=%.1f lost=%ld dup=%ld reordered=%ld server_ticks=%ld hz=%ld "
           "server_cpu_pct=%.0f server_us_per_delivery=%.3f client_cpu_pct=%.0f failures=%d\n",
           opt.mode == MODE_HORNET ? "hornet" : "redis", opt.subs, opt.pubs, opt.rate, opt.batch,
           opt.window, secs, total_sent, eps, run.meas_recv, dps, hist_pct(0.50), hist_pct(0.99),
           (double)hist_max_ns / 1e3, lost, run.dup, run.reordered, ticks, hz,
           (double)ticks / hz / secs * 100, us_per, (cpu1 - cpu0) / secs * 100, failures);
    if (failures)
        fprintf(stderr, "%s: %d failure(s)\n", progname, failures);
    return failures ? 2 : 0;
}
