"""Malformed and over-limit HTTP/1.1 requests (nginx-tests / h2o t/40bad-request.t style).

Each case: the status line carries the right status, the response says Connection: close, the
server closes the socket, and the server keeps serving: an already open keep-alive connection
still works, a new connection gets 200, and no worker was replaced (a crash would respawn one).
"""

import time

import pytest

from hornet_fixture import Conn, build_request, chunked

HELLO = b"Hello, world!"


@pytest.fixture
def srv(hornet_server):
    return hornet_server(app="builtin:echo", config={"max_body_size": "1k"})


def check_error(srv, raw, statuses, send_slowly=False):
    """Send raw on a new connection; expect one of statuses, Connection: close, then EOF.
    Then check the server still serves, on an old and on a new connection, with no respawn."""
    if isinstance(statuses, int):
        statuses = (statuses,)
    workers_before = srv.workers()
    assert workers_before, "master has no workers"
    with Conn(srv.port) as bystander:
        assert bystander.request("GET", "/before").status == 200
        with Conn(srv.port) as c:
            if send_slowly:
                c.send_slowly(raw, pieces=10)
            else:
                c.send(raw)
            r = c.read_response()
            assert r.status in statuses, "expected %s, got %r" % (statuses, r)
            assert r.reason, "status line without a reason phrase: %r" % r.raw_head[:80]
            assert r.has_token("connection", "close"), r.headers
            c.assert_closed()
        # the keep-alive connection opened before the bad request still works
        r = bystander.request("GET", "/after")
        assert r.status == 200 and r.body.startswith(b"GET /after ")
    with Conn(srv.port) as c:
        r = c.request("GET", "/fresh")
        assert r.status == 200 and r.body.startswith(b"GET /fresh ")
    assert srv.workers() == workers_before, "a worker was replaced (crash?)"
    return r


BAD_400 = {
    "garbage_request_line": b"this is not http\r\n\r\n",
    "no_method": b" / HTTP/1.1\r\nHost: a\r\n\r\n",
    "lowercase_version": b"GET / http/1.1\r\nHost: a\r\n\r\n",
    "missing_host_http11": b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
    "two_host_headers": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    # RFC 9112 3.2: a Host with an invalid value is a 400
    "host_with_space": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host_with_userinfo": b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
    "host_with_path": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "absolute_form_bad_authority": b"GET http://[bad/x HTTP/1.1\r\nHost: a\r\n\r\n",
    "bare_cr_in_value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n",
    "bare_cr_in_request_line": b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    "content_length_list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    "content_length_plus": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    "chunk_extension_bare_lf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               b"\r\n5;x\nhello\r\n0\r\n\r\n",
    "transfer_encoding_identity": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n"
                                  b"Content-Length: 5\r\n\r\nhello",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo : bar\r\n\r\n",
    "header_without_colon": b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo bar\r\n\r\n",
    "bare_lf_in_headers": b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
    "bare_lf_everywhere": b"GET / HTTP/1.1\nHost: a\nX-A: b\n\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  continued\r\n\r\n",
    "obs_fold_tab": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tcontinued\r\n\r\n",
    "nul_in_header_value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
    "invalid_chunk_size": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk_without_crlf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n",
    "content_length_and_transfer_encoding":
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    "two_different_content_lengths":
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "negative_content_length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "non_numeric_content_length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
    "binary_blob": bytes(range(1, 256)) * 8 + b"\r\n\r\n",
    "tls_client_hello": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 160,
}


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_bad_request_400(srv, name):
    check_error(srv, BAD_400[name], 400)


def test_bad_request_sent_byte_by_byte(srv):
    check_error(srv, b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo : bar\r\n\r\n", 400, send_slowly=True)


def test_transfer_encoding_gzip_501(srv):
    check_error(srv, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501)


def test_transfer_encoding_gzip_chunked_501(srv):
    check_error(srv, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     b"0\r\n\r\n", 501)


def test_unknown_http_version(srv):
    check_error(srv, b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", (505, 400))


def test_http2_version_in_h1_request_line(srv):
    check_error(srv, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", (505, 400))


def test_one_huge_header_431(srv):
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 20000 + b"\r\n\r\n"
    check_error(srv, raw, 431)


def test_many_headers_fill_limit_431(srv):
    # 50 headers of ~100 bytes plus one of 12 KB: under the count limit, over the size limit
    hs = b"".join(b"X-H%03d: %s\r\n" % (i, b"v" * 90) for i in range(50))
    hs += b"X-Last: " + b"y" * 12000 + b"\r\n"
    raw = b"GET / HTTP/1.1\r\nHost: a\r\n" + hs + b"\r\n"
    assert len(raw) > 16384
    check_error(srv, raw, 431)


def test_huge_request_line_414(srv):
    raw = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    check_error(srv, raw, 414)


def test_head_just_under_limit_is_fine(srv):
    # in two fields: one field alone stops at max_header_field_size (8 KiB)
    raw = build_request("GET", "/", [("X-Big", "x" * 7500), ("X-Big2", "x" * 7500)])
    assert len(raw) < 16000
    with Conn(srv.port) as c:
        c.send(raw)
        r = c.read_response()
    assert r.status == 200
    assert r.body.startswith(b"GET / HTTP/1.1\n")


def test_too_many_headers_431(srv):
    raw = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) \
        + b"\r\n"
    assert len(raw) < 4000  # small in bytes: only the count is over the limit
    check_error(srv, raw, 431)


def test_header_count_boundary(srv):
    """max_header_count (default 100) counts every header line, Host included."""
    ok = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(99)) \
        + b"\r\n"
    with Conn(srv.port) as c:
        c.send(ok)
        assert c.read_response().status == 200
    check_error(srv, b"GET / HTTP/1.1\r\nHost: a\r\n" +
                b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", 431)


def test_huge_chunked_trailer_431(srv):
    raw = build_request("POST", "/", [("Transfer-Encoding", "chunked")]) + \
        b"1\r\na\r\n0\r\nX-T: " + b"t" * 30000 + b"\r\n\r\n"
    check_error(srv, raw, (431, 400))


def test_max_header_count_configurable(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"max_header_count": 5})
    ok = build_request("GET", "/", [("X-1", "a"), ("X-2", "b"), ("X-3", "c")])
    with Conn(srv.port) as c:
        c.send(ok)
        assert c.read_response().status == 200
    raw = build_request("GET", "/", [("X-%d" % i, "v") for i in range(10)])
    check_error(srv, raw, 431)


def test_h11_max_incomplete_size_configurable(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"h11_max_incomplete_size": "2k"})
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/", [("X-A", "a" * 1000)]))
        assert c.read_response().status == 200
    check_error(srv, build_request("GET", "/", [("X-A", "a" * 3000)]), 431)


