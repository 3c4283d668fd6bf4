"""Middleware configs and access logs without Docker: every variant renders, bad input is one clear error,
and each program's log line becomes the Request the observation holds."""
import json

import pytest

from fixtures.world.member import InfrastructureError, Member
from fixtures.world.middleware import ACCESS_LOG, PROGRAMS, Middleware

# The values a scenario must give some variants (everything else has a default in the template).
REQUIRED = {("nginx", "auth"): {"password": "s3cret"}, ("squid", "auth"): {"password": "s3cret"},
            ("nginx", "fixed"): {"status": 503},
            ("envoy", "fixed"): {"status": 503}, ("haproxy", "fixed"): {"status": 503},
            ("haproxy", "timeouts"): {"server_timeout": "2s"}, ("haproxy", "auth"): {"password": "s3cret"},
            ("varnish", "fixed"): {"status": 503},
            ("varnish", "timeouts"): {"first_byte_timeout": "2s", "between_bytes_timeout": "2s"},
            ("apache", "fixed"): {"status": 503}, ("apache", "timeouts"): {"timeout": 2},
            ("apache", "auth"): {"password": "s3cret"}}


@pytest.mark.parametrize("program,variant", [(p, v) for p in PROGRAMS for v in PROGRAMS[p].variants()])
def test_every_variant_renders(program, variant):
    values = {"host": "mirror.corp.test", "upstream": "proxy.corp.test", **REQUIRED.get((program, variant), {})}
    text = PROGRAMS[program].render(variant, values)
    assert "{{" not in text and "{%" not in text
    # the config writes the access log, or what runs the program does (HAProxy's stdout, varnishncsa)
    assert ACCESS_LOG in text or ACCESS_LOG in PROGRAMS[program].run or program == "varnish" \
        or variant == "debian-default" and "include" in text
    if "upstream" in PROGRAMS[program].values_of_variant(variant):
        assert "proxy.corp.test" in text


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        PROGRAMS["nginx"].render("cachee", {"host": "h", "upstream": "u"})
    assert "unknown variant 'cachee'" in str(err.value) and "cache, " in str(err.value)


def test_a_value_the_variant_does_not_take():
    with pytest.raises(ValueError) as err:
        PROGRAMS["nginx"].render("timeouts", {"host": "h", "upstream": "u", "read_timout": "2s"})
    assert "takes no value read_timout" in str(err.value) and "read_timeout" in str(err.value)


def test_a_value_the_variant_needs():
    with pytest.raises(ValueError) as err:
        PROGRAMS["nginx"].render("fixed", {"host": "h"})
    assert "'status' is undefined" in str(err.value)


def test_values_reach_the_config():
    text = PROGRAMS["nginx"].render("timeouts", {"host": "h", "upstream": "u", "read_timeout": "2s"})
    assert "proxy_read_timeout 2s;" in text and "proxy_connect_timeout 60s;" in text
    text = PROGRAMS["squid"].render("forward", {"host": "h", "ssl_ports": [8443]})
    assert "acl SSL_ports port 443 8443" in text


def test_rejected_config_excerpt_points_at_the_line():
    mw = Middleware.__new__(Middleware)
    mw.program = PROGRAMS["nginx"]
    mw.config = "\n".join(f"line {i}" for i in range(1, 21))
    excerpt = mw._config_excerpt('config rejected by nginx:\nnginx: [emerg] unknown directive "x" in '
                                 '/etc/gotraps/nginx.conf:12')
    assert ">  12 line 12" in excerpt and "   8 line 8" in excerpt and "line 17" not in excerpt
    # a time of day is not a line number: without the config's path and a line, the whole config
    whole = mw._config_excerpt("[2026-11-25 16:24:42.986][critical] error initializing configuration")
    assert "  20 line 20" in whole and ">" not in whole.split(":", 1)[1]


