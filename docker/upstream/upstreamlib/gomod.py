"""Pure helpers for Go module fixtures: txtar parsing, module path/version
rules, module zips and go.sum hashes.

Everything here follows the Go sources (go1.27):
  - txtar:      src/internal/txtar/archive.go (== golang.org/x/tools/txtar)
  - semver:     cmd/vendor/golang.org/x/mod/semver
  - module:     cmd/vendor/golang.org/x/mod/module (paths, escaping, pseudo-versions)
  - zip:        cmd/vendor/golang.org/x/mod/zip (checkFiles / Create)
  - dirhash:    cmd/vendor/golang.org/x/mod/sumdb/dirhash (Hash1)
  - fixtures:   cmd/go/proxy_test.go (readModList, proxyHandler)

Standard library only; runs on the host and inside the upstream containers.
No I/O except load_modules / Module.from_file, which read the files named.
"""

import base64
import datetime
import functools
import hashlib
import io
import json
import os
import posixpath
import re
import unicodedata
import zipfile

__all__ = [
    "FixtureError", "Archive", "parse_txtar", "format_txtar", "fixture_id", "fixture_name",
    "escape_path", "unescape_path", "escape_version", "unescape_version",
    "check_path", "check_file_path", "check_module", "semver_is_valid",
    "semver_compare", "semver_canonical", "semver_prerelease", "semver_build",
    "semver_major", "semver_sort_key", "canonical_version", "is_pseudo_version",
    "major_version_ok", "split_path_version", "check_zip_files", "build_zip",
    "pseudo_version_time", "hash1", "Module", "load_modules", "scan_modules",
    "DEFAULT_TIME", "MAX_ZIP_FILE", "MAX_GO_MOD", "MAX_LICENSE",
]

# Time used in a generated .info when the fixture has none.
DEFAULT_TIME = "2020-01-01T00:00:00Z"

# Limits from golang.org/x/mod/zip. Module-level so tests can lower them.
MAX_ZIP_FILE = 500 << 20
MAX_GO_MOD = 16 << 20
MAX_LICENSE = 16 << 20
# Not a Go rule: the zip format stores a name length in 16 bits.
MAX_ZIP_NAME = 0xFFFF

# Fixed timestamp for every zip entry so zips are byte-for-byte reproducible
# (for a given zlib). Go ignores zip timestamps.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class FixtureError(ValueError):
    """A malformed fixture. str() is "file:line: message" (or "file: message"
    when no line applies)."""

    def __init__(self, filename, line, message):
        self.filename = filename
        self.line = line
        self.message = message
        if line:
            text = "%s:%d: %s" % (filename, line, message)
        else:
            text = "%s: %s" % (filename, message)
        super().__init__(text)


# ---------------------------------------------------------------------------
# txtar

class Archive:
    """A parsed txtar archive.

    comment: text before the first file marker.
    files:   list of (name, data bytes) in archive order.
    lines:   {name: 1-based line number of its file marker}.
    """

    def __init__(self, comment, files, lines=None):
        self.comment = comment
        self.files = files
        self.lines = lines or {}

    def __repr__(self):
        return "Archive(comment=%r, files=%r)" % (self.comment, [n for n, _ in self.files])


def _fix_nl(data):
    if not data or data.endswith(b"\n"):
        return data
    return data + b"\n"


def parse_txtar(text, filename="<txtar>"):
    """Parse a txtar archive (str or bytes) exactly like golang.org/x/tools/txtar,
    but reject things txtar silently accepts and that are always fixture bugs:
    duplicate file names, empty names (`-- --`), CRLF marker lines, names with
    control characters or invalid UTF-8, and archives with no files."""
    if isinstance(text, str):
        data = text.encode("utf-8")
    else:
        data = bytes(text)
    # Split into lines keeping the newlines; txtar treats a missing final
    # newline as present.
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    comment_parts = []
    files = []
    lines = {}
    cur = None  # (name, [line bytes])
    for lineno, line in enumerate(raw_lines, 1):
        name = _marker_name(line, filename, lineno)
        if name is None:
            (cur[1] if cur is not None else comment_parts).append(line + b"\n")
            continue
        if name in lines:
            raise FixtureError(filename, lineno, "duplicate file name %r (first at line %d)"
                               % (name, lines[name]))
        lines[name] = lineno
        cur = (name, [])
        files.append(cur)
    if not files:
        raise FixtureError(filename, 1, "no files in archive (expected '-- name --' marker lines)")
    comment = b"".join(comment_parts).decode("utf-8", "replace")
    return Archive(comment, [(n, b"".join(parts)) for n, parts in files], lines)


