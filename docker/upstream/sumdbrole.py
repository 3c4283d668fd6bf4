"""The sumdb role: a Go checksum database (sumdb.SumDB) behind httpfault.

State directory (the harness writes these files; the role never does):

  state/sumdb/signer     The signer key ("PRIVATE+KEY+<name>+<hash>+<key>"),
                         read once at start. Required: without it (or with an
                         unparsable key) start() raises httpfault.StartupError
                         and serve.py exits with status 2 and the reason. The
                         database name is the key's name; go is told the
                         verifier key (sumdb.verifier_from_signer()).
  state/modules/*.txt    Module fixtures, the same files and rescan-on-change
                         rule as the goproxy role. A lookup of path@version
                         logs that fixture's real go.sum lines, exactly as go
                         computes them (gomod.Module.gosum_lines(): the zip h1
                         line and the /go.mod h1 line). A fixture that fails
                         to load answers 500 with the error. Unknown module or
                         version: 404 "not found: <mod>@<ver>: invalid version:
                         unknown revision <ver>", like sum.golang.org.
  state/prebuilt/...     A prebuilt module version's go.sum lines, in the
                         .gosum file beside its .zip (goproxy.prebuilt_file):
                         computed by the host from the zip and .mod it built.
  state/sumdb/lies.json  {"<path>@<version>": "<go.sum lines, newline-
                         terminated>"}: what the database records INSTEAD of
                         the real lines (checksum-mismatch scenarios). Lies win
                         over fixtures, and need no fixture.
  state/sumdb/sign.json  {"signer": "<another signer key>",
                          "name": "<claimed name>"        (optional),
                          "key_hash": int | "8 hex digits" (optional, claimed),
                          "also_own": bool                 (optional, false)}
                         Tree notes are signed with that key from now on (an
                         interception), written under the claimed name/hash
                         if given; also_own keeps the genuine signature too.
                         Absent: normal signing. See SumDB.sign_with().

  state/sumdb/fill.json  {"first": ["<path>@<version>", ...], "size": N}: log
                         these module versions now, in this order (their
                         records as a lookup would log them), then filler
                         records (gotraps.test/filler v0.0.<i>, made-up
                         hashes) until the log holds N records. Applied
                         once per change of the file, before the request
                         that sees it: the records a scenario needs at
                         known ids, in a tree of a chosen size (the
                         checksum DB attacks, upstreamlib/sumdb_attacks).

lies.json, sign.json and fill.json are re-read whenever they change (like faults.json):
a file that is not valid JSON (half written) is ignored and the previous
content stays in force; valid JSON of the wrong shape makes every request
answer 500 with the reason, so a typo cannot silently disable a scenario.
Deleting a file restores the default.

A record is immutable once logged. The database logs path@version the first
time anyone looks it up (real lines or the lie in force at that moment) and
never changes it afterwards, as a real checksum database would: a lie must be
in place BEFORE the first lookup of that module version (tests write
lies.json before running go). A lie that arrives too late is reported on
stderr and has no effect.

Paths served (sumdb.SumDB.handle, like golang.org/x/mod/sumdb/server.go):
/lookup/<mod>@<ver>, /tile/8/<L>/<NNN>[.p/<W>], /tile/8/data/..., /latest,
and the same under /sumdb/<name>/ (with /sumdb/<name>/supported -> 200), so a
GOPROXY that simply forwards /sumdb/<name>/... here works either way. Faults
and the request log apply as for every role.

Import-wise: sumdb.py stays a pure module (no httpfault); this file is the
glue. Needs `cryptography` (python3-cryptography in the image).
"""

import json
import os
import re
import threading

import goproxy  # ModuleSet: the fixtures, as the GOPROXY role loads them
from upstreamlib import sumdb
from httpfault import JSONFile, Response, StartupError, Upstream, text_response

CT_ERROR = "text/plain; charset=utf-8"


def parse_lies(data):
    """lies.json -> {(path, version): record text bytes}."""
    if not isinstance(data, dict):
        raise ValueError('must hold a JSON object {"<path>@<version>": "<go.sum lines>"}')
    out = {}
    for key, text in data.items():
        path, at, version = key.partition("@")
        if not at or not path or not version:
            raise ValueError("key %r is not <path>@<version>" % key)
        if not isinstance(text, str):
            raise ValueError("value for %r is not a string" % key)
        raw = text.encode("utf-8")
        if not raw.endswith(b"\n"):
            raw += b"\n"
        if not sumdb.is_valid_record_text(raw):
            raise ValueError("value for %r is not valid record text (no blank lines, "
                             "no control characters): %r" % (key, text))
        out[(path, version)] = raw
    return out


def parse_fill(data):
    """fill.json -> ([(path, version)...], size)."""
    if not isinstance(data, dict) or set(data) - {"first", "size", "comment"}:
        raise ValueError('must hold a JSON object {"first": ["<path>@<version>", ...], "size": N}')
    first = data.get("first", [])
    if not isinstance(first, list) or not all(isinstance(m, str) and m.count("@") == 1 and all(m.split("@"))
                                               for m in first):
        raise ValueError('"first" must list "<path>@<version>" strings')
    size = data.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError('"size" must be an integer >= 0')
    return [tuple(m.split("@")) for m in first], size


