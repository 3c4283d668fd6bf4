"""--middleware-config end to end: a run of its own (as scenarios/test_infrastructure.py makes one) with a good nginx
config of a user's, listening on 8081 and naming its upstream goproxy.internal.example:8080, and an Envoy config its
checker rejects. The good one's case records a finding per trap; the rejected one is one ERROR (an infrastructure
error, never Go's) naming the user's file, the checker, its message and the line; the report says both.
Needs a Docker engine (skipped, with the reason, only when none answers)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.record import conformance
from fixtures.runtime import engine

ROOT = Path(__file__).resolve().parent.parent
GOOD = """events {}
http {
    server {
        listen 8081;
        location / {
            proxy_pass http://goproxy.internal.example:8080;
        }
    }
}
"""
BAD = """static_resources:
  listeners:
  - name: goproxy
    address: { socket_address: { address: 0.0.0.0, port_value: 80 } }
    no_such_field: 1
"""


def test_a_good_and_a_rejected_config(tmp_path):
    try:
        engine.connect(timeout=10).close()
    except engine.EngineUnavailable as exc:
        pytest.skip(f"needs a Docker engine, and none answers: {str(exc).splitlines()[0]}")
    (tmp_path / "my-nginx.conf").write_text(GOOD)
    (tmp_path / "my-envoy.yaml").write_text(BAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env.update(TESTCONTAINERS_RYUK_DISABLED="true", GOTRAPS_SLOW_ZIP_S="2")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                          "--timeout", "90", "--results-dir", str(tmp_path / "results"),
                          "--middleware-config", f"nginx={tmp_path}/my-nginx.conf",
                          "--middleware-config", f"envoy={tmp_path}/my-envoy.yaml", "scenarios/test_conformance.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    output = run.stdout + run.stderr
    run_dir = next(p for p in (tmp_path / "results").glob("2*") if p.is_dir())
    lines = {f"{d['params']['middleware']}-{d['params']['variant']}": d
             for d in map(json.loads, (run_dir / "results.jsonl").read_text().splitlines())}
    assert set(lines) == {"nginx-user", "envoy-user"}, output

    good = lines["nginx-user"]
    assert good["outcome"] == "passed" and good["params"]["config"] == f"{tmp_path}/my-nginx.conf", output
    states = {k[len(conformance.FACT):]: v["state"] for k, v in good["facts"].items()}
    # a plain proxy: go's paths pass, nothing cached, no timeout, every header on
    assert states == {t: conformance.CLEAR for t in conformance.TRAPS}, good["facts"]

    bad = lines["envoy-user"]
    said = (f"your envoy config {tmp_path}/my-envoy.yaml was rejected by "
            f"`envoy --mode validate -c {tmp_path}/my-envoy.yaml -l error`: ")
    assert bad["outcome"] == "error" and bad["infrastructure_error"].startswith(said), bad
    assert "no_such_field" in bad["infrastructure_error"] and "/etc/gotraps" not in bad["infrastructure_error"]
    assert not bad["facts"] and not bad["expectations"], bad
    assert run.returncode == pytest.ExitCode.TESTS_FAILED and "ERROR scenarios/test_conformance.py" in output, output
    assert f"{tmp_path}/my-envoy.yaml:\n" in output and "no_such_field: 1" in output, output     # the lines around it

    md = (run_dir / "report.md").read_text()
    assert f"**Your config was rejected by its checker:** {said}".replace("_", "\\_") in md or \
        f"**Your config was rejected by its checker:** {said}" in md, md
    assert "Sets off no trap." in md and f"conformance nginx {tmp_path}/my-nginx.conf: sets off no trap" in output
