"""go's error lines for a retry wrapper (fixtures/record/errors.py) and what -json printed (Observation.json_output)."""
from __future__ import annotations

import json
import re

import pytest

from fixtures.cli import gotraps as cli
from fixtures.record import errors, rundiff
from fixtures.record.case import Case
from fixtures.record.line import ResultLine
from fixtures.record.observation import Observation

H2 = ("go: example.com/lib@v1.0.0: reading https://h2.corp.test/example.com/lib/@v/v1.0.0.zip: stream error: "
      "stream ID 3; INTERNAL_ERROR; received from peer")


def obs(stdout="", stderr="", code=1, argv=("go", "mod", "download", "-json", "example.com/lib@v1.0.0"),
        timed_out=False) -> Observation:
    return Observation(argv=list(argv), env={}, exit_code=code, stdout=stdout, stderr=stderr, duration_s=0.1,
                       timed_out=timed_out, timeout_s=5)


@pytest.mark.parametrize("stdout, printed", [
    ('{"Path": "example.com/lib", "Error": "boom"}\n', "JSON with Error"),
    ('{"Path": "a"}\n{"Path": "b", "Error": "boom"}\n', "JSON with Error"),
    ('{"Path": "example.com/lib", "Version": "v1.0.0"}\n', "JSON"),
    ("", "no output"),
    ("  \n", "no output"),
    ('{"Path": "a"}\ngo: something else\n', "not JSON"),
    ('{"Path": "a", ', "not JSON"),
])
def test_what_a_json_command_printed(stdout, printed):
    assert obs(stdout).json_output() == printed
    assert obs(stdout).record().json_output == printed


def test_an_error_line_ending_in_a_colon_takes_its_cause_from_the_next():
    o = obs(stderr="go: error loading go.mod:\ngo.mod:5: unknown godebug \"x509sha1\"\n", argv=("go", "mod", "download"))
    assert o.error_line == 'go: error loading go.mod: go.mod:5: unknown godebug "x509sha1"'
    assert obs(stderr="go: one: thing\ngo: another\n").error_line == "go: one: thing"
    ssh = "go: x: exit status 128:\n\t@@@@@@@@@@\n\t@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
    assert obs(stderr=ssh).error_line == "go: x: exit status 128: @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"


def test_the_trace_of_x_is_no_error_line():
    trace = ("mkdir -p /root/go/pkg/mod/cache/vcs # git3 https://git.corp.test/lib\n"
             "cd /root/go/pkg/mod/cache/vcs/4a1b; git ls-remote -q origin\n"
             "0.012s # cd /root/go/pkg/mod/cache/vcs/4a1b; git ls-remote -q origin\n")
    assert obs(stderr=trace).error_line == ""
    assert obs(stderr=trace + "go: git.corp.test/lib@v1.0.0: unknown revision v1.0.0\n").error_line == \
        "go: git.corp.test/lib@v1.0.0: unknown revision v1.0.0"


def test_a_command_without_json_records_nothing_of_it():
    o = obs("not json at all", argv=("go", "mod", "download", "example.com/lib@v1.0.0"))
    assert o.json_output() is None
    assert "json_output" not in o.record().to_json()


def test_a_path_in_any_module_cache_is_the_module_cache():
    assert errors.normalize("go: unlinkat /cache/j1/go/pkg/mod/example.com/lib@v1.0.0/lib.go: permission denied") == \
        "go: unlinkat <modcache>: permission denied"
    assert errors.normalize("open /root/go/pkg/mod-3/cache/download/x.lock: no such file") == "open <modcache>: no such file"


def test_go_121s_mangled_url_is_a_url_too():
    assert errors.normalize('go: example.com/lib@v1.0.0: read "https:/mirror.corp.test/@v/v1.0.0.zip": '
                            'unexpected EOF') == 'go: <module>@<version>: read "<url>": unexpected EOF'


def test_normalized_lines_name_the_failure_not_the_case():
    assert errors.normalize(H2) == ("go: <module>@<version>: reading <url>: stream error: stream ID <n>; "
                                    "INTERNAL_ERROR; received from peer")
    assert errors.normalize("go: dial tcp: lookup nosuch.corp.test on 127.0.0.1:53: no such host") == \
        "go: dial tcp: lookup <host> on <addr>: no such host"
    assert errors.normalize("dial tcp 172.18.0.3:443: connect: connection refused") == \
        "dial tcp <addr>: connect: connection refused"


@pytest.mark.parametrize("raw", [H2, H2.replace("stream ID 3", "stream ID 117").replace("h2.corp.test", "proxy.golang.org"),
                                 H2.replace("example.com/lib@v1.0.0", "golang.org/x/mod@v0.20.1-0.20240101")])
def test_the_regex_of_a_normalized_line_matches_the_raw_lines_it_stands_for(raw):
    assert re.match(errors.pattern(errors.normalize(H2)), raw)


def test_a_connections_two_ends_are_one_address_and_its_verb_stays():
    raw = ('go: example.com/lib@v1.0.0: Get "https://a.corp.test/x": read tcp 172.18.0.3:41000->172.18.0.5:443: '
           'read: connection reset by peer')
    assert errors.normalize(raw).endswith('Get "<url>": read tcp <addr>: read: connection reset by peer')
    assert re.match(errors.pattern(errors.normalize(raw)), raw)


def test_a_regex_escapes_only_what_re2_knows():
    """Go's regexp refuses an escaped space or quote (`\\ `), which Python's re.escape writes."""
    rx = errors.pattern('go: <module>@<version>: verifying go.mod: "x" (y) [z] a.b: SECURITY ERROR')
    assert "\\ " not in rx and '\\"' not in rx and "\\(y\\)" in rx


