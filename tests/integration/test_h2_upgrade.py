"""HTTP/2 by Upgrade: h2c (RFC 7540 §3.2, what curl --http2 does in cleartext): a request
without a body is answered 101 and then over HTTP/2 as stream 1; a request with a body, a
malformed HTTP2-Settings or a TLS connection stays HTTP/1.1."""
import socket

import h2.config
import h2.connection
import h2.events

from hornet_fixture import Conn, build_request, curl

HELLO = b"Hello, world!"


def test_curl_http2_upgrades_in_cleartext(hornet_server):
    srv = hornet_server(app="builtin:echo")
    p = curl("-s", "--http2", "-w", "\n%{http_version} %{http_code}",
             "http://127.0.0.1:%d/up?x=1" % srv.port)
    assert p.returncode == 0, p.stderr
    body, _, tail = p.stdout.rpartition(b"\n")
    assert tail == b"2 200"
    # stream 1 is the request that asked: its target and headers, without the hop-by-hop ones
    assert body.startswith(b"GET /up?x=1 HTTP/2\n"), body
    assert b"host: 127.0.0.1:%d" % srv.port in body
    assert b"upgrade" not in body.lower() and b"http2-settings" not in body.lower()


def test_request_with_a_body_stays_http11(hornet_server):
    srv = hornet_server(app="builtin:echo")
    p = curl("-s", "--http2", "-d", "hello", "-w", "\n%{http_version} %{http_code}",
             "http://127.0.0.1:%d/post" % srv.port)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"hello\n1.1 200"), p.stdout


def _frames(data):
    """(type, payload) of each whole HTTP/2 frame in data."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            break
        out.append((data[3], data[9:9 + n]))
        data = data[9 + n:]
    return out


def _settings_header():
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    return c, c.initiate_upgrade_connection().decode()


def test_upgrade_with_python_h2_then_more_streams(hornet_server):
    """After the 101 the client sends its preface; stream 1 carries the first answer and
    the connection serves further streams."""
    srv = hornet_server(app="builtin:hello")
    conn, settings = _settings_header()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(build_request("GET", "/", [("Connection", "Upgrade, HTTP2-Settings"),
                                             ("Upgrade", "h2c"), ("HTTP2-Settings", settings)]))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, buf
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert b"upgrade: h2c" in head.lower()
        s.sendall(conn.data_to_send())
        conn.send_headers(3, [(":method", "GET"), (":path", "/again"), (":scheme", "http"),
                              (":authority", "x")], end_stream=True)
        s.sendall(conn.data_to_send())
        bodies, done = {1: b"", 3: b""}, set()
        events = conn.receive_data(rest) if rest else []
        while len(done) < 2:
            for ev in events:
                if isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    conn.acknowledge_received_data(len(ev.data), ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    done.add(ev.stream_id)
            s.sendall(conn.data_to_send())
            if len(done) < 2:
                data = s.recv(65536)
                assert data, "connection closed early"
                events = conn.receive_data(data)
        assert bodies == {1: HELLO, 3: HELLO}
    finally:
        s.close()


def test_malformed_settings_ends_the_connection_cleanly(hornet_server):
    srv = hornet_server(app="builtin:hello")
    with Conn(srv.port, timeout=10) as c:
        c.send(build_request("GET", "/", [("Connection", "Upgrade, HTTP2-Settings"),
                                          ("Upgrade", "h2c"), ("HTTP2-Settings", "!!!")]))
        data = c.read_to_eof(timeout=10)
    assert data.startswith(b"HTTP/1.1 101 "), data[:200]
    # then HTTP/2 frames ending in a GOAWAY with PROTOCOL_ERROR, and the close
    frames = _frames(data.split(b"\r\n\r\n", 1)[1])
    goaways = [payload for ftype, payload in frames if ftype == 7]
    assert goaways and int.from_bytes(goaways[-1][4:8], "big") == 1, frames
    r = srv.request()
    assert (r.status, r.body) == (200, HELLO)

