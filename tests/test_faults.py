"""Unit tests for the fault registry (docker/upstream/upstreamlib/faults/): one module per action, the rule
checks, chains, ids, the script syntax and the host's Upstream.fault, and chains served by httpfault on
127.0.0.1 (no Docker)."""

import http.client
import json
import pkgutil
import socket
import sys
import time
from pathlib import Path

import pytest

from upstreamlib import faults

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docker" / "upstream"))
import httpfault  # noqa: E402

BODY = bytes(range(256)) * 4     # what the test server answers: 1 KiB


class Fixed(httpfault.Upstream):
    role = "fixed"

    def answer(self, handler, path):
        return httpfault.Response(200, {"Content-Type": "application/octet-stream"}, BODY)


@pytest.fixture
def srv(tmp_path):
    s = Fixed(tmp_path).start()
    yield s
    s.stop()


def set_faults(srv, rules):
    Path(srv.state_dir, "faults.json").write_text(json.dumps(rules))


def get(srv, path="/x", timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r, r.read()
    finally:
        c.close()


def arrivals(srv):
    lines = [json.loads(x) for x in Path(srv.state_dir, "requests.jsonl").read_text().splitlines()]
    return [x for x in lines if not x.get("end")]


# --- the registry --------------------------------------------------------------------------------

def test_every_module_is_a_registered_action():
    modules = {m.name for m in pkgutil.iter_modules(faults.__path__) if not m.name.startswith("_")}
    assert modules == set(faults.REGISTRY) == set(faults.ACTIONS)
    assert faults.ACTIONS[:3] == ("status", "delay", "hang")     # ORDER: stable, documented


@pytest.mark.parametrize("name", faults.ACTIONS)
def test_each_action_is_complete(name):
    f = faults.REGISTRY[name]
    assert f.name == name and callable(f.serve) and f.summary and "\n" not in f.summary
    assert f.kind in faults.MODIFIERS + faults.TERMINALS
    for key, (required, description) in f.keys.items():
        assert isinstance(required, bool) and description, key
    required = {k: 1 for k, (req, _) in f.keys.items() if req}
    # Its required keys alone, with values of their types, make a rule the server accepts (body: one of two).
    sample = {"int": 1, "number": 0.5, "str": "x", "headers": {"X": "y"}, "code": 301}
    rule = {"action": name, **{k: sample[f.key_specs[k].type] for k in required}}
    if name == "body":
        rule["text"] = "x"
    assert faults.validate_rule(rule).name == name
    assert "| `%s` |" % name in faults.markdown_table()


# --- checks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,why", [
    ({"action": "status"}, "needs 'code'"),
    ({"action": "status", "code": "500"}, "wrong type"),
    ({"action": "status", "code": 99}, "100..599"),
    ({"action": "status", "code": 200, "headers": {"X": 1}}, "header values must be strings"),
    ({"action": "delay", "seconds": -1}, ">= 0"),
    ({"action": "truncate"}, "needs 'bytes'"),
    ({"action": "redirect", "location": "/", "code": 200}, "3xx"),
    ({"action": "body"}, "exactly one"),
    ({"action": "body", "base64": "%%%"}, "bad base64"),
    ({"action": "hold", "name": "../x"}, "plain file name"),
    ({"action": "hang", "path": "("}, "bad path regex"),
    ({"action": "hang", "times": -1}, "times"),
    ({"action": "hang", "time": 1}, "unknown keys for action 'hang': time"),
    ({"action": "explode"}, "unknown action 'explode' (want one of status, delay"),
    ("hang", "not a JSON object"),
    # chains
    ({"action": "status", "code": 500, "then": [{"action": "truncate", "bytes": 1}]},
     "two terminal actions in one chain: 'status' and 'truncate'"),
    ({"action": "hang", "then": [{"action": "delay", "seconds": 1}]}, "'hang' ends the exchange, so it comes last"),
    ({"action": "trickle", "bytes": 1, "interval": 1, "then": [{"action": "reset"}]},
     "'trickle' shapes a response, but 'reset' sends none"),
    ({"action": "delay", "seconds": 1, "then": [{"action": "delay", "seconds": 2}]}, "'delay' twice"),
    ({"action": "delay", "seconds": 1, "then": [{"action": "truncate"}]}, "then[0]: action 'truncate' needs 'bytes'"),
    ({"action": "delay", "seconds": 1, "then": [{"action": "close", "times": 1}]}, "rule keys go on the rule"),
    ({"action": "delay", "seconds": 1, "then": {"action": "close"}}, '"then" must be a list'),
])
def test_rule_validation(rule, why):
    with pytest.raises(ValueError) as ei:
        faults.validate_rule(rule, where="rule 0")
    assert why in str(ei.value) and str(ei.value).startswith("rule 0: ")


def test_chains_that_make_sense():
    for first, then in [("delay", "truncate"), ("delay", "status"), ("headers", "trickle"), ("hold", "reset")]:
        keys = {"delay": {"seconds": 1}, "truncate": {"bytes": 1}, "status": {"code": 503},
                "headers": {"headers": {"X": "y"}}, "trickle": {"bytes": 1, "interval": 0}, "hold": {"name": "h"},
                "reset": {}}
        rule = faults.validate_rule({"action": first, **keys[first], "then": [{"action": then, **keys[then]}]})
        assert rule.name == "%s+%s" % (first, then) and rule.action == first


