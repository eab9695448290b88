/*
 * probe.c - a test application that exercises the event ABI and reports
 * what it saw. The behaviour is chosen by the path (after root_path) and
 * the query; every request answers once its body is complete (or `ms`
 * milliseconds later, from a timer, when the query has ms=N):
 *
 *   /                  "probe\n"
 *   /order             the events seen so far, one a line ("request",
 *                      "body LEN more", "body LEN last"), then "---\n",
 *                      then the request body received
 *   /scope, /scope/... the scope as JSON (bytes >= 0x80 as \u00XX); also any
 *                      path with scope=1 in the query
 *   /alloc             exercises api->alloc; "alloc ok ..." or "alloc FAIL ..."
 *   /api               abi_version, size of the server's api table, init calls
 *   /config?key=K      api->config(K) (404 when NULL)
 *   /counters          global counters (see counters_text)
 *   /record?id=X       the finished record of the request that had id=X in
 *                      its query (404 until its on_disconnect ran)
 *   /active?id=X       200 while the request with id=X is in progress
 *   /tick?n=N&ms=M     a repeating timer; answers "ticks=N" after N ticks
 *   /chunks?n=N&ms=M   no Content-Length: N pieces "chunk-I\n", one every M ms
 *                      (default 10) from a repeating timer, then an empty final body
 *   /trailers          start(trailers=true), "payload\n", trailer x-checksum: c0ffee;
 *                      announce=0: start without trailers=true (the trailers call
 *                      is then out of order)
 *   /file?path=P&off=O&len=L   response_file of that range
 *   /early             answers in on_request, before the body
 *   /hang              never answers
 *   /misuse/body-before-start, /misuse/double-start, /misuse/after-end,
 *   /misuse/bad-status?code=N, /misuse/bad-header?which=crlf|lf|cr|nul|space|
 *   colon|newline-name|empty|pseudo,
 *   /misuse/informational?code=N  response_informational(N) with a link
 *                      field, then one with a CR LF in a value, then the start,
 *                      then response_informational(103) again; the body says
 *                      "info rc1=A rc2=B late=C"
 *                      (after-end with early=1 runs in on_request: with a request
 *                      body still to come, the final response_body cannot run
 *                      on_disconnect, so the calls after it are safe)
 *                      out-of-order or invalid calls; their return codes go to
 *                      the record, the log, and the body when one can be sent
 *
 * A record (per request with an id) lists every event and the return code of
 * every call, with "disconnect C" (C = completed) for on_disconnect; only
 * return codes of the call that ran on_disconnect may follow it. In
 * on_disconnect(completed=false) the probe also tries response_start and
 * response_body and records their return codes ("after-gone start rc=R").
 *
 * Per-request state is malloc'd and freed after on_disconnect; on_disconnect
 * may in principle come from inside a server call, so the state is only freed
 * once no call on it is in progress.
 */
#include <hornet/app.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const hornet_api_t *api;

/* ---- a growable string ------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void
sb_put(sbuf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    sb_put(b, tmp, (size_t)n);
}

static void
sb_free(sbuf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void
sb_json_str(sbuf_t *b, const char *s, size_t len)
{
    if (!s) {
        sb_put(b, "null", 4);
        return;
    }
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, &s[i], 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- global counters and finished records ------------------------------ */

static struct {
    unsigned inits, requests, bodies_last, disc_false, disc_true, pauses, resumes;
    unsigned reentrant_disc, double_disc, events_after_disc;
} cnt;

#define MAX_RECORDS 512
static struct {
    char *id;
    char *text;
} records[MAX_RECORDS];
static size_t n_records;

static void
record_store(const char *id, const char *text)
{
    if (n_records == MAX_RECORDS) { /* drop the oldest */
        free(records[0].id);
        free(records[0].text);
        memmove(&records[0], &records[1], sizeof(records[0]) * (MAX_RECORDS - 1));
        n_records--;
    }
    records[n_records].id = strdup(id);
    records[n_records].text = strdup(text);
    n_records++;
}

static const char *
record_find(const char *id)
{
    for (size_t i = n_records; i-- > 0;)
        if (strcmp(records[i].id, id) == 0)
            return records[i].text;
    return NULL;
}

/* ---- per request -------------------------------------------------------- */

