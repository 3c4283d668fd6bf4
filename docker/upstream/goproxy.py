"""The GOPROXY role: serves state/modules/*.txt over the module proxy
protocol (https://go.dev/ref/mod#goproxy-protocol).

  GET /$mod/@v/list           tagged versions (no pseudo-versions), semver order
  GET /$mod/@v/$ver.info      .info section (or a generated one)
  GET /$mod/@v/$ver.mod       .mod section, else the zip's go.mod, else "module $mod"
  GET /$mod/@v/$ver.zip       module zip
  GET /$mod/@latest           .info of the latest version: highest release,
                              else highest prerelease, else highest pseudo-version
  GET /sumdb/<name>/supported 200 (empty body) if state/sumdb-proxy.json names
                              the database <name>, else 404
  GET /sumdb/<name>/<rest>    forwarded to that database (below), else 404

$mod and $ver use the "!" case escaping. Unknown modules and versions get
404 with a "not found: ..." text body, as proxy.golang.org does. A fixture
that fails to load makes the requests that need its module answer 500 with
the error (and is logged to stderr); it never stops the server.

Like Go's own test proxy (cmd/go/proxy_test.go): a version whose major
version does not fit the path (example.com/m@v2.0.0) is served when asked
for by name but never listed nor returned by @latest, and an all-hex
"version" (a commit hash) resolves to the highest version whose
pseudo-version revision or .info "Short"/"Name"/Origin.Hash matches.

Proxying a checksum database: state/sumdb-proxy.json is
    {"<db name>": "<base URL of the DB, e.g. https://sum.corp.test>", ...}
(re-read on change; no file = proxy no database; half-written JSON keeps the
previous content; valid JSON of the wrong shape makes every /sumdb/ request
answer 500 with the reason). For a listed name, /sumdb/<name>/supported
answers 200 with an empty body, and /sumdb/<name>/<rest>[?query] is fetched
from <base>/<rest>[?query] with urllib (timeout SUMDB_TIMEOUT = 10 s per
socket operation, environment proxies ignored, redirects followed as Go's
http.Client would): status, Content-Type and body are relayed as they are
(a DB 404/410 stays a 404/410). An https base is verified against
state/tls/ca.pem when that file exists (that CA only), else against the
system store. A failure to get any answer (refused, DNS, timeout, TLS,
truncated body...) is a 502 whose text/plain body says what happened. The
supported answer does not depend on the DB being reachable.

Prebuilt module versions (too big for a txtar fixture, e.g. a Go toolchain
module golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64) are files laid out
as the protocol's URLs: state/prebuilt/<escaped path>/@v/<escaped version>.
{info,mod,zip}, served as they are, before any fixture of the same version,
and listed by /@v/list beside the fixtures' versions. The checksum DB role
reads its record for such a version from the .gosum file beside them
(prebuilt_file()).

Being a module's origin: state/goimport.json is
    {"<module path prefix>": "<vcs> <repo URL>", ...}   e.g. {"example.com/lib": "mod https://origin.corp.test"}
and a GET of https://<host>/<path>?go-get=1 whose import path <host>/<path>
lies under a listed prefix answers the HTML page with
<meta name="go-import" content="<prefix> <vcs> <repo URL>"> that `direct`
mode asks for (https://go.dev/ref/mod#vcs-find). The "mod" vcs tells go to
use the module proxy protocol at that URL, so an upstream can be a module's
origin without git. Unlisted paths answer 404 as before.

What the go command does with this (cmd/go/internal/modfetch/sumdb.go,
dbClient.initBase, go1.27), only when GOSUMDB has no URL ("<key>" alone):
once per go invocation, and only when it needs something not already in
GOMODCACHE/cache/download/sumdb, it walks GOPROXY in order (TryProxies) and
GETs <proxy>/sumdb/<name>/supported:
  * 200: the proxy is used for every database request from then on
    (<proxy>/sumdb/<name>/lookup/..., /tile/...); never a direct connection.
  * 404 or 410 (fs.ErrNotExist): next GOPROXY entry; when none is left, or
    the entry is "direct" or "off", go connects straight to https://<name>
    (so with a name like sum.corp.test, the name must resolve and serve TLS).
  * any other status, or a network error: the database is unavailable and
    every verification fails with that error ("verifying module: ...:
    reading <proxy>/sumdb/<name>/supported: 500 Internal Server Error"),
    unless that GOPROXY entry is followed by "|" (fall back on any error),
    in which case the next entry is tried the same way.
With GOSUMDB="<key> <url>" the proxy is bypassed entirely (no /supported).

Attacking the proxied database: state/sumdb-attack.json names an attack of
upstreamlib/sumdb_attacks/ (its format is there; null or no file: none) run
on the /sumdb/<name>/ requests of that database, against one module version
this proxy serves: the attack gets the go.sum lines of what this proxy serves
for it (the prebuilt version's .gosum file, else the fixture's lines) and the
honest database through the forwarding above. A bad file makes every /sumdb/
request answer 500 with the reason; an attack that cannot get what it builds
on from the honest database answers 502.
"""

