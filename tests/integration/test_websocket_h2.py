"""WebSocket over HTTP/2 (RFC 8441): the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, the
extended CONNECT handshake (accept, subprotocols, app headers, permessage-deflate, denial,
400/501), RFC 6455 frames carried in the DATA frames of the stream (echo, fragments, ping,
closing handshakes both ways, protocol errors and 1009/1007 that end only that WebSocket, the
5 s waits, pings with websocket_ping_interval), many WebSockets and plain requests multiplexed
on one connection, the scope the app sees, HTTP/2 flow control both ways, and Close 1001 on a
graceful stop or reload. The contract is /work/ws-spec.md (sections "HTTP/2 (RFC 8441)" and
"Frames"); a few details (resets with CANCEL, the 5 s wait for the client's END_STREAM) are
what hornet.yaml(5) documents.

Clients: H2Client (the h2 library, which checks what the server sends: frame rules, flow
control, header rules) for the well-behaved cases, and RawH2 (hyperframe, frame by frame) where
the test needs to see every frame or must go on after a GOAWAY (the h2 library refuses to send
anything once it received one). Both come from test_h2.py. WebSocket frames are encoded and
decoded here: client frames masked, and every frame the server sends is checked to be
unmasked, FIN set, never fragmented.

Servers: builtin:echo (accepts, picks the first offered subprotocol, echoes every message),
builtin:hello (no WebSocket support), and tests/apps/wsprobe.c (paths /deny, /deny403, /scope;
text commands close:CODE:REASON and big:N; on_disconnect logs
"wsprobe: disconnect path=... completed=N code=N reason=..." to the error log). Every test runs
over cleartext HTTP/2 (prior knowledge) and, where marked by the `carrier` fixture, also over
TLS with ALPN h2. Every wait has a deadline.
"""

import os
import signal
import time

import pytest
from hyperframe.frame import DataFrame, GoAwayFrame, RstStreamFrame, WindowUpdateFrame

from apps_fixture import APPS_DIR, apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import wait_until
from test_h2 import (CANCEL, NO_ERROR, S_INITIAL_WINDOW_SIZE, H2Client, RawH2, goaway_text,
                     headers_frame, req_headers, tls_cfg)
from tls_fixture import tls_certs  # noqa: F401  (a fixture)
from ws_frames import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, close_payload,
                       deflate, inflate)
from ws_frames import frame as ws_frame
from ws_frames import parse_frame as parse_ws_frame

S_ENABLE_CONNECT_PROTOCOL = 0x8


HELLO = b"Hello, world!"
DEFLATE_RESPONSE = {"server_no_context_takeover", "client_no_context_takeover"}


# =============================================================================================
# RFC 6455 frames


def parse_extensions(value):
    """'a; p1; p2=3, b' -> [('a', {'p1': None, 'p2': '3'}), ('b', {})]."""
    out = []
    for ext in value.split(","):
        parts = [p.strip() for p in ext.split(";")]
        params = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            params[k.strip()] = v.strip().strip('"') if _ else None
        out.append((parts[0], params))
    return out


# =============================================================================================
# the carriers: h2 library client and frame-level client, with extended CONNECT


class WsH2Client(H2Client):
    """H2Client plus extended CONNECT. The h2 library checks everything the server sends."""

    def extended_connect(self, path="/", headers=(), protocol="websocket", version="13",
                         authority="localhost", wait=True):
        hs = [(":protocol", protocol)]
        if version is not None:
            hs.append(("sec-websocket-version", version))
        hs += list(headers)
        sid = self.request("CONNECT", path, hs, authority=authority, end_stream=False)
        if wait:
            st = self.streams[sid]
            self.wait(lambda: st.status is not None or st.done, 10,
                      what="the answer to the extended CONNECT of %s" % path)
        return sid

    def send_stream(self, sid, data, end_stream=False):
        self.send_body(sid, data, end_stream=end_stream)

    def st(self, sid):
        return self.streams[sid]

    def get_ok(self, path="/after"):
        st = self.get(path, timeout=10)
        assert st.status == 200 and st.ended, st
        return st


