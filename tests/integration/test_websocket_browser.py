"""WebSocket in a real browser: Debian's chromium, headless, against examples/chat.c over TLS.

The other WebSocket tests speak the protocol from Python; this one checks that a browser's
own client (its handshake, its permessage-deflate offer, masking, closing handshake) gets on
with hornet, and that the example's page works as shipped:

  * test_chat_page_loads: GET / in the browser: the page, its title and its form.
  * test_two_websockets_broadcast: a script in that page opens two
    `new WebSocket('wss://127.0.0.1:PORT/chat', ['chat'])`; a message from one reaches both
    (text, non-ASCII text, a long compressible text, binary), with the subprotocol "chat",
    permessage-deflate negotiated, and a clean closing handshake (code 1000, wasClean).
  * test_chat_page_between_two_tabs: two tabs of the page itself; what is typed in one
    appears in both, through the page's own script.
  * test_graceful_stop_sends_1001: SIGTERM to hornet while the page is connected: the
    WebSocket keeps running until graceful_timeout - 1 s, then closes cleanly with 1001.

Every test runs twice: with a browser that may use HTTP/2 ([h2]: hornet offers h2 first in
ALPN, so the page comes over HTTP/2 and its WebSockets over the same connection, RFC 8441)
and with one that has HTTP/2 turned off ([http1]: the HTTP/1.1 Upgrade handshake, 101).

Chromium runs as `chromium --headless=new --remote-debugging-port=0 ...` in its own session
(process group); the test reads "DevTools listening on ws://..." from its stderr and drives
it over the Chrome DevTools Protocol with the `websockets` library (Debian's 10.4, asyncio).
The browser goes away at the end of the module, by its PID (its process group), with a
bounded wait, also when a test failed. It may only reach 127.0.0.1: every other address goes
to a proxy on 127.0.0.1 that does not exist.

The module fails when /usr/bin/chromium (or $HORNET_CHROMIUM) does not exist: scripts/install-deps.sh
test installs it.
"""

import asyncio
import ctypes
import itertools
import json
import os
import re
import signal
import subprocess
import time

import pytest
import websockets

from apps_fixture import GCC, INCLUDE_DIR, SRCDIR, requires_gcc
from hornet_fixture import requires_tool
from tls_fixture import requires_openssl, tls_certs  # noqa: F401,F811  (tls_certs: a fixture)

CHROMIUM = os.environ.get("HORNET_CHROMIUM", "/usr/bin/chromium")
CHAT_SRC = os.path.join(SRCDIR, "examples", "chat.c")
# examples/Makefile's warnings: the example must build there, so build it the same way here
CHAT_CFLAGS = ["-shared", "-fPIC", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
               "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes"]

BROWSER_START_TIMEOUT = 30.0
STEP_TIMEOUT = 20.0     # one CDP command, one page load, one script in the page
TEST_TIMEOUT = 90.0     # a whole test's conversation with the browser

pytestmark = [
    requires_openssl,
    requires_gcc,
    requires_tool(CHROMIUM),
]


# ---------------------------------------------------------------------------------------------
# the app and the server


@pytest.fixture(scope="module")
def chat_so(tmp_path_factory):
    """examples/chat.c built into a temporary directory (the source tree may be read-only)."""
    out = str(tmp_path_factory.mktemp("chat") / "libchat.so")
    cmd = [GCC] + CHAT_CFLAGS + ["-I", INCLUDE_DIR, "-o", out, CHAT_SRC]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, "$ %s\n%s" % (" ".join(cmd), p.stdout.decode(errors="replace"))
    return out


def chat_config(certs, **extra):
    # one worker: the chat room is per worker, and the clients must all be in the same one
    cfg = {"certfile": certs.server_pem, "keyfile": certs.server_key, "workers": 1,
           "loglevel": "debug"}
    cfg.update(extra)
    return cfg


@pytest.fixture
def chat_server(hornet_server, tls_certs, chat_so):
    return hornet_server(app=chat_so, config=chat_config(tls_certs))


