"""A new binary without downtime (issue 14): on SIGUSR2 or `hornet -s upgrade` the master runs
the binary it was started from again; the new master inherits the listening sockets, starts its
workers beside the old ones, and only when they serve does the old master drain and exit. A new
binary that fails (exits, a broken configuration, never ready) leaves the old master serving and
the PID file where it was.

Each test runs its own copy of hornet, named hornet, so it can replace the file the way a
package upgrade does (a new file renamed over the old one) without touching the binary the
other tests use. Under load, LoopingClients counts every lost request and wrk every socket
error: both must stay at 0 across the upgrade. The valgrind run leaves this file out: there the
master is valgrind running hornet, and what it executes again is hornet without valgrind."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from apps_fixture import apps, gated_lifespan  # noqa: F401  (apps: a fixture)
from hornet_fixture import (LoopingClients, children, clean_env, hornet_bin, http_request,
                            listening_inodes, pid_alive, require_tool, requires_tool, to_yaml,
                            unix_listening_inodes, wait_until)

HELLO = b"Hello, world!"
# the binary under test, for `hornet -s`: the copies the servers run get replaced
CLIENT = hornet_bin()


def run_hornet(args, timeout=120):
    return subprocess.run([CLIENT] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), stdin=subprocess.DEVNULL)


@pytest.fixture
def binary(tmp_path, monkeypatch):
    """A private copy of hornet the test may replace; the servers it starts run it."""
    d = tmp_path / "bin"
    d.mkdir()
    path = d / "hornet"
    shutil.copy2(hornet_bin(), path)
    monkeypatch.setenv("HORNET_BIN", str(path))
    return path


def replace_binary(path, source=None, script=None):
    """Install a new file at path as a package manager does: written beside, renamed over."""
    tmp = str(path) + ".new"
    if script is not None:
        with open(tmp, "w") as f:
            f.write("#!/bin/sh\n" + script + "\n")
    else:
        shutil.copy2(source or hornet_bin(), tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def start(hornet_server, tmp_path, **extra):
    cfg = {"application_path": "builtin:hello", "workers": 2,
           "pid_path": str(tmp_path / "hornet.pid")}
    cfg.update(extra)
    return hornet_server(app=None, config=cfg)


def upgrade(srv, binary):
    """`hornet -s upgrade` for the server running (a copy at) binary."""
    return run_hornet(["-c", srv.config_path, "-s", "upgrade"])


def read_pid(srv):
    with open(srv.config["pid_path"]) as f:
        return int(f.read())


def last_line(path):
    try:
        with open(path) as f:
            return f.read().splitlines()[-1]
    except (OSError, IndexError):
        return ""


def stop_pid(pid):
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(pid), 30, what="pid %d to exit" % pid)


def new_master_of(p):
    m = re.search(r"upgrade ok new master pid (\d+)", p.stdout)
    assert p.returncode == 0 and m, (p.returncode, p.stdout, p.stderr)
    return int(m.group(1))


def serves(port):
    r = http_request(port, "GET", "/", timeout=10)
    return r.status == 200 and r.body == HELLO


@requires_tool("wrk")
def test_upgrade_under_load_loses_nothing(hornet_server, tmp_path, binary):
    srv = start(hornet_server, tmp_path)
    old_workers = set(srv.wait_workers(2))
    inodes = listening_inodes(srv.port)
    replace_binary(binary)
    wrk = subprocess.Popen([require_tool("wrk"), "-t2", "-c16", "-d8s",
                            "http://127.0.0.1:%d/" % srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with LoopingClients(srv.port, n=4) as clients:
            wait_until(lambda: clients.served >= 50, 20, what="the clients to be served")
            p = upgrade(srv, binary)
            new = new_master_of(p)
            assert new != srv.pid
            assert read_pid(srv) == new
            # the old master drains its workers and exits by itself, with 0
            assert srv.wait_exit(30) == 0, srv.stderr_text()
            assert not os.path.exists(srv.config["pid_path"] + ".oldbin")
            assert wrk.poll() is None, "wrk ended before the upgrade did: the load missed it"
            served = clients.served
            wait_until(lambda: clients.served >= served + 50, 20,
                       what="the new master's workers to serve the clients")
        out, _ = wrk.communicate(timeout=30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
    try:
        assert clients.errors == []
        assert "Socket errors" not in out and "Non-2xx" not in out, out
        assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
        new_workers = set(children(new))
        assert len(new_workers) == 2 and not new_workers & old_workers
        # the very sockets, inherited, not bound again
        assert listening_inodes(srv.port) == inodes
        assert "upgrade complete: new master pid %d serves" % new in srv.stderr_text()
        with open(srv.config["pid_path"] + ".upgrade") as f:
            assert f.read().splitlines()[-1] == "1 ok new master pid %d" % new
    finally:
        stop_pid(new)
    assert not os.path.exists(srv.config["pid_path"])


def test_failing_binary_leaves_the_old_master_serving(hornet_server, tmp_path, binary):
    srv = start(hornet_server, tmp_path)
    workers = set(srv.wait_workers(2))
    good = str(binary) + ".good"
    shutil.copy2(binary, good)
    replace_binary(binary, script='echo "broken build" >&2; exit 1')
    with LoopingClients(srv.port, n=4) as clients:
        wait_until(lambda: clients.served >= 20, 20, what="the clients to be served")
        p = upgrade(srv, binary)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "upgrade failed: the new master (pid" in p.stderr
        assert "exited before its workers were ready" in p.stderr
        served = clients.served
        wait_until(lambda: clients.served >= served + 20, 20, what="serving on")
    assert clients.errors == []
    assert srv.alive() and set(srv.workers()) == workers
    assert read_pid(srv) == srv.pid
    assert not os.path.exists(srv.config["pid_path"] + ".oldbin")
    assert "broken build" in srv.stderr_text()
    # nothing is left half-done: the next upgrade, to a good binary, goes through
    replace_binary(binary, source=good)
    new = new_master_of(upgrade(srv, binary))
    assert srv.wait_exit(30) == 0
    assert serves(srv.port)
    stop_pid(new)


def test_missing_binary_is_reported(hornet_server, tmp_path, binary):
    srv = start(hornet_server, tmp_path)
    os.rename(binary, str(binary) + ".moved")
    p = run_hornet(["-c", srv.config_path, "-s", "upgrade"], timeout=60)
    assert p.returncode == 1
    assert re.search(r"upgrade failed: the new master \(pid \d+\): cannot execute %s: No such "
                     r"file or directory" % re.escape(str(binary)), p.stderr), p.stderr
    assert srv.alive() and serves(srv.port) and read_pid(srv) == srv.pid


def test_broken_configuration_is_refused_by_the_new_master(hornet_server, tmp_path, binary):
    srv = start(hornet_server, tmp_path)
    with open(srv.config_path, "a") as f:
        f.write("keep_alive_timeout: soon\n")
    # by the PID file alone: `-s upgrade -c FILE` would refuse the file itself
    p = run_hornet(["-p", srv.config["pid_path"], "-s", "upgrade"])
    assert p.returncode == 1
    line = len(to_yaml(srv.config).splitlines()) + 1
    assert re.search(r"upgrade failed: the new master \(pid \d+\): %s:%d:\d+: keep_alive_timeout"
                     % (re.escape(srv.config_path), line), p.stderr), p.stderr
    assert srv.alive() and serves(srv.port) and read_pid(srv) == srv.pid
    # the status files are still the old master's: a reload reports as before
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(srv.config))
    r = run_hornet(["-c", srv.config_path, "-s", "reload"], timeout=60)
    assert r.returncode == 0 and "reload ok generation 1" in r.stdout, (r.stdout, r.stderr)


def test_new_master_not_ready_in_time_is_killed(hornet_server, tmp_path, binary):
    srv = start(hornet_server, tmp_path, startup_timeout=1)
    replace_binary(binary, script="exec sleep 120")
    p = upgrade(srv, binary)
    assert p.returncode == 1
    m = re.search(r"upgrade failed: the new master \(pid (\d+)\) was not ready within 6s", p.stderr)
    assert m, p.stderr
    wait_until(lambda: not pid_alive(int(m.group(1))), 10, what="the hung new master killed")
    assert srv.alive() and serves(srv.port) and read_pid(srv) == srv.pid


def test_upgrade_keeps_unix_sockets_and_takes_the_new_worker_count(hornet_server, tmp_path,
                                                                  binary):
    sock = str(tmp_path / "h.sock")
    port = None
    srv = start(hornet_server, tmp_path)
    port = srv.port
    cfg = dict(srv.config, bind=["127.0.0.1:%d" % port, "unix:" + sock])
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))
    r = run_hornet(["-c", srv.config_path, "-s", "reload"], timeout=60)
    assert r.returncode == 0, r.stderr
    tcp, unix = listening_inodes(port), unix_listening_inodes(sock)
    assert len(tcp) == 2 and len(unix) == 1
    cfg["workers"] = 3
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))
    new = new_master_of(upgrade(srv, binary))
    assert srv.wait_exit(30) == 0
    try:
        assert len(children(new)) == 3
        # the two slots' sockets and the unix socket are the old master's; one is new
        after = listening_inodes(port)
        assert tcp < after and len(after) == 3
        assert unix_listening_inodes(sock) == unix
        assert stat.S_ISSOCK(os.stat(sock).st_mode), "the old master removed the socket file"
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(sock)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(HELLO), data
        assert serves(port)
        # what runs is the new master's configuration
        r = run_hornet(["-c", srv.config_path, "--dump-config=running"])
        assert r.stdout.startswith("# the configuration hornet master pid %d serves with: "
                                   "generation 2," % new), r.stdout
        assert "\nworkers: 3\n" in r.stdout
        # the new master upgrades again: the numbering of the status file goes on
        new2 = new_master_of(upgrade(srv, binary))
        wait_until(lambda: not pid_alive(new), 30, what="the second old master to exit")
        with open(cfg["pid_path"] + ".upgrade") as f:
            assert f.read().splitlines()[-2:] == ["1 ok new master pid %d" % new,
                                                 "2 ok new master pid %d" % new2]
        new = new2
    finally:
        stop_pid(new)
    assert not os.path.exists(sock)


def test_upgrade_waits_for_the_new_workers_and_refuses_meanwhile(hornet_server, apps, tmp_path,
                                                                   binary):
    """The old master hands over only when every new worker has finished its lifespan
    startup; meanwhile a reload or a second upgrade is refused with the reason, and the old
    workers serve. An upgrade while a worker of the old master is starting is refused too."""
    gate = tmp_path / "gate"
    pid_path = str(tmp_path / "hornet.pid")
    srv = gated_lifespan(hornet_server, apps, gate, config={"workers": 1, "pid_path": pid_path})
    (old_worker,) = srv.wait_workers(1)
    # a worker that has not finished starting: no upgrade now
    srv.send_signal(signal.SIGTTIN)
    wait_until(lambda: len(children(srv.pid)) == 2, 10, what="the added worker")
    p = upgrade(srv, binary)
    assert p.returncode == 1
    assert "upgrade failed: worker 1 is starting or being replaced; try again" in p.stderr, \
        p.stderr
    assert read_pid(srv) == srv.pid
    gate.touch()
    wait_until(lambda: not gate.exists(), 10, what="the added worker's startup")
    srv.send_signal(signal.SIGTTOU)
    wait_until(lambda: len(children(srv.pid)) == 1, 20, what="the added worker to go")

    # the new master's worker waits at the gate: the upgrade is in progress
    srv.send_signal(signal.SIGUSR2)
    wait_until(lambda: os.path.exists(pid_path) and read_pid(srv) != srv.pid, 20,
               what="the new master's PID file")
    new = read_pid(srv)
    assert open(pid_path + ".oldbin").read().strip() == str(srv.pid)
    # the PID file names the new master now: these go to the old one by its pid
    srv.send_signal(signal.SIGHUP)
    wait_until(lambda: last_line(pid_path + ".status").startswith("1 refused"), 10,
               what="the reload's outcome")
    assert last_line(pid_path + ".status") == ("1 refused: a binary upgrade is in progress: "
                                               "the new master reads the configuration as "
                                               "it starts")
    srv.send_signal(signal.SIGUSR2)
    wait_until(lambda: last_line(pid_path + ".upgrade").startswith("3 "), 10,
               what="the second upgrade's outcome")
    assert last_line(pid_path + ".upgrade") == "3 failed: an upgrade is already in progress"
    assert http_request(srv.port, "GET", "/", timeout=10).status == 200
    assert srv.alive() and children(srv.pid) == [old_worker]
    gate.touch()
    assert srv.wait_exit(30) == 0
    try:
        assert read_pid(srv) == new and len(children(new)) == 1
        assert http_request(srv.port, "GET", "/", timeout=10).status == 200
        assert not os.path.exists(pid_path + ".oldbin")
        with open(pid_path + ".upgrade") as f:
            assert f.read().splitlines() == [
                "0 started",
                "1 failed: worker 1 is starting or being replaced; try again in a moment",
                "2 ok new master pid %d" % new,
                "3 failed: an upgrade is already in progress"]
    finally:
        stop_pid(new)


def test_systemd_hears_of_the_new_main_process(hornet_server, tmp_path, binary):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(20)
        cfg = {"application_path": "builtin:hello", "workers": 1,
               "pid_path": str(tmp_path / "hornet.pid")}
        srv = hornet_server(app=None, config=cfg, env={"NOTIFY_SOCKET": path})
        msgs = []

        def heard(pred):
            while True:
                msg = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines()
                           if "=" in line)
                msgs.append(msg)
                if pred(msg):
                    return msg

        heard(lambda m: m.get("READY") == "1")
        new = new_master_of(upgrade(srv, binary))
        # the new master's own READY (it has NOTIFY_SOCKET back), and the old one's handover
        heard(lambda m: m.get("READY") == "1" and m.get("MAINPID") == str(new))
        handover = heard(lambda m: "MAINPID" in m and m["MAINPID"] == str(new) and
                         "READY" not in m)
        assert handover["STATUS"] == "upgraded: new master pid %d" % new
        assert srv.wait_exit(30) == 0
        # all it sent is here by now: nothing of stopping, the service goes on
        sock.setblocking(False)
        try:
            heard(lambda m: False)
        except BlockingIOError:
            pass
        assert not any(m.get("STOPPING") for m in msgs), msgs
        stop_pid(new)


def test_upgrade_under_socket_activation(tmp_path, binary):
    """Sockets systemd passed (fd://NAME through LISTEN_FDNAMES) stay the listeners: the new
    master gets LISTEN_PID naming itself, and the same descriptors."""
    from test_socket_activation import _listener, _start_activated
    web, admin = _listener(), _listener()
    port = admin.getsockname()[1]
    pid_path = str(tmp_path / "hornet.pid")
    proc, log = _start_activated(
        tmp_path, "application_path: builtin:hello\nbind: fd://admin\npid_path: %s\n" % pid_path,
        [web, admin], ["web", "admin"])
    web.close()
    admin.close()
    new = None
    try:
        wait_until(lambda: "worker(s) ready" in log.read_text(), 15, what="hornet to start")
        inodes = listening_inodes(port)
        p = run_hornet(["-p", pid_path, "-s", "upgrade"])
        new = new_master_of(p)
        assert proc.wait(30) == 0
        assert "[%d] [INFO] master: Running on fd://admin" % new in log.read_text()
        assert serves(port) and listening_inodes(port) == inodes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if new:
            stop_pid(new)
