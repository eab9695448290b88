"""Python ASGI applications (issue 15): named as Hypercorn names them (`module:app`,
`module:create_app()`), loaded by the Python bridge (hornet-python.so) in every worker, run on
an asyncio loop driven by the worker's loop. Raw ASGI apps show the protocol (scope, request
body in pieces, streaming responses, lifespan state, errors before and after the response
starts, client disconnects, asyncio's own I/O and threads, a body the app does not receive()
held back by the server); Starlette, FastAPI, Flask and Django from Debian show real
frameworks. Start-up errors are one NoAppError with the Python traceback, from `hornet -t` as
from a start, never a respawn loop.

Under valgrind (tests/valgrind/python.supp, PYTHONMALLOC=malloc) only VALGRIND_SUBSET runs, one
test of each path through the bridge's C: a Python server takes ~20 s to start there, and
importing a framework longer than a server may take. All run in the plain and ASan passes."""
import hashlib
import os
import socket
import ssl
import struct
import textwrap
import time

import pytest

from hornet_fixture import (Conn, build_request, children, curl, http_request, run_hornet,
                            wait_until)
from test_h2 import RawH2, headers_frame, req_headers, rss_kib
from tls_fixture import tls_certs  # noqa: F401  (a fixture, for the TLS variants)

UNDER_VALGRIND = bool(os.environ.get("HORNET_UNDER_VALGRIND"))
framework = pytest.mark.skipif(UNDER_VALGRIND, reason="imports a framework: minutes under valgrind")
# 64 MiB through valgrind, and quiet periods that are not quiet there (test_app_abi's
# read_pause tests run the same server paths under valgrind)
big_upload = pytest.mark.skipif(UNDER_VALGRIND, reason="a 64 MiB upload under valgrind")
# under valgrind the interpreter starts twice (the check child, the worker) in ~10 s
READY = 60 if UNDER_VALGRIND else 10
# ...which makes every test here cost ~20 s there: the valgrind pass runs one test of each
# path through the bridge's C (scopes, bodies both ways, errors, disconnects, the asyncio
# loop's own I/O and threads, informational responses, WebSocket, WSGI's threads, a paused
# body); the rest run in the plain and ASan passes, where the same C runs.
VALGRIND_SUBSET = {
    "test_raw_asgi_app_scope_and_hello", "test_request_body_in_pieces_and_streamed_response",
    "test_exceptions_before_and_after_the_response", "test_client_disconnect_reaches_the_app",
    "test_asyncio_threads_and_connections", "test_early_hints_over_http2",
    "test_websocket_over_http1", "test_wsgi_environ_and_responses",
    "test_a_slow_wsgi_view_holds_one_thread_not_the_worker",
    "test_http1_client_gone_while_its_body_is_paused",
}


@pytest.fixture(autouse=True)
def valgrind_subset(request):
    if UNDER_VALGRIND and request.node.originalname not in VALGRIND_SUBSET:
        pytest.skip("run in the plain and ASan passes; under valgrind only VALGRIND_SUBSET")

