"""Reloads that change listeners and the worker count, and SIGTTIN / SIGTTOU: kept sockets
are the same sockets (nothing re-bound), new ones are bound, removed ones closed, and the
connections queued on a removed slot's socket are served, not reset."""
import os
import signal
import socket
import subprocess

from hornet_fixture import (Conn, build_request, free_port, http_request, listening_inodes,
                            pid_alive, socket_inodes, wait_until, write_config)

HELLO = b"Hello, world!"


def rewrite(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    srv.config = cfg
    write_config(srv.config_path, cfg)


def wait_log(srv, text, count=1):
    wait_until(lambda: srv.stderr_text().count(text) >= count, 20, what=repr(text))


def get(port):
    r = http_request(port, path="/")
    assert (r.status, r.body) == (200, HELLO)


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def start(hornet_server, workers, **config):
    port = free_port()
    cfg = {"application_path": "builtin:hello", "workers": workers,
           "bind": ["127.0.0.1:%d" % port], "graceful_timeout": "10s"}
    cfg.update(config)
    srv = hornet_server(app=None, config=cfg)
    srv.wait_workers(workers)
    wait_until(lambda: len(listening_inodes(port)) == workers, 10, what="a socket per slot")
    return srv, port


def test_reload_adds_a_listener_and_keeps_the_old_sockets(hornet_server):
    srv, port = start(hornet_server, 2)
    before = listening_inodes(port)
    port2 = free_port()
    rewrite(srv, bind=["127.0.0.1:%d" % port, "127.0.0.1:%d" % port2])
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete")
    assert "Running on http://127.0.0.1:%d" % port2 in srv.stderr_text()
    # the same sockets, not new ones bound beside them
    assert listening_inodes(port) == before
    assert len(listening_inodes(port2)) == 2
    get(port)
    get(port2)
    assert srv.stop() == 0


def test_reload_removes_a_listener(hornet_server):
    port2 = free_port()
    srv, port = start(hornet_server, 2)
    rewrite(srv, bind=["127.0.0.1:%d" % port, "127.0.0.1:%d" % port2])
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete")
    get(port2)
    kept = listening_inodes(port2)
    rewrite(srv, bind=["127.0.0.1:%d" % port2])
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete", 2)
    wait_log(srv, "no longer listening on http://127.0.0.1:%d" % port)
    wait_until(lambda: not listening_inodes(port), 20, what="the removed port to close")
    assert refused(port)
    assert listening_inodes(port2) == kept
    get(port2)
    assert srv.stop() == 0


def test_reload_onto_a_taken_port_is_refused(hornet_server):
    srv, port = start(hornet_server, 1)
    workers = srv.workers()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        other = taken.getsockname()[1]
        rewrite(srv, bind=["127.0.0.1:%d" % port, "127.0.0.1:%d" % other])
        srv.send_signal(signal.SIGHUP)
        wait_log(srv, "reload refused")
        log = srv.stderr_text()
        assert "127.0.0.1:%d: bind: Address already in use" % other in log, log
        assert srv.workers() == workers
        get(port)
    finally:
        taken.close()
    assert srv.stop() == 0


def test_reload_grows_and_shrinks_the_worker_count(hornet_server):
    srv, port = start(hornet_server, 2)
    before = listening_inodes(port)
    rewrite(srv, workers=3)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete: generation 1 serving with 3 worker(s)")
    srv.wait_workers(3)
    grown = listening_inodes(port)
    assert len(grown) == 3 and before < grown
    rewrite(srv, workers=1)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete: generation 2 serving with 1 worker(s)")
    srv.wait_workers(1)
    wait_until(lambda: len(listening_inodes(port)) == 1, 20, what="one socket left")
    assert listening_inodes(port) < grown
    for _ in range(5):
        get(port)
    assert srv.stop() == 0


def test_ttin_and_ttou_add_and_remove_a_worker(hornet_server):
    srv, port = start(hornet_server, 2)
    srv.send_signal(signal.SIGTTIN)
    wait_log(srv, "SIGTTIN: 3 worker(s), 2 before")
    srv.wait_workers(3)
    wait_until(lambda: len(listening_inodes(port)) == 3, 10, what="a socket for the new slot")
    # one at a time: a second signal sent before the first is read merges with it
    srv.send_signal(signal.SIGTTOU)
    wait_log(srv, "SIGTTOU: 2 worker(s), 3 before")
    srv.send_signal(signal.SIGTTOU)
    wait_log(srv, "SIGTTOU: 1 worker(s), 2 before")
    srv.wait_workers(1)
    wait_until(lambda: len(listening_inodes(port)) == 1, 20, what="one socket left")
    srv.send_signal(signal.SIGTTOU)
    wait_log(srv, "SIGTTOU ignored: 1 worker(s) is the minimum")
    get(port)
    # a reload sets the configured count again
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete: generation 1 serving with 2 worker(s)")
    srv.wait_workers(2)
    assert srv.stop() == 0


def queue_requests(port, n):
    """n connections, each with a request sent; they wait in the listen queues."""
    conns = []
    for _ in range(n):
        c = Conn(port, timeout=20)
        c.send(build_request("GET", "/", headers=[("Connection", "close")]))
        conns.append(c)
    return conns


def assert_all_served(conns):
    for c in conns:
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO)
        c.close()


