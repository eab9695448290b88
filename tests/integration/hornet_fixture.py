"""Helpers for hornet's integration tests: start the real binary, talk raw HTTP/1.1.

Everything here is plain Python 3.11 standard library (Debian's /usr/bin/python3), so the
tests can run anywhere the binary builds.

Server lifecycle (used through the ``hornet_server`` fixture of conftest.py)::

    srv = hornet_server(app="builtin:hello", config={"workers": 1}, args=[], env=None)
    srv.port, srv.url, srv.pid, srv.config_path, srv.tmpdir
    srv.stop(sig=signal.SIGTERM, timeout=10) -> exit code
    srv.stderr_text(), srv.stdout_text(), srv.workers() -> [pid, ...]

Defaults the fixture adds when the test does not say otherwise:
  * ``bind: ["127.0.0.1:<free port>"]`` unless the config has ``bind`` or args has -b/--bind;
  * ``workers: 1`` unless the config has ``workers`` or args has -w/--workers.
Readiness is a TCP connect plus one complete HTTP exchange: ``GET / HTTP/1.1`` sent with
``User-Agent: hornet-fixture-ready`` (READY_USER_AGENT), so access-log tests can skip it.

Raw HTTP: ``Conn`` is a blocking socket with a buffer and a response parser that knows
Content-Length, chunked (with trailers), close-delimited bodies, HEAD and 1xx.

TLS: a server whose config dict has ``certfile`` is TLS-aware (``srv.tls`` is True; the
``tls=`` keyword of HornetServer overrides the guess): ``srv.url`` is https://...,
``srv.connect()``, ``srv.request()`` and the readiness check speak TLS to the first listener
with a client context that checks nothing (``client_ssl_context()``), or with the
``ssl_context=`` given to HornetServer (a client certificate for verify_mode: required).
``Conn(port, tls=True, ssl_context=None, server_hostname=None)`` is the raw TLS connection.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

READY_USER_AGENT = "hornet-fixture-ready"
DEFAULT_DEADLINE = 10.0

_HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------------------------
# binary, tools, ports, waiting


def require_tool(name):
    """The path of a program the suite runs. scripts/install-deps.sh test installs every one,
    so a missing one fails the test instead of skipping it: a suite that skips on a fresh
    machine checks nothing there."""
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is not installed (scripts/install-deps.sh test installs it)" % name,
                    pytrace=False)
    return path


def requires_tool(name):
    """A mark: the test runs NAME (checked by conftest.py before the test, see require_tool)."""
    return pytest.mark.requires_tool(name)


def hornet_bin():
    """The binary under test: $HORNET_BIN, else the repository's top-level ./hornet."""
    path = os.environ.get("HORNET_BIN")
    if not path:
        path = os.path.join(_HERE, "..", "..", "hornet")
    return os.path.abspath(path)


