"""Workspaces and vendoring: what a go.work or a vendor directory does to fetching (issue 23, part 4).

A go.work (go1.18+) makes every module it `use`s a main module: a requirement on one of them is never fetched,
so a workspace checked in by mistake builds other code than the go.mod says, and the proxy never hears of it.
In workspace mode `-mod` may only be `readonly` (go1.21) or also `vendor` (go1.22+, with `go work vendor`,
golang/go#54130): the harness's default GOFLAGS=-mod=mod is refused there, so these clients have no GOFLAGS.
A vendor directory is the other way to build without the proxy: go checks vendor/modules.txt against go.mod,
and a version the proxy served since (a `go get` of it) makes every build stop until `go mod vendor` runs again.
`go mod verify` in a workspace once said "missing ziphash" for the workspace's own modules (golang/go#57735).

Each case is one world (the proxy, a go client) and several commands; every failure is recorded with the
command that cured it (fixtures/record/errors.py).
"""
from __future__ import annotations

from fixtures.record import errors
from fixtures.world import modules

PROXY = "proxy.corp.test"
LIB, UTIL = "example.com/lib", "example.com/util"
WATCHDOG_S = 15          # every command here ends within a few seconds; the build of a small main package too

MAIN = """package main

import (
	"fmt"

	"example.com/lib"
	"example.com/util"
)

func main() { fmt.Println(lib.Version(), util.Twice("!")) }
"""


def gosum(*mods: tuple[str, str]) -> str:
    return "".join(line + "\n" for path, version in mods for line in modules.module(path, version).gosum_lines())


def app(lib_version: str = "v1.0.0", base: str = "") -> dict[str, str]:
    """example.com/app requiring lib and util from the proxy, with its go.sum."""
    return {f"{base}go.mod": f"module example.com/app\n\ngo 1.21\n\nrequire (\n\t{LIB} {lib_version}\n\t{UTIL} v1.0.0\n)\n",
            f"{base}go.sum": gosum((LIB, lib_version), (UTIL, "v1.0.0")),
            f"{base}main.go": MAIN}


# A workspace: the app, and a local copy of example.com/lib that says so.
WORKSPACE = {"go.work": "go 1.21\n\nuse (\n\t./app\n\t./lib\n)\n",
             **app(base="app/"),
             "lib/go.mod": f"module {LIB}\n\ngo 1.21\n",
             "lib/lib.go": 'package lib\n\nfunc Version() string { return "workspace" }\n'}


def module_files(obs, path: str) -> list[str]:
    """What the command asked the proxy about path: the last part of each request (list, .info, .mod, .zip),
    sorted (go fetches several modules at once)."""
    return sorted({r.path.rsplit("/", 1)[-1] for r in obs.requests_to(PROXY, f"^/{path}/@v/")})


def test_workspace_module_is_never_fetched(topo, case):
    """A go.work uses a local example.com/lib: `go run` in the workspace builds it and asks the proxy only for
    util; with GOWORK=off (a CI that ignores the go.work) the proxy serves lib v1.0.0. Then `go mod verify` in the
    workspace, and the harness's GOFLAGS=-mod=mod there."""
    topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}", GOFLAGS=None)
    go.write(WORKSPACE)
    ws = go.run("run", "./app", timeout=WATCHDOG_S)
    off = go.run("run", ".", timeout=WATCHDOG_S, env={"GOWORK": "off"}, cwd="/work/app")
    verify = case.note(go.run("mod", "verify", timeout=WATCHDOG_S))
    modmod = go.run("list", "-m", "all", timeout=WATCHDOG_S, env={"GOFLAGS": "-mod=mod"})
    work_sum = go.read("/work/go.work.sum")
    case.fact(workspace_prints=ws.stdout.strip(), workspace_asked_for_lib=module_files(ws, LIB),
              workspace_asked_for_util=module_files(ws, UTIL), gowork_off_prints=off.stdout.strip(),
              gowork_off_asked_for_lib=module_files(off, LIB), go_work_sum_written=work_sum is not None,
              verify_ok=verify.ok, verify_says=(verify.stdout + verify.stderr).strip(),
              mod_mod_in_workspace=modmod.error_line or "ok")
    errors.record(case, "GOFLAGS=-mod=mod in workspace mode", modmod, None)

    case.expect("go run in the workspace succeeds", ws.ok, True, detail=ws.errors)
    case.expect("the workspace builds its own lib", ws.stdout.strip(), "workspace !!")
    # the requirement's go.mod still comes from the proxy (the module graph is loaded before the workspace
    # replaces lib): a private module used from a go.work still reaches the proxy by its path
    case.expect("the proxy is asked for the workspace lib's go.mod only", module_files(ws, LIB), ["v1.0.0.mod"])
    assert "v1.0.0.zip" in module_files(ws, UTIL), module_files(ws, UTIL)
    case.expect("GOWORK=off builds lib v1.0.0 from the proxy", (off.stdout.strip(), "v1.0.0.zip" in module_files(off, LIB)),
                ("v1.0.0 !!", True), detail=off.errors)
    case.expect("go mod verify in the workspace", (verify.ok, verify.stdout.strip()), (True, "all modules verified"),
                detail=verify.errors)
    assert "missing ziphash" not in verify.stderr, verify.stderr
    case.expect("GOFLAGS=-mod=mod in a workspace", modmod.error_line,
                'go: -mod may only be set to readonly when in workspace mode, but it is set to "mod"'
                if go.go_minor() < 22 else
                'go: -mod may only be set to readonly or vendor when in workspace mode, but it is set to "mod"',
                since="1.22")


