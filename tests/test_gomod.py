"""Unit tests for docker/upstream/gomod.py (no Docker).

The fixtures in tests/data/gomod/ are copies of Go's own test modules
(go1.27.3 src/cmd/go/testdata/mod, BSD licence); the expected hashes are the
go.sum lines for them found in src/cmd/go/testdata/script/*.txt (named next
to each vector). The last test also checks against a real go command when one
is available (GOTRAPS_HOST_GO, /tmp/gowheel/go/bin/go or go on PATH).
"""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docker" / "upstream"))

from upstreamlib import gomod  # noqa: E402
FixtureError = gomod.FixtureError

DATA = Path(__file__).resolve().parent / "data" / "gomod"


# ---------------------------------------------------------------------------
# txtar

def test_txtar_basic():
    ar = gomod.parse_txtar("comment line\nmore\n-- a.txt --\nA\n--  dir/b.go  --\nB1\nB2\n", "t.txt")
    assert ar.comment == "comment line\nmore\n"
    assert ar.files == [("a.txt", b"A\n"), ("dir/b.go", b"B1\nB2\n")]
    assert ar.lines == {"a.txt": 3, "dir/b.go": 5}


def test_txtar_go_semantics():
    # Final newline added when missing; empty files; lines that merely look
    # like markers stay content; a marker on the last line without newline.
    ar = gomod.parse_txtar(b"-- a --\n-- b --\nx\n--c --\n-- d--\n -- e --\n-- f --\nlast", "t")
    assert ar.comment == ""
    assert ar.files == [("a", b""), ("b", b"x\n--c --\n-- d--\n -- e --\n"), ("f", b"last\n")]
    ar = gomod.parse_txtar(b"-- a --\nx\n-- z --", "t")
    assert ar.files == [("a", b"x\n"), ("z", b"")]
    # CR inside content is kept; bytes stay bytes.
    ar = gomod.parse_txtar(b"-- a --\nx\r\n\xff\xfe\n", "t")
    assert ar.files == [("a", b"x\r\n\xff\xfe\n")]


@pytest.mark.parametrize("text,line,msg", [
    ("-- a --\n1\n-- b --\n-- a --\n", 4, "duplicate file name 'a' (first at line 1)"),
    ("c\n-- --\nx\n", 2, "empty file name"),
    ("-- x --\n--  --\n", 2, "empty file name"),
    ("just a comment\n", 1, "no files"),
    ("", 1, "no files"),
    ("-- a --\r\nx\r\n", 1, "ends in CR"),
    ("-- a\tb --\n", 1, "control character"),
    (b"-- a\xff --\n", 1, "not valid UTF-8"),
])
def test_txtar_errors(text, line, msg):
    with pytest.raises(FixtureError) as ei:
        gomod.parse_txtar(text, "some/file.txt")
    assert str(ei.value).startswith("some/file.txt:%d: " % line)
    assert msg in str(ei.value)
    assert isinstance(ei.value, ValueError)
    assert ei.value.line == line and ei.value.filename == "some/file.txt"


def test_format_txtar_round_trip():
    files = [("a", b"x\n-- not a marker\n"), ("empty", b""), ("b/c.go", "package c\n")]
    text = gomod.format_txtar("note", files)
    ar = gomod.parse_txtar(text, "t")
    assert ar.comment == "note\n"
    assert ar.files == [("a", b"x\n-- not a marker\n"), ("empty", b""), ("b/c.go", b"package c\n")]
    with pytest.raises(ValueError, match="newline"):
        gomod.format_txtar("", [("a", b"no newline")])
    with pytest.raises(ValueError, match="marker"):
        gomod.format_txtar("", [("a", b"-- b --\n")])
    m = gomod.Module("example.com/m", "v1.0.0", [("go.mod", b"module example.com/m\n")], mod=b"module example.com/m\n// x\n")
    m2 = gomod.Module.from_txtar(gomod.fixture_name(m.path, m.version), m.to_txtar())
    assert (m2.info, m2.mod, m2.h1()) == (m.info, m.mod, m.h1())


# ---------------------------------------------------------------------------
# names, escaping, semver

