"""use_reloader: a change to the config file or the app's shared object reloads, once per
burst of changes; a broken file is refused like a SIGHUP reload."""
import os
import shutil
import time

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import to_yaml, wait_until


def test_rewriting_the_so_reloads_exactly_once(hornet_server, apps, tmp_path):
    so = tmp_path / "libapp.so"
    shutil.copy(apps["stuck"], so)  # any app that answers 200 on /
    srv = hornet_server(app=None, config={"application_path": str(so), "use_reloader": True,
                                          "workers": 2})
    assert srv.request().status == 200
    # what make does: write a new file and rename it over the old one, several times
    for i in range(3):
        tmp = tmp_path / ("libapp.so.new%d" % i)
        shutil.copy(apps["stuck"], tmp)
        os.rename(tmp, so)
    wait_until(lambda: "reload complete" in srv.stderr_text(), 20, what="a reload")
    time.sleep(1.0)  # a second reload would have started by now; the count is what is checked
    log = srv.stderr_text()
    assert log.count("watched files changed") == 1, log
    assert log.count("reload complete") == 1, log
    assert srv.request().status == 200


def test_editing_the_config_reloads_and_a_broken_edit_is_refused(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello",
                                          "use_reloader": True})
    assert srv.request().header("server") == "hornet"
    cfg = dict(srv.config, include_server_header=False)
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))
    wait_until(lambda: "reload complete" in srv.stderr_text(), 20, what="a reload")
    wait_until(lambda: srv.request().header("server") is None, 10, what="the new config")
    with open(srv.config_path, "w") as f:
        f.write("workers: [\n")
    wait_until(lambda: "reload refused" in srv.stderr_text(), 20, what="the refusal")
    assert srv.request().status == 200


def test_no_watching_without_use_reloader(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello"})
    with open(srv.config_path, "a") as f:
        f.write("# touched\n")
    time.sleep(1.0)
    assert "watched files changed" not in srv.stderr_text()
