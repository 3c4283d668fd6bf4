#!/usr/bin/env python3
"""A fake Go checksum database (sumdb) that an unmodified go command trusts.

Written from the protocol as implemented in golang.org/x/mod/sumdb
(note/note.go, tlog/tlog.go, tlog/tile.go, tlog/note.go, server.go, test.go)
and cmd/go/internal/modfetch/sumdb.go. Standard library plus the Ed25519
primitives of `cryptography` (only APIs present in Debian bookworm's 38.0.4),
and gomod.py from this directory: module path unescaping for /lookup/ comes
from there, as do the go.sum lines a database logs (gomod.hash1,
gomod.Module(...).gosum_lines()).

Use it with:

    GOSUMDB="<verifier key> http://127.0.0.1:PORT"

The go command (client.go) only ever requests /lookup/<mod>@<ver> and
hash tiles /tile/8/<L>/<NNN>[.p/<W>]. /latest and data tiles are served
too, for completeness and for other clients.

Layout of this file:
  * note: keys, signing and verifying signed notes (note.go)
  * tlog: Merkle tree hashes, stored hash indexing, tiles, proofs (tlog/)
  * SumDB: the in-memory database and its HTTP request handler (server.go)
  * CLI: `python3 sumdb.py keygen NAME`
"""

import base64
import hashlib
import os
import re
import sys
import threading
from typing import Callable, Iterable, NamedTuple, Optional, Sequence, Union
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from . import gomod  # the package the host and the container share (upstreamlib)

# ---------------------------------------------------------------------------
# note
# ---------------------------------------------------------------------------

ALG_ED25519 = 1

# Signature lines start with an em dash and a space ("— ").
SIG_PREFIX = "\u2014 ".encode()


class NoteError(ValueError):
    """A note or key could not be parsed or verified.

    str(error) is the message Go's note package uses for the same condition.
    """


class UnverifiedNoteError(NoteError):
    """The note parsed but had no signature by a known key (note.Open)."""

    def __init__(self, note):
        super().__init__("note has no verifiable signatures")
        self.note = note


class InvalidSignatureError(NoteError):
    """A known key rejected its signature (note.Open)."""

    def __init__(self, name, key_hash):
        super().__init__("invalid signature for key %s+%08x" % (name, key_hash))
        self.name = name
        self.key_hash = key_hash


class Signature(NamedTuple):
    name: str
    hash: int  # uint32 key hash
    base64: str  # base64 of hash(4 bytes, big endian) + signature


class Note(NamedTuple):
    text: str
    sigs: list  # verified Signatures
    unverified_sigs: list  # Signatures by unknown keys


class Verifier(NamedTuple):
    name: str
    hash: int
    public_key: bytes  # raw 32-byte Ed25519 public key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig, msg)
        except InvalidSignature:
            return False
        return True


class Signer(NamedTuple):
    name: str
    hash: int
    seed: bytes  # raw 32-byte Ed25519 private key (seed)

    def sign(self, msg: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(msg)

    @property
    def public_key(self) -> bytes:
        return _public_from_seed(self.seed)


def _public_from_seed(seed: bytes) -> bytes:
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, key: bytes) -> int:
    """note.go keyHash: first 4 bytes (big endian) of SHA-256(name + "\\n" + key),
    where key is the encoded public key (algorithm byte + raw key)."""
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + key).digest()[:4], "big")


def is_valid_name(name: str) -> bool:
    """note.go isValidName: non-empty, no Unicode spaces, no '+'."""
    # Python's isspace() also accepts U+001C..U+001F, which Go's
    # unicode.IsSpace does not; exclude those to match Go.
    return (
        name != ""
        and "+" not in name
        and not any(c.isspace() and c not in "\x1c\x1d\x1e\x1f" for c in name)
    )


def _b64decode(s: str) -> bytes:
    # Go's base64.StdEncoding: standard alphabet, padding required.
    return base64.b64decode(s.encode("ascii"), validate=True)


def _parse_hash16(s: str) -> Optional[int]:
    # strconv.ParseUint(s, 16, 32) with len(s) == 8: exactly 8 hex digits.
    if len(s) != 8 or not re.fullmatch(r"[0-9a-fA-F]{8}", s):
        return None
    return int(s, 16)


