"""Attacks on the checksum DB by the proxy that proxies it (issue 23): GOSUMDB names the DB by its key alone, so
go reads every lookup and tile through <proxy>/sumdb/<name>/ (the proxy answers /supported), and the proxy lies.

The proxy serves a TAMPERED version of the target (its zip's hash is not the DB's record) and runs one attack of
the registry upstreamlib/sumdb_attacks/ (one module each: an empty lookup body, another module's record, lines
added after the signed note or inside the record, a forged tile, a forked tree, a stale or corrupted tree head)
on the DB's answers. Two targets: a module zip (`go mod download -json example.com/lib@v1.0.0`) and a toolchain
module (a go.mod asking for go1.N.99, GOTOOLCHAIN=auto: `go version` switches to
golang.org/toolchain@v0.0.1-go1.N.99.linux-amd64). The toolchain served is a small module whose bin/go is a shell
script saying which one ran (the DB records the "genuine" one, the proxy serves the "tampered" one): what an
attacker ships, and cheap enough to download eight times; go's download and verification are the same for any
zip. Accepted: the command succeeded with the tampered content (the -json Sum is the tampered zip's hash; the
tampered toolchain's bin/go ran).

Each attack starts as a fresh machine: a GOPATH of its own (GOPATH/pkg/sumdb holds the tree head go trusts;
GOPATH/pkg/mod the module cache and its sumdb tile cache). Attacks marked PRIME first fetch the decoy module
through the proxy (honest until the target's lookup), so go holds a tree head before the attack. Once the attack
is over and the proxy honest again, the same GOPATH fetches another module (example.com/lib@v1.1.0): a failure
there is a lasting refusal, the client's checksum DB state broken beyond the attack (a SECURITY ERROR after a
corrupted latest, golang/go#38348); then the same command after `go clean -modcache`, and after removing
GOPATH/pkg/sumdb (the tree head go keeps), says which one holds the trouble.

The DB is filled before go's first request (ChecksumDB.fill): the targets, the decoy and the check module first,
then filler records up to sumdb_attacks.TREE_SIZE, a tree whose shape lets a forged level-0 tile go unchecked by a
client that authenticates tiles from the wrong index.
"""
from __future__ import annotations

import itertools
import re

import pytest

from fixtures.record import attacks, errors
from fixtures.runtime.goindex import version_key
from fixtures.runtime.toolchain_module import TOOLCHAIN_MODULE, renamed_release, toolchain_version
from fixtures.world import modules
from upstreamlib import gomod, sumdb, sumdb_attacks

PROXY, DB = "proxy.corp.test", "sum.corp.test"
LIB, LIB_FIXTURE = "example.com/lib", "example.com_lib_v1.0.0.txt"
TARGET_LIB = f"{LIB}@v1.0.0"
DECOY = "example.com/util@v1.0.0"       # the unrelated record, and what a PRIME attack's client fetches first
CHECK = "example.com/lib@v1.1.0"        # fetched once the attack is over: does the client still work?
TAMPERED_LIB = modules.tampered(LIB_FIXTURE, 'return "v1.0.0"', 'return "v1.0.0, tampered"')
RAN = "gotraps: the %s toolchain ran"
TC_DIR = "/work/tc"                     # a module asking for the newer toolchain
WATCHDOG_S = 20

# What each release did (observed with --go 1.21.13,1.24.11,1.25.5,1.26.2,1.26.3,1.26.6,1.27.3; the patch
# releases between were not run): attack -> the release that first refused it. In the sources: go1.26.3's
# modfetch.checkSumDB fails a lookup with no line for the module ("checksum missing from sumdb response"), where
# the releases before returned nil; go1.26.6's vendored tlog checks every tile below the tree's (sumdb_attacks.TREE_SIZE).
REFUSED_SINCE = {"unrelated_record": "1.26.3", "forged_tile": "1.26.6"}
# A tree signed with the DB's own key is all a client with no tree head yet can check: accepted, and what it
# keeps breaks every later verification.
ACCEPTED_ALWAYS = {"corrupt_latest"}
LASTING = {"corrupt_latest"}
# What go says when it refuses (in its error line).
REFUSAL = {
    "empty_lookup": "malformed record data",
    "unrelated_record": "checksum missing from sumdb response",
    "lines_after_note": "reading tree note: malformed note",
    "lines_in_record": "cannot authenticate record data in server response",
    "forged_tile": "downloaded inconsistent tile",
    "fork": "SECURITY ERROR",
    "stale_latest": "cannot authenticate record data in server response",
}
# The tree head go keeps after the attack: none when it had none and refused before merging one.
TREE_KEPT = {"empty_lookup": "none", "lines_after_note": "none", "corrupt_latest": "not the log's"}


