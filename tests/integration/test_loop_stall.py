"""A worker whose event loop stalls past a connection's deadline (a slow application call, a
stopped process) must serve what the client sent meanwhile, not expire the deadline first and
reset a connection whose request is already in the socket buffer (issue 14, defect 4: under
wrk, a 6 s stall gave 14 read errors). libev runs expired timers before the I/O of the same
iteration, and a stopped worker wakes to its timers before it hears of the bytes at all. And
the keep-alive time after an answer runs from when the answer was written, not queued: a stall
(or a slow reader) that holds it in our queue does not use up the client's idle time.

Most tests stop the only worker with SIGSTOP just past the deadlines they arm (the stall has
to be time, so it is bounded: about TIMEOUT + STALL_MARGIN), send the late bytes, wait until
they sit in the server's receive queue, and let the worker run; others hold the loop in the
application instead. Connections that sent nothing across the same stall are the controls:
their deadlines still close them."""

import contextlib
import os
import signal
import socket
import time

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401  (apps: a fixture)
from hornet_fixture import build_request, tcp_entry, wait_until
from test_h2 import H2Client, server_tcp_state, tls_cfg, worker_pid
from tls_fixture import requires_openssl, tls_certs  # noqa: F401  (a fixture)

TIMEOUT = 1.0       # keep_alive_timeout, request_head_timeout and read_timeout of these tests
STALL_MARGIN = 0.5  # how far past the last deadline the worker stays stopped


def rx_queue(server_port, client_port):
    """Bytes waiting unread in the server's end of the connection from client_port."""
    p = tcp_entry(server_port, client_port)
    if p is None:
        raise AssertionError("no connection %d -> %d" % (client_port, server_port))
    return int(p[4].split(":")[1], 16)


def client_port(sock):
    return sock.getsockname()[1]


def wait_read(srv, sock):
    """The worker has taken every byte sent on sock (so its deadline is armed)."""
    wait_until(lambda: rx_queue(srv.port, client_port(sock)) == 0, 10,
               what="the worker to read what was sent")
    return time.monotonic()


def wait_queued(srv, sock):
    """The bytes just sent on sock sit in the (stopped) worker's receive queue."""
    wait_until(lambda: rx_queue(srv.port, client_port(sock)) > 0, 10,
               what="the late bytes to reach the server")


def is_stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@contextlib.contextmanager
def stopped(srv):
    """The only worker is stopped (SIGSTOP) for the body of the with."""
    pid = worker_pid(srv)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: is_stopped(pid), 10, what="worker %d to stop" % pid)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def stalled(srv, armed):
    """The worker is stopped until every deadline armed by `armed` (monotonic time) has
    passed; the body of the with sends the late bytes; leaving it lets the worker run."""
    with stopped(srv):
        left = armed + TIMEOUT + STALL_MARGIN - time.monotonic()
        if left > 0:
            time.sleep(left)  # the stall itself: a time, bounded by the deadlines
        yield


def timeouts(**extra):
    cfg = {"keep_alive_timeout": TIMEOUT, "request_head_timeout": TIMEOUT,
           "read_timeout": TIMEOUT}
    cfg.update(extra)
    return cfg


HEAD = b"GET /late HTTP/1.1\r\nHost: x\r\n"
POST = b"POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n"