RAW = '''
import asyncio, hashlib, os, time

gate = None  # /held waits on it until /release sets it (made on the running loop)
waiting = 0  # /held requests at the gate


def the_gate():
    global gate
    if gate is None:
        gate = asyncio.Event()
    return gate

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello from startup"
                await send({"type": "lifespan.startup.complete"})
            else:
                open(os.environ["SHUTDOWN_MARK"], "w").close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if scope["type"] == "websocket":
        return await websocket(scope, receive, send)
    if path == "/scope":
        scope["state"]["greeting"] = "changed by a request"
        body = repr({k: scope[k] for k in ("type", "http_version", "method", "scheme", "path",
                                           "raw_path", "query_string", "root_path", "client",
                                           "server", "asgi")})
        return await text(send, body)
    if path == "/state":
        return await text(send, scope["state"]["greeting"])
    if path == "/echo":
        pieces = []
        while True:
            m = await receive()
            pieces.append(len(m.get("body", b"")))
            if not m.get("more_body"):
                break
        return await text(send, "%d bytes in %d piece(s)" % (sum(pieces), len(pieces)))
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"part %d\\n" % i,
                        "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"done\\n"})
        return
    if path == "/error":
        raise ValueError("error before the response")
    if path == "/late-error":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("error after the response started")
    if path == "/disconnect":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"waiting", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        open(os.environ["DISCONNECT_MARK"], "w").close()
        return
    if path == "/held":
        # reads nothing until /release: its body waits in the client and the kernel
        global waiting
        waiting += 1
        await the_gate().wait()
        h, n = hashlib.sha256(), 0
        while True:
            m = await receive()
            if m["type"] != "http.request":
                open(os.environ["DISCONNECT_MARK"], "w").close()
                return
            h.update(m.get("body", b""))
            n += len(m.get("body", b""))
            if not m.get("more_body"):
                break
        return await text(send, "%d %s" % (n, h.hexdigest()))
    if path == "/waiting":
        return await text(send, str(waiting))
    if path == "/release":
        the_gate().set()
        return await text(send, "released")
    if path == "/thread":
        loop = asyncio.get_running_loop()
        t = await loop.run_in_executor(None, lambda: (time.sleep(0.05), "from a thread")[1])
        return await text(send, t)
    if path == "/connect":
        host, port = scope["server"]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /state HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
        data = await reader.read()
        writer.close()
        return await text(send, "fetched: " + data.split(b"\\r\\n\\r\\n", 1)[1].decode())
    if path == "/loop":
        loop = asyncio.get_running_loop()
        return await text(send, "%s.%s" % (type(loop).__module__, type(loop).__mro__[-3].__name__))
    if path == "/early-hint":
        await send({"type": "http.response.early_hint",
                    "links": [b"</style.css>; rel=preload; as=style",
                              "</app.js>; rel=preload; as=script"]})
        return await text(send, repr(scope["extensions"]))
    if path == "/late-hint":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.early_hint", "links": [b"</late.css>; rel=preload"]})
        return
    await text(send, "Hello, ASGI!")


async def websocket(scope, receive, send):
    path = scope["path"]
    assert (await receive())["type"] == "websocket.connect"
    if path == "/ws-deny":
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-length", b"13")]})
        await send({"type": "websocket.http.response.body", "body": b"denied by app"})
        return
    if path == "/ws-refuse":
        await send({"type": "websocket.close"})
        return
    offered = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": offered[-1] if offered else None,
                "headers": [(b"x-hello", b"from-python")]})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            with open(os.environ["DISCONNECT_MARK"], "w") as f:
                f.write(str(m["code"]))
            return
        if m.get("text") == "close-please":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            continue
        if m.get("text") is not None:
            await send({"type": "websocket.send", "text": m["text"].upper()})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"][::-1]})


async def text(send, s):
    body = s.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def create_app(greeting):
    async def factory_app(scope, receive, send):
        if scope["type"] == "http":
            await text(send, greeting)
    return factory_app
'''

STARLETTE = '''
import asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route


async def home(request):
    return JSONResponse({"hello": "world", "path": request.url.path})


async def reverse(request):
    return PlainTextResponse((await request.body())[::-1])


async def stream(request):
    async def gen():
        for i in range(3):
            yield b"chunk %d\\n" % i
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type="text/plain")


app = Starlette(routes=[Route("/", home), Route("/reverse", reverse, methods=["POST"]),
                        Route("/stream", stream)])
'''

FASTAPI = '''
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@app.post("/items")
async def create(item: Item):
    return {"name": item.name, "total": item.price * 2}
'''


WSGI = '''
import os, sys, time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/environ":
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                "CONTENT_LENGTH", "SERVER_PROTOCOL", "HTTP_X_TWICE", "wsgi.url_scheme",
                "wsgi.multithread")
        body = environ["wsgi.input"].read()
        out = repr({k: environ.get(k) for k in keys}) + "|" + str(len(body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [out.encode()]
    if path == "/gated":
        # holds its thread until the test opens the gate; the worker serves on meanwhile
        while not os.path.exists(os.environ["WSGI_GATE"]):
            time.sleep(0.01)
        start_response("200 OK", [])
        return [b"gate opened"]
    if path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(os.environ["WSGI_FILE"], "rb"))
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"written, ")
        return [b"then returned"]
    if path == "/error":
        environ["wsgi.errors"].write("a line for wsgi.errors\\n")
        raise RuntimeError("error in a WSGI view")
    if path == "/exc-info":
        try:
            raise KeyError("replaced")
        except KeyError:
            start_response("500 Internal Server Error", [("X-Why", "exc_info")], sys.exc_info())
        return [b"replaced response"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, WSGI!"]
'''

FLASK = '''
from flask import Flask, jsonify, request


def create_app(name="factory"):
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "Hello from Flask (%s)" % name

    @app.route("/json", methods=["POST"])
    def echo():
        return jsonify(got=request.get_json(), args=request.args)

    return app


app = create_app("module")
'''

DJANGO = '''
import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="test",
                   MIDDLEWARE=[])
django.setup()


def hello(request):
    return HttpResponse("Hello from Django %s" % request.method)


def info(request):
    return JsonResponse({"path": request.path, "q": request.GET.get("q")})


urlpatterns = [path("", hello), path("info/", info)]

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

wsgi = get_wsgi_application()
asgi = get_asgi_application()
'''


@pytest.fixture
def pyapps(tmp_path):
    d = tmp_path / "pyapps"
    d.mkdir()
    for name, src in (("rawapp", RAW), ("starapp", STARLETTE), ("fastapp", FASTAPI),
                      ("wsgiapp", WSGI), ("flaskapp", FLASK), ("djangoapp", DJANGO)):
        (d / (name + ".py")).write_text(textwrap.dedent(src))
    return d


