"""Limits on what a client may send (issue 7): one header field's size and the request line's
over HTTP/1.1 and HTTP/2, and a head trickled in a byte at a time (slowloris) while others are served."""

import select
import time

import pytest

from hornet_fixture import Conn
from test_h2 import H2Client

HELLO = b"Hello, world!"


def head_with(port, name, value):
    with Conn(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + name + b": " + value + b"\r\n\r\n")
        r = c.read_response()
        if r.status == 431:
            c.assert_closed()
        return r.status


def server_spoke(conn):
    """Did the server answer or close (anything readable, EOF or a reset)? What it sent is
    kept in conn.said."""
    if not select.select([conn.sock], [], [], 0)[0]:
        return False
    try:
        conn.said = getattr(conn, "said", b"") + conn.sock.recv(4096)
    except OSError:
        pass
    return True


@pytest.fixture
def hello(hornet_server):
    return hornet_server(app="builtin:hello")


def test_header_field_up_to_8_kib_is_served(hello):
    assert head_with(hello.port, b"x-big", b"a" * (8192 - 5)) == 200


@pytest.mark.parametrize("name,value", [(b"x-big", b"a" * 8200), (b"x" * 8200, b"v")])
def test_header_field_over_8_kib_gets_431(hello, name, value):
    assert head_with(hello.port, name, value) == 431
    assert "header field larger than max_header_field_size" in hello.stderr_text()


def test_max_header_field_size_is_configurable(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"max_header_field_size": "1KiB"})
    assert head_with(srv.port, b"x-a", b"a" * 1000) == 200
    assert head_with(srv.port, b"x-a", b"a" * 1100) == 431


def line_with(port, target):
    """The status a request line with this target gets; a 414 closes the connection."""
    with Conn(port) as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        if r.status == 414:
            c.assert_closed()
        return r.status


def test_request_line_up_to_8_kib_is_served(hello):
    # "GET" and the target: 8192 bytes
    assert line_with(hello.port, b"/" + b"a" * (8192 - 4)) == 200


@pytest.mark.parametrize("size", [8192 - 2, 12000, 20000])
def test_request_line_over_8_kib_gets_414(hello, size):
    """As nginx does, 414 URI Too Long; also past h11_max_incomplete_size (16 KiB), since the
    line is judged as it arrives."""
    assert line_with(hello.port, b"/" + b"a" * size) == 414
    assert "request line larger than max_request_line_size" in hello.stderr_text()


def test_request_line_arriving_byte_by_byte_is_cut_at_the_limit(hornet_server):
    """The 414 comes when the line passes the limit, not when it ends."""
    srv = hornet_server(app="builtin:hello", config={"max_request_line_size": "1KiB"})
    with Conn(srv.port) as c:
        c.send(b"GET /" + b"a" * 1100)
        r = c.read_response()
        assert r.status == 414, r
        c.assert_closed()


def test_max_request_line_size_is_configurable(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"max_request_line_size": "32KiB",
                                                     "h11_max_incomplete_size": "64KiB",
                                                     "max_header_field_size": "1KiB"})
    # the request line has its own limit, not the header field's
    assert line_with(srv.port, b"/" + b"a" * 30000) == 200
    assert line_with(srv.port, b"/" + b"a" * 33000) == 414


def test_http2_path_over_the_limit_gets_414_on_its_stream(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"max_request_line_size": "1KiB"})
    with H2Client(srv.port) as c:
        st = c.get("/" + "a" * 1100)
        assert st.status == 414 and st.ended, st
        st = c.get("/" + "a" * 1000)
        assert st.status == 200 and bytes(st.data) == HELLO, st
    assert ":path larger than max_request_line_size" in srv.stderr_text()