@pytest.mark.parametrize("name,want", [
    ("example.com_x_v1.0.0.txt", ("example.com/x", "v1.0.0")),
    ("example.com_v1.0.0.txt", ("example.com", "v1.0.0")),
    ("rsc.io_quote_v3_v3.0.0.txt", ("rsc.io/quote/v3", "v3.0.0")),
    ("example.com_!azure_x_v1.0.0-!r!c1.txt", ("example.com/Azure/x", "v1.0.0-RC1")),
    ("golang.org_x_text_v0.0.0-20170915032832-14c0d48ead0c.txt",
     ("golang.org/x/text", "v0.0.0-20170915032832-14c0d48ead0c")),
    ("example.com_inc_v2.0.0+incompatible.txt", ("example.com/inc", "v2.0.0+incompatible")),
    ("gopkg.in_yaml.v2_v2.2.1.txt", ("gopkg.in/yaml.v2", "v2.2.1")),
    ("example.com_vanity_v1.0.0.txt", ("example.com/vanity", "v1.0.0")),  # LAST _v
    ("/some/dir/example.com_x_v1.0.0.txt", ("example.com/x", "v1.0.0")),
    # Major version not matching the path: allowed (Go's fixtures have them).
    ("example.com_downgrade_v2.0.0.txt", ("example.com/downgrade", "v2.0.0")),
])
def test_fixture_id(name, want):
    assert gomod.fixture_id(name) == want
    assert gomod.fixture_name(*want) == os.path.basename(name)


@pytest.mark.parametrize("name,msg", [
    ("example.com_x.txt", "no _v<version>"),
    ("example.com_X_v1.0.0.txt", "invalid escaped module path"),  # must be !x
    ("example.com_!!x_v1.0.0.txt", "invalid escaped module path"),
    ("example_x_v1.0.0.txt", "missing dot in first path element"),
    ("example.com_invalidpath_v1_v1.0.0.txt", "invalid version"),
    ("example.com_x_v1.0.txt", "not canonical (should be v1.0.0)"),
    ("example.com_x_v1.0.0+build.txt", "not canonical"),
    ("example.com_x_v1.0.0-01.txt", "not a semantic version"),
    ("example.com_x_vfoo.txt", "not a semantic version"),
    ("example.com_x_v1.0.0-!.txt", "invalid escaped version"),
])
def test_fixture_id_errors(name, msg):
    with pytest.raises(FixtureError) as ei:
        gomod.fixture_id(name)
    assert str(ei.value).startswith(name + ": ")
    assert msg in str(ei.value)


def test_escaping():
    assert gomod.escape_path("github.com/Azure/azure-sdk") == "github.com/!azure/azure-sdk"
    assert gomod.unescape_path("github.com/!azure/azure-sdk") == "github.com/Azure/azure-sdk"
    assert gomod.escape_version("v1.0.0-RC1") == "v1.0.0-!r!c1"
    assert gomod.unescape_version("v1.0.0-!r!c1") == "v1.0.0-RC1"
    assert gomod.escape_path("rsc.io/quote") == "rsc.io/quote"
    for bad in ("github.com/!Azure", "github.com/Azure", "github.com/!", "github.com/!0"):
        with pytest.raises(ValueError):
            gomod.unescape_path(bad)
    for bad in ("", "/x", "x", "example.com/x/", "example.com//x", "example.com/.x",
                "example.com/x~1", "example.com/con", "-example.com/x", "exa_mple.com/x",
                "example.com/x y", "example.com/v1"):
        with pytest.raises(ValueError):
            gomod.escape_path(bad)
    with pytest.raises(ValueError):
        gomod.escape_version("v1.0.0!")


def test_check_file_path():
    for ok in ("a.go", "x/y/z.go", ".gitignore", "α.go", "a b.go", "-x.go", "x/Y.go"):
        gomod.check_file_path(ok)
    for bad, why in [("☺.go", "invalid char '☺'"), ("x?y.go", "invalid char '?'"),
                     ("a/../b", "invalid path element"), ("a//b", "double slash"),
                     ("aux.go", "disallowed as path element component on Windows"),
                     ("a/", "trailing slash"), ("a.", "trailing dot")]:
        with pytest.raises(ValueError) as ei:
            gomod.check_file_path(bad)
        assert why in str(ei.value)


