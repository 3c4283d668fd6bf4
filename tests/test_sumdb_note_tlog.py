"""Unit tests for docker/upstream/sumdb.py (the fake Go checksum database).

Vectors come from Go's own source: literals copied from comments and tests
(note.go's PeterNeumann example, proxy_test.go's key pair, tile.go's path
examples) and tests/data/sumdb/go_vectors.json, produced by running Go's
golang.org/x/mod/sumdb code (see tests/data/sumdb/gen_vectors.go).
No Go and no Docker needed.
"""

import base64
import contextlib
import hashlib
import io
import json
import pathlib
import zipfile

import pytest

# sumdb.py imports its sibling gomod.py: load both the way the host does.
from upstreamlib import gomod, sumdb

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "sumdb"

with open(DATA / "go_vectors.json", encoding="utf-8") as _f:
    V = json.load(_f)

# From note.go's package documentation.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_MSG = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
).encode()

# From cmd/go/proxy_test.go.
TEST_NAME = "localhost.localdev/sumdb"
TEST_VKEY = "localhost.localdev/sumdb+00000c67+AcTrnkbUA+TU4heY3hkjiSES/DSQniBqIeQ/YppAUtK6"
TEST_SKEY = "PRIVATE+KEY+localhost.localdev/sumdb+00000c67+AXu6+oaVaOYuQOFrf1V59JK1owcFlJcHwwXHDfDGxSPk"


def b64d(s):
    return base64.b64decode(s)


# ---------------------------------------------------------------------------
# note
# ---------------------------------------------------------------------------

def test_peter_neumann_sign_matches_note_go_doc():
    text = PETER_MSG[: PETER_MSG.index(b"\n\n") + 1]
    assert sumdb.sign_note(text, PETER_SKEY) == PETER_MSG
    assert V["note"]["peter"]["msg"].encode() == PETER_MSG  # Go agrees with its doc


def test_peter_neumann_open_and_verifier():
    note = sumdb.open_note(PETER_MSG, PETER_VKEY)
    assert note.text.startswith("If you think cryptography")
    assert [(s.name, s.hash) for s in note.sigs] == [("PeterNeumann", 0xC74F20A3)]
    assert note.unverified_sigs == []
    assert sumdb.verifier_from_signer(PETER_SKEY) == PETER_VKEY


def test_proxy_test_key_pair():
    assert sumdb.verifier_from_signer(TEST_SKEY) == TEST_VKEY
    assert V["note"]["proxy_test"]["derived_vkey"] == TEST_VKEY
    v = sumdb.parse_verifier(TEST_VKEY)
    assert (v.name, v.hash) == (TEST_NAME, 0x00000C67)
    s = sumdb.parse_signer(TEST_SKEY)
    assert (s.name, s.hash, s.public_key) == (TEST_NAME, 0x00000C67, v.public_key)


@pytest.mark.parametrize("case", V["note"]["generate"], ids=lambda c: c["name"])
def test_generate_key_matches_go(case):
    seed = bytes.fromhex(case["seed_hex"])
    assert sumdb.generate_key(case["name"], seed) == (case["skey"], case["vkey"])


def test_generate_key_random_pair_works():
    skey, vkey = sumdb.generate_key("sum.example.test")
    assert sumdb.verifier_from_signer(skey) == vkey
    msg = sumdb.sign_note("hi\n", skey)
    assert sumdb.open_note(msg, vkey).text == "hi\n"
    assert sumdb.generate_key("sum.example.test") != (skey, vkey)


@pytest.mark.parametrize("case", V["note"]["signed"], ids=lambda c: c["text"][:12])
def test_sign_note_matches_go(case):
    assert sumdb.sign_note(case["text"], case["skeys"]).decode() == case["msg"]


