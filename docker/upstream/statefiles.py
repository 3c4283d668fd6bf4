"""The state directory's files a server re-reads (see httpfault.py): faults.json with its rules' "times"
counters (FaultRules), any JSON file reloaded on change (JSONFile), and the request log (RequestLog)."""

import json
import os
import sys
import threading
import time

from upstreamlib import faults


def _file_sig(path):
    """Identity of a file's current content, or None if missing. ctime and
    inode are included because tar extraction (docker put_archive) sets
    mtime from the archive, so two writes can share an mtime and size."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino)


class FaultRules:
    """state/faults.json (a JSONFile: reloaded on change) and the rules' "times"
    counters, keyed by Rule.key so that a reload keeps them. Thread-safe."""

    def __init__(self, path, log=None):
        self.file = JSONFile(path, faults.validate_rules, [], log or (lambda msg: None))
        self.lock = threading.Lock()
        self.used = {}  # Rule.key -> matches so far

    def match(self, method, target):
        """Return (rule or None, error or None), counting the use."""
        with self.lock:
            rules, err = self.file.get()
            if self.file.changed:
                self.file.changed = False
                self.used = {r.key: self.used.get(r.key, 0) for r in rules}
            if err:
                return None, err
            for rule in rules:
                if rule.method and rule.method != method.upper():
                    continue
                if rule.times is not None and self.used[rule.key] >= rule.times:
                    continue
                if not rule.path_re.search(target):
                    continue
                self.used[rule.key] += 1
                return rule, None
        return None, None


class JSONFile:
    """A JSON state file reloaded on change, with faults.json's rules: a
    file that is not valid JSON (half written) is ignored and the previous
    value stays (and is logged once); valid JSON that parse(data) rejects
    (ValueError) gives (default, reason) until the file changes again; a
    missing file gives (default, None). get() -> (value, error). Thread-safe.
    `changed` is set on each reload that changed the value in force (the
    caller clears it)."""

    def __init__(self, path, parse, default, log):
        self.path = path
        self.parse = parse
        self.default = default
        self.log = log
        self.lock = threading.Lock()
        self.sig = None
        self.value = default
        self.error = None
        self.bad_sig = None
        self.changed = False  # set on each successful reload, cleared by the caller

    def get(self):
        with self.lock:
            sig = _file_sig(self.path)
            if sig != self.sig:
                self._reload(sig)
            return self.value, self.error

    def _reload(self, sig):
        name = os.path.basename(self.path)
        if sig is None:
            self.sig, self.value, self.error, self.changed = None, self.default, None, True
            return
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            self.sig, self.value, self.error, self.changed = None, self.default, None, True
            return
        except (ValueError, OSError) as e:
            if sig != self.bad_sig:
                self.bad_sig = sig
                self.log("%s not readable yet, keeping the previous content: %s" % (name, e))
            return
        try:
            value = self.parse(data)
        except ValueError as e:
            self.sig, self.value, self.error = sig, self.default, "%s: %s" % (name, e)
            self.log("%s rejected: %s" % (name, e))
            return
        self.sig, self.value, self.error, self.changed = sig, value, None, True


class RequestLog:
    """Appends JSON lines to state/requests.jsonl (opened per write so a test
    may truncate or delete the file at any time)."""

    def __init__(self, path, server_name):
        self.path = path
        self.server_name = server_name
        self.lock = threading.Lock()
        self.next_id = 1

    def _write(self, obj):
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
        except OSError as e:
            print("httpfault: cannot write %s: %s" % (self.path, e), file=sys.stderr, flush=True)

    def arrival(self, handler, fault, rule_id, body_bytes):
        headers = {}
        for k, v in handler.headers.items():
            headers[k] = headers[k] + ", " + v if k in headers else v
        return self._arrive(handler.client_address, method=handler.command, path=handler.path,
                            host=handler.headers.get("Host"), headers=headers, tls=handler.is_tls,
                            body_bytes=body_bytes, fault=fault, rule=rule_id)

    def connection(self, client_address, tls, fault):
        """Arrival line for a connection that never got to send a request
        (TLS "hang-handshake" mode, or a failed handshake). Same keys as arrival()."""
        return self._arrive(client_address, method="", path="", host=None, headers={}, tls=tls,
                            body_bytes=0, fault=fault, rule=None)

    def _arrive(self, client_address, **fields):
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self._write({"id": rid, "t": time.time(), "server": self.server_name,
                         "client": "%s:%s" % client_address[:2], **fields})
        return rid

    def end(self, rid, status, nbytes):
        with self.lock:
            self._write({"id": rid, "end": True, "t": time.time(), "status": status, "bytes": nbytes})
