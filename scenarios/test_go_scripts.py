"""Go's own module scripts as a fidelity check (opt-in: --go-scripts, or name this file; CI runs it).

The scripts of cmd/go/testdata/script about proxies, sums and the module cache (mod_proxy_*, mod_sumdb*,
mod_gonoproxy, mod_download*, mod_get_*), and those of goauth_*, gotoolchain_*, work_*, vendor_* and get_* that
touch the network, taken from each release under test's own GOROOT (fixtures/script/goscripts.py
go_script_names; fixtures/plugin.py pairs each release with its list), run unmodified in its go client. Go's
test proxy is played by the cmdgo role of the fake upstream (docker/upstream/cmdgoproxy.py) serving that
release's cmd/go/testdata/mod, its checksum DB by the sumdb role with Go's test key; the environment is
script_test.go's, translated (go_test_env). They run as under `go test`, not `-short`: a script naming
vcs-test.golang.org gets Go's VCS test server (fixtures/world/vcweb.py: the git host serving the release's own
vcstest repositories over HTTPS and HTTP); one that needs Go's test build of cmd/go (a TESTGO_ hook, Go's
vcstest interceptor) runs with it, built once per release from its sources (goscripts.py needs_testgo,
docker/go/testgo/), every other with the released go. Each case ends in one of four classes (fixtures/record/fidelity.py): passed, skipped for Go's own
reason, skipped for the harness's (said why), failed: a gap of the fake upstreams or of the engine, the log
says which line.
"""
import pytest

from fixtures import script
from fixtures.runtime import toolchains


@pytest.mark.family("go_scripts")
def test_go_script(topo, case, go_release, go_script, request):
    script.run_go_script(topo, case, toolchains.ensure(go_release).goroot, go_script,
                         verbose=request.config.getoption("verbose") > 1)
