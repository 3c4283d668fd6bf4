"""The script scenario format (fixtures/script/): parsing as cmd/internal/script does, and the
errors a bad file gives at collection, each naming file and line. No Docker."""
import re
from pathlib import Path

import pytest

from fixtures import script
from fixtures.script import ScriptError, expand, load, parse_line

ROOT = Path(__file__).resolve().parent.parent


def words(text, env=None):
    line = parse_line("t.txt", 1, text)
    return line, ["".join(f.s if f.quoted else expand(f.s, env or {}) for f in frags) for frags in line.raw_args]


# --- parsing, as engine.go parse ------------------------------------------------------------------

def test_words_quotes_and_comments():
    line, args = words("stderr 'no match for' x'y''z'w # a comment")
    assert line.name == "stderr" and args == ["no match for", "xy'zw"]
    assert parse_line("t.txt", 1, "   # only a comment") is None
    assert parse_line("t.txt", 1, "") is None


def test_prefixes_conditions_and_background():
    line, args = words("[go1.26+] [!root] ! go mod download x &")
    assert line.conds == [(True, "go1.26+"), (False, "root")]
    assert line.want == "!" and line.name == "go" and line.background and args == ["mod", "download", "x"]
    assert words("? go env")[0].want == "?"
    assert not words("go env '&'")[0].background       # a quoted & is an argument


def test_parse_errors_name_the_line():
    for text, msg in [("go 'unbalanced", "t.txt:7: unterminated quoted argument"),
                      ("! ! go", "t.txt:7: duplicated '!' or '?' token"),
                      ("[] go", "t.txt:7: empty condition"),
                      ("! [root]", "t.txt:7: missing command")]:
        with pytest.raises(ScriptError, match="^" + re.escape(msg)):
            parse_line("t.txt", 7, text)


def test_expansion_is_os_expand():
    env = {"WORK": "/work", "X": "a.b", "/": "/"}
    assert expand("$WORK/x ${WORK}y $X$ ${/}", env) == "/work/x /worky a.b$ /"
    assert expand("$UNSET-$", env) == "-$"
    assert expand("${}z", env) == "z"                    # bad syntax is eaten, as Go does
    assert expand("$X", env, in_regexp=True) == r"a\.b"    # values in a regexp match literally
    assert words("echo '$WORK' $WORK", env)[1] == ["$WORK", "/work"]   # quotes disable expansion


def test_quote_args_round_trips():
    args = ["plain", "two words", "it's", "", "$X"]
    line = parse_line("t.txt", 1, "echo " + script.quote_args(args))
    assert ["".join(f.s for f in fr) for fr in line.raw_args] == args


def test_go_regexp_and_duration():
    assert script.go_regexp(r"a\z") == r"a\Z" and script.go_regexp(r"a\\z") == r"a\\z"
    assert script.go_duration("1m30s") == 90 and script.go_duration("150ms") == 0.15
    with pytest.raises(script.CommandFailed):
        script.go_duration("10")


# --- loading a file: what collection reports --------------------------------------------------------

