"""Long steps say what they do: debootstrap's phases with their package counts."""
from __future__ import annotations

import io
import re

from fixtures.runtime import images, progress
DEBOOTSTRAP = b"""I: Retrieving InRelease
I: Checking Release signature
I: Retrieving Packages
I: Resolving dependencies of required packages...
I: Retrieving adduser 3.134
I: Retrieving apt 2.6.1
I: Retrieving base-files 12.4+deb12u12
I: Validating adduser 3.134
I: Extracting adduser...
I: Extracting apt...
I: Installing core packages...
I: Unpacking required packages...
I: Configuring required packages...
W: a warning that is not a phase
I: Base system installed successfully.
"""


def test_debootstrap_phases_are_said_and_logged():
    said, log = [], io.BytesIO()
    progress.to(said.append)
    try:
        images._say_bootstrap_progress(io.BytesIO(DEBOOTSTRAP), log)
    finally:
        progress.to(None)
    assert log.getvalue() == DEBOOTSTRAP                   # the whole output still goes to the log
    phases = [s.split(": ", 1)[1] for s in said[:-1]]
    assert phases == ["downloading", "resolving dependencies", "downloading", "extracting", "installing",
                      "configuring", "base system installed"]
    assert said[-1].startswith(f"  {images.BASE_TAG} debootstrap done in ")


def test_debootstrap_counts_packages_of_those_downloaded(monkeypatch):
    """Every 5 s within a phase: how many packages, of how many were downloaded (a fake clock, 1 s a line)."""
    lines = [b"I: Retrieving Packages\n", b"I: Resolving dependencies\n",
             *[b"I: Retrieving p%d 1.0\n" % i for i in range(10)],
             *[b"I: Extracting p%d...\n" % i for i in range(10)]]
    clock = iter(range(1000))
    monkeypatch.setattr(images.time, "monotonic", lambda: float(next(clock)))
    said = []
    progress.to(said.append)
    try:
        images._say_bootstrap_progress(iter(lines), io.BytesIO())
    finally:
        progress.to(None)
    assert any(re.search(r"downloading, \d packages$", s) for s in said), said
    assert any(re.search(r"extracting, \d of 10 packages$", s) for s in said), said


def test_a_long_step_ticks_and_is_killed_past_its_bound():
    ticks = []
    code, lines = progress.run(["sh", "-c", "echo one; sleep 0.5; echo two; sleep 5"], timeout_s=1.2, every_s=0.4,
                               tick=lambda s, seen: ticks.append((round(s, 1), list(seen))))
    assert code != 0 and lines[:2] == ["one\n", "two\n"] and lines[-1] == "killed after 1 s"
    assert ticks and ticks[0][1] == ["one\n"] and ticks[-1][1][:2] == ["one\n", "two\n"]


def test_a_long_step_that_ends_gives_its_code_and_lines():
    assert progress.run(["sh", "-c", "echo out; echo err >&2; exit 3"], 10, 1, lambda s, l: None) == (3, ["out\n", "err\n"])