class WsRawH2(RawH2):
    """RawH2 plus extended CONNECT; sends DATA without looking at windows (the tests send
    little) and, unless windows=False, gives the server 1 GiB of window to send in."""

    def __init__(self, port, tls=False, windows=True, **kw):
        super().__init__(port, tls=tls, **kw)
        self.tls = tls
        self.next_sid = 1
        self.handshake()
        if windows:
            self.open_windows()

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def extended_connect(self, path="/", headers=(), protocol="websocket", version="13",
                         authority="localhost", wait=True):
        sid = self.new_sid()
        hs = [(":method", "CONNECT"), (":protocol", protocol),
              (":scheme", "https" if self.tls else "http"), (":path", path),
              (":authority", authority)]
        if version is not None:
            hs.append(("sec-websocket-version", version))
        hs += list(headers)
        self.send(headers_frame(sid, hs, end_stream=False))
        if wait:
            st = self.stream(sid)
            self.wait(lambda: st.status is not None or st.done, 10,
                      what="the answer to the extended CONNECT of %s" % path)
        return sid

    def send_stream(self, sid, data, end_stream=False):
        chunks = [data[i:i + 16384] for i in range(0, len(data), 16384)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            self.send(DataFrame(sid, data=chunk, flags=["END_STREAM"] if last and end_stream
                                else []))

    def st(self, sid):
        return self.stream(sid)

    def get_ok(self, path="/after"):
        sid = self.new_sid()
        self.send(headers_frame(sid, req_headers(path)))
        st = self.stream(sid)
        self.wait(lambda: st.done, 10, what="GET %s" % path)
        assert st.status == 200 and st.ended, st
        return st


class Ws:
    """One WebSocket on a stream of an HTTP/2 client (WsH2Client or WsRawH2)."""

    def __init__(self, client, sid):
        self.c, self.sid = client, sid
        self.pos = 0
        self.pending = []
        self.received = []  # every frame ever received, in order

    @property
    def st(self):
        return self.c.st(self.sid)

    def send_raw(self, data, end_stream=False):
        self.c.send_stream(self.sid, data, end_stream=end_stream)

    def send(self, opcode, payload=b"", **kw):
        self.send_raw(ws_frame(opcode, payload, **kw))

    def text(self, s, **kw):
        self.send(OP_TEXT, s.encode() if isinstance(s, str) else s, **kw)

    def binary(self, b, **kw):
        self.send(OP_BINARY, b, **kw)

    def close(self, code=None, reason=b""):
        self.send(OP_CLOSE, close_payload(code, reason))

    def _parse(self):
        data = self.st.data
        while True:
            f, pos = parse_ws_frame(data, self.pos)
            if f is None:
                return
            self.pos = pos
            # RFC 6455 §5.1 and the spec: the server's frames are unmasked, whole, FIN set
            assert not f.masked, "the server sent a masked frame: %r" % f
            assert f.fin, "the server sent a fragmented message: %r" % f
            assert f.opcode in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG), f
            self.pending.append(f)
            self.received.append(f)

    def recv(self, timeout=10.0, what="a WebSocket frame"):
        """The next frame from the server (raises if the stream ends or the time is up)."""
        def ready():
            self._parse()
            return bool(self.pending) or self.st.done
        self.c.wait(ready, timeout, what="%s on stream %d" % (what, self.sid))
        if not self.pending:
            raise AssertionError("stream %d ended without %s; %r; unparsed %r" % (
                self.sid, what, self.st, bytes(self.st.data[self.pos:self.pos + 100])))
        return self.pending.pop(0)

    def recv_message(self, timeout=10.0):
        f = self.recv(timeout, what="a message")
        assert f.opcode in (OP_TEXT, OP_BINARY), f
        return f

    def expect_close(self, code, timeout=10.0):
        f = self.recv(timeout, what="a Close %s" % code)
        assert f.opcode == OP_CLOSE and f.close_code == code, f
        return f

    def wait_end(self, timeout=10.0):
        """The stream ends (END_STREAM or RST_STREAM); no data frame after the Close."""
        self.c.wait(lambda: self.st.done, timeout, what="the end of stream %d" % self.sid)
        self._parse()
        return self.st

    def assert_no_frame(self, seconds):
        """Nothing arrives on the WebSocket for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if isinstance(self.c, WsRawH2):
                self.c.read(min(0.2, end - time.monotonic()))
            else:
                self.c.pump(min(0.2, end - time.monotonic()))
        self._parse()
        assert not self.pending, self.pending


def end_client_side(ws):
    """After the closing handshake the client ends its side too (RFC 8441 §4): an empty DATA
    frame with END_STREAM."""
    ws.send_raw(b"", end_stream=True)


def open_ws(client, path="/", headers=(), **kw):
    """Extended CONNECT expecting 200; returns the Ws."""
    sid = client.extended_connect(path, headers, **kw)
    st = client.st(sid)
    assert st.status == 200 and not st.done, st
    return Ws(client, sid)


def assert_failed(ws, code, timeout=10.0):
    """The server fails the WebSocket: Close `code`, then the stream ends at once (END_STREAM
    or RST_STREAM) without waiting for the client's Close (which would take up to 5 s)."""
    f = ws.recv(timeout, what="Close %d" % code)
    assert f.opcode == OP_CLOSE and f.close_code == code, f
    st = ws.wait_end(2.0)
    assert st.done, st
    assert not ws.pending, ws.pending


def disconnect_line(path, completed, code, reason=""):
    return "wsprobe: disconnect path=%s completed=%d code=%d reason=%s" % (path, completed, code,
                                                                         reason)


def wait_log_line(srv, prefix, timeout=10):
    """A line of the server's stderr containing prefix; returns the line."""
    def find():
        for line in srv.stderr_text().splitlines():
            if prefix in line:
                return line
        return None
    try:
        return wait_until(find, timeout, what=repr(prefix))
    except AssertionError:
        raise AssertionError("no log line with %r in stderr:\n%s" % (
            prefix, srv.stderr_text()[-3000:]))


# =============================================================================================
# fixtures


class Carrier:
    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        self.tls = name == "tls"
        self.ws_scheme = "wss" if self.tls else "ws"

    def config(self, **extra):
        cfg = dict(self.cfg)
        cfg.update(extra)
        return cfg

    def __repr__(self):
        return self.name


@pytest.fixture(params=["h2c", "tls"])
def carrier(request):
    """h2c: HTTP/2 by prior knowledge on cleartext; tls: TLS with ALPN h2."""
    if request.param == "tls":
        return Carrier("tls", tls_cfg(request.getfixturevalue("tls_certs")))
    return Carrier("h2c", {})


@pytest.fixture
def wsprobe(apps):  # noqa: F811
    if "wsprobe" not in apps.paths:
        pytest.fail("the test app %s/wsprobe.c is missing" % APPS_DIR)
    return apps["wsprobe"]


def h2client(srv, carrier, **kw):
    c = WsH2Client(srv.port, tls=carrier.tls, **kw)
    if carrier.tls:
        assert c.alpn == "h2", c.alpn
    return c


# =============================================================================================
# SETTINGS and the handshake


def test_settings_enable_connect_protocol(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with WsRawH2(srv.port, tls=carrier.tls, windows=False) as c:
        assert c.server_settings.get(S_ENABLE_CONNECT_PROTOCOL) == 1, c.server_settings
    # the h2 library sees the same
    with h2client(srv, carrier) as c:
        c.wait(lambda: S_ENABLE_CONNECT_PROTOCOL in c.remote_settings, 10,
               what="the server's SETTINGS")
        assert c.remote_settings[S_ENABLE_CONNECT_PROTOCOL] == 1


def test_extended_connect_accepted_with_first_subprotocol(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/chat", [("sec-websocket-protocol", "chat, superchat")])
        names = [k for k, _ in ws.st.headers]
        assert ws.st.header(":status") == "200"
        assert ws.st.header("sec-websocket-protocol") == "chat", ws.st.headers
        assert "sec-websocket-accept" not in names, ws.st.headers
        assert "upgrade" not in names and "connection" not in names, ws.st.headers
        ws.text("hi")
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_TEXT, b"hi")
        # no subprotocol offered: none chosen; no sec-websocket-version header is fine too
        ws2 = open_ws(c, "/plain", version=None)
        assert ws2.st.header("sec-websocket-protocol") is None, ws2.st.headers
        assert "sec-websocket-accept" not in [k for k, _ in ws2.st.headers]
        ws2.binary(b"\x00\x01")
        assert ws2.recv_message().payload == b"\x00\x01"


def test_subprotocols_from_several_headers(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/", [("sec-websocket-protocol", "one"),
                              ("sec-websocket-protocol", "two, three")])
        assert ws.st.header_all("sec-websocket-protocol") == ["one"], ws.st.headers


