"""HTTP/2 (worker/h2.c, on nghttp2): h2 chosen by ALPN over TLS and by the connection preface
(prior knowledge) on any listener; streams as the same app scope as HTTP/1.1 with
http_version "2"; the server's SETTINGS and windows; response headers, HEAD, 204/304, large
bodies both ways, many streams at once and response flow control; max_body_size; GOAWAY on
SIGTERM and SIGHUP with the in-flight stream finishing; and the floods and tricks HTTP/2 is
known for (rapid reset, MadeYouReset, CONTINUATION, HPACK bomb, tiny headers, SETTINGS/PING
floods, empty DATA frames, protocol violations), each of which must end or reset the attacker
while a second connection to the same worker goes on being served.

Clients: the h2 library (a real client state machine) for well-behaved traffic, and RawH2, a
frame-level client on hyperframe with a literal-only HPACK encoder, for everything a library
would refuse to send. curl, nghttp and h2load check interoperability (skipped when missing).
Every server listens on 127.0.0.1 (or a unix socket) and every wait has a deadline.
"""

import hashlib
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from hpack.hpack import encode_integer
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

import apps_fixture
from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import (Conn, SocketOwner, client_ssl_context, curl, free_port,
                            require_tool, requires_tool, tcp_entry, wait_until)
from tls_fixture import requires_openssl, tls_certs  # noqa: F401,F811  (a fixture)

HELLO = b"Hello, world!"
# Bounded memory under a flood. Under valgrind or ASan (scripts/test-sanitizers.sh) the
# worker's RSS includes the tool's own memory: shadow memory, and ASan's quarantine of freed
# blocks, both of which grow with every allocation.
RSS_GROWTH_LIMIT_KIB = (256 if os.environ.get("HORNET_UNDER_VALGRIND") or
                        os.environ.get("HORNET_UNDER_ASAN") else 32) * 1024
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# error codes (RFC 9113 §7)
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
ENHANCE_YOUR_CALM = 0xb

# SETTINGS identifiers
S_MAX_CONCURRENT_STREAMS = 0x3
S_INITIAL_WINDOW_SIZE = 0x4
S_MAX_FRAME_SIZE = 0x5
S_MAX_HEADER_LIST_SIZE = 0x6
S_ENABLE_CONNECT_PROTOCOL = 0x8

CONNECTION_HEADERS = ("connection", "keep-alive", "transfer-encoding", "upgrade",
                      "proxy-connection")
GLITCH_WARNING = "too many HTTP/2 errors"


# ---------------------------------------------------------------------------------------------
# sockets


def h2_context(alpn=("h2",)):
    """A TLS client context that checks nothing and offers these ALPN protocols."""
    ctx = client_ssl_context()
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def open_socket(port=None, tls=False, unix_path=None, alpn=("h2",), rcvbuf=None, timeout=10.0):
    """A connected client socket: TCP to 127.0.0.1:port or a unix socket, TLS if asked."""
    if unix_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    try:
        sock.connect(unix_path or ("127.0.0.1", port))
        if tls:
            sock = h2_context(alpn).wrap_socket(sock)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_some(sock, timeout):
    """One recv with a deadline: bytes, b'' at EOF (or reset), None on timeout."""
    sock.settimeout(max(timeout, 0.001))
    try:
        return sock.recv(1 << 20)
    except socket.timeout:
        return None
    except (ConnectionResetError, BrokenPipeError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
        return b""
    except ssl.SSLError:
        return b""


class StreamResult:
    """What one stream received: status, headers, body, trailers, end or reset."""

    def __init__(self):
        self.status = None
        self.headers = []  # [(name, value)] as str, pseudo-headers included
        self.data = bytearray()
        self.data_frames = 0
        self.trailers = None
        self.ended = False
        self.reset = None  # RST_STREAM error code
        self.headers_ended_stream = False

    @property
    def done(self):
        return self.ended or self.reset is not None

    def header(self, name, default=None):
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k == name]

    def __repr__(self):
        return "<Stream status=%s ended=%s reset=%s headers=%r body=%r>" % (
            self.status, self.ended, self.reset, self.headers, bytes(self.data[:200]))


def _text(v):
    return v.decode("latin-1") if isinstance(v, bytes) else v


# ---------------------------------------------------------------------------------------------
# a well-behaved client: the h2 library


class H2Client(SocketOwner):
    """An HTTP/2 client connection driven by the h2 library (which validates what the server
    sends: lower-case names, no connection-specific headers, frame rules). Flow control is
    acknowledged as data arrives; big_windows opens 16 MiB windows so that large bodies are
    quick. Every wait is bounded."""

    def __init__(self, port=None, tls=False, unix_path=None, settings=None, big_windows=True,
                 timeout=10.0, alpn=("h2",)):
        self.sock = open_socket(port, tls=tls, unix_path=unix_path, alpn=alpn, timeout=timeout)
        self.tls = tls
        self.timeout = timeout
        self.alpn = self.sock.selected_alpn_protocol() if tls else None
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None))
        values = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                  h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536}
        if big_windows:
            values[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = 16 << 20
        values.update(settings or {})
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=values)
        self.conn.initiate_connection()
        if big_windows:
            self.conn.increment_flow_control_window(16 << 20)
        self.streams = {}
        self.remote_settings = {}
        self.terminated = None  # h2.events.ConnectionTerminated
        self.eof = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method="GET", path="/", headers=(), body=None, authority="localhost",
                end_stream=None):
        """Start a stream; returns its id. body (bytes) is sent under flow control."""
        sid = self.conn.get_next_available_stream_id()
        hs = [(":method", method), (":scheme", "https" if self.tls else "http"),
              (":path", path)]
        if authority is not None:
            hs.append((":authority", authority))
        hs += list(headers)
        self.streams[sid] = StreamResult()
        if end_stream is None:
            end_stream = body is None
        self.conn.send_headers(sid, hs, end_stream=end_stream)
        self.flush()
        if body is not None:
            self.send_body(sid, body)
        return sid

    def send_body(self, sid, data, end_stream=True):
        deadline = time.monotonic() + 30
        pos = 0
        while pos < len(data):
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                    len(data) - pos)
            if n <= 0:
                if time.monotonic() > deadline:
                    raise AssertionError("no flow-control window from the server for 30s")
                self.pump(1.0)
                continue
            self.conn.send_data(sid, data[pos:pos + n])
            pos += n
            self.flush()
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def pump(self, timeout=1.0):
        """Read once (up to timeout) and handle the events. False at EOF."""
        if self.eof:
            return False
        data = recv_some(self.sock, timeout)
        if data is None:
            return True
        if not data:
            self.eof = True
            return False
        for ev in self.conn.receive_data(data):
            self._handle(ev)
        self.flush()
        return True

    def _handle(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None) or 0)
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = [(_text(k), _text(v)) for k, v in ev.headers]
            st.status = int(st.header(":status"))
            if ev.stream_ended is not None:
                st.headers_ended_stream = True
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            pass
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            st.data_frames += 1
            if ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = [(_text(k), _text(v)) for k, v in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for code, change in ev.changed_settings.items():
                self.remote_settings[int(code)] = change.new_value

    def wait(self, pred, timeout=None, what="condition"):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; streams %r" % (what,
                                                                               self.streams))
            if not self.pump(min(left, 1.0)) and not pred():
                raise AssertionError("connection closed while waiting for %s; streams %r; "
                                     "terminated %r" % (what, self.streams, self.terminated))
        return True

    def get(self, path="/", method="GET", headers=(), body=None, authority="localhost",
            timeout=None):
        """One whole exchange on this connection; returns its StreamResult."""
        sid = self.request(method, path, headers, body, authority)
        st = self.streams[sid]
        self.wait(lambda: st.done, timeout, what="stream %d of %s %s" % (sid, method, path))
        return st


def h2_get(port=None, path="/", tls=False, unix_path=None, **kw):
    """One request on a fresh HTTP/2 connection."""
    with H2Client(port, tls=tls, unix_path=unix_path) as c:
        return c.get(path, **kw)


def assert_still_serves(srv, path="/after"):
    """A second, well-behaved HTTP/2 connection gets a whole answer."""
    st = h2_get(srv.port, path, tls=srv.tls)
    assert st.status == 200 and st.ended, st
    return st


# ---------------------------------------------------------------------------------------------
# a frame-level client for everything a library would not send


