"""docker/upstream/cmdgoproxy.py: a commit hash resolves as in Go's test proxy (cmd/go/proxy_test.go), where a
tagged version's empty .info Short is a prefix of every hash. No Docker."""
import http.client
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docker" / "upstream"))

import cmdgoproxy  # noqa: E402

TEXT = "golang.org/x/text"


def fixture(version, info):
    return f"-- .mod --\nmodule {TEXT}\n-- .info --\n{json.dumps(info)}\n-- go.mod --\nmodule {TEXT}\n"


@pytest.fixture
def srv(tmp_path):
    mods = tmp_path / "modules"
    mods.mkdir()
    (mods / "golang.org_x_text_v0.3.0.txt").write_text(fixture("v0.3.0", {"Version": "v0.3.0", "Short": ""}))
    pseudo = "v0.0.0-20170915032832-14c0d48ead0c"
    (mods / f"golang.org_x_text_{pseudo}.txt").write_text(fixture(pseudo, {"Version": pseudo}))
    s = cmdgoproxy.CmdGoProxy(str(tmp_path)).start()
    yield s
    s.stop()


def info(srv, query):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request("GET", f"/mod/{TEXT}/@v/{query}.info")
    r = c.getresponse()
    out = (r.status, r.read())
    c.close()
    return out[0], json.loads(out[1]).get("Version") if out[0] == 200 else out[1]


def test_a_commit_hash_names_the_highest_version_it_matches(srv):
    assert info(srv, "14c0d48") == (200, "v0.3.0")          # mod_get_commit: "found (v0.3.0)"
    assert info(srv, "deadbeef") == (200, "v0.3.0")         # the empty Short matches any hash, as in Go's proxy
    assert info(srv, "v0.0.0-20170915032832-14c0d48ead0c")[1] == "v0.0.0-20170915032832-14c0d48ead0c"
