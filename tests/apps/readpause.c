/*
 * readpause.c - a test app for api->read_pause, the request-body
 * backpressure an app chooses.
 *
 *   /paused    pauses its body in on_request, before a byte of it; answers
 *              "BYTES HASH violations=V" once the body is complete, HASH the
 *              FNV-1a of the body in hex. Only one at a time.
 *   /status    "paused=P received=N": whether a /paused request is waiting,
 *              and the body bytes it has heard of
 *   /resume    read_pause(false) on the waiting /paused request
 *   other      "readpause\n"
 *
 * A violation is an on_body while paused, or from inside the read_pause call
 * that resumed (the ABI says the bytes come from the loop).
 */
#include <hornet/app.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const hornet_api_t *api;
static hornet_request_t *held;    /* the /paused request, until on_disconnect */
static bool held_paused;
static bool in_resume;
static unsigned long long received;
static uint64_t hash = 14695981039346656037ULL;
static unsigned violations;

static int
init(const hornet_api_t *a)
{
    api = a;
    if (!HORNET_API_HAS(a, read_pause)) {
        a->log(HORNET_LOG_ERROR, "this server has no read_pause");
        return -1;
    }
    return 0;
}

static void
answer(hornet_request_t *req, const char *text)
{
    char len[24];
    snprintf(len, sizeof(len), "%zu", strlen(text));
    hornet_header_t h[] = {{"content-length", 14, len, strlen(len)}};
    api->response_start(req, 200, h, 1, false);
    api->response_body(req, text, strlen(text), false);
}

static bool
path_is(const hornet_scope_t *s, const char *p)
{
    return s->path_len == strlen(p) && memcmp(s->path, p, s->path_len) == 0;
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    char buf[128];
    if (path_is(scope, "/paused") && held == NULL) {
        held = req;
        held_paused = true;
        received = 0;
        hash = 14695981039346656037ULL;
        violations = 0;
        api->set_data(req, &held);
        api->read_pause(req, true);
    } else if (path_is(scope, "/status")) {
        snprintf(buf, sizeof(buf), "paused=%d received=%llu", held != NULL && held_paused,
                 received);
        answer(req, buf);
    } else if (path_is(scope, "/resume")) {
        if (held) {
            held_paused = false;
            in_resume = true;
            api->read_pause(held, false);
            in_resume = false;
        }
        answer(req, "resumed");
    } else {
        answer(req, "readpause\n");
    }
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    if (api->get_data(req) != &held)
        return;
    if (held_paused || in_resume)
        violations++;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ p[i]) * 1099511628211ULL;
    received += len;
    if (!more_body) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%llu %016llx violations=%u", received,
                 (unsigned long long)hash, violations);
        answer(req, buf);
    }
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    (void)completed;
    if (req == held)
        held = NULL;
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "readpause",
    .init = init,
    .on_request = on_request,
    .on_body = on_body,
    .on_disconnect = on_disconnect,
};
