"""The module cache: what go does with a damaged cache, what the article's cache recipes really do.

The cache of the go client is $GOPATH/pkg/mod = /root/go/pkg/mod: downloads (zip, .mod, .info,
.ziphash, .lock) under cache/download/<escaped path>/@v/, extracted trees at <escaped path>@<version>.
The layout, an edited tree, an interrupted extraction and the article's bypass command are
scripts: scenarios/script/modcache_*.txt.
"""
import re

import pytest

from fixtures.world import modules
from fixtures.record.claims import CONFIRMED, PARTLY, REFUTED

PROXY = "proxy.corp.test"
LIB = "example.com/lib"
MODCACHE = "/root/go/pkg/mod"
DL = f"{MODCACHE}/cache/download/example.com/lib/@v"
ZIP, EXTRACTED = f"{DL}/v1.0.0.zip", f"{MODCACHE}/example.com/lib@v1.0.0"
APP = {
    "go.mod": f"module example.com/app\n\ngo 1.21\n\nrequire {LIB} v1.0.0\n",
    "main.go": 'package main\n\nimport "example.com/lib"\n\nfunc main() { println(lib.Version()) }\n',
}
BUILD = ("build", "-o", "/tmp/app", ".")


def warm_client(topo, **env):
    """A proxy and a go client in example.com/app whose cache already holds example.com/lib v1.0.0."""
    proxy = topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}", **env)
    go.write(APP)
    assert go.run("mod", "download").ok
    return proxy, go


def built_version(go) -> str:
    """What the binary built from the cache says it is (lib.Version() prints to stderr)."""
    return go.sh("/tmp/app", record=False).stderr.strip()


