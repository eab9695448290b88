"""The master process: per-worker SO_REUSEPORT listeners, unix sockets, PID file, signals
(graceful and immediate stop), worker respawn, bind errors, error-log line format."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from hornet_fixture import (Conn, build_request, free_port, listening_inodes, pid_alive,
                            port_accepts, require_tool, requires_tool, run_hornet, socket_inodes,
                            unix_listening_inodes, wait_until)

HELLO = b"Hello, world!"
LOG_LINE = re.compile(r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] \[(\d+)\] "
                      r"\[([A-Z]+)\] (master|worker[^:]*): ", re.M)


# ---------------------------------------------------------------------------------------------
# listening sockets


def listener_owners(srv, n):
    """Wait until the port has n listening sockets and each of the n workers holds exactly one,
    a different one (a just-forked worker may not have closed its siblings' copies yet).
    Returns ({worker pid: inode}, set of inodes)."""
    state = {}

    def settled():
        workers = srv.workers()
        socks = listening_inodes(srv.port)
        held = {w: socket_inodes(w) & socks for w in workers}
        state.update(workers=workers, socks=socks, held=held)
        if len(workers) != n or len(socks) != n:
            return False
        if not all(len(h) == 1 for h in held.values()):
            return False
        return len({min(h) for h in held.values()}) == n

    try:
        wait_until(settled, 10, what="one listener per worker")
    except AssertionError:
        raise AssertionError("listeners on port %d never settled to one per worker: %r"
                             % (srv.port, state))
    return {w: min(h) for w, h in state["held"].items()}, state["socks"]


def test_one_reuseport_socket_per_worker(hornet_server):
    srv = hornet_server(config={"workers": 2})
    owners, socks = listener_owners(srv, 2)
    assert len(set(owners.values())) == 2
    # the master keeps copies of every slot's socket
    assert socks <= socket_inodes(srv.pid), "master does not hold every listening socket"


def test_ss_shows_two_listeners(hornet_server):
    require_tool("ss")
    srv = hornet_server(config={"workers": 2})
    srv.wait_workers(2)
    out = subprocess.run(["ss", "-ltnH", "sport", "= :%d" % srv.port], stdout=subprocess.PIPE,
                         text=True, timeout=10).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 2, out


def test_four_workers_four_sockets(hornet_server):
    srv = hornet_server(config={"workers": 4})
    owners, socks = listener_owners(srv, 4)
    assert sorted(owners.values()) == sorted(socks)


def test_unix_socket_shared_by_workers(hornet_server):
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "s.sock")
    try:
        srv = hornet_server(config={"workers": 2, "bind": ["unix:" + path]})
        workers = srv.wait_workers(2)
        inodes = unix_listening_inodes(path)
        assert len(inodes) == 1, inodes
        for w in workers:
            assert inodes <= socket_inodes(w), "worker %d lacks the unix listener" % w
        for _ in range(5):
            with Conn(unix_path=path) as c:
                r = c.request()
                assert r.status == 200 and r.body == HELLO
        assert srv.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_tcp_and_unix_together(hornet_server):
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "s.sock")
    port = free_port()
    try:
        hornet_server(config={"bind": ["127.0.0.1:%d" % port, "unix:" + path]})
        with Conn(unix_path=path) as c:
            assert c.request().body == HELLO
        with Conn(port) as c:
            assert c.request().body == HELLO
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# bind errors


def test_bind_address_in_use(hornet_server):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        srv = hornet_server(config={"bind": ["127.0.0.1:%d" % port], "workers": 2},
                            wait_ready=False)
        code = srv.wait_exit(15)
        assert code == 1, "exit status %r\n%s" % (code, srv.stderr_text())
        assert "127.0.0.1:%d" % port in srv.stderr_text()
        # it failed before forking: no worker ever logged anything
        assert not re.search(r"\] worker", srv.stderr_text()), srv.stderr_text()
        assert not srv.group_alive(), "processes left behind after a bind failure"
    finally:
        blocker.close()


def test_bind_in_use_second_address(hornet_server):
    """The first address binds, the second fails: still exit 1 naming the second one."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    ok = free_port()
    try:
        srv = hornet_server(config={"bind": ["127.0.0.1:%d" % ok, "127.0.0.1:%d" % busy]},
                            wait_ready=False)
        assert srv.wait_exit(15) == 1, srv.stderr_text()
        assert "127.0.0.1:%d" % busy in srv.stderr_text()
        assert not port_accepts(ok)
    finally:
        blocker.close()


@requires_tool("setpriv")
def test_bind_permission_denied():
    """A privileged port as an unprivileged user: exit 1 naming the address."""
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        if int(f.read()) <= 80:
            pytest.skip("port 80 is not privileged here")
    from hornet_fixture import clean_env, hornet_bin
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all"]
    else:
        cmd = []
    cmd += [hornet_bin(), "-b", "127.0.0.1:80", "-w", "1", "builtin:hello"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=20, cwd="/", env=clean_env(), start_new_session=True)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "127.0.0.1:80" in p.stderr


# ---------------------------------------------------------------------------------------------
# PID file


def test_pid_file_written_and_removed(hornet_server, tmp_path):
    pidfile = tmp_path / "hornet.pid"
    srv = hornet_server(config={"pid_path": str(pidfile)})
    assert pidfile.read_text() == "%d\n" % srv.pid
    assert srv.stop() == 0
    assert not pidfile.exists()


def test_pid_file_from_cli(hornet_server, tmp_path):
    pidfile = tmp_path / "cli.pid"
    srv = hornet_server(args=["-p", str(pidfile)])
    assert pidfile.read_text() == "%d\n" % srv.pid
    assert srv.stop() == 0
    assert not pidfile.exists()


def test_pid_file_refuses_second_instance(hornet_server, tmp_path):
    pidfile = tmp_path / "hornet.pid"
    first = hornet_server(config={"pid_path": str(pidfile)})
    second = hornet_server(config={"pid_path": str(pidfile)}, wait_ready=False)
    code = second.wait_exit(15)
    assert code == 1, "second instance exit %r\n%s" % (code, second.stderr_text())
    err = second.stderr_text().lower()
    assert "already running" in err or "pid" in err, err
    # the first one is untouched: still serving, its PID file intact
    assert first.request().body == HELLO
    assert pidfile.read_text() == "%d\n" % first.pid
    assert not port_accepts(second.port)


def test_stale_pid_file_is_replaced(hornet_server, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not pid_alive(dead.pid)
    pidfile = tmp_path / "hornet.pid"
    pidfile.write_text("%d\n" % dead.pid)
    srv = hornet_server(config={"pid_path": str(pidfile)})
    assert pidfile.read_text() == "%d\n" % srv.pid
    assert srv.stop() == 0
    assert not pidfile.exists()


def test_pid_file_naming_a_worker_of_another_hornet_is_stale(hornet_server, tmp_path):
    """The pid was reused by a worker of another server: no master runs under this file."""
    other = hornet_server()
    pidfile = tmp_path / "hornet.pid"
    pidfile.write_text("%d\n" % other.wait_workers(1)[0])
    srv = hornet_server(config={"pid_path": str(pidfile)})
    assert pidfile.read_text() == "%d\n" % srv.pid
    assert other.request().body == HELLO


def test_garbage_pid_file_is_replaced(hornet_server, tmp_path):
    pidfile = tmp_path / "hornet.pid"
    pidfile.write_text("not a pid\n")
    srv = hornet_server(config={"pid_path": str(pidfile)})
    assert pidfile.read_text() == "%d\n" % srv.pid


def test_pid_file_not_written_by_config_test(tmp_path):
    pidfile = tmp_path / "t.pid"
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text('bind: ["127.0.0.1:%d"]\npid_path: "%s"\n' % (free_port(), pidfile))
    p = run_hornet(["-t", "-c", str(cfg)])
    assert p.returncode == 0, p.stderr
    assert not pidfile.exists()


# ---------------------------------------------------------------------------------------------
# stopping


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(hornet_server, sig):
    srv = hornet_server(config={"workers": 2})
    workers = srv.wait_workers(2)
    assert srv.stop(sig, timeout=15) == 0, srv.stderr_text()
    for w in workers:
        wait_until(lambda: not pid_alive(w), 5, what="worker %d to exit" % w)
    assert not srv.group_alive()
    assert not port_accepts(srv.port)


def test_stop_closes_idle_keepalive_connections(hornet_server):
    """An idle keep-alive connection does not hold up shutdown."""
    srv = hornet_server(config={"graceful_timeout": "30s", "keep_alive_timeout": "60s"})
    with Conn(srv.port) as c:
        assert c.request().status == 200
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        c.assert_closed(timeout=20)
        code = srv.wait_exit(20)
        # had the idle connection counted as in flight, exit would wait for graceful_timeout
        assert code == 0, (code, time.monotonic() - t0, srv.stderr_text())


def test_graceful_stop_finishes_slow_upload(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"graceful_timeout": "30s"})
    body = bytes(i % 251 for i in range(100000))
    piece = len(body) // 10
    with Conn(srv.port, timeout=30) as c:
        # the 100 Continue proves a worker holds the request before the signal is sent
        c.send(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
               b"Expect: 100-continue\r\n\r\n" % len(body))
        assert c.read_response().status == 100
        for i in range(10):
            c.send(body[i * piece:(i + 1) * piece])
            if i == 2:
                srv.send_signal(signal.SIGTERM)
            time.sleep(0.2)
        r = c.read_response(timeout=30)
    assert r.status == 200
    assert r.body.startswith(b"POST /slow HTTP/1.1\n")
    assert r.body.endswith(b"\n\n" + body)
    assert srv.wait_exit(30) == 0, srv.stderr_text()
    assert not port_accepts(srv.port)
    assert not srv.group_alive()


def test_graceful_stop_does_not_accept_new_work_after_exit(hornet_server):
    srv = hornet_server(config={"workers": 2})
    srv.wait_workers(2)
    assert srv.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()


def test_graceful_timeout_bounds_shutdown(hornet_server):
    """A request that never completes is cut off after graceful_timeout."""
    srv = hornet_server(app="builtin:echo", config={"graceful_timeout": "1s",
                                                    "keep_alive_timeout": "120s",
                                                    "read_timeout": "120s"})
    with Conn(srv.port, timeout=30) as c:
        start_in_flight_request(c, b"only part")
        srv.send_signal(signal.SIGTERM)
        code = srv.wait_exit(20)
        assert code is not None, "master still running 20s after SIGTERM with graceful_timeout 1s"
        assert code == 0, srv.stderr_text()
        data = c.read_to_eof(timeout=10)
        assert not data.startswith(b"HTTP/1.1 200"), data[:100]
    assert not srv.group_alive()


def start_in_flight_request(c, part):
    """Send a request head and part of its body, knowing a worker has the request: it
    answered Expect: 100-continue (without that, a signal could beat the accept())."""
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n"
           b"Expect: 100-continue\r\n\r\n")
    assert c.read_response().status == 100
    c.send(part)


