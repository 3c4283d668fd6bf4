#!/usr/bin/env python3
"""Start the git host from its state dir (/srv/state, copied in per test before the start):

  config.json      {"host": "git.corp.test", "auth": null | {"users": {user: password}, "goget": bool}}
  repos.json       {"<repo>": [{"tag", "time", "message", "files": {path: base64}}, ...]}  (fixtures/world/githost.py)
  goget.json       how ?go-get=1 is answered (read per request by goget.py)
  tls/cert.pem     HTTPS on 443 when present
  ssh/host_key     sshd's host key (rotated by the test: new file, then SIGHUP to sshd)
  ssh/client_keys.pub   public keys allowed to log in as git
  vcweb.tar        Go's VCS test server: the repositories vcweb.py built from a release's vcstest scripts and
                   their index, unpacked to /srv/vcweb and served in vcweb's URL layout (vcweb_locations)

Builds bare repositories under /srv/git with git fast-import, starts fcgiwrap, nginx and sshd, and
prints one line "ready git=... nginx=... sshd=..." once all of them answer. Logs it writes for the
test: access.jsonl (nginx), sshd.jsonl (sshd's log lines, timestamped), ssh-commands.jsonl.
"""
import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

STATE = "/srv/state"
GIT_ROOT = "/srv/git"
VCWEB_ROOT = "/srv/vcweb"
CONF = "/etc/gotraps"
READY_BOUND_S = 20


def fail(message):
    print(f"git host: {message}", flush=True)
    sys.exit(1)