@pytest.mark.parametrize("case", V["note"]["open"], ids=lambda c: c["name"])
def test_open_note_matches_go(case):
    if "error" in case:
        with pytest.raises(sumdb.NoteError) as e:
            sumdb.open_note(case["msg"].encode(), case["vkeys"])
        assert str(e.value) == case["error"]
        return
    note = sumdb.open_note(case["msg"].encode(), case["vkeys"])
    assert note.text == case["text"]
    assert ["%s+%08x" % (s.name, s.hash) for s in note.sigs] == (case["sigs"] or [])
    assert ["%s+%08x" % (s.name, s.hash) for s in note.unverified_sigs] == (case["unverified"] or [])


@pytest.mark.parametrize("case", V["note"]["bad_vkeys"], ids=lambda c: c["error"])
def test_bad_verifier_keys_match_go(case):
    with pytest.raises(sumdb.NoteError) as e:
        sumdb.parse_verifier(case["vkey"])
    assert str(e.value) == case["error"]


def test_bad_signer_keys():
    with pytest.raises(sumdb.NoteError, match="malformed verifier id"):
        sumdb.parse_signer(TEST_VKEY)
    wrong_hash = TEST_SKEY.replace("+00000c67+", "+00000c68+")
    with pytest.raises(sumdb.NoteError, match="invalid verifier hash"):
        sumdb.parse_signer(wrong_hash)
    with pytest.raises(sumdb.NoteError, match="malformed note"):
        sumdb.sign_note("no newline", TEST_SKEY)


def test_forged_signatures():
    other_skey, other_vkey = sumdb.generate_key(TEST_NAME, b"\x07" * 32)
    text = b"go.sum database tree\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    # Another key claiming our name and key hash: the known key rejects it.
    forged = sumdb.sign_note(text, other_skey, name=TEST_NAME, key_hash=0x00000C67)
    with pytest.raises(sumdb.InvalidSignatureError) as e:
        sumdb.open_note(forged, TEST_VKEY)
    assert str(e.value) == "invalid signature for key localhost.localdev/sumdb+00000c67"
    # Another key under our name but its own hash: nothing verifiable.
    other = sumdb.sign_note(text, other_skey)
    with pytest.raises(sumdb.UnverifiedNoteError) as e:
        sumdb.open_note(other, TEST_VKEY)
    assert str(e.value) == "note has no verifiable signatures"
    assert e.value.note.unverified_sigs[0].name == TEST_NAME
    assert sumdb.open_note(other, other_vkey).text == text.decode()


# ---------------------------------------------------------------------------
# tlog
# ---------------------------------------------------------------------------

T = V["tlog"]


def build(records):
    hashes = []
    for i, rec in enumerate(records):
        hashes.extend(sumdb.stored_hashes(i, rec.encode(), hashes))
    return hashes


HASHES_600 = build(T["records"])


def test_record_and_node_hash():
    for case in T["record_hash"]:
        assert sumdb.hash_b64(sumdb.record_hash(case["data"].encode())) == case["hash"]
    nh = T["node_hash"]
    assert sumdb.hash_b64(sumdb.node_hash(b64d(nh["left"]), b64d(nh["right"]))) == nh["hash"]


def test_stored_hash_index_and_split():
    for level, n, index in T["stored_hash_index"]:
        assert sumdb.stored_hash_index(level, n) == index
    for index, level, n in T["split_stored_hash_index"]:
        assert sumdb.split_stored_hash_index(index) == (level, n)
    for n, count in T["stored_hash_count"]:
        assert sumdb.stored_hash_count(n) == count


def test_stored_hashes_match_go():
    assert [sumdb.hash_b64(h) for h in build(T["records"][:20])] == T["stored_hashes_20"]
    assert len(HASHES_600) == T["stored_hashes_600_count"] == sumdb.stored_hash_count(600)
    assert hashlib.sha256(b"".join(HASHES_600)).hexdigest() == T["stored_hashes_600_sha256"]


def test_tree_hashes_match_go():
    for n, h in T["tree_hash"].items():
        assert sumdb.hash_b64(sumdb.tree_hash(int(n), HASHES_600)) == h, n
    assert sumdb.tree_hash(0, []) == hashlib.sha256(b"").digest()


