"""DNS faults: what go prints, how long it takes, and which names it looks up.

Every go client asks a real resolver (Debian's dnsmasq, fixtures/world/resolver.py): the topology's names
resolve, every other name gets NXDOMAIN at once, as on a real network, and a DNS fault is data
(topo.dns.fault). Each fault hits one name: the first proxy of a GOPROXY list, the checksum DB named by
GOSUMDB, or the host of a module path that answers `?go-get=1` (reached after the proxy's 404). Each case runs
the same command under a `,` and a `|` list, by two clients one after the other (the servers' logs tell
concurrent commands apart by time only), and records per list what go printed,
how long it took, whether it went on to the next entry, and every query it made (go asks A and AAAA at once;
it asks again when an attempt times out or the answer is SERVFAIL).

The clients' resolv.conf says `options timeout:1 attempts:2` (glibc's and go's default is timeout:5
attempts:2: 10 s for a name nobody answers), so a resolver that never answers costs 2 s per lookup here.
Then: a search domain with Kubernetes' ndots:5, and whether a private module path ever reaches DNS.
"""
import re
from collections import Counter

import pytest

from fixtures.world import modules

A, B = "proxy-a.corp.test", "proxy-b.corp.test"
DB, GIT = "sum.corp.test", "git.corp.test"
MOD, VANITY = "example.com/lib@v1.0.0", f"{GIT}/team/secret@v1.0.0"
TIMEOUT_S, ATTEMPTS = 1, 2
RESOLV = {"options": [f"timeout:{TIMEOUT_S}", f"attempts:{ATTEMPTS}"]}
SEPS = {",": "comma", "|": "pipe"}


def edge(host: str) -> str:
    """The name a CDN's chain ends at for host: the host's own server under another name (an alias)."""
    return f"{host.split('.')[0]}.edge.test"


# fault id -> (action, keys, what go gets: "fails" or "resolves")
FAULTS = {
    "nxdomain": ("nxdomain", {}, "fails"),
    "servfail": ("servfail", {}, "fails"),
    "no answer": ("no-answer", {}, "fails"),
    "slow 0.5 s": ("delay", {"seconds": 0.5}, "resolves"),       # below the 1 s timeout of an attempt
    "slow 1.5 s": ("delay", {"seconds": 1.5}, "resolves"),       # above it: go's second attempt is under way
    "AAAA to nowhere": ("address", {"addresses": ["fd00::1"]}, "resolves"),
    "CNAME chain": ("cname", {}, "resolves"),      # the chain: fault_keys()
}
# What go says when the lookup fails, and how many times it asks one name per lookup.
SAYS = {"nxdomain": "no such host", "servfail": "server misbehaving", "no answer": "i/o timeout"}
ASKS = {"nxdomain": 1, "servfail": ATTEMPTS, "no answer": ATTEMPTS}


def fault_keys(fault: str, name: str) -> dict:
    """The fault's keys for the name it hits; a CNAME chain goes through a CDN's name to the name's own server
    under another name, as a CDN's does: proxy-a.corp.test -> proxy-a.cdn.test -> proxy-a.edge.test."""
    action, keys, _ = FAULTS[fault]
    return {"chain": [f"{name.split('.')[0]}.cdn.test", edge(name)]} if action == "cname" else keys


