"""A 4xx over https is asked twice. Since go1.24 (GOAUTH), cmd/go/internal/web/http.go answers a 4xx to an https
GET by running GOAUTH's commands with the URL and asking again at once, in a request it builds anew: with
GOAUTH's credentials, but without the User-Agent go gave the first one (go1.27 names itself `GoCommand/1`; the
second request carries net/http's default `Go-http-client/1.1`). Whatever the status means (404: the module is
not there; 429: ask less), whatever GOAUTH is (`off` adds no credentials and still asks again), and never over
http (GOAUTH's credentials are for https only).

What users meet: a mirror's logs and rate limits count every 404 and 429 twice; and a web application firewall
whose bot rule blocks net/http's default User-Agent (real nginx in front of the mirror, its `waf` variant) lets
go1.27's first request through and answers the second 403: the 404 that made `GOPROXY=mirror,direct` go on to
direct becomes a 403 that stops it.
"""
import pytest

PROXY, WAF, ORIGIN = "proxy.corp.test", "waf.corp.test", "example.com"
MODULE = "example.com/lib"
LIB = f"{MODULE}@v1.0.0"
INFO = r"^/example\.com/lib/@v/v1\.0\.0\.info$"
NETRC_LOGIN, NETRC_SECRET = "gopher", "n3trc-s3cret"
GO_UA = "GoCommand/1 (+https://go.dev/cmd/go)"        # go1.27 on
NET_HTTP_UA = "Go-http-client/1.1"                    # net/http's own, when a request sets none
STATUSES = (401, 403, 404, 410, 429)
WATCHDOG_S = 10


def asked(obs, server: str, path: str = INFO) -> list[dict]:
    """What each request for `path` at `server` carried: its status, User-Agent, and whether it had credentials."""
    return [{"status": r.status, "user_agent": r.headers.get("User-Agent"),
             "credentials": "Authorization" in r.headers} for r in obs.requests_to(server, path)]


@pytest.mark.parametrize("goauth", ["netrc", "off"])
@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("status", STATUSES)
def test_a_4xx_is_asked_again(topo, case, status, scheme, goauth):
    """The mirror answers the version's .info `status` (401 with a Basic challenge); the client's .netrc has an
    entry for the mirror, GOAUTH is `goauth` (its default is netrc; releases before 1.24 know no GOAUTH: .netrc
    always). How many times go asks, with which User-Agent and credentials each time, and what it says."""
    up = topo.upstream(PROXY)
    challenge = {"WWW-Authenticate": 'Basic realm="mirror"'} if status == 401 else {}
    up.fault(INFO, "status", code=status, headers=challenge)
    go = topo.go(GOPROXY=f"{scheme}://{PROXY}", GOAUTH=goauth)
    go.sh(f"printf 'machine {PROXY} login {NETRC_LOGIN} password {NETRC_SECRET}\\n' >/root/.netrc", record=False)
    obs = case.note(go.run("mod", "download", "-json", LIB, timeout=WATCHDOG_S))
    seen = asked(obs, PROXY)
    case.fact(requests=seen, ok=obs.ok, error_line=obs.error_line,
              password_printed=NETRC_SECRET in obs.stdout + obs.stderr)

    minor = go.go_minor()
    https, goauth_known = scheme == "https", minor >= 24
    case.expect("the watchdog ends it", obs.timed_out, False)
    case.expect("go mod download succeeds", obs.ok, False, detail=obs.errors)
    case.expect("go says the status", str(status) in obs.error_line, True, detail=obs.errors)
    case.expect("requests for the .info", len(seen), 2 if https and goauth_known else 1, since="1.24")
    # GOAUTH=off is a name only go1.24 on knows: before, .netrc's entry goes out over https whatever it says
    sends = https and (goauth == "netrc" or not goauth_known)
    case.expect("credentials on each request", [r["credentials"] for r in seen], [sends] * len(seen), since="1.24")
    first_ua = GO_UA if minor >= 27 else NET_HTTP_UA
    case.expect("User-Agent of each request", [r["user_agent"] for r in seen],
                [first_ua] + [NET_HTTP_UA] * (len(seen) - 1), since="1.27")
    case.expect("go prints the .netrc password", case.facts["password_printed"], False)


FALLBACKS = {        # the module at the mirror or not, and GOPROXY's separator before direct
    "module at the mirror": (True, ","),
    "404, then direct after ','": (False, ","),
    "404, then direct after '|'": (False, "|"),
}


@pytest.mark.parametrize("fallback", FALLBACKS)
def test_waf_blocking_net_http_user_agent(topo, case, fallback):
    """Real nginx in front of the mirror over https, with a bot rule answering 403 to net/http's default
    User-Agent (`Go-http-client/`); GOPROXY=https://waf,direct (or |direct) and the module's origin serving it
    to direct. Which requests the WAF let through, which it refused, and whether go gets the module."""
    present, sep = FALLBACKS[fallback]
    up = topo.upstream(PROXY)
    if not present:
        up.fault(r"^/example\.com/lib/@v/", "status", code=404)
    topo.upstream(ORIGIN).go_import(MODULE)
    waf = topo.nginx(WAF, "waf", upstream=up)
    go = topo.go(GOPROXY=f"https://{WAF}{sep}direct")
    obs = case.note(go.run("mod", "download", "-json", LIB, timeout=WATCHDOG_S))
    at_waf = [{"path": r.path, "status": r.status, "user_agent": (r.headers or {}).get("User-Agent")}
              for r in obs.requests_to(waf.host)]
    reached_direct = bool(obs.requests_to(ORIGIN))
    case.fact(at_waf=at_waf, refused=[r for r in at_waf if r["status"] == 403], reached_direct=reached_direct,
              ok=obs.ok, error_line=obs.error_line)

    minor = go.go_minor()
    case.expect("the watchdog ends it", obs.timed_out, False)
    if minor < 27:      # every request carries net/http's User-Agent: the WAF refuses the first
        case.expect("go gets the module", obs.ok, sep == "|", since="1.27", detail=obs.errors)
        case.expect("the WAF refuses go's first request", bool(at_waf) and at_waf[0]["status"] == 403, True,
                    since="1.27")
        return
    # go1.27's first request passes; the 404's second one, net/http's User-Agent, is refused
    statuses = [r["status"] for r in at_waf if r["path"].endswith(".info")]
    case.expect("what the WAF answered the .info", statuses, [200] if present else [404, 403])
    case.expect("go gets the module", obs.ok, present or sep == "|", detail=obs.errors)
    case.expect("go goes on to direct", reached_direct, not present and sep == "|")
    if not present and sep == ",":
        case.expect("go says the WAF's 403, not the mirror's 404", "403 Forbidden" in obs.error_line, True,
                    detail=obs.errors)
