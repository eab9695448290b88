"""HTTP/1.1 behaviour of the built-in hello and echo apps: framing, keep-alive, pipelining,
request bodies (Content-Length, chunked, 100-continue), HEAD, standard headers, curl."""

import email.utils
import os
import re
import socket
import time

import pytest

from hornet_fixture import (Conn, build_request, chunked, curl, free_port, http_request,
                            ipv6_available)

HELLO = b"Hello, world!"
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d{2}:\d{2}:\d{2} GMT$")


def echo_text(method, target, version, headers, body=b""):
    """The body builtin:echo answers with, for the given request."""
    out = "%s %s %s\n" % (method, target, version)
    out += "".join("%s: %s\n" % (k.lower(), v) for k, v in headers)
    return out.encode("latin-1") + b"\n" + body


@pytest.fixture
def hello(hornet_server):
    return hornet_server(app="builtin:hello")


@pytest.fixture
def echo(hornet_server):
    return hornet_server(app="builtin:echo")


# ---------------------------------------------------------------------------------------------
# hello


def test_hello_status_headers_body(hello):
    with Conn(hello.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = c.read_response()
    assert r.raw_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert r.body == HELLO
    assert r.header("content-length") == "13"
    assert r.header("content-type") == "text/plain"
    assert r.header("server") == "hornet"
    assert len(r.header_all("date")) == 1
    assert IMF_FIXDATE.match(r.header("date")), r.header("date")


def test_hello_date_is_current(hello):
    r = hello.request()
    sent = email.utils.parsedate_to_datetime(r.header("date")).timestamp()
    # generous: only catches a wrong time zone or a frozen/garbage clock
    assert abs(sent - time.time()) < 600


@pytest.mark.parametrize("path", ["/", "/some/deep/path", "/x?y=1&z", "/%7Euser", "/index.html"])
def test_hello_any_path(hello, path):
    r = hello.request("GET", path)
    assert r.status == 200
    assert r.body == HELLO


def test_hello_post_small_body_is_discarded_and_connection_kept(hello):
    """hello answers before reading the body. A small known remainder (up to 64 KiB) is read
    and dropped, as nginx does, and the connection serves the next request."""
    with Conn(hello.port) as c:
        c.send(build_request("POST", "/", body=b"x" * 5000))
        r1 = c.read_response()
        assert (r1.status, r1.body) == (200, HELLO)
        assert not r1.has_token("connection", "close")
        r2 = c.request("GET", "/")
        assert (r2.status, r2.body) == (200, HELLO)


def test_hello_body_split_across_sends_is_discarded(hello):
    """The body may arrive after the response was sent; its bytes must not be parsed as
    the next request."""
    with Conn(hello.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n0123456789")
        r1 = c.read_response()
        assert (r1.status, r1.body) == (200, HELLO)
        # the 10 missing body bytes look like a request line: they must be dropped
        c.send(b"GET /x HTT" + build_request("GET", "/"))
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, HELLO)
        r3 = c.request("GET", "/")
        assert (r3.status, r3.body) == (200, HELLO)


def test_hello_chunked_body_unread_closes(hello):
    """A chunked body of unknown size is not worth reading: Connection: close."""
    with Conn(hello.port) as c:
        c.send(build_request("POST", "/", headers=[("Transfer-Encoding", "chunked")]) +
               chunked(b"z" * 100, 10))
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO)
        assert r.has_token("connection", "close")
        c.assert_closed()


def test_unknown_length_response_is_chunked(echo):
    """echo answers a chunked request with a body of unknown length: HTTP/1.1 gets it
    chunked, HTTP/1.0 gets it close-delimited."""
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/u", headers=[("Transfer-Encoding", "chunked")]) +
               chunked(b"abc" * 10, 7))
        head = c.read_until(b"\r\n\r\n", time.monotonic() + 10)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert re.search(rb"(?im)^transfer-encoding: chunked\r$", head)
        assert not re.search(rb"(?im)^content-length:", head)
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/u", headers=[("Transfer-Encoding", "chunked")]) +
               chunked(b"abc" * 10, 7))
        r = c.read_response()
        assert r.status == 200
        assert r.body.startswith(b"POST /u HTTP/1.1\n")
        assert r.body.endswith(b"\n\n" + b"abc" * 10)
        r2 = c.request("GET", "/after")
        assert r2.status == 200 and r2.body.startswith(b"GET /after HTTP/1.1\n")