def test_semver():
    order = ["v0.0.0-20170915032832-14c0d48ead0c", "v0.1.0", "v1.0.0-alpha", "v1.0.0-alpha.1",
             "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1",
             "v1.0.0", "v1.2.0", "v1.10.0", "v2.0.0+incompatible"]
    import random
    shuffled = order[:]
    random.Random(1).shuffle(shuffled)
    assert sorted(shuffled, key=gomod.semver_sort_key) == order
    assert gomod.semver_compare("v1.0.0+a", "v1.0.0+b") == 0
    assert gomod.semver_compare("bad", "v0.0.0") == -1
    assert gomod.semver_canonical("v1.2") == "v1.2.0"
    assert gomod.semver_canonical("v1.2.3+meta") == "v1.2.3"
    assert gomod.canonical_version("v2.0.0+incompatible") == "v2.0.0+incompatible"
    assert not gomod.semver_is_valid("v1.2.3-01")
    assert not gomod.semver_is_valid("1.2.3")
    for v in ("v0.0.0-20170915032832-14c0d48ead0c", "v1.2.4-0.20191109021931-daa7c04131f5",
              "v1.2.3-pre.0.20191109021931-daa7c04131f5", "v2.0.1-0.20191109021931-daa7c04131f5+incompatible"):
        assert gomod.is_pseudo_version(v), v
    for v in ("v1.0.0", "v1.0.0-pre", "v0.0.0-2017-abc", "v1.2.4-0.2019110902193-daa7c04131f5"):
        assert not gomod.is_pseudo_version(v), v
    assert gomod.pseudo_version_time("v1.2.4-0.20191109021931-daa7c04131f5") == "2019-11-09T02:19:31Z"
    assert gomod.major_version_ok("example.com/m/v2", "v2.1.0")
    assert gomod.major_version_ok("example.com/m", "v2.0.0+incompatible")
    assert not gomod.major_version_ok("example.com/m", "v2.0.0")
    assert not gomod.major_version_ok("example.com/m/v3", "v2.0.0")
    assert gomod.major_version_ok("gopkg.in/yaml.v2", "v2.2.1")


# ---------------------------------------------------------------------------
# hashes: vectors from Go's script tests

# (fixture file, expected h1, expected /go.mod h1, script test holding them)
GO_VECTORS = [
    ("rsc.io_quote_v1.5.2.txt", "h1:3fEykkD9k7lYzXqCYrwGAf7iNhbk4yCjHmKBN9td4L0=",
     "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=", "mod_download.txt"),
    ("rsc.io_sampler_v1.3.0.txt", "h1:HLGR/BgEtI3r0uymSP/nl2uPLsUnNJX8toRyhfpBTII=",
     "h1:T1hPZKmBbMNahiBKFy5HrXp6adAjACjK9JXDnKaTXpA=", "mod_download.txt"),
    ("golang.org_x_text_v0.0.0-20170915032832-14c0d48ead0c.txt",
     "h1:pvCbr/wm8HzDD3fVywevekufpn6tCGPY3spdHeZJEsw=",
     "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=", "mod_download.txt"),
    ("golang.org_x_text_v0.3.0.txt", "h1:ivTorhoiROmZ1mcs15mO2czVF0uy0tnezXpBVNzgrmA=",
     "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=", "mod_concurrent.txt"),
    ("example.com_dotname_v1.0.0.txt", "h1:Q0JMAn464CnwFVCshs1n4+f5EFiW/eRhnx/fTWjw2Ag=",
     "h1:7K4VLT7QylRI8H7yZwUkeDH2s19wQnyfp/3oBlItWJ0=", "mod_invalid_path_dotname.txt"),
    ("example.com_badchain_a_v1.0.0.txt", "h1:iJDLiHLmpQgr9Zrv+44UqywAE2IG6WkHnH4uG08vf+s=",
     "h1:6/gnCYHdVrs6mUgatUYUSbuHxEY+/yWedmTggLz23EI=", "mod_load_badchain.txt"),
    ("example.com_retract_v1.0.0-bad.txt", "h1:liAW69rbtjY67x2CcNzat668L/w+YGgNX3lhJsWIJis=",
     "h1:0DvGGofJ9hr1q63cBrOY/jSY52OwhRGA0K47NE80I5Y=", "mod_retract.txt"),
    ("example.com_ambiguous_a_b_v0.0.0-empty.txt", "h1:xS29ReXXuhjT7jc79mo91h/PevaZ2oS9PciF1DucXtg=",
     "h1:MajJq5jPEBnnXP+NTWIeXX7kwaPS1sbVEJdooTmsePQ=", "mod_sum_ambiguous.txt"),
    ("rsc.io_testonly_v1.0.0.txt", "h1:K/VWHdO+Jv7woUXG0GzVNx1czBXUt3Ib1deaMn+xk64=",
     "h1:OqmGbIFOcF+XrFReLOGZ6BhMM7uMBiQwZsyNmh74SzY=", "mod_get_missing_ziphash.txt"),
    ("example.com_v1.0.0.txt", None, "h1:WRiieAqDBb1hVdDXLLdxNtCDWNfehn7FWyPC5Oz2vB4=",
     "mod_vendor_unused_only.txt"),
    ("rsc.io_quote_v3_v3.0.0.txt", None, "h1:yEA65RcK8LyAZtP9Kv3t0HmxON59tX3rD+tICJqUlj0=",
     "mod_vendor_replace.txt"),
]


