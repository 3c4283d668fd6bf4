"""The `go mod download -json` contract: tools parse its stdout, and some network errors print no JSON at all
(golang/go#69510, #35380). For every failure the harness can cause (each terminal action of the upstream's
fault registry, each failing DNS fault of the resolver's, each TLS and connection failure) a case records
what -json printed (JSON with an Error field, JSON without one, nothing, not JSON) and the exit code, in
the two shapes tools run it in:
  - "argument": `go mod download -json example.com/lib@v1.0.0`, outside a module;
  - "module": `go mod download -json` in a module whose go.mod requires example.com/lib v1.0.0.
Each failure of the argument shape is run again, with the same module cache, once the fault is gone
(errors.record): `gotraps errors` tables which error lines a retry cures, per release, and the -json
contract of every failed -json command of the run, this family's and every other's.
"""
import pytest

from fixtures.record import errors
from upstreamlib.faults import REGISTRY, TERMINALS

PROXY, GOOD = "proxy.corp.test", "example.com/lib@v1.0.0"
LIB = r"^/example\.com/lib/@v/"
GO_MOD = "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v1.0.0\n"
SHAPES = ("argument", "module")
HANG_S = 1.5          # the watchdog on what never answers: go has no timeout of its own on a proxy request
# One resolver attempt of 1 s: a name nobody answers costs 1 s, not glibc's and go's default 5 s x 2 attempts.
RESOLV = {"options": ["timeout:1", "attempts:1"]}

# Each terminal action of the upstream's fault registry, on every request for the module, as one or more
# samples (label -> the action's keys). A new terminal action without a sample fails collection below.
SAMPLES = {
    "status": {f"status {code}": {"code": code} for code in (403, 404, 410, 500, 503)},
    "body": {"body: not a zip": {"text": "this is not what you asked for\n"}},
    "html": {"html login page": {}},
    "redirect": {"redirect loop": {"location": "/example.com/lib/@v/loop", "code": 302}},    # LIB matches it too
    "truncate": {"truncated after 10 bytes": {"bytes": 10}},
    "close": {"close without an answer": {}},
    "reset": {"reset (RST)": {}},
    "hang": {"hang": {}},
}
_UNSAMPLED = sorted(n for n, f in REGISTRY.items() if f.kind in TERMINALS and n not in SAMPLES)
if _UNSAMPLED:
    raise ValueError(f"fault actions {', '.join(_UNSAMPLED)} have no sample in {__file__}'s SAMPLES: every "
                     "failure the harness can cause belongs in the -json contract")
# The same faults on the zip only: in the module shape go has loaded go.mod files by then.
ZIP = r"^/example\.com/lib/@v/v1\.0\.0\.zip$"
# A failure of the world, not of the network: the same 404 as the fault's, and no fault to take away.
MISSING = "a version nobody published"
ON_ZIP = {"status 503 on the .zip": ("status", {"code": 503}), "reset (RST) on the .zip": ("reset", {})}

# Failures of names, connections and TLS: the name the client's GOPROXY names -> (what happens, how to make it).
DNS_FAULTS = ("nxdomain", "servfail", "refused", "no-answer")
TLS_AND_CONNECTIONS = {"untrusted certificate": "untrusted", "handshake never finishes": "hang-handshake",
                       "connection refused": None}


def shapes(go, n: int, env: dict, timeout: float) -> dict:
    """Both shapes against the world as it is, each with a module cache of its own (n: the failure's number)."""
    go.write({f"/work/m{n}/go.mod": GO_MOD})
    caches = {shape: f"/root/go/pkg/mod-{n}-{shape}" for shape in SHAPES}
    return {"argument": go.run("mod", "download", "-json", GOOD, timeout=timeout,
                               env={**env, "GOMODCACHE": caches["argument"]}),
            "module": go.run("mod", "download", "-json", timeout=timeout, cwd=f"/work/m{n}",
                             env={**env, "GOMODCACHE": caches["module"]})}


def contract(obs) -> dict:
    return {"json": obs.json_output(), "exit_code": obs.exit_code, "timed_out": obs.timed_out,
            "error_line": errors.normalize(obs.error_line)}


