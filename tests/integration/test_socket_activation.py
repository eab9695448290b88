"""systemd socket activation: with LISTEN_FDS/LISTEN_PID for the hornet process and no
`bind` configured, hornet serves on the sockets it was given (as systemd passes them: fd 3
onwards), shared by its workers, and never binds anything itself."""
import os
import signal
import socket
import subprocess

from hornet_fixture import children, hornet_bin, http_request, wait_until


def test_serves_on_the_passed_socket(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text("workers: 2\napplication_path: builtin:hello\n")
    err = open(tmp_path / "stderr.log", "wb")
    fd = listener.fileno()

    def as_systemd_does():
        os.dup2(fd, 3)

    # LISTEN_PID must be hornet's own pid: the shell sets it and execs hornet
    proc = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -c "$1"', hornet_bin(),
         str(cfg)], stdout=subprocess.DEVNULL, stderr=err, pass_fds=(3,),
        preexec_fn=as_systemd_does if fd != 3 else None, start_new_session=True)
    listener.close()  # only hornet holds it now
    try:
        wait_until(lambda: "worker(s) ready" in (tmp_path / "stderr.log").read_text(), 15,
                   what="hornet to start")
        log = (tmp_path / "stderr.log").read_text()
        assert "Running on fd://3" in log, log
        assert len(children(proc.pid)) == 2
        for _ in range(10):
            r = http_request(port)
            assert (r.status, r.body) == (200, b"Hello, world!")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        err.close()


def test_listen_fds_for_another_process_is_ignored(tmp_path, hornet_bin):
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text("workers: 1\n")
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
    p = subprocess.run([hornet_bin, "--dump-config", "-c", str(cfg)], env=env,
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0
    assert "127.0.0.1:8000" in p.stdout and "fd://" not in p.stdout


def _listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def _start_activated(tmp_path, config, socks, names):
    """hornet started as systemd starts it with FileDescriptorName= sockets: fds 3.. and
    LISTEN_FDNAMES naming them in that order."""
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text(config)
    err = open(tmp_path / "stderr.log", "wb")
    fds = [s.fileno() for s in socks]

    def as_systemd_does():
        high = [os.dup(fd) for fd in fds]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)

    script = 'LISTEN_PID=$$ LISTEN_FDS=%d LISTEN_FDNAMES=%s exec "$0" -c "$1"' % (
        len(socks), ":".join(names))
    proc = subprocess.Popen(["/bin/sh", "-c", script, hornet_bin(), str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=err,
                            pass_fds=tuple(range(3, 3 + len(socks))),
                            preexec_fn=as_systemd_does, start_new_session=True)
    err.close()
    return proc, tmp_path / "stderr.log"


def test_bind_by_socket_name(tmp_path):
    web, admin = _listener(), _listener()
    admin_port = admin.getsockname()[1]
    proc, log = _start_activated(
        tmp_path, "application_path: builtin:hello\nbind: fd://admin\n", [web, admin],
        ["web", "admin"])
    web.close()
    admin.close()
    try:
        wait_until(lambda: "worker(s) ready" in log.read_text(), 15, what="hornet to start")
        assert "Running on fd://admin" in log.read_text()
        r = http_request(admin_port)
        assert (r.status, r.body) == (200, b"Hello, world!")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_unknown_socket_name_is_a_startup_error(tmp_path):
    web = _listener()
    proc, log = _start_activated(tmp_path, "bind: fd://metrics\n", [web], ["web"])
    web.close()
    try:
        assert proc.wait(20) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    text = log.read_text()
    assert 'no socket named "metrics" in LISTEN_FDNAMES=web' in text, text
    assert "hornet.yaml:1" in text, text
