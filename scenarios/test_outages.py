"""Outages of a module proxy: what go does when its proxy has a bad minute (issue 22).

go puts no retry on a proxy request (golang/go#28194 is open), and a real outage hits every CI at once
(golang/go#63684, #72121, #74132, #70042). Each case is one world with one kind of fault, and the same go
command under the GOPROXY shapes users have: `A,B` (go goes on after a 404 or 410 only), `A|B` (after any
error), `A,direct` and `A|direct` (direct reaches the module's origin: example.com answers ?go-get=1 with a
go-import page of vcs "mod", upstream.go_import): whether the workarounds users rely on (`|direct`, a second
proxy after `|`) help. Each command starts as on a fresh CI machine: a module cache of its own
(GOMODCACHE=/root/go/pkg/mod-<n>) and a GOPATH of its own (where go keeps the checksum DB's latest tree head,
GOPATH/pkg/sumdb: it changes go's error line); /work has no go.mod. Every failure is recorded with the same
command run again, same cache, once the fault is gone (fixtures/record/errors.py: transient or permanent,
`gotraps errors`).

go has no timeout of its own on a proxy request: cmd/go/internal/web/http.go sends it with http.DefaultClient
(no Timeout) over http.DefaultTransport (30 s to connect, 10 s for a TLS handshake, no ResponseHeaderTimeout),
so a proxy that answers slowly is waited for as long as it takes.
"""
from __future__ import annotations

import itertools
import re
import time

from fixtures.record import errors
from fixtures.runtime.agent import spawn
from fixtures.world.member import InfrastructureError

A, B, C, ORIGIN = "proxy-a.corp.test", "proxy-b.corp.test", "proxy-c.corp.test", "example.com"
HOSTS = {"B": B, "C": C}
MIRROR = "mirror.corp.test"            # nghttpx, an HTTP/2 front before A
LIB, VERSION = "example.com/lib", "v1.0.0"
MOD = f"{LIB}@{VERSION}"
MODULE_FILES = r"^/example\.com/lib/@v/"
ZIP = r"^/example\.com/lib/@v/v1\.0\.0\.zip$"
DOWNLOAD = ("mod", "download", "-json", MOD)
SHAPES = ("A,B", "A|B", "A,direct", "A|direct")
WATCHDOG_S = 10          # for a command that ends at once, fault or not


def goproxy(shape: str, first: str) -> str:
    """The GOPROXY of a shape whose first entry is the URL `first`."""
    sep, then = shape[1], shape[2:]
    return f"{first}{sep}{'direct' if then == 'direct' else f'https://{HOSTS[then]}'}"


def world(topo, a_tls: str = "trusted", a_aliases: tuple[str, ...] = ()):
    """A (the proxy that fails), B (a healthy second proxy) and example.com (the module's origin, for direct)."""
    a = topo.upstream(A, tls=a_tls, aliases=a_aliases)
    topo.upstream(B)
    topo.upstream(ORIGIN).go_import(LIB)
    return a


class Commands:
    """The go commands of one client, each with a fresh module cache (go.again(obs) runs one once more, as it ran)."""

    def __init__(self, go):
        self.go, self.seq = go, itertools.count(1)

    def start(self, proxy: str, *args: str, timeout: float = WATCHDOG_S, **env: str):
        """Start a go command (default: go mod download -json example.com/lib@v1.0.0); a future."""
        args = args or DOWNLOAD
        n = next(self.seq)
        env = {"GOPROXY": proxy, "GOMODCACHE": f"/root/go/pkg/mod-{n}", "GOPATH": f"/root/go/path-{n}", **env}
        return self.go.start(*args, timeout=timeout, env=env)

    def run(self, proxy: str, *args: str, timeout: float = WATCHDOG_S, **env: str):
        return self.start(proxy, *args, timeout=timeout, **env).result()


def record_failures(case, cause: str, failed: dict, retried: dict) -> None:
    """errors.record for each failed command (by shape) with its run once the fault was gone."""
    for shape, obs in failed.items():
        if not obs.ok:
            errors.record(case, cause, obs, retried.get(shape))


