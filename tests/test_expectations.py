"""Verdicts from observations, then the pins (Case.expect): a case records its claims and facts from what
it saw, then checks today's behaviour, so that a release that behaves otherwise gets its verdict in the
report AND a failed case naming the expectation that no longer holds. No Docker."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.record import claims, results, runs
from fixtures.record.case import Case, result_line
from fixtures.record.line import Expectation, ResultLine
from fixtures.record.observation import Observation, Request

SESSION = SimpleNamespace(run_id="r1", worker="gw0", components={})


def reports(failed: bool = False) -> dict:
    return {w: SimpleNamespace(when=w, failed=failed and w == "call", skipped=False, duration=1.0,
                               longrepr="AssertionError: expectation ...") for w in ("setup", "call", "teardown")}


def test_an_expectation_that_holds_is_recorded_and_says_nothing():
    c = Case("t", "x", {}, ())
    c.expect("go falls back to the next proxy", True)
    c.expect("the Cache-Control go sends", [], [])
    c.expect("(proxy, DB, git) asked", (True, False, {"b", "a"}), [True, False, ["a", "b"]])   # as JSON reads them
    assert [e.held for e in c.expectations] == [True, True, True]
    assert c.expectations[0] == Expectation("go falls back to the next proxy", True, True, True, None)


def test_an_expectation_that_fails_is_recorded_and_named():
    c = Case("t", "x", {}, ())
    with pytest.raises(AssertionError) as err:
        c.expect("a 403 stops the , chain", True, False, since="1.21", detail="go: reading ...: 403 Forbidden")
    assert str(err.value) == ("expectation 'a 403 stops the , chain' (since go1.21): expected False, observed True\n"
                              "go: reading ...: 403 Forbidden")
    assert c.expectations == [Expectation("a 403 stops the , chain", False, True, False, "1.21")]


def test_the_expectations_are_in_the_line_and_load_back(tmp_path):
    c = Case("scenarios/test_x.py::test_y[go1.27.3]", "x", {"go_release": "1.27.3"}, ())
    agent = "GoCommand/1 (+https://go.dev/cmd/go)"
    c.expect("go's User-Agent", agent, agent, since="1.27")
    line = result_line(c, reports(), SESSION, nondeterministic=False)
    assert line.to_json()["expectations"] == [{"name": "go's User-Agent", "expected": agent, "observed": agent,
                                               "held": True, "since": "1.27"}]
    results.ResultsWriter(tmp_path, "r1", "gw0").write(line)
    assert runs.load(tmp_path / "r1").lines == [line]


def test_a_line_without_expectations_reads_as_none():
    """Lines written before expectations were recorded, of schema 2 and of schema 1."""
    d = ResultLine(nodeid="scenarios/test_x.py::test_y[go1.27.3]", release="1.27.3").to_json()
    del d["expectations"]
    assert ResultLine.from_json(d).expectations == []
    assert ResultLine.from_json({"nodeid": "scenarios/test_x.py::test_y[go1.27.3]"}).expectations == []


# --- the point of it, shown on a real scenario ---------------------------------------------------------------

def scenario(name: str):
    """A scenario module, imported under a name of its own (pytest may have imported it as a test module)."""
    path = Path(__file__).resolve().parent.parent / "scenarios" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"gotraps_demo_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeTopology:
    """What test_second_proxy_after_failure asks of a topology, with a go command that did `obs`."""

    def __init__(self, obs: Observation):
        self.observations, self.setup_s, self.cpu_s = [obs], 0.0, {}
        self.go = lambda **env: SimpleNamespace(run=lambda *argv, timeout: obs)

    def upstream(self, host, **kw):
        return SimpleNamespace(fault=lambda *a, **k: None)


def test_a_release_that_behaves_otherwise_gets_its_verdict_and_a_failed_case():
    """A go whose ',' falls back after a 403 (today's stops): the scenario records C3.3 PARTLY from what it saw,
    then fails on the expectation of today's rule, named; the line holds both."""
    chain = scenario("test_proxy_chain")
    other_release = Observation(
        argv=["go", "mod", "download", "-json", chain.MOD], env={}, exit_code=0, stdout="{}", stderr="",
        duration_s=0.4, timed_out=False, timeout_s=30, requests=[
            Request(chain.A, "GET", "/example.com/lib/@v/v1.0.0.info", 403, "status", 1.0),
            Request(chain.B, "GET", "/example.com/lib/@v/v1.0.0.info", 200, None, 2.0)])
    c = Case("scenarios/test_proxy_chain.py::test_second_proxy_after_failure[go1.99.0-403-comma]", "proxy_chain",
             {"go_release": "1.99.0", "failure": "403", "sep": ","}, ("C3.3",))
    c.topology = FakeTopology(other_release)
    with pytest.raises(AssertionError, match=r"^expectation 'go falls back to the next proxy': "
                                             r"expected False, observed True"):
        chain.test_second_proxy_after_failure(c.topology, c, "403", ",")
    line = result_line(c, reports(failed=True), SESSION, nondeterministic=False)
    assert [(v.id, v.verdict) for v in line.claims] == [("C3.3", claims.PARTLY)] and line.claims_unchecked == []
    assert line.facts["fell_back"] is True and line.outcome == "failed"
    assert [(e.name, e.held) for e in line.expectations] == [("proxy A is asked first", True),
                                                             ("go falls back to the next proxy", False)]
    assert json.loads(json.dumps(line.to_json()))["expectations"][1]["observed"] is True


def test_the_workers_end_is_not_its_last_cases_time():
    """pytest times a worker's end (its pooled containers removed) as its last case's teardown: taken off, once."""
    session = SimpleNamespace(run_id="r1", worker="gw0", components={}, end_s=2.5)
    last = result_line(Case("t", "x", {}, ()), reports(), session, nondeterministic=False)
    assert last.duration_s == 0.5 and last.harness_s == 0.5 and session.end_s == 0.0
    assert result_line(Case("u", "x", {}, ()), reports(), session, nondeterministic=False).duration_s == 3.0
