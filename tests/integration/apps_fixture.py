"""The test applications of tests/apps/*.c, compiled once per pytest session.

    from apps_fixture import apps, requires_gcc  # noqa: F401  (registers the fixture)
    pytestmark = requires_gcc

    def test_x(hornet_server, apps):
        srv = hornet_server(app=apps["probe"])          # /tmp/.../libprobe.so
        srv = hornet_server(app=apps.spec("nosym", "other"))  # PATH.so:other

Each tests/apps/NAME.c includes only hornet/app.h and is built with
    gcc -shared -fPIC -std=gnu11 -Wall -Wextra -Werror -I include -o DIR/libNAME.so NAME.c
into a session temporary directory (the source tree may be read-only). A module using the
fixture is skipped as a whole when gcc is missing; a compile error fails every test that uses
the fixture, with the compiler's output.
"""

import glob
import os
import subprocess

import pytest

from hornet_fixture import require_tool, requires_tool

_HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(_HERE, "..", ".."))
APPS_DIR = os.path.join(SRCDIR, "tests", "apps")
INCLUDE_DIR = os.path.join(SRCDIR, "include")
GCC = os.environ.get("HN_TEST_CC", "gcc")
CFLAGS = ["-shared", "-fPIC", "-std=gnu11", "-Wall", "-Wextra", "-Werror"]

requires_gcc = requires_tool(GCC)


class BuiltApps:
    """name -> absolute path of libNAME.so."""

    def __init__(self, outdir, paths):
        self.dir = outdir
        self.paths = paths

    def __getitem__(self, name):
        return self.paths[name]

    def spec(self, name, symbol=None):
        """An application_path value: PATH.so or PATH.so:SYMBOL."""
        return self.paths[name] + (":" + symbol if symbol else "")


def build_apps(outdir):
    """Compile every tests/apps/*.c into outdir; returns BuiltApps or raises AssertionError."""
    sources = sorted(glob.glob(os.path.join(APPS_DIR, "*.c")))
    assert sources, "no test applications in %s" % APPS_DIR
    paths = {}
    errors = []
    for src in sources:
        name = os.path.splitext(os.path.basename(src))[0]
        out = os.path.join(outdir, "lib%s.so" % name)
        cmd = [GCC] + CFLAGS + ["-I", INCLUDE_DIR, "-o", out, src]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            errors.append("$ %s\n%s" % (" ".join(cmd), p.stdout.decode(errors="replace")))
        else:
            paths[name] = out
    assert not errors, "building the test applications failed:\n" + "\n".join(errors)
    return BuiltApps(outdir, paths)


@pytest.fixture(scope="session")
def apps(tmp_path_factory):
    require_tool(GCC)
    return build_apps(str(tmp_path_factory.mktemp("apps")))


def gated_lifespan(hornet_server, apps, gate, config=None, env=None):
    """A server of the lifespan app whose workers finish their startup only once the test
    creates the file gate (LS_STARTUP=gate; each creation lets one startup through), so a
    reload stays in progress until the test opens the gate. The first generation's gate is
    opened here."""
    gate.touch()
    cfg = {"application_path": apps["lifespan"]}
    cfg.update(config or {})
    e = {"LS_STARTUP": "gate", "LS_GATE": str(gate)}
    e.update(env or {})
    return hornet_server(app=None, config=cfg, env=e)