def raw_frame(ftype, flags, stream_id, payload=b""):
    """Bytes of one frame, unchecked (hyperframe refuses invalid stream ids)."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id) + payload


def hpack_literal(name, value, indexing=False):
    """One header as a literal with a new name (RFC 7541 §6.2): without indexing, so the
    encoder has no state; with incremental indexing (0x40) to add it to the dynamic table."""
    name = name.encode("latin-1") if isinstance(name, str) else name
    value = value.encode("latin-1") if isinstance(value, str) else value
    return (b"\x40" if indexing else b"\x00") + bytes(encode_integer(len(name), 7)) + name + \
        bytes(encode_integer(len(value), 7)) + value


def hpack_block(headers):
    return b"".join(hpack_literal(n, v) for n, v in headers)


def req_headers(path="/", method="GET", authority="localhost", extra=()):
    hs = [(":method", method), (":scheme", "http"), (":path", path)]
    if authority is not None:
        hs.append((":authority", authority))
    return hs + list(extra)


def headers_frame(sid, headers, end_stream=True, end_headers=True):
    f = HeadersFrame(sid)
    f.data = hpack_block(headers) if not isinstance(headers, bytes) else headers
    f.flags = set()
    if end_stream:
        f.flags.add("END_STREAM")
    if end_headers:
        f.flags.add("END_HEADERS")
    return f.serialize()


class RawH2(SocketOwner):
    """A frame-level HTTP/2 client: sends whatever it is given, reads frames back with
    deadlines and keeps per-stream results (decoding every response header block in order, as
    HPACK requires). It never sends WINDOW_UPDATE on its own; it acknowledges the server's
    SETTINGS unless ack_settings=False."""

    def __init__(self, port=None, tls=False, unix_path=None, settings=None, rcvbuf=None,
                 timeout=10.0, preface=True, ack_settings=True, alpn=("h2",)):
        self.sock = open_socket(port, tls=tls, unix_path=unix_path, alpn=alpn, rcvbuf=rcvbuf,
                                timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.frames = []
        self.streams = {}
        self.goaway = None
        self.server_settings = None
        self.ack_settings = ack_settings
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self._block = None  # (stream id, bytes, end_stream) of an unfinished header block
        if preface:
            self.send(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())

    def send(self, *parts):
        self.sock.sendall(b"".join(p if isinstance(p, bytes) else p.serialize() for p in parts))

    def post(self, sid, path, body):
        """A whole POST with its content-length: HEADERS, then one DATA frame that ends it."""
        self.send(headers_frame(sid, req_headers(path, "POST",
                                                 extra=[("content-length", str(len(body)))]),
                                end_stream=False),
                  DataFrame(sid, data=body, flags=["END_STREAM"]))

    def stream(self, sid):
        return self.streams.setdefault(sid, StreamResult())

    def _header_block(self, sid, block, end_stream):
        st = self.stream(sid)
        hs = [(_text(k), _text(v)) for k, v in self.decoder.decode(block, raw=True)]
        if st.status is None:
            st.headers = hs
            st.status = int(st.header(":status"))
            st.headers_ended_stream = end_stream
        else:
            st.trailers = hs
        if end_stream:
            st.ended = True

    def _got(self, f):
        self.frames.append(f)
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            if self.server_settings is None:
                self.server_settings = dict(f.settings)
            if self.ack_settings:
                try:
                    self.send(SettingsFrame(0, flags=["ACK"]))
                except OSError:
                    pass
        elif isinstance(f, HeadersFrame):
            if "END_HEADERS" in f.flags:
                self._header_block(f.stream_id, f.data, "END_STREAM" in f.flags)
            else:
                self._block = (f.stream_id, f.data, "END_STREAM" in f.flags)
        elif isinstance(f, ContinuationFrame) and self._block:
            sid, data, end = self._block
            data += f.data
            if "END_HEADERS" in f.flags:
                self._block = None
                self._header_block(sid, data, end)
            else:
                self._block = (sid, data, end)
        elif isinstance(f, DataFrame):
            st = self.stream(f.stream_id)
            st.data += f.data
            st.data_frames += 1
            if "END_STREAM" in f.flags:
                st.ended = True
        elif isinstance(f, RstStreamFrame):
            self.stream(f.stream_id).reset = f.error_code
        elif isinstance(f, GoAwayFrame):
            self.goaway = f

    def read(self, timeout=None, until=None):
        """Read frames until until(frame) is true, EOF, or the deadline; returns them."""
        out = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while len(self.buf) >= 9:
                f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + length:
                    break
                f.parse_body(memoryview(self.buf[9:9 + length]))
                self.buf = self.buf[9 + length:]
                self._got(f)
                out.append(f)
                if until is not None and until(f):
                    return out
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return out
            data = recv_some(self.sock, left)
            if data is None:
                return out
            if not data:
                self.eof = True
                return out
            self.buf += data

    def wait(self, pred, timeout=None, what="condition"):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise AssertionError("%s waiting for %s; goaway %r; streams %r" % (
                    "EOF" if self.eof else "timed out", what, self.goaway, self.streams))
            self.read(min(left, 0.5), until=lambda f: pred())
        return True

    def handshake(self):
        """Wait for the server's SETTINGS and the connection WINDOW_UPDATE after it."""
        self.wait(lambda: any(isinstance(f, WindowUpdateFrame) and f.stream_id == 0
                              for f in self.frames), what="the server's SETTINGS")

    def wait_goaway_or_close(self, timeout=10.0, linger=2.0):
        """(GOAWAY frame or None, EOF seen): the first of the two, waiting up to timeout; after
        a GOAWAY, up to `linger` seconds more reading to see whether the server also closes."""
        self.read(timeout, until=lambda f: isinstance(f, GoAwayFrame))
        if self.goaway is not None and not self.eof and linger:
            self.read(linger)
        return self.goaway, self.eof

    def send_window(self, sid):
        """What the server's flow control lets this client send now on stream sid: the lesser
        of the stream's and the connection's window (RFC 9113 §6.9), from the server's SETTINGS
        and every WINDOW_UPDATE read so far, less the DATA sent with send_windowed."""
        sent = getattr(self, "data_sent", {})
        initial = (self.server_settings or {}).get(S_INITIAL_WINDOW_SIZE, 65535)
        stream = conn = 0
        for f in self.frames:
            if isinstance(f, WindowUpdateFrame):
                if f.stream_id == sid:
                    stream += f.window_increment
                elif f.stream_id == 0:
                    conn += f.window_increment
        return min(initial + stream - sent.get(sid, 0), 65535 + conn - sent.get(0, 0))

    def send_windowed(self, sid, data, stall=2.0, timeout=30.0):
        """Send data as DATA frames on sid as fast as the server's windows allow, reading what
        the server sends meanwhile (and never acknowledging it). Stops when everything is sent,
        or when the window stayed shut for `stall` seconds; returns the bytes sent."""
        self.data_sent = getattr(self, "data_sent", {})
        pos = 0
        shut_since = None
        deadline = time.monotonic() + timeout
        while pos < len(data) and time.monotonic() < deadline:
            n = min(self.send_window(sid), 16384, len(data) - pos)
            if n <= 0:
                shut_since = shut_since or time.monotonic()
                if time.monotonic() - shut_since >= stall:
                    break
                self.read(0.1)
                continue
            shut_since = None
            self.send(DataFrame(sid, data=data[pos:pos + n]))
            self.data_sent[sid] = self.data_sent.get(sid, 0) + n
            self.data_sent[0] = self.data_sent.get(0, 0) + n
            pos += n
            self.read(0.001)
        return pos

    def open_windows(self):
        """Give the server 1 GiB of connection and stream window."""
        self.send(SettingsFrame(0, settings={S_INITIAL_WINDOW_SIZE: 1 << 30}),
                  WindowUpdateFrame(0, window_increment=1 << 30))


def goaway_text(g):
    if g is None:
        return "no GOAWAY"
    return "GOAWAY(error=%#x, last_stream_id=%d, debug=%r)" % (g.error_code, g.last_stream_id,
                                                             g.additional_data)


def assert_goaway(c, codes, timeout=10.0, linger=2.0):
    """The server sends GOAWAY with one of these codes."""
    g, eof = c.wait_goaway_or_close(timeout, linger)
    assert g is not None, "no GOAWAY (EOF: %s); frames %r" % (eof, [type(f).__name__ for f in
                                                                   c.frames[-10:]])
    assert g.error_code in codes, goaway_text(g)
    return g


# ---------------------------------------------------------------------------------------------
# processes


def worker_pid(srv):
    pids = srv.wait_workers(1)
    return pids[0]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def server_tcp_state(server_port, client_port):
    """The TCP state (hex, '01' = ESTABLISHED) of the server's end of the connection from
    client_port, or None if the server's end is gone."""
    p = tcp_entry(server_port, client_port)
    return p[3] if p else None


def wait_log(srv, text, count=1, timeout=20):
    wait_until(lambda: srv.stderr_text().count(text) >= count, timeout, what=repr(text))


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def static_tree(tmp_path_factory):
    """index.html, big.bin (8 MiB of random bytes) and four.bin (4 MiB)."""
    d = tmp_path_factory.mktemp("h2static")
    (d / "index.html").write_bytes(b"<h1>hornet h2</h1>\n")
    big = os.urandom(8 << 20)
    (d / "big.bin").write_bytes(big)
    (d / "four.bin").write_bytes(big[:4 << 20])
    return d


HEADERS_APP_C = r"""
#include <hornet/app.h>
#include <string.h>
static const hornet_api_t *api;
static int init(const hornet_api_t *a) { api = a; return 0; }
#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
static const hornet_header_t hs[] = {
    H("Content-Type", "text/plain"), H("Content-Length", "5"), H("X-Mixed-Case", "Yes"),
    H("Connection", "keep-alive"), H("Keep-Alive", "timeout=5"), H("Upgrade", "h2c"),
    H("Proxy-Connection", "keep-alive"), H("Transfer-Encoding", "identity"),
    H("Server", "custom/1.0"),
};
static void on_request(hornet_request_t *req, const hornet_scope_t *scope) {
    (void)scope;
    if (api->response_start(req, 200, hs, sizeof(hs) / sizeof(hs[0]), false) == HORNET_OK)
        api->response_body(req, "hdrs\n", 5, false);
}
const hornet_app_t app = {.abi_version = HORNET_ABI_VERSION, .name = "h2hdrs",
                          .init = init, .on_request = on_request};
"""


