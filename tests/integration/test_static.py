"""builtin:static: content types, index files and redirects, conditional requests (ETag,
Last-Modified), byte ranges, HEAD, 405, and the root as a boundary: "..", encoded dots and
symlinks must not reach files outside static_root."""

import email.utils
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from hornet_fixture import Conn, build_request, curl

INDEX = b"<!doctype html><title>root</title>\n"
TEXT = b"hello, static world\n"  # 20 bytes
BIG_SIZE = 5 * 1024 * 1024

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "ico": "image/x-icon",
    "wasm": "application/wasm",
    "pdf": "application/pdf",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "map": "application/json",
    "bin": "application/octet-stream",
    "unknownext": "application/octet-stream",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A document root next to a directory of secrets it must not reveal:

        base/secret.txt           outside the root
        base/root/index.html      ...
        base/root/a.txt, big.bin, empty.txt, file.<ext> for every known extension
        base/root/sub/index.html, base/root/noindex/x.txt, base/root/sub/deep/f.txt
        base/root/link-in -> a.txt, link-dir -> sub, sub/up -> ../a.txt    (inside: served)
        base/root/link-out -> ../secret.txt, link-abs -> <abs secret>,
        base/root/sub/escape -> ../../secret.txt, link-etc -> /etc         (outside: 404)
    """
    base = tmp_path_factory.mktemp("static")
    root = base / "root"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "noindex").mkdir()
    (base / "secret.txt").write_bytes(b"TOP SECRET\n")
    (root / "index.html").write_bytes(INDEX)
    (root / "a.txt").write_bytes(TEXT)
    (root / "empty.txt").write_bytes(b"")
    (root / "UPPER.HTML").write_bytes(b"<p>upper</p>")
    (root / "sub" / "index.html").write_bytes(b"sub index\n")
    (root / "sub" / "deep" / "f.txt").write_bytes(b"deep\n")
    (root / "noindex" / "x.txt").write_bytes(b"x\n")
    (root / "space name.txt").write_bytes(b"spaced\n")
    for ext in CONTENT_TYPES:
        (root / ("file." + ext)).write_bytes(b"x" * 10)
    (root / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    os.symlink("a.txt", root / "link-in")
    os.symlink("sub", root / "link-dir")
    os.symlink("../a.txt", root / "sub" / "up")
    os.symlink("../secret.txt", root / "link-out")
    os.symlink(str(base / "secret.txt"), root / "link-abs")
    os.symlink("../../secret.txt", root / "sub" / "escape")
    os.symlink("/etc", root / "link-etc")
    return root


@pytest.fixture
def srv(hornet_server, tree):
    return hornet_server(app="builtin:static", config={"static_root": str(tree)})


def get(srv, path, headers=None, method="GET"):
    return srv.request(method, path, headers=headers)


def raw(srv, target, method="GET"):
    """Send the request target exactly as given (no client-side normalisation)."""
    with Conn(srv.port) as c:
        c.send(build_request(method, target, [("Connection", "close")]))
        return c.read_response(method=method)


def assert_not_leaked(r):
    assert b"TOP SECRET" not in r.body
    assert b"root:" not in r.body


# ---------------------------------------------------------------------------------------------
# plain GET and HEAD


def test_index_at_root(srv):
    r = get(srv, "/")
    assert r.status == 200
    assert r.body == INDEX
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("content-length") == str(len(INDEX))
    assert r.header("accept-ranges") == "bytes"


def test_plain_file(srv, tree):
    r = get(srv, "/a.txt")
    assert r.status == 200
    assert r.body == TEXT
    assert r.header("content-length") == str(len(TEXT))
    assert r.header("content-type") == "text/plain; charset=utf-8"
    mtime = int(os.stat(tree / "a.txt").st_mtime)
    assert r.header("etag") == '"%x-%x"' % (mtime, len(TEXT))
    assert email.utils.parsedate_to_datetime(r.header("last-modified")).timestamp() == mtime


@pytest.mark.parametrize("ext", sorted(CONTENT_TYPES))
def test_content_type(srv, ext):
    r = get(srv, "/file." + ext)
    assert r.status == 200
    assert r.header("content-type") == CONTENT_TYPES[ext]


def test_content_type_case_insensitive(srv):
    r = get(srv, "/UPPER.HTML")
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"


def test_percent_encoded_name(srv):
    r = get(srv, "/space%20name.txt")
    assert r.status == 200
    assert r.body == b"spaced\n"


def test_empty_file(srv):
    r = get(srv, "/empty.txt")
    assert r.status == 200
    assert r.header("content-length") == "0"
    assert r.body == b""


def test_head(srv):
    g = get(srv, "/a.txt")
    with Conn(srv.port) as c:
        # a second request on the same connection proves HEAD sent no body bytes
        c.send(build_request("HEAD", "/a.txt") + build_request("GET", "/a.txt"))
        h = c.read_response(method="HEAD")
        g2 = c.read_response()
    assert h.status == 200
    assert h.body == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
        assert h.header(name) == g.header(name), name
    assert g2.status == 200 and g2.body == TEXT


def test_head_on_error_has_no_body(srv):
    with Conn(srv.port) as c:
        c.send(build_request("HEAD", "/missing") + build_request("GET", "/a.txt"))
        h = c.read_response(method="HEAD")
        g = c.read_response()
    assert h.status == 404
    assert g.status == 200 and g.body == TEXT


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_method_not_allowed(srv, method):
    r = srv.request(method, "/a.txt", body=b"" if method in ("POST", "PUT", "PATCH") else None)
    assert r.status == 405
    assert r.header("allow") == "GET, HEAD"


def test_keep_alive_mixed_statuses(srv):
    with Conn(srv.port) as c:
        statuses = []
        for path in ("/missing", "/a.txt", "/sub", "/", "/noindex/", "/a.txt"):
            r = c.request("GET", path)
            statuses.append(r.status)
        assert statuses == [404, 200, 301, 200, 404, 200]
        assert r.body == TEXT


def test_large_file(srv, tree):
    want = (tree / "big.bin").read_bytes()
    r = get(srv, "/big.bin")
    assert r.status == 200
    assert r.header("content-length") == str(BIG_SIZE)
    assert len(r.body) == BIG_SIZE
    assert r.body == want


def test_large_file_with_curl(srv, tree, tmp_path):
    out = tmp_path / "big.out"
    p = curl("-sS", "-o", str(out), "-w", "%{http_code}", srv.url + "/big.bin")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"200"
    assert out.read_bytes() == (tree / "big.bin").read_bytes()


# ---------------------------------------------------------------------------------------------
# directories


def test_directory_index(srv):
    r = get(srv, "/sub/")
    assert r.status == 200
    assert r.body == b"sub index\n"
    assert r.header("content-type") == "text/html; charset=utf-8"


def test_directory_redirect(srv):
    r = get(srv, "/sub")
    assert r.status == 301
    assert r.header("location") == "/sub/"


def test_directory_redirect_keeps_query(srv):
    r = get(srv, "/sub?a=1&b=2")
    assert r.status == 301
    assert r.header("location") == "/sub/?a=1&b=2"


def test_directory_redirect_is_not_offsite(srv):
    # "//sub" must not become "//sub/", which a browser reads as the host "sub"
    r = raw(srv, "//sub")
    assert r.status == 301
    assert r.header("location") == "/sub/"


def test_directory_without_index(srv):
    r = get(srv, "/noindex/")
    assert r.status == 404
    assert b"x.txt" not in r.body  # no listing


def test_trailing_slash_on_file(srv):
    assert get(srv, "/a.txt/").status == 404


def test_missing(srv):
    r = get(srv, "/nope.txt")
    assert r.status == 404
    assert r.header("content-type") == "text/plain; charset=utf-8"


# ---------------------------------------------------------------------------------------------
# conditional requests


def test_if_none_match(srv):
    etag = get(srv, "/a.txt").header("etag")
    r = get(srv, "/a.txt", [("If-None-Match", etag)])
    assert r.status == 304
    assert r.body == b""
    assert r.header("etag") == etag
    assert r.header("last-modified") is not None


@pytest.mark.parametrize("fmt", ['W/{}', '"nope", {}', '{} , "nope"', '*'])
def test_if_none_match_forms(srv, fmt):
    etag = get(srv, "/a.txt").header("etag")
    r = get(srv, "/a.txt", [("If-None-Match", fmt.format(etag))])
    assert r.status == 304


def test_if_none_match_miss(srv):
    r = get(srv, "/a.txt", [("If-None-Match", '"something-else"')])
    assert r.status == 200
    assert r.body == TEXT


def test_if_modified_since(srv):
    lm = get(srv, "/a.txt").header("last-modified")
    assert get(srv, "/a.txt", [("If-Modified-Since", lm)]).status == 304
    old = "Sun, 06 Nov 1994 08:49:37 GMT"
    r = get(srv, "/a.txt", [("If-Modified-Since", old)])
    assert r.status == 200 and r.body == TEXT
    # unparsable dates are ignored
    assert get(srv, "/a.txt", [("If-Modified-Since", "yesterday")]).status == 200


def test_if_modified_since_obsolete_formats(srv, tree):
    # RFC 9110 §5.6.7: recipients accept RFC 850 and asctime dates too
    t = time.gmtime(int(os.stat(tree / "a.txt").st_mtime))
    rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", t)
    asctime = time.asctime(t)  # "Sun Nov  6 08:49:37 1994"
    assert get(srv, "/a.txt", [("If-Modified-Since", rfc850)]).status == 304
    assert get(srv, "/a.txt", [("If-Modified-Since", asctime)]).status == 304


def test_if_none_match_wins_over_if_modified_since(srv):
    lm = get(srv, "/a.txt").header("last-modified")
    # RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present
    r = get(srv, "/a.txt", [("If-None-Match", '"other"'), ("If-Modified-Since", lm)])
    assert r.status == 200


def test_if_match_fails(srv):
    r = get(srv, "/a.txt", [("If-Match", '"other"')])
    assert r.status == 412


def test_head_304(srv):
    etag = get(srv, "/a.txt").header("etag")
    r = srv.request("HEAD", "/a.txt", headers=[("If-None-Match", etag)])
    assert r.status == 304


# ---------------------------------------------------------------------------------------------
# ranges


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=0-4", 0, 4),
    ("bytes=6-", 6, 19),
    ("bytes=-6", 14, 19),
    ("bytes=3-3", 3, 3),
    ("bytes=10-1000", 10, 19),
    ("bytes=-1000", 0, 19),
    ("BYTES=0-0", 0, 0),
])
def test_range(srv, spec, start, end):
    r = get(srv, "/a.txt", [("Range", spec)])
    assert r.status == 206
    assert r.header("content-range") == "bytes %d-%d/%d" % (start, end, len(TEXT))
    assert r.header("content-length") == str(end - start + 1)
    assert r.body == TEXT[start:end + 1]


@pytest.mark.parametrize("spec", ["bytes=20-", "bytes=100-200", "bytes=-0"])
def test_range_unsatisfiable(srv, spec):
    r = get(srv, "/a.txt", [("Range", spec)])
    assert r.status == 416
    assert r.header("content-range") == "bytes */%d" % len(TEXT)


def test_range_on_empty_file(srv):
    r = get(srv, "/empty.txt", [("Range", "bytes=0-")])
    assert r.status == 416
    assert r.header("content-range") == "bytes */0"


@pytest.mark.parametrize("spec", ["bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=x-y",
                                  "bytes=", "bytes=-"])
def test_range_ignored(srv, spec):
    r = get(srv, "/a.txt", [("Range", spec)])
    assert r.status == 200
    assert r.body == TEXT


def test_range_large_file(srv, tree):
    data = (tree / "big.bin").read_bytes()
    start, end = 1_000_000, 3_500_000
    r = get(srv, "/big.bin", [("Range", "bytes=%d-%d" % (start, end))])
    assert r.status == 206
    assert r.body == data[start:end + 1]


def test_range_ignored_for_head(srv):
    r = srv.request("HEAD", "/a.txt", headers=[("Range", "bytes=0-4")])
    assert r.status == 200
    assert r.header("content-length") == str(len(TEXT))


def test_if_range(srv):
    g = get(srv, "/a.txt")
    r = get(srv, "/a.txt", [("Range", "bytes=0-4"), ("If-Range", g.header("etag"))])
    assert r.status == 206 and r.body == TEXT[:5]
    r = get(srv, "/a.txt", [("Range", "bytes=0-4"), ("If-Range", g.header("last-modified"))])
    assert r.status == 206 and r.body == TEXT[:5]
    r = get(srv, "/a.txt", [("Range", "bytes=0-4"), ("If-Range", '"stale"')])
    assert r.status == 200 and r.body == TEXT
    r = get(srv, "/a.txt", [("Range", "bytes=0-4"), ("If-Range", "W/" + g.header("etag"))])
    assert r.status == 200, "If-Range needs a strong match"


@pytest.mark.parametrize("when", [
    "Wed, 02 Dec 2026 10:00:00 GMT",   # a date may begin with W, as a weak tag does
    "Sun, 06 Nov 1994 08:49:37 GMT",
])
def test_if_range_with_a_date_on_any_day(srv, tree, when):
    stamp = email.utils.parsedate_to_datetime(when).timestamp()
    os.utime(tree / "a.txt", (stamp, stamp))
    g = get(srv, "/a.txt")
    assert g.header("last-modified") == when, g
    r = get(srv, "/a.txt", [("Range", "bytes=0-4"), ("If-Range", when)])
    assert r.status == 206 and r.body == TEXT[:5], r


def test_range_with_curl(srv):
    p = curl("-sS", "-r", "2-6", srv.url + "/a.txt")
    assert p.returncode == 0, p.stderr
    assert p.stdout == TEXT[2:7]


# ---------------------------------------------------------------------------------------------
# the root is a boundary


@pytest.mark.parametrize("target", [
    "/../secret.txt",
    "/../../../../etc/passwd",
    "/%2e%2e/secret.txt",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2fsecret.txt",
    "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/.%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/sub/..%2f..%2fsecret.txt",
])
def test_traversal(srv, target):
    r = raw(srv, target)
    assert r.status in (400, 404), r
    assert_not_leaked(r)


def test_traversal_inside_root_is_fine(srv):
    r = raw(srv, "/sub/../a.txt")
    assert r.status == 200
    assert r.body == TEXT


def test_nul_in_path(srv):
    r = raw(srv, "/a.txt%00.html")
    assert r.status == 400


def test_bad_escape(srv):
    r = raw(srv, "/a%zz.txt")
    assert r.status == 400


@pytest.mark.parametrize("target", ["/link-out", "/link-abs", "/sub/escape", "/link-etc/passwd",
                                    "/link-etc/"])
def test_symlink_out_of_root(srv, target):
    r = raw(srv, target)
    assert r.status == 404, r
    assert_not_leaked(r)


def test_symlink_inside_root(srv):
    r = get(srv, "/link-in")
    assert r.status == 200
    assert r.body == TEXT
    r = get(srv, "/sub/up")
    assert r.status == 200
    assert r.body == TEXT


def test_symlinked_directory_inside_root(srv):
    r = get(srv, "/link-dir/")
    assert r.status == 200
    assert r.body == b"sub index\n"
    r = get(srv, "/link-dir/deep/f.txt")
    assert r.status == 200
    assert r.body == b"deep\n"


def test_fifo_is_not_served(hornet_server, tmp_path):
    root = tmp_path / "fiforoot"
    root.mkdir()
    os.mkfifo(root / "pipe")
    (root / "index.html").write_bytes(INDEX)
    s = hornet_server(app="builtin:static", config={"static_root": str(root)})
    # must answer at once rather than block the worker opening the FIFO
    assert get(s, "/pipe").status == 404
    assert get(s, "/").status == 200


def test_unreadable_file(hornet_server, tmp_path):
    """A file the worker may not read is 403. Root reads files whatever their mode, so as root
    the workers drop to nobody, and the files go where nobody can reach them (the test's own
    tmp_path is closed to other users)."""
    config = {}
    if os.geteuid() == 0:
        tmp_path = Path(tempfile.mkdtemp(prefix="hornet-static-"))
        tmp_path.chmod(0o755)
        config = {"user": "nobody", "group": "nogroup"}
    try:
        root = tmp_path / "permroot"
        root.mkdir(mode=0o755)
        (root / "index.html").write_bytes(INDEX)
        (root / "index.html").chmod(0o644)
        p = root / "locked.txt"
        p.write_bytes(b"locked\n")
        p.chmod(0)
        config["static_root"] = str(root)
        s = hornet_server(app="builtin:static", config=config)
        assert get(s, "/").status == 200
        r = get(s, "/locked.txt")
        assert r.status == 403
        assert b"locked" not in r.body.replace(b"Forbidden", b"")
    finally:
        if config.get("user"):
            shutil.rmtree(tmp_path, ignore_errors=True)


def test_missing_root_fails_startup(hornet_server, tmp_path):
    s = hornet_server(app="builtin:static", config={"static_root": str(tmp_path / "nope")},
                      wait_ready=False)
    rc = s.wait_exit()
    assert rc != 0
    assert re.search(r"static_root|nope", s.stderr_text()), s.stderr_text()
