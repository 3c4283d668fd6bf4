"""Unit tests for docker/upstream/{httpfault,goproxy,serve}.py: the servers
run in-process (or as a subprocess for serve.py) on 127.0.0.1, no Docker."""

import base64
import http.client
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

UPSTREAM = Path(__file__).resolve().parent.parent / "docker" / "upstream"
sys.path.insert(0, str(UPSTREAM))

from upstreamlib import gomod  # noqa: E402
import goproxy  # noqa: E402
import httpfault  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "gomod"


def fixture(state, name, text):
    (state / "modules" / name).write_text(text, encoding="utf-8")


@pytest.fixture
def state(tmp_path):
    st = tmp_path / "state"
    (st / "modules").mkdir(parents=True)
    shutil.copy(DATA / "rsc.io_quote_v1.5.2.txt", st / "modules")
    for v in ("v1.0.0", "v1.2.0", "v1.10.0", "v1.11.0-pre", "v1.10.1-0.20240101000000-0123456789ab"):
        fixture(st, "example.com_multi_%s.txt" % v, "-- go.mod --\nmodule example.com/multi\n-- m.go --\n// %s\n" % v)
    fixture(st, "example.com_multi_v2.0.0.txt", "-- m.go --\n")  # major mismatch: never listed
    fixture(st, "example.com_!upper_m_v1.0.0-!r!c1.txt", "-- go.mod --\nmodule example.com/Upper/m\n")
    fixture(st, "example.com_pre_v0.1.0-beta.txt", "-- p.go --\n")
    fixture(st, "example.com_pre_v0.2.0-0.20230102030405-abcdefabcdef.txt", "-- p.go --\n")
    fixture(st, "example.com_ps_v0.0.0-20230102030405-abcdefabcdef.txt", "-- p.go --\n")
    fixture(st, "example.com_ps_v0.0.0-20240102030405-0123456789ab.txt", "-- p.go --\n")
    return st


@pytest.fixture
def srv(state):
    s = goproxy.GoProxy(state).start()
    yield s
    s.stop()


def get(srv, path, method="GET", timeout=5, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r, r.read()
    finally:
        c.close()


def set_faults(state, rules):
    (state / "faults.json").write_text(json.dumps(rules))


def log_lines(state):
    p = state / "requests.jsonl"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines()]


def wait_for(pred, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("condition not met in %ss" % timeout)


def raw_request(srv, path="/x", port=None):
    s = socket.create_connection(("127.0.0.1", port or srv.port), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path).encode())
    return s


# ---------------------------------------------------------------------------
# GOPROXY protocol

def test_list_info_mod_zip(srv):
    st, r, body = get(srv, "/example.com/multi/@v/list")
    assert st == 200 and r.getheader("Content-Type") == "text/plain; charset=UTF-8"
    assert body == b"v1.0.0\nv1.2.0\nv1.10.0\nv1.11.0-pre\n"

    st, r, body = get(srv, "/rsc.io/quote/@v/v1.5.2.info")
    assert st == 200 and r.getheader("Content-Type") == "application/json"
    assert json.loads(body)["Version"] == "v1.5.2"

    m = gomod.Module.from_file(DATA / "rsc.io_quote_v1.5.2.txt")
    st, r, body = get(srv, "/rsc.io/quote/@v/v1.5.2.mod")
    assert (st, r.getheader("Content-Type"), body) == (200, "text/plain; charset=UTF-8", m.mod)

    st, r, body = get(srv, "/rsc.io/quote/@v/v1.5.2.zip")
    assert st == 200 and r.getheader("Content-Type") == "application/zip"
    assert int(r.getheader("Content-Length")) == len(body)
    z = zipfile.ZipFile(io.BytesIO(body))
    assert gomod.hash1((n, z.read(n)) for n in z.namelist()) == m.h1()

    st, r, body = get(srv, "/rsc.io/quote/@v/v1.5.2.zip", method="HEAD")
    assert st == 200 and body == b"" and int(r.getheader("Content-Length")) == len(m.zip_bytes())

    # Pseudo-versions and major-mismatched versions are served by name.
    assert get(srv, "/example.com/multi/@v/v1.10.1-0.20240101000000-0123456789ab.info")[0] == 200
    assert get(srv, "/example.com/multi/@v/v2.0.0.mod")[2] == b"module example.com/multi\n"
    # Only pseudo-versions: known module, empty list.
    assert get(srv, "/example.com/ps/@v/list")[:1] == (200,)
    assert get(srv, "/example.com/ps/@v/list")[2] == b""


