"""Access log (worker/access_log.c) through the real binary: Hypercorn's default line for a
curl request, a custom format with many atoms, logging to stdout, reopening on SIGUSR1
(logrotate), a start-up failure for a log that cannot be opened, and JSON lines
(access_log_escape: json, access_log_prefix: false) that parse whatever bytes the client sent.

Lines are flushed once per loop iteration, so every check polls the file for a bounded time.
"""

import json
import os
import re
import signal
import socket
import time

import h2.config
import h2.connection
import h2.events
import pytest

from hornet_fixture import READY_USER_AGENT, Conn, build_request, curl, wait_until

# [2026-11-23 12:00:00 +0000] [4242] [INFO] <formatted atoms>
PREFIX_RE = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[INFO\] "


def log_lines(path_or_text, is_text=False):
    """Lines of a log, without the fixture's readiness probes."""
    if is_text:
        text = path_or_text
    else:
        try:
            with open(path_or_text, encoding="latin-1") as f:
                text = f.read()
        except FileNotFoundError:
            return []
    return [ln for ln in text.splitlines() if READY_USER_AGENT not in ln]


def bodies(path):
    """The formatted part of each line (after Hypercorn's "[date] [pid] [INFO] " prefix)."""
    out = []
    for ln in log_lines(path):
        m = re.fullmatch(PREFIX_RE + r"(.*)", ln)
        assert m, "line without the handler prefix: %r" % ln
        out.append(m.group(2))
    return out


def wait_line(path, needle, timeout=10.0):
    """The first line of the file at path that contains needle, polling until timeout."""
    def find():
        for ln in log_lines(path):
            if needle in ln:
                return ln
        return None
    return wait_until(find, timeout, what="%r in %s" % (needle, path))


def test_default_format_curl(hornet_server, tmp_path):
    path = str(tmp_path / "access.log")
    srv = hornet_server(config={"accesslog": path})
    p = curl("-s", "-o", "/dev/null", "-w", "%{http_code} %{local_port}",
             "-H", "Referer: http://example.com/from", srv.url + "/some/path?x=1&y=2")
    status, local_port = p.stdout.decode().split()
    assert status == "200"

    line = wait_line(path, "/some/path")
    m = re.fullmatch(PREFIX_RE + r"(.*)", line)
    assert m, line
    assert int(m.group(1)) in srv.workers(), "the prefix names the worker's pid"
    # h l l t "r" s b "f" "a": no query in r, http_version as the protocol (not HTTP/1.1)
    fmt = (r'127\.0\.0\.1:%s - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
           r'"GET /some/path 1\.1" 200 13 "http://example.com/from" "curl/[\d.]+"' % local_port)
    assert re.fullmatch(fmt, m.group(2)), m.group(2)


def test_custom_format_atoms(hornet_server, tmp_path):
    fmt = ("m=%(m)s|U=%(U)s|Uq=%(Uq)s|q=%(q)s|H=%(H)s|s=%(s)s|st=%(st)s|S=%(S)s|B=%(B)s"
           "|xi=%({x-test}i)s|XI=%({X-Test}i)s|ct=%({content-type}o)s|p=%(p)s"
           "|e=%({HN_ACCESS_TEST}e)s|R=%(R)s|r=%(r)s|no=%(nope)s|l=%(l)s|pct=100%%"
           "|T=%(T)s|D=%(D)s|L=%(L)s|w=[%(m)6s]")
    path = str(tmp_path / "access.log")
    srv = hornet_server(config={"accesslog": path, "access_log_format": fmt},
                        env={"HN_ACCESS_TEST": "from-env"})
    with Conn(srv.port) as c:
        r = c.request("GET", "/atoms?a=1", headers=[("X-Test", 'quote"back\\slash')])
        assert r.status == 200
        r = c.request("HEAD", "/missing-query")
        assert r.status == 200

    line = wait_line(path, "/atoms")
    m = re.fullmatch(PREFIX_RE + r"(.*)", line)
    assert m, line
    worker = int(m.group(1))
    fields = dict(f.split("=", 1) for f in m.group(2).split("|"))
    assert fields["m"] == "GET"
    assert fields["U"] == "/atoms"
    assert fields["Uq"] == "/atoms?a=1"
    assert fields["q"] == "a=1"
    assert fields["H"] == "1.1"
    assert fields["s"] == "200"
    assert fields["st"] == "OK"
    assert fields["S"] == "http"
    assert fields["B"] == "13"
    # '"' and '\' from the client are escaped, so they cannot break a quoted field
    assert fields["xi"] == r"quote\x22back\x5Cslash"
    assert fields["XI"] == fields["xi"], "header atoms ignore case"
    assert fields["ct"].startswith("text/plain")
    assert fields["p"] == "<%d>" % worker
    assert fields["e"] == "from-env"
    assert fields["R"] == "GET /atoms?a=1 1.1"
    assert fields["r"] == "GET /atoms 1.1"
    assert fields["no"] == "-", "unknown atoms render -"
    assert fields["l"] == "-"
    assert fields["pct"] == "100%"
    assert re.fullmatch(r"\d+", fields["T"])
    assert re.fullmatch(r"\d+", fields["D"])
    assert re.fullmatch(r"\d+\.\d{6}", fields["L"])
    assert int(fields["D"]) < 10_000_000
    assert fields["w"] == "[   GET]", "width is honoured"

    line = wait_line(path, "/missing-query")
    fields = dict(f.split("=", 1) for f in re.fullmatch(PREFIX_RE + r"(.*)", line).group(2)
                  .split("|"))
    assert fields["m"] == "HEAD"
    assert fields["q"] == ""
    assert fields["Uq"] == "/missing-query"
    assert fields["R"] == "HEAD /missing-query 1.1"
    assert fields["xi"] == "-", "a missing request header renders -"


