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

from fixtures.record import errors
from upstreamlib.faults import REGISTRY, TERMINALS

PROXY, GOOD = "proxy.corp.test", "example.com/lib@v1.0.0"
LIB = r"^/example\.com/lib/@v/"
GO_MOD = "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v1.0.0\n"
SHAPES = ("argument", "module")
HANG_S = 1.0          # the watchdog on what never answers: go has no timeout of its own on a proxy request (outages)
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
# A 200 whose body is no go.mod (a login page): in the module shape go writes it into the module cache as the
# module's .mod file, and every later command reads it from there, proxy healthy or not, until the cache is
# cleaned. (The argument shape asks for .info first, which does not parse, so nothing is cached.)
POISONED = {("module", "body: not a zip"), ("module", "html login page")}
ON_ZIP = {"status 503 on the .zip": ("status", {"code": 503}), "reset (RST) on the .zip": ("reset", {})}

# Failures of names, connections and TLS: the name the client's GOPROXY names -> (what happens, how to make it).
DNS_FAULTS = ("nxdomain", "servfail", "refused", "no-answer")
TLS_AND_CONNECTIONS = {"untrusted certificate": "untrusted", "handshake never finishes": "hang-handshake",
                       "connection refused": None}


class Shapes:
    """Both shapes for failure n, each in a directory and module cache of its own, so that a retry (go.again) finds
    the state its failure left."""

    def __init__(self, go, n: int, env: dict, timeout: float):
        self.go, self.env, self.timeout = go, env, timeout
        go.write({f"/work/m{n}/go.mod": GO_MOD})
        self.commands = {"argument": (("mod", "download", "-json", GOOD), "/work"),
                         "module": (("mod", "download", "-json"), f"/work/m{n}")}
        self.caches = {shape: f"/root/go/pkg/mod-{n}-{shape}" for shape in SHAPES}

    def run(self, shape: str):
        args, cwd = self.commands[shape]
        return self.go.run(*args, timeout=self.timeout, cwd=cwd, env={**self.env, "GOMODCACHE": self.caches[shape]})

    def failed(self) -> dict:
        """Both shapes against the world as it is (with its fault)."""
        return {shape: self.run(shape) for shape in SHAPES}


def contract(obs, again=None) -> dict:
    return {"json": obs.json_output(), "exit_code": obs.exit_code, "timed_out": obs.timed_out,
            "error_line": errors.normalize(obs.error_line),
            **({"retry": "ok" if again.ok else "failed"} if again is not None else {})}


def record(case, cause: str, go, obs: dict, retry: bool) -> dict:
    """Each shape's failure recorded (errors.record), run again as it ran once the fault is gone when retry is set."""
    seen = {}
    for shape, o in obs.items():
        again = go.again(o) if retry else None
        errors.record(case, cause, o, again)
        seen[shape] = contract(o, again)
    return seen


def pin(case, seen: dict) -> None:
    """Today's contract, once every finding is recorded: a failure prints JSON with an Error field and exits 1 in
    the argument shape; in the module shape, only a failure after go loaded the go.mod files does (#35380); once
    the fault is gone the same command succeeds, but for the version nobody published and a .mod that poisoned
    the module cache."""
    for name, by_shape in seen.items():
        for shape, c in by_shape.items():
            if c["timed_out"]:
                case.expect(f"{name}, {shape}: go waits for an answer that never comes", c["json"], "no output")
            elif shape == "argument" or name in ON_ZIP:
                case.expect(f"{name}, {shape}: prints", (c["json"], c["exit_code"]), ("JSON with Error", 1))
            else:
                case.expect(f"{name}, {shape}: prints", (c["json"], c["exit_code"]), ("no output", 1))
            if "retry" in c:
                case.expect(f"{name}, {shape}: the same command succeeds once the fault is gone", c["retry"],
                            "failed" if name == MISSING or (shape, name) in POISONED else "ok")


def test_upstream_faults(topo, case):
    """Every terminal fault action of the upstream's registry, on every request for the module."""
    up = topo.upstream(PROXY)
    env = {"GOPROXY": f"https://{PROXY}"}
    go = topo.go(**env)
    every = [(LIB, a, l, k) for a, s in SAMPLES.items() for l, k in s.items()]
    seen = {}
    for n, (path, action, label, keys) in enumerate(every + [(ZIP, a, l, k) for l, (a, k) in ON_ZIP.items()]):
        up.fault(path, action, **keys)
        shapes = Shapes(go, n, env, HANG_S if action == "hang" else 10)
        obs = shapes.failed()
        up.clear_faults()
        seen[label] = record(case, f"upstream {label}", go, obs, retry=True)
        case.note(obs["module"])
    shapes = Shapes(go, len(every) + len(ON_ZIP), env, 10)
    shapes.commands = {"argument": (("mod", "download", "-json", "example.com/lib@v1.9.9"), "/work")}
    seen[MISSING] = record(case, MISSING, go, {"argument": shapes.run("argument")}, retry=True)
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
        shapes = Shapes(go, n, {"GOPROXY": f"https://{name}"}, 6)
        obs = shapes.failed()
        topo.dns.clear(name)
        seen[f"dns {fault}"] = record(case, f"dns {fault}", go, obs, retry=True)
    for n, (label, host) in enumerate(servers.items(), start=len(names)):
        shapes = Shapes(go, n, {"GOPROXY": f"https://{host}"}, HANG_S if "never" in label else 6)
        obs = shapes.failed()
        # the server is as it is: no retry tells anything
        seen[label] = record(case, label, go, obs, retry=False)
        case.note(obs["module"])
    case.fact(contract=seen)
    pin(case, seen)