@requires_gcc
def test_app_chosen_subprotocol_and_extra_headers(hornet_server, carrier, wsprobe):
    """The app's choice (wsprobe /subprotocol: the last offered) and its extra headers
    (wsprobe /headers: x-accepted: 1) are in the 200."""
    srv = hornet_server(app=wsprobe, config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/subprotocol", [("sec-websocket-protocol", "a, b, c")])
        assert ws.st.header_all("sec-websocket-protocol") == ["c"], ws.st.headers
        ws = open_ws(c, "/headers")
        assert ws.st.header("x-accepted") == "1", ws.st.headers
        assert ws.st.header("sec-websocket-protocol") is None, ws.st.headers
        ws.text("hdrs")
        assert ws.recv_message().payload == b"hdrs"
        # /close: accepted, then the app closes at once with 4000 "bye"
        ws = open_ws(c, "/close")
        f = ws.expect_close(4000)
        assert f.close_reason == b"bye", f
        ws.close(4000)
        assert ws.wait_end().ended
    line = wait_log_line(srv, "wsprobe: disconnect path=/close ")
    assert disconnect_line("/close", 1, 4000) in line, line


# =============================================================================================
# frames in DATA frames


def test_echo_text_binary_fragments_and_ping(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/echo")
        # text, including multi-byte UTF-8
        ws.text("héllo ✓")
        f = ws.recv_message()
        assert (f.opcode, f.payload, f.rsv) == (OP_TEXT, "héllo ✓".encode(), 0), f
        # binary, every byte value
        ws.binary(bytes(range(256)))
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_BINARY, bytes(range(256))), f
        # empty messages
        ws.text(b"")
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_TEXT, b"")
        # a 70000-byte binary message (64-bit length form both ways)
        big = os.urandom(70000)
        ws.binary(big)
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_BINARY, big), f
        # a fragmented text message (split inside a multi-byte character) comes back whole
        word = "fragmé".encode()
        ws.send(OP_TEXT, word[:5], fin=False)
        ws.send(OP_CONT, word[5:6], fin=False)
        ws.send(OP_CONT, word[6:], fin=True)
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_TEXT, word), f
        # ping -> pong with the same payload
        ws.send(OP_PING, b"ping-1")
        f = ws.recv()
        assert (f.opcode, f.payload) == (OP_PONG, b"ping-1"), f
        # ping between the fragments of a binary message: pong first, then the message
        ws.send(OP_BINARY, b"ab", fin=False)
        ws.send(OP_PING, b"mid")
        ws.send(OP_CONT, b"cd", fin=True)
        f = ws.recv()
        assert (f.opcode, f.payload) == (OP_PONG, b"mid"), f
        f = ws.recv_message()
        assert (f.opcode, f.payload) == (OP_BINARY, b"abcd"), f
        # an unsolicited pong is ignored; the next message is still echoed
        ws.send(OP_PONG, b"unasked")
        ws.text("after pong")
        f = ws.recv_message()
        assert f.payload == b"after pong", f
        assert not ws.st.done
        # a frame split over several DATA frames, and two frames in one DATA frame
        frame = ws_frame(OP_TEXT, b"split across DATA frames")
        for i in range(0, len(frame), 5):
            ws.send_raw(frame[i:i + 5])
        ws.send_raw(ws_frame(OP_TEXT, b"one") + ws_frame(OP_TEXT, b"two"))
        assert [ws.recv_message().payload for _ in range(3)] == [
            b"split across DATA frames", b"one", b"two"]


# =============================================================================================
# closing


@requires_gcc
def test_client_close_is_answered_and_ends_the_stream(hornet_server, carrier, wsprobe):
    srv = hornet_server(app=wsprobe, config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/bye")
        ws.text("x")
        assert ws.recv_message().payload == b"x"
        ws.close(1000, "done")
        f = ws.expect_close(1000)
        st = ws.wait_end()
        assert st.ended and st.reset is None, st
        assert not ws.pending
        assert f.close_reason in (b"", b"done"), f
        # the client ends its side; nothing more comes on the stream
        end_client_side(ws)
        c.get_ok()
        assert ws.st.reset is None and not ws.pending, ws.st
    line = wait_log_line(srv, "wsprobe: disconnect path=/bye ")
    assert disconnect_line("/bye", 1, 1000, "done") in line, line


def test_closed_websockets_free_their_streams(hornet_server):
    """h2_max_concurrent_streams 2: ten WebSockets one after the other on one connection, each
    closed by the handshake and both END_STREAMs, never hit the limit."""
    srv = hornet_server(app="builtin:echo", config={"h2_max_concurrent_streams": 2})
    with WsH2Client(srv.port) as c:
        c.wait(lambda: c.remote_settings.get(0x3) == 2, 10, what="the server's SETTINGS")
        for i in range(10):
            ws = open_ws(c, "/n%d" % i)
            ws.text("m%d" % i)
            assert ws.recv_message().payload == b"m%d" % i
            ws.close(1000)
            ws.expect_close(1000)
            assert ws.wait_end().ended and ws.st.reset is None, ws.st
            end_client_side(ws)
        assert c.get_ok().status == 200
        assert c.terminated is None, c.terminated


def test_client_that_never_ends_its_side_is_reset_after_5_seconds(hornet_server):
    """hornet.yaml(5): after the closing handshake the server ends its side and waits at most
    5 s for the client to end its own, then resets the stream."""
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port, timeout=15) as c:
        ws = open_ws(c, "/")
        ws.close(1000)
        ws.expect_close(1000)
        c.wait(lambda: ws.st.ended, 5, what="END_STREAM")
        t0 = time.monotonic()
        c.wait(lambda: ws.st.reset is not None, 8, what="the RST_STREAM")
        elapsed = time.monotonic() - t0
        assert 4.0 <= elapsed <= 7.0, "reset %.2f s after END_STREAM" % elapsed
        c.get_ok()


def test_close_with_end_stream_is_answered(hornet_server):
    """The client's Close in the DATA frame that ends its side (a TCP half-close, as it
    were): the server still answers Close and ends the stream."""
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/")
        ws.send_raw(ws_frame(OP_CLOSE, close_payload(1000, "end")), end_stream=True)
        ws.expect_close(1000)
        st = ws.wait_end()
        assert st.ended and st.reset in (None, NO_ERROR), st
        c.get_ok()


@requires_gcc
def test_client_close_without_code_is_1005(hornet_server, wsprobe):
    srv = hornet_server(app=wsprobe)
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/nocode")
        ws.close()
        f = ws.recv(what="the Close answer")
        assert f.opcode == OP_CLOSE and f.payload == b"", f
        st = ws.wait_end()
        assert st.ended and st.reset is None, st
    line = wait_log_line(srv, "wsprobe: disconnect path=/nocode ")
    assert disconnect_line("/nocode", 1, 1005) in line, line


