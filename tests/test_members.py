"""The world's members without Docker: the middleware registry is the one source of each program, each
kind's settle policy waits as it says, and no module reaches into another's private names."""
import hashlib
import json
from types import SimpleNamespace
import re
import time
from pathlib import Path

import pytest

from fixtures.runtime.images import DOCKER_DIR
from fixtures.world import member as member_mod
from fixtures.world import middleware as middleware_mod
from fixtures.world.githost import GitHost
from fixtures.world.goclient import GoClient
from fixtures.world.member import LOG_SETTLE_S, Member, Settle, collect_requests
from fixtures.world.middleware import PROGRAMS, Middleware
from fixtures.world.topology import SERVICE_IMAGES, Topology
from fixtures.world.upstream import ChecksumDB, Upstream
from fixtures.record.observation import Request

ROOT = Path(__file__).resolve().parent.parent


# --- the registry ------------------------------------------------------------------------------------

def test_every_templates_folder_is_a_registered_program():
    folders = {p.parent.name for p in DOCKER_DIR.glob("*/templates")}
    assert folders == set(PROGRAMS), "a docker/<program>/templates folder without a PROGRAMS entry, or the reverse"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_program_is_complete(name):
    p = PROGRAMS[name]
    assert p.name == name and (DOCKER_DIR / name / "Dockerfile").is_file()
    assert p.default_variant in p.variants()
    assert p.summary and "\n" not in p.summary
    assert callable(p.parse) and "{config}" in p.check and "{config}" in p.prepare + p.run
    # the commands are the entry's alone: the image only installs the program
    dockerfile = (DOCKER_DIR / name / "Dockerfile").read_text()
    assert not re.search(r"^\s*(ENV|CMD)\b", dockerfile, re.M), f"docker/{name}/Dockerfile sets what PROGRAMS says"
    assert SERVICE_IMAGES[name] == p.image
    # topo.<name>(...) is made from the entry
    assert getattr(Topology, name).__doc__.startswith(p.summary)


def test_service_images_are_the_docker_folders_of_services():
    # docker/go is built per release, docker/base is the base image's bootstrap, docker/lib is shared
    folders = {p.parent.name for p in DOCKER_DIR.glob("*/Dockerfile")} - {"go"}
    assert set(SERVICE_IMAGES) == folders


def test_a_command_carries_the_entry():
    cmd = PROGRAMS["squid"].command
    assert cmd[0] == "env" and cmd[-2:] == ["bash", "/usr/local/bin/serve.sh"]
    env = dict(a.split("=", 1) for a in cmd[1:-2])
    assert env["CHECK"] == "squid -k parse -f /etc/gotraps/squid.conf" and env["PORTS"] == "3128" and "PREPARE" in env
    assert "PREPARE" not in dict(a.split("=", 1) for a in PROGRAMS["nginx"].command[1:-2])


def test_unknown_program():
    with pytest.raises(ValueError, match="unknown middleware program 'lighttpd'; known: nginx, envoy, squid, haproxy, varnish, apache"):
        Middleware(None, "lighttpd", "h", None, None, {})


def test_default_variant_and_per_program_files():
    assert Middleware(None, "envoy", "edge.corp.test", None, "proxy.corp.test", {}).variant == "plain"
    mw = Middleware(None, "nginx", "mirror.corp.test", "auth", "proxy.corp.test", {"password": "pw"})
    assert mw.state_files()["/etc/gotraps/htpasswd"] == "gopher:{PLAIN}pw\n"
    squid = Middleware(None, "squid", "squid.corp.test", "intercept", None, {})
    assert "/etc/gotraps/bump-ca.pem" in squid.state_files()
    # squid's auth variant: basic_ncsa_auth's unsalted MD5 (md5sum) of the password, per test
    squid = Middleware(None, "squid", "squid.corp.test", "auth", None, {"user": "u", "password": "p@ss word"})
    assert squid.state_files()["/etc/gotraps/squid-passwd"] == "u:" + hashlib.md5(b"p@ss word").hexdigest() + "\n"
    assert "realm corporate proxy" in squid.config and "p@ss" not in squid.config
    assert set(Middleware(None, "squid", "squid.corp.test", "forward", None, {}).state_files()) == {
        "/etc/gotraps/squid.conf"}


# --- settle policies ---------------------------------------------------------------------------------

class FakeMember(Member):
    """A member whose log grows as the test says: log[i] is what the i-th read finds."""

    def __init__(self, settle, reads):
        super().__init__(None, "fake")
        self.settle, self.reads, self.n = settle, reads, 0

    def _read(self):
        r = self.reads[min(self.n, len(self.reads) - 1)]
        self.n += 1
        return r

    def requests(self):
        return [Request(server="fake", method="GET", path=p, status=200, fault=None, t=i, t_end=end)
                for i, (p, end) in enumerate(self._read())]

    def log_sizes(self):
        return (len(self._read()),)


