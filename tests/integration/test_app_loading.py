"""Loading an application shared object (application_path: PATH.so[:SYMBOL]).

A good .so serves; every loading error (no such file, not a shared object, missing symbol,
wrong ABI version) is one clear start-up message naming NoAppError, the path and the reason,
exit status 1, before anything is bound, and nothing is left running. `hornet -t` fails the
same way. The test applications are built from tests/apps by apps_fixture.
"""

import ctypes
import os
import re
import shutil

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import free_port, listening_inodes, run_hornet, wait_until

pytestmark = requires_gcc


def dlerror_of(path):
    """dlerror()'s text for dlopen(path), as the C library reports it (ctypes shows it)."""
    try:
        ctypes.CDLL(path)
    except OSError as e:
        return str(e)
    raise AssertionError("%s unexpectedly loads" % path)


def expect_no_app(srv, *needles):
    """The server must exit 1 with one NoAppError line mentioning every needle, leaving no
    process and no listener behind."""
    code = srv.wait_exit(20)
    err = srv.stderr_text()
    assert code == 1, "expected exit status 1, got %r; stderr:\n%s" % (code, err)
    lines = [ln for ln in err.splitlines() if "NoAppError" in ln]
    assert len(lines) == 1, "expected one NoAppError line, got %d:\n%s" % (len(lines), err)
    for n in needles:
        assert n in lines[0], "%r not in the NoAppError line %r" % (n, lines[0])
    wait_until(lambda: not srv.group_alive(), 10, what="no process of the server left")
    if srv.port:
        assert not listening_inodes(srv.port), "port %d still listening" % srv.port
    return lines[0]


# ---------------------------------------------------------------------------------------------
# good applications


def test_good_app_serves(hornet_server, apps):
    srv = hornet_server(app=apps["probe"])
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body == b"probe\n", r
    assert srv.stop() == 0


def test_good_app_from_config_file(hornet_server, apps):
    srv = hornet_server(app=None, config={"application_path": apps["simple"]})
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body == b"simple\n", r


def test_explicit_symbol(hornet_server, apps):
    srv = hornet_server(app=apps.spec("nosym", "other"))
    r = srv.request("GET", "/")
    assert r.status == 200 and r.body == b"other\n", r


def test_explicit_default_symbol(hornet_server, apps):
    srv = hornet_server(app=apps.spec("probe", "app"))
    assert srv.request("GET", "/").body == b"probe\n"


def test_second_symbol_of_one_object(hornet_server, apps):
    # dual.so exports `app` (event mode) and `app_flagged` (HORNET_APP_SIMPLE)
    srv = hornet_server(app=apps.spec("dual", "app_flagged"))
    assert srv.request("GET", "/").body == b"simple\n"


def test_relative_path(hornet_server, apps, tmp_path):
    # the fixture runs the first server in tmp_path/hornet0 (its cwd); put the .so there
    d = tmp_path / "hornet0"
    d.mkdir(exist_ok=True)
    shutil.copy(apps["probe"], str(d / "librel.so"))
    srv = hornet_server(app="./librel.so")
    assert srv.tmpdir == str(d)
    assert srv.request("GET", "/").body == b"probe\n"


def test_every_worker_serves_the_app(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"workers": 2})
    srv.wait_workers(2)
    for i in range(6):
        r = srv.request("GET", "/api")
        assert r.status == 200 and r.body.startswith(b"abi_version=1 "), r