def test_stdout(hornet_server):
    srv = hornet_server(config={"accesslog": "-", "access_log_format": '"%(r)s" %(s)s'})
    with Conn(srv.port) as c:
        assert c.request("GET", "/to-stdout").status == 200

    def find():
        for ln in log_lines(srv.stdout_text(), is_text=True):
            if "/to-stdout" in ln:
                return ln
        return None
    line = wait_until(find, 10, what="the access line on stdout")
    assert re.fullmatch(PREFIX_RE + r'"GET /to-stdout 1\.1" 200', line), line
    assert "/to-stdout" not in srv.stderr_text(), "the access log is not the error log"


def test_sigusr1_reopens(hornet_server, tmp_path):
    path = str(tmp_path / "access.log")
    srv = hornet_server(config={"accesslog": path, "access_log_format": "%(U)s"})
    rotated = path + ".1"
    with Conn(srv.port) as c:
        assert c.request("GET", "/before").status == 200
    wait_line(path, "/before")

    os.rename(path, rotated)
    srv.send_signal(signal.SIGUSR1)  # the master reopens its logs and tells the workers

    # Requests made before the worker has reopened still go to the rotated file, which is
    # what logrotate expects; keep asking until one lands in the new file.
    sent = []
    deadline = time.monotonic() + 10
    while True:
        sent.append("/after-%d" % len(sent))
        with Conn(srv.port) as c:
            assert c.request("GET", sent[-1]).status == 200
        time.sleep(0.1)
        if any(ln in sent for ln in bodies(path)):
            break
        assert time.monotonic() < deadline, \
            "no access line in a new %s within 10 s of SIGUSR1 (rotated file has %r)" \
            % (path, bodies(rotated))

    old, new = bodies(rotated), bodies(path)
    assert "/before" in old and "/before" not in new
    assert set(old) & set(new) == set(), "no line is written to both files"
    # every request is logged exactly once, in order, across the two files
    wait_until(lambda: len([ln for ln in bodies(rotated) + bodies(path)
                            if ln.startswith("/after-")]) == len(sent),
               5, what="all lines after SIGUSR1")
    assert [ln for ln in bodies(rotated) + bodies(path) if ln.startswith("/after-")] == sent
    assert srv.alive()


def test_unopenable_log_fails_start(hornet_server, tmp_path):
    path = str(tmp_path / "no-such-dir" / "access.log")
    srv = hornet_server(config={"accesslog": path}, wait_ready=False)
    code = srv.wait_exit(10)
    assert code is not None, "hornet kept running with an access log it cannot open"
    assert code != 0
    assert path in srv.stderr_text()


# ---------------------------------------------------------------------------------------------
# escaping modes and bare lines

# What a client may put in a request: '"', '\', a tab (the only control byte HTTP allows in a
# field value), UTF-8 (é, U+1F600), and bytes that are not UTF-8: a lone 0xFF, a truncated
# 3-byte character, an overlong '/'. Other control bytes reach a line through {name}e.
UA = b'q"b\\s\tz \xc3\xa9\xf0\x9f\x98\x80 \xff \xe2\x82 \xc0\xaf'
H2_PATH = b'/h2/a"b\\c\xff\xc3\xa9\xe2\x82'
H2_QUERY = b'x="\\\xfe'
ENV_VALUE = 'e"\\\x01\n\x1f\x7f\udce9\u00e9'  # \udce9: the byte 0xE9 in the environment
JSON_FORMAT = ('{"m":"%(m)s","path":"%(U)s","q":"%(q)s","ua":"%({user-agent}i)s",'
               '"env":"%({HN_ACCESS_ENV}e)s","s":"%(s)s","tab":"%({x-tab}i)s"}')


