"""Cases whose cause is the infrastructure, provoked for real: run only by scenarios/test_infrastructure.py, in a
pytest of its own (the name keeps `pytest scenarios` from collecting it). Each one records a verdict, a fact or
an expectation as if Go had done what it saw; the harness must keep none of them and end the case as an ERROR
naming its cause (fixtures/infrastructure.py)."""
import pytest

from fixtures.runtime.agent import spawn

PROXY, MIRROR = "proxy.corp.test", "mirror.corp.test"
LIB = "example.com/lib@v1.0.0"
# Busy loops, more than one, on the first CPU the container may use: some process of it always waits for that
# CPU (its cpu.pressure grows at wall-clock rate) while the machine's other CPUs are left alone; 3 s at most.
HOG = ("cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//'); "
       "exec timeout 3 taskset -c $cpu sh -c 'for i in 1 2; do (while :; do :; done) & done; wait'")


@pytest.mark.family("infrastructure")
@pytest.mark.claims("C3.3")
def test_a_server_killed_while_go_waits(topo, case):
    """docker kill of the Nginx in front of the proxy while go waits for a request it holds: go sees the
    connection end and fails, as it would against a broken mirror; the case records it all."""
    up = topo.upstream(PROXY)
    up.fault(r"/@v/", "hold", name="never")
    mirror = topo.nginx(MIRROR, "plain", upstream=up)
    running = topo.go(GOPROXY=mirror.url).start("mod", "download", LIB, timeout=20)
    up.wait_for_request(r"/@v/")
    mirror.container.kill()
    obs = case.note(running.result())
    case.fact(ok=obs.ok, error_line=obs.error_line)
    case.claim("C3.3", "REFUTED", f"go gave up: {obs.error_line}")
    case.expect("download_failed", not obs.ok)


@pytest.mark.family("infrastructure")
def test_a_starved_server(topo, case):
    """The watchdog ends a command while the proxy (not the client) waits for a CPU: the request it holds
    would look like a proxy that hangs."""
    up = topo.upstream(PROXY)
    up.fault(r"/@v/", "hold", name="never")
    go = topo.go(GOPROXY=f"http://{PROXY}")
    topo.wait_servers()
    spawn(up.container, ["sh", "-c", HOG])       # not waited for: `timeout` ends it, the pool's reset too
    obs = case.note(go.run("mod", "download", LIB, timeout=2))
    if obs.cpu_stall_s is None:
        pytest.skip("the engine's cgroups are not readable from here (a remote engine): no CPU pressure")
    case.fact(timed_out=obs.timed_out)
    case.expect("proxy_hangs", obs.timed_out)


@pytest.mark.family("infrastructure")
def test_an_agent_killed_mid_command(topo, case):
    """The go client's agent (fixtures/runtime/agent.py) is killed while a command runs: its exit code and
    output never come (its container stops with it, as when the OOM killer picks the agent)."""
    go = topo.go()
    running = go.start_sh("sleep 30", timeout=30)
    spawn(go.container, ["sh", "-c", "sleep 0.5; kill -9 $(cut -d' ' -f1 /proc/1/task/1/children)"])
    case.fact(started=True)
    running.result()


@pytest.mark.family("infrastructure")
def test_a_server_that_never_gets_ready(topo, case):
    """A proxy whose program exits at its start (a role its server does not have)."""
    topo.upstream(PROXY, role="no-such-role")
    case.fact(declared=True)
    topo.go(GOPROXY=f"http://{PROXY}").run("mod", "download", LIB)
