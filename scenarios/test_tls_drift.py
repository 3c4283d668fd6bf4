"""TLS drift: Go's TLS client changes from release to release, and a legacy server or a TLS-inspecting firewall
that worked with one release breaks `go mod download` with the next. Per case, one server and several go
commands: with no GODEBUG, with the setting that should help, with another; what go prints, and whether a
go.mod `godebug` line helps.

Which settings exist where (src/internal/godebugs/table.go of each release): 1.21.13 knows x509sha1 and none
of the TLS client's; 1.22 adds tlsrsakex (RSA key exchange out of the default cipher suites, crypto/tls
defaults.go), 1.23 tlskyber (X25519Kyber768Draft00 in the default key shares), 1.24 tlsmlkem (X25519MLKEM768)
and drops x509sha1 and tlskyber, 1.25 tlssha1 (SHA-1 signatures in TLS 1.2 handshakes, crypto/tls common.go
isDisabledSignatureAlgorithm), 1.26 tlssecpmlkem; 1.27 removes tlsrsakex, tls10server, tls3des and
tlsunsafeekm (table.go's Removed), and advertises ML-DSA signature algorithms (defaults.go
defaultSupportedSignatureAlgorithms). TLS 1.0/1.1: the client's minimum has been TLS 1.2 since Go 1.18 with no
setting for a client (Config.supportedVersions: tls10server is a server's); every release here refuses them.

The go command's own TLS is not its release's until 1.24: the go binaries of 1.21 to 1.23 carry Go 1.20's
GODEBUG defaults in their build info (`go version -m $(go env GOROOT)/bin/go`: DefaultGODEBUG=...,tlsrsakex=1,
...,tlskyber=0 in 1.23; cmd/go/internal/load/godebug.go defaultGODEBUG), so `go mod download` keeps RSA key
exchange and sends no post-quantum key share until 1.24, whatever crypto/tls of 1.22 and 1.23 does by default.

cmd/go reads GODEBUG from its own environment, like any Go program, and since 1.27 the runtime of every Go
program refuses to start when it sets a removed setting to its old value (runtime/runtime1.go parsegodebug,
runtime/proc.go: `fatal error: removed GODEBUG "x509sha1" set to old value "1" in environment`): a GODEBUG
left over from an older release stops every go command, not only its downloads. A module's go.mod `godebug`
lines are checked by cmd/go (modload/init.go CheckGodebug: a name the table lacks is an error; 1.26: any
removed one; 1.27: a removed one set to its old value, golang/go#79422) and go into the binaries built from the
module, never into cmd/go's own TLS (cmd/go/internal/web uses http.DefaultClient): a go.mod line gets no
download through. Each command has a module cache of its own, so none profits from another's download.

The servers: Debian's nginx (docker/nginx/templates/tls.conf.j2, OpenSSL 3, which needs @SECLEVEL=0 for TLS
1.0 and SHA-1) with certificates of the run's CA (fixtures/world/tls.py), and a TLS-inspecting box of our own
(docker/upstream/inspectbox.py) that logs each ClientHello and resets or forwards it: go's ClientHello per
release (its size, groups, key shares, signature algorithms) is itself a finding.
"""
import re

import pytest

from fixtures.record import errors
from fixtures.world.middleware import ConfigRejected

PROXY, TLS = "proxy.corp.test", "tls.corp.test"
LIB = "example.com/lib@v1.0.0"
WATCHDOG_S = 8              # a handshake failure or a reset is immediate; a download takes well under 1 s here
MODULE_DIR = "/work/m"      # a main module whose go.mod carries a godebug line
PQ_GROUPS = ["X25519Kyber768Draft00", "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "MLKEM768",
             "MLKEM1024"]
MLDSA = ["mldsa44", "mldsa65", "mldsa87"]


def tls_server(topo, **values):
    """nginx's tls variant (values: cert, protocols, ciphers, sigalgs, names) in front of the fake GOPROXY."""
    return topo.nginx(TLS, "tls", upstream=topo.upstream(PROXY, tls="off"), **values)