def format_txtar(comment, files):
    """Serialize to txtar bytes (txtar.Format), refusing what would not
    parse back identically: file data that is non-empty without a final
    newline, or that contains a line parse_txtar would take as a marker."""
    out = [_fix_nl(comment.encode("utf-8") if isinstance(comment, str) else comment)]
    for name, data in files:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if data and not data.endswith(b"\n"):
            raise ValueError("txtar: %s: data must end with a newline" % name)
        for line in data.split(b"\n"):
            if line.startswith(b"-- ") and (line.endswith(b" --") or line.endswith(b" --\r")):
                raise ValueError("txtar: %s: data contains a file marker line %r" % (name, line))
        out.append(("-- %s --\n" % name).encode("utf-8"))
        out.append(data)
    return b"".join(out)


def _marker_name(line, filename, lineno):
    """Return the file name if line is a txtar file marker, else None.
    Raises FixtureError for lines that look like markers but are broken."""
    if not line.startswith(b"-- "):
        return None
    if line.endswith(b" --\r"):
        raise FixtureError(filename, lineno, "file marker line ends in CR (CRLF line endings?)")
    # Same rule as txtar.isMarker: "-- " prefix, " --" suffix, non-overlapping.
    if not (line.endswith(b" --") and len(line) >= 6):
        # "-- --" is plain content to txtar (the prefix and suffix overlap),
        # but it is surely meant as a marker with a missing name.
        if line == b"-- --":
            raise FixtureError(filename, lineno, "empty file name in marker '-- --'")
        return None
    # Surrounding white space is stripped (strings.TrimSpace).
    raw = line[3:-3]
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FixtureError(filename, lineno, "file name is not valid UTF-8: %r" % raw) from None
    name = name.strip()
    if name == "":
        raise FixtureError(filename, lineno, "empty file name in marker")
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise FixtureError(filename, lineno, "file name %r contains a control character" % name)
    return name


# ---------------------------------------------------------------------------
# semver (golang.org/x/mod/semver)

def _parse_int(v):
    if not v or not ("0" <= v[0] <= "9"):
        return None
    i = 1
    while i < len(v) and "0" <= v[i] <= "9":
        i += 1
    if v[0] == "0" and i != 1:
        return None
    return v[:i], v[i:]


def _is_ident_char(c):
    return "A" <= c <= "Z" or "a" <= c <= "z" or "0" <= c <= "9" or c == "-"


def _is_bad_num(v):
    return v.isascii() and v.isdigit() and len(v) > 1 and v[0] == "0"


def _parse_prerelease(v):
    i = start = 1
    while i < len(v) and v[i] != "+":
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i or _is_bad_num(v[start:i]):
                return None
            start = i + 1
        i += 1
    if start == i or _is_bad_num(v[start:i]):
        return None
    return v[:i], v[i:]


def _parse_build(v):
    i = start = 1
    while i < len(v):
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i:
                return None
            start = i + 1
        i += 1
    if start == i:
        return None
    return v[:i], v[i:]


