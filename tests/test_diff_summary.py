"""The run diff as release notes (fixtures/record/changes.py, diffview.py): changes grouped across cases,
biggest first, on a pair of runs made from real lines.

tests/data/runs/go1.27.3-wide/ is a trim of a full go1.27.3 run (52 of its 250 cases: those the five
changes below touch, and a few more). The earlier run is made from it by undoing what changed between
go1.23.9 and go1.27.3 on the same machine, as the old 1,382-line diff of those two runs showed it:

  1. go sends `User-Agent: GoCommand/1 (+https://go.dev/cmd/go)`, no longer `Go-http-client/1.1`;
  2. go asks each 404 prefix lookup twice: `GET /example.com/@v/v1.0.0.info -> 404` and, for the
     parent paths of a private module, `GET /team?go-get=1 -> 404`;
  3. `go env -w GOROOT=...` and `go env -u GOROOT` are refused: `go: GOROOT cannot be modified`;
  4. git runs `ls-remote -q --end-of-options <url>` where it ran `ls-remote -q origin`;
  5. go no longer sets BatchMode for ssh (the fact go_sets_batch_mode).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.cli import gotraps as cli
from fixtures.record import changes, diffview, rundiff, runs
from fixtures.record.line import ResultLine

DATA = Path(__file__).resolve().parent / "data" / "runs"
WIDE = DATA / "go1.27.3-wide"
UA_NOW, UA_BEFORE = "User-Agent: GoCommand/1 (+https://go.dev/cmd/go)", "User-Agent: Go-http-client/1.1"
ASKED_TWICE = ("GET /example.com/@v/v1.0.0.info -> 404", "GET /team?go-get=1 -> 404")
LS_REMOTE_NOW = "ls-remote -q --end-of-options https://git.corp.test/team/secret"


def as_go1_23_9(line: dict) -> dict:
    """A go1.27.3 line as go1.23.9 recorded it, by the five changes of the docstring."""
    line = json.loads(json.dumps(line).replace("1.27.3", "1.23.9").replace(UA_NOW, UA_BEFORE)      # 1
                      .replace(LS_REMOTE_NOW, "ls-remote -q origin"))                               # 4
    for obs in line["observations"]:
        obs["headers"] = {server: sorted(set(h)) for server, h in obs["headers"].items()}
        for requests in obs["requests"].values():                                                  # 2
            for request in ASKED_TWICE:
                if requests.count(request) == 2:
                    requests.remove(request)
        if obs["command"].startswith(("go env -w GOROOT", "go env -u GOROOT")):                    # 3
            obs.update(exit_code=0, error_line="", stderr_tail="")
    if "test_go_env_w_goroot" in line["nodeid"]:
        line["facts"].update(error_line="", ok=True, goroot_after="/opt/go1.21.13", goenv="GOROOT=/opt/go1.21.13")
        line["claims"][0].update(verdict="REFUTED")
    if "test_goroot_left_in_goenv" in line["nodeid"]:
        line["facts"].update(unset="", line_left_after_unset=False)
        line["claims"][0].update(verdict="REFUTED")
    if "go_sets_batch_mode" in line["facts"]:                                                      # 5
        line["facts"]["go_sets_batch_mode"] = True
    return line


def write_run(dest: Path, lines: list[dict], release: str, run_id: str) -> Path:
    dest.mkdir(parents=True)
    (dest / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    meta = json.loads((WIDE / "run.json").read_text())
    schema = {"schema": lines[0]["schema"]} if "schema" in lines[0] else {}
    (dest / "run.json").write_text(json.dumps(dict(meta, go_releases=[release], run_id=run_id, **schema)))
    return dest


@pytest.fixture
def five_changes(tmp_path) -> rundiff.Diff:
    lines = [json.loads(l) for l in (WIDE / "results.jsonl").read_text().splitlines()]
    before = write_run(tmp_path / "go1.23.9", [as_go1_23_9(l) for l in lines], "1.23.9", "20261201-000000-aaaaaa")
    return rundiff.diff(runs.load(before), runs.load(WIDE))


EXPECTED = [   # (cases, the change as the summary says it)
    (49, "go sends User-Agent: Go-http-client/1.1 -> GoCommand/1 (+https://go.dev/cmd/go)"),
    (28, "GET /team?go-get=1 -> 404: 1× -> 2×"),
    (17, "GET /example.com/@v/v1.0.0.info -> 404: 1× -> 2×"),        # 21 go commands of 17 cases
    (8, "fact go_sets_batch_mode: True -> False"),
    (6, "go's error line: `ls-remote -q origin in` -> `ls-remote -q --end-of-options <url> in`"),
    (2, "go's error: ok -> GOROOT cannot be modified"),
]


def test_each_change_is_one_group_biggest_first(five_changes):
    s = changes.summarize(five_changes)
    assert [(len(g.cases), g.title) for g in s.groups] == EXPECTED
    assert len(five_changes.changes) == 51 and five_changes.compared == 52


def test_what_follows_from_a_change_goes_with_it(five_changes):
    """The refused GOROOT: the exit code, the facts and the verdicts that follow are not changes of their own."""
    goroot = changes.summarize(five_changes).groups[-1]
    assert goroot.also["exit code 0 -> 1"] == 2
    assert {"fact ok: True -> False", "claim C2.4: REFUTED -> CONFIRMED", "claim C2.4: REFUTED -> PARTLY",
            "fact line_left_after_unset: False -> True"} <= set(goroot.also)
    ls_remote = changes.summarize(five_changes).groups[-2]
    assert dict(ls_remote.also) == {"fact error_line: the same": 6}


def test_the_summary_fits_one_screen_then_every_case_follows(five_changes):
    summary = diffview.summary_lines(five_changes)
    assert len(summary) <= 40, "\n".join(summary)
    text = diffview.text(five_changes)
    assert text.startswith("\n".join(summary))
    first_screen = "\n".join(summary)
    for _, title in EXPECTED:
        assert title in first_screen
    assert "verdicts that changed:\n  C2.4: REFUTED -> CONFIRMED in 1 case" in text
    assert "Go-http-client/1.1 -> GoCommand/1" in first_screen and first_screen.count("User-Agent") == 1
    assert "\nper case:\n" in text and text.count("  (go1.23.9 -> go1.27.3)") == 51
    assert 20_000 < len(text.encode()) < 32_000, len(text.encode())       # 26.7 kB, 305 lines


def test_markdown_fits_a_step_summary_and_says_what_it_cut(five_changes):
    md = diffview.markdown(five_changes)
    assert len(md.encode()) <= diffview.MARKDOWN_BYTES and "Cut:" not in md
    assert "| 49 | go sends User-Agent: Go-http-client/1.1 -> GoCommand/1 (+https://go.dev/cmd/go) |" in md
    small = diffview.markdown(five_changes, limit=6000)
    assert len(small.encode()) <= 6000
    assert "| 2 | go's error: ok -> GOROOT cannot be modified" in small          # the summary is never cut
    cut = int(small.split("_Cut: the detail of ")[1].split(" ")[0])
    assert 0 < cut < 51 and small.count("(go1.23.9 -> go1.27.3)") == 51 - cut


def test_json_holds_everything(five_changes, tmp_path, capsys):
    out = json.loads(diffview.render(five_changes, "json"))
    assert [(g["cases"], g["change"]) for g in out["groups"]] == EXPECTED
    assert out["changed"] == 51 and len(out["changes"]) == 51 and out["a"]["releases"] == ["1.23.9"]
    assert out["verdicts"][0]["claim"] == "C2.4"


def test_gotraps_diff_formats_and_exit_status(five_changes, capsys):
    a, b = str(five_changes.a.path), str(WIDE)
    assert cli.main(["diff", a, b, "--format", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("### Go behaviour: go1.23.9 → go1.27.3")
    assert cli.main(["diff", b, b, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 0


# --- what is not compared, and bad input -----------------------------------------------------------

def test_a_line_with_an_infrastructure_error_is_not_compared(tmp_path):
    lines = [json.loads(l) for l in (WIDE / "results.jsonl").read_text().splitlines()]
    spoilt = [dict(l, infrastructure_error="the engine went away", outcome="error", facts={})
              if "test_go_env_w_goroot" in l["nodeid"] else l for l in lines]
    b = write_run(tmp_path / "b", spoilt, "1.27.3", "20261202-000000-bbbbbb")
    d = rundiff.diff(runs.load(WIDE), runs.load(b))
    assert not d.changes and d.compared == 51
    assert [(c.split("::")[1], side) for c, _, side, _ in d.infrastructure] == [("test_go_env_w_goroot", "B")]
    assert "not compared:\n  infrastructure: 1 cases whose line records an infrastructure error (1 in B)" in diffview.text(d)


def test_a_run_of_an_older_schema_is_said_and_compared(tmp_path, capsys):
    """A schema 1 run against its schema 2 rewrite: said, and no change (the headers compare too)."""
    lines = [ResultLine.from_json(json.loads(l)).to_json() for l in (WIDE / "results.jsonl").read_text().splitlines()]
    b = write_run(tmp_path / "b", lines, "1.27.3", "20261202-000000-bbbbbb")
    assert cli.main(["diff", str(WIDE), str(b)]) == 0
    out = capsys.readouterr().out
    assert "note: A: schema 1: untyped lines of an earlier gotraps" in out and "schema 2)\n" in out
    assert "note: B:" not in out
    assert "0 changed cases of 52 compared: no change in behaviour" in out


# --- normalized across cases ---------------------------------------------------------------------------

def test_a_text_change_is_the_words_that_changed_whatever_the_module():
    a1 = "go: git.corp.test/team/secret@v1.0.0: invalid version: git ls-remote -q origin in /root/go/x: exit status 128:"
    b1 = a1.replace("ls-remote -q origin", LS_REMOTE_NOW)
    a2 = a1.replace("git.corp.test/team/secret@v1.0.0", "example.com/other@v2.1.0")
    b2 = a2.replace("ls-remote -q origin", "ls-remote -q --end-of-options https://example.com/other")
    assert changes.text_change(a1, b1) == changes.text_change(a2, b2)
    assert changes.text_change(a1, b1)[1] == "`ls-remote -q origin in` -> `ls-remote -q --end-of-options <url> in`"
    assert changes.text_change("", "go: GOROOT cannot be modified")[1] == "'' -> `go: GOROOT cannot be modified`"


def test_request_paths_are_the_same_lookup_for_any_module():
    assert changes.request_shape("/example.com/@v/v1.0.0.info") == changes.request_shape("/git.corp.test/team/@v/v1.2.3.info")
    assert changes.request_shape("/team?go-get=1") == changes.request_shape("/?go-get=1") == "/<path>?go-get=1"
    assert changes.request_shape("/example.com/lib/@v/list") != changes.request_shape("/example.com/lib/@v/v1.0.0.zip")


def test_the_release_a_line_names_itself_is_not_a_change(tmp_path):
    """go1.27.3 printing `go1.27.3` where go1.27.4 prints `go1.27.4` is one behaviour; another release named is not."""
    lines = [json.loads(l) for l in (WIDE / "results.jsonl").read_text().splitlines()]
    b = write_run(tmp_path / "b", [json.loads(json.dumps(l).replace("1.27.3", "1.27.4")) for l in lines],
                  "1.27.4", "20261202-000000-bbbbbb")
    assert not rundiff.diff(runs.load(WIDE), runs.load(b)).changes
    c = write_run(tmp_path / "c", [json.loads(json.dumps(l).replace("1.21.13", "1.21.12")) for l in lines],
                  "1.27.3", "20261202-000000-cccccc")
    assert rundiff.diff(runs.load(WIDE), runs.load(c)).changes       # the other toolchain of a case is named


def test_a_fact_that_changes_beyond_one_error_stays_a_change_of_its_own(five_changes):
    """go_sets_batch_mode changes in 8 cases, 3 of which also changed their error line: its own group."""
    s = changes.summarize(five_changes)
    batch = next(g for g in s.groups if g.kind == "fact")
    assert len(batch.cases) == 8 and not batch.also


def test_the_end_of_a_run_lists_its_biggest_changes(five_changes):
    from fixtures.record import report
    lines = report.summary(five_changes.b, five_changes)
    assert lines[2].startswith("behaviour changes against 20261201-000000-aaaaaa: 51 changed cases of 52")
    assert lines[3] == "    49 cases: go sends User-Agent: Go-http-client/1.1 -> GoCommand/1 (+https://go.dev/cmd/go)"
    assert lines[-1] == "  ... and 1 more changes"

