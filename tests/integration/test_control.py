"""Managing a running hornet: `hornet -s stop|quit|reopen|reload` through the PID file
(reload waits for the outcome and fails when the reload was refused), and systemd's notify
protocol (READY, RELOADING with MONOTONIC_USEC, STATUS, ERRNO, STOPPING). `-s upgrade` is
test_upgrade.py's."""
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest
import yaml

from apps_fixture import SRCDIR, apps, gated_lifespan  # noqa: F401  (registers the fixture)
from hornet_fixture import (children, clean_env, free_port, hornet_bin, pid_alive,
                            require_tool, run_hornet, to_yaml, wait_until, write_config)

HELLO = b"Hello, world!"


def control(srv, name):
    return run_hornet(["-c", srv.config_path, "-s", name], timeout=60)


def start(hornet_server, tmp_path, **extra):
    cfg = {"application_path": "builtin:hello", "pid_path": str(tmp_path / "hornet.pid")}
    cfg.update(extra)
    return hornet_server(app=None, config=cfg)


def rewrite(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    write_config(srv.config_path, cfg)


def test_s_reload_reports_success(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path)
    before = set(children(srv.pid))
    rewrite(srv, include_server_header=False)
    p = control(srv, "reload")
    assert p.returncode == 0, p.stderr
    assert "reload ok generation 1" in p.stdout
    assert srv.request().header("server") is None
    wait_until(lambda: not set(children(srv.pid)) & before, 20, what="the old workers to go")


def test_s_reload_reports_a_refusal(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path)
    rewrite(srv, application_path=str(tmp_path / "missing.so"))
    p = control(srv, "reload")
    assert p.returncode == 1
    assert "reload refused" in p.stderr and "NoAppError" in p.stderr, p.stderr
    r = srv.request()
    assert (r.status, r.body) == (200, HELLO)


def running_config(srv):
    p = run_hornet(["-c", srv.config_path, "--dump-config=running"])
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()[0], yaml.safe_load(p.stdout)


def test_dump_config_running_shows_what_runs_after_a_refused_reload(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path, keep_alive_timeout="5s")
    head, cfg = running_config(srv)
    assert head.startswith("# the configuration hornet master pid %d serves with: "
                           "generation 0, since " % srv.pid), head
    assert cfg["keep_alive_timeout"] == "5s" and cfg["application_path"] == "builtin:hello"
    # the file now says one thing and the master runs another
    rewrite(srv, keep_alive_timeout="7s", application_path=str(tmp_path / "missing.so"))
    assert control(srv, "reload").returncode == 1
    p = run_hornet(["-c", srv.config_path, "--dump-config"])
    assert yaml.safe_load(p.stdout)["keep_alive_timeout"] == "7s"
    head, cfg = running_config(srv)
    assert cfg["keep_alive_timeout"] == "5s" and cfg["application_path"] == "builtin:hello"
    assert "generation 0" in head
    rewrite(srv, keep_alive_timeout="7s")
    assert control(srv, "reload").returncode == 0
    head, cfg = running_config(srv)
    assert cfg["keep_alive_timeout"] == "7s" and "generation 1" in head, head
    # the output is a configuration file a master starts with
    again = tmp_path / "again.yaml"
    again.write_text(run_hornet(["-c", srv.config_path, "--dump-config=running"]).stdout)
    assert run_hornet(["-t", "-c", str(again)]).returncode == 0
    srv.stop()
    p = run_hornet(["-c", srv.config_path, "--dump-config=running"])
    assert p.returncode == 1
    assert "hornet.pid.config: No such file or directory (is hornet running" in p.stderr


def test_dump_config_running_usage(hornet_server, tmp_path):
    p = run_hornet(["--dump-config=now"])
    assert p.returncode == 2
    assert "--dump-config=now: expected --dump-config or --dump-config=running" in p.stderr
    p = run_hornet(["--dump-config=running"])
    assert p.returncode == 1 and "no pid_path" in p.stderr, p.stderr


def test_s_reload_past_the_status_file_of_a_killed_master(hornet_server, tmp_path):
    """A master killed with -9 leaves PID_PATH.status naming attempts the next master never
    makes: that one starts the file afresh, or -s reload would wait for them."""
    (tmp_path / "hornet.pid.status").write_text("57 ok generation 3\n")
    srv = start(hornet_server, tmp_path)
    rewrite(srv, include_server_header=False)
    p = control(srv, "reload")
    assert (p.returncode, p.stdout) == (0, "hornet: reload ok generation 1\n"), p.stderr


def test_s_reload_with_a_broken_file_fails_before_signalling(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path)
    rewrite(srv, workers="lots")
    p = control(srv, "reload")
    assert p.returncode == 1
    assert "workers: expected" in p.stderr
    assert "SIGHUP" not in srv.stderr_text()
    assert srv.request().status == 200


def test_s_quit_stops_gracefully_and_waits(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path)
    pid_path = srv.config["pid_path"]
    p = control(srv, "quit")
    assert p.returncode == 0, p.stderr
    assert srv.wait_exit(10) == 0  # already gone: -s quit waited for the exit
    assert not os.path.exists(pid_path)
    assert "SIGTERM received" in srv.stderr_text()


def test_s_stop_is_the_fast_stop(hornet_server, tmp_path):
    srv = start(hornet_server, tmp_path)
    p = control(srv, "stop")
    assert p.returncode == 0, p.stderr
    assert srv.wait_exit(10) == 0
    assert "SIGQUIT received" in srv.stderr_text()


def test_s_reopen_reopens_the_logs(hornet_server, tmp_path):
    log = tmp_path / "error.log"
    srv = start(hornet_server, tmp_path, errorlog=str(log))
    wait_until(lambda: log.exists() and "ready" in log.read_text(), 10, what="the error log")
    os.rename(log, tmp_path / "error.log.1")
    p = control(srv, "reopen")
    assert p.returncode == 0, p.stderr
    wait_until(lambda: log.exists() and "log files reopened" in log.read_text(), 10,
               what="a new error log")


def test_s_reopen_past_the_reopen_file_of_a_killed_master(hornet_server, tmp_path):
    """PID_PATH.reopen keeps its attempts as PID_PATH.status does: the next master starts it
    afresh, and each reopen adds "N reopening", then its outcome."""
    (tmp_path / "hornet.pid.reopen").write_text("57 ok\n")
    srv = start(hornet_server, tmp_path)
    for _ in range(2):
        p = control(srv, "reopen")
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert (tmp_path / "hornet.pid.reopen").read_text() == "0 started\n1 ok\n2 ok\n"


def test_s_without_a_pid_file(hornet_bin, tmp_path):
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text("workers: 1\n")
    p = run_hornet(["-c", str(cfg), "-s", "reload"])
    assert p.returncode == 1 and "pid_path" in p.stderr
    p = run_hornet(["-c", str(cfg), "-s", "bogus"])
    assert p.returncode == 2 and "expected stop, quit, reopen, reload or upgrade" in p.stderr


def untouched(pid):
    """Alive with no signal pending: what kill() sends is pending until the target runs, so a
    process that was signalled either is gone or shows it in SigPnd/ShdPnd."""
    if not pid_alive(pid):
        return False
    with open("/proc/%d/status" % pid) as f:
        pending = [line.split()[1] for line in f if line.startswith(("SigPnd:", "ShdPnd:"))]
    return len(pending) == 2 and all(int(mask, 16) == 0 for mask in pending)


@pytest.mark.parametrize("name", ["stop", "quit", "reopen", "reload"])
def test_s_refuses_a_pid_file_naming_another_program(tmp_path, name):
    """The master was killed -9 and its PID reused: -s signals nothing and says why."""
    other = subprocess.Popen(["sleep", "600"])
    try:
        pid_path = tmp_path / "hornet.pid"
        pid_path.write_text("%d\n" % other.pid)
        cfg = tmp_path / "hornet.yaml"
        cfg.write_text(to_yaml({"pid_path": str(pid_path)}))
        p = run_hornet(["-c", str(cfg), "-s", name])
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "pid %d from %s is not a hornet master" % (other.pid, pid_path) in p.stderr, \
            p.stderr
        assert "sleep 600" in p.stderr and "not signalled" in p.stderr, p.stderr
        assert untouched(other.pid)
    finally:
        other.kill()
        other.wait()


def test_s_refuses_a_pid_file_naming_a_worker(hornet_server, tmp_path):
    """A worker has the master's command line (forked, not executed): still not a master."""
    srv = start(hornet_server, tmp_path, workers=2)
    worker = srv.wait_workers(2)[0]
    with open(srv.config["pid_path"], "w") as f:
        f.write("%d\n" % worker)
    p = control(srv, "stop")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "is not a hornet master but a worker of pid %d" % srv.pid in p.stderr, p.stderr
    assert untouched(worker) and worker in srv.workers()
    assert srv.request().status == 200


def test_s_with_a_stale_pid_file(tmp_path):
    """No process at all: the file is stale; nothing to signal, exit 1."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    pid_path = tmp_path / "hornet.pid"
    pid_path.write_text("%d\n" % dead.pid)
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text(to_yaml({"pid_path": str(pid_path)}))
    p = run_hornet(["-c", str(cfg), "-s", "stop"])
    assert p.returncode == 1
    assert "pid %d from %s: No such process" % (dead.pid, pid_path) in p.stderr, p.stderr


def notify_socket(tmp_path):
    """A NOTIFY_SOCKET to hand hornet: (path, socket)."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    return path, sock


def notify_message(sock):
    """The next sd_notify datagram as a dict, past the STATUS= lines the master sends every
    few seconds while it serves (and WATCHDOG=1 pings)."""
    while True:
        msg = dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines()
                   if "=" in line)
        periodic = set(msg) <= {"STATUS", "WATCHDOG"} and \
            msg.get("STATUS", "serving:").startswith("serving:")
        if not periodic:
            return msg


