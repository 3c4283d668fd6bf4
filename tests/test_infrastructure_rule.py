"""The one rule for what is never Go (fixtures/infrastructure.py), its pieces without Docker: which phase of a case
has an infrastructure cause, which member was starved, a server found stopped, a `go version` asked again and
never kept empty, and a line that keeps nothing the case concluded. scenarios/test_infrastructure.py provokes
the causes for real."""
import concurrent.futures as cf
from types import SimpleNamespace

import pytest

from fixtures import infrastructure
from fixtures.record import claims
from fixtures.record.case import Case, result_line
from fixtures.record.observation import Observation
from fixtures.runtime.agent import AgentError
from fixtures.world.goclient import GoClient
from fixtures.world.member import InfrastructureError, Member

NOT_GO = infrastructure.NOT_GO


def obs(timed_out=True, duration=2.0, client=None, servers=None) -> Observation:
    return Observation(argv=["go", "mod", "download", "x@v1"], env={}, exit_code=124 if timed_out else 1, stdout="",
                       stderr="", duration_s=duration, timed_out=timed_out, timeout_s=2, cpu_stall_s=client,
                       server_stall_s=servers or {})


def test_the_member_that_waited_longest_for_a_cpu_is_the_starved_one():
    assert obs(client=0.01, servers={"proxy.corp.test": 1.9}).starved_by() == ("proxy.corp.test", 1.9)
    assert obs(client=1.2, servers={"proxy.corp.test": 0.6}).starved_by() == ("go client", 1.2)
    assert obs(client=0.4, servers={"proxy.corp.test": 0.3}).starved_by() is None       # under a quarter
    assert obs(timed_out=False, client=2.0).starved_by() is None      # only a watchdog's kill is in question
    assert obs(client=None, servers={}).starved_by() is None          # no cgroups here: nothing said


# --- the rule, phase by phase ------------------------------------------------------------------------------

def phase(when="call", raised=None, skipped=False, **rep):
    call = SimpleNamespace(excinfo=SimpleNamespace(value=raised) if raised else None)
    return SimpleNamespace(when=when, skipped=skipped, **rep), call


def case_with(observations=(), stopped=None) -> Case:
    c = Case("t", "x", {}, ())
    c.topology = SimpleNamespace(observations=list(observations), stopped_server=lambda: stopped)
    return c


def test_a_container_not_ready_is_its_first_line_and_its_log_the_detail():
    exc = InfrastructureError("upstream proxy.corp.test exited before it was ready:\nusage: serve.py ...")
    assert infrastructure.of_phase(*phase(raised=exc), case_with()) == (
        f"upstream proxy.corp.test exited before it was ready: {NOT_GO}", "usage: serve.py ...")


def test_an_output_lost_is_found_inside_what_the_scenario_raised():
    try:
        try:
            raise AgentError("sh -c 'sleep 30': its request in c1 is gone (the container stopped)")
        except AgentError:
            raise AssertionError("the scenario's own assertion, raised while handling it")
    except AssertionError as exc:
        message, _ = infrastructure.of_phase(*phase(raised=exc), case_with())
    assert message.startswith("a command's output was lost: sh -c 'sleep 30'") and message.endswith(NOT_GO)


def test_a_stopped_server_then_a_starved_command_then_nothing():
    starved = obs(client=0.0, servers={"proxy.corp.test": 2.0})
    message, _ = infrastructure.of_phase(*phase(), case_with([starved], stopped="nginx m stopped during the case"))
    assert message == f"nginx m stopped during the case: {NOT_GO}"
    message, _ = infrastructure.of_phase(*phase(), case_with([starved]))
    assert "while the server proxy.corp.test had waited 2.0 s of 2.0 s for a CPU" in message
    assert infrastructure.of_phase(*phase(), case_with([obs(client=0.0)])) is None
    assert infrastructure.of_phase(*phase(raised=AssertionError("Go did it")), case_with()) is None


def test_a_skipped_phase_has_no_cause_and_servers_are_looked_at_after_the_call_only():
    c = case_with(stopped="upstream u stopped during the case")
    assert infrastructure.of_phase(*phase(skipped=True), c) is None
    assert infrastructure.of_phase(*phase(skipped=True, wasxfail=""), c)      # an xfail may hide one
    assert infrastructure.of_phase(*phase(when="teardown"), c) is None
    assert infrastructure.of_phase(*phase(when="teardown", raised=InfrastructureError("`go version` failed")),
                                   c)[0] == f"`go version` failed: {NOT_GO}"


