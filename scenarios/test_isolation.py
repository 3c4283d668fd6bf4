"""The harness's own promises, checked in real containers: a scenario network has no way out, its fake
host names exist only inside it, and the watchdog ends a command that never would. Nothing here sends a
packet beyond our own containers: "no way out" is read from the routing table and the engine's rules."""
import os
import shutil
import struct
import subprocess

import pytest

from fixtures.runtime import agent
from fixtures.runtime.images import get_engine_file
from fixtures.world.topology import Topology

PROXY = "proxy.corp.test"
ENGINE_DNS = "127.0.0.11"       # the engine's DNS, as every container of a network sees it


def ask_engine_dns(go, name: str) -> bytes | None:
    """Ask the engine's own DNS for name's A record from a go client, past the client's resolver (whose
    dnsmasq forwards only its topology's names there): the raw answer, None when none came within 0.5 s.
    bash's /dev/udp sends the query; dd reads one datagram."""
    query = struct.pack("!HHHHHH", 0x6774, 0x0100, 1, 0, 0, 0) + b"".join(
        bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
    octal = "".join(f"\\{b:03o}" for b in query)
    script = (f"exec 3<>/dev/udp/{ENGINE_DNS}/53; printf '{octal}' >&3; "
              "timeout 0.5 dd bs=512 count=1 <&3 2>/dev/null | od -An -v -tx1")
    answer = bytes.fromhex(go.launch(["bash", "-c", script], 5, None, "/", record=False).result().stdout)
    return answer or None


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
    # Facts that hold from run to run (the engine picks the subnet from its pools: /16 or /20).
    case.fact(internal=topo.network.attrs["Internal"],
              default_route_to_bridge=default_gateway(table) == ipam.get("Gateway"))
    assert topo.network.attrs["Internal"] is True, "every scenario network must be internal"
    assert default_gateway(table) in (None, ipam.get("Gateway")), f"a route leads past the bridge:\n{table}"
    if shutil.which("iptables") and not os.environ.get("DOCKER_HOST"):      # a local engine: read its rules
        rules = subprocess.run(["iptables", "-S", "DOCKER-ISOLATION-STAGE-1"], capture_output=True,
                               text=True, timeout=10).stdout
        bridge = "br-" + topo.network.id[:12]
        assert f"! -d {ipam['Subnet']} -i {bridge} -j DROP" in rules, rules


def test_fake_names_resolve_only_inside_their_network(topo, case):
    """A member's name resolves in its own topology and nowhere else: not through another topology's resolver
    (on the same worker's network), which answers NXDOMAIN at once for a name it does not declare (as a real
    network's DNS does), and not through the engine's DNS, which knows none of the topology's names: they are the
    topology's own (its resolvers' tables and its servers' /etc/hosts, topology.py). A name no member answers to
    gets NXDOMAIN at once inside too (getent's exit code 2, "not found"; a timeout would take a second or more)."""
    up = topo.upstream(PROXY)
    inside = topo.go()
    elsewhere = Topology(topo.session, topo.labels["gotraps.test"] + "-elsewhere", topo.release)
    try:
        outside = elsewhere.go()
        seen_inside = inside.sh(f"getent hosts {PROXY}", record=False)
        seen_outside = outside.sh(f"getent hosts {PROXY}", timeout=10, record=False)
        unknown_inside = inside.sh("getent hosts sum.corp.test", timeout=10, record=False)
        engine_inside, engine_outside = ask_engine_dns(inside, PROXY), ask_engine_dns(outside, PROXY)
        server_hosts = (get_engine_file(up.container, "/etc/hosts") or "").split()
    finally:
        elsewhere.close()
    engine_knows = [e is not None and struct.unpack("!H", e[6:8])[0] > 0 for e in (engine_inside, engine_outside)]
    case.fact(inside=" ".join(seen_inside.stdout.split()), outside_exit=seen_outside.exit_code,
              unknown_inside_exit=unknown_inside.exit_code, engine_dns_knows_the_name=engine_knows,
              server_hosts_file_names_it=PROXY in server_hosts)
    assert seen_inside.ok and PROXY in seen_inside.stdout, seen_inside.stderr
    assert seen_inside.stdout.split()[0] == up.address, (seen_inside.stdout, up.address)
    assert PROXY in server_hosts, "a server finds the topology's names in its /etc/hosts"
    # `getent hosts` exits 2 when the name is not found: NXDOMAIN, not a resolver that never answered
    for what, obs in (("outside", seen_outside), ("an undeclared name inside", unknown_inside)):
        assert obs.exit_code == 2 and not obs.stdout.strip(), f"{what}: {obs.exit_code} {obs.stdout!r}"
        assert obs.duration_s < 1, f"{what}: NXDOMAIN comes at once, not after {obs.duration_s:.1f} s"
    assert engine_knows == [False, False], "the engine's DNS knows a name of the topology"


def test_watchdog_ends_a_command_that_never_would(topo, case):
    go = topo.go()
    obs = case.note(go.sh("sleep 1000", timeout=2))
    case.fact(duration_s=round(obs.duration_s, 2), exit_code=obs.exit_code)
    assert obs.timed_out and not obs.ok, obs
    assert obs.duration_s < 2 + 2.5, f"the 2 s watchdog took {obs.duration_s:.1f} s (TERM, then KILL 2 s later)"


def test_watchdog_tells_a_starved_command_from_a_hang(topo, case):
    """An overloaded machine can make the watchdog fire on a command that would have finished: such an
    observation must not count as a behaviour of Go. The container's CPU pressure tells them apart: a
    command blocked on the network waits for no CPU; one starved of CPU does (here: more busy loops than
    the machine has cores, all in the client)."""
    go = topo.go()
    hang = go.sh("sleep 1000", timeout=2, record=False)
    loops = 2 * (os.cpu_count() or 2)
    starved = go.sh(f"for i in $(seq {loops}); do (while :; do :; done) & done; wait", timeout=2, record=False)
    if hang.cpu_stall_s is None:
        pytest.skip("the engine's cgroups are not readable from here (a remote engine): no CPU pressure")
    case.fact(hang_starved=hang.starved, busy_loops_starved=starved.starved)
    assert hang.timed_out and not hang.starved, f"a hang waited {hang.cpu_stall_s:.2f} s for a CPU"
    assert starved.timed_out and starved.starved, f"busy loops waited only {starved.cpu_stall_s:.2f} s for a CPU"


def case_of_its_own(topo, name: str, look, dirty) -> dict:
    """A case of its own on this worker's pool: look(t) declares its members and returns the member to dirty
    and what it saw; then dirty(member), and the case ends (its containers reset and back in the pool, or
    removed) before this returns."""
    t = Topology(topo.session, topo.labels["gotraps.test"] + name, topo.release)
    try:
        member, seen = look(t)
        dirty(member)
    finally:
        t.close()
        topo.session.settle()
    return seen


def test_a_pooled_upstream_carries_nothing_to_the_next_case(topo, case):
    """Upstream containers go from case to case (fixtures/runtime/pool.py). One case leaves faults, a published
    version, requests, a file in /tmp and a running process behind: the next case gets the same
    container, and none of it. Another changes a file of the image: its container is never handed on."""
    if topo.session.pool is None:
        pytest.skip("GOTRAPS_POOL=0: no pool to check")
    env = {"GOPROXY": f"http://{PROXY}", "GOFLAGS": "-mod=mod"}

    def case_on_pooled_upstream(name, dirty):
        def look(t):
            up = t.upstream(PROXY)
            versions = t.go(**env).run("list", "-m", "-versions", "example.com/lib")
            return up, {"container": up.container.id, "versions": versions.stdout.split()[1:],
                        "requests_before": len(up.requests()) - len(versions.requests),
                        "processes": go_free_ps(up)}
        return case_of_its_own(topo, name, look, dirty)

    def go_free_ps(up):
        return sorted(up.container.exec_run(["sh", "-c", "cat /proc/[0-9]*/comm"]).output.decode().split())

    def leave_state(up):
        up.fault(r"/lib/@v/list$", "status", code=410)
        up.publish("example.com_lib_v9.9.9.txt", "-- .mod --\nmodule example.com/lib\n-- go.mod --\n"
                                                  "module example.com/lib\n-- lib.go --\npackage lib\n")
        up.container.exec_run(["sh", "-c", "echo left > /tmp/left-behind; sleep 1000 >/dev/null 2>&1 &"])

    def leave_stray(up):     # a file it made is removed; a file of the image it changed cannot be
        up.container.exec_run(["sh", "-c", "echo stray > /etc/stray; echo changed >> /etc/debian_version"])

    discarded = topo.session.pool.stats["discarded"]
    first = case_on_pooled_upstream("-1", leave_state)
    second = case_on_pooled_upstream("-2", leave_stray)
    third = case_on_pooled_upstream("-3", lambda up: None)
    case.fact(same_container_after_a_clean_case=second["container"] == first["container"],
              same_container_after_an_image_file_changed=third["container"] == second["container"],
              versions_seen=[first["versions"], second["versions"], third["versions"]],
              processes_seen=[first["processes"], second["processes"]],
              discarded_because=topo.session.pool.last_problem)
    assert second["container"] == first["container"], "a clean container goes back to the pool"
    assert second["versions"] == first["versions"] and "v9.9.9" not in second["versions"], second
    assert second["requests_before"] == 0 and second["processes"] == first["processes"], (first, second)
    assert third["container"] != second["container"], "a container changed outside its state is removed"
    assert topo.session.pool.stats["discarded"] == discarded + 1


def test_a_pooled_go_client_carries_nothing_to_the_next_case(topo, case):
    """Go clients go from case to case too (fixtures/runtime/pool.py). One case fills GOPATH (the module cache, with
    its read-only directories), the build cache, `go env -w`, git's global config, /work, /etc, HOME and
    /dev/shm, and leaves a process: the next case gets the same container and none of it, as a new one
    would have it. Another changes a file of the image: its container is never handed on."""
    if topo.session.pool is None:
        pytest.skip("GOTRAPS_POOL=0: no pool to check")
    look = ("ls -A /work /root /root/.config/go /home/gopher /dev/shm /etc/left 2>&1; git config --global --list 2>&1;"
            " cat $(go env GOENV) 2>&1; ls /root/go/pkg/mod 2>&1; ls /root/.cache/go-build | wc -l;"
            # the processes as the glob finds them (the look's own pipeline comes later)
            " ps=$(for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done 2>/dev/null); echo \"$ps\" | grep . | sort")

    def case_on_pooled_go_client(name, dirty):
        def see(t):
            t.upstream(PROXY)
            go = t.go(GOPROXY=f"http://{PROXY}")
            return go, {"container": go.container.id, "look": go.sh(look, record=False).stdout}
        return case_of_its_own(topo, name, see, dirty)

    def leave_state(go):
        go.write({"go.mod": "module example.com/app\n\ngo 1.21\n", "main.go": "package main\n\nfunc main() {}\n"})
        assert go.run("get", "example.com/lib@v1.0.0").ok and go.run("build", "-o", "/tmp/app", ".").ok
        assert go.run("env", "-w", "GOPROXY=off").ok
        go.sh("git config --global url.https://x/.insteadOf https://y/ && echo x > /etc/left && echo x > /dev/shm/left"
              " && mkdir -p /home/gopher/.cache && echo x > /home/gopher/.cache/left && (sleep 1000 >/dev/null 2>&1 &)")

    def change_image(go):
        go.sh("echo changed >> /etc/debian_version")

    discarded = topo.session.pool.stats["discarded"]
    first = case_on_pooled_go_client("-1", leave_state)
    second = case_on_pooled_go_client("-2", change_image)
    third = case_on_pooled_go_client("-3", lambda go: None)
    case.fact(same_container_after_a_case=second["container"] == first["container"],
              same_container_after_an_image_file_changed=third["container"] == second["container"],
              discarded_because=topo.session.pool.last_problem)
    assert second["container"] == first["container"], "a container whose case left only its own files goes back"
    assert second["look"] == first["look"], (first["look"], second["look"])
    assert "example.com" not in second["look"] and "insteadof" not in second["look"], second["look"]
    assert third["container"] != second["container"], "a container that changed a file of its image is removed"
    assert topo.session.pool.stats["discarded"] == discarded + 1


def test_no_container_is_privileged(topo, case):
    """Least privilege: no member runs privileged or with an added capability, middleware included. (One kind asks
    for one: tls_drift's lowered-MTU box, NET_ADMIN for its nftables rule; Member._launch refuses it to a pooled
    member, so it never reaches another case.)"""
    up = topo.upstream(PROXY)
    topo.nginx("mirror.corp.test", "plain", upstream=up)
    topo.go()
    topo.wait_servers()
    host_configs = {m.name: (m.container.reload() or m.container.attrs["HostConfig"]) for m in topo.members}
    case.fact(privileged={n: h.get("Privileged") for n, h in host_configs.items()},
              cap_add={n: h.get("CapAdd") for n, h in host_configs.items()})
    for name, hc in host_configs.items():
        assert hc.get("Privileged") is False and not hc.get("CapAdd"), (name, hc.get("CapAdd"))


def test_the_agent_gives_a_program_what_docker_exec_would(topo, case):
    """A go client's commands run through its agent (fixtures/runtime/agent.py), not `docker exec`. The same look at
    the environment, user, groups, working directory, umask, capabilities, limits and stdin, taken both ways
    in one container, is identical; so are the exit codes of a failing program, of another user's and of a
    missing working directory."""
    c = topo.go().container
    look = ('env | grep -v "^_=" | sort; id; pwd; umask; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; '
            'ulimit -a; echo "stdin: $(cat)"')
    by_agent, by_exec = both_ways(c, ["sh", "-c", look], env={"GOPROXY": "off", "SPACED": "a b  'c' $HOME"},
                                  cwd="/work")
    case.fact(same_look=by_agent == by_exec, lines=len(by_agent[1].splitlines()))
    assert by_agent == by_exec, f"agent:\n{by_agent}\ndocker exec:\n{by_exec}"
    for argv, cwd, user in ((["sh", "-c", "id; echo $HOME; exit 3"], "/", "gopher"), (["true"], "/nowhere", "")):
        (code_a, out_a, _), (code_e, out_e, _) = both_ways(c, argv, cwd=cwd, user=user)
        assert (code_a, out_a) == (code_e, out_e), (argv, cwd, user, code_a, out_a, code_e, out_e)


def both_ways(container, argv, env=None, cwd="/", user=""):
    """(code, stdout, stderr) of argv run through the container's agent, then by `docker exec`."""
    process = agent.spawn(container, argv, env=env, cwd=cwd, user=user)
    if not isinstance(process, agent.AgentProcess):
        pytest.skip("no agent here (a remote engine, or GOTRAPS_AGENT=0): every command is a docker exec")
    return process.wait(30), agent.ExecProcess(container, argv, dict(env or {}), cwd, user, None).wait(30)
