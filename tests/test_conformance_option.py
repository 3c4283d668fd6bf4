"""Your own config (--middleware-config) without Docker: the option's bad values are one line each at startup,
what a config says of its ports, the checker's rejection naming the user's file, and the report's section made
from results lines alone. The run through real programs: tests/test_conformance_e2e.py."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.record import conformance, report, runs
from fixtures.record.line import ResultLine
from fixtures.world.middleware import PROGRAMS, USER, Middleware, UserConfig, config_ports, read_user_configs

ROOT = Path(__file__).resolve().parent.parent
NGINX = "events {}\nhttp {\n    server {\n        listen 8081;\n        location / { proxy_pass http://goproxy.internal.example:8080; }\n    }\n}\n"


def test_a_config_is_read_at_startup(tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX)
    (tmp_path / "envoy.yaml").write_text("static_resources: {}\n")
    got = read_user_configs([f"nginx={tmp_path}/nginx.conf", f"envoy = {tmp_path}/envoy.yaml"])
    assert [(c.program, c.source, c.text) for c in got] == [
        ("nginx", f"{tmp_path}/nginx.conf", NGINX), ("envoy", f"{tmp_path}/envoy.yaml", "static_resources: {}\n")]
    assert read_user_configs(None) == [] and read_user_configs([]) == []


@pytest.mark.parametrize("value,said", [
    ("nginx", "expected PROGRAM=PATH, e.g. nginx=path/to/nginx.conf"),
    ("=x.conf", "expected PROGRAM=PATH"),
    ("nginx=", "expected PROGRAM=PATH"),
    ("ngnix=x.conf", "unknown program 'ngnix'; known: " + ", ".join(PROGRAMS)),
    ("nginx={tmp}/missing.conf", "{tmp}/missing.conf: no such file"),
    ("nginx={tmp}", "is a directory, not a config file"),
    ("nginx={tmp}/binary.conf", "cannot be read"),
])
def test_a_bad_value_is_one_clear_line(tmp_path, value, said):
    (tmp_path / "binary.conf").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError) as err:
        read_user_configs([value.format(tmp=tmp_path)])
    assert said.format(tmp=tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_one_config_per_program(tmp_path):
    (tmp_path / "a.conf").write_text(NGINX)
    (tmp_path / "b.conf").write_text(NGINX)
    with pytest.raises(ValueError, match=r"nginx is given twice \(.*a.conf and .*b.conf\); one config per program"):
        read_user_configs([f"nginx={tmp_path}/a.conf", f"nginx={tmp_path}/b.conf"])


def test_the_option_is_a_usage_error_before_anything_runs(tmp_path):
    """Through pytest itself: exit status 4 (usage), one line, no engine asked (a unit-test run needs none)."""
    for value, said in ((f"varnishh={tmp_path}/x", "unknown program 'varnishh'; known: nginx"),
                        (f"nginx={tmp_path}/nope.conf", "nope.conf: no such file")):
        run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
                              "--middleware-config", value, "tests/test_conformance_option.py"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
        assert f"ERROR: --middleware-config {value}: " in run.stderr and said in run.stderr, run.stderr


@pytest.mark.parametrize("program,text,ports", [
    ("nginx", NGINX, (8081, 8080, None)),
    ("nginx", "server {\n listen [::]:80;\n location / { proxy_pass https://up.example; }\n}\n", (80, 80, 443)),
    ("nginx", "upstream b {\n  server goproxy.internal.example:9000;\n}\n", (80, 9000, None)),
    ("envoy", "admin:\n  address: {socket_address: {port_value: 9901}}\nstatic_resources:\n  listeners:\n"
              "  - address: {socket_address: {address: 0.0.0.0, port_value: 10000}}\n  clusters:\n"
              "  - name: up\n    transport_socket: {name: tls}\n    load_assignment: {endpoints: [{lb_endpoints: "
              "[{endpoint: {address: {socket_address: {address: up, port_value: 8443}}}}]}]}\n", (10000, 80, 8443)),
    ("squid", "http_port 3128\nacl x src all\n", (3128, 80, None)),
    ("squid", "http_port 80 accel defaultsite=up\ncache_peer up parent 8080 0 no-query originserver\n", (80, 8080, None)),
    ("haproxy", "frontend f\n  bind :8080\nbackend b\n  server up up.example:9090 ssl verify none\n", (8080, 80, 9090)),
    ("apache", "Listen 8000\nProxyPass / http://up.example:81/\n", (8000, 81, None)),
    ("varnish", 'vcl 4.1;\nbackend up { .host = "up.example"; .port = "8082"; }\n', (80, 8082, None)),
])
def test_the_ports_a_config_names(program, text, ports):
    if program not in PROGRAMS:
        pytest.skip(f"{program} is not a program of this checkout")
    p = config_ports(program, text)
    assert (p.listen, p.upstream, p.upstream_tls) == ports


def test_forward_or_reverse():
    assert UserConfig("squid", "s", "http_port 3128\n").forward
    assert not UserConfig("squid", "s", "http_port 80 accel vhost\n").forward
    assert not UserConfig("nginx", "n", NGINX).forward


def _user_middleware(program: str, source: str, text: str) -> Middleware:
    """A Middleware of the USER variant as its constructor makes it, without a topology."""
    mw = object.__new__(Middleware)
    mw.program, mw.variant, mw.config = PROGRAMS[program], USER, text
    mw.user_config = UserConfig(program, source, text)
    return mw


def test_a_rejection_names_the_users_file_the_checker_and_the_line():
    text = NGINX.replace("location /", "proxy_passs x;\n        location /")
    mw = _user_middleware("nginx", "conf/my-nginx.conf", text)
    said = ("nginx mirror.corp.test exited before it was ready:\nconfig rejected by nginx:\n"
            'nginx: [emerg] unknown directive "proxy_passs" in /etc/gotraps/nginx.conf:5\n'
            "nginx: configuration file /etc/gotraps/nginx.conf test failed\n")
    message = mw._user_rejection(said)
    first, rest = message.split("\n", 1)
    assert first == ("your nginx config conf/my-nginx.conf was rejected by `nginx -t -c conf/my-nginx.conf`: "
                     'nginx: [emerg] unknown directive "proxy_passs" in conf/my-nginx.conf:5')
    assert "/etc/gotraps" not in message
    assert ">   5         proxy_passs x;" in rest and rest.splitlines()[-1].startswith("    ")


def test_a_user_variant_takes_only_its_config():
    with pytest.raises(ValueError, match="takes one value, config=UserConfig"):
        Middleware._take_user_config(_user_middleware("nginx", "x", NGINX), {"config": "text", "status": 200})


def test_a_users_config_is_copied_in_as_given_with_nothing_beside_it():
    """No template, so no certificate or other file of a variant: the config alone, at the program's path."""
    mw = Middleware.__new__(Middleware)
    mw.program, mw.variant, mw.values, mw.host, mw.aliases = PROGRAMS["nginx"], USER, {}, "mirror.corp.test", ()
    mw.user_config, mw.config = UserConfig("nginx", "my.conf", NGINX), NGINX
    assert mw.state_files() == {PROGRAMS["nginx"].config: NGINX}


