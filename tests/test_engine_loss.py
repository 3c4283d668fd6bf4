"""The Docker engine stopping mid-run, for real, without stopping the real engine: a run talks to the engine
through a small forwarder (DOCKER_HOST=unix://<tmp>/engine.sock), which is killed once the first case's result
line is written, as a dying engine closes its socket. The run must end promptly, say "Docker engine
unreachable" as an infrastructure error (never as a behaviour of Go), keep the results of the case that ran,
write run.json; and what it left on the engine must be removed by the next run's sweep.

Needs a Docker engine (skipped, with the reason, only when none answers).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.runtime import engine

from fixtures.cli import leakcheck
ROOT = Path(__file__).resolve().parent.parent
CASES = ["scenarios/test_isolation.py"]      # a few cheap cases, about a second each
FIRST_LINE_BOUND_S = 120     # the run's start (configure, image check) and its first case
ENDS_WITHIN_S = 60           # after the engine goes, the run must be over within this

# The forwarder runs in a process of its own, so that SIGKILL closes every connection it relays at once,
# as an engine that stops does; its socket file stays, so a new connection is refused.
FORWARDER = r"""
import os, socket, sys, threading
listen, kind, target = sys.argv[1], sys.argv[2], sys.argv[3]

def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def upstream():
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX)
        s.connect(target)
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s

srv = socket.socket(socket.AF_UNIX)
srv.bind(listen)
srv.listen(128)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    try:
        up = upstream()
    except OSError:
        conn.close()
        continue
    threading.Thread(target=pump, args=(conn, up), daemon=True).start()
    threading.Thread(target=pump, args=(up, conn), daemon=True).start()
"""


def _engine_target():
    """(kind, address) of the engine the environment names; None for what the forwarder can't relay."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    if host.startswith("unix://"):
        return "unix", host[len("unix://"):]
    if host.startswith("tcp://"):
        return "tcp", host[len("tcp://"):].rstrip("/")
    return None


@pytest.fixture
def real_engine():
    try:
        client = engine.connect(timeout=10)
    except engine.EngineUnavailable as exc:
        pytest.skip(f"needs a Docker engine, and none answers: {str(exc).splitlines()[0]}")
    yield client
    client.close()


@pytest.fixture
def forwarder():
    """Start the forwarder; yields (DOCKER_HOST for it, the process). Killed at the end if still alive."""
    target = _engine_target()
    if target is None:
        pytest.skip(f"the forwarder relays a plain unix or tcp engine, not DOCKER_HOST="
                    f"{os.environ.get('DOCKER_HOST')} (TLS: {bool(os.environ.get('DOCKER_TLS_VERIFY'))})")
    folder = tempfile.mkdtemp(prefix="gotraps-el-")      # short: a unix socket path has ~100 bytes at most
    sock = os.path.join(folder, "engine.sock")
    proc = subprocess.Popen([sys.executable, "-c", FORWARDER, sock, *target], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"unix://{sock}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


def _first_line_written(results: Path) -> bool:
    return any(p.read_text().strip() for p in results.glob("*/parts/*.jsonl"))


def test_engine_lost_mid_run(real_engine, forwarder, tmp_path):
    docker_host, fwd = forwarder
    results = tmp_path / "results"
    out_path = tmp_path / "pytest.out"
    # The outer run's xdist variables must not leak into the inner run (it would name its worker after ours).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env["DOCKER_HOST"] = docker_host
    with open(out_path, "w") as out:
        run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                                "--results-dir", str(results), *CASES],
                               cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + FIRST_LINE_BOUND_S
        while not _first_line_written(results):
            assert run.poll() is None, f"the run ended before its first case was written:\n{out_path.read_text()}"
            assert time.monotonic() < deadline, f"no case written within {FIRST_LINE_BOUND_S} s"
            time.sleep(0.05)
        fwd.send_signal(signal.SIGKILL)       # the engine goes away
        fwd.wait()
        lost_at = time.monotonic()
        try:
            code = run.wait(timeout=ENDS_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run did not end within {ENDS_WITHIN_S} s of the engine going away:\n"
                        f"{out_path.read_text()[-3000:]}")
        ended_after = time.monotonic() - lost_at
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    output = out_path.read_text()
    print(f"\n--- the run (exit {code}, ended {ended_after:.1f} s after the engine went away) ---\n{output}")

    # It says what happened, once per place, as an infrastructure error, not as a failure of Go.
    said = f"Docker engine unreachable ({docker_host}: "
    assert code == pytest.ExitCode.INTERRUPTED, output
    assert f"gotraps: INFRASTRUCTURE ERROR: {said}" in output, output
    assert "an infrastructure error, not a behaviour of Go" in output, output
    assert f"Interrupted: gotraps: {said}" in output, output
    assert "cases not run: the Docker engine is unreachable" in output, output
    assert "FAILED " not in output and "AssertionError" not in output and "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output

    # The results of the cases that ran are written; a case the loss ended says so; `latest` did not move.
    run_dir = next(results.glob("2*"))
    lines = [json.loads(l) for l in (run_dir / "results.jsonl").read_text().splitlines() if l.strip()]
    by_outcome = {}
    for line in lines:
        by_outcome.setdefault(line["outcome"], []).append(line)
    assert by_outcome.get("passed"), lines                    # the first case, before the engine went
    assert set(by_outcome) <= {"passed", "error"}, lines
    for line in by_outcome.get("error", []):
        assert line["infrastructure_error"].startswith(said), line
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["exitstatus"] == pytest.ExitCode.INTERRUPTED and meta["cases"] == len(lines), meta
    assert meta["infrastructure_error"].startswith(said) and meta["not_run"] >= 1, meta
    m = re.search(r"gotraps: (\d+) of (\d+) cases not run: the Docker engine is unreachable", output)
    assert m and int(m.group(1)) == meta["not_run"] and len(lines) + meta["not_run"] == int(m.group(2)), output
    assert (run_dir / "junit.xml").is_file() and (run_dir / "report.html").is_file()
    assert not (results / "latest").exists(), "an interrupted run must not become results/latest"

    # What it left on the real engine is removed by the next run's sweep (the run's owner process is gone).
    left = leakcheck.owned(real_engine, run.pid)
    removed = engine.sweep(real_engine)
    after = leakcheck.owned(real_engine, run.pid)
    print(f"left on the engine by the run (pid {run.pid}): {left}; swept: {len(removed)} resources; after: {after}")
    assert sum(after.values()) == 0, after


