"""The resolver without Docker: a DNS fault a scenario cannot mean is a clear ValueError at the call (and starts
nothing), resolv.conf options are checked, dnsmasq's log reads back as lookups, and the authority
(docker/resolver/resolver.py) answers each fault as FAULTS says. Scenarios show the same in containers:
scenarios/test_dns.py::test_fault_for_an_undeclared_name."""
import importlib.util
import struct

import pytest

from fixtures.runtime.images import DOCKER_DIR
from fixtures.script import ScriptError, load
from fixtures.world.resolver import DNS, FAULTS, parse_log

spec = importlib.util.spec_from_file_location("authority", DOCKER_DIR / "resolver" / "resolver.py")
authority = importlib.util.module_from_spec(spec)
spec.loader.exec_module(authority)


class Member:
    def __init__(self, host, aliases=()):
        self.host, self.aliases = host, aliases


class Topo:
    """What DNS.fault asks of a topology: its names. Starting a member (the authority) would be a bug here."""

    def __init__(self, *members):
        self.members = list(members)

    def names(self):
        return {n for m in self.members for n in (m.host, *m.aliases)}

    def add(self, member):
        raise AssertionError(f"a rejected fault started {member!r}")


def world():
    return DNS(Topo(Member("proxy-a.corp.test"), Member("sum.corp.test", ("edge.cdn.test",))))


def test_a_fault_for_an_undeclared_name_says_which_names_are_declared():
    dns = world()
    with pytest.raises(ValueError) as raised:
        dns.fault("proxy.corp.test", "nxdomain")
    said = str(raised.value)
    assert "'proxy.corp.test'" in said and "declares no such name" in said and "declare its member first" in said
    assert "edge.cdn.test, proxy-a.corp.test, sum.corp.test" in said, said      # sorted, aliases too
    assert dns.faults == {}


def test_a_fault_in_a_topology_without_members_says_none():
    with pytest.raises(ValueError, match="it declares: none$"):
        DNS(Topo()).fault("proxy.corp.test", "servfail")


@pytest.mark.parametrize("args, keys, message", [
    (("proxy-a.corp.test", "nxdomian"), {}, "unknown DNS fault 'nxdomian'; known: nxdomain, servfail"),
    (("proxy-a.corp.test", "address"), {}, "'address' takes addresses .*given: nothing"),
    (("proxy-a.corp.test", "nxdomain"), {"addresses": ["fd00::1"]}, "'nxdomain' takes nothing .*given: addresses"),
    (("proxy-a.corp.test", "delay"), {}, "'delay' needs seconds > 0"),
    (("proxy-a.corp.test", "cname"), {"chain": ["cdn.test", "elsewhere.test"]},
     "chain must end at a declared name, not 'elsewhere.test'"),
    (("proxy-a.corp.test", "cname"), {"chain": []}, "chain must end at a declared name, not 'nothing'"),
])
def test_a_malformed_fault_is_refused_at_the_call(args, keys, message):
    dns = world()
    with pytest.raises(ValueError, match=message):
        dns.fault(*args, **keys)
    assert dns.faults == {}


def test_a_fault_of_a_declared_name_or_alias_becomes_the_authoritys_rule():
    dns = world()
    dns._authority = object()       # started already: fault() asks for it, and must not start another
    dns.fault("Proxy-A.corp.test.", "no-answer", seconds=1)
    dns.fault("sum.corp.test", "cname", chain=["sum.cdn.test", "edge.cdn.test"])
    assert dns.faults["proxy-a.corp.test"] == {"action": "drop", "declared": True, "delay_s": 1.0}
    assert dns.faults["sum.corp.test"]["chain"] == ["sum.cdn.test", "edge.cdn.test"]


def test_resolv_options():
    assert DNS.options_lines({"search": ["corp.test"], "options": ["ndots:5", "timeout:1"]}) == \
        ["search corp.test", "options ndots:5 timeout:1"]
    assert DNS.options_lines(None) == []
    for bad in ({"search": "corp.test"}, {"nameserver": ["10.0.0.1"]}):
        with pytest.raises(ValueError, match="resolv takes lists of search and options"):
            DNS.options_lines(bad)


def test_a_script_names_dns_faults_it_can_mean(tmp_path):
    def loaded(text):
        p = tmp_path / "case.txt"
        p.write_text(text)
        return load(p, "scenarios/script/bad.txt")

    s = loaded("upstream a.test\ndns a.test delay seconds=0.5\ndns a.test cname chain=x.test,a.test\ngo version\n")
    assert [l.name for l in s.lines] == ["upstream", "dns", "dns", "go"]
    for bad, message in [("dns a.test nxdomian\n", "dns: unknown DNS fault 'nxdomian'"),
                         ("dns a.test address\n", "dns: address takes addresses"),
                         ("dns b.test nxdomain\n", "'b.test' is not declared above")]:
        with pytest.raises(ScriptError, match=message):
            loaded("upstream a.test\n" + bad + "go version\n")


# --- dnsmasq's log --------------------------------------------------------------------------------------