def test_systemd_notify_protocol(hornet_server, tmp_path):
    path, sock = notify_socket(tmp_path)
    try:
        srv = hornet_server(app=None, config={"application_path": "builtin:hello", "workers": 2},
                            env={"NOTIFY_SOCKET": path})

        ready = notify_message(sock)
        assert ready.get("READY") == "1" and ready.get("MAINPID") == str(srv.pid), ready
        assert "serving with 2 worker(s)" in ready.get("STATUS", "")
        srv.send_signal(signal.SIGHUP)
        reloading = notify_message(sock)
        assert reloading.get("RELOADING") == "1", reloading
        assert int(reloading["MONOTONIC_USEC"]) <= time.clock_gettime_ns(
            time.CLOCK_MONOTONIC) // 1000
        done = notify_message(sock)
        assert done.get("READY") == "1" and "generation 1" in done.get("STATUS", ""), done

        rewrite(srv, application_path=str(tmp_path / "missing.so"))
        srv.send_signal(signal.SIGHUP)
        assert notify_message(sock).get("RELOADING") == "1"
        refused = notify_message(sock)
        assert refused.get("READY") == "1" and "ERRNO" in refused, refused
        assert refused["STATUS"].startswith("reload refused: NoAppError"), refused

        srv.send_signal(signal.SIGTERM)
        assert notify_message(sock).get("STOPPING") == "1"
        assert srv.wait_exit(20) == 0
    finally:
        sock.close()


