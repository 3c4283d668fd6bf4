#!/usr/bin/env python3
"""gotraps' stand-in for testcontainers' Ryuk reaper (image testcontainers/ryuk); NOT the real image.

A Python 3.11 standard-library re-implementation of github.com/testcontainers/moby-ryuk, mirrored
from its reaper.go, config.go and main.go at tag 0.14.0 (HEAD 84f4ff0 differs only in a constant):

- Listens on TCP :RYUK_PORT. A client sends lines, each a filter set in URL query form
  (`label=a=b&label=c`, parsed like Go's url.ParseQuery); each line is recorded (deduplicated by its
  canonical JSON) and answered with `ACK\\n`, also when it fails to parse, as the real one does.
- Prunes when no client connected within RYUK_CONNECTION_TIMEOUT, when the last client disconnected
  and none connected within RYUK_RECONNECTION_TIMEOUT, or on SIGTERM/SIGINT (at once without clients,
  else after RYUK_SHUTDOWN_TIMEOUT unless the clients leave first). The listener is closed then.
- Prune: for every recorded filter set (values ANDed by the engine's `filters`, sets ORed), lists
  containers (all=1), networks, volumes and images. Anything created after the check time plus
  RYUK_RETRY_OFFSET means "changes detected": wait RYUK_CHANGES_RETRY_INTERVAL and check again (until
  the shutdown deadline). Containers labelled org.testcontainers.ryuk=true are never listed for
  removal. Then removes containers (force, with volumes), networks, volumes (force), images (pruning
  children), each kind retried up to RYUK_REMOVE_RETRIES times one second apart while any removal
  fails (a 404 counts as gone), logs the counts and exits: 0, or 1 when something failed.

Logs in the real one's log/slog text format on stdout, plus one `YYYY/MM/DD HH:MM:SS Started!` line
as Ryuk 0.8.x printed, so that waiters for either `.*Started.*` or `.* Started!` are satisfied.
Deliberate differences: see README.md next to this file.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse

MIRRORS = "moby-ryuk@0.14.0"
RYUK_LABEL = "org.testcontainers.ryuk"
ACK = b"ACK\n"
MAX_LINE = 64 * 1024          # bufio.MaxScanTokenSize: a longer line ends the connection
DEFAULT_API_VERSION = "1.41"

# ---------------------------------------------------------------------------------------------
# Go time.Duration: parse and format (durations are kept as integer nanoseconds).

_UNIT_NS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
            "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """time.ParseDuration: "10s", "500ms", "1m30s", "-1s", "1.5h", "0"."""
    orig, s, neg = text, text, False
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if s == "":
        raise ValueError(f"time: invalid duration {json.dumps(orig)}")
    total = 0
    while s:
        m = re.match(r"([0-9]*)(\.([0-9]*))?", s)
        whole, frac = m.group(1), m.group(3) or ""
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {json.dumps(orig)}")
        s = s[m.end():]
        u = re.match(r"[^0-9.]*", s).group(0)
        if not u:
            raise ValueError(f"time: missing unit in duration {json.dumps(orig)}")
        if u not in _UNIT_NS:
            raise ValueError(f"time: unknown unit {json.dumps(u)} in duration {json.dumps(orig)}")
        s = s[len(u):]
        unit = _UNIT_NS[u]
        total += int(whole or "0") * unit
        if frac:
            total += int(frac) * unit // 10 ** len(frac)
    return -total if neg else total


def format_duration(ns: int) -> str:
    """time.Duration.String: 1m0s, 10s, 500ms, -1s, 10m0s."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def frac(v: int, prec: int) -> str:
        whole, rest = divmod(v, 10 ** prec)
        digits = f"{rest:0{prec}d}".rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if u < 1_000_000_000:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{frac(u, 3)}\u00b5s"
        return f"{sign}{frac(u, 6)}ms"
    secs = frac(u % 60_000_000_000, 9) + "s"
    mins, hours = (u // 60_000_000_000) % 60, u // 3_600_000_000_000
    if hours:
        return f"{sign}{hours}h{mins}m{secs}"
    if mins:
        return f"{sign}{mins}m{secs}"
    return f"{sign}{secs}"


class Duration(int):
    def __str__(self) -> str:
        return format_duration(int(self))

    @property
    def seconds(self) -> float:
        return int(self) / 1e9


# ---------------------------------------------------------------------------------------------
# Configuration (config.go): environment variables with the real defaults.

class ConfigError(Exception):
    pass


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class Config:
    # (attribute, variable, Go field name, type, default) in the order of config.go
    FIELDS = [
        ("connection_timeout", "RYUK_CONNECTION_TIMEOUT", "ConnectionTimeout", "duration", "60s"),
        ("reconnection_timeout", "RYUK_RECONNECTION_TIMEOUT", "ReconnectionTimeout", "duration", "10s"),
        ("request_timeout", "RYUK_REQUEST_TIMEOUT", "RequestTimeout", "duration", "10s"),
        ("remove_retries", "RYUK_REMOVE_RETRIES", "RemoveRetries", "int", "10"),
        ("retry_offset", "RYUK_RETRY_OFFSET", "RetryOffset", "duration", "-1s"),
        ("changes_retry_interval", "RYUK_CHANGES_RETRY_INTERVAL", "ChangesRetryInterval", "duration", "1s"),
        ("shutdown_timeout", "RYUK_SHUTDOWN_TIMEOUT", "ShutdownTimeout", "duration", "10m"),
        ("port", "RYUK_PORT", "Port", "uint16", "8080"),
        ("verbose", "RYUK_VERBOSE", "Verbose", "bool", "false"),
    ]
    GO_TYPES = {"duration": "time.Duration", "int": "int", "uint16": "uint16", "bool": "bool"}

    def __init__(self, environ=os.environ):
        for attr, var, field, kind, default in self.FIELDS:
            raw = environ.get(var) or default   # unset or empty: the default (caarlos0/env v11)
            try:
                value = self._parse(kind, raw)
            except ValueError as exc:
                raise ConfigError(f'load config: parse env: env: parse error on field "{field}" of type '
                                  f'"{self.GO_TYPES[kind]}": {exc}') from None
            setattr(self, attr, value)

    @staticmethod
    def _parse(kind: str, raw: str):
        if kind == "duration":
            return Duration(parse_duration(raw))
        if kind == "bool":
            if raw in _GO_TRUE:
                return True
            if raw in _GO_FALSE:
                return False
            raise ValueError(f'strconv.ParseBool: parsing {json.dumps(raw)}: invalid syntax')
        fn = "strconv.ParseUint" if kind == "uint16" else "strconv.ParseInt"
        if not re.fullmatch(r"[0-9]+" if kind == "uint16" else r"[+-]?[0-9]+", raw):
            raise ValueError(f'{fn}: parsing {json.dumps(raw)}: invalid syntax')
        value = int(raw)
        if kind == "uint16" and not 0 <= value <= 0xFFFF:
            raise ValueError(f'{fn}: parsing {json.dumps(raw)}: value out of range')
        return value

    def log_attrs(self) -> dict:
        return {"connection_timeout": self.connection_timeout,
                "reconnection_timeout": self.reconnection_timeout,
                "request_timeout": self.request_timeout,
                "shutdown_timeout": self.shutdown_timeout,
                "remove_retries": self.remove_retries,
                "retry_offset": self.retry_offset,
                "changes_retry_interval": self.changes_retry_interval,
                "port": self.port,
                "verbose": self.verbose}


# ---------------------------------------------------------------------------------------------
# Logging: log/slog's TextHandler on stdout, one flushed write per line.

LEVELS = {"DEBUG": -4, "INFO": 0, "WARN": 4, "ERROR": 8}


def _needs_quoting(s: str) -> bool:
    if s == "":
        return True
    return any(c.isspace() or c in '"=' or not c.isprintable() for c in s)


def _fmt_value(v) -> str:
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, (list, tuple)):
        s = "[" + " ".join(str(x) for x in v) + "]"
    else:
        s = str(v)
    return json.dumps(s, ensure_ascii=False) if _needs_quoting(s) else s