def toolchain_fixture(version: str, which: str) -> tuple[str, bytes]:
    """golang.org/toolchain@version as a fixture: what cmd/go/internal/toolchain.Exec needs (bin/go, bin/gofmt,
    pkg/tool and lib, whose execute bits it sets) with a bin/go that says `which` toolchain ran."""
    script = f"#!/bin/sh\necho \"{RAN % which}: go $*\"\n"
    text = (f"{TOOLCHAIN_MODULE} {version}: the {which} toolchain of the checksum DB attacks.\n\n"
            f"-- .mod --\nmodule {TOOLCHAIN_MODULE}\n"
            f"-- .info --\n{{\"Version\":\"{version}\",\"Time\":\"2024-01-01T00:00:00Z\"}}\n"
            f"-- bin/go --\n{script}-- bin/gofmt --\n{script}"
            f"-- pkg/tool/linux_amd64/README --\nno tools\n-- lib/README --\nno lib\n")
    return f"golang.org_toolchain_{version}.txt", text.encode()


def world(topo):
    """The proxy (tampered lib and toolchain, proxying the DB), the DB (genuine ones, filled) and a go client."""
    new = renamed_release(topo.release)
    tc_version = toolchain_version(new)
    tc_name, genuine = toolchain_fixture(tc_version, "genuine")
    _, tampered = toolchain_fixture(tc_version, "tampered")
    files = topo.session.module_files
    proxy = topo.upstream(PROXY, modules={**files, **TAMPERED_LIB, tc_name: tampered})
    db = topo.sumdb(DB, modules={**files, tc_name: genuine})
    proxy.proxy_sumdb(db)
    targets = {"module zip": TARGET_LIB, "toolchain": f"{TOOLCHAIN_MODULE}@{tc_version}"}
    db.fill([*targets.values(), DECOY, CHECK])
    go = topo.go(GOPROXY=f"https://{PROXY}", GOSUMDB=db.gosumdb(url=None))
    go.write({f"{TC_DIR}/go.mod": f"module example.com/hello\n\ngo {new}\n"})
    tampered_h1 = gomod.Module.from_txtar(LIB_FIXTURE, TAMPERED_LIB[LIB_FIXTURE]).gosum_lines()[0].split()[2]
    first = [modules.module(LIB, "v1.0.0").gosum_lines(), gomod.Module.from_txtar(tc_name, genuine).gosum_lines(),
             modules.module(*DECOY.split("@")).gosum_lines(), modules.module(*CHECK.split("@")).gosum_lines()]
    return proxy, db, go, targets, tampered_h1, log_tree(first)


def log_tree(first: list[list[str]]) -> str:
    """The text of the honest log's tree head after ChecksumDB.fill: the first records, then the fillers."""
    log = sumdb.SumDB(name="log.example")
    for i, lines in enumerate(first):
        log.add("first", str(i), "".join(l + "\n" for l in lines))
    for i in itertools.count():
        if len(log) >= sumdb_attacks.TREE_SIZE:
            break
        log.add("filler", str(i), sumdb.filler_lines(i))
    return sumdb.format_tree(len(log), log.tree_hash()).decode()


def tree_kept(go, gopath: str, db, log: str) -> str:
    """What go keeps as the DB's latest tree head (GOPATH/pkg/sumdb/<name>/latest): the log's, another, none."""
    kept = (go.read(f"{gopath}/pkg/sumdb/{db.name}/latest") or b"").decode(errors="replace")
    if not kept:
        return "none"
    return "the log's" if kept.split("\n\n")[0] + "\n" == log else "not the log's"