def world(topo, target: str):
    """The target's servers, its faulted name, go's command and its environment per list separator."""
    if target == "proxy":
        topo.upstream(A, aliases=(edge(A),))
        topo.upstream(B)
        return A, ("list", "-m", "-json", MOD), lambda sep: {"GOPROXY": f"http://{A}{sep}http://{B}"}
    if target == "checksum DB":
        # GOSUMDB names the DB's URL: go asks it directly, never the proxies' /sumdb/ (modfetch/sumdb.go).
        # `go mod download`: `go list -m` shrugs off a checksum DB it cannot reach (test_private_path_in_dns).
        topo.upstream(A)
        topo.upstream(B)
        db = topo.sumdb(DB, aliases=(edge(DB),))
        return DB, ("mod", "download", "-json", MOD), \
            lambda sep: {"GOPROXY": f"http://{A}{sep}http://{B}", "GOSUMDB": db.gosumdb()}
    # a vanity host: the proxy has no module of it (404), go goes direct: ?go-get=1, then git
    topo.upstream(A, modules={n: d for n, d in modules.fixture_files().items() if not n.startswith(GIT)})
    topo.git_host(GIT, aliases=(edge(GIT),))
    return GIT, ("list", "-m", "-json", VANITY), lambda sep: {"GOPROXY": f"http://{A}{sep}direct"}


def asked(obs) -> dict[str, str]:
    """name -> how often go asked it, e.g. {"proxy-a.corp.test": "A×2 AAAA×2"}, in order of first query."""
    by_name: dict[str, Counter] = {}
    for l in obs.lookups:
        by_name.setdefault(l.name, Counter())[l.qtype] += 1
    return {n: " ".join(f"{t}×{k}" for t, k in sorted(c.items())) for n, c in by_name.items()}


def queries(obs, name: str, qtype: str | None = None) -> list:
    return [l for l in obs.looked_up(rf"^{re.escape(name)}$") if qtype in (None, l.qtype)]


CASES = [(f, t) for f in FAULTS for t in ("proxy", "checksum DB", "vanity host")
         # git looks the host up again for each of its commands, each 1.5 s late: 6 s for what 0.5 s shows
         if (f, t) != ("slow 1.5 s", "vanity host")]


@pytest.mark.parametrize("fault,target", CASES)
def test_dns_fault(topo, case, fault, target):
    """One DNS fault on one name; the same go command under a ',' and a '|' list."""
    action, _, effect = FAULTS[fault]
    name, args, env = world(topo, target)
    keys = fault_keys(fault, name)
    topo.dns.fault(name, action, **keys)
    clients = {sep: topo.go(resolv=RESOLV, **env(sep)) for sep in SEPS}
    obs = {sep: go.run(*args, timeout=20) for sep, go in clients.items()}
    case.note(obs[","])

    seen = {}
    for sep, o in obs.items():
        seen[sep] = {
            "ok": o.ok, "error_line": o.error_line, "duration_s": round(o.duration_s, 2),
            # the next entry of the list: proxy B (the vanity host's next entry, direct, is the faulted host)
            "asked_next_proxy": bool(queries(o, B)),
            "lookups": asked(o),
            "unanswered_queries": sum(1 for l in queries(o, name) if l.t_end is None),
        }
    case.fact(resolv_conf="options " + " ".join(RESOLV["options"]),
              **{SEPS[sep]: s for sep, s in seen.items()})

    # How many queries of one type one lookup makes: one, or one per attempt when an attempt fails (no answer
    # within the timeout, or SERVFAIL); a late answer (slow 1.5 s) comes to the second attempt.
    per_lookup = ASKS.get(fault, 1 if keys.get("seconds", 0) < TIMEOUT_S else ATTEMPTS)
    fails = effect == "fails"
    for sep, o in obs.items():
        s, label = seen[sep], SEPS[sep]
        case.expect(f"{label}: go asks A and AAAA of {name}", sorted({l.qtype for l in queries(o, name)}),
                    ["A", "AAAA"])
        if per_lookup > 1:
            case.expect(f"{label}: each lookup of {name} sends its A query {per_lookup} times",
                        len(queries(o, name, "A")) % per_lookup == 0, True, detail=str(s["lookups"]))
        # A failed lookup is an error, not a 404: '|' goes on to the next proxy, ',' stops. Behind a checksum
        # DB that cannot be reached, '|' takes the verification's error for the proxy's and fetches the .mod
        # again from the next one, which fails the same way.
        went_on = fails and sep == "|" and target != "vanity host"
        case.expect(f"{label}: go asks the next proxy", s["asked_next_proxy"], went_on)
        case.expect(f"{label}: the command succeeds", s["ok"], not fails or (target == "proxy" and sep == "|"),
                    detail=o.errors)
        if fails and not s["ok"]:
            case.expect(f"{label}: go says {SAYS[fault]!r} for {name}",
                        SAYS[fault] in s["error_line"] and f"lookup {name}" in s["error_line"], True,
                        detail=s["error_line"])

    # How long: an unanswered lookup costs timeout x attempts, a slow one its delay, the rest answer at once.
    for sep, o in obs.items():
        lookups = len(queries(o, name, "A")) // per_lookup
        if fault == "no answer":
            assert lookups * TIMEOUT_S * ATTEMPTS <= o.duration_s < lookups * TIMEOUT_S * ATTEMPTS + 2, seen[sep]
        elif action == "delay":
            assert lookups * keys["seconds"] <= o.duration_s < lookups * (keys["seconds"] + 0.5) + 2, seen[sep]
        elif fails:
            assert o.duration_s < 2, seen[sep]


