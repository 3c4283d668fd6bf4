"""Real Nginx, Envoy, Squid, HAProxy, Varnish and Apache httpd between go and its proxy: what reaches the
upstream, what go makes of it.

The article (section 3.3) says Nginx answers 404 for `/@v/` paths unless a `location ~ ^/@v/` block is
configured (C3.5), Envoy needs a regex route `^/@v/.*` and forwards Accept only when told to (C3.6),
Squid's default ACLs block `@v/` and drop Accept (C3.7), a lost Accept gives an HTML 404 and a git
fallback (C3.8), go asks with `Accept: application/vnd.go-modinfo` and proxies answer with X-Go-*
headers (C2.6), go checks X-Go-Module on every redirect hop (C2.7), `go get -x` shows the proxy
requests (C3.2), and no-cache requests or an old Age make a CDN edge revalidate, a stale edge making
go fetch twice (C4.5). Every middleware here is the real program with a config named by its variant
(docker/<program>/templates/); its access log is part of each observation.
"""
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote

import pytest

from fixtures.record.claims import CONFIRMED, PARTLY, REFUTED
from fixtures.world.middleware import PROGRAMS, ConfigRejected

PROXY, PROXY_B, MIRROR, SQUID = "proxy.corp.test", "proxy-b.corp.test", "mirror.corp.test", "squid.corp.test"
LIB = "example.com/lib@v1.0.0"
# One of each kind of path go asks a proxy for: plain, "!"-escaped capitals, +incompatible, a pseudo-version.
MODULES = [LIB, "example.com/Upper@v1.0.0", "example.com/nomod@v2.0.0+incompatible",
           "example.com/lib@v1.2.0-0.20240701000000-abcdefabcdef"]



@dataclass(frozen=True)
class Box:
    """What the cases must say to, or of, one middle box in its own words."""
    default_timeout: str       # the default it documents for the timeout the timeouts cases shorten
    timeout_2s: dict           # the values that make its `timeouts` variant give up after 2 s
    cache: str                 # its variant that caches (squid's as route() names it)
    answers: bool = False      # its `fixed` variant answers the paths it is told to itself (the portal cases)


BOXES = {
    "nginx": Box("proxy_read_timeout 60s", {"read_timeout": "2s"}, "cache", answers=True),
    "envoy": Box("route timeout 15s", {"timeout": "2s", "idle_timeout": "2s"}, "cache"),
    "squid": Box("read_timeout 15 minutes", {"read_timeout": "2 seconds"}, "forward-http"),
    "haproxy": Box("timeout server: none (it waits for ever)", {"server_timeout": "2s"}, "cache", answers=True),
    "varnish": Box("first_byte_timeout 60s, between_bytes_timeout 60s",
                   {"first_byte_timeout": "2s", "between_bytes_timeout": "2s"}, "cache", answers=True),
    "apache": Box("ProxyTimeout: the server's Timeout, 60s", {"timeout": 2}, "cache", answers=True),
}
# The programs added after the first three run the cheapest of each family's cases that still show what the
# program does: one of each kind, not every combination (their cost is in the README's figures).
LATER = ("haproxy", "varnish", "apache")

# How go reaches the proxy: (middleware, variant) → what the scenario's go client is given.
#   reverse proxies: GOPROXY names the middleware; squid forward: GOPROXY names the proxy, *_PROXY squid.
PATHS = [("nginx", "plain"), ("nginx", "subpath"), ("envoy", "plain"),
         ("squid", "forward-http"), ("squid", "forward-https"), *((m, "plain") for m in LATER)]


def route(topo, middleware: str, variant: str, upstream, **values) -> tuple[object, dict]:
    """Put a middleware between go and `upstream`; returns it and the go client's environment."""
    if middleware == "squid":       # variant "<template>-<scheme of GOPROXY>", e.g. forward-https
        template, _, scheme = variant.rpartition("-")
        mw = topo.squid(SQUID, template, **values)
        return mw, {"GOPROXY": f"{scheme}://{upstream.host}", "HTTP_PROXY": mw.url, "HTTPS_PROXY": mw.url}
    mw = getattr(topo, middleware)(MIRROR, variant, upstream=upstream, **values)
    prefix = "/" + values.get("prefix", "goproxy") if variant == "subpath" else ""
    return mw, {"GOPROXY": mw.url + prefix}


def upstream_path(mw_request, prefix: str) -> str:
    """The path a middleware received, as the upstream should see it (a forward proxy sees full URLs)."""
    path = re.sub(r"^https?://[^/]+", "", mw_request.path)
    return path[len(prefix):] if prefix and path.startswith(prefix) else path


