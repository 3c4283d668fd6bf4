"""hold: wait for the test to say go (state/release/<name>)."""
import os
import re

from . import WAIT, Key

ORDER = 100
KIND = WAIT
SUMMARY = "wait until state/release/`name` exists, then answer normally (or go on along the chain)"
KEYS = {"name": Key("str", "the release file's name (a plain file name)", required=True)}
POLL = 0.02  # seconds between looks for the release file


def check(step):
    if not re.fullmatch(r"[A-Za-z0-9._-]+", step["name"]) or step["name"] in (".", ".."):
        raise ValueError("hold name must be a plain file name")


def serve(ex, step, rest):
    release = os.path.join(ex.state_dir, "release", step["name"])
    while not os.path.exists(release):
        if ex.wait(POLL):
            return ex.drop()
    return rest()
