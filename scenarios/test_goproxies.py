"""Real Go module proxies between go and its upstream: goproxy (goproxy.cn and goproxy.io run it) and Athens, built
from their released modules (fixtures/world/goproxies.py), or your own proxy image (--goproxy-image).

go -> the real proxy (goproxy.corp.test) -> the fake upstream (proxy.corp.test) and checksum DB (sum.corp.test). What go
asked the proxy and what it got is go's own -x trace (goproxies.received); what the proxy asked upstream is the fake
upstream's request log. Each case is one topology running several go commands; every case runs per proxy program
(`goproxy_program`: a program that cannot be built here skips with go's own message).

goproxy v0.21.0, read in its source (github.com/goproxy/goproxy, in the module cache of the build): it caches only
exact versions' .info/.mod/.zip (goproxy.go serveFetchDownload); @v/list, @latest and queries always go upstream and
fall back to what it cached only when the upstream fails (serveCache); it retries a 429/500/502/503 ten times with
backoff (http.go httpGet) and then answers 404 "bad upstream"; a timeout is a 404 "fetch timed out" (response.go).

goproxy fetching `direct` from the git host (git.corp.test) runs go itself, once per request it cannot answer from its
cache (fetcher.go execGo): `go list -json -m path@query` for a query (@latest, a branch, a commit hash), `go list -json
-m -versions path@latest` for @v/list, `go mod download -json path@version` for an exact version; every failure of
that go is a 404 whose body is go's error (responseError), and a query that fails is answered from the query's last
answer, if it has one (serveCache). Each go command it ran is a request of the proxy (goproxies.go_commands).
"""
from __future__ import annotations

import re
import time

import pytest

from fixtures.record import attacks, errors
from fixtures.runtime import toolchains
from fixtures.runtime.agent import spawn
from fixtures.runtime.goindex import version_key
from fixtures.runtime.toolchain_module import renamed_release, toolchain_module
from fixtures.world import modules, resolver
from fixtures.world.goproxies import PROGRAMS, UserImage, received, upstream_url as upstream_url_of
from fixtures.world.member import InfrastructureError
from scenarios.test_sumdb_attacks import ACCEPTED_ALWAYS, LASTING, REFUSAL, REFUSED_SINCE
from upstreamlib import gomod, sumdb_attacks

UPSTREAM = "proxy.corp.test"
FALLBACK = "fallback.corp.test"
PROXY = "goproxy.corp.test"
SUMDB = "sum.corp.test"
LIB, UTIL = "example.com/lib", "example.com/util"
PUBLISHED = f"{LIB}@v1.3.0"
V130 = ("-- .mod --\nmodule example.com/lib\n-- .info --\n{\"Version\":\"v1.3.0\",\"Time\":\"2024-09-01T00:00:00Z\"}\n"
        "-- go.mod --\nmodule example.com/lib\n-- lib.go --\npackage lib\n")
# goproxy retries the upstream's 500 with jittered backoff within its fetch timeout: whether its retries or the
# timeout end it first ("bad upstream" or "context deadline exceeded") is a race, so the fact names both
RETRY_OR_TIMEOUT = re.compile(r"^(failed to download module version )(?:bad upstream|context deadline exceeded)(?= )")
FETCH_TIMEOUT_S = 1          # goproxy's --fetch-timeout in the hanging-upstream case (its default: 10 minutes)


def proxy(topo, program, upstream, **settings):
    """The real proxy in front of `upstream`; a user's image takes no settings but its upstream."""
    if isinstance(program, UserImage):
        settings = {}
    return topo.module_proxy(program, PROXY, upstream, **settings)


def said(obs, p, path_end: str) -> str | None:
    """What go got from the proxy for the first request whose path ends so ("200 OK", "404 Not Found", an error)."""
    return next((s for path, s in received(obs, p) if path.endswith(path_end)), None)


def upstream_paths(up, since: float = 0.0) -> list[str]:
    return [r.path for r in up.requests() if (r.t or 0) >= since]


# goproxy_program first: a program this machine cannot have skips the case before its topology starts
def test_paths_and_versions(goproxy_program, topo, case):
    """`!`-escaped capitals, +incompatible, a pseudo-version and @v/list through the real proxy: what go gets, and the
    path the upstream receives for each."""
    up = topo.upstream(UPSTREAM)
    gp = proxy(topo, goproxy_program, up)
    go = topo.go(GOPROXY=gp.url)
    wanted = ["example.com/Upper@v1.0.0", "example.com/nomod@v2.0.0+incompatible",
              f"{LIB}@v1.2.0-0.20240701000000-abcdefabcdef", f"{LIB}@v1.0.0"]
    dl = case.note(go.run("mod", "download", "-x", "-json", *wanted, timeout=20))
    versions = go.run("list", "-x", "-m", "-versions", LIB, timeout=10)
    at_up = upstream_paths(up)
    case.fact(download_ok=dl.ok, download_error=dl.error_line, versions=versions.stdout.strip() or versions.error_line,
              upstream_got=sorted(set(at_up)),
              escaped_path_upstream=any(p.startswith("/example.com/!upper/@v/") for p in at_up),
              incompatible_upstream=any("v2.0.0+incompatible" in p for p in at_up),
              proxy_asked=sorted(f"{p}: {s}" for p, s in received(dl, gp) + received(versions, gp)))
    if not dl.ok:
        errors.record(case, "module files through a real proxy", dl, None)
    case.expect("every module version downloads through the proxy", dl.ok, True, detail=dl.errors)
    case.expect("the upstream gets the !-escaped path", any(p.startswith("/example.com/!upper/@v/") for p in at_up), True)
    case.expect("the proxy lists lib's tagged versions, not the pseudo-version", versions.stdout.split()[1:],
                ["v1.0.0", "v1.1.0"])


