#!/usr/bin/python3
"""make-seeds.py - write the seed inputs of fuzz/corpus/<target>/.

    /usr/bin/python3 fuzz/make-seeds.py        # from the top of the tree

Each seed is a valid (or interestingly invalid) input in the target's input
format (the header comment of fuzz/fuzz_<target>.c): configs for cfg, a flag
byte, a seed byte and client frames for ws, a flag byte and client bytes for
h1. Seeds are small and hand-written so libFuzzer starts from every feature;
what it finds goes to build-fuzz/<target>/corpus, not here. Running this
again rewrites the same files.
"""
import os
import struct
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(target, name, data):
    d = os.path.join(TOP, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- cfg: YAML configs ------------------------------------------------------

def cfg_seeds():
    with open(os.path.join(TOP, "etc", "hornet.yaml"), "rb") as f:
        write("cfg", "etc-hornet.yaml", f.read())
    write("cfg", "empty.yaml", "")
    write("cfg", "full.yaml", """\
bind:
  - 127.0.0.1:8000
  - "[::1]:8443"
  - unix:/tmp/hornet.sock
  - fd://200
insecure_bind: []
backlog: 128
workers: auto
max_requests: 1000
max_requests_jitter: 50
max_worker_lifetime: 1h
max_worker_lifetime_jitter: 5m
worker_timeout: 30s
use_reloader: true
reload:
  paths: [/etc/hornet/*.yaml, ./static]
application_path: builtin:echo
pid_path: /run/hornet.pid
user: www-data
group: "33"
umask: "0022"
keep_alive_timeout: 500ms
keep_alive_max_requests: 100
graceful_timeout: 3s
read_timeout: 10s
h11_max_incomplete_size: 8KiB
max_header_count: 50
max_body_size: 1MiB
include_server_header: false
include_date_header: yes
accesslog: "-"
errorlog: ~
loglevel: debug
access_log_format: '%(h)s %(t)s "%(r)s" %(s)s %(b)s %({user-agent}i)s %(L)s'
static_root: /srv/www
static_index: index.htm
root_path: /app
app_mode: simple
wsgi_max_body_size: 2M
startup_timeout: 10s
shutdown_timeout: 1.5s
certfile: /etc/ssl/cert.pem
keyfile: /etc/ssl/key.pem
keyfile_password: secret
ca_certs: /etc/ssl/ca.pem
ciphers: ECDHE+AESGCM
verify_mode: optional
ssl_handshake_timeout: 5s
h2_max_concurrent_streams: 10
h2_max_header_list_size: 16KiB
h2_max_inbound_frame_size: 16777215
websocket_max_message_size: 64KiB
websocket_ping_interval: 20s
websocket_per_message_deflate: false
mount:
  /api: ./libapi.so:app
  /static/: builtin:static
""")
    write("cfg", "flow.yaml",
          "{bind: [':8000', '0.0.0.0:80'], workers: 2, mount: {/a: builtin:hello}, "
          "reload: {paths: []}}\n")
    write("cfg", "dotted.yaml", "reload.paths:\n  - a\n  - b\nworkers: 1\n")
    write("cfg", "quoted.yaml",
          'application_path: "builtin:\\x68ello"\nroot_path: \'/it\'\'s\'\n'
          'access_log_format: "\\u00e9 %(r)s \\t"\n')
    write("cfg", "block.yaml", "access_log_format: |\n  %(h)s\n  %(r)s\nstatic_index: >-\n  a\n  b\n")
    write("cfg", "errors.yaml", "workers: many\nbacklog: 0\nkeep_alive_timeout: soon\n")
    write("cfg", "unknown-key.yaml", "worker: 4\n")
    write("cfg", "duplicate.yaml", "workers: 1\nworkers: 2\n")
    write("cfg", "alias.yaml", "a: &x 1\nworkers: *x\n")
    write("cfg", "sequence-root.yaml", "- workers\n- 1\n")
    write("cfg", "tags.yaml", "--- !!map\nworkers: !!int 3\nbacklog: !!str 10\n...\n")
    write("cfg", "nul.yaml", "application_path: \"builtin:echo\\0x\"\n")
    write("cfg", "deep.yaml", "mount: " + "[" * 70 + "]" * 70 + "\n")
    write("cfg", "sizes.yaml",
          "max_body_size: 0\nwsgi_max_body_size: 1G\nh11_max_incomplete_size: 1MiB\n"
          "websocket_max_message_size: 125\nh2_max_header_list_size: 1024k\n")


# --- ws: flag byte, seed byte, client frames -----------------------------------

KEY = b"\x11\x22\x33\x44"


def frame(opcode, payload, fin=True, rsv1=False, mask=KEY):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 65536:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


def deflate(data):
    z = zlib.compressobj(wbits=-15)
    out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def ws_seeds():
    # flags: bit 0 deflate, bits 1-2 max_message (125, 1000, 4096, 65536)
    plain, defl, big = 0x04, 0x05, 0x06
    write("ws", "text", bytes([plain, 0]) + frame(1, b"hello"))
    write("ws", "binary", bytes([plain, 1]) + frame(2, bytes(range(256))))
    write("ws", "fragmented", bytes([plain, 2]) +
          frame(1, b"hel", fin=False) + frame(9, b"ping") + frame(0, b"lo"))
    write("ws", "control", bytes([plain, 3]) +
          frame(9, b"") + frame(10, b"pong") + frame(8, b"\x03\xe8bye"))
    write("ws", "close-empty", bytes([plain, 4]) + frame(8, b""))
    write("ws", "utf8", bytes([plain, 5]) + frame(1, "héllo wörld €𝄞".encode()))
    write("ws", "utf8-bad", bytes([plain, 6]) + frame(1, b"\xed\xa0\x80"))
    write("ws", "len126", bytes([big, 7]) + frame(2, b"x" * 300))
    write("ws", "too-big", bytes([0x00, 8]) + frame(2, b"y" * 200))
    write("ws", "len127", bytes([big, 9]) + bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + KEY)
    write("ws", "unmasked", bytes([plain, 10]) + bytes([0x81, 0x02]) + b"hi")
    write("ws", "deflate", bytes([defl, 11]) + frame(1, deflate(b"hello hello hello"), rsv1=True))
    payload = deflate(b"abc" * 100)
    write("ws", "deflate-fragmented", bytes([defl, 12]) +
          frame(2, payload[:5], fin=False, rsv1=True) + frame(0, payload[5:]))
    write("ws", "deflate-bomb", bytes([0x03, 13]) +
          frame(2, deflate(b"\0" * 100000), rsv1=True))
    write("ws", "rsv1-off", bytes([plain, 14]) + frame(1, b"x", rsv1=True))
    write("ws", "many", bytes([defl, 15]) +
          b"".join(frame(1 + (i % 2), bytes([65 + i]) * i) for i in range(20)))


# --- h1: flag byte, client bytes ---------------------------------------------

def h1_seeds():
    # flags: bit 0 drain midway, bit 1 fire the timer, bit 2 EOF at the end,
    # bit 3 slow client, bits 4-7 seed of the write sizes
    def put(name, flags, data):
        write("h1", name, bytes([flags]) + (data.encode() if isinstance(data, str) else data))

    put("get", 0x04, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    put("get-query", 0x0c, "GET /x/y?a=1&b=%20 HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n"
        "User-Agent: fuzz\r\nReferer: http://r/\r\n\r\n")
    put("post", 0x14, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    put("chunked", 0x1c, "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n")
    put("pipelined", 0x24, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "HEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    put("http10", 0x04, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
    put("expect", 0x2c, "PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
        "Content-Length: 4\r\n\r\nbody")
    put("root-path", 0x04, "GET /root/hello/x HTTP/1.1\r\nHost: a\r\n\r\n")
    put("static", 0x34, "GET /static/a.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-9\r\n\r\n"
        "HEAD /static/ HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/d HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\n"
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
    put("static-escape", 0x04, "GET /static/../secret.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/%2e%2e/secret.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/link HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /static/d/../../secret.txt HTTP/1.1\r\nHost: a\r\n\r\n")
    frames = (frame(1, b"hello") + frame(2, b"\x00\x01") + frame(9, b"p") +
              frame(1, deflate(b"zzz"), rsv1=True) + frame(8, b"\x03\xe8"))
    put("websocket", 0x04, b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n" + frames)
    put("websocket-bad", 0x04, "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 8\r\n\r\n")
    put("websocket-timer", 0x02, b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n" + frame(1, b"x" * 2000))
    put("h2c-upgrade", 0x04, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    # prior knowledge: preface, SETTINGS, HEADERS (GET / with HPACK static
    # entries: :method GET, :path /, :scheme http, :authority a), GOAWAY
    headers = b"\x82\x84\x86\x41\x01a"
    h2 = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
          b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
          struct.pack(">I", len(headers))[1:] + b"\x01\x05\x00\x00\x00\x01" + headers +
          b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00")
    put("h2-prior-knowledge", 0x04, h2)
    put("drain", 0x05, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
    put("timeout-body", 0x02, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab")
    put("idle-timeout", 0x02, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    put("no-host", 0x04, "GET / HTTP/1.1\r\n\r\n")
    put("two-hosts", 0x04, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    put("obs-fold", 0x04, "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n")
    put("te-gzip", 0x04, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    put("te-cl", 0x04, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    put("version", 0x04, "GET / HTTP/1.2\r\nHost: a\r\n\r\n")
    put("body-too-big", 0x04, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999\r\n\r\n")
    put("chunk-too-big", 0x04, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2000\r\n")
    put("head-too-big", 0x04, "GET / HTTP/1.1\r\nHost: a\r\nX: " + "x" * 2100 + "\r\n\r\n")
    put("many-headers", 0x04, "GET / HTTP/1.1\r\nHost: a\r\n" +
        "".join("H%d: v\r\n" % i for i in range(20)) + "\r\n")
    put("expect-other", 0x04, "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n")
    put("target", 0x04, "GET http://a/abs?x HTTP/1.1\r\nHost: a\r\n\r\n"
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n")
    put("keepalive-max", 0x04, "GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 10)
    put("garbage", 0x04, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
    # a slow client and JSON echoes six times the size of their bodies: the
    # write queue passes its high watermark
    body = b"\x01" * 4000
    req = (b"POST /j HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n"
           b"Content-Length: 4000\r\n\r\n" + body)
    put("slow-json", 0x0c, req * 3)
    put("slow-chunked", 0x0c, b"POST /j HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"fa0\r\n" + body + b"\r\n"
                                                       for _ in range(2)) + b"0\r\n\r\n")
    put("slow-websocket", 0x0c, b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n" + frame(2, b"w" * 1000) * 12)
    put("server-name", 0x04, "GET / HTTP/1.1\r\nHost: other\r\n\r\n"
        "GET / HTTP/1.1\r\nHost: www.example.com:8000\r\n\r\n")


if __name__ == "__main__":
    cfg_seeds()
    ws_seeds()
    h1_seeds()
