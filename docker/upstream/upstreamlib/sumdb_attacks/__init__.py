"""Attacks on a proxied checksum database, as data: the registry, the checks, and what an attack sees.

A GOPROXY may proxy the checksum DB (<proxy>/sumdb/<name>/..., goproxy.py): go then reads every lookup and
tile through it, and the proxy can lie. The proxy runs the attack named in state/sumdb-attack.json on the
/sumdb/<name>/ requests it forwards, against one target module version (a zip it serves tampered):

    {"attack": "<name>", "db": "<db name>", "module": "<path>@<version>", "decoy": "<path>@<version>",
     "signer": "<the DB's signer key, for the attacks with KEY>"}

null (or no file): no attack. Shared by the proxy (docker/upstream/goproxy.py, which only serves) and the host
(fixtures/world/upstream.py: an unknown name fails at the call). Pure: stdlib and upstreamlib only.

One module per attack in this package (the fault registry's model, upstreamlib/faults/). A module defines
    ORDER    int: its place in REGISTRY (docs, the report's table)
    SUMMARY  one line: what the proxy answers
    PRIME    True: the client first fetches another module through the honest proxy (same GOPATH), so that
             it holds a signed tree head (GOPATH/pkg/sumdb/<name>/latest) before the attack
    KEY      True: the attack signs tree notes with the DB's own key (a DB, or its key, gone bad): the host
             gives the proxy the signer key
    serve(ctx, rest)  rest: the request path after /sumdb/<name>/ ("lookup/<mod>@<ver>", "tile/8/0/000"...);
             returns (status, content type, body), or None to forward the request as it is

The go.sum lines of the tampered zip are computed by the proxy from what it serves (ctx.lines), so the
attacks claim exactly the hash go computes of the download.
"""

import importlib
import pkgutil
import threading
from urllib.parse import unquote

from .. import gomod, sumdb

TEXT = "text/plain; charset=UTF-8"
OCTETS = "application/octet-stream"
HEIGHT = 8      # the tile height the go command asks for

# The tree size the checksum DB is filled to before an attack (ChecksumDB.fill): the targets' records first
# (ids < 256, in tile 0/000), then filler records. 259 = 256 + 3: the hashes proving the tree (stx) are the
# level-8 hash of records 0..255 (tile 1/000.p/1) and two in tile 0/001.p/3, so proving a record of tile 0/000
# asks for 3 tiles to check 3 tree hashes, tile 0/000 last. The tlog.TileHashReader vendored up to go1.26.3
# (cmd/vendor/golang.org/x/mod/sumdb/tlog/tile.go, ReadHashes) authenticates tiles against their parents from
# index len(stx) = 3 on, so tile 0/000 (index 2) goes unchecked; go1.26.6's starts after the last stx tile.
TREE_SIZE = 259


class Attack:
    """A registered attack: its module's name, order, summary, prime, key and serve."""

    def __init__(self, module):
        self.name = module.__name__.rpartition(".")[2]
        self.order, self.summary = module.ORDER, module.SUMMARY
        self.prime, self.key = bool(module.PRIME), bool(module.KEY)
        self.serve = module.serve

    def __repr__(self):
        return "Attack(%r)" % self.name




def get(name):
    """The attack of this name; ValueError naming the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError("unknown checksum DB attack %r (known: %s)" % (name, ", ".join(ATTACKS)))
    return REGISTRY[name]


def _module_version(where, value):
    if not isinstance(value, str) or value.count("@") != 1 or not all(value.split("@")):
        raise ValueError("%s must be <path>@<version>, not %r" % (where, value))
    return tuple(value.split("@"))


def parse_config(data):
    """sumdb-attack.json -> the config dict (checked), or None for no attack."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("sumdb-attack.json must hold null or a JSON object")
    unknown = set(data) - {"attack", "db", "module", "decoy", "signer", "comment"}
    if unknown:
        raise ValueError("sumdb-attack.json: unknown keys %s" % ", ".join(sorted(unknown)))
    attack = get(data.get("attack"))
    if not isinstance(data.get("db"), str) or not data["db"]:
        raise ValueError('sumdb-attack.json: "db" (the database name) is required')
    _module_version('"module"', data.get("module"))
    _module_version('"decoy"', data.get("decoy"))
    if attack.key:
        try:
            sumdb.parse_signer(data.get("signer") or "")
        except sumdb.NoteError as e:
            raise ValueError('sumdb-attack.json: attack %r signs tree notes: "signer" %s' % (attack.name, e))
    return dict(data)