import json
import os
import re
import ssl
import threading
import urllib.parse

from upstreamlib import gomod
from httpfault import JSONFile, Response, Upstream, _file_sig, text_response

CT_JSON = "application/json"
CT_TEXT = "text/plain; charset=UTF-8"
CT_ZIP = "application/zip"

_HEX_RE = re.compile(r"^[0-9a-f]+$")

SUMDB_TIMEOUT = 10  # seconds, per socket operation, when forwarding to a checksum DB

# Characters Go's url.URL.EscapedPath leaves alone in a path.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


_GET = type("GET", (), {"command": "GET"})()    # what _forward reads of a request: its method


def _not_found(msg):
    return text_response(404, "not found: %s\n" % msg, CT_TEXT)


class ModuleSet:
    """The modules in a directory, rescanned when the listing or any file's
    stat changes. Unchanged files keep their Module objects (and so their
    built zips)."""

    def __init__(self, directory, log):
        self.dir = directory
        self.log = log
        self.lock = threading.Lock()
        self.sig = None
        self.files = {}          # name -> (stat sig, Module | None, FixtureError | None, path, version)
        self.modules = {}        # (path, version) -> Module
        self.by_path = {}        # path -> [Module]
        self.errors = {}         # (path, version) -> FixtureError
        self.path_errors = {}    # path -> [FixtureError]

    def _stat_all(self):
        try:
            names = os.listdir(self.dir)
        except OSError:
            return {}
        out = {}
        for name in names:
            if not name.endswith(".txt"):
                continue
            try:
                st = os.stat(os.path.join(self.dir, name))
            except OSError:
                continue
            out[name] = (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino)
        return out

    def refresh(self):
        with self.lock:
            stats = self._stat_all()
            sig = tuple(sorted(stats.items()))
            if sig == self.sig:
                return
            files = {}
            for name, st in stats.items():
                old = self.files.get(name)
                if old is not None and old[0] == st:
                    files[name] = old
                    continue
                files[name] = (st,) + self._load(name)
            self.files = files
            self.sig = sig
            self._index()

    def _load(self, name):
        """-> (Module | None, FixtureError | None, path | None, version | None)"""
        path = version = None
        try:
            path, version = gomod.fixture_id(name)
            return gomod.Module.from_file(os.path.join(self.dir, name)), None, path, version
        except gomod.FixtureError as e:
            err = e
        except OSError as e:
            err = gomod.FixtureError(name, 0, "cannot read fixture: %s" % e)
        if path is None:
            # Still tie the error to a module path when the name allows it,
            # so that list/@latest for that module fail loudly too.
            base = name[:-len(".txt")]
            i = base.rfind("_v")
            if i > 0:
                try:
                    path = gomod.unescape_path(base[:i].replace("_", "/"))
                except ValueError:
                    pass
        self.log("fixture error: %s" % err)
        return None, err, path, version

    def _index(self):
        self.modules, self.by_path, self.errors, self.path_errors = {}, {}, {}, {}
        for name in sorted(self.files):
            _, mod, err, path, version = self.files[name]
            if mod is not None:
                self.modules[(mod.path, mod.version)] = mod
                self.by_path.setdefault(mod.path, []).append(mod)
            else:
                if path is not None and version is not None:
                    self.errors[(path, version)] = err
                if path is not None:
                    self.path_errors.setdefault(path, []).append(err)

    def snapshot(self):
        self.refresh()
        with self.lock:
            return self.modules, self.by_path, self.errors, self.path_errors