def test_published_version_and_404(goproxy_program, topo, case):
    """A version published upstream while the proxy has answered its @v/list and a 404 for it: whether go sees it
    at once, through `go list -m -versions`, @latest and the exact version, and whether the proxy asked upstream again."""
    up = topo.upstream(UPSTREAM)
    gp = proxy(topo, goproxy_program, up)
    go = topo.go(GOPROXY=gp.url)
    before = go.run("list", "-x", "-m", "-versions", LIB, timeout=10)
    missing = go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10)
    published = time.time()
    up.publish("example.com_lib_v1.3.0.txt", V130)
    after = {"GOMODCACHE": "/root/go/after", "GOFLAGS": "-mod=mod"}       # go's own cache out of the way
    versions = go.run("list", "-x", "-m", "-versions", LIB, timeout=10, env=after)
    exact = case.note(go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10, env=after))
    latest = go.run("list", "-x", "-m", "-json", f"{LIB}@latest", timeout=10, env=after)
    again = upstream_paths(up, published)
    case.fact(list_before=before.stdout.strip(), v130_before=said(missing, gp, "v1.3.0.info"),
              list_after=versions.stdout.strip() or versions.error_line,
              latest_after="v1.3.0" if '"v1.3.0"' in latest.stdout else latest.error_line or latest.stdout[:80],
              v130_after=said(exact, gp, "v1.3.0.info"),
              upstream_asked_again=sorted(set(again)))
    if not missing.ok:
        errors.record(case, "a version not yet published", missing, exact)
    case.expect("the version is a 404 before it is published", (said(missing, gp, "v1.3.0.info") or "")[:3], "404")
    case.expect("go lists the new version at once (no cached @v/list)", "v1.3.0" in versions.stdout, True)
    case.expect("@latest is the new version at once", '"v1.3.0"' in latest.stdout, True)
    case.expect("the exact version is found once published (no cached 404)", exact.ok, True, detail=exact.errors)


def test_upstream_broken_before_and_after(goproxy_program, topo, case):
    """The upstream answering 500, an HTML page, or hanging, for a module the proxy never had, and going down after
    the proxy has one: what go gets from the proxy (`,` for the 500 and the page, `|` for the hang: the proxy's status
    decides both, `,` going on after a 404 or 410 only), and what the proxy still serves. `go list -m` asks the .info
    alone: goproxy retries a 500 ten times with backoff (about 2 s) for each file go asks for."""
    up = topo.upstream(UPSTREAM)
    topo.upstream(FALLBACK)
    gp = proxy(topo, goproxy_program, up, fetch_timeout=f"{FETCH_TIMEOUT_S}s")
    case.requests_vary_at(UPSTREAM, "the proxy retries a failed fetch with jittered backoff until its own timeout")
    go = topo.go(GOPROXY=gp.url)
    # warm: the proxy gets lib v1.0.0 and lib's list while the upstream is well
    warm = go.run("mod", "download", "-x", f"{LIB}@v1.0.0", timeout=10)
    go.run("list", "-m", "-versions", LIB, timeout=10)
    up.fault(r"^/example\.com/util/", "status", code=500)
    up.fault(r"^/example\.com/nomod/", "html")
    up.fault(r"^/example\.com/!upper/", "hang")
    comma, pipe = f"{gp.url},http://{FALLBACK}", f"{gp.url}|http://{FALLBACK}"
    cold = {"500": go.run("list", "-x", "-m", "-json", f"{UTIL}@v1.0.0", timeout=15, env={"GOPROXY": comma}),
            "html": go.run("list", "-x", "-m", "-json", "example.com/nomod@v2.0.0+incompatible", timeout=15,
                           env={"GOPROXY": comma}),
            "hang": go.run("list", "-x", "-m", "-json", "example.com/Upper@v1.0.0", timeout=FETCH_TIMEOUT_S + 8,
                           env={"GOPROXY": pipe})}
    up.fault(r".", "reset")          # the upstream goes down: every request reset
    fresh = {"GOMODCACHE": "/root/go/fresh"}
    cached = case.note(go.run("mod", "download", "-x", f"{LIB}@v1.0.0", timeout=10, env=fresh))
    listed = go.run("list", "-x", "-m", "-versions", LIB, timeout=15, env=fresh)
    fell_back = lambda o: any(r.server == FALLBACK for r in o.requests)
    case.fact(**{f"cold_{k.replace(' ', '')}": {"proxy_answered": said(o, gp, ".info") or said(o, gp, ".mod"),
                                                "go_ok": o.ok, "fell_back": fell_back(o), "error": o.error_line}
                 for k, o in cold.items()},
              proxy_errors=[RETRY_OR_TIMEOUT.sub(r"\1<bad upstream | context deadline exceeded>", e)
                            for e in gp.errors()[:6]] if hasattr(gp, "errors") else [],
              down_cached_version=cached.ok, down_cached_error=cached.error_line,
              down_list=listed.stdout.strip() or listed.error_line)
    for k, o in cold.items():
        if not o.ok:
            errors.record(case, f"upstream {k} behind a real proxy", o, None)
    if not cached.ok:
        errors.record(case, "upstream down, version cached by the proxy", cached, None)
    case.expect("the proxy had the module before", warm.ok, True, detail=warm.errors)
    case.expect("a 500 upstream reaches go as a 404, so `,` goes on to the next proxy",
                ((said(cold["500"], gp, ".info") or "")[:3], fell_back(cold["500"])), ("404", True))
    case.expect("an upstream that hangs is cut by the proxy's fetch timeout, a 404 for go",
                ((said(cold["hang"], gp, ".info") or "")[:3], cold["hang"].timed_out), ("404", False))
    case.expect("with the upstream down, the proxy still serves a version it cached", cached.ok, True,
                detail=cached.errors)
    case.expect("with the upstream down, the proxy still serves the @v/list it cached", listed.ok, True,
                detail=listed.errors)


