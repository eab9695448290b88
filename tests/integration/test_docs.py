"""The documentation keeps up with the binary.

Every configuration key and flag `hornet --help` lists must be documented in
man/hornet.yaml.5 (keys), man/hornet.8 (flags) and etc/hornet.yaml (keys);
etc/hornet.yaml must pass `hornet -t`; no key in etc/hornet.yaml may be
unknown; `--dump-config` output must itself be a valid configuration.

The source tree is found from this file's path (it may be read-only, as in
`make distcheck`): nothing here writes to it.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from hornet_fixture import require_tool

SRC = Path(__file__).resolve().parents[2]
MAN5 = SRC / "man" / "hornet.yaml.5"
MAN8 = SRC / "man" / "hornet.8"
MAN3 = SRC / "man" / "hornet-app.3"
EXAMPLE = SRC / "etc" / "hornet.yaml"

# A config key in the help: "  keep_alive_timeout: 5s    (--keep-alive)"
# "reload.paths" is key paths in the mapping under reload.
KEY_RE = re.compile(r"^  ([a-z][a-z0-9_.]*): ", re.M)
# A long flag in the help's option list: "  -b, --bind ADDR" / "      --backlog N"
FLAG_RE = re.compile(r"^  (?:-[A-Za-z], |    )--([a-z][a-z0-9-]*)", re.M)
# A key in the example, set or commented out: "bind:", "# workers: auto"
EXAMPLE_KEY_RE = re.compile(r"^(?:# ?)?([a-z][a-z0-9_]*):(?:\s|$)", re.M)


def run(hornet_bin, *args, cwd=None):
    return subprocess.run(
        [hornet_bin, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=20,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def help_text(hornet_bin):
    r = run(hornet_bin, "--help")
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def keys(help_text):
    section = help_text.split("Configuration keys", 1)
    assert len(section) == 2, "--help lists no configuration keys"
    found = KEY_RE.findall(section[1])
    assert len(found) >= 10, "too few keys parsed from --help: %r" % found
    return found


@pytest.fixture(scope="module")
def flags(help_text):
    options = help_text.split("Configuration keys", 1)[0]
    found = FLAG_RE.findall(options)
    assert "config" in found and "help" in found, found
    return found


def man_text(path):
    # groff escapes '-' as '\-'; compare in plain text.
    return path.read_text(encoding="utf-8").replace("\\-", "-")


def test_every_key_in_man5(keys):
    man = man_text(MAN5)
    missing = [k for k in keys if not re.search(r"^\.B %s\s*$" % re.escape(k), man, re.M)]
    assert not missing, "keys without an entry (.TP / .B KEY) in man/hornet.yaml.5: %s" % missing


def in_example(key, text):
    """A key set or commented out in the example; "a.b" as b under a."""
    if "." not in key:
        return key in set(EXAMPLE_KEY_RE.findall(text))
    section, sub = key.split(".", 1)
    return re.search(r"^(?:# ?)?%s:\s*\n(?:#?[ ]+\S[^\n]*\n)*?#?[ ]+%s:" %
                     (re.escape(section), re.escape(sub)), text, re.M) is not None


def test_every_key_in_example(keys):
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [k for k in keys if not in_example(k, text)]
    assert not missing, "keys missing from etc/hornet.yaml: %s" % missing


def test_example_has_no_unknown_keys(keys):
    present = EXAMPLE_KEY_RE.findall(EXAMPLE.read_text(encoding="utf-8"))
    sections = {k.split(".", 1)[0] for k in keys if "." in k}
    unknown = sorted(set(present) - set(keys) - sections)
    assert not unknown, "etc/hornet.yaml mentions keys hornet does not know: %s" % unknown


def test_every_flag_in_man8(flags):
    man = man_text(MAN8)
    missing = [f for f in flags if not re.search(r"--%s\b" % re.escape(f), man)]
    assert not missing, "flags missing from man/hornet.8: %s" % missing


def test_every_flag_in_man5(flags, help_text):
    # Flags that set a key ("sets KEY") are named next to the key in hornet.yaml(5).
    man = man_text(MAN5)
    setting = re.findall(r"--([a-z][a-z0-9-]*) [^\n]*sets ", help_text)
    missing = [f for f in setting if not re.search(r"--%s\b" % re.escape(f), man)]
    assert not missing, "key-setting flags not named in man/hornet.yaml.5: %s" % missing


def test_example_is_valid(hornet_bin, tmp_path):
    r = run(hornet_bin, "-t", "-c", str(EXAMPLE), cwd=tmp_path)
    assert r.returncode == 0, "hornet -t -c etc/hornet.yaml failed:\n%s%s" % (r.stdout, r.stderr)


def test_dump_config_is_valid_config(hornet_bin, tmp_path):
    r = run(hornet_bin, "--dump-config", "-c", str(EXAMPLE), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(r.stdout, encoding="utf-8")
    r2 = run(hornet_bin, "-t", "-c", str(dumped), cwd=tmp_path)
    assert r2.returncode == 0, "--dump-config output does not pass -t:\n%s\n%s" % (
        r.stdout,
        r2.stderr,
    )
    # and it lists every key
    dumped_keys = set(re.findall(r"^([a-z][a-z0-9_.]*):", r.stdout, re.M))
    r3 = run(hornet_bin, "--help")
    help_keys = KEY_RE.findall(r3.stdout.split("Configuration keys", 1)[1])
    assert set(help_keys) <= dumped_keys, sorted(set(help_keys) - dumped_keys)


@pytest.mark.parametrize("page", [MAN8, MAN5, MAN3], ids=lambda p: p.name)
def test_man_page_renders_cleanly(page):
    groff = require_tool("groff")
    r = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", "-z", str(page)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=20,
    )
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


@pytest.mark.parametrize("page", [MAN8, MAN5, MAN3], ids=lambda p: p.name)
def test_man_l_shows_the_page(page):
    """The README's `man -l man/PAGE` works where its first command ran (it installs man-db):
    the page's NAME line comes out as text."""
    man = require_tool("man")
    r = subprocess.run([man, "-l", str(page)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=20,
                       env=dict(os.environ, MANPAGER="cat", MANWIDTH="200", LANG="C.UTF-8"))
    assert r.returncode == 0, r.stderr
    source = page.read_text()
    name_line = source.split(".SH NAME\n", 1)[1].split("\n", 1)[0].replace("\\-", "-")
    assert name_line in r.stdout, (name_line, r.stdout[:400])


def test_restart_keys_are_marked(hornet_bin):
    """hornet(8) says hornet.yaml(5) marks the keys a reload cannot change: exactly the keys
    whose --help entry says so (the option table's restart flag) carry the mark."""
    help_text = run(hornet_bin, "--help").stdout.split("Configuration keys", 1)[1]
    entries = re.findall(r"^  ([a-z][a-z0-9_.]*): (.*?)(?=^  [a-z]|\Z)", help_text, re.M | re.S)
    restart = {key for key, text in entries if "a reload cannot change it" in text}
    assert restart >= {"user", "group", "umask", "pid_path"}, restart
    man = MAN5.read_text()
    marked = set()
    for block in man.split(".TP\n")[1:]:
        m = re.match(r"\.B ([a-z][a-z0-9_.]*)\n", block)
        if m and "Restart to change:" in block.split(".SS", 1)[0]:
            marked.add(m.group(1))
    assert marked == restart, (sorted(marked ^ restart))