def _wait_stopped_accepting(port, timeout=3):
    """Best effort: wait until connects to port fail (evidence the stop began)."""
    try:
        wait_until(lambda: not port_accepts(port, timeout=0.5), timeout)
    except AssertionError:
        pass


def test_second_sigint_stops_at_once(hornet_server):
    srv = hornet_server(app="builtin:echo", config={"graceful_timeout": "120s",
                                                    "read_timeout": "300s",
                                                    "keep_alive_timeout": "300s"})
    with Conn(srv.port, timeout=30) as c:
        start_in_flight_request(c, b"part")
        srv.send_signal(signal.SIGINT)
        _wait_stopped_accepting(srv.port)
        # standard signals do not queue: make sure the first was taken before sending the second
        time.sleep(0.5)
        assert srv.alive(), "master exited on the first SIGINT with a request in flight:\n" + \
            srv.stderr_text()
        srv.send_signal(signal.SIGINT)
        code = srv.wait_exit(20)
        assert code is not None, "master still running 20s after a second SIGINT"
        data = c.read_to_eof(timeout=10)
        assert not data.startswith(b"HTTP/1.1 200")
    wait_until(lambda: not srv.group_alive(), 10, what="workers to be gone")


def test_sigterm_with_active_keepalive_traffic(hornet_server):
    """Requests in a tight loop during shutdown either complete or see the connection close;
    none gets a broken response."""
    srv = hornet_server(config={"workers": 2, "graceful_timeout": "10s"})
    errors = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                with Conn(srv.port, timeout=10) as c:
                    for _ in range(20):
                        c.send(build_request())
                        r = c.read_response()
                        if r.status != 200 or r.body != HELLO:
                            errors.append(r)
            except (OSError, EOFError):
                return  # closed: fine during shutdown
            except Exception as e:  # a bad response
                errors.append(e)
                return

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    code = srv.stop(signal.SIGTERM, timeout=20)
    stop.set()
    for t in threads:
        t.join(30)
    assert code == 0
    assert not errors, errors[:3]