@pytest.mark.claims("C3.5", "C3.6", "C3.7")
@pytest.mark.parametrize("middleware,variant", PATHS)
def test_path_fidelity(topo, case, middleware, variant):
    """@v, "!"-escaped paths, +incompatible, pseudo-versions and @latest through each middleware:
    what the upstream receives, byte for byte, and whether go succeeds."""
    up = topo.upstream(PROXY)
    mw, env = route(topo, middleware, variant, up)
    go = topo.go(**env)
    got = go.run("mod", "download", "-json", *MODULES)
    latest = case.note(go.run("list", "-m", "-json", "example.com/lib@latest"))

    requests = got.requests + latest.requests
    seen_by_mw = [r for r in requests if r.server == mw.host and r.method == "GET"]
    seen_by_up = [r.path for r in requests if r.server == up.host]
    prefix = "/goproxy" if variant == "subpath" else ""
    tunnel = variant == "forward-https"     # squid sees CONNECT host:443 only, never a path
    # Requests overlap (zips download in parallel), so compare the paths as multisets. altered: not byte
    # for byte; a path that differs even after percent-decoding is another path to any proxy.
    sent = Counter(upstream_path(r, prefix) for r in seen_by_mw)
    received = Counter(seen_by_up)
    altered = [] if tunnel else list(zip(sorted((sent - received).elements()), sorted((received - sent).elements())))
    case.fact(upstream_paths=sorted(set(seen_by_up)), altered=altered)

    # The article's rules are missing from every config: a failure here would be the block it predicts.
    went_through = got.ok and latest.ok
    verdict = REFUTED if went_through else CONFIRMED
    evidence = f"{len(seen_by_up)} requests (@v/, %21-escaped capitals, +incompatible, a pseudo-version, " \
               f"@v/list for @latest) passed unchanged" if went_through else \
        f"go failed: {got.error_line or latest.error_line}"
    if middleware == "nginx":
        # No `location ~ ^/@v/` block in either config, and every /@v/ path went through.
        case.claim("C3.5", verdict, f"nginx {variant} (location /, no ^/@v/ block): {evidence}"
                   + (f"; re-encoded on the way: {altered[0][0]} -> {altered[0][1]}" if altered else ""))
    elif middleware == "envoy":
        case.claim("C3.6", verdict, f"envoy prefix route '/', no regex: {evidence}")
    elif middleware == "squid":
        case.claim("C3.7", verdict, f"squid {variant}, Debian's rules + allow localnet: {evidence}")

    case.expect("go mod download and go list @latest succeed", went_through, detail=got.errors + latest.errors)
    assert '"Version": "v1.1.0"' in latest.stdout, latest.stdout
    if tunnel:
        assert {r.method for r in requests if r.server == mw.host} == {"CONNECT"}, requests
        assert all(r.path == f"{PROXY}:443" for r in requests if r.server == mw.host)
    else:
        assert seen_by_mw, "every request must have gone through the middleware"
        assert Counter(map(unquote, sent.elements())) == Counter(map(unquote, received.elements())), \
            f"the middleware sent other paths on: {sorted(sent.elements())} -> {sorted(received.elements())}"
    # go writes "!" as %21 (url.PathEscape); @latest resolves through @v/list when the list is not empty
    assert any(re.search(r"/(%21|!)upper/@v/", p) for p in seen_by_up), seen_by_up
    assert any("+incompatible" in p for p in seen_by_up) and any(p.endswith("/@v/list") for p in seen_by_up)


@pytest.mark.claims("C2.6", "C3.6", "C3.7", "C3.8")
@pytest.mark.parametrize("middleware,variant", [("none", "direct"), ("nginx", "plain"), ("envoy", "plain"),
                                                ("squid", "forward-http"), *((m, "plain") for m in LATER)])
def test_header_fidelity(topo, case, middleware, variant):
    """Every header go sends and every header that reaches the upstream. Our fake proxy sends none of the
    X-Go-* headers nor a vnd.go content type, so a success also shows go needs none of them."""
    up = topo.upstream(PROXY)
    if middleware == "none":
        mw, env = None, {"GOPROXY": f"http://{PROXY}"}
    else:
        mw, env = route(topo, middleware, variant, up)
    go = topo.go(**env)
    obs = case.note(go.run("mod", "download", "-json", LIB))
    at_up = obs.requests_to(PROXY)
    received = {k.lower(): v for r in at_up for k, v in r.headers.items()}
    sent = {k.lower(): v for r in obs.requests if mw and r.server == mw.host for k, v in r.headers.items()}
    user_agent = received.get("user-agent", "")
    added = sorted(set(received) - {"host", "user-agent", "accept-encoding", "connection"})
    case.fact(user_agent=user_agent, headers_at_upstream=sorted(received), added_on_the_way=added,
              accept_at_upstream=received.get("accept"))

    accept_sent = received.get("accept") if middleware == "none" else sent.get("accept")
    case.claim("C2.6", REFUTED if not accept_sent else PARTLY,
               f"go sent Accept={accept_sent!r} (User-Agent {user_agent!r}); the proxy sent no X-Go-Module, "
               f"X-Go-Checksum-Hash or vnd.go-module-cache and go took every file")
    if middleware == "envoy":
        # The article: Accept passes only with request_headers_to_add. go sends none to pass.
        case.claim("C3.6", REFUTED if not accept_sent or "accept" in received else CONFIRMED,
                   f"envoy {variant}, no request_headers_to_add: go sent Accept={accept_sent!r}, the upstream "
                   f"got {received.get('accept')!r}")
    if middleware == "squid":
        case.claim("C3.7", REFUTED if not accept_sent or "accept" in received else CONFIRMED,
                   f"squid {variant}: go sent Accept={accept_sent!r}, the upstream got {received.get('accept')!r}")
    # C3.8 needs an Accept to lose (go sends none today), and a loss that breaks the fetch.
    lost = bool(accept_sent) and "accept" not in received
    case.claim("C3.8", PARTLY if lost and not obs.ok else REFUTED,
               f"{middleware} {variant}: go sends no Accept header, so none is lost; "
               f"the upstream answered {len(at_up)} requests 200" if not accept_sent else
               f"{middleware} {variant}: go sent Accept={accept_sent!r}, the upstream got {received.get('accept')!r}; "
               f"go: {obs.error_line or 'ok'}")

    case.expect("go mod download succeeds", obs.ok, detail=obs.errors)
    assert at_up, "the upstream must have been asked"
    # Since go1.27 the go command names itself; before, net/http's default went out.
    expected_agent = "GoCommand/1 (+https://go.dev/cmd/go)" if go.go_minor() >= 27 else "Go-http-client/1.1"
    case.expect("go's User-Agent", user_agent, expected_agent, since="1.27", detail=str(received))


