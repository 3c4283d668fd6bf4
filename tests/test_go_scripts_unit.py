"""Go's own scripts against the fakes: which scripts each release gives, how a skip is classified, and the four
classes in the run summary, the report and CI's check (no container: pure logic)."""
from __future__ import annotations

import json

import pytest

from fixtures import bootstrap
from fixtures.record import fidelity, report, runs
from fixtures.record.line import ResultLine
from fixtures.script import goscripts


def goroot(tmp_path, name, scripts: dict[str, str], mods=("rsc.io_quote_v1.5.2.txt",)):
    root = tmp_path / name
    (root / "src/cmd/go/testdata/script").mkdir(parents=True)
    (root / "src/cmd/go/testdata/mod").mkdir(parents=True)
    for n, text in scripts.items():
        (root / "src/cmd/go/testdata/script" / f"{n}.txt").write_text(text)
    for m in mods:
        (root / "src/cmd/go/testdata/mod" / m).write_text("")
    return root


def test_each_release_gives_its_own_scripts_and_only_those_of_the_new_families_that_touch_the_network(tmp_path):
    old = goroot(tmp_path, "old", {"mod_proxy_list": "go list\n", "work_edit": "go work edit\n",
                                   "work_sum": "go get rsc.io/quote\n", "vendor_import": "go build\n"})
    new = goroot(tmp_path, "new", {"mod_proxy_list": "", "mod_sumdb_new": "", "goauth_netrc": "env GOAUTH=netrc\n",
                                   "gotoolchain_net": "env GOTOOLCHAIN=go1.999\nrsc.io/quote v1.5.2\n",
                                   "get_local": "cd example.com/m\n", "mod_vendor": "go mod vendor\n"})
    assert goscripts.go_script_names(old) == ["mod_proxy_list", "work_sum"]
    assert goscripts.go_script_names(new) == ["goauth_netrc", "gotoolchain_net", "mod_proxy_list", "mod_sumdb_new"]


def test_an_excluded_script_is_not_taken(tmp_path, monkeypatch):
    root = goroot(tmp_path, "r", {"mod_proxy_list": "", "mod_proxy_odd": ""})
    monkeypatch.setitem(goscripts.EXCLUDED, "mod_proxy_odd", "why")
    assert goscripts.go_script_names(root) == ["mod_proxy_list"]


@pytest.mark.parametrize("conds, cls", [
    ([(False, "git")], fidelity.SKIPPED_HARNESS),
    ([(False, "net"), (False, "exec:git")], fidelity.SKIPPED_HARNESS),     # [!net:...] is the harness's
    ([(False, "exec:hg")], fidelity.SKIPPED_GO),
    ([(True, "GOOS:windows")], fidelity.SKIPPED_GO),
    ([(True, "root")], fidelity.SKIPPED_GO),
    ([], fidelity.SKIPPED_GO),
])
def test_a_skip_is_the_harnesss_when_its_condition_is_about_the_harness(conds, cls):
    got, why = goscripts.skip_class(conds)
    assert got == cls and why


def line(release, script, cls, reason="", outcome=None):
    outcome = outcome or {fidelity.PASSED: "passed", fidelity.FAILED: "failed"}.get(cls, "skipped")
    return ResultLine(nodeid=f"scenarios/test_go_scripts.py::test_go_script[go{release}-{script}]", release=release,
                      family=fidelity.FAMILY, params={"go_release": release, "go_script": script}, outcome=outcome,
                      facts={fidelity.FACT: fidelity.finding(cls, reason)})


LINES = [line("1.27.3", "mod_proxy_list", fidelity.PASSED), line("1.27.3", "mod_get_hg", fidelity.SKIPPED_GO, "[!exec:hg]"),
         line("1.27.3", "mod_get_git", fidelity.SKIPPED_HARNESS, "no vcweb"),
         line("1.27.3", "mod_x", fidelity.FAILED, "mod_x.txt:3: stderr 'no such host': no match"),
         line("1.21.13", "mod_proxy_list", fidelity.PASSED)]


