"""The cross-release view (fixtures/record/crossrelease.py): `gotraps report RUN...` over several runs, and
the report of one run of several releases (`--go minors`), on real lines of tests/data/runs. No Docker."""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.cli import gotraps as cli
from fixtures.record import crossrelease, report, runs
from fixtures.record.case import Case, doc_line, result_line
from fixtures.record.line import ResultLine

DATA = Path(__file__).resolve().parent / "data" / "runs"
RESET = "test_second_proxy_after_failure[reset-comma]"


def lines_of(release: str, relabel: str | None = None) -> list[dict]:
    text = (DATA / f"go{release}" / "results.jsonl").read_text()
    return [json.loads(l) for l in (text.replace(release, relabel) if relabel else text).splitlines()]


def write_run(dest: Path, lines: list[dict], releases: list[str], run_id: str, args=None) -> Path:
    dest.mkdir(parents=True)
    (dest / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    (dest / "run.json").write_text(json.dumps({"run_id": run_id, "go_releases": releases, "exitstatus": 0,
                                               "args": args or ["-n", "auto", "scenarios"], "started": 1.0e9,
                                               "finished": 1.0e9 + 60, "host": "vm"}))
    return dest


def exit_2(line: dict) -> None:
    if line["nodeid"].endswith(RESET.replace("[", "[go1.26.9-")):
        line["observations"][0]["exit_code"] = 2


@pytest.fixture
def minors_run(tmp_path) -> Path:
    """One run of three releases, as `--go minors` makes it: go1.26.9 behaves like go1.27.3 but for one
    exit code, which go1.27.3 then shares with go1.21.13 again."""
    middle = lines_of("1.27.3", "1.26.9")
    for line in middle:
        exit_2(line)
    return write_run(tmp_path / "20990101-000000-minors", lines_of("1.21.13") + middle + lines_of("1.27.3"),
                     ["1.27.3", "1.21.13", "1.26.9"], "20990101-000000-minors")


def test_a_run_of_several_releases_says_what_changed_at_the_release_it_first_appears(minors_run):
    run = runs.load(minors_run)
    steps = crossrelease.steps(run, ["1.21.13", "1.26.9", "1.27.3"])
    assert [(s["from"], s["release"]) for s in steps] == [("1.21.13", "1.26.9"), ("1.26.9", "1.27.3")]
    first, second = ([g["title"] for g in s["groups"]] for s in steps)
    assert "GET /<module>/@v/<version>.info -> 404: 1× -> 2×" in first        # go1.27.3's twice-asked 404s
    assert not [t for t in second if "404: 1× -> 2×" in t]                     # ... shown once, where they begin
    assert "`go mod download -json example.com/lib@v1.0.0`: exit code 1 -> 2" in first
    assert second == ["`go mod download -json example.com/lib@v1.0.0`: exit code 2 -> 1"]
    md, html = report.render(run)
    assert "## What changed from release to release" in md and 'id="releases"' in html
    assert md.index("### go1.26.9 (from go1.21.13)") < md.index("### go1.27.3 (from go1.26.9)")


def test_cells_that_differ_from_the_release_before_are_marked(minors_run):
    md, html = report.render(runs.load(minors_run))
    assert "| go1.21.13 | go1.26.9 | go1.27.3 |" in md                           # in the order Go made them
    row = next(l for l in md.splitlines() if l.startswith(f"| `{RESET}`"))
    cells = [c.strip() for c in row.split("|")[-4:-1]]
    assert cells[0] == "connection reset by peer" and cells[1].startswith("≠ ") and cells[2].startswith("≠ ")
    assert 'data-changed="yes"' in html and "differs from go1.26.9: go command 1: exit code: 2 -&gt; 1" in html


def test_each_claim_shows_the_evidence_behind_its_verdict(minors_run):
    md, html = report.render(runs.load(minors_run))
    row = next(l for l in md.splitlines() if l.startswith("| **C3.3** |"))
    assert re.search(r"\| REFUTED ×\d+: \S", row), row             # not only the count: the evidence too
    evidence = next(c["evidence"] for l in runs.load(minors_run).lines for c in map(vars, l.claims) if c["id"] == "C3.3")
    assert evidence[:60] in row and evidence[:60].replace("'", "&#39;").replace('"', "&#34;") in html
    assert 'class="ev"' in html


def test_each_release_shows_its_components(minors_run):
    md, _ = report.render(runs.load(minors_run))
    table = md[md.index("## Components"):md.index("## Run")]
    assert "| component | go1.21.13 | go1.26.9 | go1.27.3 |" in table
    assert re.search(r"\| go:1\.27\.3 \| — \| — \| go version go1\.27\.3", table), table


def test_gotraps_report_of_several_runs_writes_one_report(tmp_path, capsys):
    a = write_run(tmp_path / "a", lines_of("1.21.13"), ["1.21.13"], "20990101-000000-aaaaaa")
    b = write_run(tmp_path / "b", lines_of("1.27.3"), ["1.27.3"], "20990102-000000-bbbbbb")
    out = tmp_path / "cross"
    assert cli.main(["report", str(b), str(a), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "go1.27.3 (from go1.21.13): 4 of 7 cases changed; biggest: GET /<module>/@v/<version>.info" in printed
    assert f"wrote {out / 'report.html'}" in printed
    md = (out / "report.md").read_text()
    assert md.startswith("# gotraps across Go releases: go1.21.13, go1.27.3")
    assert "- run `20990101-000000-aaaaaa`" in md and "- run `20990102-000000-bbbbbb`" in md
    assert "<script" not in (out / "report.html").read_text() and "http" not in re.sub(
        r"(https?://[\w.-]*corp\.test|https?://example\.com|https://go\.dev)", "", (out / "report.html").read_text()
    ).split("<body>")[0]                                               # self-contained: no CDN, no fetch


def test_two_runs_of_one_release_are_said(tmp_path, capsys):
    a = write_run(tmp_path / "a", lines_of("1.27.3"), ["1.27.3"], "20990101-000000-aaaaaa")
    b = write_run(tmp_path / "b", lines_of("1.27.3"), ["1.27.3"], "20990102-000000-bbbbbb")
    assert cli.main(["report", str(a), str(b), "--out", str(tmp_path / "cross")]) == 0
    printed = capsys.readouterr().out
    assert "two runs of go1.27.3 given (20990101-000000-aaaaaa and 20990102-000000-bbbbbb): this report shows " \
           "20990102-000000-bbbbbb's" in printed
    assert "one release only (go1.27.3): nothing to compare across releases" in printed


def test_a_line_the_infrastructure_spoilt_is_not_compared(minors_run, tmp_path):
    lines = [json.loads(l) for l in (minors_run / "results.jsonl").read_text().splitlines()]
    for line in lines:
        if line["nodeid"].endswith(RESET.replace("[", "[go1.26.9-")):
            line.update(infrastructure_error="the engine went away", outcome="error")
    run = write_run(tmp_path / "spoilt", lines, ["1.21.13", "1.26.9", "1.27.3"], "20990101-000000-spoilt")
    md, html = report.render(runs.load(run))
    row = next(l for l in md.splitlines() if l.startswith(f"| `{RESET}`"))
    assert "not compared: infrastructure" in row and "≠" not in row.split("|")[-2]      # 1.27.3: against 1.21.13
    assert 'class="cell infra" title="the engine went away"' in html
    steps = crossrelease.steps(runs.load(run), ["1.21.13", "1.26.9", "1.27.3"])
    assert any(n.startswith("infrastructure: 1 cases") for n in steps[0]["not_compared"])


# --- what a person reads beside a case -----------------------------------------------------------------

def test_each_case_shows_the_first_line_of_its_docstring(tmp_path):
    lines = [ResultLine.from_json(l).to_json() for l in lines_of("1.27.3")]
    for line in lines:
        line["doc"] = f"What {line['nodeid'].split('::')[1].split('[')[0]} shows."
    run = write_run(tmp_path / "doc", lines, ["1.27.3"], "20990101-000000-docdoc")
    md, html = report.render(runs.load(run))
    assert f"| `{RESET}` — What test_second_proxy_after_failure shows. |" in md
    assert '<div class="doc">What test_second_proxy_after_failure shows.</div>' in html


def test_what_a_case_pins_is_said_per_release(minors_run, tmp_path):
    lines = [ResultLine.from_json(json.loads(l)).to_json() for l in (minors_run / "results.jsonl").read_text().splitlines()]
    for line in lines:
        if line["nodeid"].split("::")[1].startswith("test_second_proxy_after_failure[") and "reset-comma" in line["nodeid"]:
            held = line["release"] != "1.26.9"
            line["expectations"] = [{"name": "falls back to the next proxy", "expected": True, "observed": held,
                                     "held": held, "since": "1.21"}]
    run = write_run(tmp_path / "pins", lines, ["1.21.13", "1.26.9", "1.27.3"], "20990101-000000-pinpin")
    md, html = report.render(runs.load(run))
    said = "falls back to the next proxy: expected since 1.21; go1.26.9 differs (observed False)"
    assert f"- `{RESET}` pins {said}" in md and f"<li>pins {said}</li>" in html


def test_a_case_records_its_doc_line():
    assert doc_line("\n    The control: a proxy that answers.\n\n    More.\n") == "The control: a proxy that answers."
    assert doc_line(None, ["# family: sumdb", "# C2.8: GOSUMDB=off skips the lookup.", "# more"]) == \
        "C2.8: GOSUMDB=off skips the lookup."
    assert doc_line(None, ["# family: sumdb"]) == ""
    c = Case("scenarios/test_x.py::test_y[go1.27.3]", "x", {"go_release": "1.27.3"}, (), doc="Does y.")
    line = result_line(c, {}, SimpleNamespace(run_id="r", worker="w", components={}), False)
    assert line.doc == "Does y." and ResultLine.from_json(json.loads(json.dumps(line.to_json()))).doc == "Does y."