def test_config_test_accepts_good_app(apps, tmp_path):
    r = run_hornet(["-t", apps["probe"]], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------------------------
# loading errors


def test_missing_file(hornet_server, tmp_path):
    path = str(tmp_path / "no-such-dir" / "libnope.so")
    srv = hornet_server(app=path, wait_ready=False)
    expect_no_app(srv, path, "No such file or directory")


def test_not_a_shared_object(hornet_server, tmp_path):
    path = str(tmp_path / "libtext.so")
    with open(path, "w") as f:
        f.write("this is not an ELF shared object\n" * 10)
    reason = dlerror_of(path)  # e.g. "PATH: invalid ELF header"
    srv = hornet_server(app=path, wait_ready=False)
    line = expect_no_app(srv, path)
    tail = reason.rsplit(": ", 1)[-1]
    assert tail in line, "dlerror's text %r not in %r" % (reason, line)


def test_empty_file(hornet_server, tmp_path):
    path = str(tmp_path / "libempty.so")
    open(path, "w").close()
    reason = dlerror_of(path)  # "PATH: file too short"
    srv = hornet_server(app=path, wait_ready=False)
    line = expect_no_app(srv, path)
    assert reason.rsplit(": ", 1)[-1] in line, (reason, line)


def test_directory_as_app(hornet_server, tmp_path):
    path = str(tmp_path / "adir.so")
    os.mkdir(path)
    srv = hornet_server(app=path, wait_ready=False)
    expect_no_app(srv, path)


def test_missing_default_symbol(hornet_server, apps):
    path = apps["nosym"]
    srv = hornet_server(app=path, wait_ready=False)
    line = expect_no_app(srv, path)
    assert re.search(r"\bapp\b", line.replace(path, "")), "the symbol name is not in %r" % line


def test_missing_explicit_symbol(hornet_server, apps):
    path = apps["probe"]
    srv = hornet_server(app=path + ":no_such_symbol", wait_ready=False)
    expect_no_app(srv, path, "no_such_symbol")


def test_wrong_abi_version(hornet_server, apps):
    path = apps["badversion"]
    srv = hornet_server(app=path, wait_ready=False)
    line = expect_no_app(srv, path)
    assert "version" in line.lower(), line
    assert "999" in line, "the app's version is not named in %r" % line


def test_error_from_config_file(hornet_server, tmp_path):
    path = str(tmp_path / "libmissing.so")
    srv = hornet_server(app=None, config={"application_path": path}, wait_ready=False)
    expect_no_app(srv, path)


def test_loading_error_with_several_workers(hornet_server, apps):
    path = apps["badversion"]
    srv = hornet_server(app=path, config={"workers": 3}, wait_ready=False)
    expect_no_app(srv, path)


def test_loading_error_binds_nothing(hornet_server, tmp_path):
    """The app is checked before binding: while it fails, the port never listens."""
    path = str(tmp_path / "libmissing.so")
    port = free_port()
    srv = hornet_server(app=path, config={"bind": ["127.0.0.1:%d" % port]}, wait_ready=False)
    seen = []
    while srv.proc.poll() is None:
        if listening_inodes(port):
            seen.append(True)
            break
    expect_no_app(srv, path)
    assert not seen, "port %d was bound before the application was checked" % port


def test_config_test_refuses_missing_app(tmp_path):
    path = str(tmp_path / "libmissing.so")
    r = run_hornet(["-t", path], cwd=str(tmp_path))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "NoAppError" in r.stderr and path in r.stderr, r.stderr


def test_config_test_refuses_bad_version(apps, tmp_path):
    r = run_hornet(["-t", apps["badversion"]], cwd=str(tmp_path))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "NoAppError" in r.stderr and apps["badversion"] in r.stderr, r.stderr


def test_config_test_refuses_missing_symbol(apps, tmp_path):
    r = run_hornet(["-t", apps["nosym"]], cwd=str(tmp_path))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "NoAppError" in r.stderr, r.stderr


def test_config_test_refuses_bad_app_in_file(tmp_path):
    path = str(tmp_path / "libmissing.so")
    cfg = tmp_path / "hornet.yaml"
    cfg.write_text("application_path: %s\n" % path)
    r = run_hornet(["-t", "-c", str(cfg)], cwd=str(tmp_path))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "NoAppError" in r.stderr and path in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# init() refusing


def test_init_failure_stops_the_server(hornet_server, apps):
    """init() returning -1 in the worker: the server cannot start; it must stop with exit
    status 1 (not respawn forever) and leave nothing running."""
    srv = hornet_server(app=apps["probe"], env={"PROBE_INIT_FAIL": "1"}, wait_ready=False)
    code = srv.wait_exit(30)
    err = srv.stderr_text()
    assert code == 1, "expected exit status 1, got %r; stderr:\n%s" % (code, err[-3000:])
    assert "init refuses to start" in err, "the app's own log line is missing:\n" + err[-3000:]
    wait_until(lambda: not srv.group_alive(), 10, what="no process of the server left")
