"""Unit tests for the sumdb role (docker/upstream/sumdbrole.py) and the GOPROXY
role's checksum-database forwarding (goproxy.py, state/sumdb-proxy.json).
In-process servers on 127.0.0.1; no Docker, no Go."""

import http.client
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

UPSTREAM = Path(__file__).resolve().parent.parent / "docker" / "upstream"
sys.path.insert(0, str(UPSTREAM))

from upstreamlib import gomod  # noqa: E402
import goproxy  # noqa: E402
import httpfault  # noqa: E402
from upstreamlib import sumdb  # noqa: E402
import sumdbrole  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "gomod"
QUOTE = "rsc.io_quote_v1.5.2.txt"
NAME = "sum.corp.test"
SKEY, VKEY = sumdb.generate_key(NAME, b"\x07" * 32)
OTHER_SKEY, OTHER_VKEY = sumdb.generate_key("evil.example", b"\x09" * 32)
FAKE_H1 = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def real_lines(name=QUOTE):
    m = gomod.Module.from_file(DATA / name)
    return "".join(line + "\n" for line in m.gosum_lines())


def get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def log_lines(state):
    p = state / "requests.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def lookup(db, mod_at_ver, prefix=""):
    """GET /lookup/..., check the tree note with the DB's key; -> (id, record text)."""
    status, ctype, body = get(db.port, "%s/lookup/%s" % (prefix, mod_at_ver))
    assert (status, ctype) == (200, "text/plain; charset=UTF-8"), body
    rid, text, note = sumdb.parse_record(body)
    n, _ = sumdb.parse_tree(sumdb.open_note(note, VKEY).text)
    assert rid < n
    return rid, text.decode()


@pytest.fixture
def dbstate(tmp_path):
    st = tmp_path / "db"
    (st / "modules").mkdir(parents=True)
    (st / "sumdb").mkdir()
    shutil.copy(DATA / QUOTE, st / "modules")
    (st / "sumdb" / "signer").write_text(SKEY + "\n")
    return st


@pytest.fixture
def db(dbstate):
    s = sumdbrole.SumDBRole(dbstate).start()
    yield s
    s.stop()


# ---------------------------------------------------------------------------
# the sumdb role

def test_real_lines_and_protocol(db, dbstate):
    assert (db.name, db.verifier_key) == (NAME, VKEY)
    assert lookup(db, "rsc.io/quote@v1.5.2") == (0, real_lines())
    assert real_lines().startswith("rsc.io/quote v1.5.2 h1:3fEykkD9k7lYzXqCYrwGAf7iNhbk4yCjHmKBN9td4L0=\n")
    # What go fetches next, and the rest of the protocol.
    status, ctype, tile = get(db.port, "/tile/8/0/000.p/1")
    assert (status, ctype) == (200, "application/octet-stream")
    assert tile == sumdb.record_hash(real_lines().encode())
    assert sumdb.parse_tree(sumdb.open_note(get(db.port, "/latest")[2], VKEY).text)[0] == 1
    # The proxy form is answered directly too.
    assert get(db.port, "/sumdb/%s/supported" % NAME)[:1] == (200,)
    assert lookup(db, "rsc.io/quote@v1.5.2", prefix="/sumdb/" + NAME) == (0, real_lines())
    # A fixture published later is found (same rescan rule as goproxy).
    shutil.copy(DATA / "rsc.io_sampler_v1.3.0.txt", dbstate / "modules")
    assert lookup(db, "rsc.io/sampler@v1.3.0") == (1, real_lines("rsc.io_sampler_v1.3.0.txt"))
    log = log_lines(dbstate)
    assert log[0]["server"] == "sumdb" and log[0]["path"] == "/lookup/rsc.io/quote@v1.5.2"


def test_unknown_is_404_like_sum_golang_org(db):
    assert get(db.port, "/lookup/rsc.io/quote@v1.5.3") == (
        404, "text/plain; charset=utf-8",
        b"not found: rsc.io/quote@v1.5.3: invalid version: unknown revision v1.5.3\n")
    assert get(db.port, "/lookup/example.com/nope@v1.0.0")[0] == 404
    assert get(db.port, "/lookup/not-a-lookup")[0] == 400
    assert len(db.db) == 0  # nothing logged


