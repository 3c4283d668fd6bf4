#!/usr/bin/env python3
"""serve.py with its imports done before the case: a pooled upstream container's resident process.

    python3 resident.py FIFO PIDFILE    (once per pooled container, its output the container's log)

A start of serve.py spends about 0.1 s of CPU importing (http.server, the roles, the checksum DB's
cryptography) while its case waits. This process imports all of it once, when the container is new, then
for each line written to FIFO ({"argv": serve.py's arguments, "pidfile": path, "codefile": path}) forks a
child that writes its pid to pidfile, runs serve.main(argv) and writes its exit code to codefile.

It never serves and holds nothing of a case: every case's server is a child forked from it as it was after
its imports, which the pool's reset kills with everything else of the case (fixtures/runtime/pool.py keeps
this process and its waiter, named by PIDFILE). Writes PIDFILE once it reads FIFO: it is ready.
"""
import importlib
import json
import os
import signal
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import serve  # noqa: E402



def main(fifo_path, pidfile):
    for module in [*(spec.partition(".")[0] for spec in serve.ROLES.values()), "upstreamlib.sumdb_attacks"]:
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)        # the children are reaped as they end
    if os.path.exists(fifo_path):
        os.unlink(fifo_path)
    os.mkfifo(fifo_path, 0o600)
    fifo = os.fdopen(os.open(fifo_path, os.O_RDWR), "r")      # read-write: no end of file between writers
    with open(pidfile + ".new", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(pidfile + ".new", pidfile)
    for line in fifo:
        request = json.loads(line)
        if os.fork() == 0:
            fifo.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 70
            try:
                with open(request["pidfile"], "w") as f:
                    f.write(f"{os.getpid()}\n")
                code = serve.main(request["argv"]) or 0
            except SystemExit as exc:       # argparse's refusal: its message is out already
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                with open(request["codefile"], "w") as f:
                    f.write(f"{code}\n")
                os._exit(code)


if __name__ == "__main__":
    main(*sys.argv[1:])
