"""The application ABI (include/hornet/app.h) through the real binary and real clients.

Event order (on_request, on_body..., on_disconnect exactly once), refusals of out-of-order calls
(HORNET_EUNEXPECTED, logged, 500 when nothing was sent), disconnects reaching the app
(completed=false, later calls HORNET_EGONE), answers from timers, request memory, the scope's
fields, root_path and mount, responses in pieces (chunked, trailers, files), simple mode, and
the api table.

The apps are tests/apps/*.c (see apps_fixture.py). probe.c keeps a record of every request that
has an id in its query (events, return codes, "disconnect C" at the end) and serves it at
/record?id=ID once the request ended; a test reads it on a new connection (one worker).
"""

import json
import os
import random
import socket
import subprocess

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import (Conn, build_request, chunked, free_port, ipv6_available,
                            wait_until)

pytestmark = requires_gcc


@pytest.fixture
def probe(hornet_server, apps):
    return hornet_server(app=apps["probe"])


# ---------------------------------------------------------------------------------------------
# helpers


def record(srv, rid, timeout=10):
    """The probe's record of request `rid` (lines), once its on_disconnect ran."""
    def get():
        r = srv.request("GET", "/record?id=" + rid)
        return r if r.status == 200 else None
    lines = wait_until(get, timeout, what="the record of request %s" % rid).body.decode()
    lines = lines.splitlines()
    n = sum(1 for ln in lines if ln.startswith("disconnect "))
    assert n == 1, "on_disconnect seen %d times for %s: %r" % (n, rid, lines)
    i = [ln.startswith("disconnect ") for ln in lines].index(True)
    late = [ln for ln in lines[i + 1:] if ln.split()[0] in ("request", "body", "timer")]
    assert not late, "events after on_disconnect: %r" % lines
    return lines


def disconnect_of(rec):
    """The on_disconnect line of a record."""
    return [ln for ln in rec if ln.startswith("disconnect ")][0]


def is_active(srv, rid):
    return srv.request("GET", "/active?id=" + rid).status == 200


def counters(srv):
    r = srv.request("GET", "/counters")
    assert r.status == 200, r
    return {k: int(v) for k, v in (kv.split("=") for kv in r.body.decode().split())}


def assert_sane(srv):
    """No double on_disconnect, no event for a request after its on_disconnect, and no
    on_disconnect from inside a server call."""
    c = counters(srv)
    assert c["double_disc"] == 0 and c["events_after_disc"] == 0, c
    # app.h: on_disconnect never runs from inside a call the application is making
    assert c["reentrant_disc"] == 0, c


def split_order(body):
    """/order's answer -> (event lines, request body bytes)."""
    head, sep, data = body.partition(b"---\n")
    assert sep, "no separator in %r" % body[:300]
    return head.decode().splitlines(), data


def check_body_events(evs, method, data):
    """request, then body chunks with more_body=true, the last with more_body=false; their
    lengths add up to the body."""
    assert evs[0] == "request %s /order" % method, evs
    bodies = evs[1:]
    assert bodies, evs
    total = 0
    for i, ev in enumerate(bodies):
        kind, n, more = ev.split()
        assert kind == "body", evs
        assert more == ("last" if i == len(bodies) - 1 else "more"), evs
        total += int(n)
    assert total == len(data), (total, len(data))


def scope_of(srv, path="/scope", headers=None, conn=None, version="HTTP/1.1", method="GET",
             body=None):
    own = conn is None
    c = conn or srv.connect()
    try:
        r = c.request(method, path, headers, body, version=version)
    finally:
        if own:
            c.close()
    assert r.status == 200, r
    assert r.header("content-type") == "application/json"
    return json.loads(r.body.decode())


def b(s):
    """A scope string (bytes >= 0x80 as \\u00XX) back to bytes."""
    return s.encode("latin-1")


def stderr_has(srv, text, timeout=10):
    wait_until(lambda: text.lower() in srv.stderr_text().lower(), timeout,
               what="%r in the error log" % text)


# ---------------------------------------------------------------------------------------------
# event order


def test_get_without_body(probe):
    r = probe.request("GET", "/order?id=get1")
    assert r.status == 200 and r.header("x-probe-id") == "get1", r
    evs, data = split_order(r.body)
    assert evs == ["request GET /order", "body 0 last"], evs
    assert data == b""
    assert record(probe, "get1") == ["request GET /order", "body 0 last", "response 200",
                                     "disconnect 1"]
    assert_sane(probe)


