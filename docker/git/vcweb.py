#!/usr/bin/env python3
"""Go's VCS test server (cmd/go/internal/vcweb), the repositories part: a small interpreter of vcweb's script
language that builds, with this image's real git, what a release's cmd/go/testdata/vcstest/**/*.txt scripts
describe, once, ahead of the cases (fixtures/world/vcweb.py caches the result per release).

    python3 vcweb.py build SCRIPTS OUT      # every script of SCRIPTS (a vcstest tree) into OUT/<script path>/

A script is a txtar archive whose comment is a script of cmd/internal/script's language (parse, quoting and
$VAR expansion as Go's engine.go) with vcweb's commands (script.go): handle, status, at, unquote, modzip, skip,
git (and hg, svn, svnadmin, fossil, bzr: run when installed, which they are not here), and the default ones the
scripts use (env, cp, cmp, echo, mkdir, mv, rm, cd, cat). Its archive files are extracted into its work
directory first; the script then runs there with vcweb's environment (scriptEnviron: HOME holding vcweb's
.gitconfig, GIT_CONFIG_NOSYSTEM=1). OUT/index.json says, per script (its path without .txt), how vcweb would
serve it: {"handler": "git"|"dir"|"auth"|"insecure"|..., "dir": the directory served (relative to its work
directory), "status": a forced status or null} or {"error": ..., "code": 404|500|501} as vcweb's ServeHTTP
answers a script that failed (501: a VCS that is not installed); and "dirs": the directories of SCRIPTS, for
vcweb's lookup of the script that serves a URL path (vcweb_serve.py, and the nginx locations of entrypoint.py).
"""
import concurrent.futures as cf
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

# cmd/go/internal/vcweb/vcweb.go gitConfig: deterministic git behaviour for the scripts.
GIT_CONFIG = """[user]
\tname = Go Gopher
\temail = gopher@golang.org
[init]
\tdefaultBranch = main
[core]
\teol = lf
[gui]
\tencoding = utf-8
"""
HANDLERS = ("auth", "dir", "fossil", "git", "hg", "insecure", "svn", "bzr")
INSTALLED_HANDLERS = ("auth", "dir", "git", "insecure")    # this image has git, not hg, svn, fossil nor bzr
PROGRAMS = ("git", "hg", "svn", "svnadmin", "fossil", "bzr")
ARG_SEP = " \t\n\r#"    # cmd/internal/script argSepChars
VAR = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z0-9_]+|[*#$@!?\-:/]))")


class ScriptError(Exception):
    """The script failed: vcweb answers 500 with the message (code 501: a VCS that is not installed)."""
    def __init__(self, message, code=500):
        super().__init__(message)
        self.code = code


class Skip(ScriptError):
    pass


# --- txtar and the script language (cmd/internal/script/engine.go parse, expandArgs) ----------------------

def parse_txtar(data: bytes) -> tuple[str, list[tuple[str, bytes]]]:
    """(comment, [(name, content)]), as Go's internal/txtar Parse: a marker line is `-- name --` exactly, and the
    last section gets a final newline when it has none (fixNL)."""
    sections, name, buf = [], None, []
    for line in data.splitlines(keepends=True):
        bare = line[:-1] if line.endswith(b"\n") else line
        if bare.startswith(b"-- ") and bare.endswith(b" --") and len(bare) >= 6 and bare[3:-3].strip():
            sections.append((name, b"".join(buf)))
            name, buf = bare[3:-3].decode().strip(), []
            continue
        buf.append(line)
    last = b"".join(buf)
    sections.append((name, last + b"\n" if last and not last.endswith(b"\n") else last))
    return sections[0][1].decode(), sections[1:]


def parse_line(line: str):
    """(want, conds, name, raw_args) of one line, None for a blank or comment line. raw_args: per argument a
    list of (text, quoted) fragments, expanded later."""
    want, conds, name, args = "", [], "", []
    raw, start, quoted = [], -1, False

    def flush():
        nonlocal want, name, raw
        if not raw:
            return
        frags, raw = raw, []
        if not name and len(frags) == 1 and not frags[0][1]:
            arg = frags[0][0]
            if arg in ("!", "?"):
                if want:
                    raise ScriptError("duplicated '!' or '?' token")
                want = arg
                return
            if arg.startswith("[") and arg.endswith("]"):
                tag, positive = arg[1:-1].strip(), True
                if tag.startswith("!"):
                    tag, positive = tag[1:].strip(), False
                if not tag:
                    raise ScriptError("empty condition")
                conds.append((positive, tag))
                return
            name = arg
            return
        args.append(frags)

    i = 0
    while True:
        if not quoted and (i >= len(line) or line[i] in ARG_SEP):
            if start >= 0:
                raw.append((line[start:i], False))
                start = -1
            flush()
            if i >= len(line) or line[i] == "#":
                break
            i += 1
            continue
        if i >= len(line):
            raise ScriptError("unterminated quoted argument")
        if line[i] == "'":
            if not quoted:
                if start >= 0:
                    raw.append((line[start:i], False))
                start, quoted = i + 1, True
            elif i + 1 < len(line) and line[i + 1] == "'":      # 'foo''bar' is foo'bar
                raw.append((line[start:i], True))
                start = i + 1
                i += 1
            else:
                raw.append((line[start:i], True))
                start, quoted = i + 1, False
            i += 1
            continue
        if start < 0:
            start = i
        i += 1
    if not name:
        if want or conds or args:
            raise ScriptError("missing command")
        return None
    return want, conds, name, args


def expand(text: str, env: dict) -> str:
    """os.Expand with the script's environment: $NAME and ${NAME}, unset names are empty."""
    return VAR.sub(lambda m: env.get(m.group(1) if m.group(1) is not None else m.group(2), ""), text)


def unquote_go(s: str) -> str:
    """strconv.Unquote of "s": Go's escapes in an interpreted string literal."""
    out, i = [], 0
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}
    while i < len(s):
        c = s[i]
        if c == '"':
            raise ScriptError("invalid syntax")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = s[i + 1:i + 2]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e in ("x", "u", "U"):
            n = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(s[i + 2:i + 2 + n], 16)))
            i += 2 + n
        elif e.isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            raise ScriptError("invalid syntax")
    return "".join(out)