def py_server(hornet_server, pyapps, tmp_path, spec, **config):
    env = {"PYTHONPATH": str(pyapps), "SHUTDOWN_MARK": str(tmp_path / "shutdown"),
           "WSGI_GATE": str(tmp_path / "gate"), "WSGI_FILE": str(tmp_path / "file.bin"),
           "DISCONNECT_MARK": str(tmp_path / "disconnect"), "PYTHONDONTWRITEBYTECODE": "1"}
    cfg = {"application_path": spec}
    cfg.update(config)
    return hornet_server(app=None, config=cfg, env=env, ready_timeout=READY)


def get(srv, path, **kw):
    return http_request(srv.port, "GET", path, **kw)


def test_raw_asgi_app_scope_and_hello(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    r = get(srv, "/")
    assert (r.status, r.body) == (200, b"Hello, ASGI!")
    r = get(srv, "/scope?a=1&b=%20")
    scope = eval(r.body.decode())
    assert scope["type"] == "http" and scope["http_version"] == "1.1"
    assert scope["method"] == "GET" and scope["scheme"] == "http"
    assert scope["path"] == "/scope" and scope["raw_path"] == b"/scope"
    assert scope["query_string"] == b"a=1&b=%20" and scope["root_path"] == ""
    assert scope["client"][0] == "127.0.0.1" and scope["server"] == ("127.0.0.1", srv.port)
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    # over HTTP/2 too, by prior knowledge
    p = curl("-s", "--http2-prior-knowledge", "http://127.0.0.1:%d/stream" % srv.port)
    assert p.returncode == 0 and p.stdout == b"".join(b"part %d\n" % i for i in range(5)) + \
        b"done\n", p.stderr


def test_lifespan_state_is_copied_into_each_request(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    assert get(srv, "/state").body == b"hello from startup"
    get(srv, "/scope")  # changes its own copy
    assert get(srv, "/state").body == b"hello from startup"
    assert srv.stop() == 0
    assert (tmp_path / "shutdown").exists(), "lifespan.shutdown did not reach the app"


def test_an_app_that_returns_from_lifespan_does_not_hold_the_stop(hornet_server, pyapps,
                                                                   tmp_path):
    # Hypercorn: an application that returns from the lifespan scope has completed both
    # events; the shutdown must not wait for shutdown_timeout (60 s by default)
    (pyapps / "lifeless.py").write_text(textwrap.dedent('''
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
    '''))
    srv = py_server(hornet_server, pyapps, tmp_path, "lifeless:app")
    assert get(srv, "/").body == b"ok"
    assert srv.stop() == 0, srv.stderr_text()
    assert "LifespanTimeoutError" not in srv.stderr_text()


def test_request_body_in_pieces_and_streamed_response(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    with Conn(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            c.send(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
            time.sleep(0.02)  # pieces, not one read (the count is not asserted exactly)
        c.send(b"0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200 and r.body.startswith(b"49152 bytes in "), r.body
    r = get(srv, "/stream")
    assert r.status == 200 and r.header("transfer-encoding") == "chunked"
    assert r.body == b"part 0\npart 1\npart 2\npart 3\npart 4\ndone\n"


def test_exceptions_before_and_after_the_response(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    r = get(srv, "/error")
    assert r.status == 500
    wait_until(lambda: "ValueError: error before the response" in srv.stderr_text(), 10,
               what="the traceback in the error log")
    assert 'rawapp.py", line' in srv.stderr_text()
    # after the start: the connection is cut, not ended as if the body were whole
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/late-error"))
        with pytest.raises((EOFError, ConnectionError, ValueError)):
            c.read_response()
    wait_until(lambda: "error after the response started" in srv.stderr_text(), 10,
               what="the second traceback")
    # the worker serves on
    assert get(srv, "/").status == 200
    assert len(children(srv.pid)) == 1


def test_client_disconnect_reaches_the_app(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    c = Conn(srv.port)
    c.send(build_request("GET", "/disconnect"))
    seen = b""
    while b"waiting" not in seen:
        seen += c.read_some(timeout=10)
    c.close()
    wait_until(lambda: (tmp_path / "disconnect").exists(), 10,
               what="the app to receive http.disconnect")


def test_asyncio_threads_and_connections(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app", workers=2)
    assert get(srv, "/thread").body == b"from a thread"
    r = get(srv, "/connect")
    assert r.body == b"fetched: hello from startup", r.body


HINTS = ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"]


def test_early_hints_over_http1(hornet_server, pyapps, tmp_path):
    """http.response.early_hint (RFC 8297): a 103 with one link field per entry, then the
    final response; the access log has the final status."""
    log = tmp_path / "access.log"
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app", accesslog=str(log),
                    access_log_format="%(s)s %(U)s")
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/early-hint"))
        hint = c.read_response()
        assert hint.raw_head == (b"HTTP/1.1 103 Early Hints\r\n" +
                                 b"".join(b"link: %s\r\n" % h.encode() for h in HINTS) +
                                 b"\r\n"), hint.raw_head
        r = c.read_response()
    assert r.status == 200
    extensions = eval(r.body.decode())
    assert extensions["http.response.early_hint"] == {}, extensions
    assert "http.response.trailers" in extensions
    wait_until(lambda: "/early-hint" in log.read_text(), 10, what="the access log line")
    lines = [ln for ln in log.read_text().splitlines() if ln.endswith(" /early-hint")]
    assert len(lines) == 1 and lines[0].endswith("] 200 /early-hint"), log.read_text()
    # curl shows the interim response, then the final one
    p = curl("-sv", "http://127.0.0.1:%d/early-hint" % srv.port)
    err = p.stderr
    assert p.returncode == 0 and "< HTTP/1.1 103 Early Hints" in err, err
    assert all("< link: %s" % h in err for h in HINTS), err
    assert err.index("< HTTP/1.1 103") < err.index("< HTTP/1.1 200"), err
    assert b"early_hint" in p.stdout


def test_early_hints_are_not_sent_to_http10_clients(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/early-hint", version="HTTP/1.0"))
        data = c.read_to_eof()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
    assert b" 103 " not in data and b"link:" not in data.lower(), data


def test_early_hints_over_http2(hornet_server, pyapps, tmp_path):
    """h2c prior knowledge: HEADERS with :status 103 (no END_STREAM), then the final HEADERS."""
    import h2.events
    from test_h2 import H2Client

    class Client(H2Client):
        def __init__(self, *a, **kw):
            self.events = []
            super().__init__(*a, **kw)

        def _handle(self, ev):
            self.events.append(ev)
            super()._handle(ev)

    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    with Client(srv.port) as c:
        st = c.get("/early-hint")
        assert st.status == 200 and b"early_hint" in st.data, st
        kinds = [ev for ev in c.events
                 if isinstance(ev, (h2.events.InformationalResponseReceived,
                                    h2.events.ResponseReceived))]
        assert [type(ev) for ev in kinds] == [h2.events.InformationalResponseReceived,
                                              h2.events.ResponseReceived], c.events
        headers = [(k.decode(), v.decode()) for k, v in kinds[0].headers]
        assert headers == [(":status", "103")] + [("link", h) for h in HINTS], headers
    p = curl("-sv", "--http2-prior-knowledge", "http://127.0.0.1:%d/early-hint" % srv.port)
    err = p.stderr
    assert p.returncode == 0 and "< HTTP/2 103" in err, err
    assert all("< link: %s" % h in err for h in HINTS), err
    assert err.index("< HTTP/2 103") < err.index("< HTTP/2 200"), err


def test_early_hint_after_the_response_started_is_an_error(hornet_server, pyapps, tmp_path):
    """As any misordered message: the app's send raises, the error is logged, and since the
    response started the connection is cut (no 500 is possible, no 103 is sent)."""
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/late-hint"))
        data = c.read_to_eof()
    assert b" 103 " not in data and b"late.css" not in data, data
    wait_until(lambda: "'http.response.early_hint' after the response started" in
               srv.stderr_text(), 10, what="the app's error in the log")
    assert "RuntimeError" in srv.stderr_text()
    assert get(srv, "/").status == 200


def test_worker_class_uvloop_is_served_by_asyncio(hornet_server, pyapps, tmp_path):
    """Hypercorn's worker_class: uvloop starts, with a warning, on the bridge's asyncio loop
    (bench/looppass.py says why), and the app's own asyncio I/O works on it."""
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app", worker_class="uvloop")
    assert "worker_class: uvloop is served by asyncio" in srv.stderr_text()
    r = get(srv, "/loop")
    assert r.status == 200 and b"uvloop" not in r.body, r.body
    assert r.body.endswith(b".BaseEventLoop"), r.body
    r = get(srv, "/connect")
    assert (r.status, r.body) == (200, b"fetched: hello from startup")


def test_app_factory_call(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:create_app('made by a factory')")
    assert get(srv, "/").body == b"made by a factory"


def test_working_directory_is_on_the_path(hornet_server, tmp_path):
    d = tmp_path / "hornet0"  # the server's working directory (the fixture's)
    d.mkdir()
    (d / "cwdapp.py").write_text(textwrap.dedent(RAW))
    srv = hornet_server(app="cwdapp", config={}, ready_timeout=READY)
    assert get(srv, "/").body == b"Hello, ASGI!"


@framework
def test_python_and_c_apps_mounted_side_by_side(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "builtin:hello",
                    mount={"/py": "rawapp:app", "/star": "starapp:app"})
    assert get(srv, "/").body == b"Hello, world!"
    r = get(srv, "/py/scope")
    scope = eval(r.body.decode())
    assert scope["root_path"] == "/py" and scope["path"] == "/scope"
    r = get(srv, "/star/")
    assert r.status == 200 and r.body == b'{"hello":"world","path":"/star/"}', r.body


@pytest.mark.parametrize("spec,needles", [
    ("nosuchmodule:app", ["cannot import module nosuchmodule"]),
    ("brokenimport:app", ["Traceback", 'brokenimport.py", line 2', "ZeroDivisionError"]),
    ("rawapp:nothere", ["module rawapp has no attribute nothere"]),
    ("wsgionly:app", ["is not an ASGI 3 application", "as app_mode asgi requires"]),
    ("notapp:app", ["is 42, which is not an application"]),
])
def test_start_up_errors(hornet_server, pyapps, tmp_path, spec, needles):
    (pyapps / "brokenimport.py").write_text("import os\n1 / 0\n")
    (pyapps / "wsgionly.py").write_text("def app(environ, start_response):\n    return []\n")
    (pyapps / "notapp.py").write_text("app = 42\n")
    env = {"PYTHONPATH": str(pyapps)}
    (tmp_path / "asgi.yaml").write_text("app_mode: asgi\n")
    mode = ["-c", str(tmp_path / "asgi.yaml")] if spec.startswith("wsgionly") else []
    for args in (["-t", spec] + mode, [spec, "-b", "127.0.0.1:0"] + mode):
        r = run_hornet(args, cwd=str(tmp_path), env=env, timeout=30)
        assert r.returncode == 1, (args, r.stderr)
        assert "NoAppError: %s: " % spec in r.stderr, r.stderr
        for n in needles:
            assert n in r.stderr, (n, r.stderr)
        # never a respawn loop: the start is refused before any worker runs the app
        assert "respawn" not in r.stderr


@framework
def test_starlette(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "starapp:app", workers=4)
    assert len(srv.wait_workers(4)) == 4
    for _ in range(8):
        r = get(srv, "/")
        assert r.status == 200 and r.body == b'{"hello":"world","path":"/"}'
    r = http_request(srv.port, "POST", "/reverse", body=b"hornet")
    assert (r.status, r.body) == (200, b"tenroh")
    r = get(srv, "/stream")
    assert r.body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert get(srv, "/missing").status == 404
    p = curl("-s", "--http2-prior-knowledge", "http://127.0.0.1:%d/" % srv.port)
    assert p.stdout == b'{"hello":"world","path":"/"}'


@framework
def test_fastapi_validation(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "fastapp:app")
    r = http_request(srv.port, "POST", "/items", headers=[("Content-Type", "application/json")],
                     body=b'{"name": "pen", "price": 1.5}')
    assert (r.status, r.body) == (200, b'{"name":"pen","total":3.0}'), r.body
    r = http_request(srv.port, "POST", "/items", headers=[("Content-Type", "application/json")],
                     body=b'{"name": "pen", "price": "cheap"}')
    assert r.status == 422 and b"price" in r.body
    r = http_request(srv.port, "POST", "/items", headers=[("Content-Type", "application/json")],
                     body=b'{not json')
    assert r.status == 422


def test_websocket_over_http1(hornet_server, pyapps, tmp_path):
    import asyncio
    import websockets
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    url = "ws://127.0.0.1:%d/ws" % srv.port

    async def talk():
        async with websockets.connect(url, subprotocols=["one", "two"]) as ws:
            assert ws.subprotocol == "two"
            assert ws.response_headers["x-hello"] == "from-python"
            await ws.send("héllo")
            assert await ws.recv() == "HÉLLO"
            await ws.send(bytes(range(10)))
            assert await ws.recv() == bytes(reversed(range(10)))
            await ws.send("close-please")
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            assert (e.value.rcvd.code, e.value.rcvd.reason) == (4001, "bye")
        # the client closes: the app hears websocket.disconnect with the client's code
        async with websockets.connect(url) as ws:
            assert ws.subprotocol is None
            await ws.close(code=4002)
        for path, status in (("/ws-deny", 403), ("/ws-refuse", 403)):
            with pytest.raises(websockets.InvalidStatusCode) as e:
                async with websockets.connect("ws://127.0.0.1:%d%s" % (srv.port, path)):
                    pass
            assert e.value.status_code == status

    asyncio.run(asyncio.wait_for(talk(), 30))
    wait_until(lambda: (tmp_path / "disconnect").exists() and
               (tmp_path / "disconnect").read_text() == "4002", 10,
               what="websocket.disconnect with code 4002")


def test_websocket_over_http2(hornet_server, pyapps, tmp_path):
    from test_websocket_h2 import WsH2Client, open_ws
    from ws_frames import OP_BINARY, OP_TEXT
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app")
    with WsH2Client(srv.port, tls=False) as c:
        ws = open_ws(c, "/ws")
        ws.text("over h2")
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_TEXT, b"OVER H2")
        ws.binary(b"abc")
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_BINARY, b"cba")
        ws.text("close-please")
        ws.expect_close(4001)


def test_wsgi_environ_and_responses(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "wsgiapp:app")
    r = http_request(srv.port, "POST", "/environ?x=1", body=b"12345",
                     headers=[("Content-Type", "text/plain"), ("X-Twice", "a"),
                              ("X-Twice", "b")])
    env, n = r.body.decode().rsplit("|", 1)
    env = eval(env)
    assert n == "5"
    assert env == {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/environ",
                   "QUERY_STRING": "x=1", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5",
                   "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_X_TWICE": "a,b",
                   "wsgi.url_scheme": "http", "wsgi.multithread": True}
    assert get(srv, "/").body == b"Hello, WSGI!"
    assert get(srv, "/write").body == b"written, then returned"
    data = os.urandom(300000)
    (tmp_path / "file.bin").write_bytes(data)
    r = get(srv, "/file")
    assert r.status == 200 and r.body == data
    r = get(srv, "/exc-info")
    assert (r.status, r.header("x-why"), r.body) == (500, "exc_info", b"replaced response")
    assert get(srv, "/error").status == 500
    wait_until(lambda: "RuntimeError: error in a WSGI view" in srv.stderr_text(), 10,
               what="the traceback")
    assert "a line for wsgi.errors" in srv.stderr_text()


def test_app_mode_wsgi_is_simple(hornet_server, pyapps, tmp_path):
    """app_mode wsgi (Hypercorn's word) is another name for simple: from the file and from
    --app-mode; a WSGI app serves under it, an ASGI app is a start-up error."""
    env = {"PYTHONPATH": str(pyapps)}
    (tmp_path / "wsgi.yaml").write_text("app_mode: wsgi\n")
    r = run_hornet(["-c", str(tmp_path / "wsgi.yaml"), "--dump-config"], cwd=str(tmp_path))
    assert r.returncode == 0 and "\napp_mode: simple\n" in r.stdout, (r.stdout, r.stderr)
    # (simple itself refused Python WSGI apps before: the bridge has no handle callback)
    for mode in ("wsgi", "simple"):
        srv = py_server(hornet_server, pyapps, tmp_path, "wsgiapp:app", app_mode=mode)
        assert get(srv, "/").body == b"Hello, WSGI!"
        srv.stop()
    for mode in (["-c", str(tmp_path / "wsgi.yaml")], ["--app-mode", "wsgi"]):
        for args in (["-t", "rawapp:app"], ["rawapp:app", "-b", "127.0.0.1:0"]):
            r = run_hornet(args + mode, cwd=str(tmp_path), env=env, timeout=30)
            assert r.returncode == 1, (args, mode, r.stderr)
            assert "NoAppError: rawapp:app: rawapp:app is an ASGI application" in r.stderr, \
                r.stderr
            assert "app_mode simple (wsgi) requires" in r.stderr, r.stderr
            assert "respawn" not in r.stderr


def test_wsgi_body_limit(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "wsgiapp:app", wsgi_max_body_size="1KiB")
    assert http_request(srv.port, "POST", "/environ", body=b"x" * 1024).status == 200
    assert http_request(srv.port, "POST", "/environ", body=b"x" * 1025).status == 413


def test_a_slow_wsgi_view_holds_one_thread_not_the_worker(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "wsgiapp:app", wsgi_threads=2)
    slow = Conn(srv.port)
    slow.send(build_request("GET", "/gated"))
    # the gated view holds a thread; the worker answers others all the same
    for _ in range(5):
        assert get(srv, "/").body == b"Hello, WSGI!"
    (tmp_path / "gate").touch()
    r = slow.read_response()
    assert r.body == b"gate opened"
    slow.close()


@framework
def test_flask(hornet_server, pyapps, tmp_path):
    srv = py_server(hornet_server, pyapps, tmp_path, "flaskapp:app", workers=2)
    assert get(srv, "/").body == b"Hello from Flask (module)"
    r = http_request(srv.port, "POST", "/json?a=b", body=b'{"k": [1, 2]}',
                     headers=[("Content-Type", "application/json")])
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert eval(r.body) == {"got": {"k": [1, 2]}, "args": {"a": "b"}}
    assert get(srv, "/nothing").status == 404
    srv2 = py_server(hornet_server, pyapps, tmp_path, "flaskapp:create_app('made')")
    assert get(srv2, "/").body == b"Hello from Flask (made)"


@framework
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_django(hornet_server, pyapps, tmp_path, kind):
    srv = py_server(hornet_server, pyapps, tmp_path, "djangoapp:" + kind)
    assert get(srv, "/").body == b"Hello from Django GET"
    r = get(srv, "/info/?q=bee")
    assert r.status == 200 and eval(r.body) == {"path": "/info/", "q": "bee"}
    assert get(srv, "/missing/").status == 404


def test_reloader_watches_the_imported_modules(hornet_server, pyapps, tmp_path):
    """use_reloader: editing a module the app imported reloads the workers; a syntax error
    in it is refused with the traceback, and the previous code serves on."""
    (pyapps / "reloadviews.py").write_text('MESSAGE = b"version one"\n')
    (pyapps / "reloadapp.py").write_text(textwrap.dedent('''
        import reloadviews

        async def app(scope, receive, send):
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": reloadviews.MESSAGE})
        '''))
    srv = py_server(hornet_server, pyapps, tmp_path, "reloadapp:app", use_reloader=True)
    assert get(srv, "/").body == b"version one"

    def edit(text):
        tmp = pyapps / "reloadviews.py.new"
        tmp.write_text(text)
        os.replace(tmp, pyapps / "reloadviews.py")  # as an editor saves

    edit('MESSAGE = b"version two"\n')
    wait_until(lambda: "reload complete: generation 1" in srv.stderr_text(), 20,
               what="the reload the edit makes")
    assert get(srv, "/").body == b"version two"
    edit('MESSAGE = b"broken\n')
    wait_until(lambda: "reload refused" in srv.stderr_text(), 20, what="the refused reload")
    log = srv.stderr_text()
    assert 'reloadviews.py", line 1' in log and "SyntaxError" in log, log
    assert get(srv, "/").body == b"version two"


def test_app_dir(hornet_server, tmp_path):
    """--app-dir (uvicorn's): that directory, not the working one, is first on sys.path."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "srcapp.py").write_text(textwrap.dedent(RAW))
    r = run_hornet(["-t", "srcapp:app"], cwd=str(tmp_path))
    assert r.returncode == 1 and "cannot import module srcapp" in r.stderr, r.stderr
    r = run_hornet(["-t", "--app-dir", str(src), "srcapp:app"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    srv = hornet_server(app="srcapp:app", config={"app_dir": str(src)}, ready_timeout=READY)
    assert get(srv, "/").body == b"Hello, ASGI!"


# --- request-body backpressure: an app that does not receive() stops the upload -------------

BIG = 64 * 1024 * 1024
RSS_GROWTH_KB = 32 * 1024  # growth allowed while the app holds a 64 MiB upload unread
QUIET = 1.5  # seconds without progress that count as "the client's send is blocked"


def held_server(hornet_server, pyapps, tmp_path, **config):
    """read_timeout is short: a body the app paused must not get the slow-body 408."""
    srv = py_server(hornet_server, pyapps, tmp_path, "rawapp:app", max_body_size="128MiB",
                    read_timeout="500ms", **config)
    assert get(srv, "/", tls=srv.tls).status == 200  # warm: the baseline has the interpreter
    (worker,) = srv.workers()
    return srv, worker


def send_until_blocked(sock, body, sent, quiet):
    """Send body from offset sent in 64 KiB pieces until it is all out or one piece makes no
    progress for `quiet` seconds; returns the offset reached. A piece that timed out is sent
    again whole, as a TLS write must be retried."""
    sock.settimeout(quiet)
    while sent < len(body):
        try:
            sent += sock.send(body[sent:sent + 65536])
        except (socket.timeout, ssl.SSLWantWriteError):
            break
    return sent


@big_upload
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_http1_body_waits_for_an_app_that_does_not_receive(hornet_server, pyapps, tmp_path,
                                                           transport, request):
    """The app reads nothing until a second request releases it. Its inbox stops at 64 KiB,
    the worker stops reading the socket, the client's send blocks far short of 64 MiB and the
    worker's memory stays put; the pause outlasts read_timeout without a 408. Released, the app
    gets every byte, in order."""
    config = {}
    if transport == "tls":
        certs = request.getfixturevalue("tls_certs")
        config = {"certfile": certs.server_pem, "keyfile": certs.server_key}
    srv, worker = held_server(hornet_server, pyapps, tmp_path, **config)
    body = os.urandom(BIG)
    base = rss_kib(worker)
    with Conn(srv.port, tls=srv.tls) as c:
        c.send(b"POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BIG)
        sent = send_until_blocked(c.sock, body, 0, QUIET)
        assert sent < BIG // 2, "the server read %d of %d bytes for an app that reads none" \
            % (sent, BIG)
        grown = rss_kib(worker) - base
        assert grown < RSS_GROWTH_KB, "worker VmRSS grew by %d KiB" % grown
        assert get(srv, "/release", tls=srv.tls).body == b"released"
        sent = send_until_blocked(c.sock, body, sent, 60)
        assert sent == BIG
        r = c.read_response(method="POST", timeout=60)
    assert r.status == 200, r
    assert r.body.decode() == "%d %s" % (BIG, hashlib.sha256(body).hexdigest())
    assert "timed out" not in srv.stderr_text()


@big_upload
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_http2_body_waits_for_an_app_that_does_not_receive(hornet_server, pyapps, tmp_path,
                                                           tls, request):
    """HTTP/2: the paused stream's window is not given back, so the client's window for it
    reaches 0 well short of the body; the worker holds at most that window. Other streams on
    the same connection are answered meanwhile (and their answers bring no WINDOW_UPDATE for
    the paused one). Released, the held bytes and the rest arrive whole."""
    from hyperframe.frame import DataFrame, WindowUpdateFrame
    config = {}
    if tls:
        certs = request.getfixturevalue("tls_certs")
        config = {"certfile": certs.server_pem, "keyfile": certs.server_key}
    srv, worker = held_server(hornet_server, pyapps, tmp_path, **config)
    body = os.urandom(BIG)
    base = rss_kib(worker)
    with RawH2(srv.port, tls=tls) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/held", "POST",
                                            extra=[("content-length", str(BIG))]),
                             end_stream=False))
        sent = c.send_windowed(1, body, stall=QUIET)
        assert c.send_window(1) <= 0, "stopped with window left: %d" % c.send_window(1)
        assert sent < 4 * 1024 * 1024, "the server kept opening its window: %d" % sent
        updates = sum(1 for f in c.frames if isinstance(f, WindowUpdateFrame) and f.stream_id == 1)
        # another stream on the same connection is served while stream 1 is held
        c.send(headers_frame(3, req_headers("/")))
        st3 = c.stream(3)
        c.wait(lambda: st3.done, 10, what="stream 3 beside the held stream")
        assert st3.status == 200 and st3.data == b"Hello, ASGI!", st3
        assert sum(1 for f in c.frames if isinstance(f, WindowUpdateFrame) and
                   f.stream_id == 1) == updates, "the held stream's window was given back"
        assert c.send_window(1) <= 0
        grown = rss_kib(worker) - base
        assert grown < RSS_GROWTH_KB, "worker VmRSS grew by %d KiB" % grown
        c.send(headers_frame(5, req_headers("/release")))
        st5 = c.stream(5)
        c.wait(lambda: st5.done, 10, what="/release")
        assert st5.data == b"released"
        st1 = c.stream(1)
        deadline = time.monotonic() + 120
        while sent < BIG:
            assert time.monotonic() < deadline, "only %d of %d bytes sent" % (sent, BIG)
            assert st1.reset is None and not st1.done, st1
            sent += c.send_windowed(1, body[sent:], stall=QUIET)
        c.send(DataFrame(1, data=b"", flags=["END_STREAM"]))
        c.wait(lambda: st1.done, 60, what="the held request's answer")
    assert st1.status == 200 and st1.reset is None, st1
    assert st1.data.decode() == "%d %s" % (BIG, hashlib.sha256(body).hexdigest())
    assert "timed out" not in srv.stderr_text()


def test_http1_client_gone_while_its_body_is_paused(hornet_server, pyapps, tmp_path):
    """A client that resets the connection while the app holds its body paused is noticed
    without reading the body (the worker has stopped reading): the app hears http.disconnect,
    and the worker serves on."""
    srv, worker = held_server(hornet_server, pyapps, tmp_path)
    c = Conn(srv.port)
    c.send(b"POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BIG)
    sent = send_until_blocked(c.sock, b"x" * BIG, 0, QUIET)
    assert sent < BIG // 2
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # a reset: the bytes still queued on either side are dropped
    wait_until(lambda: "went away while its request body was paused" in srv.stderr_text(), 10,
               what="the worker to notice the reset")
    assert get(srv, "/release").body == b"released"
    wait_until(lambda: (tmp_path / "disconnect").exists(), 10,
               what="the app to receive http.disconnect")
    assert get(srv, "/").status == 200


def test_http1_pipelined_request_waits_behind_a_paused_body(hornet_server, pyapps, tmp_path):
    """A request pipelined behind a paused body stays in the transport: it is answered after
    the held one, in order, once the app reads."""
    import threading
    srv, worker = held_server(hornet_server, pyapps, tmp_path)
    body = os.urandom(1024 * 1024)
    with Conn(srv.port) as c:
        wire = build_request("POST", "/held", [("Content-Length", str(len(body)))], body) + \
            build_request("GET", "/")
        sender = threading.Thread(target=c.send, args=(wire,), daemon=True)
        sender.start()
        wait_until(lambda: get(srv, "/waiting").body == b"1", 10, what="/held at its gate")
        assert get(srv, "/release").body == b"released"
        first = c.read_response(method="POST", timeout=30)
        second = c.read_response(timeout=30)
        sender.join(10)
    assert first.status == 200
    assert first.body.decode() == "%d %s" % (len(body), hashlib.sha256(body).hexdigest())
    assert (second.status, second.body) == (200, b"Hello, ASGI!")
