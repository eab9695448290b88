"""The Debian packages (debian/): build them, lint them, look inside, install them and run the
service as packaged, with a C application and, through hornet-python, a Python one.

Once per module, the files of the source tree (git's tracked files, or the whole tree of a
release tarball) are copied to a temporary directory and built with
`dpkg-buildpackage -us -uc -b` (DEB_BUILD_OPTIONS="nocheck parallel=2": the unit tests have
run already). The packages are then installed into a throwaway root: an overlay whose lower
layer is the host's / and whose upper layer is a temporary directory, mounted in a private
mount namespace (unshare -m) and entered with chroot. Each command gets its own namespace, so
the mounts vanish with it; the upper layer keeps what dpkg -i wrote from one command to the
next. The host's dpkg database, users and systemd are never touched. Two roots: one with hornet
and hornet-dev (hornet must work, and refuse a Python application clearly, without
hornet-python), one with hornet and hornet-python.

Needs root (mount, chroot) and the tools of scripts/install-deps.sh test; a missing one fails
the test instead of skipping it. The source tree is only read (it may be read-only, as in
`make distcheck`).
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from hornet_fixture import children, free_port, http_request, pid_alive, require_tool, wait_until

SRC = Path(os.environ.get("HN_SRCDIR") or Path(__file__).resolve().parents[2])
BUILD_TIMEOUT = 900
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The three settings debian/rules switches on in the packaged copy of etc/hornet.yaml.
SWITCHED_ON = {
    "# user: www-data": "user: hornet",
    "# group: www-data": "group: hornet",
    "# pid_path: /run/hornet/hornet.pid": "pid_path: /run/hornet/hornet.pid",
}
# A Python ASGI 3 application that the roots get in /srv (a fresh /tmp is mounted for each
# command), readable by the workers' user hornet.
PY_APP_DIR = "/srv/hornet-test"
PY_APP_SPEC = "hello_asgi:app"
PY_APP = """\
import sys


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = "Python %d.%d says hello to %s" % (sys.version_info[0], sys.version_info[1],
                                             scope["path"])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})
"""

# Runs in a new mount namespace: mounts the throwaway root at $1/merged and runs the rest of
# the arguments in it. /run and /tmp are fresh tmpfs, as after a boot: the host's are no
# business of the packages. Our mounts must not propagate back: unshare's own
# --propagation private fails where / is not a mount point (this suite run in a chroot, as
# scripts/test-fresh-debian.sh does), so it is done here, and there the mounts in sight must
# already be private (as unshare -m leaves them) for the one holding the chroot to be too.
ENTER = r"""
set -e
d=$1; shift
m=$d/merged
if ! mount --make-rprivate / 2>/dev/null; then
    if ! test -r /proc/self/mountinfo || grep -q " shared:" /proc/self/mountinfo; then
        echo "/ is not a mount point and the mounts here may be shared: not mounting" >&2
        exit 1
    fi
fi
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
mount --rbind /sys "$m/sys"
mount -t tmpfs -o mode=0755 tmpfs "$m/run"
mount -t tmpfs -o mode=1777 tmpfs "$m/tmp"
mkdir "$m/tmp/debs"
mount --bind -o ro "$d/debs" "$m/tmp/debs"
exec chroot "$m" "$@"
"""


def tail(text, lines=60):
    return "\n".join(text.splitlines()[-lines:])


def run_bounded(args, timeout, **kw):
    """Run to completion in a session of its own; on timeout kill the whole group (make and
    compilers, or everything started in the root) and fail. Output is text, stderr folded in
    unless kw says otherwise."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, text=True,
                         **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail("%s did not finish within %ss:\n%s" % (" ".join(args), timeout,
                                                           tail(out or "")), pytrace=False)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(args, p.returncode, out or "", err or "")


def base_env(**extra):
    """A small, fixed environment: nothing of make check's (MAKEFLAGS, HORNET_BIN...) or of
    the caller's DEB_* settings reaches the build, and no LISTEN_FDS reaches hornet."""
    env = {"PATH": PATH, "LC_ALL": "C.UTF-8", "HOME": os.environ.get("HOME", "/root")}
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    env.update(extra)
    return env


