"""TLS: certfile/keyfile (Hypercorn's names) turn every bind address into a TLS listener
beside the cleartext insecure_bind ones; TLS 1.2 and 1.3 only, ALPN http/1.1, the TLS 1.2
cipher list, client certificates (verify_mode, ca_certs), session tickets that every worker
accepts, the handshake timeout, start-up errors that name the file, and reloads that check the
new certificate before serving it.

The certificates come from tls_fixture.py (openssl CLI, EC P-256, one set per session). Clients
are Python's ssl module, curl and openssl s_client. Every server listens on 127.0.0.1 only and
every wait has a deadline.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401,F811  (apps: a fixture)
from hornet_fixture import (Conn, build_request, chunked, client_ssl_context, curl, free_port,
                            listening_inodes, run_hornet, socket_inodes, tcp_entry, to_yaml,
                            wait_until)
from tls_fixture import requires_openssl, tls_certs  # noqa: F401,F811  (tls_certs: a fixture)

pytestmark = requires_openssl

HELLO = b"Hello, world!"
OPENSSL = os.environ.get("HN_TEST_OPENSSL", "openssl")


# ---------------------------------------------------------------------------------------------
# helpers


def tls_config(certs, **extra):
    cfg = {"certfile": certs.server_pem, "keyfile": certs.server_key}
    cfg.update(extra)
    return cfg


def ctx_for(version=None, ciphers=None, alpn=None, cafile=None, cert=None, key=None):
    """A client context: exactly one TLS version if given, a TLS 1.2 cipher list, ALPN."""
    ctx = client_ssl_context(cafile=cafile, certfile=cert, keyfile=key)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_get(port, ctx=None, path="/", host="127.0.0.1", timeout=10, server_hostname=None):
    """GET over a fresh TLS connection (Connection: close): (Response, SSLSocket facts)."""
    with Conn(port, host=host, timeout=timeout, tls=True, ssl_context=ctx,
              server_hostname=server_hostname) as c:
        facts = {"version": c.sock.version(), "cipher": c.sock.cipher()[0],
                 "alpn": c.sock.selected_alpn_protocol(),
                 "der": c.sock.getpeercert(binary_form=True)}
        r = c.request("GET", path, [("Connection", "close")], timeout=timeout)
        return r, facts


def plain_get(port, path="/", timeout=10):
    with Conn(port, timeout=timeout) as c:
        return c.request("GET", path, [("Connection", "close")], timeout=timeout)


def assert_tls_refused(port, ctx=None, timeout=10):
    """A TLS client gets no response: the handshake (or, in TLS 1.3, the first read after it,
    where a refused client certificate shows) fails. Returns the exception."""
    try:
        r, facts = tls_get(port, ctx, timeout=timeout)
    except TimeoutError as e:  # socket.timeout too
        raise AssertionError("TLS client neither answered nor refused within %ss: %r"
                             % (timeout, e))
    except (OSError, EOFError) as e:  # ssl.SSLError, resets, an EOF mid-handshake
        return e
    raise AssertionError("TLS request succeeded: %r %r" % (r, facts))


def assert_plain_refused(port, timeout=10):
    """Cleartext HTTP to a TLS port is not served: the connection is closed, either at once
    or after a cleartext 4xx telling the client to use https (as nginx does)."""
    with Conn(port, timeout=timeout) as c:
        c.send(build_request("GET", "/"))  # keep-alive: the server must be the one to close
        try:
            r = c.read_response(timeout=timeout)
        except TimeoutError as e:
            raise AssertionError("cleartext request to a TLS port neither answered nor closed "
                                 "within %ss: %r" % (timeout, e))
        except (OSError, EOFError, AssertionError) as e:  # closed, reset, or TLS alert bytes
            return e
        assert 400 <= r.status < 500 and r.body != HELLO, r
        assert r.has_token("connection", "close"), r
        c.assert_closed(timeout)
        return r


def cert_der(pem_path):
    """DER of the first certificate in a PEM file."""
    with open(pem_path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert m, "no certificate in %s" % pem_path
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def served_der(port):
    with Conn(port, timeout=10, tls=True) as c:
        return c.sock.getpeercert(binary_form=True)


def s_client(port, *args, input=None, timeout=20):
    """openssl s_client -connect 127.0.0.1:port ARGS; stdout and stderr together, as text."""
    p = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       input=input.encode() if input else None,
                       stdin=None if input else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.stdout.decode(errors="replace")


def served_subject(port):
    """The subject of the certificate the server presents, as `openssl x509 -subject` says."""
    out = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=20).stdout
    p = subprocess.run([OPENSSL, "x509", "-noout", "-subject"], input=out,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.stdout.decode(errors="replace").strip()


def server_side_inode(server_port, client_port):
    """Inode of the server's end of the TCP connection from client_port, or None."""
    p = tcp_entry(server_port, client_port, state="01")
    return int(p[9]) if p else None