SEPS = {",": "comma", "|": "pipe"}
# Every combination for the first three; for the later ones a 5xx before the headers with '|' (their status, and
# go falling back) and a cut body with ',' (what a truncated zip does).
SLOW_CASES = [pytest.param(m, slow, sep, id=f"{m}-{slow}-{SEPS[sep]}") for m in ("nginx", "envoy", "squid")
              for slow in ("before-headers", "mid-body") for sep in SEPS] + \
             [pytest.param(m, slow, sep, id=f"{m}-{slow}-{SEPS[sep]}") for m in LATER
              for slow, sep in (("before-headers", "|"), ("mid-body", ","))]


@pytest.mark.claims("C3.3")
@pytest.mark.parametrize("middleware,slow,sep", SLOW_CASES)
def test_slow_upstream_behind_middleware(topo, case, middleware, slow, sep):
    """A slow upstream behind each middleware with a 2 s timeout configured (the programs' defaults are in
    the params): what go prints, and whether the next GOPROXY entry is tried."""
    case.params["default_timeout"] = BOXES[middleware].default_timeout
    up = topo.upstream(PROXY)
    topo.upstream(PROXY_B)
    if slow == "before-headers":
        up.fault(r"\.zip$", "delay", seconds=6)
    else:      # headers at once, then 1 byte every 3 s: only a timeout between two reads can fire
        up.fault(r"\.zip$", "trickle", bytes=1, interval=3)
    timeout = BOXES[middleware].timeout_2s
    if middleware == "squid":
        mw = topo.squid(SQUID, "forward", **timeout)
        env = {"GOPROXY": f"http://{PROXY}{sep}http://{PROXY_B}", "HTTP_PROXY": mw.url}
    else:
        mw = getattr(topo, middleware)(MIRROR, "timeouts", upstream=up, **timeout)
        env = {"GOPROXY": f"{mw.url}{sep}http://{PROXY_B}"}
    obs = case.note(topo.go(**env).run("mod", "download", "-json", LIB, timeout=20))
    zip_at_mw = [r for r in obs.requests if r.server == mw.host and r.path.endswith(".zip")]
    fell_back = bool(obs.requests_to(PROXY_B, r"\.zip$"))
    # bytes: how much of a cut body got through is timing, and Varnish's error page names its request id
    case.fact(mw_zip_status=[r.status for r in zip_at_mw],
              mw_detail=[{k: v for k, v in r.detail.items() if k != "bytes"} for r in zip_at_mw],
              fell_back=fell_back, duration_s=round(obs.duration_s, 1), error_line=obs.error_line)
    case.claim("C3.3", PARTLY if fell_back else REFUTED,
               f"{middleware} 2 s timeout, upstream slow {slow}, '{sep}': middleware answered "
               f"{[r.status for r in zip_at_mw]}, fell back={fell_back}; {obs.error_line}")

    # the middleware's 2 s timeout must end it, not the watchdog
    case.expect("the watchdog ends it", obs.timed_out, False)
    assert zip_at_mw, obs.requests
    if slow == "before-headers":
        # The middleware gives up and answers a 5xx of its own: `,` stops there, `|` falls back.
        status = zip_at_mw[0].status
        assert status in (502, 503, 504), zip_at_mw
        case.expect("go falls back to the next proxy", fell_back, sep == "|", detail=obs.errors)
        case.expect("go mod download succeeds", obs.ok, fell_back, detail=obs.errors)
        assert f"{status}" in obs.errors or fell_back, obs.errors
    else:
        # 200 and the headers went out: the timeout cuts the body and go sees a truncated zip.
        assert not obs.ok or fell_back, obs.errors


@pytest.mark.claims("C3.3")
def test_envoy_default_route_timeout(topo, case):
    """The one case that waits a program's real default: Envoy's route timeout, 15 s unless configured,
    counted from the end of the request to the end of the response."""
    case.params["default_timeout"] = BOXES["envoy"].default_timeout
    up = topo.upstream(PROXY)
    up.fault(r"\.zip$", "delay", seconds=18)
    mw = topo.envoy(MIRROR, "plain", upstream=up)
    obs = case.note(topo.go(GOPROXY=mw.url).run("mod", "download", "-json", LIB, timeout=19))
    zips = [r for r in obs.requests if r.server == mw.host and r.path.endswith(".zip")]
    first = zips[0] if zips else None
    waited_s = first.detail.get("duration", 0) / 1000 if first else None
    case.fact(status=first and first.status, flags=first and first.detail.get("flags"), waited_s=waited_s,
              error_line=obs.error_line)
    # A timeout of go's own hangs up before Envoy answers: the request is logged unanswered.
    go_hung_up = first is not None and not first.status and not obs.timed_out
    case.claim("C3.3", PARTLY if go_hung_up else REFUTED,
               f"go hung up on envoy after {waited_s:.1f} s: {obs.error_line}" if go_hung_up else
               f"behind envoy's default route timeout go waited {waited_s or 0:.1f} s, not 10, got "
               f"'{obs.error_line}' and had no next entry to try")

    assert zips, obs.requests
    case.expect("the watchdog ends it", obs.timed_out, False)
    case.expect("envoy's answer and response flags", [first.status, first.detail.get("flags")], [504, "UT"])
    assert 14.5 <= waited_s <= 16, f"envoy answered after {waited_s} s"
    assert "504" in obs.errors, obs.errors


# Upstream Cache-Control on @v/list and @latest → what a cache in front does with a newly published version.
CACHE_HEADERS = {"none": None, "max-age=3600": "public, max-age=3600", "no-store": "no-store"}


@pytest.mark.claims("C4.5")
@pytest.mark.parametrize("middleware,variant,headers", [
    (m, box.cache, h) for m, box in BOXES.items() for h in CACHE_HEADERS
    # no-store through HAProxy (it stores nothing without max-age already) and Varnish (test_varnish_ttl_and_grace)
    # shows nothing new, for 3 s a case
    if not (h == "no-store" and m in ("haproxy", "varnish"))])
