"""Backpressure between the client and the app (on_pause / on_resume / HORNET_EAGAIN).

tests/apps/stream.c streams N bytes (byte at offset o is o % 251) in 64 KiB chunks, producing
only while not paused. A client that does not read must not make the worker buffer the whole
response: the worker's VmRSS stays bounded while the app sits paused; once the client reads,
the app resumes and every byte arrives exactly once, in order. The other way round, an app
that answers as the body arrives (/echo) is held back by the server too: HTTP/1.1 stops
reading, HTTP/2 stops giving back flow-control window.
"""

import os
import socket
import subprocess
import time

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hyperframe.frame import DataFrame

from hornet_fixture import build_request, pid_alive, wait_until
from test_h2 import S_INITIAL_WINDOW_SIZE, RawH2, headers_frame, req_headers

pytestmark = requires_gcc

MB = 1024 * 1024
TOTAL = 100 * MB
RSS_LIMIT_KB = 16 * 1024  # growth allowed while a client does not read
PATTERN = bytes(range(251)) * ((MB + 2 * 251) // 251 + 1)


def vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def stream_counters(srv):
    r = srv.request("GET", "/counters")
    assert r.status == 200, r
    out = {}
    for kv in r.body.decode().split():
        k, v = kv.split("=")
        out[k] = int(v)
    return out


def open_silent_client(srv, path, rcvbuf=64 * 1024):
    """A connection that sends one request and then does not read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(build_request("GET", path, [("Connection", "close")]))
    return s


def read_stream(s, total, timeout=180):
    """Read the response head and exactly `total` body bytes, checking each byte's value; then
    EOF (Connection: close). Returns the response head."""
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        data = s.recv(65536)
        assert data, "EOF before the response head; got %r" % buf[:300]
        buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"\r\ncontent-length: %d" % total in head.lower(), head
    off = 0

    def check(chunk):
        nonlocal off
        assert off + len(chunk) <= total, "more than %d body bytes" % total
        start = off % 251
        if chunk != PATTERN[start:start + len(chunk)]:
            bad = next(i for i in range(len(chunk)) if chunk[i] != PATTERN[start + i])
            raise AssertionError("wrong byte at offset %d: %d, expected %d"
                                 % (off + bad, chunk[bad], (off + bad) % 251))
        off += len(chunk)

    if body:
        check(body)
    while off < total:
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d bytes within %ss" % (off, total, timeout))
        s.settimeout(max(0.1, deadline - time.monotonic()))
        data = s.recv(MB)
        if not data:
            raise AssertionError("EOF after %d of %d bytes" % (off, total))
        check(data)
    s.settimeout(10)
    assert s.recv(1) == b"", "bytes after the announced body"
    return head


def sample_rss(pid, seconds, interval=0.1):
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, vmrss_kb(pid))
        time.sleep(interval)
    return peak


@pytest.fixture
def stream(hornet_server, apps):
    srv = hornet_server(app=apps["stream"])
    # warm up: one complete stream, so allocator pools exist before the baseline
    with open_silent_client(srv, "/stream?bytes=%d" % (4 * MB)) as s:
        read_stream(s, 4 * MB)
    (srv.worker,) = srv.workers()
    return srv


@pytest.mark.parametrize("resume", ["timer", "direct"])
def test_silent_client_pauses_app_and_memory_stays_bounded(stream, resume):
    base = vmrss_kb(stream.worker)
    before = stream_counters(stream)
    q = "" if resume == "timer" else "&resume=direct"
    s = open_silent_client(stream, "/stream?bytes=%d%s" % (TOTAL, q))
    try:
        wait_until(lambda: stream_counters(stream)["pauses"] > before["pauses"], 20,
                   what="on_pause while the client does not read")
        peak = sample_rss(stream.worker, 3)
        mid = stream_counters(stream)
        assert mid["paused_now"] == 1, mid
        assert mid["sent"] - before["sent"] < TOTAL // 2, \
            "the app wrote %d bytes to a client that reads nothing" % (mid["sent"] - before["sent"])
        assert peak - base < RSS_LIMIT_KB, \
            "worker VmRSS grew by %d KiB while the client did not read" % (peak - base)
        read_stream(s, TOTAL)
    finally:
        s.close()
    after = wait_until(lambda: (lambda c: c if c["completed"] > before["completed"] else None)(
        stream_counters(stream)), 10, what="the stream to complete")
    assert after["resumes"] > before["resumes"], after
    assert after["sent"] - before["sent"] == TOTAL, (before, after)
    assert after["errors"] == 0 and after["mismatch"] == 0, after
    assert stream.workers() == [stream.worker], "the worker was replaced"


def test_app_ignoring_pause_gets_eagain(stream):
    """An app that keeps writing after on_pause is stopped by HORNET_EAGAIN (nothing taken):
    memory stays bounded and no byte is lost or duplicated."""
    base = vmrss_kb(stream.worker)
    before = stream_counters(stream)
    s = open_silent_client(stream, "/stream?bytes=%d&ignore=1" % TOTAL)
    try:
        wait_until(lambda: stream_counters(stream)["eagain"] > before["eagain"], 20,
                   what="HORNET_EAGAIN while the client does not read")
        peak = sample_rss(stream.worker, 3)
        mid = stream_counters(stream)
        assert mid["pauses"] > before["pauses"], "EAGAIN without on_pause first: %r" % mid
        assert peak - base < RSS_LIMIT_KB, \
            "worker VmRSS grew by %d KiB while the client did not read" % (peak - base)
        assert mid["sent"] - before["sent"] < TOTAL // 2, mid
        read_stream(s, TOTAL)
    finally:
        s.close()
    after = wait_until(lambda: (lambda c: c if c["completed"] > before["completed"] else None)(
        stream_counters(stream)), 10, what="the stream to complete")
    assert after["sent"] - before["sent"] == TOTAL and after["errors"] == 0, after


def test_disconnect_while_paused(stream):
    before = stream_counters(stream)
    s = open_silent_client(stream, "/stream?bytes=%d" % TOTAL)
    wait_until(lambda: stream_counters(stream)["pauses"] > before["pauses"], 20,
               what="on_pause")
    s.close()
    after = wait_until(
        lambda: (lambda c: c if c["disc_false"] > before["disc_false"] else None)(
            stream_counters(stream)), 20, what="on_disconnect(completed=false)")
    assert after["paused_now"] == 0, after
    assert after["completed"] == before["completed"], after
    sent = after["sent"]
    time.sleep(0.5)
    assert stream_counters(stream)["sent"] == sent, "the app kept producing after the disconnect"
    assert pid_alive(stream.worker) and stream.workers() == [stream.worker]
    # and the worker still streams
    with open_silent_client(stream, "/stream?bytes=%d" % MB) as s2:
        read_stream(s2, MB)


def test_several_silent_clients(stream):
    base = vmrss_kb(stream.worker)
    before = stream_counters(stream)
    n, size = 5, 20 * MB
    socks = [open_silent_client(stream, "/stream?bytes=%d" % size) for _ in range(n)]
    try:
        wait_until(lambda: stream_counters(stream)["paused_now"] == n, 20,
                   what="all %d streams paused" % n)
        peak = sample_rss(stream.worker, 2)
        assert peak - base < 2 * RSS_LIMIT_KB, \
            "worker VmRSS grew by %d KiB with %d silent clients" % (peak - base, n)
        for s in socks:
            read_stream(s, size)
    finally:
        for s in socks:
            s.close()
    after = wait_until(
        lambda: (lambda c: c if c["completed"] - before["completed"] == n else None)(
            stream_counters(stream)), 10, what="all streams complete")
    assert after["errors"] == 0, after


def test_curl_downloads_everything(stream, tmp_path):
    out = str(tmp_path / "download.bin")
    size = 30 * MB
    p = subprocess.run(["curl", "-sS", "--max-time", "120", "--limit-rate", "20M", "-o", out,
                        "-w", "%{http_code} %{size_download}",
                        stream.url + "/stream?bytes=%d" % size],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=150)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "200 %d" % size
    assert os.path.getsize(out) == size
    with open(out, "rb") as f:
        off = 0
        while True:
            chunk = f.read(MB)
            if not chunk:
                break
            start = off % 251
            assert chunk == PATTERN[start:start + len(chunk)], "wrong bytes near %d" % off
            off += len(chunk)


@requires_gcc
def test_pipelined_streams_each_resume(hornet_server, apps):
    """Forty pipelined requests for streamed responses: each response after the first begins
    while the connection is still over its high-water mark with the previous one, so no
    pause is announced when it starts; when the app is refused (HORNET_EAGAIN) it must be
    told to pause and, once the queue drains, to resume. Every response arrives whole and
    the app's pauses and resumes pair up."""
    srv = hornet_server(app=apps.spec("stream"))
    n, size = 40, 300000
    burst = b"".join(build_request("GET", "/stream?bytes=%d" % size, [("X-Pad", "p" * 1000)])
                     for _ in range(n))
    with srv.connect(timeout=30) as c:
        c.send(burst)
        for i in range(n):
            r = c.read_response(timeout=30)
            assert (r.status, len(r.body)) == (200, size), i
            assert r.body[:251] == bytes(range(251))
    counters = dict(kv.split("=") for kv in srv.request(path="/counters").body.decode().split())
    assert counters["completed"] == str(n) and counters["mismatch"] == "0", counters
    assert counters["pauses"] == counters["resumes"], counters


def test_h2_upload_to_a_streaming_echo_is_held_back_by_flow_control(hornet_server, apps):
    """HTTP/2: a client uploads to /echo, which sends every chunk back as it arrives, and reads
    none of it (the server gets 1 KiB of window). Once the stream's output is stalled the
    server stops giving back window, so the upload stalls within the stream window (1 MiB)
    instead of the app queueing all of it. read_timeout (1 s) does not cut the stalled upload:
    the stall is the server's. Once the client reads, the whole body comes back, in order."""
    srv = hornet_server(app=apps["stream"], config={"read_timeout": "1s"})
    body = os.urandom(16 * MB)
    with RawH2(srv.port, settings={S_INITIAL_WINDOW_SIZE: 1024}) as c:
        c.handshake()
        c.send(headers_frame(1, req_headers("/echo", "POST"), end_stream=False))
        sent = c.send_windowed(1, body, stall=2.5)
        st = c.stream(1)
        assert sent < 3 * MB, "the server kept opening its window: %d bytes taken" % sent
        assert st.status == 200 and st.reset is None and not st.ended, st
        queued = stream_counters(srv)["echo_queue_max"]
        assert queued < 2 * MB, "the app queued %d bytes" % queued
        c.open_windows()
        deadline = time.monotonic() + 60
        while sent < len(body):
            assert time.monotonic() < deadline, "only %d of %d bytes sent" % (sent, len(body))
            sent += c.send_windowed(1, body[sent:], stall=0.2)
        c.send(DataFrame(1, data=b"", flags=["END_STREAM"]))
        c.wait(lambda: st.done, 60, what="the whole echo")
        assert st.ended and st.reset is None, st
        assert len(st.data) == len(body) and st.data == body
    c = stream_counters(srv)
    assert c["errors"] == 0 and c["completed"] >= 1, c
