"""worker_timeout: a worker whose event loop is stuck gets TERM (which a stuck loop cannot
read), then ABRT, then KILL; it is logged with its slot and pid and replaced, and its death is
logged as the watchdog's doing."""
import re

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import Conn, build_request, children, wait_until


def test_stuck_worker_is_killed_and_replaced(hornet_server, apps, tmp_path):
    srv = hornet_server(app=apps.spec("stuck"), config={"worker_timeout": "3s"},
                        args=[], env=None)
    first = children(srv.pid)
    assert len(first) == 1
    with Conn(srv.port, timeout=30) as c:
        c.send(build_request("GET", "/stuck"))
        wait_until(lambda: "sending SIGABRT" in srv.stderr_text(), 20,
                   what="the watchdog to escalate to SIGABRT")
        c.read_to_eof(timeout=20)  # the stuck worker is gone: its connection closes
    pid = first[0]
    # the connection closes when the worker's descriptors do; the master logs the death
    # once it reaps the process, which can come later (a core dump under valgrind is slow)
    # ABRT, or KILL when the core takes longer than the watchdog's next step
    killed = (r"\[ERROR\] master: worker 0 \(pid %d\) stopped by the watchdog \(no heartbeat "
              r"within worker_timeout 3s; it sent SIG(ABRT|KILL)\): killed by signal (6|9) "
              r"\(\w+\)(, core dumped|, no core dump)?; respawning it now$" % pid)
    wait_until(lambda: re.search(killed, srv.stderr_text(), re.M), 20,
               what="the master to report the worker killed by the watchdog")
    log = srv.stderr_text()
    assert re.search(r"worker 0 \(pid %d\): no heartbeat for [0-9.]+s \(worker_timeout 3s\); "
                     r"sending SIGTERM" % pid, log), log
    wait_until(lambda: children(srv.pid) and children(srv.pid) != first, 20,
               what="a replacement worker")
    r = srv.request()
    assert (r.status, r.body) == (200, b"ok\n")
    assert srv.stop() == 0


def test_worker_that_drains_after_the_watchdogs_term(hornet_server, apps):
    """A loop stuck past worker_timeout that comes back reads the watchdog's TERM, drains and
    exits 0: the master says the watchdog stopped it, not only "exited with status 0"."""
    srv = hornet_server(app=apps.spec("stuck"), config={"worker_timeout": "3s"})
    (pid,) = children(srv.pid)
    with Conn(srv.port, timeout=30) as c:
        r = c.request("GET", "/stuck-until-term")
        assert (r.status, r.body) == (200, b"ok\n")
    line = (r"\[ERROR\] master: worker 0 \(pid %d\) stopped by the watchdog \(no heartbeat "
            r"within worker_timeout 3s; it sent SIGTERM\): exited with status 0; respawning it now$"
            % pid)
    wait_until(lambda: re.search(line, srv.stderr_text(), re.M), 20,
               what="the master to blame the watchdog")
    wait_until(lambda: children(srv.pid) and children(srv.pid) != [pid], 20,
               what="a replacement worker")
    assert srv.request().status == 200
    assert srv.stop() == 0


def test_busy_but_healthy_workers_are_left_alone(hornet_server, apps):
    srv = hornet_server(app=apps.spec("stuck"), config={"worker_timeout": "3s"})
    first = children(srv.pid)
    for _ in range(50):
        assert srv.request().status == 200
    wait_until(lambda: "ready" in srv.stderr_text(), 5, what="startup")
    assert children(srv.pid) == first
    assert "no heartbeat" not in srv.stderr_text()
