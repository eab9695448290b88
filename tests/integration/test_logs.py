"""Log files and privilege drop (issue 14): the master opens the error and access logs as
root and hands the descriptors to workers running as `user: nobody`, at fork and after
`hornet -s reopen`; a reopen that fails is reported and keeps the old files; a failed start
says why on stderr even when the error log is a file; `hornet -t` makes the checks start-up
makes.

The log directory is root's, 0755 (or 0700), under a fresh tempfile.mkdtemp() directory
opened to 0755: pytest's tmp_path is 0700, which nobody could not even traverse. These tests
need root (CI runs as root)."""

import os
import pwd
import shutil
import signal
import stat
import tempfile
import threading

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import READY_USER_AGENT, Conn, run_hornet, to_yaml, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing the workers' user needs root")

NOBODY = pwd.getpwnam("nobody").pw_uid
WORKERS = {"user": "nobody", "group": "nogroup"}


@pytest.fixture
def logdir():
    """A root-owned directory the workers' user cannot write: <mkdtemp 0755>/logs 0755."""
    top = tempfile.mkdtemp(prefix="hornet-logs-")
    os.chmod(top, 0o755)
    d = os.path.join(top, "logs")
    os.mkdir(d, 0o755)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(top, ignore_errors=True)


def read(path):
    try:
        with open(path, encoding="latin-1") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def access_paths(path):
    """The request paths logged in an access log (format "%(U)s %(a)s"), without the
    fixture's readiness probes."""
    return [ln.rsplit("] ", 1)[1].split()[0] for ln in read(path).splitlines()
            if READY_USER_AGENT not in ln and "] /" in ln]


def start(hornet_server, tmp_path, logdir, **extra):
    cfg = dict(WORKERS, errorlog=os.path.join(logdir, "error.log"),
               accesslog=os.path.join(logdir, "access.log"), access_log_format="%(U)s %(a)s",
               loglevel="debug", pid_path=str(tmp_path / "hornet.pid"))
    cfg.update(extra)
    srv = hornet_server(config=cfg)
    srv.error_log, srv.access_log = cfg["errorlog"], cfg["accesslog"]
    return srv


def get(srv, path):
    with Conn(srv.port) as c:
        assert c.request("GET", path).status == 200


def reopen(srv):
    return run_hornet(["-c", srv.config_path, "-s", "reopen"], timeout=30)


def worker_uid(pid):
    return os.stat("/proc/%d" % pid).st_uid  # the process's effective uid


def wait_logged(path, paths, what):
    wait_until(lambda: all(p in access_paths(path) for p in paths), 10, what=what)


# ---------------------------------------------------------------------------------------------
# start-up


def test_workers_as_nobody_write_logs_in_a_root_only_directory(hornet_server, tmp_path, logdir):
    srv = start(hornet_server, tmp_path, logdir)
    (w,) = srv.workers()
    assert worker_uid(w) == NOBODY
    get(srv, "/first")
    wait_logged(srv.access_log, ["/first"], "the request in the access log")
    wait_until(lambda: "worker 0: ready" in read(srv.error_log), 10,
               what="a worker's line in the error log")
    assert "master: hornet" in read(srv.error_log)


