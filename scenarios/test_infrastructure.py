"""The infrastructure is never Go (fixtures/infrastructure.py), shown for real: a run of the harness of its own
(scenarios/infrastructure_provoked.py) whose cases each provoke one cause while they record a verdict, a fact
or an expectation as if Go had done what they saw: a server killed while go waits on it, a server starved of
CPU when the watchdog fires, a command's output lost with its agent, a server that never gets ready. Each must
end as an ERROR whose results line names its cause and keeps none of what the case concluded, and the run
must still be a complete one (only an engine lost stops a run: tests/test_engine_loss.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.cli import leakcheck

ROOT = Path(__file__).resolve().parent.parent
PROVOKED = "scenarios/infrastructure_provoked.py"
NOT_GO = "an infrastructure error, not a behaviour of Go"
# each case of PROVOKED -> what its infrastructure_error must say (through its agent, or by docker exec)
CAUSES = {
    "test_a_server_killed_while_go_waits": ("nginx mirror.corp.test stopped during the case: its container exited, "
                                            "exit code 137",),
    "test_a_starved_server": ("watchdog ended `go mod download example.com/lib@v1.0.0` while the server "
                              "proxy.corp.test had waited",),
    "test_an_agent_killed_mid_command": ("a command's output was lost: ", "sh -c 'sleep 30': "),
    "test_a_server_that_never_gets_ready": ("upstream proxy.corp.test exited before it was ready",),
}


@pytest.mark.family("infrastructure")
def test_infrastructure_is_never_go(case, go_release, tmp_path, gotraps_session):
    # The outer run's xdist variables must not reach the inner run; Ryuk is not needed, the run removes its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    with subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                           "--timeout", "60", "--go", go_release, "--results-dir", str(tmp_path), PROVOKED],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        output = run.communicate(timeout=240)[0]
    run_dir = next(p for p in tmp_path.glob("2*") if p.is_dir())
    lines = {json.loads(l)["nodeid"].split("::")[1].split("[")[0]: json.loads(l)
             for l in (run_dir / "results.jsonl").read_text().splitlines()}
    case.fact(outcomes={name: line["outcome"] for name, line in sorted(lines.items())})
    assert set(lines) == set(CAUSES), output
    # the starved case is skipped where the engine's cgroups cannot be read (a remote engine): no CPU pressure
    provoked = {name: line for name, line in lines.items() if line["outcome"] != "skipped"}
    assert set(CAUSES) - set(provoked) <= {"test_a_starved_server"}, output
    for name, line in provoked.items():
        assert line["outcome"] == "error" and f"ERROR {PROVOKED}::{name}" in output, (name, output)
        assert all(said in line["infrastructure_error"] for said in (*CAUSES[name], NOT_GO)), line
        assert not line["claims"] and not line["facts"] and not line.get("expectations"), line
    assert lines["test_a_server_killed_while_go_waits"]["claims_unchecked"] == ["C3.3"]
    assert "FAILED" not in output, output
    assert f"gotraps: {len(provoked)} cases ended by an infrastructure error, not compared" in output, output
    # A complete run: its cases' errors are not compared, but nothing stopped it, and it is the latest.
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["exitstatus"] == pytest.ExitCode.TESTS_FAILED and "infrastructure_error" not in meta, meta
    assert meta["infrastructure_errors"] == len(provoked), meta
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
    assert sum(leakcheck.owned(gotraps_session.client, run.pid).values()) == 0, "the run left containers"