def test_latest(srv):
    def latest(mod):
        st, _, body = get(srv, "/%s/@latest" % mod)
        return json.loads(body)["Version"] if st == 200 else st
    assert latest("example.com/multi") == "v1.10.0"   # release beats prerelease and pseudo
    assert latest("example.com/pre") == "v0.1.0-beta"  # prerelease beats pseudo
    assert latest("example.com/ps") == "v0.0.0-20240102030405-0123456789ab"
    assert latest("example.com/nope") == 404
    st, r, _ = get(srv, "/example.com/multi/@latest")
    assert r.getheader("Content-Type") == "application/json"


def test_case_escaping(srv):
    st, _, body = get(srv, "/example.com/!upper/m/@v/v1.0.0-!r!c1.info")
    assert st == 200 and json.loads(body)["Version"] == "v1.0.0-RC1"
    assert get(srv, "/example.com/!upper/m/@v/list")[2] == b"v1.0.0-RC1\n"
    z = zipfile.ZipFile(io.BytesIO(get(srv, "/example.com/!upper/m/@v/v1.0.0-!r!c1.zip")[2]))
    assert z.namelist() == ["example.com/Upper/m@v1.0.0-RC1/go.mod"]
    # Unescaped upper case is not a valid request.
    assert get(srv, "/example.com/Upper/m/@v/list")[0] == 404
    assert get(srv, "/example.com/!upper/m/@v/v1.0.0-RC1.info")[0] == 404
    # Percent-encoded paths are decoded first.
    assert get(srv, "/example.com/%21upper/m/@v/v1.0.0-%21r%21c1.info")[0] == 200


def test_not_found(srv):
    st, r, body = get(srv, "/example.com/nope/@v/list")
    assert st == 404 and r.getheader("Content-Type") == "text/plain; charset=UTF-8"
    assert body.startswith(b"not found: module example.com/nope")
    st, _, body = get(srv, "/rsc.io/quote/@v/v9.9.9.info")
    assert (st, body) == (404, b"not found: rsc.io/quote@v9.9.9: invalid version: unknown revision v9.9.9\n")
    for p in ("/sumdb/sum.golang.org/supported", "/sumdb/sum.golang.org/lookup/rsc.io/quote@v1.5.2",
              "/", "/rsc.io/quote", "/rsc.io/quote/@v/v1.5.2.tar", "/rsc.io/quote/@v/"):
        assert get(srv, p)[0] == 404, p


def test_commit_hash_resolves(srv):
    st, _, body = get(srv, "/example.com/ps/@v/0123456789ab.info")
    assert st == 200 and json.loads(body)["Version"] == "v0.0.0-20240102030405-0123456789ab"
    assert get(srv, "/example.com/ps/@v/abcdef.info")[0] == 200
    assert get(srv, "/example.com/ps/@v/fedcba.info")[0] == 404


def test_publish_new_version_and_zip_cache(srv, state):
    assert get(srv, "/example.com/multi/@v/list")[2].endswith(b"v1.11.0-pre\n")
    z1 = get(srv, "/example.com/multi/@v/v1.0.0.zip")[2]
    mod_before = srv.modset.snapshot()[0][("example.com/multi", "v1.0.0")]
    fixture(state, "example.com_multi_v1.12.0.txt", "-- m.go --\n")
    assert get(srv, "/example.com/multi/@v/list")[2].endswith(b"v1.11.0-pre\nv1.12.0\n")
    assert json.loads(get(srv, "/example.com/multi/@latest")[2])["Version"] == "v1.12.0"
    # Unchanged fixture: same Module object, same cached zip.
    assert srv.modset.snapshot()[0][("example.com/multi", "v1.0.0")] is mod_before
    assert get(srv, "/example.com/multi/@v/v1.0.0.zip")[2] == z1
    # Rewritten fixture: new content served.
    fixture(state, "example.com_multi_v1.0.0.txt", "-- other.go --\nchanged\n")
    z2 = zipfile.ZipFile(io.BytesIO(get(srv, "/example.com/multi/@v/v1.0.0.zip")[2]))
    assert z2.namelist() == ["example.com/multi@v1.0.0/other.go"]
    # Removed fixture: gone.
    (state / "modules" / "example.com_multi_v1.12.0.txt").unlink()
    assert get(srv, "/example.com/multi/@v/v1.12.0.info")[0] == 404


