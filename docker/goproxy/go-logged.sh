#!/bin/bash
# goproxy's --go-bin when it fetches `direct`: the real go, and one line per command goproxy ran, for the harness
# (fixtures/world/goproxies.py go_commands): start and end (epoch seconds), exit code, the arguments, and go's error
# (the JSON Error that -json prints on stdout, else stderr), tab-separated. go's output reaches goproxy unchanged,
# after go has ended (goproxy reads it then: exec.Cmd.Output). setpriv: go dies with this script when goproxy kills
# it (its fetch timeout, or the client gone), as it would without the script.
set -u
log=/var/log/gotraps/go-commands.tsv
out=$(mktemp) err=$(mktemp)
start=$EPOCHREALTIME
setpriv --pdeathsig KILL -- go "$@" >"$out" 2>"$err"
code=$?
end=$EPOCHREALTIME
cat "$out"
cat "$err" >&2
said=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' "$out" | head -n 1)
[ -n "$said" ] || said=$(grep -v '^go: finding' "$err")
printf '%s\t%s\t%s\t%s\t%s\n' "$start" "$end" "$code" "$*" "$(printf '%s' "$said" | tr '\t\n' '  ' | cut -c 1-1500)" >>"$log"
rm -f "$out" "$err"
exit "$code"