def test_fixture_error_is_500(db, dbstate):
    (dbstate / "modules" / "example.com_bad_v1.0.0.txt").write_text("-- a.go --\n-- A.go --\n")
    status, _, body = get(db.port, "/lookup/example.com/bad@v1.0.0")
    assert status == 500 and b"case-insensitive file name collision" in body
    assert len(db.db) == 0


def test_lie_before_first_lookup(db, dbstate, capsys):
    lie = "rsc.io/quote v1.5.2 %s\nrsc.io/quote v1.5.2/go.mod %s\n" % (FAKE_H1, FAKE_H1)
    lies = {"rsc.io/quote@v1.5.2": lie,
            "example.com/nofixture@v1.0.0": "example.com/nofixture v1.0.0 %s" % FAKE_H1}  # newline added
    (dbstate / "sumdb" / "lies.json").write_text(json.dumps(lies))
    assert lookup(db, "rsc.io/quote@v1.5.2") == (0, lie)
    assert lookup(db, "example.com/nofixture@v1.0.0") == (1, "example.com/nofixture v1.0.0 %s\n" % FAKE_H1)
    # Records never change: removing the lie does not bring the truth back...
    (dbstate / "sumdb" / "lies.json").unlink()
    assert lookup(db, "rsc.io/quote@v1.5.2") == (0, lie)
    # ...and a lie arriving after the first lookup has no effect (and says so).
    shutil.copy(DATA / "rsc.io_sampler_v1.3.0.txt", dbstate / "modules")
    assert lookup(db, "rsc.io/sampler@v1.3.0")[1] == real_lines("rsc.io_sampler_v1.3.0.txt")
    (dbstate / "sumdb" / "lies.json").write_text(json.dumps({"rsc.io/sampler@v1.3.0": lie}))
    assert lookup(db, "rsc.io/sampler@v1.3.0")[1] == real_lines("rsc.io_sampler_v1.3.0.txt")
    assert "lie for rsc.io/sampler@v1.3.0 has no effect" in capsys.readouterr().err


def test_lies_json_reload_rules(db, dbstate):
    p = dbstate / "sumdb" / "lies.json"
    lie = "rsc.io/quote v1.5.2 %s\n" % FAKE_H1
    p.write_text(json.dumps({"rsc.io/quote@v1.5.2": lie}))
    assert get(db.port, "/latest")[0] == 200
    p.write_text('{"rsc.io/quote@v1.5.2": "rsc')  # half written: the previous lies stay
    assert lookup(db, "rsc.io/quote@v1.5.2")[1] == lie
    for bad, why in ((["x"], b"JSON object"), ({"rsc.io/quote": "x\n"}, b"<path>@<version>"),
                     ({"a@v1.0.0": 1}, b"not a string"), ({"a@v1.0.0": "a\n\nb\n"}, b"record text")):
        p.write_text(json.dumps(bad))
        status, _, body = get(db.port, "/lookup/rsc.io/quote@v1.5.2")
        assert status == 500 and b"bad state/sumdb/lies.json" in body and why in body, body
    p.unlink()
    assert get(db.port, "/latest")[0] == 200