# ---------------------------------------------------------------------------------------------
# the browser


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies, even by SIGKILL (the
    fixture's teardown would not run then; this keeps no browser behind)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Chromium:
    """A headless chromium in its own process group; .ws_url is its DevTools endpoint."""

    def __init__(self, tmpdir, extra_args=()):
        self.tmpdir = str(tmpdir)
        self.extra_args = list(extra_args)
        self.profile = os.path.join(self.tmpdir, "profile")
        self.stderr_path = os.path.join(self.tmpdir, "chromium-stderr.log")
        os.makedirs(self.profile, exist_ok=True)
        self.proc = None
        self.ws_url = None

    def start(self):
        if not os.path.exists(CHROMIUM):
            pytest.fail("%s not found, and HORNET_REQUIRE_BROWSER is set" % CHROMIUM)
        cmd = [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",               # the tests may run as root
            "--ignore-certificate-errors",  # the test CA is not in the browser's store
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "--user-data-dir=" + self.profile,
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--disable-default-apps",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            # Nothing but 127.0.0.1 may be reached: the proxy takes every other destination
            # and does not exist (loopback addresses bypass a proxy in chromium).
            "--proxy-server=http://127.0.0.1:9",
        ] + self.extra_args + ["about:blank"]
        env = dict(os.environ)
        # keep chromium's caches and config out of the real home
        env["HOME"] = self.tmpdir
        env["XDG_CONFIG_HOME"] = os.path.join(self.tmpdir, "config")
        env["XDG_CACHE_HOME"] = os.path.join(self.tmpdir, "cache")
        with open(self.stderr_path, "wb") as err:
            # stderr to a file, not a pipe: nobody has to keep reading it for chromium
            # not to block on a full pipe
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, env=env,
                                         start_new_session=True,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + BROWSER_START_TIMEOUT
        while time.monotonic() < deadline:
            m = re.search(r"DevTools listening on (ws://\S+)", self.stderr_text())
            if m:
                self.ws_url = m.group(1)
                return self
            if self.proc.poll() is not None:
                raise AssertionError("chromium exited with %s before DevTools listened:\n%s"
                                     % (self.proc.returncode, self.stderr_text()[-4000:]))
            time.sleep(0.05)
        raise AssertionError("chromium did not print 'DevTools listening on' within %ss:\n%s"
                             % (BROWSER_START_TIMEOUT, self.stderr_text()[-4000:]))

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self):
        """SIGTERM to chromium's process group (chromium's PID: it leads the group, and its
        helpers, zygote and renderers, are in it), up to 5 s for it to exit, then SIGKILL to
        whatever of the group is left."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


# hornet offers h2 first in ALPN, so chromium loads the page over HTTP/2, and since the
# server's SETTINGS allow extended CONNECT, chromium's WebSockets go over that connection
# (RFC 8441); the [h2] tests check that they did. The [http1] browser has HTTP/2 off, for
# the HTTP/1.1 Upgrade handshake (101).
CARRIERS = {"h2": [], "http1": ["--disable-http2"]}


@pytest.fixture(scope="module", params=sorted(CARRIERS))
def browser(request, tmp_path_factory):
    b = Chromium(tmp_path_factory.mktemp("chromium-" + request.param), CARRIERS[request.param])
    b.carrier = request.param
    try:
        yield b.start()
    finally:
        b.stop()


# ---------------------------------------------------------------------------------------------
# a small Chrome DevTools Protocol client


class CDPError(AssertionError):
    pass


class CDP:
    """One connection to the browser's DevTools endpoint; commands to the browser or, with
    session=, to a page attached with flatten=True."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending = {}
        self.events = []  # (sessionId, method, params), every event, for reports
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, url):
        ws = await websockets.connect(url, max_size=None, ping_interval=None,
                                      open_timeout=STEP_TIMEOUT, close_timeout=2)
        return cls(ws)

    async def close(self):
        self.reader.cancel()
        try:
            await self.reader
        except (asyncio.CancelledError, Exception):
            pass
        await self.ws.close()

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self.pending.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                else:
                    self.events.append((msg.get("sessionId"), msg.get("method"),
                                        msg.get("params", {})))
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(CDPError("DevTools connection closed"))

    async def send(self, method, params=None, session=None, timeout=STEP_TIMEOUT):
        mid = next(self.ids)
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[mid] = fut
        await self.ws.send(json.dumps(msg))
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise CDPError("%s: no answer within %ss" % (method, timeout))
        finally:
            self.pending.pop(mid, None)
        if "error" in reply:
            raise CDPError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    async def evaluate(self, session, expression, timeout=STEP_TIMEOUT):
        """The JSON value of expression (awaited when it is a promise) in the page."""
        res = await self.send("Runtime.evaluate", {"expression": expression,
                                                   "awaitPromise": True,
                                                   "returnByValue": True}, session,
                              timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise CDPError("exception in the page: %s" % (d.get("exception", {}).get(
                "description") or d.get("text")))
        return res["result"].get("value")

    async def open_page(self, url):
        """A new tab showing url, loaded: its (targetId, sessionId)."""
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target,
                                                             "flatten": True}))["sessionId"]
        await self.send("Page.enable", session=session)
        await self.send("Runtime.enable", session=session)
        # for failure reports: the browser's own messages ("WebSocket connection to ...
        # failed: ...") and what it saw of each WebSocket handshake and frame
        await self.send("Log.enable", session=session)
        await self.send("Network.enable", session=session)
        nav = await self.send("Page.navigate", {"url": url}, session)
        assert not nav.get("errorText"), "navigating to %s: %s" % (url, nav["errorText"])
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            state = await self.evaluate(session, "[document.readyState, location.href]")
            if state[0] == "complete" and state[1].startswith(url):
                return target, session
            assert time.monotonic() < deadline, "%s not loaded within %ss: %r" % (
                url, STEP_TIMEOUT, state)
            await asyncio.sleep(0.05)

    async def close_page(self, target):
        try:
            await self.send("Target.closeTarget", {"targetId": target}, timeout=5)
        except CDPError:
            pass

    def handshakes(self, session):
        """The WebSocket handshake responses the page got: [(status, {header: value})]."""
        out = []
        for sid, method, params in self.events:
            if sid == session and method == "Network.webSocketHandshakeResponseReceived":
                r = params.get("response", {})
                out.append((r.get("status"), {k.lower(): v for k, v in
                                              r.get("headers", {}).items()}))
        return out

    def console(self, session):
        """What the page and the browser logged about it, uncaught exceptions, WebSocket
        handshakes and frame errors (for failure reports)."""
        out = []
        for sid, method, params in self.events:
            if sid != session:
                continue
            if method == "Log.entryAdded":
                e = params.get("entry", {})
                out.append("log.%s: %s" % (e.get("level"), e.get("text")))
            elif method == "Network.webSocketHandshakeResponseReceived":
                r = params.get("response", {})
                out.append("websocket handshake: %s %s %s" % (r.get("status"),
                                                              r.get("statusText"),
                                                              r.get("headers")))
            elif method == "Network.webSocketFrameError":
                out.append("websocket frame error: %s" % params.get("errorMessage"))
            elif method == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (params.get("type"), " ".join(
                    str(a.get("value", a.get("description"))) for a in params.get("args", []))))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: %s" % params.get("exceptionDetails", {}).get("text"))
        return out