def zip_requests(obs, server: str) -> list:
    return obs.requests_to(server, ZIP)


def next_entry(shape: str) -> str:
    """The server of a shape's second entry (direct: the origin)."""
    then = shape[2:]
    return ORIGIN if then == "direct" else HOSTS[then]


def went_on(obs, shape: str) -> bool:
    """Whether go fetched the zip from the shape's second entry."""
    return bool(zip_requests(obs, next_entry(shape)))


def arrived(up, path: str, n: int, after: int, timeout: float = WATCHDOG_S) -> None:
    """Until n requests matching path have reached `up` beyond its first `after` requests."""
    deadline = time.monotonic() + timeout
    while sum(1 for r in up.requests()[after:] if re.search(path, r.path)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {n} requests matching {path!r} reached {up.host} in {timeout} s")
        time.sleep(0.05)


# --- 429 with Retry-After, and 503 for the first requests only -------------------------------------------------

RETRY_AFTER_S = 2
FLAKY_TIMES = 2          # A answers 503 to this many requests, then recovers


def test_rate_limited_and_flaky_proxy(topo, case):
    """A answers the zip 429 Too Many Requests with Retry-After: 2; then, afresh per shape, 503 to its first two
    requests and normally after. Does go wait, retry, go on to B or direct? Over https: since go1.24 a 4xx over
    https is asked once more at once, with GOAUTH's credentials (cmd/go/internal/web/http.go), whatever the
    status says."""
    a = world(topo)
    go = topo.go()
    cmds = Commands(go)
    first = lambda shape: goproxy(shape, f"https://{A}")

    a.fault(ZIP, "status", code=429, headers={"Retry-After": str(RETRY_AFTER_S)})
    limited = {s: cmds.run(first(s)) for s in SHAPES}
    a.clear_faults()
    limited_again = {s: go.again(o) for s, o in limited.items() if not o.ok}

    flaky, flaky_retried = {}, {}
    for s in SHAPES:      # each shape meets the fault afresh: the same command until it succeeds (3 at most)
        a.clear_faults()
        a.fault(MODULE_FILES, "status", code=503, times=FLAKY_TIMES)
        runs = [cmds.run(first(s))]
        while not runs[-1].ok and len(runs) <= FLAKY_TIMES:
            runs.append(go.again(runs[-1]))
        flaky[s] = runs
        if len(runs) > 1:
            flaky_retried[s] = runs[-1]      # the run after the fault was spent
    a.clear_faults()
    case.note(limited["A,B"])

    def gaps(obs) -> list[float]:
        ts = [r.t for r in zip_requests(obs, A)]
        return [round(y - x, 2) for x, y in zip(ts, ts[1:])]

    retries_429 = {s: len(zip_requests(o, A)) for s, o in limited.items()}
    case.fact(retry_after_s=RETRY_AFTER_S,
              retries_429=retries_429,
              honours_retry_after=any(g >= RETRY_AFTER_S for o in limited.values() for g in gaps(o)),
              **{f"429 {s}": {"ok": o.ok, "error_line": o.error_line, "zip_requests_gaps_s": gaps(o),
                              "went_on": went_on(o, s),
                              "succeeds_after_fault_gone": limited_again[s].ok if s in limited_again else None}
                 for s, o in limited.items()},
              **{f"503 {s}": {"runs_until_success": len(runs) if runs[-1].ok else None,
                              "error_line": runs[0].error_line,
                              "503s_per_run": [sum(1 for r in o.requests_to(A) if r.status == 503) for o in runs],
                              "falls_back_on_503": bool(runs[0].requests_to(next_entry(s), MODULE_FILES))}
                 for s, runs in flaky.items()})
    record_failures(case, "429 Retry-After on .zip", limited, limited_again)
    record_failures(case, f"503 first {FLAKY_TIMES} requests", {s: runs[0] for s, runs in flaky.items()},
                    flaky_retried)

    goauth = go.go_minor() >= 24
    for s, o in limited.items():
        pipe = "|" in s
        case.expect(f"429 {s}: requests for the zip A got", retries_429[s], 2 if goauth else 1, since="1.24")
        case.expect(f"429 {s}: the command succeeds", o.ok, pipe, detail=o.errors)
        case.expect(f"429 {s}: go fetches the zip from the next entry", went_on(o, s), pipe)
        if not pipe:
            case.expect(f"429 {s}: go says 429", "429 Too Many Requests" in o.error_line, True, detail=o.errors)
            case.expect(f"429 {s}: the same command succeeds once A recovers", limited_again[s].ok, True,
                        detail=limited_again[s].errors)
    case.expect("go waits Retry-After before asking again", case.facts["honours_retry_after"], False)
    for s, runs in flaky.items():
        pipe = "|" in s
        # no retry: each run of a `,` list spends one 503 and fails; `|` spends them on its way to B
        case.expect(f"503 {s}: runs until the command succeeds", len(runs) if runs[-1].ok else None,
                    1 if pipe else FLAKY_TIMES + 1, detail=runs[-1].errors)
        case.expect(f"503 {s}: go fetches from the next entry", case.facts[f"503 {s}"]["falls_back_on_503"], pipe)
        case.expect(f"503 {s}: 503s per run", case.facts[f"503 {s}"]["503s_per_run"],
                    [FLAKY_TIMES] if pipe else [1] * FLAKY_TIMES + [0])


# --- an HTTP/2 front: RST_STREAM and GOAWAY in the middle of a zip ----------------------------------------------

H2_CUT_AT = 100           # zip bytes A sends before it closes (its Content-Length said more)
GRACE_S = 0.5             # how long nghttpx's old worker may finish its streams after a reload's GOAWAY
ZIP_URL = f"https://{MIRROR}/{LIB}/@v/{VERSION}.zip"
# what go says after `<module>@<version>: Get|read "<url>": `
RST_SAYS = r"stream error: stream ID \d+; INTERNAL_ERROR; received from peer$"
GOAWAY_SAYS = r"http2: server sent GOAWAY and closed the connection; LastStreamID=\d+, ErrCode=NO_ERROR"


def named_url(line: str) -> tuple[str, str] | None:
    """(op, URL) of go's `Get "<url>"` or `read "<url>"`."""
    m = re.search(r'\b(Get|read) "([^"]+)"', line)
    return (m.group(1), m.group(2)) if m else None


def expected_url(op: str, minor: int) -> str:
    """The URL go names: go1.21 names a body it could not read by path.Join(proxy URL, file), which drops the
    module path and a slash of https:// (modfetch/proxy.go, proxyRepo.Zip); right since go1.22."""
    return ZIP_URL if op == "Get" or minor >= 22 else f"https:/{MIRROR}/@v/{VERSION}.zip"


def nghttpx_reload(mw) -> None:
    """SIGHUP to nghttpx's main process, as a CDN's or an ingress's configuration reload: a new worker takes the
    listener; the old one sends GOAWAY on its connections and is killed GRACE_S later with the streams it still
    has (worker-process-grace-shutdown-period)."""
    code, _, err = spawn(mw.container, ["sh", "-c", "kill -HUP $(cat /run/nghttpx.pid)"]).wait(10)
    if code != 0:
        raise InfrastructureError(f"nghttpx {mw.host}: its reload failed: {err.decode(errors='replace')}")


def test_h2_front_resets_or_goes_away_mid_zip(topo, case):
    """nghttpx in front of A speaks HTTP/2 to go (TLS, ALPN h2) and HTTP/1.1 to A. A cuts the zip short after its
    headers: nghttpx resets go's stream (RST_STREAM INTERNAL_ERROR), the error the public proxy's users report
    (go says `read` for a reset after the response's headers, `Get` before them). Then the
    zip streams slowly and nghttpx reloads meanwhile: its old worker sends GOAWAY and is killed GRACE_S later
    with the stream open. The shapes in turn; then each failed command again, the fault gone (after the reload:
    through its new worker)."""
    a = world(topo, a_tls="off")
    mw = topo.nghttpx(MIRROR, upstream=a, grace=f"{int(GRACE_S * 1000)}ms")
    go = topo.go()
    cmds = Commands(go)

    # the headers, then the body in two pieces 50 ms apart, then the close: nghttpx has forwarded the headers
    # when it resets the stream, so go fails reading the body (at once, nghttpx may reset before the headers)
    a.fault(ZIP, "trickle", bytes=H2_CUT_AT // 2, interval=0.05, then=[("truncate", {"bytes": H2_CUT_AT})])
    reset = {s: cmds.run(goproxy(s, mw.url)) for s in SHAPES}
    a.clear_faults()
    reset_again = {s: go.again(o) for s, o in reset.items() if not o.ok}

    a.fault(ZIP, "trickle", bytes=20, interval=0.25)     # the zip (424 bytes) takes 5 s
    away = {}
    for s in SHAPES:        # one at a time: the requests of commands running at once are told apart by no one
        seen = len(a.requests())
        started = cmds.start(goproxy(s, mw.url))
        arrived(a, ZIP, 1, after=seen)
        nghttpx_reload(mw)
        away[s] = started.result()
    a.clear_faults()
    away_again = {s: go.again(o) for s, o in away.items() if not o.ok}
    case.note(reset["A,B"])

    during_reload = [r for o in away.values() for r in o.requests]
    alpn = sorted({r.detail.get("alpn", "-") for o in [*reset.values(), *reset_again.values(), *away_again.values()]
                   for r in o.requests_to(MIRROR)})
    case.fact(alpn=alpn,
              h2_error_line=next((o.error_line for o in reset.values() if not o.ok), None),
              goaway_error_line=next((o.error_line for o in away.values() if not o.ok), None),
              read_error_url=next((named_url(o.error_line)[1] for o in [*reset.values(), *away.values()]
                                   if (named_url(o.error_line) or ("",))[0] == "read"), None),
              **{f"RST_STREAM {s}": {"ok": o.ok, "error_line": o.error_line, "went_on": went_on(o, s),
                                     "succeeds_after_fault_gone": reset_again[s].ok if s in reset_again else None}
                 for s, o in reset.items()},
              **{f"GOAWAY {s}": {"ok": o.ok, "error_line": o.error_line, "duration_s": round(o.duration_s, 2),
                                 "succeeds_after_fault_gone": away_again[s].ok if s in away_again else None}
                 for s, o in away.items()},
              goaway_zips_from_b=sum(1 for r in during_reload if r.server == B and re.search(ZIP, r.path)),
              goaway_zips_from_origin=sum(1 for r in during_reload if r.server == ORIGIN and re.search(ZIP, r.path)))
    record_failures(case, "h2 RST_STREAM mid-zip", reset, reset_again)
    record_failures(case, "h2 GOAWAY then close mid-zip", away, away_again)

    minor = go.go_minor()
    case.expect("go spoke HTTP/2 to nghttpx (its log's ALPN)", alpn, ["h2"])
    for s in SHAPES:
        pipe = "|" in s
        for fault, obs, again, says in (("RST_STREAM", reset, reset_again, RST_SAYS),
                                        ("GOAWAY", away, away_again, GOAWAY_SAYS)):
            o = obs[s]
            case.expect(f"{fault} {s}: the command succeeds", o.ok, pipe, detail=o.errors)
            if not pipe:
                case.expect(f"{fault} {s}: go's error", bool(re.search(says, o.error_line)), True, detail=o.errors)
                op, url = named_url(o.error_line) or ("?", None)
                case.expect(f"{fault} {s}: the URL go names", url, expected_url(op, minor), since="1.22",
                            detail=o.error_line)
                case.expect(f"{fault} {s}: the same command succeeds once the fault is gone", again[s].ok, True,
                            detail=again[s].errors)
        case.expect(f"RST_STREAM {s}: go fetches the zip from the next entry", went_on(reset[s], s), pipe)
    # only `|` goes on after a broken stream: B served the `A|B` command's zip, the origin the `A|direct` one's
    case.expect("GOAWAY: zips B served", case.facts["goaway_zips_from_b"], 1)
    case.expect("GOAWAY: zips the origin served", case.facts["goaway_zips_from_origin"], 1)


# --- the checksum DB behind the proxy answers 500 -------------------------------------------------------------

SUMDB_SHAPES = ("A,B", "A|B", "A|C", "A,direct", "A|direct")
SUMDB_FAULTS = {"every /sumdb/ path": r"^/sumdb/", "lookups and tiles": r"^/sumdb/[^/]+/(lookup|tile)/"}


def verified_via(obs, db) -> str:
    """Where go read the checksum DB's lookups and tiles: through which proxy (the DB sees those as well), the DB
    itself, or nowhere."""
    for server, label in ((A, "through A"), (B, "through B"), (C, "through C"), (db.host, "the DB itself")):
        if obs.requests_to(server, r"^(/sumdb/[^/]+)?/(lookup|tile)/"):
            return label
    return "nowhere"


def sumdb_expected(which: str, shape: str) -> str:
    """Where go verifies, today. go asks each proxy's /sumdb/<name>/supported in turn (modfetch/sumdb.go): a
    200 commits it to that proxy for good; a 404 or 410 moves on, and so does anything else under `|`; the end
    of the list or `direct` means the DB itself, unless an error other than not-found was met on the way: it
    outranks C's 404 (modfetch/proxy.go TryProxies keeps the best-ranked error), so `A|C` stops at A's 500."""
    if which == "lookups and tiles":
        return "through A"      # A's /supported said yes
    return {"A|B": "through B", "A|direct": "the DB itself"}.get(shape, "nowhere")


def test_checksum_db_500_behind_the_proxy(topo, case):
    """A proxies the checksum DB (<A>/sumdb/<name>/...) and so does B, as proxy.golang.org does sum.golang.org;
    C does not (404). GOSUMDB names the DB by its key only, so go asks the proxies first. A answers 500 to
    every /sumdb/ path; then only to lookups and tiles, its /supported saying yes. Under `A,B`, `A|B`, `A|C`,
    `A,direct`, `A|direct`; then GOSUMDB=off with the fault on."""
    a = world(topo)
    db = topo.sumdb()
    a.proxy_sumdb(db)
    topo.upstreams[B].proxy_sumdb(db)
    topo.upstream(C)
    go = topo.go(GOSUMDB=db.gosumdb(url=None))
    cmds = Commands(go)

    seen, again = {}, {}
    for which, path in SUMDB_FAULTS.items():
        a.fault(path, "status", code=500)
        seen[which] = {s: cmds.run(goproxy(s, f"https://{A}")) for s in SUMDB_SHAPES}
        if which == "every /sumdb/ path":
            off = cmds.run(goproxy("A,B", f"https://{A}"), GOSUMDB="off")
        a.clear_faults()
        again[which] = {s: go.again(o) for s, o in seen[which].items() if not o.ok}
    case.note(seen["every /sumdb/ path"]["A,B"])

    case.fact(**{f"500 on {which} {s}": {"ok": o.ok, "error_line": o.error_line, "verified_via": verified_via(o, db),
                                         "succeeds_after_fault_gone": again[which][s].ok if s in again[which] else None}
                 for which, by in seen.items() for s, o in by.items()},
              sumdb_off={"ok": off.ok, "asked_sumdb": bool(off.requests_to(A, r"^/sumdb/"))})
    record_failures(case, "sumdb 500 via proxy", seen["every /sumdb/ path"], again["every /sumdb/ path"])
    record_failures(case, "sumdb lookup 500 via proxy", seen["lookups and tiles"], again["lookups and tiles"])

    for which, by in seen.items():
        for s, o in by.items():
            via = sumdb_expected(which, s)
            case.expect(f"500 on {which}, {s}: the command succeeds", o.ok, via not in ("nowhere", "through A"),
                        detail=o.errors)
            case.expect(f"500 on {which}, {s}: go verifies", verified_via(o, db), via)
            if not o.ok:
                case.expect(f"500 on {which}, {s}: go says 500", "500 Internal Server Error" in o.error_line, True,
                            detail=o.errors)
                case.expect(f"500 on {which}, {s}: the same command succeeds once the fault is gone",
                            again[which][s].ok, True, detail=again[which][s].errors)
    case.expect("GOSUMDB=off: the command succeeds", off.ok, True, detail=off.errors)


# --- an @v/list that takes 30 s ---------------------------------------------------------------------------------

LIST_DELAY_S = 30
# go has no timeout to fire before LIST_DELAY_S (see the module's docstring), so nothing it could retry after:
# within this bound it makes its one request and waits. Without the watchdog it would wait the 30 s.
LIST_WATCHDOG_S = 3
LATEST = ("list", "-m", "-json", f"{LIB}@latest")


def test_slow_version_list(topo, case):
    """A's @v/list takes 30 s (a proxy that lists a module slowly, as when it asks the origin first). go asks
    for @latest under each shape, the three at once, each its own name for A (aliases, told apart by the Host
    header), with a watchdog of LIST_WATCHDOG_S; beside them an exact version, which needs no list. Then the
    three again, the delay gone."""
    names = {s: f"list-{i}.corp.test" for i, s in enumerate(SHAPES, 1)}
    a = world(topo, a_aliases=tuple(names.values()))
    go = topo.go()
    cmds = Commands(go)
    a.fault(r"/@v/list$", "delay", seconds=LIST_DELAY_S)
    started = {s: cmds.start(goproxy(s, f"https://{names[s]}"), *LATEST, timeout=LIST_WATCHDOG_S) for s in SHAPES}
    exact = cmds.start(goproxy("A,B", f"https://{A}"), *DOWNLOAD, timeout=LIST_WATCHDOG_S)
    slow = {s: f.result() for s, f in started.items()}
    exact = exact.result()
    a.clear_faults()
    # one at a time (each is quick now): the requests of commands ending together are told apart by no one
    slow_again = {s: go.again(o) for s, o in slow.items()}
    case.note(slow["A,B"])

    requests = [r for o in [*slow.values(), exact] for r in o.requests]
    by_name = lambda name: [r for r in requests if r.server == A and (r.headers or {}).get("Host") == name]
    case.fact(watchdog_s=LIST_WATCHDOG_S, list_delay_s=LIST_DELAY_S,
              **{f"slow list {s}": {"timed_out": o.timed_out, "list_requests": len(by_name(names[s])),
                                    "succeeds_after_fault_gone": slow_again[s].ok}
                 for s, o in slow.items()},
              asked_b=any(r.server == B for r in requests), went_direct=any(r.server == ORIGIN for r in requests),
              exact_version={"ok": exact.ok, "asked_list": any(r.path.endswith("/@v/list") for r in requests
                                                               if (r.headers or {}).get("Host") == A)})
    record_failures(case, f"@v/list {LIST_DELAY_S} s", slow, slow_again)

    for s, o in slow.items():
        case.expect(f"{s}: go still waits at the watchdog", o.timed_out, True, detail=o.errors)
        case.expect(f"{s}: requests for @v/list (no retry)", [r.path for r in by_name(names[s])],
                    [f"/{LIB}/@v/list"])
        case.expect(f"{s}: the same command succeeds once the list is prompt", slow_again[s].ok, True,
                    detail=slow_again[s].errors)
    case.expect("go asks B or goes direct meanwhile", case.facts["asked_b"] or case.facts["went_direct"], False)
    case.expect("an exact version needs no list: it succeeds", exact.ok, True, detail=exact.errors)