def test_body_too_large_content_length_413_without_body(srv):
    """413 comes as soon as the head is read: the client never sends the body."""
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
    check_error(srv, raw, 413)


def test_body_too_large_with_expect_gets_413_not_100(srv):
    with Conn(srv.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert r.status == 413, r
        assert r.has_token("connection", "close")
        c.assert_closed()
    assert srv.request().status == 200


def test_body_at_limit_is_fine(srv):
    body = b"b" * 1024
    r = srv.request("POST", "/", body=body)
    assert r.status == 200 and r.body.endswith(b"\n\n" + body)


def test_chunked_body_too_large_413(srv):
    raw = build_request("POST", "/", [("Transfer-Encoding", "chunked")]) + \
        chunked(b"c" * 3000, 500)
    check_error(srv, raw, 413)


def test_chunked_body_too_large_single_chunk_413(srv):
    """One chunk declared at 64 KiB, of which 2000 bytes (over the 1k limit) arrive."""
    raw = build_request("POST", "/", [("Transfer-Encoding", "chunked")]) + b"10000\r\n" + \
        b"d" * 2000
    check_error(srv, raw, 413)


def test_chunked_body_at_limit_is_fine(srv):
    body = b"k" * 1024
    with Conn(srv.port) as c:
        c.send(build_request("POST", "/", [("Transfer-Encoding", "chunked")]) + chunked(body, 100))
        r = c.read_response()
    assert r.status == 200 and r.body.endswith(b"\n\n" + body)


def test_error_then_pipelined_requests_are_dropped(srv):
    """After a bad request nothing else on that connection is served."""
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + build_request("GET", "/smuggled")
    with Conn(srv.port) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == 400
        rest = c.read_to_eof()
    assert b"smuggled" not in rest and rest == b""


def test_request_smuggling_cl_te_not_served_as_two(srv):
    """CL+TE must be rejected, not parsed one way and forwarded another."""
    smuggled = build_request("GET", "/smuggled")
    body = b"0\r\n\r\n" + smuggled
    raw = (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" % len(body)) + body
    with Conn(srv.port) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == 400
        assert b"smuggled" not in c.read_to_eof()


def test_error_response_has_standard_headers(srv):
    with Conn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        r = c.read_response()
    assert r.status == 400
    assert r.raw_head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert r.header("server") == "hornet"


def test_workers_keep_serving_after_many_errors(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"workers": 2})
    before = srv.wait_workers(2)
    for i in range(30):
        with Conn(srv.port) as c:
            c.send(bytes((i * 37 + j) % 256 for j in range(1, 300)) + b"\r\n\r\n")
            try:
                c.read_to_eof()
            except TimeoutError:
                pytest.fail("server kept a garbage connection open")
    for _ in range(10):
        assert srv.request().body == HELLO
    assert srv.workers() == before


def test_client_closing_mid_request_does_not_hurt(srv):
    before = srv.workers()
    for raw in (b"GET / HTTP/1.1\r\nHost: a\r\n",
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\nabc",
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"):
        c = Conn(srv.port)
        c.send(raw)
        c.close()
    time.sleep(0.2)  # let the worker see the EOFs; the assertions below don't depend on it
    assert srv.request().status == 200
    assert srv.workers() == before


def test_trailers_after_an_early_answer_do_not_crash(hornet_server):
    """Found by fuzz_h1: an app that answers at the head (builtin:hello) of a chunked request
    lets the request go (the connection will close); the trailer fields that follow were
    parsed into the freed request. The worker must survive and serve on."""
    srv = hornet_server(app="builtin:hello")
    workers = srv.workers()
    with Conn(srv.port) as c:
        c.send(b"POST /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\nX-Trailer: 1\r\n\r\n")
        assert c.read_response().status == 200
        c.assert_closed()
    with Conn(srv.port) as c:
        assert c.request("GET", "/").status == 200
    assert srv.workers() == workers, "the worker was replaced (crash)"
