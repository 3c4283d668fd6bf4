"""Unit tests for the checksum DB attacks (docker/upstream/upstreamlib/sumdb_attacks/, the proxy's side), the DB's
fill.json (sumdbrole.py), the host's API (Upstream.sumdb_attack, ChecksumDB.fill) and the report's table
(fixtures/record/attacks.py). In-process: each attack runs against a real sumdb.SumDB; no Docker, no Go."""
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

UPSTREAM = Path(__file__).resolve().parent.parent / "docker" / "upstream"
sys.path.insert(0, str(UPSTREAM))

import goproxy  # noqa: E402
import sumdbrole  # noqa: E402
from fixtures.record import attacks  # noqa: E402
from fixtures.record.line import ResultLine  # noqa: E402
from fixtures.world import upstream  # noqa: E402
from fixtures.world.upstream import ChecksumDB, Upstream  # noqa: E402
from tests.test_sumdb_role import DATA, QUOTE, SKEY as ROLE_SKEY, VKEY as ROLE_VKEY, get, real_lines  # noqa: E402
from upstreamlib import sumdb, sumdb_attacks  # noqa: E402

NAME = "sum.corp.test"
SKEY, VKEY = sumdb.generate_key(NAME, b"\x05" * 32)
TARGET, DECOY = "example.com/lib@v1.0.0", "example.com/util@v1.0.0"
GENUINE = "example.com/lib v1.0.0 h1:GENUINEGENUINEGENUINEGENUINEGENUINEGENUINEGE=\n" \
          "example.com/lib v1.0.0/go.mod h1:MODMODMODMODMODMODMODMODMODMODMODMODMODMODM=\n"
TAMPERED = GENUINE.replace("GENUINE", "TAMPERD")


def filled_db():
    """The DB as a scenario fills it: the target and the decoy first, then fillers to TREE_SIZE."""
    db = sumdb.SumDB(signer_key=SKEY)
    db.add("example.com/lib", "v1.0.0", GENUINE)
    db.add("example.com/util", "v1.0.0", "example.com/util v1.0.0 h1:UTIL=\nexample.com/util v1.0.0/go.mod h1:UM=\n")
    for i in range(sumdb_attacks.TREE_SIZE - 2):
        db.add("gotraps.test/filler", "v0.0.%d" % i, sumdb.filler_lines(i))
    return db


def context(name, db):
    config = {"attack": name, "db": NAME, "module": TARGET, "decoy": DECOY, "signer": SKEY}
    return sumdb_attacks.Context(sumdb_attacks.parse_config(config), TAMPERED, lambda rest: db.handle("/" + rest))


LOOKUP = "lookup/example.com/lib@v1.0.0"


def test_registry_and_unknown_names():
    assert sumdb_attacks.ATTACKS[:2] == ("empty_lookup", "unrelated_record")
    assert {"forged_tile", "fork", "corrupt_latest", "stale_latest"} <= set(sumdb_attacks.ATTACKS)
    with pytest.raises(ValueError, match=r"unknown checksum DB attack 'nope' \(known: empty_lookup, "):
        sumdb_attacks.get("nope")
    with pytest.raises(ValueError, match="unknown checksum DB attack"):
        sumdb_attacks.parse_config({"attack": "nope", "db": NAME, "module": TARGET, "decoy": DECOY})
    # the host's call fails before it touches a container
    with pytest.raises(ValueError, match="known: empty_lookup"):
        Upstream.sumdb_attack(object.__new__(Upstream), "nope")
    assert "| `fork` |" in sumdb_attacks.markdown_table()


@pytest.mark.parametrize("config, reason", [
    ([], "null or a JSON object"),
    ({"attack": "fork", "db": NAME, "module": TARGET, "decoy": DECOY}, "signs tree notes"),
    ({"attack": "empty_lookup", "db": NAME, "module": "example.com/lib", "decoy": DECOY}, "<path>@<version>"),
    ({"attack": "empty_lookup", "db": "", "module": TARGET, "decoy": DECOY}, '"db"'),
    ({"attack": "empty_lookup", "db": NAME, "module": TARGET, "decoy": DECOY, "extra": 1}, "unknown keys"),
])
def test_bad_configs(config, reason):
    with pytest.raises(ValueError, match=reason):
        sumdb_attacks.parse_config(config)
    assert sumdb_attacks.parse_config(None) is None


def test_empty_lookup_and_unrelated_record():
    db = filled_db()
    assert context("empty_lookup", db).serve(LOOKUP) == (200, sumdb_attacks.TEXT, b"")
    assert context("empty_lookup", db).serve("tile/8/0/000") is None       # everything else: forwarded
    _, _, body = context("unrelated_record", db).serve(LOOKUP)
    rid, text, _ = sumdb.parse_record(body)
    assert (rid, text.startswith(b"example.com/util v1.0.0 ")) == (1, True)