def _parse_key_id(key: str):
    """The "<name>+<hash>+<base64 key>" part shared by verifier and signer
    keys (note.go's chops): return (name, hash, key bytes), or raise
    NoteError("malformed verifier id"), the error both NewVerifier and
    NewSigner give for a malformed field."""
    # The name cannot contain '+', but the base64 key data can, so split
    # at most twice, like Go's successive strings.Cut calls.
    name, _, rest = key.partition("+")
    hash16, _, key64 = rest.partition("+")
    h = _parse_hash16(hash16)
    try:
        data = _b64decode(key64)
    except (ValueError, UnicodeEncodeError):
        data = None
    if h is None or data is None or not is_valid_name(name) or len(data) == 0:
        raise NoteError("malformed verifier id")
    return name, h, data


def parse_verifier(vkey: str) -> Verifier:
    """note.NewVerifier: parse "<name>+<hash>+<base64(0x01 || pub32)>"."""
    name, h, key = _parse_key_id(vkey)
    if h != key_hash(name, key):
        raise NoteError("invalid verifier hash")
    if key[0] != ALG_ED25519:
        raise NoteError("unknown verifier algorithm")
    if len(key) != 33:
        raise NoteError("malformed verifier id")
    return Verifier(name, h, key[1:])


def parse_signer(skey: str) -> Signer:
    """note.NewSigner: parse "PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed32)>".

    The hash is the hash of the *public* key, checked after deriving it.
    (Go's signer errors reuse the verifier messages, e.g. "malformed verifier id".)
    """
    priv1, _, rest = skey.partition("+")
    priv2, _, rest = rest.partition("+")
    if priv1 != "PRIVATE" or priv2 != "KEY":
        raise NoteError("malformed verifier id")
    name, h, key = _parse_key_id(rest)
    if key[0] != ALG_ED25519:
        raise NoteError("unknown verifier algorithm")
    if len(key) != 33:
        raise NoteError("malformed verifier id")
    seed = key[1:]
    if h != key_hash(name, bytes([ALG_ED25519]) + _public_from_seed(seed)):
        raise NoteError("invalid verifier hash")
    return Signer(name, h, seed)


def _format_keys(name: str, seed: bytes):
    pubkey = bytes([ALG_ED25519]) + _public_from_seed(seed)
    h = key_hash(name, pubkey)
    skey = "PRIVATE+KEY+%s+%08x+%s" % (
        name, h, base64.b64encode(bytes([ALG_ED25519]) + seed).decode())
    vkey = "%s+%08x+%s" % (name, h, base64.b64encode(pubkey).decode())
    return skey, vkey


def generate_key(name: str, seed: Optional[bytes] = None):
    """note.GenerateKey: return (signer_key, verifier_key) for server `name`.

    seed (32 bytes) makes the key deterministic; by default it is random.
    Go's GenerateKey(rand, name) reads its seed from rand, so the same 32
    bytes give the same keys in both implementations.
    """
    if not is_valid_name(name):
        raise NoteError("invalid name %r" % name)
    if seed is None:
        seed = os.urandom(32)
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return _format_keys(name, seed)


def verifier_from_signer(signer_key: str) -> str:
    """Derive the verifier key (public) from a signer key (private)."""
    s = parse_signer(signer_key)
    return _format_keys(s.name, s.seed)[1]


def _as_bytes(x) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


def sign_note(text, signer_key: Union[str, Sequence[str]], *,
              name: Optional[str] = None, key_hash: Optional[int] = None) -> bytes:
    """note.Sign: return text + "\\n" + one "— <name> <base64>" line per signer.

    text (str or bytes) must end in a newline. signer_key is one signer key
    or a list of them (signed in order, like note.Sign(n, s1, s2)).

    name / key_hash, if given, replace the name and key hash written on each
    signature line while still signing with the given private key(s). That
    forges "a note signed by another key" for interception scenarios: with
    the trusted name and hash, the go command finds the key it knows and
    reports "invalid signature for key ..."; with the trusted name and any
    other hash, it reports "note has no verifiable signatures".
    """
    text = _as_bytes(text)
    if not text.endswith(b"\n"):
        raise NoteError("malformed note")
    keys = [signer_key] if isinstance(signer_key, str) else list(signer_key)
    lines = []
    for skey in keys:
        s = parse_signer(skey)
        sig_name = s.name if name is None else name
        sig_hash = s.hash if key_hash is None else key_hash
        if not is_valid_name(sig_name):
            raise NoteError("invalid signer")
        raw = sig_hash.to_bytes(4, "big") + s.sign(text)
        lines.append(SIG_PREFIX + sig_name.encode() + b" " + base64.b64encode(raw) + b"\n")
    return text + b"\n" + b"".join(lines)


