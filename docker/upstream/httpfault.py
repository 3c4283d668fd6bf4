"""Threaded HTTP server base for the fake upstreams, with fault injection.

Everything is driven through a state directory (the tests copy files into
the container; there is no control port):

  state/faults.json     JSON list of fault rules, first match wins (below).
                        Re-read whenever the file changes (mtime, size, ctime
                        or inode). A file that is not valid JSON (say, half
                        written) is ignored: the previous rules stay in force
                        and the file is read again on the next request. Valid
                        JSON with a bad rule makes every request fail with 500
                        and the reason, so a typo can't silently disable a
                        fault. A rule's "times" counter survives a re-read
                        while the rule keeps its id and content (adding a
                        rule re-arms no other). Missing file = no faults.
  state/release/NAME    Releases requests held by a {"action": "hold",
                        "name": NAME} rule.
  state/requests.jsonl  Request log, one JSON object per line (below).
  state/tls/cert.pem    With key.pem: also serve HTTPS on the TLS port
  state/tls/key.pem     (checked once, at start).
  state/tls/mode        Optional, read once at start: whitespace- or
                        comma-separated words. "hang-handshake": the TLS
                        listener accepts TCP connections and never starts the
                        handshake (it reads and discards whatever the client
                        sends, e.g. its ClientHello, and keeps the socket open
                        until the client closes it or the server stops). The
                        TLS listener then runs even without cert.pem/key.pem
                        (it never needs them). The plain HTTP listener is
                        unaffected. Unknown words are an error at start.

Fault rules: upstreamlib/faults/__init__.py (the rule's keys, ids, chains
with "then"), one module per action in upstreamlib/faults/ (its keys and
what it does); faults.markdown_table() lists them. An unknown key is an
error.

Request log lines:
  arrival: {"id", "t", "server", "method", "path", "host", "headers",
            "tls", "client", "body_bytes", "fault", "rule"}
  end:     {"id", "end": true, "t", "status", "bytes"}
  "fault" is the action name of the matching rule (a chain's names joined
  with "+", e.g. "delay+truncate"), "invalid-faults" when faults.json is
  unusable, or null; "rule" is the rule's id (its index when it has none)
  or null.
  "status" is null when no response was sent (hang, reset, close, client
  gone before the status line); "bytes" counts body bytes sent. A fault
  that waits (delay, hold, the pause between trickled pieces) gives up as
  soon as the client has closed the connection: nothing it would send
  reaches anyone, and the end line says at once what was sent.
  A connection to a TLS listener in "hang-handshake" mode is logged as an
  arrival with "method": "", "path": "", "host": null, "headers": {},
  "tls": true, "fault": "tls-hang-handshake" when accepted, and an end line
  ("status": null, "bytes": 0) once the client closes it (or the server
  stops).
  The arrival line is written (and flushed) before any fault runs, so a test
  can see a held or hung request has arrived.

Roles subclass Upstream and implement answer(handler, path) -> Response.
A role that cannot start (a required state file is missing...) raises
StartupError from start(); serve.py prints its message and exits with 2.
"""

import http.server
import os
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse

from upstreamlib import faults
from upstreamlib.faults import TEXT_PLAIN
from statefiles import FaultRules, JSONFile, RequestLog, _file_sig  # noqa: F401  (roles import them from here)

TLS_MODES = ("hang-handshake",)  # words accepted in state/tls/mode


class StartupError(Exception):
    """A role cannot start; str() is a message for the operator."""


class Response:
    """What a role answers: status code, headers (dict or list of pairs)
    and body bytes. Content-Length is added by the server if missing."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status=200, headers=None, body=b""):
        self.status = int(status)
        if headers is None:
            headers = []
        elif isinstance(headers, dict):
            headers = list(headers.items())
        self.headers = [(str(k), str(v)) for k, v in headers]
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = bytes(body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "Response(%d, %r, %d bytes)" % (self.status, self.headers, len(self.body))


def text_response(status, text, content_type=TEXT_PLAIN, headers=None):
    h = [("Content-Type", content_type)]
    if headers:
        h += list(headers.items()) if isinstance(headers, dict) else list(headers)
    return Response(status, h, text)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, upstream, ssl_context=None, tls=False, tls_hang=False):
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.tls = tls or ssl_context is not None
        self.tls_hang = tls_hang  # accept, never handshake
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        # Clients vanishing mid-request are normal here; anything else is a bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        if isinstance(exc, OSError) and self.upstream.stopping.is_set():
            return
        print("httpfault: error serving %s:" % (client_address,), file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()


class _Exchange(faults.Exchange):
    """The request as a fault's serve() sees it (upstreamlib.faults.Exchange)."""

    response = Response

    def __init__(self, handler, path):
        self._handler, self._path = handler, path
        self.state_dir = handler.upstream.state_dir

    def answer(self):
        return self._handler._answer(self._path)

    def wait(self, seconds):
        return self._handler._wait(seconds)

    def drop(self, reset=False):
        if reset:
            self._handler._abort = "reset"
        self._handler.close_connection = True

    def hang(self):
        self._handler._hang()