def test_rule_file_ids():
    rules = faults.validate_rules([{"action": "hang"}, {"id": "f2", "action": "close"}])
    assert [r.id for r in rules] == [0, "f2"]
    with pytest.raises(ValueError, match="rule f2: two rules with this id"):
        faults.validate_rules([{"id": "f2", "action": "hang"}, {"id": "f2", "action": "close"}])
    with pytest.raises(ValueError, match="rule f9: action 'status' needs 'code'"):
        faults.validate_rules([{"id": "f9", "action": "status"}])


# --- the script syntax ---------------------------------------------------------------------------

def test_parse_value():
    assert [faults.parse_value(v) for v in ("404", "1.5", "true", '{"X": "y"}', "text", "")] == \
        [404, 1.5, True, {"X": "y"}, "text", ""]


def test_rule_from_words():
    assert faults.rule_from_words(["status", "code=403", "times=2"]) == {"action": "status", "code": 403, "times": 2}
    assert faults.rule_from_words(["delay", "seconds=1", "then", "truncate", "bytes=10", "times=1"]) == \
        {"action": "delay", "seconds": 1, "times": 1, "then": [{"action": "truncate", "bytes": 10}]}
    for words, why in [([], "want an action name"), (["delay", "then"], "after 'then'"),
                       (["code=1"], "not 'code=1'"), (["status", "code"], "want key=value")]:
        with pytest.raises(ValueError, match=why):
            faults.rule_from_words(words)


# --- the host's API ------------------------------------------------------------------------------

def test_host_fault_ids_and_chain(monkeypatch):
    from fixtures.world import upstream

    written = []
    monkeypatch.setattr(upstream, "put_files", lambda c, files: written.append(json.loads(files[
        f"{upstream.STATE}/faults.json"])))
    class Bare(upstream.Upstream):
        container = None            # none: put_files is the fake above

    up = object.__new__(Bare)
    up._faults = []
    assert up.fault("list$", "status", code=503, times=1) is up
    up.fault("zip$", "delay", seconds=1, then=[("truncate", {"bytes": 10})])
    assert written[-1] == [
        {"id": "f1", "path": "list$", "action": "status", "code": 503, "times": 1},
        {"id": "f2", "path": "zip$", "action": "delay", "seconds": 1, "then": [{"action": "truncate", "bytes": 10}]}]
    with pytest.raises(ValueError, match=r"^fault \{.*\}: unknown keys for action 'status': cod$"):
        up.fault("x", "status", cod=1)
    assert up.add_fault_rule({"path": "x", "action": "hang"})["id"] == "f3"
    with pytest.raises(ValueError, match="another rule has id 'f1'"):
        up.add_fault_rule({"id": "f1", "action": "hang"})
    assert len(written) == 2       # add_fault_rule only keeps it: the caller writes faults.json


# --- served ---------------------------------------------------------------------------------------

def test_adding_a_rule_keeps_the_counters_of_the_others(srv):
    first = {"id": "f1", "path": "^/a", "action": "status", "code": 503, "times": 1}
    set_faults(srv, [first])
    assert [get(srv, "/a")[0] for _ in range(2)] == [503, 200]
    set_faults(srv, [first, {"id": "f2", "path": "^/b", "action": "status", "code": 410}])
    assert get(srv, "/a")[0] == 200, "f1 used up its one time: not re-armed by the reload"
    assert get(srv, "/b")[0] == 410
    # A rule with another id, or the same id with other content, starts afresh.
    set_faults(srv, [{**first, "code": 502}])
    assert get(srv, "/a")[0] == 502
    assert [(a["path"], a["fault"], a["rule"]) for a in arrivals(srv)] == [
        ("/a", "status", "f1"), ("/a", None, None), ("/a", None, None), ("/b", "status", "f2"), ("/a", "status", "f1")]


def test_rules_without_id_keep_counters_by_index(srv):
    first = {"path": "^/a", "action": "status", "code": 503, "times": 1}
    set_faults(srv, [first])
    assert get(srv, "/a")[0] == 503
    set_faults(srv, [first, {"path": "^/b", "action": "close"}])
    assert get(srv, "/a")[0] == 200
    assert arrivals(srv)[0]["rule"] == 0


def test_chain_delay_then_truncate_on_a_socket(srv):
    set_faults(srv, [{"id": "f1", "action": "delay", "seconds": 0.3, "then": [{"action": "truncate", "bytes": 10}]}])
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    started = time.monotonic()
    s.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert time.monotonic() - started >= 0.3
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(BODY) in head
    assert body == BODY[:10], "ten bytes, then the server closed"
    assert arrivals(srv)[0]["fault"] == "delay+truncate"


def test_chain_delay_then_status_and_headers_then_trickle(srv):
    set_faults(srv, [
        {"path": "^/s", "action": "delay", "seconds": 0.2, "then": [{"action": "status", "code": 503}]},
        {"path": "^/t", "action": "headers", "headers": {"Cache-Control": "no-store"},
         "then": [{"action": "trickle", "bytes": 300, "interval": 0.1}]},
    ])
    started = time.monotonic()
    st, _, body = get(srv, "/s")
    assert (st, body) == (503, b"503 Service Unavailable\n") and time.monotonic() - started >= 0.2
    started = time.monotonic()
    st, r, body = get(srv, "/t")
    assert (st, body, r.getheader("Cache-Control")) == (200, BODY, "no-store")
    assert time.monotonic() - started >= 0.3, "four pieces, 0.1 s apart"


def test_bad_chain_in_the_file_is_a_500(srv):
    set_faults(srv, [{"action": "status", "code": 500, "then": [{"action": "html"}]}])
    st, _, body = get(srv)
    assert st == 500 and body.startswith(b"gotraps: bad state/faults.json: rule 0: two terminal actions")