@pytest.fixture(scope="module")
def headers_app(tmp_path_factory):
    """A shared-object app answering with mixed-case and connection-specific headers and its
    own Server header (none of the test apps does)."""
    require_tool(apps_fixture.GCC)
    d = tmp_path_factory.mktemp("h2app")
    src = d / "h2hdrs.c"
    src.write_text(HEADERS_APP_C)
    out = str(d / "libh2hdrs.so")
    p = subprocess.run([apps_fixture.GCC] + apps_fixture.CFLAGS +
                       ["-I", apps_fixture.INCLUDE_DIR, "-o", out, str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, p.stdout.decode(errors="replace")
    return out


def tls_cfg(certs, **extra):
    cfg = {"certfile": certs.server_pem, "keyfile": certs.server_key}
    cfg.update(extra)
    return cfg


# =============================================================================================
# getting to HTTP/2


@requires_openssl
def test_alpn_h2_over_tls(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:hello", config=tls_cfg(tls_certs))
    with H2Client(srv.port, tls=True, alpn=("h2", "http/1.1")) as c:
        assert c.alpn == "h2"
        st = c.get("/")
        assert (st.status, bytes(st.data)) == (200, HELLO), st
        assert st.header("server") == "hornet"
        # a second stream on the same connection
        assert bytes(c.get("/again").data) == HELLO


@requires_openssl
def test_alpn_http11_stays_http11(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config=tls_cfg(tls_certs))
    with Conn(srv.port, tls=True, ssl_context=h2_context(("http/1.1",))) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        r = c.request("GET", "/v", [("Connection", "close")])
        assert r.version == "HTTP/1.1" and r.status == 200
        assert r.body.startswith(b"GET /v HTTP/1.1\n"), r


def test_prior_knowledge_cleartext(hornet_server):
    srv = hornet_server(app="builtin:echo")
    st = h2_get(srv.port, "/pk?x=1")
    assert st.status == 200
    assert bytes(st.data).startswith(b"GET /pk?x=1 HTTP/2\n"), st


@requires_openssl
def test_prior_knowledge_on_every_kind_of_listener(hornet_server, tls_certs, tmp_path):
    """The preface picks HTTP/2 on a cleartext insecure_bind beside TLS, on TLS without ALPN,
    and on a unix socket."""
    plain = free_port()
    srv = hornet_server(app="builtin:echo",
                        config=tls_cfg(tls_certs, insecure_bind="127.0.0.1:%d" % plain))
    st = h2_get(plain, "/insecure")
    assert bytes(st.data).startswith(b"GET /insecure HTTP/2\n"), st
    with H2Client(srv.port, tls=True, alpn=None) as c:
        assert c.alpn is None
        st = c.get("/no-alpn")
        assert bytes(st.data).startswith(b"GET /no-alpn HTTP/2\n"), st
    # HTTP/1.1 still works on both
    with Conn(plain) as c:
        assert c.request("GET", "/h1", [("Connection", "close")]).body.startswith(
            b"GET /h1 HTTP/1.1\n")
    path = str(tmp_path / "h2.sock")
    usrv = hornet_server(app="builtin:echo", config={"bind": ["unix:" + path]})
    assert usrv.unix_path == path
    st = h2_get(unix_path=path, path="/unix")
    assert bytes(st.data).startswith(b"GET /unix HTTP/2\n"), st


def test_not_quite_the_preface_is_http11(hornet_server):
    """Bytes that start like the preface but differ are HTTP/1.1 (answered 505 or 400, or
    closed), never a hang."""
    srv = hornet_server(app="builtin:hello")
    with Conn(srv.port, timeout=10) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
        data = c.read_to_eof(10)
        assert data == b"" or re.match(rb"HTTP/1\.1 (505|400) ", data), data[:200]


@requires_openssl
def test_alpn_h2_then_http11_bytes_is_closed(hornet_server, tls_certs):
    """After ALPN chose h2, a client that speaks HTTP/1.1 anyway is not served (no preface):
    the connection is closed, with at most a GOAWAY."""
    srv = hornet_server(app="builtin:hello", config=tls_cfg(tls_certs))
    with Conn(srv.port, tls=True, ssl_context=h2_context(("h2",)), timeout=10) as c:
        assert c.sock.selected_alpn_protocol() == "h2"
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = c.read_to_eof(10)
        assert b"HTTP/1.1" not in data and HELLO not in data, data[:200]
    assert_still_serves(srv)


# =============================================================================================
# the scope


@requires_gcc
def test_scope_of_an_h2_stream(hornet_server, apps):
    srv = hornet_server(app=apps["probe"])
    with H2Client(srv.port) as c:
        st = c.get("/scope/x%20y?q=1", headers=[("x-one", "1"), ("accept", "*/*")],
                   authority="example.test:8080")
        assert st.status == 200, st
        s = json.loads(bytes(st.data))
        assert s["http_version"] == "2"
        assert s["method"] == "GET" and s["scheme"] == "http"
        assert (s["path"], s["raw_path"], s["query_string"]) == ("/scope/x y", "/scope/x%20y",
                                                                  "q=1")
        assert s["client_host"] == "127.0.0.1" and s["server_port"] == srv.port
        names = [k for k, _ in s["headers"]]
        assert not [n for n in names if n.startswith(":")], s["headers"]
        assert ["x-one", "1"] in s["headers"] and ["accept", "*/*"] in s["headers"]
        # :authority becomes host when the client sent none
        assert [v for k, v in s["headers"] if k == "host"] == ["example.test:8080"]
    # the client's own host header (naming the same origin) is kept alone; with no
    # :authority and no host, no host header is invented (raw: the h2 library refuses both
    # requests; a host naming another origin is a 400, test_authority_and_host_are_checked)
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/scope", authority="given.test",
                                            extra=[("host", "Given.Test")])),
               headers_frame(3, req_headers("/scope", authority=None)))
        c.wait(lambda: c.stream(1).done and c.stream(3).done, what="two scopes")
        s = json.loads(bytes(c.stream(1).data))
        assert [v for k, v in s["headers"] if k == "host"] == ["Given.Test"], s["headers"]
        if c.stream(3).reset is None:
            s = json.loads(bytes(c.stream(3).data))
            assert "host" not in [k for k, _ in s["headers"]], s["headers"]
        else:  # nghttp2 refuses a request with neither (RFC 9113 §8.3.1 lets it)
            assert c.stream(3).reset == PROTOCOL_ERROR and c.stream(3).status is None


@requires_openssl
def test_echo_over_tls_shows_the_h2_request(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config=tls_cfg(tls_certs))
    st = h2_get(srv.port, "/e?a=b", tls=True, headers=[("x-test", "v")])
    assert st.status == 200
    lines = bytes(st.data).decode().split("\n")
    assert lines[0] == "GET /e?a=b HTTP/2"
    assert "x-test: v" in lines and "host: localhost" in lines, lines
    assert not [ln for ln in lines if ln.startswith(":")], lines


