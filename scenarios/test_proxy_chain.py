"""The GOPROXY chain: which failures of one proxy make go try the next entry, and which stop it.

`go help goproxy`: entries joined by `,` fall back only when a proxy answers 404 or 410; entries
joined by `|` fall back on any error; `direct` ends the list (later entries are ignored) and `off`
fails. The article says a 10 s timeout, a 404 or any 5xx falls back (C3.3), that an intercepted or
timing-out proxy is skipped (C1.3), that GOPROXY=off can't be used with modules (C3.1), and that
three failures trip a 30 s circuit breaker (C3.4).
"""
import pytest

from fixtures.claims import CONFIRMED, PARTLY, REFUTED

A, B, ORIGIN = "proxy-a.corp.test", "proxy-b.corp.test", "example.com"
MOD = "example.com/lib@v1.0.0"
# Longer than the article's "default 10 s per hop", so a 10 s timeout would show as a fallback.
HANG_WATCHDOG_S = 20

# How proxy A fails. Each maps to (topology keyword arguments, fault rule or None).
FAILURES = {
    "404": ({}, {"action": "status", "code": 404, "body": "not found: example.com/lib@v1.0.0"}),
    "410": ({}, {"action": "status", "code": 410, "body": "gone: example.com/lib@v1.0.0"}),
    "403": ({}, {"action": "status", "code": 403, "body": "forbidden by corporate policy"}),
    "500": ({}, {"action": "status", "code": 500, "body": "internal error"}),
    "html-200": ({}, {"action": "html"}),                 # a captive portal / login page answering 200
    "reset": ({}, {"action": "reset"}),                   # TCP RST, as a dropping firewall sends
    "refused": ({"listen": False}, None),                 # the name resolves, nothing listens
    "hang": ({}, {"action": "hang"}),                     # accepts, reads the request, never answers
}


def failing_proxy(topo, failure: str):
    kwargs, rule = FAILURES[failure]
    up = topo.upstream(A, **kwargs)
    if rule:
        up.fault(r"/example\.com/", **rule)
    return up


def go_falls_back(failure: str, sep: str) -> bool:
    """The rule of `go help goproxy`: `|` on any error, `,` only on 404 and 410. A hang is no error."""
    if failure == "hang":
        return False
    return sep == "|" or failure in ("404", "410")


