"""https_redirect: with TLS on `bind`, every request on `insecure_bind` gets 308 Permanent
Redirect to the same URL over https (the TLS listener's port), without reaching the app;
HTTPS requests are served as usual."""

import pytest

from hornet_fixture import Conn, client_ssl_context, curl, free_port
from tls_fixture import tls_certs  # noqa: F401,F811  (a fixture)

HELLO = b"Hello, world!"


@pytest.fixture
def redirecting(hornet_server, tls_certs):
    plain = free_port()
    srv = hornet_server(app="builtin:hello", config={
        "certfile": tls_certs.server_pem, "keyfile": tls_certs.server_key,
        "insecure_bind": ["127.0.0.1:%d" % plain], "https_redirect": True})
    srv.plain_port = plain
    srv.ca = tls_certs.ca_pem
    return srv


@pytest.mark.parametrize("method,target,host", [
    ("GET", "/a/b?x=1&y=2", "example.com"),
    ("GET", "/", "example.com:8080"),
    ("HEAD", "/p", "[::1]:80"),
])
def test_cleartext_requests_are_redirected(redirecting, method, target, host):
    with Conn(redirecting.plain_port) as c:
        c.send(("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, target, host)).encode())
        r = c.read_response(method=method)
        assert r.status == 308, r
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        assert r.header("location") == "https://%s:%d%s" % (name, redirecting.port, target)
        # keep-alive: a second request on the same connection is redirected too
        c.send(("GET /again HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
        assert c.read_response().status == 308


def test_post_body_is_not_given_to_anyone(redirecting):
    with Conn(redirecting.plain_port) as c:
        c.send(b"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nabcde")
        r = c.read_response()
        assert r.status == 308 and r.header("location").endswith("/form")


def test_h2c_request_is_redirected(redirecting):
    r = curl("--http2-prior-knowledge", "-s", "-o", "/dev/null", "-w",
             "%{http_version} %{http_code} %{redirect_url}",
             "http://127.0.0.1:%d/x?q=1" % redirecting.plain_port)
    assert r.stdout == ("2 308 https://127.0.0.1:%d/x?q=1" % redirecting.port).encode(), r.stdout


def test_https_is_served(redirecting):
    with Conn(redirecting.port, tls=True, ssl_context=client_ssl_context(cafile=redirecting.ca),
              server_hostname="localhost") as c:
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, HELLO)


def test_off_by_default(hornet_server, tls_certs):
    plain = free_port()
    hornet_server(app="builtin:hello", config={
        "certfile": tls_certs.server_pem, "keyfile": tls_certs.server_key,
        "insecure_bind": ["127.0.0.1:%d" % plain]})
    with Conn(plain) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