def worker_of(srv, sock):
    """The worker holding the server end of the client socket `sock`."""
    client_port = sock.getsockname()[1]
    inode = wait_until(lambda: server_side_inode(srv.port, client_port), 5,
                       what="the server end of the connection from port %d" % client_port)
    owners = wait_until(lambda: [w for w in srv.workers() if inode in socket_inodes(w)], 5,
                        what="the worker holding socket inode %d" % inode)
    assert len(owners) == 1, owners
    return owners[0]


def start_failure(hornet_server, config, **kw):
    """Start a server expected to fail: (exit status, stderr)."""
    srv = hornet_server(config=config, wait_ready=False, **kw)
    rc = srv.wait_exit(15)
    assert rc is not None, "hornet still running with %r\n%s" % (config, srv.stderr_text())
    return rc, srv.stderr_text()


def rewrite(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))


def wait_log(srv, text, count=1, timeout=20):
    wait_until(lambda: srv.stderr_text().count(text) >= count, timeout, what=repr(text))


def copy_certs(certs, tmp_path, cert="server.pem", key="server.key"):
    """Copies of a certificate and its key in tmp_path (to be replaced by a test)."""
    crt, k = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copyfile(os.path.join(certs.dir, cert), crt)
    shutil.copyfile(os.path.join(certs.dir, key), k)
    return crt, k


def replace_file(path, src=None, text=None):
    """Replace path atomically (rename), as certificate renewal tools do."""
    tmp = path + ".new"
    if src is not None:
        shutil.copyfile(src, tmp)
    else:
        with open(tmp, "w") as f:
            f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# serving


