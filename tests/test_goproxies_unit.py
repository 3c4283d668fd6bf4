"""Unit tests of the real Go module proxies (fixtures/world/goproxies.py) and their builder (fixtures/runtime/gobuild.py): the pure parts
without Docker; --goproxy-image's bad input end to end (runs of their own, skipped with the reason when no engine
answers)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.runtime import engine, gobuild, images
from fixtures.world.goproxies import PROGRAMS, GoModuleProxy, UserImage, read_user_image, received

ROOT = Path(__file__).resolve().parent.parent
ATHENS_403 = ["go: downloading github.com/gomods/athens v0.16.1\n",
              "github.com/gomods/athens@v0.16.1: reading https://proxy.golang.org/github.com/gomods/athens/@v/v0.16.1"
              ".zip: 403 Forbidden\n", "\tserver response: This module version is not available.\n"]


def test_a_failed_build_is_gos_own_message_in_one_line():
    assert gobuild.failure_line(ATHENS_403) == (
        "github.com/gomods/athens@v0.16.1: reading https://proxy.golang.org/github.com/gomods/athens/@v/v0.16.1.zip: "
        "403 Forbidden / server response: This module version is not available.")
    assert gobuild.failure_line(["go: downloading x v1\n"]) == "go build failed and said nothing"


def test_the_build_module_requires_the_pinned_version_only():
    p = PROGRAMS["goproxy"].module
    assert gobuild.go_mod(p).endswith(f"\nrequire github.com/goproxy/goproxy {p.version}\n")
    assert p.binary("1.27.3").name == f"goproxy-{p.version}-go1.27.3"      # keyed by version and toolchain


def test_each_program_image_takes_its_binary_from_its_build():
    for name, program in PROGRAMS.items():
        assert program.image.go_program == program.module and (images.DOCKER_DIR / name / "Dockerfile").is_file()
        assert f"COPY {program.module.name} " in (images.DOCKER_DIR / name / "Dockerfile").read_text()


def test_an_unbuildable_program_is_said_and_skipped_not_raised(monkeypatch):
    said = []
    monkeypatch.setattr(images.toolchains, "ensure", lambda r: None)
    monkeypatch.setattr(images, "ensure_base", lambda c: "base")
    monkeypatch.setattr(images, "ensure_go_image", lambda c, t: None)
    monkeypatch.setattr(images.progress, "say", said.append)

    def ensure_image(client, recipe):
        raise gobuild.GoBuildError("athens v0.16.1 cannot be built here (...): 403 Forbidden")
    monkeypatch.setattr(images, "ensure_image", ensure_image)
    assert images.ensure_all(None, ["1.27.3"], [PROGRAMS["athens"].image]) == {
        "athens": "athens v0.16.1 cannot be built here (...): 403 Forbidden"}
    assert said == ["unavailable: athens v0.16.1 cannot be built here (...): 403 Forbidden"]


def _topo():
    return SimpleNamespace(members=[], session=None)


def test_goproxy_settings_become_its_flags_and_environment():
    db = SimpleNamespace(name="sum.corp.test", host="sum.corp.test", gosumdb=lambda url: f"sum.corp.test+abc {url}")
    up = SimpleNamespace(host="proxy.corp.test", port=80)
    gp = GoModuleProxy(_topo(), "goproxy", "goproxy.corp.test", up, sumdb=db, proxied_sumdbs=[db],
                       nosumdb="git.corp.test/team", fetch_timeout="1s")
    cmd = gp.command
    env = dict(a.split("=", 1) for a in cmd[1:cmd.index("bash")])
    assert env["GOPROXY"] == "http://proxy.corp.test" and env["GOSUMDB"] == "sum.corp.test+abc http://sum.corp.test"
    assert env["GONOSUMDB"] == "git.corp.test/team" and env["PORTS"] == "8080"
    assert "--proxied-sumdbs 'sum.corp.test http://sum.corp.test'" in env["RUN"] and "--fetch-timeout 1s" in env["RUN"]
    assert gp.url == "http://goproxy.corp.test:8080"
    plain = GoModuleProxy(_topo(), "goproxy", "goproxy.corp.test", "direct")
    assert "GOSUMDB=off" in plain.command and "GOPROXY=direct" in plain.command   # never the unreachable public DB


def test_a_setting_the_program_does_not_take_is_a_value_error_listing_those_it_takes():
    with pytest.raises(ValueError, match=r"goproxy takes no setting download_mode; it takes: .*fetch_timeout"):
        GoModuleProxy(_topo(), "goproxy", "g", "direct", download_mode="sync")
    with pytest.raises(ValueError, match="unknown Go module proxy 'gonexus'; known: goproxy, athens"):
        GoModuleProxy(_topo(), "gonexus", "g", "direct")


def test_what_go_asked_the_proxy_comes_from_its_x_trace():
    obs = SimpleNamespace(stderr="# get http://goproxy.corp.test:8080/example.com/lib/@v/list\n"
                                 "# get http://goproxy.corp.test:8080/example.com/lib/@v/list: 200 OK (0.012s)\n"
                                 "# get http://other.corp.test/x/@v/list: 404 Not Found (0.001s)\n"
                                 "# get http://goproxy.corp.test:8080/a/@v/v1.0.0.info: dial tcp: connection refused\n")
    gp = SimpleNamespace(url="http://goproxy.corp.test:8080")
    assert received(obs, gp) == [("/example.com/lib/@v/list", "200 OK"),
                                 ("/a/@v/v1.0.0.info", "dial tcp: connection refused")]


@pytest.mark.parametrize("args, said", [
    (dict(port=0), "--goproxy-port 0: not a TCP port"),
    (dict(upstream_env="GO PROXY"), "--goproxy-upstream-env 'GO PROXY': not an environment variable name"),
    (dict(env=["NOEQUALS"]), "--goproxy-env 'NOEQUALS': expected NAME=VALUE"),
    (dict(ready_s=0), "--goproxy-ready-timeout 0: must be positive"),
])
def test_bad_goproxy_image_options_are_one_line(args, said):
    given = {"image": "mine:1", "port": 8080, "upstream_env": "GOPROXY", "env": [], "ready_s": 30.0, **args}
    with pytest.raises(ValueError) as exc:
        read_user_image(**given)
    assert str(exc.value) == said


def test_a_user_image_travels_to_the_workers_as_json():
    image = read_user_image("mine:1", 3000, "ATHENS_GLOBAL_ENDPOINT", ["ATHENS_STORAGE_TYPE=disk"], 5)
    assert UserImage.from_json(json.loads(json.dumps(image.to_json()))) == image
    assert read_user_image(None, 8080, "GOPROXY", [], 30) is None


# --- end to end: --goproxy-image's bad input ------------------------------------------------------------------

def _engine():
    try:
        return engine.connect(timeout=10)
    except engine.EngineUnavailable as exc:
        pytest.skip(f"needs a Docker engine, and none answers: {str(exc).splitlines()[0]}")


def _inner_run(tmp_path, *args, timeout=180):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env.update(TESTCONTAINERS_RYUK_DISABLED="true")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                           "--timeout", "90", "--results-dir", str(tmp_path / "results"), *args,
                           "scenarios/test_goproxies.py", "-k", "test_paths_and_versions"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_an_image_that_does_not_exist_is_a_usage_error_before_any_container(tmp_path):
    _engine()
    run = _inner_run(tmp_path, "--goproxy-image", "gotraps-no-such/proxy:0")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "--goproxy-image gotraps-no-such/proxy:0: no such image on the Docker engine" in run.stderr


def test_an_image_that_never_gets_ready_is_an_infrastructure_error_with_its_log(tmp_path):
    client = _engine()
    # an image of ours that runs and never listens: the go client's (sleep infinity)
    tags = [t for i in client.images.list(filters={"label": images.LABEL_IMAGE}) for t in i.tags
            if t.startswith("gotraps/go:") and "-also-" not in t]
    if not tags:
        pytest.skip("no gotraps/go image built yet (gotraps setup builds one)")
    run = _inner_run(tmp_path, "--goproxy-image", tags[0], "--goproxy-ready-timeout", "3")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    run_dir = next(p for p in (tmp_path / "results").glob("2*") if p.is_dir())
    line = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    assert line["outcome"] == "error" and line["params"]["goproxy_program"] == "image", line
    assert f"your proxy image {tags[0]} did not accept connections on port 8080 within 3 s" \
        in line["infrastructure_error"], line["infrastructure_error"]
    assert not line["facts"] and not line["expectations"]


def test_the_harness_goproxy_image_passes_as_your_own_image(tmp_path):
    """An image that works: the harness's own goproxy image run as a user's (its CMD serves on 8080, told its
    upstream in GOPROXY, GOSUMDB=off by --goproxy-env: the public DB is unreachable here). The case passes as it does
    with the harness's goproxy, and says which image it ran."""
    client = _engine()
    try:
        tag = images.ensure_image(client, PROGRAMS["goproxy"].image)
    except gobuild.GoBuildError as exc:
        pytest.skip(str(exc))
    run = _inner_run(tmp_path, "--goproxy-image", tag, "--goproxy-port", "8080", "--goproxy-env", "GOSUMDB=off",
                     "--goproxy-ready-timeout", "10")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    run_dir = next(p for p in (tmp_path / "results").glob("2*") if p.is_dir())
    line = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    assert line["outcome"] == "passed" and line["params"]["goproxy_program"] == "image", line
    assert line["facts"]["download_ok"] is True and line["facts"]["escaped_path_upstream"] is True, line["facts"]
    assert f"proxy image {tag}" in line["components"] and "goproxy" not in line["components"], line["components"]