def test_nginx_log_line():
    line = json.dumps({"t_end": 1700000010.5, "request_time": 0.25, "method": "GET",
                       "path": "/example.com/%21upper/@v/list", "status": 200, "bytes": 7, "upstream": "10.0.0.2:80",
                       "upstream_status": "200", "upstream_time": "0.240", "cache": "MISS", "accept": "",
                       "user_agent": "GoCommand/1", "cache_control": ""})
    r = PROGRAMS["nginx"].parse("mirror.corp.test", line)
    assert (r.method, r.path, r.status, r.t) == ("GET", "/example.com/%21upper/@v/list", 200, 1700000010.25)
    assert r.detail["cache"] == "MISS" and r.headers == {"User-Agent": "GoCommand/1"}


def test_envoy_log_line():
    line = json.dumps({"t": "1700000000.123", "method": "GET", "path": "/x/@v/v1.0.0.zip", "status": 504,
                       "flags": "UT", "details": "upstream_response_timeout", "upstream": "10.0.0.2:80",
                       "upstream_time": None, "duration": 2001, "bytes": 24, "accept": None,
                       "user_agent": "GoCommand/1", "cache_control": None})
    r = PROGRAMS["envoy"].parse("mirror.corp.test", line)
    assert (r.status, r.detail["flags"], r.t) == (504, "UT", 1700000000.123)


def test_squid_log_line_and_the_probe():
    r = PROGRAMS["squid"].parse("squid.corp.test", "1700000001.500 500 CONNECT proxy.corp.test:8443 403 TCP_DENIED HIER_NONE "
                                       "- - 3900 - Go-http-client%2F1.1 - -")
    assert (r.method, r.path, r.status, r.t) == ("CONNECT", "proxy.corp.test:8443", 403, 1700000001.0)
    assert r.detail["result"] == "TCP_DENIED" and r.headers == {"User-Agent": "Go-http-client/1.1"}
    assert "user" not in r.detail
    # the auth variant: the user the client authenticated as, URL-encoded
    r = PROGRAMS["squid"].parse("squid.corp.test", "1700000002.000 3 GET http://proxy.corp.test/x 200 TCP_MISS "
                                "HIER_DIRECT 172.18.0.2 200 412 - Go-http-client%2F1.1 - go%20pher")
    assert (r.status, r.detail["user"]) == (200, "go pher")
    with pytest.raises(ValueError):      # serve.sh's readiness probe: a connection without a request
        PROGRAMS["squid"].parse("s", "1700000001.000 0 - error:transaction-end-before-headers - NONE_NONE HIER_NONE - - 0 - - - -")


def test_haproxy_log_line_and_its_own_answers():
    # the request began Th + Ti after the accept date, and took Ta; Tr -1: no server answered
    line = ('{"t_accept":1700000000.100,"th":0,"ti":400,"ta":2003,"method":"GET","path":"/x/@v/v1.0.0.zip",'
            '"status":504,"bytes":198,"backend":"upstream","server":"upstream","upstream":"10.0.0.2:80",'
            '"upstream_time":-1,"term":"sH--","cache":"","accept":"-","user_agent":"GoCommand/1","cache_control":"-"}')
    r = PROGRAMS["haproxy"].parse("mirror.corp.test", line)
    assert (r.method, r.status, r.t, r.t_end) == ("GET", 504, 1700000000.5, pytest.approx(1700000002.503))
    assert r.detail["term"] == "sH--" and "upstream_status" not in r.detail and "cache" not in r.detail
    assert r.headers == {"User-Agent": "GoCommand/1"}
    hit = json.loads(line) | {"server": "<CACHE>", "upstream": "-:-", "status": 200, "upstream_time": 0, "cache": "1"}
    r = PROGRAMS["haproxy"].parse("mirror.corp.test", json.dumps(hit))
    assert r.detail["cache"] == "HIT" and "upstream_status" not in r.detail and "upstream" not in r.detail
    answered = json.loads(line) | {"status": 200, "upstream_time": 3}
    assert PROGRAMS["haproxy"].parse("m", json.dumps(answered)).detail["upstream_status"] == 200


