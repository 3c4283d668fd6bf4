"""The fourth layer: git, when GOPROXY reaches `direct` (or GOPRIVATE / GONOPROXY sends a path there).

A real git host (docker/git/: git http-backend behind nginx, sshd) serves the fixtures under
git.corp.test as repositories with tags; credentials are handed to the go client per case.
Hangs are shown under a watchdog of a few seconds; git's own defaults would wait forever.
"""
import pytest

from fixtures.world import modules
from fixtures.record.claims import CONFIRMED, PARTLY, REFUTED

GIT, PROXY, DB = "git.corp.test", "proxy.corp.test", "sum.corp.test"
SECRET, SECRET_V2, TOOLS = f"{GIT}/team/secret", f"{GIT}/team/secret/v2", f"{GIT}/team/mono/tools"
APP = {"go.mod": "module example.com/app\n\ngo 1.21\n"}
HANG_S = 10         # the watchdog of a case in a terminal, where a prompt can hang (others: 30 s)
# `script` gives the go command a terminal, as in a developer's shell; its stdin is a FIFO held open
# by a sleeping writer, so nothing answers a prompt and nothing closes it.
IN_A_TERMINAL = ("mkfifo /tmp/keyboard; sleep 600 > /tmp/keyboard & "
                 "script -qec {cmd} /dev/null < /tmp/keyboard; rc=$?; kill $!; exit $rc")


def direct_client(topo, **env):
    go = topo.go(GOPROXY="direct", GOPRIVATE=GIT, **env)
    go.write(APP)
    return go


def get(go, path=SECRET, version="v1.0.0", terminal=False, timeout=30, cwd="/work", x=False):
    """`go get [-x] path@version` in example.com/app, optionally in a terminal (where go's stderr
    reaches stdout)."""
    cmd = f"go get {'-x ' if x else ''}{path}@{version}"
    if terminal:
        cmd = IN_A_TERMINAL.format(cmd=f"'{cmd}'")
    return go.sh(cmd, timeout=timeout, cwd=cwd)


def output(obs) -> str:
    return obs.stdout + obs.stderr


def token_places(go, token, obs) -> list[str]:
    """Where the token shows after a go command, besides the file the user put it in."""
    places = []
    if token in obs.stdout + obs.stderr:
        places.append("go's output")
    if token in go.sh("go env", record=False).stdout:
        places.append("go env")
    found = go.sh(f"grep -rlF '{token}' /root/go/pkg/mod /work 2>/dev/null; true", record=False).stdout.split()
    places += sorted({"module cache VCS dir: " + f.split("/cache/vcs/")[1].split("/", 1)[1] if "/cache/vcs/" in f
                      else f.replace("/root/go/pkg/mod/", "module cache: ") for f in found})
    return places


# --- credentials -------------------------------------------------------------------------------

PROMPTS = {
    # (GIT_TERMINAL_PROMPT as the user left it, whether go runs in a terminal)
    "go's default, no terminal": (None, False),
    "go's default, in a terminal": (None, True),
    "GIT_TERMINAL_PROMPT=1, no terminal": ("1", False),
    "GIT_TERMINAL_PROMPT=1, in a terminal": ("1", True),
}