@pytest.mark.parametrize("fname,h1,h1mod,script", GO_VECTORS, ids=[v[0] for v in GO_VECTORS])
def test_h1_go_vectors(fname, h1, h1mod, script):
    m = gomod.Module.from_file(DATA / fname)
    if h1:
        assert m.h1() == h1
    assert m.h1_mod() == h1mod
    lines = m.gosum_lines()
    assert lines[0] == "%s %s %s" % (m.path, m.version, m.h1())
    assert lines[1] == "%s %s/go.mod %s" % (m.path, m.version, h1mod)


def test_h1_matches_zip_contents():
    # dirhash.HashZip over the served zip must equal h1().
    for m in gomod.load_modules(DATA).values():
        z = zipfile.ZipFile(io.BytesIO(m.zip_bytes()))
        assert gomod.hash1((i.filename, z.read(i)) for i in z.infolist()) == m.h1()


def test_zip_layout_deterministic():
    text = "-- z.go --\nz\n-- a/b.go --\nb\n-- go.mod --\nmodule example.com/m\n-- .info --\n{}\n"
    m = gomod.Module.from_txtar("example.com_m_v1.2.3.txt", text)
    data = m.zip_bytes()
    assert data == gomod.Module.from_txtar("example.com_m_v1.2.3.txt", text).zip_bytes()
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.namelist() == ["example.com/m@v1.2.3/a/b.go", "example.com/m@v1.2.3/go.mod",
                            "example.com/m@v1.2.3/z.go"]
    assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert z.read("example.com/m@v1.2.3/a/b.go") == b"b\n"
    assert z.testzip() is None


def test_info_and_mod_defaults():
    m = gomod.Module.from_txtar("example.com_m_v1.0.0.txt", "-- m.go --\npackage m\n")
    assert json.loads(m.info) == {"Version": "v1.0.0", "Time": "2020-01-01T00:00:00Z"}
    assert m.mod == b"module example.com/m\n"  # modfetch.LegacyGoMod
    m = gomod.Module.from_txtar("example.com_m_v0.0.0-20230102030405-abcdefabcdef.txt", "-- m.go --\n")
    assert json.loads(m.info)["Time"] == "2023-01-02T03:04:05Z"
    m = gomod.Module.from_txtar("example.com_m_v1.0.0.txt", "-- go.mod --\nmodule example.com/m\n\ngo 1.22\n")
    assert m.mod == b"module example.com/m\n\ngo 1.22\n"
    # A .mod section wins over the zip's go.mod, and stays out of the zip.
    m = gomod.Module.from_txtar("example.com_m_v1.0.0.txt",
                                "-- .mod --\nmodule example.com/m // served\n-- .info --\n{\"Version\":\"v1.0.0\"}\n"
                                "-- go.mod --\nmodule example.com/m\n")
    assert m.mod == b"module example.com/m // served\n"
    assert m.info == b'{"Version":"v1.0.0"}\n'
    assert [n for n, _ in m.zip_files()] == ["example.com/m@v1.0.0/go.mod"]
    assert m.h1_mod() == gomod.hash1([("go.mod", m.mod)])
    m = gomod.Module.from_txtar("example.com_m_v1.0.0.txt", "-- .mod --\nmodule example.com/m\n")
    assert m.zip_files() == [] and m.zip_bytes()  # empty module zip is fine


