"""Unit tests of the harness itself: no Docker, no network."""
import json
import os

import pytest

from fixtures.record import claims, results, runs
from fixtures.record.line import ResultLine

from fixtures.runtime import engine, toolchains
from fixtures.record.observation import Observation, Request

VERSIONS = ["1.27.3", "1.27.2", "1.26.6", "1.23.4.4", "1.23.3.1", "1.22.10", "1.21.13", "1.20.14"]


def listing():
    return VERSIONS


def test_resolve_default_and_list():
    assert toolchains.resolve("1.21.13,1.27.3", listing) == ["1.21.13", "1.27.3"]
    assert toolchains.resolve("go1.22.10", listing) == ["1.22.10"]


def test_resolve_latest_and_minors():
    assert toolchains.resolve("latest", listing) == ["1.27.3"]
    # newest patch per minor from 1.21 on; repackaged wheels (X.Y.Z.N) count as release X.Y.Z
    assert toolchains.resolve("minors", listing) == ["1.21.13", "1.22.10", "1.23.4", "1.26.6", "1.27.3"]
    assert toolchains.resolve("1.27.3,latest", listing) == ["1.27.3"]     # de-duplicated


@pytest.mark.parametrize("bad, words", [("1.99.1", "Available: 1.27.3"), ("banana", "expected a release"),
                                         ("1.27", "expected a release"), ("/nonexistent/goroot", "not a GOROOT")])
def test_resolve_rejects_with_a_useful_message(bad, words):
    with pytest.raises(toolchains.ToolchainError, match=words.replace(".", r"\.")):
        toolchains.resolve(bad, listing)


def test_resolve_local_goroot(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "go").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "go").chmod(0o755)      # a GOROOT's go must be executable
    assert toolchains.resolve(str(tmp_path), listing) == [str(tmp_path)]


def test_missing_toolchain_without_index_names_release_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOTRAPS_CACHE", str(tmp_path))
    monkeypatch.setattr(toolchains, "PACKAGE", "gotraps-no-such-package-for-tests")
    monkeypatch.setattr(toolchains, "_safe_versions", lambda: [])
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")    # nothing listens there
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with pytest.raises(toolchains.ToolchainError) as exc:
        toolchains.ensure("1.26.6")
    assert "1.26.6" in str(exc.value) and str(tmp_path / "toolchains" / "1.26.6") in str(exc.value)


def test_results_merge_and_latest(tmp_path):
    for worker, node in [("gw1", "b"), ("gw0", "a")]:
        results.ResultsWriter(tmp_path, "run1", worker).write(ResultLine(nodeid=node, outcome="passed"))
    results.merge(tmp_path, "run1", {"run_id": "run1"})
    assert [l.nodeid for l in runs.load(tmp_path / "run1").lines] == ["a", "b"]
    assert os.readlink(tmp_path / "latest") == "run1"
    meta = json.loads((tmp_path / "run1" / "run.json").read_text())
    assert meta["cases"] == 2 and meta["schema"] == 2
    # a second run moves latest and leaves the first one untouched
    results.ResultsWriter(tmp_path, "run2", "main").write(ResultLine(nodeid="c", outcome="failed"))
    results.merge(tmp_path, "run2", {"run_id": "run2"})
    assert os.readlink(tmp_path / "latest") == "run2"
    assert [l.nodeid for l in runs.load(tmp_path / "run1").lines] == ["a", "b"]


def test_claim_ids_and_verdicts_are_checked():
    claims.check("C3.3", claims.REFUTED)
    with pytest.raises(ValueError):
        claims.check("C9.9", claims.REFUTED)
    with pytest.raises(ValueError):
        claims.check("C3.3", "MAYBE")


