"""The benchmark: how long the suite takes on this machine, where a case's time goes, what is slow and why.

    python benchmarks/bench.py                       # -n 1, -n 2 and -n auto over the whole suite
    python benchmarks/bench.py --workers auto -k sumdb --cold 1.26.4
    python benchmarks/bench.py --workers auto,auto:nopool   # the same run without the container pool
    python benchmarks/bench.py --workers auto,auto:noagent  # ... with docker exec instead of the agents
    python benchmarks/bench.py --workers auto,auto:notmpfs  # ... with GOPATH in each go client's own layer

Writes results/bench.json (and prints it): per worker count the suite's wall time, pytest's counts and
the machine's busy CPU seconds, the harness time per case (case duration minus the time its go
commands ran: containers, networks, files, logs), median and p90; per family its cases, its share of the wall
time (of the case time) and of the busy CPU (its containers'), its harness time per case (a table, as README's); the time to confirm that every image is cached; with --cold, a toolchain
download and its image build from nothing, in a throw-away cache; the ten slowest cases of the last run
and why each is slow (the go commands' bounds, whether a watchdog fired); and, between the runs, every
case whose behaviour changed (the run diff): a flip, since the runs differ only in how they ran. A
worker count may end in ":nopool" (GOTRAPS_POOL=0: every member of every case in a new container),
":noagent" (GOTRAPS_AGENT=0: every command a docker exec) or ":notmpfs" (GOTRAPS_TMPFS=0: GOPATH not on a
tmpfs). A full first run that passed also rewrites scenarios/durations.json, the order of a run that has no
runs of its own (a fresh clone, CI).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures import plugin  # noqa: E402
from fixtures.record import rundiff, runs  # noqa: E402
from fixtures.record.line import ResultLine  # noqa: E402
from fixtures.runtime import engine, images, toolchains  # noqa: E402
from fixtures.world.topology import SERVICE_IMAGES  # noqa: E402


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)


def seed(results_dir: Path) -> None:
    """Give a throw-away results dir the case durations of the user's last runs (the longest cases start
    first), as the user's own next run would have them."""
    durations = runs.last_durations(ROOT / "results", plugin.DURATIONS_FILE)
    if durations:
        (results_dir / "seed").mkdir()
        (results_dir / "seed" / "run.json").write_text("{}")
        (results_dir / "seed" / "results.jsonl").write_text(     # a line per case key, under no release
            "".join(json.dumps(ResultLine(nodeid=key, duration_s=d).to_json()) + "\n" for key, d in durations.items()))


def save_durations(results_dir: Path) -> None:
    """The order of a run without runs of its own (scenarios/durations.json) from a full run that passed."""
    durations = {l.case: round(l.duration_s or 0.0, 1) for l in runs.load(results_dir / "latest").lines}
    plugin.DURATIONS_FILE.write_text(json.dumps(dict(sorted(durations.items())), indent=0) + "\n")


# what a worker count's ":variant" sets
VARIANTS = {"nopool": {"GOTRAPS_POOL": "0"}, "noagent": {"GOTRAPS_AGENT": "0"}, "notmpfs": {"GOTRAPS_TMPFS": "0"}}


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (engine, containers, pytest) since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def suite(label: str, select: list[str], results_dir: Path) -> dict:
    workers, _, variant = label.partition(":")
    seed(results_dir)
    env = {**os.environ, **VARIANTS.get(variant, {})}
    started, cpu = time.monotonic(), busy_cpu_s()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers,
                           "--results-dir", str(results_dir), "scenarios", *select],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    wall, cpu = time.monotonic() - started, busy_cpu_s() - cpu
    summary = [l for l in proc.stdout.splitlines() if " in " in l and ("passed" in l or "failed" in l)]
    lines = runs.load(results_dir / "latest").lines if (results_dir / "latest").exists() else []
    every = [l.harness_s or 0.0 for l in lines]
    return {"workers": label, "exit": proc.returncode, "wall_s": round(wall, 1), "busy_cpu_s": round(cpu, 1),
            "pytest": summary[-1].strip("= ") if summary else proc.stdout[-300:], "cases": len(lines),
            "case_time_s": round(sum(l.duration_s or 0 for l in lines), 1),
            # what the containers themselves used; the rest of busy_cpu_s is the engine, the kernel, pytest
            "containers_cpu_s": container_cpu(lines),
            "harness_s": {"median": percentile(every, 0.5), "p90": percentile(every, 0.9)},
            "families": families(lines, cpu), "slowest": slowest(lines)}


def families(lines: list[ResultLine], busy_cpu_s: float) -> dict:
    """Each family's share of the run: its case time (the workers run cases side by side, so its share of the
    wall time is its share of the case time), the CPU its containers used (a share of the machine's busy CPU;
    the engine's, the kernel's and pytest's part is not per case), its harness time per case."""
    by: dict[str, list[ResultLine]] = {}
    for line in lines:
        if line.outcome != "skipped":       # a case skipped (a program unavailable here) cost nothing
            by.setdefault(line.family, []).append(line)
    total = sum(l.duration_s or 0 for l in lines) or 1.0
    out = {}
    for family, ls in sorted(by.items(), key=lambda kv: -sum(l.duration_s or 0 for l in kv[1])):
        case_time = sum(l.duration_s or 0 for l in ls)
        cpu = sum(v or 0 for l in ls for v in (l.cpu_s or {}).values())
        hs = [l.harness_s or 0.0 for l in ls]
        out[family] = {"cases": len(ls), "case_time_s": round(case_time, 1),
                       "wall_share": round(case_time / total, 3), "containers_cpu_s": round(cpu, 1),
                       "cpu_share": round(cpu / busy_cpu_s, 3) if busy_cpu_s else None,
                       "harness_median_s": percentile(hs, 0.5), "harness_p90_s": percentile(hs, 0.9)}
    return out