@pytest.mark.claims("C3.3")
@pytest.mark.parametrize("sep", [",", "|"], ids=["comma", "pipe"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_second_proxy_after_failure(topo, case, failure, sep):
    failing_proxy(topo, failure)
    topo.upstream(B)
    go = topo.go(GOPROXY=f"http://{A}{sep}http://{B}")
    timeout = HANG_WATCHDOG_S if failure == "hang" else 30
    obs = case.note(go.run("mod", "download", "-json", MOD, timeout=timeout))

    fell_back = bool(obs.requests_to(B))
    case.fact(fell_back=fell_back, asked=obs.servers_asked(), error_line=obs.error_line)
    if failure != "refused":
        assert obs.requests_to(A), "proxy A must have been asked first"
    assert fell_back == go_falls_back(failure, sep), obs.errors
    if failure == "hang":
        assert obs.timed_out, f"go gave up on a silent proxy after {obs.duration_s:.1f} s: it has a timeout"
    elif failure == "html-200":
        # A 200 is an answer, not an error: the page is taken as .info/.mod/.zip content. With '|' the
        # unparsable .info falls back, but the next file is asked of A again and its HTML breaks the fetch.
        assert not obs.ok, obs.errors
    else:
        assert obs.ok == fell_back, obs.errors

    # C3.3: "a timeout, a 404 or a 5xx makes go fall back" with a 10 s default timeout per hop.
    if failure in ("404", "410"):
        case.claim("C3.3", CONFIRMED if fell_back else REFUTED, f"{failure} with '{sep}': fell back={fell_back}")
    elif failure == "500":
        verdict = REFUTED if not fell_back else (PARTLY if sep == "|" else CONFIRMED)
        case.claim("C3.3", verdict, f"500 with '{sep}': fell back={fell_back}"
                   + (" (only because '|' falls back on any error)" if sep == "|" and fell_back else ""))
    elif failure == "hang":
        case.claim("C3.3", REFUTED if obs.timed_out else CONFIRMED,
                   f"silent proxy with '{sep}': no answer and no fallback after {obs.duration_s:.1f} s "
                   f"(watchdog {HANG_WATCHDOG_S} s)" if obs.timed_out else
                   f"gave up after {obs.duration_s:.1f} s; fell back={fell_back}")
    else:
        case.claim("C3.3", PARTLY if fell_back else REFUTED,
                   f"{failure} with '{sep}': fell back={fell_back}; the claim lists only timeouts, 404 and 5xx")


# HTTPS proxies (the run's CA is the client's only trusted one): how A fails at the TLS layer.
TLS_FAILURES = {
    "handshake never completes": ({"tls": "hang-handshake"}, None),   # accepts TCP, never speaks TLS
    "silent after handshake": ({}, {"action": "hang"}),                 # TLS fine, no HTTP answer
    "untrusted certificate": ({"tls": "untrusted"}, None),              # signed by a CA go doesn't know
}


@pytest.mark.claims("C3.3")
@pytest.mark.parametrize("sep", [",", "|"], ids=["comma", "pipe"])
@pytest.mark.parametrize("failure", list(TLS_FAILURES))
def test_second_https_proxy_after_tls_failure(topo, case, failure, sep):
    kwargs, rule = TLS_FAILURES[failure]
    up = topo.upstream(A, **kwargs)
    if rule:
        up.fault(r"/example\.com/", **rule)
    topo.upstream(B)
    go = topo.go(GOPROXY=f"https://{A}{sep}https://{B}")
    # A handshake that never completes costs 10 s per file go fetches (.info, .mod, .zip) with '|'.
    timeout = 60 if failure == "handshake never completes" else HANG_WATCHDOG_S
    obs = case.note(go.run("mod", "download", "-json", MOD, timeout=timeout))
    fell_back = bool(obs.requests_to(B))
    connections_to_a = len(obs.requests_to(A))
    case.fact(fell_back=fell_back, duration_s=round(obs.duration_s, 2), timed_out=obs.timed_out,
              connections_to_a=connections_to_a, error_line=obs.error_line)
    assert connections_to_a, "A must have seen the connection (or the request) first"
    if failure == "silent after handshake":
        assert obs.timed_out and not fell_back, "no timeout applies once TLS is up"
    else:
        # An error (not a 404/410): only '|' falls back. The handshake is bounded by net/http's
        # TLSHandshakeTimeout, 10 s.
        assert fell_back == (sep == "|") and obs.ok == (sep == "|"), obs.errors
        assert not obs.timed_out
        if failure == "handshake never completes":
            assert "TLS handshake timeout" in obs.errors or fell_back, obs.errors
            # every file go fetched tried A first and waited out the 10 s handshake timeout again
            assert 9.5 * connections_to_a <= obs.duration_s < 10.5 * connections_to_a + 2, \
                f"{obs.duration_s:.1f} s for {connections_to_a} connections to A"
        else:
            assert "certificate signed by unknown authority" in obs.errors or fell_back, obs.errors
    if failure == "handshake never completes":
        verdict = PARTLY    # a 10 s bound exists, but for the TLS handshake only, and only '|' falls back
    elif failure == "silent after handshake":
        verdict = REFUTED
    else:
        verdict = PARTLY if fell_back else REFUTED
    case.claim("C3.3", verdict, f"https proxy, {failure}, '{sep}': after {obs.duration_s:.1f} s "
               + ("the watchdog fired" if obs.timed_out else f"fell back={fell_back}")
               + (f"; {obs.error_line}" if obs.error_line else ""))


@pytest.mark.claims("C1.3")
@pytest.mark.parametrize("failure", ["403", "html-200", "reset", "hang"])
def test_intercepted_proxy_then_direct(topo, case, failure):
    """GOPROXY=<proxy>,direct (the default shape) with the proxy intercepted or silent: is direct tried?
    The module's origin answers on the network (over plain HTTP thanks to GOINSECURE), so a direct
    attempt shows up in its request log as the go-get discovery request."""
    failing_proxy(topo, failure)
    topo.upstream(ORIGIN)
    go = topo.go(GOPROXY=f"http://{A},direct", GOINSECURE=ORIGIN)
    timeout = HANG_WATCHDOG_S if failure == "hang" else 30
    obs = case.note(go.run("mod", "download", "-json", MOD, timeout=timeout))

    tried_direct = bool(obs.requests_to(ORIGIN, r"go-get=1"))
    case.fact(tried_direct=tried_direct, timed_out=obs.timed_out, error_line=obs.error_line)
    assert obs.requests_to(A)
    assert tried_direct is False, "',' must not fall back to direct after a non-404 failure"
    assert not obs.ok
    if failure == "hang":
        assert obs.timed_out
    case.claim("C1.3", REFUTED if not tried_direct else CONFIRMED,
               f"proxy {failure}: direct tried={tried_direct}, "
               + (f"hung until the {HANG_WATCHDOG_S} s watchdog" if obs.timed_out else f"error: {obs.error_line}"))


def test_not_found_everywhere_then_direct(topo, case):
    """The control for the test above: a 404 does fall through to direct, which asks the origin."""
    failing_proxy(topo, "404")
    topo.upstream(ORIGIN)
    go = topo.go(GOPROXY=f"http://{A},direct", GOINSECURE=ORIGIN)
    obs = case.note(go.run("mod", "download", "-json", MOD))
    assert obs.requests_to(A) and obs.requests_to(ORIGIN, r"go-get=1"), obs.errors
    assert not obs.ok     # the origin is no VCS host: direct fails, after being tried
    case.fact(error_line=obs.error_line)


@pytest.mark.parametrize("goproxy, asked, not_asked", [
    (f"direct,http://{B}", [ORIGIN], [B]),          # direct ends the list: later entries are ignored
    (f"off,http://{B}", [], [B, ORIGIN]),          # off fails at once
    (f"http://{A},off", [A], [ORIGIN]),             # A answers 404, then off
], ids=["direct-first", "off-first", "404-then-off"])
def test_direct_and_off_entries(topo, case, goproxy, asked, not_asked):
    topo.upstream(A).fault(r"/example\.com/", "status", code=404)
    topo.upstream(B)
    topo.upstream(ORIGIN)
    go = topo.go(GOPROXY=goproxy, GOINSECURE=ORIGIN)
    obs = case.note(go.run("mod", "download", "-json", MOD))
    case.fact(asked=obs.servers_asked(), error_line=obs.error_line)
    assert not obs.ok
    for host in asked:
        assert obs.requests_to(host), f"{host} should have been asked"
    for host in not_asked:
        assert not obs.requests_to(host), f"{host} should not have been asked"
    if "off" in goproxy:
        assert "disabled by GOPROXY=off" in obs.errors


@pytest.mark.claims("C3.1")
def test_goproxy_off_with_modules_on(topo, case):
    """GOPROXY=off with GO111MODULE=on: does it refuse to work, or does it just forbid network lookups?"""
    topo.upstream(A)
    go = topo.go(GOPROXY=f"http://{A}", GO111MODULE="on")
    go.write({"go.mod": "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v1.0.0\n",
              "main.go": 'package main\n\nimport "example.com/lib"\n\nfunc main() { println(lib.Version()) }\n'})
    assert go.run("mod", "download").ok
    cached = case.note(go.run("build", "-o", "/tmp/app", ".", env={"GOPROXY": "off"}))
    uncached = go.run("mod", "download", "example.com/util@v1.0.0", env={"GOPROXY": "off"})
    case.fact(build_from_cache_ok=cached.ok, uncached_error=uncached.error_line)
    assert cached.ok, cached.errors
    assert not uncached.ok and "disabled by GOPROXY=off" in uncached.errors
    assert not cached.requests and not uncached.requests, "GOPROXY=off must not reach the proxy"
    case.claim("C3.1", REFUTED if cached.ok else CONFIRMED,
               "GO111MODULE=on GOPROXY=off builds from the module cache; only a lookup of a module that is "
               f"not cached fails: {uncached.error_line}")


@pytest.mark.claims("C3.4")
def test_no_circuit_breaker(topo, case):
    """Three (and more) consecutive failures of a proxy within 30 s: is it skipped afterwards?
    A answers 500 to everything; with `|` each command falls back to B. A circuit breaker would
    show as A receiving no request from the later commands."""
    topo.upstream(A).fault(r".*", "status", code=500)
    topo.upstream(B)
    go = topo.go(GOPROXY=f"http://{A}|http://{B}")
    per_command = []
    for mod in ["example.com/lib@v1.0.0", "example.com/lib@v1.1.0", "example.com/util@v1.0.0",
                "example.com/Upper@v1.0.0", "example.com/lib@v1.2.0-0.20240701000000-abcdefabcdef"]:
        obs = go.run("mod", "download", "-json", mod)
        assert obs.ok, obs.errors
        per_command.append(len(obs.requests_to(A)))
    first, last = topo.observations[0], topo.observations[-1]
    window = last.duration_s + (last.requests[-1].t - first.requests[0].t if last.requests else 0)
    case.fact(requests_to_failing_proxy_per_command=per_command, window_s=round(window, 1))
    breaker = any(n == 0 for n in per_command[3:])
    assert not breaker, f"A was skipped after three failures: {per_command}"
    case.claim("C3.4", REFUTED if not breaker else CONFIRMED,
               f"requests to the failing proxy per command: {per_command} within {window:.1f} s")


def test_version_published_while_running(topo, case):
    """A release published between two commands: does @latest follow it, or does a cached list win?"""
    proxy = topo.upstream(A)
    go = topo.go(GOPROXY=f"http://{A}")
    before = go.run("list", "-m", "-json", "example.com/lib@latest", cwd="/tmp")
    release = (topo.session.module_files["example.com_lib_v1.1.0.txt"].decode()
               .replace("v1.1.0", "v1.3.0").replace("2024-06-01", "2024-09-01"))
    proxy.publish("example.com_lib_v1.3.0.txt", release)
    after = case.note(go.run("list", "-m", "-json", "example.com/lib@latest", cwd="/tmp"))
    versions = [obs.json_objects()[0]["Version"] for obs in (before, after)]
    case.fact(latest_before_and_after=versions, list_requests=len(after.requests_to(A, r"/@v/list$")))
    assert versions == ["v1.1.0", "v1.3.0"], versions
    assert after.requests_to(A, r"/@v/list$"), "each query asks the proxy for the version list again"
