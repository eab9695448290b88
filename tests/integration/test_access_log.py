"""Access log (worker/access_log.c) through the real binary: Hypercorn's default line for a
curl request, a custom format with many atoms, logging to stdout, reopening on SIGUSR1
(logrotate), and a start-up failure for a log that cannot be opened.

Lines are flushed once per loop iteration, so every check polls the file for a bounded time.
"""

import os
import re
import signal
import time

from hornet_fixture import READY_USER_AGENT, Conn, curl, wait_until

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