@requires_gcc
def test_app_initiated_close(hornet_server, carrier, wsprobe):
    """The app closes with 4001 "later": the client gets that Close, answers, and the server
    ends the stream; the app hears completed=1 code=4001."""
    srv = hornet_server(app=wsprobe, config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/appclose")
        ws.text("close:4001:later")
        f = ws.expect_close(4001)
        assert f.close_reason == b"later", f
        assert not ws.st.done  # it waits for the client's Close
        # a message crossing the Close is not answered: nothing is sent after a Close
        ws.text("late")
        ws.close(4001)
        st = ws.wait_end()
        assert st.ended and st.reset is None, st
        assert not ws.pending, ws.pending
        c.get_ok()
    line = wait_log_line(srv, "wsprobe: disconnect path=/appclose ")
    assert "completed=1 code=4001" in line, line


@requires_gcc
def test_client_reset_and_connection_drop_are_1006(hornet_server, wsprobe):
    """RST_STREAM on the WebSocket's stream, or the TCP connection dropped, without a Close:
    the app hears completed=0 code=1006; after the reset the connection still serves."""
    srv = hornet_server(app=wsprobe)
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/reset")
        ws.text("x")
        assert ws.recv_message().payload == b"x"
        c.send(RstStreamFrame(ws.sid, error_code=CANCEL))
        line = wait_log_line(srv, "wsprobe: disconnect path=/reset ")
        assert disconnect_line("/reset", 0, 1006) in line, line
        c.get_ok()
        ws2 = open_ws(c, "/dropped")
        ws2.text("y")
        assert ws2.recv_message().payload == b"y"
    line = wait_log_line(srv, "wsprobe: disconnect path=/dropped ")
    assert disconnect_line("/dropped", 0, 1006) in line, line


@requires_gcc
def test_end_stream_without_close_is_1006(hornet_server, wsprobe):
    """The client ends its side without a Close (HTTP/2's TCP FIN): the WebSocket is over
    without a completed handshake; the server ends (or resets) the stream and the app hears
    completed=0 code=1006; the connection goes on."""
    srv = hornet_server(app=wsprobe)
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/fin")
        ws.text("x")
        assert ws.recv_message().payload == b"x"
        ws.send_raw(b"", end_stream=True)
        st = ws.wait_end(10)
        assert st.done, st
        assert not [f for f in ws.pending if f.opcode != OP_CLOSE], ws.pending
        line = wait_log_line(srv, "wsprobe: disconnect path=/fin ")
        assert disconnect_line("/fin", 0, 1006) in line, line
        c.get_ok()


@requires_gcc
def test_server_close_unanswered_ends_after_5_seconds(hornet_server, wsprobe):
    """wsprobe /close closes with 4000 at once; a client that never answers: the server waits
    about 5 s for the client's Close, then ends the stream (the connection stays)."""
    srv = hornet_server(app=wsprobe)
    with WsRawH2(srv.port, timeout=15) as c:
        ws = open_ws(c, "/close")
        t0 = time.monotonic()
        ws.expect_close(4000)
        ws.assert_no_frame(3.0)
        assert not ws.st.done, "the stream ended before 5 s: %r" % ws.st
        st = ws.wait_end(6)
        elapsed = time.monotonic() - t0
        assert 4.0 <= elapsed <= 7.5, "stream ended %.2f s after the Close" % elapsed
        assert st.done and not ws.pending, (st, ws.pending)
        c.get_ok()
    line = wait_log_line(srv, "wsprobe: disconnect path=/close ")
    assert "completed=0 code=4000" in line, line


def test_ping_interval_over_h2(hornet_server):
    """websocket_ping_interval 1s: the server pings on the stream; answered pongs keep the
    WebSocket open; without them it is dropped without a Close frame, and the connection's
    other streams go on."""
    srv = hornet_server(app="builtin:echo", config={"websocket_ping_interval": "1s"})
    with WsRawH2(srv.port, timeout=15) as c:
        ws = open_ws(c, "/pinged")
        quiet = open_ws(c, "/quiet")
        pings = 0
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            try:
                f = ws.recv(min(2.0, max(0.1, end - time.monotonic())), what="a Ping")
            except AssertionError:
                assert not ws.st.done, ws.st
                continue
            assert f.opcode == OP_PING, f
            ws.send(OP_PONG, f.payload)
            pings += 1
        assert pings >= 2, pings
        ws.text("alive")
        f = ws.recv()
        while f.opcode == OP_PING:
            ws.send(OP_PONG, f.payload)
            f = ws.recv()
        assert f.payload == b"alive", f
        # /quiet never answered its pings: dropped, no Close frame
        quiet.wait_end(5)
        # hornet.yaml(5): "HTTP/2: the stream is reset with CANCEL"
        assert quiet.st.reset == CANCEL, quiet.st
        assert all(f.opcode == OP_PING for f in quiet.received), quiet.received
        c.get_ok()
        assert c.goaway is None, goaway_text(c.goaway)


def test_deflate_bomb_is_1009(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"websocket_max_message_size": "64KiB"})
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/", [("sec-websocket-extensions", "permessage-deflate")])
        assert ws.st.header("sec-websocket-extensions"), ws.st.headers
        bomb = deflate(b"\0" * (4 << 20))
        assert len(bomb) < 16384
        ws.send(OP_BINARY, bomb, rsv=4)
        assert_failed(ws, 1009)
        c.get_ok()


# =============================================================================================
# protocol errors end only that WebSocket


@pytest.mark.parametrize("name, frame, code", [
    ("unmasked", ws_frame(OP_TEXT, b"plain", mask=False), 1002),
    ("bad utf-8", ws_frame(OP_TEXT, b"ok \xff\xfe"), 1007),
    ("bad utf-8 in a first fragment", ws_frame(OP_TEXT, b"\xc3\x28 and more", fin=False), 1007),
    ("reserved opcode", ws_frame(0x3, b"?"), 1002),
    ("rsv1 without deflate", ws_frame(OP_TEXT, b"x", rsv=4), 1002),
    ("continuation without a message", ws_frame(OP_CONT, b"x"), 1002),
    ("fragmented ping", ws_frame(OP_PING, b"x", fin=False), 1002),
    ("close with one byte", ws_frame(OP_CLOSE, b"\x03"), 1002),
    ("close with code 1005", ws_frame(OP_CLOSE, close_payload(1005)), 1002),
    ("close with code 999", ws_frame(OP_CLOSE, close_payload(999)), 1002),
    ("close with code 2999", ws_frame(OP_CLOSE, close_payload(2999)), 1002),
    ("close reason not utf-8", ws_frame(OP_CLOSE, close_payload(1000, b"\xff")), 1007),
    ("rsv2", ws_frame(OP_BINARY, b"x", rsv=2), 1002),
    ("ping of 126 bytes", ws_frame(OP_PING, b"p" * 126), 1002),
    ("64-bit length with the top bit", ws_frame(OP_BINARY, b"", length=1 << 63), 1002),
    ("new message inside a fragmented one",
     ws_frame(OP_TEXT, b"a", fin=False) + ws_frame(OP_TEXT, b"b"), 1002),
])
def test_protocol_error_closes_that_websocket_only(hornet_server, carrier, name, frame, code):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        bystander = open_ws(c, "/bystander")
        ws = open_ws(c, "/victim")
        ws.text("fine")
        assert ws.recv_message().payload == b"fine"
        ws.send_raw(frame)
        assert_failed(ws, code)
        # the other WebSocket and new streams on the same connection are unaffected
        assert c.terminated is None, c.terminated
        bystander.text("still here")
        assert bystander.recv_message().payload == b"still here"
        st = c.get_ok("/after-%d" % code)
        assert bytes(st.data).startswith(b"GET /after-%d HTTP/2\n" % code), st
        ws3 = open_ws(c, "/new")
        ws3.text("new")
        assert ws3.recv_message().payload == b"new"