@pytest.mark.claims("C1.6", "C1.9")
@pytest.mark.parametrize("setting", list(PROMPTS))
def test_repository_needs_credentials(topo, case, setting):
    """GOPROXY=direct, the repository wants basic auth, the client has no credentials. go sets
    GIT_TERMINAL_PROMPT=0 unless the user set it (modload/init.go): git must then fail at once;
    only a user's GIT_TERMINAL_PROMPT=1 in a terminal lets git ask, and wait, for a user name."""
    prompt, terminal = PROMPTS[setting]
    topo.git_host(GIT, auth="git")
    go = direct_client(topo, GIT_TERMINAL_PROMPT=prompt)
    obs = case.note(get(go, terminal=terminal, timeout=HANG_S if terminal else 30))
    asked_for = [r for r in obs.requests_to(GIT, r"/info/refs") if r.status == 401]
    case.fact(timed_out=obs.timed_out, duration_s=round(obs.duration_s, 2),
              error_line="" if obs.timed_out else obs.error_line,      # a killed terminal's last words vary
              git_401s=len(asked_for))
    hang = obs.timed_out
    said = [l.strip() for l in output(obs).splitlines() if "could not read Username" in l]
    reason = "terminal prompts disabled" if prompt is None else "No such device or address"
    if hang:
        # a hang the user asked for (GIT_TERMINAL_PROMPT=1) only partly confirms "easily hangs"
        case.claim("C1.6", PARTLY if prompt == "1" else CONFIRMED,
                   f"{setting}: git waits at its user-name prompt until the {HANG_S} s watchdog"
                   + ("; only because the user set GIT_TERMINAL_PROMPT=1" if prompt == "1" else ""))
    else:
        case.claim("C1.6", REFUTED, f"{setting}: no hang, git fails in {obs.duration_s:.1f} s: {reason}")
        case.claim("C1.9", CONFIRMED if said else REFUTED,
                   f"the article's symptom is go's message: {said[0]}" if said else
                   f"go says no \"could not read Username\": {obs.error_line}")

    case.expect("go get succeeds", obs.ok, False, detail=obs.errors)
    assert asked_for, "git must have asked the host (401)"
    case.expect("git waits at its user-name prompt", hang, prompt == "1" and terminal, detail=obs.errors)
    if hang:
        assert "Username for 'https://git.corp.test'" in output(obs)
    else:
        assert obs.duration_s < HANG_S - 1
        assert said and "for 'https://git.corp.test'" in said[0], output(obs)
        assert reason in said[0], said


FIXES = {
    # name: (how the credential is given, extra environment)
    "article insteadOf token": ("insteadof", {}),
    "article insteadOf, revoked token": ("insteadof", {}),
    ".netrc": ("netrc", {}),
    "git credential store": ("credential-store", {}),
    "GOAUTH=git + credential store": ("credential-store", {"GOAUTH": "git /work"}),
    ".netrc + GOAUTH=off": ("netrc", {"GOAUTH": "off"}),
}


@pytest.mark.claims("C1.9")
@pytest.mark.parametrize("auth", ["git", "all"])
@pytest.mark.parametrize("fix", list(FIXES))
def test_credential_fixes(topo, case, fix, auth):
    """Each way of handing git (and go) the token, against a host that wants it on git's paths only
    (auth="git") or on ?go-get=1 too (auth="all": go's own discovery request needs it). Does the
    fetch work, and where does the token show afterwards?"""
    how, env = FIXES[fix]
    git = topo.git_host(GIT, auth=auth)
    go = direct_client(topo, **env)
    revoked = "revoked" in fix
    token = git.token[::-1] if revoked else git.token
    git.give(go, how, token=token)
    has_goauth = bool(go.sh("go env GOAUTH", record=False).stdout.strip())      # since Go 1.24
    obs = case.note(get(go))
    places = token_places(go, token, obs)
    # go get also asks about every parent path (/team?go-get=1 ...): the module's own is the one that counts.
    discovery = obs.requests_to(GIT, r"^/team/secret\?go-get=1$")
    case.fact(ok=obs.ok, error_line=obs.error_line, token_shows_in=places,
              discovery=[f"{r.status} {r.detail['auth'] or 'no credentials'}" for r in discovery])
    if fix == "article insteadOf token":
        if obs.ok:
            verdict, how_it_went = CONFIRMED, "the insteadOf token fix works"
        else:
            verdict, how_it_went = PARTLY, f"git would have the token, but go's own ?go-get=1 request does not: {obs.error_line}"
        case.claim("C1.9", verdict, f"auth on {auth}: {how_it_went}; token afterwards in: {places or 'nowhere'}")

    # git itself reads every one of them (curl reads .netrc, the helper, the rewritten URL) ...
    git_ok = bool(obs.requests_to(GIT, r"/git-upload-pack$")) and all(
        r.status == 200 for r in obs.requests_to(GIT, r"/git-upload-pack$"))
    # ... but go's own discovery request only sees .netrc (GOAUTH=netrc, the default) or GOAUTH=git.
    go_sends = how == "netrc" and (env.get("GOAUTH") != "off" or not has_goauth) or ("GOAUTH=git" in fix and has_goauth)
    goauth = "1.24" if "GOAUTH" in env else None        # GOAUTH is new in Go 1.24: expected as 1.24 on does
    case.expect("go's own ?go-get=1 request is answered", discovery[-1].status if discovery else None,
                401 if auth == "all" and not go_sends else 200, since=goauth, detail=str(discovery))
    case.expect("go get succeeds", obs.ok, (auth == "git" or go_sends) and not revoked, since=goauth,
                detail=obs.errors)
    if obs.ok:
        assert git_ok and modules.module(SECRET, "v1.0.0").gosum_lines()[0] in go.read("/work/go.sum").decode()
    elif revoked and auth == "git":
        # git names the URL without the credential it rewrote into it
        assert "fatal: Authentication failed for 'https://git.corp.test/team/secret/'" in obs.errors, obs.errors
    else:
        assert "401 Unauthorized" in obs.errors and not git_ok, obs.errors


