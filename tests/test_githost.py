"""The git host's pure parts: repositories from module fixtures, the fast-import stream, the go-import
CGI. No Docker (the stream is fed to the host's own git when there is one)."""
import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.world import githost, modules
from upstreamlib import gomod

GIT_DIR = Path(__file__).resolve().parent.parent / "docker" / "git"
HOST = "git.corp.test"


def fixture(path, version, files, info_time="2024-01-01T00:00:00Z", mod=None):
    """{file name: txtar bytes} of one module version."""
    text = f"-- .info --\n{{\"Version\":\"{version}\",\"Time\":\"{info_time}\"}}\n"
    if mod is not None:
        text += f"-- .mod --\n{mod}"
    text += "".join(f"-- {name} --\n{data}" for name, data in files.items())
    return {gomod.fixture_name(path, version): text.encode()}


def test_layout_of_the_fixtures():
    layout = githost.repo_layout(modules.fixture_files(), HOST)
    assert sorted(layout) == ["team/mono", "team/secret"]
    assert [c["tag"] for c in layout["team/secret"]] == ["v1.0.0", "v2.0.0"]
    assert [c["tag"] for c in layout["team/mono"]] == ["tools/v1.0.0"]
    v2 = layout["team/secret"][1]["files"]
    assert v2["go.mod"].startswith(b"module git.corp.test/team/secret/v2\n")    # the /v2 at the root
    assert set(layout["team/mono"][0]["files"]) == {"tools/go.mod", "tools/tools.go"}


def test_nested_module_survives_a_later_root_version():
    fx = {**fixture(f"{HOST}/a/b", "v1.0.0", {"go.mod": f"module {HOST}/a/b\n", "b.go": "package b\n"}),
          **fixture(f"{HOST}/a/b/sub", "v1.0.0", {"go.mod": f"module {HOST}/a/b/sub\n", "s.go": "package sub\n"},
                    info_time="2024-02-01T00:00:00Z"),
          **fixture(f"{HOST}/a/b", "v1.1.0", {"go.mod": f"module {HOST}/a/b\n", "c.go": "package b\n"},
                    info_time="2024-03-01T00:00:00Z"),
          **fixture("example.com/elsewhere", "v1.0.0", {"go.mod": "module example.com/elsewhere\n"})}
    commits = githost.repo_layout(fx, HOST)["a/b"]
    assert [c["tag"] for c in commits] == ["v1.0.0", "sub/v1.0.0", "v1.1.0"]
    assert set(commits[-1]["files"]) == {"go.mod", "c.go", "sub/go.mod", "sub/s.go"}   # b.go gone, sub kept
    assert [c["time"] for c in commits] == sorted(c["time"] for c in commits)


@pytest.mark.parametrize("fx, words", [
    (fixture(f"{HOST}/a/b", "v0.0.0-20240101000000-abcdefabcdef", {"go.mod": f"module {HOST}/a/b\n"}),
     "pseudo-version"),
    (fixture(f"{HOST}/a/b", "v1.0.0", {"go.mod": f"module {HOST}/a/b\n"}, mod=f"module {HOST}/a/b\n\ngo 1.21\n"),
     ":3: the .mod section differs from the go.mod file"),
    (fixture(f"{HOST}/a/b", "v2.0.0+incompatible", {"go.mod": f"module {HOST}/a/b\n"}), "+incompatible"),
    (fixture(f"{HOST}/a/b", "v1.0.0", {"b.go": "package b\n"}), "no go.mod section"),
])
def test_fixture_git_cannot_reproduce_is_one_clear_error(fx, words):
    with pytest.raises(gomod.FixtureError) as exc:
        githost.repo_layout(fx, HOST)
    assert str(exc.value).startswith(next(iter(fx))) and words in str(exc.value)


def _load(name):
    spec = importlib.util.spec_from_file_location(f"githost_{name}", GIT_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not shutil.which("git"), reason="no git on this machine")
def test_fast_import_stream_makes_the_tags(tmp_path):
    entrypoint = _load("entrypoint")
    layout = json.loads(githost._encode(githost.repo_layout(modules.fixture_files(), HOST)))
    repo = tmp_path / "mono"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], check=True,
                   input=entrypoint.fast_import_stream(layout["team/mono"]))
    tags = subprocess.run(["git", "-C", str(repo), "tag"], capture_output=True, text=True, check=True).stdout.split()
    assert tags == ["tools/v1.0.0"]
    gomod_file = subprocess.run(["git", "-C", str(repo), "show", "tools/v1.0.0:tools/go.mod"],
                                capture_output=True, check=True).stdout
    assert gomod_file == base64.b64decode(layout["team/mono"][0]["files"]["tools/go.mod"])


