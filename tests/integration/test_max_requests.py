"""max_requests / max_requests_jitter: a worker that served its share is replaced, the
successor ready before the old one drains, so clients see no error and no gap."""
import re

from hornet_fixture import LoopingClients, children, http_request, wait_until

HELLO = b"Hello, world!"


def test_worker_replaced_after_max_requests(hornet_server):
    srv = hornet_server(config={"max_requests": 5, "graceful_timeout": "10s"})
    first = set(children(srv.pid))
    assert len(first) == 1
    for i in range(5):
        r = http_request(srv.port, path="/n%d" % i)
        assert (r.status, r.body) == (200, HELLO)
    # the fifth request asks for a replacement; the old worker leaves once the new is ready
    wait_until(lambda: set(children(srv.pid)) and not (set(children(srv.pid)) & first), 15,
               what="the worker to be replaced")
    assert len(children(srv.pid)) == 1
    r = http_request(srv.port, path="/after")
    assert (r.status, r.body) == (200, HELLO)
    log = srv.stderr_text()
    assert "max_requests" in log
    assert re.search(r"replaced worker 0 \(pid %d\) exited with status 0" % first.pop(), log), log
    assert srv.stop() == 0


def test_no_request_fails_across_replacements(hornet_server):
    """Clients in a loop across at least four replacements (max_requests 20, two workers):
    every request gets a whole 200; a keep-alive connection may be closed between responses
    (Connection: close from the draining worker), never in the middle of one."""
    srv = hornet_server(config={"workers": 2, "max_requests": 20, "max_requests_jitter": 5,
                                "graceful_timeout": "10s"})
    with LoopingClients(srv.port, path="/x") as clients:
        # as many requests as it takes (a slow start under valgrind lets a worker that
        # asked to be replaced serve on for a while)
        wait_until(lambda: srv.stderr_text().count("asking to be replaced") >= 4
                   or clients.errors, 60, what="four replacements")
    assert not clients.errors, clients.errors[:5]
    assert clients.served >= 80
    log = srv.stderr_text()
    assert "could not start" not in log
    assert srv.stop() == 0


def test_max_requests_zero_never_replaces(hornet_server):
    srv = hornet_server(config={"max_requests": 0})
    first = set(children(srv.pid))
    for i in range(30):
        assert http_request(srv.port).status == 200
    assert set(children(srv.pid)) == first
    assert "asking to be replaced" not in srv.stderr_text()


def test_worker_replaced_after_max_worker_lifetime(hornet_server):
    """The age twin of max_requests: after max_worker_lifetime the worker asks for a
    successor, which is ready before it drains; serving never stops."""
    srv = hornet_server(config={"max_worker_lifetime": "1s", "graceful_timeout": "10s"})
    first = set(children(srv.pid))
    wait_until(lambda: "max_worker_lifetime reached" in srv.stderr_text(), 20,
               what="the lifetime to pass")
    wait_until(lambda: children(srv.pid) and not set(children(srv.pid)) & first, 20,
               what="the worker to be replaced")
    log = srv.stderr_text()
    assert re.search(r"replaced worker 0 \(pid %d\) exited with status 0" % first.pop(), log), log
    r = http_request(srv.port)
    assert (r.status, r.body) == (200, HELLO)
    # the successor is replaced in its turn: it is a lifetime, not a one-off
    second = set(children(srv.pid))
    wait_until(lambda: children(srv.pid) and not set(children(srv.pid)) & second, 20,
               what="the successor to be replaced too")
    assert srv.stop() == 0