def json_value(raw):
    """What a JSON line holds for raw bytes: the UTF-8 characters in them, and U+00XX for each
    byte that is not part of one (so bytes and text round-trip through one rule)."""
    text = raw.decode("utf-8", "surrogateescape")
    return "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


def h2_request(port, path, headers):
    """One HTTP/2 (prior knowledge) GET whose path and headers are sent as given, unchecked by
    the client library; returns the :status."""
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, header_encoding=None, validate_outbound_headers=False,
        normalize_outbound_headers=False))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path),
                            (b":authority", b"localhost")] + headers, end_stream=True)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(conn.data_to_send())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            assert data, "connection closed before a response"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    return int(dict(ev.headers)[b":status"])
                assert not isinstance(ev, h2.events.StreamReset), "stream reset: %r" % ev
            sock.sendall(conn.data_to_send())
    raise AssertionError("no HTTP/2 response within 10 s")


def wait_raw_lines(path, count, timeout=10.0):
    """The file's lines as bytes, without readiness probes, once there are count of them."""
    def lines():
        try:
            with open(path, "rb") as f:
                got = [ln for ln in f.read().split(b"\n")[:-1]
                       if READY_USER_AGENT.encode() not in ln]
        except FileNotFoundError:
            return None
        return got if len(got) >= count else None
    return wait_until(lines, timeout, what="%d access lines in %s" % (count, path))


def test_json_lines_parse_and_round_trip(hornet_server, tmp_path):
    path = str(tmp_path / "access.log")
    srv = hornet_server(config={"accesslog": path, "access_log_format": JSON_FORMAT,
                                "access_log_escape": "json", "access_log_prefix": False},
                        env={"HN_ACCESS_ENV": ENV_VALUE})
    with Conn(srv.port) as c:
        c.send(build_request("GET", '/h1/a"b\\c?x="\\',
                             [("User-Agent", UA.decode("latin-1")), ("X-Tab", "a\tb")]))
        assert c.read_response().status == 200
    assert h2_request(srv.port, H2_PATH + b"?" + H2_QUERY, [(b"user-agent", UA)]) == 200

    raw = wait_raw_lines(path, 2)
    with open(path, "rb") as f:
        every = f.read()
    every.decode("utf-8")  # strict: the file is UTF-8 whatever the clients sent
    lines = [json.loads(ln) for ln in every.split(b"\n")[:-1]]  # probes included
    assert all(ln.startswith(b"{") for ln in raw), "no error-log prefix: %r" % raw

    h1, h2_ = (json.loads(ln) for ln in raw)
    env = json_value(os.fsencode(ENV_VALUE))
    assert h1 == {"m": "GET", "path": '/h1/a"b\\c', "q": 'x="\\', "ua": json_value(UA),
                  "env": env, "s": "200", "tab": "a\tb"}, h1
    assert h2_ == {"m": "GET", "path": json_value(H2_PATH), "q": json_value(H2_QUERY),
                   "ua": json_value(UA), "env": env, "s": "200", "tab": "-"}, h2_
    assert len(lines) >= 2


@pytest.mark.parametrize("escape, prefix, ua", [
    # today's escaping, kept as the default
    (None, None, rb'q\x22b\x5Cs\x09z \xC3\xA9\xF0\x9F\x98\x80 \xFF \xE2\x82 \xC0\xAF'),
    ("none", False, UA),
])
def test_escape_modes_and_prefix(hornet_server, tmp_path, escape, prefix, ua):
    path = str(tmp_path / "access.log")
    config = {"accesslog": path, "access_log_format": "%(m)s %({user-agent}i)s"}
    if escape:
        config["access_log_escape"] = escape
    if prefix is not None:
        config["access_log_prefix"] = prefix
    srv = hornet_server(config=config)
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/", [("User-Agent", UA.decode("latin-1"))]))
        assert c.read_response().status == 200
    (line,) = wait_raw_lines(path, 1)
    if prefix is False:
        assert line == b"GET " + ua
    else:
        m = re.fullmatch(PREFIX_RE.encode() + rb"(.*)", line, re.S)
        assert m, "the default keeps Hypercorn's prefix: %r" % line
        assert m.group(2) == b"GET " + ua
