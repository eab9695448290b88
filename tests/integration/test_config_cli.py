"""Command line and YAML config: -v, -h, -t, --dump-config, error messages with FILE:LINE:COL,
units, CLI overriding the file, defaults, the no-argument start."""

import os
import re
import signal
import socket

import pytest

from hornet_fixture import (Conn, HornetServer, free_port, port_accepts, run_hornet, to_yaml,
                            wait_until)

HELLO = b"Hello, world!"


def cpu_count():
    return {os.cpu_count(), len(os.sched_getaffinity(0))}


def write(tmp_path, text, name="hornet.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def hornet_t(path):
    return run_hornet(["-t", "-c", path])


# ---------------------------------------------------------------------------------------------
# version, help, unknown options


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version(hornet_bin, flag):
    p = run_hornet([flag])
    assert p.returncode == 0, p.stderr
    assert re.match(r"hornet \d+\.\d+\.\d+\b", p.stdout), (p.stdout, p.stderr)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(hornet_bin, flag):
    p = run_hornet([flag])
    assert p.returncode == 0, p.stderr
    for opt in ("--bind", "--workers", "--pid", "--access-logfile", "--error-logfile",
                "--log-level", "--keep-alive", "--graceful-timeout", "--dump-config",
                "--version", "-c", "-t"):
        assert opt in p.stdout, "--help does not mention %s" % opt


def test_unknown_option(hornet_bin):
    p = run_hornet(["--no-such-option"])
    assert p.returncode != 0
    assert "--no-such-option" in p.stderr


def test_missing_option_value(hornet_bin):
    p = run_hornet(["-t", "--workers"])
    assert p.returncode != 0
    assert "workers" in p.stderr


def test_unknown_builtin_app(hornet_bin, tmp_path):
    p = run_hornet(["-b", "127.0.0.1:%d" % free_port(), "-w", "1", "builtin:nope"],
                   cwd=str(tmp_path))
    assert p.returncode == 1, p.stderr
    assert "builtin:nope" in p.stderr


# ---------------------------------------------------------------------------------------------
# -t


def test_t_valid_config_exits_0_without_binding(hornet_bin, tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        path = write(tmp_path, to_yaml({"bind": ["127.0.0.1:%d" % port], "workers": 2,
                                        "keep_alive_timeout": "5s"}))
        p = hornet_t(path)
        # the port is taken: -t must not have tried to bind it
        assert p.returncode == 0, p.stderr
    finally:
        blocker.close()


def test_t_empty_config_is_valid(hornet_bin, tmp_path):
    assert hornet_t(write(tmp_path, "")).returncode == 0


def test_t_comments_only_config_is_valid(hornet_bin, tmp_path):
    assert hornet_t(write(tmp_path, "# nothing here\n")).returncode == 0


def test_t_invalid_config_exits_1(hornet_bin, tmp_path):
    p = hornet_t(write(tmp_path, "workers: lots\n"))
    assert p.returncode == 1
    assert "workers" in p.stderr


def test_missing_config_file(hornet_bin, tmp_path):
    path = str(tmp_path / "nope.yaml")
    p = run_hornet(["-t", "-c", path])
    assert p.returncode == 1
    assert path in p.stderr


# ---------------------------------------------------------------------------------------------
# error messages


def test_error_workers_exact_message(hornet_bin, tmp_path):
    path = write(tmp_path, "# hornet\nbind: [\"127.0.0.1:%d\"]\nworkers: lots\n" % free_port())
    p = hornet_t(path)
    assert p.returncode == 1
    assert ('%s:3:10: workers: expected an integer from 1 to 512 or "auto", got "lots"' % path) \
        in p.stderr, p.stderr


def test_error_unknown_key_suggests(hornet_bin, tmp_path):
    path = write(tmp_path, "bind: [\"127.0.0.1:8000\"]\nwokers: 2\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert '%s:2:1: unknown key "wokers" (did you mean "workers"?)' % path in p.stderr, p.stderr


def test_error_unknown_key_far_from_everything(hornet_bin, tmp_path):
    path = write(tmp_path, "zzzzzzzzzzzzzzzz: 1\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert '%s:1:1: unknown key "zzzzzzzzzzzzzzzz"' % path in p.stderr, p.stderr


def test_error_invalid_yaml(hornet_bin, tmp_path):
    path = write(tmp_path, "workers: 2\nbind: [\"127.0.0.1:8000\"\nbacklog: 5\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert re.search(re.escape(path) + r":\d+:\d+: invalid YAML: \S", p.stderr), p.stderr


def test_error_bad_indentation(hornet_bin, tmp_path):
    path = write(tmp_path, "workers: 2\n  backlog: 5\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert re.search(re.escape(path) + r":\d+:\d+: ", p.stderr), p.stderr


def test_error_top_level_not_mapping(hornet_bin, tmp_path):
    path = write(tmp_path, "- workers\n- 2\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert re.search(re.escape(path) + r":1:1: ", p.stderr), p.stderr


BAD_VALUES = [
    # key, value as written, text expected in the "got" part
    ("workers", "0", '"0"'),
    ("workers", "513", '"513"'),
    ("workers", "-1", '"-1"'),
    ("backlog", "many", '"many"'),
    ("keep_alive_timeout", "soon", '"soon"'),
    ("keep_alive_timeout", "5 parsecs", '"5 parsecs"'),
    ("graceful_timeout", "-3s", '"-3s"'),
    ("read_timeout", "fast", '"fast"'),
    ("keep_alive_max_requests", "lots", '"lots"'),
    ("h11_max_incomplete_size", "huge", '"huge"'),
    ("max_header_count", "x", '"x"'),
    ("max_body_size", "16 parsecs", '"16 parsecs"'),
    ("max_body_size", "12QiB", '"12QiB"'),
    ("include_server_header", "maybe", '"maybe"'),
    ("include_date_header", "2", '"2"'),
    ("loglevel", "chatty", '"chatty"'),
    ("worker_class", "trio", '"trio"'),
]


@pytest.mark.parametrize("key,value,got", BAD_VALUES, ids=["%s=%s" % (k, v) for k, v, _ in
                                                           BAD_VALUES])
def test_error_bad_value(hornet_bin, tmp_path, key, value, got):
    path = write(tmp_path, "# comment\n%s: %s\n" % (key, value))
    p = hornet_t(path)
    assert p.returncode == 1, p.stderr
    prefix = "%s:2:%d: %s: expected " % (path, len(key) + 3, key)
    assert prefix in p.stderr, p.stderr
    assert "got %s" % got in p.stderr, p.stderr


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1:99999", "[::1", "unix:", "fd://x",
                                  "127.0.0.1:port"])
def test_error_bad_bind(hornet_bin, tmp_path, addr):
    path = write(tmp_path, "bind:\n  - \"127.0.0.1:8080\"\n  - \"%s\"\n" % addr)
    p = hornet_t(path)
    assert p.returncode == 1, p.stderr
    # "expected ..." for syntax; a name that does not resolve gets the resolver's words
    assert re.search(re.escape(path) + r":3:\d+: bind: .*%s" % re.escape(addr), p.stderr), \
        p.stderr


def test_error_bind_wrong_type(hornet_bin, tmp_path):
    path = write(tmp_path, "bind:\n  host: x\n")
    p = hornet_t(path)
    assert p.returncode == 1
    assert re.search(re.escape(path) + r":\d+:\d+: bind: expected ", p.stderr), p.stderr


def test_error_in_file_is_reported_when_starting(hornet_bin, tmp_path):
    """Not only -t: a normal start with a bad file exits 1 with the same message."""
    path = write(tmp_path, "bind: [\"127.0.0.1:%d\"]\nworkers: lots\n" % free_port())
    p = run_hornet(["-c", path, "builtin:hello"], cwd=str(tmp_path))
    assert p.returncode == 1
    assert "%s:2:10: workers: expected " % path in p.stderr, p.stderr


@pytest.mark.parametrize("args,opt", [
    (["--workers", "lots"], "--workers"),
    (["-w", "0"], "-w"),
    (["--keep-alive", "soon"], "--keep-alive"),
    (["--graceful-timeout", "never"], "--graceful-timeout"),
    (["--log-level", "chatty"], "--log-level"),
    (["--bind", "127.0.0.1:99999"], "--bind"),
])
def test_cli_value_errors(hornet_bin, tmp_path, args, opt):
    p = run_hornet(["-t"] + args, cwd=str(tmp_path))
    assert p.returncode == 1, p.stderr
    long_opt = {"-w": "--workers"}.get(opt, opt)
    assert re.search(r"(%s|%s): .*expected" % (re.escape(opt), re.escape(long_opt)), p.stderr), \
        p.stderr


def test_cli_workers_exact_message(hornet_bin, tmp_path):
    p = run_hornet(["-t", "--workers", "lots"], cwd=str(tmp_path))
    assert p.returncode == 1
    assert '--workers: expected an integer from 1 to 512 or "auto", got "lots"' in p.stderr, \
        p.stderr


# ---------------------------------------------------------------------------------------------
# units


@pytest.mark.parametrize("value", ["5", "2.5", "500ms", "1m", "30s", "0.5s", "1h"])
def test_duration_forms_accepted(hornet_bin, tmp_path, value):
    p = hornet_t(write(tmp_path, "keep_alive_timeout: %s\ngraceful_timeout: %s\n" % (value, value)))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("value", ["1024", "16k", "1MiB", "2M", "64KiB", "1G"])
def test_size_forms_accepted(hornet_bin, tmp_path, value):
    p = hornet_t(write(tmp_path, "max_body_size: %s\n" % value))
    assert p.returncode == 0, p.stderr


def test_workers_auto_accepted(hornet_bin, tmp_path):
    assert hornet_t(write(tmp_path, "workers: auto\n")).returncode == 0


def test_documented_keys_accepted(hornet_bin, tmp_path):
    cfg = {
        "bind": ["127.0.0.1:%d" % free_port()], "backlog": 128, "workers": 2,
        "application_path": "builtin:hello", "pid_path": str(tmp_path / "h.pid"),
        "user": "root", "group": "root", "keep_alive_timeout": "5s",
        "keep_alive_max_requests": 1000, "graceful_timeout": "3s", "read_timeout": "60s",
        "h11_max_incomplete_size": 16384, "max_header_count": 100, "max_body_size": "16MiB",
        "include_server_header": True, "include_date_header": True,
        "accesslog": str(tmp_path / "access.log"), "errorlog": "-", "loglevel": "info",
        "static_root": str(tmp_path), "static_index": "index.html",
    }
    p = hornet_t(write(tmp_path, to_yaml(cfg) + "umask: 0022\n"))
    assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------------------------------------
# --dump-config


DUR = re.compile(r"^\s*([0-9.]+)\s*(ms|s|m|h)?\s*$")
SIZE = re.compile(r"^\s*([0-9.]+)\s*(k|K|KiB|KB|M|MiB|MB|G|GiB|GB)?\s*$")


def seconds(v):
    if isinstance(v, (int, float)):
        return float(v)
    m = DUR.match(str(v))
    assert m, "not a duration: %r" % v
    return float(m.group(1)) * {None: 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def size(v):
    if isinstance(v, int):
        return v
    m = SIZE.match(str(v))
    assert m, "not a size: %r" % v
    unit = (m.group(2) or "")[:1].upper()
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit])


def dump(args, cwd):
    import yaml
    p = run_hornet(["--dump-config"] + args, cwd=cwd)
    assert p.returncode == 0, p.stderr
    d = yaml.safe_load(p.stdout)
    assert isinstance(d, dict), p.stdout
    return d


def test_dump_config_defaults(hornet_bin, tmp_path):
    d = dump([], str(tmp_path))
    assert seconds(d["keep_alive_timeout"]) == 5
    assert d["keep_alive_max_requests"] == 1000
    assert seconds(d["graceful_timeout"]) == 3
    assert size(d["h11_max_incomplete_size"]) == 16384
    assert d["max_header_count"] == 100
    assert size(d["max_body_size"]) == 16 << 20
    assert d["include_server_header"] is True
    assert d["include_date_header"] is True
    assert d["bind"] == ["127.0.0.1:8000"] or d["bind"] == "127.0.0.1:8000"


def test_dump_config_reads_file_and_cli_overrides(hornet_bin, tmp_path):
    path = write(tmp_path, to_yaml({"workers": 3, "keep_alive_timeout": "30s", "backlog": 77,
                                    "bind": ["127.0.0.1:1234"]}))
    d = dump(["-c", path], str(tmp_path))
    assert d["workers"] == 3
    assert seconds(d["keep_alive_timeout"]) == 30
    assert d["backlog"] == 77
    d = dump(["-c", path, "-w", "2", "--keep-alive", "7", "-b", "127.0.0.1:4321"], str(tmp_path))
    assert d["workers"] == 2
    assert seconds(d["keep_alive_timeout"]) == 7
    assert d["backlog"] == 77
    assert d["bind"] in (["127.0.0.1:4321"], "127.0.0.1:4321")


def test_dump_config_round_trips(hornet_bin, tmp_path):
    """What --dump-config prints is itself a valid config that dumps the same."""
    path = write(tmp_path, to_yaml({"workers": 3, "max_body_size": "1MiB",
                                    "keep_alive_timeout": "1500ms"}))
    p1 = run_hornet(["--dump-config", "-c", path], cwd=str(tmp_path))
    assert p1.returncode == 0, p1.stderr
    path2 = write(tmp_path, p1.stdout, name="dumped.yaml")
    p2 = run_hornet(["--dump-config", "-c", path2], cwd=str(tmp_path))
    assert p2.returncode == 0, p2.stderr

    def body(text):  # the dump may start with a comment naming its source
        return [l for l in text.splitlines() if not l.lstrip().startswith("#")]
    assert body(p1.stdout) == body(p2.stdout)


# ---------------------------------------------------------------------------------------------
# CLI overrides at run time


def test_cli_bind_replaces_file_bind(hornet_server):
    file_port, cli_port = free_port(), free_port()
    srv = hornet_server(config={"bind": ["127.0.0.1:%d" % file_port]},
                        args=["-b", "127.0.0.1:%d" % cli_port])
    assert srv.port == cli_port
    assert srv.request().body == HELLO
    assert not port_accepts(file_port)


def test_cli_repeated_bind(hornet_server):
    p1, p2 = free_port(), free_port()
    srv = hornet_server(args=["-b", "127.0.0.1:%d" % p1, "--bind", "127.0.0.1:%d" % p2])
    with Conn(p1) as c:
        assert c.request().body == HELLO
    with Conn(p2) as c:
        assert c.request().body == HELLO
    assert srv.stop() == 0


def test_cli_workers_overrides_file(hornet_server):
    srv = hornet_server(config={"workers": 1}, args=["-w", "3"])
    assert len(srv.wait_workers(3)) == 3


def test_workers_auto_starts_one_per_cpu(hornet_server):
    srv = hornet_server(args=["--workers", "auto"])
    wait_until(lambda: len(srv.workers()) in cpu_count(), what="one worker per CPU")


def test_cli_keep_alive_overrides_file(hornet_server):
    srv = hornet_server(config={"keep_alive_timeout": "120s"}, args=["--keep-alive", "1"])
    with Conn(srv.port) as c:
        assert c.request().status == 200
        c.assert_closed(timeout=15)


def test_application_path_from_config(hornet_server):
    srv = hornet_server(app=None, config={"application_path": "builtin:echo"})
    assert srv.request("GET", "/from-config").body.startswith(b"GET /from-config ")


def test_cli_app_overrides_config(hornet_server):
    srv = hornet_server(app="builtin:hello", config={"application_path": "builtin:echo"})
    assert srv.request("GET", "/x").body == HELLO


def test_config_without_dash_c_flag_options_only(hornet_server):
    port = free_port()
    srv = hornet_server(use_config_file=False, args=["-b", "127.0.0.1:%d" % port, "-w", "1"])
    assert srv.config_path is None
    assert srv.request().body == HELLO


# ---------------------------------------------------------------------------------------------
# no arguments at all


def test_no_arguments_serves_hello_on_8000(hornet_bin, tmp_path):
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
    try:
        probe.bind(("127.0.0.1", 8000))
    except OSError:
        pytest.skip("port 8000 is busy")
    finally:
        probe.close()
    srv = HornetServer.__new__(HornetServer)
    srv.proc = None
    try:
        srv.__init__(tmp_path / "noargs", app=None, use_config_file=False, wait_ready=False)
        srv.port, srv.host = 8000, "127.0.0.1"
        srv.wait_ready()
        assert "http://127.0.0.1:8000" in srv.stderr_text()
        with Conn(8000) as c:
            r = c.request()
        assert r.status == 200 and r.body == HELLO
        wait_until(lambda: len(srv.workers()) in cpu_count(), what="one worker per CPU")
        assert srv.stop(signal.SIGTERM, timeout=15) == 0
    finally:
        srv.cleanup()


def test_errorlog_null_turns_the_error_log_off(hornet_server):
    """errorlog: null writes nothing at all (it once wrote everything down to DEBUG: an
    'off' level of -1 in an unsigned enum was above every level; found by fuzz_cfg)."""
    srv = hornet_server(app="builtin:hello", config={"errorlog": None, "loglevel": "info"})
    assert srv.request().status == 200
    assert srv.stop() == 0
    assert srv.stderr_text() == "", srv.stderr_text()[:500]


# ---------------------------------------------------------------------------------------------
# every error at once, cross-key errors with their place, Hypercorn's keys, the masked password

TRANSLATED = """\
bind: ["127.0.0.1:%d"]
workers: lots
debug: true
keep_alive_timeout: soon
logconfig: logging.ini
wokers: 2
loglevel: loud
h11_pass_raw_headers: true
"""


@pytest.mark.parametrize("mode", ["-t", "start"])
def test_every_error_of_a_file_at_once(hornet_bin, tmp_path, mode):
    """A translated Hypercorn file with six mistakes needs one run, not six."""
    path = write(tmp_path, TRANSLATED % free_port())
    args = ["-t", "-c", path] if mode == "-t" else ["-c", path, "builtin:hello"]
    p = run_hornet(args, cwd=str(tmp_path))
    assert p.returncode == 1, p.stderr
    want = [
        '%s:2:10: workers: expected an integer from 1 to 512 or "auto", got "lots"',
        "%s:3:1: debug: Hypercorn's key, not supported by hornet: asyncio's debug mode; "
        "for more log output use loglevel: debug",
        '%s:4:21: keep_alive_timeout: expected a duration such as 30s or 500ms, got "soon"',
        "%s:5:1: logconfig: Hypercorn's key, not supported by hornet: Python logging "
        "configuration; use errorlog, loglevel, accesslog and access_log_format",
        '%s:6:1: unknown key "wokers" (did you mean "workers"?)',
        "%s:7:11: loglevel: expected one of ",
        "%s:8:1: h11_pass_raw_headers: Hypercorn's key, not supported by hornet: ",
    ]
    lines = p.stderr.splitlines()
    assert len(lines) == len(want), p.stderr
    for line, w in zip(lines, want):
        assert line.startswith("hornet: " + w % path), (line, w)


def test_error_list_is_capped(hornet_bin, tmp_path):
    path = write(tmp_path, "".join("key%d: 1\n" % i for i in range(30)))
    p = hornet_t(path)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 21, p.stderr
    assert lines[19] == 'hornet: %s:20:1: unknown key "key19"' % path, lines[19]
    assert lines[20] == "hornet: %s: and 10 more errors" % path, lines[20]


def test_cross_key_error_names_its_place(hornet_bin, tmp_path):
    path = write(tmp_path, "# TLS\nbind: 127.0.0.1:%d\n\nkeyfile: %s\n"
                 % (free_port(), tmp_path / "key.pem"))
    p = hornet_t(path)
    assert p.returncode == 1
    assert p.stderr == ("hornet: %s:4:1: keyfile: expected certfile as well (keyfile is set but "
                        "certfile is not)\n" % path), p.stderr


def test_cross_key_errors_all_at_once(hornet_bin, tmp_path):
    a = free_port()
    path = write(tmp_path, "bind: 127.0.0.1:%d\nca_certs: /ca.pem\nkeyfile: /key.pem\n"
                 "proxy_protocol_bind: 127.0.0.1:%d\n" % (a, free_port()))
    p = hornet_t(path)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 3, p.stderr
    assert lines[0].startswith("hornet: %s:4:1: proxy_protocol_bind: expected an address of "
                               "bind" % path), lines
    assert lines[1].startswith("hornet: %s:3:1: keyfile: " % path), lines
    assert lines[2].startswith("hornet: %s:2:1: ca_certs: " % path), lines


def test_reload_logs_every_error(hornet_server):
    srv = hornet_server(config={"workers": 1})
    good = open(srv.config_path).read()
    with open(srv.config_path, "w") as f:
        f.write(good + "debug: true\nbacklog: lots\n")
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: "reload refused" in srv.stderr_text(), 20, what="the refusal")
    err = srv.stderr_text()
    assert "%s:" % srv.config_path in err and "debug: Hypercorn's key" in err, err
    assert ": backlog: expected an integer" in err, err
    refusal = [ln for ln in err.splitlines() if "reload refused" in ln]
    assert len(refusal) == 1 and "debug: Hypercorn's key" in refusal[0] \
        and "(and 1 more, logged above)" in refusal[0], refusal
    assert srv.request().status == 200


def test_umask_takes_hypercorns_integer_form(hornet_bin, tmp_path):
    assert dump(["-c", write(tmp_path, "umask: 0o027\n")], str(tmp_path))["umask"] == "0027"


def test_dump_config_masks_keyfile_password(hornet_bin, tmp_path):
    p = run_hornet(["--dump-config", "-c", write(tmp_path, "keyfile_password: hunter2\n")])
    assert p.returncode == 0, p.stderr
    assert 'keyfile_password: "********"' in p.stdout and "hunter2" not in p.stdout, p.stdout
    p = run_hornet(["--dump-config", "--keyfile-password", "s3cret"])
    assert 's3cret' not in p.stdout and 'keyfile_password: "********"' in p.stdout, p.stdout
    assert dump([], str(tmp_path))["keyfile_password"] is None