def latest_version(versions):
    """Go's proxy "latest": the highest release, else the highest
    prerelease, else the highest pseudo-version, else None."""
    release, pre, pseudo = [], [], []
    for v in versions:
        if gomod.is_pseudo_version(v):
            pseudo.append(v)
        elif gomod.semver_prerelease(v):
            pre.append(v)
        else:
            release.append(v)
    for group in (release, pre, pseudo):
        if group:
            return max(group, key=gomod.semver_sort_key)
    return None


def _revision_ids(mod):
    """Commit-ish identifiers a module version answers to."""
    ids = []
    if gomod.is_pseudo_version(mod.version):
        v = mod.version[:len(mod.version) - len(gomod.semver_build(mod.version))]
        ids.append(v[v.rindex("-") + 1:])
    try:
        info = json.loads(mod.info)
    except ValueError:
        info = None
    if isinstance(info, dict):
        for key in ("Short", "Name"):
            if isinstance(info.get(key), str):
                ids.append(info[key])
        origin = info.get("Origin")
        if isinstance(origin, dict) and isinstance(origin.get("Hash"), str):
            ids.append(origin["Hash"])
    return [i for i in ids if i]


def prebuilt_file(state_dir, mpath, version, ext):
    """The file of a prebuilt module version (see above), or None."""
    name = os.path.join(state_dir, "prebuilt", gomod.escape_path(mpath), "@v",
                        "%s.%s" % (gomod.escape_version(version), ext))
    return name if os.path.isfile(name) else None


def prebuilt_versions(state_dir, mpath):
    try:
        names = os.listdir(os.path.join(state_dir, "prebuilt", gomod.escape_path(mpath), "@v"))
    except (OSError, ValueError):
        return []
    return [gomod.unescape_version(n[:-len(".info")]) for n in names if n.endswith(".info")]


def _sumdb_attacks():
    """upstreamlib.sumdb_attacks, imported when a case first lies (its attacks and the checksum DB's code are a
    third of a start's imports, which every case's proxy waits for)."""
    from upstreamlib import sumdb_attacks
    return sumdb_attacks


def parse_goimport(data):
    """state/goimport.json: {"<module path prefix>": "<vcs> <repo URL>"}."""
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v.split()) == 2 for k, v in data.items()):
        raise ValueError('goimport.json must map a module path prefix to "<vcs> <repo URL>"')
    return data


def parse_sumdb_proxy(data):
    """sumdb-proxy.json -> {db name: base URL without trailing slash}."""
    if not isinstance(data, dict):
        raise ValueError('must hold a JSON object {"<db name>": "<base URL>"}')
    out = {}
    for name, base in data.items():
        if not name or name.startswith("/") or name.endswith("/") or any(c.isspace() for c in name):
            raise ValueError("bad database name %r" % name)
        if not isinstance(base, str):
            raise ValueError("URL for %r is not a string" % name)
        u = urllib.parse.urlsplit(base)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise ValueError("URL for %r must be http:// or https://host[:port][/path], not %r" % (name, base))
        out[name] = base.rstrip("/")
    return out