CORRUPTIONS = {
    "truncated": lambda z: z[: len(z) // 2],
    "empty": lambda z: b"",
    "bad CRC": modules.with_bad_crc,      # content intact, CRC-32 in the central directory wrong
}


@pytest.mark.claims("C4.2")
@pytest.mark.parametrize("extracted", ["kept", "removed"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_zip_in_cache(topo, case, corruption, extracted):
    """A damaged cache/download zip, with the extracted tree beside it kept or removed."""
    _, go = warm_client(topo)
    go.write({ZIP: CORRUPTIONS[corruption](go.read(ZIP))})
    if extracted == "removed":
        go.sh(f"chmod -R u+w {EXTRACTED} && rm -rf {EXTRACTED}", record=False)
    build = case.note(go.run(*BUILD))
    verify = go.run("mod", "verify")
    redownloaded = bool(build.requests_to(PROXY, r"\.zip$") + verify.requests_to(PROXY, r"\.zip$"))
    case.fact(build_ok=build.ok, build_error=build.error_line, verify_ok=verify.ok, verify_error=verify.error_line,
              redownloaded=redownloaded)
    case.claim("C4.2", CONFIRMED if redownloaded else REFUTED,
               f"{corruption} zip, extracted tree {extracted}: no new download; build "
               + ("ok (tree used)" if build.ok else f"failed: {build.error_line}")
               + f"; go mod verify: {verify.error_line}")

    case.expect("go downloads the zip again by itself", redownloaded, False)
    case.expect("go mod verify succeeds", verify.ok, False)
    assert LIB in verify.errors
    # The build reads the extracted tree only: the damaged zip is never opened.
    case.expect("the build succeeds", build.ok, extracted == "kept", detail=build.errors)
    if extracted == "kept":
        assert built_version(go) == "v1.0.0"
    else:
        assert f"unzip {ZIP}" in build.errors, build.errors
        assert go.run("clean", "-modcache").ok and go.run(*BUILD).ok, "clean -modcache is the way out"


@pytest.mark.parametrize("lock", ["left behind", "held by another process"])
def test_lock_file(topo, case, lock):
    """cache/download/.../v1.0.0.lock: go serializes on flock(2) of this file, not on its existence."""
    topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}")
    go.write(APP)
    go.sh(f"mkdir -p {DL} && touch {DL}/v1.0.0.lock", record=False)
    held = lock == "held by another process"
    if held:
        # The holder says when it has the lock; go starts only then (under load an exec can start late). It
        # lets the lock go when told, once go's watchdog has fired.
        holder = go.launch(["flock", f"{DL}/v1.0.0.lock", "sh", "-c",
                           "touch /tmp/held; while [ ! -e /tmp/release ]; do sleep 0.05; done"], 15, None,
                          "/", record=False)
        go.sh("while [ ! -e /tmp/held ]; do sleep 0.01; done", timeout=10, record=False)
    obs = case.note(go.run("mod", "download", timeout=5 if held else 30))
    case.fact(timed_out=obs.timed_out, duration_s=round(obs.duration_s, 2))

    if not held:
        case.expect("go mod download succeeds", obs.ok, detail=obs.errors)
        return
    case.expect("go waits for the lock holder", obs.timed_out)
    go.sh("touch /tmp/release", record=False)
    assert holder.result().ok, "the holder held the lock until it was told to let go"
    assert go.run("mod", "download").ok, "and go on once it is released"


def test_readonly_cache_as_a_user(topo, case):
    """The cache is written read-only: `rm -rf` as a normal user fails, `go clean -modcache` does not,
    and -modcacherw makes it writable."""
    topo.upstream(PROXY)
    env = dict(GOPROXY=f"http://{PROXY}", HOME="/home/gopher", GOPATH="/home/gopher/go")
    go = topo.go(user="gopher", **env)
    cache = "/home/gopher/go/pkg/mod"
    assert go.run("mod", "download", f"{LIB}@v1.0.0", cwd="/tmp").ok
    rm = case.note(go.sh(f"rm -rf {cache}", cwd="/tmp"))
    case.fact(rm_error=(rm.stderr.splitlines() or [""])[0])
    case.expect("rm -rf of the cache succeeds", rm.ok, False)
    assert "Permission denied" in rm.stderr
    assert go.run("clean", "-modcache", cwd="/tmp").ok and go.ls(cache) == []
    assert go.run("mod", "download", "-modcacherw", f"{LIB}@v1.0.0", cwd="/tmp").ok
    assert go.sh(f"rm -rf {cache}", cwd="/tmp").ok and go.ls(cache) == []


@pytest.mark.claims("C1.8")
def test_article_cleanup_recipe(topo, case):
    """`go clean -modcache && rm -rf $GOPATH/pkg/mod/cache/download/*/tmp-*` after a download killed
    half-way (the zip response held by the proxy, go killed by the watchdog). What does it leave, and
    does the rm part ever match anything?"""
    proxy = topo.upstream(PROXY)
    proxy.fault(r"\.zip$", "hold", name="zip")
    go = topo.go(GOPROXY=f"http://{PROXY}")
    go.write(APP)
    killed = go.run("mod", "download", timeout=3)
    leftovers = go.sh(f"find {MODCACHE} -type f | sort", record=False).stdout.split()
    tmp_dash = [p for p in leftovers if re.search(r"/tmp-[^/]*$", p)]
    article_glob = go.ls(f"{MODCACHE}/cache/download/*/tmp-*")
    recipe = case.note(go.sh("go clean -modcache && rm -rf $GOPATH/pkg/mod/cache/download/*/tmp-*"))
    case.fact(leftovers=leftovers, tmp_dash_files=tmp_dash, article_glob_matches=article_glob)
    case.claim("C1.8", REFUTED if not article_glob else PARTLY,
               f"leftovers of a killed download: {[p.rsplit('/', 1)[1] for p in leftovers]}; the article's "
               f"glob matched {article_glob or 'nothing'}; go clean -modcache removes the whole cache anyway")

    case.expect("go waits for the held zip", killed.timed_out)
    assert any(p.endswith(".tmp") for p in leftovers), "an interrupted zip download leaves <zip><random>.tmp"
    assert recipe.ok and go.ls(MODCACHE) == [], "go clean -modcache alone removed the whole cache"
    proxy.release("zip")
    assert go.run("mod", "download").ok