def _now_rfc3339_ms() -> str:
    now = dt.datetime.now().astimezone()
    off = now.utcoffset() or dt.timedelta(0)
    if off == dt.timedelta(0):
        zone = "Z"
    else:
        mins = int(off.total_seconds()) // 60
        zone = f"{'+' if mins >= 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}" + zone


class Logger:
    def __init__(self, level: str = "INFO", bound: dict | None = None, lock=None):
        self.level = level
        self.bound = bound or {}
        self.lock = lock or threading.Lock()

    def with_(self, **attrs) -> "Logger":
        lg = Logger(self.level, {**self.bound, **attrs}, self.lock)
        return lg

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= LEVELS[self.level]

    def log(self, level: str, msg: str, **attrs) -> None:
        if not self.enabled(level):
            return
        parts = [f"time={_now_rfc3339_ms()}", f"level={level}", f"msg={_fmt_value(msg)}"]
        parts += [f"{k}={_fmt_value(v)}" for k, v in {**self.bound, **attrs}.items()]
        self.raw(" ".join(parts))

    def raw(self, line: str) -> None:
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def debug(self, msg, **a): self.log("DEBUG", msg, **a)
    def info(self, msg, **a): self.log("INFO", msg, **a)
    def warn(self, msg, **a): self.log("WARN", msg, **a)
    def error(self, msg, **a): self.log("ERROR", msg, **a)