LOG = """\
1796595273.100000 dnsmasq[17]: started, version 2.90 cachesize 150
1796595273.200000 dnsmasq[17]: 1 127.0.0.1/34124 query[A] sum.golang.org from 127.0.0.1
1796595273.200100 dnsmasq[17]: 1 127.0.0.1/34124 config sum.golang.org is NXDOMAIN
1796595273.300000 dnsmasq[17]: 2 127.0.0.1/34125 query[AAAA] proxy.corp.test from 127.0.0.1
1796595273.300100 dnsmasq[17]: 2 127.0.0.1/34125 forwarded proxy.corp.test to 127.0.0.11
1796595273.400000 dnsmasq[17]: 3 127.0.0.1/34126 query[A] proxy.corp.test from 127.0.0.1
1796595273.400100 dnsmasq[17]: 3 127.0.0.1/34126 forwarded proxy.corp.test to 127.0.0.11
1796595273.410000 dnsmasq[17]: 3 127.0.0.1/34126 reply proxy.corp.test is 172.18.0.2
1796595273.500000 dnsmasq[17]: 4 127.0.0.1/34127 query[A] mirror.corp.test from 127.0.0.1
1796595273.500100 dnsmasq[17]: 4 127.0.0.1/34127 /etc/gotraps/dns/hosts mirror.corp.test is 172.18.0.3
1796595273.600000 dnsmasq[17]: 5 127.0.0.1/34128 query[AAAA] mirror.corp.test from 127.0.0.1
1796595273.600100 dnsmasq[17]: 5 127.0.0.1/34128 config mirror.corp.test is NODATA-IPv6
1796595273.700000 dnsmasq[17]: 6 127.0.0.1/34129 query[A] flush.gotraps.invalid from 127.0.0.1
1796595273.700100 dnsmasq[17]: 6 127.0.0.1/34129 config flush.gotraps.invalid is NXDOMAIN
"""


def test_the_log_reads_back_as_lookups_with_their_answers():
    """Each query with its answers, but the harness's own lookup of FLUSH (Dnsmasq._flush)."""
    lookups = parse_log(LOG.splitlines())
    assert [str(l) for l in lookups] == ["127.0.0.1: A sum.golang.org -> NXDOMAIN",
                                         "127.0.0.1: AAAA proxy.corp.test -> no answer",
                                         "127.0.0.1: A proxy.corp.test -> 172.18.0.2",
                                         "127.0.0.1: A mirror.corp.test -> 172.18.0.3",
                                         "127.0.0.1: AAAA mirror.corp.test -> NODATA-IPv6"]
    assert lookups[1].t_end is None and lookups[2].t_end == pytest.approx(1796595273.41)


# --- the authority ----------------------------------------------------------------------------------------

def query(name: str, qtype: int) -> bytes:
    return struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + authority.encode_name(name) + struct.pack("!HH", qtype, 1)


def rcode_and_count(msg: bytes) -> tuple[int, int]:
    _, flags, _, count, _, _ = struct.unpack("!HHHHHH", msg[:12])
    return flags & 0xF, count


@pytest.mark.parametrize("action, rcode", [("nxdomain", 3), ("servfail", 2), ("refused", 5)])
def test_the_authority_answers_each_failure_with_its_rcode(action, rcode):
    msg = authority.answer(query("proxy.corp.test", authority.A), {"action": action}, {})
    assert rcode_and_count(msg) == (rcode, 0)
    assert authority.question(msg)[:2] == ("proxy.corp.test", authority.A)


def test_the_authority_answers_no_rule_with_nxdomain_and_drop_with_silence():
    assert rcode_and_count(authority.answer(query("sum.golang.org", authority.AAAA), None, {})) == (3, 0)
    assert authority.answer(query("proxy.corp.test", authority.A), {"action": "drop"}, {}) is None


def test_the_authority_adds_the_extra_address_of_the_asked_family_only():
    rule = {"action": "address", "addresses": ["fd00::1", "192.0.2.1"]}    # not declared: its address is not asked
    hosts = {"proxy.corp.test": "172.18.0.2"}
    six = authority.answer(query("proxy.corp.test", authority.AAAA), rule, hosts)
    four = authority.answer(query("proxy.corp.test", authority.A), rule, hosts)
    assert rcode_and_count(six) == (0, 1) and six.endswith(bytes.fromhex("fd000000000000000000000000000001"))
    assert rcode_and_count(four) == (0, 1) and four.endswith(bytes([192, 0, 2, 1]))


def test_the_authority_answers_a_declared_name_with_the_address_the_topology_gives():
    hosts = {"proxy.corp.test": "172.18.0.2", "git.corp.test": "172.18.0.4"}
    late = authority.answer(query("Proxy.corp.test.", authority.A), {"action": "delay", "declared": True}, hosts)
    assert rcode_and_count(late) == (0, 1) and late.endswith(bytes([172, 18, 0, 2]))
    six = authority.answer(query("proxy.corp.test", authority.AAAA), {"action": "delay", "declared": True}, hosts)
    assert rcode_and_count(six) == (0, 0)       # no IPv6 on the network: NODATA
    chained = authority.answer(query("vanity.corp.test", authority.A),
                               {"action": "cname", "chain": ["edge.cdn.test", "git.corp.test"]}, hosts)
    assert rcode_and_count(chained) == (0, 3) and chained.endswith(bytes([172, 18, 0, 4]))


def test_every_fault_has_a_summary():
    assert all(f.summary and "\n" not in f.summary for f in FAULTS.values())