def run_cdp(browser, scenario):
    """Run `await scenario(cdp)` on a fresh DevTools connection, bounded by TEST_TIMEOUT."""
    async def main():
        cdp = await CDP.connect(browser.ws_url)
        try:
            return await asyncio.wait_for(scenario(cdp), TEST_TIMEOUT)
        finally:
            await cdp.close()
    return asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# the page


def test_chat_page_loads(browser, chat_server):
    url = "https://127.0.0.1:%d/" % chat_server.port

    async def scenario(cdp):
        target, session = await cdp.open_page(url)
        try:
            return await cdp.evaluate(session, """({
                title: document.title,
                contentType: document.contentType,
                protocol: location.protocol,
                carrier: performance.getEntriesByType('navigation')[0].nextHopProtocol,
                form: !!document.querySelector('form#form'),
                input: !!document.querySelector('input#msg'),
                log: !!document.querySelector('#log'),
                status: !!document.querySelector('#status'),
            })""")
        finally:
            await cdp.close_page(target)

    page = run_cdp(browser, scenario)
    carrier = {"h2": "h2", "http1": "http/1.1"}[browser.carrier]
    assert page == {"title": "hornet chat", "contentType": "text/html", "protocol": "https:",
                    "carrier": carrier, "form": True, "input": True, "log": True,
                    "status": True}, page


# ---------------------------------------------------------------------------------------------
# WebSocket, from a script in the page