def test_cache_hides_a_new_version(topo, case, middleware, variant, headers):
    """The cache holds the old @v/list, @latest and a 404 for v1.3.0; then v1.3.0 is published. What do
    `go list -m -versions`, @latest and an explicit @v1.3.0 return, and what does go send the cache?"""
    up = topo.upstream(PROXY)
    if CACHE_HEADERS[headers]:
        up.fault(r"/@v/list$|/@latest$|/v1\.3\.0\.info$", "headers", headers={"Cache-Control": CACHE_HEADERS[headers]})
    mw, env = route(topo, middleware, variant, up)
    go = topo.go(**env)
    before = go.run("list", "-m", "-versions", "example.com/lib")
    go.run("list", "-m", "-json", "example.com/lib@latest")
    missing = go.run("list", "-m", "-json", "example.com/lib@v1.3.0")
    assert before.ok and not missing.ok, before.errors + missing.errors
    up.publish("example.com_lib_v1.3.0.txt", "-- .mod --\nmodule example.com/lib\n-- go.mod --\nmodule example.com/lib\n"
               "-- lib.go --\npackage lib\n")
    go.sh("go clean -modcache", record=False)       # go's own cache out of the way: only the middleware's remains
    versions = go.run("list", "-m", "-versions", "example.com/lib")
    latest = go.run("list", "-m", "-json", "example.com/lib@latest")
    explicit = case.note(go.run("list", "-m", "-json", "example.com/lib@v1.3.0"))
    after = versions.requests + latest.requests + explicit.requests
    stale = {"list": "v1.3.0" not in versions.stdout, "latest": '"v1.3.0"' not in latest.stdout,
             "explicit": not explicit.ok}
    reached_upstream = {"list": bool(versions.requests_to(PROXY, r"/@v/list$")),
                        "latest": bool(latest.requests_to(PROXY, r"/@v/list$|/@latest$")),
                        "explicit": bool(explicit.requests_to(PROXY, r"/v1\.3\.0\."))}
    go_cache_control = sorted({r.headers.get("Cache-Control") for r in after if r.server == mw.host} - {None})
    case.fact(stale=stale, reached_upstream=reached_upstream, go_cache_control=go_cache_control,
              # per command, in a stable order: go asks @v/list and @latest at once, the log's order is chance's
              cache_status=[s for obs in (versions, latest, explicit) for s in sorted(
                  (r.detail.get("cache") or r.detail.get("result") for r in obs.requests if r.server == mw.host), key=str)],
              explicit_error=explicit.error_line)
    # "A stale edge makes go fetch twice": a path asked more than once within one go command.
    twice = sorted({r.path for obs in (versions, latest, explicit) for r in obs.requests
                    if r.server == mw.host and [q.path for q in obs.requests if q.server == mw.host].count(r.path) > 1})
    case.claim("C4.5", REFUTED if not twice else PARTLY,
               f"{middleware} cache, upstream Cache-Control {headers}: go sent no Cache-Control/Age; stale "
               f"answers {[k for k, v in stale.items() if v] or 'none'}; paths go fetched twice: {twice or 'none'}")

    assert versions.ok and latest.ok, versions.errors + latest.errors
    # A stale answer is one the upstream never saw: the cache answered it.
    for name in stale:
        assert not (stale[name] and reached_upstream[name]), (name, after)
    case.expect("the Cache-Control go sends", go_cache_control, [])
    if headers == "no-store":       # every one of the three honours the upstream's no-store
        assert not any(stale.values()), (stale, after)


APP = {"go.mod": "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v1.0.0\n",
       "main.go": 'package main\n\nimport "example.com/lib"\n\nfunc main() { println(lib.Version()) }\n'}
PORTAL_HTML = "<html><body><h1>Sign in</h1><form action=/login></form></body></html>"
# Which request of go the portal answers: (what go runs, path regex of the request).
KINDS = {
    "info": (("mod", "download", "-json", LIB), r"\.info$"),
    "mod": (("mod", "download", "-json", LIB), r"\.mod$"),
    "zip": (("mod", "download", "-json", LIB), r"\.zip$"),
    "list": (("list", "-m", "-versions", "example.com/lib"), r"/@v/list$"),
    # go asks /@latest only when @v/list is empty: the upstream lists nothing for these cases
    "latest": (("list", "-m", "-json", "example.com/lib@latest"), r"/@latest$"),
}
ANSWERS = {
    **{str(code): {"status": code, "body": f"<html><body>{code}</body></html>"} for code in (401, 403, 502, 503, 504)},
    "html-200": {"status": 200, "body": PORTAL_HTML},
    "302-login": {"status": 302, "location": f"http://{PROXY_B}/login"},
}
# Through nginx every error on .info and both portals on every kind of request; through the later programs
# that answer themselves one of each: an error, and each portal on .mod (where its page poisons go's cache).
PORTAL_CASES = [("nginx", a, "info") for a in ANSWERS if ANSWERS[a]["status"] >= 400] + \
               [("nginx", a, k) for a in ("html-200", "302-login") for k in KINDS] + \
               [(m, a, k) for m in LATER if BOXES[m].answers
                for a, k in (("503", "info"), ("html-200", "mod"), ("302-login", "mod"))]