def test_checksum_db_and_private_paths(goproxy_program, topo, case):
    """The proxy proxies the checksum DB (/sumdb/) and verifies what it fetches against it; a tampered zip upstream;
    a private path under the client's GONOSUMDB: whether the proxy's own verification asks the DB about it anyway."""
    db = topo.sumdb(SUMDB)
    up = topo.upstream(UPSTREAM, modules={**topo.session.module_files,
                                          **modules.tampered("example.com_util_v1.0.0.txt", "package util",
                                                             "package util // tampered")})
    up.proxy_sumdb(db)
    gp = proxy(topo, goproxy_program, up, sumdb=db, proxied_sumdbs=[db])
    go = topo.go(GOPROXY=f"{gp.url},http://{FALLBACK}", GOSUMDB=db.gosumdb(url=None),
                 GONOSUMDB="git.corp.test/team")
    topo.upstream(FALLBACK)
    ok = case.note(go.run("mod", "download", "-x", f"{LIB}@v1.0.0", timeout=15))
    tampered = go.run("mod", "download", "-x", f"{UTIL}@v1.0.0", timeout=20)
    private = go.run("mod", "download", "-x", "git.corp.test/team/secret@v1.0.0", timeout=15)
    lookups = [r.path for r in db.requests() if "/lookup/" in r.path]
    via_proxy = [p for p, _ in received(ok, gp) if p.startswith("/sumdb/")]
    private_to_db = [p for p in lookups if "git.corp.test/team" in p]
    case.fact(sumdb_through_proxy=sorted(set(via_proxy)), db_lookups=sorted(set(lookups)),
              tampered_proxy_answered=said(tampered, gp, ".info") or said(tampered, gp, ".zip"),
              tampered_go_ok=tampered.ok, tampered_fell_back=any(r.server == FALLBACK for r in tampered.requests),
              tampered_error=tampered.error_line, private_ok=private.ok, private_lookups_at_db=private_to_db,
              private_upstream=[p for p in upstream_paths(up) if "git.corp.test" in p][:4])
    for o, cause in ((tampered, "tampered zip behind a verifying proxy"), (private, "private path via proxy")):
        if not o.ok:
            errors.record(case, cause, o, None)
    case.expect("go reaches the checksum DB through the proxy's /sumdb/", bool(via_proxy), True)
    # the proxy verifies and refuses it with a 404: under `,` go takes the next proxy's copy without a word
    case.expect("the proxy refuses the tampered module with a 404, and go takes the next proxy's",
                ((said(tampered, gp, ".info") or said(tampered, gp, ".zip") or "")[:3],
                 any(r.server == FALLBACK for r in tampered.requests)), ("404", True))
    case.expect("the proxy asks the checksum DB about the client's GONOSUMDB path", bool(private_to_db), True)


