"""CI caches and the module cache on disk (issue 23): a module cache saved and restored by tar, the way
actions/cache does it, and what the next go command finds.

go writes its module cache read-only on purpose (cmd/go/internal/modfetch/fetch.go: each extracted
directory made 0555 unless -modcacherw). GNU tar, restoring over a tree that already holds a file, removes
the file first and then opens it anew; in a read-only directory a user other than root cannot remove it, and
tar says `Cannot open: File exists` for every such file (actions/setup-go#424, #403, #722,
golangci/golangci-lint#3595). The tar command lines are actions/cache's own on Linux (actions/toolkit,
packages/cache/src/internal/tar.ts, with zstd on the runner: `zstdmt` to save, `unzstd` to restore, the
paths relative to GITHUB_WORKSPACE, `-P`). actions/cache turns a failed restore into a warning and the job
goes on: the next go command runs over whatever the restore left.

Each job runs on a "runner disk", a tmpfs of the client's own at /cache open to every user (mode 1777),
as gopher (uid 1000, like the runner user of a hosted runner; root ignores directory permissions):
/cache/<job>/ws is its workspace, /cache/<job>/go its GOPATH (GOMODCACHE /cache/<job>/go/pkg/mod, the
directory setup-go caches). A restore into another job's workspace lands in that job's cache.

Beyond the collisions: a cache owned by another user (a BuildKit cache mount filled as root), a disk that fills
up during go's extraction and during tar's, and an archive that is not one or is cut short. Every go failure is
recorded (fixtures/record/errors.py) with the same command once the fault is repaired where a repair exists (room
on the disk, `chown -R`); a restore's damage stays in the cache, so those carry no retry. Go 1.21.13, 1.24.11 and
1.27.3 behave alike in all of it.
"""
from __future__ import annotations

import hashlib
import re

from fixtures.record import errors
from fixtures.runtime import goindex, toolchains
from fixtures.runtime.toolchain_module import renamed_release, toolchain_module
from fixtures.world import modules
from upstreamlib import gomod

PROXY, DB = "proxy.corp.test", "sum.corp.test"
LIB, UTIL = "example.com/lib@v1.0.0", "example.com/util@v1.0.0"
RUNNER = "/cache"              # the runner's disk
RUNNER_TMPFS = {RUNNER: "rw,exec,nosuid,nodev,size=1g,mode=1777"}
USER = "gopher"
ARCHIVES = f"{RUNNER}/archives"      # where actions/cache keeps an archive between its save and restore
# actions/cache's commands (GNU tar with zstd, Linux): create runs in the archive's folder.
SAVE = ("tar --posix -cf cache.tzst --exclude cache.tzst -P -C {ws} --files-from manifest.txt "
        "--use-compress-program zstdmt")
# tar says what it could not write in the archive's order, which is the order a filesystem listed the saved tree in
# (a tmpfs: newest first): its lines sorted, so that the first is the same in every run ("Exiting ..." stays last).
RESTORE = ('e=$(mktemp); tar -xf {archive} -P -C {ws} --use-compress-program unzstd 2>"$e"; rc=$?; '
           'sort "$e" >&2; rm -f "$e"; exit $rc')
TAR_S = 20          # a tar of a few modules, or of a Go toolchain (12,000 files on a tmpfs), takes 2 s at most
GO_S = 15           # a go command against the fake proxy
# ... that switches toolchains: an 83 MB zip verified and extracted (12,000 files), 3 s on an idle machine and CPU
# bound, so a bound far from anything the case is about (a starved command is an infrastructure error, not Go's)
SWITCH_S = 45
# A command that compiles, as root with the image's build cache (its standard library compiled once, 5 s saved:
# gopher cannot read /root); it only reads the job's module cache.
WARM = {"user": "root", "GOCACHE": "/root/.cache/go-build"}
CANNOT_OPEN = re.compile(r"^tar: (?:\.\./)*go/pkg/mod/([^/]+/[^/@]+(?:/[^/@]+)*@[^/]+)/.*: Cannot open: (.*)$")


