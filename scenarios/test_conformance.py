"""Your own config (issue 21): go's real traffic through a middleware config given as it is, and each trap it sets off.

`pytest --middleware-config nginx=path/to/nginx.conf` (once per program) runs one case per config given; with none,
the harness's own configs run as if users had given them: the article's snippets and the `fixed` variants, rendered
with an upstream named goproxy.internal.example, a name the topology does not declare. The program's own checker
runs first (a rejection is the case's infrastructure error, naming the file, the checker and the line). Whatever
names the config gives its upstream, the topology's resolver answers them with the fake upstream, which listens on
the ports the config names (middleware.config_ports). A forward proxy (Squid without `accel`) is go's HTTP(S)_PROXY
in front of GOPROXY=http://goproxy.internal.example; any other config is the GOPROXY itself.

Nothing is read from the config's own logs: the evidence is what go saw (its `-x` lines: each request and its
status, and its errors) and what reached the fake upstream (its request log). One case per config, every trap a
command or two of it (fixtures/record/conformance.py names them): go's paths, a 404 or an @v/list kept after a
version is published, a zip streamed slowly, a page answered 200 in place of a module file,
headers dropped on the way.
"""
import math
import os
import re
import time
from urllib.parse import unquote


from fixtures.record import conformance
from fixtures.record.conformance import CLEAR, SET_OFF, UNOBSERVED
from fixtures.world import modules
from fixtures.world.middleware import PROGRAMS, USER, UserConfig

MIRROR, PROXY, SUMDB = "mirror.corp.test", "proxy.corp.test", "sum.corp.test"
UPSTREAM_NAME = "goproxy.internal.example"     # the harness's configs' upstream: a name the topology does not declare
PORTAL_HTML = "<html><body><h1>Sign in</h1><form action=/login></form></body></html>"
# The harness's own configs, as if users had given them: id -> (program, variant, values). envoy's names its
# upstream on port 8080 (the fake upstream listens where a config says).
HARNESS = {
    "nginx-article": ("nginx", "article", {}),
    "nginx-fixed": ("nginx", "fixed", {"match": r"/@v/list$|/@latest$", "status": 200, "body": PORTAL_HTML}),
    "envoy-article-valid": ("envoy", "article-valid", {"upstream_port": 8080}),
    "squid-article": ("squid", "article", {}),
    # two that set off what the others cannot: a cache keeping 404s and lists, a route timeout of 1 s
    "nginx-cache": ("nginx", "cache", {}),
    "envoy-timeouts": ("envoy", "timeouts", {"timeout": "1s"}),
}
# What each of the harness's configs does today (the observation pins it; a user's config pins nothing).
S, C, U = SET_OFF, CLEAR, UNOBSERVED
EXPECTED = {
    "nginx-article": {"paths": S, "cached-404": U, "stale-list": U, "timeout": U, "login-200": C, "headers": U},
    "nginx-fixed": {"paths": C, "cached-404": C, "stale-list": U, "timeout": C, "login-200": S, "headers": C},
    "envoy-article-valid": {"paths": S, "cached-404": U, "stale-list": U, "timeout": U, "login-200": C, "headers": U},
    "squid-article": {"paths": S, "cached-404": U, "stale-list": U, "timeout": U, "login-200": C, "headers": U},
    "nginx-cache": {"paths": C, "cached-404": S, "stale-list": S, "timeout": C, "login-200": C, "headers": C},
    "envoy-timeouts": {"paths": C, "cached-404": C, "stale-list": C, "timeout": S, "login-200": C, "headers": C},
}
# go's kinds of path: plain, "!"-escaped capitals, +incompatible (with the checksum DB's supported and lookup)
MODULES = ["example.com/lib@v1.0.0", "example.com/Upper@v1.0.0", "example.com/nomod@v2.0.0+incompatible"]
REFERENCE = "example.com/lib@v1.2.0-0.20240701000000-abcdefabcdef"     # asked straight from the upstream only
SLOW = "example.com/lib@v1.1.0"
# How long its zip streams, evenly, one piece per interval: 2 s through the harness's configs (the default suite
# stays cheap), 20 s through a user's, a run of its own (Envoy's default route timeout, 15 s, cuts it).
# GOTRAPS_SLOW_ZIP_S changes a user's (tests/test_conformance_e2e.py: 2).
SLOW_S = {"harness": (2.0, 0.5), "user": (float(os.environ.get("GOTRAPS_SLOW_ZIP_S", 20)), 1.0)}
PUBLISHED = "example.com/lib@v1.3.0"
X_GET = re.compile(r"^# get (\S+?): (.+?)(?: \(\d+(?:\.\d+)?s\))?$", re.M)