def test_ends_waits_for_every_new_request_to_end():
    m = FakeMember(Settle.ends(0.5, poll_s=0.01), [[("/a", None)], [("/a", None)], [("/a", 1.0)]])
    assert [r.t_end for r in collect_requests([m])] == [1.0]


def test_ends_is_bounded():
    m = FakeMember(Settle.ends(0.1, poll_s=0.01), [[("/held", None)]])
    started = time.monotonic()
    assert [r.path for r in collect_requests([m])] == ["/held"]
    assert 0.1 <= time.monotonic() - started < 0.4


def test_quiet_waits_until_the_log_stops_growing():
    m = FakeMember(Settle.quiet(0.5, poll_s=0.01), [[], [("/a", 1)], [("/a", 1), ("/b", 2)], [("/a", 1), ("/b", 2)]])
    assert [r.path for r in collect_requests([m])] == ["/a", "/b"]


def test_after_end_is_waited_once_for_all(monkeypatch):
    slept = []
    monkeypatch.setattr(member_mod.time, "sleep", slept.append)
    quiet = [FakeMember(Settle.quiet(0, 0.01, after_end_s=LOG_SETTLE_S), [[]]) for _ in range(2)]
    collect_requests([*quiet, FakeMember(Settle.NONE, [[]])])
    assert slept == [LOG_SETTLE_S]
    slept.clear()
    collect_requests([FakeMember(Settle.NONE, [[]])])
    assert slept == []


def test_each_kind_settles_as_it_logs():
    assert Upstream.settle == Settle.ends(0.5, 0.02) and ChecksumDB.settle == Upstream.settle
    # a program that writes its line as the request ends is read until quiet; Envoy and Varnish after their lag
    lags = {name: Middleware.settle.fget(SimpleNamespace(program=p)).after_end_s for name, p in PROGRAMS.items()}
    assert lags == {**{name: 0.0 for name in PROGRAMS}, "envoy": LOG_SETTLE_S, "squid": LOG_SETTLE_S, "varnish": 0.05}
    assert GitHost.settle == Settle.ends(2.0, 0.03, then_quiet=True)
    assert GoClient.settle == Settle.NONE


def test_a_request_a_middle_box_logs_as_it_ends_is_handed_once(monkeypatch):
    """A middle box logs a request as it ends: one that began first (the zip) may be logged after one already
    handed to an observation (the .mod); a line being written is not read yet."""
    logs = iter([b'{"p": "/mod", "t": 1}\n{"p": "/zi', b'{"p": "/mod", "t": 1}\n{"p": "/zip", "t": 0.5}\n',
                 b'{"p": "/mod", "t": 1}\n{"p": "/zip", "t": 0.5}\n{"p": "/x", "t": 2}\n'])
    monkeypatch.setattr(middleware_mod, "get_file", lambda c, p: next(logs))
    mw = object.__new__(Middleware)
    mw.host, mw.future, mw._seen = "mirror.corp.test", SimpleNamespace(result=lambda: None), 0
    mw.program = SimpleNamespace(parse=lambda host, line: Request(server=host, method="GET", path=json.loads(line)["p"],
                                                                  status=200, fault=None, t=json.loads(line)["t"]))
    assert [[r.path for r in mw.take_new()] for _ in range(3)] == [["/mod"], ["/zip"], ["/x"]]


def test_new_requests_are_handed_once():
    m = FakeMember(Settle.NONE, [[("/a", 1)], [("/a", 1), ("/b", 2)]])
    assert [r.path for r in m.take_new()] == ["/a"]
    assert [r.path for r in m.take_new()] == ["/b"]


# --- encapsulation -----------------------------------------------------------------------------------

def test_no_module_reaches_into_another_objects_private_names():
    files = [*(ROOT / "fixtures" / "world").glob("*.py"), *(ROOT / "scenarios").glob("*.py"),
             ROOT / "fixtures" / "plugin.py"]
    hits = []
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for obj, name in re.findall(r"(?<![\w.])([a-z_]\w*)\.(_[a-z]\w*)", code):
                if obj not in ("self", "cls", "engine"):       # engine: the runtime's, not the world's
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {obj}.{name}")
    assert not hits, "\n".join(hits)


def test_faults_at_declaration_are_checked_and_written():
    class Topo:
        session = type("S", (), {"module_files": {}, "sumdb_signer": None})()

        def tls_files(self, mode, hosts):
            return {}
    with pytest.raises(ValueError):
        Upstream(Topo(), "proxy.corp.test", faults=[{"path": "/", "action": "no-such-action"}])
    up = Upstream(Topo(), "proxy.corp.test", faults=[{"path": "/", "action": "status", "code": 403}])
    assert '"code": 403' in up.state_files()["/srv/state/faults.json"]
