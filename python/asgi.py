# asgi.py - the Python half of hornet's Python bridge (python/bridge.c): loads
# an application the way Hypercorn does, and runs ASGI 3 scopes on an asyncio
# loop that the worker's libev loop drives (bridge.c calls pump() after every
# event it delivers, when the loop's selector is readable, and when its next
# timer is due). Compiled into hornet-python.so; `_hornet` is the C half.
#
# Requests are objects the C half creates per scope (new_http) and feeds
# (push, disconnect, pause, resume); their `h` is the C request handle, set
# to None the moment the request is gone, so a task that outlives it sends
# into nothing instead of into freed memory.

import asyncio
import collections
import contextvars
import heapq
import importlib
import inspect
import io
import os
import queue
import re
import sys
import threading
import traceback

import _hornet

EAGAIN = -4
EGONE = -2
# Request-body bytes an HTTP scope queues for its app before the server is told to stop
# reading (read_pause), as uvicorn and Hypercorn stop reading when the app's queue is full:
# an app that does not call receive() then costs this much, not what the client sends.
# One body chunk beyond it may already be on its way (at most 16 KiB).
INBOX_LIMIT = 64 * 1024
ASGI = {"version": "3.0", "spec_version": "2.3"}

class Handle(asyncio.Handle):
    """asyncio's Handle without its per-call debug checks."""

    __slots__ = ()

    def __init__(self, callback, args, loop, context):
        self._callback = callback
        self._args = args
        self._loop = loop
        self._context = context if context is not None else contextvars.copy_context()
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class Loop(asyncio.SelectorEventLoop):
    """The worker's asyncio loop. call_soon runs for every task step and every future's
    callbacks: here without the closed, thread and debug checks of the base class, which a
    loop that is never closed, runs on one thread and is not in debug mode does not need
    (call_soon_threadsafe keeps them)."""

    def call_soon(self, callback, *args, context=None):
        handle = Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle


loop = Loop()
asyncio.set_event_loop(loop)
# The worker's loop runs this one a pass at a time (pump): it is "running" for good, as
# run_forever would make it, and never blocks in its selector (_stopping makes every pass
# poll with a zero timeout). run_forever itself, per pass, costs more than the pass.
loop._thread_id = threading.get_ident()
loop._stopping = True
asyncio.events._set_running_loop(loop)


class NoAppError(Exception):
    pass


def load(spec, mode, app_dir=None):
    """Hypercorn's load_application: MODULE[:ATTR], ATTR defaulting to app and possibly a
    call such as create_app(); app_dir (or the working directory) first on sys.path.
    Returns the app."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    cwd = os.path.abspath(app_dir) if app_dir else os.getcwd()
    if cwd in sys.path:
        sys.path.remove(cwd)
    sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise NoAppError("cannot import module %s: no such module in %s or the Python "
                             "path" % (module_name, cwd)) from None
        raise
    try:
        app = eval(attr, vars(module))  # Hypercorn does the same for "create_app()"
    except NameError:
        raise NoAppError("module %s has no attribute %s" % (module_name, attr)) from None
    if not callable(app):
        raise NoAppError("%s is %r, which is not an application" % (spec, app))
    asgi = is_asgi(app)
    if mode == "asgi" and not asgi:
        raise NoAppError("%s is not an ASGI 3 application (an async callable of scope, "
                         "receive, send), as app_mode asgi requires" % spec)
    if mode in ("simple", "wsgi") and asgi:
        raise NoAppError("%s is an ASGI application (an async callable), not the WSGI "
                         "application app_mode simple (wsgi) requires" % spec)
    return app if asgi else WSGI(app)


def watch_files():
    """The source files of the application's own modules, for use_reloader (Hypercorn's
    files_to_watch, without the interpreter's and the system's packages)."""
    skip = tuple(os.path.join(p, "") for p in {sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                "/usr/lib/python3", "/usr/local/lib/python3"})
    files = set()
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None)
        if f and f.endswith(".py") and not f.startswith(skip) and f != __file__:
            files.add(os.path.abspath(f))
    return "\n".join(sorted(files))


def describe(exc):
    """Why loading failed, for the start-up error: NoAppError's own words, or the traceback
    of an error in the application's import without this file's and importlib's frames."""
    if isinstance(exc, NoAppError):
        return str(exc)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename != __file__ and not f.filename.startswith("<frozen")
              and "/importlib/" not in f.filename]
    return "".join(["Traceback (most recent call last):\n"] + traceback.format_list(frames) +
                   traceback.format_exception_only(type(exc), exc))


