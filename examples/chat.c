/*
 * chat.c - a WebSocket chat room: every message one client sends reaches
 * every client connected to the same worker, the sender included. It shows
 * the WebSocket side of the ABI: one app serving both scopes (GET / is an
 * HTTP page, any WebSocket handshake is a chat member), accepting with a
 * subprotocol, keeping state across requests (the member list, per worker),
 * websocket_send to many, what to do with HORNET_EAGAIN when one reader is
 * slow, and on_disconnect as the one place a member leaves.
 *
 * The room is per worker: hornet is prefork and workers share nothing, so
 * clients on different workers do not see each other. Run it with one worker
 * (the default) to have a single room.
 *
 *   make && hornet ./libchat.so
 *   open http://127.0.0.1:8000/ in two browser tabs and type
 */
#include <hornet/app.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* One member of the room. Lives in request memory (api->alloc), so the
 * server frees it after on_disconnect, which is where it leaves the list:
 * nothing here is malloc'ed, nothing can leak. */
typedef struct member {
    hornet_request_t *req;
    struct member *prev, *next;
    unsigned long dropped; /* messages not delivered because it read too slowly */
} member_t;

static const hornet_api_t *api;

/* The room. Static, so per worker (each worker has its own copy after fork)
 * and touched only from the worker's one loop thread: no locking. */
static member_t *members;
static size_t n_members;

static const char page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<title>hornet chat</title>\n"
    "<style>\n"
    "body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }\n"
    "#log { list-style: none; padding: 0; min-height: 10em; border: 1px solid #ccc; }\n"
    "#log li { padding: 0.2em 0.5em; }\n"
    "#msg { width: 80%; }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>hornet chat</h1>\n"
    "<p>status: <span id=\"status\">connecting</span></p>\n"
    "<ul id=\"log\"></ul>\n"
    "<form id=\"form\"><input id=\"msg\" autocomplete=\"off\" autofocus>"
    "<button>send</button></form>\n"
    "<script>\n"
    "'use strict';\n"
    "const logEl = document.getElementById('log');\n"
    "const statusEl = document.getElementById('status');\n"
    "const input = document.getElementById('msg');\n"
    "function show(text) {\n"
    "  const li = document.createElement('li');\n"
    "  li.textContent = text; /* text, never HTML: messages come from anyone */\n"
    "  logEl.appendChild(li);\n"
    "}\n"
    "const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') +\n"
    "                         location.host + '/chat', ['chat']);\n"
    "ws.binaryType = 'arraybuffer';\n"
    "ws.onopen = () => { statusEl.textContent = 'connected'; };\n"
    "ws.onclose = (e) => { statusEl.textContent = 'closed (' + e.code + ')'; };\n"
    "ws.onmessage = (e) => {\n"
    "  show(typeof e.data === 'string' ? e.data : '[' + e.data.byteLength + ' bytes]');\n"
    "};\n"
    "document.getElementById('form').onsubmit = (e) => {\n"
    "  e.preventDefault();\n"
    "  if (input.value !== '' && ws.readyState === WebSocket.OPEN) ws.send(input.value);\n"
    "  input.value = '';\n"
    "};\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

static int
init(const hornet_api_t *server)
{
    api = server;
    return 0;
}

static void
respond(hornet_request_t *req, int status, const char *type, const char *body, size_t len)
{
    char clen[24];
    hornet_header_t h[] = {
        {"content-type", 12, type, strlen(type)},
        {"content-length", 14, clen, 0},
        {"allow", 5, "GET, HEAD", 9}, /* only sent with 405 */
    };

    h[1].value_len = (size_t)snprintf(clen, sizeof(clen), "%zu", len);
    if (api->response_start(req, status, h, status == 405 ? 3 : 2, false) == HORNET_OK)
        api->response_body(req, body, len, false);
}

/* GET / is the page; the server leaves out the body for HEAD by itself. */
static void
on_http(hornet_request_t *req, const hornet_scope_t *scope)
{
    static const char not_found[] = "not found: the chat page is /\n";
    static const char not_allowed[] = "only GET and HEAD\n";
    bool get = scope->method_len == 3 && memcmp(scope->method, "GET", 3) == 0;
    bool head = scope->method_len == 4 && memcmp(scope->method, "HEAD", 4) == 0;

    if (!get && !head)
        respond(req, 405, "text/plain", not_allowed, sizeof(not_allowed) - 1);
    else if (scope->path_len != 1 || scope->path[0] != '/')
        respond(req, 404, "text/plain", not_found, sizeof(not_found) - 1);
    else
        respond(req, 200, "text/html; charset=utf-8", page, sizeof(page) - 1);
}