def pytest_generate_tests(metafunc):
    if "config_id" in metafunc.fixturenames:
        given = metafunc.config.gotraps.get("middleware_configs") or []
        metafunc.parametrize("config_id", [f"{c['program']}-user" for c in given] or list(HARNESS))


def user_config(config, config_id: str) -> UserConfig:
    """The config of this case: the user's as read at startup, or one of the harness's rendered as a user's."""
    for c in config.gotraps.get("middleware_configs") or []:
        if f"{c['program']}-user" == config_id:
            return UserConfig(**c)
    program, variant, values = HARNESS[config_id]
    text = PROGRAMS[program].render(variant, {"host": MIRROR, "upstream": UPSTREAM_NAME, **values})
    return UserConfig(program, f"docker/{program}/templates/{PROGRAMS[program].template_name(variant)}", text)


def gets(obs, base: str) -> list[tuple[str, str]]:
    """(path, what go got) of each request go's -x traced under base: "200 OK", "404 Not Found", an error."""
    return [(url[len(base):], said) for url, said in X_GET.findall(obs.stderr) if url.startswith(base + "/")]


def kind(path: str) -> str:
    """What kind of go's requests a path is: `.info`, `@v/list`, `sumdb lookup`, `!-escaped .zip` ..."""
    if path.startswith("/sumdb/"):
        return "sumdb " + path.split("/")[3]
    what = next((k for k in ("@v/list", "@latest", ".info", ".mod", ".zip") if path.endswith(k)), path)
    return ("!-escaped " if "%21" in path or "!" in path else "+incompatible " if "+incompatible" in path
            else "") + what


def status(said: str) -> int | None:
    return int(said.split()[0]) if said.split()[0].isdigit() else None