def is_asgi(app):
    """Hypercorn's is_asgi: a coroutine function, or an object whose __call__ is one."""
    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


def log_exception(what, exc):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    _hornet.log(1, "%s\n%s" % (what, text.rstrip()))


def pump(io_ready=False):
    """Run what is ready: one pass of the loop at a time, until nothing is, bounded so a
    task that keeps rescheduling itself cannot hold the worker. The selector is polled only
    when the worker's loop saw its descriptor readable (io_ready): other passes run the due
    timers and the ready callbacks without a system call. Returns the seconds until the next
    timer, or -1 for none."""
    if io_ready:
        loop._run_once()
    ready = loop._ready
    scheduled = loop._scheduled
    for _ in range(64):
        if scheduled:
            now = loop.time() + loop._clock_resolution
            while scheduled and scheduled[0]._when <= now:
                handle = heapq.heappop(scheduled)
                handle._scheduled = False
                if not handle._cancelled:
                    ready.append(handle)
        if not ready:
            break
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
    if ready:
        return 0.0
    while scheduled and scheduled[0]._cancelled:
        heapq.heappop(scheduled)._scheduled = False
        loop._timer_cancelled_count = max(0, loop._timer_cancelled_count - 1)
    if scheduled:
        return max(0.0, scheduled[0]._when - loop.time())
    return -1.0


def selector_fd():
    return loop._selector.fileno()


class Inbox:
    """The events C delivered to a scope, until the application's receive() takes them."""

    __slots__ = ("events", "waiter")

    def __init__(self):
        self.events = collections.deque()
        self.waiter = None

    def put(self, event):
        self.events.append(event)
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def receive(self):
        while not self.events:
            self.waiter = loop.create_future()
            await self.waiter
        return self.events.popleft()


class HTTP(Inbox):
    """One http scope: receive() gives what C pushed, send() calls into C."""

    __slots__ = ("h", "resumed", "paused", "started", "ended", "task", "queued", "read_paused")

    def __init__(self, h):
        Inbox.__init__(self)
        self.h = h
        self.queued = 0  # body bytes in events
        self.read_paused = False
        self.resumed = None
        self.paused = False
        self.started = False
        self.ended = False
        self.task = None

    def push(self, body, more_body):
        if body:
            self.queued += len(body)
            if self.queued > INBOX_LIMIT and not self.read_paused and self.h is not None:
                self.read_paused = True
                _hornet.read_pause(self.h, True)
        self.put({"type": "http.request", "body": body, "more_body": more_body})

    def disconnect(self, completed, code):
        # the app hears http.disconnect on its next receive, as in Hypercorn
        self.h = None
        self.put({"type": "http.disconnect"})
        self.resume()

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False
        r = self.resumed
        if r is not None and not r.done():
            r.set_result(None)

    async def receive(self):
        m = await Inbox.receive(self)
        if self.queued:
            body = m.get("body")
            if body:
                self.queued -= len(body)
                if self.read_paused and self.queued <= INBOX_LIMIT:
                    self.read_paused = False
                    if self.h is not None:
                        _hornet.read_pause(self.h, False)
        return m

    async def send(self, message):
        t = message["type"]
        h = self.h
        if t == "http.response.body":
            if not self.started:
                raise RuntimeError("Unexpected ASGI message 'http.response.body' before "
                                   "'http.response.start'")
            more = message.get("more_body", False)
            if not more:
                self.ended = True
            if h is None:
                return
            body = message.get("body", b"")
            rc = _hornet.response_body(h, body, more)
            if rc == 0 and not self.paused:
                return
            while rc == EAGAIN and self.h is not None:
                await self._resumed()
                rc = _hornet.response_body(self.h, body, more) if self.h else EGONE
            if self.paused and self.h is not None:
                await self._resumed()
        elif t == "http.response.start":
            if self.started:
                raise RuntimeError("Unexpected ASGI message 'http.response.start' after the "
                                   "response started")
            self.started = True
            if h is None:
                return
            rc = _hornet.response_start(h, message["status"], message.get("headers", ()),
                                        message.get("trailers", False))
            if rc == 0:
                return
        elif t == "http.response.early_hint":
            # RFC 8297: a 103 with one link field per entry, before the final response
            if self.started:
                raise RuntimeError("Unexpected ASGI message 'http.response.early_hint' after "
                                   "the response started")
            if h is None:
                return
            links = [(b"link", link.encode("latin-1") if isinstance(link, str) else bytes(link))
                     for link in message.get("links", ())]
            rc = _hornet.response_informational(h, 103, links)
        elif t == "hornet.response.file":
            # the WSGI adapter's file_wrapper: sendfile, the descriptor given up to C
            if h is None:
                os.close(message["fd"])
                return
            rc = _hornet.response_file(h, message["fd"], message["offset"], message["count"])
            while self.paused and self.h is not None:
                await self._resumed()
        elif t == "http.response.trailers":
            if h is None:
                return
            rc = _hornet.response_trailers(h, message.get("headers", ()),
                                           bool(message.get("more_trailers", False)))
        else:
            raise RuntimeError("Unexpected ASGI message %r in an http scope" % t)
        if rc == -1:
            raise RuntimeError("Unexpected ASGI message %r" % t)
        if rc == -3:
            raise ValueError("invalid ASGI message %r" % (message,))

    async def _resumed(self):
        self.resumed = loop.create_future()
        await self.resumed

    async def run(self, app, scope):
        """The application's call, and what the server does when it ends. A wrapper rather
        than a done callback: one less loop pass and callback per request."""
        try:
            await app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: B036 - every failure is the app's, logged
            self.finish(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self.finish(None)

    def finish(self, exc):
        if exc is not None:
            log_exception("Error in ASGI application", exc)
        elif not self.started:
            _hornet.log(1, "ASGI application returned without starting a response")
        elif not self.ended:
            _hornet.log(1, "ASGI application returned without completing the response")
        h = self.h
        if h is None:
            return
        if not self.started:
            body = b"Internal Server Error"
            _hornet.response_start(h, 500, [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"content-length", b"%d" % len(body))], False)
            _hornet.response_body(h, body, False)
        elif not self.ended:
            _hornet.abort(h)