# --- SSH ---------------------------------------------------------------------------------------

HOST_KEYS = ["known", "no known_hosts entry", "no known_hosts entry, user's GIT_SSH_COMMAND=ssh",
             "rotated host key"]


@pytest.mark.claims("C1.6")
@pytest.mark.parametrize("terminal", [False, True], ids=["no terminal", "in a terminal"])
@pytest.mark.parametrize("host_key", HOST_KEYS)
def test_ssh_host_key(topo, case, host_key, terminal):
    """git over SSH (an insteadOf rule sends https://git.corp.test/ to ssh://git@git.corp.test/) with
    the client's key authorized. Up to Go 1.24 go sets GIT_SSH_COMMAND="ssh -o ControlMaster=no -o
    BatchMode=yes" unless the user set GIT_SSH(_COMMAND) (modload/init.go); since 1.25 it sets nothing,
    so ssh's StrictHostKeyChecking=ask applies: an unknown host key is a question on the terminal."""
    git = topo.git_host(GIT)
    go = direct_client(topo, GIT_SSH_COMMAND="ssh" if "GIT_SSH_COMMAND" in host_key else None)
    git.give(go, "ssh", known_hosts=not host_key.startswith("no known_hosts"))
    if host_key == "rotated host key":
        git.rotate_host_key()
    batch_mode = go.go_minor() <= 24 and "GIT_SSH_COMMAND" not in host_key
    obs = case.note(get(go, terminal=terminal, timeout=HANG_S if terminal else 30))
    ssh = [r for r in obs.requests_to(GIT) if r.method == "SSH"]
    text = output(obs)
    # A command the watchdog ended has no error line of its own (a terminal's shell says it was killed).
    case.fact(ok=obs.ok, timed_out=obs.timed_out, duration_s=round(obs.duration_s, 2),
              error_line="" if obs.timed_out else obs.error_line, ssh_connections=len(ssh), ssh_auth=[r.detail["auth"] for r in ssh], go_sets_batch_mode=batch_mode)
    where = f"{host_key}, {'in a terminal' if terminal else 'no terminal'}"
    if host_key == "known":
        pass        # nothing to hang on: no verdict
    elif obs.timed_out:
        case.claim("C1.6", CONFIRMED, f"{where}: ssh asks whether to trust the host and go waits until the "
                                      f"{HANG_S} s watchdog")
    elif host_key == "rotated host key":
        case.claim("C1.6", REFUTED, f"{where}: no hang, ssh refuses at once ({obs.duration_s:.1f} s): "
                                    "Host key verification failed")
    else:
        why = "go sets BatchMode=yes (up to 1.24)" if batch_mode and terminal else "ssh has no terminal to ask on"
        case.claim("C1.6", REFUTED, f"{where}: no hang ({why}), fails in {obs.duration_s:.1f} s: "
                                    "Host key verification failed")

    assert ssh, "go must reach sshd"
    case.expect("go get succeeds", obs.ok, host_key == "known", detail=obs.errors)
    if host_key == "known":
        assert any(r.detail.get("command", "").startswith("git-upload-pack") for r in ssh)
        return
    assert all(r.detail["auth"] != "publickey" for r in ssh), "no key may be offered to an unverified host"
    if host_key == "rotated host key":
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in text and not obs.timed_out, text
        assert "Host key verification failed" in text
        return
    # Up to Go 1.24 go's BatchMode=yes keeps ssh from asking, in a terminal too.
    asks = terminal and not batch_mode
    case.expect("ssh asks whether to trust the host, and go waits", obs.timed_out, asks,
                since="1.25" if terminal and "GIT_SSH_COMMAND" not in host_key else None, detail=text)
    assert ("Are you sure you want to continue connecting" if asks else "Host key verification failed") in text, text


# --- go-import discovery answered wrongly ----------------------------------------------------------