def test_http2_header_field_over_the_limit_gets_431_on_its_stream(hello):
    """Answered once the header block is whole, as in HTTP/1.1; the connection goes on."""
    with H2Client(hello.port) as c:
        st = c.get("/", headers=[("x-big", "a" * 9000)])
        assert st.status == 431 and st.ended, st
        st = c.get("/", headers=[("x-fine", "a" * 8000)])
        assert st.status == 200 and bytes(st.data) == HELLO, st


def test_slowloris_head_is_cut_off_while_others_are_served(hornet_server):
    """A head sent a byte at a time never completes within request_head_timeout (counted
    from its first byte): the connection gets 408 and is closed, and a normal client is
    served all along. keep_alive_timeout (longer here) bounds only the idle time before."""
    srv = hornet_server(app="builtin:hello", config={"request_head_timeout": "1s",
                                                     "keep_alive_timeout": "30s"})
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with Conn(srv.port) as slow:
        start = time.monotonic()
        closed_after = None
        for b in head:
            try:
                slow.send(bytes([b]))
            except OSError:
                closed_after = time.monotonic() - start
                break
            r = srv.request()
            assert (r.status, r.body) == (200, HELLO)
            if server_spoke(slow):
                closed_after = time.monotonic() - start
                break
            time.sleep(0.05)
        assert closed_after is not None, "the trickled head was never cut off"
        assert 0.8 <= closed_after <= 3.0, closed_after
        assert getattr(slow, "said", b"").startswith(b"HTTP/1.1 408 "), slow.said
        slow.assert_closed()


def test_worker_connections_leaves_more_in_the_backlog(hornet_server):
    """At worker_connections the worker stops accepting: a further client waits in the
    listen backlog (not refused, not reset) and is served as soon as a connection closes."""
    srv = hornet_server(app="builtin:hello", config={"worker_connections": 3,
                                                     "keep_alive_timeout": "30s"})
    held = [Conn(srv.port) for _ in range(3)]
    try:
        for c in held:  # each one accepted and served, then idle
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().status == 200
        with Conn(srv.port) as waiting:
            waiting.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(OSError):  # socket.timeout: nothing while the limit holds
                waiting.read_response(timeout=1.0)
            assert "worker_connections (3) reached" in srv.stderr_text()
            held.pop().close()
            r = waiting.read_response(timeout=5.0)
            assert (r.status, r.body) == (200, HELLO)
    finally:
        for c in held:
            c.close()


def test_http2_slow_body_gets_408_on_its_stream(hornet_server):
    """read_timeout bounds the wait between DATA frames of an HTTP/2 request body, per stream,
    as it does between reads of an HTTP/1.1 body: the stalled stream gets 408 and the
    connection serves others meanwhile and afterwards."""
    srv = hornet_server(app="builtin:echo", config={"read_timeout": "1s"})
    with H2Client(srv.port) as c:
        start = time.monotonic()
        sid = c.request("POST", "/slow", end_stream=False)
        c.send_body(sid, b"part", end_stream=False)
        st = c.get("/meanwhile")
        assert st.status == 200, st
        slow = c.streams[sid]
        c.wait(lambda: slow.done, 5, what="the stalled stream's answer")
        took = time.monotonic() - start
        assert slow.status == 408, slow
        assert 0.8 <= took <= 3.0, took
        assert c.get("/after").status == 200
    assert "request body read timed out" in srv.stderr_text()


def test_http2_body_that_keeps_coming_is_not_cut_off(hornet_server):
    """The timer restarts with every DATA frame: a body sent in pieces 0.5 s apart, longer in
    all than read_timeout, completes."""
    srv = hornet_server(app="builtin:echo", config={"read_timeout": "1s"})
    with H2Client(srv.port) as c:
        sid = c.request("POST", "/steady", end_stream=False)
        for i in range(5):
            c.send_body(sid, b"piece%d;" % i, end_stream=False)
            c.pump(0.5)
        c.send_body(sid, b"end", end_stream=True)
        st = c.streams[sid]
        c.wait(lambda: st.done, 5, what="the answer")
        assert st.status == 200 and st.data.endswith(b"piece4;end"), st