class Handler(http.server.BaseHTTPRequestHandler):
    """Request handler shared by every role. Useful attributes for roles:
    command, path (raw target), headers, body (bytes), query (dict of lists),
    is_tls, upstream."""

    protocol_version = "HTTP/1.1"
    server_version = "gotraps-upstream"
    sys_version = ""

    def setup(self):
        self.upstream = self.server.upstream
        self.is_tls = self.server.tls
        self._dead = False
        self._abort = None
        if self.server.tls_hang:
            self._dead = True
            self._hang_handshake()
            return
        if self.is_tls:
            try:
                self.request.settimeout(10)
                self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
                self.request.settimeout(None)
            except (OSError, ValueError) as exc:
                # Failed handshake (a plain-HTTP client, an untrusting one...): logged as a connection
                # without a request, so a test can tell "refused our certificate" from "never came".
                self._dead = True
                rid = self.upstream.requests.connection(self.client_address, True, "tls-handshake-failed")
                self.upstream.requests.end(rid, None, 0)
                if self.upstream.verbose:
                    print("%s TLS handshake from %s:%s failed: %s" % ((self.upstream.role,) + self.client_address[:2]
                                                                      + (exc,)), file=sys.stderr, flush=True)
                try:
                    self.request.close()
                except OSError:
                    pass
                return
        super().setup()
        self.upstream._track(self.connection, True)

    def _hang_handshake(self):
        """TLS "hang-handshake" mode: log the connection, never answer the
        ClientHello, return (closing the socket) once the peer closes or the
        server stops."""
        up = self.upstream
        sock = self.request
        rid = up.requests.connection(self.client_address, True, "tls-hang-handshake")
        if up.verbose:
            print("%s TLS connection from %s:%s -> hang-handshake" % ((up.role,) + self.client_address[:2]),
                  file=sys.stderr, flush=True)
        up._track(sock, True)
        try:
            self._wait_for_peer_close(sock)
        finally:
            up._track(sock, False)
            try:
                sock.close()
            except OSError:
                pass
            up.requests.end(rid, None, 0)

    def handle(self):
        if not self._dead:
            super().handle()

    def finish(self):
        if self._dead:
            return
        try:
            super().finish()  # flush and close rfile/wfile (drops their socket refs)
        except OSError:
            pass
        self.upstream._track(self.connection, False)
        sock = self.connection
        try:
            if self._abort == "reset":
                # Closing with a zero linger timeout sends RST instead of FIN.
                # No shutdown() first: that would send a FIN before the RST.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                socket.socket.shutdown(sock, socket.SHUT_WR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass
        # socketserver then calls shutdown()/close() on its own reference to
        # the (now closed or detached) socket; it ignores the OSError.

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        pass  # we keep our own log

    # Every method goes through the same path.
    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _dispatch(self):
        up = self.upstream
        try:
            self.body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urllib.parse.urlsplit(self.path)
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        rule, err = up.faults.match(self.command, self.path)
        fault = rule.name if rule else ("invalid-faults" if err else None)
        rid = up.requests.arrival(self, fault, rule.id if rule else None, len(self.body))
        status, nbytes = None, 0
        try:
            status, nbytes = self._serve(rule, err, urllib.parse.unquote(split.path))
        finally:
            up.requests.end(rid, status, nbytes)
            if up.verbose:
                print("%s %s %s -> %s%s" % (up.role, self.command, self.path, status,
                                           " [%s]" % fault if fault else ""),
                      file=sys.stderr, flush=True)

    def _answer(self, path):
        try:
            resp = self.upstream.answer(self, path)
        except Exception:
            tb = traceback.format_exc()
            print("httpfault: %s answer() failed for %s:\n%s" % (self.upstream.role, self.path, tb),
                  file=sys.stderr, flush=True)
            return text_response(500, "internal error in fake upstream:\n" + tb)
        if resp is None:
            return text_response(404, "not found\n")
        return resp

    def _serve(self, rule, err, path):
        """Apply the fault (if any) and answer. Returns (status, body bytes sent)."""
        if err:
            return self._send(text_response(500, "gotraps: bad state/%s\n" % err))
        if rule is None:
            return self._send(self._answer(path))
        ex = _Exchange(self, path)
        resp = rule.serve(ex)
        if resp is None:
            return None, 0
        return self._send(resp, limit=ex.limit, trickle=ex.trickle)

    def _hang(self):
        """Never answer; return once the peer closes or the server stops."""
        self.close_connection = True
        self._wait_for_peer_close(self.connection)

    def _wait(self, seconds):
        """Sleep seconds; True when the server is stopping or the client has closed the connection meanwhile
        (then give up)."""
        deadline = time.monotonic() + seconds
        poller = select.poll()
        try:
            poller.register(self.connection, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        except (OSError, ValueError):
            return True
        while not self.upstream.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if poller.poll(min(left, 0.05) * 1000):
                return True
        return True

    def _wait_for_peer_close(self, sock):
        """Hold sock open, answering nothing, until the peer closes it or the server stops."""
        while not self.upstream.stopping.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], 0.05)
                if ready and not sock.recv(65536):
                    return
            except (OSError, ValueError):
                return

    def _send(self, resp, limit=None, trickle=None):
        """Write resp; with limit, only that many body bytes, then close; with trickle=(n, interval),
        n body bytes per interval."""
        body = resp.body
        status = None
        sent = 0
        try:
            self.send_response(resp.status)
            status = resp.status
            for k, v in resp.headers:
                self.send_header(k, v)
            if resp.header("Content-Length") is None:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                if limit is not None:
                    body = body[:limit]
                step, interval = trickle or (len(body) or 1, 0)
                for at in range(0, len(body), step):
                    if at and self._wait(interval):
                        break
                    self.wfile.write(body[at:at + step])
                    self.wfile.flush()
                    sent += len(body[at:at + step])
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        if limit is not None:
            self.close_connection = True
        return status, sent


