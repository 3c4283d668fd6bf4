"""A script's parameters (`# param: GOTRAPS_NAME=default` in its header, the value from the environment),
the `[defaults]` condition, `holds` (a check's outcome as a boolean fact) and `fact -stdout=key`. No Docker."""
from pathlib import Path

import pytest

from fixtures import script
from fixtures.record.case import Case
from fixtures.record.observation import Observation, Request
from fixtures.script import load, parse_line

ROOT = Path(__file__).resolve().parent.parent

PARAMS = """# family: placebo
# A comment.
# param: GOTRAPS_GOPRIVATE=https://git.corp.test/*
# param: GOTRAPS_EMPTY=
upstream proxy.test
env GOPRIVATE=$GOTRAPS_GOPRIVATE
go mod download x@v1.0.0
"""


def write(tmp_path, text):
    p = tmp_path / "case.txt"
    p.write_text(text)
    return p


def test_params_come_from_the_header_and_the_environment(tmp_path):
    s = load(write(tmp_path, PARAMS), "case.txt")
    assert s.params == {"GOTRAPS_GOPRIVATE": "https://git.corp.test/*", "GOTRAPS_EMPTY": ""}
    assert s.param_values({}) == s.params
    assert s.param_values({"GOTRAPS_GOPRIVATE": "git.corp.test", "GOPRIVATE": "ignored"}) == \
        {"GOTRAPS_GOPRIVATE": "git.corp.test", "GOTRAPS_EMPTY": ""}


class _Topo:
    release = "1.27.3"

    def go(self):
        return None


def _run(text, environ, monkeypatch, stdout="", stderr="", requests=()):
    """A Run of text's lines against a last command that printed stdout/stderr and sent requests."""
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    header = [l for l in text.splitlines() if l.startswith("#")]
    params = {m.group(1): m.group(2) for m in map(script.engine.PARAM.match, header) if m}
    lines = [parse_line("t.txt", n, t) for n, t in enumerate(text.splitlines(), 1)]
    s = script.Script(Path("t.txt"), "t.txt", [l for l in lines if l], [], "placebo", (), {}, script.ENGINE, params)
    run = script.Run(s, _Topo(), case=Case("t.txt::t", "placebo", {}, ()))
    run.stdout, run.stderr = stdout, stderr
    run.obs = Observation(argv=["go", "mod", "download"], env={}, exit_code=0, stdout=stdout, stderr=stderr,
                          duration_s=1.0, timed_out=False, timeout_s=10,
                          requests=[Request("proxy.test", "GET", p, 200, None, i, {}) for i, p in enumerate(requests)])
    return run


HOLDS = """# param: GOTRAPS_GOPRIVATE=https://git.corp.test/*
holds leaked requested proxy.test '^/git\\.corp\\.test/'
holds warned stderr 'GOPRIVATE'
holds said stdout '"GOPRIVATE"'
fact -stdout=go_env_says
[!defaults] stop 'your values'
requested proxy.test '\\.zip$'
"""


def test_holds_records_a_check_without_failing_and_defaults_guards_the_pins(monkeypatch):
    run = _run(HOLDS, {}, monkeypatch, stdout='{"GOPRIVATE": "https://git.corp.test/*"}\n',
               requests=["/git.corp.test/team/secret/@v/v1.0.0.info"])
    with pytest.raises(script.ScriptFailure, match=r"t\.txt:7"):       # the defaults: the pin runs, and fails
        run.execute()
    assert run.env["GOTRAPS_GOPRIVATE"] == "https://git.corp.test/*"
    assert run.case.facts == {"script_params": {"GOTRAPS_GOPRIVATE": "https://git.corp.test/*"}, "leaked": True,
                              "warned": False, "said": True,
                              "go_env_says": {"GOPRIVATE": "https://git.corp.test/*"}}


def test_a_value_given_in_the_environment_is_recorded_and_stops_before_the_pins(monkeypatch):
    run = _run(HOLDS, {"GOTRAPS_GOPRIVATE": "git.corp.test"}, monkeypatch, stdout="not json\n")
    run.execute()                                                       # `[!defaults] stop`: no pin runs
    assert run.env["GOTRAPS_GOPRIVATE"] == "git.corp.test"
    assert run.case.facts["script_params"] == {"GOTRAPS_GOPRIVATE": "git.corp.test"}
    assert (run.case.facts["leaked"], run.case.facts["go_env_says"]) == (False, "not json")


def test_every_placebo_script_takes_its_setting_as_a_parameter():
    files = sorted((ROOT / "scenarios" / "script").glob("placebo_*.txt"))
    assert len(files) >= 7
    for f in files:
        s = load(f, f.name)
        assert s.family == "placebo" and s.params, f.name
        assert any(l.name == "stop" and l.conds == [(False, "defaults")] for l in s.lines), f.name
        assert {w for l in s.lines if l.name == "holds" for w in l.words()[:1]} >= \
               {"leaked_to_proxy", "leaked_to_sumdb", "warned"}, f.name
