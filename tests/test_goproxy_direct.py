"""goproxy fetching `direct` (fixtures/world/goproxies.py): the pure parts, without Docker."""
from types import SimpleNamespace

from fixtures.runtime import images, toolchains
from fixtures.world.goproxies import (DIRECT_ENV, DIRECT_TMPFS, GO_LOGGED, PROGRAMS, GoModuleProxy, fetches_direct,
                                      go_commands)

LOG = ("1796613193.428597\t1796613195.080594\t0\tmod download -json git.corp.test/team/lib@v1.0.0\t\n"
       "1796613208.434657\t1796613208.538847\t1\tlist -json -m git.corp.test/team/lib@main\tgo: git.corp.test/team/"
       "lib@main: unrecognized import path \"git.corp.test/team/lib\": https fetch: connection refused\n"
       "1796613209.1\t")       # a line being written


def test_a_goproxy_list_reaches_direct_unless_off_comes_first():
    assert fetches_direct("direct") and fetches_direct("http://a.test,direct") and fetches_direct("http://a|direct")
    assert fetches_direct(" http://a.test , direct ")
    assert not fetches_direct("http://proxy.corp.test") and not fetches_direct("off,direct")
    assert not fetches_direct("http://a.test,off|direct") and not fetches_direct("http://direct.corp.test")


def test_the_go_commands_goproxy_ran_are_its_requests():
    first, second = go_commands("goproxy.corp.test", LOG)
    assert (first.method, first.path, first.status, first.detail) == (
        "go", "mod download -json git.corp.test/team/lib@v1.0.0", 0, {})
    assert first.t == 1796613193.428597 and first.t_end == 1796613195.080594 and first.server == "goproxy.corp.test"
    assert second.status == 1 and "connection refused" in second.detail["error"]
    assert second.line() == "go list -json -m git.corp.test/team/lib@main -> 1"


def _topo():
    return SimpleNamespace(members=[], session=None)


def test_direct_runs_go_through_the_logging_wrapper_with_its_own_environment():
    gp = GoModuleProxy(_topo(), "goproxy", "goproxy.corp.test", "direct")
    cmd = gp.command
    env = dict(a.split("=", 1) for a in cmd[1:cmd.index("bash")])
    assert f"--go-bin {GO_LOGGED}" in env["RUN"]
    assert {k: env[k] for k in DIRECT_ENV} == DIRECT_ENV and env["GOPROXY"] == "direct" and env["GOSUMDB"] == "off"
    assert env["VERSION"].endswith('| $(go version)"')         # the go it runs, in the ready line
    assert gp.direct and gp.resolv_lines == []                 # the topology's resolver is its nameserver
    assert DIRECT_ENV["GOPATH"] in DIRECT_TMPFS


def test_through_another_proxy_goproxy_runs_no_go_and_keeps_the_engines_dns():
    up = SimpleNamespace(host="proxy.corp.test", port=80)
    gp = GoModuleProxy(_topo(), "goproxy", "goproxy.corp.test", up)
    env = dict(a.split("=", 1) for a in gp.command[1:gp.command.index("bash")])
    assert "--go-bin" not in env["RUN"] and "GOPATH" not in env and env["VERSION"] == "goproxy --version"
    assert not gp.direct and gp.resolv_lines is None


def test_goproxys_image_is_built_on_the_default_releases_go_image(monkeypatch):
    recipe = PROGRAMS["goproxy"].image
    assert recipe.from_go and not PROGRAMS["athens"].image.from_go
    dockerfile = (images.DOCKER_DIR / "goproxy" / "Dockerfile").read_text()
    assert "ARG GO_IMAGE\nFROM ${GO_IMAGE}\n" in dockerfile and "go-logged.sh" in dockerfile
    built, asked = {}, []
    monkeypatch.setattr(images, "ensure_base", lambda c: "base")
    monkeypatch.setattr(images.gobuild, "ensure", lambda p: images.DOCKER_DIR / "goproxy" / "Dockerfile")
    monkeypatch.setattr(images.toolchains, "ensure", lambda r: asked.append(r) or r)
    monkeypatch.setattr(images, "ensure_go_image", lambda c, t: f"gotraps/go:{t}-abc")
    monkeypatch.setattr(images, "_build", lambda c, tag, fill, buildargs=None: built.update(tag=tag, args=buildargs))
    tag = images.ensure_image(None, recipe)
    assert asked == [toolchains.DEFAULT_GO] and built == {"tag": tag, "args": {
        "GO_IMAGE": f"gotraps/go:{toolchains.DEFAULT_GO}-abc"}}
    monkeypatch.setattr(images, "ensure_go_image", lambda c, t: f"gotraps/go:{t}-def")
    assert images.ensure_image(None, recipe) != tag         # a new go image is a new recipe