def load(name, default):
    try:
        with open(os.path.join(STATE, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def fast_import_stream(commits):
    """One branch `main`, one commit per version (its whole tree), a lightweight tag on each."""
    out = []

    def data(raw):
        out.append(b"data %d\n" % len(raw) + raw + b"\n")
    for mark, c in enumerate(commits, 1):
        when = b"%d +0000" % c["time"]
        out.append(b"commit refs/heads/main\nmark :%d\n" % mark)
        out.append(b"author gotraps <gotraps@corp.test> " + when + b"\n")
        out.append(b"committer gotraps <gotraps@corp.test> " + when + b"\n")
        data(c["message"].encode())
        out.append(b"deleteall\n")
        for path, content in sorted(c["files"].items()):
            out.append(b"M 100644 inline " + path.encode() + b"\n")
            data(base64.b64decode(content))
        if c.get("tag"):
            out.append(b"reset refs/tags/" + c["tag"].encode() + b"\nfrom :%d\n\n" % mark)
    return b"".join(out)


def build_repos(repos):
    for repo, commits in repos.items():
        path = os.path.join(GIT_ROOT, repo)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", path], check=True)
        proc = subprocess.run(["git", "-C", path, "fast-import", "--quiet"], input=fast_import_stream(commits),
                              capture_output=True)
        if proc.returncode:
            fail(f"building {repo}: {proc.stderr.decode(errors='replace')}")
    subprocess.run(["chown", "-R", "git:git", GIT_ROOT], check=True)


def write_nginx_includes(config):
    auth = config.get("auth")
    block = ""
    if auth:
        block = f'auth_basic "{config["host"]}";\nauth_basic_user_file {CONF}/htpasswd;\n'
        with open(f"{CONF}/htpasswd", "w") as f:
            f.writelines(f"{user}:{{PLAIN}}{password}\n" for user, password in auth["users"].items())
    with open(f"{CONF}/auth-git.conf", "w") as f:
        f.write(block)
    with open(f"{CONF}/auth-goget.conf", "w") as f:
        f.write(block if auth and auth.get("goget") else "")
    tls = os.path.exists(f"{STATE}/tls/cert.pem")
    with open(f"{CONF}/tls.conf", "w") as f:
        if tls:
            f.write(f"listen 443 ssl;\nssl_certificate {STATE}/tls/cert.pem;\n"
                    f"ssl_certificate_key {STATE}/tls/key.pem;\n")
    return tls


def vcweb_locations(index, root=VCWEB_ROOT):
    """nginx locations of Go's VCS test server: each git script's path to git http-backend, its repository the
    script's directory (vcweb's git.go: GIT_PROJECT_ROOT, the path with the script's prefix stripped), every
    other path to vcweb_serve.py (directories, auth, the insecure redirect, errors, 404s)."""
    out = []
    for name, s in sorted(index["scripts"].items()):
        if s.get("handler") != "git" or name in index["dirs"]:
            continue
        root_dir = os.path.normpath(os.path.join(root, name, s["dir"]))
        out.append(f'location ~ ^/{re.escape(name)}(?<vcweb_path>/.*)?$ {{\n'
                   f'    include /etc/nginx/fastcgi_params;\n'
                   f'    fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;\n'
                   f'    fastcgi_param GIT_PROJECT_ROOT {root_dir};\n'
                   f'    fastcgi_param GIT_HTTP_EXPORT_ALL "";\n'
                   f'    fastcgi_param PATH_INFO $vcweb_path;\n'
                   f'    fastcgi_param GIT_PROTOCOL $http_git_protocol;\n'
                   f'    fastcgi_pass unix:/run/fcgiwrap.sock;\n}}\n')
    out.append('location ~ ^/ {\n'
               '    include /etc/nginx/fastcgi_params;\n'
               '    fastcgi_param SCRIPT_FILENAME /srv/vcweb_serve.py;\n'
               '    fastcgi_param PATH_INFO $uri;\n'
               '    fastcgi_pass unix:/run/fcgiwrap.sock;\n}\n')
    return "".join(out)


def unpack_vcweb():
    """Go's VCS test server, when the state has one: its nginx locations (else none)."""
    conf, tar = "", os.path.join(STATE, "vcweb.tar")
    if os.path.exists(tar):
        os.makedirs(VCWEB_ROOT, exist_ok=True)
        proc = subprocess.run(["tar", "-xf", tar, "-C", VCWEB_ROOT], capture_output=True, text=True)
        if proc.returncode:
            fail(f"unpacking vcweb.tar: {proc.stderr}")
        conf = vcweb_locations(load_from(VCWEB_ROOT, "index.json"))
    with open(f"{CONF}/vcweb.conf", "w") as f:
        f.write(conf)
    return bool(conf)


def load_from(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


def write_authorized_keys():
    keys = ""
    try:
        with open(f"{STATE}/ssh/client_keys.pub") as f:
            keys = f.read()
    except FileNotFoundError:
        pass
    with open(f"{CONF}/authorized_keys", "w") as f:
        for line in keys.splitlines():
            if line.strip():
                f.write(f'command="/srv/ssh_command.py",no-port-forwarding,no-pty {line.strip()}\n')


def stamp_lines(stream, path):
    """sshd -e prints no timestamps: stamp each line as it arrives, so it orders with the other logs."""
    with open(path, "a") as out:
        for raw in stream:
            out.write(json.dumps({"t": time.time(), "line": raw.decode(errors="replace").rstrip("\n")}) + "\n")
            out.flush()


def version(argv, prefix=""):
    proc = subprocess.run(argv, capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return text[0].removeprefix(prefix) if text else "?"


def wait_ready(tls, ssh):
    deadline = time.monotonic() + READY_BOUND_S
    banner = ""
    while time.monotonic() < deadline:
        try:
            try:
                urllib.request.urlopen("http://127.0.0.1/", timeout=2)
            except urllib.error.HTTPError:
                pass              # any HTTP answer: nginx serves
            if tls:
                socket.create_connection(("127.0.0.1", 443), timeout=2).close()
            if ssh:
                with socket.create_connection(("127.0.0.1", 22), timeout=2) as s:
                    banner = s.recv(256).decode(errors="replace").strip()
            return banner
        except OSError:
            time.sleep(0.05)
    fail(f"not serving after {READY_BOUND_S} s")


def main():
    config = load("config.json", {"host": "git.example"})
    build_repos(load("repos.json", {}))
    tls = write_nginx_includes(config)
    vcweb = unpack_vcweb()
    write_authorized_keys()
    for log in ("access.jsonl", "sshd.jsonl", "ssh-commands.jsonl"):
        open(os.path.join(STATE, log), "a").close()
    os.chmod(f"{STATE}/ssh-commands.jsonl", 0o666)     # written by the git user
    check = subprocess.run(["nginx", "-t", "-q", "-c", f"{CONF}/nginx.conf"], capture_output=True, text=True)
    if check.returncode:
        fail(f"nginx -t: {check.stderr}")
    children = [
        subprocess.Popen(["fcgiwrap", "-c", "4", "-s", "unix:/run/fcgiwrap.sock"]),
        subprocess.Popen(["nginx", "-c", f"{CONF}/nginx.conf", "-g", "daemon off;"]),
    ]
    ssh = os.path.exists(f"{STATE}/ssh/host_key")
    if ssh:
        os.chmod(f"{STATE}/ssh/host_key", 0o600)     # sshd refuses a readable private key
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{CONF}/sshd_config"], stderr=subprocess.PIPE)
        threading.Thread(target=stamp_lines, args=(sshd.stderr, f"{STATE}/sshd.jsonl"), daemon=True).start()
        children.append(sshd)
    banner = wait_ready(tls, ssh)
    print(f'ready git="{version(["git", "--version"], "git version ")}" '
          f'nginx="{version(["nginx", "-v"], "nginx version: ")}" sshd="{banner.removeprefix("SSH-2.0-") or "-"}" '
          f'https={"on" if tls else "off"} vcweb={"on" if vcweb else "off"}', flush=True)
    while True:
        for child in children:
            if child.poll() is not None:
                fail(f"{child.args[0]} exited with {child.returncode}")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