# ---------------------------------------------------------------------------------------------
# Go's url.ParseQuery and filters.Args.

class QueryError(ValueError):
    pass


def _is_hex(b: int) -> bool:
    return chr(b) in "0123456789abcdefABCDEF"


def _query_unescape(s: str) -> str:
    b = s.encode("utf-8", "surrogateescape")
    out, i = bytearray(), 0
    while i < len(b):
        c = b[i]
        if c == 0x25:  # %
            if i + 2 >= len(b) or not _is_hex(b[i + 1]) or not _is_hex(b[i + 2]):
                frag = b[i:i + 3].decode("utf-8", "replace")
                raise QueryError(f"invalid URL escape {json.dumps(frag)}")
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        elif c == 0x2B:  # +
            out.append(0x20)
            i += 1
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def parse_query(query: str) -> tuple[dict[str, list[str]], Exception | None]:
    """url.ParseQuery: pairs split on '&' (a ';' is an error), key and value unescaped; keeps going
    after an error and returns the first one."""
    values: dict[str, list[str]] = {}
    err = None
    while query:
        key, _, query = query.partition("&")
        if ";" in key:
            err = err or QueryError("invalid semicolon separator in query")
            continue
        if key == "":
            continue
        key, _, value = key.partition("=")
        try:
            key, value = _query_unescape(key), _query_unescape(value)
        except QueryError as exc:
            err = err or exc
            continue
        values.setdefault(key, []).append(value)
    return values, err