# --- the line: nothing the case concluded ------------------------------------------------------------------

def test_an_infrastructure_error_keeps_no_verdict_fact_or_expectation():
    c = Case("scenarios/test_x.py::test_y[go1.27.3]", "x", {"go_release": "1.27.3"}, ("C3.3",))
    c.claim("C3.3", claims.REFUTED, "no fallback")
    c.fact(fell_back=False, kept=["gotraps-x-go0"])
    c.expect("fell_back", False, expected=False)
    c.infrastructure_error = f"nginx m stopped during the case: {NOT_GO}"
    passed = SimpleNamespace(when="call", failed=False, skipped=False, duration=1.0, longrepr="")
    line = result_line(c, {"call": passed}, SimpleNamespace(run_id="r", worker="w", components={}), False)
    assert line.outcome == "error" and line.infrastructure_error == c.infrastructure_error
    assert line.claims == [] and line.claims_unchecked == ["C3.3"] and line.expectations == []
    assert line.facts == {"kept": ["gotraps-x-go0"]}       # what --keep left for inspection, not a fact of Go


# --- a member that stopped ---------------------------------------------------------------------------------

class Program:
    def __init__(self, code=None, gone=False):
        self.code, self.gone = code, gone

    def running(self):
        if self.gone:
            raise AgentError("its request in c1 is gone (the container stopped)")
        return self.code is None

    def wait(self, timeout):
        return self.code, b"", b""


class Container:
    id, name = "c1", "c1"

    def __init__(self, status="exited", code=137, oom=False):
        self.attrs = {"State": {"Status": status, "ExitCode": code, "OOMKilled": oom}}

    def reload(self):
        pass


def started(program=None, container=None) -> Member:
    m = Member(None, "proxy.corp.test")
    m.kind, m.created = "upstream", container or Container(status="running")
    m.future = cf.Future()
    m.future.set_result(m.created)
    if program:
        m._program = program
    return m


def test_a_server_stopped_says_how():
    assert started(Program()).stopped() is None
    said = "upstream proxy.corp.test stopped during the case: "
    assert started(Program(code=1)).stopped() == said + "its program exited 1"
    assert started(Program(code=137)).stopped() == said + "its program exited 137 (signal 9)"
    assert started(Program(gone=True), Container(oom=True)).stopped() == (
        said + "its container exited, exit code 137, OOMKilled true")
    assert started(container=Container(status="running")).stopped() is None     # not local: its state asked
    assert "its container exited" in started(container=Container()).stopped()
    never = Member(None, "proxy.corp.test")
    never.future = cf.Future()
    never.future.set_exception(InfrastructureError("not ready"))
    assert never.stopped() is None      # its start raised already


# --- go version: asked again once, never kept empty --------------------------------------------------------

class Client(GoClient):
    def __init__(self, answers):
        self.host, self.answers, self.asked = "go0", list(answers), []
        self.topo = SimpleNamespace(release="1.27.3", session=SimpleNamespace(components={}))

    def launch(self, argv, timeout, env, cwd, record=True, servers=True):
        self.asked.append((argv, env))
        answer, future = self.answers.pop(0), cf.Future()
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(Observation(argv, {}, answer[0], answer[1], "oops", 0.1, False, 30))
        return future


def test_go_version_is_asked_again_once_then_is_an_infrastructure_error():
    go = Client([AgentError("no exit code from go0 after 45 s"), (0, "go version go1.27.3 linux/amd64\n")])
    assert go.go_version() == "go version go1.27.3 linux/amd64" and go.go_minor() == 27 and len(go.asked) == 2
    argv, env = go.asked[0]
    assert argv == ["/usr/local/go/bin/go", "version"] and env["GOENV"] == "off" and env["GOROOT"] is None
    go = Client([(0, ""), (2, "")])
    with pytest.raises(InfrastructureError, match=r"`/usr/local/go/bin/go version` in go0 failed twice \(exit 2: oop"):
        go.go_version()
    assert go.topo.session.components == {}        # nothing kept: the next case asks again