def clean_env(extra=None):
    """os.environ without anything that would make hornet think systemd started it."""
    env = dict(os.environ)
    for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC",
              "WATCHDOG_PID"):
        env.pop(k, None)
    if extra:
        env.update(extra)
    return env


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_until(pred, timeout=DEFAULT_DEADLINE, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or raise AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def run_hornet(args, timeout=20, cwd=None, env=None, input=None):
    """Run hornet to completion (for -t, -v, --help, config errors...).

    Returns subprocess.CompletedProcess with text stdout/stderr. Runs in its own session and
    kills the whole group if it overstays the timeout (then raises AssertionError)."""
    p = subprocess.Popen([hornet_bin()] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.PIPE if input else
                         subprocess.DEVNULL, cwd=cwd, env=clean_env(env),
                         start_new_session=True)
    try:
        out, err = p.communicate(input=input.encode() if input else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(p.pid)
        out, err = p.communicate()
        raise AssertionError("hornet %r did not exit within %ss; stderr:\n%s"
                             % (args, timeout, err.decode(errors="replace")))
    finally:
        _killpg(p.pid)
    return subprocess.CompletedProcess(p.args, p.returncode, out.decode(errors="replace"),
                                       err.decode(errors="replace"))


def _killpg(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------------------------
# YAML


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """A small YAML emitter for dicts of scalars, lists and nested dicts."""
    pad = " " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append("%s%s:" % (pad, k))
            lines.append(to_yaml(v, indent + 2).rstrip("\n"))
        elif isinstance(v, (list, tuple)):
            if not v:
                lines.append("%s%s: []" % (pad, k))
            else:
                lines.append("%s%s:" % (pad, k))
                for item in v:
                    lines.append("%s  - %s" % (pad, _yaml_scalar(item)))
        else:
            lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# processes and sockets through /proc


def write_config(path, cfg):
    """cfg as YAML at path, as an editor that saves by rename writes it: a reload reading the
    file meanwhile (the master logs the HUP before it reads) sees the old file or the new one,
    never a truncated one."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(to_yaml(cfg))
    os.replace(tmp, path)


def children(pid):
    """PIDs whose parent is pid (scans /proc/*/stat; works without CONFIG_PROC_CHILDREN)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields[0] = state, fields[1] = ppid
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(name))
    return sorted(out)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def socket_inodes(pid):
    """Inodes of the sockets pid has open."""
    out = set()
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for n in names:
        try:
            target = os.readlink(os.path.join(d, n))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", target)
        if m:
            out.add(int(m.group(1)))
    return out


def tcp_sockets():
    """The fields of every socket in /proc/net/tcp and tcp6: [1] local and [2] remote
    address (hex ADDR:PORT), [3] state ("01" established, "0A" listen), [4]
    "tx_queue:rx_queue" in hex, [9] the inode."""
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    yield line.split()
        except OSError:
            pass


def _port(addr):
    return int(addr.rsplit(":", 1)[1], 16)


def listening_inodes(port):
    """Inodes of TCP sockets in LISTEN state on the given local port (v4 and v6)."""
    return {int(p[9]) for p in tcp_sockets() if p[3] == "0A" and _port(p[1]) == port}


def unix_listening_inodes(path):
    out = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; St 01 = listening
            if len(parts) >= 8 and parts[7] == path and parts[5] == "01":
                out.add(int(parts[6]))
    return out


def tcp_entry(server_port, client_port, state=None):
    """The fields (as tcp_sockets) of the server's end of the connection from client_port,
    in that state if one is given, or None."""
    for p in tcp_sockets():
        if (_port(p[1]) == server_port and _port(p[2]) == client_port
                and state in (None, p[3])):
            return p
    return None


def port_accepts(port, host="127.0.0.1", timeout=2.0):
    """True if a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# raw HTTP/1.1 client


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []  # [(name, value)] as received
        self.trailers = []
        self.body = b""
        self.chunked = False
        self.raw_head = b""

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_token(self, name, token):
        """True if the comma-separated header `name` contains `token` (case-insensitive)."""
        for v in self.header_all(name):
            if token.lower() in [t.strip().lower() for t in v.split(",")]:
                return True
        return False

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %s %s %r body=%r>" % (self.status, self.reason, self.headers,
                                                  self.body[:200])


def client_ssl_context(cafile=None, certfile=None, keyfile=None):
    """A TLS client context: without cafile it checks neither the chain nor the name (the
    tests' certificates are self-made); with cafile it checks both. certfile/keyfile: a client
    certificate to present."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


class SocketOwner:
    """A client holding self.sock: usable in `with`, closed once, quietly."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Conn(SocketOwner):
    """One client connection with a receive buffer. All reads have deadlines.

    tls=True wraps the TCP socket in TLS (the handshake runs in the constructor, bounded by
    timeout) with ssl_context, by default client_ssl_context(); self.sock is then an
    ssl.SSLSocket, whose recv/sendall behave like a socket's here (an EOF without close_notify
    reads as EOF)."""

    def __init__(self, port=None, host="127.0.0.1", timeout=DEFAULT_DEADLINE, unix_path=None,
                 tls=False, ssl_context=None, server_hostname=None, before_tls=b""):
        self.timeout = timeout
        self.tls = bool(tls)
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if before_tls:  # bytes a proxy sends ahead of the handshake (a PROXY header)
            self.sock.sendall(before_tls)
        if self.tls:
            ctx = ssl_context or client_ssl_context()
            raw = self.sock
            try:
                self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
            except BaseException:
                raw.close()
                raise
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send_slowly(self, data, pieces, pause=0.005):
        """Send data split into `pieces` roughly equal sends with a short pause between."""
        if isinstance(data, str):
            data = data.encode()
        step = max(1, -(-len(data) // pieces))
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            time.sleep(pause)

    # -- low level ---------------------------------------------------------------------------

    def _fill(self, deadline):
        """Read once more into the buffer. Returns False at EOF (or reset)."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from server before the deadline; have %r" % self.buf[-300:])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from server before the deadline; have %r" % self.buf[-300:])
        except ConnectionResetError:
            self.reset = True
            data = b""
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            data = b""  # TLS close_notify, or a TCP EOF without one
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, marker, deadline):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return out
            if not self._fill(deadline):
                raise EOFError("connection closed before %r; buffered %r" % (marker, self.buf[:300]))

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError("connection closed after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_some(self, timeout=DEFAULT_DEADLINE):
        """Whatever is buffered, or one recv's worth; b'' at EOF."""
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        if not self._fill(time.monotonic() + timeout):
            return b""
        out, self.buf = self.buf, b""
        return out

    def read_to_eof(self, timeout=DEFAULT_DEADLINE):
        """Everything until the server closes. Raises TimeoutError if it does not close."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def assert_closed(self, timeout=DEFAULT_DEADLINE):
        """The server closes the connection (EOF or reset) with no further bytes."""
        try:
            rest = self.read_to_eof(timeout)
        except TimeoutError:
            raise AssertionError("server did not close the connection within %ss" % timeout)
        assert rest == b"", "unexpected bytes before EOF: %r" % rest[:300]

    # -- HTTP ----------------------------------------------------------------------------------

    def read_response(self, method="GET", timeout=DEFAULT_DEADLINE):
        """Read one response (a 1xx interim response is returned as is, without a body)."""
        deadline = time.monotonic() + timeout
        head = self.read_until(b"\r\n\r\n", deadline)
        r = Response()
        r.raw_head = head
        lines = head[:-4].split(b"\r\n")
        m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        r.version = m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = (m.group(3) or b"").decode("latin-1")
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise AssertionError("bad response header line %r" % line)
            r.headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        if 100 <= r.status < 200 or r.status in (204, 304) or method == "HEAD":
            return r
        te = r.header("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            r.chunked = True
            body = []
            while True:
                size_line = self.read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self.read_until(b"\r\n", deadline)
                        if t == b"\r\n":
                            break
                        n, _, v = t[:-2].partition(b":")
                        r.trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
                    break
                body.append(self.read_exact(size, deadline))
                assert self.read_exact(2, deadline) == b"\r\n", "chunk not followed by CRLF"
            r.body = b"".join(body)
        elif r.header("content-length") is not None:
            r.body = self.read_exact(int(r.header("content-length")), deadline)
        else:
            while self._fill(deadline):
                pass
            r.body, self.buf = self.buf, b""
        return r

    def request(self, method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                host="localhost", timeout=DEFAULT_DEADLINE):
        """Send one request and read its final response (skipping 1xx)."""
        self.send(build_request(method, path, headers, body, version, host))
        while True:
            r = self.read_response(method=method, timeout=timeout)
            if r.status >= 200 or r.status == 101:
                return r


def build_request(method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                  host="localhost"):
    """Bytes of a request. Adds Host (unless host is None) and Content-Length for a body
    (unless the headers already carry Content-Length or Transfer-Encoding)."""
    if isinstance(body, str):
        body = body.encode()
    hs = []
    if host is not None:
        hs.append(("Host", host))
    hs.extend(headers or [])
    names = {k.lower() for k, _ in hs}
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        hs.append(("Content-Length", str(len(body))))
    out = "%s %s %s\r\n" % (method, path, version)
    out += "".join("%s: %s\r\n" % (k, v) for k, v in hs)
    out += "\r\n"
    return out.encode("latin-1") + (body or b"")


def chunked(data, size):
    """data encoded as chunks of at most `size` bytes, with the final 0 chunk."""
    if isinstance(data, str):
        data = data.encode()
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def http_request(port, method="GET", path="/", headers=None, body=None, host="127.0.0.1",
                 unix_path=None, timeout=DEFAULT_DEADLINE, version="HTTP/1.1", tls=False,
                 ssl_context=None):
    """One request on a fresh connection (with Connection: close)."""
    hs = list(headers or [])
    if not any(k.lower() == "connection" for k, _ in hs):
        hs.append(("Connection", "close"))
    with Conn(port, host=host, unix_path=unix_path, timeout=timeout, tls=tls,
              ssl_context=ssl_context) as c:
        return c.request(method, path, hs, body, version=version, timeout=timeout)


def curl(*args, timeout=30):
    """Run curl; returns CompletedProcess with bytes stdout and text stderr."""
    p = subprocess.run(["curl", "--max-time", str(timeout - 5)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    p.stderr = p.stderr.decode(errors="replace")
    return p


# --------------------------------------------------------------------------------------------
# the server


class ServerStartError(AssertionError):
    pass


def _bind_given(config, args):
    if isinstance(config, dict) and "bind" in config:
        return True
    return any(a in ("-b", "--bind") or a.startswith("--bind=") or
               (a.startswith("-b") and len(a) > 2) for a in args)


def _workers_given(config, args):
    if isinstance(config, dict) and "workers" in config:
        return True
    return any(a in ("-w", "--workers") or a.startswith("--workers=") or
               (a.startswith("-w") and len(a) > 2) for a in args)


def _bind_list(config, args):
    """Bind addresses in effect: the CLI's if any (they replace the file's), else the file's."""
    cli = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-b", "--bind") and i + 1 < len(args):
            cli.append(args[i + 1])
            i += 1
        elif a.startswith("--bind="):
            cli.append(a[len("--bind="):])
        elif a.startswith("-b") and len(a) > 2:
            cli.append(a[2:])
        i += 1
    if cli:
        return cli
    if isinstance(config, dict):
        b = config.get("bind", [])
        return [b] if isinstance(b, str) else list(b)
    return []


def parse_bind(addr):
    """('unix', path) | ('tcp6', host, port) | ('tcp', host, port) | ('fd', n)."""
    if addr.startswith("unix:"):
        return ("unix", addr[5:])
    if addr.startswith("fd://"):
        return ("fd", int(addr[5:]))
    m = re.match(r"\[(.*)\]:(\d+)$", addr)
    if m:
        return ("tcp6", m.group(1), int(m.group(2)))
    host, _, port = addr.rpartition(":")
    return ("tcp", host, int(port))


class HornetServer:
    """A running hornet master, started in its own session (process group)."""

    def __init__(self, tmpdir, app="builtin:hello", config=None, args=(), env=None,
                 wait_ready=True, ready_timeout=DEFAULT_DEADLINE, use_config_file=True,
                 tls=None, ssl_context=None):
        self.tmpdir = str(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.app = app
        self.args = list(args)
        self.env = env
        self.proc = None
        self.returncode = None
        self.port = None
        self.host = None
        self.unix_path = None
        self.config_path = None
        self._user_config = config
        self._use_config_file = use_config_file
        if tls is None:
            tls = isinstance(config, dict) and config.get("certfile") is not None
        self.tls = bool(tls)
        self.ssl_context = ssl_context
        self._start(wait_ready, ready_timeout)

    # -- start ---------------------------------------------------------------------------------

    def _start(self, wait_ready, ready_timeout):
        attempts = 3
        for attempt in range(attempts):
            auto_port = self._write_config()
            self._spawn()
            if not wait_ready:
                return
            try:
                self.wait_ready(ready_timeout)
                return
            except ServerStartError:
                text = self.stderr_text()
                if auto_port and attempt + 1 < attempts and self.proc.poll() is not None \
                        and "in use" in text.lower():
                    continue  # lost a race for the free port: pick another
                raise

    def _write_config(self):
        """Writes hornet.yaml; returns True if the fixture chose the port."""
        cfg = self._user_config
        auto_port = False
        if isinstance(cfg, str) or not self._use_config_file:
            text = cfg or ""
        else:
            cfg = dict(cfg or {})
            if not _bind_given(cfg, self.args):
                cfg["bind"] = ["127.0.0.1:%d" % free_port()]
                auto_port = True
            if not _workers_given(cfg, self.args):
                cfg["workers"] = 1
            self.config = cfg
            text = to_yaml(cfg)
        if self._use_config_file:
            self.config_path = os.path.join(self.tmpdir, "hornet.yaml")
            with open(self.config_path, "w") as f:
                f.write(text)
        if isinstance(cfg, dict):
            binds = _bind_list(cfg, self.args)
        else:
            binds = _bind_list({}, self.args)
        self.binds = binds
        self.port = self.host = self.unix_path = None
        for b in binds:
            kind = parse_bind(b)
            if kind[0] in ("tcp", "tcp6") and self.port is None:
                self.host = kind[1] or "127.0.0.1"
                if self.host in ("0.0.0.0", "*"):
                    self.host = "127.0.0.1"
                elif self.host == "::":
                    self.host = "::1"
                self.port = kind[2]
            elif kind[0] == "unix" and self.unix_path is None:
                self.unix_path = kind[1]
        return auto_port

    def _spawn(self):
        cmd = [hornet_bin()]
        if self.config_path:
            cmd += ["-c", self.config_path]
        cmd += self.args
        if self.app:
            cmd.append(self.app)
        self.cmd = cmd
        self.stdout_path = os.path.join(self.tmpdir, "stdout.log")
        self.stderr_path = os.path.join(self.tmpdir, "stderr.log")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.tmpdir, env=clean_env(self.env),
                                         start_new_session=True)
        self.pid = self.proc.pid
        self.returncode = None

    @property
    def url(self):
        if self.port is None:
            return None
        scheme = "https" if self.tls else "http"
        if ":" in self.host:
            return "%s://[%s]:%d" % (scheme, self.host, self.port)
        return "%s://%s:%d" % (scheme, self.host, self.port)

    def connect(self, timeout=DEFAULT_DEADLINE):
        """A new raw connection to the first listener (TLS when self.tls)."""
        if self.port is not None:
            return Conn(self.port, host=self.host, timeout=timeout, tls=self.tls,
                        ssl_context=self.ssl_context)
        return Conn(unix_path=self.unix_path, timeout=timeout, tls=self.tls,
                    ssl_context=self.ssl_context)

    def request(self, method="GET", path="/", headers=None, body=None, timeout=DEFAULT_DEADLINE,
                version="HTTP/1.1"):
        """One request on a fresh connection (Connection: close)."""
        return http_request(self.port, method, path, headers, body, host=self.host or "127.0.0.1",
                            unix_path=None if self.port is not None else self.unix_path,
                            timeout=timeout, version=version, tls=self.tls,
                            ssl_context=self.ssl_context)

    def wait_ready(self, timeout=DEFAULT_DEADLINE):
        """TCP (or unix) connect plus one full HTTP exchange, polling until the deadline."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerStartError("hornet exited with %s before it was ready\ncmd: %s\n"
                                       "stderr:\n%s" % (self.proc.returncode, self.cmd,
                                                        self.stderr_text()))
            if self.port is None and self.unix_path is None:
                raise ServerStartError("no TCP or unix listener to check readiness on")
            try:
                c = self.connect(timeout=max(0.5, deadline - time.monotonic()))
                with c:
                    c.send(build_request("GET", "/", [("User-Agent", READY_USER_AGENT),
                                                      ("Connection", "close")]))
                    c.read_response(timeout=max(0.5, deadline - time.monotonic()))
                if self.port is not None and not self._owns_port():
                    # Another server answered: one still going away on this port (seen
                    # under valgrind, where stops are slow). Not ours, so not ready.
                    raise AssertionError("port %d is held by another process" % self.port)
                return
            except (OSError, EOFError, TimeoutError, AssertionError, ValueError) as e:
                last = e
            time.sleep(0.05)
        raise ServerStartError("hornet not ready within %ss (last error: %r)\ncmd: %s\nstderr:\n%s"
                               % (timeout, last, self.cmd, self.stderr_text()))

    def _owns_port(self):
        """Is every listener on our TCP port one of the master's sockets? (The master keeps
        a copy of each, so a listener it does not hold belongs to someone else.)"""
        listening = listening_inodes(self.port)
        return bool(listening) and listening <= socket_inodes(self.pid)

    # -- inspect -------------------------------------------------------------------------------

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def workers(self):
        """Current children of the master."""
        return children(self.pid)

    def wait_workers(self, n, timeout=DEFAULT_DEADLINE):
        """Wait until the master has exactly n children; returns their pids."""
        return wait_until(lambda: (lambda w: w if len(w) == n else None)(self.workers()),
                          timeout, what="%d workers of master %d" % (n, self.pid))

    def alive(self):
        return self.proc.poll() is None

    # -- stop ----------------------------------------------------------------------------------

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout=DEFAULT_DEADLINE):
        """Wait for the master to exit; returns its exit status or None if still running."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=DEFAULT_DEADLINE):
        """Send sig to the master and wait up to timeout for it to exit; after that SIGKILL the
        whole process group. Returns the exit status (negative: killed by that signal)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        return self.returncode

    def group_alive(self):
        """True while any process of the server's process group exists (workers included)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # killpg(0) also succeeds for zombies not yet reaped; check /proc
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pid and fields[0] != "Z":
                return True
        return False

    def cleanup(self):
        """Teardown: SIGTERM, bounded wait, then SIGKILL the whole group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.stop(signal.SIGTERM, timeout=5)
        _killpg(self.pid, signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class LoopingClients:
    """n threads asking GET path on port in a loop, keep-alive, reconnecting when a response
    says Connection: close, until the `with` block ends. errors collects any response other
    than expect and any reset or cut response (a lost request); served counts the good ones."""

    def __init__(self, port, n=4, path="/", expect=(200, b"Hello, world!")):
        self.port, self.path, self.expect = port, path, expect
        self.errors, self.served = [], 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(n)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _client(self):
        while not self._stop.is_set():
            try:
                with Conn(self.port, timeout=10) as c:
                    while not self._stop.is_set():
                        c.send(build_request("GET", self.path))
                        r = c.read_response()
                        if (r.status, r.body) != self.expect:
                            self.errors.append(r)
                            return
                        with self._lock:
                            self.served += 1
                        if r.has_token("connection", "close"):
                            c.assert_closed()
                            break
            except Exception as e:  # a reset or a cut response: a lost request
                self.errors.append(repr(e))
                return