def family_table(run: dict) -> str:
    """A run's families as the README's table (markdown)."""
    rows = ["| family | cases | case time | share of wall | containers' CPU | share of busy CPU | harness per case, median / p90 |",
            "|---|---|---|---|---|---|---|"]
    for f, v in run["families"].items():
        share = f"{v['cpu_share'] * 100:.1f} %" if v["cpu_share"] is not None else "?"
        rows.append(f"| {f} | {v['cases']} | {v['case_time_s']:.0f} s | {v['wall_share'] * 100:.1f} % | "
                    f"{v['containers_cpu_s']:.0f} s | {share} | {v['harness_median_s']} s / {v['harness_p90_s']} s |")
    return "\n".join(rows)


def container_cpu(lines: list[ResultLine]) -> dict:
    """CPU seconds the cases' containers used: go clients (members go0, go1 ...) and servers."""
    go = servers = 0.0
    for line in lines:
        for member, cpu in (line.cpu_s or {}).items():
            if member.startswith("go") and member[2:].isdigit():
                go += cpu or 0
            else:
                servers += cpu or 0
    return {"go_clients": round(go, 1), "servers": round(servers, 1)}


def flips(run_dirs: dict[str, Path]) -> list[dict]:
    """The run diff of each later run against the first: what changed is a flip."""
    loaded = {label: runs.load(d / "latest") for label, d in run_dirs.items() if (d / "latest").exists()}
    labels = list(loaded)
    out = []
    for label in labels[1:]:
        d = rundiff.diff(loaded[labels[0]], loaded[label])
        out.append({"a": labels[0], "b": label, "compared": d.compared, "flips": len(d.changes),
                    "cases": [c.case for c in d.changes], "details": rundiff.format_diff(d, limit=20)})
    return out


def slowest(lines: list[ResultLine], n: int = 10) -> list[dict]:
    """The n longest cases, each with where its time went."""
    out = []
    for line in sorted(lines, key=lambda l: -(l.duration_s or 0))[:n]:
        why = [f"{o.command[:70]}: {o.duration_s} s" + (" (watchdog fired)" if o.timed_out else "")
               for o in sorted(line.observations, key=lambda o: -(o.duration_s or 0))[:2]]
        out.append({"nodeid": line.nodeid, "duration_s": line.duration_s, "harness_s": line.harness_s, "why": why})
    return out


def image_check_s() -> float:
    client = engine.connect()
    started = time.monotonic()
    images.ensure_all(client, [toolchains.DEFAULT_GO], SERVICE_IMAGES.values())    # one unavailable here is said, not built
    return round(time.monotonic() - started, 2)


def cold(release: str) -> dict:
    """Download one release and build its image from nothing (a throw-away cache; the image is removed)."""
    client = engine.connect()
    with tempfile.TemporaryDirectory(prefix="gotraps-bench-") as cache:
        os.environ["GOTRAPS_CACHE"] = cache
        try:
            started = time.monotonic()
            toolchain = toolchains.ensure(release)
            downloaded = time.monotonic() - started
            tag = images.ensure_go_image(client, toolchain)
            built = time.monotonic() - started - downloaded
        finally:
            del os.environ["GOTRAPS_CACHE"]
        client.images.remove(tag, force=True)
    return {"release": release, "download_s": round(downloaded, 1), "image_build_s": round(built, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,auto", help="comma-separated -n values (default 1,2,auto)")
    ap.add_argument("-k", dest="keyword", help="only the scenarios matching this pytest -k expression")
    ap.add_argument("--cold", metavar="RELEASE", help="also time a cold download and image build of RELEASE")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench.json"))
    ap.add_argument("--keep-runs", metavar="DIR", help="keep each run's results under DIR/<workers>")
    args = ap.parse_args(argv)
    select = ["-k", args.keyword] if args.keyword else []
    report = {"host": {"cores": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
              "command": " ".join(["python", "benchmarks/bench.py", *(argv or sys.argv[1:])]),
              "image_cache_check_s": image_check_s(), "suite": []}
    run_dirs = {}
    with tempfile.TemporaryDirectory(prefix="gotraps-bench-results-") as tmp:
        for i, label in enumerate(w.strip() for w in args.workers.split(",")):
            out = Path(args.keep_runs or tmp) / f"{i + 1}-{label.replace(':', '-')}"
            out.mkdir(parents=True)
            report["suite"].append(suite(label, select, out))
            if not select and report["suite"][-1]["exit"] == 0 and i == 0:
                save_durations(out)
            run_dirs[f"{i + 1}: -n {label}"] = out
            print(json.dumps({k: v for k, v in report["suite"][-1].items() if k != "families"}, indent=1), flush=True)
            print(family_table(report["suite"][-1]), flush=True)
        report["flips"] = flips(run_dirs)
    for f in report["flips"]:
        print(f"run diff {f['a']} -> {f['b']}: {f['flips']} of {f['compared']} cases changed", flush=True)
    if args.cold:
        report["cold"] = cold(args.cold)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