def parse_sign(data):
    """sign.json -> kwargs for SumDB.sign_with()."""
    if not isinstance(data, dict):
        raise ValueError('must hold a JSON object {"signer": ..., "name"?, "key_hash"?, "also_own"?}')
    unknown = set(data) - {"signer", "name", "key_hash", "also_own", "comment"}
    if unknown:
        raise ValueError("unknown keys: %s" % ", ".join(sorted(unknown)))
    skey = data.get("signer")
    if not isinstance(skey, str):
        raise ValueError('"signer" (a signer key) is required')
    try:
        sumdb.parse_signer(skey.strip())
    except sumdb.NoteError as e:
        raise ValueError('"signer": %s' % e) from None
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not sumdb.is_valid_name(name)):
        raise ValueError('"name" must be a valid note name (no spaces, no "+")')
    kh = data.get("key_hash")
    if isinstance(kh, str):
        if not re.fullmatch(r"[0-9a-fA-F]{8}", kh):
            raise ValueError('"key_hash" as a string must be 8 hex digits')
        kh = int(kh, 16)
    elif kh is not None and (isinstance(kh, bool) or not isinstance(kh, int) or not 0 <= kh < 1 << 32):
        raise ValueError('"key_hash" must be a uint32 or 8 hex digits')
    also_own = data.get("also_own", False)
    if not isinstance(also_own, bool):
        raise ValueError('"also_own" must be true or false')
    return {"signer_key": skey.strip(), "name": name, "key_hash": kh, "also_own": also_own}


class SumDBRole(Upstream):
    role = "sumdb"

    def __init__(self, state_dir, **kw):
        super().__init__(state_dir, **kw)
        d = os.path.join(self.state_dir, "sumdb")
        self.signer_path = os.path.join(d, "signer")
        self.modset = goproxy.ModuleSet(os.path.join(self.state_dir, "modules"), self.log)
        self.lies = JSONFile(os.path.join(d, "lies.json"), parse_lies, {}, self.log)
        self.sign = JSONFile(os.path.join(d, "sign.json"), parse_sign, None, self.log)
        self.fill = JSONFile(os.path.join(d, "fill.json"), parse_fill, ([], 0), self.log)
        self._fill_err = None        # a module version fill.json names that the DB cannot log
        self._sign_lock = threading.Lock()
        self.db = None  # sumdb.SumDB, made by start()

    # Handy for tests and the harness.
    @property
    def name(self):
        return self.db.name

    @property
    def verifier_key(self):
        return self.db.verifier_key

    def start(self):
        try:
            with open(self.signer_path, encoding="utf-8") as f:
                skey = f.read().strip()
        except FileNotFoundError:
            raise StartupError("sumdb role: missing %s (the signer key, e.g. from "
                               "`python3 sumdb.py keygen NAME`)" % self.signer_path) from None
        except OSError as e:
            raise StartupError("sumdb role: cannot read %s: %s" % (self.signer_path, e)) from None
        try:
            self.db = sumdb.SumDB(signer_key=skey, lookup=self._lookup)
        except (sumdb.NoteError, ValueError) as e:
            raise StartupError("sumdb role: bad signer key in %s: %s" % (self.signer_path, e)) from None
        os.makedirs(self.modset.dir, exist_ok=True)
        self.modset.refresh()  # report fixture errors at start-up
        if self.verbose:
            self.log("database %s, verifier key %s" % (self.db.name, self.db.verifier_key))
        return super().start()

    def _config(self):
        """Reload lies.json and sign.json; return an error text or None."""
        lies, lies_err = self.lies.get()
        if self.lies.changed:
            self.lies.changed = False
            for (path, version), text in lies.items():
                rid = self.db.find(path, version)
                if rid is not None and self.db.record(rid) != text:
                    self.log("lie for %s@%s has no effect: record %d was logged before it "
                             "(records never change)" % (path, version, rid))
        with self._sign_lock:
            spec, sign_err = self.sign.get()
            if self.sign.changed:
                self.sign.changed = False
                if spec is None:
                    self.db.sign_with()
                else:
                    self.db.sign_with(**spec)
        (first, size), fill_err = self.fill.get()
        if self.fill.changed:
            self.fill.changed = False
            self._fill_err = None
            try:
                for path, version in first:
                    self.db.lookup_id(path, version)
            except sumdb.NotFound as e:
                self._fill_err = "fill.json: %s" % e.message
            i = 0
            while len(self.db) < size:
                self.db.add("gotraps.test/filler", "v0.0.%d" % i, sumdb.filler_lines(i))
                i += 1
        errs = [e for e in (lies_err, sign_err, fill_err, self._fill_err) if e]
        return "; ".join(errs) if errs else None

    def _lookup(self, path, version):
        """SumDB lookup callback (runs under the DB's lock): the lie, else
        the prebuilt version's lines, else the fixture's lines, else None (-> 404)."""
        lies, _ = self.lies.get()
        lie = lies.get((path, version))
        if lie is not None:
            return lie
        prebuilt = goproxy.prebuilt_file(self.state_dir, path, version, "gosum")
        if prebuilt:       # a prebuilt module version's lines, computed where it was built
            with open(prebuilt, "rb") as f:
                return f.read()
        modules, _, errors, _ = self.modset.snapshot()
        if (path, version) in errors:
            raise RuntimeError("fixture for %s@%s does not load: %s" % (path, version, errors[(path, version)]))
        mod = modules.get((path, version))
        if mod is None:
            return None
        return "".join(line + "\n" for line in mod.gosum_lines())

    def answer(self, handler, path):
        err = self._config()
        if err:
            return text_response(500, "gotraps: bad state/sumdb/%s\n" % err, CT_ERROR)
        # handler.path is the raw target: SumDB.handle does the decoding.
        status, ctype, body = self.db.handle(handler.path)
        return Response(status, {"Content-Type": ctype}, body)