class Upstream:
    """Base of every fake upstream role: one plain HTTP listener and, when
    state/tls/{cert,key}.pem exist at start and tls_port is not None, an
    HTTPS listener with the same handler (or, when state/tls/mode says
    "hang-handshake", a TLS port that accepts and never handshakes). Run it in-process with
    start()/stop() (or as a context manager)."""

    role = "base"

    def __init__(self, state_dir, host="127.0.0.1", port=0, tls_port=None, verbose=False):
        self.state_dir = os.path.abspath(state_dir)
        self.host = host
        self.want_port = port
        self.want_tls_port = tls_port
        self.verbose = verbose
        self.stopping = threading.Event()
        self.faults = FaultRules(os.path.join(self.state_dir, "faults.json"), self.log)
        self.requests = RequestLog(os.path.join(self.state_dir, "requests.jsonl"), self.role)
        self.port = None
        self.tls_port = None
        self.tls_modes = set()  # words of state/tls/mode, read at start
        self._servers = []
        self._threads = []
        self._conns = set()
        self._conns_lock = threading.Lock()

    # -- for roles --------------------------------------------------------

    def answer(self, handler, path):
        """Override: return a Response for the decoded URL path (no query;
        handler.path has the raw target, handler.query the parsed query)."""
        return text_response(404, "not found\n")

    def log(self, msg):
        print("%s: %s" % (self.role, msg), file=sys.stderr, flush=True)

    # -- lifecycle --------------------------------------------------------

    def _tls_modes(self):
        """Words of state/tls/mode (empty if the file is missing)."""
        try:
            with open(os.path.join(self.state_dir, "tls", "mode"), encoding="utf-8") as f:
                words = [w for w in re.split(r"[\s,]+", f.read()) if w]
        except FileNotFoundError:
            return set()
        bad = [w for w in words if w not in TLS_MODES]
        if bad:
            raise StartupError("state/tls/mode: unknown mode %s (known: %s)"
                               % (", ".join(map(repr, bad)), ", ".join(TLS_MODES)))
        return set(words)

    def _tls_context(self):
        cert = os.path.join(self.state_dir, "tls", "cert.pem")
        key = os.path.join(self.state_dir, "tls", "key.pem")
        if not (os.path.exists(cert) and os.path.exists(key)):
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        if self.want_tls_port is not None:
            self.tls_modes = self._tls_modes()
        srv = _Server((self.host, self.want_port), Handler, self)
        self._servers.append(srv)
        self.port = srv.server_address[1]
        if self.want_tls_port is not None:
            if "hang-handshake" in self.tls_modes:
                tsrv = _Server((self.host, self.want_tls_port), Handler, self, tls=True, tls_hang=True)
            else:
                ctx = self._tls_context()
                tsrv = None
                if ctx is not None:
                    tsrv = _Server((self.host, self.want_tls_port), Handler, self, ssl_context=ctx)
            if tsrv is not None:
                self._servers.append(tsrv)
                self.tls_port = tsrv.server_address[1]
        for s in self._servers:
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="%s-%d" % (self.role, s.server_address[1]), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        """Stop listening and drop every open connection (held, hung and
        idle keep-alive ones included)."""
        self.stopping.set()
        for s in self._servers:
            s.shutdown()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                # socket.socket's own shutdown, not SSLSocket's (which would
                # tear down TLS state under a reading thread).
                socket.socket.shutdown(c, socket.SHUT_RDWR)
            except OSError:
                pass
        for s in self._servers:
            s.server_close()
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="/", tls=False):
        port = self.tls_port if tls else self.port
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return "%s://%s:%d%s" % ("https" if tls else "http", host, port, path)

    def _track(self, conn, add):
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)