def test_sign_json_other_key(db, dbstate):
    p = dbstate / "sumdb" / "sign.json"

    def note():
        return sumdb.parse_record(get(db.port, "/lookup/rsc.io/quote@v1.5.2")[2])[2]

    assert sumdb.open_note(note(), VKEY)
    p.write_text(json.dumps({"signer": OTHER_SKEY}))
    with pytest.raises(sumdb.UnverifiedNoteError):
        sumdb.open_note(note(), VKEY)
    assert sumdb.open_note(note(), OTHER_VKEY).sigs[0].name == "evil.example"
    assert sumdb.open_note(get(db.port, "/latest")[2], OTHER_VKEY)
    # Another key claiming our name and key hash (hex string or int).
    our_hash = sumdb.parse_verifier(VKEY).hash
    for kh in ("%08x" % our_hash, our_hash):
        p.write_text(json.dumps({"signer": OTHER_SKEY, "name": NAME, "key_hash": kh}))
        with pytest.raises(sumdb.InvalidSignatureError) as ei:
            sumdb.open_note(note(), VKEY)
        assert str(ei.value) == "invalid signature for key %s+%08x" % (NAME, our_hash)
    # also_own: our genuine signature plus the other one.
    p.write_text(json.dumps({"signer": OTHER_SKEY, "also_own": True}))
    n = sumdb.open_note(note(), VKEY)
    assert [s.name for s in n.unverified_sigs] == ["evil.example"]
    # Bad spec: loud 500; fixed or removed: back to normal.
    p.write_text(json.dumps({"signer": "PRIVATE+KEY+nope"}))
    status, _, body = get(db.port, "/latest")
    assert status == 500 and b"bad state/sumdb/sign.json" in body
    p.unlink()
    assert sumdb.open_note(note(), VKEY).unverified_sigs == []


def test_faults_apply(db, dbstate):
    (dbstate / "faults.json").write_text(json.dumps([{"path": "^/lookup/", "action": "status", "code": 410}]))
    assert get(db.port, "/lookup/rsc.io/quote@v1.5.2")[0] == 410
    assert get(db.port, "/latest")[0] == 200
    assert [l["fault"] for l in log_lines(dbstate) if "fault" in l] == ["status", None]


