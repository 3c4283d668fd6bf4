"""Unit tests of the pure parts behind scenarios/test_environment.py: which second release a client
gets, the usage error for one that is not available, the toolchain module built from a GOROOT, and
the fake proxy / checksum DB serving a prebuilt module version. No Docker, no Go."""
import http.client
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from fixtures.runtime import toolchain_module, toolchains
from fixtures.runtime.toolchains import Toolchain, ToolchainError
from upstreamlib import gomod, sumdb

UPSTREAM = Path(__file__).resolve().parent.parent / "docker" / "upstream"
sys.path.insert(0, str(UPSTREAM))

import goproxy  # noqa: E402
import sumdbrole  # noqa: E402

VERSIONS = ["1.27.3", "1.26.6", "1.22.10", "1.21.13"]


def test_second_release_is_the_oldest_minor_unless_that_is_the_case():
    assert toolchains.second_release("1.27.3") == toolchains.SECOND_GO == "1.21.13"
    assert toolchains.second_release("1.21.13") == toolchains.DEFAULT_GO


def test_also_resolves_releases_and_names_what_is_available():
    assert toolchains.resolve_also(("1.21.13",), lambda: VERSIONS) == ["1.21.13"]
    assert toolchains.resolve_also("go1.26.6", lambda: VERSIONS) == ["1.26.6"]
    assert toolchains.resolve_also((), lambda: VERSIONS) == []
    with pytest.raises(ToolchainError) as err:
        toolchains.resolve_also(("1.19.1",), lambda: VERSIONS)
    assert "topo.go(also=('1.19.1',))" in str(err.value) and "Available: 1.27.3, 1.26.6" in str(err.value)
    with pytest.raises(ToolchainError, match="not a GOROOT path"):
        toolchains.resolve_also(("/opt/go",), lambda: VERSIONS)


@pytest.fixture
def fake_goroot(tmp_path):
    root = tmp_path / "goroot" / "go"
    files = {"VERSION": "go1.99.0\n", "__init__.py": "", "bin/go": "#!go", "src/cmd/go.mod": "module cmd\n",
             "src/fmt/print.go": "package fmt\n", "api/go1.txt": "api", "doc/godebug.md": "doc",
             "misc/x.go": "", "test/a.go": "", "pkg/tool/linux_amd64/compile": "bin"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return Toolchain(release="1.99.0", goroot=root, key="fake-wheel sha256:00")


def test_toolchain_module_is_distpack_shaped_and_its_hash_is_the_zips(fake_goroot, tmp_path, monkeypatch):
    monkeypatch.setenv("GOTRAPS_CACHE", str(tmp_path / "cache"))
    mod = toolchain_module.toolchain_module(fake_goroot)
    prefix = "golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/"
    assert mod.version == "v0.0.1-go1.99.0.linux-amd64"
    with zipfile.ZipFile(mod.file("zip")) as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]
    assert sorted(n for n, _ in entries) == [prefix + n for n in (
        "VERSION", "bin/go", "pkg/tool/linux_amd64/compile", "src/cmd/_go.mod", "src/fmt/print.go")]
    zip_line, mod_line = mod.gosum_lines
    assert zip_line == f"golang.org/toolchain {mod.version} {gomod.hash1(entries)}"
    assert mod.file("mod").read_bytes() == b"module golang.org/toolchain\n"
    assert mod_line.endswith(gomod.hash1([("go.mod", b"module golang.org/toolchain\n")]))
    assert json.loads(mod.file("info").read_text())["Version"] == mod.version
    built = mod.file("zip").stat().st_mtime_ns
    assert toolchain_module.toolchain_module(fake_goroot).file("zip").stat().st_mtime_ns == built   # cached


def write_prebuilt(state: Path, path: str, version: str, files: dict) -> None:
    d = state / "prebuilt" / gomod.escape_path(path) / "@v"
    d.mkdir(parents=True, exist_ok=True)
    for ext, data in files.items():
        (d / f"{gomod.escape_version(version)}.{ext}").write_bytes(data)


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_proxy_serves_and_lists_a_prebuilt_version(tmp_path):
    state = tmp_path / "state"
    (state / "modules").mkdir(parents=True)
    zip_bytes = io.BytesIO()
    with zipfile.ZipFile(zip_bytes, "w") as z:
        z.writestr("golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/VERSION", "go1.99.0\n")
    version = "v0.0.1-go1.99.0.linux-amd64"
    write_prebuilt(state, "golang.org/toolchain", version,
                   {"info": b'{"Version":"%s"}' % version.encode(), "mod": b"module golang.org/toolchain\n",
                    "zip": zip_bytes.getvalue()})
    srv = goproxy.GoProxy(state).start()
    try:
        base = "/golang.org/toolchain/@v/"
        assert get(srv.port, base + version + ".zip") == (200, zip_bytes.getvalue())
        assert get(srv.port, base + version + ".mod") == (200, b"module golang.org/toolchain\n")
        assert get(srv.port, base + "list") == (200, version.encode() + b"\n")
        assert get(srv.port, base + "v0.0.1-go1.98.0.linux-amd64.zip")[0] == 404
    finally:
        srv.stop()


def test_checksum_db_records_a_prebuilt_versions_lines(tmp_path):
    state = tmp_path / "db"
    (state / "modules").mkdir(parents=True)
    (state / "sumdb").mkdir()
    skey, _ = sumdb.generate_key("sum.corp.test", b"\x07" * 32)
    (state / "sumdb" / "signer").write_text(skey + "\n")
    lines = b"golang.org/toolchain v0.0.1-go1.99.0.linux-amd64 h1:x=\n"
    write_prebuilt(state, "golang.org/toolchain", "v0.0.1-go1.99.0.linux-amd64", {"gosum": lines})
    db = sumdbrole.SumDBRole(state).start()
    try:
        status, body = get(db.port, "/lookup/golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64")
        assert status == 200 and sumdb.parse_record(body)[1] == lines
        assert get(db.port, "/lookup/golang.org/toolchain@v0.0.1-go1.98.0.linux-amd64")[0] == 404
    finally:
        db.stop()