def lookup_path(module_version):
    """rest of the lookup of "<path>@<version>", escaped as go sends it."""
    path, version = module_version.split("@")
    return "lookup/%s@%s" % (gomod.escape_path(path), gomod.escape_version(version))


class Context:
    """What an attack sees: the config, the tampered go.sum lines, the honest DB (forward), and state kept
    while the config stays the same (the proxy makes a new Context when it changes)."""

    def __init__(self, config, lines, forward):
        self.config = config
        self.attack = get(config["attack"])
        self.module, self.decoy = config["module"], config["decoy"]
        self.signer = config.get("signer")
        self.lines = lines if isinstance(lines, bytes) else lines.encode()   # record text of the tampered zip
        self.forward = forward      # forward(rest) -> (status, content type, body) from the honest DB
        self.state = {}
        self._lock = threading.Lock()   # go asks for tiles in parallel; an attack builds its state once

    def serve(self, rest):
        with self._lock:
            return self.attack.serve(self, rest)

    def is_target_lookup(self, rest):
        return unquote(rest) == unquote(lookup_path(self.module))

    def genuine_lookup(self):
        """The honest DB's answer to the target's lookup, parsed: (id, record text, signed tree note)."""
        if "genuine" not in self.state:
            status, _, body = self.forward(lookup_path(self.module))
            if status != 200:
                raise AttackError("the honest lookup of %s answered %d: %r" % (self.module, status, body[:200]))
            self.state["genuine"] = sumdb.parse_record(body)
        return self.state["genuine"]

    def mirror(self):
        """A copy of the honest DB's log (read through its data tiles) signed with ctx.signer: a database the
        attack can rewrite and sign."""
        if "mirror" not in self.state:
            status, _, note = self.forward("latest")
            if status != 200:
                raise AttackError("the honest DB's latest answered %d" % status)
            n, _ = sumdb.parse_tree(note.split(b"\n\n")[0] + b"\n")
            db = sumdb.SumDB(signer_key=self.signer)
            for start in range(0, n, 1 << HEIGHT):
                w = min(1 << HEIGHT, n - start)
                tile = sumdb.Tile(HEIGHT, -1, start >> HEIGHT, w)
                status, _, data = self.forward(tile.path())
                if status != 200:
                    raise AttackError("the honest DB's %s answered %d" % (tile.path(), status))
                texts = data.split(b"\n\n")[:w]
                for i, text in enumerate(texts):
                    db.add("record", str(start + i), text + b"\n")
            self.state["mirror"] = db
        return self.state["mirror"]


class AttackError(Exception):
    """The honest DB did not give the attack what it builds on (the proxy answers 502 with the reason)."""


def markdown_table():
    """The attacks as a Markdown table, from the registry (for docs)."""
    rows = ["| attack | what the proxy answers | client primed | signs with the DB's key |", "|---|---|---|---|"]
    for a in REGISTRY.values():
        rows.append("| `%s` | %s | %s | %s |" % (a.name, a.summary, "yes" if a.prime else "-", "yes" if a.key else "-"))
    return "\n".join(rows)


# Last: the attack modules import the helpers above.
REGISTRY = {}
for _m in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    _a = Attack(importlib.import_module("%s.%s" % (__name__, _m)))
    REGISTRY[_a.name] = _a
REGISTRY = dict(sorted(REGISTRY.items(), key=lambda kv: kv[1].order))
ATTACKS = tuple(REGISTRY)