@pytest.mark.claims("C3.3")
@pytest.mark.parametrize("middleware,answer,kind", PORTAL_CASES)
def test_error_or_portal_from_middleware(topo, case, middleware, answer, kind):
    """The middleware answers one kind of request itself (an error, a login page with 200, a 302 to it); what
    go says, what lands in the module cache, and whether it stays once the middleware is fixed."""
    case.params["variant"] = "fixed"
    argv, match = KINDS[kind]
    up = topo.upstream(PROXY)
    if kind == "latest":
        up.fault(r"/@v/list$", "body", text="")
    topo.upstream(PROXY_B).fault(r"^/login", "html")        # where the 302 leads: the portal itself
    mw = topo.middleware(middleware, MIRROR, "fixed", upstream=up, match=match, **ANSWERS[answer])
    go = topo.go(GOPROXY=f"{mw.url},http://{PROXY_B}")
    broken = case.note(go.run(*argv))
    cached = go.ls("/root/go/pkg/mod/cache/download/example.com/lib/@v/*")
    # What the portal left in the cache: an HTML page stored as a module file stays there for good.
    html_in_cache = [p.rsplit("/", 1)[-1] for p in cached if b"<html" in (go.read(p) or b"").lower()]
    go.write(APP)
    # The middleware fixed (straight to the proxy): load the app's packages, lib's go.mod and source included
    # (no compiling: that would measure the standard library's build, not the cache).
    fixed = go.run("list", "-deps", "./...", env={"GOPROXY": f"http://{PROXY}"})
    fell_back = bool(broken.requests_to(PROXY_B, r"example\.com"))
    case.fact(ok=broken.ok, error_line=broken.error_line, stdout=broken.stdout.strip()[:200], fell_back=fell_back,
              cached=[p.rsplit("/", 1)[-1] for p in cached], html_in_cache=html_in_cache, ok_after_fix=fixed.ok,
              fix_error=fixed.error_line)
    case.claim("C3.3", REFUTED if not fell_back else PARTLY,
               f"{middleware} answers {answer} for {kind}: go {'succeeded' if broken.ok else 'failed'} "
               f"({broken.error_line or 'no error'}); fell back={fell_back}; HTML left in the cache: "
               f"{html_in_cache or 'none'}; loading the app after the fix: {'ok' if fixed.ok else fixed.error_line}")

    assert [r for r in broken.requests if r.server == mw.host and re.search(match, r.path)], broken.requests
    if ANSWERS[answer]["status"] >= 400:       # an error status: only 404/410 fall back with ','
        case.expect("go succeeds", broken.ok, False, detail=broken.errors)
        case.expect("go falls back to the next proxy", fell_back, False)
        assert answer[:3] in broken.errors, broken.errors
    # Once fixed, the app loads unless the portal's page was stored as a module file.
    case.expect("the app loads once the middleware is fixed", fixed.ok, not html_in_cache,
                detail=f"{html_in_cache} {fixed.errors}")


@pytest.mark.claims("C3.7")
@pytest.mark.parametrize("shape", ["http", "https-443", "https-8443", "https-8443-allowed", "debian-default",
                                   "intercept", "proxy-down", "no-proxy"])
def test_squid_forward_proxy(topo, case, shape):
    """Squid as the go client's forward proxy (HTTP_PROXY / HTTPS_PROXY). Go's net/http proxies a request
    when the variable for its scheme is set and NO_PROXY does not match the host; squid's access log
    proves which requests went through it."""
    case.params["middleware"], case.params["variant"] = "squid", shape
    port = 8443 if "8443" in shape else 443
    topo.upstream(PROXY, tls_port=port)
    variant = {"debian-default": "debian-default", "intercept": "intercept",
               "https-8443-allowed": "forward"}.get(shape, "forward")
    values = {"ssl_ports": [8443]} if shape == "https-8443-allowed" else {}
    if shape == "proxy-down":
        topo.upstream(SQUID, listen=False)
        squid_url = f"http://{SQUID}:3128"
    else:
        squid_url = topo.squid(SQUID, variant, **values).url
    scheme_host = f"http://{PROXY}" if shape == "http" else f"https://{PROXY}" + (f":{port}" if port != 443 else "")
    env = {"GOPROXY": scheme_host, "HTTP_PROXY": squid_url, "HTTPS_PROXY": squid_url}
    if shape == "no-proxy":
        env["NO_PROXY"] = ".corp.test"
    obs = case.note(topo.go(**env).run("mod", "download", "-json", LIB, timeout=20))
    via_squid = [r for r in obs.requests if r.server == SQUID]
    at_upstream = obs.requests_to(PROXY)
    case.fact(ok=obs.ok, error_line=obs.error_line, via_squid=[f"{r.method} {r.path} {r.status} "
                                                                f"{r.detail.get('result')}" for r in via_squid])
    denied_at_vpath = [r for r in via_squid if r.status == 403 and "@v/" in r.path]
    case.claim("C3.7", CONFIRMED if denied_at_vpath else REFUTED,
               f"squid {shape}: {obs.error_line or 'ok'}; "
               + ("denied by a rule that does not look at @v/: " if via_squid and via_squid[0].status == 403 and
                  not denied_at_vpath else "") + f"{[str(r) for r in via_squid][:3]}")

    case.expect("the watchdog ends it", obs.timed_out, False)
    expect_ok = shape in ("http", "https-443", "https-8443-allowed", "no-proxy")
    case.expect("go mod download succeeds", obs.ok, expect_ok, detail=obs.errors)
    if shape == "no-proxy":
        assert not via_squid and at_upstream, "NO_PROXY matched: go must have gone straight to the proxy"
    elif shape != "proxy-down":
        assert via_squid, "every request must show in squid's access log"
    if shape == "https-8443":       # Debian's `http_access deny CONNECT !SSL_ports`
        assert via_squid[0].method == "CONNECT" and via_squid[0].status == 403 and not at_upstream, via_squid
    if shape == "debian-default":   # only localhost may use Debian's squid
        assert via_squid[0].status == 403 and not at_upstream, via_squid
    if shape == "intercept":
        assert "certificate signed by unknown authority" in obs.errors, obs.errors
    if shape == "proxy-down":
        assert "proxyconnect" in obs.errors and "refused" in obs.errors, obs.errors