def test_post_with_content_length(probe):
    data = os.urandom(300000)
    with probe.connect() as c:
        c.send(build_request("POST", "/order?id=post1", [("Connection", "close")], data))
        r = c.read_response()
    assert r.status == 200, r
    evs, got = split_order(r.body)
    check_body_events(evs, "POST", data)
    assert got == data
    rec = record(probe, "post1")
    assert rec[-2:] == ["response 200", "disconnect 1"], rec


def test_post_body_sent_slowly(probe):
    data = bytes(random.getrandbits(8) for _ in range(20000))
    with probe.connect() as c:
        c.send_slowly(build_request("POST", "/order?id=slow1", [("Connection", "close")], data),
                      pieces=20, pause=0.02)
        r = c.read_response()
    evs, got = split_order(r.body)
    check_body_events(evs, "POST", data)
    assert got == data
    assert len(evs) > 2, "a body sent in 20 pieces arrived as one event: %r" % evs


def test_empty_post(probe):
    r = probe.request("POST", "/order?id=empty1", body=b"")
    evs, got = split_order(r.body)
    assert evs == ["request POST /order", "body 0 last"], evs
    assert got == b""


def test_chunked_body(probe):
    data = os.urandom(50000)
    with probe.connect() as c:
        c.send(build_request("POST", "/order?id=chunk1",
                             [("Transfer-Encoding", "chunked"), ("Connection", "close")])
               + chunked(data, 7000))
        r = c.read_response()
    assert r.status == 200, r
    evs, got = split_order(r.body)
    check_body_events(evs, "POST", data)
    assert got == data
    rec = record(probe, "chunk1")
    assert rec[-2:] == ["response 200", "disconnect 1"], rec


def test_chunked_body_with_trailers(probe):
    raw = (build_request("POST", "/order?id=chunk2",
                         [("Transfer-Encoding", "chunked"), ("Connection", "close")])
           + b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    with probe.connect() as c:
        c.send(raw)
        r = c.read_response()
    evs, got = split_order(r.body)
    check_body_events(evs, "POST", b"hello world")
    assert got == b"hello world"


def test_keepalive_sequence(probe):
    with probe.connect() as c:
        for i in range(20):
            body = b"x" * i
            r = c.request("POST", "/order?id=ka%d" % i, body=body)
            assert r.status == 200 and r.header("x-probe-id") == "ka%d" % i, r
            assert split_order(r.body)[1] == body
    for i in range(20):
        assert record(probe, "ka%d" % i)[-1] == "disconnect 1"
    assert_sane(probe)


def test_pipelined_requests_answer_in_order(probe):
    reqs = (build_request("GET", "/later?id=pa&ms=400")
            + build_request("POST", "/later?id=pb&ms=50", body=b"bbbb")
            + build_request("GET", "/order?id=pc")
            + build_request("POST", "/order?id=pd", [("Connection", "close")], b"dd"))
    with probe.connect(timeout=20) as c:
        c.send(reqs)
        got = []
        for _ in range(4):
            r = c.read_response(timeout=20)
            got.append((r.status, r.header("x-probe-id"), split_order(r.body)[1]))
        c.assert_closed()
    assert got == [(200, "pa", b""), (200, "pb", b"bbbb"), (200, "pc", b""), (200, "pd", b"dd")]
    for rid in ("pa", "pb", "pc", "pd"):
        assert record(probe, rid)[-1] == "disconnect 1"


def test_response_before_body_completes(probe):
    """/early answers in on_request; the body still arrives (on_body ..., the last with
    more_body=false) and on_disconnect(completed=true) comes only after both."""
    with probe.connect() as c:
        c.send(build_request("POST", "/early?id=early1", [("Content-Length", "10")]))
        r = c.read_response()
        assert r.status == 200 and r.body == b"early\n", r
        assert is_active(probe, "early1"), "request ended before its body arrived"
        c.send(b"0123456789")
        rec = record(probe, "early1")
    assert rec[:2] == ["request POST /early", "response 200"], rec
    bodies = [ln for ln in rec if ln.startswith("body ")]
    assert bodies and bodies[-1].endswith(" last"), \
        "the body sent after an early response never reached the app: %r" % rec
    assert sum(int(ln.split()[1]) for ln in bodies) == 10, rec
    assert rec[-1] == "disconnect 1", rec


def test_head_request(probe):
    """HEAD: the app answers as for GET; the server sends the head only."""
    with probe.connect() as c:
        r = c.request("HEAD", "/order?id=head1")
        assert r.status == 200 and r.body == b"", r
        assert int(r.header("content-length")) > 0, r
        assert r.header("x-probe-id") == "head1"
        # no body bytes were sent: the next response parses
        assert c.request("GET", "/").body == b"probe\n"
    assert record(probe, "head1")[0] == "request HEAD /order"


def test_body_over_max_body_size_never_reaches_the_app(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"max_body_size": "1KiB"})
    before = counters(srv)
    r = srv.request("POST", "/order?id=big1", body=b"x" * 2048)
    assert r.status == 413, r
    after = counters(srv)
    # only the first /counters request itself reached the app in between
    assert after["requests"] == before["requests"] + 1, (before, after)