def copy_source(dest):
    """The files to package: git's tracked files as they are in the work tree (an in-place
    build's output stays behind), or, in an unpacked release tarball (no .git), all of it but
    the build and install directories make distcheck makes there."""
    if (SRC / ".git").exists():
        r = subprocess.run(["git", "-C", str(SRC), "ls-files", "-z"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            pytest.fail("git ls-files in %s failed:\n%s" % (SRC, r.stderr.decode()),
                        pytrace=False)
        listed = r.stdout.split(b"\0")
        # a tracked file deleted in the work tree, not yet committed, is not there to copy
        names = [n for n in listed if n and os.path.lexists(os.path.join(bytes(SRC), n))]
        pack = subprocess.Popen(["tar", "-C", str(SRC), "--null", "-T", "-", "-cf", "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    else:
        names = None
        pack = subprocess.Popen(["tar", "-C", str(SRC), "--exclude=./_build",
                                 "--exclude=./_inst", "-cf", "-", "."],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    unpack = subprocess.Popen(["tar", "-xf", "-", "-C", str(dest)], stdin=pack.stdout)
    pack.stdout.close()
    if names is not None:
        pack.stdin.write(b"\0".join(names) + b"\0")
        pack.stdin.close()
    assert pack.wait(timeout=120) == 0 and unpack.wait(timeout=120) == 0, \
        "copying %s to %s failed" % (SRC, dest)
    # a release tarball's files are read-only (make distcheck); the build rewrites some
    subprocess.run(["chmod", "-R", "u+w", str(dest)], check=True)


def deb_files(deb):
    """Paths in a .deb's data, absolute, directories included."""
    out = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                         stdout=subprocess.PIPE).stdout
    names = subprocess.run(["tar", "-tf", "-"], input=out, check=True,
                           stdout=subprocess.PIPE).stdout.decode()
    return {"/" + n[2:].rstrip("/") for n in names.splitlines() if n not in ("./", ".")}


def deb_file_text(deb, path):
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                          stdout=subprocess.PIPE).stdout
    return subprocess.run(["tar", "-xOf", "-", "." + path], input=data, check=True,
                          stdout=subprocess.PIPE).stdout.decode()


def deb_control_file(deb, name):
    r = subprocess.run(["dpkg-deb", "--info", str(deb), name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return r.stdout if r.returncode == 0 else ""


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "--field", str(deb), field], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


# --------------------------------------------------------------------------------------------
# fixtures


class Build:
    def __init__(self, dir, srcdir):
        self.dir = dir
        self.srcdir = srcdir
        m = re.search(r"AC_INIT\(\[hornet\],\s*\[([^\]]+)\]",
                      (srcdir / "configure.ac").read_text())
        assert m, "no AC_INIT([hornet], [VERSION]) in configure.ac"
        self.version = m.group(1)

    def one(self, pattern):
        found = sorted(self.dir.glob(pattern))
        assert len(found) == 1, "expected one %s in %s, found %s" % (
            pattern, self.dir, [p.name for p in self.dir.iterdir()])
        return found[0]


@pytest.fixture(scope="module")
def build():
    for tool in ("git", "dpkg-buildpackage", "dpkg-deb", "dh", "lintian"):
        require_tool(tool)
    top = Path(tempfile.mkdtemp(prefix="hornet-deb."))
    try:
        srcdir = top / "hornet"
        srcdir.mkdir()
        copy_source(srcdir)
        if not (srcdir / "debian" / "control").is_file():
            pytest.fail("%s has no debian/ (a release tarball needs debian in EXTRA_DIST)"
                        % SRC, pytrace=False)
        r = run_bounded(["dpkg-buildpackage", "-us", "-uc", "-b"], BUILD_TIMEOUT, cwd=srcdir,
                        env=base_env(DEB_BUILD_OPTIONS="nocheck parallel=2"))
        if r.returncode != 0:
            hint = ""
            if "Unmet build dependencies" in r.stdout:
                hint = "\n(scripts/install-deps.sh test installs every build dependency)"
            pytest.fail("dpkg-buildpackage -us -uc -b failed (exit %d):\n%s%s"
                        % (r.returncode, tail(r.stdout), hint), pytrace=False)
        yield Build(top, srcdir)
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def hornet_deb(build):
    return build.one("hornet_*.deb")


@pytest.fixture(scope="module")
def dev_deb(build):
    return build.one("hornet-dev_*.deb")


@pytest.fixture(scope="module")
def python_deb(build):
    return build.one("hornet-python_*.deb")


class Root:
    """A throwaway root with some of the packages installed (see the module docstring)."""

    def __init__(self, dir):
        self.dir = dir

    def argv(self, *cmd):
        return ["unshare", "-m", "--propagation", "unchanged", "sh", "-c", ENTER, "sh",
                str(self.dir)] + list(cmd)

    def run(self, *cmd, timeout=60):
        """A command in the root; CompletedProcess with text stdout and stderr."""
        return run_bounded(self.argv(*cmd), timeout, env=base_env(), stderr=subprocess.PIPE)

    def sh(self, script, timeout=60):
        return self.run("/bin/sh", "-c", script, timeout=timeout)


def installed_root(*debs):
    """Generator for a fixture: a throwaway root with debs installed (dpkg -i), and the Python
    application written to PY_APP_DIR; removed afterwards."""
    if os.geteuid() != 0:
        pytest.fail("installing the packages into a throwaway root needs root (mount, chroot);"
                    " run test_package.py as root, as CI does", pytrace=False)
    for tool in ("unshare", "chroot", "mount", "systemctl", "systemd-analyze"):
        require_tool(tool)
    top = Path(tempfile.mkdtemp(prefix="hornet-root."))
    try:
        for d in ("upper", "work", "merged", "debs"):
            (top / d).mkdir()
        for deb in debs:
            shutil.copy(deb, top / "debs")
        r = Root(top)
        inst = r.run("dpkg", "-i", *["/tmp/debs/" + deb.name for deb in debs], timeout=300)
        assert inst.returncode == 0, "dpkg -i failed (exit %d):\n%s\n%s" % (
            inst.returncode, tail(inst.stdout), tail(inst.stderr))
        app = r.run("/bin/sh", "-c", 'mkdir -m 0755 -p "$1" && printf %s "$3" > "$1/$2"', "sh",
                    PY_APP_DIR, PY_APP_SPEC.split(":")[0] + ".py", PY_APP)
        assert app.returncode == 0, app.stdout + app.stderr
        yield r
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def root(hornet_deb, dev_deb):
    """hornet and hornet-dev: no hornet-python, so no Python."""
    yield from installed_root(hornet_deb, dev_deb)


@pytest.fixture(scope="module")
def python_root(hornet_deb, python_deb):
    yield from installed_root(hornet_deb, python_deb)


# --------------------------------------------------------------------------------------------
# the build


def test_version_is_configure_acs(build):
    changelog = subprocess.run(["dpkg-parsechangelog", "-S", "Version"], cwd=build.srcdir,
                               check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    assert changelog == build.version, "debian/changelog says %s, configure.ac %s" % (
        changelog, build.version)


def test_lintian_finds_no_errors(build):
    changes = build.one("hornet_*.changes")
    r = run_bounded(["lintian", "--fail-on", "error", str(changes)], 600, cwd=build.dir,
                    env=base_env())
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert r.returncode == 0 and not errors, "lintian (exit %d):\n%s" % (r.returncode, r.stdout)


# --------------------------------------------------------------------------------------------
# what the packages hold


def unit_dir(files):
    """Where the package put its units: /lib/systemd/system on bookworm, /usr/lib/... after
    the /usr merge moves them."""
    for d in ("/lib/systemd/system", "/usr/lib/systemd/system"):
        if d + "/hornet.service" in files:
            return d
    pytest.fail("no hornet.service under /lib or /usr/lib/systemd/system", pytrace=False)


def test_hornet_package_files(hornet_deb, build):
    files = deb_files(hornet_deb)
    units = unit_dir(files)
    for path in ("/usr/bin/hornet", "/usr/share/man/man8/hornet.8.gz",
                 "/usr/share/man/man5/hornet.yaml.5.gz", "/etc/hornet/hornet.yaml",
                 "/etc/logrotate.d/hornet", units + "/hornet.service", units + "/hornet.socket",
                 "/usr/share/doc/hornet/copyright", "/var/log/hornet"):
        assert path in files, "%s not in %s" % (path, hornet_deb.name)
    assert not any(p.startswith("/usr/include") for p in files), "headers belong in hornet-dev"
    for shipped, packaged in (("etc/hornet.service", units + "/hornet.service"),
                              ("etc/hornet.socket", units + "/hornet.socket"),
                              ("etc/hornet.logrotate", "/etc/logrotate.d/hornet")):
        assert deb_file_text(hornet_deb, packaged) == (build.srcdir / shipped).read_text(), \
            "%s is not %s" % (packaged, shipped)
    conffiles = deb_control_file(hornet_deb, "conffiles").split()
    assert "/etc/hornet/hornet.yaml" in conffiles and "/etc/logrotate.d/hornet" in conffiles, \
        "conffiles: %r" % conffiles


def bridge_path():
    """Where worker/app_load.c looks for the Python bridge in an installed hornet: $(pkglibdir),
    which is /usr/lib/<multiarch>/hornet under debhelper."""
    multiarch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], check=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True).stdout.strip()
    return "/usr/lib/%s/hornet/hornet-python.so" % multiarch


def test_hornet_package_has_no_python(hornet_deb):
    files = deb_files(hornet_deb)
    bridges = [p for p in files if p.endswith("/hornet-python.so")]
    assert not bridges, "the bridge belongs in hornet-python, not %s: %s" % (hornet_deb.name,
                                                                             bridges)
    for field in ("Pre-Depends", "Depends", "Recommends"):
        value = deb_field(hornet_deb, field)
        assert "python" not in value, "%s of %s: %s" % (field, hornet_deb.name, value)


def test_python_package_holds_the_bridge(python_deb, hornet_deb):
    files = deb_files(python_deb)
    assert bridge_path() in files, "%s not in %s: %s" % (bridge_path(), python_deb.name,
                                                        sorted(files))
    assert not any(p.startswith(("/usr/bin", "/etc", "/usr/include")) for p in files), files
    depends = [d.strip() for d in deb_field(python_deb, "Depends").split(",")]
    version = deb_field(hornet_deb, "Version")
    assert "hornet (= %s)" % version in depends, depends
    assert any(re.fullmatch(r"python3( \(.*\))?", d) for d in depends), depends
    assert any(re.fullmatch(r"libpython3\.\d+( \(.*\))?", d) for d in depends), depends
    assert deb_field(python_deb, "Architecture") == deb_field(hornet_deb, "Architecture")


def test_packaged_config_is_the_shipped_one_with_the_service_settings(hornet_deb, build):
    packaged = deb_file_text(hornet_deb, "/etc/hornet/hornet.yaml").splitlines()
    shipped = (build.srcdir / "etc" / "hornet.yaml").read_text().splitlines()
    for line in SWITCHED_ON.values():
        assert packaged.count(line) == 1, "%r not set once in the packaged hornet.yaml" % line
    # nothing else differs: the package follows etc/hornet.yaml instead of forking it
    assert packaged == [SWITCHED_ON.get(line, line) for line in shipped]


def test_maintainer_scripts_enable_and_start_nothing(hornet_deb):
    postinst = deb_control_file(hornet_deb, "postinst")
    assert re.search(r"^\s*adduser --system\b", postinst, re.M), postinst
    upgrade_only = []  # one entry per open "if": is it dh's "unit installed before" guard?
    for line in postinst.splitlines():
        code = line.split("#", 1)[0]
        # try-restart on upgrade is allowed: it restarts only a hornet already running
        starts = re.search(r"\bdeb-systemd-invoke\s+(start|restart|\$)|_dh_action=start"
                           r"|\bsystemctl\b.*\b(start|restart|enable)\b", code)
        assert not starts, "postinst starts a unit: %r\n%s" % (line, postinst)
        # --no-enable's snippet enables only a unit of an earlier install that the admin
        # had enabled (keeping that choice across upgrades); the default one enables always
        if re.search(r"\bdeb-systemd-helper\s+enable\b", code):
            assert any(upgrade_only), "postinst enables a unit: %r\n%s" % (line, postinst)
        if re.match(r"\s*if\b", code):
            upgrade_only.append("deb-systemd-helper debian-installed" in code)
        elif re.match(r"\s*fi\b", code):
            upgrade_only.pop()
    prerm = deb_control_file(hornet_deb, "prerm")
    assert re.search(r"deb-systemd-invoke stop\b.*hornet\.service", prerm), \
        "prerm must stop a running hornet on remove:\n" + prerm


def test_dev_package_files(dev_deb, build):
    assert deb_field(dev_deb, "Architecture") == "all"
    files = deb_files(dev_deb)
    for path in ("/usr/include/hornet/app.h", "/usr/share/pkgconfig/hornet.pc",
                 "/usr/share/man/man3/hornet-app.3.gz",
                 "/usr/share/doc/hornet-dev/examples/hello.c",
                 "/usr/share/doc/hornet-dev/examples/Makefile"):
        assert path in files, "%s not in %s" % (path, dev_deb.name)
    assert deb_file_text(dev_deb, "/usr/include/hornet/app.h") == \
        (build.srcdir / "include" / "hornet" / "app.h").read_text()
    pc = deb_file_text(dev_deb, "/usr/share/pkgconfig/hornet.pc")
    assert re.search(r"^Version: %s$" % re.escape(build.version), pc, re.M), pc


# --------------------------------------------------------------------------------------------
# installed


def test_system_user_without_login(root):
    r = root.run("getent", "passwd", "hornet")
    assert r.returncode == 0, "no user hornet after install: %s" % r.stderr
    _, _, uid, gid, _, home, shell = r.stdout.strip().split(":")
    assert 100 <= int(uid) < 1000, "hornet (uid %s) is not a system user" % uid
    assert shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), shell
    assert home in ("/nonexistent", "/var/lib/hornet"), home
    g = root.run("getent", "group", "hornet")
    assert g.returncode == 0 and g.stdout.split(":")[2] == gid, g.stdout


def test_log_directory_is_roots(root):
    # the master opens the logs as root; a directory the workers' user could write would let
    # a compromised worker plant a symlink for root to open (nginx's CVE-2016-1247)
    r = root.run("stat", "-c", "%U:%G %a", "/var/log/hornet")
    assert r.stdout.strip() == "root:adm 2750", r.stdout + r.stderr


def test_units_installed_but_not_enabled(root, hornet_deb):
    r = root.sh("test ! -d /etc/systemd/system ||"
                " find /etc/systemd/system -name hornet.service -o -name hornet.socket")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "the package enabled a unit:\n" + r.stdout
    for unit in ("hornet.service", "hornet.socket"):
        state = root.run("systemctl", "is-enabled", unit).stdout.strip()
        assert state == "disabled", "%s is %r" % (unit, state)


def test_units_pass_systemd_analyze_verify(root, hornet_deb):
    # verify works in a chroot: it reads the unit files and checks that each Exec*
    # program exists there and is executable (a wrong ExecStart path fails it)
    units = unit_dir(deb_files(hornet_deb))
    r = root.run("systemd-analyze", "verify", units + "/hornet.service", units + "/hornet.socket")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert not re.search(r"hornet\.(service|socket)", out), out


def test_packaged_config_checks(root):
    r = root.run("/usr/bin/hornet", "-t", "-c", "/etc/hornet/hornet.yaml")
    assert r.returncode == 0, r.stdout + r.stderr


def test_man_pages_are_found(root):
    require_tool("man")
    for args, page in ((["hornet"], "/usr/share/man/man8/hornet.8.gz"),
                       (["5", "hornet.yaml"], "/usr/share/man/man5/hornet.yaml.5.gz"),
                       (["3", "hornet-app"], "/usr/share/man/man3/hornet-app.3.gz")):
        r = root.run("man", "-w", *args)
        assert r.returncode == 0 and r.stdout.strip() == page, (args, r.stdout, r.stderr)


def test_pkg_config_finds_the_installed_header(root, build):
    require_tool("pkg-config")
    r = root.run("pkg-config", "--modversion", "--variable=includedir", "hornet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [build.version, "/usr/include"], r.stdout


def test_example_builds_against_the_installed_header(root):
    for tool in ("make", "cc"):
        require_tool(tool)
    # the examples' Makefile falls back to pkg-config when ../include is not there;
    # hornet -t loads the application it is given
    r = root.sh("cp -r /usr/share/doc/hornet-dev/examples /tmp/ex"
                " && make -s -C /tmp/ex libhello.so"
                " && /usr/bin/hornet -t -c /etc/hornet/hornet.yaml /tmp/ex/libhello.so:app",
                timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def proc_ids(pid):
    """({uids}, {gids}) of a process: its real, effective, saved and filesystem ids."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                ids[key] = {int(v) for v in value.split()}
    return ids["Uid"], ids["Gid"]


@contextlib.contextmanager
def packaged_hornet(root, *args):
    """hornet as the unit's ExecStart runs it in root, with the packaged config (-b only moves
    it to a free port) and args added; /run/hornet is made as RuntimeDirectory= makes it.
    Yields a Running; a hornet still running on the way out is killed with its group."""
    port = free_port()
    out = open(root.dir / "hornet.out", "w+")
    proc = subprocess.Popen(
        root.argv("/bin/sh", "-c", "mkdir -m 0755 /run/hornet && exec \"$@\"", "sh",
                  "/usr/bin/hornet", "-c", "/etc/hornet/hornet.yaml",
                  "-b", "127.0.0.1:%d" % port, *args),
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=base_env(),
        start_new_session=True)
    try:
        yield Running(proc, port, out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        out.close()


class Running:
    """A hornet started by packaged_hornet; every exec in the chain keeps the pid, so
    proc.pid is hornet's master."""

    def __init__(self, proc, port, out):
        self.proc, self.port, self.out = proc, port, out

    def log(self):
        self.out.seek(0)
        return tail(self.out.read())

    def first_answer(self, path="/", timeout=20):
        def answers():
            if self.proc.poll() is not None:
                pytest.fail("hornet exited with %s before serving:\n%s" % (
                    self.proc.returncode, self.log()), pytrace=False)
            try:
                return http_request(self.port, "GET", path, timeout=5)
            except (OSError, EOFError):
                return None
        return wait_until(answers, timeout=timeout, what="hornet to answer on port %d"
                          % self.port)

    def stop(self, workers):
        """SIGTERM to the master: it exits 0 within 30 s and its workers with it."""
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("hornet did not stop within 30s of SIGTERM:\n" + self.log(),
                        pytrace=False)
        assert rc == 0, "hornet exited with %d:\n%s" % (rc, self.log())
        assert not any(pid_alive(w) for w in workers), "workers outlived the master"


def hornet_ids(root):
    user = root.run("getent", "passwd", "hornet").stdout.split(":")
    return int(user[2]), int(user[3])


def test_service_serves_as_packaged(root):
    uid, gid = hornet_ids(root)
    with packaged_hornet(root) as h:
        resp = h.first_answer()
        assert resp.status == 200 and resp.body == b"Hello, world!", resp

        pid_file = "/proc/%d/root/run/hornet/hornet.pid" % h.proc.pid
        with open(pid_file) as f:
            assert f.read().strip() == str(h.proc.pid)

        assert proc_ids(h.proc.pid) == ({0}, {0}), "the master keeps root to bind and reload"
        workers = wait_until(lambda: children(h.proc.pid), what="workers")
        for w in workers:
            assert proc_ids(w) == ({uid}, {gid}), "worker %d does not run as hornet:\n%s" % (
                w, h.log())
        h.stop(workers)


def test_python_app_without_hornet_python_fails_clearly(root):
    """hornet alone refuses a Python application at start-up, naming the package to install
    and the path it looked in, instead of starting workers that cannot serve."""
    r = root.run("dpkg-query", "-W", "-f", "${db:Status-Status}", "hornet-python")
    assert r.stdout.strip() in ("", "not-installed"), "hornet-python is in this root: %r" % (
        r.stdout)
    assert root.run("test", "-e", bridge_path()).returncode != 0, bridge_path()
    r = root.run("/bin/sh", "-c", "mkdir -m 0755 /run/hornet && exec \"$@\"", "sh",
                 "/usr/bin/hornet", "-c", "/etc/hornet/hornet.yaml",
                 "-b", "127.0.0.1:%d" % free_port(), "--app-dir", PY_APP_DIR, PY_APP_SPEC,
                 timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode != 0, "hornet started without its Python bridge:\n" + out
    assert "install the hornet-python package" in out, out
    assert bridge_path() in out, "the message does not name %s:\n%s" % (bridge_path(), out)


def test_python_app_serves_with_hornet_python(python_root, python_deb):
    """hornet-python installed: the packaged service, its workers as hornet, runs a Python
    ASGI application from --app-dir and answers with its body, from the Python it links."""
    m = re.search(r"\blibpython(3\.\d+)\b", deb_field(python_deb, "Depends"))
    assert m, deb_field(python_deb, "Depends")
    uid, gid = hornet_ids(python_root)
    with packaged_hornet(python_root, "--app-dir", PY_APP_DIR, PY_APP_SPEC) as h:
        resp = h.first_answer("/from-the-test", timeout=30)
        expected = b"Python %s says hello to /from-the-test" % m.group(1).encode()
        assert resp.status == 200 and resp.body == expected, (resp, h.log())
        workers = wait_until(lambda: children(h.proc.pid), what="workers")
        for w in workers:
            assert proc_ids(w) == ({uid}, {gid}), "worker %d does not run as hornet:\n%s" % (
                w, h.log())
        h.stop(workers)


def test_purge_keeps_the_user_and_drops_the_logs(root):
    # last in the file: it removes what the tests above look at
    r = root.run("dpkg", "--purge", "hornet-dev", "hornet", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    gone = root.sh("test ! -e /var/log/hornet && test ! -e /usr/bin/hornet"
                   " && test ! -e /etc/hornet/hornet.yaml && getent passwd hornet")
    assert gone.returncode == 0, gone.stdout + gone.stderr