class WebSocket(HTTP):
    """One websocket scope: websocket.connect first, then the messages C pushes; accept,
    send and close go to C, and so does a denial response (websocket.http.response.*)."""

    __slots__ = ("accepted", "closed")

    def __init__(self, h):
        super().__init__(h)
        self.accepted = False
        self.closed = False
        self.events.append({"type": "websocket.connect"})

    def message(self, data, is_text):
        if is_text:
            self.put({"type": "websocket.receive", "text": data})
        else:
            self.put({"type": "websocket.receive", "bytes": data})

    def disconnect(self, completed, code):
        self.h = None
        self.put({"type": "websocket.disconnect", "code": code or 1006})
        self.resume()

    async def send(self, message):
        t = message["type"]
        h = self.h
        rc = 0
        if t == "websocket.accept":
            if self.accepted or self.started:
                raise RuntimeError("Unexpected ASGI message 'websocket.accept'")
            self.accepted = True
            if h is not None:
                rc = _hornet.websocket_accept(h, message.get("subprotocol"),
                                              message.get("headers", ()))
        elif t == "websocket.send":
            if not self.accepted or self.closed:
                raise RuntimeError("Unexpected ASGI message 'websocket.send'")
            if h is None:
                return
            text = message.get("text")
            data = text.encode() if text is not None else message.get("bytes") or b""
            rc = _hornet.websocket_send(h, data, text is not None)
            while rc == EAGAIN and self.h is not None:
                await self._resumed()
                rc = _hornet.websocket_send(self.h, data, text is not None) if self.h else EGONE
            if self.paused and self.h is not None:
                await self._resumed()
        elif t == "websocket.close":
            self.closed = True
            self.ended = True
            if h is not None:
                rc = _hornet.websocket_close(h, int(message.get("code", 1000)),
                                             message.get("reason") or None)
        elif t == "websocket.http.response.start" and not self.accepted:
            message = dict(message, type="http.response.start")
            return await HTTP.send(self, message)
        elif t == "websocket.http.response.body" and not self.accepted:
            message = dict(message, type="http.response.body")
            return await HTTP.send(self, message)
        else:
            raise RuntimeError("Unexpected ASGI message %r in a websocket scope" % t)
        if rc == -1:
            raise RuntimeError("Unexpected ASGI message %r" % t)
        if rc == -3:
            raise ValueError("invalid ASGI message %r" % (message,))

    def finish(self, exc):
        if exc is not None:
            log_exception("Error in ASGI application", exc)
        h = self.h
        if h is None or self.ended:
            return
        if self.accepted:
            _hornet.websocket_close(h, 1011 if exc is not None else 1000, None)
        elif self.started:
            _hornet.abort(h)
        else:
            # returned (or failed) without accepting: the handshake is refused, 403
            _hornet.websocket_close(h, 1000, None)