def test_lines_after_note_and_in_record():
    db = filled_db()
    _, _, body = context("lines_after_note", db).serve(LOOKUP)
    assert body.endswith(TAMPERED.encode()) and body.startswith(db.handle("/" + LOOKUP)[2])
    _, _, body = context("lines_in_record", db).serve(LOOKUP)
    rid, text, note = sumdb.parse_record(body)
    assert rid == 0 and text == TAMPERED.encode().split(b"\n")[0] + b"\n" + GENUINE.encode()
    sumdb.open_note(note, VKEY)          # the genuine signed note


def test_forged_tile():
    db = filled_db()
    ctx = context("forged_tile", db)
    _, _, body = ctx.serve(LOOKUP)
    rid, text, note = sumdb.parse_record(body)
    assert (rid, text, note) == (0, TAMPERED.encode(), db.signed())
    _, _, tile = ctx.serve("tile/8/0/000")
    genuine = db.read_tile(sumdb.Tile(8, 0, 0, 256))
    assert tile[:32] == sumdb.record_hash(TAMPERED.encode()) and tile[32:] == genuine[32:]
    assert ctx.serve("tile/8/0/001.p/3") is None and ctx.serve("tile/8/1/000.p/1") is None


def test_fork_and_corrupt_latest():
    db = filled_db()
    ctx = context("fork", db)
    assert ctx.serve("tile/8/0/000") is None          # honest until the target's lookup (the primer's tiles)
    _, _, body = ctx.serve(LOOKUP)
    rid, text, note = sumdb.parse_record(body)
    n, h = sumdb.parse_tree(sumdb.open_note(note, VKEY).text)      # signed with the DB's key...
    assert (rid, text, n) == (0, TAMPERED.encode(), len(db)) and h != db.tree_hash()   # ...a tree not the log's
    _, _, tile = ctx.serve("tile/8/0/000")            # from then on, tiles of the forked tree
    assert tile[:32] == sumdb.record_hash(TAMPERED.encode())
    assert sumdb_attacks.REGISTRY["corrupt_latest"].serve is sumdb_attacks.REGISTRY["fork"].serve
    assert sumdb_attacks.REGISTRY["fork"].prime and not sumdb_attacks.REGISTRY["corrupt_latest"].prime


def test_stale_latest():
    db = filled_db()
    _, _, body = context("stale_latest", db).serve(LOOKUP)
    rid, text, note = sumdb.parse_record(body)
    assert sumdb.parse_tree(sumdb.open_note(note, VKEY).text) == (1, db.tree_hash(1))      # the log, older
    assert (rid, text) == (0, TAMPERED.encode())


def test_tree_size_leaves_a_tile_unchecked_by_the_old_reader():
    """TREE_SIZE's reason, computed: the tree hashes (stx) of a 259-record tree sit in 2 tiles, so the tile of
    record 0 is the 3rd tile asked for, at an index below len(stx) = 3."""
    n = sumdb_attacks.TREE_SIZE
    sizes, start = [], 0
    while start < n:                       # subTreeIndex: the largest power-of-two subtrees, left to right
        k = 1 << ((n - start).bit_length() - 1)
        sizes.append(k)
        start += k
    tiles = {(0 if k < 256 else 1) for k in sizes}
    assert len(sizes) == 3 and len(tiles) == 2


def test_fill_json(monkeypatch):
    assert sumdbrole.parse_fill({"first": [TARGET], "size": 259}) == ([("example.com/lib", "v1.0.0")], 259)
    for bad in ({"first": ["nope"]}, {"size": -1}, {"size": True}, [], {"first": [TARGET], "other": 1}):
        with pytest.raises(ValueError):
            sumdbrole.parse_fill(bad)
    written = {}
    monkeypatch.setattr(upstream, "put_files", lambda container, files: written.update(files))
    ChecksumDB.fill(SimpleNamespace(container=None), [TARGET])
    assert json.loads(written["/srv/state/sumdb/fill.json"]) == {"first": [TARGET], "size": sumdb_attacks.TREE_SIZE}
    assert sumdb.filler_lines(3).startswith("gotraps.test/filler v0.0.3 h1:")


def line(release, target, facts, family=attacks.FAMILY):
    return ResultLine(nodeid=f"scenarios/test_sumdb_attacks.py::test_sumdb_attacks[go{release}-{target}]",
                      release=release, family=family, params={"target": target, "go_release": release},
                      facts=facts, outcome="passed")


def test_report_table():
    refused = {"accepted": False, "error_line": "checksum missing from sumdb response", "lasting": False}
    lines = [line("1.25.5", "module zip", {"attack unrelated_record": {"accepted": True, "lasting": False},
                                           "attack corrupt_latest": {"accepted": True, "lasting": True}}),
             line("1.27.3", "module zip", {"attack unrelated_record": refused,
                                           "attack corrupt_latest": {"accepted": True, "lasting": True}}),
             line("1.27.3", "toolchain", {"attack unrelated_record": refused}),
             line("1.27.3", "module zip", {"attack unrelated_record": {"accepted": True}}, family="sumdb")]
    rows = attacks.section(lines, ["1.25.5", "1.27.3"])
    assert [(r["target"], r["attack"], r["cells"]) for r in rows] == [
        ("module zip", "unrelated_record", ["accepted", "refused"]),
        ("module zip", "corrupt_latest", ["accepted, lasting", "accepted, lasting"]),
        ("toolchain", "unrelated_record", ["?", "refused"])]
    assert rows[0]["errors"] == ["", "checksum missing from sumdb response"]
    text = attacks.table(lines, ["1.25.5", "1.27.3"])
    assert text.splitlines()[0] == "| target | attack | go1.25.5 | go1.27.3 |"
    assert "| module zip | `unrelated_record` | accepted | refused |" in text
    assert attacks.table([], ["1.27.3"]) == ""


