"""proxy_protocol: a load balancer (HAProxy, an AWS NLB) opens every connection with a PROXY
protocol v1 or v2 header; the client it names reaches the app's scope and the access log.
The header is taken before TLS, byte-exact (the request may follow in the same write), only
from forwarded_allow_ips; a connection without a valid one is closed. proxy_protocol_bind
asks for it on chosen listeners only, the others serving clients directly; a reload moves it."""

import json
import signal
import socket
import struct

import pytest

from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
from hornet_fixture import Conn, client_ssl_context, free_port, to_yaml, wait_until
from tls_fixture import tls_certs  # noqa: F401,F811  (a fixture)

pytestmark = requires_gcc

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REQ = b"GET /scope HTTP/1.1\r\nHost: x\r\n\r\n"


def v1(src="203.0.113.7", dst="127.0.0.1", sport=51000, dport=443, fam="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src="198.51.100.9", dst="127.0.0.1", sport=40000, dport=443, cmd=0x21, tlv=b""):
    if ":" in src:
        addr = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        fam = 0x21
    else:
        addr = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
        fam = 0x11
    body = addr + struct.pack("!HH", sport, dport) + tlv
    return V2_SIG + bytes([cmd, fam]) + struct.pack("!H", len(body)) + body


def client_seen(conn):
    r = conn.read_response()
    assert r.status == 200, r
    return json.loads(r.body)


@pytest.fixture
def pp(hornet_server, apps):
    return hornet_server(app=apps["probe"], config={"proxy_protocol": True, "accesslog": "-"},
                         wait_ready=False)


def ready(srv):
    """The fixture's readiness probe cannot speak PROXY: wait for the workers' log line."""
    wait_until(lambda: "worker(s) ready" in srv.stderr_text(), 10, what="the workers")
    return srv


@pytest.mark.parametrize("header,client", [
    (v1(), "203.0.113.7"),
    (v1(src="2001:db8::1", dst="::1", fam="TCP6"), "2001:db8::1"),
    (v2(), "198.51.100.9"),
    (v2(src="2001:db8::2", dst="::1"), "2001:db8::2"),
    (v2(tlv=b"\x01\x00\x02h2"), "198.51.100.9"),  # with an ALPN TLV
])
def test_header_names_the_client(pp, header, client):
    ready(pp)
    with Conn(pp.port) as c:
        c.send(header + REQ)  # header and request in one write: nothing past the header taken
        s = client_seen(c)
        assert s["client_host"] == client, s
        # keep-alive: the next request on the connection has the same client
        c.send(REQ)
        assert client_seen(c)["client_host"] == client
    wait_until(lambda: ("] %s:" % client) in pp.stdout_text() or
               ("] [%s]:" % client) in pp.stdout_text(), 5, what="the client in the access log")


@pytest.mark.parametrize("header", [b"PROXY UNKNOWN\r\n", v2(cmd=0x20)])
def test_unknown_and_local_keep_the_socket_address(pp, header):
    ready(pp)
    with Conn(pp.port) as c:
        c.send(header + REQ)
        assert client_seen(c)["client_host"] == "127.0.0.1"


def test_header_split_across_writes(pp):
    ready(pp)
    with Conn(pp.port) as c:
        c.send_slowly(v2() + REQ, pieces=40)
        assert client_seen(c)["client_host"] == "198.51.100.9"


@pytest.mark.parametrize("bad", [REQ, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                                 b"PROXY TCP9 x\r\n", V2_SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12,
                                 b"\x16\x03\x01\x00\x05hello"])
def test_without_a_valid_header_the_connection_is_closed(pp, bad):
    ready(pp)
    with Conn(pp.port) as c:
        c.send(bad)
        c.assert_closed()
    assert "no valid PROXY protocol header" in pp.stderr_text()
    with Conn(pp.port) as c:  # the worker goes on
        c.send(v1() + REQ)
        assert client_seen(c)["client_host"] == "203.0.113.7"


def test_untrusted_peer_is_closed(hornet_server, apps):
    srv = ready(hornet_server(app=apps["probe"], wait_ready=False,
                              config={"proxy_protocol": True,
                                      "forwarded_allow_ips": ["10.0.0.0/8"]}))
    with Conn(srv.port) as c:
        c.send(v1() + REQ)
        c.assert_closed()
    assert "not in forwarded_allow_ips" in srv.stderr_text()


def test_header_before_tls(hornet_server, apps, tls_certs):
    """On a TLS listener the PROXY header comes before the handshake."""
    srv = ready(hornet_server(app=apps["probe"], wait_ready=False,
                              config={"certfile": tls_certs.server_pem,
                                      "keyfile": tls_certs.server_key, "proxy_protocol": True}))
    with Conn(srv.port, tls=True, ssl_context=client_ssl_context(cafile=tls_certs.ca_pem),
              server_hostname="localhost", before_tls=v2()) as c:
        c.send(REQ)
        s = client_seen(c)
        assert (s["client_host"], s["scheme"]) == ("198.51.100.9", "https"), s


# ---------------------------------------------------------------------------------------------
# proxy_protocol_bind: the header on chosen listeners only (nginx's listen ... proxy_protocol)


def reload_with(srv, **changes):
    cfg = dict(srv.config)
    cfg.update(changes)
    with open(srv.config_path, "w") as f:
        f.write(to_yaml(cfg))
    srv.send_signal(signal.SIGHUP)


def named_client(port):
    """The client the app sees for a v1 header on port; None if the listener does not take
    one (or is not serving yet)."""
    try:
        with Conn(port, timeout=3) as c:
            c.send(v1() + REQ)
            r = c.read_response()
            return json.loads(r.body)["client_host"] if r.status == 200 else None
    except (OSError, EOFError, TimeoutError, ValueError):
        return None


def plain_status(port):
    """The status of a request without a header on port; None if the connection is closed."""
    try:
        with Conn(port, timeout=3) as c:
            c.send(REQ)
            return c.read_response().status
    except (OSError, EOFError, TimeoutError, ValueError):
        return None


@pytest.mark.parametrize("key", ["bind", "insecure_bind"])
def test_proxy_protocol_bind_chooses_the_listener(hornet_server, apps, key):
    """The named listener takes the header; the other serves clients directly and takes a
    PROXY line for the bad request line it is there."""
    direct, proxied = free_port(), free_port()
    cfg = {"bind": ["127.0.0.1:%d" % direct], "accesslog": "-",
           "proxy_protocol_bind": ["127.0.0.1:%d" % proxied]}
    if key == "bind":
        cfg["bind"].append("127.0.0.1:%d" % proxied)
    else:
        cfg["insecure_bind"] = ["127.0.0.1:%d" % proxied]
    srv = hornet_server(app=apps["probe"], config=cfg)  # ready: a plain request on `direct`
    with Conn(proxied) as c:
        c.send(v1() + REQ)
        assert client_seen(c)["client_host"] == "203.0.113.7"
    wait_until(lambda: "] 203.0.113.7:" in srv.stdout_text(), 5,
               what="the named client in the access log")
    with Conn(direct) as c:
        c.send(REQ)
        assert client_seen(c)["client_host"] == "127.0.0.1"
    with Conn(direct) as c:
        c.send(v1() + REQ)  # not stripped: "PROXY TCP4 ..." is a malformed request line
        assert c.read_response().status == 400
    with Conn(proxied) as c:  # and the PROXY listener still wants its header
        c.send(REQ)
        c.assert_closed()
    assert srv.stop() == 0


def test_proxy_protocol_bind_not_a_listener(hornet_run, tmp_path):
    listener, stray = free_port(), free_port()
    path = tmp_path / "hornet.yaml"
    path.write_text(to_yaml({"bind": ["127.0.0.1:%d" % listener],
                             "proxy_protocol_bind": ["127.0.0.1:%d" % stray]}))
    p = hornet_run(["-t", "-c", str(path)])
    assert p.returncode == 1, p.stderr
    assert ('proxy_protocol_bind: expected an address of bind or insecure_bind (127.0.0.1:%d), '
            'got "127.0.0.1:%d"' % (listener, stray)) in p.stderr, p.stderr
    # the flag is checked the same way
    p = hornet_run(["-t", "-b", "127.0.0.1:%d" % listener,
                    "--proxy-protocol-bind", "127.0.0.1:%d" % stray])
    assert p.returncode == 1 and ('got "127.0.0.1:%d"' % stray) in p.stderr, p.stderr
    p = hornet_run(["-t", "-b", "127.0.0.1:%d" % listener,
                    "--proxy-protocol-bind", "127.0.0.1:%d" % listener])
    assert p.returncode == 0, p.stderr


def test_proxy_protocol_bind_beside_proxy_protocol_true(hornet_run, tmp_path):
    port = free_port()
    path = tmp_path / "hornet.yaml"
    path.write_text(to_yaml({"bind": ["127.0.0.1:%d" % port], "proxy_protocol": True,
                             "proxy_protocol_bind": ["127.0.0.1:%d" % port]}))
    p = hornet_run(["-t", "-c", str(path)])
    assert p.returncode == 1, p.stderr
    assert "proxy_protocol_bind" in p.stderr and "already covers every listener" in p.stderr, \
        p.stderr


def test_reload_moves_proxy_protocol_bind(hornet_server, apps):
    a, b = free_port(), free_port()
    srv = ready(hornet_server(app=apps["probe"], wait_ready=False, config={
        "bind": ["127.0.0.1:%d" % a, "127.0.0.1:%d" % b],
        "proxy_protocol_bind": ["127.0.0.1:%d" % a]}))
    assert named_client(a) == "203.0.113.7"
    assert plain_status(b) == 200

    # a broken reload keeps the listener as it was
    reload_with(srv, proxy_protocol_bind=["127.0.0.1:%d" % free_port()])
    wait_until(lambda: "reload refused" in srv.stderr_text(), 20, what="the refusal")
    assert "proxy_protocol_bind: expected an address of bind" in srv.stderr_text()
    assert named_client(a) == "203.0.113.7"
    assert plain_status(b) == 200

    reload_with(srv, proxy_protocol_bind=["127.0.0.1:%d" % b])
    wait_until(lambda: "reload complete" in srv.stderr_text(), 20, what="the reload")
    # the old generation may still take a connection or two while it drains
    wait_until(lambda: named_client(b) == "203.0.113.7" and plain_status(a) == 200, 20,
               what="the PROXY header to move from %d to %d" % (a, b))
    for _ in range(3):
        assert named_client(b) == "203.0.113.7"
        assert plain_status(a) == 200
    assert srv.stop() == 0