def new_scope(app, h, scope):
    """A request's scope (made by bridge.c, with asgi and a copy of the lifespan state) to
    the application, as a task of its own."""
    r = WebSocket(h) if scope["type"] == "websocket" else HTTP(h)
    r.task = asyncio.Task(r.run(app, scope), loop=loop)
    return r


def config_size(key, default):
    """A size key of the configuration ("16MiB") in bytes."""
    m = re.match(r"\s*(\d+)\s*([kKmMgG]?)", _hornet.config(key) or "")
    if not m:
        return default
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


class ErrorStream:
    """wsgi.errors: lines into the error log."""

    def write(self, s):
        if s.strip():
            _hornet.log(1, s.rstrip("\n"))
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


class FileWrapper:
    """wsgi.file_wrapper: a real file goes out with sendfile (hornet.response.file), any
    other file-like object in blocks."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        while True:
            block = self.filelike.read(self.blksize)
            if not block:
                return
            yield block


def wsgi_environ(scope, body):
    """PEP 3333's environ from an ASGI http scope, as Hypercorn builds it."""
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("ascii"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/%s" % scope["http_version"],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": ErrorStream(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
        environ["REMOTE_PORT"] = str(scope["client"][1])
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_%s" % name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        environ[key] = environ[key] + "," + value if key in environ else value
    return environ


def _settle(future, result, exc):
    if not future.done():
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)


class Pool:
    """The worker's WSGI threads: a call goes in through a queue, its result comes back to
    the loop as an asyncio future. run_in_executor's concurrent.futures machinery (a
    condition variable, a second future chained to the first) cost more Python per request
    than a small view does."""

    def __init__(self, size):
        self.jobs = queue.SimpleQueue()
        for i in range(max(1, size)):
            threading.Thread(target=self.work, name="hornet-wsgi-%d" % i, daemon=True).start()

    def submit(self, fn, *args):
        future = loop.create_future()
        self.jobs.put((future, fn, args))
        return future

    def work(self):
        while True:
            future, fn, args = self.jobs.get()
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: B036 - handed to the waiting coroutine
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)
            del future, fn, args