def test_hello_large_unread_body_response_not_lost(hello):
    """If the server closes without reading a big body, it must not reset the connection
    before the client could read the response (lingering close)."""
    import threading
    body = b"y" * (4 << 20)
    with Conn(hello.port, timeout=30) as c:
        def upload():
            try:
                c.sock.sendall(build_request("POST", "/", body=body))
            except OSError:
                pass
        t = threading.Thread(target=upload, daemon=True)
        t.start()
        r = c.read_response(timeout=30)
        assert (r.status, r.body) == (200, HELLO)
        t.join(30)


def test_reason_phrase_present(hello):
    """Every status line carries a reason phrase."""
    with Conn(hello.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        r = c.read_response()
    assert r.reason == "OK"


def test_headers_can_be_disabled(hornet_server):
    srv = hornet_server(config={"include_server_header": False, "include_date_header": False})
    r = srv.request()
    assert r.status == 200 and r.body == HELLO
    assert r.header("server") is None, r.headers
    assert r.header("date") is None, r.headers


def test_only_server_header_disabled(hornet_server):
    srv = hornet_server(config={"include_server_header": False})
    r = srv.request()
    assert r.header("server") is None
    assert r.header("date") is not None


# ---------------------------------------------------------------------------------------------
# HEAD


def test_head_same_headers_no_body(hello):
    with Conn(hello.port) as c:
        get = c.request("GET", "/")
        head = c.request("HEAD", "/")
        # if HEAD had a body, its bytes would now precede the next status line
        c.send(build_request("GET", "/"))
        after = c.read_response()
    assert head.status == 200
    assert head.body == b""
    assert after.status == 200 and after.body == HELLO

    def norm(r):
        return sorted((k.lower(), v) for k, v in r.headers if k.lower() != "date")
    assert norm(head) == norm(get)


def test_head_closed_connection_sends_no_body(hello):
    with Conn(hello.port) as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        r = c.read_response(method="HEAD")
        rest = c.read_to_eof()
    assert r.status == 200
    assert r.header("content-length") == "13"
    assert rest == b""


# ---------------------------------------------------------------------------------------------
# keep-alive and Connection


def test_http11_keep_alive_by_default(hello):
    with Conn(hello.port) as c:
        for _ in range(5):
            r = c.request("GET", "/")
            assert r.status == 200 and r.body == HELLO
            assert not r.has_token("connection", "close")


def test_connection_close_closes(hello):
    with Conn(hello.port) as c:
        r = c.request("GET", "/", headers=[("Connection", "close")])
        assert r.status == 200 and r.body == HELLO
        assert r.has_token("connection", "close")
        c.assert_closed()


def test_http10_closes_by_default(hello):
    with Conn(hello.port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == HELLO
        assert not r.has_token("connection", "keep-alive")
        c.assert_closed()


def test_http10_keep_alive_when_asked(hello):
    with Conn(hello.port) as c:
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r1 = c.read_response()
        assert r1.status == 200 and r1.body == HELLO
        assert r1.has_token("connection", "keep-alive"), r1.headers
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == HELLO
        c.assert_closed()


def test_http10_without_host_is_fine(hello):
    with Conn(hello.port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.read_response().status == 200


def test_idle_connection_survives_short_pause(hornet_server):
    srv = hornet_server(config={"keep_alive_timeout": "60s"})
    with Conn(srv.port) as c:
        assert c.request().status == 200
        time.sleep(1.5)
        assert c.request().status == 200


def test_keep_alive_timeout_closes_idle_connection(hornet_server):
    srv = hornet_server(config={"keep_alive_timeout": "1s"})
    with Conn(srv.port) as c:
        assert c.request().status == 200
        c.assert_closed(timeout=15)
    assert srv.request().status == 200


def test_keep_alive_timeout_closes_connection_with_incomplete_head(hornet_server):
    srv = hornet_server(config={"keep_alive_timeout": 1})
    with Conn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        data = c.read_to_eof(timeout=15)
        # a 408 before closing is acceptable; a 200 is not (the head never completed)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_keep_alive_timeout_closes_silent_connection(hornet_server):
    srv = hornet_server(config={"keep_alive_timeout": "500ms"})
    with Conn(srv.port) as c:
        data = c.read_to_eof(timeout=15)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_keep_alive_max_requests(hornet_server):
    srv = hornet_server(config={"keep_alive_max_requests": 3})
    with Conn(srv.port) as c:
        for i in range(2):
            r = c.request()
            assert r.status == 200
            assert not r.has_token("connection", "close"), (i, r.headers)
        r = c.request()
        assert r.status == 200 and r.body == HELLO
        assert r.has_token("connection", "close"), r.headers
        c.assert_closed()


def test_keep_alive_max_requests_pipelined(hornet_server):
    srv = hornet_server(config={"keep_alive_max_requests": 2})
    with Conn(srv.port) as c:
        c.send(build_request() * 4)
        r1 = c.read_response()
        r2 = c.read_response()
        assert r1.status == r2.status == 200
        assert r2.has_token("connection", "close")
        c.assert_closed()


# ---------------------------------------------------------------------------------------------
# pipelining


def test_pipelining_in_order(echo):
    reqs = b"".join(build_request("GET", "/req/%d" % i) for i in range(10))
    with Conn(echo.port) as c:
        c.send(reqs)
        for i in range(10):
            r = c.read_response()
            assert r.status == 200
            assert r.body.startswith(b"GET /req/%d HTTP/1.1\n" % i), (i, r.body[:60])


def test_pipelining_with_bodies(echo):
    reqs = b"".join(build_request("POST", "/p%d" % i, body=b"body-%d" % i) for i in range(5))
    reqs += build_request("POST", "/c", headers=[("Transfer-Encoding", "chunked")]) + \
        chunked(b"chunked-body", 5)
    reqs += build_request("GET", "/last")
    with Conn(echo.port) as c:
        c.send(reqs)
        for i in range(5):
            r = c.read_response()
            assert r.body.startswith(b"POST /p%d " % i)
            assert r.body.endswith(b"\n\nbody-%d" % i)
        r = c.read_response()
        assert r.body.startswith(b"POST /c ") and r.body.endswith(b"\n\nchunked-body")
        r = c.read_response()
        assert r.body.startswith(b"GET /last ")


def test_pipelining_hello_many(hello):
    n = 50
    with Conn(hello.port) as c:
        c.send(build_request() * n)
        for _ in range(n):
            r = c.read_response()
            assert r.status == 200 and r.body == HELLO


def test_pipelined_close_stops_after_that_request(echo):
    reqs = build_request("GET", "/1") + build_request("GET", "/2", [("Connection", "close")]) + \
        build_request("GET", "/3")
    with Conn(echo.port) as c:
        c.send(reqs)
        assert c.read_response().body.startswith(b"GET /1 ")
        r = c.read_response()
        assert r.body.startswith(b"GET /2 ")
        assert r.has_token("connection", "close")
        c.assert_closed()


# ---------------------------------------------------------------------------------------------
# echo: format


def test_echo_text_format(echo):
    hs = [("Host", "example.test"), ("X-Foo", "Bar"), ("User-Agent", "t/1.0"),
          ("X-Empty-Last", "v")]
    with Conn(echo.port) as c:
        c.send(build_request("GET", "/a/b?x=1&y=%20", headers=hs[1:], host="example.test"))
        r = c.read_response()
    assert r.status == 200
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.body == echo_text("GET", "/a/b?x=1&y=%20", "HTTP/1.1", hs)
    assert r.header("content-length") == str(len(r.body))


def test_echo_header_names_lowercased_values_kept_and_trimmed(echo):
    with Conn(echo.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHOST: h\r\nX-MiXeD-Case:   Value With  Spaces  \r\n\r\n")
        r = c.read_response()
    assert r.body == b"GET / HTTP/1.1\nhost: h\nx-mixed-case: Value With  Spaces\n\n"


def test_echo_repeated_headers_in_order(echo):
    with Conn(echo.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n")
        r = c.read_response()
    assert r.body == b"GET / HTTP/1.1\nhost: h\nx-a: 1\nx-b: 2\nx-a: 3\n\n"


def test_echo_raw_path_not_decoded(echo):
    with Conn(echo.port) as c:
        c.send(build_request("GET", "/a%20b/%2F?q=%41%42"))
        r = c.read_response()
    assert r.body.startswith(b"GET /a%20b/%2F?q=%41%42 HTTP/1.1\n")


def test_echo_http10(echo):
    with Conn(echo.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nX-A: b\r\n\r\n")
        r = c.read_response()
        assert r.body == b"GET /ten HTTP/1.0\nx-a: b\n\n"
        c.assert_closed()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_echo_methods(echo, method):
    body = b"payload" if method in ("POST", "PUT", "PATCH") else None
    r = echo.request(method, "/m", body=body)
    assert r.status == 200
    assert r.body.startswith(("%s /m HTTP/1.1\n" % method).encode())
    if body:
        assert r.body.endswith(b"\n\n" + body)


def test_echo_json(echo):
    body = b'{"k": "v"}'
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/a%20b?x=1", headers=[("Accept", "application/json"),
                                                          ("X-Foo", "Bar")], body=body))
        r = c.read_response()
    assert r.status == 200
    assert r.header("content-type").split(";")[0].strip() == "application/json"
    j = r.json()
    assert j["method"] == "POST"
    assert j["raw_path"] == "/a%20b"
    assert j["path"] == "/a b"
    assert j["query"] == "x=1"
    assert j["http_version"] in ("1.1", "HTTP/1.1")
    assert j["headers"] == [["host", "localhost"], ["accept", "application/json"],
                            ["x-foo", "Bar"], ["content-length", str(len(body))]]
    assert j["body"] == body.decode()


def test_echo_json_non_ascii_is_lossless(echo):
    """echo.c documents JSON strings as bytes, not characters: each byte >= 0x7f becomes
    \\u00XX. So a string encodes back to the exact bytes with latin-1 (path percent-decoded)."""
    body = "héllo wörld ✓".encode() + b"\xff\x00"
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/caf%C3%A9", headers=[("Accept", "application/json")],
                             body=body))
        r = c.read_response()
    j = r.json()
    assert j["raw_path"] == "/caf%C3%A9"
    assert j["path"].encode("latin-1") == "/café".encode()
    assert j["body"].encode("latin-1") == body


def test_echo_json_escaping(echo):
    with Conn(echo.port) as c:
        c.send(b'GET /q%22%5C HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n'
               b'X-Q: say "hi" \\ bye\r\n\r\n')
        r = c.read_response()
    j = r.json()
    assert j["path"] == '/q"\\'
    assert ["x-q", 'say "hi" \\ bye'] in j["headers"]


def test_echo_without_json_accept_is_text(echo):
    r = echo.request("GET", "/", headers=[("Accept", "text/html")])
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.body.startswith(b"GET / HTTP/1.1\n")


# ---------------------------------------------------------------------------------------------
# request bodies


def test_echo_content_length_body_binary(echo):
    body = bytes(range(256)) * 40
    r = echo.request("POST", "/bin", body=body)
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)
    assert r.header("content-length") == str(len(r.body))
    assert r.header("transfer-encoding") is None


