"""A corporate forward proxy that asks for credentials: real Squid with basic auth (Debian's basic_ncsa_auth,
docker/squid/templates/auth.conf.j2) between go and its GOPROXY, as HTTP_PROXY (an http:// GOPROXY: go sends
each request to Squid) or HTTPS_PROXY (https://: go asks Squid for a CONNECT tunnel).

go takes the proxy from the environment through net/http's ProxyFromEnvironment, that is
golang.org/x/net/http/httpproxy vendored in the toolchain: the proxy URL's userinfo becomes a
`Proxy-Authorization: Basic` header on each request or on the CONNECT; a value that does not parse as a URL,
even with "http://" put before it, is dropped without a word (config.init ignores parseProxy's error);
NO_PROXY is a comma-separated list of names (one matches itself and its subdomains; with a leading "." or
"*." its subdomains only), IP addresses and CIDRs (matched against an address written in the URL: a name
is not resolved to match them), each with an optional :port, or "*". Each case observes what go does with
one of these: Squid's access log (status, user) says what went through it, the upstream's log what came
straight.
"""
import base64
import urllib.parse

import pytest

SQUID, PROXY, PROXY_B = "squid.corp.test", "proxy.corp.test", "proxy-b.corp.test"
LIB = "example.com/lib@v1.0.0"
USER, PASSWORD, REALM = "gopher", "s3cret", "corporate proxy"
# A password with every character the userinfo of a proxy URL must escape.
ODD = "p@ss:w/rd%20#x y"
# One of them in a password, written raw into the URL (the brief's list: @ : % / # space).
RAW = {"at": "p@ss", "colon": "p:ss", "percent": "p%ss", "slash": "p/ss", "hash": "p#ss", "space": "p ss"}
# A raw "/", "#" or " " ends the authority where go's url.Parse looks for it; with "http://" put before the
# value (parseProxy's second try) the proxy's host becomes "http", a name nobody declared: the topology's
# resolver answers NXDOMAIN, as a real network's would.
MISPARSED_HOST = "http"


def proxy_url(userinfo: str | None) -> str:
    return f"http://{userinfo + '@' if userinfo else ''}{SQUID}:3128"


