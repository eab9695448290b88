/*
 * bridge.c - hornet-python.so, the Python bridge: runs ASGI 3 applications
 * named as Hypercorn names them (`module:app`, `pkg.mod:create_app()`) in
 * every worker, as applications on the public ABI (hornet/app.h). The
 * worker loads this module only when a Python application is configured
 * (worker/app_load.c), so hornet itself never links libpython.
 *
 * One interpreter per worker, initialised on the first load, after fork.
 * The Python half (asgi.py, compiled in) owns the asyncio loop; this half
 * turns the server's events into calls on it and drives the loop from the
 * worker's libev loop: after every event delivered, when the loop's
 * selector descriptor is readable (its own I/O, and wake-ups from other
 * threads), and when its next timer is due. The GIL is released whenever
 * control goes back to the worker's loop, so threads (run_in_executor)
 * run while the worker waits.
 *
 * The server's callbacks carry no application pointer, so each Python
 * application gets its own hornet_app_t whose on_request and on_lifespan
 * are one of MAX_APPS fixed trampolines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "include/hornet/app.h"

#define MAX_APPS 8
#define MAX_STACK_HEADERS 32

static const char glue_source[] =
#include "python/asgi_py.h"
    ;

typedef struct pyapp {
    PyObject *app;           /* the ASGI callable */
    PyObject *lifespan;      /* asgi.Lifespan, once the worker's lifespan began */
    hornet_lifespan_t *ls;   /* waiting for an answer, or NULL */
    hornet_lifespan_event_t ls_event;
    char name[256];
} pyapp_t;

static const hornet_api_t *api;
static PyObject *glue, *fn_pump, *fn_new_scope, *fn_selector_fd, *cls_lifespan;
static PyObject *s_push, *s_disconnect, *s_pause, *s_resume, *s_event, *s_state, *s_message;
static pyapp_t apps[MAX_APPS];
static hornet_app_t app_tables[MAX_APPS];
static size_t n_apps;
static hornet_timer_t *pump_timer;
static hornet_io_t *selector_io;
static PyThreadState *saved_tstate; /* the GIL is released while the worker waits */
static int depth;                   /* nested entries from the server */
static bool pumping, pump_again, selector_ready;
static bool pump_due; /* a pass is set for the end of this loop iteration */

/* --- the GIL around entries from the server ------------------------------ */

static void
enter(void)
{
    if (depth++ == 0 && saved_tstate) {
        PyEval_RestoreThread(saved_tstate);
        saved_tstate = NULL;
    }
}

static void pump(void);

/* Leaving the last nested entry: run what the event made ready, then let
 * the GIL go. */
static void
leave(void)
{
    if (depth == 1 && !pump_due)
        pump();
    if (--depth == 0)
        saved_tstate = PyEval_SaveThread();
}

static void on_pump_timer(hornet_timer_t *t, void *ud);

/* As leave, but the pass waits for the end of this loop iteration: a new
 * request's body (or its end) usually follows at once, and one pass then
 * runs the application from its first receive to its last send; the
 * events of other connections until then join the same pass (pump_due). */
static void
leave_soon(void)
{
    if (depth == 1 && !pump_due) {
        if (pump_timer == NULL)
            pump_timer = api->timer_new(on_pump_timer, NULL);
        api->timer_start(pump_timer, 0, 0);
        pump_due = true;
    }
    if (--depth == 0)
        saved_tstate = PyEval_SaveThread();
}

/* The pending exception (a new reference, its traceback attached), or
 * NULL; cleared. Python 3.12's PyErr_GetRaisedException. */
static PyObject *
take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* The current Python exception, with its traceback, to the error log. */
static void
log_py_error(const char *what)
{
    PyObject *exc = take_exception();
    if (exc == NULL)
        return;
    PyObject *tb = PyImport_ImportModule("traceback");
    PyObject *lines = tb ? PyObject_CallMethod(tb, "format_exception", "O", exc) : NULL;
    PyObject *sep = PyUnicode_FromString("");
    PyObject *text = lines && sep ? PyUnicode_Join(sep, lines) : NULL;
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    api->log(HORNET_LOG_ERROR, "%s\n%s", what, s ? s : "(no traceback)");
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(tb);
    Py_DECREF(exc);
}

