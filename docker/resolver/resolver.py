#!/usr/bin/env python3
"""The scenario network's DNS authority: what the resolvers (dnsmasq, fixtures/world/resolver.py) forward a
name with a DNS fault to, and every name when a scenario makes every name one member's.

    python3 resolver.py [--state /etc/gotraps/dns]

It answers on UDP port 5353 what STATE/rules.json (read again when it changes) says for the name: a DNS fault
of fixtures/world/resolver.py FAULTS, the rule "*" for any other name, and NXDOMAIN at once without a rule,
with the addresses of the topology's names its "hosts" table gives,
as the DNS of a real network does for a name that does not exist. It prints one "ready" line on stdout once
it listens, and stops on SIGTERM.
"""
import argparse
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import threading

AUTHORITY = ("0.0.0.0", 5353)     # the dnsmasq beside it and every go client's forward here
TYPES = {1: "A", 5: "CNAME", 28: "AAAA"}
A, CNAME, AAAA = 1, 5, 28
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
TTL = 5


# --- DNS messages: just what a question and an answer of A, AAAA and CNAME records need ---------------

def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".") if p) + b"\0"


def skip_name(msg: bytes, at: int) -> int:
    while True:
        n = msg[at]
        if n == 0:
            return at + 1
        if n & 0xC0 == 0xC0:        # a compression pointer ends the name
            return at + 2
        at += 1 + n


def question(msg: bytes) -> tuple[str, int, int]:
    """(name, qtype, end of the question) of a query."""
    at, labels = 12, []
    while msg[at]:
        labels.append(msg[at + 1:at + 1 + msg[at]].decode(errors="replace"))
        at += 1 + msg[at]
    qtype = struct.unpack("!H", msg[at + 1:at + 3])[0]
    return ".".join(labels).lower(), qtype, at + 5


def reply(query: bytes, rcode: int, records: list[bytes] = ()) -> bytes:
    qid, flags = struct.unpack("!HH", query[:4])
    end = question(query)[2]
    flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode       # QR, AA, RD as asked, RA
    return struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0) + query[12:end] + b"".join(records)


def record(name: str, rtype: int, rdata: bytes) -> bytes:
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, TTL, len(rdata)) + rdata


def addresses(name: str, qtype: int, hosts: dict) -> list[str]:
    """A declared name's addresses (A or AAAA) as the topology gives them (rules.json "hosts": the engine's DNS
    knows none of its names); [] for none."""
    address = hosts.get(name.lower().rstrip("."))
    return [address] if address and ipaddress.ip_address(address).version == (4 if qtype == A else 6) else []


def address_records(name: str, qtype: int, addrs: list[str]) -> list[bytes]:
    want = 4 if qtype == A else 6
    return [record(name, qtype, ipaddress.ip_address(a).packed) for a in addrs
            if ipaddress.ip_address(a).version == want]


# --- the authority ---------------------------------------------------------------------------------------

class Rules:
    """STATE/rules.json: name -> rule, read again whenever it changed."""

    def __init__(self, path: str):
        self.path, self.stamp, self.rules = path, None, {}

    def get(self, name: str) -> dict | None:
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp != self.stamp:
            self.stamp = stamp
            try:
                with open(self.path) as f:
                    self.rules = json.load(f)
            except (OSError, ValueError):
                self.rules = {}
        return (self.rules.get("names") or {}).get(name) or (self.rules.get("names") or {}).get("*")

    @property
    def hosts(self) -> dict:
        """name -> address of every declared name, as of the last get()."""
        return self.rules.get("hosts") or {}


def answer(query: bytes, rule: dict | None, hosts: dict) -> bytes | None:
    """The authority's answer to a query under a rule (None: no answer at all)."""
    name, qtype, _ = question(query)
    action = (rule or {}).get("action", "nxdomain")
    if action in ("nxdomain", "servfail", "refused"):
        return reply(query, {"nxdomain": NXDOMAIN, "servfail": SERVFAIL, "refused": REFUSED}[action])
    if action == "drop":
        return None
    if action == "cname":           # name -> chain[0] -> ... -> chain[-1], a name of the network
        chain = [name, *rule["chain"]]
        records = [record(a, CNAME, encode_name(b)) for a, b in zip(chain, chain[1:])]
        return reply(query, NOERROR, records + address_records(chain[-1], qtype, addresses(chain[-1], qtype, hosts)))
    if action == "alias":           # any name: the address of rule["of"]
        return reply(query, NOERROR, address_records(name, qtype, addresses(rule["of"], qtype, hosts)))
    # "delay" and "address": the name's own addresses (a declared name's), plus rule["addresses"]
    found = addresses(name, qtype, hosts) if rule.get("declared") else []
    extra = rule.get("addresses", [])
    if not found and not extra and not rule.get("declared"):
        return reply(query, NXDOMAIN)
    return reply(query, NOERROR, address_records(name, qtype, found + extra))


def serve_authority(rules: Rules) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(AUTHORITY)

    def handle(query: bytes, peer) -> None:
        try:
            rule = rules.get(question(query)[0])
            msg = answer(query, rule, rules.hosts)
        except Exception as exc:      # a malformed query: say so in the log, answer nothing
            print(f"authority: {exc!r}", file=sys.stderr, flush=True)
            return
        if msg is not None:
            sock.sendto(msg, peer)

    def loop() -> None:
        while True:
            query, peer = sock.recvfrom(4096)
            try:
                rule = rules.get(question(query)[0])
            except Exception:
                continue
            delay = float((rule or {}).get("delay_s", 0))
            if delay:
                threading.Timer(delay, handle, (query, peer)).start()
            else:
                handle(query, peer)

    threading.Thread(target=loop, daemon=True).start()
    return sock


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", default="/etc/gotraps/dns")
    args = ap.parse_args()
    serve_authority(Rules(os.path.join(args.state, "rules.json")))
    print(f"ready program=authority port={AUTHORITY[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
