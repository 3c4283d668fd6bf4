#!/usr/bin/env python3
"""The CGI answering ?go-get=1 (go-import discovery), re-reading /srv/state/goget.json per request:

  {"default": MODE, "prefixes": {"team/secret": MODE, ...}}    (longest matching prefix wins)

MODE: "correct" (a go-import meta tag for the repository holding the path, git over https),
"ssh" (the same repository at ssh://git@<host>/...), "missing" (a page without any meta tag),
"wrong-vcs" (the right root, but vcs "hg"), "login" (an HTML sign-in page, status 200, as an SSO
gateway answers), "404". A path under no repository is a 404 whatever the mode.
"""
import json
import os

STATE = os.environ.get("GIT_HOST_STATE", "/srv/state")     # the variable: for the unit tests


def load(name, default):
    try:
        with open(os.path.join(STATE, name)) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return default


def answer(status, body):
    print(f"Status: {status}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{body}", end="")


def page(head, body=""):
    return f"<!DOCTYPE html>\n<html><head>\n{head}</head>\n<body>{body}</body></html>\n"


def main():
    host = load("config.json", {}).get("host", "git.example")
    path = os.environ.get("PATH_INFO", "/").strip("/")
    repos = sorted(load("repos.json", {}), key=len, reverse=True)
    repo = next((r for r in repos if path == r or path.startswith(r + "/")), None)
    settings = load("goget.json", {})
    prefixes = settings.get("prefixes", {})
    key = next((p for p in sorted(prefixes, key=len, reverse=True) if path == p or path.startswith(p + "/")), None)
    mode = prefixes[key] if key else settings.get("default", "correct")
    if mode == "404" or repo is None:
        answer("404 Not Found", page("<title>404</title>\n", "Not Found"))
    elif mode == "login":
        answer("200 OK", page("<title>Sign in - Corp SSO</title>\n",
                              '<form action="/login" method="post"><input name="user"><input name="password" '
                              'type="password"></form>'))
    elif mode == "missing":
        answer("200 OK", page(f"<title>{host}/{path}</title>\n", "A repository page without go-import."))
    else:
        vcs, url = {"correct": ("git", f"https://{host}/{repo}"), "ssh": ("git", f"ssh://git@{host}/{repo}"),
                    "wrong-vcs": ("hg", f"https://{host}/{repo}")}.get(mode, ("git", f"https://{host}/{repo}"))
        answer("200 OK", page(f'<meta name="go-import" content="{host}/{repo} {vcs} {url}">\n'))


if __name__ == "__main__":
    main()
