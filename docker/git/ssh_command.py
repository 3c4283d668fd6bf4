#!/usr/bin/env python3
"""The forced command of every SSH key: log what git asked for, then serve it from /srv/git.
git over ssh://host/team/repo asks for "git-upload-pack '/team/repo'", scp-like host:team/repo
for "git-upload-pack 'team/repo'": both name /srv/git/team/repo."""
import json
import os
import shlex
import sys
import time

ALLOWED = ("git-upload-pack", "git-upload-archive")
command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
with open("/srv/state/ssh-commands.jsonl", "a") as log:
    log.write(json.dumps({"t": time.time(), "conn": os.environ.get("SSH_CONNECTION", ""), "command": command}) + "\n")
words = shlex.split(command) if command else []
if len(words) != 2 or words[0] not in ALLOWED:
    sys.stderr.write(f"git host: only {', '.join(ALLOWED)} <repo> is served, not {command!r}\n")
    sys.exit(128)
os.execvp(words[0], [words[0], os.path.join("/srv/git", words[1].lstrip("/"))])