def test_nginx_cache_in_front(goproxy_program, topo, case):
    """The corporate shapes: a caching Nginx in front of the real proxy (go's GOPROXY), and Squid as go's forward
    proxy (HTTP_PROXY, Debian's rules) on the way to it. The paths go sends pass both; a version published after go
    asked for it: what go gets through Nginx, through Squid, and from the proxy alone (its log: TCP_MISS, TCP_MEM_HIT
    per request). Nginx keeps a 404 as the proxy's Cache-Control says, else its own proxy_cache_valid (1 min):
    goproxy sends max-age=600 on a 404 for an exact version and 60 on @v/list (response.go, goproxy.go)."""
    up = topo.upstream(UPSTREAM)
    gp = proxy(topo, goproxy_program, up)
    mw = topo.nginx("mirror.corp.test", "cache", upstream=PROXY, upstream_port=gp.port)
    sq = topo.squid("squid.corp.test", "forward")
    go = topo.go(GOPROXY=mw.url)
    via_squid = {"GOPROXY": gp.url, "HTTP_PROXY": sq.url}
    dl = case.note(go.run("mod", "download", "-x", "example.com/Upper@v1.0.0",
                          "example.com/nomod@v2.0.0+incompatible", timeout=15))
    sq_dl = go.run("mod", "download", "-x", "example.com/Upper@v1.0.0", "example.com/nomod@v2.0.0+incompatible",
                   timeout=15, env={**via_squid, "GOMODCACHE": "/root/go/squid"})
    # the caches in front learn the list and the 404 of a version not yet published
    go.run("list", "-x", "-m", "-versions", LIB, timeout=10)
    go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10)
    squid_before = {**via_squid, "GOMODCACHE": "/root/go/squid"}
    go.run("list", "-x", "-m", "-versions", LIB, timeout=10, env=squid_before)
    sq_missing = go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10, env=squid_before)
    up.publish("example.com_lib_v1.3.0.txt", V130)
    after = {"GOMODCACHE": "/root/go/after"}
    through_nginx = go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10, env=after)
    list_nginx = go.run("list", "-x", "-m", "-versions", LIB, timeout=10, env=after)
    sq_after = {**via_squid, "GOMODCACHE": "/root/go/squid-after"}
    through_squid = go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10, env=sq_after)
    list_squid = go.run("list", "-x", "-m", "-versions", LIB, timeout=10, env=sq_after)
    direct = go.run("list", "-x", "-m", "-json", PUBLISHED, timeout=10,
                    env={"GOMODCACHE": "/root/go/direct", "GOPROXY": gp.url})
    at_nginx = [f"{r.path} {r.status} {r.detail.get('cache', '-')}" for r in mw.requests()]
    at_squid = [f"{r.path.removeprefix(gp.url)} {r.status} {r.detail.get('result', '-')}" for r in sq.requests()]
    case.fact(download_ok=dl.ok, nginx_saw=sorted(at_nginx),     # sorted: go fetches two modules at once
              upstream_got=sorted({p for p in upstream_paths(up) if "!upper" in p or "nomod" in p}),
              published_through_nginx=said(through_nginx, mw, "v1.3.0.info"),
              list_through_nginx=list_nginx.stdout.strip() or list_nginx.error_line,
              squid_download_ok=sq_dl.ok, squid_download_error=sq_dl.error_line,
              squid_404_before=said(sq_missing, gp, "v1.3.0.info"),
              published_through_squid=said(through_squid, gp, "v1.3.0.info"),
              list_through_squid=list_squid.stdout.strip() or list_squid.error_line,
              squid_saw=sorted(at_squid),
              published_through_proxy_alone=said(direct, gp, "v1.3.0.info"))
    for o, cause in ((dl, "module files through nginx and a real proxy"), (through_nginx, "a 404 cached by nginx"),
                     (sq_dl, "module files through squid and a real proxy"), (through_squid, "a 404 cached by squid")):
        if not o.ok:
            errors.record(case, cause, o, direct if o in (through_nginx, through_squid) else None)
    case.expect("module files pass Nginx and the proxy", dl.ok, True, detail=dl.errors)
    case.expect("module files pass Squid (forward) and the proxy", sq_dl.ok, True, detail=sq_dl.errors)
    case.expect("the version asked for before it was published stays a 404 through Nginx's cache",
                (said(through_nginx, mw, "v1.3.0.info") or "")[:3], "404")
    case.expect("Nginx serves the old @v/list", "v1.3.0" in list_nginx.stdout, False)
    case.expect("the proxy alone has it at once", direct.ok, True, detail=direct.errors)
    # Squid kept the @v/list (max-age=60: a TCP_MEM_HIT) but not the 404 (TCP_MISS again): go gets the new version
    # when it asks for it, and does not see it in the list
    case.expect("through Squid, the version asked for before it was published is found once published",
                through_squid.ok, True, detail=through_squid.errors)
    case.expect("Squid serves the old @v/list", "v1.3.0" in list_squid.stdout, False)