def write(tmp_path, text, name="case.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """# family: proxy_chain
# A comment.
upstream proxy-a.corp.test
fault proxy-a.corp.test '/example\\.com/' status code=403
env GOPROXY=http://proxy-a.corp.test
[go1.21+] ! go mod download example.com/lib@v1.0.0
! requested proxy-a.corp.test '\\.zip$'
claim C3.3 REFUTED 'no fallback'

-- go.mod --
module example.com/app
-- $WORK/sub/x.go --
package sub
"""


def test_a_good_script(tmp_path):
    s = load(write(tmp_path, GOOD), "case.txt")
    assert s.family == "proxy_chain" and s.claims == ("C3.3",)
    assert [l.name for l in s.lines] == ["upstream", "fault", "env", "go", "requested", "claim"]
    assert [l.lineno for l in s.lines] == [3, 4, 5, 6, 7, 8]
    assert [(n, script.section_path(n)) for n, _, _ in s.files] == [("go.mod", "/work/go.mod"),
                                                                     ("$WORK/sub/x.go", "/work/sub/x.go")]


@pytest.mark.parametrize("bad, where, message", [
    ("go version\nfrobnicate x\n", 2, "unknown command 'frobnicate'; known commands: .*\\bexists\\b.*\\bupstream\\b"),
    ("[linux] go version\n", 1, r"unknown condition \[linux\]; known conditions: .*\[GOOS:\*\].*\[go1\.N\+\]"),
    ("[exec] go version\n", 1, r"condition \[exec\] requires a suffix"),
    ("[root:x] go version\n", 1, r"condition \[root\] cannot be used with a suffix"),
    ("# nothing\nenv X=1\nexists go.mod\n", 1, "no go command"),
    ("go version\nstderr 'unbalanced\n", 2, "unterminated quoted argument"),
    ("go version\n\n-- /etc/ssl/certs/ca-certificates.crt --\nx\n", 3,
     "collides with a harness path: /etc/ssl/certs/ca-certificates.crt is the run's CA bundle"),
    ("go version\n-- ../usr/local/go/bin/go --\nx\n", 2, "collides with a harness path: /usr/local/go"),
    ("go version\n-- /etc/passwd --\nx\n", 2, "outside \\$WORK"),
    ("go version\n-- a.go --\nx\n-- ./a.go --\ny\n", 4, "lands on /work/a.go, like the one at line 2"),
    ("go version\nrequested proxy-b.corp.test\n", 2, "'proxy-b.corp.test' is not declared above"),
    ("upstream a.test\ngo version\n[requested:b.test] stop\n", 3, "'b.test' is not declared above"),
    ("upstream a.test\nfault a.test '.*' statuss code=1\ngo version\n", 2, "fault: unknown action 'statuss'"),
    ("upstream a.test\nfault a.test '.*' status\ngo version\n", 2, "fault: action 'status' needs 'code'"),
    ("upstream a.test\nfault a.test '.*' hang then delay seconds=1\ngo version\n", 2,
     "fault: 'hang' ends the exchange, so it comes last"),
    ("upstream a.test\nfault a.test '.*' delay seconds=1 then\ngo version\n", 2, "fault: want an action name after"),
    ("upstream -tls=maybe a.test\ngo version\n", 1, "-tls=maybe: want one of trusted"),
    ("go version\nnginx a.test no-such-variant\n", 2, "nginx: unknown variant 'no-such-variant'"),
    ("upstream a.test\nsquid p.test forward upstream=b.test\ngo version\n", 2, "'b.test' is not declared above"),
    ("go version\nclaim C9.9 REFUTED\n", 2, "unknown claim id 'C9.9'"),
    ("go version\nclaim C3.3 TRUE\n", 2, "verdict must be one of"),
    ("go version\n! claim C3.3 REFUTED\n", 2, "never negated"),
    ("go version\nclaim C3.3 REFUTED else=REFUTED\n", 2, "else verdict differs from the verdict"),
    ("go version\nclaim C3.3 REFUTED else=MAYBE\n", 2, "verdict must be one of"),
    ("go version\nclaim C3.3 REFUTED else=$V\n", 2, "else verdict is written out"),
    ("go version\nstdout\n", 2, "usage: stdout"),
    ("go version\nstdout '('\n", 2, "bad regexp"),
    ("go version\nenv X=1 &\n", 2, "cannot be run in background"),
    # a script's parameters (tests/test_script_params.py), `holds` and `fact -stdout`
    ("# param: GOPRIVATE=x\ngo version\n", 1, "a parameter is an environment variable named GOTRAPS_"),
    ("# param: GOTRAPS_x=1\ngo version\n", 1, "named GOTRAPS_ and capitals"),
    ("# param: GOTRAPS_X=1\n# param: GOTRAPS_X=2\ngo version\n", 2, "named twice"),
    ("go version\n# param: GOTRAPS_X=1\n", 2, "belongs to the header"),
    ("# param: GOTRAPS_X=1\ngo version\nholds k frobnicate x\n", 3, "'frobnicate' is no check `holds` takes"),
    ("go version\nholds k stdout '('\n", 2, "bad regexp"),
    ("go version\nholds k requested other.test\n", 2, "'other.test' is not declared above"),
    ("go version\nholds k\n", 2, "usage: holds"),
    ("go version\nfact -stdout\n", 2, "the flag is -stdout=key"),
    ("go version\nfact novalue\n", 2, "usage: fact"),
])
def test_bad_input_is_a_collection_error_naming_file_and_line(tmp_path, bad, where, message):
    with pytest.raises(ScriptError) as exc:
        load(write(tmp_path, bad), "scenarios/script/bad.txt")
    assert str(exc.value).startswith(f"scenarios/script/bad.txt:{where}: "), str(exc.value)
    assert re.search(message, str(exc.value)), str(exc.value)


def test_every_script_scenario_loads():
    files = sorted((ROOT / "scenarios" / "script").glob("*.txt"))
    assert len(files) >= 10
    for f in files:
        s = load(f, f.name)
        assert any(l.name == "go" for l in s.lines)


def test_gos_own_mod_scripts_parse():
    """The fidelity check's scripts (cmd/go/testdata/script of the default release) use only commands
    and conditions the engine knows."""
    from fixtures.runtime import toolchains
    goroot = toolchains.cache_dir() / "toolchains" / toolchains.DEFAULT_GO / "go"
    if not goroot.is_dir():
        pytest.skip(f"no unpacked Go {toolchains.DEFAULT_GO} in {goroot.parent}")
    from fixtures.script.goscripts import HARNESS_GAPS
    names = script.go_script_names(goroot)
    assert len(names) > 50
    unreadable = []
    for name in names:
        try:
            load(goroot / "src/cmd/go/testdata/script" / f"{name}.txt", name, need_go=False, any_bytes=True)
        except script.ScriptError:
            unreadable.append(name)
    assert set(unreadable) <= set(HARNESS_GAPS), "not in HARNESS_GAPS: the engine cannot read them"


# --- commands that need no container: the request assertions and the `!` / `?` rules ----------------

class _Topo:
    release = "1.27.3"

    def go(self):
        return None


def _run_with(requests, timed_out=False):
    from fixtures.record.observation import Observation, Request
    s = script.Script(Path("t.txt"), "t.txt", [], [], "script", (), {}, script.ENGINE)
    run = script.Run(s, _Topo(), case=None)
    run.obs = Observation(argv=["go", "get"], env={}, exit_code=0, stdout="", stderr="", duration_s=1.0,
                          timed_out=timed_out, timeout_s=30,
                          requests=[Request("mirror.test", "GET", p, st, None, i, h)
                                    for i, (p, st, h) in enumerate(requests)])
    return run


def _do(run, text):
    line = parse_line("t.txt", 1, text)
    run.run_line(line, run.expand_args(line))


def test_requested_filters():
    run = _run_with([("/x/@v/list", 404, {}), ("/x/@v/v1.0.0.info", 404, {"Accept": "*/*"})])
    for ok in ["requested mirror.test", "requested -count=2 mirror.test", "requested mirror.test '\\.info$'",
               "! requested -status=!404 mirror.test", "requested -header=accept mirror.test",
               "! requested -count=1 -status=200 mirror.test", "! requested other.test"]:
        _do(run, ok)
    for bad in ["requested -status=200 mirror.test", "! requested -header=Accept mirror.test",
                "requested mirror.test '\\.zip$'"]:
        with pytest.raises(script.ScriptFailure, match=r"t\.txt:1"):
            _do(run, bad)


def test_negation_and_the_watchdog():
    run = _run_with([], timed_out=True)
    _do(run, "timedout")
    with pytest.raises(script.ScriptFailure, match="unexpected success"):
        _do(run, "! timedout")
    line = parse_line("t.txt", 1, "! go get x")
    with pytest.raises(script.ScriptFailure, match="watchdog"):   # as in Go: a killed command proves nothing
        run.check_status(line, ["get", "x"], script.WATCHDOG_PREFIX + " no exit within 30 s")
    run.check_status(parse_line("t.txt", 1, "? go get x"), ["get", "x"], script.WATCHDOG_PREFIX + " killed")


# --- claims: a failing check records the else verdict of the claims it was evidence for ---------------

ELSE_SCRIPT = """requested mirror.test '\\.info$'
requested mirror.test '\\.zip$'
claim C3.3 REFUTED else=PARTLY 'no fallback'
claim C3.4 REFUTED 'no else: nothing recorded'
[timedout] claim C3.5 REFUTED else=PARTLY 'its condition does not hold: nothing recorded'
requested mirror.test
claim C3.8 PARTLY else=CONFIRMED 'the next block: its evidence did not run'
"""


def _claims_run(text, requests, timed_out=False):
    from fixtures.record.case import Case
    run = _run_with(requests, timed_out)
    lines = [parse_line("t.txt", n, t) for n, t in enumerate(text.splitlines(), 1)]
    run.script = script.Script(Path("t.txt"), "t.txt", lines, [], "script", ("C3.3", "C3.4", "C3.5", "C3.8"), {},
                               script.ENGINE)
    run.case = Case("t.txt::t", "script", {}, run.script.claims)
    return run


def test_a_failing_check_records_the_else_verdict_and_fails_naming_its_line():
    run = _claims_run(ELSE_SCRIPT, [("/x/@v/v1.0.0.info", 200, {})])
    with pytest.raises(script.ScriptFailure) as exc:
        run.execute()
    assert str(exc.value).endswith("failed at t.txt:2 in /work")
    assert "[claim C3.3 PARTLY: the else verdict of t.txt:3]" in str(exc.value)
    [v] = run.case.claims
    assert (v.id, v.verdict) == ("C3.3", "PARTLY")
    assert v.evidence == ("not REFUTED: evidence failed at t.txt:2: requested mirror.test '\\.zip$': "
                          "no requests to mirror.test matching `\\.zip$` (asked: mirror.test) (`go get`: ok) [t.txt:3]")


def test_passing_checks_record_the_claims_as_written():
    run = _claims_run(ELSE_SCRIPT, [("/x/@v/v1.0.0.info", 200, {}), ("/x/@v/v1.0.0.zip", 200, {})])
    run.execute()
    assert [(v.id, v.verdict) for v in run.case.claims] == [("C3.3", "REFUTED"), ("C3.4", "REFUTED"),
                                                           ("C3.8", "PARTLY")]
    assert run.case.claims[0].evidence == "no fallback (`go get`: ok) [t.txt:3]"


def test_a_watchdog_kill_or_a_usage_error_records_no_else_verdict():
    """Neither is Go's behaviour: the script fails, its claims record nothing."""
    run = _claims_run("! go get x\nclaim C3.3 REFUTED else=PARTLY", [], timed_out=True)
    with pytest.raises(script.ScriptFailure, match="failed at t.txt:1"):
        run.check_status(run.script.lines[0], ["get", "x"], script.WATCHDOG_PREFIX + " no exit within 30 s, killed")
    assert run.case.claims == []
    run = _claims_run("requested\nclaim C3.3 REFUTED else=PARTLY", [])
    with pytest.raises(script.ScriptFailure, match="usage: requested"):
        run.execute()
    assert run.case.claims == []


def test_a_skip_is_the_engines_own_exception():
    """The engine raises SkipScript naming the line; collect.py and goscripts.py make it a pytest skip."""
    s = script.Script(Path("t.txt"), "t.txt", [parse_line("t.txt", 3, "skip not here")], [], "script", (), {},
                      script.ENGINE)
    with pytest.raises(script.SkipScript, match=r"^t\.txt:3: not here$"):
        script.Run(s, _Topo(), case=None).execute()


def test_a_fault_chain_loads(tmp_path):
    s = load(write(tmp_path, "upstream a.test\nfault a.test '\\.zip$' delay seconds=1 then truncate bytes=10 "
                             "times=2\ngo version\n"))
    assert s.lines[1].name == "fault"


# --- the package: its layers and the README generated from its registries ---------------------------

def test_the_engine_imports_neither_pytest_nor_docker():
    import subprocess
    import sys
    code = ("import sys, fixtures.script.engine, fixtures.script.state; "
            "print(sorted(m for m in ('pytest', 'docker') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_every_middleware_program_is_a_command():
    """A program added to PROGRAMS is a script command declaring a host, with no edit in fixtures/script."""
    from fixtures.world.middleware import PROGRAMS
    for name in PROGRAMS:
        cmd = script.ENGINE.commands[name]
        assert cmd.declares and cmd.hosts(["mw.test", "plain", "upstream=up.test"]) == ["up.test"]


def test_the_readme_tables_are_generated():
    """scenarios/script/README.md's tables of commands, conditions and fault actions are what the
    registries say (as cmd/go's script README is checked against its engine)."""
    from fixtures.script import readme
    diff = readme.diff()
    assert not diff, (f"{readme.README.relative_to(ROOT)} is out of date: run `{readme.COMMAND}`, "
                      f"then review the diff\n{diff}")