class Job:
    """One CI job: its workspace and GOPATH under /cache/<name>/ (a fresh runner when the name is new)."""

    def __init__(self, go, name: str, disk: str = RUNNER, **env: str):
        self.go, self.name = go, name
        self.root = f"{disk}/{name}"
        self.ws, self.cache = f"{self.root}/ws", f"{self.root}/go/pkg/mod"
        self.env = {"GOPATH": f"{self.root}/go", "GOCACHE": f"{self.root}/go-build", "HOME": f"/home/{USER}",
                    **env}
        go.sh(f"mkdir -p {self.ws}", record=False)

    def go_(self, *args: str, cwd: str | None = None, timeout: float = GO_S, user: str | None = None, **env):
        return self.go.run(*args, env={**self.env, **env}, cwd=cwd or self.ws, timeout=timeout, user=user)

    def save(self, key: str, paths: tuple[str, ...] = ("../go/pkg/mod",)):
        """actions/cache's save of these paths (relative to the workspace); the archive's path and the observation."""
        folder = f"{ARCHIVES}/{key}"
        manifest = "\\n".join(paths)
        obs = self.go.sh(f"mkdir -p {folder} && cd {folder} && printf '{manifest}\\n' >manifest.txt && "
                         + SAVE.format(ws=self.ws), timeout=TAR_S)
        return f"{folder}/cache.tzst", obs

    def restore(self, archive: str, user: str | None = None):
        return self.go.sh(RESTORE.format(archive=archive, ws=self.ws), timeout=TAR_S, user=user)

    def find(self, *args: str) -> list[str]:
        """`find` in the job's module cache, paths relative to it, sorted."""
        out = self.go.sh(f"cd {self.cache} 2>/dev/null && find . {' '.join(args)} | sort", record=False).stdout
        return [p[2:] for p in out.split() if p != "."]


def tar_says(obs) -> str | None:
    """The first of tar's lines (or unzstd's), sorted (RESTORE): what a CI log shows near its top."""
    return next((l for l in obs.stderr.splitlines() if l.strip()), None)


def collisions(obs) -> dict[str, int]:
    """Module directory -> how many of its files tar could not open (and why, when not File exists)."""
    out: dict[str, int] = {}
    for line in obs.stderr.splitlines():
        m = CANNOT_OPEN.match(line)
        if m:
            key = m.group(1) + ("" if m.group(2) == "File exists" else f" ({m.group(2)})")
            out[key] = out.get(key, 0) + 1
    return out


def file_count(mod: str) -> int:
    """How many files the module's zip holds (its fixture's)."""
    return len(modules.module(*mod.split("@")).files)


def record_versions(topo, go) -> None:
    """tar's and zstd's versions, as each prints it, among the run's components."""
    components = topo.session.components
    for program, argv in (("tar", "tar --version | head -1"), ("zstd", "zstd --version")):
        if program not in components:
            components[program] = go.sh(argv, record=False).stdout.strip()


def client(topo, **env):
    topo.upstream(PROXY)
    go = topo.go(user=USER, tmpfs=RUNNER_TMPFS, GOPROXY=f"http://{PROXY}", **env)
    record_versions(topo, go)
    return go


# --- a cache restored over a cache ------------------------------------------------------------------------------

