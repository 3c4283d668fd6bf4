"""What one case's containers cost the machine, measured in busy CPU seconds (the engine, the kernel and
the containers together, read from /proc/stat), on an otherwise idle machine:

    python benchmarks/container_cost.py [--rounds 8]

  network               an internal network created and removed
  go client             + a go client container started, one `go version`, removed
  upstream, new         + an upstream container started until "ready", removed (what each case paid
                          before the pool)
  upstream, pooled      an upstream taken from the pool, served until "ready", reset, handed back: on the
                          worker's network, as a case has it now (no network of its own, nothing joins)
  joining a network     a running container connected to a network under a name and disconnected (what
                          each member of a case paid before the worker's network)
  upstream, new         a network and a new upstream alone: the harness's own builder (topology.py), then
    with testcontainers   testcontainers-python's Network, DockerContainer and log wait strategy

Then, per call against a running go client: an exec; the same command through the container's agent and
by the agent's `docker exec` fallback (fixtures/runtime/agent.py); get_archive of a file, and the same file read
through the container's root from here (what images.get_file does on a local engine); the container's log
asked for and read on the host (images.get_log).

Each line is the mean of --rounds rounds (calls: 5 × --rounds), idle time after each round included (the kernel frees a
network namespace later). Needs the images (`gotraps setup`).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testcontainers.core.config import testcontainers_config  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.network import Network  # noqa: E402
from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: E402

from fixtures.runtime import agent, engine, images, toolchains  # noqa: E402
from fixtures.runtime.pool import IDLE, ContainerPool  # noqa: E402
from fixtures.world.upstream import STATE  # noqa: E402

SERVE = ["python3", "/srv/serve.py", "--role", "goproxy", "--state", STATE, "--port", "80"]


def busy_cpu_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class Bench:
    """Just enough of a Topology for the pool: a network and container creation (the pool's go on the
    worker's network, `shared`)."""

    run_id, worker = f"container-cost-{os.getpid()}", "bench"

    def __init__(self, client):
        self.client = client
        self.network = None
        self.shared = client.networks.create(f"gotraps-cost-{os.getpid()}-worker", driver="bridge", internal=True,
                                             labels=self.labels(""))

    def labels(self, test: str) -> dict:
        return engine.run_labels(self.run_id, os.getpid())

    def create_container(self, name, image, command, labels=None, tmpfs=None, aliases=()):
        api = self.client.api
        network = self.network or self.shared
        cid = api.create_container(
            image, command=command, name=name, labels=labels or self.labels(""),
            host_config=api.create_host_config(network_mode=network.name, init=True, tmpfs=tmpfs or None),
            networking_config=api.create_networking_config(
                {network.name: api.create_endpoint_config(aliases=list(aliases))}))["Id"]
        return self.client.containers.get(cid)


def wait_ready(c, since: int = 0) -> None:
    deadline = time.monotonic() + 30
    while b"ready" not in c.logs()[since:]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{c.name} not ready")
        time.sleep(0.03)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args(argv)
    client = engine.connect()
    upstream = images.ensure_image(client, "upstream")
    go = images.ensure_go_image(client, toolchains.ensure(toolchains.DEFAULT_GO))
    b = Bench(client)
    # The Bench is the pool's session and topology both.
    pool = ContainerPool(b, STATE, (f"{STATE}/modules", f"{STATE}/release"))
    seq = iter(range(10 ** 6))

    def round_(with_go: bool, upstream_mode: str | None) -> None:
        if upstream_mode == "testcontainers":
            return testcontainers_round()
        if upstream_mode == "pooled":       # on the worker's network: no network, nothing joins
            b.network = None
            pooled = pool.acquire(b, upstream)
            since = len(pooled.logs())
            exec_id = client.api.exec_create(pooled.id, ["sh", "-c", f"exec {' '.join(SERVE)} >/proc/1/fd/1"])["Id"]
            client.api.exec_start(exec_id, detach=True)
            wait_ready(pooled, since)
            pool.release(pooled)
            return
        b.network = client.networks.create(f"gotraps-cost-{os.getpid()}-{next(seq)}", driver="bridge",
                                           internal=True, labels=b.labels(""))
        made = []
        if upstream_mode == "join":
            idle = pool.acquire(b, upstream)
            client.api.connect_container_to_network(idle.id, b.network.id, aliases=["proxy.corp.test"])
            client.api.disconnect_container_from_network(idle.id, b.network.id, force=True)
            pool.release(idle)
        if upstream_mode == "new":
            c = b.create_container(f"{b.network.name}-up", upstream, SERVE, aliases=["proxy.corp.test"])
            c.start()
            wait_ready(c)
            made.append(c)
        if with_go:
            g = b.create_container(f"{b.network.name}-go", go, IDLE, aliases=["go0"])
            g.start()
            client.api.exec_start(client.api.exec_create(g.id, ["go", "version"])["Id"])
            made.append(g)
        for c in made:
            c.remove(force=True)
        b.network.remove()

    def testcontainers_round() -> None:
        """The same as "network + upstream, new", built with testcontainers-python's Network and
        DockerContainer and its log wait strategy."""
        testcontainers_config.ryuk_disabled = True      # the harness's Ryuk is per run (fixtures/runtime/reaper.py)
        net = Network(docker_network_kw={"driver": "bridge", "internal": True, "labels": b.labels("")})
        net.name = f"gotraps-cost-{os.getpid()}-{next(seq)}"
        net.create()
        box = (DockerContainer(upstream).with_command(SERVE).with_name(f"{net.name}-up").with_network(net)
               .with_network_aliases("proxy.corp.test").with_kwargs(labels=b.labels(""), init=True)
               .waiting_for(LogMessageWaitStrategy(r"^ready").with_poll_interval(0.03).with_startup_timeout(30)))
        box.start()
        box.stop()
        net.remove()

    rows = [("network", False, None), ("network + go client", True, None),
            ("network + go client + upstream, new", True, "new"),
            ("upstream, pooled", False, "pooled"),
            ("network + joining it and leaving", False, "join"),
            ("network + upstream, new", False, "new"),
            ("network + upstream, new, with testcontainers", False, "testcontainers")]
    round_(True, "pooled")         # the pool's first container is made here, not measured
    try:
        for label, with_go, mode in rows:
            time.sleep(2)
            cpu, wall = busy_cpu_s(), time.monotonic()
            for _ in range(args.rounds):
                round_(with_go, mode)
            time.sleep(2)       # what the kernel does later (freeing network namespaces) counts too
            cpu, wall = busy_cpu_s() - cpu, time.monotonic() - wall - 2
            print(f"{label:42} {cpu / args.rounds:.3f} CPU s, {wall / args.rounds:.3f} s wall per round",
                  flush=True)
        calls(client, go, args.rounds * 5)
    finally:
        pool.close()
        b.shared.remove()
    return 0


def calls(client, go_image: str, n: int) -> None:
    """What one engine call of a case costs, against a running go client: a go command's exec, and reading
    a file back with get_archive or, on a local engine, through the container's overlay mount."""
    g = client.containers.run(go_image, IDLE, detach=True, init=True, network_mode="none",
                              labels=engine.run_labels(Bench.run_id, os.getpid()))
    try:
        g.reload()
        g.exec_run(["sh", "-c", "echo go1.27 >/tmp/out"])
        for label, fn in (("exec of `go version`", lambda: g.exec_run(["go", "version"])),
                          ("`go version` through the agent", lambda: agent.spawn(g, ["go", "version"]).wait(30)),
                          ("`go version`, the agent's docker exec fallback",
                           lambda: agent.ExecProcess(g, ["go", "version"], {}, "/", "", None).wait(30)),
                          ("get_archive of a file", lambda: b"".join(g.get_archive("/tmp/out")[0])),
                          ("the same file read from here", lambda: images.get_file(g, "/tmp/out")),
                          ("logs of the container", lambda: g.logs()),
                          ("the same log read on the host", lambda: images.get_log(g)),
                          ("inspect of the container", lambda: g.reload())):
            time.sleep(1)
            cpu, wall = busy_cpu_s(), time.monotonic()
            for _ in range(n):
                fn()
            time.sleep(1)
            cpu, wall = busy_cpu_s() - cpu, time.monotonic() - wall - 1
            print(f"{label:42} {cpu / n:.4f} CPU s, {wall / n:.4f} s wall per call", flush=True)
    finally:
        g.remove(force=True)


if __name__ == "__main__":
    sys.exit(main())