# Error texts from Go's script test mod_bad_filenames.txt.
@pytest.mark.parametrize("fname,msg", [
    ("rsc.io_badfile2_v1.0.0.txt", 'malformed file path "☺.go": invalid char \'☺\''),
    ("rsc.io_badfile3_v1.0.0.txt", 'x?y.go: malformed file path "x?y.go": invalid char \'?\''),
    ("rsc.io_badfile4_v1.0.0.txt", 'x/y.go: case-insensitive file name collision: "x/Y.go" and "x/y.go"'),
    ("rsc.io_badfile5_v1.0.0.txt", 'x/Y/zz/ww.go: case-insensitive file name collision: "x/y" and "x/Y"'),
])
def test_go_bad_fixtures(fname, msg):
    with pytest.raises(FixtureError) as ei:
        gomod.Module.from_file(DATA / "bad" / fname)
    assert str(ei.value).startswith(fname + ":1")  # file and marker line
    assert msg in str(ei.value)


def _err(text, name="example.com_m_v1.0.0.txt"):
    with pytest.raises(FixtureError) as ei:
        gomod.Module.from_txtar(name, text)
    return str(ei.value)


def test_zip_rule_errors():
    assert _err("-- a.go --\n-- x --\n-- A.GO --\n") == \
        'example.com_m_v1.0.0.txt:3: A.GO: case-insensitive file name collision: "a.go" and "A.GO"'
    assert "entry \"x\" is both a file and a directory" in _err("-- x --\n-- x/y --\n")
    assert "file path is not clean" in _err("-- ./a.go --\n")
    assert "file path is not clean" in _err("-- a/../b.go --\n")
    assert "not relative" in _err("-- /abs.go --\n")
    assert "go.mod files must have lowercase names" in _err("-- GO.MOD --\n")
    assert "sub/go.mod: file is in another module" in _err("-- go.mod --\n-- sub/go.mod --\n")
    assert "sub/x.go: file is in another module" in _err("-- sub/x.go --\n-- sub/go.mod --\n")
    assert "vendor/a/b.go: file is in vendor directory" in _err("-- vendor/a/b.go --\n")
    assert "hg archive" in _err("-- .hg_archival.txt --\n")
    assert "'.zip' section is not supported" in _err("-- .zip --\n")
    # Case folding beyond ASCII: Kelvin sign K folds with k.
    assert "collision" in _err("-- \u212a.go --\n-- k.go --\n")


def test_vendor_rules_depend_on_go_version():
    # vendor/modules.txt is kept for go < 1.24 and dropped (so: an error) from 1.24.
    gomod.Module.from_txtar("example.com_m_v1.0.0.txt", "-- go.mod --\nmodule example.com/m\ngo 1.23\n"
                            "-- vendor/modules.txt --\n-- vendor/x.go --\n")
    assert "vendor/modules.txt" in _err("-- go.mod --\nmodule example.com/m\ngo 1.24.0\n-- vendor/modules.txt --\n")
    # "pkg/vendor/vendor.go": omitted before go1.24 (golang.org/issue/37397), kept after.
    assert "pkg/vendor/vendor.go: file is in vendor directory" in _err("-- pkg/vendor/vendor.go --\n")
    gomod.Module.from_txtar("example.com_m_v1.0.0.txt", "-- go.mod --\nmodule example.com/m\ngo 1.24\n"
                            "-- pkg/vendor/vendor.go --\n")