/* --- driving the asyncio loop ------------------------------------------- */

static void
on_pump_timer(hornet_timer_t *t, void *ud)
{
    (void)t;
    (void)ud;
    pump_due = false;
    enter();
    leave();
}

static void
on_selector(hornet_io_t *io, void *ud)
{
    (void)io;
    (void)ud;
    enter();
    selector_ready = true;
    leave();
}

static void
pump(void)
{
    if (pumping) {
        pump_again = true;
        return;
    }
    pumping = true;
    pump_due = false; /* this pass runs what it was for */
    double next = -1;
    do {
        pump_again = false;
        PyObject *io = selector_ready ? Py_True : Py_False;
        selector_ready = false;
        PyObject *r = PyObject_CallOneArg(fn_pump, io);
        if (r == NULL) {
            log_py_error("the asyncio loop failed");
            break;
        }
        next = PyFloat_AsDouble(r);
        Py_DECREF(r);
    } while (pump_again);
    pumping = false;
    if (pump_timer == NULL)
        pump_timer = api->timer_new(on_pump_timer, NULL);
    if (next >= 0)
        api->timer_start(pump_timer, next, 0);
    else
        api->timer_stop(pump_timer);
    if (selector_io == NULL) {
        PyObject *fd = PyObject_CallNoArgs(fn_selector_fd);
        if (fd != NULL) {
            selector_io = api->io_new((int)PyLong_AsLong(fd), on_selector, NULL);
            Py_DECREF(fd);
        } else {
            log_py_error("the asyncio loop has no selector");
        }
    }
}

/* --- the _hornet module: what asgi.py calls ------------------------------ */

static hornet_request_t *
handle_of(PyObject *h)
{
    return (hornet_request_t *)PyLong_AsVoidPtr(h);
}

/* headers: an iterable of (bytes, bytes) pairs. *out points at stack (when
 * n <= MAX_STACK_HEADERS) or at memory to PyMem_Free; the values borrow
 * from *keep, to release after the call. -1 with an exception set. */
static Py_ssize_t
headers_of(PyObject *headers, hornet_header_t *stack, hornet_header_t **out, PyObject **keep)
{
    PyObject *seq = PySequence_Fast(headers, "headers must be an iterable of pairs");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    hornet_header_t *h = n <= MAX_STACK_HEADERS ? stack : PyMem_Calloc((size_t)n, sizeof(*h));
    if (h == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        if ((!PyTuple_Check(pair) && !PyList_Check(pair)) || PySequence_Fast_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "a header must be a (name, value) pair of bytes");
            goto fail;
        }
        /* borrowed: the pair, held by seq, holds them */
        PyObject *name = PySequence_Fast_GET_ITEM(pair, 0);
        PyObject *value = PySequence_Fast_GET_ITEM(pair, 1);
        if (!PyBytes_Check(name) || !PyBytes_Check(value)) {
            PyErr_Format(PyExc_TypeError, "header names and values must be bytes, got %R",
                         pair);
            goto fail;
        }
        h[i].name = PyBytes_AS_STRING(name);
        h[i].name_len = (size_t)PyBytes_GET_SIZE(name);
        h[i].value = PyBytes_AS_STRING(value);
        h[i].value_len = (size_t)PyBytes_GET_SIZE(value);
    }
    *out = h;
    *keep = seq;
    return n;
fail:
    if (h != stack)
        PyMem_Free(h);
    Py_DECREF(seq);
    return -1;
}

/* Release what headers_of gave. */
static void
headers_release(hornet_header_t *stack, hornet_header_t *hv, PyObject *keep)
{
    if (hv != stack)
        PyMem_Free(hv);
    Py_DECREF(keep);
}