def open_note(msg: bytes, verifier_key: Union[str, Sequence[str]]) -> Note:
    """note.Open: parse msg and verify its signatures against the given
    verifier key(s). Raises NoteError with Go's message on failure
    ("malformed note", "invalid signature for key ...",
    "note has no verifiable signatures", ...)."""
    msg = _as_bytes(msg)
    vkeys = [verifier_key] if isinstance(verifier_key, str) else list(verifier_key)
    known = {}
    for vk in vkeys:
        v = parse_verifier(vk)
        known.setdefault((v.name, v.hash), []).append(v)

    # Must be valid UTF-8 with no ASCII control characters except newline.
    try:
        decoded = msg.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("malformed note") from None
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise NoteError("malformed note")

    # Must end with a signature block preceded by a blank line.
    split = msg.rfind(b"\n\n")
    if split < 0:
        raise NoteError("malformed note")
    text, sigs = msg[: split + 1], msg[split + 2:]
    if not sigs or not sigs.endswith(b"\n"):
        raise NoteError("malformed note")

    note = Note(text.decode(), [], [])
    seen = set()
    seen_unverified = set()
    num_sig = 0
    while sigs:
        i = sigs.index(b"\n")
        line, sigs = sigs[:i], sigs[i + 1:]
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed note")
        line = line[len(SIG_PREFIX):]
        sname, _, b64 = line.decode().partition(" ")
        try:
            sig = _b64decode(b64)
        except (ValueError, UnicodeEncodeError):
            sig = None
        if sig is None or not is_valid_name(sname) or b64 == "" or len(sig) < 5:
            raise NoteError("malformed note")
        h = int.from_bytes(sig[:4], "big")
        sig = sig[4:]
        num_sig += 1
        if num_sig > 100:
            raise NoteError("malformed note")

        vs = known.get((sname, h))
        if not vs:
            if line not in seen_unverified:  # drop repeated identical lines
                seen_unverified.add(line)
                note.unverified_sigs.append(Signature(sname, h, b64))
            continue
        if len(vs) > 1:
            raise NoteError("ambiguous key %s+%08x" % (sname, h))
        if (sname, h) in seen:  # drop repeated signatures by one key
            continue
        seen.add((sname, h))
        if not vs[0].verify(text, sig):
            raise InvalidSignatureError(sname, h)
        note.sigs.append(Signature(sname, h, b64))

    if not note.sigs:
        raise UnverifiedNoteError(note)
    return note


# ---------------------------------------------------------------------------
# tlog: RFC 6962 Merkle tree as stored and tiled by the Go checksum database
# ---------------------------------------------------------------------------

HASH_SIZE = 32

# Hash of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1).
EMPTY_HASH = hashlib.sha256(b"").digest()

# Records are grouped into tiles of this height; the go command uses 8.
TILE_HEIGHT = 8


