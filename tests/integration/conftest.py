"""pytest fixtures for hornet's integration tests (run with /usr/bin/python3 -m pytest).

    def test_x(hornet_server):
        srv = hornet_server(app="builtin:hello", config={"workers": 1}, args=[], env=None)
        r = srv.request("GET", "/")            # or hornet_fixture.Conn(srv.port)
        assert srv.stop() == 0

Every server a test starts is stopped at teardown (SIGTERM, then SIGKILL of its whole process
group after a bounded wait), whether the test passed or not. When a test fails, the tail of each
server's stderr is printed with the failure report.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hornet_fixture  # noqa: E402
from hornet_fixture import HornetServer  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "requires_tool(name): the test runs NAME; it fails when NAME is missing")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires_tool"):
        hornet_fixture.require_tool(mark.args[0])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def hornet_bin():
    path = hornet_fixture.hornet_bin()
    if not os.access(path, os.X_OK):
        pytest.fail("hornet binary not found at %s (build it, or set HORNET_BIN)" % path)
    return path


@pytest.fixture
def hornet_server(request, tmp_path, hornet_bin):
    """Factory: hornet_server(app="builtin:hello", config=None, args=(), env=None, **kw).

    config is a dict (written as YAML to <tmpdir>/hornet.yaml, with a free 127.0.0.1 port and
    workers: 1 added unless given) or a YAML string used verbatim. Extra keywords:
    wait_ready=False returns as soon as the process is spawned (for start-up failures; use
    srv.wait_exit()), ready_timeout=SECONDS, use_config_file=False runs without -c.
    """
    servers = []

    def start(app="builtin:hello", config=None, args=(), env=None, **kw):
        tmpdir = tmp_path / ("hornet%d" % len(servers))
        # register the object before __init__ runs: a server that fails to become ready
        # has already been spawned and must still be cleaned up
        srv = HornetServer.__new__(HornetServer)
        srv.proc = None
        servers.append(srv)
        srv.__init__(tmpdir, app=app, config=config, args=args, env=env, **kw)
        return srv

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for srv in servers:
        try:
            srv.cleanup()
        finally:
            if failed and getattr(srv, "stderr_path", None):
                tail = srv.stderr_text()[-4000:]
                sys.stderr.write("\n--- hornet stderr (%s, pid %s) ---\n%s\n"
                                 % (srv.tmpdir, getattr(srv, "pid", "?"), tail))


@pytest.fixture
def hornet_run(hornet_bin):
    """hornet_run(args, timeout=20, cwd=None, env=None) -> CompletedProcess (text)."""
    return hornet_fixture.run_hornet
