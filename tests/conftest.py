"""Shared by the tests of docker/upstream/ (test_upstream_server.py, test_sumdb_role.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

SERVE_PY = Path(__file__).resolve().parent.parent / "docker" / "upstream" / "serve.py"


@pytest.fixture
def serve_py():
    """start(role, state) -> (process, ready line, port): serve.py as a subprocess on
    127.0.0.1, any free port, --quiet; killed at teardown if still running."""
    procs = []

    def start(role, state):
        p = subprocess.Popen([sys.executable, str(SERVE_PY), "--role", role, "--state", str(state),
                              "--host", "127.0.0.1", "--port", "0", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        line = p.stdout.readline()
        assert line.startswith("ready role=%s port=" % role), p.stderr.read() if not line else line
        return p, line, int(line.split("port=")[1].split()[0])

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