def test_echo_empty_body(echo):
    r = echo.request("POST", "/", body=b"")
    assert r.body.endswith(b"content-length: 0\n\n")


def test_echo_large_body(echo):
    body = os.urandom(1 << 20)
    with Conn(echo.port, timeout=30) as c:
        c.send(build_request("POST", "/big", body=body))
        r = c.read_response(timeout=30)
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)


def test_echo_body_split_across_many_sends(echo):
    body = b"0123456789" * 300
    with Conn(echo.port) as c:
        c.send_slowly(build_request("POST", "/split", body=body), pieces=60)
        r = c.read_response()
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)


def test_echo_head_split_byte_by_byte(echo):
    req = build_request("GET", "/slow", [("X-Slow", "yes")])
    with Conn(echo.port) as c:
        c.send_slowly(req, pieces=len(req), pause=0.001)
        r = c.read_response()
    assert r.body == b"GET /slow HTTP/1.1\nhost: localhost\nx-slow: yes\n\n"


def test_chunked_simple(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/c", [("Transfer-Encoding", "chunked")]) +
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    assert r.body == b"POST /c HTTP/1.1\nhost: localhost\ntransfer-encoding: chunked\n\nhello world"
    # echo mirrors the framing: a chunked request gets a chunked response
    assert r.header("content-length") is None
    assert r.chunked


def test_chunked_with_trailers(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/t", [("Transfer-Encoding", "chunked"),
                                           ("Trailer", "X-Checksum")]) +
               b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body.endswith(b"\n\nhello")
        # the connection is still usable: the trailers were consumed
        assert c.request("GET", "/next").body.startswith(b"GET /next ")