enum mode {
    M_ROOT, M_ORDER, M_SCOPE, M_ALLOC, M_API, M_CONFIG, M_COUNTERS, M_RECORD, M_ACTIVE,
    M_TICK, M_EARLY, M_HANG, M_BODY_BEFORE_START, M_DOUBLE_START, M_AFTER_END, M_BAD_STATUS,
    M_BAD_HEADER, M_INFORMATIONAL, M_CHUNKS, M_TRAILERS, M_FILE, M_NOTFOUND,
};

typedef struct preq preq_t;
struct preq {
    hornet_request_t *req;
    const hornet_scope_t *scope; /* request memory: valid until the request ends */
    enum mode mode;
    char id[128];
    sbuf_t ev;   /* events and return codes */
    sbuf_t body; /* the request body */
    hornet_timer_t *timer;
    long delay_ms;
    long ticks_wanted, ticks;
    double t_start;
    unsigned char *early_mem; /* api->alloc'd in on_request, checked later */
    bool body_done, responded, gone, disc_seen;
    int in_call; /* server calls in progress on this request */
    preq_t *next, *prev;
};

static preq_t *active; /* requests in progress */

static void
preq_free(preq_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        active = p->next;
    if (p->next)
        p->next->prev = p->prev;
    sb_free(&p->ev);
    sb_free(&p->body);
    free(p);
}

/* A request whose on_disconnect ran: its record is stored (with whatever was
 * logged after on_disconnect, e.g. the return code of the call that ran it)
 * and its state freed, once no server call on it is in progress. */
static void
preq_finish(preq_t *p)
{
    if (p->id[0])
        record_store(p->id, p->ev.p ? p->ev.p : "");
    preq_free(p);
}

/* Wraps one server call on p; the caller then logs what it wants and checks
 * gone_after(p) before touching p->req again. */
#define SCALL(p, rc, expr)                                                                   \
    do {                                                                                     \
        (p)->in_call++;                                                                      \
        (rc) = (expr);                                                                       \
        (p)->in_call--;                                                                      \
    } while (0)

/* True if on_disconnect ran (during the last call): p->req is gone, and p
 * itself is freed here. */
static bool
gone_after(preq_t *p)
{
    if (!p->gone)
        return false;
    if (p->in_call == 0)
        preq_finish(p);
    return true;
}

