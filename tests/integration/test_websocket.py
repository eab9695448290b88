"""WebSocket over HTTP/1.1 (RFC 6455, RFC 7692), ws:// and wss://: the handshake and its
refusals (426, 400, the app's 403 or HTTP denial, a plain GET for apps without WebSocket),
Sec-WebSocket-Accept, subprotocols, the scope, echo through builtin:echo and
tests/apps/wsprobe.c, every frame rule (fragments, pings between fragments, UTF-8, sizes,
opcodes, masking, RSV bits, control frames, close codes), closes from either side and TCP
drops as the app hears them (wsprobe logs "wsprobe: disconnect path=P completed=C code=N
reason=R" to the error log), permessage-deflate, the server's pings, graceful stop and reload
(Close 1001), many clients at once and a first frame pipelined with the handshake.

Clients: the `websockets` library (10.4, asyncio) for well-behaved traffic, and RawWS, a
frame-level client on hornet_fixture.Conn for everything a library would refuse to send.
Every server listens on 127.0.0.1 and every wait has a deadline.
"""

import asyncio
import base64
import hashlib
import os
import re
import signal
import struct
import time
import zlib

import pytest
import websockets

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import build_request, client_ssl_context, wait_until
from tls_fixture import tls_certs  # noqa: F401,F811  (tls_certs: a fixture)
from ws_frames import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Frame,
                       close_payload, deflate, frame, inflate)

pytestmark = requires_gcc

HELLO = b"Hello, world!"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# how long a failed connection may take to be closed by the server: well under the 5 s it
# waits for a client's Close after a close of its own
FAIL_CLOSE_WITHIN = 2.5


# ---------------------------------------------------------------------------------------------
# frames


def read_frame(conn, timeout=5.0):
    """One server frame from a hornet_fixture.Conn. Server frames are never masked."""
    deadline = time.monotonic() + timeout
    h = conn.read_exact(2, deadline)
    fin, rsv, opcode = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 0xF
    masked, n = h[1] >> 7, h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", conn.read_exact(2, deadline))[0]
    elif n == 127:
        n = struct.unpack("!Q", conn.read_exact(8, deadline))[0]
    assert not masked, "the server masked a frame (RFC 6455 5.1)"
    payload = conn.read_exact(n, deadline)
    return Frame(fin, rsv, opcode, payload)


def ext_params(value):
    """'permessage-deflate; a; b=1' -> ('permessage-deflate', ['a', 'b=1']) sorted."""
    parts = [re.sub(r"\s*=\s*", "=", p.strip()) for p in value.split(";")]
    return parts[0].lower(), sorted(p.lower() for p in parts[1:])


# ---------------------------------------------------------------------------------------------
# the handshake


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def handshake(path="/", key=None, headers=(), version="13", method="GET", http="HTTP/1.1",
              body=None, upgrade="websocket", connection="Upgrade"):
    """The bytes of a handshake request; a None value leaves that header out."""
    hs = []
    if upgrade is not None:
        hs.append(("Upgrade", upgrade))
    if connection is not None:
        hs.append(("Connection", connection))
    if key is not None:
        hs.append(("Sec-WebSocket-Key", key))
    if version is not None:
        hs.append(("Sec-WebSocket-Version", version))
    hs.extend(headers)
    return build_request(method, path, hs, body, http)