def test_malformed_path_is_400(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with H2Client(srv.port) as c:
        st = c.get("/%zz")
        assert st.status == 400 and st.ended, st
        assert c.get("/fine").status == 200


@pytest.mark.parametrize("authority,host,status", [
    ("localhost:8000", None, 200),
    ("[::1]:8000", None, 200),
    (None, "localhost", 200),
    ("Example.COM", "example.com", 200),        # one origin, any case
    ("localhost:80x", None, 400),               # a port is digits
    ("a:1:2", None, 400),
    ("user@localhost", None, 400),              # no userinfo (RFC 9113 §8.3.1)
    ("[::1", None, 400),
    (None, "localhost:abc", 400),
    ("a.example", "b.example", 400),            # two origins: which one is it?
])
def test_authority_and_host_are_checked(hornet_server, authority, host, status):
    """:authority and host follow HTTP/1.1's Host rule (uri-host[:port]) and, when both are
    sent, must agree; a bad one is 400 on that stream only, and the connection goes on."""
    srv = hornet_server(app="builtin:echo")
    with RawH2(srv.port) as c:
        c.handshake()
        extra = [("host", host)] if host is not None else []
        c.send(headers_frame(1, req_headers("/a", authority=authority, extra=extra)))
        st = c.stream(1)
        c.wait(lambda: st.done, what="the answer to stream 1")
        assert st.status == status, st
        c.send(headers_frame(3, req_headers("/after")))
        c.wait(lambda: c.stream(3).done, what="the next stream")
        assert c.stream(3).status == 200 and c.goaway is None, c.stream(3)


def test_access_log_records_h2_requests(hornet_server, tmp_path):
    log = tmp_path / "access.log"
    srv = hornet_server(app="builtin:hello", config={"accesslog": str(log)})
    with H2Client(srv.port) as c:
        c.get("/logged/1", headers=[("user-agent", "h2-test-agent")])
        c.get("/logged/2", headers=[("user-agent", "h2-test-agent")])
    wait_until(lambda: log.exists() and log.read_text().count("h2-test-agent") == 2, 10,
               what="two access log lines")
    lines = [ln for ln in log.read_text().splitlines() if "h2-test-agent" in ln]
    assert '"GET /logged/1 2" 200 13' in lines[0], lines
    assert '"GET /logged/2 2" 200 13' in lines[1], lines


# =============================================================================================
# SETTINGS and windows


def test_server_settings_defaults(hornet_server):
    srv = hornet_server(app="builtin:hello")
    with RawH2(srv.port) as c:
        c.handshake()
        assert c.server_settings == {S_MAX_CONCURRENT_STREAMS: 100,
                                     S_MAX_HEADER_LIST_SIZE: 65536,
                                     S_MAX_FRAME_SIZE: 16384,
                                     S_INITIAL_WINDOW_SIZE: 1 << 20,
                                     # RFC 8441: WebSockets over HTTP/2
                                     S_ENABLE_CONNECT_PROTOCOL: 1}, c.server_settings
        wu = [f for f in c.frames if isinstance(f, WindowUpdateFrame) and f.stream_id == 0]
        assert 65535 + wu[0].window_increment == 4 << 20, wu[0].window_increment
        # the first frame is the server's SETTINGS (its connection preface)
        assert isinstance(c.frames[0], SettingsFrame) and "ACK" not in c.frames[0].flags


def test_server_settings_follow_the_config(hornet_server):
    srv = hornet_server(app="builtin:echo",
                        config={"h2_max_concurrent_streams": 7,
                                "h2_max_header_list_size": "8KiB",
                                "h2_max_inbound_frame_size": "64KiB"})
    with RawH2(srv.port) as c:
        c.handshake()
        assert c.server_settings[S_MAX_CONCURRENT_STREAMS] == 7
        assert c.server_settings[S_MAX_HEADER_LIST_SIZE] == 8192
        assert c.server_settings[S_MAX_FRAME_SIZE] == 65536
        # a frame larger than the default 16 KiB is accepted now
        c.post(1, "/big", b"z" * 40000)
        c.open_windows()
        c.wait(lambda: c.stream(1).done, what="the echo of a 40000-byte frame")
        assert c.stream(1).status == 200 and bytes(c.stream(1).data).endswith(b"z" * 40000)
        assert c.goaway is None


def test_max_concurrent_streams_is_enforced(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"h2_max_concurrent_streams": 5})
    with RawH2(srv.port) as c:
        c.handshake()
        c.wait(lambda: any(isinstance(f, SettingsFrame) and "ACK" in f.flags for f in c.frames),
               what="the SETTINGS ack")
        # eight uploads that never end: three too many. nghttp2 makes this a connection
        # error once the SETTINGS are acknowledged (RFC 9113 §5.1.2 allows a stream error:
        # REFUSED_STREAM or PROTOCOL_ERROR); either way only the first five are processed.
        c.send(*[headers_frame(2 * i + 1, req_headers("/up/%d" % i, "POST"), end_stream=False)
                 for i in range(8)])
        c.wait(lambda: c.goaway is not None or
               sum(1 for s in c.streams.values() if s.reset is not None) >= 3,
               what="three refused streams or a GOAWAY")
        if c.goaway is not None:
            assert c.goaway.error_code == PROTOCOL_ERROR, goaway_text(c.goaway)
            assert c.goaway.last_stream_id == 9, goaway_text(c.goaway)
        else:
            refused = sorted(sid for sid, s in c.streams.items() if s.reset is not None)
            assert refused == [11, 13, 15], c.streams
            assert all(c.stream(sid).reset in (REFUSED_STREAM, PROTOCOL_ERROR)
                       for sid in refused)
            # the five admitted ones still complete
            c.send(*[DataFrame(2 * i + 1, data=b"", flags=["END_STREAM"]) for i in range(5)])
            c.wait(lambda: all(c.stream(2 * i + 1).ended for i in range(5)),
                   what="five answers")
            assert all(c.stream(2 * i + 1).status == 200 for i in range(5))
    # five at once are fine
    with H2Client(srv.port) as c:
        ids = [c.request("POST", "/up/%d" % i, end_stream=False) for i in range(5)]
        for sid in ids:
            c.send_body(sid, b"x")
        c.wait(lambda: all(c.streams[s].done for s in ids), what="five answers")
        assert all(c.streams[s].status == 200 for s in ids)