def test_varnish_log_line():
    line = json.dumps({"t": "1700000000.250000", "t_end": "1700000000.251000", "method": "GET",
                       "path": "/example.com/%21upper/@v/list", "status": "200", "bytes": "7", "handling": "hit",
                       "stale": "-0.400", "upstream_status": "", "upstream_time": "", "accept": "",
                       "user_agent": "GoCommand/1", "cache_control": ""})
    r = PROGRAMS["varnish"].parse("edge.corp.test", line)
    assert (r.path, r.status, r.t, r.t_end) == ("/example.com/%21upper/@v/list", 200, 1700000000.25, 1700000000.251)
    assert r.detail == {"cache": "hit", "stale": "-0.400", "bytes": "7"} and r.headers == {"User-Agent": "GoCommand/1"}
    miss = json.loads(line) | {"handling": "miss", "stale": "", "upstream_status": "200", "upstream_time": "0.002"}
    assert PROGRAMS["varnish"].parse("e", json.dumps(miss)).detail["upstream_status"] == 200


def test_apache_log_line_and_the_probe():
    # the request line as go sent it; Apache's \xhh escape of a byte it will not print
    line = ('{"begin":1700000000250,"end":1700000000300,"method":"GET","request":"GET /example.com/%21upper/@v/list '
            'HTTP/1.1","status":200,"first_status":200,"handler":"proxy-server","bytes":7,"ttfb":"1200",'
            '"cache":"cache miss: attempting entity save","accept":"-","user_agent":"Go\\x7f","cache_control":"-"}')
    r = PROGRAMS["apache"].parse("mirror.corp.test", line)
    assert (r.path, r.status, r.t, r.t_end) == ("/example.com/%21upper/@v/list", 200, 1700000000.25, 1700000000.3)
    assert r.detail["upstream_status"] == 200 and r.detail["cache"].startswith("cache miss")
    assert r.headers == {"User-Agent": "Go\x7f"}
    line = line.replace("Go\\x7f", "GoCommand/1")
    own = json.loads(line) | {"status": 503, "first_status": 503, "handler": "-", "cache": "-"}
    assert "upstream_status" not in PROGRAMS["apache"].parse("m", json.dumps(own)).detail
    with pytest.raises(ValueError):     # serve.sh's readiness probe: a connection without a request
        PROGRAMS["apache"].parse("m", json.dumps(json.loads(line) | {"method": "-", "request": "-"}))


@pytest.mark.parametrize("program,message", [
    ("haproxy", "[ALERT]    (6) : config : parsing [/etc/gotraps/haproxy.cfg:12] : unexpected character 'f' in "
                "'timeout server'"),
    ("varnish", "Message from VCC-compiler:\nUnknown duration unit 'fortnights'\n('/etc/gotraps/default.vcl' Line 12 "
                "Pos 29)\n\nIn backend specification starting at:\n('/etc/gotraps/default.vcl' Line 4 Pos 1)"),
    ("apache", "AH00526: Syntax error on line 12 of /etc/gotraps/apache.conf:\nProxyTimeout takes one argument"),
])
def test_each_checkers_line_reference(program, message):
    mw = Middleware.__new__(Middleware)
    mw.program = PROGRAMS[program]
    mw.config = "\n".join(f"line {i}" for i in range(1, 21))
    excerpt = mw._config_excerpt(f"config rejected by {program}:\n{message}")
    assert ">  12 line 12" in excerpt and "line 17" not in excerpt, excerpt


class SilentContainer:
    """A container that runs and logs, but never says "ready" (of a remote engine: its log is asked for)."""
    status = "running"
    attrs = {}

    def logs(self):
        return b"squid: starting\n"

    def reload(self):
        pass


def test_a_member_that_never_becomes_ready_is_an_infrastructure_error():
    member = Member(topo=None, host="squid.corp.test")
    member.kind = "squid"
    with pytest.raises(InfrastructureError) as err:
        member._wait_ready(SilentContainer(), timeout=0.3)
    assert "squid squid.corp.test not ready after 0 s" in str(err.value) and "squid: starting" in str(err.value)
