"""worker_stall_timeout (issue 14, defect 12): a worker whose loop has not beaten its heartbeat
for this long (SIGSTOP, an application call that never returns) gets a successor on its slot's
SO_REUSEPORT sockets, so the connections the kernel keeps hashing to that slot are accepted by
a live worker instead of waiting for worker_timeout. The stuck worker loses only what it had
accepted: if it comes back it finishes that and exits; if it never does, worker_timeout's
escalation still kills it. Before this, 5 of 10 new connections hung behind a stopped worker of
two for the whole worker_timeout (60 s)."""

import os
import re
import signal

from apps_fixture import apps, requires_gcc  # noqa: F401  (apps: a fixture)
from hornet_fixture import Conn, build_request, run_hornet, socket_inodes, tcp_entry, wait_until

HELLO = b"Hello, world!"
STALL = 2  # worker_stall_timeout of these tests: short, and above test_loop_stall's stalls


def server_inode(server_port, client_port):
    """The inode of the server's end of the connection from client_port."""
    p = tcp_entry(server_port, client_port)
    return int(p[9]) if p else None


def owner(srv, conn):
    """The worker that accepted conn, or None while nobody has."""
    inode = server_inode(srv.port, conn.sock.getsockname()[1])
    for pid in srv.workers():
        if inode in socket_inodes(pid):
            return pid
    return None


def conn_on_each_worker(srv, body=HELLO):
    """{worker pid: an open keep-alive connection it accepted and has answered once}. The
    kernel spreads connections across the slots' sockets by a hash of their addresses, so a
    few tries find both workers."""
    got, spare = {}, []
    for _ in range(64):
        c = srv.connect(timeout=20)
        r = c.request("GET", "/first")
        assert (r.status, r.body) == (200, body)
        pid = owner(srv, c)
        if pid is not None and pid not in got:
            got[pid] = c
        else:
            spare.append(c)
        if len(got) == len(srv.workers()):
            break
    for c in spare:
        c.close()
    assert len(got) == 2, "64 connections all went to one worker"
    return got


def wait_stall_logged(srv, pid):
    """Wait for the master to say it no longer routes to worker pid; returns its slot."""
    line = (r"\[ERROR\] master: worker (\d+) \(pid %d\): no heartbeat for [0-9.]+s "
            r"\(worker_stall_timeout %gs\); no longer routing connections to it, starting a "
            r"replacement$" % (pid, STALL))
    m = wait_until(lambda: re.search(line, srv.stderr_text(), re.M), 20,
                   what="the master to stop routing to worker %d" % pid)
    return int(m.group(1))


def twenty_new_connections_answered(srv, body=HELLO):
    """New connections one after another, a request on each: all answered, none hangs."""
    for i in range(20):
        with Conn(srv.port, timeout=10) as c:
            r = c.request("GET", "/new%d" % i, headers=[("Connection", "close")])
            assert (r.status, r.body) == (200, body), "connection %d: %r" % (i, r)


def is_stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def test_stopped_worker_gets_no_new_connections_and_leaves_gracefully(hornet_server):
    srv = hornet_server(config={"workers": 2, "worker_stall_timeout": STALL,
                                "keep_alive_timeout": "1m"})
    conns = conn_on_each_worker(srv)
    stuck, alive = sorted(conns)
    os.kill(stuck, signal.SIGSTOP)
    try:
        wait_until(lambda: is_stopped(stuck), 10, what="worker %d to stop" % stuck)
        # a request in flight on the stopped worker: it is that worker's to answer
        conns[stuck].send(build_request("GET", "/in-flight"))
        slot = wait_stall_logged(srv, stuck)
        twenty_new_connections_answered(srv)
        # the other worker's connections never noticed
        r = conns[alive].request("GET", "/meanwhile")
        assert (r.status, r.body) == (200, HELLO)
    finally:
        os.kill(stuck, signal.SIGCONT)
    # back, it answers what it had, then drains (the successor was ready: TERM is pending)
    r = conns[stuck].read_response()
    assert (r.status, r.body) == (200, HELLO)
    conns[stuck].assert_closed(timeout=20)
    wait_until(lambda: re.search(r"\[INFO\] master: replaced worker %d \(pid %d\) exited with "
                                 r"status 0$" % (slot, stuck), srv.stderr_text(), re.M), 20,
               what="the stopped worker to exit gracefully once continued")
    pids = srv.wait_workers(2)
    assert stuck not in pids and alive in pids
    r = conns[alive].request("GET", "/after")
    assert (r.status, r.body) == (200, HELLO)
    twenty_new_connections_answered(srv)
    log = srv.stderr_text()
    assert "worker_timeout" not in log, log  # routed around, never escalated
    assert not re.search(r"\[(ERROR|CRITICAL)\] worker", log), log
    assert srv.stop() == 0