def test_idle_connection_gets_goaway_after_keep_alive_timeout(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"keep_alive_timeout": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/")))
        c.wait(lambda: c.stream(1).ended, what="the answer")
        t0 = time.monotonic()
        g = assert_goaway(c, (NO_ERROR,), timeout=6)
        assert g.last_stream_id == 1
        assert time.monotonic() - t0 >= 0.5  # not at once: after the idle time
        c.read(3)
        assert c.eof, "server did not close the idle connection after its GOAWAY"



def test_unfinished_header_block_is_bounded_by_keep_alive_timeout(hornet_server):
    """A HEADERS frame without END_HEADERS whose CONTINUATION never comes holds no stream
    forever (a slowloris for HTTP/2): after keep_alive_timeout the connection gets GOAWAY
    and is closed, as an HTTP/1.1 client that never finishes its head would be."""
    srv = hornet_server(app="builtin:hello", config={"keep_alive_timeout": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/"), end_headers=False))
        g = assert_goaway(c, (NO_ERROR,), timeout=8)
        assert g.last_stream_id in (0, 1)
        c.read(3)
        assert c.eof, "server did not close the connection stuck in a header block"
    assert_still_serves(srv)


def test_a_request_in_progress_is_not_idle(hornet_server):
    """A stream whose response is still being produced keeps the connection: the idle timer
    only runs while no request is in progress."""
    srv = hornet_server(app="builtin:echo", config={"keep_alive_timeout": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/slow", "POST"), end_stream=False))
        c.read(2.5)  # more than keep_alive_timeout with the upload open
        assert c.goaway is None and not c.eof
        c.send(DataFrame(1, data=b"late", flags=["END_STREAM"]).serialize())
        c.open_windows()
        c.wait(lambda: c.stream(1).done, what="the echo")
        assert bytes(c.stream(1).data).endswith(b"late")

# =============================================================================================
# responses


@requires_gcc
def test_response_headers_are_lowercase_without_connection_headers(hornet_server, headers_app):
    srv = hornet_server(app=headers_app)
    with RawH2(srv.port) as c:  # raw: the h2 library would refuse a bad answer outright
        c.handshake()
        c.send(headers_frame(1, req_headers("/")))
        c.wait(lambda: c.stream(1).done, what="the answer")
        st = c.stream(1)
        assert st.status == 200 and bytes(st.data) == b"hdrs\n", st
        names = [k for k, _ in st.headers]
        assert names == [n.lower() for n in names], names
        assert st.header("x-mixed-case") == "Yes"
        assert not set(names) & set(CONNECTION_HEADERS), st.headers
        # the app's own Server header wins, and only one is sent
        assert st.header_all("server") == ["custom/1.0"], st.headers
        assert len(st.header_all("date")) == 1
        assert st.header(":status") == "200" and names[0] == ":status"


def test_server_and_date_headers(hornet_server):
    srv = hornet_server(app="builtin:hello")
    st = h2_get(srv.port)
    assert st.header("server") == "hornet"
    assert re.match(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$",
                    st.header("date") or ""), st.headers
    assert st.header("content-length") == "13" and st.header("content-type") == "text/plain"
    srv2 = hornet_server(app="builtin:hello", config={"include_server_header": False,
                                                      "include_date_header": False})
    st = h2_get(srv2.port)
    assert (st.status, bytes(st.data)) == (200, HELLO)
    assert st.header("server") is None and st.header("date") is None, st.headers


def test_head_has_headers_and_no_data(hornet_server, static_tree):
    srv = hornet_server(app="builtin:static", config={"static_root": str(static_tree)})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/big.bin", "HEAD")))
        c.wait(lambda: c.stream(1).done, what="the HEAD answer")
        st = c.stream(1)
        assert st.status == 200 and st.header("content-length") == str(8 << 20), st
        assert st.headers_ended_stream and st.data_frames == 0, st
        # and the connection goes on
        c.send(headers_frame(3, req_headers("/index.html")))
        c.wait(lambda: c.stream(3).done, what="the GET after HEAD")
        assert bytes(c.stream(3).data) == b"<h1>hornet h2</h1>\n"


@requires_gcc
def test_204_and_304_have_no_body(hornet_server, apps, static_tree):
    srv = hornet_server(app=apps["probe"], config={"mount": {"/simple": apps["simple"]}})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/simple/status?code=204")))
        # the app tries to send "bad-status-rc=0" with its 204: nothing may go out
        c.send(headers_frame(3, req_headers("/misuse/bad-status?code=204")))
        c.send(headers_frame(5, req_headers("/simple/status?code=304")))
        c.wait(lambda: all(c.stream(s).done for s in (1, 3, 5)), what="three answers")
        for sid, code in ((1, 204), (3, 204), (5, 304)):
            st = c.stream(sid)
            assert st.status == code and st.headers_ended_stream, st
            assert st.data_frames == 0 and st.reset is None, st
    ssrv = hornet_server(app="builtin:static", config={"static_root": str(static_tree)})
    with H2Client(ssrv.port) as c:
        etag = c.get("/index.html").header("etag")
        assert etag
        st = c.get("/index.html", headers=[("if-none-match", etag)])
        assert st.status == 304 and st.data == b"" and st.headers_ended_stream, st


def test_large_static_file_is_intact(hornet_server, static_tree):
    srv = hornet_server(app="builtin:static", config={"static_root": str(static_tree)})
    want = hashlib.sha256((static_tree / "big.bin").read_bytes()).hexdigest()
    with H2Client(srv.port) as c:
        st = c.get("/big.bin", timeout=30)
        assert st.status == 200 and st.ended, st
        assert len(st.data) == 8 << 20
        assert hashlib.sha256(st.data).hexdigest() == want
    # with the default 64 KiB windows of a plain client as well
    with H2Client(srv.port, big_windows=False) as c:
        st = c.get("/four.bin", timeout=30)
        assert hashlib.sha256(st.data).digest() == hashlib.sha256(
            (static_tree / "four.bin").read_bytes()).digest()


def test_upload_of_5_mib_is_echoed_intact(hornet_server):
    srv = hornet_server(app="builtin:echo")
    body = os.urandom(5 << 20)
    with H2Client(srv.port) as c:
        st = c.get("/up", method="POST", body=body,
                   headers=[("content-length", str(len(body)))], timeout=30)
        assert st.status == 200, st
        head, sep, echoed = bytes(st.data).partition(b"\n\n")
        assert head.startswith(b"POST /up HTTP/2\n") and sep
        assert b"content-length: %d" % len(body) in head
        assert echoed == body
        assert st.header("content-length") == str(len(st.data))


def test_request_body_without_content_length(hornet_server):
    """Streamed to the app as it comes; echo answers a body of unknown length with a
    response of unknown length (no content-length) in two pieces."""
    srv = hornet_server(app="builtin:echo")
    with H2Client(srv.port) as c:
        sid = c.request("POST", "/stream", end_stream=False)
        for piece in (b"one,", b"two,", b"three"):
            c.send_body(sid, piece, end_stream=False)
            c.pump(0.05)
        c.send_body(sid, b"", end_stream=True)
        c.wait(lambda: c.streams[sid].done, what="the echo")
        st = c.streams[sid]
        assert st.status == 200 and st.ended, st
        assert bytes(st.data).endswith(b"\n\none,two,three"), st
        assert b"content-length" not in bytes(st.data).split(b"\n\n")[0]
        assert st.header("content-length") is None


def test_many_concurrent_streams_on_one_connection(hornet_server, static_tree):
    srv = hornet_server(app="builtin:echo")
    with H2Client(srv.port) as c:
        ids = [c.request("GET", "/n/%d" % i) for i in range(50)]
        c.wait(lambda: all(c.streams[s].done for s in ids), timeout=20, what="50 answers")
        for i, sid in enumerate(ids):
            st = c.streams[sid]
            assert st.status == 200 and st.ended, st
            assert bytes(st.data).startswith(b"GET /n/%d HTTP/2\n" % i), st
    ssrv = hornet_server(app="builtin:static", config={"static_root": str(static_tree)})
    with H2Client(ssrv.port) as c:  # big bodies interleaved
        ids = [c.request("GET", "/four.bin") for _ in range(4)]
        c.wait(lambda: all(c.streams[s].done for s in ids), timeout=30, what="4 files")
        want = (static_tree / "four.bin").read_bytes()
        assert all(bytes(c.streams[s].data) == want for s in ids)


def test_response_flow_control_with_a_tiny_window(hornet_server, static_tree):
    """INITIAL_WINDOW_SIZE 1024 and no WINDOW_UPDATE: exactly 1024 bytes come, the connection
    stays open (longer than keep_alive_timeout: a stalled stream is not idle), then each
    window the client grants is used exactly, and the whole file arrives once it opens."""
    srv = hornet_server(app="builtin:static", config={"static_root": str(static_tree),
                                                      "keep_alive_timeout": 1})
    want = (static_tree / "four.bin").read_bytes()
    with RawH2(srv.port, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/four.bin")))
        c.wait(lambda: len(c.stream(1).data) >= 1024, what="the first 1024 bytes")
        c.read(2.0)  # nothing more may come, and nothing may end
        st = c.stream(1)
        assert len(st.data) == 1024 and not st.done, st
        assert c.goaway is None and not c.eof
        c.send(WindowUpdateFrame(1, window_increment=3000))
        c.wait(lambda: len(st.data) >= 4024, what="3000 more bytes")
        c.read(0.5)
        assert len(st.data) == 4024 and not st.done
        # the connection window (65535) is the next limit
        c.send(WindowUpdateFrame(1, window_increment=1 << 30))
        c.wait(lambda: len(st.data) >= 65535, what="the connection window's worth")
        c.read(0.5)
        assert len(st.data) == 65535 and not st.done
        c.send(WindowUpdateFrame(0, window_increment=1 << 30))
        c.wait(lambda: st.done, timeout=30, what="the rest of the file")
        assert st.ended and bytes(st.data) == want
        assert c.goaway is None


@requires_gcc
def test_backpressure_pauses_the_app_while_the_window_is_closed(hornet_server, apps):
    """The stream app (obeys on_pause) answers 4 MiB to a client whose window is 1024 bytes:
    the app is paused with a bounded amount handed over, and resumed when the window opens;
    every byte arrives in order."""
    srv = hornet_server(app=apps["stream"], config={"workers": 1})
    size = 4 << 20
    with RawH2(srv.port, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/stream?bytes=%d" % size)))
        c.wait(lambda: len(c.stream(1).data) >= 1024, what="the first 1024 bytes")

        def counters():
            text = bytes(h2_get(srv.port, "/counters").data).decode()
            return dict(kv.split("=") for kv in text.split())

        wait_until(lambda: counters()["paused_now"] == "1", 10, what="the app to be paused")
        stalled = counters()
        assert int(stalled["sent"]) <= 1 << 20, stalled  # bounded, not the whole 4 MiB
        assert stalled["completed"] == "0"
        c.send(WindowUpdateFrame(0, window_increment=1 << 30),
               WindowUpdateFrame(1, window_increment=1 << 30))
        c.wait(lambda: c.stream(1).done, timeout=30, what="the whole body")
        data = bytes(c.stream(1).data)
        assert len(data) == size and c.stream(1).ended
        assert data == (bytes(range(251)) * (size // 251 + 1))[:size]
    done = counters()
    assert done["completed"] == "1" and int(done["resumes"]) >= 1, done
    assert done["mismatch"] == "0" and done["errors"] == "0", done


@requires_openssl
def test_large_download_over_tls(hornet_server, tls_certs, static_tree):
    srv = hornet_server(app="builtin:static",
                        config=tls_cfg(tls_certs, static_root=str(static_tree)))
    with H2Client(srv.port, tls=True) as c:
        assert c.alpn == "h2"
        st = c.get("/big.bin", timeout=30)
        assert st.status == 200 and st.ended
        assert hashlib.sha256(st.data).digest() == hashlib.sha256(
            (static_tree / "big.bin").read_bytes()).digest()


# =============================================================================================
# request bodies and max_body_size


def test_content_length_over_max_body_size_is_413(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"max_body_size": 1000})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/big", "POST", extra=[("content-length", "2000")]),
                             end_stream=False))
        c.wait(lambda: c.stream(1).done, what="the 413")
        st = c.stream(1)
        assert st.status == 413, st
        assert bytes(st.data).startswith(b"413 "), st
        # the upload is stopped (RST_STREAM NO_ERROR after the answer, RFC 9113 §8.1)
        c.wait(lambda: st.reset is not None or st.ended, what="the end of stream 1")
        # within the limit, on the same connection
        c.post(3, "/ok", b"k" * 1000)
        c.wait(lambda: c.stream(3).done, what="the echo")
        assert c.stream(3).status == 200 and bytes(c.stream(3).data).endswith(b"k" * 1000)
        assert c.goaway is None


def test_body_over_max_body_size_without_content_length_is_413(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"max_body_size": 1000})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/big", "POST"), end_stream=False),
               DataFrame(1, data=b"a" * 600))
        c.read(0.3)
        assert not c.stream(1).done  # within the limit so far
        c.send(DataFrame(1, data=b"b" * 600))
        c.wait(lambda: c.stream(1).status is not None, what="the 413")
        st = c.stream(1)
        assert st.status == 413, st
        c.wait(lambda: st.done, what="the end of stream 1")
        # more DATA from a client that had not seen the answer yet does no harm
        try:
            c.send(DataFrame(1, data=b"c" * 600, flags=["END_STREAM"]))
        except OSError:
            pass
        c.send(headers_frame(3, req_headers("/next")))
        c.wait(lambda: c.stream(3).done, what="the next request")
        assert c.stream(3).status == 200
        assert c.goaway is None
    assert_still_serves(srv)


@requires_gcc
def test_request_trailers_end_the_body(hornet_server, apps):
    srv = hornet_server(app=apps["probe"])
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/order", "POST"), end_stream=False),
               DataFrame(1, data=b"abc"),
               headers_frame(1, [("x-trailer", "t")], end_stream=True))
        c.wait(lambda: c.stream(1).done, what="the answer")
        assert c.stream(1).status == 200
        assert bytes(c.stream(1).data) == (b"request POST /order\nbody 3 more\nbody 0 last\n"
                                           b"---\nabc"), c.stream(1)


def test_answer_before_the_body_stops_the_upload(hornet_server):
    """hello answers at once: the stream ends with the answer and RST_STREAM NO_ERROR tells
    the client to stop uploading (RFC 9113 §8.1); late DATA does no harm."""
    srv = hornet_server(app="builtin:hello")
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/", "POST"), end_stream=False))
        c.wait(lambda: c.stream(1).reset is not None, what="the RST_STREAM after the answer")
        st = c.stream(1)
        assert (st.status, bytes(st.data), st.ended, st.reset) == (200, HELLO, True, NO_ERROR)
        c.send(DataFrame(1, data=b"late", flags=["END_STREAM"]),
               headers_frame(3, req_headers("/")))
        c.wait(lambda: c.stream(3).done, what="the next answer")
        assert bytes(c.stream(3).data) == HELLO and c.goaway is None


@requires_gcc
def test_client_cancel_tells_the_app(hornet_server, apps):
    srv = hornet_server(app=apps["probe"])
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/chunks?n=50&ms=50&id=cx")))
        c.wait(lambda: b"chunk-1\n" in c.stream(1).data, what="two chunks")
        c.send(RstStreamFrame(1, error_code=CANCEL))
        sid = 3

        def record():
            nonlocal sid
            c.send(headers_frame(sid, req_headers("/record?id=cx")))
            st = c.stream(sid)
            sid += 2
            c.wait(lambda: st.done, what="the record")
            return st if st.status == 200 else None

        st = wait_until(record, 10, what="the cancelled request's record")
        assert bytes(st.data).endswith(b"disconnect 0\n"), bytes(st.data)
        assert b"chunk-49" not in c.stream(1).data
        assert c.goaway is None


def test_large_request_header_block(hornet_server):
    """A 40 KB header block in five fields (the h2 library sends it in HEADERS +
    CONTINUATION frames) is within h2_max_header_list_size; one over a lowered limit resets
    only its stream."""
    srv = hornet_server(app="builtin:echo")
    with H2Client(srv.port) as c:
        st = c.get("/big-header", headers=[("x-big%d" % i, "b" * 8000) for i in range(5)])
        assert st.status == 200 and b"x-big4: " + b"b" * 8000 + b"\n" in st.data
    srv2 = hornet_server(app="builtin:echo", config={"h2_max_header_list_size": "8KiB"})
    with H2Client(srv2.port) as c:
        st = c.get("/too-big", headers=[("x-big", "b" * 9000)])
        assert st.reset is not None or st.status == 431, st
        assert c.get("/small").status == 200


@requires_gcc
def test_streamed_response_and_trailers(hornet_server, apps):
    srv = hornet_server(app=apps["probe"])
    with H2Client(srv.port) as c:
        st = c.get("/chunks?n=5&ms=20")
        assert st.status == 200 and st.ended
        assert bytes(st.data) == b"".join(b"chunk-%d\n" % i for i in range(5))
        assert st.header("content-length") is None
        st = c.get("/trailers")
        assert st.status == 200 and bytes(st.data) == b"payload\n"
        assert st.trailers == [("x-checksum", "c0ffee")], st.trailers


# =============================================================================================
# graceful stop and reload


MAX_STREAM_ID = (1 << 31) - 1
SLOW_CHUNKS = 30  # /chunks?n=30&ms=100: three seconds


def _start_slow_stream(srv, n=SLOW_CHUNKS, ms=100):
    c = RawH2(srv.port, timeout=15)
    c.handshake()
    c.send(headers_frame(1, req_headers("/chunks?n=%d&ms=%d" % (n, ms))))
    c.wait(lambda: b"chunk-0\n" in c.stream(1).data, what="the first chunk")
    return c


def _drain_in_two_goaways(c, n=SLOW_CHUNKS):
    """RFC 9113 §6.8 graceful shutdown as h2.c does it: a notice (GOAWAY NO_ERROR naming
    2^31-1), under which a request already on its way is still served; then the final GOAWAY
    NO_ERROR naming the last stream begun, after which new streams are not processed; the
    in-flight stream finishes whole and the server closes the connection."""
    notice = assert_goaway(c, (NO_ERROR,), timeout=10, linger=0)
    assert notice.last_stream_id == MAX_STREAM_ID, goaway_text(notice)
    assert not c.stream(1).done, "the in-flight stream ended before the GOAWAY"
    c.send(headers_frame(3, req_headers("/")))  # as if it had crossed the notice on the wire
    c.wait(lambda: c.stream(3).done, what="the request sent under the notice")
    assert (c.stream(3).status, bytes(c.stream(3).data)) == (200, b"probe\n"), c.stream(3)
    c.wait(lambda: c.goaway is not notice, timeout=10, what="the final GOAWAY")
    final = c.goaway
    assert (final.error_code, final.last_stream_id) == (NO_ERROR, 3), goaway_text(final)
    assert not c.stream(1).done, "the in-flight stream ended before the final GOAWAY"
    try:
        c.send(headers_frame(5, req_headers("/late")))
    except OSError:
        pass
    c.wait(lambda: c.stream(1).done, timeout=15, what="the in-flight stream")
    st = c.stream(1)
    assert st.ended and st.reset is None, st
    assert bytes(st.data) == b"".join(b"chunk-%d\n" % i for i in range(n))
    c.read(3)
    assert 5 not in c.streams or c.stream(5).status is None, c.stream(5)
    assert c.eof, "the server did not close the drained connection"


@requires_gcc
def test_sigterm_sends_goaway_and_lets_the_stream_finish(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"graceful_timeout": "15s"})
    with _start_slow_stream(srv) as c:
        srv.send_signal(signal.SIGTERM)
        _drain_in_two_goaways(c)
    assert srv.wait_exit(15) == 0


def test_sigterm_closes_an_idle_h2_connection_soon(hornet_server):
    """No stream in flight: the notice, the final GOAWAY (naming the last stream served), the
    close and the exit all come well before graceful_timeout."""
    srv = hornet_server(app="builtin:hello", config={"graceful_timeout": "20s"})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/")))
        c.wait(lambda: c.stream(1).done, what="the answer")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        c.read(10, until=lambda f: isinstance(f, GoAwayFrame) and
               f.last_stream_id != MAX_STREAM_ID)
        goaways = [f for f in c.frames if isinstance(f, GoAwayFrame)]
        assert [(g.error_code, g.last_stream_id) for g in goaways] == [
            (NO_ERROR, MAX_STREAM_ID), (NO_ERROR, 1)], [goaway_text(g) for g in goaways]
        c.read(5)
        assert c.eof, "connection still open after the final GOAWAY"
    assert srv.wait_exit(10) == 0
    assert time.monotonic() - t0 < 10


@requires_gcc
def test_sighup_sends_goaway_and_lets_the_stream_finish(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"graceful_timeout": "15s"})
    old = set(srv.workers())
    with _start_slow_stream(srv) as c:
        srv.send_signal(signal.SIGHUP)
        _drain_in_two_goaways(c)
    wait_log(srv, "reload complete")
    wait_until(lambda: srv.workers() and not set(srv.workers()) & old, 20,
               what="the old worker to leave")
    st = h2_get(srv.port, "/")
    assert st.status == 200 and bytes(st.data) == b"probe\n"
    assert srv.alive()


# =============================================================================================
# attacks: each ends (or resets) the attacker, and another connection goes on being served


def test_rapid_reset_is_stopped(hornet_server):
    """CVE-2023-44487: thousands of streams opened and cancelled at once."""
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    n = 3000
    with RawH2(srv.port) as c:
        c.handshake()
        out = []
        for i in range(n):
            sid = 2 * i + 1
            out.append(headers_frame(sid, req_headers("/r")))
            out.append(RstStreamFrame(sid, error_code=CANCEL).serialize())
        try:
            c.send(b"".join(out))
        except OSError:
            pass  # closed on us: also a stop
        g, eof = c.wait_goaway_or_close(10)
        assert g is not None or eof, "neither GOAWAY nor close after %d resets" % n
        if g is not None:
            assert g.error_code != NO_ERROR, goaway_text(g)
            assert g.last_stream_id < 2 * n - 1, goaway_text(g)  # it stopped processing
    assert_still_serves(srv)


def _provoke(kind, sid):
    """Frames that make the server reset stream sid (MadeYouReset, CVE-2025-8671)."""
    if kind == "window_update_overflow":
        return [headers_frame(sid, req_headers("/m", "POST"), end_stream=False),
                WindowUpdateFrame(sid, window_increment=(1 << 31) - 1).serialize()]
    if kind == "uppercase_header":
        return [headers_frame(sid, req_headers("/m", extra=[("X-Upper", "1")]))]
    if kind == "missing_path":
        return [headers_frame(sid, [(":method", "GET"), (":scheme", "http"),
                                    (":authority", "localhost")])]
    if kind == "content_length_mismatch":
        return [headers_frame(sid, req_headers("/m", "POST", extra=[("content-length", "10")]),
                              end_stream=False),
                DataFrame(sid, data=b"abc", flags=["END_STREAM"]).serialize()]
    raise ValueError(kind)


PROVOCATIONS = ["window_update_overflow", "uppercase_header", "missing_path",
                "content_length_mismatch"]


@pytest.mark.parametrize("kind", PROVOCATIONS)
def test_made_you_reset_spends_the_glitch_budget(hornet_server, kind):
    """Server-side resets provoked in batches of ten (so the concurrency limit never plays a
    part): a few are tolerated, and the budget (burst 100, +10/s) ends the connection with
    GOAWAY ENHANCE_YOUR_CALM well before 200 streams."""
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        sid = 1
        # a handful is fine: the connection still serves
        batch = [sid + 2 * i for i in range(5)]
        c.send(*[p for s in batch for p in _provoke(kind, s)])
        c.wait(lambda: all(c.stream(s).reset is not None for s in batch), what="5 resets")
        assert c.goaway is None
        sid = batch[-1] + 2
        c.send(headers_frame(sid, req_headers("/ok")))
        c.wait(lambda: c.stream(sid).done, what="a normal request")
        assert c.stream(sid).status == 200
        sid += 2
        opened = 5
        while c.goaway is None and not c.eof and opened < 400:
            batch = [sid + 2 * i for i in range(10)]
            sid = batch[-1] + 2
            try:
                c.send(*[p for s in batch for p in _provoke(kind, s)])
            except OSError:
                break
            opened += 10
            c.wait(lambda: c.goaway is not None or
                   all(c.stream(s).reset is not None for s in batch), what="a batch of resets")
        assert c.goaway is not None, "no GOAWAY after %d provoked resets (EOF %s)" % (opened,
                                                                                     c.eof)
        assert c.goaway.error_code == ENHANCE_YOUR_CALM, goaway_text(c.goaway)
        assert 20 <= opened <= 200, opened
        c.read(3)
        assert c.eof, "the connection stayed open after GOAWAY ENHANCE_YOUR_CALM"
    assert GLITCH_WARNING in srv.stderr_text()
    assert_still_serves(srv)


@pytest.mark.parametrize("kind,codes", [
    pytest.param("window_update_zero_on_stream", (PROTOCOL_ERROR, ENHANCE_YOUR_CALM),
                 id="window_update_zero_on_stream"),
    pytest.param("data_on_closed_stream", (STREAM_CLOSED, PROTOCOL_ERROR, ENHANCE_YOUR_CALM),
                 id="data_on_closed_stream"),
])
def test_made_you_reset_variants_nghttp2_treats_as_connection_errors(hornet_server, kind,
                                                                     codes):
    """nghttp2 answers these with a connection error at once, which stops the attack all the
    same."""
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        out = []
        for i in range(200):
            s = 2 * i + 1
            if kind == "window_update_zero_on_stream":
                out += [headers_frame(s, req_headers("/m", "POST"), end_stream=False),
                        WindowUpdateFrame(s, window_increment=0).serialize()]
            else:
                out += [headers_frame(s, req_headers("/m")), DataFrame(s, data=b"x").serialize()]
        try:
            c.send(b"".join(out))
        except OSError:
            pass
        assert_goaway(c, codes)
    assert_still_serves(srv)


def test_header_block_in_a_few_continuation_frames_is_fine(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with RawH2(srv.port) as c:
        c.handshake()
        block = hpack_block(req_headers("/cont", extra=[("x-pad", "p" * 50)]))
        parts = [block[i:i + 20] for i in range(0, len(block), 20)][:5]
        parts[-1] = block[20 * 4:]
        frames = [headers_frame(1, parts[0], end_stream=True, end_headers=False)]
        for i, p in enumerate(parts[1:]):
            f = ContinuationFrame(1, data=p)
            f.flags = {"END_HEADERS"} if i == len(parts) - 2 else set()
            frames.append(f.serialize())
        c.send(*frames)
        c.wait(lambda: c.stream(1).done, what="the answer")
        assert c.stream(1).status == 200
        assert bytes(c.stream(1).data).startswith(b"GET /cont HTTP/2\n")


def _continuation_flood(c, n=50):
    frames = [headers_frame(1, req_headers("/"), end_stream=True, end_headers=False)]
    for _ in range(n):
        frames.append(ContinuationFrame(1, data=hpack_literal("x-c", "v")).serialize())
    try:
        c.send(*frames)
    except OSError:
        pass


def test_continuation_flood_ends_the_connection(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        _continuation_flood(c)
        assert_still_serves(srv)
        g, eof = c.wait_goaway_or_close(5)
        assert "Too many CONTINUATION frames" in srv.stderr_text()
        assert g is not None or eof, "CONTINUATION flood: no GOAWAY and no close within 5s"


def _hpack_bomb(sid, first, refs=12000):
    """A header block that adds one ~3 KB header to the dynamic table (first time only) and
    then names it by index (one byte each) refs times: ~36 MB decoded from 12 KB."""
    block = hpack_block(req_headers("/bomb"))
    if first:
        block += hpack_literal("x-bomb", "a" * 3000, indexing=True)
    block += b"\xbe" * refs  # index 62: the newest dynamic table entry
    return headers_frame(sid, block)


def test_hpack_bomb_resets_the_stream(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(_hpack_bomb(1, first=True))
        c.wait(lambda: c.stream(1).done, what="stream 1 to end")
        assert c.stream(1).reset is not None and c.stream(1).status is None, c.stream(1)
        # the same connection goes on (its HPACK state intact)
        c.send(headers_frame(3, req_headers("/next")))
        c.wait(lambda: c.stream(3).done, what="the next request")
        assert c.stream(3).status == 200
        # a header list just under the limit is fine: 20 references of 3038 bytes
        block = hpack_block(req_headers("/under")) + b"\xbe" * 20
        c.send(headers_frame(5, block))
        c.wait(lambda: c.stream(5).done, what="the request under the limit")
        assert c.stream(5).status == 200, c.stream(5)
        assert bytes(c.stream(5).data).count(b"x-bomb: " + b"a" * 3000) == 20
        assert c.goaway is None


def test_repeated_hpack_bombs_end_the_connection_without_memory_growth(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    pid = worker_pid(srv)
    before = rss_kib(pid)
    with RawH2(srv.port) as c:
        c.handshake()
        sent = 0
        for i in range(120):
            try:
                c.send(_hpack_bomb(2 * i + 1, first=(i == 0)))
            except OSError:
                break
            sent += 1
            c.read(0.02)
            if c.goaway is not None or c.eof:
                break
        g = assert_goaway(c, (ENHANCE_YOUR_CALM,))
        assert sent < 120, "the connection survived %d HPACK bombs" % sent
        assert g is not None
    grown = rss_kib(pid) - before
    assert grown < RSS_GROWTH_LIMIT_KIB, "worker RSS grew by %d KiB (decoded: %d MB)" % (
        grown, sent * 36)
    assert_still_serves(srv)


def test_too_many_headers(hornet_server):
    """More than max_header_count fields: the stream is reset (or 431); exactly the limit is
    fine; repeated, the connection is ended."""
    srv = hornet_server(app="builtin:echo", config={"workers": 1, "max_header_count": 20})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/ok", extra=[("x-h%d" % k, "v")
                                                          for k in range(20)])))
        c.wait(lambda: c.stream(1).done, what="the request at the limit")
        assert c.stream(1).status == 200, c.stream(1)
        assert bytes(c.stream(1).data).count(b"\nx-h") == 20
        c.send(headers_frame(3, req_headers("/no", extra=[("x-h%d" % k, "v")
                                                          for k in range(21)])))
        c.wait(lambda: c.stream(3).done, what="the request over the limit")
        st = c.stream(3)
        assert st.reset is not None or st.status == 431, st
        assert c.goaway is None
        sid = 5
        for _ in range(150):
            try:
                c.send(headers_frame(sid, req_headers("/no", extra=[("x-h%d" % k, "v")
                                                                    for k in range(200)])))
            except OSError:
                break
            sid += 2
            c.read(0.01)
            if c.goaway is not None or c.eof:
                break
        assert_goaway(c, (ENHANCE_YOUR_CALM,))
    assert_still_serves(srv)


def test_default_max_header_count_is_100(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/100", extra=[("x-h%d" % k, "v")
                                                           for k in range(100)])),
               headers_frame(3, req_headers("/101", extra=[("x-h%d" % k, "v")
                                                           for k in range(101)])))
        c.wait(lambda: c.stream(1).done and c.stream(3).done, what="two answers")
        assert c.stream(1).status == 200 and bytes(c.stream(1).data).count(b"\nx-h") == 100
        assert c.stream(3).reset is not None or c.stream(3).status == 431, c.stream(3)
        assert c.goaway is None