def retry(go, failed, env: dict):
    """The argument shape again, same module cache: does the failure outlive its fault?"""
    return go.run(*failed.argv[1:], timeout=failed.timeout_s, env={**env, "GOMODCACHE": failed.env["GOMODCACHE"]})


def pin(case, seen: dict) -> None:
    """Today's contract, once every finding is recorded: a failure prints JSON with an Error field and exits 1 in
    the argument shape; in the module shape, only a failure after go loaded the go.mod files does (#35380)."""
    for name, by_shape in seen.items():
        arg, mod = by_shape["argument"], by_shape.get("module")
        if mod and not mod["timed_out"]:
            case.expect(f"{name}: module shape prints", (mod["json"], mod["exit_code"]),
                        ("JSON with Error" if name in ON_ZIP else "no output", 1))
        if arg["timed_out"]:
            case.expect(f"{name}: go waits for an answer that never comes", arg["json"], "no output")
            continue
        case.expect(f"{name}: argument shape prints JSON with an Error field", arg["json"], "JSON with Error")
        case.expect(f"{name}: argument shape exits 1", arg["exit_code"], 1)
        if "retry" in by_shape:
            case.expect(f"{name}: the same command succeeds once the fault is gone", by_shape["retry"],
                        "failed" if name == MISSING else "ok")


def test_upstream_faults(topo, case):
    """Every terminal fault action of the upstream's registry, on every request for the module."""
    up = topo.upstream(PROXY)
    env = {"GOPROXY": f"https://{PROXY}"}
    go = topo.go(**env)
    seen = {}
    every = [(LIB, a, l, k) for a, s in SAMPLES.items() for l, k in s.items()]
    for n, (path, action, label, keys) in enumerate(every + [(ZIP, a, l, k) for l, (a, k) in ON_ZIP.items()]):
        up.fault(path, action, **keys)
        timeout = HANG_S if action == "hang" else 10
        obs = shapes(go, n, env, timeout)
        up.clear_faults()
        again = retry(go, obs["argument"], env)
        for shape, o in obs.items():
            errors.record(case, f"upstream {label}", o, again if shape == "argument" else None)
        seen[label] = {**{s: contract(o) for s, o in obs.items()}, "retry": "ok" if again.ok else "failed"}
        case.note(obs["module"])
    missing = go.run("mod", "download", "-json", "example.com/lib@v1.9.9", timeout=10,
                     env={**env, "GOMODCACHE": "/root/go/pkg/mod-missing"})
    again = retry(go, missing, env)
    errors.record(case, MISSING, missing, again)
    seen[MISSING] = {"argument": contract(missing), "retry": "ok" if again.ok else "failed"}
    case.fact(contract=seen)
    pin(case, seen)


def test_name_connection_and_tls_failures(topo, case):
    """Each failing DNS fault on the proxy's name, an untrusted certificate, a handshake that never ends, a
    refused connection."""
    names = {fault: f"dns-{fault}.corp.test" for fault in DNS_FAULTS}
    topo.upstream(PROXY, aliases=tuple(names.values()))
    servers = {label: f"{mode or 'nothing-listens'}.corp.test" for label, mode in TLS_AND_CONNECTIONS.items()}
    for label, mode in TLS_AND_CONNECTIONS.items():
        topo.upstream(servers[label], tls=mode or "trusted", listen=mode is not None)
    go = topo.go(resolv=RESOLV)
    seen = {}
    for n, (fault, name) in enumerate(names.items()):
        topo.dns.fault(name, fault)
        env = {"GOPROXY": f"https://{name}"}
        obs = shapes(go, n, env, 6)
        topo.dns.clear(name)
        again = retry(go, obs["argument"], env)
        for shape, o in obs.items():
            errors.record(case, f"dns {fault}", o, again if shape == "argument" else None)
        seen[f"dns {fault}"] = {**{s: contract(o) for s, o in obs.items()}, "retry": "ok" if again.ok else "failed"}
    for n, (label, host) in enumerate(servers.items(), start=len(names)):
        obs = shapes(go, n, {"GOPROXY": f"https://{host}"}, HANG_S if "never" in label else 6)
        for o in obs.values():
            errors.record(case, label, o)       # the server is as it is: no retry tells anything
        seen[label] = {s: contract(o) for s, o in obs.items()}
        case.note(obs["module"])
    case.fact(contract=seen)
    pin(case, seen)
