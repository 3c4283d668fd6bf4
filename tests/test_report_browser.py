"""The HTML report in a real browser: Debian's chromium, headless, offline (every request it would
send goes to a closed port), renders it, and the DOM it built holds the matrix and the claims."""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from fixtures.record import claims, report, runs
DATA = Path(__file__).resolve().parent / "data" / "runs"
WINDOW = (1400, 1800)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is needed for the browser test: apt-get install chromium "
                    "(python3 -m fixtures.bootstrap test installs it)")
    return found


def browse(html: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                           f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, html.as_uri()],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A report of a run with two releases and a middleware column, as a run writes it."""
    run_dir = tmp_path_factory.mktemp("results") / "20991231-000000-abcdef"
    shutil.copytree(DATA / "go1.27.3", run_dir)
    lines = (DATA / "go1.27.3" / "results.jsonl").read_text() + (DATA / "go1.21.13" / "results.jsonl").read_text()
    marked = []
    for raw in lines.splitlines():
        line = json.loads(raw)
        if "refused-comma" in line["nodeid"]:
            line["params"].update(middleware="nginx", variant="plain")
        marked.append(json.dumps(line))
    (run_dir / "results.jsonl").write_text("\n".join(marked) + "\n")
    meta = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps(dict(meta, go_releases=["1.21.13", "1.27.3"])))
    report.write(runs.load(run_dir))
    return run_dir / "report.html"


def test_the_browser_builds_the_matrix_and_the_claims(rendered):
    proc = browse(rendered, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<table" in dom and dom.count('class="matrix"') == 2           # one matrix per family
    # every case under both releases: 7 cases x 2 releases, each cell with go's error line on hover
    cells = re.findall(r'<td class="cell (\w+)(?: changed)?" title="([^"]*)" data-release="([\d.]+)"', dom)
    assert len(cells) == 14 and {r for _, _, r in cells} == {"1.21.13", "1.27.3"}
    assert any("connection reset by peer" in title for _, title, _ in cells)
    assert {css for css, _, _ in cells} == {"ok", "error"}
    # a cell that differs from the release before it is marked, and says in what on hover
    assert 'data-changed="yes"' in dom and "differs from go1.21.13: go command 1: proxy.corp.test saw GET" in dom
    # one click away: the cell's <details> holds the go command and its exact error line
    assert re.search(r"<details><summary>connection refused</summary>\s*<pre>\$ go mod download", dom)
    assert "<th>middleware</th>" in dom and "nginx" in dom
    rows = re.findall(r'<tr id="claim-(C[\d.]+)" data-checked="(yes|no)"', dom)
    assert [cid for cid, _ in rows] == list(claims.CLAIMS)
    assert dict(rows)["C3.3"] == "yes" and dict(rows)["C4.5"] == "no"


def test_the_browser_renders_a_screenshot_offline(rendered, tmp_path):
    shot = tmp_path / "report.png"
    proc = browse(rendered, f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == WINDOW
    # a blank page of this size compresses to a few KB; tables, colours and text do not
    assert len(data) > 50_000, len(data)