# The attacks of scenarios/test_sumdb_attacks.py run through the real proxy: one refused since a release
# (unrelated_record: go1.26.3), one refused since a later one (forged_tile: go1.26.6), one always accepted and lasting
# (corrupt_latest). A PRIME attack's client first fetches the decoy, so it holds a tree head.
PROXIED_ATTACKS = ("unrelated_record", "forged_tile", "corrupt_latest")
DECOY, CHECK = f"{UTIL}@v1.0.0", f"{LIB}@v1.1.0"
TAMPERED_LIB = modules.tampered("example.com_lib_v1.0.0.txt", 'return "v1.0.0"', 'return "v1.0.0, tampered"')


def test_lying_checksum_db_through_the_proxy(goproxy_program, topo, case):
    """The lying-DB attacks of the security family (upstreamlib/sumdb_attacks/) with the real proxy between go and
    the lying upstream: the proxy proxies the checksum DB (--proxied-sumdbs) from the upstream's /sumdb/, where the
    upstream lies, and serves the upstream's tampered lib v1.0.0. Whether go accepts or refuses each attack as it
    does with the lying proxy alone (test_sumdb_attacks: REFUSED_SINCE, ACCEPTED_ALWAYS, LASTING): the proxy
    passes the DB's answers through as bytes, so it should change nothing."""
    if isinstance(goproxy_program, UserImage):
        pytest.skip("your proxy image is told its upstream only, not which checksum DBs to proxy")
    db = topo.sumdb(SUMDB)
    up = topo.upstream(UPSTREAM, modules={**topo.session.module_files, **TAMPERED_LIB})
    up.proxy_sumdb(db)
    target = f"{LIB}@v1.0.0"
    db.fill([target, DECOY, CHECK])
    # goproxy reaches the DB at the upstream's /sumdb/<name>/, where the attacks are; it verifies nothing itself
    gp = proxy(topo, goproxy_program, up, proxied_sumdbs=[f"{db.name} {upstream_url_of(up)}/sumdb/{db.name}"])
    go = topo.go(GOPROXY=gp.url, GOSUMDB=db.gosumdb(url=None))
    tampered_h1 = gomod.Module.from_txtar("example.com_lib_v1.0.0.txt",
                                          TAMPERED_LIB["example.com_lib_v1.0.0.txt"]).gosum_lines()[0].split()[2]
    found, via_proxy = {}, set()
    for i, attack in enumerate(PROXIED_ATTACKS):
        gopath = f"/root/go/attack-{i}"
        up.sumdb_attack(attack, db, module=target, decoy=DECOY)
        if sumdb_attacks.REGISTRY[attack].prime:
            primed = go.run("mod", "download", "-json", DECOY, cwd="/", timeout=15, env={"GOPATH": gopath})
            if not primed.ok:       # the upstream is honest until the target's lookup: a failure here is ours
                raise AssertionError(f"{attack}: priming with {DECOY} through the proxy failed: {primed.errors}")
        obs = go.run("mod", "download", "-x", "-json", target, cwd="/", timeout=15, env={"GOPATH": gopath})
        accepted = obs.ok and tampered_h1 in [o.get("Sum") for o in obs.json_objects() if isinstance(o, dict)]
        via_proxy |= {p.split("/")[3] for p, _ in received(obs, gp) if p.startswith("/sumdb/")}
        up.sumdb_attack(None)
        later = go.run("mod", "download", "-json", CHECK, cwd="/", timeout=15, env={"GOPATH": gopath})
        found[attack] = attacks.finding(obs, accepted, later)
        if not obs.ok:
            errors.record(case, f"sumdb attack {attack} through a real proxy", obs, None)
        if not later.ok:
            errors.record(case, f"after sumdb attack {attack} through a real proxy", later, None)
    attacks.record(case, found)
    case.fact(sumdb_read_through_proxy=sorted(via_proxy))
    case.expect("go reads the checksum DB (latest, lookup, tiles) through the proxy", "lookup" in via_proxy, True)
    for attack, f in found.items():
        since = REFUSED_SINCE.get(attack)
        accepted = attack in ACCEPTED_ALWAYS or bool(since and version_key(topo.release) < version_key(since))
        case.expect(f"{attack}: the tampered zip is accepted through the proxy as without it", f["accepted"],
                    accepted, since=since, detail=f["error_line"] or "")
        if not f["accepted"]:
            case.expect(f"{attack}: go says {REFUSAL[attack]!r}", REFUSAL[attack] in (f["error_line"] or ""),
                        detail=f["error_line"] or "")
        case.expect(f"{attack}: the next command fails too (lasting)", f["lasting"], attack in LASTING,
                    detail=f["lasting_error"] or "")


TOOLCHAIN_BOUND_S = 60      # go's download, verification and extraction of the ~80 MB zip, through the proxy
SHORT_FETCH_S, SLOW_ZIP_S = 2, 4     # the second proxy's --fetch-timeout, and the upstream's delay of the zip