def cmd_go_defaults(go) -> str:
    """The GODEBUG defaults built into the go command itself (`go version -m`'s DefaultGODEBUG): up to 1.23 the
    go binary of a release carries Go 1.20's (tlsrsakex=1 in 1.22 and 1.23, tlskyber=0 in 1.23), so its own
    TLS lags the release's crypto/tls; since 1.24 it has none and follows its release."""
    out = go.sh('go version -m "$(go env GOROOT)/bin/go"', record=False).stdout
    return next((l.split("DefaultGODEBUG=", 1)[1].strip() for l in out.splitlines() if "DefaultGODEBUG=" in l), "")


def own_tls(minor: int) -> int:
    """The release whose TLS defaults the go command of this release has (cmd_go_defaults): 20 until 1.24."""
    return minor if minor >= 24 else 20


def pq_off(minor: int) -> str:
    """The GODEBUG that takes the post-quantum key share out: tlskyber=0 in 1.23, tlsmlkem=0 since 1.24."""
    return "tlskyber=0" if minor == 23 else "tlsmlkem=0"


def hello(obs) -> dict:
    """go's ClientHello as the inspecting box logged it for this command ({} when none reached a box)."""
    return next((r.detail for r in obs.requests if r.method == "TLS"), {})


def attempts(case, go, server: str, tries: dict, timeout: float = WATCHDOG_S) -> tuple[dict, dict]:
    """One `go mod download` per try (label -> a GODEBUG value, ("go.mod", line) for a godebug line in the main
    module's go.mod, or a dict of environment), each with a module cache of its own: the observations, and what
    each showed. Each failure goes to `gotraps errors` (errors.record) with no retry: the server is as it is."""
    obs, seen = {}, {}
    for i, (label, how) in enumerate(tries.items()):
        env, cwd = {"GOMODCACHE": f"/root/go/pkg/mod-{i}"}, "/work"
        if isinstance(how, tuple):
            cwd = f"{MODULE_DIR}{i}"
            go.write({f"{cwd}/go.mod": f"module example.com/m\n\ngo 1.21\n\n{how[1]}\n"})
        elif isinstance(how, dict):
            env.update(how)
        elif how:
            env["GODEBUG"] = how
        o = obs[label] = go.run("mod", "download", "-json", LIB, timeout=timeout, env=env, cwd=cwd)
        seen[label] = said(o)
        if not o.ok:
            errors.record(case, f"{server}, {label}", o)
        box = next((r for r in o.requests if r.method == "TLS"), None)
        if box:      # what the inspecting box saw of go's ClientHello, and whether it reset it
            seen[label]["box"] = {"hello_bytes": box.detail.get("hello_bytes"), "records": box.detail.get("records"),
                                  "key_shares": box.detail.get("key_shares"), "reset": box.fault}
    return obs, seen


def said(o) -> dict:
    """What one command showed: whether it succeeded or timed out, go's error (its first two lines: a go.mod
    error says what is wrong on the second), how long it took."""
    return {"ok": o.ok, "exit_code": o.exit_code, "timed_out": o.timed_out, "error_line": o.error_line,
            "error": " ".join(o.error_lines()[:2]), "duration_s": round(o.duration_s, 2)}


def outcome(s: dict) -> str:
    """A command's outcome in a word or two: ok, timed out, or the part of go's error that names the cause."""
    if s["ok"]:
        return "ok"
    if s["timed_out"]:
        return "timed out"
    return next((cause for part, cause in CAUSES if part in s["error"]), s["error"])


# The part of go's error that names its cause -> how a case names it (the first that matches).
CAUSES = [
    # Go 1.27's runtime, in every Go program, before main: a removed setting set to its old value in the
    # environment (runtime/runtime1.go parsegodebug, runtime/proc.go main: fatal, exit 2)
    ("in environment (https://go.dev/doc/godebug", "fatal: removed GODEBUG in environment"),
    # cmd/go checking the main module's go.mod godebug lines (modload/init.go CheckGodebug): since 1.27 a removed
    # one set to its old value, in 1.26 any removed one, before that any name its table lacks; before 1.23 the
    # godebug directive itself is unknown
    ("removed GODEBUG", "go.mod: removed GODEBUG set to its old value"),
    ("use of removed godebug", "go.mod: use of removed godebug"),
    ("unknown godebug", "go.mod: unknown godebug"),
    ("unknown directive: godebug", "go.mod: unknown directive godebug"),
    *((c, c) for c in ("handshake failure", "protocol version not supported", "insecure algorithm",
                       "connection reset by peer")),
]
FATAL = "fatal: removed GODEBUG in environment"