GOGET_ERRORS = {
    "missing": "no go-import meta tags",
    "wrong-vcs": "hg",
    "login": "no go-import meta tags",
    "404": "404 Not Found",
}


@pytest.mark.parametrize("mode", list(GOGET_ERRORS))
def test_goget_answered_wrongly(topo, case, mode):
    """?go-get=1 answered without a usable go-import tag (set while the host runs, for the module's
    repository only): go stops before running git at all."""
    git = topo.git_host(GIT)
    go = direct_client(topo)
    git.goget(mode, prefix="team/secret")
    obs = case.note(get(go))
    ran_git = bool(obs.requests_to(GIT, r"/info/refs"))
    case.fact(error_line=obs.error_line, ran_git=ran_git)
    assert not obs.ok and GOGET_ERRORS[mode] in obs.errors, obs.errors
    assert f"unrecognized import path \"{SECRET}\"" in obs.errors or mode == "wrong-vcs", obs.errors
    assert not ran_git


# --- routing: which of proxy, checksum DB and git host a private path reaches -------------------------

ROUTES = {
    # name: (environment, expected (proxy, checksum DB, git host) asked about the private module)
    "nothing set": ({}, (True, True, False)),
    "GOPRIVATE": ({"GOPRIVATE": GIT}, (False, False, True)),
    "GONOPROXY only": ({"GONOPROXY": GIT}, (False, True, True)),
    "GONOSUMDB only": ({"GONOSUMDB": GIT}, (True, False, False)),
    "GOPRIVATE + GONOPROXY=none": ({"GOPRIVATE": GIT, "GONOPROXY": "none"}, (True, False, False)),
    "proxy lacks it, ,direct": ({"GOPROXY": f"https://{PROXY},direct"}, (True, True, True)),
    "DB key only (through the proxy)": ({"GOSUMDB": "key"}, (True, True, False)),
}


@pytest.mark.claims("C3.2")
@pytest.mark.parametrize("route", list(ROUTES))
def test_private_path_routing(topo, case, route):
    """A proxy that serves every fixture (the git.corp.test ones too, unless told it lacks them), a
    checksum DB that knows only public modules, the git host: one observation, all three logs."""
    env, (want_proxy, want_db, want_git) = ROUTES[route]
    public = {n: d for n, d in topo.session.module_files.items() if not n.startswith("git.corp.test_")}
    proxy = topo.upstream(PROXY, modules=public if "lacks" in route else None)
    db = topo.sumdb(DB, modules=public)
    topo.git_host(GIT)
    env = {"GOPROXY": f"https://{PROXY}", "GOSUMDB": db.gosumdb(), **env}
    if env["GOSUMDB"] == "key":
        env["GOSUMDB"] = db.gosumdb(url=None)
        proxy.proxy_sumdb(db)
    go = topo.go(**env)
    go.write(APP)
    obs = case.note(get(go, x=True))
    asked = (bool(obs.requests_to(PROXY, rf"^/{SECRET}/@v/")),
             bool(obs.requests_to(DB, rf"/lookup/{SECRET}@") + obs.requests_to(PROXY, rf"/sumdb/.*/lookup/{SECRET}@")),
             bool(obs.requests_to(GIT)))
    probe = [r.status for r in obs.requests_to(PROXY, rf"^/sumdb/{DB}/supported$")]
    go_error = next((l for l in obs.error_lines() if l.startswith("go: ")), "")      # -x lines come first
    case.fact(ok=obs.ok, go_error=go_error, proxy_db_git=asked, supported_probe=probe,
              servers_in_order=obs.servers_asked())
    shown = [l for l in obs.stderr.splitlines() if l.startswith("# get https://")]
    if asked[0]:        # go asked the proxy: did -x show it?
        shows = any(f"https://{PROXY}/{SECRET}/@v/" in l for l in shown)
        case.claim("C3.2", CONFIRMED if shows else REFUTED,
                   f"{route}: -x printed {len(shown)} '# get' lines, e.g. {shown[0] if shown else 'none'}")

    case.expect("(proxy, DB, git) asked", asked, (want_proxy, want_db, want_git), detail=obs.errors)
    case.expect("go get succeeds", obs.ok, not want_db, detail=obs.errors)      # the DB knows no private module: 404
    if want_db:
        assert f"verifying module: {SECRET}@v1.0.0" in obs.errors and "404 Not Found" in obs.errors, obs.errors
    assert bool(probe) == (route == "DB key only (through the proxy)")