def test_tls_listener_serves_hello_and_logs_https_url(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    assert srv.tls and srv.url == "https://127.0.0.1:%d" % srv.port
    r, facts = tls_get(srv.port)
    assert (r.status, r.body) == (200, HELLO), r
    assert facts["der"] == cert_der(tls_certs.server_pem)
    assert "Running on https://127.0.0.1:%d" % srv.port in srv.stderr_text()
    assert "Running on http://127.0.0.1:%d" % srv.port not in srv.stderr_text()
    assert srv.stop() == 0


def test_keep_alive_pipelining_and_fragmented_records(hornet_server, tls_certs):
    """One TLS connection: three requests in turn, three pipelined in one TLS record, and one
    request split over many small TLS records."""
    srv = hornet_server(config=tls_config(tls_certs))
    with srv.connect() as c:
        for i in range(3):
            r = c.request("GET", "/seq%d" % i)
            assert (r.status, r.body) == (200, HELLO), r
            assert not r.has_token("connection", "close"), r
        c.send(b"".join(build_request("GET", "/pipe%d" % i) for i in range(3)))
        for i in range(3):
            r = c.read_response()
            assert (r.status, r.body) == (200, HELLO), (i, r)
        c.send_slowly(build_request("GET", "/slow", [("X-Padding", "p" * 200)]), pieces=40)
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO), r
        c.send(build_request("GET", "/last", [("Connection", "close")]))
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO), r
        c.assert_closed(5)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_accepted(hornet_server, tls_certs, version):
    srv = hornet_server(config=tls_config(tls_certs))
    r, facts = tls_get(srv.port, ctx_for(getattr(ssl.TLSVersion, version)))
    assert (r.status, r.body) == (200, HELLO), r
    assert facts["version"] == version.replace("_", ".")


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_0_and_1_1_are_refused(hornet_server, tls_certs, version):
    """The client offers only the old version (SECLEVEL=0 lets OpenSSL 3 send it at all);
    the handshake fails at the server, which goes on serving."""
    srv = hornet_server(config=tls_config(tls_certs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v = getattr(ssl.TLSVersion, version)
        ctx = ctx_for(v, ciphers="DEFAULT:@SECLEVEL=0")
    e = assert_tls_refused(srv.port, ctx)
    # a failure before anything was sent would prove nothing about the server
    assert "NO_PROTOCOLS_AVAILABLE" not in str(e) and "no protocols" not in str(e), e
    r, facts = tls_get(srv.port)
    assert r.status == 200 and facts["version"] in ("TLSv1.2", "TLSv1.3")


def test_openssl_tls1_handshake_fails(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    out = s_client(srv.port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert "no protocols available" not in out, out
    assert "Cipher is (NONE)" in out and not re.search(r"(New|Reused), TLSv1,", out), out


def test_alpn_selects_http11(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    r, facts = tls_get(srv.port, ctx_for(alpn=["http/1.1"]))
    assert (r.status, facts["alpn"]) == (200, "http/1.1"), (r, facts)
    r, facts = tls_get(srv.port, ctx_for(alpn=["spdy/3", "http/1.1"]))
    assert (r.status, facts["alpn"]) == (200, "http/1.1"), (r, facts)
    r, facts = tls_get(srv.port, ctx_for())
    assert (r.status, facts["alpn"]) == (200, None), (r, facts)


def test_default_ciphers_are_ecdhe_aead_only(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    tls12 = ssl.TLSVersion.TLSv1_2
    for ok in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
               "ECDHE-ECDSA-CHACHA20-POLY1305"):
        r, facts = tls_get(srv.port, ctx_for(tls12, ciphers=ok))
        assert (r.status, facts["cipher"]) == (200, ok), (r, facts)
    # CBC with ECDHE is in OpenSSL's defaults but not in "ECDHE+AESGCM:ECDHE+CHACHA20"
    for refused in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        assert_tls_refused(srv.port, ctx_for(tls12, ciphers=refused))


def test_ciphers_setting_limits_tls12_not_tls13(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, ciphers="ECDHE+CHACHA20"))
    tls12 = ssl.TLSVersion.TLSv1_2
    assert_tls_refused(srv.port, ctx_for(tls12, ciphers="ECDHE+AESGCM"))
    r, facts = tls_get(srv.port, ctx_for(tls12))
    assert r.status == 200 and "CHACHA20" in facts["cipher"], facts
    r, facts = tls_get(srv.port, ctx_for(ssl.TLSVersion.TLSv1_3))
    assert r.status == 200 and facts["version"] == "TLSv1.3", facts


def test_certificate_verifies_against_the_ca(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    ctx = ctx_for(cafile=tls_certs.ca_pem)
    r, facts = tls_get(srv.port, ctx, server_hostname="127.0.0.1")
    assert (r.status, r.body) == (200, HELLO)
    with Conn(srv.port, tls=True, ssl_context=ctx, server_hostname="localhost") as c:
        subject = dict(x[0] for x in c.sock.getpeercert()["subject"])
        assert subject["commonName"] == tls_certs.server_cn
    assert "CN = %s" % tls_certs.server_cn in served_subject(srv.port)


def test_curl_with_k_and_with_cacert(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    p = curl("-sk", srv.url + "/")
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr
    p = curl("-sS", "--cacert", tls_certs.ca_pem, srv.url + "/")
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr
    # and the check is real: another CA does not vouch for the server
    p = curl("-sS", "--cacert", tls_certs.rogue_pem, srv.url + "/")
    assert p.returncode != 0 and p.stdout == b"", (p.returncode, p.stdout)


def test_curl_reuses_the_tls_connection(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    p = curl("-vsk", "--http1.1", srv.url + "/a", srv.url + "/b")
    assert (p.returncode, p.stdout) == (0, HELLO * 2), p.stderr
    assert re.search(r"Re-?using existing connection", p.stderr), p.stderr
    assert p.stderr.count("SSL connection using") == 1, p.stderr


def test_cli_flags_turn_tls_on(hornet_server, tls_certs):
    srv = hornet_server(args=["--certfile", tls_certs.server_pem,
                              "--keyfile", tls_certs.server_key], tls=True)
    r, facts = tls_get(srv.port)
    assert (r.status, r.body) == (200, HELLO)
    assert facts["der"] == cert_der(tls_certs.server_pem)


def test_unix_socket_bind_serves_tls(hornet_server, tls_certs, tmp_path):
    path = str(tmp_path / "h.sock")
    srv = hornet_server(config=tls_config(tls_certs, bind=["unix:" + path]))
    assert srv.tls and srv.unix_path == path  # the fixture's readiness check went over TLS
    with Conn(unix_path=path, tls=True) as c:
        r = c.request("GET", "/", [("Connection", "close")])
    assert (r.status, r.body) == (200, HELLO), r
    p = curl("-sk", "--unix-socket", path, "https://localhost/")
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr
    p = curl("-s", "--unix-socket", path, "http://localhost/")
    assert p.stdout != HELLO, p.stdout


def test_many_pending_handshakes(hornet_server, tls_certs):
    """Thirty TCP connections opened before any handshake, then handshaken one by one, all
    kept open, then all used: the server holds many TLS sessions at once."""
    srv = hornet_server(config=tls_config(tls_certs))
    ctx = ctx_for()
    raws = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(30)]
    socks = []
    try:
        for raw in raws:
            socks.append(ctx.wrap_socket(raw))
        for i, s in enumerate(socks):
            s.sendall(build_request("GET", "/%d" % i, [("Connection", "close")]))
        for s in socks:
            data = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(HELLO), data[:300]
    finally:
        for s in socks + raws:  # a wrapped raw socket is detached: closing it is a no-op
            s.close()


# ---------------------------------------------------------------------------------------------
# bind and insecure_bind


def test_insecure_bind_is_cleartext_beside_tls(hornet_server, tls_certs):
    tls_port, plain_port = free_port(), free_port()
    srv = hornet_server(config=tls_config(tls_certs, workers=2,
                                          bind=["127.0.0.1:%d" % tls_port],
                                          insecure_bind="127.0.0.1:%d" % plain_port))
    assert srv.port == tls_port
    r, _ = tls_get(tls_port)
    assert (r.status, r.body) == (200, HELLO)
    r = plain_get(plain_port)
    assert (r.status, r.body) == (200, HELLO)
    assert_plain_refused(tls_port)
    assert_tls_refused(plain_port)
    log = srv.stderr_text()
    assert "Running on https://127.0.0.1:%d" % tls_port in log, log
    assert "Running on http://127.0.0.1:%d" % plain_port in log, log
    # both listeners are served by every worker
    for w in srv.wait_workers(2):
        mine = socket_inodes(w)
        assert listening_inodes(tls_port) & mine, "worker %d has no TLS listener" % w
        assert listening_inodes(plain_port) & mine, "worker %d has no cleartext listener" % w
    assert srv.stop() == 0


def test_every_bind_is_tls_and_every_insecure_bind_cleartext(hornet_server, tls_certs):
    tls_ports = [free_port(), free_port()]
    plain_ports = [free_port(), free_port()]
    srv = hornet_server(config=tls_config(
        tls_certs, bind=["127.0.0.1:%d" % p for p in tls_ports],
        insecure_bind=["127.0.0.1:%d" % p for p in plain_ports]))
    log = srv.stderr_text()
    for p in tls_ports:
        assert "Running on https://127.0.0.1:%d" % p in log, log
    for p in plain_ports:
        assert "Running on http://127.0.0.1:%d" % p in log, log
    for p in tls_ports:
        r, _ = tls_get(p)
        assert (r.status, r.body) == (200, HELLO), p
        assert_plain_refused(p)
    for p in plain_ports:
        r = plain_get(p)
        assert (r.status, r.body) == (200, HELLO), p
        assert_tls_refused(p)


def test_insecure_bind_without_certfile_is_cleartext(hornet_server):
    plain_port = free_port()
    srv = hornet_server(config={"insecure_bind": ["127.0.0.1:%d" % plain_port]})
    assert not srv.tls
    for p in (srv.port, plain_port):
        r = plain_get(p)
        assert (r.status, r.body) == (200, HELLO), p
        assert "Running on http://127.0.0.1:%d" % p in srv.stderr_text()
    assert "https://" not in srv.stderr_text()


# ---------------------------------------------------------------------------------------------
# the scheme applications see


def test_access_log_scheme(hornet_server, tls_certs, tmp_path):
    log = str(tmp_path / "access.log")
    plain_port = free_port()
    srv = hornet_server(config=tls_config(tls_certs, accesslog=log,
                                          access_log_format="%(S)s %(U)s",
                                          insecure_bind=["127.0.0.1:%d" % plain_port]))
    assert tls_get(srv.port, path="/over-tls")[0].status == 200
    assert plain_get(plain_port, path="/over-plain").status == 200

    def lines():
        try:
            with open(log) as f:
                return f.read().split("\n")
        except FileNotFoundError:
            return []
    wait_until(lambda: any(ln.endswith("/over-plain") for ln in lines()) and
               any(ln.endswith("/over-tls") for ln in lines()), 10, what="both access log lines")
    mine = [ln.split("] ")[-1] for ln in lines() if ln.endswith("/over-tls") or
            ln.endswith("/over-plain")]
    assert sorted(mine) == ["http /over-plain", "https /over-tls"], mine


@requires_gcc
def test_scope_scheme_is_https_over_tls(hornet_server, tls_certs, apps):
    plain_port = free_port()
    srv = hornet_server(app=apps["probe"],
                        config=tls_config(tls_certs,
                                          insecure_bind=["127.0.0.1:%d" % plain_port]))
    r, _ = tls_get(srv.port, path="/scope")
    assert r.status == 200, r
    s = r.json()
    assert s["scheme"] == "https", s
    assert s["server_port"] == srv.port, s
    r = plain_get(plain_port, path="/scope")
    assert r.status == 200, r
    s = r.json()
    assert (s["scheme"], s["server_port"]) == ("http", plain_port), s


def test_echo_over_tls_and_cleartext(hornet_server, tls_certs):
    """builtin:echo shows no scheme; what it shows must be the same through TLS."""
    plain_port = free_port()
    srv = hornet_server(app="builtin:echo",
                        config=tls_config(tls_certs,
                                          insecure_bind=["127.0.0.1:%d" % plain_port]))
    hs = [("Accept", "application/json"), ("Connection", "close")]
    with srv.connect() as c:
        tls = c.request("POST", "/e?q=1", hs, body=b"hi there")
    with Conn(plain_port) as c:
        plain = c.request("POST", "/e?q=1", hs, body=b"hi there")
    assert tls.status == plain.status == 200
    a, b = tls.json(), plain.json()
    assert (a["method"], a["path"], a["query"], a["body"]) == ("POST", "/e", "q=1", "hi there")
    assert a == b, (a, b)


# ---------------------------------------------------------------------------------------------
# session resumption across workers


def test_tls12_session_resumed_by_every_worker(hornet_server, tls_certs, tmp_path):
    """openssl s_client: the session of one connection is resumed on ten more; with two
    workers and SO_REUSEPORT spreading connections, both workers resume it."""
    srv = hornet_server(config=tls_config(tls_certs, workers=2))
    srv.wait_workers(2)
    sess = str(tmp_path / "sess12")
    out = s_client(srv.port, "-tls1_2", "-sess_out", sess)
    assert "New, TLSv1.2" in out, out
    assert os.path.getsize(sess) > 0
    for i in range(10):
        out = s_client(srv.port, "-tls1_2", "-sess_in", sess)
        assert "Reused, TLSv1.2" in out, "reconnect %d not resumed:\n%s" % (i, out)


def test_tls13_session_resumed_by_every_worker(hornet_server, tls_certs, tmp_path):
    """TLS 1.3 tickets come after the handshake: each s_client sends a request and reads the
    answer (so the ticket arrives) before saving it; each reconnect resumes the last ticket
    (RFC 8446 lets a server take a ticket only once) and saves the next."""
    srv = hornet_server(config=tls_config(tls_certs, workers=2))
    srv.wait_workers(2)
    req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    sess = str(tmp_path / "sess13-0")
    out = s_client(srv.port, "-tls1_3", "-ign_eof", "-sess_out", sess, input=req)
    assert "New, TLSv1.3" in out and "Hello, world!" in out, out
    assert os.path.getsize(sess) > 0
    for i in range(10):
        nxt = str(tmp_path / ("sess13-%d" % (i + 1)))
        out = s_client(srv.port, "-tls1_3", "-ign_eof", "-sess_in", sess, "-sess_out", nxt,
                       input=req)
        assert "Reused, TLSv1.3" in out, "reconnect %d not resumed:\n%s" % (i, out)
        assert "Hello, world!" in out, out
        sess = nxt


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_session_from_one_worker_resumed_on_the_other(hornet_server, tls_certs, version):
    """Python's ssl: which worker holds each connection is read from /proc, and the client
    reconnects (new source port, so SO_REUSEPORT may pick either worker) until the other
    worker took one; every reconnect must resume the first session."""
    srv = hornet_server(config=tls_config(tls_certs, workers=2))
    srv.wait_workers(2)
    ctx = ctx_for(getattr(ssl.TLSVersion, version))

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s = ctx.wrap_socket(raw, session=session)
        try:
            w = worker_of(srv, s)
            s.sendall(build_request("GET", "/", [("Connection", "close")]))
            data = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            assert data.endswith(HELLO), data[:300]
            return w, s.session, s.session_reused
        finally:
            s.close()

    first_worker, session, reused = connect()
    assert not reused and session is not None
    seen = set()
    for _ in range(60):
        w, _, reused = connect(session)
        assert reused, "a reconnect to worker %d was a full handshake (session from %d)" % (
            w, first_worker)
        seen.add(w)
        if w != first_worker:
            break
    assert seen - {first_worker}, "sixty reconnects all went to worker %d" % first_worker


# ---------------------------------------------------------------------------------------------
# start-up errors


def test_missing_certfile_fails_start(hornet_server, tls_certs, tmp_path):
    missing = str(tmp_path / "nope.pem")
    rc, err = start_failure(hornet_server, {"certfile": missing,
                                            "keyfile": tls_certs.server_key})
    assert rc == 1, err
    assert missing in err and "cannot" in err, err


def test_missing_keyfile_fails_start(hornet_server, tls_certs, tmp_path):
    missing = str(tmp_path / "nope.key")
    rc, err = start_failure(hornet_server, {"certfile": tls_certs.server_pem, "keyfile": missing})
    assert rc == 1, err
    assert missing in err and "cannot" in err, err


def test_garbage_certfile_fails_start(hornet_server, tls_certs, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("this is not a certificate\n")
    rc, err = start_failure(hornet_server, {"certfile": str(bad),
                                            "keyfile": tls_certs.server_key})
    assert rc == 1, err
    assert str(bad) in err, err


def test_key_not_matching_certificate_fails_start(hornet_server, tls_certs):
    rc, err = start_failure(hornet_server, {"certfile": tls_certs.server_pem,
                                            "keyfile": tls_certs.other_key})
    assert rc == 1, err
    assert "does not match" in err, err
    assert tls_certs.other_key in err or tls_certs.server_pem in err, err


@pytest.mark.parametrize("password", [None, "wrong"])
def test_encrypted_key_without_the_right_password_fails_start(hornet_server, tls_certs,
                                                              password):
    cfg = {"certfile": tls_certs.server_pem, "keyfile": tls_certs.server_enc_key}
    if password is not None:
        cfg["keyfile_password"] = password
    rc, err = start_failure(hornet_server, cfg)
    assert rc == 1, err
    assert tls_certs.server_enc_key in err and "password" in err, err


def test_encrypted_key_with_its_password_serves(hornet_server, tls_certs):
    srv = hornet_server(config={"certfile": tls_certs.server_pem,
                                "keyfile": tls_certs.server_enc_key,
                                "keyfile_password": tls_certs.password})
    r, facts = tls_get(srv.port)
    assert (r.status, r.body) == (200, HELLO)
    assert facts["der"] == cert_der(tls_certs.server_pem)
    assert tls_certs.password not in srv.stderr_text()


def test_certfile_holding_the_key_serves_without_keyfile(hornet_server, tls_certs):
    srv = hornet_server(config={"certfile": tls_certs.combined_pem})
    r, facts = tls_get(srv.port)
    assert (r.status, r.body) == (200, HELLO)
    assert facts["der"] == cert_der(tls_certs.server_pem)


def test_certfile_without_key_and_no_keyfile_fails_start(hornet_server, tls_certs):
    rc, err = start_failure(hornet_server, {"certfile": tls_certs.server_pem})
    assert rc == 1, err
    assert tls_certs.server_pem in err, err


def test_bad_ca_certs_fails_start(hornet_server, tls_certs, tmp_path):
    missing = str(tmp_path / "no-ca.pem")
    rc, err = start_failure(hornet_server, tls_config(tls_certs, ca_certs=missing,
                                                      verify_mode="required"))
    assert rc == 1, err
    assert missing in err, err


# ---------------------------------------------------------------------------------------------
# client certificates


def test_verify_required_needs_a_client_certificate_from_the_ca(hornet_server, tls_certs):
    client = ctx_for(cert=tls_certs.client_pem, key=tls_certs.client_key)
    srv = hornet_server(config=tls_config(tls_certs, ca_certs=tls_certs.ca_pem,
                                          verify_mode="required"), ssl_context=client)
    url = srv.url + "/"
    p = curl("-sk", url)
    assert p.returncode != 0 and HELLO not in p.stdout, (p.returncode, p.stdout, p.stderr)
    p = curl("-sk", "--cert", tls_certs.client_pem, "--key", tls_certs.client_key,
             "-w", " %{http_code}", url)
    assert (p.returncode, p.stdout) == (0, HELLO + b" 200"), p.stderr
    p = curl("-sk", "--cert", tls_certs.rogue_pem, "--key", tls_certs.rogue_key, url)
    assert p.returncode != 0 and HELLO not in p.stdout, (p.returncode, p.stdout)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert_tls_refused(srv.port, ctx_for(version))
        r, _ = tls_get(srv.port, ctx_for(version, cert=tls_certs.client_pem,
                                         key=tls_certs.client_key))
        assert (r.status, r.body) == (200, HELLO)


def test_verify_optional_accepts_clients_with_and_without_certificate(hornet_server,
                                                                      tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, ca_certs=tls_certs.ca_pem,
                                          verify_mode="optional"))
    url = srv.url + "/"
    p = curl("-sk", url)
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr
    p = curl("-sk", "--cert", tls_certs.client_pem, "--key", tls_certs.client_key, url)
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr
    # a certificate that is presented is still checked against ca_certs
    p = curl("-sk", "--cert", tls_certs.rogue_pem, "--key", tls_certs.rogue_key, url)
    assert p.returncode != 0 and HELLO not in p.stdout, (p.returncode, p.stdout)


def test_verify_none_does_not_ask_for_a_certificate(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, ca_certs=tls_certs.ca_pem))
    p = curl("-sk", "--cert", tls_certs.rogue_pem, "--key", tls_certs.rogue_key, srv.url + "/")
    assert (p.returncode, p.stdout) == (0, HELLO), p.stderr


# ---------------------------------------------------------------------------------------------
# reload


def test_reload_with_broken_certificate_is_refused(hornet_server, tls_certs, tmp_path):
    crt, key = copy_certs(tls_certs, tmp_path)
    srv = hornet_server(config={"certfile": crt, "keyfile": key, "workers": 2})
    before = set(srv.wait_workers(2))
    replace_file(crt, text="-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload refused")
    log = srv.stderr_text()
    assert crt in log, log
    assert "reload complete" not in log
    assert set(srv.workers()) == before
    for _ in range(4):
        r, facts = tls_get(srv.port)
        assert (r.status, r.body) == (200, HELLO)
        assert facts["der"] == cert_der(tls_certs.server_pem)
    # a key that does not match is refused the same way
    replace_file(crt, src=tls_certs.server_pem)
    replace_file(key, src=tls_certs.other_key)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload refused", 2)
    assert "does not match" in srv.stderr_text()
    assert set(srv.workers()) == before
    assert served_der(srv.port) == cert_der(tls_certs.server_pem)
    assert srv.stop() == 0


@pytest.mark.parametrize("how", ["files_replaced", "config_changed"])
def test_reload_serves_the_new_certificate(hornet_server, tls_certs, tmp_path, how):
    crt, key = copy_certs(tls_certs, tmp_path)
    srv = hornet_server(config={"certfile": crt, "keyfile": key, "workers": 2})
    old = set(srv.wait_workers(2))
    assert "CN = %s" % tls_certs.server_cn in served_subject(srv.port)
    if how == "files_replaced":
        replace_file(key, src=tls_certs.server2_key)
        replace_file(crt, src=tls_certs.server2_pem)
    else:
        rewrite(srv, certfile=tls_certs.server2_pem, keyfile=tls_certs.server2_key)
    srv.send_signal(signal.SIGHUP)
    wait_log(srv, "reload complete")
    assert "reload refused" not in srv.stderr_text()
    wait_until(lambda: len(srv.workers()) == 2 and not set(srv.workers()) & old, 20,
               what="the old generation to leave")
    new = cert_der(tls_certs.server2_pem)
    for _ in range(6):
        r, facts = tls_get(srv.port)
        assert (r.status, r.body) == (200, HELLO)
        assert facts["der"] == new, "still the old certificate after the reload"
    assert "CN = %s" % tls_certs.server2_cn in served_subject(srv.port)
    assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# handshake timeout and clients that do not speak TLS


def closes_within(port, data, timeout):
    """Connect, send data (may be empty), and return the seconds until the server closed."""
    t0 = time.monotonic()
    with Conn(port, timeout=timeout) as c:
        if data:
            c.send(data)
        try:
            c.read_to_eof(timeout)
        except TimeoutError:
            raise AssertionError("the server kept a connection that sent %r open for %ss"
                                 % (data[:40], timeout))
    return time.monotonic() - t0


# The first bytes of a TLS ClientHello: record header (handshake, TLS 1.0 record version,
# length 512) and the handshake header; the rest never comes.
PARTIAL_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 16


@pytest.mark.parametrize("data", [b"", PARTIAL_CLIENT_HELLO], ids=["silent", "half-hello"])
def test_handshake_timeout_closes_a_stalled_client(hornet_server, tls_certs, data):
    # keep_alive_timeout (which also bounds a request head) is far away: only the handshake
    # timeout can close the connection within the deadline
    srv = hornet_server(config=tls_config(tls_certs, ssl_handshake_timeout="1s",
                                          keep_alive_timeout="60s"))
    closes_within(srv.port, data, 5)
    r, _ = tls_get(srv.port)
    assert (r.status, r.body) == (200, HELLO)


def test_completed_handshake_is_not_cut_by_the_handshake_timeout(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, ssl_handshake_timeout="1s",
                                          keep_alive_timeout="30s"))
    with srv.connect() as c:
        time.sleep(2.0)
        r = c.request("GET", "/", [("Connection", "close")])
    assert (r.status, r.body) == (200, HELLO)


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    bytes(range(256)) * 8,
], ids=["plain-http", "garbage"])
def test_non_tls_bytes_on_the_tls_port_close_the_connection(hornet_server, tls_certs, data):
    srv = hornet_server(config=tls_config(tls_certs, workers=2, keep_alive_timeout="60s",
                                          ssl_handshake_timeout="60s"))
    before = set(srv.wait_workers(2))
    for _ in range(5):
        closes_within(srv.port, data, 5)
    # clients that go away mid-handshake
    for _ in range(5):
        with Conn(srv.port) as c:
            c.send(PARTIAL_CLIENT_HELLO)
    for _ in range(4):
        r, _ = tls_get(srv.port)
        assert (r.status, r.body) == (200, HELLO)
    assert set(srv.workers()) == before, "a worker was replaced (crashed?)"
    assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# large bodies


def echo_text_body(resp):
    """builtin:echo's text answer: (head text, body bytes)."""
    head, sep, body = resp.body.partition(b"\n\n")
    assert sep, resp.body[:300]
    return head.decode("latin-1"), body


def test_large_post_through_tls_is_echoed_intact(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config=tls_config(tls_certs))
    payload = os.urandom(5 * 1024 * 1024)
    with srv.connect(timeout=30) as c:
        r = c.request("POST", "/upload", [("Content-Type", "application/octet-stream")],
                      body=payload, timeout=30)
        assert r.status == 200, r
        assert int(r.header("content-length")) == len(r.body)
        head, body = echo_text_body(r)
        assert head.startswith("POST /upload HTTP/1.1"), head
        assert len(body) == len(payload) and body == payload
        # the connection is still good afterwards
        r = c.request("POST", "/small", body=b"x")
        assert echo_text_body(r)[1] == b"x"


def test_large_chunked_post_through_tls_is_echoed_chunked(hornet_server, tls_certs):
    srv = hornet_server(app="builtin:echo", config=tls_config(tls_certs))
    payload = os.urandom(5 * 1024 * 1024)
    with srv.connect(timeout=30) as c:
        c.send(build_request("POST", "/chunked", [("Transfer-Encoding", "chunked"),
                                                  ("Connection", "close")]))
        c.send(chunked(payload, 100000))
        r = c.read_response(timeout=30)
    assert r.status == 200 and r.chunked, r
    assert echo_text_body(r)[1] == payload


def test_large_upload_with_curl(hornet_server, tls_certs, tmp_path):
    srv = hornet_server(app="builtin:echo", config=tls_config(tls_certs))
    payload = os.urandom(5 * 1024 * 1024)
    src = tmp_path / "up.bin"
    src.write_bytes(payload)
    p = curl("-sS", "--cacert", tls_certs.ca_pem, "--http1.1", "--data-binary", "@%s" % src,
             "-H", "Content-Type: application/octet-stream", srv.url + "/curl", timeout=60)
    assert p.returncode == 0, p.stderr
    _, sep, body = p.stdout.partition(b"\n\n")
    assert sep and body == payload


def test_large_static_file_through_tls(hornet_server, tls_certs, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    data = os.urandom(8 * 1024 * 1024 + 123)
    (root / "big.bin").write_bytes(data)
    srv = hornet_server(app="builtin:static", config=tls_config(tls_certs,
                                                                static_root=str(root)))
    with srv.connect(timeout=30) as c:
        r = c.request("GET", "/big.bin", timeout=30)
        assert r.status == 200 and r.body == data, (r.status, len(r.body))
        r = c.request("GET", "/big.bin", [("Range", "bytes=1000000-2999999")], timeout=30)
        assert r.status == 206 and r.body == data[1000000:3000000], (r.status, len(r.body))
    out = tmp_path / "down.bin"
    p = curl("-sS", "--http1.1", "--cacert", tls_certs.ca_pem, "-o", str(out),
             srv.url + "/big.bin", timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == data


@requires_gcc
def test_pipelined_burst_across_backpressure(hornet_server, tls_certs, apps):
    """Forty pipelined requests with large heads (more than two TLS records) for large
    streamed responses: the connection pauses reading under backpressure while OpenSSL holds
    decrypted request bytes no socket event will announce again; every response arrives."""
    srv = hornet_server(app=apps.spec("stream"), config=tls_config(tls_certs))
    pad = "p" * 1000
    n, size = 40, 300000
    burst = b"".join(build_request("GET", "/stream?bytes=%d" % size, [("X-Pad", pad)])
                     for _ in range(n))
    assert len(burst) > 2 * 16384
    with srv.connect(timeout=30) as c:
        c.send(burst)
        for i in range(n):
            r = c.read_response(timeout=30)
            assert r.status == 200, (i, r)
            assert len(r.body) == size, (i, len(r.body))


# ---------------------------------------------------------------------------------------------
# alpn_protocols (Hypercorn's key): what ALPN offers, and whether h2 is served at all


def curl_version(srv, *args):
    p = curl("-sS", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", *args,
             srv.url + "/")
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def negotiated(port, alpn):
    """The protocol ALPN chose for a client offering alpn (None: none), without a request."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx_for(alpn=alpn).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.selected_alpn_protocol()


def test_alpn_protocols_default_offers_h2(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs))
    assert curl_version(srv, "--http2") == "2 200"


def test_alpn_protocols_without_h2_is_never_http2_over_tls(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, alpn_protocols=["http/1.1"]))
    assert curl_version(srv, "--http2") == "1.1 200"
    r, facts = tls_get(srv.port, ctx_for(alpn=["h2", "http/1.1"]))
    assert (r.status, facts["alpn"]) == (200, "http/1.1"), (r, facts)
    r, facts = tls_get(srv.port, ctx_for(alpn=["h2"]))
    assert (r.status, facts["alpn"]) == (200, None), (r, facts)


def test_alpn_protocols_order_is_the_servers_preference(hornet_server, tls_certs):
    srv = hornet_server(config=tls_config(tls_certs, alpn_protocols=["http/1.1", "h2"]))
    assert negotiated(srv.port, ["h2", "http/1.1"]) == "http/1.1"
    assert negotiated(srv.port, ["h2", "spdy/3"]) == "h2"
    assert curl_version(srv, "--http2") == "1.1 200"


def test_alpn_protocols_h2_only_still_serves_a_client_without_alpn(hornet_server, tls_certs):
    """As Hypercorn: only the offer changes; a client that asks for nothing gets HTTP/1.1."""
    srv = hornet_server(config=tls_config(tls_certs, alpn_protocols=["h2"]))
    assert curl_version(srv, "--http2") == "2 200"
    r, facts = tls_get(srv.port, ctx_for(alpn=["http/1.1"]))
    assert (r.status, facts["alpn"]) == (200, None), (r, facts)


def test_alpn_protocols_without_h2_refuses_h2c(hornet_server):
    srv = hornet_server(config={"alpn_protocols": "http/1.1"})
    p = curl("-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
             srv.url + "/")
    assert p.stdout == b"1.1 200", (p.stdout, p.stderr)
    # prior knowledge: the preface is no HTTP/1.1 request either
    p = curl("-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version}",
             srv.url + "/")
    assert p.stdout != b"2", (p.stdout, p.stderr)
    with Conn(srv.port) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert c.read_some().startswith(b"HTTP/1.1 "), "answered as HTTP/1.1"


def test_alpn_protocols_refuses_other_protocols(hornet_bin, tmp_path):
    path = tmp_path / "hornet.yaml"
    path.write_text("alpn_protocols: [h2, h3]\n")
    p = run_hornet(["-t", "-c", str(path)])
    assert p.returncode == 1
    assert p.stderr == ('hornet: %s:1:22: alpn_protocols: expected one of h2, http/1.1, '
                        'got "h3"\n' % path), p.stderr
