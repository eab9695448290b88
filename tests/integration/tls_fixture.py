"""Certificates for the TLS tests, made once per pytest session with the openssl CLI.

    from tls_fixture import tls_certs  # noqa: F401  (registers the fixture)

    def test_x(hornet_server, tls_certs):
        srv = hornet_server(config={"certfile": tls_certs.server_pem,
                                    "keyfile": tls_certs.server_key})

Every key is EC P-256 (fast to make). The files, all in one session temporary directory:

    ca.pem / ca.key              a CA (CN=hornet-test-ca)
    server.pem / server.key      CN=hornet-test, subjectAltName IP:127.0.0.1, DNS:localhost,
                                 signed by the CA (serverAuth)
    server2.pem / server2.key    the same with CN=hornet-test-2 (for certificate reloads)
    client.pem / client.key      CN=hornet-test-client, signed by the CA (clientAuth)
    server-enc.key               server.key encrypted with AES-256, password "s3cret"
    server-combined.pem          server.pem followed by server.key (certfile without keyfile)
    other.key                    an unrelated key (does not match server.pem)
    rogue.pem / rogue.key        a self-signed certificate (CN=hornet-test-rogue), from no CA
                                 the server trusts: a client certificate to be refused

A module using the fixture is skipped as a whole when the openssl CLI is missing.
"""

import os
import shutil
import subprocess
import types

import pytest

from hornet_fixture import require_tool, requires_tool

OPENSSL = os.environ.get("HN_TEST_OPENSSL", "openssl")
KEY_PASSWORD = "s3cret"
SERVER_CN = "hornet-test"
SERVER2_CN = "hornet-test-2"
CLIENT_CN = "hornet-test-client"

requires_openssl = requires_tool(OPENSSL)

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


def _openssl(*args, cwd):
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, "$ openssl %s\n%s" % (" ".join(args),
                                                    p.stdout.decode(errors="replace"))
    return p.stdout


def _signed(d, name, cn, ext_lines, serial):
    """name.key + name.pem: a fresh key, a certificate for it signed by ca.pem/ca.key."""
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("\n".join(["basicConstraints = critical, CA:FALSE",
                           "keyUsage = critical, digitalSignature",
                           "subjectKeyIdentifier = hash",
                           "authorityKeyIdentifier = keyid, issuer"] + ext_lines) + "\n")
    _openssl("req", "-new", *_EC, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
             "-subj", "/CN=" + cn, cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", str(serial), "-days", "30", "-sha256", "-extfile", ext,
             "-out", name + ".pem", cwd=d)


def make_certs(d):
    """Write every file into directory d; returns a namespace of absolute paths."""
    d = str(d)
    _openssl("req", "-x509", *_EC, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "30", "-sha256", "-subj", "/CN=hornet-test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    server_ext = ["subjectAltName = IP:127.0.0.1, DNS:localhost",
                  "extendedKeyUsage = serverAuth"]
    _signed(d, "server", SERVER_CN, server_ext, 1001)
    _signed(d, "server2", SERVER2_CN, server_ext, 1002)
    _signed(d, "client", CLIENT_CN, ["extendedKeyUsage = clientAuth"], 1003)
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:" + KEY_PASSWORD,
             "-out", "server-enc.key", cwd=d)
    _openssl("req", "-x509", *_EC, "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem",
             "-days", "30", "-sha256", "-subj", "/CN=hornet-test-rogue",
             "-addext", "extendedKeyUsage=clientAuth,serverAuth", cwd=d)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "other.key", cwd=d)
    with open(os.path.join(d, "server-combined.pem"), "wb") as out:
        for name in ("server.pem", "server.key"):
            with open(os.path.join(d, name), "rb") as f:
                out.write(f.read())

    def p(name):
        return os.path.join(d, name)

    return types.SimpleNamespace(
        dir=d, password=KEY_PASSWORD,
        ca_pem=p("ca.pem"), ca_key=p("ca.key"),
        server_pem=p("server.pem"), server_key=p("server.key"),
        server2_pem=p("server2.pem"), server2_key=p("server2.key"),
        client_pem=p("client.pem"), client_key=p("client.key"),
        server_enc_key=p("server-enc.key"), combined_pem=p("server-combined.pem"),
        other_key=p("other.key"), rogue_pem=p("rogue.pem"), rogue_key=p("rogue.key"),
        server_cn=SERVER_CN, server2_cn=SERVER2_CN, client_cn=CLIENT_CN)


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory):
    require_tool(OPENSSL)
    return make_certs(tmp_path_factory.mktemp("tls"))