/* A WebSocket handshake, on any path: everyone is welcome. The page asks for
 * the subprotocol "chat"; a client that offers it gets it (browsers fail the
 * connection if the server picks one they did not offer, and clients that
 * offered some usually expect one back), a client offering none gets none. */
static void
on_websocket_connect(hornet_request_t *req, const hornet_scope_t *scope)
{
    const char *proto = NULL;
    member_t *m;
    size_t i;

    for (i = 0; i < scope->n_subprotocols; i++) {
        if (strcmp(scope->subprotocols[i], "chat") == 0) {
            proto = scope->subprotocols[i];
            break;
        }
    }
    if (api->websocket_accept(req, proto, NULL, 0) != HORNET_OK)
        return; /* the client is gone already: nothing joined, nothing to undo */

    m = api->alloc(req, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->req = req;
    m->next = members;
    if (members)
        members->prev = m;
    members = m;
    n_members++;
    /* on_disconnect finds the member through this pointer. */
    api->set_data(req, m);
    api->log(HORNET_LOG_DEBUG, "chat: %s:%d joined (%zu in the room)",
             scope->client_host ? scope->client_host : "unix", scope->client_port, n_members);
}

static void
on_request(hornet_request_t *req, const hornet_scope_t *scope)
{
    if (scope->type == HORNET_SCOPE_WEBSOCKET)
        on_websocket_connect(req, scope);
    else
        on_http(req, scope);
}

/* One message in: the same bytes, same type, out to every member.
 *
 * HORNET_EAGAIN means that member's unsent output is already over the
 * server's hard limit: it reads slower than the room talks. This message is
 * then dropped for that member alone. The alternatives are worse for a chat:
 * holding the message back until its on_resume means a queue per member that
 * grows without bound for as long as the reader stays slow (the memory the
 * hard limit exists to protect), and waiting for the slowest member before
 * broadcasting again would let one stalled client silence everyone. A slow
 * reader missing some lines is what a chat can live with; the drop count
 * tells how many it missed.
 *
 * HORNET_EGONE: that member left; its on_disconnect comes from the loop
 * later (never from inside this call) and takes it off the list, so the
 * list stays intact while we walk it. */
static void
on_websocket_receive(hornet_request_t *req, const void *data, size_t len, bool is_text)
{
    member_t *m;
    size_t delivered = 0;

    (void)req;
    for (m = members; m != NULL; m = m->next) {
        int rc = api->websocket_send(m->req, data, len, is_text);

        if (rc == HORNET_OK) {
            delivered++;
        } else if (rc == HORNET_EAGAIN) {
            m->dropped++;
            api->log(HORNET_LOG_DEBUG,
                     "chat: member %p reads too slowly, dropped a %zu-byte message "
                     "(%lu dropped so far)",
                     (void *)m, len, m->dropped);
        }
    }
    api->log(HORNET_LOG_DEBUG, "chat: %zu-byte %s message to %zu of %zu members", len,
             is_text ? "text" : "binary", delivered, n_members);
}

/* Once per request, whichever way it ended. HTTP requests have no member
 * (get_data is NULL); a WebSocket's member leaves the room here, before the
 * server frees the memory it lives in. */
static void
on_disconnect(hornet_request_t *req, bool completed)
{
    member_t *m = api->get_data(req);
    const char *reason = NULL;
    size_t reason_len = 0;
    int code = 0;

    if (m == NULL)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    n_members--;
    /* websocket_close_code was appended to the table later: an older server
     * does not have it, so ask only if the table it handed us is long enough. */
    if (HORNET_API_HAS(api, websocket_close_code))
        code = api->websocket_close_code(req, &reason, &reason_len);
    api->log(HORNET_LOG_DEBUG,
             "chat: member %p left (close code %d \"%.*s\", %s, %lu messages dropped; "
             "%zu in the room)",
             (void *)m, code, (int)reason_len, reason ? reason : "",
             completed ? "clean close" : "connection lost", m->dropped, n_members);
}

const hornet_app_t app = {
    .abi_version = HORNET_ABI_VERSION,
    .name = "chat",
    .init = init,
    .on_request = on_request,
    .on_disconnect = on_disconnect,
    .on_websocket_receive = on_websocket_receive,
};