@pytest.mark.opt_in("toolchain-zip")       # ~10 s of case time: README, --opt-in
def test_toolchain_module_through_the_proxy(goproxy_program, topo, case):
    """GOTOOLCHAIN=auto through the real proxy: a go.mod asking for a newer Go, so go fetches the real toolchain
    module (golang.org/toolchain@v0.0.1-go<newer>.linux-amd64, ~80 MB: toolchain_module.py) through the proxy,
    verifies it with the checksum DB and runs it (test_environment.test_gotoolchain_auto_switch without a proxy).
    goproxy's --fetch-timeout (10 minutes by default) bounds the whole request, sending the zip to go included
    (cmd/goproxy/internal/server_cmd.go wraps the handler in context.WithTimeout): whether it cuts the zip at its
    default, and what go gets from a second proxy whose timeout is shorter than the upstream takes (the shape of
    gomods/athens#2152, a 504 behind Athens)."""
    if topo.release.startswith("/"):
        pytest.skip("a local GOROOT has no release number to switch from")
    real = version_key(toolchains.DEFAULT_GO) > version_key(topo.release)
    new = toolchains.DEFAULT_GO if real else renamed_release(topo.release)
    module = toolchain_module(toolchains.ensure(toolchains.DEFAULT_GO if real else topo.release),
                              as_release=None if real else new)
    db = topo.sumdb(SUMDB)
    up = topo.upstream(UPSTREAM)
    gp = proxy(topo, goproxy_program, up)
    short = None if isinstance(goproxy_program, UserImage) else topo.module_proxy(
        goproxy_program, "goproxy-short.corp.test", up, fetch_timeout=f"{SHORT_FETCH_S}s")
    go = topo.go(GOTOOLCHAIN="auto", GOPROXY=gp.url, GOSUMDB=db.gosumdb())
    go.write({"/work/tc/go.mod": f"module example.com/hello\n\ngo {new}\n"})
    up.publish_prebuilt(module)
    db.publish_prebuilt(module)
    # no -x: the switch happens before go parses a command's flags (toolchain.Select), and traces nothing
    obs = case.note(go.run("version", cwd="/work/tc", timeout=TOOLCHAIN_BOUND_S))
    ran = lambda o: (o.stdout.split() + ["?"] * 3)[2] if o.ok else None      # noqa: E731
    facts = {"asked_for": f"go{new}", "ran": ran(obs), "error": obs.error_line, "timed_out": obs.timed_out,
             "downloading": f"go: downloading go{new} (linux/amd64)" in obs.stderr,
             "upstream_got": sorted({p.rsplit("/", 1)[-1] for p in upstream_paths(up) if "toolchain" in p})}
    if short is not None:
        up.fault(r"^/golang\.org/toolchain/@v/.*\.zip$", "delay", seconds=SLOW_ZIP_S)
        cut = go.run("version", cwd="/work/tc", timeout=SLOW_ZIP_S + 15,
                     env={"GOPROXY": short.url, "GOPATH": "/root/go/short"})
        facts.update(short_timeout_ran=ran(cut), short_timeout_error=cut.error_line,
                     short_timeout_proxy_errors=short.errors()[:3])
        if not cut.ok:
            errors.record(case, "toolchain zip slower upstream than the proxy's fetch timeout", cut, None)
    case.fact(**facts)
    if not obs.ok:
        errors.record(case, "toolchain module through a real proxy", obs, None)
    case.expect("go switches to the toolchain fetched through the proxy (its default timeout does not cut it)",
                obs.ok and f"go{new}" in obs.stdout, True, detail=obs.errors)
    if short is not None:
        # goproxy answers 404 "fetch timed out" (response.go): for go the toolchain does not exist
        case.expect("a fetch timeout shorter than the upstream: go finds no toolchain",
                    cut.error_line, f"go: download go{new} for linux/amd64: toolchain not available")


# --- goproxy fetching `direct` from the git host -------------------------------------------------------------------

GIT = "git.corp.test"
GITLIB = f"{GIT}/team/lib"
GIT_MODULES = {"git.corp.test_team_lib_v1.0.0.txt": (
    "-- .info --\n{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-01T00:00:00Z\"}\n"
    "-- go.mod --\nmodule git.corp.test/team/lib\n\ngo 1.21\n-- lib.go --\npackage lib\n").encode()}
DIRECT_S = 10      # a go command answered from the git host through goproxy's own go: about 1 s, 7 s on a loaded machine
# A commit pushed to main after v1.0.0, tagged by no one yet; dated, so that its hash is the same in every run.
PUSH_COMMIT = """set -e
export GIT_INDEX_FILE=/tmp/push-index GIT_AUTHOR_NAME=gopher GIT_AUTHOR_EMAIL=gopher@corp.test \
  GIT_COMMITTER_NAME=gopher GIT_COMMITTER_EMAIL=gopher@corp.test \
  GIT_AUTHOR_DATE=2024-06-01T12:00:00Z GIT_COMMITTER_DATE=2024-06-01T12:00:00Z
git read-tree main
blob=$(printf 'package lib\n\nconst Next = true\n' | git hash-object -w --stdin)
git update-index --add --cacheinfo 100644,$blob,next.go
commit=$(git commit-tree -p main -m 'next, untagged' $(git write-tree))
git update-ref refs/heads/main $commit
echo $commit
"""