# --- search domains and ndots --------------------------------------------------------------------------------

PROXY = "proxy.corp.test"
# A pod's resolv.conf in Kubernetes: its namespace's search domains, the cluster's, the node's; ndots:5.
K8S_SEARCH = ["dev.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.test"]
RESOLVERS = {
    # client -> (resolv.conf, GOPROXY, GOSUMDB: None is go's default, sum.golang.org)
    "ndots:5": ({"search": K8S_SEARCH, "options": ["ndots:5", *RESOLV["options"]]}, f"http://{PROXY}", None),
    "ndots:1 (glibc's default)": ({"search": K8S_SEARCH, "options": RESOLV["options"]}, f"http://{PROXY}", None),
    "ndots:5, GOPROXY by its short name": ({"search": K8S_SEARCH, "options": ["ndots:5", *RESOLV["options"]]},
                                           "http://proxy", "off"),
}


def searched(name: str, ndots: int, exists: str | None = None) -> list[str]:
    """The names a stub resolver asks for `name` (resolv.conf(5)): with fewer dots than ndots, the name under
    each search domain first, then the name as given; otherwise the name first. It stops at `exists`."""
    names = [f"{name}.{d}" for d in K8S_SEARCH]
    names = names + [name] if name.count(".") < ndots else [name] + names
    return names[:names.index(exists) + 1] if exists else names


def test_search_domains_and_ndots(topo, case):
    """Kubernetes' resolv.conf (ndots:5 and four search domains): every name with fewer than five dots is
    first tried under each search domain. With NXDOMAIN at once that costs queries, not time. Three clients
    in turn: full names with ndots:5, the same with ndots:1, and a proxy named by its short name."""
    topo.upstream(PROXY)
    clients = {label: topo.go(resolv=resolv, GOPROXY=goproxy, GOSUMDB=gosumdb)
               for label, (resolv, goproxy, gosumdb) in RESOLVERS.items()}
    obs = {label: go.run("mod", "download", "-json", MOD, timeout=20) for label, go in clients.items()}
    case.note(obs["ndots:5"])

    order = {label: list(dict.fromkeys(l.name for l in o.lookups if l.qtype == "A")) for label, o in obs.items()}
    case.fact(**{label: {"ok": o.ok, "error_line": o.error_line, "duration_s": round(o.duration_s, 2),
                         "names_in_order": order[label], "queries": len(o.lookups)} for label, o in obs.items()})

    for label in ("ndots:5", "ndots:1 (glibc's default)"):
        ndots = 5 if label == "ndots:5" else 1
        # the proxy is found under the first name that exists; sum.golang.org exists nowhere here
        expected = searched(PROXY, ndots, exists=PROXY) + searched("sum.golang.org", ndots)
        case.expect(f"{label}: the names go asks, in order", order[label], expected)
        case.expect(f"{label}: go fails on sum.golang.org", "lookup sum.golang.org" in obs[label].error_line
                    and "no such host" in obs[label].error_line, True, detail=obs[label].errors)
    short = "ndots:5, GOPROXY by its short name"
    case.expect(f"{short}: the names go asks, in order", order[short], searched("proxy", 5, exists=PROXY))
    case.expect(f"{short}: the command succeeds", obs[short].ok, True, detail=obs[short].errors)
    for o in obs.values():
        assert o.duration_s < 2, "NXDOMAIN comes at once: the search costs queries, not time"


