/*
 * stream.c - a test application that streams a large response and obeys
 * backpressure.
 *
 *   GET /stream?bytes=N[&ignore=1][&resume=direct]
 *       N bytes (Content-Length: N) in 64 KiB chunks; byte at offset o is
 *       o % 251. Produces only while not paused: stops at on_pause (unless
 *       ignore=1, which keeps writing until response_body says HORNET_EAGAIN)
 *       and at HORNET_EAGAIN, continues at on_resume (from a zero-delay timer,
 *       or directly inside on_resume with resume=direct). At most 16 chunks are
 *       written per loop iteration; a zero-delay timer continues.
 *   POST /echo
 *       every body chunk goes back as it arrives (no Content-Length). The ABI
 *       cannot stop the body, so what response_body refuses (HORNET_EAGAIN)
 *       waits in a heap queue until on_resume: only the server's flow control
 *       keeps that queue short.
 *   GET /counters
 *       "pauses=.. resumes=.. eagain=.. sent=.. started=.. completed=..
 *        disc_false=.. disc_true=.. paused_now=.. mismatch=.. errors=.. last_rc=..
 *        echo_queue_max=.."
 *       sent: bytes response_body took (summed over every stream).
 *       echo_queue_max: the most bytes an /echo queue ever held.
 *       mismatch: api->is_paused disagreed with on_pause/on_resume.
 *   anything else: "stream\n"
 */
#include <hornet/app.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536
#define PERIOD 251
#define BURST 16

static const hornet_api_t *api;
static unsigned char pattern[CHUNK + PERIOD];

static struct {
    unsigned long pauses, resumes, eagain, started, completed, disc_false, disc_true;
    unsigned long mismatch, errors, paused_now;
    unsigned long long sent;
    size_t echo_queue_max;
    int last_rc;
} cnt;

typedef struct st {
    hornet_request_t *req;
    unsigned long long total, sent;
    bool stream, paused, blocked, done, gone, ignore_pause, direct_resume, disc_seen;
    bool echo, body_done;
    int in_call;
    hornet_timer_t *timer;
    unsigned char *queue; /* /echo: body bytes response_body refused so far */
    size_t queue_len, queue_cap;
} st_t;

static void
st_release(st_t *s)
{
    if (s->timer)
        api->timer_free(s->timer);
    free(s->queue);
    free(s);
}

/* After a server call: false if the request went away meanwhile. */
static bool
call_end(st_t *s)
{
    s->in_call--;
    if (s->gone) {
        if (s->in_call == 0)
            st_release(s);
        return false;
    }
    return true;
}