def test_logs_the_workers_user_cannot_even_reach(hornet_server, tmp_path, logdir):
    """A 0700 root directory and 0600 root files: nothing a worker could open itself, so
    `hornet -t` says it is fine, and it is (-t and start-up agree)."""
    os.chmod(logdir, 0o700)
    for name in ("error.log", "access.log"):
        fd = os.open(os.path.join(logdir, name), os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    cfg = tmp_path / "t.yaml"
    cfg.write_text("user: nobody\ngroup: nogroup\nerrorlog: %s/error.log\n"
                   "accesslog: %s/access.log\n" % (logdir, logdir))
    p = run_hornet(["-t", "-c", str(cfg)])
    assert p.returncode == 0, p.stderr
    srv = start(hornet_server, tmp_path, logdir)
    get(srv, "/private")
    wait_logged(srv.access_log, ["/private"], "the request in a file only root may open")


# ---------------------------------------------------------------------------------------------
# rotation


def rotate(path):
    os.rename(path, path + ".1")
    return path + ".1"


def test_mv_and_reopen_loses_nothing(hornet_server, tmp_path, logdir):
    srv = start(hornet_server, tmp_path, logdir, workers=2)
    sent, failures, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            sent.append("/n%d" % len(sent))
            try:
                get(srv, sent[-1])
            except (AssertionError, OSError, EOFError) as e:
                failures.append((sent[-1], e))
                return

    t = threading.Thread(target=client)
    t.start()
    try:
        wait_until(lambda: len(sent) > 20, 10, what="requests before the rotation")
        old_access, old_error = rotate(srv.access_log), rotate(srv.error_log)
        p = reopen(srv)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "" and p.stderr == "", "a quiet success, for logrotate: %r" % (p,)
        n = len(sent)
        wait_until(lambda: len(sent) > n + 20, 10, what="requests after the reopen")
    finally:
        stop.set()
        t.join(10)
    assert not failures, failures
    # every request is in exactly one of the two files, the later ones in the new file
    wait_until(lambda: len(access_paths(old_access)) + len(access_paths(srv.access_log))
               >= len(sent), 10, what="every request logged")
    old, new = access_paths(old_access), access_paths(srv.access_log)
    assert sorted(old + new) == sorted(sent), "lost or duplicated lines"
    assert sent[-1] in new and sent[0] in old
    st = os.stat(srv.access_log)
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == 0, "created by the master, as root"
    # both workers write to the new error log: each says so once it has the new file
    wait_until(lambda: read(srv.error_log).count("log files reopened") >= 3, 10,
               what="the master and both workers in the new error log")
    text = read(srv.error_log)
    assert "worker 0: log files reopened" in text and "worker 1: log files reopened" in text
    assert "master: SIGUSR1 received: log files reopened" in text
    assert "log files reopened" not in read(old_error)


def test_logrotate_create_style(hornet_server, tmp_path, logdir):
    """logrotate's `create 0640 root root`: the new files exist, root's, before the reopen."""
    srv = start(hornet_server, tmp_path, logdir)
    get(srv, "/before")
    wait_logged(srv.access_log, ["/before"], "the first request")
    for path in (srv.access_log, srv.error_log):
        rotate(path)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o640))
        os.chmod(path, 0o640)
    p = reopen(srv)
    assert p.returncode == 0, p.stderr
    get(srv, "/after")
    wait_logged(srv.access_log, ["/after"], "a request in the new root 0640 access log")
    assert access_paths(srv.access_log) == ["/after"]
    wait_until(lambda: "worker 0: log files reopened" in read(srv.error_log), 10,
               what="the worker in the new root 0640 error log")


def test_workers_started_later_get_the_current_files(hornet_server, tmp_path, logdir):
    srv = start(hornet_server, tmp_path, logdir)
    old_access = rotate(srv.access_log)
    rotate(srv.error_log)
    assert reopen(srv).returncode == 0
    # a respawned worker
    (w,) = srv.workers()
    os.kill(w, signal.SIGKILL)
    wait_until(lambda: srv.workers() and srv.workers() != [w], 10, what="a respawned worker")
    srv.wait_ready()
    get(srv, "/respawned")
    # a new generation
    (w,) = srv.workers()
    p = run_hornet(["-c", srv.config_path, "-s", "reload"], timeout=60)
    assert p.returncode == 0, p.stderr
    wait_until(lambda: w not in srv.workers(), 20, what="the old generation to go")
    get(srv, "/reloaded")
    wait_logged(srv.access_log, ["/respawned", "/reloaded"], "both in the new access log")
    assert access_paths(old_access) == []


def test_reload_to_an_access_log_that_cannot_be_opened_is_refused(hornet_server, tmp_path,
                                                                  logdir):
    srv = start(hornet_server, tmp_path, logdir)
    cfg = dict(srv.config, accesslog=os.path.join(logdir, "missing", "access.log"))
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))
    p = run_hornet(["-c", srv.config_path, "-s", "reload"], timeout=60)
    assert p.returncode == 1 and "reload refused: accesslog: cannot open" in p.stderr, p.stderr
    get(srv, "/still")
    wait_logged(srv.access_log, ["/still"], "the old access log still in use")