# ---------------------------------------------------------------------------------------------
# respawn


def test_killed_worker_is_respawned(hornet_server):
    srv = hornet_server(config={"workers": 2})
    before = srv.wait_workers(2)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    after = wait_until(lambda: (lambda w: w if len(w) == 2 and victim not in w else None)(
        srv.workers()), 15, what="a replacement worker")
    assert before[1] in after
    new = [w for w in after if w not in before]
    assert len(new) == 1
    # the replacement owns the dead slot's listening socket
    owners, _ = listener_owners(srv, 2)
    assert new[0] in owners
    for _ in range(20):
        r = srv.request()
        assert r.status == 200 and r.body == HELLO
    assert srv.alive()


def test_requests_during_respawn_are_not_refused(hornet_server):
    """Connections that land on the dead worker's socket wait in its backlog."""
    srv = hornet_server(config={"workers": 2})
    before = srv.wait_workers(2)
    os.kill(before[0], signal.SIGKILL)
    for _ in range(30):
        r = srv.request(timeout=20)
        assert r.status == 200 and r.body == HELLO
    srv.wait_workers(2, timeout=15)


def test_repeated_kills_are_respawned(hornet_server):
    srv = hornet_server(config={"workers": 1})
    for _ in range(3):
        (victim,) = srv.wait_workers(1)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: (lambda w: len(w) == 1 and victim not in w)(srv.workers()), 30,
                   what="replacement of %d" % victim)
        assert srv.request(timeout=20).body == HELLO
    assert srv.stop() == 0