@pytest.mark.claims("C3.5", "C3.6", "C3.7", "C3.8")
@pytest.mark.parametrize("sep", [",", "|"], ids=["comma", "pipe"])
@pytest.mark.parametrize("middleware,variant", [("nginx", "article"), ("envoy", "article-valid"), ("squid", "article")])
def test_the_articles_snippets(topo, case, middleware, variant, sep):
    """The article's own snippets, run as written (where they are valid config) with a second proxy behind
    them: what each does to real go traffic."""
    up = topo.upstream(PROXY)
    topo.upstream(PROXY_B)
    mw, env = route(topo, middleware, "article-http" if middleware == "squid" else variant, up)
    env["GOPROXY"] = env["GOPROXY"] + f"{sep}http://{PROXY_B}"
    obs = case.note(topo.go(**env).run("mod", "download", "-json", LIB))
    at_mw = [r for r in obs.requests if r.server == mw.host]
    at_b = obs.requests_to(PROXY_B)
    statuses = sorted({r.status for r in at_mw})
    reached_upstream = bool(obs.requests_to(PROXY))
    case.fact(middleware_statuses=statuses, reached_upstream=reached_upstream, fell_back=bool(at_b),
              ok=obs.ok, error_line=obs.error_line)
    claim = {"nginx": "C3.5", "envoy": "C3.6", "squid": "C3.7"}[middleware]
    if middleware == "squid":
        verdict = CONFIRMED if statuses == [403] else REFUTED     # its own deny rule does block @v/
        case.claim(claim, PARTLY if verdict == CONFIRMED else REFUTED,
                   f"the article's `url_regex -i @v/` deny answers {statuses} for every go request; it blocks "
                   f"only because the article adds that rule (Debian's defaults have none)")
    else:
        # the article's rule is its fix: it works only if go's requests reach the upstream through it
        case.claim(claim, CONFIRMED if reached_upstream else REFUTED,
                   f"the article's ^/@v/ rule matched "
                   + ("go's paths" if reached_upstream else "none of go's paths (/example.com/lib/@v/...)")
                   + f": {middleware} answered {statuses}; '{sep}' fell back={bool(at_b)}")
    html_404 = [r for r in at_mw if r.status == 404]
    case.claim("C3.8", PARTLY if html_404 and at_b else REFUTED,
               f"{middleware}'s own 404 (no Accept involved: go sends none) made go "
               + ("try the next entry, a proxy, not git" if at_b else "stop"))

    assert at_mw, "go must have asked the middleware"
    case.expect("the snippet's rule matches go's paths", reached_upstream, False)
    if middleware == "squid":
        # The article's deny rule answers 403 for every @v/ URL, of either proxy: go reaches both through
        # squid, so '|' only gets a second 403.
        case.expect("the middleware's answers", statuses, [403])
        case.expect("go mod download succeeds", obs.ok, False, detail=obs.errors)
        case.expect("go falls back to the next proxy", bool(at_b), False)
        asked_b_via_squid = any(PROXY_B in r.path for r in at_mw)
        assert asked_b_via_squid == (sep == "|"), at_mw
    else:
        # The paths are /example.com/lib/@v/...: never "^/@v/". Nginx and Envoy answer 404, and go falls
        # back to the next entry with both separators.
        case.expect("the middleware's answers", statuses, [404])
        case.expect("go falls back to the next proxy", bool(at_b), True)
        case.expect("go mod download succeeds", obs.ok, True, detail=obs.errors)


def test_articles_envoy_snippet_as_printed_is_rejected(topo, case):
    """The article's Envoy snippet exactly as printed puts request_headers_to_add inside `route:` (the route
    action), which has no such field: Envoy's own validation rejects the config before anything runs."""
    case.params["middleware"], case.params["variant"] = "envoy", "article"
    up = topo.upstream(PROXY)
    mw = topo.envoy(MIRROR, "article", upstream=up)
    try:
        mw.container
        message = None
    except ConfigRejected as err:
        message = str(err)
    case.fact(rejected=message.splitlines()[1] if message and len(message.splitlines()) > 1 else message)
    case.expect("envoy rejects the config", message is not None)
    assert "request_headers_to_add" in message and "rendered config:" in message, message


# A value each program's own checker rejects, and what its message names.
REJECTED = {"haproxy": ({"server_timeout": "2 fortnights"}, "'timeout server'"),
            "varnish": ({"first_byte_timeout": "2 fortnights", "between_bytes_timeout": "2s"}, "Unknown duration unit"),
            "apache": ({"timeout": "2 fortnights"}, "ProxyTimeout")}


@pytest.mark.parametrize("middleware", list(REJECTED))
def test_a_config_the_checker_rejects(topo, case, middleware):
    """A timeouts variant given a value the program does not take: its own checker (haproxy -c, varnishd -C,
    apache2 -t) rejects the config before anything runs, and the error names the message and the line."""
    case.params["variant"] = "timeouts"
    values, said = REJECTED[middleware]
    mw = topo.middleware(middleware, MIRROR, "timeouts", upstream=topo.upstream(PROXY), **values)
    with pytest.raises(ConfigRejected) as err:
        mw.container
    message = str(err.value)
    case.fact(rejected=[line for line in message.splitlines() if said in line][:1])
    assert said in message, message
    # the excerpt marks the line the checker named: the one holding the bad value
    marked = [line for line in message.splitlines() if line.startswith(">")]
    assert len(marked) == 1 and "fortnights" in marked[0], message