def test_failed_reopen_is_reported_and_keeps_the_old_files(hornet_server, tmp_path, logdir):
    srv = start(hornet_server, tmp_path, logdir)
    # the directory moves away: no path of the configuration can be created any more
    moved = logdir + ".old"
    os.rename(logdir, moved)
    try:
        p = reopen(srv)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert "hornet: reopen failed: errorlog: cannot open %s" % srv.error_log in p.stderr
        assert "accesslog: cannot open %s" % srv.access_log in p.stderr
        # told to the old file and to the master's stderr (the terminal, or the journal)
        old_error = os.path.join(moved, "error.log")
        wait_until(lambda: "reopening the logs failed" in read(old_error), 10,
                   what="the failure in the old error log")
        assert "reopening the logs failed: errorlog: cannot open" in srv.stderr_text()
        # and the server keeps writing to the old files
        get(srv, "/kept")
        wait_logged(os.path.join(moved, "access.log"), ["/kept"], "a line in the old access log")
    finally:
        os.rename(moved, logdir)


# ---------------------------------------------------------------------------------------------
# a failed start says why on stderr


def test_failed_start_with_errorlog_file_prints_the_error(hornet_server, tmp_path, logdir):
    errorlog = os.path.join(logdir, "error.log")
    srv = hornet_server(app="builtin:static",
                        config={"errorlog": errorlog, "static_root": "/nonexistent"},
                        wait_ready=False)
    assert srv.wait_exit(15) == 1, srv.stderr_text()
    for text in (srv.stderr_text(), read(errorlog)):
        assert 'static_root "/nonexistent": No such file or directory' in text, text


@requires_gcc
def test_failed_worker_start_with_errorlog_file_prints_the_error(hornet_server, apps, tmp_path,
                                                                 logdir):
    """A lifespan startup that fails in the worker: its reason on stderr and in the log."""
    errorlog = os.path.join(logdir, "error.log")
    srv = hornet_server(app=apps["lifespan"], config={"errorlog": errorlog},
                        env={"LS_STARTUP": "fail", "LS_MESSAGE": "LS-FAILED-HERE"},
                        wait_ready=False)
    assert srv.wait_exit(30) == 1, srv.stderr_text()
    err = srv.stderr_text()
    assert "LifespanFailureError" in err and "LS-FAILED-HERE" in err, err
    assert "could not start; stopping the server" in err, err
    assert "LS-FAILED-HERE" in read(errorlog)


# ---------------------------------------------------------------------------------------------
# hornet -t


@pytest.mark.parametrize("config, key", [
    ("user: nosuchuser\n", 'user: no such user "nosuchuser"'),
    ("application_path: builtin:static\nstatic_root: /nonexistent\n", "static_root"),
    ("accesslog: {dir}/missing/access.log\n", "accesslog: cannot open {dir}/missing/access.log"),
    ("errorlog: {dir}/missing/error.log\n", "errorlog: cannot open {dir}/missing/error.log"),
    ("user: nobody\napplication_path: builtin:static\nstatic_root: {dir}/private\n",
     "static_root"),
    ("accesslog: '-'\naccess_log_format: '%(h)s %(zz'\n", "access_log_format: unclosed %("),
], ids=["user", "static_root", "accesslog", "errorlog", "static_root-as-nobody",
        "access_log_format"])
def test_t_fails_on_what_start_up_fails_on(tmp_path, logdir, config, key):
    # a directory nobody may not enter: the workers would not find their root
    os.mkdir(os.path.join(logdir, "private"), 0o700)
    os.mkdir(os.path.join(logdir, "private", "www"))
    config = config.replace("{dir}/private", "{dir}/private/www").format(dir=logdir)
    key = key.format(dir=logdir)
    path = tmp_path / "hornet.yaml"
    path.write_text(config)
    p = run_hornet(["-t", "-c", str(path)])
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert key in p.stderr, p.stderr
    assert "is valid" not in p.stderr
