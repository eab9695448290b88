"""builtin:static: content types, index files and redirects, conditional requests (ETag,
Last-Modified), byte ranges (several as multipart/byteranges, over HTTP/1.1, TLS and HTTP/2),
precompressed siblings (file.br, file.gz) chosen by Accept-Encoding, dotfiles refused
(static_dotfiles) but .well-known served, HEAD, 405, and the root as a boundary: "..",
encoded dots and symlinks must not reach files outside static_root."""

import email.parser
import email.policy
import email.utils
import gzip
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from hornet_fixture import Conn, build_request, curl
from test_h2 import H2Client
from tls_fixture import requires_openssl, tls_certs  # noqa: F401,F811  (a fixture)

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
        base/root/.env, .git/config, sub/.hidden, .hiddendir/index.html    (dotfiles: 404)
        base/root/.well-known/acme-challenge/token                         (served)
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
    (root / ".env").write_bytes(b"TOP SECRET=1\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core] TOP SECRET\n")
    (root / "sub" / ".hidden").write_bytes(b"TOP SECRET\n")
    (root / ".hiddendir").mkdir()
    (root / ".hiddendir" / "index.html").write_bytes(b"TOP SECRET\n")
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    (root / ".well-known" / "acme-challenge" / "token").write_bytes(b"acme-token\n")
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


@pytest.mark.parametrize("spec", ["bytes=5-2", "items=0-1", "bytes=x-y", "bytes=", "bytes=-",
                                  "bytes=0-1,5-2", "bytes=0-1;4-5"])
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


# ---------------------------------------------------------------------------------------------
# several ranges: multipart/byteranges


def parse_byteranges(content_type, body):
    """The parts of a multipart/byteranges body, read strictly by hand (RFC 9110 §14.6, RFC 2046
    §5.1.1): [(start, end, complete_length, part_content_type, data)]. Each part's data is
    taken by its Content-Range, so bytes that look like a delimiter cannot fool it; everything
    between the parts must be exactly CRLF, the delimiter and the part's head."""
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})",
                     content_type)
    assert m, content_type
    delim = b"--" + m.group(1).encode()
    parts, pos = [], 0
    while True:
        assert body[pos:pos + len(delim)] == delim, (pos, body[pos:pos + 80])
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            assert body[pos:] == b"--\r\n", body[pos:]
            return parts
        assert body[pos:pos + 2] == b"\r\n"
        head_end = body.index(b"\r\n\r\n", pos + 2)
        fields = {}
        for line in body[pos + 2:head_end].split(b"\r\n"):
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep, line
            fields[name.strip().lower()] = value.strip()
        assert set(fields) == {"content-type", "content-range"}, fields
        cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", fields["content-range"])
        assert cr, fields
        start, end, total = (int(x) for x in cr.groups())
        pos = head_end + 4
        data = body[pos:pos + end - start + 1]
        assert len(data) == end - start + 1
        pos += len(data)
        assert body[pos:pos + 2] == b"\r\n", body[pos:pos + 80]
        pos += 2
        parts.append((start, end, total, fields["content-type"], data))


