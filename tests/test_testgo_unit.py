"""Go's test build of cmd/go for Go's own scripts (fixtures/script/goscripts.py NEEDS_TESTGO, go_test_env): which
scripts get it, and the environment Go's script_test.go gives it. No Docker."""
import pytest

from fixtures.runtime import images
from fixtures.script import goscripts


@pytest.mark.parametrize("text, needs", [
    (b"env TESTGO_VERSION=go1.21\ngo version\n", True),                       # claims another release
    (b"env TESTGO_VERSION_SWITCH=switch\n", True),
    (b"stderr 'panic: use of network' # test catches network access\n", True),  # TESTGONETWORK=panic
    (b"stderr 'verifying module: .*: no such host localhost.localdev'\n", True),  # the web hook's answer
    (b"env GONOSUMDB=localhost.localdev\ngo get rsc.io/quote\n", False),        # names the DB only: the real go
    (b"go mod download rsc.io/quote@v1.5.2\n", False),
    (b"env GOSUMDB=$TESTGO_SUMDB' '$proxy/sumdb-direct\n", False),             # a name every script has
    (b"env GOPROXY=$TESTGO_SUMDB\nenv TESTGOPROXY404=1\n", True),
])
def test_a_script_gets_the_test_build_only_when_its_text_needs_a_hook(text, needs):
    assert goscripts.needs_testgo(text) is needs


def test_a_script_expecting_the_vcstest_hook_gets_the_test_build_by_name():
    assert goscripts.needs_testgo(b"go mod download vcs-test.golang.org/git/mainonly.git@v1.0.0\n", "mod_gonoproxy")
    assert not goscripts.needs_testgo(b"go mod download vcs-test.golang.org/git/mainonly.git@v1.0.0\n", "mod_x")


def test_the_test_build_runs_in_gos_environment_for_it_and_the_real_go_keeps_ours():
    real, testgo = goscripts.go_test_env("1.27.3"), goscripts.go_test_env("1.27.3", testgo=True)
    assert "CMDGO_TEST_RUN_MAIN" not in real and "TESTGONETWORK" not in real
    assert real["GOTOOLCHAIN"] == "local" and real["GOPROXY"] == f"http://{goscripts.GO_TEST_PROXY}/mod"
    # what makes the test binary the go command, with its hooks on (cmd/go/go_test.go TestMain)
    assert testgo["CMDGO_TEST_RUN_MAIN"] == "true" and testgo["TESTGO_VCSTEST_HOST"]
    assert testgo["TESTGO_EXE"] == f"{images.TESTGO_BIN}/go"
    # script_test.go scriptEnv: TESTGONETWORK=panic, GOTOOLCHAIN=auto, the proxy at a loopback address
    assert testgo["TESTGONETWORK"] == "panic" and testgo["GOTOOLCHAIN"] == "auto"
    assert testgo["GOPROXY"] == f"http://{goscripts.TESTGO_PROXY_ADDR}/mod"
    assert goscripts.TESTGO_PROXY_ADDR.startswith("127.")
    assert {"TESTGO_VCSTEST_CERT", "TESTGO_GOHOSTOS"} <= set(testgo) - set(real)