@functools.lru_cache(maxsize=4096)
def _semver_parse(v):
    """Return (major, minor, patch, short, prerelease, build) or None."""
    if not isinstance(v, str) or not v or v[0] != "v":
        return None
    r = _parse_int(v[1:])
    if r is None:
        return None
    major, v = r
    if v == "":
        return (major, "0", "0", ".0.0", "", "")
    if v[0] != ".":
        return None
    r = _parse_int(v[1:])
    if r is None:
        return None
    minor, v = r
    if v == "":
        return (major, minor, "0", ".0", "", "")
    if v[0] != ".":
        return None
    r = _parse_int(v[1:])
    if r is None:
        return None
    patch, v = r
    pre = build = ""
    if v.startswith("-"):
        r = _parse_prerelease(v)
        if r is None:
            return None
        pre, v = r
    if v.startswith("+"):
        r = _parse_build(v)
        if r is None:
            return None
        build, v = r
    if v != "":
        return None
    return (major, minor, patch, "", pre, build)


def semver_is_valid(v):
    return _semver_parse(v) is not None


def semver_canonical(v):
    p = _semver_parse(v)
    if p is None:
        return ""
    if p[5]:
        return v[:len(v) - len(p[5])]
    return v + p[3]


def semver_major(v):
    p = _semver_parse(v)
    return "" if p is None else v[:1 + len(p[0])]


def semver_prerelease(v):
    p = _semver_parse(v)
    return "" if p is None else p[4]


def semver_build(v):
    p = _semver_parse(v)
    return "" if p is None else p[5]


def _cmp(a, b):
    return (a > b) - (a < b)


def _compare_int(x, y):
    if x == y:
        return 0
    if len(x) != len(y):
        return _cmp(len(x), len(y))
    return _cmp(x, y)


def _compare_prerelease(x, y):
    if x == y:
        return 0
    if x == "":
        return 1
    if y == "":
        return -1
    xs = x[1:].split(".")
    ys = y[1:].split(".")
    for dx, dy in zip(xs, ys):
        if dx == dy:
            continue
        ix = dx.isascii() and dx.isdigit()
        iy = dy.isascii() and dy.isdigit()
        if ix != iy:
            return -1 if ix else 1
        if ix and len(dx) != len(dy):
            return _cmp(len(dx), len(dy))
        return _cmp(dx, dy)
    return _cmp(len(xs), len(ys))


def semver_compare(v, w):
    """semver.Compare: -1, 0 or +1. Invalid versions sort before valid ones."""
    pv, pw = _semver_parse(v), _semver_parse(w)
    if pv is None and pw is None:
        return 0
    if pv is None:
        return -1
    if pw is None:
        return 1
    for a, b in zip(pv[:3], pw[:3]):
        c = _compare_int(a, b)
        if c:
            return c
    return _compare_prerelease(pv[4], pw[4])


def semver_sort_key(v):
    """Sort key equivalent to semver.Sort (Compare, then string order)."""
    return _SEMVER_KEY(v)


_SEMVER_KEY = functools.cmp_to_key(lambda a, b: semver_compare(a, b) or _cmp(a, b))


# ---------------------------------------------------------------------------
# module paths and versions (golang.org/x/mod/module)

_PSEUDO_RE = re.compile(
    r"^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$",
    re.ASCII)

_BAD_WINDOWS_NAMES = {"CON", "PRN", "AUX", "NUL"} | {"COM%d" % i for i in range(1, 10)} \
    | {"LPT%d" % i for i in range(1, 10)}

_MODULE, _IMPORT, _FILE = "module", "import", "file"


def canonical_version(v):
    """module.CanonicalVersion: semver.Canonical but keeping +incompatible."""
    cv = semver_canonical(v)
    if semver_build(v) == "+incompatible":
        cv += "+incompatible"
    return cv


def is_pseudo_version(v):
    return v.count("-") >= 2 and semver_is_valid(v) and _PSEUDO_RE.match(v) is not None


