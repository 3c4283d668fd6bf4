"""A TLS-inspecting middle box: a TCP proxy that reads each connection's ClientHello, logs what it saw as one
JSON line, and then either resets the connection (SO_LINGER 0, as a firewall's RST) or forwards the bytes both
ways to the real server, untouched (it never terminates TLS).

    python3 inspectbox.py --port 443 --backend tls.corp.test:443 --log /srv/state/inspect.jsonl \
        --policy '{"reset_over": 1200, "reset_groups": ["X25519MLKEM768"]}' [--drop-longer-than 1280]

policy: reset_over (the ClientHello's bytes on the wire, its records with their headers, above which it resets),
reset_groups (a supported_groups or key_share group), reset_sigalgs, reset_extensions (IANA names, as
upstreamlib/clienthello.py prints them). --drop-longer-than N: a path whose MTU is N and whose router drops
"fragmentation needed" instead of saying it: the kernel (nftables, needs CAP_NET_ADMIN) drops every incoming
packet to --port longer than N bytes, so the box never sees what did not fit. The ready line says drop="..."
and, when the kernel or nft refused the rule, why (the case then skips; nothing fakes it).
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import socket
import struct
import subprocess
import threading
import time

from upstreamlib import clienthello

HELLO_TIMEOUT_S = 5      # a client that sends no complete ClientHello within this is logged and closed
_ids = itertools.count(1)
_log_lock = threading.Lock()


def log(path: str, entry: dict) -> None:
    with _log_lock, open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def decide(hello: dict, policy: dict) -> tuple[str, str]:
    """("reset" or "forward", why) for a parsed ClientHello."""
    if policy.get("reset_over") is not None and hello["wire_bytes"] > policy["reset_over"]:
        return "reset", f"ClientHello of {hello['wire_bytes']} bytes > {policy['reset_over']}"
    groups = set(hello["groups"]) | {k.split(":")[0] for k in hello["key_shares"]}
    for key, seen in (("reset_groups", groups), ("reset_sigalgs", set(hello["sigalgs"])),
                      ("reset_extensions", set(hello["extensions"]))):
        hit = sorted(seen & set(policy.get(key, ())))
        if hit:
            return "reset", f"{key[6:]} {', '.join(hit)}"
    return "forward", ""


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def pipe(src: socket.socket, dst: socket.socket, counts: dict, key: str) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
            counts[key] += len(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(conn: socket.socket, peer, args, policy: dict) -> None:
    cid, t = next(_ids), time.time()
    entry = {"id": cid, "t": t, "client": peer[0]}
    buf, reads = b"", 0
    conn.settimeout(HELLO_TIMEOUT_S)
    try:
        while (found := clienthello.handshake_bytes(buf)) is None:
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("closed before a complete ClientHello")
            buf, reads = buf + data, reads + 1
        message, records = found
        hello = clienthello.parse(message)
        hello.update(records=records, reads=reads, wire_bytes=len(message) + records * clienthello.RECORD_HEADER)
        action, why = decide(hello, policy)
    except (OSError, ValueError, ConnectionError) as exc:
        log(args.log, {**entry, "action": "closed", "why": f"{type(exc).__name__}: {exc}", "received": len(buf),
                       "reads": reads})
        conn.close()
        return
    log(args.log, {**entry, **hello, "action": action, "why": why})
    if action == "reset":
        reset(conn)
        return
    conn.settimeout(None)
    host, _, port = args.backend.rpartition(":")
    try:
        backend = socket.create_connection((host, int(port)), timeout=5)
    except OSError as exc:
        log(args.log, {"id": cid, "end": True, "t": time.time(), "why": f"backend: {exc}"})
        reset(conn)
        return
    backend.settimeout(None)
    backend.sendall(buf)
    counts = {"up": len(buf), "down": 0}
    up = threading.Thread(target=pipe, args=(conn, backend, counts, "up"), daemon=True)
    up.start()
    pipe(backend, conn, counts, "down")
    up.join()
    conn.close()
    backend.close()
    log(args.log, {"id": cid, "end": True, "t": time.time(), **counts})


def drop_longer_than(port: int, length: int) -> str:
    """Install the kernel rule that drops incoming packets to port longer than length bytes; "" when it is in
    place, else why not (the message of nft or of the kernel)."""
    rules = (f"table inet gotraps {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n"
             f"  tcp dport {port} ip length > {length} counter drop\n }}\n}}\n")
    try:
        done = subprocess.run(["nft", "-f", "-"], input=rules, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nft: {exc}"
    said = " | ".join(l.strip() for l in (done.stderr or done.stdout).splitlines() if l.strip())
    return "" if done.returncode == 0 else f"nft: {said[:300]}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--policy", default="{}")
    ap.add_argument("--drop-longer-than", type=int)
    args = ap.parse_args()
    policy = json.loads(args.policy)
    drop = "off"
    if args.drop_longer_than:
        why_not = drop_longer_than(args.port, args.drop_longer_than)
        drop = f"unsupported: {why_not}".replace('"', "'") if why_not else f"ip length > {args.drop_longer_than}"
    open(args.log, "a").close()
    srv = socket.create_server(("0.0.0.0", args.port), backlog=64, reuse_port=False)
    print(f'ready inspectbox port={args.port} backend={args.backend} drop="{drop}" '
          f'python={platform.python_version()}', flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=handle, args=(conn, peer, args, policy), daemon=True).start()


if __name__ == "__main__":
    main()