def test_curl_post(probe):
    data = os.urandom(2 * 1024 * 1024)  # curl sends Expect: 100-continue for this size
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "--data-binary", "@-",
                        "-H", "Content-Type: application/octet-stream",
                        probe.url + "/order?id=curl1"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=40)
    assert p.returncode == 0, p.stderr
    evs, got = split_order(p.stdout)
    check_body_events(evs, "POST", data)
    assert got == data


def test_curl_chunked_upload(probe):
    data = os.urandom(100000)
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "--data-binary", "@-",
                        "-H", "Transfer-Encoding: chunked", probe.url + "/order?id=curl2"],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=40)
    assert p.returncode == 0, p.stderr
    evs, got = split_order(p.stdout)
    check_body_events(evs, "POST", data)
    assert got == data


# ---------------------------------------------------------------------------------------------
# responses in pieces: no Content-Length, trailers, files


def test_streamed_response_is_chunked(probe):
    with probe.connect() as c:
        r = c.request("GET", "/chunks?id=ch1&n=5")
        assert r.status == 200 and r.chunked, r
        assert r.body == b"".join(b"chunk-%d\n" % i for i in range(5)), r
        # the connection stays usable
        assert c.request("GET", "/").body == b"probe\n"
    rec = record(probe, "ch1")
    assert "chunks start rc=0" in rec and "chunks done rc=0" in rec, rec
    assert not any(ln.startswith("chunk body rc=") for ln in rec), rec