def test_systemd_hears_ready_after_the_reload_that_follows(hornet_server, apps, tmp_path):
    """A HUP during a reload makes one more: READY=1, which ends a reload job under
    Type=notify-reload, waits for that one, so the job ends with the reload that read its
    edit."""
    path, sock = notify_socket(tmp_path)
    try:
        gate = tmp_path / "gate"
        srv = gated_lifespan(hornet_server, apps, gate, env={"NOTIFY_SOCKET": path})
        assert notify_message(sock).get("READY") == "1"
        srv.send_signal(signal.SIGHUP)
        assert notify_message(sock).get("RELOADING") == "1"
        wait_until(lambda: "starting generation 1" in srv.stderr_text(), 20, what="reload 1")
        srv.send_signal(signal.SIGHUP)
        wait_until(lambda: srv.stderr_text().count("SIGHUP received") == 2, 20,
                   what="the second SIGHUP")
        gate.touch()
        first = notify_message(sock)
        assert "READY" not in first and "generation 1" in first.get("STATUS", ""), first
        assert notify_message(sock).get("RELOADING") == "1"
        gate.touch()
        done = notify_message(sock)
        assert done.get("READY") == "1" and "generation 2" in done.get("STATUS", ""), done
    finally:
        sock.close()


def test_systemd_watchdog_and_status_lines(hornet_server, tmp_path):
    """WatchdogSec=2s (WATCHDOG_USEC): WATCHDOG=1 pings; and a STATUS= line with the workers
    and the requests they served."""
    path, sock = notify_socket(tmp_path)
    try:
        srv = hornet_server(app=None, config={"application_path": "builtin:hello"},
                            env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        for _ in range(7):
            assert srv.request().status == 200
        seen, status = set(), None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (status and "WATCHDOG" in seen):
            for line in sock.recv(4096).decode().splitlines():
                key, _, value = line.partition("=")
                seen.add(key)
                # the 7 above plus the fixture's readiness probes, once counted
                if key == "STATUS" and "requests served" in value and \
                        int(value.split(",")[1].split()[0]) >= 7:
                    status = value
        assert "WATCHDOG" in seen, seen
        assert status and "1 worker(s)" in status, status
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------
# etc/hornet.service (debian/hornet.service is the same file)

UNIT = os.path.join(SRCDIR, "etc", "hornet.service")


def unit_service():
    """The [Service] settings of etc/hornet.service: {key: [value, ...]}."""
    section, out = None, {}
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
            elif section == "[Service]":
                key, _, value = line.partition("=")
                out.setdefault(key.strip(), []).append(value.strip())
    return out


def unit_argv(key, subst=()):
    """The one command of an Exec* setting, split as systemd splits it, with each
    (old, new) of subst applied to every argument."""
    values = unit_service().get(key, [])
    assert len(values) == 1, "%s: %r" % (key, values)
    argv = shlex.split(values[0].lstrip("-@:+!"))
    for old, new in subst:
        argv = [a.replace(old, new) for a in argv]
    return argv


def option(argv, short, long):
    """The value of -X VALUE, --long VALUE or --long=VALUE in argv (None when absent)."""
    for i, a in enumerate(argv):
        if a in (short, long) and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(long + "="):
            return a[len(long) + 1:]
    return None


def test_unit_reloads_through_the_pid_file_it_starts_with():
    """ExecReload is hornet -s reload (which waits for the outcome) with the -c and -p of
    ExecStart, in RuntimeDirectory; hornet reads both to the same pid_path."""
    start, reload = unit_argv("ExecStart"), unit_argv("ExecReload")
    assert reload[0] == start[0] == "/usr/bin/hornet", (start, reload)
    assert option(reload, "-s", "--signal") == "reload", reload
    conf, pid = option(start, "-c", "--config"), option(start, "-p", "--pid")
    assert pid and (option(reload, "-c", "--config"), option(reload, "-p", "--pid")) == \
        (conf, pid), (start, reload)
    assert unit_service()["RuntimeDirectory"] == [os.path.basename(os.path.dirname(pid))]
    assert os.path.dirname(os.path.dirname(pid)) == "/run", pid
    # hornet's own reading of the flags, with the shipped hornet.yaml for the installed one
    shipped = os.path.join(SRCDIR, "etc", "hornet.yaml")
    for argv in (start, reload):
        args = [a for a in argv[1:] if a not in ("-s", "reload")]
        p = run_hornet([shipped if a == conf else a for a in args] + ["--dump-config"])
        assert p.returncode == 0, p.stderr
        assert yaml.safe_load(p.stdout)["pid_path"] == pid, (argv, p.stdout)


def test_unit_passes_systemd_analyze_verify(tmp_path):
    """verify checks that every Exec* program exists: the built hornet stands in for
    /usr/bin/hornet; the man pages are not installed here (--man=no)."""
    analyze = require_tool("systemd-analyze")
    unit = tmp_path / "hornet.service"
    with open(UNIT) as f:
        unit.write_text(f.read().replace("/usr/bin/hornet", hornet_bin()))
    p = subprocess.run([analyze, "verify", "--man=no", str(unit)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0 and "hornet.service" not in p.stdout, p.stdout


def test_unit_reload_command_fails_when_hornet_refuses_the_reload(hornet_server, tmp_path):
    """The unit's ExecStart and ExecReload as systemd would run them (the built hornet, a
    config and a run directory of the test's; $MAINPID the master): a refused reload makes
    ExecReload, and so systemctl reload, fail with the reason; an accepted one succeeds."""
    run_dir = tmp_path / "run"  # RuntimeDirectory=
    run_dir.mkdir()
    conf = tmp_path / "hornet.yaml"
    conf.write_text(to_yaml({"application_path": "builtin:hello"}))
    subst = [("/usr/bin/hornet", hornet_bin()), ("/etc/hornet/hornet.yaml", str(conf)),
             ("/run/hornet/", str(run_dir) + "/")]
    start = unit_argv("ExecStart", subst)
    # -b: a free port instead of the default 127.0.0.1:8000
    srv = hornet_server(app=None, config=None, use_config_file=False,
                        args=start[1:] + ["-b", "127.0.0.1:%d" % free_port()])

    def exec_reload():
        argv = [re.sub(r"\$\{?MAINPID\}?", str(srv.pid), a)
                for a in unit_argv("ExecReload", subst)]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env(), timeout=90)

    conf.write_text(to_yaml({"application_path": str(tmp_path / "missing.so")}))
    p = exec_reload()
    assert p.returncode == 1 and "reload refused: NoAppError" in p.stderr, (p.returncode,
                                                                            p.stderr)
    assert srv.request().header("server") == "hornet"
    conf.write_text(to_yaml({"application_path": "builtin:hello",
                             "include_server_header": False}))
    p = exec_reload()
    assert p.returncode == 0 and "reload ok" in p.stdout, (p.returncode, p.stderr)
    assert srv.request().header("server") is None