def _line(release="1.27.3", **kw) -> ResultLine:
    base = dict(nodeid=f"scenarios/test_conformance.py::test_conformance[go{release}-nginx-user]", release=release,
                family=conformance.FAMILY, params={"middleware": "nginx", "variant": USER, "config": "my.conf"},
                outcome="passed")
    return ResultLine(**{**base, **kw})


def test_the_report_section_comes_from_the_results_lines(tmp_path):
    ran = _line(facts={"trap paths": {"state": conformance.SET_OFF, "evidence": ["GET /x/@v/list: 404 Not Found"]},
                       "trap headers": {"state": conformance.CLEAR, "evidence": ["all of them"]}})
    rejected = _line(nodeid="scenarios/test_conformance.py::test_conformance[go1.27.3-envoy-user]", outcome="error",
                     params={"middleware": "envoy", "variant": USER, "config": "bad.yaml"},
                     infrastructure_error="your envoy config bad.yaml was rejected by `envoy --mode validate -c "
                                          "bad.yaml -l error`: unknown field: an infrastructure error, not a behaviour of Go",
                     failure="gotraps: your envoy config ...\n>  3 bad: field")
    got = conformance.section([ran, rejected, _line(family="middleware", params={})], ["1.27.3"])
    assert [(e["program"], e["config"]) for e in got] == [("envoy", "bad.yaml"), ("nginx", "my.conf")]
    assert got[0]["rejected"].startswith("your envoy config bad.yaml was rejected by `envoy --mode validate")
    assert got[0]["detail"] == ">  3 bad: field" and not got[0]["traps"]
    assert got[1]["set_off"] == ["paths"] and [t["id"] for t in got[1]["traps"]] == ["paths", "headers"]
    assert conformance.summary([ran, rejected]) == [
        "conformance envoy bad.yaml: " + got[0]["rejected"], "conformance nginx my.conf: sets off paths"]
    # the whole report, from a run directory of results lines
    run_dir = tmp_path / "20990101-000000-abcdef"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text("".join(json.dumps(l.to_json()) + "\n" for l in (ran, rejected)))
    (run_dir / "run.json").write_text(json.dumps({"run_id": run_dir.name, "args": ["--middleware-config", "x"],
                                                  "go_releases": ["1.27.3"], "started": 1.0, "finished": 2.0,
                                                  "exitstatus": 1, "host": "h"}))
    md, html = report.render(runs.load(run_dir))
    assert "## Your configs: middleware conformance" in md and "Sets off **1** trap: paths." in md
    assert "**Your config was rejected by its checker:** your envoy config bad.yaml" in md
    assert 'id="conformance"' in html and "GET /x/@v/list: 404 Not Found" in html


def test_record_refuses_an_unknown_trap_or_state():
    class Case:
        facts = {}

        def fact(self, **kw):
            self.facts.update(kw)
    with pytest.raises(ValueError):
        conformance.record(Case(), {"pathz": (conformance.SET_OFF, [])})
    with pytest.raises(ValueError):
        conformance.record(Case(), {"paths": ("maybe", [])})
    c = Case()
    conformance.record(c, {"paths": (conformance.CLEAR, ("a",))})
    assert c.facts == {"trap paths": {"state": "clear", "evidence": ["a"]}}
