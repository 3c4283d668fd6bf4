#!/bin/sh
# Varnish's config check: VCC, its VCL-to-C compiler, is what rejects a VCL (varnishd -C prints its message with
# the line). The C compiler after it is left out: varnishd compiles the C as it starts (varnish-up.sh), and
# compiling it here too cost each start 0.1 s on an idle machine and 0.3 s or more on a busy one. With a
# cc_command that makes nothing, -C always fails past VCC, so only VCC's failure is a rejection.
out=$(varnishd -C -n /tmp/varnish-check -f "$1" -p cc_command='exec true' 2>&1 >/dev/null)
case "$out" in
*"Running VCC-compiler failed"*) printf '%s\n' "$out"; exit 1 ;;
esac
exit 0
