"""proxy_headers: the client, scheme and host a trusted proxy forwards (X-Forwarded-*, or
RFC 7239 Forwarded) reach the app's scope and the access log; from an untrusted peer, or with
the option off, the headers change nothing. proxy_trusted_hops picks the value from the right.
"""

import json

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import Conn, wait_until

pytestmark = requires_gcc


def scope(srv, headers):
    with Conn(srv.port) as c:
        head = b"GET /scope HTTP/1.1\r\nHost: direct.test\r\n"
        for k, v in headers:
            head += k.encode() + b": " + v.encode() + b"\r\n"
        c.send(head + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
        return json.loads(r.body)


def host_of(s):
    return dict((k.lower(), v) for k, v in s["headers"]).get("host")


LEGACY = [("X-Forwarded-For", "203.0.113.7, 10.0.0.2"), ("X-Forwarded-Proto", "https"),
          ("X-Forwarded-Host", "www.example.com")]


def test_legacy_headers_from_a_trusted_proxy(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"proxy_headers": "legacy",
                                                   "accesslog": "-"})
    s = scope(srv, LEGACY)
    # one trusted hop: the last value of each list is what our proxy saw
    assert (s["client_host"], s["client_port"]) == ("10.0.0.2", 0), s
    assert s["scheme"] == "https" and host_of(s) == "www.example.com", s
    wait_until(lambda: any("] 10.0.0.2 - - [" in line and '"GET /scope 1.1" 200' in line
                           for line in srv.stdout_text().splitlines()), 5,
               what="the forwarded client in the access log")


def test_trusted_hops_count_from_the_right(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"proxy_headers": "legacy",
                                                   "proxy_trusted_hops": 2})
    s = scope(srv, [("X-Forwarded-For", "198.51.100.1, 203.0.113.7"),
                    ("X-Forwarded-For", "10.0.0.2")])  # several headers make one list
    assert s["client_host"] == "203.0.113.7", s
    # fewer values than hops: the peer stays
    s = scope(srv, [("X-Forwarded-For", "10.0.0.2")])
    assert s["client_host"] == "127.0.0.1", s


def test_modern_forwarded_header(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"proxy_headers": "modern"})
    s = scope(srv, [("Forwarded", 'for="[2001:db8::7]:4711";proto=https;host=api.example.com'),
                    ("X-Forwarded-For", "6.6.6.6")])  # the other family is ignored
    assert (s["client_host"], s["scheme"], host_of(s)) == (
        "2001:db8::7", "https", "api.example.com"), s
    s = scope(srv, [("Forwarded", "for=unknown;proto=http")])
    assert s["client_host"] == "127.0.0.1" and s["scheme"] == "http", s


@pytest.mark.parametrize("config", [
    {"proxy_headers": "off"},
    {"proxy_headers": "legacy", "forwarded_allow_ips": ["10.0.0.0/8", "192.0.2.1"]},
])
def test_headers_change_nothing_when_off_or_untrusted(hornet_server, apps, config):
    srv = hornet_server(app=apps["probe"], config=config)
    s = scope(srv, LEGACY)
    assert (s["client_host"], s["scheme"], host_of(s)) == ("127.0.0.1", "http",
                                                          "direct.test"), s


@pytest.mark.parametrize("allow", ["*", "127.0.0.0/8", "10.1.1.1, 127.0.0.1", "::1,127.0.0.1"])
def test_allow_list_forms(hornet_server, apps, allow):
    srv = hornet_server(app=apps["probe"], config={"proxy_headers": "legacy",
                                                   "forwarded_allow_ips": [allow]})
    assert scope(srv, LEGACY)["client_host"] == "10.0.0.2"


def test_garbage_forwarded_values_are_ignored(hornet_server, apps):
    srv = hornet_server(app=apps["probe"], config={"proxy_headers": "legacy"})
    s = scope(srv, [("X-Forwarded-For", "not-an-ip"), ("X-Forwarded-Proto", "gopher")])
    assert (s["client_host"], s["scheme"]) == ("127.0.0.1", "http"), s