def test_chunked_with_extensions(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/e", [("Transfer-Encoding", "chunked")]) +
               b'5;name=value\r\nhello\r\n6;a="quoted";b\r\n world\r\n0;last\r\n\r\n')
        r = c.read_response()
        assert r.status == 200
        assert r.body.endswith(b"\n\nhello world")
        assert c.request("GET", "/next").status == 200


def test_chunked_uppercase_hex_and_leading_zeros(echo):
    data = b"A" * 26
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/h", [("Transfer-Encoding", "chunked")]) +
               b"1A\r\n" + data + b"\r\n0000\r\n\r\n")
        r = c.read_response()
    assert r.body.endswith(b"\n\n" + data)


def test_chunked_many_small_chunks(echo):
    body = bytes(i % 251 for i in range(3000))
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/many", [("Transfer-Encoding", "chunked")]) +
               chunked(body, 1))
        r = c.read_response()
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)


def test_chunked_split_across_many_sends(echo):
    body = b"abcdefghij" * 200
    req = build_request("POST", "/cs", [("Transfer-Encoding", "chunked")]) + chunked(body, 37)
    with Conn(echo.port) as c:
        c.send_slowly(req, pieces=200, pause=0.002)
        r = c.read_response()
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)


def test_chunked_large_chunks(echo):
    body = os.urandom(300000)
    with Conn(echo.port, timeout=30) as c:
        c.send(build_request("POST", "/lc", [("Transfer-Encoding", "chunked")]) +
               chunked(body, 100000))
        r = c.read_response(timeout=30)
    assert r.body.endswith(b"\n\n" + body)