def test_restore_over_a_cache(topo, case):
    """setup-go and golangci-lint-action both cache ~/go/pkg/mod (golangci/golangci-lint#3595): the second restore
    lands on the first. Then `go clean -modcache` on a restored cache; the same two restores of a cache saved with
    GOFLAGS=-modcacherw; and the second restore as root."""
    go = client(topo)
    first = Job(go, "first")
    fetched = first.go_("mod", "download", LIB, UTIL)
    archive, saved = first.save("modules")
    job = Job(go, "next")
    restored = job.restore(archive)
    again = job.restore(archive)
    next_go = job.go_("mod", "download", "-json", LIB, UTIL)
    clean = job.go_("clean", "-modcache")
    clean_left = job.find()

    rw_first = Job(go, "rw-first", GOFLAGS="-mod=mod -modcacherw")
    rw_fetched = rw_first.go_("mod", "download", LIB, UTIL)
    rw_archive, _ = rw_first.save("modules-rw")
    rw = Job(go, "rw-next")
    rw.restore(rw_archive)
    rw_again = rw.restore(rw_archive)
    rw_next_go = rw.go_("mod", "download", "-json", LIB, UTIL)

    as_root = Job(go, "root")
    as_root.restore(archive)
    root_again = as_root.restore(archive, user="root")
    case.fact(restore_exit_code=restored.exit_code, restore_again_exit_code=again.exit_code,
              tar_says=tar_says(again), tar_last_line=again.stderr_tail(1), collisions=collisions(again),
              next_go_ok=next_go.ok, next_go_error_line=next_go.error_line or None,
              clean_modcache_ok=clean.ok, clean_modcache_error_line=clean.error_line or None, clean_left=clean_left,
              modcacherw_restore_again_exit_code=rw_again.exit_code, modcacherw_tar_says=tar_says(rw_again),
              modcacherw_next_go_ok=rw_next_go.ok,
              root_restore_again_exit_code=root_again.exit_code, root_tar_says=tar_says(root_again))
    for obs in (next_go, clean, rw_next_go):
        if not obs.ok:
            # no fault to take away: the restore's damage (if any) stays, so there is nothing to retry
            errors.record(case, "module cache restored twice", obs)

    assert fetched.ok and saved.ok and rw_fetched.ok, (fetched.errors, saved.stderr, rw_fetched.errors)
    case.expect("the first restore succeeds", restored.exit_code, 0, detail=restored.stderr)
    case.expect("the second restore fails, as gopher", again.exit_code, 2, detail=again.stderr)
    case.expect("tar could not open each file of each module", collisions(again),
                {m: file_count(m) for m in (LIB, UTIL)}, detail=again.stderr)
    case.expect("the next go command is fine", next_go.ok, detail=next_go.errors)
    case.expect("go clean -modcache removes a restored cache", (clean.ok, clean_left), (True, []), detail=clean.errors)
    case.expect("saved with -modcacherw, the second restore succeeds", rw_again.exit_code, 0, detail=rw_again.stderr)
    case.expect("as root, the second restore succeeds", root_again.exit_code, 0, detail=root_again.stderr)


# --- a toolchain module in the cache -----------------------------------------------------------------------------

def test_restore_after_a_toolchain_switch(topo, case):
    """actions/setup-go#424: setup-go asks `go env GOMODCACHE` in the repository before it restores; a go.mod asking
    for a newer Go (GOTOOLCHAIN=auto) makes that command fetch golang.org/toolchain into the cache first, and the
    restore of a cache that holds the same toolchain lands on it. With GOFLAGS=-modcacherw, the usual advice: does
    it reach the toolchain the switch extracts? The toolchain served is
    test_environment.py::test_gotoolchain_auto_switch's: the default release when it is newer, else the case's own
    relinked as go1.N.99. One toolchain download only (5 s): the cache saved is the one this job made, restored
    into the same job's workspace (the next job's runner, where the switch ran first, holds the same tree)."""
    real = goindex.version_key(toolchains.DEFAULT_GO) > goindex.version_key(topo.release)
    new = toolchains.DEFAULT_GO if real else renamed_release(topo.release)
    module = toolchain_module(toolchains.ensure(toolchains.DEFAULT_GO if real else topo.release),
                              as_release=None if real else new)
    toolchain = f"{module.path}@{module.version}"
    proxy = topo.upstream(PROXY)
    db = topo.sumdb(DB)
    go = topo.go(user=USER, tmpfs=RUNNER_TMPFS, GOPROXY=f"http://{PROXY}", GOSUMDB=db.gosumdb())
    record_versions(topo, go)
    proxy.publish_prebuilt(module)
    db.publish_prebuilt(module)
    job = Job(go, "job", GOTOOLCHAIN="auto", GOFLAGS="-mod=mod -modcacherw")
    go.write({"go.mod": f"module example.com/app\n\ngo {new}\n"}, base=job.ws)
    switched = job.go_("env", "GOMODCACHE", timeout=SWITCH_S)     # setup-go's question
    lib = job.go_("mod", "download", LIB, cwd="/tmp", GOTOOLCHAIN="local")
    writable = job.find("-maxdepth", "2", "-type", "d", "-perm", "-u+w", "-name", "'*@v*'")
    archive, saved = job.save("toolchain")
    restored = job.restore(archive)
    version = job.go_("version")                                # the switched toolchain, as restored
    lib_again = job.go_("mod", "download", "-json", LIB, cwd="/tmp", GOTOOLCHAIN="local")
    case.fact(toolchain=toolchain, switch_ok=switched.ok, writable_module_dirs=writable,
              restore_exit_code=restored.exit_code, tar_says=tar_says(restored), collisions=collisions(restored),
              next_go_version=version.stdout.strip() or None, next_go_error_line=version.error_line or None,
              next_go_lib_ok=lib_again.ok)
    for obs in (version, lib_again):
        if not obs.ok:
            errors.record(case, "toolchain module restored over", obs)   # no fault to take away: nothing to retry

    assert switched.ok and lib.ok and saved.ok, (switched.errors, lib.errors, saved.stderr)
    # -modcacherw reaches the modules a command fetches, not the toolchain the switch fetches before any command
    # parses its flags (cmd/go/internal/toolchain/select.go applies it only for `go install/run m@v`, go.dev/issue/64282)
    case.expect("the module fetched with -modcacherw is writable, the toolchain is not", writable,
                [LIB], detail=str(writable))
    case.expect("the restore fails", restored.exit_code, 2, detail=restored.stderr_tail())
    case.expect("on the toolchain's files only", sorted(collisions(restored)), [toolchain], detail=restored.stderr_tail())
    case.expect("the toolchain still runs", version.stdout.strip().split()[2:3], [f"go{new}"], detail=version.errors)
    case.expect("and the module is fine", lib_again.ok, detail=lib_again.errors)