def _flood_without_reading(srv, frame_bytes, seconds=3.0, limit=1 << 20):
    """Send up to `limit` copies of a control frame with a tiny receive buffer and without
    reading a byte. Returns (socket, client port, frames sent)."""
    sock = open_socket(srv.port, rcvbuf=4096, timeout=2)
    cport = sock.getsockname()[1]
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    chunk = frame_bytes * 4096
    sent = 0
    deadline = time.monotonic() + seconds
    try:
        while sent < limit and time.monotonic() < deadline:
            sock.sendall(chunk)
            sent += 4096
    except OSError:
        pass  # reset, or the server stopped reading (send timeout): both fine
    return sock, cport, sent


def _assert_flood_ends(srv, frame_bytes, what):
    pid = worker_pid(srv)
    before = rss_kib(pid)
    sock, cport, sent = _flood_without_reading(srv, frame_bytes)
    try:
        assert_still_serves(srv)
        grown = rss_kib(pid) - before
        assert grown < RSS_GROWTH_LIMIT_KIB, "worker RSS grew by %d KiB during a %s flood" % (
            grown, what)
        wait_until(lambda: server_tcp_state(srv.port, cport) in (None, "04", "05", "06", "07",
                                                                 "0B"),
                   10, what="the server to end the %s-flooding connection (%d frames sent, "
                   "state %s)" % (what, sent, server_tcp_state(srv.port, cport)))
    finally:
        sock.close()