def test_fixture_error_is_500_not_crash(srv, state, capsys):
    fixture(state, "example.com_bad_v1.0.0.txt", "-- a.go --\n-- A.go --\n")
    fixture(state, "example.com_bad_v1.1.0.txt", "-- ok.go --\n")
    st, _, body = get(srv, "/example.com/bad/@v/v1.0.0.zip")
    assert st == 500
    assert body.decode() == ('example.com_bad_v1.0.0.txt:2: A.go: case-insensitive file name collision: '
                             '"a.go" and "A.go"\n')
    assert get(srv, "/example.com/bad/@v/v1.0.0.info")[0] == 500
    assert get(srv, "/example.com/bad/@v/list")[0] == 500     # the list would be incomplete
    assert get(srv, "/example.com/bad/@latest")[0] == 500
    assert get(srv, "/example.com/bad/@v/v1.1.0.info")[0] == 200
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 200
    # A bad version in the name still ties the error to its module.
    fixture(state, "example.com_bad2_v1.0.txt", "-- a.go --\n")
    assert get(srv, "/example.com/bad2/@v/list")[0] == 500
    assert "case-insensitive" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# faults

def test_fault_status_and_times(srv, state):
    set_faults(state, [{"path": r"/@v/list$", "action": "status", "code": 503, "body": "busy\n",
                        "headers": {"Retry-After": "1"}, "times": 2}])
    for _ in range(2):
        st, r, body = get(srv, "/example.com/multi/@v/list")
        assert (st, body, r.getheader("Retry-After")) == (503, b"busy\n", "1")
        assert r.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert get(srv, "/example.com/multi/@v/list")[0] == 200
    assert [l["fault"] for l in log_lines(state) if "fault" in l] == ["status", "status", None]


def test_fault_method_and_query(srv, state):
    set_faults(state, [{"path": r"\?go-get=1$", "action": "status", "code": 410},
                       {"method": "head", "path": "quote", "action": "status", "code": 418}])
    assert get(srv, "/rsc.io/quote?go-get=1")[0] == 410
    assert get(srv, "/rsc.io/quote/@v/v1.5.2.info", method="HEAD")[0] == 418
    assert get(srv, "/rsc.io/quote/@v/v1.5.2.info")[0] == 200


def test_fault_delay(srv, state):
    set_faults(state, [{"path": "list", "action": "delay", "seconds": 0.3}])
    t = time.time()
    st, _, body = get(srv, "/example.com/multi/@v/list")
    assert st == 200 and body.startswith(b"v1.0.0") and time.time() - t >= 0.3


@pytest.mark.parametrize("rule,status", [({"action": "delay", "seconds": 3}, None),
                                         ({"action": "trickle", "bytes": 1, "interval": 3}, 200)])
def test_a_fault_that_waits_gives_up_when_its_client_goes(srv, state, rule, status):
    """A client that closes while a fault waits ends the request at once, with what was sent."""
    set_faults(state, [{"path": "list", **rule}])
    s = raw_request(srv, "/example.com/multi/@v/list")
    wait_for(lambda: log_lines(state))
    time.sleep(0.2)
    assert not [l for l in log_lines(state) if l.get("end")]       # the client is there: it waits
    closed = time.time()
    s.close()
    end = wait_for(lambda: [l for l in log_lines(state) if l.get("end")])
    assert end[0]["t"] - closed < 0.2 and end[0]["status"] == status
    assert end[0]["bytes"] == (1 if status else 0)


def test_fault_hang(srv, state):
    set_faults(state, [{"path": "list", "action": "hang"}])
    with pytest.raises(socket.timeout):
        get(srv, "/example.com/multi/@v/list", timeout=0.3)
    # The client gave up and closed: the server notices and logs the end.
    end = wait_for(lambda: [l for l in log_lines(state) if l.get("end")])
    assert end[0]["status"] is None and end[0]["bytes"] == 0
    assert log_lines(state)[0]["fault"] == "hang"