class GoProxy(Upstream):
    role = "goproxy"

    def __init__(self, state_dir, **kw):
        super().__init__(state_dir, **kw)
        self.modset = ModuleSet(os.path.join(self.state_dir, "modules"), self.log)
        self.sumdb_proxy = JSONFile(os.path.join(self.state_dir, "sumdb-proxy.json"),
                                    parse_sumdb_proxy, {}, self.log)
        self.goimport = JSONFile(os.path.join(self.state_dir, "goimport.json"), parse_goimport, {}, self.log)
        self.sumdb_attack = JSONFile(os.path.join(self.state_dir, "sumdb-attack.json"),
                                     lambda data: _sumdb_attacks().parse_config(data), None, self.log)
        self._attack = None          # the sumdb_attacks.Context of the config in force
        self._attack_lock = threading.Lock()
        self._ssl_lock = threading.Lock()
        self._ssl = (None, None)  # (ca.pem signature, SSLContext)

    def start(self):
        os.makedirs(self.modset.dir, exist_ok=True)
        self.modset.refresh()  # report fixture errors at start-up
        return super().start()

    def answer(self, handler, path):
        p = path.lstrip("/")
        if handler.query.get("go-get") == ["1"]:
            host = (handler.headers.get("Host") or "").split(":")[0]
            return self._go_import("%s/%s" % (host, p) if p else host)
        if p == "sumdb" or p.startswith("sumdb/"):
            return self._sumdb(handler, path)
        if p.endswith("/@latest"):
            return self._latest(p[:-len("/@latest")])
        enc, sep, file = p.partition("/@v/")
        if not sep or not enc:
            return _not_found(path)
        try:
            mpath = gomod.unescape_path(enc)
        except ValueError as e:
            return _not_found(str(e))
        if file == "list":
            return self._list(mpath)
        enc_ver, dot, ext = file.rpartition(".")
        if not dot or ext not in ("info", "mod", "zip"):
            return _not_found(path)
        try:
            version = gomod.unescape_version(enc_ver)
        except ValueError as e:
            return _not_found("%s: %s" % (mpath, e))
        return self._file(mpath, version, ext)

    def _go_import(self, p):
        """The go-get discovery page of an origin for import path p = <Host>/<URL path> (see
        state/goimport.json above)."""
        roots, err = self.goimport.get()
        if err:
            return text_response(500, err + "\n", CT_TEXT)
        for prefix in sorted(roots, key=len, reverse=True):
            if p == prefix or p.startswith(prefix + "/"):
                page = ('<!DOCTYPE html>\n<html><head>\n<meta name="go-import" content="%s %s">\n'
                        "</head><body>go get %s</body></html>\n" % (prefix, roots[prefix], p))
                return Response(200, {"Content-Type": "text/html; charset=utf-8"}, page)
        return _not_found("%s: no go-import for this path" % p)

    def _versions(self, mpath):
        """(modules of mpath, error response or None)"""
        _, by_path, _, path_errors = self.modset.snapshot()
        if mpath in path_errors:
            return None, text_response(500, "".join("%s\n" % e for e in path_errors[mpath]), CT_TEXT)
        return by_path.get(mpath), None

    def _list(self, mpath):
        mods, err = self._versions(mpath)
        if err:
            return err
        prebuilt = prebuilt_versions(self.state_dir, mpath)
        if not mods and not prebuilt:
            return _not_found("module %s: no such module on this proxy" % mpath)
        versions = sorted({m.version for m in mods or () if m.major_ok and not gomod.is_pseudo_version(m.version)}
                          | set(prebuilt), key=gomod.semver_sort_key)
        return Response(200, {"Content-Type": CT_TEXT}, "".join(v + "\n" for v in versions))

    def _latest(self, enc):
        try:
            mpath = gomod.unescape_path(enc)
        except ValueError as e:
            return _not_found(str(e))
        mods, err = self._versions(mpath)
        if err:
            return err
        candidates = {m.version: m for m in mods or () if m.major_ok}
        latest = latest_version(candidates)
        if latest is None:
            return _not_found('module %s: no matching versions for query "latest"' % mpath)
        return Response(200, {"Content-Type": CT_JSON}, candidates[latest].info)

    def _file(self, mpath, version, ext):
        prebuilt = prebuilt_file(self.state_dir, mpath, version, ext)
        if prebuilt:
            with open(prebuilt, "rb") as f:
                return Response(200, {"Content-Type": {"info": CT_JSON, "mod": CT_TEXT, "zip": CT_ZIP}[ext]}, f.read())
        modules, by_path, errors, _ = self.modset.snapshot()
        if (mpath, version) in errors:
            return text_response(500, "%s\n" % errors[(mpath, version)], CT_TEXT)
        mod = modules.get((mpath, version))
        if mod is None and _HEX_RE.match(version):
            best = None
            for m in by_path.get(mpath, ()):
                if any(h.startswith(version) or version.startswith(h) for h in _revision_ids(m)):
                    if best is None or gomod.semver_compare(m.version, best.version) > 0:
                        best = m
            mod = best
        if mod is None:
            return _not_found("%s@%s: invalid version: unknown revision %s" % (mpath, version, version))
        if ext == "info":
            return Response(200, {"Content-Type": CT_JSON}, mod.info)
        if ext == "mod":
            return Response(200, {"Content-Type": CT_TEXT}, mod.mod)
        return Response(200, {"Content-Type": CT_ZIP}, mod.zip_bytes())

    # -- checksum database proxying --------------------------------------

    def _sumdb(self, handler, path):
        dbs, err = self.sumdb_proxy.get()
        if err:
            return text_response(500, "gotraps: bad state/%s\n" % err, CT_TEXT)
        # Longest name first: names may contain "/" (localhost.localdev/sumdb).
        for name in sorted(dbs, key=len, reverse=True):
            prefix = "/sumdb/%s/" % name
            if path.startswith(prefix):
                break
        else:
            return _not_found(path)
        split = urllib.parse.urlsplit(handler.path)
        if split.path.startswith(prefix):
            rest = split.path[len(prefix):]  # as sent
        else:  # the client percent-encoded part of the name
            rest = urllib.parse.quote(path[len(prefix):], safe=_PATH_SAFE)
        if rest == "supported":
            return Response(200, {"Content-Type": CT_TEXT}, b"")
        attacked = self._attacked(handler, name, dbs[name], rest)
        if attacked is not None:
            return attacked
        url = dbs[name] + "/" + rest + ("?" + split.query if split.query else "")
        return self._forward(handler, name, url)

    def _attacked(self, handler, name, base, rest):
        """The answer of the attack in force on database `name` (state/sumdb-attack.json), or None."""
        config, err = self.sumdb_attack.get()
        if err:
            return text_response(500, "gotraps: bad state/%s\n" % err, CT_TEXT)
        if config is None or config["db"] != name:
            return None
        with self._attack_lock:
            if self._attack is None or self.sumdb_attack.changed:     # each write of the file: a fresh attack
                self.sumdb_attack.changed = False
                path, version = config["module"].split("@")
                lines = self._gosum_lines(path, version)
                if lines is None:
                    return text_response(500, "gotraps: sumdb-attack.json: this proxy serves no %s\n"
                                         % config["module"], CT_TEXT)

                def forward(r, get=_GET):
                    resp = self._forward(get, name, base + "/" + r)
                    return resp.status, dict(resp.headers).get("Content-Type"), resp.body
                self._attack = _sumdb_attacks().Context(config, lines, forward)
            attack = self._attack
        try:
            answer = attack.serve(rest)
        except _sumdb_attacks().AttackError as e:
            return text_response(502, "gotraps goproxy: sumdb attack %s: %s\n" % (config["attack"], e), CT_TEXT)
        if answer is None:
            return None
        status, ctype, body = answer
        return Response(status, {"Content-Type": ctype} if ctype else {}, body)

    def _gosum_lines(self, mpath, version):
        """The go.sum lines (record text) of what this proxy serves for mpath@version, or None."""
        prebuilt = prebuilt_file(self.state_dir, mpath, version, "gosum")
        if prebuilt:
            with open(prebuilt, "rb") as f:
                return f.read()
        mod = self.modset.snapshot()[0].get((mpath, version))
        return None if mod is None else "".join(line + "\n" for line in mod.gosum_lines())

    def _ssl_context(self):
        ca = os.path.join(self.state_dir, "tls", "ca.pem")
        sig = _file_sig(ca)
        with self._ssl_lock:
            if self._ssl[1] is None or self._ssl[0] != sig:
                ctx = ssl.create_default_context(cafile=ca if sig is not None else None)
                self._ssl = (sig, ctx)
            return self._ssl[1]

    def _forward(self, handler, name, url):
        import urllib.error, urllib.request   # noqa: E401 (here: a fifth of a start's imports, for a rare request)
        method = "HEAD" if handler.command == "HEAD" else "GET"
        req = urllib.request.Request(url, method=method, headers={
            "User-Agent": "gotraps-goproxy (forwarding checksum database %s)" % name})
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                 urllib.request.HTTPSHandler(context=self._ssl_context()))
            try:
                resp = opener.open(req, timeout=SUMDB_TIMEOUT)
            except urllib.error.HTTPError as e:
                resp = e  # a non-2xx answer: relay it too
            with resp:
                status = resp.status if hasattr(resp, "status") else resp.code
                ctype = resp.headers.get("Content-Type")
                body = resp.read()
        except Exception as e:  # noqa: BLE001 - anything short of an answer is a 502
            reason = getattr(e, "reason", None) or e
            msg = "gotraps goproxy: checksum database %s: GET %s: %s: %s\n" % (
                name, url, type(reason).__name__, reason)
            self.log(msg.rstrip("\n"))
            return text_response(502, msg, CT_TEXT)
        headers = {"Content-Type": ctype} if ctype else {}
        return Response(status, headers, body)
