"""docker/upstream/cmdgoproxy.py: the URL conventions of Go's own test proxy (cmd/go/proxy_test.go),
served in-process on 127.0.0.1, no Docker."""
import http.client
import shutil
import sys
from pathlib import Path

import pytest

UPSTREAM = Path(__file__).resolve().parent.parent / "docker" / "upstream"
sys.path.insert(0, str(UPSTREAM))

import cmdgoproxy  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "gomod"


@pytest.fixture
def srv(tmp_path):
    (tmp_path / "modules").mkdir()
    shutil.copy(DATA / "rsc.io_quote_v1.5.2.txt", tmp_path / "modules")
    s = cmdgoproxy.CmdGoProxy(str(tmp_path)).start()
    yield s
    s.stop()


def get(srv, path):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    out = (r.status, r.getheader("Location"), r.read())
    c.close()
    return out


def test_module_protocol_under_mod(srv):
    assert get(srv, "/mod/rsc.io/quote/@v/list") == (200, None, b"v1.5.2\n")
    assert get(srv, "/rsc.io/quote/@v/list") == (404, None, b"404 page not found\n")
    assert get(srv, "/mod/sumdb-503/rsc.io/quote/@v/list") == (200, None, b"v1.5.2\n")


@pytest.mark.parametrize("path, want", [
    ("/mod/404/rsc.io/quote/@v/list", (404, None, b"")),
    ("/mod/no.such/module/@v/list", (404, None, b"404 page not found\n")),
    ("/mod/410/rsc.io/quote/@v/list", (410, None, b"")),
    ("/mod/500/rsc.io/quote/@v/list", (500, None, b"")),
    ("/mod/invalid/rsc.io/quote/@v/list", (200, None, b"invalid")),
    ("/mod/sumdb-503/sumdb/localhost.localdev/sumdb/supported", (503, None, b"")),
    ("/mod/redirect/2/rsc.io/quote/@v/list", (302, "/mod/redirect/1/rsc.io/quote/@v/list", b"")),
    ("/mod/redirect/1/rsc.io/quote/@v/list", (302, "/mod/rsc.io/quote/@v/list", b"")),
])
def test_special_first_elements(srv, path, want):
    assert get(srv, path) == want