def test_fault_reset_and_close(srv, state):
    set_faults(state, [{"path": "reset", "action": "reset"}, {"path": "close", "action": "close"}])
    s = raw_request(srv, "/reset")
    with pytest.raises(ConnectionResetError):
        s.recv(100)
    s.close()
    s = raw_request(srv, "/close")
    assert s.recv(100) == b""  # orderly FIN, no bytes
    s.close()
    with pytest.raises(ConnectionResetError):
        get(srv, "/reset")
    with pytest.raises(http.client.RemoteDisconnected):
        get(srv, "/close")


def test_fault_truncate(srv, state):
    full = get(srv, "/rsc.io/quote/@v/v1.5.2.zip")[2]
    set_faults(state, [{"path": r"\.zip$", "action": "truncate", "bytes": 100}])
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request("GET", "/rsc.io/quote/@v/v1.5.2.zip")
    r = c.getresponse()
    assert r.status == 200 and int(r.getheader("Content-Length")) == len(full)
    with pytest.raises(http.client.IncompleteRead) as ei:
        r.read()
    assert ei.value.partial == full[:100]
    c.close()
    end = wait_for(lambda: [l for l in log_lines(state) if l.get("end") and l["id"] == 2])
    assert end[0]["status"] == 200 and end[0]["bytes"] == 100