def test_record_checks_names():
    case = SimpleNamespace(facts={}, fact=lambda **kw: case.facts.update(kw))
    attacks.record(case, {"fork": {"accepted": False}})
    assert case.facts == {"attack fork": {"accepted": False}}
    with pytest.raises(ValueError, match="unknown attacks"):
        attacks.record(case, {"nope": {}})
    assert json.dumps(case.facts)


# --- through the real roles, in process: the DB's fill.json and the proxy's sumdb-attack.json -------------------

@pytest.fixture
def roles(tmp_path):
    """The sumdb role (signing with test_sumdb_role's key, knowing rsc.io/quote) and a GOPROXY serving a tampered
    rsc.io/quote and proxying the DB."""
    st = tmp_path / "db"
    (st / "modules").mkdir(parents=True)
    (st / "sumdb").mkdir()
    shutil.copy(DATA / QUOTE, st / "modules")
    (st / "sumdb" / "signer").write_text(ROLE_SKEY + "\n")
    db = sumdbrole.SumDBRole(st).start()
    px = tmp_path / "px"
    (px / "modules").mkdir(parents=True)
    (px / "modules" / QUOTE).write_text((DATA / QUOTE).read_text().replace("Hello, world.", "Hello, tampered."))
    (px / "sumdb-proxy.json").write_text(json.dumps({NAME: db.url("/")}))
    proxy = goproxy.GoProxy(px).start()
    yield st, db, px, proxy
    proxy.stop()
    db.stop()


def test_roles_fill_and_attack(roles):
    st, db, px, proxy = roles
    (st / "sumdb" / "fill.json").write_text(json.dumps({"first": ["rsc.io/quote@v1.5.2"], "size": 259}))
    pre = "/sumdb/%s/" % NAME
    status, _, body = get(proxy.port, pre + "lookup/rsc.io/quote@v1.5.2")        # honest: no attack yet
    rid, text, note = sumdb.parse_record(body)
    assert (status, rid, text.decode()) == (200, 0, real_lines())
    assert sumdb.parse_tree(sumdb.open_note(note, ROLE_VKEY).text)[0] == 259   # filled before that request
    config = {"attack": "forged_tile", "db": NAME, "module": "rsc.io/quote@v1.5.2", "decoy": "rsc.io/quote@v1.5.2"}
    (px / "sumdb-attack.json").write_text(json.dumps(config))
    _, _, body = get(proxy.port, pre + "lookup/rsc.io/quote@v1.5.2")
    _, tampered, _ = sumdb.parse_record(body)
    assert tampered != text and tampered.startswith(b"rsc.io/quote v1.5.2 h1:")    # the lines of what it serves
    assert get(proxy.port, pre + "tile/8/0/000")[2][:32] == sumdb.record_hash(tampered)
    (px / "sumdb-attack.json").write_text(json.dumps({**config, "attack": "nope"}))
    status, _, body = get(proxy.port, pre + "tile/8/0/000")
    assert status == 500 and b"unknown checksum DB attack 'nope'" in body
    (px / "sumdb-attack.json").write_text("null")
    assert get(proxy.port, pre + "tile/8/0/000")[2][:32] == sumdb.record_hash(text)      # honest again
    (st / "sumdb" / "fill.json").write_text(json.dumps({"first": ["example.com/nope@v1.0.0"]}))
    status, _, body = get(db.port, "/latest")
    assert status == 500 and b"fill.json: not found: example.com/nope@v1.0.0" in body


def test_table_from_a_run_directory(tmp_path, capsys):
    """`python -m fixtures.record.attacks RUN`: the lead's note gets the table from a run's results lines."""
    run = tmp_path / "20260101-000000-abcdef"
    run.mkdir()
    facts = {"attack forged_tile": {"accepted": True, "lasting": False}}
    (run / "results.jsonl").write_text(json.dumps({
        "schema": 2, "nodeid": "scenarios/test_sumdb_attacks.py::test_sumdb_attacks[go1.26.3-toolchain]",
        "family": "sumdb_attacks", "go_release": "1.26.3", "params": {"target": "toolchain", "go_release": "1.26.3"},
        "outcome": "passed", "facts": facts}) + "\n")
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "releases": ["1.26.3"], "finished": 1}))
    assert attacks.main([str(run)]) == 0
    assert "| toolchain | `forged_tile` | accepted |" in capsys.readouterr().out