class WSGI:
    """A WSGI application as an ASGI one: the whole body read (up to wsgi_max_body_size,
    413 beyond), then the application called in the worker's thread pool (wsgi_threads), its
    output handed to the loop chunk by chunk, each waiting until taken (backpressure)."""

    pool = None
    max_body_size = None  # wsgi_max_body_size, read once: a worker's config does not change

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            # WSGI has no lifespan: say so, as Hypercorn does, by completing both events
            while True:
                m = await receive()
                await send({"type": m["type"] + ".complete"})
                if m["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            await send({"type": "websocket.close"})
            return
        limit = self.max_body_size
        if limit is None:
            limit = WSGI.max_body_size = config_size("wsgi_max_body_size", 16 << 20)
        body = bytearray()
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                return
            body += m.get("body", b"")
            if len(body) > limit:
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-length", b"0"), (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": b""})
                return
            if not m.get("more_body"):
                break
        if WSGI.pool is None:
            WSGI.pool = Pool(int(_hornet.config("wsgi_threads") or "10"))

        def send_from_thread(message):
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        status, headers, tail = await WSGI.pool.submit(
            self.run, wsgi_environ(scope, bytes(body)), send_from_thread)
        # what the thread did not stream itself: most responses, whole, with no hop back
        if status is not None:
            await send({"type": "http.response.start", "status": status, "headers": headers})
        if isinstance(tail, tuple):
            await send({"type": "hornet.response.file", "fd": tail[0], "offset": tail[1],
                        "count": tail[2]})
            tail = b""
        await send({"type": "http.response.body", "body": tail})

    STREAM_AT = 65536  # bytes of body the thread holds before it streams them

    def run(self, environ, send):
        """In a pool thread: the application, and the iteration of its response. Returns
        (status, headers, tail) for the loop to send: status None when the head has gone
        already (a large or written response streams from here, each piece waiting until
        the loop took it); tail is the rest of the body, or (fd, offset, count) for a file."""
        state = {"status": None, "headers": None, "sent": False}
        held = []
        held_size = 0

        def start_response(status, headers, exc_info=None):
            if exc_info is not None:
                try:
                    if state["sent"]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["status"] is not None:
                raise AssertionError("start_response called a second time without exc_info")
            state["status"] = int(status.split(" ", 1)[0])
            state["headers"] = [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                for n, v in headers]
            return write

        def check_started():
            if state["status"] is None:
                raise RuntimeError("the WSGI application did not call start_response")

        def stream(data):
            nonlocal held_size
            if not state["sent"]:
                check_started()
                state["sent"] = True
                send({"type": "http.response.start", "status": state["status"],
                      "headers": state["headers"]})
            if held:
                send({"type": "http.response.body", "body": b"".join(held), "more_body": True})
                held.clear()
                held_size = 0
            if data:
                send({"type": "http.response.body", "body": bytes(data), "more_body": True})

        def write(data):
            stream(data)  # PEP 3333: write() must not buffer

        def head():
            check_started()
            if state["sent"]:
                return None, None
            return state["status"], state["headers"]

        result = self.app(environ, start_response)
        try:
            if isinstance(result, FileWrapper) and hasattr(result.filelike, "fileno"):
                f = result.filelike
                try:
                    fd = f.fileno()
                    size = os.fstat(fd).st_size
                    offset = f.tell()
                except (OSError, io.UnsupportedOperation):
                    fd = None
                if fd is not None:
                    stream(b"")
                    return None, None, (os.dup(fd), offset, max(0, size - offset))
            for chunk in result:
                if not chunk:
                    continue
                if state["sent"]:
                    stream(chunk)
                    continue
                held.append(chunk)
                held_size += len(chunk)
                if held_size > self.STREAM_AT:
                    stream(b"")
            status, headers = head()
            tail = b"".join(held)
            return status, headers, tail
        finally:
            if hasattr(result, "close"):
                result.close()


class Lifespan(Inbox):
    """The worker's lifespan scope: startup and shutdown answered through C."""

    __slots__ = ("app", "index", "state", "task", "pending")

    def __init__(self, app, index):
        Inbox.__init__(self)
        self.app = app
        self.index = index
        self.state = {}
        self.task = None
        self.pending = None  # the event C waits for an answer to, or None

    def event(self, ev):
        self.pending = ev
        if self.task is not None and self.task.done():
            # the application returned (or failed) before this event: nothing will answer
            # it, so it is complete, as in Hypercorn
            self.answer(ev, None)
            return
        if self.task is None:
            scope = {"type": "lifespan", "asgi": ASGI, "state": self.state}
            self.task = loop.create_task(self.app(scope, self.receive, self.send))
            self.task.add_done_callback(self.done)
        self.put({"type": "lifespan.%s" % ev})

    async def send(self, message):
        t = message["type"]
        for ev in ("startup", "shutdown"):
            if t == "lifespan.%s.complete" % ev:
                self.answer(ev, None)
                return
            if t == "lifespan.%s.failed" % ev:
                self.answer(ev, message.get("message", ""))
                return
        raise RuntimeError("Unexpected ASGI message %r in a lifespan scope" % t)

    def answer(self, ev, failure):
        if self.pending != ev:
            return
        self.pending = None
        _hornet.lifespan_answer(self.index, ev == "startup", failure)

    def done(self, task):
        # An app that does not speak lifespan raises at once (Hypercorn: "ASGI
        # Framework Lifespan error, continuing without Lifespan support")
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if self.pending == "startup" and not self.state:
                _hornet.log(4, "ASGI Framework Lifespan error, continuing without Lifespan "
                            "support: %r" % exc)
            else:
                log_exception("Error in the ASGI lifespan", exc)
        if self.pending is not None:
            self.answer(self.pending, None)