class RawWS:
    """A frame-level WebSocket client over a Conn (TLS when the server is TLS). The
    constructor sends the handshake (plus `extra` bytes in the same write) and reads the
    response; with expect=101 it checks the 101 and its Sec-WebSocket-Accept."""

    def __init__(self, srv, path="/", headers=(), extra=b"", timeout=10, expect=101):
        self.srv = srv
        self.key = new_key()
        self.conn = srv.connect(timeout)
        try:
            self.conn.send(handshake(path, self.key, headers) + extra)
            self.response = self.conn.read_response(timeout=timeout)
        except BaseException:
            self.conn.close()
            raise
        r = self.response
        if expect is not None:
            assert r.status == expect, r
        if r.status == 101:
            assert r.header("sec-websocket-accept") == accept_for(self.key), r
            assert r.has_token("upgrade", "websocket"), r
            assert r.has_token("connection", "upgrade"), r

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.conn.close()

    def send(self, data):
        self.conn.send(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.conn.send(frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_close(self, code=None, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def recv(self, timeout=5.0):
        return read_frame(self.conn, timeout)

    def recv_message(self, timeout=5.0):
        """The next frame, which must be a whole data message (FIN set, not fragmented)."""
        f = self.recv(timeout)
        assert f.opcode in (OP_TEXT, OP_BINARY), "expected a message, got %r" % (f,)
        assert f.fin, "the server fragmented a message: %r" % (f,)
        return f

    def expect_text(self, text, timeout=5.0):
        f = self.recv_message(timeout)
        assert (f.opcode, f.rsv) == (OP_TEXT, 0), f
        assert f.payload == (text.encode() if isinstance(text, str) else text), f

    def expect_binary(self, data, timeout=5.0):
        f = self.recv_message(timeout)
        assert (f.opcode, f.rsv) == (OP_BINARY, 0), f
        assert f.payload == data, f

    def expect_close(self, code, timeout=5.0):
        """The next frame is a Close with this code (None: an empty Close)."""
        f = self.recv(timeout)
        assert f.opcode == OP_CLOSE, "expected Close %s, got %r" % (code, f)
        assert f.fin and f.rsv == 0, f
        if code is None:
            assert f.payload == b"", f
        else:
            assert f.close_code == code, f
        return f

    def expect_fail(self, code, timeout=5.0):
        """The server fails the connection: Close `code`, then it closes the TCP connection
        at once, without waiting for our Close."""
        f = self.expect_close(code, timeout)
        self.conn.assert_closed(FAIL_CLOSE_WITHIN)
        return f

    def expect_eof(self, timeout=FAIL_CLOSE_WITHIN):
        self.conn.assert_closed(timeout)


# ---------------------------------------------------------------------------------------------
# servers, the error log, the websockets library


@pytest.fixture
def wsprobe(hornet_server, apps):
    """Factory: a server running wsprobe with these config keys."""
    def start(**cfg):
        return hornet_server(app=apps["wsprobe"], config=cfg)
    return start


@pytest.fixture
def echo(hornet_server):
    def start(**cfg):
        return hornet_server(app="builtin:echo", config=cfg)
    return start


DISCONNECT_RE = r"wsprobe: disconnect path=%s completed=(\d) code=(-?\d+) reason=(\S*)"


def disconnect_log(srv, path, timeout=10):
    """(completed, code, reason) of wsprobe's on_disconnect line for the WebSocket at path."""
    pat = re.compile(DISCONNECT_RE % re.escape(path))
    m = wait_until(lambda: pat.search(srv.stderr_text()), timeout,
                   what="wsprobe's disconnect line for %s in the error log" % path)
    assert len(pat.findall(srv.stderr_text())) == 1, "on_disconnect more than once for " + path
    return int(m.group(1)), int(m.group(2)), m.group(3)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_uri(srv, path="/"):
    return "%s://127.0.0.1:%d%s" % ("wss" if srv.tls else "ws", srv.port, path)


def ws_connect(srv, path="/", **kw):
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 10)
    if srv.tls:
        kw.setdefault("ssl", client_ssl_context())
    return websockets.connect(ws_uri(srv, path), **kw)


async def recv(ws, timeout=5.0):
    return await asyncio.wait_for(ws.recv(), timeout)


async def echo_roundtrips(ws, messages):
    for m in messages:
        await ws.send(m)
        got = await recv(ws)
        assert type(got) is type(m) and got == m, (got[:80], m[:80])


MESSAGES = ["hello", "nul\x00inside", "h\u00e9llo w\u00f6rld \u2603 \U0001F600", "",
            b"\x00\x01\xff" * 100, bytes(range(256)), "x" * 70000, b"y" * 70000]


# ---------------------------------------------------------------------------------------------
# the handshake


def test_accept_response(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/plain") as ws:
        r = ws.response
        assert r.status == 101 and r.version == "HTTP/1.1", r
        assert r.header("sec-websocket-protocol") is None, r
        assert r.header("sec-websocket-extensions") is None, r
        assert r.header("content-length") is None and r.header("transfer-encoding") is None, r
        ws.send_text("ping?")
        ws.expect_text("ping?")


def test_accept_value_of_rfc_example_key(wsprobe):
    """The key of RFC 6455 section 1.3 and its published Sec-WebSocket-Accept."""
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", "dGhlIHNhbXBsZSBub25jZQ=="))
        r = c.read_response()
        assert r.status == 101, r
        assert r.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", r


def test_tokens_in_any_case_and_in_lists(wsprobe):
    srv = wsprobe()
    key = new_key()
    with srv.connect() as c:
        c.send(handshake("/", key, upgrade="WebSocket", connection="keep-alive, UPGRADE"))
        r = c.read_response()
        assert r.status == 101, r
        assert r.header("sec-websocket-accept") == accept_for(key), r
        c.send(frame(OP_TEXT, b"ok"))
        assert read_frame(c) == Frame(1, 0, OP_TEXT, b"ok")


def test_lowercase_names_and_spaces(wsprobe):
    srv = wsprobe()
    key = new_key()
    with srv.connect() as c:
        c.send(("GET /lower HTTP/1.1\r\nhost: a\r\nupgrade:   websocket  \r\n"
                "connection:  Upgrade \r\nsec-websocket-key:   %s   \r\n"
                "sec-websocket-version:  13 \r\n\r\n" % key).encode())
        r = c.read_response()
        assert r.status == 101 and r.header("sec-websocket-accept") == accept_for(key), r


@pytest.mark.parametrize("version", [None, "8", "12", "14", "13, 8"])
def test_bad_version_426(wsprobe, version):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", new_key(), version=version))
        r = c.read_response()
        assert r.status == 426, r
        assert r.header("sec-websocket-version") == "13", r
        c.assert_closed()


@pytest.mark.parametrize("key", [
    None,
    "",
    base64.b64encode(b"k" * 15).decode(),
    base64.b64encode(b"k" * 17).decode(),
    "not base64 at all!!!!!!!",
    "!!!!!!!!!!!!!!!!!!!!!!==",
], ids=["missing", "empty", "15-bytes", "17-bytes", "garbage", "bad-chars"])
def test_bad_key_400(wsprobe, key):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", key))
        r = c.read_response()
        assert r.status == 400, r
        c.assert_closed()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_not_get_400(wsprobe, method):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", new_key(), method=method))
        r = c.read_response(method=method)
        assert r.status == 400, r
        c.assert_closed()


def test_head_handshake_400_without_body(wsprobe):
    """HEAD is not GET: 400, and as for any answer to HEAD, no body (RFC 9110 9.3.2)."""
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", new_key(), method="HEAD"))
        r = c.read_response(method="HEAD")
        assert r.status == 400, r
        c.assert_closed()  # a body would show here as bytes before the EOF


def test_http10_400(wsprobe):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", new_key(), http="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 400, r
        c.assert_closed()


@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_handshake_with_body_400(wsprobe, how):
    srv = wsprobe()
    with srv.connect() as c:
        if how == "content-length":
            c.send(handshake("/", new_key(), body=b"hello"))
        else:
            c.send(handshake("/", new_key(), headers=[("Transfer-Encoding", "chunked")]) +
                   b"5\r\nhello\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 400, r
        c.assert_closed()


@pytest.mark.parametrize("upgrade,connection", [
    ("websocket", None), ("websocket", "keep-alive"), (None, "Upgrade"),
    ("websocketx", "Upgrade")])
def test_not_a_handshake_is_plain_http(wsprobe, upgrade, connection):
    """Without both Upgrade: websocket and Connection: upgrade the request is plain HTTP: the
    app gets an HTTP scope (wsprobe answers 200 "http") and the connection stays usable."""
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/", new_key(), upgrade=upgrade, connection=connection))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"http"), r
        r = c.request("GET", "/again")
        assert (r.status, r.body) == (200, b"http"), r


def test_wsprobe_answers_http(wsprobe):
    srv = wsprobe()
    r = srv.request("GET", "/anything")
    assert (r.status, r.body) == (200, b"http"), r


def test_hello_gets_the_handshake_as_plain_get(hornet_server):
    srv = hornet_server(app="builtin:hello")
    with srv.connect() as c:
        c.send(handshake("/", new_key()))
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO), r
        assert r.header("sec-websocket-accept") is None, r


def test_simple_app_gets_the_handshake_as_plain_get(hornet_server, apps):
    srv = hornet_server(app=apps["simple"])
    with srv.connect() as c:
        c.send(handshake("/", new_key()))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"simple\n"), r


def test_static_gets_the_handshake_as_plain_get(hornet_server, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "page.txt").write_bytes(b"static page\n")
    srv = hornet_server(app="builtin:static", config={"static_root": str(root)})
    with srv.connect() as c:
        c.send(handshake("/page.txt", new_key()))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"static page\n"), r


def test_mounted_apps(hornet_server, apps):
    """WebSocket goes by the app the path is mounted on: wsprobe and builtin:echo accept (with
    root_path taken off the scope's path), the unmounted hello answers HTTP."""
    srv = hornet_server(app="builtin:hello", config={"mount": {"/ws": apps["wsprobe"],
                                                               "/echo": "builtin:echo"}})
    with RawWS(srv, "/ws/scope?q=1") as ws:
        ws.expect_text("type=ws scheme=ws path=/scope query=q=1 http_version=1.1 method=NULL "
                       "subprotocols=")
    with RawWS(srv, "/echo/x") as ws:
        ws.send_text("mounted echo")
        ws.expect_text("mounted echo")
    with srv.connect() as c:
        c.send(handshake("/other", new_key()))
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO), r