def test_a_watchdogs_kill_has_no_regex():
    fail = obs("", timed_out=True, code=124)
    (entry,) = recorded("hang", fail, obs(code=0))[errors.FACT]
    (e,) = errors.classify([line("1.27.3", {errors.FACT: [entry]})])
    assert e.line == errors.TIMED_OUT and e.to_json()["regex"] is None


def test_the_regex_does_not_match_another_error():
    assert not re.match(errors.pattern(errors.normalize(H2)), H2.replace("INTERNAL_ERROR", "PROTOCOL_ERROR"))


def line(release, facts=None, observations=(), outcome="passed", case="test_x[a]", infra=None) -> ResultLine:
    return ResultLine(nodeid=case, release=release, facts=facts or {}, outcome=outcome,
                      observations=[o.record() for o in observations], infrastructure_error=infra)


def recorded(cause, failed, retried) -> dict:
    c = Case("test_x[a]", "outages", {}, ())
    errors.record(c, cause, failed, retried)
    return c.facts


def test_a_failure_is_recorded_with_its_retry_and_json_output():
    failed = obs('{"Path": "example.com/lib", "Error": "503"}', stderr="", code=1)
    facts = recorded("503 first 2 requests", failed, obs(code=0))
    (entry,) = facts[errors.FACT]
    assert entry["retry"] == "ok" and entry["json_output"] == "JSON with Error" and entry["exit_code"] == 1


def test_recording_a_success_as_a_failure_is_a_mistake_of_the_case():
    with pytest.raises(ValueError):
        recorded("nothing", obs(code=0), None)


def test_a_line_is_transient_permanent_or_depends_per_release():
    fail = obs(stderr=H2)
    lines = [line("1.27.3", recorded("h2 RST_STREAM mid-zip", fail, obs(code=0))),
             line("1.21.13", recorded("h2 RST_STREAM mid-zip", fail, obs(code=1)), case="test_x[b]"),
             line("1.24.11", {errors.FACT: recorded("a", fail, obs(code=0))[errors.FACT]
                              + recorded("b", fail, obs(code=1))[errors.FACT]}),
             # infrastructure is never Go: no class from a spoilt line
             line("1.26.6", recorded("h2 RST_STREAM mid-zip", fail, obs(code=1)), outcome="error", infra="engine lost")]
    (e,) = errors.classify(lines)
    assert e.classes == {"1.27.3": errors.TRANSIENT, "1.21.13": errors.PERMANENT, "1.24.11": errors.DEPENDS}
    assert errors.releases_of(lines) == ["1.21.13", "1.24.11", "1.27.3"]


def test_the_json_contract_comes_from_every_failed_json_command():
    lines = [line("1.27.3", observations=[obs("", stderr="go: example.com/lib@v1.0.0: 404 Not Found"),
                                          obs('{"Path": "a"}', code=0),
                                          obs("", timed_out=True, code=124)])]
    contract = {c.line: c.printed for c in errors.json_contract(lines)}
    assert contract == {"go: <module>@<version>: 404 Not Found": {"1.27.3": {"no output, exit 1": 1}},
                        "(timed out)": {"1.27.3": {"killed by the watchdog": 1}}}


def test_gotraps_errors_prints_both_tables_and_json(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    fail = obs('{"Path": "example.com/lib", "Error": "x"}', stderr=H2)
    rl = line("1.27.3", recorded("h2 RST_STREAM mid-zip", fail, obs(code=0)), observations=[fail])
    (run / "results.jsonl").write_text(json.dumps(rl.to_json()) + "\n")
    (run / "run.json").write_text(json.dumps({"run_id": "r", "go_releases": ["1.27.3"], "exitstatus": 1}))
    assert cli.main(["errors", str(run)]) == 0
    text = capsys.readouterr().out
    assert "| transient |" in text and "JSON with Error, exit 1" in text
    assert cli.main(["errors", str(run), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["errors"][0]["class"] == {"1.27.3": "transient"}
    assert re.match(data["errors"][0]["regex"], H2)


def test_the_run_diff_compares_json_output_only_when_both_lines_record_it():
    before = obs('{"Path": "a", "Error": "x"}').record()
    old = ResultLine("test_x[a]", "1.27.3", observations=[dataclass_replace(before, json_output=None)])
    new = ResultLine("test_x[a]", "1.27.3", observations=[before])
    assert rundiff.changed_fields(old, new)[0] == []
    other = ResultLine("test_x[a]", "1.27.3", observations=[dataclass_replace(before, json_output="no output")])
    assert [f[0] for f in rundiff.changed_fields(new, other)[0]] == ["go command 1: -json printed"]


def dataclass_replace(record, **kw):
    import dataclasses
    return dataclasses.replace(record, **kw)


def test_a_byte_of_a_go_script_that_is_not_utf8_is_kept_and_shown_escaped(tmp_path):
    from fixtures.script.default import ENGINE
    from fixtures.script.engine import ScriptError
    script = tmp_path / "bytes.txt"
    script.write_bytes(b"go mod init m\n! go get golang.org/x/net/http/httpguts\xffv0.43.0\n")
    with pytest.raises(ScriptError, match="not UTF-8: byte 0xff"):
        ENGINE.load(script, need_go=False)
    words = ENGINE.load(script, need_go=False, any_bytes=True).lines[1].words()
    assert words[-1].encode("utf-8", "surrogateescape") == b"golang.org/x/net/http/httpguts\xffv0.43.0"
    o = obs(argv=("go", "get", words[-1]))
    assert o.record().command == "go get golang.org/x/net/http/httpguts\\xffv0.43.0"