# --- a cache of another user ----------------------------------------------------------------------------------

def test_cache_of_another_user(topo, case):
    """A BuildKit cache mount (`RUN --mount=type=cache,target=...`) is filled as root, and a later step runs as
    a user; or a runner's cache filled by its user is used by a step as root (a container job). What does go
    say, and does the same command work once the cache is the user's (`chown -R`, or the mount's uid=)?"""
    go = client(topo)
    mount = Job(go, "mount")
    filled = mount.go_("mod", "download", LIB, user="root")
    present = mount.go_("mod", "download", "-json", LIB)
    absent = mount.go_("mod", "download", "-json", UTIL)
    clean = mount.go_("clean", "-modcache")
    go.sh(f"chown -R {USER}: {mount.root}", user="root", record=False)       # the repair
    absent_again = mount.go_("mod", "download", "-json", UTIL)
    clean_again = mount.go_("clean", "-modcache")

    mine = Job(go, "mine")
    mine.go_("mod", "download", LIB)
    root_adds = mine.go_("mod", "download", "-json", UTIL, user="root")
    root_owned = mine.find("-user", "root", "-type", "d", "-prune")     # the topmost directories root made
    user_clean = mine.go_("clean", "-modcache")
    user_left = mine.find("-maxdepth", "1")
    go.sh(f"chown -R {USER}: {mine.root}", user="root", record=False)
    user_clean_again = mine.go_("clean", "-modcache")
    case.fact(present_ok=present.ok, absent_ok=absent.ok, absent_error_line=absent.error_line or None,
              clean_ok=clean.ok, clean_error_line=clean.error_line or None,
              after_chown_ok=absent_again.ok and clean_again.ok,
              root_adds_ok=root_adds.ok, root_owned_entries=root_owned, user_clean_ok=user_clean.ok,
              user_clean_error_line=user_clean.error_line or None, user_clean_left=user_left,
              user_clean_after_chown_ok=user_clean_again.ok)
    for cause, failed, retried in (("module cache owned by root", absent, absent_again),
                                   ("module cache owned by root", clean, clean_again),
                                   ("module cache written to by root", user_clean, user_clean_again)):
        if not failed.ok:
            errors.record(case, cause, failed, retried)     # retried: the same command once the cache is chowned

    assert filled.ok, filled.errors
    case.expect("a module root fetched is read as gopher", present.ok, detail=present.errors)
    case.expect("a new module cannot be fetched as gopher", absent.ok, False, detail=absent.errors)
    case.expect("go clean -modcache fails as gopher", clean.ok, False, detail=clean.errors)
    case.expect("after chown -R both work", absent_again.ok and clean_again.ok,
                detail=absent_again.errors + clean_again.errors)
    case.expect("root adds to gopher's cache", root_adds.ok, detail=root_adds.errors)
    case.expect("gopher cannot clean what root added", user_clean.ok, False, detail=user_clean.errors)
    case.expect("after chown -R it can", user_clean_again.ok, detail=user_clean_again.errors)