def test_root_path_in_the_scope(wsprobe):
    srv = wsprobe(root_path="/prefix")
    with RawWS(srv, "/prefix/scope") as ws:
        ws.expect_text("type=ws scheme=ws path=/scope query= http_version=1.1 method=NULL "
                       "subprotocols=")


def test_http_then_handshake_on_one_connection(wsprobe):
    srv = wsprobe()
    with srv.connect() as c:
        r = c.request("GET", "/first")
        assert (r.status, r.body) == (200, b"http"), r
        key = new_key()
        c.send(handshake("/second", key))
        r = c.read_response()
        assert r.status == 101 and r.header("sec-websocket-accept") == accept_for(key), r
        c.send(frame(OP_TEXT, b"after http"))
        assert read_frame(c) == Frame(1, 0, OP_TEXT, b"after http")


def test_http_handshake_and_frame_pipelined(wsprobe):
    """A plain request, the handshake and a first frame in one write."""
    srv = wsprobe()
    key = new_key()
    with srv.connect() as c:
        c.send(build_request("GET", "/first") + handshake("/then-ws", key) +
               frame(OP_TEXT, b"third"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"http"), r
        r = c.read_response()
        assert r.status == 101 and r.header("sec-websocket-accept") == accept_for(key), r
        assert read_frame(c) == Frame(1, 0, OP_TEXT, b"third")


def test_idle_websocket_outlives_keep_alive_timeout(wsprobe):
    """keep_alive_timeout is for idle HTTP connections, not for an open WebSocket (and the
    101 does not count against keep_alive_max_requests)."""
    srv = wsprobe(keep_alive_timeout="1s", keep_alive_max_requests=1)
    with RawWS(srv, "/idle") as ws:
        time.sleep(2.5)
        ws.send_text("still here")
        ws.expect_text("still here")


# ---------------------------------------------------------------------------------------------
# subprotocols, extra headers, denial


def test_subprotocol_last_offered_chosen_by_app(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/subprotocol", headers=[("Sec-WebSocket-Protocol", "chat, superchat")]) \
            as ws:
        assert ws.response.header_all("sec-websocket-protocol") == ["superchat"], ws.response


def test_subprotocol_with_websockets_client(wsprobe):
    srv = wsprobe()

    async def main():
        async with ws_connect(srv, "/subprotocol", subprotocols=["chat", "superchat"]) as ws:
            assert ws.subprotocol == "superchat"
            await echo_roundtrips(ws, ["after subprotocol"])
    run(main())


def test_subprotocol_none_offered(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/subprotocol") as ws:
        assert ws.response.header("sec-websocket-protocol") is None, ws.response


def test_builtin_echo_chooses_first_subprotocol(echo):
    srv = echo()
    with RawWS(srv, "/", headers=[("Sec-WebSocket-Protocol", "chat, superchat")]) as ws:
        assert ws.response.header_all("sec-websocket-protocol") == ["chat"], ws.response
        ws.send_text("hi")
        ws.expect_text("hi")
    with RawWS(srv, "/") as ws:
        assert ws.response.header("sec-websocket-protocol") is None, ws.response


def test_accept_with_extra_header(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/headers") as ws:
        assert ws.response.header("x-accepted") == "1", ws.response
        ws.send_text("still works")
        ws.expect_text("still works")


def test_deny_with_close_is_403(wsprobe):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/deny403", new_key()))
        r = c.read_response()
        assert r.status == 403, r
        assert r.header("sec-websocket-accept") is None, r
        c.assert_closed()


def test_deny_with_http_response(wsprobe):
    srv = wsprobe()
    with srv.connect() as c:
        c.send(handshake("/deny", new_key()))
        r = c.read_response()
        assert (r.status, r.body) == (401, b"go away"), r
        assert r.header("content-type") == "text/plain", r
        assert r.header("x-denied") == "yes", r
        assert r.header("sec-websocket-accept") is None, r
        c.assert_closed()


def test_deny_seen_by_websockets_client(wsprobe):
    srv = wsprobe()

    async def main():
        for path, status in (("/deny403", 403), ("/deny", 401)):
            with pytest.raises(websockets.InvalidStatusCode) as ei:
                async with ws_connect(srv, path):
                    pass
            assert ei.value.status_code == status
    run(main())


# ---------------------------------------------------------------------------------------------
# the scope


def test_scope(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/scope?a=1&b=%20x") as ws:
        ws.expect_text("type=ws scheme=ws path=/scope query=a=1&b=%20x http_version=1.1 "
                       "method=NULL subprotocols=")


def test_scope_path_is_percent_decoded(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/%73cope") as ws:
        ws.expect_text("type=ws scheme=ws path=/scope query= http_version=1.1 method=NULL "
                       "subprotocols=")


def test_scope_subprotocols_of_all_headers_in_order(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/scope", headers=[("Sec-WebSocket-Protocol", "one"),
                                       ("Sec-WebSocket-Protocol", "two, three"),
                                       ("Sec-WebSocket-Protocol", "four,five")]) as ws:
        ws.expect_text("type=ws scheme=ws path=/scope query= http_version=1.1 method=NULL "
                       "subprotocols=one,two,three,four,five")
        assert ws.response.header("sec-websocket-protocol") is None, ws.response


# ---------------------------------------------------------------------------------------------
# echo


def test_builtin_echo_with_websockets_client(echo):
    srv = echo()

    async def main():
        async with ws_connect(srv, "/", max_size=2 ** 20) as ws:
            await echo_roundtrips(ws, MESSAGES)
            await ws.close()
            assert ws.close_code == 1000
    run(main())


def test_wsprobe_echo_with_websockets_client(wsprobe):
    srv = wsprobe()

    async def main():
        async with ws_connect(srv, "/echo", max_size=2 ** 20) as ws:
            await echo_roundtrips(ws, MESSAGES)
            await ws.close(1000, "done")
            assert ws.close_code == 1000
    run(main())
    assert disconnect_log(srv, "/echo") == (1, 1000, "done")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200000])
def test_raw_echo_lengths(wsprobe, size):
    """Every length encoding both ways (7-bit, 16-bit, 64-bit)."""
    srv = wsprobe()
    data = os.urandom(size)
    with RawWS(srv, "/len") as ws:
        ws.send_binary(data)
        ws.expect_binary(data)
        text = ("\u00e9" * size)[:size // 2].encode()
        ws.send_text(text)
        ws.expect_text(text)


def test_frame_sent_byte_by_byte(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/slow") as ws:
        data = b"slow " * 60
        ws.conn.send_slowly(frame(OP_TEXT, data), pieces=len(data) + 8, pause=0.001)
        ws.expect_text(data)


def test_several_frames_in_one_write(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/batch") as ws:
        ws.send(b"".join(frame(OP_TEXT, "m%d" % i) for i in range(20)))
        for i in range(20):
            ws.expect_text("m%d" % i)


def test_pipelined_first_frame(wsprobe):
    """The handshake and the first frame in one write: the frame is not lost."""
    srv = wsprobe()
    with RawWS(srv, "/pipelined", extra=frame(OP_TEXT, b"first") + frame(OP_BINARY, b"2nd")) \
            as ws:
        ws.expect_text("first")
        ws.expect_binary(b"2nd")


def test_big_server_message_is_one_frame(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/big") as ws:
        ws.send_text("big:300000")
        ws.expect_binary(b"x" * 300000, timeout=10)


# ---------------------------------------------------------------------------------------------
# fragments, control frames between them, UTF-8


def test_fragmented_message(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/frag") as ws:
        ws.send_frame(OP_TEXT, b"Hel", fin=False)
        ws.send_frame(OP_CONT, b"lo ", fin=False)
        ws.send_frame(OP_CONT, b"", fin=False)
        ws.send_frame(OP_CONT, b"world")
        ws.expect_text("Hello world")
        ws.send_frame(OP_BINARY, b"\x00\x01", fin=False)
        ws.send_frame(OP_CONT, b"\x02")
        ws.expect_binary(b"\x00\x01\x02")


def test_many_tiny_fragments(wsprobe):
    srv = wsprobe()
    b = ("ab\u00e9\u2603\U0001F600" * 100).encode()
    with RawWS(srv, "/tiny") as ws:
        ws.send(frame(OP_TEXT, b[:1], fin=False) +
                b"".join(frame(OP_CONT, b[i:i + 1], fin=False) for i in range(1, len(b))) +
                frame(OP_CONT, b""))
        ws.expect_text(b)


def test_ping_between_fragments(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pingfrag") as ws:
        ws.send_frame(OP_TEXT, b"first ", fin=False)
        ws.send_frame(OP_PING, b"p-1")
        f = ws.recv()
        assert f == Frame(1, 0, OP_PONG, b"p-1"), f
        ws.send_frame(OP_CONT, b"second ", fin=False)
        ws.send_frame(OP_PING, b"")
        f = ws.recv()
        assert f == Frame(1, 0, OP_PONG, b""), f
        ws.send_frame(OP_CONT, b"third")
        ws.expect_text("first second third")


def test_ping_pong_and_unsolicited_pong(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pong") as ws:
        ws.send_frame(OP_PING, b"x" * 125)
        assert ws.recv() == Frame(1, 0, OP_PONG, b"x" * 125)
        ws.send_frame(OP_PONG, b"unsolicited")
        ws.send_frame(OP_PONG, b"")
        ws.send_text("after pongs")
        ws.expect_text("after pongs")  # nothing came back for the pongs


def test_utf8_character_split_across_fragments(wsprobe):
    srv = wsprobe()
    snowman = "\u2603".encode()  # e2 98 83
    with RawWS(srv, "/split") as ws:
        ws.send_frame(OP_TEXT, b"a" + snowman[:1], fin=False)
        ws.send_frame(OP_CONT, snowman[1:2], fin=False)
        ws.send_frame(OP_CONT, snowman[2:] + b"b")
        ws.expect_text(b"a" + snowman + b"b")


def test_bad_utf8_in_first_fragment_1007(wsprobe):
    """Detected as soon as the fragment is invalid: no further fragment is sent."""
    srv = wsprobe()
    with RawWS(srv, "/badutf8frag") as ws:
        ws.send_frame(OP_TEXT, b"fine \xff\xfe", fin=False)
        ws.expect_fail(1007)
    assert disconnect_log(srv, "/badutf8frag")[1] == 1007


def test_bad_utf8_in_middle_fragment_1007(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/badutf8mid") as ws:
        ws.send_frame(OP_TEXT, b"ok ", fin=False)
        ws.send_frame(OP_CONT, b"\xc3\x28 bad", fin=False)
        ws.expect_fail(1007)


def test_bad_utf8_across_a_fragment_boundary_1007(wsprobe):
    """A fragment may end inside a character; the next one that does not continue it fails
    the connection at once, before the message ends."""
    srv = wsprobe()
    with RawWS(srv, "/badsplit") as ws:
        ws.send_frame(OP_TEXT, b"ok \xe2", fin=False)
        ws.send_frame(OP_CONT, b"\x98", fin=False)
        ws.send_frame(OP_PING, b"still fine")  # nothing invalid yet
        assert ws.recv() == Frame(1, 0, OP_PONG, b"still fine")
        ws.send_frame(OP_CONT, b"( more", fin=False)
        ws.expect_fail(1007)


@pytest.mark.parametrize("payload", [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf",
                                     b"\xf4\x90\x80\x80", b"abc\xe2\x98"],
                         ids=["ff", "truncated-2", "surrogate", "overlong", "above-10ffff",
                              "truncated-at-end"])
def test_bad_utf8_text_1007(wsprobe, payload):
    srv = wsprobe()
    with RawWS(srv, "/badutf8") as ws:
        ws.send_frame(OP_TEXT, payload)
        ws.expect_fail(1007)


def test_binary_is_not_utf8_checked(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/binutf8") as ws:
        ws.send_binary(b"\xff\xfe\xc3")
        ws.expect_binary(b"\xff\xfe\xc3")


# ---------------------------------------------------------------------------------------------
# protocol errors: Close 1002, then the server closes at once


def _key():
    return os.urandom(4)


PROTOCOL_ERRORS = {
    "unmasked": frame(OP_TEXT, b"hello", mask=False),
    "unmasked-ping": frame(OP_PING, b"p", mask=False),
    "opcode-3": frame(0x3, b"x"),
    "opcode-7": frame(0x7, b"x"),
    "opcode-b": frame(0xB, b"x"),
    "opcode-f": frame(0xF, b""),
    "rsv1-without-deflate": frame(OP_TEXT, b"x", rsv=4),
    "rsv2": frame(OP_TEXT, b"x", rsv=2),
    "rsv3": frame(OP_BINARY, b"x", rsv=1),
    "rsv2-ping": frame(OP_PING, b"x", rsv=2),
    "ping-126": frame(OP_PING, b"p" * 126),
    "pong-200": frame(OP_PONG, b"p" * 200),
    "close-126": frame(OP_CLOSE, close_payload(1000, b"r" * 124)),
    "ping-fin-clear": frame(OP_PING, b"p", fin=False),
    "close-fin-clear": frame(OP_CLOSE, close_payload(1000), fin=False),
    "continuation-first": frame(OP_CONT, b"x"),
    "continuation-first-nofin": frame(OP_CONT, b"x", fin=False),
    "text-during-fragments": frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"),
    "binary-during-fragments": frame(OP_BINARY, b"a", fin=False) + frame(OP_BINARY, b"b"),
    "length-top-bit": bytes([0x82, 0xFF]) + struct.pack("!Q", (1 << 63) | 5) + _key() + b"x" * 5,
    "close-1-byte": frame(OP_CLOSE, b"\x03"),
}


@pytest.mark.parametrize("name", sorted(PROTOCOL_ERRORS))
def test_protocol_error_1002(wsprobe, name):
    srv = wsprobe()
    path = "/proto-" + name
    with RawWS(srv, path) as ws:
        ws.send(PROTOCOL_ERRORS[name])
        ws.expect_fail(1002)
    assert disconnect_log(srv, path)[1] == 1002


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                                  65535])
def test_invalid_close_code_1002(wsprobe, code):
    srv = wsprobe()
    with RawWS(srv, "/badcode") as ws:
        ws.send_close(code, b"r")
        ws.expect_fail(1002)


def test_close_reason_not_utf8_1007(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/badreason") as ws:
        ws.send_close(1000, b"\xff\xfe")
        ws.expect_fail(1007)


def test_second_connection_unaffected_by_a_failed_one(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/good") as good, RawWS(srv, "/bad") as bad:
        bad.send_frame(OP_TEXT, b"x", mask=False)
        bad.expect_fail(1002)
        good.send_text("still here")
        good.expect_text("still here")


# ---------------------------------------------------------------------------------------------
# closing


def test_client_close_code_echoed(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/close4001") as ws:
        ws.send_text("before")
        ws.expect_text("before")
        ws.send_close(4001, b"x")
        ws.expect_close(4001)
        ws.expect_eof()  # HTTP/1.1: the server closes the TCP connection
    assert disconnect_log(srv, "/close4001") == (1, 4001, "x")


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                  1013, 1014, 3000, 3999, 4999])
def test_valid_close_codes_echoed(wsprobe, code):
    srv = wsprobe()
    path = "/code%d" % code
    with RawWS(srv, path) as ws:
        ws.send_close(code)
        ws.expect_close(code)
        ws.expect_eof()
    assert disconnect_log(srv, path)[:2] == (1, code)


def test_client_close_without_code(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/emptyclose") as ws:
        ws.send_close()
        ws.expect_close(None)  # an empty Close back
        ws.expect_eof()
    assert disconnect_log(srv, "/emptyclose") == (1, 1005, "")


def test_client_close_during_a_fragmented_message(wsprobe):
    """A Close between the fragments of a message is a control frame like any other."""
    srv = wsprobe()
    with RawWS(srv, "/closefrag") as ws:
        ws.send_frame(OP_TEXT, b"abc", fin=False)
        ws.send_close(4003, b"mid")
        ws.expect_close(4003)
        ws.expect_eof()
    assert disconnect_log(srv, "/closefrag") == (1, 4003, "mid")


def test_frames_after_the_client_close_are_ignored(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/afterclose") as ws:
        ws.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_TEXT, b"late"))
        ws.expect_close(1000)
        ws.expect_eof()  # no echo of "late"


def test_close_pipelined_with_the_handshake(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pipeclose", extra=frame(OP_CLOSE, close_payload(4005, b"z"))) as ws:
        ws.expect_close(4005)
        ws.expect_eof()
    assert disconnect_log(srv, "/pipeclose") == (1, 4005, "z")


def test_tcp_drop_is_1006(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/drop") as ws:
        ws.send_text("x")
        ws.expect_text("x")
    assert disconnect_log(srv, "/drop") == (0, 1006, "")


def test_tcp_drop_mid_message_is_1006(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/dropmid") as ws:
        ws.send_frame(OP_TEXT, b"part", fin=False)
        ws.send(frame(OP_CONT, b"y" * 1000)[:20])  # half a frame
        time.sleep(0.1)
    assert disconnect_log(srv, "/dropmid") == (0, 1006, "")


def test_app_close(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/close") as ws:
        f = ws.expect_close(4000)
        assert f.close_reason == b"bye", f
        ws.send_close(4000)
        ws.expect_eof()
    completed, code, _ = disconnect_log(srv, "/close")
    assert (completed, code) == (1, 4000)


def test_app_close_with_websockets_client(wsprobe):
    srv = wsprobe()

    async def main():
        async with ws_connect(srv, "/close") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 4000 and ws.close_reason == "bye"
    run(main())


def test_app_close_waits_5s_for_the_client(wsprobe):
    """The client never answers the app's Close: the server closes the TCP connection about
    5 s later (not at once, not never)."""
    srv = wsprobe()
    with RawWS(srv, "/close") as ws:
        ws.expect_close(4000)
        t0 = time.monotonic()
        ws.conn.assert_closed(10)
        elapsed = time.monotonic() - t0
    assert 3.5 <= elapsed <= 8, elapsed


def test_app_close_from_message(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/msgclose") as ws:
        ws.send_text("close:4321:why")
        f = ws.expect_close(4321)
        assert f.close_reason == b"why", f
        ws.send_close(4321, b"ok")
        ws.expect_eof()
    assert disconnect_log(srv, "/msgclose")[:2] == (1, 4321)


def test_app_close_without_reason(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/msgclose2") as ws:
        ws.send_text("close:1000:")
        f = ws.expect_close(1000)
        assert f.close_reason == b"", f
        ws.send_close(1000)
        ws.expect_eof()


def test_messages_after_app_close_are_not_delivered(wsprobe):
    """After the app's Close the server sends nothing more but the closing handshake."""
    srv = wsprobe()
    with RawWS(srv, "/lateclose") as ws:
        ws.send_text("close:4002:late")
        ws.expect_close(4002)
        ws.send_text("echo me?")  # a frame in flight before our Close: not echoed
        ws.send_close(4002)
        ws.expect_eof()


def test_websocket_send_refuses_bad_utf8(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/badtext") as ws:
        ws.send_text("badtext")
        ws.expect_text("EINVAL")  # nothing was sent for the refused call
        ws.send_text("alive")
        ws.expect_text("alive")


def test_websocket_close_refuses_1005(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/badclose") as ws:
        ws.send_text("badclose")
        ws.expect_text("EINVAL")
        ws.send_text("alive")
        ws.expect_text("alive")


@pytest.mark.parametrize("code", [999, 1004, 1006, 1015, 2000, 5000])
def test_websocket_close_refuses_invalid_codes(wsprobe, code):
    """close:CODE with an invalid code: websocket_close returns HORNET_EINVAL, nothing is
    sent and the WebSocket goes on."""
    srv = wsprobe()
    with RawWS(srv, "/badcode%d" % code) as ws:
        ws.send_text("close:%d:no" % code)
        ws.send_text("alive")
        ws.expect_text("alive")
    wait_until(lambda: ("websocket_close(%d) rc=-3" % code) in srv.stderr_text(), 10,
               what="the refused websocket_close in the log")


# ---------------------------------------------------------------------------------------------
# websocket_max_message_size


def test_message_of_exactly_max_size(wsprobe):
    srv = wsprobe(websocket_max_message_size=1000)
    with RawWS(srv, "/exact") as ws:
        ws.send_binary(b"b" * 1000)
        ws.expect_binary(b"b" * 1000)
        ws.send_frame(OP_TEXT, b"t" * 500, fin=False)
        ws.send_frame(OP_CONT, b"t" * 500)
        ws.expect_text(b"t" * 1000)


@pytest.mark.parametrize("length", [1001, 70000, 1 << 40])
def test_oversize_frame_refused_at_its_header(wsprobe, length):
    """Only the header is sent: the server refuses the frame by its announced length."""
    srv = wsprobe(websocket_max_message_size=1000)
    with RawWS(srv, "/oversize") as ws:
        ws.send(frame(OP_BINARY, b"", length=length))
        ws.expect_fail(1009)
    assert disconnect_log(srv, "/oversize")[1] == 1009


def test_oversize_fragmented_message_1009(wsprobe):
    srv = wsprobe(websocket_max_message_size=1000)
    with RawWS(srv, "/oversizefrag") as ws:
        ws.send_frame(OP_BINARY, b"a" * 400, fin=False)
        ws.send_frame(OP_CONT, b"a" * 400, fin=False)
        ws.send_frame(OP_CONT, b"a" * 400, fin=False)
        ws.expect_fail(1009)
    assert disconnect_log(srv, "/oversizefrag")[1] == 1009


@pytest.mark.parametrize("size", [1001, 1 << 20])
def test_websockets_client_message_too_big(wsprobe, size):
    """Also with a whole megabyte on its way: the Close 1009 is not lost to a reset."""
    srv = wsprobe(websocket_max_message_size=1000)

    async def main():
        async with ws_connect(srv, "/toobig", max_size=2 ** 21) as ws:
            await echo_roundtrips(ws, ["s" * 1000])
            await ws.send("s" * size)
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 1009
    run(main())


# ---------------------------------------------------------------------------------------------
# permessage-deflate


PMD = ("permessage-deflate", ["client_no_context_takeover", "server_no_context_takeover"])


def test_deflate_with_websockets_client(wsprobe):
    srv = wsprobe()
    text = "".join("line %d of a compressible message\n" % i for i in range(300))[:10240]
    assert len(text) == 10240

    async def main():
        async with ws_connect(srv, "/deflate", compression="deflate") as ws:
            ext = ws.response_headers.get("Sec-WebSocket-Extensions")
            assert ext is not None and ext_params(ext)[0] == "permessage-deflate", ext
            assert ws.extensions, "the client did not negotiate permessage-deflate"
            await echo_roundtrips(ws, [text, text.encode(), "tiny", os.urandom(5000), ""])
    run(main())


def test_builtin_echo_deflate_with_websockets_client(echo):
    srv = echo()

    async def main():
        async with ws_connect(srv, "/", compression="deflate") as ws:
            assert ws.extensions
            await echo_roundtrips(ws, ["z" * 10240, b"\x00" * 10240])
    run(main())


def test_deflate_negotiated_response(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmd", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) as ws:
        ext = ws.response.header_all("sec-websocket-extensions")
        assert len(ext) == 1 and ext_params(ext[0]) == PMD, ws.response


def test_deflate_server_messages(wsprobe):
    """Messages of >= 128 bytes come compressed (RSV1), each inflatable on its own (no
    context takeover); smaller ones plain."""
    srv = wsprobe()
    with RawWS(srv, "/pmdbig", headers=[("Sec-WebSocket-Extensions",
                                         "permessage-deflate; client_max_window_bits")]) as ws:
        assert ws.response.header("sec-websocket-extensions") is not None, ws.response
        for _ in range(2):
            ws.send_text("big:1000")
            f = ws.recv_message()
            assert (f.opcode, f.rsv) == (OP_BINARY, 4), f
            assert len(f.payload) < 1000, f
            assert inflate(f.payload) == b"x" * 1000
        ws.send_text("hi")
        assert ws.recv_message() == Frame(1, 0, OP_TEXT, b"hi")
        ws.send_text("big:127")
        assert ws.recv_message() == Frame(1, 0, OP_BINARY, b"x" * 127)
        ws.send_text("big:128")
        f = ws.recv_message()
        assert f.rsv == 4 and inflate(f.payload) == b"x" * 128, f


def test_deflate_client_messages(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmdin", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        for i in range(3):  # fresh compressor each time (client_no_context_takeover)
            text = ("message %d " % i) * 50
            ws.send_frame(OP_TEXT, deflate(text.encode()), rsv=4)
            f = ws.recv_message()
            assert f.opcode == OP_TEXT and f.rsv == 4, f
            assert inflate(f.payload) == text.encode()
        # a compressed message in fragments: RSV1 on the first frame only
        data = deflate(b"fragmented " * 30)
        ws.send_frame(OP_TEXT, data[:10], rsv=4, fin=False)
        ws.send_frame(OP_CONT, data[10:])
        f = ws.recv_message()
        assert inflate(f.payload) == b"fragmented " * 30, f
        # an uncompressed message on the same connection
        ws.send_text("plain")
        assert ws.recv_message() == Frame(1, 0, OP_TEXT, b"plain")


def test_deflate_rsv1_on_continuation_1002(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmdcont", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        data = deflate(b"abc" * 100)
        ws.send_frame(OP_TEXT, data[:5], rsv=4, fin=False)
        ws.send_frame(OP_CONT, data[5:], rsv=4)
        ws.expect_fail(1002)


def test_deflate_rsv1_on_control_frame_1002(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmdctl", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        ws.send_frame(OP_PING, b"p", rsv=4)
        ws.expect_fail(1002)


def test_deflate_compressed_bad_utf8_1007(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmdutf8", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        ws.send_frame(OP_TEXT, deflate(b"ok " * 100 + b"\xff"), rsv=4)
        ws.expect_fail(1007)


def test_deflate_bomb_1009(wsprobe):
    srv = wsprobe(websocket_max_message_size=1000)
    bomb = deflate(b"a" * 200000)
    assert len(bomb) < 1000
    with RawWS(srv, "/bomb", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        ws.send_frame(OP_TEXT, deflate(b"a" * 1000), rsv=4)  # inflates to exactly the limit
        f = ws.recv_message()
        assert inflate(f.payload) == b"a" * 1000, f
        ws.send_frame(OP_TEXT, bomb, rsv=4)
        ws.expect_fail(1009)
    assert disconnect_log(srv, "/bomb")[1] == 1009


def test_deflate_fragmented_bomb_1009(wsprobe):
    srv = wsprobe(websocket_max_message_size=1000)
    bomb = deflate(b"a" * 100000)
    with RawWS(srv, "/fbomb", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        ws.send_frame(OP_TEXT, bomb[:20], rsv=4, fin=False)
        ws.send_frame(OP_CONT, bomb[20:])
        ws.expect_fail(1009)


def test_deflate_large_messages_with_websockets_client(wsprobe):
    srv = wsprobe()

    async def main():
        async with ws_connect(srv, "/bigpmd", compression="deflate", max_size=2 ** 23) as ws:
            big_text = "".join("%08d" % i for i in range(400000))
            await ws.send(big_text)
            assert await recv(ws, 30) == big_text
            big_bin = os.urandom(3 << 20)  # incompressible
            await ws.send(big_bin)
            assert await recv(ws, 30) == big_bin
    run(main())


def test_deflate_server_max_window_bits_echoed(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmdwb", headers=[("Sec-WebSocket-Extensions",
                                        "permessage-deflate; server_max_window_bits=10")]) as ws:
        ext = ws.response.header("sec-websocket-extensions")
        assert ext is not None, ws.response
        name, params = ext_params(ext)
        assert (name, params) == (PMD[0], sorted(PMD[1] + ["server_max_window_bits=10"])), ext
        ws.send_text("big:5000")
        f = ws.recv_message()
        assert f.rsv == 4, f
        d = zlib.decompressobj(-10)  # the server kept to a 1 KiB window
        assert d.decompress(f.payload + b"\x00\x00\xff\xff") == b"x" * 5000


def test_deflate_offer_with_every_param(wsprobe):
    srv = wsprobe()
    offer = ("permessage-deflate; client_max_window_bits=10; server_max_window_bits=9; "
             "client_no_context_takeover; server_no_context_takeover")
    with RawWS(srv, "/pmdall", headers=[("Sec-WebSocket-Extensions", offer)]) as ws:
        ext = ws.response.header_all("sec-websocket-extensions")
        assert len(ext) == 1, ws.response
        assert ext_params(ext[0]) == (PMD[0], sorted(PMD[1] + ["server_max_window_bits=9"])), ext
        ws.send_frame(OP_TEXT, deflate(b"all params " * 40), rsv=4)
        f = ws.recv_message()
        assert f.rsv == 4 and inflate(f.payload) == b"all params " * 40, f


def test_deflate_window_bits_8_declined(wsprobe):
    srv = wsprobe()
    with RawWS(srv, "/pmd8", headers=[("Sec-WebSocket-Extensions",
                                       "permessage-deflate; server_max_window_bits=8")]) as ws:
        assert ws.response.header("sec-websocket-extensions") is None, ws.response
        ws.send_text("big:1000")
        assert ws.recv_message() == Frame(1, 0, OP_BINARY, b"x" * 1000)


def test_deflate_first_acceptable_offer_wins(wsprobe):
    srv = wsprobe()
    offers = ("x-unknown-ext, permessage-deflate; server_max_window_bits=8, "
              "permessage-deflate; client_max_window_bits, permessage-deflate; "
              "server_max_window_bits=12")
    with RawWS(srv, "/pmdoffers", headers=[("Sec-WebSocket-Extensions", offers)]) as ws:
        ext = ws.response.header_all("sec-websocket-extensions")
        assert len(ext) == 1 and ext_params(ext[0]) == PMD, ws.response


def test_deflate_disabled(wsprobe):
    srv = wsprobe(websocket_per_message_deflate=False)
    with RawWS(srv, "/nopmd", headers=[("Sec-WebSocket-Extensions", "permessage-deflate")]) \
            as ws:
        assert ws.response.header("sec-websocket-extensions") is None, ws.response
        ws.send_text("big:1000")
        assert ws.recv_message() == Frame(1, 0, OP_BINARY, b"x" * 1000)
        ws.send_frame(OP_TEXT, deflate(b"a" * 300), rsv=4)  # RSV1 without deflate
        ws.expect_fail(1002)

    async def main():
        async with ws_connect(srv, "/nopmd2", compression="deflate") as ws:
            assert not ws.extensions
            assert ws.response_headers.get("Sec-WebSocket-Extensions") is None
            await echo_roundtrips(ws, ["q" * 5000])
    run(main())


# ---------------------------------------------------------------------------------------------
# websocket_ping_interval


def test_pings_answered_keep_the_connection(wsprobe):
    srv = wsprobe(websocket_ping_interval=0.3)
    with RawWS(srv, "/pinged") as ws:
        pings = 0
        end = time.monotonic() + 1.3  # over 4 intervals
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                f = ws.recv(timeout=left)
            except TimeoutError:
                break
            assert f.opcode == OP_PING and f.fin, f
            pings += 1
            ws.send_frame(OP_PONG, f.payload)
        assert pings >= 3, pings
        ws.send_text("still open")
        # a ping may come before the echo
        while True:
            f = ws.recv()
            if f.opcode != OP_PING:
                break
            ws.send_frame(OP_PONG, f.payload)
        assert f == Frame(1, 0, OP_TEXT, b"still open"), f
    assert disconnect_log(srv, "/pinged")[:2] == (0, 1006)


def test_pings_unanswered_drop_the_connection(wsprobe):
    srv = wsprobe(websocket_ping_interval=0.3)
    with RawWS(srv, "/deaf") as ws:
        t0 = time.monotonic()
        first_ping, pings, other = None, 0, []
        while True:
            try:
                f = ws.recv(timeout=max(0.1, t0 + 3 - time.monotonic()))
            except EOFError:
                break
            except TimeoutError:
                raise AssertionError("not dropped within 3 s (10 intervals); pings=%d" % pings)
            if f.opcode == OP_PING:
                pings += 1
                first_ping = first_ping or time.monotonic()
            else:
                other.append(f)
        t_eof = time.monotonic()
    assert pings >= 1, pings
    assert other == [], "TCP dropped without a Close frame, got %r" % other
    # the first Ping within an interval or two, the drop one interval after it (the tick
    # that finds no Pong), 2-3 intervals in all
    assert first_ping - t0 <= 0.75, first_ping - t0
    assert 0.2 <= t_eof - first_ping <= 1.0, t_eof - first_ping
    assert t_eof - t0 <= 1.5, t_eof - t0
    assert disconnect_log(srv, "/deaf") == (0, 1006, "")


def test_websockets_client_answers_pings(wsprobe):
    srv = wsprobe(websocket_ping_interval=0.3)

    async def main():
        async with ws_connect(srv, "/libpinged") as ws:
            await asyncio.sleep(1.2)
            await echo_roundtrips(ws, ["alive after pings"])
    run(main())


# ---------------------------------------------------------------------------------------------
# TLS


def test_wss(hornet_server, apps, tls_certs):
    srv = hornet_server(app=apps["wsprobe"], config={"certfile": tls_certs.server_pem,
                                                     "keyfile": tls_certs.server_key})
    assert srv.tls

    async def main():
        async with ws_connect(srv, "/scope?tls=1") as ws:
            assert await recv(ws) == ("type=ws scheme=wss path=/scope query=tls=1 "
                                      "http_version=1.1 method=NULL subprotocols=")
        async with ws_connect(srv, "/wssecho", compression="deflate", max_size=2 ** 20) as ws:
            await echo_roundtrips(ws, MESSAGES)
    run(main())
    with RawWS(srv, "/wssraw") as ws:
        ws.send_frame(OP_TEXT, b"over ", fin=False)
        ws.send_frame(OP_PING, b"tls")
        assert ws.recv() == Frame(1, 0, OP_PONG, b"tls")
        ws.send_frame(OP_CONT, b"tls")
        ws.expect_text("over tls")
        ws.send_frame(OP_TEXT, b"x", mask=False)
        ws.expect_fail(1002)
    with RawWS(srv, "/wssclose") as ws:
        ws.send_close(4001, b"x")
        ws.expect_close(4001)
        ws.expect_eof()
    assert disconnect_log(srv, "/wssclose") == (1, 4001, "x")


def test_wss_big_messages(hornet_server, apps, tls_certs):
    srv = hornet_server(app=apps["wsprobe"], config={"certfile": tls_certs.server_pem,
                                                     "keyfile": tls_certs.server_key})
    big = os.urandom(3 << 20)

    async def main():
        async with ws_connect(srv, "/wssbig", max_size=2 ** 23,
                              ssl=client_ssl_context(cafile=tls_certs.ca_pem),
                              server_hostname="localhost") as ws:
            await ws.send(big)
            assert await recv(ws, 30) == big
            await ws.send("big:2000000")
            assert await recv(ws, 30) == b"x" * 2000000
    run(main())


def test_wss_builtin_echo(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config={"certfile": tls_certs.server_pem,
                                                    "keyfile": tls_certs.server_key})

    async def main():
        async with ws_connect(srv, "/", subprotocols=["a", "b"]) as ws:
            assert ws.subprotocol == "a"
            await echo_roundtrips(ws, ["secure", b"\x00secure"])
    run(main())


# ---------------------------------------------------------------------------------------------
# graceful stop and reload


def test_sigterm_closes_with_1001_and_exits(wsprobe):
    srv = wsprobe(graceful_timeout="2s")
    times = {}

    async def main():
        async with ws_connect(srv, "/drain") as ws:
            await echo_roundtrips(ws, ["before"])
            t0 = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            await echo_roundtrips(ws, ["during the drain"])  # open WebSockets keep running
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 8)
            times["close"] = time.monotonic() - t0
            assert ws.close_code == 1001
    run(main())
    # graceful_timeout 2 s - min(1 s, 2 s / 2) = 1 s after the drain began
    assert 0.6 <= times["close"] <= 3.0, times
    assert srv.wait_exit(10) == 0, srv.stderr_text()[-3000:]
    assert disconnect_log(srv, "/drain")[1] == 1001


def test_sigterm_raw_client_gets_1001(wsprobe):
    srv = wsprobe(graceful_timeout="2s")
    with RawWS(srv, "/drainraw") as ws:
        srv.send_signal(signal.SIGTERM)
        f = ws.expect_close(1001, timeout=6)
        assert f.fin, f
        ws.send_close(1001)
        ws.expect_eof()
    assert srv.wait_exit(10) == 0


def test_drain_bounded_when_the_client_ignores_1001(wsprobe):
    """The client never answers the 1001: the connection is still closed and the server
    still exits, in bounded time."""
    srv = wsprobe(graceful_timeout="2s")
    with RawWS(srv, "/deafdrain") as ws:
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        ws.expect_close(1001, timeout=6)
        ws.conn.assert_closed(10)
        assert time.monotonic() - t0 <= 8
    assert srv.wait_exit(15) == 0, srv.stderr_text()[-3000:]


def test_sigterm_to_the_worker_closes_with_1001(wsprobe):
    srv = wsprobe(graceful_timeout="2s")
    (worker,) = srv.wait_workers(1)
    with RawWS(srv, "/workerterm") as ws:
        ws.send_text("before")
        ws.expect_text("before")
        os.kill(worker, signal.SIGTERM)
        time.sleep(0.3)
        ws.send_text("during the drain")
        ws.expect_text("during the drain")
        ws.expect_close(1001, timeout=6)
        ws.send_close(1001)
        ws.expect_eof()
    wait_until(lambda: (lambda w: len(w) == 1 and w[0] != worker)(srv.workers()), 20,
               what="a new worker")
    with RawWS(srv, "/afterworker") as ws:
        ws.send_text("new worker")
        ws.expect_text("new worker")
    assert disconnect_log(srv, "/workerterm")[1] == 1001


def test_sighup_old_websocket_gets_1001_new_one_works(wsprobe):
    srv = wsprobe(graceful_timeout="2s")

    async def main():
        async with ws_connect(srv, "/old") as old:
            await echo_roundtrips(old, ["old before"])
            srv.send_signal(signal.SIGHUP)
            await asyncio.to_thread(wait_until, lambda: "reload complete" in srv.stderr_text(),
                                    20, 0.05, "reload complete")
            await echo_roundtrips(old, ["old during the drain"])
            async with ws_connect(srv, "/new") as new:
                await echo_roundtrips(new, ["new"])
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(old.recv(), 8)
                assert old.close_code == 1001
                await asyncio.to_thread(wait_until,
                                        lambda: "replaced worker" in srv.stderr_text(), 20,
                                        0.05, "the old worker to exit")
                await echo_roundtrips(new, ["new after the old worker left"])
            async with ws_connect(srv, "/newer") as newer:
                await echo_roundtrips(newer, ["newer"])
    run(main())
    assert disconnect_log(srv, "/old")[1] == 1001
    assert disconnect_log(srv, "/new")[:2] == (1, 1000)
    assert srv.alive()


# ---------------------------------------------------------------------------------------------
# load


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_many_concurrent_clients(echo, compression):
    srv = echo(workers=2)

    async def client(i):
        async with ws_connect(srv, "/c%d" % i, compression=compression) as ws:
            for j in range(10):
                await echo_roundtrips(ws, ["client %d message %d" % (i, j),
                                           os.urandom(100 + i * 10 + j)])

    async def main():
        await asyncio.gather(*(client(i) for i in range(50)))
    run(main(), timeout=90)


def test_many_concurrent_raw_connections_held_open(wsprobe):
    srv = wsprobe()
    conns = []
    try:
        for i in range(50):
            conns.append(RawWS(srv, "/held%d" % i))
        for i, ws in enumerate(conns):
            ws.send_text("held %d" % i)
        for i, ws in enumerate(conns):
            ws.expect_text("held %d" % i)
        r = srv.request("GET", "/http")
        assert (r.status, r.body) == (200, b"http"), r
    finally:
        for ws in conns:
            ws.close()