# --- legacy servers ------------------------------------------------------------------------------------------

def test_rsa_key_exchange_only(topo, case):
    """A TLS 1.2 server with only RSA key exchange cipher suites (an old appliance): out of Go's defaults since
    1.22 (tlsrsakex=1 brings them back), out for good in 1.27 (tlsrsakex removed). Also what go does with a
    value the release does not know (tlsrsakex=bogus, nosuchsetting=1) and with `godebug tlsrsakex=1` in go.mod."""
    case.params["middleware"], case.params["variant"] = "nginx", "tls"
    tls_server(topo, cert="rsa", protocols="TLSv1.2", ciphers="AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA")
    go = topo.go(GOPROXY=f"https://{TLS}")
    minor = go.go_minor()
    obs, seen = attempts(case, go, "RSA key exchange only", {
        "none": "", "tlsrsakex=1": "tlsrsakex=1", "tlsrsakex=bogus": "tlsrsakex=bogus",
        "nosuchsetting=1": "nosuchsetting=1", "go.mod godebug tlsrsakex=1": ("go.mod", "godebug tlsrsakex=1")})
    case.note(obs["none"])
    case.fact(cmd_go_default_godebug=cmd_go_defaults(go), **seen)

    # The go command drops RSA key exchange with 1.24, not 1.22: its own defaults were 1.20's until then.
    rsa_default = "ok" if own_tls(minor) < 22 else "handshake failure"
    case.expect("no GODEBUG", outcome(seen["none"]), rsa_default, since="1.24")
    case.expect("GODEBUG=tlsrsakex=1", outcome(seen["tlsrsakex=1"]), "ok" if minor < 27 else FATAL, since="1.27")
    # A name the release does not know is ignored without a word; a value it does not know is not "1": where the
    # setting exists (1.22+) it replaces the go command's built-in tlsrsakex=1 and turns RSA key exchange off.
    case.expect("GODEBUG=tlsrsakex=bogus", outcome(seen["tlsrsakex=bogus"]),
                "ok" if minor < 22 else "handshake failure", since="1.22")
    case.expect("GODEBUG=nosuchsetting=1", outcome(seen["nosuchsetting=1"]), rsa_default, since="1.24")
    # cmd/go checks the line, and never applies it to its own TLS (1.23 gets through on its built-in default)
    gomod = ("go.mod: unknown directive godebug" if minor < 23 else "go.mod: removed GODEBUG set to its old value"
             if minor >= 27 else rsa_default)
    case.expect("go.mod godebug tlsrsakex=1", outcome(seen["go.mod godebug tlsrsakex=1"]), gomod, since="1.27")


def test_tls_1_0_and_1_1_server(topo, case):
    """A server speaking TLS 1.0 and 1.1 only: Go's client minimum is TLS 1.2 in every release here, and no
    GODEBUG lowers it (tls10server is a server's setting, and is gone in 1.27)."""
    case.params["middleware"], case.params["variant"] = "nginx", "tls"
    tls_server(topo, protocols="TLSv1 TLSv1.1", ciphers="DEFAULT:@SECLEVEL=0")
    go = topo.go(GOPROXY=f"https://{TLS}")
    minor = go.go_minor()
    obs, seen = attempts(case, go, "TLS 1.0/1.1 only", {"none": "", "tls10server=1": "tls10server=1"})
    case.note(obs["none"])
    case.fact(**seen)
    # OpenSSL answers a ClientHello offering TLS 1.2 and 1.3 only with a protocol_version alert
    case.expect("no GODEBUG", outcome(seen["none"]), "protocol version not supported")
    case.expect("GODEBUG=tls10server=1", outcome(seen["tls10server=1"]),
                "protocol version not supported" if minor < 27 else FATAL, since="1.27")


