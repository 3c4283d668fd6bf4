"""The GOPROXY chain: which failures of one proxy make go try the next entry, and which stop it.

`go help goproxy`: entries joined by `,` fall back only when a proxy answers 404 or 410; entries
joined by `|` fall back on any error; `direct` ends the list (later entries are ignored) and `off`
fails. The article says a 10 s timeout, a 404 or any 5xx falls back (C3.3), that an intercepted or
timing-out proxy is skipped (C1.3), that GOPROXY=off can't be used with modules (C3.1), and that
three failures trip a 30 s circuit breaker (C3.4).

The single-shot cases (direct and off entries, GOPROXY=off, the circuit breaker, a version
published while running) are scripts: scenarios/script/proxy_*.txt.
"""
import pytest

from fixtures.record.claims import CONFIRMED, PARTLY, REFUTED

A, B, ORIGIN = "proxy-a.corp.test", "proxy-b.corp.test", "example.com"
MOD = "example.com/lib@v1.0.0"
# Longer than the article's "default 10 s per hop", so a 10 s timeout would show as a fallback.
HANG_WATCHDOG_S = 12

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

    if failure != "refused":
        case.expect("proxy A is asked first", bool(obs.requests_to(A)))
    case.expect("go falls back to the next proxy", fell_back, go_falls_back(failure, sep), detail=obs.errors)
    if failure == "hang":
        case.expect("the watchdog ends it", obs.timed_out,
                    detail=f"go gave up on a silent proxy after {obs.duration_s:.1f} s: it has a timeout")
    else:
        # html-200: a 200 is an answer, not an error: the page is taken as .info/.mod/.zip content. With '|'
        # the unparsable .info falls back, but the next file is asked of A again and its HTML breaks the fetch.
        case.expect("go mod download succeeds", obs.ok, fell_back and failure != "html-200", detail=obs.errors)


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
    if failure == "untrusted certificate":
        # go hangs up on A's certificate, and A logs the failed handshake when it sees that: maybe after
        # go exited and the command's requests were collected (as in test_sumdb.py's GOSUMDB settings).
        up.wait_for_request(r"^$", timeout=3)
    connections_to_a = len(up.requests())       # the case's only command
    case.fact(fell_back=fell_back, duration_s=round(obs.duration_s, 2), timed_out=obs.timed_out,
              connections_to_a=connections_to_a, error_line=obs.error_line)
    if failure == "untrusted certificate":
        verdict = PARTLY if fell_back else REFUTED
    else:
        # A proxy that never answers: waited out by the watchdog, no timeout at all. A bound that does not fall
        # back, or only with '|' (the TLS handshake's 10 s, today), is half the claim.
        verdict = REFUTED if obs.timed_out else CONFIRMED if fell_back and sep == "," else PARTLY
    case.claim("C3.3", verdict, f"https proxy, {failure}, '{sep}': after {obs.duration_s:.1f} s "
               + ("the watchdog fired" if obs.timed_out else f"fell back={fell_back}")
               + (f"; {obs.error_line}" if obs.error_line else ""))

    assert connections_to_a, "A must have seen the connection (or the request) first"
    if failure == "silent after handshake":
        # no timeout applies once TLS is up
        case.expect("the watchdog ends it", obs.timed_out)
        case.expect("go falls back to the next proxy", fell_back, False)
        return
    # An error (not a 404/410): only '|' falls back. The handshake is bounded by net/http's
    # TLSHandshakeTimeout, 10 s.
    case.expect("go falls back to the next proxy", fell_back, sep == "|", detail=obs.errors)
    case.expect("go mod download succeeds", obs.ok, sep == "|", detail=obs.errors)
    case.expect("the watchdog ends it", obs.timed_out, False)
    if failure == "handshake never completes":
        assert "TLS handshake timeout" in obs.errors or fell_back, obs.errors
        # every file go fetched tried A first and waited out the 10 s handshake timeout again
        assert 9.5 * connections_to_a <= obs.duration_s < 10.5 * connections_to_a + 2, \
            f"{obs.duration_s:.1f} s for {connections_to_a} connections to A"
    else:
        assert "certificate signed by unknown authority" in obs.errors or fell_back, obs.errors


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
    case.claim("C1.3", REFUTED if not tried_direct else CONFIRMED,
               f"proxy {failure}: direct tried={tried_direct}, "
               + (f"hung until the {HANG_WATCHDOG_S} s watchdog" if obs.timed_out else f"error: {obs.error_line}"))

    case.expect("proxy A is asked first", bool(obs.requests_to(A)))
    # ',' falls back only after a 404 or 410
    case.expect("go falls back to direct", tried_direct, False)
    case.expect("go mod download succeeds", obs.ok, False, detail=obs.errors)
    if failure == "hang":
        case.expect("the watchdog ends it", obs.timed_out)
