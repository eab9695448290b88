"""SIGHUP reload: a checked configuration, a whole new generation ready before the old one
drains, and a refused or failed reload that leaves the old generation serving unchanged."""
import signal

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import LoopingClients, children, to_yaml, wait_until

HELLO = b"Hello, world!"


def rewrite(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))


def wait_log(srv, text, count=1):
    wait_until(lambda: srv.stderr_text().count(text) >= count, 20, what=repr(text))


def test_reload_applies_a_change_with_new_workers(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello", "workers": 2})
    old = set(children(srv.pid))
    assert srv.request().header("server") == "hornet"
    rewrite(srv, include_server_header=False)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete")
    wait_until(lambda: len(children(srv.pid)) == 2 and not set(children(srv.pid)) & old, 20,
               what="the old generation to leave")
    r = srv.request()
    assert (r.status, r.body) == (200, HELLO)
    assert r.header("server") is None
    assert srv.stderr_text().count("replaced worker") == 2
    assert srv.stop() == 0


def test_no_request_lost_across_reloads(hornet_server):
    """Four clients loop (keep-alive; reconnecting when told Connection: close) while the
    server reloads five times: every request gets a whole 200."""
    srv = hornet_server(app=None, config={"application_path": "builtin:hello", "workers": 2,
                                          "graceful_timeout": "10s"})
    with LoopingClients(srv.port, path="/r") as clients:
        for i in range(5):
            rewrite(srv, keep_alive_max_requests=100 + i)
            srv.send_signal(signal.SIGHUP)
            wait_log(srv, "reload complete", i + 1)
            wait_until(lambda: srv.stderr_text().count("replaced worker") >= 2 * (i + 1), 20,
                       what="the old generation to drain")
    assert not clients.errors, clients.errors[:5]
    assert clients.served > 100
    assert srv.stop() == 0


def test_broken_config_is_refused_and_nothing_changes(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello"})
    before = set(children(srv.pid))
    with open(srv.config_path, "w") as f:
        f.write("workers: [\n")
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload refused")
    log = srv.stderr_text()
    assert "invalid YAML" in log and srv.config_path in log, log
    assert "still serving with the previous configuration" in log
    assert set(children(srv.pid)) == before
    r = srv.request()
    assert (r.status, r.body) == (200, HELLO)


def test_bad_app_is_refused(hornet_server, tmp_path):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello"})
    before = set(children(srv.pid))
    rewrite(srv, application_path=str(tmp_path / "missing.so"))
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload refused")
    assert "NoAppError" in srv.stderr_text()
    assert set(children(srv.pid)) == before
    assert srv.request().status == 200


def test_new_generation_failing_startup_aborts_the_reload(hornet_server, apps):
    """The new app fails its lifespan startup: the new workers die before they are ready,
    the reload is aborted and the old generation keeps serving hello."""
    srv = hornet_server(app=None, config={"application_path": "builtin:hello", "workers": 2},
                        env={"LS_STARTUP": "fail", "LS_MESSAGE": "no database"})
    before = set(children(srv.pid))
    rewrite(srv, application_path=apps.spec("lifespan"))
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload aborted")
    log = srv.stderr_text()
    assert "LifespanFailureError" in log and "no database" in log, log
    assert "the previous generation keeps serving" in log
    wait_until(lambda: set(children(srv.pid)) == before, 20, what="the new workers to be gone")
    for _ in range(5):
        r = srv.request()
        assert (r.status, r.body) == (200, HELLO)
    assert srv.alive()
    assert srv.stop() == 0
