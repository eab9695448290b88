"""SIGHUP reload: a checked configuration, a whole new generation ready before the old one
drains, and a refused or failed reload that leaves the old generation serving unchanged."""
import signal
import subprocess

import pytest

from apps_fixture import apps, gated_lifespan, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import (Conn, LoopingClients, children, clean_env, hornet_bin,
                            wait_until, write_config)

HELLO = b"Hello, world!"


def rewrite(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    write_config(srv.config_path, cfg)


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


def status_for_host(srv, host):
    """The status of GET / with this Host: 421 unless server_names names it."""
    with Conn(srv.port) as c:
        c.send(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        return c.read_response().status


def test_hups_during_a_reload_make_one_more_reload_with_the_last_edit(hornet_server, apps,
                                                                      tmp_path):
    """Five HUPs, each after an edit: the first starts a reload, held in progress until the
    test opens the gate; the four during it make one reload more after it (not four refusals
    that would lose the edits), and that one serves the last edit."""
    gate = tmp_path / "gate"
    srv = gated_lifespan(hornet_server, apps, gate, {"server_names": ["v0.test"]})
    for i in range(1, 6):
        rewrite(srv, server_names=["v%d.test" % i])
        srv.send_signal(signal.SIGHUP)
        wait_log(srv, "SIGHUP received", i)
    gate.touch()  # generation 1, with the first edit
    wait_log(srv, "reload complete: generation 1")
    wait_log(srv, "reloading: starting generation 2")
    gate.touch()
    wait_log(srv, "reload complete: generation 2")
    assert status_for_host(srv, "v5.test") == 200
    assert status_for_host(srv, "v1.test") == 421
    log = srv.stderr_text()
    assert log.count("SIGHUP received during a reload: reloading again after it") == 4, log
    assert "refused" not in log and "generation 3" not in log, log
    assert srv.stop() == 0


@pytest.mark.parametrize("edit", ["good", "missing app"])
def test_s_reload_during_a_reload_reports_the_reload_after_it(hornet_server, apps, tmp_path,
                                                               edit):
    """hornet -s reload while a reload runs: that one may have read the file before the edit,
    so -s waits for the one more reload its HUP makes and reports that one, whatever the
    running one ends with."""
    gate = tmp_path / "gate"
    srv = gated_lifespan(hornet_server, apps, gate, {"server_names": ["v0.test"],
                                                     "pid_path": str(tmp_path / "hornet.pid")})
    rewrite(srv, server_names=["v1.test"])
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reloading: starting generation 1")
    if edit == "good":
        rewrite(srv, server_names=["v2.test"])
    else:
        rewrite(srv, server_names=["v2.test"], application_path=str(tmp_path / "missing.so"))
    client = subprocess.Popen([hornet_bin(), "-c", srv.config_path, "-s", "reload"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env())
    try:
        wait_log(srv, "SIGHUP received", 2)
        gate.touch()  # generation 1, with the first edit: not the one -s waits for
        wait_log(srv, "reload complete: generation 1")
        if edit == "good":
            wait_log(srv, "reloading: starting generation 2")
            gate.touch()
        out, err = client.communicate(timeout=60)
    finally:
        client.kill()
        client.wait()
    if edit == "good":
        assert (client.returncode, out) == (0, "hornet: reload ok generation 2\n"), err
        assert status_for_host(srv, "v2.test") == 200
    else:
        assert client.returncode == 1, out
        assert err.startswith("hornet: reload refused: NoAppError"), err
        assert status_for_host(srv, "v1.test") == 200
    assert "SIGHUP received during a reload: reloading again after it" in srv.stderr_text()


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
