"""Go's VCS test server, its pure parts: the interpreter of vcweb's scripts (docker/git/vcweb.py), the CGI serving
what is not git (docker/git/vcweb_serve.py), the nginx locations of the git scripts (entrypoint.py). No Docker:
the scripts run with this machine's git when there is one."""
import base64
import importlib.util
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from fixtures.runtime import toolchains
from fixtures.world import vcweb as host_vcweb

GIT_DIR = Path(__file__).resolve().parent.parent / "docker" / "git"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"githost_{name}", GIT_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vcweb, serve, entrypoint = _load("vcweb"), _load("vcweb_serve"), _load("entrypoint")
needs_git = pytest.mark.skipif(not shutil.which("git"), reason="no git on this machine")


# --- the script language ---------------------------------------------------------------------------------

def test_parse_line_quotes_conditions_and_comments():
    want, conds, name, args = vcweb.parse_line("[!git-sha256] ! git commit -m 'it''s a  message' $X# gone")
    assert (want, conds, name) == ("!", [(False, "git-sha256")], "git")
    assert ["".join(s if quoted else vcweb.expand(s, {"X": "x"}) for s, quoted in frags) for frags in args] == \
        ["commit", "-m", "it's a  message", "x"]
    assert vcweb.parse_line("   # only a comment") is None
    assert vcweb.parse_line("") is None
    with pytest.raises(vcweb.ScriptError, match="unterminated"):
        vcweb.parse_line("echo 'open")


def test_expand_and_unquote():
    env = {"GIT_AUTHOR_NAME": "Russ Cox", "A": "x"}
    assert vcweb.expand("$GIT_AUTHOR_NAME <${A}y> $UNSET.", env) == "Russ Cox <xy> ."
    assert vcweb.unquote_go(r"add\tit\n\x41\u00e9") == "add\tit\nAé"


def test_txtar_gives_the_last_file_its_newline():
    comment, files = vcweb.parse_txtar(b"handle git\n-- a --\none\n-- b/c.go --\npackage c")
    assert comment == "handle git\n"
    assert files == [("a", b"one\n"), ("b/c.go", b"package c\n")]
    assert vcweb.parse_txtar(b"handle dir\n-- not a marker --  \n")[1] == []


