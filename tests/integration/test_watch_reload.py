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


def test_reload_paths_glob_reloads_on_matching_files_only(hornet_server, tmp_path):
    """reload: {paths: [...]} turns the watch on by itself; a glob matches by name, and a
    dot file (an editor's swap file) or another extension does not count."""
    tpl = tmp_path / "templates"
    tpl.mkdir()
    srv = hornet_server(app=None, config={"application_path": "builtin:hello",
                                          "reload": {"paths": [str(tpl / "*.html")]}})
    (tpl / ".page.html.swp").write_text("x")
    (tpl / "notes.txt").write_text("x")
    time.sleep(1.0)
    assert "watched files changed" not in srv.stderr_text()
    (tpl / "page.html").write_text("<p>hi</p>")
    wait_until(lambda: "reload complete" in srv.stderr_text(), 20, what="a reload")
    time.sleep(1.0)
    assert srv.stderr_text().count("watched files changed") == 1
    assert srv.request().status == 200


def test_reload_paths_directory_and_glob_in_the_directory_part(hornet_server, tmp_path):
    for site in ("a", "b"):
        (tmp_path / "sites" / site).mkdir(parents=True)
    conf = tmp_path / "conf.d"
    conf.mkdir()
    srv = hornet_server(app=None, config={
        "application_path": "builtin:hello",
        "reload": {"paths": [str(tmp_path / "sites" / "*" / "*.css"), str(conf)]}})
    (tmp_path / "sites" / "b" / "main.css").write_text("x")
    wait_until(lambda: "reload complete" in srv.stderr_text(), 20, what="a reload")
    (conf / "extra").write_text("x")
    wait_until(lambda: srv.stderr_text().count("reload complete") == 2, 20,
               what="a second reload")


def test_workers_do_not_hold_the_inotify_descriptor(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:hello",
                                          "use_reloader": True, "workers": 2})

    def inotify_fds(pid):
        d = "/proc/%d/fd" % pid
        return [n for n in os.listdir(d) if "inotify" in os.readlink(os.path.join(d, n))]

    assert inotify_fds(srv.pid)
    for pid in srv.wait_workers(2):
        assert not inotify_fds(pid), pid