# --- the pieces, without an engine ---------------------------------------------------------------------

def test_the_cause_said_is_the_innermost_os_error():
    import requests
    from fixtures import plugin
    from urllib3.exceptions import ProtocolError
    refused = ProtocolError("Connection aborted.", ConnectionRefusedError(111, "Connection refused"))
    try:
        try:
            raise requests.exceptions.ConnectionError(refused)
        except requests.exceptions.ConnectionError as inner:
            raise engine.DockerException(f"Error while fetching server API version: {inner}") from inner
    except engine.DockerException as outer:
        assert plugin._cause(outer) == "Connection refused"
    assert plugin._cause(RuntimeError("no OS error inside")) == "no OS error inside"


class _Session:
    def __init__(self, drain):
        self.drain = drain


def _config(lost=None):
    import types
    from fixtures import plugin
    config = types.SimpleNamespace(stash=pytest.Stash())
    if lost:
        config.stash[plugin._engine_lost_key] = lost
    return config


def test_the_end_of_session_removal_is_bounded(monkeypatch):
    import threading
    from fixtures import plugin
    monkeypatch.setattr(plugin, "DRAIN_BOUND_S", 0.2)
    never = threading.Event()
    started = time.monotonic()
    with pytest.warns(pytest.PytestWarning, match="took more than 0.2 s"):
        plugin._drain_bounded(_Session(lambda: never.wait(30)), _config())
    assert time.monotonic() - started < 5
    never.set()


def test_the_end_of_session_removal_is_skipped_when_the_engine_is_gone():
    from fixtures import plugin
    with pytest.warns(pytest.PytestWarning, match="not removed: the Docker engine is unreachable"):
        plugin._drain_bounded(_Session(lambda: pytest.fail("removal tried on a lost engine")), _config("gone"))


def test_a_failed_removal_is_raised_while_the_engine_answers(monkeypatch):
    from fixtures import plugin
    monkeypatch.setattr(plugin, "_engine_gone", lambda config: None)

    def drain():
        raise RuntimeError("409 removal already in progress")
    with pytest.raises(RuntimeError, match="409"):
        plugin._drain_bounded(_Session(drain), _config())
    monkeypatch.setattr(plugin, "_engine_gone", lambda config: "Docker engine unreachable (x: Connection refused)")
    with pytest.warns(pytest.PytestWarning, match="not removed: Docker engine unreachable"):
        plugin._drain_bounded(_Session(drain), _config())