def test_http1_late_bytes_are_served_and_silent_connections_time_out(hornet_server):
    srv = hornet_server(app="builtin:echo", config=timeouts())
    kept, idle, head, body, stuck_head, stuck_body = (srv.connect() for _ in range(6))
    for c in (kept, idle):
        assert c.request("GET", "/first").status == 200
    head.send(HEAD)
    body.send(POST + b"half")
    stuck_head.send(HEAD)
    stuck_body.send(POST + b"half")
    armed = max(wait_read(srv, c.sock) for c in (kept, idle, head, body, stuck_head, stuck_body))

    with stalled(srv, armed):
        kept.send(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        head.send(b"\r\n")
        body.send(b"done")
        for c in (kept, head, body):
            wait_queued(srv, c.sock)

    # the keep-alive deadline passed with a request waiting: answered, not reset
    r = kept.read_response()
    assert r.status == 200 and r.body.startswith(b"GET /late HTTP/1.1"), r
    # request_head_timeout passed with the rest of the head waiting
    r = head.read_response()
    assert r.status == 200 and r.body.startswith(b"GET /late HTTP/1.1"), r
    # read_timeout passed with the rest of the body waiting
    r = body.read_response()
    assert r.status == 200 and r.body.endswith(b"halfdone"), r
    # the controls sent nothing: the same deadlines still apply
    idle.assert_closed()
    assert stuck_head.read_response().status == 408
    assert stuck_body.read_response().status == 408
    for c in (kept, head, body):
        assert c.request("GET", "/again").status == 200  # still kept alive
    for c in (kept, idle, head, body, stuck_head, stuck_body):
        c.close()


def test_http2_late_frames_are_served_and_silent_connections_time_out(hornet_server):
    srv = hornet_server(app="builtin:echo", config=timeouts())
    kept, idle, body, stuck = (H2Client(srv.port) for _ in range(4))
    for c in (kept, idle):
        assert c.get("/first").status == 200
    body_sid = body.request("POST", "/late", end_stream=False)
    body.send_body(body_sid, b"half", end_stream=False)
    stuck_sid = stuck.request("POST", "/late", end_stream=False)
    stuck.send_body(stuck_sid, b"half", end_stream=False)
    armed = max(wait_read(srv, c.sock) for c in (kept, idle, body, stuck))

    with stalled(srv, armed):
        kept_sid = kept.request("GET", "/late")
        body.send_body(body_sid, b"done")
        for c in (kept, body):
            wait_queued(srv, c.sock)

    # the idle deadline passed with a request waiting: answered, no GOAWAY before it
    st = kept.streams[kept_sid]
    kept.wait(lambda: st.done, what="the late request's answer")
    assert st.status == 200 and kept.terminated is None, (st, kept.terminated)
    # read_timeout passed with the stream's last DATA waiting
    st = body.streams[body_sid]
    body.wait(lambda: st.done, what="the late body's answer")
    assert st.status == 200 and bytes(st.data).endswith(b"halfdone"), st
    # the controls: the idle connection gets its GOAWAY, the stalled body its 408
    idle.wait(lambda: idle.terminated is not None, what="GOAWAY on the idle connection")
    assert idle.terminated.error_code == 0, idle.terminated
    st = stuck.streams[stuck_sid]
    stuck.wait(lambda: st.done, what="408 for the body that never came")
    assert st.status == 408, st
    for c in (kept, body):
        assert c.get("/again").status == 200
    for c in (kept, idle, body, stuck):
        c.close()


@requires_openssl
def test_tls_late_records_are_served_and_silent_connections_time_out(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config=tls_cfg(tls_certs, **timeouts()))
    kept, idle = srv.connect(), srv.connect()
    kept_h2, idle_h2 = H2Client(srv.port, tls=True), H2Client(srv.port, tls=True)
    for c in (kept, idle):
        assert c.request("GET", "/first").status == 200
    for c in (kept_h2, idle_h2):
        assert c.alpn == "h2" and c.get("/first").status == 200
    armed = max(wait_read(srv, c.sock) for c in (kept, idle, kept_h2, idle_h2))

    with stalled(srv, armed):
        kept.send(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        sid = kept_h2.request("GET", "/late")
        for c in (kept, kept_h2):
            wait_queued(srv, c.sock)

    r = kept.read_response()
    assert r.status == 200 and r.body.startswith(b"GET /late HTTP/1.1"), r
    st = kept_h2.streams[sid]
    kept_h2.wait(lambda: st.done, what="the late request's answer")
    assert st.status == 200 and kept_h2.terminated is None, (st, kept_h2.terminated)
    idle.assert_closed()
    idle_h2.wait(lambda: idle_h2.terminated is not None, what="GOAWAY on the idle connection")
    for c in (kept, idle, kept_h2, idle_h2):
        c.close()


@requires_gcc
def test_a_slow_application_call_does_not_expire_requests_sent_during_it(hornet_server, apps):
    """The loop is held by the application, not stopped: when the call returns, the waiting
    request and the expired keep-alive timer are reported in the same loop iteration, and
    libev runs the timer first."""
    srv = hornet_server(app=apps.spec("stuck"), config=timeouts())
    kept, idle, blocker = srv.connect(), srv.connect(), srv.connect()
    kept_h2 = H2Client(srv.port)
    for c in (kept, idle):
        assert c.request("GET", "/first").status == 200
    assert kept_h2.get("/first").status == 200
    armed = max(wait_read(srv, c.sock) for c in (kept, idle, kept_h2))

    ms = int((armed + TIMEOUT + STALL_MARGIN - time.monotonic()) * 1000)
    blocker.send(build_request("GET", "/block?ms=%d" % max(ms, 0)))
    wait_read(srv, blocker.sock)  # taken: the worker is in the application now
    kept.send(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
    sid = kept_h2.request("GET", "/late")
    for c in (kept, kept_h2):
        wait_queued(srv, c.sock)

    assert blocker.read_response().status == 200
    assert kept.read_response().status == 200
    st = kept_h2.streams[sid]
    kept_h2.wait(lambda: st.done, what="the late request's answer")
    assert st.status == 200 and kept_h2.terminated is None, (st, kept_h2.terminated)
    idle.assert_closed()
    for c in (kept, idle, blocker, kept_h2):
        c.close()


@requires_gcc
def test_a_response_held_back_by_a_stall_gets_its_full_keep_alive_time(hornet_server, apps):
    """Requests read in the same loop iteration as a slow application call: their answers are
    queued before or after the call but written only after it. The keep-alive time must run
    from the write, so each client can send its next request on receiving its answer; run
    from the queueing (or from the loop's time before the call), it had expired by then and
    the connection was closed under the client's next request."""
    srv = hornet_server(app=apps.spec("stuck"), config=timeouts())
    kept, blocker = srv.connect(), srv.connect()
    kept_h2 = H2Client(srv.port)
    assert kept_h2.get("/first").status == 200
    with stopped(srv):  # so that the worker reads all three requests in one iteration
        kept.send(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        sid = kept_h2.request("GET", "/held")
        blocker.send(build_request("GET", "/block?ms=%d" % ((TIMEOUT + STALL_MARGIN) * 1000)))
        for c in (kept, kept_h2, blocker):
            wait_queued(srv, c.sock)

    assert kept.read_response().status == 200
    assert kept.request("GET", "/next").status == 200
    st = kept_h2.streams[sid]
    kept_h2.wait(lambda: st.done, what="the held answer")
    assert st.status == 200 and kept_h2.terminated is None, (st, kept_h2.terminated)
    assert kept_h2.get("/next").status == 200 and kept_h2.terminated is None, kept_h2.terminated
    assert blocker.read_response().status == 200
    for c in (kept, blocker, kept_h2):
        c.close()


@pytest.fixture
def big_file(tmp_path):
    data = os.urandom(1 << 20) * 12  # more than loopback's socket buffers hold
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "small.txt").write_bytes(b"small\n")
    return tmp_path, data


def test_a_slow_reader_gets_the_whole_response_and_one_that_stopped_is_closed(hornet_server,
                                                                              big_file):
    """The keep-alive time of an answer runs from when the socket last took bytes of it: a
    client that reads a large answer for longer than keep_alive_timeout gets all of it (it
    was cut off keep_alive_timeout after the answer was queued), and one that stops reading
    is still closed once keep_alive_timeout has passed without progress."""
    root, data = big_file
    srv = hornet_server(app="builtin:static", config=timeouts(static_root=str(root)))
    slow, stuck = srv.connect(), srv.connect()
    for c in (slow, stuck):
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    start = time.monotonic()
    head = slow.read_until(b"\r\n\r\n", start + 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    got = len(slow.buf)
    slow.buf = b""
    rate = len(data) / (2 * TIMEOUT)  # bytes a second: the whole answer takes 2 x the timeout
    while got < len(data):
        # a client slower than the server: the pace is the scenario, not a wait for an event
        time.sleep(max(0.0, start + got / rate - time.monotonic()))
        chunk = slow.sock.recv(1 << 16)
        assert chunk, "cut off after %d of %d bytes, %.1fs in" % (got, len(data),
                                                                  time.monotonic() - start)
        got += len(chunk)
    assert time.monotonic() - start > TIMEOUT
    assert slow.request("GET", "/small.txt").body == b"small\n"  # and still kept alive
    # the client that never read: closed (its answer abandoned) once it made no progress
    wait_until(lambda: server_tcp_state(srv.port, client_port(stuck.sock)) != "01", 10,
               what="the server to give up on the client that stopped reading")
    for c in (slow, stuck):
        c.close()