def test_streamed_response_to_http10_client(probe):
    with probe.connect() as c:
        c.send(build_request("GET", "/chunks?n=3", version="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 200 and not r.chunked, r
        assert r.body == b"chunk-0\nchunk-1\nchunk-2\n", r


def test_response_trailers(probe):
    with probe.connect() as c:
        r = c.request("GET", "/trailers?id=tr1", [("TE", "trailers")])
        assert r.status == 200 and r.chunked and r.body == b"payload\n", r
        assert ("x-checksum", "c0ffee") in [(k.lower(), v) for k, v in r.trailers], r.trailers
        assert c.request("GET", "/").body == b"probe\n"
    assert "trailers start rc=0 body rc=0 trailers rc=0" in record(probe, "tr1")


def test_unannounced_trailers_are_refused(probe):
    with probe.connect() as c:
        r = c.request("GET", "/trailers?id=tr2&announce=0", [("TE", "trailers")])
        assert r.status == 200 and r.body == b"payload\n" and not r.trailers, r
        assert c.request("GET", "/").body == b"probe\n"
    # refused: out of order (-1), or the exchange already ended with the final body (-2)
    rec = record(probe, "tr2")
    assert any(ln in rec for ln in ("trailers start rc=0 body rc=0 trailers rc=-1",
                                    "trailers start rc=0 body rc=0 trailers rc=-2")), rec


def test_response_file(probe, tmp_path):
    data = os.urandom(300000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    r = probe.request("GET", "/file?id=f1&path=%s&off=1000&len=200000" % path)
    assert r.status == 200 and r.body == data[1000:201000], (r.status, len(r.body))
    assert "file start rc=0 file rc=0" in record(probe, "f1")


# ---------------------------------------------------------------------------------------------
# refusals (HORNET_EUNEXPECTED)


def test_body_before_start_is_refused_with_500(probe):
    r = probe.request("GET", "/misuse/body-before-start?id=m1")
    assert r.status == 500, r
    rec = record(probe, "m1")
    assert "body-before-start rc=-1" in rec, rec
    stderr_has(probe, "unexpected")
    # the server goes on serving
    assert probe.request("GET", "/").body == b"probe\n"
    assert_sane(probe)


def test_double_start_is_refused(probe):
    r = probe.request("GET", "/misuse/double-start?id=m2")
    rec = record(probe, "m2")
    assert "double-start rc1=0 rc2=-1" in rec, rec
    stderr_has(probe, "unexpected")
    # the first start may or may not have reached the client yet: either the app's response
    # goes on (status 200, the second start had no effect) or the server answered 500
    assert r.status in (200, 500), r
    if r.status == 200:
        assert r.header("x-first") == "1" and r.body == b"second-start-rc=-1", r
    assert probe.request("GET", "/").body == b"probe\n"
    assert_sane(probe)


def test_calls_after_the_end_are_refused(probe):
    """The app answers in on_request while the request body is still to come (so the final
    response_body cannot end the request), then calls response_body and response_start
    again: each returns HORNET_EUNEXPECTED and nothing reaches the client."""
    with probe.connect() as c:
        c.send(build_request("POST", "/misuse/after-end?id=m3&early=1",
                             [("Content-Length", "5")]))
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok", r
        assert is_active(probe, "m3"), "request ended before its body arrived"
        c.send(b"12345")
        rec = record(probe, "m3")
        assert "after-end start rc=0 body rc=0" in rec, rec
        assert "then body rc=-1 start rc=-1 body rc=-1" in rec, rec
        assert rec[-1] == "disconnect 1", rec
        # nothing stray was written to the connection: the next response parses
        r2 = c.request("GET", "/order?id=m3b")
        assert r2.status == 200 and r2.header("x-probe-id") == "m3b", r2
    stderr_has(probe, "unexpected")


def test_calls_after_the_final_body_of_a_get(probe):
    """After the final response_body of a GET (request body already in), the request is still
    there (on_disconnect comes later, from the loop): further calls are refused, with
    HORNET_EUNEXPECTED (out of order) or HORNET_EGONE (the exchange ended), and nothing
    reaches the client."""
    with probe.connect() as c:
        r = c.request("GET", "/misuse/after-end?id=m3c")
        assert r.status == 200 and r.body == b"ok", r
        rec = record(probe, "m3c")
        assert "after-end start rc=0 body rc=0" in rec, rec
        then = [ln for ln in rec if ln.startswith("then ")]
        assert then, "the app could not make calls after the final body: %r" % rec
        rcs = [int(x.split("=")[1]) for x in then[0].split() if x.startswith("rc=")]
        assert len(rcs) == 3 and all(rc in (-1, -2) for rc in rcs), rec
        assert disconnect_of(rec) == "disconnect 1", rec
        r2 = c.request("GET", "/order?id=m3d")
        assert r2.status == 200 and r2.header("x-probe-id") == "m3d", r2
    assert_sane(probe)


@pytest.mark.parametrize("code", [42, 99, 1000, -1])
def test_invalid_status_is_refused(probe, code):
    """HORNET_EINVAL. app.h does not say whether the request survives it: either the app's
    retry with a valid status goes out, or the server answered 500 itself."""
    rid = "m4_%d" % abs(code)
    r = probe.request("GET", "/misuse/bad-status?id=%s&code=%d" % (rid, code))
    assert "bad-status %d rc=-3" % code in record(probe, rid)
    assert (r.status, r.body) in ((200, b"bad-status-rc=-3"), (500, r.body)), r
    assert probe.request("GET", "/").status == 200


@pytest.mark.parametrize("which", ["crlf", "lf", "cr", "nul", "space", "colon", "newline-name",
                                   "empty", "pseudo"])
def test_invalid_header_is_refused(probe, which):
    """A CR, LF or NUL in a value (response splitting), a bad name, a pseudo-header:
    HORNET_EINVAL, nothing sent, and the app can still answer properly."""
    r = probe.request("GET", "/misuse/bad-header?which=" + which)
    assert r.header("set-cookie") is None, "response splitting: %r" % r.headers
    assert r.status == 200 and r.body == b"bad-header-rc=-3", r


@pytest.mark.parametrize("code,rc", [(103, 0), (100, 0), (101, -3), (200, -3), (99, -3)])
def test_response_informational(probe, code, rc):
    """response_informational: a 1xx but 101 before the start (HORNET_EINVAL otherwise, and
    for a field response_start would refuse); after the start HORNET_EUNEXPECTED, and the
    response goes on."""
    with probe.connect() as c:
        c.send(build_request("GET", "/misuse/informational?code=%d" % code))
        first = c.read_response()
        if rc == 0:
            assert first.status == code and first.headers == [("link", "</a.css>; rel=preload")]
            final = c.read_response()
        else:
            final = first
    assert final.status == 200, final
    assert final.body == b"info rc1=%d rc2=-3 late=-1" % rc, final.body
    assert final.header("set-cookie") is None


def test_response_informational_to_http10(probe):
    """RFC 9110 §15.2: nothing for a 1.0 client, and the call still succeeds."""
    with probe.connect() as c:
        c.send(build_request("GET", "/misuse/informational?code=103", version="HTTP/1.0"))
        data = c.read_to_eof()
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert data.endswith(b"info rc1=0 rc2=-3 late=-1"), data


# ---------------------------------------------------------------------------------------------
# disconnects


def test_disconnect_reaches_the_app(probe):
    before = counters(probe)
    c = probe.connect()
    c.send(build_request("GET", "/hang?id=h1"))
    wait_until(lambda: is_active(probe, "h1"), 10, what="the request to reach the app")
    c.close()
    rec = record(probe, "h1")
    assert "disconnect 0" in rec, rec
    # calls after the client left are refused with HORNET_EGONE
    assert "after-gone start rc=-2" in rec and "after-gone body rc=-2" in rec, rec
    after = counters(probe)
    assert after["disc_false"] == before["disc_false"] + 1, (before, after)
    assert_sane(probe)


def test_disconnect_during_upload(probe):
    c = probe.connect()
    c.send(build_request("POST", "/order?id=u1", [("Content-Length", "1000000")]) + b"a" * 1000)
    wait_until(lambda: is_active(probe, "u1"), 10, what="the request to reach the app")
    c.close()
    rec = record(probe, "u1")
    assert rec[-1] == "disconnect 0", rec
    assert not any(ln.endswith(" last") for ln in rec), rec
    assert not any(ln.startswith("response") for ln in rec), rec


def test_disconnect_while_waiting_for_timer(probe):
    c = probe.connect()
    c.send(build_request("GET", "/later?id=d1&ms=3000"))
    wait_until(lambda: is_active(probe, "d1"), 10, what="the request to reach the app")
    c.close()
    rec = record(probe, "d1")
    assert rec[-1] == "disconnect 0" and "timer" not in rec, rec
    assert probe.request("GET", "/").status == 200


def test_reset_connection_reaches_the_app(probe):
    c = probe.connect()
    c.send(build_request("GET", "/hang?id=h2"))
    wait_until(lambda: is_active(probe, "h2"), 10, what="the request to reach the app")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()  # RST
    assert record(probe, "h2")[-1] == "disconnect 0"


def test_many_hanging_clients_all_disconnect(probe):
    before = counters(probe)
    conns = []
    for i in range(10):
        c = probe.connect()
        c.send(build_request("GET", "/hang?id=mh%d" % i))
        conns.append(c)
    wait_until(lambda: all(is_active(probe, "mh%d" % i) for i in range(10)), 10,
               what="10 hanging requests")
    for c in conns:
        c.close()
    for i in range(10):
        assert record(probe, "mh%d" % i)[-1] == "disconnect 0"
    after = counters(probe)
    assert after["disc_false"] - before["disc_false"] == 10, (before, after)
    assert after["active"] <= 1, after  # only the /counters request itself


# ---------------------------------------------------------------------------------------------
# timers


def test_answer_later_from_timer(probe):
    r = probe.request("GET", "/later?id=t1&ms=300")
    assert r.status == 200 and r.header("x-probe-id") == "t1", r
    assert record(probe, "t1") == ["request GET /later", "body 0 last", "timer", "response 200",
                                   "disconnect 1"]


def test_repeating_timer(probe):
    r = probe.request("GET", "/tick?n=4&ms=30")
    assert r.status == 200 and r.body == b"ticks=4\n", r


def test_concurrent_delayed_answers(probe):
    conns = []
    for i in range(20):
        c = probe.connect(timeout=20)
        c.send(build_request("GET", "/later?id=cc%d&ms=%d" % (i, random.randint(1, 400))))
        conns.append(c)
    for i, c in enumerate(conns):
        r = c.read_response(timeout=20)
        assert r.status == 200 and r.header("x-probe-id") == "cc%d" % i, r
        c.close()


def test_later_answer_with_server_busy_elsewhere(probe):
    """While one request waits for its timer, others on other connections are served."""
    with probe.connect(timeout=20) as slow:
        slow.send(build_request("GET", "/later?id=busy1&ms=1500"))
        for i in range(5):
            assert probe.request("GET", "/").status == 200
        assert is_active(probe, "busy1")
        r = slow.read_response(timeout=20)
        assert r.header("x-probe-id") == "busy1"


# ---------------------------------------------------------------------------------------------
# request memory


def test_request_memory(probe):
    r = probe.request("GET", "/alloc")
    assert r.status == 200 and r.body.startswith(b"alloc ok "), r
    assert b"align8=yes" in r.body, r.body


def test_request_memory_survives_until_a_timer(probe):
    r = probe.request("POST", "/alloc?ms=200", body=b"z" * 5000)
    assert r.status == 200 and r.body.startswith(b"alloc ok "), r


def test_scope_valid_until_a_later_answer(probe):
    hs = [("X-Long", "v" * 3000), ("X-Short", "s")]
    with probe.connect() as c:
        now = scope_of(probe, "/scope?a=1", hs, conn=c)
        later = scope_of(probe, "/scope?a=1&ms=300", hs, conn=c)
    assert later["query_string"] == "a=1&ms=300"
    later["query_string"] = now["query_string"]
    later["raw_path"] = now["raw_path"]
    assert later == now


# ---------------------------------------------------------------------------------------------
# the scope


def test_scope_fields(probe):
    with probe.connect() as c:
        s = scope_of(probe, "/scope?x=1&y=%20z", [("X-Custom", "Value")], conn=c)
        client_port = c.sock.getsockname()[1]
    assert s["type"] == 1
    assert s["http_version"] == "1.1"
    assert s["method"] == "GET"
    assert s["scheme"] == "http"
    assert s["path"] == "/scope"
    assert s["raw_path"] == "/scope"
    assert s["query_string"] == "x=1&y=%20z"
    assert s["root_path"] == ""
    assert s["client_host"] == "127.0.0.1" and s["client_port"] == client_port
    assert s["server_host"] == "127.0.0.1" and s["server_port"] == probe.port
    assert s["n_subprotocols"] == 0
    assert s["state_is_null"] is True


def test_scope_path_decoding(probe):
    s = scope_of(probe, "/scope/a%20b/%C3%A9/c%2Fd/%7euser?q=%2F")
    assert b(s["path"]) == b"/scope/a b/\xc3\xa9/c/d/~user", s["path"]
    assert s["raw_path"] == "/scope/a%20b/%C3%A9/c%2Fd/%7euser"
    assert s["query_string"] == "q=%2F"


def test_scope_route_by_decoded_path(probe):
    s = scope_of(probe, "/sc%6Fpe")
    assert s["path"] == "/scope" and s["raw_path"] == "/sc%6Fpe"


def test_scope_empty_query(probe):
    assert scope_of(probe, "/scope")["query_string"] == ""
    assert scope_of(probe, "/scope?")["query_string"] == ""


def test_scope_headers_lower_case_in_order(probe):
    hs = [("X-Custom-One", "1"), ("x-custom-two", "Two"), ("X-CUSTOM-ONE", "3"),
          ("Accept", "*/*"), ("X-Mixed", "VaLuE with  spaces")]
    s = scope_of(probe, "/scope", hs)
    assert s["headers"] == [["host", "localhost"], ["x-custom-one", "1"],
                            ["x-custom-two", "Two"], ["x-custom-one", "3"], ["accept", "*/*"],
                            ["x-mixed", "VaLuE with  spaces"]], s["headers"]


def test_scope_http10(probe):
    s = scope_of(probe, "/scope", version="HTTP/1.0")
    assert s["http_version"] == "1.0"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_scope_method(probe, method):
    s = scope_of(probe, "/scope", method=method, body=b"")
    assert s["method"] == method


def test_scope_unix_socket(hornet_server, apps, tmp_path):
    path = str(tmp_path / "probe.sock")
    srv = hornet_server(app=apps["probe"], config={"bind": ["unix:" + path]})
    with Conn(unix_path=path) as c:
        s = scope_of(srv, "/scope", conn=c)
    assert s["client_host"] is None
    assert s["server_host"] == path and s["server_port"] == -1
    assert s["path"] == "/scope"


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_scope_ipv6(hornet_server, apps):
    port = free_port(socket.AF_INET6, "::1")
    srv = hornet_server(app=apps["probe"], config={"bind": ["[::1]:%d" % port]})
    with Conn(port, host="::1") as c:
        s = scope_of(srv, "/scope", conn=c)
        client_port = c.sock.getsockname()[1]
    assert s["client_host"] == "::1" and s["client_port"] == client_port
    assert s["server_host"] == "::1" and s["server_port"] == port


# ---------------------------------------------------------------------------------------------
# root_path and mount


def test_root_path(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"root_path": "/prefix"})
    s = scope_of(srv, "/prefix/scope?k=v")
    assert s["root_path"] == "/prefix"
    assert s["path"] == "/scope"
    assert s["raw_path"] == "/prefix/scope"
    assert s["query_string"] == "k=v"


def test_mount(hornet_server, apps):
    srv = hornet_server(app=apps["probe"],
                        config={"mount": {"/echo": "builtin:echo",
                                          "/simple": apps.spec("simple", "app")}})
    # the echo app shows the raw path untouched
    r = srv.request("GET", "/echo/foo?x=1")
    assert r.status == 200 and r.body.startswith(b"GET /echo/foo?x=1 HTTP/1.1"), r
    # a second shared object under its own prefix
    r = srv.request("GET", "/simple/scope?q=1")
    assert r.status == 200, r
    assert r.body == b"root_path=/simple path=/scope raw_path=/simple/scope query=q=1\n", r
    # everything else goes to the main application, unmounted
    s = scope_of(srv, "/scope/x")
    assert s["root_path"] == "" and s["path"] == "/scope/x"


def test_mount_prefix_matches_whole_segments(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"mount": {"/simple": apps["simple"]}})
    r = srv.request("GET", "/simpler")
    assert r.body == b"no such probe\n", "/simpler went to the app mounted at /simple: %r" % r
    # the mount point itself: path "/" (app.h), raw_path tells /simple from /simple/
    r = srv.request("GET", "/simple")
    assert r.body == b"simple\n", "/simple did not reach its app as path /: %r" % r
    r = srv.request("GET", "/simple/")
    assert r.body == b"simple\n", r


def test_mount_point_scope(hornet_server, apps):
    srv = hornet_server(app=apps["simple"], config={"mount": {"/p": apps["probe"]}})
    s = scope_of(srv, "/p?scope=1")
    assert (s["root_path"], s["path"], s["raw_path"]) == ("/p", "/", "/p"), s
    s = scope_of(srv, "/p/?scope=1")
    assert (s["root_path"], s["path"], s["raw_path"]) == ("/p", "/", "/p/"), s
    s = scope_of(srv, "/p/scope/x%20y")
    assert (s["root_path"], s["path"], s["raw_path"]) == ("/p", "/scope/x y", "/p/scope/x%20y")


def test_root_path_itself(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"root_path": "/prefix"})
    s = scope_of(srv, "/prefix?scope=1")
    assert (s["root_path"], s["path"], s["raw_path"]) == ("/prefix", "/", "/prefix"), s


