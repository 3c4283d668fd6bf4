"""The "cmdgo" role: the GOPROXY role under the URL conventions of Go's own test proxy
(cmd/go/proxy_test.go), so that the scripts of cmd/go/testdata/script run unmodified against it.

    /mod/<path>/@v/...                the module proxy protocol (GOPROXY=http://<host>/mod)
    /mod/<status>/...                 answers <status> (>= 200), empty body: GOPROXY=$proxy/404
    /mod/invalid/...                  answers 200 "invalid"
    /mod/redirect/<n>/<rest>          302 to /mod/redirect/<n-1>/<rest>, the last one to /mod/<rest>
    /mod/sumdb-<status>/sumdb/...     answers <status>; /mod/sumdb-<status>/<rest> serves /mod/<rest>
    /mod/sumdb-direct/<rest>          the checksum DB itself (GOSUMDB="<key> $proxy/sumdb-direct")
    /mod/sumdb-wrong/<rest>           a checksum DB whose every record is wrong (h1:wrong)
    /mod/sumdb/<name>/...             the checksum DB through the proxy (state/sumdb-proxy.json)
    anything not found                404 "404 page not found" (Go's http.NotFound), not the
                                      "not found: ..." text of the GOPROXY role

The two DBs behind sumdb-direct and sumdb-wrong are other containers, named in state/cmdgo.json:
{"sumdb-direct": "<base URL>", "sumdb-wrong": "<base URL>"}. Not emulated: /mod/sumdb-redirect/
(lookups answered for another module).
"""

import json
import os

import goproxy
from httpfault import Response, text_response
from upstreamlib import gomod

CT_TEXT = "text/plain; charset=utf-8"


class CmdGoProxy(goproxy.GoProxy):
    role = "cmdgo"

    def _db(self, which):
        try:
            with open(os.path.join(self.state_dir, "cmdgo.json"), encoding="utf-8") as f:
                return json.load(f).get(which)
        except (OSError, ValueError):
            return None

    def answer(self, handler, path):
        head = path[len("/mod/"):].partition("/")[0] if path.startswith("/mod/") else ""
        resp = self._answer(handler, path)
        if resp.status == 404 and not head.isdigit() and not head.startswith("sumdb-"):
            return text_response(404, "404 page not found\n", CT_TEXT)   # an asked-for status stays empty
        return resp

    def _answer(self, handler, path):
        if not path.startswith("/mod/"):
            return text_response(404, "404 page not found\n", CT_TEXT)
        p = path[len("/mod/"):]
        if p.startswith("invalid/"):
            return Response(200, {"Content-Type": CT_TEXT}, b"invalid")
        head, sep, rest = p.partition("/")
        if sep and head.isdigit() and int(head) >= 200:
            return Response(int(head), {}, b"")
        if sep and head.startswith("sumdb-") and head[6:].isdigit() and int(head[6:]) >= 200:
            if rest.startswith("sumdb/"):
                return Response(int(head[6:]), {}, b"")
            p = rest
        for which in ("sumdb-direct", "sumdb-wrong"):
            if p.startswith(which + "/"):
                base = self._db(which)
                if not base:
                    return text_response(404, "no %s database in state/cmdgo.json\n" % which, CT_TEXT)
                query = handler.path.partition("?")[2]
                return self._forward(handler, which, base + p[len(which):] + ("?" + query if query else ""))
        if p.startswith("redirect/"):
            count, sep, rest = p[len("redirect/"):].partition("/")
            if sep and count.isdigit():
                target = "/mod/%s" % rest if int(count) <= 1 else "/mod/redirect/%d/%s" % (int(count) - 1, rest)
                return Response(302, {"Location": target}, b"")
        return super().answer(handler, "/" + p)

    def _file(self, mpath, version, ext):
        # proxy_test.go: a commit hash (all hex) names the highest version whose hash it prefixes or is a prefix
        # of: a pseudo-version's suffix, a tagged version's .info "Short", which is often "", so a prefix of any
        # hash (golang.org/x/text@14c0d48 is v0.3.0 there: mod_get_commit).
        if goproxy._HEX_RE.match(version):
            _, by_path, _, _ = self.modset.snapshot()
            best = None
            for m in by_path.get(mpath, ()):
                if gomod.is_pseudo_version(m.version):
                    v = m.version[:len(m.version) - len(gomod.semver_build(m.version))]
                    short = v[v.rindex("-") + 1:]
                else:
                    try:
                        short = json.loads(m.info).get("Short") or ""
                    except (ValueError, AttributeError):
                        short = ""
                if (short.startswith(version) or version.startswith(short)) and (
                        best is None or gomod.semver_compare(m.version, best) > 0):
                    best = m.version
            if best is not None:
                version = best
        return super()._file(mpath, version, ext)