# --- private module paths ------------------------------------------------------------------------------------

PRIVATE = f"{GIT}/team/secret@v1.0.0"      # a private module path; its host is declared nowhere here
SETTINGS = {"none": {}, "GOPRIVATE": {"GOPRIVATE": GIT}, "GONOPROXY": {"GONOPROXY": GIT},
            "GONOSUMDB": {"GONOSUMDB": GIT}}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_private_path_in_dns(topo, case, setting):
    """A private module path that the proxy serves, GOSUMDB at go's default (sum.golang.org): which names does
    go look up? A query for sum.golang.org tells the network's DNS that go is about to send the public checksum
    DB a module path; the private host's name goes to DNS only when go fetches direct."""
    topo.upstream(PROXY)
    go = topo.go(GOPROXY=f"http://{PROXY}", GOSUMDB=None, **SETTINGS[setting])
    obs = case.note(go.run("mod", "download", "-json", PRIVATE))
    names = list(dict.fromkeys(l.name for l in obs.lookups))
    public_db = bool(obs.looked_up(r"^sum\.golang\.org$"))
    private_host = bool(obs.looked_up(rf"^{re.escape(GIT)}$"))
    case.fact(looked_up=names, ok=obs.ok, error_line=obs.error_line, duration_s=round(obs.duration_s, 2),
              proxy_asked_for_sumdb=bool(obs.requests_to(PROXY, r"^/sumdb/")))
    if setting == "none":
        # `go list -m` asks the checksum DB about the go.mod too, and shrugs when it cannot: no GoVersion
        listed = go.run("list", "-m", "-json", PRIVATE)
        case.fact(list_ok=listed.ok, list_looked_up_sumdb=bool(listed.looked_up(r"^sum\.golang\.org$")))
        case.expect("go list -m succeeds without the checksum DB", listed.ok, True, detail=listed.errors)

    direct = setting in ("GOPRIVATE", "GONOPROXY")
    # GONOPROXY alone: go goes direct and fails there, before any checksum
    case.expect("go looks up sum.golang.org", public_db, setting == "none")
    case.expect(f"go looks up {GIT}", private_host, direct)
    case.expect("a DNS query carries more of the module path than its host",
                any("secret" in n or "team" in n for n in names), False)
    case.expect("the command succeeds", obs.ok, setting == "GONOSUMDB", detail=obs.errors)
    if not obs.ok:
        assert "no such host" in obs.error_line and obs.duration_s < 2, obs.error_line


# --- a DNS fault the scenario cannot mean -----------------------------------------------------------------------

def test_fault_for_an_undeclared_name(topo, case):
    """A fault for a name the topology does not declare is a scenario's mistake: a ValueError naming the
    declared names, at the call; the world stays as it was (the name the scenario meant still resolves)."""
    topo.upstream(A)
    with pytest.raises(ValueError) as raised:
        topo.dns.fault("proxy.corp.test", "nxdomain")
    go = topo.go(GOPROXY=f"http://{A}")
    obs = case.note(go.run("list", "-m", "-json", MOD))
    case.fact(error=str(raised.value), ok=obs.ok)
    assert "proxy.corp.test" in str(raised.value) and A in str(raised.value), raised.value
    assert obs.ok and not topo.dns.faults, obs.errors