def test_mount_longest_prefix_wins(hornet_server, apps):
    srv = hornet_server(app=apps["probe"],
                        config={"mount": {"/a": "builtin:echo", "/a/b": apps["simple"]}})
    r = srv.request("GET", "/a/b/scope")
    assert r.body == b"root_path=/a/b path=/scope raw_path=/a/b/scope query=\n", r
    r = srv.request("GET", "/a/x")
    assert r.body.startswith(b"GET /a/x HTTP/1.1"), r


# ---------------------------------------------------------------------------------------------
# simple mode


@pytest.fixture
def simple(hornet_server, apps):
    return hornet_server(app=apps["simple"])


def test_simple_get(simple):
    r = simple.request("GET", "/")
    assert r.status == 200 and r.body == b"simple\n" and r.header("content-type") == "text/plain"


def test_simple_echo_body(simple):
    data = os.urandom(200000)
    r = simple.request("POST", "/echo", body=data)
    assert r.status == 200 and r.body == data, r
    assert r.header("x-body-len") == str(len(data))


def test_simple_echo_chunked_body(simple):
    data = os.urandom(30000)
    with simple.connect() as c:
        c.send(build_request("POST", "/echo",
                             [("Transfer-Encoding", "chunked"), ("Connection", "close")])
               + chunked(data, 4096))
        r = c.read_response()
    assert r.status == 200 and r.body == data, r


