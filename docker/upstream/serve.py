#!/usr/bin/env python3
"""Entry point of the fake-upstream container.

    python3 serve.py --role goproxy --state /srv/state --port 80 [--tls-port 443]

Prints one "ready role=... port=... tls_port=... state=..." line on stdout
once listening, and exits quickly and cleanly on SIGTERM or SIGINT. A role
that cannot start (e.g. sumdb without state/sumdb/signer) prints
"serve.py: cannot start role ...: <reason>" on stderr and exits with 2.
"""

import argparse
import importlib
import os
import platform
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpfault  # noqa: E402

# role name -> "module.Upstream subclass"; add a role with one line here. Only the role's module is imported:
# a start costs a case its wait (the checksum DB's cryptography alone is a third of a GOPROXY's imports).
ROLES = {
    "goproxy": "goproxy.GoProxy",
    "sumdb": "sumdbrole.SumDBRole",
    "cmdgo": "cmdgoproxy.CmdGoProxy",     # Go's own test proxy's URLs (cmd/go/proxy_test.go)
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", required=True, choices=sorted(ROLES))
    ap.add_argument("--state", required=True, help="state directory")
    ap.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--tls-port", type=int, default=None,
                    help="also serve HTTPS here if STATE/tls/cert.pem and key.pem exist")
    ap.add_argument("--quiet", action="store_true", help="no per-request lines on stderr")
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    module, _, cls = ROLES[args.role].partition(".")
    server = getattr(importlib.import_module(module), cls)(args.state, host=args.host, port=args.port,
                              tls_port=args.tls_port, verbose=not args.quiet)
    try:
        server.start()
    except httpfault.StartupError as e:
        print("serve.py: cannot start role %s: %s" % (args.role, e), file=sys.stderr, flush=True)
        return 2
    print("ready role=%s port=%d tls_port=%s state=%s python=%s" % (
        args.role, server.port, server.tls_port if server.tls_port else "off", server.state_dir,
        platform.python_version()), flush=True)
    while not stop.wait(0.1):
        pass
    server.stop()
    print("stopped role=%s" % args.role, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
