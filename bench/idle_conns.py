#!/usr/bin/python3
"""idle_conns.py - open N keep-alive connections to 127.0.0.1:PORT, send one
request on each and read its response, then hold them all idle until stdin
closes. Prints "ready N" once every connection has its response, so that
bench.sh can measure the server's memory with N idle connections open.

usage: idle_conns.py PORT N
"""
import resource
import socket
import sys


def read_response(sock):
    """Read one response with a Content-Length body; return its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response body")
        body += chunk
    return int(head.split(b" ", 2)[1])


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 100
    if soft < want:
        limit = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(limit, soft), hard))
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        status = read_response(s)
        if status != 200:
            print(f"connection {i}: status {status}", file=sys.stderr)
            sys.exit(1)
        socks.append(s)
    print(f"ready {len(socks)}", flush=True)
    sys.stdin.read()  # hold until bench.sh closes our stdin
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