@needs_git
def test_a_script_builds_its_repository_and_checks_its_hashes(tmp_path):
    script = (b"handle git\nenv GIT_AUTHOR_NAME='Go Gopher'\nenv GIT_AUTHOR_EMAIL=gopher@golang.org\n"
              b"env GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME\nenv GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL\n"
              b"git init\nat 2018-04-17T15:43:22-04:00\nunquote ''\ncp stdout README\ngit add README\n"
              b"git commit -a -m 'empty README'\ngit tag v1.0.0\n! git tag v1.0.0\ngit show-ref --tags\n"
              b"cp stdout refs\n-- go.mod --\nmodule x\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(vcweb.GIT_CONFIG)
    st = vcweb.run_script(script, str(tmp_path / "w"), str(home))
    assert (st.handler, st.handler_dir) == ("git", str(tmp_path / "w"))
    assert (tmp_path / "w" / "refs").read_text().endswith(" refs/tags/v1.0.0\n")
    with pytest.raises(vcweb.ScriptError, match="cmp stdout want"):
        vcweb.run_script(b"handle dir\necho a\ncmp stdout want\n-- want --\nb\n", str(tmp_path / "x"), str(home))
    with pytest.raises(vcweb.ScriptError, match="not installed") as exc:
        vcweb.run_script(b"handle hg\nhg init\n", str(tmp_path / "h"), str(home))
    assert exc.value.code == 501


@needs_git
@pytest.mark.parametrize("release", ["1.27.3"])
def test_every_git_script_of_a_release_builds(tmp_path, release):
    """Each of Go's git scripts checks its own commit hashes (`cmp stdout .git-refs`): all must hold with our git."""
    goroot = toolchains.cache_dir() / "toolchains" / release / "go"
    if not (goroot / "src/cmd/go/testdata/vcstest").is_dir():
        pytest.skip(f"go{release} is not in the cache")
    index = vcweb.build(str(goroot / "src/cmd/go/testdata/vcstest"), str(tmp_path / "out"))
    failed = {n: s["error"] for n, s in index["scripts"].items() if "error" in s and s["code"] != 501}
    assert failed == {}
    assert index["scripts"]["git/gitrepo1"] == {"handler": "git", "dir": ".", "status": None}
    assert index["scripts"]["hg/hello"]["code"] == 501


# --- serving ----------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path, monkeypatch):
    """A vcweb tree: a dir script, an auth script, the insecure redirect, a status script, a failed hg script."""
    root = tmp_path / "vcweb"
    (root / "go/modauth").mkdir(parents=True)
    (root / "go/modauth/index.html").write_text('<!DOCTYPE html>\n<meta name="go-import" content="x mod y">\n')
    (root / "go/sub/a").mkdir(parents=True)
    (root / "go/sub/a/index.html").write_text("<html>a</html>\n")
    (root / "go/gone").mkdir(parents=True)
    (root / "go/gone/index.html").write_text("<html>meta</html>\n")
    (root / "auth/or401/m/@v").mkdir(parents=True)
    (root / "auth/or401/.access").write_text(json.dumps(
        {"Username": "aladdin", "Password": "opensesame", "StatusCode": 401, "Message": "ACCESS DENIED, buddy"}))
    (root / "auth/or401/m/@v/list").write_text("v1.0.0\n")
    (root / "auth/or404").mkdir(parents=True)
    (root / "auth/or404/.access").write_text(json.dumps({"Username": "a", "Password": "b", "StatusCode": 404,
                                                         "Message": "File? What file?"}))
    index = {"dirs": ["auth", "go", "hg"], "scripts": {
        "go/modauth": {"handler": "dir", "dir": ".", "status": None},
        "go/sub": {"handler": "dir", "dir": ".", "status": None},
        "go/gone": {"handler": "dir", "dir": ".", "status": 404},
        "auth/or401": {"handler": "auth", "dir": ".", "status": None},
        "auth/or404": {"handler": "auth", "dir": ".", "status": None},
        "insecure": {"handler": "insecure", "dir": ".", "status": None},
        "hg/hello": {"error": "line 1: handle hg: server for `hg` VCS is not installed", "code": 501},
        "git/hello": {"handler": "git", "dir": ".", "status": None}}}
    (root / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(serve, "ROOT", str(root))

    def get(path, query="", auth=None):
        env = {"PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": "vcs-test.golang.org"}
        if auth:
            env["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
        answer, forced = serve.serve(env)
        return forced or answer.status, answer.headers, answer.body
    return get


def test_dir_scripts_serve_their_index_and_go_s_404(served):
    status, headers, body = served("/go/modauth", "go-get=1")
    assert status == 200 and b'name="go-import"' in body and headers["Content-Type"] == "text/html; charset=utf-8"
    assert served("/go/sub/a", "go-get=1")[:2] == (301, {"Location": "a/?go-get=1"})
    assert served("/go/sub/nope")[0] == 404
    assert served("/go/nosuchscript")[2] == b"404 page not found\n"
    status, _, body = served("/go/gone", "go-get=1")        # `status 404` over the dir handler
    assert (status, body) == (404, b"<html>meta</html>\n")


def test_auth_asks_for_the_access_file_s_credentials(served):
    status, headers, body = served("/auth/or401", "go-get=1")
    assert (status, body) == (401, b"ACCESS DENIED, buddy\n")
    assert headers["Www-Authenticate"] == "basic realm=" and headers["X-Content-Type-Options"] == "nosniff"
    assert served("/auth/or401/m/@v/list", auth="aladdin:opensesame")[::2] == (200, b"v1.0.0\n")
    assert served("/auth/or401/m/@v/list", auth="aladdin:wrong")[0] == 401
    assert served("/auth/or404/", auth="x:y")[::2] == (404, b"File? What file?\n")
    assert served("/auth/or401/.access", auth="aladdin:opensesame")[0] == 400


def test_insecure_redirects_to_plain_http_and_failed_scripts_answer_as_vcweb(served):
    status, headers, _ = served("/insecure/go/insecure", "go-get=1")
    assert (status, headers["Location"]) == (302, "http://vcs-test.golang.org/go/insecure?go-get=1")
    status, _, body = served("/hg/hello/info/refs")
    assert (status, body) == (501, b"line 1: handle hg: server for `hg` VCS is not installed\n")


def test_git_scripts_get_a_location_of_git_http_backend():
    conf = entrypoint.vcweb_locations({"dirs": ["git"], "scripts": {
        "git/hello": {"handler": "git", "dir": ".", "status": None},
        "go/x": {"handler": "dir", "dir": ".", "status": None}}}, root="/srv/vcweb")
    assert "location ~ ^/git/hello(?<vcweb_path>/.*)?$ {" in conf
    assert "fastcgi_param GIT_PROJECT_ROOT /srv/vcweb/git/hello;" in conf
    assert conf.rstrip().endswith("fastcgi_pass unix:/run/fcgiwrap.sock;\n}")
    assert conf.count("location") == 2          # the git script, then the CGI for everything else


def test_the_cache_key_follows_the_scripts_and_the_image():
    a = host_vcweb.cache_key({"git/a.txt": b"handle git\n"}, "gotraps/git:1")
    assert a != host_vcweb.cache_key({"git/a.txt": b"handle git\n\n"}, "gotraps/git:1")
    assert a != host_vcweb.cache_key({"git/a.txt": b"handle git\n"}, "gotraps/git:2")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in ("./", "./index.json", "./git/a/x"):
            info = tarfile.TarInfo(name)
            data = b'{"dirs": []}' if name.endswith("json") else b"x"
            info.size = 0 if name.endswith("/") else len(data)
            info.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
            t.addfile(info, None if name.endswith("/") else io.BytesIO(data))
    stripped = host_vcweb._strip_top(buf.getvalue())
    assert host_vcweb.index(stripped) == {"dirs": []}
    with tarfile.open(fileobj=io.BytesIO(stripped)) as t:
        assert t.getnames() == ["index.json", "git/a/x"]
