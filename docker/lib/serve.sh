#!/bin/bash
# Entry point of every middleware image: check the rendered config with the program's own checker,
# start the program, wait (bounded) until each port accepts, then print one "ready" line that the
# harness waits for (fixtures/world/member.py). A rejected config prints the checker's message and exits 3.
# The harness gives the variables, from the program's entry in fixtures/world/middleware.py PROGRAMS:
#   CHECK    the checker command (nginx -t, envoy --mode validate, squid -k parse)
#   RUN      the program in the foreground
#   PORTS    ports that must accept before "ready"
#   VERSION  a command printing the program's version
#   PREPARE  optional, run before the check (e.g. squid -z)
set -u
# the version while the config is checked (Envoy's start costs each about 50 ms)
sh -c "$VERSION" 2>&1 | head -n 1 >/tmp/gotraps-version &
vpid=$!
if ! out=$(sh -c "$CHECK" 2>&1); then
    echo "config rejected by ${CHECK%% *}:"
    echo "$out"
    exit 3
fi
[ -n "${PREPARE:-}" ] && sh -c "$PREPARE" >/tmp/prepare.log 2>&1
sh -c "exec $RUN" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' TERM INT
for port in $PORTS; do
    listening=
    for _ in $(seq 1 2000); do      # 20 s at most (the harness waits 30 s for "ready")
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && { listening=1; break; }
        kill -0 $pid 2>/dev/null || { echo "exited before listening on $port"; wait $pid; exit $?; }
        sleep 0.01
    done
    [ -n "$listening" ] || { echo "not listening on $port after 20 s"; exit 4; }
done
wait $vpid; version=$(cat /tmp/gotraps-version)
echo "ready program=${CHECK%% *} ports=\"$PORTS\" version=\"$version\""
wait $pid