@requires_gcc
def test_protocol_error_is_reported_to_the_app(hornet_server, wsprobe):
    srv = hornet_server(app=wsprobe)
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/unmasked")
        ws.send_raw(ws_frame(OP_BINARY, b"x", mask=False))
        assert_failed(ws, 1002)
        ws = open_ws(c, "/badutf8")
        ws.send_raw(ws_frame(OP_TEXT, b"\xed\xa0\x80"))  # a UTF-16 surrogate
        assert_failed(ws, 1007)
        c.get_ok()
    assert "code=1002" in wait_log_line(srv, "wsprobe: disconnect path=/unmasked ")
    assert "code=1007" in wait_log_line(srv, "wsprobe: disconnect path=/badutf8 ")


def test_message_too_big_is_1009(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"websocket_max_message_size": 1000})
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/")
        ws.binary(b"b" * 1000)  # at the limit: fine
        assert len(ws.recv_message().payload) == 1000
        # a fragmented message growing over the limit
        ws.send(OP_BINARY, b"b" * 600, fin=False)
        ws.send(OP_CONT, b"b" * 600, fin=True)
        assert_failed(ws, 1009)
        # a single frame announcing too much is refused at its header (payload never sent)
        ws2 = open_ws(c, "/")
        head = ws_frame(OP_BINARY, b"", length=5000)
        assert len(head) == 8  # 2 + 2 bytes of length + 4 bytes of masking key
        ws2.send_raw(head)
        assert_failed(ws2, 1009)
        c.get_ok()


# =============================================================================================
# multiplexing