def download(go, module: str, gopath: str):
    return go.run("mod", "download", "-json", module, cwd="/", timeout=WATCHDOG_S, env={"GOPATH": gopath})


@pytest.mark.parametrize("target", ["module zip", "toolchain"])
def test_sumdb_attacks(topo, case, target):
    """Each checksum DB attack of the proxy against a tampered module zip or toolchain: accepted or refused, and
    whether the refusal outlasts the attack."""
    if topo.release.startswith("/"):
        pytest.skip("a local GOROOT has no release number to switch from")
    proxy, db, go, targets, tampered_h1, log = world(topo)
    newer = re.compile(re.escape(renamed_release(topo.release)))
    module = targets[target]
    seq = itertools.count(1)
    found = {}
    for attack in sumdb_attacks.ATTACKS:
        gopath = f"/root/go/attack-{next(seq)}"
        proxy.sumdb_attack(attack, db, module=module, decoy=DECOY)
        if sumdb_attacks.REGISTRY[attack].prime:
            primed = download(go, DECOY, gopath)
            if not primed.ok:       # the proxy is honest until the target's lookup: a failure here is ours
                raise AssertionError(f"{attack}: priming with {DECOY} failed: {primed.errors}")
        if target == "module zip":
            obs = download(go, module, gopath)
            sums = [o.get("Sum") for o in obs.json_objects() if isinstance(o, dict)]
            accepted = obs.ok and tampered_h1 in sums
        else:
            obs = go.run("version", cwd=TC_DIR, timeout=WATCHDOG_S, env={"GOPATH": gopath, "GOTOOLCHAIN": "auto"})
            accepted = obs.ok and RAN % "tampered" in obs.stdout
        kept = tree_kept(go, gopath, db, log)
        proxy.sumdb_attack(None)
        later = download(go, CHECK, gopath)
        clean = lambda line: newer.sub("<newer>", line)       # noqa: E731
        found[attack] = {**attacks.finding(obs, accepted, later, clean), "tree_kept": kept}
        if not later.ok:        # what gets the client going again: the module cache's tiles, or the tree head?
            for step, script in (("go clean -modcache", "go clean -modcache"),
                                 ("rm -rf GOPATH/pkg/sumdb", f"rm -rf {gopath}/pkg/sumdb")):
                again = go.sh(f"{script} && go mod download -json {CHECK}", cwd="/", timeout=WATCHDOG_S,
                              env={"GOPATH": gopath})
                found[attack][f"then {step}"] = "ok" if again.ok else clean(errors.normalize(again.error_line))
        if not obs.ok:
            errors.record(case, f"sumdb attack {attack} ({target})", obs, None)
        if not later.ok:
            errors.record(case, f"after sumdb attack {attack} ({target})", later, None)
    attacks.record(case, found)

    for attack, f in found.items():
        since = REFUSED_SINCE.get(attack)
        accepted = attack in ACCEPTED_ALWAYS or bool(since and version_key(topo.release) < version_key(since))
        case.expect(f"{attack}: the tampered {target} is accepted", f["accepted"], accepted, since=since,
                    detail=f["error_line"] or "")
        if not f["accepted"]:
            case.expect(f"{attack}: go says {REFUSAL[attack]!r}", REFUSAL[attack] in (f["error_line"] or ""),
                        detail=f["error_line"] or "")
        case.expect(f"{attack}: the next command fails too (lasting)", f["lasting"], attack in LASTING,
                    detail=f["lasting_error"] or "")
        case.expect(f"{attack}: the tree head go keeps", f["tree_kept"], TREE_KEPT.get(attack, "the log's"))
        if attack in LASTING:
            # the tree head go kept is the trouble: the module cache holds none of it
            case.expect(f"{attack}: fixed by go clean -modcache", f.get("then go clean -modcache") == "ok", False,
                        detail=f.get("then go clean -modcache") or "")
            case.expect(f"{attack}: fixed by removing GOPATH/pkg/sumdb", f.get("then rm -rf GOPATH/pkg/sumdb"), "ok")