def record_hash(data: bytes) -> bytes:
    """SHA256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + _as_bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def hash_b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def stored_hash_index(level: int, n: int) -> int:
    """Map tree coordinates (level, n) to the dense storage order of
    Crosby and Wallach: level L's n'th hash is stored right after
    level L+1's (2n+1)'th hash."""
    for _ in range(level):
        n = 2 * n + 1
    # Level 0's n'th hash is at n + n/2 + n/4 + ...
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def _trailing_zeros(x: int) -> int:
    return (x & -x).bit_length() - 1


def split_stored_hash_index(index: int):
    """Inverse of stored_hash_index: return (level, n)."""
    # stored_hash_index(0, n) < 2n, so the record we want is in
    # [index/2, index/2 + log2(index)].
    n = index // 2
    index_n = stored_hash_index(0, n)
    if index_n > index:
        raise AssertionError("bad math")
    while True:
        # Each new record n adds 1 + trailing_zeros(n+1) hashes.
        x = index_n + 1 + _trailing_zeros(n + 1)
        if x > index:
            break
        n += 1
        index_n = x
    # The hash was committed with record n: it is one of (0, n), (1, n/2), ...
    level = index - index_n
    return level, n >> level


def stored_hash_count(n: int) -> int:
    """Number of stored hashes for a tree of n records."""
    if n == 0:
        return 0
    num = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        num += 1
        i >>= 1
    return num


def stored_hashes_for_record_hash(n: int, h: bytes, hashes: Sequence[bytes]) -> list:
    """Hashes to append to storage when adding record n (record hash h):
    the record hash plus one hash per subtree the record completes.
    `hashes` holds the stored hashes of records 0..n-1."""
    out = [h]
    m = _trailing_zeros(n + 1)
    # Each trailing 1 bit of n completes a subtree: combine with the left sibling.
    for i in range(m):
        left = hashes[stored_hash_index(i, (n >> i) - 1)]
        h = node_hash(left, h)
        out.append(h)
    return out


def stored_hashes(n: int, data: bytes, hashes: Sequence[bytes]) -> list:
    return stored_hashes_for_record_hash(n, record_hash(data), hashes)


def _maxpow2(n: int):
    """Largest power of two k < n (k = 1 for n <= 2), and log2(k)."""
    level = 0
    while (1 << (level + 1)) < n:
        level += 1
    return 1 << level, level


def _sub_tree_hash(lo: int, hi: int, hashes: Sequence[bytes]) -> bytes:
    """Hash of the subtree of records [lo, hi), from stored hashes:
    split into maximal complete subtrees left to right, fold from the right."""
    parts = []
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        if lo & (k - 1):
            raise AssertionError("bad math in subTreeHash")
        parts.append(hashes[stored_hash_index(level, lo >> level)])
        lo += k
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def tree_hash(n: int, hashes: Sequence[bytes]) -> bytes:
    """Root hash of the tree of the first n records."""
    if n == 0:
        return EMPTY_HASH
    return _sub_tree_hash(0, n, hashes)


def prove_record(t: int, n: int, hashes: Sequence[bytes]) -> list:
    """Proof that the tree of size t contains record n (RFC 6962 audit path)."""
    if t < 0 or n < 0 or n >= t:
        raise ValueError("tlog: invalid inputs in ProveRecord")

    def leaf_proof(lo, hi):
        if lo + 1 == hi:
            return []
        k, _ = _maxpow2(hi - lo)
        if n < lo + k:
            return leaf_proof(lo, lo + k) + [_sub_tree_hash(lo + k, hi, hashes)]
        return leaf_proof(lo + k, hi) + [_sub_tree_hash(lo, lo + k, hashes)]

    return leaf_proof(0, t)


def check_record(proof: Sequence[bytes], t: int, th: bytes, n: int, h: bytes) -> bool:
    """Whether proof shows that the tree (t, th) has record n with hash h."""
    if t < 0 or n < 0 or n >= t:
        raise ValueError("tlog: invalid inputs in CheckRecord")

    def run(p, lo, hi):
        if lo + 1 == hi:
            if p:
                raise _ProofFailed
            return h
        if not p:
            raise _ProofFailed
        k, _ = _maxpow2(hi - lo)
        if n < lo + k:
            return node_hash(run(p[:-1], lo, lo + k), p[-1])
        return node_hash(p[-1], run(p[:-1], lo + k, hi))

    try:
        return run(list(proof), 0, t) == th
    except _ProofFailed:
        return False


class _ProofFailed(Exception):
    pass


def prove_tree(t: int, n: int, hashes: Sequence[bytes]) -> list:
    """Proof that the tree of size t contains the tree of size n as a prefix
    (RFC 6962 consistency proof)."""
    if t < 1 or n < 1 or n > t:
        raise ValueError("tlog: invalid inputs in ProveTree")

    def tree_proof(lo, hi):
        if n == hi:
            if lo == 0:
                return []
            return [_sub_tree_hash(lo, hi, hashes)]
        k, _ = _maxpow2(hi - lo)
        if n <= lo + k:
            return tree_proof(lo, lo + k) + [_sub_tree_hash(lo + k, hi, hashes)]
        return tree_proof(lo + k, hi) + [_sub_tree_hash(lo, lo + k, hashes)]

    return tree_proof(0, t)


def check_tree(proof: Sequence[bytes], t: int, th: bytes, n: int, h: bytes) -> bool:
    """Whether proof shows that tree (t, th) contains tree (n, h) as a prefix."""
    if t < 1 or n < 1 or n > t:
        raise ValueError("tlog: invalid inputs in CheckTree")

    def run(p, lo, hi):
        # Returns (old subtree hash, new subtree hash).
        if n == hi:
            if lo == 0:
                if p:
                    raise _ProofFailed
                return h, h
            if len(p) != 1:
                raise _ProofFailed
            return p[0], p[0]
        if not p:
            raise _ProofFailed
        k, _ = _maxpow2(hi - lo)
        if n <= lo + k:
            oh, nh = run(p[:-1], lo, lo + k)
            return oh, node_hash(nh, p[-1])
        oh, nh = run(p[:-1], lo + k, hi)
        return node_hash(p[-1], oh), node_hash(p[-1], nh)

    try:
        oh, nh = run(list(proof), 0, t)
    except _ProofFailed:
        return False
    return oh == h and nh == th


# ---- tiles ----------------------------------------------------------------

class Tile(NamedTuple):
    """Tile of height H at level L (L = -1: record data), number N, width W.

    It lists W consecutive hashes at tree level H*L starting at N * 2**H.
    A complete tile has W = 2**H; a partial one fewer.
    """

    H: int
    L: int
    N: int
    W: int

    def path(self) -> str:
        """tile/H/L/NNN[.p/W], N written as 3-digit elements ("x001/x234/067")."""
        n = self.N
        n_str = "%03d" % (n % 1000)
        while n >= 1000:
            n //= 1000
            n_str = "x%03d/%s" % (n % 1000, n_str)
        p_str = "" if self.W == 1 << self.H else ".p/%d" % self.W
        level = "data" if self.L == -1 else "%d" % self.L
        return "tile/%d/%s/%s%s" % (self.H, level, n_str, p_str)


def _go_quote(s: str) -> str:
    # Close enough to Go's %q for error messages.
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\x%02x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _go_atoi(s: str) -> int:
    # strconv.Atoi: optional sign then ASCII digits. Python's int() would
    # also take spaces, underscores and non-ASCII digits.
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ValueError(s)
    return int(s)


def parse_tile_path(path: str) -> Tile:
    """tlog.ParseTilePath: the inverse of Tile.path(); only canonical paths
    are accepted. Raises ValueError('malformed tile path "..."')."""
    err = ValueError("malformed tile path %s" % _go_quote(path))
    f = path.split("/")
    if len(f) < 4 or f[0] != "tile":
        raise err
    is_data = f[2] == "data"
    try:
        h = _go_atoi(f[1])
        level = 0 if is_data else _go_atoi(f[2])
    except ValueError:
        raise err from None
    if h < 1 or level < 0 or h > 30:
        raise err
    w = 1 << h
    if f[-2].endswith(".p"):
        try:
            ww = _go_atoi(f[-1])
        except ValueError:
            raise err from None
        if ww <= 0 or ww >= w:
            raise err
        w = ww
        f[-2] = f[-2][: -len(".p")]
        f = f[:-1]
    n = 0
    for s in f[3:]:
        try:
            nn = _go_atoi(s[1:] if s.startswith("x") else s)
        except ValueError:
            raise err from None
        if nn < 0 or nn >= 1000:
            raise err
        n = n * 1000 + nn
    t = Tile(h, -1 if is_data else level, n, w)
    if t.path() != path:
        raise err
    return t


def tile_for_index(h: int, index: int) -> Tile:
    """The tile of height h and least width holding stored hash `index`."""
    if h <= 0:
        raise ValueError("TileForIndex: invalid height %d" % h)
    level, n = split_stored_hash_index(index)
    tl = level // h
    level -= tl * h  # level within the tile
    tn = n << level >> h
    n -= tn << h >> level  # n within the tile at that level
    return Tile(h, tl, tn, (n + 1) << level)


def new_tiles(h: int, old_size: int, new_size: int) -> list:
    """Tiles to publish when the tree grows from old_size to new_size."""
    if h <= 0:
        raise ValueError("NewTiles: invalid height %d" % h)
    tiles = []
    level = 0
    while new_size >> (h * level) > 0:
        old_n = old_size >> (h * level)
        new_n = new_size >> (h * level)
        if old_n != new_n:
            for n in range(old_n >> h, new_n >> h):
                tiles.append(Tile(h, level, n, 1 << h))
            n = new_n >> h
            w = new_n - (n << h)
            if w > 0:
                tiles.append(Tile(h, level, n, w))
        level += 1
    return tiles


def read_tile_data(tile: Tile, hashes: Sequence[bytes]) -> bytes:
    """Content of hash tile `tile`: W hashes of level H*L, concatenated.
    Raises IndexError if a hash is not stored (yet)."""
    start = tile.N << tile.H
    return b"".join(
        hashes[stored_hash_index(tile.H * tile.L, start + i)] for i in range(tile.W))


# ---- tree notes and records -----------------------------------------------

def format_tree(n: int, h: bytes) -> bytes:
    """tlog.FormatTree: the text of a signed tree head."""
    return b"go.sum database tree\n%d\n%s\n" % (n, base64.b64encode(h))


def parse_tree(text) -> tuple:
    """tlog.ParseTree: return (n, hash); extra trailing lines are ignored."""
    text = _as_bytes(text)
    if (not text.startswith(b"go.sum database tree\n") or text.count(b"\n") < 3
            or len(text) > 1000000):
        raise ValueError("malformed tree note")
    lines = text.decode().split("\n", 3)
    try:
        n = _go_atoi(lines[1])
        h = _b64decode(lines[2])
    except ValueError:
        raise ValueError("malformed tree note") from None
    if n < 0 or lines[1] != str(n) or len(h) != HASH_SIZE:
        raise ValueError("malformed tree note")
    return n, h


def is_valid_record_text(text: bytes) -> bool:
    """UTF-8, no control characters but newline, no blank line, ends in newline."""
    try:
        s = _as_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not s.endswith("\n") or "\n\n" in s:
        return False
    return not any(ord(c) < 0x20 and c != "\n" for c in s)


def format_record(record_id: int, text: bytes) -> bytes:
    """tlog.FormatRecord: "<id>\\n" + text + "\\n" (the blank line ends it)."""
    text = _as_bytes(text)
    if not is_valid_record_text(text):
        raise ValueError("malformed record data")
    return b"%d\n" % record_id + text + b"\n"


def parse_record(msg: bytes):
    """tlog.ParseRecord: return (id, text, rest) — for a lookup response,
    rest is the signed tree note."""
    msg = _as_bytes(msg)
    i = msg.find(b"\n")
    if i < 0:
        raise ValueError("malformed record data")
    try:
        record_id = _go_atoi(msg[:i].decode())
    except (ValueError, UnicodeDecodeError):
        raise ValueError("malformed record data") from None
    msg = msg[i + 1:]
    i = msg.find(b"\n\n")
    if i < 0:
        raise ValueError("malformed record data")
    text, rest = msg[: i + 1], msg[i + 2:]
    if not is_valid_record_text(text):
        raise ValueError("malformed record data")
    return record_id, text, rest


# ---------------------------------------------------------------------------
# SumDB
# ---------------------------------------------------------------------------

class NotFound(Exception):
    """The database cannot produce a record for a module version.

    A lookup callable may raise (or return) one to choose the answer; the
    handler replies `status` (404 or 410, as sum.golang.org does) with
    `message` as a text/plain body. server.go does the same for a lookup
    error that is "not exist" (404, error text + newline).

    The go command (go1.27.3, `go get example.com/missing@v1.0.0`) then
    fails, printing the status line and the first lines of a text/plain body:

        go: example.com/missing@v1.0.0: verifying module: example.com/missing@v1.0.0: reading http://127.0.0.1:18431/lookup/example.com/missing@v1.0.0: 404 Not Found
        \tserver response: not found: example.com/missing@v1.0.0: invalid version: unknown revision v1.0.0

    (410 prints "410 Gone" instead; nothing falls back to another source.)
    """

    def __init__(self, message: str = "not found", status: int = 404):
        super().__init__(message)
        self.message = message
        self.status = status


def not_found_message(path: str, version: str) -> str:
    """Default body for a module version the database cannot fetch, shaped
    like sum.golang.org's ("not found: <mod>@<ver>: <fetch error>")."""
    return "not found: %s@%s: invalid version: unknown revision %s" % (path, version, version)