def test_two_websockets_and_a_get_at_once(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        a = open_ws(c, "/a", [("sec-websocket-protocol", "proto-a")])
        b = open_ws(c, "/b", [("sec-websocket-protocol", "proto-b")])
        assert a.st.header("sec-websocket-protocol") == "proto-a"
        assert b.st.header("sec-websocket-protocol") == "proto-b"
        # a GET started while both are open, its answer read between the messages
        gid = c.request("GET", "/middle?x=1")
        for i in range(5):
            a.text("a%d" % i)
            b.binary(b"b%d" % i)
        # interleaved half-sent frames on the two streams
        fa, fb = ws_frame(OP_TEXT, b"A" * 300), ws_frame(OP_BINARY, b"B" * 300)
        a.send_raw(fa[:100])
        b.send_raw(fb[:100])
        a.send_raw(fa[100:])
        b.send_raw(fb[100:])
        assert [a.recv_message().payload for _ in range(6)] == [
            b"a%d" % i for i in range(5)] + [b"A" * 300]
        assert [b.recv_message().payload for _ in range(6)] == [
            b"b%d" % i for i in range(5)] + [b"B" * 300]
        g = c.streams[gid]
        c.wait(lambda: g.done, 10, what="the GET")
        assert g.status == 200 and bytes(g.data).startswith(b"GET /middle?x=1 HTTP/2\n"), g
        # close one; the other goes on
        a.close(1000)
        a.expect_close(1000)
        a.wait_end()
        b.text("b still open")
        assert b.recv_message().payload == b"b still open"
        b.close(1001, "bye")
        b.expect_close(1001)
        assert b.wait_end().ended


def test_idle_websocket_is_not_an_idle_connection(hornet_server):
    """keep_alive_timeout 1s: a connection whose only stream is an open, silent WebSocket is
    not idle (as for any stream in progress): no GOAWAY, and the WebSocket still echoes after
    3 s."""
    srv = hornet_server(app="builtin:echo", config={"keep_alive_timeout": 1})
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/")
        ws.assert_no_frame(3.0)
        assert c.goaway is None and not c.eof, goaway_text(c.goaway)
        ws.text("still open")
        assert ws.recv_message().payload == b"still open"


def test_twenty_websockets_on_one_connection(hornet_server, carrier):
    """Twenty WebSockets at once on one connection, messages interleaved across them, plus
    GETs in between: every echo lands on its own stream, in order."""
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        socks = [open_ws(c, "/many/%d" % i) for i in range(20)]
        for round_ in range(5):
            for i, ws in enumerate(socks):
                ws.text("%d:%d" % (i, round_))
            gid = c.request("GET", "/between/%d" % round_)
            for i, ws in enumerate(socks):
                f = ws.recv_message()
                assert f.payload == b"%d:%d" % (i, round_), (i, f)
            g = c.streams[gid]
            c.wait(lambda: g.done, 10, what="GET %d" % round_)
            assert g.status == 200, g
        for ws in socks:
            ws.close(1000)
        for ws in socks:
            ws.expect_close(1000)
            assert ws.wait_end().ended
            end_client_side(ws)
        c.get_ok()


@requires_gcc
def test_reset_or_drop_with_output_stalled(hornet_server, wsprobe):
    """A big message stalled by a closed window when the client resets the stream, and again
    when it drops the connection: the app hears 1006, the worker survives (same pid) and
    serves the next WebSocket."""
    srv = hornet_server(app=wsprobe)
    pid = srv.wait_workers(1)
    with WsRawH2(srv.port, windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws = open_ws(c, "/stalled-reset")
        ws.text("big:1000000")
        c.wait(lambda: len(ws.st.data) >= 1024, 10, what="the first 1024 bytes")
        c.send(RstStreamFrame(ws.sid, error_code=CANCEL))
        line = wait_log_line(srv, "wsprobe: disconnect path=/stalled-reset ")
        assert disconnect_line("/stalled-reset", 0, 1006) in line, line
        c.open_windows()
        ws2 = open_ws(c, "/after-reset")
        ws2.text("fine")
        assert ws2.recv_message().payload == b"fine"
    with WsRawH2(srv.port, windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws3 = open_ws(c, "/stalled-drop")
        ws3.text("big:1000000")
        c.wait(lambda: len(ws3.st.data) >= 1024, 10, what="the first 1024 bytes")
        c.read(0.3)
        assert len(ws3.st.data) == 1024, len(ws3.st.data)
    line = wait_log_line(srv, "wsprobe: disconnect path=/stalled-drop ")
    assert disconnect_line("/stalled-drop", 0, 1006) in line, line
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/next")
        ws.text("next")
        assert ws.recv_message().payload == b"next"
    assert srv.workers() == pid, "the worker was replaced (crashed?): %r -> %r" % (
        pid, srv.workers())


@requires_gcc
def test_compressed_big_message_under_a_small_window(hornet_server, wsprobe):
    """permessage-deflate and a 1024-byte window (the h2 library's flow control): the 1 MB
    message arrives compressed (RSV1) and inflates to exactly what the app sent."""
    srv = hornet_server(app=wsprobe)
    with WsH2Client(srv.port, big_windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws = open_ws(c, "/bigz", [("sec-websocket-extensions", "permessage-deflate")])
        assert ws.st.header("sec-websocket-extensions"), ws.st.headers
        ws.text("big:1000000")
        f = ws.recv_message(timeout=30)
        assert f.opcode == OP_BINARY and f.rsv == 4, f
        assert len(f.payload) < 100000, len(f.payload)
        assert inflate(f.payload) == b"x" * 1000000


# =============================================================================================
# refused handshakes


def test_unknown_protocol_is_501(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        sid = c.extended_connect("/", protocol="not-websocket")
        c.wait(lambda: c.st(sid).done, 10, what="the end of the refused stream")
        assert c.st(sid).status == 501 and c.st(sid).ended, c.st(sid)
        c.get_ok()


def test_extended_connect_to_an_app_without_websocket_is_501(hornet_server, carrier):
    srv = hornet_server(app="builtin:hello", config=carrier.config())
    with h2client(srv, carrier) as c:
        sid = c.extended_connect("/")
        c.wait(lambda: c.st(sid).done, 10, what="the end of the refused stream")
        st = c.st(sid)
        assert st.status == 501 and st.ended, st
        assert HELLO not in bytes(st.data), st
        assert bytes(c.get_ok().data) == HELLO


def test_wrong_websocket_version_is_400(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        sid = c.extended_connect("/", version="12")
        c.wait(lambda: c.st(sid).done, 10, what="the end of the refused stream")
        assert c.st(sid).status == 400 and c.st(sid).ended, c.st(sid)
        c.get_ok()


@requires_gcc
def test_denial_with_a_response_ends_the_stream(hornet_server, carrier, wsprobe):
    srv = hornet_server(app=wsprobe, config=carrier.config())
    with h2client(srv, carrier) as c:
        sid = c.extended_connect("/deny")
        c.wait(lambda: c.st(sid).done, 10, what="the denial")
        st = c.st(sid)
        # after a complete response the server may reset the client's still open side with
        # NO_ERROR (RFC 9113 §8.1), nothing else
        assert st.status == 401 and st.ended and st.reset in (None, NO_ERROR), st
        assert bytes(st.data) == b"go away", st
        assert st.header("x-denied") == "yes", st.headers
        sid = c.extended_connect("/deny403")
        c.wait(lambda: c.st(sid).done, 10, what="the 403")
        st = c.st(sid)
        assert st.status == 403 and st.ended and st.reset in (None, NO_ERROR), st
        assert "sec-websocket-accept" not in [k for k, _ in st.headers]
        # the connection goes on, WebSockets included
        ws = open_ws(c, "/after-denial")
        ws.text("ok")
        assert ws.recv_message().payload == b"ok"


# =============================================================================================
# the scope


@requires_gcc
def test_scope_over_h2(hornet_server, carrier, wsprobe):
    srv = hornet_server(app=wsprobe, config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/scope?q=1&r=%2F",
                     [("sec-websocket-protocol", "p1, p2"), ("sec-websocket-protocol", "p3")])
        f = ws.recv_message()
        assert f.opcode == OP_TEXT, f
        text = f.payload.decode()
        assert text == ("type=ws scheme=%s path=/scope query=q=1&r=%%2F http_version=2 "
                        "method=NULL subprotocols=p1,p2,p3" % carrier.ws_scheme), text
        # the WebSocket stays open after the app's message
        ws.text("echo")
        assert ws.recv_message().payload == b"echo"
        # the path is percent-decoded as for HTTP (so this is /scope too); no subprotocols
        ws = open_ws(c, "/scop%65?x")
        text = ws.recv_message().payload.decode()
        assert text == ("type=ws scheme=%s path=/scope query=x http_version=2 method=NULL "
                        "subprotocols=" % carrier.ws_scheme), text


# =============================================================================================
# flow control


@requires_gcc
def test_large_server_message_under_a_small_window(hornet_server, wsprobe):
    """Client INITIAL_WINDOW_SIZE 1024: the server never overruns the stream or connection
    window, stalls when it is spent, and the 100 KB message arrives whole as the client grants
    more, 1024 bytes at a time."""
    srv = hornet_server(app=wsprobe)
    size = 102400
    with WsRawH2(srv.port, windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws = open_ws(c, "/big")
        ws.text("big:%d" % size)
        sid = ws.sid
        stream_win, conn_win = 1024, 65535
        granted = 0
        seen = 0
        stalls_checked = midway = False
        deadline = time.monotonic() + 60
        want = size + 10  # 2 + 8 bytes of frame header (64-bit length)
        while len(ws.st.data) < want:
            assert time.monotonic() < deadline, "only %d of %d bytes in 60 s" % (
                len(ws.st.data), want)
            c.read(2.0, until=lambda f: isinstance(f, DataFrame))
            for f in c.frames[seen:]:
                if isinstance(f, DataFrame) and f.stream_id == sid:
                    n = f.flow_controlled_length
                    assert n <= stream_win and n <= conn_win, (
                        "DATA of %d bytes with stream window %d, connection window %d" %
                        (n, stream_win, conn_win))
                    stream_win -= n
                    conn_win -= n
            seen = len(c.frames)
            assert not ws.st.done, ws.st
            if stream_win == 0:
                if not stalls_checked:
                    # spent: nothing more may come until the client grants more
                    c.read(1.0)
                    assert len(c.frames) == seen or not any(
                        isinstance(f, DataFrame) and f.stream_id == sid
                        for f in c.frames[seen:]), "DATA beyond the window"
                    stalls_checked = True
                c.send(WindowUpdateFrame(sid, window_increment=1024),
                       WindowUpdateFrame(0, window_increment=1024))
                stream_win += 1024
                conn_win += 1024
                granted += 1024
            if stream_win == 1024 and granted == 8 * 1024:
                # a Ping and a message while the big message is under way: their answers
                # come after it, not inside it (the frame parser would see the mix-up)
                ws.send(OP_PING, b"under way")
                ws.text("queued")
                midway = True
        f = ws.recv_message()
        assert f.opcode == OP_BINARY and f.payload == b"x" * size, f
        assert ws.st.data_frames >= size // 1024, ws.st.data_frames
        assert stalls_checked and midway and granted >= size - 1024
        # the WebSocket still works afterwards
        c.send(WindowUpdateFrame(sid, window_increment=1 << 20),
               WindowUpdateFrame(0, window_increment=1 << 20))
        after = sorted((f.opcode, f.payload) for f in (ws.recv(), ws.recv()))
        assert after == [(OP_TEXT, b"queued"), (OP_PONG, b"under way")], after
        ws.text("after")
        assert ws.recv_message().payload == b"after"
        assert c.goaway is None


@requires_gcc
def test_large_server_message_with_the_h2_library(hornet_server, carrier, wsprobe):
    """The same with the h2 library's own flow control (it sends WINDOW_UPDATE as it
    acknowledges data, and fails on any overrun)."""
    srv = hornet_server(app=wsprobe, config=carrier.config())
    size = 102400
    with h2client(srv, carrier, big_windows=False,
                  settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws = open_ws(c, "/big")
        ws.text("big:%d" % size)
        f = ws.recv_message(timeout=30)
        assert f.opcode == OP_BINARY and f.payload == b"x" * size, f
        assert ws.st.data_frames >= size // 1024, ws.st.data_frames
        ws.text("after")
        assert ws.recv_message().payload == b"after"


def test_large_client_message_under_the_server_window(hornet_server):
    """A 3 MiB message from the client (over the server's 1 MiB stream window): the h2
    library waits for the server's WINDOW_UPDATEs; the echo comes back whole. max_body_size
    (for HTTP request bodies) does not apply to a WebSocket's stream."""
    srv = hornet_server(app="builtin:echo", config={"max_body_size": 1000})
    with WsH2Client(srv.port) as c:
        ws = open_ws(c, "/")
        data = os.urandom(3 << 20)
        ws.binary(data)
        f = ws.recv_message(timeout=30)
        assert f.opcode == OP_BINARY and f.payload == data


# =============================================================================================
# permessage-deflate


def test_permessage_deflate_negotiated(hornet_server, carrier):
    srv = hornet_server(app="builtin:echo", config=carrier.config())
    with h2client(srv, carrier) as c:
        ws = open_ws(c, "/", [("sec-websocket-extensions",
                               "permessage-deflate; client_max_window_bits")])
        value = ws.st.header("sec-websocket-extensions")
        assert value is not None, ws.st.headers
        exts = parse_extensions(value)
        assert len(exts) == 1 and exts[0][0] == "permessage-deflate", value
        assert set(exts[0][1]) == DEFLATE_RESPONSE, value
        # a compressed client message is inflated and echoed (>= 128 bytes: compressed back)
        text = ("compress me, " * 40).encode()
        ws.send(OP_TEXT, deflate(text), rsv=4)
        f = ws.recv_message()
        assert f.opcode == OP_TEXT and f.rsv == 4, f
        assert inflate(f.payload) == text
        # a small message comes back uncompressed
        ws.text("tiny")
        f = ws.recv_message()
        assert (f.rsv, f.payload) == (0, b"tiny"), f
        # an uncompressed big message comes back compressed (no context takeover: each
        # message inflates on its own)
        data = bytes(range(256)) * 4
        ws.binary(data)
        f = ws.recv_message()
        assert f.opcode == OP_BINARY and f.rsv == 4 and inflate(f.payload) == data, f

    with h2client(srv, carrier) as c:
        # server_max_window_bits=10 is echoed; an offer with 8 is declined, the next one wins
        ws = open_ws(c, "/", [("sec-websocket-extensions",
                               "permessage-deflate; server_max_window_bits=8, "
                               "permessage-deflate; server_max_window_bits=10")])
        exts = parse_extensions(ws.st.header("sec-websocket-extensions") or "")
        assert exts[0][0] == "permessage-deflate", ws.st.headers
        assert exts[0][1] == dict.fromkeys(DEFLATE_RESPONSE) | {"server_max_window_bits": "10"}, \
            exts
        # not offered: not negotiated
        ws2 = open_ws(c, "/")
        assert ws2.st.header("sec-websocket-extensions") is None, ws2.st.headers


def test_permessage_deflate_fragments_and_rsv1_rules(hornet_server):
    """A compressed message in fragments (RSV1 on the first only) is inflated whole; RSV1 on a
    continuation or on a control frame is a protocol error (1002)."""
    srv = hornet_server(app="builtin:echo")
    offer = [("sec-websocket-extensions", "permessage-deflate")]
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/", offer)
        text = ("fragmented and compressed " * 20).encode()
        z = deflate(text)
        ws.send(OP_TEXT, z[:10], fin=False, rsv=4)
        ws.send(OP_CONT, z[10:20], fin=False)
        ws.send(OP_CONT, z[20:], fin=True)
        f = ws.recv_message()
        assert f.opcode == OP_TEXT and f.rsv == 4 and inflate(f.payload) == text, f
        ws.send(OP_BINARY, z[:10], fin=False, rsv=4)
        ws.send(OP_CONT, z[10:], fin=True, rsv=4)
        assert_failed(ws, 1002)
        ws = open_ws(c, "/", offer)
        ws.send(OP_PING, b"", rsv=4)
        assert_failed(ws, 1002)
        c.get_ok()


def test_compressed_data_that_does_not_inflate_is_1007(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/", [("sec-websocket-extensions", "permessage-deflate")])
        assert ws.st.header("sec-websocket-extensions"), ws.st.headers
        ws.send(OP_BINARY, b"\xff\xff\xff\xff not deflate", rsv=4)
        assert_failed(ws, 1007)
        c.get_ok()


@pytest.mark.parametrize("offer", [
    "permessage-deflate; unknown_param",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=8",
    "x-webkit-deflate-frame",
])
def test_unacceptable_deflate_offer_is_declined(hornet_server, offer):
    """Without an acceptable offer there is no extension; the WebSocket works uncompressed."""
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/", [("sec-websocket-extensions", offer)])
        assert ws.st.header("sec-websocket-extensions") is None, ws.st.headers
        ws.text("y" * 300)
        f = ws.recv_message()
        assert f.rsv == 0 and f.payload == b"y" * 300, f


def test_permessage_deflate_can_be_turned_off(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"websocket_per_message_deflate": False})
    with WsH2Client(srv.port) as c:
        ws = open_ws(c, "/", [("sec-websocket-extensions", "permessage-deflate")])
        assert ws.st.header("sec-websocket-extensions") is None, ws.st.headers
        ws.text("x" * 300)
        f = ws.recv_message()
        assert f.rsv == 0 and f.payload == b"x" * 300, f


# =============================================================================================
# graceful stop


def _drain_closes_with_1001(c, socks, t0, graceful=2.0):
    """Under the GOAWAY notice the WebSockets keep working; then each gets Close 1001 at about
    graceful_timeout - min(1 s, graceful_timeout / 2) after the signal, and the stream ends
    once the client answered."""
    c.read(5, until=lambda f: isinstance(f, GoAwayFrame))
    assert c.goaway is not None and c.goaway.error_code == NO_ERROR, goaway_text(c.goaway)
    for ws in socks:
        ws.text("during the drain " + str(ws.sid))
    for ws in socks:
        f = ws.recv(5, what="the echo during the drain")
        assert f.payload == b"during the drain %d" % ws.sid, f
    due = graceful - min(1.0, graceful / 2)
    for ws in socks:
        f = ws.recv(graceful + 3, what="Close 1001")
        elapsed = time.monotonic() - t0
        assert f.opcode == OP_CLOSE and f.close_code == 1001, f
        assert due - 0.5 <= elapsed <= graceful + 1.0, \
            "Close 1001 came %.2f s after the signal (due at %.1f s)" % (elapsed, due)
    for ws in socks:
        assert not ws.st.done, ws.st  # the server waits for the client's Close
        ws.close(1001)
    for ws in socks:
        st = ws.wait_end(5)
        assert st.ended and st.reset is None and not ws.pending, (st, ws.pending)


@requires_gcc
def test_graceful_stop_sends_close_1001(hornet_server, carrier, wsprobe):
    """SIGTERM to the master with graceful_timeout 2s: two open WebSockets on one connection
    get Close 1001 about 1 s after the drain began; the client answers, the server ends the
    streams and closes the connection, the app hears 1001 and the master exits 0."""
    srv = hornet_server(app=wsprobe, config=carrier.config(graceful_timeout="2s"))
    with WsRawH2(srv.port, tls=carrier.tls, timeout=15) as c:
        a, b = open_ws(c, "/stop-a"), open_ws(c, "/stop-b")
        a.text("before")
        assert a.recv_message().payload == b"before"
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        _drain_closes_with_1001(c, [a, b], t0)
        c.read(5)
        assert c.eof, "the server did not close the drained connection"
    assert srv.wait_exit(10) == 0
    for path in ("/stop-a", "/stop-b"):
        line = wait_log_line(srv, "wsprobe: disconnect path=%s " % path)
        assert "completed=1 code=1001" in line, line


@requires_gcc
def test_reload_sends_close_1001(hornet_server, wsprobe):
    """SIGHUP: the old worker drains its HTTP/2 WebSocket the same way; a new connection
    reaches the new worker meanwhile."""
    srv = hornet_server(app=wsprobe, config={"graceful_timeout": "2s"})
    old = set(srv.wait_workers(1))
    with WsRawH2(srv.port, timeout=15) as c:
        ws = open_ws(c, "/reload")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGHUP)
        _drain_closes_with_1001(c, [ws], t0)
        c.read(5)
        assert c.eof, "the server did not close the drained connection"
    wait_until(lambda: srv.workers() and not set(srv.workers()) & old, 20,
               what="the old worker to leave")
    with WsRawH2(srv.port) as c:
        ws = open_ws(c, "/new")
        ws.text("new worker")
        assert ws.recv_message().payload == b"new worker"
    assert "completed=1 code=1001" in wait_log_line(srv, "wsprobe: disconnect path=/reload ")
    assert srv.alive()


@requires_gcc
def test_graceful_stop_with_a_stalled_websocket_is_bounded(hornet_server, wsprobe):
    """The WebSocket's window is closed (a big message stalled), so its Close 1001 cannot even
    be delivered: the stop still ends within graceful_timeout (plus a margin), the app hears
    completed=0, and the master exits 0."""
    srv = hornet_server(app=wsprobe, config={"graceful_timeout": "2s"})
    with WsRawH2(srv.port, windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024},
                 timeout=15) as c:
        ws = open_ws(c, "/stalled-stop")
        ws.text("big:1000000")
        c.wait(lambda: len(ws.st.data) >= 1024, 10, what="the first 1024 bytes")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        c.read(6)
        assert c.eof, "connection still open 6 s after SIGTERM (graceful_timeout 2s)"
        assert len(ws.st.data) == 1024, len(ws.st.data)  # the window was never overrun
    assert srv.wait_exit(10) == 0
    assert time.monotonic() - t0 < 8
    line = wait_log_line(srv, "wsprobe: disconnect path=/stalled-stop ")
    assert "completed=0" in line, line


def test_client_that_never_reads_is_held_back_by_flow_control(hornet_server):
    """A client that sends WebSocket messages over HTTP/2 and reads none of the echoes: once
    the stream's output is stalled (the client grants 1 KiB of window), the server stops
    giving back window for what arrives, so the client's window runs out and stays shut
    instead of the server buffering what it sends (HTTP/1.1 stops reading the socket the same
    way). Nothing is lost: once the client reads, every message comes back, in order, and the
    window reopens for the rest."""
    srv = hornet_server(app="builtin:echo")
    with WsRawH2(srv.port, windows=False, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        ws = open_ws(c, "/")
        chunk = 64 * 1024
        messages = [os.urandom(chunk) for _ in range(128)]  # 8 MiB
        wire = b"".join(ws_frame(OP_BINARY, m) for m in messages)
        sent = c.send_windowed(ws.sid, wire, stall=2.0)
        # stalled: the stream window (1 MiB) and what went to the app before it paused
        assert sent < 3 << 20, "the server kept opening its window: %d bytes taken" % sent
        assert c.send_window(ws.sid) <= 0
        assert ws.st.reset is None and not ws.st.done, ws.st
        c.send(WindowUpdateFrame(ws.sid, window_increment=1 << 30),
               WindowUpdateFrame(0, window_increment=1 << 30))
        got = 0
        deadline = time.monotonic() + 60
        while got < len(messages):
            assert time.monotonic() < deadline, "%d of %d echoes" % (got, len(messages))
            if sent < len(wire):
                sent += c.send_windowed(ws.sid, wire[sent:], stall=0.2)
            ws._parse()
            while ws.pending and got < len(messages):
                f = ws.pending.pop(0)
                assert f.opcode == OP_BINARY and f.payload == messages[got], (got, f)
                got += 1
            c.read(0.05)
        assert sent == len(wire)
        ws.text("after")
        assert ws.recv_message().payload == b"after"