static bool
qparam(const hornet_scope_t *sc, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    const char *q = sc->query_string, *end = q + sc->query_string_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *e = amp ? amp : end;
        if ((size_t)(e - q) > nl && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            size_t vl = (size_t)(e - q) - nl - 1;
            if (vl >= outsz)
                vl = outsz - 1;
            memcpy(out, q + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        q = amp ? amp + 1 : end;
    }
    return false;
}

/* Continue on the next loop iteration (restarting the timer if pending). */
static void
schedule(st_t *s)
{
    api->timer_stop(s->timer);
    api->timer_start(s->timer, 0, 0);
}

static void
pump(st_t *s)
{
    for (int i = 0; i < BURST; i++) {
        if (s->done || s->blocked || (s->paused && !s->ignore_pause))
            return;
        unsigned long long left = s->total - s->sent;
        size_t n = left > CHUNK ? CHUNK : (size_t)left;
        bool more = s->sent + n < s->total;
        s->in_call++;
        int rc = api->response_body(s->req, pattern + s->sent % PERIOD, n, more);
        s->in_call--;
        /* account first: the final call may have run on_disconnect */
        if (rc == HORNET_OK) {
            s->sent += n;
            cnt.sent += n;
            if (!more) {
                s->done = true;
                cnt.completed++;
            }
        } else if (rc == HORNET_EAGAIN) {
            cnt.eagain++;
            s->blocked = true; /* nothing was taken: wait for on_resume */
        } else {
            cnt.errors++;
            cnt.last_rc = rc;
            s->done = true;
        }
        if (s->gone) {
            if (s->in_call == 0)
                st_release(s);
            return;
        }
        if (rc != HORNET_OK || s->done)
            return;
    }
    /* more to write: continue on the next loop iteration */
    schedule(s);
}

/* /echo: hand the queue over, and the end once the body is complete. */
static void
echo_drain(st_t *s)
{
    while (!s->done && !s->blocked && (s->queue_len > 0 || s->body_done)) {
        bool last = s->queue_len == 0;
        s->in_call++;
        int rc = api->response_body(s->req, s->queue, s->queue_len, !last);
        size_t n = s->queue_len;
        if (!call_end(s))
            return;
        if (rc == HORNET_EAGAIN) {
            cnt.eagain++;
            s->blocked = true;
        } else if (rc != HORNET_OK) {
            cnt.errors++;
            cnt.last_rc = rc;
            s->done = true;
        } else {
            cnt.sent += n;
            s->queue_len = 0;
            if (last) {
                s->done = true;
                cnt.completed++;
            }
        }
    }
}

static void
echo_body(st_t *s, const void *data, size_t len, bool more_body)
{
    if (s->queue_len + len > s->queue_cap) {
        s->queue_cap = (s->queue_len + len) * 2;
        s->queue = realloc(s->queue, s->queue_cap);
        if (!s->queue)
            abort();
    }
    memcpy(s->queue + s->queue_len, data, len);
    s->queue_len += len;
    if (s->queue_len > cnt.echo_queue_max)
        cnt.echo_queue_max = s->queue_len;
    s->body_done = !more_body;
    echo_drain(s);
}

static void
on_timer(hornet_timer_t *t, void *ud)
{
    (void)t;
    pump(ud);
}

static void
respond_text(hornet_request_t *req, const char *text)
{
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", strlen(text));
    hornet_header_t h[2] = {{"content-type", 12, "text/plain", 10},
                            {"content-length", 14, cl, strlen(cl)}};
    api->response_start(req, 200, h, 2, false);
    api->response_body(req, text, strlen(text), false);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    st_t *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->req = req;
    api->set_data(req, s);
    char v[64];
    if (scope->path_len == 7 && memcmp(scope->path, "/stream", 7) == 0) {
        s->stream = true;
        s->total = qparam(scope, "bytes", v, sizeof(v)) ? strtoull(v, NULL, 10) : 1048576;
        s->ignore_pause = qparam(scope, "ignore", v, sizeof(v)) && v[0] == '1';
        s->direct_resume = qparam(scope, "resume", v, sizeof(v)) && strcmp(v, "direct") == 0;
    } else if (scope->path_len == 5 && memcmp(scope->path, "/echo", 5) == 0) {
        s->echo = true;
        cnt.started++;
        hornet_header_t h[1] = {{"content-type", 12, "application/octet-stream", 24}};
        s->in_call++;
        int rc = api->response_start(req, 200, h, 1, false);
        if (call_end(s) && rc != HORNET_OK) {
            cnt.errors++;
            cnt.last_rc = rc;
            s->done = true;
        }
    } else if (scope->path_len == 9 && memcmp(scope->path, "/counters", 9) == 0) {
        char text[512];
        snprintf(text, sizeof(text),
                 "pauses=%lu resumes=%lu eagain=%lu sent=%llu started=%lu completed=%lu "
                 "disc_false=%lu disc_true=%lu paused_now=%lu mismatch=%lu errors=%lu "
                 "last_rc=%d echo_queue_max=%zu\n",
                 cnt.pauses, cnt.resumes, cnt.eagain, cnt.sent, cnt.started, cnt.completed,
                 cnt.disc_false, cnt.disc_true, cnt.paused_now, cnt.mismatch, cnt.errors,
                 cnt.last_rc, cnt.echo_queue_max);
        s->in_call++;
        respond_text(req, text);
        call_end(s);
    } else {
        s->in_call++;
        respond_text(req, "stream\n");
        call_end(s);
    }
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    st_t *s = api->get_data(req);
    if (s && s->echo && !s->done) {
        echo_body(s, data, len, more_body);
        return;
    }
    if (!s || !s->stream || more_body)
        return;
    /* the request body is complete: start streaming */
    cnt.started++;
    char cl[32];
    snprintf(cl, sizeof(cl), "%llu", s->total);
    hornet_header_t h[2] = {{"content-type", 12, "application/octet-stream", 24},
                            {"content-length", 14, cl, strlen(cl)}};
    s->timer = api->timer_new(on_timer, s);
    s->in_call++;
    int rc = api->response_start(req, 200, h, 2, false);
    if (!call_end(s))
        return;
    if (rc != HORNET_OK) {
        cnt.errors++;
        cnt.last_rc = rc;
        s->done = true;
        return;
    }
    if (s->total == 0) {
        s->in_call++;
        int rc0 = api->response_body(req, "", 0, false);
        s->in_call--;
        if (rc0 == HORNET_OK)
            cnt.completed++;
        s->done = true;
        if (s->gone && s->in_call == 0)
            st_release(s);
        return;
    }
    pump(s);
}

static void
on_pause(hornet_request_t *req)
{
    st_t *s = api->get_data(req);
    cnt.pauses++;
    if (!api->is_paused(req))
        cnt.mismatch++;
    if (s && !s->paused) {
        s->paused = true;
        cnt.paused_now++;
    }
}

static void
on_resume(hornet_request_t *req)
{
    st_t *s = api->get_data(req);
    cnt.resumes++;
    if (api->is_paused(req))
        cnt.mismatch++;
    if (!s)
        return;
    if (s->paused) {
        s->paused = false;
        cnt.paused_now--;
    }
    s->blocked = false;
    if (s->echo && s->in_call == 0) {
        echo_drain(s);
        return;
    }
    if (!s->stream || s->done)
        return;
    if (s->direct_resume && s->in_call == 0)
        pump(s);
    else if (s->in_call)
        return; /* inside our own response_body: the pump loop goes on */
    else
        schedule(s);
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    st_t *s = api->get_data(req);
    if (!s || s->disc_seen)
        return;
    s->disc_seen = true;
    if (completed)
        cnt.disc_true++;
    else
        cnt.disc_false++;
    if (s->paused)
        cnt.paused_now--;
    api->set_data(req, NULL);
    if (s->timer) {
        api->timer_free(s->timer);
        s->timer = NULL;
    }
    s->gone = true;
    if (s->in_call == 0)
        st_release(s);
}

static int
init(const hornet_api_t *a)
{
    api = a;
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (unsigned char)(i % PERIOD);
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "stream",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
    .on_pause = on_pause,
    .on_resume = on_resume,
};