def test_fault_headers_and_trickle(srv, state):
    full = get(srv, "/rsc.io/quote/@v/v1.5.2.zip")[2]
    set_faults(state, [
        {"path": r"/@v/list$", "action": "headers",
         "headers": {"Cache-Control": "public, max-age=3600", "content-type": "text/x-list"}},
        {"path": r"\.zip$", "action": "trickle", "bytes": len(full) // 4 + 1, "interval": 0.2},
    ])
    st, r, body = get(srv, "/rsc.io/quote/@v/list")
    assert st == 200 and body == b"v1.5.2\n"
    assert r.getheader("Cache-Control") == "public, max-age=3600"
    assert r.getheader("Content-Type") == "text/x-list"          # replaced, not doubled
    started = time.monotonic()
    st, r, body = get(srv, "/rsc.io/quote/@v/v1.5.2.zip")
    assert st == 200 and body == full
    assert 0.55 < time.monotonic() - started < 2, "four pieces, 0.2 s apart"


def test_fault_html_redirect_body(srv, state):
    set_faults(state, [
        {"path": "^/html", "action": "html"},
        {"path": "^/redir", "action": "redirect", "location": "http://elsewhere.example/x"},
        {"path": "^/r301", "action": "redirect", "location": "/y", "code": 301},
        {"path": "^/text", "action": "body", "text": "hello", "code": 202},
        {"path": "^/b64", "action": "body", "base64": base64.b64encode(b"\x00\xffzip").decode(),
         "content_type": "application/zip"},
    ])
    st, r, body = get(srv, "/html/rsc.io/quote/@v/list")
    assert st == 200 and r.getheader("Content-Type").startswith("text/html") and b"<form" in body
    st, r, _ = get(srv, "/redir")
    assert (st, r.getheader("Location")) == (302, "http://elsewhere.example/x")
    assert get(srv, "/r301")[0] == 301
    st, r, body = get(srv, "/text")
    assert (st, body, r.getheader("Content-Type")) == (202, b"hello", "text/plain; charset=utf-8")
    st, r, body = get(srv, "/b64")
    assert (st, body, r.getheader("Content-Type")) == (200, b"\x00\xffzip", "application/zip")


def test_fault_hold(srv, state):
    set_faults(state, [{"path": "list", "action": "hold", "name": "gate"}])
    result = {}
    t = threading.Thread(target=lambda: result.update(r=get(srv, "/example.com/multi/@v/list")))
    t.start()
    arrived = wait_for(lambda: [l for l in log_lines(state) if l.get("fault") == "hold"])
    assert arrived[0]["path"] == "/example.com/multi/@v/list"
    time.sleep(0.1)
    assert t.is_alive() and not [l for l in log_lines(state) if l.get("end")]
    (state / "release").mkdir(exist_ok=True)
    (state / "release" / "gate").write_text("")
    t.join(3)
    assert result["r"][0] == 200 and result["r"][2].startswith(b"v1.0.0")
    # Released: later requests pass straight through.
    assert get(srv, "/example.com/multi/@v/list", timeout=1)[0] == 200


def test_faults_reload_partial_and_invalid(srv, state, capsys):
    set_faults(state, [{"path": "list", "action": "status", "code": 500}])
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 500
    # Half-written file: the previous rules stay.
    (state / "faults.json").write_text('[{"path": "list", "action": "sta')
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 500
    # Completed: the new rules apply.
    set_faults(state, [{"path": "list", "action": "status", "code": 404}])
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 404
    # Same size, same mtime, new content: still noticed (ctime).
    p = state / "faults.json"
    st = p.stat()
    set_faults(state, [{"path": "list", "action": "status", "code": 403}])
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 403
    # Valid JSON, bad rule: every request fails loudly.
    set_faults(state, [{"path": "list", "action": "explode"}])
    st, _, body = get(srv, "/rsc.io/quote/@v/v1.5.2.info")
    assert st == 500 and b"unknown action 'explode'" in body
    arrival = [l for l in log_lines(state) if l.get("path") == "/rsc.io/quote/@v/v1.5.2.info"]
    assert arrival[0]["fault"] == "invalid-faults"
    set_faults(state, [{"path": "list", "action": "status", "code": 503, "time": 1}])
    assert b"unknown keys" in get(srv, "/")[2]
    # No file: no faults.
    p.unlink()
    assert get(srv, "/rsc.io/quote/@v/list")[0] == 200
    assert "faults.json" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# request log, keep-alive, TLS, lifecycle

def test_request_log(srv, state):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    for path in ("/rsc.io/quote/@v/list", "/rsc.io/quote/@v/v9.info"):  # one keep-alive connection
        c.request("GET", path, headers={"User-Agent": "Go-http-client/1.1", "X-Twice": "a"})
        r = c.getresponse()
        r.read()
    c.request("POST", "/x", body=b"12345")
    c.getresponse().read()
    c.close()
    lines = log_lines(state)
    assert len(lines) == 6
    a, e = lines[0], lines[1]
    assert set(a) == {"id", "t", "server", "method", "path", "host", "headers", "tls", "client",
                      "body_bytes", "fault", "rule"}
    assert (a["id"], a["server"], a["method"], a["path"], a["fault"], a["tls"]) == \
        (1, "goproxy", "GET", "/rsc.io/quote/@v/list", None, False)
    assert a["host"].startswith("127.0.0.1:") and a["headers"]["User-Agent"] == "Go-http-client/1.1"
    assert e == {"id": 1, "end": True, "t": e["t"], "status": 200, "bytes": len(b"v1.5.2\n")}
    assert e["t"] >= a["t"]
    assert lines[3]["status"] == 404 and lines[4]["body_bytes"] == 5 and lines[4]["method"] == "POST"
    assert lines[2]["client"] == lines[0]["client"]  # same connection reused


def test_chunked_request_body(srv, state):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 404")
    s.close()
    assert wait_for(lambda: log_lines(state))[0]["body_bytes"] == 5


def _make_cert(tls_dir):
    tls_dir.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tls_dir / "key.pem"), "-out", str(tls_dir / "cert.pem")],
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not available")
def test_tls_listener(state):
    _make_cert(state / "tls")
    with goproxy.GoProxy(state, tls_port=0) as s:
        assert s.tls_port and s.tls_port != s.port
        ctx = ssl.create_default_context(cafile=str(state / "tls" / "cert.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", s.tls_port, timeout=5, context=ctx)
        c.request("GET", "/rsc.io/quote/@v/list")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"v1.5.2\n")
        c.close()
        assert log_lines(state)[0]["tls"] is True
        # Faults apply over TLS too.
        set_faults(state, [{"path": "reset", "action": "reset"}, {"path": "trunc", "action": "truncate",
                                                                 "bytes": 2}])
        c = http.client.HTTPSConnection("127.0.0.1", s.tls_port, timeout=5, context=ctx)
        c.request("GET", "/reset")
        with pytest.raises(ConnectionResetError):
            c.getresponse()
        c.close()
        c = http.client.HTTPSConnection("127.0.0.1", s.tls_port, timeout=5, context=ctx)
        c.request("GET", "/trunc/rsc.io/quote/@v/list")
        with pytest.raises(http.client.IncompleteRead):
            c.getresponse().read()
        c.close()
        # A plain HTTP client on the TLS port does not break the server.
        raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=5)
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        try:
            raw.recv(100)
        except ConnectionResetError:
            pass
        raw.close()
        assert get(s, "/rsc.io/quote/@v/list")[0] == 200
    # No cert: no TLS listener even when asked.
    shutil.rmtree(state / "tls")
    with goproxy.GoProxy(state, tls_port=0) as s:
        assert s.tls_port is None


