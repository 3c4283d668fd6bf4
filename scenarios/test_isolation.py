"""The harness's own promises, checked in real containers: a scenario network has no way out, its fake
host names exist only inside it, and the watchdog ends a command that never would. Nothing here sends a
packet beyond our own containers: "no way out" is read from the routing table and the engine's rules."""
import os
import shutil
import subprocess

from fixtures.topology import Topology

PROXY = "proxy.corp.test"
# glibc's resolver, one quick try: Docker's DNS gives no answer at all for a name it does not know.
QUICK_DNS = {"RES_OPTIONS": "timeout:1 attempts:1"}


def default_gateway(route_table: str) -> str | None:
    """The gateway of the 0.0.0.0 route in /proc/net/route, as a dotted address (None: no default route)."""
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if fields[1:2] == ["00000000"]:
            return ".".join(str(b) for b in reversed(bytes.fromhex(fields[2])))
    return None


def test_no_route_out_of_a_scenario_network(topo, case):
    """Docker gives even an internal network's containers a default route, to the bridge's own address on
    the engine host; the network's "internal" flag is what makes the engine drop everything forwarded from
    that bridge to anywhere else (iptables DOCKER-ISOLATION rules: `-i br-<id> ! -d <subnet> -j DROP`).
    What is left reachable is the engine host itself, at the gateway address."""
    topo.upstream(PROXY)
    go = topo.go()
    table = go.sh("cat /proc/net/route", record=False).stdout
    topo.network.reload()
    ipam = topo.network.attrs["IPAM"]["Config"][0]
    case.fact(internal=topo.network.attrs["Internal"], subnet=ipam.get("Subnet"),
              default_gateway=default_gateway(table))
    assert topo.network.attrs["Internal"] is True, "every scenario network must be internal"
    assert default_gateway(table) in (None, ipam.get("Gateway")), f"a route leads past the bridge:\n{table}"
    if shutil.which("iptables") and not os.environ.get("DOCKER_HOST"):      # a local engine: read its rules
        rules = subprocess.run(["iptables", "-S", "DOCKER-ISOLATION-STAGE-1"], capture_output=True,
                               text=True, timeout=10).stdout
        bridge = "br-" + topo.network.id[:12]
        assert f"! -d {ipam['Subnet']} -i {bridge} -j DROP" in rules, rules


def test_fake_names_resolve_only_inside_their_network(topo, case):
    topo.upstream(PROXY)
    inside = topo.go()
    elsewhere = Topology(topo.session, topo.labels["gotraps.test"] + "-elsewhere", topo.release)
    try:
        outside = elsewhere.go()
        seen_inside = inside.sh(f"getent hosts {PROXY}", env=QUICK_DNS, record=False)
        seen_outside = outside.sh(f"getent hosts {PROXY}", env=QUICK_DNS, timeout=10, record=False)
        unknown_inside = inside.sh("getent hosts sum.corp.test", env=QUICK_DNS, timeout=10, record=False)
    finally:
        elsewhere.close()
    case.fact(inside=seen_inside.stdout.strip(), outside_exit=seen_outside.exit_code,
              unknown_inside_exit=unknown_inside.exit_code)
    assert seen_inside.ok and PROXY in seen_inside.stdout, seen_inside.stderr
    assert not seen_outside.ok and not seen_outside.stdout.strip(), seen_outside.stdout
    assert not unknown_inside.ok, "a name no member answers to must not resolve"


def test_watchdog_ends_a_command_that_never_would(topo, case):
    go = topo.go()
    obs = case.note(go.sh("sleep 1000", timeout=2))
    case.fact(duration_s=round(obs.duration_s, 2), exit_code=obs.exit_code)
    assert obs.timed_out and not obs.ok, obs
    assert obs.duration_s < 2 + 2.5, f"the 2 s watchdog took {obs.duration_s:.1f} s (TERM, then KILL 2 s later)"


def test_no_container_is_privileged(topo, case):
    """Least privilege: no member runs privileged or with an added capability, middleware included."""
    up = topo.upstream(PROXY)
    topo.nginx("mirror.corp.test", "plain", upstream=up)
    topo.go()
    topo.wait_servers()
    host_configs = {m.name: (m.container.reload() or m.container.attrs["HostConfig"]) for m in topo.members}
    case.fact(privileged={n: h.get("Privileged") for n, h in host_configs.items()},
              cap_add={n: h.get("CapAdd") for n, h in host_configs.items()})
    for name, hc in host_configs.items():
        assert hc.get("Privileged") is False and not hc.get("CapAdd"), (name, hc.get("CapAdd"))