def test_size_limits(monkeypatch):
    big = "-- go.mod --\n" + "x" * (gomod.MAX_GO_MOD + 1) + "\n"
    assert "go.mod: go.mod file too large (max size is 16777216 bytes)" in _err(big)
    monkeypatch.setattr(gomod, "MAX_LICENSE", 10)
    assert "LICENSE: LICENSE file too large" in _err("-- LICENSE --\n0123456789\n")
    monkeypatch.setattr(gomod, "MAX_ZIP_NAME", 30)
    assert "zip entry name longer than 30 bytes" in _err("-- abcdefghijkl.go --\n")
    monkeypatch.setattr(gomod, "MAX_ZIP_FILE", 100)
    assert "b: module source tree too large (max size is 100 bytes)" in _err(
        "-- a --\n" + "a" * 60 + "\n-- b --\n" + "b" * 60 + "\n")


def test_load_modules(tmp_path):
    for f in DATA.glob("*.txt"):
        shutil.copy(f, tmp_path)
    (tmp_path / "README").write_text("not a fixture")
    (tmp_path / "x.txt.tmp").write_text("not a fixture")
    mods = gomod.load_modules(tmp_path)
    assert ("rsc.io/quote", "v1.5.2") in mods
    assert len(mods) == len(list(DATA.glob("*.txt")))
    shutil.copy(DATA / "bad" / "rsc.io_badfile3_v1.0.0.txt", tmp_path)
    (tmp_path / "nonsense.txt").write_text("-- a --\n")
    with pytest.raises(FixtureError):
        gomod.load_modules(tmp_path)
    mods2, errors = gomod.scan_modules(tmp_path)
    assert len(mods2) == len(mods)
    assert sorted(e[0] for e in errors) == ["nonsense.txt", "rsc.io_badfile3_v1.0.0.txt"]
    assert gomod.scan_modules(tmp_path / "missing") == ({}, [])


# ---------------------------------------------------------------------------
# end to end with a real go command

def _find_go():
    for cand in (os.environ.get("GOTRAPS_HOST_GO"), "/tmp/gowheel/go/bin/go", shutil.which("go")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.mark.skipif(_find_go() is None, reason="no go command on the host")
def test_real_go_agrees(tmp_path):
    import goproxy

    state = tmp_path / "state"
    (state / "modules").mkdir(parents=True)
    for f in ("rsc.io_quote_v1.5.2.txt", "example.com_dotname_v1.0.0.txt"):
        shutil.copy(DATA / f, state / "modules")
    extra = {
        "example.com_x_v1.0.0.txt": "-- go.mod --\nmodule example.com/x\n\ngo 1.21\n-- x.go --\npackage x\n"
                                    "-- LICENSE --\nMIT\n-- sub/y.go --\npackage sub\n-- .gitignore --\n*.o\n",
        "example.com_!upper_m_v1.0.0-!r!c1.txt": "-- go.mod --\nmodule example.com/Upper/m\n-- m.go --\npackage m\n",
        "example.com_inc_v2.0.0+incompatible.txt": "-- inc.go --\npackage inc\n",
        "example.com_ps_v0.0.0-20230102030405-abcdefabcdef.txt": "-- ps.go --\npackage ps\n",
        "example.com_uni_v1.0.0.txt": "-- go.mod --\nmodule example.com/uni\n-- α/β.go --\npackage β\n-- a b.go --\npackage uni\n",
    }
    for name, text in extra.items():
        (state / "modules" / name).write_text(text, encoding="utf-8")
    mods = gomod.load_modules(state / "modules")
    env = dict(os.environ, GOSUMDB="off", GOFLAGS="-mod=mod", GOPATH=str(tmp_path / "gopath"),
               GOTOOLCHAIN="local", GOENV="off", GONOSUMDB="", GOPRIVATE="", GONOPROXY="",
               GOMODCACHE=str(tmp_path / "gopath" / "pkg" / "mod"))
    with goproxy.GoProxy(state) as srv:
        env["GOPROXY"] = srv.url("").rstrip("/")
        args = ["%s@%s" % k for k in sorted(mods)]
        out = subprocess.run([_find_go(), "mod", "download", "-json"] + args, env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    dec = json.JSONDecoder()
    got, s = {}, out.stdout.strip()
    while s:
        obj, i = dec.raw_decode(s)
        got[(obj["Path"], obj["Version"])] = (obj["Sum"], obj["GoModSum"])
        s = s[i:].strip()
    assert got == {k: (m.h1(), m.h1_mod()) for k, m in mods.items()}
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path / "gopath")], check=False)