def test_tile_contents_match_go():
    for case in T["tiles"]:
        tile = sumdb.Tile(case["H"], case["L"], case["N"], case["W"])
        assert tile.path() == case["path"]
        assert sumdb.read_tile_data(tile, HASHES_600) == b64d(case["data"]), case["path"]


def tile_of(d):
    return sumdb.Tile(d["H"], d["L"], d["N"], d["W"])


def test_tile_path_examples_from_tile_go_comments():
    assert sumdb.Tile(3, 4, 1234067, 1).path() == "tile/3/4/x001/x234/067.p/1"
    assert sumdb.Tile(3, 4, 1234067, 8).path() == "tile/3/4/x001/x234/067"
    assert sumdb.Tile(8, 0, 123456789, 256).path() == "tile/8/0/x123/x456/789"
    assert sumdb.Tile(8, -1, 0, 256).path() == "tile/8/data/000"


def test_tile_paths_match_go():
    for case in T["tile_paths"]:
        tile = tile_of(case)
        assert tile.path() == case["path"]
        assert sumdb.parse_tile_path(case["path"]) == tile


@pytest.mark.parametrize("case", T["parse_tile_path"], ids=lambda c: c["path"])
def test_parse_tile_path_errors_match_go(case):
    with pytest.raises(ValueError) as e:
        sumdb.parse_tile_path(case["path"])
    assert str(e.value) == case["error"]


def test_new_tiles_and_tile_for_index_match_go():
    for case in T["new_tiles"]:
        got = sumdb.new_tiles(case["h"], case["old"], case["new"])
        assert got == [tile_of(t) for t in case["tiles"] or []], case
    for case in T["tile_for_index"]:
        assert sumdb.tile_for_index(case["h"], case["index"]) == tile_of(case["tile"]), case


def test_record_proofs_match_go():
    for case in T["record_proofs"]:
        t, n = case["t"], case["n"]
        proof = sumdb.prove_record(t, n, HASHES_600)
        assert [sumdb.hash_b64(h) for h in proof] == (case["proof"] or [])
        th = sumdb.tree_hash(t, HASHES_600)
        leaf = sumdb.record_hash(T["records"][n].encode())
        assert sumdb.check_record(proof, t, th, n, leaf)
        assert not sumdb.check_record(proof, t, th, n, sumdb.record_hash(b"lie\n"))


def test_tree_proofs_match_go():
    for case in T["tree_proofs"]:
        t, n = case["t"], case["n"]
        proof = sumdb.prove_tree(t, n, HASHES_600)
        assert [sumdb.hash_b64(h) for h in proof] == (case["proof"] or [])
        th, h = sumdb.tree_hash(t, HASHES_600), sumdb.tree_hash(n, HASHES_600)
        assert sumdb.check_tree(proof, t, th, n, h)
        if n < t:
            assert not sumdb.check_tree(proof, t, th, n, sumdb.record_hash(b"x"))


def test_tree_note_and_record_format_match_go():
    tn = T["tree_note"]
    text = sumdb.format_tree(tn["n"], sumdb.tree_hash(tn["n"], HASHES_600))
    assert text.decode() == tn["text"]
    assert sumdb.sign_note(text, TEST_SKEY).decode() == tn["msg"]
    assert sumdb.parse_tree(text + b"extra line\n") == (tn["n"], sumdb.tree_hash(600, HASHES_600))
    with pytest.raises(ValueError):
        sumdb.parse_tree(b"go.sum database tree\n01\n" + text.split(b"\n")[2] + b"\n")
    fr = T["format_record"]
    msg = sumdb.format_record(fr["id"], fr["text"].encode())
    assert msg.decode() == fr["msg"]
    assert sumdb.parse_record(msg + b"rest") == (fr["id"], fr["text"].encode(), b"rest")
    for bad in (b"no newline", b"a\n\nb\n", b"tab\there\n"):
        with pytest.raises(ValueError):
            sumdb.format_record(1, bad)


# ---------------------------------------------------------------------------
# module escaping and dirhash
# ---------------------------------------------------------------------------

