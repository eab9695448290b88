"""server_names: requests for a host the server does not answer for get 421 Misdirected
Request and never reach the app (HTTP/1.1: the connection is closed; HTTP/2: the stream is
answered, other streams go on). Names: exact (any port), with a port (that port only), and
*.suffix wildcards; case-insensitive."""

import signal

import pytest

from hornet_fixture import Conn, curl, to_yaml, wait_until

HELLO = b"Hello, world!"
NAMES = ["example.com", "*.example.org", "api.test:8443", "[::1]:9000"]


@pytest.fixture
def named(hornet_server):
    return hornet_server(app="builtin:hello", config={"server_names": NAMES,
                                                      "accesslog": "-"})


def get(port, host):
    with Conn(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
        r = c.read_response()
        if r.status == 421:
            assert r.has_token("connection", "close"), r.headers
            c.assert_closed()
        return r.status


@pytest.mark.parametrize("host", ["example.com", "EXAMPLE.com", "example.com:1234",
                                  "a.example.org", "a.b.example.org:80", "api.test:8443",
                                  "[::1]:9000"])
def test_allowed_hosts_are_served(named, host):
    assert get(named.port, host) == 200


@pytest.mark.parametrize("host", ["other.com", "example.com.evil", "xexample.com",
                                  "example.org", ".example.org", "api.test", "api.test:80",
                                  "[::1]", "[::1]:9001", "127.0.0.1"])
def test_other_hosts_get_421_and_a_close(named, host):
    assert get(named.port, host) == 421


def test_421_never_reaches_the_app_and_is_logged(named):
    assert get(named.port, "other.com") == 421
    wait_until(lambda: '"GET / 1.1" 421' in named.stdout_text(), 5,
               what="the 421 in the access log")
    assert "Host not in server_names" in named.stderr_text()


def test_http10_without_host_gets_421(named):
    with Conn(named.port) as c:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.read_response().status == 421
        c.assert_closed()


def test_no_server_names_serves_any_host(hornet_server):
    srv = hornet_server(app="builtin:hello")
    assert get(srv.port, "anything.invalid") == 200


def test_http2_authority_is_checked_per_stream(named):
    """curl over h2c: the :authority decides; a refused stream does not end the connection."""
    url_ok = "http://example.com:%d/" % named.port
    url_bad = "http://other.com:%d/" % named.port
    r = curl("--http2-prior-knowledge", "-s", "-o", "/dev/null", "-o", "/dev/null", "-w",
             "%{http_version} %{http_code}\\n",
             "--connect-to", "example.com:%d:127.0.0.1:%d" % (named.port, named.port),
             "--connect-to", "other.com:%d:127.0.0.1:%d" % (named.port, named.port),
             url_bad, url_ok)
    assert r.stdout.split() == [b"2", b"421", b"2", b"200"], r.stdout


def test_reload_changes_server_names(named):
    assert get(named.port, "new.test") == 421
    cfg = dict(named.config)
    cfg["server_names"] = ["new.test"]
    with open(named.config_path, "w") as f:
        f.write(to_yaml(cfg))
    named.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload complete" in named.stderr_text(), 20, what="the reload")
    wait_until(lambda: get(named.port, "new.test") == 200, 10, what="the new names")
    assert get(named.port, "example.com") == 421