def push(git, repo: str, script: str) -> str:
    """Change a repository of the git host as a push would: a script run by git in its container, on the bare
    repository; its output. Not Go: a failure is the harness's."""
    code, out, err = spawn(git.container, ["sh", "-c", script], cwd=f"/srv/git/{repo}").wait(10)
    if code != 0:
        raise InfrastructureError(f"git host {git.host}: changing {repo} failed ({code}): {err.decode()[-500:]}")
    return out.decode().strip()


def direct_proxy(topo, program):
    """goproxy with GOPROXY=direct (no other proxy program runs the harness's go here), declared first: skipped before
    any other container starts. The git host may come after: each go command brings the resolvers up to date."""
    if isinstance(program, UserImage) or not PROGRAMS[program].direct_in_go_image:
        pytest.skip(f"{getattr(program, 'image', program)}: direct needs the harness's go, the run's CA and the "
                    "topology's resolver in the proxy's container (goproxy's image has them)")
    return topo.module_proxy(program, PROXY, "direct")


def versions(obs) -> list[str]:
    """The Version of each module `go list -m -json` printed, in the order of its arguments."""
    return [o.get("Version") for o in obs.json_objects() if isinstance(o, dict)]


def ran(obs, proxy) -> list[str]:
    """The go commands the proxy ran for this observation, with their exit codes."""
    return [f"go {r.path} -> {r.status}" for r in obs.requests if r.server == proxy.host]


def git_saw(obs) -> list[str]:
    return sorted({f"{r.method} {r.path.split('?')[0]}{'?go-get=1' if 'go-get=1' in r.path else ''} {r.status}"
                   for r in obs.requests if r.server == GIT})


def test_direct_from_the_git_host(goproxy_program, topo, case):
    """goproxy with GOPROXY=direct in front of the git host. A commit pushed to main and tagged by no one: downloaded as
    @main through goproxy (the pseudo-version and the zip made by goproxy's go), and as its hash by the client's own go
    with GOPROXY=direct: the same version, the same hash of the zip? The tagged version and the list: @latest through
    goproxy; a tag pushed later on that commit: when @v/list and @latest through goproxy show it, and what the commit's
    hash is then; the git host down afterwards (its name now leads where nothing listens): what @main is."""
    gp = direct_proxy(topo, goproxy_program)
    git = topo.git_host(GIT, modules=GIT_MODULES)
    go = topo.go(GOPROXY=gp.url)
    commit = push(git, "team/lib", PUSH_COMMIT)
    by_hash = f"{GITLIB}@{commit[:12]}"
    via = case.note(go.run("mod", "download", "-x", "-json", f"{GITLIB}@main", timeout=DIRECT_S))
    # no -x: its trace of git commands would read as go's error line (Observation.error_line)
    own = go.run("mod", "download", "-json", by_hash, timeout=DIRECT_S,
                 env={"GOPROXY": "direct", "GOMODCACHE": "/root/go/direct"})
    before = go.run("list", "-x", "-m", "-json", "-versions", f"{GITLIB}@latest", timeout=DIRECT_S)
    push(git, "team/lib", f"git tag v1.1.0 {commit}")
    after = go.run("list", "-x", "-m", "-json", "-versions", f"{GITLIB}@latest", by_hash, timeout=DIRECT_S,
                   env={"GOMODCACHE": "/root/go/after"})
    # the git host goes down: its name leads to a machine where nothing listens on 443 (the resolver's)
    topo.dns.fault(GIT, "cname", chain=[resolver.HOST])
    down = go.run("list", "-x", "-m", "-json", f"{GITLIB}@main", timeout=DIRECT_S,
                  env={"GOMODCACHE": "/root/go/down"})
    latest = lambda o: (o.json_objects() or [{}])[0] if o.ok else {}       # noqa: E731
    made = lambda o: [(m.get("Version"), m.get("Sum")) for m in o.json_objects() if isinstance(m, dict)]  # noqa: E731
    pseudo = (versions(own) or [""])[0]
    case.fact(via_goproxy=made(via) or via.error_line, via_goproxy_ran=ran(via, gp), via_git_host_saw=git_saw(via),
              go_direct=made(own) or own.error_line, same_as_go_direct=bool(made(own)) and made(via) == made(own),
              before_tag={"latest": latest(before).get("Version"), "versions": latest(before).get("Versions")},
              before_tag_goproxy_ran=ran(before, gp),
              after_tag={"latest": latest(after).get("Version"), "versions": latest(after).get("Versions")},
              after_tag_goproxy_ran=ran(after, gp),
              hash_after_tag=versions(after)[1:] or after.error_line,
              down_main=versions(down) or down.error_line, down_main_said=said(down, gp, "/main.info"),
              down_goproxy_ran=ran(down, gp))
    for o, cause in ((via, "a pseudo-version from the git host through goproxy direct"),
                     (own, "a pseudo-version from the git host, GOPROXY=direct"),
                     (down, "the git host down behind goproxy direct")):
        if not o.ok:
            errors.record(case, cause, o, None)
    case.expect("the client's own go makes a pseudo-version of the untagged commit", pseudo.startswith("v1.0.1-0.")
                and pseudo.endswith(commit[:12]), True, detail=own.errors)
    case.expect("@main through goproxy is the pseudo-version, and the zip, go makes itself", made(via), made(own),
                detail=via.errors)
    case.expect("goproxy's go resolved @main, then downloaded the pseudo-version", ran(via, gp), [
        f"go list -json -m {GITLIB}@main -> 0", f"go mod download -json {GITLIB}@{pseudo} -> 0"])
    case.expect("before the tag: @latest is v1.0.0, the list v1.0.0", (latest(before).get("Version"),
                latest(before).get("Versions")), ("v1.0.0", ["v1.0.0"]), detail=before.errors)
    # no cached @v/list nor @latest: goproxy asks its go, which asks git (ls-remote), each time
    case.expect("the tag pushed later is seen at once through @v/list and @latest",
                (latest(after).get("Version"), latest(after).get("Versions")), ("v1.1.0", ["v1.0.0", "v1.1.0"]),
                detail=after.errors)
    case.expect("the commit's hash is the tag now", versions(after)[1:], ["v1.1.0"], detail=after.errors)
    # the query's last answer, cached before the tag: a version the git host would no longer say
    case.expect("with the git host down, goproxy answers @main with the pseudo-version it cached",
                versions(down), [pseudo], detail=down.errors)