def through_squid(topo, scheme: str, password: str, userinfo: str | None, users: dict | None = None, **env):
    """The upstream, Squid asking for USER / password (or one of users), and a go client whose GOPROXY (of
    `scheme`) is reached through Squid, with userinfo in the proxy URL (None: no credentials)."""
    topo.upstream(PROXY)
    topo.squid(SQUID, "auth", user=USER, password=password, realm=REALM, **({"users": users} if users else {}))
    proxy = proxy_url(userinfo)
    return topo.go(**{"GOPROXY": f"{scheme}://{PROXY}", "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, **env})


def at_squid(obs) -> list:
    return [r for r in obs.requests if r.server == SQUID]


def route(obs) -> str:
    """How go reached the upstream: "squid" (Squid's log has a request), "direct" (only the upstream's log
    has it), or "nowhere"."""
    return "squid" if at_squid(obs) else "direct" if obs.requests_to(PROXY) else "nowhere"


def squid_lines(obs) -> list[str]:
    return [f"{r.method} {r.path} {r.status} {r.detail.get('result')} user={r.detail.get('user', '-')}"
            for r in at_squid(obs)]


def printed_secrets(obs, user: str, password: str, userinfo: str | None) -> list[str]:
    """The forms of the password go printed on stdout or stderr: as the URL gives it, decoded, and as the
    Proxy-Authorization header carries it (base64 of user:password)."""
    text = obs.stdout + obs.stderr
    given = userinfo.partition(":")[2] if userinfo else ""
    forms = {"as given": given, "decoded": password,
             "base64": base64.b64encode(f"{user}:{password}".encode()).decode()}
    return sorted(name for name, value in forms.items() if value and value in text)


def address(topo, member) -> tuple[str, str]:
    """A member's IPv4 address on the scenario network, and the network's subnet, as the engine has them."""
    c = member.container
    c.reload()
    topo.network.reload()
    return (c.attrs["NetworkSettings"]["Networks"][topo.network.name]["IPAddress"],
            topo.network.attrs["IPAM"]["Config"][0]["Subnet"])


def attempt(go, user: str, password: str, userinfo: str | None, run: int) -> tuple[object, dict]:
    """One go command through Squid with userinfo in the proxy URL (-x, a module cache of its own): its
    observation and what it shows: what go said, where its requests went, what Squid answered, whether go
    printed the password or named the proxy."""
    proxy = proxy_url(userinfo)
    obs = go.run("mod", "download", "-x", "-json", LIB, timeout=8,
                 env={"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "GOMODCACHE": f"/root/go/pkg/mod-{run}"})
    return obs, dict(ok=obs.ok, timed_out=obs.timed_out, error_line=obs.error_line, route=route(obs),
                     squid=squid_lines(obs), squid_statuses=sorted({r.status for r in at_squid(obs)}),
                     squid_users=sorted({r.detail.get("user", "-") for r in at_squid(obs)}),
                     password_printed=printed_secrets(obs, user, password, userinfo),
                     proxy_named=SQUID in obs.stdout + obs.stderr)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_credentials_in_the_proxy_url(topo, case, scheme):
    """No, wrong and right credentials in HTTP(S)_PROXY=http://user:pass@squid:3128: Squid's 407 and what go
    prints of it, for requests through Squid (http://) and for a CONNECT tunnel (https://); whether go ever
    prints the password, with -x."""
    case.params["middleware"], case.params["variant"] = "squid", "auth"
    go = through_squid(topo, scheme, PASSWORD, None)
    given = {"none": None, "wrong": f"{USER}:not-{PASSWORD}", "right": f"{USER}:{PASSWORD}"}
    seen = {}
    for run, (name, userinfo) in enumerate(given.items()):
        obs, seen[name] = attempt(go, USER, PASSWORD, userinfo, run)
        if name != "right":
            case.note(obs)          # the 407 is the observation of note
    case.fact(**seen)

    case.expect("the watchdog ends them", [f["timed_out"] for f in seen.values()], [False] * 3)
    case.expect("go prints the proxy password", {n: f["password_printed"] for n, f in seen.items()},
                {n: [] for n in given})
    case.expect("go names the proxy in its output", any(f["proxy_named"] for f in seen.values()), False)
    # Squid logs the user of wrong credentials too
    case.expect("squid's answer and the user it logged",
                {n: (f["squid_statuses"], f["squid_users"]) for n, f in seen.items()},
                {"none": ([407], ["-"]), "wrong": ([407], [USER]), "right": ([200], [USER])})
    case.expect("go succeeds", {n: f["ok"] for n, f in seen.items()}, {"none": False, "wrong": False, "right": True})
    # http://: go reads Squid's 407 as the GOPROXY's answer; https://: the CONNECT's status text is the error
    said = "407 Proxy Authentication Required" if scheme == "http" else ": Proxy Authentication Required"
    assert all(said in seen[n]["error_line"] and seen[n]["route"] == "squid" for n in ("none", "wrong")), seen
    assert seen["right"]["route"] == "squid", seen


def test_password_needing_escapes(topo, case):
    """A password with `@ : % / # space` in the proxy URL: %-escaped, each of them raw, and a malformed userinfo
    (an invalid %-escape): where go's requests go, what it prints, whether it prints the password. One Squid
    knowing a user per form, one go command each."""
    case.params["middleware"], case.params["variant"] = "squid", "auth"
    forms = {"escaped": (ODD, urllib.parse.quote(ODD, safe="")), "malformed": (PASSWORD, "s3%zzcret"),
             **{f"raw {c}": (pw, pw) for c, pw in RAW.items()}}       # form -> (password, as the URL gives it)
    users = {form.replace(" ", "-"): password for form, (password, _) in forms.items()}
    go = through_squid(topo, "http", PASSWORD, None, users=users)
    seen, went = {}, {}
    for run, (form, (password, written)) in enumerate(forms.items()):
        user = form.replace(" ", "-")
        obs, seen[form] = attempt(go, user, password, f"{user}:{written}", run)
        went[form] = seen[form]["route"] + "".join(f" {s}" for s in seen[form]["squid_statuses"])
    for form, facts in seen.items():
        if f"proxyconnect tcp: dial tcp: lookup {MISPARSED_HOST} on " in facts["error_line"]:
            went[form] = f"proxy host {MISPARSED_HOST}"
    case.fact(went=went, **seen)

    case.expect("the watchdog ends them", any(f["timed_out"] for f in seen.values()), False)
    case.expect("go prints the proxy password", {form: f["password_printed"] for form, f in seen.items()},
                {form: [] for form in forms})
    # From go's url.Parse: a raw "@" or ":" survives (the last "@" ends the userinfo, the first ":" the user); a
    # "%" not followed by two hex digits makes the URL invalid and the proxy is dropped: go goes straight to
    # the GOPROXY, saying nothing; "/", "#" and " " leave a proxy named "http".
    case.expect("where go's requests went", went,
                {"escaped": "squid 200", "malformed": "direct", "raw at": "squid 200", "raw colon": "squid 200",
                 "raw percent": "direct",
                 **{f"raw {c}": f"proxy host {MISPARSED_HOST}" for c in ("slash", "hash", "space")}})
    assert all(seen[f]["ok"] and not seen[f]["error_line"] for f in ("malformed", "raw percent")), seen


def test_407_in_a_goproxy_list(topo, case):
    """A 407 from Squid for the first entry of a GOPROXY list (no credentials): does go go on to the next entry,
    with ',' and with '|'? The next is another proxy reached without Squid (NO_PROXY), or `direct` (whose
    go-get lookup meets Squid again, by CONNECT). One go command each, in one world."""
    case.params["middleware"], case.params["variant"] = "squid", "auth"
    topo.upstream(PROXY_B)
    go = through_squid(topo, "http", PASSWORD, None, NO_PROXY=PROXY_B)
    lists = {f"{sep}{then}": f"http://{PROXY}{sep}" + (f"http://{PROXY_B}" if then == "proxy-b" else "direct")
             for then in ("proxy-b", "direct") for sep in (",", "|")}
    seen, went_on = {}, {}
    for run, (name, goproxy) in enumerate(lists.items()):
        obs = go.run("mod", "download", "-json", LIB, timeout=8,
                     env={"GOPROXY": goproxy, "GOMODCACHE": f"/root/go/pkg/mod-{run}"})
        first_407 = any(PROXY + "/" in r.path and r.status == 407 for r in at_squid(obs))
        went_on[name] = bool(obs.requests_to(PROXY_B)) if name.endswith("proxy-b") else \
            any(r.method == "CONNECT" and r.path.startswith("example.com:") for r in at_squid(obs))
        seen[name] = dict(goproxy=goproxy, ok=obs.ok, timed_out=obs.timed_out, error_line=obs.error_line,
                          first_407=first_407, squid=squid_lines(obs))
    case.fact(went_on=went_on, **seen)

    case.expect("the watchdog ends them", any(f["timed_out"] for f in seen.values()), False)
    assert all(f["first_407"] for f in seen.values()), seen
    # cmd/go's proxy list: ',' goes on after a 404 or 410 only, '|' after any error
    case.expect("go goes on after a 407", went_on, {name: name.startswith("|") for name in lists})
    # direct: the go-get lookup's CONNECT gets a 407 too
    case.expect("go succeeds", {n: f["ok"] for n, f in seen.items()}, {name: name == "|proxy-b" for name in lists})


def test_no_proxy_forms(topo, case):
    """NO_PROXY's forms against an http:// GOPROXY behind the authenticating Squid (right credentials, so both
    ways succeed): the exact name, a ".suffix", a bare domain suffix, "*.suffix", a CIDR covering the
    upstream's address (GOPROXY by name, then by that address), the address itself, host:port with the
    request's port and with another, and "*". One go command each, in one world."""
    case.params["middleware"], case.params["variant"] = "squid", "auth"
    up = topo.upstream(PROXY)
    topo.squid(SQUID, "auth", user=USER, password=PASSWORD)
    proxy = proxy_url(f"{USER}:{PASSWORD}")
    go = topo.go(HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
    ip, subnet = address(topo, up)
    domain = PROXY.split(".", 1)[1]
    forms = {       # form -> (NO_PROXY, the GOPROXY host)
        "exact name": (PROXY, PROXY), ".suffix": (f".{domain}", PROXY), "bare suffix": (domain, PROXY),
        "*.suffix": (f"*.{domain}", PROXY), "CIDR, GOPROXY by name": (subnet, PROXY),
        "CIDR, GOPROXY by address": (subnet, ip), "address, GOPROXY by address": (ip, ip),
        "name:80": (f"{PROXY}:80", PROXY), "name:443": (f"{PROXY}:443", PROXY), "*": ("*", PROXY)}
    routes, outcomes = {}, {}
    for i, (form, (no_proxy, host)) in enumerate(forms.items()):
        obs = go.run("mod", "download", "-json", LIB, timeout=10,
                     env={"NO_PROXY": no_proxy, "GOPROXY": f"http://{host}", "GOMODCACHE": f"/root/go/pkg/mod-{i}"})
        routes[form] = route(obs)
        outcomes[form] = obs.error_line or ("ok" if obs.ok else f"exit {obs.exit_code}")
    case.fact(no_proxy_routes=routes, outcomes=outcomes)      # not the addresses: they vary with the network

    case.expect("every command succeeds", outcomes, {form: "ok" for form in forms})
    # From httpproxy's matchers: names match themselves and their subdomains, IPs and CIDRs only an address
    # written in the URL (go resolves no name for them), a port only that port (80 is http's).
    case.expect("NO_PROXY routes", routes,
                {form: "squid" if form in ("CIDR, GOPROXY by name", "name:443") else "direct" for form in forms})