# --- a disk that fills up -------------------------------------------------------------------------------------

SMALL = "/small"         # a small disk: the module's download fits, half of its extracted tree does not
SMALL_TMPFS = {**RUNNER_TMPFS, SMALL: "rw,exec,nosuid,nodev,size=4m,mode=1777"}
BIG_PATH, BIG_VERSION, BIG_FILES = "example.com/big", "v1.0.0", 48
BIG = f"{BIG_PATH}@{BIG_VERSION}"


def big_module() -> dict[str, bytes]:
    """example.com/big v1.0.0: BIG_FILES Go files of 16 KiB each (hex digits that compress to about half), each
    defining F<i>: a module whose extracted tree is several times the size of its go.mod, as real ones are."""
    files = [("go.mod", f"module {BIG_PATH}\n\ngo 1.21\n")]
    for i in range(BIG_FILES):
        body = f"package big\n\nfunc F{i}() int {{ return {i} }}\n\n"
        line, n = "", 0
        while len(body) + 80 < 16384:
            line = hashlib.sha256(f"{i}:{n}".encode()).hexdigest()
            body += f"// {line[:64]}{line[:12]}\n"
            n += 1
        files.append((f"f{i:02}.go", body))
    text = gomod.format_txtar(f"{BIG}: a module of {BIG_FILES} files of 16 KiB (scenarios/test_ci_cache.py).\n",
                              [(".mod", files[0][1]), (".info", f'{{"Version":"{BIG_VERSION}","Time":"2024-01-01T00:00:00Z"}}\n'),
                               *files])
    return {gomod.fixture_name(BIG_PATH, BIG_VERSION): text}


def big_app() -> dict[str, str]:
    """A program that calls every F<i> of example.com/big: a file missing from its tree fails the build."""
    calls = "".join(f"\tn += big.F{i}()\n" for i in range(BIG_FILES))
    return {"go.mod": f"module example.com/app\n\ngo 1.21\n\nrequire {BIG_PATH} {BIG_VERSION}\n",
            "main.go": f"package main\n\nimport \"example.com/big\"\n\nfunc main() {{\n\tn := 0\n{calls}\tprintln(n)\n}}\n"}


def kib(go, path: str) -> int:
    """The KiB a path takes on its tmpfs (whole pages)."""
    return int(go.sh(f"du -sk {path} | cut -f1", record=False).stdout.split()[0])


def fill(go, disk: str, leave_kib: int) -> int:
    """Fill the disk with a file so that leave_kib KiB stay free; the KiB left free as df says."""
    free = int(go.sh(f"df -k --output=avail {disk} | tail -1", record=False).stdout)
    go.sh(f"fallocate -l {max(free - leave_kib, 0)}k {disk}/filler", record=False)
    return int(go.sh(f"df -k --output=avail {disk} | tail -1", record=False).stdout)


