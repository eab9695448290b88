"""Lifespan (ASGI lifespan.* through hornet/app.h): STARTUP before a worker accepts, answered at
once or later from a timer; failure (LifespanFailureError) and timeout (LifespanTimeoutError)
stop the server with exit status 1; lifespan state reaches every request scope; SHUTDOWN runs
after the drain on stop, bounded by shutdown_timeout; an app without on_lifespan is fine.

The app is tests/apps/lifespan.c, steered by environment variables (LS_STARTUP, LS_SHUTDOWN,
LS_DELAY_MS, LS_MESSAGE) and writing its events to the file LS_MARKER ("PID EVENT" lines).
"""

import os
import signal
import time

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import (Conn, build_request, listening_inodes, pid_alive, wait_until)

pytestmark = requires_gcc

MESSAGE = "LS-TEST-FAILURE: database unreachable"


def marker_lines(path):
    """[(pid, event text)] from the marker file."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for ln in text.splitlines():
        pid, _, ev = ln.partition(" ")
        out.append((int(pid), ev))
    return out


def events(path, pid=None):
    return [ev for p, ev in marker_lines(path) if pid is None or p == pid]


def start(hornet_server, apps, tmp_path, env=None, config=None, **kw):
    marker = str(tmp_path / "marker.txt")
    e = {"LS_MARKER": marker}
    e.update(env or {})
    srv = hornet_server(app=apps["lifespan"], env=e, config=config, **kw)
    srv.marker = marker
    return srv


def expect_exit_1(srv, *needles, timeout=30):
    code = srv.wait_exit(timeout)
    err = srv.stderr_text()
    assert code == 1, "expected exit status 1, got %r; stderr:\n%s" % (code, err[-3000:])
    for n in needles:
        assert n in err, "%r not in stderr:\n%s" % (n, err[-3000:])
    wait_until(lambda: not srv.group_alive(), 10, what="no process of the server left")
    if srv.port:
        assert not listening_inodes(srv.port), "port %d still listening" % srv.port
    return err


# ---------------------------------------------------------------------------------------------
# startup


def test_startup_complete_then_serves(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path)
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body.startswith(b"lifespan started=1 startups=1 "), r
    (w,) = srv.workers()
    assert events(srv.marker, w)[:3] == ["init", "startup", "startup-answered ok rc=0"], \
        marker_lines(srv.marker)


def test_startup_failure(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, env={"LS_STARTUP": "fail"}, wait_ready=False)
    err = expect_exit_1(srv, "LifespanFailureError", MESSAGE)
    line = [ln for ln in err.splitlines() if "LifespanFailureError" in ln][0]
    assert MESSAGE in line, "the app's message is not on the LifespanFailureError line: %r" % line
    assert "startup" in events(srv.marker)


def test_startup_failure_from_timer(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_STARTUP": "fail_later", "LS_DELAY_MS": "200",
                     "LS_MESSAGE": "LS-TEST-LATER-FAILURE"}, wait_ready=False)
    expect_exit_1(srv, "LifespanFailureError", "LS-TEST-LATER-FAILURE")
    assert "startup-answered fail rc=0" in events(srv.marker), marker_lines(srv.marker)


def test_startup_failure_with_several_workers(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, env={"LS_STARTUP": "fail"},
                config={"workers": 3}, wait_ready=False)
    expect_exit_1(srv, "LifespanFailureError", MESSAGE)


def test_startup_failure_serves_nothing(hornet_server, apps, tmp_path):
    """While the startup fails, no request reaches the app (never a response)."""
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_STARTUP": "fail_later", "LS_DELAY_MS": "1000"}, wait_ready=False)
    got = []
    while srv.proc.poll() is None:
        try:
            with Conn(srv.port, timeout=2) as c:
                c.send(build_request("GET", "/", [("Connection", "close")]))
                got.append(c.read_response(timeout=2))
        except (OSError, EOFError, TimeoutError):
            pass
        time.sleep(0.05)
    expect_exit_1(srv, "LifespanFailureError")
    assert not any(r.status == 200 for r in got), got


def test_startup_timeout(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, env={"LS_STARTUP": "never"},
                config={"startup_timeout": "1s"}, wait_ready=False)
    expect_exit_1(srv, "LifespanTimeoutError")
    assert "startup" in events(srv.marker)


def test_startup_answered_later_from_timer(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_STARTUP": "later", "LS_DELAY_MS": "500"},
                config={"startup_timeout": "30s"}, ready_timeout=30)
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body.startswith(b"lifespan started=1 "), r
    (w,) = srv.workers()
    assert events(srv.marker, w)[:3] == ["init", "startup", "startup-answered ok rc=0"], \
        marker_lines(srv.marker)


def test_no_request_before_startup_completes(hornet_server, apps, tmp_path):
    """The worker accepts only once startup completed: the very first response says so."""
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_STARTUP": "later", "LS_DELAY_MS": "1500"},
                config={"startup_timeout": "30s"}, wait_ready=False)
    deadline = time.monotonic() + 30
    first = None
    while first is None and time.monotonic() < deadline:
        assert srv.proc.poll() is None, srv.stderr_text()
        try:
            with Conn(srv.port, timeout=20) as c:
                c.send(build_request("GET", "/", [("Connection", "close")]))
                first = c.read_response(timeout=20)
        except (OSError, EOFError):
            time.sleep(0.02)
    assert first is not None, "never served"
    assert first.status == 200 and first.body.startswith(b"lifespan started=1 "), first


def test_lifespan_state_in_every_request(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path)
    with srv.connect() as c:
        for _ in range(3):
            r = c.request("GET", "/state")
            assert r.status == 200 and r.body == b"state=same value=lifespan-state-42\n", r


def test_lifespan_state_set_from_timer(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_STARTUP": "later", "LS_DELAY_MS": "300"}, ready_timeout=30)
    r = srv.request("GET", "/state")
    assert r.status == 200 and r.body == b"state=same value=lifespan-state-42\n", r


def test_lifespan_state_with_several_workers(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, config={"workers": 2})
    srv.wait_workers(2)
    for _ in range(8):
        r = srv.request("GET", "/state")
        assert r.body == b"state=same value=lifespan-state-42\n", r


def test_startup_runs_in_every_worker(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, config={"workers": 2})
    workers = srv.wait_workers(2)
    wait_until(lambda: all("startup-answered ok rc=0" in events(srv.marker, w) for w in workers),
               10, what="startup in both workers")
    assert srv.stop() == 0
    for w in workers:
        evs = events(srv.marker, w)
        assert evs.count("startup") == 1 and evs.count("shutdown") == 1, (w, evs)


def test_respawned_worker_runs_startup(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path)
    (old,) = srv.workers()
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: [w for w in srv.workers() if w != old], 20,
                     what="a replacement worker")[0]
    wait_until(lambda: "startup-answered ok rc=0" in events(srv.marker, new), 20,
               what="startup in the new worker")
    r = srv.request("GET", "/state")
    assert r.body == b"state=same value=lifespan-state-42\n", r


def test_app_without_lifespan(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"startup_timeout": "1s"})
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body == b"probe\n"
    # well past startup_timeout: a missing on_lifespan is not a timeout
    time.sleep(1.5)
    assert srv.alive()
    assert srv.request("GET", "/").status == 200
    assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# shutdown


def test_shutdown_on_sigterm(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path)
    (w,) = srv.workers()
    assert "shutdown" not in events(srv.marker, w)
    assert srv.stop(signal.SIGTERM, timeout=20) == 0, srv.stderr_text()
    evs = events(srv.marker, w)
    assert evs[-3:] == ["shutdown", "shutdown state=same", "shutdown-answered ok rc=0"], evs
    assert evs.count("shutdown") == 1, evs


def test_shutdown_on_sigint(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path)
    (w,) = srv.workers()
    assert srv.stop(signal.SIGINT, timeout=20) == 0, srv.stderr_text()
    assert "shutdown-answered ok rc=0" in events(srv.marker, w)


def test_shutdown_after_drain(hornet_server, apps, tmp_path):
    """A request in flight when SIGTERM arrives completes first; SHUTDOWN comes after."""
    srv = start(hornet_server, apps, tmp_path, config={"graceful_timeout": "20s"})
    (w,) = srv.workers()
    with srv.connect(timeout=30) as c:
        c.send(build_request("GET", "/slow?ms=1500", [("Connection", "close")]))
        wait_until(lambda: "request-start" in events(srv.marker, w), 10,
                   what="the slow request to reach the app")
        srv.send_signal(signal.SIGTERM)
        r = c.read_response(timeout=30)
        assert r.status == 200 and r.body == b"slow\n", r
    assert srv.wait_exit(30) == 0, srv.stderr_text()
    evs = events(srv.marker, w)
    assert "request-end completed=1" in evs and "shutdown" in evs, evs
    assert evs.index("request-end completed=1") < evs.index("shutdown"), evs


def test_shutdown_answered_later(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_SHUTDOWN": "later", "LS_DELAY_MS": "500"})
    (w,) = srv.workers()
    assert srv.stop(signal.SIGTERM, timeout=20) == 0, srv.stderr_text()
    assert events(srv.marker, w)[-1] == "shutdown-answered ok rc=0", marker_lines(srv.marker)


def test_shutdown_timeout_bounds_stop(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path, env={"LS_SHUTDOWN": "never"},
                config={"shutdown_timeout": "1s"})
    (w,) = srv.workers()
    srv.send_signal(signal.SIGTERM)
    code = srv.wait_exit(20)
    assert code is not None, "no exit within 20s although shutdown_timeout is 1s"
    assert "shutdown" in events(srv.marker, w)
    wait_until(lambda: not pid_alive(w), 10, what="the worker to exit")


def test_shutdown_failure_is_logged(hornet_server, apps, tmp_path):
    srv = start(hornet_server, apps, tmp_path,
                env={"LS_SHUTDOWN": "fail", "LS_MESSAGE": "LS-TEST-SHUTDOWN-FAILURE"})
    (w,) = srv.workers()
    srv.send_signal(signal.SIGTERM)
    code = srv.wait_exit(20)
    assert code is not None, "no exit within 20s"
    assert "shutdown-answered fail rc=0" in events(srv.marker, w), marker_lines(srv.marker)
    assert "LS-TEST-SHUTDOWN-FAILURE" in srv.stderr_text(), srv.stderr_text()[-3000:]