def test_observation_record_and_error_line():
    obs = Observation(argv=["go", "mod", "download"], env={}, exit_code=1, stdout="",
                      stderr="go: downloading example.com/lib v1.0.0\ngo: example.com/lib@v1.0.0: reading "
                             "http://a/example.com/lib/@v/v1.0.0.info: 403 Forbidden\n",
                      duration_s=0.5, timed_out=False, timeout_s=30,
                      requests=[Request("a", "GET", "/example.com/lib/@v/v1.0.0.info", 403, "status", 2.0),
                                Request("b", "GET", "/x", None, "hang", 1.0)])
    assert obs.error_line.endswith("403 Forbidden")
    assert obs.servers_asked() == ["b", "a"]
    rec = obs.record()
    assert {server: [r.line() for r in rs] for server, rs in rec.requests_by_server().items()} == \
        {"b": ["GET /x -> -"], "a": ["GET /example.com/lib/@v/v1.0.0.info -> 403"]}
    assert [r.fault for r in rec.requests] == ["hang", "status"]      # in the order they arrived
    assert rec.error_line.endswith("403 Forbidden") and rec.exit_code == 1


def test_sweep_staleness_rules():
    me = engine.socket.gethostname()
    dead_pid = 2 ** 22 + 12345
    assert engine._is_stale({engine.LABEL_HOST: me, engine.LABEL_PID: str(dead_pid), engine.LABEL_RUN: "old"}, 0, "now")
    assert not engine._is_stale({engine.LABEL_HOST: me, engine.LABEL_PID: str(os.getpid()), engine.LABEL_RUN: "x"}, 0, "now")
    assert not engine._is_stale({engine.LABEL_HOST: me, engine.LABEL_PID: str(dead_pid), engine.LABEL_RUN: "now"}, 0, "now")
    assert not engine._is_stale({engine.LABEL_KEEP: "1", engine.LABEL_HOST: me, engine.LABEL_PID: str(dead_pid)}, 0, "now")
    assert engine._is_stale({engine.LABEL_HOST: "elsewhere", engine.LABEL_PID: "1"}, 0.0, "now")  # very old


def test_a_sweep_leaves_alone_what_another_sweep_is_removing():
    """Two runs starting at once sweep the same leftovers: the engine answers the second removal 409 (already in
    progress); that container is going, not an error that stops the run."""
    from types import SimpleNamespace
    import docker

    def busy(force):
        raise docker.errors.APIError("Conflict", response=SimpleNamespace(status_code=409, reason="Conflict"),
                                     explanation="removal of container c1 is already in progress")
    gone = []
    old = {engine.LABEL_HOST: "elsewhere", engine.LABEL_PID: "1"}
    containers = [SimpleNamespace(id="c1", attrs={"Created": 0, "Labels": old, "Names": ["/c1"]}, remove=busy),
                  SimpleNamespace(id="c2", attrs={"Created": 0, "Labels": old, "Names": ["/c2"]},
                                  remove=lambda force: gone.append("c2"))]
    client = SimpleNamespace(containers=SimpleNamespace(list=lambda **kw: containers),
                             networks=SimpleNamespace(list=lambda **kw: []))
    assert engine.sweep(client, current_run="now") == ["container c2"] and gone == ["c2"]


def _pytest(*args, env=None):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", *args], cwd=root,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_malformed_go_release_is_a_usage_error_before_any_container():
    proc = _pytest("scenarios", "--go", "banana", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--go 'banana': expected a release" in proc.stderr


def test_no_engine_stops_the_session_with_one_clear_message(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "go").write_text("#!/bin/sh\n")      # a local GOROOT: no package index needed
    (tmp_path / "bin" / "go").chmod(0o755)
    proc = _pytest("scenarios", "--go", str(tmp_path), "--results-dir", str(tmp_path / "results"),
                   env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "no Docker engine answers" in out and "gotraps setup" in out
    assert " passed" not in out and " skipped" not in out


def test_the_bootstraps_own_imports_exist():
    """fixtures/bootstrap.py runs the harness's code in the virtualenv through `python -c` strings that no
    import checker reads: each import they make must exist (a moved module once failed CI here)."""
    import importlib
    import re
    from pathlib import Path
    source = (Path(__file__).resolve().parent.parent / "fixtures" / "bootstrap.py").read_text()
    found = re.findall(r"from (fixtures[\w.]*) import (\w+)", source)
    assert found
    for module, name in found:
        assert hasattr(importlib.import_module(module), name) or importlib.import_module(f"{module}.{name}")


def test_no_two_test_files_share_a_name():
    """pytest imports tests/ and scenarios/ files by their base name (rootdir, no packages): two of one name
    are a collection error when both are collected, as the project's own run does."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    names = [p.name for d in ("tests", "scenarios") for p in (root / d).glob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