def test_sha1_signature_in_tls12_handshake(topo, case):
    """A TLS 1.2 server that signs its key exchange with RSA+SHA-1 only: Go refuses SHA-1 signatures in TLS 1.2
    since 1.25 (tlssha1=1 brings them back); before, tlssha1 is a name the release does not know."""
    case.params["middleware"], case.params["variant"] = "nginx", "tls"
    tls_server(topo, cert="rsa", protocols="TLSv1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
               sigalgs="RSA+SHA1")
    go = topo.go(GOPROXY=f"https://{TLS}")
    minor = go.go_minor()
    obs, seen = attempts(case, go, "SHA-1 signatures in TLS 1.2",
                         {"none": "", "tlssha1=1": "tlssha1=1", "x509sha1=1": "x509sha1=1"})
    case.note(obs["none"])
    case.fact(**seen)
    refused = "ok" if minor < 25 else "handshake failure"
    case.expect("no GODEBUG", outcome(seen["none"]), refused, since="1.25")
    case.expect("GODEBUG=tlssha1=1", outcome(seen["tlssha1=1"]), "ok")
    case.expect("GODEBUG=x509sha1=1 (the certificate's setting)", outcome(seen["x509sha1=1"]),
                refused if minor < 27 else FATAL, since="1.27")


def test_sha1_signed_certificate(topo, case):
    """A server certificate signed with SHA-1 (ecdsa-with-SHA1): crypto/x509 refuses it in every release here;
    x509sha1=1 accepted it until 1.24 removed the setting. And `godebug x509sha1=1` in go.mod, per release."""
    case.params["middleware"], case.params["variant"] = "nginx", "tls"
    tls_server(topo, cert="ec-sha1", ciphers="DEFAULT:@SECLEVEL=0")
    go = topo.go(GOPROXY=f"https://{TLS}")
    minor = go.go_minor()
    obs, seen = attempts(case, go, "SHA-1-signed certificate", {
        "none": "", "x509sha1=1": "x509sha1=1", "tlssha1=1": "tlssha1=1",
        "go.mod godebug x509sha1=1": ("go.mod", "godebug x509sha1=1")})
    case.note(obs["none"])
    case.fact(**seen)
    for label in ("none", "tlssha1=1"):
        case.expect(label, outcome(seen[label]), "insecure algorithm")
    # removed in 1.24: ignored like any unknown name, until 1.27's runtime refuses to start with it
    case.expect("GODEBUG=x509sha1=1", outcome(seen["x509sha1=1"]),
                "ok" if minor < 24 else "insecure algorithm" if minor < 27 else FATAL, since="1.27")
    gomod = {22: "go.mod: unknown directive godebug", 23: "insecure algorithm", 24: "go.mod: unknown godebug",
             25: "go.mod: unknown godebug", 26: "go.mod: use of removed godebug"}.get(
        minor, "go.mod: unknown directive godebug" if minor < 22 else "go.mod: removed GODEBUG set to its old value")
    case.expect("go.mod godebug x509sha1=1", outcome(seen["go.mod godebug x509sha1=1"]), gomod, since="1.27")


# --- TLS-inspecting firewalls and a lowered MTU ---------------------------------------------------------------

BOXES = {  # box -> its policy
    "size.corp.test": {"reset_over": 1200},            # a ClientHello larger than one small packet
    "pq.corp.test": {"reset_groups": PQ_GROUPS},       # a post-quantum group it does not know
    "mldsa.corp.test": {"reset_sigalgs": MLDSA},       # a signature algorithm it does not know
}


