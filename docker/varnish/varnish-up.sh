#!/bin/bash
# Start varnishd (a daemon once its child serves) with the config $1, and varnishncsa beside it writing the
# access log; return once varnishncsa is following the log. varnishncsa starts reading at the log's end some
# time after it starts, so a request made before that would never be logged: it is sent requests that
# varnishd rejects itself (two Host headers: no VCL, no upstream) until one shows in the access log, which is
# then emptied. Run as serve.sh's PREPARE, so that the port is probed only after this returned.
set -u
dir=/var/lib/varnish/gotraps log=/var/log/gotraps/access.log
# cc_command: the VCL's C compiled without optimising (Debian's -O2 -g cost a start 0.15 s more on an idle
# machine; what the VCL does is the same)
varnishd -n "$dir" -f "$1" -a :80 -s malloc,64m -P /run/varnishd.pid \
    -p cc_command='exec gcc -O0 -pthread -fpic -shared -o %o %s' || exit 1
# -a: appends, so that emptying the log below does not leave varnishncsa writing at its old offset
varnishncsa -n "$dir" -j -f /usr/local/share/gotraps/varnishncsa.format -a -w "$log" -D -P /run/varnishncsa.pid || exit 1
for _ in $(seq 1 200); do      # 10 s at most
    { printf 'GET /.gotraps-ready HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' >&3; } 3<>/dev/tcp/127.0.0.1/80 2>/dev/null
    grep -q gotraps-ready "$log" 2>/dev/null && { : >"$log"; exit 0; }
    sleep 0.05
done
echo "varnishncsa logged nothing in 10 s" >&2
exit 1