def test_ttou_serves_the_connections_queued_on_the_removed_slot(hornet_server):
    """Every worker is stopped, so connections pile up in all slots' queues; the last slot
    is removed; once the workers run again, every queued request is answered (closing the
    removed slot's socket without taking its queue would reset some of them)."""
    srv, port = start(hornet_server, 3, worker_timeout=0)
    workers = srv.workers()
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        conns = queue_requests(port, 30)
        srv.send_signal(signal.SIGTTOU)
        wait_log(srv, "SIGTTOU: 2 worker(s), 3 before")
        wait_until(lambda: len(listening_inodes(port)) == 3, 5, what="the queue to stay open")
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    assert_all_served(conns)
    srv.wait_workers(2)
    assert srv.stop() == 0


def test_queue_of_a_removed_slot_whose_worker_dies_moves_to_the_others(hornet_server):
    """The removed slot's worker never takes its queue (it is killed while stopped): the
    master's reuseport migration program moves what was queued on that socket, as it closes,
    to the remaining ones (without it, about half of these connections were reset)."""
    srv, port = start(hornet_server, 2, worker_timeout=0)
    workers = srv.workers()
    before = listening_inodes(port)
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        conns = queue_requests(port, 30)
        srv.send_signal(signal.SIGTTOU)
        wait_log(srv, "SIGTTOU: 1 worker(s), 2 before")
        (removed,) = before - socket_inodes(srv.pid)
        (doomed,) = [pid for pid in workers if removed in socket_inodes(pid)]
        os.kill(doomed, signal.SIGKILL)
        wait_until(lambda: len(listening_inodes(port)) == 1, 10, what="the slot's socket closed")
    finally:
        for pid in workers:
            if pid_alive(pid):
                os.kill(pid, signal.SIGCONT)
    assert_all_served(conns)
    assert srv.stop() == 0


def test_reload_to_fewer_workers_serves_the_queued_connections(hornet_server):
    srv, port = start(hornet_server, 3, worker_timeout=0)
    workers = srv.workers()
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        conns = queue_requests(port, 30)
        rewrite(srv, workers=1)
        srv.send_signal(signal.SIGHUP)
        wait_log(srv, "reload complete")
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    assert_all_served(conns)
    srv.wait_workers(1)
    wait_until(lambda: len(listening_inodes(port)) == 1, 20, what="one socket left")
    assert srv.stop() == 0


def listen_backlogs(port):
    """Send-Q of each listening socket on port, which ss reports as its backlog."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True, text=True,
                         timeout=10).stdout
    return sorted(int(line.split()[2]) for line in out.splitlines() if line.strip())


def test_reload_applies_a_new_backlog_in_place(hornet_server):
    srv, port = start(hornet_server, 2, backlog=100)
    before = listening_inodes(port)
    assert listen_backlogs(port) == [100, 100]
    rewrite(srv, backlog=300)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete")
    assert listen_backlogs(port) == [300, 300]
    assert listening_inodes(port) == before
    get(port)
    assert srv.stop() == 0