def test_crashed_worker_logged(hornet_server):
    """The death, its signal and the respawn in one ERROR line; the new pid at NOTICE."""
    srv = hornet_server(config={"workers": 1})
    (victim,) = srv.wait_workers(1)
    os.kill(victim, signal.SIGKILL)
    # within a second of its start a death counts as a failed start: a back-off then
    died = re.compile(r"\[ERROR\] master: worker 0 \(pid %d\) killed by signal 9 \(Killed\); "
                      r"respawning it (now|in 0\.1s \(failure 1 of 5 right after starting\))$"
                      % victim, re.M)
    wait_until(lambda: died.search(srv.stderr_text()), 15,
               what="the master to log the death of worker %d and its respawn" % victim)
    (new,) = srv.wait_workers(1, timeout=15)
    assert new != victim
    wait_until(lambda: re.search(r"\[NOTICE\] master: worker 0 respawned as pid %d$" % new,
                                 srv.stderr_text(), re.M), 15, what="the respawn's new pid")


# ---------------------------------------------------------------------------------------------
# error log


def test_error_log_line_format(hornet_server):
    srv = hornet_server(config={"loglevel": "info"})
    wait_until(lambda: "master:" in srv.stderr_text(), what="a master log line")
    text = srv.stderr_text()
    lines = LOG_LINE.findall(text)
    assert lines, "no log line in the expected format:\n" + text
    master_lines = [l for l in lines if l[2] == "master"]
    assert master_lines, text
    assert all(int(pid) == srv.pid for pid, _, _ in master_lines), text
    assert all(level in ("DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRIT",
                         "CRITICAL") for _, level, _ in lines), text


def test_error_logfile_option(hornet_server, tmp_path):
    log = tmp_path / "error.log"
    srv = hornet_server(args=["--error-logfile", str(log), "--log-level", "info"])
    wait_until(lambda: log.exists() and "master:" in log.read_text(), what="error log written")
    assert LOG_LINE.search(log.read_text()), log.read_text()
    assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# unix socket files and PID file corner cases


def test_unix_socket_file_removed_on_exit(hornet_server):
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "s.sock")
    try:
        srv = hornet_server(config={"bind": ["unix:" + path]})
        assert os.path.exists(path)
        assert srv.stop() == 0
        assert not os.path.exists(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_stale_unix_socket_file_is_replaced(hornet_server):
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "s.sock")
    try:
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)  # bound, never listening, closed: what a crashed server leaves
        s.close()
        srv = hornet_server(config={"bind": ["unix:" + path]})
        with Conn(unix_path=path) as c:
            assert c.request().body == HELLO
        assert srv.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unix_path_that_is_a_regular_file_is_not_clobbered(hornet_server):
    d = tempfile.mkdtemp(prefix="hn-", dir="/tmp")
    path = os.path.join(d, "data.txt")
    try:
        with open(path, "w") as f:
            f.write("precious\n")
        srv = hornet_server(config={"bind": ["unix:" + path]}, wait_ready=False)
        assert srv.wait_exit(15) == 1, srv.stderr_text()
        assert path in srv.stderr_text()
        with open(path) as f:
            assert f.read() == "precious\n"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_pid_file_naming_live_non_hornet_process_is_replaced(hornet_server, tmp_path):
    """Only a live *hornet* blocks the start; a recycled PID of another program does not."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        pidfile = tmp_path / "hornet.pid"
        pidfile.write_text("%d\n" % other.pid)
        srv = hornet_server(config={"pid_path": str(pidfile)})
        assert pidfile.read_text() == "%d\n" % srv.pid
    finally:
        other.kill()
        other.wait()