static PyObject *
py_response_start(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h, *headers, *keep;
    int status, trailers;
    if (!PyArg_ParseTuple(args, "OiOp", &h, &status, &headers, &trailers))
        return NULL;
    hornet_header_t stack[MAX_STACK_HEADERS], *hv;
    Py_ssize_t n = headers_of(headers, stack, &hv, &keep);
    if (n < 0)
        return NULL;
    depth++;
    int rc = api->response_start(handle_of(h), status, hv, (size_t)n, trailers);
    depth--;
    headers_release(stack, hv, keep);
    return PyLong_FromLong(rc);
}

/* http.response.early_hint: status 103, links as `link` fields. */
static PyObject *
py_response_informational(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h, *headers, *keep;
    int status;
    if (!PyArg_ParseTuple(args, "OiO", &h, &status, &headers))
        return NULL;
    if (!HORNET_API_HAS(api, response_informational))
        return PyLong_FromLong(HORNET_EUNSUPPORTED);
    hornet_header_t stack[MAX_STACK_HEADERS], *hv;
    Py_ssize_t n = headers_of(headers, stack, &hv, &keep);
    if (n < 0)
        return NULL;
    depth++;
    int rc = api->response_informational(handle_of(h), status, hv, (size_t)n);
    depth--;
    headers_release(stack, hv, keep);
    return PyLong_FromLong(rc);
}

static PyObject *
py_response_body(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h;
    Py_buffer body;
    int more;
    if (!PyArg_ParseTuple(args, "Oy*p", &h, &body, &more))
        return NULL;
    depth++;
    int rc = api->response_body(handle_of(h), body.buf, (size_t)body.len, more);
    depth--;
    PyBuffer_Release(&body);
    return PyLong_FromLong(rc);
}

static PyObject *
py_response_trailers(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h, *headers, *keep;
    int more;
    if (!PyArg_ParseTuple(args, "OOp", &h, &headers, &more))
        return NULL;
    hornet_header_t stack[MAX_STACK_HEADERS], *hv;
    Py_ssize_t n = headers_of(headers, stack, &hv, &keep);
    if (n < 0)
        return NULL;
    depth++;
    int rc = api->response_trailers(handle_of(h), hv, (size_t)n, more);
    depth--;
    headers_release(stack, hv, keep);
    return PyLong_FromLong(rc);
}

static PyObject *
py_response_file(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h;
    int fd;
    long long offset, count;
    if (!PyArg_ParseTuple(args, "OiLL", &h, &fd, &offset, &count))
        return NULL;
    depth++;
    /* takes fd in every case */
    int rc = api->response_file(handle_of(h), fd, (off_t)offset, (size_t)count, true);
    depth--;
    return PyLong_FromLong(rc);
}