def pseudo_version_time(v):
    """The timestamp of a pseudo-version as RFC 3339 ("2006-01-02T15:04:05Z"),
    or None if v is not a pseudo-version or the timestamp is not a real time."""
    if not is_pseudo_version(v):
        return None
    v = v[:len(v) - len(semver_build(v))]
    v = v[:v.rindex("-")]
    ts = v[max(v.rindex("-"), v.rindex(".")) + 1:]
    try:
        t = datetime.datetime.strptime(ts, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _mod_path_ok(c):
    return c in "-._~" or "0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"


def _file_name_ok(c):
    if c < "\x80":
        return ("0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"
                or c in "!#$%&()+,-.=@[]^_{}~ ")
    return unicodedata.category(c).startswith("L")  # unicode.IsLetter


def _check_elem(elem, kind):
    if elem == "":
        return "empty path element"
    if elem.count(".") == len(elem):
        return "invalid path element %s" % _go_quote(elem)
    if elem[0] == "." and kind == _MODULE:
        return "leading dot in path element"
    if elem[-1] == ".":
        return "trailing dot in path element"
    for c in elem:
        if kind == _MODULE:
            ok = _mod_path_ok(c)
        elif kind == _IMPORT:
            ok = _mod_path_ok(c) or c == "+"
        else:
            ok = _file_name_ok(c)
        if not ok:
            return "invalid char %s" % _go_quote_rune(c)
    short = elem.split(".", 1)[0]
    if short.upper() in _BAD_WINDOWS_NAMES:
        return "%s disallowed as path element component on Windows" % _go_quote(short)
    if kind == _FILE:
        return None
    tilde = short.rfind("~")
    if 0 <= tilde < len(short) - 1:
        suffix = short[tilde + 1:]
        if suffix.isascii() and suffix.isdigit():
            return "trailing tilde and digits in path element"
    return None


def _check_path(path, kind):
    if path == "":
        return "empty string"
    if path[0] == "-" and kind != _FILE:
        return "leading dash"
    if "//" in path:
        return "double slash"
    if path[-1] == "/":
        return "trailing slash"
    for elem in path.split("/"):
        err = _check_elem(elem, kind)
        if err:
            return err
    return None


def _go_quote(s):
    return json.dumps(s, ensure_ascii=False)


def _go_quote_rune(c):
    return "'%s'" % c if c.isprintable() else repr(c)


def _split_gopkg_in(path):
    i = len(path)
    if path.endswith("-unstable"):
        i -= len("-unstable")
    while i > 0 and "0" <= path[i - 1] <= "9":
        i -= 1
    if i <= 1 or path[i - 1] != "v" or path[i - 2] != ".":
        return path, "", False
    prefix, major = path[:i - 2], path[i - 2:]
    if len(major) <= 2 or (major[2] == "0" and major != ".v0"):
        return path, "", False
    return prefix, major, True


def split_path_version(path):
    """module.SplitPathVersion -> (prefix, path_major, ok)."""
    if path.startswith("gopkg.in/"):
        return _split_gopkg_in(path)
    i = len(path)
    dot = False
    while i > 0 and ("0" <= path[i - 1] <= "9" or path[i - 1] == "."):
        if path[i - 1] == ".":
            dot = True
        i -= 1
    if i <= 1 or i == len(path) or path[i - 1] != "v" or path[i - 2] != "/":
        return path, "", True
    prefix, major = path[:i - 2], path[i - 2:]
    if dot or len(major) <= 2 or major[2] == "0" or major == "/v1":
        return path, "", False
    return prefix, major, True


def check_path(path):
    """module.CheckPath. Raises ValueError("malformed module path ...")."""
    err = _check_path(path, _MODULE)
    if err is None:
        first = path.split("/", 1)[0]
        if first == "":
            err = "leading slash"
        elif "." not in first:
            err = "missing dot in first path element"
        elif path[0] == "-":
            err = "leading dash in first path element"
        else:
            for c in first:
                if not (c in "-." or "0" <= c <= "9" or "a" <= c <= "z"):
                    err = "invalid char %s in first path element" % _go_quote_rune(c)
                    break
        if err is None and not split_path_version(path)[2]:
            err = "invalid version"
    if err:
        raise ValueError("malformed module path %s: %s" % (_go_quote(path), err))


def check_file_path(path):
    """module.CheckFilePath. Raises ValueError("malformed file path ...")."""
    err = _check_path(path, _FILE)
    if err:
        raise ValueError("malformed file path %s: %s" % (_go_quote(path), err))


def _check_path_major(v, path_major):
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major[:-len("-unstable")]
    if v.startswith("v0.0.0-") and path_major == ".v1":
        return None
    m = semver_major(v)
    if path_major == "":
        if m in ("v0", "v1") or semver_build(v) == "+incompatible":
            return None
        path_major = "v0 or v1"
    elif path_major[0] in "/.":
        if m == path_major[1:]:
            return None
        path_major = path_major[1:]
    return "should be %s, not %s" % (path_major, m)


def check_module(path, version, major=True):
    """module.Check plus the zip rule that the version is canonical.
    With major=False the major-version suffix rule is skipped (see
    major_version_ok). Raises ValueError."""
    check_path(path)
    if not semver_is_valid(version):
        raise ValueError("%s@%s: invalid version: not a semantic version" % (path, version))
    canon = canonical_version(version)
    if canon != version:
        raise ValueError("%s@%s: version is not canonical (should be %s)" % (path, version, canon))
    if major:
        err = _check_path_major(version, split_path_version(path)[1])
        if err:
            raise ValueError("%s@%s: invalid version: %s" % (path, version, err))


def major_version_ok(path, version):
    """Whether version's major version fits path's /vN suffix
    (module.CheckPathMajor): v2.0.0 for "example.com/m" is not ok, but
    v2.0.0+incompatible is."""
    return _check_path_major(version, split_path_version(path)[1]) is None


def _escape_string(s):
    return "".join("!" + c.lower() if "A" <= c <= "Z" else c for c in s)


def _unescape_string(s):
    out = []
    bang = False
    for c in s:
        if c >= "\x80":
            return None
        if bang:
            bang = False
            if not "a" <= c <= "z":
                return None
            out.append(c.upper())
        elif c == "!":
            bang = True
        elif "A" <= c <= "Z":
            return None
        else:
            out.append(c)
    return None if bang else "".join(out)


def escape_path(path):
    """module.EscapePath: "github.com/Azure/x" -> "github.com/!azure/x".
    Raises ValueError for an invalid module path."""
    check_path(path)
    return _escape_string(path)


def unescape_path(escaped):
    """module.UnescapePath. Raises ValueError."""
    path = _unescape_string(escaped)
    if path is None:
        raise ValueError("invalid escaped module path %s" % _go_quote(escaped))
    try:
        check_path(path)
    except ValueError as e:
        raise ValueError("invalid escaped module path %s: %s" % (_go_quote(escaped), e)) from None
    return path


def escape_version(v):
    """module.EscapeVersion: "v1.0.0-RC1" -> "v1.0.0-!r!c1". Raises ValueError."""
    if _check_elem(v, _FILE) or "!" in v:
        raise ValueError("version %s invalid: disallowed version string" % _go_quote(v))
    return _escape_string(v)


def unescape_version(escaped):
    """module.UnescapeVersion. Raises ValueError."""
    v = _unescape_string(escaped)
    if v is None:
        raise ValueError("invalid escaped version %s" % _go_quote(escaped))
    err = _check_elem(v, _FILE)
    if err:
        raise ValueError("invalid escaped version %s: %s" % (_go_quote(v), err))
    return v


# ---------------------------------------------------------------------------
# fixture names

def fixture_id(filename):
    """Map a fixture file name to (module_path, version) like cmd/go/proxy_test.go:
    "example.com_!foo_v2_v2.0.0-!r!c1.txt" -> ("example.com/Foo/v2", "v2.0.0-RC1").
    Unlike Go's test proxy (which silently skips bad names), raise FixtureError
    for an invalid path, a version that is not valid canonical semver, or a
    name without "_v". A major version that does not match the path
    ("example.com_m_v2.0.0.txt") is allowed, as in Go's own fixtures: the
    go command must reject such a version itself (Module.major_ok is False)."""
    base = os.path.basename(filename)
    name = base[:-len(".txt")] if base.endswith(".txt") else base
    i = name.rfind("_v")
    if i < 0:
        raise FixtureError(base, 0, "file name has no _v<version> suffix (want <path with / as _>_<version>.txt)")
    enc_path = name[:i].replace("_", "/")
    try:
        path = unescape_path(enc_path)
        version = unescape_version(name[i + 1:])
        check_module(path, version, major=False)
    except ValueError as e:
        raise FixtureError(base, 0, "bad fixture name: %s" % e) from None
    return path, version


def fixture_name(path, version):
    """Inverse of fixture_id: the .txt file name for path@version."""
    return escape_path(path).replace("/", "_") + "_" + escape_version(version) + ".txt"


# ---------------------------------------------------------------------------
# hashing (golang.org/x/mod/sumdb/dirhash)

def hash1(files):
    """dirhash.Hash1 over an iterable of (name, data bytes)."""
    summary = hashlib.sha256()
    # Go sorts names as byte strings; UTF-8 byte order == code point order.
    for name, data in sorted(files, key=lambda f: f[0].encode("utf-8")):
        if "\n" in name:
            raise ValueError("dirhash: filenames with newlines are not supported")
        summary.update(("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name)).encode("utf-8"))
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


# ---------------------------------------------------------------------------
# module zips (golang.org/x/mod/zip)

@functools.lru_cache(maxsize=8192)
def _fold_rune(c):
    """Smallest rune in c's simple case-folding orbit (unicode.SimpleFold),
    approximated with Python's single-character case mappings."""
    seen = {c}
    todo = [c]
    while todo:
        x = todo.pop()
        for y in (x.lower(), x.upper(), x.casefold(), x.title()):
            if len(y) == 1 and y not in seen:
                seen.add(y)
                todo.append(y)
    r = min(seen)
    if "A" <= r <= "Z":
        r = r.lower()
    return r


def _str_to_fold(s):
    """zip.strToFold: EqualFold(s, t) iff _str_to_fold(s) == _str_to_fold(t)."""
    if s.isascii():
        return s.lower()
    return "".join(_fold_rune(c) for c in s)


_GO_DIRECTIVE_RE = re.compile(r"^\s*go\s+(?:\"([^\"]*)\"|(\S+))")
_GO_VERSION_RE = re.compile(r"^1\.(\d+)(?:\.(\d+))?(?:(?:rc|beta)\d+)?$")


def _go_lang(gomod):
    """The go directive's language version as (1, minor), or None.
    Approximates version.Lang(parseGoVers(go.mod))."""
    for line in gomod.decode("utf-8", "replace").splitlines():
        line = line.split("//", 1)[0]
        m = _GO_DIRECTIVE_RE.match(line)
        if m:
            vm = _GO_VERSION_RE.match(m.group(1) or m.group(2))
            return (1, int(vm.group(1))) if vm else None
    return None


def _is_vendored_package(name, lang):
    """zip.isVendoredPackage, including the pre-go1.24 "/vendor/" quirk."""
    new = lang is not None and lang >= (1, 24)
    if new and name == "vendor/modules.txt":
        return True
    if name.startswith("vendor/"):
        i = len("vendor/")
    else:
        j = name.find("/vendor/")
        if j < 0:
            return False
        # Before go1.24 this skipped only len("/vendor/") bytes from the start
        # of the name (golang.org/issue/37397); kept because it changes hashes.
        i = j + len("/vendor/") if new else len("/vendor/")
    return "/" in name[i:]


def check_zip_files(files, filename="<fixture>", lines=None, prefix=""):
    """Apply the golang.org/x/mod/zip rules to [(relative name, data)].

    Files that zip.Create would silently omit (vendored packages, nested
    modules, .hg_archival.txt) are errors here: a fixture that contains them
    would not hash the way its author expects. Raises FixtureError naming the
    file (and the line of its txtar marker)."""
    lines = lines or {}

    def fail(p, msg):
        raise FixtureError(filename, lines.get(p, 0), "%s: %s" % (p, msg))

    lang = None
    module_dirs = set()  # directories (with trailing /) holding a go.mod
    for p, data in files:
        d, base = posixpath.split(p)
        if base.lower() == "go.mod":
            module_dirs.add(d + "/" if d else "")
            if p == "go.mod":
                lang = _go_lang(data)
    module_dirs.discard("")

    def in_submodule(p):
        while True:
            d = posixpath.dirname(p)
            if d == "":
                return False
            if d + "/" in module_dirs:
                return True
            p = d

    seen = {}  # folded path -> (original path, is_dir)

    def collide(p, is_dir):
        fold = _str_to_fold(p)
        other = seen.get(fold)
        if other is not None:
            if other[0] != p:
                return "case-insensitive file name collision: %s and %s" % (_go_quote(other[0]), _go_quote(p))
            if other[1] != is_dir:
                return "entry %s is both a file and a directory" % _go_quote(p)
            if not is_dir:
                return "multiple entries for file %s" % _go_quote(p)
        else:
            seen[fold] = (p, is_dir)
        parent = posixpath.dirname(p)
        return collide(parent, True) if parent else None

    remaining = MAX_ZIP_FILE
    for p, data in files:
        if p.startswith("/"):
            fail(p, "file path is not relative (Go's test proxy treats a leading / as a raw zip "
                    "name; not supported here)")
        if p != posixpath.normpath(p):
            fail(p, "file path is not clean")
        if _is_vendored_package(p, lang):
            fail(p, "file is in vendor directory (the go command omits it from module zips)")
        if in_submodule(p):
            fail(p, "file is in another module (a subdirectory has a go.mod; the go command omits it)")
        if p == ".hg_archival.txt":
            fail(p, "file is inserted by 'hg archive' and is always omitted")
        try:
            check_file_path(p)
        except ValueError as e:
            fail(p, str(e))
        if p.lower() == "go.mod" and p != "go.mod":
            fail(p, "go.mod files must have lowercase names")
        err = collide(p, False)
        if err:
            fail(p, err)
        if len((prefix + p).encode("utf-8")) > MAX_ZIP_NAME:
            fail(p, "zip entry name longer than %d bytes" % MAX_ZIP_NAME)
        if len(data) > remaining:
            fail(p, "module source tree too large (max size is %d bytes)" % MAX_ZIP_FILE)
        remaining -= len(data)
        if p == "go.mod" and len(data) > MAX_GO_MOD:
            fail(p, "go.mod file too large (max size is %d bytes)" % MAX_GO_MOD)
        if p == "LICENSE" and len(data) > MAX_LICENSE:
            fail(p, "LICENSE file too large (max size is %d bytes)" % MAX_LICENSE)


def build_zip(path, version, files):
    """Module zip bytes for already-checked [(relative name, data)]:
    entries "<path>@<version>/<name>", sorted, deflated, fixed timestamps."""
    prefix = "%s@%s/" % (path, version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in sorted(files, key=lambda f: f[0].encode("utf-8")):
            zi = zipfile.ZipInfo(prefix + name, date_time=_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3  # Unix, regardless of the building host
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data, compresslevel=6)
    return buf.getvalue()


class Module:
    """One module version built from a txtar fixture.

    Sections named ".info" and ".mod" are the proxy's .info and .mod answers;
    every other section is a file of the module zip. Missing .info becomes
    {"Version": v, "Time": DEFAULT_TIME} (a pseudo-version's own timestamp for
    pseudo-versions); missing .mod becomes the zip's go.mod, else
    "module <path>\\n" (modfetch.LegacyGoMod).

    All validation happens in the constructor, so a Module that exists can
    always produce its zip.
    """

    def __init__(self, path, version, files, info=None, mod=None, filename=None, lines=None):
        self.filename = filename or fixture_name(path, version)
        try:
            check_module(path, version, major=False)
        except ValueError as e:
            raise FixtureError(self.filename, 0, str(e)) from None
        self.path = path
        self.version = version
        # False for e.g. example.com/m@v2.0.0: served when asked for by name,
        # never listed (like Go's test proxy), rejected by the go command.
        self.major_ok = major_version_ok(path, version)
        self.files = [(n, bytes(d)) for n, d in files]
        self.lines = dict(lines or {})
        check_zip_files(self.files, self.filename, self.lines, self.zip_prefix)
        gomod = dict(self.files).get("go.mod")
        self._explicit = (info is not None, mod is not None)
        if info is None:
            t = pseudo_version_time(version) or DEFAULT_TIME
            info = json.dumps({"Version": version, "Time": t}, separators=(",", ":")).encode()
        if mod is None:
            mod = gomod if gomod is not None else ("module %s\n" % path).encode()
        self.info = bytes(info)
        self.mod = bytes(mod)
        self._zip = None
        self._h1 = None

    @classmethod
    def from_txtar(cls, filename, text, path=None, version=None):
        """Build from txtar text. path/version default to fixture_id(filename)."""
        if path is None or version is None:
            path, version = fixture_id(filename)
        name = os.path.basename(filename)
        ar = parse_txtar(text, name)
        info = mod = None
        files = []
        for fname, data in ar.files:
            if fname == ".info":
                info = data
            elif fname == ".mod":
                mod = data
            elif fname == ".zip":
                raise FixtureError(name, ar.lines[fname], "a '.zip' section is not supported "
                                   "(serve raw bytes with a faults.json 'body' rule)")
            else:
                files.append((fname, data))
        return cls(path, version, files, info=info, mod=mod, filename=name, lines=ar.lines)

    @classmethod
    def from_file(cls, fs_path):
        with open(fs_path, "rb") as f:
            return cls.from_txtar(fs_path, f.read())

    def __repr__(self):
        return "Module(%s@%s)" % (self.path, self.version)

    def to_txtar(self, comment=""):
        """Fixture text for this module (.info/.mod sections only if they were
        given explicitly); save it as fixture_name(path, version)."""
        files = []
        if self._explicit[0]:
            files.append((".info", self.info))
        if self._explicit[1]:
            files.append((".mod", self.mod))
        return format_txtar(comment, files + self.files)

    @property
    def zip_prefix(self):
        return "%s@%s/" % (self.path, self.version)

    def zip_files(self):
        """[(name inside the zip, data)], as hashed and zipped."""
        return [(self.zip_prefix + n, d) for n, d in self.files]

    def zip_bytes(self):
        if self._zip is None:
            self._zip = build_zip(self.path, self.version, self.files)
        return self._zip

    def h1(self):
        """go.sum hash of the module zip contents (dirhash.Hash1)."""
        if self._h1 is None:
            self._h1 = hash1(self.zip_files())
        return self._h1

    def h1_mod(self):
        """go.sum hash for the "<path> <version>/go.mod" line: Hash1 over a
        single file named "go.mod" holding the .mod answer."""
        return hash1([("go.mod", self.mod)])

    def gosum_lines(self):
        """The two go.sum lines (no trailing newlines)."""
        return ["%s %s %s" % (self.path, self.version, self.h1()),
                "%s %s/go.mod %s" % (self.path, self.version, self.h1_mod())]


def scan_modules(directory):
    """Lenient loader for servers: returns (modules, errors) where modules is
    {(path, version): Module} and errors is a list of (filename, path or None,
    version or None, FixtureError). Only *.txt files are read."""
    modules = {}
    errors = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return modules, errors
    for name in names:
        if not name.endswith(".txt"):
            continue
        path = version = None
        try:
            path, version = fixture_id(name)
            m = Module.from_file(os.path.join(directory, name))
            key = (m.path, m.version)
            if key in modules:
                raise FixtureError(name, 0, "%s@%s already defined by %s"
                                   % (m.path, m.version, modules[key].filename))
            modules[key] = m
        except FixtureError as e:
            errors.append((name, path, version, e))
        except OSError as e:
            errors.append((name, path, version, FixtureError(name, 0, "cannot read: %s" % e)))
    return modules, errors


def load_modules(directory):
    """Strict loader: {(path, version): Module} from directory/*.txt; raises
    the first FixtureError."""
    modules, errors = scan_modules(directory)
    if errors:
        raise errors[0][3]
    return modules