# --- modzip (golang.org/x/mod/zip CreateFromDir, for the small trees the scripts zip) -----------------------

def modzip(zip_path: str, module: str, version: str, src: str) -> None:
    """A module zip of src: its regular files under path@version/, without VCS directories nor nested modules."""
    files = []
    for root, dirs, names in os.walk(src):
        rel_root = os.path.relpath(root, src)
        keep = []
        for d in sorted(dirs):
            if d in (".bzr", ".git", ".hg", ".svn") or os.path.exists(os.path.join(root, d, "go.mod")):
                continue
            keep.append(d)
        dirs[:] = keep
        for n in sorted(names):
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(os.path.normpath(os.path.join(rel_root, n)))
    os.makedirs(os.path.dirname(zip_path), exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in sorted(files):
            z.write(os.path.join(src, rel), f"{module}@{version}/{rel}")


# --- one script ---------------------------------------------------------------------------------------------

class State:
    def __init__(self, work: str, env: dict):
        self.work, self.cwd, self.env = work, work, dict(env, PWD=work)
        self.stdout = self.stderr = ""
        self.handler, self.handler_dir, self.status = None, None, None

    def path(self, p: str) -> str:
        return os.path.normpath(os.path.join(self.cwd, p))

    def read(self, name: str) -> str:
        if name == "stdout":
            return self.stdout
        if name == "stderr":
            return self.stderr
        with open(self.path(name), encoding="utf-8", errors="surrogateescape") as f:
            return f.read()


def git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "version"], capture_output=True, text=True).stdout
    m = re.search(r"git version\s+(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def condition(st: State, tag: str) -> bool:
    name, _, suffix = tag.partition(":")
    if tag == "git-sha256":
        return git_version() >= (2, 29)
    if name == "exec":
        return shutil.which(suffix, path=st.env.get("PATH")) is not None
    if name == "GOOS":
        return suffix == "linux"
    if tag == "root":
        return os.geteuid() == 0
    raise ScriptError(f"unknown condition {tag!r}")


def run_command(st: State, name: str, args: list[str]):
    """Runs one command; returns (stdout, stderr) when the command has output (Go: a WaitFunc, which sets the
    stdout and stderr buffers), None when it has none (the buffers stay). A failure raises ScriptError."""
    if name in PROGRAMS:
        exe = shutil.which(name, path=st.env.get("PATH"))
        if exe is None:
            raise ScriptError(f'exec: "{name}": executable file not found in $PATH', code=501)
        proc = subprocess.run([exe, *args], cwd=st.cwd, env=st.env, capture_output=True)
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        if proc.returncode:
            raise ScriptError(f"{name} {' '.join(args)}: exit status {proc.returncode}\n{err}", code=500)
        return out, err
    if name == "handle":
        if not 1 <= len(args) <= 2:
            raise ScriptError("usage: handle handler [dir]")
        if st.handler is not None:
            raise ScriptError(f"server handler already set to {st.handler}")
        if args[0] not in HANDLERS:
            raise ScriptError(f'unrecognized VCS "{args[0]}"')
        st.handler = args[0]
        if args[0] not in INSTALLED_HANDLERS:
            raise ScriptError(f"server for `{args[0]}` VCS is not installed", code=501)
        st.handler_dir = st.path(args[1]) if len(args) == 2 else st.cwd
        return None
    if name == "status":
        if st.handler is None:
            raise ScriptError("status command must be called after handle")
        st.status = int(args[0])
        return None
    if name == "at":
        if len(args) != 1:
            raise ScriptError("usage: at time")
        try:
            dt.datetime.fromisoformat(args[0].replace("Z", "+00:00"))
        except ValueError as exc:
            raise ScriptError(f"at {args[0]}: {exc}") from None
        st.env["GIT_COMMITTER_DATE"] = st.env["GIT_AUTHOR_DATE"] = args[0]
        return None
    if name == "unquote":
        if len(args) != 1:
            raise ScriptError("usage: unquote string")
        return unquote_go(args[0]), ""
    if name == "modzip":
        if len(args) != 3 or "@" not in args[1]:
            raise ScriptError("usage: modzip zipfile path@version dir")
        module, version = args[1].split("@", 1)
        modzip(st.path(args[0]), module, version, st.path(args[2]))
        return None
    if name == "skip":
        raise Skip(args[0] if args else "skip")
    if name == "env":
        out = []
        for kv in args:
            k, eq, v = kv.partition("=")
            if eq:
                st.env[k] = v
            else:
                out.append(f"{k}={st.env.get(k, '')}\n")
        return ("".join(out), "") if out or not args else None
    if name == "echo":
        return " ".join(args) + "\n", ""
    if name == "cat":
        return "".join(st.read(a) for a in args), ""
    if name == "cd":
        st.cwd = st.path(args[0])
        st.env["PWD"] = st.cwd
        return None
    if name == "mkdir":
        for a in args:
            os.makedirs(st.path(a), exist_ok=True)
        return None
    if name == "rm":
        for a in args:
            p = st.path(a)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else (os.path.lexists(p) and os.remove(p))
        return None
    if name == "mv":
        if len(args) != 2:
            raise ScriptError("usage: mv old new")
        os.replace(st.path(args[0]), st.path(args[1]))
        return None
    if name == "cp":
        if len(args) < 2:
            raise ScriptError("usage: cp src... dst")
        dst = st.path(args[-1])
        into_dir = os.path.isdir(dst)
        if len(args) > 2 and not into_dir:
            raise ScriptError(f"cp {dst}: destination is not a directory")
        for src in args[:-1]:
            if src in ("stdout", "stderr"):
                data, mode = st.read(src).encode(errors="surrogateescape"), 0o666
            else:
                with open(st.path(src), "rb") as f:
                    data = f.read()
                mode = os.stat(st.path(src)).st_mode & 0o777
            target = os.path.join(dst, os.path.basename(src)) if into_dir else dst
            with open(target, "wb") as f:
                f.write(data)
            os.chmod(target, mode)
        return None
    if name == "cmp":
        if args and args[0] == "-q":
            args = args[1:]
        if len(args) != 2:
            raise ScriptError("usage: cmp [-q] file1 file2")
        got, want = st.read(args[0]), st.read(args[1])
        if got != want:
            raise ScriptError(f"{args[0]} and {args[1]} differ:\n--- {args[0]}\n{got}--- {args[1]}\n{want}")
        return None
    raise ScriptError(f'unknown command "{name}"')


def run_script(script: bytes, work: str, home: str) -> State:
    """Runs one vcstest script in work (emptied first); returns its final state (handler, dir, status)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    comment, files = parse_txtar(script)
    env = {"USER": "gopher", "HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "HGRCPATH": os.path.join(home, ".hgrc"),
           "HGENCODING": "utf-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": "/tmp",
           "/": "/", ":": ":"}
    st = State(work, env)
    for name, content in files:
        target = os.path.normpath(os.path.join(work, expand(name, st.env)))
        if not target.startswith(work + os.sep):
            raise ScriptError(f"file {name} is outside the work directory")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
    for lineno, text in enumerate(comment.splitlines(), 1):
        parsed = parse_line(text)
        if parsed is None:
            continue
        want, conds, name, raw_args = parsed
        if not all(condition(st, tag) == positive for positive, tag in conds):
            continue
        args = ["".join(s if quoted else expand(s, st.env) for s, quoted in frags) for frags in raw_args]
        try:
            result = run_command(st, name, args)
        except Skip:
            raise
        except (ScriptError, OSError) as exc:
            if want:
                continue
            code = exc.code if isinstance(exc, ScriptError) else 500
            raise ScriptError(f"line {lineno}: {text.strip()}: {exc}", code) from None
        if result is not None:
            st.stdout, st.stderr = result
        if want == "!":
            raise ScriptError(f"line {lineno}: {text.strip()}: unexpected success")
    if st.handler is None:
        raise ScriptError("script completed without setting handler")
    return st


def build(scripts: str, out: str, workers: int = 0) -> dict:
    """Every script of the vcstest tree `scripts` into out/<its path without .txt>/; writes and returns the index."""
    scripts, out = os.path.abspath(scripts), os.path.abspath(out)
    home = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vcweb-home")
    os.makedirs(os.path.join(home, ".config", "git"), exist_ok=True)
    with open(os.path.join(home, ".gitconfig"), "w") as f:
        f.write(GIT_CONFIG)
    open(os.path.join(home, ".config", "git", "ignore"), "w").close()
    names, dirs = [], []
    for root, ds, fs in os.walk(scripts):
        ds.sort()
        rel = os.path.relpath(root, scripts)
        if rel != ".":
            dirs.append(rel)
        names += [os.path.normpath(os.path.join(rel, f))[:-len(".txt")] for f in sorted(fs) if f.endswith(".txt")]

    def one(name):
        work = os.path.join(out, name)
        with open(os.path.join(scripts, name + ".txt"), "rb") as f:
            data = f.read()
        try:
            st = run_script(data, work, home)
        except ScriptError as exc:
            shutil.rmtree(work, ignore_errors=True)
            return name, {"error": str(exc), "code": exc.code}
        # git init's sample hooks: a third of the files, never run (http-backend runs none): less to unpack per case
        for root, ds, _ in os.walk(work):
            if os.path.basename(root) == ".git" and "hooks" in ds:
                shutil.rmtree(os.path.join(root, "hooks"))
        return name, {"handler": st.handler, "dir": os.path.relpath(st.handler_dir, work), "status": st.status}

    with cf.ThreadPoolExecutor(workers or os.cpu_count() or 2) as pool:
        index = {"scripts": dict(sorted(pool.map(one, names))), "dirs": sorted(dirs)}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    return index


def main(argv):
    if len(argv) != 4 or argv[1] != "build":
        sys.exit("usage: vcweb.py build SCRIPTS OUT")
    index = build(argv[2], argv[3])
    failed = {n: s for n, s in index["scripts"].items() if "error" in s}
    served = len(index["scripts"]) - len(failed)
    print(json.dumps({"served": served, "failed": {n: s["error"].splitlines()[0] for n, s in failed.items()}}))


if __name__ == "__main__":
    main(sys.argv)