@pytest.mark.claims("C2.7")
@pytest.mark.parametrize("redirect", ["other-host", "https-to-http", "loop"])
def test_proxy_redirects(topo, case, redirect):
    """A proxy answering 302: to another proxy (that sends no X-Go-Module), from https to http, in a loop."""
    up = topo.upstream(PROXY)
    topo.upstream(PROXY_B)
    target = {"other-host": f"http://{PROXY_B}", "https-to-http": f"http://{PROXY_B}"}
    scheme = "http" if redirect == "other-host" else "https"
    go = topo.go(GOPROXY=f"{scheme}://{PROXY}")
    if redirect == "loop":
        up.fault(r"^/", "redirect", location=f"https://{PROXY}/example.com/lib/@v/v1.0.0.info")
    else:      # every file sent to the same path on the other host
        for suffix in ("info", "mod", "zip"):
            up.fault(rf"^/example\.com/lib/@v/v1\.0\.0\.{suffix}$", "redirect",
                     location=f"{target[redirect]}/example.com/lib/@v/v1.0.0.{suffix}")
    obs = case.note(go.run("mod", "download", "-json", LIB))
    hops_a, hops_b = len(obs.requests_to(PROXY)), len(obs.requests_to(PROXY_B))
    case.fact(ok=obs.ok, error_line=obs.error_line, requests_to_proxy=hops_a, requests_to_b=hops_b)
    # Only a hop refused over its X-Go-Module header bears the article out.
    if "X-Go-Module" in obs.errors:
        case.claim("C2.7", CONFIRMED, f"go refused the hop by its X-Go-Module header: {obs.error_line}")
    elif redirect == "other-host":
        case.claim("C2.7", REFUTED, "go followed 302s to another host that sent no X-Go-Module header and "
                   + ("took its .info/.mod/.zip" if obs.ok else f"failed otherwise: {obs.error_line}"))
    elif redirect == "https-to-http":
        case.claim("C2.7", REFUTED, f"go refused the hop itself, by scheme, not by header: {obs.error_line}")
    else:
        case.claim("C2.7", REFUTED, f"a loop ends after 10 redirects ({hops_a} requests): {obs.error_line}")

    case.expect("go mod download succeeds", obs.ok, redirect == "other-host", detail=obs.errors)
    if redirect == "other-host":
        case.expect("requests to the other host", hops_b, 3)
    elif redirect == "https-to-http":
        assert "redirected from secure URL" in obs.errors and hops_b == 0, obs.errors
    else:
        assert "stopped after 10 redirects" in obs.errors and hops_a == 10, (hops_a, obs.errors)


@pytest.mark.claims("C3.2")
@pytest.mark.parametrize("middleware", ["nginx", "envoy"])
def test_go_get_x_through_middleware(topo, case, middleware):
    """`go get -x`: what it prints of the proxy requests, compared with the middleware's access log."""
    up = topo.upstream(PROXY)
    mw, env = route(topo, middleware, "plain", up)
    go = topo.go(**env)
    go.write({"go.mod": "module example.com/app\n\ngo 1.21\n"})
    obs = case.note(go.run("get", "-x", LIB))
    shown = re.findall(r"^# get (\S+)", obs.stderr, re.M)
    logged = [mw.url + r.path for r in obs.requests if r.server == mw.host]
    case.fact(shown=sorted(shown), logged=sorted(logged))     # go fetches in parallel: the order varies
    case.claim("C3.2", CONFIRMED if shown and set(logged) <= set(shown) else REFUTED,
               f"`go get -x` printed {len(shown)} '# get' lines, one per request in {middleware}'s log "
               f"({len(logged)}), with status and time")

    case.expect("go get succeeds", obs.ok, detail=obs.errors)
    case.expect("requests -x did not show", sorted(set(logged) - set(shown)), [])


# A CDN edge (Varnish) in front of the proxy, TTL 1 s for answers without Cache-Control: upstream Cache-Control on
# @v/list → (its header, the cache variant's values, whether the upstream is down once the TTL has passed).
EDGE = {
    "none": (None, {"ttl": "1s", "grace": "0s"}, False),
    "max-age=1": ("max-age=1", {"grace": "0s"}, False),
    "s-maxage=1": ("s-maxage=1, max-age=3600", {"grace": "0s"}, False),
    "no-store": ("no-store", {"ttl": "1s"}, False),
    # grace from stale-while-revalidate, and the upstream answering 503 once the TTL has passed
    "swr-upstream-down": ("max-age=1, stale-while-revalidate=10", {}, True),
}


