"""slowhttptest (Debian) against one worker for 20 s each: slowloris (heads that never end)
and slow bodies (R-U-Dead-Yet). The worker must answer normal requests promptly the whole
time; slowloris connections are cut off by keep_alive_timeout, slow bodies by read_timeout."""

import subprocess
import threading
import time

import pytest

from hornet_fixture import Conn, requires_tool

SLOWHTTPTEST = "slowhttptest"
pytestmark = requires_tool(SLOWHTTPTEST)


class Prober(threading.Thread):
    """A normal client: a fresh connection and one GET every 0.2 s, timing each answer."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.times, self.failures = [], []

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with Conn(self.port, timeout=5) as c:
                    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    r = c.read_response(timeout=5)
                    if r.status != 200 or not r.body.startswith(b"GET / HTTP/1.1"):
                        self.failures.append(repr(r))
            except OSError as e:
                self.failures.append(repr(e))
            self.times.append(time.monotonic() - t0)
            self.stop.wait(0.2)


@pytest.mark.parametrize("mode", [
    ["-H"],                                            # slowloris: endless headers
    ["-B", "-s", "8192", "-t", "POST"],                # slow body: a byte now and then
])
def test_worker_keeps_answering_under_slow_clients(hornet_server, mode):
    # builtin:echo waits for the whole body, so slow bodies hold their connections
    srv = hornet_server(app="builtin:echo", config={"workers": 1, "read_timeout": "5s"})
    prober = Prober(srv.port)
    prober.start()
    try:
        p = subprocess.run([SLOWHTTPTEST, "-c", "1000", "-i", "3", "-r", "200", "-x", "24",
                            "-p", "3", "-l", "20", "-u", "http://127.0.0.1:%d/" % srv.port]
                           + mode, capture_output=True, timeout=90)
    finally:
        prober.stop.set()
        prober.join(10)
    out = p.stdout.decode(errors="replace")
    assert "service available" in out, out[-2000:]
    assert not prober.failures, prober.failures[:5]
    assert len(prober.times) >= 20, len(prober.times)
    slow = sorted(prober.times)[-1]
    assert slow < 2.0, "a normal request waited %.2f s" % slow
    assert srv.workers() and srv.alive()