static PyObject *
py_config(PyObject *self, PyObject *args)
{
    (void)self;
    const char *key;
    if (!PyArg_ParseTuple(args, "s", &key))
        return NULL;
    const char *v = api->config(key);
    if (v == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(v);
}

static PyObject *
py_websocket_accept(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h, *headers, *keep;
    const char *subprotocol;
    if (!PyArg_ParseTuple(args, "OzO", &h, &subprotocol, &headers))
        return NULL;
    hornet_header_t stack[MAX_STACK_HEADERS], *hv;
    Py_ssize_t n = headers_of(headers, stack, &hv, &keep);
    if (n < 0)
        return NULL;
    depth++;
    int rc = api->websocket_accept(handle_of(h), subprotocol, hv, (size_t)n);
    depth--;
    headers_release(stack, hv, keep);
    return PyLong_FromLong(rc);
}

static PyObject *
py_websocket_send(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h;
    Py_buffer data;
    int is_text;
    if (!PyArg_ParseTuple(args, "Oy*p", &h, &data, &is_text))
        return NULL;
    depth++;
    int rc = api->websocket_send(handle_of(h), data.buf, (size_t)data.len, is_text);
    depth--;
    PyBuffer_Release(&data);
    return PyLong_FromLong(rc);
}

static PyObject *
py_websocket_close(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h;
    int code;
    const char *reason;
    if (!PyArg_ParseTuple(args, "Oiz", &h, &code, &reason))
        return NULL;
    depth++;
    int rc = api->websocket_close(handle_of(h), code, reason);
    depth--;
    return PyLong_FromLong(rc);
}

static PyObject *
py_abort(PyObject *self, PyObject *h)
{
    (void)self;
    depth++;
    api->abort(handle_of(h));
    depth--;
    Py_RETURN_NONE;
}

/* read_pause(h, paused): asgi.HTTP's inbox crossed its bound. A server
 * older than the function (HORNET_API_HAS) keeps delivering, as before. */
static PyObject *
py_read_pause(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *h;
    int paused;
    if (!PyArg_ParseTuple(args, "Op", &h, &paused))
        return NULL;
    if (HORNET_API_HAS(api, read_pause)) {
        depth++;
        api->read_pause(handle_of(h), paused);
        depth--;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_lifespan_answer(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned index;
    int startup;
    PyObject *failure;
    if (!PyArg_ParseTuple(args, "IpO", &index, &startup, &failure))
        return NULL;
    if (index >= n_apps || apps[index].ls == NULL)
        Py_RETURN_NONE;
    pyapp_t *a = &apps[index];
    hornet_lifespan_t *ls = a->ls;
    hornet_lifespan_event_t ev = startup ? HORNET_LIFESPAN_STARTUP : HORNET_LIFESPAN_SHUTDOWN;
    a->ls = NULL;
    depth++;
    if (failure == Py_None) {
        api->lifespan_complete(ls, ev);
    } else {
        PyObject *s = PyObject_Str(failure);
        api->lifespan_failed(ls, ev, s ? PyUnicode_AsUTF8(s) : "lifespan failed");
        Py_XDECREF(s);
        PyErr_Clear();
    }
    depth--;
    Py_RETURN_NONE;
}

static PyObject *
py_log(PyObject *self, PyObject *args)
{
    (void)self;
    int level;
    const char *msg;
    if (!PyArg_ParseTuple(args, "is", &level, &msg))
        return NULL;
    api->log((hornet_log_level_t)level, "%s", msg);
    Py_RETURN_NONE;
}

static PyMethodDef hornet_methods[] = {
    {"response_start", py_response_start, METH_VARARGS, NULL},
    {"response_body", py_response_body, METH_VARARGS, NULL},
    {"response_informational", py_response_informational, METH_VARARGS, NULL},
    {"response_trailers", py_response_trailers, METH_VARARGS, NULL},
    {"response_file", py_response_file, METH_VARARGS, NULL},
    {"config", py_config, METH_VARARGS, NULL},
    {"websocket_accept", py_websocket_accept, METH_VARARGS, NULL},
    {"websocket_send", py_websocket_send, METH_VARARGS, NULL},
    {"websocket_close", py_websocket_close, METH_VARARGS, NULL},
    {"abort", py_abort, METH_O, NULL},
    {"read_pause", py_read_pause, METH_VARARGS, NULL},
    {"lifespan_answer", py_lifespan_answer, METH_VARARGS, NULL},
    {"log", py_log, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef hornet_module = {
    PyModuleDef_HEAD_INIT, "_hornet", NULL, -1, hornet_methods, NULL, NULL, NULL, NULL,
};

static PyObject *
init_hornet_module(void)
{
    return PyModule_Create(&hornet_module);
}

/* --- the server's callbacks --------------------------------------------- */

static int
app_init(const hornet_api_t *a)
{
    api = a;
    return 0;
}

/* --- scopes ------------------------------------------------------------- */

/* The scope's keys, made once; a scope is a copy of a template (which
 * holds every key, so the copy never grows) with its values set. */
enum {
    K_TYPE, K_ASGI, K_HTTP_VERSION, K_METHOD, K_SCHEME, K_PATH, K_RAW_PATH, K_QUERY_STRING,
    K_ROOT_PATH, K_HEADERS, K_CLIENT, K_SERVER, K_EXTENSIONS, K_SUBPROTOCOLS, N_KEYS
};
static const char *const key_names[N_KEYS] = {
    "type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
    "root_path", "headers", "client", "server", "extensions", "subprotocols",
};
static PyObject *keys[N_KEYS], *http_template, *websocket_template;
static PyObject *http_exts[3], *websocket_exts[2]; /* NULL-ended */

/* The few short strings every scope repeats (versions, schemes, methods),
 * made once: a scope then costs no allocation for them. */
#define MAX_WORDS 16
static struct word {
    char s[8];
    size_t n;
    PyObject *obj;
} words[MAX_WORDS];
static size_t n_words;

static PyObject *
word_of(const char *s, size_t n)
{
    for (size_t i = 0; i < n_words; i++)
        if (words[i].n == n && memcmp(words[i].s, s, n) == 0)
            return Py_NewRef(words[i].obj);
    PyObject *obj = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
    if (obj && n < sizeof(words[0].s) && n_words < MAX_WORDS) {
        struct word *w = &words[n_words++];
        memcpy(w->s, s, n);
        w->n = n;
        w->obj = Py_NewRef(obj);
    }
    return obj;
}

/* Byte strings of the scope as Python objects. */
static PyObject *
str_of(const char *s, size_t n)
{
    return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)n : 0, "surrogateescape");
}

static PyObject *
bytes_of(const char *s, size_t n)
{
    return PyBytes_FromStringAndSize(s ? s : "", s ? (Py_ssize_t)n : 0);
}

static PyObject *
address_of(const char *host, int port)
{
    if (host == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(si)", host, port);
}

static PyObject *
headers_list(const hornet_header_t *hv, size_t n)
{
    PyObject *headers = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; headers && i < n; i++) {
        PyObject *pair = PyTuple_New(2);
        PyObject *name = bytes_of(hv[i].name, hv[i].name_len);
        PyObject *value = bytes_of(hv[i].value, hv[i].value_len);
        if (pair == NULL || name == NULL || value == NULL) {
            Py_XDECREF(pair);
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_CLEAR(headers);
            break;
        }
        PyTuple_SET_ITEM(pair, 0, name);
        PyTuple_SET_ITEM(pair, 1, value);
        PyList_SET_ITEM(headers, (Py_ssize_t)i, pair);
    }
    return headers;
}

/* {name: {}, ...}: the extensions a scope reports (names: NULL-ended), a
 * new dict for every scope since an application may write into it. */
static PyObject *
extensions_of(PyObject *const *names)
{
    PyObject *ext = PyDict_New();
    for (; ext && *names; names++) {
        PyObject *empty = PyDict_New();
        if (empty == NULL || PyDict_SetItem(ext, *names, empty) < 0)
            Py_CLEAR(ext);
        Py_XDECREF(empty);
    }
    return ext;
}

/* Set key to value (a new reference, or NULL for a failure already set). */
static int
put(PyObject *d, int key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, keys[key], value);
    Py_DECREF(value);
    return rc;
}

static int
make_scope_templates(PyObject *asgi_info)
{
    for (int i = 0; i < N_KEYS; i++)
        if ((keys[i] = PyUnicode_InternFromString(key_names[i])) == NULL)
            return -1;
    http_exts[0] = PyUnicode_InternFromString("http.response.trailers");
    http_exts[1] = PyUnicode_InternFromString("http.response.early_hint");
    websocket_exts[0] = PyUnicode_InternFromString("websocket.http.response");
    http_template = PyDict_New();
    websocket_template = PyDict_New();
    if (!http_exts[0] || !http_exts[1] || !websocket_exts[0] || !http_template ||
        !websocket_template)
        return -1;
    for (int i = 0; i < N_KEYS; i++)
        if ((i != K_SUBPROTOCOLS && PyDict_SetItem(http_template, keys[i], Py_None) < 0) ||
            (i != K_METHOD && PyDict_SetItem(websocket_template, keys[i], Py_None) < 0))
            return -1;
    if (put(http_template, K_TYPE, PyUnicode_FromString("http")) < 0 ||
        put(websocket_template, K_TYPE, PyUnicode_FromString("websocket")) < 0 ||
        PyDict_SetItem(http_template, keys[K_ASGI], asgi_info) < 0 ||
        PyDict_SetItem(websocket_template, keys[K_ASGI], asgi_info) < 0)
        return -1;
    return 0;
}

/* The ASGI scope of a request; state: the lifespan's, copied in, or NULL. */
static PyObject *
scope_of(const hornet_scope_t *s, PyObject *state)
{
    bool ws = s->type == HORNET_SCOPE_WEBSOCKET;
    PyObject *d = PyDict_Copy(ws ? websocket_template : http_template);
    if (d == NULL)
        return NULL;
    if (put(d, K_HTTP_VERSION, word_of(s->http_version, strlen(s->http_version))) < 0 ||
        put(d, K_SCHEME, word_of(s->scheme, strlen(s->scheme))) < 0 ||
        put(d, K_PATH, str_of(s->path, s->path_len)) < 0 ||
        put(d, K_RAW_PATH, bytes_of(s->raw_path, s->raw_path_len)) < 0 ||
        put(d, K_QUERY_STRING, bytes_of(s->query_string, s->query_string_len)) < 0 ||
        put(d, K_ROOT_PATH, str_of(s->root_path, s->root_path_len)) < 0 ||
        put(d, K_HEADERS, headers_list(s->headers, s->n_headers)) < 0 ||
        put(d, K_CLIENT, address_of(s->client_host, s->client_port)) < 0 ||
        put(d, K_SERVER, address_of(s->server_host, s->server_port < 0 ? 0 : s->server_port)) <
            0 ||
        put(d, K_EXTENSIONS, extensions_of(ws ? websocket_exts : http_exts)) < 0)
        goto fail;
    if (ws) {
        PyObject *subprotocols = PyList_New((Py_ssize_t)s->n_subprotocols);
        for (size_t i = 0; subprotocols && i < s->n_subprotocols; i++) {
            PyObject *p = PyUnicode_FromString(s->subprotocols[i]);
            if (p == NULL)
                Py_CLEAR(subprotocols);
            else
                PyList_SET_ITEM(subprotocols, (Py_ssize_t)i, p);
        }
        if (put(d, K_SUBPROTOCOLS, subprotocols) < 0)
            goto fail;
    } else if (put(d, K_METHOD, word_of(s->method, s->method_len)) < 0) {
        goto fail;
    }
    if (state && PyDict_SetItem(d, s_state, state) < 0)
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static void
on_request(unsigned i, hornet_request_t *req, const hornet_scope_t *scope)
{
    enter();
    pyapp_t *a = &apps[i];
    /* Hypercorn copies the lifespan's state into every scope */
    PyObject *state = NULL;
    if (a->lifespan) {
        PyObject *st = PyObject_GetAttr(a->lifespan, s_state);
        state = st && PyDict_Check(st) ? PyDict_Copy(st) : NULL;
        Py_XDECREF(st);
    }
    PyObject *sc = !a->lifespan || state ? scope_of(scope, state) : NULL;
    PyObject *h = PyLong_FromVoidPtr(req);
    PyObject *r = sc && h ? PyObject_CallFunctionObjArgs(fn_new_scope, a->app, h, sc, NULL)
                          : NULL;
    if (r == NULL) {
        log_py_error("cannot start the ASGI application");
        static const hornet_header_t hdr[] = {{"content-length", 14, "0", 1}};
        api->response_start(req, 500, hdr, 1, false);
        api->response_body(req, NULL, 0, false);
    } else {
        api->set_data(req, r); /* the reference is the request's until on_disconnect */
    }
    Py_XDECREF(sc);
    Py_XDECREF(state);
    Py_XDECREF(h);
    leave_soon();
}

/* Call method name on the request's object, if it has one. */
static void
request_call(hornet_request_t *req, PyObject *name, PyObject *arg1, PyObject *arg2)
{
    PyObject *r = api->get_data(req);
    if (r == NULL)
        return;
    PyObject *res = PyObject_CallMethodObjArgs(r, name, arg1, arg2, NULL);
    if (res == NULL)
        log_py_error("the ASGI bridge failed");
    Py_XDECREF(res);
}

static void
on_body(hornet_request_t *req, const void *data, size_t len, bool more_body)
{
    enter();
    PyObject *body = PyBytes_FromStringAndSize(data ? data : "", data ? (Py_ssize_t)len : 0);
    request_call(req, s_push, body, more_body ? Py_True : Py_False);
    Py_XDECREF(body);
    leave();
}

static void
on_websocket_receive(hornet_request_t *req, const void *data, size_t len, bool is_text)
{
    enter();
    PyObject *msg = is_text ? PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "strict")
                            : PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    if (msg)
        request_call(req, s_message, msg, is_text ? Py_True : Py_False);
    else
        log_py_error("cannot decode a WebSocket message");
    Py_XDECREF(msg);
    leave();
}

static void
on_disconnect(hornet_request_t *req, bool completed)
{
    enter();
    PyObject *r = api->get_data(req);
    PyObject *code = PyLong_FromLong(api->websocket_close_code(req, NULL, NULL));
    request_call(req, s_disconnect, completed ? Py_True : Py_False, code);
    Py_XDECREF(code);
    api->set_data(req, NULL);
    Py_XDECREF(r);
    leave();
}

static void
on_pause(hornet_request_t *req)
{
    enter();
    request_call(req, s_pause, NULL, NULL);
    leave();
}

static void
on_resume(hornet_request_t *req)
{
    enter();
    request_call(req, s_resume, NULL, NULL);
    leave();
}

static void
on_lifespan(unsigned i, hornet_lifespan_t *ls, hornet_lifespan_event_t ev)
{
    enter();
    pyapp_t *a = &apps[i];
    if (a->lifespan == NULL)
        a->lifespan = PyObject_CallFunction(cls_lifespan, "OI", a->app, i);
    a->ls = ls;
    a->ls_event = ev;
    PyObject *name = PyUnicode_FromString(ev == HORNET_LIFESPAN_STARTUP ? "startup" : "shutdown");
    PyObject *res = a->lifespan && name
                        ? PyObject_CallMethodObjArgs(a->lifespan, s_event, name, NULL)
                        : NULL;
    Py_XDECREF(name);
    if (res == NULL) {
        log_py_error("the ASGI lifespan failed");
        if (a->ls) {
            a->ls = NULL;
            api->lifespan_complete(ls, ev);
        }
    }
    Py_XDECREF(res);
    leave();
}

#define TRAMPOLINES(i)                                                                       \
    static void on_request_##i(hornet_request_t *req, const hornet_scope_t *scope)          \
    {                                                                                        \
        on_request(i, req, scope);                                                           \
    }                                                                                        \
    static void on_lifespan_##i(hornet_lifespan_t *ls, hornet_lifespan_event_t ev)          \
    {                                                                                        \
        on_lifespan(i, ls, ev);                                                              \
    }
TRAMPOLINES(0)
TRAMPOLINES(1)
TRAMPOLINES(2)
TRAMPOLINES(3)
TRAMPOLINES(4)
TRAMPOLINES(5)
TRAMPOLINES(6)
TRAMPOLINES(7)

static void (*const request_fns[MAX_APPS])(hornet_request_t *, const hornet_scope_t *) = {
    on_request_0, on_request_1, on_request_2, on_request_3,
    on_request_4, on_request_5, on_request_6, on_request_7,
};
static void (*const lifespan_fns[MAX_APPS])(hornet_lifespan_t *, hornet_lifespan_event_t) = {
    on_lifespan_0, on_lifespan_1, on_lifespan_2, on_lifespan_3,
    on_lifespan_4, on_lifespan_5, on_lifespan_6, on_lifespan_7,
};

/* --- loading ------------------------------------------------------------- */

/* The pending exception as the loader's message (asgi.describe). */
static void
describe_error(char *err, size_t size)
{
    PyObject *exc = take_exception();
    PyObject *text = exc && glue ? PyObject_CallMethod(glue, "describe", "O", exc) : NULL;
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    snprintf(err, size, "%s", s ? s : "a Python error with no description");
    size_t n = strlen(err);
    while (n > 0 && err[n - 1] == '\n')
        err[--n] = '\0';
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(exc);
}

static int
start_interpreter(char *err, size_t size)
{
    if (PyImport_AppendInittab("_hornet", init_hornet_module) < 0) {
        snprintf(err, size, "cannot register the _hornet module");
        return -1;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    /* the worker handles its signals through a signalfd; Python must not */
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    PyStatus st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, size, "cannot start Python: %s", st.err_msg ? st.err_msg : "?");
        return -1;
    }
    PyObject *code = Py_CompileString(glue_source, "hornet/python/asgi.py", Py_file_input);
    glue = code ? PyImport_ExecCodeModule("hornet_asgi", code) : NULL;
    Py_XDECREF(code);
    if (glue == NULL) {
        describe_error(err, size);
        return -1;
    }
    fn_pump = PyObject_GetAttrString(glue, "pump");
    fn_new_scope = PyObject_GetAttrString(glue, "new_scope");
    fn_selector_fd = PyObject_GetAttrString(glue, "selector_fd");
    cls_lifespan = PyObject_GetAttrString(glue, "Lifespan");
    s_push = PyUnicode_InternFromString("push");
    s_disconnect = PyUnicode_InternFromString("disconnect");
    s_pause = PyUnicode_InternFromString("pause");
    s_resume = PyUnicode_InternFromString("resume");
    s_event = PyUnicode_InternFromString("event");
    s_state = PyUnicode_InternFromString("state");
    s_message = PyUnicode_InternFromString("message");
    PyObject *asgi_info = PyObject_GetAttrString(glue, "ASGI");
    int rc = asgi_info ? make_scope_templates(asgi_info) : -1;
    Py_XDECREF(asgi_info);
    if (rc < 0) {
        describe_error(err, size);
        return -1;
    }
    return 0;
}

/* The application spec names (MODULE[:ATTR]) as a hornet application, or
 * NULL with err saying why (with the Python traceback when the import
 * itself failed). mode: "auto", "asgi" or "simple" (app_mode; its "wsgi" is
 * "simple" once parsed, and "wsgi" is taken here too); app_dir:
 * first on sys.path, or NULL for the working directory. */
const hornet_app_t *hornet_python_app(const char *spec, const char *mode, const char *app_dir,
                                      char *err, size_t size);

const hornet_app_t *
hornet_python_app(const char *spec, const char *mode, const char *app_dir, char *err,
                  size_t size)
{
    if (n_apps == MAX_APPS) {
        snprintf(err, size, "%s: at most %d Python applications per server", spec, MAX_APPS);
        return NULL;
    }
    if (!Py_IsInitialized()) {
        if (start_interpreter(err, size) < 0)
            return NULL;
    } else {
        PyEval_RestoreThread(saved_tstate);
        saved_tstate = NULL;
    }
    PyObject *app = PyObject_CallMethod(glue, "load", "ssz", spec, mode, app_dir);
    if (app == NULL)
        describe_error(err, size);
    saved_tstate = PyEval_SaveThread();
    if (app == NULL)
        return NULL;
    unsigned i = (unsigned)n_apps++;
    apps[i].app = app;
    snprintf(apps[i].name, sizeof(apps[i].name), "%s", spec);
    app_tables[i] = (hornet_app_t){
        .abi_version = HORNET_ABI_VERSION,
        .name = apps[i].name,
        .init = app_init,
        .on_lifespan = lifespan_fns[i],
        .on_request = request_fns[i],
        .on_body = on_body,
        .on_disconnect = on_disconnect,
        .on_pause = on_pause,
        .on_resume = on_resume,
        .on_websocket_receive = on_websocket_receive,
    };
    return &app_tables[i];
}

/* For use_reloader: the source files of the Python applications' own
 * modules, one a line, into buf (NUL-terminated, cut at size). Returns the
 * length. */
size_t hornet_python_files(char *buf, size_t size);

size_t
hornet_python_files(char *buf, size_t size)
{
    if (size == 0 || !Py_IsInitialized())
        return 0;
    buf[0] = '\0';
    PyEval_RestoreThread(saved_tstate);
    saved_tstate = NULL;
    PyObject *r = PyObject_CallMethod(glue, "watch_files", NULL);
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    if (s)
        snprintf(buf, size, "%s", s);
    PyErr_Clear();
    Py_XDECREF(r);
    saved_tstate = PyEval_SaveThread();
    return strlen(buf);
}