def email_parts(content_type, body):
    """The same body through Python's own MIME parser: [(Content-Range, payload)]."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    assert msg.is_multipart() and msg.defects == [], msg.defects
    return [(p["Content-Range"], p.get_payload(decode=True)) for p in msg.iter_parts()]


def assert_parts(r, data, want, ctype="text/plain; charset=utf-8"):
    """r is a 206 multipart/byteranges answer for exactly the ranges want [(start, end)]."""
    assert r.status == 206, r
    assert r.header("content-range") is None
    assert r.header("content-length") == str(len(r.body))
    parts = parse_byteranges(r.header("content-type"), r.body)
    assert [(a, b) for a, b, _, _, _ in parts] == want
    for start, end, total, part_type, got in parts:
        assert total == len(data)
        assert part_type == ctype
        assert got == data[start:end + 1], (start, end)
    return parts


def test_two_ranges_are_multipart(srv):
    r = get(srv, "/a.txt", [("Range", "bytes=0-1,5-9")])
    assert_parts(r, TEXT, [(0, 1), (5, 9)])
    assert r.header("accept-ranges") == "bytes"
    assert r.header("etag") == get(srv, "/a.txt").header("etag")
    assert email_parts(r.header("content-type"), r.body) == [
        ("bytes 0-1/20", TEXT[0:2]), ("bytes 5-9/20", TEXT[5:10])]


def test_multipart_length_is_exact_on_a_kept_alive_connection(srv):
    # a Content-Length off by one byte would leave the next answer misaligned
    with Conn(srv.port) as c:
        c.send(build_request("GET", "/a.txt", [("Range", "bytes=1-2,4-6,-3")]) +
               build_request("GET", "/big.bin", [("Range", "bytes=0-0,-1")]) +
               build_request("GET", "/a.txt"))
        assert_parts(c.read_response(), TEXT, [(1, 2), (4, 6), (17, 19)])
        r = c.read_response()
        g = c.read_response()
    assert r.status == 206 and len(parse_byteranges(r.header("content-type"), r.body)) == 2
    assert g.status == 200 and g.body == TEXT


def test_ranges_of_a_large_file(srv, tree):
    data = (tree / "big.bin").read_bytes()
    spec = "bytes=4000000-,0-99999,1048570-2097160,-10"
    r = get(srv, "/big.bin", [("Range", spec)])
    assert_parts(r, data, [(0, 99999), (1048570, 2097160), (4000000, BIG_SIZE - 1)],
                 ctype="application/octet-stream")


def test_boundary_changes(srv):
    a = get(srv, "/a.txt", [("Range", "bytes=0-1,5-9")]).header("content-type")
    b = get(srv, "/a.txt", [("Range", "bytes=0-1,5-9")]).header("content-type")
    assert a != b


@pytest.mark.parametrize("spec,want", [
    ("bytes=0-5,3-9", (0, 9)),         # overlapping
    ("bytes=0-4,5-9", (0, 9)),         # adjacent
    ("bytes=2-3,2-3,2-3", (2, 3)),     # repeated
    ("bytes=0-1,100-200", (0, 1)),     # the unsatisfiable one dropped
    ("bytes=-0,3-4", (3, 4)),
])
def test_ranges_merging_into_one_are_a_single_part(srv, spec, want):
    r = get(srv, "/a.txt", [("Range", spec)])
    assert r.status == 206
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.header("content-range") == "bytes %d-%d/%d" % (want[0], want[1], len(TEXT))
    assert r.body == TEXT[want[0]:want[1] + 1]


def test_ranges_out_of_order_are_sorted_and_merged(srv):
    r = get(srv, "/a.txt", [("Range", "bytes=15-,3-4,0-1,2-2,10-12,11-11")])
    assert_parts(r, TEXT, [(0, 4), (10, 12), (15, 19)])


def test_several_unsatisfiable_ranges_are_416(srv):
    r = get(srv, "/a.txt", [("Range", "bytes=20-,30-40")])
    assert r.status == 416
    assert r.header("content-range") == "bytes */%d" % len(TEXT)


def test_sixteen_ranges_are_served_seventeen_are_not(srv):
    sixteen = ",".join("%d-%d" % (i, i) for i in range(0, 32, 2))
    r = get(srv, "/big.bin", [("Range", "bytes=" + sixteen)])
    assert r.status == 206
    assert len(parse_byteranges(r.header("content-type"), r.body)) == 16
    # like nginx's max_ranges: past the limit the whole file, whatever the ranges
    r = get(srv, "/a.txt", [("Range", "bytes=" + sixteen + ",19-19")])
    assert r.status == 200 and r.body == TEXT
    r = get(srv, "/a.txt", [("Range", "bytes=" + ",".join(["0-0"] * 17))])
    assert r.status == 200 and r.body == TEXT


def test_many_overlapping_ranges_cost_one_part(srv):
    r = get(srv, "/big.bin", [("Range", "bytes=" + ",".join(["0-"] * 16))])
    assert r.status == 206
    assert r.header("content-range") == "bytes 0-%d/%d" % (BIG_SIZE - 1, BIG_SIZE)
    assert len(r.body) == BIG_SIZE


def test_multipart_if_range(srv):
    g = get(srv, "/a.txt")
    r = get(srv, "/a.txt", [("Range", "bytes=0-1,5-9"), ("If-Range", g.header("etag"))])
    assert_parts(r, TEXT, [(0, 1), (5, 9)])
    r = get(srv, "/a.txt", [("Range", "bytes=0-1,5-9"), ("If-Range", '"stale"')])
    assert r.status == 200 and r.body == TEXT


def test_multipart_ignored_for_head(srv):
    r = srv.request("HEAD", "/a.txt", headers=[("Range", "bytes=0-1,5-9")])
    assert r.status == 200
    assert r.header("content-length") == str(len(TEXT))


def test_multipart_with_curl(srv, tmp_path):
    head = tmp_path / "head.txt"
    p = curl("-sS", "-D", str(head), "-r", "0-1,5-9,15-", srv.url + "/a.txt")
    assert p.returncode == 0, p.stderr
    ctype = re.search(r"^content-type: (.*?)\r$", head.read_bytes().decode(), re.M | re.I)[1]
    assert [(a, b, d) for a, b, _, _, d in parse_byteranges(ctype, p.stdout)] == [
        (0, 1, TEXT[0:2]), (5, 9, TEXT[5:10]), (15, 19, TEXT[15:])]


@requires_openssl
def test_multipart_over_tls(hornet_server, tree, tls_certs):
    s = hornet_server(app="builtin:static", config={
        "static_root": str(tree), "certfile": tls_certs.server_pem,
        "keyfile": tls_certs.server_key})
    data = (tree / "big.bin").read_bytes()
    r = s.request("GET", "/big.bin", headers=[("Range", "bytes=10-20,100000-300000")])
    assert_parts(r, data, [(10, 20), (100000, 300000)], ctype="application/octet-stream")


def test_multipart_over_h2(srv, tree):
    data = (tree / "big.bin").read_bytes()
    with H2Client(srv.port) as c:
        st = c.get("/big.bin", headers=[("range", "bytes=-5,0-70000,2000000-2100000")])
        assert st.status == 206, st
        assert st.header("content-length") == str(len(st.data))
        parts = parse_byteranges(st.header("content-type"), bytes(st.data))
        assert [(a, b) for a, b, _, _, _ in parts] == [
            (0, 70000), (2000000, 2100000), (BIG_SIZE - 5, BIG_SIZE - 1)]
        for start, end, _, _, got in parts:
            assert got == data[start:end + 1]
        # and the stream after it
        st = c.get("/a.txt", headers=[("range", "bytes=0-1,5-9")])
        assert email_parts(st.header("content-type"), bytes(st.data)) == [
            ("bytes 0-1/20", TEXT[0:2]), ("bytes 5-9/20", TEXT[5:10])]


# ---------------------------------------------------------------------------------------------
# dotfiles


@pytest.mark.parametrize("target", [
    "/.env",
    "/.git/config",
    "/.git/",
    "/.git",
    "/sub/.hidden",
    "/.hiddendir/",
    "/%2eenv",
    "/%2Egit/config",
    "/sub/../.env",
    "/nope/../.git/config",
    "/.well-known/../.env",
    "/sub/.hidden/",
])
def test_dotfiles_are_not_found(srv, target):
    r = raw(srv, target)
    assert r.status == 404, r
    assert_not_leaked(r)
    assert r.body == get(srv, "/no-such-file").body  # nothing tells it from a missing file


def test_dotfiles_with_curl(srv):
    p = curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", srv.url + "/.git/config")
    assert p.stdout == b"404", p


def test_well_known_is_served(srv):
    r = raw(srv, "/.well-known/acme-challenge/token")
    assert r.status == 200 and r.body == b"acme-token\n"
    p = curl("-sS", srv.url + "/.well-known/acme-challenge/token")
    assert p.stdout == b"acme-token\n", p


def test_dot_segments_are_not_dotfiles(srv):
    # ".." is resolved before the check, as nginx resolves it in the URI: "/.git/../a.txt" is
    # "/a.txt" and never opens .git, so it says nothing about it
    for target in ("/./a.txt", "/sub/./deep/f.txt", "/sub/deep/../../a.txt", "/.git/../a.txt",
                   "/.nothing/../a.txt"):
        r = raw(srv, target)
        assert r.status == 200, (target, r)


def test_dotfiles_allowed(hornet_server, tree):
    s = hornet_server(app="builtin:static",
                      config={"static_root": str(tree), "static_dotfiles": "allow"})
    assert raw(s, "/.env").body == b"TOP SECRET=1\n"
    assert raw(s, "/.git/config").status == 200
    assert raw(s, "/.hiddendir/").status == 200
    assert raw(s, "/.well-known/acme-challenge/token").status == 200
    assert raw(s, "/../secret.txt").status == 404  # the root is a boundary still


def test_static_dotfiles_is_checked(hornet_run, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("static_dotfiles: hide\n")
    p = hornet_run(["-t", "-c", str(cfg)])
    assert p.returncode != 0
    assert "static_dotfiles" in p.stderr and "deny, allow" in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------------
# precompressed siblings

PAGE = b"<!doctype html><p>" + b"hornet serves precompressed files. " * 200 + b"</p>\n"
STYLE = b"body { color: #123456 }\n" * 100


def brotli_stored(data):
    """A valid brotli stream (RFC 7932) holding data in uncompressed meta-blocks: what curl
    decodes, without a brotli encoder on the test machine."""
    out, acc, nbits = bytearray(), 0, 0

    def put(value, n):
        nonlocal acc, nbits
        acc |= value << nbits
        nbits += n
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    def pad():
        if nbits % 8:
            put(0, 8 - nbits % 8)

    put(0, 1)  # WBITS: 16
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        put(0, 1)  # ISLAST
        put(0, 2)  # MNIBBLES: 4
        put(len(chunk) - 1, 16)
        put(1, 1)  # ISUNCOMPRESSED
        pad()
        out += chunk
    put(1, 1)  # ISLAST
    put(1, 1)  # ISLASTEMPTY
    pad()
    return bytes(out)


@pytest.fixture(scope="module")
def pctree(tmp_path_factory):
    """A root whose files have precompressed siblings, all stamped with one time T:

        index.html (+ .gz), page.html (+ .gz, .br), style.css (+ .gz), plain.txt
        stale.js + stale.js.gz one second older than it (left behind: not served)
        escape.txt + escape.txt.gz -> ../outside.gz (out of the root: not served)
        dir.txt + dir.txt.gz/ (a directory: not served)
    """
    base = tmp_path_factory.mktemp("pc")
    root = base / "root"
    root.mkdir()
    files = {
        "index.html": INDEX, "page.html": PAGE, "style.css": STYLE, "plain.txt": TEXT,
        "stale.js": b"let fresh = 1;\n", "escape.txt": TEXT, "dir.txt": TEXT,
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    for name in ("index.html", "page.html", "style.css", "stale.js"):
        (root / (name + ".gz")).write_bytes(gzip.compress(files[name], mtime=0))
    (root / "stale.js.gz").write_bytes(gzip.compress(b"let stale = 1;\n", mtime=0))
    (root / "page.html.br").write_bytes(brotli_stored(PAGE))
    (base / "outside.gz").write_bytes(gzip.compress(b"TOP SECRET\n", mtime=0))
    os.symlink("../outside.gz", root / "escape.txt.gz")
    (root / "dir.txt.gz").mkdir()
    t = int(time.time()) - 1000
    for p in root.iterdir():
        os.utime(p, (t, t), follow_symlinks=False)
    os.utime(root / "stale.js.gz", (t - 1, t - 1))
    return root


@pytest.fixture
def pcsrv(hornet_server, pctree):
    return hornet_server(app="builtin:static", config={"static_root": str(pctree)})


def sibling(pctree, name):
    return (pctree / name).read_bytes()


def test_gzip_sibling(pcsrv, pctree):
    plain = get(pcsrv, "/style.css")
    r = get(pcsrv, "/style.css", [("Accept-Encoding", "gzip")])
    assert r.status == 200
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-type") == "text/css; charset=utf-8"  # the file's, not gzip's
    assert r.has_token("vary", "accept-encoding")
    assert r.body == sibling(pctree, "style.css.gz")
    assert r.header("content-length") == str(len(r.body))
    assert gzip.decompress(r.body) == STYLE
    st = os.stat(pctree / "style.css.gz")
    assert r.header("etag") == '"%x-%x-gz"' % (int(st.st_mtime), st.st_size)
    assert r.header("etag") != plain.header("etag")


def test_vary_on_every_answer_for_a_file_with_a_sibling(pcsrv):
    for headers in ([], [("Accept-Encoding", "identity")], [("Accept-Encoding", "gzip;q=0")],
                    [("Accept-Encoding", "gzip")]):
        r = get(pcsrv, "/style.css", headers)
        assert r.status == 200
        assert r.header("vary") == "Accept-Encoding", (headers, r)
    # a file without a sibling has one representation: nothing varies
    for path in ("/plain.txt", "/stale.js", "/escape.txt", "/dir.txt"):
        r = get(pcsrv, path, [("Accept-Encoding", "gzip, br")])
        assert r.status == 200 and r.header("vary") is None, (path, r)


@pytest.mark.parametrize("accept,coding", [
    (None, None),
    ("", None),
    ("identity", None),
    ("deflate, zstd", None),
    ("gzip", "gzip"),
    ("x-gzip", "gzip"),
    ("br", "br"),
    ("gzip, deflate, br", "br"),              # equal weights: br is smaller
    ("br, gzip", "br"),
    ("gzip;q=1.0, br;q=0.5", "gzip"),         # weights decide first
    ("br;q=0, gzip", "gzip"),
    ("gzip;q=0", None),                       # q=0 means no
    ("gzip;q=0, br;q=0", None),
    ("*", "br"),
    ("*;q=0.5, br;q=0", "gzip"),
    ("gzip;q=0.5, identity;q=0.8", None),     # the client prefers it as it is
    ("GZIP", "gzip"),
])
def test_accept_encoding_chooses(pcsrv, pctree, accept, coding):
    headers = [] if accept is None else [("Accept-Encoding", accept)]
    r = get(pcsrv, "/page.html", headers)
    assert r.status == 200
    assert r.header("content-encoding") == coding, r
    assert r.header("content-type") == "text/html; charset=utf-8"
    want = {None: PAGE, "gzip": sibling(pctree, "page.html.gz"),
            "br": sibling(pctree, "page.html.br")}[coding]
    assert r.body == want


def test_etags_differ_per_representation(pcsrv):
    tags = {get(pcsrv, "/page.html", [("Accept-Encoding", ae)]).header("etag")
            for ae in ("identity", "gzip", "br")}
    assert len(tags) == 3, tags


def test_head_with_gzip(pcsrv):
    g = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip")])
    with Conn(pcsrv.port) as c:
        c.send(build_request("HEAD", "/page.html", [("Accept-Encoding", "gzip")]) +
               build_request("GET", "/plain.txt"))
        h = c.read_response(method="HEAD")
        after = c.read_response()
    assert h.status == 200 and h.body == b"" and h.header("content-encoding") == "gzip"
    for name in ("content-length", "content-type", "content-encoding", "etag", "vary",
                 "last-modified"):
        assert h.header(name) == g.header(name), name
    assert after.body == TEXT


def test_not_modified_per_representation(pcsrv):
    gz = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip")]).header("etag")
    ident = get(pcsrv, "/page.html").header("etag")
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("If-None-Match", gz)])
    assert r.status == 304 and r.body == b""
    assert r.header("etag") == gz and r.header("vary") == "Accept-Encoding"
    # the client holds the plain file, asks for gzip: that is another representation
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("If-None-Match", ident)])
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    r = get(pcsrv, "/page.html", [("If-None-Match", gz)])
    assert r.status == 200 and r.header("content-encoding") is None and r.body == PAGE
    r = get(pcsrv, "/page.html", [("If-None-Match", ident)])
    assert r.status == 304 and r.header("vary") == "Accept-Encoding"


def test_range_of_the_compressed_representation(pcsrv, pctree):
    gz = sibling(pctree, "page.html.gz")
    etag = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip")]).header("etag")
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("Range", "bytes=10-29")])
    assert r.status == 206
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-range") == "bytes 10-29/%d" % len(gz)
    assert r.header("etag") == etag and r.header("vary") == "Accept-Encoding"
    assert r.body == gz[10:30]
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("Range", "bytes=-5"),
                                  ("If-Range", etag)])
    assert r.status == 206 and r.body == gz[-5:]
    # If-Range with the plain file's tag: the representation changed, send it whole
    ident = get(pcsrv, "/page.html").header("etag")
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("Range", "bytes=-5"),
                                  ("If-Range", ident)])
    assert r.status == 200 and r.body == gz
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("Range", "bytes=%d-" % len(gz))])
    assert r.status == 416
    assert r.header("content-range") == "bytes */%d" % len(gz)
    assert r.header("vary") == "Accept-Encoding"


def test_several_ranges_of_a_compressed_representation_are_the_whole(pcsrv, pctree):
    # Content-Encoding beside multipart/byteranges would mean the multipart body is compressed
    r = get(pcsrv, "/page.html", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-1,5-9")])
    assert r.status == 200
    assert r.header("content-encoding") == "gzip"
    assert r.body == sibling(pctree, "page.html.gz")
    # the file as it is still gets its parts
    r = get(pcsrv, "/page.html", [("Range", "bytes=0-1,5-9")])
    assert_parts(r, PAGE, [(0, 1), (5, 9)], ctype="text/html; charset=utf-8")


def test_index_has_its_sibling(pcsrv, pctree):
    r = get(pcsrv, "/", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    assert gzip.decompress(r.body) == INDEX
    assert r.header("content-type") == "text/html; charset=utf-8"


def test_stale_sibling_is_not_served(pcsrv):
    r = get(pcsrv, "/stale.js", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") is None
    assert r.body == b"let fresh = 1;\n"


def test_sibling_out_of_the_root_is_not_served(pcsrv):
    r = get(pcsrv, "/escape.txt", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") is None
    assert r.body == TEXT


def test_sibling_that_is_a_directory_is_not_served(pcsrv):
    r = get(pcsrv, "/dir.txt", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") is None
    assert r.body == TEXT


def test_sibling_asked_for_by_name(pcsrv, pctree):
    r = get(pcsrv, "/page.html.gz", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") is None
    assert r.body == sibling(pctree, "page.html.gz")


def test_precompressed_with_curl(pcsrv):
    for accept in ("gzip", "br"):
        p = curl("-sS", "--compressed", "-H", "Accept-Encoding: " + accept, "-D", "-",
                 pcsrv.url + "/page.html")
        assert p.returncode == 0, p.stderr
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        assert b"\r\ncontent-encoding: %s\r\n" % accept.encode() in head.lower(), head
        assert body == PAGE  # curl decoded it


def test_precompressed_over_h2(pcsrv, pctree):
    with H2Client(pcsrv.port) as c:
        st = c.get("/page.html", headers=[("accept-encoding", "gzip")])
        assert st.status == 200 and st.header("content-encoding") == "gzip", st
        assert st.header("vary") == "Accept-Encoding"
        assert bytes(st.data) == sibling(pctree, "page.html.gz")
        assert st.header("content-length") == str(len(st.data))
        st = c.get("/page.html", headers=[("accept-encoding", "gzip, br")])
        assert st.header("content-encoding") == "br" and bytes(st.data) == sibling(
            pctree, "page.html.br")
        st = c.get("/page.html", headers=[("accept-encoding", "gzip"), ("range", "bytes=3-7")])
        assert st.status == 206 and bytes(st.data) == sibling(pctree, "page.html.gz")[3:8]


def test_precompressed_off(hornet_server, pctree):
    s = hornet_server(app="builtin:static",
                      config={"static_root": str(pctree), "static_precompressed": False})
    r = get(s, "/page.html", [("Accept-Encoding", "gzip, br")])
    assert r.status == 200 and r.header("content-encoding") is None
    assert r.header("vary") is None and r.body == PAGE