# Opens two WebSockets, sends each message of MESSAGES from the first (binary ones given as
# {binary: [bytes]}), waits until both received all of them, closes both with 1000 and resolves
# with what each saw. Never rejects: a failure comes back as {error: ...} with what was seen so
# far, so the assertion shows it.
TWO_SOCKETS_JS = r"""
(async () => {
  const url = %(url)s;
  const messages = %(messages)s;
  const deadline = Date.now() + %(timeout_ms)d;
  const clients = [];
  function describe(c) {
    return {received: c.received, protocol: c.ws.protocol, extensions: c.ws.extensions,
            opened: c.opened, close: c.close, errors: c.errors};
  }
  function until(pred, what) {
    return new Promise((resolve, reject) => {
      (function poll() {
        if (pred()) return resolve();
        if (Date.now() > deadline) return reject(new Error('timed out waiting for ' + what));
        setTimeout(poll, 10);
      })();
    });
  }
  function open() {
    const c = {ws: new WebSocket(url, ['chat']), received: [], opened: false, close: null,
               errors: 0};
    c.ws.binaryType = 'arraybuffer';
    c.ws.onopen = () => { c.opened = true; };
    c.ws.onerror = () => { c.errors++; };
    c.ws.onclose = (e) => { c.close = {code: e.code, reason: e.reason, wasClean: e.wasClean}; };
    c.ws.onmessage = (e) => {
      c.received.push(typeof e.data === 'string' ? {text: e.data}
                                                 : {binary: Array.from(new Uint8Array(e.data))});
    };
    clients.push(c);
    return c;
  }
  try {
    const a = open(), b = open();
    await until(() => (a.opened || a.close) && (b.opened || b.close), 'both to open');
    if (!a.opened || !b.opened) throw new Error('a WebSocket did not open');
    for (const m of messages)
      a.ws.send(typeof m === 'string' ? m : new Uint8Array(m.binary));
    await until(() => a.received.length >= messages.length &&
                      b.received.length >= messages.length, 'the broadcasts');
    const result = {a: describe(a), b: describe(b)};
    a.ws.close(1000, 'bye');
    b.ws.close(1000);
    await until(() => a.close && b.close, 'the closing handshakes');
    result.a.close = a.close;
    result.b.close = b.close;
    return result;
  } catch (e) {
    return {error: String(e), clients: clients.map(describe)};
  }
})()
"""


def test_two_websockets_broadcast(browser, chat_server):
    port = chat_server.port
    page_url = "https://127.0.0.1:%d/" % port
    ws_url = "wss://127.0.0.1:%d/chat" % port
    long_text = "the quick brown fox jumps over the lazy dog; " * 40  # >= 128 bytes: deflated
    messages = [
        "hello from a",
        "h\u00e9llo \u2603 \U0001F44B",  # multi-byte UTF-8, a 4-byte sequence among them
        long_text,
        {"binary": [0, 1, 2, 253, 254, 255]},
    ]
    expected = [m if isinstance(m, dict) else {"text": m} for m in messages]
    script = TWO_SOCKETS_JS % {"url": json.dumps(ws_url), "messages": json.dumps(messages),
                               "timeout_ms": int(STEP_TIMEOUT * 1000)}

    async def scenario(cdp):
        target, session = await cdp.open_page(page_url)
        try:
            res = await cdp.evaluate(session, script, timeout=STEP_TIMEOUT + 10)
            await asyncio.sleep(0.2)  # let the last DevTools events arrive
            return res, cdp.console(session), cdp.handshakes(session)
        finally:
            await cdp.close_page(target)

    res, console, handshakes = run_cdp(browser, scenario)
    assert "error" not in res, "in the browser: %s\nconsole: %s" % (json.dumps(res)[:3000],
                                                                    console)
    for name in ("a", "b"):
        c = res[name]
        # every message, once, in order, same type: the sender gets its own back too
        assert c["received"] == expected, (name, c["received"])
        assert c["protocol"] == "chat", (name, c)
        # chromium offers permessage-deflate (client_max_window_bits); hornet accepts it
        # by default and answers with both no_context_takeover parameters
        ext = [p.strip() for p in c["extensions"].split(";")]
        assert ext[0] == "permessage-deflate", (name, c["extensions"])
        assert {"server_no_context_takeover", "client_no_context_takeover"} <= set(ext), \
            (name, c["extensions"])
        assert c["errors"] == 0, (name, c)
        # the closing handshake completed: the server echoed the browser's 1000
        assert c["close"]["code"] == 1000 and c["close"]["wasClean"], (name, c["close"])
    assert res["a"]["close"]["reason"] == "bye"
    # What the browser saw of the handshakes: the script's two, and the page's own (it
    # connects too, so it may be there as well). Over h2, chromium uses the connection the
    # page came on (RFC 8441: extended CONNECT, :status 200, no Sec-WebSocket-Accept); over
    # HTTP/1.1 it is the classic 101.
    assert len(handshakes) >= 2, console
    for status, headers in handshakes:
        assert headers.get("sec-websocket-protocol") == "chat", headers
        assert headers.get("sec-websocket-extensions", "").startswith("permessage-deflate"), \
            headers
        if browser.carrier == "h2":
            assert status == 200, (status, headers)
            assert "sec-websocket-accept" not in headers, headers
        else:
            assert status == 101, (status, headers)
            assert headers.get("upgrade", "").lower() == "websocket", headers
            assert headers.get("sec-websocket-accept"), headers