# --- the order of the layers -----------------------------------------------------------------------

@pytest.mark.claims("C1.2")
@pytest.mark.parametrize("proxy_has_it", [True, False], ids=["proxy has it", "proxy lacks it"])
def test_layer_order(topo, case, proxy_has_it):
    """GOPROXY=<proxy>,direct with a checksum DB (GONOSUMDB unset, the DB knows the module) and the
    git host: which layer does go consult first, with a cold cache and then a warm one?"""
    ours = {n: d for n, d in topo.session.module_files.items() if n.startswith("git.corp.test_team_secret_v1")}
    topo.upstream(PROXY, modules=ours if proxy_has_it else {})
    db = topo.sumdb(DB, modules=ours)
    topo.git_host(GIT)
    go = topo.go(GOPROXY=f"https://{PROXY},direct", GOSUMDB=db.gosumdb())
    go.write(APP)
    # `go mod download` asks about this module only (`go get` also asks about every parent path).
    cold = go.run("mod", "download", "-json", f"{SECRET}@v1.0.0")
    go.write({f"/work2/{name}": data for name, data in APP.items()})    # another project, the same cache
    warm = case.note(go.run("mod", "download", "-json", f"{SECRET}@v1.0.0", cwd="/work2"))
    order_cold, order_warm = cold.servers_asked(), warm.servers_asked()
    case.fact(cold_order=order_cold, warm_order=order_warm, cold_ok=cold.ok, warm_ok=warm.ok)
    # The article's order: GOPROXY, GOSUMDB, the module cache, git.
    rank = {PROXY: 0, DB: 1, GIT: 3}
    cold_in_order = order_cold == sorted(order_cold, key=rank.get)
    cache_first = PROXY not in order_warm
    case.claim("C1.2", CONFIRMED if cold_in_order and not cache_first else REFUTED,
               f"cold cache: {' → '.join(order_cold)}; warm cache: {' → '.join(order_warm) or 'no request at all'}"
               + (" (the module cache is consulted before any proxy)" if cache_first else "")
               + ("" if cold_in_order else " (git before the checksum DB)"))

    case.expect("both downloads succeed", [cold.ok, warm.ok], [True, True], detail=cold.errors + warm.errors)
    case.expect("the layers a cold cache asks", order_cold, [PROXY, DB] if proxy_has_it else [PROXY, GIT, DB])
    # a warm cache answers before any network layer
    case.expect("a warm cache asks the proxy or git", PROXY in order_warm or GIT in order_warm, False)


# --- through the company's forward proxy ------------------------------------------------------------

@pytest.mark.parametrize("variant", ["forward", "intercept"])
def test_git_through_a_forward_proxy(topo, case, variant):
    """HTTPS_PROXY names a Squid forward proxy (Debian's rules + the LAN; "intercept": it bumps TLS
    with a CA the client does not trust). go's discovery request and git's fetches both go through
    it as CONNECT tunnels; all three logs in one observation."""
    topo.git_host(GIT)
    squid = topo.squid("squid.corp.test", variant)
    go = direct_client(topo, HTTPS_PROXY=squid.url, HTTP_PROXY=squid.url)
    obs = case.note(get(go))
    tunnels = [r for r in obs.requests_to(squid.host) if r.method == "CONNECT"]
    at_git = obs.requests_to(GIT)
    # How many tunnels git opens depends on its connection reuse: the fact is which ones, not how many.
    case.fact(ok=obs.ok, error_line=obs.error_line, tunnels=sorted({f"{r.path} {r.status}" for r in tunnels}),
              # go asks the path prefixes' ?go-get=1 at once: which comes first varies
              at_git=sorted(f"{r.method} {r.path} -> {r.status}" for r in at_git))
    assert tunnels and all(r.path == f"{GIT}:443" for r in tunnels), tunnels
    if variant == "forward":
        assert obs.ok, obs.errors
        assert at_git[0].path.endswith("?go-get=1") and obs.requests_to(GIT, r"/git-upload-pack$")
        # git reuses one tunnel for its requests; go opens its own for discovery
        assert len(tunnels) < len(at_git)
    else:
        assert not obs.ok and "x509: certificate signed by unknown authority" in obs.errors, obs.errors
        assert f'unrecognized import path "{SECRET}"' in obs.errors and not at_git, "no request may pass the bump"