def test_conformance(topo, case, config_id, request):
    """A middleware config as its user wrote it, under go's real traffic: each trap it sets off, with the evidence."""
    uc = user_config(request.config, config_id)
    case.params.update(middleware=uc.program, variant=USER if config_id.endswith("-user") else
                       HARNESS[config_id][1], config=uc.source)
    ports = uc.ports
    up = topo.upstream(PROXY, port=ports.upstream, tls_port=ports.upstream_tls or 443)
    db = topo.sumdb(SUMDB)
    up.proxy_sumdb(db)
    up.fault(r"^/example\.com/util/@v/list$", "body", text="")      # go asks /@latest only after an empty list
    slow_s, interval = SLOW_S["user" if config_id.endswith("-user") else "harness"]
    size = len(modules.module(*SLOW.split("@")).zip_bytes())
    up.fault(r"^/example\.com/lib/@v/v1\.1\.0\.zip$", "trickle", interval=interval,
             bytes=math.ceil(size / (slow_s / interval + 1)))     # the first piece goes at once
    topo.dns.answer_any(up)
    mw = topo.middleware(uc.program, MIRROR, USER, config=uc)
    base = f"http://{UPSTREAM_NAME}" if uc.forward else mw.url
    proxy_env = {"HTTP_PROXY": mw.url, "HTTPS_PROXY": mw.url} if uc.forward else {}
    go = topo.go(GOPROXY=f"{base},off", GOSUMDB=db.gosumdb(url=None), **proxy_env)
    direct = f"http://{PROXY}" + (f":{ports.upstream}" if ports.upstream != 80 else "")

    ref = go.run("list", "-x", "-m", "-json", REFERENCE,
                 env={"GOPROXY": direct, "GOSUMDB": "off", "HTTP_PROXY": None, "HTTPS_PROXY": None})
    paths = case.note(go.run("mod", "download", "-x", "-json", *MODULES))
    latest = go.run("list", "-x", "-m", "-json", "example.com/util@latest")
    versions = go.run("list", "-x", "-m", "-versions", "example.com/lib")
    missing = go.run("list", "-x", "-m", "-json", PUBLISHED)
    published_at = time.time()
    for server in (up, db):      # the checksum DB knows it too (go verifies its go.mod listing retractions)
        server.publish("example.com_lib_v1.3.0.txt", "-- .mod --\nmodule example.com/lib\n-- .info --\n"
                       '{"Version":"v1.3.0","Time":"2024-09-01T00:00:00Z"}\n-- go.mod --\nmodule example.com/lib\n'
                       "-- lib.go --\npackage lib\n")
    after = {"GOMODCACHE": "/root/go/after"}       # go's own cache out of the way: only the config's remains
    missing2 = go.run("list", "-x", "-m", "-json", PUBLISHED, env=after)
    versions2 = go.run("list", "-x", "-m", "-versions", "example.com/lib", env=after)
    # last, in a module cache of its own (beside the others, its requests would land in their observations by chance)
    slow = go.run("mod", "download", "-x", "-json", SLOW, timeout=slow_s + 15, env={"GOMODCACHE": "/root/go/slow"})

    at_up = [r for o in topo.observations for r in o.requests if r.server == PROXY]
    reached = [unquote(r.path) for r in at_up]
    ref_path = f"/{REFERENCE.replace('@', '/@v/')}."      # its .info and .mod

    def upstream_saw(path: str, since: float = 0) -> bool:      # a config may add a prefix on the way
        return any(unquote(r.path).endswith(unquote(path)) for r in at_up if (r.t or 0) >= since)

    findings = {}
    # (a) go's paths: which the config blocks or alters
    asked = [g for o in (paths, latest, versions) for g in gets(o, base)]
    every = [g for o in (paths, latest, versions, missing, missing2, versions2, slow) for g in gets(o, base)]
    bad = sorted({(p, said) for p, said in asked if status(said) != 200})
    went_direct = [g for o in (paths, latest, versions) for g in gets(o, f"https://{SUMDB}")]
    evidence = [f"GET {p}: {said} (" + ("the upstream got it" if upstream_saw(p) else "it never reached the upstream")
                + (", so go tried the next GOPROXY entry without a word" if status(said) in (404, 410) else "") + ")"
                for p, said in bad]
    if went_direct:
        evidence.append(f"go went straight to the checksum DB (GET https://{SUMDB}{went_direct[0][0]}): "
                        f"the config's /sumdb/ answer was not a 200")
    altered = sorted({p for p in reached if not p.startswith(ref_path)
                      and not any(p.endswith(unquote(g)) for g, _ in every)})
    evidence += [f"the upstream got a path go never asked for: {p}" for p in altered[:5]]
    if not asked:
        evidence.append(f"go asked nothing through the config: {paths.error_line}")
    if not bad and asked:
        evidence.append(f"{len(asked)} requests answered 200: "
                        + ", ".join(sorted({kind(p) for p, said in asked if status(said) == 200})))
    evidence += list(dict.fromkeys(o.error_line for o in (paths, latest, versions) if o.error_line))[:3]
    findings["paths"] = (SET_OFF if bad or went_direct or altered or not asked else CLEAR, evidence)

    # (b) a 404 kept after the version is published; (f) an @v/list kept
    info = f"/{PUBLISHED.replace('@', '/@v/')}.info"
    first, second = dict(gets(missing, base)).get(info), dict(gets(missing2, base)).get(info)
    if first is None or status(first) not in (404, 410) or not upstream_saw(info) or second is None:
        findings["cached-404"] = (UNOBSERVED, [f"before it was published, GET {info}: {first or 'not asked'}"
                                               + ("" if upstream_saw(info) else ", never reaching the upstream")
                                               + ("" if second else f"; after: not asked ({missing2.error_line})")])
    else:
        kept = status(second) != 200
        findings["cached-404"] = (SET_OFF if kept else CLEAR, [
            f"before it was published, GET {info}: {first} (from the upstream)",
            f"after: GET {info}: {second}" + (", the upstream not asked again" if kept and not
                                                              upstream_saw(info, published_at) else ""),
            *([missing2.error_line] if missing2.error_line else [])])
    listed = "/example.com/lib/@v/list"
    if not versions.ok or not upstream_saw(listed) or not versions2.ok:
        findings["stale-list"] = (UNOBSERVED, [f"go list -m -versions through the config: {versions.error_line or 'ok'}"
                                               f", the upstream {'got' if upstream_saw(listed) else 'never got'} "
                                               f"{listed}" + (f"; after: {versions2.error_line}" if versions.ok and
                                                              not versions2.ok else "")])
    else:
        stale = "v1.3.0" not in versions2.stdout
        findings["stale-list"] = (SET_OFF if stale else CLEAR, [
            f"before: {versions.stdout.strip()}", f"after v1.3.0 was published: {versions2.stdout.strip() or versions2.error_line}"
            + (", the upstream not asked again" if stale and not upstream_saw(listed, published_at) else "")])

    # (c) the slow zip
    zip_path = f"/{SLOW.replace('@', '/@v/')}.zip"
    zip_got = dict(gets(slow, base)).get(zip_path)
    said = f"evenly over {slow_s:g} s, one piece every {interval:g} s"
    if not upstream_saw(zip_path):
        findings["timeout"] = (UNOBSERVED, [f"the zip never reached the upstream: GET {zip_path}: {zip_got or 'not asked'}"])
    else:
        findings["timeout"] = (CLEAR if slow.ok else SET_OFF, [
            f"the upstream sent {zip_path} {said}: go got {zip_got or 'no answer'}"
            + ("" if slow.ok else f" and failed: {slow.error_line or 'the watchdog ended it'}")])

    # (d) 200s the config answered itself
    invented = sorted({p for o in (paths, latest, versions, missing, versions2, missing2, slow)
                       for p, s in gets(o, base) if status(s) == 200 and not upstream_saw(p)})
    errors = sorted({l for o in (paths, latest, versions, slow) for l in o.error_lines()
                     if re.search(r"invalid character|not a valid zip|malformed|<html", l, re.I)})
    findings["login-200"] = (SET_OFF if invented else CLEAR,
                             [f"GET {p}: 200 OK from the config itself, never from the upstream" for p in invented[:6]]
                             + (errors[:3] if invented else []))

    # (e) headers go sends that the upstream did not get
    sent = {k.lower() for r in at_up if unquote(r.path).startswith(ref_path) for k in r.headers}
    via = [r for r in at_up if not unquote(r.path).startswith(ref_path)]
    got = {k.lower() for r in via for k in r.headers}
    if not via or not sent:
        findings["headers"] = (UNOBSERVED, ["no request reached the upstream through the config"])
    else:
        dropped = sorted(sent - got - {"connection"})
        findings["headers"] = (SET_OFF if dropped else CLEAR, [
            f"go sends {', '.join(sorted(sent - {'host'}))}; the upstream got "
            + (f"none of {', '.join(dropped)}" if dropped else "all of them")
            + (f"; added on the way: {', '.join(sorted(got - sent))}" if got - sent else "")])

    conformance.record(case, findings)

    assert ref.ok, ref.errors        # the upstream itself serves: otherwise no finding holds
    case.expect("the watchdog ends no command", [o.timed_out for o in topo.observations], [False] * 8)
    for trap, state in (EXPECTED.get(config_id) or {}).items():
        case.expect(f"trap {trap}", findings[trap][0], state, detail="\n".join(findings[trap][1]))