def test_transfer_encoding_case_insensitive(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/", [("Transfer-Encoding", "Chunked")]) +
               b"3\r\nabc\r\n0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200 and r.body.endswith(b"\n\nabc")


# ---------------------------------------------------------------------------------------------
# Expect: 100-continue


def test_expect_100_continue(echo):
    body = b"z" * 2000
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/up", [("Expect", "100-continue"),
                                            ("Content-Length", str(len(body)))]))
        interim = c.read_response()
        assert interim.status == 100
        assert interim.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n")
        c.send(body)
        r = c.read_response()
    assert r.status == 200
    assert r.body.endswith(b"\n\n" + body)
    assert b"expect: 100-continue\n" in r.body


def test_expect_100_continue_chunked(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/up", [("Expect", "100-continue"),
                                            ("Transfer-Encoding", "chunked")]))
        assert c.read_response().status == 100
        c.send(chunked(b"chunky", 2))
        r = c.read_response()
    assert r.status == 200 and r.body.endswith(b"\n\nchunky")


def test_expect_100_continue_pipelined(echo):
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/a", [("Expect", "100-continue")], body=b"ab") +
               build_request("GET", "/b"))
        first = c.read_response()
        if first.status == 100:
            first = c.read_response()
        assert first.status == 200 and first.body.endswith(b"\n\nab")
        second = c.read_response()
        assert second.status == 200 and second.body.startswith(b"GET /b ")


def test_expect_100_continue_body_sent_anyway(echo):
    """A client that does not wait for 100 still gets its request served."""
    with Conn(echo.port) as c:
        c.send(build_request("POST", "/x", [("Expect", "100-continue")], body=b"eager"))
        first = c.read_response()
        if first.status == 100:
            first = c.read_response()
    assert first.status == 200 and first.body.endswith(b"\n\neager")


def test_no_100_continue_for_http10(echo):
    with Conn(echo.port) as c:
        c.send(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
        r = c.read_response()
    assert r.status == 200 and r.body.endswith(b"\n\nabc")


# ---------------------------------------------------------------------------------------------
# curl


def test_curl_get(hello):
    p = curl("-sS", "-i", hello.url + "/")
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == HELLO


def test_curl_http10(hello):
    p = curl("-sS", "-i", "--http1.0", hello.url + "/")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"\r\n\r\n" + HELLO)


def test_curl_head(hello):
    p = curl("-sS", "-I", hello.url + "/")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 13" in p.stdout or b"content-length: 13" in p.stdout.lower()