static bool
qparam(const hornet_scope_t *s, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    const char *q = s->query_string, *end = q + s->query_string_len;
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

static long
qlong(const hornet_scope_t *s, const char *name, long def)
{
    char v[32];
    return qparam(s, name, v, sizeof(v)) ? strtol(v, NULL, 10) : def;
}

static bool
path_is(const hornet_scope_t *s, const char *p)
{
    return s->path_len == strlen(p) && memcmp(s->path, p, s->path_len) == 0;
}

static void
logrec(preq_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
logrec(preq_t *p, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_printf(&p->ev, "%s\n", tmp);
}

/* Sends a whole response: start (with Content-Length) and one final body.
 * Returns false if the request is gone. */
static bool
respond(preq_t *p, int status, const char *ctype, const void *data, size_t len)
{
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", len);
    hornet_header_t h[3] = {
        {"content-type", 12, ctype, strlen(ctype)},
        {"content-length", 14, cl, strlen(cl)},
        {"x-probe-id", 10, p->id, strlen(p->id)},
    };
    size_t nh = p->id[0] ? 3 : 2;
    p->responded = true;
    logrec(p, "response %d", status);
    int rc;
    SCALL(p, rc, api->response_start(p->req, status, h, nh, false));
    if (rc != HORNET_OK)
        logrec(p, "start rc=%d", rc);
    if (gone_after(p))
        return false;
    SCALL(p, rc, api->response_body(p->req, data, len, false));
    if (rc != HORNET_OK)
        logrec(p, "body rc=%d", rc);
    return !gone_after(p);
}

static bool
respond_text(preq_t *p, int status, const char *text)
{
    return respond(p, status, "text/plain", text, strlen(text));
}

static void
counters_text(sbuf_t *b)
{
    sb_printf(b,
              "inits=%u requests=%u bodies_last=%u disc_false=%u disc_true=%u pauses=%u "
              "resumes=%u reentrant_disc=%u double_disc=%u events_after_disc=%u active=",
              cnt.inits, cnt.requests, cnt.bodies_last, cnt.disc_false, cnt.disc_true,
              cnt.pauses, cnt.resumes, cnt.reentrant_disc, cnt.double_disc,
              cnt.events_after_disc);
    unsigned n = 0;
    for (preq_t *q = active; q; q = q->next)
        if (!q->gone)
            n++;
    sb_printf(b, "%u\n", n);
}

static void
scope_json(sbuf_t *b, const hornet_scope_t *s)
{
    sb_printf(b, "{\"type\": %d, \"http_version\": ", (int)s->type);
    sb_json_str(b, s->http_version, s->http_version ? strlen(s->http_version) : 0);
    sb_printf(b, ", \"method\": ");
    sb_json_str(b, s->method, s->method_len);
    sb_printf(b, ", \"scheme\": ");
    sb_json_str(b, s->scheme, s->scheme ? strlen(s->scheme) : 0);
    sb_printf(b, ", \"path\": ");
    sb_json_str(b, s->path, s->path_len);
    sb_printf(b, ", \"raw_path\": ");
    sb_json_str(b, s->raw_path, s->raw_path_len);
    sb_printf(b, ", \"query_string\": ");
    sb_json_str(b, s->query_string, s->query_string_len);
    sb_printf(b, ", \"root_path\": ");
    sb_json_str(b, s->root_path, s->root_path_len);
    sb_printf(b, ", \"headers\": [");
    for (size_t i = 0; i < s->n_headers; i++) {
        sb_printf(b, "%s[", i ? ", " : "");
        sb_json_str(b, s->headers[i].name, s->headers[i].name_len);
        sb_put(b, ", ", 2);
        sb_json_str(b, s->headers[i].value, s->headers[i].value_len);
        sb_put(b, "]", 1);
    }
    sb_printf(b, "], \"client_host\": ");
    sb_json_str(b, s->client_host, s->client_host ? strlen(s->client_host) : 0);
    sb_printf(b, ", \"client_port\": %d, \"server_host\": ", s->client_port);
    sb_json_str(b, s->server_host, s->server_host ? strlen(s->server_host) : 0);
    sb_printf(b, ", \"server_port\": %d, \"n_subprotocols\": %zu, \"state_is_null\": %s}\n",
              s->server_port, s->n_subprotocols, s->state ? "false" : "true");
}

/* Exercises api->alloc: many blocks of odd sizes, no overlap, alignment, a
 * large block, size 0, and the block allocated in on_request. */
static void
alloc_test(preq_t *p, sbuf_t *out)
{
    enum { N = 300 };
    unsigned char *blk[N];
    size_t sz[N];
    unsigned seed = 12345;
    bool ok = true, align8 = true, align16 = true;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        sz[i] = 1 + (seed >> 8) % 3000;
        blk[i] = api->alloc(p->req, sz[i]);
        if (!blk[i]) {
            sb_printf(out, "alloc FAIL: NULL for %zu bytes\n", sz[i]);
            return;
        }
        if ((uintptr_t)blk[i] % 8)
            align8 = false;
        if ((uintptr_t)blk[i] % 16)
            align16 = false;
        memset(blk[i], i & 0xff, sz[i]);
    }
    for (int i = 0; i < N && ok; i++)
        for (size_t j = 0; j < sz[i]; j++)
            if (blk[i][j] != (i & 0xff)) {
                sb_printf(out, "alloc FAIL: block %d overwritten at %zu\n", i, j);
                ok = false;
                break;
            }
    unsigned char *big = api->alloc(p->req, 4u << 20);
    if (!big) {
        sb_printf(out, "alloc FAIL: NULL for 4 MiB\n");
        return;
    }
    memset(big, 0xa5, 4u << 20);
    void *zero = api->alloc(p->req, 0);
    if (!zero) {
        sb_printf(out, "alloc FAIL: NULL for 0 bytes\n");
        return;
    }
    if (p->early_mem)
        for (int j = 0; j < 64; j++)
            if (p->early_mem[j] != (unsigned char)(0x40 + j)) {
                sb_printf(out, "alloc FAIL: on_request block changed at %d\n", j);
                ok = false;
                break;
            }
    if (ok)
        sb_printf(out, "alloc ok align8=%s align16=%s\n", align8 ? "yes" : "no",
                  align16 ? "yes" : "no");
}

static void on_timer(hornet_timer_t *t, void *ud);
static void special(preq_t *p);

/* The answer of an ordinary request (body complete, delay over). */
static void
answer(preq_t *p)
{
    sbuf_t b = {0};
    char key[256];
    int status = 200;
    const char *ctype = "text/plain";

    switch (p->mode) {
    case M_ROOT:
        sb_printf(&b, "probe\n");
        break;
    case M_ORDER:
        sb_put(&b, p->ev.p, p->ev.len);
        sb_printf(&b, "---\n");
        sb_put(&b, p->body.p, p->body.len);
        break;
    case M_SCOPE:
        ctype = "application/json";
        scope_json(&b, p->scope);
        break;
    case M_ALLOC:
        alloc_test(p, &b);
        break;
    case M_API:
        sb_printf(&b, "abi_version=%u size=%u sizeof=%zu inits=%u\n", api->abi_version,
                  api->size, sizeof(hornet_api_t), cnt.inits);
        break;
    case M_CONFIG: {
        const char *v = qparam(p->scope, "key", key, sizeof(key)) ? api->config(key) : NULL;
        if (v)
            sb_printf(&b, "%s", v);
        else
            status = 404;
        break;
    }
    case M_COUNTERS:
        counters_text(&b);
        break;
    case M_RECORD: {
        const char *r = qparam(p->scope, "id", key, sizeof(key)) ? record_find(key) : NULL;
        if (r)
            sb_printf(&b, "%s", r);
        else
            status = 404;
        break;
    }
    case M_ACTIVE: {
        status = 404;
        if (qparam(p->scope, "id", key, sizeof(key)))
            for (preq_t *q = active; q; q = q->next)
                if (!q->gone && strcmp(q->id, key) == 0)
                    status = 200;
        break;
    }
    case M_TICK:
        sb_printf(&b, "ticks=%ld\n", p->ticks);
        break;
    case M_NOTFOUND:
        status = 404;
        sb_printf(&b, "no such probe\n");
        break;
    default:
        break;
    }
    respond(p, status, ctype, b.p ? b.p : "", b.len);
    sb_free(&b);
}

static void
misuse(preq_t *p)
{
    int rc1 = 0, rc2 = 0, rc3 = 0, rc4 = 0, rc5 = 0;
    char msg[128], which[32] = "";
    p->responded = true;
    switch (p->mode) {
    case M_BODY_BEFORE_START:
        SCALL(p, rc1, api->response_body(p->req, "early", 5, false));
        logrec(p, "body-before-start rc=%d", rc1);
        api->log(HORNET_LOG_WARNING, "probe: body-before-start rc=%d", rc1);
        gone_after(p);
        return;
    case M_DOUBLE_START: {
        hornet_header_t h = {"x-first", 7, "1", 1};
        SCALL(p, rc1, api->response_start(p->req, 200, &h, 1, false));
        if (gone_after(p))
            return;
        SCALL(p, rc2, api->response_start(p->req, 201, NULL, 0, false));
        logrec(p, "double-start rc1=%d rc2=%d", rc1, rc2);
        api->log(HORNET_LOG_WARNING, "probe: double-start rc1=%d rc2=%d", rc1, rc2);
        if (gone_after(p))
            return;
        snprintf(msg, sizeof(msg), "second-start-rc=%d", rc2);
        SCALL(p, rc3, api->response_body(p->req, msg, strlen(msg), false));
        logrec(p, "double-start body rc=%d", rc3);
        gone_after(p);
        return;
    }
    case M_AFTER_END: {
        hornet_header_t h = {"content-length", 14, "2", 1};
        SCALL(p, rc1, api->response_start(p->req, 200, &h, 1, false));
        if (gone_after(p))
            return;
        SCALL(p, rc2, api->response_body(p->req, "ok", 2, false));
        logrec(p, "after-end start rc=%d body rc=%d", rc1, rc2);
        /* once the request body is in, this call may have run on_disconnect */
        if (gone_after(p))
            return;
        SCALL(p, rc3, api->response_body(p->req, "x", 1, false));
        if (gone_after(p))
            return;
        SCALL(p, rc4, api->response_start(p->req, 200, NULL, 0, false));
        if (gone_after(p))
            return;
        SCALL(p, rc5, api->response_body(p->req, "y", 1, true));
        logrec(p, "then body rc=%d start rc=%d body rc=%d", rc3, rc4, rc5);
        api->log(HORNET_LOG_WARNING, "probe: after-end rc=%d %d %d", rc3, rc4, rc5);
        gone_after(p);
        return;
    }
    case M_BAD_STATUS: {
        int code = (int)qlong(p->scope, "code", 42);
        SCALL(p, rc1, api->response_start(p->req, code, NULL, 0, false));
        logrec(p, "bad-status %d rc=%d", code, rc1);
        if (gone_after(p))
            return;
        snprintf(msg, sizeof(msg), "bad-status-rc=%d", rc1);
        if (rc1 == HORNET_OK) { /* accepted: finish what was started */
            SCALL(p, rc2, api->response_body(p->req, msg, strlen(msg), false));
            gone_after(p);
            return;
        }
        respond_text(p, 200, msg);
        return;
    }
    case M_INFORMATIONAL: {
        int code = (int)qlong(p->scope, "code", 103);
        hornet_header_t link = {"link", 4, "</a.css>; rel=preload", 21};
        hornet_header_t evil = {"link", 4, "a\r\nset-cookie: pwned=1", 22};
        SCALL(p, rc1, api->response_informational(p->req, code, &link, 1));
        if (gone_after(p))
            return;
        SCALL(p, rc2, api->response_informational(p->req, 103, &evil, 1));
        if (gone_after(p))
            return;
        SCALL(p, rc3, api->response_start(p->req, 200, NULL, 0, false));
        if (gone_after(p))
            return;
        SCALL(p, rc4, api->response_informational(p->req, 103, &link, 1));
        logrec(p, "informational %d rc=%d evil rc=%d start rc=%d late rc=%d", code, rc1, rc2,
               rc3, rc4);
        if (gone_after(p))
            return;
        snprintf(msg, sizeof(msg), "info rc1=%d rc2=%d late=%d", rc1, rc2, rc4);
        SCALL(p, rc5, api->response_body(p->req, msg, strlen(msg), false));
        gone_after(p);
        return;
    }
    case M_BAD_HEADER: {
        static const struct {
            const char *which;
            hornet_header_t h;
        } bad[] = {
            {"crlf", {"x-evil", 6, "a\r\nset-cookie: pwned=1", 22}},
            {"lf", {"x-evil", 6, "a\nset-cookie: pwned=1", 21}},
            {"cr", {"x-evil", 6, "a\rset-cookie: pwned=1", 21}},
            {"nul", {"x-evil", 6, "a\0b", 3}},
            {"space", {"bad name", 8, "v", 1}},
            {"colon", {"bad:name", 8, "v", 1}},
            {"newline-name", {"x\r\nset-cookie", 13, "pwned=1", 7}},
            {"empty", {"", 0, "v", 1}},
            {"pseudo", {":status", 7, "204", 3}},
        };
        qparam(p->scope, "which", which, sizeof(which));
        const hornet_header_t *h = NULL;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (strcmp(bad[i].which, which) == 0)
                h = &bad[i].h;
        if (!h) {
            respond_text(p, 400, "unknown which\n");
            return;
        }
        SCALL(p, rc1, api->response_start(p->req, 200, h, 1, false));
        logrec(p, "bad-header %s rc=%d", which, rc1);
        if (gone_after(p))
            return;
        snprintf(msg, sizeof(msg), "bad-header-rc=%d", rc1);
        if (rc1 == HORNET_OK) { /* accepted: finish what was started */
            SCALL(p, rc2, api->response_body(p->req, msg, strlen(msg), false));
            gone_after(p);
            return;
        }
        respond_text(p, 200, msg);
        return;
    }
    default:
        break;
    }
}

/* The body is complete (or the early answer is due): answer now or later. */
static void
ready(preq_t *p)
{
    if (p->responded)
        return;
    switch (p->mode) {
    case M_HANG:
    case M_EARLY:
        return;
    case M_BODY_BEFORE_START:
    case M_DOUBLE_START:
    case M_AFTER_END:
    case M_BAD_STATUS:
    case M_BAD_HEADER:
    case M_INFORMATIONAL:
        misuse(p);
        return;
    case M_CHUNKS:
    case M_TRAILERS:
    case M_FILE:
        special(p);
        return;
    case M_TICK:
        p->timer = api->timer_new(on_timer, p);
        p->t_start = api->now();
        api->timer_start(p->timer, (double)p->delay_ms / 1000.0, (double)p->delay_ms / 1000.0);
        return;
    default:
        break;
    }
    if (p->delay_ms > 0) {
        p->timer = api->timer_new(on_timer, p);
        p->t_start = api->now();
        api->timer_start(p->timer, (double)p->delay_ms / 1000.0, 0);
        return;
    }
    answer(p);
}

/* /chunks: one piece per timer tick, then an empty final body. */
static void
chunk_step(preq_t *p)
{
    int rc;
    char piece[64];
    if (p->ticks < p->ticks_wanted) {
        snprintf(piece, sizeof(piece), "chunk-%ld\n", p->ticks);
        p->ticks++;
        SCALL(p, rc, api->response_body(p->req, piece, strlen(piece), true));
        if (rc != HORNET_OK)
            logrec(p, "chunk body rc=%d", rc);
        gone_after(p);
        return;
    }
    api->timer_stop(p->timer);
    SCALL(p, rc, api->response_body(p->req, NULL, 0, false));
    logrec(p, "chunks done rc=%d", rc);
    gone_after(p);
}

/* /chunks, /trailers, /file: responses that are not one whole body. */
static void
special(preq_t *p)
{
    int rc1, rc2 = 0, rc3 = 0;
    char val[512];
    p->responded = true;
    switch (p->mode) {
    case M_CHUNKS: {
        hornet_header_t h = {"content-type", 12, "text/plain", 10};
        SCALL(p, rc1, api->response_start(p->req, 200, &h, 1, false));
        logrec(p, "chunks start rc=%d", rc1);
        if (gone_after(p))
            return;
        p->ticks = 0;
        p->timer = api->timer_new(on_timer, p);
        double every = (double)(p->delay_ms > 0 ? p->delay_ms : 10) / 1000.0;
        api->timer_start(p->timer, every, every);
        return;
    }
    case M_TRAILERS: {
        bool announce = qlong(p->scope, "announce", 1) == 1;
        hornet_header_t h[2] = {{"content-type", 12, "text/plain", 10},
                                {"trailer", 7, "x-checksum", 10}};
        hornet_header_t tr = {"x-checksum", 10, "c0ffee", 6};
        SCALL(p, rc1, api->response_start(p->req, 200, h, announce ? 2 : 1, announce));
        if (gone_after(p))
            return;
        SCALL(p, rc2, api->response_body(p->req, "payload\n", 8, false));
        if (gone_after(p))
            return;
        SCALL(p, rc3, api->response_trailers(p->req, &tr, 1, false));
        logrec(p, "trailers start rc=%d body rc=%d trailers rc=%d", rc1, rc2, rc3);
        gone_after(p);
        return;
    }
    case M_FILE: {
        if (!qparam(p->scope, "path", val, sizeof(val))) {
            respond_text(p, 400, "path?\n");
            return;
        }
        long off = qlong(p->scope, "off", 0), len = qlong(p->scope, "len", 0);
        int fd = open(val, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            respond_text(p, 404, "cannot open\n");
            return;
        }
        char cl[32];
        snprintf(cl, sizeof(cl), "%ld", len);
        hornet_header_t h = {"content-length", 14, cl, strlen(cl)};
        SCALL(p, rc1, api->response_start(p->req, 200, &h, 1, false));
        if (gone_after(p)) {
            close(fd);
            return;
        }
        SCALL(p, rc2, api->response_file(p->req, fd, (off_t)off, (size_t)len, false));
        logrec(p, "file start rc=%d file rc=%d", rc1, rc2);
        gone_after(p);
        return;
    }
    default:
        return;
    }
}

static void
on_timer(hornet_timer_t *t, void *ud)
{
    preq_t *p = ud;
    if (p->gone) { /* cannot happen: the timer is freed in on_disconnect */
        cnt.events_after_disc++;
        return;
    }
    if (p->mode == M_TICK) {
        if (++p->ticks < p->ticks_wanted)
            return;
        api->timer_stop(t);
    }
    if (p->mode == M_CHUNKS) {
        chunk_step(p);
        return;
    }
    logrec(p, "timer");
    answer(p);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    cnt.requests++;
    preq_t *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->req = req;
    p->scope = scope;
    p->next = active;
    if (active)
        active->prev = p;
    active = p;
    if (api->get_data(req) != NULL)
        logrec(p, "get_data not NULL at on_request");
    api->set_data(req, p);
    qparam(scope, "id", p->id, sizeof(p->id));
    p->delay_ms = qlong(scope, "ms", 0);
    p->ticks_wanted = qlong(scope, "n", 3);

    static const struct {
        const char *path;
        enum mode mode;
    } routes[] = {
        {"/", M_ROOT},
        {"/order", M_ORDER},
        {"/later", M_ORDER},
        {"/scope", M_SCOPE},
        {"/alloc", M_ALLOC},
        {"/api", M_API},
        {"/config", M_CONFIG},
        {"/counters", M_COUNTERS},
        {"/record", M_RECORD},
        {"/active", M_ACTIVE},
        {"/tick", M_TICK},
        {"/early", M_EARLY},
        {"/hang", M_HANG},
        {"/misuse/body-before-start", M_BODY_BEFORE_START},
        {"/misuse/double-start", M_DOUBLE_START},
        {"/misuse/after-end", M_AFTER_END},
        {"/misuse/bad-status", M_BAD_STATUS},
        {"/misuse/bad-header", M_BAD_HEADER},
        {"/misuse/informational", M_INFORMATIONAL},
        {"/chunks", M_CHUNKS},
        {"/trailers", M_TRAILERS},
        {"/file", M_FILE},
    };
    p->mode = M_NOTFOUND;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (path_is(scope, routes[i].path))
            p->mode = routes[i].mode;
    if ((scope->path_len > 7 && memcmp(scope->path, "/scope/", 7) == 0) ||
        qlong(scope, "scope", 0) == 1)
        p->mode = M_SCOPE;
    /* the record keeps the route ids (M_RECORD's own id is the one looked up) */
    if (p->mode == M_RECORD || p->mode == M_ACTIVE)
        p->id[0] = '\0';

    logrec(p, "request %.*s %.*s", (int)scope->method_len, scope->method,
           (int)scope->path_len, scope->path);
    if (p->mode == M_ALLOC) {
        p->early_mem = api->alloc(req, 64);
        for (int j = 0; j < 64; j++)
            p->early_mem[j] = (unsigned char)(0x40 + j);
    }
    if (p->mode == M_EARLY)
        respond_text(p, 200, "early\n");
    else if (p->mode == M_AFTER_END && qlong(scope, "early", 0) == 1)
        misuse(p); /* before the body: the final response_body cannot end the request */
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    preq_t *p = api->get_data(req);
    if (!p || p->disc_seen) {
        cnt.events_after_disc++;
        return;
    }
    if (p->body_done)
        logrec(p, "body after the last body");
    logrec(p, "body %zu %s", len, more_body ? "more" : "last");
    sb_put(&p->body, data, len);
    if (more_body)
        return;
    cnt.bodies_last++;
    p->body_done = true;
    ready(p);
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    preq_t *p = api->get_data(req);
    if (!p) {
        cnt.events_after_disc++;
        return;
    }
    if (p->disc_seen) {
        cnt.double_disc++;
        return;
    }
    p->disc_seen = true;
    if (completed)
        cnt.disc_true++;
    else
        cnt.disc_false++;
    if (p->in_call)
        cnt.reentrant_disc++; /* allowed: the completing call may run on_disconnect */
    if (!completed) {
        /* the client is gone: calls now return HORNET_EGONE */
        int rc = api->response_start(req, 200, NULL, 0, false);
        logrec(p, "after-gone start rc=%d", rc);
        rc = api->response_body(req, "x", 1, false);
        logrec(p, "after-gone body rc=%d", rc);
    }
    logrec(p, "disconnect %d", completed ? 1 : 0);
    if (p->timer) {
        api->timer_free(p->timer);
        p->timer = NULL;
    }
    api->set_data(req, NULL);
    p->gone = true;
    if (p->in_call == 0)
        preq_finish(p);
}

static void
on_pause(hornet_request_t *req)
{
    (void)req;
    cnt.pauses++;
}

static void
on_resume(hornet_request_t *req)
{
    (void)req;
    cnt.resumes++;
}

static int
init(const hornet_api_t *a)
{
    api = a;
    cnt.inits++;
    const char *fail = getenv("PROBE_INIT_FAIL");
    if (fail && *fail == '1') {
        api->log(HORNET_LOG_ERROR, "probe: init refuses to start (PROBE_INIT_FAIL=1)");
        return -1;
    }
    return 0;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .flags = 0,
    .name = "probe",
    .init = init,
    .on_lifespan = NULL,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
    .on_pause = on_pause,
    .on_resume = on_resume,
    .on_websocket_receive = NULL,
    .handle = NULL,
};