@pytest.mark.parametrize("mode, path, status, meta", [
    ("correct", "/team/secret/v2", "200", f'content="{HOST}/team/secret git https://{HOST}/team/secret"'),
    ("ssh", "/team/secret", "200", f'content="{HOST}/team/secret git ssh://git@{HOST}/team/secret"'),
    ("wrong-vcs", "/team/secret", "200", f'content="{HOST}/team/secret hg https://{HOST}/team/secret"'),
    ("missing", "/team/secret", "200", None),
    ("login", "/team/secret", "200", None),
    ("404", "/team/secret", "404", None),
    ("correct", "/team/nothing", "404", None),
])
def test_goget_cgi(tmp_path, mode, path, status, meta):
    (tmp_path / "config.json").write_text(json.dumps({"host": HOST}))
    (tmp_path / "repos.json").write_text(json.dumps({"team/secret": [], "team/mono": []}))
    (tmp_path / "goget.json").write_text(json.dumps({"default": "404", "prefixes": {"team": mode}}))
    out = subprocess.run([sys.executable, str(GIT_DIR / "goget.py")], capture_output=True, text=True, check=True,
                         env={**os.environ, "GIT_HOST_STATE": str(tmp_path), "PATH_INFO": path}).stdout
    assert out.startswith(f"Status: {status} ")
    assert (meta in out) if meta else 'name="go-import"' not in out


def test_bad_goget_mode_is_an_error_at_the_call():
    with pytest.raises(ValueError, match="expected one of correct"):
        githost.GitHost._check_mode("teapot")


def test_access_log_lines_become_requests():
    log = b"\n".join(json.dumps(e).encode() for e in [
        {"t": 100.5, "request_time": 0.002, "method": "GET", "uri": "/", "status": 404, "remote": "127.0.0.1:4000"},
        {"t": 101.0, "request_time": 0.5, "method": "GET", "uri": "/team/secret?go-get=1", "status": 401,
         "scheme": "https", "remote_user": "", "auth": "", "user_agent": "Go-http-client/1.1", "git_protocol": "",
         "remote": "172.20.0.3:5000"},
        {"t": 102.0, "request_time": 0.1, "method": "POST", "uri": "/team/secret/git-upload-pack", "status": 200,
         "scheme": "https", "remote_user": "gopher", "auth": "Basic", "user_agent": "git/2.39.5",
         "git_protocol": "version=2", "remote": "172.20.0.3:5001"},
    ]) + b'\n{"t": 103'          # a line nginx is writing right now
    reqs = githost.http_requests(HOST, log)
    assert [(r.method, r.path, r.status) for r in reqs] == [("GET", "/team/secret?go-get=1", 401),
                                                            ("POST", "/team/secret/git-upload-pack", 200)]
    assert reqs[0].t == 100.5 and reqs[0].detail["auth"] is None and reqs[0].headers == {"User-Agent": "Go-http-client/1.1"}
    assert reqs[1].detail == {"id": "http:2", "protocol": "https", "user": "gopher", "auth": "Basic"}
    assert reqs[1].headers["Git-Protocol"] == "version=2"


def test_sshd_lines_become_one_request_per_connection():
    sshd = [
        'Connection from 127.0.0.1 port 40000 on 127.0.0.1 port 22 rdomain ""',
        'Connection from 172.20.0.3 port 50000 on 172.20.0.2 port 22 rdomain ""\r',
        "Accepted publickey for git from 172.20.0.3 port 50000 ssh2: ED25519 SHA256:abc",
        'Connection from 172.20.0.3 port 50002 on 172.20.0.2 port 22 rdomain ""',
        "Connection closed by 172.20.0.3 port 50002 [preauth]",
    ]
    sshd_log = b"\n".join(json.dumps({"t": 10.0 + i, "line": line}).encode() for i, line in enumerate(sshd))
    commands = json.dumps({"t": 12.5, "conn": "172.20.0.3 50000 172.20.0.2 22",
                           "command": "git-upload-pack '/team/secret'"}).encode()
    first, second = githost.ssh_connections(HOST, sshd_log, commands)
    assert (first.method, first.path, first.t, first.detail["auth"]) == ("SSH", "/team/secret", 11.0, "publickey")
    assert first.detail["command"] == "git-upload-pack '/team/secret'" and len(first.detail["log"]) == 2
    assert second.path == "" and second.detail["auth"] == "none: closed before authentication"
    # a connection has ended once sshd said so: the first is still open (the git host's settle waits for its end)
    assert first.t_end is None and second.t_end == 14.0
