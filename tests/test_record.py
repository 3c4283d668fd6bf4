"""The typed results record (fixtures/record/line.py): schema 2 round trips, runs of schema 1 (untyped,
written by an earlier gotraps: tests/data/runs) read, report and diff as before, and one case key serves
the run diff, the report and the order of a run. No Docker."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures import plugin
from fixtures.cli import gotraps as cli
from fixtures.record import claims, results, rundiff, runs
from fixtures.record.case import Case, result_line
from fixtures.record.line import SCHEMA, ResultLine, case_key
from fixtures.record.observation import Observation, Request

DATA = Path(__file__).resolve().parent / "data" / "runs"
RELEASES = ("1.27.3", "1.21.13")


def as_schema_2(src: Path, dest: Path, change=None) -> Path:
    """A copy of a run with every line read into the typed record and written back (schema 2)."""
    shutil.copytree(src, dest)
    lines = runs.load(src).lines
    for line in lines:
        if change:
            change(line)
    (dest / "results.jsonl").write_text("".join(json.dumps(l.to_json(), sort_keys=True) + "\n" for l in lines))
    meta = json.loads((src / "run.json").read_text())
    (dest / "run.json").write_text(json.dumps(dict(meta, schema=SCHEMA)))
    return dest


def changes(a: Path, b: Path) -> list[tuple]:
    return [(c.case, c.release_a, c.release_b, c.fields) for c in rundiff.diff(runs.load(a), runs.load(b)).changes]


# --- schema 1 --------------------------------------------------------------------------------------------

def test_a_run_of_schema_1_loads_into_the_typed_record(capsys):
    run = runs.load(DATA / "go1.27.3")
    assert run.schemas == [1] and "schema 1" in run.schema_note() and not run.problems
    assert {l.schema for l in run.lines} == {1} and {l.release for l in run.lines} == {"1.27.3"}
    requests = [r for l in run.lines for o in l.observations for r in o.requests]
    asked = next(r for r in requests if r.method)
    assert isinstance(asked.status, (int, type(None))) and asked.path.startswith("/") and asked.headers is None
    # a connection that sent no request (schema 1 wrote "  -> -"): an empty method, no status
    assert any(r.method == "" and r.path == "" and r.status is None for r in requests)
    # every line's observation of note is one of its observations
    assert all(l.observation is l.observations[l.noted] for l in run.lines if l.noted is not None)
    assert cli.main(["diff", str(DATA / "go1.27.3"), str(DATA / "go1.27.3")]) == 0
    out = capsys.readouterr().out
    assert "Go 1.27.3, schema 1)" in out and "note: A: schema 1: untyped lines of an earlier gotraps" in out


def test_a_schema_2_rewrite_of_a_schema_1_run_is_the_same_run(tmp_path, capsys):
    new = {r: as_schema_2(DATA / f"go{r}", tmp_path / r) for r in RELEASES}
    for r in RELEASES:
        old = runs.load(DATA / f"go{r}")
        assert runs.load(new[r]).schemas == [SCHEMA]
        assert [rundiff.behaviour(l) for l in old.lines] == [rundiff.behaviour(l) for l in runs.load(new[r]).lines]
        assert changes(DATA / f"go{r}", new[r]) == changes(new[r], DATA / f"go{r}") == []
    # across releases, the rewrite finds exactly what the original finds
    assert changes(new["1.27.3"], new["1.21.13"]) == changes(DATA / "go1.27.3", DATA / "go1.21.13") != []
    assert cli.main(["diff", str(DATA / "go1.27.3"), str(new["1.27.3"])]) == 0
    out = capsys.readouterr().out
    assert "0 changed cases of 7 compared" in out and "schema 1)" in out and "schema 2)" in out
    assert "note: A: schema 1:" in out and "note: B: schema" not in out


def test_headers_schema_1_did_not_record_stay_unrecorded_in_schema_2(tmp_path):
    rewritten = runs.load(as_schema_2(DATA / "go1.27.3", tmp_path / "b"))
    assert not any(rundiff.records_headers(l) for l in rewritten.lines)


# --- schema 2 --------------------------------------------------------------------------------------------

def test_the_typed_line_round_trips_through_json():
    for r in RELEASES:
        for line in runs.load(DATA / f"go{r}").lines:
            d = json.loads(json.dumps(line.to_json()))
            assert d["schema"] == SCHEMA and d["case"] == line.case
            assert ResultLine.from_json(d) == dataclasses.replace(line, schema=SCHEMA)


def observation(**requests_kw) -> Observation:
    return Observation(argv=["go", "mod", "download"], env={}, exit_code=1, stdout="",
                       stderr="go: example.com/lib@v1.0.0: reading http://a/x: 403 Forbidden\n", duration_s=0.5,
                       timed_out=False, timeout_s=30, started=10.0, requests=[
                           Request("a", "GET", "/x", 403, "status", 2.0, headers={"Accept": "*/*"}, t_end=2.1,
                                   detail={"cache": "MISS"}),
                           Request("b", "GET", "/y", None, "hang", 1.0, headers={"User-Agent": "Go"})])


def test_a_request_keeps_its_fault_times_headers_and_detail():
    rec = observation().record()
    d = json.loads(json.dumps(rec.to_json()))
    assert "v1_headers" not in d and "headers_recorded" not in d        # schema 1's only
    assert d["requests"][1] == {"server": "a", "method": "GET", "path": "/x", "status": 403, "fault": "status",
                                "t": 2.0, "t_end": 2.1, "headers": {"Accept": "*/*"}, "detail": {"cache": "MISS"}}
    assert type(rec).from_json(d) == rec
    assert rec.sent_headers() == {"a": ["Accept: */*"], "b": ["User-Agent: Go"]}


@pytest.mark.parametrize("change, field", [
    (lambda l: setattr(l.observations[0], "exit_code", 2), "go command 1: exit code"),
    (lambda l: setattr(l.observations[0].requests[0], "status", 502),
     "go command 1: proxy-a.corp.test saw GET /example.com/lib/@v/v1.0.0.info -> 502"),
    (lambda l: l.observations[0].requests.append(dataclasses.replace(l.observations[0].requests[0], status=None)),
     "go command 1: proxy-a.corp.test saw GET /example.com/lib/@v/v1.0.0.info -> -"),
    (lambda l: l.observations[0].requests[0].headers.update(Accept="*/*"),
     "go command 1: go sent proxy-a.corp.test Accept: */*"),
    (lambda l: l.facts.update(fell_back=True), "fact fell_back"),
    (lambda l: setattr(l.claims[0], "verdict", "CONFIRMED"), "claim C3.3"),
])
def test_every_kind_of_change_is_found_between_runs_of_schema_2(tmp_path, change, field):
    def typed(line):       # as schema 2 records them: every request with its headers
        for o in line.observations:
            o.headers_recorded = True
            for r in o.requests:
                r.headers = {}
    target = "test_second_proxy_after_failure[reset-comma]"
    a = as_schema_2(DATA / "go1.27.3", tmp_path / "a", typed)
    b = as_schema_2(DATA / "go1.27.3", tmp_path / "b", lambda l: (typed(l), l.case.endswith(target) and change(l)))
    found = changes(a, b)
    assert [c[0].split("::")[1] for c in found] == [target]
    assert field in [f for f, _, _ in found[0][3]], found


def test_a_line_of_a_newer_schema_is_skipped_and_named(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(DATA / "go1.27.3", run_dir)
    with open(run_dir / "results.jsonl", "a") as f:
        f.write(json.dumps({"schema": SCHEMA + 1, "nodeid": "scenarios/test_x.py::test_y[go1.27.3]"}) + "\n")
    run = runs.load(run_dir)
    assert len(run.lines) == 7
    assert any("test_y" in p and f"schema {SCHEMA + 1}" in p and "newer gotraps" in p for p in run.problems)


# --- the line of a case ------------------------------------------------------------------------------------

def report(when: str, failed=False, skipped=False, **kw) -> SimpleNamespace:
    return SimpleNamespace(when=when, failed=failed, skipped=skipped, duration=1.0, longrepr="boom", **kw)


def test_a_case_writes_a_typed_line_that_loads_back(tmp_path):
    noted, last = observation(), observation()
    c = Case("scenarios/test_x.py::test_y[go1.27.3-hang]", "x", {"go_release": "1.27.3", "failure": "hang"},
             ("C3.3", "C1.3"))
    c.topology = SimpleNamespace(observations=[noted, last], setup_s=0.25, cpu_s={"go0": 0.1})
    c.note(noted)
    c.claim("C3.3", claims.REFUTED, "no fallback")
    c.fact(fell_back=False)
    session = SimpleNamespace(run_id="r1", worker="gw0", components={"go:1.27.3": "go version go1.27.3"})
    reports = {w: report(w) for w in ("setup", "call", "teardown")}
    line = result_line(c, reports, session, nondeterministic=False)
    assert line.outcome == "passed" and line.noted == 0 and line.case == "scenarios/test_x.py::test_y[hang]"
    assert line.claims_unchecked == ["C1.3"] and line.duration_s == 3.0 and line.harness_s == 2.5
    results.ResultsWriter(tmp_path, "r1", "gw0").write(line)
    loaded = runs.load(tmp_path / "r1").lines
    assert loaded == [line] and loaded[0].observation.requests[0].fault == "hang"


def test_a_wait_on_purpose_is_not_the_harness_time(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    c = Case("scenarios/test_x.py::test_y[go1.27.3]", "x", {"go_release": "1.27.3"}, ())
    c.topology = SimpleNamespace(observations=[observation()], setup_s=0.0, cpu_s={})
    c.wait(1.2, "a TTL to pass")
    line = result_line(c, {w: report(w) for w in ("setup", "call", "teardown")},
                       SimpleNamespace(run_id="r1", worker="gw0", components={}), nondeterministic=False)
    assert (line.duration_s, line.waited_s, line.harness_s) == (3.0, 1.2, 1.3)
    with pytest.raises(AssertionError):
        c.wait(1, "")


@pytest.mark.parametrize("reports, outcome", [
    ({"setup": report("setup", failed=True)}, "error"),
    ({"setup": report("setup"), "call": report("call", failed=True)}, "failed"),
    ({"setup": report("setup"), "call": report("call", skipped=True, wasxfail="")}, "xfailed"),
    ({"setup": report("setup"), "call": report("call", wasxfail="")}, "xpassed"),
    ({"setup": report("setup", skipped=True)}, "skipped"),
])
def test_the_outcome_of_a_case(reports, outcome):
    c = Case("t", "x", {}, ())
    line = result_line(c, reports, SimpleNamespace(run_id="r", worker="w", components={}), False)
    assert line.outcome == outcome and line.noted is None and line.release == "?"
    assert (line.failure == "boom") == (outcome == "failed")


# --- one case key ------------------------------------------------------------------------------------------

def test_durations_are_kept_by_the_case_key_of_the_run_diff(tmp_path):
    for day, r in enumerate(RELEASES, 1):
        shutil.copytree(DATA / f"go{r}", tmp_path / f"2026010{day}-000000-aaaaaa")
    durations = runs.last_durations(tmp_path, tmp_path / "none.json")
    keys = {l.case for r in RELEASES for l in runs.load(DATA / f"go{r}").lines}
    assert set(durations) == keys and len(keys) == 7
    # the fallback file of a fresh clone holds case keys too: no release in them
    shipped = json.loads(plugin.DURATIONS_FILE.read_text())
    assert shipped and not [k for k in shipped if "[go1." in k or "[go-" in k or k.endswith("[go]")]


class Item:
    def __init__(self, nodeid: str, release: str):
        self.nodeid, self.fspath = nodeid, "tests/test_x.py"
        self.callspec = SimpleNamespace(params={"go_release": release})

    def iter_markers(self, name):
        return []


def test_a_run_orders_its_cases_by_the_same_key():
    items = [Item(f"scenarios/test_x.py::test_{n}[{rid}-p]", release)
             for n in ("short", "long") for rid, release in (("go1.27.3", "1.27.3"), ("local-tip", "/opt/tip"))]
    config = SimpleNamespace(gotraps={"durations": {case_key(items[0].nodeid, "1.27.3"): 1.0,
                                                    "scenarios/test_x.py::test_long[p]": 9.0}},
                             getoption=lambda name: None)
    plugin.pytest_collection_modifyitems(config, items)
    assert [i.nodeid.split("::")[1][:9] for i in items] == ["test_long"] * 2 + ["test_shor"] * 2


# --- the claims ---------------------------------------------------------------------------------------------

def test_gotraps_claims_lists_every_claim_by_chapter(capsys):
    assert cli.main(["claims"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {cid} " in out for cid in claims.CLAIMS) and all(t in out for t in claims.SECTIONS.values())
    assert cli.main(["claims", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == claims.markdown()


def test_commands_are_numbered_in_the_order_they_started_not_ended():
    """Commands running at once end in any order: the results line keeps the order the scenario started them in."""
    first, second = observation(), observation()
    first.seq, second.seq = 1, 2
    first.argv, second.argv = ["go", "first"], ["go", "second"]
    c = Case("scenarios/test_x.py::test_y[go1.27.3]", "x", {"go_release": "1.27.3"}, ())
    c.topology = SimpleNamespace(observations=[second, first], setup_s=0.0, cpu_s={})     # as they ended
    c.note(second)
    session = SimpleNamespace(run_id="r1", worker="gw0", components={})
    line = result_line(c, {w: report(w) for w in ("setup", "call", "teardown")}, session, nondeterministic=False)
    assert [o.command for o in line.observations] == ["go first", "go second"] and line.noted == 1


def test_a_server_whose_request_counts_vary_is_compared_by_presence():
    many, fewer = observation(), observation()
    fewer.requests = fewer.requests[:1]
    many.requests = [many.requests[0]] * 3 + many.requests[1:]
    a = ResultLine("test_x[a]", "1.27.3", observations=[many.record()], requests_vary={"a": "jittered retries"})
    b = ResultLine("test_x[a]", "1.27.3", observations=[fewer.record()], requests_vary={"a": "jittered retries"})
    changed = [f for f, _, _ in rundiff.changed_fields(a, b)[0]]
    assert changed and not any(" a saw " in f for f in changed), changed       # b's request to b went away: a change
    assert rundiff.behaviour(a)["go command 1: a saw GET /x -> 403"] == "seen"
    assert rundiff.behaviour(dataclasses.replace(a, requests_vary={}))["go command 1: a saw GET /x -> 403"] == "3×"
    assert not any(f.startswith("go command 1: go sent a ") for f in rundiff.behaviour(a))    # nor their headers
    # a case that says so since: the run before it is compared the same way
    assert [f for f, _, _ in rundiff.changed_fields(dataclasses.replace(a, requests_vary={}), b)[0]] == changed