def test_tls_hang_handshake(state):
    # No cert needed: the handshake never starts.
    (state / "tls").mkdir()
    (state / "tls" / "mode").write_text("hang-handshake\n")
    s = goproxy.GoProxy(state, tls_port=0).start()
    try:
        assert s.tls_port and s.tls_modes == {"hang-handshake"}
        ctx = ssl.create_default_context()
        raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=0.3)
        keep = raw.dup()  # wrap_socket closes its socket when the handshake fails
        with pytest.raises(socket.timeout):
            ctx.wrap_socket(raw, server_hostname="proxy.test")  # ClientHello sent, nothing back
        arrival = wait_for(lambda: [l for l in log_lines(state) if l.get("fault")])[0]
        assert {k: arrival[k] for k in ("method", "path", "tls", "fault", "host", "rule")} == {
            "method": "", "path": "", "tls": True, "fault": "tls-hang-handshake", "host": None, "rule": None}
        assert arrival["server"] == "goproxy" and arrival["client"].startswith("127.0.0.1:")
        time.sleep(0.1)
        assert not [l for l in log_lines(state) if l.get("end")]  # still open: no end line
        keep.close()
        end = wait_for(lambda: [l for l in log_lines(state) if l.get("end")])[0]
        assert (end["id"], end["status"], end["bytes"]) == (arrival["id"], None, 0)
        # The plain HTTP listener is unaffected.
        assert get(s, "/rsc.io/quote/@v/list")[2] == b"v1.5.2\n"
        # A connection still hanging when the server stops: stop() stays quick, the socket closes.
        raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=2)
        wait_for(lambda: len([l for l in log_lines(state) if l.get("fault")]) == 2)
    finally:
        t = time.time()
        s.stop()
        assert time.time() - t < 1
    assert raw.recv(100) == b""
    raw.close()
    wait_for(lambda: len([l for l in log_lines(state) if l.get("end") and l["status"] is None]) == 2)


def test_tls_mode_unknown_word_fails_start(state):
    (state / "tls").mkdir()
    (state / "tls" / "mode").write_text("hang-handshak\n")
    with pytest.raises(httpfault.StartupError, match="unknown mode 'hang-handshak'"):
        goproxy.GoProxy(state, tls_port=0).start()
    # Without a TLS port the file is not consulted.
    with goproxy.GoProxy(state) as s:
        assert s.tls_port is None


def test_stop_releases_held_and_hung(state):
    s = goproxy.GoProxy(state).start()
    set_faults(state, [{"path": "hold", "action": "hold", "name": "never"},
                       {"path": "hang", "action": "hang"}])
    socks = [raw_request(s, "/hold"), raw_request(s, "/hang"), raw_request(s, "/rsc.io/quote/@v/list")]
    wait_for(lambda: len([l for l in log_lines(state) if "fault" in l]) == 3)
    t = time.time()
    s.stop()
    assert time.time() - t < 1
    for sock in socks:
        sock.settimeout(2)
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        sock.close()


def test_serve_py_ready_and_sigterm(state, serve_py):
    p, line, port = serve_py("goproxy", state)  # asserts the "ready role=goproxy port=" line
    assert "tls_port=off" in line
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/rsc.io/quote/@v/list")
    assert c.getresponse().read() == b"v1.5.2\n"  # connection left open (keep-alive)
    t = time.time()
    p.send_signal(signal.SIGTERM)
    assert p.wait(5) == 0
    assert time.time() - t < 1
    c.close()


def test_go_import_page_for_an_origin(srv, state):
    (state / "goimport.json").write_text(json.dumps({"example.com/lib": "mod https://origin.corp.test"}))
    status, resp, body = get(srv, "/lib/sub?go-get=1", headers={"Host": "example.com"})
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    assert b'<meta name="go-import" content="example.com/lib mod https://origin.corp.test">' in body
    assert get(srv, "/other?go-get=1", headers={"Host": "example.com"})[0] == 404
    assert get(srv, "/libx?go-get=1", headers={"Host": "example.com"})[0] == 404  # whole path elements only
    assert get(srv, "/lib?go-get=1", headers={"Host": "example.org"})[0] == 404
