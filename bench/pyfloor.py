#!/usr/bin/python3
"""What the apps of bench/pybench.sh cost by themselves, with no server: the floor under
any server's CPU per request, to set against pybench.sh's numbers. Each app is called in a
loop in this process with a request already parsed (an ASGI scope, a WSGI environ), its
response collected and dropped. Prints microseconds per call.

    /usr/bin/python3 bench/pyfloor.py [calls]

asgi: the raw ASGI hello, awaited in a loop inside one coroutine (send and receive are
trivial coroutines); starlette: the same JSON route as pybench.sh, driven the same way;
flask: the same view through Flask's WSGI call, environ built as hornet builds it (one
dict), body joined and closed. The raw hello's time is the driver's own floor: what the
frameworks add is their number minus it.
"""

import asyncio
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
         "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/",
         "raw_path": b"/", "query_string": b"", "root_path": "",
         "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk")],
         "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}


async def rawhello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def home(request):
        return JSONResponse({"message": "Hello, world!", "items": [1, 2, 3]})

    return Starlette(routes=[Route("/", home)])


def asgi_per_call(app):
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def calls(n):
        for _ in range(n):
            await app(dict(SCOPE), receive, send)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(calls(1000))
    t = time.perf_counter()
    loop.run_until_complete(calls(N))
    loop.close()
    return (time.perf_counter() - t) / N * 1e6


def flask_per_call():
    import io
    from flask import Flask

    app = Flask(__name__)

    @app.route("/")
    def home():
        return "Hello, world!"

    def start_response(status, headers, exc_info=None):
        pass

    def call():
        environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
                   "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0),
                   "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
                   "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                   "wsgi.multiprocess": True, "wsgi.run_once": False,
                   "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
                   "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "wrk"}
        result = app(environ, start_response)
        b"".join(result)
        result.close()

    for _ in range(1000):
        call()
    t = time.perf_counter()
    for _ in range(N):
        call()
    return (time.perf_counter() - t) / N * 1e6


print("%-10s %6.2f us" % ("asgi", asgi_per_call(rawhello)))
print("%-10s %6.2f us" % ("starlette", asgi_per_call(starlette_app())))
print("%-10s %6.2f us" % ("flask", flask_per_call()))