def test_escaping():
    # The escaping the database uses is gomod's (module.EscapePath & co).
    assert gomod.escape_path("github.com/Azure/SDK") == "github.com/!azure/!s!d!k"
    assert gomod.unescape_path("github.com/!azure/!s!d!k") == "github.com/Azure/SDK"
    for bad in ("github.com/Azure", "a!", "a!B", "caf\u00e9"):
        with pytest.raises(ValueError, match="invalid escaped module path"):
            gomod.unescape_path(bad)


def test_dirhash_matches_go():
    # The h1 hashes of the records are gomod's (dirhash.Hash1).
    d = V["dirhash"]
    files = [(name, data.encode()) for name, data in d["files"].items()]
    assert gomod.hash1(files) == d["h1"]
    assert gomod.hash1([("go.mod", d["gomod"].encode())]) == d["gomod_h1"]
    prefix = "example.com/x@v1.0.0/"
    rel = [(name[len(prefix):], data) for name, data in files]
    m = gomod.Module("example.com/x", "v1.0.0", rel)
    assert "".join(line + "\n" for line in m.gosum_lines()) == (
        "example.com/x v1.0.0 %s\nexample.com/x v1.0.0/go.mod %s\n" % (d["h1"], d["gomod_h1"]))
    # dirhash.HashZip: Hash1 over the zip's entries.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in d["files"].items():
            z.writestr(name, data)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        assert gomod.hash1((i.filename, z.read(i)) for i in z.infolist()) == d["h1"]


# ---------------------------------------------------------------------------
# SumDB server
# ---------------------------------------------------------------------------

S = V["server"]


def go_server_lookup(path, version):
    # Go's test server in gen_vectors.go fails unknown modules with
    # os.ErrNotExist, which server.go reports as 404 "file does not exist".
    lines = S["known"].get("%s@%s" % (path, version))
    return lines if lines is not None else sumdb.NotFound("file does not exist")


def test_server_matches_go_test_server_byte_for_byte():
    db = sumdb.SumDB(signer_key=S["signer"], lookup=go_server_lookup)
    assert db.verifier_key == S["vkey"]
    for ex in S["exchanges"]:
        status, ctype, body = db.handle(ex["path"])
        assert (status, ctype, body) == (ex["status"], ex["content_type"], b64d(ex["body"])), ex["path"]


def new_db(lookup=None):
    return sumdb.SumDB(TEST_NAME, TEST_SKEY, lookup=lookup)


def lines(path, version, h="h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="):
    return "%s %s %s\n%s %s/go.mod %s\n" % (path, version, h, path, version, h)


def test_unknown_module_answers_not_found():
    db = new_db()
    status, ctype, body = db.handle("/lookup/example.com/missing@v1.0.0")
    assert (status, ctype) == (404, "text/plain; charset=utf-8")
    assert body == b"not found: example.com/missing@v1.0.0: invalid version: unknown revision v1.0.0\n"
    assert len(db) == 0

    def gone(path, version):
        raise sumdb.NotFound("not found: %s@%s: gone" % (path, version), status=410)

    db.lookup = gone
    assert db.handle("/lookup/example.com/missing@v1.0.0") == (
        410, "text/plain; charset=utf-8", b"not found: example.com/missing@v1.0.0: gone\n")


def test_bad_escaping_is_500_like_server_go():
    # server.go: module.UnescapePath / UnescapeVersion errors go to reportError (500).
    calls = []
    db = new_db(lambda p, v: calls.append((p, v)))
    for path, msg in (
            ("example.com/!!x@v1.0.0", 'invalid escaped module path "example.com/!!x"'),
            ("example.com/Ab@v1.0.0", 'invalid escaped module path "example.com/Ab"'),
            ("nodot/x@v1.0.0", 'invalid escaped module path "nodot/x": malformed module path '
                               '"nodot/x": missing dot in first path element'),
            ("example.com/x@v1.0.0-!!", 'invalid escaped version "v1.0.0-!!"')):
        assert db.handle("/lookup/" + path) == (
            500, "text/plain; charset=utf-8", (msg + "\n").encode()), path
    assert calls == [] and len(db) == 0