def test_direct_git_host_locked_or_down(goproxy_program, topo, case):
    """goproxy with GOPROXY=direct in front of a git host that wants credentials goproxy does not have (the client has
    its own, in .netrc), then down (its name leads where nothing listens): what the client gets from goproxy (the
    status, the error line go prints, whether it says git's own words), and whether `,direct` goes on to the client's
    own git, which has the credentials."""
    gp = direct_proxy(topo, goproxy_program)
    git = topo.git_host(GIT, modules=GIT_MODULES, auth="git")
    go = topo.go(GOPROXY=gp.url)
    git.give(go, "netrc")
    target = f"{GITLIB}@v1.0.0"
    alone = case.note(go.run("mod", "download", "-x", "-json", target, timeout=DIRECT_S))
    comma = go.run("mod", "download", "-x", "-json", target, timeout=DIRECT_S,
                   env={"GOPROXY": f"{gp.url},direct", "GOMODCACHE": "/root/go/comma"})
    topo.dns.fault(GIT, "cname", chain=[resolver.HOST])
    down = go.run("mod", "download", "-x", "-json", target, timeout=DIRECT_S,
                  env={"GOPROXY": f"{gp.url},direct", "GOMODCACHE": "/root/go/down"})
    went_on = lambda o: any(l.startswith(f"# get https://{GIT}/") for l in o.stderr.splitlines())   # noqa: E731
    facts = {}
    for name, o in (("locked", alone), ("locked_comma_direct", comma), ("down_comma_direct", down)):
        facts[name] = {"go_asked_goproxy": [f"{p.rsplit('/', 1)[-1]}: {s}" for p, s in received(o, gp)],
                       "go_ok": o.ok, "error": None if o.ok else o.error_line, "went_on_to_direct": went_on(o),
                       "goproxy_ran": ran(o, gp), "git_host_saw": git_saw(o)}
    case.fact(**facts, locked_says_git=[l.strip() for l in alone.errors.splitlines() if "terminal prompts" in l][:1])
    for o, cause in ((alone, "the git host wants credentials goproxy direct does not have"),
                     (down, "the git host down behind goproxy direct, then direct")):
        if not o.ok:
            errors.record(case, cause, o, None)
    # goproxy turns every failure of its go into a 404 whose body is go's error (fetcher.go execGo, responseError)
    case.expect("the credentials goproxy lacks are a 404 for go", (said(alone, gp, ".info") or "")[:3], "404")
    case.expect("go prints git's own words from goproxy's answer", "terminal prompts disabled" in alone.errors,
                True, detail=alone.errors)
    case.expect("`,direct` goes on to the client's own git, which has the credentials",
                (comma.ok, went_on(comma)), (True, True), detail=comma.errors)
    case.expect("the git host down: a 404 from goproxy, then direct fails too",
                ((said(down, gp, ".info") or "")[:3], went_on(down), down.ok), ("404", True, False),
                detail=down.errors)