def test_curl_data_binary(echo, tmp_path):
    f = tmp_path / "payload.bin"
    data = os.urandom(200000)
    f.write_bytes(data)
    p = curl("-sS", "--data-binary", "@%s" % f, "-H", "Content-Type: application/octet-stream",
             echo.url + "/upload")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"POST /upload HTTP/1.1\n")
    assert p.stdout.endswith(b"\n\n" + data)


def test_curl_expect_100_continue(echo, tmp_path):
    f = tmp_path / "payload.txt"
    data = b"expect me\n" * 500
    f.write_bytes(data)
    p = curl("-sS", "-v", "--expect100-timeout", "20", "-H", "Expect: 100-continue",
             "--data-binary", "@%s" % f, echo.url + "/e")
    assert p.returncode == 0, p.stderr
    assert "HTTP/1.1 100 Continue" in p.stderr
    assert p.stdout.endswith(b"\n\n" + data)
    assert b"expect: 100-continue\n" in p.stdout


def test_curl_chunked_upload(echo):
    p = curl("-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "chunked-by-curl",
             echo.url + "/c")
    assert p.returncode == 0, p.stderr
    assert b"transfer-encoding: chunked\n" in p.stdout
    assert p.stdout.endswith(b"\n\nchunked-by-curl")


def test_curl_keepalive_reuses_connection(hello):
    p = curl("-sS", "-v", hello.url + "/a", hello.url + "/b")
    assert p.returncode == 0, p.stderr
    assert p.stdout == HELLO * 2
    assert re.search(r"Re-using existing connection|Reusing existing connection", p.stderr), \
        p.stderr


# ---------------------------------------------------------------------------------------------
# other listeners


@pytest.mark.skipif(not ipv6_available(), reason="::1 not available")
def test_ipv6_bind(hornet_server):
    port = free_port(socket.AF_INET6, "::1")
    srv = hornet_server(config={"bind": ["[::1]:%d" % port]})
    assert srv.host == "::1"
    with Conn(port, host="::1") as c:
        r = c.request()
    assert r.status == 200 and r.body == HELLO
    p = curl("-sS", "-g", "http://[::1]:%d/" % port)
    assert p.returncode == 0 and p.stdout == HELLO, p.stderr


def test_unix_socket_curl(hornet_server):
    import tempfile
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "h.sock")
    try:
        srv = hornet_server(app="builtin:echo", config={"bind": ["unix:" + path]})
        p = curl("-sS", "--unix-socket", path, "http://x/over-unix")
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(b"GET /over-unix HTTP/1.1\n")
        with Conn(unix_path=path) as c:
            assert c.request("GET", "/raw").body.startswith(b"GET /raw ")
        assert srv.stop() == 0
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(d)


def test_two_binds_both_serve(hornet_server):
    p1, p2 = free_port(), free_port()
    while p2 == p1:
        p2 = free_port()
    hornet_server(config={"bind": ["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2]})
    assert http_request(p1).body == HELLO
    assert http_request(p2).body == HELLO


def test_many_concurrent_connections(hornet_server):
    srv = hornet_server(config={"workers": 2})
    conns = [Conn(srv.port) for _ in range(50)]
    try:
        for c in conns:
            c.send(build_request())
        for c in conns:
            r = c.read_response()
            assert r.status == 200 and r.body == HELLO
    finally:
        for c in conns:
            c.close()
    assert srv.request().status == 200


def test_keep_alive_max_requests_default_1000(hello):
    with Conn(hello.port) as c:
        for i in range(999):
            c.send(build_request())
            r = c.read_response()
            assert r.status == 200 and not r.has_token("connection", "close"), i
        r = c.request()
        assert r.status == 200 and r.has_token("connection", "close")
        c.assert_closed()


def test_slow_client_does_not_block_others(hornet_server):
    """One worker, one client stuck mid-head: other clients are still served."""
    srv = hornet_server(app="builtin:echo", config={"workers": 1, "keep_alive_timeout": "60s"})
    with Conn(srv.port) as stuck:
        stuck.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        with Conn(srv.port) as other:
            r = other.request("GET", "/other")
            assert r.status == 200 and r.body.startswith(b"GET /other ")
        stuck.send(b"defghij")
        r = stuck.read_response()
        assert r.status == 200 and r.body.endswith(b"\n\nabcdefghij")