@pytest.mark.claims("C4.5")
@pytest.mark.parametrize("headers", list(EDGE))
def test_varnish_ttl_and_grace(topo, case, headers):
    """Varnish caches @v/list; v1.3.0 is published. `go list -m -versions` at once, just after the TTL (1 s), and
    once more: when does go see the new version, and what does grace serve while the upstream is down?"""
    cache_control, values, down = EDGE[headers]
    up = topo.upstream(PROXY)
    if cache_control:
        up.fault(r"/@v/list$", "headers", headers={"Cache-Control": cache_control})
    mw, env = route(topo, "varnish", "cache", up, **values)
    go = topo.go(**env)
    filled = go.run("list", "-m", "-versions", "example.com/lib")
    up.publish("example.com_lib_v1.3.0.txt", "-- .mod --\nmodule example.com/lib\n-- go.mod --\nmodule example.com/lib\n"
               "-- lib.go --\npackage lib\n")
    at_once = go.run("list", "-m", "-versions", "example.com/lib")
    if down:
        up.clear_faults()
        up.fault(r"/@v/list$", "status", code=503)
    case.wait(1.2, "the 1 s TTL to pass")
    after_ttl = go.run("list", "-m", "-versions", "example.com/lib")
    again = case.note(go.run("list", "-m", "-versions", "example.com/lib"))
    runs = {"at_once": at_once, "after_ttl": after_ttl, "again": again}
    sees = {k: "v1.3.0" in o.stdout for k, o in runs.items()}
    at_mw = {k: [r for r in o.requests if r.server == mw.host] for k, o in runs.items()}
    case.fact(sees_v1_3_0=sees, ok={k: o.ok for k, o in runs.items()},
              cache={k: [r.detail.get("cache") + (" stale" if r.detail.get("stale") else "") for r in rs]
                     for k, rs in at_mw.items()},
              upstream_asked={k: len(o.requests_to(PROXY, r"/@v/list$")) for k, o in runs.items()})
    stale_answers = [k for k, seen in sees.items() if not seen and runs[k].ok]
    case.claim("C4.5", REFUTED if not any(r.headers.get("Cache-Control") for rs in at_mw.values() for r in rs)
               else PARTLY, f"varnish, upstream Cache-Control {cache_control!r} {values}: go saw v1.3.0 "
               f"{sees}; stale lists {stale_answers or 'none'}; go sent no Cache-Control to make the edge revalidate")

    assert filled.ok and all(at_mw.values()), (filled.errors, at_mw)
    case.expect("go sees the new version at once", sees["at_once"], headers == "no-store")
    # Grace serves the stale list once the TTL has passed and fetches anew in the background; without grace the
    # first request after the TTL fetches. A 503 from that background fetch does not keep the stale list: it
    # replaces it (Varnish 7.1's built-in VCL), so the next request goes to the upstream and fails.
    case.expect("go sees it just after the TTL", sees["after_ttl"], not down)
    case.expect("go sees it on the next request", sees["again"], not down)
    case.expect("go list succeeds just after the TTL", after_ttl.ok, True, detail=after_ttl.errors)
    case.expect("go list succeeds on the next request", again.ok, not down, detail=again.errors)


# A mirror that asks for credentials: the programs' own basic auth (their `auth` variants; Squid's is the forward
# proxy's: scenarios/test_proxy_auth.py). cmd/go/internal/web refuses to send a URL's userinfo over http unless
# the fetch is an insecure one, and adds GOAUTH's (.netrc) credentials to https requests only; whether GOINSECURE
# naming the mirror makes go's GOPROXY fetches insecure is what the case observes.
AUTH_SECRET = "mirr0r-s3cret"
AUTH_FORMS = {     # how go is given credentials -> (GOPROXY, the client's .netrc, GOINSECURE)
    "none": (f"http://{MIRROR}", None, None),
    "in GOPROXY": (f"http://gopher:{AUTH_SECRET}@{MIRROR}", None, None),
    "in GOPROXY, GOINSECURE": (f"http://gopher:{AUTH_SECRET}@{MIRROR}", None, MIRROR),
    ".netrc": (f"http://{MIRROR}", f"machine {MIRROR} login gopher password {AUTH_SECRET}\n", None),
    ".netrc, GOINSECURE": (f"http://{MIRROR}", f"machine {MIRROR} login gopher password {AUTH_SECRET}\n", MIRROR),
}


@pytest.mark.parametrize("middleware", [m for m in BOXES if m != "squid" and "auth" in PROGRAMS[m].variants()])
def test_mirror_behind_basic_auth(topo, case, middleware):
    """A plain-HTTP GOPROXY mirror behind the program's own basic auth: go given no credentials, credentials in
    GOPROXY's userinfo (right and wrong), and a .netrc entry for the mirror (GOAUTH's default), with and without
    GOINSECURE naming it. What the mirror answered, whether go got the module, what it printed, and whether it
    ever printed the password (with -x)."""
    up = topo.upstream(PROXY)
    mw = getattr(topo, middleware)(MIRROR, "auth", upstream=up, user="gopher", password=AUTH_SECRET)
    go = topo.go()
    seen = {}
    for n, (form, (goproxy, netrc, goinsecure)) in enumerate(AUTH_FORMS.items()):
        go.sh("rm -f /root/.netrc" + (f"; printf %s '{netrc}' >/root/.netrc" if netrc else ""), record=False)
        obs = case.note(go.run("mod", "download", "-x", "-json", LIB, timeout=10,
                               env={"GOPROXY": goproxy, "GOINSECURE": goinsecure, "GOMODCACHE": f"/root/go/pkg/mod-{n}"}))
        seen[form] = {"ok": obs.ok, "statuses": sorted({r.status for r in obs.requests if r.server == mw.host}),
                      "error_line": obs.error_line, "password_printed": AUTH_SECRET in obs.stdout + obs.stderr,
                      "timed_out": obs.timed_out}
    case.fact(**seen)

    case.expect("the watchdog ends one", any(s["timed_out"] for s in seen.values()), False)
    case.expect("go prints the password", {f: s["password_printed"] for f, s in seen.items()},
                {f: False for f in AUTH_FORMS})
    # An http:// mirror behind basic auth cannot be authenticated to at all.
    case.expect("go sends the credentials and gets the module", {f: s["ok"] for f, s in seen.items()},
                {f: False for f in AUTH_FORMS})
    refused = {f: "refusing to pass credentials to insecure URL" in seen[f]["error_line"] and not seen[f]["statuses"]
               for f in AUTH_FORMS if "in GOPROXY" in f}
    case.expect("go refuses a URL's credentials over http, before any request", refused, {f: True for f in refused})
    case.expect("the mirror answers 401 to the .netrc forms", {f: seen[f]["statuses"] for f in AUTH_FORMS if ".netrc" in f},
                {f: [401] for f in AUTH_FORMS if ".netrc" in f})
    assert seen["none"]["statuses"] == [401], seen["none"]