# The syntax server.go accepts after /lookup/ (anything else: 400).
_MOD_VER_RE = re.compile(r"[^@]+@v[0-9]+\.[0-9]+\.[0-9]+(-[^@]*)?(\+incompatible)?")

TEXT_OK = "text/plain; charset=UTF-8"  # content type of successful text answers
TEXT_ERROR = "text/plain; charset=utf-8"  # Go's http.Error content type
OCTETS = "application/octet-stream"

# lookup(path, version) -> go.sum lines (str) | None | NotFound
LookupFunc = Callable[[str, str], Union[str, None, NotFound]]


class SumDB:
    """An in-memory Go checksum database.

    Records are go.sum lines, one record per module version, in log order:

        <path> <version> h1:...\\n<path> <version>/go.mod h1:...\\n

    (exactly what proxyGoSum in cmd/go/proxy_test.go feeds Go's test server).

    Records come from add(), or on demand from the `lookup` callable the
    first time a client looks a module version up (as the real sumdb does):
    lookup(path, version) returns the lines (str), or None / a NotFound for
    "unknown module". The lines are logged as given, so a lookup that lies
    gets its lie logged and signed; the go command then reports a checksum
    mismatch (SECURITY ERROR).

    handle(path) answers an HTTP GET and is thread-safe.
    """

    def __init__(self, name: Optional[str] = None, signer_key: Optional[str] = None,
                 lookup: Optional[LookupFunc] = None):
        if signer_key is None:
            if name is None:
                raise ValueError("need a name or a signer key")
            signer_key, _ = generate_key(name)
        signer = parse_signer(signer_key)
        if name is not None and name != signer.name:
            raise ValueError("signer key is for %r, not %r" % (signer.name, name))
        self.name = signer.name
        self.signer_key = signer_key
        self.verifier_key = verifier_from_signer(signer_key)
        self.lookup = lookup
        self._lock = threading.RLock()
        self._records = []  # record texts (bytes), by id
        self._hashes = []  # stored hashes, in stored hash index order
        self._ids = {}  # (path, version) -> record id
        # How tree notes are signed: [(signer_key, name override, hash override)].
        self._note_signers = [(signer_key, None, None)]
        # Paths handled, in order (after URL decoding), for test assertions.
        self.requests = []

    # ---- configuration ----

    def gosumdb(self, url: str) -> str:
        """The GOSUMDB value for a go command reaching this DB at url."""
        return "%s %s" % (self.verifier_key, url)

    def sign_with(self, signer_key=None, *, name=None, key_hash=None, also_own=False):
        """Change how tree notes are signed from now on (interception).

        sign_with(other_skey): notes signed by another key under its own name.
        sign_with(other_skey, name=db.name, key_hash=<our hash>): another key
        impersonating ours. also_own=True keeps our genuine signature too.
        sign_with() restores normal signing.
        """
        with self._lock:
            if signer_key is None:
                self._note_signers = [(self.signer_key, None, None)]
                return
            signers = [(signer_key, name, key_hash)]
            if also_own:
                signers.insert(0, (self.signer_key, None, None))
            self._note_signers = signers

    # ---- the log ----

    def __len__(self):
        with self._lock:
            return len(self._records)

    @property
    def size(self) -> int:
        return len(self)

    def record(self, record_id: int) -> bytes:
        with self._lock:
            return self._records[record_id]

    def records(self) -> list:
        with self._lock:
            return list(self._records)

    def hashes(self) -> list:
        """Stored hashes (stored_hash_index order), for proofs in tests."""
        with self._lock:
            return list(self._hashes)

    def find(self, path: str, version: str) -> Optional[int]:
        """Record id of path@version, or None if not in the log."""
        with self._lock:
            return self._ids.get((path, version))

    def add(self, path: str, version: str, lines) -> int:
        """Append the record for path@version and return its id.

        lines: the go.sum lines (str or bytes), normally those of
        gomod.Module(...).gosum_lines(), newline-terminated; a missing final
        newline is added. Any valid record text is accepted,
        lies included. Adding the same module version again returns the
        existing id if the text is identical and raises ValueError otherwise
        (a log never changes; see rewrite()).
        """
        text = _as_bytes(lines)
        if not text.endswith(b"\n"):
            text += b"\n"
        if not is_valid_record_text(text):
            raise ValueError("invalid record text for %s@%s: %r" % (path, version, text))
        with self._lock:
            old = self._ids.get((path, version))
            if old is not None:
                if self._records[old] != text:
                    raise ValueError("%s@%s already has record %d" % (path, version, old))
                return old
            record_id = len(self._records)
            self._hashes.extend(stored_hashes(record_id, text, self._hashes))
            self._records.append(text)
            self._ids[(path, version)] = record_id
            return record_id

    def add_hashes(self, path: str, version: str, h1: str, gomod_h1: str) -> int:
        """add() with the two usual lines built from the two hashes."""
        return self.add(path, version, "%s %s %s\n%s %s/go.mod %s\n" % (
            path, version, h1, path, version, gomod_h1))

    def rewrite(self, record_id: int, lines) -> None:
        """Replace a logged record and recompute the tree: history rewriting.
        A go command that cached an earlier tree head (GOPATH/pkg/sumdb)
        detects this as "SECURITY ERROR ... server misbehavior detected"."""
        text = _as_bytes(lines)
        if not text.endswith(b"\n"):
            text += b"\n"
        if not is_valid_record_text(text):
            raise ValueError("invalid record text %r" % text)
        with self._lock:
            self._records[record_id] = text
            hashes = []
            for i, rec in enumerate(self._records):
                hashes.extend(stored_hashes(i, rec, hashes))
            self._hashes = hashes

    def tree_hash(self, n: Optional[int] = None) -> bytes:
        with self._lock:
            return tree_hash(len(self._records) if n is None else n, self._hashes)

    # ---- ServerOps (server.go); override in subclasses to misbehave ----

    def signed(self, n: Optional[int] = None) -> bytes:
        """Signed tree note for the first n records (default: all)."""
        with self._lock:
            if n is None:
                n = len(self._records)
            text = format_tree(n, tree_hash(n, self._hashes))
            # Each sign_note() result is text + "\n" + its signature line.
            sig_lines = b"".join(
                sign_note(text, skey, name=name, key_hash=kh)[len(text) + 1:]
                for skey, name, kh in self._note_signers)
            return text + b"\n" + sig_lines

    def lookup_id(self, path: str, version: str) -> int:
        """Record id of path@version, consulting self.lookup on a miss.
        Raises NotFound when the module version is unknown."""
        with self._lock:
            record_id = self._ids.get((path, version))
            if record_id is not None:
                return record_id
            result = self.lookup(path, version) if self.lookup else None
            if isinstance(result, NotFound):
                raise result
            if result is None:
                raise NotFound(not_found_message(path, version))
            return self.add(path, version, result)

    def read_records(self, start: int, n: int) -> list:
        with self._lock:
            if start < 0 or start + n > len(self._records):
                raise NotFound("not found")
            return self._records[start:start + n]

    def read_tile(self, tile: Tile) -> bytes:
        """Hash tile content. Any width whose hashes exist is served, so
        partial tiles of older tree sizes stay available (as Go's test server
        does); tiles beyond the tree answer 404."""
        with self._lock:
            start = tile.N << tile.H
            last = stored_hash_index(tile.H * tile.L, start + tile.W - 1)
            if last >= len(self._hashes):
                raise NotFound("not found")
            return read_tile_data(tile, self._hashes)

    # ---- HTTP ----

    def handle(self, path: str):
        """Answer GET `path` (may include a query) like server.go.

        Returns (status, content_type, body). Besides /latest, /lookup/ and
        /tile/, the proxy form /sumdb/<name>/... is accepted (a GOPROXY that
        proxies this database answers /sumdb/<name>/supported with 200).
        """
        path = unquote(path.split("?", 1)[0])  # Go's r.URL.Path is decoded
        with self._lock:
            self.requests.append(path)
            prefix = "/sumdb/%s/" % self.name
            if path == prefix + "supported":
                return 200, TEXT_ERROR, b""
            if path.startswith(prefix):
                path = path[len(prefix) - 1:]
            try:
                return self._handle(path)
            except NotFound as e:
                return _error(e.status, e.message)
            except Exception as e:  # like Go's reportError: 500 with the text
                return _error(500, "%s" % e)

    def _handle(self, path: str):
        if path.startswith("/lookup/"):
            mod = path[len("/lookup/"):]
            if not _MOD_VER_RE.fullmatch(mod):
                return _error(400, "invalid module@version syntax")
            esc_path, _, esc_vers = mod.partition("@")
            try:  # module.UnescapePath / UnescapeVersion; errors as reportError: 500
                mod_path = gomod.unescape_path(esc_path)
                vers = gomod.unescape_version(esc_vers)
            except ValueError as e:
                return _error(500, str(e))
            record_id = self.lookup_id(mod_path, vers)
            records = self.read_records(record_id, 1)
            msg = format_record(record_id, records[0])
            return 200, TEXT_OK, msg + self.signed()

        if path == "/latest":
            return 200, TEXT_OK, self.signed()

        if path.startswith("/tile/"):
            try:
                tile = parse_tile_path(path[1:])
            except ValueError:
                return _error(400, "invalid tile syntax")
            if tile.L == -1:
                # Data tiles: formatted records without their "<id>" line.
                start = tile.N << tile.H
                records = self.read_records(start, tile.W)
                return 200, TEXT_OK, b"".join(text + b"\n" for text in records)
            return 200, OCTETS, self.read_tile(tile)

        return _error(404, "404 page not found")


def filler_lines(i: int) -> str:
    """The go.sum lines of filler record i (gotraps.test/filler v0.0.<i>, a module no fixture has, made-up
    hashes): what a DB is filled with to reach a tree size (the sumdb role's fill.json)."""
    h = base64.b64encode(hashlib.sha256(b"gotraps filler %d" % i).digest()).decode()
    return "gotraps.test/filler v0.0.%d h1:%s\ngotraps.test/filler v0.0.%d/go.mod h1:%s\n" % (i, h, i, h)


def _error(status: int, message: str):
    # Go's http.Error: text/plain body with a trailing newline.
    return status, TEXT_ERROR, (message + "\n").encode()


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def main(argv: Optional[Iterable[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "keygen":
        skey, vkey = generate_key(argv[1])
        print(skey)
        print(vkey)
        return 0
    if len(argv) == 2 and argv[0] == "verifier":
        print(verifier_from_signer(argv[1]))
        return 0
    print("usage: sumdb.py keygen NAME      print a signer key and its verifier key\n"
          "       sumdb.py verifier SKEY    print the verifier key of a signer key",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
