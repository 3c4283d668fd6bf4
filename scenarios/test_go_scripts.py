"""Go's own module scripts as a fidelity check (opt-in: --go-scripts, or name this file).

The scripts of cmd/go/testdata/script about proxies, sums and the module cache (mod_proxy_*,
mod_sumdb*, mod_gonoproxy, mod_download*, mod_get_*), taken from the release under test, run
unmodified in its go client. Go's test proxy is played by the cmdgo role of the fake upstream
(docker/upstream/cmdgoproxy.py) serving that release's cmd/go/testdata/mod, its checksum DB by the
sumdb role with Go's test key; the environment is script_test.go's, translated
(fixtures/script/goscripts.py go_test_env). They run as under `go test -short`: scripts needing Go's VCS test server skip.
A failure is either a gap of the fake upstreams or of the engine: the log says which line.
"""
import pytest

from fixtures import script

from fixtures.runtime import toolchains
def pytest_generate_tests(metafunc):
    if "go_script" in metafunc.fixturenames:
        releases = metafunc.config.gotraps["releases"]
        names = script.go_script_names(toolchains.ensure(releases[0]).goroot) if releases else []
        metafunc.parametrize("go_script", names)


@pytest.mark.family("go_scripts")
def test_go_script(topo, case, go_release, go_script, request):
    script.run_go_script(topo, case, toolchains.ensure(go_release).goroot, go_script,
                         verbose=request.config.getoption("verbose") > 1)