def test_settings_flood_ends_the_connection(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"workers": 1})
    _assert_flood_ends(srv, SettingsFrame(0).serialize(), "SETTINGS")
    assert "Flooding was detected" in srv.stderr_text()


def test_ping_flood_ends_the_connection(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"workers": 1})
    _assert_flood_ends(srv, PingFrame(0, opaque_data=b"flooding").serialize(), "PING")


def test_empty_data_frames_flood(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/e", "POST"), end_stream=False))
        c.send(*[DataFrame(1, data=b"").serialize() for _ in range(300)])
        assert_goaway(c, (ENHANCE_YOUR_CALM,))
        c.read(2)
        assert c.eof
    assert "empty DATA frame" in srv.stderr_text()
    assert_still_serves(srv)


def test_a_few_empty_data_frames_are_tolerated(hornet_server):
    srv = hornet_server(app="builtin:echo")
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/e", "POST"), end_stream=False),
               *[DataFrame(1, data=b"").serialize() for _ in range(5)],
               DataFrame(1, data=b"body", flags=["END_STREAM"]))
        c.wait(lambda: c.stream(1).done, what="the echo")
        assert c.stream(1).status == 200 and bytes(c.stream(1).data).endswith(b"\n\nbody")
        assert c.goaway is None


def test_glitch_warning_is_logged_once_per_connection(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/e", "POST"), end_stream=False))
        c.send(*[DataFrame(1, data=b"").serialize() for _ in range(300)])
        assert_goaway(c, (ENHANCE_YOUR_CALM,))
    wait_log(srv, GLITCH_WARNING)
    time.sleep(0.2)
    n = srv.stderr_text().count(GLITCH_WARNING)
    assert n == 1, "the glitch warning was logged %d times for one connection" % n


# protocol violations: (frames after the handshake, expected: ("stream", codes) for a
# RST_STREAM on stream 1 with the connection going on, or ("conn", codes) for a GOAWAY)
VIOLATIONS = {
    "data_on_stream_0": ([raw_frame(0x0, 0x0, 0, b"abc")], "conn", (PROTOCOL_ERROR,)),
    "headers_on_stream_0": ([raw_frame(0x1, 0x5, 0, hpack_block(req_headers()))], "conn",
                            (PROTOCOL_ERROR,)),
    "headers_on_even_stream": ([headers_frame(2, req_headers())], "conn", (PROTOCOL_ERROR,)),
    "ping_on_a_stream": ([raw_frame(0x6, 0x0, 1, b"\0" * 8)], "conn", (PROTOCOL_ERROR,)),
    "settings_of_bad_length": ([raw_frame(0x4, 0x0, 0, b"\0" * 5)], "conn",
                               (FRAME_SIZE_ERROR,)),
    "window_update_zero_on_connection": ([WindowUpdateFrame(0, window_increment=0)
                                          .serialize()], "conn", (PROTOCOL_ERROR,)),
    "rst_stream_on_idle_stream": ([RstStreamFrame(5, error_code=CANCEL).serialize()], "conn",
                                  (PROTOCOL_ERROR,)),
    "continuation_without_headers": ([raw_frame(0x9, 0x4, 1)], "conn", (PROTOCOL_ERROR,)),
    "frame_over_max_frame_size": ([headers_frame(1, req_headers("/", "POST"),
                                                 end_stream=False),
                                   DataFrame(1, data=b"x" * 20000).serialize()], "conn",
                                  (FRAME_SIZE_ERROR,)),
    "uppercase_header_name": ([headers_frame(1, req_headers(extra=[("X-Upper", "1")]))],
                              "stream", (PROTOCOL_ERROR,)),
    "missing_path": ([headers_frame(1, [(":method", "GET"), (":scheme", "http"),
                                        (":authority", "x")])], "stream", (PROTOCOL_ERROR,)),
    "empty_path": ([headers_frame(1, req_headers(""))], "stream", (PROTOCOL_ERROR,)),
    "unknown_pseudo_header": ([headers_frame(1, req_headers(extra=[(":foo", "1")]))],
                              "stream", (PROTOCOL_ERROR,)),
    "pseudo_header_after_regular": ([headers_frame(1, [(":method", "GET"), ("x-a", "1"),
                                                       (":scheme", "http"), (":path", "/")])],
                                    "stream", (PROTOCOL_ERROR,)),
    "connection_header_in_request": ([headers_frame(1, req_headers(
        extra=[("connection", "keep-alive")]))], "stream", (PROTOCOL_ERROR,)),
    "te_other_than_trailers": ([headers_frame(1, req_headers(extra=[("te", "gzip")]))],
                               "stream", (PROTOCOL_ERROR,)),
    "content_length_mismatch": (_provoke("content_length_mismatch", 1), "stream",
                                (PROTOCOL_ERROR,)),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_protocol_violation(hornet_server, name):
    frames, scope, codes = VIOLATIONS[name]
    srv = hornet_server(app="builtin:echo", config={"workers": 1})
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(*frames)
        if scope == "conn":
            assert_goaway(c, codes, timeout=5)
            c.read(2)
            assert c.eof, "connection left open after %s" % goaway_text(c.goaway)
        else:
            c.wait(lambda: c.stream(1).done or c.goaway is not None, timeout=5,
                   what="a reset of stream 1")
            assert c.goaway is None and c.stream(1).reset in codes, c.stream(1)
            assert c.stream(1).status is None  # the app was never called
            c.send(headers_frame(3, req_headers("/then")))
            c.wait(lambda: c.stream(3).done, what="the next stream")
            assert c.stream(3).status == 200
    assert_still_serves(srv)


# =============================================================================================
# other clients: curl, nghttp, h2load


requires_curl = requires_tool("curl")


@requires_curl
@requires_openssl
def test_curl_over_tls_and_cleartext(hornet_server, tls_certs):
    plain = free_port()
    srv = hornet_server(app="builtin:echo",
                        config=tls_cfg(tls_certs, insecure_bind="127.0.0.1:%d" % plain))
    url = "https://127.0.0.1:%d/c" % srv.port
    p = curl("-sS", "--http2", "--cacert", tls_certs.ca_pem, "-w", "\n%{http_version}", url)
    assert p.returncode == 0, p.stderr
    body, _, version = p.stdout.rpartition(b"\n")
    assert version == b"2" and body.startswith(b"GET /c HTTP/2\n"), p.stdout
    p = curl("-sS", "--http1.1", "--cacert", tls_certs.ca_pem, "-w", "\n%{http_version}", url)
    assert p.returncode == 0, p.stderr
    body, _, version = p.stdout.rpartition(b"\n")
    assert version == b"1.1" and body.startswith(b"GET /c HTTP/1.1\n"), p.stdout
    p = curl("-sS", "--http2-prior-knowledge", "-d", "posted", "-w", "\n%{http_version}",
             "http://127.0.0.1:%d/pk" % plain)
    assert p.returncode == 0, p.stderr
    body, _, version = p.stdout.rpartition(b"\n")
    assert version == b"2" and body.startswith(b"POST /pk HTTP/2\n"), p.stdout
    assert body.endswith(b"\n\nposted")


@requires_tool("nghttp")
@requires_openssl
def test_nghttp(hornet_server, tls_certs):
    plain = free_port()
    srv = hornet_server(app="builtin:hello",
                        config=tls_cfg(tls_certs, insecure_bind="127.0.0.1:%d" % plain))
    for url in ("http://127.0.0.1:%d/n" % plain, "https://127.0.0.1:%d/n" % srv.port):
        p = subprocess.run(["nghttp", "-nv", "-t", "10", url], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0, out
        assert ":status: 200" in out and "server: hornet" in out, out
        assert "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100" in out, out
        assert "[ERROR]" not in out, out


@requires_tool("h2load")
@requires_openssl
def test_h2load_all_requests_succeed(hornet_server, tls_certs):
    """A correctness check under load (counts only, never timing)."""
    plain = free_port()
    srv = hornet_server(app="builtin:hello",
                        config=tls_cfg(tls_certs, insecure_bind="127.0.0.1:%d" % plain,
                                       workers=2))
    for url in ("http://127.0.0.1:%d/" % plain, "https://127.0.0.1:%d/" % srv.port):
        p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0, out
        assert "Application protocol: h2" in out or "Application protocol: h2c" in out, out
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
        assert m, out
        assert m.groups() == ("2000", "2000", "2000", "2000", "0", "0", "0"), out
        m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        assert m and m.groups() == ("2000", "0", "0", "0"), out
    assert srv.alive()