def test_vendoring_a_workspace(topo, case):
    """-mod=vendor in workspace mode (golang/go#54130), before and after `go work vendor` (go1.22+; an unknown
    command to go1.21), and the vendored workspace built with the proxy gone (GOPROXY=off)."""
    topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}", GOFLAGS=None)
    go.write(WORKSPACE)
    before = go.run("build", "-mod=vendor", "-o", "/dev/null", "./app", timeout=WATCHDOG_S)
    vendor = case.note(go.run("work", "vendor", timeout=WATCHDOG_S))
    vendored = go.ls("/work/vendor/modules.txt", f"/work/vendor/{UTIL}", f"/work/vendor/{LIB}")
    after = go.run("build", "-mod=vendor", "-o", "/dev/null", "./app", timeout=WATCHDOG_S, env={"GOPROXY": "off"})
    plain = go.run("run", "./app", timeout=WATCHDOG_S, env={"GOPROXY": "off"})
    case.fact(mod_vendor_before=before.error_line or "ok", mod_vendor_before_asked_proxy=bool(before.requests_to(PROXY)),
              go_work_vendor=vendor.error_line or "ok",
              vendored=vendored, mod_vendor_after=after.error_line or "ok",
              default_build_after=plain.error_line or plain.stdout.strip())
    errors.record(case, "-mod=vendor in workspace mode without vendor/", before, after if vendor.ok else None)
    if not vendor.ok:
        errors.record(case, "go work vendor", vendor, None)

    since_122 = go.go_minor() >= 22
    case.expect("-mod=vendor before go work vendor", before.error_line,
                "go: inconsistent vendoring in /work: example.com/lib@v1.0.0: is explicitly required in go.mod, "
                "but not marked as explicit in vendor/modules.txt" if since_122 else
                'go: -mod may only be set to readonly when in workspace mode, but it is set to "vendor"', since="1.22")
    case.expect("-mod=vendor fails before go work vendor", before.ok, False, detail=before.errors)
    case.expect("go work vendor is a command", vendor.ok, since_122, since="1.22", detail=vendor.errors)
    if not since_122:
        assert vendor.error_line == "go work: unknown command", vendor.errors      # go1.21 names `go work`
        return
    assert "To sync the vendor directory, run:\n\t\tgo work vendor" in before.stderr, before.stderr
    case.expect("go work vendor vendors util, not the workspace's lib", vendored,
                ["/work/vendor/modules.txt", f"/work/vendor/{UTIL}"])
    case.expect("the vendored workspace builds with GOPROXY=off", after.ok, True, detail=after.errors)
    case.expect("go run uses vendor/ by itself", (plain.ok, plain.stdout.strip()), (True, "workspace !!"),
                detail=plain.errors)


def test_inconsistent_vendoring_after_a_new_version(topo, case):
    """A vendored module; the proxy publishes lib v1.1.0 and a `go get` takes it: go.mod and vendor/modules.txt
    disagree, and every build stops ("inconsistent vendoring") until `go mod vendor` runs again."""
    served = {n: d for n, d in topo.session.module_files.items() if not n.startswith("example.com_lib_v1.1")}
    up = topo.upstream(PROXY, modules=served)
    go = topo.go(GOPROXY=f"http://{PROXY}", GOFLAGS=None)
    go.write(app())
    vendor = go.run("mod", "vendor", timeout=WATCHDOG_S)
    up.publish("example.com_lib_v1.1.0.txt", topo.session.module_files["example.com_lib_v1.1.0.txt"])
    get = go.run("get", f"{LIB}@latest", timeout=WATCHDOG_S)
    build = case.note(go.run("build", "-o", "/dev/null", ".", timeout=WATCHDOG_S))
    readonly = go.run("build", "-mod=readonly", "-o", "/dev/null", ".", timeout=WATCHDOG_S)
    go.run("mod", "vendor", timeout=WATCHDOG_S)
    again = go.run("run", ".", timeout=WATCHDOG_S)
    modules_txt = (go.read("/work/vendor/modules.txt") or b"").decode()
    case.fact(get=get.error_line or get.stderr.strip(), build=build.error_line or "ok",
              build_says=[l for l in build.stderr.splitlines() if l.strip()],
              mod_readonly=readonly.error_line or "ok", after_go_mod_vendor=again.error_line or again.stdout.strip())
    errors.record(case, "a go get after go mod vendor", build, again)

    case.expect("go mod vendor succeeds", vendor.ok, True, detail=vendor.errors)
    case.expect("go get takes the version the proxy published", get.ok, True, detail=get.errors)
    case.expect("the build stops", build.ok, False)
    assert "inconsistent vendoring" in build.stderr, build.stderr
    assert f"{LIB}@v1.1.0: is explicitly required in go.mod, but not marked as explicit in vendor/modules.txt" \
        in build.stderr, build.stderr
    case.expect("-mod=readonly ignores vendor/", readonly.ok, True, detail=readonly.errors)
    case.expect("go mod vendor again cures it", (again.ok, again.stdout.strip()), (True, "v1.1.0 !!"),
                detail=again.errors)
    assert f"# {LIB} v1.1.0" in modules_txt, modules_txt