def test_missing_signer(tmp_path):
    st = tmp_path / "st"
    st.mkdir()
    with pytest.raises(httpfault.StartupError) as ei:
        sumdbrole.SumDBRole(st).start()
    assert "missing" in str(ei.value) and "sumdb/signer" in str(ei.value)
    p = subprocess.run([sys.executable, str(UPSTREAM / "serve.py"), "--role", "sumdb", "--state", str(st),
                        "--host", "127.0.0.1", "--port", "0"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("serve.py: cannot start role sumdb: sumdb role: missing ")
    (st / "sumdb").mkdir()
    (st / "sumdb" / "signer").write_text(VKEY)  # the public key by mistake
    with pytest.raises(httpfault.StartupError, match="bad signer key"):
        sumdbrole.SumDBRole(st).start()


def test_serve_py_sumdb_role(dbstate, serve_py):
    p, _, port = serve_py("sumdb", dbstate)  # asserts the "ready role=sumdb port=" line
    status, _, body = get(port, "/lookup/rsc.io/quote@v1.5.2")
    assert status == 200 and sumdb.parse_record(body)[1].decode() == real_lines()
    p.terminate()
    assert p.wait(5) == 0


# ---------------------------------------------------------------------------
# goproxy forwarding /sumdb/<name>/...

@pytest.fixture
def proxy(tmp_path):
    st = tmp_path / "px"
    (st / "modules").mkdir(parents=True)
    s = goproxy.GoProxy(st).start()
    yield s
    s.stop()


def set_forward(proxy, mapping):
    (Path(proxy.state_dir) / "sumdb-proxy.json").write_text(json.dumps(mapping))


def test_proxy_forwards_to_sumdb_role(proxy, db, dbstate):
    pre = "/sumdb/%s" % NAME
    assert get(proxy.port, pre + "/supported")[0] == 404  # no sumdb-proxy.json yet
    set_forward(proxy, {NAME: db.url("/")})
    assert get(proxy.port, pre + "/supported") == (200, "text/plain; charset=UTF-8", b"")
    assert get(proxy.port, "/sumdb/other.example/supported")[0] == 404
    assert lookup(proxy, "rsc.io/quote@v1.5.2", prefix=pre) == (0, real_lines())
    status, ctype, tile = get(proxy.port, pre + "/tile/8/0/000.p/1")
    assert (status, ctype, tile) == (200, "application/octet-stream", sumdb.record_hash(real_lines().encode()))
    # The DB's own errors are relayed as they are.
    assert get(proxy.port, pre + "/lookup/example.com/nope@v1.0.0") == (
        404, "text/plain; charset=utf-8",
        b"not found: example.com/nope@v1.0.0: invalid version: unknown revision v1.0.0\n")
    (dbstate / "faults.json").write_text(json.dumps([{"path": "latest", "action": "status", "code": 503,
                                                      "body": "busy\n"}]))
    assert get(proxy.port, pre + "/latest?x=1")[::2] == (503, b"busy\n")
    # The DB saw the paths without the proxy prefix (query kept); /supported never reached it.
    assert [l["path"] for l in log_lines(dbstate) if "method" in l] == [
        "/lookup/rsc.io/quote@v1.5.2", "/tile/8/0/000.p/1", "/lookup/example.com/nope@v1.0.0", "/latest?x=1"]
    # Re-read on change: dropping the entry turns the proxying off.
    set_forward(proxy, {})
    assert get(proxy.port, pre + "/supported")[0] == 404


def test_proxy_forward_errors(proxy, db, capsys):
    pre = "/sumdb/%s" % NAME
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    set_forward(proxy, {NAME: "http://127.0.0.1:%d" % dead})
    assert get(proxy.port, pre + "/supported")[0] == 200  # does not depend on the DB
    status, ctype, body = get(proxy.port, pre + "/lookup/rsc.io/quote@v1.5.2")
    assert (status, ctype) == (502, "text/plain; charset=UTF-8")
    assert body.startswith(b"gotraps goproxy: checksum database sum.corp.test: GET http://127.0.0.1:%d"
                           b"/lookup/rsc.io/quote@v1.5.2: ConnectionRefusedError" % dead)
    # A DB that never answers: 502 after the timeout.
    (Path(db.state_dir) / "faults.json").write_text(json.dumps([{"action": "hang"}]))
    set_forward(proxy, {NAME: db.url("")})
    old, goproxy.SUMDB_TIMEOUT = goproxy.SUMDB_TIMEOUT, 0.3
    try:
        status, _, body = get(proxy.port, pre + "/latest")
    finally:
        goproxy.SUMDB_TIMEOUT = old
    assert status == 502 and b"timed out" in body
    # Names with a slash; longest match wins.
    set_forward(proxy, {"a.example": db.url(""), "a.example/sub": "http://127.0.0.1:%d" % dead})
    assert get(proxy.port, "/sumdb/a.example/sub/supported")[0] == 200
    assert get(proxy.port, "/sumdb/a.example/sub/latest")[0] == 502
    # A bad file is loud; half-written keeps the previous content.
    (Path(proxy.state_dir) / "sumdb-proxy.json").write_text('{"sum.corp')
    assert get(proxy.port, "/sumdb/a.example/sub/supported")[0] == 200
    set_forward(proxy, {NAME: "ftp://x"})
    status, _, body = get(proxy.port, pre + "/supported")
    assert status == 500 and b"bad state/sumdb-proxy.json" in body
    capsys.readouterr()


def _make_cert(tls_dir, cn="127.0.0.1"):
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % cn, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tls_dir / "key.pem"), "-out", str(tls_dir / "cert.pem")],
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not available")
def test_proxy_forwards_to_https_db_with_private_ca(dbstate, tmp_path):
    _make_cert(dbstate / "tls")  # self-signed: its own CA
    pxst = tmp_path / "px"
    (pxst / "modules").mkdir(parents=True)
    with sumdbrole.SumDBRole(dbstate, tls_port=0) as dbs, goproxy.GoProxy(pxst) as px:
        set_forward(px, {NAME: dbs.url("", tls=True)})
        # Without state/tls/ca.pem: the system store, which does not know this CA.
        status, _, body = get(px.port, "/sumdb/%s/latest" % NAME)
        assert status == 502 and b"CERTIFICATE_VERIFY_FAILED" in body
        (pxst / "tls").mkdir()
        shutil.copy(dbstate / "tls" / "cert.pem", pxst / "tls" / "ca.pem")
        assert lookup(px, "rsc.io/quote@v1.5.2", prefix="/sumdb/" + NAME) == (0, real_lines())
        assert [l["tls"] for l in log_lines(dbstate) if l.get("method")] == [True]
        # the proxy's first, untrusting attempt shows as a failed handshake without a request
        assert [l["fault"] for l in log_lines(dbstate) if l.get("method") == ""] == ["tls-handshake-failed"]
