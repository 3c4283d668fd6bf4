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
    broken.write_text(WORKFLOW.read_text().replace("needs.discover.outputs.releases", "needs.discover.outputs.releasez"))
    proc = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "releasez" in proc.stdout


def test_nightly_runs_each_release_then_compares_the_night():
    text = WORKFLOW.read_text()
    assert re.search(r"^  schedule:\n    - cron: ", text, re.M) and "workflow_dispatch:" in text
    assert "gotraps releases --refresh --json" in text and '"next"' in text     # the minors, and the RC if any
    assert "fail-fast: false" in text and "fromJSON(needs.discover.outputs.releases)" in text
    assert "actions/upload-artifact@v4" in text and "path: results/" in text
    assert "python3 -m fixtures.bootstrap --go" in text                      # the README's first command
    assert "--go-scripts" in text                         # Go's own module scripts of every minor, each night
    compare = text[text.index("\n  compare:"):]                                 # the last job: the comparison
    assert "needs: [discover, traps]" in compare and "if: always()" in compare
    assert "actions/download-artifact@v4" in compare and "gh run download" in compare and "conclusion" in compare
    assert "gotraps nightly" in compare and "--previous-status" in compare
    assert "GITHUB_STEP_SUMMARY" in compare and "name: nightly-report" in compare
    assert 'exit "$rc"' in compare                                          # fails on a change of behaviour


def test_the_artifacts_the_comparison_reads_are_those_the_jobs_upload():
    """`gotraps nightly` reads DIR/<artifact>/<run-id>/: tonight's by pattern, the previous night's by the same."""
    text = WORKFLOW.read_text()
    uploaded = re.search(r"name: (results-go)\$\{\{ matrix.minor \}\}", text).group(1)
    assert f"pattern: {uploaded}*" in text and f"-p '{uploaded}*'" in text
