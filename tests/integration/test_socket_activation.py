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