def test_stuck_worker_that_never_wakes_loses_only_its_own_connection(hornet_server, apps):
    """An application call that never returns: the slot gets a successor at
    worker_stall_timeout, the stuck worker is killed at worker_timeout, and the one connection
    it was serving is all that is lost."""
    srv = hornet_server(app=apps.spec("stuck"),
                        config={"workers": 2, "worker_stall_timeout": STALL,
                                "worker_timeout": "5s", "keep_alive_timeout": "1m"})
    conns = conn_on_each_worker(srv, b"ok\n")
    stuck, alive = sorted(conns)
    victim, probe = conns[stuck], conns[alive]
    victim.send(build_request("GET", "/stuck"))
    slot = wait_stall_logged(srv, stuck)
    twenty_new_connections_answered(srv, b"ok\n")
    # keep-alive on the healthy worker, across the whole episode
    assert probe.request("GET", "/meanwhile").status == 200
    # never woken: worker_timeout's escalation still applies to the replaced worker
    killed = (r"\[ERROR\] master: replaced worker %d \(pid %d\) stopped by the watchdog "
              r"\(no heartbeat within worker_timeout 5s; it sent SIG(ABRT|KILL)\): killed by "
              r"signal (6|9) \(\w+\)(, core dumped|, no core dump)? while draining$"
              % (slot, stuck))
    wait_until(lambda: re.search(killed, srv.stderr_text(), re.M), 30,
               what="the watchdog to kill the stuck worker")
    victim.read_to_eof(timeout=20)  # its loss, and only its
    assert victim.buf == b""
    assert probe.request("GET", "/after").status == 200
    log = srv.stderr_text()
    assert re.search(r"replaced worker %d \(pid %d\): no heartbeat for [0-9.]+s "
                     r"\(worker_timeout 5s\); sending SIGTERM" % (slot, stuck), log), log
    pids = srv.wait_workers(2)
    assert stuck not in pids and alive in pids
    twenty_new_connections_answered(srv, b"ok\n")
    assert srv.stop() == 0


def check(tmp_path, text):
    path = tmp_path / "hornet.yaml"
    path.write_text(text)
    return run_hornet(["-t", "-c", str(path)]), str(path)


def test_config_errors(tmp_path):
    r, path = check(tmp_path, "worker_stall_timeout: -1s\n")
    assert r.returncode == 1
    assert ('%s:1:23: worker_stall_timeout: expected a duration such as 30s or 500ms, got "-1s"'
            % path) in r.stderr, r.stderr
    r, path = check(tmp_path, "worker_timeout: 10s\nworker_stall_timeout: 10s\n")
    assert r.returncode == 1
    assert ("%s:2:1: worker_stall_timeout: expected less than worker_timeout (10s), got 10s"
            % path) in r.stderr, r.stderr
    r, path = check(tmp_path, "worker_stall_timeout: 90s\n")  # worker_timeout's default: 60s
    assert r.returncode == 1
    assert "expected less than worker_timeout (60s), got 90s" in r.stderr, r.stderr
    r = run_hornet(["-t", "--worker-stall-timeout", "3s", "--worker-timeout", "2s"])
    assert r.returncode == 1
    assert ("worker_stall_timeout: expected less than worker_timeout (2s), got 3s"
            in r.stderr), r.stderr
    for ok in ("worker_stall_timeout: 0\n", "worker_stall_timeout: 9s\nworker_timeout: 10s\n",
               "worker_stall_timeout: 3s\nworker_timeout: 0\n"):
        r, _ = check(tmp_path, ok)
        assert r.returncode == 0, (ok, r.stderr)


def test_default_gives_way_to_a_short_worker_timeout(tmp_path):
    """worker_timeout alone at or below the default 5s (or 0) keeps the watchdog it always
    meant: the stall check is off rather than an error nobody asked for."""
    for wt, stall in (("3s", "0s"), ("0", "0s"), ("5s", "0s"), ("6s", "5s"), ("1m", "5s")):
        path = tmp_path / "hornet.yaml"
        path.write_text("worker_timeout: %s\n" % wt)
        r = run_hornet(["-t", "-c", str(path)])
        assert r.returncode == 0, r.stderr
        r = run_hornet(["--dump-config", "-c", str(path)])
        assert r.returncode == 0, r.stderr
        assert re.search(r"^worker_stall_timeout: %s$" % stall, r.stdout, re.M), (wt, r.stdout)
