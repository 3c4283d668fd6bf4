#!/bin/bash
# Where a pytest run's CPU goes, on a local engine with cgroup v1's cpuacct (this machine):
#   benchmarks/cgprof.sh -n auto scenarios [pytest args...]
# puts dockerd, containerd and the shims in one cgroup (runc and new shims are their children: "engine")
# and pytest with its workers in another, then prints the run's wall time, the machine's busy CPU seconds
# (/proc/stat), and the CPU seconds of the engine, of pytest and of the containers (the engine's /docker).
set -u
C=/sys/fs/cgroup/cpuacct
[ -d "$C" ] || { echo "cgprof: no cgroup v1 cpuacct at $C" >&2; exit 2; }
mkdir -p "$C/gotraps_engine" "$C/gotraps_pytest"
for p in $(pgrep -x dockerd) $(pgrep -x containerd) $(pgrep -f containerd-shim); do
  echo "$p" > "$C/gotraps_engine/cgroup.procs" 2>/dev/null
done
usage() { echo $(( $(cat "$C/$1/cpuacct.usage" 2>/dev/null || echo 0) )); }
busy() { read -r _ a b c _ _ f g h _ < /proc/stat; echo $((a + b + c + f + g + h)); }
e1=$(usage gotraps_engine) p1=$(usage gotraps_pytest) d1=$(usage docker) s1=$(busy) t1=$(date +%s.%N)
(echo $BASHPID > "$C/gotraps_pytest/cgroup.procs"; cd "$(dirname "$0")/.." && exec .venv/bin/python -m pytest "$@")
rc=$?
e2=$(usage gotraps_engine) p2=$(usage gotraps_pytest) d2=$(usage docker) s2=$(busy) t2=$(date +%s.%N)
for g in gotraps_engine gotraps_pytest; do     # the engine back where it was; the cgroups gone
  for p in $(cat "$C/$g/cgroup.procs"); do echo "$p" > "$C/cgroup.procs" 2>/dev/null; done
  rmdir "$C/$g" 2>/dev/null
done
secs() { echo "scale=1; $1 / $2" | bc; }
echo "cgprof: exit $rc, wall $(secs "($t2 - $t1) * 10" 10) s, busy CPU $(secs $((s2 - s1)) "$(getconf CLK_TCK)") s:" \
     "engine $(secs $((e2 - e1)) 10^9) s, pytest $(secs $((p2 - p1)) 10^9) s, containers $(secs $((d2 - d1)) 10^9) s"
exit $rc