def test_the_summary_counts_the_four_classes_per_release_and_lists_all_but_passed():
    out = fidelity.summary(LINES)
    assert out[0] == "Go's own scripts under go1.21.13: 1 passed, 0 skipped (Go), 0 skipped (harness), 0 failed"
    assert out[1] == "Go's own scripts under go1.27.3: 1 passed, 1 skipped (Go), 1 skipped (harness), 1 failed"
    assert "  skipped (harness): mod_get_git: no vcweb" in out and \
        "  failed: mod_x: mod_x.txt:3: stderr 'no such host': no match" in out
    assert not any("mod_proxy_list" in o for o in out)


def test_a_case_without_its_fact_counts_by_its_outcome():
    bare = ResultLine(nodeid="scenarios/test_go_scripts.py::test_go_script[go1.27.3-m]", release="1.27.3",
                      family=fidelity.FAMILY, params={"go_script": "m"}, outcome="error", failure="boom\ncontainer")
    assert fidelity.section([bare], ["1.27.3"])[0]["listed"] == [
        {"script": "m", "class": fidelity.FAILED, "reason": "container"}]
    with pytest.raises(ValueError):
        fidelity.finding("skipped")


def test_the_report_has_the_go_scripts_table(tmp_path):
    run_dir = tmp_path / "20991231-000000-abcdef"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text("".join(json.dumps(l.to_json()) + "\n" for l in LINES))
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_dir.name, "go_releases": ["1.21.13", "1.27.3"], "args": [], "host": "h",
                                                  "exitstatus": 1}))
    md, html = report.render(runs.load(run_dir))
    assert "| go1.27.3 | 1 | 1 | 1 | 1 |" in md and "- go1.27.3 skipped (harness): `mod_get_git`: no vcweb" in md
    assert 'id="go-scripts"' in html and "<code>mod_x</code>" in html


def test_ci_allows_the_classified_skips_of_go_scripts_and_no_other(tmp_path, monkeypatch, capsys):
    latest = tmp_path / "results" / "latest"
    latest.mkdir(parents=True)
    lines = [l.to_json() for l in LINES]
    (latest / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    monkeypatch.setattr(bootstrap, "ROOT", tmp_path)
    bootstrap.check_no_skipped_scenario()
    assert "2 of Go's own scripts skipped for the reason each says" in capsys.readouterr().out
    lines.append({"nodeid": "scenarios/test_x.py::test_y", "outcome": "skipped", "facts": {}})
    (latest / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    with pytest.raises(SystemExit):
        bootstrap.check_no_skipped_scenario()


class FakeCase:
    def __init__(self):
        self.facts = {}

    def fact(self, **kw):
        self.facts.update(kw)


def fail_at(*_):
    raise goscripts.ScriptFailure("> go get x\nFAIL: x.txt:3: stderr 'y': no match\n\nfailed at x.txt:3 in /work")


def test_a_harness_gap_that_fails_is_skipped_with_its_reason_and_line(monkeypatch):
    monkeypatch.setattr(goscripts, "_run", fail_at)
    monkeypatch.setitem(goscripts.HARNESS_GAPS, "mod_x", "needs vcweb")
    case = FakeCase()
    with pytest.raises(pytest.skip.Exception, match="skipped \\(harness\\): needs vcweb \\(fails at x.txt:3"):
        goscripts.run_go_script(None, case, "/", "mod_x")
    assert case.facts[fidelity.FACT]["class"] == fidelity.SKIPPED_HARNESS


def test_a_failure_not_in_the_table_fails_and_a_gap_that_passes_fails_too(monkeypatch):
    monkeypatch.setattr(goscripts, "_run", fail_at)
    case = FakeCase()
    with pytest.raises(goscripts.ScriptFailure):
        goscripts.run_go_script(None, case, "/", "mod_y")
    assert case.facts[fidelity.FACT] == fidelity.finding(fidelity.FAILED, "x.txt:3: stderr 'y': no match")
    monkeypatch.setattr(goscripts, "_run", lambda *a: None)
    monkeypatch.setitem(goscripts.HARNESS_GAPS, "mod_x", "needs vcweb")
    with pytest.raises(AssertionError, match="take it out"):
        goscripts.run_go_script(None, case, "/", "mod_x")