def test_lookup_is_consulted_on_demand_only():
    calls = []

    def lookup(path, version):
        calls.append((path, version))
        return lines(path, version) if path != "example.com/missing" else None

    db = new_db(lookup)
    assert db.handle("/lookup/example.com/!a@v1.0.0")[0] == 200
    assert db.handle("/lookup/example.com/!a@v1.0.0")[0] == 200
    assert db.handle("/lookup/example.com/missing@v1.0.0")[0] == 404
    assert db.handle("/lookup/example.com/missing@v1.0.0")[0] == 404  # no negative cache
    assert calls == [("example.com/A", "v1.0.0")] + [("example.com/missing", "v1.0.0")] * 2
    assert db.find("example.com/A", "v1.0.0") == 0


def test_lookup_response_verifies_like_client_go():
    db = new_db()
    for i in range(300):
        db.add("example.com/m%d" % i, "v1.0.0", lines("example.com/m%d" % i, "v1.0.0"))
    status, ctype, body = db.handle("/lookup/example.com/m260@v1.0.0")
    assert (status, ctype) == (200, "text/plain; charset=UTF-8")
    rid, text, tree_msg = sumdb.parse_record(body)
    assert rid == 260 and text == lines("example.com/m260", "v1.0.0").encode()
    n, th = sumdb.parse_tree(sumdb.open_note(tree_msg, TEST_VKEY).text)
    assert n == 300
    # Authenticate the record through the served tiles, as client.go does.
    tiles = {}
    for tile in sumdb.new_tiles(8, 0, n):
        status, ctype, data = db.handle("/" + tile.path())
        assert (status, ctype) == (200, "application/octet-stream")
        assert len(data) == tile.W * 32
        tiles[tile.path()] = data
    # Level-0 tile 1 holds record 260; level-1 tile holds its parent hash.
    leaf_tile = tiles["tile/8/0/001.p/44"]
    assert leaf_tile[4 * 32:5 * 32] == sumdb.record_hash(text)
    # Recompute the signed tree hash from tile contents only: the complete
    # subtrees [0,256) (level-1 tile) and [256,288), [288,296), [296,300)
    # (hashed up from level-0 tile 1).
    def fold(hashes):
        while len(hashes) > 1:
            hashes = [sumdb.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    leaves = [leaf_tile[i:i + 32] for i in range(0, len(leaf_tile), 32)]
    top = tiles["tile/8/1/000.p/1"]
    right = sumdb.node_hash(fold(leaves[32:40]), fold(leaves[40:44]))
    assert sumdb.node_hash(top, sumdb.node_hash(fold(leaves[0:32]), right)) == th
    # Data tile: the records without their id lines.
    status, _, data = db.handle("/tile/8/data/001.p/44")
    assert status == 200 and data.split(b"\n\n")[4] + b"\n" == text


def test_tiles_old_partial_served_and_future_404():
    db = new_db()
    for i in range(5):
        db.add("example.com/m%d" % i, "v1.0.0", lines("example.com/m%d" % i, "v1.0.0"))
    full = db.handle("/tile/8/0/000.p/5")[2]
    assert db.handle("/tile/8/0/000.p/3")[2] == full[: 3 * 32]
    assert db.handle("/tile/8/0/000.p/6")[:2] == (404, "text/plain; charset=utf-8")
    assert db.handle("/tile/8/0/000")[0] == 404
    assert db.handle("/tile/8/1/000.p/1")[0] == 404
    assert db.handle("/tile/8/data/000.p/6")[0] == 404
    assert db.handle("/tile/8/data/000.p/5")[0] == 200


def test_proxy_form_and_requests_log():
    db = new_db(lambda p, v: lines(p, v))
    assert db.handle("/sumdb/%s/supported" % TEST_NAME)[0] == 200
    status, _, body = db.handle("/sumdb/%s/lookup/example.com/a@v1.0.0" % TEST_NAME)
    assert status == 200 and body.startswith(b"0\nexample.com/a v1.0.0 ")
    assert db.handle("/sumdb/other.example/supported")[0] == 404
    assert db.handle("/latest?x=1")[0] == 200
    assert db.requests == [
        "/sumdb/localhost.localdev/sumdb/supported",
        "/sumdb/localhost.localdev/sumdb/lookup/example.com/a@v1.0.0",
        "/sumdb/other.example/supported",
        "/latest",
    ]


def test_growth_is_consistent_and_rewrite_is_not():
    db = new_db()
    db.add("example.com/a", "v1.0.0", lines("example.com/a", "v1.0.0"))
    old_n, old_h = sumdb.parse_tree(sumdb.open_note(db.signed(), TEST_VKEY).text)
    for i in range(40):
        db.add("example.com/b", "v1.0.%d" % i, lines("example.com/b", "v1.0.%d" % i))
    n, h = sumdb.parse_tree(sumdb.open_note(db.signed(), TEST_VKEY).text)
    assert (old_n, n) == (1, 41)
    assert sumdb.check_tree(sumdb.prove_tree(n, old_n, db.hashes()), n, h, old_n, old_h)
    assert sumdb.open_note(db.signed(old_n), TEST_VKEY).text == sumdb.format_tree(1, old_h).decode()

    db.rewrite(0, lines("example.com/a", "v1.0.0", "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="))
    n2, h2 = sumdb.parse_tree(sumdb.open_note(db.signed(), TEST_VKEY).text)
    assert n2 == n and h2 != h
    assert not sumdb.check_tree(sumdb.prove_tree(n2, old_n, db.hashes()), n2, h2, old_n, old_h)


def test_add_rules():
    db = new_db()
    text = lines("example.com/a", "v1.0.0")
    assert db.add("example.com/a", "v1.0.0", text.rstrip("\n")) == 0
    assert db.add("example.com/a", "v1.0.0", text) == 0
    with pytest.raises(ValueError):
        db.add("example.com/a", "v1.0.0", lines("example.com/a", "v1.0.0", "h1:other="))
    with pytest.raises(ValueError):
        db.add("example.com/b", "v1.0.0", "a\n\nb\n")
    assert db.add_hashes("example.com/c", "v1.0.0", "h1:x=", "h1:y=") == 1
    assert db.record(1) == b"example.com/c v1.0.0 h1:x=\nexample.com/c v1.0.0/go.mod h1:y=\n"
    with pytest.raises(ValueError):
        sumdb.SumDB("other.name", TEST_SKEY)
    gen = sumdb.SumDB("fresh.example")
    assert gen.verifier_key.startswith("fresh.example+")
    assert gen.gosumdb("http://127.0.0.1:1") == gen.verifier_key + " http://127.0.0.1:1"


def test_sign_with_other_keys():
    db = new_db()
    other_skey, other_vkey = sumdb.generate_key("evil.example", b"\x01" * 32)
    db.sign_with(other_skey)
    with pytest.raises(sumdb.UnverifiedNoteError):
        sumdb.open_note(db.signed(), TEST_VKEY)
    assert sumdb.open_note(db.signed(), other_vkey)
    db.sign_with(other_skey, name=TEST_NAME, key_hash=0x00000C67)
    with pytest.raises(sumdb.InvalidSignatureError):
        sumdb.open_note(db.signed(), TEST_VKEY)
    db.sign_with(other_skey, also_own=True)
    note = sumdb.open_note(db.signed(), [TEST_VKEY])
    assert [s.name for s in note.unverified_sigs] == ["evil.example"]
    db.sign_with()
    assert sumdb.open_note(db.signed(), TEST_VKEY).sigs[0].name == TEST_NAME


def test_cli_keygen(capsys):
    assert sumdb.main(["keygen", "sum.example.test"]) == 0
    skey, vkey = capsys.readouterr().out.splitlines()
    assert skey.startswith("PRIVATE+KEY+sum.example.test+")
    assert sumdb.verifier_from_signer(skey) == vkey
    assert sumdb.main(["verifier", TEST_SKEY]) == 0
    assert capsys.readouterr().out.strip() == TEST_VKEY
    with contextlib.redirect_stderr(io.StringIO()):
        assert sumdb.main([]) == 2