# ---------------------------------------------------------------------------------------------
# the page's own client, in two tabs


def test_chat_page_between_two_tabs(browser, chat_server):
    url = "https://127.0.0.1:%d/" % chat_server.port
    text = "typed in tab one \u2713"
    connected = "document.getElementById('status').textContent"
    lines = "Array.from(document.querySelectorAll('#log li'), li => li.textContent)"

    async def wait_for(cdp, session, expression, pred, what):
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            v = await cdp.evaluate(session, expression)
            if pred(v):
                return v
            status = await cdp.evaluate(session, connected)
            assert not status.startswith("closed"), "%s: the page's WebSocket is %s; " \
                "console: %s" % (what, status, cdp.console(session))
            assert time.monotonic() < deadline, "%s: still %r after %ss; console: %s" % (
                what, v, STEP_TIMEOUT, cdp.console(session))
            await asyncio.sleep(0.05)

    async def scenario(cdp):
        tabs = []
        try:
            for _ in range(2):
                tabs.append(await cdp.open_page(url))
            for _, session in tabs:
                await wait_for(cdp, session, connected, lambda v: v == "connected",
                               "the page's WebSocket to open")
            # type into the first tab's box and press its button, as a person would
            await cdp.evaluate(tabs[0][1], """(() => {
                document.getElementById('msg').value = %s;
                document.querySelector('#form button').click();
            })()""" % json.dumps(text))
            got = []
            for _, session in tabs:
                got.append(await wait_for(cdp, session, lines, lambda v: len(v) >= 1,
                                          "the message in the page's log"))
            box = await cdp.evaluate(tabs[0][1], "document.getElementById('msg').value")
            return got, box
        finally:
            for target, _ in tabs:
                await cdp.close_page(target)

    got, box = run_cdp(browser, scenario)
    assert got == [[text], [text]], got
    assert box == "", "the page clears its input box after sending: %r" % box


# ---------------------------------------------------------------------------------------------
# graceful stop


def test_graceful_stop_sends_1001(browser, hornet_server, tls_certs, chat_so):
    graceful = 4.0
    srv = hornet_server(app=chat_so, config=chat_config(tls_certs, graceful_timeout=graceful))
    url = "https://127.0.0.1:%d/" % srv.port
    status = "document.getElementById('status').textContent"

    async def scenario(cdp):
        target, session = await cdp.open_page(url)
        try:
            deadline = time.monotonic() + STEP_TIMEOUT
            while await cdp.evaluate(session, status) != "connected":
                assert time.monotonic() < deadline, cdp.console(session)
                await asyncio.sleep(0.05)
            # the page's socket is the global `ws` of its script
            await cdp.evaluate(session, """ws.addEventListener('close', (e) => {
                window.chatClose = {code: e.code, reason: e.reason, wasClean: e.wasClean,
                                 at: performance.now()};
            }), window.termAt = performance.now(), true""")
            srv.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + graceful + 5
            while True:
                closed = await cdp.evaluate(session, "window.chatClose || null")
                if closed:
                    break
                assert time.monotonic() < deadline, "no close within %ss; console: %s" % (
                    graceful + 5, cdp.console(session))
                await asyncio.sleep(0.05)
            closed["after"] = (closed.pop("at") - await cdp.evaluate(session,
                                                                     "window.termAt")) / 1000
            return closed
        finally:
            await cdp.close_page(target)

    closed = run_cdp(browser, scenario)
    assert closed["code"] == 1001 and closed["wasClean"], closed
    # open WebSockets keep running during the drain, and get their Close 1001 at
    # graceful_timeout - min(1 s, graceful_timeout / 2) after it began: 3 s here
    assert graceful - 1 - 0.5 <= closed["after"] <= graceful + 0.5, closed
    assert srv.wait_exit(graceful + 5) == 0, srv.stderr_text()[-3000:]
