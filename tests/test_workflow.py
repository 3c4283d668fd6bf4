"""The nightly workflow, checked by actionlint (the `test` extra) and for what it must do."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "nightly.yml"


def actionlint() -> str:
    """actionlint of the `test` extra: beside this python (a virtualenv not on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is needed: pip install -e '.[test]' (python3 -m fixtures.bootstrap test installs it)")
    return found


def test_actionlint_finds_nothing():
    proc = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    """The linter really reads the file: a reference to an undefined job output is an error."""
    broken = tmp_path / ".github" / "workflows" / "nightly.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("needs.discover.outputs.minors", "needs.discover.outputs.minorz"))
    proc = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "minorz" in proc.stdout


def test_nightly_runs_each_minor_and_fails_on_a_behaviour_change():
    text = WORKFLOW.read_text()
    assert re.search(r"^  schedule:\n    - cron: ", text, re.M) and "workflow_dispatch:" in text
    assert "gotraps releases --refresh --json" in text                     # discovers the newest releases
    assert "fail-fast: false" in text and "fromJSON(needs.discover.outputs.minors)" in text
    assert "actions/upload-artifact@v4" in text and "path: results/" in text
    assert "gh run download" in text and "gotraps diff" in text             # previous night, then the diff
    assert "python3 -m fixtures.bootstrap --go" in text                      # the README's first command