def simple_handled(srv):
    r = srv.request("GET", "/count")
    assert r.status == 200, r
    return int(r.body.split()[0].split(b"=")[1])


def test_simple_handle_failure_is_500(simple):
    n = simple_handled(simple)
    r = simple.request("GET", "/fail")
    assert r.status == 500, r
    assert simple.request("GET", "/").status == 200
    assert simple_handled(simple) == n + 3  # /fail, /, /count


def test_simple_body_limit(hornet_server, apps):
    srv = hornet_server(app=apps["simple"], config={"wsgi_max_body_size": "1KiB"})
    r = srv.request("POST", "/echo", body=b"a" * 1024)
    assert r.status == 200 and r.body == b"a" * 1024, r
    n = simple_handled(srv)
    r = srv.request("POST", "/echo", body=b"a" * 1025)
    assert r.status == 413, r
    with srv.connect() as c:
        c.send(build_request("POST", "/echo",
                             [("Transfer-Encoding", "chunked"), ("Connection", "close")])
               + chunked(b"b" * 3000, 500))
        assert c.read_response().status == 413
    # handle was not called for either (only for the /count request itself)
    assert simple_handled(srv) == n + 1


def test_simple_large_response(simple):
    n = 3 * 1024 * 1024 + 7
    r = simple.request("GET", "/big?bytes=%d" % n, timeout=30)
    assert r.status == 200 and len(r.body) == n
    assert r.body == (bytes(range(251)) * (n // 251 + 1))[:n]


def test_simple_repeated_headers(simple):
    r = simple.request("GET", "/headers")
    assert r.header_all("set-cookie") == ["a=1", "b=2"] and r.header("x-simple") == "yes", r


@pytest.mark.parametrize("code", [201, 204, 404, 503])
def test_simple_status(simple, code):
    r = simple.request("GET", "/status?code=%d" % code)
    assert r.status == code and r.body == b"", r


def test_simple_keepalive(simple):
    with simple.connect() as c:
        for i in range(10):
            r = c.request("POST", "/echo", body=b"%d" % i)
            assert r.body == b"%d" % i


def test_app_with_both_modes_defaults_to_events(hornet_server, apps):
    srv = hornet_server(app=apps["dual"])
    assert srv.request("GET", "/").body == b"event\n"
    assert srv.request("POST", "/", body=b"abc").body == b"event\n"


def test_app_mode_simple_config(hornet_server, apps):
    srv = hornet_server(app=apps["dual"], config={"app_mode": "simple"})
    assert srv.request("GET", "/").body == b"simple\n"


def test_app_flag_simple(hornet_server, apps):
    srv = hornet_server(app=apps.spec("dual", "app_flagged"))
    assert srv.request("GET", "/").body == b"simple\n"


# ---------------------------------------------------------------------------------------------
# the api table


def test_api_table(probe):
    r = probe.request("GET", "/api")
    fields = dict(kv.split("=") for kv in r.body.decode().split())
    assert fields["abi_version"] == "1"
    assert int(fields["size"]) >= int(fields["sizeof"]), fields
    assert fields["inits"] == "1", "init() called %s times in one worker" % fields["inits"]


def test_config_lookup(probe):
    r = probe.request("GET", "/config?key=workers")
    assert r.status == 200 and r.body == b"1", r
    r = probe.request("GET", "/config?key=application_path")
    assert r.status == 200 and b"libprobe.so" in r.body, r
    r = probe.request("GET", "/config?key=no_such_key")
    assert r.status == 404, r


def test_app_log_reaches_error_log(probe):
    probe.request("GET", "/misuse/body-before-start?id=log1")
    stderr_has(probe, "probe: body-before-start rc=-1")


# ---------------------------------------------------------------------------------------------
# read_pause: request-body backpressure the app chooses (tests/apps/readpause.c)


def fnv1a(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def test_read_pause_from_on_request_http1(hornet_server, apps):
    """Paused before the first body byte (in on_request): no on_body until the app resumes,
    and none from inside its read_pause(false) call; then the whole body, in order."""
    import threading
    srv = hornet_server(app=apps["readpause"], config={"read_timeout": "500ms"})
    body = os.urandom(256 * 1024)
    with Conn(srv.port) as c:
        sender = threading.Thread(target=c.send, args=(build_request(
            "POST", "/paused", [("Content-Length", str(len(body)))], body),), daemon=True)
        sender.start()
        wait_until(lambda: srv.request("GET", "/status").body.startswith(b"paused=1"), 10,
                   what="/paused to arrive")
        assert srv.request("GET", "/status").body == b"paused=1 received=0"
        assert srv.request("GET", "/resume").body == b"resumed"
        r = c.read_response(method="POST", timeout=30)
        sender.join(10)
    assert r.status == 200, r
    assert r.body.decode() == "%d %s violations=0" % (len(body), fnv1a(body))


def test_read_pause_holds_a_whole_http2_body_and_its_end(hornet_server, apps):
    """HTTP/2: DATA and END_STREAM that come while paused are held (no window given back for
    them); another stream is answered meanwhile; resuming delivers the body, then its end."""
    from hyperframe.frame import DataFrame, WindowUpdateFrame
    from test_h2 import RawH2, headers_frame, req_headers
    srv = hornet_server(app=apps["readpause"], config={"read_timeout": "500ms"})
    body = os.urandom(256 * 1024)
    with RawH2(srv.port) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/paused", "POST",
                                            extra=[("content-length", str(len(body)))]),
                             end_stream=False))
        for off in range(0, len(body), 16384):
            last = off + 16384 >= len(body)
            c.send(DataFrame(1, data=body[off:off + 16384], flags=["END_STREAM"] if last else []))
        # frames are read in order: once stream 3 is answered, stream 1's DATA and end were seen
        c.send(headers_frame(3, req_headers("/status")))
        st3 = c.stream(3)
        c.wait(lambda: st3.done, 10, what="/status")
        assert st3.data == b"paused=1 received=0", st3
        assert not any(isinstance(f, WindowUpdateFrame) and f.stream_id == 1 for f in c.frames)
        c.send(headers_frame(5, req_headers("/resume")))
        st1 = c.stream(1)
        c.wait(lambda: st1.done, 10, what="the paused request's answer")
    assert st1.status == 200 and st1.reset is None, st1
    assert st1.data.decode() == "%d %s violations=0" % (len(body), fnv1a(body))