def test_inspecting_firewall(topo, case):
    """Three inspecting boxes in front of one modern server, each resetting a ClientHello: larger than 1200
    bytes, carrying a post-quantum group, or ML-DSA signature algorithms; go through each with no GODEBUG and with
    the post-quantum key share off. Go's ClientHello as each box saw it is the finding."""
    tls_server(topo, names=list(BOXES))
    for host, policy in BOXES.items():
        topo.inspect_box(host, f"{TLS}:443", **policy)
    go = topo.go()
    minor = go.go_minor()
    tries = {}
    for host in BOXES:
        box = host.split(".")[0]
        tries[f"{box}: none"] = {"GOPROXY": f"https://{host}"}
        tries[f"{box}: {pq_off(minor)}"] = {"GOPROXY": f"https://{host}", "GODEBUG": pq_off(minor)}
    obs, seen = attempts(case, go, "inspecting box", tries)
    first, pq_off_hello = hello(obs["size: none"]), hello(obs[f"size: {pq_off(minor)}"])
    case.note(obs["size: none"])
    case.fact(cmd_go_default_godebug=cmd_go_defaults(go),
              client_hello={k: first.get(k) for k in ("hello_bytes", "wire_bytes", "records", "groups",
                                                       "key_shares", "sigalgs", "versions", "extensions")},
              client_hello_pq_off={k: pq_off_hello.get(k) for k in ("hello_bytes", "groups", "key_shares")},
              **seen)

    # crypto/tls sends X25519Kyber768Draft00 from 1.23, X25519MLKEM768 from 1.24 (defaults.go); the go command
    # from 1.24 only: its 1.23 binary carries tlskyber=0 (cmd_go_defaults)
    pq = own_tls(minor) >= 23
    case.expect("go's ClientHello carries a post-quantum key share",
                any(k.split(":")[0] in PQ_GROUPS for k in first.get("key_shares", [])), pq, since="1.24")
    case.expect("go's ClientHello is larger than 1200 bytes", first.get("wire_bytes", 0) > 1200, pq, since="1.24")
    case.expect("go advertises ML-DSA", bool(set(first.get("sigalgs", [])) & set(MLDSA)), minor >= 27, since="1.27")
    for label, s in seen.items():
        box, _, godebug = label.partition(": ")
        blocked = {"size": pq and godebug == "none", "pq": pq and godebug == "none", "mldsa": minor >= 27}[box]
        case.expect(label, outcome(s), "connection reset by peer" if blocked else "ok",
                    since="1.27" if box == "mldsa" else "1.24")


MTU = 1280      # a tunnel's path MTU (IPv6's minimum); Docker's bridge has 1500, the client's segments up to 1460


def test_path_mtu_blackhole(topo, case):
    """A path whose MTU is 1280 and whose router drops "fragmentation needed" (an nftables rule dropping every
    incoming packet to the box longer than 1280 bytes): a ClientHello that fits passes, a post-quantum one never
    arrives. The watchdog is 3 s: retransmissions of a dropped segment are dropped the same way, so a longer bound
    shows only more of them (the box never sees a byte), until http.DefaultTransport's 10 s TLSHandshakeTimeout
    (net/http transport.go), which this bound does not reach: it disproves nothing that needs longer."""
    tls_server(topo, names=["mtu.corp.test"])
    box = topo.inspect_box("mtu.corp.test", f"{TLS}:443", drop_longer_than=MTU)
    if box.drop_unsupported:
        pytest.skip(f"the engine's kernel refused the nftables rule: {box.drop_unsupported}")
    go = topo.go(GOPROXY="https://mtu.corp.test")
    minor = go.go_minor()
    obs, seen = attempts(case, go, "lowered MTU", {"none": "", pq_off(minor): pq_off(minor)}, timeout=3)
    case.note(obs["none"])
    case.fact(path_mtu=MTU, **seen)
    pq = own_tls(minor) >= 23       # the go command's own ClientHello (test_inspecting_firewall)
    case.expect("no GODEBUG", outcome(seen["none"]), "timed out" if pq else "ok", since="1.24")
    case.expect("the box saw go's ClientHello", "box" in seen["none"], not pq, since="1.24")
    case.expect(pq_off(minor), outcome(seen[pq_off(minor)]), "ok")


# --- a server that cannot be configured as asked --------------------------------------------------------------

BAD_SERVER = {  # what nginx is asked for -> what its own checker (nginx -t) says
    "unknown cipher": ({"ciphers": "NO-SUCH-CIPHER"}, "SSL_CTX_set_cipher_list"),
    "unknown signature algorithm": ({"sigalgs": "RSA+NOSUCHHASH"}, "SSL_CONF_cmd"),
}


@pytest.mark.parametrize("bad", list(BAD_SERVER))
def test_tls_server_config_rejected(topo, case, bad):
    """nginx asked for what its OpenSSL cannot do: nginx -t's own error, an infrastructure error of ours
    (ConfigRejected), before any go command runs."""
    case.params["middleware"], case.params["variant"] = "nginx", "tls"
    values, said = BAD_SERVER[bad]
    mw = tls_server(topo, **values)
    with pytest.raises(ConfigRejected) as err:
        mw.container
    message = str(err.value)
    # nginx's own words, less its log stamp (the time and the pid: not behaviour)
    case.fact(rejected=[re.sub(r"^.*?\[emerg\] \d+#\d+: ", "", line) for line in message.splitlines()
                        if said in line and "[emerg]" in line][:1])
    assert case.facts["rejected"], message
    assert not topo.clients and not topo.observations