def filters_json(args: dict[str, set[str]]) -> str:
    """filters.Args.MarshalJSON: {"label":{"a=b":true}}, keys sorted (so it is a canonical key)."""
    if not args:
        return "{}"
    return json.dumps({k: {v: True for v in sorted(vs)} for k, vs in sorted(args.items())},
                      separators=(",", ":"), sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Docker Engine API over the unix socket (or DOCKER_HOST tcp://, plain HTTP).

class DockerError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"Error response from daemon: {message}" if status else message)
        self.status = status


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Docker:
    def __init__(self, host: str | None, api_version: str | None, timeout_s: float):
        host = host or "unix:///var/run/docker.sock"
        self.host = host
        self.version = (api_version or DEFAULT_API_VERSION).lstrip("v")
        self.timeout_s = timeout_s
        if host.startswith("unix://"):
            self._connect = lambda: _UnixHTTPConnection(host[len("unix://"):], self.timeout_s)
        elif host.startswith("tcp://") or host.startswith("http://"):
            netloc = urllib.parse.urlsplit(host).netloc
            self._connect = lambda: http.client.HTTPConnection(netloc, timeout=self.timeout_s)
        else:
            raise ValueError(f"unsupported DOCKER_HOST {host!r} (unix:// or tcp:// only)")

    def request(self, method: str, path: str, query: dict | None = None, versioned: bool = True):
        url = (f"/v{self.version}" if versioned else "") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        conn = self._connect()
        try:
            conn.request(method, url, headers={"User-Agent": "gotraps-ryuk-standin"})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status >= 400:
            try:
                message = json.loads(body).get("message") or body.decode(errors="replace")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace").strip()
            raise DockerError(resp.status, message)
        ctype = resp.getheader("Content-Type", "")
        if body and "json" in ctype:
            return json.loads(body)
        return body.decode(errors="replace")

    def ping(self):
        return self.request("GET", "/_ping", versioned=False)

    @staticmethod
    def _filters(args: dict[str, set[str]]) -> dict:
        return {"filters": filters_json(args)} if args else {}

    def containers(self, args):
        return self.request("GET", "/containers/json", {"all": "1", **self._filters(args)}) or []

    def networks(self, args):
        return self.request("GET", "/networks", self._filters(args)) or []

    def volumes(self, args):
        report = self.request("GET", "/volumes", self._filters(args)) or {}
        return report.get("Volumes") or []

    def images(self, args):
        return self.request("GET", "/images/json", self._filters(args)) or []

    def remove_container(self, cid):
        self.request("DELETE", f"/containers/{cid}", {"v": "1", "force": "1"})

    def remove_network(self, nid):
        self.request("DELETE", f"/networks/{nid}")

    def remove_volume(self, name):
        self.request("DELETE", f"/volumes/{urllib.parse.quote(name, safe='')}", {"force": "1"})

    def remove_image(self, iid):
        self.request("DELETE", f"/images/{iid}")   # no noprune: children pruned, as PruneChildren


def parse_rfc3339(s: str) -> float:
    """RFC 3339 (with any number of fraction digits, as Go's RFC3339Nano) to a Unix timestamp."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", s)
    if not m:
        raise ValueError(f"parsing time {json.dumps(s)} as RFC3339: cannot parse")
    zone = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
    base = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{zone}").timestamp()
    frac = m.group(3) or ""
    return base + (int(frac) / 10 ** len(frac) if frac else 0.0)


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t).astimezone().isoformat()


# ---------------------------------------------------------------------------------------------
# The reaper (reaper.go).

class ChangesDetected(Exception):
    def __init__(self, what: str):
        super().__init__(f"{what}: changes detected")


class Resources:
    def __init__(self):
        self.containers: list[str] = []
        self.networks: list[str] = []
        self.volumes: list[str] = []
        self.images: list[str] = []


def _join(errors) -> str:
    return "\n".join(str(e) for e in errors)


class Reaper:
    def __init__(self, cfg: Config, logger: Logger, docker: Docker, listener: socket.socket, address: str):
        self.cfg, self.logger, self.docker = cfg, logger, docker
        self.listener, self.address = listener, address
        self.events: queue.SimpleQueue = queue.SimpleQueue()   # put() is safe from a signal handler
        self.shutdown = threading.Event()
        self.filters: dict[str, dict[str, set[str]]] = {}
        self.mtx = threading.Lock()
        self.accept_thread: threading.Thread | None = None

    # -- clients ------------------------------------------------------------------------------

    def process_clients(self) -> None:
        self.logger.info("client processing started")
        try:
            while True:
                try:
                    conn, raddr = self.listener.accept()
                except OSError as exc:
                    if self.shutdown.is_set():
                        return
                    self.logger.error("accept", error=exc)
                    time.sleep(0.01)
                    continue
                addr = _addr(raddr)
                # As the real one's unbuffered channel: the connection is registered (counted) before
                # its handler runs, so its disconnect is always counted after; after shutdown it is
                # closed without an ACK, so that the client retries against a new reaper.
                registered = threading.Event()
                self.events.put(("connected", addr, registered))
                while not registered.wait(0.05):
                    if self.shutdown.is_set():
                        break
                if not registered.is_set():
                    self.logger.warn("shutdown, aborting client", address=addr)
                    conn.close()
                    return
                threading.Thread(target=self.handle, args=(conn, addr), daemon=True,
                                 name=f"client {addr}").start()
        finally:
            self.logger.info("client processing stopped")

    def handle(self, conn: socket.socket, addr: str) -> None:
        logger = self.logger.with_(address=addr)
        try:
            buf = b""
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError as exc:
                    logger.error("scan", error=exc)
                    return
                if not chunk:
                    if buf:
                        self._line(conn, logger, buf)
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._line(conn, logger, line)
                if len(buf) >= MAX_LINE:
                    logger.error("scan", error="bufio.Scanner: token too long")
                    return
        finally:
            try:
                conn.close()
            finally:
                self.events.put(("disconnected", addr))

    def _line(self, conn: socket.socket, logger: Logger, line: bytes) -> None:
        if line.endswith(b"\r"):          # bufio.ScanLines drops a trailing \r
            line = line[:-1]
        msg = line.decode("utf-8", "surrogateescape")
        if msg == "":
            logger.warn("empty filter received")
            return
        try:
            self.add_filter(msg, logger)
        except Exception as exc:  # noqa: BLE001 - logged and acknowledged, as the real one does
            logger.error("add filter", error=exc)
        try:
            conn.sendall(ACK)
        except OSError as exc:
            logger.error("ack write", error=exc)

    def add_filter(self, msg: str, logger: Logger) -> None:
        query, err = parse_query(msg)
        if err is not None:
            raise QueryError(f"parse query: {err}")
        if not query:
            # Not in the real Ryuk, which would record "{}" and then remove every resource of the
            # engine: refused here, the engine is shared with other work.
            raise QueryError(f"empty filter set {json.dumps(msg)} refused: it would match every resource")
        args: dict[str, set[str]] = {}
        for ftype, values in query.items():
            logger.info("adding filter", type=ftype, values=values)
            args.setdefault(ftype, set()).update(values)
        key = filters_json(args)
        with self.mtx:
            if key in self.filters:
                logger.debug("filter already exists", key=key)
                return
            logger.debug("adding filter", key=key)
            self.filters[key] = args

    def filter_args(self) -> list[dict[str, set[str]]]:
        with self.mtx:
            return list(self.filters.values())

    def on_signal(self, signum, _frame) -> None:
        self.events.put(("signal", signal.Signals(signum).name))

    # -- prune condition ----------------------------------------------------------------------

    def shutdown_listener(self) -> None:
        if self.shutdown.is_set():
            return
        self.shutdown.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()

    def prune_wait(self) -> tuple[Resources, list[Exception]]:
        try:
            return self._prune_wait()
        finally:
            self.shutdown_listener()

    def _prune_wait(self) -> tuple[Resources, list[Exception]]:
        cfg = self.cfg
        clients = 0
        check_at: float | None = time.monotonic() + cfg.connection_timeout.seconds   # the pruneCheck ticker
        signalled = False
        shutdown_deadline: float | None = None
        while True:
            timeout = None if check_at is None else max(0.0, check_at - time.monotonic())
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                event = ("check",)
            kind = event[0]
            if kind == "connected":
                clients += 1
                event[2].set()
                self.logger.info("client connected", address=event[1], clients=clients)
                if clients == 1:
                    check_at = None
            elif kind == "disconnected":
                clients -= 1
                self.logger.info("client disconnected", address=event[1], clients=clients)
                if clients == 0:
                    # Overrides any timeout set by a shutdown signal.
                    check_at = time.monotonic() + cfg.reconnection_timeout.seconds
            elif kind == "signal":
                if signalled:
                    continue      # signal.NotifyContext: later signals are swallowed
                signalled = True
                self.logger.info("signal received", signal=event[1], clients=clients,
                                 shutdown_timeout=cfg.shutdown_timeout)
                self.shutdown_listener()
                shutdown_deadline = time.time() + cfg.shutdown_timeout.seconds
                wait = cfg.shutdown_timeout.seconds if clients else 0.0
                check_at = time.monotonic() + wait
            else:
                now = time.time()
                self.logger.log("WARN" if clients > 0 else "INFO", "prune check", clients=clients)
                resources, errors = self.resources(now + cfg.retry_offset.seconds)
                if errors:
                    if any(isinstance(e, ChangesDetected) for e in errors):
                        if shutdown_deadline is None or now < shutdown_deadline:
                            self.logger.warn("change detected, waiting again", error=_join(errors))
                            check_at = time.monotonic() + cfg.changes_retry_interval.seconds
                            continue
                        self.logger.warn("shutdown timeout reached, forcing prune", error=_join(errors))
                    return resources, [RuntimeError(f"resources: {_join(errors)}")]
                return resources, []

    # -- what to remove -----------------------------------------------------------------------

    def resources(self, since: float) -> tuple[Resources, list[Exception]]:
        ret, errors = Resources(), []
        for args in self.filter_args():
            for kind, lister in (("containers", self._containers), ("networks", self._networks),
                                 ("volumes", self._volumes), ("images", self._images)):
                found, errs = lister(since, args)
                for e in errs:
                    if not isinstance(e, ChangesDetected):
                        self.logger.error(f"affected {kind}", error=e)
                errors += errs
                getattr(ret, kind).extend(found)
        return ret, errors

    def _list(self, what, call, args):
        self.logger.debug(f"listing {what}", filter=filters_json(args))
        try:
            return call(args), None
        except (OSError, DockerError, ValueError, http.client.HTTPException) as exc:
            return None, RuntimeError(f"{what[:-1]} list: {exc}")

    def _containers(self, since, args):
        items, err = self._list("containers", self.docker.containers, args)
        if err:
            return [], [err]
        ids, errs = [], []
        for c in items:
            labels = c.get("Labels") or {}
            if labels.get(RYUK_LABEL) == "true":
                self.logger.debug("skipping reaper container", id=c["Id"])
                continue
            created = float(c.get("Created") or 0)
            changed = created > since
            self.logger.debug("found container", id=c["Id"], image=c.get("Image", ""),
                              names=c.get("Names") or [], state=c.get("State", ""), labels=labels,
                              created=_ts(created), changed=changed, since=_ts(since))
            if changed:
                errs.append(ChangesDetected(f"container {c['Id']}"))
                continue
            ids.append(c["Id"])
        return ids, errs

    def _networks(self, since, args):
        items, err = self._list("networks", self.docker.networks, args)
        if err:
            return [], [err]
        ids, errs = [], []
        for n in items:
            try:
                created = parse_rfc3339(n.get("Created", ""))
            except ValueError as exc:   # the Go client fails the whole list on a bad time
                return [], [RuntimeError(f"network list: {exc}")]
            changed = created > since
            self.logger.debug("found network", id=n["Id"], name=n.get("Name", ""), created=_ts(created),
                              changed=changed, since=_ts(since))
            if changed:
                errs.append(ChangesDetected(f"network {n['Id']}"))
                continue
            ids.append(n["Id"])
        return ids, errs

    def _volumes(self, since, args):
        items, err = self._list("volumes", self.docker.volumes, args)
        if err:
            return [], [err]
        names, errs = [], []
        for v in items:
            try:
                created = parse_rfc3339(v.get("CreatedAt", ""))
            except ValueError as exc:
                self.logger.error("parse volume created", error=exc, volume=v.get("Name", ""))
                continue
            changed = created > since
            self.logger.debug("found volume", name=v["Name"], created=_ts(created), changed=changed,
                              since=_ts(since))
            if changed:
                errs.append(ChangesDetected(f"volume {v['Name']}"))
                continue
            names.append(v["Name"])
        return names, errs

    def _images(self, since, args):
        items, err = self._list("images", self.docker.images, args)
        if err:
            return [], [err]
        ids, errs = [], []
        for i in items:
            created = float(i.get("Created") or 0)
            changed = created > since
            self.logger.debug("found image", id=i["Id"], tags=i.get("RepoTags") or [],
                              created=_ts(created), changed=changed, since=_ts(since))
            if changed:
                errs.append(ChangesDetected(f"image {i['Id']}"))
                continue
            ids.append(i["Id"])
        return ids, errs

    # -- removal ------------------------------------------------------------------------------

    def prune(self, res: Resources) -> list[Exception]:
        counts, errors = {}, []
        for kind, ids, fn in (("container", res.containers, self.docker.remove_container),
                              ("network", res.networks, self.docker.remove_network),
                              ("volume", res.volumes, self.docker.remove_volume),
                              ("image", res.images, self.docker.remove_image)):
            counts[kind], err = self.remove(kind, ids, fn)
            if err:
                errors.append(err)
        self.logger.info("removed", containers=counts["container"], networks=counts["network"],
                         volumes=counts["volume"], images=counts["image"])
        return errors

    def remove(self, kind: str, ids: list[str], fn) -> tuple[int, Exception | None]:
        logger = self.logger.with_(resource=kind)
        logger.debug("removing", count=len(ids))
        if not ids:
            return 0, None
        todo = dict.fromkeys(ids)          # deduplicated: filter sets may match the same resource
        count = 0
        for attempt in range(1, self.cfg.remove_retries + 1):
            retry = False
            for rid in list(todo):
                item = logger.with_(id=rid, attempt=attempt)
                item.debug("remove")
                try:
                    fn(rid)
                except DockerError as exc:
                    if exc.status == 404:
                        item.debug("not found")     # already gone (kept in the list, as reaper.go)
                        continue
                    item.error("remove", error=exc)
                    retry = True
                    continue
                except (OSError, http.client.HTTPException) as exc:
                    item.error("remove", error=exc)
                    retry = True
                    continue
                del todo[rid]
                count += 1
                item.info("resource removed")       # reaper.go logs this only at debug ("remove")
            if retry:
                if attempt < self.cfg.remove_retries:
                    time.sleep(1)
                continue
            return count, None
        return count, RuntimeError(f"{kind} left {len(todo)} items")

    # -- run ----------------------------------------------------------------------------------

    def run(self) -> list[Exception]:
        self.accept_thread = threading.Thread(target=self.process_clients, daemon=True, name="accept")
        self.accept_thread.start()
        errors = []
        resources, errs = self.prune_wait()
        if errs:
            errors.append(RuntimeError(f"prune wait: {_join(errs)}"))
        self.accept_thread.join(timeout=1.0)
        errs = self.prune(resources)
        if errs:
            errors.append(RuntimeError(f"prune: {_join(errs)}"))
        self.logger.info("done")
        return errors


def _addr(sockaddr) -> str:
    host, port = sockaddr[0], sockaddr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(port: int) -> socket.socket:
    """":port" as Go listens: dual-stack when the kernel allows, else IPv4."""
    if socket.has_dualstack_ipv6():
        try:
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True,
                                        backlog=128)
        except OSError:
            pass
    return socket.create_server(("0.0.0.0", port), family=socket.AF_INET, backlog=128)


def main() -> int:
    bootstrap = Logger("INFO")
    reaper = None
    pending: list[str] = []

    def early_signal(signum, _frame):     # before the reaper exists: remembered, handled once it does
        pending.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, early_signal)
    signal.signal(signal.SIGINT, early_signal)
    try:
        cfg = Config()
        logger = Logger("DEBUG" if cfg.verbose else "INFO", lock=bootstrap.lock)
        try:
            docker = Docker(os.environ.get("DOCKER_HOST"), os.environ.get("DOCKER_API_VERSION"),
                            cfg.request_timeout.seconds)
            docker.ping()
        except (OSError, DockerError, ValueError, http.client.HTTPException) as exc:
            raise RuntimeError(f"ping: {exc}") from None
        logger.info("gotraps stand-in for testcontainers/ryuk, not the real image", mirrors=MIRRORS,
                    docker_host=docker.host, api_version=docker.version)
        logger.info("starting", **cfg.log_attrs())
        try:
            listener = _listen(cfg.port)
        except OSError as exc:
            raise RuntimeError(f"listen: {exc}") from None
        host, port = listener.getsockname()[:2]
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # reaper.go: "This log message, in uppercase, is in use in different Testcontainers libraries".
        logger.info("Started", address=address)
        # Ryuk 0.8.x printed log.Println("Started!"); testcontainers-python waits for r".* Started!".
        logger.raw(time.strftime("%Y/%m/%d %H:%M:%S") + " Started!")
        reaper = Reaper(cfg, logger, docker, listener, address)
    except (ConfigError, RuntimeError) as exc:
        bootstrap.error("run", error=f"new reaper: {exc}")
        return 1

    signal.signal(signal.SIGTERM, reaper.on_signal)
    signal.signal(signal.SIGINT, reaper.on_signal)
    for name in pending:
        reaper.events.put(("signal", name))
    errors = reaper.run()
    if errors:
        reaper.logger.error("run", error=f"run: {_join(errors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