def test_cache_fills_up(topo, case):
    """A small disk fills up while go extracts a module (ENOSPC): what go says, what it leaves, what the next
    command does on the full disk, and once space is freed (the natural retry). Then actions/cache restoring the
    same module onto a disk with room for half of it: tar's message, and whether the next go command trusts the
    half-restored tree. The fill is sized from the module's real size, measured on the big disk first."""
    topo.upstream(PROXY, modules={**modules.fixture_files(), **big_module()})
    go = topo.go(user=USER, tmpfs=SMALL_TMPFS, GOPROXY=f"http://{PROXY}")
    record_versions(topo, go)

    measure = Job(go, "measure")
    assert measure.go_("mod", "download", BIG).ok
    download_kib = kib(go, f"{measure.cache}/cache/download")
    tree_kib = kib(go, f"{measure.cache}/{BIG}")
    archive, saved = measure.save("big")

    full = Job(go, "full", disk=SMALL)
    free = fill(go, SMALL, download_kib + tree_kib // 2)
    failed = full.go_("mod", "download", "-json", BIG)
    left = full.find("-name", "'*.partial'", "-o", "-name", "'*.lock'", "-o", "-name", "'*.ziphash'",
                     "-o", "-name", "'*.tmp*'", "-o", "-name", "'*.zip'")
    extracted = len(full.find("-path", f"'./{BIG}/*'", "-type", "f"))
    next_full = full.go_("mod", "download", "-json", BIG)
    go.sh(f"rm -f {SMALL}/filler", record=False)                # the repair: room on the disk
    retried = full.go_("mod", "download", "-json", BIG)
    go.sh(f"chmod -R u+w {full.root} && rm -rf {full.root}", record=False)

    restored_job = Job(go, "restored", disk=SMALL)
    order = go.sh(f"tar -tf {archive} --use-compress-program unzstd | grep -n -e '{BIG}/' -e '\\.ziphash$' "
                  "| head -2", record=False).stdout
    fill(go, SMALL, (download_kib + tree_kib) // 2)
    restored = restored_job.restore(archive)
    restored_files = len(restored_job.find("-path", f"'./{BIG}/*'", "-type", "f"))
    restored_ziphash = bool(restored_job.find("-name", "'*.ziphash'"))
    go.sh(f"rm -f {SMALL}/filler", record=False)
    go.write(big_app(), base=restored_job.ws)
    after_restore = restored_job.go_("mod", "download", "-json", BIG)
    build = restored_job.go_("vet", ".", **WARM)
    verify = restored_job.go_("mod", "verify")
    case.fact(download_kib=download_kib, tree_kib=tree_kib, free_kib=free, failed_error_line=failed.error_line,
              left_behind=left, extracted_files=extracted, of_files=BIG_FILES + 1,
              next_go_ok=next_full.ok, next_go_error_line=next_full.error_line or None,
              after_freeing_ok=retried.ok, archive_order=order.split(),
              restore_exit_code=restored.exit_code, tar_says=tar_says(restored),
              restored_files=restored_files, restored_ziphash=restored_ziphash,
              next_go_after_restore_ok=after_restore.ok, build_after_restore_error_line=build.error_line or None,
              verify_after_restore=verify.stdout.strip() or verify.error_line)
    for obs in (failed, next_full):
        if not obs.ok:
            errors.record(case, "no space left on device", obs, retried)    # retried: once the disk has room
    for obs in (after_restore, build, verify):
        if not obs.ok:
            errors.record(case, "module cache restored onto a full disk", obs)  # the damage stays: no retry
    assert saved.ok
    case.expect("go fails on the full disk", "no space left on device" in failed.error_line, detail=failed.errors)
    case.expect("and removes what it extracted (no .partial)", (extracted, [p for p in left if p.endswith(".partial")]),
                (0, []), detail=str(left))
    case.expect("the next command on the full disk fails again", next_full.ok, False, detail=next_full.errors)
    case.expect("once there is room it succeeds", retried.ok, detail=retried.errors)
    case.expect("tar fails on the full disk", (restored.exit_code, "No space left on device" in (tar_says(restored) or "")),
                (2, True), detail=restored.stderr_tail())
    case.expect("the next go command fails on what tar left", after_restore.ok, False, detail=after_restore.errors)


# --- an archive that is not one ---------------------------------------------------------------------------------

LOGIN_PAGE = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Session expired</body></html>\n"


def test_archive_that_is_not_one(topo, case):
    """A cache archive that is not an archive (a page a cache server answered instead, saved as cache.tzst), and
    one cut in the middle (a download that ended early; of a cache holding example.com/big, so that the cut falls
    inside a module's tree): tar's and unzstd's own messages, shown as observations, and what the next go command
    finds in the cache."""
    topo.upstream(PROXY, modules={**modules.fixture_files(), **big_module()})
    go = topo.go(user=USER, tmpfs=RUNNER_TMPFS, GOPROXY=f"http://{PROXY}")
    record_versions(topo, go)
    first = Job(go, "first")
    assert first.go_("mod", "download", LIB, BIG).ok
    # tar saves a directory's entries in the order the filesystem lists them: this tmpfs lists the newest first
    # (example.com/, made at the first extraction, before cache/, made at the first download); ext4 lists them by
    # a hash of the name. go extracts LIB and BIG concurrently, so which of them is the newest is a race: BIG's
    # tree renamed is the newest, first in example.com/, and the cut falls in it whatever go's order was.
    renamed = go.sh(f"cd {first.cache} && mv {BIG} {BIG}.x && mv {BIG}.x {BIG}", record=False)
    assert renamed.exit_code == 0, renamed.stderr
    archive, saved = first.save("modules")
    # Renamed, cache/ is the newest: a second archive with the other order.
    go.sh(f"cd {first.cache} && mv cache c && mv c cache", record=False)
    other, _ = first.save("modules-cache-first")
    go.sh(f"mkdir -p {ARCHIVES}/page && printf '%s' '{LOGIN_PAGE}' >{ARCHIVES}/page/cache.tzst", record=False)
    # Cut in the middle of big's tree: the zip (which zstd cannot shrink) before it or after it.
    zip_bytes = int(go.sh(f"stat -c %s {first.cache}/cache/download/example.com/big/@v/{BIG_VERSION}.zip",
                          record=False).stdout)
    for kind, whole, before in (("cut", archive, 0), ("cut-cache-first", other, zip_bytes)):
        go.sh(f"mkdir -p {ARCHIVES}/{kind} && head -c $(( {before} + ($(stat -c %s {whole}) - {zip_bytes}) / 2 )) "
              f"{whole} >{ARCHIVES}/{kind}/cache.tzst", record=False)
    seen = {}
    for kind in ("page", "cut", "cut-cache-first"):
        job = Job(go, kind)
        first_entry = go.sh(f"tar -tf {ARCHIVES}/{kind}/cache.tzst --use-compress-program unzstd 2>/dev/null "
                            "| sed -n 2p", record=False).stdout.strip()
        restored = job.restore(f"{ARCHIVES}/{kind}/cache.tzst")
        left = job.find("-type", "f", "!", "-path", f"'./{BIG}/*'")
        big_files = len(job.find("-type", "f", "-path", f"'./{BIG}/*'"))
        go.write(big_app(), base=job.ws)
        next_go = job.go_("mod", "download", "-json", LIB, BIG)
        after = len(job.find("-type", "f", "-path", f"'./{BIG}/*'"))
        build = job.go_("vet", ".", **WARM)      # type-checks main against big's tree as the cache holds it
        seen[kind] = (restored, next_go, build)
        case.fact(**{f"{kind}_restore_exit_code": restored.exit_code, f"{kind}_first_entry": first_entry or None,
                     f"{kind}_tar_says": restored.stderr.strip().splitlines(), f"{kind}_left_behind": left,
                     f"{kind}_big_files": big_files, f"{kind}_big_files_after_next_go": after,
                     f"{kind}_next_go_ok": next_go.ok, f"{kind}_next_go_error_line": next_go.error_line or None,
                     f"{kind}_build_ok": build.ok, f"{kind}_build_error_line": build.error_line or None})
        for obs in (next_go, build):
            if not obs.ok:
                errors.record(case, f"cache archive {kind}", obs)   # what the restore left stays: no retry
    assert saved.ok
    # the facts first (above), then today's behaviour: tar and unzstd fail, and go...
    page = seen["page"]
    case.expect("a page is not an archive", (page[0].exit_code, "unsupported format" in page[0].stderr), (2, True),
                detail=page[0].stderr)
    case.expect("and leaves nothing: go fetches anew", page[1].ok, detail=page[1].errors)
    for kind in ("cut", "cut-cache-first"):
        restored, next_go, build = seen[kind]
        case.expect(f"{kind}: tar stops at the cut", (restored.exit_code, "Unexpected EOF in archive" in restored.stderr),
                    (2, True), detail=restored.stderr)
        # DownloadZip writes the .ziphash; unzip then finds the tree "complete" (DownloadDir: no .partial, a
        # .ziphash) and keeps it as it is (cmd/go/internal/modfetch/fetch.go, cache.go)
        case.expect(f"{kind}: go takes the tree cut short as it is", (next_go.ok, "undefined: big.F" in build.error_line),
                    (True, True), detail=next_go.errors + build.errors)
