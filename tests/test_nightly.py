"""`gotraps nightly` (fixtures/cli/nightly.py): the nightly workflow's comparison, on artifacts laid out
as the workflow downloads them (DIR/results-go<minor>/<run-id>/ and the `latest` copy), made from real
lines of tests/data/runs. No Docker."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.cli import gotraps as cli
from fixtures.cli import nightly

DATA = Path(__file__).resolve().parent / "data" / "runs"
WHOLE = ["-n", "auto", "scenarios", "--go"]


def artifact(night: Path, minor: str, source: str, release: str, run_id: str, args=None, change=None) -> None:
    """One job's artifact: results/ as upload-artifact stores it (the `latest` link as a copy)."""
    text = (DATA / f"go{source}" / "results.jsonl").read_text().replace(source, release)
    lines = [json.loads(l) for l in text.splitlines()]
    for line in lines:
        if change:
            change(line)
    meta = {"run_id": run_id, "go_releases": [release], "exitstatus": 0, "args": args or WHOLE + [release]}
    for name in (run_id, "latest"):
        d = night / f"results-go{minor}" / name
        d.mkdir(parents=True)
        (d / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
        (d / "run.json").write_text(json.dumps(meta))


def exit_2(line: dict) -> None:
    if "reset-comma" in line["nodeid"]:
        line["observations"][0]["exit_code"] = 2


@pytest.fixture
def nights(tmp_path) -> tuple[Path, Path]:
    """The previous night: go1.21.13 and go1.27.3. Tonight: go1.21.13 unchanged, go1.27.4 (a new patch that
    exits otherwise in one case) and go1.28rc1, never seen before."""
    prev, cur = tmp_path / "previous", tmp_path / "current"
    artifact(prev, "1.21", "1.21.13", "1.21.13", "20990101-031700-aaaaa1")
    artifact(prev, "1.27", "1.27.3", "1.27.3", "20990101-031700-aaaaa2")
    artifact(cur, "1.21", "1.21.13", "1.21.13", "20990102-031700-bbbbb1")
    artifact(cur, "1.27", "1.27.3", "1.27.4", "20990102-031700-bbbbb2", change=exit_2)
    artifact(cur, "1.28", "1.27.3", "1.28rc1", "20990102-031700-bbbbb3")
    return prev, cur


def test_every_minor_against_itself_and_the_newest_against_the_minor_before(nights, tmp_path):
    prev, cur = nights
    v = nightly.compare(cur, prev, "success", tmp_path / "out")
    assert [c.title for c in v.comparisons] == [
        "go1.21: go1.21.13 the previous night → go1.21.13 tonight",
        "go1.27: go1.27.3 the previous night → go1.27.4 tonight",
        "the newest, go1.28rc1, against go1.27.4 (the newest patch of the minor before)"]
    assert [len(c.diff.changes) for c in v.comparisons] == [0, 1, 1] and v.changed
    assert v.news == ["new patch: go1.27.4 tonight, go1.27.3 the previous night",
                      "go1.28rc1 was never seen before: no go1.28 the previous night"]
    assert not v.notes
    assert {p.name for p in v.written} == {"report.md", "report.html", "night-go1.21.13-go1.21.13.txt",
                                           "night-go1.27.3-go1.27.4.txt", "minor-go1.27.4-go1.28rc1.txt"}


def test_the_cross_release_report_holds_every_release_of_the_night(nights, tmp_path):
    prev, cur = nights
    nightly.compare(cur, prev, "success", tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("# gotraps across Go releases: go1.21.13, go1.27.4, go1.28rc1")
    assert "### go1.28rc1 (from go1.27.4)" in md


def test_the_command_prints_fails_and_writes_the_step_summary(nights, tmp_path, capsys):
    prev, cur = nights
    summary = tmp_path / "summary.md"
    argv = ["nightly", "--current", str(cur), "--previous", str(prev), "--previous-status", "success",
            "--out", str(tmp_path / "out"), "--summary", str(summary)]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("NEWS: new patch: go1.27.4 tonight, go1.27.3 the previous night\n"
                          "NEWS: go1.28rc1 was never seen before")
    assert "== go1.27: go1.27.3 the previous night → go1.27.4 tonight: 1 of 7 cases changed: a change of behaviour" in out
    assert "`go mod download -json example.com/lib@v1.0.0`: exit code 1 -> 2" in out
    assert out.endswith("the night: CHANGED: Go behaves differently from the previous night\n")
    md = summary.read_text()
    assert md.startswith("## gotraps nightly\n\n> **new patch: go1.27.4 tonight")
    assert "- ❌ go1.27: go1.27.3 the previous night → go1.27.4 tonight" in md and "- ✅ go1.21" in md
    assert "### the newest, go1.28rc1, against go1.27.4" in md and len(md.encode()) < 60_000


def test_no_change_from_the_previous_night_passes(tmp_path, capsys):
    prev, cur = tmp_path / "previous", tmp_path / "current"
    artifact(prev, "1.27", "1.27.3", "1.27.3", "20990101-031700-aaaaa2")
    artifact(cur, "1.27", "1.27.3", "1.27.3", "20990102-031700-bbbbb2")
    artifact(cur, "1.21", "1.21.13", "1.21.13", "20990102-031700-bbbbb1")
    assert cli.main(["nightly", "--current", str(cur), "--previous", str(prev), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "NEWS: go1.21.13 was never seen before" in out
    assert "the newest, go1.27.3, against go1.21.13" in out and out.endswith("no change of behaviour from the previous night\n")


def test_a_previous_night_that_failed_is_said_not_taken_for_nothing(tmp_path):
    prev, cur = tmp_path / "previous", tmp_path / "current"
    artifact(prev, "1.21", "1.21.13", "1.21.13", "20990101-031700-aaaaa1")      # go1.27's job left nothing
    artifact(cur, "1.21", "1.21.13", "1.21.13", "20990102-031700-bbbbb1")
    artifact(cur, "1.27", "1.27.3", "1.27.3", "20990102-031700-bbbbb2")
    v = nightly.compare(cur, prev, "failure", tmp_path / "out")
    assert v.news[0].startswith("the previous night's workflow ended `failure`: its runs may be missing or partial "
                                "(go1.21.13); a release missing there is not new")
    assert "go1.27.3: not compared, no go1.27 in what the previous night left" in v.news
    assert not [n for n in v.news if "never seen" in n]
    v = nightly.compare(cur, prev, "cancelled", tmp_path / "out2")
    assert "ended `cancelled`" in v.news[0]


def test_no_previous_night_is_said(tmp_path):
    cur = tmp_path / "current"
    artifact(cur, "1.27", "1.27.3", "1.27.3", "20990102-031700-bbbbb2")
    v = nightly.compare(cur, None, None, tmp_path / "out", expect=["1.27.3", "1.28rc1"])
    assert v.news == ["no previous night to compare with: tonight's releases are compared with each other only"]
    assert v.notes == ["go1.28rc1 was expected tonight but has no results (its job failed before writing any?)",
                       "go1.27.3 is the only minor tonight: no minor before it to compare with"]
    assert not v.comparisons and not v.changed


def test_a_run_made_with_a_selection_is_said(tmp_path):
    prev, cur = tmp_path / "previous", tmp_path / "current"
    artifact(prev, "1.27", "1.27.3", "1.27.3", "20990101-031700-aaaaa2", args=WHOLE + ["1.27.3", "-k", "sumdb"])
    artifact(cur, "1.27", "1.27.3", "1.27.3", "20990102-031700-bbbbb2")
    v = nightly.compare(cur, prev, "success", tmp_path / "out")
    assert v.notes[0] == ("the previous night's go1.27.3 run 20990101-031700-aaaaa2 ran a selection (`-k sumdb`): "
                          "only the cases both nights ran are compared")


def test_tonight_without_any_run_is_bad_input(tmp_path, capsys):
    (tmp_path / "current" / "results-go1.27").mkdir(parents=True)
    assert cli.main(["nightly", "--current", str(tmp_path / "current"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no run of tonight" in capsys.readouterr().err


@pytest.mark.parametrize("args, picked", [
    (WHOLE + ["1.27.3"], ""),
    (WHOLE + ["1.27.3", "-k", "sumdb or proxy"], "-k sumdb or proxy"),
    (["-n", "auto", "scenarios/test_sumdb.py", "--go", "1.27.3"], "scenarios/test_sumdb.py"),
    (["scenarios/test_x.py::test_y", "-m", "not slow"], "scenarios/test_x.py::test_y -m not slow"),
    (["-ksumdb", "--lf"], "-ksumdb --lf"),
])
def test_what_makes_a_run_a_selection(args, picked):
    assert nightly.selection(SimpleNamespace(meta={"args": args})) == picked

